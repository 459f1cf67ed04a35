//! `GET /metrics` (Prometheus) and the middleware that counts every request by the route
//! template it matched (`/plans/{id}`, never `/plans/4f…`, so the series stay few).

use super::AppState;
use crate::metrics::UNMATCHED;
use crate::ops::OpsService;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use std::sync::{Arc, Mutex};

/// Where the router notes the template a request matched, for [`track`]: outer layers run
/// before routing and cannot see it. Nested routers match again, so the last (innermost)
/// note wins.
#[derive(Clone, Default)]
pub struct RouteNote(Arc<Mutex<Option<String>>>);

/// Route layer: notes the matched template.
pub async fn note_route(request: Request, next: Next) -> Response {
    if let (Some(note), Some(path)) = (
        request.extensions().get::<RouteNote>(),
        request.extensions().get::<MatchedPath>(),
    ) && let Ok(mut slot) = note.0.lock()
    {
        *slot = Some(path.as_str().to_owned());
    }
    next.run(request).await
}

/// Counts the request and its duration by route template, method and status.
pub async fn track(
    State(ops): State<Arc<OpsService>>,
    mut request: Request,
    next: Next,
) -> Response {
    let note = RouteNote::default();
    request.extensions_mut().insert(note.clone());
    // A fixed set: any method name is accepted on the wire, and each would be a series.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = note
        .0
        .lock()
        .ok()
        .and_then(|slot| slot.clone())
        // A nested router's catch-all is not a route anyone wrote.
        .filter(|route| !route.contains("__private__axum"))
        .unwrap_or_else(|| UNMATCHED.to_owned());
    ops.metrics().record_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The exposition, or a 500 when the database cannot be read.
async fn exposition(ops: &OpsService) -> Response {
    match ops.figures().await {
        Ok(figures) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            )],
            ops.metrics().render(&figures),
        )
            .into_response(),
        Err(err) => {
            tracing::warn!(error = %format!("{err:#}"), "metrics: the database could not be read");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Whether the request carries `Authorization: Bearer <token>` (compared as digests, so
/// the time taken says nothing about how much of a guess was right).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    Sha256::digest(given.trim().as_bytes()) == Sha256::digest(token.as_bytes())
}

/// `GET /metrics` on the main listener: only with `metrics_token` configured, and only
/// for a request that carries it.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.metrics_token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !bearer_matches(&headers, token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        )
            .into_response();
    }
    exposition(&state.ops).await
}

/// The router of the separate `metrics_listen` address: `/metrics` only, no token.
pub fn metrics_router(ops: Arc<OpsService>) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(ops): State<Arc<OpsService>>| async move {
                exposition(&ops).await
            }),
        )
        .with_state(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let token = "0123456789abcdef-token";
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert!(bearer_matches(
            &with("Bearer 0123456789abcdef-token"),
            token
        ));
        assert!(!bearer_matches(&with("Bearer 0123456789abcdef"), token));
        assert!(!bearer_matches(
            &with("Basic 0123456789abcdef-token"),
            token
        ));
        assert!(!bearer_matches(&HeaderMap::new(), token));
    }
}
