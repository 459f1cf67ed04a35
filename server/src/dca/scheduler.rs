//! The scheduler worker pool: turns due plans into slots, claims slots with a lease,
//! decides with the shared strategy code, and places each leg's order exactly once.
//!
//! Exactly once, step by step: a slot row is unique per (plan, instant, kind); a worker
//! claims it with a lease; each leg's intent is written with its deterministic client
//! order id *before* the order is sent; each order's outcome is written as its answer
//! arrives, and the slot's final state last. Every write is conditional on still holding
//! the lease, so a worker whose lease was taken over writes nothing. If a worker dies
//! anywhere in between, its lease expires and another worker re-runs the slot: it reuses
//! the intents already written (never deciding twice), skips the legs already answered,
//! and re-sends the rest with the same client order ids, which the broker answers with
//! the existing order (see `AlpacaBroker::place_order`) instead of buying again.
//!
//! Fairness and bounds: a claim passes over users who already have a slot running; a
//! run is bounded by `slot_budget` (a run that runs out of time, e.g. waiting for its
//! user's rate-limit tokens, gives the slot back and resumes later where it stopped);
//! every failure counts toward `max_attempts`, after which the slot ends `failed` once
//! each unanswered order has been looked up at the broker. Orders the broker has not
//! finished with are followed by the reconcile pass, a task of its own with a time
//! budget and a backoff per order, until they end or the check window closes
//! (`unknown`).

use super::portfolio::PortfolioService;
use super::slots::{Finish, Intent, Outcome, PurchaseRow, SlotRow};
use crate::broker::alpaca::AlpacaBroker;
use crate::broker::directory::BrokerDirectory;
use crate::broker::{
    Broker, BrokerError, OrderKind, OrderRequest, OrderSnapshot, OrderStatus, TimeFrame,
    TimeInForce,
};
use crate::db::Db;
use crate::db::audit::{AuditAction, AuditEntry};
use crate::events::EventBus;
use anyhow::Context as _;
use app::api::ErrorCode;
use app::api::dca::{
    Plan, PlanStatus, PlanStrategy, Purchase, PurchaseStatus, SkipReason, SlotKind, SlotState,
};
use app::api::live::{LiveEvent, RunState, RunStatus};
use app::domain::ids::ClientOrderId;
use app::domain::order::{AccountView, Side, Size};
use app::domain::strategy::dca::PureDca;
use app::domain::strategy::smart_dca::{SmartDca, WhenNotMet, cap_carried};
use app::domain::strategy::{Action, Event, Strategy};
use app::domain::time::Clock;
use rust_decimal::Decimal;
use std::sync::Arc;
use std::time::Duration;

/// What a signal bot decided after a close.
struct BotDecision {
    /// The order for the next open and its quantity.
    order: Option<(app::domain::order::OrderIntent, Decimal)>,
    /// The close it decided on (an order by quantity's value is estimated at it).
    close: Decimal,
    /// The shares its own fills say it holds (all of them, whatever the evaluation saw).
    held: Decimal,
    /// When its latest fill was (Unix ms; 0: none): a write-off is booked after it.
    last_fill_at: i64,
    /// What it saw, when it does not trade.
    summary: String,
}

/// When the latest of `fills` was (Unix ms; 0: none).
fn last_fill_at(fills: &[app::domain::order::Fill]) -> i64 {
    fills
        .iter()
        .map(|f| f.time.as_millisecond())
        .max()
        .unwrap_or(0)
}

/// The first day of a bot's bars: enough sessions before its first evaluation (the first
/// after it was created) for that evaluation to use every rule, as a backtest from this
/// day would.
pub fn bot_start(
    plan: &Plan,
    config: &app::domain::strategy::ma_crossover::MaCrossoverConfig,
    created: jiff::Timestamp,
) -> Option<jiff::civil::Date> {
    use app::domain::calendar;
    let first = *plan.next_runs(created, 1).ok()?.first()?;
    let mut day = calendar::new_york().to_datetime(first).date();
    for _ in 1..config.warm_up_bars().max(1) {
        day = calendar::previous_session_before(day)?.date;
    }
    Some(day)
}

/// Where a test can make a worker "crash" (return early, leaving its lease behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailPoint {
    /// After the intents are written, before any order is sent.
    AfterIntents,
    /// After the first order is sent, before its outcome is written.
    AfterSend,
}

#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    pub workers: usize,
    /// Slots in flight at once per instance.
    pub concurrency: usize,
    pub poll: Duration,
    pub lease: Duration,
    /// How long one run of a slot may take before it gives the slot back (less than
    /// `lease`, so the lease never expires under a live worker).
    pub slot_budget: Duration,
    /// A scheduled slot this late is recorded as missed instead of executed.
    pub grace: Duration,
    /// Attempts (of any failure kind) before a slot is given up as `failed`.
    pub max_attempts: i64,
    /// How long the reconcile pass follows an order the broker has not finished with
    /// before recording it `unknown`.
    pub check_window: Duration,
    /// The time one reconcile pass may take.
    pub reconcile_budget: Duration,
    /// The plan limits (Smart DCA's carried-forward total is capped at `max_per_slot`).
    /// The limits in force (`max_per_slot` caps carried money), as admins set them.
    pub plan_limits: crate::settings::LiveSettings,
    /// With billing on, the tier table: a plan its user's tier no longer allows (after a
    /// downgrade) is paused when its slot comes, and buys nothing.
    pub tiers: Option<crate::settings::LiveSettings>,
    pub fail_point: Option<FailPoint>,
    /// Real time, for what is not market time (the e-mail a finished slot writes); `None`:
    /// the scheduler's clock.
    pub wall: Option<WallClock>,
}

/// Real time beside the scheduler's (market) clock.
#[derive(Clone)]
pub struct WallClock(pub Arc<dyn Clock>);

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WallClock")
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            concurrency: 16,
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(120),
            slot_budget: Duration::from_secs(60),
            grace: Duration::from_secs(4 * 3600),
            max_attempts: 8,
            check_window: Duration::from_secs(7 * 24 * 3600),
            reconcile_budget: Duration::from_secs(20),
            plan_limits: crate::settings::LiveSettings::default(),
            tiers: None,
            fail_point: None,
            wall: None,
        }
    }
}

pub struct Scheduler {
    db: Db,
    clock: Arc<dyn Clock>,
    /// Where each slot's broker account is found.
    brokers: Arc<BrokerDirectory>,
    /// Purchases and plan states go out here, live to the user's pages.
    events: EventBus,
    /// Told when a fill changed a user's account, so their pages' balances follow.
    portfolio: Arc<PortfolioService>,
    config: SchedulerConfig,
    owner: String,
    /// Held by the one claim that materialises due plans' slots; the others go straight
    /// to claiming instead of scheduling the same plans again. Holds when the workers'
    /// next pass is due (wall time): at most one per poll interval, unless the last one
    /// found more due plans than it takes at a time.
    scheduling: tokio::sync::Mutex<Option<std::time::Instant>>,
    /// One per purchase this instance may run at once; a running purchase holds one.
    permits: Arc<tokio::sync::Semaphore>,
}

/// When an active plan runs next, as its bot status shows it.
fn next_run_of(plan: Option<&super::PlanRow>) -> Option<jiff::Timestamp> {
    plan.filter(|plan| plan.status == PlanStatus::Active.as_str())
        .and_then(|plan| plan.next_run_at)
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
}

/// Due plans one scheduling pass materialises.
const SCHEDULE_BATCH: i64 = 100;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Why a slot buys nothing, decided before anything is asked of the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoPurchase {
    pub status: PurchaseStatus,
    pub skip_reason: Option<SkipReason>,
    pub reason: String,
    pub slot_state: SlotState,
}

/// The checks on a slot before its strategy runs: a scheduled slot of a plan that is not
/// active skips, and one later than the grace window is missed. "Buy now" slots run
/// whenever they are taken.
pub fn precheck(
    plan: PlanStatus,
    kind: SlotKind,
    slot_at: i64,
    now: i64,
    grace_ms: i64,
) -> Option<NoPurchase> {
    if kind == SlotKind::Manual {
        return None;
    }
    if plan != PlanStatus::Active {
        return Some(NoPurchase {
            status: PurchaseStatus::Skipped,
            skip_reason: Some(SkipReason::PlanInactive),
            reason: format!("the plan was {} at this purchase's time", plan.as_str()),
            slot_state: SlotState::Done,
        });
    }
    if now - slot_at > grace_ms {
        return Some(NoPurchase {
            status: PurchaseStatus::Missed,
            skip_reason: None,
            reason: "the server was not running at the scheduled time and the grace window passed"
                .to_owned(),
            slot_state: SlotState::Missed,
        });
    }
    None
}

