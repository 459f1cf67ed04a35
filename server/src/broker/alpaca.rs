//! [`Broker`] over Alpaca's HTTP API with apca, against any base URL: Alpaca paper, live,
//! or the simulator. Every request waits for the key's rate-limit token, is bounded by a
//! timeout, and is retried with backoff when the failure is transient.
//!
//! apca hard-codes the market-data URL in its data endpoints, so bars, latest trades and
//! the asset list (whose `name` apca drops) use endpoints defined here with
//! `http_endpoint::EndpointDef!`, issued through a second apca client whose base URL is
//! the configured data URL.

use super::convert::{self, to_decimal, to_num};
use super::rate_limit::{RateLimiters, TokenBucket};
use super::retry::RetryPolicy;
use super::{
    AccountSnapshot, ActivityPage, AssetInfo, Broker, BrokerError, CalendarDay, MarketClock,
    OrderKind, OrderQuery, OrderRequest, OrderSnapshot, PositionSnapshot, TimeFrame, TimeInForce,
    TradeEvent, TradeUpdate,
};
use apca::api::v2::{
    account, account_activities, asset, calendar, clock, order, orders, position, positions,
    updates,
};
use apca::{ApiInfo, Client, Subscribable};
use app::domain::market::{Bar, Symbol};
use app::domain::order::{Side, Size};
use async_trait::async_trait;
use futures_util::StreamExt as _;
use http_endpoint::Endpoint;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub const PAPER_URL: &str = "https://paper-api.alpaca.markets";
pub const LIVE_URL: &str = "https://api.alpaca.markets";
pub const DATA_URL: &str = "https://data.alpaca.markets";

/// An API secret: never serialised, printed as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Clone, Debug)]
pub struct AlpacaConfig {
    pub trading_url: String,
    pub data_url: String,
    /// The trade-updates websocket; derived from the trading URL when `None`.
    pub stream_url: Option<String>,
    pub key_id: String,
    pub secret: Secret,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Where request durations and errors are counted (`/metrics`).
    pub metrics: Option<crate::metrics::BrokerMetrics>,
}

impl AlpacaConfig {
    /// A configuration for a simulator (or any Alpaca-compatible server) at `base_url`,
    /// serving trading, data and the stream on one host.
    pub fn for_base_url(
        base_url: &str,
        key_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        let base = base_url.trim_end_matches('/');
        Self {
            trading_url: base.to_owned(),
            data_url: base.to_owned(),
            stream_url: Some(format!("{}/stream", base.replacen("http", "ws", 1))),
            key_id: key_id.into(),
            secret: Secret::new(secret),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            metrics: None,
        }
    }
}

pub struct AlpacaBroker {
    trading: Target,
    data: Target,
    /// The trade-updates stream's connection details; a websocket client is made only
    /// when someone subscribes.
    stream: ApiInfo,
    limiter: Arc<TokenBucket>,
    retry: RetryPolicy,
    timeout: Duration,
    metrics: Option<crate::metrics::BrokerMetrics>,
}

/// Where one of Alpaca's APIs (trading or market data) is, and the keys to send.
struct Target {
    base: url::Url,
    key_id: String,
    secret: Secret,
}

type Http = hyper_util::client::legacy::Client<
    hyper_tls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// One HTTPS client (and connection pool) for every key in the process. apca's `Client`
/// makes its own TLS connector, and making one loads and parses the whole system
/// certificate store: with a client per user, that was over half of the CPU a purchase
/// cost (see BENCHMARKS.md, "purchase engine"). Requests go out through this client
/// instead; apca still supplies the endpoint definitions and the stream.
fn http() -> &'static Http {
    static HTTP: std::sync::OnceLock<Http> = std::sync::OnceLock::new();
    HTTP.get_or_init(|| {
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_tls::HttpsConnector::new())
    })
}

/// Why a request failed: the endpoint's own error (an answer), or no answer.
enum Failure<E> {
    Endpoint(E),
    Transport(String),
}

