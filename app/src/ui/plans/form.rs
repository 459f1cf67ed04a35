//! The plan editor's form as plain values: what the user typed, turned into a [`Plan`]
//! with every problem keyed by field. Pure, so the browser re-runs it on each keystroke
//! and the tests below pin it down.

use crate::api::dca::{Plan, PlanLimits, PlanStatus, PlanStrategy};
use crate::domain::ids::PlanId;
use crate::domain::market::Symbol;
use crate::domain::schedule::{DayOfMonth, Frequency, Schedule, Weekday};
use crate::domain::strategy::dca::{Leg, amount_problem};
use crate::domain::strategy::smart_dca::{MaCondition, SmartDcaConfig, WhenNotMet};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

/// One leg as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LegText {
    pub symbol: String,
    pub amount: String,
}

/// Every field of the editor as typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanForm {
    pub id: Option<String>,
    /// The version of the plan this form was filled from: the server refuses the save if
    /// the plan changed since (another tab, a pause or stop).
    pub updated_at: Option<jiff::Timestamp>,
    pub name: String,
    pub legs: Vec<LegText>,
    /// `daily`, `weekly` or `monthly`.
    pub frequency: String,
    pub interval: String,
    /// `mon` .. `fri`.
    pub weekday: String,
    /// `1` .. `28`, `first` or `last`.
    pub day_of_month: String,
    pub time: String,
    pub timezone: String,
    /// `pure`, `smart`, or `bot`: a signal bot's plan, edited here for its name, capital and
    /// time; its settings stay on the server (see `PlanWire::bot`).
    pub mode: String,
    /// `close_above_sma`, `close_below_sma` or `fast_above_slow`.
    pub condition: String,
    pub period: String,
    pub fast: String,
    pub slow: String,
    /// `skip` or `carry_forward`.
    pub when_not_met: String,
    pub queue_outside_hours: bool,
}

impl PlanForm {
    /// A new plan: one empty leg, weekly on Monday, at the local time of 10:00 in New York
    /// (or the nearest within market hours all year: [`crate::domain::plan::default_time`]);
    /// where none is, purchases queue for the next open.
    pub fn new(timezone: &str) -> Self {
        let today = crate::domain::calendar::new_york()
            .to_datetime(crate::ui::format::now())
            .date();
        let time = crate::domain::plan::default_time(timezone, today);
        Self {
            id: None,
            updated_at: None,
            name: String::new(),
            legs: vec![LegText::default()],
            frequency: "weekly".into(),
            interval: "1".into(),
            weekday: "mon".into(),
            day_of_month: "1".into(),
            // Where no time works all year (not for an unknown zone: its own error shows).
            queue_outside_hours: time.is_none() && crate::domain::zones::get(timezone).is_some(),
            time: time.unwrap_or_else(|| "10:00".into()),
            timezone: timezone.into(),
            mode: "pure".into(),
            condition: "close_above_sma".into(),
            period: "50".into(),
            fast: "20".into(),
            slow: "50".into(),
            when_not_met: "skip".into(),
        }
    }

    /// The form showing an existing plan.
    pub fn from_plan(plan: &Plan) -> Self {
        let mut form = Self::new(&plan.schedule.timezone);
        form.id = plan.id.as_ref().map(|id| id.as_str().to_owned());
        form.updated_at = plan.updated_at;
        form.name = plan.name.clone();
        form.legs = plan
            .legs
            .iter()
            .map(|l| LegText {
                symbol: l.symbol.to_string(),
                amount: l.amount.to_string(),
            })
            .collect();
        let s = &plan.schedule;
        form.frequency = match s.frequency {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
        }
        .into();
        form.interval = s.interval.to_string();
        if let Some(day) = s.weekday {
            form.weekday = day.as_str().into();
        }
        form.day_of_month = match s.day_of_month {
            Some(DayOfMonth::Day(n)) => n.to_string(),
            Some(DayOfMonth::First) => "first".into(),
            Some(DayOfMonth::Last) => "last".into(),
            None => "1".into(),
        };
        form.time = s.time.clone();
        if let PlanStrategy::Discretionary(_) = plan.strategy {
            form.mode = "bot".into();
        }
        if let PlanStrategy::Smart(smart) = &plan.strategy {
            form.mode = "smart".into();
            match smart.condition {
                MaCondition::CloseAboveSma { period } => {
                    form.condition = "close_above_sma".into();
                    form.period = period.to_string();
                }
                MaCondition::CloseBelowSma { period } => {
                    form.condition = "close_below_sma".into();
                    form.period = period.to_string();
                }
                MaCondition::FastAboveSlow { fast, slow } => {
                    form.condition = "fast_above_slow".into();
                    form.fast = fast.to_string();
                    form.slow = slow.to_string();
                }
            }
            form.when_not_met = match smart.when_not_met {
                WhenNotMet::Skip => "skip",
                WhenNotMet::CarryForward => "carry_forward",
            }
            .into();
        }
        form.queue_outside_hours = plan.queue_outside_hours;
        form
    }

