//! Accounts: sign-up, sign-in (rate-limited), sign-out, the current user, and the role
//! checks every other feature relies on. Implements `app`'s `AccountPort`.

pub mod agent;
pub mod email;
pub mod password;

use crate::db::Db;
use crate::db::audit::{AuditAction, AuditEntry};
use crate::db::sessions::{
    AGENT_KEY, CREATED_AT_KEY, HANDLE_KEY, IP_KEY, SEEN_AT_KEY, USER_ID_KEY, new_handle,
};
use crate::db::users::{InsertUserError, UserRecord};
use crate::errors::internal;
use app::api::AppError;
use app::api::ErrorCode;
use app::api::auth::{Credentials, Profile, SessionView, UserView};
use app::api::ports::{AccountPort, Caller};
use app::domain::account::{Email, NewPassword, Role};
use app::domain::tier::Tier;
use app::domain::time::{Clock, Timestamp};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Extend an active session, and note it as seen, at most this often (each is one write).
const EXTEND_EVERY_MS: i64 = 5 * 60 * 1_000;

/// Limits on failed sign-ins, per account and per client address, and on sign-ups per
/// client address.
#[derive(Clone, Copy, Debug)]
pub struct SignInPolicy {
    pub max_failures: u32,
    pub window_minutes: u32,
    pub sign_ups_per_hour: u32,
}

/// One use counted against an hourly limit, in the clock hour it was counted in.
pub struct HourlyUse {
    key: String,
    window_start: i64,
}

/// Attempts reserved for one sign-in (or password check): given back if it succeeds.
struct Reservation {
    keys: [String; 2],
    window_start: i64,
}

fn email_taken() -> AppError {
    AppError {
        code: ErrorCode::EmailTaken,
        message: "An account with this e-mail address exists already.".into(),
        fields: BTreeMap::from([(
            "email".into(),
            "This e-mail address is already registered. Sign in instead?".into(),
        )]),
        request_id: None,
    }
}

/// What the hashing limit means for the person waiting.
fn hashing(err: password::HashError) -> AppError {
    match err {
        password::HashError::Busy => AppError::new(
            ErrorCode::Busy,
            "Too many people are signing in right now. Please try again in a moment.",
        ),
        password::HashError::Failed(err) => internal(err),
    }
}

pub struct AccountService {
    db: Db,
    clock: Arc<dyn Clock>,
    policy: SignInPolicy,
    admin_email: Option<Email>,
    hashers: password::Hashers,
    /// Announces ended sessions, so their live sockets close.
    events: crate::events::EventBus,
    /// Counts refused sign-ins (`/metrics`).
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// The announcement every signed-in user sees.
    settings: crate::settings::LiveSettings,
    /// Verification and reset e-mails (none: the flows that need them are refused).
    mail: Option<Arc<crate::mail::MailService>>,
}

fn view(user: &UserRecord) -> UserView {
    UserView {
        id: user.id.clone(),
        email: user.email.clone(),
        role: user.role,
        timezone: user.timezone.clone(),
        unread_notes: false,
        announcement: String::new(),
        email_verified: user.email_verified_at.is_some(),
    }
}

