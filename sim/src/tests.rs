//! End-to-end tests of the simulator over HTTP and websocket, on 127.0.0.1:0 with a frozen
//! clock (speed 0) so prices do not move between requests.

use super::{SimConfig, Simulator, serve};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::oneshot;

/// Monday 2026-01-05 10:00 New York: the market is open.
const OPEN_MONDAY: &str = "2026-01-05T15:00:00Z";

struct Harness {
    base: String,
    client: reqwest::Client,
    sim: Arc<Simulator>,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

type Keys = (String, String);

fn config() -> SimConfig {
    SimConfig {
        auto_accounts: false,
        rate_limit_per_min: 200,
        seed: 7,
        start_time: Some(OPEN_MONDAY.parse().unwrap()),
        speed: 0.0,
        allow_control_api: true,
        state_file: None,
    }
}

async fn start(config: SimConfig) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sim = Simulator::new(config);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, sim.clone(), async move {
        let _ = stopped.await;
    }));
    Harness {
        base,
        client: reqwest::Client::new(),
        sim,
        stop,
        server,
    }
}

impl Harness {
    /// A new account through the control API.
    async fn account(&self) -> Keys {
        let (status, body) = self.control("/sim/v1/accounts", json!({})).await;
        assert_eq!(status, 200, "{body}");
        (
            body["key_id"].as_str().unwrap().to_owned(),
            body["secret_key"].as_str().unwrap().to_owned(),
        )
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    fn with_keys(&self, request: reqwest::RequestBuilder, keys: &Keys) -> reqwest::RequestBuilder {
        request
            .header("apca-api-key-id", &keys.0)
            .header("apca-api-secret-key", &keys.1)
    }

    async fn get(&self, keys: &Keys, path: &str) -> (u16, Value) {
        let request = self.with_keys(self.client.get(format!("{}{path}", self.base)), keys);
        self.send(request).await
    }

    async fn delete(&self, keys: &Keys, path: &str) -> (u16, Value) {
        let request = self.with_keys(self.client.delete(format!("{}{path}", self.base)), keys);
        self.send(request).await
    }

    /// POSTs JSON without a Content-Type header, as apca does.
    async fn post(&self, keys: &Keys, path: &str, body: Value) -> (u16, Value) {
        let request = self
            .with_keys(self.client.post(format!("{}{path}", self.base)), keys)
            .body(body.to_string());
        self.send(request).await
    }

    async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    async fn order(&self, keys: &Keys, body: Value) -> (u16, Value) {
        self.post(keys, "/v2/orders", body).await
    }

    async fn latest(&self, keys: &Keys, symbol: &str) -> rust_decimal::Decimal {
        let (status, body) = self
            .get(keys, &format!("/v2/stocks/{symbol}/trades/latest"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["symbol"], symbol);
        assert!(body["trade"]["t"].is_string() && body["trade"]["s"].is_u64());
        // Data-API prices are JSON numbers.
        dec(&body["trade"]["p"])
    }
}

/// apca's create-order body: every optional field present as null.
fn apca_order(symbol: &str, qty: Option<&str>, notional: Option<&str>, client_id: &str) -> Value {
    json!({
        "symbol": symbol, "qty": qty, "notional": notional, "side": "buy",
        "order_class": "simple", "type": "market", "time_in_force": "day",
        "limit_price": null, "stop_price": null, "trail_price": null, "trail_percent": null,
        "take_profit": null, "stop_loss": null, "extended_hours": false,
        "client_order_id": client_id,
    })
}

fn dec(value: &Value) -> rust_decimal::Decimal {
    match value {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => n.to_string().parse().unwrap(),
        other => panic!("not a decimal: {other}"),
    }
}

#[tokio::test]
async fn account_has_every_field_apca_requires() {
    let h = start(config()).await;
    let keys = h.account().await;
    let (status, account) = h.get(&keys, "/v2/account").await;
    assert_eq!(status, 200);
    for field in [
        "id",
        "status",
        "currency",
        "cash",
        "created_at",
        "long_market_value",
        "short_market_value",
        "equity",
        "last_equity",
        "multiplier",
        "buying_power",
        "initial_margin",
        "maintenance_margin",
        "portfolio_value",
        "account_number",
        "non_marginable_buying_power",
        "regt_buying_power",
    ] {
        assert!(account[field].is_string(), "{field}: {account}");
    }
    for field in [
        "trade_suspended_by_user",
        "trading_blocked",
        "transfers_blocked",
        "account_blocked",
        "shorting_enabled",
    ] {
        assert!(account[field].is_boolean(), "{field}");
    }
    assert_eq!(account["cash"], "100000");
    assert_eq!(account["buying_power"], "100000");
    assert_eq!(account["status"], "ACTIVE");
    uuid::Uuid::parse_str(account["id"].as_str().unwrap()).unwrap();
    let (_, positions) = h.get(&keys, "/v2/positions").await;
    assert_eq!(positions, json!([]));
}

#[tokio::test]
async fn market_order_fills_at_the_latest_price_and_updates_the_account() {
    let h = start(config()).await;
    let keys = h.account().await;
    let price = h.latest(&keys, "SPY").await;
    let (status, order) = h
        .order(&keys, apca_order("SPY", Some("2"), None, "buy-1"))
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "filled");
    assert_eq!(order["qty"], "2");
    assert_eq!(order["notional"], Value::Null);
    assert_eq!(order["filled_qty"], "2");
    assert_eq!(dec(&order["filled_avg_price"]), price);
    assert_eq!(order["filled_at"], OPEN_MONDAY);
    assert_eq!(order["legs"], Value::Null);
    assert_eq!(order["asset_class"], "us_equity");
    let cost = price * rust_decimal::Decimal::TWO;
    let (_, account) = h.get(&keys, "/v2/account").await;
    assert_eq!(dec(&account["cash"]), rust_decimal::dec!(100000) - cost);
    assert_eq!(dec(&account["long_market_value"]), cost);
    assert_eq!(dec(&account["equity"]), rust_decimal::dec!(100000));
    let (status, position) = h.get(&keys, "/v2/positions/SPY").await;
    assert_eq!(status, 200);
    assert_eq!(position["qty"], "2");
    assert_eq!(position["side"], "long");
    assert_eq!(dec(&position["cost_basis"]), cost);
    assert_eq!(dec(&position["avg_entry_price"]), price);
    let (_, activities) = h
        .get(&keys, "/v2/account/activities?activity_types=FILL")
        .await;
    assert_eq!(activities.as_array().unwrap().len(), 1);
    let fill = &activities[0];
    assert_eq!(fill["activity_type"], "FILL");
    assert_eq!(fill["order_id"], order["id"]);
    assert_eq!(fill["qty"], "2");
    assert_eq!(fill["cum_qty"], "2");
    assert_eq!(fill["leaves_qty"], "0");
    assert_eq!(dec(&fill["price"]), price);
    // Selling more than held is refused; selling everything closes the position.
    let mut sell = apca_order("SPY", Some("3"), None, "sell-1");
    sell["side"] = json!("sell");
    let (status, body) = h.order(&keys, sell.clone()).await;
    assert_eq!(status, 403, "{body}");
    sell["qty"] = json!("2");
    sell["client_order_id"] = json!("sell-2");
    let (status, body) = h.order(&keys, sell).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("filled")));
    let (status, _) = h.get(&keys, "/v2/positions/SPY").await;
    assert_eq!(status, 404);
    let (_, account) = h.get(&keys, "/v2/account").await;
    assert_eq!(account["cash"], "100000");
}

