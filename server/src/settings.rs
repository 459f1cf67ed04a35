//! Platform settings operators change at run time (`SettingsPort`, `/admin/settings`): the
//! announcement every signed-in user sees, and what one purchase of a plan may spend.
//!
//! The values live in the database ([`crate::db::settings`]); each instance keeps the
//! current ones in a [`LiveSettings`] that its services read, refreshed at once on a save
//! here and every [`REFRESH_EVERY`] from the database (another instance's saves). A plan
//! is checked against the limits in force when it is saved or resumed; the scheduler caps
//! carried money with the maximum in force when it runs.

use crate::accounts::AccountService;
use crate::db::Db;
use crate::db::audit::{AuditAction, AuditEntry};
use crate::errors::internal;
use app::api::AppError;
use app::api::dca::PlanLimits;
use app::api::ports::{Caller, SettingsPort};
use app::api::settings::PlatformSettingsView;
use app::domain::time::Clock;
use async_trait::async_trait;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often an instance reads the settings again (another instance may have saved).
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);
const ANNOUNCEMENT_MAX: usize = 280;
/// The most one purchase may be set to spend.
const MAX_PER_SLOT_CEILING: i64 = 1_000_000;

const ANNOUNCEMENT: &str = "announcement";
const PLAN_LIMITS: &str = "plan_limits";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Current {
    announcement: String,
    limits: PlanLimits,
    updated_at: i64,
}

/// The settings in force in this instance, shared by every service that reads them.
#[derive(Clone, Debug, Default)]
pub struct LiveSettings(Arc<RwLock<Current>>);

impl LiveSettings {
    pub fn plan_limits(&self) -> PlanLimits {
        self.0.read().unwrap_or_else(|e| e.into_inner()).limits
    }

    pub fn announcement(&self) -> String {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .announcement
            .clone()
    }

    fn current(&self) -> Current {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, current: Current) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = current;
    }
}

/// The settings the database holds (defaults for keys never saved, or unreadable ones).
fn read(rows: &[(String, String, i64)]) -> Current {
    let mut current = Current::default();
    for (key, value, at) in rows {
        current.updated_at = current.updated_at.max(*at);
        match key.as_str() {
            ANNOUNCEMENT => {
                if let Ok(text) = serde_json::from_str::<String>(value) {
                    current.announcement = text;
                }
            }
            PLAN_LIMITS => match serde_json::from_str::<PlanLimits>(value) {
                Ok(limits) => current.limits = limits,
                Err(err) => {
                    tracing::warn!(error = %err, "the saved plan limits are unreadable; the defaults apply")
                }
            },
            _ => {}
        }
    }
    current
}

fn view(current: &Current) -> PlatformSettingsView {
    PlatformSettingsView {
        announcement: current.announcement.clone(),
        min_per_slot: current.limits.min_per_slot.to_string(),
        max_per_slot: current.limits.max_per_slot.to_string(),
        updated_at: current.updated_at,
    }
}

/// A dollar amount as typed: positive, at most cents.
fn dollars(text: &str) -> Result<Decimal, String> {
    let amount: Decimal = text
        .trim()
        .trim_start_matches('$')
        .replace(',', "")
        .parse()
        .map_err(|_| "Enter an amount in dollars, like 10 or 2500.50.".to_owned())?;
    if amount <= Decimal::ZERO {
        return Err("Enter an amount above zero.".to_owned());
    }
    if amount.normalize().scale() > 2 {
        return Err("Use at most two decimals (cents).".to_owned());
    }
    Ok(amount.normalize())
}

/// The form checked: the settings to save, or every field's problem.
fn check(form: &PlatformSettingsView) -> Result<(String, PlanLimits), BTreeMap<String, String>> {
    let mut fields = BTreeMap::new();
    // One line: runs of white space (line breaks included) become one space.
    let announcement = form
        .announcement
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if announcement.chars().count() > ANNOUNCEMENT_MAX {
        fields.insert(
            "announcement".to_owned(),
            format!("Keep the announcement to {ANNOUNCEMENT_MAX} characters."),
        );
    }
    let min = dollars(&form.min_per_slot).map_err(|m| fields.insert("min_per_slot".to_owned(), m));
    let max = dollars(&form.max_per_slot).map_err(|m| fields.insert("max_per_slot".to_owned(), m));
    if let (Ok(min), Ok(max)) = (min, max) {
        if max > Decimal::from(MAX_PER_SLOT_CEILING) {
            fields.insert(
                "max_per_slot".to_owned(),
                format!("At most ${MAX_PER_SLOT_CEILING} per purchase."),
            );
        } else if max <= min {
            fields.insert(
                "max_per_slot".to_owned(),
                "The largest purchase must be above the smallest.".to_owned(),
            );
        }
        if fields.is_empty() {
            return Ok((
                announcement,
                PlanLimits {
                    min_per_slot: min,
                    max_per_slot: max,
                },
            ));
        }
    }
    Err(fields)
}

