//! The New York Stock Exchange (XNYS) trading calendar, computed offline for
//! every date in [`FIRST_YEAR`]`..=`[`LAST_YEAR`].
//!
//! Purchase schedules, the simulator and the `quantshift calendar` CLI all need
//! to know whether the exchange trades on a given day and between which times,
//! without a network call. Everything here is a pure function of its inputs.
//!
//! Rules encoded (all times are New York wall-clock times):
//! - Regular session 09:30–16:00; Saturdays and Sundays are closed.
//! - Regular holidays, as observed under NYSE Rule 7.2 (a holiday falling on a
//!   Saturday is observed on the Friday before, on a Sunday on the Monday after):
//!   New Year's Day (a Saturday New Year's Day is *not* moved to the Friday
//!   before, because that Friday ends the accounting year), Martin Luther King
//!   Jr. Day (third Monday of January, since 1998), Washington's Birthday (third
//!   Monday of February), Good Friday, Memorial Day (last Monday of May),
//!   Juneteenth (June 19, since 2022), Independence Day (July 4), Labor Day
//!   (first Monday of September), Thanksgiving (fourth Thursday of November) and
//!   Christmas (December 25).
//! - Unscheduled full-day closures since 1990 (presidential funerals and days of
//!   mourning, September 11, Hurricane Sandy).
//! - Scheduled early closes, each with the years it applied: the day before
//!   Independence Day (13:00 since 1995 on a Monday, Tuesday or Thursday July 3,
//!   and since 2013 on a Wednesday July 3; from 1996 to 2012 a Thursday July 4
//!   gave an early close on Friday July 5 instead), the day after Thanksgiving
//!   (14:00 in 1992, 13:00 since 1993), and Christmas Eve on a Monday to Thursday
//!   (14:00 until 1992, 13:00 since 1993).
//! - Irregular sessions since 1990: late opens and unscheduled early closes
//!   (snowstorms, a circuit-breaker halt, moments of silence), plus the two
//!   13:00 closes on the day after Christmas (1997 and 2003).
//!
//! Sources for the historical facts: NYSE holiday and hours calendars
//! (nyse.com), the NYSE historical closings record as transcribed by the
//! `pandas_market_calendars` and `python-holidays` projects. New Year's Eve 1999
//! is sometimes listed as a 13:00 close, but the NYSE closings record does not
//! list it, so it is a regular session here.
//!
//! Dates after today are a projection of the current rules: the exchange can
//! still announce ad-hoc closures (such as a national day of mourning), and
//! [`SPECIAL_CLOSURES`] must be extended when it does.

use std::fmt;

use super::zones::Zone;
use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday, date, time};

pub const EXCHANGE_TIME_ZONE: &str = super::zones::NEW_YORK;
pub const FIRST_YEAR: i16 = 1990;
pub const LAST_YEAR: i16 = 2100;

/// Opening time of a regular session.
pub const REGULAR_OPEN: Time = time(9, 30, 0, 0);
/// Closing time of a regular session.
pub const REGULAR_CLOSE: Time = time(16, 0, 0, 0);
/// Closing time of every scheduled early close since 1993.
pub const EARLY_CLOSE: Time = time(13, 0, 0, 0);

const FIRST_DATE: Date = date(FIRST_YEAR, 1, 1);
const LAST_DATE: Date = date(LAST_YEAR, 12, 31);

/// One trading session; times are New York wall-clock times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub date: Date,
    pub open: Time,
    pub close: Time,
}

impl Session {
    /// The instant of the open, with the New York UTC offset of that date.
    pub fn open_at(&self) -> Timestamp {
        new_york_instant(self.date, self.open)
    }

    /// The instant of the close, with the New York UTC offset of that date.
    pub fn close_at(&self) -> Timestamp {
        new_york_instant(self.date, self.close)
    }

    /// Whether the session closes before the regular 16:00. Every scheduled
    /// early close since 1993 is at 13:00; a few earlier or unscheduled ones
    /// closed at other times.
    pub fn is_early_close(&self) -> bool {
        self.close < REGULAR_CLOSE
    }
}

