//! The account flows that go through e-mail: verifying the address, resetting a forgotten
//! password, and the notification choices (Settings, and unsubscribe links).

use super::{AccountService, hashing, password};
use crate::db::audit::{AuditAction, AuditEntry};
use crate::db::mail::NotifyPrefs;
use crate::db::users::UserRecord;
use crate::errors::internal;
use crate::mail::{MailService, kind, new_token, token_hash};
use app::api::ports::Caller;
use app::api::{AppError, ErrorCode};
use app::domain::account::{Email, NewPassword};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Verification e-mails a user may ask for again per hour.
const RESENDS_PER_HOUR: u32 = 3;
/// Reset e-mails one address may be sent per hour.
const RESETS_PER_ADDRESS_HOUR: u32 = 3;
/// Reset requests one client address may make per hour.
const RESETS_PER_IP_HOUR: u32 = 20;

pub fn invalid_token() -> AppError {
    AppError::new(
        ErrorCode::InvalidToken,
        "This link was used already, has expired, or is not one of ours. Ask for a new one.",
    )
}

pub fn unverified() -> AppError {
    AppError::new(
        ErrorCode::EmailUnverified,
        "Confirm your e-mail address first: open the link we sent you (or send a new one \
         from the banner at the top of the page).",
    )
}

impl AccountService {
    pub fn with_mail(mut self, mail: Arc<MailService>) -> Self {
        self.mail = Some(mail);
        self
    }

    pub fn mail(&self) -> Option<&Arc<MailService>> {
        self.mail.as_ref()
    }

    /// Errors unless the user has verified their address (live keys, subscriptions).
    pub fn require_verified(&self, user: &UserRecord) -> Result<(), AppError> {
        if user.email_verified_at.is_some() {
            Ok(())
        } else {
            Err(unverified())
        }
    }

    /// Inserts a signed-up user with their verification e-mail in one transaction.
    pub(super) async fn insert_with_verification(
        &self,
        email: &Email,
        hash: &str,
    ) -> Result<UserRecord, AppError> {
        let role = app::domain::account::Role::Subscriber;
        let now = self.clock.now();
        let Some(mail) = &self.mail else {
            return self.insert(email, hash, role, now).await;
        };
        let (token, digest) = new_token();
        let make = |user_id: &str| {
            mail.token_mail(kind::VERIFY, user_id, &token, now.millis())
                .map_err(|err| sqlx::Error::Protocol(err.to_string()))
        };
        let user = self
            .db
            .insert_user_then(
                email,
                hash,
                role,
                now,
                Some(crate::db::users::Verification {
                    token_hash: &digest,
                    mail: &make,
                }),
            )
            .await
            .map_err(|err| match err {
                crate::db::users::InsertUserError::EmailTaken => super::email_taken(),
                crate::db::users::InsertUserError::Database(err) => internal(err),
            })?;
        mail.wake();
        Ok(user)
    }

