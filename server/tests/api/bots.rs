//! Signal bots trading through the engine: an MA-crossover bot plan evaluated after each
//! close for months of simulated days makes the very trades the backtester makes on the
//! same bars; its orders go out once; it holds its own shares, apart from DCA plans'.

use crate::helpers::{Backend, TestApp, json};
use app::domain::backtest::{BacktestConfig, Backtester};
use app::domain::ledger::PositionLedger;
use app::domain::market::Symbol;
use app::domain::strategy::ma_crossover::{MaCrossover, MaCrossoverConfig};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use server::broker::{Broker as _, TimeFrame};

const PASSWORD: &str = "correct horse battery";

fn bot_plan(allocation: &str) -> Value {
    json!({
        "name": "SPY crossover",
        "mode": "discretionary",
        "bot": {},
        "legs": [{"symbol": "SPY", "amount": allocation}],
        "schedule": {"frequency": "daily", "interval": 1, "time": "16:10",
                     "timezone": "America/New_York"}
    })
}

/// Moves the app's and the market's clocks together.
async fn at(app: &TestApp, when: jiff::Timestamp) {
    app.set_market_time(&when.to_string()).await;
    app.clock.set(app::domain::time::Timestamp::from_millis(
        when.as_millisecond(),
    ));
}

fn ny(date: jiff::civil::Date, hour: i8, minute: i8) -> jiff::Timestamp {
    app::domain::calendar::new_york()
        .to_timestamp(date.at(hour, minute, 0, 0))
        .unwrap()
}

fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value}"))
        .parse()
        .unwrap()
}

/// A trade as both sides can state it: entry and exit days (New York), quantity, prices.
type Round = (
    jiff::civil::Date,
    jiff::civil::Date,
    Decimal,
    Decimal,
    Decimal,
);

fn day_of(t: jiff::Timestamp) -> jiff::civil::Date {
    app::domain::calendar::new_york().to_datetime(t).date()
}

