//! The `release_notes` table, and which users have seen them.

use super::Db;
use sqlx::Row as _;

/// One release note row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteRow {
    pub id: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Rendered and sanitised.
    pub html: String,
    pub publish_at: i64,
    pub published: bool,
    /// When users could first see it: the later of `publish_at` and its publishing.
    pub visible_from: i64,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, title, body, html, publish_at, published, visible_from, created_by, created_at, updated_at";

fn note(row: &sqlx::any::AnyRow) -> sqlx::Result<NoteRow> {
    Ok(NoteRow {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        html: row.try_get("html")?,
        publish_at: row.try_get("publish_at")?,
        published: row.try_get::<i64, _>("published")? != 0,
        visible_from: row.try_get("visible_from")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Db {
    pub async fn note(&self, id: &str) -> sqlx::Result<Option<NoteRow>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM release_notes WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(note)
        .transpose()
    }

    /// Every note, newest publish time first.
    pub async fn notes(&self) -> sqlx::Result<Vec<NoteRow>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM release_notes ORDER BY publish_at DESC, id DESC"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(note)
        .collect()
    }

    /// The published notes whose time has come, newest first (at most 100).
    pub async fn published_notes(&self, now: i64) -> sqlx::Result<Vec<NoteRow>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM release_notes WHERE published = 1 AND publish_at <= $1 \
             ORDER BY publish_at DESC, id DESC LIMIT 100"
        ))
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(note)
        .collect()
    }

    /// Inserts or replaces a note by its id.
    pub async fn save_note(&self, row: &NoteRow) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "INSERT INTO release_notes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body, \
             html = excluded.html, publish_at = excluded.publish_at, published = excluded.published, \
             visible_from = excluded.visible_from, updated_at = excluded.updated_at"
        ))
        .bind(&row.id)
        .bind(&row.title)
        .bind(&row.body)
        .bind(&row.html)
        .bind(row.publish_at)
        .bind(i64::from(row.published))
        .bind(row.visible_from)
        .bind(&row.created_by)
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Deletes a note; whether there was one.
    pub async fn delete_note(&self, id: &str) -> sqlx::Result<bool> {
        Ok(sqlx::query("DELETE FROM release_notes WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected()
            > 0)
    }

    /// Whether a published note became visible after the user last opened the notes.
    pub async fn has_unread_notes(&self, user_id: &str, now: i64) -> sqlx::Result<bool> {
        let unread: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM release_notes n, users u WHERE u.id = $1 AND n.published = 1 \
             AND n.publish_at <= $2 AND n.visible_from > u.notes_seen_at",
        )
        .bind(user_id)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(unread > 0)
    }

    /// Notes the user as having read every note visible at `now`.
    pub async fn mark_notes_seen(&self, user_id: &str, now: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE users SET notes_seen_at = $1 WHERE id = $2 AND notes_seen_at < $1")
            .bind(now)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
