//! The stand-in's records (checkout sessions, customers, subscriptions, invoices, portal
//! sessions) and the part of Stripe's billing rules QuantShift relies on. Every change
//! that Stripe would announce leaves its events in the outbox, in Stripe's order; the
//! caller hands them to the webhook queue under the same lock, so deliveries follow the
//! order of the changes.
//!
//! Time is whatever the caller passes as `now` (unix seconds): the store reads no clock.

use super::error::ApiError;
use super::wire::{self, Event, EventType};
use std::collections::BTreeMap;

/// Stripe metadata: string keys to string values, kept sorted so answers are stable.
pub type Metadata = BTreeMap<String, String>;

/// A new unique id with Stripe's prefix for the object (`sub_`, `cus_`, …).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// `start` plus `months` calendar months in UTC, clamped to the end of a shorter month as
/// Stripe bills (a subscription started on January 31st renews on February 28th, then
/// March 31st: periods are counted from the anchor, not from the previous period).
pub fn add_months(start: i64, months: i64) -> i64 {
    jiff::Timestamp::from_second(start)
        .ok()
        .zip(jiff::Span::new().try_months(months).ok())
        .and_then(|(at, span)| {
            at.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .checked_add(span)
                .ok()
        })
        .map_or(start + months * 30 * 86_400, |end| {
            end.timestamp().as_second()
        })
}

/// A monthly USD price the stand-in sells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    pub id: String,
    /// The plan's name in the product's language ("Pro").
    pub name: String,
    /// Cents per month.
    pub unit_amount: i64,
    pub created: i64,
}

impl Price {
    /// The product id Stripe would give the price's product.
    pub fn product(&self) -> String {
        format!(
            "prod_{}",
            self.id.strip_prefix("price_").unwrap_or(&self.id)
        )
    }
}

#[derive(Clone, Debug)]
pub struct Customer {
    pub id: String,
    pub email: Option<String>,
    pub metadata: Metadata,
    pub created: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Complete => "complete",
            Self::Expired => "expired",
        }
    }
}

/// What `POST /v1/checkout/sessions` asks for, read from its form.
#[derive(Clone, Debug, Default)]
pub struct NewCheckoutSession {
    pub price: String,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub metadata: Metadata,
    /// `subscription_data[metadata]`: becomes the subscription's metadata.
    pub subscription_metadata: Metadata,
    pub expires_at: Option<i64>,
}

/// A hosted checkout for one subscription to one price.
#[derive(Clone, Debug)]
pub struct CheckoutSession {
    pub id: String,
    pub created: i64,
    pub expires_at: i64,
    pub price: Price,
    /// The customer given at creation, or the one created when the session was paid.
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    /// The e-mail the customer paid with (`customer_details.email`).
    pub paid_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub metadata: Metadata,
    pub subscription_metadata: Metadata,
    pub completed: bool,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
}

impl CheckoutSession {
    /// Open until paid or until `expires_at`.
    pub fn status(&self, now: i64) -> SessionStatus {
        if self.completed {
            SessionStatus::Complete
        } else if now >= self.expires_at {
            SessionStatus::Expired
        } else {
            SessionStatus::Open
        }
    }

    /// Where the customer goes once paid: `success_url` with `{CHECKOUT_SESSION_ID}`
    /// replaced, as Stripe does.
    pub fn success_redirect(&self) -> String {
        self.success_url.replace("{CHECKOUT_SESSION_ID}", &self.id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscriptionStatus {
    Active,
    /// The last renewal's payment failed.
    PastDue,
    Canceled,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
        }
    }
}

/// A monthly subscription with one item.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    /// The one subscription item (`si_…`).
    pub item_id: String,
    pub price: Price,
    pub created: i64,
    /// Where the billing periods are counted from (the start).
    pub anchor: i64,
    /// Billing periods that have ended; the current period is the next one.
    pub periods_ended: i64,
    pub status: SubscriptionStatus,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub metadata: Metadata,
    pub latest_invoice: Option<String>,
}

impl Subscription {
    pub fn current_period_start(&self) -> i64 {
        add_months(self.anchor, self.periods_ended)
    }

