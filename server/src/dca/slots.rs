//! The `slots` and `purchases` tables: the scheduler's queue and what it bought.
//!
//! Claiming is one statement: an `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`.
//! SQLite runs it under its single-writer lock; on PostgreSQL claims take turns on a
//! transaction-scoped advisory lock (and `FOR UPDATE SKIP LOCKED` passes over rows other
//! writers hold). A claim passes over users who already have a slot running, so one
//! user's backlog never holds every worker while another user's slot waits.
//!
//! Every write a worker makes while it runs a slot is conditional on still holding the
//! slot's lease: a worker whose lease expired and was taken over writes nothing.

use super::repository::PlanRow;
use crate::db::audit::{AuditEntry, insert_audit};
use crate::db::{Backend, Db};
use app::api::dca::{PurchaseStatus, SkipReason, SlotKind, SlotState};
use app::domain::ids::{ClientOrderId, PlanId, UserId};
use app::domain::market::Symbol;
use app::domain::order::Side;
use rust_decimal::Decimal;
use sqlx::Row as _;
use std::collections::HashMap;
use std::str::FromStr as _;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRow {
    pub id: String,
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub slot_at: i64,
    pub kind: SlotKind,
    pub attempts: i64,
    /// Why the last attempt did not finish, if one did not.
    pub reason: Option<String>,
    /// The broker account the slot first ran with (see `BrokerDirectory::account_tag`).
    pub broker_account: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchaseRow {
    pub id: String,
    pub slot_id: String,
    pub plan_id: PlanId,
    pub user_id: UserId,
    pub symbol: Symbol,
    pub side: Side,
    pub notional: Decimal,
    /// The shares ordered, for an order by quantity.
    pub order_qty: Option<Decimal>,
    pub client_order_id: ClientOrderId,
    pub broker_order_id: Option<String>,
    pub status: PurchaseStatus,
    pub skip_reason: Option<SkipReason>,
    pub qty: Option<Decimal>,
    pub price: Option<Decimal>,
    pub reason: Option<String>,
    pub slot_at: i64,
    pub submitted_at: Option<i64>,
    pub filled_at: Option<i64>,
    pub check_attempts: i64,
    pub created_at: i64,
}

/// What became of one purchase. Written as each order's answer arrives, and by the
/// reconcile pass for answers that come later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub purchase_id: String,
    pub status: PurchaseStatus,
    pub broker_order_id: Option<String>,
    pub qty: Option<Decimal>,
    pub price: Option<Decimal>,
    pub reason: Option<String>,
    pub submitted_at: Option<i64>,
    pub filled_at: Option<i64>,
    /// When the reconcile pass should ask the broker again (`None`: never).
    pub next_check_at: Option<i64>,
}

/// One leg's intent, written before anything is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent<'a> {
    pub symbol: &'a Symbol,
    pub side: Side,
    /// Dollars for an order by amount; for an order by quantity, its estimated value.
    pub notional: Decimal,
    /// The shares an order by quantity (a bot's) asks for.
    pub qty: Option<Decimal>,
    pub client_order_id: &'a ClientOrderId,
    pub status: PurchaseStatus,
    pub skip_reason: Option<SkipReason>,
    pub reason: Option<&'a str>,
    /// Written already booked (a bot's write-off, never sent): shares, price, when.
    pub booked: Option<(Decimal, Decimal, i64)>,
}

/// A slot's final state, written with its reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finish<'a> {
    pub state: SlotState,
    pub reason: Option<&'a str>,
}

/// Why a "buy now" was not queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManualRefused {
    /// One is already waiting or running for this plan (its slot id).
    Pending(String),
}

/// The PostgreSQL advisory lock key claims take turns on (any constant unique to it).
const CLAIM_LOCK: i64 = 0x0051_5343_4c41_494d;

const PURCHASE_COLUMNS: &str = "id, slot_id, plan_id, user_id, symbol, side, notional, order_qty, client_order_id, \
     broker_order_id, status, skip_reason, qty, price, reason, slot_at, submitted_at, filled_at, check_attempts, \
     created_at";

/// A bot's write-off (`ClientOrderId::for_bot_write_off`): a sale of the bot's books with
/// no order, `skipped` with the shares and price it was booked at (purchases as `p`).
const WRITE_OFF: &str = "(p.side = 'sell' AND p.status = 'skipped' AND p.filled_at IS NOT NULL)";

const SLOT_COLUMNS: &str = "id, plan_id, user_id, slot_at, kind, attempts, reason, broker_account";

