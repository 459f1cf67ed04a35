//! E-mail, through an outbox. The event that causes a message (a sign-up, a reset request,
//! a finished purchase) writes an `outbox` row in its own transaction; sender tasks on
//! every instance claim due rows with a lease, render them (`templates`), deliver them
//! over SMTP (lettre) or, in demo mode without SMTP, to the local mailbox at
//! `/dev/mailbox`, and mark them sent. A failed attempt is tried again with backoff; after
//! [`MAX_ATTEMPTS`] (about eight hours; at once for a permanent SMTP refusal) the row is failed and the
//! health page shows it.
//!
//! Exactly once: the row is sent under a lease, so two senders never hold it at once, and
//! a sender marks it sent only while still holding the lease. A sender that dies after the
//! SMTP server accepted a message but before marking it sent would send it again when the
//! lease runs out; every attempt carries the same `Message-ID` (`<outbox id@host>`), which
//! mail systems use to drop such a duplicate. A connection that breaks before the server
//! accepts the message (the usual crash) delivers nothing, and the retry sends it once.

pub mod notify;
pub mod templates;

use crate::db::Db;
use crate::db::mail::{MailEnd, NewMail, OutboxRow};
use crate::secrets::SecretBox;
use app::domain::time::Clock;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// A verification link works this long.
pub const VERIFY_TTL_MS: i64 = 24 * 3_600_000;
/// A password reset link works this long.
pub const RESET_TTL_MS: i64 = 3_600_000;
/// A message still undelivered after this many attempts is given up on: with the backoff
/// ([`backoff_ms`]) about eight hours after the first.
pub const MAX_ATTEMPTS: i64 = 20;
/// How long a sender holds a claimed message (one SMTP conversation fits well within).
const LEASE_MS: i64 = 120_000;
/// How long one SMTP conversation may take, from connecting to the server's last answer
/// (lettre's own timeout covers only the connection).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Senders per instance (each holds one message at a time).
const SENDERS: usize = 4;
/// How long one attempt may take in all (writing the message, then sending it): well
/// within the lease, so no other sender takes a message over while it is in hand.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(LEASE_MS as u64 / 1_000 / 2);
/// How long a stopping sender may finish the message in hand.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long a purchase summary waits for open orders to fill before it is sent anyway.
const SUMMARY_WAIT_MS: i64 = 30 * 60_000;
/// With no SMTP server configured, how long a message waits before it looks again.
const NO_TRANSPORT_WAIT_MS: i64 = 60_000;
/// A notification not sent within this long after its event is out of date (skipped).
const STALE_AFTER_MS: i64 = 24 * 3_600_000;
/// How often the periodic notifications look for work.
const NOTIFY_EVERY: Duration = Duration::from_secs(600);
/// The `platform_settings` key of the SMTP settings admins save.
pub const SETTINGS_KEY: &str = "mail";
/// The sealed SMTP password's owner (its associated data).
const PASSWORD_OWNER: &str = "platform:smtp";

/// The kinds of message, as stored in `outbox.kind`.
pub mod kind {
    pub const VERIFY: &str = "verify";
    pub const RESET: &str = "reset";
    /// A reset asked for an address: the sender looks the account up and, if there is
    /// one, writes its `reset` message (the asker's answer never depends on it).
    pub const RESET_REQUEST: &str = "reset_request";
    pub const SLOT: &str = "slot";
    pub const FUNDS: &str = "funds";
    pub const WEEKLY: &str = "weekly";
}

/// A new single-use token and the digest stored for it.
pub fn new_token() -> (String, String) {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let hash = token_hash(&token);
    (token, hash)
}

/// The stored form of a token: its SHA-256 digest, hex.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SMTP settings admins save (`platform_settings`, key `mail`): the URL without its
/// password, the password sealed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMail {
    pub smtp_url: String,
    #[serde(default)]
    pub password: Option<String>,
    pub from: String,
}

/// Where messages go now.
#[derive(Clone)]
pub enum Transport {
    Smtp {
        mailer: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        /// The server, for the admins (`smtp://host:port`, no credentials).
        label: String,
    },
    /// Demo mode without SMTP: the local mailbox.
    Mailbox { from: Mailbox },
    /// Nothing configured: messages wait.
    None,
}

