//! Subscription tiers (`billing = true`): the public tier table, plans held to the user's
//! tier when saved and when resumed, live keys refused below Basic, nothing saved on a
//! refusal; with billing off (the default) every user has every feature.

use crate::helpers::{TestApp, json};
use app::domain::account::Email;
use app::domain::tier::Tier;
use app::domain::time::Clock as _;
use serde_json::{Value, json};
use server::db::audit::{AuditAction, AuditEntry};

const PASSWORD: &str = "correct horse battery";

fn plan(frequency: &str, symbols: &[&str]) -> Value {
    let legs: Vec<Value> = symbols
        .iter()
        .map(|s| json!({"symbol": s, "amount": "10.00"}))
        .collect();
    json!({
        "name": format!("{frequency} {}", symbols.join(" ")),
        "mode": "pure",
        "legs": legs,
        "schedule": {"frequency": frequency, "interval": 1,
                     "weekday": if frequency == "weekly" { json!("mon") } else { Value::Null },
                     "day_of_month": if frequency == "monthly" { json!(1) } else { Value::Null },
                     "time": "10:00", "timezone": "America/New_York"}
    })
}

async fn set_tier(app: &TestApp, email: &str, tier: Tier) {
    let email = Email::parse(email).unwrap();
    let audit = AuditEntry {
        at: app.clock.now(),
        actor_user_id: None,
        action: AuditAction::TierChanged,
        subject: Some(email.as_str()),
        ip: None,
        detail: json!({"tier": tier.as_str(), "by": "test"}),
    };
    assert!(app.db.set_user_tier(&email, tier, audit).await.unwrap());
}

/// The response is a 422 whose message contains `text`.
async fn refused_with(response: reqwest::Response, text: &str) {
    assert_eq!(response.status(), 422);
    let error = json(response).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains(text), "{error}");
}

async fn refused(app: &TestApp, body: Value, field: &str) -> String {
    let response = app.post_json("/api/dca/config", body.clone()).await;
    assert_eq!(response.status(), 422, "{body}");
    let error = json(response).await;
    assert_eq!(error["error"]["code"], "validation_failed");
    error["error"]["fields"][field]
        .as_str()
        .unwrap_or_else(|| panic!("expected {field} in {error}"))
        .to_owned()
}

async fn plan_count(app: &TestApp) -> usize {
    json(app.get("/api/dca/config").await).await["plans"]
        .as_array()
        .unwrap()
        .len()
}

async fn plans_are_held_to_the_users_tier(app: &TestApp) {
    let table = json(app.get("/api/billing/tiers").await).await;
    assert_eq!(table["billing"], true);
    assert_eq!(table["tiers"][0]["tier"], "free");
    assert_eq!(table["tiers"][0]["max_symbols"], 3);
    assert_eq!(table["tiers"][2]["name"], "Pro");
    assert_eq!(table["tiers"][2]["price"], "19");
    assert_eq!(table["tiers"][3]["max_symbols"], Value::Null);

    app.sign_up("tiers@example.com", PASSWORD).await;
    // A new user is on Free: weekly Pure DCA, three symbols.
    assert_eq!(
        refused(app, plan("daily", &["SPY"]), "schedule.frequency").await,
        "Free allows weekly plans; daily needs Pro."
    );
    let weekly = app
        .post_json("/api/dca/config", plan("weekly", &["SPY", "QQQ"]))
        .await;
    assert_eq!(weekly.status(), 201);
    let message = refused(app, plan("weekly", &["VTI", "IWM"]), "legs").await;
    assert!(
        message.starts_with("Free allows 3 different symbols") && message.ends_with("needs Pro."),
        "{message}"
    );
    let mut smart = plan("weekly", &["SPY"]);
    smart["mode"] = json!("smart");
    smart["smart"] =
        json!({"condition": {"kind": "close_above_sma", "period": 50}, "when_not_met": "skip"});
    assert_eq!(
        refused(app, smart.clone(), "mode").await,
        "Free allows Pure DCA; Smart DCA needs Premium."
    );
    assert_eq!(plan_count(app).await, 1, "nothing refused was saved");

    // On Pro: every schedule and ten symbols.
    set_tier(app, "tiers@example.com", Tier::Pro).await;
    let daily = app
        .post_json("/api/dca/config", plan("daily", &["SPY"]))
        .await;
    assert_eq!(daily.status(), 201);
    let daily_id = json(daily).await["id"].as_str().unwrap().to_owned();
    let more = app
        .post_json("/api/dca/config", plan("weekly", &["VTI", "IWM"]))
        .await;
    assert_eq!(more.status(), 201);

    // Back on Free, a paused daily plan does not resume; on Pro again it does.
    set_tier(app, "tiers@example.com", Tier::Free).await;
    let paused = app
        .post_json("/api/dca/pause", json!({"plan_id": daily_id}))
        .await;
    assert_eq!(paused.status(), 200);
    let resumed = app
        .post_json("/api/dca/start", json!({"plan_id": daily_id}))
        .await;
    refused_with(resumed, "daily needs Pro.").await;
    set_tier(app, "tiers@example.com", Tier::Pro).await;
    let resumed = app
        .post_json("/api/dca/start", json!({"plan_id": daily_id}))
        .await;
    assert_eq!(resumed.status(), 200);
    assert_eq!(json(resumed).await["status"], "active");
}

