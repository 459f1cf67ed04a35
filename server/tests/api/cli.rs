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
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("exists already"));
    app.cleanup().await;
}

#[tokio::test]
async fn user_create_on_sqlite() {
    user_create_makes_an_admin_who_can_sign_in(Backend::Sqlite).await;
}

#[tokio::test]
async fn user_create_on_postgres() {
    user_create_makes_an_admin_who_can_sign_in(Backend::Postgres).await;
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
