//! The `plans` table. The typed settings (legs, schedule, smart condition) are stored as
//! JSON in `config`, amounts as decimal strings; the columns the scheduler filters on
//! (`status`, `next_run_at`) are their own.

use crate::db::Db;
use app::api::dca::{Plan, PlanMode, PlanStatus, PlanStrategy};
use app::domain::ids::PlanId;
use app::domain::schedule::Schedule;
use app::domain::strategy::dca::Leg;
use app::domain::strategy::ma_crossover::MaCrossoverConfig;
use app::domain::strategy::smart_dca::SmartDcaConfig;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

#[derive(Serialize, Deserialize)]
struct Settings {
    legs: Vec<Leg>,
    schedule: Schedule,
    smart: Option<SmartDcaConfig>,
    /// A signal bot's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bot: Option<MaCrossoverConfig>,
    #[serde(default)]
    queue_outside_hours: bool,
}

/// A purchase that bought (see [`Db::bought`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bought {
    pub plan_id: String,
    pub symbol: String,
    pub qty: rust_decimal::Decimal,
    pub price: rust_decimal::Decimal,
    /// ms.
    pub at: i64,
    /// The broker's id of the order.
    pub order_id: Option<String>,
    /// A sale (a signal bot's) rather than a purchase.
    pub sell: bool,
}

/// One row of `plans`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub mode: String,
    pub status: String,
    pub config: String,
    pub next_run_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Why the server paused it (see [`Plan::paused_reason`]).
    pub paused_reason: Option<String>,
}

fn millis(t: Option<jiff::Timestamp>) -> i64 {
    t.map_or(0, |t| t.as_millisecond())
}

fn instant(ms: i64) -> anyhow::Result<jiff::Timestamp> {
    Ok(jiff::Timestamp::from_millisecond(ms)?)
}

impl PlanRow {
    pub fn from_plan(user_id: &str, plan: &Plan) -> anyhow::Result<Self> {
        let settings = Settings {
            legs: plan.legs.clone(),
            schedule: plan.schedule.clone(),
            smart: match plan.strategy {
                PlanStrategy::Smart(smart) => Some(smart),
                PlanStrategy::Pure | PlanStrategy::Discretionary(_) => None,
            },
            bot: match plan.strategy {
                PlanStrategy::Discretionary(bot) => Some(bot),
                PlanStrategy::Pure | PlanStrategy::Smart(_) => None,
            },
            queue_outside_hours: plan.queue_outside_hours,
        };
        Ok(Self {
            id: plan
                .id
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
            user_id: user_id.to_owned(),
            name: plan.name.clone(),
            mode: serde_json::to_value(plan.strategy.mode())?
                .as_str()
                .unwrap_or("pure")
                .to_owned(),
            status: plan.status.as_str().to_owned(),
            config: serde_json::to_string(&settings)?,
            next_run_at: plan.next_run_at.map(|t| t.as_millisecond()),
            created_at: millis(plan.created_at),
            updated_at: millis(plan.updated_at),
            paused_reason: None,
        })
    }

    pub fn into_plan(self) -> anyhow::Result<Plan> {
        let settings: Settings = serde_json::from_str(&self.config)?;
        Ok(Plan {
            id: Some(PlanId::parse(&self.id).map_err(anyhow::Error::msg)?),
            name: self.name,
            strategy: match (
                serde_json::from_value::<PlanMode>(serde_json::Value::String(self.mode))?,
                settings.smart,
            ) {
                (PlanMode::Pure, _) => PlanStrategy::Pure,
                (PlanMode::Smart, Some(smart)) => PlanStrategy::Smart(smart),
                (PlanMode::Smart, None) => {
                    anyhow::bail!("plan {} is Smart DCA without its condition", self.id)
                }
                (PlanMode::Discretionary, _) => {
                    PlanStrategy::Discretionary(settings.bot.unwrap_or_default())
                }
            },
            legs: settings.legs,
            schedule: settings.schedule,
            queue_outside_hours: settings.queue_outside_hours,

            status: PlanStatus::parse(&self.status)
                .ok_or_else(|| anyhow::anyhow!("unknown plan status {}", self.status))?,
            // A paused plan keeps its next slot in the row (resuming soon after it buys
            // it), but has no next purchase to show.
            next_run_at: self
                .next_run_at
                .filter(|_| self.status == "active")
                .map(instant)
                .transpose()?,
            created_at: Some(instant(self.created_at)?),
            updated_at: Some(instant(self.updated_at)?),
            paused_reason: self.paused_reason.filter(|_| self.status == "paused"),
        })
    }

