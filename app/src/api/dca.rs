//! DCA plans on the wire: the one `Plan` struct the REST API, the server functions and
//! the browser's plan editor share, and the validation both sides run.

use crate::domain::calendar;
use leptos::prelude::*;

use crate::domain::ids::PlanId;
pub use crate::domain::lifecycle::{PurchaseStatus, SkipReason, SlotKind, SlotState};
use crate::domain::market::Symbol;
use crate::domain::schedule::Schedule;
use crate::domain::strategy::dca::{Leg, validate_legs};
use crate::domain::strategy::smart_dca::SmartDcaConfig;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a plan decides whether to buy on a slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Buy every leg on every slot.
    #[default]
    Pure,
    /// Buy only when the moving-average condition in `smart` holds.
    Smart,
    /// The MA-crossover bot.
    Discretionary,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Buys on schedule.
    Active,
    /// Keeps its settings, skips its slots until started again.
    #[default]
    Paused,
    /// Finished for good.
    Stopped,
}

impl PlanStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Active => "active",
            PlanStatus::Paused => "paused",
            PlanStatus::Stopped => "stopped",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "active" => Some(PlanStatus::Active),
            "paused" => Some(PlanStatus::Paused),
            "stopped" => Some(PlanStatus::Stopped),
            _ => None,
        }
    }
}

/// A recurring purchase plan. On input, `id` absent means "create"; `status`,
/// `next_run_at`, `created_at` and `updated_at` are the server's and ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    #[serde(default)]
    pub id: Option<PlanId>,
    pub name: String,
    #[serde(default)]
    pub mode: PlanMode,
    pub legs: Vec<Leg>,
    pub schedule: Schedule,
    #[serde(default)]
    pub smart: Option<SmartDcaConfig>,
    /// Accept a time outside regular hours: such purchases queue for the next open.
    #[serde(default)]
    pub queue_outside_hours: bool,
    #[serde(default)]
    pub status: PlanStatus,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    pub next_run_at: Option<jiff::Timestamp>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    pub created_at: Option<jiff::Timestamp>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    pub updated_at: Option<jiff::Timestamp>,
}

/// What the broker says about a symbol, for validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetFacts {
    pub symbol: Symbol,
    pub name: String,
    pub tradable: bool,
    pub fractionable: bool,
}

/// Limits an operator can configure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLimits {
    /// The smallest and largest total a plan may spend per slot.
    pub min_per_slot: Decimal,
    pub max_per_slot: Decimal,
}

impl Default for PlanLimits {
    fn default() -> Self {
        Self {
            min_per_slot: Decimal::ONE,
            max_per_slot: Decimal::from(10_000),
        }
    }
}

const NAME_MAX_CHARS: usize = 80;