impl AccountService {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        policy: SignInPolicy,
        admin_email: Option<Email>,
        events: crate::events::EventBus,
    ) -> Self {
        Self {
            db,
            clock,
            policy,
            admin_email,
            hashers: password::Hashers::default(),
            events,
            metrics: None,
            settings: crate::settings::LiveSettings::default(),
            mail: None,
        }
    }

    /// Tells signed-in users the announcement in `settings`.
    pub fn with_settings(mut self, settings: crate::settings::LiveSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Counts refused sign-ins in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    async fn audit(
        &self,
        caller: &Caller,
        action: AuditAction,
        actor: Option<&str>,
        subject: Option<&str>,
    ) -> Result<(), AppError> {
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: actor,
                action,
                subject,
                ip: Some(caller.ip.to_string()),
                detail: serde_json::json!({}),
            })
            .await
            .map_err(internal)
    }

    /// Starts a fresh session for `user`: a new id (no fixation), then the user's id in it,
    /// and what the list of their sessions shows (a handle, when, where from, which browser).
    async fn start_session(&self, caller: &Caller, user: &UserRecord) -> Result<(), AppError> {
        let session = &caller.session;
        session.cycle_id().await.map_err(internal)?;
        let now = self.clock.now().millis();
        session
            .insert(USER_ID_KEY, &user.id)
            .await
            .map_err(internal)?;
        session.insert(SEEN_AT_KEY, now).await.map_err(internal)?;
        session
            .insert(CREATED_AT_KEY, now)
            .await
            .map_err(internal)?;
        session
            .insert(HANDLE_KEY, new_handle())
            .await
            .map_err(internal)?;
        session
            .insert(IP_KEY, caller.ip.to_string())
            .await
            .map_err(internal)?;
        match &caller.user_agent {
            Some(agent) => session.insert(AGENT_KEY, agent).await.map(|_| ()),
            // Not the browser a previous sign-in on this session named.
            None => session.remove::<String>(AGENT_KEY).await.map(|_| ()),
        }
        .map_err(internal)?;
        Ok(())
    }

    /// The signed-in user, read fresh from the database (so a role change applies at once).
    pub async fn session_user(&self, caller: &Caller) -> Result<Option<UserRecord>, AppError> {
        let Some(user_id) = caller
            .session
            .get::<String>(USER_ID_KEY)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        let user = self.db.user_by_id(&user_id).await.map_err(internal)?;
        // A disabled account's sessions were ended when it was disabled; one that was
        // being created just then ends here.
        let user = user.filter(|u| u.disabled_at.is_none());
        if user.is_none() {
            // The account is gone: end the session instead of failing every request.
            caller.session.flush().await.map_err(internal)?;
        } else {
            // A session from before handles existed gets one on its next use, so it shows
            // in its user's list and can be ended alone.
            let handle: Option<String> = caller.session.get(HANDLE_KEY).await.map_err(internal)?;
            if handle.is_none() {
                caller
                    .session
                    .insert(HANDLE_KEY, new_handle())
                    .await
                    .map_err(internal)?;
            }
        }
        Ok(user)
    }

    pub async fn require_user(&self, caller: &Caller) -> Result<UserRecord, AppError> {
        self.session_user(caller)
            .await?
            .ok_or_else(AppError::unauthenticated)
    }

    pub async fn require_admin(&self, caller: &Caller) -> Result<UserRecord, AppError> {
        let user = self.require_user(caller).await?;
        if user.role.is_admin() {
            Ok(user)
        } else {
            Err(AppError::forbidden())
        }
    }

    /// The fixed window of `minutes` that holds now.
    fn window_start(&self, minutes: u32) -> i64 {
        let now = self.clock.now().millis();
        let length = i64::from(minutes.max(1)) * 60_000;
        now - now.rem_euclid(length)
    }

    /// Reserves one attempt against this account and this address before the password is
    /// checked (atomically, so parallel guesses are counted one by one); refuses it when
    /// either has used up its failures in the window. A block is audited once per key
    /// and window, not once per request.
    async fn reserve_attempt(&self, caller: &Caller, email: &str) -> Result<Reservation, AppError> {
        let window_start = self.window_start(self.policy.window_minutes);
        // The address first: an address that is blocked never counts against the account
        // it names (or one address could lock anyone out); an attempt refused for the
        // account gives the address's reservation back.
        let keys = [format!("ip:{}", caller.ip), format!("account:{email}")];
        let max = i64::from(self.policy.max_failures);
        let mut reserved = Vec::new();
        let mut blocked = false;
        for key in &keys {
            let attempts = self
                .db
                .reserve_attempt(key, window_start)
                .await
                .map_err(internal)?;
            if attempts > max {
                blocked = true;
                self.db
                    .release_attempt(key, window_start)
                    .await
                    .map_err(internal)?;
                if self
                    .db
                    .first_block(key, window_start)
                    .await
                    .map_err(internal)?
                {
                    self.audit(caller, AuditAction::SignInBlocked, None, Some(email))
                        .await?;
                }
                break;
            }
            reserved.push(key);
        }
        if blocked {
            for key in reserved {
                self.db
                    .release_attempt(key, window_start)
                    .await
                    .map_err(internal)?;
            }
            return Err(AppError::new(
                ErrorCode::RateLimited,
                format!(
                    "Too many failed sign-in attempts. Please wait {} minutes and try again.",
                    self.policy.window_minutes
                ),
            ));
        }
        Ok(Reservation { keys, window_start })
    }

    /// Checks `password` against `user`'s; a wrong one is refused naming `field` with its
    /// message. Wrong guesses count like failed sign-ins (per account and address), so no
    /// form that asks for the password can be used to guess it.
    async fn check_password(
        &self,
        caller: &Caller,
        user: &UserRecord,
        password: String,
        (field, message): (&str, &str),
    ) -> Result<(), AppError> {
        let reservation = self.reserve_attempt(caller, &user.email).await?;
        match password::verify(&self.hashers, password, Some(user.password_hash.clone())).await {
            Ok(true) => self.release(&reservation).await,
            Ok(false) => {
                self.audit(
                    caller,
                    AuditAction::SignInFailed,
                    Some(&user.id),
                    Some(&user.email),
                )
                .await?;
                Err(AppError::invalid_fields(BTreeMap::from([(
                    field.to_string(),
                    message.to_string(),
                )])))
            }
            Err(err) => {
                self.release(&reservation).await?;
                Err(hashing(err))
            }
        }
    }

    /// Gives back the attempts of a check that succeeded.
    async fn release(&self, reservation: &Reservation) -> Result<(), AppError> {
        for key in &reservation.keys {
            self.db
                .release_attempt(key, reservation.window_start)
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    /// Counts one use of `key` in the current clock hour; refuses it (with `message`) past
    /// `per_hour`, without counting it. Atomic across instances. Returns the hour it was
    /// counted in, for [`Self::release_hourly`].
    pub async fn reserve_hourly(
        &self,
        key: &str,
        per_hour: u32,
        message: &str,
    ) -> Result<HourlyUse, AppError> {
        let window_start = self.window_start(60);
        let attempts = self
            .db
            .reserve_attempt(key, window_start)
            .await
            .map_err(internal)?;
        if attempts > i64::from(per_hour) {
            // Refused uses do not count: the limit stays exactly at its number.
            self.db
                .release_attempt(key, window_start)
                .await
                .map_err(internal)?;
            return Err(AppError::new(ErrorCode::RateLimited, message));
        }
        Ok(HourlyUse {
            key: key.to_owned(),
            window_start,
        })
    }

    /// Gives back a use counted by [`Self::reserve_hourly`] (the action it was for did
    /// nothing), in the hour it was counted in.
    pub async fn release_hourly(&self, used: &HourlyUse) -> Result<(), AppError> {
        self.db
            .release_attempt(&used.key, used.window_start)
            .await
            .map_err(internal)
    }

    /// Counts a sign-up from this address; refuses it past `sign_ups_per_hour`.
    async fn reserve_sign_up(&self, caller: &Caller) -> Result<(), AppError> {
        self.reserve_hourly(
            &format!("sign_up:{}", caller.ip),
            self.policy.sign_ups_per_hour,
            "Too many accounts were created from this address. Please try again later.",
        )
        .await
        .map(drop)
    }

    /// Forgets attempt windows older than a day (run with the hourly clean-up).
    pub async fn prune_attempts(&self) -> anyhow::Result<u64> {
        let day_ago = self.clock.now().millis() - 86_400_000;
        Ok(self.db.prune_attempts(day_ago).await?)
    }

    /// Makes the configured admin address an admin, if that account exists and has
    /// verified its address. Signing up never makes an admin: whoever registered the
    /// address first would get the platform. Until addresses are verified, admins come
    /// from `quantshift user create --admin` and `quantshift user promote`.
    pub async fn promote_configured_admin(&self) -> anyhow::Result<()> {
        let Some(email) = &self.admin_email else {
            return Ok(());
        };
        let Some(user) = self.db.user_by_email(email).await? else {
            return Ok(());
        };
        if user.role == Role::Admin {
            return Ok(());
        }
        if user.email_verified_at.is_none() {
            tracing::warn!(
                email = %email,
                "admin_email names an account whose address is not verified, so it stays a \
                 subscriber; make it an admin with `quantshift user promote {email}`"
            );
            return Ok(());
        }
        self.set_admin(email, "admin_email setting").await?;
        tracing::info!(email = %email, "promoted the configured admin");
        Ok(())
    }

    /// Makes an existing user an admin (from the command line). Errors if there is none.
    pub async fn promote(&self, email: &str) -> Result<UserView, AppError> {
        let email = Email::parse(email)
            .map_err(|m| AppError::invalid_fields(BTreeMap::from([("email".to_string(), m)])))?;
        let user = self
            .db
            .user_by_email(&email)
            .await
            .map_err(internal)?
            .ok_or_else(|| AppError::not_found(&format!("A user with the address {email}")))?;
        if user.role != Role::Admin {
            self.set_admin(&email, "cli").await.map_err(internal)?;
        }
        Ok(UserView {
            role: Role::Admin,
            ..view(&user)
        })
    }

    /// Sets a user's subscription tier (from the command line: a complimentary account,
    /// or a self-hosted install with billing on and no Stripe). Errors if there is none.
    pub async fn set_tier(&self, email: &str, tier: &str) -> Result<UserView, AppError> {
        let email = Email::parse(email)
            .map_err(|m| AppError::invalid_fields(BTreeMap::from([("email".to_string(), m)])))?;
        let tier = Tier::parse(tier).ok_or_else(|| {
            AppError::invalid_fields(BTreeMap::from([(
                "tier".to_string(),
                "Choose free, basic, pro or premium.".to_string(),
            )]))
        })?;
        let audit = AuditEntry {
            at: self.clock.now(),
            actor_user_id: None,
            action: AuditAction::TierChanged,
            subject: Some(email.as_str()),
            ip: None,
            detail: serde_json::json!({"tier": tier.as_str(), "by": "cli"}),
        };
        if !self
            .db
            .set_user_tier(&email, tier, audit)
            .await
            .map_err(internal)?
        {
            return Err(AppError::not_found(&format!(
                "A user with the address {email}"
            )));
        }
        let user = self.db.user_by_email(&email).await.map_err(internal)?;
        let user = user.ok_or_else(|| AppError::not_found("The user"))?;
        Ok(view(&user))
    }

    async fn set_admin(&self, email: &Email, by: &str) -> Result<(), sqlx::Error> {
        self.db
            .set_user_role(email, Role::Admin, self.clock.now())
            .await?;
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: None,
                action: AuditAction::RoleChanged,
                subject: Some(email.as_str()),
                ip: None,
                detail: serde_json::json!({"role": "admin", "by": by}),
            })
            .await
    }

    /// Creates a user from the command line (no session, no rate limit).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        role: Role,
    ) -> Result<UserView, AppError> {
        let (email, password) = Credentials {
            email: email.into(),
            password: password.into(),
        }
        .parse_new()?;
        let hash = password::hash(&self.hashers, password.expose().to_owned())
            .await
            .map_err(hashing)?;
        let user = self.insert(&email, &hash, role, self.clock.now()).await?;
        // The operator typed the address: it counts as verified.
        let mut conn = self.db.pool().acquire().await.map_err(internal)?;
        crate::db::Db::mark_verified(&mut conn, &user.id, self.clock.now().millis())
            .await
            .map_err(internal)?;
        drop(conn);
        self.db
            .append_audit(AuditEntry {
                at: self.clock.now(),
                actor_user_id: Some(&user.id),
                action: AuditAction::SignUp,
                subject: Some(&user.email),
                ip: None,
                detail: serde_json::json!({"via": "cli", "role": role.as_str()}),
            })
            .await
            .map_err(internal)?;
        Ok(view(&user))
    }

    async fn insert(
        &self,
        email: &Email,
        hash: &str,
        role: Role,
        now: Timestamp,
    ) -> Result<UserRecord, AppError> {
        self.db
            .insert_user(email, hash, role, now)
            .await
            .map_err(|err| match err {
                InsertUserError::EmailTaken => email_taken(),
                InsertUserError::Database(err) => internal(err),
            })
    }
}

