import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import {
  MARKET_START,
  expectNoReload,
  marketTime,
  markPage,
  nextSessionAt,
  openHydrated,
  setMarketTime,
  signUp,
  signUpToWelcome,
  uniqueEmail,
} from "./helpers";

test("a new user is onboarded, creates a two-leg weekly plan, buys now and sees it everywhere", async ({ page }) => {
  await signUpToWelcome(page, uniqueEmail("flow"));
  await markPage(page);
  await page.getByRole("link", { name: "Get started" }).click();
  await expect(page).toHaveURL(/step=broker/);
  await expect(page.getByTestId("broker-current")).toContainText("simulated paper account");
  await page.getByRole("link", { name: "Keep the paper account" }).click();
  await expect(page).toHaveURL(/step=plan/);

  await page.getByLabel("Plan name").fill("Core ETFs");
  // The type-ahead finds SPY by its name and marks it fractional.
  await page.getByLabel("Symbol 1").fill("S&P");
  const spy = page.getByTestId("option-SPY");
  await expect(spy).toContainText("fractional");
  await spy.click();
  await expect(page.getByLabel("Symbol 1")).toHaveValue("SPY");
  await page.getByLabel("Amount 1 ($)").fill("50");
  await page.getByRole("button", { name: "+ Add a symbol" }).click();
  await page.getByLabel("Symbol 2").fill("QQQ");
  await page.getByLabel("Amount 2 ($)").fill("25");
  await page.getByLabel("Repeats").selectOption("weekly");
  await page.getByLabel("On", { exact: true }).selectOption("mon");
  await page.getByLabel("Time", { exact: true }).fill("10:00");
  await page.getByLabel("Time zone").fill("America/New_York");

  await expect(page.getByTestId("totals")).toContainText("$75.00 per purchase");
  const preview = page.getByTestId("preview").locator("li");
  await expect(preview).toHaveCount(5);
  for (const item of await preview.allTextContents()) expect(item).toMatch(/^Mon \d+ \w+ \d{4}, 10:00$/);
  await expect(page.getByTestId("plan-summary")).toHaveText(
    /^\$75\.00 every Monday at 10:00 New York time, next on Mon \d+ \w+$/,
  );

  await page.getByRole("button", { name: "Create plan" }).click();
  await expect(page).toHaveURL(/step=done/);
  await expect(page.getByTestId("setup-done")).toContainText("Your plan is active");
  await page.getByRole("link", { name: "Go to your dashboard" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByTestId("live-status")).toHaveText("Live");

  const planRow = page.getByTestId("plan-status-row");
  await expect(planRow).toContainText("Core ETFs");
  await expect(planRow).toContainText("every Monday");
  await planRow.getByRole("link", { name: "Core ETFs" }).click();
  await expect(page).toHaveURL(/\/plans\/[0-9a-f-]+$/);
  await page.getByTestId("buy-now").click();
  await expect(page.getByTestId("plan-message")).toContainText("Purchase queued");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard" }).click();
  const positions = page.getByTestId("positions");
  await expect(positions).toContainText("SPY");
  await expect(positions).toContainText("QQQ");
  await expect(page.getByTestId("recent-purchase")).toHaveCount(2);
  await expect(page.getByTestId("recent-purchases")).toContainText("filled");
  // Returns from the first day: what went in and what it is worth; rates need time.
  await expect(page.getByTestId("invested")).toHaveText("$75.00");
  await expect(page.getByTestId("xirr")).toHaveText("—");
  await expect(page.getByTestId("xirr-note")).toContainText("Shown after 30 days of investing");
  await expect(page.getByTestId("plan-returns")).toContainText("Core ETFs");
  await expect(page.getByTestId("chart-empty")).toContainText("from your second day of investing");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
  await expect(page.getByTestId("purchase-row")).toHaveCount(2);
  await expect(page.getByTestId("history")).toContainText("SPY");
  await expect(page.getByTestId("history")).toContainText("QQQ");
  // Filtering by symbol narrows the list.
  await page.getByLabel("Symbol").fill("QQQ");
  await page.getByLabel("Symbol").press("Enter");
  await expect(page.getByTestId("purchase-row")).toHaveCount(1);
  await expect(page.getByRole("link", { name: "Export CSV" })).toHaveAttribute("href", "/api/dca/history.csv?symbol=QQQ");
  await expectNoReload(page);

  // Loaded directly, the history page hydrates too, and filters by plan.
  await openHydrated(page, "/history");
  await expect(page.getByTestId("purchase-row")).toHaveCount(2);
  await page.getByLabel("Plan").selectOption({ label: "Core ETFs" });
  await expect(page.getByTestId("purchase-row")).toHaveCount(2);
  await expect(page.getByRole("link", { name: "Export CSV" })).toHaveAttribute("href", /plan_id=[0-9a-f-]+$/);
});

test("a purchase the scheduler makes appears live on an open dashboard", async ({ page }) => {
  await signUp(page, uniqueEmail("live"));
  await expect(page.getByTestId("live-status")).toHaveText("Live");
  await markPage(page);

  const target = nextSessionAt(await marketTime(page), "10:00");
  await setMarketTime(page, target.toISOString());
  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "Daily VTI",
      legs: [{ symbol: "VTI", amount: "40.00" }],
      schedule: { frequency: "daily", interval: 1, time: "10:01", timezone: "America/New_York" },
    },
  });
  expect(created.status()).toBe(201);
  // The new plan arrives over the websocket.
  await expect(page.getByTestId("plan-status-row")).toContainText("Daily VTI");
  await expect(page.getByTestId("recent-empty")).toBeVisible();

  // The simulated clock reaches the plan's time: the scheduler buys, the dashboard follows.
  await setMarketTime(page, new Date(target.getTime() + 60_000).toISOString());
  await expect(page.getByTestId("recent-purchase")).toHaveCount(1, { timeout: 15_000 });
  await expect(page.getByTestId("recent-purchases")).toContainText("VTI");
  await expect(page.getByTestId("recent-purchases")).toContainText("filled");
  await expect(page.getByTestId("positions")).toContainText("VTI");
  await expect(page.getByTestId("last-result")).toContainText("VTI $40.00 filled");
  await expect(page.getByTestId("run-status")).toHaveText("idle");
  await expect(page.getByTestId("invested")).toHaveText("$40.00");

  // The price moves (the simulated market half an hour on): the open dashboard reads the
  // new value when its tab gets the focus back (and every 30 s while the market is open).
  const before = await page.getByTestId("value").textContent();
  const asOf = await page.getByTestId("prices-as-of").textContent();
  await setMarketTime(page, new Date(target.getTime() + 31 * 60_000).toISOString());
  await expect(async () => {
    await page.evaluate(() => window.dispatchEvent(new Event("focus")));
    await expect(page.getByTestId("value")).not.toHaveText(before ?? "", { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await expect(page.getByTestId("prices-as-of")).not.toHaveText(asOf ?? "");
  await expectNoReload(page);
});

test("invalid plan input is explained next to its field and nothing is saved", async ({ page }) => {
  await signUp(page, uniqueEmail("invalid"));
  await openHydrated(page, "/plans/new");
  await page.getByLabel("Plan name").fill("Broken");
  await page.getByLabel("Amount 1 ($)").fill("0.50");
  await expect(page.getByTestId("error-leg-0-amount")).toHaveText("Each amount must be at least $1.00.");
  await page.getByLabel("Time", { exact: true }).fill("08:00");
  await page.getByLabel("Time zone").fill("America/New_York");
  await expect(page.getByTestId("error-plan-time")).toContainText("outside market hours");
  await page.getByLabel("Time zone").fill("Mars/Olympus");
  await expect(page.getByTestId("error-plan-zone")).not.toBeEmpty();

  await page.getByRole("button", { name: "Create plan" }).click();
  await expect(page.getByTestId("error-leg-0-symbol")).toHaveText("Enter a symbol, e.g. SPY.");
  await expect(page.getByTestId("form-message")).toContainText("nothing was saved");
  await expect(page.getByTestId("error-plan-name")).toBeEmpty();

  // What only the server knows (the broker's symbols) comes back next to the field too.
  await page.getByLabel("Symbol 1").fill("ZZZZ");
  await page.getByLabel("Amount 1 ($)").fill("10");
  await page.getByLabel("Time", { exact: true }).fill("10:00");
  await page.getByLabel("Time zone").fill("America/New_York");
  await page.getByRole("button", { name: "Create plan" }).click();
  await expect(page.getByTestId("error-leg-0-symbol")).toHaveText("ZZZZ is not a symbol the broker trades.");
  await expect(page).toHaveURL(/\/plans\/new$/);

  const plans = await (await page.request.get("/api/dca/config")).json();
  expect(plans.plans).toEqual([]);
});

test("a plan is paused, started and deleted from its page", async ({ page }) => {
  await signUp(page, uniqueEmail("controls"));
  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "Monthly VOO",
      legs: [{ symbol: "VOO", amount: "100.00" }],
      schedule: { frequency: "monthly", interval: 1, day_of_month: "last", time: "15:00", timezone: "America/New_York" },
    },
  });
  const plan = await created.json();
  await openHydrated(page, `/plans/${plan.id}`);
  await expect(page.getByTestId("plan-status")).toHaveText("active");
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(page.getByTestId("plan-status")).toHaveText("paused");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByTestId("plan-status")).toHaveText("active");
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await expect(page.getByRole("alertdialog")).toContainText("Delete this plan?");
  await page.getByRole("button", { name: "Delete plan" }).click();
  await expect(page).toHaveURL(/\/plans\?deleted=1$/);
  await expect(page.getByTestId("plans-empty")).toBeVisible();
});

