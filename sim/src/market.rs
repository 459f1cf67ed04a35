//! The simulated market: the asset catalogue and the deterministic price model.
//!
//! Price model (one path per seed and symbol, so bars of every timeframe, the latest trade
//! and fills always agree):
//! - Daily opens and closes come from the core's [`synthetic::daily_bars`], generated once
//!   per symbol from [`ANCHOR`] (a prefix of the path never changes when it is extended).
//! - Inside a session, the price at each whole minute from the open (mark 0) to the close
//!   (mark N) is a Brownian bridge in log space from that day's open to its close, seeded
//!   by (seed, symbol, date). Minute bar k runs from mark k to mark k+1; coarser bars
//!   aggregate minute bars, so a day's high and low are its minute path's extremes.
//! - The trade price at an instant is the last mark at or before it; outside a session it
//!   is the previous session's close (there are no overnight gaps: each synthetic open is
//!   the previous close). Fills happen at that price.

use app::domain::calendar::{self, Session};
use app::domain::market::Bar;
use app::domain::synthetic::{self, Profile, Rng};
use jiff::civil::{Date, date};
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// First date of every symbol's price history; earlier requests have no data.
pub const ANCHOR: Date = date(2015, 1, 1);

/// One tradable (or delisted) instrument.
#[derive(Clone, Debug)]
pub struct Asset {
    pub id: uuid::Uuid,
    pub symbol: &'static str,
    pub name: &'static str,
    pub exchange: &'static str,
    pub fractionable: bool,
    pub active: bool,
}

/// (symbol, name, exchange, fractionable, active)
/// The catalogue's own copy of `symbol` (symbols are `&'static str` throughout the
/// simulator), if it lists it.
pub fn catalogue_symbol(symbol: &str) -> Option<&'static str> {
    CATALOGUE.iter().map(|(s, ..)| *s).find(|s| *s == symbol)
}

const CATALOGUE: &[(&str, &str, &str, bool, bool)] = &[
    ("SPY", "SPDR S&P 500 ETF Trust", "ARCA", true, true),
    ("VOO", "Vanguard S&P 500 ETF", "ARCA", true, true),
    ("VTI", "Vanguard Total Stock Market ETF", "ARCA", true, true),
    ("QQQ", "Invesco QQQ Trust, Series 1", "NASDAQ", true, true),
    (
        "SCHD",
        "Schwab U.S. Dividend Equity ETF",
        "ARCA",
        true,
        true,
    ),
    (
        "VXUS",
        "Vanguard Total International Stock ETF",
        "NASDAQ",
        true,
        true,
    ),
    (
        "BND",
        "Vanguard Total Bond Market ETF",
        "NASDAQ",
        true,
        true,
    ),
    ("IVV", "iShares Core S&P 500 ETF", "ARCA", true, true),
    (
        "VEA",
        "Vanguard FTSE Developed Markets ETF",
        "ARCA",
        true,
        true,
    ),
    (
        "VWO",
        "Vanguard FTSE Emerging Markets ETF",
        "ARCA",
        true,
        true,
    ),
    (
        "AGG",
        "iShares Core U.S. Aggregate Bond ETF",
        "ARCA",
        true,
        true,
    ),
    (
        "VIG",
        "Vanguard Dividend Appreciation ETF",
        "ARCA",
        true,
        true,
    ),
    (
        "VGT",
        "Vanguard Information Technology ETF",
        "ARCA",
        true,
        true,
    ),
    (
        "VYM",
        "Vanguard High Dividend Yield ETF",
        "ARCA",
        true,
        true,
    ),
    ("VNQ", "Vanguard Real Estate ETF", "ARCA", true, true),
    ("IWM", "iShares Russell 2000 ETF", "ARCA", true, true),
    (
        "DIA",
        "SPDR Dow Jones Industrial Average ETF Trust",
        "ARCA",
        true,
        true,
    ),
    ("GLD", "SPDR Gold Shares", "ARCA", true, true),
    (
        "TLT",
        "iShares 20+ Year Treasury Bond ETF",
        "NASDAQ",
        true,
        true,
    ),
    (
        "BNDX",
        "Vanguard Total International Bond ETF",
        "NASDAQ",
        true,
        true,
    ),
    (
        "XLK",
        "Technology Select Sector SPDR Fund",
        "ARCA",
        true,
        true,
    ),
    ("SCHB", "Schwab U.S. Broad Market ETF", "ARCA", false, true),
    ("ARKK", "ARK Innovation ETF", "ARCA", false, true),
    ("AAPL", "Apple Inc. Common Stock", "NASDAQ", true, true),
    (
        "MSFT",
        "Microsoft Corporation Common Stock",
        "NASDAQ",
        true,
        true,
    ),
    (
        "NVDA",
        "NVIDIA Corporation Common Stock",
        "NASDAQ",
        true,
        true,
    ),
    (
        "BRK.B",
        "Berkshire Hathaway Inc. Class B",
        "NYSE",
        true,
        true,
    ),
    (
        "GOOGL",
        "Alphabet Inc. Class A Common Stock",
        "NASDAQ",
        true,
        true,
    ),
    (
        "AMZN",
        "Amazon.com, Inc. Common Stock",
        "NASDAQ",
        true,
        true,
    ),
    (
        "META",
        "Meta Platforms, Inc. Class A Common Stock",
        "NASDAQ",
        true,
        true,
    ),
    ("TSLA", "Tesla, Inc. Common Stock", "NASDAQ", true, true),
    ("AVGO", "Broadcom Inc. Common Stock", "NASDAQ", true, true),
    (
        "JPM",
        "JPMorgan Chase & Co. Common Stock",
        "NYSE",
        true,
        true,
    ),
    ("V", "Visa Inc.", "NYSE", true, true),
    ("JNJ", "Johnson & Johnson Common Stock", "NYSE", true, true),
    (
        "UNH",
        "UnitedHealth Group Incorporated Common Stock",
        "NYSE",
        true,
        true,
    ),
    (
        "XOM",
        "Exxon Mobil Corporation Common Stock",
        "NYSE",
        true,
        true,
    ),
    (
        "PG",
        "Procter & Gamble Company (The) Common Stock",
        "NYSE",
        true,
        true,
    ),
    (
        "KO",
        "Coca-Cola Company (The) Common Stock",
        "NYSE",
        true,
        true,
    ),
    (
        "COST",
        "Costco Wholesale Corporation Common Stock",
        "NASDAQ",
        true,
        true,
    ),
    (
        "HD",
        "Home Depot, Inc. (The) Common Stock",
        "NYSE",
        true,
        true,
    ),
    (
        "LLY",
        "Eli Lilly and Company Common Stock",
        "NYSE",
        true,
        true,
    ),
    ("WMT", "Walmart Inc. Common Stock", "NYSE", true, true),
    ("TWTR", "Twitter, Inc. Common Stock", "NYSE", true, false),
];

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A stable asset id per symbol (a version-4-shaped UUID derived from the symbol).
fn asset_id(symbol: &str) -> uuid::Uuid {
    let mut rng = Rng::new(fnv(symbol.as_bytes()));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Minute-by-minute prices of one session, in integer cents.
#[derive(Debug)]
pub struct DayPath {
    pub session: Session,
    /// Price in cents at each minute mark from the open (index 0) to the close (index N).
    pub cents: Vec<i64>,
    /// Volume of each minute bar (N of them).
    pub volumes: Vec<u64>,
}

/// Open, high, low, close (cents), volume and volume-weighted notional of a stretch of
/// minute bars; merging two consecutive stretches gives the stretch that spans both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: u64,
    /// Σ (open + close) × volume over the minute bars, in cents (twice the notional).
    pub notional2: i128,
}

