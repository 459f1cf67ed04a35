//! DCA plans: saving (validated against the broker's asset list), listing and changing
//! their status, and the purchase history: the [`PlanPort`], which the REST API and the
//! UI's server functions both call. Every operation is scoped to the caller: another
//! user's plan is "not found".
//!
//! - [`portfolio`]: the broker account as pages show it (the [`app::api::ports::PortfolioPort`]).
//! - [`scheduler`]: the purchase engine, which executes the plans' slots.
//! - [`slots`] and `repository`: the SQL of slots and purchases, and of plans.

pub mod account_view;
pub mod bot_state;
pub mod portfolio;
mod repository;
pub mod scheduler;
pub mod slots;

use crate::accounts::AccountService;
use crate::broker::Broker;
use crate::broker::directory::BrokerDirectory;
use crate::db::Db;
use crate::db::audit::{AuditAction, AuditEntry};
use crate::db::users::UserRecord;
use crate::errors::internal;
use app::api::dca::{
    AssetFacts, HistoryFilter, HistoryPage, Plan, PlanLimits, PlanStatus, PlanWire, Purchase,
};
use app::api::live::LiveEvent;
use app::api::ports::{Caller, PlanPort, Saved};
use app::api::{AppError, ErrorCode};
use app::domain::ids::PlanId;
use app::domain::time::Clock;
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use repository::{PlanRow, PlanWrite};

/// Pauses `plan` (as read) because its user's tier no longer allows it, unless it changed
/// since it was read: writes the audit row naming why and tells the user's browsers.
pub async fn pause_for_tier(
    db: &Db,
    events: &crate::events::EventBus,
    user_id: &str,
    plan: &Plan,
    why: &str,
    now: i64,
) -> anyhow::Result<()> {
    let reason = PauseReason {
        why,
        by: "tier",
        actor: user_id,
    };
    pause_with_reason(db, events, user_id, plan, &reason, now)
        .await
        .map(|_| ())
}

/// Why a plan is paused by someone other than its user.
pub struct PauseReason<'a> {
    /// What the user sees on the plan.
    pub why: &'a str,
    /// What paused it: `tier`, `admin`.
    pub by: &'a str,
    /// The user the audit row names as acting (the plan's user, or the admin).
    pub actor: &'a str,
}

/// Pauses `plan` with a reason its user sees (unless it changed since it was read: then
/// `false`), audited, and tells the user's browsers.
pub async fn pause_with_reason(
    db: &Db,
    events: &crate::events::EventBus,
    user_id: &str,
    plan: &Plan,
    reason: &PauseReason<'_>,
    now: i64,
) -> anyhow::Result<bool> {
    let why = reason.why;
    let Some(plan_id) = plan.id.as_ref().map(PlanId::as_str) else {
        return Ok(false);
    };
    let read_at = plan.updated_at.map_or(0, |t| t.as_millisecond());
    let paused = db
        .write_plan(&PlanWrite {
            id: plan_id,
            user_id,
            expected_updated_at: read_at,
            updated_at: now.max(read_at + 1),
            settings: None,
            status: Some(PlanStatus::Paused),
            next_run_at: None,
            due_slot: None,
            paused_reason: Some(why),
            expected_next_run_at: None,
        })
        .await?;
    if paused {
        db.append_audit(AuditEntry {
            at: app::domain::time::Timestamp::from_millis(now),
            actor_user_id: Some(reason.actor),
            action: AuditAction::PlanPaused,
            subject: Some(plan_id),
            ip: None,
            detail: serde_json::json!({"by": reason.by, "reason": why}),
        })
        .await?;
        let row = db.plan(plan_id, user_id).await?;
        if let Some(plan) = row.and_then(|row| row.into_plan().ok()) {
            events.publish(user_id, &LiveEvent::Plan { plan }).await;
        }
    }
    Ok(paused)
}

/// What the browser is told when the broker does not answer (the cause goes to the log).
pub(crate) fn broker_unavailable(err: crate::broker::BrokerError) -> AppError {
    tracing::warn!(error = %err, "the broker did not answer");
    AppError::new(
        ErrorCode::BrokerUnavailable,
        "The broker is not answering. Please try again shortly.",
    )
}

