//! The `slots` and `purchases` tables: the scheduler's queue and what it bought.
//!
//! Claiming is one statement: an `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`, with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL so concurrent workers (and instances) skip
//! each other's rows; SQLite runs the statement under its single-writer lock.

use super::repository::PlanRow;
use crate::db::{Backend, Db};
use sqlx::Row as _;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotRow {
    pub id: String,
    pub plan_id: String,
    pub user_id: String,
    pub slot_at: i64,
    pub kind: String,
    pub attempts: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchaseRow {
    pub id: String,
    pub slot_id: String,
    pub plan_id: String,
    pub user_id: String,
    pub symbol: String,
    pub notional: String,
    pub client_order_id: String,
    pub broker_order_id: Option<String>,
    pub status: String,
    pub qty: Option<String>,
    pub price: Option<String>,
    pub reason: Option<String>,
    pub slot_at: i64,
    pub submitted_at: Option<i64>,
    pub filled_at: Option<i64>,
    pub created_at: i64,
}

/// What became of one purchase, written with the slot's new state in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub purchase_id: String,
    pub status: &'static str,
    pub broker_order_id: Option<String>,
    pub qty: Option<String>,
    pub price: Option<String>,
    pub reason: Option<String>,
    pub submitted_at: Option<i64>,
    pub filled_at: Option<i64>,
}

const PURCHASE_COLUMNS: &str = "id, slot_id, plan_id, user_id, symbol, notional, client_order_id, broker_order_id, \
     status, qty, price, reason, slot_at, submitted_at, filled_at, created_at";

