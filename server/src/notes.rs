//! Release notes (`NotesPort`): admins write Markdown, users read HTML.
//!
//! The Markdown is rendered on the server with pulldown-cmark, and nothing the author typed
//! reaches the page as markup of its own: raw HTML (blocks and inline) is turned into text,
//! so `<script>` shows as the characters `<script>`; links keep only `http`, `https` and
//! `mailto` targets and same-site paths, and are written by this module with
//! `rel="noopener noreferrer"`; images become links to them (no remote image loads on a
//! signed-in page). The result is stored beside the source, so reading costs nothing.

use crate::accounts::AccountService;
use crate::db::Db;
use crate::db::audit::{AuditAction, AuditEntry};
use crate::db::notes::NoteRow;
use crate::errors::internal;
use app::api::AppError;
use app::api::notes::{AdminNote, NoteDraft, ReleaseNote};
use app::api::ports::{Caller, NotesPort};
use app::domain::time::Clock;
use async_trait::async_trait;
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};
use std::collections::BTreeMap;
use std::sync::Arc;

const MAX_TITLE: usize = 120;
const MAX_BODY: usize = 20_000;

/// Whether a link target may be followed: web and mail addresses, and paths on this site.
fn safe_target(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || (lower.starts_with('/') && !lower.starts_with("//") && !lower.starts_with("/\\"))
        || lower.starts_with('#')
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The note's Markdown as safe HTML.
pub fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    // Links whose target is not safe are kept as their text; a stack remembers which
    // link ends close an anchor written here.
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, options).flat_map(|event| -> Vec<Event<'_>> {
        match event {
            Event::Html(text) | Event::InlineHtml(text) => vec![Event::Text(text)],
            // An image is shown as a link to it (its alt text is the link's text).
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                let safe = safe_target(&dest_url);
                links.push(safe);
                if safe {
                    vec![Event::InlineHtml(CowStr::from(format!(
                        "<a href=\"{}\" rel=\"noopener noreferrer\">",
                        escape(&dest_url)
                    )))]
                } else {
                    Vec::new()
                }
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                if links.pop().unwrap_or(false) {
                    vec![Event::InlineHtml(CowStr::from("</a>"))]
                } else {
                    Vec::new()
                }
            }
            other => vec![other],
        }
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// The draft checked: (title, body, publish time in ms), or a 422 naming every wrong field.
fn check(draft: &NoteDraft, now: i64) -> Result<(String, String, i64), AppError> {
    let mut fields = BTreeMap::new();
    let title = draft.title.trim();
    if title.is_empty() {
        fields.insert("title".to_owned(), "Give the note a title.".to_owned());
    } else if title.chars().count() > MAX_TITLE {
        fields.insert(
            "title".to_owned(),
            format!("Keep the title to {MAX_TITLE} characters."),
        );
    }
    let body = draft.body.trim();
    if body.is_empty() {
        fields.insert("body".to_owned(), "Write what changed.".to_owned());
    } else if body.chars().count() > MAX_BODY {
        fields.insert(
            "body".to_owned(),
            format!("Keep the note to {MAX_BODY} characters."),
        );
    }
    let given = draft.publish_at.trim();
    let publish_at = if given.is_empty() {
        Some(now)
    } else {
        crate::admin::parse_instant(given, false)
    };
    let Some(publish_at) = publish_at else {
        fields.insert(
            "publish_at".to_owned(),
            "Give a day (YYYY-MM-DD) or an instant (RFC 3339).".to_owned(),
        );
        return Err(AppError::invalid_fields(fields));
    };
    if !fields.is_empty() {
        return Err(AppError::invalid_fields(fields));
    }
    Ok((title.to_owned(), body.to_owned(), publish_at))
}

/// The UTC day of a Unix-millisecond instant (days since the epoch).
fn day_of(millis: i64) -> i64 {
    millis.div_euclid(86_400_000)
}

fn admin_view(row: NoteRow) -> AdminNote {
    AdminNote {
        id: row.id,
        title: row.title,
        body: row.body,
        html: row.html,
        publish_at: row.publish_at,
        published: row.published,
        updated_at: row.updated_at,
    }
}

fn not_found() -> AppError {
    AppError::new(app::api::ErrorCode::NotFound, "There is no such note.")
}

pub struct NotesService {
    db: Db,
    /// Real time: publish times are the operators', not the demo market's.
    clock: Arc<dyn Clock>,
    accounts: Arc<AccountService>,
}

impl NotesService {
    pub fn new(db: Db, clock: Arc<dyn Clock>, accounts: Arc<AccountService>) -> Self {
        Self {
            db,
            clock,
            accounts,
        }
    }

    async fn audit(
        &self,
        caller: &Caller,
        admin: &str,
        action: AuditAction,
        note: &NoteRow,
    ) -> Result<(), AppError> {
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: Some(admin),
                action,
                subject: Some(&note.id),
                ip: Some(caller.ip.to_string()),
                detail: serde_json::json!({"title": note.title, "published": note.published}),
            })
            .await
            .map_err(internal)
    }
}