pub(crate) fn asset_facts(asset: crate::broker::AssetInfo) -> AssetFacts {
    AssetFacts {
        symbol: asset.symbol,
        name: asset.name,
        tradable: asset.tradable,
        fractionable: asset.fractionable,
    }
}

/// A history page cursor, `<created_at>_<id>`, as [`DcaService::history`] writes them.
fn parse_cursor(cursor: &str) -> Option<(i64, &str)> {
    let (at, id) = cursor.split_once('_')?;
    let at = at.parse().ok()?;
    (!id.is_empty()).then_some((at, id))
}

fn instant(ms: i64) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_millisecond(ms).ok()
}

fn text(value: rust_decimal::Decimal) -> String {
    value.normalize().to_string()
}

impl From<slots::PurchaseRow> for Purchase {
    fn from(p: slots::PurchaseRow) -> Self {
        Self {
            id: p.id,
            plan_id: p.plan_id.to_string(),
            symbol: p.symbol.to_string(),
            side: p.side,
            notional: text(p.notional),
            qty: p.qty.map(text),
            price: p.price.map(text),
            status: p.status,
            skip_reason: p.skip_reason,
            reason: p.reason,
            client_order_id: p.client_order_id.to_string(),
            slot_at: instant(p.slot_at),
            submitted_at: p.submitted_at.and_then(instant),
            filled_at: p.filled_at.and_then(instant),
        }
    }
}

/// A plan that passed [`DcaService::draft`]: who sent it, the stored row it edits (if any),
/// and the plan as validated on New York's `today`.
struct Draft {
    user: UserRecord,
    existing: Option<PlanRow>,
    plan: Plan,
    today: jiff::civil::Date,
}

pub struct DcaService {
    db: Db,
    events: crate::events::EventBus,
    clock: Arc<dyn Clock>,
    accounts: Arc<AccountService>,
    /// The limits in force, as admins set them.
    limits: crate::settings::LiveSettings,
    brokers: Arc<BrokerDirectory>,
    /// "Buy now" presses allowed per user per hour.
    run_now_per_hour: u32,
    /// With billing on, the table each user's plans are held to (by their tier); `None`:
    /// billing is off and every user has every feature.
    tiers: Option<crate::settings::LiveSettings>,
}

