//! A saved plan's controls: start, pause, stop, delete (each confirmed where it cannot be
//! undone) and buy now.

use super::editor::request_id;
use crate::api::dca::{Plan, PlanStatus, delete_plan, run_plan_now, set_plan_status};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

/// What a control asks of the server.
#[derive(Clone, Copy)]
enum Control {
    Status(PlanStatus),
    BuyNow,
    Delete,
}

/// What the server did.
#[derive(Clone)]
enum Done {
    Plan(Plan),
    Queued,
    Deleted,
}

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
    // One action for every control (one action's code in the editor's bundle, not three).
    let action = Action::new(move |control: &Control| {
        let (id, control) = (id(), *control);
        async move {
            match control {
                Control::Status(status) => set_plan_status(id, status).await.map(Done::Plan),
                Control::BuyNow => run_plan_now(id, request_id()).await.map(|_| Done::Queued),
                Control::Delete => delete_plan(id).await.map(|()| Done::Deleted),
            }
        }
    });
    Effect::new(move |_| {
        match action.value().get() {
        Some(Ok(Done::Plan(plan))) => {
            message.set(Some(Ok(format!(
                "The plan is now {}.",
                plan.status.as_str()
            ))));
            current.set(plan);
        }
        Some(Ok(Done::Queued)) => message.set(Some(Ok(
            "Purchase queued: it appears on your dashboard and in your history as soon as the broker answers.".into(),
        ))),
        Some(Ok(Done::Deleted)) => navigate("/plans?deleted=1", Default::default()),
        Some(Err(err)) => message.set(Some(Err(err.message))),
        None => {}
    }
    });
    // Which irreversible action waits for a second click.
    let confirming = RwSignal::new(None::<&'static str>);
    let status = move || current.with(|p| p.status);
    let busy = move || action.pending().get();
    let buying = move || {
        action
            .input()
            .with(|input| matches!(input, Some(Control::BuyNow)))
    };

    view! {
        <div class="plan-controls" role="group" aria-label="Plan controls">
            <button type="button" class="btn btn-primary" disabled=busy hidden=move || status() != PlanStatus::Paused
                on:click=move |_| { action.dispatch(Control::Status(PlanStatus::Active)); }>"Start"</button>
            <button type="button" class="btn btn-quiet" disabled=busy hidden=move || status() != PlanStatus::Active
                on:click=move |_| { action.dispatch(Control::Status(PlanStatus::Paused)); }>"Pause"</button>
            <button type="button" class="btn btn-quiet" disabled=busy data-testid="buy-now" hidden=move || status() == PlanStatus::Stopped
                on:click=move |_| { action.dispatch(Control::BuyNow); }>
                {move || if buying() { "Buying…" } else { "Buy now" }}
            </button>
            <button type="button" class="btn btn-quiet" disabled=busy hidden=move || status() == PlanStatus::Stopped
                on:click=move |_| confirming.set(Some("stop"))>"Stop"</button>
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
                        action.dispatch(if what == "stop" {
                            Control::Status(PlanStatus::Stopped)
                        } else {
                            Control::Delete
                        });
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
