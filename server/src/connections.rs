//! Users connecting their own Alpaca keys: checked against Alpaca's account endpoint
//! before they are saved, sealed at rest, never shown again (only their last four
//! characters), replaceable and removable. Live keys are refused until the user has
//! traded on paper for the configured number of days.

use crate::accounts::AccountService;
use crate::broker::directory::BrokerDirectory;
use crate::broker::{Broker, BrokerError};
use crate::db::Db;
use crate::db::audit::{AuditAction, AuditEntry};
use crate::db::users::UserRecord;
use crate::errors::internal;
use app::api::ports::{Caller, ConnectionPort};
use app::api::{AppError, ErrorCode};
use app::domain::time::Clock;

use sqlx::Row as _;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use app::api::broker::{ConnectRequest, ConnectionView};

/// Broker keys one user may have checked with Alpaca per hour.
pub const CONNECT_CHECKS_PER_HOUR: u32 = 10;

pub struct ConnectionService {
    db: Db,
    clock: Arc<dyn Clock>,
    accounts: Arc<AccountService>,
    brokers: Arc<BrokerDirectory>,
    live_unlock_days: u32,
    /// With billing on, the tier table (live keys need a tier with live trading).
    tiers: Option<crate::settings::LiveSettings>,
}

/// The last four characters of a key (what the pages show of it).
pub(crate) fn last4(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

impl ConnectionService {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        brokers: Arc<BrokerDirectory>,
        live_unlock_days: u32,
    ) -> Self {
        Self {
            db,
            clock,
            accounts,
            brokers,
            live_unlock_days,
            tiers: None,
        }
    }

    /// Holds live keys to the user's tier in `tiers` (billing on).
    pub fn with_tiers(mut self, tiers: Option<crate::settings::LiveSettings>) -> Self {
        self.tiers = tiers;
        self
    }

    async fn audit(
        &self,
        caller: &Caller,
        user_id: &str,
        action: AuditAction,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: Some(user_id),
                action,
                subject: Some(user_id),
                ip: Some(caller.ip.to_string()),
                detail,
            })
            .await
            .map_err(internal)
    }

    async fn check_live_unlocked(&self, user_id: &str) -> Result<(), AppError> {
        let needed_ms = i64::from(self.live_unlock_days) * 86_400_000;
        let first = self.db.first_fill_at(user_id).await.map_err(internal)?;
        let now = self.clock.now().millis();
        match first {
            Some(first) if now - first >= needed_ms => Ok(()),
            Some(first) => Err(AppError::new(
                ErrorCode::LiveLocked,
                format!(
                    "Live trading unlocks after {} days of paper trading; {} to go.",
                    self.live_unlock_days,
                    ((needed_ms - (now - first)) + 86_399_999) / 86_400_000
                ),
            )),
            None => Err(AppError::new(
                ErrorCode::LiveLocked,
                format!(
                    "Live trading unlocks after {} days of paper trading. Run a paper plan first.",
                    self.live_unlock_days
                ),
            )),
        }
    }
}

impl ConnectionService {
    /// The user's broker connection as its owner sees it (environment and the key's last
    /// four characters; never the keys).
    pub async fn view_of(&self, user: &UserRecord) -> Result<ConnectionView, AppError> {
        let risk_acknowledged = user.risk_acknowledged_at.is_some();
        Ok(
            match self
                .db
                .broker_connection(&user.id)
                .await
                .map_err(internal)?
            {
                Some(row) => ConnectionView {
                    kind: "alpaca".into(),
                    environment: if row.environment == "live" {
                        "live".into()
                    } else {
                        "paper".into()
                    },
                    key_last4: Some(row.key_last4),
                    account_id: Some(row.account_id),
                    connected_at: jiff::Timestamp::from_millisecond(row.updated_at).ok(),
                    risk_acknowledged,
                    live_unlock_days: self.live_unlock_days,
                },
                None if self.brokers.has_demo() => ConnectionView {
                    kind: "demo".into(),
                    environment: "paper".into(),
                    key_last4: None,
                    account_id: None,
                    connected_at: None,
                    risk_acknowledged,
                    live_unlock_days: self.live_unlock_days,
                },
                None => ConnectionView {
                    kind: "none".into(),
                    environment: "paper".into(),
                    key_last4: None,
                    account_id: None,
                    connected_at: None,
                    risk_acknowledged,
                    live_unlock_days: self.live_unlock_days,
                },
            },
        )
    }
}

#[async_trait::async_trait]
impl ConnectionPort for ConnectionService {
    async fn view(&self, caller: &Caller) -> Result<ConnectionView, AppError> {
        let user = self.accounts.require_user(caller).await?;
        self.view_of(&user).await
    }

