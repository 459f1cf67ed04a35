//! Sign-up, sign-in, sign-out, sessions, rate limits and the audit trail.

use crate::helpers::{Backend, TestApp, json};
use serde_json::json;

const PASSWORD: &str = "correct horse battery";

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("qs_session="))
        .map(str::to_owned)
}

async fn sign_up_creates_a_subscriber_and_signs_them_in(app: &TestApp) {
    let response = app.sign_up("Ada@Example.com", PASSWORD).await;
    assert_eq!(response.status(), 201);
    let cookie = session_cookie(&response).expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    let body = json(response).await;
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["role"], "subscriber");
    assert!(body["user"]["id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(body["user"].get("password_hash").is_none());

    let me = app.get("/api/auth/me").await;
    assert_eq!(me.status(), 200);
    assert_eq!(json(me).await["user"]["email"], "ada@example.com");
    assert_eq!(app.audit_actions().await, ["sign_up"]);
}

async fn sign_up_rejects_bad_input_and_saves_nothing(app: &TestApp) {
    let response = app.sign_up("not-an-email", "short").await;
    assert_eq!(response.status(), 422);
    let body = json(response).await;
    assert_eq!(body["error"]["code"], "validation_failed");
    assert!(
        body["error"]["fields"]["email"]
            .as_str()
            .unwrap()
            .contains("e-mail")
    );
    assert!(
        body["error"]["fields"]["password"]
            .as_str()
            .unwrap()
            .contains("at least 10")
    );

    let missing = app
        .post_json("/api/auth/signup", json!({"email": "a@b.co"}))
        .await;
    assert_eq!(missing.status(), 400);
    assert_eq!(json(missing).await["error"]["code"], "bad_request");

    assert!(app.db.list_users().await.unwrap().is_empty());
    assert_eq!(app.get("/api/auth/me").await.status(), 401);
}

async fn duplicate_email_is_refused_whatever_its_case(app: &TestApp) {
    assert_eq!(app.sign_up("dup@example.com", PASSWORD).await.status(), 201);
    let again = app
        .other_client()
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": " DUP@example.com ", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let body = json(again).await;
    assert_eq!(body["error"]["code"], "email_taken");
    assert!(body["error"]["fields"]["email"].is_string());
    assert_eq!(app.db.list_users().await.unwrap().len(), 1);
}

async fn sign_in_succeeds_with_the_right_password_only(app: &TestApp) {
    assert_eq!(app.sign_up("bob@example.com", PASSWORD).await.status(), 201);
    assert_eq!(app.sign_out().await.status(), 204);

    let wrong = app.sign_in("bob@example.com", "not the password").await;
    assert_eq!(wrong.status(), 401);
    let body = json(wrong).await;
    assert_eq!(body["error"]["code"], "invalid_credentials");
    // An unknown address gets the very same answer: no account enumeration.
    let unknown = app.sign_in("nobody@example.com", "not the password").await;
    assert_eq!(json(unknown).await, body);
    assert_eq!(app.get("/api/auth/me").await.status(), 401);

    let right = app.sign_in("BOB@example.com", PASSWORD).await;
    assert_eq!(right.status(), 200);
    assert_eq!(json(right).await["user"]["email"], "bob@example.com");
    assert_eq!(app.get("/api/auth/me").await.status(), 200);
    assert_eq!(
        app.audit_actions().await,
        [
            "sign_up",
            "sign_out",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in"
        ]
    );
}

async fn sign_in_rotates_the_session_id(app: &TestApp) {
    let first = session_cookie(&app.sign_up("rot@example.com", PASSWORD).await).unwrap();
    let second = session_cookie(&app.sign_in("rot@example.com", PASSWORD).await).unwrap();
    let id = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(id(&first), id(&second));
}

async fn sign_out_ends_the_session(app: &TestApp) {
    app.sign_up("out@example.com", PASSWORD).await;
    assert_eq!(app.get("/api/auth/me").await.status(), 200);
    assert_eq!(app.sign_out().await.status(), 204);
    let me = app.get("/api/auth/me").await;
    assert_eq!(me.status(), 401);
    assert_eq!(json(me).await["error"]["code"], "unauthenticated");
    // Signing out twice is harmless.
    assert_eq!(app.sign_out().await.status(), 204);
    assert_eq!(app.audit_actions().await, ["sign_up", "sign_out"]);
}

async fn failed_sign_ins_are_limited_per_account(app: &TestApp) {
    // The test server allows 3 failures per 15 minutes.
    app.sign_up("target@example.com", PASSWORD).await;
    app.sign_out().await;
    for _ in 0..3 {
        assert_eq!(
            app.sign_in("target@example.com", "wrong password!")
                .await
                .status(),
            401
        );
    }
    let blocked = app.sign_in("target@example.com", PASSWORD).await;
    assert_eq!(blocked.status(), 429);
    let body = json(blocked).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("15 minutes")
    );
    assert_eq!(app.get("/api/auth/me").await.status(), 401);
    assert!(
        app.audit_actions()
            .await
            .contains(&"sign_in_blocked".to_string())
    );

    app.clock.advance_minutes(16);
    assert_eq!(
        app.sign_in("target@example.com", PASSWORD).await.status(),
        200
    );
}

async fn failed_sign_ins_are_limited_per_address(app: &TestApp) {
    for n in 0..3 {
        let status = app
            .sign_in(&format!("guess{n}@example.com"), "wrong password!")
            .await
            .status();
        assert_eq!(status, 401);
    }
    assert_eq!(
        app.sign_in("guess9@example.com", "wrong password!")
            .await
            .status(),
        429
    );
}

async fn the_configured_admin_signs_up_as_admin(app: &TestApp) {
    let body = json(app.sign_up("admin@example.com", PASSWORD).await).await;
    assert_eq!(body["user"]["role"], "admin");
}

async fn the_audit_log_is_append_only(app: &TestApp) {
    app.sign_up("audit@example.com", PASSWORD).await;
    let update = sqlx::query("UPDATE audit_log SET action = 'forged'")
        .execute(app.db.pool())
        .await;
    assert!(update.is_err(), "UPDATE on audit_log must fail");
    let delete = sqlx::query("DELETE FROM audit_log")
        .execute(app.db.pool())
        .await;
    assert!(delete.is_err(), "DELETE on audit_log must fail");
    assert_eq!(app.audit_actions().await, ["sign_up"]);
}

on_both_backends!(
    sign_up_creates_a_subscriber_and_signs_them_in,
    sign_up_rejects_bad_input_and_saves_nothing,
    duplicate_email_is_refused_whatever_its_case,
    sign_in_succeeds_with_the_right_password_only,
    sign_in_rotates_the_session_id,
    sign_out_ends_the_session,
    failed_sign_ins_are_limited_per_account,
    failed_sign_ins_are_limited_per_address,
    the_configured_admin_signs_up_as_admin,
    the_audit_log_is_append_only,
);

async fn sessions_survive_a_restart(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    app.sign_up("stay@example.com", PASSWORD).await;
    app.restart().await;
    let me = app.get("/api/auth/me").await;
    assert_eq!(
        me.status(),
        200,
        "the session must be read back from the database"
    );
    assert_eq!(json(me).await["user"]["email"], "stay@example.com");
    app.cleanup().await;
}

#[tokio::test]
async fn sessions_survive_a_restart_on_sqlite() {
    sessions_survive_a_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn sessions_survive_a_restart_on_postgres() {
    sessions_survive_a_restart(Backend::Postgres).await;
}
