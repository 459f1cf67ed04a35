//! Live events for the browser: what happened to a user's purchases, plans, bot and
//! account, delivered to that user's websockets only; and the signal that a user's
//! sessions changed (a sign-out, a password change), which makes their sockets check that
//! their session still holds.
//!
//! Within one instance events travel through channels: one per connected user, so a burst
//! for one user can only make that user's sockets fall behind, never anyone else's; and
//! one carrying everything, for the instance's own watchers. With PostgreSQL, every event
//! is published with `pg_notify` instead and each instance's listener feeds its own
//! channels, so a purchase made by a worker in one instance reaches a browser connected to
//! another. A slow client that falls behind is told to resynchronise rather than holding
//! the others up.

use crate::db::{Backend, Db};
use app::api::live::LiveEvent;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

const CHANNEL: &str = "quantshift_events";
/// PostgreSQL limits a notification's payload to 8000 bytes.
const MAX_NOTIFY_BYTES: usize = 7900;
/// Events one user's sockets may fall behind by before they are told to resynchronise.
const PER_USER_BACKLOG: usize = 256;
/// Events the instance's own watchers may fall behind by.
const ALL_BACKLOG: usize = 4096;

/// What an event carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum Delivery {
    /// The JSON the browser receives, e.g. `{"type":"purchase",…}`.
    Live(serde_json::Value),
    /// The user's sessions changed: each socket checks that its own still holds.
    SessionsChanged,
}

/// One event for one user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WireEvent")]
pub struct UserEvent {
    pub user_id: String,
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The instance that published it.
    #[serde(default)]
    pub origin: String,
}

/// An event as it arrives from another instance, which may run the release before this
/// one (its live events carry a `payload` and no `kind`).
#[derive(Deserialize)]
struct WireEvent {
    user_id: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
    #[serde(default)]
    origin: String,
}

impl TryFrom<WireEvent> for UserEvent {
    type Error = String;

    fn try_from(wire: WireEvent) -> Result<Self, String> {
        let delivery = match (wire.kind.as_deref(), wire.payload) {
            (Some("sessions_changed"), _) => Delivery::SessionsChanged,
            (None | Some("live"), Some(mut payload)) => {
                // The release before 2026-12-04 called a plan's run status `bot_status`;
                // today's browsers read it as `run_status` (a rolling upgrade relays the
                // older instances' events through this one).
                if payload["type"] == "bot_status" {
                    payload["type"] = "run_status".into();
                }
                Delivery::Live(payload)
            }
            (kind, _) => return Err(format!("an event of unknown kind {kind:?}")),
        };
        Ok(Self {
            user_id: wire.user_id,
            delivery,
            origin: wire.origin,
        })
    }
}

impl UserEvent {
    /// The browser payload's `type`, for live events.
    pub fn live_type(&self) -> Option<&str> {
        match &self.delivery {
            Delivery::Live(payload) => payload["type"].as_str(),
            Delivery::SessionsChanged => None,
        }
    }
}

/// The channels events are handed to in this instance.
struct Fanout {
    all: broadcast::Sender<UserEvent>,
    users: Mutex<Users>,
}

#[derive(Default)]
struct Users {
    senders: HashMap<String, broadcast::Sender<UserEvent>>,
    /// Sweep channels nobody listens to once the map grows past this.
    sweep_at: usize,
}

impl Fanout {
    fn deliver(&self, event: UserEvent) {
        {
            let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(sender) = users.senders.get(&event.user_id) {
                if sender.receiver_count() == 0 {
                    users.senders.remove(&event.user_id);
                } else {
                    let _ = sender.send(event.clone());
                }
            }
        }
        let _ = self.all.send(event);
    }

    fn subscribe_user(&self, user_id: &str) -> broadcast::Receiver<UserEvent> {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if users.senders.len() >= users.sweep_at {
            users.senders.retain(|_, s| s.receiver_count() > 0);
            users.sweep_at = (users.senders.len() * 2).max(64);
        }
        users
            .senders
            .entry(user_id.to_owned())
            .or_insert_with(|| broadcast::channel(PER_USER_BACKLOG).0)
            .subscribe()
    }
}

#[derive(Clone)]
pub struct EventBus {
    db: Db,
    fanout: Arc<Fanout>,
    /// This instance's name on the bus (random per process).
    instance: Arc<str>,
}

