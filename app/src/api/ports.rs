//! The ports the server implements, provided to server functions through Leptos context.
//!
//! `app` declares what it needs; the `server` crate decides how (database, hashing,
//! sessions). This keeps sqlx and friends out of the browser bundle and out of UI rebuilds.

use super::admin::{
    AdminUserDetail, AdminUserPage, AuditLine, AuditPage, AuditQuery, HealthReport, UserChange,
    UserQuery,
};
use super::auth::{Credentials, Profile, SessionView, UserView};
use super::broker::{ConnectRequest, ConnectionView};
use super::dca::{
    AccountSummary, AssetFacts, BarsQuery, HistoryFilter, HistoryPage, Plan, PlanLimits,
    PlanStatus, PlanWire, Purchase,
};
use crate::domain::ids::PlanId;
use crate::domain::market::Bar;

use super::error::AppError;
use async_trait::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use leptos::prelude::*;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tower_sessions::Session;

/// The client's address as the server decided it (peer address, or a trusted proxy's
/// `X-Forwarded-For`). Inserted into every request by the server's middleware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Who is calling: their session, address and browser. Every port method takes one.
#[derive(Clone, Debug)]
pub struct Caller {
    pub session: Session,
    pub ip: IpAddr,
    /// The `User-Agent` header, at most 512 characters.
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| internal_error("session layer missing from the router"))?;
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map(|ip| ip.0)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        Ok(Caller {
            session,
            ip,
            user_agent,
        })
    }
}

fn internal_error(reason: &str) -> AppError {
    leptos::logging::error!("internal error: {reason}");
    AppError::internal(None)
}

/// Sign-up, sign-in, sign-out and "who am I".
#[async_trait]
pub trait AccountPort: Send + Sync + 'static {
    async fn sign_up(&self, caller: &Caller, input: Credentials) -> Result<UserView, AppError>;
    async fn sign_in(&self, caller: &Caller, input: Credentials) -> Result<UserView, AppError>;
    async fn sign_out(&self, caller: &Caller) -> Result<(), AppError>;
    async fn current_user(&self, caller: &Caller) -> Result<Option<UserView>, AppError>;
    async fn profile(&self, caller: &Caller) -> Result<Profile, AppError>;
    async fn set_timezone(&self, caller: &Caller, timezone: String) -> Result<Profile, AppError>;
    async fn change_password(
        &self,
        caller: &Caller,
        current_password: String,
        new_password: String,
    ) -> Result<Profile, AppError>;
    async fn sign_out_others(&self, caller: &Caller) -> Result<Profile, AppError>;
    /// The caller's signed-in browsers and devices, the current one marked.
    async fn sessions(&self, caller: &Caller) -> Result<Vec<SessionView>, AppError>;
    /// Ends one of the caller's sessions (by its handle); ending the current one signs out.
    async fn end_session(&self, caller: &Caller, handle: &str) -> Result<(), AppError>;
}

/// The signed-in user's subscription.
#[async_trait]
pub trait BillingPort: Send + Sync + 'static {
    /// The caller's tier, its limits and their usage this month.
    async fn billing(&self, caller: &Caller) -> Result<super::billing::BillingView, AppError>;
    /// Starts a Stripe Checkout for `tier`: the URL of its hosted page.
    async fn checkout(
        &self,
        caller: &Caller,
        tier: crate::domain::tier::Tier,
    ) -> Result<String, AppError>;
    /// Opens the Stripe Billing Portal: its URL.
    async fn portal(&self, caller: &Caller) -> Result<String, AppError>;
    /// The tier table (public).
    fn tier_table(&self) -> super::billing::TierTable;
}

/// The platform settings admins change at run time (each method checks the admin role).
#[async_trait]
pub trait SettingsPort: Send + Sync + 'static {
    async fn load(
        &self,
        caller: &Caller,
    ) -> Result<super::settings::PlatformSettingsView, AppError>;
    /// Checks every field (422 naming each wrong one, nothing saved), saves, audits.
    async fn save(
        &self,
        caller: &Caller,
        settings: &super::settings::PlatformSettingsView,
    ) -> Result<super::settings::PlatformSettingsView, AppError>;
    /// The e-mail settings panel as HTML (a plain form posting to `/admin/settings/mail`),
    /// with "Saved." for `notice` `saved`, or the refusal of the field it names.
    async fn mail_panel(&self, caller: &Caller, notice: &str) -> Result<String, AppError>;
}