impl DcaService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        events: crate::events::EventBus,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        limits: crate::settings::LiveSettings,
        brokers: Arc<BrokerDirectory>,
    ) -> Self {
        Self {
            db,
            events,
            accounts,
            limits,
            brokers,
            run_now_per_hour: 10,
            clock,
            tiers: None,
        }
    }

    /// Holds every user's plans to their tier in `tiers` (billing on).
    pub fn with_tiers(mut self, tiers: Option<crate::settings::LiveSettings>) -> Self {
        self.tiers = tiers;
        self
    }

    /// A plan as the caller sent it, checked by everything but the broker's catalogue
    /// (which takes seconds to load): ownership of the plan being edited, every field's
    /// rule, and the caller's tier.
    async fn draft(&self, caller: &Caller, mut input: PlanWire) -> Result<Draft, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let existing = match &input.id {
            Some(id) => Some(self.owned(&user.id, id).await?),
            None => None,
        };
        // A bot edited without its settings (the browser's editor never has them) keeps
        // the ones it has.
        if input.mode == app::domain::plan::PlanMode::Discretionary
            && input.bot.is_none()
            && let Some(stored) = &existing
            && let Ok(app::domain::plan::Plan {
                strategy: app::api::dca::PlanStrategy::Discretionary(bot),
                ..
            }) = stored.clone().into_plan()
        {
            input.bot = Some(bot);
        }
        let today = app::domain::calendar::new_york()
            .to_datetime(self.now())
            .date();
        let plan = input
            .validate(&self.limits.plan_limits(), None, today)
            .map_err(AppError::invalid_fields)?;
        let stored = existing
            .clone()
            .map(PlanRow::into_plan)
            .transpose()
            .map_err(internal)?;
        if let Some(stored) = &stored {
            bot_identity(stored, &plan).map_err(AppError::invalid_fields)?;
        }
        self.check_tier(&user, &plan, stored.as_ref()).await?;
        Ok(Draft {
            user,
            existing,
            plan,
            today,
        })
    }

    /// Whatever a plan being saved asks for beyond the user's tier (nothing with billing
    /// off), counting the symbols of their other active and paused plans; `stored` is its
    /// saved version when it is an edit.
    async fn check_tier(
        &self,
        user: &UserRecord,
        plan: &Plan,
        stored: Option<&Plan>,
    ) -> Result<(), AppError> {
        let Some(tiers) = self
            .tiers
            .as_ref()
            .map(crate::settings::LiveSettings::tiers)
        else {
            return Ok(());
        };
        let in_use = [PlanStatus::Active, PlanStatus::Paused];
        let elsewhere: BTreeSet<_> = (self.db.plans_in(&user.id, &in_use).await)
            .map_err(internal)?
            .into_iter()
            .filter(|other| other.id != plan.id)
            .flat_map(|other| other.legs.into_iter().map(|leg| leg.symbol))
            .collect();
        tiers
            .check_plan(user.tier, plan, &elsewhere, stored)
            .map_err(AppError::invalid_fields)
    }

    /// Whether the user's tier lets `plan` run (resume, or buy now) beside their active
    /// plans, fitted oldest first as the scheduler fits them (nothing with billing off):
    /// 422 naming the limit if not.
    async fn check_tier_to_run(&self, user: &UserRecord, plan: &Plan) -> Result<(), AppError> {
        let Some(tiers) = self
            .tiers
            .as_ref()
            .map(crate::settings::LiveSettings::tiers)
        else {
            return Ok(());
        };
        let active = (self.db.plans_in(&user.id, &[PlanStatus::Active]).await).map_err(internal)?;
        match tiers.why_not_run(user.tier, active, plan) {
            None => Ok(()),
            Some(why) => {
                let mut error = AppError::invalid_fields(BTreeMap::from([(
                    "plan_id".to_string(),
                    why.clone(),
                )]));
                error.message = why;
                Err(error)
            }
        }
    }

    /// Changes how many "buy now" presses a user may make an hour (default 10).
    pub fn with_run_now_per_hour(mut self, per_hour: u32) -> Self {
        self.run_now_per_hour = per_hour;
        self
    }

    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.clock.now().millis())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    async fn publish_plan(&self, user_id: &str, plan: &Plan) {
        self.events
            .publish(user_id, &LiveEvent::Plan { plan: plan.clone() })
            .await;
    }

    /// The assets the user's broker trades (their own keys, or their demo paper account).
    async fn asset_facts(&self, user_id: &str) -> Result<Vec<AssetFacts>, AppError> {
        let assets = self
            .brokers
            .broker_for(user_id)
            .await?
            .assets()
            .await
            .map_err(broker_unavailable)?;
        Ok(assets.into_iter().map(asset_facts).collect())
    }

    /// The plan's next run from now, never on the day of `last_slot` (see [`runs_from`]).
    fn next_run(
        &self,
        plan: &Plan,
        status: PlanStatus,
        last_slot: Option<i64>,
    ) -> Option<jiff::Timestamp> {
        if status != PlanStatus::Active {
            return None;
        }
        let after = runs_from(plan, self.now(), last_slot);
        plan.next_runs(after, 1).ok()?.first().copied()
    }

    async fn audit(
        &self,
        user_id: &str,
        action: AuditAction,
        plan_id: &str,
        caller: &Caller,
    ) -> Result<(), AppError> {
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: Some(user_id),
                action,
                subject: Some(plan_id),
                ip: Some(caller.ip.to_string()),
                detail: serde_json::json!({}),
            })
            .await
            .map_err(internal)
    }

    async fn owned(&self, user_id: &str, plan_id: &PlanId) -> Result<PlanRow, AppError> {
        self.db
            .plan(plan_id.as_str(), user_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::not_found("That plan"))
    }

    async fn purchase_rows(
        &self,
        user_id: &str,
        filter: &HistoryFilter,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<slots::PurchaseRow>, AppError> {
        let symbol = filter
            .symbol
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_ascii_uppercase);
        self.db
            .purchase_history(
                user_id,
                filter.plan_id.as_deref().filter(|p| !p.is_empty()),
                symbol.as_deref(),
                before,
                limit,
            )
            .await
            .map_err(internal)
    }
}

