//! Stripe's JSON shapes, as async-stripe 1.0 reads them: every field its types require is
//! present (it refuses an object that lacks one), optional ones are present as `null`
//! where Stripe sends them, amounts are integer cents, times unix seconds. Subscriptions
//! carry `current_period_*` both at the top (API versions before 2025-03-31) and on the
//! item (later ones); invoices name their subscription both as `subscription` (older) and
//! `parent.subscription_details.subscription` (newer).

use super::store::{
    CheckoutSession, Customer, Invoice, Metadata, PortalSession, Price, SessionStatus, Store,
    Subscription, SubscriptionStatus, new_id,
};
use serde::Serialize;
use serde_json::{Value, json};

/// The API version events claim to be rendered in.
pub const API_VERSION: &str = "2025-08-27.basil";

/// The portal configuration every portal session points at (Stripe's account default).
const PORTAL_CONFIGURATION: &str = "bpc_standin";

/// A webhook event (`{"object": "event", "type": …, "data": {"object": …}}`).
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub id: String,
    pub object: &'static str,
    pub api_version: &'static str,
    pub created: i64,
    pub data: EventData,
    pub livemode: bool,
    pub pending_webhooks: u32,
    pub request: EventRequest,
    #[serde(rename = "type")]
    pub kind: EventType,
}

#[derive(Clone, Debug, Serialize)]
pub struct EventData {
    pub object: Value,
    /// For `*.updated` events: the changed top-level fields' values before the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_attributes: Option<Value>,
}

/// The API request behind an event; the stand-in does not track requests, so both
/// are `null` as for events Stripe raises by itself.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EventRequest {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// The events the stand-in sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "checkout.session.completed")]
    CheckoutSessionCompleted,
    #[serde(rename = "customer.subscription.created")]
    SubscriptionCreated,
    #[serde(rename = "customer.subscription.updated")]
    SubscriptionUpdated,
    #[serde(rename = "customer.subscription.deleted")]
    SubscriptionDeleted,
    #[serde(rename = "invoice.paid")]
    InvoicePaid,
    #[serde(rename = "invoice.payment_failed")]
    InvoicePaymentFailed,
}

impl Event {
    pub fn new(
        kind: EventType,
        object: Value,
        previous_attributes: Option<Value>,
        now: i64,
    ) -> Self {
        Self {
            id: new_id("evt_"),
            object: "event",
            api_version: API_VERSION,
            created: now,
            data: EventData {
                object,
                previous_attributes,
            },
            livemode: false,
            pending_webhooks: 1,
            request: EventRequest::default(),
            kind,
        }
    }
}