/// Why there is no session on a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    Weekend,
    /// A regular holiday, on its observed date.
    Holiday(&'static str),
    /// An unscheduled closure, such as a national day of mourning.
    Special(&'static str),
    /// The date is outside `FIRST_YEAR..=LAST_YEAR`, so nothing is known.
    OutOfRange,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::Weekend => f.write_str("weekend"),
            Closed::Holiday(name) => write!(f, "holiday: {name}"),
            Closed::Special(reason) => write!(f, "closed: {reason}"),
            Closed::OutOfRange => write!(
                f,
                "outside the exchange calendar ({FIRST_YEAR}-{LAST_YEAR})"
            ),
        }
    }
}

/// Full-day closures that no recurring rule produces, in date order.
pub const SPECIAL_CLOSURES: &[(Date, &str)] = &[
    (date(1994, 4, 27), "Funeral of President Richard Nixon"),
    (date(2001, 9, 11), "September 11 attacks"),
    (date(2001, 9, 12), "September 11 attacks"),
    (date(2001, 9, 13), "September 11 attacks"),
    (date(2001, 9, 14), "September 11 attacks"),
    (
        date(2004, 6, 11),
        "National Day of Mourning for President Ronald Reagan",
    ),
    (
        date(2007, 1, 2),
        "National Day of Mourning for President Gerald Ford",
    ),
    (date(2012, 10, 29), "Hurricane Sandy"),
    (date(2012, 10, 30), "Hurricane Sandy"),
    (
        date(2018, 12, 5),
        "National Day of Mourning for President George H. W. Bush",
    ),
    (
        date(2025, 1, 9),
        "National Day of Mourning for President Jimmy Carter",
    ),
];

struct IrregularSession {
    date: Date,
    open: Time,
    close: Time,
    reason: &'static str,
}

const fn irregular(date: Date, open: Time, close: Time, reason: &'static str) -> IrregularSession {
    IrregularSession {
        date,
        open,
        close,
        reason,
    }
}

/// Sessions since 1990 whose hours no recurring rule produces.
const IRREGULAR_SESSIONS: &[IrregularSession] = &[
    irregular(
        date(1990, 12, 27),
        time(9, 31, 0, 0),
        REGULAR_CLOSE,
        "late open: Con Edison transformer explosion",
    ),
    irregular(
        date(1991, 1, 17),
        time(9, 31, 0, 0),
        REGULAR_CLOSE,
        "late open: moment of silence for troops in the Gulf",
    ),
    irregular(
        date(1991, 2, 25),
        time(9, 31, 0, 0),
        REGULAR_CLOSE,
        "late open: moment of silence for troops in the Gulf",
    ),
    irregular(
        date(1994, 2, 11),
        REGULAR_OPEN,
        time(14, 30, 0, 0),
        "early close: snowstorm",
    ),
    irregular(
        date(1995, 12, 18),
        time(10, 30, 0, 0),
        REGULAR_CLOSE,
        "late open: computer system trouble",
    ),
    irregular(
        date(1996, 1, 8),
        time(11, 0, 0, 0),
        time(14, 0, 0, 0),
        "late open and early close: snowstorm",
    ),
    irregular(
        date(1997, 10, 27),
        REGULAR_OPEN,
        time(15, 30, 0, 0),
        "early close: circuit breaker triggered",
    ),
    irregular(
        date(1997, 12, 26),
        REGULAR_OPEN,
        EARLY_CLOSE,
        "early close: day after Christmas",
    ),
    irregular(
        date(2001, 9, 17),
        time(9, 33, 0, 0),
        REGULAR_CLOSE,
        "late open: moment of silence for the September 11 victims",
    ),
    irregular(
        date(2001, 10, 8),
        time(9, 31, 0, 0),
        REGULAR_CLOSE,
        "late open: moment of silence for Operation Enduring Freedom",
    ),
    irregular(
        date(2002, 9, 11),
        time(12, 0, 0, 0),
        REGULAR_CLOSE,
        "late open: anniversary of the September 11 attacks",
    ),
    irregular(
        date(2003, 3, 20),
        time(9, 32, 0, 0),
        REGULAR_CLOSE,
        "late open: moment of silence for Operation Iraqi Freedom",
    ),
    irregular(
        date(2003, 12, 26),
        REGULAR_OPEN,
        EARLY_CLOSE,
        "early close: day after Christmas",
    ),
    irregular(
        date(2004, 6, 7),
        time(9, 32, 0, 0),
        REGULAR_CLOSE,
        "late open: moment of silence for President Ronald Reagan",
    ),
    irregular(
        date(2005, 6, 1),
        REGULAR_OPEN,
        time(15, 56, 0, 0),
        "early close: systems communication problem",
    ),
    irregular(
        date(2006, 12, 27),
        time(9, 32, 0, 0),
        REGULAR_CLOSE,
        "late open: moment of silence for President Gerald Ford",
    ),
];

