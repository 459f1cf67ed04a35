//! Performance statistics from an equity curve and a list of trades. Money stays decimal;
//! ratios (returns, Sharpe, …) are `f64` because they are statistics, not amounts.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;

/// Trading days per year, for annualising daily figures.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

/// A decimal as the nearest-ish `f64`, for statistics only (never for money).
/// Mantissas that fit an `i64` (all realistic prices and balances) take a fast path.
pub fn to_f64(value: Decimal) -> f64 {
    const POW10: [f64; 29] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28,
    ];
    match i64::try_from(value.mantissa()) {
        Ok(mantissa) if mantissa.unsigned_abs() < 1 << 53 => {
            mantissa as f64 / POW10[value.scale() as usize]
        }
        _ => value.to_f64().unwrap_or(0.0),
    }
}

/// Statistics of an equity series, updated one period at a time in O(1) time and memory:
/// time-weighted returns (contributions are not counted as gains), their mean and
/// variance (Welford), downside deviation, the growth index and its deepest drawdown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunningStats {
    previous: f64,
    count: u64,
    mean: f64,
    m2: f64,
    downside_squares: f64,
    index: f64,
    peak: f64,
    max_drawdown: f64,
    periods: u64,
    exposed: u64,
}

impl RunningStats {
    /// Starts from `initial` equity (0 for DCA, where money arrives as contributions).
    pub fn new(initial: f64) -> Self {
        Self {
            previous: initial,
            count: 0,
            mean: 0.0,
            m2: 0.0,
            downside_squares: 0.0,
            index: 1.0,
            peak: 1.0,
            max_drawdown: 0.0,
            periods: 0,
            exposed: 0,
        }
    }

    /// Adds one period ending with `equity`, of which `contributed` arrived during it.
    pub fn record(&mut self, equity: f64, contributed: f64, exposed: bool) {
        self.periods += 1;
        self.exposed += u64::from(exposed);
        let base = self.previous + contributed;
        self.previous = equity;
        if base <= 0.0 {
            return;
        }
        let r = equity / base - 1.0;
        self.count += 1;
        let delta = r - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (r - self.mean);
        self.downside_squares += r.min(0.0).powi(2);
        self.index *= 1.0 + r;
        self.peak = self.peak.max(self.index);
        if self.peak > 0.0 {
            self.max_drawdown = self.max_drawdown.max((self.peak - self.index) / self.peak);
        }
    }

    /// The product of (1 + r) over all periods.
    pub fn growth(&self) -> f64 {
        self.index
    }

    pub fn max_drawdown_pct(&self) -> f64 {
        self.max_drawdown * 100.0
    }

    pub fn exposure_pct(&self) -> f64 {
        if self.periods == 0 {
            0.0
        } else {
            self.exposed as f64 / self.periods as f64 * 100.0
        }
    }

    /// Sharpe and Sortino, annualised, risk-free rate 0 (see [`return_stats`]).
    pub fn ratios(&self) -> ReturnStats {
        if self.count < 2 {
            return ReturnStats::default();
        }
        let n = self.count as f64;
        let sd = (self.m2 / (n - 1.0)).sqrt();
        let downside = (self.downside_squares / n).sqrt();
        let annualise = TRADING_DAYS_PER_YEAR.sqrt();
        let ratio = |d: f64| (d > 1e-12).then(|| self.mean / d * annualise);
        ReturnStats {
            sharpe: ratio(sd),
            sortino: ratio(downside),
        }
    }
}

/// Summary statistics of a series of periodic returns.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReturnStats {
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
}

