//! The API surface shared by browser and server: wire types, the one error shape,
//! the ports the server implements (behind `ssr`), and the `#[server]` functions.
//!
//! A server function is a thin adapter: it reads the caller from the request, calls one
//! port, and returns its result. All rules live behind the ports, in the server crate.

pub mod admin;
pub mod auth;
pub mod billing;
pub mod broker;
pub mod codec;
pub mod dca;
pub mod error;
pub mod live;
pub mod notes;
pub mod performance;
#[cfg(feature = "ssr")]
pub mod ports;
#[cfg(feature = "ssr")]
pub mod schema;
pub mod settings;

pub use error::{AppError, ErrorCode};
