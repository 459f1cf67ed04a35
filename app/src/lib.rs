//! QuantShift's shared crate: everything the browser and the server both need.
//!
//! - [`domain`]: pure types and rules (no I/O, no clock, no Leptos); compiles for wasm32.
//! - [`api`]: wire types, the error shape, the ports the server implements, and the
//!   `#[server]` functions that adapt them for the UI.
//! - [`ui`]: the Leptos pages and components, organised by feature.
// Deeply nested views make deep types; the default limit (128) is too low for them.
#![recursion_limit = "256"]

pub mod api;
pub mod domain;
pub mod ui;

pub use ui::App;
#[cfg(feature = "ssr")]
pub use ui::shell;
