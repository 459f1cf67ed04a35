//! Stripe billing (`billing = true`): the webhook (signature, replay, order, each
//! subscription state), the tier it sets and the plans a downgrade pauses; and the whole
//! round trip through the Stripe stand-in: Checkout (declined and paid), a second checkout
//! cancelling the first subscription, the portal's cancel at period end.

use crate::helpers::{TestApp, json, mark_verified, user_id};
use app::domain::time::Clock as _;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";
const SECRET: &str = "whsec_billing_tests";

fn billing_on(c: &mut server::config::Config) {
    c.demo_broker = true;
    c.billing = true;
    c.stripe_webhook_secret = Some(SECRET.into());
}

fn now_secs(app: &TestApp) -> i64 {
    app.clock.now().millis() / 1000
}

fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// Delivers `event` signed as Stripe would, at the app's time.
async fn deliver(app: &TestApp, event: &Value) -> reqwest::Response {
    deliver_signed(app, event, SECRET, now_secs(app)).await
}

async fn deliver_signed(app: &TestApp, event: &Value, secret: &str, t: i64) -> reqwest::Response {
    let body = event.to_string();
    app.other_client()
        .post(app.url("/api/billing/webhook"))
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", signature(secret, t, &body))
        .body(body)
        .send()
        .await
        .unwrap()
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "type": kind, "created": created,
        "api_version": "2025-08-27.basil", "livemode": false, "pending_webhooks": 1,
        "data": {"object": object}
    })
}

fn subscription(id: &str, user: &str, price: &str, status: &str, created: i64) -> Value {
    json!({
        "id": id, "object": "subscription", "customer": "cus_test_1", "status": status,
        "created": created, "cancel_at_period_end": false,
        "metadata": {"user_id": user},
        "items": {"object": "list", "data": [{
            "id": format!("si_{id}"), "price": {"id": price},
            "current_period_end": created + 30 * 86_400
        }]}
    })
}

async fn billing(app: &TestApp) -> Value {
    json(app.get("/api/billing").await).await
}

fn daily_plan(symbol: &str) -> Value {
    json!({
        "name": format!("daily {symbol}"), "mode": "pure",
        "legs": [{"symbol": symbol, "amount": "10.00"}],
        "schedule": {"frequency": "daily", "interval": 1, "time": "10:00",
                     "timezone": "America/New_York"}
    })
}

