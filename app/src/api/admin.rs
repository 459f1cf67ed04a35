//! The admin panel's wire types and server functions. Every one checks the admin role
//! on the server (in the port), whatever the UI shows.

use super::error::AppError;
use crate::domain::account::Role;
use crate::domain::tier::Tier;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One user as the admin panel lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminUserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub tier: Tier,
    /// An admin disabled the account: no sign-in, plans paused.
    pub disabled: bool,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When the user was last active (signed in, or a visit refreshed the session), ms.
    pub last_seen_at: i64,
}

/// `GET /api/admin/users`: which users, in which order, from where. Every field is
/// optional and arrives as text, so a wrong value is a 422 naming the field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct UserQuery {
    /// A part of the e-mail address, any case.
    #[serde(default)]
    pub q: Option<String>,
    /// `subscriber` or `admin`.
    #[serde(default)]
    pub role: Option<String>,
    /// `free`, `basic`, `pro` or `premium`.
    #[serde(default)]
    pub tier: Option<String>,
    /// `active` or `disabled`.
    #[serde(default)]
    pub state: Option<String>,
    /// `signed_up` (the default) or `last_active`, newest first.
    #[serde(default)]
    pub sort: Option<String>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// 1 to 200; 50 by default.
    #[serde(default)]
    pub limit: Option<String>,
}

/// A page of users; `next` fetches the following one (`None` on the last page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminUserPage {
    pub users: Vec<AdminUserView>,
    pub next: Option<String>,
}

/// One of a user's sessions. Session ids never leave the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminSession {
    /// Names the session for ending it (`DELETE /api/admin/sessions/{handle}`).
    pub handle: String,
    /// The browser and system in words: "Chrome 156 on Linux".
    pub device: String,
    pub ip: Option<String>,
    /// When it signed in, and when it was last used, ms.
    pub created_at: Option<i64>,
    pub last_seen_at: Option<i64>,
}

/// One audit row about a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminAuditRow {
    pub at: i64,
    pub action: String,
    /// The user who acted (the user themself, or an admin), if anyone did.
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub ip: Option<String>,
    /// JSON.
    pub detail: String,
}

/// The admin's view of a user's billing: tier, subscription and this month's usage, in
/// the JSON shape of `GET /api/billing` (the panel has its own types, so the plan editor's
/// code is not shared with it and the browser bundles stay apart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminBilling {
    pub tier: Tier,
    /// The Stripe subscription's state (`active`, `past_due`, …); `None` without one.
    pub status: Option<String>,
    pub usage: AdminUsage,
}

/// Counted from the user's plans and purchase history, as on their billing page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminUsage {
    pub symbols: u32,
    pub plans: u32,
    pub purchases_this_month: u32,
    /// Dollars, an exact decimal.
    pub volume_this_month: String,
}

/// A user's broker connection: its kind (`alpaca`, `demo`, `none`), environment and the
/// key's last four characters; never the keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminBroker {
    pub kind: String,
    pub environment: String,
    pub key_last4: Option<String>,
}

/// One of a user's plans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminPlan {
    pub id: String,
    pub name: String,
    /// `active`, `paused` or `stopped`.
    pub status: String,
    /// ms.
    pub next_run_at: Option<i64>,
    pub paused_reason: Option<String>,
}

/// One of a user's purchases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminPurchase {
    pub symbol: String,
    /// Dollars ordered, an exact decimal.
    pub notional: String,
    /// `filled`, `skipped`, `failed`, …
    pub status: String,
    pub reason: Option<String>,
    /// The slot it was bought for, ms.
    pub slot_at: Option<i64>,
}

/// `GET /api/admin/users/{id}`: everything an admin needs to help a user, or to stop one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminUserDetail {
    pub user: AdminUserView,
    pub email_verified: bool,
    pub timezone: Option<String>,
    pub billing: AdminBilling,
    pub broker: AdminBroker,
    pub plans: Vec<AdminPlan>,
    /// The newest purchases.
    pub purchases: Vec<AdminPurchase>,
    pub sessions: Vec<AdminSession>,
    /// The newest audit rows naming the user.
    pub audit: Vec<AdminAuditRow>,
    /// Whether this is the admin looking at it (who cannot demote or disable themself).
    pub is_you: bool,
}