/// A plan's new `updated_at`: now, but always after the one it replaces (so that a
/// compare-and-set on it sees every change, even two within one millisecond).
fn later(now: jiff::Timestamp, previous: i64) -> i64 {
    now.as_millisecond().max(previous + 1)
}

/// What an edit may not change about a bot: a plan's purchases are a bot's position, so
/// a DCA plan cannot become a bot (its purchases would be the bot's to sell), a bot cannot
/// become a DCA plan (its shares would be left without an owner), and a bot keeps its
/// symbol (its fills are of that symbol).
fn bot_identity(
    stored: &Plan,
    edited: &Plan,
) -> Result<(), std::collections::BTreeMap<String, String>> {
    let field = |key: &str, message: &str| {
        Err(std::collections::BTreeMap::from([(
            key.to_owned(),
            message.to_owned(),
        )]))
    };
    match (stored.is_bot(), edited.is_bot()) {
        (false, true) => field(
            "mode",
            "A DCA plan cannot become a bot; make the bot from a backtest instead.",
        ),
        (true, false) => field(
            "mode",
            "A bot stays a bot; stop it (and sell, or keep its shares) and make a DCA plan instead.",
        ),
        (true, true)
            if stored.legs.first().map(|l| &l.symbol) != edited.legs.first().map(|l| &l.symbol) =>
        {
            field(
                "legs[0].symbol",
                "A bot keeps its symbol; stop it and make a new bot for another.",
            )
        }
        _ => Ok(()),
    }
}

/// The idempotency key of a bot's first closing-sale slot ("Stop and sell"); a later one
/// is `stop-and-sell-N`, N the plan's earlier closing slots.
pub const STOP_AND_SELL: &str = "stop-and-sell";

/// A plan rule refused the change (`domain::plan`'s status rules).
fn conflict(rule: &'static str) -> AppError {
    AppError::new(ErrorCode::Conflict, rule)
}

fn changed_elsewhere() -> AppError {
    AppError::new(
        ErrorCode::Conflict,
        "This plan was changed elsewhere while you were editing it (another tab, or it was \
         paused or stopped). Reload it to see where it stands, then make your change again.",
    )
}

