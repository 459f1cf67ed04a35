import { expect, test } from "./fixtures";
import { ADMIN_EMAIL, SIM_URL, openHydrated, signIn, signUp, uniqueEmail } from "./helpers";

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
  // Newest first: the subscriber who just signed up is on the first page; the admin made
  // before the server started is found by searching.
  const users = admin.getByTestId("admin-users");
  await expect(users).toContainText(subscriberEmail);
  await admin.getByLabel("Role").selectOption("admin");
  await admin.getByRole("button", { name: "Search" }).click();
  await expect(admin).toHaveURL(/role=admin/);
  await expect(users).toContainText(ADMIN_EMAIL);
  await expect(users).not.toContainText(subscriberEmail);
});

test("an admin finds a user, disables them (their open dashboard drops to sign-in) and enables them again", async ({ browser }) => {
  const user = await browser.newPage();
  const email = uniqueEmail("disable");
  await signUp(user, email);
  await expect(user.getByTestId("live-status")).toHaveText("Live");

  const admin = await browser.newPage();
  await signIn(admin, ADMIN_EMAIL);
  await expect(admin).toHaveURL(/\/dashboard$/);
  await openHydrated(admin, "/admin/users");
  await admin.getByLabel("E-mail contains").fill(email.toUpperCase());
  await admin.getByRole("button", { name: "Search" }).click();
  await expect(admin).toHaveURL(/\/admin\/users\?q=/);
  const rows = admin.getByTestId("admin-user-row");
  await expect(rows).toHaveCount(1);
  await rows.getByRole("link", { name: email }).click();
  await expect(admin).toHaveURL(/\/admin\/users\/[0-9a-f-]+$/);
  await expect(admin.getByTestId("admin-user-state")).toHaveText("active");
  await expect(admin.getByTestId("admin-user-sessions")).toHaveText("1 device");
  await expect(admin.getByTestId("admin-user-billing")).toContainText("Purchases this month");

  await admin.getByRole("button", { name: "Disable account" }).click();
  await expect(admin.getByTestId("admin-user-state")).toHaveText("disabled");
  await expect(admin.getByTestId("admin-user-sessions")).toHaveText("0 devices");
  // The user's open dashboard hears that its session ended, and goes to the sign-in page.
  await expect(user).toHaveURL(/\/login/, { timeout: 10_000 });
  await signIn(user, email);
  await expect(user.getByText("This account has been disabled.")).toBeVisible();

  await admin.getByRole("button", { name: "Enable account" }).click();
  await expect(admin.getByTestId("admin-user-state")).toHaveText("active");
  await expect(admin.getByTestId("admin-user-audit")).toContainText("user_disabled");
  await signIn(user, email);
  await expect(user).toHaveURL(/\/dashboard$/);
  await expect(user.getByTestId("live-status")).toHaveText("Live");

  // One session ended by the admin, from the user's list of devices.
  await openHydrated(admin, admin.url());
  const sessions = admin.getByTestId("admin-user-session-list");
  await expect(sessions.getByRole("row")).toHaveCount(2);
  await expect(sessions).toContainText("on Linux");
  await sessions.getByRole("button", { name: "End session" }).click();
  await expect(admin.getByTestId("admin-user-sessions")).toHaveText("0 devices");
  await expect(user).toHaveURL(/\/login/, { timeout: 10_000 });

  // The audit log viewer, filtered to this user, shows what the admin did.
  await admin.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Audit log" }).click();
  await expect(admin).toHaveURL(/\/admin\/audit$/);
  await admin.getByLabel("User (e-mail or id)").fill(email);
  await admin.getByLabel("Action").selectOption("user_disabled");
  await admin.getByRole("button", { name: "Filter" }).click();
  await expect(admin.getByTestId("audit-row")).toHaveCount(1);
  await expect(admin.getByTestId("audit-row")).toContainText(ADMIN_EMAIL);
  await expect(admin.getByTestId("audit-csv")).toHaveAttribute("href", /\/api\/admin\/audit\.csv\?user=.*action=user_disabled/);
});

test("the health page turns the simulated broker's tile red while the simulator fails, and green again", async ({ page }) => {
  await signIn(page, ADMIN_EMAIL);
  await expect(page).toHaveURL(/\/dashboard$/);
  await openHydrated(page, "/admin/health");
  const tile = page.getByTestId("tile-broker_simulated");
  await expect(tile).toHaveAttribute("data-level", "ok", { timeout: 15_000 });
  await expect(page.getByTestId("tile-scheduler_lag")).toBeVisible();
  await expect(page.getByTestId("health-instances")).toContainText("(this one)");
  const faults = await page.request.post(`${SIM_URL}/sim/v1/faults`, {
    data: { error_rate: 1.0, statuses: [503] },
  });
  expect(faults.ok()).toBeTruthy();
  try {
    // The page asks again every few seconds; the server probes every half second here.
    await expect(tile).toHaveAttribute("data-level", "critical", { timeout: 20_000 });
    await expect(tile).toContainText("unreachable");
    await expect(page.getByTestId("health-summary")).toHaveAttribute("data-level", "critical");
  } finally {
    await page.request.delete(`${SIM_URL}/sim/v1/faults`);
  }
  await expect(tile).toHaveAttribute("data-level", "ok", { timeout: 20_000 });
});