/// A caller signed in as `user_id` from this machine, for a command that drives the
/// services itself (the headless bot): its session lives in memory and is never saved.
pub async fn local_caller(db: &Db, user_id: &str) -> anyhow::Result<Caller> {
    let store = Arc::new(crate::db::sessions::DbSessionStore::new(db.clone()));
    let session = tower_sessions::Session::new(None, store, None);
    session.insert(USER_ID_KEY, user_id).await?;
    Ok(Caller {
        session,
        ip: std::net::Ipv4Addr::LOCALHOST.into(),
        user_agent: Some("quantshift bot".into()),
    })
}

impl AccountService {
    /// `user_id`'s sessions as their list shows them, `current` (a stored id) marked.
    pub async fn session_views(
        &self,
        user_id: &str,
        current: Option<&str>,
    ) -> Result<Vec<SessionView>, AppError> {
        let rows = self.db.sessions_of(user_id).await.map_err(internal)?;
        Ok(rows
            .into_iter()
            // A session from before handles existed shows once it is used again.
            .filter_map(|row| {
                Some(SessionView {
                    current: current == Some(row.stored_id.as_str()),
                    handle: row.handle?,
                    created_at: row.created_at,
                    last_seen_at: row.last_seen_at,
                    ip: row.ip,
                    device: agent::readable(row.user_agent.as_deref().unwrap_or_default()),
                })
            })
            .collect())
    }

