//! Incremental indicators: each update is O(1) in time and the state is O(period).
//! Values appear once enough data has been seen ("warm"); before that they are `None`.

use rust_decimal::Decimal;
use std::collections::VecDeque;

/// `value` in units of 10⁻⁹ (Alpaca's precision), rounded toward zero beyond 9 decimal
/// places. The SMA keeps its window in these units, so updates and comparisons are exact
/// integer arithmetic, and fast.
fn to_nanos(value: Decimal) -> i128 {
    let scale = value.scale();
    let mantissa = value.mantissa();
    if scale <= 9 {
        mantissa * 10i128.pow(9 - scale)
    } else {
        mantissa / 10i128.pow(scale - 9)
    }
}

fn from_nanos(nanos: i128) -> Decimal {
    // |nanos| < 2⁹⁶ for any realistic sum (10¹² dollars × 1000 bars × 10⁹ is ≈ 2⁸⁴).
    Decimal::try_from_i128_with_scale(nanos, 9).unwrap_or(Decimal::MAX)
}

/// Simple moving average over the last `period` values (inputs kept to 9 decimal places).
#[derive(Clone, Debug)]
pub struct Sma {
    period: usize,
    window: VecDeque<i128>,
    sum: i128,
}

impl Sma {
    /// # Panics
    /// If `period` is 0 (configurations are validated before they get here).
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "an SMA needs a period of at least 1");
        Self {
            period,
            window: VecDeque::with_capacity(period + 1),
            sum: 0,
        }
    }

    pub fn update(&mut self, value: Decimal) {
        let value = to_nanos(value);
        self.window.push_back(value);
        self.sum += value;
        if self.window.len() > self.period
            && let Some(old) = self.window.pop_front()
        {
            self.sum -= old;
        }
    }

    pub fn is_ready(&self) -> bool {
        self.window.len() == self.period
    }

    pub fn period(&self) -> usize {
        self.period
    }

    /// The sum of the window.
    pub fn sum(&self) -> Decimal {
        from_nanos(self.sum)
    }

    /// Compares this average with `other`'s exactly, without dividing:
    /// sum_a / n_a ⋚ sum_b / n_b ⟺ sum_a · n_b ⋚ sum_b · n_a. `None` until both are warm.
    pub fn compare(&self, other: &Sma) -> Option<std::cmp::Ordering> {
        (self.is_ready() && other.is_ready())
            .then(|| (self.sum * other.period as i128).cmp(&(other.sum * self.period as i128)))
    }

    pub fn value(&self) -> Option<Decimal> {
        self.is_ready()
            .then(|| from_nanos(self.sum) / Decimal::from(self.period))
    }
}

/// Exponential moving average with α = 2 / (period + 1), seeded with the SMA of the first
/// `period` values.
#[derive(Clone, Debug)]
pub struct Ema {
    period: usize,
    alpha: Decimal,
    seed: Sma,
    value: Option<Decimal>,
}

impl Ema {
    pub fn new(period: usize) -> Self {
        Self {
            period,
            alpha: Decimal::TWO / Decimal::from(period + 1),
            seed: Sma::new(period),
            value: None,
        }
    }

    pub fn update(&mut self, value: Decimal) {
        match self.value {
            Some(prev) => self.value = Some(prev + self.alpha * (value - prev)),
            None => {
                self.seed.update(value);
                self.value = self.seed.value();
            }
        }
    }

    pub fn period(&self) -> usize {
        self.period
    }

    pub fn value(&self) -> Option<Decimal> {
        self.value
    }
}

/// Average true range with Wilder's smoothing: the first value is the mean of the first
/// `period` true ranges, then ATR = (ATR × (period − 1) + TR) / period. Kept in integer
/// units of 10⁻⁹ like the SMA (each step rounds toward zero at the ninth place).
#[derive(Clone, Debug)]
pub struct Atr {
    period: i128,
    seen: i128,
    seed_sum: i128,
    prev_close: Option<i128>,
    value: Option<i128>,
}

impl Atr {
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "an ATR needs a period of at least 1");
        Self {
            period: period as i128,
            seen: 0,
            seed_sum: 0,
            prev_close: None,
            value: None,
        }
    }

    pub fn update(&mut self, high: Decimal, low: Decimal, close: Decimal) {
        let (high, low, close) = (to_nanos(high), to_nanos(low), to_nanos(close));
        let range = high - low;
        let true_range = match self.prev_close {
            Some(prev) => range.max((high - prev).abs()).max((low - prev).abs()),
            None => range,
        };
        self.prev_close = Some(close);
        self.value = match self.value {
            Some(atr) => Some((atr * (self.period - 1) + true_range) / self.period),
            None => {
                self.seen += 1;
                self.seed_sum += true_range;
                (self.seen == self.period).then(|| self.seed_sum / self.period)
            }
        };
    }

    pub fn value(&self) -> Option<Decimal> {
        self.value.map(from_nanos)
    }
}

