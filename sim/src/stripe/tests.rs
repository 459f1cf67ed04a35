//! The stand-in end to end: the real async-stripe client against a started stand-in on
//! 127.0.0.1:0, the hosted pages over plain HTTP, and a webhook receiver that checks
//! every signature. The stand-in's clock is a number the tests move by hand.

use super::store::add_months;
use super::{StandinConfig, StandinPrice, StripeStandin, sign};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::subscription::{
    CancelSubscription, RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
    RetrieveCheckoutSession,
};

const KEY: &str = "sk_test_standin";
const SECRET: &str = "whsec_test_secret";
/// 2026-01-31 12:00 UTC: the first period ends on February 28th, the next on March 31st.
const START: i64 = 1_769_860_800;
const FEB_28: i64 = 1_772_280_000;
const MAR_31: i64 = 1_774_958_400;

#[test]
fn sign_matches_an_independent_hmac() {
    // python3: hmac.new(b"whsec_test_secret", b'1767625200.{"id":"evt_1","object":"event"}', hashlib.sha256).hexdigest()
    assert_eq!(
        sign(SECRET, 1_767_625_200, br#"{"id":"evt_1","object":"event"}"#),
        "t=1767625200,v1=0e1a2e8d7c6e884e4f405706bcdc2c3a45a6c726465495e29e49251587bbd0f6"
    );
}

#[test]
fn periods_count_months_from_the_anchor_clamped_to_month_ends() {
    assert_eq!(add_months(START, 1), FEB_28);
    assert_eq!(add_months(START, 2), MAR_31);
    assert_eq!(add_months(START, 0), START);
}

#[test]
fn pages_escape_and_format() {
    assert_eq!(
        super::pages::escape(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(super::pages::money(1900), "$19.00");
    assert_eq!(super::pages::money(4905), "$49.05");
    assert_eq!(super::pages::date(FEB_28), "February 28, 2026");
}

/// A webhook endpoint that records what it is sent, refusing bad signatures (400) and
/// failing the first `fail` deliveries (500).
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Value>>>,
    attempts: Arc<AtomicU32>,
    bad_signatures: Arc<AtomicU32>,
    fail: Arc<AtomicU32>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    receiver.attempts.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signature = header("stripe-signature");
    let timestamp = signature
        .split(',')
        .find_map(|part| part.strip_prefix("t="))
        .and_then(|t| t.parse::<i64>().ok());
    let valid = timestamp.is_some_and(|t| sign(SECRET, t, &body) == signature);
    if !valid || header("content-type") != "application/json; charset=utf-8" {
        receiver.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::BAD_REQUEST;
    }
    if receiver
        .fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let event: Value = serde_json::from_slice(&body).unwrap();
    receiver.received.lock().unwrap().push(event);
    StatusCode::OK
}

impl Receiver {
    fn kinds(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    }

    fn last(&self, kind: &str) -> Value {
        self.received
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["type"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} event"))
    }

    fn clear(&self) {
        self.received.lock().unwrap().clear();
    }
}

struct Harness {
    standin: StripeStandin,
    stripe: stripe::Client,
    /// Plain HTTP for the hosted pages; redirects are not followed.
    http: reqwest::Client,
    receiver: Receiver,
    clock: Arc<AtomicI64>,
}

fn prices() -> Vec<StandinPrice> {
    vec![
        StandinPrice {
            id: "price_pro".into(),
            name: "Pro".into(),
            unit_amount: 1900,
        },
        StandinPrice {
            id: "price_premium".into(),
            name: "Premium".into(),
            unit_amount: 4900,
        },
    ]
}

async fn start() -> Harness {
    let receiver = Receiver::default();
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let webhook_url = format!("http://{}/webhooks", hook_listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/webhooks", post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(hook_listener, app).await });

    let clock = Arc::new(AtomicI64::new(START));
    let now = {
        let clock = clock.clone();
        Arc::new(move || clock.load(Ordering::SeqCst))
    };
    let config = StandinConfig {
        api_key: Some(KEY.into()),
        now,
        ..StandinConfig::new(webhook_url, SECRET, prices())
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let standin = StripeStandin::start(listener, config).await.unwrap();
    let stripe = stripe::ClientBuilder::new(KEY)
        .url(standin.base_url())
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Harness {
        standin,
        stripe,
        http,
        receiver,
        clock,
    }
}

/// A checkout as the app creates it: Pro for an e-mail, with the user's id in the
/// session's and the subscription's metadata.
fn checkout_request(price: &str) -> CreateCheckoutSession {
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price = Some(price.into());
    item.quantity = Some(1);
    let mut subscription_data = CreateCheckoutSessionSubscriptionData::new();
    subscription_data.metadata = Some(HashMap::from([("user_id".to_owned(), "42".to_owned())]));
    CreateCheckoutSession::new()
        .mode(stripe_checkout::CheckoutSessionMode::Subscription)
        .customer_email("ada@example.com")
        .client_reference_id("42")
        .line_items(vec![item])
        .metadata(HashMap::from([("user_id".to_owned(), "42".to_owned())]))
        .subscription_data(subscription_data)
        .success_url("http://app.test/billing/success?session_id={CHECKOUT_SESSION_ID}")
        .cancel_url("http://app.test/billing")
}

impl Harness {
    fn page_url(&self, url: &str) -> String {
        assert!(url.starts_with(self.standin.base_url()), "{url}");
        url.to_owned()
    }

    async fn get(&self, url: &str) -> (u16, String) {
        let response = self.http.get(url).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// POSTs a form; (status, Location, body).
    async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    /// Creates a checkout for `price` and pays it with the good card; the session.
    async fn subscribe(&self, price: &str) -> stripe_checkout::CheckoutSession {
        let session = checkout_request(price).send(&self.stripe).await.unwrap();
        let url = self.page_url(session.url.as_deref().unwrap());
        let (status, _, body) = self
            .post_form(
                &url,
                &[
                    ("card_number", "4242 4242 4242 4242"),
                    ("expiry", "12 / 34"),
                    ("cvc", "123"),
                ],
            )
            .await;
        assert_eq!(status, 303, "{body}");
        self.standin.webhooks_settled().await;
        RetrieveCheckoutSession::new(session.id.as_str())
            .send(&self.stripe)
            .await
            .unwrap()
    }

    fn advance(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn checkout_through_the_hosted_page_creates_the_subscription_and_signed_webhooks() {
    let h = start().await;
    let session = checkout_request("price_pro").send(&h.stripe).await.unwrap();
    assert!(session.id.as_str().starts_with("cs_test_"));
    assert_eq!(
        session.status,
        Some(stripe_checkout::CheckoutSessionStatus::Open)
    );
    assert_eq!(
        session.payment_status,
        stripe_checkout::CheckoutSessionPaymentStatus::Unpaid
    );
    assert_eq!(session.client_reference_id.as_deref(), Some("42"));
    assert_eq!(session.customer_email.as_deref(), Some("ada@example.com"));
    assert_eq!(session.expires_at, START + 24 * 3600);
    let url = h.page_url(session.url.as_deref().unwrap());
    assert_eq!(
        url,
        format!("{}/checkout/{}", h.standin.base_url(), session.id)
    );

    let (status, page) = h.get(&url).await;
    assert_eq!(status, 200);
    for text in [
        "QuantShift Pro — $19.00 / month",
        "ada@example.com",
        r#"<label for="card_number">Card number</label>"#,
        r#"<label for="expiry">Expiry</label>"#,
        "MM / YY",
        r#"<label for="cvc">CVC</label>"#,
        r#"<button type="submit">Subscribe</button>"#,
        r#"<a href="http://app.test/billing">Cancel</a>"#,
    ] {
        assert!(page.contains(text), "{text} missing from {page}");
    }

    let (status, _, page) = h
        .post_form(
            &url,
            &[
                ("card_number", "4000 0000 0000 0002"),
                ("expiry", "12 / 34"),
                ("cvc", "123"),
            ],
        )
        .await;
    assert_eq!(status, 402);
    assert!(
        page.contains(r#"role="alert">Your card was declined.</p>"#),
        "{page}"
    );
    assert!(page.contains(r#"aria-invalid="true""#), "{page}");
    let (status, _, page) = h
        .post_form(
            &url,
            &[
                ("card_number", "1234"),
                ("expiry", "12 / 34"),
                ("cvc", "123"),
            ],
        )
        .await;
    assert_eq!(status, 402);
    assert!(page.contains("Your card number is incorrect."), "{page}");
    assert!(h.standin.subscriptions().is_empty());
    assert!(h.standin.events().is_empty());

    let (status, location, _) = h
        .post_form(
            &url,
            &[
                ("card_number", "4242424242424242"),
                ("expiry", "12 / 34"),
                ("cvc", "123"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        location,
        format!("http://app.test/billing/success?session_id={}", session.id)
    );
    h.standin.webhooks_settled().await;
    assert_eq!(
        h.receiver.kinds(),
        [
            "customer.subscription.created",
            "invoice.paid",
            "checkout.session.completed"
        ]
    );
    assert_eq!(h.receiver.bad_signatures.load(Ordering::SeqCst), 0);

    // Every object async-stripe can expand on the session deserializes as its type.
    let done = RetrieveCheckoutSession::new(session.id.as_str())
        .expand(vec![
            "customer".to_owned(),
            "invoice".to_owned(),
            "subscription.latest_invoice".to_owned(),
        ])
        .send(&h.stripe)
        .await
        .unwrap();
    assert_eq!(
        done.status,
        Some(stripe_checkout::CheckoutSessionStatus::Complete)
    );
    assert_eq!(
        done.payment_status,
        stripe_checkout::CheckoutSessionPaymentStatus::Paid
    );
    assert_eq!(done.url, None);
    let customer = done.customer.as_ref().unwrap().as_object().unwrap();
    assert_eq!(customer.email.as_deref(), Some("ada@example.com"));
    assert_eq!(customer.metadata.as_ref().unwrap()["user_id"], "42");
    let invoice = done.invoice.as_ref().unwrap().as_object().unwrap();
    assert_eq!(invoice.amount_paid, 1900);
    let subscription = done.subscription.as_ref().unwrap().as_object().unwrap();
    assert_eq!(
        subscription.status,
        stripe_billing::SubscriptionStatus::Active
    );
    assert_eq!(subscription.metadata["user_id"], "42");
    assert_eq!(subscription.customer.id().as_str(), customer.id.as_str());
    assert!(subscription.latest_invoice.as_ref().unwrap().is_object());
    let item = &subscription.items.data[0];
    assert_eq!(item.price.id.as_str(), "price_pro");
    assert_eq!(
        (item.current_period_start, item.current_period_end),
        (START, FEB_28)
    );

    // The events carry the same objects, in both API versions' places.
    let created = h.receiver.last("customer.subscription.created");
    assert_eq!(created["api_version"], "2025-08-27.basil");
    assert_eq!(created["data"]["object"]["id"], subscription.id.as_str());
    assert_eq!(created["data"]["object"]["current_period_end"], FEB_28);
    assert_eq!(created["data"]["object"]["metadata"]["user_id"], "42");
    let paid = h.receiver.last("invoice.paid");
    assert_eq!(
        paid["data"]["object"]["subscription"],
        subscription.id.as_str()
    );
    assert_eq!(
        paid["data"]["object"]["parent"]["subscription_details"]["subscription"],
        subscription.id.as_str()
    );
    let completed = h.receiver.last("checkout.session.completed");
    assert_eq!(completed["data"]["object"]["client_reference_id"], "42");
    assert_eq!(
        completed["data"]["object"]["subscription"],
        subscription.id.as_str()
    );

    let (status, page) = h.get(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains("This checkout is complete"), "{page}");
    let (status, _, _) = h
        .post_form(&url, &[("card_number", "4242424242424242")])
        .await;
    assert_eq!(status, 409);
    assert_eq!(h.standin.subscriptions().len(), 1);
}

#[tokio::test]
async fn stripe_errors_reach_async_stripe_with_their_codes() {
    let h = start().await;
    let err = checkout_request("price_nope")
        .send(&h.stripe)
        .await
        .unwrap_err();
    let stripe::StripeError::Stripe(error, status) = err else {
        panic!("not a Stripe error: {err:?}");
    };
    assert_eq!(status, 400);
    assert_eq!(error.code, Some(stripe::ApiErrorsCode::ResourceMissing));
    assert_eq!(error.param.as_deref(), Some("line_items[0][price]"));
    assert_eq!(
        error.message.as_deref(),
        Some("No such price: 'price_nope'")
    );
    assert_eq!(error.type_, stripe::ApiErrorsType::InvalidRequestError);

    let err = RetrieveSubscription::new("sub_nope")
        .send(&h.stripe)
        .await
        .unwrap_err();
    assert!(
        matches!(err, stripe::StripeError::Stripe(ref e, 404) if e.code == Some(stripe::ApiErrorsCode::ResourceMissing)),
        "{err:?}"
    );

    let err = CreateBillingPortalSession::new()
        .customer("cus_nope")
        .send(&h.stripe)
        .await
        .unwrap_err();
    assert!(
        matches!(err, stripe::StripeError::Stripe(ref e, 400) if e.param.as_deref() == Some("customer")),
        "{err:?}"
    );

    let wrong_key = stripe::ClientBuilder::new("sk_test_wrong")
        .url(h.standin.base_url())
        .build()
        .unwrap();
    let err = checkout_request("price_pro")
        .send(&wrong_key)
        .await
        .unwrap_err();
    assert!(
        matches!(err, stripe::StripeError::Stripe(_, 401)),
        "{err:?}"
    );

    // A raw request without the required fields.
    let response = h
        .http
        .post(format!("{}/v1/checkout/sessions", h.standin.base_url()))
        .bearer_auth(KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("mode=subscription&line_items[0][price]=price_pro")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "parameter_missing");
    assert_eq!(body["error"]["param"], "success_url");
    assert!(h.standin.events().is_empty());
}

#[tokio::test]
async fn subscriptions_switch_and_cancel_through_async_stripe() {
    let h = start().await;
    let session = h.subscribe("price_pro").await;
    let subscription_id = session
        .subscription
        .as_ref()
        .unwrap()
        .id()
        .as_str()
        .to_owned();
    let customer_id = session.customer.as_ref().unwrap().id().as_str().to_owned();
    h.receiver.clear();

    let portal = CreateBillingPortalSession::new()
        .customer(customer_id.as_str())
        .return_url("http://app.test/billing")
        .send(&h.stripe)
        .await
        .unwrap();
    assert!(portal.id.as_str().starts_with("bps_"));
    assert_eq!(portal.customer, customer_id);
    assert_eq!(
        portal.url,
        format!("{}/portal/{}", h.standin.base_url(), portal.id)
    );

    let subscription = RetrieveSubscription::new(subscription_id.as_str())
        .send(&h.stripe)
        .await
        .unwrap();
    let item_id = subscription.items.data[0].id.as_str().to_owned();
    let mut switch = UpdateSubscriptionItems::new();
    switch.id = Some(item_id.clone());
    switch.price = Some("price_premium".into());
    let switched = UpdateSubscription::new(subscription_id.as_str())
        .items(vec![switch])
        .send(&h.stripe)
        .await
        .unwrap();
    assert_eq!(switched.items.data[0].price.id.as_str(), "price_premium");
    assert_eq!(switched.items.data[0].price.unit_amount, Some(4900));

    let cancelling = UpdateSubscription::new(subscription_id.as_str())
        .cancel_at_period_end(true)
        .send(&h.stripe)
        .await
        .unwrap();
    assert!(cancelling.cancel_at_period_end);
    assert_eq!(cancelling.cancel_at, Some(FEB_28));
    assert_eq!(
        cancelling.status,
        stripe_billing::SubscriptionStatus::Active
    );
    h.standin.webhooks_settled().await;
    assert_eq!(
        h.receiver.kinds(),
        [
            "customer.subscription.updated",
            "customer.subscription.updated"
        ]
    );
    let updated = h.receiver.last("customer.subscription.updated");
    assert_eq!(
        updated["data"]["previous_attributes"]["cancel_at_period_end"],
        false
    );

    h.standin.end_period(&subscription_id).await.unwrap();
    h.standin.webhooks_settled().await;
    let deleted = h.receiver.last("customer.subscription.deleted");
    assert_eq!(deleted["data"]["object"]["status"], "canceled");
    let ended = RetrieveSubscription::new(subscription_id.as_str())
        .send(&h.stripe)
        .await
        .unwrap();
    assert_eq!(ended.status, stripe_billing::SubscriptionStatus::Canceled);
    assert!(h.standin.end_period(&subscription_id).await.is_err());

    // Cancelling now, through the API.
    let other = h.subscribe("price_pro").await;
    let other_id = other
        .subscription
        .as_ref()
        .unwrap()
        .id()
        .as_str()
        .to_owned();
    let canceled = CancelSubscription::new(other_id.as_str())
        .send(&h.stripe)
        .await
        .unwrap();
    assert_eq!(
        canceled.status,
        stripe_billing::SubscriptionStatus::Canceled
    );
    assert_eq!(canceled.ended_at, Some(START));
    h.standin.webhooks_settled().await;
    assert_eq!(
        h.receiver.last("customer.subscription.deleted")["data"]["object"]["id"],
        other_id.as_str()
    );
}

#[tokio::test]
async fn renewals_and_failed_payments_move_the_period() {
    let h = start().await;
    let session = h.subscribe("price_pro").await;
    let id = session
        .subscription
        .as_ref()
        .unwrap()
        .id()
        .as_str()
        .to_owned();
    h.receiver.clear();
    h.advance(28 * 86_400);

    h.standin.fail_payment(&id).await.unwrap();
    h.standin.webhooks_settled().await;
    assert_eq!(
        h.receiver.kinds(),
        ["invoice.payment_failed", "customer.subscription.updated"]
    );
    let failed = h.receiver.last("invoice.payment_failed");
    assert_eq!(failed["data"]["object"]["status"], "open");
    assert_eq!(failed["data"]["object"]["amount_paid"], 0);
    assert_eq!(failed["data"]["object"]["amount_due"], 1900);
    let past_due = RetrieveSubscription::new(id.as_str())
        .expand(vec!["latest_invoice".to_owned(), "customer".to_owned()])
        .send(&h.stripe)
        .await
        .unwrap();
    assert_eq!(past_due.status, stripe_billing::SubscriptionStatus::PastDue);
    assert_eq!(past_due.items.data[0].current_period_end, MAR_31);
    assert_eq!(
        past_due.customer.as_object().unwrap().delinquent,
        Some(true)
    );

    // The control API, as a test in another process drives it.
    h.receiver.clear();
    let response = h
        .http
        .post(format!(
            "{}/_standin/subscriptions/{id}/end_period",
            h.standin.base_url()
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let renewed: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(renewed["status"], "active");
    assert_eq!(renewed["current_period_start"], MAR_31);
    h.standin.webhooks_settled().await;
    assert_eq!(
        h.receiver.kinds(),
        ["invoice.paid", "customer.subscription.updated"]
    );
    let updated = h.receiver.last("customer.subscription.updated");
    assert_eq!(updated["data"]["previous_attributes"]["status"], "past_due");

    let unauthenticated = h
        .http
        .post(format!(
            "{}/_standin/subscriptions/{id}/fail_payment",
            h.standin.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let missing = h
        .http
        .post(format!(
            "{}/_standin/subscriptions/sub_nope/fail_payment",
            h.standin.base_url()
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_portal_page_applies_its_buttons() {
    let h = start().await;
    let session = h.subscribe("price_pro").await;
    let id = session
        .subscription
        .as_ref()
        .unwrap()
        .id()
        .as_str()
        .to_owned();
    let customer = session.customer.as_ref().unwrap().id().as_str().to_owned();
    let portal = CreateBillingPortalSession::new()
        .customer(customer.as_str())
        .return_url("http://app.test/billing")
        .send(&h.stripe)
        .await
        .unwrap();
    h.receiver.clear();

    let (status, page) = h.get(&portal.url).await;
    assert_eq!(status, 200);
    for text in [
        "QuantShift Pro",
        "$19.00 / month · Active",
        "Renews on February 28, 2026",
        ">Switch to Premium</button>",
        ">Cancel plan</button>",
        "Stand-in controls",
        ">End the billing period now</button>",
        ">Fail the next payment</button>",
        r#"<a href="http://app.test/billing">Return to QuantShift</a>"#,
    ] {
        assert!(page.contains(text), "{text} missing from {page}");
    }
    assert!(!page.contains("Switch to Pro<"), "{page}");

    let action = |name: &str| format!("{}/subscriptions/{id}/{name}", portal.url);
    let back = format!("/portal/{}", portal.id);
    let (status, location, _) = h
        .post_form(&action("switch"), &[("price", "price_premium")])
        .await;
    assert_eq!((status, location.as_str()), (303, back.as_str()));
    let (status, _, _) = h.post_form(&action("cancel"), &[]).await;
    assert_eq!(status, 303);
    let (_, page) = h.get(&portal.url).await;
    assert!(page.contains("QuantShift Premium"), "{page}");
    assert!(page.contains("Cancels on February 28, 2026"), "{page}");
    assert!(page.contains(">Don&#39;t cancel</button>"), "{page}");
    assert!(!page.contains("Fail the next payment"), "{page}");
    let (status, _, page) = h.post_form(&action("fail_payment"), &[]).await;
    assert_eq!(status, 409);
    assert!(page.contains("no next payment"), "{page}");
    let (status, _, _) = h.post_form(&action("renew"), &[]).await;
    assert_eq!(status, 303);
    let (status, _, _) = h.post_form(&action("fail_payment"), &[]).await;
    assert_eq!(status, 303);
    let (_, page) = h.get(&portal.url).await;
    assert!(page.contains("$49.00 / month · Past due"), "{page}");
    assert!(page.contains("Renews on March 31, 2026"), "{page}");
    let (status, _, _) = h.post_form(&action("end_period"), &[]).await;
    assert_eq!(status, 303);

    h.standin.webhooks_settled().await;
    assert_eq!(
        h.receiver.kinds(),
        [
            "customer.subscription.updated",
            "customer.subscription.updated",
            "customer.subscription.updated",
            "invoice.payment_failed",
            "customer.subscription.updated",
            "invoice.paid",
            "customer.subscription.updated",
        ]
    );
    let paid = h.receiver.last("invoice.paid");
    assert_eq!(paid["data"]["object"]["amount_paid"], 4900);
    assert_eq!(
        paid["data"]["object"]["billing_reason"],
        "subscription_cycle"
    );

    let (status, _, _) = h.post_form(&action("cancel"), &[]).await;
    assert_eq!(status, 303);
    let (status, _, _) = h.post_form(&action("end_period"), &[]).await;
    assert_eq!(status, 303);
    let (_, page) = h.get(&portal.url).await;
    assert!(page.contains("You have no active plan."), "{page}");

    let (status, _) = h
        .get(&format!("{}/portal/bps_nope", h.standin.base_url()))
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = h
        .post_form(
            &format!("{}/subscriptions/sub_nope/cancel", portal.url),
            &[],
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_later_events_wait_for_it() {
    let h = start().await;
    h.receiver.fail.store(1, Ordering::SeqCst);
    h.subscribe("price_pro").await;
    assert_eq!(
        h.receiver.kinds(),
        [
            "customer.subscription.created",
            "invoice.paid",
            "checkout.session.completed"
        ]
    );
    assert_eq!(h.receiver.attempts.load(Ordering::SeqCst), 4);
    assert_eq!(h.receiver.bad_signatures.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_unpaid_session_expires() {
    let h = start().await;
    let session = checkout_request("price_pro").send(&h.stripe).await.unwrap();
    let url = h.page_url(session.url.as_deref().unwrap());
    h.advance(24 * 3600);
    let expired = RetrieveCheckoutSession::new(session.id.as_str())
        .send(&h.stripe)
        .await
        .unwrap();
    assert_eq!(
        expired.status,
        Some(stripe_checkout::CheckoutSessionStatus::Expired)
    );
    assert_eq!(expired.url, None);
    let (status, page) = h.get(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains("This checkout has expired"), "{page}");
    let (status, _, _) = h
        .post_form(&url, &[("card_number", "4242424242424242")])
        .await;
    assert_eq!(status, 409);
    assert!(h.standin.subscriptions().is_empty());
}

#[tokio::test]
async fn a_session_without_an_email_asks_for_one() {
    let h = start().await;
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price = Some("price_premium".into());
    let session = CreateCheckoutSession::new()
        .mode(stripe_checkout::CheckoutSessionMode::Subscription)
        .line_items(vec![item])
        .success_url("http://app.test/ok")
        .send(&h.stripe)
        .await
        .unwrap();
    let url = h.page_url(session.url.as_deref().unwrap());
    let (_, page) = h.get(&url).await;
    assert!(
        page.contains(r#"<label for="email">Email</label>"#),
        "{page}"
    );
    let (status, _, page) = h
        .post_form(
            &url,
            &[("email", "<b>grace"), ("card_number", "4242424242424242")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("Enter your email address."), "{page}");
    assert!(page.contains(r#"value="&lt;b&gt;grace""#), "{page}");
    let (status, location, _) = h
        .post_form(
            &url,
            &[
                ("email", "grace@example.com"),
                ("card_number", "4242424242424242"),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "http://app.test/ok"));
    let customer = &h.standin.subscriptions()[0]["customer"];
    let response = h
        .http
        .get(format!(
            "{}/v1/customers/{}",
            h.standin.base_url(),
            customer.as_str().unwrap()
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let customer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(customer["email"], "grace@example.com");
}
