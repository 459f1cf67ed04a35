//! `GET /api/billing`: the caller's tier, limits and usage. `GET /api/billing/tiers`: the
//! tier table (public: the landing page and anyone deciding whether to subscribe read
//! it), and whether this install holds users to it. `POST /api/billing/checkout` and
//! `/portal`: Stripe pages to send the browser to. `POST /api/billing/webhook`: Stripe's
//! events, authenticated by their signature alone.

use super::AppState;
use app::api::AppError;
use app::api::billing::Redirect;
use app::api::billing::{BillingView, TierTable};
use app::api::ports::Caller;
use app::domain::tier::Tier;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

pub async fn view(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<BillingView>, AppError> {
    Ok(Json(state.ports.billing.billing(&caller).await?))
}

pub async fn tiers(State(state): State<AppState>) -> Json<TierTable> {
    Json(state.ports.billing.tier_table())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    pub tier: Tier,
}

pub async fn checkout(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CheckoutBody>,
) -> Result<Json<Redirect>, AppError> {
    let url = state.ports.billing.checkout(&caller, body.tier).await?;
    Ok(Json(Redirect { url }))
}

pub async fn portal(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Redirect>, AppError> {
    let url = state.ports.billing.portal(&caller).await?;
    Ok(Json(Redirect { url }))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Received {
    pub received: bool,
}

/// The raw body is what Stripe signed: it is checked before it is parsed.
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, AppError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    state.stripe_webhook.webhook(signature, &body).await?;
    Ok(Json(Received { received: true }))
}
