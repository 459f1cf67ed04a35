import { expect, test } from "./fixtures";
import { ADMIN_EMAIL, signIn, signUp, uniqueEmail } from "./helpers";

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

  // The admin was made by the operator (`quantshift user create --admin`) before the
  // server started; signing up never makes one.
  const admin = await browser.newPage();
  await signIn(admin, ADMIN_EMAIL);
  await expect(admin).toHaveURL(/\/dashboard$/);
  const adminNav = admin.getByRole("navigation", { name: "Main" });
  await adminNav.getByRole("link", { name: "Admin" }).click();
  await expect(admin).toHaveURL(/\/admin$/);
  const users = admin.getByTestId("admin-users");
  await expect(users).toContainText(subscriberEmail);
  await expect(users).toContainText(ADMIN_EMAIL);
});
