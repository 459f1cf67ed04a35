//! Turning unexpected failures into the opaque `internal` error the client sees, after
//! logging the real cause under an error id the user can quote.

use app::api::AppError;
use std::fmt::Display;

pub fn internal(err: impl Display) -> AppError {
    let error_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    tracing::error!(error_id = %error_id, error = %err, "internal error");
    AppError::internal(Some(error_id))
}
