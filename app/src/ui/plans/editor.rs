//! The plan editor (`/plans/new`, `/plans/:id`): the form with its legs, schedule and
//! strategy fields, validation as the user types (the shared rules; the server checks
//! again), the preview, and for a saved plan its controls.

use super::controls::PlanControls;
use super::form::PlanForm;
use super::legs::LegsEditor;
use super::preview::Preview;
use super::schedule::ScheduleEditor;
use super::strategy::ModeEditor;
use crate::api::AppError;
use crate::api::dca::{
    AssetFacts, Plan, PlanStatus, asset_problem, load_plan, load_plan_limits, save_plan,
};
use crate::domain::market::Symbol;
use crate::domain::zones;
use crate::ui::format::browser_zone;
use crate::ui::layout::RequireUser;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A key for "buy now" that makes a retried click harmless.
pub(super) fn request_id() -> String {
    let now = crate::ui::format::now().as_millisecond();
    #[cfg(feature = "hydrate")]
    let noise = (js_sys::Math::random() * 1e12) as u64;
    #[cfg(not(feature = "hydrate"))]
    let noise = 0u64;
    format!("ui-{now}-{noise}")
}

/// The time zone the user chose for new plans in Settings, if any. Without one, new plans
/// start in the browser's zone (see [`PlanEditor`]'s `zone_from_browser`).
pub fn preferred_zone() -> Option<String> {
    use_context::<crate::ui::Auth>().and_then(|auth| match auth.user.get_untracked() {
        Some(Ok(Some(user))) => user.timezone,
        _ => None,
    })
}

/// `/plans/new`: an empty editor, or one filled with the settings another page handed
/// over (a backtest's "Use these settings", through [`super::hand_off`]).
#[component]
pub fn NewPlanPage() -> impl IntoView {
    // Taken once, here: the editor below may render more than once (when the session is
    // read again), and each render starts from the same handed-over settings.
    let seeded = super::hand_off::take();
    view! {
        <Title text="New plan · QuantShift" />
        <RequireUser>
            <NewPlan seeded=seeded.clone() />
        </RequireUser>
    }
}

#[component]
fn NewPlan(seeded: Option<PlanForm>) -> impl IntoView {
    let navigate = use_navigate();
    let on_saved = Callback::new(move |plan: Plan| {
        if let Some(id) = plan.id {
            navigate(&format!("/plans/{id}?created=1"), Default::default());
        }
    });
    let preferred = preferred_zone();
    // Handed-over settings keep their own time zone; a new plan takes the one chosen in
    // Settings, or else the browser's.
    let zone_from_browser = preferred.is_none() && seeded.is_none();
    let form =
        seeded.unwrap_or_else(|| PlanForm::new(preferred.as_deref().unwrap_or(zones::NEW_YORK)));
    view! {
        <section class="page">
            <header class="page-header"><h1>"New plan"</h1></header>
            <PlanEditor initial=form on_saved zone_from_browser />
        </section>
    }
}

