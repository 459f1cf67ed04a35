//! The broker seam. Everything QuantShift does at a broker goes through [`Broker`]:
//! [`alpaca::AlpacaBroker`] talks to Alpaca (or to the simulator, which speaks Alpaca's
//! API) through apca, so demo mode, tests and production share one code path.
//!
//! Errors are classified so callers know what to do: [`BrokerError::Transient`] is worth a
//! retry (timeouts, connection failures, 5xx, 429); [`BrokerError::Rejected`] is final and
//! carries the broker's own message for the user; [`BrokerError::Unauthorized`] means the
//! keys are bad or revoked; [`BrokerError::NotFound`] is a missing order, position or asset.

pub mod alpaca;
pub(crate) mod convert;
pub mod directory;
pub mod rate_limit;
pub mod retry;

use app::domain::market::{Bar, Symbol};
use app::domain::order::{Side, Size};
use async_trait::async_trait;
use rust_decimal::Decimal;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    #[error("the broker is temporarily unavailable: {0}")]
    Transient(String),
    #[error("the broker rejected the request: {0}")]
    Rejected(String),
    #[error("the broker did not accept the API keys")]
    Unauthorized,
    #[error("not found at the broker")]
    NotFound,
}

impl BrokerError {
    pub fn is_transient(&self) -> bool {
        matches!(self, BrokerError::Transient(_))
    }

    /// The error's kind, as the metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            BrokerError::Transient(_) => "transient",
            BrokerError::Rejected(_) => "rejected",
            BrokerError::Unauthorized => "unauthorized",
            BrokerError::NotFound => "not_found",
        }
    }
}

/// The account's balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSnapshot {
    pub id: String,
    pub status: String,
    pub currency: String,
    pub cash: Decimal,
    pub equity: Decimal,
    pub last_equity: Decimal,
    pub buying_power: Decimal,
    pub long_market_value: Decimal,
    pub trading_blocked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionSnapshot {
    pub symbol: Symbol,
    pub qty: Decimal,
    pub avg_entry_price: Decimal,
    pub cost_basis: Decimal,
    pub market_value: Option<Decimal>,
    pub current_price: Option<Decimal>,
    pub unrealized_pl: Option<Decimal>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Market,
    Limit(Decimal),
}

/// An account activity the returns read (Alpaca's account activities): a fill of one of
/// the account's orders (plans', bots' or the user's own), or a dividend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Activity {
    Fill {
        time: jiff::Timestamp,
        /// The broker's id of the order filled (several fills of one order share it).
        order_id: String,
        symbol: Symbol,
        side: Side,
        qty: Decimal,
        price: Decimal,
    },
    /// Cash paid for holding a symbol, or taken from it (withholding and fees come as
    /// separate, negative activities).
    Dividend {
        time: jiff::Timestamp,
        symbol: Option<Symbol>,
        amount: Decimal,
    },
}

/// A read of account activities: some, oldest first, the id of the last one read (the next
/// read's start) and whether the end was reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityPage {
    pub activities: Vec<Activity>,
    pub last_id: Option<String>,
    pub complete: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeInForce {
    Day,
    Gtc,
}

/// An order to place. `client_order_id` makes placement idempotent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRequest {
    pub symbol: Symbol,
    pub side: Side,
    pub size: Size,
    pub kind: OrderKind,
    pub time_in_force: TimeInForce,
    pub extended_hours: bool,
    pub client_order_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Accepted by the broker, not yet (fully) filled.
    Open,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
    Rejected,
}

