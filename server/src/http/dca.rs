//! The REST plan and portfolio API (`/api/dca/*`, `/api/account`, `/api/assets`,
//! `/api/broker/connection`): adapters over the same ports the server functions call,
//! which check the session and that each plan belongs to the caller.

use super::AppState;
use super::auth::{JsonBody, QueryParams};
use super::csv_field;
use app::api::AppError;
use app::api::dca::{
    AccountSummary, HistoryFilter, HistoryPage, Plan, PlanLimits, PlanStatus, PlanWire,
};
use app::api::ports::{Caller, Saved};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Serialize, schemars::JsonSchema)]
pub struct PlansBody {
    plans: Vec<Plan>,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct PlanIdBody {
    plan_id: String,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PlansBody>, AppError> {
    Ok(Json(PlansBody {
        plans: state.ports.plans.list_plans(&caller).await?,
    }))
}

pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(plan): JsonBody<PlanWire>,
) -> Result<(StatusCode, Json<Plan>), AppError> {
    Ok(match state.ports.plans.save_plan(&caller, plan).await? {
        Saved::Created(plan) => (StatusCode::CREATED, Json(plan)),
        Saved::Updated(plan) => (StatusCode::OK, Json(plan)),
    })
}

/// `POST /api/dca/config/check`: what saving the plan would say (422 with the fields and
/// the tier's limits), without saving it; 200 with the plan as it would be saved.
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(plan): JsonBody<PlanWire>,
) -> Result<Json<Plan>, AppError> {
    Ok(Json(state.ports.plans.check_plan(&caller, plan).await?))
}

async fn set_status(
    state: &AppState,
    caller: &Caller,
    body: PlanIdBody,
    status: PlanStatus,
) -> Result<Json<Plan>, AppError> {
    let plan_id = state.ports.plan_id(caller, &body.plan_id).await?;
    Ok(Json(
        state
            .ports
            .plans
            .set_plan_status(caller, &plan_id, status)
            .await?,
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

#[derive(Deserialize, schemars::JsonSchema)]
pub struct StopBody {
    plan_id: String,
    /// A signal bot only: sell what it holds ("Stop and sell"); otherwise its shares stay.
    #[serde(default)]
    sell: bool,
}

/// `POST /api/dca/stop`: stops a plan for good; `"sell": true` also closes a bot's
/// position.
pub async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<StopBody>,
) -> Result<Json<Plan>, AppError> {
    if body.sell {
        let plan_id = state.ports.plan_id(&caller, &body.plan_id).await?;
        return Ok(Json(
            state.ports.plans.stop_and_sell(&caller, &plan_id).await?,
        ));
    }
    let body = PlanIdBody {
        plan_id: body.plan_id,
    };
    set_status(&state, &caller, body, PlanStatus::Stopped).await
}

pub async fn run_now(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<PlanIdBody>,
) -> Result<(StatusCode, Json<Plan>), AppError> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let plan_id = state.ports.plan_id(&caller, &body.plan_id).await?;
    let plan = state.ports.plans.run_now(&caller, &plan_id, key).await?;
    Ok((StatusCode::ACCEPTED, Json(plan)))
}

/// `GET /api/dca/history?plan_id=&symbol=&before=&limit=`.
pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(filter): QueryParams<HistoryFilter>,
) -> Result<Json<HistoryPage>, AppError> {
    Ok(Json(state.ports.plans.history(&caller, &filter).await?))
}

/// `GET /api/dca/config/{id}`: one plan.
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Plan>, AppError> {
    let plan_id = state.ports.plan_id(&caller, &id).await?;
    Ok(Json(state.ports.plans.plan(&caller, &plan_id).await?))
}

/// `DELETE /api/dca/config/{id}`: deletes a plan (its history stays).
pub async fn delete_one(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, AppError> {
    let plan_id = state.ports.plan_id(&caller, &id).await?;
    state.ports.plans.delete_plan(&caller, &plan_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/dca/limits`: what a plan may spend per purchase.
pub async fn limits(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PlanLimits>, AppError> {
    Ok(Json(state.ports.plans.limits(&caller).await?))
}

pub async fn history_csv(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(filter): QueryParams<HistoryFilter>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let purchases = state.ports.plans.history_export(&caller, &filter).await?;
    let mut csv = String::from(
        "slot_at,symbol,side,notional,qty,price,status,reason,client_order_id,filled_at\n",
    );
    for p in purchases {
        let line = [
            p.slot_at.map(|t| t.to_string()).unwrap_or_default(),
            p.symbol,
            match p.side {
                app::domain::order::Side::Buy => "buy".to_owned(),
                app::domain::order::Side::Sell => "sell".to_owned(),
            },
            p.notional,
            p.qty.unwrap_or_default(),
            p.price.unwrap_or_default(),
            p.status.to_string(),
            p.reason.unwrap_or_default(),
            p.client_order_id,
            p.filled_at.map(|t| t.to_string()).unwrap_or_default(),
        ]
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
        csv.push_str(&line);
        csv.push('\n');
    }
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"quantshift-history.csv\"",
            ),
        ],
        csv,
    ))
}

pub async fn account(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AccountSummary>, AppError> {
    Ok(Json(state.ports.portfolio.account(&caller).await?))
}

/// `GET /api/performance`: invested, value, gain, XIRR and TWR for the account and each
/// plan, with the daily series.
pub async fn performance(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<app::api::performance::PerformanceView>, AppError> {
    Ok(Json(state.ports.portfolio.performance(&caller).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct AssetQuery {
    #[serde(default)]
    q: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct AssetsBody {
    assets: Vec<app::api::dca::AssetFacts>,
}

pub async fn assets(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<AssetQuery>,
) -> Result<Json<AssetsBody>, AppError> {
    Ok(Json(AssetsBody {
        assets: state
            .ports
            .portfolio
            .search_assets(&caller, &query.q)
            .await?,
    }))
}

pub async fn connection(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::connections::ConnectionView>, AppError> {
    Ok(Json(state.ports.connections.view(&caller).await?))
}

pub async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<crate::connections::ConnectRequest>,
) -> Result<Json<crate::connections::ConnectionView>, AppError> {
    Ok(Json(
        state.ports.connections.connect(&caller, request).await?,
    ))
}

pub async fn disconnect(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::connections::ConnectionView>, AppError> {
    Ok(Json(state.ports.connections.disconnect(&caller).await?))
}
