//! How the UI shows values. Dates are spelled out here rather than with `strftime`, whose
//! formatting engine would add to every page's WebAssembly.

use crate::domain::market::round_cents;
use crate::domain::zones;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use rust_decimal::Decimal;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn month_name(date: Date) -> &'static str {
    MONTHS[usize::try_from(date.month() - 1).unwrap_or(0)]
}

/// `v` rounded to `decimals` places ("-3.14"; "—" if not finite). For ratios and screen
/// coordinates, never money. Spelled out with integers: Rust's float formatting would add
/// about 20 KB to the pages' WebAssembly.
pub fn fixed(v: f64, decimals: u32) -> String {
    let scale = 10_i64.pow(decimals);
    // `as` saturates, so even absurd values cannot panic here.
    let scaled = (v * scale as f64).round() as i64;
    if !v.is_finite() {
        return "—".into();
    }
    let sign = if scaled < 0 { "-" } else { "" };
    let (whole, frac) = (
        scaled.unsigned_abs() / scale.unsigned_abs(),
        scaled.unsigned_abs() % scale.unsigned_abs(),
    );
    if decimals == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{frac:0width$}", width = decimals as usize)
    }
}

/// The current instant: the browser's `Date.now()` there (jiff's `Timestamp::now` has an
/// `expect` that would link its error messages into the WebAssembly), the system clock on
/// the server.
pub fn now() -> Timestamp {
    #[cfg(feature = "hydrate")]
    {
        // `Date.now()` is whole milliseconds, well inside jiff's range.
        Timestamp::from_millisecond(js_sys::Date::now() as i64).unwrap_or(Timestamp::UNIX_EPOCH)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Timestamp::now()
    }
}

/// `1 Dec`.
pub fn day_month(date: Date) -> String {
    format!("{} {}", date.day(), &month_name(date)[..3])
}

/// `Mon 1 Dec`.
pub fn weekday_day_month(date: Date) -> String {
    let weekday = WEEKDAYS[usize::from(date.weekday().to_monday_zero_offset().unsigned_abs())];
    format!("{weekday} {}", day_month(date))
}

/// `1 December 2026`.
pub fn long_date(date: Date) -> String {
    format!("{} {} {}", date.day(), month_name(date), date.year())
}

/// `10:00` (24-hour).
pub fn clock(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

/// `Mon 1 Dec 2026, 10:00`.
pub fn date_time(at: DateTime) -> String {
    format!(
        "{} {}, {}",
        weekday_day_month(at.date()),
        at.year(),
        clock(at.time())
    )
}

/// `at` as a date and time in `zone` ("Mon 1 Dec 2026, 10:00"); an RFC 3339 instant when
/// the zone is unknown.
pub fn local_time(at: Timestamp, zone: &str) -> String {
    match zones::get(zone) {
        Some(tz) => date_time(tz.to_datetime(at)),
        None => at.to_string(),
    }
}

/// The browser's time zone (New York while rendering on the server, or when the browser's
/// zone is one the table does not know).
pub fn browser_zone() -> String {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsValue;
        let options =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
                .resolved_options();
        if let Some(name) = js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
            .ok()
            .and_then(|name| name.as_string())
            .filter(|name| zones::get(name).is_some())
        {
            return name;
        }
    }
    zones::NEW_YORK.into()
}

/// `$100,000.00`: cents, with thousands separated.
pub fn money(amount: Decimal) -> String {
    let text = round_cents(amount).abs().to_string();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount.is_sign_negative() && !amount.is_zero() {
        "−"
    } else {
        ""
    };
    format!("{sign}${grouped}.{cents}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use rust_decimal::dec;

    #[test]
    fn dates_read_like_people_write_them() {
        let monday = date(2026, 12, 7);
        assert_eq!(weekday_day_month(monday), "Mon 7 Dec");
        assert_eq!(day_month(date(2026, 12, 31)), "31 Dec");
        assert_eq!(weekday_day_month(date(2027, 1, 3)), "Sun 3 Jan");
        assert_eq!(long_date(date(2026, 5, 1)), "1 May 2026");
        assert_eq!(date_time(monday.at(9, 5, 0, 0)), "Mon 7 Dec 2026, 09:05");
        let at: Timestamp = "2026-07-01T14:00:00Z".parse().unwrap();
        assert_eq!(local_time(at, "Europe/London"), "Wed 1 Jul 2026, 15:00");
        assert_eq!(local_time(at, "America/New_York"), "Wed 1 Jul 2026, 10:00");
        assert_eq!(local_time(at, "Atlantis/Capital"), "2026-07-01T14:00:00Z");
    }

    #[test]
    fn money_is_grouped_in_thousands() {
        assert_eq!(money(dec!(100000)), "$100,000.00");
        assert_eq!(money(dec!(999.5)), "$999.50");
        assert_eq!(money(dec!(1234567.891)), "$1,234,567.89");
        assert_eq!(money(dec!(-42.1)), "−$42.10");
        assert_eq!(money(dec!(0)), "$0.00");
    }

    #[test]
    fn fixed_rounds_like_format_does() {
        for (v, decimals) in [
            (1.23456, 2),
            (-0.5, 1),
            (-0.04, 1),
            (2.0, 0),
            (1234.567, 1),
            (0.005, 2),
            (-12.35, 1),
        ] {
            let expected = format!("{v:.prec$}", prec = decimals as usize);
            // Rust's formatting rounds ties to even on the binary value; round() goes away
            // from zero. They may differ on exact ties only, so compare numerically.
            let ours: f64 = fixed(v, decimals).parse().unwrap();
            let theirs: f64 = expected.parse().unwrap();
            assert!(
                (ours - theirs).abs() <= 10f64.powi(-(decimals as i32)),
                "{v} {decimals}: {ours} vs {theirs}"
            );
        }
        assert_eq!(fixed(1.23456, 2), "1.23");
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(fixed(-2.25, 1), "-2.3");
        assert_eq!(fixed(42.0, 0), "42");
        assert_eq!(fixed(0.5, 2), "0.50");
        assert_eq!(fixed(f64::NAN, 2), "—");
    }
}
