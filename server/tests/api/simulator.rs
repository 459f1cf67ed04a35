//! Contract tests: the real Alpaca client (apca, through `AlpacaBroker`) against the
//! simulator, for every operation and each rejection, the trade-updates stream, and
//! retries under injected faults that must never place an order twice.

use app::domain::calendar;
use app::domain::market::{Symbol, round_qty_down};
use app::domain::order::{Side, Size};
use rust_decimal::Decimal;
use rust_decimal::dec;
use server::broker::alpaca::{AlpacaBroker, AlpacaConfig};
use server::broker::rate_limit::RateLimiters;
use server::broker::retry::RetryPolicy;
use server::broker::{
    Broker, BrokerError, OrderKind, OrderQuery, OrderRequest, OrderStatus, TimeFrame, TimeInForce,
    TradeEvent,
};
use sim::{SimConfig, Simulator};
use std::sync::Arc;
use std::time::Duration;

/// Monday 2026-11-30, 10:00 New York: the market is open.
const OPEN: &str = "2026-11-30T15:00:00Z";

struct Sim {
    sim: Arc<Simulator>,
    url: String,
}

async fn start(config: SimConfig) -> Sim {
    let sim = Simulator::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sim::serve(listener, sim.clone(), std::future::pending()));
    Sim { sim, url }
}

async fn open_market() -> Sim {
    start(SimConfig {
        start_time: Some(OPEN.parse().unwrap()),
        speed: 0.0,
        allow_control_api: true,
        ..SimConfig::default()
    })
    .await
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
    }
}

impl Sim {
    fn broker(&self) -> AlpacaBroker {
        let (key, secret) = self.sim.create_account();
        self.broker_for(&key, &secret)
    }

    fn broker_for(&self, key: &str, secret: &str) -> AlpacaBroker {
        let mut config = AlpacaConfig::for_base_url(&self.url, key, secret);
        config.retry = fast_retries();
        AlpacaBroker::new(&config, &RateLimiters::new(200)).unwrap()
    }
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn market(symbol: &str, side: Side, size: Size, client_order_id: &str) -> OrderRequest {
    OrderRequest {
        symbol: sym(symbol),
        side,
        size,
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Day,
        extended_hours: false,
        client_order_id: client_order_id.into(),
    }
}

#[tokio::test]
async fn account_assets_clock_and_calendar() {
    let sim = open_market().await;
    let broker = sim.broker();
    let account = broker.account().await.unwrap();
    assert_eq!(
        (account.cash, account.equity, account.buying_power),
        (dec!(100000), dec!(100000), dec!(100000))
    );
    assert_eq!(account.status, "ACTIVE");

    let assets = broker.assets().await.unwrap();
    assert!(assets.len() >= 40, "{}", assets.len());
    let spy = assets.iter().find(|a| a.symbol.as_str() == "SPY").unwrap();
    assert!(spy.fractionable && spy.tradable && !spy.name.is_empty());
    assert!(
        assets.iter().any(|a| a.tradable && !a.fractionable),
        "one non-fractionable asset"
    );
    assert!(assets.iter().any(|a| a.symbol.as_str() == "BRK.B"));
    let vanguard = broker.search_assets("vanguard", 10).await.unwrap();
    assert!(
        vanguard.iter().any(|a| a.symbol.as_str() == "VOO"),
        "{vanguard:?}"
    );
    assert_eq!(
        broker.asset(&sym("QQQ")).await.unwrap().symbol.as_str(),
        "QQQ"
    );
    assert_eq!(
        broker.asset(&sym("NOPE")).await.unwrap_err(),
        BrokerError::NotFound
    );

    let clock = broker.clock().await.unwrap();
    assert!(clock.is_open);
    assert_eq!(clock.now.to_string(), OPEN);
    assert_eq!(clock.next_close.to_string(), "2026-11-30T21:00:00Z");

    let from = jiff::civil::date(2026, 11, 1);
    let to = jiff::civil::date(2026, 12, 31);
    let days = broker.calendar(from, to).await.unwrap();
    let ours: Vec<_> = calendar::sessions(from, to)
        .map(|s| (s.date, s.open, s.close))
        .collect();
    assert_eq!(
        days.iter()
            .map(|d| (d.date, d.open, d.close))
            .collect::<Vec<_>>(),
        ours
    );
}

#[tokio::test]
async fn a_market_order_fills_at_the_latest_price_and_updates_the_account() {
    let sim = open_market().await;
    let broker = sim.broker();
    let price = broker.latest_price(&sym("SPY")).await.unwrap();
    let order = broker
        .place_order(&market(
            "SPY",
            Side::Buy,
            Size::Notional(dec!(100)),
            "qs-buy-1",
        ))
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Filled);
    assert_eq!(order.size, Size::Notional(dec!(100)));
    assert_eq!(order.filled_avg_price, Some(price));
    let qty = order.filled_qty;
    assert_eq!(qty, round_qty_down(dec!(100) / price));