    /// Writes a single-use token and its e-mail in one transaction.
    async fn send_token(
        &self,
        user: &UserRecord,
        purpose: &'static str,
        ttl_ms: i64,
    ) -> Result<(), AppError> {
        let Some(mail) = &self.mail else {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "E-mail is not set up on this server.",
            ));
        };
        let now = self.clock.now().millis();
        let (token, digest) = new_token();
        let message = mail
            .token_mail(purpose, &user.id, &token, now)
            .map_err(internal)?;
        let token = crate::db::mail::NewToken {
            hash: &digest,
            user_id: &user.id,
            purpose,
            email: &user.email,
            ttl_ms,
        };
        let mut tx = self.db.pool().begin().await.map_err(internal)?;
        crate::db::mail::insert_token_mail(&mut tx, token, &message, now)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        mail.wake();
        Ok(())
    }

    /// `POST /api/auth/verify-email/resend`: a new verification link for the signed-in
    /// user (at most [`RESENDS_PER_HOUR`] an hour).
    pub async fn resend_verification(&self, caller: &Caller) -> Result<(), AppError> {
        let user = self.require_user(caller).await?;
        if user.email_verified_at.is_some() {
            return Ok(());
        }
        let used = self
            .reserve_hourly(
                &format!("verify_resend:{}", user.id),
                RESENDS_PER_HOUR,
                "We sent several links in the last hour already. Please check your inbox and \
                 spam folder, or try again later.",
            )
            .await?;
        if let Err(err) = self
            .send_token(&user, kind::VERIFY, crate::mail::VERIFY_TTL_MS)
            .await
        {
            self.release_hourly(&used).await?;
            return Err(err);
        }
        Ok(())
    }

    /// Whether `caller` is signed in as the account a usable verification token is for
    /// (`None`: the token is used, expired or unknown). Anyone else confirms with the
    /// account's password.
    pub async fn verification_by_owner(
        &self,
        caller: &Caller,
        token: &str,
    ) -> Result<Option<bool>, AppError> {
        let now = self.clock.now().millis();
        let Some((user_id, _)) = self
            .db
            .token_user(&token_hash(token), "verify", now)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        let session = self.session_user(caller).await?;
        Ok(Some(session.is_some_and(|u| u.id == user_id)))
    }

    /// Verifies the address a verification token was sent to, when the account's owner
    /// confirms: signed in as that account, or with its `password`. (Whoever registered an
    /// address could otherwise have its real owner confirm it for them by pressing the
    /// button in the e-mail, and with `admin_email` become admin.) Makes the configured
    /// admin address an admin once verified.
    pub async fn verify_email(
        &self,
        caller: &Caller,
        token: &str,
        password: Option<&str>,
    ) -> Result<(), AppError> {
        let digest = token_hash(token);
        let now = self.clock.now();
        let Some((user_id, _)) = self
            .db
            .token_user(&digest, "verify", now.millis())
            .await
            .map_err(internal)?
        else {
            return Err(invalid_token());
        };
        let owner = self
            .session_user(caller)
            .await?
            .is_some_and(|u| u.id == user_id);
        if !owner {
            let Some(password) = password.filter(|p| !p.is_empty()) else {
                return Err(AppError::new(
                    ErrorCode::Unauthenticated,
                    "Sign in to confirm your address, or enter the account's password.",
                ));
            };
            let user = self
                .db
                .user_by_id(&user_id)
                .await
                .map_err(internal)?
                .ok_or_else(invalid_token)?;
            self.check_password(
                caller,
                &user,
                password.to_owned(),
                ("password", "That is not the account's password."),
            )
            .await?;
        }
        let mut tx = self.db.pool().begin().await.map_err(internal)?;
        let used = crate::db::mail::use_token(&mut tx, &digest, "verify", now.millis())
            .await
            .map_err(internal)?;
        let Some((user_id, email)) = used else {
            return Err(invalid_token());
        };
        let user = self.db.user_by_id(&user_id).await.map_err(internal)?;
        // A link to an address the account no longer has proves nothing.
        if user.as_ref().is_none_or(|u| u.email != email) {
            return Err(invalid_token());
        }
        crate::db::Db::mark_verified(&mut tx, &user_id, now.millis())
            .await
            .map_err(internal)?;
        crate::db::audit::insert_audit(
            &mut *tx,
            AuditEntry {
                at: now,
                actor_user_id: Some(&user_id),
                action: AuditAction::EmailVerified,
                subject: Some(&email),
                ip: Some(caller.ip.to_string()),
                detail: serde_json::json!({}),
            },
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.promote_configured_admin().await.map_err(internal)?;
        Ok(())
    }

    /// `POST /api/auth/password-reset`: sends a reset link if an account has this address.
    /// The answer is the same, and as quick, whether or not one has: the lookup and the
    /// e-mail happen after it. Limited per address and per client address.
    pub async fn request_password_reset(
        &self,
        caller: &Caller,
        email: &str,
    ) -> Result<(), AppError> {
        let email = Email::parse(email)
            .map_err(|m| AppError::invalid_fields(BTreeMap::from([("email".to_string(), m)])))?;
        let busy = "Too many password reset requests. Please wait an hour and try again.";
        let by_ip = self
            .reserve_hourly(&format!("reset_ip:{}", caller.ip), RESETS_PER_IP_HOUR, busy)
            .await?;
        let by_address = match self
            .reserve_hourly(
                &format!("reset_address:{email}"),
                RESETS_PER_ADDRESS_HOUR,
                busy,
            )
            .await
        {
            Ok(used) => used,
            Err(err) => {
                self.release_hourly(&by_ip).await?;
                return Err(err);
            }
        };
        // The same work whatever the address: one outbox row, written before the answer
        // (so it survives a crash); the sender looks the account up.
        let written = match &self.mail {
            Some(mail) => mail
                .reset_request(&email, &caller.ip.to_string())
                .map_err(internal),
            None => Err(AppError::new(
                ErrorCode::Conflict,
                "E-mail is not set up on this server.",
            )),
        };
        let written = match written {
            Ok(row) => self
                .db
                .enqueue_mail(&row, self.clock.now().millis())
                .await
                .map_err(internal),
            Err(err) => Err(err),
        };
        if let Err(err) = written {
            self.release_hourly(&by_ip).await?;
            self.release_hourly(&by_address).await?;
            return Err(err);
        }
        if let Some(mail) = &self.mail {
            mail.wake();
        }
        Ok(())
    }

    /// `POST /api/auth/password-reset/confirm`: sets a new password with a reset token,
    /// ends every session of the user, and counts the address as verified (the link
    /// reached it).
    pub async fn confirm_password_reset(
        &self,
        caller: &Caller,
        token: &str,
        new_password: &str,
    ) -> Result<(), AppError> {
        let new = NewPassword::parse(new_password)
            .map_err(|m| AppError::invalid_fields(BTreeMap::from([("password".to_string(), m)])))?;
        let digest = token_hash(token);
        let now = self.clock.now();
        // A cheap look first: a made-up token costs no password hash.
        if !self
            .db
            .token_usable(&digest, "reset", now.millis())
            .await
            .map_err(internal)?
        {
            return Err(invalid_token());
        }
        let hash = password::hash(&self.hashers, new.expose().to_owned())
            .await
            .map_err(hashing)?;
        let mut tx = self.db.pool().begin().await.map_err(internal)?;
        let used = crate::db::mail::use_token(&mut tx, &digest, "reset", now.millis())
            .await
            .map_err(internal)?;
        let Some((user_id, email)) = used else {
            return Err(invalid_token());
        };
        sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND email = $4",
        )
        .bind(&hash)
        .bind(now.millis())
        .bind(&user_id)
        .bind(&email)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        crate::db::Db::mark_verified(&mut tx, &user_id, now.millis())
            .await
            .map_err(internal)?;
        // Other reset links sent before are worthless now.
        crate::db::mail::retire_tokens(&mut *tx, &user_id, "reset", now.millis())
            .await
            .map_err(internal)?;
        crate::db::admin::delete_sessions_of(&mut *tx, &user_id)
            .await
            .map_err(internal)?;
        crate::db::audit::insert_audit(
            &mut *tx,
            AuditEntry {
                at: now,
                actor_user_id: Some(&user_id),
                action: AuditAction::PasswordReset,
                subject: Some(&email),
                ip: Some(caller.ip.to_string()),
                detail: serde_json::json!({}),
            },
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        // Open live sockets of the ended sessions close.
        self.events.sessions_changed(&user_id).await;
        Ok(())
    }

    /// The Settings page's e-mail choices, as a plain HTML form.
    pub(super) async fn notifications_form(&self, user: &UserRecord) -> Result<String, AppError> {
        let prefs = self
            .db
            .notify_prefs(&user.id)
            .await
            .map_err(internal)?
            .ok_or_else(AppError::unauthenticated)?;
        let topics: Vec<_> = crate::mail::notify::TOPICS
            .into_iter()
            .map(|name| (name, prefs.wants(name)))
            .map(|(name, on)| {
                let label = topic_words(name);
                let mut label = label.to_owned();
                label[..1].make_ascii_uppercase();
                minijinja::context! { name, on, label }
            })
            .collect();
        crate::mail::templates::render(
            "settings/notifications.html",
            minijinja::context! {
                email => &user.email,
                verified => user.email_verified_at.is_some(),
                topics,
            },
        )
        .map_err(internal)
    }

    pub async fn notify_prefs(&self, caller: &Caller) -> Result<NotifyPrefs, AppError> {
        let user = self.require_user(caller).await?;
        self.db
            .notify_prefs(&user.id)
            .await
            .map_err(internal)?
            .ok_or_else(AppError::unauthenticated)
    }

    pub async fn set_notify_prefs(
        &self,
        caller: &Caller,
        prefs: NotifyPrefs,
    ) -> Result<NotifyPrefs, AppError> {
        let user = self.require_user(caller).await?;
        self.db
            .set_notify_prefs(&user.id, prefs, self.clock.now().millis())
            .await
            .map_err(internal)?;
        Ok(prefs)
    }

    /// Turns off the topic of a signed unsubscribe token. Returns the topic.
    pub async fn unsubscribe(&self, token: &str) -> Result<String, AppError> {
        let mail = self.mail.as_ref().ok_or_else(invalid_token)?;
        let (user_id, topic) = mail.check_unsubscribe(token).ok_or_else(invalid_token)?;
        let mut prefs = self
            .db
            .notify_prefs(&user_id)
            .await
            .map_err(internal)?
            .ok_or_else(invalid_token)?;
        prefs.set(&topic, false);
        self.db
            .set_notify_prefs(&user_id, prefs, self.clock.now().millis())
            .await
            .map_err(internal)?;
        Ok(topic)
    }
}

/// What each topic is, in the words Settings and the unsubscribe page use.
pub fn topic_words(topic: &str) -> &'static str {
    match topic {
        "purchases" => "a summary after each purchase",
        "failures" => "failed or missed purchases",
        "funds" => "not enough buying power a day ahead",
        _ => "the weekly summary",
    }
}