    /// The plan the form describes, and every problem with it keyed like
    /// [`Plan::validate`]'s (`name`, `legs[0].amount`, `schedule.time`, `smart.condition`)
    /// by the form's own leg positions. Only a plan without problems may be saved; legs
    /// that could not be read are left out of it. `today` is the New York date.
    pub fn to_plan(
        &self,
        limits: &PlanLimits,
        today: jiff::civil::Date,
    ) -> (Plan, BTreeMap<String, String>) {
        let mut errors = BTreeMap::new();
        let mut legs = Vec::with_capacity(self.legs.len());
        // Which form row each of the plan's legs came from.
        let mut rows = Vec::with_capacity(self.legs.len());
        for (i, leg) in self.legs.iter().enumerate() {
            let symbol = match Symbol::parse(&leg.symbol) {
                Ok(symbol) => Some(symbol),
                Err(message) => {
                    errors.insert(format!("legs[{i}].symbol"), message);
                    None
                }
            };
            let amount = match parse_amount(&leg.amount) {
                Ok(amount) => Some(amount),
                Err(message) => {
                    errors.insert(format!("legs[{i}].amount"), message);
                    None
                }
            };
            match (symbol, amount) {
                (Some(symbol), Some(amount)) => {
                    legs.push(Leg { symbol, amount });
                    rows.push(i);
                }
                // The amount's own rules apply even while the symbol is unreadable.
                (None, Some(amount)) => {
                    if let Some(problem) = amount_problem(amount) {
                        errors.insert(format!("legs[{i}].amount"), problem);
                    }
                }
                _ => {}
            }
        }
        let interval = match self.interval.trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.insert(
                    "schedule.interval".into(),
                    "Enter a whole number, e.g. 2.".into(),
                );
                None
            }
        };
        // The frequency is a select of exactly the three values `parse_frequency` reads;
        // anything else cannot come from the page (and the server refuses it on its own).
        let frequency = parse_frequency(&self.frequency).unwrap_or(Frequency::Weekly);
        let weekday = Weekday::parse(&self.weekday).ok();
        // An unreadable day is left out: the schedule's own rules then name the field.
        let day_of_month = parse_day_of_month(&self.day_of_month).ok();
        let schedule = Schedule {
            frequency,
            interval: if frequency == Frequency::Daily {
                1
            } else {
                interval.unwrap_or(1)
            },
            weekday: (frequency == Frequency::Weekly)
                .then_some(weekday)
                .flatten(),
            day_of_month: (frequency == Frequency::Monthly)
                .then_some(day_of_month)
                .flatten(),
            time: self.time.trim().to_owned(),
            timezone: self.timezone.trim().to_owned(),
            anchor: None,
        };
        let strategy = if self.mode == "smart" {
            match parse_smart(&SmartText {
                condition: &self.condition,
                period: &self.period,
                fast: &self.fast,
                slow: &self.slow,
                when_not_met: &self.when_not_met,
            }) {
                Ok(smart) => PlanStrategy::Smart(smart),
                Err(message) => {
                    errors.insert("smart.condition".into(), message.into());
                    PlanStrategy::Pure
                }
            }
        } else if self.mode == "bot" {
            // Its settings are the server's (not sent: it keeps them).
            PlanStrategy::Discretionary(Default::default())
        } else {
            PlanStrategy::Pure
        };
        let plan = Plan {
            id: self.id.as_deref().and_then(|id| PlanId::parse(id).ok()),
            name: self.name.clone(),
            strategy,
            legs,
            schedule,
            queue_outside_hours: self.queue_outside_hours,
            status: PlanStatus::default(),
            next_run_at: None,
            created_at: None,
            updated_at: self.updated_at,
            paused_reason: None,
        };
        if let Err(found) = plan.validate(limits, None, today) {
            for (key, message) in found {
                errors.entry(leg_key_to_row(&key, &rows)).or_insert(message);
            }
        }
        (plan, errors)
    }
}

/// What a field offered as a choice says when its value is not one of the choices.
const OFFERED: &str = "Choose one of the options offered.";

/// `daily`, `weekly` or `monthly`, as the schedule fields carry it.
pub fn parse_frequency(text: &str) -> Result<Frequency, &'static str> {
    match text.trim() {
        "daily" => Ok(Frequency::Daily),
        "weekly" => Ok(Frequency::Weekly),
        "monthly" => Ok(Frequency::Monthly),
        _ => Err(OFFERED),
    }
}

