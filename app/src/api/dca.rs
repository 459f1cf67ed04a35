//! Plans on the wire: the server functions behind the plan editor, dashboard and history
//! pages, and the types they carry besides the plan itself (purchases, history pages, the
//! account, bar queries). The plan, its rules and its validation are the domain's
//! (`domain::plan`), re-exported here as the wire type they also are.

use leptos::prelude::*;

pub use crate::domain::lifecycle::{PurchaseStatus, SkipReason, SlotKind, SlotState};
use crate::domain::market::Symbol;
pub use crate::domain::plan::{
    AssetFacts, Plan, PlanLimits, PlanMode, PlanStatus, PlanStrategy, PlanWire, asset_problem,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One purchase (one leg of one slot) as clients see it: money as decimal strings,
/// instants as RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Purchase {
    pub id: String,
    pub plan_id: String,
    pub symbol: String,
    /// `buy`, or `sell` (a signal bot's sale).
    #[serde(default)]
    pub side: crate::domain::order::Side,
    /// Dollars ordered; for an order by quantity (a bot's), its estimated value.
    pub notional: String,
    pub qty: Option<String>,
    pub price: Option<String>,
    pub status: PurchaseStatus,
    /// Set when `status` is `skipped`.
    #[serde(default)]
    pub skip_reason: Option<SkipReason>,
    pub reason: Option<String>,
    pub client_order_id: String,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub slot_at: Option<jiff::Timestamp>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub submitted_at: Option<jiff::Timestamp>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub filled_at: Option<jiff::Timestamp>,
}

/// Which purchases to list, newest first: all of them, or one plan's or one symbol's;
/// `before` is the previous page's `next_before` (an opaque cursor).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HistoryFilter {
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A page of purchase history, newest first; pass `next_before` to get the next page
/// (None on the last page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HistoryPage {
    pub purchases: Vec<Purchase>,
    pub next_before: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PositionSummary {
    pub symbol: String,
    pub qty: Decimal,
    pub avg_entry_price: Decimal,
    pub market_value: Option<Decimal>,
    pub unrealized_pl: Option<Decimal>,
    pub cost_basis: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct OrderSummary {
    pub id: String,
    pub client_order_id: String,
    pub symbol: String,
    pub side: crate::domain::order::Side,
    pub notional: Option<Decimal>,
    pub qty: Option<Decimal>,
    pub status: String,
    pub filled_qty: Decimal,
    pub filled_avg_price: Option<Decimal>,
    #[serde(deserialize_with = "crate::domain::wire_time::timestamp")]
    #[cfg_attr(feature = "ssr", schemars(with = "crate::api::schema::Instant"))]
    pub created_at: jiff::Timestamp,
}

/// The user's broker account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AccountSummary {
    pub equity: Decimal,
    pub cash: Decimal,
    pub buying_power: Decimal,
    pub portfolio_value: Decimal,
    /// Always `null` here: what sales realized is read from the broker's activities, in
    /// `GET /api/performance` (`realized_pl`).
    pub realized_pl: Option<Decimal>,
    pub unrealized_pl: Decimal,
    pub positions: Vec<PositionSummary>,
    pub recent_orders: Vec<OrderSummary>,
}

// The server functions behind the plan editor, dashboard and history pages: thin
// adapters over the same ports the REST API uses.

#[server(prefix = "/api/fn", endpoint = "load_plans", output = crate::api::codec::Json)]
pub async fn load_plans() -> Result<Vec<Plan>, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.plans.list_plans(&caller).await)
}

#[server(prefix = "/api/fn", endpoint = "save_plan", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn save_plan(
    plan: PlanWire,
    /// Only check the draft (its fields and the caller's tier) and save nothing: the editor
    /// asks before the user presses save.
    #[server(default)]
    check_only: bool,
) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    let result = if check_only {
        ports.plans.check_plan(&caller, plan).await
    } else {
        (ports.plans.save_plan(&caller, plan).await).map(super::ports::Saved::into_plan)
    };
    super::ports::with_status(result)
}