    /// The current session, as the database knows it (the hash of its id).
    fn session_id(caller: &Caller) -> Result<String, AppError> {
        caller
            .session
            .id()
            .map(|id| crate::db::sessions::stored_id(&id.to_string()))
            .ok_or_else(AppError::unauthenticated)
    }

    /// Ends every session of `user` but the caller's, records `action`, and answers the
    /// profile as it is now.
    async fn end_other_sessions(
        &self,
        caller: &Caller,
        user: &UserRecord,
        action: AuditAction,
    ) -> Result<Profile, AppError> {
        self.db
            .delete_other_sessions(&user.id, &Self::session_id(caller)?)
            .await
            .map_err(internal)?;
        self.events.sessions_changed(&user.id).await;
        self.audit(caller, action, Some(&user.id), Some(&user.email))
            .await?;
        self.build_profile(caller, user).await
    }

    async fn build_profile(&self, caller: &Caller, user: &UserRecord) -> Result<Profile, AppError> {
        let other_sessions = self
            .db
            .count_other_sessions(&user.id, &Self::session_id(caller)?, self.clock.now())
            .await
            .map_err(internal)?;
        Ok(Profile {
            email: user.email.clone(),
            role: user.role,
            member_since: jiff::Timestamp::from_millisecond(user.created_at.millis())
                .map_err(internal)?,
            timezone: user.timezone.clone(),
            other_sessions,
            notifications_form: self.notifications_form(user).await?,
        })
    }
}

