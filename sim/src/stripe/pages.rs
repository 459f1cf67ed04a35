//! The hosted pages: checkout (`/checkout/{id}`) and the customer portal
//! (`/portal/{id}`). Plain server-rendered HTML that works without JavaScript: every
//! input has a label, errors sit next to their field with `role="alert"`, and every
//! button is a form POST answered with a redirect (303) or the page again with the
//! problem shown. Everything interpolated is HTML-escaped.
//!
//! Test cards, as on Stripe: `4242 4242 4242 4242` pays, `4000 0000 0000 0002` is
//! declined, anything else is an incorrect number; the expiry and CVC are not checked.

use super::Shared;
use super::api::Form;
use super::store::{
    CheckoutSession, PortalSession, SessionStatus, Store, Subscription, SubscriptionChange,
    SubscriptionStatus,
};
use super::wire::product_name;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use rust_decimal::Decimal;
use std::fmt::Write as _;
use std::sync::Arc;

type Standin = State<Arc<Shared>>;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/checkout/{id}", get(checkout).post(pay))
        .route("/portal/{id}", get(portal))
        .route(
            "/portal/{id}/subscriptions/{subscription}/{action}",
            post(portal_action),
        )
}

/// Text made safe to put in HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cents as dollars: `1900` → `$19.00`.
pub fn money(cents: i64) -> String {
    format!("${}", Decimal::new(cents, 2))
}

/// A day as the portal says it: `March 5, 2026` (UTC).
pub fn date(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds)
        .map(|t| t.strftime("%B %-d, %Y").to_string())
        .unwrap_or_else(|_| unix_seconds.to_string())
}