/// Sharpe and Sortino ratios of daily returns, annualised, with a risk-free rate of 0.
/// Sortino's downside deviation is the root mean square of the negative returns over all
/// periods. `None` where a ratio is undefined (fewer than two returns, or no variation).
pub fn return_stats(returns: &[f64]) -> ReturnStats {
    if returns.len() < 2 {
        return ReturnStats::default();
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let variance = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    let annualise = TRADING_DAYS_PER_YEAR.sqrt();
    let ratio = |denominator: f64| (denominator > 1e-12).then(|| mean / denominator * annualise);
    ReturnStats {
        sharpe: ratio(variance.sqrt()),
        sortino: ratio(downside),
    }
}

/// The largest peak-to-trough fall of a value series, as a positive percentage.
pub fn max_drawdown_pct(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut peak = f64::MIN;
    let mut worst: f64 = 0.0;
    for value in values {
        peak = peak.max(value);
        if peak > 0.0 {
            worst = worst.max((peak - value) / peak);
        }
    }
    worst * 100.0
}

/// Compound annual growth rate in percent from a growth factor over `days` calendar days.
pub fn cagr_pct(growth: f64, days: f64) -> Option<f64> {
    (days > 0.0 && growth > 0.0).then(|| (growth.powf(365.25 / days) - 1.0) * 100.0)
}

/// The money-weighted annual return (XIRR) of dated cash flows, in percent: flows are
/// (days since the first, amount) with investments negative; the dashboard's solver
/// ([`crate::domain::returns::solve_xirr`], 365-day years as in spreadsheets).
pub fn xirr_pct(flows: &[(f64, f64)]) -> Option<f64> {
    crate::domain::returns::solve_xirr(flows).map(|rate| rate * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() < tolerance
    }

    #[test]
    fn running_stats_match_the_batch_formulas() {
        let equity = [100.0, 101.0, 99.99, 101.9898, 101.9898];
        let mut running = RunningStats::new(100.0);
        for e in &equity[1..] {
            running.record(*e, 0.0, true);
        }
        let returns = [0.01, -0.01, 0.02, 0.0];
        let batch = return_stats(&returns);
        assert!(close(
            running.ratios().sharpe.unwrap(),
            batch.sharpe.unwrap(),
            1e-9
        ));
        assert!(close(
            running.ratios().sortino.unwrap(),
            batch.sortino.unwrap(),
            1e-9
        ));
        assert!(close(running.max_drawdown_pct(), 1.0, 1e-9));
        assert!(close(running.growth(), 1.019898, 1e-12));
        assert_eq!(running.exposure_pct(), 100.0);
        // A contribution is not a gain: 100 → 210 after adding 100 is a 5 % return.
        let mut dca = RunningStats::new(0.0);
        dca.record(100.0, 100.0, true);
        dca.record(210.0, 100.0, true);
        assert!(close(dca.growth(), 1.05, 1e-12));
    }

    #[test]
    fn decimals_convert_to_floats() {
        use rust_decimal::dec;
        assert_eq!(to_f64(dec!(123.45)), 123.45);
        assert_eq!(to_f64(dec!(-0.000000001)), -1e-9);
        assert_eq!(to_f64(Decimal::MAX), 7.922816251426434e28);
        assert_eq!(to_f64(dec!(12345678901234567.891)), 12345678901234567.891);
    }

    #[test]
    fn drawdown_by_hand() {
        assert_eq!(max_drawdown_pct([100.0, 120.0, 90.0, 130.0, 117.0]), 25.0);
        assert_eq!(max_drawdown_pct([1.0, 2.0, 3.0]), 0.0);
    }

    #[test]
    fn cagr_by_hand() {
        assert!(close(
            cagr_pct(2.0, 365.25 * 2.0).unwrap(),
            (2f64.sqrt() - 1.0) * 100.0,
            1e-9
        ));
        assert_eq!(cagr_pct(1.0, 0.0), None);
    }

    #[test]
    fn sharpe_and_sortino_by_hand() {
        let returns = [0.01, -0.01, 0.02, 0.0];
        // mean 0.005, sample sd = sqrt(((.005)²+(.015)²+(.015)²+(.005)²)/3) = sqrt(0.0005/3)
        let stats = return_stats(&returns);
        let sd = (0.0005f64 / 3.0).sqrt();
        assert!(close(
            stats.sharpe.unwrap(),
            0.005 / sd * 252f64.sqrt(),
            1e-9
        ));
        // downside deviation = sqrt(0.0001 / 4) = 0.005
        assert!(close(
            stats.sortino.unwrap(),
            0.005 / 0.005 * 252f64.sqrt(),
            1e-9
        ));
        assert_eq!(return_stats(&[0.01]).sharpe, None);
        assert_eq!(return_stats(&[0.01, 0.01]).sharpe, None, "no variation");
    }

    #[test]
    fn xirr_by_hand() {
        // 1000 in, 1100 out one year (365 days) later: 10 %.
        assert!(close(
            xirr_pct(&[(0.0, -1000.0), (365.0, 1100.0)]).unwrap(),
            10.0,
            1e-6
        ));
        // Two deposits of 100, worth 210 after a year from the first: r with
        // 100(1+r) + 100(1+r)^0.5 = 210.
        let r = xirr_pct(&[(0.0, -100.0), (182.5, -100.0), (365.0, 210.0)]).unwrap() / 100.0;
        assert!(close(
            100.0 * (1.0 + r) + 100.0 * (1.0 + r).sqrt(),
            210.0,
            1e-6
        ));
        assert_eq!(xirr_pct(&[(0.0, -1.0)]), None);
        // A total loss is about −100 %.
        assert!(xirr_pct(&[(0.0, -100.0), (365.0, 0.01)]).unwrap() < -99.9);
    }
}
