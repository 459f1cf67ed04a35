//! Pure domain types and rules shared by the browser (WASM) and the server.
//!
//! Nothing here performs I/O or reads the wall clock; time is passed in.

pub mod account;
pub mod time;