#[async_trait]
impl PlanPort for DcaService {
    async fn list_plans(&self, caller: &Caller) -> Result<Vec<Plan>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let rows = self.db.plans_of(&user.id).await.map_err(internal)?;
        rows.into_iter()
            .map(|row| row.into_plan().map_err(internal))
            .collect()
    }

    /// One of the caller's plans.
    async fn plan(&self, caller: &Caller, plan_id: &PlanId) -> Result<Plan, AppError> {
        let user = self.accounts.require_user(caller).await?;
        self.owned(&user.id, plan_id)
            .await?
            .into_plan()
            .map_err(internal)
    }

    /// Creates (no id) or updates (id of one of the caller's plans) a plan. Nothing is
    /// saved unless every field is valid. An update never changes the plan's status, and
    /// is refused (409) if the plan changed since it was read (its `updated_at`, as the
    /// caller sent it or as this call read it).
    async fn save_plan(&self, caller: &Caller, input: PlanWire) -> Result<Saved, AppError> {
        let Draft {
            user,
            existing,
            mut plan,
            today,
        } = self.draft(caller, input).await?;
        let assets = self.asset_facts(&user.id).await?;
        plan.validate(&self.limits.plan_limits(), Some(&assets), today)
            .map_err(AppError::invalid_fields)?;

        let now = self.now();
        plan.name = plan.name.trim().to_owned();
        let Some(row) = existing else {
            plan.id = Some(PlanId::parse(&uuid::Uuid::new_v4().to_string()).map_err(internal)?);
            plan.status = PlanStatus::Active;
            plan.created_at = Some(now);
            plan.updated_at = Some(now);
            plan.next_run_at = self.next_run(&plan, plan.status, None);
            let row = PlanRow::from_plan(&user.id, &plan).map_err(internal)?;
            self.db.insert_plan(&row).await.map_err(internal)?;
            self.audit(&user.id, AuditAction::PlanCreated, &row.id, caller)
                .await?;
            self.publish_plan(&user.id, &plan).await;
            return Ok(Saved::Created(plan));
        };
        let stored_next = row.next_run_at;
        let read_at = row.updated_at;
        let last_slot = self
            .db
            .last_scheduled_slot(&row.id)
            .await
            .map_err(internal)?;
        let previous = row.into_plan().map_err(internal)?;
        previous.status.check_edit().map_err(conflict)?;
        let expected = match plan.updated_at {
            Some(seen) if seen.as_millisecond() != read_at => return Err(changed_elsewhere()),
            _ => read_at,
        };
        plan.status = previous.status;
        plan.created_at = previous.created_at;
        plan.updated_at =
            Some(jiff::Timestamp::from_millisecond(later(now, read_at)).map_err(internal)?);
        let schedule_changed = plan.schedule != previous.schedule;
        // A new schedule counts from now, after the slot the old one had due (if any), and
        // never on the day of a slot that ran (`runs_from`).
        let due_slot = stored_next.filter(|at| {
            schedule_changed && previous.status == PlanStatus::Active && *at <= now.as_millisecond()
        });
        plan.next_run_at = if schedule_changed {
            self.next_run(&plan, plan.status, last_slot.max(due_slot))
        } else {
            previous.next_run_at
        };
        let settings = PlanRow::from_plan(&user.id, &plan).map_err(internal)?;
        let written = self
            .db
            .write_plan(&PlanWrite {
                id: &settings.id,
                user_id: &user.id,
                expected_updated_at: expected,
                updated_at: settings.updated_at,
                settings: Some(&settings),
                status: None,
                next_run_at: schedule_changed.then_some(settings.next_run_at),
                due_slot,
                paused_reason: None,
                expected_next_run_at: schedule_changed.then_some(stored_next),
            })
            .await
            .map_err(internal)?;
        if !written {
            return Err(changed_elsewhere());
        }
        self.audit(&user.id, AuditAction::PlanChanged, &settings.id, caller)
            .await?;
        let plan = self
            .owned(&user.id, plan.id.as_ref().ok_or_else(|| internal("no id"))?)
            .await?
            .into_plan()
            .map_err(internal)?;
        self.publish_plan(&user.id, &plan).await;
        Ok(Saved::Updated(plan))
    }

    /// What [`PlanPort::save_plan`] would say of `input` before it asks the broker about
    /// the symbols: every field's rule and the caller's tier. Saves nothing.
    async fn check_plan(&self, caller: &Caller, input: PlanWire) -> Result<Plan, AppError> {
        Ok(self.draft(caller, input).await?.plan)
    }

    /// Starts, pauses or stops one of the caller's plans (compare-and-set, like `save`).
    /// A paused plan keeps its next slot: resumed before the grace window closes on it,
    /// it still buys (later, the slot is recorded as missed); then it goes on from now,
    /// never again on the day of a slot that ran (`runs_from`).
    async fn set_plan_status(
        &self,
        caller: &Caller,
        plan_id: &PlanId,
        status: PlanStatus,
    ) -> Result<Plan, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let row = self.owned(&user.id, plan_id).await?;
        let (stored_next, read_at) = (row.next_run_at, row.updated_at);
        let last_slot = self
            .db
            .last_scheduled_slot(&row.id)
            .await
            .map_err(internal)?;
        let plan = row.into_plan().map_err(internal)?;
        plan.status.check_transition(status).map_err(conflict)?;
        if status == PlanStatus::Active && plan.status != PlanStatus::Active {
            // A plan paused when the user's tier no longer allowed it resumes only once
            // the tier does again.
            self.check_tier_to_run(&user, &plan).await?;
        }
        let now = self.now();
        let (next_run_at, due_slot) = match status {
            PlanStatus::Stopped => (None, None),
            PlanStatus::Paused => (stored_next, None),
            PlanStatus::Active => match stored_next {
                Some(at) if at <= now.as_millisecond() => {
                    let after_it = self.next_run(&plan, status, last_slot.max(Some(at)));
                    (after_it.map(|t| t.as_millisecond()), Some(at))
                }
                Some(at) => (Some(at), None),
                None => {
                    let from_now = self.next_run(&plan, status, last_slot);
                    (from_now.map(|t| t.as_millisecond()), None)
                }
            },
        };
        let written = self
            .db
            .write_plan(&PlanWrite {
                id: plan_id.as_str(),
                user_id: &user.id,
                expected_updated_at: read_at,
                updated_at: later(now, read_at),
                settings: None,
                status: Some(status),
                // Pausing leaves the next slot in the row as it is (the scheduler may be
                // moving it on this very moment).
                next_run_at: (status != PlanStatus::Paused).then_some(next_run_at),
                due_slot,
                paused_reason: None,
                // A start computed its next run from the stored one (a stop needs no check).
                expected_next_run_at: (status == PlanStatus::Active).then_some(stored_next),
            })
            .await
            .map_err(internal)?;
        if !written {
            return Err(changed_elsewhere());
        }
        let action = match status {
            PlanStatus::Active => AuditAction::PlanStarted,
            PlanStatus::Paused => AuditAction::PlanPaused,
            PlanStatus::Stopped => AuditAction::PlanStopped,
        };
        self.audit(&user.id, action, plan_id.as_str(), caller)
            .await?;
        let plan = self
            .owned(&user.id, plan_id)
            .await?
            .into_plan()
            .map_err(internal)?;
        self.publish_plan(&user.id, &plan).await;
        Ok(plan)
    }

    async fn stop_and_sell(&self, caller: &Caller, plan_id: &PlanId) -> Result<Plan, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let plan = self
            .owned(&user.id, plan_id)
            .await?
            .into_plan()
            .map_err(internal)?;
        if !plan.is_bot() {
            return Err(conflict(
                "Only a signal bot sells when it stops; a DCA plan's shares stay yours.",
            ));
        }
        // An order whose end the broker never told may have sold the shares already (a
        // running bot stays running: "Stop and keep" stops it).
        if self
            .db
            .unresolved_orders(plan_id.as_str())
            .await
            .map_err(internal)?
            > 0
        {
            return Err(conflict(
                "The broker never said what became of one of the bot's orders: check the account in Alpaca's app, and sell there if the shares are still held.",
            ));
        }
        if plan.status == PlanStatus::Stopped {
            // Stopped already ("Stop and keep", or a sale that did not go through): there
            // must be something to sell.
            let leg = plan
                .legs
                .first()
                .ok_or_else(|| internal("a bot without a symbol"))?;
            let (fills, open) = self
                .db
                .bot_fills(plan_id.as_str(), "")
                .await
                .map_err(internal)?;
            let (ledger, _) = app::domain::ledger::PositionLedger::replay(&leg.symbol, &fills)
                .map_err(internal)?;
            if ledger.qty.is_zero() && open == 0 {
                return Err(conflict("The bot holds no shares to sell."));
            }
        }
        let stopped = if plan.status == PlanStatus::Stopped {
            plan
        } else {
            self.set_plan_status(caller, plan_id, PlanStatus::Stopped)
                .await?
        };
        // The sale is a slot of its own, run by the scheduler with the same exactly-once
        // steps as every order; one waits or runs at a time (a second press while it does
        // asks for the same sale). Each later press, once the last sale is over, is a new
        // slot (its own key and client order id): a sale the broker refused, or shares kept
        // at the stop, can be sold from here. The sale sells what the bot's own fills say
        // it holds, so a sale that went through leaves nothing for the next.
        let earlier = self
            .db
            .manual_slot_count(plan_id.as_str())
            .await
            .map_err(internal)?;
        let key = match earlier {
            0 => STOP_AND_SELL.to_owned(),
            n => format!("{STOP_AND_SELL}-{n}"),
        };
        // `Err`: a sale of the bot already waits or runs.
        let _ = self
            .db
            .insert_manual_slot(
                plan_id.as_str(),
                &user.id,
                Some(&key),
                self.now().as_millisecond(),
            )
            .await
            .map_err(internal)?;
        Ok(stopped)
    }

    /// Deletes one of the caller's plans: it never buys again and leaves the lists; its
    /// purchases stay in the history. Orders already on their way are followed to the end.
    async fn delete_plan(&self, caller: &Caller, plan_id: &PlanId) -> Result<(), AppError> {
        let user = self.accounts.require_user(caller).await?;
        let deleted = self
            .db
            .delete_plan(plan_id.as_str(), &user.id, self.now().as_millisecond())
            .await
            .map_err(internal)?;
        if !deleted {
            return Err(AppError::not_found("That plan"));
        }
        self.audit(&user.id, AuditAction::PlanDeleted, plan_id.as_str(), caller)
            .await?;
        self.events
            .publish(
                &user.id,
                &LiveEvent::PlanDeleted {
                    plan_id: plan_id.to_string(),
                },
            )
            .await;
        Ok(())
    }

    /// Queues one extra purchase of every leg now, through the same path as scheduled
    /// slots. A repeated request with the same idempotency key queues nothing new.
    async fn run_now(
        &self,
        caller: &Caller,
        plan_id: &PlanId,
        idempotency_key: Option<&str>,
    ) -> Result<Plan, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let plan = self
            .owned(&user.id, plan_id)
            .await?
            .into_plan()
            .map_err(internal)?;
        plan.status.check_buy_now().map_err(conflict)?;
        if plan.is_bot() {
            return Err(conflict(
                "A bot trades on its own signals after each close; it has no buy now.",
            ));
        }
        self.check_tier_to_run(&user, &plan).await?;
        if let Some(key) = idempotency_key
            && (key.is_empty() || key.len() > 128)
        {
            return Err(AppError::new(
                ErrorCode::BadRequest,
                "The Idempotency-Key header must be 1–128 characters.",
            ));
        }
        self.brokers.broker_for(&user.id).await?;
        // A retried request is answered quietly, even at the limit: it buys nothing new.
        if let Some(key) = idempotency_key
            && self
                .db
                .has_idempotency_key(plan_id.as_str(), key)
                .await
                .map_err(internal)?
        {
            return Ok(plan);
        }
        // The press is counted before its slot is written, atomically (parallel presses
        // on several plans cannot all slip under the limit), and given back if it queues
        // nothing.
        let counted = self
            .accounts
            .reserve_hourly(
                &format!("run_now:{}", user.id),
                self.run_now_per_hour,
                &format!(
                    "At most {} \"buy now\" purchases an hour; please wait a while.",
                    self.run_now_per_hour
                ),
            )
            .await?;
        let queued = self
            .db
            .insert_manual_slot(
                plan_id.as_str(),
                &user.id,
                idempotency_key,
                self.now().as_millisecond(),
            )
            .await;
        match queued {
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) => self.accounts.release_hourly(&counted).await?,
            Ok(Err(slots::ManualRefused::Pending(slot_id))) => {
                self.accounts.release_hourly(&counted).await?;
                return Err(AppError::new(
                    ErrorCode::Conflict,
                    format!(
                        "A \"buy now\" for this plan is already under way (run {slot_id}); \
                         wait for it to finish before starting another."
                    ),
                ));
            }
            Err(err) => {
                self.accounts.release_hourly(&counted).await?;
                return Err(internal(err));
            }
        }
        Ok(plan)
    }

    /// The limits plans are validated against.
    async fn limits(&self, caller: &Caller) -> Result<PlanLimits, AppError> {
        self.accounts.require_user(caller).await?;
        Ok(self.limits.plan_limits())
    }

    /// The caller's purchases, newest first (`before`: the previous page's `next_before`),
    /// optionally only one plan's or one symbol's.
    async fn history(
        &self,
        caller: &Caller,
        filter: &HistoryFilter,
    ) -> Result<HistoryPage, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let limit = filter.limit.unwrap_or(50).clamp(1, 500);
        let before = match filter.before.as_deref().filter(|b| !b.is_empty()) {
            Some(cursor) => Some(parse_cursor(cursor).ok_or_else(|| {
                AppError::invalid_fields(BTreeMap::from([(
                    "before".to_string(),
                    "Not a page cursor: pass a page's next_before as it came.".to_string(),
                )]))
            })?),
            None => None,
        };
        // One more than asked for tells whether another page follows.
        let mut rows = self
            .purchase_rows(&user.id, filter, before, limit + 1)
            .await?;
        let next_before = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| format!("{}_{}", r.created_at, r.id))
        } else {
            None
        };
        Ok(HistoryPage {
            purchases: rows.into_iter().map(Purchase::from).collect(),
            next_before,
        })
    }

    /// Every purchase the filter selects, newest first, for the CSV export: one query, no
    /// page limit, so nothing is left out.
    async fn history_export(
        &self,
        caller: &Caller,
        filter: &HistoryFilter,
    ) -> Result<Vec<Purchase>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let rows = self.purchase_rows(&user.id, filter, None, i64::MAX).await?;
        Ok(rows.into_iter().map(Purchase::from).collect())
    }
}