#[tokio::test]
async fn notional_order_comes_back_with_null_qty() {
    let h = start(config()).await;
    let keys = h.account().await;
    let (status, order) = h
        .order(&keys, apca_order("AAPL", None, Some("25.5"), "n-1"))
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["qty"], Value::Null);
    assert_eq!(order["notional"], "25.5");
    assert_eq!(order["status"], "filled");
    let filled = dec(&order["filled_qty"]);
    let price = dec(&order["filled_avg_price"]);
    assert!(filled > rust_decimal::Decimal::ZERO && filled.scale() <= 9);
    assert!((filled * price - rust_decimal::dec!(25.5)).abs() < rust_decimal::dec!(0.01));
    let (_, account) = h.get(&keys, "/v2/account").await;
    assert_eq!(account["cash"], "99974.5");
}

#[tokio::test]
async fn order_while_closed_is_accepted_and_fills_at_the_open() {
    let h = start(config()).await;
    let keys = h.account().await;
    // Saturday 2026-01-03 10:00 New York.
    let (status, _) = h
        .control("/sim/v1/clock", json!({"now": "2026-01-03T15:00:00Z"}))
        .await;
    assert_eq!(status, 200);
    let (_, clock) = h.get(&keys, "/v2/clock").await;
    assert_eq!(clock["is_open"], false);
    assert_eq!(clock["next_open"], "2026-01-05T09:30:00-05:00");
    assert_eq!(clock["next_close"], "2026-01-05T16:00:00-05:00");
    let (status, order) = h
        .order(&keys, apca_order("VTI", Some("3"), None, "weekend"))
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "accepted");
    assert_eq!(order["filled_at"], Value::Null);
    let id = order["id"].as_str().unwrap().to_owned();
    // Two days minus an hour: still before Monday's open.
    let (_, now) = h
        .control(
            "/sim/v1/clock/advance",
            json!({"seconds": 2 * 86400 - 3600}),
        )
        .await;
    assert_eq!(now["now"], "2026-01-05T14:00:00Z");
    let (_, order) = h.get(&keys, &format!("/v2/orders/{id}")).await;
    assert_eq!(order["status"], "accepted");
    h.sim.advance(3600).await;
    let (_, order) = h.get(&keys, &format!("/v2/orders/{id}")).await;
    assert_eq!(order["status"], "filled");
    assert_eq!(order["filled_at"], "2026-01-05T14:30:00Z");
    let (_, bars) = h
        .get(&keys, "/v2/stocks/VTI/bars?timeframe=1Day&start=2026-01-05T00:00:00Z&end=2026-01-06T00:00:00Z")
        .await;
    assert_eq!(dec(&order["filled_avg_price"]), dec(&bars["bars"][0]["o"]));
}

