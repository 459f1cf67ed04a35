import { expect, test } from "./fixtures";
import { openHydrated, setMarketTime, signUp, TRADING_SIM_URL, uniqueEmail } from "./helpers";

// A signal bot trading, on the "trading" project's server of its own: the market's clock
// moves from evaluation to evaluation until the bot has bought (QQQ's 5/20 averages cross
// upward on 10 December 2026 in the demo market, the ninth evaluation; a retry, on the
// moved market, waits for 14 January 2027), then the dashboard shows what it holds, at
// what entry, with which stop, and "Stop and sell" sells it.
test("a trading bot's position, entry and stop are on the dashboard; Stop and sell sells them", async ({ page }) => {
  test.setTimeout(180_000);
  await signUp(page, uniqueEmail("bot-trading"));
  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "QQQ bot",
      mode: "discretionary",
      legs: [{ symbol: "QQQ", amount: "5000.00" }],
      schedule: { frequency: "daily", interval: 1, time: "16:10", timezone: "America/New_York" },
    },
  });
  expect(created.status()).toBe(201);
  const bot = await created.json();
  type Purchase = { side: string; status: string };
  const trades = async (): Promise<Purchase[]> =>
    (await (await page.request.get(`/api/dca/history?plan_id=${bot.id}`)).json()).purchases;
  const nextRun = async (): Promise<string> =>
    (await (await page.request.get(`/api/dca/config/${bot.id}`)).json()).next_run_at;
  // The bot's page lists its finished evaluations ("Mon 2026-11-30 16:10").
  const evaluated = async (at: string): Promise<boolean> => {
    const day = new Date(at).toLocaleDateString("en-CA", { timeZone: "America/New_York" });
    return (await (await page.request.get(`/bots/${bot.id}`)).text()).includes(`${day} 16:10</td>`);
  };

  // Each evaluation (its next run skips weekends and holidays) finishes before the clock
  // moves on, until the first buy has filled at an open. The bot's page reads the bars
  // until its evaluation of the day has finished: asked at most every 250 ms, within the
  // demo broker's 200 requests a minute.
  for (let day = 0; ; day++) {
    expect(day, "the bot buys within 60 evaluations").toBeLessThan(60);
    if ((await trades()).some((p) => p.side === "buy" && p.status === "filled")) break;
    const at = await nextRun();
    await setMarketTime(page, new Date(Date.parse(at) + 60_000).toISOString(), TRADING_SIM_URL);
    await expect.poll(() => evaluated(at), { timeout: 15_000, intervals: [250, 500] }).toBe(true);
  }

  await openHydrated(page, "/dashboard");
  const panel = page.getByTestId("bot-panel").filter({ hasText: "QQQ bot" });
  await expect(panel.getByTestId("bot-position")).toHaveText(/^\d+(\.\d+)? QQQ \(\$\d+\.\d\d now\)$/);
  await expect(panel.getByTestId("bot-entry")).toHaveText(/^\$\d+\.\d\d$/);
  await expect(panel.getByTestId("bot-stop")).toHaveText(/^\$\d+\.\d\d$/);
  await expect(panel.getByTestId("bot-target")).toHaveText("none");
  await expect(panel.getByTestId("bot-last-signal")).toContainText(/^Last signal, \w{3} \w{3} \d+: /);
  await expect(panel.getByTestId("bot-next")).toContainText("16:10 New York time");
  const entry = Number((await panel.getByTestId("bot-entry").textContent())!.slice(1));
  const stop = Number((await panel.getByTestId("bot-stop").textContent())!.slice(1));
  expect(stop).toBeLessThan(entry);

  // Stop and sell from the bot's page, after the close: the sale waits for the next open.
  await panel.getByRole("link", { name: "QQQ bot" }).click();
  await expect(page).toHaveURL(new RegExp(`/bots/${bot.id}$`));
  await expect(page.getByTestId("bot-stop")).toHaveText(`$${stop.toFixed(2)}`);
  await page.getByTestId("stop-and-sell").click();
  await expect(page.getByTestId("bot-status")).toHaveText("stopped");
  const nextOpen = (await (await page.request.get("/api/performance")).json()).next_open;
  expect(nextOpen, "the market is closed after an evaluation").toBeTruthy();
  await setMarketTime(page, new Date(Date.parse(nextOpen) + 60_000).toISOString(), TRADING_SIM_URL);
  await expect
    .poll(async () => (await trades()).filter((p) => p.side === "sell" && p.status === "filled").length, { timeout: 20_000 })
    .toBe(1);

  await openHydrated(page, "/dashboard");
  await expect(panel).toContainText("QQQ · stopped");
  await expect(panel.getByTestId("bot-position")).toHaveText("nothing");
  await expect(panel.getByTestId("bot-realized")).toHaveText(/^[+−]\$\d+\.\d\d$/);
  await expect(panel.getByTestId("bot-next")).toHaveText("No evaluation ahead");
});
