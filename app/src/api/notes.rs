//! Release notes: what changed in QuantShift, written by admins in Markdown and shown to
//! every user on `/whats-new`. The server renders the Markdown to HTML without letting any
//! raw HTML through; the browser only ever receives that HTML.

use super::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One note as users see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ReleaseNote {
    pub id: String,
    pub title: String,
    /// Sanitised HTML rendered from the Markdown on the server.
    pub html: String,
    /// When it is (or was) published, ms.
    pub publish_at: i64,
}

/// One note as the admin panel sees it: with its Markdown and whether it is published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct AdminNote {
    pub id: String,
    pub title: String,
    /// The Markdown as written.
    pub body: String,
    pub html: String,
    pub publish_at: i64,
    /// `false`: a draft, shown to admins only.
    pub published: bool,
    pub updated_at: i64,
}

/// `POST /api/admin/release-notes` (new) and `PATCH /api/admin/release-notes/{id}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct NoteDraft {
    /// 1 to 120 characters.
    pub title: String,
    /// Markdown, 1 to 20,000 characters. Raw HTML in it is shown as text.
    pub body: String,
    /// `YYYY-MM-DD` (00:00 UTC that day) or an RFC 3339 instant; empty: now.
    #[serde(default)]
    pub publish_at: String,
    #[serde(default)]
    pub published: bool,
}

/// The published notes whose time has come, newest first. Opening them clears the
/// caller's "What's new" badge.
#[server(prefix = "/api/fn", endpoint = "load_release_notes", output = crate::api::codec::Json)]
pub async fn load_release_notes() -> Result<Vec<ReleaseNote>, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.notes.published(&caller, true).await)
}

/// Every note, drafts included, newest first (admins).
#[server(prefix = "/api/fn", endpoint = "load_admin_notes", output = crate::api::codec::Json)]
pub async fn load_admin_notes() -> Result<Vec<AdminNote>, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.notes.all(&caller).await)
}

/// Creates a note (`id` empty) or changes one (admins).
#[server(prefix = "/api/fn", endpoint = "save_admin_note", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn save_admin_note(id: String, draft: NoteDraft) -> Result<AdminNote, AppError> {
    let (ports, caller) = super::ports::request().await?;
    let id = Some(id).filter(|id| !id.is_empty());
    super::ports::with_status(ports.notes.save(&caller, id.as_deref(), &draft).await)
}

/// Deletes a note (admins).
#[server(prefix = "/api/fn", endpoint = "delete_admin_note", output = crate::api::codec::Json)]
pub async fn delete_admin_note(id: String) -> Result<(), AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.notes.delete(&caller, &id).await)
}
