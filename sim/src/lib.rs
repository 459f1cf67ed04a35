//! An Alpaca-compatible simulated broker, served over HTTP exactly as Alpaca serves its
//! trading and market-data APIs, so the real `AlpacaBroker` (apca) runs unchanged against
//! it in demo mode, in tests and for users without an Alpaca account.
//!
//! - [`clock`]: simulated time (real time, faster, or frozen and moved by hand).
//! - [`market`]: the asset catalogue and the deterministic price model.
//! - [`bars`]: bars of any timeframe aggregated from the minute paths, with pagination.
//! - [`engine`]: accounts, orders, Alpaca's rules, fills and everything due as time passes.
//! - [`wire`]: Alpaca's JSON shapes.
//! - [`http`]: the router (`/v2/...`, `/sim/v1/...`), authentication and rate limiting.
//! - [`stream`]: the `/stream` trade-updates websocket.
//! - [`faults`]: injected errors, latency and hangs for reliability tests.
//! - [`error`]: Alpaca-shaped error answers.
//! - `stripe` (feature `stripe`): a Stripe stand-in for billing — API, hosted checkout and
//!   portal pages, signed webhooks.
//!
//! Everything the simulator knows is behind one [`Simulator`] (`Send + Sync`, shared
//! through `Arc`). Processing is lazy and exact: every request first processes whatever
//! fell due up to the current simulated time, and a background ticker does the same
//! once a second while the clock runs by itself (so fills reach the websocket promptly).

pub mod bars;
pub mod clock;
pub mod engine;
pub mod error;
pub mod faults;
pub mod http;
pub mod market;
pub mod stream;
pub mod wire;

#[cfg(feature = "stripe")]
pub mod stripe;

#[cfg(test)]
mod tests;

use engine::{Engine, Outgoing};
use jiff::Timestamp;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{broadcast, watch};

/// How the simulator runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// An unknown key id gets a new account on first use (demo mode and tests).
    pub auto_accounts: bool,
    /// Requests per API key per minute before 429 (Alpaca: 200).
    pub rate_limit_per_min: u32,
    /// Seed of the price paths and of the fault draws.
    pub seed: u64,
    /// Simulated time at start; the wall clock when `None`.
    pub start_time: Option<Timestamp>,
    /// Simulated seconds per real second; `0.0` freezes the clock (it then moves only
    /// through [`Simulator::advance`] and the control API).
    pub speed: f64,
    /// Serve the `/sim/v1/...` control API.
    pub allow_control_api: bool,
    /// Keep the accounts (keys, cash, positions, orders, fills) in this file: read at
    /// start, rewritten (atomically) after every change, so a restart goes on where it
    /// stopped. `None`: in memory only.
    pub state_file: Option<std::path::PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            auto_accounts: false,
            rate_limit_per_min: 200,
            seed: 42,
            start_time: None,
            speed: 1.0,
            allow_control_api: false,
            state_file: None,
        }
    }
}

/// The simulated broker's shared state.
pub struct Simulator {
    pub(crate) config: SimConfig,
    pub(crate) clock: clock::SimClock,
    pub(crate) market: market::Market,
    engine: Mutex<Engine>,
    events: broadcast::Sender<Outgoing>,
    pub(crate) faults: faults::FaultInjector,
    pub(crate) limiter: http::RateLimiter,
    ticker_started: AtomicBool,
    closing: watch::Sender<bool>,
    /// The engine's change count when the state file was last written.
    saved_changes: std::sync::atomic::AtomicU64,
}

impl Simulator {
    pub fn new(config: SimConfig) -> Arc<Self> {
        let start = config.start_time.unwrap_or_else(Timestamp::now);
        let engine = config
            .state_file
            .as_deref()
            .and_then(load_state)
            .unwrap_or_else(|| Engine::new(start));
        let sim = Arc::new(Self {
            clock: clock::SimClock::new(start, config.speed),
            market: market::Market::new(config.seed),
            engine: Mutex::new(engine),
            saved_changes: std::sync::atomic::AtomicU64::new(0),
            events: broadcast::channel(1024).0,
            faults: faults::FaultInjector::new(config.seed),
            limiter: http::RateLimiter::new(config.rate_limit_per_min),
            ticker_started: AtomicBool::new(false),
            closing: watch::channel(false).0,
            config,
        });
        sim.ensure_ticker();
        sim
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The Axum router: `/v2/...`, `/stream` and, when allowed, `/sim/v1/...`.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        self.ensure_ticker();
        http::router(self.clone())
    }

