//! The `outbox`, `mailbox` and `email_tokens` tables, and users' notification choices.
//!
//! Claiming is one statement, like slots: `UPDATE … WHERE id = (SELECT … LIMIT 1)
//! RETURNING`, under SQLite's single writer or PostgreSQL's `FOR UPDATE SKIP LOCKED`. Every
//! write a sender makes afterwards is conditional on still holding the row's lease.

use super::{Backend, Db};
use sqlx::Row as _;

/// One message to send, as the event that causes it writes it.
#[derive(Clone, Debug)]
pub struct NewMail {
    pub kind: &'static str,
    pub user_id: Option<String>,
    /// At most one message per key (a second insert is ignored).
    pub dedupe_key: Option<String>,
    pub payload: serde_json::Value,
    pub not_before: i64,
}

/// A claimed outbox row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    pub user_id: Option<String>,
    pub payload: String,
    pub attempts: i64,
    pub created_at: i64,
    /// The sender holding it (as claimed).
    pub lease_owner: Option<String>,
}

/// How a delivery attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailEnd<'a> {
    Sent {
        transport: &'a str,
        subject: &'a str,
    },
    /// Not sent on purpose (the user turned this kind off, or it no longer applies).
    Skipped { reason: &'a str },
    /// Given up: the error is kept for the admins.
    Failed { error: &'a str },
    /// Try again at `not_before`.
    Retry { error: &'a str, not_before: i64 },
    /// Not ready yet (a purchase still waiting for its fill): again at `not_before`,
    /// without counting an attempt.
    Later { not_before: i64 },
}

/// One message of the demo mailbox.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MailboxMessage {
    pub id: String,
    pub to_addr: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: i64,
}

/// What a user wants to hear about, by topic (`GET`/`PUT /api/notifications`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct NotifyPrefs {
    pub purchases: bool,
    pub failures: bool,
    pub funds: bool,
    pub weekly: bool,
}

impl NotifyPrefs {
    /// The topics, as [`crate::mail::notify::TOPICS`] names them.
    fn slot(&mut self, topic: &str) -> Option<&mut bool> {
        match topic {
            "purchases" => Some(&mut self.purchases),
            "failures" => Some(&mut self.failures),
            "funds" => Some(&mut self.funds),
            "weekly" => Some(&mut self.weekly),
            _ => None,
        }
    }

    /// Whether the user wants `topic` (an unknown topic: no).
    pub fn wants(mut self, topic: &str) -> bool {
        self.slot(topic).is_some_and(|on| *on)
    }

    /// Turns `topic` on or off; returns whether it is a topic.
    pub fn set(&mut self, topic: &str, on: bool) -> bool {
        self.slot(topic).map(|slot| *slot = on).is_some()
    }
}

/// What a purchase summary needs of its slot.
#[derive(Clone, Debug)]
pub struct SlotBrief {
    pub plan_id: String,
    pub slot_at: i64,
    pub state: String,
    pub reason: Option<String>,
    /// `scheduled`, or `manual` ("buy now"; a bot's closing sale).
    pub kind: String,
}

/// The outbox at a glance (the health page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxFigures {
    pub pending: i64,
    /// Age of the oldest message still waiting, ms (0: none).
    pub oldest_pending_ms: i64,
    pub sent_24h: i64,
    pub failed_24h: i64,
}

const OUTBOX_COLUMNS: &str = "id, kind, user_id, payload, attempts, created_at, lease_owner";

fn outbox_row(row: &sqlx::any::AnyRow) -> Result<OutboxRow, sqlx::Error> {
    Ok(OutboxRow {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        user_id: row.try_get("user_id")?,
        payload: row.try_get("payload")?,
        attempts: row.try_get("attempts")?,
        created_at: row.try_get("created_at")?,
        lease_owner: row.try_get("lease_owner")?,
    })
}

