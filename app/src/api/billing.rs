//! Billing on the wire: the caller's tier, what it allows and what they use of it.

use crate::domain::tier::{Tier, TierRules};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What the caller uses of their tier. Purchases and volume count what was bought in the
/// current calendar month (New York), from the purchase history itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Usage {
    /// Distinct symbols across the active and paused plans.
    pub symbols: u32,
    /// Active and paused plans.
    pub plans: u32,
    pub purchases_this_month: u32,
    /// Dollars bought this month (filled quantity × price).
    pub volume_this_month: Decimal,
}

/// `GET /api/billing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct BillingView {
    /// Whether this install holds users to their tiers; off, `tier` is `premium`.
    pub billing: bool,
    /// The tier in effect.
    pub tier: Tier,
    /// The subscription's state at Stripe (`active`, `past_due`, …); `null` without one.
    pub status: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::domain::wire_time::option_timestamp"
    )]
    #[cfg_attr(
        feature = "ssr",
        schemars(with = "Option<crate::api::schema::Instant>")
    )]
    pub current_period_end: Option<jiff::Timestamp>,
    pub cancel_at_period_end: bool,
    pub usage: Usage,
    pub limits: TierRules,
}

/// One row of the tier table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct TierOffer {
    pub tier: Tier,
    pub name: String,
    #[serde(flatten)]
    pub rules: TierRules,
}

/// `GET /api/billing/tiers` (public).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct TierTable {
    /// `false`: billing is off on this install and every user has every feature.
    pub billing: bool,
    /// Cheapest first.
    pub tiers: Vec<TierOffer>,
}

impl TierTable {
    pub fn new(billing: bool, tiers: &crate::domain::tier::Tiers) -> Self {
        Self {
            billing,
            tiers: Tier::ALL
                .into_iter()
                .map(|tier| TierOffer {
                    tier,
                    name: tier.name().to_owned(),
                    rules: tiers.rules(tier).clone(),
                })
                .collect(),
        }
    }
}

/// One card of the pricing page (`/pricing`, rendered on the server), worded from the tier
/// table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PriceCard {
    pub name: String,
    /// "$19" or "$21.50".
    pub price: String,
    pub features: Vec<String>,
}

/// The pricing page's cards: the served tier table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Pricing {
    pub billing: bool,
    pub cards: Vec<PriceCard>,
}

impl From<TierTable> for Pricing {
    fn from(table: TierTable) -> Self {
        Self {
            billing: table.billing,
            cards: table
                .tiers
                .into_iter()
                .map(|offer| {
                    let price = offer.rules.price.normalize();
                    PriceCard {
                        features: offer.rules.features(),
                        price: if price.fract().is_zero() {
                            format!("${price}")
                        } else {
                            format!("${price:.2}")
                        },
                        name: offer.name,
                    }
                })
                .collect(),
        }
    }
}

/// Where to send the browser: a Stripe page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Redirect {
    pub url: String,
}

// The billing page's server functions: thin adapters over the port the REST API uses.

#[leptos::server(prefix = "/api/fn", endpoint = "load_billing", output = crate::api::codec::Json)]
pub async fn load_billing() -> Result<BillingView, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.billing.billing(&caller).await)
}

#[leptos::server(prefix = "/api/fn", endpoint = "start_checkout", output = crate::api::codec::Json)]
pub async fn start_checkout(tier: Tier) -> Result<Redirect, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(
        ports
            .billing
            .checkout(&caller, tier)
            .await
            .map(|url| Redirect { url }),
    )
}

#[leptos::server(prefix = "/api/fn", endpoint = "open_billing_portal", output = crate::api::codec::Json)]
pub async fn open_billing_portal() -> Result<Redirect, super::AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(
        ports
            .billing
            .portal(&caller)
            .await
            .map(|url| Redirect { url }),
    )
}

#[leptos::server(prefix = "/api/fn", endpoint = "load_tier_table", output = crate::api::codec::Json)]
pub async fn load_tier_table() -> Result<TierTable, super::AppError> {
    let (ports, _caller) = super::ports::request().await?;
    Ok(ports.billing.tier_table())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tier::Tiers;

    #[test]
    fn the_pricing_cards_read_the_served_table() {
        let mut tiers = Tiers::default();
        tiers.pro.price = rust_decimal::Decimal::new(215, 1);
        let pricing = Pricing::from(TierTable::new(true, &tiers));
        let prices: Vec<_> = pricing.cards.iter().map(|c| c.price.as_str()).collect();
        assert_eq!(prices, ["$0", "$9", "$21.50", "$29"]);
        assert_eq!(pricing.cards[0].name, "Free");
        assert_eq!(pricing.cards[0].features[2], "Paper trading only");
        assert!(pricing.billing);
    }
}
