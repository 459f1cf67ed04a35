//! Recurring purchase schedules: the plan a user configures ("every Monday at
//! 10:00 in my time zone") and the exchange instants it turns into.
//!
//! [`Schedule`] is the wire and config type shared by the browser and the
//! server. Its JSON shape is fixed:
//!
//! ```json
//! {"frequency":"weekly","interval":1,"weekday":"mon","day_of_month":null,
//!  "time":"10:00","timezone":"America/New_York"}
//! ```
//!
//! plus an optional `"anchor":"YYYY-MM-DD"`, omitted when absent. `time` and
//! `timezone` stay strings on the wire so that [`Schedule::validate`] can report
//! a bad value against its field instead of failing the whole document.
//!
//! # Which days are candidates
//!
//! Candidate dates are dates in the user's `timezone`:
//! - `daily`: every date (`interval` must be 1). Dates whose instant is not on
//!   a trading day roll onto the next one and are then dropped as duplicates, so
//!   the result is one slot per trading day.
//! - `weekly`: every `weekday` in the weeks (Monday to Sunday) that are a
//!   multiple of `interval` weeks away from the anchor's week.
//! - `monthly` on day N (1..=28): that day of the months that are a multiple of
//!   `interval` months away from the anchor's month.
//! - `monthly` on `"first"` / `"last"`: the first / last trading day of the
//!   month, taken from the exchange calendar; the local date used is the one
//!   whose `time` falls on that New York date.
//!
//! Without an `anchor`, weeks count from the week of Monday 1970-01-05 and
//! months from January 1970, so every-2-weeks plans without an anchor all share
//! the same weeks. Only the anchor's week or month matters, not its day.
//!
//! # From candidate date to execution instant
//!
//! 1. The nominal slot is the candidate date at `time` in `timezone`. A time in
//!    a DST gap moves forward by the length of the gap; a time in a fold takes
//!    the earlier instant (jiff's "compatible" disambiguation).
//! 2. The slot belongs to the trading session of its New York date. If that
//!    date has no session (weekend, holiday, closure), the local date moves
//!    forward one day at a time, keeping the local wall-clock time, until it
//!    does.
//! 3. A slot at or after that session's close (for example 14:00 New York on a
//!    13:00 early close) moves to the last tradable minute, close − 1 minute. A
//!    slot before the open stays as it is: the order queues for the open.
//! 4. Slots are strictly increasing: a slot that, after rolling, equals or
//!    precedes an earlier slot is skipped rather than executed twice.
//!
//! For a user far east of New York this means the slot can sit on the previous
//! New York date: 09:00 in Tokyo is 19:00 or 20:00 in New York the day before,
//! past the close, so it executes at 15:59 New York on that earlier date. 23:00
//! in Tokyo is 09:00 or 10:00 New York on the same date.
//!
//! The sequence of slots is a pure function of the schedule: asking again from
//! any returned slot continues the same sequence.
//!
//! The code is split by concern: [`Schedule::validate`] in `validate.rs`, the slot
//! sequence ([`Schedule::next_slots`] over a validated `Recurrence`) in `slots.rs`, and
//! their tests in `tests.rs`.

mod slots;
#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::{Date, Time, date};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::calendar;

/// Week counting for `interval > 1` weekly plans without an anchor starts here.
pub const DEFAULT_WEEK_ANCHOR: Date = date(1970, 1, 5);
/// Month counting for `interval > 1` monthly plans without an anchor starts here.
pub const DEFAULT_MONTH_ANCHOR: Date = date(1970, 1, 1);
pub const MAX_WEEKLY_INTERVAL: u32 = 52;
pub const MAX_MONTHLY_INTERVAL: u32 = 12;
/// Later days do not exist in every month; "last" covers the month end.
pub const MAX_DAY_OF_MONTH: u8 = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

/// A trading weekday; serialized as `"mon"` .. `"fri"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
}

impl Weekday {
    pub const ALL: [Weekday; 5] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];

    /// The wire form, `"mon"` .. `"fri"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
        }
    }

    /// The English name, `"Monday"` .. `"Friday"`.
    pub const fn name(self) -> &'static str {
        match self {
            Weekday::Mon => "Monday",
            Weekday::Tue => "Tuesday",
            Weekday::Wed => "Wednesday",
            Weekday::Thu => "Thursday",
            Weekday::Fri => "Friday",
        }
    }

    pub const fn to_jiff(self) -> jiff::civil::Weekday {
        match self {
            Weekday::Mon => jiff::civil::Weekday::Monday,
            Weekday::Tue => jiff::civil::Weekday::Tuesday,
            Weekday::Wed => jiff::civil::Weekday::Wednesday,
            Weekday::Thu => jiff::civil::Weekday::Thursday,
            Weekday::Fri => jiff::civil::Weekday::Friday,
        }
    }

    /// Parses the wire form, with a message fit for a user on failure.
    pub fn parse(s: &str) -> Result<Weekday, String> {
        match s {
            "mon" => Ok(Weekday::Mon),
            "tue" => Ok(Weekday::Tue),
            "wed" => Ok(Weekday::Wed),
            "thu" => Ok(Weekday::Thu),
            "fri" => Ok(Weekday::Fri),
            "sat" | "sun" => Err(format!(
                "weekday \"{s}\" is not a trading day; choose one of mon, tue, wed, thu, fri"
            )),
            _ => Err(format!(
                "unknown weekday \"{s}\"; expected one of mon, tue, wed, thu, fri"
            )),
        }
    }
}

impl Serialize for Weekday {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Weekday {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Weekday::parse(&s).map_err(de::Error::custom)
    }
}