    async fn connect(
        &self,
        caller: &Caller,
        request: ConnectRequest,
    ) -> Result<ConnectionView, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let mut fields = BTreeMap::new();
        let environment = match request.environment.as_str() {
            "paper" => "paper",
            "live" => "live",
            _ => {
                fields.insert(
                    "environment".to_string(),
                    "Choose paper or live.".to_string(),
                );
                "paper"
            }
        };
        for (name, value) in [
            ("key_id", request.key_id.trim()),
            ("secret", request.secret.trim()),
        ] {
            if value.len() < 8
                || value.len() > 128
                || value.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                fields.insert(
                    name.to_string(),
                    "Paste the key exactly as Alpaca shows it.".to_string(),
                );
            }
        }
        if !fields.is_empty() {
            return Err(AppError::invalid_fields(fields));
        }
        if environment == "live" {
            if let Some(tiers) = self
                .tiers
                .as_ref()
                .map(crate::settings::LiveSettings::tiers)
            {
                tiers.check_live(user.tier).map_err(|message| {
                    AppError::invalid_fields(BTreeMap::from([("environment".into(), message)]))
                })?;
            }
            self.check_live_unlocked(&user.id).await?;
            // Live money needs an address that reaches the owner (resets, failures).
            self.accounts.require_verified(&user)?;
            // And, once, the owner's word that they have read the risk disclosure.
            if user.risk_acknowledged_at.is_none() && !request.acknowledge_risk {
                return Err(AppError::invalid_fields(BTreeMap::from([(
                    "acknowledge_risk".to_string(),
                    "Read the risk disclosure and confirm it to trade with real money.".to_string(),
                )])));
            }
        }
        // Each connection is checked with Alpaca: without a limit this form would be a
        // free Alpaca key checker.
        self.accounts
            .reserve_hourly(
                &format!("connect:{}", user.id),
                CONNECT_CHECKS_PER_HOUR,
                "Too many broker keys were tried in the last hour. Please try again later.",
            )
            .await?;
        let (key_id, secret) = (request.key_id.trim(), request.secret.trim());
        let account = self
            .brokers
            .alpaca(environment, key_id, secret)?
            .account()
            .await
            .map_err(|err| match err {
                BrokerError::Unauthorized => AppError::invalid_fields(BTreeMap::from([(
                    "secret".to_string(),
                    "Alpaca did not accept this key and secret.".to_string(),
                )])),
                BrokerError::Transient(_) => AppError::new(
                    ErrorCode::BrokerUnavailable,
                    "Alpaca is not answering. Please try again shortly.",
                ),
                other => AppError::new(
                    ErrorCode::BadRequest,
                    format!("Alpaca refused the account check: {other}"),
                ),
            })?;
        let now = self.clock.now().millis();
        let acknowledged = environment == "live" && user.risk_acknowledged_at.is_none();
        let existing = self
            .db
            .broker_connection(&user.id)
            .await
            .map_err(internal)?;
        let row = ConnectionRow {
            user_id: user.id.clone(),
            environment: environment.to_owned(),
            key_id: self
                .brokers
                .vault()
                .seal(key_id, &user.id)
                .map_err(internal)?,
            secret: self
                .brokers
                .vault()
                .seal(secret, &user.id)
                .map_err(internal)?,
            key_last4: last4(key_id),
            account_id: account.id,
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
        };
        self.db
            .save_broker_connection(&row, acknowledged.then_some(now))
            .await
            .map_err(internal)?;
        let mut detail =
            serde_json::json!({"environment": environment, "key_last4": row.key_last4});
        if acknowledged {
            detail["risk_acknowledged"] = true.into();
        }
        self.audit(caller, &user.id, AuditAction::BrokerConnected, detail)
            .await?;
        ConnectionPort::view(self, caller).await
    }

    async fn disconnect(&self, caller: &Caller) -> Result<ConnectionView, AppError> {
        let user = self.accounts.require_user(caller).await?;
        if self
            .db
            .delete_broker_connection(&user.id)
            .await
            .map_err(internal)?
        {
            self.audit(
                caller,
                &user.id,
                AuditAction::BrokerRemoved,
                serde_json::json!({}),
            )
            .await?;
        }
        ConnectionPort::view(self, caller).await
    }
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

    /// Saves the user's connection and, with `risk_acknowledged_at`, that they confirmed the
    /// risk disclosure (the first time only), in one transaction.
    pub async fn save_broker_connection(
        &self,
        row: &ConnectionRow,
        risk_acknowledged_at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        if let Some(at) = risk_acknowledged_at {
            sqlx::query(
                "UPDATE users SET risk_acknowledged_at = $1 \
                 WHERE id = $2 AND risk_acknowledged_at IS NULL",
            )
            .bind(at)
            .bind(&row.user_id)
            .execute(&mut *tx)
            .await?;
        }
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
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_broker_connection(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("DELETE FROM broker_connections WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_four_characters_are_kept() {
        assert_eq!(last4("PKABCDEFGH1234"), "1234");
        assert_eq!(last4("abc"), "abc");
    }

    #[test]
    fn the_request_never_prints_its_secret() {
        let request = ConnectRequest {
            environment: "paper".into(),
            key_id: "PKTESTKEY".into(),
            secret: "hunter2hunter2".into(),
            acknowledge_risk: false,
        };
        assert!(!format!("{request:?}").contains("hunter2"));
    }
}
