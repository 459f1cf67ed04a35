//! The HTTP surface: Alpaca's `/v2` trading and market-data endpoints at the root of the
//! simulator's host:port (apca replaces the URL path, so no prefix is possible), the
//! `/stream` websocket, and the `/sim/v1` control API when the configuration allows it.
//!
//! Every `/v2` request passes, outermost first, through fault injection, the per-key rate
//! limiter (a sliding one-minute window on the real clock, answering 429 beyond the
//! limit, with `X-RateLimit-*` headers) and authentication (`apca-api-key-id` and
//! `apca-api-secret-key` headers). POST bodies are read as JSON whatever their
//! Content-Type (apca sends none).

use super::Simulator;
use super::bars::{self, TimeFrame};
use super::engine::{self, CloseAmount};
use super::error::SimError;
use super::{faults, stream, wire};
use app::domain::calendar;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

type Sim = State<Arc<Simulator>>;
type Params = Query<HashMap<String, String>>;
type Answer = Result<axum::Json<Value>, SimError>;

/// Requests per key in a sliding one-minute window of real time.
pub struct RateLimiter {
    per_min: u32,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(per_min: u32) -> Self {
        Self {
            per_min,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request; `Ok(remaining)` or `Err(seconds until a slot frees)`.
    pub fn check(&self, key: &str) -> Result<u32, u64> {
        if self.per_min == 0 {
            return Ok(u32::MAX);
        }
        let window = Duration::from_secs(60);
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        let queue = hits.entry(key.to_owned()).or_default();
        while queue
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            queue.pop_front();
        }
        if queue.len() >= self.per_min as usize {
            let oldest = queue.front().copied().unwrap_or(now);
            return Err(window.saturating_sub(now.duration_since(oldest)).as_secs() + 1);
        }
        queue.push_back(now);
        Ok(self.per_min - queue.len() as u32)
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn rate_limit(State(sim): Sim, request: Request, next: Next) -> Response {
    let key = request
        .headers()
        .get("apca-api-key-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let limit = sim.config.rate_limit_per_min;
    let (mut response, remaining) = match sim.limiter.check(&key) {
        Ok(remaining) => (next.run(request).await, remaining),
        Err(_) => (SimError::rate_limited().into_response(), 0),
    };
    if limit > 0 {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        let reset = Timestamp::now().as_second() + 60;
        headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
    }
    response
}

/// The account behind the request's key pair.
pub struct Authed(pub Uuid);

impl FromRequestParts<Arc<Simulator>> for Authed {
    type Rejection = SimError;

    async fn from_request_parts(parts: &mut Parts, sim: &Arc<Simulator>) -> Result<Self, SimError> {
        let key = header(parts, "apca-api-key-id");
        let secret = header(parts, "apca-api-secret-key");
        let auto = sim.config.auto_accounts;
        sim.with_engine(|engine, _, now| engine.authenticate(key, secret, auto, now))
            .map(Authed)
    }
}

pub fn router(sim: Arc<Simulator>) -> Router {
    let v2 = Router::new()
        .route("/v2/account", get(account))
        .route("/v2/account/activities", get(activities))
        .route("/v2/account/activities/{kind}", get(activities_of_kind))
        .route("/v2/positions", get(positions).delete(close_all_positions))
        .route(
            "/v2/positions/{symbol}",
            get(position).delete(close_position),
        )
        .route(
            "/v2/orders",
            get(list_orders)
                .post(create_order)
                .delete(cancel_all_orders),
        )
        .route("/v2/orders:by_client_order_id", get(order_by_client_id))
        .route("/v2/orders/{id}", get(get_order).delete(cancel_order))
        .route("/v2/assets", get(assets))
        .route("/v2/assets/{symbol}", get(asset))
        .route("/v2/clock", get(clock))
        .route("/v2/calendar", get(calendar_days))
        .route("/v2/stocks/{symbol}/bars", get(stock_bars))
        .route("/v2/stocks/{symbol}/trades/latest", get(latest_trade))
        .route_layer(from_fn_with_state(sim.clone(), rate_limit))
        .route_layer(from_fn_with_state(sim.clone(), faults::inject));
    let mut app = v2.route("/stream", get(stream::handler));
    if sim.config.allow_control_api {
        let control = Router::new()
            .route("/sim/v1/accounts", post(control_create_account))
            .route("/sim/v1/clock", get(control_clock).post(control_set_clock))
            .route("/sim/v1/clock/advance", post(control_advance))
            .route(
                "/sim/v1/faults",
                get(control_get_faults)
                    .post(control_set_faults)
                    .delete(control_clear_faults),
            )
            .route_layer(axum::middleware::from_fn(control_guard));
        app = app.merge(control);
    }
    app.fallback(not_found).with_state(sim)
}

/// The control API is for tools on this machine, never for web pages: a request that
/// carries a browser's `Origin` is refused, and a POST must say it sends JSON (a page can
/// send a `text/plain` POST to any address without asking, but not an `application/json`
/// one).
async fn control_guard(request: Request, next: Next) -> Response {
    if request.headers().contains_key(axum::http::header::ORIGIN) {
        return SimError::forbidden("the control API does not accept requests from web pages")
            .into_response();
    }
    let json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if request.method() == axum::http::Method::POST && !json {
        return SimError::new(
            415,
            41500000,
            "the control API takes Content-Type: application/json",
        )
        .into_response();
    }
    next.run(request).await
}

async fn not_found() -> SimError {
    SimError::not_found("endpoint not found")
}

fn json_body(body: &Bytes) -> Result<Value, SimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body)
        .map_err(|_| SimError::bad_request("request body format is invalid"))
}

fn parse_order_id(id: &str) -> Result<Uuid, SimError> {
    Uuid::parse_str(id.trim()).map_err(|_| SimError::not_found("order not found"))
}

fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn time_param(q: &HashMap<String, String>, name: &str) -> Result<Option<Timestamp>, SimError> {
    param(q, name)
        .map(|s| {
            bars::parse_time(s).ok_or_else(|| SimError::invalid(format!("invalid {name}: {s}")))
        })
        .transpose()
}

fn limit_param(q: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, SimError> {
    match param(q, "limit") {
        None => Ok(default),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| SimError::invalid(format!("invalid limit: {s}"))),
    }
}

async fn account(State(sim): Sim, Authed(id): Authed) -> Answer {
    sim.with_engine(|engine, market, now| {
        let account = engine.account(id)?;
        Ok(axum::Json(wire::account(market, account, now)))
    })
}

async fn positions(State(sim): Sim, Authed(id): Authed) -> Answer {
    sim.with_engine(|engine, market, now| {
        let account = engine.account(id)?;
        let list: Vec<Value> = account
            .positions
            .iter()
            .map(|(symbol, holding)| wire::position(market, account, symbol, holding, now))
            .collect();
        Ok(axum::Json(Value::Array(list)))
    })
}

async fn position(State(sim): Sim, Authed(id): Authed, Path(symbol): Path<String>) -> Answer {
    sim.with_engine(|engine, market, now| {
        let account = engine.account(id)?;
        let asset = market
            .asset(&symbol)
            .ok_or_else(|| SimError::not_found("position does not exist"))?;
        let holding = account
            .positions
            .get(asset.symbol)
            .ok_or_else(|| SimError::not_found("position does not exist"))?;
        Ok(axum::Json(wire::position(
            market,
            account,
            asset.symbol,
            holding,
            now,
        )))
    })
}

/// `DELETE /v2/positions/{symbol}[?qty=|?percentage=]`: a market sell of the shares,
/// answered with the order.
async fn close_position(
    State(sim): Sim,
    Authed(id): Authed,
    Path(symbol): Path<String>,
    Query(q): Params,
) -> Answer {
    let amount = match (param(&q, "qty"), param(&q, "percentage")) {
        (Some(_), Some(_)) => {
            return Err(SimError::invalid(
                "only one of qty or percentage may be given",
            ));
        }
        (Some(qty), None) => CloseAmount::Qty(
            Decimal::from_str_exact(qty.trim())
                .ok()
                .filter(|q| *q > Decimal::ZERO)
                .ok_or_else(|| SimError::invalid("qty must be a positive number"))?,
        ),
        (None, Some(pct)) => CloseAmount::Percentage(
            Decimal::from_str_exact(pct.trim())
                .ok()
                .filter(|p| *p > Decimal::ZERO && *p <= Decimal::ONE_HUNDRED)
                .ok_or_else(|| SimError::invalid("percentage must be between 0 and 100"))?,
        ),
        (None, None) => CloseAmount::All,
    };
    let symbol = market_symbol(&sim, &symbol)?;
    sim.with_engine(|engine, market, now| engine.close_position(market, id, symbol, amount, now))
        .map(axum::Json)
}

fn market_symbol(sim: &Simulator, symbol: &str) -> Result<&'static str, SimError> {
    sim.market
        .asset(symbol)
        .map(|a| a.symbol)
        .ok_or_else(|| SimError::not_found("position does not exist"))
}

/// `DELETE /v2/positions`: closes every position; 207 with one entry per symbol.
async fn close_all_positions(State(sim): Sim, Authed(id): Authed) -> Result<Response, SimError> {
    let results = sim.with_engine(|engine, market, now| -> Result<Vec<Value>, SimError> {
        let symbols: Vec<&'static str> = engine.account(id)?.positions.keys().copied().collect();
        Ok(symbols
            .into_iter()
            .map(|symbol| {
                match engine.close_position(market, id, symbol, CloseAmount::All, now) {
                    Ok(order) => serde_json::json!({"symbol": symbol, "status": 200, "body": order}),
                    Err(err) => serde_json::json!({"symbol": symbol, "status": err.status, "body": err.body()}),
                }
            })
            .collect())
    })?;
    Ok((StatusCode::MULTI_STATUS, axum::Json(Value::Array(results))).into_response())
}

/// `DELETE /v2/orders`: cancels every open order; 207 with one entry per order.
async fn cancel_all_orders(State(sim): Sim, Authed(id): Authed) -> Result<Response, SimError> {
    let results = sim.with_engine(|engine, _, now| -> Result<Vec<Value>, SimError> {
        let canceled = engine.cancel_all(id, now)?;
        let account = engine.account(id)?;
        Ok(canceled
            .into_iter()
            .map(|order| {
                serde_json::json!({
                    "id": order.to_string(),
                    "status": 200,
                    "body": account.order(order).map(wire::order),
                })
            })
            .collect())
    })?;
    Ok((StatusCode::MULTI_STATUS, axum::Json(Value::Array(results))).into_response())
}

async fn create_order(State(sim): Sim, Authed(id): Authed, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    sim.with_engine(|engine, market, now| engine.place_order(market, id, &body, now))
        .map(axum::Json)
}

async fn list_orders(State(sim): Sim, Authed(id): Authed, Query(q): Params) -> Answer {
    let status = param(&q, "status").unwrap_or("open");
    if !matches!(status, "open" | "closed" | "all") {
        return Err(SimError::invalid(format!("invalid status: {status}")));
    }
    let limit = limit_param(&q, 50, 500)?;
    let after = time_param(&q, "after")?;
    let until = time_param(&q, "until")?;
    let ascending = param(&q, "direction") == Some("asc");
    let symbols: Option<Vec<String>> = param(&q, "symbols").map(|s| {
        s.split(',')
            .map(|x| x.trim().to_ascii_uppercase())
            .filter(|x| !x.is_empty())
            .collect()
    });
    let side = param(&q, "side").map(str::to_owned);
    sim.with_engine(|engine, _, _| {
        let account = engine.account(id)?;
        let mut orders: Vec<&engine::Order> = account
            .orders
            .iter()
            .filter(|o| match status {
                "open" => o.status.is_open(),
                "closed" => !o.status.is_open(),
                _ => true,
            })
            .filter(|o| after.is_none_or(|a| o.created_at > a))
            .filter(|o| until.is_none_or(|u| o.created_at < u))
            .filter(|o| {
                symbols
                    .as_ref()
                    .is_none_or(|s| s.iter().any(|x| x == o.symbol))
            })
            .filter(|o| side.as_deref().is_none_or(|s| s == o.side.as_str()))
            .collect();
        // Orders are stored in creation order; newest first unless asked otherwise.
        if !ascending {
            orders.reverse();
        }
        let list: Vec<Value> = orders.into_iter().take(limit).map(wire::order).collect();
        Ok(axum::Json(Value::Array(list)))
    })
}

async fn get_order(State(sim): Sim, Authed(id): Authed, Path(order_id): Path<String>) -> Answer {
    let order_id = parse_order_id(&order_id)?;
    sim.with_engine(|engine, _, _| {
        let order = engine
            .account(id)?
            .order(order_id)
            .ok_or_else(|| SimError::not_found("order not found"))?;
        Ok(axum::Json(wire::order(order)))
    })
}

async fn order_by_client_id(State(sim): Sim, Authed(id): Authed, Query(q): Params) -> Answer {
    let client_id = param(&q, "client_order_id")
        .ok_or_else(|| SimError::invalid("client_order_id is required"))?
        .to_owned();
    sim.with_engine(|engine, _, _| {
        let account = engine.account(id)?;
        let order = account
            .by_client_id
            .get(&client_id)
            .map(|&i| &account.orders[i])
            .ok_or_else(|| SimError::not_found("order not found"))?;
        Ok(axum::Json(wire::order(order)))
    })
}

async fn cancel_order(
    State(sim): Sim,
    Authed(id): Authed,
    Path(order_id): Path<String>,
) -> Result<StatusCode, SimError> {
    let order_id = parse_order_id(&order_id)?;
    sim.with_engine(|engine, _, now| engine.cancel(id, order_id, now))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn assets(State(sim): Sim, _auth: Authed, Query(q): Params) -> Answer {
    let status = param(&q, "status");
    let class = param(&q, "asset_class").unwrap_or("us_equity");
    let exchange = param(&q, "exchange");
    let list: Vec<Value> = sim
        .market
        .assets()
        .iter()
        .filter(|_| class == "us_equity")
        .filter(|a| match status {
            Some("active") => a.active,
            Some("inactive") => !a.active,
            _ => true,
        })
        .filter(|a| exchange.is_none_or(|e| e.eq_ignore_ascii_case(a.exchange)))
        .map(wire::asset)
        .collect();
    Ok(axum::Json(Value::Array(list)))
}

async fn asset(State(sim): Sim, _auth: Authed, Path(symbol): Path<String>) -> Answer {
    sim.market
        .asset(&symbol)
        .map(|a| axum::Json(wire::asset(a)))
        .ok_or_else(|| SimError::not_found(format!("asset not found for {symbol}")))
}

async fn clock(State(sim): Sim, _auth: Authed) -> Answer {
    let now = sim.now();
    let next_open = engine::next_open(now).map(wire::ny_time);
    let next_close = engine::next_close(now).map(wire::ny_time);
    Ok(axum::Json(json!({
        "timestamp": wire::ny_time(now),
        "is_open": calendar::is_open_at(now),
        "next_open": next_open,
        "next_close": next_close,
    })))
}

fn date_param(q: &HashMap<String, String>, name: &str) -> Result<Option<Date>, SimError> {
    param(q, name)
        .map(|s| {
            s.parse::<Date>()
                .ok()
                .or_else(|| {
                    s.parse::<Timestamp>()
                        .ok()
                        .map(|t| calendar::new_york().to_datetime(t).date())
                })
                .ok_or_else(|| SimError::invalid(format!("invalid {name}: {s}")))
        })
        .transpose()
}

async fn calendar_days(State(sim): Sim, _auth: Authed, Query(q): Params) -> Answer {
    let today = calendar::new_york().to_datetime(sim.now()).date();
    let start = date_param(&q, "start")?.unwrap_or(jiff::civil::date(calendar::FIRST_YEAR, 1, 1));
    let end = match date_param(&q, "end")? {
        Some(end) => end,
        None => today
            .checked_add(jiff::Span::new().years(1))
            .unwrap_or(today),
    };
    let days: Vec<Value> = calendar::sessions(start, end)
        .map(|s| wire::calendar_day(&s))
        .collect();
    Ok(axum::Json(Value::Array(days)))
}

fn activity_page(
    sim: &Simulator,
    id: Uuid,
    q: &HashMap<String, String>,
    kinds: Option<&str>,
) -> Answer {
    let wants_fills =
        kinds.is_none_or(|k| k.split(',').any(|x| x.trim().eq_ignore_ascii_case("FILL")));
    let after = time_param(q, "after")?;
    let until = time_param(q, "until")?;
    let day = date_param(q, "date")?;
    let ascending = param(q, "direction") == Some("asc");
    let page_size = match param(q, "page_size") {
        None => 100,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| SimError::invalid(format!("invalid page_size: {s}")))?,
    };
    let token = param(q, "page_token").map(str::to_owned);
    sim.with_engine(|engine, _, _| {
        let account = engine.account(id)?;
        if !wants_fills {
            return Ok(axum::Json(Value::Array(Vec::new())));
        }
        let mut fills: Vec<&engine::Fill> = account
            .fills
            .iter()
            .filter(|f| after.is_none_or(|a| f.time > a))
            .filter(|f| until.is_none_or(|u| f.time < u))
            .filter(|f| day.is_none_or(|d| calendar::new_york().to_datetime(f.time).date() == d))
            .collect();
        if !ascending {
            fills.reverse();
        }
        if let Some(token) = token
            && let Some(pos) = fills.iter().position(|f| f.id == token)
        {
            fills.drain(..=pos);
        }
        let list: Vec<Value> = fills
            .into_iter()
            .take(page_size)
            .map(wire::activity)
            .collect();
        Ok(axum::Json(Value::Array(list)))
    })
}

async fn activities(State(sim): Sim, Authed(id): Authed, Query(q): Params) -> Answer {
    let kinds = param(&q, "activity_types").map(str::to_owned);
    activity_page(&sim, id, &q, kinds.as_deref())
}

async fn activities_of_kind(
    State(sim): Sim,
    Authed(id): Authed,
    Path(kind): Path<String>,
    Query(q): Params,
) -> Answer {
    activity_page(&sim, id, &q, Some(&kind))
}

async fn stock_bars(
    State(sim): Sim,
    _auth: Authed,
    Path(symbol): Path<String>,
    Query(q): Params,
) -> Answer {
    let tf_text =
        param(&q, "timeframe").ok_or_else(|| SimError::bad_request("timeframe is required"))?;
    let tf = TimeFrame::parse(tf_text)
        .ok_or_else(|| SimError::bad_request(format!("invalid timeframe: {tf_text}")))?;
    let limit = match param(&q, "limit") {
        None => 1000,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| SimError::bad_request(format!("invalid limit: {s}")))?,
    };
    let now = sim.now();
    let bad = |e: SimError| SimError::bad_request(e.message);
    let mut start = time_param(&q, "start")
        .map_err(bad)?
        .unwrap_or_else(|| bars::start_of_day(now));
    let end = time_param(&q, "end").map_err(bad)?.unwrap_or(now);
    if let Some(token) = param(&q, "page_token") {
        let secs = token
            .parse::<i64>()
            .ok()
            .and_then(|s| Timestamp::from_second(s).ok())
            .ok_or_else(|| SimError::bad_request("invalid page_token"))?;
        start = start.max(secs);
    }
    let upper = symbol.trim().to_ascii_uppercase();
    let (list, next) = match sim.market.static_symbol(&upper) {
        Some(sym) => bars::bars(&sim.market, sym, tf, start, end, now, limit),
        None => (Vec::new(), None),
    };
    let bars_json = if list.is_empty() {
        Value::Null
    } else {
        Value::Array(list.iter().map(wire::bar).collect())
    };
    Ok(axum::Json(json!({
        "bars": bars_json,
        "symbol": upper,
        "next_page_token": next.map(|t| t.as_second().to_string()),
    })))
}

