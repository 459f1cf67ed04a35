//! The HTTP surface: the Leptos app (pages and server functions), the REST API, health
//! checks, static files, and the middleware every request passes through.

mod admin;
mod auth;
mod billing;
mod dca;
mod health;
pub mod help;
pub mod limits;
mod live;
mod mail;
mod middleware;
pub mod openapi;
pub mod ops;
pub mod serve;

use crate::accounts::AccountService;
use crate::db::Db;
use crate::db::sessions::DbSessionStore;
use app::api::ports::Ports;
use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes as _, generate_route_list};
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    /// The session checks the live socket makes itself.
    pub accounts: Arc<AccountService>,
    /// The services, as server functions and REST handlers alike reach them.
    pub ports: Ports,

    pub events: crate::events::EventBus,
    pub public_origin: Arc<str>,
    /// Trusted proxy hops in front of the server when `X-Forwarded-For` is trusted.
    pub forwarded_hops: Option<u32>,
    /// One request limiter per broker API key, shared by every caller in the process.
    pub broker_limiters: Arc<crate::broker::rate_limit::RateLimiters>,
    /// The in-process simulated broker's base URL, in demo mode.
    pub demo_broker_url: Option<Arc<str>>,
    /// Becomes true when the server begins to stop (live sockets then close).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Whether users are held to their tiers (the table in force is in the services).
    pub billing: bool,
    /// Applies Stripe's webhook deliveries (404 with billing off).
    pub stripe_webhook: Arc<crate::billing::BillingService>,
    /// The health report and the metrics.
    pub ops: Arc<crate::ops::OpsService>,
    /// The bearer token `GET /metrics` wants on this listener (not served without one).
    pub metrics_token: Option<Arc<str>>,
    /// E-mail: the pages its links open, and the admins' SMTP settings.
    pub mail: Arc<crate::mail::MailService>,
    /// Demo mode (`/dev/mailbox` is served).
    pub demo: bool,
    /// What the help pages quote of this server's configuration.
    pub help: Arc<help::HelpFacts>,
    /// The position pages' lots.
    pub portfolio: Arc<crate::dca::portfolio::PortfolioService>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub struct SessionSettings {
    pub store: DbSessionStore,
    pub secure: bool,
    pub idle_days: u32,
}

/// What every rendered page gets besides the request: the service ports, and a note of the
/// nonce leptos_axum drew for this page (it puts it on every script it writes), from which
/// [`middleware::security_headers`] writes the Content-Security-Policy that lets exactly
/// this page's scripts run.
fn page_context(ports: Ports) -> impl Fn() + Clone + Send + Sync + 'static {
    move || {
        provide_context(ports.clone());
        if let (Some(nonce), Some(parts)) = (
            leptos::nonce::use_nonce(),
            use_context::<axum::http::request::Parts>(),
        ) && let Some(slot) = parts.extensions.get::<middleware::PageNonce>()
        {
            slot.set(nonce.to_string());
        }
    }
}

pub fn router(state: AppState, sessions: SessionSettings, limits: limits::RequestLimits) -> Router {
    let ports = state.ports.clone();

    let routes = generate_route_list(app::App);

    let api = openapi::router(openapi::operations())
        .route_layer(axum::middleware::from_fn(middleware::require_json_body))
        .route_layer(axum::middleware::from_fn(ops::note_route))
        .fallback(middleware::api_not_found);

    let session_layer = SessionManagerLayer::new(sessions.store)
        .with_name("qs_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(sessions.secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::days(i64::from(
            sessions.idle_days,
        ))));

    Router::new()
        .nest("/api", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/admin/settings/tiers", post(admin::save_tier_form))
        .route("/admin/settings/mail", post(mail::save_mail_settings))
        .route("/admin/settings/mail/test", post(mail::send_test_mail))
        .route(
            "/verify-email",
            get(mail::verify_page).post(mail::verify_form),
        )
        .route("/verify-email/resend", post(mail::resend_form))
        .route(
            "/forgot-password",
            get(mail::forgot_page).post(mail::forgot_form),
        )
        .route(
            "/reset-password",
            get(mail::reset_page).post(mail::reset_form),
        )
        .route(
            "/unsubscribe",
            get(mail::unsubscribe_page).post(mail::unsubscribe),
        )
        .route("/settings/notifications", post(mail::prefs_form))
        .route("/dev/mailbox", get(mail::mailbox))
        .route("/help", get(help::help))
        .route("/faq", get(help::faq))
        .route("/pricing", get(help::pricing))
        .route("/terms", get(help::terms))
        .route("/privacy", get(help::privacy))
        .route("/risk", get(help::risk))
        .route("/positions/{symbol}", get(help::position))
        .route("/bots/{id}", get(help::bot))
        .route("/bots/{id}/stop", post(help::stop_bot))
        .leptos_routes_with_context(&state, routes, page_context(ports.clone()), {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        .route_layer(axum::middleware::from_fn(ops::note_route))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context(ports), app::shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::reject_cross_site,
        ))
        .layer(session_layer)
        .layer(axum::middleware::from_fn_with_state(
            limits,
            limits::read_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::client_ip,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            state.ops.clone(),
            ops::track,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(middleware::request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A text a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or carriage return first: an
/// address a sign-in tried, say) is kept as text with a leading `'`.
pub(crate) fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod csv_tests {
    use super::csv_field;

    #[test]
    fn fields_are_quoted_and_formulas_kept_as_text() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("@x,y"), "\"'@x,y\"");
        assert_eq!(csv_field("10.00"), "10.00");
    }
}