pub struct SettingsService {
    db: Db,
    clock: Arc<dyn Clock>,
    accounts: Arc<AccountService>,
    live: LiveSettings,
}

impl SettingsService {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        live: LiveSettings,
    ) -> Self {
        Self {
            db,
            clock,
            accounts,
            live,
        }
    }

    /// Reads the settings from the database into the live ones.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let rows = self.db.platform_settings().await?;
        self.live.set(read(&rows));
        Ok(())
    }

    /// Refreshes every [`REFRESH_EVERY`] until `shutdown`.
    pub fn spawn(
        self: &Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(REFRESH_EVERY) => {}
                    _ = shutdown.changed() => break,
                }
                if *shutdown.borrow() {
                    break;
                }
                if let Err(err) = me.refresh().await {
                    tracing::warn!(error = %format!("{err:#}"), "the settings could not be read");
                }
            }
        })
    }
}

#[async_trait]
impl SettingsPort for SettingsService {
    async fn load(&self, caller: &Caller) -> Result<PlatformSettingsView, AppError> {
        self.accounts.require_admin(caller).await?;
        self.refresh()
            .await
            .map_err(|e| internal(format!("{e:#}")))?;
        Ok(view(&self.live.current()))
    }

    async fn save(
        &self,
        caller: &Caller,
        form: &PlatformSettingsView,
    ) -> Result<PlatformSettingsView, AppError> {
        let admin = self.accounts.require_admin(caller).await?;
        let (announcement, limits) = check(form).map_err(AppError::invalid_fields)?;
        self.refresh()
            .await
            .map_err(|e| internal(format!("{e:#}")))?;
        let before = self.live.current();
        let now = self.clock.now();
        let mut changed: Vec<(&str, String)> = Vec::new();
        let mut detail = serde_json::Map::new();
        if announcement != before.announcement {
            changed.push((
                ANNOUNCEMENT,
                serde_json::to_string(&announcement).map_err(internal)?,
            ));
            detail.insert(
                ANNOUNCEMENT.into(),
                serde_json::json!({"from": before.announcement, "to": announcement}),
            );
        }
        if limits != before.limits {
            changed.push((
                PLAN_LIMITS,
                serde_json::to_string(&limits).map_err(internal)?,
            ));
            detail.insert(
                PLAN_LIMITS.into(),
                serde_json::json!({"from": before.limits, "to": limits}),
            );
        }
        if !changed.is_empty() {
            self.db
                .save_platform_settings(
                    &changed,
                    &admin.id,
                    now.millis(),
                    AuditEntry {
                        at: now,
                        actor_user_id: Some(&admin.id),
                        action: AuditAction::SettingsChanged,
                        subject: None,
                        ip: Some(caller.ip.to_string()),
                        detail: serde_json::Value::Object(detail),
                    },
                )
                .await
                .map_err(internal)?;
            self.refresh()
                .await
                .map_err(|e| internal(format!("{e:#}")))?;
        }
        Ok(view(&self.live.current()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(announcement: &str, min: &str, max: &str) -> PlatformSettingsView {
        PlatformSettingsView {
            announcement: announcement.into(),
            min_per_slot: min.into(),
            max_per_slot: max.into(),
            updated_at: 0,
        }
    }

    #[test]
    fn a_good_form_is_read_exactly() {
        let (text, limits) = check(&form("  Maintenance\n on  Sunday ", "$5", "2,500.50")).unwrap();
        assert_eq!(text, "Maintenance on Sunday");
        assert_eq!(limits.min_per_slot, Decimal::from(5));
        assert_eq!(limits.max_per_slot, "2500.5".parse::<Decimal>().unwrap());
    }

    #[test]
    fn every_wrong_field_is_named() {
        let long = "x".repeat(281);
        let fields = check(&form(&long, "0", "ten")).unwrap_err();
        assert!(fields.contains_key("announcement"));
        assert_eq!(fields["min_per_slot"], "Enter an amount above zero.");
        assert!(fields["max_per_slot"].contains("in dollars"));
        let fields = check(&form("", "10.005", "5")).unwrap_err();
        assert!(fields["min_per_slot"].contains("two decimals"));
        let fields = check(&form("", "50", "50")).unwrap_err();
        assert!(fields["max_per_slot"].contains("above the smallest"));
        let fields = check(&form("", "1", "1000001")).unwrap_err();
        assert!(fields["max_per_slot"].contains("1000000"));
    }

    #[test]
    fn unreadable_or_missing_rows_keep_the_defaults() {
        let current = read(&[
            ("plan_limits".into(), "{broken".into(), 5),
            ("announcement".into(), "\"Hello\"".into(), 7),
            ("someday".into(), "1".into(), 3),
        ]);
        assert_eq!(current.limits, PlanLimits::default());
        assert_eq!(current.announcement, "Hello");
        assert_eq!(current.updated_at, 7);
    }
}