/// The average volume of the last `period` bars.
#[derive(Clone, Debug)]
pub struct VolumeAverage {
    period: usize,
    window: VecDeque<u64>,
    sum: u128,
}

impl VolumeAverage {
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "a volume average needs a period of at least 1");
        Self {
            period,
            window: VecDeque::with_capacity(period + 1),
            sum: 0,
        }
    }

    pub fn update(&mut self, volume: u64) {
        self.window.push_back(volume);
        self.sum += u128::from(volume);
        if self.window.len() > self.period
            && let Some(old) = self.window.pop_front()
        {
            self.sum -= u128::from(old);
        }
    }

    pub fn value(&self) -> Option<Decimal> {
        (self.window.len() == self.period)
            .then(|| Decimal::from(self.sum) / Decimal::from(self.period))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn sma_by_hand() {
        let mut sma = Sma::new(3);
        let mut seen = Vec::new();
        for x in [dec!(1), dec!(2), dec!(3), dec!(4), dec!(10)] {
            sma.update(x);
            seen.push(sma.value());
        }
        // (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+10)/3 = 17/3
        assert_eq!(seen[..2], [None, None]);
        assert_eq!(seen[2], Some(dec!(2)));
        assert_eq!(seen[3], Some(dec!(3)));
        assert_eq!(seen[4], Some(dec!(17) / dec!(3)));
        assert_eq!(sma.sum(), dec!(17));
    }

    #[test]
    fn sma_comparisons_are_exact() {
        let (mut fast, mut slow) = (Sma::new(2), Sma::new(3));
        assert_eq!(fast.compare(&slow), None);
        for x in [dec!(1), dec!(2), dec!(3)] {
            fast.update(x);
            slow.update(x);
        }
        // 2.5 vs 2
        assert_eq!(fast.compare(&slow), Some(std::cmp::Ordering::Greater));
        // Averages equal to the last digit: (0.000000001 + 0.000000002) / 3 · 2 …
        let (mut a, mut b) = (Sma::new(1), Sma::new(3));
        a.update(dec!(0.000000002));
        for x in [dec!(0.000000001), dec!(0.000000002), dec!(0.000000003)] {
            b.update(x);
        }
        assert_eq!(a.compare(&b), Some(std::cmp::Ordering::Equal));
        assert_eq!(
            to_nanos(dec!(1.1234567899)),
            1_123_456_789,
            "beyond 9 places rounds toward zero"
        );
        assert_eq!(from_nanos(to_nanos(dec!(-12.5))), dec!(-12.5));
    }

    #[test]
    fn ema_by_hand() {
        // period 3: α = 0.5; seed = SMA(2,4,6) = 4; then 4 + 0.5·(8 − 4) = 6; 6 + 0.5·(0 − 6) = 3
        let mut ema = Ema::new(3);
        for x in [dec!(2), dec!(4)] {
            ema.update(x);
            assert_eq!(ema.value(), None);
        }
        ema.update(dec!(6));
        assert_eq!(ema.value(), Some(dec!(4)));
        ema.update(dec!(8));
        assert_eq!(ema.value(), Some(dec!(6)));
        ema.update(dec!(0));
        assert_eq!(ema.value(), Some(dec!(3)));
    }

    #[test]
    fn atr_wilder_by_hand() {
        let mut atr = Atr::new(2);
        // TR1 = 12 − 10 = 2 (no previous close)
        atr.update(dec!(12), dec!(10), dec!(11));
        assert_eq!(atr.value(), None);
        // TR2 = max(13 − 11, |13 − 11|, |11 − 11|) = 2 → seed ATR = (2 + 2) / 2 = 2
        atr.update(dec!(13), dec!(11), dec!(12));
        assert_eq!(atr.value(), Some(dec!(2)));
        // Gap: TR3 = max(16 − 15, |16 − 12|, |15 − 12|) = 4 → (2·1 + 4) / 2 = 3
        atr.update(dec!(16), dec!(15), dec!(15.5));
        assert_eq!(atr.value(), Some(dec!(3)));
    }

    #[test]
    fn volume_average_by_hand() {
        let mut avg = VolumeAverage::new(2);
        avg.update(100);
        assert_eq!(avg.value(), None);
        avg.update(300);
        assert_eq!(avg.value(), Some(dec!(200)));
        avg.update(u64::MAX);
        assert!(avg.value().unwrap() > dec!(1e18));
    }
}
