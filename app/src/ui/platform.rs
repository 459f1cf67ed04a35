//! `/admin/settings`: the platform settings admins change at run time: the announcement
//! every signed-in user sees, and what one purchase of a plan may spend. The server checks
//! every field and audits every change.

use crate::api::AppError;
use crate::api::settings::{PlatformSettingsView, load_platform_settings, save_platform_settings};
use leptos::prelude::*;

#[component]
pub fn PlatformSettings() -> impl IntoView {
    let save = Action::new(|form: &PlatformSettingsView| save_platform_settings(form.clone()));
    // The tier form answers with a redirect here: `?tiers=saved`, or the refused field
    // (`?tier_field=…`; the server words why).
    let query = leptos_router::hooks::use_query_map();
    let loaded = Resource::new(
        move || {
            query.with(|q| {
                (
                    q.get("tier_field").unwrap_or_default(),
                    q.get("tiers").is_some_and(|v| v == "saved"),
                    // The e-mail form's redirect: `?mail=saved` or `?mail_field=…`.
                    q.get("mail")
                        .or_else(|| q.get("mail_field"))
                        .unwrap_or_default(),
                )
            })
        },
        |(field, saved, mail)| load_platform_settings(field, saved, mail),
    );
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the settings…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(page) => view! {
                        <SettingsForm current=page.settings save />
                        <div inner_html=page.tier_form></div>
                        <div inner_html=page.mail_form></div>
                    }.into_any(),
                    Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The tier limits form as HTML (the server renders it for `load_tier_panel`): a plain
/// form, so it works without any code in the browser.
#[cfg(feature = "ssr")]
pub fn tier_panel_html(settings: PlatformSettingsView, field: &str, saved: bool) -> String {
    use crate::domain::schedule::Frequency;
    use leptos::tachys::view::RenderHtml as _;
    let message = |key: String| {
        (field == key)
            .then(|| crate::api::settings::tier_refusal(&key))
            .flatten()
    };
    view! {
        <section class="panel" aria-labelledby="tier-limits">
            <h2 id="tier-limits">"Tier limits"</h2>
            <p class="field-hint">"What each tier allows when billing is on. Prices are the Stripe prices in the configuration and are shown only. A plan beyond its tier's new limits is paused when it next runs."</p>
            <form class="form" method="post" action="/admin/settings/tiers" data-testid="tier-form">
                {settings.tiers.into_iter().map(|t| {
                    let tier = t.tier.as_str();
                    let name = |what: &str| format!("{tier}.{what}");
                    let id = |what: &str| format!("tier-{tier}-{what}");
                    let frequency = |f: Frequency, word: &'static str| {
                        let checked = t.frequencies.contains(&f);
                        view! {
                            <label class="check">
                                <input type="checkbox" name=name("frequencies") value=word checked=checked />
                                {format!(" {word}")}
                            </label>
                        }
                    };
                    let flag = |what: &'static str, label: &'static str, on: bool| view! {
                        <label class="check">
                            <input type="checkbox" name=name(what) value="on" checked=on />
                            {format!(" {label}")}
                        </label>
                    };
                    view! {
                        <fieldset class="fieldset" data-testid=format!("tier-{tier}")>
                            <legend>{format!("{} (${} a month)", t.tier.name(), t.price)}</legend>
                            <input type="hidden" name="tier" value=tier />
                            <div class="field">
                                <label for=id("max_symbols")>{format!("{} symbols at most (empty: no limit)", t.tier.name())}</label>
                                <input id=id("max_symbols") type="text" inputmode="numeric" name=name("max_symbols") value=t.max_symbols />
                                <p class="field-error" role="alert">{message(format!("tiers.{tier}.max_symbols"))}</p>
                            </div>
                            {frequency(Frequency::Daily, "daily")}
                            {frequency(Frequency::Weekly, "weekly")}
                            {frequency(Frequency::Monthly, "monthly")}
                            <p class="field-error" role="alert">{message(format!("tiers.{tier}.frequencies"))}</p>
                            {flag("every_n", "every N days, weeks or months", t.every_n)}
                            {flag("smart_dca", "Smart DCA", t.smart_dca)}
                            {flag("signal_bots", "signal bots", t.signal_bots)}
                            {flag("live_trading", "live trading", t.live_trading)}
                        </fieldset>
                    }
                }).collect::<Vec<_>>()}
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary">"Save tier limits"</button>
                    {saved.then(|| view! { <span class="ok" role="status">"Tier limits saved."</span> })}
                </div>
            </form>
        </section>
    }
    .to_html()
}

#[component]
fn SettingsForm(
    current: PlatformSettingsView,
    save: Action<PlatformSettingsView, Result<PlatformSettingsView, AppError>>,
) -> impl IntoView {
    let announcement = RwSignal::new(current.announcement);
    let min = RwSignal::new(current.min_per_slot);
    let max = RwSignal::new(current.max_per_slot);
    let error = move |field: &'static str| {
        move || {
            save.value()
                .get()
                .and_then(Result::err)
                .map(|e| e.field(field).map(str::to_owned).unwrap_or_default())
        }
    };
    // The server's reading of what was typed (the announcement on one line, say).
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            announcement.set(saved.announcement);
            min.set(saved.min_per_slot);
            max.set(saved.max_per_slot);
        }
    });
    view! {
        <section class="panel">
            <h2>"Platform settings"</h2>
            <form class="form" novalidate=true on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                save.dispatch(PlatformSettingsView {
                    announcement: announcement.get_untracked(),
                    min_per_slot: min.get_untracked(),
                    max_per_slot: max.get_untracked(),
                    // The tier limits are changed through the API for now; left as they are.
                    tiers: Vec::new(),
                    updated_at: 0,
                });
            }>
                <div class="field">
                    <label for="set-announcement">"Announcement"</label>
                    <input id="set-announcement" type="text" prop:value=move || announcement.get() on:input=move |ev| announcement.set(event_target_value(&ev)) />
                    <p class="field-hint">"Shown at the top of every signed-in page; empty shows none. At most 280 characters."</p>
                    <p class="field-error">{error("announcement")}</p>
                </div>
                <div class="field-row">
                    <div class="field">
                        <label for="set-min">"Smallest purchase ($)"</label>
                        <input id="set-min" type="text" inputmode="decimal" prop:value=move || min.get() on:input=move |ev| min.set(event_target_value(&ev)) />
                        <p class="field-error">{error("min_per_slot")}</p>
                    </div>
                    <div class="field">
                        <label for="set-max">"Largest purchase ($)"</label>
                        <input id="set-max" type="text" inputmode="decimal" prop:value=move || max.get() on:input=move |ev| max.set(event_target_value(&ev)) />
                        <p class="field-error">{error("max_per_slot")}</p>
                    </div>
                </div>
                <p class="field-hint">"What one purchase of a plan may spend in all (carried money included). Plans are held to it when saved or resumed."</p>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>"Save settings"</button>
                    <span class="ok" role="status" hidden=move || !matches!(save.value().get(), Some(Ok(_)))>"Saved."</span>
                </div>
            </form>
        </section>
    }
}
