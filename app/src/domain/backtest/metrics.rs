//! Performance statistics from an equity curve and a list of trades. Money stays decimal;
//! ratios (returns, Sharpe, …) are `f64` because they are statistics, not amounts.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive as _;

/// Trading days per year, for annualising daily figures.
pub const TRADING_DAYS_PER_YEAR: f64 = 252.0;

pub fn to_f64(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(0.0)
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

/// The money-weighted annual return (XIRR) of dated cash flows, in percent: the rate r at
/// which Σ flow / (1 + r)^(years since the first flow) = 0. Flows are (days, amount) with
/// investments negative. Solved by Newton's method with a bisection fallback.
pub fn xirr_pct(flows: &[(f64, f64)]) -> Option<f64> {
    let has_in = flows.iter().any(|(_, a)| *a < 0.0);
    let has_out = flows.iter().any(|(_, a)| *a > 0.0);
    if !has_in || !has_out {
        return None;
    }
    let npv = |rate: f64| -> f64 {
        flows
            .iter()
            .map(|(days, amount)| amount / (1.0 + rate).powf(days / 365.25))
            .sum()
    };
    let derivative = |rate: f64| -> f64 {
        flows
            .iter()
            .map(|(days, amount)| {
                let t = days / 365.25;
                -t * amount / (1.0 + rate).powf(t + 1.0)
            })
            .sum()
    };
    let mut rate = 0.1;
    for _ in 0..100 {
        let value = npv(rate);
        if value.abs() < 1e-9 {
            return Some(rate * 100.0);
        }
        let slope = derivative(rate);
        if slope.abs() < 1e-14 {
            break;
        }
        let next = rate - value / slope;
        if !next.is_finite() || next <= -0.999_999_999 {
            break;
        }
        if (next - rate).abs() < 1e-12 {
            return Some(next * 100.0);
        }
        rate = next;
    }
    // Bisection over (−99.9999999 %, +1e6 %): NPV falls as the rate rises when the first flows
    // are investments.
    let (mut low, mut high) = (-0.999_999_999, 10_000.0);
    if npv(low).signum() == npv(high).signum() {
        return None;
    }
    for _ in 0..300 {
        let mid = (low + high) / 2.0;
        if npv(mid).signum() == npv(low).signum() {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some((low + high) / 2.0 * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() < tolerance
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
        // 1000 in, 1100 out one year later: 10 %.
        assert!(close(
            xirr_pct(&[(0.0, -1000.0), (365.25, 1100.0)]).unwrap(),
            10.0,
            1e-6
        ));
        // Two deposits of 100, worth 210 after a year from the first: r with
        // 100(1+r) + 100(1+r)^0.5 = 210.
        let r = xirr_pct(&[(0.0, -100.0), (182.625, -100.0), (365.25, 210.0)]).unwrap() / 100.0;
        assert!(close(
            100.0 * (1.0 + r) + 100.0 * (1.0 + r).sqrt(),
            210.0,
            1e-6
        ));
        assert_eq!(xirr_pct(&[(0.0, -1.0)]), None);
        // A total loss is about −100 %.
        assert!(xirr_pct(&[(0.0, -100.0), (365.25, 0.01)]).unwrap() < -99.9);
    }
}