/// A signal bot plan from a backtest's settings ("Use these settings" on a bot backtest):
/// `symbol` traded with `amount` as its capital, every trading day at 16:10 New York time.
/// The plan editor cannot carry a bot's settings (see `PlanWire::bot`), so the backtest
/// page creates the plan itself; its name, capital and time are edited as any plan's.
#[server(prefix = "/api/fn", endpoint = "create_bot_plan", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn create_bot_plan(
    symbol: String,
    amount: rust_decimal::Decimal,
    bot: crate::domain::strategy::ma_crossover::MaCrossoverConfig,
) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    let symbol = crate::domain::market::Symbol::parse(&symbol).map_err(|message| {
        super::AppError::invalid_fields([("legs[0].symbol".to_owned(), message)].into())
    })?;
    let wire = PlanWire {
        id: None,
        name: format!("{symbol} crossover"),
        mode: crate::domain::plan::PlanMode::Discretionary,
        legs: vec![crate::domain::strategy::dca::Leg { symbol, amount }],
        schedule: crate::domain::schedule::Schedule::after_the_close(),
        smart: None,
        bot: Some(bot),
        queue_outside_hours: false,
        status: PlanStatus::Active,
        next_run_at: None,
        created_at: None,
        updated_at: None,
        paused_reason: None,
    };
    let result = (ports.plans.save_plan(&caller, wire).await).map(super::ports::Saved::into_plan);
    super::ports::with_status(result)
}

#[server(prefix = "/api/fn", endpoint = "set_plan_status", output = crate::api::codec::Json)]
pub async fn set_plan_status(plan_id: String, status: PlanStatus) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    let result = async {
        let id = ports.plan_id(&caller, &plan_id).await?;
        ports.plans.set_plan_status(&caller, &id, status).await
    };
    super::ports::with_status(result.await)
}

/// Buys every leg once now. `request_id` is an idempotency key: a retried call with the
/// same one buys nothing more.
#[server(prefix = "/api/fn", endpoint = "run_plan_now", output = crate::api::codec::Json)]
pub async fn run_plan_now(plan_id: String, request_id: String) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    let result = async {
        let id = ports.plan_id(&caller, &plan_id).await?;
        ports.plans.run_now(&caller, &id, Some(&request_id)).await
    };
    super::ports::with_status(result.await)
}

#[server(prefix = "/api/fn", endpoint = "load_history", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn load_history(filter: HistoryFilter) -> Result<HistoryPage, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.plans.history(&caller, &filter).await)
}

#[server(prefix = "/api/fn", endpoint = "load_plan", output = crate::api::codec::Json)]
pub async fn load_plan(plan_id: String) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    let result = async {
        let id = ports.plan_id(&caller, &plan_id).await?;
        ports.plans.plan(&caller, &id).await
    };
    super::ports::with_status(result.await)
}

/// Deletes a plan: it never buys again and leaves the lists; its purchases stay in the
/// history.
#[server(prefix = "/api/fn", endpoint = "delete_plan", output = crate::api::codec::Json)]
pub async fn delete_plan(plan_id: String) -> Result<(), super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    let result = async {
        let id = ports.plan_id(&caller, &plan_id).await?;
        ports.plans.delete_plan(&caller, &id).await
    };
    super::ports::with_status(result.await)
}

/// The limits the server validates plans against, so the editor can check the same.
#[server(prefix = "/api/fn", endpoint = "load_plan_limits", output = crate::api::codec::Json)]
pub async fn load_plan_limits() -> Result<PlanLimits, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.plans.limits(&caller).await)
}

/// `GET /api/bars?symbol=SPY&from=2021-01-01&to=2025-12-31&timeframe=1Day`: historical bars
/// from the user's broker, oldest first, for backtests in the browser.
#[server(prefix = "/api", endpoint = "bars", input = leptos::server_fn::codec::GetUrl, output = crate::api::codec::Json)]
pub async fn bars(
    symbol: String,
    from: String,
    to: String,
    timeframe: Option<String>,
) -> Result<Vec<crate::domain::market::Bar>, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    let query = BarsQuery {
        symbol,
        from,
        to,
        timeframe: timeframe.unwrap_or_else(|| "1Day".into()),
    };
    super::ports::with_status(ports.portfolio.bars(&caller, &query).await)
}

#[server(prefix = "/api/fn", endpoint = "load_account", output = crate::api::codec::Json)]
pub async fn load_account() -> Result<AccountSummary, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.portfolio.account(&caller).await)
}

#[server(prefix = "/api/fn", endpoint = "search_assets", output = crate::api::codec::Json)]
pub async fn search_assets(query: String) -> Result<Vec<AssetFacts>, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.portfolio.search_assets(&caller, &query).await)
}

/// A request for historical bars, as typed by a client (checked by [`BarsQuery::check`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct BarsQuery {
    pub symbol: String,
    /// First day, `YYYY-MM-DD` (New York).
    pub from: String,
    /// Last day, inclusive.
    pub to: String,
    /// `1Day` or `1Hour`.
    pub timeframe: String,
}

