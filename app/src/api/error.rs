//! The one error shape every API answers with.
//!
//! REST routes and server functions alike send `{"error": AppError}` with the matching
//! HTTP status (server functions through `codec::ErrorJson`). Unexpected failures reach the
//! client only as `internal` with a request id; the details stay in the server log.

use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Stable, machine-readable error codes. Clients may match on these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Input failed validation; `fields` says which and why.
    ValidationFailed,
    /// The body could not be read as the expected JSON.
    BadRequest,
    /// Wrong e-mail address or password.
    InvalidCredentials,
    /// An account with that e-mail address exists already.
    EmailTaken,
    /// The request needs a signed-in user.
    Unauthenticated,
    /// The signed-in user may not do this.
    Forbidden,
    /// No such resource (or not the caller's).
    NotFound,
    /// Too many attempts; try again later.
    RateLimited,
    /// The request conflicts with the resource's state (e.g. changing a stopped plan).
    Conflict,
    /// The user has no broker account to act on yet.
    BrokerNotConnected,
    /// The broker did not answer; try again later.
    BrokerUnavailable,
    /// Live trading is locked until the user has traded on paper long enough.
    LiveLocked,
    /// A state-changing request came from another site.
    CrossSiteRequest,
    /// A REST route was sent something other than `application/json`.
    UnsupportedMediaType,
    /// The browser could not reach the server.
    Network,
    /// The request body is larger than the route accepts.
    PayloadTooLarge,
    /// The client took too long to send its request.
    RequestTimeout,
    /// Something unexpected failed on the server.
    Internal,
    /// The server is too busy to take this request now; try again in a moment.
    Busy,
    /// An admin disabled this account: it cannot sign in.
    AccountDisabled,
    /// A verification or password reset link that is used, expired or unknown.
    InvalidToken,
    /// The action needs a verified e-mail address (live keys, a subscription).
    EmailUnverified,
}

impl ErrorCode {
    /// The HTTP status that goes with the code.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::ValidationFailed => 422,
            ErrorCode::BadRequest | ErrorCode::InvalidToken => 400,
            ErrorCode::InvalidCredentials | ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden
            | ErrorCode::CrossSiteRequest
            | ErrorCode::LiveLocked
            | ErrorCode::AccountDisabled
            | ErrorCode::EmailUnverified => 403,

            ErrorCode::NotFound => 404,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::EmailTaken | ErrorCode::Conflict | ErrorCode::BrokerNotConnected => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RateLimited => 429,
            ErrorCode::Network | ErrorCode::BrokerUnavailable | ErrorCode::Busy => 503,
            ErrorCode::Internal => 500,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// Field name → what is wrong with it, for `validation_failed`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Set on `internal` errors so a user can quote it and an admin can find the log line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: BTreeMap::new(),
            request_id: None,
        }
    }

    /// A validation failure naming each bad field.
    pub fn invalid_fields(fields: BTreeMap<String, String>) -> Self {
        Self {
            code: ErrorCode::ValidationFailed,
            message: "Some fields need attention.".into(),
            fields,
            request_id: None,
        }
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "Please sign in to continue.")
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "You do not have access to this.")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} was not found."))
    }

    /// The opaque error the client sees for anything unexpected.
    pub fn internal(request_id: Option<String>) -> Self {
        Self {
            code: ErrorCode::Internal,
            message: "Something went wrong on our side. Please try again.".into(),
            fields: BTreeMap::new(),
            request_id,
        }
    }

    /// The message for one field, if validation flagged it.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl FromServerFnError for AppError {
    type Encoder = super::codec::ErrorJson;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => AppError::new(
                ErrorCode::BadRequest,
                format!("The request was malformed: {detail}"),
            ),
            ServerFnErrorErr::Request(_) => AppError::new(
                ErrorCode::Network,
                "Could not reach QuantShift. Check your connection and try again.",
            ),
            _ => AppError::internal(None),
        }
    }
}

/// The body of every failed REST response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    pub error: AppError,
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.code.http_status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(ErrorBody { error: self })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_omits_empty_fields() {
        let json = serde_json::to_value(ErrorBody {
            error: AppError::new(ErrorCode::InvalidCredentials, "Wrong e-mail or password."),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "invalid_credentials", "message": "Wrong e-mail or password."}})
        );
    }

    #[test]
    fn validation_errors_carry_fields() {
        let err = AppError::invalid_fields(BTreeMap::from([("email".into(), "bad".into())]));
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["code"], "validation_failed");
        assert_eq!(json["fields"]["email"], "bad");
        assert_eq!(err.field("email"), Some("bad"));
        assert_eq!(err.code.http_status(), 422);
    }

    #[test]
    fn framework_errors_never_leak_details() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::ServerError(
            "db password is hunter2".into(),
        ));
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(!err.message.contains("hunter2"));
    }
}
