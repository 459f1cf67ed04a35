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

/// Every kind of dividend activity: paid, capital gains, return of capital, tax exempt, and
/// the negative ones (fees and withholding).
pub const DIVIDEND_KINDS: [apca::api::v2::account_activities::ActivityType; 9] = {
    use apca::api::v2::account_activities::ActivityType as T;
    [
        T::Dividend,
        T::CapitalGainLongTerm,
        T::CapitalGainShortTerm,
        T::DividendFee,
        T::DividendAdjusted,
        T::DividendAdjustedNraWithheld,
        T::DividendReturnOfCapital,
        T::DividendAdjustedTefraWithheld,
        T::DividendTaxExtempt,
    ]
};

/// An account activity the returns read: a fill of a stock (buy or sell), or any kind of
/// dividend. `None` for the rest: short sales (QuantShift never sells short; a user's own
/// short trades are left out of realized profit), symbols that are not stock symbols
/// (crypto pairs, options), and other kinds.
pub fn activity(activity: apca::api::v2::account_activities::Activity) -> Option<super::Activity> {
    use apca::api::v2::account_activities::{Activity as Raw, Side as RawSide};
    match activity {
        Raw::Trade(fill) => {
            let side = match fill.side {
                RawSide::Buy => Side::Buy,
                RawSide::Sell => Side::Sell,
                _ => return None,
            };
            Some(super::Activity::Fill {
                time: to_timestamp(&fill.transaction_time),
                order_id: fill.order_id.to_string(),
                symbol: symbol(&fill.symbol).ok()?,
                side,
                qty: to_decimal(&fill.quantity),
                price: to_decimal(&fill.price),
            })
        }
        Raw::NonTrade(other) if DIVIDEND_KINDS.contains(&other.type_) => {
            Some(super::Activity::Dividend {
                time: to_timestamp(&other.date),
                symbol: other.symbol.as_deref().and_then(|s| symbol(s).ok()),
                amount: to_decimal(&other.net_amount),
            })
        }
        Raw::NonTrade(_) => None,
    }
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

    /// Alpaca's documented activities (a dividend and a fill) read as the returns need them;
    /// other kinds are left out.
    #[test]
    fn activities_read_as_fills_and_dividends() {
        use apca::api::v2::account_activities::Activity as Raw;
        let read = |text: &str| activity(serde_json::from_str::<Raw>(text).unwrap());
        let dividend = read(
            r#"{"id":"20200626000000000::e3163618-f82b-4568-af54-b30404484224",
                "activity_type":"DIV","date":"2020-01-01","net_amount":"21.97",
                "description":"DIV","symbol":"SPY","qty":"201.96","per_share_amount":"0.108783"}"#,
        );
        assert_eq!(
            dividend,
            Some(super::super::Activity::Dividend {
                time: "2020-01-01T00:00:00Z".parse().unwrap(),
                symbol: Some(symbol("SPY").unwrap()),
                amount: dec!(21.97),
            })
        );
        let fill = read(
            r#"{"id":"20190524113406977::8efc7b9a-8b2b-4000-9955-d36e7db0df74",
                "activity_type":"FILL","transaction_time":"2019-05-24T15:34:06.977Z",
                "type":"fill","price":"1.63","qty":"2","side":"sell","symbol":"LPCN",
                "leaves_qty":"0","order_id":"904837e3-3b76-47ec-b432-046db621571b",
                "cum_qty":"2"}"#,
        );
        assert_eq!(
            fill,
            Some(super::super::Activity::Fill {
                time: "2019-05-24T15:34:06.977Z".parse().unwrap(),
                order_id: "904837e3-3b76-47ec-b432-046db621571b".into(),
                symbol: symbol("LPCN").unwrap(),
                side: Side::Sell,
                qty: dec!(2),
                price: dec!(1.63),
            })
        );
        let interest =
            read(r#"{"id":"x","activity_type":"INT","date":"2020-01-01","net_amount":"1.00"}"#);
        assert_eq!(interest, None);
    }

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
