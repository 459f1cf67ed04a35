//! The plans list and the dashboard's account overview. The plan editor (create, edit,
//! buy now) is still to come; plans created through the API already run and show here.

use super::layout::RequireUser;
use crate::api::dca::{AccountSummary, Plan, list_plans, load_account};
use crate::domain::market::round_cents;
use leptos::prelude::*;
use leptos_meta::Title;
use rust_decimal::Decimal;

/// `$100,000.00`: cents, with thousands separated.
fn money(amount: Decimal) -> String {
    let text = round_cents(amount).abs().to_string();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount.is_sign_negative() && !amount.is_zero() {
        "−"
    } else {
        ""
    };
    format!("{sign}${grouped}.{cents}")
}

#[cfg(test)]
mod tests {
    use super::money;
    use rust_decimal::dec;

    #[test]
    fn money_is_grouped_in_thousands() {
        assert_eq!(money(dec!(100000)), "$100,000.00");
        assert_eq!(money(dec!(999.5)), "$999.50");
        assert_eq!(money(dec!(1234567.891)), "$1,234,567.89");
        assert_eq!(money(dec!(-42.1)), "−$42.10");
        assert_eq!(money(dec!(0)), "$0.00");
    }
}

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
pub fn DashboardOverview() -> impl IntoView {
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
