//! The plan API: create, list, update, start/pause/stop, validation with nothing saved on
//! bad input, and tenant isolation. The apps run the demo broker, whose asset list the
//! symbols are checked against.

use crate::helpers::{Backend, TestApp, json};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn plan() -> Value {
    json!({
        "name": "Core ETFs",
        "mode": "pure",
        "legs": [{"symbol": "SPY", "amount": "50.00"}, {"symbol": "QQQ", "amount": "25.00"}],
        "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon", "day_of_month": null,
                     "time": "10:00", "timezone": "America/New_York"},
        "smart": null
    })
}

async fn plans(app: &TestApp) -> Vec<Value> {
    json(app.get("/api/dca/config").await).await["plans"]
        .as_array()
        .unwrap()
        .clone()
}

async fn a_plan_is_created_listed_changed_and_stopped(app: &TestApp) {
    app.sign_up("dca@example.com", PASSWORD).await;
    let created = app.post_json("/api/dca/config", plan()).await;
    assert_eq!(created.status(), 201);
    let created = json(created).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "active");
    assert_eq!(
        created["legs"][0]["amount"], "50.00",
        "amounts stay decimal strings"
    );
    // The test clock reads Saturday 2026-11-28 00:00 UTC: the next Monday 10:00 New York.
    assert_eq!(created["next_run_at"], "2026-11-30T15:00:00Z");
    assert_eq!(plans(app).await.len(), 1);

    let mut changed = created.clone();
    changed["name"] = json!("  Core ETFs, renamed  ");
    changed["legs"][1]["amount"] = json!("30.00");
    let updated = app.post_json("/api/dca/config", changed).await;
    assert_eq!(updated.status(), 200);
    let updated = json(updated).await;
    assert_eq!(
        (updated["id"].as_str(), updated["name"].as_str()),
        (Some(id.as_str()), Some("Core ETFs, renamed"))
    );
    assert_eq!(plans(app).await[0]["legs"][1]["amount"], "30.00");

    let paused = json(
        app.post_json("/api/dca/pause", json!({"plan_id": id}))
            .await,
    )
    .await;
    assert_eq!(
        (paused["status"].as_str(), paused["next_run_at"].is_null()),
        (Some("paused"), true)
    );
    let started = json(
        app.post_json("/api/dca/start", json!({"plan_id": id}))
            .await,
    )
    .await;
    assert_eq!(started["status"], "active");
    assert_eq!(started["next_run_at"], "2026-11-30T15:00:00Z");
    let stopped = json(app.post_json("/api/dca/stop", json!({"plan_id": id})).await).await;
    assert_eq!(stopped["status"], "stopped");

    let restart = app
        .post_json("/api/dca/start", json!({"plan_id": id}))
        .await;
    assert_eq!(restart.status(), 409);
    assert_eq!(json(restart).await["error"]["code"], "conflict");
    let actions = app.audit_actions().await;
    for action in [
        "plan_created",
        "plan_changed",
        "plan_paused",
        "plan_started",
        "plan_stopped",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing from {actions:?}"
        );
    }
}

/// Posts `plan` with one change and expects a 422 naming `field`, and nothing saved.
async fn rejects(app: &TestApp, change: impl Fn(&mut Value), field: &str) {
    let mut body = plan();
    change(&mut body);
    let response = app.post_json("/api/dca/config", body.clone()).await;
    assert_eq!(response.status(), 422, "{body}");
    let error = json(response).await;
    assert_eq!(error["error"]["code"], "validation_failed");
    assert!(
        error["error"]["fields"][field].is_string(),
        "expected {field} in {error} for {body}"
    );
    assert!(plans(app).await.is_empty(), "nothing may be saved");
}