/// What an order's state at the broker means for its purchase. Anything filled is
/// recorded, even when the rest of the order was canceled or expired.
pub fn outcome_of(purchase: &PurchaseRow, order: &OrderSnapshot, now: i64) -> Outcome {
    let filled = (!order.filled_qty.is_zero()).then_some(order.filled_qty);
    let (status, reason) = match order.status {
        OrderStatus::Filled => (PurchaseStatus::Filled, None),
        OrderStatus::Open | OrderStatus::PartiallyFilled => (PurchaseStatus::Accepted, None),
        OrderStatus::Canceled | OrderStatus::Expired if filled.is_some() => (
            PurchaseStatus::PartiallyFilled,
            Some(format!(
                "{} shares filled, then the broker {} the rest of the order",
                order.filled_qty.normalize(),
                if order.status == OrderStatus::Canceled {
                    "canceled"
                } else {
                    "expired"
                }
            )),
        ),
        OrderStatus::Canceled => (
            PurchaseStatus::Rejected,
            Some("the order was canceled at the broker".to_owned()),
        ),
        OrderStatus::Expired => (
            PurchaseStatus::Rejected,
            Some("the order expired at the broker unfilled".to_owned()),
        ),
        OrderStatus::Rejected => (
            PurchaseStatus::Rejected,
            Some("the order was rejected at the broker".to_owned()),
        ),
    };
    Outcome {
        purchase_id: purchase.id.clone(),
        status,
        broker_order_id: Some(order.id.clone()),
        qty: filled,
        price: order.filled_avg_price.filter(|_| filled.is_some()),
        reason,
        submitted_at: Some(purchase.submitted_at.unwrap_or(now)),
        // An order filled in part has no `filled_at`; its last change is its last fill.
        filled_at: filled.map(|_| {
            order
                .filled_at
                .or(order.updated_at)
                .map_or(now, |t| t.as_millisecond())
        }),
        next_check_at: status.is_open().then_some(now),
    }
}

/// An outcome without an order: the purchase `status` with `reason`.
fn plain(purchase: &PurchaseRow, status: PurchaseStatus, reason: &str) -> Outcome {
    Outcome {
        purchase_id: purchase.id.clone(),
        status,
        broker_order_id: None,
        qty: None,
        price: None,
        reason: Some(reason.to_owned()),
        submitted_at: None,
        filled_at: None,
        next_check_at: None,
    }
}

/// What became of an order whose send was never answered: found at the broker, its
/// state there; otherwise `unknown` for now, and the reconcile pass goes on asking (an
/// order the broker still has no record of later is then `failed`).
async fn look_up(
    broker: Option<&AlpacaBroker>,
    purchase: &PurchaseRow,
    reason: &str,
    now: i64,
) -> Outcome {
    let Some(broker) = broker else {
        return unconfirmed(purchase, reason, now);
    };
    match broker
        .order_by_client_id(purchase.client_order_id.as_str())
        .await
    {
        Ok(order) => outcome_of(purchase, &order, now),
        Err(_) => unconfirmed(purchase, reason, now),
    }
}

/// A purchase whose order may or may not have reached the broker, to be checked again.
fn unconfirmed(purchase: &PurchaseRow, reason: &str, now: i64) -> Outcome {
    Outcome {
        next_check_at: Some(now + check_backoff(0)),
        ..plain(
            purchase,
            PurchaseStatus::Unknown,
            &format!("{reason}; whether the order reached the broker is not known yet"),
        )
    }
}

/// The wait before the reconcile pass asks about an order again: 10 s, doubling, at
/// most an hour.
pub fn check_backoff(attempts: i64) -> i64 {
    (10_000i64 << attempts.clamp(0, 9)).min(3_600_000)
}

/// How a run of a slot ended.
enum Run {
    /// The slot reached its final state (or another worker holds it now).
    Finished,
    /// It must be tried again later: the message says why.
    Retry(String),
    /// A stopped bot's closing sale waits for its last order's answer: tried again in a
    /// minute, without using up an attempt (an order for the next open can take a night).
    Wait(String),
}

/// How long a bot's run waits before looking again for its last order's answer.
const BOT_WAIT_MS: i64 = 60_000;

