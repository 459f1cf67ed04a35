//! Sign-up and sign-in pages. Both post to server functions through `ActionForm`, so they
//! work before the WASM loads; once hydrated, sign-up validates as the user types with
//! the same rules the server applies.

use super::Auth;
use crate::api::AppError;
use crate::domain::account::{Email, NewPassword};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// The server's verdict on the last submission: its general message, and per-field messages.
fn server_error<T, S>(value: S) -> Signal<Option<AppError>>
where
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(|r| r.err()))
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let error = server_error(auth.sign_up.value());
    // Busy from the press until the next page is in (its code may still be loading).
    let routing = use_context::<crate::ui::Routing>().map(|r| r.0);
    let busy = move || auth.sign_up.pending().get() || routing.is_some_and(|r| r.get());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let email_touched = RwSignal::new(false);
    let password_touched = RwSignal::new(false);

    // Local rules first (as the user types, once a field was left), then the server's.
    let email_error = Signal::derive(move || {
        let local = email_touched
            .get()
            .then(|| Email::parse(&email.get()).err())
            .flatten();
        local.or_else(|| {
            error
                .get()
                .and_then(|e| e.field("email").map(str::to_owned))
        })
    });
    let password_error = Signal::derive(move || {
        let local = password_touched
            .get()
            .then(|| NewPassword::parse(&password.get()).err())
            .flatten();
        local.or_else(|| {
            error
                .get()
                .and_then(|e| e.field("password").map(str::to_owned))
        })
    });
    let form_error = Signal::derive(move || {
        error
            .get()
            .filter(|e| e.fields.is_empty())
            .map(|e| e.message)
    });

    view! {
        <Title text="Create your account · QuantShift" />
        <section class="auth-card">
            <h1>"Create your account"</h1>
            <p class="muted">"Start with a simulated paper account: no broker, no card needed."</p>
            <ActionForm action=auth.sign_up attr:novalidate="true" attr:class="form">
                <Field
                    id="signup-email"
                    name="email"
                    label="E-mail"
                    kind="email"
                    autocomplete="email"
                    value=email
                    touched=email_touched
                    error=email_error
                />
                <Field
                    id="signup-password"
                    name="password"
                    label="Password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 10 characters."
                    value=password
                    touched=password_touched
                    error=password_error
                />
                <FormError message=form_error />
                <button type="submit" class="btn btn-primary btn-block" disabled=busy aria-busy=move || busy().to_string()>
                    {move || if busy() { "Creating account…" } else { "Create account" }}
                </button>
            </ActionForm>
            <p class="auth-switch">"Already have an account? " <A href="/login">"Sign in"</A></p>
        </section>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let error = server_error(auth.sign_in.value());
    let routing = use_context::<crate::ui::Routing>().map(|r| r.0);
    let busy = move || auth.sign_in.pending().get() || routing.is_some_and(|r| r.get());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let email_error = Signal::derive(move || {
        error
            .get()
            .and_then(|e| e.field("email").map(str::to_owned))
    });
    let password_error = Signal::derive(move || {
        error
            .get()
            .and_then(|e| e.field("password").map(str::to_owned))
    });
    let form_error = Signal::derive(move || {
        error
            .get()
            .filter(|e| e.fields.is_empty())
            .map(|e| e.message)
    });

    view! {
        <Title text="Sign in · QuantShift" />
        <section class="auth-card">
            <h1>"Sign in"</h1>
            <ActionForm action=auth.sign_in attr:novalidate="true" attr:class="form">
                <Field
                    id="login-email"
                    name="email"
                    label="E-mail"
                    kind="email"
                    autocomplete="username"
                    value=email
                    touched=RwSignal::new(false)
                    error=email_error
                />
                <Field
                    id="login-password"
                    name="password"
                    label="Password"
                    kind="password"
                    autocomplete="current-password"
                    value=password
                    touched=RwSignal::new(false)
                    error=password_error
                />
                <FormError message=form_error />
                <button type="submit" class="btn btn-primary btn-block" disabled=busy aria-busy=move || busy().to_string()>
                    {move || if busy() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
            <p class="auth-switch"><a href="/forgot-password" rel="external">"Forgot your password?"</a></p>
            <p class="auth-switch">"New to QuantShift? " <A href="/signup">"Create an account"</A></p>
        </section>
    }
}

/// A labelled input with its hint and its error, wired for screen readers.
#[component]
fn Field(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    value: RwSignal<String>,
    touched: RwSignal<bool>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            ids.join(" ")
        }
    };
    view! {
        <div class="field" class:field-invalid=move || error.get().is_some()>
            <label for=id>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=described_by
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
                on:blur=move |_| touched.set(true)
            />
            {hint.map(|hint| view! { <p class="field-hint" id=hint_id.clone()>{hint}</p> })}
            <p class="field-error" id=error_id role="alert">{move || error.get()}</p>
        </div>
    }
}

#[component]
fn FormError(message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <p class="form-error" role="alert" data-testid="form-error">{move || message.get()}</p>
    }
}