/** Signs a new user up and runs the default (DCA) backtest over `from`–`to`. */
async function runBacktest(page: Page, prefix: string, from: string, to: string): Promise<void> {
  await signUp(page, uniqueEmail(prefix));
  await openHydrated(page, "/backtest");
  await page.getByLabel("From").fill(from);
  await page.getByLabel("To").fill(to);
  await page.getByRole("button", { name: "Run backtest" }).click();
}

test("a DCA backtest runs in the browser and re-runs without the server", async ({ page }) => {
  await runBacktest(page, "backtest", "2023-01-03", "2024-12-31");
  const invested = page.getByTestId("stat-invested");
  await expect(invested).toBeVisible({ timeout: 20_000 });
  await expect(page.getByTestId("backtest-chart")).toBeVisible();
  await expect(page.getByTestId("stat-lump-sum")).toContainText("$");
  await expect(page.getByTestId("backtest-purchases")).toContainText("SPY");
  const before = await invested.textContent();
  const purchases = await page.getByTestId("stat-purchases").textContent();

  const requests: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/api/")) requests.push(request.url());
  });
  await page.getByLabel("Amount 1 ($)").fill("100");
  await expect(invested).not.toHaveText(before ?? "");
  await expect(page.getByTestId("stat-purchases")).toHaveText(purchases ?? "");
  expect(requests).toEqual([]);

  // The settings reach the editor as a typed form, not through the address.
  await page.getByTestId("use-settings").click();
  await expect(page).toHaveURL(/\/plans\/new$/);
  await expect(page.getByLabel("Symbol 1")).toHaveValue("SPY");
  await expect(page.getByLabel("Amount 1 ($)")).toHaveValue("100");
  await expect(page.getByLabel("Symbol 2")).toHaveValue("QQQ");
  await expect(page.getByLabel("Amount 2 ($)")).toHaveValue("25");
});

