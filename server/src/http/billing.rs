//! `GET /api/billing`: the caller's tier, limits and usage. `GET /api/billing/tiers`: the
//! tier table (public: the landing page and anyone deciding whether to subscribe read
//! it), and whether this install holds users to it.

use super::AppState;
use app::api::AppError;
use app::api::billing::BillingView;
use app::api::ports::Caller;
use app::domain::tier::{Tier, TierRules};
use axum::Json;
use axum::extract::State;
use serde::Serialize;

#[derive(Serialize)]
pub struct TierView {
    pub tier: Tier,
    pub name: &'static str,
    #[serde(flatten)]
    pub rules: TierRules,
}

#[derive(Serialize)]
pub struct TiersBody {
    /// `false`: billing is off on this install and every user has every feature.
    pub billing: bool,
    /// Cheapest first.
    pub tiers: Vec<TierView>,
}

pub async fn view(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<BillingView>, AppError> {
    Ok(Json(state.ports.billing.billing(&caller).await?))
}

pub async fn tiers(State(state): State<AppState>) -> Json<TiersBody> {
    Json(TiersBody {
        billing: state.billing,
        tiers: Tier::ALL
            .into_iter()
            .map(|tier| TierView {
                tier,
                name: tier.name(),
                rules: state.tiers.rules(tier).clone(),
            })
            .collect(),
    })
}