    let positions = broker.positions().await.unwrap();
    assert_eq!(
        (positions[0].symbol.as_str(), positions[0].qty),
        ("SPY", qty)
    );
    let account = broker.account().await.unwrap();
    assert_eq!(
        account.cash,
        dec!(99900),
        "a notional order spends exactly its notional"
    );

    assert_eq!(broker.order(&order.id).await.unwrap(), order);
    assert_eq!(
        broker.order_by_client_id("qs-buy-1").await.unwrap().id,
        order.id
    );
    assert_eq!(broker.orders(OrderQuery::Closed).await.unwrap().len(), 1);
    assert!(broker.orders(OrderQuery::Open).await.unwrap().is_empty());

    // The day's bars agree with the fill: the last minute bar closes at the traded price.
    let now: jiff::Timestamp = OPEN.parse().unwrap();
    let minute_bars = broker
        .bars(
            &sym("SPY"),
            TimeFrame::Minute,
            now.checked_sub(jiff::SignedDuration::from_mins(30))
                .unwrap(),
            now,
        )
        .await
        .unwrap();
    assert_eq!(minute_bars.last().unwrap().close, price);

    let sold = broker
        .place_order(&market("SPY", Side::Sell, Size::Qty(qty), "qs-sell-1"))
        .await
        .unwrap();
    assert_eq!(sold.status, OrderStatus::Filled);
    // apca sends at most 8 decimal places, so a 9th-place residue can stay behind.
    let left: Decimal = broker
        .positions()
        .await
        .unwrap()
        .iter()
        .map(|p| p.qty)
        .sum();
    assert!(left < dec!(0.00000001), "{left}");
}

#[tokio::test]
async fn an_order_placed_while_closed_fills_at_the_next_open() {
    let sim = start(SimConfig {
        start_time: Some("2026-11-28T17:00:00Z".parse().unwrap()), // Saturday
        speed: 0.0,
        allow_control_api: true,
        ..SimConfig::default()
    })
    .await;
    let broker = sim.broker();
    let order = broker
        .place_order(&market(
            "VTI",
            Side::Buy,
            Size::Notional(dec!(50)),
            "qs-weekend",
        ))
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Open);
    assert!(!broker.clock().await.unwrap().is_open);

    sim.sim.advance(2 * 86_400).await; // Monday 12:00 New York
    let filled = broker.order(&order.id).await.unwrap();
    assert_eq!(filled.status, OrderStatus::Filled);
    assert_eq!(
        filled.filled_at.unwrap().to_string(),
        "2026-11-30T14:30:00Z"
    );
    let day = broker
        .bars(
            &sym("VTI"),
            TimeFrame::Day,
            "2026-11-30T00:00:00Z".parse().unwrap(),
            "2026-11-30T23:59:59Z".parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        Some(day[0].open),
        filled.filled_avg_price,
        "filled at the open"
    );
}