test("a chart reads out the point under the pointer, or the keyboard's, and has a table", async ({ page }) => {
  await runBacktest(page, "chart", "2023-01-03", "2023-12-29");
  const chart = page.getByTestId("backtest-chart");
  await expect(chart).toBeVisible({ timeout: 20_000 });
  const readout = chart.getByTestId("chart-readout");
  const point = (date: RegExp) => new RegExp(`^${date.source}: Value \\$[\\d,]+\\.\\d\\d · Invested \\$[\\d,]+\\.\\d\\d$`);
  // Without a pointer, the latest point.
  await expect(readout).toHaveText(point(/2023-12-\d\d/));
  await expect(chart.locator("line.marker")).toHaveCount(0);

  const svg = chart.locator("svg");
  await svg.scrollIntoViewIfNeeded();
  const box = await svg.boundingBox();

  if (!box) throw new Error("the chart has no box");
  await page.mouse.move(box.x + 2, box.y + box.height / 2);
  await expect(readout).toHaveText(point(/2023-01-0\d/));
  await expect(chart.locator("line.marker")).toHaveCount(1);
  await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
  await expect(readout).toHaveText(point(/2023-12-\d\d/));
  await page.mouse.move(box.x + box.width / 2, box.y + box.height + 200);
  await expect(chart.locator("line.marker")).toHaveCount(0);

  await svg.focus();
  await page.keyboard.press("End");
  const last = await readout.textContent();
  await page.keyboard.press("ArrowLeft");
  await expect(readout).not.toHaveText(last ?? "");
  await expect(readout).toHaveText(point(/2023-12-\d\d/));
  await page.keyboard.press("Home");
  await expect(readout).toHaveText(point(/2023-01-0\d/));

  const rows = chart.locator("table tbody tr");
  await expect(rows.first()).toContainText("2023-01-0");
  expect(await rows.count()).toBeGreaterThan(100);
});

