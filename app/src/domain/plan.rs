//! The plan: a user's recurring purchase (`Plan`, the one struct the REST API, the server
//! functions, the editor and the scheduler share), how it decides what to buy
//! (`PlanStrategy`), its status and the transitions it allows, the limits an operator sets,
//! and the validation the browser and the server both run before anything is saved. Its
//! JSON form (`PlanWire`) keeps `mode` and the strategy's settings side by side.

use super::calendar;
use super::ids::PlanId;
use super::market::Symbol;
use super::schedule::Schedule;
use super::strategy::dca::{Leg, validate_legs};
use super::strategy::ma_crossover::MaCrossoverConfig;
use super::strategy::smart_dca::SmartDcaConfig;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a plan decides what to buy on a slot, with the settings that decision needs. The
/// editor, the scheduler and the backtester all read this one value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlanStrategy {
    /// Buy every leg on every slot.
    #[default]
    Pure,
    /// Buy a leg only when its moving-average condition holds (or carry it forward).
    Smart(SmartDcaConfig),
    /// The MA-crossover bot (a signal bot), trading the plan's one leg with the leg's
    /// amount as its capital allocation, evaluated once per trading day after the close:
    /// the same strategy the backtester runs.
    Discretionary(MaCrossoverConfig),
}

impl PlanStrategy {
    pub const fn mode(&self) -> PlanMode {
        match self {
            PlanStrategy::Pure => PlanMode::Pure,
            PlanStrategy::Smart(_) => PlanMode::Smart,
            PlanStrategy::Discretionary(_) => PlanMode::Discretionary,
        }
    }
}

/// The strategy's name on the wire (`"mode"`), beside its settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    #[default]
    Pure,
    Smart,
    Discretionary,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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

    /// Whether a plan in this status may go to `to`: a stopped plan is finished for good
    /// (stopping it again changes nothing); active and paused plans go anywhere.
    pub fn check_transition(self, to: PlanStatus) -> Result<(), &'static str> {
        match (self, to) {
            (PlanStatus::Stopped, PlanStatus::Stopped) => Ok(()),
            (PlanStatus::Stopped, _) => {
                Err("A stopped plan cannot be started again; create a new one.")
            }
            _ => Ok(()),
        }
    }

    /// Whether a plan in this status may have its settings changed.
    pub fn check_edit(self) -> Result<(), &'static str> {
        match self {
            PlanStatus::Stopped => Err("A stopped plan cannot be changed."),
            PlanStatus::Active | PlanStatus::Paused => Ok(()),
        }
    }

    /// Whether a plan in this status may buy on request ("buy now").
    pub fn check_buy_now(self) -> Result<(), &'static str> {
        match self {
            PlanStatus::Stopped => Err("A stopped plan cannot buy."),
            PlanStatus::Active | PlanStatus::Paused => Ok(()),
        }
    }
}

/// A recurring purchase plan (the server's fields `id`, `status`, `next_run_at`,
/// `created_at` and `updated_at` are `None`/default until it is saved). Its JSON is
/// [`PlanWire`]'s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(into = "PlanWire", try_from = "PlanWire")]
pub struct Plan {
    pub id: Option<PlanId>,
    pub name: String,
    pub strategy: PlanStrategy,
    pub legs: Vec<Leg>,
    pub schedule: Schedule,
    /// Accept a time outside regular hours: such purchases queue for the next open.
    pub queue_outside_hours: bool,
    pub status: PlanStatus,
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub next_run_at: Option<jiff::Timestamp>,
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub created_at: Option<jiff::Timestamp>,
    /// The version: a save naming an older one is refused (the plan changed since).
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub updated_at: Option<jiff::Timestamp>,
    /// Why the server paused it (the user's tier no longer allows it); `None` when the
    /// user paused it or it runs.
    pub paused_reason: Option<String>,
}

