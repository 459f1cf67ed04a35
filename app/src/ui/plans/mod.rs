//! Plans, by feature: the list (here: each plan with what it buys, when, its status and
//! next purchase, linked to its editor), the editor (`editor.rs`) with its legs
//! (`legs.rs`), schedule (`schedule.rs`) and strategy (`strategy.rs`) fields, the preview
//! (`preview.rs`) and a saved plan's controls (`controls.rs`), over the form model
//! (`form.rs`: text as typed → a `Plan` checked by the shared rules; its field parsers are
//! the backtest form's too).

mod controls;
pub mod editor;
pub(crate) mod form;
mod legs;
mod preview;
mod schedule;
mod strategy;

use super::format::local_time;
use super::format::money;
use super::layout::RequireUser;
use crate::api::dca::{Plan, load_plans};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// A new plan's settings handed to the editor by another page (the backtest's "Use these
/// settings") as a typed form, not a query string: given by one page, taken once by the
/// next new-plan editor. It lives in the browser's memory only (a server render never has
/// one, and a page loaded afresh starts without one), so it needs no context.
pub mod hand_off {
    use super::form::PlanForm;

    #[cfg(feature = "hydrate")]
    static SLOT: std::sync::Mutex<Option<PlanForm>> = std::sync::Mutex::new(None);

    pub fn give(form: PlanForm) {
        #[cfg(feature = "hydrate")]
        if let Ok(mut slot) = SLOT.lock() {
            *slot = Some(form);
        }
        #[cfg(not(feature = "hydrate"))]
        drop(form);
    }

    /// The settings handed over, once.
    pub fn take() -> Option<PlanForm> {
        #[cfg(feature = "hydrate")]
        {
            SLOT.lock().ok()?.take()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            None
        }
    }
}

/// "Mon 30 Nov 2026, 10:00" in the plan's own time zone.
fn next_run(plan: &Plan) -> String {
    plan.next_run_at
        .map(|at| local_time(at, &plan.schedule.timezone))
        .unwrap_or_else(|| "—".into())
}

fn legs(plan: &Plan) -> String {
    plan.legs
        .iter()
        .map(|l| format!("{} {}", l.symbol, money(l.amount)))
        .collect::<Vec<_>>()
        .join(" · ")
}

#[component]
fn PlanRow(plan: Plan) -> impl IntoView {
    let href = plan
        .id
        .as_ref()
        .map(|id| format!("/plans/{id}"))
        .unwrap_or_default();
    view! {
        <tr data-testid="plan-row">
            <td>
                <a href=href>{plan.name.clone()}</a>
                {plan.id.as_ref().filter(|_| plan.is_bot()).map(|id| view! {
                    " · " <a href=format!("/bots/{id}") rel="external" data-testid="bot-link">"Bot state"</a>
                })}
            </td>
            <td>{legs(&plan)}</td>
            <td>{plan.schedule.describe()}</td>
            <td>
                <span class=format!("badge plan-{}", plan.status.as_str()) data-testid="plan-status">{plan.status.as_str()}</span>
                <p class="muted" data-testid="paused-reason" hidden=plan.paused_reason.is_none()>
                    {plan.paused_reason.clone().unwrap_or_default()}" "<a href="/billing">"Upgrade"</a>
                </p>
            </td>
            <td>{next_run(&plan)}</td>
        </tr>
    }
}

#[component]
pub fn PlansPage() -> impl IntoView {
    let plans = Resource::new(|| (), |_| load_plans());
    let deleted = use_query_map().with_untracked(|q| q.get("deleted").is_some());
    view! {
        <Title text="Plans · QuantShift" />
        <RequireUser>
            <section class="page">
                <header class="page-header">
                    <h1>"Plans"</h1>
                    <a class="btn btn-primary" href="/plans/new">"New plan"</a>
                </header>
                {deleted.then(|| view! { <p class="notice" role="status">"The plan was deleted. Its purchases stay in your history."</p> })}
                <Suspense fallback=|| view! { <p class="loading">"Loading plans…"</p> }>
                    {move || Suspend::new(async move {
                        match plans.await {
                            Ok(list) if list.is_empty() => view! {
                                <div class="empty-state" data-testid="plans-empty">
                                    <h2>"No plans yet"</h2>
                                    <p>"A plan buys the amounts you choose on the schedule you choose: \"$50 of SPY every Monday at 10:00\"."</p>
                                    <a class="btn btn-primary" href="/plans/new">"Create your first plan"</a>
                                </div>
                            }.into_any(),
                            Ok(list) => view! {
                                <div class="table-wrap">
                                    <table class="table" data-testid="plans">
                                        <caption class="visually-hidden">"Your plans"</caption>
                                        <thead><tr>
                                            <th scope="col">"Plan"</th><th scope="col">"Buys"</th><th scope="col">"Schedule"</th>
                                            <th scope="col">"Status"</th><th scope="col">"Next purchase"</th>
                                        </tr></thead>
                                        <tbody>{list.into_iter().map(|plan| view! { <PlanRow plan /> }).collect_view()}</tbody>
                                    </table>
                                </div>
                            }.into_any(),
                            Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </RequireUser>
    }
}
