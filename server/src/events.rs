//! Live events for the browser: what happened to a user's purchases, plans, bot and
//! account, delivered to that user's websockets only.
//!
//! Within one instance events travel through a broadcast channel. With PostgreSQL, every
//! event is published with `pg_notify` instead and each instance's listener feeds its own
//! channel, so a purchase made by a worker in one instance reaches a browser connected to
//! another. A slow client that falls behind is told to resynchronise rather than holding
//! the others up.

use crate::db::{Backend, Db};
use app::api::live::LiveEvent;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

const CHANNEL: &str = "quantshift_events";
/// PostgreSQL limits a notification's payload to 8000 bytes.
const MAX_NOTIFY_BYTES: usize = 7900;

/// One event for one user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserEvent {
    pub user_id: String,
    /// The JSON the browser receives, e.g. `{"type":"purchase",…}`.
    pub payload: serde_json::Value,
    /// The instance that published it.
    #[serde(default)]
    pub origin: String,
}

#[derive(Clone)]
pub struct EventBus {
    db: Db,
    sender: broadcast::Sender<UserEvent>,
    /// This instance's name on the bus (random per process).
    instance: std::sync::Arc<str>,
}

impl EventBus {
    /// Creates the bus; on PostgreSQL it also starts listening for other instances' events.
    pub async fn start(db: Db) -> anyhow::Result<Self> {
        let (sender, _) = broadcast::channel(1024);
        if db.backend() == Backend::Postgres {
            let mut listener = sqlx::postgres::PgListener::connect(db.url()).await?;
            listener.listen(CHANNEL).await?;
            let forward = sender.clone();
            tokio::spawn(async move {
                loop {
                    match listener.recv().await {
                        Ok(notification) => {
                            match serde_json::from_str::<UserEvent>(notification.payload()) {
                                Ok(event) => {
                                    let _ = forward.send(event);
                                }
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
        let instance = uuid::Uuid::new_v4().simple().to_string().into();
        Ok(Self {
            db,
            sender,
            instance,
        })
    }

    /// Sends `event` to `user_id`'s connected browsers (on every instance).
    pub async fn publish(&self, user_id: &str, event: &LiveEvent) {
        let payload = match serde_json::to_value(event) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, "a live event could not be written");
                return;
            }
        };
        let event = UserEvent {
            user_id: user_id.to_owned(),
            payload,
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
        let _ = self.sender.send(event);
    }

    /// Whether this instance published `event`.
    pub fn is_own(&self, event: &UserEvent) -> bool {
        *event.origin == *self.instance
    }

    pub fn subscribe(&self) -> broadcast::Receiver<UserEvent> {
        self.sender.subscribe()
    }
}
