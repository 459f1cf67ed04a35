import { expect, test } from "./fixtures";
import { openHydrated, signUp, uniqueEmail } from "./helpers";

// A signal bot from its backtest: "Use these settings" makes the bot plan, the dashboard
// links to its own page (position, stop, signals, next evaluation), and "Stop and sell"
// stops it for good.
test("a bot is made from its backtest, shows its state, and stops with Stop and sell", async ({ page }) => {
  await signUp(page, uniqueEmail("bot"));
  await openHydrated(page, "/backtest");
  await page.getByLabel("Strategy").selectOption("ma_crossover");
  await page.getByLabel("From").fill("2024-01-02");
  await page.getByLabel("To").fill("2024-12-31");
  await page.getByLabel("Symbol 1").fill("QQQ");
  await page.getByLabel("Starting cash ($)").fill("2500");
  await page.getByRole("button", { name: "Run backtest" }).click();
  await expect(page.getByTestId("stat-trades")).toBeVisible({ timeout: 20_000 });

  await page.getByTestId("use-settings").click();
  await expect(page).toHaveURL(/\/plans\/[0-9a-f-]{36}$/);
  const id = page.url().split("/").pop();
  await expect(page.getByLabel("Plan name")).toHaveValue("QQQ crossover");
  await expect(page.getByText("A signal bot: the MA crossover buys and sells after each close")).toBeVisible();

  // The dashboard names it; its name opens the bot's own page.
  await openHydrated(page, "/dashboard");
  await page.getByRole("link", { name: "QQQ crossover" }).click();
  await expect(page).toHaveURL(new RegExp(`/bots/${id}$`));
  await expect(page.getByRole("heading", { level: 1, name: "QQQ crossover" })).toBeVisible();
  await expect(page.getByTestId("bot-status")).toHaveText("active");
  await expect(page.getByTestId("bot-qty")).toHaveText("0");
  await expect(page.getByTestId("bot-next")).toContainText("16:10 New York time, after the close");
  await expect(page.getByText("moving averages of 5 and 20 days")).toBeVisible();

  await page.getByTestId("stop-and-sell").click();
  await expect(page).toHaveURL(new RegExp(`/bots/${id}$`));
  await expect(page.getByTestId("bot-status")).toHaveText("stopped");
  await expect(page.getByTestId("bot-next")).toContainText("No evaluation ahead");
  await expect(page.getByTestId("stop-and-sell")).toHaveCount(0);
});
