// Every spec runs under the server's Content-Security-Policy and fails on any violation:
// the policy must let the app work (hydration, lazily loaded pages, the live websocket)
// without inline scripts or styles it did not nonce.
import { type BrowserContext, expect, test as base } from "@playwright/test";

export { expect };

/** Reports violations to the console, where the guard below collects them. */
const REPORT_VIOLATIONS = () => {
  document.addEventListener("securitypolicyviolation", (e) => {
    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline code"}`);
  });
};

export const test = base.extend<{ cspGuard: void }>({
  cspGuard: [
    async ({ browser, context }, use) => {
      const violations: string[] = [];
      const watched = new WeakSet<BrowserContext>();
      const watch = async (ctx: BrowserContext) => {
        if (watched.has(ctx)) return;
        watched.add(ctx);
        await ctx.addInitScript(REPORT_VIOLATIONS);
        ctx.on("console", (message) => {
          const text = message.text();
          if (/Content Security Policy|CSP violation/i.test(text)) violations.push(text);
        });
      };
      await watch(context);
      // Contexts and pages a spec opens itself are watched too.
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (...args) => {
        const ctx = await newContext(...args);
        await watch(ctx);
        return ctx;
      };
      const newPage = browser.newPage.bind(browser);
      browser.newPage = async (...args) => {
        const page = await newPage(...args);
        await watch(page.context());
        return page;
      };
      try {
        await use();
      } finally {
        browser.newContext = newContext;
        browser.newPage = newPage;
      }
      expect(violations, "no Content-Security-Policy violations").toEqual([]);
    },
    { auto: true },
  ],
});