/// `PATCH /api/admin/users/{id}`: what to change; absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// `subscriber` or `admin`.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// `GET /api/admin/audit`: which audit rows, newest first. Every field is optional text, so
/// a wrong value is a 422 naming the field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AuditQuery {
    /// A user's e-mail address or id: the rows they did, or that are about them.
    #[serde(default)]
    pub user: Option<String>,
    /// One action, e.g. `sign_in_failed`.
    #[serde(default)]
    pub action: Option<String>,
    /// `success` or `failure` (a refused or failed attempt: `sign_in_failed`,
    /// `sign_in_blocked`).
    #[serde(default)]
    pub outcome: Option<String>,
    /// From this instant (RFC 3339) or day (`YYYY-MM-DD`, UTC), inclusive.
    #[serde(default)]
    pub from: Option<String>,
    /// Up to this instant (exclusive) or day (inclusive), UTC.
    #[serde(default)]
    pub to: Option<String>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// 1 to 500; 100 by default.
    #[serde(default)]
    pub limit: Option<String>,
}

/// Every audit action's name, for the log viewer's filter (the server's `AuditAction`
/// names; a test there keeps the two lists equal).
pub const AUDIT_ACTIONS: [&str; 31] = [
    "sign_up",
    "sign_in",
    "sign_in_failed",
    "sign_in_blocked",
    "sign_out",
    "password_changed",
    "other_sessions_ended",
    "timezone_changed",
    "role_changed",
    "tier_changed",
    "plan_created",
    "plan_changed",
    "plan_started",
    "plan_paused",
    "plan_stopped",
    "plan_deleted",
    "order_submitted",
    "order_outcome",
    "broker_connected",
    "broker_removed",
    "user_disabled",
    "user_enabled",
    "sessions_revoked",
    "session_ended",
    "note_created",
    "note_changed",
    "note_deleted",
    "settings_changed",
    "email_verified",
    "password_reset_requested",
    "password_reset",
];

/// One audit row as the log viewer shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AuditLine {
    pub id: i64,
    /// ms.
    pub at: i64,
    pub action: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The id of the user who acted, if anyone did.
    pub actor: Option<String>,
    /// That user's e-mail address, when they still exist.
    pub actor_email: Option<String>,
    pub subject: Option<String>,
    pub ip: Option<String>,
    /// JSON.
    pub detail: String,
}

/// A page of audit rows, newest first; `next` fetches the following one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AuditPage {
    pub rows: Vec<AuditLine>,
    pub next: Option<String>,
}

/// How a health figure looks against its thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum HealthLevel {
    Ok,
    Warn,
    Critical,
}

/// One tile of the health page: a figure, its level, and what the level means.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HealthTile {
    /// Stable: `scheduler_lag`, `workers`, `reconcile`, `purchases`, `database`,
    /// `broker_simulated`, `broker_paper`, `broker_live`, `rate_limits`, `stripe`, `email`,
    /// `errors`.
    pub key: String,
    pub title: String,
    pub level: HealthLevel,
    /// The figure, for people ("12 s", "3 of 8 busy").
    pub value: String,
    /// What it counts, and the thresholds.
    pub detail: String,
}

/// One server instance, from its heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HealthInstance {
    pub id: String,
    pub host: String,
    pub version: String,
    /// ms.
    pub started_at: i64,
    pub last_beat_at: i64,
    pub workers: i64,
    /// Purchases running now, of `capacity` at once.
    pub busy: i64,
    pub capacity: i64,
    /// No heartbeat for three intervals: stopped or stuck.
    pub stale: bool,
}

/// The last probe of a broker environment (or of Stripe).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HealthProbe {
    /// `simulated`, `paper`, `live` or `stripe`.
    pub target: String,
    /// Whether anyone uses it (a user connected to it, or demo mode); unused ones are not
    /// probed.
    pub in_use: bool,
    /// It answered (any status below 500).
    pub reachable: Option<bool>,
    pub status: Option<u16>,
    pub latency_ms: Option<u64>,
    /// ms.
    pub checked_at: Option<i64>,
    pub error: Option<String>,
}

/// A name and how many.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HealthCount {
    pub name: String,
    pub count: i64,
}

/// A broker key's rate-limit bucket: the key's last four characters only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HealthKey {
    pub key: String,
    pub available: u32,
    pub per_minute: u32,
}

