//! Settings (`/settings`): profile, preferred time zone, password change (the current
//! password is asked again), the broker connection, and signing out everywhere else.

use super::broker::BrokerPanel;
use super::format::{browser_zone, local_time, long_date};
use super::layout::RequireUser;
use crate::api::auth::{
    Profile, SessionView, change_password, end_session, load_profile, load_sessions, set_timezone,
    sign_out_others,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings · QuantShift" />
        <RequireUser>
            <Settings />
        </RequireUser>
    }
}

#[component]
fn Settings() -> impl IntoView {
    let timezone_action = Action::new(|zone: &String| set_timezone(zone.clone()));
    let password_action = Action::new(|(current, new): &(String, String)| {
        change_password(current.clone(), new.clone())
    });
    let others_action = Action::new(|_: &()| sign_out_others());
    let end_action = Action::new(|handle: &String| end_session(handle.clone()));
    // The signed-in devices, listed again after any action that ends sessions. Made here,
    // beside the profile, not in the panel: a resource first made inside a suspended view
    // was not matched with the server's data when the page hydrated, so the browser
    // fetched it again and replaced the panel (a click in between was lost).
    let sessions = Resource::new(
        move || {
            (
                end_action.version().get(),
                others_action.version().get(),
                password_action.version().get(),
            )
        },
        |_| load_sessions(),
    );
    // Loaded once: the profile and time zone panels hold forms, and re-rendering them would
    // take the field away from someone typing in it.
    let profile = Resource::new(|| (), |_| load_profile());
    // The e-mail form (a plain form) comes back with `?notifications=saved`.
    let notifications_saved = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("notifications").is_some_and(|v| v == "saved"));
    // The session count: the profile's, then the one in the answer of the password or
    // sign-out action (both end the other sessions and answer with the profile). Only the
    // sessions panel follows them.
    let answered = RwSignal::new(None::<Profile>);
    Effect::new(move |_| {
        if let Some(Ok(profile)) = password_action.value().get() {
            answered.set(Some(profile));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(profile)) = others_action.value().get() {
            answered.set(Some(profile));
        }
    });
    view! {
        <section class="page settings">
            <header class="page-header"><h1>"Settings"</h1></header>
            <Transition fallback=|| view! { <p class="loading">"Loading your settings…"</p> }>
                {move || Suspend::new(async move {
                    match profile.await {
                        Ok(profile) => view! {
                            <ProfilePanel profile=profile.clone() />
                            <section class="panel" aria-labelledby="email-choices">
                                <h2 id="email-choices">"E-mail"</h2>
                                <p class="notice notice-ok" role="status" data-testid="notifications-saved" hidden=!notifications_saved>"Your e-mail choices are saved."</p>
                                <div inner_html=profile.notifications_form.clone()></div>
                            </section>
                            <TimezonePanel profile action=timezone_action />
                        }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="loading">"Checking your sessions…"</p> }>
                {move || Suspend::new(async move {
                    let answered = answered.get();
                    let loaded = profile.await;
                    match answered.map(Ok).unwrap_or(loaded) {
                        Ok(profile) => view! { <SessionsPanel profile action=others_action end=end_action sessions /> }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <PasswordPanel action=password_action />
            <section class="panel">
                <h2>"Broker"</h2>
                <BrokerPanel />
            </section>
        </section>
    }
}

#[component]
fn ProfilePanel(profile: Profile) -> impl IntoView {
    let since = long_date(
        crate::domain::calendar::new_york()
            .to_datetime(profile.member_since)
            .date(),
    );
    view! {
        <section class="panel">
            <h2>"Profile"</h2>
            <dl class="facts">
                <dt>"E-mail"</dt><dd data-testid="profile-email">{profile.email}</dd>
                <dt>"Role"</dt><dd>{if profile.role.is_admin() { "Administrator" } else { "Subscriber" }}</dd>
                <dt>"Member since"</dt><dd>{since}</dd>
            </dl>
        </section>
    }
}

#[component]
fn TimezonePanel(
    profile: Profile,
    action: Action<String, Result<Profile, crate::api::AppError>>,
) -> impl IntoView {
    let zone = RwSignal::new(profile.timezone.clone().unwrap_or_default());
    // The server renders New York; the browser's own zone replaces it once hydrated.
    let placeholder = RwSignal::new(crate::domain::zones::NEW_YORK.to_owned());
    Effect::new(move |_| placeholder.set(browser_zone()));
    // Once saved, the field shows the zone as the server stored it.
    Effect::new(move |_| {
        if let Some(Ok(saved)) = action.value().get() {
            zone.set(saved.timezone.unwrap_or_default());
        }
    });
    let error = Signal::derive(move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.field("timezone").map(str::to_owned).unwrap_or(e.message))
    });
    let saved = Signal::derive(move || matches!(action.value().get(), Some(Ok(_))));
    view! {
        <section class="panel">
            <h2>"Time zone"</h2>
            <form class="form" novalidate=true on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                action.dispatch(zone.get_untracked());
            }>
                <div class="field" class:field-invalid=move || error.with(Option::is_some)>
                    <label for="settings-zone">"Time zone for new plans"</label>
                    <input id="settings-zone" type="text" list="settings-zones" autocomplete="off"
                        placeholder=move || placeholder.get() aria-describedby="settings-zone-hint settings-zone-error"
                        prop:value=move || zone.get() on:input=move |ev| zone.set(event_target_value(&ev)) />
                    <datalist id="settings-zones">
                        {["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney", "UTC"]
                            .into_iter().map(|z| view! { <option value=z></option> }).collect_view()}
                    </datalist>
                    <p class="field-hint" id="settings-zone-hint">"Leave empty to use this browser's time zone."</p>
                    <p class="field-error" id="settings-zone-error" data-testid="error-settings-zone">{move || error.get()}</p>
                </div>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Save time zone"</button>
                    <Show when=move || saved.get()><span class="ok" role="status">"Saved."</span></Show>
                </div>
            </form>
        </section>
    }
}

#[component]
fn PasswordPanel(
    action: Action<(String, String), Result<Profile, crate::api::AppError>>,
) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let error = move |key: &'static str| {
        Signal::derive(move || {
            action
                .value()
                .get()
                .and_then(Result::err)
                .and_then(|e| e.field(key).map(str::to_owned))
        })
    };
    let general = Signal::derive(move || {
        action
            .value()
            .get()
            .and_then(Result::err)
            .filter(|e| e.fields.is_empty())
            .map(|e| e.message)
    });
    let done = Signal::derive(move || matches!(action.value().get(), Some(Ok(_))));
    Effect::new(move |_| {
        if done.get() {
            current.set(String::new());
            new.set(String::new());
        }
    });
    view! {
        <section class="panel">
            <h2>"Password"</h2>
            <form class="form" novalidate=true on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                action.dispatch((current.get_untracked(), new.get_untracked()));
            }>
                <div class="field" class:field-invalid=move || error("current_password").with(Option::is_some)>
                    <label for="current-password">"Current password"</label>
                    <input id="current-password" type="password" autocomplete="current-password"
                        prop:value=move || current.get() on:input=move |ev| current.set(event_target_value(&ev)) />
                    <p class="field-error" data-testid="error-current-password">{move || error("current_password").get()}</p>
                </div>
                <div class="field" class:field-invalid=move || error("new_password").with(Option::is_some)>
                    <label for="new-password">"New password"</label>
                    <input id="new-password" type="password" autocomplete="new-password"
                        prop:value=move || new.get() on:input=move |ev| new.set(event_target_value(&ev)) />
                    <p class="field-hint">"At least 10 characters. Changing it signs out your other devices."</p>
                    <p class="field-error" data-testid="error-new-password">{move || error("new_password").get()}</p>
                </div>
                <p class="form-error" role="alert">{move || general.get()}</p>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Change password"</button>
                    <Show when=move || done.get()><span class="ok" role="status" data-testid="password-changed">"Password changed."</span></Show>
                </div>
            </form>
        </section>
    }
}

