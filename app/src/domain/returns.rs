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
use std::collections::{BTreeMap, BTreeSet};

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

/// One day of a portfolio: its value at the day's close and the money put in (positive) or
/// taken out (negative) during the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayValue {
    pub on: Date,
    pub value: Decimal,
    pub flow: Decimal,
}

/// The time-weighted return over `days` (in date order): each day's return is its close
/// over the previous close plus the day's flow, and the returns are chained. The same
/// arithmetic as the backtester's ([`RunningStats`]). `None` before any money is in.
pub fn twr(days: &[DayValue]) -> Option<f64> {
    let mut stats = RunningStats::new(0.0);
    let mut invested = false;
    for day in days {
        invested |= day.flow > Decimal::ZERO;
        stats.record(to_f64(day.value), to_f64(day.flow), true);
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

/// The performance of `lots` on `today`: holdings valued at `prices` (the latest price of
/// each symbol) and, for the days before, at `closes` (each symbol's daily closes in date
/// order). A day without a close for a symbol takes its latest earlier close, or the price
/// of its latest purchase before any close.
pub fn performance(
    lots: &[Lot],
    closes: &BTreeMap<String, Vec<(Date, Decimal)>>,
    prices: &BTreeMap<String, Decimal>,
    today: Date,
) -> Performance {
    let mut lots: Vec<&Lot> = lots.iter().filter(|lot| lot.on <= today).collect();
    lots.sort_by_key(|lot| lot.on);
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
    let mut next_lot = 0;
    let mut days = Vec::with_capacity(dates.len());
    let mut series = Vec::with_capacity(dates.len());
    for on in dates {
        let mut flow = Decimal::ZERO;
        while let Some(lot) = lots.get(next_lot).filter(|lot| lot.on == on) {
            *held.entry(lot.symbol.as_str()).or_default() += lot.qty;
            last_price.insert(lot.symbol.as_str(), lot.price);
            flow += lot.cost();
            next_lot += 1;
        }
        invested += flow;
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
        days.push(DayValue { on, value, flow });
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
        holdings: holdings(&lots, prices, closes),
        series,
    }
}

/// Each symbol's shares and average cost, valued at the latest price (or close).
fn holdings(
    lots: &[&Lot],
    prices: &BTreeMap<String, Decimal>,
    closes: &BTreeMap<String, Vec<(Date, Decimal)>>,
) -> Vec<Holding> {
    let mut by_symbol: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
    for lot in lots {
        let entry = by_symbol.entry(lot.symbol.as_str()).or_default();
        entry.0 += lot.qty;
        entry.1 += lot.cost();
    }
    by_symbol
        .into_iter()
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

/// One fill of an account's order, for the profit its sales realized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trade {
    pub symbol: String,
    pub sell: bool,
    pub qty: Decimal,
    pub price: Decimal,
}

/// An account's shares by symbol, first in first out, and the profit its sales realized:
/// fed one fill at a time, in the order they filled, so a reader can keep it and add only
/// newer fills. A sale of shares bought before the fills it saw (moved in from elsewhere)
/// realizes nothing for the part without a known cost; splits and symbol changes are not
/// applied (a split's shares sell at their pre-split cost).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FifoBook {
    lots: BTreeMap<String, std::collections::VecDeque<(Decimal, Decimal)>>,
    realized: Decimal,
}

impl FifoBook {
    pub fn apply(&mut self, trade: &Trade) {
        let held = self.lots.entry(trade.symbol.clone()).or_default();
        if !trade.sell {
            held.push_back((trade.qty, trade.price));
            return;
        }
        let mut qty = trade.qty;
        while qty > Decimal::ZERO {
            let Some(front) = held.front_mut() else { break };
            let take = qty.min(front.0);
            self.realized += take * (trade.price - front.1);
            front.0 -= take;
            qty -= take;
            if front.0.is_zero() {
                held.pop_front();
            }
        }
    }

    /// The profit realized so far, in cents.
    pub fn realized(&self) -> Decimal {
        round_cents(self.realized)
    }
}

/// The profit `trades` (in the order they filled) realized, first in, first out per symbol,
/// in cents.
pub fn realized(trades: &[Trade]) -> Decimal {
    let mut book = FifoBook::default();
    for trade in trades {
        book.apply(trade);
    }
    book.realized()
}

/// The lots still held after `sold` shares (quantity and price, in the order sold) were
/// sold first-in, first-out, with the profit those sales realized. A lot sold in part stays
/// with what is left of it; a sale of more than is held sells what there is. Each lot keeps
/// its tag (the plan that bought it, say) through the sales.
pub fn fifo<T: Clone>(lots: &[(Lot, T)], sold: &[(Decimal, Decimal)]) -> (Vec<(Lot, T)>, Decimal) {
    let mut open: std::collections::VecDeque<(Lot, T)> = lots.iter().cloned().collect();
    open.make_contiguous().sort_by_key(|(lot, _)| lot.on);
    let mut realized = Decimal::ZERO;
    for &(mut qty, price) in sold {
        while qty > Decimal::ZERO {
            let Some((front, _)) = open.front_mut() else {
                break;
            };
            let take = qty.min(front.qty);
            realized += take * (price - front.price);
            front.qty -= take;
            qty -= take;
            if front.qty.is_zero() {
                open.pop_front();
            }
        }
    }
    (open.into(), round_cents(realized))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use rust_decimal::dec;

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
            },
            DayValue {
                on: date(2026, 1, 6),
                value: dec!(1100),
                flow: dec!(0),
            },
            DayValue {
                on: date(2026, 1, 7),
                value: dec!(2310),
                flow: dec!(1000),
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
        let p = performance(&lots, &closes, &prices, date(2026, 1, 9));
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
        let p = performance(&lots, &BTreeMap::new(), &prices, date(2026, 1, 2));
        assert!((p.xirr.unwrap() - 0.1).abs() < 1e-9);
        assert!((p.twr.unwrap() - 0.1).abs() < 1e-12);
        assert!((p.twr_annualised.unwrap() - 0.1).abs() < 1e-12);
    }

    /// Without a close or a latest price, a symbol is valued at its latest purchase price;
    /// nothing bought is nothing to show.
    #[test]
    fn performance_falls_back_to_the_purchase_price() {
        let lots = [lot(date(2026, 3, 2), "QQQ", dec!(0.1234), dec!(400.50))];
        let p = performance(&lots, &BTreeMap::new(), &BTreeMap::new(), date(2026, 3, 3));
        assert_eq!(p.invested, dec!(49.42));
        assert_eq!(p.value, dec!(49.42));
        assert_eq!(p.holdings[0].value, None);
        let none = performance(&[], &BTreeMap::new(), &BTreeMap::new(), date(2026, 3, 3));
        assert_eq!(none.xirr, Err(NoRate::NoInvestment));
        assert_eq!(none.gain_pct, None);
        assert!(none.series.is_empty());
    }

    #[test]
    fn sales_realize_profit_first_in_first_out() {
        let trade = |symbol: &str, sell, qty, price| Trade {
            symbol: symbol.into(),
            sell,
            qty,
            price,
        };
        let trades = [
            trade("SPY", false, dec!(1), dec!(100)),
            trade("QQQ", false, dec!(2), dec!(50)),
            trade("SPY", false, dec!(1), dec!(120)),
            // 1.5 SPY at 130: 1 × 30 + 0.5 × 10 = 35.
            trade("SPY", true, dec!(1.5), dec!(130)),
            // 1 QQQ at 40: a loss of 10 (25).
            trade("QQQ", true, dec!(1), dec!(40)),
            // The last 0.5 SPY (cost 120) and 1 share of unknown cost, at 110: −5 (20).
            trade("SPY", true, dec!(1.5), dec!(110)),
        ];
        assert_eq!(realized(&trades), dec!(20.00));
        assert_eq!(realized(&trades[..3]), dec!(0.00), "nothing sold");
    }

    #[test]
    fn fifo_sells_the_oldest_lots_first() {
        let lots = [
            (lot(date(2026, 2, 2), "SPY", dec!(2), dec!(110)), "b"),
            (lot(date(2026, 1, 5), "SPY", dec!(1), dec!(100)), "a"),
            (lot(date(2026, 3, 2), "SPY", dec!(1), dec!(120)), "c"),
        ];
        let (open, realized) = fifo(&lots, &[]);
        assert_eq!(open.len(), 3, "nothing sold: every lot, oldest first");
        assert_eq!((open[0].0.price, open[0].1), (dec!(100), "a"));
        // 2 shares at 130: the 100 lot whole and half the 110 lot: 30 + 20.
        let (open, realized_now) = fifo(&lots, &[(dec!(2), dec!(130))]);
        assert_eq!(realized, dec!(0));
        assert_eq!(realized_now, dec!(50.00));
        assert_eq!(
            open.iter()
                .map(|(l, tag)| (l.on, l.qty, *tag))
                .collect::<Vec<_>>(),
            [
                (date(2026, 2, 2), dec!(1), "b"),
                (date(2026, 3, 2), dec!(1), "c")
            ],
            "each lot keeps its tag"
        );
        // Selling more than is held sells what there is.
        let (open, _) = fifo(&lots, &[(dec!(9), dec!(130))]);
        assert!(open.is_empty());
    }
}
