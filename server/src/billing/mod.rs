//! The caller's subscription: their tier in effect (every feature with billing off), what
//! it allows, and what they use of it, counted from their plans and purchase history (no
//! separate counter that could drift); Stripe Checkout and the Billing Portal to change
//! it; and Stripe's webhook, which is the only thing that changes a paying user's tier.
//!
//! - [`webhook`]: the signature check and the events read as changes (pure).
//! - [`stripe`]: the Stripe API calls, through async-stripe.

pub mod stripe;
pub mod webhook;

use crate::accounts::AccountService;
use crate::db::Db;
use crate::db::billing::{Applied, EventRecord};
use crate::db::users::UserRecord;
use crate::errors::internal;
use crate::events::EventBus;
use app::api::billing::{BillingView, Usage};
use app::api::dca::{PlanStatus, PurchaseStatus};
use app::api::live::LiveEvent;
use app::api::ports::{BillingPort, Caller};
use app::api::{AppError, ErrorCode};
use app::domain::tier::Tier;
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
    /// The tier table in force (admins change its limits at run time).
    tiers: crate::settings::LiveSettings,
    stripe: Option<StripeBilling>,
}

/// Billing through Stripe (billing on).
pub struct StripeBilling {
    pub api: Arc<dyn stripe::StripeApi>,
    pub prices: webhook::Prices,
    pub webhook_secret: String,
    /// Where Checkout and the portal send the user back to (the app's public origin).
    pub return_origin: String,
    pub events: EventBus,
    /// Real time, for the webhook signature's tolerance.
    pub wall: Arc<dyn Clock>,
}

impl BillingService {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        billing: bool,
        tiers: crate::settings::LiveSettings,
    ) -> Self {
        Self {
            db,
            clock,
            accounts,
            billing,
            tiers,
            stripe: None,
        }
    }

    pub fn with_stripe(mut self, stripe: StripeBilling) -> Self {
        self.stripe = Some(stripe);
        self
    }

    fn stripe(&self) -> Result<&StripeBilling, AppError> {
        self.stripe.as_ref().ok_or_else(|| {
            AppError::new(
                ErrorCode::Conflict,
                "Billing is off on this server: every account has every feature.",
            )
        })
    }

    /// Starts a Stripe Checkout for `tier`; the hosted page's URL.
    pub async fn checkout(&self, caller: &Caller, tier: Tier) -> Result<String, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let stripe = self.stripe()?;
        // Receipts and payment problems go to this address: it must be the user's.
        self.accounts.require_verified(&user)?;
        let Some(price_id) = stripe.prices.of(tier) else {
            return Err(AppError::invalid_fields(
                [(
                    "tier".to_owned(),
                    format!(
                        "{} cannot be bought; choose Basic, Pro or Premium.",
                        tier.name()
                    ),
                )]
                .into(),
            ));
        };
        let subs = self.db.subscriptions_of(&user.id).await.map_err(internal)?;
        if let Some(current) = crate::db::billing::in_effect(&subs) {
            // A second subscription would charge twice; the portal changes the price of
            // the one they have (prorated).
            let message = if current.tier == Some(tier) {
                format!("You are subscribed to {} already.", tier.name())
            } else {
                "You have a subscription: change its plan under Manage billing.".to_owned()
            };
            return Err(AppError::new(ErrorCode::Conflict, message));
        }
        let customer = self.db.stripe_customer(&user.id).await.map_err(internal)?;
        let origin = &stripe.return_origin;
        let success = format!(
            "{origin}/billing?checkout=done&tier={}&session={{CHECKOUT_SESSION_ID}}",
            tier.as_str()
        );
        let cancel = format!("{origin}/billing?checkout=cancelled");
        stripe
            .api
            .checkout(stripe::CheckoutRequest {
                user_id: &user.id,
                email: &user.email,
                customer: customer.as_deref(),
                price_id,
                success_url: &success,
                cancel_url: &cancel,
            })
            .await
            .map_err(stripe_unavailable)
    }

    /// Opens the Stripe Billing Portal for the caller's customer; its URL.
    pub async fn portal(&self, caller: &Caller) -> Result<String, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let stripe = self.stripe()?;
        let Some(customer) = self.db.stripe_customer(&user.id).await.map_err(internal)? else {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "There is no billing account to manage yet: subscribe to a plan first.",
            ));
        };
        let back = format!("{}/billing", stripe.return_origin);
        stripe
            .api
            .portal(&customer, &back)
            .await
            .map_err(stripe_unavailable)
    }

    /// Applies one webhook delivery: checks its signature, records the event (a replay
    /// changes nothing), updates the subscription and the user's tier, pauses what the
    /// new tier does not allow, cancels a superseded subscription and tells the user's
    /// browsers.
    pub async fn webhook(&self, signature: Option<&str>, body: &[u8]) -> Result<(), AppError> {
        let Some(stripe) = &self.stripe else {
            return Err(AppError::not_found("webhook"));
        };
        let now = stripe.wall.now().millis().div_euclid(1000);
        webhook::verify(signature, body, &stripe.webhook_secret, now).map_err(|err| {
            tracing::warn!(error = %err, "refused a Stripe webhook delivery");
            AppError::new(
                ErrorCode::BadRequest,
                format!("Invalid Stripe-Signature: {err}."),
            )
        })?;
        let event: webhook::Event = serde_json::from_slice(body).map_err(|err| {
            AppError::new(ErrorCode::BadRequest, format!("Not a Stripe event: {err}."))
        })?;
        let change = webhook::change(&event, &stripe.prices).map_err(|err| {
            AppError::new(ErrorCode::BadRequest, format!("Event {}: {err}.", event.id))
        })?;
        let record = EventRecord {
            id: &event.id,
            kind: &event.kind,
            created: event.created,
            received_at: stripe.wall.now(),
        };
        let applied = self
            .db
            .apply_stripe_event(&record, &change)
            .await
            .map_err(internal)?;
        tracing::info!(event = %event.id, kind = %event.kind, ?applied, "Stripe event");
        let (user_id, changed) = match applied {
            Applied::Changed { user_id, .. } => (user_id, true),
            // A redelivery runs the follow-up again: it may have failed the first time.
            Applied::Replay {
                user_id: Some(user_id),
            } => (user_id, false),
            Applied::Replay { user_id: None } | Applied::Nothing { .. } => return Ok(()),
        };
        if changed {
            // Committed: the browser may read it now, whatever the follow-up does.
            stripe.events.publish(&user_id, &LiveEvent::Billing).await;
        }
        self.follow_up(stripe, &user_id).await
    }

    /// What follows an event for `user_id`, read afresh so that it can run again: the
    /// active plans their tier does not allow are paused (newest first; nothing is
    /// deleted), and a paying subscription older than the one in effect (a second
    /// checkout) is cancelled at Stripe. 503 when Stripe cannot be reached (Stripe then
    /// delivers the event again, and this runs again).
    async fn follow_up(&self, stripe: &StripeBilling, user_id: &str) -> Result<(), AppError> {
        let Some(user) = self.db.user_by_id(user_id).await.map_err(internal)? else {
            return Ok(());
        };
        let active = self
            .db
            .plans_in(user_id, &[PlanStatus::Active])
            .await
            .map_err(internal)?;
        let now = self.clock.now().millis();
        for (plan, why) in self.tiers.tiers().over_limit(user.tier, &active) {
            crate::dca::pause_for_tier(&self.db, &stripe.events, user_id, plan, &why, now)
                .await
                .map_err(internal)?;
        }
        let subs = self.db.subscriptions_of(user_id).await.map_err(internal)?;
        let Some(winner) = crate::db::billing::in_effect(&subs) else {
            return Ok(());
        };
        for old in subs.iter().filter(|s| s.id != winner.id && s.grants()) {
            match stripe.api.cancel(&old.id).await {
                // Gone at Stripe: it bills nobody either way.
                Ok(()) | Err(stripe::StripeFailure::Gone(_)) => {
                    tracing::info!(subscription = %old.id, "cancelled a superseded subscription");
                    self.db
                        .mark_subscription_canceled(&old.id, stripe.wall.now())
                        .await
                        .map_err(internal)?;
                }
                Err(stripe::StripeFailure::Refused(err)) => {
                    // Stripe will not cancel it (already over, say): nothing to retry.
                    tracing::error!(subscription = %old.id, error = %err, "Stripe refused to cancel a superseded subscription");
                }
                Err(err) => {
                    tracing::error!(subscription = %old.id, error = %err, "a superseded subscription could not be cancelled");
                    return Err(AppError::new(
                        ErrorCode::Network,
                        "Stripe could not be reached to cancel a superseded subscription; deliver again.",
                    ));
                }
            }
        }
        Ok(())
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
    async fn checkout(&self, caller: &Caller, tier: Tier) -> Result<String, AppError> {
        BillingService::checkout(self, caller, tier).await
    }

    async fn portal(&self, caller: &Caller) -> Result<String, AppError> {
        BillingService::portal(self, caller).await
    }

    fn tier_table(&self) -> app::api::billing::TierTable {
        app::api::billing::TierTable::new(self.billing, &self.tiers.tiers())
    }

    async fn billing(&self, caller: &Caller) -> Result<BillingView, AppError> {
        let user = self.accounts.require_user(caller).await?;
        self.billing_of(&user).await
    }
}

