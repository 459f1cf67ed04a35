//! DCA plans: saving (validated against the broker's asset list), listing and changing
//! their status, for the REST API and the UI's server functions alike. Every operation
//! is scoped to the caller: another user's plan is "not found".

pub mod account_view;
mod repository;
pub mod scheduler;
pub mod slots;

use crate::accounts::AccountService;
use crate::broker::Broker;
use crate::broker::alpaca::AlpacaBroker;
use crate::broker::directory::BrokerDirectory;
use crate::db::Db;
use crate::db::audit::{AuditAction, AuditEntry};
use crate::errors::internal;
use app::api::dca::{
    AccountSummary, AssetFacts, BarLength, BarsQuery, HistoryFilter, HistoryPage, OrderSummary,
    Plan, PlanLimits, PlanStatus, PositionSummary, Purchase,
};
use app::api::live::LiveEvent;
use app::api::ports::Caller;
use app::api::ports::DcaPort;
use app::api::{AppError, ErrorCode};
use app::domain::ids::PlanId;
use app::domain::market::Bar;
use app::domain::time::Clock;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use repository::{PlanRow, PlanWrite};

/// What the browser is told when the broker does not answer (the cause goes to the log).
fn broker_unavailable(err: crate::broker::BrokerError) -> AppError {
    tracing::warn!(error = %err, "the broker did not answer");
    AppError::new(
        ErrorCode::BrokerUnavailable,
        "The broker is not answering. Please try again shortly.",
    )
}

