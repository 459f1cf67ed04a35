//! Returns that mean something for gradual buyers, one implementation for the dashboard and
//! the backtester.
//!
//! - **Money-weighted return (XIRR)**: the annual rate at which every amount put in, grown to
//!   today, equals what the holdings are worth now. It answers "how did *my money* do?", with
//!   each dollar weighted by how long it was invested: the right number for a DCA plan, whose
//!   later purchases had less time to grow.
//! - **Time-weighted return (TWR)**: the growth of one dollar invested from the first day,
//!   chaining each day's return so deposits are not counted as gains. It answers "how did
//!   *the investments* do?", whatever the timing of the money: the number to compare with an
//!   index or a fund.
//!
//! Amounts stay decimal; the rates are `f64` statistics (as the backtester's metrics).

use super::backtest::metrics::{RunningStats, to_f64};
use super::market::round_cents;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Money-weighted returns are not annualised over less than this many days: a 2% move in a
/// week would read as an absurd yearly rate.
pub const MIN_XIRR_DAYS: i64 = 30;

/// One amount of money moving on a date: negative into the investment (a purchase),
/// positive out of it (a sale, or the holdings' value today as the final flow).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashFlow {
    pub on: Date,
    pub amount: Decimal,
}

/// Why a rate cannot be given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NoRate {
    /// Nothing invested yet.
    NoInvestment,
    /// The first purchase was fewer than [`MIN_XIRR_DAYS`] days ago.
    TooShort { days: i64 },
    /// No rate solves the flows (for example, everything was lost).
    NoSolution,
}

impl NoRate {
    /// What the dashboard says instead of a number.
    pub fn words(self) -> String {
        match self {
            NoRate::NoInvestment => "Nothing invested yet.".to_owned(),
            NoRate::TooShort { days } => format!(
                "Shown after {MIN_XIRR_DAYS} days of investing ({days} so far): a yearly rate \
                 over a few days would mislead."
            ),
            NoRate::NoSolution => "No yearly rate fits these amounts.".to_owned(),
        }
    }
}

/// The annualised money-weighted return of `flows` (Excel's XIRR: a 365-day year, dates
/// counted from the earliest flow). Needs money going in and coming out (the final value
/// is a flow out), and at least [`MIN_XIRR_DAYS`] between the first and last flow.
pub fn xirr(flows: &[CashFlow]) -> Result<f64, NoRate> {
    let Some(first) = flows.iter().map(|f| f.on).min() else {
        return Err(NoRate::NoInvestment);
    };
    if !flows
        .iter()
        .any(|f| f.amount.is_sign_negative() && !f.amount.is_zero())
    {
        return Err(NoRate::NoInvestment);
    }
    let last = flows.iter().map(|f| f.on).max().unwrap_or(first);
    let span = (last - first).get_days() as i64;
    if span < MIN_XIRR_DAYS {
        return Err(NoRate::TooShort { days: span });
    }
    if !flows
        .iter()
        .any(|f| f.amount.is_sign_positive() && !f.amount.is_zero())
    {
        return Err(NoRate::NoSolution);
    }
    let points: Vec<(f64, f64)> = flows
        .iter()
        .map(|f| ((f.on - first).get_days() as f64, to_f64(f.amount)))
        .collect();
    solve_xirr(&points).ok_or(NoRate::NoSolution)
}

/// The annual rate r at which Σ amount / (1 + r)^(days / 365) = 0, for flows given as
/// (days since the first flow, amount) with investments negative: Excel's XIRR convention.
/// Newton's method from 10%, with bisection over (−100%, +10⁸%) when it wanders off.
/// `None` without money both in and out, or when no rate solves the flows. The
/// backtester's money-weighted return ([`super::backtest::metrics::xirr_pct`]) is this.
pub fn solve_xirr(flows: &[(f64, f64)]) -> Option<f64> {
    if !flows.iter().any(|(_, a)| *a < 0.0) || !flows.iter().any(|(_, a)| *a > 0.0) {
        return None;
    }
    let points: Vec<(f64, f64)> = flows.iter().map(|(days, a)| (days / 365.0, *a)).collect();
    // Net present value and its derivative at rate r (r > -1).
    let npv = |r: f64| -> (f64, f64) {
        points.iter().fold((0.0, 0.0), |(v, d), &(t, a)| {
            let discount = (1.0 + r).powf(-t);
            (v + a * discount, d - t * a * discount / (1.0 + r))
        })
    };
    let mut r = 0.1;
    for _ in 0..100 {
        let (value, slope) = npv(r);
        if value.abs() < 1e-9 {
            return Some(r);
        }
        if slope.abs() < 1e-14 || !slope.is_finite() {
            break;
        }
        let next = r - value / slope;
        if !next.is_finite() || next <= -0.999_999_999 {
            break;
        }
        if (next - r).abs() < 1e-12 {
            return Some(next);
        }
        r = next;
    }
    bisect(|r| npv(r).0)
}

