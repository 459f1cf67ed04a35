//! The purchase engine's guarantees under pressure: one waiting "buy now" per plan and a
//! rate limit per user, claims fair across users, edits that cannot undo a stop, a
//! resumed plan that still buys the slot it paused over (within the grace window), and
//! slots that give up visibly after their attempts.

use crate::helpers::{Backend, TestApp, json};
use app::api::dca::SlotState;
use serde_json::{Value, json};
use server::broker::Broker as _;
use server::dca::scheduler::Scheduler;
use server::dca::slots::Finish;

const PASSWORD: &str = "correct horse battery";
/// Monday 2026-11-30 10:00 New York.
const MARKET_OPEN: &str = "2026-11-30T15:00:00Z";

fn plan(name: &str) -> Value {
    json!({
        "name": name,
        "legs": [{"symbol": "SPY", "amount": "50.00"}, {"symbol": "QQQ", "amount": "25.00"}],
        "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon", "day_of_month": null,
                     "time": "10:00", "timezone": "America/New_York"}
    })
}

async fn create(app: &TestApp, name: &str) -> Value {
    let created = app.post_json("/api/dca/config", plan(name)).await;
    assert_eq!(created.status(), 201);
    json(created).await
}

async fn press(app: &TestApp, plan_id: &str, key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/dca/run-now"))
        .header("idempotency-key", key)
        .json(&json!({"plan_id": plan_id}))
        .send()
        .await
        .unwrap()
}

fn worker(app: &TestApp) -> std::sync::Arc<Scheduler> {
    app.worker(|_| {})
}

async fn history(app: &TestApp) -> Vec<Value> {
    json(app.get("/api/dca/history?limit=500").await).await["purchases"]
        .as_array()
        .unwrap()
        .clone()
}

/// A second "buy now" while one waits is a 409 naming the waiting run; past the hourly
/// limit, a 429; a retried request (same key) is still a quiet 202.
async fn buy_now_is_bounded(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.demo_broker = true;
        c.scheduler_workers = 0;
        c.run_now_per_hour = 3;
    })
    .await
    else {
        return;
    };
    app.sign_up("flood@example.com", PASSWORD).await;
    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for name in ["a", "b", "c", "d"] {
            ids.push(create(&app, name).await["id"].as_str().unwrap().to_owned());
        }
        ids
    };
    assert_eq!(press(&app, &ids[0], "k1").await.status(), 202);
    assert_eq!(press(&app, &ids[0], "k1").await.status(), 202, "a retry");
    let second = press(&app, &ids[0], "k2").await;
    assert_eq!(second.status(), 409);
    let body = json(second).await;
    assert_eq!(body["error"]["code"], "conflict");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already under way (run "),
        "{body}"
    );
    assert_eq!(press(&app, &ids[1], "k3").await.status(), 202);
    assert_eq!(press(&app, &ids[2], "k4").await.status(), 202);
    let limited = press(&app, &ids[3], "k5").await;
    assert_eq!(limited.status(), 429);
    assert_eq!(json(limited).await["error"]["code"], "rate_limited");
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM slots WHERE kind = 'manual'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(queued, 3, "nothing refused was queued");
    app.cleanup().await;
}

