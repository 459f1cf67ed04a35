//! The REST auth API (`/api/auth/*`), for programmatic clients.
//! Each handler is an adapter over the same `AccountService` the UI's server functions use.

use super::AppState;
use app::api::auth::{Credentials, UserView};
use app::api::ports::Caller;
use app::api::{AppError, ErrorCode};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Serialize, schemars::JsonSchema)]
pub struct UserBody {
    user: UserView,
}

/// A JSON body whose rejection is the API's error shape instead of axum's plain text.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(|e| {
                let code = match e {
                    JsonRejection::MissingJsonContentType(_) => ErrorCode::UnsupportedMediaType,
                    _ => ErrorCode::BadRequest,
                };
                AppError::new(
                    code,
                    format!("The request body is not valid: {}", e.body_text()),
                )
            })
    }
}

/// A query string whose rejection is the API's error shape instead of axum's plain text.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| QueryParams(v))
            .map_err(|e| {
                AppError::new(
                    ErrorCode::BadRequest,
                    format!("The query string is not valid: {}", e.body_text()),
                )
            })
    }
}

pub async fn sign_up(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<Credentials>,
) -> Result<(StatusCode, Json<UserBody>), AppError> {
    let user = state.ports.accounts.sign_up(&caller, input).await?;
    Ok((StatusCode::CREATED, Json(UserBody { user })))
}

pub async fn sign_in(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<Credentials>,
) -> Result<Json<UserBody>, AppError> {
    let user = state.ports.accounts.sign_in(&caller, input).await?;
    Ok(Json(UserBody { user }))
}

pub async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, AppError> {
    state.ports.accounts.sign_out(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<UserBody>, AppError> {
    let user = state
        .ports
        .accounts
        .current_user(&caller)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    Ok(Json(UserBody { user }))
}
