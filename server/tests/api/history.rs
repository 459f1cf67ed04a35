//! One plan read back, deleted, and its purchases kept in the history (with the history's
//! filters and the plan limits); and the server on the demo market's clock.

use crate::helpers::{Backend, PASSWORD, TestApp, json};
use serde_json::{Value, json};
use std::time::Duration;

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

on_both_backends!(demo_broker: a_plan_is_read_deleted_and_its_history_kept);

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
