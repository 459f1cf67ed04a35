//! The `users` table.

use super::{Db, is_unique_violation};
use app::domain::account::{Email, Role};
use app::domain::tier::Tier;
use app::domain::time::Timestamp;
use sqlx::Row as _;

/// A user row, with its password hash (which never leaves the server).
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: Timestamp,
    /// Preferred IANA time zone; `None`: the browser's.
    pub timezone: Option<String>,
    /// When the user proved the e-mail address is theirs; `None`: not yet.
    pub email_verified_at: Option<Timestamp>,
    /// The subscription tier (what billing, when on, holds the user to).
    pub tier: Tier,
    /// When an admin disabled the account; `None`: it may sign in.
    pub disabled_at: Option<Timestamp>,
    /// When the user was last active: signed in, or a visit refreshed their session.
    pub last_seen_at: Timestamp,
    /// When the user confirmed the risk disclosure (before live keys); `None`: not yet.
    pub risk_acknowledged_at: Option<Timestamp>,
}

/// The verification e-mail a new user is sent, written with the user.
pub struct Verification<'a> {
    pub token_hash: &'a str,
    /// The outbox row, from the new user's id.
    pub mail: &'a (dyn Fn(&str) -> Result<super::mail::NewMail, sqlx::Error> + Sync),
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("a user with this e-mail address exists")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub(super) fn from_row(row: &sqlx::any::AnyRow) -> Result<UserRecord, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown role {role:?} in users.role").into())
        })?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        timezone: row.try_get("timezone")?,
        email_verified_at: row
            .try_get::<Option<i64>, _>("email_verified_at")?
            .map(Timestamp::from_millis),
        tier: {
            let tier: String = row.try_get("tier")?;
            Tier::parse(&tier).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown tier {tier:?} in users.tier").into())
            })?
        },
        disabled_at: row
            .try_get::<Option<i64>, _>("disabled_at")?
            .map(Timestamp::from_millis),
        last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
        risk_acknowledged_at: row
            .try_get::<Option<i64>, _>("risk_acknowledged_at")?
            .map(Timestamp::from_millis),
    })
}

pub(super) const COLUMNS: &str = "id, email, password_hash, role, created_at, timezone, \
     email_verified_at, tier, disabled_at, last_seen_at, risk_acknowledged_at";

impl Db {
    pub async fn insert_user(
        &self,
        email: &Email,
        password_hash: &str,
        role: Role,
        now: Timestamp,
    ) -> Result<UserRecord, InsertUserError> {
        self.insert_user_then(email, password_hash, role, now, None)
            .await
    }

    /// Inserts a user and, in the same transaction, their verification e-mail: the token's
    /// digest and the outbox row `mail` makes from the new user's id.
    pub async fn insert_user_then(
        &self,
        email: &Email,
        password_hash: &str,
        role: Role,
        now: Timestamp,
        verification: Option<Verification<'_>>,
    ) -> Result<UserRecord, InsertUserError> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut tx = self.pool().begin().await?;
        let result = sqlx::query(
            // A new user has read every note published before them (no badge for history).
            "INSERT INTO users (id, email, password_hash, role, created_at, updated_at, \
             last_seen_at, notes_seen_at) VALUES ($1, $2, $3, $4, $5, $5, $5, $5)",
        )
        .bind(&id)
        .bind(email.as_str())
        .bind(password_hash)
        .bind(role.as_str())
        .bind(now.millis())
        .execute(&mut *tx)
        .await;
        if let Err(err) = result {
            return Err(if is_unique_violation(&err) {
                InsertUserError::EmailTaken
            } else {
                err.into()
            });
        }
        if let Some(verification) = verification {
            let mail = (verification.mail)(&id)?;
            let token = super::mail::NewToken {
                hash: verification.token_hash,
                user_id: &id,
                purpose: "verify",
                email: email.as_str(),
                ttl_ms: crate::mail::VERIFY_TTL_MS,
            };
            super::mail::insert_token_mail(&mut tx, token, &mail, now.millis()).await?;
        }
        tx.commit().await?;
        Ok(UserRecord {
            id,
            email: email.as_str().to_owned(),
            password_hash: password_hash.to_owned(),
            role,
            created_at: now,
            timezone: None,
            email_verified_at: None,
            tier: Tier::Free,
            disabled_at: None,
            last_seen_at: now,
            risk_acknowledged_at: None,
        })
    }

    pub async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, sqlx::Error> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
            .bind(email.as_str())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, sqlx::Error> {
        sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM users ORDER BY created_at, email"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    pub async fn set_password_hash(
        &self,
        user_id: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now.millis())
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_timezone(
        &self,
        user_id: &str,
        timezone: Option<&str>,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET timezone = $1, updated_at = $2 WHERE id = $3")
            .bind(timezone)
            .bind(now.millis())
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of the user but `keep`; returns how many.
    pub async fn delete_other_sessions(
        &self,
        user_id: &str,
        keep: &str,
    ) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(user_id)
            .bind(keep)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// The user's sessions other than `current` that have not expired.
    pub async fn count_other_sessions(
        &self,
        user_id: &str,
        current: &str,
        now: Timestamp,
    ) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id = $1 AND id <> $2 AND expires_at >= $3",
        )
        .bind(user_id)
        .bind(current)
        .bind(now.millis())
        .fetch_one(self.pool())
        .await?;
        row.try_get::<i64, _>("n")
    }

    /// Sets a user's role; returns whether the user exists.
    pub async fn set_user_role(
        &self,
        email: &Email,
        role: Role,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE email = $3")
            .bind(role.as_str())
            .bind(now.millis())
            .bind(email.as_str())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets the user's subscription tier, with its audit row in the same transaction.
    /// Returns whether the user exists.
    pub async fn set_user_tier(
        &self,
        email: &Email,
        tier: Tier,
        audit: super::audit::AuditEntry<'_>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query("UPDATE users SET tier = $1, updated_at = $2 WHERE email = $3")
            .bind(tier.as_str())
            .bind(audit.at.millis())
            .bind(email.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        super::audit::insert_audit(&mut *tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }
}
