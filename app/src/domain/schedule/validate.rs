//! [`Schedule::validate`]: every field checked, each error keyed by its field.

use std::collections::BTreeMap;

use super::{
    DayOfMonth, Frequency, MAX_DAY_OF_MONTH, MAX_MONTHLY_INTERVAL, MAX_WEEKLY_INTERVAL, Schedule,
    parse_time,
};
use crate::domain::zones;

impl Schedule {
    /// Checks every field, returning user-facing messages keyed by field name
    /// (`"interval"`, `"weekday"`, `"day_of_month"`, `"time"`, `"timezone"`).
    pub fn validate(&self) -> Result<(), BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let mut fail = |field: &str, message: String| {
            errors.insert(field.to_string(), message);
        };

        match self.frequency {
            Frequency::Daily if self.interval != 1 => fail(
                "interval",
                "Daily plans run every trading day, so the interval must be 1.".into(),
            ),
            Frequency::Weekly if !(1..=MAX_WEEKLY_INTERVAL).contains(&self.interval) => fail(
                "interval",
                format!("Choose an interval between 1 and {MAX_WEEKLY_INTERVAL} weeks."),
            ),
            Frequency::Monthly if !(1..=MAX_MONTHLY_INTERVAL).contains(&self.interval) => fail(
                "interval",
                format!("Choose an interval between 1 and {MAX_MONTHLY_INTERVAL} months."),
            ),
            _ => {}
        }

        match (self.frequency, self.weekday) {
            (Frequency::Weekly, None) => {
                fail("weekday", "Choose a weekday, Monday to Friday.".into())
            }
            (Frequency::Daily | Frequency::Monthly, Some(_)) => {
                fail("weekday", "A weekday only applies to weekly plans.".into())
            }
            _ => {}
        }

        match (self.frequency, self.day_of_month) {
            (Frequency::Monthly, None) => fail(
                "day_of_month",
                format!(
                    "Choose a day of the month (1 to {MAX_DAY_OF_MONTH}), or the first or last trading day."
                ),
            ),
            (Frequency::Monthly, Some(DayOfMonth::Day(n)))
                if !(1..=MAX_DAY_OF_MONTH).contains(&n) =>
            {
                fail(
                    "day_of_month",
                    format!(
                        "Day {n} is not available: choose a day from 1 to {MAX_DAY_OF_MONTH}, or \"last\" for the last trading day of the month."
                    ),
                )
            }
            (Frequency::Daily | Frequency::Weekly, Some(_)) => fail(
                "day_of_month",
                "A day of the month only applies to monthly plans.".into(),
            ),
            _ => {}
        }

        if parse_time(&self.time).is_none() {
            fail(
                "time",
                format!(
                    "\"{}\" is not a valid time; use 24-hour HH:MM, such as 10:00 or 15:30.",
                    self.time
                ),
            );
        }

        if self.timezone.is_empty() {
            fail(
                "timezone",
                "Choose a time zone, such as America/New_York.".into(),
            );
        } else if zones::get(&self.timezone).is_none() {
            fail(
                "timezone",
                format!(
                    "\"{}\" is not a known time zone; use an IANA name such as America/New_York or Europe/London.",
                    self.timezone
                ),
            );
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
