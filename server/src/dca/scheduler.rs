//! The scheduler worker pool: turns due plans into slots, claims slots with a lease,
//! decides with the shared strategy code, and places each leg's order exactly once.
//!
//! Exactly once, step by step: a slot row is unique per (plan, instant); a worker claims
//! it with a lease; each leg's intent is written with its deterministic client order id
//! *before* the order is sent; the outcomes and the slot's new state are written in one
//! transaction after. If a worker dies anywhere in between, its lease expires and another
//! worker re-runs the slot: it reuses the intents already written (never deciding twice)
//! and re-sends them with the same client order ids, which the broker answers with the
//! existing order (see `AlpacaBroker::place_order`) instead of buying again.

use super::DcaService;
use super::slots::{Outcome, PurchaseRow, SlotRow};
use crate::broker::{
    Broker, BrokerError, OrderKind, OrderRequest, OrderSnapshot, OrderStatus, TimeFrame,
    TimeInForce,
};
use crate::db::Db;
use crate::db::audit::{AuditAction, AuditEntry};
use anyhow::Context as _;
use app::api::dca::{PlanMode, PlanStatus};
use app::domain::ids::{ClientOrderId, PlanId};
use app::domain::market::Symbol;
use app::domain::order::{AccountView, Side, Size};
use app::domain::strategy::dca::PureDca;
use app::domain::strategy::smart_dca::{SmartDca, WhenNotMet};
use app::domain::strategy::{Action, Event, Strategy};
use app::domain::time::Clock;
use rust_decimal::Decimal;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

/// Where a test can make a worker "crash" (return early, leaving its lease behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailPoint {
    /// After the intents are written, before any order is sent.
    AfterIntents,
    /// After the orders are sent, before their outcomes are written.
    AfterSend,
}

#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    pub workers: usize,
    /// Slots in flight at once per instance.
    pub concurrency: usize,
    pub poll: Duration,
    pub lease: Duration,
    /// A scheduled slot this late is recorded as missed instead of executed.
    pub grace: Duration,
    /// Attempts before a slot whose broker keeps failing is given up.
    pub max_attempts: i64,
    pub fail_point: Option<FailPoint>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            concurrency: 16,
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(120),
            grace: Duration::from_secs(4 * 3600),
            max_attempts: 8,
            fail_point: None,
        }
    }
}

