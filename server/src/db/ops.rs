//! What the operators' health page and the metrics read of the database: counts by state,
//! the scheduler's lag, the reconcile backlog, recent failures, and the instances'
//! heartbeats. Every query is an aggregate over an indexed column or a small table.

use super::Db;
use sqlx::Row as _;

/// One running (or lately running) server instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceRow {
    pub id: String,
    pub host: String,
    pub version: String,
    pub started_at: i64,
    pub last_beat_at: i64,
    pub workers: i64,
    pub busy: i64,
    pub capacity: i64,
}

/// Orders whose outcome the reconciler still has to learn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub open: i64,
    /// When the oldest of them was sent (or created, if it never was), ms.
    pub oldest: Option<i64>,
}

fn counts(rows: &[sqlx::any::AnyRow]) -> sqlx::Result<Vec<(String, i64)>> {
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

impl Db {
    /// Slots by state, of those due at or after `since` (ms; 0 for all).
    pub async fn slot_counts(&self, since: i64) -> sqlx::Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) FROM slots WHERE slot_at >= $1 GROUP BY state ORDER BY state",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        counts(&rows)
    }

    /// Every purchase by status.
    pub async fn purchase_counts(&self) -> sqlx::Result<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT status, COUNT(*) FROM purchases GROUP BY status ORDER BY status")
                .fetch_all(self.pool())
                .await?;
        counts(&rows)
    }

    /// When the oldest slot that may run now became runnable (ms), if any waits.
    pub async fn oldest_due_slot(&self, now: i64) -> sqlx::Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MIN(not_before) FROM slots WHERE state = 'due' AND not_before <= $1",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await
    }

    /// The orders the reconciler will check again.
    pub async fn reconcile_backlog(&self) -> sqlx::Result<Backlog> {
        let row = sqlx::query(
            "SELECT COUNT(*), MIN(COALESCE(submitted_at, created_at)) FROM purchases \
             WHERE status IN ('accepted', 'unknown') AND next_check_at IS NOT NULL",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(Backlog {
            open: row.try_get(0)?,
            oldest: row.try_get(1)?,
        })
    }

    /// Purchases that failed or were missed since `since` (ms): (status, reason, count),
    /// the most frequent first, at most `limit`.
    pub async fn recent_failures(
        &self,
        since: i64,
        limit: i64,
    ) -> sqlx::Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT status, COALESCE(reason, ''), COUNT(*) AS n FROM purchases \
             WHERE status IN ('failed', 'missed') AND updated_at >= $1 \
             GROUP BY status, COALESCE(reason, '') ORDER BY n DESC, status LIMIT $2",
        )
        .bind(since)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect()
    }

    /// Purchases that failed or were missed since `since` (ms), by status.
    pub async fn failure_counts(&self, since: i64) -> sqlx::Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) FROM purchases WHERE status IN ('failed', 'missed') \
             AND updated_at >= $1 GROUP BY status",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        counts(&rows)
    }

    /// Users connected to a broker environment (`paper` or `live`) with their own keys.
    pub async fn broker_connections_in(&self, environment: &str) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM broker_connections WHERE environment = $1")
            .bind(environment)
            .fetch_one(self.pool())
            .await
    }

    /// Writes this instance's heartbeat.
    pub async fn beat(&self, instance: &InstanceRow) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO instances (id, host, version, started_at, last_beat_at, workers, busy, capacity) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET last_beat_at = excluded.last_beat_at, \
             busy = excluded.busy, workers = excluded.workers, capacity = excluded.capacity",
        )
        .bind(&instance.id)
        .bind(&instance.host)
        .bind(&instance.version)
        .bind(instance.started_at)
        .bind(instance.last_beat_at)
        .bind(instance.workers)
        .bind(instance.busy)
        .bind(instance.capacity)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes instances not beaten since `before` (ms): gone for good.
    pub async fn forget_instances(&self, before: i64) -> sqlx::Result<u64> {
        Ok(sqlx::query("DELETE FROM instances WHERE last_beat_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// Deletes one instance's row (it stopped cleanly).
    pub async fn remove_instance(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every instance, the longest running first.
    pub async fn instances(&self) -> sqlx::Result<Vec<InstanceRow>> {
        let rows = sqlx::query(
            "SELECT id, host, version, started_at, last_beat_at, workers, busy, capacity \
             FROM instances ORDER BY started_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(InstanceRow {
                    id: row.try_get(0)?,
                    host: row.try_get(1)?,
                    version: row.try_get(2)?,
                    started_at: row.try_get(3)?,
                    last_beat_at: row.try_get(4)?,
                    workers: row.try_get(5)?,
                    busy: row.try_get(6)?,
                    capacity: row.try_get(7)?,
                })
            })
            .collect()
    }

    /// How long a trivial query takes, round trip.
    pub async fn ping(&self) -> sqlx::Result<std::time::Duration> {
        let started = std::time::Instant::now();
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(started.elapsed())
    }

    /// The pool: (connections open, of them idle, the most it opens).
    pub fn pool_usage(&self) -> (u32, u32, u32) {
        let pool = self.pool();
        (
            pool.size(),
            u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            pool.options().get_max_connections(),
        )
    }
}