/// A root of the decreasing-in-`r` function `f` on (-1, 10⁶), by bisection.
fn bisect(f: impl Fn(f64) -> f64) -> Option<f64> {
    let (mut low, mut high) = (-0.999_999_999, 1e6);
    let f_low = f(low);
    let f_high = f(high);
    if !f_low.is_finite() || !f_high.is_finite() || f_low.signum() == f_high.signum() {
        return None;
    }
    for _ in 0..300 {
        let mid = (low + high) / 2.0;
        let value = f(mid);
        if value.abs() < 1e-9 || (high - low) < 1e-12 {
            return Some(mid);
        }
        if value.signum() == f_low.signum() {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some((low + high) / 2.0)
}

/// One day of a portfolio: its value at the day's close, the money put in during the day
/// (purchases: counted from the day's start) and the money taken out (sales: counted at
/// its end, with the value they had).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayValue {
    pub on: Date,
    pub value: Decimal,
    pub flow: Decimal,
    pub out: Decimal,
}

/// The time-weighted return over `days` (in date order): each day's return is its close
/// plus what was taken out, over the previous close plus what was put in, and the returns
/// are chained. The same arithmetic as the backtester's ([`RunningStats`]). `None` before
/// any money is in.
pub fn twr(days: &[DayValue]) -> Option<f64> {
    let mut stats = RunningStats::new(0.0);
    let mut invested = false;
    // `RunningStats` starts a day from the last equity it was given: yesterday's value
    // with what was taken out, which today's contribution gives back.
    let mut taken = Decimal::ZERO;
    for day in days {
        invested |= day.flow > Decimal::ZERO;
        stats.record(to_f64(day.value + day.out), to_f64(day.flow - taken), true);
        taken = day.out;
    }
    invested.then(|| stats.growth() - 1.0)
}

/// A time-weighted return over more than a year, per year (`None` for a shorter span, where
/// the cumulative figure is the honest one).
pub fn annualise(total: f64, days: i64) -> Option<f64> {
    (days >= 365).then(|| (1.0 + total).powf(365.0 / days as f64) - 1.0)
}

/// One purchase that bought: `qty` shares of `symbol` at `price` on `on` (a New York date).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub on: Date,
    pub symbol: String,
    pub qty: Decimal,
    pub price: Decimal,
}

impl Lot {
    /// What it cost, in cents (as the history and the e-mails count it).
    pub fn cost(&self) -> Decimal {
        round_cents(self.qty * self.price)
    }
}

/// One symbol's holding from a set of lots, at average cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub symbol: String,
    pub qty: Decimal,
    pub cost: Decimal,
    /// Cost per share (`cost / qty`), to the cent.
    pub average_cost: Decimal,
    /// At the latest price; `None` without one.
    pub value: Option<Decimal>,
}

/// One day of the value-versus-invested chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub on: Date,
    /// Money put in up to and including this day.
    pub invested: Decimal,
    /// The holdings at the day's close (today: at the latest prices).
    pub value: Decimal,
}

/// How a set of purchases is doing.
#[derive(Clone, Debug, PartialEq)]
pub struct Performance {
    pub invested: Decimal,
    pub value: Decimal,
    pub gain: Decimal,
    /// Gain over invested, in percent to two places; `None` with nothing invested.
    pub gain_pct: Option<Decimal>,
    /// Money-weighted, annualised.
    pub xirr: Result<f64, NoRate>,
    /// Time-weighted, cumulative since the first purchase.
    pub twr: Option<f64>,
    /// The time-weighted return per year, over spans longer than a year.
    pub twr_annualised: Option<f64>,
    /// Days since the first purchase.
    pub days: i64,
    pub holdings: Vec<Holding>,
    pub series: Vec<Point>,
}