async fn webhooks_set_the_tier_exactly_once_and_in_order(app: &TestApp) {
    app.sign_up("payer@example.com", PASSWORD).await;
    let user = user_id(app, &app.client).await;
    let t = now_secs(app);
    assert_eq!(billing(app).await["tier"], "free");

    // Signed with another secret, stale, unsigned or not JSON: 400 and nothing changes.
    let created = event(
        "evt_1",
        "customer.subscription.created",
        t,
        subscription("sub_1", &user, "price_pro", "active", t),
    );
    for response in [
        deliver_signed(app, &created, "whsec_wrong", t).await,
        deliver_signed(app, &created, SECRET, t - 301).await,
        app.other_client()
            .post(app.url("/api/billing/webhook"))
            .header("content-type", "application/json")
            .body(created.to_string())
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 400);
        assert_eq!(json(response).await["error"]["code"], "bad_request");
    }
    assert_eq!(billing(app).await["tier"], "free");

    // The subscription buys Pro; its replay changes nothing.
    let response = deliver(app, &created).await;
    assert_eq!(response.status(), 200);
    let view = billing(app).await;
    assert_eq!(view["tier"], "pro", "{view}");
    assert_eq!(view["status"], "active");
    assert!(view["current_period_end"].is_string(), "{view}");
    assert_eq!(view["limits"]["max_symbols"], 10);
    let changes = |actions: Vec<String>| actions.iter().filter(|a| *a == "tier_changed").count();
    let before = changes(app.audit_actions().await);
    assert_eq!(deliver(app, &created).await.status(), 200);
    assert_eq!(
        changes(app.audit_actions().await),
        before,
        "a replay changes nothing"
    );

    // A Pro user saves a daily plan.
    assert_eq!(
        app.post_json("/api/dca/config", daily_plan("SPY"))
            .await
            .status(),
        201
    );

    // Out of order: the cancel-at-period-end update (t+20) arrives before an older one
    // (t+10); the older one changes nothing.
    let mut cancelling = subscription("sub_1", &user, "price_pro", "active", t);
    cancelling["cancel_at_period_end"] = json!(true);
    let newer = event("evt_3", "customer.subscription.updated", t + 20, cancelling);
    let older = event(
        "evt_2",
        "customer.subscription.updated",
        t + 10,
        subscription("sub_1", &user, "price_pro", "active", t),
    );
    assert_eq!(deliver(app, &newer).await.status(), 200);
    assert_eq!(deliver(app, &older).await.status(), 200);
    assert_eq!(billing(app).await["cancel_at_period_end"], true);

    // A failed payment: past due, the tier kept with a warning; paid again: active.
    let failed = event(
        "evt_4",
        "invoice.payment_failed",
        t + 30,
        json!({"id": "in_1", "object": "invoice", "customer": "cus_test_1",
               "parent": {"subscription_details": {"subscription": "sub_1"}}}),
    );
    assert_eq!(deliver(app, &failed).await.status(), 200);
    let view = billing(app).await;
    assert_eq!(
        (view["tier"].as_str(), view["status"].as_str()),
        (Some("pro"), Some("past_due"))
    );
    let paid = event(
        "evt_5",
        "invoice.paid",
        t + 40,
        json!({"id": "in_2", "object": "invoice", "subscription": "sub_1"}),
    );
    assert_eq!(deliver(app, &paid).await.status(), 200);
    assert_eq!(billing(app).await["status"], "active");

    // A subscription to a price this install does not sell buys nothing.
    let stranger = event(
        "evt_6",
        "customer.subscription.created",
        t + 50,
        subscription("sub_2", &user, "price_gold", "active", t + 50),
    );
    assert_eq!(deliver(app, &stranger).await.status(), 200);
    assert_eq!(billing(app).await["tier"], "pro");

    // Deleted: back to Free; the daily plan Free does not allow is paused, not deleted.
    let deleted = event(
        "evt_7",
        "customer.subscription.deleted",
        t + 60,
        subscription("sub_1", &user, "price_pro", "canceled", t),
    );
    assert_eq!(deliver(app, &deleted).await.status(), 200);
    let view = billing(app).await;
    assert_eq!(view["tier"], "free", "{view}");
    let plans = json(app.get("/api/dca/config").await).await;
    assert_eq!(plans["plans"][0]["status"], "paused", "{plans}");
    let why = plans["plans"][0]["paused_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        why.contains("daily needs Pro"),
        "the user is told why: {plans}"
    );
    // A replay of the first event changes nothing either.
    assert_eq!(deliver(app, &created).await.status(), 200);
    assert_eq!(
        billing(app).await["tier"],
        "free",
        "a replay is not applied again"
    );
    // A late "active" update of the cancelled subscription does not revive it.
    let late = event(
        "evt_8",
        "customer.subscription.updated",
        t + 60,
        subscription("sub_1", &user, "price_pro", "active", t),
    );
    assert_eq!(deliver(app, &late).await.status(), 200);
    assert_eq!(billing(app).await["tier"], "free");
    // Resuming it is refused on Free with the tier rule's message.
    let id = plans["plans"][0]["id"].as_str().unwrap();
    let resume = app
        .post_json("/api/dca/start", json!({"plan_id": id}))
        .await;
    assert_eq!(resume.status(), 422);
    // Upgraded again, the user resumes it and the reason is gone.
    let again = event(
        "evt_9",
        "customer.subscription.created",
        t + 70,
        subscription("sub_3", &user, "price_pro", "active", t + 70),
    );
    assert_eq!(deliver(app, &again).await.status(), 200);
    let resume = app
        .post_json("/api/dca/start", json!({"plan_id": id}))
        .await;
    assert_eq!(resume.status(), 200);
    let plans = json(app.get("/api/dca/config").await).await;
    assert_eq!(plans["plans"][0]["status"], "active", "{plans}");
    assert!(plans["plans"][0].get("paused_reason").is_none(), "{plans}");
}

async fn within_one_second_a_subscription_never_goes_back(app: &TestApp) {
    app.sign_up("sametime@example.com", PASSWORD).await;
    let user = user_id(app, &app.client).await;
    let t = now_secs(app);
    // Stripe's `created` counts whole seconds: `updated` (active) can arrive before
    // `created` (incomplete) of the same second.
    let active = subscription("sub_t", &user, "price_basic", "active", t);
    let incomplete = subscription("sub_t", &user, "price_basic", "incomplete", t);
    let updated = event("evt_t2", "customer.subscription.updated", t, active);
    let created = event("evt_t1", "customer.subscription.created", t, incomplete);
    assert_eq!(deliver(app, &updated).await.status(), 200);
    assert_eq!(deliver(app, &created).await.status(), 200);
    assert_eq!(billing(app).await["tier"], "basic");
}

