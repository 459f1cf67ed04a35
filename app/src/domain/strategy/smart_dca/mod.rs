//! Smart DCA: on each slot, buy a leg only when its moving-average condition holds;
//! otherwise skip the slot, or carry the amount forward to the next slot that buys.
//! The condition is judged on bars already closed, so a backtest never peeks ahead.

mod config;
mod strategy;
#[cfg(test)]
mod tests;

pub use config::{MaCondition, SmartDcaConfig, WhenNotMet};
pub use strategy::SmartDca;

use crate::domain::market::Symbol;
use crate::domain::strategy::dca::Leg;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// What each leg may carry forward into one slot, so the slot never spends more than
/// `max_per_slot` in total: the room above the legs' own amounts goes to the legs in
/// order, each taking at most what it is owed.
pub fn cap_carried(
    legs: &[Leg],
    owed: &BTreeMap<Symbol, Decimal>,
    max_per_slot: Decimal,
) -> BTreeMap<Symbol, Decimal> {
    let planned = crate::domain::strategy::dca::legs_total(legs).unwrap_or(Decimal::MAX);
    let mut room = max_per_slot
        .checked_sub(planned)
        .unwrap_or(Decimal::ZERO)
        .max(Decimal::ZERO);
    let mut capped = BTreeMap::new();
    for leg in legs {
        let Some(amount) = owed.get(&leg.symbol).copied() else {
            continue;
        };
        let take = amount.max(Decimal::ZERO).min(room);
        room -= take;
        if !take.is_zero() {
            capped.insert(leg.symbol.clone(), take);
        }
    }
    capped
}
