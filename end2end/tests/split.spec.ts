import { expect, test } from "./fixtures";
import { openHydrated, signUp, uniqueEmail } from "./helpers";

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
