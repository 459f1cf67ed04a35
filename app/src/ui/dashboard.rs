//! The dashboard: the signed-in user's home: their paper account and their plans (or, with
//! none yet, what a plan is).

use super::format::money;
use super::layout::RequireUser;
use crate::api::dca::{AccountSummary, list_plans, load_account};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Dashboard · QuantShift" />
        <RequireUser>
            <section class="page">
                <header class="page-header">
                    <h1>"Dashboard"</h1>
                </header>
                <DashboardOverview />
            </section>
        </RequireUser>
    }
}

#[component]
fn AccountCards(account: AccountSummary) -> impl IntoView {
    view! {
        <div class="cards" data-testid="account">
            <div class="card"><span class="card-label">"Equity"</span><span class="card-value">{money(account.equity)}</span></div>
            <div class="card"><span class="card-label">"Cash"</span><span class="card-value" data-testid="cash">{money(account.cash)}</span></div>
            <div class="card"><span class="card-label">"Buying power"</span><span class="card-value">{money(account.buying_power)}</span></div>
            <div class="card"><span class="card-label">"Unrealized P&L"</span><span class="card-value">{money(account.unrealized_pl)}</span></div>
        </div>
        {(!account.positions.is_empty()).then(|| view! {
            <div class="table-wrap">
                <table class="table" data-testid="positions">
                    <caption>"Positions"</caption>
                    <thead><tr>
                        <th scope="col">"Symbol"</th><th scope="col">"Quantity"</th><th scope="col">"Average cost"</th>
                        <th scope="col">"Market value"</th><th scope="col">"P&L"</th>
                    </tr></thead>
                    <tbody>
                        {account.positions.into_iter().map(|p| view! {
                            <tr>
                                <td>{p.symbol}</td>
                                <td>{p.qty.round_dp(6).normalize().to_string()}</td>
                                <td>{money(p.avg_entry_price)}</td>
                                <td>{p.market_value.map(money).unwrap_or_default()}</td>
                                <td>{p.unrealized_pl.map(money).unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
    }
}

/// The dashboard's body: the broker account, then the plans (or how to start one).
#[component]
fn DashboardOverview() -> impl IntoView {
    let account = Resource::new(|| (), |_| load_account());
    let plans = Resource::new(|| (), |_| list_plans());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading your account…"</p> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(account) => view! { <AccountCards account /> }.into_any(),
                    Err(err) => view! { <p class="muted" role="status">{err.message}</p> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match plans.await {
                    Ok(list) if !list.is_empty() => view! {
                        <p class="muted" data-testid="plan-count">
                            {format!("{} plan{} ", list.len(), if list.len() == 1 { "" } else { "s" })}
                            <a href="/plans">"See your plans"</a>
                        </p>
                    }.into_any(),
                    _ => view! {
                        <div class="empty-state" data-testid="dashboard-empty">
                            <h2>"No plans yet"</h2>
                            <p>
                                "A plan buys the amounts you choose, on the schedule you choose, "
                                "through your simulated paper account. Your plans, positions and "
                                "purchases will appear here."
                            </p>
                        </div>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