fn decode<T>(column: &str, value: Option<T>) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unexpected value in {column}").into(),
    })
}

fn decimal(column: &str, text: Option<String>) -> Result<Option<Decimal>, sqlx::Error> {
    text.map(|t| decode(column, Decimal::from_str(&t).ok()))
        .transpose()
}

fn text(value: Decimal) -> String {
    value.normalize().to_string()
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn purchase(row: &sqlx::any::AnyRow) -> Result<PurchaseRow, sqlx::Error> {
    let status: String = row.try_get("status")?;
    let skip_reason: Option<String> = row.try_get("skip_reason")?;
    let symbol: String = row.try_get("symbol")?;
    let plan_id: String = row.try_get("plan_id")?;
    let user_id: String = row.try_get("user_id")?;
    let client_order_id: String = row.try_get("client_order_id")?;
    Ok(PurchaseRow {
        id: row.try_get("id")?,
        slot_id: row.try_get("slot_id")?,
        plan_id: decode("plan_id", PlanId::parse(&plan_id).ok())?,
        user_id: decode("user_id", UserId::parse(&user_id).ok())?,
        symbol: decode("symbol", Symbol::parse(&symbol).ok())?,
        side: match row.try_get::<String, _>("side")?.as_str() {
            "sell" => Side::Sell,
            _ => Side::Buy,
        },
        notional: decode(
            "notional",
            decimal("notional", Some(row.try_get("notional")?))?,
        )?,
        order_qty: decimal("order_qty", row.try_get("order_qty")?)?,
        client_order_id: ClientOrderId::from_stored(client_order_id),
        broker_order_id: row.try_get("broker_order_id")?,
        status: decode("status", PurchaseStatus::parse(&status))?,
        skip_reason: skip_reason
            .map(|r| decode("skip_reason", SkipReason::parse(&r)))
            .transpose()?,
        qty: decimal("qty", row.try_get("qty")?)?,
        price: decimal("price", row.try_get("price")?)?,
        reason: row.try_get("reason")?,
        slot_at: row.try_get("slot_at")?,
        submitted_at: row.try_get("submitted_at")?,
        filled_at: row.try_get("filled_at")?,
        check_attempts: row.try_get::<i64, _>("check_attempts")?,
        created_at: row.try_get("created_at")?,
    })
}

fn slot(row: &sqlx::any::AnyRow) -> Result<SlotRow, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let plan_id: String = row.try_get("plan_id")?;
    let user_id: String = row.try_get("user_id")?;
    Ok(SlotRow {
        id: row.try_get("id")?,
        plan_id: decode("plan_id", PlanId::parse(&plan_id).ok())?,
        user_id: decode("user_id", UserId::parse(&user_id).ok())?,
        slot_at: row.try_get("slot_at")?,
        kind: decode("kind", SlotKind::parse(&kind))?,
        attempts: row.try_get::<i64, _>("attempts")?,
        reason: row.try_get("reason")?,
        broker_account: row.try_get("broker_account")?,
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Db {
    /// When the user placed their first purchase that filled (Unix ms, by our clock), if
    /// any: the start of their paper-trading record.
    pub async fn first_fill_at(&self, user_id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT MIN(created_at) FROM purchases WHERE user_id = $1 AND status = 'filled'",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await
    }

    /// When the plan's latest scheduled slot that ran (or is about to) was due (Unix ms),
    /// if it has one: a changed or resumed schedule does not run the plan again on that
    /// day. A slot that was missed or failed, or whose every order came to nothing
    /// (skipped, refused), does not count; a bot's evaluation without a trade does.
    pub async fn last_scheduled_slot(&self, plan_id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(&format!(
            "SELECT MAX(s.slot_at) FROM slots s WHERE s.plan_id = $1 AND s.kind = 'scheduled' \
             AND s.state IN ('due', 'running', 'done') \
             AND NOT (EXISTS (SELECT 1 FROM purchases p WHERE p.slot_id = s.id) \
                      AND NOT EXISTS (SELECT 1 FROM purchases p WHERE p.slot_id = s.id \
                          AND (p.status IN ('filled', 'partially_filled', 'pending', 'accepted', 'unknown') \
                               OR {WRITE_OFF})))",
        ))
        .bind(plan_id)
        .fetch_one(self.pool())
        .await
    }

    /// How many of the plan's orders ended without the broker ever saying what became of
    /// them (`unknown`, no longer checked).
    pub async fn unresolved_orders(&self, plan_id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM purchases WHERE plan_id = $1 AND status = 'unknown' \
             AND next_check_at IS NULL",
        )
        .bind(plan_id)
        .fetch_one(self.pool())
        .await
    }

    /// How many "buy now" (for a bot: closing sale) slots the plan has had.
    pub async fn manual_slot_count(&self, plan_id: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM slots WHERE plan_id = $1 AND kind = 'manual'")
            .bind(plan_id)
            .fetch_one(self.pool())
            .await
    }

    /// Active plans whose next slot is due.
    pub async fn due_plans(&self, now: i64, limit: i64) -> Result<Vec<PlanRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, mode, status, config, next_run_at, created_at, updated_at, paused_reason FROM plans \
             WHERE status = 'active' AND deleted_at IS NULL AND next_run_at IS NOT NULL AND next_run_at <= $1 \
             ORDER BY next_run_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(PlanRow::from_any_row).collect()
    }

    /// Creates the plan's slot at `slot_at` and moves the plan on to `next`, together. The
    /// unique key and the `next_run_at = slot_at` guard make a second instance's attempt a
    /// no-op. `statuses` are the plan states that may be moved on (`active` for the
    /// scheduler; a plan being resumed is still `paused`). Returns whether this call
    /// created the slot.
    pub async fn schedule_slot(
        &self,
        plan_id: &str,
        user_id: &str,
        slot_at: i64,
        next: Option<i64>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(
            "UPDATE plans SET next_run_at = $1 WHERE id = $2 AND next_run_at = $3 \
             AND status IN ('active', 'paused') AND deleted_at IS NULL",
        )
        .bind(next)
        .bind(plan_id)
        .bind(slot_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO slots (id, plan_id, user_id, slot_at, kind, state, not_before, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'scheduled', 'due', $4, $5, $5) ON CONFLICT (plan_id, slot_at, kind) DO NOTHING",
        )
        .bind(new_id())
        .bind(plan_id)
        .bind(user_id)
        .bind(slot_at)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// A "buy now" slot at `now`. With an idempotency key, a repeated request creates
    /// nothing new (`Ok(None)`). Refused while another "buy now" of the plan waits or runs.
    /// Returns the new slot's id. (The hourly limit is reserved before, atomically.)
    pub async fn insert_manual_slot(
        &self,
        plan_id: &str,
        user_id: &str,
        idempotency_key: Option<&str>,
        now: i64,
    ) -> Result<Result<Option<String>, ManualRefused>, sqlx::Error> {
        if let Some(key) = idempotency_key
            && self.has_idempotency_key(plan_id, key).await?
        {
            return Ok(Ok(None));
        }
        if let Some(pending) = self.pending_manual_slot(plan_id).await? {
            return Ok(Err(ManualRefused::Pending(pending)));
        }
        // Another slot of this plan may hold this very millisecond; take the next free one.
        for slot_at in now..now + 1000 {
            let id = new_id();
            let inserted = sqlx::query(
                "INSERT INTO slots (id, plan_id, user_id, slot_at, kind, state, not_before, idempotency_key, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'manual', 'due', $6, $5, $6, $6) ON CONFLICT DO NOTHING",
            )
            .bind(&id)
            .bind(plan_id)
            .bind(user_id)
            .bind(slot_at)
            .bind(idempotency_key)
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(Ok(Some(id)));
            }
            // The conflict may be a request racing this one: its key, or its pending slot
            // (the partial unique index allows one waiting "buy now" per plan).
            if let Some(key) = idempotency_key
                && self.has_idempotency_key(plan_id, key).await?
            {
                return Ok(Ok(None));
            }
            if let Some(pending) = self.pending_manual_slot(plan_id).await? {
                return Ok(Err(ManualRefused::Pending(pending)));
            }
        }
        Err(sqlx::Error::Protocol(
            "no free instant for a manual slot".into(),
        ))
    }

    async fn pending_manual_slot(&self, plan_id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT id FROM slots WHERE plan_id = $1 AND kind = 'manual' AND state IN ('due', 'running') LIMIT 1",
        )
        .bind(plan_id)
        .fetch_optional(self.pool())
        .await
    }

    pub(crate) async fn has_idempotency_key(
        &self,
        plan_id: &str,
        key: &str,
    ) -> Result<bool, sqlx::Error> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM slots WHERE plan_id = $1 AND idempotency_key = $2")
                .bind(plan_id)
                .bind(key)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    /// Takes the oldest claimable slot (due, or running with an expired lease) whose user
    /// has no other slot running, for `owner` until `now + lease_ms`.
    pub async fn claim_slot(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<SlotRow>, sqlx::Error> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE OF s SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // PostgreSQL: one transaction in which claims take turns (across instances too):
        // under READ COMMITTED two claims at once could otherwise both see "no slot of this
        // user is running". SQLite: each claim is one statement, which holds the database's
        // write lock from its subquery to its update, so needs no transaction around it.
        let mut tx = match self.backend() {
            Backend::Postgres => {
                let mut tx = self.pool().begin().await?;
                sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS turn")
                    .bind(CLAIM_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Some(tx)
            }
            Backend::Sqlite => None,
        };
        // Slots whose worker's lease ran out first (few), then due ones in the order they
        // became ready: each read in order from an index, however long the queue.
        let mut row = None;
        for (filter, order) in [
            (
                "s.state = 'running' AND s.lease_until < $3",
                "s.lease_until, s.id",
            ),
            (
                "s.state = 'due' AND s.not_before <= $3",
                "s.not_before, s.id",
            ),
        ] {
            let sql = format!(
                "UPDATE slots SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
                 WHERE id = (SELECT s.id FROM slots s WHERE {filter} \
                             AND NOT EXISTS (SELECT 1 FROM slots r WHERE r.user_id = s.user_id AND r.id <> s.id \
                               AND r.state = 'running' AND r.lease_until >= $3) \
                             ORDER BY {order} LIMIT 1 {lock}) \
                 RETURNING {SLOT_COLUMNS}"
            );
            let query = sqlx::query(&sql).bind(owner).bind(now + lease_ms).bind(now);
            row = match &mut tx {
                Some(tx) => query.fetch_optional(&mut **tx).await?,
                None => query.fetch_optional(self.pool()).await?,
            };
            if row.is_some() {
                break;
            }
        }
        if let Some(tx) = tx {
            tx.commit().await?;
        }
        row.as_ref().map(slot).transpose()
    }

    /// Gives a slot back for another attempt at `not_before` (after a transient failure,
    /// or a run that ran out of time). `refund` gives back the attempt (it made progress).
    /// Only the lease holder can. Returns whether it still held the lease.
    pub async fn release_slot(
        &self,
        slot: &SlotRow,
        owner: &str,
        not_before: i64,
        reason: &str,
        refund: bool,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE slots SET state = 'due', lease_owner = NULL, lease_until = NULL, not_before = $1, reason = $2, \
             attempts = attempts - $3, updated_at = $4 WHERE id = $5 AND lease_owner = $6 AND state = 'running'",
        )
        .bind(not_before)
        .bind(reason)
        .bind(i64::from(refund))
        .bind(now)
        .bind(&slot.id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Writes a slot's intents before any order is sent, all together and only if `owner`
    /// still holds the slot's lease; pins the slot to the broker `account` its orders go
    /// to, if given (the first time). Returns the purchases written, or `None` if the
    /// lease was lost. Client order ids are unique, so a re-run of the slot finds the
    /// intents written before instead of adding others (and they are not returned).
    pub async fn record_intents(
        &self,
        slot: &SlotRow,
        owner: &str,
        intents: &[Intent<'_>],
        account: Option<&str>,
        now: i64,
    ) -> Result<Option<Vec<PurchaseRow>>, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        // A write first (SQLite then holds the write lock for the whole transaction).
        let held = sqlx::query(
            "UPDATE slots SET updated_at = $1, broker_account = COALESCE(broker_account, $4) \
             WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(now)
        .bind(&slot.id)
        .bind(owner)
        .bind(account)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if held != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let mut written = Vec::with_capacity(intents.len());
        if !intents.is_empty() {
            // One statement for every leg: the slot's values first, then each leg's twelve.
            const EACH: usize = 12;
            let rows: Vec<String> = (0..intents.len())
                .map(|i| {
                    let b = 5 + EACH * i;
                    let rest: Vec<String> = (b + 2..=b + EACH).map(|k| format!("${k}")).collect();
                    // A write-off is booked a moment before the order beside it: the
                    // history's latest row is the order.
                    let created = if intents[i].booked.is_some() {
                        "$5 - 1"
                    } else {
                        "$5"
                    };
                    format!(
                        "(${}, $1, $2, $3, {}, $4, {created}, $5)",
                        b + 1,
                        rest.join(", ")
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO purchases (id, slot_id, plan_id, user_id, symbol, side, notional, order_qty, \
                 client_order_id, status, skip_reason, reason, qty, price, filled_at, slot_at, created_at, \
                 updated_at) VALUES {} ON CONFLICT (client_order_id) DO NOTHING RETURNING {PURCHASE_COLUMNS}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql)
                .bind(&slot.id)
                .bind(slot.plan_id.as_str())
                .bind(slot.user_id.as_str())
                .bind(slot.slot_at)
                .bind(now);
            for intent in intents {
                query = query
                    .bind(new_id())
                    .bind(intent.symbol.as_str())
                    .bind(side_text(intent.side))
                    .bind(text(intent.notional))
                    .bind(intent.qty.map(text))
                    .bind(intent.client_order_id.as_str())
                    .bind(intent.status.as_str())
                    .bind(intent.skip_reason.map(SkipReason::as_str))
                    .bind(intent.reason)
                    .bind(intent.booked.map(|(qty, _, _)| text(qty)))
                    .bind(intent.booked.map(|(_, price, _)| text(price)))
                    .bind(intent.booked.map(|(_, _, at)| at));
            }
            for row in query.fetch_all(&mut *tx).await? {
                written.push(purchase(&row)?);
            }
        }
        tx.commit().await?;
        // In the order a slot's purchases are read back (`slot_purchases_sql`).
        written.sort_by(|a, b| a.symbol.as_str().cmp(b.symbol.as_str()));
        Ok(Some(written))
    }

    /// Moves an open order's next check on before it is made, so a check that hangs or
    /// fails never keeps the order first in line.
    pub async fn postpone_check(
        &self,
        purchase_id: &str,
        next_check_at: i64,
        check_attempts: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE purchases SET next_check_at = $1, check_attempts = $2 WHERE id = $3")
            .bind(next_check_at)
            .bind(check_attempts)
            .bind(purchase_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn purchases_of_slot(&self, slot_id: &str) -> Result<Vec<PurchaseRow>, sqlx::Error> {
        sqlx::query(&slot_purchases_sql())
            .bind(slot_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(purchase)
            .collect()
    }

    /// Marks a purchase as sent (`submitted_at`, kept from its first send) just before its
    /// order goes out, while `owner` holds the slot's lease: afterwards, whether an order
    /// may have reached the broker is known exactly. `audit` is written in the same
    /// transaction (one commit per step of an order). Returns whether the lease was held.
    pub async fn mark_sending(
        &self,
        purchase_id: &str,
        slot_id: &str,
        owner: &str,
        now: i64,
        audit: AuditEntry<'_>,
    ) -> Result<bool, sqlx::Error> {
        // The transaction begins with its write, so SQLite never upgrades a read lock.
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE purchases SET submitted_at = COALESCE(submitted_at, $1), updated_at = $1 \
             WHERE id = $2 AND status = 'pending' \
             AND EXISTS (SELECT 1 FROM slots WHERE id = $3 AND lease_owner = $4 AND state = 'running')",
        )
        .bind(now)
        .bind(purchase_id)
        .bind(slot_id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        audited(tx, done.rows_affected() == 1, audit).await
    }

    /// Writes one purchase's outcome while `owner` holds its slot's lease (as each
    /// order's answer arrives), and `audit` with it in one transaction that begins with
    /// the write (SQLite never upgrades a read lock). Returns whether the lease was still
    /// held (if not, nothing is written).
    pub async fn record_outcome(
        &self,
        outcome: &Outcome,
        slot_id: &str,
        owner: &str,
        now: i64,
        audit: AuditEntry<'_>,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let held = write_outcome(&mut *tx, outcome, Guard::Lease { slot_id, owner }, now).await?;
        audited(tx, held, audit).await
    }

    /// Writes the last outcomes and the slot's final state in one transaction, if `owner`
    /// still holds its lease (else nothing, and `false`), with the e-mail that tells the
    /// user, due at `wall_now` (real time: the outbox's clock; `now` is the market's).
    pub async fn finish_slot(
        &self,
        slot_id: &str,
        owner: &str,
        finish: Finish<'_>,
        outcomes: &[Outcome],
        now: i64,
        wall_now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE slots SET state = $1, reason = $2, lease_owner = NULL, lease_until = NULL, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5 AND state = 'running' RETURNING user_id",
        )
        .bind(finish.state.as_str())
        .bind(finish.reason)
        .bind(now)
        .bind(slot_id)
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(done) = done else {
            tx.rollback().await?;
            return Ok(false);
        };
        let user_id: String = done.try_get(0)?;
        for outcome in outcomes {
            write_outcome(&mut *tx, outcome, Guard::Held, now).await?;
        }
        // What the slot did, by e-mail (the user's choices are read when it is sent).
        let mail = crate::db::mail::NewMail {
            kind: crate::mail::kind::SLOT,
            user_id: Some(user_id),
            dedupe_key: Some(format!("slot:{slot_id}")),
            payload: serde_json::json!({ "slot_id": slot_id }),
            not_before: wall_now,
        };
        crate::db::mail::insert_mail(&mut *tx, &mail, wall_now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a later outcome (the reconcile pass: a fill that arrived after the slot
    /// finished), unless the purchase already reached a final state.
    pub async fn update_open_purchase(
        &self,
        outcome: &Outcome,
        check_attempts: i64,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let guard = Guard::StillOpen { check_attempts };
        write_outcome(self.pool(), outcome, guard, now).await
    }

    /// The user's purchases that bought something, decided at or after `from` (epoch ms):
    /// what billing counts as a month's purchases and volume.
    pub async fn bought_since(
        &self,
        user_id: &str,
        from: i64,
    ) -> Result<Vec<PurchaseRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {PURCHASE_COLUMNS} FROM purchases \
             WHERE user_id = $1 AND slot_at >= $2 AND status IN ('filled', 'partially_filled') \
             AND side = 'buy'"
        ))
        .bind(user_id)
        .bind(from)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(purchase)
        .collect()
    }

    /// Per symbol, the amounts a plan skipped because its condition did not hold since
    /// its last purchase of that symbol that was not skipped: what Smart DCA's
    /// carry-forward owes the next purchase. Skips for any other reason (the plan was
    /// paused, the broker could not be reached) are not owed.
    pub async fn carried_since_last_purchase(
        &self,
        plan_id: &str,
    ) -> Result<Vec<(Symbol, Decimal)>, sqlx::Error> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.symbol, p.notional FROM purchases p WHERE p.plan_id = $1 AND p.status = 'skipped' \
             AND p.skip_reason = 'condition_not_met' \
             AND p.created_at > COALESCE((SELECT MAX(q.created_at) FROM purchases q WHERE q.plan_id = p.plan_id \
             AND q.symbol = p.symbol AND q.status NOT IN ('skipped', 'missed')), -1)",
        )
        .bind(plan_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(symbol, notional)| {
                Ok((
                    decode("symbol", Symbol::parse(&symbol).ok())?,
                    decode("notional", decimal("notional", Some(notional))?)?,
                ))
            })
            .collect()
    }

    /// The shares of `symbol` the user's plans other than `plan_id` hold in the broker
    /// account `account`, as (by their recorded fills, at least): their purchases less
    /// their sales (other bots' write-offs among them); at least, also less every sale of
    /// theirs that may have filled unseen (unanswered, or given up on as `unknown`), all it
    /// asked for.
    pub async fn held_by_other_plans(
        &self,
        user_id: &str,
        plan_id: &str,
        symbol: &str,
        account: &str,
    ) -> Result<(Decimal, Decimal), sqlx::Error> {
        /// Plan, side, status, filled and asked quantities.
        type Row = (String, String, String, Option<String>, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT p.plan_id, p.side, p.status, p.qty, p.order_qty FROM purchases p JOIN slots s ON s.id = p.slot_id \
             WHERE p.user_id = $1 AND p.plan_id <> $2 AND p.symbol = $3 \
             AND (s.broker_account = $4 OR s.broker_account IS NULL) \
             AND (p.status IN ('filled', 'partially_filled') \
                  OR {WRITE_OFF} \
                  OR (p.side = 'sell' AND p.status IN ('pending', 'accepted', 'unknown')))",
        ))
        .bind(user_id)
        .bind(plan_id)
        .bind(symbol)
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        // Per plan: (held by its recorded fills, its sales that may have filled unseen).
        let mut plans: HashMap<String, (Decimal, Decimal)> = HashMap::new();
        for (plan, side, status, qty, order_qty) in rows {
            let (held, selling) = plans.entry(plan).or_default();
            if matches!(status.as_str(), "pending" | "accepted" | "unknown") {
                *selling += decimal("order_qty", order_qty)?.unwrap_or_default();
                continue;
            }
            let qty = decimal("qty", qty)?.unwrap_or_default();
            if side == "sell" {
                *held -= qty;
            } else {
                *held += qty;
            }
        }
        // A plan can never hold fewer than none (one that sold what it did not hold here
        // must not make room for a sale of another's shares).
        let most = plans
            .values()
            .map(|(held, _)| (*held).max(Decimal::ZERO))
            .sum();
        let least = plans.values().map(|(held, selling)| *held - *selling).sum();
        Ok((most, least))
    }

    /// The shares the bot `plan_id` holds by its own fills in broker accounts other than
    /// `account` (the user connected other keys since): not this account's to tell.
    pub async fn held_elsewhere(
        &self,
        plan_id: &str,
        account: &str,
    ) -> Result<Decimal, sqlx::Error> {
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(&format!(
            "SELECT s.broker_account, p.side, p.qty FROM purchases p JOIN slots s ON s.id = p.slot_id \
             WHERE p.plan_id = $1 AND s.broker_account IS NOT NULL AND s.broker_account <> $2 \
             AND (p.status IN ('filled', 'partially_filled') \
                  OR {WRITE_OFF})",
        ))
        .bind(plan_id)
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        let mut net: HashMap<String, Decimal> = HashMap::new();
        for (other, side, qty) in rows {
            let qty = decimal("qty", qty)?.unwrap_or_default();
            *net.entry(other).or_default() += if side == "sell" { -qty } else { qty };
        }
        Ok(net.values().map(|held| (*held).max(Decimal::ZERO)).sum())
    }

    /// A bot's latest finished runs, newest first: when, how each ended, and its reason
    /// (what it saw, or the order it placed and why: "Buy: fast SMA crossed above slow SMA";
    /// a run that ordered nothing, such as one skipped without a broker, keeps its own).
    pub async fn bot_runs(
        &self,
        plan_id: &str,
        limit: i64,
    ) -> Result<Vec<(i64, String, Option<String>)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT s.slot_at, s.state, COALESCE( \
               (SELECT CASE p.side WHEN 'sell' THEN 'Sell: ' ELSE 'Buy: ' END \
                  || COALESCE(p.reason, s.reason, p.status) \
                FROM purchases p WHERE p.slot_id = s.id AND p.order_qty IS NOT NULL \
                ORDER BY p.created_at, p.id LIMIT 1), \
               s.reason) \
             FROM slots s WHERE s.plan_id = $1 \
             AND s.state NOT IN ('due', 'running') ORDER BY s.slot_at DESC, s.id LIMIT $2",
        )
        .bind(plan_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await
    }

    /// A signal bot's fills (its plan's purchases and sales that filled, in part or whole,
    /// in the order they filled) and how many of its orders have no final answer yet
    /// (outside the slot `except`).
    pub async fn bot_fills(
        &self,
        plan_id: &str,
        except: &str,
    ) -> Result<(Vec<app::domain::order::Fill>, usize), sqlx::Error> {
        let columns = PURCHASE_COLUMNS;
        let rows = sqlx::query(&format!(
            "SELECT {columns} FROM purchases p WHERE plan_id = $1 AND slot_id <> $2 \
             AND (status IN ('filled', 'partially_filled', 'pending', 'accepted', 'unknown') \
                  OR {WRITE_OFF}) \
             AND NOT (status = 'unknown' AND next_check_at IS NULL) \
             ORDER BY COALESCE(filled_at, created_at), id"
        ))
        .bind(plan_id)
        .bind(except)
        .fetch_all(self.pool())
        .await?;
        let mut fills = Vec::new();
        let mut open = 0;
        for row in &rows {
            let p = purchase(row)?;
            // `unknown` is not final while it is still checked (the order may yet be found
            // filled): the bot must not decide (or sell) without knowing what it holds. One
            // no longer checked (left out above) never filled as far as anyone can tell.
            if p.status.is_open() || p.status == PurchaseStatus::Unknown {
                open += 1;
                continue;
            }
            if p.status == PurchaseStatus::Skipped && !p.client_order_id.is_write_off() {
                continue;
            }
            if let (Some(qty), Some(price), Some(at)) = (p.qty, p.price, p.filled_at) {
                fills.push(app::domain::order::Fill {
                    symbol: p.symbol,
                    side: p.side,
                    qty,
                    price,
                    commission: Decimal::ZERO,
                    time: decode("filled_at", jiff::Timestamp::from_millisecond(at).ok())?,
                });
            }
        }
        Ok((fills, open))
    }

    /// Orders the broker has not finished with (sent and not yet filled, or never
    /// confirmed) that are due for another look, those looked at least recently first.
    pub async fn purchases_to_check(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(PurchaseRow, Option<String>)>, sqlx::Error> {
        let columns = PURCHASE_COLUMNS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT {columns}, s.broker_account FROM purchases p JOIN slots s ON s.id = p.slot_id \
             WHERE p.status IN ('accepted', 'unknown') AND p.next_check_at IS NOT NULL AND p.next_check_at <= $1 \
             ORDER BY p.next_check_at, p.id LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((purchase(row)?, row.try_get("broker_account")?)))
            .collect()
    }
    /// A user's purchases, newest first (by creation, then id: a total order, as purchases
    /// of one slot share their creation time), optionally for one plan or symbol, and
    /// only those after `before` (the `(created_at, id)` of the last one already seen).
    pub async fn purchase_history(
        &self,
        user_id: &str,
        plan_id: Option<&str>,
        symbol: Option<&str>,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<PurchaseRow>, sqlx::Error> {
        let (before_at, before_id) = before.unwrap_or((i64::MAX, ""));
        sqlx::query(&purchase_history_sql())
            .bind(user_id)
            .bind(plan_id.unwrap_or(""))
            .bind(symbol.unwrap_or(""))
            .bind(before_at)
            .bind(before_id)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(purchase)
            .collect()
    }
}

/// Which purchase rows an outcome may be written to.
#[derive(Clone, Copy, Debug)]
enum Guard<'a> {
    /// While `owner` holds the slot's lease.
    Lease { slot_id: &'a str, owner: &'a str },
    /// Inside a transaction that has just checked the lease.
    Held,
    /// Only while the broker has not finished with the order (the reconcile pass), counting
    /// the check.
    StillOpen { check_attempts: i64 },
}

/// Ends a transaction whose change was `made`: with `audit` appended and committed, or
/// (nothing changed) rolled back. Returns `made`.
async fn audited(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    made: bool,
    audit: AuditEntry<'_>,
) -> Result<bool, sqlx::Error> {
    if !made {
        tx.rollback().await?;
        return Ok(false);
    }
    insert_audit(&mut *tx, audit).await?;
    tx.commit().await?;
    Ok(true)
}

/// Writes what became of one purchase. Returns whether the guard let it.
async fn write_outcome<'e, E>(
    executor: E,
    o: &Outcome,
    guard: Guard<'_>,
    now: i64,
) -> Result<bool, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let (condition, check_attempts) = match guard {
        Guard::Lease { .. } => (
            "EXISTS (SELECT 1 FROM slots WHERE id = $12 AND lease_owner = $13 AND state = 'running')",
            None,
        ),
        Guard::Held => ("TRUE", None),
        Guard::StillOpen { check_attempts } => {
            ("status IN ('accepted', 'unknown')", Some(check_attempts))
        }
    };
    let sql = format!(
        "UPDATE purchases SET status = $1, broker_order_id = COALESCE($2, broker_order_id), qty = COALESCE($3, qty), \
         price = COALESCE($4, price), reason = $5, submitted_at = COALESCE($6, submitted_at), \
         filled_at = COALESCE($7, filled_at), next_check_at = $8, check_attempts = COALESCE($9, check_attempts), \
         updated_at = $10 WHERE id = $11 AND {condition}"
    );
    let mut query = sqlx::query(&sql)
        .bind(o.status.as_str())
        .bind(o.broker_order_id.as_deref())
        .bind(o.qty.map(text))
        .bind(o.price.map(text))
        .bind(o.reason.as_deref())
        .bind(o.submitted_at)
        .bind(o.filled_at)
        .bind(o.next_check_at)
        .bind(check_attempts)
        .bind(now)
        .bind(&o.purchase_id);
    if let Guard::Lease { slot_id, owner } = guard {
        query = query.bind(slot_id).bind(owner);
    }
    Ok(query.execute(executor).await?.rows_affected() == 1)
}

/// A slot's purchases in the order they were decided. Binds: the slot's id. Public so a
/// test can check it reads `purchases_slot` (a slot reads them several times a run).
pub fn slot_purchases_sql() -> String {
    format!(
        "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE slot_id = $1 ORDER BY created_at, symbol"
    )
}

/// A user's purchases newest first after an `(created_at, id)` cursor, optionally for one
/// plan or symbol. Binds: user, plan or `''`, symbol or `''`, cursor instant, cursor id,
/// limit. Public so a test can check the plan reads `purchases_user_created_id` in order.
pub fn purchase_history_sql() -> String {
    format!(
        "SELECT {PURCHASE_COLUMNS} FROM purchases WHERE user_id = $1 AND ($2 = '' OR plan_id = $2) \
         AND ($3 = '' OR symbol = $3) AND (created_at < $4 OR (created_at = $4 AND id < $5)) \
         ORDER BY created_at DESC, id DESC LIMIT $6"
    )
}
