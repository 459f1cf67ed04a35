//! Notifications: what a finished purchase did (or why it failed), "not enough buying power
//! for tomorrow's purchase" a day ahead, and the weekly summary. Each is an outbox row with
//! a dedupe key (one message per slot, per user and first slot short of money, per user and
//! week); the message is written when it is sent, from the data then, and only if the user
//! still wants that topic.

use super::{Composed, MailService, NewMail, Outgoing, kind, templates};
use crate::broker::Broker as _;
use crate::db::mail::OutboxRow;
use crate::db::users::UserRecord;
use app::domain::lifecycle::{PurchaseStatus, SkipReason, SlotState};
use app::domain::time::Clock;
use rust_decimal::Decimal;
use serde::Serialize;
use std::sync::Arc;

/// The topics a user can turn off (Settings, and the unsubscribe link).
pub const TOPICS: [&str; 4] = ["purchases", "failures", "funds", "weekly"];

/// How long a missed slot's message waits for a catch-up to make the slots after it.
const MISSED_GATHER_MS: i64 = 60_000;

/// The zone times are written in when the user chose none.
const DEFAULT_ZONE: &str = "America/New_York";
/// The weekly summary goes out on Saturday from this hour, the user's time.
const WEEKLY_HOUR: i8 = 9;

/// Writes notification messages; needs the brokers for balances and values.
#[derive(Clone, Default)]
pub struct Notifier {
    brokers: Option<Arc<crate::broker::directory::BrokerDirectory>>,
    /// The market's clock (the demo market's in demo mode): slot times, "tomorrow".
    clock: Option<Arc<dyn Clock>>,
}

