//! `AlpacaBroker` fed the example payloads from Alpaca's API documentation by a stub
//! server, so our reading of Alpaca's JSON (and the simulator's) cannot drift from the
//! real API; and its error handling: rejections, bad keys, rate limits, lost answers.

use app::domain::market::Symbol;
use app::domain::order::{Side, Size};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rust_decimal::dec;
use serde_json::{Value, json};
use server::broker::alpaca::{AlpacaBroker, AlpacaConfig};
use server::broker::rate_limit::RateLimiters;
use server::broker::retry::RetryPolicy;
use server::broker::{
    Broker, BrokerError, OrderKind, OrderRequest, OrderStatus, TimeFrame, TimeInForce,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn account() -> Value {
    json!({
        "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98", "account_number": "010203ABCD", "status": "ACTIVE",
        "crypto_status": "ACTIVE", "currency": "USD", "buying_power": "262113.632", "regt_buying_power": "262113.632",
        "daytrading_buying_power": "262113.632", "non_marginable_buying_power": "131056.82", "cash": "-23140.2",
        "accrued_fees": "0", "pending_transfer_in": "0", "portfolio_value": "103820.56", "pattern_day_trader": false,
        "trading_blocked": false, "transfers_blocked": false, "account_blocked": false,
        "created_at": "2019-06-12T22:47:07.99658Z", "trade_suspended_by_user": false, "multiplier": "4",
        "shorting_enabled": true, "equity": "103820.56", "last_equity": "103529.24", "long_market_value": "126960.76",
        "short_market_value": "0", "initial_margin": "63480.38", "maintenance_margin": "38088.228",
        "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0
    })
}

fn notional_order(client_order_id: &str) -> Value {
    json!({
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "client_order_id": client_order_id,
        "created_at": "2021-03-16T18:38:01.942282Z", "updated_at": "2021-03-16T18:38:01.942282Z",
        "submitted_at": "2021-03-16T18:38:01.937734Z", "filled_at": null, "expired_at": null, "canceled_at": null,
        "failed_at": null, "replaced_at": null, "replaced_by": null, "replaces": null,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "symbol": "AAPL", "asset_class": "us_equity",
        "notional": "500", "qty": null, "filled_qty": "0", "filled_avg_price": null, "order_class": "",
        "order_type": "market", "type": "market", "side": "buy", "time_in_force": "day", "limit_price": null,
        "stop_price": null, "status": "accepted", "extended_hours": false, "legs": null, "trail_percent": null,
        "trail_price": null, "hwm": null
    })
}

fn position() -> Value {
    json!([{
        "asset_id": "904837e3-3b76-47ec-b432-046db621571b", "symbol": "AAPL", "exchange": "NASDAQ",
        "asset_class": "us_equity", "asset_marginable": true, "avg_entry_price": "100.0", "qty": "5",
        "qty_available": "4", "side": "long", "market_value": "600.0", "cost_basis": "500.0", "unrealized_pl": "100.0",
        "unrealized_plpc": "0.20", "unrealized_intraday_pl": "10.0", "unrealized_intraday_plpc": "0.0084",
        "current_price": "120.0", "lastday_price": "119.0", "change_today": "0.0084"
    }])
}

fn assets() -> Value {
    json!([
        {"id": "904837e3-3b76-47ec-b432-046db621571b", "class": "us_equity", "exchange": "NASDAQ", "symbol": "AAPL",
         "name": "Apple Inc. Common Stock", "status": "active", "tradable": true, "marginable": true, "shortable": true,
         "easy_to_borrow": true, "fractionable": true},
        {"id": "b28f4066-5c6d-479b-a2af-85dc1a8f16fb", "class": "us_equity", "exchange": "ARCA", "symbol": "SPY",
         "name": "SPDR S&P 500 ETF Trust", "status": "active", "tradable": true, "marginable": true, "shortable": true,
         "easy_to_borrow": true, "fractionable": true},
        {"id": "3b3b3b3b-5c6d-479b-a2af-85dc1a8f16fb", "class": "us_equity", "exchange": "NYSE", "symbol": "OLD",
         "name": "Delisted Corp", "status": "inactive", "tradable": false, "marginable": false, "shortable": false,
         "easy_to_borrow": false, "fractionable": false}
    ])
}

#[derive(Default)]
struct Stub {
    /// Requests seen per path.
    hits: std::sync::Mutex<HashMap<String, usize>>,
    /// Answers still to fail with 503 before succeeding.
    failures: AtomicUsize,
    /// The next create-order answers with this (status, body) instead of the order.
    create: std::sync::Mutex<Option<(StatusCode, Value)>>,
}

impl Stub {
    fn hit(&self, path: &str) {
        *self
            .hits
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default() += 1;
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn reply(stub: &Stub, path: &str, body: Value) -> Response {
    stub.hit(path);
    let failing = stub.failures.load(Ordering::SeqCst);
    if failing > 0 {
        stub.failures.store(failing - 1, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    Json(body).into_response()
}

async fn stub_server(stub: Arc<Stub>) -> String {
    let router = Router::new()
        .route("/v2/account", get(|State(s): State<Arc<Stub>>| async move { reply(&s, "account", account()) }))
        .route("/v2/positions", get(|State(s): State<Arc<Stub>>| async move { reply(&s, "positions", position()) }))
        .route("/v2/assets", get(|State(s): State<Arc<Stub>>| async move { reply(&s, "assets", assets()) }))
        .route(
            "/v2/clock",
            get(|State(s): State<Arc<Stub>>| async move {
                reply(&s, "clock", json!({"timestamp": "2024-07-18T09:36:11.489187694-04:00", "is_open": true,
                    "next_open": "2024-07-19T09:30:00-04:00", "next_close": "2024-07-18T16:00:00-04:00"}))
            }),
        )
        .route(
            "/v2/calendar",
            get(|State(s): State<Arc<Stub>>| async move {
                reply(&s, "calendar", json!([
                    {"date": "2024-11-27", "open": "09:30", "close": "16:00", "session_open": "0400", "session_close": "2000", "settlement_date": "2024-11-29"},
                    {"date": "2024-11-29", "open": "09:30", "close": "13:00", "session_open": "0400", "session_close": "1700", "settlement_date": "2024-12-02"}
                ]))
            }),
        )
        .route(
            "/v2/stocks/{symbol}/bars",
            get(|State(s): State<Arc<Stub>>, Path(symbol): Path<String>, Query(q): Query<HashMap<String, String>>| async move {
                let page = if q.contains_key("page_token") {
                    json!({"bars": [{"t": "2022-01-04T05:00:00Z", "o": 182.63, "h": 182.94, "l": 179.12, "c": 179.7, "v": 99310438, "n": 832429, "vw": 181.0}],
                           "symbol": symbol, "next_page_token": null})
                } else {
                    json!({"bars": [{"t": "2022-01-03T05:00:00Z", "o": 177.83, "h": 182.88, "l": 177.71, "c": 182.01, "v": 104701220, "n": 772670, "vw": 181.0}],
                           "symbol": symbol, "next_page_token": "QUFQTHxEfDIwMjItMDEtMDM="})
                };
                reply(&s, "bars", page)
            }),
        )
        .route(
            "/v2/stocks/{symbol}/trades/latest",
            get(|State(s): State<Arc<Stub>>, Path(symbol): Path<String>| async move {
                reply(&s, "latest", json!({"symbol": symbol, "trade": {"t": "2021-02-06T13:04:56.334320128Z", "x": "C",
                    "p": 387.62, "s": 100, "c": [" ", "T"], "i": 52983525029461u64, "z": "C"}}))
            }),
        )
        .route(
            "/v2/orders",
            axum::routing::post(|State(s): State<Arc<Stub>>, body: String| async move {
                s.hit("create");
                let request: Value = serde_json::from_str(&body).unwrap();
                match s.create.lock().unwrap().take() {
                    Some((status, body)) => (status, Json(body)).into_response(),
                    None => Json(notional_order(request["client_order_id"].as_str().unwrap())).into_response(),
                }
            }),
        )
        .route(
            "/v2/orders:by_client_order_id",
            get(|State(s): State<Arc<Stub>>, Query(q): Query<HashMap<String, String>>| async move {
                reply(&s, "by_client_id", notional_order(&q["client_order_id"]))
            }),
        )
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

fn broker(url: &str) -> AlpacaBroker {
    let mut config = AlpacaConfig::for_base_url(url, "PKTEST", "secret");
    config.retry = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    AlpacaBroker::new(&config, &RateLimiters::new(200)).unwrap()
}

fn buy(client_order_id: &str) -> OrderRequest {
    OrderRequest {
        symbol: Symbol::parse("AAPL").unwrap(),
        side: Side::Buy,
        size: Size::Notional(dec!(500)),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Day,
        extended_hours: false,
        client_order_id: client_order_id.into(),
    }
}

#[tokio::test]
async fn reads_the_documented_payloads() {
    let stub = Arc::new(Stub::default());
    let broker = broker(&stub_server(stub.clone()).await);

    let account = broker.account().await.unwrap();
    assert_eq!(account.cash, dec!(-23140.2));
    assert_eq!(account.equity, dec!(103820.56));
    assert_eq!(account.buying_power, dec!(262113.632));
    assert_eq!(account.status, "ACTIVE");

    let positions = broker.positions().await.unwrap();
    assert_eq!(positions[0].symbol.as_str(), "AAPL");
    assert_eq!(
        (positions[0].qty, positions[0].avg_entry_price),
        (dec!(5), dec!(100))
    );
    assert_eq!(positions[0].unrealized_pl, Some(dec!(100)));

    let order = broker.place_order(&buy("qs-1")).await.unwrap();
    assert_eq!(
        order.size,
        Size::Notional(dec!(500)),
        "qty null, notional 500"
    );
    assert_eq!(
        (order.status, order.client_order_id.as_str()),
        (OrderStatus::Open, "qs-1")
    );
    assert_eq!(order.filled_avg_price, None);

    let assets = broker.assets().await.unwrap();
    assert_eq!(assets.len(), 3);
    assert!(!assets[2].tradable, "inactive assets are not tradable");
    let found = broker.search_assets("apple", 5).await.unwrap();
    assert_eq!(
        found.iter().map(|a| a.symbol.as_str()).collect::<Vec<_>>(),
        ["AAPL"]
    );
    let found = broker.search_assets("s", 5).await.unwrap();
    assert_eq!(
        found[0].symbol.as_str(),
        "SPY",
        "symbol matches first, then names"
    );

    let clock = broker.clock().await.unwrap();
    assert!(clock.is_open);
    assert_eq!(clock.next_close.to_string(), "2024-07-18T20:00:00Z");

    let days = broker
        .calendar(
            jiff::civil::date(2024, 11, 27),
            jiff::civil::date(2024, 11, 29),
        )
        .await
        .unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[1].close, jiff::civil::time(13, 0, 0, 0));

    let from = "2022-01-01T00:00:00Z".parse().unwrap();
    let to = "2022-01-05T00:00:00Z".parse().unwrap();
    let bars = broker
        .bars(&Symbol::parse("AAPL").unwrap(), TimeFrame::Day, from, to)
        .await
        .unwrap();
    assert_eq!(bars.len(), 2, "both pages");
    assert_eq!(
        (bars[0].open, bars[0].close, bars[1].close),
        (dec!(177.83), dec!(182.01), dec!(179.7))
    );
    assert_eq!(bars[0].volume, 104_701_220);

    assert_eq!(
        broker
            .latest_price(&Symbol::parse("AAPL").unwrap())
            .await
            .unwrap(),
        dec!(387.62)
    );
}

#[tokio::test]
async fn rejections_are_final_and_keep_the_brokers_message() {
    let stub = Arc::new(Stub::default());
    let broker = broker(&stub_server(stub.clone()).await);
    *stub.create.lock().unwrap() = Some((
        StatusCode::FORBIDDEN,
        json!({"code": 40310000, "message": "insufficient buying power"}),
    ));
    let err = broker.place_order(&buy("qs-2")).await.unwrap_err();
    assert_eq!(
        err,
        BrokerError::Rejected("insufficient buying power".into())
    );
    assert_eq!(stub.hits("create"), 1, "a rejection is not retried");

    *stub.create.lock().unwrap() = Some((
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"code": 40010001, "message": "requested asset is not fractionable"}),
    ));
    let err = broker.place_order(&buy("qs-3")).await.unwrap_err();
    assert_eq!(
        err,
        BrokerError::Rejected("requested asset is not fractionable".into())
    );

    *stub.create.lock().unwrap() = Some((
        StatusCode::UNAUTHORIZED,
        json!({"code": 40110000, "message": "request is not authorized"}),
    ));
    assert_eq!(
        broker.place_order(&buy("qs-4")).await.unwrap_err(),
        BrokerError::Unauthorized
    );
}

#[tokio::test]
async fn a_duplicate_client_order_id_returns_the_existing_order() {
    let stub = Arc::new(Stub::default());
    let broker = broker(&stub_server(stub.clone()).await);
    *stub.create.lock().unwrap() = Some((
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"code": 40010001, "message": "client_order_id must be unique"}),
    ));
    let order = broker.place_order(&buy("qs-dup")).await.unwrap();
    assert_eq!(order.client_order_id, "qs-dup");
    assert_eq!((stub.hits("create"), stub.hits("by_client_id")), (1, 1));
}

#[tokio::test]
async fn transient_failures_are_retried_within_bounds() {
    let stub = Arc::new(Stub::default());
    let broker = broker(&stub_server(stub.clone()).await);
    stub.failures.store(2, Ordering::SeqCst);
    assert_eq!(broker.account().await.unwrap().equity, dec!(103820.56));
    assert_eq!(stub.hits("account"), 3, "two 503s, then the answer");

    stub.failures.store(10, Ordering::SeqCst);
    let err = broker.account().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(stub.hits("account"), 6, "three attempts, then give up");
}