impl Transport {
    pub fn label(&self) -> String {
        match self {
            Transport::Smtp { label, .. } => label.clone(),
            Transport::Mailbox { .. } => "the local mailbox (/dev/mailbox)".to_owned(),
            Transport::None => "nothing (no SMTP server is configured)".to_owned(),
        }
    }
}

/// Checks an SMTP URL: `smtp://` (plain, or STARTTLS with `?tls=required`), `smtps://`.
pub fn check_smtp_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|_| {
        "Enter a URL like smtps://user@mail.example.com or smtp://mail.example.com:587?tls=required."
            .to_owned()
    })?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err("Use smtp:// or smtps://.".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("The URL needs a host name.".to_owned());
    }
    if let Some((_, value)) = url.query_pairs().find(|(key, _)| key == "tls")
        && !matches!(value.as_ref(), "required" | "opportunistic")
    {
        return Err("tls= takes required or opportunistic.".to_owned());
    }
    Ok(url)
}

/// Checks a sender address (`QuantShift <no-reply@example.com>` or a bare address).
pub fn check_from(text: &str) -> Result<Mailbox, String> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|_| "Enter an address like QuantShift <no-reply@example.com>.".to_owned())
}

/// Whether credentials may go to this server: over TLS (`smtps://`, or STARTTLS required),
/// or to a relay on this machine.
fn sends_credentials_safely(url: &url::Url) -> bool {
    let tls_required = url
        .query_pairs()
        .any(|(key, value)| key == "tls" && value == "required");
    url.scheme() == "smtps" || tls_required || is_loopback_host(url.host())
}

/// Whether a URL's host names this machine (`localhost`, 127.0.0.0/8, `::1`).
pub(crate) fn is_loopback_host(host: Option<url::Host<&str>>) -> bool {
    match host {
        // A URL of a scheme the URL standard does not know (`smtp:`) keeps its host as text.
        Some(url::Host::Domain(name)) => {
            name == "localhost"
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The URL's host and port for display (never its credentials).
fn label_of(url: &url::Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{port}",
        url.scheme(),
        url.host_str().unwrap_or_default()
    )
}

fn smtp_transport(url: &url::Url, from: Mailbox) -> anyhow::Result<Transport> {
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())?
        .timeout(Some(SMTP_TIMEOUT))
        .build();
    Ok(Transport::Smtp {
        mailer,
        from,
        label: label_of(url),
    })
}

/// What the configuration file says about e-mail.
#[derive(Clone, Debug, Default)]
pub struct MailSettings {
    /// `smtp_url` (its password inside).
    pub smtp_url: Option<String>,
    /// `mail_from`.
    pub mail_from: Option<String>,
    /// Demo mode: without SMTP, messages go to the local mailbox.
    pub demo: bool,
    /// The app's public origin, for links.
    pub origin: String,
    /// How often an idle sender looks for due messages.
    pub poll: Duration,
}

/// One rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The one-click unsubscribe link (RFC 8058), for notifications.
    pub unsubscribe: Option<String>,
}

/// What became of composing a message.
pub enum Composed {
    Send(Box<Outgoing>),
    Skip(String),
    /// Not yet (an order still open): again at this instant.
    Later(i64),
}

pub struct MailService {
    db: Db,
    /// Real time: leases, backoff and token expiry.
    wall: Arc<dyn Clock>,
    vault: SecretBox,
    settings: MailSettings,
    owner: String,
    wake: tokio::sync::Notify,
    notify: notify::Notifier,
}

impl MailService {
    pub fn new(
        db: Db,
        wall: Arc<dyn Clock>,
        vault: SecretBox,
        settings: MailSettings,
        notify: notify::Notifier,
    ) -> Self {
        Self {
            db,
            wall,
            vault,
            settings,
            owner: format!("mail-{}", uuid::Uuid::new_v4().simple()),
            wake: tokio::sync::Notify::new(),
            notify,
        }
    }

    pub fn origin(&self) -> &str {
        &self.settings.origin
    }

    pub fn vault(&self) -> &SecretBox {
        &self.vault
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn now(&self) -> i64 {
        self.wall.now().millis()
    }

    /// Wakes this instance's sender (a message was just written).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The link a single-use token is sent as.
    pub fn token_link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={token}", self.settings.origin)
    }

