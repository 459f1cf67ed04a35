//! Market vocabulary: symbols, prices and quantities, and bars.
//!
//! Prices, amounts and quantities are exact decimals. Quantities keep at most
//! [`QTY_DECIMALS`] places (Alpaca's precision), always rounded down so an order never
//! asks for more than the money allows.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Decimal places of a fractional share quantity.
pub const QTY_DECIMALS: u32 = 9;

/// Rounds a quantity down (toward zero) to [`QTY_DECIMALS`] places.
pub fn round_qty_down(qty: Decimal) -> Decimal {
    qty.round_dp_with_strategy(QTY_DECIMALS, RoundingStrategy::ToZero)
        .normalize()
}

/// Rounds a money amount to cents, half away from zero, always showing two places
/// (for display and reports: `10000` becomes `10000.00`).
pub fn round_cents(amount: Decimal) -> Decimal {
    let mut cents = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    cents.rescale(2);
    cents
}

/// A ticker symbol: 1–10 characters of upper-case letters, digits and `.`, starting with
/// a letter (e.g. `SPY`, `BRK.B`). Parsing upper-cases and trims the input.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    pub fn parse(input: &str) -> Result<Self, String> {
        let symbol = input.trim().to_ascii_uppercase();
        if symbol.is_empty() {
            return Err("Enter a symbol, e.g. SPY.".into());
        }
        if symbol.len() > 10 {
            return Err(format!("{symbol:?} is longer than 10 characters."));
        }
        if !symbol.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err(format!("{symbol:?} must start with a letter."));
        }
        if let Some(bad) = symbol
            .chars()
            .find(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '.'))
        {
            return Err(format!(
                "{symbol:?} contains {bad:?}; use letters, digits and '.'."
            ));
        }
        if symbol.ends_with('.') || symbol.contains("..") {
            return Err(format!("{symbol:?} is not a valid symbol."));
        }
        Ok(Self(symbol))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Symbol {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Symbol::parse(&value)
    }
}

impl From<Symbol> for String {
    fn from(value: Symbol) -> Self {
        value.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One bar of market data: the period starting at `time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Bar {
    #[serde(deserialize_with = "super::wire_time::timestamp")]
    #[cfg_attr(feature = "ssr", schemars(with = "crate::api::schema::Instant"))]
    pub time: jiff::Timestamp,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: u64,
}

impl Bar {
    /// Checks the bar's internal consistency: positive prices, low ≤ open/close ≤ high.
    pub fn check(&self) -> Result<(), String> {
        if self.low <= Decimal::ZERO {
            return Err("prices must be positive".into());
        }
        if self.high < self.low {
            return Err(format!("high {} is below low {}", self.high, self.low));
        }
        for (name, value) in [("open", self.open), ("close", self.close)] {
            if value < self.low || value > self.high {
                return Err(format!(
                    "{name} {value} is outside low {} .. high {}",
                    self.low, self.high
                ));
            }
        }
        Ok(())
    }

    /// The New York calendar date the bar belongs to.
    pub fn exchange_date(&self) -> jiff::civil::Date {
        super::calendar::new_york().to_datetime(self.time).date()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn symbols_parse_once() {
        assert_eq!(Symbol::parse(" spy ").unwrap().as_str(), "SPY");
        assert_eq!(Symbol::parse("BRK.B").unwrap().as_str(), "BRK.B");
        for bad in ["", "1ABC", "SP Y", "TOOLONGSYMBOL", "ABC.", "A..B", "ÄPPLE"] {
            assert!(Symbol::parse(bad).is_err(), "{bad:?}");
        }
        let json: Symbol = serde_json::from_str("\"qqq\"").unwrap();
        assert_eq!(json.as_str(), "QQQ");
        assert!(serde_json::from_str::<Symbol>("\"$$\"").is_err());
    }

    #[test]
    fn quantities_round_down_to_nine_places() {
        assert_eq!(round_qty_down(dec!(1.2345678919)), dec!(1.234567891));
        assert_eq!(round_qty_down(dec!(0.0000000009)), dec!(0.000000000));
        assert_eq!(round_qty_down(dec!(2)), dec!(2));
        assert_eq!(round_cents(dec!(1.005)), dec!(1.01));
        assert_eq!(round_cents(dec!(10000)).to_string(), "10000.00");
    }

    #[test]
    fn bars_are_checked() {
        let t = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let bar = Bar {
            time: t,
            open: dec!(10),
            high: dec!(11),
            low: dec!(9),
            close: dec!(10.5),
            volume: 100,
        };
        assert!(bar.check().is_ok());
        assert!(
            Bar {
                high: dec!(8),
                ..bar
            }
            .check()
            .is_err()
        );
        assert!(
            Bar {
                open: dec!(12),
                ..bar
            }
            .check()
            .is_err()
        );
        assert!(
            Bar {
                low: dec!(0),
                ..bar
            }
            .check()
            .is_err()
        );
    }
}
