//! What e-mail links open, and the e-mail parts of the REST API.
//!
//! Pages: `/verify-email`, `/forgot-password`, `/reset-password`, `/unsubscribe` and, in demo
//! mode on loopback, `/dev/mailbox`: plain server-rendered HTML with plain forms (they work
//! without JavaScript and add nothing to the app's bundle). A link opens a page with a
//! button; only the button's POST acts, so a mail scanner that follows links uses nothing.
//! The signed-in forms (`/verify-email/resend`, `/settings/notifications`, the admins'
//! `/admin/settings/mail`) post here too.

use super::AppState;
use super::auth::JsonBody;
use crate::accounts::email::topic_words;
use crate::db::mail::NotifyPrefs;
use crate::mail::templates;
use app::api::ports::Caller;
use app::api::{AppError, ErrorCode};
use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::net::SocketAddr;

/// Pages here load the stylesheet and post forms to this site; nothing else.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The messages the demo mailbox shows.
const MAILBOX_LIMIT: i64 = 50;

fn page(status: StatusCode, name: &str, context: minijinja::Value) -> Response {
    match templates::render(&format!("pages/{name}.html"), context) {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            );
            // The pages carry single-use tokens: kept by no cache.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => crate::errors::internal(err).into_response(),
    }
}

pub(super) fn message(
    status: StatusCode,
    title: &str,
    text: &str,
    ok: bool,
    link: (&str, &str),
) -> Response {
    page(
        status,
        "message",
        minijinja::context! {
            title, message => text, ok, warn => !ok,
            link => link.0, link_label => link.1,
        },
    )
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

// ----- Verification -----

fn verify_dead() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "This link was used already, has expired, or is not one of ours. Sign in and send yourself a new one from the banner at the top of the page.",
        false,
        ("/login", "Sign in"),
    )
}

fn verify_form_page(status: StatusCode, token: &str, owner: bool, error: &str) -> Response {
    page(
        status,
        "confirm",
        minijinja::context! {
            title => "Confirm your e-mail address",
            message => if owner {
                "Press the button to confirm that this address is yours."
            } else {
                "Enter the password of the account this address belongs to, to confirm that it is yours (or sign in first and open the link again)."
            },
            action => "/verify-email",
            token,
            password => !owner,
            error,
            button => "Confirm my address",
        },
    )
}