/// A recurring early close, applying in `from..=until` to the dates `applies`
/// accepts. Holidays and weekends are ruled out before these are consulted.
struct EarlyCloseRule {
    reason: &'static str,
    from: i16,
    until: i16,
    close: Time,
    applies: fn(Date) -> bool,
}

const EARLY_CLOSE_RULES: &[EarlyCloseRule] = &[
    EarlyCloseRule {
        reason: "early close: day before Independence Day",
        from: 1995,
        until: LAST_YEAR,
        close: EARLY_CLOSE,
        applies: is_july_3_mon_tue_thu,
    },
    // Until 2012 a Thursday Independence Day shortened the Friday after it
    // rather than the Wednesday before it.
    EarlyCloseRule {
        reason: "early close: day before Independence Day",
        from: 2013,
        until: LAST_YEAR,
        close: EARLY_CLOSE,
        applies: is_july_3_wednesday,
    },
    EarlyCloseRule {
        reason: "early close: day after Independence Day",
        from: 1996,
        until: 2012,
        close: EARLY_CLOSE,
        applies: is_july_5_friday,
    },
    EarlyCloseRule {
        reason: "early close: day after Thanksgiving",
        from: 1992,
        until: 1992,
        close: time(14, 0, 0, 0),
        applies: is_day_after_thanksgiving,
    },
    EarlyCloseRule {
        reason: "early close: day after Thanksgiving",
        from: 1993,
        until: LAST_YEAR,
        close: EARLY_CLOSE,
        applies: is_day_after_thanksgiving,
    },
    EarlyCloseRule {
        reason: "early close: Christmas Eve",
        from: FIRST_YEAR,
        until: 1992,
        close: time(14, 0, 0, 0),
        applies: is_christmas_eve_mon_to_thu,
    },
    EarlyCloseRule {
        reason: "early close: Christmas Eve",
        from: 1993,
        until: LAST_YEAR,
        close: EARLY_CLOSE,
        applies: is_christmas_eve_mon_to_thu,
    },
];

fn is_july_3_mon_tue_thu(d: Date) -> bool {
    d.month() == 7
        && d.day() == 3
        && matches!(
            d.weekday(),
            Weekday::Monday | Weekday::Tuesday | Weekday::Thursday
        )
}

fn is_july_3_wednesday(d: Date) -> bool {
    d.month() == 7 && d.day() == 3 && d.weekday() == Weekday::Wednesday
}

fn is_july_5_friday(d: Date) -> bool {
    d.month() == 7 && d.day() == 5 && d.weekday() == Weekday::Friday
}

fn is_day_after_thanksgiving(d: Date) -> bool {
    d.month() == 11 && d.day() == thanksgiving(d.year()).day() + 1
}

fn is_christmas_eve_mon_to_thu(d: Date) -> bool {
    d.month() == 12
        && d.day() == 24
        && matches!(
            d.weekday(),
            Weekday::Monday | Weekday::Tuesday | Weekday::Wednesday | Weekday::Thursday
        )
}

/// The exchange time zone, exact from 1970 in the browser build (the calendar starts in
/// 1990) and with its whole history on the server.
pub fn new_york() -> Zone {
    super::zones::new_york()
}

fn new_york_instant(date: Date, time: Time) -> Timestamp {
    // Exchange hours never fall in a DST gap or fold (those happen at 02:00),
    // so the conversion is exact; only a hand-built session at the very edge
    // of jiff's range can fail, and saturating is the honest answer there.
    new_york()
        .to_timestamp(date.to_datetime(time))
        .unwrap_or(if date.year() < 0 {
            Timestamp::MIN
        } else {
            Timestamp::MAX
        })
}

