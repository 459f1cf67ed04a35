// E-mail in demo mode, where e-mails land in the local mailbox at /dev/mailbox: confirming
// the address from the banner's e-mail, choosing which e-mails come, and the forgotten
// password flow from the sign-in page to signing in with the new password.
import { expect, test } from "./fixtures";
import { openHydrated, openMailLink, signIn, signUp, uniqueEmail, verifyEmail } from "./helpers";

test("a new user confirms the address from the e-mail and chooses which e-mails come", async ({ page }) => {
  const email = uniqueEmail("confirm");
  await signUp(page, email);
  const banner = page.getByTestId("verify-banner");
  await expect(banner).toBeVisible();
  await expect(banner).toContainText("Please confirm your e-mail address");
  // Another link on request (the banner's button), then the first one confirms.
  await banner.getByRole("button", { name: "Send a new link" }).click();
  await expect(page.getByTestId("page-message")).toContainText("We sent you a new link");
  await verifyEmail(page, email);
  await openHydrated(page, "/dashboard");
  await expect(page.getByTestId("verify-banner")).toBeHidden();

  await openHydrated(page, "/settings");
  const form = page.getByTestId("notifications-form");
  const weekly = form.getByLabel("The weekly summary");
  await expect(weekly).toBeChecked();
  await weekly.uncheck();
  await form.getByRole("button", { name: "Save e-mail choices" }).click();
  await expect(page).toHaveURL(/\/settings\?notifications=saved$/);
  await expect(page.getByTestId("notifications-saved")).toBeVisible();
  await expect(page.getByTestId("notifications-form").getByLabel("The weekly summary")).not.toBeChecked();
  await expect(page.getByTestId("notifications-form").getByLabel("A summary after each purchase")).toBeChecked();
});

test("forgot password: the e-mailed link sets a new password and the old one stops working", async ({ page, browser }) => {
  const email = uniqueEmail("forgot");
  await signUp(page, email);
  // Another browser, signed out, asks for a reset from the sign-in page.
  const context = await browser.newContext();
  const other = await context.newPage();
  await openHydrated(other, "/login");
  await other.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(other).toHaveURL(/\/forgot-password$/);
  await other.getByLabel("E-mail address").fill(email);
  await other.getByRole("button", { name: "Send the link" }).click();
  await expect(other.getByTestId("page-message")).toContainText("If an account exists for that address");

  await openMailLink(other, email, "Reset your QuantShift password");
  await expect(other).toHaveURL(/\/reset-password\?token=/);
  const used = other.url();
  await other.getByLabel("New password").fill("short");
  await other.getByRole("button", { name: "Save the new password" }).click();
  await expect(other.locator("#password-error")).toContainText("at least 10 characters");
  await other.getByLabel("New password").fill("a brand new passphrase");
  await other.getByRole("button", { name: "Save the new password" }).click();
  await expect(other.getByTestId("page-message")).toContainText("Your new password is saved");

  // The first browser's session ended with the reset. Its open dashboard may be taking
  // itself to the sign-in page as this navigation starts (its live socket was closed), which
  // interrupts the navigation: either way it must end on the sign-in page.
  await expect(async () => {
    await page.goto("/dashboard");
    await expect(page).toHaveURL(/\/login/);
  }).toPass({ timeout: 15_000 });
  // The link works once.
  await other.goto(used);
  await expect(other.getByTestId("page-message")).toContainText("was used already");
  // The old password is refused, the new one signs in.
  await signIn(other, email);
  await expect(other.getByTestId("form-error")).toBeVisible();
  await signIn(other, email, "a brand new passphrase");
  await expect(other).toHaveURL(/\/dashboard$/);
  await context.close();
});