    pub fn current_period_end(&self) -> i64 {
        add_months(self.anchor, self.periods_ended + 1)
    }
}

/// What `POST /v1/subscriptions/{id}` asks for, read from its form.
#[derive(Clone, Debug, Default)]
pub struct SubscriptionChange {
    pub cancel_at_period_end: Option<bool>,
    /// Switch the item (`items[0][id]`) to a price (`items[0][price]`).
    pub price: Option<(String, String)>,
    pub metadata: MetadataChange,
}

/// Stripe's metadata update rules: `metadata[key]=value` sets a key, `metadata[key]=`
/// removes it, `metadata=` removes them all (first).
#[derive(Clone, Debug, Default)]
pub struct MetadataChange {
    pub clear: bool,
    pub entries: Vec<(String, Option<String>)>,
}

impl MetadataChange {
    pub fn apply(&self, metadata: &mut Metadata) {
        if self.clear {
            metadata.clear();
        }
        for (key, value) in &self.entries {
            match value {
                Some(value) => metadata.insert(key.clone(), value.clone()),
                None => metadata.remove(key),
            };
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvoiceStatus {
    Open,
    Paid,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paid => "paid",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillingReason {
    SubscriptionCreate,
    SubscriptionCycle,
}

impl BillingReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SubscriptionCreate => "subscription_create",
            Self::SubscriptionCycle => "subscription_cycle",
        }
    }
}

/// One period of a subscription, billed.
#[derive(Clone, Debug)]
pub struct Invoice {
    pub id: String,
    /// The invoice's one line (`il_…`).
    pub line_id: String,
    pub customer: String,
    pub customer_email: Option<String>,
    pub subscription: String,
    pub subscription_item: String,
    /// The subscription's metadata when billed (`parent.subscription_details.metadata`).
    pub subscription_metadata: Metadata,
    pub price: Price,
    pub status: InvoiceStatus,
    pub billing_reason: BillingReason,
    pub created: i64,
    /// The service period the line bills.
    pub period_start: i64,
    pub period_end: i64,
}

impl Invoice {
    pub fn amount(&self) -> i64 {
        self.price.unit_amount
    }
}

/// A customer's link into the hosted portal.
#[derive(Clone, Debug)]
pub struct PortalSession {
    pub id: String,
    pub customer: String,
    pub return_url: Option<String>,
    pub created: i64,
}

/// Everything the stand-in knows.
pub struct Store {
    /// The base of the hosted pages' links (no trailing slash).
    public_url: String,
    prices: Vec<Price>,
    customers: BTreeMap<String, Customer>,
    sessions: BTreeMap<String, CheckoutSession>,
    /// In creation order (the portal lists them so).
    subscriptions: Vec<Subscription>,
    invoices: BTreeMap<String, Invoice>,
    portals: BTreeMap<String, PortalSession>,
    outbox: Vec<Event>,
}

impl Store {
    pub fn new(prices: Vec<Price>, public_url: String) -> Self {
        Self {
            public_url,
            prices,
            customers: BTreeMap::new(),
            sessions: BTreeMap::new(),
            subscriptions: Vec::new(),
            invoices: BTreeMap::new(),
            portals: BTreeMap::new(),
            outbox: Vec::new(),
        }
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn prices(&self) -> &[Price] {
        &self.prices
    }

    pub fn price(&self, id: &str) -> Option<&Price> {
        self.prices.iter().find(|p| p.id == id)
    }

    pub fn customer(&self, id: &str) -> Result<&Customer, ApiError> {
        self.customers
            .get(id)
            .ok_or_else(|| ApiError::not_found("customer", id))
    }

    pub fn session(&self, id: &str) -> Result<&CheckoutSession, ApiError> {
        self.sessions
            .get(id)
            .ok_or_else(|| ApiError::not_found("checkout.session", id))
    }

    pub fn subscription(&self, id: &str) -> Result<&Subscription, ApiError> {
        self.subscriptions
            .iter()
            .find(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("subscription", id))
    }

    pub fn invoice(&self, id: &str) -> Result<&Invoice, ApiError> {
        self.invoices
            .get(id)
            .ok_or_else(|| ApiError::not_found("invoice", id))
    }

    pub fn portal(&self, id: &str) -> Result<&PortalSession, ApiError> {
        self.portals
            .get(id)
            .ok_or_else(|| ApiError::not_found("billing_portal.session", id))
    }

    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }

