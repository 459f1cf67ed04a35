import { expect, test } from "./fixtures";
import { openHydrated, signUp, uniqueEmail, verifyEmail } from "./helpers";

// The help and trust pages are plain server-rendered HTML, reached from every page's footer.
test("the help, pricing and legal pages are reachable from the footer", async ({ page }) => {
  await openHydrated(page, "/");
  const footer = page.getByRole("navigation", { name: "About QuantShift" });
  await footer.getByRole("link", { name: "Help" }).click();
  await expect(page).toHaveURL(/\/help$/);
  await expect(page.getByRole("heading", { level: 1, name: "Help" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Schedules, holidays and early closes" })).toBeVisible();
  // Each purchase state, in the words the history uses.
  await expect(page.locator("#state-rejected")).toContainText("Rejected by the broker");
  await page.getByRole("navigation", { name: "On this page" }).getByRole("link", { name: "Paper and live accounts" }).click();
  await expect(page).toHaveURL(/\/help#paper-and-live$/);

  for (const [name, heading] of [
    ["FAQ", "Frequently asked questions"],
    ["Terms", "Terms of service"],
    ["Privacy", "Privacy"],
    ["Risk disclosure", "Investment risk disclosure"],
  ]) {
    await page.getByRole("navigation", { name: "About QuantShift" }).getByRole("link", { name, exact: true }).click();
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
  }
  await expect(page.getByTestId("disclaimer")).toContainText("Not investment advice.");

  // The landing page sends visitors to the pricing page: the server's own tier table.
  await openHydrated(page, "/");
  await page.getByTestId("pricing-link").click();
  await expect(page).toHaveURL(/\/pricing$/);
  const pricing = page.getByTestId("pricing");
  for (const [tier, price, feature] of [
    ["Free", "$0", "Paper trading only"],
    ["Basic", "$9", "3 symbols, weekly plans"],
    ["Pro", "$19", "10 symbols"],
    ["Premium", "$29", "Smart DCA"],
  ]) {
    const card = pricing.locator("article", { has: page.getByRole("heading", { name: tier, exact: true }) });
    await expect(card).toContainText(price);
    await expect(card).toContainText(feature);
  }
  await expect(page.getByTestId("tier-comparison")).toContainText("Live (real money) Alpaca account");
  await page.getByRole("link", { name: "Start free" }).first().click();
  await expect(page).toHaveURL(/\/signup$/);
});

test("live keys need the risk disclosure confirmed, once", async ({ page }) => {
  const email = uniqueEmail("risk");
  await signUp(page, email);
  await verifyEmail(page, email);
  // Live trading unlocks after a filled paper purchase (this server asks for 0 days).
  const created = await page.request.post("/api/dca/config", {
    data: {
      name: "Paper first",
      legs: [{ symbol: "VTI", amount: "20.00" }],
      schedule: { frequency: "daily", interval: 1, weekday: null, day_of_month: null, time: "10:00", timezone: "America/New_York" },
    },
  });
  expect(created.status()).toBe(201);
  const plan = await created.json();
  const run = await page.request.post("/api/dca/run-now", { data: { plan_id: plan.id }, headers: { "Idempotency-Key": "risk-1" } });
  expect(run.status()).toBe(202);
  await expect
    .poll(async () => (await (await page.request.get("/api/dca/history")).json()).purchases[0]?.status, { timeout: 15_000 })
    .toBe("filled");

  await openHydrated(page, "/settings");
  await page.getByLabel("Account").selectOption("live");
  const acknowledge = page.getByTestId("acknowledge-risk");
  await expect(acknowledge).toBeVisible();
  await expect(page.getByRole("link", { name: "risk disclosure", exact: true })).toHaveAttribute("href", "/risk");
  await page.getByLabel("API key ID").fill(`AKE2E${Date.now()}LIVE`);
  await page.getByLabel("Secret key").fill("a-live-secret-for-the-simulator");
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByTestId("error-acknowledge-risk")).toContainText("Read the risk disclosure");
  await expect(page.getByTestId("broker-current")).toContainText("simulated paper account");

  await acknowledge.check();
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByTestId("broker-current")).toContainText("Alpaca live account, key ending in LIVE");
  await page.getByRole("button", { name: "Disconnect and use the paper account" }).click();
  await expect(page.getByTestId("broker-current")).toContainText("simulated paper account");

  // Asked once: the next live connection goes straight through.
  await page.getByLabel("Account").selectOption("live");
  await expect(acknowledge).toBeHidden();
  await page.getByLabel("Secret key").fill("a-live-secret-for-the-simulator");
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByTestId("broker-current")).toContainText("Alpaca live account, key ending in LIVE");
});