/// A bot's decision cannot be made yet (its last order has no final answer).
#[derive(Debug)]
struct Waiting(&'static str);

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Waiting {}

/// A bot's order quantity as sent: the 8 decimal places apca carries (the backtest keeps
/// 9), rounded down.
fn order_qty(qty: Decimal) -> Decimal {
    qty.round_dp_with_strategy(
        crate::broker::convert::APCA_DECIMALS,
        rust_decimal::RoundingStrategy::ToZero,
    )
    .normalize()
}

impl Scheduler {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        brokers: Arc<BrokerDirectory>,
        events: EventBus,
        portfolio: Arc<PortfolioService>,
        config: SchedulerConfig,
    ) -> Arc<Self> {
        // The process id tells an operator (and the crash tests) which process holds a slot.
        let owner = format!(
            "worker-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let permits = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
        Arc::new(Self {
            db,
            clock,
            brokers,
            events,
            portfolio,
            config,
            owner,
            scheduling: tokio::sync::Mutex::new(None),
            permits,
        })
    }

    /// (purchases running now, at most at once) in this instance; none without workers.
    pub fn load(&self) -> (i64, i64) {
        if self.config.workers == 0 {
            return (0, 0);
        }
        let capacity = self.config.concurrency.max(1);
        let busy = capacity.saturating_sub(self.permits.available_permits());
        (
            i64::try_from(busy).unwrap_or(i64::MAX),
            i64::try_from(capacity).unwrap_or(i64::MAX),
        )
    }

    fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    /// Real time (the outbox's clock).
    fn wall_now(&self) -> i64 {
        self.config
            .wall
            .as_ref()
            .map_or_else(|| self.now(), |wall| wall.0.now().millis())
    }

    /// Starts the workers and the reconcile task; they stop when `shutdown` turns true,
    /// after the slots in hand have finished. Each worker claims slots and runs each in
    /// its own task, up to `concurrency` at once per instance, so one user's slow or
    /// failing broker never holds up another user's purchases.
    pub fn spawn(
        self: &Arc<Self>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let permits = self.permits.clone();
        let mut tasks: Vec<_> = (0..self.config.workers)
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
                        let claimed = match me.claim_next(false).await {
                            Ok(claimed) => claimed,
                            Err(err) => {
                                tracing::warn!(error = %format!("{err:#}"), "a scheduler pass failed");
                                None
                            }
                        };
                        match claimed {
                            Some(slot) => {
                                let runner = me.clone();
                                in_flight.spawn(async move {
                                    let _ = runner.run_slot(&slot).await;
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
            .collect();
        if self.config.workers > 0 {
            let me = self.clone();
            let mut shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                while !*shutdown.borrow() {
                    let checked = me.reconcile_once().await.unwrap_or_else(|err| {
                        tracing::warn!(error = %format!("{err:#}"), "a reconcile pass failed");
                        0
                    });
                    if checked == 0 {
                        tokio::select! {
                            _ = tokio::time::sleep(me.config.poll) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                }
            }));
        }
        tasks
    }

    /// Schedules due plans (when a pass is due, or always with `every_time`) and claims
    /// one slot.
    async fn claim_next(&self, every_time: bool) -> anyhow::Result<Option<SlotRow>> {
        if let Ok(mut next_pass) = self.scheduling.try_lock()
            && (every_time || next_pass.is_none_or(|at| std::time::Instant::now() >= at))
        {
            let more = self.schedule_due_plans(self.now()).await?;
            *next_pass = Some(if more {
                std::time::Instant::now()
            } else {
                std::time::Instant::now() + self.config.poll
            });
        }
        // The lease counts from a clock read after the scheduling pass, however long it took.
        Ok(self
            .db
            .claim_slot(&self.owner, self.now(), ms(self.config.lease))
            .await?)
    }

    /// One pass in the caller's task: claim a slot and run it, or reconcile. Returns
    /// whether a slot was run. (The workers use the same steps, concurrently.)
    pub async fn tick(&self) -> anyhow::Result<bool> {
        match self.claim_next(true).await? {
            Some(slot) => self.run_slot(&slot).await.map(|()| true),
            None => {
                self.reconcile_once().await?;
                Ok(false)
            }
        }
    }

    /// Makes each due plan's slot, up to `SCHEDULE_BATCH`; returns whether there may be
    /// more. One plan that cannot be read is logged and passed over; it never stops the
    /// pass for everyone else.
    async fn schedule_due_plans(&self, now: i64) -> anyhow::Result<bool> {
        let due = self.db.due_plans(now, SCHEDULE_BATCH).await?;
        for plan in &due {
            if let Err(err) = self.schedule_plan(plan, now).await {
                tracing::error!(plan = %plan.id, error = %format!("{err:#}"), "a due plan could not be scheduled");
            }
        }
        Ok(due.len() as i64 >= SCHEDULE_BATCH)
    }

    async fn schedule_plan(&self, plan: &super::PlanRow, now: i64) -> anyhow::Result<()> {
        let Some(slot_at) = plan.next_run_at else {
            return Ok(());
        };
        let settings = plan.clone().into_plan()?;
        let slot_time = jiff::Timestamp::from_millisecond(slot_at)?;
        let next = settings
            .next_runs(slot_time, 1)
            .ok()
            .and_then(|s| s.first().map(|t| t.as_millisecond()));
        if self
            .db
            .schedule_slot(&plan.id, &plan.user_id, slot_at, next, now)
            .await?
        {
            tracing::info!(plan = %plan.id, slot_at, "slot scheduled");
        }
        Ok(())
    }

    /// The audit entry of `action` on the slot's plan, by its user.
    fn audit_entry<'a>(
        &self,
        slot: &'a SlotRow,
        action: AuditAction,
        detail: serde_json::Value,
    ) -> AuditEntry<'a> {
        AuditEntry {
            at: self.clock.now(),
            actor_user_id: Some(slot.user_id.as_str()),
            action,
            subject: Some(slot.plan_id.as_str()),
            ip: None,
            detail,
        }
    }

    /// Runs one claimed slot within its budget and tells the user's browsers how it went.
    async fn run_slot(&self, slot: &SlotRow) -> anyhow::Result<()> {
        // Read once for the run: the plan (its next run is what the bot status shows) and
        // what earlier attempts recorded.
        let loaded = async {
            let row = self
                .db
                .plan(slot.plan_id.as_str(), slot.user_id.as_str())
                .await?;
            let purchases = self.db.purchases_of_slot(&slot.id).await?;
            Ok::<_, sqlx::Error>((row, purchases))
        };
        let (row, purchases) = match loaded.await {
            Ok(loaded) => loaded,
            Err(err) => {
                // The database did not answer (e.g. no free connection): try again later,
                // with the reason recorded, like any other interrupted run.
                let message = format!("could not read the plan: {err}");
                self.retry_later(slot, &message, false).await?;
                return Err(anyhow::anyhow!(message));
            }
        };
        let next_run_at = next_run_of(row.as_ref());
        if slot.attempts > self.config.max_attempts {
            // No reason recorded: every attempt ended with its worker gone (a crash or a
            // kill), never with an error it could write down.
            let reason = slot.reason.clone().unwrap_or_else(|| {
                format!(
                    "the server stopped while buying it, {} times",
                    slot.attempts - 1
                )
            });
            self.give_up(slot, &reason).await?;
            self.announce(slot, next_run_at).await;
            return Ok(());
        }
        self.run_status(slot, RunState::Running, None, next_run_at)
            .await;
        let answered_before = purchases.iter().filter(|p| !p.status.is_open()).count();
        let run =
            tokio::time::timeout(self.config.slot_budget, self.execute(slot, row, purchases)).await;
        let retry = match run {
            Ok(Ok(Run::Finished)) => {
                self.announce(slot, next_run_at).await;
                return Ok(());
            }
            Ok(Ok(Run::Retry(message))) => (message, false),
            Ok(Ok(Run::Wait(message))) => {
                let now = self.now();
                self.db
                    .release_slot(slot, &self.owner, now + BOT_WAIT_MS, &message, true, now)
                    .await?;
                self.run_status(slot, RunState::Idle, Some(&message), next_run_at)
                    .await;
                return Ok(());
            }
            Ok(Err(err)) if err.is::<InjectedCrash>() => return Err(err),
            Ok(Err(err)) => (format!("{err:#}"), false),
            Err(_) => {
                // Out of time (e.g. waiting for the user's rate-limit tokens): give the
                // slot back; what was answered is kept and the rest resumes later. A run
                // that got some answers does not use up an attempt.
                let progress = self.answered(slot).await? > answered_before;
                (
                    format!(
                        "the purchase took longer than {:?}; it resumes shortly",
                        self.config.slot_budget
                    ),
                    progress,
                )
            }
        };
        let (message, progress) = retry;
        // Orders of this run may have reached the account (or, given up, been found).
        self.portfolio
            .account_views()
            .changed(slot.user_id.as_str());
        tracing::warn!(slot = %slot.id, error = %message, "a slot did not finish; it will be retried");
        self.retry_later(slot, &message, progress).await?;
        let reason = "a temporary problem interrupted this purchase; it will be retried";
        self.run_status(slot, RunState::Error, Some(reason), next_run_at)
            .await;
        Err(anyhow::anyhow!(message))
    }

    /// How many of the slot's purchases have an answer.
    async fn answered(&self, slot: &SlotRow) -> anyhow::Result<usize> {
        let purchases = self.db.purchases_of_slot(&slot.id).await?;
        Ok(purchases.iter().filter(|p| !p.status.is_open()).count())
    }

    /// Writes intents together, while this worker holds the slot (pinning it to the
    /// broker `account`, if given). Returns the purchases written, or `None` if the lease
    /// was lost.
    async fn write_intents(
        &self,
        slot: &SlotRow,
        intents: &[Intent<'_>],
        account: Option<&str>,
        now: i64,
    ) -> anyhow::Result<Option<Vec<PurchaseRow>>> {
        let written = self
            .db
            .record_intents(slot, &self.owner, intents, account, now)
            .await?;
        if written.is_none() {
            tracing::warn!(slot = %slot.id, "the slot's lease was taken over; this worker stops");
        }
        Ok(written)
    }

    /// Each leg's client order id in this slot, in the plan's leg order.
    fn order_ids(slot: &SlotRow, plan: &Plan) -> anyhow::Result<Vec<ClientOrderId>> {
        let at = jiff::Timestamp::from_millisecond(slot.slot_at)?;
        Ok(plan
            .legs
            .iter()
            .map(|leg| ClientOrderId::for_slot(&slot.plan_id, slot.kind, at, &leg.symbol))
            .collect())
    }

    /// Why `plan` may not run, if it may not: its user's account is disabled, or (billing
    /// on) their tier no longer allows it: their active plans are fitted to the tier oldest
    /// first, so a downgrade stops the newest.
    async fn beyond_tier(&self, slot: &SlotRow, plan: &Plan) -> anyhow::Result<Option<String>> {
        let Some(user) = self.db.user_by_id(slot.user_id.as_str()).await? else {
            return Ok(None);
        };
        if user.disabled_at.is_some() {
            return Ok(Some(crate::admin::ACCOUNT_DISABLED.to_owned()));
        }
        let Some(tiers) = self
            .config
            .tiers
            .as_ref()
            .map(crate::settings::LiveSettings::tiers)
        else {
            return Ok(None);
        };
        let active = self
            .db
            .plans_in(slot.user_id.as_str(), &[PlanStatus::Active])
            .await?;
        Ok(tiers.why_not_run(user.tier, active, plan))
    }

    /// Why the user's tier does not allow live trading, if it does not (billing on).
    async fn live_beyond_tier(&self, slot: &SlotRow) -> anyhow::Result<Option<String>> {
        let Some(tiers) = self
            .config
            .tiers
            .as_ref()
            .map(crate::settings::LiveSettings::tiers)
        else {
            return Ok(None);
        };
        let user = self.db.user_by_id(slot.user_id.as_str()).await?;
        Ok(user.and_then(|user| tiers.check_live(user.tier).err()))
    }

    /// Pauses a plan its user's tier (or disabled account) no longer allows, unless it
    /// changed meanwhile, and tells their browsers.
    async fn pause_beyond_tier(
        &self,
        slot: &SlotRow,
        plan: &Plan,
        why: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let at = self.clock.now();
        let reason = super::PauseReason {
            why,
            by: if why == crate::admin::ACCOUNT_DISABLED {
                "account_disabled"
            } else {
                "tier"
            },
            actor: slot.user_id.as_str(),
        };
        super::pause_with_reason(
            &self.db,
            &self.events,
            slot.user_id.as_str(),
            plan,
            &reason,
            at.millis().max(now),
        )
        .await
        .map(|_| ())
    }

    /// Records every leg as not bought, for the reason given, and ends the slot.
    async fn buy_nothing(
        &self,
        slot: &SlotRow,
        plan: &Plan,
        ids: &[ClientOrderId],
        no: &NoPurchase,
        now: i64,
    ) -> anyhow::Result<Run> {
        let intents: Vec<Intent<'_>> = plan
            .legs
            .iter()
            .zip(ids)
            .map(|(leg, id)| Intent {
                symbol: &leg.symbol,
                side: Side::Buy,
                notional: leg.amount,
                qty: None,
                client_order_id: id,
                status: no.status,
                skip_reason: no.skip_reason,
                reason: Some(&no.reason),
                booked: None,
            })
            .collect();
        if self
            .write_intents(slot, &intents, None, now)
            .await?
            .is_some()
        {
            let finish = Finish {
                state: no.slot_state,
                reason: Some(&no.reason),
            };
            self.db
                .finish_slot(&slot.id, &self.owner, finish, &[], now, self.wall_now())
                .await?;
        }
        Ok(Run::Finished)
    }

    /// Writes the slot's intents (once), sends the unanswered ones, and records each
    /// answer as it arrives.
    async fn execute(
        &self,
        slot: &SlotRow,
        row: Option<super::PlanRow>,
        mut purchases: Vec<PurchaseRow>,
    ) -> anyhow::Result<Run> {
        let now = self.now();
        let row = match row {
            Some(row) => row,
            // Deleted before anything was decided: buy nothing.
            None if purchases.is_empty() => {
                let finish = Finish {
                    state: SlotState::Missed,
                    reason: Some("the plan was deleted"),
                };
                self.db
                    .finish_slot(&slot.id, &self.owner, finish, &[], now, self.wall_now())
                    .await?;
                return Ok(Run::Finished);
            }
            // Deleted while its orders were on their way: follow them to the end.
            None => self
                .db
                .plan_even_deleted(slot.plan_id.as_str(), slot.user_id.as_str())
                .await?
                .with_context(|| format!("slot {} has purchases but no plan", slot.id))?,
        };
        let plan = row.into_plan()?;
        let ids = Self::order_ids(slot, &plan)?;
        let account = self.brokers.account_for(slot.user_id.as_str()).await;

        if purchases.is_empty() {
            let grace = ms(self.config.grace);
            if let Some(no) = precheck(plan.status, slot.kind, slot.slot_at, now, grace) {
                return self.buy_nothing(slot, &plan, &ids, &no, now).await;
            }
            // A stopped bot's closing sale runs whatever the tier: it only gives money back.
            let closing = plan.is_bot() && slot.kind == SlotKind::Manual;
            if !closing && let Some(why) = self.beyond_tier(slot, &plan).await? {
                // An active plan is paused; a paused or stopped one (a "buy now" queued
                // before it changed) stays as it is and buys nothing.
                let reason = if plan.status == PlanStatus::Active {
                    self.pause_beyond_tier(slot, &plan, &why, now).await?;
                    format!("Paused: {why}")
                } else {
                    why
                };
                let no = NoPurchase {
                    status: PurchaseStatus::Skipped,
                    skip_reason: Some(SkipReason::PlanInactive),
                    reason,
                    slot_state: SlotState::Done,
                };
                return self.buy_nothing(slot, &plan, &ids, &no, now).await;
            }
            let (broker, tag) = match &account {
                Ok(account) => account,
                Err(err) => {
                    let no = NoPurchase {
                        status: PurchaseStatus::Skipped,
                        skip_reason: Some(SkipReason::BrokerUnavailable),
                        reason: err.message.clone(),
                        slot_state: SlotState::Done,
                    };
                    return self.buy_nothing(slot, &plan, &ids, &no, now).await;
                }
            };
            if tag.starts_with("live:")
                && let Some(why) = self.live_beyond_tier(slot).await?
            {
                // Live keys connected before a downgrade below live trading buy nothing.
                let no = NoPurchase {
                    status: PurchaseStatus::Skipped,
                    skip_reason: Some(SkipReason::BrokerUnavailable),
                    reason: why,
                    slot_state: SlotState::Done,
                };
                return self.buy_nothing(slot, &plan, &ids, &no, now).await;
            }
            if let PlanStrategy::Discretionary(config) = plan.strategy {
                let decided = if closing {
                    self.close_bot(&plan, slot, broker.as_ref()).await
                } else {
                    self.decide_bot(&plan, &config, slot, broker.as_ref()).await
                };
                let mut decision = match decided {
                    Ok(decision) => decision,
                    // Stop and sell waits for the answer; a day's evaluation does not trade
                    // blind either, and leaves the decision to the next day's.
                    Err(err) if err.is::<Waiting>() && closing => {
                        return Ok(Run::Wait(err.to_string()));
                    }
                    Err(err) if err.is::<Waiting>() => BotDecision {
                        order: None,
                        close: Decimal::ZERO,
                        held: Decimal::ZERO,
                        last_fill_at: 0,
                        summary: format!("No trade: {err}"),
                    },
                    Err(err) => return Ok(Run::Retry(format!("{err:#}"))),
                };
                let symbol = &plan.legs.first().context("a bot trades one symbol")?.symbol;
                let missing = match self
                    .check_books(slot, symbol, tag, broker.as_ref(), closing, &mut decision)
                    .await
                {
                    Ok(missing) => missing,
                    Err(err) => return Ok(Run::Retry(format!("{err:#}"))),
                };
                let write_off_id = ClientOrderId::for_bot_write_off(
                    &slot.plan_id,
                    jiff::Timestamp::from_millisecond(slot.slot_at)?,
                );
                let write_off_reason = format!(
                    "Written off: the account no longer holds {} of the bot's {symbol} shares beyond your other plans' \
                     (sold outside QuantShift?); the bot counts them as sold at ${}",
                    missing.normalize(),
                    app::domain::market::round_cents(decision.close)
                );
                let write_off = (missing > Decimal::ZERO).then(|| Intent {
                    symbol,
                    side: Side::Sell,
                    notional: app::domain::market::round_cents(missing * decision.close),
                    // No order: nothing was asked of the broker.
                    qty: None,
                    client_order_id: &write_off_id,
                    // Not a trade: returns count the account's own fills, the sale outside
                    // among them; only the bot's books take these shares out.
                    status: PurchaseStatus::Skipped,
                    skip_reason: None,
                    reason: Some(write_off_reason.as_str()),
                    // Booked when decided: after every fill the bot knows of (a closing
                    // sale may run long after it was asked for, past later fills).
                    booked: Some((missing, decision.close, now.max(decision.last_fill_at + 1))),
                });
                let day = app::domain::calendar::new_york()
                    .to_datetime(jiff::Timestamp::from_millisecond(slot.slot_at)?)
                    .date();
                let order_id = match &decision.order {
                    Some(_) if closing => Some(ClientOrderId::for_bot_exit(
                        &slot.plan_id,
                        jiff::Timestamp::from_millisecond(slot.slot_at)?,
                    )),
                    Some((order, _)) => {
                        Some(ClientOrderId::for_bot(&slot.plan_id, day, order.side))
                    }
                    None => None,
                };
                let mut intents: Vec<Intent<'_>> = Vec::with_capacity(2);
                if let (Some((order, qty)), Some(id)) = (&decision.order, &order_id) {
                    intents.push(Intent {
                        symbol: &order.symbol,
                        side: order.side,
                        notional: app::domain::market::round_cents(*qty * decision.close),
                        qty: Some(*qty),
                        client_order_id: id,
                        status: PurchaseStatus::Pending,
                        skip_reason: None,
                        reason: Some(order.reason.as_str()),
                        booked: None,
                    });
                }
                intents.extend(write_off);
                if intents.is_empty() {
                    // No trade today: the slot ends with what the bot saw.
                    let finish = Finish {
                        state: SlotState::Done,
                        reason: Some(&decision.summary),
                    };
                    self.db
                        .finish_slot(&slot.id, &self.owner, finish, &[], now, self.wall_now())
                        .await?;
                    return Ok(Run::Finished);
                }
                match self.write_intents(slot, &intents, Some(tag), now).await? {
                    Some(written) if written.len() == intents.len() => purchases = written,
                    Some(_) => purchases = self.db.purchases_of_slot(&slot.id).await?,
                    None => return Ok(Run::Finished),
                }
            } else {
                let actions = match self.decide(&plan, slot, broker.as_ref()).await {
                    Ok(actions) => actions,
                    Err(err) => return Ok(Run::Retry(format!("{err:#}"))),
                };
                let mut intents = Vec::new();
                for action in &actions {
                    match action {
                        Action::Order(order) => {
                            let Size::Notional(amount) = order.size else {
                                continue;
                            };
                            let Some(id) = plan
                                .legs
                                .iter()
                                .position(|l| l.symbol == order.symbol)
                                .map(|i| &ids[i])
                            else {
                                continue;
                            };
                            intents.push(Intent {
                                symbol: &order.symbol,
                                side: Side::Buy,
                                notional: amount,
                                qty: None,
                                client_order_id: id,
                                status: PurchaseStatus::Pending,
                                skip_reason: None,
                                reason: None,
                                booked: None,
                            });
                        }
                        Action::Skip { symbol, reason } => {
                            for (leg, id) in plan.legs.iter().zip(&ids) {
                                if symbol.as_ref().is_none_or(|s| *s == leg.symbol) {
                                    intents.push(Intent {
                                        symbol: &leg.symbol,
                                        side: Side::Buy,
                                        notional: leg.amount,
                                        qty: None,
                                        client_order_id: id,
                                        status: PurchaseStatus::Skipped,
                                        skip_reason: Some(SkipReason::ConditionNotMet),
                                        reason: Some(reason),
                                        booked: None,
                                    });
                                }
                            }
                        }
                    }
                }
                match self.write_intents(slot, &intents, Some(tag), now).await? {
                    // Every intent is new (the usual case): these are the slot's purchases.
                    Some(written) if written.len() == intents.len() => purchases = written,
                    // Some existed already (written by an earlier run): read them all.
                    Some(_) => purchases = self.db.purchases_of_slot(&slot.id).await?,
                    None => return Ok(Run::Finished),
                }
            }
        }
        if self.config.fail_point == Some(FailPoint::AfterIntents) {
            return Err(InjectedCrash("after writing the intents").into());
        }

        let pending: Vec<&PurchaseRow> = purchases
            .iter()
            .filter(|p| p.status == PurchaseStatus::Pending)
            .collect();
        let broker = match &account {
            Ok((broker, tag)) if slot.broker_account.as_deref().is_none_or(|pin| pin == tag) => {
                broker.clone()
            }
            Ok(_) => {
                // Never send a slot's orders to an account other than the one it began with.
                let reason = "the broker account changed after this purchase began; \
                              nothing was sent to the new account";
                return self.finish_unsent(slot, &pending, reason, now).await;
            }
            Err(err) if err.code == ErrorCode::BrokerNotConnected => {
                return self.finish_unsent(slot, &pending, &err.message, now).await;
            }
            Err(err) => return Ok(Run::Retry(err.message.clone())),
        };
        for purchase in pending {
            let request = OrderRequest {
                symbol: purchase.symbol.clone(),
                side: purchase.side,
                size: match purchase.order_qty {
                    Some(qty) => Size::Qty(qty),
                    None => Size::Notional(purchase.notional),
                },
                kind: OrderKind::Market,
                time_in_force: TimeInForce::Day,
                extended_hours: false,
                client_order_id: purchase.client_order_id.as_str().to_owned(),
            };
            let detail = serde_json::json!({"purchase": purchase.id, "symbol": purchase.symbol.as_str(),
                "side": purchase.side, "notional": purchase.notional.to_string(),
                "qty": purchase.order_qty.map(|q| q.to_string()),
                "client_order_id": purchase.client_order_id.as_str()});
            let audit = self.audit_entry(slot, AuditAction::OrderSubmitted, detail);
            if !self
                .db
                .mark_sending(&purchase.id, &slot.id, &self.owner, now, audit)
                .await?
            {
                tracing::warn!(slot = %slot.id, "the slot's lease was taken over; this worker stops");
                return Ok(Run::Finished);
            }
            // The account is about to change: no view from before this order is served.
            self.portfolio
                .account_views()
                .changed(slot.user_id.as_str());
            let placed = broker.place_order(&request).await;
            // Whatever the answer, the order may have reached the account: a view read
            // while it was on its way is outdated.
            self.portfolio
                .account_views()
                .changed(slot.user_id.as_str());
            let outcome = match placed {
                Ok(order) => outcome_of(purchase, &order, now),
                Err(BrokerError::Transient(message)) => return Ok(Run::Retry(message)),
                Err(BrokerError::Rejected(message)) => {
                    plain(purchase, PurchaseStatus::Rejected, &message)
                }
                Err(BrokerError::Unauthorized) => plain(
                    purchase,
                    PurchaseStatus::Failed,
                    "the broker did not accept the account's API keys",
                ),
                Err(other) => plain(purchase, PurchaseStatus::Failed, &other.to_string()),
            };
            if self.config.fail_point == Some(FailPoint::AfterSend) {
                return Err(InjectedCrash("after sending an order").into());
            }
            if !self.record(slot, &outcome).await? {
                return Ok(Run::Finished);
            }
        }
        // A bot's day keeps its signal (its order's reason) as the slot's.
        let signal = plan
            .is_bot()
            .then(|| {
                purchases
                    .iter()
                    .find(|p| !p.client_order_id.is_write_off())
                    .or(purchases.first())
                    .and_then(|p| p.reason.clone())
            })
            .flatten();
        let finish = Finish {
            state: SlotState::Done,
            reason: signal.as_deref(),
        };
        self.db
            .finish_slot(
                &slot.id,
                &self.owner,
                finish,
                &[],
                self.now(),
                self.wall_now(),
            )
            .await
            .context("failed to record the slot's end")?;
        Ok(Run::Finished)
    }

    /// Writes one answer while this worker holds the slot, audited in the same
    /// transaction. Returns whether the lease was still held.
    async fn record(&self, slot: &SlotRow, outcome: &Outcome) -> anyhow::Result<bool> {
        let audit = self.audit_entry(
            slot,
            AuditAction::OrderOutcome,
            serde_json::json!({"purchase": outcome.purchase_id, "status": outcome.status.as_str(), "reason": outcome.reason}),
        );
        if !self
            .db
            .record_outcome(outcome, &slot.id, &self.owner, self.now(), audit)
            .await?
        {
            tracing::warn!(slot = %slot.id, "the slot's lease was taken over; this worker stops");
            return Ok(false);
        }
        Ok(true)
    }

    /// Ends a slot whose remaining orders cannot be sent. A leg an earlier attempt sent
    /// (it has a `submitted_at`) is `unknown`: it cannot be looked up any more. One never
    /// sent is `failed`.
    async fn finish_unsent(
        &self,
        slot: &SlotRow,
        pending: &[&PurchaseRow],
        reason: &str,
        now: i64,
    ) -> anyhow::Result<Run> {
        let outcomes: Vec<Outcome> = pending
            .iter()
            .map(|p| {
                let status = if p.submitted_at.is_some() {
                    PurchaseStatus::Unknown
                } else {
                    PurchaseStatus::Failed
                };
                plain(p, status, reason)
            })
            .collect();
        let finish = Finish {
            state: SlotState::Done,
            reason: Some(reason),
        };
        self.db
            .finish_slot(
                &slot.id,
                &self.owner,
                finish,
                &outcomes,
                now,
                self.wall_now(),
            )
            .await?;
        Ok(Run::Finished)
    }

    /// Gives a slot back for another attempt, with backoff; or, out of attempts, gives it up.
    async fn retry_later(&self, slot: &SlotRow, message: &str, refund: bool) -> anyhow::Result<()> {
        let now = self.now();
        if !refund && slot.attempts >= self.config.max_attempts {
            return self.give_up(slot, message).await;
        }
        let backoff = if refund {
            0
        } else {
            (5_000i64 << slot.attempts.clamp(0, 6)).min(300_000)
        };
        self.db
            .release_slot(slot, &self.owner, now + backoff, message, refund, now)
            .await?;
        Ok(())
    }

    /// Ends a slot that ran out of attempts as `failed`. Each order it may have sent is
    /// looked up by its client order id first: an earlier send that timed out may have
    /// been placed after all.
    async fn give_up(&self, slot: &SlotRow, message: &str) -> anyhow::Result<()> {
        let now = self.now();
        let reason = format!(
            "gave up after {} attempts: {message}",
            slot.attempts.min(self.config.max_attempts)
        );
        let purchases = self.db.purchases_of_slot(&slot.id).await?;
        if purchases.is_empty()
            && let Some(row) = self
                .db
                .plan_even_deleted(slot.plan_id.as_str(), slot.user_id.as_str())
                .await?
        {
            // Nothing was decided: the user still sees each leg and why it did not buy.
            let plan = row.into_plan()?;
            let ids = Self::order_ids(slot, &plan)?;
            let no = NoPurchase {
                status: PurchaseStatus::Failed,
                skip_reason: None,
                reason,
                slot_state: SlotState::Failed,
            };
            self.buy_nothing(slot, &plan, &ids, &no, now).await?;
            return Ok(());
        }
        // Another account (or none): the reconcile pass settles these with its checks.
        let broker = match self.brokers.account_for(slot.user_id.as_str()).await {
            Ok((broker, tag)) if slot.broker_account.as_deref().is_none_or(|pin| pin == tag) => {
                Some(broker)
            }
            _ => None,
        };
        let pending: Vec<&PurchaseRow> = purchases
            .iter()
            .filter(|p| p.status == PurchaseStatus::Pending)
            .collect();
        // The lookups share one budget, well inside the lease; those it leaves are
        // `unknown` and the reconcile pass goes on asking.
        let mut outcomes: Vec<Outcome> = pending
            .iter()
            .map(|p| unconfirmed(p, &reason, now))
            .collect();
        let lookups = async {
            for (i, purchase) in pending.iter().enumerate() {
                outcomes[i] = look_up(broker.as_deref(), purchase, &reason, now).await;
            }
        };
        let _ = tokio::time::timeout(self.config.slot_budget / 2, lookups).await;
        let finish = Finish {
            state: SlotState::Failed,
            reason: Some(&reason),
        };
        self.db
            .finish_slot(
                &slot.id,
                &self.owner,
                finish,
                &outcomes,
                now,
                self.wall_now(),
            )
            .await?;
        Ok(())
    }

    /// Runs the plan's strategy for this slot: the same code the backtester runs.
    async fn decide(
        &self,
        plan: &Plan,
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
        match plan.strategy {
            PlanStrategy::Smart(smart) => {
                let mut strategy = SmartDca::new(plan.legs.clone(), smart);
                if smart.when_not_met == WhenNotMet::CarryForward {
                    let mut owed = std::collections::BTreeMap::new();
                    for (symbol, notional) in self
                        .db
                        .carried_since_last_purchase(slot.plan_id.as_str())
                        .await?
                    {
                        *owed.entry(symbol).or_insert(Decimal::ZERO) += notional;
                    }
                    let max = self.config.plan_limits.plan_limits().max_per_slot;
                    for (symbol, amount) in cap_carried(&plan.legs, &owed, max) {
                        strategy.set_carried(&symbol, amount);
                    }
                }

                // Enough daily history for any condition (periods are at most 400 bars).
                let from = slot_time.checked_sub(jiff::SignedDuration::from_hours(24 * 600))?;
                let slot_date = app::domain::calendar::new_york()
                    .to_datetime(slot_time)
                    .date();
                for leg in &plan.legs {
                    let bars = broker
                        .bars(&leg.symbol, TimeFrame::Day, from, slot_time)
                        .await
                        .map_err(|err| {
                            anyhow::anyhow!("could not load {} bars: {err}", leg.symbol)
                        })?;
                    // Only bars that closed before the slot: no peeking at the slot's day.
                    for bar in bars.iter().filter(|b| b.exchange_date() < slot_date) {
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
            PlanStrategy::Pure => PureDca::new(plan.legs.clone()).on_event(
                Event::Slot { time: slot_time },
                &account,
                &mut actions,
            ),
            // Decided by `decide_bot`.
            PlanStrategy::Discretionary(_) => anyhow::bail!("a bot is decided by decide_bot"),
        }
        Ok(actions)
    }

    /// The bot's books against the account, when it holds shares: a sale in `decision`
    /// is cut to its own shares the account holds beyond the other plans' (never the
    /// user's), and the shares its books count that the account no longer holds (sold
    /// outside QuantShift) are returned, to be written off.
    async fn check_books(
        &self,
        slot: &SlotRow,
        symbol: &app::domain::market::Symbol,
        account: &str,
        broker: &dyn Broker,
        closing: bool,
        decision: &mut BotDecision,
    ) -> anyhow::Result<Decimal> {
        if decision.held <= Decimal::ZERO {
            return Ok(Decimal::ZERO);
        }
        let (sellable, own) = self.room(slot, symbol, account, broker).await?;
        // Shares it holds in another account (other keys connected since) are not missing
        // from this one.
        let elsewhere = self
            .db
            .held_elsewhere(slot.plan_id.as_str(), account)
            .await?;
        let here = (decision.held - elsewhere).max(Decimal::ZERO);
        let missing = (here - own).max(Decimal::ZERO);
        if let Some((order, qty)) = &mut decision.order
            && order.side == Side::Sell
        {
            let sellable = order_qty(sellable.min(here).min(*qty));
            if sellable < *qty {
                tracing::warn!(slot = %slot.id, %sellable, wanted = %qty, "a bot's sale cut to what the account holds beyond other plans");
                *qty = sellable;
            }
            if qty.is_zero() {
                decision.order = None;
                if missing.is_zero() {
                    decision.summary = format!(
                        "Not sold: the account holds none of the bot's {symbol} beyond your other plans' \
                         (one of their sales may be under way); {}",
                        if closing {
                            "ask again once it is over"
                        } else {
                            "it decides again at its next evaluation"
                        }
                    );
                }
            }
        }
        Ok(missing)
    }

    /// What the broker account holds of `symbol` beyond the user's other plans' shares,
    /// as (what the bot may sell, what it may count as its own). The other plans' shares
    /// are read before and after the account's positions: what the bot counts as its own
    /// takes them at the least they may hold (their sales that may have filled counted as
    /// sold), so a fill of theirs meanwhile never has shares that are there written off;
    /// what it may sell takes them at the most their recorded fills say, either side of
    /// the positions. (A purchase of theirs that filled and is not recorded yet is not
    /// counted: a sale only reaches it when the bot's books hold more than the account.)
    async fn room(
        &self,
        slot: &SlotRow,
        symbol: &app::domain::market::Symbol,
        account: &str,
        broker: &dyn Broker,
    ) -> anyhow::Result<(Decimal, Decimal)> {
        let (user, plan) = (slot.user_id.as_str(), slot.plan_id.as_str());
        let (most_before, least_before) = self
            .db
            .held_by_other_plans(user, plan, symbol.as_str(), account)
            .await?;
        let held = broker
            .positions()
            .await
            .map_err(|err| anyhow::anyhow!("could not read the account's positions: {err}"))?
            .into_iter()
            .filter(|p| &p.symbol == symbol)
            .map(|p| p.qty)
            .sum::<Decimal>();
        let (most_after, least_after) = self
            .db
            .held_by_other_plans(user, plan, symbol.as_str(), account)
            .await?;
        let (most, least) = (most_before.max(most_after), least_before.min(least_after));
        Ok((
            (held - most).max(Decimal::ZERO),
            (held - least).max(Decimal::ZERO),
        ))
    }

    /// A stopped bot's closing sale ("Stop and sell"): everything its own fills say it
    /// holds, once its last order has an answer.
    async fn close_bot(
        &self,
        plan: &Plan,
        slot: &SlotRow,
        broker: &dyn Broker,
    ) -> anyhow::Result<BotDecision> {
        let leg = plan.legs.first().context("a bot trades one symbol")?;
        let (fills, open) = self.db.bot_fills(slot.plan_id.as_str(), &slot.id).await?;
        if open > 0 {
            return Err(
                Waiting("waiting for the answer to the bot's last order before selling").into(),
            );
        }
        // An order whose end the broker never told may have sold the shares already.
        if self.db.unresolved_orders(slot.plan_id.as_str()).await? > 0 {
            return Ok(BotDecision {
                order: None,
                close: Decimal::ZERO,
                held: Decimal::ZERO,
                last_fill_at: 0,
                summary: "Not sold: the broker never said what became of one of the bot's orders; check the account in Alpaca's app".to_owned(),
            });
        }
        let (ledger, _) = app::domain::ledger::PositionLedger::replay(&leg.symbol, &fills)?;
        let qty = order_qty(ledger.qty);
        if qty.is_zero() {
            return Ok(BotDecision {
                order: None,
                close: Decimal::ZERO,
                held: Decimal::ZERO,
                last_fill_at: 0,
                summary: "Stopped: the bot held nothing to sell".to_owned(),
            });
        }
        // The order's value is estimated at the latest trade (else what the shares cost).
        let close = match broker.latest_price(&leg.symbol).await {
            Ok(price) => price,
            Err(_) => ledger.cost / ledger.qty,
        };
        Ok(BotDecision {
            order: Some((
                app::domain::order::OrderIntent::sell_qty(
                    leg.symbol.clone(),
                    qty,
                    "Stopped and sold: the bot's whole position",
                ),
                qty,
            )),
            close,
            held: ledger.qty,
            last_fill_at: last_fill_at(&fills),
            summary: String::new(),
        })
    }

    /// A signal bot's decision after the slot's close: its bars from the warm-up before
    /// its first evaluation up to the slot's day, and its own fills, replayed through the
    /// strategy the backtester runs ([`app::domain::strategy::ma_crossover::live`]).
    /// Waits (an error: the slot is retried) while an earlier order of the bot has no
    /// final answer, so no decision is made without knowing what the bot holds.
    async fn decide_bot(
        &self,
        plan: &Plan,
        config: &app::domain::strategy::ma_crossover::MaCrossoverConfig,
        slot: &SlotRow,
        broker: &dyn Broker,
    ) -> anyhow::Result<BotDecision> {
        use app::domain::calendar;
        let leg = plan.legs.first().context("a bot trades one symbol")?;
        let (fills, open) = self.db.bot_fills(slot.plan_id.as_str(), &slot.id).await?;
        if open > 0 {
            return Err(Waiting("waiting for the answer to the bot's previous order").into());
        }
        let slot_time = jiff::Timestamp::from_millisecond(slot.slot_at)?;
        let ny = calendar::new_york();
        let slot_date = ny.to_datetime(slot_time).date();
        let created = plan.created_at.unwrap_or(slot_time);
        let start = bot_start(plan, config, created).unwrap_or(slot_date);
        let from = ny.to_timestamp(start.to_datetime(jiff::civil::Time::midnight()))?;
        let bars = broker
            .bars(&leg.symbol, TimeFrame::Day, from, slot_time)
            .await
            .map_err(|err| anyhow::anyhow!("could not load {} bars: {err}", leg.symbol))?;
        // The bars of the days up to the slot's (its close is final: the bot runs after it).
        let bars: Vec<_> = bars
            .into_iter()
            .filter(|b| (start..=slot_date).contains(&b.exchange_date()))
            .collect();
        let Some(close) = bars
            .last()
            .filter(|b| b.exchange_date() == slot_date)
            .map(|b| b.close)
        else {
            anyhow::bail!(
                "the broker has no bar of {} for {slot_date} yet",
                leg.symbol
            );
        };
        let done = app::domain::strategy::ma_crossover::live::evaluate(
            &leg.symbol,
            config,
            leg.amount,
            &bars,
            &fills,
        )?;
        let held = done.ledger.qty;
        let summary = match (held.is_zero(), done.informed) {
            (_, false) => format!(
                "No trade: {} of the {} days of history the bot needs so far",
                bars.len(),
                config.warm_up_bars()
            ),
            (true, true) => "No trade: no signal, nothing held".to_owned(),
            (false, true) => format!(
                "No trade: holding {} shares{}{}",
                held.normalize(),
                done.stop
                    .map(|s| format!(", stop {}", app::domain::market::round_cents(s)))
                    .unwrap_or_default(),
                done.target
                    .map(|t| format!(", target {}", app::domain::market::round_cents(t)))
                    .unwrap_or_default()
            ),
        };
        // The broker is sent 8 decimal places (the backtest keeps 9): the order says
        // exactly what is sent.
        let order = done.intent.and_then(|intent| match intent.size {
            Size::Qty(qty) => {
                let qty = order_qty(qty);
                (qty > Decimal::ZERO).then_some((intent, qty))
            }
            Size::Notional(_) => None,
        });
        // What it holds by every fill of its own (the evaluation leaves out any later than
        // the day it decides on), for the check against the account.
        let (ledger, _) = app::domain::ledger::PositionLedger::replay(&leg.symbol, &fills)?;
        Ok(BotDecision {
            order,
            close,
            held: ledger.qty,
            last_fill_at: last_fill_at(&fills),
            summary,
        })
    }

    async fn run_status(
        &self,
        slot: &SlotRow,
        state: RunState,
        reason: Option<&str>,
        next_run_at: Option<jiff::Timestamp>,
    ) {
        let last_run = jiff::Timestamp::from_millisecond(slot.slot_at).ok();
        let event = LiveEvent::RunStatus(RunStatus {
            plan_id: slot.plan_id.to_string(),
            state,
            reason: reason.map(str::to_owned),
            next_run_at,
            last_run,
        });
        self.events.publish(slot.user_id.as_str(), &event).await;
    }

    /// Tells the user's browsers what the slot did: each purchase, the bot's state, and
    /// the account after any fill.
    async fn announce(&self, slot: &SlotRow, next_run_at: Option<jiff::Timestamp>) {
        let Ok(purchases) = self.db.purchases_of_slot(&slot.id).await else {
            return;
        };
        let problem = purchases
            .iter()
            .find(|p| p.status.is_problem())
            .and_then(|p| p.reason.clone());
        // An order that reached the broker changes the account (cash, buying power held).
        let sent = purchases.iter().any(|p| p.broker_order_id.is_some());
        for purchase in purchases {
            self.publish_purchase(purchase).await;
        }
        let state = if problem.is_some() {
            RunState::Error
        } else {
            RunState::Idle
        };
        self.run_status(slot, state, problem.as_deref(), next_run_at)
            .await;
        if sent {
            self.portfolio.account_changed(slot.user_id.as_str()).await;
        }
    }

    async fn publish_purchase(&self, purchase: PurchaseRow) {
        let user_id = purchase.user_id.clone();
        let event = LiveEvent::Purchase {
            purchase: Purchase::from(purchase),
        };
        self.events.publish(user_id.as_str(), &event).await;
    }

    /// One reconcile pass, bounded by `reconcile_budget`: asks the broker about orders it
    /// has not finished with, those due for a look first (each row backs off on its own,
    /// so rows that never resolve cannot block newer ones). Fills found late are
    /// announced. Returns how many orders it looked at.
    pub async fn reconcile_once(&self) -> anyhow::Result<usize> {
        let now = self.now();
        let rows = self.db.purchases_to_check(now, 50).await?;
        let count = rows.len();
        // Users whose orders moved: their accounts are refreshed once, after the pass.
        let mut moved = std::collections::BTreeSet::new();
        let pass = async {
            for (purchase, pinned) in rows {
                match self.check_order(purchase, pinned, now).await {
                    Ok(Some(user_id)) => {
                        moved.insert(user_id);
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::warn!(error = %format!("{err:#}"), "could not check an open order")
                    }
                }
            }
        };
        if tokio::time::timeout(self.config.reconcile_budget, pass)
            .await
            .is_err()
        {
            tracing::warn!("a reconcile pass ran out of time; it continues on the next pass");
        }
        for user_id in moved {
            self.portfolio.account_changed(&user_id).await;
        }
        Ok(count)
    }

    async fn check_order(
        &self,
        purchase: PurchaseRow,
        pinned: Option<String>,
        now: i64,
    ) -> anyhow::Result<Option<String>> {
        let attempts = purchase.check_attempts + 1;
        let since = purchase.submitted_at.unwrap_or(purchase.created_at);
        let window_over = now - since > ms(self.config.check_window);
        // The next check is booked before this one is made: a check that hangs past the
        // pass's budget or fails never keeps this order first in line.
        let next_check = now + check_backoff(purchase.check_attempts);
        self.db
            .postpone_check(&purchase.id, next_check, attempts)
            .await?;
        let account = self.brokers.account_for(purchase.user_id.as_str()).await;
        let gone = match &account {
            Ok((_, tag)) => pinned.as_deref().is_some_and(|pin| pin != tag),
            Err(err) => err.code == ErrorCode::BrokerNotConnected,
        };
        if gone {
            let reason = "the broker account this order was sent to is no longer connected; \
                          check the order there";
            let outcome = Outcome {
                submitted_at: purchase.submitted_at,
                ..plain(&purchase, PurchaseStatus::Unknown, reason)
            };
            self.db
                .update_open_purchase(&outcome, attempts, now)
                .await?;
            self.publish_purchase_by_id(&purchase).await;
            return Ok(None);
        }
        let broker = match &account {
            Ok((broker, _)) => broker,
            Err(err) => anyhow::bail!("could not open the user's broker: {}", err.message),
        };
        let looked = broker
            .order_by_client_id(purchase.client_order_id.as_str())
            .await;
        let mut outcome = match looked {
            Ok(order) => outcome_of(&purchase, &order, now),
            Err(BrokerError::NotFound) if purchase.status == PurchaseStatus::Unknown => plain(
                &purchase,
                PurchaseStatus::Failed,
                "the broker has no record of this order; nothing was bought",
            ),
            Err(err) => Outcome {
                qty: purchase.qty,
                price: purchase.price,
                submitted_at: purchase.submitted_at,
                ..plain(
                    &purchase,
                    purchase.status,
                    purchase
                        .reason
                        .as_deref()
                        .unwrap_or(&format!("could not check the order yet: {err}")),
                )
            },
        };
        if outcome.status.is_open() || outcome.status == PurchaseStatus::Unknown {
            if window_over {
                outcome.status = PurchaseStatus::Unknown;
                outcome.reason = Some(
                    "the broker did not finish this order within the check window; check it there"
                        .to_owned(),
                );
                outcome.next_check_at = None;
            } else {
                outcome.next_check_at = Some(next_check);
            }
        }
        // A new status, or more of the order filled.
        let changed = outcome.status != purchase.status || outcome.qty != purchase.qty;
        self.db
            .update_open_purchase(&outcome, attempts, now)
            .await?;
        if !changed {
            return Ok(None);
        }
        self.publish_purchase_by_id(&purchase).await;
        Ok(Some(purchase.user_id.to_string()))
    }

    /// Publishes a purchase as it now stands in the database.
    async fn publish_purchase_by_id(&self, purchase: &PurchaseRow) {
        if let Ok(rows) = self.db.purchases_of_slot(&purchase.slot_id).await
            && let Some(row) = rows.into_iter().find(|p| p.id == purchase.id)
        {
            self.publish_purchase(row).await;
        }
    }
}

/// A failure injected by a test's `FailPoint`: the worker stops as if it crashed,
/// leaving its lease behind.
#[derive(Debug, thiserror::Error)]
#[error("injected failure {0}")]
struct InjectedCrash(&'static str);

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::ids::{PlanId, UserId};
    use app::domain::market::Symbol;
    use rust_decimal::dec;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn scheduled_slots_of_inactive_plans_skip_and_late_ones_are_missed() {
        let at = 1_000 * HOUR;
        let run = |status, kind, now| precheck(status, kind, at, now, 4 * HOUR);
        assert_eq!(
            run(PlanStatus::Active, SlotKind::Scheduled, at + HOUR),
            None
        );
        let paused = run(PlanStatus::Paused, SlotKind::Scheduled, at).unwrap();
        assert_eq!(
            (paused.status, paused.skip_reason, paused.slot_state),
            (
                PurchaseStatus::Skipped,
                Some(SkipReason::PlanInactive),
                SlotState::Done
            )
        );
        let late = run(PlanStatus::Active, SlotKind::Scheduled, at + 4 * HOUR + 1).unwrap();
        assert_eq!(
            (late.status, late.skip_reason, late.slot_state),
            (PurchaseStatus::Missed, None, SlotState::Missed)
        );
        assert_eq!(
            run(PlanStatus::Active, SlotKind::Scheduled, at + 4 * HOUR),
            None,
            "the window's edge still buys"
        );
        assert_eq!(
            run(PlanStatus::Paused, SlotKind::Manual, at + 9 * HOUR),
            None,
            "buy now runs when taken"
        );
    }

    fn purchase() -> PurchaseRow {
        PurchaseRow {
            id: "p1".into(),
            slot_id: "s1".into(),
            plan_id: PlanId::parse("6f9619ff-8b86-4011-b42d-00c04fc964ff").unwrap(),
            user_id: UserId::parse("7f9619ff-8b86-4011-b42d-00c04fc964ff").unwrap(),
            symbol: Symbol::parse("SPY").unwrap(),
            side: Side::Buy,
            notional: dec!(50),
            order_qty: None,
            client_order_id: ClientOrderId::from_stored("c1".into()),
            broker_order_id: None,
            status: PurchaseStatus::Pending,
            skip_reason: None,
            qty: None,
            price: None,
            reason: None,
            slot_at: 0,
            submitted_at: None,
            filled_at: None,
            check_attempts: 0,
            created_at: 0,
        }
    }

    fn order(status: OrderStatus, filled: Decimal) -> OrderSnapshot {
        OrderSnapshot {
            id: "o1".into(),
            client_order_id: "c1".into(),
            symbol: Symbol::parse("SPY").unwrap(),
            side: Side::Buy,
            size: Size::Notional(dec!(50)),
            status,
            filled_qty: filled,
            filled_avg_price: (!filled.is_zero()).then_some(dec!(500)),
            created_at: jiff::Timestamp::UNIX_EPOCH,
            filled_at: None,
            updated_at: Some(jiff::Timestamp::from_second(60).unwrap()),
        }
    }

    #[test]
    fn outcomes_keep_whatever_filled() {
        let p = purchase();
        let filled = outcome_of(&p, &order(OrderStatus::Filled, dec!(0.1)), 7);
        assert_eq!(
            (filled.status, filled.qty, filled.price),
            (PurchaseStatus::Filled, Some(dec!(0.1)), Some(dec!(500)))
        );
        assert_eq!(filled.next_check_at, None);

        let part = outcome_of(&p, &order(OrderStatus::Canceled, dec!(0.04)), 7);
        assert_eq!(part.status, PurchaseStatus::PartiallyFilled);
        assert_eq!((part.qty, part.price), (Some(dec!(0.04)), Some(dec!(500))));
        assert!(part.reason.unwrap().contains("canceled the rest"));
        assert_eq!(
            part.filled_at,
            Some(60_000),
            "its last fill, not the time of the check"
        );
        let expired = outcome_of(&p, &order(OrderStatus::Expired, dec!(0.04)), 7);
        assert_eq!(expired.status, PurchaseStatus::PartiallyFilled);

        let working = outcome_of(&p, &order(OrderStatus::PartiallyFilled, dec!(0.02)), 7);
        assert_eq!(
            (working.status, working.qty, working.next_check_at),
            (PurchaseStatus::Accepted, Some(dec!(0.02)), Some(7))
        );

        let none = outcome_of(&p, &order(OrderStatus::Expired, Decimal::ZERO), 7);
        assert_eq!((none.status, none.qty), (PurchaseStatus::Rejected, None));
    }

    #[test]
    fn checks_back_off_to_an_hour() {
        assert_eq!(check_backoff(0), 10_000);
        assert_eq!(check_backoff(1), 20_000);
        assert_eq!(check_backoff(50), 3_600_000);
    }
}
