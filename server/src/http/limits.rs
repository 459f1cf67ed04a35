//! What one request may cost: its body's size and the time its client takes to send it.
//!
//! Every body is read here, before any handler runs, up to [`MAX_BODY_BYTES`] and within
//! the client timeout. A declared length over the limit is refused before a byte of the
//! body is read; a chunked body is refused as soon as it passes the limit. Either way the
//! answer is the API's JSON error envelope (413 or 408) and the connection is closed, so
//! the rest is never read. Handlers then see a body that is complete and small.

use app::api::{AppError, ErrorCode};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use std::time::Duration;

/// The largest request body any route accepts. No route needs more: the largest is a
/// plan with its legs, a few kilobytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct RequestLimits {
    pub max_body_bytes: usize,
    /// How long a client may take to send the body once its headers are in.
    pub client_timeout: Duration,
}

fn closing(error: AppError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn too_large(limit: usize) -> Response {
    closing(AppError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "The request body is larger than the {} KB this server accepts.",
            limit / 1024
        ),
    ))
}

fn declared_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads the whole body within the limits, then hands the request on.
pub async fn read_body(
    State(limits): State<RequestLimits>,
    request: Request,
    next: Next,
) -> Response {
    if declared_length(&request).is_some_and(|n| n > limits.max_body_bytes as u64) {
        return too_large(limits.max_body_bytes);
    }
    let (parts, body) = request.into_parts();
    if axum::body::HttpBody::size_hint(&body).exact() == Some(0) {
        // No body (most GETs, websocket upgrades): nothing to wait for.
        return next.run(Request::from_parts(parts, body)).await;
    }
    let read = tokio::time::timeout(
        limits.client_timeout,
        Limited::new(body, limits.max_body_bytes).collect(),
    )
    .await;
    match read {
        Ok(Ok(collected)) => {
            let body = Body::from(collected.to_bytes());
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            too_large(limits.max_body_bytes)
        }
        Ok(Err(err)) => {
            tracing::debug!(error = %err, "a request body could not be read");
            closing(AppError::new(
                ErrorCode::BadRequest,
                "The request body could not be read.",
            ))
        }
        Err(_) => closing(AppError::new(
            ErrorCode::RequestTimeout,
            "The request took too long to arrive. Please try again.",
        )),
    }
}
