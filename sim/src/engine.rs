//! Accounts and the order engine: key pairs, cash, positions, orders, fills, activities,
//! Alpaca's order rules, and the processing of everything that falls due as the clock
//! moves (queued market orders filling at the open, resting limit orders crossing, day
//! orders expiring).
//!
//! Buying power is that of a cash account: cash minus what open buy orders reserve
//! (their notional, or quantity × limit price, or quantity × price when placed).
//! Every state change appends a trade update to the outbox, which the simulator
//! forwards to the `/stream` websocket.

use super::error::SimError;
use super::market::{Asset, Market};
use super::wire;
use app::domain::calendar;
use app::domain::market::{round_cents, round_qty_down};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use uuid::Uuid;

/// Starting cash of every new account.
pub const STARTING_CASH: Decimal = rust_decimal::dec!(100000);
/// Longest accepted `client_order_id`.
pub const MAX_CLIENT_ORDER_ID: usize = 48;
/// Most decimal places of a quantity or notional.
pub const MAX_DECIMALS: u32 = 9;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderType {
    Market,
    Limit,
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Market => "market",
            OrderType::Limit => "limit",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeInForce {
    Day,
    Gtc,
    Ioc,
    Fok,
}

impl TimeInForce {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Day => "day",
            TimeInForce::Gtc => "gtc",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    New,
    Accepted,
    /// Part of the order filled; the rest rests until it expires or is canceled.
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Accepted => "accepted",
            Status::PartiallyFilled => "partially_filled",
            Status::Filled => "filled",
            Status::Canceled => "canceled",
            Status::Expired => "expired",
            Status::Rejected => "rejected",
        }
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::New | Status::Accepted | Status::PartiallyFilled
        )
    }
}

/// One order, as Alpaca reports it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Order {
    pub id: Uuid,
    pub client_order_id: String,
    pub asset_id: Uuid,
    #[serde(with = "catalogue_symbol")]
    pub symbol: Sym,
    pub side: Side,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    pub qty: Option<Decimal>,
    pub notional: Option<Decimal>,
    pub limit_price: Option<Decimal>,
    pub extended_hours: bool,
    pub status: Status,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub filled_at: Option<Timestamp>,
    pub expired_at: Option<Timestamp>,
    pub canceled_at: Option<Timestamp>,
    pub failed_at: Option<Timestamp>,
    pub filled_qty: Decimal,
    pub filled_avg_price: Option<Decimal>,
    /// When a day order expires.
    pub expires_at: Option<Timestamp>,
    /// When a queued market order becomes executable (the next open).
    pub active_from: Timestamp,
    /// Buying power (buys) or shares (sells) held back while the order is open.
    pub reserved: Decimal,
}

/// Shares held in one symbol.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Holding {
    pub qty: Decimal,
    pub cost_basis: Decimal,
}

/// One FILL activity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fill {
    pub id: String,
    pub time: Timestamp,
    pub order_id: Uuid,
    #[serde(with = "catalogue_symbol")]
    pub symbol: Sym,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
}

/// One brokerage account (one key pair).
#[derive(Debug)]
pub struct Account {
    pub id: Uuid,
    pub account_number: String,
    pub created_at: Timestamp,
    pub cash: Decimal,
    pub positions: BTreeMap<&'static str, Holding>,
    pub orders: Vec<Order>,
    pub by_id: HashMap<Uuid, usize>,
    pub by_client_id: HashMap<String, usize>,
    pub fills: Vec<Fill>,
}

impl Account {
    fn reserved_cash(&self) -> Decimal {
        self.orders
            .iter()
            .filter(|o| o.status.is_open() && o.side == Side::Buy)
            .map(|o| o.reserved)
            .sum()
    }

    fn reserved_qty(&self, symbol: &str) -> Decimal {
        self.orders
            .iter()
            .filter(|o| o.status.is_open() && o.side == Side::Sell && o.symbol == symbol)
            .map(|o| o.reserved)
            .sum()
    }

    pub fn buying_power(&self) -> Decimal {
        (self.cash - self.reserved_cash()).max(Decimal::ZERO)
    }

    pub fn qty_available(&self, symbol: &str) -> Decimal {
        let held = self.positions.get(symbol).map_or(Decimal::ZERO, |h| h.qty);
        (held - self.reserved_qty(symbol)).max(Decimal::ZERO)
    }

