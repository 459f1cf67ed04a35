//! The plan editor (`/plans/new`, `/plans/:id`): legs with a symbol type-ahead, schedule,
//! mode, a live preview of the next purchases computed in the browser by the shared
//! schedule code, validation as the user types (the shared rules; the server checks again),
//! and, for a saved plan, start / pause / stop / delete / buy now.

use super::format::{browser_zone, local_time, money, weekday_day_month};
use super::layout::RequireUser;
use super::plan_form::{LegText, PlanForm, purchases_per_month, zone_city};
use crate::api::AppError;
use crate::api::dca::{
    AssetFacts, Plan, PlanStatus, asset_problem, delete_plan, load_plan, load_plan_limits,
    run_plan_now, save_plan, search_assets, set_plan_status,
};
use crate::domain::market::Symbol;
use crate::domain::schedule::MAX_DAY_OF_MONTH;
use crate::domain::zones;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Time zones offered in the picker; any other IANA name can be typed.
const ZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Australia/Sydney",
    "UTC",
];

/// A key for "buy now" that makes a retried click harmless.
fn request_id() -> String {
    let now = super::format::now().as_millisecond();
    #[cfg(feature = "hydrate")]
    let noise = (js_sys::Math::random() * 1e12) as u64;
    #[cfg(not(feature = "hydrate"))]
    let noise = 0u64;
    format!("ui-{now}-{noise}")
}

/// The time zone the user chose for new plans in Settings, if any. Without one, new plans
/// start in the browser's zone (see [`PlanEditor`]'s `zone_from_browser`).
pub fn preferred_zone() -> Option<String> {
    use_context::<super::Auth>().and_then(|auth| match auth.user.get_untracked() {
        Some(Ok(Some(user))) => user.timezone,
        _ => None,
    })
}

/// `/plans/new`: an empty editor (prefilled from a backtest's `?legs=SPY:50,QQQ:25&…`).
#[component]
pub fn NewPlanPage() -> impl IntoView {
    view! {
        <Title text="New plan · QuantShift" />
        <RequireUser>
            <NewPlan />
        </RequireUser>
    }
}

#[component]
fn NewPlan() -> impl IntoView {
    let navigate = use_navigate();
    let query = use_query_map();
    let on_saved = Callback::new(move |plan: Plan| {
        if let Some(id) = plan.id {
            navigate(&format!("/plans/{id}?created=1"), Default::default());
        }
    });
    let preferred = preferred_zone();
    let mut form = PlanForm::new(preferred.as_deref().unwrap_or(zones::NEW_YORK));
    query.with_untracked(|q| prefill(&mut form, |k| q.get(k)));
    let zone_from_browser =
        preferred.is_none() && query.with_untracked(|q| q.get("timezone").is_none());
    view! {
        <section class="page">
            <header class="page-header"><h1>"New plan"</h1></header>
            <PlanEditor initial=form on_saved zone_from_browser />
        </section>
    }
}

/// Fills a new form from query parameters (`name`, `legs=SPY:50,QQQ:25`, `frequency`,
/// `weekday`, `day_of_month`, `time`, `timezone`), as the backtest's "use these settings".
pub fn prefill(form: &mut PlanForm, get: impl Fn(&str) -> Option<String>) {
    if let Some(legs) = get("legs") {
        let parsed: Vec<LegText> = legs
            .split(',')
            .filter_map(|pair| pair.split_once(':'))
            .map(|(symbol, amount)| LegText {
                symbol: symbol.into(),
                amount: amount.into(),
            })
            .collect();
        if !parsed.is_empty() {
            form.legs = parsed;
        }
    }
    for (key, field) in [
        ("name", &mut form.name),
        ("frequency", &mut form.frequency),
        ("interval", &mut form.interval),
        ("weekday", &mut form.weekday),
        ("day_of_month", &mut form.day_of_month),
        ("time", &mut form.time),
        ("timezone", &mut form.timezone),
        ("mode", &mut form.mode),
    ] {
        if let Some(value) = get(key) {
            *field = value;
        }
    }
}

