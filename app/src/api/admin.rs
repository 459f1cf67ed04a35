//! The admin panel's wire types and server functions. Every one checks the admin role
//! on the server (in the port), whatever the UI shows.

use super::error::AppError;
use crate::domain::account::Role;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One user as the admin panel lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

#[server(prefix = "/api/fn", endpoint = "load_admin_users", output = crate::api::codec::Json)]
pub async fn load_admin_users() -> Result<Vec<AdminUserView>, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.admin.list_users(&caller).await)
}
