//! Pure DCA: on every slot, buy each leg's dollar amount, whatever the price.

mod config;
mod strategy;
#[cfg(test)]
mod tests;

pub use config::{Leg, MAX_LEG_AMOUNT, amount_problem, legs_total, validate_legs};
pub use strategy::PureDca;
