//! The append-only `audit_log` table: the database refuses UPDATE, and DELETE of any entry
//! younger than the retention period (`audit_retention_days`).

use super::Db;
use app::domain::time::Timestamp;

/// What happened. Stored as text; the names are stable because admins search by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    SignUp,
    SignIn,
    SignInFailed,
    SignInBlocked,
    SignOut,
    PasswordChanged,
    OtherSessionsEnded,
    TimezoneChanged,
    RoleChanged,
    TierChanged,
    PlanCreated,
    PlanChanged,
    PlanStarted,
    PlanPaused,
    PlanStopped,
    PlanDeleted,
    OrderSubmitted,
    OrderOutcome,
    BrokerConnected,
    BrokerRemoved,
    UserDisabled,
    UserEnabled,
    SessionsRevoked,
    SessionEnded,
    NoteCreated,
    NoteChanged,
    NoteDeleted,
    SettingsChanged,
    EmailVerified,
    PasswordResetRequested,
    PasswordReset,
}

impl AuditAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignUp => "sign_up",
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SignInBlocked => "sign_in_blocked",
            AuditAction::SignOut => "sign_out",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::OtherSessionsEnded => "other_sessions_ended",
            AuditAction::TimezoneChanged => "timezone_changed",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::TierChanged => "tier_changed",
            AuditAction::PlanCreated => "plan_created",
            AuditAction::PlanChanged => "plan_changed",
            AuditAction::PlanStarted => "plan_started",
            AuditAction::PlanPaused => "plan_paused",
            AuditAction::PlanStopped => "plan_stopped",
            AuditAction::PlanDeleted => "plan_deleted",
            AuditAction::OrderSubmitted => "order_submitted",
            AuditAction::OrderOutcome => "order_outcome",

            AuditAction::BrokerConnected => "broker_connected",
            AuditAction::BrokerRemoved => "broker_removed",
            AuditAction::UserDisabled => "user_disabled",
            AuditAction::UserEnabled => "user_enabled",
            AuditAction::SessionsRevoked => "sessions_revoked",
            AuditAction::SessionEnded => "session_ended",
            AuditAction::NoteCreated => "note_created",
            AuditAction::NoteChanged => "note_changed",
            AuditAction::NoteDeleted => "note_deleted",
            AuditAction::SettingsChanged => "settings_changed",
            AuditAction::EmailVerified => "email_verified",
            AuditAction::PasswordResetRequested => "password_reset_requested",
            AuditAction::PasswordReset => "password_reset",
        }
    }
}

/// One audit entry to append.
#[derive(Clone, Debug)]
pub struct AuditEntry<'a> {
    pub at: Timestamp,
    pub actor_user_id: Option<&'a str>,
    pub action: AuditAction,
    /// What the action was about, e.g. the e-mail address a sign-in tried.
    pub subject: Option<&'a str>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

/// An audit row as read back.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    pub at: i64,
    pub actor_user_id: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub ip: Option<String>,
    /// JSON.
    pub detail: String,
}

impl Db {
    pub async fn append_audit(&self, entry: AuditEntry<'_>) -> Result<(), sqlx::Error> {
        insert_audit(self.pool(), entry).await
    }

    /// The newest entries first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditRecord>, sqlx::Error> {
        sqlx::query_as(
            "SELECT at, actor_user_id, action, subject, ip, detail FROM audit_log \
             ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }
}

/// Appends `entry` through `executor`: the pool, or a transaction that writes the change
/// the entry records (so the two land together or not at all).
pub async fn insert_audit<'e, E>(executor: E, entry: AuditEntry<'_>) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO audit_log (at, actor_user_id, action, subject, ip, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.at.millis())
    .bind(entry.actor_user_id)
    .bind(entry.action.as_str())
    .bind(entry.subject)
    .bind(entry.ip)
    .bind(entry.detail.to_string())
    .execute(executor)
    .await?;
    Ok(())
}

