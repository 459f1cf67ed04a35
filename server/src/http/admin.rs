//! The REST admin API (`/api/admin/*`): adapters over the same `AdminPort` the admin
//! panel's server functions use. Every call checks the admin role in the port.

use super::AppState;
use super::auth::{JsonBody, QueryParams};
use super::csv_field;
use app::api::admin::{
    AdminUserDetail, AdminUserPage, AuditPage, AuditQuery, HealthReport, UserChange, UserQuery,
};
use app::api::auth::SessionView;
use app::api::notes::{AdminNote, NoteDraft};
use app::api::ports::Caller;
use app::api::settings::PlatformSettingsView;
use app::api::{AppError, ErrorCode};
use app::domain::tier::Tier;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

/// `GET /api/admin/users?q=&role=&tier=&state=&sort=&after=&limit=`.
pub async fn users(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<UserQuery>,
) -> Result<Json<AdminUserPage>, AppError> {
    Ok(Json(state.ports.admin.list_users(&caller, &query).await?))
}

/// `GET /api/admin/users/{id}`.
pub async fn user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AdminUserDetail>, AppError> {
    Ok(Json(state.ports.admin.user(&caller, &id).await?))
}

/// `PATCH /api/admin/users/{id}` `{"role"?, "disabled"?}`.
pub async fn change_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<UserChange>,
) -> Result<Json<AdminUserDetail>, AppError> {
    Ok(Json(
        state.ports.admin.change_user(&caller, &id, &change).await?,
    ))
}

/// `DELETE /api/admin/users/{id}/sessions`: signs the user out everywhere.
pub async fn end_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AdminUserDetail>, AppError> {
    Ok(Json(state.ports.admin.end_sessions(&caller, &id).await?))
}

/// `GET /api/admin/audit?user=&action=&outcome=&from=&to=&after=&limit=`.
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    Ok(Json(state.ports.admin.audit(&caller, &query).await?))
}

/// `GET /api/admin/audit.csv?…`: every row the same filters select (up to 50,000), as CSV.
pub async fn audit_csv(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<impl IntoResponse, AppError> {
    let rows = state.ports.admin.audit_export(&caller, &query).await?;
    let mut csv = String::from("id,at,action,outcome,actor,actor_email,subject,ip,detail\n");
    for row in rows {
        let at = jiff::Timestamp::from_millisecond(row.at)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let line = [
            row.id.to_string(),
            at,
            row.action,
            row.outcome,
            row.actor.unwrap_or_default(),
            row.actor_email.unwrap_or_default(),
            row.subject.unwrap_or_default(),
            row.ip.unwrap_or_default(),
            row.detail,
        ]
        .iter()
        .map(|field| csv_field(field))
        .collect::<Vec<_>>()
        .join(",");
        csv.push_str(&line);
        csv.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"quantshift-audit.csv\"",
            ),
        ],
        csv,
    ))
}

/// `GET /api/admin/users/{id}/sessions`.
pub async fn user_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SessionsBody>, AppError> {
    let sessions = state.ports.admin.user_sessions(&caller, &id).await?;
    Ok(Json(SessionsBody { sessions }))
}