pub struct Scheduler {
    db: Db,
    clock: Arc<dyn Clock>,
    dca: Arc<DcaService>,
    config: SchedulerConfig,
    owner: String,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn text(value: Decimal) -> String {
    value.normalize().to_string()
}

impl Scheduler {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        dca: Arc<DcaService>,
        config: SchedulerConfig,
    ) -> Arc<Self> {
        let owner = format!(
            "worker-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        Arc::new(Self {
            db,
            clock,
            dca,
            config,
            owner,
        })
    }

    fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    /// Starts the workers; they stop when `shutdown` turns true, after the slots in hand
    /// have finished. Each worker claims slots and runs each in its own task, up to
    /// `concurrency` at once per instance, so one user's slow or failing broker never
    /// holds up another user's purchases.
    pub fn spawn(
        self: &Arc<Self>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let permits = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        (0..self.config.workers)
            .map(|_| {
                let me = self.clone();
                let permits = permits.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let mut in_flight = tokio::task::JoinSet::new();
                    loop {
                        if *shutdown.borrow() {
                            break;
                        }
                        let permit = tokio::select! {
                            permit = permits.clone().acquire_owned() => match permit {
                                Ok(permit) => permit,
                                Err(_) => break,
                            },
                            _ = shutdown.changed() => break,
                        };
                        while in_flight.try_join_next().is_some() {}
                        let claimed = match me.claim_next().await {
                            Ok(claimed) => claimed,
                            Err(err) => {
                                tracing::warn!(error = %format!("{err:#}"), "a scheduler pass failed");
                                None
                            }
                        };
                        match claimed {
                            Some((slot, now)) => {
                                let runner = me.clone();
                                in_flight.spawn(async move {
                                    let _ = runner.run_slot(&slot, now).await;
                                    drop(permit);
                                });
                            }
                            None => {
                                drop(permit);
                                tokio::select! {
                                    _ = tokio::time::sleep(me.config.poll) => {}
                                    _ = shutdown.changed() => {}
                                }
                            }
                        }
                    }
                    while in_flight.join_next().await.is_some() {}
                })
            })
            .collect()
    }

    /// Schedules due plans and claims one slot; with none due, reconciles open orders.
    async fn claim_next(&self) -> anyhow::Result<Option<(SlotRow, i64)>> {
        let now = self.now();
        self.schedule_due_plans(now).await?;
        if let Some(slot) = self
            .db
            .claim_slot(&self.owner, now, ms(self.config.lease))
            .await?
        {
            return Ok(Some((slot, now)));
        }
        self.reconcile_open_orders(now).await?;
        Ok(None)
    }

    /// Runs one claimed slot, bounded so it ends before its lease does, and tells the
    /// user's browsers how it went.
    async fn run_slot(&self, slot: &SlotRow, now: i64) -> anyhow::Result<()> {
        self.bot_status(slot, "running", None).await;
        let budget = self
            .config
            .lease
            .saturating_sub(Duration::from_secs(5))
            .max(Duration::from_secs(1));
        let result = match tokio::time::timeout(budget, self.execute(slot, now)).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("the slot took longer than {budget:?}")),
        };
        match &result {
            Ok(()) => self.announce(slot).await,
            Err(err) => {
                tracing::warn!(slot = %slot.id, error = %format!("{err:#}"), "a slot failed; its lease will expire and it will be retried");
                let reason = "a temporary problem interrupted this purchase; it will be retried";
                self.bot_status(slot, "error", Some(reason)).await;
            }
        }
        result
    }

    /// One pass in the caller's task: claim a slot and run it, or reconcile. Returns
    /// whether a slot was run. (The workers use the same steps, concurrently.)
    pub async fn tick(&self) -> anyhow::Result<bool> {
        match self.claim_next().await? {
            Some((slot, now)) => self.run_slot(&slot, now).await.map(|()| true),
            None => Ok(false),
        }
    }

    async fn schedule_due_plans(&self, now: i64) -> anyhow::Result<()> {
        for plan in self.db.due_plans(now, 100).await? {
            let Some(slot_at) = plan.next_run_at else {
                continue;
            };
            let settings = plan.clone().into_plan()?;
            let slot_time = jiff::Timestamp::from_millisecond(slot_at)?;
            let next = settings
                .schedule
                .next_slots(slot_time, 1)
                .ok()
                .and_then(|s| s.first().map(|t| t.as_millisecond()));
            if self.db.schedule_slot(&plan, slot_at, next, now).await? {
                tracing::info!(plan = %plan.id, slot_at, "slot scheduled");
            }
        }
        Ok(())
    }

    async fn audit(
        &self,
        slot: &SlotRow,
        action: AuditAction,
        detail: serde_json::Value,
    ) -> anyhow::Result<()> {
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: Some(&slot.user_id),
                action,
                subject: Some(&slot.plan_id),
                ip: None,
                detail,
            })
            .await?;
        Ok(())
    }

    /// Writes the slot's intents (once), sends them, and records the outcomes.
    async fn execute(&self, slot: &SlotRow, now: i64) -> anyhow::Result<()> {
        let mut purchases = self.db.purchases_of_slot(&slot.id).await?;
        let row = match self.db.plan(&slot.plan_id, &slot.user_id).await? {
            Some(row) => row,
            // Deleted before anything was sent: buy nothing.
            None if purchases.is_empty() => {
                self.db
                    .finish_slot(&slot.id, "missed", Some("the plan was deleted"), &[], now)
                    .await?;
                return Ok(());
            }
            // Deleted while its orders were on their way: follow them to the end.
            None => match self
                .db
                .plan_even_deleted(&slot.plan_id, &slot.user_id)
                .await?
            {
                Some(row) => row,
                None => anyhow::bail!("slot {} has purchases but no plan", slot.id),
            },
        };
        let plan = row.into_plan()?;
        if purchases.is_empty() {
            let late = now - slot.slot_at > ms(self.config.grace);
            let not_active = plan.status != PlanStatus::Active && slot.kind == "scheduled";
            let reason = if not_active {
                Some(format!(
                    "the plan was {} before this purchase",
                    plan.status.as_str()
                ))
            } else if late && slot.kind == "scheduled" {
                Some(
                    "the server was not running at the scheduled time and the grace window passed"
                        .to_owned(),
                )
            } else {
                None
            };
            let broker = self.dca.broker_for(&slot.user_id).await;
            let actions = match (&reason, &broker) {
                (Some(_), _) | (None, Err(_)) => Vec::new(),
                (None, Ok(broker)) => self.decide(&plan, slot, broker).await?,
            };
            let plan_id = PlanId::parse(&slot.plan_id).map_err(anyhow::Error::msg)?;
            let slot_time = jiff::Timestamp::from_millisecond(slot.slot_at)?;
            if let Some(reason) =
                reason.or_else(|| broker.as_ref().err().map(|e| e.message.clone()))
            {
                let status = if reason.contains("grace") {
                    "missed"
                } else {
                    "skipped"
                };
                for leg in &plan.legs {
                    let cid = ClientOrderId::for_slot(&plan_id, slot_time, &leg.symbol);
                    self.db
                        .record_intent(
                            slot,
                            leg.symbol.as_str(),
                            &text(leg.amount),
                            cid.as_str(),
                            status,
                            Some(&reason),
                            now,
                        )
                        .await?;
                }
                self.db
                    .finish_slot(
                        &slot.id,
                        if status == "missed" { "missed" } else { "done" },
                        Some(&reason),
                        &[],
                        now,
                    )
                    .await?;
                return Ok(());
            }
            for action in actions {
                match action {
                    Action::Order(intent) => {
                        let Size::Notional(amount) = intent.size else {
                            continue;
                        };
                        let cid = ClientOrderId::for_slot(&plan_id, slot_time, &intent.symbol);
                        self.db
                            .record_intent(
                                slot,
                                intent.symbol.as_str(),
                                &text(amount),
                                cid.as_str(),
                                "pending",
                                None,
                                now,
                            )
                            .await?;
                    }
                    Action::Skip { symbol, reason } => {
                        for leg in plan
                            .legs
                            .iter()
                            .filter(|l| symbol.as_ref().is_none_or(|s| *s == l.symbol))
                        {
                            let cid = ClientOrderId::for_slot(&plan_id, slot_time, &leg.symbol);
                            self.db
                                .record_intent(
                                    slot,
                                    leg.symbol.as_str(),
                                    &text(leg.amount),
                                    cid.as_str(),
                                    "skipped",
                                    Some(&reason),
                                    now,
                                )
                                .await?;
                        }
                    }
                }
            }
            purchases = self.db.purchases_of_slot(&slot.id).await?;
        }
        if self.config.fail_point == Some(FailPoint::AfterIntents) {
            anyhow::bail!("injected failure after writing the intents");
        }

        let broker = match self.dca.broker_for(&slot.user_id).await {
            Ok(broker) => broker,
            Err(err) => {
                let outcomes = failed(&purchases, &err.message);
                self.db
                    .finish_slot(&slot.id, "done", Some(&err.message), &outcomes, now)
                    .await?;
                return Ok(());
            }
        };
        let mut outcomes = Vec::new();
        for purchase in purchases.iter().filter(|p| p.status == "pending") {
            let request = OrderRequest {
                symbol: Symbol::parse(&purchase.symbol).map_err(anyhow::Error::msg)?,
                side: Side::Buy,
                size: Size::Notional(Decimal::from_str(&purchase.notional)?),
                kind: OrderKind::Market,
                time_in_force: TimeInForce::Day,
                extended_hours: false,
                client_order_id: purchase.client_order_id.clone(),
            };
            let detail = serde_json::json!({"purchase": purchase.id, "symbol": purchase.symbol,
                "notional": purchase.notional, "client_order_id": purchase.client_order_id});
            self.audit(slot, AuditAction::OrderSubmitted, detail)
                .await?;
            let sent = broker.place_order(&request).await;

            match sent {
                Ok(order) => outcomes.push(outcome_of(purchase, &order, now)),
                Err(BrokerError::Transient(message)) => {
                    // Keep what is known, and try the slot again later with backoff.
                    for outcome in &outcomes {
                        self.db.update_purchase(outcome, now).await?;
                    }
                    return self.retry_later(slot, &message, now).await;
                }
                Err(err) => {
                    // Bad keys are the account's failure; anything else is the broker
                    // rejecting this order (its message says why).
                    let (status, reason) = match err {
                        BrokerError::Rejected(message) => ("rejected", message),
                        BrokerError::Unauthorized => (
                            "failed",
                            "the broker did not accept the account's API keys".into(),
                        ),
                        other => ("failed", other.to_string()),
                    };
                    outcomes.push(Outcome {
                        status,
                        reason: Some(reason),
                        ..blank(purchase)
                    });
                }
            }
        }
        if self.config.fail_point == Some(FailPoint::AfterSend) {
            anyhow::bail!("injected failure after sending the orders");
        }
        for outcome in &outcomes {
            self.audit(
                slot,
                AuditAction::OrderOutcome,
                serde_json::json!({"purchase": outcome.purchase_id, "status": outcome.status, "reason": outcome.reason}),
            )
            .await?;
        }
        self.db
            .finish_slot(&slot.id, "done", None, &outcomes, now)
            .await
            .context("failed to record the outcomes")?;
        Ok(())
    }

    async fn retry_later(&self, slot: &SlotRow, message: &str, now: i64) -> anyhow::Result<()> {
        if slot.attempts >= self.config.max_attempts {
            let purchases = self.db.purchases_of_slot(&slot.id).await?;
            let pending: Vec<PurchaseRow> = purchases
                .into_iter()
                .filter(|p| p.status == "pending")
                .collect();
            let reason = format!("the broker kept failing: {message}");
            self.db
                .finish_slot(
                    &slot.id,
                    "done",
                    Some(&reason),
                    &failed(&pending, &reason),
                    now,
                )
                .await?;
            return Ok(());
        }
        let backoff = (5_000i64 << slot.attempts.clamp(0, 6)).min(300_000);
        self.db
            .release_slot(&slot.id, &self.owner, now + backoff, message, now)
            .await?;
        Ok(())
    }

    /// Runs the plan's strategy for this slot: the same code the backtester runs.
    async fn decide(
        &self,
        plan: &app::api::dca::Plan,
        slot: &SlotRow,
        broker: &dyn Broker,
    ) -> anyhow::Result<Vec<Action>> {
        let slot_time = jiff::Timestamp::from_millisecond(slot.slot_at)?;
        let account = AccountView {
            cash: Decimal::ZERO,
            position_qty: Decimal::ZERO,
            marks: &[],
        };
        let mut actions = Vec::new();
        match (plan.mode, plan.smart) {
            (PlanMode::Smart, Some(smart)) => {
                let mut strategy = SmartDca::new(plan.legs.clone(), smart);
                if smart.when_not_met == WhenNotMet::CarryForward {
                    let mut carried: std::collections::BTreeMap<String, Decimal> =
                        Default::default();
                    for (symbol, notional) in
                        self.db.skipped_since_last_purchase(&slot.plan_id).await?
                    {
                        *carried.entry(symbol).or_default() += Decimal::from_str(&notional)?;
                    }
                    for (symbol, amount) in carried {
                        strategy.set_carried(
                            &Symbol::parse(&symbol).map_err(anyhow::Error::msg)?,
                            amount,
                        );
                    }
                }

                // Enough daily history for any condition (periods are at most 400 bars).
                let from = slot_time.checked_sub(jiff::SignedDuration::from_hours(24 * 600))?;
                for leg in &plan.legs {
                    let bars = match broker
                        .bars(&leg.symbol, TimeFrame::Day, from, slot_time)
                        .await
                    {
                        Ok(bars) => bars,
                        Err(err) => anyhow::bail!("could not load {} bars: {err}", leg.symbol),
                    };
                    // Only bars that closed before the slot: no peeking at the slot's day.
                    for bar in bars.iter().filter(|b| {
                        b.exchange_date()
                            < app::domain::calendar::new_york()
                                .to_datetime(slot_time)
                                .date()
                    }) {
                        strategy.on_event(
                            Event::Bar {
                                symbol: &leg.symbol,
                                bar,
                            },
                            &account,
                            &mut Vec::new(),
                        );
                    }
                }
                strategy.on_event(Event::Slot { time: slot_time }, &account, &mut actions);
            }
            _ => PureDca::new(plan.legs.clone()).on_event(
                Event::Slot { time: slot_time },
                &account,
                &mut actions,
            ),
        }
        Ok(actions)
    }

    async fn bot_status(&self, slot: &SlotRow, state: &str, reason: Option<&str>) {
        let next_run_at = match self.db.plan(&slot.plan_id, &slot.user_id).await {
            Ok(Some(plan)) => plan
                .next_run_at
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
            _ => None,
        };
        let last_run = jiff::Timestamp::from_millisecond(slot.slot_at).ok();
        let event = serde_json::json!({"type": "bot_status", "plan_id": slot.plan_id, "state": state,
            "reason": reason, "next_run_at": next_run_at, "last_run": last_run});
        self.dca.events().publish(&slot.user_id, event).await;
    }

    /// Tells the user's browsers what the slot did: each purchase, the bot's state, and
    /// the account after any fill.
    async fn announce(&self, slot: &SlotRow) {
        let Ok(purchases) = self.db.purchases_of_slot(&slot.id).await else {
            return;
        };
        let problem = purchases
            .iter()
            .find(|p| p.status == "rejected" || p.status == "failed")
            .and_then(|p| p.reason.clone());
        let filled = purchases.iter().any(|p| p.status == "filled");
        for purchase in purchases {
            let event = serde_json::json!({"type": "purchase", "purchase": app::api::dca::Purchase::from(purchase)});
            self.dca.events().publish(&slot.user_id, event).await;
        }
        let state = if problem.is_some() { "error" } else { "idle" };
        self.bot_status(slot, state, problem.as_deref()).await;
        if filled {
            self.announce_account(&slot.user_id).await;
        }
    }

    async fn announce_account(&self, user_id: &str) {
        let Ok(broker) = self.dca.broker_for(user_id).await else {
            return;
        };
        if let Ok(account) = broker.account().await {
            let event = serde_json::json!({"type": "account", "equity": account.equity, "cash": account.cash,
                "buying_power": account.buying_power, "portfolio_value": account.equity});
            self.dca.events().publish(user_id, event).await;
        }
    }

    /// Asks the broker about orders that were accepted but not yet filled.
    async fn reconcile_open_orders(&self, now: i64) -> anyhow::Result<()> {
        for purchase in self.db.open_purchases(50).await? {
            let Ok(broker) = self.dca.broker_for(&purchase.user_id).await else {
                continue;
            };
            match broker.order_by_client_id(&purchase.client_order_id).await {
                Ok(order) if order.status.is_final() => {
                    self.db
                        .update_purchase(&outcome_of(&purchase, &order, now), now)
                        .await?
                }
                Ok(_) => {}
                Err(err) => tracing::debug!(error = %err, "could not reconcile an open order yet"),
            }
        }
        Ok(())
    }
}