/// The performance on `today` of what `lots` bought and `sold` (parts of those lots, as a
/// [`Book`] sold them) sold: what is still held valued at `prices` (the latest price of
/// each symbol) and, for the days before, at `closes` (each symbol's daily closes in date
/// order). A day without a close for a symbol takes its latest earlier close, or the price
/// of its latest purchase before any close. Invested is what the shares still held cost
/// (a sale takes its shares' cost out), so the gain is the gain on what is held; the money
/// a sale brought back is a flow out for both rates.
pub fn performance<T>(
    lots: &[Lot],
    sold: &[Sold<T>],
    closes: &BTreeMap<String, Vec<(Date, Decimal)>>,
    prices: &BTreeMap<String, Decimal>,
    today: Date,
) -> Performance {
    let mut lots: Vec<&Lot> = lots.iter().filter(|lot| lot.on <= today).collect();
    lots.sort_by_key(|lot| lot.on);
    let mut sold: Vec<&Sold<T>> = sold.iter().filter(|s| s.on <= today).collect();
    sold.sort_by_key(|s| s.on);
    let Some(first) = lots.first().map(|lot| lot.on) else {
        return Performance {
            invested: Decimal::ZERO,
            value: Decimal::ZERO,
            gain: Decimal::ZERO,
            gain_pct: None,
            xirr: Err(NoRate::NoInvestment),
            twr: None,
            twr_annualised: None,
            days: 0,
            holdings: Vec::new(),
            series: Vec::new(),
        };
    };
    let mut dates: BTreeSet<Date> = lots.iter().map(|lot| lot.on).collect();
    dates.extend(sold.iter().map(|s| s.on).filter(|on| *on >= first));
    for series in closes.values() {
        dates.extend(
            series
                .iter()
                .map(|(on, _)| *on)
                .filter(|on| (first..=today).contains(on)),
        );
    }
    dates.insert(today);

    let mut held: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut last_price: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut close_at: BTreeMap<&str, usize> = BTreeMap::new();
    let mut invested = Decimal::ZERO;
    let (mut next_lot, mut next_sale) = (0, 0);
    let mut days = Vec::with_capacity(dates.len());
    let mut series = Vec::with_capacity(dates.len());
    for on in dates {
        let (mut flow, mut out) = (Decimal::ZERO, Decimal::ZERO);
        while let Some(lot) = lots.get(next_lot).filter(|lot| lot.on == on) {
            *held.entry(lot.symbol.as_str()).or_default() += lot.qty;
            last_price.insert(lot.symbol.as_str(), lot.price);
            flow += lot.cost();
            invested += lot.cost();
            next_lot += 1;
        }
        while let Some(sale) = sold.get(next_sale).filter(|s| s.on <= on) {
            if let Some(qty) = held.get_mut(sale.symbol.as_str()) {
                *qty -= sale.qty;
                if *qty <= Decimal::ZERO {
                    held.remove(sale.symbol.as_str());
                }
            }
            out += sale.proceeds;
            invested -= sale.cost;
            next_sale += 1;
        }
        let mut value = Decimal::ZERO;
        for (&symbol, &qty) in &held {
            let price = if on == today {
                prices.get(symbol).copied()
            } else {
                None
            }
            .or_else(|| {
                let series = closes.get(symbol)?;
                let index = close_at.entry(symbol).or_insert(0);
                while series.get(*index + 1).is_some_and(|(d, _)| *d <= on) {
                    *index += 1;
                }
                series
                    .get(*index)
                    .filter(|(d, _)| *d <= on)
                    .map(|(_, close)| *close)
            })
            .or_else(|| last_price.get(symbol).copied())
            .unwrap_or_default();
            value += qty * price;
        }
        let value = round_cents(value);
        days.push(DayValue {
            on,
            value,
            flow,
            out,
        });
        series.push(Point {
            on,
            invested,
            value,
        });
    }

    let value = series.last().map_or(Decimal::ZERO, |point| point.value);
    let gain = value - invested;
    let mut flows: Vec<CashFlow> = lots
        .iter()
        .map(|lot| CashFlow {
            on: lot.on,
            amount: -lot.cost(),
        })
        .collect();
    flows.extend(sold.iter().map(|sale| CashFlow {
        on: sale.on,
        amount: sale.proceeds,
    }));
    flows.push(CashFlow {
        on: today,
        amount: value,
    });
    let span = (today - first).get_days() as i64;
    let twr = twr(&days);
    Performance {
        invested,
        value,
        gain,
        gain_pct: (!invested.is_zero())
            .then(|| (gain / invested * Decimal::ONE_HUNDRED).round_dp(2)),
        xirr: xirr(&flows),
        twr,
        twr_annualised: twr.and_then(|total| annualise(total, span)),
        days: span,
        holdings: holdings(&lots, &sold, prices, closes),
        series,
    }
}