    pub fn order(&self, id: Uuid) -> Option<&Order> {
        self.by_id.get(&id).map(|&i| &self.orders[i])
    }
}

struct KeyPair {
    secret: String,
    account: Uuid,
}

/// A message for the trade-updates stream of one account.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub account: Uuid,
    pub message: String,
}

/// How much of a position `DELETE /v2/positions/{symbol}` closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseAmount {
    All,
    Qty(Decimal),
    /// Of the shares held, 0 < p <= 100.
    Percentage(Decimal),
}

/// What happens to an open order when its time comes.
enum Due {
    Fill(Decimal),
    Expire,
}

/// All accounts and the processing watermark.
pub struct Engine {
    keys: HashMap<String, KeyPair>,
    accounts: HashMap<Uuid, Account>,
    processed_until: Timestamp,
    outbox: Vec<Outgoing>,
    /// Counts changes to the accounts (a new account, any order event), so that a
    /// snapshot is written only when something changed.
    changes: u64,
    /// Every open order as (account, order), so processing never walks closed orders or
    /// accounts with nothing open.
    open: BTreeSet<(Uuid, Uuid)>,
    /// Share of an order that fills at its first execution, by symbol (`*`: any symbol);
    /// the rest rests until it expires or is canceled. Set through the fault controls.
    partial_fills: BTreeMap<String, Decimal>,
}

/// A symbol as the simulator's catalogue holds it. (An alias: serde would otherwise borrow
/// a `&str` field from its input, which a snapshot read from a file cannot lend.)
pub type Sym = &'static str;

/// Symbols as the simulator's catalogue holds them (`&'static str`), written as text.
mod catalogue_symbol {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(symbol: &&'static str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(symbol)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let text = String::deserialize(d)?;
        crate::market::catalogue_symbol(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text} is not in the catalogue")))
    }
}

/// One account in a snapshot (the indexes are rebuilt on restore).
#[derive(Serialize, Deserialize)]
struct AccountState {
    id: Uuid,
    key_id: Option<String>,
    secret: Option<String>,
    account_number: String,
    created_at: Timestamp,
    cash: Decimal,
    positions: Vec<(String, Holding)>,
    orders: Vec<Order>,
    fills: Vec<Fill>,
}

/// Everything the simulator's accounts hold, as written to its state file.
#[derive(Serialize, Deserialize)]
pub struct EngineState {
    processed_until: Timestamp,
    accounts: Vec<AccountState>,
}

/// Fields of a create-order request, as apca and Alpaca's documentation send them.
#[derive(Debug)]
struct Request {
    symbol: String,
    qty: Option<Decimal>,
    notional: Option<Decimal>,
    side: Side,
    order_type: OrderType,
    time_in_force: TimeInForce,
    limit_price: Option<Decimal>,
    extended_hours: bool,
    client_order_id: Option<String>,
}

fn decimal_field(body: &Value, name: &str) -> Result<Option<Decimal>, SimError> {
    let text = match body.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err(SimError::invalid(format!("invalid {name}"))),
    };
    Decimal::from_str_exact(&text)
        .map(Some)
        .map_err(|_| SimError::invalid(format!("invalid {name}: {text:?}")))
}

fn string_field<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, SimError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(SimError::invalid(format!("invalid {name}"))),
    }
}

