//! Live events on the wire (`/api/ws`): the one type the server publishes and the
//! browser reads. Each is a JSON object tagged by `type`.

use super::dca::{Plan, Purchase};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The close code of a socket whose session ended (signed out, a password change, "sign out
/// other sessions", expiry): the browser goes to the sign-in page instead of reconnecting.
pub const SESSION_ENDED: u16 = 4401;

/// What a plan's runs are doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Waiting for its next slot.
    Idle,
    /// A slot of it is being executed.
    Running,
    /// Its last slot ran into a problem (`reason` says which).
    Error,
}

impl RunState {
    pub const fn as_str(self) -> &'static str {
        match self {
            RunState::Idle => "idle",
            RunState::Running => "running",
            RunState::Error => "error",
        }
    }
}

/// Where a plan's runs stand (idle, running, or stopped by a problem), as `run_status`
/// events carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct RunStatus {
    pub plan_id: String,
    pub state: RunState,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub next_run_at: Option<jiff::Timestamp>,
    /// The slot the status is about.
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub last_run: Option<jiff::Timestamp>,
}

/// The account's balances after a fill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Balances {
    pub equity: Decimal,
    pub cash: Decimal,
    pub buying_power: Decimal,
    pub portfolio_value: Decimal,
}

/// One message from the server to a signed-in user's browsers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// The link is open.
    Hello,
    /// Events were lost (the browser fell behind): fetch everything again.
    Resync,
    /// A purchase was written or changed.
    Purchase {
        purchase: Purchase,
    },
    /// A plan was created or changed.
    Plan {
        plan: Plan,
    },
    PlanDeleted {
        plan_id: String,
    },
    /// A plan started or finished a run.
    RunStatus(RunStatus),
    Account(Balances),
    /// The subscription or tier changed: read the billing page again.
    Billing,
}

impl LiveEvent {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_back_as_written() {
        assert_eq!(
            LiveEvent::parse(r#"{"type":"hello"}"#),
            Some(LiveEvent::Hello)
        );
        let run = r#"{"type":"run_status","plan_id":"p1","state":"error","reason":"no cash","next_run_at":null,"last_run":"2026-11-30T15:00:00Z"}"#;
        let parsed = LiveEvent::parse(run).unwrap();
        assert!(matches!(
            &parsed,
            LiveEvent::RunStatus(RunStatus {
                state: RunState::Error,
                ..
            })
        ));
        let written = serde_json::to_value(&parsed).unwrap();
        assert_eq!(
            written,
            serde_json::from_str::<serde_json::Value>(run).unwrap()
        );
        let account = LiveEvent::parse(
            r#"{"type":"account","equity":"100.00","cash":"1","buying_power":"1","portfolio_value":"100"}"#,
        );
        assert!(
            matches!(account, Some(LiveEvent::Account(Balances { ref cash, .. })) if *cash == Decimal::ONE)
        );
        assert_eq!(
            serde_json::to_string(&LiveEvent::PlanDeleted {
                plan_id: "p".into()
            })
            .unwrap(),
            r#"{"type":"plan_deleted","plan_id":"p"}"#
        );
        assert_eq!(LiveEvent::parse("not json"), None);
    }
}
