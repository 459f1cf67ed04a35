//! The DCA engine end to end: run-now and scheduled slots bought through the simulator,
//! history and account views, exactly-once execution across injected crashes, racing
//! workers, and tenant isolation.

use crate::helpers::{Backend, TestApp, json, live, next_json, signed_up};
use app::api::dca::{PurchaseStatus, SkipReason, SlotState};
use app::domain::ids::ClientOrderId;
use app::domain::market::Symbol;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use server::dca::scheduler::{FailPoint, Scheduler};
use server::dca::slots::{Finish, Intent};
use std::time::Duration;

const PASSWORD: &str = "correct horse battery";
/// Monday 2026-11-30 10:00 New York.
const MARKET_OPEN: &str = "2026-11-30T15:00:00Z";

fn plan() -> Value {
    json!({
        "name": "Core ETFs",
        "legs": [{"symbol": "SPY", "amount": "50.00"}, {"symbol": "QQQ", "amount": "25.00"}],
        "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon", "day_of_month": null,
                     "time": "10:00", "timezone": "America/New_York"}
    })
}

async fn create_plan(app: &TestApp) -> String {
    let created = app.post_json("/api/dca/config", plan()).await;
    assert_eq!(created.status(), 201);
    json(created).await["id"].as_str().unwrap().to_owned()
}

