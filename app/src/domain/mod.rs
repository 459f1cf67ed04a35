//! Pure domain types and rules shared by the browser (WASM) and the server.
//!
//! Nothing here performs I/O, reads the wall clock or draws random numbers: time and data
//! are passed in, so the same code runs in backtests, in the browser and in live trading.
//!
//! - [`market`], [`order`]: symbols, bars, prices, quantities, intents, fills.
//! - [`plan`]: the plan, its status rules and its validation.
//! - [`calendar`], [`schedule`]: the NYSE calendar and recurring purchase schedules.
//! - [`indicators`], [`strategy`]: incremental indicators and the strategies.
//! - [`backtest`]: the event-driven backtester and its metrics; [`ledger`]: one position's
//!   books (cost, open trade, realized profit), the backtester's and a live bot's.
//! - [`csv`], [`synthetic`]: bars from CSV files, and deterministic synthetic bars.
//! - [`account`], [`ids`], [`time`]: accounts, id newtypes (and the idempotent client
//!   order id), and the injectable clock.
//! - [`zones`]: time zones by name (the browser build carries a compact table).

pub mod account;
pub mod backtest;
pub mod calendar;
pub mod csv;
pub mod ids;
pub mod indicators;
pub mod ledger;
pub mod lifecycle;
pub mod market;
pub mod order;
pub mod plan;
pub mod returns;
pub mod schedule;
pub mod strategy;
pub mod synthetic;
pub mod tier;
pub mod time;
pub mod wire_time;
pub mod zones;
