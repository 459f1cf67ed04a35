//! The Leptos UI, organised by feature: the app shell, accounts, dashboard, admin.

mod account;
mod admin;
mod backtest;
mod broker;
mod chart;
mod dashboard;
mod format;
mod history;
mod layout;
mod live;
mod onboarding;
mod pages;
mod plan_editor;
mod plan_form;
mod plans;
mod settings;

use crate::api::AppError;
use crate::api::auth::{SignIn, SignOut, SignUp, UserView, current_user};
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use leptos_meta::MetaTags;
use leptos_meta::{Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

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
            |_| current_user(),
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

    view! {
        <Stylesheet id="leptos" href="/pkg/quantshift.css" />
        <Title text="QuantShift" />
        <Router>
            <layout::Shell>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Landing />
                    <Route path=path!("/signup") view=account::SignUpPage />
                    <Route path=path!("/login") view=account::SignInPage />
                    <Route path=path!("/dashboard") view=dashboard::DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("/welcome") view=onboarding::WelcomePage ssr=SsrMode::Async />
                    <Route path=path!("/plans") view=plans::PlansPage ssr=SsrMode::Async />
                    <Route path=path!("/plans/new") view=plan_editor::NewPlanPage ssr=SsrMode::Async />
                    <Route path=path!("/plans/:id") view=plan_editor::EditPlanPage ssr=SsrMode::Async />
                    <Route path=path!("/history") view=history::HistoryPage ssr=SsrMode::Async />
                    <Route path=path!("/backtest") view=backtest::BacktestPage ssr=SsrMode::Async />
                    <Route path=path!("/settings") view=settings::SettingsPage ssr=SsrMode::Async />
                    <Route path=path!("/billing") view=pages::BillingPage ssr=SsrMode::Async />
                    <Route path=path!("/admin") view=admin::AdminPage ssr=SsrMode::Async />
                </Routes>
            </layout::Shell>
        </Router>
    }
}
