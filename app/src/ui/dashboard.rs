//! The dashboard: the signed-in user's home. Plans, positions and live status arrive
//! with the DCA engine; until a plan exists it explains the next step.

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
                <div class="empty-state" data-testid="dashboard-empty">
                    <h2>"No plans yet"</h2>
                    <p>
                        "A plan buys the amounts you choose, on the schedule you choose, "
                        "through your simulated paper account. Your plans, positions and "
                        "purchases will appear here."
                    </p>
                </div>
            </section>
        </RequireUser>
    }
}