fn asset_facts(asset: crate::broker::AssetInfo) -> AssetFacts {
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

/// Balances, positions and the 20 latest orders of one broker account (three requests,
/// sent together).
async fn read_account(broker: &AlpacaBroker) -> Result<AccountSummary, AppError> {
    let (account, positions, orders) = tokio::try_join!(
        broker.account(),
        broker.positions(),
        broker.orders(crate::broker::OrderQuery::All),
    )
    .map_err(broker_unavailable)?;
    Ok(AccountSummary {
        equity: account.equity,
        cash: account.cash,
        buying_power: account.buying_power,
        portfolio_value: account.equity,
        realized_pl: None,
        unrealized_pl: positions.iter().filter_map(|p| p.unrealized_pl).sum(),
        positions: positions
            .into_iter()
            .map(|p| PositionSummary {
                symbol: p.symbol.to_string(),
                qty: p.qty,
                avg_entry_price: p.avg_entry_price,
                market_value: p.market_value,
                unrealized_pl: p.unrealized_pl,
                cost_basis: p.cost_basis,
            })
            .collect(),
        recent_orders: orders
            .into_iter()
            .take(20)
            .map(|o| {
                let (notional, qty) = match o.size {
                    app::domain::order::Size::Notional(n) => (Some(n), None),
                    app::domain::order::Size::Qty(q) => (None, Some(q)),
                };
                OrderSummary {
                    id: o.id,
                    client_order_id: o.client_order_id,
                    symbol: o.symbol.to_string(),
                    side: o.side,
                    notional,
                    qty,
                    status: o.status.as_str().to_owned(),
                    filled_qty: o.filled_qty,
                    filled_avg_price: o.filled_avg_price,
                    created_at: o.created_at,
                }
            })
            .collect(),
    })
}

impl From<slots::PurchaseRow> for Purchase {
    fn from(p: slots::PurchaseRow) -> Self {
        Self {
            id: p.id,
            plan_id: p.plan_id.to_string(),
            symbol: p.symbol.to_string(),
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

pub struct DcaService {
    db: Db,
    events: crate::events::EventBus,
    clock: Arc<dyn Clock>,
    accounts: Arc<AccountService>,
    limits: PlanLimits,
    brokers: Arc<BrokerDirectory>,
    /// "Buy now" presses allowed per user per hour.
    run_now_per_hour: u32,
    /// Each user's broker account as last read (page views are served from here).
    views: Arc<account_view::AccountViews>,
}

impl DcaService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        events: crate::events::EventBus,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        limits: PlanLimits,
        brokers: Arc<BrokerDirectory>,
    ) -> Self {
        Self {
            db,
            events,
            accounts,
            limits,
            brokers,
            run_now_per_hour: 10,
            views: Arc::new(account_view::AccountViews::new(clock.clone())),
            clock,
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

    /// The user's broker. Until users connect their own keys, that is their paper account
    /// at the demo broker, whose key is derived from the user id.
    async fn publish_plan(&self, user_id: &str, plan: &Plan) {
        self.events
            .publish(user_id, &LiveEvent::Plan { plan: plan.clone() })
            .await;
    }

    pub fn events(&self) -> &crate::events::EventBus {
        &self.events
    }

    /// Where users' brokers are found (the scheduler resolves each slot's account here).
    pub fn brokers(&self) -> &Arc<BrokerDirectory> {
        &self.brokers
    }

    /// The user's broker (their own keys, or their demo paper account).
    pub(crate) async fn broker_for(&self, user_id: &str) -> Result<Arc<AlpacaBroker>, AppError> {
        self.brokers.broker_for(user_id).await
    }

    async fn asset_facts(&self, user_id: &str) -> Result<Vec<AssetFacts>, AppError> {
        let assets = self
            .broker_for(user_id)
            .await?
            .assets()
            .await
            .map_err(broker_unavailable)?;
        Ok(assets.into_iter().map(asset_facts).collect())
    }

    fn next_run(&self, plan: &Plan, status: PlanStatus) -> Option<jiff::Timestamp> {
        if status != PlanStatus::Active {
            return None;
        }
        plan.schedule
            .next_slots(self.now(), 1)
            .ok()?
            .first()
            .copied()
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

    pub async fn list(&self, caller: &Caller) -> Result<Vec<Plan>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let rows = self.db.plans_of(&user.id).await.map_err(internal)?;
        rows.into_iter()
            .map(|row| row.into_plan().map_err(internal))
            .collect()
    }

    /// Creates (no id) or updates (id of one of the caller's plans) a plan. Nothing is
    /// saved unless every field is valid. An update never changes the plan's status, and
    /// is refused (409) if the plan changed since it was read (its `updated_at`, as the
    /// caller sent it or as this call read it). Returns the plan and whether it was created.
    pub async fn save(&self, caller: &Caller, mut plan: Plan) -> Result<(Plan, bool), AppError> {
        let user = self.accounts.require_user(caller).await?;
        let existing = match &plan.id {
            Some(id) => Some(self.owned(&user.id, id).await?),
            None => None,
        };
        plan.validate(&self.limits, None)
            .map_err(AppError::invalid_fields)?;
        let assets = self.asset_facts(&user.id).await?;
        plan.validate(&self.limits, Some(&assets))
            .map_err(AppError::invalid_fields)?;

        let now = self.now();
        plan.name = plan.name.trim().to_owned();
        let Some(row) = existing else {
            plan.id = Some(PlanId::parse(&uuid::Uuid::new_v4().to_string()).map_err(internal)?);
            plan.status = PlanStatus::Active;
            plan.created_at = Some(now);
            plan.updated_at = Some(now);
            plan.next_run_at = self.next_run(&plan, plan.status);
            let row = PlanRow::from_plan(&user.id, &plan).map_err(internal)?;
            self.db.insert_plan(&row).await.map_err(internal)?;
            self.audit(&user.id, AuditAction::PlanCreated, &row.id, caller)
                .await?;
            self.publish_plan(&user.id, &plan).await;
            return Ok((plan, true));
        };
        let stored_next = row.next_run_at;
        let read_at = row.updated_at;
        let previous = row.into_plan().map_err(internal)?;
        if previous.status == PlanStatus::Stopped {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "A stopped plan cannot be changed.",
            ));
        }
        let expected = match plan.updated_at {
            Some(seen) if seen.as_millisecond() != read_at => return Err(changed_elsewhere()),
            _ => read_at,
        };
        plan.status = previous.status;
        plan.created_at = previous.created_at;
        plan.updated_at =
            Some(jiff::Timestamp::from_millisecond(later(now, read_at)).map_err(internal)?);
        let schedule_changed = plan.schedule != previous.schedule;
        // A new schedule counts from now, after the slot the old one had due (if any).
        let due_slot = stored_next.filter(|at| {
            schedule_changed && previous.status == PlanStatus::Active && *at <= now.as_millisecond()
        });
        plan.next_run_at = if schedule_changed {
            self.next_run(&plan, plan.status)
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
        Ok((plan, false))
    }

    async fn owned(&self, user_id: &str, plan_id: &PlanId) -> Result<PlanRow, AppError> {
        self.db
            .plan(plan_id.as_str(), user_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::not_found("That plan"))
    }

    /// Queues one extra purchase of every leg now, through the same path as scheduled
    /// slots. A repeated request with the same idempotency key queues nothing new.
    pub async fn run_now(
        &self,
        caller: &Caller,
        plan_id: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Plan, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let plan_id = PlanId::parse(plan_id)
            .map_err(|m| AppError::invalid_fields(BTreeMap::from([("plan_id".to_string(), m)])))?;
        let plan = self
            .owned(&user.id, &plan_id)
            .await?
            .into_plan()
            .map_err(internal)?;
        if plan.status == PlanStatus::Stopped {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "A stopped plan cannot buy.",
            ));
        }
        if let Some(key) = idempotency_key
            && (key.is_empty() || key.len() > 128)
        {
            return Err(AppError::new(
                ErrorCode::BadRequest,
                "The Idempotency-Key header must be 1–128 characters.",
            ));
        }
        self.broker_for(&user.id).await?;
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

    /// The caller's purchases, newest first (`before`: the previous page's `next_before`),
    /// optionally only one plan's or one symbol's.
    pub async fn history(
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
    pub async fn history_export(
        &self,
        caller: &Caller,
        filter: &HistoryFilter,
    ) -> Result<Vec<Purchase>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let rows = self.purchase_rows(&user.id, filter, None, i64::MAX).await?;
        Ok(rows.into_iter().map(Purchase::from).collect())
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

    /// The caller's broker account: balances, positions and recent orders, from their
    /// account view (see [`account_view`]): the broker is asked only when the view is
    /// missing, old or outdated by a fill.
    pub async fn account(&self, caller: &Caller) -> Result<AccountSummary, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let (broker, account) = self.brokers.account_for(&user.id).await?;
        let view = self
            .views
            .read(&user.id, &account, move || async move {
                read_account(&broker).await
            })
            .await?;
        Ok(AccountSummary::clone(&view))
    }

    /// The engine changed the user's account (an order filled): their view is outdated;
    /// if they are watching it, it is read again now and the new balances are announced.
    pub async fn account_changed(&self, user_id: &str) {
        if !self.views.changed(user_id) {
            return;
        }
        let Ok((broker, account)) = self.brokers.account_for(user_id).await else {
            return;
        };
        match self
            .views
            .refresh(user_id, &account, read_account(&broker))
            .await
        {
            Ok(view) => {
                let event = LiveEvent::Account(app::api::live::Balances {
                    equity: view.equity,
                    cash: view.cash,
                    buying_power: view.buying_power,
                    portfolio_value: view.portfolio_value,
                });
                self.events.publish(user_id, &event).await;
            }
            Err(err) => tracing::debug!(error = %err.message, "could not refresh an account view"),
        }
    }

    /// The users' account views.
    pub fn account_views(&self) -> &account_view::AccountViews {
        &self.views
    }

    /// Marks a user's account view outdated whenever another instance's purchase event for
    /// them goes by (the events of every instance reach every instance), so no instance
    /// serves balances from before a fill made elsewhere. This instance's own purchases
    /// mark the view where they happen, in order with its refreshes. Runs until the bus
    /// closes.
    pub fn watch_purchases(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let mut events = self.events.subscribe();
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(me) = me.upgrade() else { break };
                match event {
                    Ok(event)
                        if event.live_type() == Some("purchase") && !me.events.is_own(&event) =>
                    {
                        me.views.changed(&event.user_id);
                    }
                    Ok(_) => {}
                    // Events were missed: any view may be outdated.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        me.views.changed_all()
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// Tradable symbols matching `query`, for the plan editor.
    pub async fn search_assets(
        &self,
        caller: &Caller,
        query: &str,
    ) -> Result<Vec<AssetFacts>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let broker = self.broker_for(&user.id).await?;
        let found = broker
            .search_assets(query, 20)
            .await
            .map_err(broker_unavailable)?;
        Ok(found.into_iter().map(asset_facts).collect())
    }

    /// One of the caller's plans.
    pub async fn get(&self, caller: &Caller, plan_id: &str) -> Result<Plan, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let plan_id = PlanId::parse(plan_id)
            .map_err(|m| AppError::invalid_fields(BTreeMap::from([("plan_id".to_string(), m)])))?;
        self.owned(&user.id, &plan_id)
            .await?
            .into_plan()
            .map_err(internal)
    }

    /// Deletes one of the caller's plans: it never buys again and leaves the lists; its
    /// purchases stay in the history. Orders already on their way are followed to the end.
    pub async fn delete(&self, caller: &Caller, plan_id: &str) -> Result<(), AppError> {
        let user = self.accounts.require_user(caller).await?;
        let plan_id = PlanId::parse(plan_id)
            .map_err(|m| AppError::invalid_fields(BTreeMap::from([("plan_id".to_string(), m)])))?;
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

    /// The limits plans are validated against.
    pub fn limits(&self) -> PlanLimits {
        self.limits
    }

    /// Historical bars from the caller's broker, oldest first.
    pub async fn bars(&self, caller: &Caller, query: &BarsQuery) -> Result<Vec<Bar>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let checked = query.check().map_err(AppError::invalid_fields)?;
        let ny = app::domain::calendar::new_york();
        let at_midnight = |date: jiff::civil::Date| {
            ny.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .map_err(internal)
        };
        let from = at_midnight(checked.from)?;
        let to = at_midnight(checked.to.tomorrow().map_err(internal)?)?
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .map_err(internal)?;
        let timeframe = match checked.length {
            BarLength::Day => crate::broker::TimeFrame::Day,
            BarLength::Hour => crate::broker::TimeFrame::Hour,
        };
        self.broker_for(&user.id)
            .await?
            .bars(&checked.symbol, timeframe, from, to)
            .await
            .map_err(broker_unavailable)
    }

    /// Starts, pauses or stops one of the caller's plans (compare-and-set, like `save`).
    /// A paused plan keeps its next slot: resumed before the grace window closes on it,
    /// it still buys (later, the slot is recorded as missed); then it goes on from now.
    pub async fn set_status(
        &self,
        caller: &Caller,
        plan_id: &str,
        status: PlanStatus,
    ) -> Result<Plan, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let plan_id = PlanId::parse(plan_id)
            .map_err(|m| AppError::invalid_fields(BTreeMap::from([("plan_id".to_string(), m)])))?;
        let row = self.owned(&user.id, &plan_id).await?;
        let (stored_next, read_at) = (row.next_run_at, row.updated_at);
        let plan = row.into_plan().map_err(internal)?;
        if plan.status == PlanStatus::Stopped && status != PlanStatus::Stopped {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "A stopped plan cannot be started again; create a new one.",
            ));
        }
        let now = self.now();
        let (next_run_at, due_slot) = match status {
            PlanStatus::Stopped => (None, None),
            PlanStatus::Paused => (stored_next, None),
            PlanStatus::Active => {
                let from_now = self.next_run(&plan, status).map(|t| t.as_millisecond());
                match stored_next {
                    Some(at) if at <= now.as_millisecond() => (from_now, Some(at)),
                    Some(at) => (Some(at), None),
                    None => (from_now, None),
                }
            }
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
            .owned(&user.id, &plan_id)
            .await?
            .into_plan()
            .map_err(internal)?;
        self.publish_plan(&user.id, &plan).await;
        Ok(plan)
    }
}

