//! Alpaca's JSON shapes: decimals as strings, RFC 3339 times, every field apca requires
//! present (and non-null where it must be). Market-data numbers (bars, trades) are JSON
//! numbers, as in Alpaca's data API.

use super::bars::OutBar;
use super::engine::{Account, Fill, Holding, Order};
use super::market::{Asset, Market};
use app::domain::calendar::Session;
use jiff::Timestamp;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;
use serde_json::{Value, json};

/// A decimal as Alpaca writes it: a string without trailing zeros.
pub fn num(value: Decimal) -> String {
    value.normalize().to_string()
}

fn opt_num(value: Option<Decimal>) -> Value {
    value.map_or(Value::Null, |v| Value::String(num(v)))
}

/// RFC 3339 in UTC (`2026-01-05T15:00:00Z`, with fractional seconds when there are any).
pub fn time(t: Timestamp) -> String {
    t.to_string()
}

fn opt_time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(time(t)))
}

/// RFC 3339 with the New York offset, as Alpaca's clock answers.
pub fn ny_time(t: Timestamp) -> String {
    jiff::fmt::strtime::format(
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        &t.to_zoned_datetime(jiff::tz::TimeZone::fixed(
            app::domain::calendar::new_york().to_offset(t),
        )),
    )
    .unwrap_or_else(|_| time(t))
}

