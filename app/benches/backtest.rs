//! Backtest throughput over 1,000,000 synthetic one-minute bars, single-threaded.
//! Run: `cargo bench -p app --bench backtest`. Results are recorded in BENCHMARKS.md.

// A benchmark reports on standard output.
#![allow(clippy::print_stdout)]

use app::domain::backtest::{BacktestConfig, Backtester, Funding};
use app::domain::calendar;
use app::domain::market::{Bar, Symbol};
use app::domain::strategy::Strategy;
use app::domain::strategy::dca::{Leg, PureDca};
use app::domain::strategy::ma_crossover::{MaCrossover, MaCrossoverConfig, Sizing};
use jiff::civil::date;
use rust_decimal::dec;
use std::time::{Duration, Instant};

const BARS: usize = 1_000_000;
const RUNS: usize = 5;

fn run<S: Strategy>(
    make: impl Fn() -> S,
    config: BacktestConfig,
    slots: &[jiff::Timestamp],
    symbol: &Symbol,
    bars: &[Bar],
) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut trades = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let mut backtester = Backtester::new(make(), config, slots.to_vec());
        for bar in bars {
            backtester.push(symbol, bar).expect("bars are in order");
        }
        let report = backtester.finish();
        best = best.min(start.elapsed());
        trades = report.stats.trades as u64 + report.purchases.len() as u64;
    }
    (best, trades)
}

fn report(name: &str, (elapsed, trades): (Duration, u64)) {
    let rate = BARS as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<48} {:>8.1} ms  {:>6.2} M bars/s  ({trades} trades/purchases)",
        elapsed.as_secs_f64() * 1e3,
        rate / 1e6
    );
}

fn main() {
    let symbol = Symbol::parse("SPY").expect("valid symbol");
    let started = Instant::now();
    let mut bars =
        app::domain::synthetic::intraday_bars("SPY", 7, date(2010, 1, 1), date(2020, 12, 31), 1);
    bars.truncate(BARS);
    assert_eq!(bars.len(), BARS);
    println!(
        "generated {} bars in {:.1} s; best of {RUNS} runs each:",
        bars.len(),
        started.elapsed().as_secs_f64()
    );

    // Statistics only (constant memory), then with the exact equity curve kept for charts.
    let stats_only = BacktestConfig {
        initial_cash: dec!(100000),
        record_curve: false,
        ..BacktestConfig::default()
    };
    let with_curve = BacktestConfig {
        record_curve: true,
        ..stats_only
    };
    let sma_only = MaCrossoverConfig {
        sizing: Sizing::AllIn,
        stop_loss: None,
        ..MaCrossoverConfig::default()
    };
    report(
        "MA crossover 5/20, SMA only (all-in)",
        run(
            || MaCrossover::new(symbol.clone(), sma_only),
            stats_only,
            &[],
            &symbol,
            &bars,
        ),
    );
    report(
        "MA crossover 5/20, SMA only, equity curve kept",
        run(
            || MaCrossover::new(symbol.clone(), sma_only),
            with_curve,
            &[],
            &symbol,
            &bars,
        ),
    );
    report(
        "MA crossover 5/20, ATR-risk sizing + ATR stop",
        run(
            || MaCrossover::new(symbol.clone(), MaCrossoverConfig::default()),
            stats_only,
            &[],
            &symbol,
            &bars,
        ),
    );

    // DCA: a purchase every trading day at 10:00 over the same bars.
    let first = bars[0].time;
    let last = bars[BARS - 1].time;
    let ny = calendar::new_york();
    let slots: Vec<jiff::Timestamp> =
        calendar::sessions(ny.to_datetime(first).date(), ny.to_datetime(last).date())
            .filter_map(|s| ny.to_timestamp(s.date.at(10, 0, 0, 0)).ok())
            .collect();
    let legs = vec![Leg {
        symbol: symbol.clone(),
        amount: dec!(100),
    }];
    let contributions = BacktestConfig {
        funding: Funding::Contributions,
        record_curve: false,
        ..BacktestConfig::default()
    };
    report(
        &format!("Pure DCA, daily ({} slots)", slots.len()),
        run(
            || PureDca::new(legs.clone()),
            contributions,
            &slots,
            &symbol,
            &bars,
        ),
    );
}
