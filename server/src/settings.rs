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
use app::api::settings::{PlatformSettingsView, TierLimitsView};
use app::domain::schedule::Frequency;
use app::domain::tier::{Tier, TierRules, Tiers};
use app::domain::time::Clock;
use async_trait::async_trait;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
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
const TIER_LIMITS: &str = "tier_limits";
use app::api::settings::MAX_SYMBOLS_CEILING;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Current {
    announcement: String,
    limits: PlanLimits,
    /// The configured tiers with the limits admins changed (never the prices: Stripe's
    /// prices are what users pay).
    tiers: Tiers,
    updated_at: i64,
}

/// The settings in force in this instance, shared by every service that reads them.
#[derive(Clone, Debug, Default)]
pub struct LiveSettings {
    current: Arc<RwLock<Current>>,
    /// The configuration's tier table, which saved tier limits change.
    base: Arc<Tiers>,
}

impl LiveSettings {
    /// Settings starting from the configured tier table.
    pub fn new(base: Tiers) -> Self {
        Self {
            current: Arc::new(RwLock::new(Current {
                tiers: base.clone(),
                ..Current::default()
            })),
            base: Arc::new(base),
        }
    }

    /// Settings with these plan limits and nothing else configured (the headless bot,
    /// whose capital is its operator's own business).
    pub fn with_plan_limits(limits: PlanLimits) -> Self {
        let settings = Self::default();
        settings.set(Current {
            limits,
            ..settings.current()
        });
        settings
    }

    pub fn plan_limits(&self) -> PlanLimits {
        self.current().limits
    }

    pub fn announcement(&self) -> String {
        self.current().announcement
    }

    /// The tier table in force.
    pub fn tiers(&self) -> Tiers {
        self.current().tiers
    }

    fn current(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set(&self, current: Current) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = current;
    }
}

/// What admins may change of a tier: its limits, not its price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TierLimits {
    max_symbols: Option<u32>,
    frequencies: Vec<Frequency>,
    every_n: bool,
    smart_dca: bool,
    signal_bots: bool,
    live_trading: bool,
}

impl TierLimits {
    fn of(rules: &TierRules) -> Self {
        Self {
            max_symbols: rules.max_symbols,
            frequencies: rules.frequencies.clone(),
            every_n: rules.every_n,
            smart_dca: rules.smart_dca,
            signal_bots: rules.signal_bots,
            live_trading: rules.live_trading,
        }
    }

    fn apply(self, rules: &mut TierRules) {
        rules.max_symbols = self.max_symbols;
        rules.frequencies = self.frequencies;
        rules.every_n = self.every_n;
        rules.smart_dca = self.smart_dca;
        rules.signal_bots = self.signal_bots;
        rules.live_trading = self.live_trading;
    }
}

fn rules_mut(tiers: &mut Tiers, tier: Tier) -> &mut TierRules {
    match tier {
        Tier::Free => &mut tiers.free,
        Tier::Basic => &mut tiers.basic,
        Tier::Pro => &mut tiers.pro,
        Tier::Premium => &mut tiers.premium,
    }
}

