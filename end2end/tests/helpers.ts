import { expect, type Page } from "@playwright/test";

export const PASSWORD = "correct horse battery";

/** The server under test is started with QUANTSHIFT_ADMIN_EMAIL set to this address. */
export const ADMIN_EMAIL = "admin@e2e.test";

/** A fresh address per call, so tests never collide. */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@e2e.test`;
}

/** Opens `path` and waits until the WASM has hydrated the page. */
export async function openHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
}

export async function signUp(page: Page, email: string, password = PASSWORD): Promise<void> {
  await openHydrated(page, "/signup");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/dashboard$/);
}

export async function signIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await openHydrated(page, "/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}