/// Presses on several plans at once cannot all slip under the hourly limit: each is
/// counted atomically before its slot is written.
async fn parallel_buy_now_presses_keep_the_limit(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.demo_broker = true;
        c.scheduler_workers = 0;
        c.run_now_per_hour = 3;
    })
    .await
    else {
        return;
    };
    app.sign_up("racer@example.com", PASSWORD).await;
    let mut ids = Vec::new();
    for n in 0..8 {
        ids.push(
            create(&app, &format!("plan {n}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let keys: Vec<String> = (0..ids.len()).map(|n| format!("key-{n}")).collect();
    let presses = ids.iter().zip(&keys).map(|(id, key)| press(&app, id, key));
    let statuses: Vec<u16> = futures_util::future::join_all(presses)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM slots WHERE kind = 'manual'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(queued, 3);
    app.cleanup().await;
}

/// A purchase made by another instance (its event arrives over PostgreSQL) outdates the
/// buyer's account view here; this instance's own purchase events do not (it marks its
/// views where it buys, in order with its refreshes).
#[tokio::test]
async fn other_instances_purchases_outdate_account_views() {
    let Some(app) = TestApp::spawn_hand_driven(Backend::Postgres).await else {
        return;
    };
    app.set_market_time(MARKET_OPEN).await;
    let (alice, _) = crate::helpers::signed_up(&app, "alice-view@example.com").await;
    let (bob, _) = crate::helpers::signed_up(&app, "bob-view@example.com").await;
    let alice_id = crate::helpers::user_id(&app, &alice).await;
    let bob_id = crate::helpers::user_id(&app, &bob).await;
    for client in [&alice, &bob] {
        let seen = client.get(app.url("/api/account")).send().await.unwrap();
        assert_eq!(seen.status(), 200);
    }
    // From now on a view that must be read again cannot be: the broker is down.
    faults(&app, json!({"error_rate": 1.0, "statuses": [503]})).await;
    let purchase = |user: &str| app::api::live::LiveEvent::Purchase {
        purchase: serde_json::from_value(json!({
            "id": "p1", "plan_id": "plan", "symbol": "SPY", "notional": "10",
            "qty": "0.01", "price": "500", "status": "filled", "reason": null,
            "client_order_id": format!("qs-{user}"),
        }))
        .unwrap(),
    };
    // Alice's purchase, announced by this instance, then Bob's by another one.
    app.events().publish(&alice_id, &purchase(&alice_id)).await;
    let other_instance = server::events::EventBus::publisher(app.db.clone());
    other_instance.publish(&bob_id, &purchase(&bob_id)).await;
    // Bob's view is outdated as soon as his event arrives...
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let read = bob.get(app.url("/api/account")).send().await.unwrap();
        if read.status() != 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "another instance's purchase outdates the view"
        );
        tokio::task::yield_now().await;
    }
    // ...and Alice's event, which arrived before it, did not outdate hers.
    let read = alice.get(app.url("/api/account")).send().await.unwrap();
    assert_eq!(
        read.status(),
        200,
        "an own purchase event is not marked twice"
    );
    app.cleanup().await;
}

/// A user with a backlog never holds a second worker while another user's slot waits.
async fn claims_are_fair_across_users(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("fair@example.com", PASSWORD).await;
    let plan_id = create(&app, "fair").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (flooder, other) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    for (user, at) in [(&flooder, 1), (&flooder, 2), (&flooder, 3), (&other, 50)] {
        app.queue_slot(&plan_id, user, at).await;
    }
    let claim = |owner: &'static str| app.db.claim_slot(owner, 100, 60_000);
    let first = claim("w1").await.unwrap().unwrap();
    assert_eq!(first.user_id.as_str(), flooder);
    let second = claim("w2").await.unwrap().unwrap();
    assert_eq!(
        second.user_id.as_str(),
        other,
        "the other user goes next, not the backlog"
    );
    assert_eq!(
        claim("w3").await.unwrap(),
        None,
        "the flooder has a slot running"
    );
    let done = Finish {
        state: SlotState::Done,
        reason: None,
    };
    assert!(
        !app.db
            .finish_slot(&first.id, "w2", done, &[], 100, 100)
            .await
            .unwrap(),
        "only the lease holder can finish a slot"
    );
    assert!(
        app.db
            .finish_slot(&first.id, "w1", done, &[], 100, 100)
            .await
            .unwrap()
    );
    let third = claim("w3").await.unwrap().unwrap();
    assert_eq!(
        (third.user_id.as_str(), third.slot_at),
        (flooder.as_str(), 2)
    );
    // Claims at the same moment: still never two running slots for one user.
    let (a, b) = tokio::join!(claim("w4"), claim("w5"));
    let running: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert!(
        running.is_empty(),
        "both users have a slot running: {running:?}"
    );
    for round in 0..20 {
        let user = uuid::Uuid::new_v4().to_string();
        for at in 0..3 {
            app.queue_slot(&plan_id, &user, -100 - 3 * round - at).await;
        }
        let (a, b, c) = tokio::join!(claim("r1"), claim("r2"), claim("r3"));
        let claimed = [a.unwrap(), b.unwrap(), c.unwrap()]
            .into_iter()
            .flatten()
            .count();
        assert_eq!(
            claimed, 1,
            "round {round}: one slot of the new user, never more"
        );
        sqlx::query("UPDATE slots SET state = 'done' WHERE user_id = $1")
            .bind(&user)
            .execute(app.db.pool())
            .await
            .unwrap();
    }
    app.cleanup().await;
}

/// An edit based on what the plan was before a stop cannot undo the stop, and an edit
/// never writes the status.
async fn edits_cannot_undo_a_stop(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.demo_broker = true).await else {
        return;
    };
    app.sign_up("editor@example.com", PASSWORD).await;
    let mut seen = create(&app, "editor").await;
    let id = seen["id"].as_str().unwrap().to_owned();
    // Another tab pauses the plan.
    let paused = app
        .post_json("/api/dca/pause", json!({"plan_id": id}))
        .await;
    assert_eq!(paused.status(), 200);
    // This tab saves what it read before: refused, nothing written.
    seen["name"] = json!("renamed");
    let stale = app.post_json("/api/dca/config", seen.clone()).await;
    assert_eq!(stale.status(), 409);
    let current = json(app.get(&format!("/api/dca/config/{id}")).await).await;
    assert_eq!(
        (current["name"].as_str(), current["status"].as_str()),
        (Some("editor"), Some("paused"))
    );
    // Based on the current version, the edit lands and the plan stays paused.
    let mut fresh = current.clone();
    fresh["name"] = json!("renamed");
    fresh["status"] = json!("active");
    let saved = app.post_json("/api/dca/config", fresh).await;
    assert_eq!(saved.status(), 200);
    let saved = json(saved).await;
    assert_eq!(
        (saved["name"].as_str(), saved["status"].as_str()),
        (Some("renamed"), Some("paused"))
    );
    // Stopped: no edit at all, and the stop stands.
    assert_eq!(
        app.post_json("/api/dca/stop", json!({"plan_id": id}))
            .await
            .status(),
        200
    );
    let after_stop = app.post_json("/api/dca/config", saved).await;
    assert_eq!(after_stop.status(), 409);
    let current = json(app.get(&format!("/api/dca/config/{id}")).await).await;
    assert_eq!(current["status"], "stopped");
    app.cleanup().await;
}

