//! Integration tests: each starts the real server on port 0 with a fresh database, on
//! SQLite and on PostgreSQL (see `helpers` for how PostgreSQL is found or required).

#[macro_use]
mod helpers;
mod admin;
mod auth;
mod billing;
mod bots;
mod broker_payloads;
mod cli;
mod connections;
mod edge;
mod email;
mod engine;
mod headless;
mod health;
mod history;
mod notes;
mod openapi;
mod ops;
mod plans;
mod platform;
mod portfolio;
mod purchase_engine;
mod security;
mod settings;
mod simulator;
mod smtp_sink;
mod tiers;
mod two_instances;