    pub(crate) fn from_any_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            name: row.try_get("name")?,
            mode: row.try_get("mode")?,
            status: row.try_get("status")?,
            config: row.try_get("config")?,
            next_run_at: row.try_get("next_run_at")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            paused_reason: row.try_get("paused_reason")?,
        })
    }
}

/// One compare-and-set change to a plan (see [`Db::write_plan`]).
#[derive(Clone, Copy, Debug)]
pub struct PlanWrite<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    /// The `updated_at` the change was based on.
    pub expected_updated_at: i64,
    pub updated_at: i64,
    /// New name, mode and settings (from this row), or unchanged.
    pub settings: Option<&'a PlanRow>,
    pub status: Option<PlanStatus>,
    pub next_run_at: Option<Option<i64>>,
    /// A slot that was due under the plan's old schedule, made with the change.
    pub due_slot: Option<i64>,
    /// With a new status: why the server set it (a tier pause); `None` otherwise.
    pub paused_reason: Option<&'a str>,
    /// The `next_run_at` a new next run was computed from: the write is refused if the
    /// scheduler moved it on (made that slot) meanwhile, so the new next run never lands
    /// on a day whose slot was just made. `None`: not checked.
    pub expected_next_run_at: Option<Option<i64>>,
}

const COLUMNS: &str =
    "id, user_id, name, mode, status, config, next_run_at, created_at, updated_at";
/// What [`PlanRow::from_any_row`] reads.
const READ_COLUMNS: &str =
    "id, user_id, name, mode, status, config, next_run_at, created_at, updated_at, paused_reason";

