//! The dashboard: the signed-in user's home: their paper account and their plans (or, with
//! none yet, what a plan is).

use super::layout::RequireUser;
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
                <super::plans::DashboardOverview />
            </section>
        </RequireUser>
    }
}
