//! The `Strategy` trait: state plus an event in, actions out. The backtester and the live
//! scheduler drive the same implementations; nothing here does I/O or reads a clock.

pub mod dca;
pub mod ma_crossover;
pub mod smart_dca;

use super::market::{Bar, Symbol};
use super::order::{AccountView, Fill, OrderIntent};

/// Something a strategy reacts to.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A finished bar of `symbol` (its close is known).
    Bar { symbol: &'a Symbol, bar: &'a Bar },
    /// A scheduled purchase slot is due.
    Slot { time: jiff::Timestamp },
    /// An order the strategy asked for was filled.
    Fill(&'a Fill),
}

/// What a strategy decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Order(OrderIntent),
    /// A slot passed without buying `symbol` (or anything, when `None`), and why (shown
    /// to the user).
    Skip {
        symbol: Option<Symbol>,
        reason: String,
    },
}

pub trait Strategy {
    /// Reacts to `event`, pushing any decisions onto `actions` (which the caller clears).
    fn on_event(&mut self, event: Event<'_>, account: &AccountView<'_>, actions: &mut Vec<Action>);
}
