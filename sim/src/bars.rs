//! Historical bars of any timeframe, aggregated from the market's minute paths, with
//! Alpaca's timestamp conventions and pagination.
//!
//! - Intraday bars (`{N}Min`, `{N}Hour`) are aligned to UTC multiples of their length
//!   (so a `1Hour` bar is stamped on the clock hour, as Alpaca does) and cover only
//!   regular-session minutes.
//! - `1Day` bars are stamped at midnight New York time, `1Week` on Monday's midnight and
//!   `1Month` on the first of the month.
//! - Only minutes completed by "now" count: the last bar may be in progress, and its
//!   close is then the latest trade price.

use super::market::{ANCHOR, Market, Summary, from_cents, minutes_after};
use app::domain::calendar;
use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;

/// A bar's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFrame {
    Minutes(i64),
    Day,
    Week,
    Month,
}

impl TimeFrame {
    /// Parses Alpaca's `1Min`, `15Min`, `1Hour`, `4Hour`, `1Day`, `1Week`, `1Month` (also
    /// the short `T`/`H`/`D`/`W`/`M` forms).
    pub fn parse(s: &str) -> Option<Self> {
        let split = s.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = s.split_at(split);
        let n: i64 = if n.is_empty() { 1 } else { n.parse().ok()? };
        match unit {
            "Min" | "T" if (1..=59).contains(&n) => Some(Self::Minutes(n)),
            "Hour" | "H" if (1..=23).contains(&n) => Some(Self::Minutes(n * 60)),
            "Day" | "D" if n == 1 => Some(Self::Day),
            "Week" | "W" if n == 1 => Some(Self::Week),
            "Month" | "M" if n == 1 => Some(Self::Month),
            _ => None,
        }
    }
}

/// One aggregated bar, in exact decimals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutBar {
    pub time: Timestamp,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: u64,
    pub trades: u64,
    /// Volume-weighted average price.
    pub vwap: Decimal,
}

fn finish(time: Timestamp, s: &Summary) -> OutBar {
    let close = from_cents(s.close);
    let vwap = if s.volume == 0 {
        close
    } else {
        (Decimal::from_i128_with_scale(s.notional2, 2) / Decimal::from(2 * s.volume)).round_dp(4)
    };
    OutBar {
        time,
        open: from_cents(s.open),
        high: from_cents(s.high),
        low: from_cents(s.low),
        close,
        volume: s.volume,
        trades: s.volume / 100 + 1,
        vwap,
    }
}

/// Collects bars up to `limit`; answers the start of the first bar that did not fit.
struct Collector {
    out: Vec<OutBar>,
    current: Option<(Timestamp, Summary)>,
    limit: usize,
}

impl Collector {
    fn add(&mut self, bucket: Timestamp, s: Summary) -> Option<Timestamp> {
        match &mut self.current {
            Some((time, acc)) if *time == bucket => {
                acc.merge(&s);
                None
            }
            _ => {
                let full = self.flush();
                self.current = Some((bucket, s));
                full
            }
        }
    }

    fn flush(&mut self) -> Option<Timestamp> {
        let (time, acc) = self.current.take()?;
        if self.out.len() == self.limit {
            return Some(time);
        }
        self.out.push(finish(time, &acc));
        None
    }
}

