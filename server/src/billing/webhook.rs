//! Stripe's webhook, read exactly: the `Stripe-Signature` check (HMAC-SHA256 of
//! `"{t}.{body}"` under the endpoint's secret, any of several `v1` values, 300 s
//! tolerance), and the events the app acts on turned into a [`Change`]. The objects are
//! read leniently (only the fields used), so Stripe adding fields or moving
//! `current_period_end` onto the subscription items (API 2025-03-31) changes nothing.

use crate::db::billing::{Change, SubscriptionState};
use app::domain::tier::Tier;
use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// How old (or how far in the future) a signature's timestamp may be, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("no v1 signature matches the payload under the webhook secret")]
    Mismatch,
    #[error("the signature's timestamp is outside the tolerance (a replay?)")]
    Stale,
}

/// Checks `header` (`t=…,v1=…[,v1=…][,v0=…]`) for `body` at `now` (epoch seconds).
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.push(sig),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let matches = signatures
        .iter()
        .any(|sig| decode_hex(sig).is_some_and(|bytes| mac.clone().verify_slice(&bytes).is_ok()));
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A webhook event as far as the app reads it.
#[derive(Clone, Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Epoch seconds.
    pub created: i64,
    pub data: EventData,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// The Stripe price ids this install sells, by tier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prices {
    pub basic: Option<String>,
    pub pro: Option<String>,
    pub premium: Option<String>,
}

impl Prices {
    pub fn of(&self, tier: Tier) -> Option<&str> {
        match tier {
            Tier::Free => None,
            Tier::Basic => self.basic.as_deref(),
            Tier::Pro => self.pro.as_deref(),
            Tier::Premium => self.premium.as_deref(),
        }
    }

    pub fn tier(&self, price_id: &str) -> Option<Tier> {
        Tier::ALL
            .into_iter()
            .find(|tier| self.of(*tier) == Some(price_id))
    }
}

