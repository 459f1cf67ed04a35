//! The `quantshift` binary's subcommands and start-up validation.

use crate::helpers::{Backend, TestApp, json};
use std::io::Write as _;
use std::process::{Command, Stdio};

fn quantshift(config: &server::config::Config) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quantshift"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", config.database_url())
        .env("RUST_LOG", "warn");
    command
}

async fn user_create_makes_an_admin_who_can_sign_in(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let mut child = quantshift(&app.config)
        .args([
            "user",
            "create",
            "--email",
            "root@example.com",
            "--password-stdin",
            "--admin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long admin password\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let signed_in = app
        .sign_in("root@example.com", "a long admin password")
        .await;
    assert_eq!(signed_in.status(), 200);
    assert_eq!(json(signed_in).await["user"]["role"], "admin");
    assert_eq!(app.get("/api/admin/users").await.status(), 200);

    // A duplicate is refused with a readable message and a failing exit code.
    let mut again = quantshift(&app.config)
        .args([
            "user",
            "create",
            "--email",
            "root@example.com",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    again
        .stdin
        .take()
        .unwrap()
        .write_all(b"another long password")
        .unwrap();
    let output = again.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("exists already"), "{stderr}");
    app.cleanup().await;
}

async fn user_promote_makes_an_existing_user_admin(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(
        app.sign_up("operator@example.com", "a long enough password")
            .await
            .status(),
        201
    );
    assert_eq!(app.get("/api/admin/users").await.status(), 403);
    let output = quantshift(&app.config)
        .args(["user", "promote", "operator@example.com"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The role is read fresh on every request: the open session is an admin's now.
    assert_eq!(app.get("/api/admin/users").await.status(), 200);
    assert!(
        app.audit_actions()
            .await
            .contains(&"role_changed".to_string())
    );

    let missing = quantshift(&app.config)
        .args(["user", "promote", "nobody@example.com"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success(), "{stderr}");
    assert!(stderr.contains("was not found"), "{stderr}");
    app.cleanup().await;
}

async fn user_tier_sets_the_subscription_tier(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.sign_up("comp@example.com", "a long enough password")
        .await;
    let output = quantshift(&app.config)
        .args(["user", "tier", "comp@example.com", "premium"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let email = app::domain::account::Email::parse("comp@example.com").unwrap();
    let user = app.db.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(user.tier, app::domain::tier::Tier::Premium);
    assert!(
        app.audit_actions()
            .await
            .contains(&"tier_changed".to_string())
    );
    let unknown = quantshift(&app.config)
        .args(["user", "tier", "comp@example.com", "gold"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success(), "{stderr}");
    assert!(stderr.contains("free, basic, pro or premium"), "{stderr}");
    app.cleanup().await;
}

#[test]
fn migrate_creates_the_embedded_database() {
    let dir = std::env::temp_dir().join(format!("qs-migrate-{}", uuid::Uuid::new_v4().simple()));
    let output = Command::new(env!("CARGO_BIN_EXE_quantshift"))
        .env_clear()
        .env("RUST_LOG", "warn")
        .args(["migrate", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.join("quantshift.db").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_quantshift"))
        .env_clear()
        .env("QUANTSHIFT_SIGN_IN_MAX_FAILURES", "many")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.to_lowercase().contains("sign_in_max_failures"),
        "{stderr}"
    );
}

#[test]
fn help_documents_every_command() {
    let output = Command::new(env!("CARGO_BIN_EXE_quantshift"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for word in ["serve", "migrate", "user", "--config"] {
        assert!(help.contains(word), "{word} missing from --help:\n{help}");
    }
}

fn run_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_quantshift"))
        .env_clear()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_scheduler_benchmark_records_every_order_across_instances() {
    let output = run_cli(&[
        "bench",
        "scheduler",
        "--users",
        "6",
        "--legs",
        "2",
        "--instances",
        "2",
        "--timeout-secs",
        "120",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("2 instance(s)"), "{stdout}");
    assert!(
        stdout.contains("orders recorded: 12 (0 not bought)"),
        "{stdout}"
    );
}

#[test]
fn calendar_prints_trading_days_with_their_hours() {
    let output = run_cli(&["calendar", "--from", "2026-11-25", "--to", "2026-12-01"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "2026-11-25 09:30 16:00\n2026-11-27 09:30 13:00\n2026-11-30 09:30 16:00\n2026-12-01 09:30 16:00\n"
    );
    let backwards = run_cli(&["calendar", "--from", "2026-12-01", "--to", "2026-11-01"]);
    assert!(!backwards.status.success());
    assert!(String::from_utf8_lossy(&backwards.stderr).contains("after"));
}

/// Writes three years of synthetic SPY bars as CSV and returns the file's path.
fn synthetic_csv(name: &str) -> std::path::PathBuf {
    use jiff::civil::date;
    let bars = app::domain::synthetic::daily_bars("SPY", 42, date(2021, 1, 1), date(2023, 12, 31));
    let ny = app::domain::calendar::new_york();
    let mut csv = String::from("Date,Open,High,Low,Close,Volume\n");
    for bar in bars {
        let day = ny.to_datetime(bar.time).date();
        csv.push_str(&format!(
            "{day},{},{},{},{},{}\n",
            bar.open, bar.high, bar.low, bar.close, bar.volume
        ));
    }
    let dir = std::env::temp_dir().join(format!("qs-csv-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, csv).unwrap();
    path
}

#[test]
fn backtest_prints_the_documented_json() {
    let csv = synthetic_csv("spy.csv");
    let path = csv.to_str().unwrap();
    let output = run_cli(&[
        "backtest",
        "--data",
        path,
        "--strategy",
        "ma-crossover",
        "--fast",
        "5",
        "--slow",
        "20",
        "--sizing",
        "all-in",
        "--whole-shares",
        "--commission",
        "0.002",
        "--cash",
        "10000",
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["strategy"], "ma-crossover");
    assert_eq!(report["stats"]["initial_cash"], "10000.00");
    assert!(report["stats"]["trades"].as_u64().unwrap() > 0);
    assert!(report["stats"]["sharpe"].is_number());
    let trade = &report["trades"][0];
    assert!(
        trade["qty"].as_str().unwrap().parse::<u64>().is_ok(),
        "whole shares: {trade}"
    );
    assert!(report.get("open_position").is_some());

    let dca = run_cli(&[
        "backtest",
        "--data",
        path,
        "--strategy",
        "dca",
        "--amount",
        "100",
        "--frequency",
        "weekly",
        "--weekday",
        "monday",
        "--json",
    ]);
    assert!(
        dca.status.success(),
        "{}",
        String::from_utf8_lossy(&dca.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&dca.stdout).unwrap();
    let purchases = report["purchases"].as_array().unwrap().len();
    assert!(
        (150..=157).contains(&purchases),
        "about one purchase a week for 3 years: {purchases}"
    );
    assert_eq!(
        report["stats"]["purchases"].as_u64().unwrap() as usize,
        purchases
    );
    assert_eq!(
        report["stats"]["total_invested"],
        format!("{}.00", purchases * 100)
    );
    for key in ["final_value", "profit", "xirr_pct", "lump_sum_final_value"] {
        assert!(report["stats"].get(key).is_some(), "{key}");
    }

    let table = run_cli(&[
        "backtest",
        "--data",
        path,
        "--strategy",
        "smart-dca",
        "--period",
        "50",
    ]);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("smart-dca") && text.contains("skipped slots"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(csv.parent().unwrap());
}

#[test]
fn backtest_rejects_bad_csv_with_the_line_number() {
    let dir = std::env::temp_dir().join(format!("qs-csv-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("qqq.csv");
    std::fs::write(
        &path,
        "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10,5\n2024-01-03,10,9,11,10,5\n",
    )
    .unwrap();
    let output = run_cli(&[
        "backtest",
        "--data",
        path.to_str().unwrap(),
        "--strategy",
        "dca",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("below low"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

on_both_backends!(
    backend:
    user_create_makes_an_admin_who_can_sign_in,
    user_promote_makes_an_existing_user_admin,
    user_tier_sets_the_subscription_tier,
);