/// `GET /verify-email?token=`: a button that verifies (with the account's password field
/// unless the browser is signed in as that account).
pub async fn verify_page(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<TokenQuery>,
) -> Response {
    match state
        .accounts
        .verification_by_owner(&caller, &query.token)
        .await
    {
        Ok(Some(owner)) => verify_form_page(StatusCode::OK, &query.token, owner, ""),
        Ok(None) => verify_dead(),
        Err(err) => err.into_response(),
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /verify-email` (the page's form).
pub async fn verify_form(
    State(state): State<AppState>,
    caller: Caller,
    axum::Form(form): axum::Form<VerifyForm>,
) -> Response {
    match state
        .accounts
        .verify_email(&caller, &form.token, form.password.as_deref())
        .await
    {
        Ok(()) => message(
            StatusCode::OK,
            "Address confirmed",
            "Thank you: your e-mail address is confirmed. Live trading and subscriptions are open to you.",
            true,
            ("/dashboard", "Go to your dashboard"),
        ),
        Err(err) if err.code == ErrorCode::InvalidToken => verify_dead(),
        Err(err)
            if matches!(
                err.code,
                ErrorCode::Unauthenticated | ErrorCode::ValidationFailed | ErrorCode::RateLimited
            ) =>
        {
            let error = err.field("password").unwrap_or(&err.message).to_owned();
            let status =
                StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            verify_form_page(status, &form.token, false, &error)
        }
        Err(err) => err.into_response(),
    }
}

/// `POST /api/auth/verify-email` `{"token"}` (signed in as the account) or
/// `{"token","password"}`: 204; 400 `invalid_token`; 401 without either; 422 for a wrong
/// password.
pub async fn verify_api(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<StatusCode, AppError> {
    state
        .accounts
        .verify_email(&caller, &body.token, body.password.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct VerifyBody {
    token: String,
    #[serde(default)]
    password: Option<String>,
}

/// `POST /api/auth/verify-email/resend`: 202 (a new link is on its way).
pub async fn resend_api(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, AppError> {
    state.accounts.resend_verification(&caller).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /verify-email/resend` (the banner's form).
pub async fn resend_form(State(state): State<AppState>, caller: Caller) -> Response {
    match state.accounts.resend_verification(&caller).await {
        Ok(()) => message(
            StatusCode::OK,
            "Check your inbox",
            "We sent you a new link. It works for 24 hours; check your spam folder if it does not arrive in a few minutes.",
            true,
            if state.demo {
                ("/dev/mailbox", "Open the demo mailbox")
            } else {
                ("/dashboard", "Back to your dashboard")
            },
        ),
        Err(err) if err.code == ErrorCode::Unauthenticated => {
            Redirect::to("/login").into_response()
        }
        Err(err) if err.code == ErrorCode::RateLimited => message(
            StatusCode::TOO_MANY_REQUESTS,
            "Please wait",
            &err.message,
            false,
            ("/dashboard", "Back to your dashboard"),
        ),
        Err(err) => err.into_response(),
    }
}

// ----- Password reset -----

#[derive(Deserialize, schemars::JsonSchema)]
pub struct EmailBody {
    #[serde(default)]
    email: String,
}

/// `POST /api/auth/password-reset` `{"email"}`: 202 whether or not an account has it.
pub async fn reset_request_api(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<(StatusCode, Json<super::openapi::Empty>), AppError> {
    state
        .accounts
        .request_password_reset(&caller, &body.email)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(super::openapi::Empty {})))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ResetBody {
    token: String,
    password: String,
}

/// `POST /api/auth/password-reset/confirm` `{"token","password"}`: 204, 400 `invalid_token`,
/// or 422 for a password the rules refuse.
pub async fn reset_confirm_api(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<StatusCode, AppError> {
    state
        .accounts
        .confirm_password_reset(&caller, &body.token, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /forgot-password`.
pub async fn forgot_page(State(state): State<AppState>) -> Response {
    forgot(StatusCode::OK, state.demo, false, "", "")
}

fn forgot(status: StatusCode, demo: bool, sent: bool, email: &str, error: &str) -> Response {
    page(
        status,
        "forgot",
        minijinja::context! { title => "Forgot your password?", demo, sent, email, error },
    )
}

/// `POST /forgot-password`.
pub async fn forgot_form(
    State(state): State<AppState>,
    caller: Caller,
    axum::Form(form): axum::Form<EmailBody>,
) -> Response {
    match state
        .accounts
        .request_password_reset(&caller, &form.email)
        .await
    {
        Ok(()) => forgot(StatusCode::OK, state.demo, true, "", ""),
        Err(err) if err.code == ErrorCode::ValidationFailed => forgot(
            StatusCode::UNPROCESSABLE_ENTITY,
            state.demo,
            false,
            &form.email,
            err.field("email").unwrap_or(&err.message),
        ),
        Err(err) if err.code == ErrorCode::RateLimited => forgot(
            StatusCode::TOO_MANY_REQUESTS,
            state.demo,
            false,
            &form.email,
            &err.message,
        ),
        Err(err) => err.into_response(),
    }
}

fn reset_form_page(status: StatusCode, token: &str, error: &str) -> Response {
    page(
        status,
        "reset",
        minijinja::context! {
            title => "Choose a new password",
            token, error,
            min_chars => app::domain::account::PASSWORD_MIN_CHARS,
        },
    )
}

fn reset_link_dead() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "This reset link was used already, has expired (links work for an hour), or is not one of ours. Ask for a new one.",
        false,
        ("/forgot-password", "Send a new link"),
    )
}

/// `GET /reset-password?token=`: the new password form, if the token still works.
pub async fn reset_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let usable = state
        .db
        .token_usable(
            &crate::mail::token_hash(&query.token),
            "reset",
            state.mail.now(),
        )
        .await;
    match usable {
        Ok(true) => reset_form_page(StatusCode::OK, &query.token, ""),
        Ok(false) => reset_link_dead(),
        Err(err) => crate::errors::internal(err).into_response(),
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

/// `POST /reset-password`.
pub async fn reset_form(
    State(state): State<AppState>,
    caller: Caller,
    axum::Form(form): axum::Form<ResetForm>,
) -> Response {
    match state
        .accounts
        .confirm_password_reset(&caller, &form.token, &form.password)
        .await
    {
        Ok(()) => message(
            StatusCode::OK,
            "Password changed",
            "Your new password is saved, and every device that was signed in is signed out. Sign in with the new password.",
            true,
            ("/login", "Sign in"),
        ),
        Err(err) if err.code == ErrorCode::InvalidToken => reset_link_dead(),
        Err(err) if err.code == ErrorCode::ValidationFailed => reset_form_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form.token,
            err.field("password").unwrap_or(&err.message),
        ),
        Err(err) => err.into_response(),
    }
}

// ----- Notifications -----

/// `GET`/`PUT /api/notifications` `{"purchases","failures","funds","weekly"}`: what the
/// user wants to hear about.
pub async fn prefs_api(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<NotifyPrefs>, AppError> {
    Ok(Json(state.accounts.notify_prefs(&caller).await?))
}

pub async fn save_prefs_api(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(prefs): JsonBody<NotifyPrefs>,
) -> Result<Json<NotifyPrefs>, AppError> {
    Ok(Json(state.accounts.set_notify_prefs(&caller, prefs).await?))
}

/// `POST /settings/notifications` (the Settings page's form: a ticked box is present).
pub async fn prefs_form(
    State(state): State<AppState>,
    caller: Caller,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let mut prefs = NotifyPrefs {
        purchases: false,
        failures: false,
        funds: false,
        weekly: false,
    };
    for topic in crate::mail::notify::TOPICS {
        prefs.set(topic, pairs.iter().any(|(key, _)| key == topic));
    }
    state.accounts.set_notify_prefs(&caller, prefs).await?;
    Ok(Redirect::to("/settings?notifications=saved"))
}

/// `GET /unsubscribe?token=`: a button that turns the topic off.
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Response {
    match state.mail.check_unsubscribe(&query.token) {
        Some((_, topic)) => page(
            StatusCode::OK,
            "confirm",
            minijinja::context! {
                title => "Stop these e-mails?",
                message => format!("You will no longer get e-mails about {}. You can turn them on again in Settings.", topic_words(&topic)),
                action => format!("/unsubscribe?token={}", query.token),
                token => query.token,
                button => "Unsubscribe",
            },
        ),
        None => unsubscribe_dead(),
    }
}

fn unsubscribe_dead() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "This unsubscribe link is not one of ours. Choose which e-mails you get in Settings.",
        false,
        ("/settings", "Open Settings"),
    )
}

/// `POST /unsubscribe?token=`: the page's button, or a mail client's one-click unsubscribe
/// (RFC 8058: `List-Unsubscribe=One-Click` in the body, the token in the link).
pub async fn unsubscribe(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    body: axum::body::Bytes,
) -> Response {
    // The page's form sends `token=…`; a one-click POST sends `List-Unsubscribe=One-Click`.
    let token = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.into_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or(query.token);
    match state.accounts.unsubscribe(&token).await {
        Ok(topic) => message(
            StatusCode::OK,
            "Unsubscribed",
            &format!(
                "Done: no more e-mails about {}. You can turn them on again in Settings.",
                topic_words(&topic)
            ),
            true,
            ("/settings", "Open Settings"),
        ),
        Err(err) if err.code == ErrorCode::InvalidToken => unsubscribe_dead(),
        Err(err) => err.into_response(),
    }
}

// ----- The demo mailbox -----

/// `GET /dev/mailbox`: demo mode only, and only to a browser on this machine: the peer is
/// loopback, nothing says a proxy passed the request on (a proxy on this machine is on
/// loopback too; with `trust_forwarded_for` the server is behind one, so never), and the
/// `Host` is a loopback name (a page of another site, its name rebound to 127.0.0.1, does
/// not get to read it).
pub async fn mailbox(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let proxied = state.forwarded_hops.is_some()
        || ["x-forwarded-for", "forwarded", "x-real-ip"]
            .iter()
            .any(|name| headers.contains_key(*name));
    let local_name = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| url::Url::parse(&format!("http://{h}")).ok())
        .is_some_and(|u| crate::mail::is_loopback_host(u.host()));
    if !state.demo || !peer.ip().is_loopback() || proxied || !local_name {
        return AppError::not_found("This page").into_response();
    }
    let messages = match state.db.mailbox(MAILBOX_LIMIT).await {
        Ok(messages) => messages,
        Err(err) => return crate::errors::internal(err).into_response(),
    };
    let messages: Vec<_> = messages
        .into_iter()
        .map(|m| {
            minijinja::context! {
                to_addr => m.to_addr,
                subject => m.subject,
                at => crate::mail::notify::local_time(m.created_at, "UTC"),
                links => links_in(&m.text_body),
                text_body => m.text_body,
            }
        })
        .collect();
    page(
        StatusCode::OK,
        "mailbox",
        minijinja::context! { title => "Demo mailbox", wide => true, messages, limit => MAILBOX_LIMIT },
    )
}

/// The http(s) links in a text.
fn links_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(|word| word.trim_end_matches(['.', ',', ')']).to_owned())
        .collect()
}

// ----- The admins' SMTP settings -----

#[derive(Deserialize)]
pub struct MailSettingsForm {
    #[serde(default)]
    smtp_url: String,
    #[serde(default)]
    smtp_password: String,
    /// Present when the admin ticked "remove the saved password".
    #[serde(default)]
    clear_password: Option<String>,
    #[serde(default)]
    mail_from: String,
}

/// `POST /admin/settings/mail`: saves the SMTP settings (the password sealed), then sends
/// the browser back to `/admin/settings?mail=saved`, or `?mail_field=<field>`.
pub async fn save_mail_settings(
    State(state): State<AppState>,
    caller: Caller,
    axum::Form(form): axum::Form<MailSettingsForm>,
) -> Result<Redirect, AppError> {
    let admin = state.accounts.require_admin(&caller).await?;
    let password = if form.clear_password.is_some() {
        Some("")
    } else if form.smtp_password.is_empty() {
        None
    } else {
        Some(form.smtp_password.as_str())
    };
    let saved = match state
        .mail
        .save_settings(&form.smtp_url, password, &form.mail_from)
        .await
    {
        Ok(saved) => saved,
        Err(fields) => {
            let field = fields.keys().next().cloned().unwrap_or_default();
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("mail_field", &field)
                .finish();
            return Ok(Redirect::to(&format!("/admin/settings?{query}")));
        }
    };
    let now = state.mail.now();
    let value = serde_json::to_string(&saved).map_err(crate::errors::internal)?;
    let ip = caller.ip.to_string();
    state
        .db
        .save_platform_settings(
            &[(crate::mail::SETTINGS_KEY, value)],
            &admin.id,
            now,
            crate::db::audit::AuditEntry {
                at: app::domain::time::Timestamp::from_millis(now),
                actor_user_id: Some(&admin.id),
                action: crate::db::audit::AuditAction::SettingsChanged,
                subject: Some("mail"),
                ip: Some(ip),
                // Never the password, sealed or not.
                detail: serde_json::json!({
                    "smtp_url": saved.smtp_url,
                    "password": saved.password.is_some(),
                    "from": saved.from,
                }),
            },
        )
        .await
        .map_err(crate::errors::internal)?;
    Ok(Redirect::to("/admin/settings?mail=saved"))
}

#[derive(Deserialize)]
pub struct TestMailForm {
    #[serde(default)]
    to: String,
}

/// `POST /admin/settings/mail/test`: sends a test e-mail now and says how it went.
pub async fn send_test_mail(
    State(state): State<AppState>,
    caller: Caller,
    axum::Form(form): axum::Form<TestMailForm>,
) -> Result<Response, AppError> {
    let admin = state.accounts.require_admin(&caller).await?;
    let to = if form.to.trim().is_empty() {
        admin.email.clone()
    } else {
        match app::domain::account::Email::parse(&form.to) {
            Ok(email) => email.as_str().to_owned(),
            Err(m) => {
                return Ok(message(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Test e-mail not sent",
                    &m,
                    false,
                    ("/admin/settings", "Back to the settings"),
                ));
            }
        }
    };
    Ok(match state.mail.send_test(&to).await {
        Ok(transport) => message(
            StatusCode::OK,
            "Test e-mail sent",
            &format!("Sent to {to} through {transport}."),
            true,
            ("/admin/settings", "Back to the settings"),
        ),
        Err(err) => message(
            StatusCode::BAD_GATEWAY,
            "Test e-mail not sent",
            &format!("Sending to {to} failed: {err:#}"),
            false,
            ("/admin/settings", "Back to the settings"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::links_in;

    #[test]
    fn finds_the_links_of_a_text() {
        assert_eq!(
            links_in("Open http://a/b?token=x.\nOr https://c/d, then (http://e)"),
            vec!["http://a/b?token=x", "https://c/d"]
        );
    }
}
