//! Purchase history: every purchase with its status and, when it did not buy, why; with a
//! CSV export of the same rows.

use super::layout::RequireUser;
use crate::api::dca::{Purchase, purchase_history};
use leptos::prelude::*;
use leptos_meta::Title;

fn when(purchase: &Purchase) -> String {
    purchase
        .slot_at
        .map(|t| {
            jiff::tz::TimeZone::UTC
                .to_datetime(t)
                .strftime("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_default()
}

#[component]
fn PurchaseRow(purchase: Purchase) -> impl IntoView {
    let status_class = format!("badge status-{}", purchase.status);
    view! {
        <tr data-testid="purchase-row">
            <td>{when(&purchase)}</td>
            <td>{purchase.symbol.clone()}</td>
            <td>{format!("${}", purchase.notional)}</td>
            <td>{purchase.qty.clone().unwrap_or_default()}</td>
            <td>{purchase.price.clone().map(|p| format!("${p}")).unwrap_or_default()}</td>
            <td><span class=status_class data-testid="purchase-status">{purchase.status.clone()}</span></td>
            <td class="muted">{purchase.reason.clone().unwrap_or_default()}</td>
        </tr>
    }
}

#[component]
pub fn HistoryPage() -> impl IntoView {
    let page = Resource::new(|| (), |_| purchase_history(None, None, Some(200)));
    view! {
        <Title text="History · QuantShift" />
        <RequireUser>
            <section class="page">
                <header class="page-header">
                    <h1>"History"</h1>
                    <a class="btn btn-quiet" href="/api/dca/history.csv" download="quantshift-history.csv">"Export CSV"</a>
                </header>
                <Suspense fallback=|| view! { <p class="loading">"Loading purchases…"</p> }>
                    {move || Suspend::new(async move {
                        match page.await {
                            Ok(page) if page.purchases.is_empty() => view! {
                                <div class="empty-state" data-testid="history-empty">
                                    <h2>"No purchases yet"</h2>
                                    <p>"Each purchase your plans make, or skip, appears here with its outcome."</p>
                                </div>
                            }.into_any(),
                            Ok(page) => view! {
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
                            }.into_any(),
                            Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </RequireUser>
    }
}
