//! The REST admin API (`/api/admin/*`): adapters over the same `AdminPort` the admin
//! panel's server functions use. Every call checks the admin role in the port.

use super::AppState;
use super::auth::{JsonBody, QueryParams};
use app::api::AppError;
use app::api::admin::{AdminUserDetail, AdminUserPage, UserChange, UserQuery};
use app::api::ports::Caller;
use axum::Json;
use axum::extract::{Path, State};

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
