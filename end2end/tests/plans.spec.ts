import { expect, test } from "./fixtures";
import { openHydrated, signUp, uniqueEmail } from "./helpers";

test("a new user sees their paper account, and plans they create appear", async ({ page }) => {
  await signUp(page, uniqueEmail("plans"));
  await expect(page.getByTestId("account")).toContainText("$100,000.00");
  await expect(page.getByTestId("dashboard-empty")).toBeVisible();

  await page.goto("/plans");
  await expect(page.getByTestId("plans-empty")).toBeVisible();

  // Plans made through the REST API show in the UI like those made in the editor.
  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "Core ETFs",
      legs: [
        { symbol: "SPY", amount: "50.00" },
        { symbol: "QQQ", amount: "25.00" },
      ],
      schedule: { frequency: "weekly", interval: 1, weekday: "mon", day_of_month: null, time: "10:00", timezone: "America/New_York" },
    },
  });
  expect(created.status()).toBe(201);

  await page.goto("/plans");
  const row = page.getByTestId("plan-row");
  await expect(row).toContainText("Core ETFs");
  await expect(row).toContainText("SPY $50.00 · QQQ $25.00");
  await expect(row).toContainText("Monday at 10:00");
  await expect(row.getByTestId("plan-status")).toHaveText("active");

  await page.goto("/dashboard");
  await expect(page.getByTestId("plan-status-row")).toContainText("Core ETFs");
  await expect(page.getByTestId("run-status")).toHaveText("idle");
});

test("a purchase shows in the history with its status", async ({ page }) => {
  await signUp(page, uniqueEmail("history"));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History" }).click();
  await expect(page).toHaveURL(/\/history$/);
  await expect(page.getByTestId("history-empty")).toBeVisible();

  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "One ETF",
      legs: [{ symbol: "VTI", amount: "30.00" }],
      schedule: { frequency: "daily", interval: 1, weekday: null, day_of_month: null, time: "10:00", timezone: "America/New_York" },
    },
  });
  const plan = await created.json();
  const run = await page.request.post("/api/dca/run-now", { data: { plan_id: plan.id }, headers: { "Idempotency-Key": "e2e-1" } });
  expect(run.status()).toBe(202);

  // The scheduler sends it within a moment; while the market is closed it stays accepted.
  await expect(async () => {
    await page.goto("/history");
    await expect(page.getByTestId("purchase-status")).toHaveText(/accepted|filled/, { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  const row = page.getByTestId("purchase-row");
  await expect(row).toContainText("VTI");
  await expect(row).toContainText("$30");
  await expect(page.getByRole("link", { name: "Export CSV" })).toHaveAttribute("href", "/api/dca/history.csv");
});

test("the history pages through every purchase, newer and older", async ({ page }) => {
  await signUp(page, uniqueEmail("pages"));
  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "Two ETFs",
      legs: [{ symbol: "VTI", amount: "10.00" }, { symbol: "SPY", amount: "10.00" }],
      schedule: { frequency: "daily", interval: 1, weekday: null, day_of_month: null, time: "10:00", timezone: "America/New_York" },
    },
  });
  const plan = await created.json();
  for (let i = 0; i < 14; i++) {
    // One "buy now" per plan at a time: while the previous one runs the answer is 409.
    await expect(async () => {
      const run = await page.request.post("/api/dca/run-now", { data: { plan_id: plan.id }, headers: { "Idempotency-Key": `pages-${i}` } });
      expect(run.status()).toBe(202);
    }).toPass({ timeout: 10_000, intervals: [50] });
  }
  // 28 purchases, the two legs of each slot made in the same instant: a page of 25, then 3.
  await expect(async () => {
    const history = await (await page.request.get("/api/dca/history?limit=100")).json();
    expect(history.purchases).toHaveLength(28);
  }).toPass({ timeout: 30_000 });

  await openHydrated(page, "/history");
  const rows = page.getByTestId("purchase-row");
  await expect(rows).toHaveCount(25);
  await expect(page.getByTestId("newer")).toBeDisabled();
  await page.getByTestId("older").click();
  await expect(rows).toHaveCount(3);
  await expect(page.getByTestId("older")).toBeDisabled();
  await page.getByTestId("newer").click();
  await expect(rows).toHaveCount(25);
  await expect(page.getByTestId("newer")).toBeDisabled();
});

test("the dashboard's live link closes when the page is left and opens again on return", async ({ page }) => {
  const sockets: { url: string; closed: boolean }[] = [];
  page.on("websocket", (ws) => {
    const socket = { url: ws.url(), closed: false };
    sockets.push(socket);
    ws.on("close", () => {
      socket.closed = true;
    });
  });
  // A handler freed before the browser reports the close would throw here.
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await signUp(page, uniqueEmail("sockets"));
  await expect(page.getByTestId("live-status")).toHaveText("Live");
  const live = () => sockets.filter((s) => s.url.endsWith("/api/ws"));
  await expect.poll(() => live().filter((s) => !s.closed).length).toBe(1);

  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "History" }).click();
  await expect(page).toHaveURL(/\/history$/);
  await expect.poll(() => live().filter((s) => !s.closed).length).toBe(0);

  await nav.getByRole("link", { name: "Dashboard" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByTestId("live-status")).toHaveText("Live");
  await expect.poll(() => live().filter((s) => !s.closed).length).toBe(1);
  expect(live()).toHaveLength(2);
  expect(errors.filter((e) => /closure|dropped|recursive|unreachable/i.test(e))).toEqual([]);
});


test("live events refresh the dashboard once per burst, not once per event", async ({ page }) => {

  await signUp(page, uniqueEmail("burst"));
  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "Burst",
      legs: [{ symbol: "VTI", amount: "10.00" }, { symbol: "SPY", amount: "10.00" }, { symbol: "QQQ", amount: "10.00" }],
      schedule: { frequency: "daily", interval: 1, weekday: null, day_of_month: null, time: "10:00", timezone: "America/New_York" },
    },
  });
  const plan = await created.json();
  let events = 0;
  let refreshes = 0;
  page.on("websocket", (ws) => ws.on("framereceived", () => events++));
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.endsWith("/load_account")) refreshes++;
  });
  await page.reload();
  await expect(page.getByTestId("live-status")).toHaveText("Live");
  await page.waitForTimeout(500);
  events = 0;
  refreshes = 0;

  const run = await page.request.post("/api/dca/run-now", { data: { plan_id: plan.id }, headers: { "Idempotency-Key": "burst-1" } });
  expect(run.status()).toBe(202);
  await expect(page.getByTestId("positions")).toContainText("QQQ", { timeout: 15_000 });
  await page.waitForTimeout(1_000);
  // Seen when written: 6 events, 2 refreshes (one per event before the bursts were joined).
  expect(refreshes).toBeGreaterThan(0);
  expect(refreshes).toBeLessThan(events);
});
