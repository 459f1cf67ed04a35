//! Webhook delivery, one event at a time and in order, as Stripe delivers to an endpoint
//! in the tests that matter: each event is POSTed as JSON with a `Stripe-Signature`
//! computed at the attempt's time, and retried with backoff until the receiver answers
//! 2xx or [`RETRY_DELAYS`] runs out. Later events wait behind the one being retried, so
//! the receiver sees them in the order the changes happened.
//!
//! Real Stripe retries for three days and does not promise order; the stand-in's order
//! keeps end-to-end tests deterministic, and its short backoff keeps them fast.

use super::{Clock, sign};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The waits between attempts: ten attempts over about 50 seconds, then the event is
/// given up (and logged).
pub const RETRY_DELAYS: [Duration; 9] = [
    Duration::from_millis(200),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(10),
    Duration::from_secs(10),
    Duration::from_secs(10),
];

/// How long one attempt may take before it counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A serialised event waiting for delivery.
struct Queued {
    id: String,
    kind: String,
    body: Vec<u8>,
}

/// The sending side: events in, counted until delivered or given up.
pub struct Queue {
    sender: mpsc::UnboundedSender<Queued>,
    /// Events queued and not yet delivered or given up.
    pending: watch::Sender<u64>,
    /// Every event queued, oldest first.
    log: Mutex<Vec<Value>>,
}

/// Where and how to deliver.
pub struct Endpoint {
    pub url: String,
    pub secret: String,
    pub now: Clock,
}

impl Queue {
    /// The queue and its delivery task (to be spawned).
    pub fn new(
        endpoint: Endpoint,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let pending = watch::channel(0).0;
        let task = deliver_all(receiver, endpoint, pending.clone());
        let queue = Self {
            sender,
            pending,
            log: Mutex::new(Vec::new()),
        };
        (queue, task)
    }

    /// Queues an event behind the ones already waiting.
    pub fn push(&self, event: &super::wire::Event) {
        let value = serde_json::to_value(event).unwrap_or_default();
        let body = serde_json::to_vec(&value).unwrap_or_default();
        let kind = value["type"].as_str().unwrap_or_default().to_owned();
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(value);
        self.pending.send_modify(|n| *n += 1);
        let queued = Queued {
            id: event.id.clone(),
            kind,
            body,
        };
        if self.sender.send(queued).is_err() {
            // The delivery task is gone (the stand-in is shutting down).
            self.pending.send_modify(|n| *n = n.saturating_sub(1));
        }
    }

    pub fn log(&self) -> Vec<Value> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves once every event queued so far has been delivered or given up.
    pub async fn settled(&self) {
        let mut pending = self.pending.subscribe();
        let _ = pending.wait_for(|n| *n == 0).await;
    }
}

async fn deliver_all(
    mut receiver: mpsc::UnboundedReceiver<Queued>,
    endpoint: Endpoint,
    pending: watch::Sender<u64>,
) {
    let client = reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .build()
        .unwrap_or_default();
    while let Some(event) = receiver.recv().await {
        deliver(&client, &endpoint, &event).await;
        pending.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[tracing::instrument(name = "delivering a Stripe stand-in webhook", skip_all, fields(event = %event.id, kind = %event.kind))]
async fn deliver(client: &reqwest::Client, endpoint: &Endpoint, event: &Queued) {
    let attempts = RETRY_DELAYS.len() + 1;
    for attempt in 1..=attempts {
        let signature = sign(&endpoint.secret, (endpoint.now)(), &event.body);
        let answer = client
            .post(&endpoint.url)
            .header("Stripe-Signature", signature)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(event.body.clone())
            .send()
            .await;
        let failure = match answer {
            Ok(response) if response.status().is_success() => {
                tracing::debug!(attempt, "webhook delivered");
                return;
            }
            Ok(response) => format!("the endpoint answered {}", response.status()),
            Err(err) => err.to_string(),
        };
        match RETRY_DELAYS.get(attempt - 1) {
            Some(delay) => {
                tracing::warn!(attempt, %failure, retry_in = ?delay, "webhook not delivered; retrying");
                tokio::time::sleep(*delay).await;
            }
            None => {
                tracing::error!(attempt, %failure, "webhook not delivered; giving up on it");
            }
        }
    }
}
