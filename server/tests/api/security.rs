//! Access control and cross-site protection, on REST routes and server functions alike.

use crate::helpers::{TestApp, json};
use app::domain::account::{Email, Role};
use app::domain::time::Clock as _;
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

async fn admin_routes_refuse_visitors_and_subscribers(app: &TestApp) {
    let anonymous = app.get("/api/admin/users").await;
    assert_eq!(anonymous.status(), 401);
    assert_eq!(json(anonymous).await["error"]["code"], "unauthenticated");

    app.sign_up("sub@example.com", PASSWORD).await;
    let subscriber = app.get("/api/admin/users").await;
    assert_eq!(subscriber.status(), 403);
    assert_eq!(json(subscriber).await["error"]["code"], "forbidden");

    // The server function behind the admin page checks the role too, with the right status.
    let server_fn = app
        .client
        .post(app.url("/api/fn/load_admin_users"))
        .json(&json!({"query": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(server_fn.status(), 403);
    assert_eq!(json(server_fn).await["error"]["code"], "forbidden");

    app.clock.advance_minutes(1);
    let admin = app.other_client();
    let signed_up = admin
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "admin@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 201);
    // Admins are made by an operator (`quantshift user promote`), never by signing up.
    app.db
        .set_user_role(
            &Email::parse("admin@example.com").unwrap(),
            Role::Admin,
            app.clock.now(),
        )
        .await
        .unwrap();
    let listed = admin.get(app.url("/api/admin/users")).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    let emails: Vec<String> = json(listed).await["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    // Newest sign-up first.
    assert_eq!(emails, ["admin@example.com", "sub@example.com"]);
}

async fn cross_site_requests_are_refused(app: &TestApp) {
    let body = json!({"email": "x@example.com", "password": PASSWORD});
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let rest = app
            .client
            .post(app.url("/api/auth/signup"))
            .header(header, value)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(rest.status(), 403, "{header}: {value}");
        assert_eq!(json(rest).await["error"]["code"], "cross_site_request");

        let server_fn = app
            .client
            .post(app.url("/api/fn/sign_up"))
            .header(header, value)
            .form(&[("email", "y@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(server_fn.status(), 403, "{header}: {value}");
    }
    assert!(
        app.db.list_users().await.unwrap().is_empty(),
        "nothing may be created"
    );

    // The same request from the app's own origin goes through.
    let same_origin = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("origin", app.base.as_str())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), 201);
}

async fn rest_routes_require_json(app: &TestApp) {
    let form = app
        .client
        .post(app.url("/api/auth/login"))
        .form(&[("email", "a@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    assert_eq!(json(form).await["error"]["code"], "unsupported_media_type");
    let bad_json = app
        .client
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    assert_eq!(json(bad_json).await["error"]["code"], "bad_request");
}

async fn server_functions_sign_in_through_forms(app: &TestApp) {
    let signed_up = app
        .client
        .post(app.url("/api/fn/sign_up"))
        .form(&[("email", "form@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 200);
    assert_eq!(json(signed_up).await["email"], "form@example.com");
    let me = app
        .client
        .post(app.url("/api/fn/load_current_user"))
        .send()
        .await
        .unwrap();
    assert_eq!(json(me).await["email"], "form@example.com");

    let invalid = app
        .other_client()
        .post(app.url("/api/fn/sign_up"))
        .form(&[("email", "nope"), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let body = json(invalid).await;
    assert_eq!(body["error"]["code"], "validation_failed");
    assert!(body["error"]["fields"]["password"].is_string());
}

on_both_backends!(
    admin_routes_refuse_visitors_and_subscribers,
    cross_site_requests_are_refused,
    rest_routes_require_json,
    server_functions_sign_in_through_forms,
);

/// Moving the demo market's clock (weekend demos, the end-to-end tests) never ends anyone's
/// session: expiry is wall-clock time. A session past that expiry is deleted by the
/// clean-up pass that runs at start-up (and hourly).
async fn moving_the_demo_clock_keeps_sessions(backend: crate::helpers::Backend) {
    let Some(mut app) = TestApp::spawn_with(backend, |c| c.demo_broker = true).await else {
        return;
    };
    app.sign_up("clock@example.com", PASSWORD).await;
    app.clock.advance_minutes(60 * 24 * 60);
    app.restart().await;
    assert_eq!(app.get("/api/auth/me").await.status(), 200);
    sqlx::query("UPDATE sessions SET expires_at = 0")
        .execute(app.db.pool())
        .await
        .unwrap();
    app.restart().await;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    app.cleanup().await;
}

/// The data directory the server creates, and every file in it (the SQLite database and
/// its journals, the key that seals broker keys, the demo market), are its user's alone.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| c.demo_broker = true)
        .await
        .unwrap();
    app.sign_up("private@example.com", PASSWORD).await;
    let _ = app.get("/api/account").await; // the demo market writes its state
    let dir = app.config.data_dir.clone();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert!(
        files.iter().any(|p| p.to_string_lossy().ends_with("-wal")),
        "{files:?}"
    );
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    app.cleanup().await;
}

on_both_backends!(
    backend:
    moving_the_demo_clock_keeps_sessions,
);