/// Which day of the month a monthly plan runs on. On the wire: an integer, or
/// `"first"` / `"last"` (the first / last trading day of the month).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DayOfMonth {
    /// A calendar day; only 1..=28 passes [`Schedule::validate`].
    Day(u8),
    First,
    Last,
}

impl Serialize for DayOfMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DayOfMonth::Day(n) => serializer.serialize_u8(*n),
            DayOfMonth::First => serializer.serialize_str("first"),
            DayOfMonth::Last => serializer.serialize_str("last"),
        }
    }
}

impl<'de> Deserialize<'de> for DayOfMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DayOfMonthVisitor)
    }
}

struct DayOfMonthVisitor;

impl DayOfMonthVisitor {
    fn day<E: de::Error>(n: Option<u8>) -> Result<DayOfMonth, E> {
        n.map(DayOfMonth::Day)
            .ok_or_else(|| E::custom("day_of_month must be a day 1 to 28, \"first\" or \"last\""))
    }
}

impl Visitor<'_> for DayOfMonthVisitor {
    type Value = DayOfMonth;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a day of the month (1 to 28), \"first\" or \"last\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<DayOfMonth, E> {
        Self::day(u8::try_from(v).ok())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<DayOfMonth, E> {
        Self::day(u8::try_from(v).ok())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DayOfMonth, E> {
        match v {
            "first" => Ok(DayOfMonth::First),
            "last" => Ok(DayOfMonth::Last),
            _ => Err(E::custom(format!(
                "day_of_month \"{v}\" is not valid; use a day 1 to 28, \"first\" or \"last\""
            ))),
        }
    }
}

/// A recurring purchase plan. See the module documentation for the semantics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Schedule {
    pub frequency: Frequency,
    pub interval: u32,
    /// Required for weekly plans, absent otherwise.
    pub weekday: Option<Weekday>,
    /// Required for monthly plans, absent otherwise.
    pub day_of_month: Option<DayOfMonth>,
    /// Local wall-clock time, `HH:MM` (24-hour).
    pub time: String,
    /// IANA time zone name the `time` is in.
    pub timezone: String,
    /// Fixes which weeks / months count when `interval > 1`; see the module docs.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::wire_time::option_date"
    )]
    #[cfg_attr(feature = "ssr", schemars(with = "Option<crate::api::schema::Day>"))]
    pub anchor: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleError {
    /// Field name to user-facing message, as from [`Schedule::validate`].
    Invalid(BTreeMap<String, String>),
    /// The starting instant is outside the exchange calendar's years.
    OutOfCalendarRange,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::Invalid(fields) => {
                f.write_str("invalid schedule")?;
                for (i, (field, message)) in fields.iter().enumerate() {
                    let sep = if i == 0 { ": " } else { "; " };
                    write!(f, "{sep}{field}: {message}")?;
                }
                Ok(())
            }
            ScheduleError::OutOfCalendarRange => write!(
                f,
                "the exchange calendar only covers {} to {}",
                calendar::FIRST_YEAR,
                calendar::LAST_YEAR
            ),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// Parses a strict `HH:MM` 24-hour time.
pub fn parse_time(s: &str) -> Option<Time> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let digit = |i: usize| b[i].is_ascii_digit().then(|| (b[i] - b'0') as i8);
    let hour = digit(0)? * 10 + digit(1)?;
    let minute = digit(3)? * 10 + digit(4)?;
    Time::new(hour, minute, 0, 0).ok()
}

impl Schedule {
    /// Every trading day at 16:10 New York, after the close: when a signal bot decides
    /// on the day's bar.
    pub fn after_the_close() -> Self {
        Self {
            frequency: Frequency::Daily,
            interval: 1,
            weekday: None,
            day_of_month: None,
            time: "16:10".into(),
            timezone: "America/New_York".into(),
            anchor: None,
        }
    }

    /// A one-line human summary, e.g. "every 2 weeks on Friday at 15:30
    /// (Europe/London)". Works on invalid schedules too, for showing drafts.
    pub fn describe(&self) -> String {
        let interval = self.interval;
        let what = self.cadence();
        let anchor = match (self.frequency, self.anchor) {
            (Frequency::Weekly, Some(a)) if interval > 1 => {
                format!(", counting from the week of {a}")
            }
            (Frequency::Monthly, Some(a)) if interval > 1 => {
                format!(", counting from {}-{:02}", a.year(), a.month())
            }
            _ => String::new(),
        };
        format!("{what} at {} ({}){anchor}", self.time, self.timezone)
    }

    /// How often, without the time: "every Monday", "every 2 weeks on Friday", "monthly
    /// on the last trading day".
    pub fn cadence(&self) -> String {
        let interval = self.interval;
        match self.frequency {
            Frequency::Daily => "every trading day".to_string(),
            Frequency::Weekly => {
                let day = self.weekday.map_or("an unset weekday", Weekday::name);
                if interval == 1 {
                    format!("every {day}")
                } else {
                    format!("every {interval} weeks on {day}")
                }
            }
            Frequency::Monthly => {
                let on = match self.day_of_month {
                    Some(DayOfMonth::Day(n)) => format!("on the {}", ordinal(n)),
                    Some(DayOfMonth::First) => "on the first trading day".to_string(),
                    Some(DayOfMonth::Last) => "on the last trading day".to_string(),
                    None => "on an unset day".to_string(),
                };
                if interval == 1 {
                    format!("monthly {on}")
                } else {
                    format!("every {interval} months {on}")
                }
            }
        }
    }
}

fn ordinal(n: u8) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
