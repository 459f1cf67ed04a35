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
