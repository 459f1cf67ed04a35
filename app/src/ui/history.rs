//! Purchase history: every purchase with its status and, when it did not buy, why; filtered
//! by plan and symbol, a page at a time, with a CSV export of the same filter.

use super::format::{clock, weekday_day_month};
use super::layout::RequireUser;
use crate::api::dca::{HistoryFilter, Purchase, load_history, load_plans};
use leptos::prelude::*;
use leptos_meta::Title;

const PAGE_SIZE: i64 = 25;

fn when(purchase: &Purchase) -> String {
    purchase
        .slot_at
        .map(|t| {
            let at = crate::domain::calendar::new_york().to_datetime(t);
            format!(
                "{} {} {} ET",
                weekday_day_month(at.date()),
                at.year(),
                clock(at.time())
            )
        })
        .unwrap_or_default()
}

#[component]
fn PurchaseRow(purchase: Purchase) -> impl IntoView {
    let status = purchase.status;
    let status_class = format!("badge status-{status}");
    view! {
        <tr data-testid="purchase-row">
            <td>{when(&purchase)}</td>
            <td>{purchase.symbol.clone()}{(purchase.side == crate::domain::order::Side::Sell).then_some(" (sell)")}</td>
            <td>{format!("${}", purchase.notional)}</td>
            <td>{purchase.qty.clone().unwrap_or_default()}</td>
            <td>{purchase.price.clone().map(|p| format!("${p}")).unwrap_or_default()}</td>
            <td><span class=status_class data-testid="purchase-status" title=status.words()>{status.as_str()}</span></td>
            <td class="muted">{purchase.reason.clone().unwrap_or_else(|| status.words().to_owned())}</td>
        </tr>
    }
}

fn csv_link(plan: &str, symbol: &str) -> String {
    let mut link = "/api/dca/history.csv".to_string();
    let mut sep = '?';
    for (key, value) in [("plan_id", plan), ("symbol", symbol)] {
        if !value.is_empty() {
            link.push_str(&format!(
                "{sep}{key}={}",
                // Plan ids and symbols only hold these characters; nothing else needs escaping.
                value
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                    .collect::<String>()
            ));
            sep = '&';
        }
    }
    link
}

#[component]
pub fn HistoryPage() -> impl IntoView {
    let plan = RwSignal::new(String::new());
    let symbol = RwSignal::new(String::new());
    // The cursors of the pages before this one, to go back.
    let cursors = RwSignal::new(Vec::<Option<String>>::new());
    let before = RwSignal::new(None::<String>);
    let plans = Resource::new(|| (), |_| load_plans());
    let page = Resource::new(
        move || (plan.get(), symbol.get(), before.get()),
        |(plan, symbol, before)| {
            load_history(HistoryFilter {
                plan_id: (!plan.is_empty()).then_some(plan),
                symbol: (!symbol.trim().is_empty()).then(|| symbol.trim().to_ascii_uppercase()),
                before,
                limit: Some(PAGE_SIZE),
            })
        },
    );
    let reset = move || {
        cursors.set(Vec::new());
        before.set(None);
    };
    view! {
        <Title text="History · QuantShift" />
        <RequireUser>
            <section class="page">
                <header class="page-header">
                    <h1>"History"</h1>
                    <a class="btn btn-quiet" href=move || csv_link(&plan.get(), &symbol.get()) download="quantshift-history.csv">"Export CSV"</a>
                </header>
                <div class="filters" role="search">
                    <div class="field">
                        <label for="filter-plan">"Plan"</label>
                        <select id="filter-plan" prop:value=move || plan.get()
                            on:change=move |ev| { plan.set(event_target_value(&ev)); reset(); }>
                            <option value="">"All plans"</option>
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    plans.await.unwrap_or_default().into_iter().map(|p| {
                                        let id = p.id.map(|i| i.to_string()).unwrap_or_default();
                                        view! { <option value=id>{p.name}</option> }
                                    }).collect_view()
                                })}
                            </Transition>
                        </select>
                    </div>
                    <div class="field">
                        <label for="filter-symbol">"Symbol"</label>
                        <input id="filter-symbol" type="search" placeholder="e.g. SPY" autocomplete="off"
                            prop:value=move || symbol.get()
                            on:change=move |ev| { symbol.set(event_target_value(&ev)); reset(); } />
                    </div>
                </div>
                <Transition fallback=|| view! { <p class="loading">"Loading purchases…"</p> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Ok(page) if page.purchases.is_empty() => view! {
                                <div class="empty-state" data-testid="history-empty">
                                    <h2>"No purchases here yet"</h2>
                                    <p>"Each purchase your plans make, or skip, appears here with its outcome."</p>
                                </div>
                            }.into_any(),
                            Ok(page) => {
                                let next = page.next_before;
                                let last_page = next.is_none();
                                view! {
                                    <div class="table-wrap">
                                        <table class="table" data-testid="history">
                                            <caption class="visually-hidden">"Your purchases, newest first"</caption>
                                            <thead><tr>
                                                <th scope="col">"Scheduled"</th><th scope="col">"Symbol"</th><th scope="col">"Amount"</th>
                                                <th scope="col">"Quantity"</th><th scope="col">"Price"</th><th scope="col">"Status"</th>
                                                <th scope="col">"Why"</th>
                                            </tr></thead>
                                            <tbody>
                                                {page.purchases.into_iter().map(|purchase| view! { <PurchaseRow purchase /> }).collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                    <nav class="pager" aria-label="Pages">
                                        <button type="button" class="btn btn-quiet" disabled=move || cursors.with(Vec::is_empty) data-testid="newer"
                                            on:click=move |_| {
                                                let mut back = cursors.get_untracked();
                                                let previous = back.pop().flatten();
                                                cursors.set(back);
                                                before.set(previous);
                                            }>"← Newer"</button>
                                        <button type="button" class="btn btn-quiet" disabled=last_page data-testid="older"
                                            on:click=move |_| {
                                                cursors.update(|c| c.push(before.get_untracked()));
                                                before.set(next.clone());
                                            }>"Older →"</button>
                                    </nav>
                                }.into_any()
                            }
                            Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </RequireUser>
    }
}
