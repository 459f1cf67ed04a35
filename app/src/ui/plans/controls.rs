//! A saved plan's controls: start, pause, stop, delete (each confirmed where it cannot be
//! undone) and buy now.

use super::editor::request_id;
use crate::api::dca::{Plan, PlanStatus, delete_plan, run_plan_now, set_plan_status};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// Start, pause, stop, delete (each confirmed where it cannot be undone) and buy now.
#[component]
pub(super) fn PlanControls(current: RwSignal<Plan>) -> impl IntoView {
    let navigate = use_navigate();
    let id = move || {
        current
            .with(|p| p.id.as_ref().map(|id| id.as_str().to_owned()))
            .unwrap_or_default()
    };
    let message = RwSignal::new(None::<Result<String, String>>);
    let status_action = Action::new(move |status: &PlanStatus| {
        let (id, status) = (id(), *status);
        async move { set_plan_status(id, status).await }
    });
    Effect::new(move |_| match status_action.value().get() {
        Some(Ok(plan)) => {
            message.set(Some(Ok(format!(
                "The plan is now {}.",
                plan.status.as_str()
            ))));
            current.set(plan);
        }
        Some(Err(err)) => message.set(Some(Err(err.message))),
        None => {}
    });
    let buy_action = Action::new(move |_: &()| {
        let id = id();
        let key = request_id();
        async move { run_plan_now(id, key).await }
    });
    Effect::new(move |_| {
        match buy_action.value().get() {
        Some(Ok(_)) => message.set(Some(Ok(
            "Purchase queued: it appears on your dashboard and in your history as soon as the broker answers.".into(),
        ))),
        Some(Err(err)) => message.set(Some(Err(err.message))),
        None => {}
    }
    });
    let delete_action = Action::new(move |_: &()| {
        let id = id();
        async move { delete_plan(id).await }
    });
    Effect::new(move |_| match delete_action.value().get() {
        Some(Ok(())) => navigate("/plans?deleted=1", Default::default()),
        Some(Err(err)) => message.set(Some(Err(err.message))),
        None => {}
    });
    // Which irreversible action waits for a second click.
    let confirming = RwSignal::new(None::<&'static str>);
    let status = move || current.with(|p| p.status);
    let busy = move || {
        status_action.pending().get() || buy_action.pending().get() || delete_action.pending().get()
    };

    view! {
        <div class="plan-controls" role="group" aria-label="Plan controls">
            <Show when=move || status() == PlanStatus::Paused>
                <button type="button" class="btn btn-primary" disabled=busy
                    on:click=move |_| { status_action.dispatch(PlanStatus::Active); }>"Start"</button>
            </Show>
            <Show when=move || status() == PlanStatus::Active>
                <button type="button" class="btn btn-quiet" disabled=busy
                    on:click=move |_| { status_action.dispatch(PlanStatus::Paused); }>"Pause"</button>
            </Show>
            <Show when=move || status() != PlanStatus::Stopped>
                <button type="button" class="btn btn-quiet" disabled=busy data-testid="buy-now"
                    on:click=move |_| { buy_action.dispatch(()); }>
                    {move || if buy_action.pending().get() { "Buying…" } else { "Buy now" }}
                </button>
                <button type="button" class="btn btn-quiet" disabled=busy
                    on:click=move |_| confirming.set(Some("stop"))>"Stop"</button>
            </Show>
            <button type="button" class="btn btn-danger" disabled=busy
                on:click=move |_| confirming.set(Some("delete"))>"Delete"</button>
        </div>
        {move || confirming.get().map(|what| {
            let (question, confirm) = if what == "stop" {
                ("Stop this plan for good? It will not buy again and cannot be restarted.", "Stop plan")
            } else {
                ("Delete this plan? It stops buying and leaves your plan list; its purchases stay in your history.", "Delete plan")
            };
            view! {
                <div class="confirm" role="alertdialog" aria-labelledby="confirm-question">
                    <p id="confirm-question">{question}</p>
                    <button type="button" class="btn btn-danger" on:click=move |_| {
                        confirming.set(None);
                        if what == "stop" {
                            status_action.dispatch(PlanStatus::Stopped);
                        } else {
                            delete_action.dispatch(());
                        }
                    }>{confirm}</button>
                    <button type="button" class="btn btn-quiet" on:click=move |_| confirming.set(None)>"Cancel"</button>
                </div>
            }
        })}
        <p class="status-line" role="status" data-testid="plan-message">
            {move || match message.get() {
                Some(Ok(text)) => view! { <span class="ok">{text}</span> }.into_any(),
                Some(Err(text)) => view! { <span class="form-error">{text}</span> }.into_any(),
                None => ().into_any(),
            }}
        </p>
    }
}
