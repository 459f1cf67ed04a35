//! The HTTP surface: Stripe's `/v1` endpoints QuantShift calls, the `/_standin` control
//! API, and the hosted pages ([`super::pages`]) on the same host.
//!
//! Requests are read as async-stripe sends them: form bodies (`application/x-www-form-urlencoded`)
//! whose nested parameters are flat bracket keys (`line_items[0][price]`,
//! `subscription_data[metadata][user_id]`), `expand[0]=…` in the query of a GET or in the
//! form of a POST, and `Authorization: Bearer <secret key>`. Parameters the stand-in has
//! no use for are ignored rather than refused.

use super::error::ApiError;
use super::store::{Metadata, MetadataChange, NewCheckoutSession, Store, SubscriptionChange};
use super::{Shared, pages, wire};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use std::sync::Arc;

type Standin = State<Arc<Shared>>;
type Answer = Result<Json<Value>, ApiError>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/checkout/sessions", post(create_checkout_session))
        .route("/v1/checkout/sessions/{id}", get(retrieve_checkout_session))
        .route("/v1/billing_portal/sessions", post(create_portal_session))
        .route(
            "/v1/subscriptions/{id}",
            get(retrieve_subscription)
                .post(update_subscription)
                .delete(cancel_subscription),
        )
        .route("/v1/customers/{id}", get(retrieve_customer))
        .route(
            "/_standin/subscriptions/{id}/end_period",
            post(control_end_period),
        )
        .route(
            "/_standin/subscriptions/{id}/fail_payment",
            post(control_fail_payment),
        )
        .route_layer(from_fn_with_state(shared.clone(), authenticate))
        .merge(pages::router())
        .fallback(unrecognized)
        .with_state(shared)
}

/// Refuses a request without the configured secret key, with Stripe's 401 answers.
async fn authenticate(State(shared): Standin, request: Request, next: Next) -> Response {
    if let Some(key) = &shared.api_key {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            None => {
                return ApiError::unauthorized(
                    "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
                )
                .into_response();
            }
            Some(given) if given != key => {
                // Header values are visible ASCII, so any byte offset is a char boundary.
                let shown = given
                    .get(given.len().saturating_sub(4)..)
                    .unwrap_or_default();
                return ApiError::unauthorized(format!("Invalid API Key provided: ****{shown}"))
                    .into_response();
            }
            Some(_) => {}
        }
    }
    next.run(request).await
}

async fn unrecognized(method: Method, uri: Uri) -> ApiError {
    ApiError::unrecognized(method.as_str(), uri.path())
}

/// A form body or query string as flat key/value pairs, in order (`line_items[0][price]`
/// is one key).
#[derive(Clone, Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(bytes: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    fn query(query: Option<String>) -> Self {
        Self::parse(query.unwrap_or_default().as_bytes())
    }

    /// The last non-empty value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn has_prefix(&self, prefix: &str) -> bool {
        self.0.iter().any(|(k, _)| k.starts_with(prefix))
    }

    /// `name[key]=value` pairs, in order, as (key, value).
    fn entries<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.0.iter().filter_map(move |(k, v)| {
            let key = k.strip_prefix(name)?.strip_prefix('[')?.strip_suffix(']')?;
            (!key.contains('[')).then_some((key, v.as_str()))
        })
    }

    /// The metadata of a new object: `name[key]=value`, empty values left out.
    fn metadata(&self, name: &str) -> Metadata {
        self.entries(name)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// A metadata update under Stripe's rules (see [`MetadataChange`]).
    fn metadata_change(&self, name: &str) -> MetadataChange {
        MetadataChange {
            clear: self.0.iter().any(|(k, v)| k == name && v.is_empty()),
            entries: self
                .entries(name)
                .map(|(k, v)| (k.to_owned(), (!v.is_empty()).then(|| v.to_owned())))
                .collect(),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(key, format!("Invalid boolean: {other}"))),
        }
    }

    /// The `expand[]` paths asked for.
    fn expand(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == "expand" || k.starts_with("expand["))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// `value` with the `expand[]` paths of the request expanded.
fn expanded(store: &Store, mut value: Value, expand: &[String], now: i64) -> Json<Value> {
    for path in expand {
        wire::expand(store, &mut value, path, now);
    }
    Json(value)
}

/// Reads `POST /v1/checkout/sessions`: a subscription to one known price for a customer
/// (`customer`) or an e-mail (`customer_email`), or neither (the page then asks).
fn read_checkout_session(form: &Form) -> Result<NewCheckoutSession, ApiError> {
    match form.get("mode") {
        None => return Err(ApiError::missing("mode")),
        Some("subscription") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                "mode",
                format!(
                    "The Stripe stand-in sells subscriptions only: mode must be `subscription`, not `{other}`."
                ),
            ));
        }
    }
    let price = form
        .get("line_items[0][price]")
        .ok_or_else(|| ApiError::missing("line_items[0][price]"))?;
    if form.has_prefix("line_items[1]") {
        return Err(ApiError::invalid(
            "line_items[1]",
            "The Stripe stand-in sells one price per checkout session.",
        ));
    }
    if form
        .get("line_items[0][quantity]")
        .is_some_and(|q| q != "1")
    {
        return Err(ApiError::invalid(
            "line_items[0][quantity]",
            "The Stripe stand-in sells a quantity of 1.",
        ));
    }
    let customer = form.get("customer").map(str::to_owned);
    let customer_email = form.get("customer_email").map(str::to_owned);
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::exclusive("customer", "customer_email"));
    }
    let success_url = form
        .get("success_url")
        .ok_or_else(|| ApiError::missing("success_url"))?;
    web_url("success_url", Some(success_url))?;
    web_url("cancel_url", form.get("cancel_url"))?;
    let expires_at = form
        .get("expires_at")
        .map(|at| {
            at.parse::<i64>()
                .map_err(|_| ApiError::invalid("expires_at", format!("Invalid integer: {at}")))
        })
        .transpose()?;
    Ok(NewCheckoutSession {
        price: price.to_owned(),
        customer,
        customer_email,
        client_reference_id: form.get("client_reference_id").map(str::to_owned),
        success_url: success_url.to_owned(),
        cancel_url: form.get("cancel_url").map(str::to_owned),
        metadata: form.metadata("metadata"),
        subscription_metadata: form.metadata("subscription_data[metadata]"),
        expires_at,
    })
}

