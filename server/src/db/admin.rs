//! What the admin panel reads and changes of users: a keyset-paged search, a user's
//! sessions and audit rows, and role and disabled changes that can never leave the
//! platform without an enabled admin.

use super::Db;
use super::audit::{AuditAction, AuditEntry, AuditRecord, insert_audit};
use super::users::{COLUMNS, UserRecord, from_row};
use app::domain::account::Role;
use app::domain::tier::Tier;
use app::domain::time::Timestamp;
use sqlx::Row as _;

/// The order the admin's user list pages through, newest first, the id breaking ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOrder {
    SignedUp,
    LastActive,
}

impl UserOrder {
    fn column(self) -> &'static str {
        match self {
            UserOrder::SignedUp => "created_at",
            UserOrder::LastActive => "last_seen_at",
        }
    }

    /// The value of this order's column for `user`: a page's cursor is (it, id).
    pub fn key(self, user: &UserRecord) -> i64 {
        match self {
            UserOrder::SignedUp => user.created_at.millis(),
            UserOrder::LastActive => user.last_seen_at.millis(),
        }
    }
}

/// One page of the user search: every filter is optional.
#[derive(Clone, Debug)]
pub struct UserSearch {
    /// A part of the e-mail address, any case.
    pub email: Option<String>,
    pub role: Option<Role>,
    pub tier: Option<Tier>,
    pub disabled: Option<bool>,
    pub order: UserOrder,
    /// The last row of the previous page: (the order's key, id).
    pub after: Option<(i64, String)>,
    pub limit: u32,
}

/// `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// An admin's change to a user's account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// How [`Db::change_account`] went.
#[derive(Debug)]
pub enum AccountChanged {
    /// Applied (or nothing to change): the user as they are now, and whether this change
    /// ended their sessions (it disabled or enabled them).
    Done {
        user: UserRecord,
        sessions_ended: bool,
    },
    Missing,
    /// It would leave no enabled admin.
    LastAdmin,
    /// The acting admin is no longer an enabled admin.
    NotAdmin,
}

/// One session of a user, as the admin panel shows it.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub expires_at: i64,
}

