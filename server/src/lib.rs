//! The QuantShift server: configuration, database, accounts, the HTTP surface and the
//! command line. `startup::Application` wires them together; tests start it on port 0.

pub mod accounts;
pub mod bench;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod connections;
pub mod db;
pub mod dca;
pub mod errors;
pub mod events;
pub mod http;
pub mod private_fs;
pub mod research;
pub mod secrets;
pub mod sim;
pub mod startup;
pub mod telemetry;
