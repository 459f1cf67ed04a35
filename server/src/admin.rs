//! The admin panel's service: finding users, everything about one user, and the actions
//! that stop a compromised or abusive account at once. Every call checks the admin role
//! on the server, and every change writes an audit row naming the admin.

use crate::accounts::AccountService;
use crate::billing::BillingService;
use crate::connections::ConnectionService;
use crate::db::Db;
use crate::db::admin::{AccountChange, AccountChanged, UserOrder, UserSearch};
use crate::db::audit::{AuditAction, AuditEntry, AuditLogRow, AuditSearch};
use crate::db::users::UserRecord;
use crate::errors::internal;
use crate::events::EventBus;
use app::api::admin::{
    AdminAuditRow, AdminBilling, AdminBroker, AdminPlan, AdminPurchase, AdminSession, AdminUsage,
    AdminUserDetail, AdminUserPage, AdminUserView, AuditLine, AuditPage, AuditQuery, HealthReport,
    UserChange, UserQuery,
};
use app::api::auth::SessionView;
use app::api::dca::PlanStatus;
use app::api::ports::{AdminPort, Caller};
use app::api::{AppError, ErrorCode};
use app::domain::account::{Email, Role};
use app::domain::tier::Tier;
use app::domain::time::Clock;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why a disabled user's plans are paused (shown to them, and on their plans).
pub const ACCOUNT_DISABLED: &str = "account disabled";

/// How many rows of each list the page of one user shows.
const RECENT: i64 = 20;

/// The most rows one CSV export of the audit log holds.
const EXPORT_CAP: i64 = 50_000;

pub struct AdminService {
    db: Db,
    clock: Arc<dyn Clock>,
    accounts: Arc<AccountService>,
    billing: Arc<BillingService>,
    connections: Arc<ConnectionService>,
    events: EventBus,
    ops: Arc<crate::ops::OpsService>,
}

fn view(user: &UserRecord) -> AdminUserView {
    AdminUserView {
        id: user.id.clone(),
        email: user.email.clone(),
        role: user.role,
        tier: user.tier,
        disabled: user.disabled_at.is_some(),
        created_at: user.created_at.millis(),
        last_seen_at: user.last_seen_at.millis(),
    }
}

fn invalid(field: &str, message: &str) -> AppError {
    AppError::invalid_fields(BTreeMap::from([(field.to_owned(), message.to_owned())]))
}

fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "There is no such user.")
}