/// `DELETE /api/admin/sessions/{handle}`: ends any user's session.
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(handle): Path<String>,
) -> Result<StatusCode, AppError> {
    state.ports.admin.end_user_session(&caller, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{"sessions": [...]}`.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct SessionsBody {
    sessions: Vec<SessionView>,
}

/// `GET /api/sessions`: the caller's signed-in browsers and devices.
pub async fn own_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SessionsBody>, AppError> {
    let sessions = state.ports.accounts.sessions(&caller).await?;
    Ok(Json(SessionsBody { sessions }))
}

/// `DELETE /api/sessions/{handle}`: ends one of the caller's sessions.
pub async fn end_own_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(handle): Path<String>,
) -> Result<StatusCode, AppError> {
    state.ports.accounts.end_session(&caller, &handle).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/health`: what the health page shows, every figure graded.
pub async fn health(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<HealthReport>, AppError> {
    Ok(Json(state.ports.admin.health(&caller).await?))
}

/// `GET /api/release-notes`: the published notes, newest first (anyone signed in).
pub async fn release_notes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<super::openapi::ReleaseNotesBody>, AppError> {
    let notes = state.ports.notes.published(&caller, false).await?;
    Ok(Json(super::openapi::ReleaseNotesBody { notes }))
}

/// `GET /api/admin/release-notes`: every note, drafts included.
pub async fn all_notes(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<super::openapi::AdminNotesBody>, AppError> {
    let notes = state.ports.notes.all(&caller).await?;
    Ok(Json(super::openapi::AdminNotesBody { notes }))
}

/// `POST /api/admin/release-notes` `{"title","body","publish_at"?,"published"?}`: 201.
pub async fn create_note(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(draft): JsonBody<NoteDraft>,
) -> Result<(StatusCode, Json<AdminNote>), AppError> {
    let note = state.ports.notes.save(&caller, None, &draft).await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// `PATCH /api/admin/release-notes/{id}`: the whole draft again.
pub async fn change_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(draft): JsonBody<NoteDraft>,
) -> Result<Json<AdminNote>, AppError> {
    Ok(Json(
        state.ports.notes.save(&caller, Some(&id), &draft).await?,
    ))
}

/// `DELETE /api/admin/release-notes/{id}`: 204.
pub async fn delete_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.ports.notes.delete(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/admin/settings`: the platform settings in force.
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PlatformSettingsView>, AppError> {
    Ok(Json(state.ports.settings.load(&caller).await?))
}

/// `PUT /api/admin/settings` `{"announcement","min_per_slot","max_per_slot"}`: 422 naming
/// every wrong field (nothing saved), else the settings now in force (audited).
pub async fn save_settings(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(form): JsonBody<PlatformSettingsView>,
) -> Result<Json<PlatformSettingsView>, AppError> {
    Ok(Json(state.ports.settings.save(&caller, &form).await?))
}

/// `POST /admin/settings/tiers`: the tier limits form of `/admin/settings`, a plain HTML
/// form (`application/x-www-form-urlencoded`: `tier=free`, `free.max_symbols=3`,
/// `free.frequencies=weekly` once per schedule, `free.every_n=on`, … for each tier shown;
/// an unticked box is absent). Saves them with the other settings as they are, then sends
/// the browser back with `?tiers=saved`, or with the first refused field.
pub async fn save_tier_form(
    State(state): State<AppState>,
    caller: Caller,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<axum::response::Redirect, AppError> {
    let mut settings = state.ports.settings.load(&caller).await?;
    let submitted: Vec<Tier> = pairs
        .iter()
        .filter(|(key, _)| key == "tier")
        .filter_map(|(_, value)| Tier::parse(value))
        .collect();
    for view in settings
        .tiers
        .iter_mut()
        .filter(|view| submitted.contains(&view.tier))
    {
        let prefix = format!("{}.", view.tier.as_str());
        let values = |what: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(key, _)| key.strip_prefix(&prefix) == Some(what))
                .map(|(_, value)| value.as_str())
                .collect()
        };
        // A form without the field (not the page's) changes nothing rather than lifting the limit.
        if let Some(max) = values("max_symbols").first() {
            view.max_symbols = (*max).to_owned();
        }
        view.frequencies = values("frequencies")
            .into_iter()
            .filter_map(|word| serde_json::from_value(serde_json::Value::from(word)).ok())
            .collect();
        view.every_n = !values("every_n").is_empty();
        view.smart_dca = !values("smart_dca").is_empty();
        view.signal_bots = !values("signal_bots").is_empty();
        view.live_trading = !values("live_trading").is_empty();
    }
    match state.ports.settings.save(&caller, &settings).await {
        Ok(_) => Ok(axum::response::Redirect::to("/admin/settings?tiers=saved")),
        Err(err) if err.code == ErrorCode::ValidationFailed => {
            // The field only: the page words the refusal itself.
            let field = err.fields.keys().next().cloned().unwrap_or_default();
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("tier_field", &field)
                .finish();
            Ok(axum::response::Redirect::to(&format!(
                "/admin/settings?{query}"
            )))
        }
        Err(err) => Err(err),
    }
}