/// Writes `mail` to the outbox with the caller's transaction (or pool). Returns whether a
/// row was added (`false`: one with its dedupe key exists).
pub async fn insert_mail<'e, E>(executor: E, mail: &NewMail, now: i64) -> sqlx::Result<bool>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let done = sqlx::query(
        "INSERT INTO outbox (id, kind, user_id, dedupe_key, payload, state, not_before, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $7) ON CONFLICT DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(mail.kind)
    .bind(mail.user_id.as_deref())
    .bind(mail.dedupe_key.as_deref())
    .bind(mail.payload.to_string())
    .bind(mail.not_before)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes a single-use token's digest with the caller's transaction.
pub async fn insert_token<'e, E>(
    executor: E,
    token_hash: &str,
    user_id: &str,
    purpose: &str,
    email: &str,
    expires_at: i64,
    now: i64,
) -> sqlx::Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, email, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(purpose)
    .bind(email)
    .bind(expires_at)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

/// Uses a token: marks it used if it is unused, unexpired and for `purpose`, in the
/// caller's transaction. Returns its user and the address it was sent to.
pub async fn use_token(
    tx: &mut sqlx::AnyConnection,
    token_hash: &str,
    purpose: &str,
    now: i64,
) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query(
        "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_at IS NULL AND expires_at > $1 RETURNING user_id, email",
    )
    .bind(now)
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .transpose()
}

/// Writes a single-use token's digest and the message that carries it, with the caller's
/// transaction.
pub async fn insert_token_mail(
    tx: &mut sqlx::AnyConnection,
    token: NewToken<'_>,
    mail: &NewMail,
    now: i64,
) -> sqlx::Result<()> {
    insert_token(
        &mut *tx,
        token.hash,
        token.user_id,
        token.purpose,
        token.email,
        now + token.ttl_ms,
        now,
    )
    .await?;
    insert_mail(&mut *tx, mail, now).await?;
    Ok(())
}

/// A token to write: its digest, whose it is, what for, the address it goes to, how long
/// it works.
#[derive(Clone, Copy, Debug)]
pub struct NewToken<'a> {
    pub hash: &'a str,
    pub user_id: &'a str,
    pub purpose: &'a str,
    pub email: &'a str,
    pub ttl_ms: i64,
}

/// Ends a reset request that was handed over to its reset message, with the caller's
/// transaction, if `owner` still holds it (its sealed address is dropped). Returns whether
/// it did.
pub async fn end_request(
    tx: &mut sqlx::AnyConnection,
    id: &str,
    owner: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'skipped', last_error = 'handed over to its reset e-mail', \
         payload = '{}', lease_owner = NULL, lease_until = NULL, updated_at = $1 \
         WHERE id = $2 AND lease_owner = $3 AND state = 'sending'",
    )
    .bind(now)
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Retires every unused token of `purpose` the user has (a reset, or a changed password,
/// makes other reset links worthless).
pub async fn retire_tokens<'e, E>(
    executor: E,
    user_id: &str,
    purpose: &str,
    now: i64,
) -> sqlx::Result<()>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(purpose)
    .execute(executor)
    .await?;
    Ok(())
}

impl Db {
    /// The user and address of a usable token (without using it).
    pub async fn token_user(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> sqlx::Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT user_id, email FROM email_tokens WHERE token_hash = $1 AND purpose = $2 \
             AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .transpose()
    }

    /// Writes one message to the outbox on its own.
    pub async fn enqueue_mail(&self, mail: &NewMail, now: i64) -> sqlx::Result<bool> {
        insert_mail(self.pool(), mail, now).await
    }

    /// Takes the oldest due message (or one whose sender's lease ran out) for `owner`.
    pub async fn claim_mail(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> sqlx::Result<Option<OutboxRow>> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // Abandoned ones first (few), then links that expire within hours (verification,
        // reset) before notifications, each in the order they became due.
        for filter in [
            "state = 'sending' AND lease_until < $3",
            "state = 'pending' AND not_before <= $3 AND kind IN ('verify', 'reset', 'reset_request')",
            "state = 'pending' AND not_before <= $3",
        ] {
            let sql = format!(
                "UPDATE outbox SET state = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
                 updated_at = $3 WHERE id = (SELECT id FROM outbox WHERE {filter} ORDER BY not_before, id LIMIT 1 {lock}) \
                 RETURNING {OUTBOX_COLUMNS}"
            );
            let row = sqlx::query(&sql)
                .bind(owner)
                .bind(now + lease_ms)
                .bind(now)
                .fetch_optional(self.pool())
                .await?;
            if let Some(row) = row {
                return outbox_row(&row).map(Some);
            }
        }
        Ok(None)
    }