fn purchase(row: &sqlx::any::AnyRow) -> Result<PurchaseRow, sqlx::Error> {
    Ok(PurchaseRow {
        id: row.try_get("id")?,
        slot_id: row.try_get("slot_id")?,
        plan_id: row.try_get("plan_id")?,
        user_id: row.try_get("user_id")?,
        symbol: row.try_get("symbol")?,
        notional: row.try_get("notional")?,
        client_order_id: row.try_get("client_order_id")?,
        broker_order_id: row.try_get("broker_order_id")?,
        status: row.try_get("status")?,
        qty: row.try_get("qty")?,
        price: row.try_get("price")?,
        reason: row.try_get("reason")?,
        slot_at: row.try_get("slot_at")?,
        submitted_at: row.try_get("submitted_at")?,
        filled_at: row.try_get("filled_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Db {
    /// Active plans whose next slot is due.
    pub async fn due_plans(&self, now: i64, limit: i64) -> Result<Vec<PlanRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, mode, status, config, next_run_at, created_at, updated_at FROM plans \
             WHERE status = 'active' AND next_run_at IS NOT NULL AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(PlanRow::from_any_row).collect()
    }

    /// Creates the plan's slot at `slot_at` and moves the plan on to `next`, together. The
    /// unique key and the `next_run_at = slot_at` guard make a second instance's attempt a
    /// no-op. Returns whether this call created the slot.
    pub async fn schedule_slot(
        &self,
        plan: &PlanRow,
        slot_at: i64,
        next: Option<i64>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query("UPDATE plans SET next_run_at = $1 WHERE id = $2 AND next_run_at = $3 AND status = 'active'")
            .bind(next)
            .bind(&plan.id)
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
        .bind(&plan.id)
        .bind(&plan.user_id)
        .bind(slot_at)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// A "buy now" slot at `now`. With an idempotency key, a repeated request creates
    /// nothing new. Returns whether a slot was created.
    pub async fn insert_manual_slot(
        &self,
        plan_id: &str,
        user_id: &str,
        idempotency_key: Option<&str>,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        // Another slot of this plan may hold this very millisecond; take the next free one,
        // unless the conflict is this request's own idempotency key (a retry).
        for slot_at in now..now + 1000 {
            if let Some(key) = idempotency_key
                && self.has_idempotency_key(plan_id, key).await?
            {
                return Ok(false);
            }
            let inserted = sqlx::query(
                "INSERT INTO slots (id, plan_id, user_id, slot_at, kind, state, not_before, idempotency_key, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'manual', 'due', $6, $5, $6, $6) ON CONFLICT DO NOTHING",
            )
            .bind(new_id())
            .bind(plan_id)
            .bind(user_id)
            .bind(slot_at)
            .bind(idempotency_key)
            .bind(now)

            .execute(self.pool())
            .await?
            .rows_affected();
            if inserted == 1 {
                return Ok(true);
            }
        }
        Err(sqlx::Error::Protocol(
            "no free instant for a manual slot".into(),
        ))
    }

    async fn has_idempotency_key(&self, plan_id: &str, key: &str) -> Result<bool, sqlx::Error> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM slots WHERE plan_id = $1 AND idempotency_key = $2")
                .bind(plan_id)
                .bind(key)
                .fetch_optional(self.pool())
                .await?;
        Ok(found.is_some())
    }

    /// Takes the oldest claimable slot (due, or running with an expired lease) for
    /// `owner` until `now + lease_ms`.
    pub async fn claim_slot(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<SlotRow>, sqlx::Error> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE slots SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id = (SELECT id FROM slots WHERE (state = 'due' AND not_before <= $3) \
                         OR (state = 'running' AND lease_until < $3) ORDER BY slot_at, id LIMIT 1 {lock}) \
             RETURNING id, plan_id, user_id, slot_at, kind, attempts"
        );
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(SlotRow {
                id: row.try_get("id")?,
                plan_id: row.try_get("plan_id")?,
                user_id: row.try_get("user_id")?,
                slot_at: row.try_get("slot_at")?,
                kind: row.try_get("kind")?,
                attempts: row.try_get::<i64, _>("attempts")?,
            })
        })
        .transpose()
    }

    /// Gives a slot back for another attempt at `not_before` (after a transient failure).
    pub async fn release_slot(
        &self,
        slot_id: &str,
        owner: &str,
        not_before: i64,
        reason: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE slots SET state = 'due', lease_owner = NULL, lease_until = NULL, not_before = $1, reason = $2, updated_at = $3 \
             WHERE id = $4 AND lease_owner = $5",
        )
        .bind(not_before)
        .bind(reason)
        .bind(now)
        .bind(slot_id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Writes an order intent before the order is sent. Its client order id is unique, so
    /// a re-run of the slot finds the intent it wrote before instead of adding another.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_intent(
        &self,
        slot: &SlotRow,
        symbol: &str,
        notional: &str,
        client_order_id: &str,
        status: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO purchases (id, slot_id, plan_id, user_id, symbol, notional, client_order_id, status, reason, \
             slot_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (client_order_id) DO NOTHING",
        )
        .bind(new_id())
        .bind(&slot.id)
        .bind(&slot.plan_id)
        .bind(&slot.user_id)
        .bind(symbol)
        .bind(notional)
        .bind(client_order_id)
        .bind(status)
        .bind(reason)
        .bind(slot.slot_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn purchases_of_slot(&self, slot_id: &str) -> Result<Vec<PurchaseRow>, sqlx::Error> {
        sqlx::query(&format!("SELECT {PURCHASE_COLUMNS} FROM purchases WHERE slot_id = $1 ORDER BY created_at, symbol"))
            .bind(slot_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(purchase)
            .collect()
    }

    /// Writes the purchases' outcomes and the slot's final state in one transaction.
    pub async fn finish_slot(
        &self,
        slot_id: &str,
        state: &str,
        reason: Option<&str>,
        outcomes: &[Outcome],
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        for o in outcomes {
            update_purchase(&mut tx, o, now).await?;
        }
        sqlx::query(
            "UPDATE slots SET state = $1, reason = $2, lease_owner = NULL, lease_until = NULL, updated_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(reason)
        .bind(now)
        .bind(slot_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Records a later outcome (a fill that arrived after the slot finished).
    pub async fn update_purchase(&self, outcome: &Outcome, now: i64) -> Result<(), sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        update_purchase(&mut tx, outcome, now).await?;
        tx.commit().await
    }

    /// Per symbol, the amounts a plan skipped since its last purchase of that symbol that
    /// was not skipped: what Smart DCA's carry-forward owes the next purchase.
    pub async fn skipped_since_last_purchase(
        &self,
        plan_id: &str,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT p.symbol, p.notional FROM purchases p WHERE p.plan_id = $1 AND p.status = 'skipped' \
             AND p.created_at > COALESCE((SELECT MAX(q.created_at) FROM purchases q WHERE q.plan_id = p.plan_id \
             AND q.symbol = p.symbol AND q.status NOT IN ('skipped', 'missed')), -1)",
        )
        .bind(plan_id)
        .fetch_all(self.pool())
        .await
    }

    /// Purchases sent but not yet filled (e.g. placed while the market was closed).
    pub async fn open_purchases(&self, limit: i64) -> Result<Vec<PurchaseRow>, sqlx::Error> {
        sqlx::query(&format!("SELECT {PURCHASE_COLUMNS} FROM purchases WHERE status = 'accepted' ORDER BY created_at LIMIT $1"))
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(purchase)
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

async fn update_purchase(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    o: &Outcome,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE purchases SET status = $1, broker_order_id = COALESCE($2, broker_order_id), qty = COALESCE($3, qty), \
         price = COALESCE($4, price), reason = COALESCE($5, reason), submitted_at = COALESCE($6, submitted_at), \
         filled_at = COALESCE($7, filled_at), updated_at = $8 WHERE id = $9",
    )
    .bind(o.status)
    .bind(o.broker_order_id.as_deref())
    .bind(o.qty.as_deref())
    .bind(o.price.as_deref())
    .bind(o.reason.as_deref())
    .bind(o.submitted_at)
    .bind(o.filled_at)
    .bind(now)
    .bind(&o.purchase_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
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