/// Sends one request to `E` at `target` and reads its answer as apca's `Client::issue`
/// would (same URL, headers and body), through the shared client.
async fn issue<E: Endpoint>(
    target: &Target,
    input: &E::Input,
) -> Result<E::Output, Failure<E::Error>> {
    use http_body_util::BodyExt as _;
    let endpoint = |e: E::ConversionError| Failure::Endpoint(E::Error::from(e));
    let mut url = match E::base_url() {
        Some(base) => url::Url::parse(&base).map_err(|e| Failure::Transport(e.to_string()))?,
        None => target.base.clone(),
    };
    url.set_path(&E::path(input));
    url.set_query(E::query(input).map_err(endpoint)?.as_deref());
    let body = E::body(input)
        .map_err(endpoint)?
        .map(|body| bytes::Bytes::from(body.into_owned()))
        .unwrap_or_default();
    let request = http::Request::builder()
        .method(E::method())
        .uri(url.as_str())
        .header("apca-api-key-id", target.key_id.as_str())
        .header("apca-api-secret-key", target.secret.expose())
        .body(http_body_util::Full::new(body))
        .map_err(|e| Failure::Endpoint(E::Error::from(e)))?;
    let response = http()
        .request(request)
        .await
        .map_err(|e| Failure::Transport(e.to_string()))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| Failure::Transport(e.to_string()))?
        .to_bytes();
    E::evaluate(status, &body).map_err(Failure::Endpoint)
}

/// An endpoint's name for the metrics: its type's path without the crate's prefix
/// (`v2::order::Create`), a fixed set whatever the request's ids.
fn endpoint_name<E>() -> &'static str {
    let name = std::any::type_name::<E>();
    name.strip_prefix("apca::api::")
        .or_else(|| name.strip_prefix("server::broker::alpaca::"))
        .unwrap_or(name)
}

/// Whether a broker (or any HTTP service) answers at `url`, and how fast: a GET without
/// credentials, through the shared client. Any status below 500 means it is up (an
/// unauthenticated request to Alpaca gets 401 or 403); 5xx, no connection or no answer
/// within `timeout` means it is not.
pub async fn probe(url: &str, timeout: Duration) -> Result<(u16, Duration), String> {
    let request = http::Request::get(url)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .map_err(|e| e.to_string())?;
    let started = std::time::Instant::now();
    match tokio::time::timeout(timeout, http().request(request)).await {
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        Ok(Err(err)) => Err(format!("no connection: {err}")),
        Ok(Ok(response)) => Ok((response.status().as_u16(), started.elapsed())),
    }
}

