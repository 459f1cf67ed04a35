//! Middleware: the client address, cross-site request refusal, JSON-only REST bodies,
//! the security headers on every response, and the request span every log line carries.

use super::AppState;
use app::api::ports::ClientIp;
use app::api::{AppError, ErrorCode};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use std::net::{IpAddr, SocketAddr};

/// Records the client's address for rate limits and the audit log.
pub async fn client_ip(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = state
        .forwarded_hops
        .and_then(|hops| forwarded_for(request.headers(), hops));
    let ip = forwarded.or(peer).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    request.extensions_mut().insert(ClientIp(ip));
    next.run(request).await
}

/// The client's address as the outermost of `hops` trusted proxies saw it: the `hops`-th
/// entry of `X-Forwarded-For` from the right (every header's entries in order). Entries
/// further left were written by the client and may be anything, so they are never read.
fn forwarded_for(headers: &HeaderMap, hops: u32) -> Option<IpAddr> {
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let index = entries
        .len()
        .checked_sub(usize::try_from(hops).ok()?.max(1))?;
    entries[index].parse().ok()
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses state-changing requests (REST, server functions, and the admin's plain HTML
/// forms such as `POST /admin/settings/tiers`) that a browser says came from another site.
/// Non-browser clients send neither header and pass; SameSite=Lax cookies already keep a
/// cross-site browser request from being signed in (but not one from a sibling subdomain).
pub async fn reject_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // Stripe's webhook is not a browser request: its signature authenticates it.
    if changes_state(request.method())
        && request.uri().path() != "/api/billing/webhook"
        && is_cross_site(request.headers(), &state.public_origin)
    {
        tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
        return AppError::new(
            ErrorCode::CrossSiteRequest,
            "This request came from another site and was refused.",
        )
        .into_response();
    }
    next.run(request).await
}

pub(crate) fn is_cross_site(headers: &HeaderMap, public_origin: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    if origin == public_origin {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    !(host.is_some() && origin_host == host)
}

/// REST bodies must be JSON: a cross-site HTML form cannot send that without a CORS
/// preflight, and a clear 415 beats a confusing parse error.
pub async fn require_json_body(request: Request, next: Next) -> Response {
    // DELETE carries no body, and browsers always preflight it, so it needs no JSON type.
    if changes_state(request.method()) && request.method() != axum::http::Method::DELETE {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return AppError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the request body as JSON with Content-Type: application/json.",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The policy of everything that is not an app page (API answers, files, errors): load
/// nothing, run nothing, be framed by no one. Pages set their own ([`page_policy`]).
const DEFAULT_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Under `cargo leptos watch` a page also opens the live-reload socket.
static RELOADING: std::sync::LazyLock<bool> =
    std::sync::LazyLock::new(|| std::env::var_os("LEPTOS_WATCH").is_some());

/// Where a page being rendered notes the nonce its scripts carry, for
/// [`security_headers`] to write the page's policy with: a slot in the request's
/// extensions, shared with the render (which sees the request's parts). Set through the
/// request rather than Leptos's `ResponseOptions`, whose headers a page render was seen to
/// lose now and then (the page then could not run its own scripts).
#[derive(Clone, Default)]
pub struct PageNonce(std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl PageNonce {
    pub fn set(&self, nonce: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(nonce);
        }
    }

    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// The policy of an app page rendered with `nonce`: the page's own scripts (the hydration
/// script and streamed resources carry the nonce; the WASM bundle and its lazily loaded
/// pieces come from this origin), no inline styles, no plugins, no framing, and requests
/// (fetch and the live websocket) to this origin only; in development with live reload
/// (`reloading`), to its websocket on another port too.
pub fn page_policy(nonce: &str, reloading: bool) -> String {
    let reload = if reloading { " ws:" } else { "" };
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'{reload}; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Adds the security headers to every response: a Content-Security-Policy (pages bring
/// their own, with their nonce), `nosniff`, a same-origin referrer policy, no framing, and
/// HSTS when the public URL is https.
pub async fn security_headers(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = PageNonce::default();
    request.extensions_mut().insert(nonce.clone());
    let api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // API answers hold a user's data (the admin's exports among them): kept by no cache.
    if api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        // A rendered page noted the nonce its scripts carry; anything else loads nothing.
        let policy = nonce
            .get()
            .and_then(|nonce| HeaderValue::from_str(&page_policy(&nonce, *RELOADING)).ok())
            .unwrap_or(HeaderValue::from_static(DEFAULT_POLICY));
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if state.public_origin.starts_with("https://") {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// Unknown `/api/*` paths (REST and server functions alike) answer in the JSON envelope.
pub async fn api_not_found(
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> AppError {
    AppError::new(
        ErrorCode::NotFound,
        format!("There is no API at {}.", uri.path()),
    )
}

/// The span every request's log lines sit in, named by method, path and request id.
pub fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "handling a request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    const ORIGIN: &str = "https://invest.example.com";

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert!(!is_cross_site(
            &headers(&[("sec-fetch-site", "same-origin")]),
            ORIGIN
        ));
        assert!(!is_cross_site(
            &headers(&[("sec-fetch-site", "none")]),
            ORIGIN
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "cross-site")]),
            ORIGIN
        ));
        assert!(is_cross_site(
            &headers(&[("sec-fetch-site", "same-site")]),
            ORIGIN
        ));
    }

    #[test]
    fn origin_must_match_the_public_origin_or_the_host() {
        assert!(!is_cross_site(
            &headers(&[("origin", "https://invest.example.com")]),
            ORIGIN
        ));
        assert!(!is_cross_site(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            ORIGIN
        ));
        assert!(is_cross_site(
            &headers(&[("origin", "https://evil.example")]),
            ORIGIN
        ));
        assert!(is_cross_site(
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:3000")
            ]),
            ORIGIN
        ));
        assert!(is_cross_site(&headers(&[("origin", "null")]), ORIGIN));
    }

    #[test]
    fn clients_without_browser_headers_pass() {
        assert!(!is_cross_site(&HeaderMap::new(), ORIGIN));
    }

    #[test]
    fn forwarded_for_takes_what_the_trusted_proxies_appended() {
        // One proxy: the right-most entry, whatever the client put before it.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7")]);
        assert_eq!(forwarded_for(&h, 1), Some("203.0.113.7".parse().unwrap()));
        // Two proxies (a CDN, then a load balancer): the second from the right.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 198.51.100.2")]);
        assert_eq!(forwarded_for(&h, 2), Some("203.0.113.7".parse().unwrap()));
        // Several headers count as one list, in order.
        let mut h = headers(&[("x-forwarded-for", "6.6.6.6")]);
        h.append("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(forwarded_for(&h, 1), Some("203.0.113.9".parse().unwrap()));
        // Fewer entries than proxies, or junk where the address should be: none.
        assert_eq!(
            forwarded_for(&headers(&[("x-forwarded-for", "203.0.113.7")]), 2),
            None
        );
        assert_eq!(
            forwarded_for(&headers(&[("x-forwarded-for", "junk")]), 1),
            None
        );
        assert_eq!(forwarded_for(&HeaderMap::new(), 1), None);
    }
}
