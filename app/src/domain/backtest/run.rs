//! One entry point for every backtest: a strategy spec, bars per symbol and the backtest
//! settings in, a report out. The CLI and the browser both call [`run_backtest`].

use super::{BacktestConfig, BacktestReport, Backtester, Funding};
use crate::domain::market::{Bar, Symbol};
use crate::domain::plan::PlanStrategy;
use crate::domain::schedule::Schedule;
use crate::domain::strategy::Strategy;
use crate::domain::strategy::dca::{Leg, PureDca, validate_legs};
use crate::domain::strategy::ma_crossover::MaCrossover;
use crate::domain::strategy::smart_dca::SmartDca;

/// What to backtest: a strategy over legs and a schedule, as a plan holds them. Pure and
/// Smart DCA buy the legs on each slot of the schedule. The MA-crossover bot trades its
/// one leg's symbol with the leg's amount as its capital, deciding on every bar's close
/// (a live bot's schedule says when it evaluates: daily, after the close).
#[derive(Clone, Debug, PartialEq)]
pub struct StrategySpec {
    pub strategy: PlanStrategy,
    pub legs: Vec<Leg>,
    pub schedule: Schedule,
}

impl StrategySpec {
    /// The name the CLI and the reports use.
    pub fn name(&self) -> &'static str {
        match self.strategy {
            PlanStrategy::Discretionary(_) => "ma-crossover",
            PlanStrategy::Pure => "dca",
            PlanStrategy::Smart(_) => "smart-dca",
        }
    }
}

fn messages(errors: std::collections::BTreeMap<String, String>) -> String {
    errors
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every slot of `schedule` from the first bar's time to the last bar's time.
pub fn slots_between(
    schedule: &Schedule,
    start: jiff::Timestamp,
    end: jiff::Timestamp,
) -> Result<Vec<jiff::Timestamp>, String> {
    let mut slots = Vec::new();
    let mut after = start
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap_or(start);
    loop {
        let batch = schedule.next_slots(after, 256).map_err(|e| e.to_string())?;
        let done = batch.len() < 256;
        for slot in batch {
            if slot > end {
                return Ok(slots);
            }
            slots.push(slot);
            after = slot;
        }
        if done {
            return Ok(slots);
        }
    }
}

/// Runs `spec` over `series` (bars per symbol, each in time order).
pub fn run_backtest(
    spec: &StrategySpec,
    series: &[(Symbol, Vec<Bar>)],
    config: BacktestConfig,
) -> Result<BacktestReport, String> {
    let start = series
        .iter()
        .filter_map(|(_, bars)| bars.first())
        .map(|b| b.time)
        .min()
        .ok_or("there are no bars")?;
    let end = series
        .iter()
        .filter_map(|(_, bars)| bars.last())
        .map(|b| b.time)
        .max()
        .ok_or("there are no bars")?;
    let has = |symbol: &Symbol| {
        series
            .iter()
            .any(|(s, bars)| s == symbol && !bars.is_empty())
    };
    let dca_slots = |legs: &[Leg], schedule: &Schedule| -> Result<Vec<jiff::Timestamp>, String> {
        validate_legs(legs).map_err(messages)?;
        schedule.validate().map_err(messages)?;
        if let Some(leg) = legs.iter().find(|l| !has(&l.symbol)) {
            return Err(format!("there are no bars for {}", leg.symbol));
        }
        slots_between(schedule, start, end)
    };
    let dca_config = BacktestConfig {
        funding: Funding::Contributions,
        ..config
    };
    match &spec.strategy {
        PlanStrategy::Discretionary(strategy) => {
            strategy.validate().map_err(messages)?;
            let [leg] = spec.legs.as_slice() else {
                return Err("the MA-crossover bot trades exactly one symbol".into());
            };
            if !has(&leg.symbol) {
                return Err(format!("there are no bars for {}", leg.symbol));
            }
            let config = BacktestConfig {
                funding: Funding::Cash,
                initial_cash: leg.amount,
                ..config
            };
            drive(
                MaCrossover::new(leg.symbol.clone(), *strategy),
                config,
                Vec::new(),
                series,
            )
        }
        PlanStrategy::Pure => {
            let slots = dca_slots(&spec.legs, &spec.schedule)?;
            drive(PureDca::new(spec.legs.clone()), dca_config, slots, series)
        }
        PlanStrategy::Smart(smart) => {
            smart.validate().map_err(messages)?;
            let slots = dca_slots(&spec.legs, &spec.schedule)?;
            drive(
                SmartDca::new(spec.legs.clone(), *smart),
                dca_config,
                slots,
                series,
            )
        }
    }
}

/// Feeds every symbol's bars in one time order (by time, then by the order given).
fn drive<S: Strategy>(
    strategy: S,
    config: BacktestConfig,
    slots: Vec<jiff::Timestamp>,
    series: &[(Symbol, Vec<Bar>)],
) -> Result<BacktestReport, String> {
    let mut backtester = Backtester::new(strategy, config, slots);
    if let [(symbol, bars)] = series {
        for bar in bars {
            backtester.push(symbol, bar)?;
        }
    } else {
        let mut order: Vec<(jiff::Timestamp, usize, usize)> = series
            .iter()
            .enumerate()
            .flat_map(|(s, (_, bars))| bars.iter().enumerate().map(move |(i, b)| (b.time, s, i)))
            .collect();
        order.sort_unstable();
        for (_, s, i) in order {
            backtester.push(&series[s].0, &series[s].1[i])?;
        }
    }
    Ok(backtester.finish())
}
