//! The admin panel: `/admin/users` finds users (e-mail search, role, tier and state
//! filters, newest first by sign-up or last activity, a page at a time) and
//! `/admin/users/:id` shows one user (billing and usage, broker, plans, purchases,
//! sessions, audit rows) with the actions that stop an account at once. The pages are
//! hidden from subscribers, and every server function behind them checks the admin role
//! on the server.

use super::layout::RequireUser;
use crate::api::AppError;
use crate::api::admin::{
    AUDIT_ACTIONS, AdminUserCard, AdminUserView, AuditQuery, UserChange, UserQuery,
    change_admin_user, end_admin_session, end_admin_user_sessions, load_admin_audit,
    load_admin_user, load_admin_users, load_health_panel,
};
#[cfg(feature = "ssr")]
use crate::api::admin::{AdminUserDetail, HealthReport};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_location, use_query_map};

/// The user a path names: `/admin/users/{id}`.
fn user_in_path(path: &str) -> Option<String> {
    path.strip_prefix("/admin/users/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_owned)
}

#[component]
pub fn AdminPage() -> impl IntoView {
    let location = use_location();
    view! {
        <Title text="Admin · QuantShift" />
        <RequireUser admin=true>
            <section class="page admin">
                <header class="page-header">
                    <h1>"Admin"</h1>
                    <nav class="admin-nav" aria-label="Admin">
                        <a href="/admin/users">"Users"</a>
                        <a href="/admin/audit">"Audit log"</a>
                        <a href="/admin/health">"Health"</a>
                        <a href="/admin/notes">"Release notes"</a>
                        <a href="/admin/settings">"Settings"</a>
                    </nav>
                </header>
                {move || {
                    let path = location.pathname.get();
                    match (user_in_path(&path), path.trim_end_matches('/')) {
                        (Some(id), _) => view! { <UserPage id /> }.into_any(),
                        (None, "/admin" | "/admin/users") => view! { <UsersList /> }.into_any(),
                        (None, "/admin/audit") => view! { <AuditLog /> }.into_any(),
                        (None, "/admin/health") => view! { <HealthPage /> }.into_any(),
                        (None, "/admin/notes") => view! { <super::notes::AdminNotes /> }.into_any(),
                        (None, "/admin/settings") => view! { <super::platform::PlatformSettings /> }.into_any(),
                        _ => view! { <p class="empty-state" role="alert">"There is no such admin page."</p> }.into_any(),
                    }
                }}
            </section>
        </RequireUser>
    }
}

/// The search form's choices: (value, label); the empty value means "any".
const ROLES: [(&str, &str); 3] = [
    ("", "Any role"),
    ("subscriber", "Subscriber"),
    ("admin", "Admin"),
];
const TIERS: [(&str, &str); 5] = [
    ("", "Any tier"),
    ("free", "Free"),
    ("basic", "Basic"),
    ("pro", "Pro"),
    ("premium", "Premium"),
];
const STATES: [(&str, &str); 3] = [
    ("", "Any state"),
    ("active", "Active"),
    ("disabled", "Disabled"),
];
const SORTS: [(&str, &str); 2] = [
    ("signed_up", "Newest sign-ups"),
    ("last_active", "Last active"),
];
const OUTCOMES: [(&str, &str); 3] = [
    ("", "Any outcome"),
    ("success", "Success"),
    ("failure", "Failure"),
];

/// `value` percent-encoded for a query string (RFC 3986 unreserved characters kept).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `base` with the query string of `pairs` (empty values left out).
fn href(base: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| {
            value
                .filter(|v| !v.is_empty())
                .map(|v| format!("{key}={}", encode(v)))
        })
        .collect();
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", query.join("&"))
    }
}

/// The users page for `query`, starting after `after` (the first page without it).
fn users_href(query: &UserQuery, after: Option<&str>) -> String {
    href(
        "/admin/users",
        &[
            ("q", query.q.as_deref()),
            ("role", query.role.as_deref()),
            ("tier", query.tier.as_deref()),
            ("state", query.state.as_deref()),
            ("sort", query.sort.as_deref()),
            ("after", after),
        ],
    )
}