async fn create_checkout_session(State(shared): Standin, body: Bytes) -> Answer {
    let form = Form::parse(&body);
    let new = read_checkout_session(&form)?;
    shared.with_store(|store, now| {
        let id = store.create_checkout_session(new, now)?;
        let session = wire::checkout_session(store.session(&id)?, store.public_url(), now);
        Ok(expanded(store, session, &form.expand(), now))
    })
}

async fn retrieve_checkout_session(
    State(shared): Standin,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let expand = Form::query(query).expand();
    shared.with_store(|store, now| {
        let session = wire::checkout_session(store.session(&id)?, store.public_url(), now);
        Ok(expanded(store, session, &expand, now))
    })
}

async fn create_portal_session(State(shared): Standin, body: Bytes) -> Answer {
    let form = Form::parse(&body);
    let customer = form
        .get("customer")
        .ok_or_else(|| ApiError::missing("customer"))?;
    web_url("return_url", form.get("return_url"))?;
    let return_url = form.get("return_url").map(str::to_owned);
    shared.with_store(|store, now| {
        let id = store.create_portal_session(customer, return_url, now)?;
        let portal = wire::portal_session(store.portal(&id)?, store.public_url());
        Ok(expanded(store, portal, &form.expand(), now))
    })
}

async fn retrieve_subscription(
    State(shared): Standin,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let expand = Form::query(query).expand();
    shared.with_store(|store, now| {
        let subscription = wire::subscription(store.subscription(&id)?);
        Ok(expanded(store, subscription, &expand, now))
    })
}

/// Reads `POST /v1/subscriptions/{id}`: `cancel_at_period_end`, a price switch of the one
/// item (`items[0][id]` and `items[0][price]`), `metadata`.
fn read_subscription_change(form: &Form) -> Result<SubscriptionChange, ApiError> {
    let price = match (form.get("items[0][id]"), form.get("items[0][price]")) {
        (Some(item), Some(price)) => Some((item.to_owned(), price.to_owned())),
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "items[0][id]",
                "The Stripe stand-in switches the price of the subscription's one item: send items[0][id] with items[0][price].",
            ));
        }
        (_, None) => None,
    };
    Ok(SubscriptionChange {
        cancel_at_period_end: form.bool("cancel_at_period_end")?,
        price,
        metadata: form.metadata_change("metadata"),
    })
}

async fn update_subscription(
    State(shared): Standin,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let form = Form::parse(&body);
    let change = read_subscription_change(&form)?;
    shared.with_store(|store, now| {
        store.update_subscription(&id, &change, now)?;
        let subscription = wire::subscription(store.subscription(&id)?);
        Ok(expanded(store, subscription, &form.expand(), now))
    })
}

async fn cancel_subscription(
    State(shared): Standin,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let form = Form::parse(&body);
    shared.with_store(|store, now| {
        store.cancel_subscription(&id, now)?;
        let subscription = wire::subscription(store.subscription(&id)?);
        Ok(expanded(store, subscription, &form.expand(), now))
    })
}

async fn retrieve_customer(
    State(shared): Standin,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let expand = Form::query(query).expand();
    shared.with_store(|store, now| {
        let customer = wire::customer(store.customer(&id)?, wire::delinquent(store, &id));
        Ok(expanded(store, customer, &expand, now))
    })
}

/// `POST /_standin/subscriptions/{id}/end_period`: answers the subscription afterwards.
async fn control_end_period(State(shared): Standin, Path(id): Path<String>) -> Answer {
    shared.with_store(|store, now| {
        store.end_period(&id, now)?;
        Ok(Json(wire::subscription(store.subscription(&id)?)))
    })
}

/// `POST /_standin/subscriptions/{id}/fail_payment`: answers the subscription afterwards.
async fn control_fail_payment(State(shared): Standin, Path(id): Path<String>) -> Answer {
    shared.with_store(|store, now| {
        store.fail_payment(&id, now)?;
        Ok(Json(wire::subscription(store.subscription(&id)?)))
    })
}

/// A URL the hosted pages link back to must be a web address, as Stripe requires (a
/// `javascript:` link would run in the page).
fn web_url(param: &str, url: Option<&str>) -> Result<(), ApiError> {
    match url {
        Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            Err(ApiError::invalid(param, format!("Not a valid URL: {url}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod url_tests {
    use super::web_url;

    #[test]
    fn only_web_urls_are_linked_back_to() {
        assert!(web_url("success_url", Some("https://app.example/billing")).is_ok());
        assert!(web_url("cancel_url", Some("http://127.0.0.1:3000/billing")).is_ok());
        assert!(web_url("return_url", None).is_ok());
        assert!(web_url("return_url", Some("javascript:alert(1)")).is_err());
        assert!(web_url("success_url", Some("data:text/html,x")).is_err());
    }
}