impl Notifier {
    pub fn new(
        brokers: Arc<crate::broker::directory::BrokerDirectory>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            brokers: Some(brokers),
            clock: Some(clock),
        }
    }

    fn market_now(&self, wall: i64) -> i64 {
        self.clock.as_ref().map_or(wall, |c| c.now().millis())
    }

    pub(super) async fn compose(
        &self,
        mail: &MailService,
        row: &OutboxRow,
        user: &UserRecord,
        payload: &serde_json::Value,
        now: i64,
    ) -> anyhow::Result<Composed> {
        // Never to an address its owner has not confirmed: anyone could sign up with it.
        if user.email_verified_at.is_none() {
            return Ok(Composed::Skip("the address is not verified".to_owned()));
        }
        let prefs = mail
            .db()
            .notify_prefs(&user.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the user is gone"))?;
        let (topic, subject, context) = match row.kind.as_str() {
            kind::SLOT => {
                let Some(slot_id) = payload.get("slot_id").and_then(|v| v.as_str()) else {
                    anyhow::bail!("the message names no slot");
                };
                let failures_wanted = prefs.wants("failures");
                match self
                    .slot_summary(mail, row, user, slot_id, failures_wanted, now)
                    .await?
                {
                    SlotMail::Send {
                        failed,
                        subject,
                        context,
                    } => (
                        if failed { "failures" } else { "purchases" },
                        subject,
                        context,
                    ),
                    SlotMail::Skip(reason) => return Ok(Composed::Skip(reason)),
                    SlotMail::Later(at) => return Ok(Composed::Later(at)),
                }
            }
            kind::FUNDS => {
                let subject = "Not enough buying power for your next purchase".to_owned();
                ("funds", subject, payload.clone())
            }
            kind::WEEKLY => {
                let (subject, context) = self.weekly(mail, user, payload, now).await?;
                ("weekly", subject, context)
            }
            other => anyhow::bail!("unknown kind of e-mail {other:?}"),
        };
        if !prefs.wants(topic) {
            return Ok(Composed::Skip(format!(
                "the user turned off {topic} e-mails"
            )));
        }
        let unsubscribe = mail.unsubscribe_link(&user.id, topic);
        let mut context = context;
        if let Some(map) = context.as_object_mut() {
            map.insert("email".into(), user.email.clone().into());
            map.insert("origin".into(), mail.origin().into());
            map.insert("unsubscribe_url".into(), unsubscribe.clone().into());
            map.insert("subject".into(), subject.clone().into());
        }
        let name = row.kind.as_str();
        Ok(Composed::Send(Box::new(Outgoing {
            to: user.email.clone(),
            text: templates::render(&format!("mail/{name}.txt"), &context)?,
            html: templates::render(&format!("mail/{name}.html"), &context)?,
            subject,
            unsubscribe: Some(unsubscribe),
        })))
    }

    async fn slot_summary(
        &self,
        mail: &MailService,
        row: &OutboxRow,
        user: &UserRecord,
        slot_id: &str,
        failures_wanted: bool,
        now: i64,
    ) -> anyhow::Result<SlotMail> {
        let db = mail.db();
        let Some(slot) = db.slot_brief(slot_id).await? else {
            return Ok(SlotMail::Skip("the purchase no longer exists".to_owned()));
        };
        let purchases = db.purchases_of_slot(slot_id).await?;
        let state = SlotState::parse(&slot.state);
        let paused = !purchases.is_empty()
            && purchases.iter().all(|p| {
                p.status == PurchaseStatus::Skipped
                    && p.skip_reason == Some(SkipReason::PlanInactive)
            });
        if paused && state == Some(SlotState::Done) {
            return Ok(SlotMail::Skip("the plan was not running".to_owned()));
        }
        // Only a bot's run ends done without a purchase: a day it did not trade.
        if purchases.is_empty() && state == Some(SlotState::Done) {
            return Ok(SlotMail::Skip("a bot's day without a trade".to_owned()));
        }
        let failed = matches!(state, Some(SlotState::Missed | SlotState::Failed))
            || purchases
                .iter()
                .any(|p| p.status.is_problem() || p.status == PurchaseStatus::Missed);
        if !failed
            && purchases.iter().any(|p| p.status.is_open())
            && now - row.created_at < super::SUMMARY_WAIT_MS
        {
            return Ok(SlotMail::Later(now + 60_000));
        }
        // Scheduled slots missed one after another (the server was down for days; a
        // catch-up makes and runs them a moment apart) make one message. It waits a minute
        // for the catch-up; then the earliest unsent one takes every later unsent one of
        // the plan into its message (they are skipped, saying so), and the others wait for
        // it. So each missed slot is in exactly one message.
        let mut missed_run = Vec::new();
        if state == Some(SlotState::Missed) && slot.kind == "scheduled" {
            if now - row.created_at < MISSED_GATHER_MS {
                return Ok(SlotMail::Later(row.created_at + MISSED_GATHER_MS));
            }
            let siblings = db.missed_siblings(&user.id, &slot.plan_id, &row.id).await?;
            if siblings.iter().any(|(_, at)| *at < slot.slot_at) {
                return Ok(SlotMail::Later(now + MISSED_GATHER_MS / 2));
            }
            // The user's choice first: nothing is marked as listed in a message not sent.
            if !failures_wanted {
                return Ok(SlotMail::Skip(
                    "the user turned off failures e-mails".to_owned(),
                ));
            }
            let ids: Vec<String> = siblings.into_iter().map(|(id, _)| id).collect();
            let owner = row.lease_owner.as_deref().unwrap_or_default();
            let Some(taken) = db.take_into(&row.id, owner, &user.id, &ids, now).await? else {
                // Taken into an earlier missed purchase's message meanwhile (it is settled
                // already), or the lease ran out (another sender has it).
                return Ok(SlotMail::Later(now + MISSED_GATHER_MS / 2));
            };
            missed_run = taken;
            missed_run.push(slot.slot_at);
            missed_run.sort_unstable();
        }
        let plan = db.plan_even_deleted(&slot.plan_id, &user.id).await?;
        let plan_name = plan
            .as_ref()
            .map_or("(deleted)".to_owned(), |p| p.name.clone());
        let zone = zone_of(user, plan.as_ref());
        let next_run = plan
            .as_ref()
            .filter(|p| p.status == "active")
            .and_then(|p| p.next_run_at)
            .map(|at| local_time(at, &zone));
        let (mut bought, mut sold) = (Decimal::ZERO, Decimal::ZERO);
        let rows: Vec<SlotLine> = purchases
            .iter()
            .map(|p| {
                let spent = match (p.qty, p.price) {
                    (Some(qty), Some(price)) if p.status.bought() => {
                        app::domain::market::round_cents(qty * price)
                    }
                    _ => Decimal::ZERO,
                };
                let written_off = p.client_order_id.is_write_off();
                if written_off {
                    // Not a sale: the books no longer count shares the account lacks.
                } else if p.side == app::domain::order::Side::Sell {
                    sold += spent;
                } else {
                    bought += spent;
                }
                SlotLine {
                    symbol: p.symbol.to_string(),
                    amount: money(p.notional),
                    state: match (p.side, p.status) {
                        _ if written_off => "Written off",
                        (app::domain::order::Side::Sell, PurchaseStatus::Filled) => "Sold",
                        (app::domain::order::Side::Sell, PurchaseStatus::PartiallyFilled) => {
                            "Sold in part; the rest of the order was canceled"
                        }
                        _ => p.status.words(),
                    }
                    .to_owned(),
                    qty: (p.status.bought() || written_off)
                        .then(|| p.qty.map(|q| q.normalize().to_string()))
                        .flatten(),
                    price: p.price.map(money),
                    reason: p
                        .reason
                        .clone()
                        .or_else(|| p.skip_reason.map(|r| skip_words(r).to_owned())),
                }
            })
            .collect();
        let mut rows = rows;
        if rows.is_empty() {
            rows.push(SlotLine {
                symbol: plan_name.clone(),
                amount: String::new(),
                state: state
                    .map_or("—", |s| match s {
                        SlotState::Missed => "Missed",
                        SlotState::Failed => "Failed",
                        _ => "Done",
                    })
                    .to_owned(),
                qty: None,
                price: None,
                reason: slot.reason.clone(),
            });
        }
        let bot = plan.as_ref().is_some_and(|p| p.mode == "discretionary");
        // A bot's manual slot is its closing sale (a failed one may have no sale row).
        let selling = purchases
            .iter()
            .any(|p| p.side == app::domain::order::Side::Sell && !p.client_order_id.is_write_off())
            || (bot && slot.kind == "manual");
        let filled_at = purchases
            .iter()
            .filter(|p| !p.client_order_id.is_write_off())
            .filter_map(|p| p.filled_at)
            .max();
        let written_off = purchases.iter().any(|p| p.client_order_id.is_write_off());
        let ordered = purchases.iter().any(|p| p.status.is_open());
        let subject = if missed_run.len() > 1 {
            format!(
                "{} {} of \"{plan_name}\" were missed",
                missed_run.len(),
                if bot { "evaluations" } else { "purchases" }
            )
        } else if failed && selling {
            format!("A sale by your bot \"{plan_name}\" did not go through")
        } else if failed && bot {
            format!("A run of your bot \"{plan_name}\" did not go through")
        } else if failed {
            format!("A purchase of \"{plan_name}\" did not go through")
        } else if sold > Decimal::ZERO {
            format!("Your bot \"{plan_name}\" sold ${}", money(sold))
        } else if bot && bought > Decimal::ZERO {
            format!("Your bot \"{plan_name}\" bought ${}", money(bought))
        } else if bot && ordered {
            format!("Your bot \"{plan_name}\" placed an order")
        } else if bot && written_off {
            format!("Your bot \"{plan_name}\" wrote off shares the account no longer holds")
        } else if bot {
            format!("Your bot \"{plan_name}\" did not trade")
        } else {
            format!("Your plan \"{plan_name}\" ran: ${} bought", money(bought))
        };
        // A bot's order is for the next open: it traded when it filled, not at its slot
        // (a summary sent before the fill says the order waits).
        let (when, bot_state) = match filled_at {
            Some(at) if bot => (at, "traded"),
            _ if bot && ordered => (slot.slot_at, "ordered"),
            _ => (slot.slot_at, "ran"),
        };
        let context = serde_json::json!({
            "plan": plan_name,
            "when": format!("on {}", local_time(when, &zone)),
            "rows": rows,
            "bought": (bought > Decimal::ZERO).then(|| money(bought)),
            "sold": (sold > Decimal::ZERO).then(|| money(sold)),
            "failed": failed,
            "selling": selling,
            "bot": bot,
            "bot_state": bot_state,
            // More than one missed in a row: each one's time.
            "missed": (missed_run.len() > 1).then(|| {
                missed_run
                    .iter()
                    .map(|at| local_time(*at, &zone))
                    .collect::<Vec<_>>()
            }),
            "plan_id": slot.plan_id,
            "next_run": next_run,
        });
        Ok(SlotMail::Send {
            failed,
            subject,
            context,
        })
    }

    /// One pass of the periodic notifications: buying power a day ahead, and the weekly
    /// summaries due. Returns how many messages it wrote.
    pub async fn pass(&self, mail: &MailService) -> anyhow::Result<usize> {
        let wall = mail.now();
        let now = self.market_now(wall);
        let mut written = 0;
        written += self.funds_pass(mail, now, wall).await?;
        written += self.weekly_pass(mail, now, wall).await?;
        if written > 0 {
            mail.wake();
        }
        Ok(written)
    }

    async fn funds_pass(&self, mail: &MailService, now: i64, wall: i64) -> anyhow::Result<usize> {
        let Some(brokers) = &self.brokers else {
            return Ok(0);
        };
        let db = mail.db();
        let due = db.plans_due_within(now, now + 24 * 3_600_000).await?;
        let mut written = 0;
        let mut users: Vec<&str> = due.iter().map(|p| p.user_id.as_str()).collect();
        users.dedup();
        for user_id in users {
            let plans: Vec<_> = due.iter().filter(|p| p.user_id == user_id).collect();
            let first = plans
                .iter()
                .filter_map(|p| p.next_run_at)
                .min()
                .unwrap_or(now);
            let key = format!("funds:{user_id}:{first}");
            if db.outbox_has(&key).await? {
                continue;
            }
            if !db.notify_prefs(user_id).await?.is_some_and(|p| p.funds) {
                continue;
            }
            let mut needed = Decimal::ZERO;
            for plan in &plans {
                if let Ok(plan) = (*plan).clone().into_plan() {
                    needed += plan.legs.iter().map(|l| l.amount).sum::<Decimal>();
                }
            }
            let (broker, account) = match brokers.account_for(user_id).await {
                Ok(found) => found,
                Err(_) => continue,
            };
            let Ok(snapshot) = broker.account().await else {
                continue;
            };
            if snapshot.buying_power >= needed {
                // Checked once per upcoming purchase, not at every pass.
                db.note_no_mail(kind::FUNDS, user_id, &key, wall).await?;
                continue;
            }
            let user = db.user_by_id(user_id).await?;
            let Some(user) = user else { continue };
            let named = plans[0];
            let zone = zone_of(&user, Some(named));
            let plan_name = if plans.len() > 1 {
                format!("{} (and {} more)", named.name, plans.len() - 1)
            } else {
                named.name.clone()
            };
            let context = serde_json::json!({
                "plan": plan_name,
                "needed": money(needed),
                "available": money(snapshot.buying_power.max(Decimal::ZERO)),
                "when": format!("on {}", local_time(first, &zone)),
                "account": if account == "demo" { "paper" } else if account.starts_with("live") { "live" } else { "paper" },
                "several": plans.len() > 1,
            });
            if db
                .enqueue_mail(
                    &NewMail {
                        kind: kind::FUNDS,
                        user_id: Some(user_id.to_owned()),
                        dedupe_key: Some(key),
                        payload: context,
                        not_before: wall,
                    },
                    wall,
                )
                .await?
            {
                written += 1;
            }
        }
        Ok(written)
    }

    async fn weekly_pass(&self, mail: &MailService, now: i64, wall: i64) -> anyhow::Result<usize> {
        let db = mail.db();
        let mut written = 0;
        for user in db.weekly_candidates().await? {
            let zone = user
                .timezone
                .clone()
                .unwrap_or_else(|| DEFAULT_ZONE.to_owned());
            let Ok(tz) = jiff::tz::TimeZone::get(&zone) else {
                continue;
            };
            let local = tz.to_datetime(jiff::Timestamp::from_millisecond(now)?);
            if local.weekday() != jiff::civil::Weekday::Saturday || local.hour() < WEEKLY_HOUR {
                continue;
            }
            let week = local.date().iso_week_date();
            let label = format!("{}-W{:02}", week.year(), week.week());
            // From Saturday 00:00 a week back: the purchases this summary counts.
            let week_start = tz
                .to_timestamp(
                    local
                        .date()
                        .checked_sub(jiff::Span::new().days(6))?
                        .to_datetime(jiff::civil::Time::midnight()),
                )?
                .as_millisecond();
            if db
                .enqueue_mail(
                    &NewMail {
                        kind: kind::WEEKLY,
                        user_id: Some(user.id.clone()),
                        dedupe_key: Some(format!("weekly:{}:{label}", user.id)),
                        payload: serde_json::json!({ "week": label, "since": week_start }),
                        not_before: wall,
                    },
                    wall,
                )
                .await?
            {
                written += 1;
            }
        }
        Ok(written)
    }

    async fn weekly(
        &self,
        mail: &MailService,
        user: &UserRecord,
        payload: &serde_json::Value,
        _now: i64,
    ) -> anyhow::Result<(String, serde_json::Value)> {
        let db = mail.db();
        let week = payload
            .get("week")
            .and_then(|w| w.as_str())
            .unwrap_or_default();
        let since = payload.get("since").and_then(|s| s.as_i64()).unwrap_or(0);
        let invested = db.invested(&user.id, 0).await?;
        let this_week = db.invested(&user.id, since).await?;
        let plans = db.plans_of(&user.id).await?;
        let symbols: Vec<String> = plans
            .iter()
            .filter_map(|p| p.clone().into_plan().ok())
            .flat_map(|p| p.legs.into_iter().map(|l| l.symbol.to_string()))
            .collect();
        let mut value = None;
        let mut gain = None;
        let mut gain_pct = None;
        let mut value_reason = "the broker did not answer";
        if let Some(brokers) = &self.brokers
            && let Ok(broker) = brokers.broker_for(&user.id).await
        {
            match broker.positions().await {
                Ok(positions) => {
                    let held: Vec<_> = positions
                        .iter()
                        .filter(|p| symbols.contains(&p.symbol.to_string()))
                        .collect();
                    let market: Option<Decimal> = held.iter().map(|p| p.market_value).sum();
                    let cost: Decimal = held.iter().map(|p| p.cost_basis).sum();
                    if let Some(market) = market {
                        value = Some(money(market));
                        let change = market - cost;
                        gain = Some(signed_money(change));
                        if cost > Decimal::ZERO {
                            gain_pct = Some(format!(
                                "{}{}%",
                                if change >= Decimal::ZERO { "+" } else { "" },
                                (change / cost * Decimal::ONE_HUNDRED).round_dp(2)
                            ));
                        }
                    } else {
                        value_reason = "no prices yet";
                    }
                }
                Err(_) => value_reason = "the broker did not answer",
            }
        }
        let zone = zone_of(user, None);
        let mut next: Vec<(i64, serde_json::Value)> = plans
            .iter()
            .filter(|p| p.status == "active")
            .filter_map(|p| {
                let at = p.next_run_at?;
                let plan = p.clone().into_plan().ok()?;
                let amount: Decimal = plan.legs.iter().map(|l| l.amount).sum();
                Some((
                    at,
                    serde_json::json!({
                        "plan": p.name,
                        "amount": money(amount),
                        "when": format!("on {}", local_time(at, &zone)),
                    }),
                ))
            })
            .collect();
        next.sort_by_key(|(at, _)| *at);
        let context = serde_json::json!({
            "week": week,
            "invested": money(invested.0),
            "invested_week": money(this_week.0),
            "purchases_week": this_week.1,
            "value": value,
            "value_reason": value_reason,
            "gain": gain,
            "gain_pct": gain_pct,
            "next": next.into_iter().map(|(_, v)| v).take(10).collect::<Vec<_>>(),
        });
        Ok((
            format!("Your QuantShift week: ${} invested", money(this_week.0)),
            context,
        ))
    }
}

