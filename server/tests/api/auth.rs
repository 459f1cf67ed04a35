//! Sign-up, sign-in, sign-out, sessions, rate limits and the audit trail.

use crate::helpers::{Backend, TestApp, json};
use app::domain::time::Clock as _;
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
    the_audit_log_is_append_only,
    parallel_guesses_are_counted_one_by_one,
    session_ids_are_stored_hashed,
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

/// Behind one trusted proxy, a client that writes addresses into `X-Forwarded-For` itself
/// changes nothing: the address counted is the one the proxy appended.
async fn a_spoofed_forwarded_for_does_not_escape_the_address_limit(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.trust_forwarded_for = true).await else {
        return;
    };
    let attempt = |n: u32| {
        app.client
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", format!("10.0.0.{n}, 203.0.113.50"))
            .json(&serde_json::json!({"email": format!("guess{n}@example.com"), "password": "wrong password!"}))
            .send()
    };
    for n in 0..3 {
        assert_eq!(attempt(n).await.unwrap().status(), 401);
    }
    assert_eq!(attempt(9).await.unwrap().status(), 429);
    // Another client behind the same proxy has its own budget.
    let other = app
        .client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "203.0.113.51")
        .json(&serde_json::json!({"email": "guess@example.com", "password": "wrong password!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
    app.cleanup().await;
}

/// Sixty wrong passwords at once for one account: each attempt is reserved before its
/// password is checked, so only the allowed number are checked, the rest are refused, and
/// the block is in the audit log once, not fifty-seven times.
async fn parallel_guesses_are_counted_one_by_one(app: &TestApp) {
    app.sign_up("target@example.com", PASSWORD).await;
    let guesses = (0..60).map(|i| {
        let client = app.other_client();
        let url = app.url("/api/auth/login");
        async move {
            client
                .post(url)
                .json(&serde_json::json!({"email": "target@example.com", "password": format!("guess number {i}")}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, refused), (3, 57), "{statuses:?}");
    let actions = app.audit_actions().await;
    let count = |action: &str| actions.iter().filter(|a| *a == action).count();
    assert_eq!(count("sign_in_failed"), 3);
    // The address is blocked first (and the account is not charged for it): one entry.
    assert_eq!(count("sign_in_blocked"), 1, "{actions:?}");
    // A correct password is refused too until the window ends, then accepted.
    assert_eq!(
        app.sign_in("target@example.com", PASSWORD).await.status(),
        429
    );
    app.clock.advance_minutes(15);
    assert_eq!(
        app.sign_in("target@example.com", PASSWORD).await.status(),
        200
    );
    // Successful sign-ins do not use up the allowance.
    for _ in 0..5 {
        assert_eq!(
            app.sign_in("target@example.com", PASSWORD).await.status(),
            200
        );
    }
}

/// The audit log keeps entries for the retention period: younger ones cannot be deleted
/// or changed by anyone; the clean-up deletes older ones.
async fn audit_entries_past_their_retention_are_pruned(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    app.sign_up("kept@example.com", PASSWORD).await;
    let now = jiff::Timestamp::now().as_millisecond();
    for (days, subject) in [(400, "old"), (300, "young")] {
        sqlx::query("INSERT INTO audit_log (at, action, subject) VALUES ($1, 'sign_in', $2)")
            .bind(now - days * 86_400_000)
            .bind(subject)
            .execute(app.db.pool())
            .await
            .unwrap();
    }
    let young = sqlx::query("DELETE FROM audit_log WHERE subject = 'young'")
        .execute(app.db.pool())
        .await;
    assert!(young.is_err(), "a 300-day-old entry is kept");
    let forged = sqlx::query("UPDATE audit_log SET subject = 'x' WHERE subject = 'old'")
        .execute(app.db.pool())
        .await;
    assert!(forged.is_err(), "no entry can be changed");
    app.restart().await; // the clean-up runs at start
    let subjects: Vec<Option<String>> =
        sqlx::query_scalar("SELECT subject FROM audit_log ORDER BY id")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    assert_eq!(
        subjects,
        [
            Some("kept@example.com".to_owned()),
            Some("young".to_owned())
        ]
    );
    app.cleanup().await;
}

/// Sign-ups are limited per address; the check comes before any hashing.
async fn sign_ups_are_limited_per_address(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.sign_ups_per_hour = 2).await else {
        return;
    };
    for n in 0..2 {
        let client = app.other_client();
        let created = client
            .post(app.url("/api/auth/signup"))
            .json(
                &serde_json::json!({"email": format!("new{n}@example.com"), "password": PASSWORD}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let third = app.sign_up("new2@example.com", PASSWORD).await;
    assert_eq!(third.status(), 429);
    assert_eq!(json(third).await["error"]["code"], "rate_limited");
    app.clock.advance_minutes(60);
    assert_eq!(
        app.sign_up("new2@example.com", PASSWORD).await.status(),
        201
    );
    app.cleanup().await;
}

/// The database keeps only the hash of a session id: the id in the cookie is not in it,
/// and a row's id used as a cookie opens nothing.
async fn session_ids_are_stored_hashed(app: &TestApp) {
    let response = app.sign_up("hashed@example.com", PASSWORD).await;
    let cookie = session_cookie(&response).expect("a session cookie");
    let id = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("qs_session=")
        .to_owned();
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT id, data FROM sessions")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let (stored, data) = &rows[0];
    assert_eq!(stored, &server::db::sessions::stored_id(&id));
    // The id in any form: the cookie's text, or the number it encodes.
    let number = id
        .parse::<tower_sessions::session::Id>()
        .unwrap()
        .0
        .to_string();
    let data = String::from_utf8_lossy(data);
    assert!(!stored.contains(&id) && !data.contains(&id), "{data}");
    assert!(!data.contains(&number), "the record keeps no id: {data}");
    // What the row holds, used as a cookie, opens nothing.
    let record: serde_json::Value = serde_json::from_str(&data).unwrap();
    let from_row = tower_sessions::session::Id(record["id"].as_i64().unwrap_or(0).into());
    let forged = app
        .other_client()
        .get(app.url("/api/auth/me"))
        .header("cookie", format!("qs_session={from_row}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(app.get("/api/auth/me").await.status(), 200);
}

/// `admin_email` (admin@example.com in tests) is no takeover: signing up with it gives a
/// subscriber, and start-up promotes it only once the address is verified.
async fn the_configured_admin_address_needs_verifying(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = json(app.sign_up("admin@example.com", PASSWORD).await).await;
    assert_eq!(body["user"]["role"], "subscriber");
    assert_eq!(app.get("/api/admin/users").await.status(), 403);

    app.restart().await;
    assert_eq!(
        json(app.get("/api/auth/me").await).await["user"]["role"],
        "subscriber",
        "an unverified address is not promoted at start-up"
    );

    sqlx::query("UPDATE users SET email_verified_at = $1 WHERE email = $2")
        .bind(app.clock.now().millis())
        .bind("admin@example.com")
        .execute(app.db.pool())
        .await
        .unwrap();
    app.restart().await;
    assert_eq!(
        json(app.get("/api/auth/me").await).await["user"]["role"],
        "admin"
    );
    assert_eq!(app.get("/api/admin/users").await.status(), 200);
    assert!(
        app.audit_actions()
            .await
            .contains(&"role_changed".to_string())
    );
    app.cleanup().await;
}

on_both_backends!(
    backend:
    sessions_survive_a_restart,
    a_spoofed_forwarded_for_does_not_escape_the_address_limit,
    audit_entries_past_their_retention_are_pruned,
    sign_ups_are_limited_per_address,
    the_configured_admin_address_needs_verifying,
);
