//! The MA crossover bot (long only). It enters when the fast SMA crosses above the slow
//! SMA (strictly below on the previous bar, strictly above on this one) and the optional
//! volume and trend filters agree; it exits on the cross back down, or earlier on its stop
//! loss or take profit. Decisions are taken on a bar's close; the backtester fills them at
//! the next open (or this close, if configured), the live engine at the next market order.

mod config;
pub mod live;
mod strategy;
#[cfg(test)]
mod tests;

pub use config::{ExitRule, MaCrossoverConfig, Sizing, VolumeFilter};
pub use strategy::MaCrossover;