/// Paused over its slot and resumed within the grace window, a plan still buys that
/// slot; resumed after it, the slot is recorded as missed. Either way it goes on from now.
async fn resuming_keeps_the_slot_it_paused_over(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("resume@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let id = create(&app, "resume").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let set = |status: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            let response = app
                .post_json(&format!("/api/dca/{status}"), json!({"plan_id": id}))
                .await;
            assert_eq!(response.status(), 200);
            json(response).await
        }
    };
    let paused = set("pause").await;
    assert!(
        paused["next_run_at"].is_null(),
        "a paused plan shows no next purchase"
    );
    // Saturday 00:00 UTC → Monday 16:00 UTC: an hour after the 15:00 slot.
    app.clock.advance_minutes(2 * 24 * 60 + 16 * 60);
    let resumed = set("start").await;
    assert_eq!(resumed["next_run_at"], "2026-12-07T15:00:00Z");
    let scheduler = worker(&app);
    assert!(
        scheduler.tick().await.unwrap(),
        "the slot it paused over runs"
    );
    let bought = history(&app).await;
    assert_eq!(bought.len(), 2);
    assert!(
        bought
            .iter()
            .all(|p| p["status"] == "filled" && p["slot_at"] == "2026-11-30T15:00:00Z"),
        "{bought:?}"
    );

    set("pause").await;
    // Past the next Monday's slot by five hours (grace: four).
    app.clock.advance_minutes(7 * 24 * 60 + 4 * 60);
    let resumed = set("start").await;
    assert_eq!(resumed["next_run_at"], "2026-12-14T15:00:00Z");
    assert!(scheduler.tick().await.unwrap());
    let all = history(&app).await;
    let missed: Vec<&Value> = all
        .iter()
        .filter(|p| p["slot_at"] == "2026-12-07T15:00:00Z")
        .collect();
    assert_eq!(missed.len(), 2);
    assert!(missed.iter().all(|p| p["status"] == "missed"), "{missed:?}");
    assert!(!scheduler.tick().await.unwrap(), "nothing else is due");
    app.cleanup().await;
}

