//! The `platform_settings` table: one JSON value per key.

use super::Db;
use super::audit::{AuditEntry, insert_audit};
use sqlx::Row as _;

impl Db {
    /// Every setting: (key, JSON value, when it was last changed, ms).
    pub async fn platform_settings(&self) -> sqlx::Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query("SELECT key, value, updated_at FROM platform_settings ORDER BY key")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .collect()
    }

    /// Writes the changed settings and their audit row in one transaction.
    pub async fn save_platform_settings(
        &self,
        changed: &[(&str, String)],
        by: &str,
        at: i64,
        audit: AuditEntry<'_>,
    ) -> sqlx::Result<()> {
        let mut tx = self.pool().begin().await?;
        for (key, value) in changed {
            sqlx::query(
                "INSERT INTO platform_settings (key, value, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, \
                 updated_at = excluded.updated_at",
            )
            .bind(*key)
            .bind(value)
            .bind(by)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        insert_audit(&mut *tx, audit).await?;
        tx.commit().await
    }
}