/// A plan as JSON, in and out: the strategy is `mode` with its settings beside it
/// (`smart` for Smart DCA). On input `id` absent means "create", `updated_at` is the
/// version the edit is based on, and `status`, `next_run_at` and `created_at` are the
/// server's and ignored. [`PlanWire::validate`] turns it into a [`Plan`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PlanWire {
    #[serde(default)]
    pub id: Option<PlanId>,
    pub name: String,
    #[serde(default)]
    pub mode: PlanMode,
    pub legs: Vec<Leg>,
    pub schedule: Schedule,
    #[serde(default)]
    pub smart: Option<SmartDcaConfig>,
    /// A signal bot's settings (`mode: "discretionary"`), in the backtest report's form;
    /// absent keys take the defaults (5/20). Absent altogether, a new bot is the default
    /// bot and an edited bot keeps its settings. The browser never reads or sends them
    /// (they would cost every page that reads plans ~9 KB of its bundle): its pages edit a
    /// bot's name, capital and time, and the backtest page creates bots through a server
    /// function of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "hydrate", serde(skip))]
    pub bot: Option<MaCrossoverConfig>,
    #[serde(default)]
    pub queue_outside_hours: bool,
    #[serde(default)]
    pub status: PlanStatus,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub next_run_at: Option<jiff::Timestamp>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub created_at: Option<jiff::Timestamp>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub updated_at: Option<jiff::Timestamp>,
    /// The server's: why it paused the plan (ignored on input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
}

impl From<Plan> for PlanWire {
    fn from(plan: Plan) -> Self {
        Self {
            id: plan.id,
            name: plan.name,
            mode: plan.strategy.mode(),
            legs: plan.legs,
            schedule: plan.schedule,
            smart: match plan.strategy {
                PlanStrategy::Smart(smart) => Some(smart),
                _ => None,
            },
            bot: match plan.strategy {
                PlanStrategy::Discretionary(bot) => Some(bot),
                _ => None,
            },
            queue_outside_hours: plan.queue_outside_hours,
            status: plan.status,
            next_run_at: plan.next_run_at,
            created_at: plan.created_at,
            updated_at: plan.updated_at,
            paused_reason: plan.paused_reason,
        }
    }
}

/// What a Smart DCA plan without its condition is told.
const SMART_NEEDS_CONDITION: &str = "Choose the moving-average condition for Smart DCA.";

impl PlanWire {
    /// The strategy `mode` and its settings describe, or what is missing (keyed by field).
    /// A bot without settings is the default bot.
    fn strategy(&self) -> Result<PlanStrategy, (&'static str, &'static str)> {
        match (self.mode, self.smart) {
            (PlanMode::Pure, _) => Ok(PlanStrategy::Pure),
            (PlanMode::Smart, Some(smart)) => Ok(PlanStrategy::Smart(smart)),
            (PlanMode::Smart, None) => Err(("smart", SMART_NEEDS_CONDITION)),
            (PlanMode::Discretionary, _) => {
                Ok(PlanStrategy::Discretionary(self.bot.unwrap_or_default()))
            }
        }
    }

    fn with_strategy(self, strategy: PlanStrategy) -> Plan {
        Plan {
            id: self.id,
            name: self.name,
            strategy,
            legs: self.legs,
            schedule: self.schedule,
            queue_outside_hours: self.queue_outside_hours,
            status: self.status,
            next_run_at: self.next_run_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            paused_reason: self.paused_reason,
        }
    }

    /// The plan this JSON describes, or every problem with it keyed by field, as
    /// [`Plan::validate`] finds them plus a Smart DCA plan's missing condition.
    pub fn validate(
        self,
        limits: &PlanLimits,
        assets: Option<&[AssetFacts]>,
        today: Date,
    ) -> Result<Plan, BTreeMap<String, String>> {
        let (strategy, missing) = match self.strategy() {
            Ok(strategy) => (strategy, None),
            Err(problem) => (PlanStrategy::Pure, Some(problem)),
        };
        let plan = self.with_strategy(strategy);
        let mut errors = plan
            .validate(limits, assets, today)
            .err()
            .unwrap_or_default();
        if let Some((field, message)) = missing {
            errors.insert(field.into(), message.into());
        }
        if errors.is_empty() {
            Ok(plan)
        } else {
            Err(errors)
        }
    }
}