fn blank(purchase: &PurchaseRow) -> Outcome {
    Outcome {
        purchase_id: purchase.id.clone(),
        status: "pending",
        broker_order_id: None,
        qty: None,
        price: None,
        reason: None,
        submitted_at: None,
        filled_at: None,
    }
}

fn failed(purchases: &[PurchaseRow], reason: &str) -> Vec<Outcome> {
    purchases
        .iter()
        .filter(|p| p.status == "pending")
        .map(|p| Outcome {
            status: "failed",
            reason: Some(reason.to_owned()),
            ..blank(p)
        })
        .collect()
}

fn outcome_of(purchase: &PurchaseRow, order: &OrderSnapshot, now: i64) -> Outcome {
    let status = match order.status {
        OrderStatus::Filled => "filled",
        OrderStatus::Open | OrderStatus::PartiallyFilled => "accepted",
        OrderStatus::Canceled | OrderStatus::Expired | OrderStatus::Rejected => "rejected",
    };
    let filled = order.status == OrderStatus::Filled;
    Outcome {
        status,
        broker_order_id: Some(order.id.clone()),
        qty: filled.then(|| text(order.filled_qty)),
        price: order.filled_avg_price.filter(|_| filled).map(text),
        reason: (status == "rejected")
            .then(|| format!("the order was {:?} at the broker", order.status).to_lowercase()),
        submitted_at: Some(purchase.submitted_at.unwrap_or(now)),
        filled_at: order
            .filled_at
            .filter(|_| filled)
            .map(|t| t.as_millisecond()),
        ..blank(purchase)
    }
}