#[tokio::test]
async fn alpacas_rules_reject_with_alpacas_messages() {
    let sim = open_market().await;
    let broker = sim.broker();
    let too_much = broker
        .place_order(&market(
            "SPY",
            Side::Buy,
            Size::Notional(dec!(200000)),
            "qs-r1",
        ))
        .await;
    assert_eq!(
        too_much.unwrap_err(),
        BrokerError::Rejected("insufficient buying power".into())
    );

    let assets = broker.assets().await.unwrap();
    let whole_only = assets
        .iter()
        .find(|a| a.tradable && !a.fractionable)
        .unwrap();
    let err = broker
        .place_order(&market(
            whole_only.symbol.as_str(),
            Side::Buy,
            Size::Notional(dec!(10)),
            "qs-r2",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BrokerError::Rejected(m) if m.contains("not fractionable")),
        "{err:?}"
    );

    let tiny = broker
        .place_order(&market(
            "SPY",
            Side::Buy,
            Size::Notional(dec!(0.5)),
            "qs-r3",
        ))
        .await
        .unwrap_err();
    assert!(matches!(tiny, BrokerError::Rejected(_)));

    let mut extended = market("SPY", Side::Buy, Size::Qty(dec!(1)), "qs-r4");
    extended.extended_hours = true;
    assert!(matches!(
        broker.place_order(&extended).await.unwrap_err(),
        BrokerError::Rejected(_)
    ));

    let long_id = "x".repeat(49);
    assert!(matches!(
        broker
            .place_order(&market("SPY", Side::Buy, Size::Qty(dec!(1)), &long_id))
            .await
            .unwrap_err(),
        BrokerError::Rejected(_)
    ));
    assert!(
        broker.orders(OrderQuery::All).await.unwrap().is_empty(),
        "nothing was placed"
    );
}

#[tokio::test]
async fn limit_orders_rest_and_can_be_canceled() {
    let sim = open_market().await;
    let broker = sim.broker();
    let price = broker.latest_price(&sym("AAPL")).await.unwrap();
    let mut limit = market("AAPL", Side::Buy, Size::Qty(dec!(2)), "qs-limit");
    limit.kind = OrderKind::Limit((price * dec!(0.5)).round_dp(2));
    limit.time_in_force = TimeInForce::Gtc;
    let order = broker.place_order(&limit).await.unwrap();
    assert_eq!(order.status, OrderStatus::Open);
    let reserved = broker.account().await.unwrap().buying_power;
    assert!(reserved < dec!(100000), "an open buy reserves buying power");
    assert_eq!(broker.orders(OrderQuery::Open).await.unwrap().len(), 1);
    broker.cancel_order(&order.id).await.unwrap();
    assert_eq!(
        broker.order(&order.id).await.unwrap().status,
        OrderStatus::Canceled
    );
    assert!(matches!(
        broker.cancel_order(&order.id).await.unwrap_err(),
        BrokerError::Rejected(_)
    ));
}

#[tokio::test]
async fn a_repeated_client_order_id_returns_the_first_order() {
    let sim = open_market().await;
    let broker = sim.broker();
    let request = market("QQQ", Side::Buy, Size::Notional(dec!(25)), "qs-once");
    let first = broker.place_order(&request).await.unwrap();
    let again = broker.place_order(&request).await.unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(
        broker.orders(OrderQuery::All).await.unwrap().len(),
        1,
        "bought once"
    );
}