/// A query parameter as given, trimmed; `None` when absent or blank.
fn text(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

const NOT_A_CURSOR: &str = "Not a page cursor: pass a page's next as it came.";

/// A page size given as text: `default` when absent, 1 to `max`, else an error on `limit`
/// (naming the `rows` a page holds) and the default.
fn page_limit(
    value: &Option<String>,
    default: u32,
    max: u32,
    rows: &str,
    errors: &mut BTreeMap<String, String>,
) -> u32 {
    match text(value).map(|l| l.parse::<u32>()) {
        None => default,
        Some(Ok(limit)) if (1..=max).contains(&limit) => limit,
        Some(_) => {
            errors.insert("limit".into(), format!("Ask for 1 to {max} {rows} a page."));
            default
        }
    }
}

/// `query` as a search of the database, or a 422 naming every field that is wrong.
fn search(query: &UserQuery) -> Result<UserSearch, AppError> {
    let mut errors = BTreeMap::new();
    let email = text(&query.q);
    if email.as_ref().is_some_and(|q| q.chars().count() > 254) {
        errors.insert("q".into(), "Search for at most 254 characters.".into());
    }
    let role = text(&query.role).and_then(|r| {
        Role::parse(&r).or_else(|| {
            errors.insert("role".into(), "Choose subscriber or admin.".into());
            None
        })
    });
    let tier = text(&query.tier).and_then(|t| {
        Tier::parse(&t).or_else(|| {
            errors.insert("tier".into(), "Choose free, basic, pro or premium.".into());
            None
        })
    });
    let disabled = match text(&query.state).as_deref() {
        None => None,
        Some("active") => Some(false),
        Some("disabled") => Some(true),
        Some(_) => {
            errors.insert("state".into(), "Choose active or disabled.".into());
            None
        }
    };
    let order = match text(&query.sort).as_deref() {
        None | Some("signed_up") => UserOrder::SignedUp,
        Some("last_active") => UserOrder::LastActive,
        Some(_) => {
            errors.insert("sort".into(), "Sort by signed_up or last_active.".into());
            UserOrder::SignedUp
        }
    };
    let after = match text(&query.after) {
        None => None,
        Some(cursor) => parse_cursor(order, &cursor).or_else(|| {
            errors.insert("after".into(), NOT_A_CURSOR.into());
            None
        }),
    };
    let limit = page_limit(&query.limit, 50, 200, "users", &mut errors);
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(UserSearch {
        email,
        role,
        tier,
        disabled,
        order,
        after,
        limit,
    })
}

/// The letter a cursor names its order with.
fn order_letter(order: UserOrder) -> char {
    match order {
        UserOrder::SignedUp => 's',
        UserOrder::LastActive => 'a',
    }
}

/// A page cursor: `{order}{key}_{id}`, the order it pages through and the last row's key
/// and id.
fn cursor(order: UserOrder, user: &UserRecord) -> String {
    format!("{}{}_{}", order_letter(order), order.key(user), user.id)
}

/// A cursor of `order` read back; one of another order is no cursor.
fn parse_cursor(order: UserOrder, cursor: &str) -> Option<(i64, String)> {
    let cursor = cursor.strip_prefix(order_letter(order))?;
    let (key, id) = cursor.split_once('_')?;
    let valid_id = !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    Some((key.parse().ok()?, id.to_owned())).filter(|_| valid_id)
}

/// An instant the audit filter was given: RFC 3339, or a UTC day (`YYYY-MM-DD`): its
/// start, or with `day_end` the start of the next day (so a `to` day is inclusive).
pub(crate) fn parse_instant(value: &str, day_end: bool) -> Option<i64> {
    if let Ok(at) = value.parse::<jiff::Timestamp>() {
        return Some(at.as_millisecond());
    }
    // Only a bare day: jiff reads the date out of any longer text (dropping its time).
    if value.len() != 10 {
        return None;
    }
    let day = value.parse::<jiff::civil::Date>().ok()?;
    let day = if day_end { day.tomorrow().ok()? } else { day };
    // Days since the epoch, at midnight UTC.
    let since = day.duration_since(jiff::civil::date(1970, 1, 1));
    i64::try_from(since.as_millis()).ok()
}

fn line(row: AuditLogRow) -> AuditLine {
    let failure = AuditAction::parse(&row.action).is_some_and(AuditAction::is_failure);
    AuditLine {
        id: row.id,
        at: row.at,
        outcome: if failure { "failure" } else { "success" }.to_owned(),
        action: row.action,
        actor: row.actor_user_id,
        actor_email: row.actor_email,
        subject: row.subject,
        ip: row.ip,
        detail: row.detail,
    }
}

impl AdminService {
    /// `query` as a search of the audit log, or a 422 naming every field that is wrong.
    /// A `user` that is no account's e-mail address or id (a deleted user, an address a
    /// sign-in tried) is matched as it is.
    async fn audit_search(&self, query: &AuditQuery) -> Result<AuditSearch, AppError> {
        let mut errors = BTreeMap::new();
        let user = match text(&query.user) {
            None => None,
            Some(who) => {
                let found = match Email::parse(&who) {
                    Ok(email) if who.contains('@') => {
                        self.db.user_by_email(&email).await.map_err(internal)?
                    }
                    _ if who.len() <= 64 => self.db.user_by_id(&who).await.map_err(internal)?,
                    _ => None,
                };
                Some(match found {
                    Some(user) => (user.id, user.email),
                    None => (who.clone(), who.to_lowercase()),
                })
            }
        };
        let action = text(&query.action).and_then(|name| {
            AuditAction::parse(&name).or_else(|| {
                errors.insert("action".into(), format!("{name:?} is not an audit action."));
                None
            })
        });
        let failures = match text(&query.outcome).as_deref() {
            None => None,
            Some("failure") => Some(true),
            Some("success") => Some(false),
            Some(_) => {
                errors.insert("outcome".into(), "Choose success or failure.".into());
                None
            }
        };
        let mut instant = |field: &str, day_end: bool| {
            text(match field {
                "from" => &query.from,
                _ => &query.to,
            })
            .and_then(|value| {
                parse_instant(&value, day_end).or_else(|| {
                    errors.insert(
                        field.into(),
                        "Give a day (2026-12-01) or an instant (2026-12-01T09:30:00Z).".into(),
                    );
                    None
                })
            })
        };
        let from = instant("from", false);
        let to = instant("to", true);
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            errors.insert("to".into(), "The end comes before the start.".into());
        }
        let before_id = match text(&query.after) {
            None => None,
            Some(after) => after.parse::<i64>().ok().or_else(|| {
                errors.insert("after".into(), NOT_A_CURSOR.into());
                None
            }),
        };
        let limit = page_limit(&query.limit, 100, 500, "rows", &mut errors);
        if !errors.is_empty() {
            return Err(AppError::invalid_fields(errors));
        }
        Ok(AuditSearch {
            user,
            action,
            failures,
            from,
            to,
            before_id,
            limit: i64::from(limit),
        })
    }

    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        billing: Arc<BillingService>,
        connections: Arc<ConnectionService>,
        events: EventBus,
        ops: Arc<crate::ops::OpsService>,
    ) -> Self {
        Self {
            db,
            clock,
            accounts,
            billing,
            connections,
            events,
            ops,
        }
    }

    async fn target(&self, user_id: &str) -> Result<UserRecord, AppError> {
        if user_id.is_empty() || user_id.len() > 64 {
            return Err(not_found());
        }
        self.db
            .user_by_id(user_id)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)
    }

    async fn detail(
        &self,
        admin: &UserRecord,
        user: &UserRecord,
    ) -> Result<AdminUserDetail, AppError> {
        let plans = self
            .db
            .plans_of(&user.id)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|row| {
                let plan = row.into_plan().map_err(internal)?;
                Ok(AdminPlan {
                    id: plan.id.map(|id| id.as_str().to_owned()).unwrap_or_default(),
                    name: plan.name,
                    status: plan.status.as_str().to_owned(),
                    next_run_at: plan.next_run_at.map(|t| t.as_millisecond()),
                    paused_reason: plan.paused_reason,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        let purchases = self
            .db
            .purchase_history(&user.id, None, None, None, RECENT)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|row| AdminPurchase {
                symbol: row.symbol.to_string(),
                notional: row.notional.to_string(),
                status: row.status.as_str().to_owned(),
                reason: row.reason,
                slot_at: Some(row.slot_at),
            })
            .collect();
        let sessions = self
            .accounts
            .session_views(&user.id, None)
            .await?
            .into_iter()
            .map(|s| AdminSession {
                handle: s.handle,
                device: s.device,
                ip: s.ip,
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
            })
            .collect();
        let audit = self
            .db
            .audit_of_user(user, RECENT)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|row| AdminAuditRow {
                at: row.at,
                action: row.action,
                actor: row.actor_user_id,
                subject: row.subject,
                ip: row.ip,
                detail: row.detail,
            })
            .collect();
        Ok(AdminUserDetail {
            user: view(user),
            email_verified: user.email_verified_at.is_some(),
            timezone: user.timezone.clone(),
            billing: {
                let view = self.billing.billing_of(user).await?;
                AdminBilling {
                    tier: view.tier,
                    status: view.status,
                    usage: AdminUsage {
                        symbols: view.usage.symbols,
                        plans: view.usage.plans,
                        purchases_this_month: view.usage.purchases_this_month,
                        volume_this_month: view.usage.volume_this_month.to_string(),
                    },
                }
            },
            broker: {
                let view = self.connections.view_of(user).await?;
                AdminBroker {
                    kind: view.kind,
                    environment: view.environment,
                    key_last4: view.key_last4,
                }
            },
            plans,
            purchases,
            sessions,
            audit,
            is_you: admin.id == user.id,
        })
    }

    /// Pauses every active plan of a user who was just disabled, with the reason they
    /// will see. A plan changed meanwhile is read again; the scheduler also refuses to run
    /// a disabled user's plans, so one that slips through buys nothing either.
    async fn pause_plans(&self, admin: &UserRecord, user: &UserRecord) -> Result<(), AppError> {
        let reason = crate::dca::PauseReason {
            why: ACCOUNT_DISABLED,
            by: "admin",
            actor: &admin.id,
        };
        for _ in 0..3 {
            let active =
                (self.db.plans_in(&user.id, &[PlanStatus::Active]).await).map_err(internal)?;
            if active.is_empty() {
                return Ok(());
            }
            for plan in &active {
                crate::dca::pause_with_reason(
                    &self.db,
                    &self.events,
                    &user.id,
                    plan,
                    &reason,
                    self.clock.now().millis(),
                )
                .await
                .map_err(internal)?;
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl AdminPort for AdminService {
    async fn health(&self, caller: &Caller) -> Result<HealthReport, AppError> {
        self.accounts.require_admin(caller).await?;
        self.ops
            .report()
            .await
            .map_err(|err| internal(format!("{err:#}")))
    }

    async fn list_users(
        &self,
        caller: &Caller,
        query: &UserQuery,
    ) -> Result<AdminUserPage, AppError> {
        self.accounts.require_admin(caller).await?;
        let mut search = search(query)?;
        let limit = search.limit as usize;
        // One more than asked for tells whether another page follows.
        search.limit += 1;
        let mut users = self.db.search_users(&search).await.map_err(internal)?;
        let next = if users.len() > limit {
            users.truncate(limit);
            users.last().map(|last| cursor(search.order, last))
        } else {
            None
        };
        Ok(AdminUserPage {
            users: users.iter().map(view).collect(),
            next,
        })
    }

    async fn user(&self, caller: &Caller, user_id: &str) -> Result<AdminUserDetail, AppError> {
        let admin = self.accounts.require_admin(caller).await?;
        let user = self.target(user_id).await?;
        self.detail(&admin, &user).await
    }

    async fn change_user(
        &self,
        caller: &Caller,
        user_id: &str,
        change: &UserChange,
    ) -> Result<AdminUserDetail, AppError> {
        let admin = self.accounts.require_admin(caller).await?;
        let role = match change.role.as_deref() {
            None => None,
            Some(role) => Some(
                Role::parse(role).ok_or_else(|| invalid("role", "Choose subscriber or admin."))?,
            ),
        };
        let user = self.target(user_id).await?;
        if user.id == admin.id {
            if role == Some(Role::Subscriber) {
                return Err(invalid(
                    "role",
                    "You cannot remove your own admin role; another admin can.",
                ));
            }
            if change.disabled == Some(true) {
                return Err(invalid(
                    "disabled",
                    "You cannot disable your own account; another admin can.",
                ));
            }
        }
        let outcome = self
            .db
            .change_account(
                &user.id,
                &AccountChange {
                    role,
                    disabled: change.disabled,
                },
                &admin,
                Some(caller.ip.to_string()),
                self.clock.now(),
            )
            .await
            .map_err(internal)?;
        let user = match outcome {
            AccountChanged::Done {
                user,
                sessions_ended,
            } => {
                if sessions_ended {
                    // Their sessions are gone: close their live sockets too.
                    self.events.sessions_changed(&user.id).await;
                }
                if user.disabled_at.is_some() {
                    // Every time, not only the first: a retry after a failure here finishes
                    // the job (pausing is idempotent).
                    self.pause_plans(&admin, &user).await?;
                }
                user
            }
            AccountChanged::Missing => return Err(not_found()),
            AccountChanged::NotAdmin => return Err(AppError::forbidden()),
            AccountChanged::LastAdmin => {
                return Err(AppError::new(
                    ErrorCode::Conflict,
                    "This is the last enabled admin: make another user an admin first.",
                ));
            }
        };
        self.detail(&admin, &user).await
    }

    async fn end_sessions(
        &self,
        caller: &Caller,
        user_id: &str,
    ) -> Result<AdminUserDetail, AppError> {
        let admin = self.accounts.require_admin(caller).await?;
        let user = self.target(user_id).await?;
        let ended = self
            .db
            .delete_user_sessions(&user.id)
            .await
            .map_err(internal)?;
        self.events.sessions_changed(&user.id).await;
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: Some(&admin.id),
                action: AuditAction::SessionsRevoked,
                subject: Some(&user.email),
                ip: Some(caller.ip.to_string()),
                detail: serde_json::json!({"by": admin.email, "sessions": ended}),
            })
            .await
            .map_err(internal)?;
        self.detail(&admin, &user).await
    }

    async fn user_sessions(
        &self,
        caller: &Caller,
        user_id: &str,
    ) -> Result<Vec<SessionView>, AppError> {
        self.accounts.require_admin(caller).await?;
        let user = self.target(user_id).await?;
        let current = caller
            .session
            .id()
            .map(|id| crate::db::sessions::stored_id(&id.to_string()));
        self.accounts
            .session_views(&user.id, current.as_deref())
            .await
    }

    async fn end_user_session(&self, caller: &Caller, handle: &str) -> Result<(), AppError> {
        let admin = self.accounts.require_admin(caller).await?;
        let Some(owner) = self
            .db
            .delete_session_by_handle(handle, None)
            .await
            .map_err(internal)?
        else {
            return Err(AppError::new(
                ErrorCode::NotFound,
                "There is no such session: it may have ended already.",
            ));
        };
        self.events.sessions_changed(&owner).await;
        let email = (self.db.user_by_id(&owner).await)
            .map_err(internal)?
            .map(|user| user.email);
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: Some(&admin.id),
                action: AuditAction::SessionEnded,
                subject: Some(email.as_deref().unwrap_or(&owner)),
                ip: Some(caller.ip.to_string()),
                detail: serde_json::json!({"by": admin.email}),
            })
            .await
            .map_err(internal)
    }

    async fn audit(&self, caller: &Caller, query: &AuditQuery) -> Result<AuditPage, AppError> {
        self.accounts.require_admin(caller).await?;
        let mut search = self.audit_search(query).await?;
        let limit = search.limit as usize;
        // One more than asked for tells whether another page follows.
        search.limit += 1;
        let mut rows = self.db.search_audit(&search).await.map_err(internal)?;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|row| row.id.to_string())
        } else {
            None
        };
        Ok(AuditPage {
            rows: rows.into_iter().map(line).collect(),
            next,
        })
    }

    async fn audit_export(
        &self,
        caller: &Caller,
        query: &AuditQuery,
    ) -> Result<Vec<AuditLine>, AppError> {
        self.accounts.require_admin(caller).await?;
        let mut search = self
            .audit_search(&AuditQuery {
                after: None,
                limit: None,
                ..query.clone()
            })
            .await?;
        search.limit = EXPORT_CAP;
        let rows = self.db.search_audit(&search).await.map_err(internal)?;
        Ok(rows.into_iter().map(line).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_junk_is_refused() {
        assert_eq!(
            parse_cursor(UserOrder::SignedUp, "s1795824000000_3f1c-ab"),
            Some((1_795_824_000_000, "3f1c-ab".to_owned()))
        );
        for junk in [
            "", "s_", "s12_", "sx_abc", "s12_a'b", "s12", "a12_ab", "12_ab",
        ] {
            assert_eq!(parse_cursor(UserOrder::SignedUp, junk), None, "{junk}");
        }
    }

    #[test]
    fn audit_instants_are_days_or_rfc3339() {
        let day = 1_795_824_000_000; // 2026-11-28T00:00:00Z
        assert_eq!(parse_instant("2026-11-28", false), Some(day));
        assert_eq!(parse_instant("2026-11-28", true), Some(day + 86_400_000));
        assert_eq!(
            parse_instant("2026-11-28T01:00:00Z", true),
            Some(day + 3_600_000)
        );
        assert_eq!(
            parse_instant("2026-11-28T02:00:00+01:00", false),
            Some(day + 3_600_000)
        );
        for junk in [
            "yesterday",
            "2026-13-01",
            "28/11/2026",
            "2026-11-28T09:30:00",
            "2026-11-28 09:30",
        ] {
            assert_eq!(parse_instant(junk, false), None, "{junk}");
        }
    }

    #[test]
    fn a_query_names_every_wrong_field() {
        let query = UserQuery {
            role: Some("root".into()),
            tier: Some("gold".into()),
            state: Some("gone".into()),
            sort: Some("email".into()),
            after: Some("nope".into()),
            limit: Some("0".into()),
            ..UserQuery::default()
        };
        let err = search(&query).unwrap_err();
        let fields: Vec<_> = err.fields.keys().map(String::as_str).collect();
        assert_eq!(fields, ["after", "limit", "role", "sort", "state", "tier"]);
        let fine = search(&UserQuery {
            q: Some("  Ann ".into()),
            state: Some("disabled".into()),
            sort: Some("last_active".into()),
            ..UserQuery::default()
        })
        .unwrap();
        assert_eq!(fine.email.as_deref(), Some("Ann"));
        assert_eq!(fine.disabled, Some(true));
        assert_eq!(fine.order, UserOrder::LastActive);
        assert_eq!(fine.limit, 50);
    }
}