#[async_trait]
impl NotesPort for NotesService {
    async fn published(&self, caller: &Caller, seen: bool) -> Result<Vec<ReleaseNote>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let now = self.clock.now().millis();
        let notes = self.db.published_notes(now).await.map_err(internal)?;
        if seen {
            self.db
                .mark_notes_seen(&user.id, now)
                .await
                .map_err(internal)?;
        }
        Ok(notes
            .into_iter()
            .map(|row| ReleaseNote {
                id: row.id,
                title: row.title,
                html: row.html,
                publish_at: row.publish_at,
            })
            .collect())
    }

    async fn all(&self, caller: &Caller) -> Result<Vec<AdminNote>, AppError> {
        self.accounts.require_admin(caller).await?;
        let notes = self.db.notes().await.map_err(internal)?;
        Ok(notes.into_iter().map(admin_view).collect())
    }

    async fn save(
        &self,
        caller: &Caller,
        id: Option<&str>,
        draft: &NoteDraft,
    ) -> Result<AdminNote, AppError> {
        let admin = self.accounts.require_admin(caller).await?;
        let now = self.clock.now().millis();
        let previous = match id {
            Some(id) => Some(
                self.db
                    .note(id)
                    .await
                    .map_err(internal)?
                    .ok_or_else(not_found)?,
            ),
            None => None,
        };
        let (title, body, mut publish_at) = check(draft, now)?;
        // The editor shows a day: the same day sent back keeps the exact time it had.
        if let Some(old) = &previous
            && draft.publish_at.trim().len() == 10
            && day_of(old.publish_at) == day_of(publish_at)
        {
            publish_at = old.publish_at;
        }
        // Visible from its publish time, or from now if it is published only now (a
        // backdated note still lights the badge of everyone who has not read it). An edit
        // of a note users could already see keeps it read for those who read it.
        let visible_from = match &previous {
            Some(old)
                if old.published
                    && draft.published
                    && old.visible_from <= now
                    && publish_at <= now =>
            {
                old.visible_from
            }
            Some(old) if old.published && draft.published && old.publish_at == publish_at => {
                old.visible_from
            }
            _ if draft.published => publish_at.max(now),
            _ => publish_at,
        };
        let row = NoteRow {
            id: previous
                .as_ref()
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), |old| old.id.clone()),
            html: render(&body),
            title,
            body,
            publish_at,
            published: draft.published,
            visible_from,
            created_by: previous
                .as_ref()
                .map_or(Some(admin.id.clone()), |old| old.created_by.clone()),
            created_at: previous.as_ref().map_or(now, |old| old.created_at),
            updated_at: now,
        };
        self.db.save_note(&row).await.map_err(internal)?;
        let action = if previous.is_some() {
            AuditAction::NoteChanged
        } else {
            AuditAction::NoteCreated
        };
        self.audit(caller, &admin.id, action, &row).await?;
        Ok(admin_view(row))
    }

    async fn delete(&self, caller: &Caller, id: &str) -> Result<(), AppError> {
        let admin = self.accounts.require_admin(caller).await?;
        let note = self
            .db
            .note(id)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        if !self.db.delete_note(id).await.map_err(internal)? {
            return Err(not_found());
        }
        self.audit(caller, &admin.id, AuditAction::NoteDeleted, &note)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered() {
        assert_eq!(
            render("## New\n\n*Smart* DCA is **here**."),
            "<h2>New</h2>\n<p><em>Smart</em> DCA is <strong>here</strong>.</p>\n"
        );
        assert!(render("- one\n- two").contains("<li>one</li>"));
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = render("<script>alert(1)</script>\n\nHi <img src=x onerror=alert(2)> there");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(2)&gt;"),
            "{html}"
        );
    }

    #[test]
    fn links_are_safe_and_open_without_an_opener() {
        assert_eq!(
            render("[docs](https://example.com/a?b=1&c=\"2\")"),
            "<p><a href=\"https://example.com/a?b=1&amp;c=&quot;2&quot;\" rel=\"noopener noreferrer\">docs</a></p>\n"
        );
        let bad = render(
            "[click](javascript:alert(1)) and [data](data:text/html,hi) and [x](//evil.example)",
        );
        assert!(!bad.contains("<a "), "{bad}");
        assert!(bad.contains("click"), "the text stays: {bad}");
        assert!(render("[home](/dashboard)").contains("href=\"/dashboard\""));
        assert!(
            !render("[x](/\\evil.example)").contains("<a "),
            "browsers read /\\ as //"
        );
        let image = render("![chart](https://example.com/c.png)");
        assert!(!image.contains("<img"), "{image}");
        assert!(
            image.contains("rel=\"noopener noreferrer\">chart</a>"),
            "{image}"
        );
    }

    #[test]
    fn drafts_are_checked_field_by_field() {
        let now = 1_800_000_000_000;
        let err = check(&NoteDraft::default(), now).unwrap_err();
        assert!(err.field("title").is_some() && err.field("body").is_some());
        let draft = NoteDraft {
            title: " Hello ".into(),
            body: "Body".into(),
            publish_at: "2026-12-01".into(),
            published: true,
        };
        let (title, _, at) = check(&draft, now).unwrap();
        assert_eq!(title, "Hello");
        assert_eq!(at, 1_796_083_200_000);
        let wrong = NoteDraft {
            publish_at: "2026-12-01 and more".into(),
            ..draft.clone()
        };
        assert!(
            check(&wrong, now)
                .unwrap_err()
                .field("publish_at")
                .is_some()
        );
        assert_eq!(
            check(
                &NoteDraft {
                    publish_at: String::new(),
                    ..draft
                },
                now
            )
            .unwrap()
            .2,
            now
        );
    }
}
