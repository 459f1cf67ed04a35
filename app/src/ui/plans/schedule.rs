//! The schedule fields: how often, which day, what time, in which time zone.

use super::form::PlanForm;
use crate::domain::schedule::MAX_DAY_OF_MONTH;
use leptos::prelude::*;

/// Time zones offered in the picker; any other IANA name can be typed.
const ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
    "UTC",
];

#[component]
pub(super) fn ScheduleEditor(
    form: RwSignal<PlanForm>,
    edit: impl Fn(&str, &dyn Fn(&mut PlanForm)) + Copy + Send + Sync + 'static,
    error_for: impl Fn(String) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let frequency = move || form.with(|f| f.frequency.clone());
    let interval_error = error_for("schedule.interval".into());
    let weekday_error = error_for("schedule.weekday".into());
    let day_error = error_for("schedule.day_of_month".into());
    let time_error = error_for("schedule.time".into());
    let zone_error = error_for("schedule.timezone".into());
    // The exchange's time beside a time in another zone (New York's date of today).
    let today = crate::domain::calendar::new_york()
        .to_datetime(crate::ui::format::now())
        .date();
    let exchange = move || {
        form.with(|f| crate::domain::plan::exchange_time(&f.time, &f.timezone, today))
            .map(|ny| format!("{ny} in New York, the exchange's time"))
    };
    view! {
        <fieldset class="fieldset">
            <legend>"When"</legend>
            <div class="field-row">
                <div class="field">
                    <label for="plan-frequency">"Repeats"</label>
                    <select id="plan-frequency" prop:value=frequency
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            edit("schedule.frequency", &|f: &mut PlanForm| { f.frequency = v.clone(); if v == "daily" { f.interval = "1".into(); } });
                        }>
                        <option value="daily">"Every trading day"</option>
                        <option value="weekly">"Weekly"</option>
                        <option value="monthly">"Monthly"</option>
                    </select>
                </div>
                // Fields that do not apply are hidden, not removed: one view, no `Show`s
                    // (each is generic code of its own in the browser's bundle).
                    <div class="field" hidden=move || frequency() == "daily" class:field-invalid=move || interval_error.with(Option::is_some)>
                        <label for="plan-interval">{move || if frequency() == "monthly" { "Every N months" } else { "Every N weeks" }}</label>
                        <input id="plan-interval" type="number" min="1" inputmode="numeric"
                            aria-describedby="plan-interval-error"
                            prop:value=move || form.with(|f| f.interval.clone())
                            on:input=move |ev| { let v = event_target_value(&ev); edit("schedule.interval", &|f: &mut PlanForm| f.interval = v.clone()); } />
                        <p class="field-error" id="plan-interval-error" data-testid="error-plan-interval">{move || interval_error.get()}</p>
                    </div>
                    <div class="field" hidden=move || frequency() != "weekly" class:field-invalid=move || weekday_error.with(Option::is_some)>
                        <label for="plan-weekday">"On"</label>
                        <select id="plan-weekday" prop:value=move || form.with(|f| f.weekday.clone())
                            on:change=move |ev| { let v = event_target_value(&ev); edit("schedule.weekday", &|f: &mut PlanForm| f.weekday = v.clone()); }>
                            {crate::domain::schedule::Weekday::ALL.into_iter().map(|d| view! { <option value=d.as_str()>{d.name()}</option> }).collect_view()}
                        </select>
                        <p class="field-error" data-testid="error-plan-weekday">{move || weekday_error.get()}</p>
                    </div>
                    <div class="field" hidden=move || frequency() != "monthly" class:field-invalid=move || day_error.with(Option::is_some)>
                        <label for="plan-day">"On day"</label>
                        <select id="plan-day" prop:value=move || form.with(|f| f.day_of_month.clone())
                            on:change=move |ev| { let v = event_target_value(&ev); edit("schedule.day_of_month", &|f: &mut PlanForm| f.day_of_month = v.clone()); }>
                            <option value="first">"The first trading day"</option>
                            <option value="last">"The last trading day"</option>
                            {(1..=MAX_DAY_OF_MONTH).map(|n| view! { <option value=n.to_string()>{format!("Day {n}")}</option> }).collect_view()}
                        </select>
                        <p class="field-error" data-testid="error-plan-day">{move || day_error.get()}</p>
                    </div>
            </div>
            <div class="field-row">
                <div class="field" class:field-invalid=move || time_error.with(Option::is_some)>
                    <label for="plan-time">"Time"</label>
                    <input id="plan-time" type="time" step="60" aria-describedby="plan-time-error"
                        prop:value=move || form.with(|f| f.time.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); edit("schedule.time", &|f: &mut PlanForm| f.time = v.clone()); } />
                    <p class="field-hint" data-testid="exchange-time">{exchange}</p>
                    <p class="field-error" id="plan-time-error" data-testid="error-plan-time">{move || time_error.get()}</p>
                </div>
                <div class="field" class:field-invalid=move || zone_error.with(Option::is_some)>
                    <label for="plan-zone">"Time zone"</label>
                    <input id="plan-zone" type="text" list="plan-zones" autocomplete="off" aria-describedby="plan-zone-error"
                        prop:value=move || form.with(|f| f.timezone.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); edit("schedule.timezone", &|f: &mut PlanForm| f.timezone = v.clone()); } />
                    <datalist id="plan-zones">
                        {ZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
                    </datalist>
                    <p class="field-error" id="plan-zone-error" data-testid="error-plan-zone">{move || zone_error.get()}</p>
                </div>
            </div>
            <label class="check">
                <input type="checkbox" prop:checked=move || form.with(|f| f.queue_outside_hours)
                    on:change=move |ev| { let v = event_target_checked(&ev); edit("schedule.time", &|f: &mut PlanForm| f.queue_outside_hours = v); } />
                " Outside market hours, queue the purchase for the next open"
            </label>
        </fieldset>
    }
}
