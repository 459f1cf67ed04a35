//! Two `quantshift` processes on one PostgreSQL database and one external simulated
//! broker; one of them is killed with SIGKILL again and again while plans run. Every leg
//! ends bought exactly once: nothing lost with the killed process, nothing bought twice
//! by the process that took its slots over.

use crate::helpers::{Backend, TestApp, json};
use app::domain::time::Timestamp;
use serde_json::{Value, json};
use sim::{SimConfig, Simulator};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";
const USERS: usize = 60;
/// Legs per plan (one plan per user, one "buy now" each).
const LEGS: [(&str, &str); 3] = [("SPY", "30.00"), ("QQQ", "20.00"), ("VTI", "10.00")];

/// One instance: two scheduler workers, slot budget 2 s
/// (so the lease of a killed process expires after 4 s).
fn instance(database_url: &str, broker_url: &str, data_dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_quantshift"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("QUANTSHIFT_LISTEN", "127.0.0.1:0")
        .env("QUANTSHIFT_DATA_DIR", data_dir)
        .env("QUANTSHIFT_DEMO_BROKER_URL", broker_url)
        .env("QUANTSHIFT_SCHEDULER_WORKERS", "2")
        .env("QUANTSHIFT_SCHEDULER_POLL_MS", "20")
        .env("QUANTSHIFT_SCHEDULER_SLOT_BUDGET_MS", "2000")
        .env("QUANTSHIFT_BROKER_TIMEOUT_MS", "500")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the quantshift binary starts")
}

/// Slots of the given process that are running right now.
async fn running_in(app: &TestApp, pid: u32) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM slots WHERE state = 'running' AND lease_owner LIKE $1")
        .bind(format!("worker-{pid}-%"))
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

async fn unfinished(app: &TestApp) -> i64 {
    let slots: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM slots WHERE state IN ('due', 'running')")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM purchases WHERE status IN ('pending', 'accepted', 'unknown')",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    slots + open
}

#[tokio::test]
async fn one_instance_killed_again_and_again_buys_every_leg_once() {
    // The simulator both instances share: open market, every request 150 ms slow so
    // kills land while orders are on the wire.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broker_url = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::new(SimConfig {
        auto_accounts: true,
        rate_limit_per_min: 100_000,
        seed: 11,
        start_time: Some("2026-11-30T15:00:00Z".parse().unwrap()),
        speed: 0.0,
        allow_control_api: true,
        state_file: None,
    });
    tokio::spawn(sim::serve(listener, sim, std::future::pending()));

    let url = broker_url.clone();
    let Some(app) = TestApp::spawn_with(Backend::Postgres, move |c| {
        c.demo_broker = true;
        c.demo_broker_url = Some(url);
        c.scheduler_workers = 0;
    })
    .await
    else {
        return;
    };
    // The instances run on the real clock; so does the "buy now" that queues the slots.
    app.clock.set(Timestamp::from_millis(
        jiff::Timestamp::now().as_millisecond(),
    ));
    let legs: Vec<Value> = LEGS
        .iter()
        .map(|(symbol, amount)| json!({"symbol": symbol, "amount": amount}))
        .collect();
    for i in 0..USERS {
        let client = app.other_client();
        let signed = client
            .post(app.url("/api/auth/signup"))
            .json(&json!({"email": format!("chaos{i}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert!(signed.status().is_success());
        let plan = json!({"name": "chaos", "legs": legs,
            "schedule": {"frequency": "monthly", "interval": 1, "weekday": null, "day_of_month": 1,
                         "time": "10:00", "timezone": "America/New_York"}});
        let created = client
            .post(app.url("/api/dca/config"))
            .json(&plan)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let id = json(created).await["id"].as_str().unwrap().to_owned();
        let pressed = client
            .post(app.url("/api/dca/run-now"))
            .header("idempotency-key", "chaos")
            .json(&json!({"plan_id": id}))
            .send()
            .await
            .unwrap();
        assert_eq!(pressed.status(), 202);
    }
    reqwest::Client::new()
        .post(format!("{broker_url}/sim/v1/faults"))
        .json(&json!({"latency_ms": 150}))
        .send()
        .await
        .unwrap();

    let database_url = app.config.database_url.clone().unwrap();
    let dirs: Vec<_> = (0..2)
        .map(|i| {
            std::env::temp_dir().join(format!("qs-chaos-{}-{i}", uuid::Uuid::new_v4().simple()))
        })
        .collect();
    let mut steady = instance(&database_url, &broker_url, &dirs[0]);
    // The other instance is killed six times while it holds slots, at varying points of
    // their work (fewer kills than a slot's attempts, so no slot can be given up for
    // them), then the pair finishes the rest.
    let mut killed_mid_slot = 0;
    for kill in 0..6u64 {
        let mut victim = instance(&database_url, &broker_url, &dirs[1]);
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        while running_in(&app, victim.id()).await == 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(kill * 40)).await;
        if running_in(&app, victim.id()).await > 0 {
            killed_mid_slot += 1;
        }
        victim.kill().unwrap(); // SIGKILL
        victim.wait().unwrap();
    }
    let mut survivor = instance(&database_url, &broker_url, &dirs[1]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while unfinished(&app).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slots never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    survivor.kill().unwrap();
    survivor.wait().unwrap();
    steady.kill().unwrap();
    steady.wait().unwrap();
    for dir in &dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(
        killed_mid_slot >= 3,
        "kills hit slots in flight: {killed_mid_slot} of 6"
    );

    // Every leg bought once: one purchase per leg, filled, and at the broker one order
    // per purchase, no other.
    let purchases: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT user_id, symbol, status, client_order_id, reason FROM purchases ORDER BY user_id, symbol",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(purchases.len(), USERS * LEGS.len());
    let mut by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (user_id, symbol, status, client_order_id, reason) in &purchases {
        assert_eq!(status, "filled", "{symbol} of {user_id}: {reason:?}");
        by_user
            .entry(user_id.clone())
            .or_default()
            .push(client_order_id.clone());
    }
    let client = reqwest::Client::new();
    for (user_id, expected) in by_user {
        let orders: Vec<Value> = client
            .get(format!("{broker_url}/v2/orders?status=all&limit=500"))
            .header(
                "apca-api-key-id",
                format!("QSDEMO{}", user_id.replace('-', "").to_uppercase()),
            )
            .header("apca-api-secret-key", format!("demo-{user_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut placed: Vec<String> = orders
            .iter()
            .map(|o| o["client_order_id"].as_str().unwrap().to_owned())
            .collect();
        placed.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(placed, expected, "the orders of {user_id}");
    }
    app.cleanup().await;
}