/// The settings the database holds over `base` (defaults for keys never saved, or
/// unreadable ones).
fn read(rows: &[(String, String, i64)], base: &Tiers) -> Current {
    let mut current = Current {
        tiers: base.clone(),
        ..Current::default()
    };
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
            TIER_LIMITS => match serde_json::from_str::<BTreeMap<String, TierLimits>>(value) {
                Ok(limits) => {
                    for (tier, limits) in limits {
                        if let Some(tier) = Tier::parse(&tier) {
                            limits.apply(rules_mut(&mut current.tiers, tier));
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the saved tier limits are unreadable; the configured ones apply")
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
        tiers: Tier::ALL
            .into_iter()
            .map(|tier| {
                let rules = current.tiers.rules(tier);
                TierLimitsView {
                    tier,
                    price: rules.price.to_string(),
                    max_symbols: rules.max_symbols.map(|n| n.to_string()).unwrap_or_default(),
                    frequencies: rules.frequencies.clone(),
                    every_n: rules.every_n,
                    smart_dca: rules.smart_dca,
                    signal_bots: rules.signal_bots,
                    live_trading: rules.live_trading,
                }
            })
            .collect(),
        updated_at: current.updated_at,
    }
}

/// The tier limits of the form over `tiers` (a tier the form leaves out keeps its limits).
fn check_tiers(
    form: &[TierLimitsView],
    tiers: &Tiers,
    fields: &mut BTreeMap<String, String>,
) -> Tiers {
    let mut out = tiers.clone();
    for view in form {
        let key = |field: &str| format!("tiers.{}.{field}", view.tier.as_str());
        let max_symbols = match view.max_symbols.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(n) if (1..=MAX_SYMBOLS_CEILING).contains(&n) => Some(n),
                _ => {
                    fields.insert(
                        key("max_symbols"),
                        app::api::settings::MAX_SYMBOLS_REFUSED.to_owned(),
                    );
                    None
                }
            },
        };
        if view.frequencies.is_empty() {
            fields.insert(
                key("frequencies"),
                app::api::settings::FREQUENCIES_REFUSED.to_owned(),
            );
        }
        let mut frequencies = view.frequencies.clone();
        frequencies.sort_by_key(|f| *f as u8);
        frequencies.dedup();
        TierLimits {
            max_symbols,
            frequencies,
            every_n: view.every_n,
            smart_dca: view.smart_dca,
            signal_bots: view.signal_bots,
            live_trading: view.live_trading,
        }
        .apply(rules_mut(&mut out, view.tier));
    }
    out
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

/// The form checked against the tiers in force: the settings to save, or every field's
/// problem.
fn check(
    form: &PlatformSettingsView,
    tiers: &Tiers,
) -> Result<(String, PlanLimits, Tiers), BTreeMap<String, String>> {
    let mut fields = BTreeMap::new();
    let tiers = check_tiers(&form.tiers, tiers, &mut fields);
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
                tiers,
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
        self.live.set(read(&rows, &self.live.base));
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
    async fn mail_panel(&self, caller: &Caller, notice: &str) -> Result<String, AppError> {
        let admin = self.accounts.require_admin(caller).await?;
        let Some(mail) = self.accounts.mail() else {
            return Ok(String::new());
        };
        let saved = mail.saved().await.map_err(internal)?;
        let (transport, source) = match mail.transport().await {
            Ok(transport) => (
                transport.label(),
                if saved.as_ref().is_some_and(|s| !s.smtp_url.is_empty()) {
                    "saved here"
                } else if matches!(transport, crate::mail::Transport::Smtp { .. }) {
                    "from the configuration"
                } else {
                    ""
                },
            ),
            Err(err) => (format!("nothing: {err:#}"), ""),
        };
        let saved = saved.unwrap_or_default();
        crate::mail::templates::render(
            "admin/mail_panel.html",
            minijinja::context! {
                transport, source,
                saved => notice == "saved",
                field => notice,
                smtp_url => saved.smtp_url,
                has_password => saved.password.is_some(),
                from => saved.from,
                default_from => mail.default_from().to_string(),
                admin_email => admin.email,
            },
        )
        .map_err(internal)
    }

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
        self.refresh()
            .await
            .map_err(|e| internal(format!("{e:#}")))?;
        let before = self.live.current();
        let (announcement, limits, tiers) =
            check(form, &before.tiers).map_err(AppError::invalid_fields)?;
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
        if tiers != before.tiers {
            let saved: BTreeMap<&str, TierLimits> = Tier::ALL
                .into_iter()
                .map(|tier| (tier.as_str(), TierLimits::of(tiers.rules(tier))))
                .collect();
            let was: BTreeMap<&str, TierLimits> = Tier::ALL
                .into_iter()
                .map(|tier| (tier.as_str(), TierLimits::of(before.tiers.rules(tier))))
                .collect();
            changed.push((
                TIER_LIMITS,
                serde_json::to_string(&saved).map_err(internal)?,
            ));
            detail.insert(
                TIER_LIMITS.into(),
                serde_json::json!({"from": was, "to": saved}),
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
            ..PlatformSettingsView::default()
        }
    }

    fn check(
        form: &PlatformSettingsView,
    ) -> Result<(String, PlanLimits), BTreeMap<String, String>> {
        super::check(form, &Tiers::default()).map(|(a, l, _)| (a, l))
    }

    #[test]
    fn tier_limits_change_but_never_the_price() {
        let mut form = form("", "1", "100");
        form.tiers = vec![TierLimitsView {
            tier: Tier::Free,
            price: "1000".into(),
            max_symbols: "5".into(),
            frequencies: vec![Frequency::Monthly, Frequency::Weekly, Frequency::Weekly],
            every_n: true,
            smart_dca: false,
            signal_bots: false,
            live_trading: false,
        }];
        let (_, _, tiers) = super::check(&form, &Tiers::default()).unwrap();
        assert_eq!(tiers.free.max_symbols, Some(5));
        assert_eq!(
            tiers.free.frequencies,
            vec![Frequency::Weekly, Frequency::Monthly]
        );
        assert!(tiers.free.every_n);
        assert_eq!(tiers.free.price, Decimal::ZERO, "the price stays Stripe's");
        assert_eq!(
            tiers.pro,
            Tiers::default().pro,
            "tiers left out keep theirs"
        );
        form.tiers[0].max_symbols = "0".into();
        form.tiers[0].frequencies.clear();
        let fields = super::check(&form, &Tiers::default()).unwrap_err();
        assert!(fields.contains_key("tiers.free.max_symbols"));
        assert!(fields.contains_key("tiers.free.frequencies"));
        form.tiers[0].max_symbols = String::new();
        form.tiers[0].frequencies = vec![Frequency::Daily];
        let (_, _, tiers) = super::check(&form, &Tiers::default()).unwrap();
        assert_eq!(tiers.free.max_symbols, None, "empty: unlimited");
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
        let current = read(
            &[
                ("plan_limits".into(), "{broken".into(), 5),
                ("announcement".into(), "\"Hello\"".into(), 7),
                ("someday".into(), "1".into(), 3),
                ("tier_limits".into(), "[1, 2]".into(), 4),
            ],
            &Tiers::default(),
        );
        assert_eq!(current.tiers, Tiers::default());
        assert_eq!(current.limits, PlanLimits::default());
        assert_eq!(current.announcement, "Hello");
        assert_eq!(current.updated_at, 7);
    }
}