impl EventBus {
    /// Creates the bus; on PostgreSQL it also starts listening for other instances' events.
    pub async fn start(db: Db) -> anyhow::Result<Self> {
        let bus = Self::publisher(db);
        if bus.db.backend() == Backend::Postgres {
            let mut listener = sqlx::postgres::PgListener::connect(bus.db.url()).await?;
            listener.listen(CHANNEL).await?;
            let fanout = bus.fanout.clone();
            tokio::spawn(async move {
                loop {
                    match listener.recv().await {
                        Ok(notification) => {
                            match serde_json::from_str::<UserEvent>(notification.payload()) {
                                Ok(event) => fanout.deliver(event),
                                Err(err) => {
                                    tracing::warn!(error = %err, "ignored an unreadable event notification")
                                }
                            }
                        }
                        Err(err) => {
                            // sqlx reconnects on the next recv; events in between are lost and
                            // clients resynchronise on their next reconnect.
                            tracing::warn!(error = %err, "the event listener lost its connection");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                    }
                }
            });
        }
        Ok(bus)
    }

    /// A bus that publishes but does not listen to other instances (for a command-line
    /// tool: on PostgreSQL its events still reach every running instance).
    pub fn publisher(db: Db) -> Self {
        Self {
            db,
            fanout: Arc::new(Fanout {
                all: broadcast::channel(ALL_BACKLOG).0,
                users: Mutex::new(Users::default()),
            }),
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
        }
    }

    /// Sends `event` to `user_id`'s connected browsers (on every instance).
    pub async fn publish(&self, user_id: &str, event: &LiveEvent) {
        match serde_json::to_value(event) {
            Ok(payload) => self.send(user_id, Delivery::Live(payload)).await,
            Err(err) => tracing::error!(error = %err, "a live event could not be written"),
        }
    }

    /// Tells `user_id`'s sockets (on every instance) to check their sessions now.
    pub async fn sessions_changed(&self, user_id: &str) {
        self.send(user_id, Delivery::SessionsChanged).await;
    }

    async fn send(&self, user_id: &str, delivery: Delivery) {
        let event = UserEvent {
            user_id: user_id.to_owned(),
            delivery,
            origin: self.instance.to_string(),
        };
        if self.db.backend() == Backend::Postgres {
            let text = serde_json::to_string(&event).unwrap_or_default();
            if text.len() <= MAX_NOTIFY_BYTES {
                let sent = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(&text)
                    .execute(self.db.pool())
                    .await;
                if sent.is_ok() {
                    return;
                }
                tracing::warn!("could not publish an event through PostgreSQL; delivering locally");
            }
        }
        self.fanout.deliver(event);
    }

    /// Whether this instance published `event`.
    pub fn is_own(&self, event: &UserEvent) -> bool {
        *event.origin == *self.instance
    }

    /// Every event, for this instance's own watchers.
    pub fn subscribe(&self) -> broadcast::Receiver<UserEvent> {
        self.fanout.all.subscribe()
    }

    /// `user_id`'s events only, for that user's sockets.
    pub fn subscribe_user(&self, user_id: &str) -> broadcast::Receiver<UserEvent> {
        self.fanout.subscribe_user(user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_form_names_its_kind() {
        let event = UserEvent {
            user_id: "u1".into(),
            delivery: Delivery::Live(serde_json::json!({"type": "resync"})),
            origin: "a".into(),
        };
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<UserEvent>(&text).unwrap(), event);
        let signal = UserEvent {
            user_id: "u1".into(),
            delivery: Delivery::SessionsChanged,
            origin: "a".into(),
        };
        let text = serde_json::to_string(&signal).unwrap();
        assert!(text.contains("sessions_changed"), "{text}");
        assert_eq!(serde_json::from_str::<UserEvent>(&text).unwrap(), signal);
        // The previous release's form (no kind) still reads as a live event.
        let old = r#"{"user_id":"u1","payload":{"type":"resync"},"origin":"a"}"#;
        assert_eq!(serde_json::from_str::<UserEvent>(old).unwrap(), event);
        // Its run-status events had another name, which the browser no longer reads.
        let renamed =
            r#"{"user_id":"u1","payload":{"type":"bot_status","plan_id":"p"},"origin":"a"}"#;
        assert_eq!(
            serde_json::from_str::<UserEvent>(renamed)
                .unwrap()
                .live_type(),
            Some("run_status")
        );
        assert!(
            serde_json::from_str::<UserEvent>(r#"{"user_id":"u1","kind":"nonsense"}"#).is_err()
        );
    }

    fn fanout() -> Fanout {
        Fanout {
            all: broadcast::channel(ALL_BACKLOG).0,
            users: Mutex::new(Users::default()),
        }
    }

    fn event(user: &str, n: u32) -> UserEvent {
        UserEvent {
            user_id: user.into(),
            delivery: Delivery::Live(serde_json::json!({"type": "n", "n": n})),
            origin: String::new(),
        }
    }

    #[test]
    fn a_burst_for_one_user_does_not_hold_up_another() {
        let fanout = fanout();
        let mut noisy = fanout.subscribe_user("noisy");
        let mut quiet = fanout.subscribe_user("quiet");
        for n in 0..(PER_USER_BACKLOG as u32 * 4) {
            fanout.deliver(event("noisy", n));
        }
        fanout.deliver(event("quiet", 1));
        assert_eq!(quiet.try_recv().unwrap(), event("quiet", 1));
        assert!(matches!(
            noisy.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
    }

    #[test]
    fn channels_nobody_listens_to_are_dropped() {
        let fanout = fanout();
        for n in 0..200 {
            drop(fanout.subscribe_user(&format!("user{n}")));
        }
        let kept = fanout.subscribe_user("kept");
        assert!(fanout.users.lock().unwrap().senders.len() <= 128);
        fanout.deliver(event("kept", 1));
        drop(kept);
        fanout.deliver(event("kept", 2));
        assert!(!fanout.users.lock().unwrap().senders.contains_key("kept"));
    }
}