impl Summary {
    pub fn merge(&mut self, next: &Summary) {
        self.high = self.high.max(next.high);
        self.low = self.low.min(next.low);
        self.close = next.close;
        self.volume += next.volume;
        self.notional2 += next.notional2;
    }
}

/// Cents to a decimal price.
pub fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

impl DayPath {
    /// Number of whole minutes in the session.
    pub fn minutes(&self) -> usize {
        self.volumes.len()
    }

    pub fn mark_time(&self, k: usize) -> Timestamp {
        minutes_after(self.session.open_at(), k as i64)
    }

    /// The price at mark k.
    pub fn price(&self, k: usize) -> Decimal {
        from_cents(self.cents[k])
    }

    /// The last mark at or before `t` (clamped to the session).
    pub fn mark_at(&self, t: Timestamp) -> usize {
        let secs = t.as_second() - self.session.open_at().as_second();
        if secs <= 0 {
            0
        } else {
            ((secs / 60) as usize).min(self.minutes())
        }
    }

    /// Minute bar k (mark k to mark k+1).
    pub fn minute(&self, k: usize) -> Summary {
        let (o, c) = (self.cents[k], self.cents[k + 1]);
        Summary {
            open: o,
            high: o.max(c),
            low: o.min(c),
            close: c,
            volume: self.volumes[k],
            notional2: i128::from(o + c) * i128::from(self.volumes[k]),
        }
    }

    /// The first `minutes` minute bars merged (`None` for zero minutes).
    pub fn summary(&self, minutes: usize) -> Option<Summary> {
        if minutes == 0 {
            return None;
        }
        let mut acc = self.minute(0);
        for k in 1..minutes.min(self.minutes()) {
            acc.merge(&self.minute(k));
        }
        Some(acc)
    }
}

pub fn minutes_after(t: Timestamp, minutes: i64) -> Timestamp {
    t.saturating_add(SignedDuration::from_mins(minutes))
        .unwrap_or(t)
}

