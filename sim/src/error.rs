//! Alpaca-shaped API errors: an HTTP status and a `{"code": …, "message": …}` body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered as Alpaca would answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

impl SimError {
    pub fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 422, validation failed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, 40010001, message)
    }

    /// 400, the request body or a parameter could not be read at all.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, 40010000, message)
    }

    /// 403, e.g. insufficient buying power or quantity.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, 40310000, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, 40410000, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, 40110000, "request is not authorized")
    }

    pub fn rate_limited() -> Self {
        Self::new(429, 42910000, "rate limit exceeded")
    }
}

impl SimError {
    /// The JSON body Alpaca answers with.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"code": self.code, "message": self.message})
    }
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for SimError {}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}
