//! Deterministic synthetic market data for demos, tests and benchmarks: seeded geometric
//! Brownian motion per symbol, with bars only on the exchange calendar's trading days
//! (and, for intraday bars, only inside each session). The same seed gives the same bars
//! on every machine and in the browser.

use super::calendar;
use super::market::Bar;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive as _;

/// Drift and volatility of a symbol's synthetic price path (annualised fractions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    pub start_price: f64,
    pub drift: f64,
    pub volatility: f64,
    pub average_volume: u64,
}

impl Profile {
    /// A plausible profile for well-known tickers; other symbols get a broad-market one
    /// derived from the name so different symbols still move differently.
    pub fn for_symbol(symbol: &str) -> Self {
        let (start_price, drift, volatility, average_volume) = match symbol {
            "SPY" => (450.0, 0.08, 0.16, 70_000_000),
            "VOO" => (415.0, 0.08, 0.16, 5_000_000),
            "VTI" => (220.0, 0.08, 0.17, 3_500_000),
            "QQQ" => (380.0, 0.11, 0.22, 45_000_000),
            "SCHD" => (75.0, 0.07, 0.13, 3_000_000),
            "VXUS" => (57.0, 0.05, 0.15, 4_000_000),
            "BND" => (72.0, 0.02, 0.05, 6_000_000),
            "AAPL" => (185.0, 0.12, 0.27, 55_000_000),
            "MSFT" => (370.0, 0.12, 0.25, 22_000_000),
            "NVDA" => (120.0, 0.25, 0.50, 300_000_000),
            "BRK.B" => (360.0, 0.09, 0.18, 3_500_000),
            other => {
                let h = other
                    .bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                (
                    20.0 + (h % 300) as f64,
                    0.04 + (h % 7) as f64 / 100.0,
                    0.15 + (h % 20) as f64 / 100.0,
                    1_000_000,
                )
            }
        };
        Self {
            start_price,
            drift,
            volatility,
            average_volume,
        }
    }
}

/// SplitMix64: a tiny, fast, well-distributed generator; good enough for synthetic prices.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn next_f64(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn next_normal(&mut self) -> f64 {
        let (u1, u2) = (self.next_f64(), self.next_f64());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn price(value: f64) -> Decimal {
    Decimal::from_f64(value.max(0.01))
        .unwrap_or(Decimal::ONE)
        .round_dp(2)
}

/// Builds one bar from a start price and a log return, with a plausible range and volume.
fn bar(
    time: jiff::Timestamp,
    open: f64,
    log_return: f64,
    scale: f64,
    volume: f64,
    rng: &mut Rng,
) -> (Bar, f64) {
    let close = open * log_return.exp();
    let wiggle = scale * (0.25 + rng.next_f64());
    let high = open.max(close) * (1.0 + wiggle * rng.next_f64());
    let low = open.min(close) * (1.0 - wiggle * rng.next_f64());
    let (open_d, close_d) = (price(open), price(close));
    let bar = Bar {
        time,
        open: open_d,
        high: price(high).max(open_d).max(close_d),
        low: price(low).min(open_d).min(close_d),
        close: close_d,
        volume: (volume * (0.5 + rng.next_f64())).max(1.0) as u64,
    };
    (bar, close)
}

/// Daily bars (time = the session's open) for every trading day from `from` to `to`.
pub fn daily_bars(
    symbol: &str,
    seed: u64,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> Vec<Bar> {
    let profile = Profile::for_symbol(symbol);
    let mut rng = Rng::new(
        seed ^ symbol.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }),
    );
    let dt: f64 = 1.0 / 252.0;
    let sigma = profile.volatility * dt.sqrt();
    let mu = (profile.drift - profile.volatility.powi(2) / 2.0) * dt;
    let mut last = profile.start_price;
    calendar::sessions(from, to)
        .map(|session| {
            let log_return = mu + sigma * rng.next_normal();
            let (bar, close) = bar(
                session.open_at(),
                last,
                log_return,
                sigma,
                profile.average_volume as f64,
                &mut rng,
            );
            last = close;
            bar
        })
        .collect()
}

/// Intraday bars of `minutes` minutes inside every session from `from` to `to`.
pub fn intraday_bars(
    symbol: &str,
    seed: u64,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
    minutes: u32,
) -> Vec<Bar> {
    let profile = Profile::for_symbol(symbol);
    let mut rng = Rng::new(seed.rotate_left(17) ^ 0x5851_f42d_4c95_7f2d ^ symbol.len() as u64);
    let minutes = minutes.max(1);
    let per_day = (390 / minutes).max(1) as f64;
    let dt: f64 = 1.0 / 252.0 / per_day;
    let sigma = profile.volatility * dt.sqrt();
    let mu = (profile.drift - profile.volatility.powi(2) / 2.0) * dt;
    let mut last = profile.start_price;
    let mut bars = Vec::new();
    for session in calendar::sessions(from, to) {
        let (open, close) = (session.open_at(), session.close_at());
        let mut time = open;
        while time < close {
            let log_return = mu + sigma * rng.next_normal();
            let volume = profile.average_volume as f64 / per_day;
            let (bar, next) = bar(time, last, log_return, sigma, volume, &mut rng);
            bars.push(bar);
            last = next;
            time = match time.checked_add(jiff::SignedDuration::from_mins(i64::from(minutes))) {
                Ok(t) => t,
                Err(_) => break,
            };
        }
    }
    bars
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn same_seed_same_bars_and_only_on_trading_days() {
        let a = daily_bars("SPY", 7, date(2024, 1, 1), date(2024, 12, 31));
        let b = daily_bars("SPY", 7, date(2024, 1, 1), date(2024, 12, 31));
        assert_eq!(a, b);
        assert_eq!(
            a.len(),
            calendar::sessions(date(2024, 1, 1), date(2024, 12, 31)).count()
        );
        assert_ne!(
            a,
            daily_bars("SPY", 8, date(2024, 1, 1), date(2024, 12, 31))
        );
        assert_ne!(
            a[10].close,
            daily_bars("QQQ", 7, date(2024, 1, 1), date(2024, 12, 31))[10].close
        );
        for bar in &a {
            bar.check().unwrap();
            assert!(calendar::is_trading_day(bar.exchange_date()));
        }
    }

    #[test]
    fn intraday_bars_stay_inside_sessions() {
        // 2025-11-28 closes early at 13:00: 7 half-hour bars (09:30 … 12:30); 2025-12-01 has 13.
        let bars = intraday_bars("AAPL", 1, date(2025, 11, 28), date(2025, 12, 1), 30);
        for bar in &bars {
            bar.check().unwrap();
            assert!(calendar::is_open_at(bar.time), "{}", bar.time);
        }
        assert_eq!(bars.len(), 7 + 13);
    }
}
