//! The plans list. The plan editor (create, edit, buy now) is still to come; plans
//! created through the API already run and show here.

use super::format::money;
use super::layout::RequireUser;
use crate::api::dca::{Plan, list_plans};
use leptos::prelude::*;
use leptos_meta::Title;

/// "Mon 30 Nov 10:00" in the plan's own time zone.
fn next_run(plan: &Plan) -> String {
    let Some(at) = plan.next_run_at else {
        return "—".into();
    };
    match jiff::tz::TimeZone::get(&plan.schedule.timezone) {
        Ok(zone) => zone.to_datetime(at).strftime("%a %-d %b %H:%M").to_string(),
        Err(_) => at.to_string(),
    }
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
    view! {
        <tr data-testid="plan-row">
            <td>{plan.name.clone()}</td>
            <td>{legs(&plan)}</td>
            <td>{plan.schedule.describe()}</td>
            <td><span class="badge" data-testid="plan-status">{plan.status.as_str()}</span></td>
            <td>{next_run(&plan)}</td>
        </tr>
    }
}

#[component]
pub fn PlansPage() -> impl IntoView {
    let plans = Resource::new(|| (), |_| list_plans());
    view! {
        <Title text="Plans · QuantShift" />
        <RequireUser>
            <section class="page">
                <header class="page-header"><h1>"Plans"</h1></header>
                <Suspense fallback=|| view! { <p class="loading">"Loading plans…"</p> }>
                    {move || Suspend::new(async move {
                        match plans.await {
                            Ok(list) if list.is_empty() => view! {
                                <div class="empty-state" data-testid="plans-empty">
                                    <h2>"No plans yet"</h2>
                                    <p>"The plan editor is on its way. Plans created through the API run on schedule and appear here."</p>
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