    /// Ends a delivery attempt, if `owner` still holds the row. Returns whether it did.
    pub async fn end_mail(
        &self,
        id: &str,
        owner: &str,
        end: MailEnd<'_>,
        now: i64,
    ) -> sqlx::Result<bool> {
        let sql = "UPDATE outbox SET state = $1, not_before = COALESCE($2, not_before), last_error = $3, \
                   transport = COALESCE($4, transport), subject = COALESCE($5, subject), sent_at = $6, \
                   attempts = attempts - $7, lease_owner = NULL, lease_until = NULL, updated_at = $8 \
                   WHERE id = $9 AND lease_owner = $10 AND state = 'sending'";
        let (state, not_before, error, transport, subject, sent_at, refund) = match end {
            MailEnd::Sent { transport, subject } => (
                "sent",
                None,
                None,
                Some(transport),
                Some(subject),
                Some(now),
                0,
            ),
            MailEnd::Skipped { reason } => ("skipped", None, Some(reason), None, None, None, 0),
            MailEnd::Failed { error } => ("failed", None, Some(error), None, None, None, 0),
            MailEnd::Retry { error, not_before } => (
                "pending",
                Some(not_before),
                Some(error),
                None,
                None,
                None,
                0,
            ),
            MailEnd::Later { not_before } => {
                ("pending", Some(not_before), None, None, None, None, 1)
            }
        };
        let done = sqlx::query(sql)
            .bind(state)
            .bind(not_before)
            .bind(error)
            .bind(transport)
            .bind(subject)
            .bind(sent_at)
            .bind(refund)
            .bind(now)
            .bind(id)
            .bind(owner)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Drops sealed secrets from a message's payload once it is settled.
    pub async fn clear_mail_payload(&self, id: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE outbox SET payload = '{}' WHERE id = $1 AND state <> 'sending'")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Puts a message in the demo mailbox.
    pub async fn deliver_to_mailbox(
        &self,
        id: &str,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
        now: i64,
    ) -> sqlx::Result<()> {
        // The outbox id: a message delivered twice (a crash before it was marked sent) is
        // kept once.
        sqlx::query(
            "INSERT INTO mailbox (id, to_addr, subject, text_body, html_body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(to)
        .bind(subject)
        .bind(text)
        .bind(html)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The demo mailbox, newest first.
    pub async fn mailbox(&self, limit: i64) -> sqlx::Result<Vec<MailboxMessage>> {
        let rows = sqlx::query(
            "SELECT id, to_addr, subject, text_body, html_body, created_at FROM mailbox \
             ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MailboxMessage {
                    id: row.try_get(0)?,
                    to_addr: row.try_get(1)?,
                    subject: row.try_get(2)?,
                    text_body: row.try_get(3)?,
                    html_body: row.try_get(4)?,
                    created_at: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// Forgets settled messages and used or expired tokens older than `before`.
    pub async fn prune_mail(&self, before: i64) -> sqlx::Result<u64> {
        let mut gone = 0;
        for sql in [
            "DELETE FROM outbox WHERE state IN ('sent', 'skipped', 'failed') AND updated_at < $1",
            "DELETE FROM email_tokens WHERE expires_at < $1",
            "DELETE FROM mailbox WHERE created_at < $1",
        ] {
            gone += sqlx::query(sql)
                .bind(before)
                .execute(self.pool())
                .await?
                .rows_affected();
        }
        Ok(gone)
    }

    pub async fn outbox_figures(&self, now: i64) -> sqlx::Result<OutboxFigures> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')) AS pending, \
               (SELECT MIN(created_at) FROM outbox WHERE state IN ('pending', 'sending')) AS oldest, \
               (SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND sent_at >= $1) AS sent, \
               (SELECT COUNT(*) FROM outbox WHERE state = 'failed' AND updated_at >= $1) AS failed",
        )
        .bind(now - 24 * 3_600_000)
        .fetch_one(self.pool())
        .await?;
        let oldest: Option<i64> = row.try_get("oldest")?;
        Ok(OutboxFigures {
            pending: row.try_get("pending")?,
            oldest_pending_ms: oldest.map_or(0, |at| (now - at).max(0)),
            sent_24h: row.try_get("sent")?,
            failed_24h: row.try_get("failed")?,
        })
    }

    /// The last errors of messages given up on in the last day, newest first.
    pub async fn recent_mail_failures(&self, now: i64, limit: i64) -> sqlx::Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT last_error FROM outbox WHERE state = 'failed' AND updated_at >= $1 \
             ORDER BY updated_at DESC LIMIT $2",
        )
        .bind(now - 24 * 3_600_000)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<Option<String>, _>(0)?.unwrap_or_default()))
            .collect()
    }

