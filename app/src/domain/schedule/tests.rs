use super::slots::{Recurrence, week_index};
use super::*;
use jiff::Timestamp;
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
        Recurrence::new(&schedule(
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
