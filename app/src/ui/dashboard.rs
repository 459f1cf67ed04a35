//! The dashboard: the signed-in user's home. The account, each plan's state and next
//! purchase, positions, recent purchases and orders, and portfolio value against money
//! invested, all refreshed live from the websocket (old values stay on screen while new
//! ones load, so nothing jumps).

use super::chart::{ChartData, LineChart};
use super::format::{clock, day_month, local_time, money};
use super::layout::RequireUser;
use super::live::{Live, LiveBadge};

use super::returns::{ReturnsCards, rate, signed, value_chart};
use crate::api::AppError;
use crate::api::dca::{
    AccountSummary, HistoryFilter, Plan, PlanStatus, PositionSummary, Purchase, load_account,
    load_history, load_plans,
};
use crate::api::performance::{PerformanceView, load_performance};
use leptos::prelude::*;
use leptos_meta::Title;
use rust_decimal::Decimal;
use std::str::FromStr;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Dashboard · QuantShift" />
        <RequireUser>
            <Dashboard />
        </RequireUser>
    }
}

/// Purchases the dashboard reads: enough to find each plan's latest.
const HISTORY_FOR_STATUS: i64 = 500;

/// While the exchange is open, balances and returns are read again this often.
#[cfg(feature = "hydrate")]
const REFRESH_SECONDS: u64 = 30;

/// What changes only when something happens (a purchase, an edit): the live socket says so.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Records {
    plans: Vec<Plan>,
    purchases: Vec<Purchase>,
}

/// What moves with prices: read again on a timer while the market is open, on tab focus,
/// and on live events.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Prices {
    account: Result<AccountSummary, AppError>,
    performance: Result<PerformanceView, AppError>,
}

async fn records() -> Result<Records, AppError> {
    let (plans, history) = futures_util::future::join(
        load_plans(),
        load_history(HistoryFilter {
            limit: Some(HISTORY_FOR_STATUS),
            ..Default::default()
        }),
    )
    .await;
    Ok(Records {
        plans: plans?,
        purchases: history?.purchases,
    })
}

/// Without a broker the account and returns are missing, but plans and history still show.
async fn prices() -> Prices {
    let (account, performance) =
        futures_util::future::join(load_account(), load_performance()).await;
    Prices {
        account,
        performance,
    }
}