/// Release notes: users read the published ones, admins write them.
#[async_trait]
pub trait NotesPort: Send + Sync + 'static {
    /// The published notes whose time has come, newest first; `seen` marks them read for
    /// the caller (their "What's new" badge goes out). Anyone signed in.
    async fn published(
        &self,
        caller: &Caller,
        seen: bool,
    ) -> Result<Vec<super::notes::ReleaseNote>, AppError>;
    /// Every note, drafts included, newest first (admins).
    async fn all(&self, caller: &Caller) -> Result<Vec<super::notes::AdminNote>, AppError>;
    /// Creates (`id` `None`) or changes a note (admins; audited).
    async fn save(
        &self,
        caller: &Caller,
        id: Option<&str>,
        draft: &super::notes::NoteDraft,
    ) -> Result<super::notes::AdminNote, AppError>;
    /// Deletes a note (admins; audited).
    async fn delete(&self, caller: &Caller, id: &str) -> Result<(), AppError>;
}

/// What the admin panel reads and changes. Every method checks the admin role itself.
#[async_trait]
pub trait AdminPort: Send + Sync + 'static {
    /// One page of users matching the query.
    async fn list_users(
        &self,
        caller: &Caller,
        query: &UserQuery,
    ) -> Result<AdminUserPage, AppError>;
    /// One user, with their billing, broker, plans, purchases, sessions and audit rows.
    async fn user(&self, caller: &Caller, user_id: &str) -> Result<AdminUserDetail, AppError>;
    /// Changes the user's role or whether they are disabled (an admin can neither demote
    /// nor disable themself, nor leave the platform without an enabled admin). Disabling
    /// ends every session at once and pauses the user's plans.
    async fn change_user(
        &self,
        caller: &Caller,
        user_id: &str,
        change: &UserChange,
    ) -> Result<AdminUserDetail, AppError>;
    /// Signs the user out everywhere.
    async fn end_sessions(
        &self,
        caller: &Caller,
        user_id: &str,
    ) -> Result<AdminUserDetail, AppError>;
    /// A user's signed-in browsers and devices.
    async fn user_sessions(
        &self,
        caller: &Caller,
        user_id: &str,
    ) -> Result<Vec<SessionView>, AppError>;
    /// Ends any user's session by its handle.
    async fn end_user_session(&self, caller: &Caller, handle: &str) -> Result<(), AppError>;
    /// The platform's health: scheduler, instances, brokers, database, errors.
    async fn health(&self, caller: &Caller) -> Result<HealthReport, AppError>;
    /// One page of the audit log, newest first.
    async fn audit(&self, caller: &Caller, query: &AuditQuery) -> Result<AuditPage, AppError>;
    /// Every audit row the query selects (its `after` and `limit` ignored), newest first,
    /// up to a cap: the CSV export.
    async fn audit_export(
        &self,
        caller: &Caller,
        query: &AuditQuery,
    ) -> Result<Vec<AuditLine>, AppError>;
}

/// How a plan was saved: created (it had no id), or an existing plan updated.
#[derive(Clone, Debug, PartialEq)]
pub enum Saved {
    Created(Plan),
    Updated(Plan),
}

impl Saved {
    /// The plan as stored.
    pub fn into_plan(self) -> Plan {
        match self {
            Saved::Created(plan) | Saved::Updated(plan) => plan,
        }
    }
}

/// The signed-in user's plans and what they bought. Plan ids arrive parsed: each edge
/// (server function, REST handler) turns the caller's text into a [`PlanId`] once.
#[async_trait]
pub trait PlanPort: Send + Sync + 'static {
    async fn list_plans(&self, caller: &Caller) -> Result<Vec<Plan>, AppError>;
    async fn plan(&self, caller: &Caller, plan_id: &PlanId) -> Result<Plan, AppError>;
    /// Creates (no id) or updates a plan; see the service for the rules.
    async fn save_plan(&self, caller: &Caller, plan: PlanWire) -> Result<Saved, AppError>;
    /// What saving `plan` would say before the broker is asked about its symbols (every
    /// field's rule and the caller's tier), saving nothing: the plan as it would be saved.
    async fn check_plan(&self, caller: &Caller, plan: PlanWire) -> Result<Plan, AppError>;
    async fn set_plan_status(
        &self,
        caller: &Caller,
        plan_id: &PlanId,
        status: PlanStatus,
    ) -> Result<Plan, AppError>;
    /// Stops a signal bot for good and sells what it holds at the next chance (the
    /// market now, or the next open): "Stop and sell". On a stopped bot, sells what it
    /// still holds (one sale waits or runs at a time; each sells only the bot's own
    /// shares, so none is sold twice). 409 for a plan that is not a bot, a stopped bot
    /// holding nothing, or one with an order whose end the broker never told.
    async fn stop_and_sell(&self, caller: &Caller, plan_id: &PlanId) -> Result<Plan, AppError>;
    async fn delete_plan(&self, caller: &Caller, plan_id: &PlanId) -> Result<(), AppError>;
    /// Queues one extra purchase of every leg now; a repeated idempotency key queues
    /// nothing new.
    async fn run_now(
        &self,
        caller: &Caller,
        plan_id: &PlanId,
        idempotency_key: Option<&str>,
    ) -> Result<Plan, AppError>;
    async fn limits(&self, caller: &Caller) -> Result<PlanLimits, AppError>;
    /// One page of purchases, newest first.
    async fn history(
        &self,
        caller: &Caller,
        filter: &HistoryFilter,
    ) -> Result<HistoryPage, AppError>;
    /// Every purchase the filter selects, newest first (the CSV export).
    async fn history_export(
        &self,
        caller: &Caller,
        filter: &HistoryFilter,
    ) -> Result<Vec<Purchase>, AppError>;
}

