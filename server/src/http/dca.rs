//! The REST plan API (`/api/dca/*`): adapters over `DcaService`, which checks the session
//! and that each plan belongs to the caller.

use super::AppState;
use super::auth::JsonBody;
use crate::dca::PurchaseView;
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

pub async fn run_now(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<PlanIdBody>,
) -> Result<(StatusCode, Json<Plan>), AppError> {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let plan = state.dca.run_now(&caller, &body.plan_id, key).await?;
    Ok((StatusCode::ACCEPTED, Json(plan)))
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    plan_id: Option<String>,
    limit: Option<i64>,
    /// A cursor: the `next_before` of the previous page.
    before: Option<i64>,
}

#[derive(Serialize)]
pub struct HistoryBody {
    purchases: Vec<PurchaseView>,
    next_before: Option<i64>,
}

pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(query): axum::extract::Query<HistoryQuery>,
) -> Result<Json<HistoryBody>, AppError> {
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let rows = state
        .dca
        .history(
            &caller,
            query.plan_id.as_deref().filter(|p| !p.is_empty()),
            query.before,
            limit,
        )
        .await?;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.created_at))
        .flatten();
    Ok(Json(HistoryBody {
        purchases: rows.into_iter().map(PurchaseView::from).collect(),
        next_before,
    }))
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

pub async fn history_csv(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(query): axum::extract::Query<HistoryQuery>,
) -> Result<impl axum::response::IntoResponse, AppError> {
    let rows = state
        .dca
        .history(
            &caller,
            query.plan_id.as_deref().filter(|p| !p.is_empty()),
            None,
            500,
        )
        .await?;
    let mut csv =
        String::from("slot_at,symbol,notional,qty,price,status,reason,client_order_id,filled_at\n");
    for p in rows.into_iter().map(PurchaseView::from) {
        let line = [
            p.slot_at.map(|t| t.to_string()).unwrap_or_default(),
            p.symbol,
            p.notional,
            p.qty.unwrap_or_default(),
            p.price.unwrap_or_default(),
            p.status,
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

#[derive(Serialize)]
pub struct PositionView {
    symbol: String,
    qty: rust_decimal::Decimal,
    avg_entry_price: rust_decimal::Decimal,
    market_value: Option<rust_decimal::Decimal>,
    unrealized_pl: Option<rust_decimal::Decimal>,
    cost_basis: rust_decimal::Decimal,
}

#[derive(Serialize)]
pub struct OrderView {
    id: String,
    client_order_id: String,
    symbol: String,
    side: app::domain::order::Side,
    notional: Option<rust_decimal::Decimal>,
    qty: Option<rust_decimal::Decimal>,
    status: String,
    filled_qty: rust_decimal::Decimal,
    filled_avg_price: Option<rust_decimal::Decimal>,
    created_at: jiff::Timestamp,
}

#[derive(Serialize)]
pub struct AccountBody {
    equity: rust_decimal::Decimal,
    cash: rust_decimal::Decimal,
    buying_power: rust_decimal::Decimal,
    portfolio_value: rust_decimal::Decimal,
    /// Not tracked yet (plans only buy); `null` rather than a made-up number.
    realized_pl: Option<rust_decimal::Decimal>,
    unrealized_pl: rust_decimal::Decimal,
    positions: Vec<PositionView>,
    recent_orders: Vec<OrderView>,
}

pub async fn account(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AccountBody>, AppError> {
    let overview = state.dca.account(&caller).await?;
    let a = overview.account;
    Ok(Json(AccountBody {
        equity: a.equity,
        cash: a.cash,
        buying_power: a.buying_power,
        portfolio_value: a.equity,
        realized_pl: None,
        unrealized_pl: overview
            .positions
            .iter()
            .filter_map(|p| p.unrealized_pl)
            .sum(),
        positions: overview
            .positions
            .into_iter()
            .map(|p| PositionView {
                symbol: p.symbol.to_string(),
                qty: p.qty,
                avg_entry_price: p.avg_entry_price,
                market_value: p.market_value,
                unrealized_pl: p.unrealized_pl,
                cost_basis: p.cost_basis,
            })
            .collect(),
        recent_orders: overview
            .recent_orders
            .into_iter()
            .map(|o| {
                let (notional, qty) = match o.size {
                    app::domain::order::Size::Notional(n) => (Some(n), None),
                    app::domain::order::Size::Qty(q) => (None, Some(q)),
                };
                OrderView {
                    id: o.id,
                    client_order_id: o.client_order_id,
                    symbol: o.symbol.to_string(),
                    side: o.side,
                    notional,
                    qty,
                    status: format!("{:?}", o.status).to_lowercase(),
                    filled_qty: o.filled_qty,
                    filled_avg_price: o.filled_avg_price,
                    created_at: o.created_at,
                }
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
pub struct AssetQuery {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
pub struct AssetsBody {
    assets: Vec<app::api::dca::AssetFacts>,
}

pub async fn assets(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(query): axum::extract::Query<AssetQuery>,
) -> Result<Json<AssetsBody>, AppError> {
    Ok(Json(AssetsBody {
        assets: state.dca.search_assets(&caller, &query.q).await?,
    }))
}

pub async fn connection(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::connections::ConnectionView>, AppError> {
    Ok(Json(state.connections.view(&caller).await?))
}

pub async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<crate::connections::ConnectRequest>,
) -> Result<Json<crate::connections::ConnectionView>, AppError> {
    Ok(Json(state.connections.connect(&caller, request).await?))
}

pub async fn disconnect(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<crate::connections::ConnectionView>, AppError> {
    Ok(Json(state.connections.disconnect(&caller).await?))
}
