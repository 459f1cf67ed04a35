//! The strategy fields: Pure DCA, or Smart DCA with its moving-average condition and what
//! happens when it is not met.

use super::form::PlanForm;
use leptos::prelude::*;

#[component]
pub(super) fn ModeEditor(
    form: RwSignal<PlanForm>,
    max_per_slot: Signal<rust_decimal::Decimal>,
    edit: impl Fn(&str, &dyn Fn(&mut PlanForm)) + Copy + Send + Sync + 'static,
    error_for: impl Fn(String) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let mode = move || form.with(|f| f.mode.clone());
    let condition = move || form.with(|f| f.condition.clone());
    let smart_error = error_for("smart.condition".into());
    let set_mode =
        move |value: &'static str| edit("mode", &|f: &mut PlanForm| f.mode = value.into());
    view! {
        <fieldset class="fieldset">
            <legend>"How"</legend>
            <label class="check">
                <input type="radio" name="plan-mode" value="pure" prop:checked=move || mode() == "pure" on:change=move |_| set_mode("pure") />
                " Pure DCA: buy on every date, whatever the price"
            </label>
            <label class="check">
                <input type="radio" name="plan-mode" value="smart" prop:checked=move || mode() == "smart" on:change=move |_| set_mode("smart") />
                " Smart DCA: buy only when a moving-average condition holds"
            </label>
            <p class="field-hint" hidden=move || mode() != "bot">
                "A signal bot: the MA crossover buys and sells after each close, with the settings of the backtest it came from."
            </p>
            // Hidden rather than removed when they do not apply (no `Show`s: each is generic
            // code of its own in the browser's bundle).
            <div hidden=move || mode() != "smart">
                <div class="field-row smart">
                    <div class="field">
                        <label for="smart-condition">"Buy when"</label>
                        <select id="smart-condition" prop:value=condition
                            on:change=move |ev| { let v = event_target_value(&ev); edit("smart.condition", &|f: &mut PlanForm| f.condition = v.clone()); }>
                            <option value="close_above_sma">"The close is above its moving average (trend)"</option>
                            <option value="close_below_sma">"The close is below its moving average (dip)"</option>
                            <option value="fast_above_slow">"A fast average is above a slow one"</option>
                        </select>
                    </div>
                    <div class="field" hidden=move || condition() != "fast_above_slow">
                                <label for="smart-fast">"Fast (days)"</label>
                                <input id="smart-fast" type="number" min="1" prop:value=move || form.with(|f| f.fast.clone())
                                    on:input=move |ev| { let v = event_target_value(&ev); edit("smart.condition", &|f: &mut PlanForm| f.fast = v.clone()); } />
                    </div>
                    <div class="field" hidden=move || condition() != "fast_above_slow">
                                <label for="smart-slow">"Slow (days)"</label>
                                <input id="smart-slow" type="number" min="2" prop:value=move || form.with(|f| f.slow.clone())
                                    on:input=move |ev| { let v = event_target_value(&ev); edit("smart.condition", &|f: &mut PlanForm| f.slow = v.clone()); } />
                    </div>
                        <div class="field" hidden=move || condition() == "fast_above_slow">
                            <label for="smart-period">"Average of (days)"</label>
                            <input id="smart-period" type="number" min="2" prop:value=move || form.with(|f| f.period.clone())
                                on:input=move |ev| { let v = event_target_value(&ev); edit("smart.condition", &|f: &mut PlanForm| f.period = v.clone()); } />
                        </div>
                    <div class="field">
                        <label for="smart-otherwise">"Otherwise"</label>
                        <select id="smart-otherwise" prop:value=move || form.with(|f| f.when_not_met.clone())
                            on:change=move |ev| { let v = event_target_value(&ev); edit("smart.when_not_met", &|f: &mut PlanForm| f.when_not_met = v.clone()); }>
                            <option value="skip">"Skip that purchase"</option>
                            <option value="carry_forward">"Carry the money to the next purchase"</option>
                        </select>
                    </div>
                    <p class="muted" data-testid="carry-cap" hidden=move || form.with(|f| f.when_not_met != "carry_forward")>
                        "Carried money is capped: one purchase never spends more than "
                        {move || crate::ui::format::money(max_per_slot.get())} " in all."
                    </p>
                </div>
                <p class="field-error" data-testid="error-smart">{move || smart_error.get()}</p>
            </div>
        </fieldset>
    }
}
