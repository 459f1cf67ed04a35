//! From a validated schedule to its execution instants: [`Schedule::next_slots`] and the
//! `Recurrence` it runs on (the rules are in the module documentation of `schedule`).

use std::collections::BTreeMap;

use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Span, Timestamp};

use super::{DEFAULT_MONTH_ANCHOR, DEFAULT_WEEK_ANCHOR};
use super::{DayOfMonth, Frequency, Schedule, ScheduleError, parse_time};
use crate::domain::calendar::{self, Closed};
use crate::domain::zones::{self, Zone};

/// How far before `after` candidates are replayed. Rolling moves a slot at most
/// about a week forward (the four-day September 2001 closure plus a weekend,
/// plus a day of time-zone offset), so replaying three weeks makes the
/// duplicate-skipping decisions identical to replaying the whole history.
const LOOKBACK_DAYS: i64 = 21;
const ONE_MINUTE: SignedDuration = SignedDuration::from_mins(1);

impl Schedule {
    /// The next `n` execution instants strictly after `after`, strictly
    /// increasing. Fewer than `n` are returned only when the exchange calendar
    /// ends ([`calendar::LAST_YEAR`]).
    pub fn next_slots(&self, after: Timestamp, n: usize) -> Result<Vec<Timestamp>, ScheduleError> {
        self.validate().map_err(ScheduleError::Invalid)?;
        let recurrence = Recurrence::new(self).ok_or_else(|| {
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
        let after_local = recurrence.tz.to_datetime(after).date();
        // `try_days`: the panicking `days` would link jiff's error messages into the browser.
        let start = Span::new()
            .try_days(LOOKBACK_DAYS)
            .and_then(|span| after_local.checked_sub(span))
            .unwrap_or(after_local);

        let mut last: Option<Timestamp> = None;
        for candidate in recurrence.candidates(start) {
            let slot = match candidate {
                Candidate::Local(local) => recurrence.resolve_local(local),
                Candidate::Session(session) => recurrence.resolve_session(session),
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
}

/// A validated schedule, ready to produce slots.
pub(super) struct Recurrence {
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

impl Recurrence {
    pub(super) fn new(s: &Schedule) -> Option<Recurrence> {
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
        Some(Recurrence {
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

    pub(super) fn nominal(&self, local: Date) -> Option<Timestamp> {
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
pub(super) fn week_index(d: Date) -> i64 {
    d.duration_since(DEFAULT_WEEK_ANCHOR)
        .as_secs()
        .div_euclid(7 * 86_400)
}

fn month_index(year: i16, month: i8) -> i64 {
    i64::from(year) * 12 + i64::from(month) - 1
}