async fn history(app: &TestApp) -> Vec<Value> {
    json(app.get("/api/dca/history").await).await["purchases"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until `n` purchases are in a final state.
async fn settled(app: &TestApp, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let purchases = history(app).await;
        let done = purchases
            .iter()
            .filter(|p| p["status"] != "pending" && p["status"] != "accepted")
            .count();
        if purchases.len() >= n && done >= n {
            return purchases;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("purchases did not settle: {:?}", history(app).await);
}

/// Presses "buy now" on `plan_id` with an idempotency key until it is accepted (202):
/// while the plan's previous "buy now" is under way the server answers 409.
async fn buy_now(app: &TestApp, plan_id: &str, key: &str) {
    for _ in 0..600 {
        let response = app
            .client
            .post(app.url("/api/dca/run-now"))
            .header("idempotency-key", key)
            .json(&json!({"plan_id": plan_id}))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            202 => return,
            409 => tokio::time::sleep(Duration::from_millis(25)).await,
            other => panic!(
                "run-now answered {other}: {}",
                response.text().await.unwrap()
            ),
        }
    }
    panic!("the plan's previous buy-now never finished");
}

async fn run_now_buys_every_leg_once(app: &TestApp) {
    app.sign_up("runner@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let plan_id = create_plan(app).await;
    for _ in 0..2 {
        buy_now(app, &plan_id, "press-1").await;
    }
    let purchases = settled(app, 2).await;
    assert_eq!(
        purchases.len(),
        2,
        "the repeated request bought nothing more: {purchases:?}"
    );
    for p in &purchases {
        assert_eq!(p["status"], "filled", "{p}");
        assert!(p["qty"].as_str().unwrap().parse::<f64>().unwrap() > 0.0);
        assert!(p["price"].is_string() && p["filled_at"].is_string());
        assert!(p["client_order_id"].as_str().unwrap().len() <= 48);
    }
    let account = json(app.get("/api/account").await).await;
    assert_eq!(account["cash"], "99925", "$75 spent: {account}");
    let symbols: Vec<&str> = account["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["symbol"].as_str().unwrap())
        .collect();
    assert!(
        symbols.contains(&"SPY") && symbols.contains(&"QQQ"),
        "{account}"
    );
    assert_eq!(account["recent_orders"].as_array().unwrap().len(), 2);

    let csv = app.get("/api/dca/history.csv").await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    let audit = app.audit_actions().await;
    assert_eq!(audit.iter().filter(|a| *a == "order_submitted").count(), 2);
    assert_eq!(audit.iter().filter(|a| *a == "order_outcome").count(), 2);
}

async fn a_scheduled_slot_runs_at_its_time(app: &TestApp) {
    app.sign_up("scheduled@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    create_plan(app).await;
    // A scheduling pass of its own, run to the end here: it finds nothing due.
    assert!(
        !app.worker(|_| {}).tick().await.unwrap(),
        "nothing is due on Saturday"
    );
    assert!(history(app).await.is_empty(), "nothing is due on Saturday");
    // Saturday 00:00 UTC → Monday 15:01 UTC, a minute after the slot.
    app.clock.advance_minutes(2 * 24 * 60 + 15 * 60 + 1);
    let purchases = settled(app, 2).await;
    assert!(
        purchases
            .iter()
            .all(|p| p["status"] == "filled" && p["slot_at"] == "2026-11-30T15:00:00Z"),
        "{purchases:?}"
    );
    let plans = json(app.get("/api/dca/config").await).await;
    assert_eq!(
        plans["plans"][0]["next_run_at"], "2026-12-07T15:00:00Z",
        "moved on to next Monday"
    );

    // At 10:01 the user moves the plan to 14:00: today's purchase is made, so the new
    // time starts next Monday (not a second purchase this afternoon).
    let mut later = plans["plans"][0].clone();
    later["schedule"]["time"] = json!("14:00");
    let changed = app.post_json("/api/dca/config", later).await;
    assert_eq!(changed.status(), 200);
    assert_eq!(json(changed).await["next_run_at"], "2026-12-07T19:00:00Z");
    // Paused, moved back to 10:30 and resumed: still not today.
    let id = plans["plans"][0]["id"].clone();
    let paused = app
        .post_json("/api/dca/pause", json!({"plan_id": id}))
        .await;
    let mut earlier = json(paused).await;
    earlier["schedule"]["time"] = json!("10:30");
    assert_eq!(
        app.post_json("/api/dca/config", earlier).await.status(),
        200
    );
    let resumed = json(
        app.post_json("/api/dca/start", json!({"plan_id": id}))
            .await,
    )
    .await;
    assert_eq!(resumed["next_run_at"], "2026-12-07T15:30:00Z", "{resumed}");
    app.clock.advance_minutes(4 * 60);
    assert!(!app.worker(|_| {}).tick().await.unwrap());
    assert_eq!(
        history(app).await.len(),
        2,
        "one purchase of each leg today"
    );
}

async fn users_cannot_run_or_see_each_others_purchases(app: &TestApp) {
    app.sign_up("owner@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let plan_id = create_plan(app).await;
    app.post_json("/api/dca/run-now", json!({"plan_id": plan_id}))
        .await;
    settled(app, 2).await;

    let other = app.other_client();
    other
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "intruder@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let run = other
        .post(app.url("/api/dca/run-now"))
        .json(&json!({"plan_id": plan_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 404);
    let theirs = json(other.get(app.url("/api/dca/history")).send().await.unwrap()).await;
    assert_eq!(theirs["purchases"], json!([]));
    let their_account = json(other.get(app.url("/api/account")).send().await.unwrap()).await;
    assert_eq!(
        their_account["positions"],
        json!([]),
        "a separate paper account"
    );
    let anonymous = app
        .other_client()
        .get(app.url("/api/account"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// Pages of history follow on without gaps or repeats, even where purchases share their
/// creation time (the test clock stands still, so here they all do, as the legs of one
/// slot always do), and the CSV export holds every purchase.
async fn history_pages_never_skip_purchases(app: &TestApp) {
    app.sign_up("pager@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let plan_id = create_plan(app).await;
    for key in ["page-1", "page-2", "page-3"] {
        buy_now(app, &plan_id, key).await;
    }
    let all: Vec<String> = settled(app, 6)
        .await
        .iter()
        .map(|p| p["client_order_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 6);

    let mut paged = Vec::new();
    let mut url = "/api/dca/history?limit=4".to_owned();
    for pages in 1.. {
        assert!(pages <= 2, "more pages than purchases allow");
        let page = json(app.get(&url).await).await;
        for p in page["purchases"].as_array().unwrap() {
            paged.push(p["client_order_id"].as_str().unwrap().to_owned());
        }
        match page["next_before"].as_str() {
            Some(cursor) => url = format!("/api/dca/history?limit=4&before={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, all, "two pages, in the same order as one listing");
    let exact = json(app.get("/api/dca/history?limit=6").await).await;
    assert_eq!(
        exact["next_before"],
        Value::Null,
        "a page that holds the rest says it is the last"
    );

    let bad = app.get("/api/dca/history?before=yesterday").await;
    assert_eq!(bad.status(), 422);
    assert!(json(bad).await["error"]["fields"]["before"].is_string());
    let garbled = app.get("/api/dca/history?limit=many").await;
    assert_eq!(garbled.status(), 400);
    assert_eq!(json(garbled).await["error"]["code"], "bad_request");
    let anonymous = app
        .other_client()
        .get(app.url("/api/dca/history?before=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "who asks comes before what they ask"
    );

    let csv = app.get("/api/dca/history.csv").await.text().await.unwrap();
    assert_eq!(csv.lines().count(), 7, "a header and every purchase: {csv}");
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The database's plan for `sql` with the binds `bind` adds, as text. (PostgreSQL is told
/// not to prefer a table scan, which it would on tables this small.)
async fn query_plan(
    app: &TestApp,
    sql: &str,
    bind: impl for<'q> FnOnce(AnyQuery<'q>) -> AnyQuery<'q>,
) -> String {
    use sqlx::Row as _;
    let mut tx = app.db.pool().begin().await.unwrap();
    // The plan's text is the fourth column of SQLite's answer, PostgreSQL's only one.
    let (explain, column) = match app.db.backend() {
        server::db::Backend::Sqlite => (format!("EXPLAIN QUERY PLAN {sql}"), 3),
        server::db::Backend::Postgres => {
            sqlx::query("SET LOCAL enable_seqscan = off")
                .execute(&mut *tx)
                .await
                .unwrap();
            (format!("EXPLAIN {sql}"), 0)
        }
    };
    let rows = bind(sqlx::query(&explain))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>(column)).collect();
    plan.join("\n")
}

/// The history page's query walks `purchases_user_created_id` in order: no page sorts the
/// user's whole history.
async fn history_query_reads_its_index(app: &TestApp) {
    let plan = query_plan(app, &server::dca::slots::purchase_history_sql(), |q| {
        q.bind("some-user")
            .bind("")
            .bind("")
            .bind(i64::MAX)
            .bind("")
            .bind(51_i64)
    })
    .await;
    assert!(plan.contains("purchases_user_created_id"), "{plan}");
    assert!(
        !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
        "the index gives the order: {plan}"
    );
}

/// A slot reads its purchases several times a run: by `purchases_slot`, in order, never by
/// scanning every purchase ever made (which made the engine slow down as history grew).
async fn slot_purchases_read_their_index(app: &TestApp) {
    let plan = query_plan(app, &server::dca::slots::slot_purchases_sql(), |q| {
        q.bind("some-slot")
    })
    .await;
    assert!(plan.contains("purchases_slot"), "{plan}");
    assert!(
        !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
        "the index gives the order: {plan}"
    );
}

/// Waits until `n` purchases have filled.
async fn filled(app: &TestApp, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let bought: Vec<Value> = history(app)
            .await
            .into_iter()
            .filter(|p| p["status"] == "filled")
            .collect();
        if bought.len() >= n {
            return bought;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("purchases did not fill: {:?}", history(app).await);
}

fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value}"))
        .parse()
        .unwrap()
}

/// Moves the app's and the market's clocks together.
async fn at(app: &TestApp, when: &str) {
    app.set_market_time(when).await;
    let instant: jiff::Timestamp = when.parse().unwrap();
    app.clock.set(app::domain::time::Timestamp::from_millis(
        instant.as_millisecond(),
    ));
}

/// `GET /api/performance` and the position page count what the plans bought, valued at the
/// broker's prices, per plan and for the account, with a point per trading day.
async fn performance_counts_what_the_plans_bought(app: &TestApp) {
    assert_eq!(app.get("/api/performance").await.status(), 401);
    app.sign_up("returns@example.com", PASSWORD).await;
    let empty = json(app.get("/api/performance").await).await;
    assert_eq!(decimal(&empty["account"]["invested"]), Decimal::ZERO);
    assert_eq!(empty["account"]["xirr_note"], "Nothing invested yet.");
    at(app, MARKET_OPEN).await;
    // Fridays at 15:00: no scheduled purchase below; "buy now" makes them all.
    let mut weekly = plan();
    weekly["schedule"]["weekday"] = json!("fri");
    weekly["schedule"]["time"] = json!("15:00");
    let created = app.post_json("/api/dca/config", weekly).await;
    assert_eq!(created.status(), 201);
    let plan_id = json(created).await["id"].as_str().unwrap().to_owned();
    buy_now(app, &plan_id, "returns-1").await;
    let bought = filled(app, 2).await;
    let cost =
        |p: &Value| app::domain::market::round_cents(decimal(&p["qty"]) * decimal(&p["price"]));
    let invested: Decimal = bought.iter().map(cost).sum();

    let perf = json(app.get("/api/performance").await).await;
    assert_eq!(decimal(&perf["account"]["invested"]), invested, "{perf}");
    assert!(perf["account"]["xirr_pct"].is_null());
    assert!(
        perf["account"]["xirr_note"]
            .as_str()
            .unwrap()
            .contains("30 days"),
        "{perf}"
    );
    assert_eq!(perf["plans"][0]["name"], "Core ETFs");
    assert_eq!(decimal(&perf["plans"][0]["returns"]["invested"]), invested);
    // Valued at the broker's prices: the positions' market values.
    let account = json(app.get("/api/account").await).await;
    let market: Decimal = account["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| decimal(&p["market_value"]))
        .sum();
    let value = decimal(&perf["account"]["value"]);
    assert!(
        (value - market).abs() <= Decimal::new(2, 2),
        "{value} vs {market}"
    );
    for holding in perf["holdings"].as_array().unwrap() {
        let (qty, cost) = (decimal(&holding["qty"]), decimal(&holding["cost"]));
        assert_eq!(
            decimal(&holding["average_cost"]),
            app::domain::market::round_cents(cost / qty)
        );
    }

    // Six weeks on, a second purchase: the rates appear, and the chart has a point for
    // every trading day in between.
    at(app, "2027-01-14T15:00:00Z").await;
    buy_now(app, &plan_id, "returns-2").await;
    let bought = filled(app, 4).await;
    let invested: Decimal = bought.iter().map(cost).sum();
    // The user sells, at the broker themself, as many SPY shares as the November purchase
    // bought: the account's activities show it, and its profit is realized first in, first
    // out (against the November price, not January's).
    let spy: Vec<&Value> = bought.iter().filter(|p| p["symbol"] == "SPY").collect();
    let by_time = |p: &&&Value| p["filled_at"].as_str().unwrap().to_owned();
    let (first, last) = (
        spy.iter().min_by_key(by_time).unwrap(),
        spy.iter().max_by_key(by_time).unwrap(),
    );
    let qty = decimal(&first["qty"]);
    let sale = crate::helpers::sell_at_the_broker(app, "SPY", &qty.to_string()).await;
    let fifo = app::domain::market::round_cents(qty * (sale - decimal(&first["price"])));
    let newest_first = app::domain::market::round_cents(qty * (sale - decimal(&last["price"])));
    let perf = json(app.get("/api/performance").await).await;
    assert_eq!(decimal(&perf["realized_pl"]), fifo, "{perf}");
    assert!(
        fifo != newest_first || first["price"] == last["price"],
        "the check tells first-in-first-out from newest-first"
    );
    assert_eq!(decimal(&perf["dividends"]), Decimal::ZERO);
    // Read again within five minutes, the activities are not: a second sale shows later.
    let second = crate::helpers::sell_at_the_broker(app, "SPY", "0.001").await;
    let again = json(app.get("/api/performance").await).await;
    assert_eq!(again["realized_pl"], perf["realized_pl"]);
    app.clock.advance_minutes(6);
    let later = json(app.get("/api/performance").await).await;
    let from_january = app::domain::market::round_cents(
        qty * (sale - decimal(&first["price"]))
            + Decimal::new(1, 3)
                * (second
                    - decimal(
                        &spy.iter()
                            .find(|p| p["filled_at"] != first["filled_at"])
                            .unwrap()["price"],
                    )),
    );
    assert_eq!(decimal(&later["realized_pl"]), from_january, "{later}");
    // The shares sold were the plan's November SPY: they are no longer invested nor held
    // (their cost comes off, the money they brought back counts for the rates).
    let account = &perf["account"];
    let held = invested - cost(first);
    assert_eq!(decimal(&account["invested"]), held, "{perf}");
    assert_eq!(decimal(&perf["plans"][0]["returns"]["invested"]), held);
    let spy_held: Vec<&Value> = perf["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["symbol"] == "SPY")
        .collect();
    assert_eq!(
        decimal(&spy_held[0]["qty"]),
        decimal(&last["qty"]),
        "{perf}"
    );
    assert_eq!(decimal(&spy_held[0]["cost"]), cost(last));
    assert!(account["xirr_pct"].is_string(), "{perf}");
    assert!(account["xirr_note"].is_null());
    assert!(account["twr_pct"].is_string(), "{perf}");
    assert_eq!(account["days"], 45);
    let series = perf["series"].as_array().unwrap();
    let sessions = app::domain::calendar::sessions(
        jiff::civil::date(2026, 11, 30),
        jiff::civil::date(2027, 1, 14),
    )
    .count();
    assert_eq!(series.len(), sessions, "one point per trading day");
    assert_eq!(series[0]["date"], "2026-11-30");
    assert_eq!(decimal(&series.last().unwrap()["invested"]), held);
    // The money-weighted rate counts the sale's gain as well as the gain on what is held:
    // a loss overall has a negative rate.
    let overall = decimal(&account["gain"]) + fifo;
    assert_eq!(
        overall < Decimal::ZERO,
        account["xirr_pct"].as_str().unwrap().starts_with('-'),
        "{account}"
    );

    // The position page lists the lots still held, first in first out: the November lot
    // was sold whole, and the second sale took 0.001 of January's.
    let page = app.get("/positions/SPY").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("SPY lots"), "{html}");
    assert_eq!(html.matches(r#"data-testid="lot""#).count(), 1, "{html}");
    assert!(html.contains("<td>2027-01-14</td>"), "{html}");
    let left = (decimal(&last["qty"]) - Decimal::new(1, 3)).normalize();
    assert!(
        html.contains(&format!(r#"data-testid="position-qty">{left}<"#)),
        "{left}: {html}"
    );
    assert_eq!(app.get("/positions/XLE").await.status(), 404);

    // Another user sees nothing of this.
    let other = app.other_client();
    other
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "stranger@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let theirs = json(other.get(app.url("/api/performance")).send().await.unwrap()).await;
    assert_eq!(decimal(&theirs["account"]["invested"]), Decimal::ZERO);
    assert_eq!(decimal(&theirs["realized_pl"]), Decimal::ZERO, "{theirs}");
    assert_eq!(theirs["plans"], json!([]));
    let page = other.get(app.url("/positions/SPY")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/positions/SPY"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.headers()["location"], "/login");
}

on_both_backends!(
    demo_broker:
    run_now_buys_every_leg_once,
    performance_counts_what_the_plans_bought,
    a_scheduled_slot_runs_at_its_time,
    users_cannot_run_or_see_each_others_purchases,
    history_pages_never_skip_purchases,
    history_query_reads_its_index,
    slot_purchases_read_their_index,
);

/// A hand-driven worker failing at `fail_point` if given.
fn worker(app: &TestApp, fail_point: Option<FailPoint>) -> std::sync::Arc<Scheduler> {
    app.worker(|c| c.fail_point = fail_point)
}

/// A worker that "crashes" after writing intents, or after sending orders, leaves its
/// lease; once it expires, another worker finishes the slot without buying twice.
async fn crashes_never_buy_twice(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("crash@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let plan_id = create_plan(&app).await;
    let scheduler = |fail_point| worker(&app, fail_point);
    let orders = || async {
        json(app.get("/api/account").await).await["recent_orders"]
            .as_array()
            .unwrap()
            .len()
    };

    for (round, fail_point) in [(1, FailPoint::AfterIntents), (2, FailPoint::AfterSend)] {
        buy_now(&app, &plan_id, &format!("press-{round}")).await;
        assert!(
            scheduler(Some(fail_point)).tick().await.is_err(),
            "the injected crash"
        );
        // The AfterSend crash comes after the slot's first order was sent.
        let expected_before = if fail_point == FailPoint::AfterIntents {
            2 * (round - 1)
        } else {
            2 * round - 1
        };
        assert_eq!(
            orders().await,
            expected_before,
            "{fail_point:?}: orders at the broker after the crash"
        );
        let healthy = scheduler(None);
        assert!(!healthy.tick().await.unwrap(), "the lease still holds");
        app.clock.advance_minutes(2);
        assert!(
            healthy.tick().await.unwrap(),
            "the expired lease is reclaimed"
        );
        assert_eq!(
            orders().await,
            2 * round,
            "{fail_point:?}: one order per leg, never two"
        );
    }
    let purchases = history(&app).await;
    assert_eq!(purchases.len(), 4);
    assert!(
        purchases.iter().all(|p| p["status"] == "filled"),
        "{purchases:?}"
    );
    app.cleanup().await;
}

/// Deleting a plan while one of its purchases is under way: a slot whose intents are
/// written (the decision to buy was made) is followed to the end, once; a slot not yet
/// started buys nothing.
async fn a_plan_deleted_mid_slot(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("deleter@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let scheduler = |fail_point| worker(&app, fail_point);
    let delete = |plan_id: String| {
        let app = &app;
        async move {
            let url = app.url(&format!("/api/dca/config/{plan_id}"));
            app.client.delete(url).send().await.unwrap().status()
        }
    };

    let first = create_plan(&app).await;
    buy_now(&app, &first, "press-1").await;
    assert!(
        scheduler(Some(FailPoint::AfterIntents))
            .tick()
            .await
            .is_err(),
        "the injected crash, with the intents written"
    );
    assert_eq!(delete(first).await, 204);
    app.clock.advance_minutes(2);
    assert!(
        scheduler(None).tick().await.unwrap(),
        "the slot is reclaimed"
    );
    assert_eq!(
        broker_orders(&app).await.len(),
        2,
        "the purchase under way finished: one order per leg"
    );
    let purchases = history(&app).await;
    assert_eq!(purchases.len(), 2);
    assert!(
        purchases.iter().all(|p| p["status"] == "filled"),
        "{purchases:?}"
    );

    let second = create_plan(&app).await;
    buy_now(&app, &second, "press-2").await;
    assert_eq!(delete(second).await, 204);
    assert!(
        scheduler(None).tick().await.unwrap(),
        "the queued slot is taken and closed"
    );
    assert!(!scheduler(None).tick().await.unwrap(), "nothing is left");
    assert_eq!(
        broker_orders(&app).await.len(),
        2,
        "nothing was bought for the plan deleted before its purchase began"
    );
    assert_eq!(history(&app).await.len(), 2);
    app.cleanup().await;
}

const DONE: Finish<'static> = Finish {
    state: SlotState::Done,
    reason: None,
};

/// Two workers race to claim 1,000 due slots (of 1,000 users): each is claimed exactly once.
async fn racing_workers_claim_each_slot_once(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    app.sign_up("race@example.com", PASSWORD).await;
    let plan_id = create_plan(&app).await;
    for i in 0..1000 {
        let user = uuid::Uuid::new_v4().to_string();
        app.queue_slot(&plan_id, &user, 1_795_824_000_000 - 10_000 + i)
            .await;
    }
    let now = 1_795_824_000_000;
    let claim_all = |owner: &'static str| {
        let db = app.db.clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(slot) = db.claim_slot(owner, now, 600_000).await.unwrap() {
                assert!(
                    db.finish_slot(&slot.id, owner, DONE, &[], now, now)
                        .await
                        .unwrap()
                );
                claimed.push(slot.id);
            }
            claimed
        })
    };
    let (a, b) = (claim_all("worker-a"), claim_all("worker-b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut all: Vec<String> = a.iter().chain(&b).cloned().collect();
    assert_eq!(all.len(), 1000, "a: {}, b: {}", a.len(), b.len());
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 1000, "no slot was claimed twice");
    app.cleanup().await;
}

async fn purchases_arrive_live_for_their_owner_only(app: &TestApp) {
    app.set_market_time(MARKET_OPEN).await;
    let (alice, alice_cookie) = signed_up(app, "alice-live@example.com").await;
    let (_bob, bob_cookie) = signed_up(app, "bob-live@example.com").await;
    let mut alice_socket = live(app, &alice_cookie).await;
    let mut bob_socket = live(app, &bob_cookie).await;

    let created = alice
        .post(app.url("/api/dca/config"))
        .json(&plan())
        .send()
        .await
        .unwrap();
    let plan_id = json(created).await["id"].as_str().unwrap().to_owned();
    assert_eq!(
        next_json(&mut alice_socket, Duration::from_secs(2))
            .await
            .unwrap()["type"],
        "plan"
    );

    // Her dashboard shows her account: its balances are announced when they change.
    let seen = alice.get(app.url("/api/account")).send().await.unwrap();
    assert_eq!(seen.status(), 200);
    // The fills must arrive as events on the socket (each awaited with a bound that only
    // stops a hung test); how fast is a benchmark's business, not a test's.
    let run = alice
        .post(app.url("/api/dca/run-now"))
        .json(&json!({"plan_id": plan_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 202);
    let mut filled = Vec::new();
    let mut kinds = Vec::new();
    while filled.len() < 2 {
        let event = next_json(&mut alice_socket, Duration::from_secs(5))
            .await
            .expect("live events");
        kinds.push(event["type"].as_str().unwrap_or_default().to_owned());
        if event["type"] == "purchase" && event["purchase"]["status"] == "filled" {
            filled.push(event["purchase"]["symbol"].as_str().unwrap().to_owned());
        }
    }
    assert!(kinds.contains(&"run_status".to_owned()), "{kinds:?}");
    filled.sort();
    assert_eq!(filled, ["QQQ", "SPY"]);
    let account = loop {
        let event = next_json(&mut alice_socket, Duration::from_secs(5))
            .await
            .expect("an account event");
        if event["type"] == "account" {
            break event;
        }
    };
    assert_eq!(account["cash"], "99925");
    assert_eq!(
        next_json(&mut bob_socket, Duration::from_millis(500)).await,
        None,
        "Bob hears nothing of Alice"
    );

    // Without a session the socket says so as it closes (the browser goes to sign-in).
    let (mut anonymous, _) =
        tokio_tungstenite::connect_async(app.url("/api/ws").replacen("http", "ws", 1))
            .await
            .unwrap();
    use futures_util::StreamExt as _;
    let closed = tokio::time::timeout(Duration::from_secs(5), anonymous.next())
        .await
        .expect("an anonymous socket is closed at once");
    match closed {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), app::api::live::SESSION_ENDED)
        }
        other => panic!("an anonymous socket must be closed with 4401: {other:?}"),
    }
}

mod live_events {
    on_both_backends!(demo_broker: purchases_arrive_live_for_their_owner_only);
    use super::purchases_arrive_live_for_their_owner_only;
}

/// Waits until `n` purchases are final, however long the broker's faults make it take.
async fn settled_within(app: &TestApp, n: usize, limit: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    let (mut last_done, mut last_progress) = (0, tokio::time::Instant::now());
    loop {
        let purchases = json(app.get("/api/dca/history?limit=500").await).await["purchases"]
            .as_array()
            .unwrap()
            .clone();
        let done = purchases
            .iter()
            .filter(|p| p["status"] != "pending" && p["status"] != "accepted")
            .count();
        if done >= n {
            return purchases;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done} of {n} settled: {purchases:?}"
        );
        // The server's clock stands still in tests: when work stalls (a slot waiting out a
        // backoff or an expired lease after a broker fault), let a few minutes pass.
        if done > last_done {
            (last_done, last_progress) = (done, tokio::time::Instant::now());
        } else if last_progress.elapsed() > Duration::from_secs(3) {
            app.clock.advance_minutes(3);
            last_progress = tokio::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn broker_orders(app: &TestApp) -> Vec<Value> {
    json(app.get("/api/account").await).await["recent_orders"]
        .as_array()
        .unwrap()
        .clone()
}

/// Run-now five times while a fifth of the broker's answers fail: every leg is bought
/// exactly once.
async fn broker_faults_never_buy_twice(app: &TestApp) {
    app.sign_up("faults@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let plan_id = create_plan(app).await;
    let sim = app.demo_broker_url().unwrap();
    let faults = json!({"error_rate": 0.2, "statuses": [500, 502, 503]});
    reqwest::Client::new()
        .post(format!("{sim}/sim/v1/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    for i in 0..5 {
        buy_now(app, &plan_id, &format!("f{i}")).await;
    }
    let purchases = settled_within(app, 10, Duration::from_secs(60)).await;
    reqwest::Client::new()
        .delete(format!("{sim}/sim/v1/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(purchases.len(), 10);
    assert!(
        purchases.iter().all(|p| p["status"] == "filled"),
        "{purchases:?}"
    );
    let orders = broker_orders(app).await;
    let mut ids: Vec<&str> = orders
        .iter()
        .map(|o| o["client_order_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        (orders.len(), ids.len()),
        (10, 10),
        "one order per leg per slot at the broker"
    );
}

/// Two server instances on one database, sharing one simulator, execute 20 slots: every
/// leg once.
async fn two_instances_share_the_work(app: &TestApp) {
    app.sign_up("instances@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let plan_id = create_plan(app).await;
    let mut config = app.config.clone();
    config.demo_broker_url = app.demo_broker_url();
    let other = server::startup::Application::build_with_clock(&config, app.clock.clone())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let other = tokio::spawn(other.run_until(async {
        let _ = stopped.await;
    }));
    for i in 0..20 {
        buy_now(app, &plan_id, &format!("i{i}")).await;
    }
    let purchases = settled_within(app, 40, Duration::from_secs(60)).await;
    let _ = stop.send(());
    other.await.unwrap().unwrap();
    assert_eq!(purchases.len(), 40);
    assert!(purchases.iter().all(|p| p["status"] == "filled"));
    assert_eq!(
        broker_orders(app).await.len(),
        20,
        "recent_orders shows the latest 20"
    );
    let audit = app.audit_actions().await;
    assert_eq!(
        audit.iter().filter(|a| *a == "order_outcome").count(),
        40,
        "each order's outcome once"
    );
}

mod resilience {
    use super::{broker_faults_never_buy_twice, two_instances_share_the_work};
    on_both_backends!(demo_broker: broker_faults_never_buy_twice, two_instances_share_the_work);
}

/// The UI's server functions adapt the same service: same results, same checks.
async fn server_functions_adapt_the_same_service(app: &TestApp) {
    app.sign_up("fns@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    let call = |name: &str| app.client.post(app.url(&format!("/api/fn/{name}")));

    let saved = call("save_plan")
        .json(&json!({"plan": plan()}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let plan_id = json(saved).await["id"].as_str().unwrap().to_owned();
    let invalid = call("save_plan")
        .json(&json!({"plan": {"name": "", "legs": [], "schedule": plan()["schedule"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    assert!(json(invalid).await["error"]["fields"]["name"].is_string());

    let listed = json(call("load_plans").send().await.unwrap()).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let paused = json(
        call("set_plan_status")
            .form(&[("plan_id", plan_id.as_str()), ("status", "paused")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(paused["status"], "paused");
    let found = json(
        call("search_assets")
            .form(&[("query", "spy")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(found[0]["symbol"], "SPY");

    let run = call("run_plan_now")
        .form(&[("plan_id", plan_id.as_str()), ("request_id", "ui-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200);
    settled(app, 2).await;
    let page = json(
        call("load_history")
            .json(&json!({"filter": {"limit": 1}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page["purchases"].as_array().unwrap().len(), 1);
    assert!(
        page["next_before"].is_string(),
        "a page with more after it has a cursor: {page}"
    );
    let account = json(call("load_account").send().await.unwrap()).await;
    assert_eq!(account["cash"], "99925");

    let other = app.other_client();
    other
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "fns-other@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let theirs = other
        .post(app.url("/api/fn/set_plan_status"))
        .form(&[("plan_id", plan_id.as_str()), ("status", "stopped")])
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 404, "another user's plan is not found");
    let anonymous = app
        .other_client()
        .post(app.url("/api/fn/load_plans"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

mod server_functions {
    use super::server_functions_adapt_the_same_service;
    on_both_backends!(demo_broker: server_functions_adapt_the_same_service);
}

/// Smart DCA's carry-forward is rebuilt from history: the skips since the last purchase
/// whose condition did not hold; skips for any other reason are not owed.
async fn carried_amounts_come_from_history(app: &TestApp) {
    app.sign_up("carry@example.com", PASSWORD).await;
    let plan_id = create_plan(app).await;
    let user_id = json(app.get("/api/auth/me").await).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut slots = Vec::new();
    for i in 0..4 {
        // Each slot as if another user's, so that claiming one does not hold up the next.
        let user = if i == 0 {
            user_id.clone()
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        app.queue_slot(&plan_id, &user, 1_000 + i).await;
        let slot = app
            .db
            .claim_slot("test", 10_000, 60_000)
            .await
            .unwrap()
            .unwrap();
        slots.push(slot);
    }
    let record = |slot: usize, symbol: &'static str, amount: i64, status, why, at: i64| {
        let slot = slots[slot].clone();
        let db = app.db.clone();
        async move {
            let symbol = Symbol::parse(symbol).unwrap();
            let cid = ClientOrderId::from_stored(format!("{}-{symbol}", slot.id));
            let intent = Intent {
                symbol: &symbol,
                side: app::domain::order::Side::Buy,
                notional: Decimal::from(amount),
                qty: None,
                client_order_id: &cid,
                status,
                skip_reason: why,
                reason: None,
                booked: None,
            };
            let written = db.record_intents(&slot, "test", std::slice::from_ref(&intent), None, at);
            assert!(written.await.unwrap().is_some());
        }
    };
    use PurchaseStatus::{Filled, Skipped};
    let not_met = Some(SkipReason::ConditionNotMet);
    record(0, "SPY", 50, Skipped, not_met, 1).await;
    record(0, "QQQ", 25, Skipped, not_met, 2).await;
    record(1, "SPY", 100, Filled, None, 3).await;
    record(2, "SPY", 50, Skipped, not_met, 4).await;
    record(2, "QQQ", 25, Skipped, not_met, 5).await;
    record(
        3,
        "SPY",
        50,
        Skipped,
        Some(SkipReason::BrokerUnavailable),
        6,
    )
    .await;
    record(3, "QQQ", 25, Skipped, Some(SkipReason::PlanInactive), 7).await;
    let mut owed = app.db.carried_since_last_purchase(&plan_id).await.unwrap();
    owed.sort();
    let qqq = Symbol::parse("QQQ").unwrap();
    let spy = Symbol::parse("SPY").unwrap();
    assert_eq!(
        owed,
        [
            (qqq.clone(), Decimal::from(25)),
            (qqq, Decimal::from(25)),
            (spy, Decimal::from(50))
        ]
    );
}

async fn carried_amounts_on(backend: Backend) {
    // No background workers: the test claims the slots itself.
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    carried_amounts_come_from_history(&app).await;
    app.cleanup().await;
}

/// A slot the server slept through by more than the grace window is recorded as missed,
/// with the reason, instead of buying late.
async fn a_slot_past_the_grace_window_is_missed(app: &TestApp) {
    app.sign_up("missed@example.com", PASSWORD).await;
    app.set_market_time(MARKET_OPEN).await;
    create_plan(app).await;
    // Saturday 00:00 UTC → Monday 20:01 UTC: five hours after the 15:00 slot (grace: 4 h).
    app.clock.advance_minutes(2 * 24 * 60 + 20 * 60 + 1);
    let purchases = settled(app, 2).await;
    for p in &purchases {
        assert_eq!(p["status"], "missed", "{p}");
        assert!(p["reason"].as_str().unwrap().contains("grace"), "{p}");
    }
    assert_eq!(broker_orders(app).await.len(), 0, "nothing was bought late");
    // Nothing was bought today, so moving the plan to 15:30 (New York) buys today.
    let plans = json(app.get("/api/dca/config").await).await;
    let mut later = plans["plans"][0].clone();
    later["schedule"]["time"] = json!("15:30");
    let changed = json(app.post_json("/api/dca/config", later).await).await;
    assert_eq!(changed["next_run_at"], "2026-11-30T20:30:00Z", "{changed}");
}

/// An order accepted while the market is closed is reconciled until it fills.
async fn orders_placed_while_closed_are_reconciled_when_they_fill(app: &TestApp) {
    app.sign_up("weekend@example.com", PASSWORD).await;
    app.set_market_time("2026-11-28T17:00:00Z").await; // Saturday
    let plan_id = create_plan(app).await;
    app.post_json("/api/dca/run-now", json!({"plan_id": plan_id}))
        .await;
    let mut accepted = Vec::new();
    for _ in 0..200 {
        accepted = history(app).await;
        if accepted.len() == 2 && accepted.iter().all(|p| p["status"] == "accepted") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        accepted
            .iter()
            .all(|p| p["status"] == "accepted" && p["qty"].is_null()),
        "{accepted:?}"
    );
    app.set_market_time(MARKET_OPEN).await; // Monday: the orders fill at the open
    app.clock.advance_minutes(1); // the reconcile pass asks again after its backoff
    let filled = settled(app, 2).await;
    for p in &filled {
        assert_eq!(p["status"], "filled", "{p}");
        assert!(p["qty"].is_string() && p["price"].is_string());
    }
}

mod schedule_edges {
    use super::{
        a_slot_past_the_grace_window_is_missed,
        orders_placed_while_closed_are_reconciled_when_they_fill,
    };
    on_both_backends!(
        demo_broker: a_slot_past_the_grace_window_is_missed,
        orders_placed_while_closed_are_reconciled_when_they_fill
    );
}

on_both_backends!(
    backend:
    a_plan_deleted_mid_slot,
    crashes_never_buy_twice,
    racing_workers_claim_each_slot_once,
    carried_amounts_on,
);
