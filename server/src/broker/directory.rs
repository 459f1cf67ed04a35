//! Which broker account a user trades through: their own Alpaca keys when they connected
//! some (sealed at rest), otherwise their paper account at the demo broker.

use super::alpaca::{AlpacaBroker, AlpacaConfig, Secret};
use super::rate_limit::RateLimiters;
use crate::db::Db;
use crate::errors::internal;
use crate::secrets::SecretBox;
use app::api::{AppError, ErrorCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct AlpacaSettings {
    pub paper: String,
    pub live: String,
    pub data: String,
    /// How long one broker request may take before it counts as lost (and is retried).
    pub request_timeout: std::time::Duration,
    /// Where every client counts its requests (`/metrics`).
    pub metrics: Option<crate::metrics::BrokerMetrics>,
}

pub struct BrokerDirectory {
    db: Db,
    vault: SecretBox,
    demo_url: Option<Arc<str>>,
    alpaca: AlpacaSettings,
    limiters: Arc<RateLimiters>,
    clients: ClientCache,
}

/// Which account a client talks to: the trading URL and the key pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ClientKey {
    url: String,
    key_id: String,
    secret: String,
}

/// One Alpaca client per key pair, shared by every caller. Building a client is the
/// expensive part of talking to a broker (each apca client makes a TLS connector that
/// loads the whole system certificate store, and its own connection pool), so a
/// client is made once per key and reused; one idle for `IDLE` is dropped.
#[derive(Default)]
struct ClientCache {
    clients: Mutex<HashMap<ClientKey, (Arc<AlpacaBroker>, Instant)>>,
}

impl ClientCache {
    const IDLE: Duration = Duration::from_secs(15 * 60);
    /// Above this many clients, idle ones are swept on the next insert.
    const SWEEP_ABOVE: usize = 1024;

    fn get_or_make(
        &self,
        key: ClientKey,
        make: impl FnOnce() -> Result<AlpacaBroker, AppError>,
    ) -> Result<Arc<AlpacaBroker>, AppError> {
        let now = Instant::now();
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((client, used)) = clients.get_mut(&key) {
            *used = now;
            return Ok(client.clone());
        }
        if clients.len() >= Self::SWEEP_ABOVE {
            clients.retain(|_, (_, used)| now.duration_since(*used) < Self::IDLE);
        }
        // Still full of clients in use (many keys tried at once): drop the least recent.
        while clients.len() >= 4 * Self::SWEEP_ABOVE {
            let Some(oldest) = clients
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            clients.remove(&oldest);
        }
        let client = Arc::new(make()?);
        clients.insert(key, (client.clone(), now));
        Ok(client)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or_default()
    }
}

impl BrokerDirectory {
    pub fn new(
        db: Db,
        vault: SecretBox,
        demo_url: Option<Arc<str>>,
        alpaca: AlpacaSettings,
        limiters: Arc<RateLimiters>,
    ) -> Self {
        Self {
            db,
            vault,
            demo_url,
            alpaca,
            limiters,
            clients: ClientCache::default(),
        }
    }

    pub fn vault(&self) -> &SecretBox {
        &self.vault
    }

    pub fn has_demo(&self) -> bool {
        self.demo_url.is_some()
    }

    /// An Alpaca client for `environment` ("paper" or "live") with these keys (shared
    /// with every other caller using the same keys).
    pub fn alpaca(
        &self,
        environment: &str,
        key_id: &str,
        secret: &str,
    ) -> Result<Arc<AlpacaBroker>, AppError> {
        let trading = if environment == "live" {
            &self.alpaca.live
        } else {
            &self.alpaca.paper
        };
        let key = ClientKey {
            url: trading.clone(),
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
        };
        self.clients.get_or_make(key, || {
            let mut config = AlpacaConfig::for_base_url(trading, key_id, secret);
            config.data_url = self.alpaca.data.trim_end_matches('/').to_owned();
            config.secret = Secret::new(secret);
            config.request_timeout = self.alpaca.request_timeout;
            config.metrics = self.alpaca.metrics.clone();
            AlpacaBroker::new(&config, &self.limiters).map_err(internal)
        })
    }