/// `base` (the log page, or its CSV) for `query`, starting after `after`.
fn audit_href(base: &str, query: &AuditQuery, after: Option<&str>) -> String {
    href(
        base,
        &[
            ("user", query.user.as_deref()),
            ("action", query.action.as_deref()),
            ("outcome", query.outcome.as_deref()),
            ("from", query.from.as_deref()),
            ("to", query.to.as_deref()),
            ("after", after),
        ],
    )
}

#[component]
fn Choice(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    options: &'static [(&'static str, &'static str)],
    current: Option<String>,
) -> impl IntoView {
    let current = current.unwrap_or_default();
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id name=name>
                {options.iter().map(|(value, text)| view! {
                    <option value=*value selected=current == *value>{*text}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

#[component]
fn UsersList() -> impl IntoView {
    let query = use_query_map();
    let request = move || {
        query.with(|q| UserQuery {
            q: q.get("q"),
            role: q.get("role"),
            tier: q.get("tier"),
            state: q.get("state"),
            sort: q.get("sort"),
            after: q.get("after"),
            limit: None,
        })
    };
    let page = Resource::new(request, load_admin_users);
    view! {
        {move || {
            let current = request();
            view! {
                <Form method="GET" action="/admin/users" attr:class="form admin-filters" attr:data-testid="user-search">
                    <div class="field">
                        <label for="admin-q">"E-mail contains"</label>
                        <input id="admin-q" name="q" type="search" value=current.q.clone().unwrap_or_default() />
                    </div>
                    <Choice id="admin-role" name="role" label="Role" options=&ROLES current=current.role.clone() />
                    <Choice id="admin-tier" name="tier" label="Tier" options=&TIERS current=current.tier.clone() />
                    <Choice id="admin-state" name="state" label="State" options=&STATES current=current.state.clone() />
                    <Choice id="admin-sort" name="sort" label="Order" options=&SORTS current=current.sort.clone() />
                    <div class="form-actions"><button type="submit" class="btn btn-primary">"Search"</button></div>
                </Form>
            }
        }}
        <section class="panel">
            <h2>"Users"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) if page.users.is_empty() => view! {
                            <p class="muted" data-testid="admin-users-empty">"No user matches."</p>
                        }.into_any(),
                        Ok(page) => {
                            let current = request();
                            let next = page.next.map(|next| users_href(&current, Some(&next)));
                            let first = current.after.is_some().then(|| users_href(&current, None));
                            view! {
                                <div class="table-wrap">
                                    <table class="table" data-testid="admin-users">
                                        <caption class="visually-hidden">"Users"</caption>
                                        <thead>
                                            <tr>
                                                <th scope="col">"E-mail"</th><th scope="col">"Role"</th>
                                                <th scope="col">"Tier"</th><th scope="col">"State"</th>
                                                <th scope="col">"Joined (UTC)"</th><th scope="col">"Last active (UTC)"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {page.users.into_iter().map(|user| view! { <UserRow user /> }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Pages">
                                    {first.map(|href| view! { <a href=href>"First page"</a> })}
                                    {next.map(|href| view! { <a href=href data-testid="next-page">"Next page"</a> })}
                                </nav>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="form-error" role="alert">{describe(err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn UserRow(user: AdminUserView) -> impl IntoView {
    let href = format!("/admin/users/{}", user.id);
    view! {
        <tr data-testid="admin-user-row">
            <td><a href=href>{user.email}</a></td>
            <td><span class="badge">{user.role.as_str()}</span></td>
            <td>{user.tier.name()}</td>
            <td>{state_word(user.disabled)}</td>
            <td>{format_utc_date(user.created_at)}</td>
            <td>{format_utc(user.last_seen_at)}</td>
        </tr>
    }
}

fn state_word(disabled: bool) -> &'static str {
    if disabled { "disabled" } else { "active" }
}

/// An error's message, with the fields it names.
fn describe(err: AppError) -> String {
    if err.fields.is_empty() {
        err.message
    } else {
        err.fields.into_values().collect::<Vec<_>>().join(" ")
    }
}

#[component]
fn UserPage(id: String) -> impl IntoView {
    // Bumped after each action: the page reads the user again.
    let version = RwSignal::new(0u32);
    let detail = Resource::new(
        {
            let id = id.clone();
            move || (id.clone(), version.get())
        },
        |(id, _)| load_admin_user(id),
    );
    let change = Action::new(|(id, change): &(String, UserChange)| {
        change_admin_user(id.clone(), change.clone())
    });
    let sign_out = Action::new(|id: &String| end_admin_user_sessions(id.clone()));
    let end_one = Action::new(|handle: &String| end_admin_session(handle.clone()));
    let message = RwSignal::new(None::<String>);
    // Each action's answer: read the user again, or say what went wrong.
    let answered = move |answer: Option<Result<(), AppError>>| match answer {
        Some(Ok(_)) => {
            message.set(None);
            version.update(|v| *v += 1);
        }
        Some(Err(err)) => message.set(Some(describe(err))),
        None => {}
    };
    Effect::new(move |_| answered(change.value().get()));
    Effect::new(move |_| answered(sign_out.value().get()));
    Effect::new(move |_| answered(end_one.value().get()));
    let busy =
        move || change.pending().get() || sign_out.pending().get() || end_one.pending().get();
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading the user…"</p> }>
            {move || {
                let id = id.clone();
                Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => view! {
                            <UserDetail detail id change sign_out end_one busy=Signal::derive(busy) />
                        }.into_any(),
                        Err(err) => view! {
                            <div class="empty-state" role="alert">
                                <h2>"User not found"</h2>
                                <p>{err.message}</p>
                                <a href="/admin/users">"Back to the users"</a>
                            </div>
                        }.into_any(),
                    }
                })
            }}
        </Transition>
        <p class="form-error" role="alert" data-testid="admin-message">{move || message.get()}</p>
    }
}

#[component]
fn UserDetail(
    detail: AdminUserCard,
    id: String,
    change: Action<(String, UserChange), Result<(), AppError>>,
    sign_out: Action<String, Result<(), AppError>>,
    end_one: Action<String, Result<(), AppError>>,
    busy: Signal<bool>,
) -> impl IntoView {
    let user = detail.user.clone();
    let is_admin = user.role.is_admin();
    let (role_label, new_role) = if is_admin {
        ("Remove admin role", "subscriber")
    } else {
        ("Make admin", "admin")
    };
    let (state_label, disable) = if user.disabled {
        ("Enable account", false)
    } else {
        ("Disable account", true)
    };
    let role_change = {
        let id = id.clone();
        move |_| {
            change.dispatch((
                id.clone(),
                UserChange {
                    role: Some(new_role.into()),
                    disabled: None,
                },
            ));
        }
    };
    let state_change = {
        let id = id.clone();
        move |_| {
            change.dispatch((
                id.clone(),
                UserChange {
                    role: None,
                    disabled: Some(disable),
                },
            ));
        }
    };
    let end_sessions = move |_| {
        sign_out.dispatch(id.clone());
    };
    let sessions = detail.sessions.len();
    view! {
        <section class="panel" aria-labelledby="user-title" data-testid="admin-user">
            <h2 id="user-title">{user.email.clone()}</h2>
            <p>
                <span class="badge" data-testid="admin-user-role">{user.role.as_str()}</span>" "
                <span class=if user.disabled { "badge plan-stopped" } else { "badge plan-active" } data-testid="admin-user-state">
                    {state_word(user.disabled)}
                </span>
                {detail.is_you.then_some(" (you)")}
            </p>
            <dl class="facts">
                <dt>"Joined"</dt><dd>{format_utc(user.created_at)}</dd>
                <dt>"Last active"</dt><dd>{format_utc(user.last_seen_at)}</dd>
                <dt>"Signed in on"</dt><dd data-testid="admin-user-sessions">{format!("{sessions} device{}", if sessions == 1 { "" } else { "s" })}</dd>
            </dl>
            <div class="form-actions">
                <button type="button" class="btn" disabled=move || busy.get() || detail.is_you on:click=role_change>{role_label}</button>
                <button type="button" class=if disable { "btn btn-danger" } else { "btn" } disabled=move || busy.get() || detail.is_you on:click=state_change>{state_label}</button>
                <button type="button" class="btn" disabled=move || busy.get() || sessions == 0 on:click=end_sessions>"Sign out everywhere"</button>
            </div>
            {user.disabled.then(|| view! {
                <p class="muted">"Disabled: this user cannot sign in, and their plans were paused. Enabling lets them sign in again; they resume their plans themselves."</p>
            })}
        </section>
        <section class="panel" aria-labelledby="user-sessions">
            <h2 id="user-sessions">"Sessions"</h2>
            <div class="table-wrap">
                <table class="table" data-testid="admin-user-session-list">
                    <thead><tr><th scope="col">"Device"</th><th scope="col">"Address"</th><th scope="col">"Signed in (UTC)"</th><th scope="col">"Last active (UTC)"</th><th scope="col"><span class="visually-hidden">"End"</span></th></tr></thead>
                    <tbody>
                        {detail.sessions.into_iter().map(|s| {
                            let handle = s.handle.clone();
                            view! {
                                <tr>
                                    <td>{s.device}</td>
                                    <td>{s.ip.unwrap_or_default()}</td>
                                    <td>{s.created_at.map(format_utc).unwrap_or_default()}</td>
                                    <td>{s.last_seen_at.map(format_utc).unwrap_or_default()}</td>
                                    <td><button type="button" class="btn btn-quiet" disabled=move || busy.get()
                                        on:click=move |_| { end_one.dispatch(handle.clone()); }>"End session"</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <div inner_html=detail.panel></div>
    }
}

/// The read-only part of a user's page (facts, billing and usage, plans, purchases, audit
/// rows) as HTML: the server renders it for `load_admin_user`.
#[cfg(feature = "ssr")]
pub fn admin_user_html(detail: AdminUserDetail) -> String {
    use leptos::tachys::view::RenderHtml as _;
    let billing = detail.billing.clone();
    let usage = billing.usage.clone();
    let broker = detail.broker.clone();
    let broker_text = match broker.kind.as_str() {
        "alpaca" => format!(
            "Alpaca {} · key …{}",
            broker.environment,
            broker.key_last4.unwrap_or_default()
        ),
        "demo" => "Simulated paper account".into(),
        _ => "Not connected".into(),
    };
    view! {
        <section class="panel" aria-labelledby="user-facts">
            <h2 id="user-facts">"Account"</h2>
            <dl class="facts">
                <dt>"E-mail verified"</dt><dd>{if detail.email_verified { "yes" } else { "no" }}</dd>
                <dt>"Time zone"</dt><dd>{detail.timezone.clone().unwrap_or_else(|| "the browser's".into())}</dd>
                <dt>"Broker"</dt><dd data-testid="admin-user-broker">{broker_text}</dd>
            </dl>
        </section>
        <section class="panel" aria-labelledby="user-billing">
            <h2 id="user-billing">"Billing and usage"</h2>
            <dl class="facts" data-testid="admin-user-billing">
                <dt>"Tier"</dt><dd>{billing.tier.name()}</dd>
                <dt>"Subscription"</dt><dd>{billing.status.clone().unwrap_or_else(|| "none".into())}</dd>
                <dt>"Plans (active and paused)"</dt><dd>{usage.plans}</dd>
                <dt>"Symbols in use"</dt><dd>{usage.symbols}</dd>
                <dt>"Purchases this month"</dt><dd data-testid="admin-usage-purchases">{usage.purchases_this_month}</dd>
                <dt>"Volume this month"</dt><dd data-testid="admin-usage-volume">{format!("${}", usage.volume_this_month)}</dd>
            </dl>
        </section>
        <section class="panel" aria-labelledby="user-plans">
            <h2 id="user-plans">"Plans"</h2>
            <div class="table-wrap">
                <table class="table" data-testid="admin-user-plans">
                    <thead><tr><th scope="col">"Plan"</th><th scope="col">"State"</th><th scope="col">"Next run (UTC)"</th><th scope="col">"Why paused"</th></tr></thead>
                    <tbody>
                        {detail.plans.into_iter().map(|plan| view! {
                            <tr>
                                <td>{plan.name}</td>
                                <td>{plan.status}</td>
                                <td>{plan.next_run_at.map(format_utc).unwrap_or_default()}</td>
                                <td>{plan.paused_reason.unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section class="panel" aria-labelledby="user-purchases">
            <h2 id="user-purchases">"Recent purchases"</h2>
            <div class="table-wrap">
                <table class="table">
                    <thead><tr><th scope="col">"Slot (UTC)"</th><th scope="col">"Symbol"</th><th scope="col">"Amount"</th><th scope="col">"Status"</th><th scope="col">"Reason"</th></tr></thead>
                    <tbody>
                        {detail.purchases.into_iter().map(|p| view! {
                            <tr>
                                <td>{p.slot_at.map(format_utc).unwrap_or_default()}</td>
                                <td>{p.symbol}</td>
                                <td>{format!("${}", p.notional)}</td>
                                <td>{p.status}</td>
                                <td>{p.reason.unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
        <section class="panel" aria-labelledby="user-audit">
            <h2 id="user-audit">"Audit log"</h2>
            <div class="table-wrap">
                <table class="table" data-testid="admin-user-audit">
                    <thead><tr><th scope="col">"When (UTC)"</th><th scope="col">"Action"</th><th scope="col">"From"</th><th scope="col">"Detail"</th></tr></thead>
                    <tbody>
                        {detail.audit.into_iter().map(|row| view! {
                            <tr>
                                <td>{format_utc(row.at)}</td>
                                <td>{row.action}</td>
                                <td>{row.ip.unwrap_or_default()}</td>
                                <td><code>{row.detail}</code></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
    .to_html()
}

#[component]
fn AuditLog() -> impl IntoView {
    let query = use_query_map();
    let request = move || {
        query.with(|q| AuditQuery {
            user: q.get("user"),
            action: q.get("action"),
            outcome: q.get("outcome"),
            from: q.get("from"),
            to: q.get("to"),
            after: q.get("after"),
            limit: None,
        })
    };
    let page = Resource::new(request, load_admin_audit);
    view! {
        {move || {
            let current = request();
            view! {
                <Form method="GET" action="/admin/audit" attr:class="form admin-filters" attr:data-testid="audit-search">
                    <div class="field">
                        <label for="audit-user">"User (e-mail or id)"</label>
                        <input id="audit-user" name="user" type="search" value=current.user.clone().unwrap_or_default() />
                    </div>
                    <div class="field">
                        <label for="audit-action">"Action"</label>
                        <select id="audit-action" name="action">
                            <option value="">"Any action"</option>
                            {AUDIT_ACTIONS.iter().map(|action| view! {
                                <option value=*action selected=current.action.as_deref() == Some(*action)>{*action}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <Choice id="audit-outcome" name="outcome" label="Outcome" options=&OUTCOMES current=current.outcome.clone() />
                    <div class="field">
                        <label for="audit-from">"From (UTC day)"</label>
                        <input id="audit-from" name="from" type="date" value=current.from.clone().unwrap_or_default() />
                    </div>
                    <div class="field">
                        <label for="audit-to">"To (UTC day)"</label>
                        <input id="audit-to" name="to" type="date" value=current.to.clone().unwrap_or_default() />
                    </div>
                    <div class="form-actions"><button type="submit" class="btn btn-primary">"Filter"</button></div>
                </Form>
            }
        }}
        <section class="panel">
            <h2>"Audit log"</h2>
            {move || {
                let csv = audit_href("/api/admin/audit.csv", &request(), None);
                view! { <p><a href=csv download="quantshift-audit.csv" data-testid="audit-csv" rel="external">"Download these rows as CSV"</a></p> }
            }}
            <Transition fallback=|| view! { <p class="loading">"Loading the log…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) if page.rows.is_empty() => view! {
                            <p class="muted" data-testid="audit-empty">"No audit row matches."</p>
                        }.into_any(),
                        Ok(page) => {
                            let current = request();
                            let next = page.next.map(|next| audit_href("/admin/audit", &current, Some(&next)));
                            let first = current.after.is_some().then(|| audit_href("/admin/audit", &current, None));
                            view! {
                                <div class="table-wrap">
                                    <table class="table" data-testid="audit-rows">
                                        <caption class="visually-hidden">"Audit rows, newest first"</caption>
                                        <thead>
                                            <tr>
                                                <th scope="col">"When (UTC)"</th><th scope="col">"Action"</th>
                                                <th scope="col">"Outcome"</th><th scope="col">"Who"</th>
                                                <th scope="col">"About"</th><th scope="col">"From"</th><th scope="col">"Detail"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {page.rows.into_iter().map(|row| view! {
                                                <tr data-testid="audit-row">
                                                    <td>{format_utc(row.at)}</td>
                                                    <td>{row.action}</td>
                                                    <td>{row.outcome}</td>
                                                    <td>{row.actor_email.or(row.actor).unwrap_or_default()}</td>
                                                    <td>{row.subject.unwrap_or_default()}</td>
                                                    <td>{row.ip.unwrap_or_default()}</td>
                                                    <td><code>{row.detail}</code></td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Pages">
                                    {first.map(|href| view! { <a href=href>"First page"</a> })}
                                    {next.map(|href| view! { <a href=href data-testid="next-page">"Next page"</a> })}
                                </nav>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="form-error" role="alert">{describe(err)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// How often the health page asks again.
#[cfg(feature = "hydrate")]
const HEALTH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// `/admin/health`: the platform's figures as tiles (green, amber, red), refreshed every
/// few seconds while open, with the instances and probes behind them.
#[component]
fn HealthPage() -> impl IntoView {
    let tick = RwSignal::new(0_u32);
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), HEALTH_EVERY)
        {
            on_cleanup(move || handle.clear());
        }
    }
    // Rendered on the server (`load_health_panel`): the figures are read-only, and their
    // view code stays out of the browser's bundle.
    let panel = Resource::new(move || tick.get(), |_| load_health_panel());
    view! {
        <Transition fallback=|| view! { <p class="loading">"Checking the platform…"</p> }>
            {move || Suspend::new(async move {
                match panel.await {
                    Ok(html) => view! { <div inner_html=html></div> }.into_any(),
                    Err(err) => view! { <p class="form-error" role="alert">{describe(err)}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The health report as HTML (the server renders it for `load_health_panel`).
#[cfg(feature = "ssr")]
pub fn health_html(report: HealthReport) -> String {
    use leptos::tachys::view::RenderHtml as _;
    view! { <HealthBody report /> }.to_html()
}

#[cfg(feature = "ssr")]
fn level_word(level: crate::api::admin::HealthLevel) -> &'static str {
    use crate::api::admin::HealthLevel;
    match level {
        HealthLevel::Ok => "ok",
        HealthLevel::Warn => "warn",
        HealthLevel::Critical => "critical",
    }
}

#[cfg(feature = "ssr")]
#[component]
fn HealthBody(report: HealthReport) -> impl IntoView {
    let counts = |counts: Vec<crate::api::admin::HealthCount>| {
        counts
            .into_iter()
            .map(|c| format!("{} {}", c.count, c.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let uptime = report.uptime_seconds;
    view! {
        <p class="muted" data-testid="health-summary" data-level=level_word(report.level)>
            {format!(
                "Overall: {}. Version {}, up {} h {} min. Updated {} UTC. Live sockets: {}.",
                level_word(report.level), report.version, uptime / 3600, uptime % 3600 / 60,
                format_utc(report.generated_at), report.websockets,
            )}
        </p>
        <div class="health-tiles" data-testid="health-tiles">
            {report.tiles.into_iter().map(|tile| {
                let level = level_word(tile.level);
                view! {
                    <article class=format!("health-tile level-{level}") data-testid=format!("tile-{}", tile.key) data-level=level>
                        <h2>{tile.title}</h2>
                        <p class="health-value">{tile.value}<span class="visually-hidden">{format!(" ({level})")}</span></p>
                        <p class="muted">{tile.detail}</p>
                    </article>
                }
            }).collect_view()}
        </div>
        <section class="panel">
            <h2>"Slots"</h2>
            <p>{format!("Last hour: {}. Last day: {}.", counts(report.slots_last_hour), counts(report.slots_last_day))}</p>
            <p>{format!("Failed or missed in 24 h, by reason: {}.", counts(report.top_reasons))}</p>
        </section>
        <section class="panel">
            <h2>"Instances"</h2>
            <div class="table-wrap">
                <table class="table" data-testid="health-instances">
                    <thead>
                        <tr>
                            <th scope="col">"Host"</th><th scope="col">"Version"</th><th scope="col">"Started (UTC)"</th>
                            <th scope="col">"Last beat (UTC)"</th><th scope="col">"Workers"</th><th scope="col">"Busy"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {report.instances.into_iter().map(|i| view! {
                            <tr>
                                <td>{i.host}{(i.id == report.instance).then_some(" (this one)")}</td>
                                <td>{i.version}</td>
                                <td>{format_utc(i.started_at)}</td>
                                <td>{format_utc(i.last_beat_at)}{i.stale.then_some(" — silent")}</td>
                                <td>{i.workers}</td>
                                <td>{format!("{} of {}", i.busy, i.capacity)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

/// `YYYY-MM-DD` for a Unix-millisecond instant (civil-from-days, proleptic Gregorian).
pub(super) fn format_utc_date(millis: i64) -> String {
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

/// `YYYY-MM-DD HH:MM` (UTC) for a Unix-millisecond instant.
fn format_utc(millis: i64) -> String {
    let minutes = millis.div_euclid(60_000).rem_euclid(1_440);
    format!(
        "{} {:02}:{:02}",
        format_utc_date(millis),
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(format_utc_date(0), "1970-01-01");
        assert_eq!(format_utc_date(951_782_400_000), "2000-02-29");
        assert_eq!(format_utc_date(1_795_824_000_000), "2026-11-28");
        assert_eq!(format_utc_date(-86_400_000), "1969-12-31");
        assert_eq!(
            format_utc(1_795_824_000_000 + 14 * 3_600_000 + 5 * 60_000),
            "2026-11-28 14:05"
        );
    }

    #[test]
    fn page_links_keep_the_filters() {
        let audit = AuditQuery {
            action: Some("sign_in_failed".into()),
            from: Some("2026-12-01".into()),
            ..AuditQuery::default()
        };
        assert_eq!(
            audit_href("/api/admin/audit.csv", &audit, None),
            "/api/admin/audit.csv?action=sign_in_failed&from=2026-12-01"
        );
        let query = UserQuery {
            q: Some("ann+1@x".into()),
            role: Some("admin".into()),
            tier: Some(String::new()),
            ..UserQuery::default()
        };
        assert_eq!(
            users_href(&query, Some("17_ab")),
            "/admin/users?q=ann%2B1%40x&role=admin&after=17_ab"
        );
        assert_eq!(users_href(&UserQuery::default(), None), "/admin/users");
    }

    #[test]
    fn the_path_names_the_user() {
        assert_eq!(user_in_path("/admin/users/ab-12").as_deref(), Some("ab-12"));
        for other in [
            "/admin",
            "/admin/users",
            "/admin/users/",
            "/admin/users/a/b",
        ] {
            assert_eq!(user_in_path(other), None, "{other}");
        }
    }
}
