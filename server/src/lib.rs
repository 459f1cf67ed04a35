//! The QuantShift server: configuration, the database, the services behind `app`'s ports
//! (accounts, plans, the portfolio, broker connections), the purchase engine, live events,
//! the HTTP surface and the command line. `startup::Application` wires them together;
//! tests start it on port 0. The simulated broker is the `sim` crate.

pub mod accounts;
pub mod admin;
pub mod bench;
pub mod billing;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod db;
pub mod dca;
pub mod errors;
pub mod events;
pub mod headless;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod notes;
pub mod ops;
pub mod private_fs;
pub mod secrets;
pub mod settings;
pub mod startup;
pub mod telemetry;
