//! Stripe-shaped API errors: an HTTP status and a body
//! `{"error": {"type": …, "code": …, "message": …, "param": …}}`, which async-stripe reads
//! into `StripeError::Stripe(ApiErrors, status)`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answered as Stripe would answer it. Every error the stand-in gives is an
/// `invalid_request_error` (it declines cards on its hosted page, never through the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// Stripe's error code (`resource_missing`, `parameter_missing`, …), when it has one.
    pub code: Option<&'static str>,
    pub message: String,
    /// The request parameter at fault, in Stripe's bracket notation.
    pub param: Option<String>,
}

impl ApiError {
    fn new(status: u16, code: Option<&'static str>, message: String, param: Option<&str>) -> Self {
        Self {
            status,
            code,
            message,
            param: param.map(str::to_owned),
        }
    }

    /// 400, `resource_missing`: a parameter names an object that does not exist
    /// (`No such price: 'price_x'`).
    pub fn no_such(kind: &str, id: &str, param: &str) -> Self {
        Self::new(
            400,
            Some("resource_missing"),
            format!("No such {kind}: '{id}'"),
            Some(param),
        )
    }

    /// 404, `resource_missing`: the object in the URL does not exist.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            404,
            Some("resource_missing"),
            format!("No such {kind}: '{id}'"),
            Some("id"),
        )
    }

    /// 400, `parameter_missing`.
    pub fn missing(param: &str) -> Self {
        Self::new(
            400,
            Some("parameter_missing"),
            format!("Missing required param: {param}."),
            Some(param),
        )
    }

    /// 400, `parameters_exclusive`.
    pub fn exclusive(first: &str, second: &str) -> Self {
        Self::new(
            400,
            Some("parameters_exclusive"),
            format!("You may only specify one of these parameters: {first}, {second}."),
            Some(first),
        )
    }

    /// 400 without a code: a parameter's value is unusable, or asks for something the
    /// stand-in does not do.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::new(400, None, message.into(), Some(param))
    }

    /// 400 without a code or a parameter: the object's state forbids the request.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(400, None, message.into(), None)
    }

    /// 401: no API key, or not the configured one.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, None, message.into(), None)
    }

    /// 404 for a path the stand-in does not serve.
    pub fn unrecognized(method: &str, path: &str) -> Self {
        Self::new(
            404,
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). The Stripe stand-in serves only the endpoints QuantShift uses."
            ),
            None,
        )
    }

    /// The JSON body Stripe answers with.
    pub fn body(&self) -> Value {
        let mut error = json!({"type": "invalid_request_error", "message": self.message});
        if let Some(code) = self.code {
            error["code"] = json!(code);
        }
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        json!({ "error": error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}
