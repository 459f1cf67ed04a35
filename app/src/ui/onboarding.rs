//! The welcome wizard after sign-up: welcome → broker → first plan → done. Each step is in
//! the URL (`/welcome?step=plan`), so it can be skipped and resumed at any time (the
//! dashboard links back here while the user has no plan).

use super::broker::BrokerPanel;
use super::layout::RequireUser;
use super::plans::editor::{PlanEditor, preferred_zone};
use super::plans::form::PlanForm;
use crate::api::dca::Plan;
use crate::domain::zones;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

const STEPS: [(&str, &str); 4] = [
    ("welcome", "Welcome"),
    ("broker", "Broker"),
    ("plan", "First plan"),
    ("done", "Done"),
];

#[component]
pub fn WelcomePage() -> impl IntoView {
    let query = use_query_map();
    let step = move || query.with(|q| q.get("step").unwrap_or_else(|| "welcome".into()));
    let index = move || STEPS.iter().position(|(s, _)| *s == step()).unwrap_or(0);
    view! {
        <Title text="Welcome · QuantShift" />
        <RequireUser>
            <section class="page wizard">
                <ol class="steps" aria-label="Setup steps">
                    {STEPS.iter().enumerate().map(|(i, (_, label))| view! {
                        <li class:step-done=move || i < index() class:step-current=move || i == index()
                            aria-current=move || (i == index()).then_some("step")>
                            {*label}
                        </li>
                    }).collect_view()}
                </ol>
                <p class="visually-hidden" role="status">{move || format!("Step {} of {}", index() + 1, STEPS.len())}</p>
                {move || match step().as_str() {
                    "broker" => view! { <BrokerStep /> }.into_any(),
                    "plan" => view! { <PlanStep /> }.into_any(),
                    "done" => view! { <DoneStep /> }.into_any(),
                    _ => view! { <WelcomeStep /> }.into_any(),
                }}
            </section>
        </RequireUser>
    }
}

#[component]
fn WelcomeStep() -> impl IntoView {
    view! {
        <div class="panel wizard-panel">
            <h1>"Welcome to QuantShift"</h1>
            <p class="lead">
                "Set a plan once: what to buy, how much and when. QuantShift buys on schedule, exactly "
                "once per date, and shows every purchase here. Three short steps and you're set."
            </p>
            <div class="hero-actions">
                <a class="btn btn-primary btn-large" href="/welcome?step=broker">"Get started"</a>
                <a class="btn btn-quiet" href="/dashboard" data-testid="skip-setup">"Skip for now"</a>
            </div>
        </div>
    }
}

#[component]
fn BrokerStep() -> impl IntoView {
    let navigate = use_navigate();
    let on_connected = Callback::new(move |()| navigate("/welcome?step=plan", Default::default()));
    view! {
        <div class="panel wizard-panel">
            <h1>"Where your plans trade"</h1>
            <p>
                "Start with the simulated paper account: real market hours and prices, play money. "
                "You can connect your own Alpaca account now or any time later in Settings."
            </p>
            <div class="hero-actions">
                <a class="btn btn-primary btn-large" href="/welcome?step=plan">"Keep the paper account"</a>
            </div>
            <details class="connect-own">
                <summary>"Connect my Alpaca keys instead"</summary>
                <BrokerPanel on_connected />
            </details>
            <p><a href="/dashboard">"Skip setup for now"</a></p>
        </div>
    }
}

#[component]
fn PlanStep() -> impl IntoView {
    let navigate = use_navigate();
    let on_saved = Callback::new(move |plan: Plan| {
        let id = plan.id.map(|id| id.to_string()).unwrap_or_default();
        navigate(&format!("/welcome?step=done&plan={id}"), Default::default());
    });
    let preferred = preferred_zone();
    let zone_from_browser = preferred.is_none();
    let mut form = PlanForm::new(preferred.as_deref().unwrap_or(zones::NEW_YORK));
    form.name = "My first plan".into();
    view! {
        <div class="wizard-wide">
            <h1>"Your first plan"</h1>
            <p class="muted">"Pick what to buy and when. You can change everything later. "
                <a href="/welcome?step=done">"Skip this step"</a></p>
            <PlanEditor initial=form on_saved zone_from_browser />
        </div>
    }
}

#[component]
fn DoneStep() -> impl IntoView {
    let query = use_query_map();
    let has_plan = query.with_untracked(|q| q.get("plan").is_some());
    view! {
        <div class="panel wizard-panel" data-testid="setup-done">
            <h1>"You're set"</h1>
            <p>{if has_plan {
                "Your plan is active: it buys on its schedule, and each purchase shows on your dashboard as it happens."
            } else {
                "Create a plan whenever you're ready; your dashboard shows your account in the meantime."
            }}</p>
            <a class="btn btn-primary btn-large" href="/dashboard">"Go to your dashboard"</a>
        </div>
    }
}
