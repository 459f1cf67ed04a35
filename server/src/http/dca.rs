//! The REST plan API (`/api/dca/*`): adapters over `DcaService`, which checks the session
//! and that each plan belongs to the caller.

use super::AppState;
use super::auth::JsonBody;
use app::api::AppError;
use app::api::dca::{Plan, PlanStatus};
use app::api::ports::Caller;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
pub struct PlansBody {
    plans: Vec<Plan>,
}

#[derive(Deserialize)]
pub struct PlanIdBody {
    plan_id: String,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PlansBody>, AppError> {
    Ok(Json(PlansBody {
        plans: state.dca.list(&caller).await?,
    }))
}

pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(plan): JsonBody<Plan>,
) -> Result<(StatusCode, Json<Plan>), AppError> {
    let (plan, created) = state.dca.save(&caller, plan).await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(plan),
    ))
}

async fn set_status(
    state: &AppState,
    caller: &Caller,
    body: PlanIdBody,
    status: PlanStatus,
) -> Result<Json<Plan>, AppError> {
    Ok(Json(
        state.dca.set_status(caller, &body.plan_id, status).await?,
    ))
}

pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PlanIdBody>,
) -> Result<Json<Plan>, AppError> {
    set_status(&state, &caller, body, PlanStatus::Active).await
}

pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PlanIdBody>,
) -> Result<Json<Plan>, AppError> {
    set_status(&state, &caller, body, PlanStatus::Paused).await
}

pub async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PlanIdBody>,
) -> Result<Json<Plan>, AppError> {
    set_status(&state, &caller, body, PlanStatus::Stopped).await
}