async fn a_superseded_subscription_stripe_does_not_know_is_over(app: &TestApp) {
    app.sign_up("twice@example.com", PASSWORD).await;
    let user = user_id(app, &app.client).await;
    let t = now_secs(app);
    // Two paying subscriptions the stand-in never saw: the newer wins, and cancelling the
    // older answers 404, which ends it here too (no retry on every later event).
    let older = subscription("sub_old", &user, "price_basic", "active", t - 60);
    let newer = subscription("sub_new", &user, "price_pro", "active", t);
    let first = event("evt_o", "customer.subscription.created", t - 60, older);
    let second = event("evt_n", "customer.subscription.created", t, newer);
    assert_eq!(deliver(app, &first).await.status(), 200);
    assert_eq!(deliver(app, &second).await.status(), 200);
    assert_eq!(billing(app).await["tier"], "pro");
    let subs = app.db.subscriptions_of(&user).await.unwrap();
    let status = |id: &str| subs.iter().find(|s| s.id == id).unwrap().status.clone();
    assert_eq!(status("sub_old"), "canceled");
    assert_eq!(status("sub_new"), "active");
}

async fn unpaid_and_incomplete_expired_grant_nothing(app: &TestApp) {
    app.sign_up("lapsed@example.com", PASSWORD).await;
    let user = user_id(app, &app.client).await;
    let t = now_secs(app);
    for (n, status, tier) in [
        (1, "trialing", "premium"),
        (2, "unpaid", "free"),
        (3, "past_due", "premium"),
        (4, "incomplete_expired", "free"),
    ] {
        let sub = subscription("sub_9", &user, "price_premium", status, t);
        let response = deliver(
            app,
            &event(
                &format!("evt_s{n}"),
                "customer.subscription.updated",
                t + n,
                sub,
            ),
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(billing(app).await["tier"], tier, "{status}");
    }
}

/// Waits (briefly) until the caller's billing view satisfies `done`: the stand-in delivers
/// its webhooks in the background.
async fn eventually(app: &TestApp, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let view = billing(app).await;
        if done(&view) {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("billing never got there: {}", billing(app).await);
}

/// Pays a hosted checkout page with `card`; the response (303 when paid).
async fn pay(url: &str, card: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(url)
        .form(&[("card_number", card), ("expiry", "12 / 34"), ("cvc", "123")])
        .send()
        .await
        .unwrap()
}

async fn checkout_round_trip_through_the_stand_in(app: &TestApp) {
    let standin = app.stripe.clone().expect("the stand-in runs in demo mode");
    app.sign_up("checkout@example.com", PASSWORD).await;
    mark_verified(app, "checkout@example.com").await;
    // Free cannot save a daily plan.
    assert_eq!(
        app.post_json("/api/dca/config", daily_plan("QQQ"))
            .await
            .status(),
        422
    );
    // The portal needs a customer first.
    assert_eq!(
        app.post_json("/api/billing/portal", json!({}))
            .await
            .status(),
        409
    );

    let response = app
        .post_json("/api/billing/checkout", json!({"tier": "pro"}))
        .await;
    assert_eq!(response.status(), 200);
    let first = json(response).await["url"].as_str().unwrap().to_owned();
    // A declined card changes nothing.
    let declined = pay(&first, "4000 0000 0000 0002").await;
    assert_eq!(declined.status(), 402);
    assert!(declined.text().await.unwrap().contains("declined"));
    assert_eq!(billing(app).await["tier"], "free");

    // A second checkout started before the first is paid: both get paid.
    let response = app
        .post_json("/api/billing/checkout", json!({"tier": "premium"}))
        .await;
    let second = json(response).await["url"].as_str().unwrap().to_owned();
    let paid = pay(&first, "4242 4242 4242 4242").await;
    assert_eq!(paid.status(), 303);
    let back = paid.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&format!("{}/billing?checkout=done&tier=pro", app.base)),
        "{back}"
    );
    eventually(app, |v| v["tier"] == "pro").await;
    app.clock.advance_minutes(1);
    assert_eq!(pay(&second, "4242424242424242").await.status(), 303);
    // The newer subscription wins and the older one is cancelled at Stripe.
    eventually(app, |v| v["tier"] == "premium").await;
    for _ in 0..200 {
        let subs = standin.subscriptions();
        let canceled = subs.iter().filter(|s| s["status"] == "canceled").count();
        if canceled == 1 && subs.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let subs = standin.subscriptions();
    let statuses: Vec<_> = subs
        .iter()
        .map(|s| {
            (
                s["items"]["data"][0]["price"]["id"].clone(),
                s["status"].clone(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&(json!("price_pro"), json!("canceled"))),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(json!("price_premium"), json!("active"))),
        "{statuses:?}"
    );
    assert_eq!(
        billing(app).await["tier"],
        "premium",
        "the cancelled one changes nothing"
    );

    // Premium saves a daily plan; the portal cancels at period end; the period ends.
    assert_eq!(
        app.post_json("/api/dca/config", daily_plan("QQQ"))
            .await
            .status(),
        201
    );
    let response = app.post_json("/api/billing/portal", json!({})).await;
    assert_eq!(response.status(), 200);
    let portal = json(response).await["url"].as_str().unwrap().to_owned();
    assert!(portal.contains("/portal/"), "{portal}");
    // A subscriber changes plan in the portal, not with a second checkout.
    let again = app
        .post_json("/api/billing/checkout", json!({"tier": "pro"}))
        .await;
    assert_eq!(again.status(), 409);
    let premium = subs.iter().find(|s| s["status"] == "active").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance_minutes(1);
    standin.end_period(&premium).await.unwrap();
    // Renewed: still Premium. Then cancelled at the period's end: Free, plan paused.
    app.clock.advance_minutes(1);
    // The portal opens the customer that pays for Premium (the second checkout made a
    // second customer): its cancel button is there for that subscription.
    let cancel = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{portal}/subscriptions/{premium}/cancel"))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 303, "{}", cancel.text().await.unwrap());
    eventually(app, |v| v["cancel_at_period_end"] == true).await;
    app.clock.advance_minutes(1);
    standin.end_period(&premium).await.unwrap();
    eventually(app, |v| v["tier"] == "free").await;
    // The tier is committed first, then the plans it no longer allows are paused: a read
    // in between sees the plan still active for a moment.
    let mut plans = json(app.get("/api/dca/config").await).await;
    for _ in 0..200 {
        if plans["plans"][0]["status"] == "paused" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        plans = json(app.get("/api/dca/config").await).await;
    }
    assert_eq!(plans["plans"][0]["status"], "paused", "{plans}");
}

async fn billing_endpoints_need_a_session(app: &TestApp) {
    let anonymous = app.other_client();
    for path in ["/api/billing/checkout", "/api/billing/portal"] {
        let response = anonymous
            .post(app.url(path))
            .json(&json!({"tier": "pro"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
    }
    let response = anonymous
        .post(app.url("/api/fn/start_checkout"))
        .form(&[("tier", "pro")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Free is not for sale.
    app.sign_up("free@example.com", PASSWORD).await;
    mark_verified(app, "free@example.com").await;
    let response = app
        .post_json("/api/billing/checkout", json!({"tier": "free"}))
        .await;
    assert_eq!(response.status(), 422);
    assert!(json(response).await["error"]["fields"]["tier"].is_string());
}

on_both_backends!(
    config |c: &mut server::config::Config| super::billing_on(c);
    webhooks_set_the_tier_exactly_once_and_in_order,
    unpaid_and_incomplete_expired_grant_nothing,
    within_one_second_a_subscription_never_goes_back,
    a_superseded_subscription_stripe_does_not_know_is_over,
    checkout_round_trip_through_the_stand_in,
    billing_endpoints_need_a_session,
);

mod billing_off {
    use super::*;

    async fn the_webhook_is_not_there(app: &TestApp) {
        let t = now_secs(app);
        let response = deliver(app, &event("evt_x", "invoice.paid", t, json!({}))).await;
        assert_eq!(response.status(), 404);
        app.sign_up("selfhost@example.com", PASSWORD).await;
        let response = app
            .post_json("/api/billing/checkout", json!({"tier": "pro"}))
            .await;
        assert_eq!(response.status(), 409);
    }

    on_both_backends!(demo_broker: the_webhook_is_not_there);
}
