//! What the subscriber pages use beyond the plan API: one plan, deleting a plan, the plan
//! limits, history filters, historical bars, settings (password, sessions, time zone) and
//! the broker connection's server functions; and the demo market's clock.

use crate::helpers::{Backend, TestApp, json};
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";
const MARKET_OPEN: &str = "2026-11-30T15:00:00Z";

fn plan(symbols: &[(&str, &str)]) -> Value {
    json!({
        "name": "Core",
        "legs": symbols.iter().map(|(s, a)| json!({"symbol": s, "amount": a})).collect::<Vec<_>>(),
        "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                     "time": "10:00", "timezone": "America/New_York"}
    })
}

async fn create(app: &TestApp, body: Value) -> String {
    let response = app.post_json("/api/dca/config", body).await;
    assert_eq!(response.status(), 201);
    json(response).await["id"].as_str().unwrap().to_owned()
}

async fn history(app: &TestApp, query: &str) -> Vec<Value> {
    json(app.get(&format!("/api/dca/history{query}")).await).await["purchases"]
        .as_array()
        .unwrap()
        .clone()
}

async fn settled(app: &TestApp, n: usize) {
    for _ in 0..300 {
        let done = history(app, "")
            .await
            .iter()
            .filter(|p| p["status"] == "filled")
            .count();
        if done >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("purchases did not fill: {:?}", history(app, "").await);
}

async fn a_plan_is_read_deleted_and_its_history_kept(app: &TestApp) {
    app.sign_up("delete@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let id = create(app, plan(&[("SPY", "50.00"), ("QQQ", "25.00")])).await;
    let one = app.get(&format!("/api/dca/config/{id}")).await;
    assert_eq!(one.status(), 200);
    assert_eq!(json(one).await["name"], "Core");

    let run = app
        .client
        .post(app.url("/api/dca/run-now"))
        .header("idempotency-key", "delete-1")
        .json(&json!({"plan_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 202);
    settled(app, 2).await;
    assert_eq!(
        history(app, "?symbol=qqq").await.len(),
        1,
        "filtered by symbol"
    );
    assert_eq!(
        history(app, &format!("?plan_id={id}&symbol=SPY"))
            .await
            .len(),
        1
    );
    assert_eq!(history(app, "?symbol=VTI").await.len(), 0);
    let csv = app
        .get("/api/dca/history.csv?symbol=SPY")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.lines().count(),
        2,
        "header and the one SPY purchase: {csv}"
    );

    // Another user can neither read nor delete it.
    let other = app.other_client();
    other
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "delete-other@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    for response in [
        other
            .get(app.url(&format!("/api/dca/config/{id}")))
            .send()
            .await
            .unwrap(),
        other
            .delete(app.url(&format!("/api/dca/config/{id}")))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 404);
    }

    let deleted = app
        .client
        .delete(app.url(&format!("/api/dca/config/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let plans = json(app.get("/api/dca/config").await).await;
    assert_eq!(plans["plans"], json!([]));
    assert_eq!(
        app.get(&format!("/api/dca/config/{id}")).await.status(),
        404
    );
    let again = app
        .client
        .delete(app.url(&format!("/api/dca/config/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(
        history(app, "").await.len(),
        2,
        "the purchases stay in the history"
    );
    // A deleted plan cannot buy.
    let run = app
        .client
        .post(app.url("/api/dca/run-now"))
        .header("idempotency-key", "delete-2")
        .json(&json!({"plan_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 404);
    assert!(
        app.audit_actions()
            .await
            .contains(&"plan_deleted".to_string())
    );

    let limits = json(app.get("/api/dca/limits").await).await;
    assert_eq!(
        (
            limits["min_per_slot"].as_str(),
            limits["max_per_slot"].as_str()
        ),
        (Some("1"), Some("10000"))
    );
}

async fn bars_come_from_the_broker_and_bad_queries_are_named(app: &TestApp) {
    let anonymous = app
        .get("/api/bars?symbol=SPY&from=2024-01-02&to=2024-01-31")
        .await;
    assert_eq!(anonymous.status(), 401);
    app.sign_up("bars@example.com", PASSWORD).await;
    let response = app
        .get("/api/bars?symbol=SPY&from=2024-01-02&to=2024-01-31&timeframe=1Day")
        .await;
    assert_eq!(response.status(), 200);
    let bars = json(response).await;
    let bars = bars.as_array().unwrap();
    // January 2024 had 21 sessions from the 2nd (the 15th was a holiday).
    assert_eq!(bars.len(), 21, "{bars:?}");
    assert!(bars[0]["close"].is_string(), "prices are decimal strings");
    let times: Vec<&str> = bars.iter().map(|b| b["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "oldest first");

    let hourly = app
        .get("/api/bars?symbol=SPY&from=2024-01-02&to=2024-01-03&timeframe=1Hour")
        .await;
    assert_eq!(hourly.status(), 200);
    let hourly = json(hourly).await;
    let hours: Vec<&str> = hourly
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["time"].as_str().unwrap())
        .collect();
    // Two sessions of regular hours (09:30–16:00 New York, 14:30–21:00 UTC in January);
    // a bar is labelled with the start of its hour, so 14:00 (14:30–15:00) to 20:00 UTC.
    assert_eq!(hours.len(), 14, "{hours:?}");
    assert!(hours.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert!(
        hours.iter().all(|t| {
            let hour = &t[11..13];
            (t.starts_with("2024-01-02") || t.starts_with("2024-01-03"))
                && ("14"..="20").contains(&hour)
        }),
        "only market hours: {hours:?}"
    );

    let bad = app
        .get("/api/bars?symbol=SPY&from=2024-02-01&to=2024-01-01")
        .await;
    assert_eq!(bad.status(), 422);
    let body = json(bad).await;
    assert!(
        body["error"]["fields"]["to"]
            .as_str()
            .unwrap()
            .contains("before the start"),
        "{body}"
    );
    let unknown = app
        .get("/api/bars?symbol=SPY&from=2024-01-02&to=2024-01-31&timeframe=5Min")
        .await;
    assert_eq!(unknown.status(), 422);
}

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

    let broker = json(call("broker_connection").send().await.unwrap()).await;
    assert_eq!(broker["kind"], "demo");
    let anonymous = app
        .other_client()
        .post(app.url("/api/fn/load_profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

on_both_backends!(
    demo_broker:
    a_plan_is_read_deleted_and_its_history_kept,
    bars_come_from_the_broker_and_bad_queries_are_named,
    settings_change_the_password_and_end_other_sessions,
);

/// With `demo_start_time`, the server runs on the demo market's clock.
#[tokio::test]
async fn the_server_can_run_on_the_demo_markets_clock() {
    let Some((mut config, data_dir, _)) = TestApp::config(Backend::Sqlite).await else {
        return;
    };
    config.demo_broker = true;
    config.demo_start_time = Some("2027-03-01T15:00:00Z".into());
    let app = server::startup::Application::build(&config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    client
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({"email": "clock@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let created = client
        .post(format!("{base}/api/dca/config"))
        .json(&plan(&[("SPY", "10.00")]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // Monday 1 March 2027, 10:00:00 New York and a moment: the next Monday is the 8th.
    assert_eq!(json(created).await["next_run_at"], "2027-03-08T15:00:00Z");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(data_dir);
}
