//! Conversions between apca's types (num-decimal `Num`, chrono) and ours (`Decimal`, jiff).
//!
//! apca serialises a `Num` with at most 8 decimal places (num-decimal's display
//! precision), so quantities are rounded down to 8 places before they are sent; values
//! read back are converted exactly, to 9 places.

use super::{BrokerError, OrderSnapshot, OrderStatus};
use apca::api::v2::order;
use app::domain::market::Symbol;
use app::domain::order::{Side, Size};
use num_decimal::Num;
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr as _;

/// Places apca can send without rounding.
pub const APCA_DECIMALS: u32 = 8;

pub fn to_num(value: Decimal) -> Num {
    let value = value
        .round_dp_with_strategy(APCA_DECIMALS, RoundingStrategy::ToZero)
        .normalize();
    Num::from_str(&value.to_string()).unwrap_or_else(|_| Num::from(0))
}

/// Exact to 9 decimal places (Alpaca's precision); larger values saturate.
pub fn to_decimal(value: &Num) -> Decimal {
    let nanos = (value.clone() * Num::from(1_000_000_000))
        .round()
        .to_integer();
    nanos
        .to_string()
        .parse::<i128>()
        .ok()
        .and_then(|n| Decimal::try_from_i128_with_scale(n, 9).ok())
        .map(|d| d.normalize())
        .unwrap_or(Decimal::MAX)
}

pub fn to_timestamp(value: &chrono::DateTime<chrono::Utc>) -> jiff::Timestamp {
    jiff::Timestamp::from_second(value.timestamp())
        .and_then(|t| {
            t.checked_add(jiff::SignedDuration::from_nanos(i64::from(
                value.timestamp_subsec_nanos(),
            )))
        })
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

pub fn to_chrono_date(date: jiff::civil::Date) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(
        i32::from(date.year()),
        date.month() as u32,
        date.day() as u32,
    )
    .unwrap_or_default()
}

pub fn from_chrono_date(date: chrono::NaiveDate) -> Result<jiff::civil::Date, BrokerError> {
    use chrono::Datelike as _;
    jiff::civil::Date::new(date.year() as i16, date.month() as i8, date.day() as i8)
        .map_err(|e| BrokerError::Transient(format!("the broker sent an invalid date: {e}")))
}

pub fn from_chrono_time(time: chrono::NaiveTime) -> Result<jiff::civil::Time, BrokerError> {
    use chrono::Timelike as _;
    jiff::civil::Time::new(time.hour() as i8, time.minute() as i8, 0, 0)
        .map_err(|e| BrokerError::Transient(format!("the broker sent an invalid time: {e}")))
}

pub fn symbol(value: &str) -> Result<Symbol, BrokerError> {
    Symbol::parse(value)
        .map_err(|e| BrokerError::Transient(format!("the broker sent an unknown symbol: {e}")))
}

pub fn order_status(status: order::Status) -> OrderStatus {
    use order::Status as S;
    match status {
        S::PartiallyFilled => OrderStatus::PartiallyFilled,
        S::Filled => OrderStatus::Filled,
        S::Canceled => OrderStatus::Canceled,
        S::Expired | S::DoneForDay => OrderStatus::Expired,
        S::Rejected => OrderStatus::Rejected,
        _ => OrderStatus::Open,
    }
}

pub fn order(order: &order::Order) -> Result<OrderSnapshot, BrokerError> {
    Ok(OrderSnapshot {
        id: order.id.as_hyphenated().to_string(),
        client_order_id: order.client_order_id.clone(),
        symbol: symbol(&order.symbol)?,
        side: match order.side {
            order::Side::Buy => Side::Buy,
            order::Side::Sell => Side::Sell,
        },
        size: match &order.amount {
            order::Amount::Quantity { quantity } => Size::Qty(to_decimal(quantity)),
            order::Amount::Notional { notional } => Size::Notional(to_decimal(notional)),
        },
        status: order_status(order.status),
        filled_qty: to_decimal(&order.filled_quantity),
        filled_avg_price: order.average_fill_price.as_ref().map(to_decimal),
        created_at: to_timestamp(&order.created_at),
        filled_at: order.filled_at.as_ref().map(to_timestamp),
        updated_at: order.updated_at.as_ref().map(to_timestamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn decimals_survive_the_round_trip_to_eight_places() {
        assert_eq!(to_decimal(&to_num(dec!(25.5))), dec!(25.5));
        assert_eq!(
            to_decimal(&to_num(dec!(1.123456789))),
            dec!(1.12345678),
            "rounded down to 8 places"
        );
        assert_eq!(
            to_decimal(&Num::from_str("0.123456789").unwrap()),
            dec!(0.123456789)
        );
        assert_eq!(to_decimal(&Num::from_str("100000").unwrap()), dec!(100000));
        assert_eq!(to_num(dec!(0.1)).to_string(), "0.1");
    }
}