    pub async fn notify_prefs(&self, user_id: &str) -> sqlx::Result<Option<NotifyPrefs>> {
        let row = sqlx::query(
            "SELECT notify_purchases, notify_failures, notify_funds, notify_weekly FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(NotifyPrefs {
                purchases: row.try_get::<i64, _>(0)? != 0,
                failures: row.try_get::<i64, _>(1)? != 0,
                funds: row.try_get::<i64, _>(2)? != 0,
                weekly: row.try_get::<i64, _>(3)? != 0,
            })
        })
        .transpose()
    }

    pub async fn set_notify_prefs(
        &self,
        user_id: &str,
        prefs: NotifyPrefs,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET notify_purchases = $1, notify_failures = $2, notify_funds = $3, \
             notify_weekly = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(i64::from(prefs.purchases))
        .bind(i64::from(prefs.failures))
        .bind(i64::from(prefs.funds))
        .bind(i64::from(prefs.weekly))
        .bind(now)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether a token is unused, unexpired and for `purpose` (without using it).
    pub async fn token_usable(
        &self,
        token_hash: &str,
        purpose: &str,
        now: i64,
    ) -> sqlx::Result<bool> {
        Ok(self.token_user(token_hash, purpose, now).await?.is_some())
    }

    /// Records that the event behind `dedupe_key` needed no message (a check that found
    /// nothing to say), so it is not checked again.
    pub async fn note_no_mail(
        &self,
        kind: &str,
        user_id: &str,
        dedupe_key: &str,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO outbox (id, kind, user_id, dedupe_key, payload, state, not_before, last_error, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, '{}', 'skipped', $5, 'nothing to say', $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(kind)
        .bind(user_id)
        .bind(dedupe_key)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Whether a message with this dedupe key was ever written (and not yet pruned).
    pub async fn outbox_has(&self, dedupe_key: &str) -> sqlx::Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM outbox WHERE dedupe_key = $1")
            .bind(dedupe_key)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }

    /// The user's other unsent summaries (`pending` or `sending`) of the plan's missed
    /// scheduled slots: their outbox ids and slot times.
    pub async fn missed_siblings(
        &self,
        user_id: &str,
        plan_id: &str,
        except: &str,
    ) -> sqlx::Result<Vec<(String, i64)>> {
        sqlx::query_as(
            "SELECT o.id, s.slot_at FROM outbox o JOIN slots s ON s.id = SUBSTR(o.dedupe_key, 6) \
             WHERE o.user_id = $1 AND o.kind = 'slot' AND o.state IN ('pending', 'sending') \
             AND o.id <> $3 AND o.dedupe_key LIKE 'slot:%' \
             AND s.plan_id = $2 AND s.kind = 'scheduled' AND s.state = 'missed'",
        )
        .bind(user_id)
        .bind(plan_id)
        .bind(except)
        .fetch_all(self.pool())
        .await
    }

    /// Takes the unsent summaries `ids` into the message of outbox row `lead`, which
    /// `owner` must still hold (else `None`: it was taken into another's message, or its
    /// lease ran out). They are skipped, saying so, whoever was about to send them (a
    /// sender only waits on such a row: only the earliest sends); what they had taken
    /// moves with them. Returns the slot times of every summary taken into `lead` so far
    /// (an earlier try of it may have taken some).
    pub async fn take_into(
        &self,
        lead: &str,
        owner: &str,
        user_id: &str,
        ids: &[String],
        now: i64,
    ) -> sqlx::Result<Option<Vec<i64>>> {
        let marker = format!("listed in the e-mail of outbox row {lead}");
        let mut tx = self.pool().begin().await?;
        // Written first: SQLite takes its write lock here, and the lead is checked under it.
        let held = sqlx::query(
            "UPDATE outbox SET updated_at = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'sending'",
        )
        .bind(now)
        .bind(lead)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if held == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        for id in ids {
            let took = sqlx::query(
                "UPDATE outbox SET state = 'skipped', last_error = $1, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $2 WHERE id = $3 AND state IN ('pending', 'sending')",
            )
            .bind(&marker)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if took == 0 {
                // Sent (or settled) meanwhile: what it listed stays with it.
                continue;
            }
            sqlx::query(
                "UPDATE outbox SET last_error = $1, updated_at = $2 WHERE user_id = $3 \
                 AND state = 'skipped' AND last_error = $4",
            )
            .bind(&marker)
            .bind(now)
            .bind(user_id)
            .bind(format!("listed in the e-mail of outbox row {id}"))
            .execute(&mut *tx)
            .await?;
        }
        let taken = sqlx::query_scalar(
            "SELECT s.slot_at FROM outbox o JOIN slots s ON s.id = SUBSTR(o.dedupe_key, 6) \
             WHERE o.user_id = $1 AND o.state = 'skipped' AND o.last_error = $2 ORDER BY s.slot_at",
        )
        .bind(user_id)
        .bind(&marker)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(taken))
    }

    /// What a purchase summary needs of its slot.
    pub async fn slot_brief(&self, slot_id: &str) -> sqlx::Result<Option<SlotBrief>> {
        let row =
            sqlx::query("SELECT plan_id, slot_at, state, reason, kind FROM slots WHERE id = $1")
                .bind(slot_id)
                .fetch_optional(self.pool())
                .await?;
        row.map(|row| {
            Ok(SlotBrief {
                plan_id: row.try_get(0)?,
                slot_at: row.try_get(1)?,
                state: row.try_get(2)?,
                reason: row.try_get(3)?,
                kind: row.try_get(4)?,
            })
        })
        .transpose()
    }

    /// Users who want the weekly summary and have a plan that is not deleted.
    pub async fn weekly_candidates(&self) -> sqlx::Result<Vec<super::users::UserRecord>> {
        sqlx::query(&format!(
            "SELECT {} FROM users WHERE notify_weekly = 1 AND disabled_at IS NULL \
             AND EXISTS (SELECT 1 FROM plans p WHERE p.user_id = users.id AND p.deleted_at IS NULL)",
            super::users::COLUMNS
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(super::users::from_row)
        .collect()
    }

    /// Dollars bought (filled quantity × price) by the user's purchases filled since
    /// `since`, and how many purchases bought something.
    pub async fn invested(
        &self,
        user_id: &str,
        since: i64,
    ) -> sqlx::Result<(rust_decimal::Decimal, i64)> {
        let rows = sqlx::query(
            "SELECT qty, price FROM purchases WHERE user_id = $1 AND status IN ('filled', 'partially_filled') \
             AND side = 'buy' AND filled_at >= $2",
        )
        .bind(user_id)
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let mut total = rust_decimal::Decimal::ZERO;
        let mut count = 0;
        for row in rows {
            let qty: Option<String> = row.try_get(0)?;
            let price: Option<String> = row.try_get(1)?;
            if let (Some(qty), Some(price)) = (qty, price)
                && let (Ok(qty), Ok(price)) = (
                    qty.parse::<rust_decimal::Decimal>(),
                    price.parse::<rust_decimal::Decimal>(),
                )
            {
                total += app::domain::market::round_cents(qty * price);
                count += 1;
            }
        }
        Ok((total, count))
    }

    /// Marks a user's address verified (keeps the first time).
    pub async fn mark_verified(
        tx: &mut sqlx::AnyConnection,
        user_id: &str,
        now: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1), updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}