/// A broker that keeps failing: the slot is retried with backoff, then given up as
/// `failed` with the reason on every leg, after looking each order up.
async fn a_slot_out_of_attempts_fails_visibly(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("giveup@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let id = create(&app, "giveup").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(press(&app, &id, "once").await.status(), 202);
    let sim = app.demo_broker_url().unwrap();
    reqwest::Client::new()
        .post(format!("{sim}/sim/v1/faults"))
        .json(&json!({"error_rate": 1.0, "statuses": [503]}))
        .send()
        .await
        .unwrap();
    let scheduler = app.worker(|c| c.max_attempts = 3);
    let mut runs = 0;
    while history(&app).await.iter().any(|p| p["status"] == "pending") || runs == 0 {
        let _ = scheduler.tick().await;
        app.clock.advance_minutes(10);
        runs += 1;
        assert!(
            runs < 10,
            "the slot never gave up: {:?}",
            history(&app).await
        );
    }
    // Every lookup failed too: whether the orders were placed is not known yet.
    let purchases = history(&app).await;
    assert_eq!(purchases.len(), 2, "{purchases:?}");
    for p in &purchases {
        assert_eq!(p["status"], "unknown", "{p}");
        assert!(
            p["reason"]
                .as_str()
                .unwrap()
                .contains("gave up after 3 attempts"),
            "{p}"
        );
    }
    let state: String = sqlx::query_scalar("SELECT state FROM slots")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(state, "failed");
    // The broker answers again: it has no record of them, so nothing was bought.
    reqwest::Client::new()
        .delete(format!("{sim}/sim/v1/faults"))
        .send()
        .await
        .unwrap();
    app.clock.advance_minutes(1);
    assert_eq!(scheduler.reconcile_once().await.unwrap(), 2);
    for p in &history(&app).await {
        assert_eq!(p["status"], "failed", "{p}");
        assert!(p["reason"].as_str().unwrap().contains("no record"), "{p}");
    }
    assert_eq!(
        scheduler.reconcile_once().await.unwrap(),
        0,
        "nothing is left to check"
    );
    app.cleanup().await;
}

/// Sixty open orders the broker never heard of do not hold up a new fill: each backs off
/// on its own, so the reconcile pass reaches the newer orders.
async fn unresolvable_orders_do_not_block_new_fills(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("ghosts@example.com", PASSWORD).await;
    app.set_market_time("2026-11-28T17:00:00Z").await; // Saturday: orders wait for Monday
    let id = create(&app, "ghosts").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(press(&app, &id, "once").await.status(), 202);
    let scheduler = worker(&app);
    assert!(scheduler.tick().await.unwrap());
    let open = history(&app).await;
    assert!(open.iter().all(|p| p["status"] == "accepted"), "{open:?}");
    let (slot_id, user_id): (String, String) =
        sqlx::query_as("SELECT slot_id, user_id FROM purchases LIMIT 1")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    for i in 0..60 {
        sqlx::query(
            "INSERT INTO purchases (id, slot_id, plan_id, user_id, symbol, notional, client_order_id, status, \
             slot_at, submitted_at, next_check_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'SPY', '5', $5, 'accepted', 0, 0, 0, 0, 0)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&slot_id)
        .bind(&id)
        .bind(&user_id)
        .bind(format!("ghost-{i}"))
        .execute(app.db.pool())
        .await
        .unwrap();
    }
    app.set_market_time(MARKET_OPEN).await; // Monday: the real orders fill at the open
    app.clock.advance_minutes(1);
    for _ in 0..2 {
        scheduler.reconcile_once().await.unwrap();
    }
    let real: Vec<Value> = history(&app)
        .await
        .into_iter()
        .filter(|p| !p["client_order_id"].as_str().unwrap().starts_with("ghost-"))
        .collect();
    assert_eq!(real.len(), 2);
    assert!(real.iter().all(|p| p["status"] == "filled"), "{real:?}");
    app.cleanup().await;
}

/// A plan row that cannot be read is logged and passed over; the other plans due in the
/// same pass still run.
async fn one_unreadable_plan_does_not_stop_the_others(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("unreadable@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let good = create(&app, "good").await;
    let good_id = good["id"].as_str().unwrap();
    // A copy with settings no version of the code can read, due a minute earlier.
    sqlx::query(
        "INSERT INTO plans (id, user_id, name, mode, status, config, next_run_at, created_at, updated_at) \
         SELECT $1, user_id, 'broken', mode, status, '{not json', next_run_at - 60000, created_at, updated_at \
         FROM plans WHERE id = $2",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(good_id)
    .execute(app.db.pool())
    .await
    .unwrap();
    // Saturday 00:00 UTC → Monday 15:01 UTC, a minute after the good plan's slot.
    app.clock.advance_minutes(2 * 24 * 60 + 15 * 60 + 1);
    assert!(
        worker(&app).tick().await.unwrap(),
        "the good plan's slot ran"
    );
    let bought = history(&app).await;
    assert_eq!(bought.len(), 2);
    assert!(
        bought
            .iter()
            .all(|p| p["status"] == "filled" && p["plan_id"] == good_id),
        "{bought:?}"
    );
    app.cleanup().await;
}

/// Waits until `n` purchases are filled.
async fn filled(app: &TestApp, n: usize) {
    for _ in 0..200 {
        let all = history(app).await;
        if all.iter().filter(|p| p["status"] == "filled").count() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("not filled: {:?}", history(app).await);
}

/// The demo market keeps its accounts across a restart of the server: positions, cash,
/// and an order still open, which fills after the restart.
async fn the_demo_market_survives_a_restart(backend: Backend) {
    let Some(mut app) = TestApp::spawn_with(backend, |c| c.demo_broker = true).await else {
        return;
    };
    app.sign_up("restart@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let id = create(&app, "restart").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(press(&app, &id, "first").await.status(), 202);
    filled(&app, 2).await;
    let before = json(app.get("/api/account").await).await;
    assert_eq!(before["cash"], "99925", "{before}");

    // An order placed while the market is closed stays open over the restart.
    app.set_market_time("2026-12-05T17:00:00Z").await; // Saturday
    assert_eq!(press(&app, &id, "second").await.status(), 202);
    for _ in 0..200 {
        if history(&app)
            .await
            .iter()
            .filter(|p| p["status"] == "accepted")
            .count()
            == 2
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.restart().await;
    let after = json(app.get("/api/account").await).await;
    // The same holdings (valued at the market's new time).
    let holdings = |account: &Value| -> Vec<(Value, Value, Value)> {
        account["positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["symbol"].clone(),
                    p["qty"].clone(),
                    p["cost_basis"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(holdings(&after), holdings(&before), "{after}");
    assert_eq!(holdings(&after).len(), 2);
    assert_eq!(
        after["recent_orders"].as_array().unwrap().len(),
        4,
        "{after}"
    );
    app.set_market_time("2026-12-07T15:00:00Z").await; // Monday's open: they fill
    app.clock.advance_minutes(1);
    filled(&app, 4).await;
    let last = json(app.get("/api/account").await).await;
    assert_eq!(last["cash"], "99850", "{last}");
    app.cleanup().await;
}

async fn faults(app: &TestApp, faults: Value) {
    let sim = app.demo_broker_url().unwrap();
    let response = reqwest::Client::new()
        .post(format!("{sim}/sim/v1/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{faults}");
}

/// The (only) user's orders at the broker.
async fn broker_orders(app: &TestApp) -> Vec<server::broker::OrderSnapshot> {
    let user_id: String = sqlx::query_scalar("SELECT id FROM users LIMIT 1")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let broker = app.brokers().broker_for(&user_id).await.unwrap();
    broker
        .orders(server::broker::OrderQuery::All)
        .await
        .unwrap()
}

/// A slot whose run outlasts its budget (a slow broker) gives the slot back keeping what
/// it bought: the next run sends only the rest, the attempt is not used up, and every leg
/// is bought exactly once.
async fn a_slot_out_of_time_keeps_what_it_bought(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("slow@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let mut four = plan("slow");
    four["legs"] = json!([
        {"symbol": "SPY", "amount": "10.00"}, {"symbol": "QQQ", "amount": "10.00"},
        {"symbol": "VTI", "amount": "10.00"}, {"symbol": "IWM", "amount": "10.00"}
    ]);
    let created = app.post_json("/api/dca/config", four).await;
    assert_eq!(created.status(), 201);
    let id = json(created).await["id"].as_str().unwrap().to_owned();
    assert_eq!(press(&app, &id, "slow").await.status(), 202);
    // Every broker request takes 400 ms; a run may take 1 s: two or so legs per run.
    faults(&app, json!({"latency_ms": 400})).await;
    let scheduler = app.worker(|c| {
        c.slot_budget = std::time::Duration::from_millis(1000);
        c.max_attempts = 2;
    });
    assert!(
        scheduler.tick().await.is_err(),
        "the first run runs out of time"
    );
    let after_first = history(&app).await;
    let bought_first = after_first
        .iter()
        .filter(|p| p["status"] == "filled")
        .count();
    assert!(
        (1..4).contains(&bought_first),
        "the first run kept what it bought and left the rest: {after_first:?}"
    );
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM slots WHERE kind = 'manual'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(
        attempts, 0,
        "a run that made progress gives its attempt back"
    );
    // More runs, each resuming, until every leg is bought (more runs than max_attempts:
    // progress never counts against it).
    for _ in 0..8 {
        if history(&app).await.iter().all(|p| p["status"] == "filled") {
            break;
        }
        let _ = scheduler.tick().await;
    }
    let purchases = history(&app).await;
    assert_eq!(purchases.len(), 4);
    assert!(
        purchases.iter().all(|p| p["status"] == "filled"),
        "{purchases:?}"
    );
    let sim = app.demo_broker_url().unwrap();
    reqwest::Client::new()
        .delete(format!("{sim}/sim/v1/faults"))
        .send()
        .await
        .unwrap();
    let mut ids: Vec<String> = broker_orders(&app)
        .await
        .into_iter()
        .map(|o| o.client_order_id)
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "one order per leg at the broker: {ids:?}");
    assert_eq!(broker_orders(&app).await.len(), 4);
    app.cleanup().await;
}

/// Every answer to an order placement is lost, though the broker placed the first one:
/// the slot retries under the same client order id, runs out of attempts, and looks the
/// orders up before its last write, so the order that was placed is recorded as bought
/// (once); the leg never sent ends failed once the broker confirms it has no record.
async fn a_lost_answer_is_found_by_its_client_order_id(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.demo_broker = true;
        c.scheduler_workers = 0;
        c.broker_timeout_ms = 150;
    })
    .await
    else {
        return;
    };
    app.sign_up("lost@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let id = create(&app, "lost").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(press(&app, &id, "once").await.status(), 202);
    faults(
        &app,
        json!({"lost_order_responses": 1000, "timeout_ms": 1000}),
    )
    .await;
    let scheduler = app.worker(|c| c.max_attempts = 2);
    for _ in 0..2 {
        let _ = scheduler.tick().await;
        app.clock.advance_minutes(10);
    }
    // The leg sent first was placed (its answer lost); the slot stopped there.
    let purchases = history(&app).await;
    let placed = purchases
        .iter()
        .find(|p| p["status"] == "filled")
        .unwrap_or_else(|| panic!("the placed order was found: {purchases:?}"))
        .clone();
    assert!(
        placed["qty"].is_string() && placed["price"].is_string(),
        "{placed}"
    );
    let unsent = purchases
        .iter()
        .find(|p| p["id"] != placed["id"])
        .unwrap()
        .clone();
    assert_eq!(unsent["status"], "unknown", "{unsent}");
    let sim = app.demo_broker_url().unwrap();
    reqwest::Client::new()
        .delete(format!("{sim}/sim/v1/faults"))
        .send()
        .await
        .unwrap();
    let orders = broker_orders(&app).await;
    assert_eq!(orders.len(), 1, "one order, placed once: {orders:?}");
    assert_eq!(
        orders[0].client_order_id,
        placed["client_order_id"].as_str().unwrap()
    );
    // The broker has no record of the other: nothing was bought, and it says so.
    scheduler.reconcile_once().await.unwrap();
    let unsent = history(&app)
        .await
        .into_iter()
        .find(|p| p["id"] == unsent["id"])
        .unwrap();
    assert_eq!(unsent["status"], "failed", "{unsent}");
    app.cleanup().await;
}

/// Half of the SPY order fills; the rest expires at the close. The purchase records the
/// shares bought and says why the rest was not.
async fn a_partial_fill_records_what_was_bought(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("partial@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let id = create(&app, "partial").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    faults(&app, json!({"partial_fills": {"SPY": "0.5"}})).await;
    assert_eq!(press(&app, &id, "once").await.status(), 202);
    let scheduler = worker(&app);
    assert!(scheduler.tick().await.unwrap());
    let purchases = history(&app).await;
    let spy = purchases
        .iter()
        .find(|p| p["symbol"] == "SPY")
        .unwrap()
        .clone();
    assert_eq!(spy["status"], "accepted", "still working: {spy}");
    let part: rust_decimal::Decimal = spy["qty"].as_str().unwrap().parse().unwrap();
    let qqq = purchases.iter().find(|p| p["symbol"] == "QQQ").unwrap();
    assert_eq!(qqq["status"], "filled", "{qqq}");
    // The close: the rest of the day order expires.
    app.set_market_time("2026-11-30T21:30:00Z").await;
    app.clock.advance_minutes(1);
    scheduler.reconcile_once().await.unwrap();
    let spy = history(&app)
        .await
        .into_iter()
        .find(|p| p["symbol"] == "SPY")
        .unwrap();
    assert_eq!(spy["status"], "partially_filled", "{spy}");
    assert_eq!(
        spy["qty"]
            .as_str()
            .unwrap()
            .parse::<rust_decimal::Decimal>()
            .unwrap(),
        part
    );
    let price: rust_decimal::Decimal = spy["price"].as_str().unwrap().parse().unwrap();
    let spent = part * price;
    assert!(
        spent > rust_decimal::dec!(24) && spent <= rust_decimal::dec!(25.01),
        "half of $50: {spent}"
    );
    assert!(
        spy["reason"].as_str().unwrap().contains("expired the rest"),
        "{spy}"
    );
    let orders = broker_orders(&app).await;
    assert!(
        orders
            .iter()
            .any(|o| o.status == server::broker::OrderStatus::Expired && o.filled_qty == part),
        "{orders:?}"
    );
    app.cleanup().await;
}

/// The account page is served from the user's account view: while the broker is down a
/// recent view still answers; a fill outdates it and the engine reads it again at once;
/// a view too old to show gives way to the broker's error, never to old numbers.
async fn account_views_spare_the_broker(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("views@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let first = json(app.get("/api/account").await).await;
    assert_eq!(first["cash"], "100000", "{first}");
    faults(&app, json!({"error_rate": 1.0, "statuses": [503]})).await;
    let again = app.get("/api/account").await;
    assert_eq!(again.status(), 200);
    assert_eq!(json(again).await, first);
    // A minute old: still served at once (a refresh is tried behind it).
    app.clock.advance_minutes(1);
    let stale = app.get("/api/account").await;
    assert_eq!(stale.status(), 200);
    assert_eq!(json(stale).await, first);
    // The broker is back; a purchase fills: the view is read again by the engine.
    let sim = app.demo_broker_url().unwrap();
    reqwest::Client::new()
        .delete(format!("{sim}/sim/v1/faults"))
        .send()
        .await
        .unwrap();
    let id = create(&app, "views").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(press(&app, &id, "once").await.status(), 202);
    assert!(worker(&app).tick().await.unwrap());
    faults(&app, json!({"error_rate": 1.0, "statuses": [503]})).await;
    let after = json(app.get("/api/account").await).await;
    let cash: rust_decimal::Decimal = after["cash"].as_str().unwrap().parse().unwrap();
    assert!(
        cash < rust_decimal::dec!(100000) && cash >= rust_decimal::dec!(99925),
        "the fill shows without asking the broker again: {after}"
    );
    assert_eq!(after["positions"].as_array().unwrap().len(), 2, "{after}");
    // Ten minutes on, with the broker down: its error, not ten-minute-old balances.
    app.clock.advance_minutes(10);
    let old = app.get("/api/account").await;
    assert!(!old.status().is_success());
    assert_eq!(json(old).await["error"]["code"], "broker_unavailable");
    app.cleanup().await;
}

macro_rules! both {
    ($($name:ident),*) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $name() { super::$name(crate::helpers::Backend::Sqlite).await; })*
        }
        mod on_postgres {
            $(#[tokio::test] async fn $name() { super::$name(crate::helpers::Backend::Postgres).await; })*
        }
    };
}

both!(
    buy_now_is_bounded,
    parallel_buy_now_presses_keep_the_limit,
    claims_are_fair_across_users,
    edits_cannot_undo_a_stop,
    resuming_keeps_the_slot_it_paused_over,
    a_slot_out_of_attempts_fails_visibly,
    a_lost_answer_is_found_by_its_client_order_id,
    a_slot_out_of_time_keeps_what_it_bought,
    a_partial_fill_records_what_was_bought,
    account_views_spare_the_broker,
    unresolvable_orders_do_not_block_new_fills,
    one_unreadable_plan_does_not_stop_the_others,
    the_demo_market_survives_a_restart
);