/// `/plans/:id`: a saved plan's editor and its controls.
#[component]
pub fn EditPlanPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let plan = Resource::new(id, load_plan);
    view! {
        <Title text="Plan · QuantShift" />
        <RequireUser>
            <section class="page">
                <Suspense fallback=|| view! { <p class="loading">"Loading the plan…"</p> }>
                    {move || Suspend::new(async move {
                        match plan.await {
                            Ok(plan) => view! { <SavedPlan plan /> }.into_any(),
                            Err(err) => view! {
                                <div class="empty-state" role="alert">
                                    <h1>"Plan not found"</h1>
                                    <p>{err.message}</p>
                                    <a href="/plans">"Back to your plans"</a>
                                </div>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </RequireUser>
    }
}

#[component]
fn SavedPlan(plan: Plan) -> impl IntoView {
    let current = RwSignal::new(plan.clone());
    let query = use_query_map();
    let created = query.with_untracked(|q| q.get("created").is_some());
    let on_saved = Callback::new(move |saved: Plan| current.set(saved));
    view! {
        <header class="page-header">
            <h1>{move || current.with(|p| p.name.clone())}</h1>
            <span class=move || format!("badge plan-{}", current.with(|p| p.status.as_str())) data-testid="plan-status">
                {move || current.with(|p| p.status.as_str())}
            </span>
        </header>
        {created.then(|| view! { <p class="notice" role="status" data-testid="plan-created">"Plan created. It buys on schedule from now on."</p> })}
        <PlanControls current />
        {move || {
            let plan = current.get();
            if plan.status == PlanStatus::Stopped {
                view! { <p class="muted">"This plan is stopped: it no longer buys and cannot be changed."</p> }.into_any()
            } else {
                view! { <PlanEditor initial=PlanForm::from_plan(&plan) on_saved /> }.into_any()
            }
        }}
    }
}

/// Start, pause, stop, delete (each confirmed where it cannot be undone) and buy now.
#[component]
fn PlanControls(current: RwSignal<Plan>) -> impl IntoView {
    let navigate = use_navigate();
    let id = move || {
        current
            .with(|p| p.id.as_ref().map(|id| id.as_str().to_owned()))
            .unwrap_or_default()
    };
    let message = RwSignal::new(None::<Result<String, String>>);
    let status_action = Action::new(move |status: &PlanStatus| {
        let (id, status) = (id(), *status);
        async move { set_plan_status(id, status).await }
    });
    Effect::new(move |_| match status_action.value().get() {
        Some(Ok(plan)) => {
            message.set(Some(Ok(format!(
                "The plan is now {}.",
                plan.status.as_str()
            ))));
            current.set(plan);
        }
        Some(Err(err)) => message.set(Some(Err(err.message))),
        None => {}
    });
    let buy_action = Action::new(move |_: &()| {
        let id = id();
        let key = request_id();
        async move { run_plan_now(id, key).await }
    });
    Effect::new(move |_| {
        match buy_action.value().get() {
        Some(Ok(_)) => message.set(Some(Ok(
            "Purchase queued: it appears on your dashboard and in your history as soon as the broker answers.".into(),
        ))),
        Some(Err(err)) => message.set(Some(Err(err.message))),
        None => {}
    }
    });
    let delete_action = Action::new(move |_: &()| {
        let id = id();
        async move { delete_plan(id).await }
    });
    Effect::new(move |_| match delete_action.value().get() {
        Some(Ok(())) => navigate("/plans?deleted=1", Default::default()),
        Some(Err(err)) => message.set(Some(Err(err.message))),
        None => {}
    });
    // Which irreversible action waits for a second click.
    let confirming = RwSignal::new(None::<&'static str>);
    let status = move || current.with(|p| p.status);
    let busy = move || {
        status_action.pending().get() || buy_action.pending().get() || delete_action.pending().get()
    };

    view! {
        <div class="plan-controls" role="group" aria-label="Plan controls">
            <Show when=move || status() == PlanStatus::Paused>
                <button type="button" class="btn btn-primary" disabled=busy
                    on:click=move |_| { status_action.dispatch(PlanStatus::Active); }>"Start"</button>
            </Show>
            <Show when=move || status() == PlanStatus::Active>
                <button type="button" class="btn btn-quiet" disabled=busy
                    on:click=move |_| { status_action.dispatch(PlanStatus::Paused); }>"Pause"</button>
            </Show>
            <Show when=move || status() != PlanStatus::Stopped>
                <button type="button" class="btn btn-quiet" disabled=busy data-testid="buy-now"
                    on:click=move |_| { buy_action.dispatch(()); }>
                    {move || if buy_action.pending().get() { "Buying…" } else { "Buy now" }}
                </button>
                <button type="button" class="btn btn-quiet" disabled=busy
                    on:click=move |_| confirming.set(Some("stop"))>"Stop"</button>
            </Show>
            <button type="button" class="btn btn-danger" disabled=busy
                on:click=move |_| confirming.set(Some("delete"))>"Delete"</button>
        </div>
        {move || confirming.get().map(|what| {
            let (question, confirm) = if what == "stop" {
                ("Stop this plan for good? It will not buy again and cannot be restarted.", "Stop plan")
            } else {
                ("Delete this plan? It stops buying and leaves your plan list; its purchases stay in your history.", "Delete plan")
            };
            view! {
                <div class="confirm" role="alertdialog" aria-labelledby="confirm-question">
                    <p id="confirm-question">{question}</p>
                    <button type="button" class="btn btn-danger" on:click=move |_| {
                        confirming.set(None);
                        if what == "stop" {
                            status_action.dispatch(PlanStatus::Stopped);
                        } else {
                            delete_action.dispatch(());
                        }
                    }>{confirm}</button>
                    <button type="button" class="btn btn-quiet" on:click=move |_| confirming.set(None)>"Cancel"</button>
                </div>
            }
        })}
        <p class="status-line" role="status" data-testid="plan-message">
            {move || match message.get() {
                Some(Ok(text)) => view! { <span class="ok">{text}</span> }.into_any(),
                Some(Err(text)) => view! { <span class="form-error">{text}</span> }.into_any(),
                None => ().into_any(),
            }}
        </p>
    }
}

/// The editor form. Calls `on_saved` with the server's copy after a successful save.
#[component]
pub fn PlanEditor(
    initial: PlanForm,
    #[prop(into)] on_saved: Callback<Plan>,
    /// Switch the time zone to the browser's once running there (a new plan, no preference).
    #[prop(optional)]
    zone_from_browser: bool,
) -> impl IntoView {
    let creating = initial.id.is_none();
    let form = RwSignal::new(initial);
    let limits_resource = Resource::new(|| (), |_| load_plan_limits());
    let limits = Signal::derive(move || {
        limits_resource
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
    });
    let max_per_slot = Signal::derive(move || limits.get().max_per_slot);
    let assets = RwSignal::new(HashMap::<String, AssetFacts>::new());
    let touched = RwSignal::new(HashSet::<String>::new());
    let attempted = RwSignal::new(false);
    let server_errors = RwSignal::new(BTreeMap::<String, String>::new());
    if zone_from_browser {
        // The server cannot know the browser's zone, so the page is rendered in New York
        // time and switches here: effects run only in the browser, after hydration.
        Effect::new(move |_| {
            if !touched.with_untracked(|t| t.contains("schedule.timezone")) {
                let zone = browser_zone();
                if form.with_untracked(|f| f.timezone != zone) {
                    form.update(|f| f.timezone = zone);
                }
            }
        });
    }

    // Market hours are checked over the year from today (New York's date).
    let today = crate::domain::calendar::new_york()
        .to_datetime(super::format::now())
        .date();
    let check = Memo::new(move |_| {
        let limits = limits.get();
        let (plan, mut errors) = form.with(|f| f.to_plan(&limits, today));
        assets.with(|known| {
            form.with(|f| {
                for (i, leg) in f.legs.iter().enumerate() {
                    let key = format!("legs[{i}].symbol");
                    if let (Ok(symbol), false) =
                        (Symbol::parse(&leg.symbol), errors.contains_key(&key))
                        && let Some(facts) = known.get(symbol.as_str())
                        && let Some(problem) = asset_problem(&symbol, Some(facts))
                    {
                        errors.insert(key, problem);
                    }
                }
            })
        });
        (plan, errors)
    });
    let error_for = move |key: String| {
        Signal::derive(move || {
            if let Some(message) = server_errors.with(|e| e.get(&key).cloned()) {
                return Some(message);
            }
            let show = attempted.get() || touched.with(|t| t.contains(&key));
            show.then(|| check.with(|(_, errors)| errors.get(&key).cloned()))
                .flatten()
        })
    };
    let edit = move |key: &str, change: &dyn Fn(&mut PlanForm)| {
        form.update(|f| change(f));
        touched.update(|t| {
            t.insert(key.to_owned());
        });
        server_errors.update(|e| {
            e.remove(key);
        });
    };

    let save = Action::new(move |plan: &Plan| {
        let plan = plan.clone();
        async move { save_plan(plan).await }
    });
    let form_message = RwSignal::new(None::<String>);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(plan)) => {
            form_message.set(Some("Saved.".into()));
            on_saved.run(plan);
        }
        Some(Err(err)) => {
            let AppError {
                message, fields, ..
            } = err;
            form_message.set(Some(if fields.is_empty() {
                message
            } else {
                "Some fields need attention; nothing was saved.".into()
            }));
            server_errors.set(fields);
        }
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        attempted.set(true);
        let (plan, errors) = check.get();
        if errors.is_empty() {
            form_message.set(None);
            save.dispatch(plan);
        } else {
            form_message.set(Some(format!(
                "{} field{} need{} attention; nothing was saved.",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                if errors.len() == 1 { "s" } else { "" }
            )));
        }
    };

    view! {
        <form class="form plan-form" novalidate=true on:submit=submit data-testid="plan-form">
            <div class="plan-grid">
                <div class="plan-main">
                    <TextField id="plan-name" label="Plan name" value=Signal::derive(move || form.with(|f| f.name.clone()))
                        error=error_for("name".into()) placeholder="e.g. Core index fund"
                        on_input=move |v: String| edit("name", &|f: &mut PlanForm| f.name = v.clone()) />
                    <LegsEditor form check assets edit error_for />
                    <ScheduleEditor form edit error_for />
                    <ModeEditor form max_per_slot edit error_for />
                </div>
                <aside class="plan-side">
                    <Preview check />
                </aside>
            </div>
            <p class="form-error" role="alert" data-testid="form-message">{move || form_message.get()}</p>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary btn-large" disabled=move || save.pending().get()>
                    {move || match (save.pending().get(), creating) {
                        (true, _) => "Saving…",
                        (false, true) => "Create plan",
                        (false, false) => "Save changes",
                    }}
                </button>
                <a class="btn btn-quiet" href="/plans">"Cancel"</a>
            </div>
        </form>
    }
}

#[component]
fn TextField(
    id: &'static str,
    label: &'static str,
    value: Signal<String>,
    error: Signal<Option<String>>,
    #[prop(into)] on_input: Callback<String>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] kind: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        <div class="field" class:field-invalid=move || error.with(Option::is_some)>
            <label for=id>{label}</label>
            <input id=id type=kind.unwrap_or("text") placeholder=placeholder
                prop:value=move || value.get()
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=error_id.clone()
                on:input=move |ev| on_input.run(event_target_value(&ev)) />
            {hint.map(|h| view! { <p class="field-hint">{h}</p> })}
            <p class="field-error" id=error_id data-testid=format!("error-{id}")>{move || error.get()}</p>
        </div>
    }
}

/// The symbols and amounts, with type-ahead search and running totals.
#[component]
fn LegsEditor(
    form: RwSignal<PlanForm>,
    check: Memo<(Plan, BTreeMap<String, String>)>,
    assets: RwSignal<HashMap<String, AssetFacts>>,
    edit: impl Fn(&str, &dyn Fn(&mut PlanForm)) + Copy + Send + Sync + 'static,
    error_for: impl Fn(String) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // The row whose symbol box is being searched, and what was typed.
    let searching = RwSignal::new(None::<(usize, String)>);
    let generation = StoredValue::new(0u64);
    let results = RwSignal::new(Vec::<AssetFacts>::new());
    let search_error = RwSignal::new(None::<String>);
    let search = Action::new(move |query: &(u64, String)| {
        let (wanted, query) = query.clone();
        async move { (wanted, search_assets(query).await) }
    });
    Effect::new(move |_| {
        if let Some((wanted, outcome)) = search.value().get()
            && wanted == generation.get_value()
        {
            match outcome {
                Ok(found) => {
                    assets.update(|known| {
                        for a in &found {
                            known.insert(a.symbol.to_string(), a.clone());
                        }
                    });
                    search_error.set(None);
                    results.set(found);
                }
                Err(err) => search_error.set(Some(err.message)),
            }
        }
    });
    let type_symbol = move |row: usize, text: String| {
        edit(&format!("legs[{row}].symbol"), &|f: &mut PlanForm| {
            if let Some(leg) = f.legs.get_mut(row) {
                leg.symbol = text.to_ascii_uppercase();
            }
        });
        generation.update_value(|g| *g += 1);
        let wanted = generation.get_value();
        let query = text.trim().to_owned();
        searching.set(Some((row, query.clone())));
        if query.is_empty() {
            results.set(Vec::new());
            return;
        }
        // Wait for a pause in typing before asking the server.
        set_timeout(
            move || {
                if generation.get_value() == wanted {
                    search.dispatch((wanted, query));
                }
            },
            std::time::Duration::from_millis(180),
        );
    };
    let choose = move |row: usize, facts: AssetFacts| {
        edit(&format!("legs[{row}].symbol"), &|f: &mut PlanForm| {
            if let Some(leg) = f.legs.get_mut(row) {
                leg.symbol = facts.symbol.to_string();
            }
        });
        searching.set(None);
        results.set(Vec::new());
    };
    let total = Memo::new(move |_| {
        form.with(|f| {
            f.legs
                .iter()
                .filter_map(|l| super::plan_form::parse_amount(&l.amount).ok())
                // Checked: amounts typed here are not validated yet.
                .try_fold(Decimal::ZERO, |sum, amount| sum.checked_add(amount))
                .unwrap_or(Decimal::MAX)
        })
    });
    let count = move || form.with(|f| f.legs.len());

    view! {
        <fieldset class="fieldset">
            <legend>"What to buy"</legend>
            <p class="field-error" data-testid="error-legs">{move || error_for("legs".into()).get()}</p>
            <div class="legs">
                {move || (0..count()).map(|row| {
                    let symbol_id = format!("leg-{row}-symbol");
                    let amount_id = format!("leg-{row}-amount");
                    let symbol_error = error_for(format!("legs[{row}].symbol"));
                    let amount_error = error_for(format!("legs[{row}].amount"));
                    let list_id = format!("leg-{row}-options");
                    let open = move || searching.with(|s| s.as_ref().is_some_and(|(r, q)| *r == row && !q.is_empty()));
                    view! {
                        <div class="leg-row" data-testid="leg-row">
                            <div class="field leg-symbol" class:field-invalid=move || symbol_error.with(Option::is_some)>
                                <label for=symbol_id.clone()>{format!("Symbol {}", row + 1)}</label>
                                <input id=symbol_id.clone() type="text" autocomplete="off" spellcheck="false"
                                    placeholder="Search, e.g. SPY or Vanguard"
                                    role="combobox" aria-autocomplete="list" aria-controls=list_id.clone()
                                    aria-expanded=move || open().to_string()
                                    aria-invalid=move || symbol_error.with(Option::is_some).to_string()
                                    aria-describedby=format!("{symbol_id}-error")
                                    prop:value=move || form.with(|f| f.legs.get(row).map(|l| l.symbol.clone()).unwrap_or_default())
                                    on:input=move |ev| type_symbol(row, event_target_value(&ev))
                                    on:keydown=move |ev| if ev.key() == "Escape" { searching.set(None); } />
                                <Show when=open>
                                    <ul class="options" id=list_id.clone() role="listbox" aria-label="Matching symbols">
                                        {move || {
                                            let found = results.get();
                                            if found.is_empty() {
                                                let text = search_error.get().unwrap_or_else(|| {
                                                    if search.pending().get() { "Searching…".into() } else { "No matching symbols.".into() }
                                                });
                                                return view! { <li class="option-empty" role="presentation">{text}</li> }.into_any();
                                            }
                                            found.into_iter().map(|facts| {
                                                let usable = facts.tradable && facts.fractionable;
                                                let chosen = facts.clone();
                                                view! {
                                                    <li role="option" aria-selected="false" aria-disabled=(!usable).to_string()>
                                                        <button type="button" class="option" disabled=!usable
                                                            data-testid=format!("option-{}", facts.symbol)
                                                            on:click=move |_| choose(row, chosen.clone())>
                                                            <strong>{facts.symbol.to_string()}</strong>
                                                            <span class="option-name">{facts.name.clone()}</span>
                                                            {if usable {
                                                                view! { <span class="badge">"fractional"</span> }.into_any()
                                                            } else if !facts.tradable {
                                                                view! { <span class="option-note">"not tradable now"</span> }.into_any()
                                                            } else {
                                                                view! { <span class="option-note">"whole shares only: cannot be bought by dollar amount"</span> }.into_any()
                                                            }}
                                                        </button>
                                                    </li>
                                                }
                                            }).collect_view().into_any()
                                        }}
                                    </ul>
                                </Show>
                                <p class="field-error" id=format!("{symbol_id}-error") data-testid=format!("error-{symbol_id}")>{move || symbol_error.get()}</p>
                            </div>
                            <div class="field leg-amount" class:field-invalid=move || amount_error.with(Option::is_some)>
                                <label for=amount_id.clone()>{format!("Amount {} ($)", row + 1)}</label>
                                <input id=amount_id.clone() type="text" inputmode="decimal" placeholder="50.00"
                                    aria-invalid=move || amount_error.with(Option::is_some).to_string()
                                    aria-describedby=format!("{amount_id}-error")
                                    prop:value=move || form.with(|f| f.legs.get(row).map(|l| l.amount.clone()).unwrap_or_default())
                                    on:input=move |ev| {
                                        let text = event_target_value(&ev);
                                        edit(&format!("legs[{row}].amount"), &|f: &mut PlanForm| if let Some(leg) = f.legs.get_mut(row) { leg.amount = text.clone(); });
                                    } />
                                <p class="field-error" id=format!("{amount_id}-error") data-testid=format!("error-{amount_id}")>{move || amount_error.get()}</p>
                            </div>
                            <button type="button" class="btn btn-quiet leg-remove" aria-label=format!("Remove line {}", row + 1)
                                disabled=move || count() == 1
                                on:click=move |_| edit("legs", &|f: &mut PlanForm| { if f.legs.len() > 1 { f.legs.remove(row); } })>"×"</button>
                        </div>
                    }
                }).collect_view()}
            </div>
            <button type="button" class="btn btn-quiet" on:click=move |_| edit("legs", &|f: &mut PlanForm| f.legs.push(LegText::default()))>
                "+ Add a symbol"
            </button>
            <p class="totals" data-testid="totals" aria-live="polite">
                {move || {
                    let per_purchase = total.get();
                    let monthly = per_purchase
                        * check.with(|(plan, _)| purchases_per_month(&plan.schedule));
                    format!("{} per purchase · about {} per month", money(per_purchase), money(monthly))
                }}
            </p>
        </fieldset>
    }
}

#[component]
fn ScheduleEditor(
    form: RwSignal<PlanForm>,
    edit: impl Fn(&str, &dyn Fn(&mut PlanForm)) + Copy + Send + Sync + 'static,
    error_for: impl Fn(String) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let frequency = move || form.with(|f| f.frequency.clone());
    let interval_error = error_for("schedule.interval".into());
    let weekday_error = error_for("schedule.weekday".into());
    let day_error = error_for("schedule.day_of_month".into());
    let time_error = error_for("schedule.time".into());
    let zone_error = error_for("schedule.timezone".into());
    view! {
        <fieldset class="fieldset">
            <legend>"When"</legend>
            <div class="field-row">
                <div class="field">
                    <label for="plan-frequency">"Repeats"</label>
                    <select id="plan-frequency" prop:value=frequency
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            edit("schedule.frequency", &|f: &mut PlanForm| { f.frequency = v.clone(); if v == "daily" { f.interval = "1".into(); } });
                        }>
                        <option value="daily">"Every trading day"</option>
                        <option value="weekly">"Weekly"</option>
                        <option value="monthly">"Monthly"</option>
                    </select>
                </div>
                <Show when=move || frequency() != "daily">
                    <div class="field" class:field-invalid=move || interval_error.with(Option::is_some)>
                        <label for="plan-interval">{move || if frequency() == "monthly" { "Every N months" } else { "Every N weeks" }}</label>
                        <input id="plan-interval" type="number" min="1" inputmode="numeric"
                            aria-describedby="plan-interval-error"
                            prop:value=move || form.with(|f| f.interval.clone())
                            on:input=move |ev| { let v = event_target_value(&ev); edit("schedule.interval", &|f: &mut PlanForm| f.interval = v.clone()); } />
                        <p class="field-error" id="plan-interval-error" data-testid="error-plan-interval">{move || interval_error.get()}</p>
                    </div>
                </Show>
                <Show when=move || frequency() == "weekly">
                    <div class="field" class:field-invalid=move || weekday_error.with(Option::is_some)>
                        <label for="plan-weekday">"On"</label>
                        <select id="plan-weekday" prop:value=move || form.with(|f| f.weekday.clone())
                            on:change=move |ev| { let v = event_target_value(&ev); edit("schedule.weekday", &|f: &mut PlanForm| f.weekday = v.clone()); }>
                            {crate::domain::schedule::Weekday::ALL.into_iter().map(|d| view! { <option value=d.as_str()>{d.name()}</option> }).collect_view()}
                        </select>
                        <p class="field-error" data-testid="error-plan-weekday">{move || weekday_error.get()}</p>
                    </div>
                </Show>
                <Show when=move || frequency() == "monthly">
                    <div class="field" class:field-invalid=move || day_error.with(Option::is_some)>
                        <label for="plan-day">"On"</label>
                        <select id="plan-day" prop:value=move || form.with(|f| f.day_of_month.clone())
                            on:change=move |ev| { let v = event_target_value(&ev); edit("schedule.day_of_month", &|f: &mut PlanForm| f.day_of_month = v.clone()); }>
                            <option value="first">"The first trading day"</option>
                            <option value="last">"The last trading day"</option>
                            {(1..=MAX_DAY_OF_MONTH).map(|n| view! { <option value=n.to_string()>{format!("Day {n}")}</option> }).collect_view()}
                        </select>
                        <p class="field-error" data-testid="error-plan-day">{move || day_error.get()}</p>
                    </div>
                </Show>
            </div>
            <div class="field-row">
                <div class="field" class:field-invalid=move || time_error.with(Option::is_some)>
                    <label for="plan-time">"Time"</label>
                    <input id="plan-time" type="time" step="60" aria-describedby="plan-time-error"
                        prop:value=move || form.with(|f| f.time.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); edit("schedule.time", &|f: &mut PlanForm| f.time = v.clone()); } />
                    <p class="field-error" id="plan-time-error" data-testid="error-plan-time">{move || time_error.get()}</p>
                </div>
                <div class="field" class:field-invalid=move || zone_error.with(Option::is_some)>
                    <label for="plan-zone">"Time zone"</label>
                    <input id="plan-zone" type="text" list="plan-zones" autocomplete="off" aria-describedby="plan-zone-error"
                        prop:value=move || form.with(|f| f.timezone.clone())
                        on:input=move |ev| { let v = event_target_value(&ev); edit("schedule.timezone", &|f: &mut PlanForm| f.timezone = v.clone()); } />
                    <datalist id="plan-zones">
                        {ZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
                    </datalist>
                    <p class="field-error" id="plan-zone-error" data-testid="error-plan-zone">{move || zone_error.get()}</p>
                </div>
            </div>
            <label class="check">
                <input type="checkbox" prop:checked=move || form.with(|f| f.queue_outside_hours)
                    on:change=move |ev| { let v = event_target_checked(&ev); edit("schedule.time", &|f: &mut PlanForm| f.queue_outside_hours = v); } />
                " Outside market hours, queue the purchase for the next open"
            </label>
        </fieldset>
    }
}

#[component]
fn ModeEditor(
    form: RwSignal<PlanForm>,
    max_per_slot: Signal<rust_decimal::Decimal>,
    edit: impl Fn(&str, &dyn Fn(&mut PlanForm)) + Copy + Send + Sync + 'static,
    error_for: impl Fn(String) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let mode = move || form.with(|f| f.mode.clone());
    let condition = move || form.with(|f| f.condition.clone());
    let smart_error = error_for("smart.condition".into());
    let set_mode =
        move |value: &'static str| edit("mode", &|f: &mut PlanForm| f.mode = value.into());
    view! {
        <fieldset class="fieldset">
            <legend>"How"</legend>
            <label class="check">
                <input type="radio" name="plan-mode" value="pure" prop:checked=move || mode() == "pure" on:change=move |_| set_mode("pure") />
                " Pure DCA: buy on every date, whatever the price"
            </label>
            <label class="check">
                <input type="radio" name="plan-mode" value="smart" prop:checked=move || mode() == "smart" on:change=move |_| set_mode("smart") />
                " Smart DCA: buy only when a moving-average condition holds"
            </label>
            <Show when=move || mode() == "smart">
                <div class="field-row smart">
                    <div class="field">
                        <label for="smart-condition">"Buy when"</label>
                        <select id="smart-condition" prop:value=condition
                            on:change=move |ev| { let v = event_target_value(&ev); edit("smart.condition", &|f: &mut PlanForm| f.condition = v.clone()); }>
                            <option value="close_above_sma">"The close is above its moving average (trend)"</option>
                            <option value="close_below_sma">"The close is below its moving average (dip)"</option>
                            <option value="fast_above_slow">"A fast average is above a slow one"</option>
                        </select>
                    </div>
                    <Show when=move || condition() != "fast_above_slow"
                        fallback=move || view! {
                            <div class="field">
                                <label for="smart-fast">"Fast (days)"</label>
                                <input id="smart-fast" type="number" min="1" prop:value=move || form.with(|f| f.fast.clone())
                                    on:input=move |ev| { let v = event_target_value(&ev); edit("smart.condition", &|f: &mut PlanForm| f.fast = v.clone()); } />
                            </div>
                            <div class="field">
                                <label for="smart-slow">"Slow (days)"</label>
                                <input id="smart-slow" type="number" min="2" prop:value=move || form.with(|f| f.slow.clone())
                                    on:input=move |ev| { let v = event_target_value(&ev); edit("smart.condition", &|f: &mut PlanForm| f.slow = v.clone()); } />
                            </div>
                        }>
                        <div class="field">
                            <label for="smart-period">"Average of (days)"</label>
                            <input id="smart-period" type="number" min="2" prop:value=move || form.with(|f| f.period.clone())
                                on:input=move |ev| { let v = event_target_value(&ev); edit("smart.condition", &|f: &mut PlanForm| f.period = v.clone()); } />
                        </div>
                    </Show>
                    <div class="field">
                        <label for="smart-otherwise">"Otherwise"</label>
                        <select id="smart-otherwise" prop:value=move || form.with(|f| f.when_not_met.clone())
                            on:change=move |ev| { let v = event_target_value(&ev); edit("smart.when_not_met", &|f: &mut PlanForm| f.when_not_met = v.clone()); }>
                            <option value="skip">"Skip that purchase"</option>
                            <option value="carry_forward">"Carry the money to the next purchase"</option>
                        </select>
                    </div>
                    <Show when=move || form.with(|f| f.when_not_met == "carry_forward")>
                        <p class="muted" data-testid="carry-cap">
                            "Carried money is capped: one purchase never spends more than "
                            {move || super::format::money(max_per_slot.get())} " in all."
                        </p>
                    </Show>
                </div>
                <p class="field-error" data-testid="error-smart">{move || smart_error.get()}</p>
            </Show>
        </fieldset>
    }
}

/// The one-line summary and the next five purchase times, from the shared schedule code.
#[component]
fn Preview(check: Memo<(Plan, BTreeMap<String, String>)>) -> impl IntoView {
    let slots = Memo::new(move |_| {
        check.with(|(plan, _)| {
            plan.schedule
                .next_slots(super::format::now(), 5)
                .ok()
                .map(|slots| (plan.schedule.clone(), slots))
        })
    });
    view! {
        <div class="panel preview" aria-live="polite">
            <h2>"Preview"</h2>
            {move || match slots.get() {
                Some((schedule, slots)) if !slots.is_empty() => {
                    let total = check
                        .with(|(plan, _)| crate::domain::strategy::dca::legs_total(&plan.legs))
                        .unwrap_or(Decimal::MAX);
                    let next = match zones::get(&schedule.timezone) {
                        Some(tz) => weekday_day_month(tz.to_datetime(slots[0]).date()),
                        None => slots[0].to_string(),
                    };
                    let summary = format!(
                        "{} {} at {} {} time, next on {}",
                        money(total),
                        schedule.cadence(),
                        schedule.time,
                        zone_city(&schedule.timezone),
                        next,
                    );
                    view! {
                        <p class="summary" data-testid="plan-summary">{summary}</p>
                        <h3>"Next purchases"</h3>
                        <ol class="preview-list" data-testid="preview">
                            {slots.iter().map(|at| view! { <li>{local_time(*at, &schedule.timezone)}</li> }).collect_view()}
                        </ol>
                    }.into_any()
                }
                _ => view! { <p class="muted" data-testid="preview-empty">"Complete the schedule to see the next purchase dates."</p> }.into_any(),
            }}
        </div>
    }
}