/// A plan's new `updated_at`: now, but always after the one it replaces (so that a
/// compare-and-set on it sees every change, even two within one millisecond).
fn later(now: jiff::Timestamp, previous: i64) -> i64 {
    now.as_millisecond().max(previous + 1)
}

fn changed_elsewhere() -> AppError {
    AppError::new(
        ErrorCode::Conflict,
        "This plan was changed elsewhere while you were editing it (another tab, or it was \
         paused or stopped). Reload it to see where it stands, then make your change again.",
    )
}

#[async_trait]
impl DcaPort for DcaService {
    async fn list_plans(&self, caller: &Caller) -> Result<Vec<Plan>, AppError> {
        self.list(caller).await
    }

    async fn save_plan(&self, caller: &Caller, plan: Plan) -> Result<Plan, AppError> {
        self.save(caller, plan).await.map(|(plan, _)| plan)
    }

    async fn set_plan_status(
        &self,
        caller: &Caller,
        plan_id: String,
        status: PlanStatus,
    ) -> Result<Plan, AppError> {
        self.set_status(caller, &plan_id, status).await
    }

    async fn run_now(
        &self,
        caller: &Caller,
        plan_id: String,
        idempotency_key: Option<String>,
    ) -> Result<Plan, AppError> {
        DcaService::run_now(self, caller, &plan_id, idempotency_key.as_deref()).await
    }

    async fn history(
        &self,
        caller: &Caller,
        filter: HistoryFilter,
    ) -> Result<HistoryPage, AppError> {
        DcaService::history(self, caller, &filter).await
    }

    async fn plan(&self, caller: &Caller, plan_id: String) -> Result<Plan, AppError> {
        self.get(caller, &plan_id).await
    }

    async fn delete_plan(&self, caller: &Caller, plan_id: String) -> Result<(), AppError> {
        self.delete(caller, &plan_id).await
    }

    async fn limits(&self, caller: &Caller) -> Result<PlanLimits, AppError> {
        self.accounts.require_user(caller).await?;
        Ok(self.limits)
    }

    async fn bars(&self, caller: &Caller, query: BarsQuery) -> Result<Vec<Bar>, AppError> {
        DcaService::bars(self, caller, &query).await
    }

    async fn account(&self, caller: &Caller) -> Result<AccountSummary, AppError> {
        DcaService::account(self, caller).await
    }

    async fn search_assets(
        &self,
        caller: &Caller,
        query: String,
    ) -> Result<Vec<AssetFacts>, AppError> {
        DcaService::search_assets(self, caller, &query).await
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

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