async fn latest_trade(State(sim): Sim, _auth: Authed, Path(symbol): Path<String>) -> Answer {
    let upper = symbol.trim().to_ascii_uppercase();
    let now = sim.now();
    let trade = sim
        .market
        .trade_at(&upper, now)
        .ok_or_else(|| SimError::not_found(format!("no trade found for {upper}")))?;
    Ok(axum::Json(json!({
        "symbol": upper,
        "trade": {
            "t": wire::time(trade.time),
            "x": "V",
            "p": wire::data_num(trade.price),
            "s": trade.size,
            "c": ["@"],
            "i": trade.time.as_second(),
            "z": "B",
        },
    })))
}

// ----- control API -----

async fn control_create_account(State(sim): Sim, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let cash = match body.get("cash") {
        None | Some(Value::Null) => engine::STARTING_CASH,
        Some(Value::String(s)) => {
            Decimal::from_str_exact(s.trim()).map_err(|_| SimError::invalid("invalid cash"))?
        }
        Some(Value::Number(n)) => Decimal::from_str_exact(&n.to_string())
            .map_err(|_| SimError::invalid("invalid cash"))?,
        Some(_) => return Err(SimError::invalid("invalid cash")),
    };
    let (key_id, secret_key, account_id) = sim.create_account_with(cash);
    Ok(axum::Json(json!({
        "key_id": key_id,
        "secret_key": secret_key,
        "account_id": account_id.to_string(),
    })))
}