fn ny_midnight(day: Date) -> Timestamp {
    calendar::new_york()
        .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn bucket(tf: TimeFrame, minute: Timestamp, day: Date) -> Timestamp {
    match tf {
        TimeFrame::Minutes(m) => {
            let len = m * 60;
            Timestamp::from_second(minute.as_second().div_euclid(len) * len).unwrap_or(minute)
        }
        TimeFrame::Day => ny_midnight(day),
        TimeFrame::Week => {
            let back = i64::from(day.weekday().to_monday_zero_offset());
            ny_midnight(day.checked_sub(jiff::Span::new().days(back)).unwrap_or(day))
        }
        TimeFrame::Month => ny_midnight(day.first_of_month()),
    }
}

/// Earliest bar start whose bucket could contain `start` (for choosing the first session).
fn first_day(tf: TimeFrame, start: Timestamp) -> Date {
    let day = calendar::new_york().to_datetime(start).date();
    let day = match tf {
        TimeFrame::Minutes(_) | TimeFrame::Day => day,
        TimeFrame::Week => day.checked_sub(jiff::Span::new().days(7)).unwrap_or(day),
        TimeFrame::Month => day.first_of_month(),
    };
    day.max(ANCHOR)
}

/// Bars of `symbol` whose start lies in `[start, end]`, counting only minutes completed by
/// `now`; at most `limit` of them, plus the start time of the next bar if there are more.
pub fn bars(
    market: &Market,
    symbol: &'static str,
    tf: TimeFrame,
    start: Timestamp,
    end: Timestamp,
    now: Timestamp,
    limit: usize,
) -> (Vec<OutBar>, Option<Timestamp>) {
    let mut bars = Collector {
        out: Vec::new(),
        current: None,
        limit,
    };
    if end < start {
        return (bars.out, None);
    }
    let end_day = calendar::new_york().to_datetime(end.min(now)).date();
    let mut day = first_day(tf, start);
    // Walk session by session so a long range with a small limit stays cheap.
    while let Some(session) = calendar::next_session_on_or_after(day) {
        if session.date > end_day {
            break;
        }
        if let TimeFrame::Minutes(_) = tf {
            let Some(path) = market.day_path(symbol, session) else {
                break;
            };
            for k in 0..path.minutes() {
                let minute = path.mark_time(k);
                if minutes_after(minute, 1) > now {
                    break;
                }
                let b = bucket(tf, minute, session.date);
                if b < start {
                    continue;
                }
                if b > end {
                    break;
                }
                if let Some(next) = bars.add(b, path.minute(k)) {
                    return (bars.out, Some(next));
                }
            }
        } else {
            let b = bucket(tf, session.open_at(), session.date);
            if b > end {
                break;
            }
            if b >= start {
                let summary = if session.close_at() <= now {
                    market.day_summary(symbol, session)
                } else {
                    let done = (now.as_second() - session.open_at().as_second()).max(0) / 60;
                    market
                        .day_path(symbol, session)
                        .and_then(|p| p.summary(done as usize))
                };
                if let Some(summary) = summary
                    && let Some(next) = bars.add(b, summary)
                {
                    return (bars.out, Some(next));
                }
            }
        }
        day = match session.date.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    let next = bars.flush();
    (bars.out, next)
}

/// Parses a bars/activities time parameter: RFC 3339 or a plain `YYYY-MM-DD` (New York
/// midnight, as Alpaca reads it).
pub fn parse_time(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    s.parse::<Date>().ok().map(ny_midnight)
}

/// Start of the New York day containing `t`.
pub fn start_of_day(t: Timestamp) -> Timestamp {
    ny_midnight(calendar::new_york().to_datetime(t).date())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn timeframes_parse() {
        assert_eq!(TimeFrame::parse("1Min"), Some(TimeFrame::Minutes(1)));
        assert_eq!(TimeFrame::parse("15Min"), Some(TimeFrame::Minutes(15)));
        assert_eq!(TimeFrame::parse("1Hour"), Some(TimeFrame::Minutes(60)));
        assert_eq!(TimeFrame::parse("1Day"), Some(TimeFrame::Day));
        assert_eq!(TimeFrame::parse("1Week"), Some(TimeFrame::Week));
        assert_eq!(TimeFrame::parse("0Min"), None);
        assert_eq!(TimeFrame::parse("1Year"), None);
    }

    #[test]
    fn coarse_bars_aggregate_minute_bars() {
        let market = Market::new(3);
        let now = at("2026-01-07T18:00:00Z");
        let (start, end) = (at("2026-01-05T00:00:00Z"), now);
        let (days, _) = bars(&market, "SPY", TimeFrame::Day, start, end, now, 100);
        let (hours, _) = bars(
            &market,
            "SPY",
            TimeFrame::Minutes(60),
            start,
            end,
            now,
            1000,
        );
        let (mins, _) = bars(
            &market,
            "SPY",
            TimeFrame::Minutes(1),
            start,
            end,
            now,
            10_000,
        );
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].time.to_string(), "2026-01-05T05:00:00Z");
        // 2026-01-05: 09:00 (half hour) .. 15:00 = 7 hourly bars.
        assert_eq!(hours[0].time.to_string(), "2026-01-05T14:00:00Z");
        assert_eq!(
            hours
                .iter()
                .filter(|h| h.time < at("2026-01-06T00:00:00Z"))
                .count(),
            7
        );
        for bars in [&days, &hours] {
            assert_eq!(bars.last().unwrap().close, mins.last().unwrap().close);
            assert_eq!(
                bars.iter().map(|b| b.volume).sum::<u64>(),
                mins.iter().map(|b| b.volume).sum::<u64>()
            );
        }
        let day0: Vec<_> = mins
            .iter()
            .filter(|m| m.time < at("2026-01-06T00:00:00Z"))
            .collect();
        assert_eq!(days[0].high, day0.iter().map(|m| m.high).max().unwrap());
        assert_eq!(days[0].low, day0.iter().map(|m| m.low).min().unwrap());
        let trade = market.trade_at("SPY", now).unwrap();
        assert_eq!(days.last().unwrap().close, trade.price);
    }

    #[test]
    fn pages_continue_where_they_stopped() {
        let market = Market::new(3);
        let now = at("2026-02-01T00:00:00Z");
        let start = at("2026-01-01T00:00:00Z");
        let (all, none) = bars(&market, "QQQ", TimeFrame::Day, start, now, now, 1000);
        assert!(none.is_none());
        let (page, next) = bars(&market, "QQQ", TimeFrame::Day, start, now, now, 5);
        assert_eq!(page, all[..5]);
        let (rest, _) = bars(
            &market,
            "QQQ",
            TimeFrame::Day,
            next.unwrap(),
            now,
            now,
            1000,
        );
        assert_eq!(rest, all[5..]);
    }
}
