//! Billing on the wire: the caller's tier, what it allows and what they use of it.

use crate::domain::tier::{Tier, TierRules};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What the caller uses of their tier. Purchases and volume count what was bought in the
/// current calendar month (New York), from the purchase history itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    pub current_period_end: Option<jiff::Timestamp>,
    pub cancel_at_period_end: bool,
    pub usage: Usage,
    pub limits: TierRules,
}
