//! The Leptos UI, organised by feature: the shell and routes (here, `layout.rs`), the public
//! pages (`pages.rs`), accounts and settings, the set-up wizard (`onboarding.rs`), plans
//! (`plans/`: the list, the editor and its fields, the preview, over the form model), the
//! dashboard and its live link (`dashboard.rs`, `live.rs`), history, backtests, the broker
//! connection, billing, admin, and the shared chart and formatting helpers. Every page but
//! the sign-up and sign-in pages is a lazy route.

mod account;
mod admin;
mod backtest;
mod billing;
mod broker;
mod chart;
mod dashboard;
mod format;
mod history;
mod layout;
mod live;
mod notes;
mod onboarding;
mod pages;
mod plans;
mod platform;
mod returns;
mod settings;

use crate::api::AppError;
use crate::api::auth::{SignIn, SignOut, SignUp, UserView, load_current_user};
#[cfg(feature = "ssr")]
pub(crate) use admin::{admin_user_html, health_html};
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use leptos_meta::MetaTags;
use leptos_meta::{Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};
#[cfg(feature = "ssr")]
pub(crate) use platform::tier_panel_html;

/// Pages whose code the browser downloads only when it first shows them (`cargo leptos
/// build --split` cuts each into its own WebAssembly chunk). The server renders them like
/// any other page; hydration waits for the chunk (`hydrate_lazy`).
mod lazy_pages {
    use leptos::prelude::*;
    use leptos_router::{LazyRoute, lazy_route};

    macro_rules! lazy_page {
        ($route:ident => $page:path) => {
            pub struct $route;

            #[lazy_route]
            impl LazyRoute for $route {
                fn data() -> Self {
                    $route
                }

                fn view(_this: Self) -> AnyView {
                    view! { <$page /> <super::layout::Hydrated /> }.into_any()
                }
            }
        };
    }

    lazy_page!(Landing => super::pages::Landing);
    lazy_page!(Dashboard => super::dashboard::DashboardPage);
    lazy_page!(Welcome => super::onboarding::WelcomePage);
    lazy_page!(Plans => super::plans::PlansPage);
    lazy_page!(NewPlan => super::plans::editor::NewPlanPage);
    lazy_page!(EditPlan => super::plans::editor::EditPlanPage);
    lazy_page!(History => HistoryOrAdmin);
    lazy_page!(Backtest => super::backtest::BacktestPage);
    lazy_page!(Settings => SettingsOrBilling);

    /// Settings and billing share one chunk set: as a lazy page of its own, billing split
    /// the code it shares with the other pages into more, smaller chunks, which cost the
    /// plan editor kilobytes (BENCHMARKS.md, 2026-12-04, session 11).
    #[component]
    fn SettingsOrBilling() -> impl IntoView {
        let path = leptos_router::hooks::use_location()
            .pathname
            .get_untracked();
        if path.starts_with("/billing") {
            view! { <super::billing::BillingPage /> }.into_any()
        } else {
            view! { <super::settings::SettingsPage /> }.into_any()
        }
    }

    /// The admin panel rides with the history page for the same reason: a lazy page of its
    /// own shared the generic view and reactive code it has in common with every page in
    /// new combinations, and the plan editor's chunks lost ~9 KB gzip to that (BENCHMARKS.md,
    /// 2026-12-05, session 12). History is the page most like it (filters in the query
    /// string, keyset pages, tables) and the lightest to carry the rest.
    #[component]
    fn HistoryOrAdmin() -> impl IntoView {
        let path = leptos_router::hooks::use_location()
            .pathname
            .get_untracked();
        if path.starts_with("/admin") {
            view! { <super::admin::AdminPage /> }.into_any()
        } else if path.starts_with("/whats-new") {
            view! { <super::notes::WhatsNewPage /> }.into_any()
        } else {
            view! { <super::history::HistoryPage /> }.into_any()
        }
    }
}

/// The HTML document the server renders around the app.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="description" content="QuantShift: automated dollar-cost averaging on Alpaca." />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Whether a navigation is under way (see [`App`]).
#[derive(Clone, Copy)]
pub struct Routing(pub ReadSignal<bool>);

/// Who is signed in, and the actions that change it. Provided once by [`App`].
#[derive(Clone, Copy)]
pub struct Auth {
    pub sign_in: ServerAction<SignIn>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
    /// Refetched whenever one of the actions above completes.
    pub user: Resource<Result<Option<UserView>, AppError>>,
}

impl Auth {
    fn provide() -> Self {
        let sign_in = ServerAction::<SignIn>::new();
        let sign_up = ServerAction::<SignUp>::new();
        let sign_out = ServerAction::<SignOut>::new();
        let user = Resource::new(
            move || {
                (
                    sign_in.version().get(),
                    sign_up.version().get(),
                    sign_out.version().get(),
                )
            },
            |_| load_current_user(),
        );
        let auth = Self {
            sign_in,
            sign_up,
            sign_out,
            user,
        };
        provide_context(auth);
        auth
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Auth::provide();
    // True while the router moves to another page (its code may still be loading): a bar at
    // the top shows it, and the sign-up and sign-in buttons stay busy until the page is in.
    let (routing, set_routing) = signal(false);
    provide_context(Routing(routing));

    view! {
        <Stylesheet id="leptos" href="/pkg/quantshift.css" />
        <Title text="QuantShift" />
        <Router set_is_routing=set_routing>
            <div class="route-progress" role="progressbar" aria-label="Loading the page" data-testid="route-progress" hidden=move || !routing.get()></div>
            <layout::Shell>
                <Routes fallback=|| view! { <pages::NotFound /> <layout::Hydrated /> }>
                    <Route path=path!("/") view={Lazy::<lazy_pages::Landing>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/signup") view=|| view! { <account::SignUpPage /> <layout::Hydrated /> } />
                    <Route path=path!("/login") view=|| view! { <account::SignInPage /> <layout::Hydrated /> } />
                    // `/account` (a common guess) leads to the settings. Being in the main
                    // module, it also keeps the sign-in guard's code there, where every
                    // signed-in page needs it first (BENCHMARKS.md, 2026-12-05).
                    <Route path=path!("/account") view=|| view! {
                        <layout::RequireUser>
                            <leptos_router::components::Redirect path="/settings"
                                options=leptos_router::NavigateOptions { replace: true, ..Default::default() } />
                        </layout::RequireUser>
                        <layout::Hydrated />
                    } />
                    <Route path=path!("/dashboard") view={Lazy::<lazy_pages::Dashboard>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/welcome") view={Lazy::<lazy_pages::Welcome>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/plans") view={Lazy::<lazy_pages::Plans>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/plans/new") view={Lazy::<lazy_pages::NewPlan>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/plans/:id") view={Lazy::<lazy_pages::EditPlan>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/history") view={Lazy::<lazy_pages::History>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/backtest") view={Lazy::<lazy_pages::Backtest>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/settings") view={Lazy::<lazy_pages::Settings>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/billing") view={Lazy::<lazy_pages::Settings>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin") view={Lazy::<lazy_pages::History>::new()} ssr=SsrMode::Async />
                    // `users`, `audit`, `health`, `notes`, `settings` (the page says so for any other): one
                    // route of the same shape as `/plans/:id`, which costs every page less
                    // than a route per section.
                    <Route path=path!("/admin/:section") view={Lazy::<lazy_pages::History>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/users/:id") view={Lazy::<lazy_pages::History>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/whats-new") view={Lazy::<lazy_pages::History>::new()} ssr=SsrMode::Async />
                </Routes>
            </layout::Shell>
        </Router>
    }
}