impl Db {
    pub async fn insert_plan(&self, row: &PlanRow) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "INSERT INTO plans ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&row.id)
        .bind(&row.user_id)
        .bind(&row.name)
        .bind(&row.mode)
        .bind(&row.status)
        .bind(&row.config)
        .bind(row.next_run_at)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Changes a plan if it is still as the caller read it (`expected_updated_at`), and
    /// not deleted (nor stopped, when its settings change): compare-and-set, so an edit
    /// that took seconds can never undo a stop that landed meanwhile. With `due_slot`,
    /// the slot that was due at that instant is made in the same transaction, so changing
    /// the schedule or resuming never drops a purchase that was due. Returns whether the
    /// plan was changed.
    pub async fn write_plan(&self, change: &PlanWrite<'_>) -> Result<bool, sqlx::Error> {
        let mut sets = vec!["updated_at = $1".to_owned()];
        let mut n = 4;
        let mut next = || {
            n += 1;
            n
        };
        if change.settings.is_some() {
            sets.push(format!("name = ${}", next()));
            sets.push(format!("mode = ${}", next()));
            sets.push(format!("config = ${}", next()));
        }
        if change.status.is_some() {
            sets.push(format!("status = ${}", next()));
            sets.push(format!("paused_reason = ${}", next()));
        }
        if change.next_run_at.is_some() {
            sets.push(format!("next_run_at = ${}", next()));
        }
        let not_stopped = if change.settings.is_some() {
            " AND status <> 'stopped'"
        } else {
            ""
        };
        // (-1: no next run; COALESCE reads the same on SQLite and PostgreSQL.)
        let same_next = if change.expected_next_run_at.is_some() {
            format!(" AND COALESCE(next_run_at, -1) = ${}", next())
        } else {
            String::new()
        };
        let sql = format!(
            "UPDATE plans SET {} WHERE id = $2 AND user_id = $3 AND updated_at = $4 AND deleted_at IS NULL{not_stopped}{same_next}",
            sets.join(", ")
        );
        let mut query = sqlx::query(&sql)
            .bind(change.updated_at)
            .bind(change.id)
            .bind(change.user_id)
            .bind(change.expected_updated_at);
        if let Some(row) = change.settings {
            query = query.bind(&row.name).bind(&row.mode).bind(&row.config);
        }
        if let Some(status) = change.status {
            query = query.bind(status.as_str()).bind(change.paused_reason);
        }
        if let Some(next_run_at) = change.next_run_at {
            query = query.bind(next_run_at);
        }
        if let Some(expected) = change.expected_next_run_at {
            query = query.bind(expected.unwrap_or(-1));
        }
        let mut tx = self.pool().begin().await?;
        if query.execute(&mut *tx).await?.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(slot_at) = change.due_slot {
            sqlx::query(
                "INSERT INTO slots (id, plan_id, user_id, slot_at, kind, state, not_before, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'scheduled', 'due', $4, $5, $5) ON CONFLICT (plan_id, slot_at, kind) DO NOTHING",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(change.id)
            .bind(change.user_id)
            .bind(slot_at)
            .bind(change.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes one of the user's plans: it stops for good and leaves every list, while its
    /// purchases stay in the history. Returns whether the plan existed.
    pub async fn delete_plan(
        &self,
        id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE plans SET status = 'stopped', next_run_at = NULL, updated_at = $1, deleted_at = $1 \
             WHERE id = $2 AND user_id = $3 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// One of the user's plans, unless it was deleted.
    pub async fn plan(&self, id: &str, user_id: &str) -> Result<Option<PlanRow>, sqlx::Error> {
        self.plan_row(id, user_id, false).await
    }

    /// A plan whether or not it was deleted (the scheduler finishing orders already sent).
    pub async fn plan_even_deleted(
        &self,
        id: &str,
        user_id: &str,
    ) -> Result<Option<PlanRow>, sqlx::Error> {
        self.plan_row(id, user_id, true).await
    }

    async fn plan_row(
        &self,
        id: &str,
        user_id: &str,
        even_deleted: bool,
    ) -> Result<Option<PlanRow>, sqlx::Error> {
        let live_only = if even_deleted {
            ""
        } else {
            " AND deleted_at IS NULL"
        };
        sqlx::query(&format!(
            "SELECT {READ_COLUMNS} FROM plans WHERE id = $1 AND user_id = $2{live_only}"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(PlanRow::from_any_row)
        .transpose()
    }

    pub async fn plans_of(&self, user_id: &str) -> Result<Vec<PlanRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {READ_COLUMNS} FROM plans WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(PlanRow::from_any_row)
        .collect()
    }

    /// Every order of the user's plans that filled (in part or whole) in the broker account
    /// `account` (`demo`, `paper:<id>`, `live:<id>`: what a slot records when it starts;
    /// deleted plans' included), oldest first: plan, symbol, side (bots sell), filled
    /// quantity, average price, and when it filled. Purchases in another account (the simulator's before live
    /// keys, say) are not this account's money.
    pub async fn bought(&self, user_id: &str, account: &str) -> Result<Vec<Bought>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT p.plan_id, p.symbol, p.qty, p.price, p.broker_order_id, p.side, \
             COALESCE(p.filled_at, p.submitted_at, p.slot_at) AS at \
             FROM purchases p JOIN slots s ON s.id = p.slot_id \
             WHERE p.user_id = $1 AND (s.broker_account = $2 OR s.broker_account IS NULL) \
             AND p.status IN ('filled', 'partially_filled') \
             AND p.qty IS NOT NULL AND p.price IS NOT NULL ORDER BY at, p.id",
        )
        .bind(user_id)
        .bind(account)
        .fetch_all(self.pool())
        .await?;
        let decimal = |text: String| {
            text.parse::<rust_decimal::Decimal>()
                .map_err(|err| sqlx::Error::Decode(err.into()))
        };
        rows.iter()
            .map(|row| {
                Ok(Bought {
                    plan_id: row.try_get("plan_id")?,
                    symbol: row.try_get("symbol")?,
                    qty: decimal(row.try_get("qty")?)?,
                    price: decimal(row.try_get("price")?)?,
                    at: row.try_get("at")?,
                    order_id: row.try_get("broker_order_id")?,
                    sell: row.try_get::<String, _>("side")? == "sell",
                })
            })
            .collect()
    }

    /// The broker's ids of the user's plans' orders not yet known to be filled (sent, or
    /// never confirmed): the account's activities may show their fills before the
    /// purchases record them. (Filled ones come with [`Db::bought`].)
    pub async fn plan_order_ids(
        &self,
        user_id: &str,
    ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT broker_order_id FROM purchases WHERE user_id = $1 AND broker_order_id IS NOT NULL \
             AND status IN ('pending', 'accepted', 'unknown')",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Active plans whose next purchase falls in `(from, to]`, by user (the buying power
    /// check a day ahead).
    pub async fn plans_due_within(&self, from: i64, to: i64) -> Result<Vec<PlanRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {READ_COLUMNS} FROM plans WHERE status = 'active' AND deleted_at IS NULL \
             AND next_run_at > $1 AND next_run_at <= $2 ORDER BY user_id, next_run_at, id"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(PlanRow::from_any_row)
        .collect()
    }

    /// The user's plans in one of `statuses`, oldest first (what the tier rules fit and
    /// count). A row that cannot be read is logged and left out rather than failing them
    /// all.
    pub async fn plans_in(
        &self,
        user_id: &str,
        statuses: &[PlanStatus],
    ) -> Result<Vec<Plan>, sqlx::Error> {
        let mut plans = Vec::new();
        for row in self.plans_of(user_id).await? {
            if !statuses.iter().any(|s| s.as_str() == row.status) {
                continue;
            }
            match row.into_plan() {
                Ok(plan) => plans.push(plan),
                Err(err) => tracing::warn!(error = %err, "a plan could not be read; left out"),
            }
        }
        Ok(plans)
    }
}