impl OrderStatus {
    /// Alpaca's name for the status (`open` for new and accepted orders).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Expired => "expired",
            OrderStatus::Rejected => "rejected",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Expired
                | OrderStatus::Rejected
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSnapshot {
    pub id: String,
    pub client_order_id: String,
    pub symbol: Symbol,
    pub side: Side,
    pub size: Size,
    pub status: OrderStatus,
    pub filled_qty: Decimal,
    pub filled_avg_price: Option<Decimal>,
    pub created_at: jiff::Timestamp,
    pub filled_at: Option<jiff::Timestamp>,
    /// When the order last changed (a partial fill, a cancel): the fill time of an order
    /// that filled in part, which has no `filled_at`.
    pub updated_at: Option<jiff::Timestamp>,
}

/// What happened to an order, as the trade-updates stream reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeEvent {
    New,
    Fill,
    PartialFill,
    Canceled,
    Expired,
    Rejected,
    /// Any other event (replaced, pending cancel, …): the order snapshot says the rest.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradeUpdate {
    pub event: TradeEvent,
    pub order: OrderSnapshot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderQuery {
    Open,
    Closed,
    All,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetInfo {
    pub symbol: Symbol,
    pub name: String,
    pub exchange: String,
    pub tradable: bool,
    pub fractionable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketClock {
    pub now: jiff::Timestamp,
    pub is_open: bool,
    pub next_open: jiff::Timestamp,
    pub next_close: jiff::Timestamp,
}

/// One trading day as the broker's calendar has it (New York times).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalendarDay {
    pub date: jiff::civil::Date,
    pub open: jiff::civil::Time,
    pub close: jiff::civil::Time,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFrame {
    Minute,
    Hour,
    Day,
}

#[async_trait]
pub trait Broker: Send + Sync {
    async fn account(&self) -> Result<AccountSnapshot, BrokerError>;
    async fn positions(&self) -> Result<Vec<PositionSnapshot>, BrokerError>;
    /// Places an order. If the broker already has an order with this client order id (a
    /// retry after a lost answer), that order is returned instead: nothing is bought twice.
    async fn place_order(&self, order: &OrderRequest) -> Result<OrderSnapshot, BrokerError>;
    async fn order(&self, id: &str) -> Result<OrderSnapshot, BrokerError>;
    async fn order_by_client_id(&self, client_order_id: &str)
    -> Result<OrderSnapshot, BrokerError>;
    async fn orders(&self, query: OrderQuery) -> Result<Vec<OrderSnapshot>, BrokerError>;
    async fn cancel_order(&self, id: &str) -> Result<(), BrokerError>;
    async fn assets(&self) -> Result<Vec<AssetInfo>, BrokerError>;
    async fn asset(&self, symbol: &Symbol) -> Result<AssetInfo, BrokerError>;
    async fn clock(&self) -> Result<MarketClock, BrokerError>;
    async fn calendar(
        &self,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<CalendarDay>, BrokerError>;
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: TimeFrame,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<Bar>, BrokerError>;
    async fn latest_price(&self, symbol: &Symbol) -> Result<Decimal, BrokerError>;
    /// The account's fills and dividends after the activity `after` (an id an earlier read
    /// returned; `None`: from the first), oldest first, at most `pages` pages of 100.
    async fn activities(
        &self,
        after: Option<String>,
        pages: usize,
    ) -> Result<ActivityPage, BrokerError>;

    /// Tradable assets whose symbol or name starts with `prefix` (case-insensitive),
    /// symbol matches first, at most `limit`.
    async fn search_assets(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<AssetInfo>, BrokerError> {
        let needle = prefix.trim().to_lowercase();
        let assets = self.assets().await?;
        let (mut by_symbol, mut by_name): (Vec<AssetInfo>, Vec<AssetInfo>) = assets
            .into_iter()
            .filter(|a| a.tradable)
            .filter(|a| {
                a.symbol.as_str().to_lowercase().starts_with(&needle)
                    || a.name.to_lowercase().starts_with(&needle)
                    || a.name
                        .to_lowercase()
                        .split_whitespace()
                        .any(|w| w.starts_with(&needle))
            })
            .partition(|a| a.symbol.as_str().to_lowercase().starts_with(&needle));
        by_symbol.sort_by(|a, b| {
            a.symbol
                .as_str()
                .len()
                .cmp(&b.symbol.as_str().len())
                .then(a.symbol.cmp(&b.symbol))
        });
        by_name.sort_by(|a, b| a.name.cmp(&b.name));
        by_symbol.extend(by_name);
        by_symbol.truncate(limit);
        Ok(by_symbol)
    }
}