/// A bot plan evaluated after every close for 125 trading days (clock moved day by day,
/// its orders filled by the simulator at the next open) trades exactly as the backtester
/// does on the same bars, read from the same simulator: the same entries and exits, on the
/// same days, at the same prices, for the same quantities to the 8 decimal places an order
/// carries (the backtest keeps 9).
async fn a_bot_trades_as_its_backtest(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven_unthrottled(backend).await else {
        return;
    };
    let first_day = jiff::civil::date(2026, 6, 1);
    at(&app, ny(first_day, 9, 0)).await;
    app.sign_up("bot@example.com", PASSWORD).await;
    let created = app.post_json("/api/dca/config", bot_plan("10000")).await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let plan = json(created).await;
    assert_eq!(plan["mode"], "discretionary");
    assert_eq!(plan["bot"]["fast"], 5);
    assert_eq!(
        plan["next_run_at"], "2026-06-01T20:10:00Z",
        "its first evaluation: after that day's close"
    );
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    // A bot has no "buy now".
    let run = app
        .post_json("/api/dca/run-now", json!({"plan_id": plan_id}))
        .await;
    assert_eq!(run.status(), 409);

    let sessions = sessions(first_day, 125);
    run_days(&app, &sessions, false).await;
    let last_day = sessions.last().unwrap().date;

    // What the bot did, from the history: every order filled at an open.
    let history = json(app.get("/api/dca/history?limit=500").await).await;
    let purchases = history["purchases"].as_array().unwrap();
    let mut fills: Vec<&Value> = purchases
        .iter()
        .filter(|p| p["status"] == "filled")
        .collect();
    fills.sort_by_key(|p| p["filled_at"].as_str().unwrap().to_owned());
    assert!(
        purchases.iter().all(|p| p["status"] == "filled"
            || day_of(p["slot_at"].as_str().unwrap().parse().unwrap()) == last_day),
        "only the last evaluation's order may still wait for the next open: {purchases:?}"
    );
    let mut ledger = PositionLedger::default();
    let mut live: Vec<Round> = Vec::new();
    for fill in &fills {
        let (qty, price) = (decimal(&fill["qty"]), decimal(&fill["price"]));
        let time: jiff::Timestamp = fill["filled_at"].as_str().unwrap().parse().unwrap();
        match fill["side"].as_str().unwrap() {
            "buy" => ledger.buy(qty, price, Decimal::ZERO, time),
            "sell" => {
                if let Some(trade) = ledger.sell(qty, price, Decimal::ZERO, time).unwrap() {
                    live.push((
                        day_of(trade.entry_time),
                        day_of(trade.exit_time),
                        trade.qty,
                        trade.entry_price,
                        trade.exit_price,
                    ));
                }
            }
            other => panic!("side {other}"),
        }
    }

    // The backtest of the same bars from the same simulator.
    let user_id = crate::helpers::user_id(&app, &app.client).await;
    let broker = app.brokers().broker_for(&user_id).await.unwrap();
    let config = MaCrossoverConfig::default();
    let plan_row: app::api::dca::Plan =
        serde_json::from_value(json(app.get(&format!("/api/dca/config/{plan_id}")).await).await)
            .unwrap();
    let start = server::dca::scheduler::bot_start(&plan_row, &config, plan_row.created_at.unwrap())
        .unwrap();
    let spy = Symbol::parse("SPY").unwrap();
    let bars = broker
        .bars(&spy, TimeFrame::Day, ny(start, 0, 0), ny(last_day, 23, 0))
        .await
        .unwrap();
    let bars: Vec<_> = bars
        .into_iter()
        .filter(|b| (start..=last_day).contains(&b.exchange_date()))
        .collect();
    let mut backtest = Backtester::new(
        MaCrossover::new(spy.clone(), config),
        BacktestConfig {
            initial_cash: Decimal::from(10_000),
            ..BacktestConfig::default()
        },
        vec![],
    );
    for bar in &bars {
        backtest.push(&spy, bar).unwrap();
    }
    let report = backtest.finish();
    let expected: Vec<Round> = report
        .trades
        .iter()
        .filter(|t| day_of(t.exit_time) <= last_day)
        .map(|t| {
            (
                day_of(t.entry_time),
                day_of(t.exit_time),
                // Orders carry 8 decimal places; the backtest keeps 9.
                t.qty
                    .round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero)
                    .normalize(),
                t.entry_price,
                t.exit_price,
            )
        })
        .collect();
    assert!(
        expected.len() >= 2,
        "the simulated market should trade: {:?}",
        report.trades
    );
    assert_eq!(live, expected, "live trades against the backtest");
    // Sales are in the history as sales, each order once.
    assert!(fills.iter().any(|p| p["side"] == "sell"));
    let ids: std::collections::BTreeSet<&str> = purchases
        .iter()
        .map(|p| p["client_order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), purchases.len());
    app.cleanup().await;
}

/// A bot plan is made from a backtest's settings (the backtest page's server function),
/// keeps them when edited without them (the browser's editor never has them), and bad
/// settings are refused field by field.
async fn a_bot_keeps_its_settings_and_refuses_bad_ones(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    at(&app, ny(jiff::civil::date(2026, 6, 1), 9, 0)).await;
    app.sign_up("bot-settings@example.com", PASSWORD).await;
    let created = app
        .client
        .post(app.url("/api/fn/create_bot_plan"))
        .json(&json!({"symbol": "qqq", "amount": "2500",
                      "bot": {"fast": 10, "slow": 30, "sizing": {"kind": "all_in"},
                              "stop_loss": {"kind": "percent", "value": "4"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200, "{}", created.text().await.unwrap());
    let plan = json(created).await;
    assert_eq!(plan["name"], "QQQ crossover");
    assert_eq!(plan["legs"][0]["amount"], "2500");
    assert_eq!(plan["schedule"]["time"], "16:10");
    let id = plan["id"].as_str().unwrap().to_owned();
    let read = json(app.get(&format!("/api/dca/config/{id}")).await).await;
    assert_eq!(read["bot"]["slow"], 30);
    assert_eq!(read["bot"]["sizing"]["kind"], "all_in");
    assert_eq!(
        read["bot"]["stop_loss"],
        json!({"kind": "percent", "value": "4"})
    );

    // Renamed and given more capital, as the editor sends it: no settings.
    let mut edit = read.clone();
    edit.as_object_mut().unwrap().remove("bot");
    edit["name"] = "Nasdaq bot".into();
    edit["legs"][0]["amount"] = "3000".into();
    let saved = app.post_json("/api/dca/config", edit).await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());
    let saved = json(saved).await;
    assert_eq!(saved["name"], "Nasdaq bot");
    assert_eq!(saved["bot"], read["bot"], "the settings are kept");
    // Sent with settings, they change.
    let mut edit = saved.clone();
    edit["bot"] = json!({"fast": 5, "slow": 20});
    let saved = json(app.post_json("/api/dca/config", edit).await).await;
    assert_eq!(saved["bot"]["slow"], 20);
    assert_eq!(
        saved["bot"]["sizing"]["kind"], "atr_risk",
        "absent keys: the defaults"
    );

    // A bot stays a bot, on its symbol; a DCA plan does not become one.
    let mut pure = saved.clone();
    pure["mode"] = "pure".into();
    pure.as_object_mut().unwrap().remove("bot");
    pure["schedule"] = json!({"frequency": "weekly", "interval": 1, "weekday": "mon",
                              "time": "10:00", "timezone": "America/New_York"});
    let refused = app.post_json("/api/dca/config", pure).await;
    assert_eq!(refused.status(), 422);
    assert!(
        json(refused).await["error"]["fields"]["mode"]
            .as_str()
            .unwrap()
            .contains("stays a bot")
    );
    let mut other_symbol = saved.clone();
    other_symbol["legs"][0]["symbol"] = "SPY".into();
    let refused = app.post_json("/api/dca/config", other_symbol).await;
    assert_eq!(refused.status(), 422);
    assert!(json(refused).await["error"]["fields"]["legs[0].symbol"].is_string());
    let dca = json(
        app.post_json(
            "/api/dca/config",
            json!({"name": "weekly", "legs": [{"symbol": "SPY", "amount": "50"}],
                   "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                                "time": "10:00", "timezone": "America/New_York"}}),
        )
        .await,
    )
    .await;
    let mut into_bot = dca.clone();
    into_bot["mode"] = "discretionary".into();
    into_bot["schedule"] = bot_plan("1")["schedule"].clone();
    let refused = app.post_json("/api/dca/config", into_bot).await;
    assert_eq!(refused.status(), 422);
    assert!(
        json(refused).await["error"]["fields"]["mode"]
            .as_str()
            .unwrap()
            .contains("cannot become a bot")
    );

    // Bad settings, two symbols, a time before the close: each named.
    let mut bad = bot_plan("1000");
    bad["bot"] = json!({"fast": 30, "slow": 10});
    bad["legs"] = json!([{"symbol": "SPY", "amount": "500"}, {"symbol": "QQQ", "amount": "500"}]);
    bad["schedule"]["time"] = "11:00".into();
    let refused = app.post_json("/api/dca/config", bad).await;
    assert_eq!(refused.status(), 422);
    let fields = json(refused).await["error"]["fields"].clone();
    assert!(
        fields["bot.fast"]
            .as_str()
            .unwrap()
            .contains("below the slow"),
        "{fields}"
    );
    assert!(
        fields["legs"].as_str().unwrap().contains("one symbol"),
        "{fields}"
    );
    assert!(
        fields["schedule.time"]
            .as_str()
            .unwrap()
            .contains("after the close"),
        "{fields}"
    );
    let mut unknown = bot_plan("1000");
    unknown["bot"] = json!({"sizing": {"kind": "martingale"}});
    let refused = app.post_json("/api/dca/config", unknown).await;
    assert_eq!(refused.status(), 400);
    assert!(
        refused.text().await.unwrap().contains("unknown sizing"),
        "the bad key is named"
    );
    // A misspelt setting is refused, not silently left at its default.
    let mut misspelt = bot_plan("1000");
    misspelt["bot"] = json!({"fast": 5, "slwo": 30});
    let refused = app.post_json("/api/dca/config", misspelt).await;
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.unwrap();
    assert!(text.contains("unknown field `slwo`"), "{text}");
    app.cleanup().await;
}

/// Each trading day of `sessions`: the open (the last order fills), then the evaluation
/// after the close. With `crash`, the day's first worker "crashes" after writing its
/// intents (the signal decided, no order sent); another worker takes the slot over once
/// the lease has run out. Returns how many crashed.
async fn run_days(
    app: &TestApp,
    sessions: &[app::domain::calendar::Session],
    crash: bool,
) -> usize {
    let healthy = app.worker(|_| {});
    let mut crashes = 0;
    for session in sessions {
        at(
            app,
            session
                .open_at()
                .checked_add(jiff::SignedDuration::from_mins(1))
                .unwrap(),
        )
        .await;
        healthy.reconcile_once().await.unwrap();
        at(app, ny(session.date, 16, 11)).await;
        healthy.reconcile_once().await.unwrap();
        if crash {
            let failing = app
                .worker(|c| c.fail_point = Some(server::dca::scheduler::FailPoint::AfterIntents));
            loop {
                match failing.tick().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(_) => {
                        crashes += 1;
                        // The lease (one minute) runs out; another worker finishes.
                        at(app, ny(session.date, 16, 13)).await;
                        break;
                    }
                }
            }
        }
        while healthy.tick().await.unwrap() {}
    }
    crashes
}

fn sessions(from: jiff::civil::Date, n: usize) -> Vec<app::domain::calendar::Session> {
    app::domain::calendar::sessions(from, jiff::civil::date(2026, 12, 31))
        .take(n)
        .collect()
}

/// Workers that crash between the signal and its order: each order goes out once, and
/// the bot makes its backtest's first round trip all the same.
async fn a_crash_between_signal_and_order_sends_one_order(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    let first_day = jiff::civil::date(2026, 6, 1);
    at(&app, ny(first_day, 9, 0)).await;
    app.sign_up("bot-crash@example.com", PASSWORD).await;
    let created = app.post_json("/api/dca/config", bot_plan("10000")).await;
    assert_eq!(created.status(), 201);
    // Through the first round trip (in on 2026-06-09, out on 2026-06-26: see above).
    let crashes = run_days(&app, &sessions(first_day, 20), true).await;
    assert_eq!(crashes, 2, "the entry's and the exit's evaluations crashed");
    let history = json(app.get("/api/dca/history?limit=500").await).await;
    let purchases = history["purchases"].as_array().unwrap();
    let sides: Vec<(&str, &str)> = purchases
        .iter()
        .map(|p| (p["side"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sides,
        [("sell", "filled"), ("buy", "filled")],
        "{purchases:?}"
    );
    assert_eq!(
        purchases[0]["qty"], purchases[1]["qty"],
        "it sold what it bought"
    );
    let account = json(app.get("/api/account").await).await;
    let orders = account["recent_orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2, "one order each at the broker: {orders:?}");
    assert_eq!(account["positions"], json!([]));
    app.cleanup().await;
}

/// A user with a weekly SPY plan that has bought once (at 10:00 on 2026-06-01) and an SPY
/// bot: (the plan's id, the shares it bought, the bot's id).
async fn plan_and_bot_on_spy(app: &TestApp, email: &str) -> (String, Decimal, String) {
    at(app, ny(jiff::civil::date(2026, 6, 1), 10, 0)).await;
    app.sign_up(email, PASSWORD).await;
    let dca = app
        .post_json(
            "/api/dca/config",
            json!({"name": "SPY weekly", "legs": [{"symbol": "SPY", "amount": "500"}],
                   "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                                "time": "10:00", "timezone": "America/New_York"}}),
        )
        .await;
    assert_eq!(dca.status(), 201);
    let dca_id = json(dca).await["id"].as_str().unwrap().to_owned();
    let run = app
        .post_json("/api/dca/run-now", json!({"plan_id": dca_id}))
        .await;
    assert_eq!(run.status(), 202);
    let worker = app.worker(|_| {});
    while worker.tick().await.unwrap() {}
    let history = json(app.get("/api/dca/history").await).await;
    let dca_qty = decimal(&history["purchases"][0]["qty"]);
    let bot = json(app.post_json("/api/dca/config", bot_plan("10000")).await).await;
    (dca_id, dca_qty, bot["id"].as_str().unwrap().to_owned())
}

/// A DCA plan and a bot on the same symbol: the bot's page shows its own position, "Stop
/// and sell" sells only the bot's shares (once), the plan's stay, and each plan's returns
/// count its own shares. Another user sees nothing of the bot.
async fn stop_and_sell_sells_only_the_bots_shares(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    let first_day = jiff::civil::date(2026, 6, 1);
    let (dca_id, dca_qty, bot_id) = plan_and_bot_on_spy(&app, "bot-stop@example.com").await;
    crate::helpers::mark_verified(&app, "bot-stop@example.com").await;
    let worker = app.worker(|_| {});
    let refused = app
        .post_json("/api/dca/stop", json!({"plan_id": dca_id, "sell": true}))
        .await;
    assert_eq!(refused.status(), 409, "a DCA plan's shares are never sold");

    // To the evening of its first signal (2026-06-08): its buy waits for the next open.
    run_days(&app, &sessions(first_day, 6), false).await;
    let page = app.get(&format!("/bots/{bot_id}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let held = |html: &str| -> Decimal {
        let start = html.find(r#"data-testid="bot-qty">"#).unwrap() + 22;
        html[start..start + html[start..].find('<').unwrap()]
            .parse()
            .unwrap()
    };
    assert_eq!(held(&html), Decimal::ZERO, "{html}");
    assert!(
        html.contains("One order is waiting for the broker's answer."),
        "{html}"
    );
    assert!(
        html.contains("Next evaluation: Tue 2026-06-09 16:10"),
        "{html}"
    );
    assert!(html.contains("moving averages of 5 and 20 days"), "{html}");
    assert!(
        html.matches(r#"data-testid="bot-run""#).count() >= 6,
        "{html}"
    );
    assert!(html.contains(r#"data-testid="stop-and-sell""#));

    // Another user, and nobody, cannot see or stop it.
    let other = app.other_client();
    other
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "bot-stranger@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let theirs = other
        .get(app.url(&format!("/bots/{bot_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 404);
    let stop = other
        .post(app.url(&format!("/bots/{bot_id}/stop")))
        .form(&[("sell", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(stop.status(), 404, "another user cannot stop it");
    let not_a_bot = app.get(&format!("/bots/{dca_id}")).await;
    assert_eq!(not_a_bot.status(), 404);

    // Stop and sell, pressed twice while the buy waits: the sale waits for the buy's
    // answer (using up no attempt), then sells the bot's shares once.
    for _ in 0..2 {
        let stopped = app
            .client
            .post(app.url(&format!("/bots/{bot_id}/stop")))
            .header("origin", app.url(""))
            .form(&[("sell", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(stopped.status(), 303);
        assert_eq!(stopped.headers()["location"], format!("/bots/{bot_id}"));
    }
    while worker.tick().await.unwrap() {}
    let history = json(app.get("/api/dca/history?limit=50").await).await;
    assert!(
        history["purchases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["side"] == "buy"),
        "nothing sold before the buy's answer: {history}"
    );
    let next = sessions(jiff::civil::date(2026, 6, 9), 1);
    at(
        &app,
        next[0]
            .open_at()
            .checked_add(jiff::SignedDuration::from_mins(1))
            .unwrap(),
    )
    .await;
    worker.reconcile_once().await.unwrap();
    while worker.tick().await.unwrap() {}
    worker.reconcile_once().await.unwrap();
    let history = json(app.get("/api/dca/history?limit=50").await).await;
    let bot_qty = decimal(&bot_buy(&history, &bot_id)["qty"]);
    let sales = sales_in(&history);
    assert_eq!(sales.len(), 1, "{history}");
    assert_eq!(sales[0]["status"], "filled");
    assert_eq!(decimal(&sales[0]["qty"]), bot_qty);
    assert_eq!(spy_held(&app).await, dca_qty, "the plan's shares stay");
    let page = bot_page(&app, &bot_id).await;
    assert_eq!(held(&page), Decimal::ZERO);
    assert!(
        page.contains(r#"data-testid="bot-status">stopped<"#),
        "{page}"
    );
    assert!(!page.contains(r#"data-testid="stop-and-sell""#));
    assert!(
        !page.contains("still need more daily history"),
        "a stopped bot holding nothing needs no history: {page}"
    );
    // Returns: the plan still holds what it bought; the bot holds nothing.
    let perf = json(app.get("/api/performance").await).await;
    let plan = |id: &str| {
        perf["plans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["plan_id"] == id)
            .unwrap()["returns"]
            .clone()
    };
    assert!(
        decimal(&plan(&dca_id)["invested"]) > Decimal::ZERO,
        "{perf}"
    );
    assert_eq!(decimal(&plan(&bot_id)["invested"]), Decimal::ZERO, "{perf}");
    let spy_held = perf["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["symbol"] == "SPY")
        .unwrap()
        .clone();
    assert_eq!(decimal(&spy_held["qty"]), dca_qty, "{perf}");

    // The sale's e-mail (in the demo mailbox) says what the bot sold (a summary that
    // waited for the fill looks again a minute later).
    app.clock.advance_minutes(2);
    let text = mailed(&app, "bot-stop@example.com", "sold $").await;
    // When it sold (at the next open), not when it was asked to.
    assert!(
        text.contains("Your bot \"SPY crossover\" traded on Tue 9 Jun 2026, 09:3"),
        "{text}"
    );
    assert!(
        text.contains("Sold: $") && !text.contains("Bought:"),
        "{text}"
    );
    app.cleanup().await;
}

/// The HTML of the bot's page, as the signed-in user sees it.
async fn bot_page(app: &TestApp, bot_id: &str) -> String {
    app.get(&format!("/bots/{bot_id}"))
        .await
        .text()
        .await
        .unwrap()
}

/// The SPY shares the signed-in user's account holds.
async fn spy_held(app: &TestApp) -> Decimal {
    let account = json(app.get("/api/account").await).await;
    account["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == "SPY")
        .map(|p| decimal(&p["qty"]))
        .unwrap_or_else(|| panic!("no SPY: {account}"))
}

/// The bot's first-listed purchase (a buy) in a history page.
fn bot_buy<'a>(history: &'a Value, bot_id: &str) -> &'a Value {
    history["purchases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["plan_id"] == bot_id && p["side"] == "buy")
        .unwrap_or_else(|| panic!("no buy of the bot: {history}"))
}

/// The sales in a history page.
fn sales_in(history: &Value) -> Vec<&Value> {
    history["purchases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["side"] == "sell")
        .collect()
}

/// The text of the demo mailbox's message to `to` whose subject contains `subject`, once
/// it is there (up to ten seconds).
async fn mailed(app: &TestApp, to: &str, subject: &str) -> String {
    for _ in 0..500 {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT text_body FROM mailbox WHERE to_addr = $1 AND subject LIKE $2",
        )
        .bind(to)
        .bind(format!("%{subject}%"))
        .fetch_optional(app.db.pool())
        .await
        .unwrap();
        if let Some(text) = found {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no message to {to} about {subject:?}");
}

/// The text of the element with `data-testid="{id}"` in `html` (up to its first tag).
fn testid_text<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!(r#"data-testid="{id}">"#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in {html}"))
        + marker.len();
    &html[start..start + html[start..].find('<').unwrap()]
}

/// The dashboard's bot panels (with its figures, `load_performance`): each bot's position, entry, stop,
/// target, realized P&L and last signal, from its own fills, this morning's too (the stop is
/// known before the next evaluation, and is the one it then uses). The DCA plan has none,
/// another user sees none of them, a visitor is refused.
async fn the_dashboard_shows_each_bots_state(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    let first_day = jiff::civil::date(2026, 6, 1);
    let (_, _, bot_id) = plan_and_bot_on_spy(&app, "bot-panel@example.com").await;
    // The dashboard reads them with its figures; the REST API's figures have none.
    let panels = || async {
        let response = app
            .client
            .post(app.url("/api/fn/load_performance"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let html = json(response).await["bots_html"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            html.matches(r#"data-testid="bot-panel""#).count(),
            1,
            "only the bot: {html}"
        );
        assert!(
            html.contains(&format!(r#"href="/bots/{bot_id}""#)),
            "{html}"
        );
        html
    };
    let rest = json(app.get("/api/performance").await).await;
    assert!(rest.get("bots_html").is_none(), "{rest}");
    let html = panels().await;
    assert_eq!(testid_text(&html, "bot-position"), "nothing", "{html}");
    assert!(html.contains("No evaluation yet."), "{html}");

    // The evening of its first signal (2026-06-08): the buy waits for the next open.
    run_days(&app, &sessions(first_day, 6), false).await;
    let html = panels().await;
    assert_eq!(testid_text(&html, "bot-position"), "nothing", "{html}");
    assert!(
        html.contains(
            "Last signal, Mon Jun 8: Buy: fast SMA crossed above slow SMA · \
             One order is waiting for the broker's answer."
        ),
        "{html}"
    );

    // It fills at the next open: the position, its entry and stop before any evaluation.
    let open = sessions(jiff::civil::date(2026, 6, 9), 1)[0].open_at();
    at(
        &app,
        open.checked_add(jiff::SignedDuration::from_mins(1))
            .unwrap(),
    )
    .await;
    let worker = app.worker(|_| {});
    worker.reconcile_once().await.unwrap();
    let history = json(app.get("/api/dca/history").await).await;
    let buy = bot_buy(&history, &bot_id).clone();
    assert_eq!(buy["status"], "filled", "{buy}");
    let html = panels().await;
    let position = testid_text(&html, "bot-position");
    assert!(
        position.starts_with(&format!("{} SPY (", decimal(&buy["qty"]).normalize())),
        "{html}"
    );
    let price = decimal(&buy["price"]);
    assert_eq!(
        testid_text(&html, "bot-entry"),
        format!("${}", app::domain::market::round_cents(price)),
        "{html}"
    );
    let stop: Decimal = testid_text(&html, "bot-stop")
        .trim_start_matches('$')
        .parse()
        .unwrap_or_else(|_| panic!("a stop: {html}"));
    assert!(stop < price, "{html}");
    assert_eq!(
        testid_text(&html, "bot-target"),
        "none",
        "no take profit set"
    );
    assert_eq!(
        testid_text(&html, "bot-next"),
        "Next evaluation: Tue Jun 9 16:10 New York time"
    );
    assert_eq!(testid_text(&html, "bot-realized"), "$0.00");
    assert!(!html.contains("waiting for the broker"), "{html}");

    // That evening's evaluation holds, with the very stop the panel showed.
    at(&app, ny(jiff::civil::date(2026, 6, 9), 16, 11)).await;
    while worker.tick().await.unwrap() {}
    let html = panels().await;
    assert!(
        html.contains(&format!(
            "Last signal, Tue Jun 9: No trade: holding {} shares, stop {stop}",
            decimal(&buy["qty"]).normalize()
        )),
        "{html}"
    );
    assert_eq!(testid_text(&html, "bot-stop"), format!("${stop}"));

    // Nobody else sees it.
    let other = app.other_client();
    other
        .post(app.url("/api/auth/signup"))
        .json(&json!({"email": "bot-panel-stranger@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let theirs = other
        .post(app.url("/api/fn/load_performance"))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 200);
    assert!(json(theirs).await.get("bots_html").is_none());
    let visitor = app
        .other_client()
        .post(app.url("/api/fn/load_performance"))
        .send()
        .await
        .unwrap();
    assert_eq!(visitor.status(), 401);
    app.cleanup().await;
}

/// "Stop and sell" sells only the bot's own shares: never while one of its orders has an
/// end the broker never told, one closing sale at a time, and shares its books count that
/// the account no longer holds (sold in Alpaca's app) are written off, never taken from
/// the DCA plan's.
async fn a_bot_never_sells_a_plans_shares(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    let first_day = jiff::civil::date(2026, 6, 1);
    let (_, dca_qty, bot_id) = plan_and_bot_on_spy(&app, "bot-guard@example.com").await;
    let worker = app.worker(|_| {});
    // The bot buys at the 2026-06-09 open.
    run_days(&app, &sessions(first_day, 7), false).await;
    let history = json(app.get("/api/dca/history").await).await;
    let bot_qty = decimal(&bot_buy(&history, &bot_id)["qty"]);
    let open = sessions(jiff::civil::date(2026, 6, 10), 1)[0].open_at();
    at(
        &app,
        open.checked_add(jiff::SignedDuration::from_mins(5))
            .unwrap(),
    )
    .await;
    let press = || app.post_json("/api/dca/stop", json!({"plan_id": bot_id, "sell": true}));
    let closing = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM slots WHERE plan_id = $1 AND kind = 'manual'",
        )
        .bind(bot_id.clone())
        .fetch_one(app.db.pool())
    };

    let unknown = |status: &'static str| {
        sqlx::query("UPDATE purchases SET status = $1 WHERE plan_id = $2 AND side = 'buy'")
            .bind(status)
            .bind(bot_id.clone())
            .execute(app.db.pool())
    };

    // While one of the running bot's orders has an end the broker never told, "Stop and
    // sell" is refused (it stays running) and its page offers only "Stop and keep".
    unknown("unknown").await.unwrap();
    let refused = press().await;
    assert_eq!(refused.status(), 409);
    let page = bot_page(&app, &bot_id).await;
    assert!(page.contains(r#"data-testid="bot-unresolved""#), "{page}");
    assert!(!page.contains(r#"data-testid="stop-and-sell""#), "{page}");
    assert!(page.contains(r#"data-testid="stop-and-keep""#), "{page}");
    let plan = json(app.get(&format!("/api/dca/config/{bot_id}")).await).await;
    assert_eq!(plan["status"], "active", "{plan}");
    unknown("filled").await.unwrap();

    // Pressed twice: one closing sale is asked for. An order's end the broker never told,
    // found when the sale runs: nothing is sold, and the page says why and offers no sale.
    for _ in 0..2 {
        assert_eq!(press().await.status(), 200);
    }
    assert_eq!(
        closing().await.unwrap(),
        1,
        "the second press asked for the same"
    );
    unknown("unknown").await.unwrap();
    while worker.tick().await.unwrap() {}
    let page = bot_page(&app, &bot_id).await;
    assert!(page.contains("Not sold: the broker never said"), "{page}");
    assert!(sales_in(&json(app.get("/api/dca/history").await).await).is_empty());
    assert!(page.contains(r#"data-testid="bot-unresolved""#), "{page}");
    assert!(!page.contains(r#"data-testid="stop-and-sell""#), "{page}");
    // Asked again meanwhile: refused, saying why.
    let refused = press().await;
    assert_eq!(refused.status(), 409);
    assert!(
        json(refused).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("never said"),
    );
    unknown("filled").await.unwrap();
    // Stopped, it still counts its shares: the page offers to sell them, not to stop.
    let page = bot_page(&app, &bot_id).await;
    assert!(page.contains("Sell its shares"), "{page}");
    assert!(!page.contains(r#"data-testid="stop-and-keep""#));

    // The user sells part of the bot's shares in Alpaca's app, then asks again: a sale of
    // its own (slot and client order id) sells what is left of them, the missing ones are
    // written off (no order), and the plan's shares stay.
    let outside = (bot_qty / Decimal::TWO).trunc_with_scale(4);
    crate::helpers::sell_at_the_broker(&app, "SPY", &outside.to_string()).await;
    assert_eq!(press().await.status(), 200);
    assert_eq!(closing().await.unwrap(), 2);
    while worker.tick().await.unwrap() {}
    worker.reconcile_once().await.unwrap();
    let history = json(app.get("/api/dca/history").await).await;
    let sales = sales_in(&history);
    assert_eq!(sales.len(), 2, "{history}");
    let (written_off, sold): (Vec<&Value>, Vec<&Value>) = sales.into_iter().partition(|p| {
        p["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("Written off: "))
    });
    assert_eq!(sold.len(), 1, "{history}");
    assert_eq!(sold[0]["status"], "filled", "{history}");
    assert_eq!(decimal(&sold[0]["qty"]), bot_qty - outside);
    assert_eq!(written_off.len(), 1, "{history}");
    assert_eq!(
        written_off[0]["status"], "skipped",
        "not a trade: {history}"
    );
    assert_eq!(decimal(&written_off[0]["qty"]), outside);
    let reason = written_off[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!(
            "no longer holds {} of the bot's SPY shares",
            outside.normalize()
        )),
        "{reason}"
    );
    assert_eq!(spy_held(&app).await, dca_qty, "the plan's shares stay");
    let page = bot_page(&app, &bot_id).await;
    assert!(!page.contains(r#"data-testid="stop-and-sell""#), "{page}");
    // Nothing is left to sell.
    let nothing = press().await;
    assert_eq!(nothing.status(), 409);
    let error = json(nothing).await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("holds no shares"),
        "{error}"
    );
    app.cleanup().await;
}

/// "Stop and sell" pressed in the evening, while the bot's buy waits for the open: the sale
/// waits for the fill; the user sells part of the shares before it runs; the write-off is
/// booked after the fill (before it, the bot's books would sell more than they held).
async fn a_closing_sale_that_waited_writes_off_after_the_fill(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    let first_day = jiff::civil::date(2026, 6, 1);
    let (_, dca_qty, bot_id) = plan_and_bot_on_spy(&app, "bot-late@example.com").await;
    // Through the evening of 2026-06-08, whose buy waits for the next open.
    run_days(&app, &sessions(first_day, 6), false).await;
    at(&app, ny(jiff::civil::date(2026, 6, 8), 20, 0)).await;
    let stopped = app
        .post_json("/api/dca/stop", json!({"plan_id": bot_id, "sell": true}))
        .await;
    assert_eq!(stopped.status(), 200);
    let worker = app.worker(|_| {});
    while worker.tick().await.unwrap() {}
    assert!(sales_in(&json(app.get("/api/dca/history").await).await).is_empty());
    // The next morning the buy fills; the user sells part of it before the sale runs.
    at(&app, ny(jiff::civil::date(2026, 6, 9), 9, 45)).await;
    worker.reconcile_once().await.unwrap();
    let history = json(app.get("/api/dca/history").await).await;
    let bought = bot_buy(&history, &bot_id);
    assert_eq!(bought["status"], "filled", "{history}");
    let bot_qty = decimal(&bought["qty"]);
    let outside = (bot_qty / Decimal::TWO).trunc_with_scale(4);
    crate::helpers::sell_at_the_broker(&app, "SPY", &outside.to_string()).await;
    at(&app, ny(jiff::civil::date(2026, 6, 9), 9, 50)).await;
    while worker.tick().await.unwrap() {}
    worker.reconcile_once().await.unwrap();
    let history = json(app.get("/api/dca/history").await).await;
    let sales = sales_in(&history);
    assert_eq!(sales.len(), 2, "{history}");
    let total: Decimal = sales.iter().map(|p| decimal(&p["qty"])).sum();
    assert_eq!(total, bot_qty, "{history}");
    assert_eq!(spy_held(&app).await, dca_qty, "the plan's shares stay");
    // Its books add up: the page answers, holding nothing.
    let page = app.get(&format!("/bots/{bot_id}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"data-testid="bot-qty">0<"#), "{page}");
    app.cleanup().await;
}

/// A running bot whose shares were sold outside QuantShift writes the missing ones off at
/// its next evaluation (once, saying so on its page, in the history and by e-mail): its
/// books hold what the account holds, so it can enter again on its next signal.
async fn a_running_bot_writes_off_shares_sold_elsewhere(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    let email = "bot-off@example.com";
    let first_day = jiff::civil::date(2026, 6, 1);
    let (_, dca_qty, bot_id) = plan_and_bot_on_spy(&app, email).await;
    crate::helpers::mark_verified(&app, email).await;
    // The bot buys at the 2026-06-09 open; that morning the user sells its shares.
    run_days(&app, &sessions(first_day, 6), false).await;
    let day = jiff::civil::date(2026, 6, 9);
    at(&app, ny(day, 9, 45)).await;
    app.worker(|_| {}).reconcile_once().await.unwrap();
    let history = json(app.get("/api/dca/history").await).await;
    let bought = bot_buy(&history, &bot_id);
    assert_eq!(bought["status"], "filled", "{history}");
    let bot_qty = decimal(&bought["qty"]);
    crate::helpers::sell_at_the_broker(&app, "SPY", &bot_qty.to_string()).await;
    // That evening's evaluation.
    at(&app, ny(day, 16, 11)).await;
    let worker = app.worker(|_| {});
    worker.reconcile_once().await.unwrap();
    while worker.tick().await.unwrap() {}
    let history = json(app.get("/api/dca/history").await).await;
    let sales = sales_in(&history);
    assert_eq!(sales.len(), 1, "{history}");
    assert_eq!(sales[0]["status"], "skipped", "not a trade: {history}");
    assert_eq!(decimal(&sales[0]["qty"]), bot_qty);
    let reason = sales[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("Written off: "), "{reason}");
    assert!(
        sales[0]["client_order_id"].as_str().unwrap().contains("-w"),
        "never sent as an order: {history}"
    );
    assert_eq!(spy_held(&app).await, dca_qty, "the plan's shares stay");
    let page = bot_page(&app, &bot_id).await;
    assert!(page.contains(r#"data-testid="bot-qty">0<"#), "{page}");
    assert!(page.contains("Written off: "), "{page}");
    app.clock.advance_minutes(2);
    let text = mailed(&app, email, "wrote off shares the account no longer holds").await;
    assert!(text.contains("Written off"), "{text}");
    // The next evening: nothing more to write off.
    run_days(&app, &sessions(jiff::civil::date(2026, 6, 10), 1), false).await;
    let history = json(app.get("/api/dca/history").await).await;
    assert_eq!(sales_in(&history).len(), 1, "{history}");
    app.cleanup().await;
}

/// A day's evaluation that finds the bot's last order still unanswered does not trade
/// blind: it records why, and sends nothing.
async fn a_day_without_its_last_answer_does_not_trade(backend: Backend) {
    let Some(app) = TestApp::spawn_hand_driven(backend).await else {
        return;
    };
    let first_day = jiff::civil::date(2026, 6, 1);
    at(&app, ny(first_day, 9, 0)).await;
    app.sign_up("bot-wait@example.com", PASSWORD).await;
    let bot = json(app.post_json("/api/dca/config", bot_plan("10000")).await).await;
    let bot_id = bot["id"].as_str().unwrap().to_owned();
    // Through 2026-06-08, whose signal's buy waits for the next open.
    run_days(&app, &sessions(first_day, 6), false).await;
    // The next evening comes before anyone asked the broker about that buy.
    at(&app, ny(jiff::civil::date(2026, 6, 9), 16, 11)).await;
    let worker = app.worker(|_| {});
    while worker.tick().await.unwrap() {}
    let page = bot_page(&app, &bot_id).await;
    assert!(
        page.contains("No trade: waiting for the answer to the bot&#x27;s previous order")
            || page.contains("No trade: waiting for the answer to the bot's previous order"),
        "{page}"
    );
    let history = json(app.get("/api/dca/history").await).await;
    assert_eq!(
        history["purchases"].as_array().unwrap().len(),
        1,
        "{history}"
    );
    app.cleanup().await;
}

on_both_backends!(
    backend: a_bot_trades_as_its_backtest,
    a_day_without_its_last_answer_does_not_trade,
    a_bot_never_sells_a_plans_shares,
    a_running_bot_writes_off_shares_sold_elsewhere,
    a_closing_sale_that_waited_writes_off_after_the_fill,
    a_bot_keeps_its_settings_and_refuses_bad_ones,
    a_crash_between_signal_and_order_sends_one_order,
    stop_and_sell_sells_only_the_bots_shares,
    the_dashboard_shows_each_bots_state,
);
