//! A Stripe stand-in: a small fake Stripe that the real async-stripe client talks to over
//! HTTP, for demo mode, end-to-end tests and development without a Stripe account. It
//! sells monthly USD subscriptions to a fixed list of prices, and does what QuantShift's
//! billing needs and nothing more:
//!
//! - the API ([`api`]): checkout sessions, billing-portal sessions, subscriptions
//!   (retrieve, switch price, cancel at period end, cancel now), customers, with Stripe's
//!   JSON shapes ([`wire`]) and Stripe's error answers ([`error`]);
//! - the hosted pages ([`pages`]): a checkout page that takes test cards, and a customer
//!   portal with buttons to switch, cancel, and (clearly marked as test controls) end
//!   the billing period or fail the next payment;
//! - signed webhooks ([`webhooks`]), delivered one at a time in order, with retries;
//! - a control API for tests in another process (`POST /_standin/subscriptions/{id}/end_period`
//!   and `…/fail_payment`).
//!
//! The records and billing rules live in [`store`]; everything sits behind one lock, and
//! each change's events are queued under it, so webhooks follow the order of changes.
//!
//! Point async-stripe at [`StripeStandin::base_url`]:
//! `stripe::ClientBuilder::new(secret).url(standin.base_url()).build()`. async-stripe
//! builds each request URL as `{base}v1/{path}` from the base parsed as a URI, so the
//! base must be the bare origin (`http://127.0.0.1:PORT`, with or without a trailing
//! slash); a base with a path prefix would be glued to `v1` without a slash.

pub mod api;
pub mod error;
pub mod pages;
pub mod store;
pub mod webhooks;
pub mod wire;

#[cfg(test)]
mod tests;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use store::Store;

/// The seller's name on the hosted pages and invoices.
pub const BUSINESS_NAME: &str = "QuantShift";

/// Unix seconds now.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A monthly USD price the stand-in sells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandinPrice {
    /// The Stripe price id the app sends (`price_…`).
    pub id: String,
    /// The plan's name ("Pro"); the product is "QuantShift Pro".
    pub name: String,
    /// Cents per month.
    pub unit_amount: i64,
}

/// How the stand-in runs.
#[derive(Clone)]
pub struct StandinConfig {
    /// When set, `/v1` and `/_standin` requests must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Where events are POSTed (plain HTTP).
    pub webhook_url: String,
    /// The endpoint's signing secret (`whsec_…`).
    pub webhook_secret: String,
    /// The only prices it knows.
    pub prices: Vec<StandinPrice>,
    /// The origin (`scheme://host:port`, no path) of the hosted pages' links, when
    /// browsers reach the stand-in under another name; `http://<bound address>` when
    /// `None`.
    pub public_url: Option<String>,
    /// The time objects are created at, periods counted from, and signatures made at.
    pub now: Clock,
}

impl StandinConfig {
    /// No API key, links on the bound address, the system clock.
    pub fn new(
        webhook_url: impl Into<String>,
        webhook_secret: impl Into<String>,
        prices: Vec<StandinPrice>,
    ) -> Self {
        Self {
            api_key: None,
            webhook_url: webhook_url.into(),
            webhook_secret: webhook_secret.into(),
            prices,
            public_url: None,
            now: Arc::new(|| jiff::Timestamp::now().as_second()),
        }
    }
}

impl std::fmt::Debug for StandinConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandinConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &"[redacted]")
            .field("prices", &self.prices)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The state the server, the delivery task and the handle share.
pub struct Shared {
    api_key: Option<String>,
    now: Clock,
    store: Mutex<Store>,
    webhooks: webhooks::Queue,
}

impl Shared {
    /// Runs `f` on the store at the current time, then queues the events it produced
    /// (under the store's lock, so in the order of the changes).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store, i64) -> R) -> R {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let result = f(&mut store, (self.now)());
        for event in store.take_events() {
            self.webhooks.push(&event);
        }
        result
    }
}

/// A running stand-in. Dropping it stops the server and the webhook delivery.
pub struct StripeStandin {
    shared: Arc<Shared>,
    base_url: String,
    server: tokio::task::JoinHandle<()>,
    delivery: tokio::task::JoinHandle<()>,
}

impl StripeStandin {
    /// Serves on `listener` and starts delivering webhooks.
    pub async fn start(
        listener: tokio::net::TcpListener,
        config: StandinConfig,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let public_url = config
            .public_url
            .as_deref()
            .unwrap_or(&base_url)
            .trim_end_matches('/')
            .to_owned();
        let started = (config.now)();
        let prices = config
            .prices
            .iter()
            .map(|p| store::Price {
                id: p.id.clone(),
                name: p.name.clone(),
                unit_amount: p.unit_amount,
                created: started,
            })
            .collect();
        let (queue, delivery) = webhooks::Queue::new(webhooks::Endpoint {
            url: config.webhook_url.clone(),
            secret: config.webhook_secret.clone(),
            now: config.now.clone(),
        });
        let shared = Arc::new(Shared {
            api_key: config.api_key.clone(),
            now: config.now.clone(),
            store: Mutex::new(Store::new(prices, public_url)),
            webhooks: queue,
        });
        let router = api::router(shared.clone());
        tracing::info!(%addr, "Stripe stand-in listening");
        let server = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(error = %err, "the Stripe stand-in stopped serving");
            }
        });
        let delivery = tokio::spawn(delivery);
        Ok(Self {
            shared,
            base_url,
            server,
            delivery,
        })
    }

    /// `http://127.0.0.1:PORT`: the base URL for async-stripe's `ClientBuilder::url`
    /// (it appends `v1/...`), and the origin of the hosted pages unless
    /// [`StandinConfig::public_url`] says otherwise.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Ends the subscription's billing period now: see [`Store::end_period`].
    pub async fn end_period(&self, subscription_id: &str) -> Result<(), String> {
        self.shared
            .with_store(|store, now| store.end_period(subscription_id, now))
            .map_err(|e| e.message)
    }

    /// Ends the period with a failed payment: see [`Store::fail_payment`].
    pub async fn fail_payment(&self, subscription_id: &str) -> Result<(), String> {
        self.shared
            .with_store(|store, now| store.fail_payment(subscription_id, now))
            .map_err(|e| e.message)
    }

    /// Every subscription as `GET /v1/subscriptions/{id}` answers it, oldest first.
    pub fn subscriptions(&self) -> Vec<serde_json::Value> {
        self.shared.with_store(|store, _| {
            store
                .subscriptions()
                .iter()
                .map(wire::subscription)
                .collect()
        })
    }

    /// Every event queued so far, oldest first, as delivered.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.shared.webhooks.log()
    }

    /// Resolves once every event queued so far has been delivered or given up on.
    pub async fn webhooks_settled(&self) {
        self.shared.webhooks.settled().await;
    }

    /// Stops the server and the webhook delivery (as dropping does).
    pub fn shutdown(self) {}
}

impl Drop for StripeStandin {
    fn drop(&mut self) {
        self.server.abort();
        self.delivery.abort();
    }
}

/// The `Stripe-Signature` header Stripe sends with a webhook:
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "{timestamp}.{payload}" keyed by the whole secret>`.
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}