test("an admin publishes a release note; a subscriber sees the badge until they read it", async ({ browser }) => {
  const reader = await browser.newPage();
  await signUp(reader, uniqueEmail("reader"));
  const nav = reader.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: /What's new/ })).toBeVisible();
  await expect(reader.getByTestId("whats-new-badge")).toBeHidden();

  const admin = await browser.newPage();
  await signIn(admin, ADMIN_EMAIL);
  await expect(admin).toHaveURL(/\/dashboard$/);
  await openHydrated(admin, "/admin/notes");
  await admin.getByRole("button", { name: "Save note" }).click();
  await expect(admin.getByText("Give the note a title.")).toBeVisible();
  const title = `Weekly summaries ${Date.now()}`;
  await admin.getByLabel("Title").fill(title);
  await admin.getByLabel("Text (Markdown)").fill(
    "**Bold** news <script>window.__pwned = true</script> and [a link](https://example.com/more).",
  );
  await admin.getByLabel(/Published/).check();
  await admin.getByRole("button", { name: "Save note" }).click();
  await expect(admin.getByTestId("admin-notes")).toContainText(title);
  await expect(admin.getByTestId("admin-notes")).toContainText("published");

  // The subscriber's next page shows the badge; reading the notes puts it out.
  await openHydrated(reader, "/dashboard");
  await expect(reader.getByTestId("whats-new-badge")).toBeVisible();
  await nav.getByRole("link", { name: /What's new/ }).click();
  await expect(reader).toHaveURL(/\/whats-new$/);
  const note = reader.getByTestId("release-note").filter({ hasText: title });
  await expect(note.locator("strong")).toHaveText("Bold");
  await expect(note).toContainText("<script>window.__pwned = true</script>");
  await expect(note.getByRole("link", { name: "a link" })).toHaveAttribute("rel", "noopener noreferrer");
  expect(await reader.evaluate(() => (window as unknown as { __pwned?: boolean }).__pwned)).toBeUndefined();
  await expect(reader.getByTestId("whats-new-badge")).toBeHidden();
  await openHydrated(reader, "/dashboard");
  await expect(reader.getByTestId("whats-new-badge")).toBeHidden();
});

test("an admin sets an announcement every signed-in user sees, and the per-purchase limits", async ({ browser }) => {
  const admin = await browser.newPage();
  await signIn(admin, ADMIN_EMAIL);
  await expect(admin).toHaveURL(/\/dashboard$/);
  await openHydrated(admin, "/admin/settings");
  await expect(admin.getByLabel("Largest purchase ($)")).toHaveValue("10000");
  await admin.getByLabel("Largest purchase ($)").fill("0.5");
  await admin.getByRole("button", { name: "Save settings" }).click();
  await expect(admin.getByText("The largest purchase must be above the smallest.")).toBeVisible();
  await admin.getByLabel("Largest purchase ($)").fill("10000");
  const text = `Maintenance window ${Date.now()}`;
  await admin.getByLabel("Announcement").fill(text);
  await admin.getByRole("button", { name: "Save settings" }).click();
  await expect(admin.getByText("Saved.", { exact: true })).toBeVisible();
  try {
    const user = await browser.newPage();
    await signUp(user, uniqueEmail("announced"));
    await expect(user.getByTestId("announcement")).toHaveText(text);
  } finally {
    await admin.getByLabel("Announcement").fill("");
    await admin.getByRole("button", { name: "Save settings" }).click();
    await expect(admin.getByLabel("Announcement")).toHaveValue("");
  }

  // The tier limits form: a plain form the server renders and answers.
  const pro = admin.getByLabel("Pro symbols at most (empty: no limit)");
  await expect(pro).toHaveValue("10");
  await pro.fill("lots");
  await admin.getByRole("button", { name: "Save tier limits" }).click();
  await expect(admin).toHaveURL(/tier_field=tiers\.pro\.max_symbols/);
  await expect(admin.getByTestId("tier-pro")).toContainText("1 to 1000 symbols, or empty for no limit.");
  await admin.getByLabel("Pro symbols at most (empty: no limit)").fill("12");
  await admin.getByRole("button", { name: "Save tier limits" }).click();
  await expect(admin).toHaveURL(/tiers=saved/);
  await expect(admin.getByText("Tier limits saved.")).toBeVisible();
  await expect(admin.getByLabel("Pro symbols at most (empty: no limit)")).toHaveValue("12");
  await admin.getByLabel("Pro symbols at most (empty: no limit)").fill("10");
  await admin.getByRole("button", { name: "Save tier limits" }).click();
  await expect(admin.getByLabel("Pro symbols at most (empty: no limit)")).toHaveValue("10");
});