/// The instant a plan's next run is counted from after its schedule changed or it was
/// resumed: now, but never the local day (in the plan's time zone) of its last scheduled
/// slot. Moving today's 10:00 purchase to 14:00 after it ran does not buy a second time
/// today: the new time starts tomorrow.
fn runs_from(plan: &Plan, now: jiff::Timestamp, last_slot: Option<i64>) -> jiff::Timestamp {
    let day_after = last_slot.and_then(|at| {
        let zone = app::domain::zones::get(&plan.schedule.timezone)?;
        let at = jiff::Timestamp::from_millisecond(at).ok()?;
        let tomorrow = zone.to_datetime(at).date().tomorrow().ok()?;
        let midnight = zone
            .to_timestamp(tomorrow.to_datetime(jiff::civil::Time::midnight()))
            .ok()?;
        // Slots count strictly after this instant: one before midnight lets a slot at 00:00 in.
        midnight
            .checked_sub(jiff::SignedDuration::from_millis(1))
            .ok()
    });
    day_after.map_or(now, |day_after| day_after.max(now))
}

#[cfg(test)]
mod tests {
    use super::{Plan, parse_cursor, runs_from};

    fn daily_at(time: &str, zone: &str) -> Plan {
        serde_json::from_value(serde_json::json!({"name": "p", "mode": "pure",
            "legs": [{"symbol": "SPY", "amount": "50"}],
            "schedule": {"frequency": "daily", "interval": 1, "time": time, "timezone": zone}}))
        .unwrap()
    }