impl TryFrom<PlanWire> for Plan {
    type Error = &'static str;

    fn try_from(wire: PlanWire) -> Result<Self, Self::Error> {
        let strategy = wire.strategy().map_err(|(_, message)| message)?;
        Ok(wire.with_strategy(strategy))
    }
}

/// What the broker says about a symbol, for validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AssetFacts {
    pub symbol: Symbol,
    pub name: String,
    pub tradable: bool,
    pub fractionable: bool,
}

/// Limits an operator can configure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
    /// before it has loaded) the symbol checks are left to the server. `today` (a New York
    /// date) starts the year over which the time must fall within market hours.
    pub fn validate(
        &self,
        limits: &PlanLimits,
        assets: Option<&[AssetFacts]>,
        today: Date,
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
            Ok(()) if self.is_bot() => {
                for (key, message) in bot_schedule_problems(&self.schedule, today) {
                    errors.insert(key.into(), message);
                }
            }
            Ok(()) => {
                if let Some(message) = outside_market_hours(&self.schedule, today)
                    .filter(|_| !self.queue_outside_hours)
                {
                    errors.insert("schedule.time".into(), message);
                }
            }
        }
        match &self.strategy {
            PlanStrategy::Pure => {}
            PlanStrategy::Smart(smart) => {
                if let Err(e) = smart.validate() {
                    errors.extend(e);
                }
            }
            #[cfg_attr(feature = "hydrate", allow(unused_variables))]
            PlanStrategy::Discretionary(bot) => {
                if self.legs.len() > 1 {
                    errors.insert(
                        "legs".into(),
                        "A bot trades one symbol: keep one, and make another bot for the next."
                            .into(),
                    );
                }
                // The browser holds no bot settings to check (see `PlanWire::bot`).
                #[cfg(not(feature = "hydrate"))]
                if let Err(e) = bot.validate() {
                    errors.extend(e.into_iter().map(|(k, v)| (format!("bot.{k}"), v)));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl Plan {
    /// Whether this plan is a signal bot.
    pub const fn is_bot(&self) -> bool {
        matches!(self.strategy, PlanStrategy::Discretionary(_))
    }

    /// The plan's next `n` runs after `after`: the schedule's slots for a DCA plan; for a
    /// bot, its time on each trading day (after that day's close, which a bot's schedule
    /// is held to).
    pub fn next_runs(
        &self,
        after: jiff::Timestamp,
        n: usize,
    ) -> Result<Vec<jiff::Timestamp>, super::schedule::ScheduleError> {
        if !self.is_bot() {
            return self.schedule.next_slots(after, n);
        }
        self.schedule
            .validate()
            .map_err(super::schedule::ScheduleError::Invalid)?;
        let (Some(time), Some(zone)) = (
            super::schedule::parse_time(&self.schedule.time),
            super::zones::get(&self.schedule.timezone),
        ) else {
            return Ok(Vec::new());
        };
        let from = zone
            .to_datetime(after)
            .date()
            .yesterday()
            .unwrap_or(calendar::new_york().to_datetime(after).date());
        let year_on = jiff::Span::new()
            .try_days(3660)
            .map_or(from, |span| from.saturating_add(span));
        Ok(calendar::sessions(from, year_on)
            .filter_map(|session| {
                let at = zone.to_timestamp(session.date.to_datetime(time)).ok()?;
                (at > after && at >= session.close_at()).then_some(at)
            })
            .take(n)
            .collect())
    }
}

/// What a bot's schedule must be: every trading day, at a time after the close on every
/// trading day of the year from `today` (a New York date), the same New York day (so the
/// day's bar is final and the order goes out for the next open).
fn bot_schedule_problems(schedule: &Schedule, today: Date) -> Vec<(&'static str, String)> {
    use super::schedule::Frequency;
    let mut problems = Vec::new();
    if schedule.frequency != Frequency::Daily || schedule.interval != 1 {
        problems.push((
            "schedule.frequency",
            "A bot looks at every trading day: choose daily, every day.".to_owned(),
        ));
    }
    let (Some(time), Some(zone)) = (
        super::schedule::parse_time(&schedule.time),
        super::zones::get(&schedule.timezone),
    ) else {
        return problems;
    };
    let ny = calendar::new_york();
    let year_on = jiff::Span::new()
        .try_days(366)
        .map_or(today, |span| today.saturating_add(span));
    for session in calendar::sessions(today, year_on) {
        let Ok(at) = zone.to_timestamp(session.date.to_datetime(time)) else {
            continue;
        };
        let local_ny = ny.to_datetime(at);
        if local_ny.date() != session.date || at < session.close_at() {
            problems.push((
                "schedule.time",
                format!(
                    "A bot decides on the day's closing prices: {} in {} is {:02}:{:02} in New \
                     York, before the 16:00 close or after midnight. Choose a time after the close, \
                     such as 16:10 New York time.",
                    schedule.time,
                    schedule.timezone,
                    local_ny.hour(),
                    local_ny.minute()
                ),
            ));
            break;
        }
    }
    problems
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

/// `time` (`HH:MM`) in `zone` on the New York date `on`, as New York's (the exchange's)
/// `HH:MM`; `None` for a bad time or zone, and for New York itself (nothing to add).
pub fn exchange_time(time: &str, zone: &str, on: Date) -> Option<String> {
    let time = crate::domain::schedule::parse_time(time)?;
    let tz = crate::domain::zones::get(zone)?;
    if zone == crate::domain::zones::NEW_YORK {
        return None;
    }
    let at = tz.to_timestamp(on.to_datetime(time)).ok()?;
    let ny = calendar::new_york().to_datetime(at);
    Some(format!("{:02}:{:02}", ny.hour(), ny.minute()))
}

/// A new plan's time in `zone`: the local time of 10:00 in New York today, or the local time
/// nearest to it (in 5-minute steps) that stays within market hours on every trading day of
/// the year from `today` (a New York date), so a newcomer far from New York starts with a
/// plan that saves as it is. "10:00" for New York, "16:00" for Berlin, "15:00" for UTC in
/// winter, "23:55" for Tokyo (09:55 or 10:55 in New York). `None` for an unknown zone, or
/// one where no local time on the session's own date is within the hours (Sydney: its
/// mornings are New York's previous afternoon).
pub fn default_time(zone: &str, today: Date) -> Option<String> {
    let tz = crate::domain::zones::get(zone)?;
    let ny = calendar::new_york();
    let ten = ny
        .to_timestamp(today.to_datetime(jiff::civil::time(10, 0, 0, 0)))
        .ok()?;
    let local = tz.to_datetime(ten).time();
    let start = i32::from(local.hour()) * 60 + i32::from(local.minute());
    let works = |minutes: i32| {
        let minutes = minutes.rem_euclid(24 * 60);
        let text = format!("{:02}:{:02}", minutes / 60, minutes % 60);
        let schedule = Schedule {
            time: text.clone(),
            timezone: zone.to_owned(),
            ..Schedule::after_the_close()
        };
        outside_market_hours(&schedule, today)
            .is_none()
            .then_some(text)
    };
    // 0, +5, −5, +10, −10, … ±180 minutes: the nearest first, the later of two as near.
    (0..=72).find_map(|step: i32| {
        let k = (step + 1) / 2;
        let offset = k * 5 * if step % 2 == 1 { 1 } else { -1 };
        works(start + offset)
    })
}

/// Checks that the plan's time falls within regular trading hours (09:30–16:00) in New York
/// on every trading day of the year from `today` (a New York date). Time zones shift
/// against New York during the year (daylight saving starts and ends on different dates,
/// or not at all), so each session of that year is tried with the offsets both zones have
/// on it; an early close is not held against the plan (its purchase moves to the last
/// minute of that session, as the schedule's rules say).
fn outside_market_hours(schedule: &Schedule, today: Date) -> Option<String> {
    let time = crate::domain::schedule::parse_time(&schedule.time)?;
    let zone = crate::domain::zones::get(&schedule.timezone)?;
    let ny = calendar::new_york();
    let year_on = jiff::Span::new()
        .try_days(366)
        .map_or(today, |span| today.saturating_add(span));
    for session in calendar::sessions(today, year_on) {
        let instant = zone.to_timestamp(session.date.to_datetime(time)).ok()?;
        let local_ny = ny.to_datetime(instant);
        if local_ny.date() != session.date
            || local_ny.time() < calendar::REGULAR_OPEN
            || local_ny.time() >= calendar::REGULAR_CLOSE
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

#[cfg(test)]
mod validation_never_panics {
    use super::*;
    use proptest::prelude::*;

    const TODAY: Date = jiff::civil::date(2026, 12, 1);

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
        let plan: PlanWire = serde_json::from_value(json).unwrap();
        let errors = plan
            .validate(&PlanLimits::default(), None, TODAY)
            .unwrap_err();
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
            if let Ok(plan) = serde_json::from_value::<PlanWire>(json) {
                let legs = plan.legs.clone();
                let _ = plan.validate(&PlanLimits::default(), None, TODAY);
                let _ = crate::domain::strategy::smart_dca::cap_carried(
                    &legs,
                    &BTreeMap::new(),
                    PlanLimits::default().max_per_slot,
                );
            }
        }
    }
}

#[cfg(test)]
mod rules {
    use super::*;

    #[test]
    fn a_stopped_plan_is_finished_for_good() {
        use PlanStatus::*;
        for from in [Active, Paused] {
            for to in [Active, Paused, Stopped] {
                assert_eq!(from.check_transition(to), Ok(()), "{from:?} → {to:?}");
            }
            assert_eq!(from.check_edit(), Ok(()));
            assert_eq!(from.check_buy_now(), Ok(()));
        }
        assert!(Stopped.check_transition(Active).is_err());
        assert!(Stopped.check_transition(Paused).is_err());
        assert_eq!(Stopped.check_transition(Stopped), Ok(()));
        assert!(Stopped.check_edit().is_err());
        assert!(Stopped.check_buy_now().is_err());
    }

    fn wire(mode: &str, smart: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"name": "p", "mode": mode, "smart": smart,
            "legs": [{"symbol": "SPY", "amount": "50"}],
            "schedule": {"frequency": "weekly", "interval": 1, "weekday": "mon",
                         "day_of_month": null, "time": "10:00", "timezone": "America/New_York"}})
    }

    #[test]
    fn the_strategy_travels_as_mode_with_its_settings_beside_it() {
        let smart = SmartDcaConfig::default();
        let json = wire("smart", serde_json::to_value(smart).unwrap());
        let plan: Plan = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(plan.strategy, PlanStrategy::Smart(smart));
        let back = serde_json::to_value(&plan).unwrap();
        assert_eq!(back["mode"], "smart");
        assert_eq!(back["smart"], json["smart"]);

        let pure: Plan = serde_json::from_value(wire("pure", json["smart"].clone())).unwrap();
        assert_eq!(pure.strategy, PlanStrategy::Pure);
        let back = serde_json::to_value(&pure).unwrap();
        assert_eq!(
            (&back["mode"], &back["smart"]),
            (&"pure".into(), &serde_json::Value::Null)
        );
    }

    #[test]
    fn smart_dca_without_its_condition_is_a_field_error_beside_the_others() {
        let mut json = wire("smart", serde_json::Value::Null);
        json["name"] = "".into();
        let input: PlanWire = serde_json::from_value(json.clone()).unwrap();
        let errors = input
            .validate(&PlanLimits::default(), None, jiff::civil::date(2026, 12, 1))
            .unwrap_err();
        assert!(
            errors["smart"].contains("moving-average condition"),
            "{errors:?}"
        );
        assert!(errors.contains_key("name"), "{errors:?}");
        // A plan (what the server answers with) always has its strategy's settings.
        assert!(serde_json::from_value::<Plan>(json).is_err());
    }

    fn bot_wire(bot: serde_json::Value) -> serde_json::Value {
        let mut json = wire("discretionary", serde_json::Value::Null);
        json["bot"] = bot;
        json["schedule"] = serde_json::json!({"frequency": "daily", "interval": 1,
            "time": "16:10", "timezone": "America/New_York"});
        json
    }

    fn check(json: serde_json::Value) -> Result<Plan, BTreeMap<String, String>> {
        serde_json::from_value::<PlanWire>(json).unwrap().validate(
            &PlanLimits::default(),
            None,
            jiff::civil::date(2026, 12, 1),
        )
    }

    #[test]
    fn a_bot_is_a_plan_with_its_settings_beside_the_mode() {
        // Absent keys take the defaults.
        let plan = check(bot_wire(serde_json::json!({"slow": 30}))).unwrap();
        let bot = MaCrossoverConfig {
            slow: 30,
            ..MaCrossoverConfig::default()
        };
        assert_eq!(plan.strategy, PlanStrategy::Discretionary(bot));
        let back = serde_json::to_value(&plan).unwrap();
        assert_eq!(back["mode"], "discretionary");
        assert_eq!(back["bot"]["slow"], 30);
        assert_eq!(back["bot"]["fast"], 5);
        let again: Plan = serde_json::from_value(back).unwrap();
        assert_eq!(again.strategy, plan.strategy);
        // Without settings: the default bot.
        let plan = check(bot_wire(serde_json::Value::Null)).unwrap();
        assert_eq!(
            plan.strategy,
            PlanStrategy::Discretionary(MaCrossoverConfig::default())
        );
        assert!(
            serde_json::to_value(pure_plan())
                .unwrap()
                .get("bot")
                .is_none()
        );
    }

    fn pure_plan() -> Plan {
        serde_json::from_value(wire("pure", serde_json::Value::Null)).unwrap()
    }

    #[test]
    fn a_bot_trades_one_symbol_after_the_close_every_day_with_valid_settings() {
        let mut json = bot_wire(serde_json::json!({"fast": 20, "slow": 5}));
        json["legs"] = serde_json::json!([{"symbol": "SPY", "amount": "500"},
                                          {"symbol": "QQQ", "amount": "500"}]);
        json["schedule"]["time"] = "15:00".into();
        let errors = check(json).unwrap_err();
        assert!(errors["legs"].contains("one symbol"), "{errors:?}");
        assert!(errors["bot.fast"].contains("below the slow"), "{errors:?}");
        assert!(
            errors["schedule.time"].contains("after the close"),
            "{errors:?}"
        );
        // In another zone the time is read in New York: 21:30 in Berlin is 15:30 there;
        // 22:10 is 16:10 (or 17:10 in the weeks only New York has moved its clocks).
        let mut json = bot_wire(serde_json::Value::Null);
        json["schedule"]["timezone"] = "Europe/Berlin".into();
        json["schedule"]["time"] = "21:30".into();
        let errors = check(json.clone()).unwrap_err();
        assert!(errors["schedule.time"].contains("15:30"), "{errors:?}");
        json["schedule"]["time"] = "22:10".into();
        check(json).unwrap();
        let mut json = bot_wire(serde_json::Value::Null);
        json["schedule"]["frequency"] = "weekly".into();
        json["schedule"]["weekday"] = "mon".into();
        let errors = check(json).unwrap_err();
        assert!(errors["schedule.frequency"].contains("daily"), "{errors:?}");
    }

    #[test]
    fn a_bot_runs_after_each_close_even_an_early_one() {
        let plan = check(bot_wire(serde_json::Value::Null)).unwrap();
        // Wednesday 2026-11-25, 12:00 New York: that day, Thanksgiving is closed, Friday
        // closes at 13:00, then Monday.
        let after: jiff::Timestamp = "2026-11-25T17:00:00Z".parse().unwrap();
        let runs: Vec<String> = plan
            .next_runs(after, 3)
            .unwrap()
            .iter()
            .map(|t| calendar::new_york().to_datetime(*t).to_string())
            .collect();
        assert_eq!(
            runs,
            [
                "2026-11-25T16:10:00",
                "2026-11-27T16:10:00",
                "2026-11-30T16:10:00"
            ]
        );
        // A DCA plan's slots stay the schedule's.
        let pure = pure_plan();
        assert_eq!(
            pure.next_runs(after, 2).unwrap(),
            pure.schedule.next_slots(after, 2).unwrap()
        );
    }

    fn at(time: &str, zone: &str) -> Schedule {
        Schedule {
            frequency: crate::domain::schedule::Frequency::Weekly,
            interval: 1,
            weekday: Some(crate::domain::schedule::Weekday::Mon),
            day_of_month: None,
            time: time.into(),
            timezone: zone.into(),
            anchor: None,
        }
    }

    #[test]
    fn market_hours_hold_on_every_day_of_the_year_ahead() {
        let today = jiff::civil::date(2027, 2, 1);
        assert_eq!(
            outside_market_hours(&at("10:00", "America/New_York"), today),
            None
        );
        assert_eq!(
            outside_market_hours(&at("15:59", "America/New_York"), today),
            None
        );
        // An early close (13:00) does not count against a 15:00 plan.
        assert_eq!(
            outside_market_hours(&at("15:00", "America/New_York"), today),
            None
        );
        assert!(outside_market_hours(&at("09:29", "America/New_York"), today).is_some());
        assert!(outside_market_hours(&at("16:00", "America/New_York"), today).is_some());
        // London is 5 hours ahead of New York, but 4 for a few weeks in March and
        // October/November: 14:40 is 09:40 most of the year, and 10:40 then; 20:40 is
        // 15:40, and 16:40 in those weeks.
        assert_eq!(
            outside_market_hours(&at("14:40", "Europe/London"), today),
            None
        );
        let message = outside_market_hours(&at("20:40", "Europe/London"), today).unwrap();
        assert!(message.contains("16:40 in New York"), "{message}");
        // Tokyo keeps no daylight saving: 23:30 there is 09:30 New York in winter and 10:30
        // in summer; 23:00 is 09:00 in winter.
        assert_eq!(
            outside_market_hours(&at("23:30", "Asia/Tokyo"), today),
            None
        );
        let message = outside_market_hours(&at("23:00", "Asia/Tokyo"), today).unwrap();
        assert!(message.contains("09:00 in New York"), "{message}");
    }
}

#[cfg(test)]
mod default_times {
    use super::default_time;

    #[test]
    fn a_new_plan_starts_inside_market_hours_wherever_the_browser_is() {
        let winter = jiff::civil::date(2026, 12, 7);
        for (zone, time) in [
            ("America/New_York", "10:00"),
            ("Europe/Berlin", "16:00"),
            ("UTC", "15:00"),
            ("Asia/Tokyo", "23:55"),
            ("Asia/Kolkata", "20:30"),
            ("America/Los_Angeles", "07:00"),
        ] {
            assert_eq!(default_time(zone, winter).as_deref(), Some(time), "{zone}");
        }
        // In New York's summer its 10:00 is 14:00 UTC, which would be 09:00 in winter: the
        // nearest time that works all year is 14:30.
        assert_eq!(
            default_time("UTC", jiff::civil::date(2026, 7, 6)).as_deref(),
            Some("14:30")
        );
        assert_eq!(default_time("Australia/Sydney", winter), None);
        assert_eq!(
            super::exchange_time("16:00", "Europe/Berlin", winter).as_deref(),
            Some("10:00")
        );
        assert_eq!(
            super::exchange_time("23:55", "Asia/Tokyo", winter).as_deref(),
            Some("09:55")
        );
        assert_eq!(
            super::exchange_time("10:00", "America/New_York", winter),
            None
        );
        assert_eq!(super::exchange_time("25:00", "UTC", winter), None);
        assert_eq!(default_time("Mars/Olympus", winter), None);
    }
}
