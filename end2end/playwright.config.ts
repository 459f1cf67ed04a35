// Playwright drives QuantShift in Debian's Chromium (/usr/bin/chromium), never a downloaded
// browser. The web server is the freshly built `quantshift` binary on its own port with a
// fresh, empty data directory, so every run starts from nothing.
import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ADMIN_EMAIL, MARKET_START, PASSWORD } from "./tests/helpers";

const port = Number(process.env.QS_E2E_PORT ?? 3107);
const simPort = Number(process.env.QS_E2E_SIM_PORT ?? 3108);
const targetDir = process.env.CARGO_TARGET_DIR ?? resolve(__dirname, "../target");
const binary = process.env.QS_BIN ?? join(targetDir, "debug", "quantshift");
const dataDir = mkdtempSync(join(tmpdir(), "qs-e2e-"));
// billing.spec runs against a second server with billing on (and its Stripe stand-in).
const billingPort = Number(process.env.QS_E2E_BILLING_PORT ?? 3111);
const billingSimPort = Number(process.env.QS_E2E_BILLING_SIM_PORT ?? 3112);
const billingDataDir = mkdtempSync(join(tmpdir(), "qs-e2e-billing-"));
// returns.spec moves its market months ahead, on a server of its own.
const returnsPort = Number(process.env.QS_E2E_RETURNS_PORT ?? 3113);
const returnsSimPort = Number(process.env.QS_E2E_RETURNS_SIM_PORT ?? 3114);
const returnsDataDir = mkdtempSync(join(tmpdir(), "qs-e2e-returns-"));
// bot-trading.spec moves its market evening by evening until its bot trades, on another.
const tradingPort = Number(process.env.QS_E2E_TRADING_PORT ?? 3115);
const tradingSimPort = Number(process.env.QS_E2E_TRADING_SIM_PORT ?? 3116);
const tradingDataDir = mkdtempSync(join(tmpdir(), "qs-e2e-trading-"));

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  // One retry: a test that passes only on its second try is listed as "flaky" in the
  // summary scripts/test.sh prints (and must be looked into), without failing CI.
  retries: 1,
  timeout: 90_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "main", testIgnore: /(billing|returns|bot-trading)\.spec\.ts/ },
    {
      name: "returns",
      testMatch: /returns\.spec\.ts/,
      use: { baseURL: `http://127.0.0.1:${returnsPort}` },
    },
    {
      name: "trading",
      testMatch: /bot-trading\.spec\.ts/,
      use: { baseURL: `http://127.0.0.1:${tradingPort}` },
    },
    {
      name: "billing",
      testMatch: /billing\.spec\.ts/,
      use: { baseURL: `http://127.0.0.1:${billingPort}` },
    },
  ],
  webServer: [{
    // The admin is made from the command line first, as an operator would.
    command:
      `printf '%s' '${PASSWORD}' | "${binary}" user create --admin --email ${ADMIN_EMAIL} ` +
      `--password-stdin --data-dir "${dataDir}" && ` +
      `exec "${binary}" serve --listen 127.0.0.1:${port} --data-dir "${dataDir}"`,
    cwd: resolve(__dirname, ".."),
    url: `http://127.0.0.1:${port}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      QUANTSHIFT_DEMO_BROKER_LISTEN: `127.0.0.1:${simPort}`,
      QUANTSHIFT_DEMO_START_TIME: MARKET_START,
      // Users' "own" Alpaca keys are checked against the demo simulator: no network here.
      QUANTSHIFT_ALPACA_PAPER_URL: `http://127.0.0.1:${simPort}`,
      QUANTSHIFT_ALPACA_DATA_URL: `http://127.0.0.1:${simPort}`,
      QUANTSHIFT_ALPACA_LIVE_URL: `http://127.0.0.1:${simPort}`,
      // help.spec connects live keys after one filled paper purchase.
      QUANTSHIFT_LIVE_UNLOCK_DAYS: "0",
      QUANTSHIFT_SCHEDULER_POLL_MS: "250",
      // The health page's probes, often enough for its test to see a tile change.
      QUANTSHIFT_HEALTH_PROBE_MS: "500",
      // The suite presses "buy now" more often than the default 10 an hour allows.
      QUANTSHIFT_RUN_NOW_PER_HOUR: "100",
      // Every spec signs up its own users, all from 127.0.0.1.
      QUANTSHIFT_SIGN_UPS_PER_HOUR: "1000",
      RUST_LOG: "warn",
    },
  },
  {
    command: `exec "${binary}" serve --listen 127.0.0.1:${returnsPort} --data-dir "${returnsDataDir}"`,
    cwd: resolve(__dirname, ".."),
    url: `http://127.0.0.1:${returnsPort}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      QUANTSHIFT_DEMO_BROKER_LISTEN: `127.0.0.1:${returnsSimPort}`,
      QUANTSHIFT_DEMO_START_TIME: MARKET_START,
      QUANTSHIFT_SCHEDULER_POLL_MS: "250",
      QUANTSHIFT_SIGN_UPS_PER_HOUR: "1000",
      RUST_LOG: "warn",
    },
  },
  {
    command: `exec "${binary}" serve --listen 127.0.0.1:${tradingPort} --data-dir "${tradingDataDir}"`,
    cwd: resolve(__dirname, ".."),
    url: `http://127.0.0.1:${tradingPort}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      QUANTSHIFT_DEMO_BROKER_LISTEN: `127.0.0.1:${tradingSimPort}`,
      QUANTSHIFT_DEMO_START_TIME: MARKET_START,
      QUANTSHIFT_SCHEDULER_POLL_MS: "250",
      QUANTSHIFT_SIGN_UPS_PER_HOUR: "1000",
      RUST_LOG: "warn",
    },
  },
  {
    command: `exec "${binary}" serve --listen 127.0.0.1:${billingPort} --data-dir "${billingDataDir}"`,
    cwd: resolve(__dirname, ".."),
    url: `http://127.0.0.1:${billingPort}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      QUANTSHIFT_BILLING: "true",
      QUANTSHIFT_DEMO_BROKER_LISTEN: `127.0.0.1:${billingSimPort}`,
      QUANTSHIFT_SIGN_UPS_PER_HOUR: "1000",
      RUST_LOG: "warn",
    },
  }],
});