#[component]
fn Dashboard() -> impl IntoView {
    let live = Live::provide();
    let refresh = RwSignal::new(0u32);
    // While the exchange is open (or once it has opened), prices are read again.
    let market = RwSignal::new((false, None::<jiff::Timestamp>));
    // When the prices shown were read (beside the live badge; set once in the browser).
    let updated = RwSignal::new(None::<jiff::Timestamp>);
    let chart_of = RwSignal::new(String::new());
    let records = Resource::new(move || live.version.get(), |_| records());
    let prices = Resource::new(move || (live.version.get(), refresh.get()), |_| prices());
    Effect::new(move |_| {
        if let Some(Prices {
            performance: Ok(view),
            ..
        }) = prices.get()
        {
            // The server's clock says how far off the next open is (the demo's clock is
            // the simulator's): the browser counts from its own now.
            let opens = view.opens_in_ms.and_then(|ms| {
                super::format::now()
                    .checked_add(jiff::SignedDuration::from_millis(ms))
                    .ok()
            });
            market.set((view.market_open, opens));
            updated.set(Some(view.as_of));
        }
    });
    // Countdowns tick in the browser; prices are read again while the market is open and
    // whenever the tab comes back into focus.
    let now = RwSignal::new(super::format::now());
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || now.set(super::format::now()),
            std::time::Duration::from_secs(15),
        ) {
            on_cleanup(move || handle.clear());
        }
        if let Ok(handle) = set_interval_with_handle(
            move || {
                let (open, next_open) = market.get_untracked();
                if open || next_open.is_some_and(|at| super::format::now() >= at) {
                    refresh.update(|n| *n += 1);
                }
            },
            std::time::Duration::from_secs(REFRESH_SECONDS),
        ) {
            on_cleanup(move || handle.clear());
        }
        let focus = window_event_listener(leptos::ev::focus, move |_| refresh.update(|n| *n += 1));
        on_cleanup(move || focus.remove());
    }

    view! {
        <section class="page dashboard">
            <header class="page-header">
                <h1>"Dashboard"</h1>
                <LiveBadge />
                <span class="muted" data-testid="prices-as-of">{move || updated.get().map(|at| {
                    let at = crate::domain::calendar::new_york().to_datetime(at);
                    format!("Prices as of {}:{:02} New York time", clock(at.time()), at.second())
                })}</span>
            </header>
            <Transition fallback=|| view! { <div class="cards cards-placeholder" aria-busy="true"><p class="loading">"Loading your account…"</p></div> }>
                {move || Suspend::new(async move {
                    let (records, prices) = (records.await, prices.await);
                    match records {
                        Ok(records) => view! { <DashboardBody records prices now chart_of /> }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn DashboardBody(
    records: Records,
    prices: Prices,
    now: RwSignal<jiff::Timestamp>,
    /// The plan whose value the chart shows ("" for all).
    chart_of: RwSignal<String>,
) -> impl IntoView {
    let Records { plans, purchases } = records;
    let Prices {
        account,
        performance,
    } = prices;
    // Realized profit and dividends come with the returns (from the broker's activities).
    let income = performance
        .as_ref()
        .ok()
        .map(|p| (p.realized_pl, p.dividends))
        .unwrap_or_default();
    // The signal bots' section: the server's HTML.
    let bots = performance
        .as_ref()
        .ok()
        .map(|p| p.bots_html.clone())
        .filter(|html| !html.is_empty());
    // The chart shows every plan's purchases together, or one plan's.
    let choices: Vec<(String, String)> = performance
        .as_ref()
        .map(|p| {
            p.plans
                .iter()
                .filter(|plan| plan.series.len() > 1)
                .map(|plan| (plan.plan_id.clone(), plan.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    let figures = StoredValue::new(performance.as_ref().ok().cloned());
    let chart = Signal::derive(move || {
        let id = chart_of.get();
        figures.with_value(|p| match p {
            Some(p) => value_chart(
                p.plans
                    .iter()
                    .find(|plan| plan.plan_id == id)
                    .map_or(&p.series, |plan| &plan.series),
            ),
            None => ChartData {
                labels: Vec::new(),
                series: Vec::new(),
            },
        })
    });
    view! {
        {match account.clone() {
            Ok(account) => view! { <AccountCards account income /> }.into_any(),
            Err(err) => view! { <p class="notice" role="status">{err.message}</p> }.into_any(),
        }}
        {performance.ok().filter(|p| !p.account.invested.is_zero()).map(|performance| view! { <ReturnsPanel performance /> })}
        {if plans.is_empty() {
            view! { <NoPlans /> }.into_any()
        } else {
            view! { <PlanStatuses plans history=purchases.clone() now /> }.into_any()
        }}
        {bots.map(|html| view! { <section class="panel" inner_html=html></section> })}
        <div class="dashboard-grid">
            <section class="panel">
                <h2>"Portfolio value"</h2>
                {(!choices.is_empty()).then(|| view! {
                    <label class="check">"Show "
                        <select data-testid="chart-of" prop:value=move || chart_of.get()
                            on:change=move |ev| chart_of.set(event_target_value(&ev))>
                            <option value="">"All plans"</option>
                            {choices.into_iter().map(|(id, name)| {
                                // Chosen by the option itself: the body is drawn again on
                                // each refresh, and the select's value alone would be set
                                // before its options exist.
                                let chosen = chart_of.get_untracked() == id;
                                view! { <option value=id selected=chosen>{name}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                })}
                {move || if chart.with(|c| c.labels.len() < 2) {
                    view! { <p class="muted" data-testid="chart-empty">"Your portfolio's value against the money you put in appears here, one point a day, from your second day of investing."</p> }.into_any()
                } else {
                    view! { <LineChart title="Portfolio value against total invested" data=chart testid="portfolio-chart" /> }.into_any()
                }}
            </section>
            <RecentPurchases history=purchases />
        </div>
        {account.ok().map(|account| view! { <Positions positions=account.positions.clone() /> <RecentOrders account /> })}
    }
}

#[component]
fn NoPlans() -> impl IntoView {
    view! {
        <div class="empty-state" data-testid="dashboard-empty">
            <h2>"No plans yet"</h2>
            <p>
                "A plan buys the amounts you choose, on the schedule you choose, through your "
                "paper account. Your plans, positions and purchases will appear here."
            </p>
            <p class="hero-actions">
                <a class="btn btn-primary" href="/plans/new">"Create a plan"</a>
                <a class="btn btn-quiet" href="/welcome" data-testid="resume-setup">"Finish setting up"</a>
            </p>
        </div>
    }
}

#[component]
fn AccountCards(
    account: AccountSummary,
    /// Realized P&L and dividends (`None`: not known).
    income: (Option<Decimal>, Option<Decimal>),
) -> impl IntoView {
    view! {
        <div class="cards" data-testid="account">
            <div class="card"><span class="card-label">"Equity"</span><span class="card-value" data-testid="equity">{money(account.equity)}</span></div>
            <div class="card"><span class="card-label">"Portfolio value"</span><span class="card-value">{money(account.portfolio_value)}</span></div>
            <div class="card"><span class="card-label">"Cash"</span><span class="card-value" data-testid="cash">{money(account.cash)}</span></div>
            <div class="card"><span class="card-label">"Buying power"</span><span class="card-value">{money(account.buying_power)}</span></div>
            <div class="card"><span class="card-label">"Unrealized P&L"</span><span class="card-value">{signed(Some(account.unrealized_pl))}</span></div>
            <div class="card" title="What the account's sales made or lost, first in, first out">
                <span class="card-label">"Realized P&L"</span>
                <span class="card-value" data-testid="realized">{signed(income.0)}</span>
            </div>
            <div class="card">
                <span class="card-label">"Dividends"</span>
                <span class="card-value" data-testid="dividends">{income.1.map(money).unwrap_or_else(|| "—".into())}</span>
            </div>
        </div>
    }
}

/// "in 2 d 3 h", "in 5 min", "due now".
pub fn countdown(from: jiff::Timestamp, to: jiff::Timestamp) -> String {
    let seconds = to.as_second() - from.as_second();
    if seconds <= 0 {
        return "due now".into();
    }
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    if days > 0 {
        format!("in {days} d {hours} h")
    } else if hours > 0 {
        format!("in {hours} h {minutes} min")
    } else {
        format!("in {} min", minutes.max(1))
    }
}

#[component]
fn PlanStatuses(
    plans: Vec<Plan>,
    history: Vec<Purchase>,
    now: RwSignal<jiff::Timestamp>,
) -> impl IntoView {
    let live = expect_context::<Live>();
    view! {
        <section class="panel plan-statuses">
            <h2>"Your plans"</h2>
            <ul class="plan-list" data-testid="plan-statuses">
                {plans.into_iter().map(|plan| {
                    let id = plan.id.as_ref().map(|i| i.as_str().to_owned()).unwrap_or_default();
                    let last = history.iter().find(|p| p.plan_id == id).cloned();
                    let next_run_at = plan.next_run_at;
                    let zone = plan.schedule.timezone.clone();
                    let status = plan.status;
                    let run_id = id.clone();
                    let run = move || live.runs.with(|r| r.get(&run_id).cloned());
                    let last_error = last.as_ref().filter(|p| p.status.is_problem()).and_then(|p| p.reason.clone());
                    let badge = Signal::derive(move || {
                        if status != PlanStatus::Active {
                            return (status.as_str().to_owned(), None);
                        }
                        match run() {
                            Some(b) => (b.state.as_str().to_owned(), b.reason),
                            None => match &last_error {
                                Some(reason) => ("error".to_owned(), Some(reason.clone())),
                                None => ("idle".to_owned(), None),
                            },
                        }
                    });
                    view! {
                        <li class="plan-item" data-testid="plan-status-row">
                            <div class="plan-item-head">
                                // A bot's state is its own (server-rendered) page.
                                <a href=if plan.is_bot() { format!("/bots/{id}") } else { format!("/plans/{id}") }
                                    rel=plan.is_bot().then_some("external")><strong>{plan.name.clone()}</strong></a>
                                <span class=move || format!("badge run-{}", badge.get().0) data-testid="run-status">{move || badge.get().0}</span>
                            </div>
                            <p class="muted">{plan.schedule.cadence()} " · " {plan.legs.iter().map(|l| format!("{} {}", l.symbol, money(l.amount))).collect::<Vec<_>>().join(", ")}</p>
                            {move || badge.get().1.map(|reason| view! { <p class="form-error" data-testid="run-reason">{reason}</p> })}
                            <p class="plan-next">
                                {match next_run_at {
                                    Some(at) => view! {
                                        "Next: " {local_time(at, &zone)} " "
                                        <span class="countdown" data-testid="countdown">{move || format!("({})", countdown(now.get(), at))}</span>
                                    }.into_any(),
                                    None => view! { "No purchase scheduled" }.into_any(),
                                }}
                            </p>
                            <p class="plan-last" data-testid="last-result">
                                {match last {
                                    Some(p) => format!("Last: {} {} {}{}", p.symbol, format_amount(&p.notional), p.status,
                                        p.reason.map(|r| format!(" ({r})")).unwrap_or_default()),
                                    None => "No purchases yet".into(),
                                }}
                            </p>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

fn format_amount(text: &str) -> String {
    Decimal::from_str(text)
        .map(money)
        .unwrap_or_else(|_| text.to_owned())
}

fn short_date(at: jiff::Timestamp) -> String {
    let at = crate::domain::calendar::new_york().to_datetime(at);
    format!("{} {}", day_month(at.date()), clock(at.time()))
}

#[component]
fn RecentPurchases(history: Vec<Purchase>) -> impl IntoView {
    let recent: Vec<Purchase> = history.into_iter().take(8).collect();
    view! {
        <section class="panel">
            <h2>"Recent purchases"</h2>
            {if recent.is_empty() {
                view! { <p class="muted" data-testid="recent-empty">"None yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="recent" data-testid="recent-purchases">
                        {recent.into_iter().map(|p| view! {
                            <li data-testid="recent-purchase">
                                <span class="recent-symbol">{p.symbol.clone()}{(p.side == crate::domain::order::Side::Sell).then_some(" (sell)")}</span>
                                <span>{format_amount(&p.notional)}</span>
                                <span class=format!("badge status-{}", p.status)>{p.status.as_str()}</span>
                                <span class="muted">{p.slot_at.map(short_date).unwrap_or_default()}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                    <a href="/history">"All purchases"</a>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn Positions(positions: Vec<PositionSummary>) -> impl IntoView {
    if positions.is_empty() {
        return view! {
            <section class="panel"><h2>"Positions"</h2><p class="muted" data-testid="positions-empty">"No positions yet."</p></section>
        }
        .into_any();
    }
    view! {
        <section class="panel">
            <div class="table-wrap">
                <table class="table" data-testid="positions">
                    <caption>"Positions"</caption>
                    <thead><tr>
                        <th scope="col">"Symbol"</th><th scope="col">"Quantity"</th><th scope="col">"Average cost"</th>
                        <th scope="col">"Market value"</th><th scope="col">"P&L"</th>
                    </tr></thead>
                    <tbody>
                        {positions.into_iter().map(|p| view! {
                            <tr>
                                <td><a href=format!("/positions/{}", p.symbol) rel="external">{p.symbol.clone()}</a></td>
                                <td>{p.qty.round_dp(6).normalize().to_string()}</td>
                                <td>{money(p.avg_entry_price)}</td>
                                <td>{p.market_value.map(money).unwrap_or_default()}</td>
                                <td>{signed(p.unrealized_pl)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn RecentOrders(account: AccountSummary) -> impl IntoView {
    let orders: Vec<_> = account.recent_orders.into_iter().take(8).collect();
    (!orders.is_empty()).then(|| view! {
        <section class="panel">
            <div class="table-wrap">
                <table class="table" data-testid="orders">
                    <caption>"Recent orders"</caption>
                    <thead><tr>
                        <th scope="col">"Placed"</th><th scope="col">"Symbol"</th><th scope="col">"Amount"</th>
                        <th scope="col">"Filled"</th><th scope="col">"Status"</th>
                    </tr></thead>
                    <tbody>
                        {orders.into_iter().map(|o| view! {
                            <tr>
                                <td>{short_date(o.created_at)}</td>
                                <td>{o.symbol}</td>
                                <td>{o.notional.map(money).or(o.qty.map(|q| format!("{q} sh"))).unwrap_or_default()}</td>
                                <td>{match o.filled_avg_price {
                                    Some(price) => format!("{} @ {}", o.filled_qty.round_dp(6).normalize(), money(price)),
                                    None => "—".into(),
                                }}</td>
                                <td><span class=format!("badge status-{}", o.status)>{o.status.clone()}</span></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    })
}

/// How the money the plans put in is doing: invested, value, gain, and the two returns
/// with when each is the right number; then the same per plan.
#[component]
fn ReturnsPanel(performance: PerformanceView) -> impl IntoView {
    let PerformanceView { account, plans, .. } = performance;
    view! {
        <section class="panel returns" aria-labelledby="returns-title" data-testid="returns">
            <h2 id="returns-title">"How your money is doing"</h2>
            <ReturnsCards returns=account />
            {(!plans.is_empty()).then(|| view! {
                <div class="table-wrap">
                    <table class="table" data-testid="plan-returns">
                        <caption>"By plan"</caption>
                        <thead><tr>
                            <th scope="col">"Plan"</th><th scope="col">"Invested"</th><th scope="col">"Value"</th>
                            <th scope="col">"Gain"</th><th scope="col">"XIRR"</th><th scope="col">"Time-weighted"</th>
                        </tr></thead>
                        <tbody>
                            {plans.into_iter().map(|plan| {
                                let r = plan.returns;
                                view! {
                                    <tr>
                                        <th scope="row">{plan.name}</th>
                                        <td>{money(r.invested)}</td>
                                        <td>{money(r.value)}</td>
                                        <td>{signed(Some(r.gain))}</td>
                                        <td title=r.xirr_note.unwrap_or_default()>{rate(r.xirr_pct)}</td>
                                        <td>{rate(r.twr_pct)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            <p><a href="/help#returns" rel="external">"Which return should I look at?"</a></p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_naturally() {
        let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        assert_eq!(
            countdown(t("2026-11-28T00:00:00Z"), t("2026-11-30T15:00:00Z")),
            "in 2 d 15 h"
        );
        assert_eq!(
            countdown(t("2026-11-30T14:00:00Z"), t("2026-11-30T15:30:00Z")),
            "in 1 h 30 min"
        );
        assert_eq!(
            countdown(t("2026-11-30T15:00:00Z"), t("2026-11-30T15:00:20Z")),
            "in 1 min"
        );
        assert_eq!(
            countdown(t("2026-11-30T15:01:00Z"), t("2026-11-30T15:00:00Z")),
            "due now"
        );
    }
}