#[async_trait]
impl AccountPort for AccountService {
    async fn profile(&self, caller: &Caller) -> Result<Profile, AppError> {
        let user = self.require_user(caller).await?;
        self.build_profile(caller, &user).await
    }

    async fn set_timezone(&self, caller: &Caller, timezone: String) -> Result<Profile, AppError> {
        let mut user = self.require_user(caller).await?;
        let timezone = timezone.trim();
        let zone = if timezone.is_empty() {
            None
        } else {
            jiff::tz::TimeZone::get(timezone).map_err(|_| {
                AppError::invalid_fields(BTreeMap::from([(
                    "timezone".to_string(),
                    format!("\"{timezone}\" is not a time zone; use a name like America/New_York."),
                )]))
            })?;
            Some(timezone.to_owned())
        };
        self.db
            .set_timezone(&user.id, zone.as_deref(), self.clock.now())
            .await
            .map_err(internal)?;
        self.audit(
            caller,
            AuditAction::TimezoneChanged,
            Some(&user.id),
            zone.as_deref(),
        )
        .await?;
        user.timezone = zone;
        self.build_profile(caller, &user).await
    }

    async fn change_password(
        &self,
        caller: &Caller,
        current_password: String,
        new_password: String,
    ) -> Result<Profile, AppError> {
        let user = self.require_user(caller).await?;
        let mut fields = BTreeMap::new();
        if current_password.is_empty() {
            fields.insert(
                "current_password".into(),
                "Enter your current password.".into(),
            );
        }
        let new = NewPassword::parse(&new_password)
            .map_err(|m| fields.insert("new_password".into(), m))
            .ok();
        let Some(new) = new.filter(|_| fields.is_empty()) else {
            return Err(AppError::invalid_fields(fields));
        };
        self.check_password(
            caller,
            &user,
            current_password,
            ("current_password", "That is not your current password."),
        )
        .await?;
        let hash = password::hash(&self.hashers, new.expose().to_owned())
            .await
            .map_err(hashing)?;
        self.db
            .set_password_hash(&user.id, &hash, self.clock.now())
            .await
            .map_err(internal)?;
        // Reset links sent before open nothing now.
        crate::db::mail::retire_tokens(
            self.db.pool(),
            &user.id,
            "reset",
            self.clock.now().millis(),
        )
        .await
        .map_err(internal)?;
        // A stolen session must not outlive the password it was opened with.
        self.end_other_sessions(caller, &user, AuditAction::PasswordChanged)
            .await
    }