    /// The outbox row of a token's message: the token sealed to the row's kind and user.
    pub fn token_mail(
        &self,
        kind: &'static str,
        user_id: &str,
        token: &str,
        now: i64,
    ) -> anyhow::Result<NewMail> {
        let sealed = self.vault.seal(token, &format!("{kind}:{user_id}"))?;
        Ok(NewMail {
            kind,
            user_id: Some(user_id.to_owned()),
            dedupe_key: None,
            payload: serde_json::json!({ "token": sealed }),
            not_before: now,
        })
    }

    /// The outbox row of a reset asked for `email` (sealed: the table holds no address
    /// nobody may have an account with).
    pub fn reset_request(
        &self,
        email: &app::domain::account::Email,
        ip: &str,
    ) -> anyhow::Result<NewMail> {
        Ok(NewMail {
            kind: kind::RESET_REQUEST,
            user_id: None,
            dedupe_key: None,
            payload: serde_json::json!({
                "email": self.vault.seal(email.as_str(), kind::RESET_REQUEST)?,
                "ip": ip,
            }),
            not_before: self.now(),
        })
    }

    /// Turns a reset request into the account's reset message (token and e-mail), and ends
    /// the request, in one transaction that needs the request's lease. Returns why there is
    /// no message, or `None` when it was handed over (or the lease was lost).
    async fn hand_over_reset(
        &self,
        row: &OutboxRow,
        owner: &str,
    ) -> anyhow::Result<Option<String>> {
        // An unreadable request is skipped; only the database's errors are retried.
        let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap_or_default();
        let email = payload
            .get("email")
            .and_then(|e| e.as_str())
            .and_then(|sealed| self.vault.open(sealed, kind::RESET_REQUEST).ok())
            .and_then(|text| app::domain::account::Email::parse(&text).ok());
        let Some(email) = email else {
            return Ok(Some("the request could not be read".to_owned()));
        };
        let user = match self.db.user_by_email(&email).await? {
            None => return Ok(Some("no account has this address".to_owned())),
            Some(user) if user.disabled_at.is_some() => {
                return Ok(Some("the account is disabled".to_owned()));
            }
            Some(user) => user,
        };
        let now = self.now();
        let (token, digest) = new_token();
        let message = self.token_mail(kind::RESET, &user.id, &token, now)?;
        let mut tx = self.db.pool().begin().await?;
        if !crate::db::mail::end_request(&mut tx, &row.id, owner, now).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let token = crate::db::mail::NewToken {
            hash: &digest,
            user_id: &user.id,
            purpose: kind::RESET,
            email: &user.email,
            ttl_ms: RESET_TTL_MS,
        };
        crate::db::mail::insert_token_mail(&mut tx, token, &message, now).await?;
        crate::db::audit::insert_audit(
            &mut *tx,
            crate::db::audit::AuditEntry {
                at: app::domain::time::Timestamp::from_millis(now),
                actor_user_id: Some(&user.id),
                action: crate::db::audit::AuditAction::PasswordResetRequested,
                subject: Some(&user.email),
                ip: payload
                    .get("ip")
                    .and_then(|ip| ip.as_str())
                    .map(str::to_owned),
                detail: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        self.wake();
        Ok(None)
    }

    /// The SMTP settings admins saved, if any.
    pub async fn saved(&self) -> anyhow::Result<Option<SavedMail>> {
        let rows = self.db.platform_settings().await?;
        Ok(rows
            .into_iter()
            .find(|(key, _, _)| key == SETTINGS_KEY)
            .and_then(|(_, value, _)| serde_json::from_str::<SavedMail>(&value).ok()))
    }

    /// The sender: the admins' if they saved one, else the default.
    fn sender(&self, saved: Option<&SavedMail>) -> Mailbox {
        saved
            .and_then(|s| check_from(&s.from).ok())
            .unwrap_or_else(|| self.default_from())
    }

    /// The default sender: `mail_from`, else `QuantShift <no-reply@<public host>>`.
    pub fn default_from(&self) -> Mailbox {
        if let Some(from) = self
            .settings
            .mail_from
            .as_deref()
            .and_then(|f| check_from(f).ok())
        {
            return from;
        }
        let host = url::Url::parse(&self.settings.origin)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .filter(|h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err())
            .unwrap_or_else(|| "quantshift.localhost".to_owned());
        format!("QuantShift <no-reply@{host}>")
            .parse()
            .expect("a well-formed address")
    }

    /// Where messages go now: the admins' SMTP settings, else the configuration's, else the
    /// demo mailbox in demo mode, else nowhere.
    pub async fn transport(&self) -> anyhow::Result<Transport> {
        let saved = self.saved().await?;
        if let Some(admins) = saved.as_ref().filter(|s| !s.smtp_url.is_empty()) {
            let mut url = check_smtp_url(&admins.smtp_url).map_err(anyhow::Error::msg)?;
            if let Some(sealed) = &admins.password {
                // Checked again when used: a password goes only over TLS, or to this machine.
                anyhow::ensure!(
                    sends_credentials_safely(&url),
                    "the saved SMTP password would go in clear text: use smtps:// or ?tls=required"
                );
                let password = self.vault.open(sealed, PASSWORD_OWNER)?;
                url.set_password(Some(&password))
                    .map_err(|()| anyhow::anyhow!("the SMTP URL cannot hold a password"))?;
            }
            return smtp_transport(&url, self.sender(saved.as_ref()));
        }
        if let Some(text) = &self.settings.smtp_url {
            let url = check_smtp_url(text).map_err(anyhow::Error::msg)?;
            return smtp_transport(&url, self.sender(saved.as_ref()));
        }
        if self.settings.demo {
            return Ok(Transport::Mailbox {
                from: self.sender(saved.as_ref()),
            });
        }
        Ok(Transport::None)
    }

    /// Saves the admins' SMTP settings (`password`: `None` keeps the saved one, `Some("")`
    /// removes it). An empty URL goes back to the configuration's.
    pub async fn save_settings(
        &self,
        smtp_url: &str,
        password: Option<&str>,
        from: &str,
    ) -> Result<SavedMail, std::collections::BTreeMap<String, String>> {
        let mut fields = std::collections::BTreeMap::new();
        let smtp_url = smtp_url.trim();
        let mut url = None;
        if !smtp_url.is_empty() {
            match check_smtp_url(smtp_url) {
                Ok(parsed) => url = Some(parsed),
                Err(message) => {
                    fields.insert("smtp_url".to_owned(), message);
                }
            }
        }
        if !from.trim().is_empty()
            && let Err(message) = check_from(from)
        {
            fields.insert("mail_from".to_owned(), message);
        }
        if !fields.is_empty() {
            return Err(fields);
        }
        let previous = self.saved().await.ok().flatten();
        let mut saved = SavedMail {
            smtp_url: String::new(),
            password: None,
            from: from.trim().to_owned(),
        };
        if let Some(mut url) = url {
            // A password typed into the URL is sealed like one typed into its own field.
            let in_url = url.password().map(percent_decode);
            let _ = url.set_password(None);
            saved.smtp_url = url.to_string();
            let typed = match (password, in_url) {
                (Some(""), _) => None,
                (Some(typed), _) => Some(typed.to_owned()),
                (None, in_url) => in_url,
            };
            // The saved password stays only for the same server and user: an admin who
            // changes the host must type it again (it never goes to a server it was not
            // meant for).
            let same_server = previous
                .as_ref()
                .is_some_and(|p| p.smtp_url == saved.smtp_url);
            let kept = (password.is_none() && same_server)
                .then(|| previous.and_then(|p| p.password))
                .flatten();
            if typed.is_some() && !sends_credentials_safely(&url) {
                return Err(std::collections::BTreeMap::from([(
                    "smtp_password".to_owned(),
                    "A password goes only over TLS: use smtps://, or add ?tls=required (plain smtp:// only to a relay on this machine).".to_owned(),
                )]));
            }
            saved.password = match typed {
                Some(p) => Some(self.vault.seal(&p, PASSWORD_OWNER).map_err(|_| {
                    std::collections::BTreeMap::from([(
                        "smtp_password".to_owned(),
                        "The password could not be sealed.".to_owned(),
                    )])
                })?),
                None => kept,
            };
        }
        Ok(saved)
    }

    /// Sends a test message to `to` now, through the transport in force; says how it went.
    pub async fn send_test(&self, to: &str) -> anyhow::Result<String> {
        let transport = self.transport().await?;
        let label = transport.label();
        let context = minijinja::context! {
            origin => &self.settings.origin,
            transport => &label,
            email => to,
            subject => "QuantShift test e-mail",
        };
        let outgoing = Outgoing {
            to: to.to_owned(),
            subject: "QuantShift test e-mail".to_owned(),
            text: templates::render("mail/test.txt", &context)?,
            html: templates::render("mail/test.html", &context)?,
            unsubscribe: None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        self.deliver(&transport, &id, &outgoing)
            .await
            .map_err(|err| anyhow::anyhow!(err.message))?;
        Ok(label)
    }

    /// Runs [`SENDERS`] senders until `stop` turns true, each claiming due messages one at
    /// a time.
    pub fn spawn(
        self: &Arc<Self>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let senders: Vec<_> = (0..SENDERS)
            .map(|i| {
                self.clone()
                    .run_sender(format!("{}-{i}", self.owner), stop.clone())
            })
            .collect();
        tokio::spawn(async move {
            futures_util::future::join_all(senders).await;
        })
    }

    /// One sender: `owner` names its leases (each sender its own, so a sibling never takes
    /// over a message this one still holds).
    async fn run_sender(
        self: Arc<Self>,
        owner: String,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let outcome = |sent: anyhow::Result<bool>| match sent {
            Ok(worked) => worked,
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "the e-mail sender failed a pass");
                false
            }
        };
        loop {
            if *stop.borrow() {
                break;
            }
            let send = self.send_one(&owner);
            tokio::pin!(send);
            let worked = tokio::select! {
                sent = &mut send => outcome(sent),
                _ = stop.changed() => {
                    // The message in hand may finish for a moment; after that it is
                    // abandoned, and its lease lets a sender (after a restart, or on
                    // another instance) send it.
                    if let Ok(sent) = tokio::time::timeout(STOP_GRACE, &mut send).await {
                        outcome(sent);
                    }
                    break;
                }
            };
            if worked {
                continue;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Runs the periodic notifications (buying power a day ahead, weekly summaries) every
    /// [`NOTIFY_EVERY`] until `stop` turns true.
    pub fn spawn_notifications(
        self: &Arc<Self>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(err) = me.notify_pass().await {
                    tracing::warn!(error = %err, "the notification pass failed");
                }
                tokio::select! {
                    () = tokio::time::sleep(NOTIFY_EVERY) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    break;
                }
            }
        })
    }

    /// One pass of the periodic notifications; returns how many messages it wrote.
    pub async fn notify_pass(&self) -> anyhow::Result<usize> {
        self.notify.pass(self).await
    }

    /// Forgets settled messages, tokens and mailbox messages older than a month.
    pub async fn prune(&self) -> anyhow::Result<u64> {
        Ok(self.db.prune_mail(self.now() - 30 * 24 * 3_600_000).await?)
    }

    /// Claims one due message for `owner` and delivers it. Returns whether there was one.
    pub async fn send_one(&self, owner: &str) -> anyhow::Result<bool> {
        let Some(row) = self.db.claim_mail(owner, self.now(), LEASE_MS).await? else {
            return Ok(false);
        };
        let end = if row.kind == kind::RESET_REQUEST {
            match self.hand_over_reset(&row, owner).await {
                Ok(None) => return Ok(true),
                Ok(Some(reason)) => Attempt::Skipped(reason),
                // The database failed: the request waits for another try, never lost.
                Err(err) => Attempt::Failed(format!("the request could not be handled: {err:#}")),
            }
        } else {
            // Well within the lease, whatever the message needs (brokers for a summary).
            match tokio::time::timeout(ATTEMPT_LIMIT, self.attempt(&row)).await {
                Ok(end) => end,
                Err(_) => {
                    Attempt::Failed(format!("took longer than {} s", ATTEMPT_LIMIT.as_secs()))
                }
            }
        };
        let now = self.now();
        let end_ref = match &end {
            Attempt::Sent { transport, subject } => MailEnd::Sent { transport, subject },
            Attempt::Skipped(reason) => MailEnd::Skipped { reason },
            Attempt::Later(at) => MailEnd::Later { not_before: *at },
            Attempt::Failed(error) => {
                if row.attempts >= MAX_ATTEMPTS {
                    MailEnd::Failed { error }
                } else {
                    MailEnd::Retry {
                        error,
                        not_before: now + backoff_ms(row.attempts),
                    }
                }
            }
            Attempt::Permanent(error) => MailEnd::Failed { error },
        };
        if let MailEnd::Failed { error } = end_ref {
            tracing::warn!(id = %row.id, kind = %row.kind, error, "gave up on an e-mail");
        }
        if !self.end_mail(&row.id, owner, end_ref, now).await? {
            if matches!(end_ref, MailEnd::Later { .. }) {
                // Usually a missed purchase's summary taken into an earlier one's message
                // while it waited for it.
                tracing::debug!(id = %row.id, "an e-mail that was to wait was settled meanwhile");
            } else {
                tracing::warn!(id = %row.id, "an e-mail's lease ran out while it was being sent");
            }
        }
        if matches!(
            end_ref,
            MailEnd::Sent { .. } | MailEnd::Skipped { .. } | MailEnd::Failed { .. }
        ) && matches!(
            row.kind.as_str(),
            kind::VERIFY | kind::RESET | kind::RESET_REQUEST
        ) {
            // The sealed token (or address) has done its work (a row still being sent by
            // someone else is left alone).
            self.db.clear_mail_payload(&row.id).await?;
        }
        Ok(true)
    }

    /// Records how an attempt ended, trying again a few times: a message sent but left
    /// `sending` would be sent again when its lease runs out.
    async fn end_mail(
        &self,
        id: &str,
        owner: &str,
        end: MailEnd<'_>,
        now: i64,
    ) -> anyhow::Result<bool> {
        let mut tries = 0;
        loop {
            match self.db.end_mail(id, owner, end, now).await {
                Ok(held) => return Ok(held),
                Err(err) if tries < 5 => {
                    tries += 1;
                    tracing::warn!(error = %err, id, "could not record an e-mail's outcome; trying again");
                    tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    async fn attempt(&self, row: &OutboxRow) -> Attempt {
        let composed = match self.compose(row).await {
            Ok(composed) => composed,
            Err(err) => return Attempt::Failed(format!("could not be written: {err:#}")),
        };
        let outgoing = match composed {
            Composed::Send(outgoing) => outgoing,
            Composed::Skip(reason) => return Attempt::Skipped(reason),
            Composed::Later(at) => return Attempt::Later(at),
        };
        let transport = match self.transport().await {
            // Waits (without using up attempts) until an admin configures a server; the
            // health page shows it waiting.
            Ok(Transport::None) => return Attempt::Later(self.now() + NO_TRANSPORT_WAIT_MS),
            Ok(transport) => transport,
            Err(err) => return Attempt::Failed(format!("the SMTP settings are unusable: {err:#}")),
        };
        match self.deliver(&transport, &row.id, &outgoing).await {
            Ok(()) => Attempt::Sent {
                transport: match transport {
                    Transport::Smtp { .. } => "smtp",
                    _ => "mailbox",
                }
                .to_owned(),
                subject: outgoing.subject.clone(),
            },
            Err(err) if err.permanent => Attempt::Permanent(err.message),
            Err(err) => Attempt::Failed(err.message),
        }
    }

    /// Delivers one message: over SMTP with `Message-ID: <id@host>`, or to the mailbox.
    async fn deliver(
        &self,
        transport: &Transport,
        id: &str,
        outgoing: &Outgoing,
    ) -> Result<(), DeliveryError> {
        match transport {
            Transport::None => Err(DeliveryError {
                message: "no SMTP server is configured".to_owned(),
                permanent: false,
            }),
            Transport::Mailbox { .. } => self
                .db
                .deliver_to_mailbox(
                    id,
                    &outgoing.to,
                    &outgoing.subject,
                    &outgoing.text,
                    &outgoing.html,
                    self.now(),
                )
                .await
                .map_err(|err| DeliveryError {
                    message: format!("the mailbox could not be written: {err}"),
                    permanent: false,
                }),
            Transport::Smtp { mailer, from, .. } => {
                let message = build_message(from, id, outgoing).map_err(|err| DeliveryError {
                    message: format!("the message could not be built: {err}"),
                    permanent: true,
                })?;
                match tokio::time::timeout(SMTP_TIMEOUT, mailer.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(err)) => Err(DeliveryError {
                        permanent: refuses_the_message(&err),
                        message: format!("SMTP: {err}"),
                    }),
                    Err(_) => Err(DeliveryError {
                        message: format!(
                            "SMTP: the server did not finish within {} s",
                            SMTP_TIMEOUT.as_secs()
                        ),
                        permanent: false,
                    }),
                }
            }
        }
    }

    /// Renders a claimed row into the message to send (or why not).
    async fn compose(&self, row: &OutboxRow) -> anyhow::Result<Composed> {
        let payload: serde_json::Value = serde_json::from_str(&row.payload)?;
        let user = match &row.user_id {
            Some(id) => self.db.user_by_id(id).await?,
            None => None,
        };
        let Some(user) = user else {
            return Ok(Composed::Skip("the account no longer exists".to_owned()));
        };
        match row.kind.as_str() {
            kind::VERIFY | kind::RESET => {
                let verify = row.kind == kind::VERIFY;
                if verify && user.email_verified_at.is_some() {
                    return Ok(Composed::Skip("the address is verified already".to_owned()));
                }
                let sealed = payload
                    .get("token")
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| anyhow::anyhow!("the message has no token"))?;
                let token = self
                    .vault
                    .open(sealed, &format!("{}:{}", row.kind, user.id))?;
                if !self
                    .db
                    .token_usable(&token_hash(&token), &row.kind, self.now())
                    .await?
                {
                    return Ok(Composed::Skip(
                        "the link expired (or was used) before it could be sent".to_owned(),
                    ));
                }
                let (path, subject, template) = if verify {
                    (
                        "/verify-email",
                        "Confirm your e-mail address for QuantShift",
                        "verify",
                    )
                } else {
                    ("/reset-password", "Reset your QuantShift password", "reset")
                };
                let context = minijinja::context! {
                    email => &user.email,
                    link => self.token_link(path, &token),
                    origin => &self.settings.origin,
                    subject => subject,
                };
                Ok(Composed::Send(Box::new(Outgoing {
                    to: user.email.clone(),
                    subject: subject.to_owned(),
                    text: templates::render(&format!("mail/{template}.txt"), &context)?,
                    html: templates::render(&format!("mail/{template}.html"), &context)?,
                    unsubscribe: None,
                })))
            }
            _ if self.now() - row.created_at > STALE_AFTER_MS => Ok(Composed::Skip(
                "out of date: not sent within a day of its event".to_owned(),
            )),
            _ => {
                self.notify
                    .compose(self, row, &user, &payload, self.now())
                    .await
            }
        }
    }

    /// The link that turns off `topic` for `user_id`, signed so it works without signing in.
    pub fn unsubscribe_link(&self, user_id: &str, topic: &str) -> String {
        let signature = self.vault.sign(&unsubscribe_message(user_id, topic));
        format!(
            "{}/unsubscribe?token={user_id}.{topic}.{signature}",
            self.settings.origin
        )
    }

    /// The user and topic of a valid unsubscribe token.
    pub fn check_unsubscribe(&self, token: &str) -> Option<(String, String)> {
        let mut parts = token.trim().splitn(3, '.');
        let (user, topic, signature) = (parts.next()?, parts.next()?, parts.next()?);
        (notify::TOPICS.contains(&topic)
            && self
                .vault
                .verify(&unsubscribe_message(user, topic), signature))
        .then(|| (user.to_owned(), topic.to_owned()))
    }
}

fn unsubscribe_message(user_id: &str, topic: &str) -> String {
    format!("unsubscribe:{user_id}:{topic}")
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Whether an SMTP error refuses this message for good: a 55x reply whose enhanced status
/// code (RFC 3463) blames the address, the mailbox, the mail system or the content
/// (`5.1.x`, `5.2.x`, `5.3.x`, `5.6.x`; `5.1.1` "no such user"), or a plain 550/551/552
/// without one. A policy or security refusal (`5.7.x`, "relaying denied"), a refused login
/// (535), a server that wants TLS (530) or refuses the sender (553) is the configuration's
/// fault: the message waits (retried) until an admin fixes it.
fn refuses_the_message(err: &lettre::transport::smtp::Error) -> bool {
    let Some(code) = err.status() else {
        return false;
    };
    refused_for_good(&code.to_string(), &err.to_string())
}

fn refused_for_good(code: &str, text: &str) -> bool {
    if !matches!(code, "550" | "551" | "552" | "554") {
        return false;
    }
    let enhanced = text.split_whitespace().find_map(|word| {
        let mut parts = word.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("5"), Some(subject), Some(detail), None)
                if subject.parse::<u16>().is_ok() && detail.parse::<u16>().is_ok() =>
            {
                Some(subject.to_owned())
            }
            _ => None,
        }
    });
    match enhanced.as_deref() {
        Some(subject) => matches!(subject, "1" | "2" | "3" | "6"),
        None => code != "554",
    }
}

enum Attempt {
    Sent { transport: String, subject: String },
    Skipped(String),
    Later(i64),
    Failed(String),
    Permanent(String),
}

struct DeliveryError {
    message: String,
    permanent: bool,
}

/// 30 s after the first failure, doubling to at most 30 minutes.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = attempts.clamp(1, 7) - 1;
    (30_000_i64 << doublings).min(30 * 60_000)
}

/// The MIME message: plain text and HTML alternatives, a stable Message-ID, and for
/// notifications the one-click unsubscribe headers.
fn build_message(from: &Mailbox, id: &str, outgoing: &Outgoing) -> anyhow::Result<Message> {
    let domain = from.email.domain().to_owned();
    let mut builder = Message::builder()
        .from(from.clone())
        .to(outgoing.to.parse()?)
        .subject(&outgoing.subject)
        .message_id(Some(format!("<{id}@{domain}>")));
    if let Some(link) = &outgoing.unsubscribe {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{link}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    Ok(builder.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(outgoing.text.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(outgoing.html.clone()),
            ),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_of_the_message_itself_are_final() {
        assert!(refused_for_good(
            "550",
            "permanent error (550): 5.1.1 no such user"
        ));
        assert!(refused_for_good("552", "5.2.2 mailbox full"));
        assert!(refused_for_good("550", "mailbox unavailable"));
        assert!(!refused_for_good("550", "5.7.1 Relaying denied"));
        assert!(!refused_for_good("554", "Transaction failed"));
        assert!(!refused_for_good("535", "5.7.8 authentication failed"));
        assert!(!refused_for_good("553", "5.1.8 sender rejected"));
        assert!(!refused_for_good("451", "4.3.0 try again"));
    }

    #[test]
    fn backoff_doubles_to_half_an_hour() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(3), 120_000);
        assert_eq!(backoff_ms(7), 30 * 60_000);
        assert_eq!(backoff_ms(50), 30 * 60_000);
    }

    #[test]
    fn tokens_are_long_and_stored_as_digests() {
        let (token, hash) = new_token();
        assert_eq!(token.len(), 64);
        assert_eq!(hash, token_hash(&token));
        assert_eq!(hash.len(), 64);
        assert_ne!(token, hash);
        assert_ne!(new_token().0, token);
    }

    #[test]
    fn smtp_urls_are_checked() {
        assert!(check_smtp_url("smtps://user:pw@mail.example.com").is_ok());
        assert!(check_smtp_url("smtp://mail.example.com:587?tls=required").is_ok());
        assert!(check_smtp_url("http://mail.example.com").is_err());
        assert!(check_smtp_url("smtp://").is_err());
        assert!(check_smtp_url("smtp://h?tls=maybe").is_err());
        assert_eq!(
            label_of(&check_smtp_url("smtps://u:secret@mail.example.com:465").unwrap()),
            "smtps://mail.example.com:465"
        );
        assert!(check_from("QuantShift <no-reply@example.com>").is_ok());
        assert!(check_from("not an address").is_err());
        let safe = |u: &str| sends_credentials_safely(&check_smtp_url(u).unwrap());
        assert!(safe("smtps://u@mail.example.com"));
        assert!(safe("smtp://u@mail.example.com:587?tls=required"));
        assert!(safe("smtp://u@127.0.0.1:2525"));
        assert!(safe("smtp://u@localhost"));
        assert!(safe("smtp://u@[::1]:25"));
        assert!(!safe("smtp://u@mail.example.com"));
        assert!(!safe("smtp://u@mail.example.com?tls=opportunistic"));
        assert!(!safe("smtp://u@127.0.0.1.evil.example"));
    }

    #[test]
    fn messages_carry_both_parts_a_stable_id_and_unsubscribe_headers() {
        let from: Mailbox = "QuantShift <no-reply@example.com>".parse().unwrap();
        let outgoing = Outgoing {
            to: "ann@example.com".into(),
            subject: "Hello".into(),
            text: "plain words".into(),
            html: "<p>html words</p>".into(),
            unsubscribe: Some("http://x/unsubscribe?token=a.b.c".into()),
        };
        let raw = String::from_utf8(
            build_message(&from, "row-1", &outgoing)
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(raw.contains("Message-ID: <row-1@example.com>"), "{raw}");
        assert!(raw.contains("List-Unsubscribe: <http://x/unsubscribe?token=a.b.c>"));
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(raw.contains("plain words") && raw.contains("html words"));
    }
}
