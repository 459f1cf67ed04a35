import { expect, test } from "./fixtures";
import { openHydrated, signUp, uniqueEmail } from "./helpers";

// A signal bot from its backtest: "Use these settings" makes the bot plan, the dashboard
// shows its state and links to its own page (position, stop, signals, next evaluation),
// and "Stop and sell" stops it for good.
test("a bot is made from its backtest, shows its state, and stops with Stop and sell", async ({ page }) => {
  await signUp(page, uniqueEmail("bot"));
  await openHydrated(page, "/backtest");
  await page.getByLabel("Strategy").selectOption("ma_crossover");
  await page.getByLabel("From").fill("2024-01-02");
  await page.getByLabel("To", { exact: true }).fill("2024-12-31");
  await page.getByLabel("Symbol 1").fill("QQQ");
  await page.getByLabel("Starting cash ($)").fill("2500");
  await page.getByRole("button", { name: "Run backtest" }).click();
  await expect(page.getByTestId("stat-trades")).toBeVisible({ timeout: 20_000 });
  // Every setting of the bot is on the page; a bad one is explained, not run.
  await page.getByTestId("bot-settings").locator("summary").click();
  await page.getByLabel("Take profit", { exact: true }).selectOption("percent");
  await page.getByLabel("Take profit at").fill("-3");
  await expect(page.getByText("Use a positive ATR multiple or percentage")).toBeVisible();
  await page.getByLabel("Take profit at").fill("12");
  await page.getByLabel("Only above the average of (days; empty: off)").fill("50");
  await expect(page.getByTestId("stat-trades")).toBeVisible();

  await page.getByTestId("use-settings").click();
  await expect(page).toHaveURL(/\/plans\/[0-9a-f-]{36}$/);
  const id = page.url().split("/").pop();
  await expect(page.getByLabel("Plan name")).toHaveValue("QQQ crossover");
  await expect(page.getByText("A signal bot: the MA crossover buys and sells after each close")).toBeVisible();

  // The dashboard shows its state under its name, which opens the bot's own page.
  await openHydrated(page, "/dashboard");
  const row = page.getByTestId("plan-status-row").filter({ hasText: "QQQ crossover" });
  const panel = page.getByTestId("bot-panel").filter({ hasText: "QQQ crossover" });
  await expect(panel.getByTestId("bot-position")).toHaveText("nothing");
  await expect(panel.getByTestId("bot-realized")).toHaveText("$0.00");
  await expect(panel.getByTestId("bot-last-signal")).toHaveText("No evaluation yet.");
  await expect(panel.getByTestId("bot-next")).toContainText(/Next evaluation: \w{3} \w{3} \d+ 16:10 New York time/);
  await row.getByRole("link", { name: "QQQ crossover" }).click();
  await expect(page).toHaveURL(new RegExp(`/bots/${id}$`));
  await expect(page.getByRole("heading", { level: 1, name: "QQQ crossover" })).toBeVisible();
  await expect(page.getByTestId("bot-status")).toHaveText("active");
  await expect(page.getByTestId("bot-qty")).toHaveText("0");
  await expect(page.getByTestId("bot-next")).toContainText("16:10 New York time, after the close");
  await expect(page.getByText("moving averages of 5 and 20 days")).toBeVisible();
  await expect(page.getByText("take profit 12%; only above the 50-day average")).toBeVisible();

  await page.getByTestId("stop-and-sell").click();
  await expect(page).toHaveURL(new RegExp(`/bots/${id}$`));
  await expect(page.getByTestId("bot-status")).toHaveText("stopped");
  await expect(page.getByTestId("bot-next")).toContainText("No evaluation ahead");
  await expect(page.getByTestId("stop-and-sell")).toHaveCount(0);
  await openHydrated(page, "/dashboard");
  await expect(row.getByTestId("run-status")).toHaveText("stopped");
  await expect(panel).toContainText("QQQ · stopped");
  await expect(panel.getByTestId("bot-next")).toHaveText("No evaluation ahead");
});