    /// The events of the changes made since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.outbox)
    }

    fn emit(
        &mut self,
        kind: EventType,
        object: serde_json::Value,
        previous: Option<serde_json::Value>,
        now: i64,
    ) {
        self.outbox.push(Event::new(kind, object, previous, now));
    }

    fn subscription_index(&self, id: &str) -> Result<usize, ApiError> {
        self.subscriptions
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| ApiError::not_found("subscription", id))
    }

    /// Opens a checkout session (24 hours unless `expires_at` says otherwise); returns
    /// its id.
    pub fn create_checkout_session(
        &mut self,
        new: NewCheckoutSession,
        now: i64,
    ) -> Result<String, ApiError> {
        let price = self
            .price(&new.price)
            .ok_or_else(|| ApiError::no_such("price", &new.price, "line_items[0][price]"))?
            .clone();
        if let Some(customer) = &new.customer {
            self.customers
                .get(customer)
                .ok_or_else(|| ApiError::no_such("customer", customer, "customer"))?;
        }
        let expires_at = match new.expires_at {
            None => now + 24 * 3600,
            Some(at) if (now + 30 * 60..=now + 24 * 3600).contains(&at) => at,
            Some(_) => {
                return Err(ApiError::invalid(
                    "expires_at",
                    "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
                ));
            }
        };
        let id = new_id("cs_test_");
        self.sessions.insert(
            id.clone(),
            CheckoutSession {
                id: id.clone(),
                created: now,
                expires_at,
                price,
                customer: new.customer,
                customer_email: new.customer_email,
                paid_email: None,
                client_reference_id: new.client_reference_id,
                success_url: new.success_url,
                cancel_url: new.cancel_url,
                metadata: new.metadata,
                subscription_metadata: new.subscription_metadata,
                completed: false,
                subscription: None,
                invoice: None,
            },
        );
        Ok(id)
    }

    /// The e-mail the checkout page shows: the session's, else its customer's.
    pub fn checkout_email(&self, session: &CheckoutSession) -> Option<String> {
        session.customer_email.clone().or_else(|| {
            session
                .customer
                .as_deref()
                .and_then(|id| self.customers.get(id))
                .and_then(|c| c.email.clone())
        })
    }

    /// The session is paid (the card was accepted): the customer (created unless the
    /// session named one, with the session's metadata), the active subscription (with
    /// `subscription_data[metadata]`) and its paid first invoice; then
    /// `customer.subscription.created`, `invoice.paid`, `checkout.session.completed`.
    /// `email` is the one typed on the page when the session had none. Returns where
    /// the customer goes next.
    pub fn complete_checkout(
        &mut self,
        id: &str,
        email: Option<String>,
        now: i64,
    ) -> Result<String, ApiError> {
        let session = self.session(id)?;
        match session.status(now) {
            SessionStatus::Open => {}
            SessionStatus::Complete => {
                return Err(ApiError::refused(
                    "This Checkout Session is already complete.",
                ));
            }
            SessionStatus::Expired => {
                return Err(ApiError::refused("This Checkout Session has expired."));
            }
        }
        let email = self.checkout_email(session).or(email);
        let session = session.clone();
        let customer = match &session.customer {
            Some(customer) => customer.clone(),
            None => {
                let customer = Customer {
                    id: new_id("cus_"),
                    email: email.clone(),
                    metadata: session.metadata.clone(),
                    created: now,
                };
                let id = customer.id.clone();
                self.customers.insert(id.clone(), customer);
                id
            }
        };
        self.subscriptions.push(Subscription {
            id: new_id("sub_"),
            customer: customer.clone(),
            item_id: new_id("si_"),
            price: session.price.clone(),
            created: now,
            anchor: now,
            periods_ended: 0,
            status: SubscriptionStatus::Active,
            cancel_at_period_end: false,
            canceled_at: None,
            ended_at: None,
            metadata: session.subscription_metadata.clone(),
            latest_invoice: None,
        });
        let index = self.subscriptions.len() - 1;
        let invoice = self.bill(
            index,
            BillingReason::SubscriptionCreate,
            InvoiceStatus::Paid,
            now,
        );
        let subscription = self.subscriptions[index].id.clone();
        if let Some(stored) = self.sessions.get_mut(id) {
            stored.completed = true;
            stored.customer = Some(customer);
            stored.paid_email = email;
            stored.subscription = Some(subscription);
            stored.invoice = Some(invoice.clone());
        }
        self.emit(
            EventType::SubscriptionCreated,
            wire::subscription(&self.subscriptions[index]),
            None,
            now,
        );
        let paid = wire::invoice(self.invoice(&invoice)?);
        self.emit(EventType::InvoicePaid, paid, None, now);
        let completed = wire::checkout_session(self.session(id)?, &self.public_url, now);
        self.emit(EventType::CheckoutSessionCompleted, completed, None, now);
        Ok(session.success_redirect())
    }

    /// Invoices the subscription's current period; the subscription's latest invoice.
    fn bill(
        &mut self,
        index: usize,
        reason: BillingReason,
        status: InvoiceStatus,
        now: i64,
    ) -> String {
        let subscription = &self.subscriptions[index];
        let invoice = Invoice {
            id: new_id("in_"),
            line_id: new_id("il_"),
            customer: subscription.customer.clone(),
            customer_email: self
                .customers
                .get(&subscription.customer)
                .and_then(|c| c.email.clone()),
            subscription: subscription.id.clone(),
            subscription_item: subscription.item_id.clone(),
            subscription_metadata: subscription.metadata.clone(),
            price: subscription.price.clone(),
            status,
            billing_reason: reason,
            created: now,
            period_start: subscription.current_period_start(),
            period_end: subscription.current_period_end(),
        };
        let id = invoice.id.clone();
        self.invoices.insert(id.clone(), invoice);
        self.subscriptions[index].latest_invoice = Some(id.clone());
        id
    }

    /// A portal link for an existing customer; returns its id.
    pub fn create_portal_session(
        &mut self,
        customer: &str,
        return_url: Option<String>,
        now: i64,
    ) -> Result<String, ApiError> {
        if !self.customers.contains_key(customer) {
            return Err(ApiError::no_such("customer", customer, "customer"));
        }
        let id = new_id("bps_");
        self.portals.insert(
            id.clone(),
            PortalSession {
                id: id.clone(),
                customer: customer.to_owned(),
                return_url,
                created: now,
            },
        );
        Ok(id)
    }

    /// Applies `POST /v1/subscriptions/{id}` (cancel at period end or not, switch the
    /// price, metadata); `customer.subscription.updated` with the previous values when
    /// anything changed. Switching is immediate and prorates nothing.
    pub fn update_subscription(
        &mut self,
        id: &str,
        change: &SubscriptionChange,
        now: i64,
    ) -> Result<(), ApiError> {
        let index = self.subscription_index(id)?;
        let subscription = &self.subscriptions[index];
        if subscription.status == SubscriptionStatus::Canceled
            && (change.cancel_at_period_end.is_some() || change.price.is_some())
        {
            return Err(ApiError::refused(
                "A canceled subscription can only update its cancellation_details and metadata.",
            ));
        }
        let price = match &change.price {
            None => None,
            Some((item, price)) => {
                if *item != subscription.item_id {
                    return Err(ApiError::no_such("subscription item", item, "items[0][id]"));
                }
                Some(
                    self.price(price)
                        .ok_or_else(|| ApiError::no_such("price", price, "items[0][price]"))?
                        .clone(),
                )
            }
        };
        let before = wire::subscription(subscription);
        let subscription = &mut self.subscriptions[index];
        if let Some(cancel) = change.cancel_at_period_end
            && cancel != subscription.cancel_at_period_end
        {
            subscription.cancel_at_period_end = cancel;
            // Stripe records when cancellation was asked for, and forgets it when the
            // customer changes their mind.
            subscription.canceled_at = cancel.then_some(now);
        }
        if let Some(price) = price {
            subscription.price = price;
        }
        change.metadata.apply(&mut subscription.metadata);
        let after = wire::subscription(subscription);
        if let Some(previous) = wire::previous_attributes(&before, &after) {
            self.emit(EventType::SubscriptionUpdated, after, Some(previous), now);
        }
        Ok(())
    }

    /// `DELETE /v1/subscriptions/{id}`: canceled now; `customer.subscription.deleted`.
    pub fn cancel_subscription(&mut self, id: &str, now: i64) -> Result<(), ApiError> {
        let index = self.subscription_index(id)?;
        let subscription = &mut self.subscriptions[index];
        if subscription.status == SubscriptionStatus::Canceled {
            return Err(ApiError::refused(format!(
                "The subscription {id} is already canceled."
            )));
        }
        subscription.status = SubscriptionStatus::Canceled;
        subscription.canceled_at = Some(now);
        subscription.ended_at = Some(now);
        let object = wire::subscription(subscription);
        self.emit(EventType::SubscriptionDeleted, object, None, now);
        Ok(())
    }

    /// The current billing period ends now. A subscription set to cancel at period end
    /// is canceled (`customer.subscription.deleted`); any other renews for a month with
    /// a paid invoice and is active again if it was past due (`invoice.paid`, then
    /// `customer.subscription.updated`).
    pub fn end_period(&mut self, id: &str, now: i64) -> Result<(), ApiError> {
        let index = self.subscription_index(id)?;
        let subscription = &mut self.subscriptions[index];
        if subscription.status == SubscriptionStatus::Canceled {
            return Err(ApiError::refused(format!(
                "The subscription {id} is canceled."
            )));
        }
        if subscription.cancel_at_period_end {
            subscription.status = SubscriptionStatus::Canceled;
            subscription.ended_at = Some(now);
            let object = wire::subscription(subscription);
            self.emit(EventType::SubscriptionDeleted, object, None, now);
            return Ok(());
        }
        self.renew(index, InvoiceStatus::Paid, now)
    }

    /// The current billing period ends now and the renewal's payment fails: the
    /// subscription moves to the next period, past due, with an open invoice
    /// (`invoice.payment_failed`, then `customer.subscription.updated`). Refused for a
    /// subscription that cancels at period end: it has no next payment.
    pub fn fail_payment(&mut self, id: &str, now: i64) -> Result<(), ApiError> {
        let index = self.subscription_index(id)?;
        let subscription = &self.subscriptions[index];
        if subscription.status == SubscriptionStatus::Canceled {
            return Err(ApiError::refused(format!(
                "The subscription {id} is canceled."
            )));
        }
        if subscription.cancel_at_period_end {
            return Err(ApiError::refused(format!(
                "The subscription {id} cancels at the end of its period: there is no next payment to fail."
            )));
        }
        self.renew(index, InvoiceStatus::Open, now)
    }

    fn renew(&mut self, index: usize, paid: InvoiceStatus, now: i64) -> Result<(), ApiError> {
        let before = wire::subscription(&self.subscriptions[index]);
        let subscription = &mut self.subscriptions[index];
        subscription.periods_ended += 1;
        subscription.status = match paid {
            InvoiceStatus::Paid => SubscriptionStatus::Active,
            InvoiceStatus::Open => SubscriptionStatus::PastDue,
        };
        let invoice = self.bill(index, BillingReason::SubscriptionCycle, paid, now);
        let kind = match paid {
            InvoiceStatus::Paid => EventType::InvoicePaid,
            InvoiceStatus::Open => EventType::InvoicePaymentFailed,
        };
        let invoice = wire::invoice(self.invoice(&invoice)?);
        self.emit(kind, invoice, None, now);
        let after = wire::subscription(&self.subscriptions[index]);
        let previous = wire::previous_attributes(&before, &after);
        self.emit(EventType::SubscriptionUpdated, after, previous, now);
        Ok(())
    }
}