impl Plan {
    /// Every problem with the plan, keyed by field (`name`, `legs[0].symbol`,
    /// `schedule.time`, …). `assets` is the broker's catalogue; without it (the browser
    /// before it has loaded) the symbol checks are left to the server.
    pub fn validate(
        &self,
        limits: &PlanLimits,
        assets: Option<&[AssetFacts]>,
    ) -> Result<(), BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.insert("name".into(), "Give the plan a name.".into());
        } else if name.chars().count() > NAME_MAX_CHARS {
            errors.insert(
                "name".into(),
                format!("Use at most {NAME_MAX_CHARS} characters."),
            );
        }
        if let Err(leg_errors) = validate_legs(&self.legs) {
            errors.extend(leg_errors);
        }
        match crate::domain::strategy::dca::legs_total(&self.legs) {
            Some(total)
                if !self.legs.is_empty()
                    && (total < limits.min_per_slot || total > limits.max_per_slot) =>
            {
                errors.entry("legs".into()).or_insert(format!(
                    "A plan spends between ${} and ${} per purchase; this one spends ${total}.",
                    limits.min_per_slot, limits.max_per_slot
                ));
            }
            Some(_) => {}
            None => {
                errors.entry("legs".into()).or_insert(format!(
                    "A plan spends between ${} and ${} per purchase; these amounts are far more.",
                    limits.min_per_slot, limits.max_per_slot
                ));
            }
        }
        if let Some(assets) = assets {
            for (i, leg) in self.legs.iter().enumerate() {
                let facts = assets.iter().find(|a| a.symbol == leg.symbol);
                if let Some(problem) = asset_problem(&leg.symbol, facts) {
                    errors.entry(format!("legs[{i}].symbol")).or_insert(problem);
                }
            }
        }
        match self.schedule.validate() {
            Err(schedule_errors) => {
                errors.extend(
                    schedule_errors
                        .into_iter()
                        .map(|(k, v)| (format!("schedule.{k}"), v)),
                );
            }
            Ok(()) => {
                if let Some(message) =
                    outside_market_hours(&self.schedule).filter(|_| !self.queue_outside_hours)
                {
                    errors.insert("schedule.time".into(), message);
                }
            }
        }
        match (self.mode, &self.smart) {
            (PlanMode::Smart, None) => {
                errors.insert(
                    "smart".into(),
                    "Choose the moving-average condition for Smart DCA.".into(),
                );
            }
            (PlanMode::Smart, Some(smart)) => {
                if let Err(e) = smart.validate() {
                    errors.extend(e);
                }
            }
            (PlanMode::Discretionary, _) => {
                errors.insert(
                    "mode".into(),
                    "The MA-crossover bot cannot run as a plan yet; use Pure or Smart DCA.".into(),
                );
            }
            (PlanMode::Pure, _) => {}
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Why `symbol` cannot be in a plan, given what the broker says about it (`None`: the
/// broker does not list it); `None` when it can.
pub fn asset_problem(symbol: &Symbol, facts: Option<&AssetFacts>) -> Option<String> {
    match facts {
        None => Some(format!("{symbol} is not a symbol the broker trades.")),
        Some(a) if !a.tradable => Some(format!("{symbol} cannot be traded at the moment.")),
        Some(a) if !a.fractionable => Some(format!(
            "{symbol} is not available in fractional shares, so it cannot be bought by dollar amount."
        )),
        Some(_) => None,
    }
}

/// Checks that the plan's time falls within regular trading hours in New York. Time zones
/// shift against New York during the year (daylight saving starts and ends on different
/// dates), so the time is tried on sample weeks in winter, summer and the weeks when
/// Europe and the US are out of step. Pure: no "today" needed.
fn outside_market_hours(schedule: &Schedule) -> Option<String> {
    let time = crate::domain::schedule::parse_time(&schedule.time)?;
    let zone = crate::domain::zones::get(&schedule.timezone)?;
    let ny = calendar::new_york();
    let weeks = [
        jiff::civil::date(2026, 1, 5),
        jiff::civil::date(2026, 3, 16),
        jiff::civil::date(2026, 7, 6),
        jiff::civil::date(2026, 10, 26),
    ];
    let sessions = weeks.into_iter().flat_map(|monday| {
        let friday = jiff::Span::new()
            .try_days(4)
            .map_or(monday, |span| monday.saturating_add(span));
        calendar::sessions(monday, friday)
    });
    for session in sessions {
        let instant = zone.to_timestamp(session.date.to_datetime(time)).ok()?;
        let local_ny = ny.to_datetime(instant);
        if local_ny.date() != session.date
            || local_ny.time() < session.open
            || local_ny.time() >= session.close
        {
            return Some(format!(
                "{} in {} is {} in New York, outside market hours (09:30–16:00). Choose a time within \
                 them, or let purchases queue for the next open.",
                schedule.time,
                schedule.timezone,
                format_args!("{:02}:{:02}", local_ny.hour(), local_ny.minute())
            ));
        }
    }
    None
}

/// One purchase (one leg of one slot) as clients see it: money as decimal strings,
/// instants as RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    pub id: String,
    pub plan_id: String,
    pub symbol: String,
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
    pub slot_at: Option<jiff::Timestamp>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    pub submitted_at: Option<jiff::Timestamp>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    pub filled_at: Option<jiff::Timestamp>,
}

/// Which purchases to list, newest first: all of them, or one plan's or one symbol's;
/// `before` is the previous page's `next_before` (an opaque cursor).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct HistoryPage {
    pub purchases: Vec<Purchase>,
    pub next_before: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionSummary {
    pub symbol: String,
    pub qty: Decimal,
    pub avg_entry_price: Decimal,
    pub market_value: Option<Decimal>,
    pub unrealized_pl: Option<Decimal>,
    pub cost_basis: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    pub created_at: jiff::Timestamp,
}

/// The user's broker account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub equity: Decimal,
    pub cash: Decimal,
    pub buying_power: Decimal,
    pub portfolio_value: Decimal,
    /// Not tracked yet (plans only buy): `null` rather than a made-up number.
    pub realized_pl: Option<Decimal>,
    pub unrealized_pl: Decimal,
    pub positions: Vec<PositionSummary>,
    pub recent_orders: Vec<OrderSummary>,
}

// The server functions behind the plan editor, dashboard and history pages: thin
// adapters over the same service the REST API uses.

#[server(prefix = "/api/fn", endpoint = "list_plans", output = crate::api::codec::Json)]
pub async fn list_plans() -> Result<Vec<Plan>, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.list_plans(&caller).await)
}

#[server(prefix = "/api/fn", endpoint = "save_plan", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn save_plan(plan: Plan) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.save_plan(&caller, plan).await)
}