fn document(title: &str, main: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #f6f8fa; color: #1a1f36; }}
main {{ max-width: 32rem; margin: 2rem auto; padding: 1.5rem; background: #fff; border-radius: 8px; }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ display: block; width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }}
button {{ margin-top: 1rem; padding: .5rem 1rem; font-size: 1rem; }}
.error {{ color: #b3093c; margin: .25rem 0 0; }}
.hint {{ color: #555; font-size: .9rem; margin: .25rem 0 0; }}
.standin {{ border: 2px dashed #b76e00; padding: .75rem; margin-top: 1.5rem; }}
.plan {{ border-top: 1px solid #ddd; padding-top: 1rem; margin-top: 1rem; }}
.plan form {{ display: inline-block; margin-right: .5rem; }}
</style>
</head>
<body>
<main>
{main}
</main>
</body>
</html>
"#,
        title = escape(title),
    )
}

fn page(status: StatusCode, title: &str, main: &str) -> Response {
    (status, Html(document(title, main))).into_response()
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "<h1>This link is not valid</h1>\n<p>The checkout or billing link may have been mistyped.</p>",
    )
}

/// 303 to `location`, or a page with the link when it cannot be a header.
fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => page(
            StatusCode::OK,
            "Continue",
            &format!(r#"<p><a href="{}">Continue</a></p>"#, escape(location)),
        ),
    }
}

/// What the card number typed on the checkout page does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Card {
    Pays,
    Declined,
    Incorrect,
}

impl Card {
    fn read(number: &str) -> Self {
        let digits: String = number.chars().filter(|c| !c.is_whitespace()).collect();
        match digits.as_str() {
            "4242424242424242" => Self::Pays,
            "4000000000000002" => Self::Declined,
            _ => Self::Incorrect,
        }
    }

    fn problem(self) -> Option<&'static str> {
        match self {
            Self::Pays => None,
            Self::Declined => Some("Your card was declined."),
            Self::Incorrect => Some("Your card number is incorrect."),
        }
    }
}

/// What went wrong with the last submission of the checkout form.
#[derive(Default)]
struct Problems<'a> {
    email: Option<&'a str>,
    card: Option<&'a str>,
    /// The e-mail typed, shown again.
    typed_email: Option<&'a str>,
}

fn checkout_page(
    store: &Store,
    session: &CheckoutSession,
    now: i64,
    problems: &Problems<'_>,
) -> String {
    let product = product_name(&session.price);
    let price = format!("{} / month", money(session.price.unit_amount));
    let mut main = String::new();
    match session.status(now) {
        SessionStatus::Complete => {
            let _ = write!(
                main,
                "<h1>You're subscribed</h1>\n<p>This checkout is complete: {} — {}.</p>\n<p><a href=\"{}\">Return to {}</a></p>",
                escape(&product),
                escape(&price),
                escape(&session.success_redirect()),
                super::BUSINESS_NAME,
            );
            return document("Checkout complete", &main);
        }
        SessionStatus::Expired => {
            let _ = write!(
                main,
                "<h1>This checkout has expired</h1>\n<p>Nothing was charged. Start again from {}.</p>",
                super::BUSINESS_NAME
            );
            if let Some(cancel) = &session.cancel_url {
                let _ = write!(
                    main,
                    "\n<p><a href=\"{}\">Return to {}</a></p>",
                    escape(cancel),
                    super::BUSINESS_NAME
                );
            }
            return document("Checkout expired", &main);
        }
        SessionStatus::Open => {}
    }
    let _ = writeln!(
        main,
        "<h1>Subscribe to {product}</h1>\n<p class=\"summary\">{product} — {price}</p>\n<form method=\"post\" action=\"/checkout/{id}\">",
        product = escape(&product),
        price = escape(&price),
        id = escape(&session.id),
    );
    match store.checkout_email(session) {
        Some(email) => {
            let _ = writeln!(main, "<p>Email: <strong>{}</strong></p>", escape(&email));
        }
        None => {
            main.push_str(&field(
                "email",
                "Email",
                r#"type="email" autocomplete="email""#,
                problems.typed_email.unwrap_or_default(),
                problems.email,
                None,
            ));
        }
    }
    main.push_str(&field(
        "card_number",
        "Card number",
        r#"inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234""#,
        "",
        problems.card,
        None,
    ));
    main.push_str(&field(
        "expiry",
        "Expiry",
        r#"autocomplete="cc-exp" placeholder="MM / YY""#,
        "",
        None,
        Some("MM / YY"),
    ));
    main.push_str(&field(
        "cvc",
        "CVC",
        r#"inputmode="numeric" autocomplete="cc-csc" placeholder="CVC""#,
        "",
        None,
        None,
    ));
    main.push_str("<button type=\"submit\">Subscribe</button>\n</form>\n");
    if let Some(cancel) = &session.cancel_url {
        let _ = writeln!(main, "<p><a href=\"{}\">Cancel</a></p>", escape(cancel));
    }
    main.push_str(
        "<section class=\"standin\" aria-label=\"Stand-in test cards\">\n<p>Stripe stand-in, test mode: no money moves. Card 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined. Any expiry and CVC.</p>\n</section>",
    );
    document(&format!("Subscribe to {product}"), &main)
}

/// A labelled input with its hint and its error (`role="alert"`) right under it.
fn field(
    name: &str,
    label: &str,
    attributes: &str,
    value: &str,
    error: Option<&str>,
    hint: Option<&str>,
) -> String {
    let mut described = Vec::new();
    let mut after = String::new();
    if let Some(hint) = hint {
        described.push(format!("{name}-hint"));
        let _ = writeln!(
            after,
            "<p class=\"hint\" id=\"{name}-hint\">{}</p>",
            escape(hint)
        );
    }
    if let Some(error) = error {
        described.push(format!("{name}-error"));
        let _ = writeln!(
            after,
            "<p class=\"error\" id=\"{name}-error\" role=\"alert\">{}</p>",
            escape(error)
        );
    }
    let mut input = format!("<input id=\"{name}\" name=\"{name}\" {attributes} required");
    if !value.is_empty() {
        let _ = write!(input, " value=\"{}\"", escape(value));
    }
    if !described.is_empty() {
        let _ = write!(input, " aria-describedby=\"{}\"", described.join(" "));
    }
    if error.is_some() {
        input.push_str(" aria-invalid=\"true\"");
    }
    input.push('>');
    format!("<label for=\"{name}\">{label}</label>\n{input}\n{after}")
}

async fn checkout(State(shared): Standin, Path(id): Path<String>) -> Response {
    shared.with_store(|store, now| match store.session(&id) {
        Ok(session) => {
            Html(checkout_page(store, session, now, &Problems::default())).into_response()
        }
        Err(_) => not_found(),
    })
}

/// The checkout form: a good card pays (303 to the success URL); a declined or
/// incorrect one shows the page again with the reason (402) and creates nothing.
async fn pay(State(shared): Standin, Path(id): Path<String>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    shared.with_store(|store, now| {
        let Ok(session) = store.session(&id) else {
            return not_found();
        };
        if session.status(now) != SessionStatus::Open {
            return (
                StatusCode::CONFLICT,
                Html(checkout_page(store, session, now, &Problems::default())),
            )
                .into_response();
        }
        let typed_email = form.get("email").map(str::trim).filter(|e| !e.is_empty());
        let mut problems = Problems {
            typed_email,
            ..Problems::default()
        };
        if store.checkout_email(session).is_none() && !typed_email.is_some_and(|e| e.contains('@'))
        {
            problems.email = Some("Enter your email address.");
        }
        let card = Card::read(form.get("card_number").unwrap_or_default());
        problems.card = card.problem();
        if problems.email.is_some() || problems.card.is_some() {
            let status = if problems.card.is_some() {
                StatusCode::PAYMENT_REQUIRED
            } else {
                StatusCode::BAD_REQUEST
            };
            return (status, Html(checkout_page(store, session, now, &problems))).into_response();
        }
        match store.complete_checkout(&id, typed_email.map(str::to_owned), now) {
            Ok(next) => see_other(&next),
            Err(err) => page(
                StatusCode::CONFLICT,
                "Checkout",
                &format!("<p role=\"alert\">{}</p>", escape(&err.message)),
            ),
        }
    })
}

fn portal_page(store: &Store, portal: &PortalSession, notice: Option<&str>) -> String {
    let mut main = format!("<h1>{} billing</h1>\n", super::BUSINESS_NAME);
    if let Some(email) = store
        .customer(&portal.customer)
        .ok()
        .and_then(|c| c.email.as_deref())
    {
        let _ = writeln!(main, "<p>{}</p>", escape(email));
    }
    if let Some(notice) = notice {
        let _ = writeln!(
            main,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(notice)
        );
    }
    let mut any = false;
    for subscription in store
        .subscriptions()
        .iter()
        .filter(|s| s.customer == portal.customer && s.status != SubscriptionStatus::Canceled)
    {
        any = true;
        main.push_str(&plan_section(store, portal, subscription));
    }
    if !any {
        main.push_str("<p>You have no active plan.</p>\n");
    }
    if let Some(back) = &portal.return_url {
        let _ = writeln!(
            main,
            "<p><a href=\"{}\">Return to {}</a></p>",
            escape(back),
            super::BUSINESS_NAME
        );
    }
    document(&format!("{} billing", super::BUSINESS_NAME), &main)
}

fn plan_section(store: &Store, portal: &PortalSession, s: &Subscription) -> String {
    let action = |name: &str| {
        format!(
            "/portal/{}/subscriptions/{}/{name}",
            escape(&portal.id),
            escape(&s.id)
        )
    };
    let button = |name: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>\n",
            action(name),
            escape(label)
        )
    };
    let heading = format!("plan-{}", escape(&s.id));
    let mut out = format!(
        "<section class=\"plan\" aria-labelledby=\"{heading}\">\n<h2 id=\"{heading}\">{}</h2>\n<p>{} / month · {}</p>\n",
        escape(&product_name(&s.price)),
        money(s.price.unit_amount),
        match s.status {
            SubscriptionStatus::Active => "Active",
            SubscriptionStatus::PastDue => "Past due",
            SubscriptionStatus::Canceled => "Canceled",
        },
    );
    let end = date(s.current_period_end());
    if s.cancel_at_period_end {
        let _ = writeln!(out, "<p>Cancels on {end}</p>");
    } else {
        let _ = writeln!(out, "<p>Renews on {end}</p>");
    }
    if s.status == SubscriptionStatus::PastDue {
        out.push_str(
            "<p>The last payment failed; the next attempt is at the end of the period.</p>\n",
        );
    }
    for price in store.prices().iter().filter(|p| p.id != s.price.id) {
        let _ = writeln!(
            out,
            "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"price\" value=\"{}\"><button type=\"submit\">Switch to {}</button></form>",
            action("switch"),
            escape(&price.id),
            escape(&price.name),
        );
    }
    if s.cancel_at_period_end {
        out.push_str(&button("renew", "Don't cancel"));
    } else {
        out.push_str(&button("cancel", "Cancel plan"));
    }
    let controls = format!("controls-{}", escape(&s.id));
    let _ = writeln!(
        out,
        "<section class=\"standin\" aria-labelledby=\"{controls}\">\n<h3 id=\"{controls}\">Stand-in controls</h3>\n<p>Test only: what time and the bank would do on Stripe.</p>"
    );
    out.push_str(&button("end_period", "End the billing period now"));
    if !s.cancel_at_period_end {
        out.push_str(&button("fail_payment", "Fail the next payment"));
    }
    out.push_str("</section>\n</section>\n");
    out
}

async fn portal(State(shared): Standin, Path(id): Path<String>) -> Response {
    shared.with_store(|store, _| match store.portal(&id) {
        Ok(portal) => Html(portal_page(store, portal, None)).into_response(),
        Err(_) => not_found(),
    })
}

/// A portal button: applies the change (and queues its webhooks), then 303 back to the
/// portal; a refused change shows the portal again with the reason (409).
async fn portal_action(
    State(shared): Standin,
    Path((id, subscription, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    shared.with_store(|store, now| {
        let Ok(portal) = store.portal(&id).cloned() else {
            return not_found();
        };
        let Some(item) = store
            .subscription(&subscription)
            .ok()
            .filter(|s| s.customer == portal.customer)
            .map(|s| s.item_id.clone())
        else {
            return not_found();
        };
        let change = |cancel: bool| SubscriptionChange {
            cancel_at_period_end: Some(cancel),
            ..SubscriptionChange::default()
        };
        let result = match action.as_str() {
            "switch" => {
                let price = form.get("price").unwrap_or_default().to_owned();
                let switch = SubscriptionChange {
                    price: Some((item, price)),
                    ..SubscriptionChange::default()
                };
                store.update_subscription(&subscription, &switch, now)
            }
            "cancel" => store.update_subscription(&subscription, &change(true), now),
            "renew" => store.update_subscription(&subscription, &change(false), now),
            "end_period" => store.end_period(&subscription, now),
            "fail_payment" => store.fail_payment(&subscription, now),
            _ => return not_found(),
        };
        match result {
            Ok(()) => see_other(&format!("/portal/{id}")),
            Err(err) => (
                StatusCode::CONFLICT,
                Html(portal_page(store, &portal, Some(&err.message))),
            )
                .into_response(),
        }
    })
}