    async fn sign_out_others(&self, caller: &Caller) -> Result<Profile, AppError> {
        let user = self.require_user(caller).await?;
        self.end_other_sessions(caller, &user, AuditAction::OtherSessionsEnded)
            .await
    }
    async fn sign_up(&self, caller: &Caller, input: Credentials) -> Result<UserView, AppError> {
        let (email, password) = input.parse_new()?;
        // Never an admin, whatever the address (see `promote_configured_admin`).
        let role = Role::Subscriber;
        // The cheap checks first: the address limit, then whether the address is taken;
        // only then the (costly, bounded) hash.
        self.reserve_sign_up(caller).await?;
        if self
            .db
            .user_by_email(&email)
            .await
            .map_err(internal)?
            .is_some()
        {
            return Err(email_taken());
        }
        let hash = password::hash(&self.hashers, password.expose().to_owned())
            .await
            .map_err(hashing)?;
        debug_assert_eq!(role, Role::Subscriber);
        let user = self.insert_with_verification(&email, &hash).await?;
        self.start_session(caller, &user).await?;
        self.audit(
            caller,
            AuditAction::SignUp,
            Some(&user.id),
            Some(&user.email),
        )
        .await?;
        Ok(view(&user))
    }

    async fn sign_in(&self, caller: &Caller, input: Credentials) -> Result<UserView, AppError> {
        let mut fields = BTreeMap::new();
        let email = Email::parse(&input.email)
            .map_err(|m| fields.insert("email".into(), m))
            .ok();
        if input.password.is_empty() {
            fields.insert("password".into(), "Enter your password.".into());
        }
        let Some(email) = email.filter(|_| fields.is_empty()) else {
            return Err(AppError::invalid_fields(fields));
        };
        let reservation = self.reserve_attempt(caller, email.as_str()).await?;

        let user = self.db.user_by_email(&email).await.map_err(internal)?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let matches = match password::verify(&self.hashers, input.password, hash).await {
            Ok(matches) => matches,
            Err(err) => {
                // Not checked: it was not a failure.
                self.release(&reservation).await?;
                return Err(hashing(err));
            }
        };
        match user {
            Some(user) if matches && user.disabled_at.is_some() => {
                self.release(&reservation).await?;
                self.db
                    .append_audit(AuditEntry {
                        at: self.clock.now(),
                        actor_user_id: Some(&user.id),
                        action: AuditAction::SignInFailed,
                        subject: Some(&user.email),
                        ip: Some(caller.ip.to_string()),
                        detail: serde_json::json!({"reason": "account_disabled"}),
                    })
                    .await
                    .map_err(internal)?;
                Err(AppError::new(
                    ErrorCode::AccountDisabled,
                    "This account has been disabled. Contact the team that runs this \
                     QuantShift to have it enabled again.",
                ))
            }
            Some(user) if matches => {
                self.release(&reservation).await?;
                self.start_session(caller, &user).await?;
                self.db
                    .touch_user(&user.id, self.clock.now())
                    .await
                    .map_err(internal)?;
                self.audit(
                    caller,
                    AuditAction::SignIn,
                    Some(&user.id),
                    Some(&user.email),
                )
                .await?;
                Ok(view(&user))
            }
            user => {
                if let Some(metrics) = &self.metrics {
                    metrics.sign_in_failed();
                }
                let actor = user.as_ref().map(|u| u.id.as_str());
                self.audit(
                    caller,
                    AuditAction::SignInFailed,
                    actor,
                    Some(email.as_str()),
                )
                .await?;
                Err(AppError::new(
                    ErrorCode::InvalidCredentials,
                    "That e-mail address and password do not match an account.",
                ))
            }
        }
    }

