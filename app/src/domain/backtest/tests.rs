use super::*;
use crate::domain::calendar;
use crate::domain::market::{Bar, Symbol};
use crate::domain::order::AccountView;
use crate::domain::strategy::dca::{Leg, PureDca};
use crate::domain::strategy::ma_crossover::{MaCrossover, MaCrossoverConfig, Sizing};
use crate::domain::synthetic;
use jiff::civil::date;
use proptest::prelude::{
    Just, ProptestConfig, any, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as _;
use rust_decimal::Decimal;
use rust_decimal::dec;

fn spy() -> Symbol {
    Symbol::parse("SPY").unwrap()
}

/// Daily bars on consecutive trading days from 2024-01-02 with the given (open, close).
fn bars(prices: &[(Decimal, Decimal)]) -> Vec<Bar> {
    calendar::sessions(date(2024, 1, 2), date(2025, 12, 31))
        .zip(prices)
        .map(|(session, &(open, close))| Bar {
            time: session.open_at(),
            open,
            high: open.max(close),
            low: open.min(close),
            close,
            volume: 1000,
        })
        .collect()
}

fn flat(closes: &[Decimal]) -> Vec<Bar> {
    bars(&closes.iter().map(|c| (*c, *c)).collect::<Vec<_>>())
}

fn crossover(config: MaCrossoverConfig) -> MaCrossover {
    MaCrossover::new(spy(), config)
}

fn all_in(fast: u32, slow: u32) -> MaCrossoverConfig {
    MaCrossoverConfig {
        fast,
        slow,
        sizing: Sizing::AllIn,
        stop_loss: None,
        ..MaCrossoverConfig::default()
    }
}

fn run<S: Strategy>(
    strategy: S,
    config: BacktestConfig,
    slots: Vec<jiff::Timestamp>,
    series: &[Bar],
) -> BacktestReport {
    let mut bt = Backtester::new(strategy, config, slots);
    for bar in series {
        bt.push(&spy(), bar).unwrap();
    }
    bt.finish()
}

#[test]
fn crossover_enters_at_the_next_open_and_exits_on_the_cross_down() {
    // fast 2 / slow 3. Closes 10, 10, 10 (equal), 9 (below: 9.5 < 9.67), 12 (cross up:
    // 10.5 > 10.33) → buy at the next open, 13. Close 8 on the 7th bar crosses down
    // (11 < 11.33) → sell at the 8th bar's open, 8.
    let mut prices: Vec<(Decimal, Decimal)> = [10, 10, 10, 9, 12]
        .iter()
        .map(|c| (Decimal::from(*c), Decimal::from(*c)))
        .collect();
    prices.push((dec!(13), dec!(14)));
    prices.push((dec!(14), dec!(8)));
    prices.push((dec!(8), dec!(7)));
    prices.push((dec!(6), dec!(6)));
    let config = BacktestConfig {
        initial_cash: dec!(1000),
        ..BacktestConfig::default()
    };
    let report = run(crossover(all_in(2, 3)), config, vec![], &bars(&prices));
    assert_eq!(report.trades.len(), 1, "{report:#?}");
    let trade = &report.trades[0];
    assert_eq!(trade.entry_price, dec!(13));
    assert_eq!(trade.exit_price, dec!(8));
    // All in was sized on the close of 12; the open of 13 affords less, so the fill is cut
    // to what the cash buys.
    let qty = round_qty_down(dec!(1000) / dec!(13));
    assert_eq!(trade.qty, qty);
    assert_eq!(trade.pnl, qty * dec!(8) - qty * dec!(13));
    assert!(report.open_position.is_none());
    assert_eq!(report.stats.trades, 1);
    assert_eq!(report.stats.win_rate_pct, Some(0.0));
}

#[test]
fn same_close_fills_at_the_deciding_bar() {
    let closes: Vec<Decimal> = [10, 10, 10, 9, 12, 13]
        .iter()
        .map(|c| Decimal::from(*c))
        .collect();
    let config = BacktestConfig {
        initial_cash: dec!(1000),
        fill_at: FillAt::SameClose,
        ..BacktestConfig::default()
    };
    let report = run(crossover(all_in(2, 3)), config, vec![], &flat(&closes));
    let open = report.open_position.expect("still long at the end");
    assert_eq!(open.entry_price, dec!(12));
    assert_eq!(open.last_price, dec!(13));
    assert!(
        report.trades.is_empty(),
        "an open position is not a closed trade"
    );
}

#[test]
fn commission_and_slippage_are_charged_on_both_sides() {
    let mut prices: Vec<(Decimal, Decimal)> = [10, 10, 10, 9, 12]
        .iter()
        .map(|c| (Decimal::from(*c), Decimal::from(*c)))
        .collect();
    // Cross up on the 5th bar, cross down on the 7th (11 < 11.33), sell at the 8th open.
    prices.extend([
        (dec!(20), dec!(20)),
        (dec!(20), dec!(2)),
        (dec!(10), dec!(10)),
    ]);
    let config = BacktestConfig {
        initial_cash: dec!(1000),
        commission: dec!(0.01),
        slippage_bps: dec!(100),
        ..BacktestConfig::default()
    };
    let strategy_config = MaCrossoverConfig {
        commission: dec!(0.01),
        ..all_in(2, 3)
    };
    let report = run(crossover(strategy_config), config, vec![], &bars(&prices));
    let trade = &report.trades[0];
    assert_eq!(trade.entry_price, dec!(20.2), "buy 1 % above the open");
    assert_eq!(trade.exit_price, dec!(9.9), "sell 1 % below the open");
    let entry_fee = trade.qty * dec!(20.2) * dec!(0.01);
    let exit_fee = trade.qty * dec!(9.9) * dec!(0.01);
    assert_eq!(report.stats.commissions, entry_fee + exit_fee);
    assert_eq!(
        trade.pnl,
        trade.qty * (dec!(9.9) - dec!(20.2)) - entry_fee - exit_fee
    );
    assert!(report.stats.final_equity >= Decimal::ZERO);
}

#[test]
fn weekly_dca_buys_once_per_slot_at_the_open() {
    let series = synthetic::daily_bars("SPY", 3, date(2024, 1, 1), date(2024, 3, 29));
    // Mondays at 10:00 New York; 2024-01-15 (MLK) and 2024-02-19 (Presidents' Day) are
    // holidays, whose slots fill at Tuesday's open.
    let mut slots: Vec<jiff::Timestamp> = calendar::sessions(date(2024, 1, 1), date(2024, 3, 29))
        .map(|s| s.date)
        .chain([date(2024, 1, 15), date(2024, 2, 19)])
        .filter(|d| d.weekday() == jiff::civil::Weekday::Monday)
        .map(|d| {
            calendar::new_york()
                .to_timestamp(d.at(10, 0, 0, 0))
                .unwrap()
        })
        .collect();
    slots.sort();
    let legs = vec![Leg {
        symbol: spy(),
        amount: dec!(100),
    }];
    let config = BacktestConfig {
        funding: Funding::Contributions,
        ..BacktestConfig::default()
    };
    let report = run(PureDca::new(legs), config, slots.clone(), &series);
    assert_eq!(report.purchases.len(), slots.len());
    let dca = report.stats.dca.clone().unwrap();
    assert_eq!(dca.total_invested, Decimal::from(100 * slots.len() as i64));
    for (purchase, slot) in report.purchases.iter().zip(&slots) {
        let bar = series.iter().find(|b| b.time == purchase.time).unwrap();
        assert_eq!(purchase.price, bar.open);
        assert!(
            purchase.time
                >= calendar::session(calendar::new_york().to_datetime(*slot).date())
                    .map_or(*slot, |s| s.open_at())
        );
    }
    let mlk = report
        .purchases
        .iter()
        .find(|p| calendar::new_york().to_datetime(p.time).date() == date(2024, 1, 16));
    assert!(mlk.is_some(), "the MLK-day slot fills on Tuesday");
    assert_eq!(report.stats.initial_cash, Decimal::ZERO);
    assert!(dca.xirr_pct.is_some());
    assert!(dca.lump_sum_final_value > Decimal::ZERO);
}

#[test]
fn report_json_has_the_documented_keys() {
    let series = synthetic::daily_bars("SPY", 1, date(2020, 1, 1), date(2022, 12, 31));
    let report = run(
        crossover(MaCrossoverConfig::default()),
        BacktestConfig::default(),
        vec![],
        &series,
    );
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "start",
        "end",
        "bars",
        "initial_cash",
        "final_equity",
        "total_return_pct",
        "cagr_pct",
        "max_drawdown_pct",
        "sharpe",
        "sortino",
        "exposure_pct",
        "trades",
        "win_rate_pct",
        "profit_factor",
        "commissions",
    ] {
        assert!(
            json["stats"].get(key).is_some(),
            "stats.{key} missing: {}",
            json["stats"]
        );
    }
    assert!(
        json["stats"]["final_equity"].is_string(),
        "money is a decimal string"
    );
    assert!(
        json["stats"]["total_return_pct"].is_number(),
        "ratios are numbers"
    );
    assert!(
        report.stats.trades > 0,
        "five years of random walk should trade"
    );
    let trade = &json["trades"][0];
    for key in [
        "entry_date",
        "exit_date",
        "qty",
        "entry_price",
        "exit_price",
        "pnl",
        "return_pct",
    ] {
        assert!(trade.get(key).is_some(), "trade.{key} missing");
    }
}

