//! Settings: changing the password, ending the other sessions and the time zone, through
//! the server functions the settings page calls.

use crate::helpers::{PASSWORD, TestApp, json};
use serde_json::json;

async fn settings_change_the_password_and_end_other_sessions(app: &TestApp) {
    app.sign_up("settings@example.com", PASSWORD).await;
    let other = app.other_client();
    let signed_in = other
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "settings@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let call = |name: &str| app.client.post(app.url(&format!("/api/fn/{name}")));

    let profile = json(call("load_profile").send().await.unwrap()).await;
    assert_eq!(
        (
            profile["email"].as_str(),
            profile["other_sessions"].as_i64()
        ),
        (Some("settings@example.com"), Some(1))
    );

    let zone = call("set_timezone")
        .form(&[("timezone", "Mars/Base")])
        .send()
        .await
        .unwrap();
    assert_eq!(zone.status(), 422);
    assert!(json(zone).await["error"]["fields"]["timezone"].is_string());
    let zone = json(
        call("set_timezone")
            .form(&[("timezone", "Europe/London")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(zone["timezone"], "Europe/London");
    let me = json(app.get("/api/auth/me").await).await;
    assert_eq!(
        me["user"]["timezone"].as_str().or(me["timezone"].as_str()),
        Some("Europe/London"),
        "{me}"
    );

    let wrong = call("change_password")
        .form(&[
            ("current_password", "not it at all"),
            ("new_password", "a brand new secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert_eq!(
        json(wrong).await["error"]["fields"]["current_password"],
        "That is not your current password."
    );
    let short = call("change_password")
        .form(&[("current_password", PASSWORD), ("new_password", "short")])
        .send()
        .await
        .unwrap();
    assert!(json(short).await["error"]["fields"]["new_password"].is_string());

    let changed = call("change_password")
        .form(&[
            ("current_password", PASSWORD),
            ("new_password", "a brand new secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(json(changed).await["other_sessions"], 0);
    // The other browser was signed out; this one stays in; the new password works.
    let theirs = other.get(app.url("/api/dca/config")).send().await.unwrap();
    assert_eq!(theirs.status(), 401);
    assert_eq!(app.get("/api/dca/config").await.status(), 200);
    let fresh = app.other_client();
    let old = fresh
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "settings@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
    let new = fresh
        .post(app.url("/api/auth/login"))
        .json(&json!({"email": "settings@example.com", "password": "a brand new secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(new.status(), 200);

    let ended = json(call("sign_out_others").send().await.unwrap()).await;
    assert_eq!(ended["other_sessions"], 0);
    assert_eq!(
        fresh
            .get(app.url("/api/dca/config"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let actions = app.audit_actions().await;
    for action in [
        "timezone_changed",
        "password_changed",
        "other_sessions_ended",
    ] {
        assert!(
            actions.contains(&action.to_string()),
            "{action} in {actions:?}"
        );
    }

    let broker = json(call("load_broker_connection").send().await.unwrap()).await;
    assert_eq!(broker["kind"], "demo");
    let anonymous = app
        .other_client()
        .post(app.url("/api/fn/load_profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

on_both_backends!(demo_broker: settings_change_the_password_and_end_other_sessions);