/// Each symbol's shares and average cost, valued at the latest price (or close).
fn holdings<T>(
    lots: &[&Lot],
    sold: &[&Sold<T>],
    prices: &BTreeMap<String, Decimal>,
    closes: &BTreeMap<String, Vec<(Date, Decimal)>>,
) -> Vec<Holding> {
    let mut by_symbol: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for lot in lots {
        let entry = by_symbol.entry(lot.symbol.as_str()).or_default();
        entry.0 += lot.qty;
        entry.1 += lot.cost();
    }
    for sale in sold {
        if let Some(entry) = by_symbol.get_mut(sale.symbol.as_str()) {
            entry.0 -= sale.qty;
            entry.1 -= sale.cost;
        }
    }
    by_symbol
        .into_iter()
        .filter(|(_, (qty, _))| *qty > Decimal::ZERO)
        .map(|(symbol, (qty, cost))| {
            let price = prices
                .get(symbol)
                .or_else(|| closes.get(symbol)?.last().map(|(_, close)| close));
            Holding {
                symbol: symbol.to_owned(),
                qty,
                cost,
                average_cost: if qty.is_zero() {
                    Decimal::ZERO
                } else {
                    round_cents(cost / qty)
                },
                value: price.map(|price| round_cents(qty * price)),
            }
        })
        .collect()
}

/// Shares sold out of one lot (a sale spanning lots gives one per lot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sold<T> {
    pub on: Date,
    pub symbol: String,
    pub qty: Decimal,
    /// What these shares had cost: their part of the lot's cost, in cents.
    pub cost: Decimal,
    /// What they sold for, in cents.
    pub proceeds: Decimal,
    /// The tag of the lot they came from.
    pub tag: T,
}

/// An account's shares by symbol, first in first out: each lot keeps its tag (the plan that
/// bought it, say) through the sales, and each sale says which lots it took, at what cost,
/// and the profit it realized. Fed in the order things happened. A sale of more shares than
/// the book holds (bought before what it saw, or moved in from elsewhere) sells what there
/// is and realizes nothing for the rest; splits and symbol changes are not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Book<T> {
    open: BTreeMap<String, VecDeque<(Lot, T)>>,
    sold: Vec<Sold<T>>,
    realized: Decimal,
}

impl<T> Default for Book<T> {
    fn default() -> Self {
        Self {
            open: BTreeMap::new(),
            sold: Vec::new(),
            realized: Decimal::ZERO,
        }
    }
}

impl<T: Clone> Book<T> {
    pub fn buy(&mut self, lot: Lot, tag: T) {
        self.open
            .entry(lot.symbol.clone())
            .or_default()
            .push_back((lot, tag));
    }

    /// Sells `qty` shares of `symbol` at `price` on `on`, oldest lots first.
    pub fn sell(&mut self, on: Date, symbol: &str, qty: Decimal, price: Decimal) {
        self.sell_where(on, symbol, qty, price, |_| true);
    }