    /// Opens an account with $100,000 and returns its key pair (as `POST /sim/v1/accounts`).
    pub fn create_account(&self) -> (String, String) {
        let (key, secret, _) = self.create_account_with(engine::STARTING_CASH);
        (key, secret)
    }

    /// Opens an account with `cash`; returns (key id, secret, account id).
    pub fn create_account_with(&self, cash: rust_decimal::Decimal) -> (String, String, uuid::Uuid) {
        self.with_engine(|engine, _, now| engine.create_account(now, None, cash))
    }

    /// The simulator's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Moves the clock forward and processes everything due (fills, expiries).
    pub async fn advance(&self, seconds: i64) {
        self.clock.advance(seconds);
        self.sync();
    }

    /// Sets the clock (forward or back) and processes everything due.
    pub fn set_time(&self, to: Timestamp) {
        self.clock.set(to);
        self.sync();
    }

    /// Processes everything due up to now and publishes the trade updates.
    pub fn sync(&self) {
        self.with_engine(|_, _, _| ());
    }

    /// Runs `f` on the engine after processing everything due, then publishes the
    /// trade updates it produced.
    pub(crate) fn with_engine<R>(
        &self,
        f: impl FnOnce(&mut Engine, &market::Market, Timestamp) -> R,
    ) -> R {
        let mut engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        let now = self.clock.now();
        engine.process(&self.market, now);
        let result = f(&mut engine, &self.market, now);
        for message in engine.drain_outbox() {
            // No subscriber is fine.
            let _ = self.events.send(message);
        }
        if let Some(path) = &self.config.state_file
            && engine.changes() != self.saved_changes.load(Ordering::SeqCst)
        {
            // Written under the engine's lock, so snapshots reach the file in order.
            match save_state(path, &engine) {
                Ok(()) => self.saved_changes.store(engine.changes(), Ordering::SeqCst),
                Err(err) => {
                    tracing::error!(path = %path.display(), error = %err, "could not save the simulated broker's state")
                }
            }
        }
        result
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Outgoing> {
        self.events.subscribe()
    }

    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Starts the once-a-second processing task when the clock runs by itself and a Tokio
    /// runtime is available; it stops when the simulator is dropped.
    fn ensure_ticker(self: &Arc<Self>) {
        if !self.clock.is_running() {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.ticker_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        handle.spawn(async move {
            let mut interval = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                interval.tick().await;
                let Some(sim) = weak.upgrade() else { break };
                sim.sync();
            }
        });
    }
}

/// The engine saved at `path`, if there is one. It processes what fell due while it was
/// stopped on its first pass (from its saved watermark to the simulator's clock).
fn load_state(path: &std::path::Path) -> Option<Engine> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => {
            tracing::error!(path = %path.display(), error = %err, "could not read the simulated broker's state; starting empty");
            return None;
        }
    };
    match serde_json::from_str(&text)
        .map_err(|e| e.to_string())
        .and_then(Engine::restore)
    {
        Ok(engine) => {
            tracing::info!(path = %path.display(), "simulated broker state restored");
            Some(engine)
        }
        Err(err) => {
            tracing::error!(path = %path.display(), error = %err, "the simulated broker's state is unreadable; starting empty");
            None
        }
    }
}

/// Writes the engine's state to `path` through a temporary file and a rename, so the
/// file is always a whole snapshot; readable by its owner only (it holds API secrets).
fn save_state(path: &std::path::Path, engine: &Engine) -> std::io::Result<()> {
    let text = serde_json::to_vec(&engine.snapshot())?;
    let temporary = path.with_extension("tmp");
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)
}

/// Binds and serves until `shutdown` resolves; used by `quantshift sim-broker` and by
/// demo mode. Open websockets are closed at shutdown.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sim: Arc<Simulator>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = sim.router();
    let closing = sim.closing.clone();
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "simulated Alpaca broker listening");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = closing.send(true);
        })
        .await
}
