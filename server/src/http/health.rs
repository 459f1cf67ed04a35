//! `/healthz` (the process answers) and `/readyz` (the database answers and is migrated).

use super::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let readiness = state.db.readiness().await;
    let ready = readiness.reachable && readiness.migrations_applied;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not_ready" },
            "checks": {
                "database": if readiness.reachable { "ok" } else { "unreachable" },
                "migrations": if readiness.migrations_applied { "applied" } else { "pending" },
            }
        })),
    )
}
