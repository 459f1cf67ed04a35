import { expect, test } from "./fixtures";
import { PASSWORD, openHydrated, signUp, uniqueEmail } from "./helpers";

// The site is built with `cargo leptos build --split`: a visitor downloads the main
// WebAssembly module and the landing page's chunks; each signed-in page's code arrives when
// that page is first shown.
test("pages fetch their WebAssembly chunks only when they are shown", async ({ page }) => {
  const wasm: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith(".wasm")) wasm.push(path.split("/").pop() ?? path);
  });

  // The landing page is a lazy page too: its code stays out of every signed-in page.
  await openHydrated(page, "/");
  expect(wasm).toContain("quantshift.wasm");
  expect(wasm.some((f) => f.startsWith("split___landing_view"))).toBe(true);
  expect(wasm.some((f) => f.startsWith("split___") && !f.startsWith("split___landing_view"))).toBe(false);

  await signUp(page, uniqueEmail("split"));
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  expect(wasm.filter((f) => f.startsWith("split___dashboard_view"))).toHaveLength(1);
  expect(wasm.some((f) => f.startsWith("split___backtest_view"))).toBe(false);

  // Client-side navigation to the backtest page loads its chunk, then the page works.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Backtest" }).click();
  await expect(page).toHaveURL(/\/backtest$/);
  await expect.poll(() => wasm.some((f) => f.startsWith("split___backtest_view"))).toBe(true);
  await expect(page.getByRole("heading", { name: "Backtest", exact: true })).toBeVisible();
});

// While a page's code is still on its way, the page being left shows that something is
// happening: a progress bar at the top, and the button that was pressed stays busy.
test("moving to a page whose code is still loading shows progress", async ({ page }) => {
  await openHydrated(page, "/signup");
  await page.getByLabel("E-mail").fill(uniqueEmail("progress"));
  await page.getByLabel("Password").fill(PASSWORD);
  // Hold every chunk request until the checks below are done (no waiting on time).
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/*.wasm", async (route) => {
    await held;
    await route.continue();
  });
  const progress = page.getByTestId("route-progress");
  await expect(progress).toBeHidden();
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(progress).toBeVisible();
  await expect(page.getByRole("button", { name: "Creating account…" })).toBeDisabled();
  release();
  await expect(page).toHaveURL(/\/welcome$/);
  await expect(progress).toBeHidden();
});