/// `/plans/:id`: a saved plan's editor and its controls.
#[component]
pub fn EditPlanPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let plan = Resource::new(id, load_plan);
    view! {
        <Title text="Plan · QuantShift" />
        <RequireUser>
            <section class="page">
                <Suspense fallback=|| view! { <p class="loading">"Loading the plan…"</p> }>
                    {move || Suspend::new(async move {
                        match plan.await {
                            Ok(plan) => view! { <SavedPlan plan /> }.into_any(),
                            Err(err) => view! {
                                <div class="empty-state" role="alert">
                                    <h1>"Plan not found"</h1>
                                    <p>{err.message}</p>
                                    <a href="/plans">"Back to your plans"</a>
                                </div>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </RequireUser>
    }
}

#[component]
fn SavedPlan(plan: Plan) -> impl IntoView {
    let current = RwSignal::new(plan.clone());
    let query = use_query_map();
    let created = query.with_untracked(|q| q.get("created").is_some());
    let on_saved = Callback::new(move |saved: Plan| current.set(saved));
    view! {
        <header class="page-header">
            <h1>{move || current.with(|p| p.name.clone())}</h1>
            <span class=move || format!("badge plan-{}", current.with(|p| p.status.as_str())) data-testid="plan-status">
                {move || current.with(|p| p.status.as_str())}
            </span>
        </header>
        {created.then(|| view! { <p class="notice" role="status" data-testid="plan-created">"Plan created. It buys on schedule from now on."</p> })}
        <PlanControls current />
        {move || {
            let plan = current.get();
            if plan.status == PlanStatus::Stopped {
                view! { <p class="muted">"This plan is stopped: it no longer buys and cannot be changed."</p> }.into_any()
            } else {
                view! { <PlanEditor initial=PlanForm::from_plan(&plan) on_saved /> }.into_any()
            }
        }}
    }
}

/// The editor form. Calls `on_saved` with the server's copy after a successful save.
#[component]
pub fn PlanEditor(
    initial: PlanForm,
    #[prop(into)] on_saved: Callback<Plan>,
    /// Switch the time zone to the browser's once running there (a new plan, no preference).
    #[prop(optional)]
    zone_from_browser: bool,
) -> impl IntoView {
    let creating = initial.id.is_none();
    let form = RwSignal::new(initial);
    let limits_resource = Resource::new(|| (), |_| load_plan_limits());
    let limits = Signal::derive(move || {
        limits_resource
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
    });
    let max_per_slot = Signal::derive(move || limits.get().max_per_slot);
    let assets = RwSignal::new(HashMap::<String, AssetFacts>::new());
    let touched = RwSignal::new(HashSet::<String>::new());
    let attempted = RwSignal::new(false);
    let server_errors = RwSignal::new(BTreeMap::<String, String>::new());
    if zone_from_browser {
        // The server cannot know the browser's zone, so the page is rendered in New York
        // time and switches here: effects run only in the browser, after hydration.
        Effect::new(move |_| {
            if !touched.with_untracked(|t| t.contains("schedule.timezone")) {
                let zone = browser_zone();
                if form.with_untracked(|f| f.timezone != zone) {
                    // The time follows, unless typed: 10:00 in New York shown in local time.
                    let keep_time = touched.with_untracked(|t| t.contains("schedule.time"));
                    let fresh = PlanForm::new(&zone);
                    form.update(|f| {
                        if !keep_time {
                            f.time = fresh.time;
                            f.queue_outside_hours = fresh.queue_outside_hours;
                        }
                        f.timezone = zone;
                    });
                }
            }
        });
    }

    // Market hours are checked over the year from today (New York's date).
    let today = crate::domain::calendar::new_york()
        .to_datetime(crate::ui::format::now())
        .date();
    let check = Memo::new(move |_| {
        let limits = limits.get();
        let (plan, mut errors) = form.with(|f| f.to_plan(&limits, today));
        assets.with(|known| {
            form.with(|f| {
                for (i, leg) in f.legs.iter().enumerate() {
                    let key = format!("legs[{i}].symbol");
                    if let (Ok(symbol), false) =
                        (Symbol::parse(&leg.symbol), errors.contains_key(&key))
                        && let Some(facts) = known.get(symbol.as_str())
                        && let Some(problem) = asset_problem(&symbol, Some(facts))
                    {
                        errors.insert(key, problem);
                    }
                }
            })
        });
        (plan, errors)
    });
    let error_for = move |key: String| {
        Signal::derive(move || {
            if let Some(message) = server_errors.with(|e| e.get(&key).cloned()) {
                return Some(message);
            }
            let show = attempted.get() || touched.with(|t| t.contains(&key));
            show.then(|| check.with(|(_, errors)| errors.get(&key).cloned()))
                .flatten()
        })
    };
    let edit = move |key: &str, change: &dyn Fn(&mut PlanForm)| {
        form.update(|f| change(f));
        touched.update(|t| {
            t.insert(key.to_owned());
        });
        server_errors.update(|e| {
            e.remove(key);
        });
    };

    let save = Action::new(move |plan: &Plan| {
        let plan = plan.clone();
        async move { save_plan(plan.into(), false).await }
    });
    // What the user's tier allows is the server's to say (the shared rule, with their other
    // plans and their subscription): asked once the draft is otherwise complete, and again
    // only when what a tier limits (schedule, strategy, symbols) changes.
    // Only with this install's plan limits loaded: then every field error the server could
    // still answer is the tier's.
    let tier_key = Memo::new(move |_| {
        let loaded = limits_resource.get().is_some_and(|limits| limits.is_ok());
        check.with(|(plan, errors)| (loaded && errors.is_empty()).then(|| tier_key(plan)))
    });
    let ask_tier = Action::new(move |plan: &Plan| {
        let plan = plan.clone();
        async move { save_plan(plan.into(), true).await }
    });
    // Only the newest question's answer counts: an older one still on its way is dropped.
    let asking = StoredValue::new(None::<leptos::prelude::ActionAbortHandle>);
    Effect::new(move |_| {
        if tier_key.get().is_some() {
            let question = ask_tier.dispatch(check.with_untracked(|(plan, _)| plan.clone()));
            if let Some(older) = asking.try_update_value(|h| h.replace(question)).flatten() {
                older.abort();
            }
        }
    });
    let form_message = RwSignal::new(None::<String>);
    // The form message is the tier's refusal, with the way to upgrade beside it.
    let tier_refused = RwSignal::new(false);
    Effect::new(move |_| {
        let refused = match ask_tier.value().get() {
            Some(Err(err)) => {
                let limits: Vec<String> = err
                    .fields
                    .into_iter()
                    .filter(|(key, _)| TIER_FIELDS.contains(&key.as_str()))
                    .map(|(_, message)| message)
                    .collect();
                (!limits.is_empty()).then(|| limits.join(" "))
            }
            _ => None,
        };
        if refused.is_some() || tier_refused.get_untracked() {
            tier_refused.set(refused.is_some());
            form_message.set(refused);
        }
    });
    Effect::new(move |_| match save.value().get() {
        Some(Ok(plan)) => {
            form_message.set(Some("Saved.".into()));
            on_saved.run(plan);
        }
        Some(Err(err)) => {
            let AppError {
                message, fields, ..
            } = err;
            form_message.set(Some(refusal(message, &fields)));
            server_errors.set(fields);
        }
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        attempted.set(true);
        let (plan, errors) = check.get();
        if errors.is_empty() {
            form_message.set(None);
            save.dispatch(plan);
        } else {
            form_message.set(Some(format!(
                "{} field{} need{} attention; nothing was saved.",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                if errors.len() == 1 { "s" } else { "" }
            )));
        }
    };

    view! {
        <form class="form plan-form" novalidate=true on:submit=submit data-testid="plan-form">
            <div class="plan-grid">
                <div class="plan-main">
                    <TextField id="plan-name" label="Plan name" value=Signal::derive(move || form.with(|f| f.name.clone()))
                        error=error_for("name".into()) placeholder="e.g. Core index fund"
                        on_input=move |v: String| edit("name", &|f: &mut PlanForm| f.name = v.clone()) />
                    <LegsEditor form check assets edit error_for />
                    <ScheduleEditor form edit error_for />
                    <ModeEditor form max_per_slot edit error_for />
                </div>
                <aside class="plan-side">
                    <Preview check />
                </aside>
            </div>
            <p class="form-error" role="alert" data-testid="form-message">{move || form_message.get()}</p>
            <p hidden=move || !tier_refused.get() data-testid="tier-limit"><a href="/billing">"See plans and upgrade"</a></p>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary btn-large" disabled=move || save.pending().get()>
                    {move || match (save.pending().get(), creating) {
                        (true, _) => "Saving…",
                        (false, true) => "Create plan",
                        (false, false) => "Save changes",
                    }}
                </button>
                <a class="btn btn-quiet" href="/plans">"Cancel"</a>
            </div>
        </form>
    }
}

#[component]
fn TextField(
    id: &'static str,
    label: &'static str,
    value: Signal<String>,
    error: Signal<Option<String>>,
    #[prop(into)] on_input: Callback<String>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] kind: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <div class="field" class:field-invalid=move || error.with(Option::is_some)>
            <label for=id>{label}</label>
            <input id=id type=kind.unwrap_or("text") placeholder=placeholder
                prop:value=move || value.get()
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=error_id.clone()
                on:input=move |ev| on_input.run(event_target_value(&ev)) />
            {hint.map(|h| view! { <p class="field-hint">{h}</p> })}
            <p class="field-error" id=error_id data-testid=format!("error-{id}")>{move || error.get()}</p>
        </div>
    }
}

/// The fields a tier's refusal names (`Tiers::check_plan`).
const TIER_FIELDS: [&str; 4] = ["schedule.frequency", "schedule.interval", "mode", "legs"];

/// What the tier rules read of a plan (schedule, strategy, symbols) as one text: a new
/// answer from the server is needed only when it changes.
fn tier_key(plan: &Plan) -> String {
    let symbols: Vec<&str> = plan.legs.iter().map(|leg| leg.symbol.as_str()).collect();
    format!(
        "{}/{}/{}/{}",
        plan.schedule.frequency as u8,
        plan.schedule.interval,
        plan.strategy.mode() as u8,
        symbols.join(",")
    )
}

/// What the form says of a refused save: the server's message; for field errors a pointer
/// to the fields, unless the refusal is what the user's tier does not allow, which sits
/// next to no one field (`schedule.frequency`, `mode`).
fn refusal(message: String, fields: &std::collections::BTreeMap<String, String>) -> String {
    match fields.get("schedule.frequency").or(fields.get("mode")) {
        Some(limit) => limit.clone(),
        None if fields.is_empty() => message,
        None => "Some fields need attention; nothing was saved.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;
    use std::collections::BTreeMap;

    #[test]
    fn a_tier_refusal_is_the_form_message() {
        let fields = |key: &str, text: &str| BTreeMap::from([(key.to_owned(), text.to_owned())]);
        let limit = "Free allows weekly plans; daily needs Pro.";
        assert_eq!(
            refusal("x".into(), &fields("schedule.frequency", limit)),
            limit
        );
        assert_eq!(refusal("x".into(), &fields("mode", limit)), limit);
        assert!(
            refusal("x".into(), &fields("name", "Give the plan a name."))
                .starts_with("Some fields")
        );
        assert_eq!(
            refusal("Please sign in.".into(), &BTreeMap::new()),
            "Please sign in."
        );
    }
}
