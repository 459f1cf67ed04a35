import { expect, test } from "./fixtures";
import { openHydrated, PASSWORD, signIn, signUp, uniqueEmail } from "./helpers";

test("sign up starts the set-up wizard, then sign out and sign in again", async ({ page }) => {
  const email = uniqueEmail("journey");
  await signUp(page, email);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByTestId("dashboard-empty")).toBeVisible();
  await expect(page.getByTestId("user-email")).toHaveText(email);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByTestId("user-email")).toHaveCount(0);

  // The dashboard is closed to visitors.
  await page.goto("/dashboard");
  await expect(page).toHaveURL(/\/login$/);

  await signIn(page, email);
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByTestId("user-email")).toHaveText(email);
});

test("a wrong password shows the error next to the form", async ({ page }) => {
  const email = uniqueEmail("wrong");
  await signUp(page, email);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);

  await signIn(page, email, "not the right password");
  const error = page.getByTestId("form-error");
  await expect(error).toHaveText("That e-mail address and password do not match an account.");
  await expect(page).toHaveURL(/\/login$/);
  // The error sits inside the sign-in form, beside its fields.
  await expect(page.locator("form").filter({ has: error })).toContainText("Password");
});

test("sign-up validates as the user types (hydrated WASM)", async ({ page }) => {
  await openHydrated(page, "/signup");
  const password = page.getByLabel("Password");
  await page.getByLabel("E-mail").fill("not-an-email");
  await password.fill("short");
  await password.blur();
  await expect(page.locator("#signup-email-error")).toHaveText(/like name@example\.com/);
  await expect(page.locator("#signup-password-error")).toHaveText(/at least 10 characters/);
  await expect(password).toHaveAttribute("aria-invalid", "true");

  await password.fill(PASSWORD);
  await expect(page.locator("#signup-password-error")).toBeEmpty();
});

test("an unknown address shows the not-found page", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});