    /// Sells `qty` shares of `symbol` at `price` on `on` out of the lots whose tag `owns`,
    /// oldest first (a bot sells its own shares, not a plan's bought earlier).
    pub fn sell_where(
        &mut self,
        on: Date,
        symbol: &str,
        qty: Decimal,
        price: Decimal,
        owns: impl Fn(&T) -> bool,
    ) {
        let Some(held) = self.open.get_mut(symbol) else {
            return;
        };
        let mut left = qty;
        let mut i = 0;
        while left > Decimal::ZERO && i < held.len() {
            let (lot, tag) = &mut held[i];
            if !owns(tag) {
                i += 1;
                continue;
            }
            let take = left.min(lot.qty);
            let cost_before = lot.cost();
            lot.qty -= take;
            self.realized += take * (price - lot.price);
            self.sold.push(Sold {
                on,
                symbol: symbol.to_owned(),
                qty: take,
                cost: cost_before - lot.cost(),
                proceeds: round_cents(take * price),
                tag: tag.clone(),
            });
            left -= take;
            if lot.qty.is_zero() {
                held.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// The profit the sales realized, in cents.
    pub fn realized(&self) -> Decimal {
        round_cents(self.realized)
    }

    /// Every part of every sale, in the order sold.
    pub fn sold(&self) -> &[Sold<T>] {
        &self.sold
    }

    /// The lots still held (what is left of them), by symbol, oldest first.
    pub fn open(&self) -> impl Iterator<Item = &(Lot, T)> {
        self.open.values().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use rust_decimal::dec;

    const NONE: &[Sold<()>] = &[];

    fn flow(on: Date, amount: Decimal) -> CashFlow {
        CashFlow { on, amount }
    }

    /// Microsoft's documented XIRR example: 0.373362535.
    #[test]
    fn xirr_matches_the_spreadsheet_example() {
        let flows = [
            flow(date(2008, 1, 1), dec!(-10000)),
            flow(date(2008, 3, 1), dec!(2750)),
            flow(date(2008, 10, 30), dec!(4250)),
            flow(date(2009, 2, 15), dec!(3250)),
            flow(date(2009, 4, 1), dec!(2750)),
        ];
        let rate = xirr(&flows).unwrap();
        assert!((rate - 0.373_362_535).abs() < 1e-6, "{rate}");
    }

    /// $100 in for exactly one year growing to $110 is 10%; two yearly deposits whose value
    /// grows 10% a year solve to 10% as well (100·1.1² + 100·1.1 = 231).
    #[test]
    fn xirr_of_known_series() {
        let one = [
            flow(date(2025, 1, 1), dec!(-100)),
            flow(date(2026, 1, 1), dec!(110)),
        ];
        assert!((xirr(&one).unwrap() - 0.10).abs() < 1e-9);
        let two = [
            flow(date(2024, 1, 1), dec!(-100)),
            flow(date(2024, 12, 31), dec!(-100)),
            flow(date(2025, 12, 31), dec!(231)),
        ];
        assert!(
            (xirr(&two).unwrap() - 0.10).abs() < 1e-6,
            "{:?}",
            xirr(&two)
        );
        // A loss: $1,000 worth $800 a year later is −20%.
        let loss = [
            flow(date(2025, 3, 1), dec!(-1000)),
            flow(date(2026, 3, 1), dec!(800)),
        ];
        assert!((xirr(&loss).unwrap() + 0.20).abs() < 1e-9);
    }

    #[test]
    fn xirr_explains_when_there_is_no_rate() {
        assert_eq!(xirr(&[]), Err(NoRate::NoInvestment));
        let short = [
            flow(date(2026, 11, 1), dec!(-50)),
            flow(date(2026, 11, 20), dec!(52)),
        ];
        assert_eq!(xirr(&short), Err(NoRate::TooShort { days: 19 }));
        assert!(NoRate::TooShort { days: 19 }.words().contains("19 so far"));
        let lost = [
            flow(date(2025, 1, 1), dec!(-50)),
            flow(date(2026, 1, 1), dec!(0)),
        ];
        assert_eq!(xirr(&lost), Err(NoRate::NoSolution));
    }

    /// Worked by hand: day 1 puts in 1,000 (worth 1,000: 0%), day 2 is worth 1,100 (+10%),
    /// day 3 adds 1,000 and closes at 2,310 (2,310 / 2,100: +10%): 1.1 × 1.1 − 1 = 21%,
    /// although the money-weighted gain on 2,000 is 15.5%.
    #[test]
    fn twr_chains_daily_returns_without_counting_deposits() {
        let days = [
            DayValue {
                on: date(2026, 1, 5),
                value: dec!(1000),
                flow: dec!(1000),
                out: dec!(0),
            },
            DayValue {
                on: date(2026, 1, 6),
                value: dec!(1100),
                flow: dec!(0),
                out: dec!(0),
            },
            DayValue {
                on: date(2026, 1, 7),
                value: dec!(2310),
                flow: dec!(1000),
                out: dec!(0),
            },
        ];
        assert!((twr(&days).unwrap() - 0.21).abs() < 1e-12);
        assert_eq!(twr(&[]), None);
    }

    #[test]
    fn only_spans_over_a_year_are_annualised() {
        assert_eq!(annualise(0.21, 30), None);
        let yearly = annualise(0.21, 730).unwrap();
        assert!((yearly - 0.1).abs() < 1e-12, "{yearly}");
    }

    fn lot(on: Date, symbol: &str, qty: Decimal, price: Decimal) -> Lot {
        Lot {
            on,
            symbol: symbol.to_owned(),
            qty,
            price,
        }
    }

    /// Worked by hand: 1 SPY at 100 on Monday, closes 100, 105; 1 more at 110 on Wednesday
    /// (close 110), 121 on Thursday, and 121 now. Days: 0%, +5%, 220 / (105 + 110), +10%,
    /// 0%: 1.05 × 220/215 × 1.1 − 1 = 18.186%; invested 210, worth 242 (+15.24%).
    #[test]
    fn performance_values_each_day_and_chains_its_returns() {
        let lots = [
            lot(date(2026, 1, 5), "SPY", dec!(1), dec!(100)),
            lot(date(2026, 1, 7), "SPY", dec!(1), dec!(110)),
        ];
        let closes = BTreeMap::from([(
            "SPY".to_owned(),
            vec![
                (date(2026, 1, 2), dec!(98)),
                (date(2026, 1, 5), dec!(100)),
                (date(2026, 1, 6), dec!(105)),
                (date(2026, 1, 7), dec!(110)),
                (date(2026, 1, 8), dec!(121)),
            ],
        )]);
        let prices = BTreeMap::from([("SPY".to_owned(), dec!(121))]);
        let p = performance(&lots, NONE, &closes, &prices, date(2026, 1, 9));
        assert_eq!(
            (p.invested, p.value, p.gain),
            (dec!(210), dec!(242), dec!(32))
        );
        assert_eq!(p.gain_pct, Some(dec!(15.24)));
        let expected = 1.05 * (220.0 / 215.0) * 1.1 - 1.0;
        assert!((p.twr.unwrap() - expected).abs() < 1e-12, "{:?}", p.twr);
        assert_eq!(p.twr_annualised, None);
        assert_eq!(p.xirr, Err(NoRate::TooShort { days: 4 }));
        assert_eq!(p.days, 4);
        let values: Vec<_> = p
            .series
            .iter()
            .map(|point| (point.invested, point.value))
            .collect();
        assert_eq!(
            values,
            [
                (dec!(100), dec!(100)),
                (dec!(100), dec!(105)),
                (dec!(210), dec!(220)),
                (dec!(210), dec!(242)),
                (dec!(210), dec!(242)),
            ],
            "the close before the first purchase is not a point"
        );
        assert_eq!(
            p.holdings,
            [Holding {
                symbol: "SPY".into(),
                qty: dec!(2),
                cost: dec!(210),
                average_cost: dec!(105),
                value: Some(dec!(242)),
            }]
        );
    }

    /// One year from $100 to $110: 10% money-weighted, time-weighted and per year.
    #[test]
    fn performance_over_a_year_gives_every_rate() {
        let lots = [lot(date(2025, 1, 2), "VTI", dec!(0.5), dec!(200))];
        let prices = BTreeMap::from([("VTI".to_owned(), dec!(220))]);
        let p = performance(&lots, NONE, &BTreeMap::new(), &prices, date(2026, 1, 2));
        assert!((p.xirr.unwrap() - 0.1).abs() < 1e-9);
        assert!((p.twr.unwrap() - 0.1).abs() < 1e-12);
        assert!((p.twr_annualised.unwrap() - 0.1).abs() < 1e-12);
    }

    /// Without a close or a latest price, a symbol is valued at its latest purchase price;
    /// nothing bought is nothing to show.
    #[test]
    fn performance_falls_back_to_the_purchase_price() {
        let lots = [lot(date(2026, 3, 2), "QQQ", dec!(0.1234), dec!(400.50))];
        let p = performance(
            &lots,
            NONE,
            &BTreeMap::new(),
            &BTreeMap::new(),
            date(2026, 3, 3),
        );
        assert_eq!(p.invested, dec!(49.42));
        assert_eq!(p.value, dec!(49.42));
        assert_eq!(p.holdings[0].value, None);
        let none = performance(
            &[],
            NONE,
            &BTreeMap::new(),
            &BTreeMap::new(),
            date(2026, 3, 3),
        );
        assert_eq!(none.xirr, Err(NoRate::NoInvestment));
        assert_eq!(none.gain_pct, None);
        assert!(none.series.is_empty());
    }

    /// Worked by hand: 2 SPY at 100 on Monday (close 100), close 110 on Tuesday, 1 sold at
    /// 120 on Wednesday (close 120), 120 now. Days: 0%, +10%, (120 + 120) / 220 = +9.09%,
    /// 0%: 1.1 × 240/220 − 1 = 20%, as the price went from 100 to 120. What is held cost 100
    /// and is worth 120; the sale realized 20.
    #[test]
    fn a_sale_takes_its_shares_cost_out_and_its_proceeds_count_as_money_out() {
        let mut book = Book::default();
        book.buy(lot(date(2026, 1, 5), "SPY", dec!(2), dec!(100)), "plan");
        book.sell(date(2026, 1, 7), "SPY", dec!(1), dec!(120));
        let closes = BTreeMap::from([(
            "SPY".to_owned(),
            vec![
                (date(2026, 1, 5), dec!(100)),
                (date(2026, 1, 6), dec!(110)),
                (date(2026, 1, 7), dec!(120)),
            ],
        )]);
        let prices = BTreeMap::from([("SPY".to_owned(), dec!(120))]);
        let lots = [lot(date(2026, 1, 5), "SPY", dec!(2), dec!(100))];
        let p = performance(&lots, book.sold(), &closes, &prices, date(2026, 1, 8));
        assert_eq!(
            (p.invested, p.value, p.gain),
            (dec!(100), dec!(120), dec!(20))
        );
        assert!((p.twr.unwrap() - 0.20).abs() < 1e-12, "{:?}", p.twr);
        assert_eq!(book.realized(), dec!(20.00));
        let values: Vec<_> = p
            .series
            .iter()
            .map(|point| (point.invested, point.value))
            .collect();
        assert_eq!(
            values,
            [
                (dec!(200), dec!(200)),
                (dec!(200), dec!(220)),
                (dec!(100), dec!(120)),
                (dec!(100), dec!(120)),
            ]
        );
        assert_eq!(
            p.holdings,
            [Holding {
                symbol: "SPY".into(),
                qty: dec!(1),
                cost: dec!(100),
                average_cost: dec!(100),
                value: Some(dec!(120)),
            }]
        );
        // Everything sold: nothing held, and the money-weighted rate counts the proceeds
        // (100 in, 110 back a year later: 10%).
        let mut book = Book::default();
        book.buy(lot(date(2025, 1, 2), "VTI", dec!(1), dec!(100)), ());
        book.sell(date(2026, 1, 2), "VTI", dec!(1), dec!(110));
        let lots = [lot(date(2025, 1, 2), "VTI", dec!(1), dec!(100))];
        let p = performance(
            &lots,
            book.sold(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            date(2026, 1, 2),
        );
        assert_eq!((p.invested, p.value), (dec!(0), dec!(0)));
        assert!(p.holdings.is_empty());
        assert!((p.xirr.unwrap() - 0.1).abs() < 1e-9, "{:?}", p.xirr);
        // Sold whole below the last close (100 → 104 → sold at 95): −5%, not −100%.
        let mut book = Book::default();
        book.buy(lot(date(2026, 1, 5), "VTI", dec!(1), dec!(100)), ());
        book.sell(date(2026, 1, 7), "VTI", dec!(1), dec!(95));
        let lots = [lot(date(2026, 1, 5), "VTI", dec!(1), dec!(100))];
        let closes = BTreeMap::from([(
            "VTI".to_owned(),
            vec![(date(2026, 1, 5), dec!(100)), (date(2026, 1, 6), dec!(104))],
        )]);
        let p = performance(
            &lots,
            book.sold(),
            &closes,
            &BTreeMap::new(),
            date(2026, 1, 8),
        );
        assert!((p.twr.unwrap() + 0.05).abs() < 1e-12, "{:?}", p.twr);
    }

    #[test]
    fn sales_realize_profit_first_in_first_out() {
        let on = date(2026, 1, 5);
        let mut book = Book::default();
        book.buy(lot(on, "SPY", dec!(1), dec!(100)), ());
        book.buy(lot(on, "QQQ", dec!(2), dec!(50)), ());
        book.buy(lot(on, "SPY", dec!(1), dec!(120)), ());
        assert_eq!(book.realized(), dec!(0), "nothing sold");
        // 1.5 SPY at 130: 1 × 30 + 0.5 × 10 = 35.
        book.sell(on, "SPY", dec!(1.5), dec!(130));
        // 1 QQQ at 40: a loss of 10 (25).
        book.sell(on, "QQQ", dec!(1), dec!(40));
        // The last 0.5 SPY (cost 120) and 1 share of unknown cost, at 110: −5 (20).
        book.sell(on, "SPY", dec!(1.5), dec!(110));
        // Shares never bought: nothing to realize.
        book.sell(on, "IWM", dec!(1), dec!(200));
        assert_eq!(book.realized(), dec!(20.00));
        let sold: Vec<_> = book
            .sold()
            .iter()
            .map(|s| (s.symbol.as_str(), s.qty, s.cost, s.proceeds))
            .collect();
        assert_eq!(
            sold,
            [
                ("SPY", dec!(1), dec!(100), dec!(130)),
                ("SPY", dec!(0.5), dec!(60), dec!(65)),
                ("QQQ", dec!(1), dec!(50), dec!(40)),
                ("SPY", dec!(0.5), dec!(60), dec!(55)),
            ]
        );
        let open: Vec<_> = book
            .open()
            .map(|(l, _)| (l.symbol.as_str(), l.qty))
            .collect();
        assert_eq!(open, [("QQQ", dec!(1))]);
    }

    #[test]
    fn the_book_sells_the_oldest_lots_first_and_keeps_their_tags() {
        let mut book = Book::default();
        book.buy(lot(date(2026, 1, 5), "SPY", dec!(1), dec!(100)), "a");
        book.buy(lot(date(2026, 2, 2), "SPY", dec!(2), dec!(110)), "b");
        book.buy(lot(date(2026, 3, 2), "SPY", dec!(1), dec!(120)), "c");
        // 2 shares at 130: the 100 lot whole and half the 110 lot: 30 + 20.
        book.sell(date(2026, 3, 3), "SPY", dec!(2), dec!(130));
        assert_eq!(book.realized(), dec!(50.00));
        assert_eq!(
            book.open()
                .map(|(l, tag)| (l.on, l.qty, *tag))
                .collect::<Vec<_>>(),
            [
                (date(2026, 2, 2), dec!(1), "b"),
                (date(2026, 3, 2), dec!(1), "c")
            ],
        );
        assert_eq!(
            book.sold()
                .iter()
                .map(|s| (s.tag, s.qty))
                .collect::<Vec<_>>(),
            [("a", dec!(1)), ("b", dec!(1))]
        );
        // A lot of 0.333 at 100.01 (33.30) sold in three parts: the parts' costs add up to
        // the lot's.
        let mut book = Book::default();
        book.buy(lot(date(2026, 1, 5), "VTI", dec!(0.333), dec!(100.01)), ());
        for _ in 0..3 {
            book.sell(date(2026, 1, 6), "VTI", dec!(0.111), dec!(100));
        }
        let cost: Decimal = book.sold().iter().map(|s| s.cost).sum();
        assert_eq!(cost, dec!(33.30));
        // Selling more than is held sells what there is.
        book.sell(date(2026, 1, 7), "VTI", dec!(9), dec!(100));
        assert_eq!(book.open().count(), 0);
    }

    #[test]
    fn a_sale_can_take_only_its_owners_lots() {
        let mut book = Book::default();
        book.buy(lot(date(2026, 1, 5), "SPY", dec!(1), dec!(100)), "plan");
        book.buy(lot(date(2026, 1, 6), "SPY", dec!(2), dec!(110)), "bot");
        book.sell_where(date(2026, 1, 7), "SPY", dec!(2), dec!(120), |tag| {
            *tag == "bot"
        });
        assert_eq!(book.realized(), dec!(20.00));
        assert_eq!(
            book.open()
                .map(|(l, tag)| (l.qty, *tag))
                .collect::<Vec<_>>(),
            [(dec!(1), "plan")],
            "the plan's older lot is untouched"
        );
    }
}
