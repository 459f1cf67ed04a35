//! Pages without a feature module of their own yet: the landing page, the 404 page, and
//! the sections whose features are still being built (they say so plainly).

use super::Auth;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

fn visitor_actions() -> impl IntoView {
    view! {
        <A href="/signup" attr:class="btn btn-primary btn-large">"Get started free"</A>
        <A href="/login" attr:class="btn btn-quiet btn-large">"Sign in"</A>
    }
}

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
                // Inside a Transition, so the server renders the signed-in state the browser
                // hydrates (visitors see the sign-up buttons while it loads).
                <Transition fallback=visitor_actions>
                    <Show when=signed_in fallback=visitor_actions>
                        <A href="/dashboard" attr:class="btn btn-primary btn-large">"Go to your dashboard"</A>
                    </Show>
                </Transition>
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
        <section class="how" aria-labelledby="how-title">
            <h2 id="how-title">"How dollar-cost averaging works"</h2>
            <ol class="how-steps">
                <li><strong>"Choose what and how much."</strong>" One fund or several: $50 of SPY and $25 of QQQ."</li>
                <li><strong>"Choose when."</strong>" Every trading day, every Monday, every other Friday, or the last trading day of the month, at a time in your own time zone."</li>
                <li><strong>"Let it run."</strong>" The same amount buys more shares when prices are low and fewer when they are high. QuantShift places each purchase on time, skips market holidays, and shows every fill live."</li>
            </ol>
            <p class="muted">"Try a plan on past prices first: the backtester compares it with investing the same total at once."</p>
        </section>
        <section class="pricing" aria-labelledby="pricing-title">
            <h2 id="pricing-title">"Pricing"</h2>
            <p>"Start free on paper; upgrade when your plans need more. "
                <a href="/pricing" rel="external" data-testid="pricing-link">"See the tiers and what each includes"</a>"."</p>
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
