//! Accounts on the wire: the user as clients see it, credentials, and the server
//! functions behind the sign-up, sign-in and sign-out forms.

use super::error::AppError;
use crate::domain::account::{Email, NewPassword, Role};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A user as every client sees them. Never carries a password hash or a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// Preferred IANA time zone for new plans; `None`: the browser's.
    #[serde(default)]
    pub timezone: Option<String>,
    /// A release note was published since the user last opened "What's new".
    #[serde(default)]
    pub unread_notes: bool,
    /// The operators' announcement for every signed-in user; empty: none.
    #[serde(default)]
    pub announcement: String,
    /// The user confirmed their e-mail address (live keys and subscriptions need it).
    #[serde(default)]
    pub email_verified: bool,
}

/// The body of `POST /api/auth/signup` and `/api/auth/login`.
#[derive(Clone, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl Credentials {
    /// Validates a sign-up: every field's problem at once, or the parsed values.
    pub fn parse_new(&self) -> Result<(Email, NewPassword), AppError> {
        let email = Email::parse(&self.email);
        let password = NewPassword::parse(&self.password);
        match (email, password) {
            (Ok(email), Ok(password)) => Ok((email, password)),
            (email, password) => {
                let mut fields = BTreeMap::new();
                if let Err(e) = email {
                    fields.insert("email".to_string(), e);
                }
                if let Err(e) = password {
                    fields.insert("password".to_string(), e);
                }
                Err(AppError::invalid_fields(fields))
            }
        }
    }
}

/// The signed-in user, or `None` for a visitor.
#[server(prefix = "/api/fn", endpoint = "load_current_user", output = crate::api::codec::Json)]
pub async fn load_current_user() -> Result<Option<UserView>, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.accounts.current_user(&caller).await)
}

#[server(prefix = "/api/fn", endpoint = "sign_up", output = crate::api::codec::Json)]
pub async fn sign_up(email: String, password: String) -> Result<UserView, AppError> {
    let (ports, caller) = super::ports::request().await?;
    let user = super::ports::with_status(
        ports
            .accounts
            .sign_up(&caller, Credentials { email, password })
            .await,
    )?;
    // New users start with the short set-up wizard.
    leptos_axum::redirect("/welcome");
    Ok(user)
}

#[server(prefix = "/api/fn", endpoint = "sign_in", output = crate::api::codec::Json)]
pub async fn sign_in(email: String, password: String) -> Result<UserView, AppError> {
    let (ports, caller) = super::ports::request().await?;
    let user = super::ports::with_status(
        ports
            .accounts
            .sign_in(&caller, Credentials { email, password })
            .await,
    )?;
    leptos_axum::redirect("/dashboard");
    Ok(user)
}

#[server(prefix = "/api/fn", endpoint = "sign_out", output = crate::api::codec::Json)]
pub async fn sign_out() -> Result<(), AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.accounts.sign_out(&caller).await)?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    fn creds(email: &str, password: &str) -> Credentials {
        Credentials {
            email: email.into(),
            password: password.into(),
        }
    }

    #[test]
    fn sign_up_reports_every_bad_field() {
        let err = creds("nope", "short").parse_new().unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.field("email").is_some());
        assert!(err.field("password").unwrap().contains("at least 10"));
    }

    #[test]
    fn sign_up_accepts_good_input() {
        let (email, _) = creds("Ada@Example.com", "a long passphrase")
            .parse_new()
            .unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let shown = format!("{:?}", creds("a@b.co", "secret-secret"));
        assert!(!shown.contains("secret-secret"));
    }
}

/// One signed-in browser or device, as its user (or an admin) sees it. The handle names
/// it for ending it; the session's id never leaves the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct SessionView {
    pub handle: String,
    /// When it signed in, ms.
    pub created_at: Option<i64>,
    /// When it was last used (noted at most every few minutes), ms.
    pub last_seen_at: Option<i64>,
    pub ip: Option<String>,
    /// The browser and system in words: "Chrome 156 on Linux".
    pub device: String,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// The settings page's view of the signed-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Profile {
    pub email: String,
    pub role: Role,
    #[serde(deserialize_with = "crate::domain::wire_time::timestamp")]
    #[cfg_attr(feature = "ssr", schemars(with = "crate::api::schema::Instant"))]
    pub member_since: jiff::Timestamp,
    /// Preferred IANA time zone; `None`: the browser's.
    pub timezone: Option<String>,
    /// Other signed-in browsers and devices.
    pub other_sessions: i64,
    /// The e-mail choices as a plain HTML form (rendered on the server, posting to
    /// `/settings/notifications`).
    #[serde(default)]
    pub notifications_form: String,
}

#[server(prefix = "/api/fn", endpoint = "load_profile", output = crate::api::codec::Json)]
pub async fn load_profile() -> Result<Profile, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.accounts.profile(&caller).await)
}

/// Sets (or, with an empty name, clears) the preferred time zone.
#[server(prefix = "/api/fn", endpoint = "set_timezone", output = crate::api::codec::Json)]
pub async fn set_timezone(timezone: String) -> Result<Profile, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.accounts.set_timezone(&caller, timezone).await)
}

/// Changes the password after checking the current one; every other session ends.
#[server(prefix = "/api/fn", endpoint = "change_password", output = crate::api::codec::Json)]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<Profile, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(
        ports
            .accounts
            .change_password(&caller, current_password, new_password)
            .await,
    )
}

/// The caller's signed-in browsers and devices, most recently used first.
#[server(prefix = "/api/fn", endpoint = "load_sessions", output = crate::api::codec::Json)]
pub async fn load_sessions() -> Result<Vec<SessionView>, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.accounts.sessions(&caller).await)
}

/// Ends one of the caller's sessions by its handle (its live socket closes).
#[server(prefix = "/api/fn", endpoint = "end_session", output = crate::api::codec::Json)]
pub async fn end_session(handle: String) -> Result<(), AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.accounts.end_session(&caller, &handle).await)
}

/// Signs out every other browser and device; this one stays signed in.
#[server(prefix = "/api/fn", endpoint = "sign_out_others", output = crate::api::codec::Json)]
pub async fn sign_out_others() -> Result<Profile, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.accounts.sign_out_others(&caller).await)
}
