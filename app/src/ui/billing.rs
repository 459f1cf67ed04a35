//! Billing (`/billing`): the tier in effect, the subscription's state and renewal date,
//! usage against the tier's limits, and the tier table with Stripe Checkout to change
//! tier and the Billing Portal to manage payment or cancel. Returning from Checkout shows
//! "Processing…" until Stripe's webhook has changed the tier, which arrives over the live
//! socket.

use super::format::{long_date, money};
use super::layout::RequireUser;
use super::live::Live;
use crate::api::AppError;
use crate::api::billing::{
    BillingView, Redirect, TierTable, load_billing, load_tier_table, open_billing_portal,
    start_checkout,
};
use crate::domain::tier::Tier;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn BillingPage() -> impl IntoView {
    view! {
        <Title text="Billing · QuantShift" />
        <RequireUser>
            <Billing />
        </RequireUser>
    }
}

/// Sends the browser to a Stripe page once the server has made one.
fn follow<I: Send + Sync + 'static>(action: Action<I, Result<Redirect, AppError>>) {
    Effect::new(move |_| {
        if let Some(Ok(redirect)) = action.value().get() {
            let _ = window().location().set_href(&redirect.url);
        }
    });
}

#[component]
fn Billing() -> impl IntoView {
    let live = Live::provide();
    // Held here, not in the panels: a live event re-renders them, and a Stripe page asked
    // for just before must still be followed.
    let portal = Action::new(|_: &()| open_billing_portal());
    follow(portal);
    let checkout = Action::new(|tier: &Tier| start_checkout(*tier));
    follow(checkout);
    // The card whose button was pressed, for its error message.
    let chosen = RwSignal::new(None::<Tier>);
    // Every live event (the webhook's among them) reads the subscription again.
    let view = Resource::new(move || live.version.get(), |_| load_billing());
    let table = Resource::new(|| (), |_| load_tier_table());
    let query = use_query_map();
    let returned = move || query.with(|q| q.get("checkout"));
    let wanted = move || query.with(|q| q.get("tier").as_deref().and_then(Tier::parse));
    view! {
        <section class="page billing">
            <header class="page-header"><h1>"Billing"</h1></header>
            <Transition fallback=|| view! { <p class="loading">"Loading your subscription…"</p> }>
                {move || Suspend::new(async move {
                    let (view, table) = (view.await, table.await);
                    match (view, table) {
                        (Ok(view), Ok(table)) => {
                            let processing = returned().as_deref() == Some("done")
                                && wanted().is_some_and(|t| t != view.tier);
                            view! {
                                <Notice returned=returned() processing tier=view.tier />
                                <Current view=view.clone() portal />
                                <TierCards view table checkout portal chosen />
                            }.into_any()
                        }
                        (Err(err), _) | (_, Err(err)) => {
                            view! { <p class="form-error" role="alert">{err.message}</p> }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// What happened at Stripe, on the way back from Checkout.
#[component]
fn Notice(returned: Option<String>, processing: bool, tier: Tier) -> impl IntoView {
    match returned.as_deref() {
        Some("done") if processing => view! {
            <p class="notice" role="status" data-testid="billing-processing">
                "Processing your payment… your new plan appears here as soon as Stripe confirms it. "
                "If nothing changes within a few minutes, reload this page or contact support."
            </p>
        }
        .into_any(),
        Some("done") => view! {
            <p class="notice notice-ok" role="status" data-testid="billing-done">
                {format!("Thank you: you are on {} now.", tier.name())}
            </p>
        }
        .into_any(),
        Some("cancelled") => view! {
            <p class="notice" role="status" data-testid="billing-cancelled">
                "Checkout was cancelled: nothing was charged and your plan is unchanged."
            </p>
        }
        .into_any(),
        _ => ().into_any(),
    }
}

#[component]
fn Current(view: BillingView, portal: Action<(), Result<Redirect, AppError>>) -> impl IntoView {
    let renewal = view.current_period_end.map(|end| {
        let day = long_date(crate::domain::calendar::new_york().to_datetime(end).date());
        if view.cancel_at_period_end {
            format!("Ends on {day}; you return to Free then.")
        } else {
            format!("Renews on {day}.")
        }
    });
    let status = view.status.clone();
    let past_due = status.as_deref() == Some("past_due");
    let usage = view.usage.clone();
    let symbols = match view.limits.max_symbols {
        Some(max) => format!("{} of {max}", usage.symbols),
        None => format!("{} (unlimited)", usage.symbols),
    };
    let manage = view.billing && status.is_some();
    view! {
        {past_due.then(|| view! {
            <p class="notice notice-warn" role="alert" data-testid="past-due">
                {format!(
                    "Your last payment failed. Update your card under Manage billing to keep {}.",
                    view.tier.name()
                )}
            </p>
        })}
        <section class="panel" aria-labelledby="current-title">
            <h2 id="current-title">"Your plan"</h2>
            <dl class="facts">
                <dt>"Plan"</dt><dd data-testid="current-tier">{view.tier.name()}</dd>
                <dt>"Status"</dt>
                <dd data-testid="billing-status">{match status.as_deref() {
                    None if !view.billing => "Billing is off on this server: every feature is included.".to_owned(),
                    None => "No subscription".to_owned(),
                    Some("active") => "Active".to_owned(),
                    Some("trialing") => "Trial".to_owned(),
                    Some("past_due") => "Payment overdue".to_owned(),
                    Some("canceled") => "Cancelled".to_owned(),
                    Some(other) => other.replace('_', " "),
                }}</dd>
                {renewal.map(|r| view! { <dt>"Renewal"</dt><dd data-testid="billing-renewal">{r}</dd> })}
                <dt>"Symbols in use"</dt><dd data-testid="usage-symbols">{symbols}</dd>
                <dt>"Plans (active and paused)"</dt><dd>{usage.plans}</dd>
                <dt>"Purchases this month"</dt><dd data-testid="usage-purchases">{usage.purchases_this_month}</dd>
                <dt>"Bought this month"</dt><dd>{money(usage.volume_this_month)}</dd>
            </dl>
            {manage.then(|| view! {
                <button
                    type="button"
                    class="btn btn-quiet"
                    disabled=move || portal.pending().get()
                    on:click=move |_| { portal.dispatch(()); }
                >
                    "Manage billing"
                </button>
            })}
            {move || portal.value().get().and_then(Result::err).map(|err| view! {
                <p class="form-error" role="alert">{err.message}</p>
            })}
        </section>
    }
}

#[component]
fn TierCards(
    view: BillingView,
    table: TierTable,
    checkout: Action<Tier, Result<Redirect, AppError>>,
    portal: Action<(), Result<Redirect, AppError>>,
    chosen: RwSignal<Option<Tier>>,
) -> impl IntoView {
    let current = view.tier;
    // As the server sees it: only these states hold a tier (checkout is refused then).
    let subscribed = matches!(
        view.status.as_deref(),
        Some("trialing" | "active" | "past_due")
    );
    view! {
        <section class="panel" aria-labelledby="tiers-title">
            <h2 id="tiers-title">"Plans"</h2>
            <div class="tiers" data-testid="tier-table">
                {table.tiers.into_iter().map(|offer| {
                    let tier = offer.tier;
                    let is_current = tier == current;
                    let action = if !table.billing || is_current {
                        None
                    } else if tier == Tier::Free {
                        // Going back to Free is cancelling, which the portal does.
                        subscribed.then_some("Cancel under Manage billing")
                    } else if subscribed {
                        Some("Change to this plan")
                    } else {
                        Some("Upgrade")
                    };
                    view! {
                        <article class="tier" class:tier-highlight=is_current data-tier=tier.as_str()>
                            <h3>{offer.name}</h3>
                            <p class="tier-price">
                                <span class="tier-amount">{money(offer.rules.price)}</span>" / month"
                            </p>
                            <ul>{offer.rules.features().into_iter().map(|f| view! { <li>{f}</li> }).collect_view()}</ul>
                            {is_current.then(|| view! { <p class="tier-current">"Your plan"</p> })}
                            {action.map(|label| if tier == Tier::Free {
                                view! { <p class="muted">{label}</p> }.into_any()
                            } else {
                                view! {
                                    <button
                                        type="button"
                                        class="btn btn-primary btn-block"
                                        disabled=move || checkout.pending().get()
                                        on:click=move |_| {
                                            chosen.set(Some(tier));
                                            // A subscriber changes the plan they pay for
                                            // (prorated) rather than paying for a second.
                                            if subscribed {
                                                portal.dispatch(());
                                            } else {
                                                checkout.dispatch(tier);
                                            }
                                        }
                                    >
                                        {label}
                                    </button>
                                }.into_any()
                            })}
                            {move || (chosen.get() == Some(tier)).then(|| checkout.value().get().and_then(Result::err)).flatten().map(|err| view! {
                                <p class="form-error" role="alert">{err.field("tier").map(str::to_owned).unwrap_or(err.message)}</p>
                            })}
                        </article>
                    }
                }).collect_view()}
            </div>
        </section>
    }
}
