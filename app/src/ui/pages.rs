//! Pages without a feature module of their own yet: the landing page, the 404 page, and
//! the sections whose features are still being built (they say so plainly).

use super::Auth;
use super::layout::RequireUser;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn Landing() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let signed_in = move || matches!(auth.user.get(), Some(Ok(Some(_))));
    view! {
        <Title text="QuantShift · Automated dollar-cost averaging" />
        <section class="hero">
            <h1>"Invest on schedule. Automatically."</h1>
            <p class="lead">
                "Set a recurring plan (buy $50 of SPY and $25 of QQQ every Monday at 10:00) "
                "and QuantShift places every purchase through your Alpaca account, exactly once, "
                "and shows you each one as it happens."
            </p>
            <div class="hero-actions">
                <Show
                    when=signed_in
                    fallback=|| view! {
                        <A href="/signup" attr:class="btn btn-primary btn-large">"Get started free"</A>
                        <A href="/login" attr:class="btn btn-quiet btn-large">"Sign in"</A>
                    }
                >
                    <A href="/dashboard" attr:class="btn btn-primary btn-large">"Go to your dashboard"</A>
                </Show>
            </div>
        </section>
        <section class="features">
            <article>
                <h2>"Dollar-cost averaging"</h2>
                <p>"Fixed amounts at fixed times smooth out the price you pay, with no market timing."</p>
            </article>
            <article>
                <h2>"Paper first"</h2>
                <p>"Every account starts on a simulated paper broker with $100,000 to practise with."</p>
            </article>
            <article>
                <h2>"Exactly once"</h2>
                <p>"Each purchase carries a unique order id, so a retry or restart can never buy twice."</p>
            </article>
        </section>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · QuantShift" />
        <section class="panel centered" data-testid="not-found">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or the link may be mistyped."</p>
            <A href="/" attr:class="btn btn-primary">"Back to the start"</A>
        </section>
    }
}

/// A signed-in section whose feature has not shipped yet, saying so instead of pretending.
#[component]
fn ComingSection(title: &'static str, body: &'static str) -> impl IntoView {
    view! {
        <Title text=format!("{title} · QuantShift") />
        <RequireUser>
            <section class="page">
                <header class="page-header"><h1>{title}</h1></header>
                <div class="empty-state"><p>{body}</p></div>
            </section>
        </RequireUser>
    }
}

#[component]
pub fn BacktestPage() -> impl IntoView {
    view! {
        <ComingSection
            title="Backtest"
            body="Backtests are not available yet. They arrive with the trading core."
        />
    }
}

#[component]
pub fn BillingPage() -> impl IntoView {
    view! {
        <ComingSection
            title="Billing"
            body="Subscriptions are not available yet. Every feature is free while they are built."
        />
    }
}
