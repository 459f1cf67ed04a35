//! Time zones by IANA name, with one API for both builds.
//!
//! Native builds (the server, tests) read the whole tz database jiff bundles. The browser
//! build carries no tz database: at 207 KB it would add about 49 KB gzip to every page.
//! Instead `build.rs` compiles in, for every zone name, the POSIX TZ rule the zone follows
//! today (a few bytes each), or, where that rule does not reproduce its transitions from
//! 2025 on (announced changes, Morocco's Ramadan time), the zone's offsets as explicit
//! segments until the rule takes over; New York comes as segments from 1970 (the exchange's
//! zone; backtests read it decades back). The browser only converts instants from now on in
//! users' zones (upcoming purchases and their preview), for which this is exact; past
//! instants are shown in New York time, and the server, which schedules the purchases,
//! always uses the whole database.
//!
//! A [`Zone`] converts exactly as jiff's `TimeZone` does (a local time in a gap or a fold
//! resolves "compatibly": the offset before a gap, the earlier of a fold), so the browser
//! reads no TZif file and links neither jiff's TZif parser nor its checksum table.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use std::sync::{Arc, OnceLock};

/// The exchange's time zone.
pub const NEW_YORK: &str = "America/New_York";

/// The zone called `name` (IANA, case-insensitive), or None for an unknown name.
pub fn get(name: &str) -> Option<Zone> {
    if name.eq_ignore_ascii_case(NEW_YORK) {
        return Some(new_york());
    }
    lookup(name)
}

/// New York, built once.
pub fn new_york() -> Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(|| lookup(NEW_YORK).expect("every build knows America/New_York"))
        .clone()
}

/// A time zone: the conversions between instants and local times that QuantShift uses.
#[derive(Clone, Debug)]
pub struct Zone(Rules);

#[derive(Clone, Debug)]
enum Rules {
    /// jiff's zone: the whole database's (native builds) or a POSIX rule (the browser).
    Jiff(TimeZone),
    /// Fixed offsets, each from its instant (Unix seconds; the first from the beginning of
    /// time) until the next, and `rule` from `cut` on. Built from the compiled table only
    /// (the browser, and native tests).
    #[cfg_attr(not(any(target_arch = "wasm32", test)), allow(dead_code))]
    Segments {
        segments: Arc<[(i64, Offset)]>,
        cut: i64,
        rule: TimeZone,
    },
}

impl From<TimeZone> for Zone {
    fn from(zone: TimeZone) -> Self {
        Self(Rules::Jiff(zone))
    }
}

impl Zone {
    /// The local date and time at `at`.
    pub fn to_datetime(&self, at: Timestamp) -> DateTime {
        self.to_offset(at).to_datetime(at)
    }

    /// The offset from UTC in effect at `at`.
    pub fn to_offset(&self, at: Timestamp) -> Offset {
        match &self.0 {
            Rules::Jiff(zone) => zone.to_offset(at),
            Rules::Segments { cut, rule, .. } if at.as_second() >= *cut => rule.to_offset(at),
            Rules::Segments { segments, .. } => {
                // The first segment starts at i64::MIN, so one always holds `at`.
                let index = segments.partition_point(|(start, _)| *start <= at.as_second());
                segments[index.saturating_sub(1)].1
            }
        }
    }

