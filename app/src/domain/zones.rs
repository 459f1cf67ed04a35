//! Time zones by IANA name, with one API for both builds.
//!
//! Native builds (the server, tests) read the whole tz database jiff bundles. The browser
//! build carries no tz database: at 207 KB it would add about 49 KB gzip to every page.
//! Instead `build.rs` compiles in, for every zone name, the POSIX TZ rule the zone follows
//! today (a few bytes each), or the zone's whole TZif file where that rule does not
//! reproduce its transitions from 2025 on (announced changes, Morocco's Ramadan time), and
//! New York's whole history (the exchange's zone; backtests read it decades back). The
//! browser only converts instants from now on in users' zones (upcoming purchases and their
//! preview), for which this is exact; past instants are shown in New York time, and the
//! server, which schedules the purchases, always uses the whole database.

use jiff::tz::TimeZone;
use std::sync::OnceLock;

/// The exchange's time zone.
pub const NEW_YORK: &str = "America/New_York";

/// The zone called `name` (IANA, case-insensitive), or None for an unknown name.
pub fn get(name: &str) -> Option<TimeZone> {
    if name.eq_ignore_ascii_case(NEW_YORK) {
        return Some(new_york());
    }
    lookup(name)
}

/// New York, parsed once.
pub fn new_york() -> TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| lookup(NEW_YORK).expect("every build knows America/New_York"))
        .clone()
}

#[cfg(not(target_arch = "wasm32"))]
fn lookup(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

#[cfg(target_arch = "wasm32")]
fn lookup(name: &str) -> Option<TimeZone> {
    compiled::lookup(name)
}

/// The table `build.rs` generates, and its lookup. Compiled into the browser build, and
/// into native tests, which check it against the whole database.
#[cfg(any(target_arch = "wasm32", test))]
mod compiled {
    use jiff::tz::TimeZone;

    include!(concat!(env!("OUT_DIR"), "/zones.rs"));

    /// Every zone: its name and its rule (a POSIX TZ string exact from 2025 on, or `#n`
    /// for the n-th whole TZif file).
    pub(crate) fn zones() -> impl Iterator<Item = (&'static str, &'static str)> {
        LINES.lines().filter_map(|line| line.split_once(' '))
    }

    /// A linear scan of ~600 short lines: microseconds, and no index to ship.
    pub(crate) fn lookup(name: &str) -> Option<TimeZone> {
        let (known, rule) = zones().find(|(known, _)| known.eq_ignore_ascii_case(name))?;
        match rule.strip_prefix('#') {
            Some(index) => TimeZone::tzif(known, TZIFS.get(index.parse::<usize>().ok()?)?).ok(),
            None => TimeZone::posix(rule).ok(),
        }
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

    /// The browser's table knows every zone the server knows, and gives the same offset
    /// every 6 hours from 2025 to 2035 and on both sides of every transition the database
    /// has in those years (a rule that drifted, or moved a transition, would show here).
    #[test]
    fn the_browser_table_agrees_with_the_whole_database_from_2025() {
        let mut checked = 0;
        for (name, _) in compiled::zones() {
            let whole = TimeZone::get(name).unwrap();
            let browser = compiled::lookup(name)
                .unwrap_or_else(|| panic!("{name} does not rebuild in the browser"));
            let (from, until) = (at("2025-01-01T00:00:00Z"), at("2035-01-01T00:00:00Z"));
            let second = jiff::SignedDuration::from_secs(1);
            let transitions = whole
                .following(from)
                .map(|t| t.timestamp())
                .take_while(|t| *t < until)
                .flat_map(|t| [t.checked_sub(second).unwrap(), t]);
            let every_6h = std::iter::successors(Some(from), |t| {
                t.checked_add(jiff::SignedDuration::from_hours(6)).ok()
            })
            .take_while(|t| *t < until);
            for t in transitions.chain(every_6h) {
                assert_eq!(whole.to_offset(t), browser.to_offset(t), "{name} at {t}");
            }
            checked += 1;
        }
        assert!(checked > 300, "only {checked} zones in the table");
    }

    /// New York comes whole: the 2006 rules (DST from the first Sunday of April) hold.
    #[test]
    fn new_york_keeps_its_history_in_the_browser_table() {
        let ny = compiled::lookup(NEW_YORK).unwrap();
        let offset = ny.to_offset(at("2006-03-20T15:00:00Z"));
        assert_eq!(
            offset.seconds(),
            -5 * 3600,
            "still standard time in March 2006"
        );
    }
}