/// The session on `date`, or why there is none.
pub fn session(date: Date) -> Result<Session, Closed> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&date.year()) {
        return Err(Closed::OutOfRange);
    }
    if matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) {
        return Err(Closed::Weekend);
    }
    if let Some(name) = holiday_on(date) {
        return Err(Closed::Holiday(name));
    }
    if let Some((_, reason)) = SPECIAL_CLOSURES.iter().find(|(d, _)| *d == date) {
        return Err(Closed::Special(reason));
    }
    let (open, close, _) = hours(date);
    Ok(Session { date, open, close })
}

/// Why `date` does not have regular 09:30–16:00 hours, if it is a trading day
/// with irregular ones (an early close or a late open).
pub fn irregular_hours_reason(date: Date) -> Option<&'static str> {
    session(date).ok().and_then(|_| hours(date).2)
}

fn hours(date: Date) -> (Time, Time, Option<&'static str>) {
    if let Some(s) = IRREGULAR_SESSIONS.iter().find(|s| s.date == date) {
        return (s.open, s.close, Some(s.reason));
    }
    let year = date.year();
    EARLY_CLOSE_RULES
        .iter()
        .find(|rule| (rule.from..=rule.until).contains(&year) && (rule.applies)(date))
        .map_or((REGULAR_OPEN, REGULAR_CLOSE, None), |rule| {
            (REGULAR_OPEN, rule.close, Some(rule.reason))
        })
}

pub fn is_trading_day(date: Date) -> bool {
    session(date).is_ok()
}

/// The first session on or after `date`; `None` once past [`LAST_YEAR`].
/// Dates before [`FIRST_YEAR`] answer with the first session of `FIRST_YEAR`.
pub fn next_session_on_or_after(date: Date) -> Option<Session> {
    let mut day = date.max(FIRST_DATE);
    while day <= LAST_DATE {
        if let Ok(s) = session(day) {
            return Some(s);
        }
        day = day.tomorrow().ok()?;
    }
    None
}

/// The last session strictly before `date`; `None` before [`FIRST_YEAR`].
/// Dates after [`LAST_YEAR`] answer with the last session of `LAST_YEAR`.
pub fn previous_session_before(date: Date) -> Option<Session> {
    let mut day = if date > LAST_DATE {
        LAST_DATE
    } else {
        date.yesterday().ok()?
    };
    while day >= FIRST_DATE {
        if let Ok(s) = session(day) {
            return Some(s);
        }
        day = day.yesterday().ok()?;
    }
    None
}

/// The sessions from `from` to `to`, both inclusive, in date order. The part
/// of the range outside the calendar's years yields nothing.
pub fn sessions(from: Date, to: Date) -> impl Iterator<Item = Session> {
    let start = from.max(FIRST_DATE);
    let end = to.min(LAST_DATE);
    std::iter::successors(Some(start).filter(|d| *d <= end), move |d| {
        d.tomorrow().ok().filter(|next| *next <= end)
    })
    .filter_map(|d| session(d).ok())
}

/// Whether `t` lies within `[open, close)` of the session on its New York date.
pub fn is_open_at(t: Timestamp) -> bool {
    let ny_date = new_york().to_datetime(t).date();
    session(ny_date).is_ok_and(|s| s.open_at() <= t && t < s.close_at())
}

/// The days in `year` that fall on a weekday and are closed (regular holidays
/// at their observed dates, and special closures), in date order.
pub fn closures(year: i16) -> Vec<(Date, Closed)> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Vec::new();
    }
    let mut days: Vec<(Date, Closed)> = observed_holidays(year)
        .into_iter()
        .flatten()
        .map(|(d, name)| (d, Closed::Holiday(name)))
        .chain(
            SPECIAL_CLOSURES
                .iter()
                .filter(|(d, _)| d.year() == year)
                .map(|(d, reason)| (*d, Closed::Special(reason))),
        )
        .collect();
    days.sort_by_key(|(d, _)| *d);
    days
}

/// `YYYY-MM-DD HH:MM HH:MM` (date, open, close), as the CLI prints it.
pub fn format_session_line(s: &Session) -> String {
    format!(
        "{} {:02}:{:02} {:02}:{:02}",
        s.date,
        s.open.hour(),
        s.open.minute(),
        s.close.hour(),
        s.close.minute()
    )
}

