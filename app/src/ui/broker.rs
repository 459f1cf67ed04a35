//! The broker connection panel (onboarding and settings): which account the plans trade
//! in, connecting Alpaca keys (checked with Alpaca before they are saved) and going back to
//! the simulated paper account. Keys are never shown again, only their last four characters.

use crate::api::broker::{
    ConnectRequest, ConnectionView, connect_broker, disconnect_broker, load_broker_connection,
};
use leptos::prelude::*;

fn describe(view: &ConnectionView) -> String {
    match view.kind.as_str() {
        "alpaca" => format!(
            "Alpaca {} account, key ending in {}",
            view.environment,
            view.key_last4.as_deref().unwrap_or("????")
        ),
        "demo" => "The simulated paper account ($100,000 of play money, real market hours)".into(),
        _ => "No broker yet: connect your Alpaca keys to trade.".into(),
    }
}

#[component]
pub fn BrokerPanel(
    /// Called after a successful connection (onboarding moves on).
    #[prop(optional, into)]
    on_connected: Option<Callback<()>>,
) -> impl IntoView {
    let connect = Action::new(|request: &ConnectRequest| {
        let request = request.clone();
        async move { connect_broker(request).await }
    });
    let disconnect = Action::new(|_: &()| disconnect_broker());
    let current = Resource::new(
        move || (connect.version().get(), disconnect.version().get()),
        |_| load_broker_connection(),
    );
    let key_id = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let environment = RwSignal::new("paper".to_string());
    let acknowledge = RwSignal::new(false);
    // Live keys need the risk disclosure confirmed once (the server checks it too).
    let ask_risk = move || {
        environment.get() == "live"
            && !matches!(
                current.get(),
                Some(Ok(ConnectionView {
                    risk_acknowledged: true,
                    ..
                }))
            )
    };
    let error = Signal::derive(move || connect.value().get().and_then(Result::err));
    let field_error = move |key: &'static str| {
        Signal::derive(move || error.get().and_then(|e| e.field(key).map(str::to_owned)))
    };
    Effect::new(move |_| {
        if let Some(Ok(_)) = connect.value().get() {
            secret.set(String::new());
            if let Some(callback) = on_connected {
                callback.run(());
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        connect.dispatch(ConnectRequest {
            environment: environment.get_untracked(),
            key_id: key_id.get_untracked().trim().to_owned(),
            secret: secret.get_untracked().trim().to_owned(),
            acknowledge_risk: acknowledge.get_untracked(),
        });
    };
    view! {
        <div class="broker-panel">
            <Transition fallback=|| view! { <p class="loading">"Checking your broker…"</p> }>
                {move || Suspend::new(async move {
                    match current.await {
                        Ok(view) => {
                            let own = view.kind == "alpaca";
                            view! {
                                <p data-testid="broker-current"><strong>"Trading in: "</strong>{describe(&view)}</p>
                                {(view.live_unlock_days > 0 && view.environment != "live").then(|| view! {
                                    <p class="field-hint" data-testid="live-unlock">{format!("Live trading unlocks after {} days on paper.", view.live_unlock_days)}</p>
                                })}
                                {own.then(|| view! {
                                    <button type="button" class="btn btn-quiet" on:click=move |_| { disconnect.dispatch(()); }>
                                        "Disconnect and use the paper account"
                                    </button>
                                })}
                            }.into_any()
                        }
                        Err(err) => view! { <p class="form-error" role="alert">{err.message}</p> }.into_any(),
                    }
                })}
            </Transition>
            <form class="form" novalidate=true on:submit=submit>
                <h3>"Connect your Alpaca account"</h3>
                <p class="field-hint">
                    "Create API keys in Alpaca's dashboard. QuantShift checks them with Alpaca, stores them encrypted, "
                    "and never shows the secret again."
                </p>
                <div class="field" class:field-invalid=move || field_error("key_id").with(Option::is_some)>
                    <label for="broker-key">"API key ID"</label>
                    <input id="broker-key" type="text" autocomplete="off" spellcheck="false"
                        prop:value=move || key_id.get() on:input=move |ev| key_id.set(event_target_value(&ev)) />
                    <p class="field-error" data-testid="error-broker-key">{move || field_error("key_id").get()}</p>
                </div>
                <div class="field" class:field-invalid=move || field_error("secret").with(Option::is_some)>
                    <label for="broker-secret">"Secret key"</label>
                    <input id="broker-secret" type="password" autocomplete="off"
                        prop:value=move || secret.get() on:input=move |ev| secret.set(event_target_value(&ev)) />
                    <p class="field-error" data-testid="error-broker-secret">{move || field_error("secret").get()}</p>
                </div>
                <div class="field">
                    <label for="broker-env">"Account"</label>
                    <select id="broker-env" prop:value=move || environment.get() on:change=move |ev| environment.set(event_target_value(&ev))>
                        <option value="paper">"Paper (simulated money)"</option>
                        <option value="live">"Live (real money)"</option>
                    </select>
                    <p class="field-error">{move || field_error("environment").get()}</p>
                </div>
                <Show when=ask_risk>
                    <div class="field" class:field-invalid=move || field_error("acknowledge_risk").with(Option::is_some)>
                        <label class="check check-risk">
                            <input type="checkbox" data-testid="acknowledge-risk" prop:checked=move || acknowledge.get()
                                on:change=move |ev| acknowledge.set(event_target_checked(&ev)) />
                            <span>"I have read the "<a href="/risk" rel="external noopener" target="_blank">"risk disclosure"</a>
                                " and understand that live plans spend real money and can lose it."</span>
                        </label>
                        <p class="field-error" data-testid="error-acknowledge-risk">{move || field_error("acknowledge_risk").get()}</p>
                    </div>
                </Show>
                <p class="form-error" role="alert" data-testid="broker-error">
                    {move || error.get().filter(|e| e.fields.is_empty()).map(|e| e.message)}
                </p>
                <button type="submit" class="btn btn-primary" disabled=move || connect.pending().get()>
                    {move || if connect.pending().get() { "Checking the keys…" } else { "Connect" }}
                </button>
            </form>
        </div>
    }
}
