//! The live link to the server (`/api/ws`): the signed-in user's events as they happen.
//! The socket reconnects by itself with backoff after a drop; every (re)connection and
//! every burst of events bumps [`Live::version`] (once), which the dashboard's data depends
//! on, so what was missed while offline is fetched again.

pub use crate::api::live::{LiveEvent, RunStatus};
use leptos::prelude::*;
use std::collections::HashMap;

/// The state of the link, shown by [`LiveBadge`].
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    Live,
    /// Lost; a reconnection is scheduled.
    Offline,
}

/// The live link's signals, provided as context by [`Live::provide`].
#[derive(Clone, Copy)]
pub struct Live {
    pub state: RwSignal<LinkState>,
    /// Bumped after each (re)connection and each burst of events.
    pub version: RwSignal<u64>,
    /// The latest status of each plan's bot, by plan id.
    pub runs: RwSignal<HashMap<String, RunStatus>>,
    /// A bump of `version` is scheduled: the events of one burst (a purchase's legs, its
    /// plan, its bot's status) cause one refetch, not one each.
    bump_pending: StoredValue<bool>,
}

/// How long [`Live::version`] waits for the rest of a burst of events.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const BURST: std::time::Duration = std::time::Duration::from_millis(150);

impl Live {
    /// Opens the link (in the browser) for as long as the calling component lives.
    pub fn provide() -> Self {
        let live = Self {
            state: RwSignal::new(LinkState::Connecting),
            version: RwSignal::new(0),
            runs: RwSignal::new(HashMap::new()),
            bump_pending: StoredValue::new(false),
        };
        provide_context(live);
        #[cfg(feature = "hydrate")]
        browser::start(live);
        live
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn apply(&self, event: LiveEvent) {
        if let LiveEvent::RunStatus(status) = event {
            self.runs.update(|runs| {
                runs.insert(status.plan_id.clone(), status);
            });
        }
        self.bump();
    }

    /// Bumps `version` [`BURST`] after the first event of a burst; the events that follow
    /// within that time ride along.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn bump(&self) {
        // Already scheduled, or the page that owned the link is gone.
        if self.bump_pending.try_get_value().unwrap_or(true) {
            return;
        }
        self.bump_pending.try_set_value(true);
        let live = *self;
        set_timeout(
            move || {
                live.bump_pending.try_set_value(false);
                live.version.try_update(|v| *v += 1);
            },
            BURST,
        );
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{LinkState, Live, LiveEvent};
    use leptos::prelude::*;
    use std::time::Duration;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    fn url() -> Option<String> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        Some(format!("{scheme}://{}/api/ws", location.host().ok()?))
    }

    /// Waits before reconnection `attempt` (1, 2, 4 … at most 10 seconds).
    fn backoff(attempt: u32) -> Duration {
        Duration::from_millis((500u64 << attempt.min(5)).min(10_000))
    }

    /// The open socket and its handlers, which live exactly as long as it does.
    struct Link {
        ws: WebSocket,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_open: Closure<dyn FnMut()>,
        _on_close: Closure<dyn FnMut(CloseEvent)>,
    }

    impl Link {
        /// Closes the socket for good: its handlers are detached first, since they are
        /// freed with the link while the browser may still report the close.
        fn shut(&self) {
            self.ws.set_onmessage(None);
            self.ws.set_onopen(None);
            self.ws.set_onclose(None);
            let _ = self.ws.close();
        }
    }

    pub fn start(live: Live) {
        let socket = StoredValue::new_local(None::<Link>);
        let alive = StoredValue::new(true);
        on_cleanup(move || {
            alive.set_value(false);
            socket.try_with_value(|link| link.as_ref().map(Link::shut));
        });
        // Connect once the page is interactive.
        request_animation_frame(move || connect(live, socket, alive, 0));
    }

    fn connect(
        live: Live,
        socket: StoredValue<Option<Link>, LocalStorage>,
        alive: StoredValue<bool>,
        attempt: u32,
    ) {
        if !alive.try_get_value().unwrap_or(false) {
            return;
        }
        let Some(ws) = url().and_then(|url| WebSocket::new(&url).ok()) else {
            // The browser refused to open one at all: try again later, as after a drop.
            live.state.set(LinkState::Offline);
            let next = attempt + 1;
            set_timeout(move || connect(live, socket, alive, next), backoff(next));
            return;
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            let Some(text) = ev.data().as_string() else {
                return;
            };
            match LiveEvent::parse(&text) {
                Some(LiveEvent::Hello) => {
                    if live.state.get_untracked() != LinkState::Live {
                        live.state.set(LinkState::Live);
                    }
                    live.bump();
                }
                Some(event) => live.apply(event),
                None => {}
            }
        });
        let attempts = std::rc::Rc::new(std::cell::Cell::new(attempt));
        let on_open = {
            let attempts = attempts.clone();
            Closure::<dyn FnMut()>::new(move || attempts.set(0))
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |ev: CloseEvent| {
            if !alive.try_get_value().unwrap_or(false) {
                return;
            }
            if ev.code() == crate::api::live::SESSION_ENDED {
                // Signed out elsewhere: this page's data is no longer the user's to see.
                let _ = window().location().set_href("/login");
                return;
            }
            live.state.set(LinkState::Offline);
            let next = attempts.get() + 1;
            set_timeout(move || connect(live, socket, alive, next), backoff(next));
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        if live.state.get_untracked() == LinkState::Offline {
            live.state.set(LinkState::Connecting);
        }
        // The previous link, if any, closed before this reconnection was scheduled; it
        // and its handlers are freed here.
        socket.try_set_value(Some(Link {
            ws,
            _on_message: on_message,
            _on_open: on_open,
            _on_close: on_close,
        }));
    }
}

/// "Live", "Connecting…" or "Offline: reconnecting…", always in the same place.
#[component]
pub fn LiveBadge() -> impl IntoView {
    let live = expect_context::<Live>();
    let label = move || match live.state.get() {
        LinkState::Live => "Live",
        LinkState::Connecting => "Connecting…",
        LinkState::Offline => "Offline: reconnecting…",
    };
    let class = move || match live.state.get() {
        LinkState::Live => "live-badge live-on",
        LinkState::Connecting => "live-badge live-connecting",
        LinkState::Offline => "live-badge live-off",
    };
    view! {
        <span class=class role="status" data-testid="live-status"
            data-state=move || format!("{:?}", live.state.get()).to_lowercase()>
            <span class="live-dot" aria-hidden="true"></span>
            {label}
        </span>
    }
}