#[server(prefix = "/api/fn", endpoint = "set_plan_status", output = crate::api::codec::Json)]
pub async fn set_plan_status(plan_id: String, status: PlanStatus) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.set_plan_status(&caller, plan_id, status).await)
}

/// Buys every leg once now. `request_id` is an idempotency key: a retried call with the
/// same one buys nothing more.
#[server(prefix = "/api/fn", endpoint = "run_plan_now", output = crate::api::codec::Json)]
pub async fn run_plan_now(plan_id: String, request_id: String) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.run_now(&caller, plan_id, Some(request_id)).await)
}

#[server(prefix = "/api/fn", endpoint = "purchase_history", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn purchase_history(filter: HistoryFilter) -> Result<HistoryPage, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.history(&caller, filter).await)
}

#[server(prefix = "/api/fn", endpoint = "get_plan", output = crate::api::codec::Json)]
pub async fn get_plan(plan_id: String) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.plan(&caller, plan_id).await)
}

/// Deletes a plan: it never buys again and leaves the lists; its purchases stay in the
/// history.
#[server(prefix = "/api/fn", endpoint = "delete_plan", output = crate::api::codec::Json)]
pub async fn delete_plan(plan_id: String) -> Result<(), super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.delete_plan(&caller, plan_id).await)
}

/// The limits the server validates plans against, so the editor can check the same.
#[server(prefix = "/api/fn", endpoint = "plan_limits", output = crate::api::codec::Json)]
pub async fn load_plan_limits() -> Result<PlanLimits, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.limits(&caller).await)
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
    super::ports::with_status(ports.dca.bars(&caller, query).await)
}

#[server(prefix = "/api/fn", endpoint = "load_account", output = crate::api::codec::Json)]
pub async fn load_account() -> Result<AccountSummary, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.account(&caller).await)
}

#[server(prefix = "/api/fn", endpoint = "search_assets", output = crate::api::codec::Json)]
pub async fn search_assets(query: String) -> Result<Vec<AssetFacts>, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.search_assets(&caller, query).await)
}

/// A request for historical bars, as typed by a client (checked by [`BarsQuery::check`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

#[cfg(test)]
mod validation_never_panics {
    use super::*;
    use proptest::prelude::*;

    /// A plan as a client could send it, with these strings where the amounts, symbols,
    /// time and zone go.
    fn plan_json(
        amounts: &[String],
        symbols: &[String],
        time: &str,
        zone: &str,
    ) -> serde_json::Value {
        let legs: Vec<serde_json::Value> = amounts
            .iter()
            .zip(symbols)
            .map(|(amount, symbol)| serde_json::json!({"symbol": symbol, "amount": amount}))
            .collect();
        serde_json::json!({"name": "p", "mode": "pure", "legs": legs,
            "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon", "day_of_month": null,
                         "time": time, "timezone": zone}})
    }

    fn amount() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "-?[0-9]{1,30}(\\.[0-9]{0,30})?",
            Just("79228162514264337593543950335".to_owned()),
            Just("-79228162514264337593543950335".to_owned()),
            Just("0.0000000000000000000000000001".to_owned()),
        ]
    }

    #[test]
    fn two_maximal_amounts_are_refused_not_added() {
        let max = "79228162514264337593543950335".to_owned();
        let json = plan_json(
            &[max.clone(), max],
            &["SPY".into(), "QQQ".into()],
            "10:00",
            "America/New_York",
        );
        let plan: Plan = serde_json::from_value(json).unwrap();
        let errors = plan.validate(&PlanLimits::default(), None).unwrap_err();
        assert!(errors["legs[0].amount"].contains("at most"), "{errors:?}");
        assert!(errors["legs"].contains("far more"), "{errors:?}");
    }

    proptest! {
        #[test]
        fn any_input_is_answered_with_errors_or_ok(
            amounts in proptest::collection::vec(amount(), 0..6),
            symbols in proptest::collection::vec(prop_oneof![any::<String>(), "[A-Z]{1,5}"], 6),
            time in prop_oneof![any::<String>(), "[0-9]{1,2}:[0-9]{1,2}"],
            zone in prop_oneof![any::<String>(), Just("America/New_York".to_owned())],
        ) {
            let json = plan_json(&amounts, &symbols, &time, &zone);
            if let Ok(plan) = serde_json::from_value::<Plan>(json) {
                let _ = plan.validate(&PlanLimits::default(), None);
                let _ = crate::domain::strategy::smart_dca::cap_carried(
                    &plan.legs,
                    &BTreeMap::new(),
                    PlanLimits::default().max_per_slot,
                );
            }
            for text in &amounts {
                let _ = crate::ui::plan_form::parse_amount(text);
            }
        }
    }
}
