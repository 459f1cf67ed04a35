//! The caller's subscription: their tier in effect (every feature with billing off), what
//! it allows, and what they use of it, counted from their plans and purchase history (no
//! separate counter that could drift).

use crate::accounts::AccountService;
use crate::db::Db;
use crate::errors::internal;
use app::api::AppError;
use app::api::billing::{BillingView, Usage};
use app::api::dca::{PlanStatus, PurchaseStatus};
use app::api::ports::{BillingPort, Caller};
use app::domain::tier::{Tier, Tiers};
use app::domain::time::Clock;
use rust_decimal::Decimal;
use std::collections::BTreeSet;
use std::sync::Arc;

pub struct BillingService {
    db: Db,
    clock: Arc<dyn Clock>,
    accounts: Arc<AccountService>,
    /// Whether users are held to their tiers.
    billing: bool,
    tiers: Tiers,
}

impl BillingService {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        billing: bool,
        tiers: Tiers,
    ) -> Self {
        Self {
            db,
            clock,
            accounts,
            billing,
            tiers,
        }
    }

    /// The first instant of the current calendar month in New York, in epoch ms.
    fn month_start(&self) -> Result<i64, AppError> {
        let now = jiff::Timestamp::from_millisecond(self.clock.now().millis()).map_err(internal)?;
        let zone = app::domain::calendar::new_york();
        let first = zone.to_datetime(now).date().first_of_month().at(0, 0, 0, 0);
        Ok(zone.to_timestamp(first).map_err(internal)?.as_millisecond())
    }
}

#[async_trait::async_trait]
impl BillingPort for BillingService {
    async fn billing(&self, caller: &Caller) -> Result<BillingView, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let tier = if self.billing {
            user.tier
        } else {
            Tier::Premium
        };
        let in_use = (self
            .db
            .plans_in(&user.id, &[PlanStatus::Active, PlanStatus::Paused])
            .await)
            .map_err(internal)?;
        let symbols: BTreeSet<_> = in_use
            .iter()
            .flat_map(|plan| plan.legs.iter().map(|leg| &leg.symbol))
            .collect();
        let bought = self
            .db
            .bought_since(&user.id, self.month_start()?)
            .await
            .map_err(internal)?;
        let volume = bought
            .iter()
            .map(|p| match (p.qty, p.price) {
                (Some(qty), Some(price)) => qty * price,
                // A fill the broker has not priced yet counts at the amount ordered; a
                // partial fill without its quantity, at nothing rather than too much.
                _ if p.status == PurchaseStatus::Filled => p.notional,
                _ => Decimal::ZERO,
            })
            .sum::<Decimal>()
            .round_dp(2);
        Ok(BillingView {
            billing: self.billing,
            tier,
            // Stripe subscriptions are not connected yet.
            status: None,
            current_period_end: None,
            cancel_at_period_end: false,
            usage: Usage {
                symbols: symbols.len() as u32,
                plans: in_use.len() as u32,
                purchases_this_month: bought.len() as u32,
                volume_this_month: volume,
            },
            limits: self.tiers.rules(tier).clone(),
        })
    }
}
