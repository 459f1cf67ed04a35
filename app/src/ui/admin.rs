//! The admin panel. The page is hidden from subscribers, and every server function behind
//! it checks the admin role on the server.

use super::layout::RequireUser;
use crate::api::admin::load_admin_users;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Admin · QuantShift" />
        <RequireUser admin=true>
            <section class="page">
                <header class="page-header">
                    <h1>"Admin"</h1>
                </header>
                <UsersTable />
            </section>
        </RequireUser>
    }
}

#[component]
fn UsersTable() -> impl IntoView {
    let users = Resource::new(|| (), |_| load_admin_users());
    view! {
        <section class="panel">
            <h2>"Users"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(rows) => view! {
                            <div class="table-wrap">
                                <table class="table" data-testid="admin-users">
                                    <caption class="visually-hidden">"All users"</caption>
                                    <thead>
                                        <tr><th scope="col">"E-mail"</th><th scope="col">"Role"</th><th scope="col">"Joined (UTC)"</th></tr>
                                    </thead>
                                    <tbody>
                                        {rows.into_iter().map(|row| view! {
                                            <tr>
                                                <td>{row.email}</td>
                                                <td><span class="badge">{row.role.as_str()}</span></td>
                                                <td>{format_utc_date(row.created_at)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                        Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// `YYYY-MM-DD` for a Unix-millisecond instant (civil-from-days, proleptic Gregorian).
fn format_utc_date(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::format_utc_date;

    #[test]
    fn formats_dates() {
        assert_eq!(format_utc_date(0), "1970-01-01");
        assert_eq!(format_utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(format_utc_date(1_795_824_000_000), "2026-11-28");
        assert_eq!(format_utc_date(-86_400_000), "1969-12-31");
    }
}
