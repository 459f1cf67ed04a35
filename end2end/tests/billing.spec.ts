// Billing through the Stripe stand-in (a second server with billing on; see
// playwright.config.ts): upgrading through the hosted checkout page, a declined card, and
// cancelling in the portal at period end.
import { expect, test } from "./fixtures";
import { openHydrated, signUp, uniqueEmail, verifyEmail } from "./helpers";
import type { Page } from "@playwright/test";

const dailyPlan = {
  name: "Daily SPY",
  mode: "pure",
  legs: [{ symbol: "SPY", amount: "10.00" }],
  schedule: { frequency: "daily", interval: 1, time: "10:00", timezone: "America/New_York" },
};

async function payFor(page: Page, tier: string, card: string): Promise<void> {
  await openHydrated(page, "/billing");
  await expect(page.getByTestId("current-tier")).toBeVisible();
  await page.locator(`[data-tier="${tier}"]`).getByRole("button").click();
  // The stand-in's hosted checkout page.
  await expect(page.getByLabel("Card number")).toBeVisible();
  await page.getByLabel("Card number").fill(card);
  await page.getByLabel("Expiry").fill("12 / 34");
  await page.getByLabel("CVC").fill("123");
  await page.getByRole("button", { name: "Subscribe" }).click();
}

/** Fills the editor with a daily plan of SPY. */
async function draftDailyPlan(page: Page): Promise<void> {
  await openHydrated(page, "/plans/new");
  await page.getByLabel("Plan name").fill("Daily SPY");
  await page.getByLabel("Symbol 1").fill("SPY");
  await page.getByLabel("Amount 1 ($)").fill("10");
  await page.getByLabel("Repeats").selectOption("daily");
  await page.getByLabel("Time", { exact: true }).fill("10:00");
  await page.getByLabel("Time zone").fill("America/New_York");
}

test("a Free user upgrades to Pro through checkout and saves a daily plan; the portal cancels at period end", async ({ page }) => {
  const email = uniqueEmail("upgrade");
  await signUp(page, email);
  // Subscriptions need a confirmed address.
  await verifyEmail(page, email);
  // Free: a daily plan is refused with the tier rule, over the API…
  const refused = await page.request.post("/api/dca/config", { data: dailyPlan });
  expect(refused.status()).toBe(422);
  expect(JSON.stringify(await refused.json())).toContain("daily needs Pro");
  // …and the editor says so before the user presses save, with the way to upgrade.
  await draftDailyPlan(page);
  const message = page.getByTestId("form-message");
  const upgrade = page.getByTestId("tier-limit");
  await expect(message).toHaveText("Free allows weekly plans; daily needs Pro.");
  await expect(upgrade).toBeVisible();
  await page.getByLabel("Repeats").selectOption("weekly");
  await expect(upgrade).toBeHidden();
  await expect(message).toBeEmpty();
  await page.getByLabel("Repeats").selectOption("daily");
  await expect(message).toHaveText("Free allows weekly plans; daily needs Pro.");
  await upgrade.getByRole("link", { name: "See plans and upgrade" }).click();
  await expect(page).toHaveURL(/\/billing$/);
  await expect(page.getByTestId("current-tier")).toHaveText("Free");
  await expect(page.getByTestId("tier-table")).toContainText("$19.00");
  await payFor(page, "pro", "4242 4242 4242 4242");
  await expect(page).toHaveURL(/\/billing\?checkout=done/);
  // "Processing…" until the webhook lands, then the new tier, over the live socket.
  await expect(page.getByTestId("current-tier")).toHaveText("Pro", { timeout: 20_000 });
  await expect(page.getByTestId("billing-done")).toBeVisible();
  await expect(page.getByTestId("billing-renewal")).toContainText("Renews on");

  // On Pro the editor has nothing to say of a daily plan, and saves it.
  await draftDailyPlan(page);
  await page.getByRole("button", { name: "Create plan" }).click();
  await expect(page).toHaveURL(/\/plans\/[0-9a-f-]+\?created=1$/);
  await openHydrated(page, "/billing");

  // The portal: cancel at period end, then the period ends.
  await page.getByRole("button", { name: "Manage billing", exact: true }).click();
  await page.getByRole("button", { name: "Cancel plan" }).click();
  await page.getByRole("button", { name: "End the billing period now" }).click();
  await page.getByRole("link", { name: "Return to QuantShift" }).click();
  await expect(page).toHaveURL(/\/billing$/);
  await expect(page.getByTestId("current-tier")).toHaveText("Free", { timeout: 20_000 });
  // What Free does not allow is paused, not deleted.
  const plans = await (await page.request.get("/api/dca/config")).json();
  expect(plans.plans.map((p: { status: string }) => p.status)).toEqual(["paused"]);
  await openHydrated(page, "/plans");
  await expect(page.getByTestId("paused-reason")).toContainText("daily needs Pro");
});

test("a declined card leaves the user on Free with a message", async ({ page }) => {
  const email = uniqueEmail("declined");
  await signUp(page, email);
  // Subscriptions need a confirmed address.
  await verifyEmail(page, email);
  await payFor(page, "pro", "4000 0000 0000 0002");
  await expect(page.getByText("Your card was declined.")).toBeVisible();
  await page.getByRole("link", { name: "Cancel" }).click();
  await expect(page).toHaveURL(/\/billing\?checkout=cancelled/);
  await expect(page.getByTestId("billing-cancelled")).toBeVisible();
  await expect(page.getByTestId("current-tier")).toHaveText("Free");
});

test("a failed renewal keeps the tier with a warning until the card is fixed", async ({ page }) => {
  const email = uniqueEmail("pastdue");
  await signUp(page, email);
  // Subscriptions need a confirmed address.
  await verifyEmail(page, email);
  await payFor(page, "basic", "4242 4242 4242 4242");
  await expect(page.getByTestId("current-tier")).toHaveText("Basic", { timeout: 20_000 });
  // The webhook may have landed before the page was rendered: wait for its code to run.
  await openHydrated(page, "/billing");
  await expect(page.getByTestId("past-due")).toHaveCount(0);
  // The stand-in's portal: the next period's payment fails.
  await page.getByRole("button", { name: "Manage billing", exact: true }).click();
  await page.getByRole("button", { name: "Fail the next payment" }).click();
  await page.getByRole("link", { name: "Return to QuantShift" }).click();
  await expect(page).toHaveURL(/\/billing$/);
  // past_due: the tier stays, with a warning that says what to do.
  await expect(page.getByTestId("past-due")).toContainText("Your last payment failed", { timeout: 20_000 });
  await expect(page.getByTestId("current-tier")).toHaveText("Basic");
});
