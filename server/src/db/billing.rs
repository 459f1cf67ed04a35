//! Stripe billing's tables: the user's Stripe customer, their subscriptions as Stripe last
//! described them, and the webhook events already applied. One event is one transaction:
//! it is recorded, applied and the user's tier recomputed together, or not at all.

use super::Db;
use super::audit::{AuditAction, AuditEntry, insert_audit};
use app::domain::tier::Tier;
use app::domain::time::Timestamp;
use sqlx::Row as _;

/// Subscription states that grant their tier (`past_due` with a warning).
pub const GRANTING: [&str; 3] = ["trialing", "active", "past_due"];

/// A subscription as one webhook event describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionState {
    pub id: String,
    pub customer_id: String,
    /// `metadata.user_id`, set by our checkout.
    pub user_hint: Option<String>,
    pub price_id: String,
    /// What the price buys; `None` for a price this install does not sell.
    pub tier: Option<Tier>,
    pub status: String,
    pub current_period_end_ms: Option<i64>,
    pub cancel_at_period_end: bool,
    /// Stripe's `created`, epoch seconds.
    pub created: i64,
}

/// What one webhook event changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A checkout completed: the user (`client_reference_id`) is this customer.
    LinkCustomer {
        user_id: String,
        customer_id: String,
    },
    Subscription(SubscriptionState),
    /// An invoice of the subscription was paid (`past_due` → `active`) or failed
    /// (`active`/`trialing` → `past_due`).
    Invoice {
        subscription_id: String,
        paid: bool,
    },
    /// An event type the app does not act on: only recorded.
    Ignored,
}

/// The webhook event being applied.
#[derive(Clone, Debug)]
pub struct EventRecord<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    /// Stripe's `created`, epoch seconds: orders events per subscription.
    pub created: i64,
    pub received_at: Timestamp,
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The event id was applied before: nothing changed. `user_id`: whom it was about, if
    /// known (the follow-up work, pausing and cancelling, runs again for them).
    Replay { user_id: Option<String> },
    /// Recorded; nothing to change (older than what was applied, or not about a user we
    /// know, or an ignored type).
    Nothing { why: &'static str },
    /// Applied to `user_id`, whose tier went from `before` to `after`.
    Changed {
        user_id: String,
        before: Tier,
        after: Tier,
    },
}

/// A user's subscription as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub id: String,
    pub customer_id: String,
    pub price_id: String,
    pub tier: Option<Tier>,
    pub status: String,
    pub current_period_end_ms: Option<i64>,
    pub cancel_at_period_end: bool,
    pub created: i64,
}

impl SubscriptionRecord {
    pub fn grants(&self) -> bool {
        self.tier.is_some() && GRANTING.contains(&self.status.as_str())
    }
}

const SUB_COLUMNS: &str =
    "id, customer_id, price_id, tier, status, current_period_end, cancel_at_period_end, created";

fn sub_from_row(row: &sqlx::any::AnyRow) -> Result<SubscriptionRecord, sqlx::Error> {
    Ok(SubscriptionRecord {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        price_id: row.try_get("price_id")?,
        tier: row
            .try_get::<Option<String>, _>("tier")?
            .as_deref()
            .and_then(Tier::parse),
        status: row.try_get("status")?,
        current_period_end_ms: row.try_get("current_period_end")?,
        cancel_at_period_end: row.try_get::<i64, _>("cancel_at_period_end")? != 0,
        created: row.try_get("created")?,
    })
}

/// The subscription in effect among a user's: the newest one that grants its tier.
pub fn in_effect(subs: &[SubscriptionRecord]) -> Option<&SubscriptionRecord> {
    subs.iter()
        .filter(|s| s.grants())
        .max_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)))
}