    /// The instant a local date and time names; in a gap the offset before it applies, in
    /// a fold the earlier instant (jiff's "compatible" choice).
    pub fn to_timestamp(&self, local: DateTime) -> Result<Timestamp, jiff::Error> {
        let (segments, cut, rule) = match &self.0 {
            Rules::Jiff(zone) => return zone.to_timestamp(local),
            Rules::Segments {
                segments,
                cut,
                rule,
            } => (segments, *cut, rule),
        };
        // Neither the zone nor its rule changes within three days of the cut (build.rs), so
        // an answer of the rule's at or after it is the answer.
        let by_rule = rule.to_timestamp(local)?;
        if by_rule.as_second() >= cut {
            return Ok(by_rule);
        }
        let wall = Offset::UTC.to_timestamp(local)?.as_second();
        let mut previous: Option<i64> = None;
        for (index, (start, offset)) in segments.iter().enumerate() {
            let end = segments.get(index + 1).map_or(cut, |(next, _)| *next);
            let candidate = wall - i64::from(offset.seconds());
            if *start <= candidate && candidate < end {
                // Segments are in order, so in a fold the first that holds it is earlier.
                return Timestamp::from_second(candidate);
            }
            if candidate < *start {
                // `local` is skipped by the change into this segment: a gap.
                return Timestamp::from_second(previous.unwrap_or(candidate));
            }
            previous = Some(candidate);
        }
        // Past the last segment's end, which is the cut: the offset there is the last
        // segment's (build.rs checks), and nothing changes for three days.
        match previous {
            Some(candidate) => Timestamp::from_second(candidate),
            None => Ok(by_rule),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn lookup(name: &str) -> Option<Zone> {
    TimeZone::get(name).ok().map(Zone::from)
}

#[cfg(target_arch = "wasm32")]
fn lookup(name: &str) -> Option<Zone> {
    compiled::lookup(name)
}

/// The table `build.rs` generates, and its lookup. Compiled into the browser build, and
/// into native tests, which check it against the whole database.
#[cfg(any(target_arch = "wasm32", test))]
mod compiled {
    use super::{Rules, Zone};
    use jiff::tz::{Offset, TimeZone};

    include!(concat!(env!("OUT_DIR"), "/zones.rs"));

    /// Every zone: its name and its rule, a POSIX TZ string exact from 2025 on or
    /// `~OFFSET,T:OFFSET,…;CUT;RULE` (see [`Rules::Segments`]).
    pub(crate) fn zones() -> impl Iterator<Item = (&'static str, &'static str)> {
        LINES.lines().filter_map(|line| line.split_once(' '))
    }

    /// A linear scan of ~600 short lines: microseconds, and no index to ship.
    pub(crate) fn lookup(name: &str) -> Option<Zone> {
        let (_, rule) = zones().find(|(known, _)| known.eq_ignore_ascii_case(name))?;
        let Some(explicit) = rule.strip_prefix('~') else {
            return TimeZone::posix(rule).ok().map(Zone::from);
        };
        let mut parts = explicit.splitn(3, ';');
        let (list, cut, rule) = (parts.next()?, parts.next()?, parts.next()?);
        let offset = |text: &str| Offset::from_seconds(text.parse().ok()?).ok();
        let mut list = list.split(',');
        let mut segments = vec![(i64::MIN, offset(list.next()?)?)];
        for segment in list {
            let (start, to) = segment.split_once(':')?;
            segments.push((start.parse().ok()?, offset(to)?));
        }
        Some(Zone(Rules::Segments {
            segments: segments.into(),
            cut: cut.parse().ok()?,
            rule: TimeZone::posix(rule).ok()?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn names_are_case_insensitive_and_unknown_ones_are_none() {
        assert!(get("europe/london").is_some());
        assert!(get("UTC").is_some());
        assert!(get("Atlantis/Capital").is_none());
        assert!(get("").is_none());
        assert!(compiled::lookup("europe/LONDON").is_some());
        assert!(compiled::lookup("Atlantis/Capital").is_none());
        assert!(compiled::lookup("").is_none());
    }

    /// `browser` gives the same offset as `whole` every 6 hours in `[from, until)` and on
    /// both sides of every transition there, and reads the local times around each
    /// transition (in its gap or fold, and either side) as the same instants.
    fn agree(name: &str, whole: &TimeZone, browser: &Zone, from: Timestamp, until: Timestamp) {
        let second = jiff::SignedDuration::from_secs(1);
        let transitions: Vec<Timestamp> = whole
            .following(from)
            .map(|t| t.timestamp())
            .take_while(|t| *t < until)
            .collect();
        let every_6h = std::iter::successors(Some(from), |t| {
            t.checked_add(jiff::SignedDuration::from_hours(6)).ok()
        })
        .take_while(|t| *t < until);
        let edges = transitions
            .iter()
            .flat_map(|t| [t.checked_sub(second).unwrap(), *t]);
        for t in edges.chain(every_6h) {
            assert_eq!(whole.to_offset(t), browser.to_offset(t), "{name} at {t}");
            assert_eq!(
                whole.to_datetime(t),
                browser.to_datetime(t),
                "{name} at {t}"
            );
        }
        let minutes = [-150, -90, -60, -59, -30, -1, 0, 1, 30, 59, 60, 61, 90, 150]
            .map(jiff::SignedDuration::from_mins);
        for t in transitions {
            local_times_agree(name, whole, browser, t, minutes);
        }
    }

    /// `browser` reads the local times `steps` away from the local time at `at` (in gaps,
    /// folds and either side) as the same instants as `whole`.
    fn local_times_agree(
        name: &str,
        whole: &TimeZone,
        browser: &Zone,
        at: Timestamp,
        steps: impl IntoIterator<Item = jiff::SignedDuration>,
    ) {
        for step in steps {
            let local = whole.to_datetime(at).checked_add(step).unwrap();
            assert_eq!(
                whole.to_timestamp(local).unwrap(),
                browser.to_timestamp(local).unwrap(),
                "{name}: {local}, near {at}"
            );
        }
    }

    /// The browser's table knows every zone the server knows and agrees with the whole
    /// database from 2025 to 2035 (a rule that drifted, or moved a transition, would show
    /// here); the zones kept as segments are checked to 2100, past their cut-over.
    #[test]
    fn the_browser_table_agrees_with_the_whole_database_from_2025() {
        let mut checked = 0;
        let mut segmented = 0;
        for (name, rule) in compiled::zones() {
            let whole = TimeZone::get(name).unwrap();
            let browser = compiled::lookup(name)
                .unwrap_or_else(|| panic!("{name} does not rebuild in the browser"));
            let until = if rule.starts_with('~') {
                segmented += 1;
                // Local times either side of the cut-over to the rule read alike too.
                let cut: i64 = rule.split(';').nth(1).unwrap().parse().unwrap();
                let cut = Timestamp::from_second(cut).unwrap();
                let hours = (-72..=72).map(jiff::SignedDuration::from_hours);
                local_times_agree(name, &whole, &browser, cut, hours);
                at("2100-01-01T00:00:00Z")
            } else {
                at("2035-01-01T00:00:00Z")
            };
            agree(name, &whole, &browser, at("2025-01-01T00:00:00Z"), until);
            checked += 1;
        }
        assert!(checked > 300, "only {checked} zones in the table");
        for name in jiff::tz::db().available() {
            assert!(
                compiled::lookup(name.as_str()).is_some(),
                "the browser does not know {name}"
            );
        }
        assert!(
            (5..40).contains(&segmented),
            "{segmented} zones as segments: Morocco, Gaza and announced changes expected"
        );
    }

    /// New York is exact from 1970: the 1974 energy-crisis DST, the 1987–2006 rules (DST from
    /// the first Sunday of April), and today's.
    #[test]
    fn new_york_keeps_its_history_in_the_browser_table() {
        let ny = compiled::lookup(NEW_YORK).unwrap();
        let offset = ny.to_offset(at("2006-03-20T15:00:00Z"));
        assert_eq!(
            offset.seconds(),
            -5 * 3600,
            "still standard time in March 2006"
        );
        agree(
            NEW_YORK,
            &TimeZone::get(NEW_YORK).unwrap(),
            &ny,
            at("1970-01-01T00:00:00Z"),
            at("2040-01-01T00:00:00Z"),
        );
    }

    /// Gaps and folds resolve like jiff's: the offset before a gap, the earlier of a fold.
    #[test]
    fn segments_resolve_gaps_and_folds_like_jiff() {
        let ny = compiled::lookup(NEW_YORK).unwrap();
        let local = |s: &str| s.parse::<DateTime>().unwrap();
        // 26 April 1981, 02:30 did not happen; 25 October 1981, 01:30 happened twice.
        assert_eq!(
            ny.to_timestamp(local("1981-04-26T02:30")).unwrap(),
            at("1981-04-26T07:30:00Z")
        );
        assert_eq!(
            ny.to_timestamp(local("1981-10-25T01:30")).unwrap(),
            at("1981-10-25T05:30:00Z")
        );
    }
}
