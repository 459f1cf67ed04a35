//! DCA plans on the wire: the one `Plan` struct the REST API, the server functions and
//! the browser's plan editor share, and the validation both sides run.

use crate::domain::calendar;
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
                if let Some(message) = outside_market_hours(&self.schedule) {
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
                "{} in {} is {} in New York, outside market hours (09:30–16:00). Choose a time within them.",
                schedule.time,
                schedule.timezone,
                local_ny.time().strftime("%H:%M")
            ));
        }
    }
    None
}