fn holiday_on(d: Date) -> Option<&'static str> {
    observed_holidays(d.year())
        .into_iter()
        .flatten()
        .find(|(day, _)| *day == d)
        .map(|(_, name)| name)
}

/// The regular holidays of `year` on their observed dates. `year` must be in
/// the calendar range, which keeps every `date()` below valid.
fn observed_holidays(year: i16) -> [Option<(Date, &'static str)>; 10] {
    let new_year = date(year, 1, 1);
    let new_years_day = match new_year.weekday() {
        Weekday::Saturday => None,
        Weekday::Sunday => Some(date(year, 1, 2)),
        _ => Some(new_year),
    };
    [
        new_years_day.map(|d| (d, "New Year's Day")),
        (year >= 1998).then(|| {
            (
                nth_weekday(year, 1, Weekday::Monday, 3),
                "Martin Luther King Jr. Day",
            )
        }),
        Some((
            nth_weekday(year, 2, Weekday::Monday, 3),
            "Washington's Birthday",
        )),
        Some((good_friday(year), "Good Friday")),
        Some((last_weekday(year, 5, Weekday::Monday), "Memorial Day")),
        (year >= 2022).then(|| (weekend_observed(year, 6, 19), "Juneteenth")),
        Some((weekend_observed(year, 7, 4), "Independence Day")),
        Some((nth_weekday(year, 9, Weekday::Monday, 1), "Labor Day")),
        Some((thanksgiving(year), "Thanksgiving Day")),
        Some((weekend_observed(year, 12, 25), "Christmas Day")),
    ]
}

fn thanksgiving(year: i16) -> Date {
    nth_weekday(year, 11, Weekday::Thursday, 4)
}

/// The `n`th (1..=4) `weekday` of a month; always within the month's first 28 days.
fn nth_weekday(year: i16, month: i8, weekday: Weekday, n: i8) -> Date {
    let first = date(year, month, 1).weekday();
    let offset = (weekday.to_monday_zero_offset() - first.to_monday_zero_offset()).rem_euclid(7);
    date(year, month, 1 + offset + 7 * (n - 1))
}

fn last_weekday(year: i16, month: i8, weekday: Weekday) -> Date {
    let last = date(year, month, 1).last_of_month();
    let back =
        (last.weekday().to_monday_zero_offset() - weekday.to_monday_zero_offset()).rem_euclid(7);
    date(year, month, last.day() - back)
}

/// Saturday to the Friday before, Sunday to the Monday after. Only used for
/// mid-month fixed dates, so the neighbouring day is in the same month.
fn weekend_observed(year: i16, month: i8, day: i8) -> Date {
    let d = date(year, month, day);
    match d.weekday() {
        Weekday::Saturday => date(year, month, day - 1),
        Weekday::Sunday => date(year, month, day + 1),
        _ => d,
    }
}

/// Two days before Easter Sunday (Gregorian computus, anonymous algorithm).
fn good_friday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let easter_month = (h + l - 7 * m + 114) / 31;
    let easter_day = (h + l - 7 * m + 114) % 31 + 1;
    // Counting days from March 1 sidesteps the month boundary when Easter is
    // on April 1 or 2.
    let from_march_1 = if easter_month == 3 {
        easter_day
    } else {
        31 + easter_day
    } - 2;
    // Easter is between March 22 and April 25, so these casts cannot truncate.
    if from_march_1 <= 31 {
        date(year, 3, from_march_1 as i8)
    } else {
        date(year, 4, (from_march_1 - 31) as i8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i16, m: i8, day: i8) -> Date {
        date(y, m, day)
    }

    fn closed(y: i16, m: i8, day: i8) -> Closed {
        session(d(y, m, day)).expect_err("expected a closed day")
    }

    fn open(y: i16, m: i8, day: i8) -> Session {
        session(d(y, m, day)).expect("expected a session")
    }

    fn trading_days(year: i16) -> usize {
        sessions(d(year, 1, 1), d(year, 12, 31)).count()
    }

    #[test]
    fn holidays_2025() {
        let expected = [
            (d(2025, 1, 1), "New Year's Day"),
            (d(2025, 1, 20), "Martin Luther King Jr. Day"),
            (d(2025, 2, 17), "Washington's Birthday"),
            (d(2025, 4, 18), "Good Friday"),
            (d(2025, 5, 26), "Memorial Day"),
            (d(2025, 6, 19), "Juneteenth"),
            (d(2025, 7, 4), "Independence Day"),
            (d(2025, 9, 1), "Labor Day"),
            (d(2025, 11, 27), "Thanksgiving Day"),
            (d(2025, 12, 25), "Christmas Day"),
        ];
        for (day, name) in expected {
            assert_eq!(session(day), Err(Closed::Holiday(name)), "{day}");
        }
        assert!(matches!(closed(2025, 1, 9), Closed::Special(_)));
        assert_eq!(closures(2025).len(), 11);
    }

    #[test]
    fn holidays_2026() {
        let expected = [
            d(2026, 1, 1),
            d(2026, 1, 19),
            d(2026, 2, 16),
            d(2026, 4, 3),
            d(2026, 5, 25),
            d(2026, 6, 19),
            d(2026, 7, 3),
            d(2026, 9, 7),
            d(2026, 11, 26),
            d(2026, 12, 25),
        ];
        for day in expected {
            assert!(
                matches!(session(day), Err(Closed::Holiday(_))),
                "{day} should be a holiday"
            );
        }
        let listed: Vec<Date> = closures(2026).into_iter().map(|(day, _)| day).collect();
        assert_eq!(listed, expected);
        assert_eq!(closed(2026, 7, 3), Closed::Holiday("Independence Day"));
        // Independence Day observed on Friday July 3 leaves Thursday a full day.
        assert_eq!(open(2026, 7, 2).close, REGULAR_CLOSE);
    }

    #[test]
    fn early_closes_2025_2026() {
        for day in [
            d(2025, 7, 3),
            d(2025, 11, 28),
            d(2025, 12, 24),
            d(2026, 11, 27),
            d(2026, 12, 24),
        ] {
            let s = session(day).expect("early-close days are trading days");
            assert_eq!((s.open, s.close), (REGULAR_OPEN, EARLY_CLOSE), "{day}");
            assert!(s.is_early_close());
        }
        let early_2026 = sessions(d(2026, 1, 1), d(2026, 12, 31))
            .filter(Session::is_early_close)
            .count();
        assert_eq!(early_2026, 2);
        // Christmas 2025 is a Thursday; the Friday after is a full day.
        assert!(!open(2025, 12, 26).is_early_close());
        assert_eq!(
            irregular_hours_reason(d(2025, 12, 24)),
            Some("early close: Christmas Eve")
        );
        assert_eq!(irregular_hours_reason(d(2025, 12, 23)), None);
    }

    #[test]
    fn independence_day_early_close_history() {
        // July 3 on a Monday, Tuesday or Thursday: early since 1995.
        assert_eq!(open(1990, 7, 3).close, REGULAR_CLOSE);
        assert_eq!(open(1995, 7, 3).close, EARLY_CLOSE);
        assert_eq!(open(2017, 7, 3).close, EARLY_CLOSE);
        assert_eq!(open(2018, 7, 3).close, EARLY_CLOSE);
        // Thursday July 4: the Friday after until 2012, the Wednesday before since 2013.
        assert_eq!(open(1996, 7, 3).close, REGULAR_CLOSE);
        assert_eq!(open(1996, 7, 5).close, EARLY_CLOSE);
        assert_eq!(open(2002, 7, 5).close, EARLY_CLOSE);
        assert_eq!(open(2013, 7, 3).close, EARLY_CLOSE);
        assert_eq!(open(2013, 7, 5).close, REGULAR_CLOSE);
        assert_eq!(open(2019, 7, 3).close, EARLY_CLOSE);
        assert_eq!(open(2024, 7, 3).close, EARLY_CLOSE);
        // Sunday July 4 is observed Monday; the Friday before is a full day.
        assert_eq!(closed(2021, 7, 5), Closed::Holiday("Independence Day"));
        assert_eq!(open(2021, 7, 2).close, REGULAR_CLOSE);
    }

    #[test]
    fn thanksgiving_and_christmas_eve_history() {
        assert_eq!(open(1991, 11, 29).close, REGULAR_CLOSE);
        assert_eq!(open(1992, 11, 27).close, time(14, 0, 0, 0));
        assert_eq!(open(1993, 11, 26).close, EARLY_CLOSE);
        assert_eq!(open(1990, 12, 24).close, time(14, 0, 0, 0));
        assert_eq!(open(1992, 12, 24).close, time(14, 0, 0, 0));
        assert_eq!(open(1996, 12, 24).close, EARLY_CLOSE);
        assert_eq!(open(1997, 12, 26).close, EARLY_CLOSE);
        assert_eq!(open(2003, 12, 26).close, EARLY_CLOSE);
        assert_eq!(open(2008, 12, 26).close, REGULAR_CLOSE);
        // Christmas Eve on a Friday is the observed Christmas holiday.
        assert_eq!(closed(2021, 12, 24), Closed::Holiday("Christmas Day"));
        assert_eq!(open(2021, 12, 23).close, REGULAR_CLOSE);
        assert_eq!(closed(2022, 12, 26), Closed::Holiday("Christmas Day"));
        assert_eq!(open(1999, 12, 31).close, REGULAR_CLOSE);
    }

    #[test]
    fn saturday_new_year_is_not_observed_on_friday() {
        assert_eq!(closed(2022, 1, 1), Closed::Weekend);
        assert_eq!(open(2021, 12, 31).close, REGULAR_CLOSE);
        assert!(is_trading_day(d(2022, 1, 3)));
        assert_eq!(closed(2023, 1, 2), Closed::Holiday("New Year's Day"));
    }

    #[test]
    fn juneteenth_from_2022_with_weekend_observance() {
        assert!(is_trading_day(d(2021, 6, 18)));
        assert_eq!(closed(2022, 6, 20), Closed::Holiday("Juneteenth"));
        assert_eq!(closed(2027, 6, 18), Closed::Holiday("Juneteenth"));
    }

    #[test]
    fn mlk_day_from_1998() {
        assert!(is_trading_day(d(1997, 1, 20)));
        assert_eq!(
            closed(1998, 1, 19),
            Closed::Holiday("Martin Luther King Jr. Day")
        );
    }

    #[test]
    fn good_friday_computus() {
        for (y, m, day) in [
            (1990, 4, 13),
            (2000, 4, 21),
            (2008, 3, 21),
            (2013, 3, 29),
            (2016, 3, 25),
            (2024, 3, 29),
            (2027, 3, 26),
            (2038, 4, 23),
            (2100, 3, 26),
        ] {
            assert_eq!(closed(y, m, day), Closed::Holiday("Good Friday"), "{y}");
        }
    }

    #[test]
    fn special_closures() {
        for (y, m, day) in [
            (1994, 4, 27),
            (2001, 9, 11),
            (2001, 9, 12),
            (2001, 9, 13),
            (2001, 9, 14),
            (2004, 6, 11),
            (2007, 1, 2),
            (2012, 10, 29),
            (2012, 10, 30),
            (2018, 12, 5),
            (2025, 1, 9),
        ] {
            assert!(
                matches!(closed(y, m, day), Closed::Special(_)),
                "{y}-{m}-{day}"
            );
        }
        assert_eq!(
            next_session_on_or_after(d(2001, 9, 11)).map(|s| s.date),
            Some(d(2001, 9, 17))
        );
        assert_eq!(open(2001, 9, 17).open, time(9, 33, 0, 0));
        assert_eq!(open(1996, 1, 8).close, time(14, 0, 0, 0));
    }

    #[test]
    fn open_and_close_instants_follow_dst() {
        let winter = open(2026, 1, 5);
        let summer = open(2026, 7, 6);
        assert_eq!(winter.open_at().to_string(), "2026-01-05T14:30:00Z");
        assert_eq!(summer.open_at().to_string(), "2026-07-06T13:30:00Z");
        assert_eq!(winter.close_at().to_string(), "2026-01-05T21:00:00Z");
        assert_eq!(
            open(2026, 11, 27).close_at().to_string(),
            "2026-11-27T18:00:00Z"
        );
    }

    #[test]
    fn trading_day_counts() {
        assert_eq!(trading_days(2001), 248);
        assert_eq!(trading_days(2012), 250);
        assert_eq!(trading_days(2022), 251);
        assert_eq!(trading_days(2023), 250);
        assert_eq!(trading_days(2024), 252);
        assert_eq!(trading_days(2025), 250);
        assert_eq!(trading_days(2026), 251);
    }

    #[test]
    fn out_of_range() {
        assert_eq!(session(d(1989, 12, 29)), Err(Closed::OutOfRange));
        assert_eq!(session(d(2101, 1, 3)), Err(Closed::OutOfRange));
        assert!(!is_trading_day(d(2101, 1, 3)));
        assert_eq!(next_session_on_or_after(d(2101, 1, 1)), None);
        assert_eq!(
            next_session_on_or_after(d(1980, 6, 1)).map(|s| s.date),
            Some(d(1990, 1, 2))
        );
        assert_eq!(previous_session_before(d(1990, 1, 2)), None);
        assert_eq!(
            previous_session_before(d(2200, 1, 1)).map(|s| s.date),
            Some(d(2100, 12, 31))
        );
        assert_eq!(sessions(d(1980, 1, 1), d(1989, 12, 31)).count(), 0);
        assert_eq!(sessions(d(2026, 1, 2), d(2026, 1, 1)).count(), 0);
        assert!(closures(2101).is_empty());
        assert!(!is_open_at("2101-01-03T15:00:00Z".parse().expect("valid")));
    }

    #[test]
    fn next_and_previous_skip_closed_days() {
        assert_eq!(
            next_session_on_or_after(d(2026, 1, 17)).map(|s| s.date),
            Some(d(2026, 1, 20))
        );
        assert_eq!(
            next_session_on_or_after(d(2026, 1, 20)).map(|s| s.date),
            Some(d(2026, 1, 20))
        );
        assert_eq!(
            previous_session_before(d(2026, 4, 6)).map(|s| s.date),
            Some(d(2026, 4, 2))
        );
    }

    #[test]
    fn is_open_at_is_half_open() {
        let at = |s: &str| -> Timestamp { s.parse().expect("valid timestamp") };
        assert!(!is_open_at(at("2026-01-05T14:29:59Z")));
        assert!(is_open_at(at("2026-01-05T14:30:00Z")));
        assert!(is_open_at(at("2026-01-05T20:59:59Z")));
        assert!(!is_open_at(at("2026-01-05T21:00:00Z")));
        assert!(!is_open_at(at("2026-11-27T18:00:00Z")));
        assert!(is_open_at(at("2026-11-27T17:59:00Z")));
        assert!(!is_open_at(at("2026-01-19T15:00:00Z")));
    }

    #[test]
    fn session_line_format() {
        assert_eq!(
            format_session_line(&open(2026, 11, 27)),
            "2026-11-27 09:30 13:00"
        );
        assert_eq!(
            format_session_line(&open(2026, 1, 5)),
            "2026-01-05 09:30 16:00"
        );
    }

    #[test]
    fn closed_displays() {
        assert_eq!(
            Closed::Holiday("Good Friday").to_string(),
            "holiday: Good Friday"
        );
        assert_eq!(Closed::Weekend.to_string(), "weekend");
    }

    #[test]
    fn every_year_has_a_plausible_number_of_sessions() {
        for year in FIRST_YEAR..=LAST_YEAR {
            let n = trading_days(year);
            assert!((245..=254).contains(&n), "{year}: {n}");
        }
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (1985i16..=2105, 1i8..=12, 1i8..=28).prop_map(|(y, m, day)| date(y, m, day))
    }

    proptest! {
        #[test]
        fn sessions_equals_filtering_every_date(from in any_date(), len in 0i64..400) {
            let to = from
                .checked_add(jiff::Span::new().days(len))
                .expect("small offsets stay in range");
            let expected: Vec<Session> =
                std::iter::successors(Some(from), |x| x.tomorrow().ok().filter(|n| *n <= to))
                    .filter(|x| is_trading_day(*x))
                    .map(|x| session(x).expect("trading day"))
                    .collect();
            let actual: Vec<Session> = sessions(from, to).collect();
            prop_assert_eq!(actual, expected);
        }

        #[test]
        fn next_session_is_the_first_trading_day(from in any_date()) {
            if let Some(s) = next_session_on_or_after(from) {
                prop_assert!(s.date >= from);
                prop_assert_eq!(sessions(from, s.date).next(), Some(s));
                if let Some(p) = previous_session_before(s.date) {
                    prop_assert!(sessions(p.date, s.date).count() == 2);
                }
            }
        }
    }
}