/// `1` .. `28`, `first` or `last` (the day's range is the schedule's own rule).
pub fn parse_day_of_month(text: &str) -> Result<DayOfMonth, &'static str> {
    match text.trim() {
        "first" => Ok(DayOfMonth::First),
        "last" => Ok(DayOfMonth::Last),
        n => n.parse::<u8>().map(DayOfMonth::Day).map_err(|_| OFFERED),
    }
}

/// The Smart DCA fields as typed (the plan form's and the backtest form's).
pub struct SmartText<'a> {
    /// `close_above_sma`, `close_below_sma` or `fast_above_slow`.
    pub condition: &'a str,
    pub period: &'a str,
    pub fast: &'a str,
    pub slow: &'a str,
    /// `skip` or `carry_forward`.
    pub when_not_met: &'a str,
}

/// The Smart DCA configuration the fields describe, or what is wrong with them.
pub fn parse_smart(fields: &SmartText<'_>) -> Result<SmartDcaConfig, &'static str> {
    const PERIODS: &str = "Enter the moving-average periods as whole numbers of bars.";
    let number = |text: &str| text.trim().parse::<u32>().map_err(|_| PERIODS);
    let condition = match fields.condition {
        "close_above_sma" => MaCondition::CloseAboveSma {
            period: number(fields.period)?,
        },
        "close_below_sma" => MaCondition::CloseBelowSma {
            period: number(fields.period)?,
        },
        "fast_above_slow" => MaCondition::FastAboveSlow {
            fast: number(fields.fast)?,
            slow: number(fields.slow)?,
        },
        _ => return Err(OFFERED),
    };
    let when_not_met = match fields.when_not_met {
        "skip" => WhenNotMet::Skip,
        "carry_forward" => WhenNotMet::CarryForward,
        _ => return Err(OFFERED),
    };
    Ok(SmartDcaConfig {
        condition,
        when_not_met,
    })
}

/// `legs[j].amount` of the plan → `legs[i].amount` of the form row it came from.
fn leg_key_to_row(key: &str, rows: &[usize]) -> String {
    let Some(rest) = key.strip_prefix("legs[") else {
        return key.to_owned();
    };
    let Some((index, tail)) = rest.split_once(']') else {
        return key.to_owned();
    };
    match index.parse::<usize>().ok().and_then(|j| rows.get(j)) {
        Some(row) => format!("legs[{row}]{tail}"),
        None => key.to_owned(),
    }
}

/// `"25"`, `"25.5"`, `"$1,250.00"` → dollars; anything else is explained.
pub fn parse_amount(text: &str) -> Result<Decimal, String> {
    let cleaned: String = text
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    if cleaned.is_empty() {
        return Err("Enter an amount in dollars, e.g. 50.".into());
    }
    let amount = Decimal::from_str(&cleaned)
        .map_err(|_| format!("\"{}\" is not an amount.", text.trim()))?;
    if amount.is_sign_negative() {
        return Err("The amount must be positive.".into());
    }
    Ok(amount)
}

/// The city of an IANA zone, for people: `America/New_York` → `New York`.
pub fn zone_city(zone: &str) -> String {
    zone.rsplit('/').next().unwrap_or(zone).replace('_', " ")
}

/// Days in a month, on average, that a schedule buys on: for "per month" totals.
pub fn purchases_per_month(schedule: &Schedule) -> Decimal {
    let interval = Decimal::from(schedule.interval.max(1));
    match schedule.frequency {
        // 252 trading days a year.
        Frequency::Daily => Decimal::from(21),
        // 52 weeks a year.
        Frequency::Weekly => Decimal::from(52) / Decimal::from(12) / interval,
        Frequency::Monthly => Decimal::ONE / interval,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: jiff::civil::Date = jiff::civil::date(2026, 12, 1);
    use rust_decimal::dec;

    fn filled() -> PlanForm {
        let mut form = PlanForm::new("America/New_York");
        form.name = "Core".into();
        form.legs = vec![
            LegText {
                symbol: "spy".into(),
                amount: "50".into(),
            },
            LegText {
                symbol: "QQQ".into(),
                amount: "$25.00".into(),
            },
        ];
        form
    }

    #[test]
    fn a_complete_form_is_a_valid_plan() {
        let (plan, errors) = filled().to_plan(&PlanLimits::default(), TODAY);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(plan.legs[0].symbol.as_str(), "SPY");
        assert_eq!(plan.legs[1].amount, dec!(25.00));
        assert_eq!(plan.schedule.weekday, Some(Weekday::Mon));
        assert_eq!(plan.schedule.day_of_month, None);
    }

    #[test]
    fn problems_are_keyed_by_the_field_they_belong_to() {
        let mut form = filled();
        form.name = " ".into();
        form.legs[1].amount = "abc".into();
        form.legs[0].amount = "0.50".into();
        form.time = "25:00".into();
        let (_, errors) = form.to_plan(&PlanLimits::default(), TODAY);
        assert_eq!(errors["name"], "Give the plan a name.");
        assert_eq!(errors["legs[1].amount"], "\"abc\" is not an amount.");
        assert_eq!(
            errors["legs[0].amount"],
            "Each amount must be at least $1.00."
        );
        assert!(errors.contains_key("schedule.time"), "{errors:?}");
        // An amount is checked even before its symbol is chosen.
        form.legs[0].symbol = String::new();
        let (_, errors) = form.to_plan(&PlanLimits::default(), TODAY);
        assert_eq!(
            errors["legs[0].amount"],
            "Each amount must be at least $1.00."
        );
        assert_eq!(errors["legs[0].symbol"], "Enter a symbol, e.g. SPY.");
    }

    #[test]
    fn errors_of_later_legs_keep_their_row_when_an_earlier_one_is_unreadable() {
        let mut form = filled();
        form.legs[0].amount = "?".into();
        form.legs.push(LegText {
            symbol: "QQQ".into(),
            amount: "5".into(),
        });
        let (_, errors) = form.to_plan(&PlanLimits::default(), TODAY);
        assert!(errors.contains_key("legs[0].amount"));
        assert_eq!(errors["legs[2].symbol"], "QQQ is already in this plan.");
    }

    #[test]
    fn smart_mode_needs_readable_periods() {
        let mut form = filled();
        form.mode = "smart".into();
        form.condition = "fast_above_slow".into();
        form.fast = "50".into();
        form.slow = "20".into();
        let (_, errors) = form.to_plan(&PlanLimits::default(), TODAY);
        assert!(errors["smart.condition"].contains("shorter than the slow"));
        form.fast = "x".into();
        let (_, errors) = form.to_plan(&PlanLimits::default(), TODAY);
        assert!(errors["smart.condition"].contains("whole numbers"));
    }

    #[test]
    fn unknown_choices_are_named_not_replaced_by_a_default() {
        assert_eq!(parse_frequency("monthly"), Ok(Frequency::Monthly));
        assert!(parse_frequency("hourly").is_err());
        assert_eq!(parse_day_of_month("last"), Ok(DayOfMonth::Last));
        assert_eq!(parse_day_of_month(" 12 "), Ok(DayOfMonth::Day(12)));
        assert!(parse_day_of_month("tuesday").is_err());
        let smart = |condition, when_not_met| {
            parse_smart(&SmartText {
                condition,
                period: "50",
                fast: "20",
                slow: "50",
                when_not_met,
            })
        };
        assert_eq!(
            smart("fast_above_slow", "carry_forward"),
            Ok(SmartDcaConfig {
                condition: MaCondition::FastAboveSlow { fast: 20, slow: 50 },
                when_not_met: WhenNotMet::CarryForward,
            })
        );
        assert!(
            smart("rsi_below_30", "skip")
                .unwrap_err()
                .contains("options")
        );
        assert!(
            smart("close_above_sma", "later")
                .unwrap_err()
                .contains("options")
        );
    }

    #[test]
    fn a_saved_plan_round_trips_through_the_form() {
        let mut form = filled();
        form.frequency = "monthly".into();
        form.day_of_month = "last".into();
        form.mode = "smart".into();
        form.when_not_met = "carry_forward".into();
        let (plan, errors) = form.to_plan(&PlanLimits::default(), TODAY);
        assert!(errors.is_empty(), "{errors:?}");
        let again = PlanForm::from_plan(&plan)
            .to_plan(&PlanLimits::default(), TODAY)
            .0;
        assert_eq!(again, plan);
    }

    #[test]
    fn amounts_and_zones_read_like_people_write_them() {
        assert_eq!(parse_amount("$1,250.5"), Ok(dec!(1250.5)));
        assert!(parse_amount("-3").is_err());
        assert!(parse_amount("").is_err());
        assert_eq!(zone_city("America/New_York"), "New York");
        assert_eq!(zone_city("UTC"), "UTC");
    }

    #[test]
    fn monthly_totals_follow_the_cadence() {
        let (plan, _) = filled().to_plan(&PlanLimits::default(), TODAY);
        let per_month = purchases_per_month(&plan.schedule);
        assert_eq!(per_month.round_dp(2), dec!(4.33));
    }

    proptest::proptest! {
        #[test]
        fn any_amount_text_is_answered_without_panicking(
            text in proptest::prop_oneof![
                proptest::prelude::any::<String>(),
                "-?[0-9]{1,30}(\\.[0-9]{0,30})?",
            ]
        ) {
            let _ = parse_amount(&text);
        }
    }
}
