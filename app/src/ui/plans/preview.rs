//! The live preview: the next purchases, computed in the browser by the shared schedule
//! code, and what the plan spends a month.

use super::form::zone_city;
use crate::api::dca::Plan;
use crate::domain::zones;
use crate::ui::format::{local_time, money, weekday_day_month};
use leptos::prelude::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The one-line summary and the next five purchase times, from the shared schedule code.
#[component]
pub(super) fn Preview(check: Memo<(Plan, BTreeMap<String, String>)>) -> impl IntoView {
    let slots = Memo::new(move |_| {
        check.with(|(plan, _)| {
            plan.next_runs(crate::ui::format::now(), 5)
                .ok()
                .map(|slots| (plan.schedule.clone(), slots))
        })
    });
    view! {
        <div class="panel preview" aria-live="polite">
            <h2>"Preview"</h2>
            {move || match slots.get() {
                Some((schedule, slots)) if !slots.is_empty() => {
                    let total = check
                        .with(|(plan, _)| crate::domain::strategy::dca::legs_total(&plan.legs))
                        .unwrap_or(Decimal::MAX);
                    let next = match zones::get(&schedule.timezone) {
                        Some(tz) => weekday_day_month(tz.to_datetime(slots[0]).date()),
                        None => slots[0].to_string(),
                    };
                    let summary = format!(
                        "{} {} at {} {} time, next on {}",
                        money(total),
                        schedule.cadence(),
                        schedule.time,
                        zone_city(&schedule.timezone),
                        next,
                    );
                    view! {
                        <p class="summary" data-testid="plan-summary">{summary}</p>
                        <h3>"Next purchases"</h3>
                        <ol class="preview-list" data-testid="preview">
                            {slots.iter().map(|at| view! { <li>{local_time(*at, &schedule.timezone)}</li> }).collect_view()}
                        </ol>
                    }.into_any()
                }
                _ => view! { <p class="muted" data-testid="preview-empty">"Complete the schedule to see the next purchase dates."</p> }.into_any(),
            }}
        </div>
    }
}