    async fn sign_out(&self, caller: &Caller) -> Result<(), AppError> {
        let user = self.session_user(caller).await?;
        caller.session.flush().await.map_err(internal)?;
        if let Some(user) = user {
            self.events.sessions_changed(&user.id).await;
            self.audit(
                caller,
                AuditAction::SignOut,
                Some(&user.id),
                Some(&user.email),
            )
            .await?;
        }
        Ok(())
    }

    async fn sessions(&self, caller: &Caller) -> Result<Vec<SessionView>, AppError> {
        let user = self.require_user(caller).await?;
        let current = Self::session_id(caller)?;
        self.session_views(&user.id, Some(&current)).await
    }

    async fn end_session(&self, caller: &Caller, handle: &str) -> Result<(), AppError> {
        let user = self.require_user(caller).await?;
        let current: Option<String> = caller.session.get(HANDLE_KEY).await.map_err(internal)?;
        if current.as_deref() == Some(handle) {
            // Ending this very session is signing out.
            return self.sign_out(caller).await;
        }
        match self
            .db
            .delete_session_by_handle(handle, Some(&user.id))
            .await
            .map_err(internal)?
        {
            Some(_) => {
                self.events.sessions_changed(&user.id).await;
                self.audit(
                    caller,
                    AuditAction::SessionEnded,
                    Some(&user.id),
                    Some(&user.email),
                )
                .await
            }
            None => Err(AppError::new(
                ErrorCode::NotFound,
                "There is no such session: it may have ended already.",
            )),
        }
    }

    async fn current_user(&self, caller: &Caller) -> Result<Option<UserView>, AppError> {
        let Some(user) = self.session_user(caller).await? else {
            return Ok(None);
        };
        // Sliding expiry: a visit at most every five minutes rewrites the session, pushing its
        // end out and noting it as seen.
        let now = self.clock.now().millis();
        let seen: i64 = caller
            .session
            .get(SEEN_AT_KEY)
            .await
            .map_err(internal)?
            .unwrap_or(0);
        if now - seen > EXTEND_EVERY_MS {
            caller
                .session
                .insert(SEEN_AT_KEY, now)
                .await
                .map_err(internal)?;
            self.db
                .touch_user(&user.id, self.clock.now())
                .await
                .map_err(internal)?;
        }
        // The badge is an extra: a failed look leaves it off rather than the user out.
        let unread_notes = self
            .db
            .has_unread_notes(&user.id, now)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "could not tell whether release notes are unread");
                false
            });
        Ok(Some(UserView {
            unread_notes,
            announcement: self.settings.announcement(),
            ..view(&user)
        }))
    }
}
