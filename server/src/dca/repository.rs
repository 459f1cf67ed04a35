//! The `plans` table. The typed settings (legs, schedule, smart condition) are stored as
//! JSON in `config`, amounts as decimal strings; the columns the scheduler filters on
//! (`status`, `next_run_at`) are their own.

use crate::db::Db;
use app::api::dca::{Plan, PlanMode, PlanStatus};
use app::domain::ids::PlanId;
use app::domain::schedule::Schedule;
use app::domain::strategy::dca::Leg;
use app::domain::strategy::smart_dca::SmartDcaConfig;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

#[derive(Serialize, Deserialize)]
struct Settings {
    legs: Vec<Leg>,
    schedule: Schedule,
    smart: Option<SmartDcaConfig>,
    #[serde(default)]
    queue_outside_hours: bool,
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
            smart: plan.smart,
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
            mode: serde_json::to_value(plan.mode)?
                .as_str()
                .unwrap_or("pure")
                .to_owned(),
            status: plan.status.as_str().to_owned(),
            config: serde_json::to_string(&settings)?,
            next_run_at: plan.next_run_at.map(|t| t.as_millisecond()),
            created_at: millis(plan.created_at),
            updated_at: millis(plan.updated_at),
        })
    }

    pub fn into_plan(self) -> anyhow::Result<Plan> {
        let settings: Settings = serde_json::from_str(&self.config)?;
        Ok(Plan {
            id: Some(PlanId::parse(&self.id).map_err(anyhow::Error::msg)?),
            name: self.name,
            mode: serde_json::from_value::<PlanMode>(serde_json::Value::String(self.mode))?,
            legs: settings.legs,
            schedule: settings.schedule,
            smart: settings.smart,
            queue_outside_hours: settings.queue_outside_hours,

            status: PlanStatus::parse(&self.status)
                .ok_or_else(|| anyhow::anyhow!("unknown plan status {}", self.status))?,
            next_run_at: self.next_run_at.map(instant).transpose()?,
            created_at: Some(instant(self.created_at)?),
            updated_at: Some(instant(self.updated_at)?),
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
        })
    }
}

const COLUMNS: &str =
    "id, user_id, name, mode, status, config, next_run_at, created_at, updated_at";

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

    /// Updates a plan; the user id in the WHERE clause keeps one user off another's plans.
    pub async fn update_plan(&self, row: &PlanRow) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE plans SET name = $1, mode = $2, status = $3, config = $4, next_run_at = $5, updated_at = $6 \
             WHERE id = $7 AND user_id = $8",
        )
        .bind(&row.name)
        .bind(&row.mode)
        .bind(&row.status)
        .bind(&row.config)
        .bind(row.next_run_at)
        .bind(row.updated_at)
        .bind(&row.id)
        .bind(&row.user_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
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
            "SELECT {COLUMNS} FROM plans WHERE id = $1 AND user_id = $2{live_only}"
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
            "SELECT {COLUMNS} FROM plans WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(PlanRow::from_any_row)
        .collect()
    }
}
