//! Instants and dates as the wire writes them, read without jiff's general parser in the
//! browser build.
//!
//! jiff's temporal parser (behind `Timestamp`'s and `Date`'s `FromStr` and serde impls)
//! has an `expect` whose failure path formats a `jiff::Error`, which links every error
//! message jiff has into the WebAssembly (tens of KB on every page). The server writes
//! instants only as jiff prints them (`2026-12-01T15:00:00Z`, with an optional fraction)
//! and dates as `YYYY-MM-DD`, so the browser reads exactly those forms here. Native builds
//! keep jiff's parser, which also takes offsets such as `+01:00` from REST clients.
//!
//! The serde helpers go on fields: `#[serde(deserialize_with = "…::timestamp")]`, and
//! `#[serde(default, deserialize_with = "…::option_timestamp")]` for optional ones
//! (`default` keeps a missing field `None`).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use serde::Deserialize;
use serde::de::{Deserializer, Error, Unexpected};

const INSTANT: &str = "an RFC 3339 instant, such as 2026-12-01T15:00:00Z";
const DATE: &str = "a date, such as 2026-12-01";

fn digits(text: &str) -> Option<i32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYY-MM-DD`, a real calendar date.
pub fn parse_date(text: &str) -> Option<Date> {
    let (year, rest) = text.split_at_checked(4)?;
    let (month, day) = rest.strip_prefix('-')?.split_once('-')?;
    if month.len() != 2 || day.len() != 2 {
        return None;
    }
    let year = i16::try_from(digits(year)?).ok()?;
    let month = i8::try_from(digits(month)?).ok()?;
    let day = i8::try_from(digits(day)?).ok()?;
    Date::new(year, month, day).ok()
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the form jiff prints instants in.
pub fn parse_instant(text: &str) -> Option<Timestamp> {
    let (date, time) = text.split_once('T')?;
    let time = time.strip_suffix('Z')?;
    let (clock, fraction) = match time.split_once('.') {
        Some((_, "")) => return None,
        Some(split) => split,
        None => (time, ""),
    };
    let mut parts = clock.split(':');
    let (hour, minute, second) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || [hour, minute, second].iter().any(|p| p.len() != 2) {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else if fraction.len() <= 9 {
        digits(fraction)? * 10_i32.pow(9 - fraction.len() as u32)
    } else {
        return None;
    };
    let time = Time::new(
        i8::try_from(digits(hour)?).ok()?,
        i8::try_from(digits(minute)?).ok()?,
        i8::try_from(digits(second)?).ok()?,
        nanos,
    )
    .ok()?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(DateTime::from_parts(parse_date(date)?, time))
        .ok()
}

#[cfg(target_arch = "wasm32")]
fn instant(text: &str) -> Option<Timestamp> {
    parse_instant(text)
}

#[cfg(not(target_arch = "wasm32"))]
fn instant(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

#[cfg(target_arch = "wasm32")]
fn date(text: &str) -> Option<Date> {
    parse_date(text)
}

#[cfg(not(target_arch = "wasm32"))]
fn date(text: &str) -> Option<Date> {
    text.parse().ok()
}

fn read<'de, D: Deserializer<'de>, T>(
    text: String,
    parse: fn(&str) -> Option<T>,
    expected: &'static str,
) -> Result<T, D::Error> {
    parse(&text).ok_or_else(|| D::Error::invalid_value(Unexpected::Str(&text), &expected))
}

pub fn timestamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
    read::<D, _>(String::deserialize(deserializer)?, instant, INSTANT)
}

pub fn option_timestamp<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(|text| read::<D, _>(text, instant, INSTANT))
        .transpose()
}

pub fn civil_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    read::<D, _>(String::deserialize(deserializer)?, date, DATE)
}

pub fn option_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Date>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(|text| read::<D, _>(text, date, DATE))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Serialize;

    proptest! {
        /// Whatever jiff prints, the browser's reader gives back exactly.
        #[test]
        fn reads_every_instant_jiff_prints(secs in 0i64..4_102_444_800, nanos in 0i32..1_000_000_000) {
            let at = Timestamp::new(secs, nanos).unwrap();
            prop_assert_eq!(parse_instant(&at.to_string()), Some(at));
            let day = jiff::tz::TimeZone::UTC.to_datetime(at).date();
            prop_assert_eq!(parse_date(&day.to_string()), Some(day));
        }
    }

    #[test]
    fn refuses_what_is_not_the_wire_form() {
        for bad in [
            "",
            "2026-12-01",
            "2026-12-01T15:00:00",
            "2026-12-01T15:00Z",
            "2026-12-01T25:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-12-01T15:00:00.Z",
            "2026-12-01T15:00:00.1234567890Z",
            "2026-12-01t15:00:00Z",
            "+2026-12-01T15:00:00Z",
            "2026-12-01T15:00:00+01:00",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad:?}");
        }
        for bad in [
            "",
            "2026-2-01",
            "2026-02-30",
            "20261201",
            "2026-12-01T00:00:00Z",
            "-2026-12-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_instant("2026-12-01T15:00:00.5Z"),
            Some("2026-12-01T15:00:00.5Z".parse().unwrap())
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Wire {
        #[serde(deserialize_with = "super::timestamp")]
        at: Timestamp,
        #[serde(default, deserialize_with = "super::option_timestamp")]
        maybe: Option<Timestamp>,
        #[serde(default, deserialize_with = "super::option_date")]
        day: Option<Date>,
    }

    #[test]
    fn serde_reads_what_jiff_writes_and_says_what_it_expected() {
        let wire = Wire {
            at: "2026-12-01T15:00:00Z".parse().unwrap(),
            maybe: Some("2026-12-01T15:00:00.123Z".parse().unwrap()),
            day: Some(jiff::civil::date(2026, 12, 1)),
        };
        let text = serde_json::to_string(&wire).unwrap();
        assert_eq!(serde_json::from_str::<Wire>(&text).unwrap(), wire);
        let sparse: Wire = serde_json::from_str(r#"{"at":"2026-12-01T15:00:00Z"}"#).unwrap();
        assert_eq!((sparse.maybe, sparse.day), (None, None));
        let err = serde_json::from_str::<Wire>(r#"{"at":"yesterday"}"#).unwrap_err();
        assert!(
            err.to_string().contains("expected an RFC 3339 instant"),
            "{err}"
        );
    }
}