/// The editor asks before the user presses save: the REST check and the server function's
/// `check_only` answer what saving would (the tier's message, or the plan), saving nothing.
async fn a_draft_is_checked_against_the_tier_before_it_is_saved(app: &TestApp) {
    app.sign_up("drafts@example.com", PASSWORD).await;
    let checked = app
        .post_json("/api/dca/config/check", plan("daily", &["SPY"]))
        .await;
    assert_eq!(checked.status(), 422);
    let error = json(checked).await;
    assert_eq!(error["error"]["code"], "validation_failed");
    assert_eq!(
        error["error"]["fields"]["schedule.frequency"],
        "Free allows weekly plans; daily needs Pro."
    );
    let fine = app
        .post_json("/api/dca/config/check", plan("weekly", &["SPY"]))
        .await;
    assert_eq!(fine.status(), 200);
    let fine = json(fine).await;
    assert_eq!(fine["id"], Value::Null, "{fine}");
    assert_eq!(fine["schedule"]["frequency"], "weekly");

    let call = |check_only: bool, body: Value| {
        app.client
            .post(app.url("/api/fn/save_plan"))
            .json(&json!({"plan": body, "check_only": check_only}))
            .send()
    };
    let asked = call(true, plan("weekly", &["SPY", "QQQ", "VTI", "IWM"]))
        .await
        .unwrap();
    assert_eq!(asked.status(), 422);
    let message = json(asked).await["error"]["fields"]["legs"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("Free allows 3 different symbols"),
        "{message}"
    );
    assert_eq!(
        call(true, plan("weekly", &["SPY"])).await.unwrap().status(),
        200
    );
    assert_eq!(plan_count(app).await, 0, "a check saves nothing");
    assert_eq!(
        call(false, plan("weekly", &["SPY"]))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(plan_count(app).await, 1);

    // An anonymous caller is told to sign in, not what a plan would be.
    let anonymous = app
        .other_client()
        .post(app.url("/api/dca/config/check"))
        .json(&plan("weekly", &["SPY"]))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

async fn live_keys_need_a_tier_with_live_trading(app: &TestApp) {
    app.sign_up("live@example.com", PASSWORD).await;
    let keys =
        json!({"environment": "live", "key_id": "AKTESTKEY123", "secret": "not-a-real-secret"});
    let free = app.post_json("/api/broker/connection", keys.clone()).await;
    assert_eq!(free.status(), 422);
    let error = json(free).await;
    assert_eq!(
        error["error"]["fields"]["environment"],
        "Free trades on paper only; live trading needs Basic."
    );
    // Basic may trade live: the next rule (30 days of paper trading first) answers.
    set_tier(app, "live@example.com", Tier::Basic).await;
    let basic = app.post_json("/api/broker/connection", keys).await;
    assert_eq!(basic.status(), 403);
    assert_eq!(json(basic).await["error"]["code"], "live_locked");
}

async fn usage_counts_plans_and_this_months_purchases(app: &TestApp) {
    app.sign_up("usage@example.com", PASSWORD).await;
    app.set_market_time("2026-11-30T15:00:00Z").await;
    let created = app
        .post_json("/api/dca/config", plan("weekly", &["SPY", "QQQ"]))
        .await;
    assert_eq!(created.status(), 201);
    let id = json(created).await["id"].as_str().unwrap().to_owned();
    let before = json(app.get("/api/billing").await).await;
    assert_eq!(before["tier"], "free");
    assert_eq!(before["billing"], true);
    assert_eq!(before["limits"]["max_symbols"], 3);
    assert_eq!(before["status"], Value::Null);
    assert_eq!(
        before["usage"],
        json!({"symbols": 2, "plans": 1, "purchases_this_month": 0, "volume_this_month": "0"})
    );

    let run = app
        .post_json("/api/dca/run-now", json!({"plan_id": id}))
        .await;
    assert_eq!(run.status(), 202);
    let mut usage = Value::Null;
    for _ in 0..300 {
        usage = json(app.get("/api/billing").await).await["usage"].clone();
        if usage["purchases_this_month"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(usage["purchases_this_month"], 2, "{usage}");
    let volume: rust_decimal::Decimal = usage["volume_this_month"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (volume - rust_decimal::Decimal::from(20)).abs() <= rust_decimal::Decimal::new(2, 2),
        "two $10 purchases: {volume}"
    );
    // An admin sees the same usage on the user's page, counted from the same history.
    let admin = crate::helpers::signed_in_admin(app, "ops@example.com").await;
    let user = crate::helpers::user_id(app, &app.client).await;
    let seen = admin
        .get(app.url(&format!("/api/admin/users/{user}")))
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200);
    let seen = json(seen).await;
    assert_eq!(seen["billing"]["usage"], usage, "{seen}");
    assert_eq!(seen["billing"]["tier"], "free");
    // The month (New York) turns: last month's purchases no longer count.
    app.clock.advance_minutes(5 * 24 * 60);
    let december = json(app.get("/api/billing").await).await;
    assert_eq!(december["usage"]["purchases_this_month"], 0);
    assert_eq!(december["usage"]["plans"], 1);

    // Anonymous callers get 401.
    let anonymous = app
        .other_client()
        .get(app.url("/api/billing"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

async fn create(app: &TestApp, body: Value) -> String {
    let response = app.post_json("/api/dca/config", body).await;
    assert_eq!(response.status(), 201);
    json(response).await["id"].as_str().unwrap().to_owned()
}

/// The plan's purchases once `n` of them have an outcome.
async fn answered(app: &TestApp, plan_id: &str, n: usize) -> Vec<Value> {
    let mut purchases = Vec::new();
    for _ in 0..300 {
        let page = json(
            app.get(&format!("/api/dca/history?plan_id={plan_id}"))
                .await,
        )
        .await;
        purchases = page["purchases"].as_array().unwrap().clone();
        let done = purchases
            .iter()
            .filter(|p| p["status"] != "pending" && p["status"] != "accepted")
            .count();
        if done >= n {
            return purchases;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no outcome for {plan_id}: {purchases:?}");
}

async fn a_downgrade_pauses_the_newest_plans_when_they_run(app: &TestApp) {
    app.sign_up("downgrade@example.com", PASSWORD).await;
    app.set_market_time("2026-11-30T15:00:00Z").await;
    set_tier(app, "downgrade@example.com", Tier::Pro).await;
    let oldest = create(app, plan("weekly", &["SPY", "QQQ"])).await;
    app.clock.advance_minutes(1);
    let daily = create(app, plan("daily", &["SPY"])).await;
    app.clock.advance_minutes(1);
    let newest = create(app, plan("weekly", &["VTI", "IWM"])).await;
    set_tier(app, "downgrade@example.com", Tier::Free).await;

    // "Buy now" asks the tier as well.
    let now = app
        .post_json("/api/dca/run-now", json!({"plan_id": daily}))
        .await;
    refused_with(now, "daily needs Pro.").await;
    // Monday 10:00 New York: every plan's scheduled purchase comes due.
    app.clock.advance_minutes((2 * 24 + 15) * 60);
    // What fits Free, oldest first, keeps buying.
    let bought = answered(app, &oldest, 2).await;
    assert!(bought.iter().all(|p| p["status"] == "filled"), "{bought:?}");
    // The rest are paused with the reason, and buy nothing.
    for (id, why) in [
        (&daily, "daily needs Pro."),
        (&newest, "4 symbols needs Pro."),
    ] {
        let skipped = answered(app, id, 1).await;
        assert!(
            skipped.iter().all(|p| p["status"] == "skipped"
                && p["skip_reason"] == "plan_inactive"
                && p["reason"].as_str().unwrap().starts_with("Paused: ")
                && p["reason"].as_str().unwrap().contains(why)),
            "{skipped:?}"
        );
        let plan = json(app.get(&format!("/api/dca/config/{id}")).await).await;
        assert_eq!(plan["status"], "paused", "{plan}");
    }
    let oldest_plan = json(app.get(&format!("/api/dca/config/{oldest}")).await).await;
    assert_eq!(oldest_plan["status"], "active");
    assert!(
        app.audit_actions()
            .await
            .contains(&"plan_paused".to_string())
    );
}

/// A "buy now" queued before the plan was stopped and the tier lowered buys nothing, and
/// the plan stays stopped (the scheduler pauses only active plans).
async fn a_queued_buy_now_of_a_stopped_plan_beyond_the_tier_buys_nothing(app: &TestApp) {
    app.sign_up("stopped@example.com", PASSWORD).await;
    app.set_market_time("2026-11-30T15:00:00Z").await;
    set_tier(app, "stopped@example.com", Tier::Pro).await;
    let id = create(app, plan("daily", &["SPY"])).await;
    let stopped = app.post_json("/api/dca/stop", json!({"plan_id": id})).await;
    assert_eq!(stopped.status(), 200);
    set_tier(app, "stopped@example.com", Tier::Free).await;
    let user = crate::helpers::user_id(app, &app.client).await;
    let now = app.clock.now().millis();
    sqlx::query(
        "INSERT INTO slots (id, plan_id, user_id, slot_at, kind, state, not_before, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'manual', 'due', $4, $4, $4)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&id)
    .bind(&user)
    .bind(now)
    .execute(app.db.pool())
    .await
    .unwrap();
    let skipped = answered(app, &id, 1).await;
    assert_eq!(skipped[0]["status"], "skipped", "{skipped:?}");
    assert_eq!(
        skipped[0]["reason"],
        "Free allows weekly plans; daily needs Pro."
    );
    let plan = json(app.get(&format!("/api/dca/config/{id}")).await).await;
    assert_eq!(plan["status"], "stopped");
}

on_both_backends!(
    config |c: &mut server::config::Config| {
        c.demo_broker = true;
        c.billing = true;
    };
    plans_are_held_to_the_users_tier,
    a_draft_is_checked_against_the_tier_before_it_is_saved,
    live_keys_need_a_tier_with_live_trading,
    usage_counts_plans_and_this_months_purchases,
    a_downgrade_pauses_the_newest_plans_when_they_run,
    a_queued_buy_now_of_a_stopped_plan_beyond_the_tier_buys_nothing,
);

mod billing_off {
    use super::*;

    async fn every_user_has_every_feature(app: &TestApp) {
        assert_eq!(
            json(app.get("/api/billing/tiers").await).await["billing"],
            false
        );
        app.sign_up("off@example.com", PASSWORD).await;
        let daily = app
            .post_json(
                "/api/dca/config",
                plan("daily", &["SPY", "QQQ", "VTI", "IWM"]),
            )
            .await;
        assert_eq!(daily.status(), 201);
        let view = json(app.get("/api/billing").await).await;
        assert_eq!(
            (&view["billing"], &view["tier"]),
            (&json!(false), &json!("premium"))
        );
    }

    on_both_backends!(demo_broker: every_user_has_every_feature);
}