impl Db {
    /// One page of users, newest first in `search.order`.
    pub async fn search_users(&self, search: &UserSearch) -> Result<Vec<UserRecord>, sqlx::Error> {
        let column = search.order.column();
        let mut sql = format!("SELECT {COLUMNS} FROM users WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if search.email.is_some() {
            sql += &format!(" AND LOWER(email) LIKE {} ESCAPE '\\'", next());
        }
        if search.role.is_some() {
            sql += &format!(" AND role = {}", next());
        }
        if search.tier.is_some() {
            sql += &format!(" AND tier = {}", next());
        }
        match search.disabled {
            Some(true) => sql += " AND disabled_at IS NOT NULL",
            Some(false) => sql += " AND disabled_at IS NULL",
            None => {}
        }
        if search.after.is_some() {
            // A row comparison: an index range on (column, id) in both databases.
            let (key, id) = (next(), next());
            sql += &format!(" AND ({column}, id) < ({key}, {id})");
        }
        sql += &format!(" ORDER BY {column} DESC, id DESC LIMIT {}", next());

        let mut query = sqlx::query(&sql);
        if let Some(email) = &search.email {
            query = query.bind(contains_pattern(email));
        }
        if let Some(role) = search.role {
            query = query.bind(role.as_str());
        }
        if let Some(tier) = search.tier {
            query = query.bind(tier.as_str());
        }
        if let Some((key, id)) = &search.after {
            query = query.bind(*key).bind(id.clone());
        }
        query = query.bind(i64::from(search.limit));
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    /// Notes that the user was active now (a sign-in, a visit that refreshed the session).
    pub async fn touch_user(&self, user_id: &str, now: Timestamp) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
            .bind(user_id)
            .bind(now.millis())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Changes a user's role and whether they are disabled, with one audit row per change
    /// naming `actor` (the admin), in one transaction. Disabling ends every session of the
    /// user in the same transaction. Refused when it would leave no enabled admin.
    pub async fn change_account(
        &self,
        user_id: &str,
        change: &AccountChange,
        actor: &UserRecord,
        ip: Option<String>,
        at: Timestamp,
    ) -> Result<AccountChanged, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        // The locks first: every admin's row and the target's (PostgreSQL, in id order so two
        // changes cannot deadlock), or the database's write lock (SQLite). Two admins
        // demoting each other at once cannot both see the other still in place, and two
        // changes to one user cannot write back each other's stale read.
        match self.backend() {
            super::Backend::Postgres => {
                sqlx::query(
                    "SELECT id FROM users WHERE role = 'admin' OR id = $1 ORDER BY id FOR UPDATE",
                )
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
            }
            super::Backend::Sqlite => {
                sqlx::query(
                    "UPDATE users SET updated_at = updated_at WHERE role = 'admin' OR id = $1",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        // The admin may have been demoted or disabled since their request was checked.
        let acting: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT role, disabled_at FROM users WHERE id = $1")
                .bind(&actor.id)
                .fetch_optional(&mut *tx)
                .await?;
        if !matches!(acting, Some((role, None)) if role == Role::Admin.as_str()) {
            tx.rollback().await?;
            return Ok(AccountChanged::NotAdmin);
        }
        let Some(before) = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(from_row)
            .transpose()?
        else {
            tx.rollback().await?;
            return Ok(AccountChanged::Missing);
        };
        let role = change.role.unwrap_or(before.role);
        let was_disabled = before.disabled_at.is_some();
        let disabled = change.disabled.unwrap_or(was_disabled);
        let enabled_admin = |role: Role, disabled: bool| role.is_admin() && !disabled;
        if enabled_admin(before.role, was_disabled) && !enabled_admin(role, disabled) {
            let others: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM users \
                 WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1",
            )
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if others == 0 {
                tx.rollback().await?;
                return Ok(AccountChanged::LastAdmin);
            }
        }
        let disabled_at = match (was_disabled, disabled) {
            (false, true) => Some(at.millis()),
            (true, true) => before.disabled_at.map(Timestamp::millis),
            (_, false) => None,
        };
        sqlx::query("UPDATE users SET role = $2, disabled_at = $3, updated_at = $4 WHERE id = $1")
            .bind(user_id)
            .bind(role.as_str())
            .bind(disabled_at)
            .bind(at.millis())
            .execute(&mut *tx)
            .await?;
        // Disabling ends every session; so does enabling, in case a sign-in that was under
        // way when the account was disabled created one after the delete.
        if disabled != was_disabled {
            delete_sessions_of(&mut *tx, user_id).await?;
        }
        let mut audits = Vec::new();
        if role != before.role {
            audits.push((
                AuditAction::RoleChanged,
                serde_json::json!({"role": role.as_str(), "by": actor.email}),
            ));
        }
        if disabled != was_disabled {
            let action = if disabled {
                AuditAction::UserDisabled
            } else {
                AuditAction::UserEnabled
            };
            audits.push((action, serde_json::json!({"by": actor.email})));
        }
        for (action, detail) in audits {
            insert_audit(
                &mut *tx,
                AuditEntry {
                    at,
                    actor_user_id: Some(&actor.id),
                    action,
                    subject: Some(&before.email),
                    ip: ip.clone(),
                    detail,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(AccountChanged::Done {
            user: UserRecord {
                role,
                disabled_at: disabled_at.map(Timestamp::from_millis),
                ..before
            },
            sessions_ended: disabled != was_disabled,
        })
    }

    /// Ends every session of the user; returns how many there were.
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, sqlx::Error> {
        delete_sessions_of(self.pool(), user_id).await
    }

    /// The user's sessions that have not expired, the longest-lived first. Expiry is
    /// wall-clock time (as the session store sets it), never the demo market's clock.
    pub async fn user_sessions(&self, user_id: &str) -> Result<Vec<SessionRecord>, sqlx::Error> {
        let now = Timestamp::from_millis(
            (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        );
        let rows = sqlx::query(
            "SELECT expires_at FROM sessions WHERE user_id = $1 AND expires_at > $2 \
             ORDER BY expires_at DESC",
        )
        .bind(user_id)
        .bind(now.millis())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SessionRecord {
                    expires_at: row.try_get("expires_at")?,
                })
            })
            .collect()
    }

    /// The newest `limit` audit rows that name the user: as the actor, or as the subject
    /// (their e-mail address or id, or one of their plans: an admin's pause of it).
    pub async fn audit_of_user(
        &self,
        user: &UserRecord,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT at, actor_user_id, action, subject, ip, detail FROM audit_log \
             WHERE actor_user_id = $1 OR subject = $1 OR subject = $2 \
             OR subject IN (SELECT id FROM plans WHERE user_id = $1) \
             ORDER BY at DESC, id DESC LIMIT $3",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}

/// Ends every session of the user, with the caller's transaction (or pool); returns how
/// many there were.
pub async fn delete_sessions_of<'e, E>(executor: E, user_id: &str) -> Result<u64, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn a_search_takes_wildcards_literally() {
        assert_eq!(contains_pattern("Ann"), "%ann%");
        assert_eq!(contains_pattern("a_b%c\\"), "%a\\_b\\%c\\\\%");
    }
}
