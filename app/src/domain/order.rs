//! What strategies ask for (order intents) and what the market answers (fills), plus the
//! account as a strategy sees it.

use super::market::Symbol;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Side {
    #[default]
    Buy,
    Sell,
}

/// How much an intent trades: dollars (notional, fractional shares) or a share quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Size {
    Notional(Decimal),
    Qty(Decimal),
}

/// A market order a strategy wants placed, with the reason it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct OrderIntent {
    pub symbol: Symbol,
    pub side: Side,
    pub size: Size,
    pub reason: String,
}

impl OrderIntent {
    pub fn buy_notional(symbol: Symbol, amount: Decimal, reason: impl Into<String>) -> Self {
        Self {
            symbol,
            side: Side::Buy,
            size: Size::Notional(amount),
            reason: reason.into(),
        }
    }

    pub fn buy_qty(symbol: Symbol, qty: Decimal, reason: impl Into<String>) -> Self {
        Self {
            symbol,
            side: Side::Buy,
            size: Size::Qty(qty),
            reason: reason.into(),
        }
    }

    pub fn sell_qty(symbol: Symbol, qty: Decimal, reason: impl Into<String>) -> Self {
        Self {
            symbol,
            side: Side::Sell,
            size: Size::Qty(qty),
            reason: reason.into(),
        }
    }
}

/// An executed order (or part of one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Fill {
    pub symbol: Symbol,
    pub side: Side,
    pub qty: Decimal,
    pub price: Decimal,
    pub commission: Decimal,
    #[cfg_attr(feature = "ssr", schemars(with = "crate::api::schema::Instant"))]
    pub time: jiff::Timestamp,
}

/// A long position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Position {
    pub symbol: Symbol,
    pub qty: Decimal,
    /// Average cost per share, commissions included.
    pub avg_cost: Decimal,
}

/// The account as a strategy sees it when it decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountView<'a> {
    pub cash: Decimal,
    /// Shares held of the symbol the current event is about.
    pub position_qty: Decimal,
    /// Every position as (quantity, latest price).
    pub marks: &'a [(Decimal, Decimal)],
}

impl AccountView<'_> {
    /// Cash plus every position at its latest price. Computed on demand: most decisions
    /// never need it, and a backtest asks millions of times.
    pub fn equity(&self) -> Decimal {
        self.cash
            + self
                .marks
                .iter()
                .map(|(qty, price)| qty * price)
                .sum::<Decimal>()
    }
}