#[test]
fn out_of_order_bars_are_refused() {
    let series = flat(&[dec!(1), dec!(2)]);
    let mut bt = Backtester::new(crossover(all_in(1, 2)), BacktestConfig::default(), vec![]);
    bt.push(&spy(), &series[1]).unwrap();
    assert!(bt.push(&spy(), &series[0]).is_err());
}

fn decimal_places(d: Decimal) -> u32 {
    d.normalize().scale()
}

fn any_config() -> impl proptest::strategy::Strategy<Value = (MaCrossoverConfig, BacktestConfig)> {
    (
        1u32..6,
        1u32..10,
        prop_oneof![
            Just(Sizing::AllIn),
            Just(Sizing::FixedNotional { amount: dec!(2500) })
        ],
        any::<bool>(),
        0u32..50,
        0u32..30,
        any::<bool>(),
    )
        .prop_map(
            |(fast, extra, sizing, whole, commission_bps, slippage_bps, same_close)| {
                let commission = Decimal::from(commission_bps) / dec!(10000);
                (
                    MaCrossoverConfig {
                        fast,
                        slow: fast + extra,
                        sizing,
                        whole_shares: whole,
                        commission,
                        ..MaCrossoverConfig::default()
                    },
                    BacktestConfig {
                        initial_cash: dec!(10000),
                        commission,
                        slippage_bps: Decimal::from(slippage_bps),
                        fill_at: if same_close {
                            FillAt::SameClose
                        } else {
                            FillAt::NextOpen
                        },
                        record_curve: same_close,
                        funding: Funding::Cash,
                    },
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn crossover_invariants((strategy, config) in any_config(), seed in 0u64..1000) {
        let series = synthetic::daily_bars("QQQ", seed, date(2023, 1, 1), date(2023, 12, 31));
        let symbol = Symbol::parse("QQQ").unwrap();
        let mut bt = Backtester::new(MaCrossover::new(symbol.clone(), strategy), config, vec![]);
        for bar in &series {
            bt.push(&symbol, bar).unwrap();
            // Cash never negative; equity is cash plus positions at every bar.
            prop_assert!(bt.cash >= Decimal::ZERO, "cash {}", bt.cash);
            let positions: Decimal = bt.books.iter().map(|b| b.ledger.qty * b.last_close.unwrap_or_default()).sum();
            // What strategies are shown (the marks) agrees with the books.
            let shown = AccountView { cash: bt.cash, position_qty: bt.books[0].ledger.qty, marks: &bt.marks };
            prop_assert_eq!(shown.equity(), bt.cash + positions);
            for book in &bt.books {
                prop_assert!(decimal_places(book.ledger.qty) <= 9);
                prop_assert!(book.ledger.qty >= Decimal::ZERO);
            }
        }
        let report = bt.finish();
        for trade in &report.trades {
            prop_assert!(decimal_places(trade.qty) <= 9);
            // No fill on a closed day.
            prop_assert!(calendar::is_trading_day(calendar::new_york().to_datetime(trade.entry_time).date()));
            prop_assert!(calendar::is_trading_day(calendar::new_york().to_datetime(trade.exit_time).date()));
        }
    }

    #[test]
    fn results_do_not_depend_on_chunking(seed in 0u64..1000, cuts in proptest::collection::vec(1usize..250, 0..6)) {
        let series = synthetic::daily_bars("SPY", seed, date(2023, 1, 1), date(2023, 12, 31));
        let whole = run(crossover(MaCrossoverConfig::default()), BacktestConfig::default(), vec![], &series);
        // Feed the same bars through slices of arbitrary sizes.
        let mut bt = Backtester::new(crossover(MaCrossoverConfig::default()), BacktestConfig::default(), vec![]);
        let mut rest: &[Bar] = &series;
        for cut in cuts {
            let (chunk, tail) = rest.split_at(cut.min(rest.len()));
            for bar in chunk {
                bt.push(&spy(), bar).unwrap();
            }
            rest = tail;
        }
        for bar in rest {
            bt.push(&spy(), bar).unwrap();
        }
        prop_assert_eq!(bt.finish(), whole);
    }

    #[test]
    fn dca_buys_exactly_once_per_slot(seed in 0u64..1000, weekday in 0i8..5, amount_cents in 100i64..100_000) {
        let series = synthetic::daily_bars("SPY", seed, date(2024, 1, 1), date(2024, 6, 28));
        let target = jiff::civil::Weekday::from_monday_zero_offset(weekday).unwrap();
        let slots: Vec<jiff::Timestamp> = (0..182)
            .filter_map(|d| date(2024, 1, 1).checked_add(jiff::Span::new().days(d)).ok())
            .filter(|d| d.weekday() == target && *d <= date(2024, 6, 28))
            .map(|d| calendar::new_york().to_timestamp(d.at(10, 0, 0, 0)).unwrap())
            .collect();
        let amount = Decimal::new(amount_cents, 2);
        let legs = vec![Leg { symbol: spy(), amount }];
        let config = BacktestConfig { funding: Funding::Contributions, ..BacktestConfig::default() };
        let report = run(PureDca::new(legs), config, slots.clone(), &series);
        prop_assert_eq!(report.purchases.len(), slots.len());
        for purchase in &report.purchases {
            prop_assert_eq!(purchase.amount, amount);
            prop_assert!(decimal_places(purchase.qty) <= 9);
            prop_assert!(calendar::is_trading_day(calendar::new_york().to_datetime(purchase.time).date()));
        }
    }
}

/// The running statistics agree with the same figures computed afresh from the exact curve.
fn assert_stats_match_curve(report: &BacktestReport, initial: f64) {
    let mut returns = Vec::new();
    let mut previous = initial;
    for point in &report.equity_curve {
        let equity = metrics::to_f64(point.equity);
        let base = previous + metrics::to_f64(point.contributed);
        if base > 0.0 {
            returns.push(equity / base - 1.0);
        }
        previous = equity;
    }
    let batch = metrics::return_stats(&returns);
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-6 * a.abs().max(1.0),
        (a, b) => a == b,
    };
    assert!(
        close(report.stats.sharpe, batch.sharpe),
        "{:?} vs {:?}",
        report.stats.sharpe,
        batch.sharpe
    );
    assert!(close(report.stats.sortino, batch.sortino));
    let mut index = 1.0;
    let drawdown = metrics::max_drawdown_pct(returns.iter().map(|r| {
        index *= 1.0 + r;
        index
    }));
    assert!(
        (report.stats.max_drawdown_pct - drawdown).abs() < 1e-6,
        "{} vs {drawdown}",
        report.stats.max_drawdown_pct
    );
    let exposed = report.equity_curve.iter().filter(|p| p.exposed).count() as f64;
    assert!(
        (report.stats.exposure_pct - exposed / report.equity_curve.len() as f64 * 100.0).abs()
            < 1e-9
    );
}

#[test]
fn running_statistics_match_the_exact_equity_curve() {
    let series = synthetic::daily_bars("SPY", 5, date(2015, 1, 1), date(2020, 12, 31));
    let report = run(
        crossover(MaCrossoverConfig::default()),
        BacktestConfig::default(),
        vec![],
        &series,
    );
    assert!(report.stats.trades > 10);
    assert_eq!(report.equity_curve.len(), series.len());
    assert_eq!(
        report.stats.final_equity,
        report.equity_curve.last().unwrap().equity
    );
    assert_stats_match_curve(&report, 10000.0);

    let slots = slots_between(
        &serde_json::from_value(serde_json::json!({"frequency": "weekly", "interval": 1, "weekday": "wed", "day_of_month": null, "time": "10:00", "timezone": "America/New_York"})).unwrap(),
        series[0].time,
        series.last().unwrap().time,
    )
    .unwrap();
    let legs = vec![Leg {
        symbol: spy(),
        amount: dec!(250),
    }];
    let config = BacktestConfig {
        funding: Funding::Contributions,
        ..BacktestConfig::default()
    };
    let dca = run(PureDca::new(legs), config, slots, &series);
    assert_stats_match_curve(&dca, 0.0);
    assert!(dca.stats.sharpe.is_some());
}