    /// The user's broker.
    pub async fn broker_for(&self, user_id: &str) -> Result<Arc<AlpacaBroker>, AppError> {
        self.account_for(user_id).await.map(|(broker, _)| broker)
    }

    /// The user's broker and which account it is: `demo` for the demo broker's paper
    /// account, `<environment>:<Alpaca account id>` for their own keys. A slot records it
    /// when it starts, so its retries and the orders' later checks never go to an account
    /// the user connected afterwards.
    pub async fn account_for(
        &self,
        user_id: &str,
    ) -> Result<(Arc<AlpacaBroker>, String), AppError> {
        if let Some(row) = self.db.broker_connection(user_id).await.map_err(internal)? {
            let key_id = self.vault.open(&row.key_id, user_id).map_err(internal)?;
            let secret = self.vault.open(&row.secret, user_id).map_err(internal)?;
            let tag = format!("{}:{}", row.environment, row.account_id);
            return Ok((self.alpaca(&row.environment, &key_id, &secret)?, tag));
        }
        let Some(url) = &self.demo_url else {
            return Err(AppError::new(
                ErrorCode::BrokerNotConnected,
                "Connect a broker account first.",
            ));
        };
        // The demo broker opens a paper account for a new key on first use; the key is
        // derived from the user id and never leaves the server.
        let key = ClientKey {
            url: url.to_string(),
            key_id: format!("QSDEMO{}", user_id.replace('-', "").to_uppercase()),
            secret: format!("demo-{user_id}"),
        };
        let broker = self.clients.get_or_make(key.clone(), || {
            let mut config = AlpacaConfig::for_base_url(url, key.key_id, key.secret);
            config.request_timeout = self.alpaca.request_timeout;
            config.metrics = self.alpaca.metrics.clone();
            AlpacaBroker::new(&config, &self.limiters).map_err(internal)
        })?;
        Ok((broker, "demo".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key_id: &str, secret: &str) -> ClientKey {
        ClientKey {
            url: "http://127.0.0.1:9".into(),
            key_id: key_id.into(),
            secret: secret.into(),
        }
    }

    fn make(k: &ClientKey) -> Result<AlpacaBroker, AppError> {
        let config = AlpacaConfig::for_base_url(&k.url, k.key_id.clone(), k.secret.clone());
        AlpacaBroker::new(&config, &RateLimiters::new(200)).map_err(internal)
    }

    #[test]
    fn one_client_per_key_pair() {
        let cache = ClientCache::default();
        let (a, a_again, rotated) = (key("A", "s1"), key("A", "s1"), key("A", "s2"));
        let first = cache.get_or_make(a.clone(), || make(&a)).unwrap();
        let again = cache
            .get_or_make(a_again, || panic!("a cached client is reused"))
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = cache
            .get_or_make(rotated.clone(), || make(&rotated))
            .unwrap();
        assert!(
            !Arc::ptr_eq(&first, &other),
            "a new secret gets a new client"
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn idle_clients_are_swept_when_the_cache_is_full() {
        let cache = ClientCache::default();
        let long_ago = Instant::now() - ClientCache::IDLE - Duration::from_secs(1);
        {
            let k = key("OLD", "s");
            let client = Arc::new(make(&k).unwrap());
            let mut clients = cache.clients.lock().unwrap();
            for i in 0..ClientCache::SWEEP_ABOVE {
                clients.insert(key(&format!("K{i}"), "s"), (client.clone(), long_ago));
            }
        }
        let fresh = key("NEW", "s");
        cache.get_or_make(fresh.clone(), || make(&fresh)).unwrap();
        assert_eq!(cache.len(), 1, "only the client in use is left");
    }
}
