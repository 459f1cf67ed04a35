//! The user's broker connection on the wire: which broker account their plans trade in
//! (the simulated paper account, or their own Alpaca keys), for the REST API and the
//! settings and onboarding pages alike. Keys go in; only their last four characters come out.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the browser is told about the connection. Never a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ConnectionView {
    /// `demo` (the simulated paper account), `alpaca`, or `none`.
    pub kind: String,
    /// `paper` or `live`.
    pub environment: String,
    pub key_last4: Option<String>,
    pub account_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub connected_at: Option<jiff::Timestamp>,
    /// Whether the user has confirmed the risk disclosure (`/risk`); live keys need it once.
    #[serde(default)]
    pub risk_acknowledged: bool,
    /// Days of paper trading (from the first fill) before live keys are accepted, on this
    /// server.
    #[serde(default)]
    pub live_unlock_days: u32,
}

/// Alpaca keys to connect. Its `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ConnectRequest {
    /// `paper` or `live`.
    pub environment: String,
    pub key_id: String,
    pub secret: String,
    /// The user confirms having read the risk disclosure: needed once, for live keys.
    #[serde(default)]
    pub acknowledge_risk: bool,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("environment", &self.environment)
            .field("acknowledge_risk", &self.acknowledge_risk)
            .field("secret", &"[redacted]")
            .finish()
    }
}

#[server(prefix = "/api/fn", endpoint = "load_broker_connection", output = crate::api::codec::Json)]
pub async fn load_broker_connection() -> Result<ConnectionView, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.connections.view(&caller).await)
}

/// Checks the keys with Alpaca, then saves them sealed; the plans trade there from now on.
#[server(prefix = "/api/fn", endpoint = "connect_broker", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn connect_broker(request: ConnectRequest) -> Result<ConnectionView, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.connections.connect(&caller, request).await)
}

/// Forgets the user's keys; the plans go back to the simulated paper account.
#[server(prefix = "/api/fn", endpoint = "disconnect_broker", output = crate::api::codec::Json)]
pub async fn disconnect_broker() -> Result<ConnectionView, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.connections.disconnect(&caller).await)
}