fn api_message(body: &Result<apca::ApiError, Vec<u8>>) -> String {
    match body {
        Ok(err) => err.message.clone(),
        Err(raw) => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// Sorts an endpoint's error into the broker error kinds.
trait Classify {
    fn classify(self) -> BrokerError;
}

fn unexpected(status: http::StatusCode, message: String) -> BrokerError {
    if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS {
        BrokerError::Transient(format!("{status}: {message}"))
    } else if status == http::StatusCode::NOT_FOUND {
        BrokerError::NotFound
    } else if status == http::StatusCode::UNAUTHORIZED
        || status == http::StatusCode::FORBIDDEN && message.contains("not authorized")
    {
        BrokerError::Unauthorized
    } else {
        BrokerError::Rejected(message)
    }
}

macro_rules! classify {
    ($($error:ty { $($variant:ident => $kind:expr),* $(,)? })*) => {$(
        impl Classify for $error {
            #[allow(unreachable_patterns)]
            fn classify(self) -> BrokerError {
                type E = $error;
                match self {
                    E::AuthenticationFailed(_) => BrokerError::Unauthorized,
                    E::RateLimitExceeded(_) => BrokerError::Transient("rate limit exceeded".into()),
                    $(E::$variant(body) => $kind(api_message(&body)),)*
                    E::UnexpectedStatus(status, body) => unexpected(status, api_message(&body)),
                    E::Http(err) => BrokerError::Transient(err.to_string()),
                    E::Conversion(err) => BrokerError::Transient(format!("unreadable answer: {err}")),
                }
            }
        }
    )*};
}

fn not_found(_: String) -> BrokerError {
    BrokerError::NotFound
}

classify! {
    account::GetError {}
    positions::ListError {}
    position::GetError { NotFound => not_found }
    order::CreateError { NotPermitted => BrokerError::Rejected, InvalidInput => BrokerError::Rejected }
    order::GetError { NotFound => not_found }
    order::GetByClientIdError { NotFound => not_found }
    order::DeleteError { NotFound => not_found, NotCancelable => BrokerError::Rejected }
    orders::ListError {}
    account_activities::GetError {}
    asset::GetError { NotFound => not_found }
    clock::GetError {}
    calendar::ListError {}
    ListBarsError { InvalidInput => BrokerError::Rejected, NotPermitted => BrokerError::Rejected, NotFound => not_found }
    LatestTradeError { InvalidInput => BrokerError::Rejected, NotPermitted => BrokerError::Rejected, NotFound => not_found }
    ListAssetsError {}
}

/// The query of `GET /v2/stocks/{symbol}/bars`.
#[derive(Clone, Debug)]
pub struct BarsRequest {
    symbol: String,
    timeframe: &'static str,
    start: jiff::Timestamp,
    end: jiff::Timestamp,
    page_token: Option<String>,
}

/// Whole seconds: apca-style `…Z` times without fractions.
fn whole_seconds(t: jiff::Timestamp) -> String {
    jiff::Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// Alpaca's data API sends prices as JSON numbers (the simulator may send strings).
/// A number is read back through its shortest decimal form, which is the value meant.
fn price<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire {
        Text(String),
        Number(f64),
    }
    let text = match Wire::deserialize(deserializer)? {
        Wire::Text(text) => text,
        Wire::Number(number) => number.to_string(),
    };
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a price")))
}

#[derive(Clone, Debug, Deserialize)]
pub struct WireBar {
    t: String,
    #[serde(deserialize_with = "price")]
    o: Decimal,
    #[serde(deserialize_with = "price")]
    h: Decimal,
    #[serde(deserialize_with = "price")]
    l: Decimal,
    #[serde(deserialize_with = "price")]
    c: Decimal,
    v: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WireBars {
    bars: Option<Vec<WireBar>>,
    next_page_token: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WireTrade {
    #[serde(deserialize_with = "price")]
    p: Decimal,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WireLatestTrade {
    trade: WireTrade,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WireAsset {
    symbol: String,
    #[serde(default)]
    name: String,
    exchange: String,
    status: String,
    tradable: bool,
    fractionable: bool,
}

/// Defines a JSON endpoint of Alpaca's: the 401 and 429 every endpoint may answer, plus
/// `$status => $variant` for its own errors; bodies are read with serde_json.
macro_rules! json_endpoint {
    (
        $(#[$doc:meta])* $name:ident($input:ty) -> $output:ty,
        $error:ident [$($status:ident => $variant:ident),* $(,)?],
        $($defs:tt)*
    ) => {
        http_endpoint::EndpointDef! {
            $(#[$doc])* pub $name($input),
            Ok => $output, [OK,],
            Err => $error, [
                UNAUTHORIZED => AuthenticationFailed,
                TOO_MANY_REQUESTS => RateLimitExceeded,
                $($status => $variant,)*
            ],
            ConversionErr => serde_json::Error,
            ApiErr => apca::ApiError,

            fn parse(body: &[u8]) -> Result<Self::Output, Self::ConversionError> {
                serde_json::from_slice(body)
            }

            fn parse_err(body: &[u8]) -> Result<Self::ApiError, Vec<u8>> {
                serde_json::from_slice(body).map_err(|_| body.to_vec())
            }

            $($defs)*
        }
    };
}

json_endpoint! {
    /// `GET /v2/stocks/{symbol}/bars` on the configured data URL.
    ListBars(BarsRequest) -> WireBars,
    ListBarsError [BAD_REQUEST => InvalidInput, FORBIDDEN => NotPermitted, NOT_FOUND => NotFound],

    fn path(input: &Self::Input) -> http_endpoint::Str {
        format!("/v2/stocks/{}/bars", input.symbol).into()
    }

    fn query(input: &Self::Input) -> Result<Option<http_endpoint::Str>, Self::ConversionError> {
        let mut query = format!(
            "start={}&end={}&timeframe={}&limit=10000&adjustment=raw",
            whole_seconds(input.start),
            whole_seconds(input.end),
            input.timeframe
        );
        if let Some(token) = &input.page_token {
            query.push_str("&page_token=");
            query.push_str(token);
        }
        Ok(Some(query.into()))
    }
}

json_endpoint! {
    /// `GET /v2/stocks/{symbol}/trades/latest` on the configured data URL.
    LatestTrade(String) -> WireLatestTrade,
    LatestTradeError [BAD_REQUEST => InvalidInput, FORBIDDEN => NotPermitted, NOT_FOUND => NotFound],

    fn path(input: &Self::Input) -> http_endpoint::Str {
        format!("/v2/stocks/{input}/trades/latest").into()
    }
}

json_endpoint! {
    /// `GET /v2/assets`, keeping each asset's `name` for search.
    ListAssets(()) -> Vec<WireAsset>,
    ListAssetsError [],

    fn path(_input: &Self::Input) -> http_endpoint::Str {
        "/v2/assets".into()
    }

    fn query(_input: &Self::Input) -> Result<Option<http_endpoint::Str>, Self::ConversionError> {
        Ok(Some("status=active&asset_class=us_equity".into()))
    }
}

fn asset_info(asset: WireAsset) -> Result<AssetInfo, BrokerError> {
    Ok(AssetInfo {
        symbol: convert::symbol(&asset.symbol)?,
        name: asset.name,
        exchange: asset.exchange,
        tradable: asset.tradable && asset.status == "active",
        fractionable: asset.fractionable,
    })
}

/// A live subscription to the account's trade updates (Alpaca's `trade_updates` stream).
pub struct TradeUpdates {
    stream: <updates::OrderUpdates as Subscribable>::Stream,
    // Dropping the subscription closes the socket, so it lives as long as the stream.
    _subscription: <updates::OrderUpdates as Subscribable>::Subscription,
}

impl TradeUpdates {
    /// The next update; `None` when the connection closed (reconnect and reconcile).
    pub async fn next(&mut self) -> Option<Result<TradeUpdate, BrokerError>> {
        let message = self.stream.next().await?;
        Some(match message {
            Ok(Ok(update)) => convert::order(&update.order).map(|order| TradeUpdate {
                event: match update.event {
                    updates::OrderStatus::New => TradeEvent::New,
                    updates::OrderStatus::Filled => TradeEvent::Fill,
                    updates::OrderStatus::PartialFill => TradeEvent::PartialFill,
                    updates::OrderStatus::Canceled => TradeEvent::Canceled,
                    updates::OrderStatus::Expired => TradeEvent::Expired,
                    updates::OrderStatus::Rejected => TradeEvent::Rejected,
                    _ => TradeEvent::Other,
                },
                order,
            }),
            Ok(Err(err)) => Err(BrokerError::Transient(format!(
                "unreadable trade update: {err}"
            ))),
            Err(err) => Err(BrokerError::Transient(format!(
                "trade-updates connection failed: {err}"
            ))),
        })
    }
}

impl AlpacaBroker {
    /// Connects to the trade-updates stream (authenticates and listens).
    pub async fn trade_updates(&self) -> Result<TradeUpdates, BrokerError> {
        let (stream, subscription) = Client::new(self.stream.clone())
            .subscribe::<updates::OrderUpdates>()
            .await
            .map_err(|err| {
                let text = err.to_string();
                if text.contains("unauthorized") || text.contains("not authorized") {
                    BrokerError::Unauthorized
                } else {
                    BrokerError::Transient(format!(
                        "could not open the trade-updates stream: {text}"
                    ))
                }
            })?;
        Ok(TradeUpdates {
            stream,
            _subscription: subscription,
        })
    }

    pub fn new(config: &AlpacaConfig, limiters: &RateLimiters) -> Result<Self, BrokerError> {
        let bad_url = |e: apca::Error| BrokerError::Rejected(format!("invalid broker URL: {e}"));
        let mut trading =
            ApiInfo::from_parts(&config.trading_url, &config.key_id, config.secret.expose())
                .map_err(bad_url)?;
        if let Some(stream) = &config.stream_url {
            trading.api_stream_url = url::Url::parse(stream)
                .map_err(|e| BrokerError::Rejected(format!("invalid stream URL: {e}")))?;
        }
        let data = ApiInfo::from_parts(&config.data_url, &config.key_id, config.secret.expose())
            .map_err(bad_url)?;
        let target = |info: &ApiInfo| Target {
            base: info.api_base_url.clone(),
            key_id: config.key_id.clone(),
            secret: config.secret.clone(),
        };
        Ok(Self {
            trading: target(&trading),
            data: target(&data),
            stream: trading,
            limiter: limiters.for_key(&config.key_id),
            retry: config.retry,
            timeout: config.request_timeout,
            metrics: config.metrics.clone(),
        })
    }

    /// Issues one request: rate-limited, bounded by the timeout, retried if transient.
    async fn call<E>(&self, target: &Target, input: &E::Input) -> Result<E::Output, BrokerError>
    where
        E: Endpoint,
        E::Input: Sync,
        E::Error: Classify,
    {
        self.retry
            .run(|| async {
                self.limiter.acquire().await;
                let started = std::time::Instant::now();
                let result = match tokio::time::timeout(self.timeout, issue::<E>(target, input))
                    .await
                {
                    Err(_) => Err(BrokerError::Transient(format!(
                        "no answer within {:?}",
                        self.timeout
                    ))),
                    Ok(Ok(output)) => Ok(output),
                    Ok(Err(Failure::Endpoint(err))) => Err(err.classify()),
                    Ok(Err(Failure::Transport(message))) => Err(BrokerError::Transient(message)),
                };
                if let Some(metrics) = &self.metrics {
                    metrics.record(
                        endpoint_name::<E>(),
                        started.elapsed().as_secs_f64(),
                        result.as_ref().err().map(BrokerError::kind),
                    );
                }
                result
            })
            .await
    }

    fn order_id(id: &str) -> Result<order::Id, BrokerError> {
        uuid::Uuid::parse_str(id)
            .map(order::Id)
            .map_err(|_| BrokerError::NotFound)
    }
}

#[async_trait]
impl Broker for AlpacaBroker {
    async fn account(&self) -> Result<AccountSnapshot, BrokerError> {
        let a = self.call::<account::Get>(&self.trading, &()).await?;
        Ok(AccountSnapshot {
            id: a.id.as_hyphenated().to_string(),
            status: format!("{:?}", a.status).to_uppercase(),
            currency: a.currency.clone(),
            cash: to_decimal(&a.cash),
            equity: to_decimal(&a.equity),
            last_equity: to_decimal(&a.last_equity),
            buying_power: to_decimal(&a.buying_power),
            long_market_value: to_decimal(&a.market_value_long),
            trading_blocked: a.trading_blocked || a.account_blocked || a.trading_suspended,
        })
    }

    async fn positions(&self) -> Result<Vec<PositionSnapshot>, BrokerError> {
        let positions = self.call::<positions::List>(&self.trading, &()).await?;
        positions
            .iter()
            .map(|p| {
                Ok(PositionSnapshot {
                    symbol: convert::symbol(&p.symbol)?,
                    qty: to_decimal(&p.quantity),
                    avg_entry_price: to_decimal(&p.average_entry_price),
                    cost_basis: to_decimal(&p.cost_basis),
                    market_value: p.market_value.as_ref().map(to_decimal),
                    current_price: p.current_price.as_ref().map(to_decimal),
                    unrealized_pl: p.unrealized_gain_total.as_ref().map(to_decimal),
                })
            })
            .collect()
    }

    async fn place_order(&self, request: &OrderRequest) -> Result<OrderSnapshot, BrokerError> {
        let amount = match request.size {
            Size::Notional(amount) => order::Amount::notional(to_num(amount)),
            Size::Qty(qty) => order::Amount::quantity(to_num(qty)),
        };
        let (type_, limit_price) = match request.kind {
            OrderKind::Market => (order::Type::Market, None),
            OrderKind::Limit(price) => (order::Type::Limit, Some(to_num(price))),
        };
        let create = order::CreateReqInit {
            type_,
            limit_price,
            time_in_force: match request.time_in_force {
                TimeInForce::Day => order::TimeInForce::Day,
                TimeInForce::Gtc => order::TimeInForce::UntilCanceled,
            },
            extended_hours: request.extended_hours,
            client_order_id: Some(request.client_order_id.clone()),
            ..Default::default()
        }
        .init(
            request.symbol.as_str(),
            match request.side {
                Side::Buy => order::Side::Buy,
                Side::Sell => order::Side::Sell,
            },
            amount,
        );
        match self.call::<order::Create>(&self.trading, &create).await {
            Ok(order) => convert::order(&order),
            // The order exists already: an earlier attempt reached the broker even though
            // its answer was lost. Return that order; never place a second one.
            Err(BrokerError::Rejected(message))
                if message.contains("client_order_id must be unique") =>
            {
                tracing::info!(client_order_id = %request.client_order_id, "order already placed; recovered it");
                self.order_by_client_id(&request.client_order_id).await
            }
            Err(err) => Err(err),
        }
    }

    async fn order(&self, id: &str) -> Result<OrderSnapshot, BrokerError> {
        let order = self
            .call::<order::Get>(&self.trading, &Self::order_id(id)?)
            .await?;
        convert::order(&order)
    }

    async fn order_by_client_id(
        &self,
        client_order_id: &str,
    ) -> Result<OrderSnapshot, BrokerError> {
        let order = self
            .call::<order::GetByClientId>(&self.trading, &client_order_id.to_owned())
            .await?;
        convert::order(&order)
    }

    async fn orders(&self, query: OrderQuery) -> Result<Vec<OrderSnapshot>, BrokerError> {
        let request = orders::ListReq {
            status: match query {
                OrderQuery::Open => orders::Status::Open,
                OrderQuery::Closed => orders::Status::Closed,
                OrderQuery::All => orders::Status::All,
            },
            limit: Some(500),
            nested: true,
            ..Default::default()
        };
        let orders = self.call::<orders::List>(&self.trading, &request).await?;
        orders.iter().map(convert::order).collect()
    }

    async fn activities(
        &self,
        after: Option<String>,
        pages: usize,
    ) -> Result<ActivityPage, BrokerError> {
        use account_activities::{ActivityReq, ActivityType, Direction};
        const PAGE: usize = 100;
        let mut read = ActivityPage {
            last_id: after,
            ..ActivityPage::default()
        };
        for _ in 0..pages {
            let request = ActivityReq {
                // Fills, and every kind of dividend (withholding and fees are negative).
                types: std::iter::once(ActivityType::Fill)
                    .chain(convert::DIVIDEND_KINDS)
                    .collect(),
                direction: Direction::Ascending,
                page_size: Some(PAGE),
                page_token: read.last_id.clone(),
                ..Default::default()
            };
            let page = self
                .call::<account_activities::Get>(&self.trading, &request)
                .await?;
            let full = page.len() == PAGE;
            let last = page.last().map(|a| a.id().to_owned());
            // A page that does not move past its token would be read forever.
            let moved = last.is_some() && last != read.last_id;
            for activity in page {
                read.activities.extend(convert::activity(activity));
            }
            if moved {
                read.last_id = last;
            }
            if !full || !moved {
                read.complete = true;
                break;
            }
        }
        Ok(read)
    }

    async fn cancel_order(&self, id: &str) -> Result<(), BrokerError> {
        self.call::<order::Delete>(&self.trading, &Self::order_id(id)?)
            .await
    }

    async fn assets(&self) -> Result<Vec<AssetInfo>, BrokerError> {
        let assets = self.call::<ListAssets>(&self.trading, &()).await?;
        assets.into_iter().map(asset_info).collect()
    }

    async fn asset(&self, symbol: &Symbol) -> Result<AssetInfo, BrokerError> {
        let a = self
            .call::<asset::Get>(
                &self.trading,
                &asset::Symbol::Sym(symbol.as_str().to_owned()),
            )
            .await?;
        Ok(AssetInfo {
            symbol: convert::symbol(&a.symbol)?,
            // apca drops the name; the list endpoint has it.
            name: self
                .assets()
                .await?
                .into_iter()
                .find(|x| &x.symbol == symbol)
                .map(|x| x.name)
                .unwrap_or_default(),
            exchange: format!("{:?}", a.exchange).to_uppercase(),
            tradable: a.tradable && a.status == asset::Status::Active,
            fractionable: a.fractionable,
        })
    }

    async fn clock(&self) -> Result<MarketClock, BrokerError> {
        let c = self.call::<clock::Get>(&self.trading, &()).await?;
        Ok(MarketClock {
            now: convert::to_timestamp(&c.current),
            is_open: c.open,
            next_open: convert::to_timestamp(&c.next_open),
            next_close: convert::to_timestamp(&c.next_close),
        })
    }

    async fn calendar(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<CalendarDay>, BrokerError> {
        let request = calendar::ListReqInit::default()
            .init(convert::to_chrono_date(from), convert::to_chrono_date(to));
        let days = self.call::<calendar::List>(&self.trading, &request).await?;
        days.iter()
            .map(|d| {
                Ok(CalendarDay {
                    date: convert::from_chrono_date(d.date)?,
                    open: convert::from_chrono_time(d.open)?,
                    close: convert::from_chrono_time(d.close)?,
                })
            })
            .collect()
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: TimeFrame,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<Bar>, BrokerError> {
        let mut query = BarsRequest {
            symbol: symbol.as_str().to_owned(),
            timeframe: match timeframe {
                TimeFrame::Minute => "1Min",
                TimeFrame::Hour => "1Hour",
                TimeFrame::Day => "1Day",
            },
            start: from,
            end: to,
            page_token: None,
        };
        let mut bars = Vec::new();
        loop {
            let page = self.call::<ListBars>(&self.data, &query).await?;
            for b in page.bars.unwrap_or_default() {
                let time: jiff::Timestamp = b.t.parse().map_err(|e| {
                    BrokerError::Transient(format!("the broker sent an invalid bar time: {e}"))
                })?;
                bars.push(Bar {
                    time,
                    open: b.o,
                    high: b.h,
                    low: b.l,
                    close: b.c,
                    volume: b.v,
                });
            }
            match page.next_page_token {
                Some(token) if !token.is_empty() => query.page_token = Some(token),
                _ => return Ok(bars),
            }
        }
    }

    async fn latest_price(&self, symbol: &Symbol) -> Result<Decimal, BrokerError> {
        Ok(self
            .call::<LatestTrade>(&self.data, &symbol.as_str().to_owned())
            .await?
            .trade
            .p)
    }
}