/// What `event` changes; `Err` names what a relevant event lacks.
pub fn change(event: &Event, prices: &Prices) -> Result<Change, String> {
    let object = &event.data.object;
    match event.kind.as_str() {
        "checkout.session.completed" => {
            let user = str_at(object, &["client_reference_id"])
                .or_else(|| str_at(object, &["metadata", "user_id"]));
            match (user, id_at(object, "customer")) {
                (Some(user_id), Some(customer_id)) => Ok(Change::LinkCustomer {
                    user_id: user_id.to_owned(),
                    customer_id: customer_id.to_owned(),
                }),
                // Not one of ours (no user), or a payment-mode session without a customer.
                _ => Ok(Change::Ignored),
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let mut state = subscription(object, prices)?;
            if event.kind == "customer.subscription.deleted" {
                state.status = "canceled".into();
            }
            Ok(Change::Subscription(state))
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let subscription = id_at(object, "subscription")
                .or_else(|| str_at(object, &["parent", "subscription_details", "subscription"]));
            Ok(match subscription {
                Some(id) => Change::Invoice {
                    subscription_id: id.to_owned(),
                    paid: event.kind == "invoice.paid",
                },
                None => Change::Ignored,
            })
        }
        _ => Ok(Change::Ignored),
    }
}

fn subscription(object: &Value, prices: &Prices) -> Result<SubscriptionState, String> {
    let need = |field: &str| format!("the subscription has no `{field}`");
    let item = object
        .pointer("/items/data/0")
        .ok_or_else(|| need("items.data[0]"))?;
    let price_id = id_at(item, "price")
        .or_else(|| id_at(item, "plan"))
        .ok_or_else(|| need("items.data[0].price"))?;
    let period_end = object
        .get("current_period_end")
        .and_then(Value::as_i64)
        .or_else(|| item.get("current_period_end").and_then(Value::as_i64));
    Ok(SubscriptionState {
        id: str_at(object, &["id"])
            .ok_or_else(|| need("id"))?
            .to_owned(),
        customer_id: id_at(object, "customer")
            .ok_or_else(|| need("customer"))?
            .to_owned(),
        user_hint: str_at(object, &["metadata", "user_id"]).map(str::to_owned),
        tier: prices.tier(price_id),
        price_id: price_id.to_owned(),
        status: str_at(object, &["status"])
            .ok_or_else(|| need("status"))?
            .to_owned(),
        current_period_end_ms: period_end.map(|s| s.saturating_mul(1000)),
        cancel_at_period_end: object
            .get("cancel_at_period_end")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        created: object
            .get("created")
            .and_then(Value::as_i64)
            .ok_or_else(|| need("created"))?,
    })
}

fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// An id field that Stripe sends as the id or, expanded, as the object.
fn id_at<'v>(value: &'v Value, field: &str) -> Option<&'v str> {
    let field = value.get(field)?;
    field
        .as_str()
        .or_else(|| field.get("id").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn a_known_signature_checks() {
        // Computed independently: python3 -c 'import hmac, hashlib; print(hmac.new(
        // b"whsec_test_secret", b"1700000000." + body, hashlib.sha256).hexdigest())'
        let known = "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd";
        assert_eq!(sign(SECRET, 1_700_000_000, BODY), known);
        let header = format!("t=1700000000,v1={known}");
        assert_eq!(verify(Some(&header), BODY, SECRET, 1_700_000_100), Ok(()));
    }

    #[test]
    fn wrong_secret_stale_and_malformed_are_refused() {
        let t = 1_700_000_000;
        let good = format!("t={t},v1={}", sign(SECRET, t, BODY));
        let wrong = format!("t={t},v1={}", sign("whsec_other", t, BODY));
        assert_eq!(
            verify(Some(&wrong), BODY, SECRET, t),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), b"{\"id\":\"evt_2\"}", SECRET, t),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), BODY, SECRET, t + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&good), BODY, SECRET, t - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify(Some(&good), BODY, SECRET, t + 300), Ok(()));
        assert_eq!(verify(None, BODY, SECRET, t), Err(SignatureError::Missing));
        assert_eq!(
            verify(Some("v1=abcd"), BODY, SECRET, t),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(&format!("t={t}")), BODY, SECRET, t),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(
                Some(&format!("t={t},v1=zz{}", &sign(SECRET, t, BODY)[2..])),
                BODY,
                SECRET,
                t
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_of_several_v1_values_may_match() {
        // Stripe sends one v1 per active secret while a secret is being rolled.
        let t = 1_700_000_000;
        let header = format!(
            "t={t}, v1={}, v1={}, v0={}",
            sign("whsec_old", t, BODY),
            sign(SECRET, t, BODY),
            sign(SECRET, t, BODY)
        );
        assert_eq!(verify(Some(&header), BODY, SECRET, t), Ok(()));
        let only_v0 = format!("t={t},v0={}", sign(SECRET, t, BODY));
        assert_eq!(
            verify(Some(&only_v0), BODY, SECRET, t),
            Err(SignatureError::Malformed)
        );
    }

    fn prices() -> Prices {
        Prices {
            basic: Some("price_basic".into()),
            pro: Some("price_pro".into()),
            premium: Some("price_premium".into()),
        }
    }

    fn event(kind: &str, object: Value) -> Event {
        serde_json::from_value(json!({
            "id": "evt_1", "object": "event", "type": kind, "created": 1_700_000_000,
            "data": {"object": object}, "livemode": false
        }))
        .unwrap()
    }

    #[test]
    fn subscriptions_are_read_from_either_api_version() {
        let old = json!({
            "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
            "created": 1_699_999_000, "current_period_end": 1_702_000_000,
            "cancel_at_period_end": true, "metadata": {"user_id": "u1"},
            "items": {"data": [{"price": {"id": "price_pro"}}]}
        });
        let Change::Subscription(state) =
            change(&event("customer.subscription.updated", old), &prices()).unwrap()
        else {
            panic!("not a subscription change");
        };
        assert_eq!(state.tier, Some(Tier::Pro));
        assert_eq!(state.current_period_end_ms, Some(1_702_000_000_000));
        assert!(state.cancel_at_period_end);
        assert_eq!(state.user_hint.as_deref(), Some("u1"));

        let new = json!({
            "id": "sub_2", "customer": {"id": "cus_2"}, "status": "active", "created": 1,
            "items": {"data": [{"price": {"id": "price_gold"}, "current_period_end": 5}]}
        });
        let Change::Subscription(state) =
            change(&event("customer.subscription.deleted", new), &prices()).unwrap()
        else {
            panic!("not a subscription change");
        };
        assert_eq!(state.customer_id, "cus_2");
        assert_eq!(state.tier, None, "an unknown price buys nothing");
        assert_eq!(state.status, "canceled", "a deleted subscription is over");
        assert_eq!(state.current_period_end_ms, Some(5000));

        let err = change(
            &event("customer.subscription.created", json!({"id": "sub_3"})),
            &prices(),
        )
        .unwrap_err();
        assert!(err.contains("items"), "{err}");
    }

    #[test]
    fn checkout_and_invoice_events_name_their_user_and_subscription() {
        let done = json!({"id": "cs_1", "client_reference_id": "u1", "customer": "cus_1"});
        assert_eq!(
            change(&event("checkout.session.completed", done), &prices()).unwrap(),
            Change::LinkCustomer {
                user_id: "u1".into(),
                customer_id: "cus_1".into()
            }
        );
        let stranger = json!({"id": "cs_2", "customer": "cus_9"});
        assert_eq!(
            change(&event("checkout.session.completed", stranger), &prices()).unwrap(),
            Change::Ignored
        );
        let failed =
            json!({"id": "in_1", "parent": {"subscription_details": {"subscription": "sub_1"}}});
        assert_eq!(
            change(&event("invoice.payment_failed", failed), &prices()).unwrap(),
            Change::Invoice {
                subscription_id: "sub_1".into(),
                paid: false
            }
        );
        let paid = json!({"id": "in_2", "subscription": "sub_1"});
        assert_eq!(
            change(&event("invoice.paid", paid), &prices()).unwrap(),
            Change::Invoice {
                subscription_id: "sub_1".into(),
                paid: true
            }
        );
        assert_eq!(
            change(&event("customer.created", json!({})), &prices()).unwrap(),
            Change::Ignored
        );
    }
}
