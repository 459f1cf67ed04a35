import { expect, test } from "./fixtures";
import { marketTime, nextSessionAt, openHydrated, RETURNS_SIM_URL, setMarketTime, signUp, uniqueEmail } from "./helpers";

// Runs against a server of its own (the "returns" project in playwright.config.ts): it moves
// the simulated market months ahead, which on the shared server would leave every other
// test's plans a backlog of missed purchases to work through.
test("the dashboard shows money- and time-weighted returns after months of purchases", async ({ page }) => {
  await signUp(page, uniqueEmail("returns"));
  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "Monthly VTI",
      legs: [{ symbol: "VTI", amount: "100.00" }],
      // Scheduled late on the 28th: the purchases below are the "buy now" ones, each at
      // 10:00 (and the clock's jumps leave at most one missed slot a month behind).
      schedule: { frequency: "monthly", interval: 1, day_of_month: 28, time: "15:30", timezone: "America/New_York" },
    },
  });
  expect(created.status()).toBe(201);
  const plan = await created.json();
  let at = await marketTime(page, RETURNS_SIM_URL);
  for (let month = 0; month < 4; month++) {
    at = nextSessionAt(new Date(at.getTime() + (month === 0 ? 0 : 29) * 86_400_000), "10:00");
    await setMarketTime(page, at.toISOString(), RETURNS_SIM_URL);
    const run = await page.request.post("/api/dca/run-now", {
      data: { plan_id: plan.id },
      headers: { "Idempotency-Key": `returns-${month}` },
    });
    expect(run.status()).toBe(202);
    await expect
      .poll(async () => {
        const history = await (await page.request.get(`/api/dca/history?plan_id=${plan.id}`)).json();
        return history.purchases.filter((p: { status: string }) => p.status === "filled").length;
      }, { timeout: 15_000 })
      .toBe(month + 1);
  }

  await openHydrated(page, "/dashboard");
  await expect(page.getByTestId("invested")).toHaveText(/^\$(399|400)\.\d\d$/);
  await expect(page.getByTestId("xirr")).toHaveText(/^[+−]\d+\.\d\d% a year$/);
  await expect(page.getByTestId("twr")).toHaveText(/^[+−]?\d+\.\d\d%/);
  const row = page.getByTestId("plan-returns").getByRole("row", { name: /Monthly VTI/ });
  await expect(row).toContainText("%");
  // One point per trading day since the first purchase, with a readable table; for all
  // plans or one.
  await expect(page.getByTestId("portfolio-chart")).toBeVisible();
  await page.getByTestId("chart-of").selectOption({ label: "Monthly VTI" });
  await expect(page.getByTestId("portfolio-chart")).toBeVisible();

  // The REST API gives the same figures.
  const performance = await (await page.request.get("/api/performance")).json();
  expect(performance.plans[0].name).toBe("Monthly VTI");
  expect(performance.account.xirr_pct).not.toBeNull();
  expect(performance.series.length).toBeGreaterThan(40);
});