fn parse_request(body: &Value) -> Result<Request, SimError> {
    if !body.is_object() {
        return Err(SimError::bad_request("request body format is invalid"));
    }
    let symbol = string_field(body, "symbol")?
        .ok_or_else(|| SimError::invalid("symbol is required"))?
        .to_owned();
    let side = match string_field(body, "side")? {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        Some(other) => return Err(SimError::invalid(format!("invalid side: {other}"))),
        None => return Err(SimError::invalid("side is required")),
    };
    let order_type = match string_field(body, "type")?.or(string_field(body, "order_type")?) {
        Some("market") | None => OrderType::Market,
        Some("limit") => OrderType::Limit,
        Some(other @ ("stop" | "stop_limit" | "trailing_stop")) => {
            return Err(SimError::invalid(format!(
                "order type {other} is not supported by the simulator"
            )));
        }
        Some(other) => return Err(SimError::invalid(format!("invalid order type: {other}"))),
    };
    let time_in_force = match string_field(body, "time_in_force")? {
        Some("day") | None => TimeInForce::Day,
        Some("gtc") => TimeInForce::Gtc,
        Some("ioc") => TimeInForce::Ioc,
        Some("fok") => TimeInForce::Fok,
        Some(other @ ("opg" | "cls")) => {
            return Err(SimError::invalid(format!(
                "time_in_force {other} is not supported by the simulator"
            )));
        }
        Some(other) => return Err(SimError::invalid(format!("invalid time_in_force: {other}"))),
    };
    match string_field(body, "order_class")? {
        None | Some("") | Some("simple") => {}
        Some(other) => {
            return Err(SimError::invalid(format!(
                "order_class {other} is not supported by the simulator"
            )));
        }
    }
    for unsupported in [
        "stop_price",
        "trail_price",
        "trail_percent",
        "take_profit",
        "stop_loss",
    ] {
        if body.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(SimError::invalid(format!(
                "{unsupported} is not allowed for {} orders",
                order_type.as_str()
            )));
        }
    }
    let extended_hours = match body.get("extended_hours") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(SimError::invalid("invalid extended_hours")),
    };
    Ok(Request {
        symbol,
        qty: decimal_field(body, "qty")?,
        notional: decimal_field(body, "notional")?,
        side,
        order_type,
        time_in_force,
        limit_price: decimal_field(body, "limit_price")?,
        extended_hours,
        client_order_id: string_field(body, "client_order_id")?.map(str::to_owned),
    })
}

fn has_more_decimals(value: Decimal, places: u32) -> bool {
    value.normalize().scale() > places
}

/// The close of the session a day order belongs to (the current one, or the next).
fn day_expiry(now: Timestamp, extended: bool) -> Option<Timestamp> {
    let ny = calendar::new_york();
    let today = ny.to_datetime(now).date();
    let end_of = |s: calendar::Session| {
        if extended {
            ny.to_timestamp(s.date.to_datetime(jiff::civil::time(20, 0, 0, 0)))
                .unwrap_or(s.close_at())
        } else {
            s.close_at()
        }
    };
    if let Ok(s) = calendar::session(today)
        && now < end_of(s)
    {
        return Some(end_of(s));
    }
    calendar::next_session_on_or_after(today.tomorrow().ok()?).map(end_of)
}

/// The next regular open strictly after `now` (or at `now`).
pub fn next_open(now: Timestamp) -> Option<Timestamp> {
    let today = calendar::new_york().to_datetime(now).date();
    if let Ok(s) = calendar::session(today)
        && now <= s.open_at()
    {
        return Some(s.open_at());
    }
    calendar::next_session_on_or_after(today.tomorrow().ok()?).map(|s| s.open_at())
}

/// The next regular close at or after `now`.
pub fn next_close(now: Timestamp) -> Option<Timestamp> {
    let today = calendar::new_york().to_datetime(now).date();
    if let Ok(s) = calendar::session(today)
        && now < s.close_at()
    {
        return Some(s.close_at());
    }
    calendar::next_session_on_or_after(today.tomorrow().ok()?).map(|s| s.close_at())
}

/// Whether `now` is in pre-market (04:00) to after-hours (20:00) on a trading day.
fn in_extended_hours(now: Timestamp) -> bool {
    let ny = calendar::new_york().to_datetime(now);
    calendar::is_trading_day(ny.date())
        && ny.time() >= jiff::civil::time(4, 0, 0, 0)
        && ny.time() < jiff::civil::time(20, 0, 0, 0)
}

fn crosses(order: &Order, price: Decimal) -> bool {
    match (order.order_type, order.limit_price) {
        (OrderType::Market, _) | (_, None) => true,
        (OrderType::Limit, Some(limit)) => match order.side {
            Side::Buy => price <= limit,
            Side::Sell => price >= limit,
        },
    }
}

