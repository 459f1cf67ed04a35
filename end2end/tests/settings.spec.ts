import { expect, test } from "./fixtures";
import { openHydrated, PASSWORD, signIn, signUp, signUpToWelcome, uniqueEmail } from "./helpers";

test("settings: time zone, password change with re-authentication, other sessions, broker keys", async ({ browser, page }) => {
  const email = uniqueEmail("settings");
  await signUp(page, email);
  // A second browser signed in as the same user.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await signIn(otherPage, email);
  await expect(otherPage).toHaveURL(/\/dashboard$/);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  await expect(page.getByTestId("profile-email")).toHaveText(email);
  await expect(page.getByTestId("other-sessions")).toContainText("1 other browser");

  await page.getByLabel("Time zone for new plans").fill("Atlantis/Capital");
  await page.getByRole("button", { name: "Save time zone" }).click();
  await expect(page.getByTestId("error-settings-zone")).toContainText("is not a time zone");
  await page.getByLabel("Time zone for new plans").fill("Europe/London");
  await page.getByRole("button", { name: "Save time zone" }).click();
  // The server's answer, before leaving the page (the field holds the typed value anyway).
  await expect(page.getByText("Saved.", { exact: true })).toBeVisible();
  await expect(page.getByLabel("Time zone for new plans")).toHaveValue("Europe/London");
  // New plans start in the chosen zone.
  await openHydrated(page, "/plans/new");
  await expect(page.getByLabel("Time zone")).toHaveValue("Europe/London");

  await openHydrated(page, "/settings");
  await page.getByLabel("Current password").fill("not my password");
  await page.getByLabel("New password").fill("an even better passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("error-current-password")).toHaveText("That is not your current password.");
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password").fill("an even better passphrase");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("password-changed")).toBeVisible();
  await expect(page.getByTestId("other-sessions")).toContainText("this browser only");

  // The other browser was signed out by the change: its open dashboard's live link is
  // closed by the server and the page goes to the sign-in form by itself.
  await expect(otherPage).toHaveURL(/\/login$/);
  await signIn(otherPage, email, "an even better passphrase");
  await expect(otherPage).toHaveURL(/\/dashboard$/);
  await openHydrated(page, "/settings");
  await expect(page.getByTestId("other-sessions")).toContainText("1 other browser");
  await page.getByRole("button", { name: "Sign out everywhere else" }).click();
  await expect(page.getByTestId("other-sessions")).toContainText("this browser only");
  await expect(otherPage).toHaveURL(/\/login$/);
  await otherPage.goto("/dashboard");
  await expect(otherPage).toHaveURL(/\/login$/);
  await other.close();

  // One session ended from the list; this device is marked and has no "End".
  const third = await browser.newContext();
  const thirdPage = await third.newPage();
  await signIn(thirdPage, email, "an even better passphrase");
  await expect(thirdPage).toHaveURL(/\/dashboard$/);
  await openHydrated(page, "/settings");
  const sessions = page.getByTestId("session-list").getByRole("listitem");
  await expect(sessions).toHaveCount(2);
  await expect(sessions.filter({ hasText: "this device" })).toContainText("on Linux");
  await expect(page.getByTestId("session-list").getByRole("button", { name: "End" })).toHaveCount(1);
  await page.getByTestId("session-list").getByRole("button", { name: "End" }).click();
  await expect(page.getByTestId("other-sessions")).toContainText("this browser only");
  await expect(sessions).toHaveCount(1);
  await expect(thirdPage).toHaveURL(/\/login$/);
  await third.close();

  // Malformed keys are refused next to the field; nothing changes.
  await expect(page.getByTestId("broker-current")).toContainText("simulated paper account");
  await page.getByLabel("API key ID").fill("PKE2E");
  await page.getByLabel("Secret key").fill("short");
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByTestId("error-broker-key")).toHaveText("Paste the key exactly as Alpaca shows it.");
  await expect(page.getByTestId("broker-current")).toContainText("simulated paper account");
  // Keys the broker accepts (here the demo simulator stands in for Alpaca) are connected;
  // only their last four characters are ever shown.
  await page.getByLabel("API key ID").fill(`PKE2E${Date.now()}WXYZ`);
  await page.getByLabel("Secret key").fill("a-secret-the-page-never-shows-again");
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByTestId("broker-current")).toContainText("Alpaca paper account, key ending in WXYZ");
  await expect(page.getByLabel("Secret key")).toHaveValue("");
  expect(await page.content()).not.toContain("a-secret-the-page-never-shows-again");
  await page.getByRole("button", { name: "Disconnect and use the paper account" }).click();
  await expect(page.getByTestId("broker-current")).toContainText("simulated paper account");
});

test("the set-up wizard can be skipped and resumed from the dashboard", async ({ page }) => {
  await signUpToWelcome(page, uniqueEmail("resume"));
  await page.getByTestId("skip-setup").click();
  await expect(page).toHaveURL(/\/dashboard$/);
  await page.getByTestId("resume-setup").click();
  await expect(page).toHaveURL(/\/welcome$/);
  await page.getByRole("link", { name: "Get started" }).click();
  await page.getByRole("link", { name: "Keep the paper account" }).click();
  await page.getByRole("link", { name: "Skip this step" }).click();
  await expect(page.getByTestId("setup-done")).toContainText("Create a plan whenever you're ready");
});

test("the landing page explains DCA, links the prices and shows the disclaimer", async ({ page }) => {
  await openHydrated(page, "/");
  await expect(page.getByRole("heading", { name: "How dollar-cost averaging works" })).toBeVisible();
  // The tiers are on their own page (help.spec.ts follows this link).
  await expect(page.getByTestId("pricing-link")).toHaveAttribute("href", "/pricing");
  await expect(page.getByTestId("disclaimer")).toContainText("Not investment advice.");
  await page.getByRole("link", { name: "Get started free" }).click();
  await expect(page).toHaveURL(/\/signup$/);
});

test("the landing page offers a signed-in user their dashboard, rendered so by the server", async ({ page }) => {
  await signUp(page, uniqueEmail("landing"));
  // What the server renders (streamed once the session is read) already offers it.
  const html = await (await page.request.get("/")).text();
  expect(html).toContain("Go to your dashboard");

  await openHydrated(page, "/");
  await page.getByRole("link", { name: "Go to your dashboard" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
});