fn to_cents(value: f64) -> i64 {
    ((value * 100.0).round() as i64).max(1)
}

fn cents_of(price: Decimal) -> i64 {
    (price * Decimal::ONE_HUNDRED)
        .round()
        .to_i64()
        .unwrap_or(1)
        .max(1)
}

/// Daily synthetic bars of one symbol from [`ANCHOR`] to `to`, indexed by date.
struct DailyPath {
    bars: Vec<Bar>,
    index: HashMap<Date, usize>,
    to: Date,
}

#[derive(Default)]
struct Caches {
    daily: HashMap<&'static str, DailyPath>,
    days: HashMap<(&'static str, Date), Arc<DayPath>>,
    /// Whole-session summaries, small enough to keep for every day asked for.
    summaries: HashMap<(&'static str, Date), Summary>,
}

/// The catalogue and price model; all methods are pure functions of (seed, symbol, time),
/// memoised behind a mutex.
pub struct Market {
    seed: u64,
    assets: Vec<Asset>,
    caches: Mutex<Caches>,
}

/// The latest trade at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    pub time: Timestamp,
    pub price: Decimal,
    pub size: u64,
}

impl Market {
    pub fn new(seed: u64) -> Self {
        let assets = CATALOGUE
            .iter()
            .map(|&(symbol, name, exchange, fractionable, active)| Asset {
                id: asset_id(symbol),
                symbol,
                name,
                exchange,
                fractionable,
                active,
            })
            .collect();
        Self {
            seed,
            assets,
            caches: Mutex::new(Caches::default()),
        }
    }

    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }

