import { expect, test } from "./fixtures";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PASSWORD, uniqueEmail } from "./helpers";

// This test runs its own server (same binary as the suite's) so it can stop and restart it.
const port = Number(process.env.QS_E2E_RESTART_PORT ?? 3109);
const base = `http://127.0.0.1:${port}`;
const targetDir = process.env.CARGO_TARGET_DIR ?? resolve(__dirname, "../../target");
const binary = process.env.QS_BIN ?? join(targetDir, "debug", "quantshift");
const dataDir = mkdtempSync(join(tmpdir(), "qs-e2e-restart-"));

function start(): ChildProcess {
  return spawn(binary, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    cwd: resolve(__dirname, "../.."),
    env: { ...process.env, RUST_LOG: "warn" },
    stdio: "ignore",
  });
}

async function ready(): Promise<void> {
  await expect(async () => {
    const response = await fetch(`${base}/readyz`);
    expect(response.ok).toBeTruthy();
  }).toPass({ timeout: 30_000 });
}

async function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null) return;
  const exited = new Promise((done) => server.once("exit", done));
  server.kill("SIGTERM");
  await exited;
}

test("the live link reconnects after the server restarts, and the badge says so", async ({ page }) => {
  test.setTimeout(90_000);
  let server = start();
  try {
    await ready();
    await page.goto(`${base}/signup`);
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
    await page.getByLabel("E-mail").fill(uniqueEmail("restart"));
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page).toHaveURL(/\/welcome$/);
    await page.getByTestId("skip-setup").click();
    const badge = page.getByTestId("live-status");
    await expect(badge).toHaveText("Live");

    await stop(server);
    await expect(badge).toHaveText("Offline: reconnecting…");

    server = start();
    await ready();
    // The session lives in the database, so the same browser is still signed in.
    await expect(badge).toHaveText("Live", { timeout: 20_000 });
    await expect(page.getByTestId("account")).toContainText("$100,000.00");
  } finally {
    await stop(server);
  }
});
