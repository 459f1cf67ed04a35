//! Users' own Alpaca keys: checked against the account endpoint, sealed at rest, never
//! shown again, used for trading, live keys locked until 30 days of paper trading, and
//! removable. "Alpaca" is a simulator started by the test.

use crate::helpers::{Backend, TestApp, json, mark_verified};
use serde_json::json;
use sim::{SimConfig, Simulator};
use std::sync::Arc;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";

async fn alpaca() -> (Arc<Simulator>, String) {
    let sim = Simulator::new(SimConfig {
        start_time: Some("2026-11-30T15:00:00Z".parse().unwrap()),
        allow_control_api: true,
        ..SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim::serve(listener, sim.clone(), std::future::pending()));
    (sim, url)
}

/// An app whose users' own Alpaca keys (paper and live) trade at the simulator at `url`.
async fn app_with_alpaca(backend: Backend, url: &str, scheduler_workers: u32) -> Option<TestApp> {
    let url = url.to_owned();
    TestApp::spawn_with(backend, move |c| {
        c.demo_broker = true;
        c.scheduler_workers = scheduler_workers;
        c.alpaca_paper_url = url.clone();
        c.alpaca_live_url = url.clone();
        c.alpaca_data_url = url;
    })
    .await
}

async fn own_keys_are_checked_sealed_used_and_removable(backend: Backend) {
    let (sim, url) = alpaca().await;
    let Some(app) = app_with_alpaca(backend, &url, 2).await else {
        return;
    };
    app.sign_up("keys@example.com", PASSWORD).await;
    assert_eq!(
        json(app.get("/api/broker/connection").await).await["kind"],
        "demo"
    );

    let bad_shape = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "paper", "key_id": "x", "secret": "y"}),
        )
        .await;
    assert_eq!(bad_shape.status(), 422);
    assert!(json(bad_shape).await["error"]["fields"]["key_id"].is_string());
    let unknown = app
        .post_json("/api/broker/connection", json!({"environment": "paper", "key_id": "PKNOTREAL123", "secret": "not-a-real-secret"}))
        .await;
    assert_eq!(unknown.status(), 422);
    assert!(
        json(unknown).await["error"]["fields"]["secret"]
            .as_str()
            .unwrap()
            .contains("did not accept")
    );

    let (key_id, secret) = sim.create_account();
    let connected = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "paper", "key_id": key_id, "secret": secret}),
        )
        .await;
    assert_eq!(connected.status(), 200);
    let text = connected.text().await.unwrap();
    assert!(
        !text.contains(&secret) && !text.contains(&key_id),
        "keys never go back to the browser: {text}"
    );
    let view: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (view["kind"].as_str(), view["environment"].as_str()),
        (Some("alpaca"), Some("paper"))
    );
    assert_eq!(
        view["key_last4"].as_str().unwrap(),
        &key_id[key_id.len() - 4..]
    );

    let (sealed_key, sealed_secret): (String, String) =
        sqlx::query_as("SELECT key_id, secret FROM broker_connections")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert!(
        !sealed_key.contains(&key_id) && !sealed_secret.contains(&secret),
        "sealed at rest"
    );

    // Plans now trade through the connected account.
    let created = app
        .post_json(
            "/api/dca/config",
            json!({"name": "Own account", "legs": [{"symbol": "VTI", "amount": "40.00"}],
                   "schedule": {"frequency": "daily", "interval": 1, "weekday": null, "day_of_month": null,
                                "time": "10:00", "timezone": "America/New_York"}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let plan_id = json(created).await["id"].as_str().unwrap().to_owned();
    app.post_json("/api/dca/run-now", json!({"plan_id": plan_id}))
        .await;
    let mut filled = false;
    for _ in 0..200 {
        let purchases = json(app.get("/api/dca/history").await).await;
        if purchases["purchases"][0]["status"] == "filled" {
            filled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(filled, "the purchase filled at the connected broker");
    let account = json(app.get("/api/account").await).await;
    assert_eq!(
        account["cash"], "99960",
        "bought through the user's own account: {account}"
    );

    let live = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "live", "key_id": key_id, "secret": secret}),
        )
        .await;
    assert_eq!(live.status(), 403);
    let body = json(live).await;
    assert_eq!(body["error"]["code"], "live_locked");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("30 days"),
        "{body}"
    );
    app.clock.advance_minutes(31 * 24 * 60);
    // Live money needs a confirmed address.
    let live = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "live", "key_id": key_id, "secret": secret}),
        )
        .await;
    assert_eq!(live.status(), 403);
    assert_eq!(json(live).await["error"]["code"], "email_unverified");
    mark_verified(&app, "keys@example.com").await;
    // And, the first time, the owner's word that they read the risk disclosure.
    let live = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "live", "key_id": key_id, "secret": secret}),
        )
        .await;
    assert_eq!(live.status(), 422);
    let body = json(live).await;
    assert!(
        body["error"]["fields"]["acknowledge_risk"]
            .as_str()
            .unwrap()
            .contains("risk disclosure"),
        "{body}"
    );
    let view = json(app.get("/api/broker/connection").await).await;
    assert_eq!(view["environment"], "paper", "nothing was saved: {view}");
    assert_eq!(view["risk_acknowledged"], false);
    let live = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "live", "key_id": key_id, "secret": secret,
                   "acknowledge_risk": true}),
        )
        .await;
    assert_eq!(live.status(), 200);
    let view = json(live).await;
    assert_eq!(view["environment"], "live");
    assert_eq!(view["risk_acknowledged"], true);
    // Once is enough: connecting live keys again does not ask.
    let again = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "live", "key_id": key_id, "secret": secret}),
        )
        .await;
    assert_eq!(again.status(), 200);

    let other = app.other_client();
    other
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "other@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let theirs = json(
        other
            .get(app.url("/api/broker/connection"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(theirs["kind"], "demo", "connections are per user");

    let removed = app
        .client
        .delete(app.url("/api/broker/connection"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json(removed).await["kind"], "demo");
    let actions = app.audit_actions().await;
    assert!(
        actions.iter().any(|a| a == "broker_connected")
            && actions.iter().any(|a| a == "broker_removed")
    );
    app.cleanup().await;
}

/// A purchase the broker refuses is final and shown with the broker's reason.
async fn rejections_are_final_and_shown(backend: Backend) {
    let (sim, url) = alpaca().await;
    let Some(app) = app_with_alpaca(backend, &url, 2).await else {
        return;
    };
    app.sign_up("poor@example.com", PASSWORD).await;
    let (key_id, secret, _) = sim.create_account_with(rust_decimal::Decimal::from(10));
    let connected = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "paper", "key_id": key_id, "secret": secret}),
        )
        .await;
    assert_eq!(connected.status(), 200);
    let plan = json!({"name": "Too big", "legs": [{"symbol": "SPY", "amount": "50.00"}],
        "schedule": {"frequency": "daily", "interval": 1, "weekday": null, "day_of_month": null,
                     "time": "10:00", "timezone": "America/New_York"}});
    let plan_id = json(app.post_json("/api/dca/config", plan).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post_json("/api/dca/run-now", json!({"plan_id": plan_id}))
        .await;
    let mut purchase = json!(null);
    for _ in 0..200 {
        purchase = json(app.get("/api/dca/history").await).await["purchases"][0].clone();
        if purchase["status"] != json!(null) && purchase["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(purchase["status"], "rejected", "{purchase}");
    assert_eq!(purchase["reason"], "insufficient buying power");
    app.cleanup().await;
}

/// One user's slow broker does not hold up another user's purchases, even with a single
/// worker.
async fn a_slow_broker_delays_only_its_own_user(backend: Backend) {
    let (slow_sim, slow_url) = alpaca().await;
    // A single worker: isolation must not depend on having spare workers.
    let Some(app) = app_with_alpaca(backend, &slow_url, 1).await else {
        return;
    };
    app.set_market_time("2026-11-30T15:00:00Z").await;
    let plan = json!({"name": "P", "legs": [{"symbol": "SPY", "amount": "20.00"}],
        "schedule": {"frequency": "daily", "interval": 1, "weekday": null, "day_of_month": null,
                     "time": "10:00", "timezone": "America/New_York"}});

    // Slow user: their own keys at a broker that answers after three seconds.
    app.sign_up("slow@example.com", PASSWORD).await;
    let (key_id, secret) = slow_sim.create_account();
    app.post_json(
        "/api/broker/connection",
        json!({"environment": "paper", "key_id": key_id, "secret": secret}),
    )
    .await;
    let slow_plan = json(app.post_json("/api/dca/config", plan.clone()).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    reqwest::Client::new()
        .post(format!("{slow_url}/sim/v1/faults"))
        .json(&json!({"latency_ms": 3000}))
        .send()
        .await
        .unwrap();

    // Fast user, on the demo broker.
    let fast = app.other_client();
    fast.post(app.url("/api/auth/signup"))
        .json(&json!({"email": "fast@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let fast_plan = json(
        fast.post(app.url("/api/dca/config"))
            .json(&plan)
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    app.post_json("/api/dca/run-now", json!({"plan_id": slow_plan}))
        .await;
    // The slow user's order is on its way (its intent is written before it is sent) and
    // will hang at their broker for 3 s.
    let slow_purchase = || async {
        json(app.get("/api/dca/history").await).await["purchases"][0]["status"].clone()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while slow_purchase().await != "pending" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow slot never started"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    fast.post(app.url("/api/dca/run-now"))
        .json(&json!({"plan_id": fast_plan}))
        .send()
        .await
        .unwrap();
    loop {
        let page = json(fast.get(app.url("/api/dca/history")).send().await.unwrap()).await;
        if page["purchases"][0]["status"] == "filled" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the fast purchase never filled: {page}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Had the fast user waited on the slow broker, the slow purchase would be over too.
    assert_eq!(
        slow_purchase().await,
        "pending",
        "the slow user's purchase is still at its broker"
    );
    reqwest::Client::new()
        .delete(format!("{slow_url}/sim/v1/faults"))
        .send()
        .await
        .unwrap();
    app.cleanup().await;
}

/// A slot keeps to the broker account it began with: after the user connects other keys
/// mid-slot, the leg already sent to the old account is `unknown` (it can no longer be
/// looked up), the leg never sent is `failed`, and nothing goes to the new account.
async fn a_slot_keeps_to_the_account_it_began_with(backend: Backend) {
    use server::dca::scheduler::FailPoint;
    let (sim, url) = alpaca().await;
    let Some(app) = app_with_alpaca(backend, &url, 0).await else {
        return;
    };
    app.sign_up("switcher@example.com", PASSWORD).await;
    app.set_market_time("2026-11-30T15:00:00Z").await;
    let created = app
        .post_json(
            "/api/dca/config",
            json!({"name": "Two legs", "legs": [{"symbol": "SPY", "amount": "50.00"}, {"symbol": "QQQ", "amount": "25.00"}],
                   "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon", "day_of_month": null,
                                "time": "10:00", "timezone": "America/New_York"}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let plan_id = json(created).await["id"].as_str().unwrap().to_owned();
    let run = app
        .post_json("/api/dca/run-now", json!({"plan_id": plan_id}))
        .await;
    assert_eq!(run.status(), 202);
    let worker = |fail_point| app.worker(|c| c.fail_point = fail_point);
    assert!(
        worker(Some(FailPoint::AfterSend)).tick().await.is_err(),
        "the worker dies after sending the first leg to the demo account"
    );
    let (key_id, secret) = sim.create_account();
    let connected = app
        .post_json(
            "/api/broker/connection",
            json!({"environment": "paper", "key_id": key_id, "secret": secret}),
        )
        .await;
    assert_eq!(connected.status(), 200);
    app.clock.advance_minutes(2);
    assert!(worker(None).tick().await.unwrap(), "the slot is taken over");

    let purchases = json(app.get("/api/dca/history").await).await["purchases"]
        .as_array()
        .unwrap()
        .clone();
    let mut statuses: Vec<&str> = purchases
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["failed", "unknown"], "{purchases:?}");
    assert!(
        purchases.iter().all(|p| p["reason"]
            .as_str()
            .unwrap()
            .contains("broker account changed")),
        "{purchases:?}"
    );
    let account = json(app.get("/api/account").await).await;
    assert_eq!(
        account["recent_orders"].as_array().unwrap().len(),
        0,
        "nothing went to the newly connected account: {account}"
    );
    app.cleanup().await;
}

/// The connection form checks keys with Alpaca, so it is limited per user: it cannot be
/// used to test stolen keys by the thousand.
async fn key_checks_are_limited_per_user(backend: Backend) {
    let (_sim, url) = alpaca().await;
    let Some(app) = app_with_alpaca(backend, &url, 0).await else {
        return;
    };
    app.sign_up("prober@example.com", PASSWORD).await;
    let attempt = |n: u32| {
        app.post_json(
            "/api/broker/connection",
            json!({"environment": "paper", "key_id": format!("PKGUESS{n:04}"), "secret": "not-the-secret"}),
        )
    };
    for n in 0..server::connections::CONNECT_CHECKS_PER_HOUR {
        assert_eq!(attempt(n).await.status(), 422, "Alpaca refused guess {n}");
    }
    let refused = attempt(99).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(json(refused).await["error"]["code"], "rate_limited");
    app.clock.advance_minutes(60);
    assert_eq!(
        attempt(100).await.status(),
        422,
        "a new hour, a new allowance"
    );
    app.cleanup().await;
}

/// With billing on: live keys connected on Basic buy nothing once the user is on Free.
async fn live_keys_buy_nothing_after_a_downgrade_below_live_trading(backend: Backend) {
    let (sim, url) = alpaca().await;
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.demo_broker = true;
        c.billing = true;
        c.alpaca_paper_url = url.clone();
        c.alpaca_live_url = url.clone();
        c.alpaca_data_url = url;
    })
    .await
    else {
        return;
    };
    let email = "basic-live@example.com";
    app.sign_up(email, PASSWORD).await;
    mark_verified(&app, email).await;
    let set_tier = |tier: app::domain::tier::Tier| {
        let email = app::domain::account::Email::parse(email).unwrap();
        let audit = server::db::audit::AuditEntry {
            at: app::domain::time::Clock::now(app.clock.as_ref()),
            actor_user_id: None,
            action: server::db::audit::AuditAction::TierChanged,
            subject: None,
            ip: None,
            detail: json!({"tier": tier.as_str()}),
        };
        let db = app.db.clone();
        async move { assert!(db.set_user_tier(&email, tier, audit).await.unwrap()) }
    };
    set_tier(app::domain::tier::Tier::Basic).await;
    let (key_id, secret) = sim.create_account();
    let keys = |environment: &str| {
        json!({"environment": environment, "key_id": key_id, "secret": secret,
               "acknowledge_risk": true})
    };
    let paper = app.post_json("/api/broker/connection", keys("paper")).await;
    assert_eq!(paper.status(), 200);
    let created = app
        .post_json(
            "/api/dca/config",
            json!({"name": "Live", "legs": [{"symbol": "VTI", "amount": "40.00"}],
                   "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon", "day_of_month": null,
                                "time": "10:00", "timezone": "America/New_York"}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let plan_id = json(created).await["id"].as_str().unwrap().to_owned();
    let purchases = |status: &'static str| {
        let app = &app;
        async move {
            for _ in 0..200 {
                let page = json(app.get("/api/dca/history").await).await;
                let found: Vec<serde_json::Value> = page["purchases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["status"] == status)
                    .cloned()
                    .collect();
                if !found.is_empty() {
                    return found;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("no {status} purchase");
        }
    };
    app.post_json("/api/dca/run-now", json!({"plan_id": plan_id}))
        .await;
    purchases("filled").await;
    // 30 days of paper trading later, live keys; then the subscription lapses to Free.
    app.clock.advance_minutes(31 * 24 * 60);
    let live = app.post_json("/api/broker/connection", keys("live")).await;
    assert_eq!(live.status(), 200);
    // Returns count the money of the account the plans trade in now: the paper
    // purchases are not the live account's.
    let performance = json(app.get("/api/performance").await).await;
    assert_eq!(performance["account"]["invested"], "0", "{performance}");
    let paper = app.post_json("/api/broker/connection", keys("paper")).await;
    assert_eq!(paper.status(), 200);
    let performance = json(app.get("/api/performance").await).await;
    assert_ne!(performance["account"]["invested"], "0", "{performance}");
    let live = app.post_json("/api/broker/connection", keys("live")).await;
    assert_eq!(live.status(), 200);
    set_tier(app::domain::tier::Tier::Free).await;
    let run = app
        .post_json("/api/dca/run-now", json!({"plan_id": plan_id}))
        .await;
    assert_eq!(run.status(), 202);
    let skipped = purchases("skipped").await;
    assert_eq!(skipped[0]["skip_reason"], "broker_unavailable");
    assert_eq!(
        skipped[0]["reason"],
        "Free trades on paper only; live trading needs Basic."
    );
    assert_eq!(purchases("filled").await.len(), 1, "nothing bought live");
    app.cleanup().await;
}

on_both_backends!(
    backend:
    live_keys_buy_nothing_after_a_downgrade_below_live_trading,
    own_keys_are_checked_sealed_used_and_removable,
    rejections_are_final_and_shown,
    a_slow_broker_delays_only_its_own_user,
    a_slot_keeps_to_the_account_it_began_with,
    key_checks_are_limited_per_user,
);