impl Db {
    /// The user's subscriptions, newest first.
    pub async fn subscriptions_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<SubscriptionRecord>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM subscriptions WHERE user_id = $1 ORDER BY created DESC, id DESC"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(sub_from_row)
        .collect()
    }

    /// Whose subscription `id` is, if it is known.
    pub async fn subscription_user(&self, id: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT user_id FROM subscriptions WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| row.try_get("user_id")).transpose()
    }

    /// Records that the app cancelled a superseded subscription at Stripe (its own
    /// `deleted` event confirms it later and changes nothing more).
    pub async fn mark_subscription_canceled(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE subscriptions SET status = 'canceled', updated_at = $1 WHERE id = $2")
            .bind(now.millis())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The user's Stripe customer id, once a checkout has created one.
    pub async fn stripe_customer(&self, user_id: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("SELECT stripe_customer_id FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("stripe_customer_id")?,
            None => None,
        })
    }

    /// Records `event` and applies `change` in one transaction; a replayed event id
    /// changes nothing.
    pub async fn apply_stripe_event(
        &self,
        event: &EventRecord<'_>,
        change: &Change,
    ) -> Result<Applied, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        // The first statement writes (SQLite takes its write lock at once).
        let fresh = sqlx::query(
            "INSERT INTO stripe_events (id, type, received_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(event.id)
        .bind(event.kind)
        .bind(event.received_at.millis())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            tx.rollback().await?;
            let user_id = match change {
                Change::Ignored => None,
                Change::LinkCustomer { user_id, .. } => Some(user_id.clone()),
                Change::Subscription(SubscriptionState { id, .. })
                | Change::Invoice {
                    subscription_id: id,
                    ..
                } => self.subscription_user(id).await?,
            };
            return Ok(Applied::Replay { user_id });
        }
        let now = event.received_at.millis();
        let user_id = match change {
            Change::Ignored => None,
            Change::LinkCustomer {
                user_id,
                customer_id,
            } => {
                let linked = link_customer(&mut tx, user_id, customer_id, now).await?;
                linked.then(|| user_id.clone())
            }
            Change::Subscription(state) => {
                upsert_subscription(&mut tx, state, event.created, now).await?
            }
            Change::Invoice {
                subscription_id,
                paid,
            } => invoice(&mut tx, subscription_id, *paid, event.created, now).await?,
        };
        let Some(user_id) = user_id else {
            tx.commit().await?;
            return Ok(Applied::Nothing {
                why: "no change for a known user",
            });
        };
        // One event per user at a time from here: a second one waits, then sees this
        // one's subscription (two checkouts' events must not both think they won).
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        // The tier follows the subscription in effect.
        let before: String = sqlx::query("SELECT tier FROM users WHERE id = $1")
            .bind(&user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("tier")?;
        let before = Tier::parse(&before).unwrap_or(Tier::Free);
        let subs = sqlx::query(&format!(
            "SELECT {SUB_COLUMNS} FROM subscriptions WHERE user_id = $1"
        ))
        .bind(&user_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(sub_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let winner = in_effect(&subs);
        let after = winner.and_then(|s| s.tier).unwrap_or(Tier::Free);
        if let Some(winner) = winner {
            // The portal must open the customer that pays for what is in effect.
            sqlx::query(
                "UPDATE users SET stripe_customer_id = $1 WHERE id = $2 \
                 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.stripe_customer_id = $1 AND u.id <> $2)",
            )
            .bind(&winner.customer_id)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        }
        if after != before {
            sqlx::query("UPDATE users SET tier = $1, updated_at = $2 WHERE id = $3")
                .bind(after.as_str())
                .bind(now)
                .bind(&user_id)
                .execute(&mut *tx)
                .await?;
            insert_audit(
                &mut *tx,
                AuditEntry {
                    at: event.received_at,
                    actor_user_id: None,
                    action: AuditAction::TierChanged,
                    subject: Some(&user_id),
                    ip: None,
                    detail: serde_json::json!({
                        "by": "stripe",
                        "event": event.id,
                        "type": event.kind,
                        "from": before.as_str(),
                        "to": after.as_str(),
                    }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Applied::Changed {
            user_id,
            before,
            after,
        })
    }
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Links the customer to the user unless they already have one; whether the user exists.
async fn link_customer(
    tx: &mut Tx<'_>,
    user_id: &str,
    customer_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "UPDATE users SET stripe_customer_id = $1, updated_at = $2 \
         WHERE id = $3 AND stripe_customer_id IS NULL",
    )
    .bind(customer_id)
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(sqlx::query("SELECT 1 AS one FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}

/// Stores the subscription as the event describes it, unless the stored one is newer;
/// returns its user (`None`: an older event, or a subscription of nobody we know).
async fn upsert_subscription(
    tx: &mut Tx<'_>,
    state: &SubscriptionState,
    event_created: i64,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    let stored =
        sqlx::query("SELECT user_id, status, event_created FROM subscriptions WHERE id = $1")
            .bind(&state.id)
            .fetch_optional(&mut **tx)
            .await?;
    let user_id = match &stored {
        Some(row) => {
            let status: String = row.try_get("status")?;
            let applied: i64 = row.try_get("event_created")?;
            // Older than what was applied, or reviving an ended subscription (final at
            // Stripe), or, within the same second (Stripe's `created` has no finer
            // grain), taking it back to an earlier state: an out-of-order event.
            let tie_back = event_created == applied && stage(&state.status) < stage(&status);
            if event_created < applied || (is_final(&status) && status != state.status) || tie_back
            {
                return Ok(None);
            }
            Some(row.try_get::<String, _>("user_id")?)
        }
        None => find_user(tx, state).await?,
    };
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let written = sqlx::query(&format!(
        "INSERT INTO subscriptions (id, user_id, customer_id, price_id, tier, status, \
         current_period_end, cancel_at_period_end, created, event_created, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (id) DO UPDATE SET price_id = excluded.price_id, tier = excluded.tier, \
         status = excluded.status, current_period_end = excluded.current_period_end, \
         cancel_at_period_end = excluded.cancel_at_period_end, \
         event_created = excluded.event_created, updated_at = excluded.updated_at \
         WHERE subscriptions.event_created <= excluded.event_created \
         AND subscriptions.status NOT IN ('canceled', 'incomplete_expired') \
         AND NOT (subscriptions.event_created = excluded.event_created \
                  AND {STAGE_EXCLUDED} < {STAGE_STORED})",
        STAGE_EXCLUDED = stage_sql("excluded.status"),
        STAGE_STORED = stage_sql("subscriptions.status"),
    ))
    .bind(&state.id)
    .bind(&user_id)
    .bind(&state.customer_id)
    .bind(&state.price_id)
    .bind(state.tier.map(Tier::as_str))
    .bind(&state.status)
    .bind(state.current_period_end_ms)
    .bind(i32::from(state.cancel_at_period_end))
    .bind(state.created)
    .bind(event_created)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if written == 0 {
        // A concurrent, newer event got there first.
        return Ok(None);
    }
    link_customer(tx, &user_id, &state.customer_id, now).await?;
    Ok(Some(user_id))
}

/// The user a subscription seen for the first time belongs to: our checkout's
/// `metadata.user_id`, else the user whose Stripe customer it is.
async fn find_user(
    tx: &mut Tx<'_>,
    state: &SubscriptionState,
) -> Result<Option<String>, sqlx::Error> {
    if let Some(hint) = &state.user_hint {
        let row = sqlx::query("SELECT id FROM users WHERE id = $1")
            .bind(hint)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = row {
            return Ok(Some(row.try_get("id")?));
        }
    }
    let row = sqlx::query("SELECT id FROM users WHERE stripe_customer_id = $1")
        .bind(&state.customer_id)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|row| row.try_get("id")).transpose()
}

async fn invoice(
    tx: &mut Tx<'_>,
    subscription_id: &str,
    paid: bool,
    event_created: i64,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    let Some(row) =
        sqlx::query("SELECT user_id, status, event_created FROM subscriptions WHERE id = $1")
            .bind(subscription_id)
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    let applied: i64 = row.try_get("event_created")?;
    let next = match (paid, status.as_str()) {
        (true, "past_due" | "unpaid" | "incomplete") => "active",
        (false, "active" | "trialing") => "past_due",
        _ => return Ok(None),
    };
    if event_created < applied {
        return Ok(None);
    }
    // Compare-and-set on the status read: a concurrent `deleted` must not be undone.
    let written = sqlx::query(
        "UPDATE subscriptions SET status = $1, event_created = $2, updated_at = $3 \
         WHERE id = $4 AND event_created <= $2 AND status = $5",
    )
    .bind(next)
    .bind(event_created)
    .bind(now)
    .bind(subscription_id)
    .bind(&status)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    (written == 1).then(|| row.try_get("user_id")).transpose()
}

/// Whether Stripe never moves a subscription out of `status`.
fn is_final(status: &str) -> bool {
    matches!(status, "canceled" | "incomplete_expired")
}

/// [`stage`] in SQL, of the status column `column` (the upsert's guard against a
/// concurrent same-second event).
fn stage_sql(column: &str) -> String {
    format!(
        "(CASE {column} WHEN 'incomplete' THEN 0 WHEN 'trialing' THEN 1 WHEN 'active' THEN 1 \
         WHEN 'past_due' THEN 1 WHEN 'unpaid' THEN 2 WHEN 'paused' THEN 2 ELSE 3 END)"
    )
}

/// How far along its life a subscription in `status` is: within one second, an event
/// never takes it back (created `incomplete` arriving after `active`).
fn stage(status: &str) -> u8 {
    match status {
        "incomplete" => 0,
        "trialing" | "active" | "past_due" => 1,
        "unpaid" | "paused" => 2,
        _ => 3,
    }
}
