//! Smart DCA: on each slot, buy a leg only when its moving-average condition holds;
//! otherwise skip the slot, or carry the amount forward to the next slot that buys.
//! The condition is judged on bars already closed, so a backtest never peeks ahead.

mod config;
mod strategy;
#[cfg(test)]
mod tests;

pub use config::{MaCondition, SmartDcaConfig, WhenNotMet};
pub use strategy::SmartDca;
