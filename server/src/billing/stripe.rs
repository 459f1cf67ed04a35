//! The Stripe API calls the app makes, through async-stripe: a Checkout Session for a
//! subscription, a Billing Portal session, and cancelling a superseded subscription. The
//! same code talks to api.stripe.com and, through `stripe_api_base`, to the stand-in.

use async_trait::async_trait;
use std::collections::HashMap;

/// A checkout for one tier's price.
#[derive(Clone, Debug)]
pub struct CheckoutRequest<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    /// The user's Stripe customer, reused when they have one.
    pub customer: Option<&'a str>,
    pub price_id: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// Stripe answered with an error (a bad request, an unknown price, …).
    #[error("Stripe refused the request: {0}")]
    Refused(String),
    /// The object does not exist at Stripe (404).
    #[error("Stripe has no such object: {0}")]
    Gone(String),
    /// Stripe could not be reached or answered with something unreadable.
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
}

/// Stripe's API as the app uses it (a trait so tests can count calls).
#[async_trait]
pub trait StripeApi: Send + Sync + 'static {
    /// Creates a Checkout Session; its hosted page's URL.
    async fn checkout(&self, request: CheckoutRequest<'_>) -> Result<String, StripeFailure>;
    /// Creates a Billing Portal session for `customer`; its URL.
    async fn portal(&self, customer: &str, return_url: &str) -> Result<String, StripeFailure>;
    /// Cancels a subscription at once.
    async fn cancel(&self, subscription_id: &str) -> Result<(), StripeFailure>;
}

/// async-stripe's client.
pub struct AsyncStripe {
    client: stripe::Client,
}

impl AsyncStripe {
    /// `api_base` is Stripe's (`https://api.stripe.com/`) or the stand-in's.
    pub fn new(secret_key: &str, api_base: &str) -> anyhow::Result<Self> {
        let base = if api_base.ends_with('/') {
            api_base.to_owned()
        } else {
            format!("{api_base}/")
        };
        let client = stripe::ClientBuilder::new(secret_key)
            .url(base)
            .build()
            .map_err(|e| anyhow::anyhow!("configuration key `stripe_api_base`: {e}"))?;
        Ok(Self { client })
    }
}

fn failure(err: stripe::StripeError) -> StripeFailure {
    match err {
        // Rate limits, lock timeouts and Stripe's own failures pass: try again later.
        stripe::StripeError::Stripe(errors, status)
            if status == 429 || status == 409 || status >= 500 =>
        {
            StripeFailure::Unreachable(format!(
                "{} ({status})",
                errors.message.as_deref().unwrap_or("no message")
            ))
        }
        stripe::StripeError::Stripe(errors, 404) => StripeFailure::Gone(
            errors
                .message
                .clone()
                .unwrap_or_else(|| "no message".to_owned()),
        ),
        stripe::StripeError::Stripe(errors, status) => StripeFailure::Refused(format!(
            "{} ({status})",
            errors.message.as_deref().unwrap_or("no message")
        )),
        other => StripeFailure::Unreachable(other.to_string()),
    }
}

#[async_trait]
impl StripeApi for AsyncStripe {
    async fn checkout(&self, request: CheckoutRequest<'_>) -> Result<String, StripeFailure> {
        use stripe_checkout::checkout_session::{
            CreateCheckoutSession, CreateCheckoutSessionLineItems,
            CreateCheckoutSessionSubscriptionData,
        };
        let ours = HashMap::from([("user_id".to_owned(), request.user_id.to_owned())]);
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(request.price_id.to_owned());
        item.quantity = Some(1);
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(ours.clone());
        let mut create = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Subscription)
            .client_reference_id(request.user_id)
            .line_items(vec![item])
            .metadata(ours)
            .subscription_data(subscription)
            .success_url(request.success_url)
            .cancel_url(request.cancel_url);
        create = match request.customer {
            Some(customer) => create.customer(customer),
            None => create.customer_email(request.email),
        };
        let session = create.send(&self.client).await.map_err(failure)?;
        session
            .url
            .ok_or_else(|| StripeFailure::Unreachable("the checkout session has no URL".into()))
    }

    async fn portal(&self, customer: &str, return_url: &str) -> Result<String, StripeFailure> {
        let session = stripe_billing::billing_portal_session::CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .send(&self.client)
            .await
            .map_err(failure)?;
        Ok(session.url)
    }

    async fn cancel(&self, subscription_id: &str) -> Result<(), StripeFailure> {
        stripe_billing::subscription::CancelSubscription::new(subscription_id)
            .send(&self.client)
            .await
            .map_err(failure)?;
        Ok(())
    }
}