test("the dashboard and the plan editor work on a 375 px wide phone", async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 812 });
  await signUp(page, uniqueEmail("mobile"));
  await expect(page.getByTestId("account")).toBeVisible();
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(await overflow()).toBeLessThanOrEqual(0);
  await openHydrated(page, "/plans/new");
  await expect(page.getByLabel("Symbol 1")).toBeVisible();
  await expect(page.getByTestId("preview")).toBeVisible();
  expect(await overflow()).toBeLessThanOrEqual(0);
  await page.getByLabel("Plan name").focus();
  await page.keyboard.press("Tab");
  await expect(page.getByLabel("Symbol 1")).toBeFocused();
});

test.describe("in a browser set to Berlin time", () => {
  test.use({ timezoneId: "Europe/Berlin" });

  test("a new plan starts in the browser's time zone and previews in it", async ({ page }) => {
    await signUp(page, uniqueEmail("berlin"));
    await openHydrated(page, "/plans/new");
    // The server renders New York time; the browser's zone replaces it once hydrated.
    await expect(page.getByLabel("Time zone")).toHaveValue("Europe/Berlin");
    await page.getByLabel("Symbol 1").fill("SPY");
    await page.getByLabel("Amount 1 ($)").fill("40");
    await page.getByLabel("Time", { exact: true }).fill("15:45");
    // 15:45 in Berlin is 09:45 (or 10:45) in New York, inside market hours all year.
    await expect(page.getByTestId("error-plan-time")).toBeEmpty();
    const preview = page.getByTestId("preview").locator("li");
    await expect(preview).toHaveCount(5);
    for (const item of await preview.allTextContents()) expect(item).toMatch(/^Mon \d+ \w+ \d{4}, 15:45$/);
    await expect(page.getByTestId("plan-summary")).toHaveText(
      /^\$40\.00 every Monday at 15:45 Berlin time, next on Mon \d+ \w+$/,
    );
    // Any zone can be typed, in any case; the browser knows them all without asking the server.
    await page.getByLabel("Time zone").fill("asia/kolkata");
    await expect(page.getByTestId("error-plan-zone")).toBeEmpty();
    await expect(page.getByTestId("error-plan-time")).toContainText("outside market hours");
  });
});

// A newcomer far from New York: the wizard's first plan starts at 10:00 New York time shown
// in the browser's zone (or the nearest time inside market hours all year), so it saves with
// only a symbol and an amount typed.
for (const [zone, time, exchange] of [
  ["Asia/Tokyo", "23:55", "09:55"],
  ["Europe/Berlin", "16:00", "10:00"],
  ["UTC", "15:00", "10:00"],
] as const) {
  test.describe(`in a browser set to ${zone}`, () => {
    test.use({ timezoneId: zone });

    test("the wizard's first plan saves with only a symbol and an amount", async ({ page }) => {
      // The default time depends on the date (daylight saving): the browser's clock is the
      // demo market's winter Monday.
      await page.clock.setFixedTime(new Date(MARKET_START));
      await signUpToWelcome(page, uniqueEmail(`zone-${zone.replace("/", "-").toLowerCase()}`));
      await page.getByRole("link", { name: "Get started" }).click();
      await page.getByRole("link", { name: "Keep the paper account" }).click();
      await expect(page).toHaveURL(/step=plan/);
      await expect(page.getByLabel("Time zone")).toHaveValue(zone);
      await expect(page.getByLabel("Time", { exact: true })).toHaveValue(time);
      await expect(page.getByTestId("exchange-time")).toHaveText(`${exchange} in New York, the exchange's time`);
      await page.getByLabel("Symbol 1").fill("SPY");
      await page.getByLabel("Amount 1 ($)").fill("20");
      await expect(page.getByTestId("error-plan-time")).toBeEmpty();
      await page.getByRole("button", { name: "Create plan" }).click();
      await expect(page).toHaveURL(/step=done/);
      await expect(page.getByTestId("setup-done")).toContainText("Your plan is active");
    });
  });
}