fn random_token(len: usize, alphabet: &[u8]) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in Uuid::new_v4().as_bytes() {
            if out.len() < len {
                out.push(char::from(alphabet[usize::from(*b) % alphabet.len()]));
            }
        }
    }
    out
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl Engine {
    pub fn new(now: Timestamp) -> Self {
        Self {
            keys: HashMap::new(),
            accounts: HashMap::new(),
            processed_until: now,
            outbox: Vec::new(),
            changes: 0,
            open: BTreeSet::new(),
            partial_fills: BTreeMap::new(),
        }
    }

    /// Sets the share that fills at first execution, per symbol (`*`: any symbol).
    pub fn set_partial_fills(&mut self, shares: BTreeMap<String, Decimal>) {
        self.partial_fills = shares;
    }

    fn partial_share(&self, symbol: &str) -> Option<Decimal> {
        self.partial_fills
            .get(symbol)
            .or_else(|| self.partial_fills.get("*"))
            .copied()
            .filter(|share| *share > Decimal::ZERO && *share < Decimal::ONE)
    }

    /// How many changes the accounts have seen (see [`Engine::snapshot`]).
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Every account (keys, cash, positions, orders, fills) and the processing watermark.
    pub fn snapshot(&self) -> EngineState {
        let mut accounts: Vec<AccountState> = self
            .accounts
            .values()
            .map(|a| {
                let key = self.keys.iter().find(|(_, pair)| pair.account == a.id);
                AccountState {
                    id: a.id,
                    key_id: key.map(|(k, _)| k.clone()),
                    secret: key.map(|(_, pair)| pair.secret.clone()),
                    account_number: a.account_number.clone(),
                    created_at: a.created_at,
                    cash: a.cash,
                    positions: a
                        .positions
                        .iter()
                        .map(|(symbol, holding)| ((*symbol).to_owned(), holding.clone()))
                        .collect(),
                    orders: a.orders.clone(),
                    fills: a.fills.clone(),
                }
            })
            .collect();
        accounts.sort_by_key(|a| a.id);
        EngineState {
            processed_until: self.processed_until,
            accounts,
        }
    }

    /// An engine holding what `state` holds.
    pub fn restore(state: EngineState) -> Result<Self, String> {
        let mut engine = Self::new(state.processed_until);
        for a in state.accounts {
            let mut positions = BTreeMap::new();
            for (symbol, holding) in a.positions {
                let symbol = super::market::catalogue_symbol(&symbol)
                    .ok_or_else(|| format!("{symbol} is not in the catalogue"))?;
                positions.insert(symbol, holding);
            }
            let by_id = a
                .orders
                .iter()
                .enumerate()
                .map(|(i, o)| (o.id, i))
                .collect();
            let by_client_id = a
                .orders
                .iter()
                .enumerate()
                .map(|(i, o)| (o.client_order_id.clone(), i))
                .collect();
            for order in a.orders.iter().filter(|o| o.status.is_open()) {
                engine.open.insert((a.id, order.id));
            }
            if let (Some(key_id), Some(secret)) = (a.key_id, a.secret) {
                engine.keys.insert(
                    key_id,
                    KeyPair {
                        secret,
                        account: a.id,
                    },
                );
            }
            engine.accounts.insert(
                a.id,
                Account {
                    id: a.id,
                    account_number: a.account_number,
                    created_at: a.created_at,
                    cash: a.cash,
                    positions,
                    orders: a.orders,
                    by_id,
                    by_client_id,
                    fills: a.fills,
                },
            );
        }
        Ok(engine)
    }

    pub fn drain_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// Opens an account for a key pair (a fresh one when `key` is `None`).
    pub fn create_account(
        &mut self,
        now: Timestamp,
        key: Option<(String, String)>,
        cash: Decimal,
    ) -> (String, String, Uuid) {
        let (key_id, secret) = key.unwrap_or_else(|| {
            (
                format!("PK{}", random_token(18, UPPER_ALNUM)),
                random_token(40, ALNUM),
            )
        });
        let id = Uuid::new_v4();
        let account = Account {
            id,
            account_number: format!("PA{}", random_token(10, UPPER_ALNUM)),
            created_at: now,
            cash,
            positions: BTreeMap::new(),
            orders: Vec::new(),
            by_id: HashMap::new(),
            by_client_id: HashMap::new(),
            fills: Vec::new(),
        };
        self.accounts.insert(id, account);
        self.changes += 1;
        self.keys.insert(
            key_id.clone(),
            KeyPair {
                secret: secret.clone(),
                account: id,
            },
        );
        (key_id, secret, id)
    }

    /// The account of a key pair; with `auto`, an unknown key id opens one.
    pub fn authenticate(
        &mut self,
        key_id: &str,
        secret: &str,
        auto: bool,
        now: Timestamp,
    ) -> Result<Uuid, SimError> {
        if key_id.is_empty() || secret.is_empty() {
            return Err(SimError::unauthorized());
        }
        match self.keys.get(key_id) {
            Some(pair) if pair.secret == secret => Ok(pair.account),
            Some(_) => Err(SimError::unauthorized()),
            None if auto => Ok(self
                .create_account(
                    now,
                    Some((key_id.to_owned(), secret.to_owned())),
                    STARTING_CASH,
                )
                .2),
            None => Err(SimError::unauthorized()),
        }
    }

    pub fn account(&self, id: Uuid) -> Result<&Account, SimError> {
        self.accounts.get(&id).ok_or_else(SimError::unauthorized)
    }

    fn account_mut(&mut self, id: Uuid) -> Result<&mut Account, SimError> {
        self.accounts
            .get_mut(&id)
            .ok_or_else(SimError::unauthorized)
    }

    /// Validates and places an order; it may fill at once.
    pub fn place_order(
        &mut self,
        market: &Market,
        account_id: Uuid,
        body: &Value,
        now: Timestamp,
    ) -> Result<Value, SimError> {
        let req = parse_request(body)?;
        let asset = market
            .asset(&req.symbol)
            .ok_or_else(|| SimError::invalid(format!("could not find asset \"{}\"", req.symbol)))?
            .clone();
        self.validate(&req, &asset)?;
        let account = self.account(account_id)?;
        if let Some(cid) = &req.client_order_id
            && account.by_client_id.contains_key(cid)
        {
            return Err(SimError::invalid("client_order_id must be unique"));
        }
        let trade = market
            .trade_at(asset.symbol, now)
            .ok_or_else(|| SimError::invalid(format!("no price for {} at {now}", asset.symbol)))?;
        let price = trade.price;
        let reserved = match req.side {
            Side::Buy => {
                let cost = match (req.notional, req.qty) {
                    (Some(notional), _) => notional,
                    (None, Some(qty)) => round_cents(qty * req.limit_price.unwrap_or(price)),
                    (None, None) => Decimal::ZERO,
                };
                if cost > account.buying_power() {
                    return Err(SimError::forbidden("insufficient buying power"));
                }
                cost
            }
            Side::Sell => {
                let qty = match (req.notional, req.qty) {
                    (Some(notional), _) => round_qty_down(notional / price),
                    (None, Some(qty)) => qty,
                    (None, None) => Decimal::ZERO,
                };
                let available = account.qty_available(asset.symbol);
                if qty > available || available.is_zero() {
                    return Err(SimError::forbidden(format!(
                        "insufficient qty available for order (requested: {}, available: {})",
                        qty.normalize(),
                        available.normalize()
                    )));
                }
                qty
            }
        };
        let open = calendar::is_open_at(now);
        let expires_at = match req.time_in_force {
            TimeInForce::Day => day_expiry(now, req.extended_hours),
            _ => None,
        };
        let id = Uuid::new_v4();
        let order = Order {
            id,
            client_order_id: req
                .client_order_id
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            asset_id: asset.id,
            symbol: asset.symbol,
            side: req.side,
            order_type: req.order_type,
            time_in_force: req.time_in_force,
            qty: req.qty,
            notional: req.notional,
            limit_price: req.limit_price,
            extended_hours: req.extended_hours,
            status: if open { Status::New } else { Status::Accepted },
            created_at: now,
            updated_at: now,
            filled_at: None,
            expired_at: None,
            canceled_at: None,
            failed_at: None,
            filled_qty: Decimal::ZERO,
            filled_avg_price: None,
            expires_at,
            active_from: if open {
                now
            } else {
                next_open(now).unwrap_or(now)
            },
            reserved,
        };
        let account = self.account_mut(account_id)?;
        let index = account.orders.len();
        account.by_id.insert(id, index);
        account
            .by_client_id
            .insert(order.client_order_id.clone(), index);
        account.orders.push(order);
        self.open.insert((account_id, id));
        self.emit(account_id, id, "new", None);
        // Immediately marketable?
        let tradable_now = open || (req.extended_hours && in_extended_hours(now));
        let order = &self.accounts[&account_id].orders[index];
        if tradable_now && crosses(order, price) {
            self.fill(account_id, id, price, now);
        }
        // Immediate-or-cancel: whatever did not fill at once (all of it, or the rest of a
        // partial fill) is canceled.
        let open = self.accounts[&account_id].orders[index].status.is_open();
        if open && matches!(req.time_in_force, TimeInForce::Ioc | TimeInForce::Fok) {
            self.finish(account_id, id, Status::Canceled, now);
        }
        let order = &self.accounts[&account_id].orders[index];
        Ok(wire::order(order))
    }

    fn validate(&self, req: &Request, asset: &Asset) -> Result<(), SimError> {
        if !asset.active {
            return Err(SimError::invalid(format!(
                "asset {} is not active",
                asset.symbol
            )));
        }
        match (req.qty, req.notional) {
            (Some(_), Some(_)) => {
                return Err(SimError::invalid(
                    "only one of qty or notional may be given",
                ));
            }
            (None, None) => return Err(SimError::invalid("qty or notional is required")),
            (Some(qty), None) => {
                if qty <= Decimal::ZERO {
                    return Err(SimError::invalid("qty must be > 0"));
                }
                if has_more_decimals(qty, MAX_DECIMALS) {
                    return Err(SimError::invalid("qty must have at most 9 decimal places"));
                }
            }
            (None, Some(notional)) => {
                if has_more_decimals(notional, MAX_DECIMALS) {
                    return Err(SimError::invalid(
                        "notional must have at most 9 decimal places",
                    ));
                }
                if notional < Decimal::ONE {
                    return Err(SimError::invalid("cost basis must be >= 1"));
                }
            }
        }
        let fractional =
            req.notional.is_some() || req.qty.is_some_and(|q| q.fract() != Decimal::ZERO);
        if fractional {
            if !asset.fractionable {
                return Err(SimError::invalid("requested asset is not fractionable"));
            }
            if req.time_in_force != TimeInForce::Day {
                return Err(SimError::invalid("fractional orders must be DAY orders"));
            }
        }
        match (req.order_type, req.limit_price) {
            (OrderType::Limit, None) => {
                return Err(SimError::invalid(
                    "limit_price is required for limit orders",
                ));
            }
            (OrderType::Market, Some(_)) => {
                return Err(SimError::invalid(
                    "limit_price must not be given for market orders",
                ));
            }
            (OrderType::Limit, Some(limit)) => {
                let places = if limit >= Decimal::ONE { 2 } else { 4 };
                if limit <= Decimal::ZERO || has_more_decimals(limit, places) {
                    return Err(SimError::invalid(format!(
                        "invalid limit_price {limit}. sub-penny increment does not fulfill minimum pricing criteria"
                    )));
                }
            }
            (OrderType::Market, None) => {}
        }
        if req.extended_hours
            && (req.order_type != OrderType::Limit || req.time_in_force != TimeInForce::Day)
        {
            return Err(SimError::invalid(
                "extended hours order must be DAY limit orders",
            ));
        }
        if let Some(cid) = &req.client_order_id {
            if cid.chars().count() > MAX_CLIENT_ORDER_ID {
                return Err(SimError::invalid(
                    "client_order_id must be no more than 48 characters",
                ));
            }
            if cid.is_empty() {
                return Err(SimError::invalid("client_order_id must not be empty"));
            }
        }
        Ok(())
    }

    fn emit(
        &mut self,
        account: Uuid,
        order_id: Uuid,
        event: &str,
        fill: Option<(Decimal, Decimal, Timestamp)>,
    ) {
        self.changes += 1;
        let Some(acct) = self.accounts.get(&account) else {
            return;
        };
        let Some(order) = acct.order(order_id) else {
            return;
        };
        let mut data = serde_json::json!({"event": event, "order": wire::order(order)});
        if let Some((qty, price, time)) = fill {
            let position_qty = acct
                .positions
                .get(order.symbol)
                .map_or(Decimal::ZERO, |h| h.qty);
            data["execution_id"] = Value::String(Uuid::new_v4().to_string());
            data["qty"] = Value::String(wire::num(qty));
            data["price"] = Value::String(wire::num(price));
            data["position_qty"] = Value::String(wire::num(position_qty));
            data["timestamp"] = Value::String(wire::time(time));
        } else {
            data["timestamp"] = Value::String(wire::time(order.updated_at));
        }
        let message = serde_json::json!({"stream": "trade_updates", "data": data}).to_string();
        self.outbox.push(Outgoing { account, message });
    }

    /// Executes an open order at `price`: completely, or only the configured share of it
    /// the first time it executes (see [`Engine::set_partial_fills`]); rejects it if the
    /// cash or shares are gone.
    fn fill(&mut self, account_id: Uuid, order_id: Uuid, price: Decimal, now: Timestamp) {
        let share = self
            .accounts
            .get(&account_id)
            .and_then(|a| a.order(order_id))
            // Fill-or-kill orders fill whole or not at all.
            .filter(|o| o.status != Status::PartiallyFilled && o.time_in_force != TimeInForce::Fok)
            .and_then(|o| self.partial_share(o.symbol));
        let Some(account) = self.accounts.get_mut(&account_id) else {
            return;
        };
        let Some(&index) = account.by_id.get(&order_id) else {
            return;
        };
        let order = account.orders[index].clone();
        let held = account
            .positions
            .get(order.symbol)
            .map_or(Decimal::ZERO, |h| h.qty);
        let whole = match (order.qty, order.notional) {
            (Some(qty), _) => qty,
            (None, Some(notional)) => round_qty_down(notional / price),
            (None, None) => Decimal::ZERO,
        };
        let whole = if order.side == Side::Sell && order.notional.is_some() {
            whole.min(held)
        } else {
            whole
        };
        let whole = (whole - order.filled_qty).max(Decimal::ZERO);
        let qty = match share {
            Some(share) => round_qty_down(whole * share),
            None => whole,
        };
        let partial = qty < whole;
        let amount = round_cents(qty * price);
        let feasible = qty > Decimal::ZERO
            && match order.side {
                Side::Buy => amount <= account.cash,
                Side::Sell => qty <= held,
            };
        if !feasible {
            let order = &mut account.orders[index];
            order.status = Status::Rejected;
            order.failed_at = Some(now);
            order.updated_at = now;
            self.open.remove(&(account_id, order_id));
            self.emit(account_id, order_id, "rejected", None);
            return;
        }
        match order.side {
            Side::Buy => {
                account.cash -= amount;
                let holding = account.positions.entry(order.symbol).or_default();
                holding.qty += qty;
                holding.cost_basis += amount;
            }
            Side::Sell => {
                account.cash += amount;
                if let Some(holding) = account.positions.get_mut(order.symbol) {
                    let share = qty / holding.qty;
                    holding.cost_basis -= round_cents(holding.cost_basis * share);
                    holding.qty -= qty;
                    if holding.qty.is_zero() {
                        account.positions.remove(order.symbol);
                    }
                }
            }
        }
        let order = &mut account.orders[index];
        let before = order.filled_qty;
        order.filled_qty = before + qty;
        order.filled_avg_price = Some(match order.filled_avg_price {
            Some(avg) if !before.is_zero() => {
                ((avg * before + price * qty) / order.filled_qty).round_dp(9)
            }
            _ => price,
        });
        order.updated_at = now;
        if partial {
            // What the partial execution used is no longer held back for the order.
            order.reserved = (order.reserved
                - match order.side {
                    Side::Buy => amount,
                    Side::Sell => qty,
                })
            .max(Decimal::ZERO);
            order.status = Status::PartiallyFilled;
        } else {
            order.status = Status::Filled;
            order.filled_at = Some(now);
            self.open.remove(&(account_id, order_id));
        }
        let stamp = jiff::fmt::strtime::format(
            "%Y%m%d%H%M%S%3f",
            &now.to_zoned_datetime(jiff::tz::TimeZone::UTC),
        )
        .unwrap_or_default();
        account.fills.push(Fill {
            id: format!("{stamp}::{}", Uuid::new_v4()),
            time: now,
            order_id,
            symbol: order.symbol,
            side: order.side,
            qty,
            price,
        });
        let event = if partial { "partial_fill" } else { "fill" };
        self.emit(account_id, order_id, event, Some((qty, price, now)));
    }

    fn finish(&mut self, account_id: Uuid, order_id: Uuid, status: Status, now: Timestamp) {
        let Some(account) = self.accounts.get_mut(&account_id) else {
            return;
        };
        let Some(&index) = account.by_id.get(&order_id) else {
            return;
        };
        let order = &mut account.orders[index];
        order.status = status;
        order.updated_at = now;
        self.open.remove(&(account_id, order_id));
        let event = match status {
            Status::Canceled => {
                order.canceled_at = Some(now);
                "canceled"
            }
            Status::Expired => {
                order.expired_at = Some(now);
                "expired"
            }
            _ => "rejected",
        };
        self.emit(account_id, order_id, event, None);
    }

    /// Cancels an open order.
    pub fn cancel(
        &mut self,
        account_id: Uuid,
        order_id: Uuid,
        now: Timestamp,
    ) -> Result<(), SimError> {
        let account = self.account(account_id)?;
        let order = account
            .order(order_id)
            .ok_or_else(|| SimError::not_found("order not found"))?;
        if !order.status.is_open() {
            return Err(SimError::new(422, 42210000, "order is not cancelable"));
        }
        self.finish(account_id, order_id, Status::Canceled, now);
        Ok(())
    }

    /// Cancels every open order of an account; each id with the status Alpaca reports
    /// for it (200).
    pub fn cancel_all(&mut self, account_id: Uuid, now: Timestamp) -> Result<Vec<Uuid>, SimError> {
        self.account(account_id)?;
        let open: Vec<Uuid> = self
            .open
            .range((account_id, Uuid::nil())..=(account_id, Uuid::max()))
            .map(|&(_, order)| order)
            .collect();
        for &order in &open {
            self.finish(account_id, order, Status::Canceled, now);
        }
        Ok(open)
    }

    /// Closes (part of) a position with a market sell for `qty` shares, or `percentage`
    /// of the shares held, or all of them; as `DELETE /v2/positions/{symbol}`.
    pub fn close_position(
        &mut self,
        market: &Market,
        account_id: Uuid,
        symbol: &str,
        amount: CloseAmount,
        now: Timestamp,
    ) -> Result<Value, SimError> {
        let held = self
            .account(account_id)?
            .positions
            .get(symbol)
            .map(|h| h.qty)
            .ok_or_else(|| SimError::not_found("position does not exist"))?;
        let qty = match amount {
            CloseAmount::All => held,
            CloseAmount::Qty(qty) => qty,
            CloseAmount::Percentage(pct) => round_qty_down(held * pct / Decimal::ONE_HUNDRED),
        };
        if qty <= Decimal::ZERO || qty > held {
            return Err(SimError::forbidden(format!(
                "insufficient qty available for order (requested: {}, available: {})",
                qty.normalize(),
                held.normalize()
            )));
        }
        let body = serde_json::json!({
            "symbol": symbol,
            "qty": wire::num(qty),
            "side": "sell",
            "type": "market",
            "time_in_force": "day",
        });
        self.place_order(market, account_id, &body, now)
    }

    /// Processes everything that fell due in `(processed_until, to]`, in time order.
    pub fn process(&mut self, market: &Market, to: Timestamp) {
        let from = self.processed_until;
        if to <= from {
            self.processed_until = to;
            return;
        }
        let mut due: Vec<(Timestamp, Uuid, Uuid, Due)> = Vec::new();
        for &(account, order) in &self.open {
            let Some(order) = self.accounts.get(&account).and_then(|a| a.order(order)) else {
                continue;
            };
            if let Some((t, what)) = next_event(market, order, from, to) {
                due.push((t, account, order.id, what));
            }
        }
        due.sort_by_key(|(t, ..)| *t);
        for (t, account, order, what) in due {
            match what {
                Due::Fill(price) => self.fill(account, order, price, t),
                Due::Expire => self.finish(account, order, Status::Expired, t),
            }
        }
        self.processed_until = to;
    }
}

