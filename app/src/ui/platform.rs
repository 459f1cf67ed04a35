//! `/admin/settings`: the platform settings admins change at run time: the announcement
//! every signed-in user sees, and what one purchase of a plan may spend. The server checks
//! every field and audits every change.

use crate::api::AppError;
use crate::api::settings::{PlatformSettingsView, load_platform_settings, save_platform_settings};
use leptos::prelude::*;

#[component]
pub fn PlatformSettings() -> impl IntoView {
    let save = Action::new(|form: &PlatformSettingsView| save_platform_settings(form.clone()));
    let loaded = Resource::new(|| (), |_| load_platform_settings());
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the settings…"</p> }>
            {move || Suspend::new(async move {
                match loaded.await {
                    Ok(current) => view! { <SettingsForm current save /> }.into_any(),
                    Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                }
            })}
        </Transition>
    }
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
