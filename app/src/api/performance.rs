//! How the user's money is doing, on the wire (`GET /api/performance` and the dashboard):
//! invested, value, gain, the money-weighted (XIRR) and time-weighted returns, for the
//! account and each plan, with the daily value-against-invested series behind the chart.
//! Computed on the server by [`crate::domain::returns`].

use leptos::prelude::*;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How one set of purchases is doing: the account's (every plan's), or one plan's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Returns {
    /// Money put in: each purchase's filled quantity × price.
    pub invested: Decimal,
    /// What those shares are worth at the latest prices.
    pub value: Decimal,
    pub gain: Decimal,
    /// `gain / invested`, in percent to two places; `null` with nothing invested.
    pub gain_pct: Option<Decimal>,
    /// Money-weighted return (XIRR), percent a year to two places; `null` with
    /// `xirr_note` saying why (under 30 days, nothing invested).
    pub xirr_pct: Option<Decimal>,
    pub xirr_note: Option<String>,
    /// Time-weighted return since the first purchase, percent to two places.
    pub twr_pct: Option<Decimal>,
    /// The time-weighted return per year, once the first purchase is over a year old.
    pub twr_annual_pct: Option<Decimal>,
    /// Days since the first purchase.
    pub days: i64,
}

/// One day of the chart: the money put in so far and what it was worth at the close
/// (today: at the latest prices).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ValuePoint {
    #[serde(deserialize_with = "crate::domain::wire_time::civil_date")]
    #[cfg_attr(feature = "ssr", schemars(with = "crate::api::schema::Day"))]
    pub date: jiff::civil::Date,
    pub invested: Decimal,
    pub value: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PlanReturns {
    pub plan_id: String,
    pub name: String,
    pub returns: Returns,
    pub series: Vec<ValuePoint>,
}

/// What the plans bought of one symbol, at average cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HoldingReturns {
    pub symbol: String,
    pub qty: Decimal,
    pub cost: Decimal,
    pub average_cost: Decimal,
    pub value: Option<Decimal>,
}

/// `GET /api/performance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PerformanceView {
    /// When the prices were read.
    #[serde(deserialize_with = "crate::domain::wire_time::timestamp")]
    #[cfg_attr(feature = "ssr", schemars(with = "crate::api::schema::Instant"))]
    pub as_of: jiff::Timestamp,
    /// Whether the exchange is open now (the dashboard refreshes while it is).
    pub market_open: bool,
    /// When it next opens, while it is closed (the dashboard starts refreshing then).
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub next_open: Option<jiff::Timestamp>,
    /// Milliseconds from `as_of`'s answer until `next_open` by the server's clock (the
    /// browser's may differ, and the demo's simulated clock does).
    #[serde(default)]
    pub opens_in_ms: Option<i64>,
    pub account: Returns,
    /// What the account's sales realized (first in, first out per symbol, every fill of
    /// the account: plans', bots' and the user's own), and the dividends it was paid, from
    /// the broker's account activities; `null` when the broker did not answer.
    pub realized_pl: Option<Decimal>,
    pub dividends: Option<Decimal>,
    pub series: Vec<ValuePoint>,
    pub plans: Vec<PlanReturns>,
    pub holdings: Vec<HoldingReturns>,
    /// The dashboard's signal bots as HTML the server rendered, set only by the dashboard's
    /// server function (never in `GET /api/performance`). It rides here because the bots'
    /// values move with prices, and a server function of its own would cost the
    /// dashboard's bundle ~3.5 KB (BENCHMARKS.md, session 18).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[cfg_attr(feature = "ssr", schemars(skip))]
    pub bots_html: String,
}

/// The dashboard's figures: the returns, and its signal bots' section.
#[server(prefix = "/api/fn", endpoint = "load_performance", output = crate::api::codec::Json)]
pub async fn load_performance() -> Result<PerformanceView, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    let (view, bots) = futures_util::future::join(
        ports.portfolio.performance(&caller),
        ports.portfolio.bot_panels(&caller),
    )
    .await;
    super::ports::with_status(view.and_then(|view| {
        Ok(PerformanceView {
            bots_html: bots?,
            ..view
        })
    }))
}
