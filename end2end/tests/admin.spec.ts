import { expect, test } from "@playwright/test";
import { ADMIN_EMAIL, signUp, uniqueEmail } from "./helpers";

test("the Admin link is shown to admins only", async ({ browser }) => {
  const subscriber = await browser.newPage();
  const subscriberEmail = uniqueEmail("subscriber");
  await signUp(subscriber, subscriberEmail);
  const nav = subscriber.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Dashboard" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);
  // Typing the address does not help a subscriber either.
  await subscriber.goto("/admin");
  await expect(subscriber.getByRole("heading", { name: "Admins only" })).toBeVisible();
  await expect(subscriber.getByTestId("admin-users")).toHaveCount(0);

  // QUANTSHIFT_ADMIN_EMAIL makes this address an admin when it signs up.
  const admin = await browser.newPage();
  await signUp(admin, ADMIN_EMAIL);
  const adminNav = admin.getByRole("navigation", { name: "Main" });
  await adminNav.getByRole("link", { name: "Admin" }).click();
  await expect(admin).toHaveURL(/\/admin$/);
  const users = admin.getByTestId("admin-users");
  await expect(users).toContainText(subscriberEmail);
  await expect(users).toContainText(ADMIN_EMAIL);
});
