//! Attempts counted per key (`account:<email>`, `ip:<address>`, `sign_up:<address>`) and
//! fixed window, atomically in the database: an attempt is reserved before the password is
//! checked, so parallel guesses (even on several instances) are counted one by one.

use super::Db;

impl Db {
    /// Counts one attempt for `key` in the window starting at `window_start`; returns how
    /// many that window holds now, this one included.
    pub async fn reserve_attempt(&self, key: &str, window_start: i64) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "INSERT INTO sign_in_attempts (key, window_start, attempts) VALUES ($1, $2, 1) \
             ON CONFLICT (key, window_start) DO UPDATE SET attempts = sign_in_attempts.attempts + 1 \
             RETURNING attempts",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(self.pool())
        .await
    }

    /// Gives back an attempt that succeeded (successes are not failures).
    pub async fn release_attempt(&self, key: &str, window_start: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE sign_in_attempts SET attempts = attempts - 1 \
             WHERE key = $1 AND window_start = $2 AND attempts > 0",
        )
        .bind(key)
        .bind(window_start)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether this caller is the first to note that `key` is blocked in this window (the
    /// audit log records a block once per key and window, however often it is hit).
    pub async fn first_block(&self, key: &str, window_start: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE sign_in_attempts SET block_recorded = 1 \
             WHERE key = $1 AND window_start = $2 AND block_recorded = 0",
        )
        .bind(key)
        .bind(window_start)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Forgets windows that started before `before`.
    pub async fn prune_attempts(&self, before: i64) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM sign_in_attempts WHERE window_start < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Sets how long audit entries are kept (at least 30 days; the database refuses less).
    pub async fn set_audit_retention(&self, days: u32) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE audit_retention SET retention_days = $1 WHERE id = 1")
            .bind(i64::from(days))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes audit entries older than the retention period the database holds (the only
    /// delete it allows on them; the last instance to start set it), a day's margin kept
    /// for clocks that disagree; returns how many.
    pub async fn prune_audit(&self) -> Result<u64, sqlx::Error> {
        let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let done = sqlx::query(
            "DELETE FROM audit_log WHERE at < $1 - \
             (CAST((SELECT retention_days FROM audit_retention WHERE id = 1) AS BIGINT) + 1) * 86400000",
        )
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