impl BillingService {
    /// The user's tier, subscription and this month's usage, counted from their plans and
    /// purchase history (not a separate counter that could drift).
    pub async fn billing_of(&self, user: &UserRecord) -> Result<BillingView, AppError> {
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
        let subs = self.db.subscriptions_of(&user.id).await.map_err(internal)?;
        // The one in effect, else the newest (say, the one that just ended).
        let shown = crate::db::billing::in_effect(&subs).or(subs.first());
        Ok(BillingView {
            billing: self.billing,
            tier,
            status: shown.map(|s| s.status.clone()),
            current_period_end: shown
                .and_then(|s| s.current_period_end_ms)
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
            cancel_at_period_end: shown.is_some_and(|s| s.cancel_at_period_end),
            usage: Usage {
                symbols: symbols.len() as u32,
                plans: in_use.len() as u32,
                purchases_this_month: bought.len() as u32,
                volume_this_month: volume,
            },
            limits: self.tiers.tiers().rules(tier).clone(),
        })
    }
}

/// What the browser is told when Stripe does not answer (the cause goes to the log).
fn stripe_unavailable(err: stripe::StripeFailure) -> AppError {
    tracing::error!(error = %err, "a Stripe request failed");
    match err {
        // A refusal is the server's fault (a wrong key or price id), not the user's.
        stripe::StripeFailure::Refused(_) | stripe::StripeFailure::Gone(_) => AppError::new(
            ErrorCode::Internal,
            "Stripe refused the request; nothing was charged. Please contact support.",
        ),
        stripe::StripeFailure::Unreachable(_) => AppError::new(
            ErrorCode::Network,
            "Stripe could not be reached; nothing was charged. Please try again.",
        ),
    }
}