/// The first thing that happens to `order` in `(from, to]`.
fn next_event(
    market: &Market,
    order: &Order,
    from: Timestamp,
    to: Timestamp,
) -> Option<(Timestamp, Due)> {
    let deadline = order.expires_at.map_or(to, |e| e.min(to));
    let scan_from = from.max(order.created_at);
    // The rest of a partially filled order rests until it expires or is canceled.
    let executes = order.status != Status::PartiallyFilled;
    match order.order_type {
        _ if !executes => {}
        OrderType::Market => {
            let t = order.active_from;
            if t > scan_from && t <= deadline {
                let price = market.trade_at(order.symbol, t)?.price;
                return Some((t, Due::Fill(price)));
            }
        }
        OrderType::Limit => {
            let ny = calendar::new_york();
            let first = ny.to_datetime(scan_from).date();
            let last = ny.to_datetime(deadline).date();
            for session in calendar::sessions(first, last) {
                let path = market.day_path(order.symbol, session)?;
                for k in 0..=path.minutes() {
                    let t = if k == path.minutes() {
                        session.close_at()
                    } else {
                        path.mark_time(k)
                    };
                    if t <= scan_from {
                        continue;
                    }
                    if t > deadline {
                        break;
                    }
                    if crosses(order, path.price(k)) {
                        return Some((t, Due::Fill(path.price(k))));
                    }
                }
            }
        }
    }
    match order.expires_at {
        Some(e) if e > from && e <= to => Some((e, Due::Expire)),
        _ => None,
    }
}
