//! Which broker account a user trades through: their own Alpaca keys when they connected
//! some (sealed at rest), otherwise their paper account at the demo broker.

use super::alpaca::{AlpacaBroker, AlpacaConfig, Secret};
use super::rate_limit::RateLimiters;
use crate::db::Db;
use crate::errors::internal;
use crate::secrets::SecretBox;
use app::api::{AppError, ErrorCode};
use sqlx::Row as _;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct AlpacaUrls {
    pub paper: String,
    pub live: String,
    pub data: String,
}

/// A stored connection, still sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionRow {
    pub user_id: String,
    pub environment: String,
    pub key_id: String,
    pub secret: String,
    pub key_last4: String,
    pub account_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct BrokerDirectory {
    db: Db,
    vault: SecretBox,
    demo_url: Option<Arc<str>>,
    urls: AlpacaUrls,
    limiters: Arc<RateLimiters>,
}

impl BrokerDirectory {
    pub fn new(
        db: Db,
        vault: SecretBox,
        demo_url: Option<Arc<str>>,
        urls: AlpacaUrls,
        limiters: Arc<RateLimiters>,
    ) -> Self {
        Self {
            db,
            vault,
            demo_url,
            urls,
            limiters,
        }
    }

    pub fn vault(&self) -> &SecretBox {
        &self.vault
    }

    pub fn has_demo(&self) -> bool {
        self.demo_url.is_some()
    }

    /// An Alpaca client for `environment` ("paper" or "live") with these keys.
    pub fn alpaca(
        &self,
        environment: &str,
        key_id: &str,
        secret: &str,
    ) -> Result<AlpacaBroker, AppError> {
        let trading = if environment == "live" {
            &self.urls.live
        } else {
            &self.urls.paper
        };
        let mut config = AlpacaConfig::for_base_url(trading, key_id, secret);
        config.data_url = self.urls.data.trim_end_matches('/').to_owned();
        config.secret = Secret::new(secret);
        AlpacaBroker::new(&config, &self.limiters).map_err(internal)
    }

    /// The user's broker.
    pub async fn broker_for(&self, user_id: &str) -> Result<AlpacaBroker, AppError> {
        if let Some(row) = self.db.broker_connection(user_id).await.map_err(internal)? {
            let key_id = self.vault.open(&row.key_id, user_id).map_err(internal)?;
            let secret = self.vault.open(&row.secret, user_id).map_err(internal)?;
            return self.alpaca(&row.environment, &key_id, &secret);
        }
        let Some(url) = &self.demo_url else {
            return Err(AppError::new(
                ErrorCode::BrokerNotConnected,
                "Connect a broker account first.",
            ));
        };
        // The demo broker opens a paper account for a new key on first use; the key is
        // derived from the user id and never leaves the server.
        let key = format!("QSDEMO{}", user_id.replace('-', "").to_uppercase());
        let config = AlpacaConfig::for_base_url(url, key, format!("demo-{user_id}"));
        AlpacaBroker::new(&config, &self.limiters).map_err(internal)
    }
}

fn connection(row: &sqlx::any::AnyRow) -> Result<ConnectionRow, sqlx::Error> {
    Ok(ConnectionRow {
        user_id: row.try_get("user_id")?,
        environment: row.try_get("environment")?,
        key_id: row.try_get("key_id")?,
        secret: row.try_get("secret")?,
        key_last4: row.try_get("key_last4")?,
        account_id: row.try_get("account_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Db {
    pub async fn broker_connection(
        &self,
        user_id: &str,
    ) -> Result<Option<ConnectionRow>, sqlx::Error> {
        sqlx::query(
            "SELECT user_id, environment, key_id, secret, key_last4, account_id, created_at, updated_at \
             FROM broker_connections WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(connection)
        .transpose()
    }

    pub async fn save_broker_connection(&self, row: &ConnectionRow) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO broker_connections (user_id, environment, key_id, secret, key_last4, account_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (user_id) DO UPDATE SET environment = excluded.environment, \
             key_id = excluded.key_id, secret = excluded.secret, key_last4 = excluded.key_last4, \
             account_id = excluded.account_id, updated_at = excluded.updated_at",
        )
        .bind(&row.user_id)
        .bind(&row.environment)
        .bind(&row.key_id)
        .bind(&row.secret)
        .bind(&row.key_last4)
        .bind(&row.account_id)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn delete_broker_connection(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM broker_connections WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// When the user placed their first purchase that filled (Unix ms, by our clock), if
    /// any: the start of their paper-trading record.
    pub async fn first_fill_at(&self, user_id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT MIN(created_at) FROM purchases WHERE user_id = $1 AND status = 'filled'",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await
    }
}