#[component]
fn SessionsPanel(
    profile: Profile,
    action: Action<(), Result<Profile, crate::api::AppError>>,
    end: Action<String, Result<(), crate::api::AppError>>,
    sessions: Resource<Result<Vec<SessionView>, crate::api::AppError>>,
) -> impl IntoView {
    let others = profile.other_sessions;
    let zone = profile
        .timezone
        .unwrap_or_else(|| crate::domain::zones::NEW_YORK.to_owned());
    view! {
        <section class="panel">
            <h2>"Sessions"</h2>
            <Transition fallback=|| ()>
                {move || {
                    let zone = zone.clone();
                    Suspend::new(async move {
                        // The list, once loaded, is newer than the profile's count.
                        let list = sessions.await.unwrap_or_default();
                        let others = if list.is_empty() {
                            others
                        } else {
                            list.iter().filter(|s| !s.current).count() as i64
                        };
                        let when = move |at: Option<i64>| {
                            at.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                                .map_or("—".to_owned(), |at| local_time(at, &zone))
                        };
                        view! {
                            <p data-testid="other-sessions">{match others {
                                0 => "You are signed in on this browser only.".to_string(),
                                1 => "You are also signed in on 1 other browser or device.".to_string(),
                                n => format!("You are also signed in on {n} other browsers or devices."),
                            }}</p>
                            <ul class="session-list" data-testid="session-list">
                                {list.into_iter().map(|s| {
                                    let handle = s.handle.clone();
                                    view! {
                                        <li>
                                            <strong>{s.device}</strong>
                                            {s.current.then_some(" · this device")}
                                            <br /><span class="muted">{format!(
                                                "{} · signed in {} · last active {}",
                                                s.ip.unwrap_or_else(|| "unknown address".into()), when(s.created_at), when(s.last_seen_at),
                                            )}</span>
                                            " "
                                            <button type="button" class="btn btn-quiet" hidden=s.current
                                                on:click=move |_| { end.dispatch(handle.clone()); }>"End"</button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            <button type="button" class="btn btn-quiet" disabled=move || others == 0 || action.pending().get()
                                on:click=move |_| { action.dispatch(()); }>"Sign out everywhere else"</button>
                        }
                    })
                }}
            </Transition>
        </section>
    }
}