/// A data-API price: a JSON number (display only; money stays decimal everywhere else).
pub fn data_num(value: Decimal) -> Value {
    value
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

pub fn order(o: &Order) -> Value {
    let intent = match o.side {
        super::engine::Side::Buy => "buy_to_open",
        super::engine::Side::Sell => "sell_to_close",
    };
    json!({
        "id": o.id.to_string(),
        "client_order_id": o.client_order_id,
        "created_at": time(o.created_at),
        "updated_at": time(o.updated_at),
        "submitted_at": time(o.created_at),
        "filled_at": opt_time(o.filled_at),
        "expired_at": opt_time(o.expired_at),
        "canceled_at": opt_time(o.canceled_at),
        "failed_at": opt_time(o.failed_at),
        "replaced_at": null,
        "replaced_by": null,
        "replaces": null,
        "asset_id": o.asset_id.to_string(),
        "symbol": o.symbol,
        "asset_class": "us_equity",
        "notional": opt_num(o.notional),
        "qty": opt_num(o.qty),
        "filled_qty": num(o.filled_qty),
        "filled_avg_price": opt_num(o.filled_avg_price),
        "order_class": "simple",
        "order_type": o.order_type.as_str(),
        "type": o.order_type.as_str(),
        "side": o.side.as_str(),
        "position_intent": intent,
        "time_in_force": o.time_in_force.as_str(),
        "limit_price": opt_num(o.limit_price),
        "stop_price": null,
        "status": o.status.as_str(),
        "extended_hours": o.extended_hours,
        "legs": null,
        "trail_percent": null,
        "trail_price": null,
        "hwm": null,
        "subtag": null,
        "source": null,
        "expires_at": opt_time(o.expires_at),
    })
}

/// Market value of every position at `now`.
fn long_market_value(market: &Market, account: &Account, now: Timestamp) -> Decimal {
    account
        .positions
        .iter()
        .map(|(symbol, h)| {
            let price = market
                .trade_at(symbol, now)
                .map_or(Decimal::ZERO, |t| t.price);
            h.qty * price
        })
        .sum()
}

pub fn account(market: &Market, a: &Account, now: Timestamp) -> Value {
    let lmv = long_market_value(market, a, now).round_dp(2);
    let equity = a.cash + lmv;
    let last_value: Decimal = a
        .positions
        .iter()
        .map(|(symbol, h)| {
            let price = market
                .previous_close(symbol, now)
                .or_else(|| market.trade_at(symbol, now).map(|t| t.price))
                .unwrap_or(Decimal::ZERO);
            h.qty * price
        })
        .sum();
    let last_equity = (a.cash + last_value).round_dp(2);
    let bp = num(a.buying_power());
    json!({
        "id": a.id.to_string(),
        "account_number": a.account_number,
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "buying_power": bp,
        "regt_buying_power": bp,
        "daytrading_buying_power": "0",
        "effective_buying_power": bp,
        "non_marginable_buying_power": bp,
        "options_buying_power": "0",
        "bod_dtbp": "0",
        "cash": num(a.cash),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "portfolio_value": num(equity),
        "pattern_day_trader": false,
        "trading_blocked": false,
        "transfers_blocked": false,
        "account_blocked": false,
        "created_at": time(a.created_at),
        "trade_suspended_by_user": false,
        "multiplier": "1",
        "shorting_enabled": false,
        "equity": num(equity),
        "last_equity": num(last_equity),
        "long_market_value": num(lmv),
        "short_market_value": "0",
        "position_market_value": num(lmv),
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
        "options_approved_level": 0,
        "options_trading_level": 0,
    })
}

pub fn position(market: &Market, a: &Account, symbol: &str, h: &Holding, now: Timestamp) -> Value {
    let asset = market.asset(symbol);
    let price = market.trade_at(symbol, now).map(|t| t.price);
    let lastday = market.previous_close(symbol, now).or(price);
    let market_value = price.map(|p| (h.qty * p).round_dp(2));
    let unrealized = market_value.map(|v| v - h.cost_basis);
    let plpc = |pl: Decimal, base: Decimal| {
        if base.is_zero() {
            Decimal::ZERO
        } else {
            (pl / base).round_dp(6)
        }
    };
    let intraday_base = lastday.map(|l| (h.qty * l).round_dp(2));
    let intraday = market_value.zip(intraday_base).map(|(v, b)| v - b);
    json!({
        "asset_id": asset.map(|a| a.id.to_string()).unwrap_or_default(),
        "symbol": symbol,
        "exchange": asset.map_or("NYSE", |a| a.exchange),
        "asset_class": "us_equity",
        "asset_marginable": false,
        "avg_entry_price": num(if h.qty.is_zero() { Decimal::ZERO } else { (h.cost_basis / h.qty).round_dp(4) }),
        "qty": num(h.qty),
        "qty_available": num(a.qty_available(symbol)),
        "side": "long",
        "market_value": opt_num(market_value),
        "cost_basis": num(h.cost_basis),
        "unrealized_pl": opt_num(unrealized),
        "unrealized_plpc": opt_num(unrealized.map(|u| plpc(u, h.cost_basis))),
        "unrealized_intraday_pl": opt_num(intraday),
        "unrealized_intraday_plpc": opt_num(intraday.zip(intraday_base).map(|(i, b)| plpc(i, b))),
        "current_price": opt_num(price),
        "lastday_price": opt_num(lastday),
        "change_today": opt_num(price.zip(lastday).map(|(p, l)| plpc(p - l, l))),
    })
}

pub fn asset(a: &Asset) -> Value {
    json!({
        "id": a.id.to_string(),
        "class": "us_equity",
        "exchange": a.exchange,
        "symbol": a.symbol,
        "name": a.name,
        "status": if a.active { "active" } else { "inactive" },
        "tradable": a.active,
        "marginable": a.active,
        "shortable": a.active,
        "easy_to_borrow": a.active,
        "fractionable": a.fractionable,
        "maintenance_margin_requirement": 30,
        "attributes": [],
    })
}

pub fn activity(f: &Fill) -> Value {
    json!({
        "id": f.id,
        "activity_type": "FILL",
        "transaction_time": time(f.time),
        "type": "fill",
        "price": num(f.price),
        "qty": num(f.qty),
        "side": f.side.as_str(),
        "symbol": f.symbol,
        "leaves_qty": "0",
        "order_id": f.order_id.to_string(),
        "cum_qty": num(f.qty),
        "order_status": "filled",
    })
}

fn hhmm(t: jiff::civil::Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

pub fn calendar_day(s: &Session) -> Value {
    let settlement = app::domain::calendar::sessions(
        s.date.tomorrow().unwrap_or(s.date),
        s.date
            .checked_add(jiff::Span::new().days(10))
            .unwrap_or(s.date),
    )
    .next()
    .map_or(s.date, |n| n.date);
    json!({
        "date": s.date.to_string(),
        "open": hhmm(s.open),
        "close": hhmm(s.close),
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": settlement.to_string(),
    })
}

pub fn bar(b: &OutBar) -> Value {
    json!({
        "t": time(b.time),
        "o": data_num(b.open),
        "h": data_num(b.high),
        "l": data_num(b.low),
        "c": data_num(b.close),
        "v": b.volume,
        "n": b.trades,
        "vw": data_num(b.vwap),
    })
}
