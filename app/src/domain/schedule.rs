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

use std::collections::BTreeMap;
use std::fmt;

use super::zones::Zone;
use jiff::civil::{Date, Time, date};
use jiff::{SignedDuration, Span, Timestamp};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::calendar::{self, Closed};
use super::zones;

/// Week counting for `interval > 1` weekly plans without an anchor starts here.
pub const DEFAULT_WEEK_ANCHOR: Date = date(1970, 1, 5);
/// Month counting for `interval > 1` monthly plans without an anchor starts here.
pub const DEFAULT_MONTH_ANCHOR: Date = date(1970, 1, 1);
pub const MAX_WEEKLY_INTERVAL: u32 = 52;
pub const MAX_MONTHLY_INTERVAL: u32 = 12;
/// Later days do not exist in every month; "last" covers the month end.
pub const MAX_DAY_OF_MONTH: u8 = 28;

/// How far before `after` candidates are replayed. Rolling moves a slot at most
/// about a week forward (the four-day September 2001 closure plus a weekend,
/// plus a day of time-zone offset), so replaying three weeks makes the
/// duplicate-skipping decisions identical to replaying the whole history.
const LOOKBACK_DAYS: i64 = 21;
const ONE_MINUTE: SignedDuration = SignedDuration::from_mins(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// The next `n` execution instants strictly after `after`, strictly
    /// increasing. Fewer than `n` are returned only when the exchange calendar
    /// ends ([`calendar::LAST_YEAR`]).
    pub fn next_slots(&self, after: Timestamp, n: usize) -> Result<Vec<Timestamp>, ScheduleError> {
        self.validate().map_err(ScheduleError::Invalid)?;
        let plan = Plan::new(self).ok_or_else(|| {
            // validate() accepted the time and zone, so this is unreachable;
            // report it as invalid rather than panic.
            ScheduleError::Invalid(BTreeMap::from([(
                "timezone".to_string(),
                "The time zone could not be loaded.".to_string(),
            )]))
        })?;

        let after_ny = calendar::new_york().to_datetime(after).date();
        if !(calendar::FIRST_YEAR..=calendar::LAST_YEAR).contains(&after_ny.year()) {
            return Err(ScheduleError::OutOfCalendarRange);
        }

        let mut slots = Vec::with_capacity(n.min(256));
        if n == 0 {
            return Ok(slots);
        }
        let after_local = plan.tz.to_datetime(after).date();
        // `try_days`: the panicking `days` would link jiff's error messages into the browser.
        let start = Span::new()
            .try_days(LOOKBACK_DAYS)
            .and_then(|span| after_local.checked_sub(span))
            .unwrap_or(after_local);

        let mut last: Option<Timestamp> = None;
        for candidate in plan.candidates(start) {
            let slot = match candidate {
                Candidate::Local(local) => plan.resolve_local(local),
                Candidate::Session(session) => plan.resolve_session(session),
                Candidate::Skip => Resolved::Skip,
            };
            let slot = match slot {
                Resolved::Slot(t) => t,
                Resolved::Skip => continue,
                Resolved::End => break,
            };
            if last.is_some_and(|prev| slot <= prev) {
                continue;
            }
            last = Some(slot);
            if slot > after {
                slots.push(slot);
                if slots.len() == n {
                    break;
                }
            }
        }
        Ok(slots)
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

/// A validated schedule, ready to produce slots.
struct Plan {
    tz: Zone,
    time: Time,
    kind: Kind,
    interval: i64,
    anchor: Date,
}

#[derive(Clone, Copy)]
enum Kind {
    Daily,
    Weekly(jiff::civil::Weekday),
    MonthlyDay(i8),
    MonthlyFirst,
    MonthlyLast,
}

enum Candidate {
    /// A date in the user's time zone.
    Local(Date),
    /// A New York trading date the slot must land on.
    Session(Date),
    /// A period with nothing to offer (before the calendar starts).
    Skip,
}

enum Resolved {
    Slot(Timestamp),
    Skip,
    End,
}

impl Plan {
    fn new(s: &Schedule) -> Option<Plan> {
        let kind = match (s.frequency, s.weekday, s.day_of_month) {
            (Frequency::Daily, _, _) => Kind::Daily,
            (Frequency::Weekly, Some(w), _) => Kind::Weekly(w.to_jiff()),
            (Frequency::Monthly, _, Some(DayOfMonth::Day(n))) => {
                Kind::MonthlyDay(i8::try_from(n).ok()?)
            }
            (Frequency::Monthly, _, Some(DayOfMonth::First)) => Kind::MonthlyFirst,
            (Frequency::Monthly, _, Some(DayOfMonth::Last)) => Kind::MonthlyLast,
            _ => return None,
        };
        let default_anchor = match s.frequency {
            Frequency::Monthly => DEFAULT_MONTH_ANCHOR,
            _ => DEFAULT_WEEK_ANCHOR,
        };
        Some(Plan {
            tz: zones::get(&s.timezone)?,
            time: parse_time(&s.time)?,
            kind,
            interval: i64::from(s.interval.max(1)),
            anchor: s.anchor.unwrap_or(default_anchor),
        })
    }

    /// Candidates in increasing order, starting with the period containing `start`.
    fn candidates(&self, start: Date) -> impl Iterator<Item = Candidate> + '_ {
        let mut day = Some(start);
        let mut month = Some((start.year(), start.month()));
        std::iter::from_fn(move || match self.kind {
            Kind::Daily => {
                let d = day?;
                day = add_days(d, 1);
                Some(Candidate::Local(d))
            }
            Kind::Weekly(weekday) => loop {
                let d = day?;
                day = add_days(d, 1);
                if d.weekday() == weekday
                    && (week_index(d) - week_index(self.anchor)).rem_euclid(self.interval) == 0
                {
                    return Some(Candidate::Local(d));
                }
            },
            Kind::MonthlyDay(_) | Kind::MonthlyFirst | Kind::MonthlyLast => loop {
                let (y, m) = month?;
                month = next_month(y, m);
                if (month_index(y, m) - month_index(self.anchor.year(), self.anchor.month()))
                    .rem_euclid(self.interval)
                    != 0
                {
                    continue;
                }
                return self.monthly_candidate(y, m);
            },
        })
    }

    /// `None` once a first/last-trading-day plan is past the calendar's end.
    /// Day-N candidates carry on, and resolving them detects the end, because
    /// in zones ahead of New York a local January 1 can still be a New York
    /// December 31.
    fn monthly_candidate(&self, year: i16, month: i8) -> Option<Candidate> {
        let session_candidate = |s: Option<calendar::Session>| -> Option<Candidate> {
            if year > calendar::LAST_YEAR {
                return None;
            }
            Some(
                s.filter(|s| s.date.year() == year && s.date.month() == month)
                    .map_or(Candidate::Skip, |s| Candidate::Session(s.date)),
            )
        };
        match self.kind {
            Kind::MonthlyDay(n) => {
                Some(Date::new(year, month, n).map_or(Candidate::Skip, Candidate::Local))
            }
            Kind::MonthlyFirst => session_candidate(
                Date::new(year, month, 1)
                    .ok()
                    .and_then(calendar::next_session_on_or_after),
            ),
            Kind::MonthlyLast => session_candidate(
                next_month(year, month)
                    .and_then(|(y, m)| Date::new(y, m, 1).ok())
                    .and_then(calendar::previous_session_before),
            ),
            Kind::Daily | Kind::Weekly(_) => None,
        }
    }

    fn nominal(&self, local: Date) -> Option<Timestamp> {
        // to_timestamp uses jiff's "compatible" disambiguation: forward over a
        // gap, the earlier instant in a fold.
        self.tz.to_timestamp(local.to_datetime(self.time)).ok()
    }

    /// Steps 1–3 of the module docs for a local candidate date.
    fn resolve_local(&self, mut local: Date) -> Resolved {
        let ny = calendar::new_york();
        loop {
            let Some(instant) = self.nominal(local) else {
                return Resolved::End;
            };
            let ny_date = ny.to_datetime(instant).date();
            if ny_date.year() < calendar::FIRST_YEAR {
                return Resolved::Skip;
            }
            match calendar::session(ny_date) {
                Ok(session) => return Resolved::Slot(clamp_to_session(instant, &session)),
                Err(Closed::OutOfRange) => return Resolved::End,
                Err(_) => match add_days(local, 1) {
                    Some(next) => local = next,
                    None => return Resolved::End,
                },
            }
        }
    }

    /// A first/last-trading-day candidate: pick the local date whose `time`
    /// lands on that New York date.
    fn resolve_session(&self, ny_date: Date) -> Resolved {
        let ny = calendar::new_york();
        let Ok(session) = calendar::session(ny_date) else {
            return Resolved::Skip;
        };
        // Zones are at most a day away from New York, so the matching local
        // date is the same date or a neighbour; the same date reads best.
        for offset in [0, 1, -1] {
            let Some(instant) = add_days(ny_date, offset).and_then(|l| self.nominal(l)) else {
                continue;
            };
            if ny.to_datetime(instant).date() == ny_date {
                return Resolved::Slot(clamp_to_session(instant, &session));
            }
        }
        // A DST change can leave no local date landing on that day; fall back
        // to the ordinary rolling rule.
        self.resolve_local(ny_date)
    }
}

fn clamp_to_session(instant: Timestamp, session: &calendar::Session) -> Timestamp {
    let close = session.close_at();
    if instant >= close {
        close.checked_sub(ONE_MINUTE).unwrap_or(close)
    } else {
        instant
    }
}

fn add_days(d: Date, days: i64) -> Option<Date> {
    d.checked_add(Span::new().try_days(days).ok()?).ok()
}

fn next_month(year: i16, month: i8) -> Option<(i16, i8)> {
    if month == 12 {
        year.checked_add(1).map(|y| (y, 1))
    } else {
        Some((year, month + 1))
    }
}

/// Weeks since the week of 1970-01-05 (weeks run Monday to Sunday).
fn week_index(d: Date) -> i64 {
    d.duration_since(DEFAULT_WEEK_ANCHOR)
        .as_secs()
        .div_euclid(7 * 86_400)
}

fn month_index(year: i16, month: i8) -> i64 {
    i64::from(year) * 12 + i64::from(month) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("valid timestamp literal")
    }

    fn schedule(
        frequency: Frequency,
        interval: u32,
        weekday: Option<Weekday>,
        day_of_month: Option<DayOfMonth>,
        time: &str,
        timezone: &str,
    ) -> Schedule {
        Schedule {
            frequency,
            interval,
            weekday,
            day_of_month,
            time: time.to_string(),
            timezone: timezone.to_string(),
            anchor: None,
        }
    }

    fn weekly(day: Weekday, time: &str, tz: &str) -> Schedule {
        schedule(Frequency::Weekly, 1, Some(day), None, time, tz)
    }

    fn monthly(day: DayOfMonth, time: &str, tz: &str) -> Schedule {
        schedule(Frequency::Monthly, 1, None, Some(day), time, tz)
    }

    /// Slots rendered as New York wall-clock times, which is what the
    /// expectations are easiest to read in.
    fn ny_slots(s: &Schedule, after: &str, n: usize) -> Vec<String> {
        let ny = calendar::new_york();
        s.next_slots(ts(after), n)
            .expect("valid schedule")
            .into_iter()
            .map(|t| ny.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string())
            .collect()
    }

    fn utc_slots(s: &Schedule, after: &str, n: usize) -> Vec<String> {
        s.next_slots(ts(after), n)
            .expect("valid schedule")
            .into_iter()
            .map(|t| t.to_string())
            .collect()
    }

    #[test]
    fn json_round_trip_keeps_the_fixed_shape() {
        let json = r#"{"frequency":"weekly","interval":1,"weekday":"mon","day_of_month":null,"time":"10:00","timezone":"America/New_York"}"#;
        let parsed: Schedule = serde_json::from_str(json).expect("parses");
        assert_eq!(parsed, weekly(Weekday::Mon, "10:00", "America/New_York"));
        assert_eq!(serde_json::to_string(&parsed).expect("serializes"), json);

        let json = r#"{"frequency":"monthly","interval":3,"weekday":null,"day_of_month":"last","time":"15:30","timezone":"Europe/London","anchor":"2026-02-01"}"#;
        let parsed: Schedule = serde_json::from_str(json).expect("parses");
        assert_eq!(parsed.day_of_month, Some(DayOfMonth::Last));
        assert_eq!(parsed.anchor, Some(date(2026, 2, 1)));
        assert_eq!(serde_json::to_string(&parsed).expect("serializes"), json);

        let json = r#"{"frequency":"monthly","interval":1,"weekday":null,"day_of_month":15,"time":"10:00","timezone":"Asia/Tokyo"}"#;
        let parsed: Schedule = serde_json::from_str(json).expect("parses");
        assert_eq!(parsed.day_of_month, Some(DayOfMonth::Day(15)));
        assert_eq!(serde_json::to_string(&parsed).expect("serializes"), json);

        let json = r#"{"frequency":"daily","interval":1,"weekday":null,"day_of_month":null,"time":"09:45","timezone":"UTC"}"#;
        let parsed: Schedule = serde_json::from_str(json).expect("parses");
        assert_eq!(serde_json::to_string(&parsed).expect("serializes"), json);
    }

    #[test]
    fn serde_rejects_weekend_days_and_bad_day_of_month() {
        let json = r#"{"frequency":"weekly","interval":1,"weekday":"sat","day_of_month":null,"time":"10:00","timezone":"UTC"}"#;
        let err = serde_json::from_str::<Schedule>(json).expect_err("saturday rejected");
        assert!(
            err.to_string().contains("\"sat\" is not a trading day"),
            "{err}"
        );

        let err = serde_json::from_str::<Weekday>(r#""sun""#).expect_err("sunday rejected");
        assert!(err.to_string().contains("not a trading day"), "{err}");
        assert!(serde_json::from_str::<Weekday>(r#""monday""#).is_err());

        assert!(serde_json::from_str::<DayOfMonth>(r#""middle""#).is_err());
        assert!(serde_json::from_str::<DayOfMonth>("-1").is_err());
        assert!(serde_json::from_str::<DayOfMonth>("1000").is_err());
        assert!(serde_json::from_str::<DayOfMonth>("1.5").is_err());
        assert_eq!(
            serde_json::from_str::<DayOfMonth>("31").expect("parses; validate rejects"),
            DayOfMonth::Day(31)
        );
    }

    #[test]
    fn validate_reports_each_field() {
        assert_eq!(
            weekly(Weekday::Mon, "10:00", "America/New_York").validate(),
            Ok(())
        );

        let errors = monthly(DayOfMonth::Day(31), "10:00", "America/New_York")
            .validate()
            .expect_err("day 31 rejected");
        assert_eq!(
            errors.get("day_of_month").map(String::as_str),
            Some(
                "Day 31 is not available: choose a day from 1 to 28, or \"last\" for the last trading day of the month."
            )
        );
        assert_eq!(errors.len(), 1);
        assert!(
            monthly(DayOfMonth::Day(0), "10:00", "UTC")
                .validate()
                .is_err()
        );
        assert_eq!(
            monthly(DayOfMonth::Day(28), "10:00", "UTC").validate(),
            Ok(())
        );

        let mut bad = schedule(
            Frequency::Weekly,
            53,
            None,
            Some(DayOfMonth::First),
            "25:00",
            "Mars/Olympus",
        );
        let errors = bad.validate().expect_err("everything wrong");
        let keys: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["day_of_month", "interval", "time", "timezone", "weekday"]
        );
        assert_eq!(
            errors["interval"],
            "Choose an interval between 1 and 52 weeks."
        );
        assert_eq!(errors["weekday"], "Choose a weekday, Monday to Friday.");
        assert_eq!(
            errors["day_of_month"],
            "A day of the month only applies to monthly plans."
        );
        assert_eq!(
            errors["time"],
            "\"25:00\" is not a valid time; use 24-hour HH:MM, such as 10:00 or 15:30."
        );
        assert_eq!(
            errors["timezone"],
            "\"Mars/Olympus\" is not a known time zone; use an IANA name such as America/New_York or Europe/London."
        );

        bad = schedule(Frequency::Daily, 2, Some(Weekday::Mon), None, "9:30", "");
        let errors = bad.validate().expect_err("daily with interval 2");
        assert_eq!(
            errors["interval"],
            "Daily plans run every trading day, so the interval must be 1."
        );
        assert_eq!(errors["weekday"], "A weekday only applies to weekly plans.");
        assert!(errors.contains_key("time"));
        assert_eq!(
            errors["timezone"],
            "Choose a time zone, such as America/New_York."
        );

        let errors = schedule(Frequency::Monthly, 13, None, None, "10:00", "UTC")
            .validate()
            .expect_err("monthly interval 13");
        assert_eq!(
            errors["interval"],
            "Choose an interval between 1 and 12 months."
        );
        assert!(errors["day_of_month"].starts_with("Choose a day of the month"));

        for t in ["10:00", "00:00", "23:59"] {
            assert!(parse_time(t).is_some(), "{t}");
        }
        for t in [
            "24:00", "10:60", "1000", "10:0", " 10:00", "ab:cd", "10:00:00", "+1:00",
        ] {
            assert!(parse_time(t).is_none(), "{t}");
        }
    }

    #[test]
    fn invalid_schedule_and_out_of_range_are_errors() {
        let bad = monthly(DayOfMonth::Day(31), "10:00", "UTC");
        assert!(matches!(
            bad.next_slots(ts("2026-01-01T00:00:00Z"), 3),
            Err(ScheduleError::Invalid(_))
        ));
        let ok = weekly(Weekday::Mon, "10:00", "America/New_York");
        assert_eq!(
            ok.next_slots(ts("2101-06-01T00:00:00Z"), 3),
            Err(ScheduleError::OutOfCalendarRange)
        );
        assert_eq!(
            ok.next_slots(ts("1989-06-01T00:00:00Z"), 3),
            Err(ScheduleError::OutOfCalendarRange)
        );
        assert_eq!(ok.next_slots(ts("2026-01-01T00:00:00Z"), 0), Ok(vec![]));
        // The calendar's end truncates the result instead of failing.
        let tail = ok
            .next_slots(ts("2100-12-01T00:00:00Z"), 10)
            .expect("in range");
        assert_eq!(tail.len(), 4);
        let err = ScheduleError::Invalid(BTreeMap::from([("time".to_string(), "bad".to_string())]));
        assert_eq!(err.to_string(), "invalid schedule: time: bad");
    }

    #[test]
    fn weekly_new_york_keeps_local_time_across_dst() {
        let s = weekly(Weekday::Mon, "10:00", "America/New_York");
        // US DST starts 2026-03-08 and ends 2026-11-01.
        assert_eq!(
            utc_slots(&s, "2026-02-24T00:00:00Z", 3),
            [
                "2026-03-02T15:00:00Z",
                "2026-03-09T14:00:00Z",
                "2026-03-16T14:00:00Z"
            ]
        );
        assert_eq!(
            utc_slots(&s, "2026-10-20T00:00:00Z", 2),
            ["2026-10-26T14:00:00Z", "2026-11-02T15:00:00Z"]
        );
    }

    #[test]
    fn london_user_while_us_and_uk_dst_are_out_of_sync() {
        let s = weekly(Weekday::Fri, "15:30", "Europe/London");
        // US DST starts 2026-03-08, UK DST 2026-03-29; Friday 2026-04-03 is
        // Good Friday, so that week's slot rolls to Monday.
        assert_eq!(
            ny_slots(&s, "2026-03-01T00:00:00Z", 6),
            [
                "2026-03-06 10:30",
                "2026-03-13 11:30",
                "2026-03-20 11:30",
                "2026-03-27 11:30",
                "2026-04-06 10:30",
                "2026-04-10 10:30",
            ]
        );
        // UK DST ends 2026-10-25, US DST 2026-11-01.
        assert_eq!(
            ny_slots(&s, "2026-10-20T00:00:00Z", 3),
            ["2026-10-23 10:30", "2026-10-30 11:30", "2026-11-06 10:30"]
        );
    }

    #[test]
    fn holidays_roll_forward_to_the_next_trading_day() {
        let monday = weekly(Weekday::Mon, "10:00", "America/New_York");
        assert_eq!(
            ny_slots(&monday, "2026-01-10T00:00:00Z", 3),
            ["2026-01-12 10:00", "2026-01-20 10:00", "2026-01-26 10:00"]
        );
        let friday = weekly(Weekday::Fri, "10:00", "America/New_York");
        assert_eq!(
            ny_slots(&friday, "2026-03-28T00:00:00Z", 2),
            ["2026-04-06 10:00", "2026-04-10 10:00"]
        );
        // A rolled slot is still due after `after` even when its nominal day
        // is before it.
        assert_eq!(
            ny_slots(&friday, "2026-04-04T00:00:00Z", 1),
            ["2026-04-06 10:00"]
        );
        let third = monthly(DayOfMonth::Day(3), "10:00", "America/New_York");
        assert_eq!(
            ny_slots(&third, "2026-03-10T00:00:00Z", 2),
            ["2026-04-06 10:00", "2026-05-04 10:00"]
        );
        // The September 2001 closure rolls a Tuesday plan six days on.
        let tuesday = weekly(Weekday::Tue, "10:00", "America/New_York");
        assert_eq!(
            ny_slots(&tuesday, "2001-09-05T00:00:00Z", 2),
            ["2001-09-17 10:00", "2001-09-18 10:00"]
        );
    }

    #[test]
    fn early_close_moves_to_last_tradable_minute() {
        let s = weekly(Weekday::Fri, "14:00", "America/New_York");
        assert_eq!(
            ny_slots(&s, "2026-11-21T00:00:00Z", 2),
            ["2026-11-27 12:59", "2026-12-04 14:00"]
        );
        let before_open = weekly(Weekday::Fri, "08:00", "America/New_York");
        assert_eq!(
            ny_slots(&before_open, "2026-11-21T00:00:00Z", 1),
            ["2026-11-27 08:00"]
        );
    }

    #[test]
    fn every_two_weeks_follows_the_anchor() {
        let mut s = schedule(
            Frequency::Weekly,
            2,
            Some(Weekday::Wed),
            None,
            "10:00",
            "America/New_York",
        );
        s.anchor = Some(date(2026, 1, 7));
        assert_eq!(
            ny_slots(&s, "2026-01-01T00:00:00Z", 3),
            ["2026-01-07 10:00", "2026-01-21 10:00", "2026-02-04 10:00"]
        );
        // Any day of the anchor week selects the same weeks.
        s.anchor = Some(date(2026, 1, 16));
        assert_eq!(
            ny_slots(&s, "2026-01-01T00:00:00Z", 2),
            ["2026-01-14 10:00", "2026-01-28 10:00"]
        );
        // Without an anchor, weeks count from 1970-01-05: 2026-01-05 is 2922
        // weeks later, an even number.
        let mut unanchored = s.clone();
        unanchored.anchor = None;
        unanchored.weekday = Some(Weekday::Mon);
        assert_eq!(week_index(date(2026, 1, 5)), 2922);
        assert_eq!(
            ny_slots(&unanchored, "2026-01-01T00:00:00Z", 3),
            ["2026-01-05 10:00", "2026-01-20 10:00", "2026-02-02 10:00"]
        );
    }

    #[test]
    fn every_three_months_follows_the_anchor() {
        let mut s = schedule(
            Frequency::Monthly,
            3,
            None,
            Some(DayOfMonth::Day(15)),
            "10:00",
            "America/New_York",
        );
        assert_eq!(
            ny_slots(&s, "2026-01-01T00:00:00Z", 3),
            ["2026-01-15 10:00", "2026-04-15 10:00", "2026-07-15 10:00"]
        );
        s.anchor = Some(date(2026, 2, 20));
        assert_eq!(
            ny_slots(&s, "2026-01-01T00:00:00Z", 3),
            ["2026-02-17 10:00", "2026-05-15 10:00", "2026-08-17 10:00"]
        );
    }

    #[test]
    fn first_and_last_trading_day_of_month() {
        let last = monthly(DayOfMonth::Last, "10:00", "America/New_York");
        assert_eq!(
            ny_slots(&last, "2026-05-01T00:00:00Z", 3),
            ["2026-05-29 10:00", "2026-06-30 10:00", "2026-07-31 10:00"]
        );
        let first = monthly(DayOfMonth::First, "10:00", "America/New_York");
        assert_eq!(
            ny_slots(&first, "2025-12-15T00:00:00Z", 2),
            ["2026-01-02 10:00", "2026-02-02 10:00"]
        );
        // From Tokyo, 09:00 on January 1 is 19:00 on December 31 in New York,
        // the last session of 2025, so the slot is its last minute.
        let tokyo_last = monthly(DayOfMonth::Last, "09:00", "Asia/Tokyo");
        assert_eq!(
            ny_slots(&tokyo_last, "2025-12-15T00:00:00Z", 1),
            ["2025-12-31 15:59"]
        );
        // 23:00 in Tokyo is the morning of the same New York date.
        let tokyo_first = monthly(DayOfMonth::First, "23:00", "Asia/Tokyo");
        assert_eq!(
            ny_slots(&tokyo_first, "2026-06-15T00:00:00Z", 1),
            ["2026-07-01 10:00"]
        );
    }

    #[test]
    fn tokyo_evening_is_the_same_new_york_morning() {
        let s = weekly(Weekday::Mon, "23:00", "Asia/Tokyo");
        // Winter: 23:00 JST = 14:00Z = 09:00 EST, before the open, left queued.
        assert_eq!(
            utc_slots(&s, "2026-01-01T00:00:00Z", 1),
            ["2026-01-05T14:00:00Z"]
        );
        assert_eq!(
            ny_slots(&s, "2026-01-01T00:00:00Z", 1),
            ["2026-01-05 09:00"]
        );
        // Summer: 10:00 EDT on the same date.
        assert_eq!(
            ny_slots(&s, "2026-07-01T00:00:00Z", 1),
            ["2026-07-06 10:00"]
        );
        // MLK day: Monday 23:00 JST is Monday morning in New York, a holiday,
        // so the slot rolls to Tuesday 23:00 JST.
        assert_eq!(
            ny_slots(&s, "2026-01-17T00:00:00Z", 1),
            ["2026-01-20 09:00"]
        );
    }

    #[test]
    fn tokyo_morning_is_the_previous_new_york_evening() {
        let s = weekly(Weekday::Mon, "09:00", "Asia/Tokyo");
        // Monday 09:00 JST is Sunday evening in New York; rolling to Tuesday
        // 09:00 JST lands on Monday evening, after the close.
        assert_eq!(
            ny_slots(&s, "2026-01-01T00:00:00Z", 2),
            ["2026-01-05 15:59", "2026-01-12 15:59"]
        );
        let daily = schedule(Frequency::Daily, 1, None, None, "09:00", "Asia/Tokyo");
        assert_eq!(
            ny_slots(&daily, "2026-01-15T00:00:00Z", 4),
            [
                "2026-01-15 15:59",
                "2026-01-16 15:59",
                "2026-01-20 15:59",
                "2026-01-21 15:59"
            ]
        );
    }

    #[test]
    fn daily_runs_once_per_trading_day() {
        let s = schedule(Frequency::Daily, 1, None, None, "10:00", "America/New_York");
        assert_eq!(
            ny_slots(&s, "2026-01-15T16:00:00Z", 4),
            [
                "2026-01-16 10:00",
                "2026-01-20 10:00",
                "2026-01-21 10:00",
                "2026-01-22 10:00"
            ]
        );
        let all = s
            .next_slots(ts("2025-12-31T23:00:00Z"), 400)
            .expect("valid");
        let in_2026 = all
            .iter()
            .filter(|t| calendar::new_york().to_datetime(**t).year() == 2026)
            .count();
        assert_eq!(in_2026, 251);
    }

    #[test]
    fn dst_gap_moves_forward_and_fold_takes_the_earlier_instant() {
        let plan = |time: &str| {
            Plan::new(&schedule(
                Frequency::Daily,
                1,
                None,
                None,
                time,
                "America/New_York",
            ))
            .expect("valid plan")
        };
        assert_eq!(
            plan("02:30")
                .nominal(date(2026, 3, 8))
                .map(|t| t.to_string()),
            Some("2026-03-08T07:30:00Z".to_string())
        );
        assert_eq!(
            plan("01:30")
                .nominal(date(2026, 11, 1))
                .map(|t| t.to_string()),
            Some("2026-11-01T05:30:00Z".to_string())
        );
    }

    #[test]
    fn describe_summaries() {
        assert_eq!(
            weekly(Weekday::Mon, "10:00", "America/New_York").describe(),
            "every Monday at 10:00 (America/New_York)"
        );
        let mut two_weeks = weekly(Weekday::Fri, "15:30", "Europe/London");
        two_weeks.interval = 2;
        assert_eq!(
            two_weeks.describe(),
            "every 2 weeks on Friday at 15:30 (Europe/London)"
        );
        two_weeks.anchor = Some(date(2026, 1, 5));
        assert_eq!(
            two_weeks.describe(),
            "every 2 weeks on Friday at 15:30 (Europe/London), counting from the week of 2026-01-05"
        );
        assert_eq!(
            monthly(DayOfMonth::Last, "10:00", "America/New_York").describe(),
            "monthly on the last trading day at 10:00 (America/New_York)"
        );
        assert_eq!(
            monthly(DayOfMonth::First, "10:00", "UTC").describe(),
            "monthly on the first trading day at 10:00 (UTC)"
        );
        let mut quarterly = monthly(DayOfMonth::Day(22), "09:45", "Asia/Tokyo");
        quarterly.interval = 3;
        assert_eq!(
            quarterly.describe(),
            "every 3 months on the 22nd at 09:45 (Asia/Tokyo)"
        );
        assert_eq!(
            schedule(Frequency::Daily, 1, None, None, "10:00", "UTC").describe(),
            "every trading day at 10:00 (UTC)"
        );
        let ordinals: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 23, 28]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            ordinals,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "23rd", "28th"
            ]
        );
    }

    const ZONES: &[&str] = &[
        "America/New_York",
        "America/Chicago",
        "America/Los_Angeles",
        "Pacific/Honolulu",
        "Pacific/Pago_Pago",
        "Europe/London",
        "Europe/Berlin",
        "Asia/Kolkata",
        "Asia/Tokyo",
        "Australia/Sydney",
        "Pacific/Chatham",
        "Pacific/Kiritimati",
        "America/Sao_Paulo",
        "UTC",
    ];

    fn any_schedule() -> impl Strategy<Value = Schedule> {
        let frequency = prop_oneof![
            Just((Frequency::Daily, 1u32)),
            (1u32..=MAX_WEEKLY_INTERVAL).prop_map(|i| (Frequency::Weekly, i)),
            (1u32..=MAX_MONTHLY_INTERVAL).prop_map(|i| (Frequency::Monthly, i)),
        ];
        let day = prop_oneof![
            (1u8..=MAX_DAY_OF_MONTH).prop_map(DayOfMonth::Day),
            Just(DayOfMonth::First),
            Just(DayOfMonth::Last),
        ];
        let anchor = proptest::option::of(
            (1970i16..2100, 1i8..=12, 1i8..=28).prop_map(|(y, m, d)| date(y, m, d)),
        );
        (
            frequency,
            0usize..5,
            day,
            0u8..24,
            0u8..60,
            0usize..ZONES.len(),
            anchor,
        )
            .prop_map(
                |((frequency, interval), wd, day, h, m, zone, anchor)| Schedule {
                    frequency,
                    interval,
                    weekday: (frequency == Frequency::Weekly).then_some(Weekday::ALL[wd]),
                    day_of_month: (frequency == Frequency::Monthly).then_some(day),
                    time: format!("{h:02}:{m:02}"),
                    timezone: ZONES[zone].to_string(),
                    anchor,
                },
            )
    }

    fn any_instant() -> impl Strategy<Value = Timestamp> {
        // 1990-01-02 to 2080-01-01, leaving room for n slots of any plan.
        (631_238_400i64..3_471_292_800).prop_map(|s| Timestamp::from_second(s).expect("in range"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn slots_are_strictly_increasing_tradable_and_resumable(
            s in any_schedule(),
            after in any_instant(),
            n in 1usize..12,
        ) {
            prop_assert_eq!(s.validate(), Ok(()));
            let slots = s.next_slots(after, n).expect("valid schedule in range");
            prop_assert_eq!(slots.len(), n);
            let mut prev = after;
            for slot in &slots {
                prop_assert!(*slot > prev, "{} !> {}", slot, prev);
                prev = *slot;
                let ny_date = calendar::new_york().to_datetime(*slot).date();
                let session = calendar::session(ny_date);
                prop_assert!(session.is_ok(), "{} falls on {:?}", slot, session);
                if let Ok(session) = session {
                    prop_assert!(*slot < session.close_at());
                }
            }
            let resumed = s.next_slots(slots[0], n - 1).expect("valid schedule in range");
            prop_assert_eq!(&resumed[..], &slots[1..]);
        }
    }
}