/// Bar lengths a client may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarLength {
    Day,
    Hour,
}

/// A checked [`BarsQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedBars {
    pub symbol: Symbol,
    pub from: jiff::civil::Date,
    pub to: jiff::civil::Date,
    pub length: BarLength,
}

/// The longest range one request may cover: 20 years of daily bars, 1 year of hourly.
pub const MAX_DAILY_BAR_YEARS: i16 = 20;
pub const MAX_HOURLY_BAR_DAYS: i32 = 366;

impl BarsQuery {
    /// Parses every field, with errors keyed by field name.
    pub fn check(&self) -> Result<CheckedBars, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let symbol = Symbol::parse(&self.symbol)
            .map_err(|m| errors.insert("symbol".into(), m))
            .ok();
        let date = |key: &str, value: &str, errors: &mut BTreeMap<String, String>| {
            let date = crate::domain::wire_time::parse_date(value);
            if date.is_none() {
                errors.insert(
                    key.into(),
                    format!("\"{value}\" is not a date (YYYY-MM-DD)."),
                );
            }
            date
        };
        let from = date("from", &self.from, &mut errors);
        let to = date("to", &self.to, &mut errors);
        let length = match self.timeframe.as_str() {
            "1Day" => Some(BarLength::Day),
            "1Hour" => Some(BarLength::Hour),
            other => {
                errors.insert(
                    "timeframe".into(),
                    format!("\"{other}\" is not a timeframe; use 1Day or 1Hour."),
                );
                None
            }
        };
        if let (Some(from), Some(to), Some(length)) = (from, to, length) {
            if to < from {
                errors.insert("to".into(), "The end date is before the start date.".into());
            } else {
                let too_long = match length {
                    // `try_*`: the panicking setters would link jiff's error messages into
                    // the browser build.
                    BarLength::Day => jiff::Span::new()
                        .try_years(MAX_DAILY_BAR_YEARS)
                        .and_then(|span| from.checked_add(span))
                        .is_ok_and(|limit| to > limit),
                    BarLength::Hour => jiff::Span::new()
                        .try_days(MAX_HOURLY_BAR_DAYS)
                        .and_then(|span| from.checked_add(span))
                        .is_ok_and(|limit| to > limit),
                };
                if too_long {
                    errors.insert(
                        "to".into(),
                        match length {
                            BarLength::Day => format!(
                                "Ask for at most {MAX_DAILY_BAR_YEARS} years of daily bars at once."
                            ),
                            BarLength::Hour => format!(
                                "Ask for at most {MAX_HOURLY_BAR_DAYS} days of hourly bars at once."
                            ),
                        },
                    );
                }
            }
        }
        match (symbol, from, to, length) {
            (Some(symbol), Some(from), Some(to), Some(length)) if errors.is_empty() => {
                Ok(CheckedBars {
                    symbol,
                    from,
                    to,
                    length,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod bars_query_tests {
    use super::*;

    fn query(symbol: &str, from: &str, to: &str, timeframe: &str) -> BarsQuery {
        BarsQuery {
            symbol: symbol.into(),
            from: from.into(),
            to: to.into(),
            timeframe: timeframe.into(),
        }
    }

    #[test]
    fn a_good_query_is_parsed() {
        let checked = query("SPY", "2021-01-04", "2025-12-31", "1Day")
            .check()
            .unwrap();
        assert_eq!(checked.symbol.as_str(), "SPY");
        assert_eq!(checked.from, jiff::civil::date(2021, 1, 4));
        assert_eq!(checked.length, BarLength::Day);
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = query("", "2021-13-01", "yesterday", "5Min")
            .check()
            .unwrap_err();
        let keys: Vec<_> = errors.keys().map(String::as_str).collect();
        assert_eq!(keys, ["from", "symbol", "timeframe", "to"]);
    }

    #[test]
    fn ranges_are_ordered_and_bounded() {
        let errors = query("SPY", "2024-01-02", "2023-01-02", "1Day")
            .check()
            .unwrap_err();
        assert!(errors["to"].contains("before the start"));
        let errors = query("SPY", "2000-01-03", "2025-01-02", "1Day")
            .check()
            .unwrap_err();
        assert!(errors["to"].contains("20 years"));
        let errors = query("SPY", "2024-01-02", "2025-06-02", "1Hour")
            .check()
            .unwrap_err();
        assert!(errors["to"].contains("366 days"));
    }
}