#[tokio::test]
async fn bad_keys_and_rate_limits() {
    let sim = start(SimConfig {
        start_time: Some(OPEN.parse().unwrap()),
        speed: 0.0,
        rate_limit_per_min: 3,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(
        sim.broker_for("PKUNKNOWN", "nope")
            .account()
            .await
            .unwrap_err(),
        BrokerError::Unauthorized
    );
    let (key, _) = sim.sim.create_account();
    assert_eq!(
        sim.broker_for(&key, "wrong secret")
            .account()
            .await
            .unwrap_err(),
        BrokerError::Unauthorized
    );

    let broker = sim.broker();
    for _ in 0..3 {
        broker.clock().await.unwrap();
    }
    let err = broker.clock().await.unwrap_err();
    assert!(
        err.is_transient(),
        "429 is transient and was retried: {err:?}"
    );
}

#[tokio::test]
async fn auto_accounts_open_on_first_use() {
    let sim = start(SimConfig {
        auto_accounts: true,
        start_time: Some(OPEN.parse().unwrap()),
        speed: 0.0,
        ..SimConfig::default()
    })
    .await;
    let broker = sim.broker_for("PKDEMO123", "any-secret");
    assert_eq!(broker.account().await.unwrap().cash, dec!(100000));
    assert_eq!(
        sim.broker_for("PKDEMO123", "other")
            .account()
            .await
            .unwrap_err(),
        BrokerError::Unauthorized
    );
}

#[tokio::test]
async fn trade_updates_stream_new_and_fill() {
    let sim = open_market().await;
    let (key, secret) = sim.sim.create_account();
    let broker = sim.broker_for(&key, &secret);
    let mut updates = broker.trade_updates().await.unwrap();
    let order = broker
        .place_order(&market(
            "VOO",
            Side::Buy,
            Size::Notional(dec!(30)),
            "qs-stream",
        ))
        .await
        .unwrap();
    let mut events = Vec::new();
    while events.len() < 2 {
        let update = tokio::time::timeout(Duration::from_secs(5), updates.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(update.order.id, order.id);
        events.push(update.event);
    }
    assert_eq!(events, [TradeEvent::New, TradeEvent::Fill]);
    assert!(sim.broker_for(&key, "bad").trade_updates().await.is_err());
}

#[tokio::test]
async fn retries_under_faults_never_buy_twice() {
    let sim = open_market().await;
    let (key, secret) = sim.sim.create_account();
    let mut config = AlpacaConfig::for_base_url(&sim.url, &key, &secret);
    config.retry = RetryPolicy {
        attempts: 8,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    config.request_timeout = Duration::from_millis(300);
    let broker = AlpacaBroker::new(&config, &RateLimiters::new(10_000)).unwrap();

    // A third of requests fail before they are processed; a fifth hang after the order
    // was placed, as if the answer were lost, so the retry meets the existing order.
    let faults = serde_json::json!({"error_rate": 0.33, "statuses": [500, 502, 503, 429], "timeout_rate": 0.2, "timeout_ms": 1000});
    let control = reqwest::Client::new();
    let set = control
        .post(format!("{}/sim/v1/faults", sim.url))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());

    let mut placed = Vec::new();
    for i in 0..20 {
        let request = market(
            "SPY",
            Side::Buy,
            Size::Notional(dec!(10)),
            &format!("qs-fault-{i}"),
        );
        if let Ok(order) = broker.place_order(&request).await {
            placed.push(order);
        }
    }
    control
        .delete(format!("{}/sim/v1/faults", sim.url))
        .send()
        .await
        .unwrap();

    let orders = broker.orders(OrderQuery::All).await.unwrap();
    let mut ids: Vec<&str> = orders.iter().map(|o| o.client_order_id.as_str()).collect();
    ids.sort_unstable();
    let unique = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), unique, "no client order id was placed twice");
    assert!(
        placed.len() >= 15,
        "retries got most orders through: {}",
        placed.len()
    );
    for order in &placed {
        assert_eq!(
            orders
                .iter()
                .filter(|o| o.client_order_id == order.client_order_id)
                .count(),
            1
        );
    }
    let invested: Decimal = orders
        .iter()
        .map(|o| o.filled_qty * o.filled_avg_price.unwrap_or_default())
        .sum();
    assert!(invested <= Decimal::from(10 * orders.len() as i64));
}

#[tokio::test]
async fn demo_mode_serves_a_simulated_broker_in_process() {
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| {
        c.demo_broker = true
    })
    .await
    .unwrap();
    let url = app
        .demo_broker_url()
        .expect("demo mode starts the simulator")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let config = AlpacaConfig::for_base_url(&url, "PKNEWUSER", "demo-secret");
    let broker = AlpacaBroker::new(&config, &RateLimiters::new(200)).unwrap();
    assert_eq!(
        broker.account().await.unwrap().cash,
        dec!(100000),
        "a new key gets a paper account"
    );
    app.cleanup().await;
}

#[test]
fn the_sim_broker_command_serves_alpacas_api() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_quantshift"))
        .args([
            "sim-broker",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--auto-accounts",
            "--start-time",
            OPEN,
            "--speed",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime.block_on(async {
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(format!("{url}/v2/clock")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let broker = AlpacaBroker::new(
            &AlpacaConfig::for_base_url(&url, "PKCLI", "s"),
            &RateLimiters::new(200),
        )
        .unwrap();
        let clock = broker.clock().await?;
        let account = broker.account().await?;
        let created = client
            .post(format!("{url}/sim/v1/accounts"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .map_err(|e| BrokerError::Transient(e.to_string()))?;
        Ok::<_, BrokerError>((clock, account, created.status()))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (clock, account, created) = result.unwrap();
    assert_eq!(clock.now.to_string(), OPEN);
    assert_eq!(account.cash, dec!(100000));
    assert!(
        created.is_success(),
        "the control API is served on loopback"
    );
}