async fn every_rule_rejects_bad_plans_and_saves_nothing(app: &TestApp) {
    app.sign_up("rules@example.com", PASSWORD).await;
    rejects(app, |p| p["name"] = json!("  "), "name").await;
    rejects(app, |p| p["legs"] = json!([]), "legs").await;
    rejects(
        app,
        |p| p["legs"][1]["symbol"] = json!("SPY"),
        "legs[1].symbol",
    )
    .await;
    rejects(
        app,
        |p| p["legs"][0]["amount"] = json!("0.50"),
        "legs[0].amount",
    )
    .await;
    rejects(
        app,
        |p| p["legs"][0]["amount"] = json!("10.005"),
        "legs[0].amount",
    )
    .await;
    rejects(app, |p| p["legs"][0]["amount"] = json!("9990.00"), "legs").await;
    rejects(
        app,
        |p| p["legs"][0]["symbol"] = json!("ZZZZ"),
        "legs[0].symbol",
    )
    .await;
    rejects(
        app,
        |p| p["legs"][0]["symbol"] = json!("SCHB"),
        "legs[0].symbol",
    )
    .await;
    rejects(
        app,
        |p| p["schedule"]["weekday"] = Value::Null,
        "schedule.weekday",
    )
    .await;
    rejects(
        app,
        |p| p["schedule"]["timezone"] = json!("Mars/Olympus"),
        "schedule.timezone",
    )
    .await;
    rejects(
        app,
        |p| p["schedule"]["time"] = json!("25:00"),
        "schedule.time",
    )
    .await;
    rejects(
        app,
        |p| p["schedule"]["time"] = json!("08:00"),
        "schedule.time",
    )
    .await;
    rejects(
        app,
        |p| {
            p["schedule"] = json!({"frequency": "monthly", "interval": 1, "weekday": null, "day_of_month": 31,
                                   "time": "10:00", "timezone": "America/New_York"})
        },
        "schedule.day_of_month",
    )
    .await;
    rejects(app, |p| p["mode"] = json!("smart"), "smart").await;
    rejects(
        app,
        |p| p["schedule"]["timezone"] = json!("Asia/Tokyo"),
        "schedule.time",
    )
    .await;

    // A JSON number is not money: amounts must be decimal strings.
    let mut body = plan();
    body["legs"][0]["amount"] = json!(50.0);
    let response = app.post_json("/api/dca/config", body).await;
    assert_eq!(response.status(), 400);
    assert!(plans(app).await.is_empty());

    // Outside market hours is fine when the user asks for purchases to queue for the open.
    let mut early = plan();
    early["schedule"]["time"] = json!("08:00");
    early["queue_outside_hours"] = json!(true);
    let queued = app.post_json("/api/dca/config", early).await;
    assert_eq!(queued.status(), 201);
    assert_eq!(json(queued).await["queue_outside_hours"], true);
}

async fn users_cannot_touch_each_others_plans(app: &TestApp) {
    app.sign_up("alice@example.com", PASSWORD).await;
    let alice_plan = json(app.post_json("/api/dca/config", plan()).await).await;
    let id = alice_plan["id"].as_str().unwrap();

    let bob = app.other_client();
    let signup = bob
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "bob@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let listed = json(bob.get(app.url("/api/dca/config")).send().await.unwrap()).await;
    assert_eq!(listed["plans"], json!([]));
    let mut takeover = alice_plan.clone();
    takeover["name"] = json!("mine now");
    let update = bob
        .post(app.url("/api/dca/config"))
        .json(&takeover)
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 404);
    for action in ["start", "pause", "stop"] {
        let response = bob
            .post(app.url(&format!("/api/dca/{action}")))
            .json(&json!({"plan_id": id}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{action}");
    }
    assert_eq!(
        plans(app).await[0]["name"],
        "Core ETFs",
        "Alice's plan is untouched"
    );

    let anonymous = app
        .other_client()
        .get(app.url("/api/dca/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // A malformed plan id: 401 without a session, whatever the input (REST and server
    // functions alike); 422 naming `plan_id` for a signed-in caller.
    let stranger = app.other_client();
    for (path, body) in [
        ("/api/dca/start", Some(json!({"plan_id": "not-an-id"}))),
        ("/api/dca/config/not-an-id", None),
    ] {
        let request = match &body {
            Some(body) => stranger.post(app.url(path)).json(body),
            None => stranger.get(app.url(path)),
        };
        assert_eq!(request.send().await.unwrap().status(), 401, "{path}");
    }
    let function = stranger
        .post(app.url("/api/fn/load_plan"))
        .form(&[("plan_id", "not-an-id")])
        .send()
        .await
        .unwrap();
    assert_eq!(function.status(), 401);
    let malformed = bob
        .post(app.url("/api/dca/start"))
        .json(&json!({"plan_id": "not-an-id"}))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 422);
    assert!(json(malformed).await["error"]["fields"]["plan_id"].is_string());
}

on_both_backends!(
    demo_broker:
    a_plan_is_created_listed_changed_and_stopped,
    every_rule_rejects_bad_plans_and_saves_nothing,
    users_cannot_touch_each_others_plans,
);

#[tokio::test]
async fn without_a_broker_plans_cannot_be_created() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.sign_up("nobroker@example.com", PASSWORD).await;
    let response = app.post_json("/api/dca/config", plan()).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        json(response).await["error"]["code"],
        "broker_not_connected"
    );
    app.cleanup().await;
}