enum SlotMail {
    Send {
        failed: bool,
        subject: String,
        context: serde_json::Value,
    },
    Skip(String),
    Later(i64),
}

#[derive(Serialize)]
struct SlotLine {
    symbol: String,
    amount: String,
    state: String,
    qty: Option<String>,
    price: Option<String>,
    reason: Option<String>,
}

fn skip_words(reason: SkipReason) -> &'static str {
    match reason {
        SkipReason::ConditionNotMet => "The plan's Smart DCA condition did not hold.",
        SkipReason::PlanInactive => "The plan was paused or stopped.",
        SkipReason::BrokerUnavailable => "The broker account could not be reached.",
    }
}

/// Dollars with cents and thousands separators (`1,234.50`).
pub fn money(amount: Decimal) -> String {
    let text = format!("{:.2}", amount.round_dp(2).abs());
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount.round_dp(2) < Decimal::ZERO {
        "-"
    } else {
        ""
    };
    format!("{sign}{grouped}.{cents}")
}

fn signed_money(amount: Decimal) -> String {
    if amount < Decimal::ZERO {
        format!("-${}", money(-amount))
    } else {
        format!("+${}", money(amount))
    }
}

/// The zone a user's times are written in: theirs, else the plan's, else New York's.
fn zone_of(user: &UserRecord, plan: Option<&crate::dca::PlanRow>) -> String {
    user.timezone
        .clone()
        .or_else(|| {
            plan.and_then(|p| p.clone().into_plan().ok())
                .map(|p| p.schedule.timezone)
        })
        .unwrap_or_else(|| DEFAULT_ZONE.to_owned())
}

/// `Mon 30 Nov 2026, 10:00 EST` in `zone`.
pub fn local_time(ms: i64, zone: &str) -> String {
    let Ok(at) = jiff::Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let info = tz.to_offset_info(at);
    format!(
        "{} {}",
        tz.to_datetime(at).strftime("%a %-d %b %Y, %H:%M"),
        info.abbreviation()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_cents_and_separators() {
        assert_eq!(money(Decimal::new(123_450, 2)), "1,234.50");
        assert_eq!(money(Decimal::new(5, 0)), "5.00");
        assert_eq!(money(Decimal::new(-1_000_000, 0)), "-1,000,000.00");
        assert_eq!(signed_money(Decimal::new(-125, 1)), "-$12.50");
        assert_eq!(signed_money(Decimal::new(3, 0)), "+$3.00");
    }

    #[test]
    fn times_are_written_in_the_zone() {
        // 2026-11-30T15:00:00Z is 10:00 in New York.
        let ms = 1_796_050_800_000;
        assert_eq!(
            local_time(ms, "America/New_York"),
            "Mon 30 Nov 2026, 10:00 EST"
        );
        assert_eq!(local_time(ms, "Asia/Tokyo"), "Tue 1 Dec 2026, 00:00 JST");
    }
}
