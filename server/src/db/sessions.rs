//! The `sessions` table as a tower-sessions store, so sessions survive restarts and are
//! shared by every instance on one database. Rows are keyed by the SHA-256 of the session
//! id ([`stored_id`]), never the id itself. Each row also records its user, so a user's
//! sessions can be listed and ended together.

use super::{Db, is_unique_violation};
use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

/// The session key that holds the signed-in user's id.
pub const USER_ID_KEY: &str = "user_id";
/// The session's handle: a random name for it that may leave the server (to end it), unlike
/// its id.
pub const HANDLE_KEY: &str = "handle";
/// When the session signed in (Unix ms, the app's clock).
pub const CREATED_AT_KEY: &str = "created_at";
/// When the session was last used (Unix ms, the app's clock; refreshed every few minutes).
pub const SEEN_AT_KEY: &str = "seen_at";
/// The address and browser it signed in from.
pub const IP_KEY: &str = "ip";
pub const AGENT_KEY: &str = "user_agent";

/// A fresh session handle: 128 random bits as hex.
pub fn new_handle() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A signed-in session as its user's list shows it.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// What the database keys it by (the id's hash), to tell the caller's own.
    pub stored_id: String,
    pub handle: Option<String>,
    pub created_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What the database keeps of a session id: its SHA-256, so a copy of the database does
/// not hold one usable session (the id itself lives only in the user's cookie).
pub fn stored_id(id: &str) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(id.as_bytes()))
}

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
}

impl DbSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Deletes sessions that have expired; returns how many. Expiry is wall-clock time
    /// (tower-sessions sets it so), never the demo market's clock, which can be moved.
    pub async fn delete_expired(&self) -> Result<u64, sqlx::Error> {
        let now_millis =
            (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now_millis)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

impl Db {
    /// When `user_id`'s session stored under `stored_id` expires (Unix ms), or `None` if it
    /// has ended: signed out, replaced, expired, or now another user's.
    pub async fn session_expiry(
        &self,
        stored_id: &str,
        user_id: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        let now_millis =
            (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        sqlx::query_scalar(
            "SELECT expires_at FROM sessions WHERE id = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(stored_id)
        .bind(user_id)
        .bind(now_millis)
        .fetch_optional(self.pool())
        .await
    }
}

impl Db {
    /// The user's sessions that have not expired (wall-clock time), most recently used first.
    pub async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionRow>, sqlx::Error> {
        let now_millis =
            (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let rows = sqlx::query(
            "SELECT id, handle, created_at, last_seen_at, ip, user_agent FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 \
             ORDER BY COALESCE(last_seen_at, 0) DESC, COALESCE(created_at, 0) DESC, id",
        )
        .bind(user_id)
        .bind(now_millis)
        .fetch_all(self.pool())
        .await?;
        use sqlx::Row as _;
        rows.iter()
            .map(|row| {
                Ok(SessionRow {
                    stored_id: row.try_get("id")?,
                    handle: row.try_get("handle")?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    ip: row.try_get("ip")?,
                    user_agent: row.try_get("user_agent")?,
                })
            })
            .collect()
    }

    /// Ends the session with this handle, when it is `user_id`'s (any user's with `None`);
    /// returns whose it was, `None` when there is no such session.
    pub async fn delete_session_by_handle(
        &self,
        handle: &str,
        user_id: Option<&str>,
    ) -> Result<Option<String>, sqlx::Error> {
        let owner: Option<Option<String>> =
            sqlx::query_scalar("SELECT user_id FROM sessions WHERE handle = $1")
                .bind(handle)
                .fetch_optional(self.pool())
                .await?;
        let Some(Some(owner)) = owner else {
            return Ok(None);
        };
        if user_id.is_some_and(|user| user != owner) {
            return Ok(None);
        }
        let now_millis =
            (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let done = sqlx::query(
            "DELETE FROM sessions WHERE handle = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(handle)
        .bind(&owner)
        .bind(now_millis)
        .execute(self.pool())
        .await?;
        // Ended meanwhile (signed out, expired): nothing was ended here.
        Ok((done.rows_affected() == 1).then_some(owner))
    }
}

fn backend(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// What the session list shows of a session, from its data.
struct Meta {
    handle: Option<String>,
    created_at: Option<i64>,
    last_seen_at: Option<i64>,
    ip: Option<String>,
    user_agent: Option<String>,
}

fn meta(record: &Record) -> Meta {
    let text = |key: &str| {
        record
            .data
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let number = |key: &str| record.data.get(key).and_then(serde_json::Value::as_i64);
    Meta {
        handle: text(HANDLE_KEY),
        created_at: number(CREATED_AT_KEY),
        last_seen_at: number(SEEN_AT_KEY),
        ip: text(IP_KEY),
        user_agent: text(AGENT_KEY),
    }
}

fn columns(record: &Record) -> session_store::Result<(String, Option<String>, Vec<u8>, i64)> {
    // The record is written without its id (the id is the cookie: it must not be in the
    // database in any form it could be read back from); `load` puts it back.
    let mut anonymous = record.clone();
    anonymous.id = Id(0);
    let data =
        serde_json::to_vec(&anonymous).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let user_id = record
        .data
        .get(USER_ID_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let expires_at = (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64;
    Ok((stored_id(&record.id.to_string()), user_id, data, expires_at))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are random 128-bit values; on the (astronomically unlikely) collision, draw again.
        loop {
            let (id, user_id, data, expires_at) = columns(record)?;
            let meta = meta(record);
            let result = sqlx::query(
                "INSERT INTO sessions (id, user_id, data, expires_at, handle, created_at, \
                 last_seen_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(user_id)
            .bind(data)
            .bind(expires_at)
            .bind(meta.handle)
            .bind(meta.created_at)
            .bind(meta.last_seen_at)
            .bind(meta.ip)
            .bind(meta.user_agent)
            .execute(self.db.pool())
            .await;
            match result {
                Ok(_) => return Ok(()),
                Err(err) if is_unique_violation(&err) => record.id = Id::default(),
                Err(err) => return Err(backend(err)),
            }
        }
    }

    /// Updates a session that still exists; never brings back one that has ended (a
    /// request of a session that was signed out or ended by a password change meanwhile
    /// would otherwise write it back when it finishes). New sessions go through `create`.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (id, user_id, data, expires_at) = columns(record)?;
        let meta = meta(record);
        sqlx::query(
            "UPDATE sessions SET user_id = $2, data = $3, expires_at = $4, handle = $5, \
             created_at = $6, last_seen_at = $7, ip = $8, user_agent = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(user_id)
        .bind(data)
        .bind(expires_at)
        .bind(meta.handle)
        .bind(meta.created_at)
        .bind(meta.last_seen_at)
        .bind(meta.ip)
        .bind(meta.user_agent)
        .execute(self.db.pool())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let now = time::OffsetDateTime::now_utc();
        let now_millis = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        let data: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(stored_id(&session_id.to_string()))
                .bind(now_millis)
                .fetch_optional(self.db.pool())
                .await
                .map_err(backend)?;
        data.map(|bytes| {
            let mut record: Record = serde_json::from_slice(&bytes)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?;
            record.id = *session_id;
            Ok(record)
        })
        .transpose()
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(stored_id(&session_id.to_string()))
            .execute(self.db.pool())
            .await
            .map_err(backend)?;
        Ok(())
    }
}