#[tokio::test]
async fn alpaca_rules_are_enforced() {
    let h = start(config()).await;
    let keys = h.account().await;
    let check = |status: u16, body: &Value, want: u16, code: u64, message: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["code"], code, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(message),
            "{body}"
        );
    };
    let (s, b) = h
        .order(&keys, apca_order("SPY", None, Some("200000"), "bp-1"))
        .await;
    check(s, &b, 403, 40310000, "insufficient buying power");
    let (s, b) = h
        .order(&keys, apca_order("ARKK", None, Some("100"), "frac-1"))
        .await;
    check(s, &b, 422, 40010001, "requested asset is not fractionable");
    let (s, b) = h
        .order(&keys, apca_order("ARKK", Some("1.5"), None, "frac-2"))
        .await;
    check(s, &b, 422, 40010001, "requested asset is not fractionable");
    let (s, b) = h
        .order(&keys, apca_order("ARKK", Some("1"), None, "whole"))
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("filled")), "{b}");
    let (s, b) = h
        .order(&keys, apca_order("SPY", Some("0.0000000001"), None, "dp"))
        .await;
    check(s, &b, 422, 40010001, "9 decimal places");
    let (s, b) = h
        .order(&keys, apca_order("SPY", Some("1"), Some("10"), "both"))
        .await;
    check(s, &b, 422, 40010001, "qty or notional");
    let (s, b) = h
        .order(&keys, apca_order("SPY", None, Some("0.5"), "small"))
        .await;
    check(s, &b, 422, 40010001, ">= 1");
    let mut extended = apca_order("SPY", Some("1"), None, "ext");
    extended["extended_hours"] = json!(true);
    let (s, b) = h.order(&keys, extended).await;
    check(s, &b, 422, 40010001, "extended hours");
    let (s, b) = h
        .order(&keys, apca_order("SPY", Some("1"), None, &"x".repeat(49)))
        .await;
    check(s, &b, 422, 40010001, "48");
    let (s, b) = h
        .order(&keys, apca_order("NOPE", Some("1"), None, "nope"))
        .await;
    check(s, &b, 422, 40010001, "NOPE");
    let (s, b) = h
        .order(&keys, apca_order("SPY", Some("1"), None, "whole"))
        .await;
    check(s, &b, 422, 40010001, "client_order_id must be unique");
    // Open buy orders reserve buying power: two $60,000 orders queued for the open.
    h.control("/sim/v1/clock", json!({"now": "2026-01-03T15:00:00Z"}))
        .await;
    let (s, b) = h
        .order(&keys, apca_order("VOO", None, Some("60000"), "r-1"))
        .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("accepted")), "{b}");
    let (_, account) = h.get(&keys, "/v2/account").await;
    assert!(dec(&account["buying_power"]) < rust_decimal::dec!(40000));
    let (s, b) = h
        .order(&keys, apca_order("VOO", None, Some("60000"), "r-2"))
        .await;
    check(s, &b, 403, 40310000, "insufficient buying power");
    // A body that is not JSON.
    let (s, _) = h.post(&keys, "/v2/orders", json!("not an object")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn orders_are_found_listed_and_canceled() {
    let h = start(config()).await;
    let keys = h.account().await;
    h.control("/sim/v1/clock", json!({"now": "2026-01-03T15:00:00Z"}))
        .await;
    let (_, order) = h
        .order(&keys, apca_order("MSFT", Some("1"), None, "find-me"))
        .await;
    let id = order["id"].as_str().unwrap().to_owned();
    let simple = id.replace('-', "");
    let (s, by_client) = h
        .get(
            &keys,
            "/v2/orders:by_client_order_id?client_order_id=find-me",
        )
        .await;
    assert_eq!((s, &by_client["id"]), (200, &order["id"]));
    let (s, by_id) = h.get(&keys, &format!("/v2/orders/{simple}")).await;
    assert_eq!((s, &by_id["client_order_id"]), (200, &json!("find-me")));
    let (_, open) = h.get(&keys, "/v2/orders?status=open&nested=true").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    let (s, body) = h.delete(&keys, &format!("/v2/orders/{simple}")).await;
    assert_eq!((s, body), (204, Value::Null));
    let (_, order) = h.get(&keys, &format!("/v2/orders/{id}")).await;
    assert_eq!(order["status"], "canceled");
    assert!(order["canceled_at"].is_string());
    let (s, _) = h.delete(&keys, &format!("/v2/orders/{id}")).await;
    assert_eq!(s, 422);
    let (_, open) = h.get(&keys, "/v2/orders?status=open").await;
    assert_eq!(open, json!([]));
    let (_, closed) = h.get(&keys, "/v2/orders?status=closed&limit=10").await;
    assert_eq!(closed.as_array().unwrap().len(), 1);
    // Unique forever, even after cancel.
    let (s, _) = h
        .order(&keys, apca_order("MSFT", Some("1"), None, "find-me"))
        .await;
    assert_eq!(s, 422);
    let missing = uuid::Uuid::new_v4();
    let (s, b) = h.get(&keys, &format!("/v2/orders/{missing}")).await;
    assert_eq!((s, b["code"].as_u64()), (404, Some(40410000)));
    let (s, _) = h.delete(&keys, &format!("/v2/orders/{missing}")).await;
    assert_eq!(s, 404);
    let (s, _) = h
        .get(&keys, "/v2/orders:by_client_order_id?client_order_id=nope")
        .await;
    assert_eq!(s, 404);
    // Another account cannot see the order.
    let other = h.account().await;
    let (s, _) = h.get(&other, &format!("/v2/orders/{id}")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn limit_orders_fill_when_the_price_crosses_or_expire() {
    let h = start(config()).await;
    let keys = h.account().await;
    let price = h.latest(&keys, "NVDA").await;
    let limit = (price * rust_decimal::dec!(0.995)).round_dp(2);
    let mut body = apca_order("NVDA", Some("1"), None, "limit-1");
    body["type"] = json!("limit");
    body["limit_price"] = json!(limit.to_string());
    let (s, order) = h.order(&keys, body).await;
    assert_eq!((s, order["status"].as_str()), (200, Some("new")), "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    // A marketable limit order fills at once, at the market price.
    let mut marketable = apca_order("NVDA", Some("1"), None, "limit-2");
    marketable["type"] = json!("limit");
    marketable["limit_price"] = json!((price + rust_decimal::Decimal::ONE).to_string());
    let (_, filled) = h.order(&keys, marketable).await;
    assert_eq!(filled["status"], "filled");
    assert_eq!(dec(&filled["filled_avg_price"]), price);
    // Far below the market: a day order that expires at the close.
    let mut low = apca_order("NVDA", Some("1"), None, "limit-3");
    low["type"] = json!("limit");
    low["limit_price"] = json!((price / rust_decimal::Decimal::TWO).round_dp(2).to_string());
    let (_, low) = h.order(&keys, low).await;
    let (_, account) = h.get(&keys, "/v2/account").await;
    let reserved = dec(&account["cash"]) - dec(&account["buying_power"]);
    assert!(
        reserved > limit,
        "open limit orders reserve buying power: {account}"
    );
    h.sim.advance(86_400).await;
    let (_, low) = h
        .get(
            &keys,
            &format!("/v2/orders/{}", low["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(low["status"], "expired");
    assert_eq!(low["expired_at"], "2026-01-05T21:00:00Z");
    let (_, order) = h.get(&keys, &format!("/v2/orders/{id}")).await;
    match order["status"].as_str().unwrap() {
        "filled" => {
            assert!(dec(&order["filled_avg_price"]) <= limit);
            let (_, mins) = h
                .get(&keys, "/v2/stocks/NVDA/bars?timeframe=1Min&start=2026-01-05T15:00:00Z&end=2026-01-05T21:00:00Z&limit=10000")
                .await;
            let low = mins["bars"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| dec(&b["l"]))
                .min()
                .unwrap();
            assert!(low <= limit);
        }
        "expired" => assert_eq!(order["expired_at"], "2026-01-05T21:00:00Z"),
        other => panic!("unexpected status {other}: {order}"),
    }
}

#[tokio::test]
async fn keys_are_checked() {
    let h = start(config()).await;
    let keys = h.account().await;
    let (s, body) = h
        .get(&(keys.0.clone(), "wrong".into()), "/v2/account")
        .await;
    assert_eq!(s, 401);
    assert_eq!(
        body,
        json!({"code": 40110000, "message": "request is not authorized"})
    );
    let (s, _) = h
        .get(&("PKUNKNOWN".into(), "secret".into()), "/v2/account")
        .await;
    assert_eq!(s, 401);
    let (s, _) = h.get(&(String::new(), String::new()), "/v2/clock").await;
    assert_eq!(s, 401);

    let auto = start(SimConfig {
        auto_accounts: true,
        ..config()
    })
    .await;
    let new_keys: Keys = ("PKDEMO".into(), "demo-secret".into());
    let (s, account) = auto.get(&new_keys, "/v2/account").await;
    assert_eq!((s, account["cash"].as_str()), (200, Some("100000")));
    let (s, again) = auto.get(&new_keys, "/v2/account").await;
    assert_eq!((s, &again["id"]), (200, &account["id"]));
    let (s, _) = auto
        .get(&("PKDEMO".into(), "other".into()), "/v2/account")
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn rate_limit_answers_429() {
    let h = start(SimConfig {
        rate_limit_per_min: 3,
        ..config()
    })
    .await;
    let keys = h.account().await;
    for _ in 0..3 {
        let (s, _) = h.get(&keys, "/v2/clock").await;
        assert_eq!(s, 200);
    }
    let (s, body) = h.get(&keys, "/v2/clock").await;
    assert_eq!(s, 429);
    assert_eq!(body["message"], "rate limit exceeded");
    // Per key: another account still has its budget.
    let other = h.account().await;
    let (s, _) = h.get(&other, "/v2/account").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn calendar_uses_hh_mm_and_skips_holidays() {
    let h = start(config()).await;
    let keys = h.account().await;
    let (s, days) = h
        .get(&keys, "/v2/calendar?start=2026-11-25&end=2026-11-30")
        .await;
    assert_eq!(s, 200);
    let days = days.as_array().unwrap();
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2026-11-25", "2026-11-27", "2026-11-30"]);
    assert_eq!(days[0]["open"], "09:30");
    assert_eq!(days[0]["close"], "16:00");
    assert_eq!(days[1]["close"], "13:00");
    let (_, clock) = h.get(&keys, "/v2/clock").await;
    assert_eq!(clock["is_open"], true);
    assert_eq!(clock["timestamp"], "2026-01-05T10:00:00-05:00");
    assert_eq!(clock["next_close"], "2026-01-05T16:00:00-05:00");
    assert_eq!(clock["next_open"], "2026-01-06T09:30:00-05:00");
}

#[tokio::test]
async fn assets_have_names_and_fractionable_flags() {
    let h = start(config()).await;
    let keys = h.account().await;
    let (s, assets) = h
        .get(&keys, "/v2/assets?status=active&asset_class=us_equity")
        .await;
    assert_eq!(s, 200);
    let assets = assets.as_array().unwrap();
    assert!(assets.len() >= 40, "{}", assets.len());
    assert!(
        assets
            .iter()
            .all(|a| a["status"] == "active" && a["name"].is_string())
    );
    assert!(assets.iter().any(|a| a["fractionable"] == false));
    let (s, brk) = h.get(&keys, "/v2/assets/BRK.B").await;
    assert_eq!((s, brk["symbol"].as_str()), (200, Some("BRK.B")));
    assert_eq!(brk["tradable"], true);
    let (s, _) = h.get(&keys, "/v2/assets/NOPE").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn bars_agree_with_the_latest_trade_and_page() {
    let h = start(config()).await;
    let keys = h.account().await;
    let latest = h.latest(&keys, "QQQ").await;
    let (s, daily) = h
        .get(&keys, "/v2/stocks/QQQ/bars?timeframe=1Day&start=2025-12-01T00:00:00Z&end=2026-01-05T15:00:00Z")
        .await;
    assert_eq!(s, 200, "{daily}");
    assert_eq!(daily["symbol"], "QQQ");
    assert_eq!(daily["next_page_token"], Value::Null);
    let bars = daily["bars"].as_array().unwrap();
    let last = bars.last().unwrap();
    assert_eq!(last["t"], "2026-01-05T05:00:00Z");
    assert_eq!(dec(&last["c"]), latest);
    for bar in bars {
        for field in ["t", "o", "h", "l", "c", "v", "vw"] {
            assert!(!bar[field].is_null(), "{field}");
        }
        assert!(bar["v"].is_u64());
        assert!(dec(&bar["l"]) <= dec(&bar["o"]) && dec(&bar["o"]) <= dec(&bar["h"]));
    }
    let (_, minutes) = h
        .get(&keys, "/v2/stocks/QQQ/bars?timeframe=1Min&start=2026-01-05T14:30:00Z&end=2026-01-05T15:00:00Z")
        .await;
    let minutes = minutes["bars"].as_array().unwrap();
    assert_eq!(minutes.len(), 30);
    assert_eq!(dec(&minutes.last().unwrap()["c"]), latest);
    assert_eq!(dec(&minutes[0]["o"]), dec(&last["o"]));
    // Pages: limit 10 then the token.
    let (_, page) = h
        .get(&keys, "/v2/stocks/QQQ/bars?timeframe=1Day&start=2025-12-01T00:00:00Z&end=2026-01-05T15:00:00Z&limit=10")
        .await;
    assert_eq!(page["bars"].as_array().unwrap().len(), 10);
    let token = page["next_page_token"].as_str().unwrap().to_owned();
    let (_, rest) = h
        .get(&keys, &format!("/v2/stocks/QQQ/bars?timeframe=1Day&start=2025-12-01T00:00:00Z&end=2026-01-05T15:00:00Z&page_token={token}"))
        .await;
    assert_eq!(rest["bars"][0], bars[10]);
    // Nothing before the history starts; unknown timeframe is a 400.
    let (_, none) = h
        .get(&keys, "/v2/stocks/QQQ/bars?timeframe=1Day&start=2010-01-01T00:00:00Z&end=2010-02-01T00:00:00Z")
        .await;
    assert_eq!(none["bars"], Value::Null);
    let (s, _) = h.get(&keys, "/v2/stocks/QQQ/bars?timeframe=7Years").await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn faults_fail_delay_and_hang_requests() {
    let h = start(config()).await;
    let keys = h.account().await;
    let (s, _) = h
        .control(
            "/sim/v1/faults",
            json!({"error_rate": 1.0, "statuses": [503]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = h.get(&keys, "/v2/account").await;
    assert_eq!(s, 503);
    // A hang happens after processing: the order exists although the client gave up.
    h.control(
        "/sim/v1/faults",
        json!({"timeout_rate": 1.0, "timeout_ms": 2000, "latency_ms": 10}),
    )
    .await;
    let request = h
        .with_keys(h.client.post(format!("{}/v2/orders", h.base)), &keys)
        .timeout(std::time::Duration::from_millis(300))
        .body(apca_order("SPY", Some("1"), None, "hung").to_string());
    assert!(request.send().await.unwrap_err().is_timeout());
    let request = h
        .client
        .delete(format!("{}/sim/v1/faults", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(request.status().as_u16(), 204);
    let (s, order) = h
        .get(&keys, "/v2/orders:by_client_order_id?client_order_id=hung")
        .await;
    assert_eq!((s, order["status"].as_str()), (200, Some("filled")));
}

#[tokio::test]
async fn control_api_only_when_allowed() {
    let h = start(SimConfig {
        allow_control_api: false,
        ..config()
    })
    .await;
    let (s, _) = h.control("/sim/v1/accounts", json!({})).await;
    assert_eq!(s, 404);
    let keys = h.sim.create_account();
    let (s, _) = h.get(&keys, "/v2/account").await;
    assert_eq!(s, 200);
    assert_eq!(h.sim.now().to_string(), OPEN_MONDAY);
}

#[tokio::test]
async fn websocket_streams_trade_updates() {
    let h = start(config()).await;
    let keys = h.account().await;
    let url = format!("{}/stream", h.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    use tokio_tungstenite::tungstenite::Message;
    async fn next_json(
        ws: &mut (
                 impl futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
                 + Unpin
             ),
    ) -> Value {
        loop {
            let message = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
                .await
                .expect("a message in time")
                .expect("stream open")
                .expect("no error");
            match message {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Binary(b) => return serde_json::from_slice(&b).unwrap(),
                _ => continue,
            }
        }
    }
    let auth = json!({"action": "auth", "key": keys.0, "secret": keys.1});
    ws.send(Message::Text(auth.to_string().into()))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"stream": "authorization", "data": {"action": "authenticate", "status": "authorized"}})
    );
    let listen = json!({"action": "listen", "data": {"streams": ["trade_updates"]}});
    ws.send(Message::Text(listen.to_string().into()))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({"stream": "listening", "data": {"streams": ["trade_updates"]}})
    );
    // Another account's orders are not streamed here.
    let other = h.account().await;
    h.order(&other, apca_order("SPY", Some("1"), None, "other"))
        .await;
    let (_, order) = h
        .order(&keys, apca_order("SPY", Some("1"), None, "ws-1"))
        .await;
    let new = next_json(&mut ws).await;
    assert_eq!(new["stream"], "trade_updates");
    assert_eq!(new["data"]["event"], "new");
    assert_eq!(new["data"]["order"]["id"], order["id"]);
    let fill = next_json(&mut ws).await;
    assert_eq!(fill["data"]["event"], "fill");
    assert_eq!(fill["data"]["order"]["status"], "filled");
    assert_eq!(fill["data"]["order"]["client_order_id"], "ws-1");
    assert_eq!(fill["data"]["qty"], "1");
    assert_eq!(fill["data"]["position_qty"], "1");
    // Canceling a queued order streams "canceled".
    h.control("/sim/v1/clock", json!({"now": "2026-01-03T15:00:00Z"}))
        .await;
    let (_, queued) = h
        .order(&keys, apca_order("SPY", Some("1"), None, "ws-2"))
        .await;
    assert_eq!(next_json(&mut ws).await["data"]["event"], "new");
    h.delete(
        &keys,
        &format!("/v2/orders/{}", queued["id"].as_str().unwrap()),
    )
    .await;
    let canceled = next_json(&mut ws).await;
    assert_eq!(canceled["data"]["event"], "canceled");
    assert_eq!(canceled["data"]["order"]["status"], "canceled");

    // Wrong keys: unauthorized.
    let (mut bad, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let auth = json!({"action": "auth", "key": keys.0, "secret": "wrong"});
    bad.send(Message::Text(auth.to_string().into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut bad).await["data"]["status"], "unauthorized");

    // Shutdown closes the open websocket and `serve` returns.
    let _ = h.stop.send(());
    let served = tokio::time::timeout(std::time::Duration::from_secs(5), h.server)
        .await
        .expect("serve stops with a websocket open");
    served.unwrap().unwrap();
}

#[tokio::test]
async fn running_clock_fills_queued_orders_by_itself() {
    // Ten simulated minutes per real second, five simulated minutes before the open.
    let h = start(SimConfig {
        speed: 600.0,
        start_time: Some("2026-01-05T14:25:00Z".parse().unwrap()),
        ..config()
    })
    .await;
    let keys = h.account().await;
    let mut updates = h.sim.subscribe();
    let (_, order) = h
        .order(&keys, apca_order("BND", Some("1"), None, "tick"))
        .await;
    assert_eq!(order["status"], "accepted", "{order}");
    // No request needed: the ticker processes the open and publishes the fill.
    let fill = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let out = updates.recv().await.unwrap();
            if out.message.contains("\"fill\"") {
                return out.message;
            }
        }
    })
    .await
    .expect("a fill from the ticker");
    let fill: Value = serde_json::from_str(&fill).unwrap();
    assert_eq!(fill["data"]["order"]["filled_at"], "2026-01-05T14:30:00Z");
}

#[tokio::test]
async fn a_year_of_advance_and_a_decade_of_daily_bars() {
    let h = start(config()).await;
    let keys = h.account().await;
    let mut body = apca_order("SPY", Some("1"), None, "gtc");
    body["type"] = json!("limit");
    body["time_in_force"] = json!("gtc");
    body["limit_price"] = json!("1.00");
    let (s, order) = h.order(&keys, body).await;
    assert_eq!((s, order["status"].as_str()), (200, Some("new")), "{order}");
    h.sim.advance(365 * 86_400).await;
    let (_, order) = h
        .get(&keys, "/v2/orders:by_client_order_id?client_order_id=gtc")
        .await;
    assert_eq!(order["status"], "new");
    let (_, bars) = h
        .get(
            &keys,
            "/v2/stocks/SPY/bars?timeframe=1Day&start=2015-01-01T00:00:00Z&limit=10000",
        )
        .await;
    let bars = bars["bars"].as_array().unwrap();
    assert_eq!(bars[0]["t"], "2015-01-02T05:00:00Z");
    assert!(bars.len() > 3000, "{}", bars.len());
    assert_eq!(
        dec(&bars.last().unwrap()["c"]),
        h.latest(&keys, "SPY").await
    );
    let (_, weeks) = h
        .get(
            &keys,
            "/v2/stocks/SPY/bars?timeframe=1Week&start=2026-06-01T00:00:00Z&limit=3",
        )
        .await;
    assert_eq!(weeks["bars"][0]["t"], "2026-06-01T04:00:00Z");
    assert!(weeks["next_page_token"].is_string());
}

#[tokio::test]
async fn partial_fills_rest_until_canceled_or_the_close() {
    let h = start(config()).await;
    let keys = h.account().await;
    let (s, _) = h
        .control("/sim/v1/faults", json!({"partial_fills": {"SPY": "0.4"}}))
        .await;
    assert_eq!(s, 200);
    let (s, bad) = h
        .control("/sim/v1/faults", json!({"partial_fills": {"SPY": "1.5"}}))
        .await;
    assert_eq!(s, 422, "{bad}");
    let price = h.latest(&keys, "SPY").await;
    let (s, order) = h
        .order(&keys, apca_order("SPY", Some("10"), None, "part-1"))
        .await;
    assert_eq!(
        (s, order["status"].as_str()),
        (200, Some("partially_filled")),
        "{order}"
    );
    assert_eq!(dec(&order["filled_qty"]), rust_decimal::dec!(4));
    assert_eq!(dec(&order["filled_avg_price"]), price);
    assert!(
        order["filled_at"].is_null(),
        "not filled until all of it is"
    );
    let (_, position) = h.get(&keys, "/v2/positions/SPY").await;
    assert_eq!(dec(&position["qty"]), rust_decimal::dec!(4));
    // Other symbols fill whole; the rest of the SPY order is still open and cancelable.
    let (_, whole) = h
        .order(&keys, apca_order("QQQ", Some("1"), None, "whole"))
        .await;
    assert_eq!(whole["status"], "filled");
    let (_, open) = h.get(&keys, "/v2/orders?status=open").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    let id = order["id"].as_str().unwrap();
    let (s, _) = h.delete(&keys, &format!("/v2/orders/{id}")).await;
    assert_eq!(s, 204);
    let (_, canceled) = h.get(&keys, &format!("/v2/orders/{id}")).await;
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(dec(&canceled["filled_qty"]), rust_decimal::dec!(4));
    // A notional day order partly filled expires at the close with what it filled.
    let (_, day) = h
        .order(&keys, apca_order("SPY", None, Some("1000"), "part-2"))
        .await;
    assert_eq!(day["status"], "partially_filled");
    let filled = dec(&day["filled_qty"]);
    assert!(filled > rust_decimal::Decimal::ZERO && filled * price <= rust_decimal::dec!(400.01));
    h.sim.advance(86_400).await;
    let (_, expired) = h
        .get(
            &keys,
            &format!("/v2/orders/{}", day["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(expired["status"], "expired");
    assert_eq!(dec(&expired["filled_qty"]), filled);
    // The cash held back for the open rest is released.
    let (_, account) = h.get(&keys, "/v2/account").await;
    assert_eq!(dec(&account["cash"]), dec(&account["buying_power"]));
    // Cleared faults fill whole again.
    h.client
        .delete(format!("{}/sim/v1/faults", h.base))
        .send()
        .await
        .unwrap();
    let (_, whole) = h
        .order(&keys, apca_order("SPY", Some("1"), None, "part-3"))
        .await;
    assert_eq!(whole["status"], "filled");
}

#[tokio::test]
async fn a_lost_order_response_leaves_the_order_placed() {
    let h = start(config()).await;
    let keys = h.account().await;
    h.control(
        "/sim/v1/faults",
        json!({"lost_order_responses": 1, "timeout_ms": 2000}),
    )
    .await;
    // Reads are untouched; the first order's answer is lost, the second comes back.
    let (s, _) = h.get(&keys, "/v2/account").await;
    assert_eq!(s, 200);
    let request = h
        .with_keys(h.client.post(format!("{}/v2/orders", h.base)), &keys)
        .timeout(std::time::Duration::from_millis(300))
        .body(apca_order("SPY", Some("1"), None, "lost").to_string());
    assert!(request.send().await.unwrap_err().is_timeout());
    let (s, again) = h
        .order(&keys, apca_order("SPY", Some("1"), None, "lost"))
        .await;
    assert_eq!(s, 422, "the retry meets the order placed: {again}");
    let (s, order) = h
        .get(&keys, "/v2/orders:by_client_order_id?client_order_id=lost")
        .await;
    assert_eq!((s, order["status"].as_str()), (200, Some("filled")));
    let (_, faults) = h.get(&keys, "/sim/v1/faults").await;
    assert_eq!(faults["lost_order_responses"], 0, "{faults}");
}

#[tokio::test]
async fn positions_close_and_orders_cancel_in_bulk() {
    let h = start(config()).await;
    let keys = h.account().await;
    h.order(&keys, apca_order("SPY", Some("10"), None, "spy"))
        .await;
    h.order(&keys, apca_order("QQQ", Some("2"), None, "qqq"))
        .await;
    let (s, err) = h.delete(&keys, "/v2/positions/MSFT").await;
    assert_eq!((s, err["code"].as_u64()), (404, Some(40410000)));
    let (s, err) = h.delete(&keys, "/v2/positions/SPY?qty=11").await;
    assert_eq!(s, 403, "{err}");
    let (s, err) = h
        .delete(&keys, "/v2/positions/SPY?qty=1&percentage=5")
        .await;
    assert_eq!(s, 422, "{err}");
    let (s, sell) = h.delete(&keys, "/v2/positions/SPY?percentage=25").await;
    assert_eq!(s, 200, "{sell}");
    assert_eq!(
        (
            sell["side"].as_str(),
            sell["type"].as_str(),
            sell["status"].as_str()
        ),
        (Some("sell"), Some("market"), Some("filled"))
    );
    assert_eq!(dec(&sell["qty"]), rust_decimal::dec!(2.5));
    let (_, spy) = h.get(&keys, "/v2/positions/SPY").await;
    assert_eq!(dec(&spy["qty"]), rust_decimal::dec!(7.5));
    let (s, sell) = h.delete(&keys, "/v2/positions/SPY").await;
    assert_eq!((s, dec(&sell["qty"])), (200, rust_decimal::dec!(7.5)));
    let (s, _) = h.get(&keys, "/v2/positions/SPY").await;
    assert_eq!(s, 404);
    // Close everything: one entry per symbol.
    let (s, all) = h.delete(&keys, "/v2/positions").await;
    assert_eq!(s, 207, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(
        (all[0]["symbol"].as_str(), all[0]["status"].as_u64()),
        (Some("QQQ"), Some(200))
    );
    assert_eq!(all[0]["body"]["side"], "sell");
    let (_, positions) = h.get(&keys, "/v2/positions").await;
    assert_eq!(positions, json!([]));
    // Orders placed while the market is closed wait; cancel them all at once.
    h.control("/sim/v1/clock", json!({"now": "2026-01-10T15:00:00Z"}))
        .await;
    for id in ["w1", "w2"] {
        let (_, o) = h.order(&keys, apca_order("SPY", Some("1"), None, id)).await;
        assert_eq!(o["status"], "accepted");
    }
    let (s, canceled) = h.delete(&keys, "/v2/orders").await;
    assert_eq!(s, 207, "{canceled}");
    let canceled = canceled.as_array().unwrap();
    assert_eq!(canceled.len(), 2);
    assert!(
        canceled
            .iter()
            .all(|c| c["status"] == 200 && c["body"]["status"] == "canceled")
    );
    let (_, open) = h.get(&keys, "/v2/orders?status=open").await;
    assert_eq!(open, json!([]));
}

#[tokio::test]
async fn web_pages_cannot_drive_the_control_api() {
    let h = start(config()).await;
    let before = h.sim.now();
    // What a page can send without asking: a text/plain POST (no-cors), with its Origin.
    let simple = h
        .client
        .post(format!("{}/sim/v1/clock/advance", h.base))
        .header("content-type", "text/plain")
        .body(r#"{"seconds": 86400}"#);
    let (s, body) = h.send(simple).await;
    assert_eq!(s, 415, "{body}");
    let from_page = h
        .client
        .post(format!("{}/sim/v1/faults", h.base))
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(r#"{"error_rate": 1.0}"#);
    let (s, body) = h.send(from_page).await;
    assert_eq!(s, 403, "{body}");
    let read = h
        .client
        .get(format!("{}/sim/v1/clock", h.base))
        .header("origin", "https://evil.example");
    assert_eq!(h.send(read).await.0, 403);
    assert_eq!(h.sim.now(), before, "the clock did not move");
    assert_eq!(h.sim.faults.get(), None, "no fault was set");
    // Tools on this machine (JSON, no Origin) still can.
    let (s, _) = h
        .control("/sim/v1/clock/advance", json!({"seconds": 60}))
        .await;
    assert_eq!(s, 200);
}