    /// Finds an asset by symbol (case-insensitive) or by asset id.
    pub fn asset(&self, symbol_or_id: &str) -> Option<&Asset> {
        let wanted = symbol_or_id.trim().to_ascii_uppercase();
        if let Ok(id) = uuid::Uuid::parse_str(symbol_or_id.trim()) {
            return self.assets.iter().find(|a| a.id == id);
        }
        self.assets.iter().find(|a| a.symbol == wanted)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The synthetic daily (open, close, volume) of `symbol` on the session `date`.
    fn daily(&self, symbol: &'static str, day: Date) -> Option<Bar> {
        if day < ANCHOR {
            return None;
        }
        let mut caches = self.lock();
        let entry = caches.daily.get(symbol);
        let covered = entry.is_some_and(|path| path.to >= day);
        if !covered {
            // Regenerate with a year of headroom; the prefix is identical each time.
            let to = day
                .checked_add(jiff::Span::new().years(1))
                .unwrap_or(day)
                .min(date(calendar::LAST_YEAR, 12, 31));
            let bars = synthetic::daily_bars(symbol, self.seed, ANCHOR, to);
            let index = bars
                .iter()
                .enumerate()
                .map(|(i, b)| (b.exchange_date(), i))
                .collect();
            caches.daily.insert(symbol, DailyPath { bars, index, to });
        }
        let path = caches.daily.get(symbol)?;
        path.index.get(&day).map(|&i| path.bars[i])
    }

    /// The minute path of `symbol` on the session `session`.
    pub fn day_path(&self, symbol: &'static str, session: Session) -> Option<Arc<DayPath>> {
        if let Some(path) = self.lock().days.get(&(symbol, session.date)) {
            return Some(path.clone());
        }
        let daily = self.daily(symbol, session.date)?;
        let path = Arc::new(self.build_path(symbol, session, &daily));
        let mut caches = self.lock();
        // About 10 kB per path: keep at most a few thousand.
        if caches.days.len() >= 4_000 {
            caches.days.clear();
        }
        caches.days.insert((symbol, session.date), path.clone());
        Some(path)
    }

    fn build_path(&self, symbol: &str, session: Session, daily: &Bar) -> DayPath {
        let profile = Profile::for_symbol(symbol);
        let n =
            ((session.close_at().as_second() - session.open_at().as_second()) / 60).max(1) as usize;
        let day_key = u64::from(session.date.year().unsigned_abs()) * 10_000
            + u64::from(session.date.month().unsigned_abs()) * 100
            + u64::from(session.date.day().unsigned_abs());
        let mut rng = Rng::new(
            self.seed.rotate_left(29)
                ^ fnv(symbol.as_bytes())
                ^ day_key.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        rng.next_u64();
        let (open, close) = (
            f64::try_from(daily.open).unwrap_or(1.0).max(0.01),
            f64::try_from(daily.close).unwrap_or(1.0).max(0.01),
        );
        let sigma = profile.volatility * (1.0 / 252.0 / 390.0f64).sqrt();
        let mut walk = Vec::with_capacity(n + 1);
        let mut w = 0.0;
        walk.push(0.0);
        for _ in 0..n {
            w += sigma * rng.next_normal();
            walk.push(w);
        }
        let (lo, lc, wn) = (open.ln(), close.ln(), w);
        let mut cents: Vec<i64> = (0..=n)
            .map(|k| {
                let frac = k as f64 / n as f64;
                let bridge = walk[k] - frac * wn;
                to_cents((lo + frac * (lc - lo) + bridge).exp())
            })
            .collect();
        cents[0] = cents_of(daily.open);
        cents[n] = cents_of(daily.close);
        let per_minute = profile.average_volume as f64 / 390.0;
        let volumes = (0..n)
            .map(|k| {
                // U-shaped intraday volume: busier near the open and the close.
                let x = k as f64 / n as f64;
                let shape = 0.6 + 1.6 * (x - 0.5).powi(2) * 4.0 / 2.0;
                (per_minute * shape * (0.5 + rng.next_f64())).max(1.0) as u64
            })
            .collect();
        DayPath {
            session,
            cents,
            volumes,
        }
    }

    /// The whole-session summary of `symbol` on `session` (memoised).
    pub fn day_summary(&self, symbol: &'static str, session: Session) -> Option<Summary> {
        if let Some(summary) = self.lock().summaries.get(&(symbol, session.date)) {
            return Some(*summary);
        }
        let path = self.day_path(symbol, session)?;
        let summary = path.summary(path.minutes())?;
        self.lock()
            .summaries
            .insert((symbol, session.date), summary);
        Some(summary)
    }

    /// The static symbol of an asset (for cache keys).
    pub fn static_symbol(&self, symbol: &str) -> Option<&'static str> {
        self.asset(symbol).map(|a| a.symbol)
    }

    /// The latest trade of `symbol` at `t`, or `None` before [`ANCHOR`] / unknown symbols.
    pub fn trade_at(&self, symbol: &str, t: Timestamp) -> Option<Trade> {
        let symbol = self.static_symbol(symbol)?;
        let today = calendar::new_york().to_datetime(t).date();
        let session = match calendar::session(today) {
            Ok(s) if s.open_at() <= t => s,
            _ => calendar::previous_session_before(today)?,
        };
        let path = self.day_path(symbol, session)?;
        let k = path.mark_at(t);
        let time = if k == path.minutes() {
            session.close_at()
        } else {
            path.mark_time(k)
        };
        let size = 1 + (fnv(&time.as_second().to_le_bytes()) ^ self.seed) % 300;
        Some(Trade {
            time,
            price: path.price(k),
            size,
        })
    }

    /// The close of the last session strictly before the New York date of `t`.
    pub fn previous_close(&self, symbol: &str, t: Timestamp) -> Option<Decimal> {
        let symbol = self.static_symbol(symbol)?;
        let today = calendar::new_york().to_datetime(t).date();
        let session = calendar::previous_session_before(today)?;
        self.daily(symbol, session.date).map(|b| b.close)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_bridge_the_synthetic_open_and_close() {
        let market = Market::new(7);
        let session = calendar::session(date(2026, 1, 5)).unwrap();
        let path = market.day_path("SPY", session).unwrap();
        let daily = synthetic::daily_bars("SPY", 7, ANCHOR, date(2026, 1, 5));
        let last = daily.last().unwrap();
        assert_eq!(path.price(0), last.open);
        assert_eq!(path.price(path.minutes()), last.close);
        assert_eq!(path.minutes(), 390);
        // Same seed, same path; another seed, another path.
        let again = Market::new(7).day_path("SPY", session).unwrap();
        assert_eq!(path.cents, again.cents);
        let other = Market::new(8).day_path("SPY", session).unwrap();
        assert_ne!(path.cents, other.cents);
    }

    #[test]
    fn trade_price_follows_the_marks_and_holds_overnight() {
        let market = Market::new(1);
        let at = |s: &str| -> Timestamp { s.parse().unwrap() };
        let session = calendar::session(date(2026, 1, 5)).unwrap();
        let path = market.day_path("AAPL", session).unwrap();
        let t = market.trade_at("AAPL", at("2026-01-05T15:00:30Z")).unwrap();
        assert_eq!(t.price, path.price(30));
        assert_eq!(t.time, at("2026-01-05T15:00:00Z"));
        let night = market.trade_at("AAPL", at("2026-01-06T03:00:00Z")).unwrap();
        assert_eq!(night.price, path.price(390));
        assert_eq!(night.time, session.close_at());
        assert!(
            market
                .trade_at("AAPL", at("2010-01-05T15:00:00Z"))
                .is_none()
        );
        assert!(
            market
                .trade_at("NOPE", at("2026-01-05T15:00:00Z"))
                .is_none()
        );
        assert_eq!(market.asset("brk.b").unwrap().symbol, "BRK.B");
        assert!(market.assets().iter().any(|a| !a.fractionable));
    }
}