fn clock_state(sim: &Simulator) -> Value {
    let now = sim.now();
    json!({"now": wire::time(now), "is_open": calendar::is_open_at(now)})
}

async fn control_clock(State(sim): Sim) -> Answer {
    Ok(axum::Json(clock_state(&sim)))
}

async fn control_set_clock(State(sim): Sim, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let now = body
        .get("now")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
        .ok_or_else(|| SimError::invalid("now must be an RFC 3339 time"))?;
    sim.set_time(now);
    Ok(axum::Json(clock_state(&sim)))
}

async fn control_advance(State(sim): Sim, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let seconds = body
        .get("seconds")
        .and_then(Value::as_i64)
        .filter(|s| *s >= 0)
        .ok_or_else(|| SimError::invalid("seconds must be a non-negative integer"))?;
    sim.advance(seconds).await;
    Ok(axum::Json(clock_state(&sim)))
}

async fn control_get_faults(State(sim): Sim) -> Answer {
    Ok(axum::Json(
        serde_json::to_value(sim.faults.get()).unwrap_or(Value::Null),
    ))
}

async fn control_set_faults(State(sim): Sim, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let faults: faults::Faults = serde_json::from_value(body)
        .map_err(|e| SimError::invalid(format!("invalid faults: {e}")))?;
    let rate_ok = |r: f64| (0.0..=1.0).contains(&r);
    if !rate_ok(faults.error_rate) || !rate_ok(faults.timeout_rate) {
        return Err(SimError::invalid("rates must be between 0 and 1"));
    }
    if faults.statuses.iter().any(|s| !(400..=599).contains(s)) {
        return Err(SimError::invalid("statuses must be 4xx or 5xx"));
    }
    if faults
        .partial_fills
        .values()
        .any(|s| *s <= Decimal::ZERO || *s >= Decimal::ONE)
    {
        return Err(SimError::invalid(
            "partial fill shares must be between 0 and 1",
        ));
    }
    let shares = faults.partial_fills.clone();
    sim.with_engine(|engine, _, _| engine.set_partial_fills(shares));
    sim.faults.set(Some(faults.clone()));
    Ok(axum::Json(
        serde_json::to_value(faults).unwrap_or(Value::Null),
    ))
}

async fn control_clear_faults(State(sim): Sim) -> StatusCode {
    sim.with_engine(|engine, _, _| engine.set_partial_fills(Default::default()));
    sim.faults.set(None);
    StatusCode::NO_CONTENT
}