/// The top-level fields of `before` that differ in `after`, with their old values
/// (Stripe's `previous_attributes`); `None` when nothing changed.
pub fn previous_attributes(before: &Value, after: &Value) -> Option<Value> {
    let (Value::Object(before), Value::Object(after)) = (before, after) else {
        return None;
    };
    let changed: serde_json::Map<String, Value> = before
        .iter()
        .filter(|(key, value)| after.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    (!changed.is_empty()).then_some(Value::Object(changed))
}

/// Adds `more`'s fields to `object` (objects too large for one `json!`).
fn extend(object: &mut Value, more: Value) {
    if let (Value::Object(object), Value::Object(more)) = (object, more) {
        object.extend(more);
    }
}

fn metadata(metadata: &Metadata) -> Value {
    json!(metadata)
}

pub fn price(p: &Price) -> Value {
    json!({
        "id": p.id,
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "created": p.created,
        "currency": "usd",
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": p.name,
        "product": p.product(),
        "recurring": {
            "interval": "month",
            "interval_count": 1,
            "meter": null,
            "trial_period_days": null,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": "recurring",
        "unit_amount": p.unit_amount,
        "unit_amount_decimal": p.unit_amount.to_string(),
    })
}

/// The legacy `plan` view of a price (still required on subscription items).
fn plan(p: &Price) -> Value {
    json!({
        "id": p.id,
        "object": "plan",
        "active": true,
        "amount": p.unit_amount,
        "amount_decimal": p.unit_amount.to_string(),
        "billing_scheme": "per_unit",
        "created": p.created,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "livemode": false,
        "metadata": {},
        "meter": null,
        "nickname": p.name,
        "product": p.product(),
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": "licensed",
    })
}

pub fn subscription(s: &Subscription) -> Value {
    let (start, end) = (s.current_period_start(), s.current_period_end());
    let item = json!({
        "id": s.item_id,
        "object": "subscription_item",
        "billing_thresholds": null,
        "created": s.created,
        "current_period_end": end,
        "current_period_start": start,
        "discounts": [],
        "metadata": {},
        "plan": plan(&s.price),
        "price": price(&s.price),
        "quantity": 1,
        "subscription": s.id,
        "tax_rates": [],
    });
    let cancel_at =
        (s.cancel_at_period_end && s.status != SubscriptionStatus::Canceled).then_some(end);
    let mut object = json!({
        "id": s.id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
        "billing_cycle_anchor": s.anchor,
        "billing_cycle_anchor_config": null,
        "billing_mode": {"type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": cancel_at,
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": s.canceled_at,
        "cancellation_details": {"comment": null, "feedback": null, "reason": s.canceled_at.map(|_| "cancellation_requested")},
        "collection_method": "charge_automatically",
        "created": s.created,
        "currency": "usd",
        "current_period_end": end,
        "current_period_start": start,
    });
    extend(
        &mut object,
        json!({
            "customer": s.customer,
            "days_until_due": null,
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
            "ended_at": s.ended_at,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": [item],
                "has_more": false,
                "total_count": 1,
                "url": format!("/v1/subscription_items?subscription={}", s.id),
            },
            "latest_invoice": s.latest_invoice,
            "livemode": false,
            "metadata": metadata(&s.metadata),
            "next_pending_invoice_item_invoice": null,
            "on_behalf_of": null,
            "pause_collection": null,
            "payment_settings": {"payment_method_options": null, "payment_method_types": null, "save_default_payment_method": "off"},
            "pending_invoice_item_interval": null,
            "pending_setup_intent": null,
            "pending_update": null,
            "plan": plan(&s.price),
            "quantity": 1,
            "schedule": null,
            "start_date": s.created,
            "status": s.status.as_str(),
            "test_clock": null,
            "transfer_data": null,
            "trial_end": null,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": null,
        }),
    );
    object
}

pub fn customer(c: &Customer, delinquent: bool) -> Value {
    json!({
        "id": c.id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": c.created,
        "currency": "usd",
        "default_source": null,
        "delinquent": delinquent,
        "description": null,
        "discount": null,
        "email": c.email,
        "invoice_prefix": null,
        "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false,
        "metadata": metadata(&c.metadata),
        "name": null,
        "next_invoice_sequence": 1,
        "phone": null,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    })
}

pub fn invoice(i: &Invoice) -> Value {
    let amount = i.amount();
    let paid = i.status == super::store::InvoiceStatus::Paid;
    let amount_paid = if paid { amount } else { 0 };
    let line = json!({
        "id": i.line_id,
        "object": "line_item",
        "amount": amount,
        "currency": "usd",
        "description": format!("1 × {} (at {} / month)", product_name(&i.price), super::pages::money(amount)),
        "discount_amounts": [],
        "discountable": true,
        "discounts": [],
        "invoice": i.id,
        "livemode": false,
        "metadata": metadata(&i.subscription_metadata),
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": null,
            "subscription_item_details": {
                "invoice_item": null,
                "proration": false,
                "proration_details": {"credited_items": null},
                "subscription": i.subscription,
                "subscription_item": i.subscription_item,
            },
        },
        "period": {"end": i.period_end, "start": i.period_start},
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": {"price": i.price.id, "product": i.price.product()},
            "unit_amount_decimal": i.price.unit_amount.to_string(),
        },
        "quantity": 1,
        "subtotal": amount,
        "taxes": [],
    });
    let mut object = json!({
        "id": i.id,
        "object": "invoice",
        "account_country": "US",
        "account_name": super::BUSINESS_NAME,
        "account_tax_ids": null,
        "amount_due": amount,
        "amount_overpaid": 0,
        "amount_paid": amount_paid,
        "amount_remaining": amount - amount_paid,
        "amount_shipping": 0,
        "application": null,
        "attempt_count": 1,
        "attempted": true,
        "auto_advance": !paid,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null},
        "automatically_finalizes_at": null,
        "billing_reason": i.billing_reason.as_str(),
        "collection_method": "charge_automatically",
        "created": i.created,
        "currency": "usd",
        "custom_fields": null,
    });
    extend(
        &mut object,
        json!({
            "customer": i.customer,
            "customer_address": null,
            "customer_email": i.customer_email,
            "customer_name": null,
            "customer_phone": null,
            "customer_shipping": null,
            "customer_tax_exempt": "none",
            "customer_tax_ids": [],
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
            "due_date": null,
            "effective_at": i.created,
            "ending_balance": 0,
            "footer": null,
            "from_invoice": null,
        }),
    );
    extend(
        &mut object,
        json!({
            "hosted_invoice_url": null,
            "invoice_pdf": null,
            "issuer": {"type": "self"},
            "last_finalization_error": null,
            "latest_revision": null,
            "lines": {
                "object": "list",
                "data": [line],
                "has_more": false,
                "total_count": 1,
                "url": format!("/v1/invoices/{}/lines", i.id),
            },
            "livemode": false,
            "metadata": {},
            "next_payment_attempt": null,
            "number": null,
            "on_behalf_of": null,
            "parent": {
                "type": "subscription_details",
                "quote_details": null,
                "subscription_details": {
                    "metadata": metadata(&i.subscription_metadata),
                    "subscription": i.subscription,
                },
            },
            "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
            "period_end": i.created,
            "period_start": i.created,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": null,
            "rendering": null,
            "shipping_cost": null,
            "shipping_details": null,
            "starting_balance": 0,
            "statement_descriptor": null,
            "status": i.status.as_str(),
            "status_transitions": {
                "finalized_at": i.created,
                "marked_uncollectible_at": null,
                "paid_at": paid.then_some(i.created),
                "voided_at": null,
            },
            "subscription": i.subscription,
            "subtotal": amount,
            "subtotal_excluding_tax": amount,
            "test_clock": null,
            "total": amount,
            "total_discount_amounts": [],
            "total_excluding_tax": amount,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": i.created,
        }),
    );
    object
}