/// What the signed-in user's broker account holds and trades: balances, positions and
/// recent orders, historical bars, asset search.
#[async_trait]
pub trait PortfolioPort: Send + Sync + 'static {
    async fn account(&self, caller: &Caller) -> Result<AccountSummary, AppError>;
    async fn bars(&self, caller: &Caller, query: &BarsQuery) -> Result<Vec<Bar>, AppError>;
    /// How the caller's plans' purchases are doing.
    async fn performance(
        &self,
        caller: &Caller,
    ) -> Result<crate::api::performance::PerformanceView, AppError>;
    async fn search_assets(
        &self,
        caller: &Caller,
        query: &str,
    ) -> Result<Vec<AssetFacts>, AppError>;
    /// The dashboard's "Signal bots" section as HTML the server rendered (each bot's
    /// position, entry, stop, target, realized P&L, last signal with its reason); empty for
    /// a user without bots.
    async fn bot_panels(&self, caller: &Caller) -> Result<String, AppError>;
}

/// The user's broker connection (their Alpaca keys).
#[async_trait]
pub trait ConnectionPort: Send + Sync + 'static {
    async fn view(&self, caller: &Caller) -> Result<ConnectionView, AppError>;
    async fn connect(
        &self,
        caller: &Caller,
        request: ConnectRequest,
    ) -> Result<ConnectionView, AppError>;
    async fn disconnect(&self, caller: &Caller) -> Result<ConnectionView, AppError>;
}

/// The ports a server function or REST handler can reach, provided once as context.
#[derive(Clone)]
pub struct Ports {
    pub accounts: Arc<dyn AccountPort>,
    pub billing: Arc<dyn BillingPort>,
    pub admin: Arc<dyn AdminPort>,
    pub notes: Arc<dyn NotesPort>,
    pub settings: Arc<dyn SettingsPort>,
    pub plans: Arc<dyn PlanPort>,
    pub portfolio: Arc<dyn PortfolioPort>,
    pub connections: Arc<dyn ConnectionPort>,
}

impl Ports {
    /// A plan id as the caller sent it, parsed once at the edge. Like every port call, a
    /// caller without a session gets 401 before anything about the input: a malformed id
    /// is a 422 naming `plan_id` only for a signed-in caller (the session is looked up
    /// only then; a well-formed id goes on to the port, which checks the session itself).
    pub async fn plan_id(&self, caller: &Caller, input: &str) -> Result<PlanId, AppError> {
        match PlanId::parse(input) {
            Ok(id) => Ok(id),
            Err(message) => match self.accounts.current_user(caller).await? {
                Some(_) => Err(AppError::invalid_fields(std::collections::BTreeMap::from(
                    [("plan_id".to_string(), message)],
                ))),
                None => Err(AppError::unauthenticated()),
            },
        }
    }
}

/// The ports and the caller for the current server-function request.
///
/// Errors become the response status too, so a REST-style client of a server function
/// sees 401/403/422 rather than a blanket 500.
pub async fn request() -> Result<(Ports, Caller), AppError> {
    let ports = use_context::<Ports>().ok_or_else(|| internal_error("ports not provided"))?;
    let caller = leptos_axum::extract::<Caller>()
        .await
        .map_err(|e| internal_error(&format!("could not read the caller: {e}")))?;
    Ok((ports, caller))
}

/// Sets the HTTP status of a server function's response from its error, then returns it.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(err) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(err.code.http_status())
    {
        response.set_status(status);
    }
    result
}