/// `GET /api/admin/health`: the platform's state, as the health page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HealthReport {
    /// The worst tile's level.
    pub level: HealthLevel,
    pub tiles: Vec<HealthTile>,
    /// This process: version, uptime, instance id.
    pub version: String,
    pub uptime_seconds: u64,
    pub instance: String,
    /// ms.
    pub generated_at: i64,
    /// Age of the oldest due purchase nobody has started.
    pub scheduler_lag_seconds: u64,
    pub slots_last_hour: Vec<HealthCount>,
    pub slots_last_day: Vec<HealthCount>,
    pub instances: Vec<HealthInstance>,
    /// Orders sent whose outcome is still being checked, and the oldest one's age.
    pub reconcile_open: i64,
    pub reconcile_oldest_seconds: Option<u64>,
    /// Failed and missed purchases in the last 24 hours, and the top reasons.
    pub failed_24h: i64,
    pub missed_24h: i64,
    pub top_reasons: Vec<HealthCount>,
    pub database_latency_ms: Option<u64>,
    pub brokers: Vec<HealthProbe>,
    /// Present when billing is on.
    pub stripe: Option<HealthProbe>,
    /// The busiest keys (fewest requests left) first.
    pub rate_limits: Vec<HealthKey>,
    /// 5xx answers on this instance in the last complete minute and the last five.
    pub errors_last_minute: u64,
    pub errors_last_5_minutes: u64,
    pub websockets: i64,
    /// The e-mail outbox.
    #[serde(default)]
    pub email: HealthMail,
}

/// The e-mail outbox on the health page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct HealthMail {
    /// Waiting to be sent (or being sent).
    pub pending: i64,
    pub oldest_pending_seconds: u64,
    pub sent_24h: i64,
    /// Given up on in the last 24 hours.
    pub failed_24h: i64,
    /// The newest given-up message's last error.
    pub last_error: Option<String>,
}

#[server(prefix = "/api/fn", endpoint = "load_admin_users", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn load_admin_users(query: UserQuery) -> Result<AdminUserPage, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.admin.list_users(&caller, &query).await)
}

/// What the admin's page of one user needs in the browser: who they are, their sessions
/// (each with an "End" button), and the rest of the detail (billing, plans, purchases,
/// audit rows) as HTML rendered on the server, so its view code stays out of the bundle.
/// `GET /api/admin/users/{id}` has all of it as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminUserCard {
    pub user: AdminUserView,
    pub is_you: bool,
    pub sessions: Vec<AdminSession>,
    pub panel: String,
}

#[server(prefix = "/api/fn", endpoint = "load_admin_user", output = crate::api::codec::Json)]
pub async fn load_admin_user(id: String) -> Result<AdminUserCard, AppError> {
    let (ports, caller) = super::ports::request().await?;
    let detail = super::ports::with_status(ports.admin.user(&caller, &id).await)?;
    Ok(AdminUserCard {
        user: detail.user.clone(),
        is_you: detail.is_you,
        sessions: detail.sessions.clone(),
        panel: crate::ui::admin_user_html(detail),
    })
}

#[server(prefix = "/api/fn", endpoint = "change_admin_user", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn change_admin_user(id: String, change: UserChange) -> Result<(), AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.admin.change_user(&caller, &id, &change).await).map(drop)
}

#[server(prefix = "/api/fn", endpoint = "end_admin_user_sessions", output = crate::api::codec::Json)]
pub async fn end_admin_user_sessions(id: String) -> Result<(), AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.admin.end_sessions(&caller, &id).await).map(drop)
}

/// Ends one session of any user by its handle (audited).
#[server(prefix = "/api/fn", endpoint = "end_admin_session", output = crate::api::codec::Json)]
pub async fn end_admin_session(handle: String) -> Result<(), AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.admin.end_user_session(&caller, &handle).await)
}

#[server(prefix = "/api/fn", endpoint = "load_admin_audit", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn load_admin_audit(query: AuditQuery) -> Result<AuditPage, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.admin.audit(&caller, &query).await)
}

/// The health report rendered as the admin page shows it (HTML made on the server, so the
/// report's view code is not in the browser's bundle). `GET /api/admin/health` has the
/// same figures as JSON.
#[server(prefix = "/api/fn", endpoint = "load_health_panel", output = crate::api::codec::Json)]
pub async fn load_health_panel() -> Result<String, AppError> {
    let (ports, caller) = super::ports::request().await?;
    let report = super::ports::with_status(ports.admin.health(&caller).await)?;
    Ok(crate::ui::health_html(report))
}