    fn first_run(plan: &Plan, now: &str, last_slot: Option<&str>) -> String {
        let now: jiff::Timestamp = now.parse().unwrap();
        let last = last_slot.map(|t| t.parse::<jiff::Timestamp>().unwrap().as_millisecond());
        plan.next_runs(runs_from(plan, now, last), 1).unwrap()[0].to_string()
    }

    #[test]
    fn a_changed_time_never_runs_a_plan_twice_on_one_day() {
        // Monday 2026-11-30: the 10:00 New York slot ran (15:00Z); at 11:00 the time moves
        // to 14:00. The new time starts on Tuesday.
        let plan = daily_at("14:00", "America/New_York");
        let ran = Some("2026-11-30T15:00:00Z");
        assert_eq!(
            first_run(&plan, "2026-11-30T16:00:00Z", ran),
            "2026-12-01T19:00:00Z"
        );
        // Without a slot today (none yet, or only yesterday's), later today it is.
        assert_eq!(
            first_run(&plan, "2026-11-30T16:00:00Z", None),
            "2026-11-30T19:00:00Z"
        );
        assert_eq!(
            first_run(&plan, "2026-11-30T16:00:00Z", Some("2026-11-29T15:00:00Z")),
            "2026-11-30T19:00:00Z"
        );
        // The day is the plan's own: the slot at 00:00 Tokyo on Dec 1 (15:00Z on Nov 30),
        // changed at 01:00 there, next runs at the following midnight in Tokyo.
        let tokyo = daily_at("00:00", "Asia/Tokyo");
        assert_eq!(
            first_run(&tokyo, "2026-11-30T16:00:00Z", Some("2026-11-30T15:00:00Z")),
            "2026-12-01T15:00:00Z"
        );
        // A slot at midnight right after the day of the last one is let in.
        assert_eq!(
            first_run(&tokyo, "2026-11-30T14:00:00Z", Some("2026-11-29T15:00:00Z")),
            "2026-11-30T15:00:00Z"
        );
    }

    #[test]
    fn cursors_read_back_and_junk_is_refused() {
        assert_eq!(
            parse_cursor("1764514800000_3f2a-9c"),
            Some((1_764_514_800_000, "3f2a-9c"))
        );
        for junk in ["", "_", "123", "123_", "abc_def", "1.5_x"] {
            assert_eq!(parse_cursor(junk), None, "{junk:?}");
        }
    }
}