/// "QuantShift Pro": what the customer buys.
pub fn product_name(p: &Price) -> String {
    format!("{} {}", super::BUSINESS_NAME, p.name)
}

pub fn checkout_session(s: &CheckoutSession, public_url: &str, now: i64) -> Value {
    let status = s.status(now);
    let amount = s.price.unit_amount;
    let customer_details = s.paid_email.as_ref().map(|email| {
        json!({"address": null, "email": email, "name": null, "phone": null, "tax_exempt": "none", "tax_ids": []})
    });
    let mut object = json!({
        "id": s.id,
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": amount,
        "amount_total": amount,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": null,
        "cancel_url": s.cancel_url,
        "client_reference_id": s.client_reference_id,
        "client_secret": null,
        "consent": null,
        "consent_collection": null,
        "created": s.created,
        "currency": "usd",
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
    });
    extend(
        &mut object,
        json!({
            "customer": s.customer,
            "customer_creation": "always",
            "customer_details": customer_details,
            "customer_email": s.customer_email,
            "discounts": [],
            "expires_at": s.expires_at,
            "invoice": s.invoice,
            "invoice_creation": null,
            "livemode": false,
            "locale": null,
            "metadata": metadata(&s.metadata),
            "mode": "subscription",
            "payment_intent": null,
            "payment_link": null,
            "payment_method_collection": "always",
            "payment_method_configuration_details": null,
            "payment_method_options": null,
            "payment_method_types": ["card"],
            "payment_status": if s.completed { "paid" } else { "unpaid" },
            "phone_number_collection": {"enabled": false},
            "recovered_from": null,
            "saved_payment_method_options": null,
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_options": [],
            "status": status.as_str(),
            "submit_type": null,
            "subscription": s.subscription,
            "success_url": s.success_url,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "url": (status == SessionStatus::Open).then(|| checkout_url(public_url, &s.id)),
        }),
    );
    object
}

pub fn checkout_url(public_url: &str, id: &str) -> String {
    format!("{public_url}/checkout/{id}")
}

pub fn portal_url(public_url: &str, id: &str) -> String {
    format!("{public_url}/portal/{id}")
}

pub fn portal_session(p: &PortalSession, public_url: &str) -> Value {
    json!({
        "id": p.id,
        "object": "billing_portal.session",
        "configuration": PORTAL_CONFIGURATION,
        "created": p.created,
        "customer": p.customer,
        "flow": null,
        "livemode": false,
        "locale": null,
        "on_behalf_of": null,
        "return_url": p.return_url,
        "url": portal_url(public_url, &p.id),
    })
}

/// The object with this id, rendered, if the stand-in has one (for `expand[]`).
fn object(store: &Store, id: &str, now: i64) -> Option<Value> {
    let prefix = id.split('_').next().unwrap_or_default();
    match prefix {
        "cus" => store
            .customer(id)
            .ok()
            .map(|c| customer(c, delinquent(store, &c.id))),
        "sub" => store.subscription(id).ok().map(subscription),
        "in" => store.invoice(id).ok().map(invoice),
        "cs" => store
            .session(id)
            .ok()
            .map(|s| checkout_session(s, store.public_url(), now)),
        _ => None,
    }
}

/// Whether the customer has a past-due subscription (Stripe's `delinquent`).
pub fn delinquent(store: &Store, customer: &str) -> bool {
    store
        .subscriptions()
        .iter()
        .any(|s| s.customer == customer && s.status == SubscriptionStatus::PastDue)
}

/// Replaces the id at `path` (`customer`, `subscription.latest_invoice`, …) with the
/// object, as `expand[]` asks; paths that name nothing expandable are left alone.
pub fn expand(store: &Store, value: &mut Value, path: &str, now: i64) {
    let (field, rest) = path
        .split_once('.')
        .map_or((path, None), |(f, r)| (f, Some(r)));
    let Some(slot) = value.get_mut(field) else {
        return;
    };
    if let Some(id) = slot.as_str()
        && let Some(object) = object(store, id, now)
    {
        *slot = object;
    }
    if let Some(rest) = rest {
        expand(store, slot, rest, now);
    }
}
