//! The app shell: header with navigation, main area, footer. The navigation shows the
//! Admin entry only to admins (the server checks the role again on every admin call).

use super::Auth;
use crate::api::auth::UserView;
use leptos::prelude::*;
use leptos_router::components::{A, Redirect};

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="site-header">
            <div class="header-inner">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    "QuantShift"
                </a>
                <Nav />
            </div>
        </header>
        <main id="main" class="site-main" tabindex="-1">
            {children()}
        </main>
        <footer class="site-footer">
            <p data-testid="disclaimer">
                <strong>"Not investment advice."</strong>
                " QuantShift automates the plans you set; it does not recommend securities. Investing "
                "involves risk, including loss of principal, and past performance (including "
                "backtests) does not guarantee future results."
            </p>
            // Server-rendered pages: the router must let the browser load them.
            <nav class="footer-links" aria-label="About QuantShift">
                <a href="/help" rel="external">"Help"</a>
                <a href="/faq" rel="external">"FAQ"</a>
                <a href="/pricing" rel="external">"Pricing"</a>
                <a href="/terms" rel="external">"Terms"</a>
                <a href="/privacy" rel="external">"Privacy"</a>
                <a href="/risk" rel="external">"Risk disclosure"</a>
            </nav>
            <p class="muted">"© QuantShift contributors · GPL-3.0-or-later"</p>
        </footer>
    }
}

#[component]
fn Nav() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <Transition fallback=|| view! { <nav class="nav" aria-label="Main"></nav> }>
            {move || Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(user)) => view! { <UserNav user /> }.into_any(),
                    _ => view! { <VisitorNav /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn UserNav(user: UserView) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let no_announcement = user.announcement.is_empty();
    view! {
        <nav class="nav" aria-label="Main">
            <ul class="nav-links">
                <li><A href="/dashboard">"Dashboard"</A></li>
                <li><A href="/plans">"Plans"</A></li>
                <li><A href="/history">"History"</A></li>
                <li><A href="/backtest">"Backtest"</A></li>
                <li><A href="/settings">"Settings"</A></li>
                <li><A href="/billing">"Billing"</A></li>
                <li><A href="/whats-new">"What's new"<span class="news-dot" data-testid="whats-new-badge" hidden=!user.unread_notes>"new"</span></A></li>
                {user.role.is_admin().then(|| view! { <li><A href="/admin">"Admin"</A></li> })}
            </ul>
            <p class="announcement" role="status" data-testid="announcement" hidden=no_announcement>{user.announcement}</p>
            <form class="announcement" method="post" action="/verify-email/resend" data-testid="verify-banner" hidden=user.email_verified>
                "Please confirm your e-mail address with the link we sent you. "
                <button type="submit" class="btn btn-quiet">"Send a new link"</button>
            </form>
            <div class="nav-user">
                <span class="user-email" data-testid="user-email">{user.email}</span>
                <ActionForm action=auth.sign_out>
                    <button type="submit" class="btn btn-quiet">"Sign out"</button>
                </ActionForm>
            </div>
        </nav>
    }
}

#[component]
fn VisitorNav() -> impl IntoView {
    view! {
        <nav class="nav" aria-label="Main">
            <div class="nav-user">
                <A href="/login">"Sign in"</A>
                <A href="/signup" attr:class="btn btn-primary">"Get started"</A>
            </div>
        </nav>
    }
}

/// Renders `children` for a signed-in user (an admin, with `admin`), sends a visitor to
/// the sign-in page, and tells a subscriber that a page is for admins only.
#[component]
pub fn RequireUser(#[prop(optional)] admin: bool, children: ChildrenFn) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="loading" aria-busy="true">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(user)) if !admin || user.role.is_admin() => {
                        children.read_value()().into_any()
                    }
                    Ok(Some(_)) => view! {
                        <section class="panel">
                            <h1>"Admins only"</h1>
                            <p>"This page is for platform administrators."</p>
                        </section>
                    }.into_any(),
                    Ok(None) => view! { <Redirect path="/login" /> }.into_any(),
                    Err(err) => view! {
                        <section class="panel" role="alert">
                            <h1>"Could not load your account"</h1>
                            <p>{err.message}</p>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Marks the document as hydrated (interactive) once the page around it is: every route
/// renders it after its page. Effects run only in the browser, after the view that created
/// them is hydrated; a lazy page hydrates only once its WebAssembly chunk has arrived,
/// later than the shell. End-to-end tests wait for this mark before they type or click.
#[component]
pub fn Hydrated() -> impl IntoView {
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
