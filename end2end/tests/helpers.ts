import { expect, type Page } from "@playwright/test";

export const PASSWORD = "correct horse battery";

/** Made an admin (`quantshift user create --admin`, password PASSWORD) before the server starts. */
export const ADMIN_EMAIL = "admin@e2e.test";

/** A fresh address per call, so tests never collide. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@e2e.test`;
}

/** Opens `path` and waits until the WASM has hydrated the page. */
export async function openHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  // A debug build's WASM takes seconds to compile when a browser context first loads it.
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true", { timeout: 30_000 });
}

/** Signs up and lands on the set-up wizard's first step. */
export async function signUpToWelcome(page: Page, email: string, password = PASSWORD): Promise<void> {
  await openHydrated(page, "/signup");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/welcome$/);
}

/** Signs up, skips the set-up wizard and lands on the dashboard. */
export async function signUp(page: Page, email: string, password = PASSWORD): Promise<void> {
  await signUpToWelcome(page, email, password);
  await page.getByTestId("skip-setup").click();
  await expect(page).toHaveURL(/\/dashboard$/);
}

/**
 * The server under test runs on the demo market's clock, from Monday 30 November 2026 at
 * 10:00 New York time (market open), so purchases fill; tests move it forward only, with
 * the simulator's control API.
 */
export const MARKET_START = "2026-11-30T15:00:00Z";

/** The demo broker's control API (loopback; see playwright.config.ts). */
export const SIM_URL = `http://127.0.0.1:${process.env.QS_E2E_SIM_PORT ?? 3108}`;

/** The demo broker of the "returns" project's server. */
export const RETURNS_SIM_URL = `http://127.0.0.1:${process.env.QS_E2E_RETURNS_SIM_PORT ?? 3114}`;

/** The demo broker of the "trading" project's server. */
export const TRADING_SIM_URL = `http://127.0.0.1:${process.env.QS_E2E_TRADING_SIM_PORT ?? 3116}`;

/** Moves the simulated market's clock, which the server under test runs on. */
export async function setMarketTime(page: Page, time: string, sim = SIM_URL): Promise<void> {
  const response = await page.request.post(`${sim}/sim/v1/clock`, { data: { now: time } });
  expect(response.ok()).toBeTruthy();
}

/** The simulated market's clock now. */
export async function marketTime(page: Page, sim = SIM_URL): Promise<Date> {
  const response = await page.request.get(`${sim}/sim/v1/clock`);
  const body = await response.json();
  return new Date(body.now);
}

export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await openHydrated(page, "/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** The next trading day after `now` at `hhmm` New York time (December: UTC−5). */
export function nextSessionAt(now: Date, hhmm: string): Date {
  const [h, m] = hhmm.split(":").map(Number);
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  for (;;) {
    day.setUTCDate(day.getUTCDate() + 1);
    const weekday = day.getUTCDay();
    const md = `${day.getUTCMonth() + 1}-${day.getUTCDate()}`;
    if (weekday !== 0 && weekday !== 6 && md !== "12-24" && md !== "12-25") break;
  }
  return new Date(day.getTime() + ((h + 5) * 60 + m) * 60_000);
}

/** Marks the page so a later check can prove it was never reloaded. */
export async function markPage(page: Page): Promise<void> {
  await page.evaluate(() => ((window as unknown as { qsMark: boolean }).qsMark = true));
}

export async function expectNoReload(page: Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { qsMark?: boolean }).qsMark)).toBe(true);
}

/**
 * Opens the newest e-mail to `email` whose subject contains `subject` in the demo mailbox
 * (`/dev/mailbox`: demo mode keeps e-mails there) and follows its first link. E-mails are
 * sent by a background sender, so the mailbox is read again until the e-mail is there.
 */
export async function openMailLink(page: Page, email: string, subject: string): Promise<void> {
  const mail = page
    .getByTestId("mail")
    .filter({ hasText: `To ${email}` })
    .filter({ has: page.getByTestId("mail-subject").filter({ hasText: subject }) })
    .first();
  await expect(async () => {
    await page.goto("/dev/mailbox");
    await expect(mail).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await mail.getByTestId("mail-link").first().click();
}

/** Confirms `email` with the link of its verification e-mail. */
export async function verifyEmail(page: Page, email: string): Promise<void> {
  await openMailLink(page, email, "Confirm your e-mail address");
  await page.getByRole("button", { name: "Confirm my address" }).click();
  await expect(page.getByTestId("page-message")).toContainText("your e-mail address is confirmed");
}
