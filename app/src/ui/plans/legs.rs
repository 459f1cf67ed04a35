//! The legs: symbols with a type-ahead search of the broker's assets, amounts, and the
//! running totals.

use super::form::{LegText, PlanForm, purchases_per_month};
use crate::api::dca::{AssetFacts, Plan, search_assets};
use crate::ui::format::money;
use leptos::prelude::*;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};

/// The symbols and amounts, with type-ahead search and running totals.
#[component]
pub(super) fn LegsEditor(
    form: RwSignal<PlanForm>,
    check: Memo<(Plan, BTreeMap<String, String>)>,
    assets: RwSignal<HashMap<String, AssetFacts>>,
    edit: impl Fn(&str, &dyn Fn(&mut PlanForm)) + Copy + Send + Sync + 'static,
    error_for: impl Fn(String) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // The row whose symbol box is being searched, and what was typed.
    let searching = RwSignal::new(None::<(usize, String)>);
    let generation = StoredValue::new(0u64);
    let results = RwSignal::new(Vec::<AssetFacts>::new());
    let search_error = RwSignal::new(None::<String>);
    let search = Action::new(move |query: &(u64, String)| {
        let (wanted, query) = query.clone();
        async move { (wanted, search_assets(query).await) }
    });
    Effect::new(move |_| {
        if let Some((wanted, outcome)) = search.value().get()
            && wanted == generation.get_value()
        {
            match outcome {
                Ok(found) => {
                    assets.update(|known| {
                        for a in &found {
                            known.insert(a.symbol.to_string(), a.clone());
                        }
                    });
                    search_error.set(None);
                    results.set(found);
                }
                Err(err) => search_error.set(Some(err.message)),
            }
        }
    });
    let type_symbol = move |row: usize, text: String| {
        edit(&format!("legs[{row}].symbol"), &|f: &mut PlanForm| {
            if let Some(leg) = f.legs.get_mut(row) {
                leg.symbol = text.to_ascii_uppercase();
            }
        });
        generation.update_value(|g| *g += 1);
        let wanted = generation.get_value();
        let query = text.trim().to_owned();
        searching.set(Some((row, query.clone())));
        if query.is_empty() {
            results.set(Vec::new());
            return;
        }
        // Wait for a pause in typing before asking the server.
        set_timeout(
            move || {
                if generation.get_value() == wanted {
                    search.dispatch((wanted, query));
                }
            },
            std::time::Duration::from_millis(180),
        );
    };
    let choose = move |row: usize, facts: AssetFacts| {
        edit(&format!("legs[{row}].symbol"), &|f: &mut PlanForm| {
            if let Some(leg) = f.legs.get_mut(row) {
                leg.symbol = facts.symbol.to_string();
            }
        });
        searching.set(None);
        results.set(Vec::new());
    };
    let total = Memo::new(move |_| {
        form.with(|f| {
            f.legs
                .iter()
                .filter_map(|l| super::form::parse_amount(&l.amount).ok())
                // Checked: amounts typed here are not validated yet.
                .try_fold(Decimal::ZERO, |sum, amount| sum.checked_add(amount))
                .unwrap_or(Decimal::MAX)
        })
    });
    let count = move || form.with(|f| f.legs.len());

    view! {
        <fieldset class="fieldset">
            <legend>"What to buy"</legend>
            <p class="field-error" data-testid="error-legs">{move || error_for("legs".into()).get()}</p>
            <div class="legs">
                {move || (0..count()).map(|row| {
                    let symbol_id = format!("leg-{row}-symbol");
                    let amount_id = format!("leg-{row}-amount");
                    let symbol_error = error_for(format!("legs[{row}].symbol"));
                    let amount_error = error_for(format!("legs[{row}].amount"));
                    let list_id = format!("leg-{row}-options");
                    let open = move || searching.with(|s| s.as_ref().is_some_and(|(r, q)| *r == row && !q.is_empty()));
                    view! {
                        <div class="leg-row" data-testid="leg-row">
                            <div class="field leg-symbol" class:field-invalid=move || symbol_error.with(Option::is_some)>
                                <label for=symbol_id.clone()>{format!("Symbol {}", row + 1)}</label>
                                <input id=symbol_id.clone() type="text" autocomplete="off" spellcheck="false"
                                    placeholder="Search, e.g. SPY or Vanguard"
                                    role="combobox" aria-autocomplete="list" aria-controls=list_id.clone()
                                    aria-expanded=move || open().to_string()
                                    aria-invalid=move || symbol_error.with(Option::is_some).to_string()
                                    aria-describedby=format!("{symbol_id}-error")
                                    prop:value=move || form.with(|f| f.legs.get(row).map(|l| l.symbol.clone()).unwrap_or_default())
                                    on:input=move |ev| type_symbol(row, event_target_value(&ev))
                                    on:keydown=move |ev| if ev.key() == "Escape" { searching.set(None); } />
                                <Show when=open>
                                    <ul class="options" id=list_id.clone() role="listbox" aria-label="Matching symbols">
                                        {move || {
                                            let found = results.get();
                                            if found.is_empty() {
                                                let text = search_error.get().unwrap_or_else(|| {
                                                    if search.pending().get() { "Searching…".into() } else { "No matching symbols.".into() }
                                                });
                                                return view! { <li class="option-empty" role="presentation">{text}</li> }.into_any();
                                            }
                                            found.into_iter().map(|facts| {
                                                let usable = facts.tradable && facts.fractionable;
                                                let chosen = facts.clone();
                                                view! {
                                                    <li role="option" aria-selected="false" aria-disabled=(!usable).to_string()>
                                                        <button type="button" class="option" disabled=!usable
                                                            data-testid=format!("option-{}", facts.symbol)
                                                            on:click=move |_| choose(row, chosen.clone())>
                                                            <strong>{facts.symbol.to_string()}</strong>
                                                            <span class="option-name">{facts.name.clone()}</span>
                                                            {if usable {
                                                                view! { <span class="badge">"fractional"</span> }.into_any()
                                                            } else if !facts.tradable {
                                                                view! { <span class="option-note">"not tradable now"</span> }.into_any()
                                                            } else {
                                                                view! { <span class="option-note">"whole shares only: cannot be bought by dollar amount"</span> }.into_any()
                                                            }}
                                                        </button>
                                                    </li>
                                                }
                                            }).collect_view().into_any()
                                        }}
                                    </ul>
                                </Show>
                                <p class="field-error" id=format!("{symbol_id}-error") data-testid=format!("error-{symbol_id}")>{move || symbol_error.get()}</p>
                            </div>
                            <div class="field leg-amount" class:field-invalid=move || amount_error.with(Option::is_some)>
                                <label for=amount_id.clone()>{format!("Amount {} ($)", row + 1)}</label>
                                <input id=amount_id.clone() type="text" inputmode="decimal" placeholder="50.00"
                                    aria-invalid=move || amount_error.with(Option::is_some).to_string()
                                    aria-describedby=format!("{amount_id}-error")
                                    prop:value=move || form.with(|f| f.legs.get(row).map(|l| l.amount.clone()).unwrap_or_default())
                                    on:input=move |ev| {
                                        let text = event_target_value(&ev);
                                        edit(&format!("legs[{row}].amount"), &|f: &mut PlanForm| if let Some(leg) = f.legs.get_mut(row) { leg.amount = text.clone(); });
                                    } />
                                <p class="field-error" id=format!("{amount_id}-error") data-testid=format!("error-{amount_id}")>{move || amount_error.get()}</p>
                            </div>
                            <button type="button" class="btn btn-quiet leg-remove" aria-label=format!("Remove line {}", row + 1)
                                disabled=move || count() == 1
                                on:click=move |_| edit("legs", &|f: &mut PlanForm| { if f.legs.len() > 1 { f.legs.remove(row); } })>"×"</button>
                        </div>
                    }
                }).collect_view()}
            </div>
            <button type="button" class="btn btn-quiet" on:click=move |_| edit("legs", &|f: &mut PlanForm| f.legs.push(LegText::default()))>
                "+ Add a symbol"
            </button>
            <p class="totals" data-testid="totals" aria-live="polite">
                {move || {
                    let per_purchase = total.get();
                    let monthly = per_purchase
                        * check.with(|(plan, _)| purchases_per_month(&plan.schedule));
                    format!("{} per purchase · about {} per month", money(per_purchase), money(monthly))
                }}
            </p>
        </fieldset>
    }
}