impl AuditAction {
    /// Every action, for the log viewer's filter.
    pub const ALL: [AuditAction; 31] = [
        AuditAction::SignUp,
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignInBlocked,
        AuditAction::SignOut,
        AuditAction::PasswordChanged,
        AuditAction::OtherSessionsEnded,
        AuditAction::TimezoneChanged,
        AuditAction::RoleChanged,
        AuditAction::TierChanged,
        AuditAction::PlanCreated,
        AuditAction::PlanChanged,
        AuditAction::PlanStarted,
        AuditAction::PlanPaused,
        AuditAction::PlanStopped,
        AuditAction::PlanDeleted,
        AuditAction::OrderSubmitted,
        AuditAction::OrderOutcome,
        AuditAction::BrokerConnected,
        AuditAction::BrokerRemoved,
        AuditAction::UserDisabled,
        AuditAction::UserEnabled,
        AuditAction::SessionsRevoked,
        AuditAction::SessionEnded,
        AuditAction::NoteCreated,
        AuditAction::NoteChanged,
        AuditAction::NoteDeleted,
        AuditAction::SettingsChanged,
        AuditAction::EmailVerified,
        AuditAction::PasswordResetRequested,
        AuditAction::PasswordReset,
    ];

    /// The actions that record a refused or failed attempt (the rest record what was done).
    pub const FAILURES: [AuditAction; 2] = [AuditAction::SignInFailed, AuditAction::SignInBlocked];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub fn is_failure(self) -> bool {
        Self::FAILURES.contains(&self)
    }
}

/// Which audit rows the log viewer reads, newest first; every filter optional.
#[derive(Clone, Debug, Default)]
pub struct AuditSearch {
    /// Rows a user did or that are about them (their account or one of their plans):
    /// (id, e-mail address).
    pub user: Option<(String, String)>,
    pub action: Option<AuditAction>,
    /// `Some(true)`: only refused or failed attempts; `Some(false)`: only the rest.
    pub failures: Option<bool>,
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    /// Unix ms, exclusive.
    pub to: Option<i64>,
    /// Only rows older than this one (keyset paging by id).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// An audit row as the log viewer reads it: with its id and the actor's e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditLogRow {
    pub id: i64,
    pub at: i64,
    pub actor_user_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

impl Db {
    /// The audit rows `search` selects, newest first.
    pub async fn search_audit(
        &self,
        search: &AuditSearch,
    ) -> Result<Vec<AuditLogRow>, sqlx::Error> {
        let mut sql = String::from(
            "SELECT a.id, a.at, a.actor_user_id, u.email AS actor_email, a.action, a.subject, \
             a.ip, a.detail FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id \
             WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if search.user.is_some() {
            let (id, id_again, email, owner) = (next(), next(), next(), next());
            sql += &format!(
                " AND (a.actor_user_id = {id} OR a.subject = {id_again} OR a.subject = {email} \
                 OR a.subject IN (SELECT p.id FROM plans p WHERE p.user_id = {owner}))"
            );
        }
        if search.action.is_some() {
            sql += &format!(" AND a.action = {}", next());
        }
        if let Some(failures) = search.failures {
            let names: Vec<String> = AuditAction::FAILURES
                .iter()
                .map(|a| format!("'{}'", a.as_str()))
                .collect();
            let not = if failures { "" } else { "NOT " };
            sql += &format!(" AND a.action {not}IN ({})", names.join(", "));
        }
        if search.from.is_some() {
            sql += &format!(" AND a.at >= {}", next());
        }
        if search.to.is_some() {
            sql += &format!(" AND a.at < {}", next());
        }
        if search.before_id.is_some() {
            sql += &format!(" AND a.id < {}", next());
        }
        sql += &format!(" ORDER BY a.id DESC LIMIT {}", next());

        let mut query = sqlx::query_as::<_, AuditLogRow>(&sql);
        if let Some((id, email)) = &search.user {
            query = query
                .bind(id.clone())
                .bind(id.clone())
                .bind(email.clone())
                .bind(id.clone());
        }
        if let Some(action) = search.action {
            query = query.bind(action.as_str());
        }
        if let Some(from) = search.from {
            query = query.bind(from);
        }
        if let Some(to) = search.to {
            query = query.bind(to);
        }
        if let Some(before) = search.before_id {
            query = query.bind(before);
        }
        query.bind(search.limit).fetch_all(self.pool()).await
    }
}

#[cfg(test)]
mod tests {
    use super::AuditAction;

    #[test]
    fn the_log_viewer_lists_every_action() {
        let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, app::api::admin::AUDIT_ACTIONS);
        assert_eq!(
            AuditAction::parse("sign_in_blocked"),
            Some(AuditAction::SignInBlocked)
        );
        assert!(AuditAction::SignInBlocked.is_failure() && !AuditAction::SignIn.is_failure());
    }
}
