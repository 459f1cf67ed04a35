//! DCA plans on the wire: the one `Plan` struct the REST API, the server functions and
//! the browser's plan editor share, and the validation both sides run.

use crate::domain::calendar;
use leptos::prelude::*;

use crate::domain::ids::PlanId;
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
    #[serde(default)]
    pub next_run_at: Option<jiff::Timestamp>,
    #[serde(default)]
    pub created_at: Option<jiff::Timestamp>,
    #[serde(default)]
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
        let total: Decimal = self.legs.iter().map(|l| l.amount).sum();
        if !self.legs.is_empty() && (total < limits.min_per_slot || total > limits.max_per_slot) {
            errors.entry("legs".into()).or_insert(format!(
                "A plan spends between ${} and ${} per purchase; this one spends ${total}.",
                limits.min_per_slot, limits.max_per_slot
            ));
        }
        if let Some(assets) = assets {
            for (i, leg) in self.legs.iter().enumerate() {
                let key = format!("legs[{i}].symbol");
                match assets.iter().find(|a| a.symbol == leg.symbol) {
                    None => {
                        errors.entry(key).or_insert(format!(
                            "{} is not a symbol the broker trades.",
                            leg.symbol
                        ));
                    }
                    Some(a) if !a.tradable => {
                        errors
                            .entry(key)
                            .or_insert(format!("{} cannot be traded at the moment.", leg.symbol));
                    }
                    Some(a) if !a.fractionable => {
                        errors.entry(key).or_insert(format!(
                            "{} is not available in fractional shares, so it cannot be bought by dollar amount.",
                            leg.symbol
                        ));
                    }
                    Some(_) => {}
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

/// Checks that the plan's time falls within regular trading hours in New York. Time zones
/// shift against New York during the year (daylight saving starts and ends on different
/// dates), so the time is tried on sample weeks in winter, summer and the weeks when
/// Europe and the US are out of step. Pure: no "today" needed.
fn outside_market_hours(schedule: &Schedule) -> Option<String> {
    let time = crate::domain::schedule::parse_time(&schedule.time)?;
    let zone = jiff::tz::TimeZone::get(&schedule.timezone).ok()?;
    let ny = calendar::new_york();
    let weeks = [
        jiff::civil::date(2026, 1, 5),
        jiff::civil::date(2026, 3, 16),
        jiff::civil::date(2026, 7, 6),
        jiff::civil::date(2026, 10, 26),
    ];
    let sessions = weeks.into_iter().flat_map(|monday| {
        calendar::sessions(monday, monday.saturating_add(jiff::Span::new().days(4)))
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
                local_ny.time().strftime("%H:%M")
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
    /// `pending`, `accepted`, `filled`, `rejected`, `failed`, `missed` or `skipped`.
    pub status: String,
    pub reason: Option<String>,
    pub client_order_id: String,
    pub slot_at: Option<jiff::Timestamp>,
    pub submitted_at: Option<jiff::Timestamp>,
    pub filled_at: Option<jiff::Timestamp>,
}

/// A page of purchase history, newest first; pass `next_before` to get the next page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub purchases: Vec<Purchase>,
    pub next_before: Option<i64>,
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

#[server(prefix = "/api/fn", endpoint = "list_plans")]
pub async fn list_plans() -> Result<Vec<Plan>, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.list_plans(&caller).await)
}

#[server(prefix = "/api/fn", endpoint = "save_plan", input = leptos::server_fn::codec::Json)]
pub async fn save_plan(plan: Plan) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.save_plan(&caller, plan).await)
}

#[server(prefix = "/api/fn", endpoint = "set_plan_status")]
pub async fn set_plan_status(plan_id: String, status: PlanStatus) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.set_plan_status(&caller, plan_id, status).await)
}

/// Buys every leg once now. `request_id` is an idempotency key: a retried call with the
/// same one buys nothing more.
#[server(prefix = "/api/fn", endpoint = "run_plan_now")]
pub async fn run_plan_now(plan_id: String, request_id: String) -> Result<Plan, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.run_now(&caller, plan_id, Some(request_id)).await)
}

#[server(prefix = "/api/fn", endpoint = "purchase_history")]
pub async fn purchase_history(
    plan_id: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<HistoryPage, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(
        ports
            .dca
            .history(&caller, plan_id, before, limit.unwrap_or(50))
            .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "load_account")]
pub async fn load_account() -> Result<AccountSummary, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.account(&caller).await)
}

#[server(prefix = "/api/fn", endpoint = "search_assets")]
pub async fn search_assets(query: String) -> Result<Vec<AssetFacts>, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.dca.search_assets(&caller, query).await)
}
