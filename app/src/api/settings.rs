//! The platform settings admins change at run time (`/admin/settings`): the announcement
//! shown to every signed-in user, and what one purchase of a plan may spend.

use super::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// `GET`/`PUT /api/admin/settings`. Amounts are decimal strings (dollars).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct PlatformSettingsView {
    /// Shown at the top of every signed-in page; empty: none. At most 280 characters.
    #[serde(default)]
    pub announcement: String,
    /// The smallest total one purchase of a plan may spend.
    pub min_per_slot: String,
    /// The largest total one purchase of a plan may spend (carried money included).
    pub max_per_slot: String,
    /// What each tier allows (with billing on), cheapest first. A tier left out of a save
    /// keeps its limits; prices are Stripe's and shown only.
    #[serde(default)]
    pub tiers: Vec<TierLimitsView>,
    /// ms; 0 when never changed.
    #[serde(default)]
    pub updated_at: i64,
}

/// One tier's limits as the settings form edits them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct TierLimitsView {
    pub tier: crate::domain::tier::Tier,
    /// Dollars a month, as configured (read-only here).
    #[serde(default)]
    pub price: String,
    /// Distinct symbols across a user's active and paused plans; empty: unlimited.
    pub max_symbols: String,
    /// The schedules a plan may use: `daily`, `weekly`, `monthly`.
    pub frequencies: Vec<crate::domain::schedule::Frequency>,
    pub every_n: bool,
    pub smart_dca: bool,
    pub signal_bots: bool,
    pub live_trading: bool,
}

/// A tier limit's refusal, by the field it names. The tier form's redirect carries only the
/// field, so no link can make the page show an admin words of its own.
pub fn tier_refusal(field: &str) -> Option<&'static str> {
    if field.ends_with(".max_symbols") {
        Some(MAX_SYMBOLS_REFUSED)
    } else if field.ends_with(".frequencies") {
        Some(FREQUENCIES_REFUSED)
    } else {
        None
    }
}

/// The most distinct symbols a tier may be set to allow, and the refusals.
pub const MAX_SYMBOLS_CEILING: u32 = 1_000;
pub const MAX_SYMBOLS_REFUSED: &str = "1 to 1000 symbols, or empty for no limit.";
pub const FREQUENCIES_REFUSED: &str = "Allow at least one schedule.";

/// What `/admin/settings` shows: the settings, and the tier limits form rendered on the
/// server (a plain HTML form posting to `POST /admin/settings/tiers`, so its fields add
/// nothing to the browser's bundle) with the refusal of `field` beside it after a refused
/// save, or "Saved." after a good one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct SettingsPage {
    pub settings: PlatformSettingsView,
    pub tier_form: String,
    /// The e-mail settings, rendered on the server like the tier form.
    pub mail_form: String,
}

#[server(prefix = "/api/fn", endpoint = "load_platform_settings", output = crate::api::codec::Json)]
pub async fn load_platform_settings(
    field: String,
    saved: bool,
    mail: String,
) -> Result<SettingsPage, AppError> {
    let (ports, caller) = super::ports::request().await?;
    let settings = super::ports::with_status(ports.settings.load(&caller).await)?;
    let tier_form = crate::ui::tier_panel_html(settings.clone(), &field, saved);
    let mail_form = super::ports::with_status(ports.settings.mail_panel(&caller, &mail).await)?;
    Ok(SettingsPage {
        settings,
        tier_form,
        mail_form,
    })
}

#[server(prefix = "/api/fn", endpoint = "save_platform_settings", input = leptos::server_fn::codec::Json, output = crate::api::codec::Json)]
pub async fn save_platform_settings(
    settings: PlatformSettingsView,
) -> Result<PlatformSettingsView, AppError> {
    let (ports, caller) = super::ports::request().await?;
    super::ports::with_status(ports.settings.save(&caller, &settings).await)
}
