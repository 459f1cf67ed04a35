//! Each user's broker account as the dashboard shows it (balances, positions, recent
//! orders), kept in memory so a page view does not wait on the broker nor spend the
//! user's request budget there.
//!
//! - A view younger than [`FRESH_MS`] is served as it is.
//! - An older one, up to [`SERVE_STALE_MS`], is served at once while one refresh runs
//!   behind it.
//! - A reader waits for the broker only when there is no view yet, when it is older than
//!   that, or when the account is known to have changed since (a fill): then readers
//!   arriving meanwhile share that one fetch.
//! - When the engine records a fill, the view is marked changed; if the user read it
//!   recently ([`WATCHED_MS`]) it is fetched again at once (and their balances announced).
//!   Nobody's account is fetched for nobody. Every instance also marks the view changed
//!   when another instance's purchase event goes by on the event bus
//!   (`DcaService::watch_purchases`), so it never serves balances from before a fill made
//!   elsewhere.
//!
//! A view belongs to one broker account (`demo` or `<environment>:<account id>`): after
//! the user connects another account, the old view is never served.
//!
//! Ages are read from the application's [`Clock`], so tests move them without sleeping.

use app::api::AppError;
use app::api::dca::AccountSummary;
use app::domain::time::Clock;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// A view this young is served without asking the broker.
pub const FRESH_MS: i64 = 5_000;
/// A view up to this old is served at once while a refresh runs behind it.
pub const SERVE_STALE_MS: i64 = 5 * 60_000;
/// A user who read their account this recently gets it refreshed when it changes.
pub const WATCHED_MS: i64 = 10 * 60_000;
/// Above this many users, views nobody reads any more are dropped.
const SWEEP_ABOVE: usize = 1024;

#[derive(Clone)]
struct View {
    account: String,
    fetched_at: i64,
    /// `State::changes` when the fetch began: a change since makes the view outdated.
    changes: u64,
    summary: Arc<AccountSummary>,
}

#[derive(Default)]
struct State {
    view: Option<View>,
    read_at: i64,
    refreshing: bool,
    /// Changes announced so far.
    changes: u64,
}

impl State {
    fn current(&self, account: &str) -> Option<&View> {
        self.view
            .as_ref()
            .filter(|v| v.account == account && v.changes == self.changes)
    }
}

#[derive(Default)]
struct Entry {
    /// One fetch at a time per user.
    fetching: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

impl Entry {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches `account` with `fetch` and keeps the result; the caller holds `fetching`.
    async fn fetch<Fut>(
        &self,
        account: &str,
        fetch: Fut,
        clock: &dyn Clock,
    ) -> Result<Arc<AccountSummary>, AppError>
    where
        Fut: Future<Output = Result<AccountSummary, AppError>>,
    {
        let changes = self.state().changes;
        let summary = Arc::new(fetch.await?);
        self.state().view = Some(View {
            account: account.to_owned(),
            fetched_at: clock.now().millis(),
            changes,
            summary: summary.clone(),
        });
        Ok(summary)
    }

    /// The view of `account` if it may be served without a fetch.
    fn fresh(&self, account: &str, now: i64) -> Option<Arc<AccountSummary>> {
        self.state()
            .current(account)
            .filter(|v| now - v.fetched_at < FRESH_MS)
            .map(|v| v.summary.clone())
    }
}

enum Read {
    Serve(Arc<AccountSummary>),
    ServeAndRefresh(Arc<AccountSummary>),
    Fetch,
}

/// The users' account views (one per user, in this instance).
pub struct AccountViews {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    /// When views nobody reads were last dropped.
    swept_at: std::sync::atomic::AtomicI64,
}

impl AccountViews {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
            swept_at: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().millis()
    }

    fn entry(&self, user_id: &str) -> Arc<Entry> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get(user_id) {
            return entry.clone();
        }
        let now = self.now();
        let due =
            now.saturating_sub(self.swept_at.load(std::sync::atomic::Ordering::Relaxed)) >= 60_000;
        if entries.len() >= SWEEP_ABOVE && due {
            self.swept_at
                .store(now, std::sync::atomic::Ordering::Relaxed);
            entries.retain(|_, e| Arc::strong_count(e) > 1 || now - e.state().read_at < WATCHED_MS);
        }
        entries.entry(user_id.to_owned()).or_default().clone()
    }

    fn existing(&self, user_id: &str) -> Option<Arc<Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user_id)
            .cloned()
    }

    /// The user's view of `account`; `fetch` reads it from the broker when needed.
    pub async fn read<F, Fut>(
        &self,
        user_id: &str,
        account: &str,
        fetch: F,
    ) -> Result<Arc<AccountSummary>, AppError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<AccountSummary, AppError>> + Send + 'static,
    {
        let entry = self.entry(user_id);
        let now = self.now();
        let read = {
            let mut state = entry.state();
            state.read_at = now;
            let refreshing = state.refreshing;
            match state.current(account) {
                Some(v) => {
                    let age = now - v.fetched_at;
                    let summary = v.summary.clone();
                    if age < FRESH_MS {
                        Read::Serve(summary)
                    } else if age < SERVE_STALE_MS {
                        if refreshing {
                            Read::Serve(summary)
                        } else {
                            state.refreshing = true;
                            Read::ServeAndRefresh(summary)
                        }
                    } else {
                        Read::Fetch
                    }
                }
                _ => Read::Fetch,
            }
        };
        match read {
            Read::Serve(summary) => Ok(summary),
            Read::ServeAndRefresh(summary) => {
                let (entry, account, clock) =
                    (entry.clone(), account.to_owned(), self.clock.clone());
                tokio::spawn(async move {
                    let _one = entry.fetching.lock().await;
                    if let Err(err) = entry.fetch(&account, fetch(), &*clock).await {
                        tracing::debug!(error = %err.message, "an account refresh failed; the last view is kept");
                    }
                    entry.state().refreshing = false;
                });
                Ok(summary)
            }
            Read::Fetch => {
                let _one = entry.fetching.lock().await;
                // Whoever held the lock before may have fetched it just now.
                if let Some(summary) = entry.fresh(account, self.now()) {
                    return Ok(summary);
                }
                entry.fetch(account, fetch(), &*self.clock).await
            }
        }
    }

    /// When the user's view of `account` was read from the broker (ms), if there is one.
    pub fn fetched_at(&self, user_id: &str, account: &str) -> Option<i64> {
        let entry = self.existing(user_id)?;
        let state = entry.state();
        state.current(account).map(|view| view.fetched_at)
    }

    /// Something changed the user's account (a fill): their view is outdated, and the
    /// next read waits for a fetch. Returns whether they read it recently, when the
    /// caller should refresh it now with [`AccountViews::refresh`].
    pub fn changed(&self, user_id: &str) -> bool {
        let Some(entry) = self.existing(user_id) else {
            return false;
        };
        let mut state = entry.state();
        state.changes += 1;
        self.now() - state.read_at < WATCHED_MS
    }

    /// Every view is outdated (events about changes were missed).
    pub fn changed_all(&self) {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for entry in entries.values() {
            entry.state().changes += 1;
        }
    }

    /// Fetches the user's view of `account` now (one fetch at a time per user).
    pub async fn refresh<Fut>(
        &self,
        user_id: &str,
        account: &str,
        fetch: Fut,
    ) -> Result<Arc<AccountSummary>, AppError>
    where
        Fut: Future<Output = Result<AccountSummary, AppError>>,
    {
        let entry = self.entry(user_id);
        let _one = entry.fetching.lock().await;
        entry.fetch(account, fetch, &*self.clock).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

    struct Hand(AtomicI64);
    impl Clock for Hand {
        fn now(&self) -> app::domain::time::Timestamp {
            app::domain::time::Timestamp::from_millis(self.0.load(Ordering::SeqCst))
        }
    }

    fn summary(cash: i64) -> AccountSummary {
        AccountSummary {
            equity: cash.into(),
            cash: cash.into(),
            buying_power: cash.into(),
            portfolio_value: cash.into(),
            realized_pl: None,
            unrealized_pl: 0.into(),
            positions: vec![],
            recent_orders: vec![],
        }
    }

    /// A broker whose cash is `cash` and which counts its calls.
    fn broker(
        calls: &Arc<AtomicUsize>,
        cash: i64,
    ) -> impl FnOnce() -> std::pin::Pin<
        Box<dyn Future<Output = Result<AccountSummary, AppError>> + Send>,
    > + Send
    + 'static {
        let calls = calls.clone();
        move || {
            Box::pin(async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok(summary(cash))
            })
        }
    }

    #[tokio::test]
    async fn fresh_views_are_served_and_stale_ones_refreshed_behind() {
        let clock = Arc::new(Hand(AtomicI64::new(1_000_000)));
        let views = Arc::new(AccountViews::new(clock.clone()));
        let calls = Arc::new(AtomicUsize::new(0));
        // Ten readers at once share one fetch.
        let readers: Vec<_> = (0..10)
            .map(|_| {
                let (views, calls) = (views.clone(), calls.clone());
                tokio::spawn(async move { views.read("u", "demo", broker(&calls, 100)).await })
            })
            .collect();
        for r in readers {
            assert_eq!(r.await.unwrap().unwrap().cash, 100.into());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Fresh: no call.
        let v = views.read("u", "demo", broker(&calls, 200)).await.unwrap();
        assert_eq!((v.cash, calls.load(Ordering::SeqCst)), (100.into(), 1));
        // Stale: the old view now, the new one after the refresh behind it.
        clock.0.fetch_add(FRESH_MS, Ordering::SeqCst);
        let v = views.read("u", "demo", broker(&calls, 200)).await.unwrap();
        assert_eq!(v.cash, 100.into());
        for _ in 0..100 {
            if calls.load(Ordering::SeqCst) == 2 && !views.entry("u").state().refreshing {
                break;
            }
            tokio::task::yield_now().await;
        }
        let v = views.read("u", "demo", broker(&calls, 300)).await.unwrap();
        assert_eq!((v.cash, calls.load(Ordering::SeqCst)), (200.into(), 2));
        // Too old to show: the reader waits for the broker.
        clock.0.fetch_add(SERVE_STALE_MS, Ordering::SeqCst);
        let v = views.read("u", "demo", broker(&calls, 300)).await.unwrap();
        assert_eq!((v.cash, calls.load(Ordering::SeqCst)), (300.into(), 3));
        // Another account: never the old account's view.
        let v = views.read("u", "paper:x", broker(&calls, 7)).await.unwrap();
        assert_eq!(v.cash, 7.into());
    }

    #[tokio::test]
    async fn changes_refresh_watched_views_and_mark_the_others() {
        let clock = Arc::new(Hand(AtomicI64::new(1_000_000)));
        let views = AccountViews::new(clock.clone());
        let calls = Arc::new(AtomicUsize::new(0));
        assert!(!views.changed("nobody"), "no view, nothing to refresh");
        views.read("u", "demo", broker(&calls, 100)).await.unwrap();
        assert!(views.changed("u"), "read just now: refresh it");
        views
            .refresh("u", "demo", broker(&calls, 150)())
            .await
            .unwrap();
        let v = views.read("u", "demo", broker(&calls, 0)).await.unwrap();
        assert_eq!((v.cash, calls.load(Ordering::SeqCst)), (150.into(), 2));
        // Not read for a long time: only marked, and the next read waits for the broker
        // (a view from before a fill is never served).
        clock.0.fetch_add(WATCHED_MS, Ordering::SeqCst);
        assert!(!views.changed("u"));
        clock.0.fetch_sub(WATCHED_MS - 1, Ordering::SeqCst);
        let v = views.read("u", "demo", broker(&calls, 175)).await.unwrap();
        assert_eq!((v.cash, calls.load(Ordering::SeqCst)), (175.into(), 3));
    }

    #[tokio::test]
    async fn a_change_during_a_fetch_outdates_its_result() {
        let clock = Arc::new(Hand(AtomicI64::new(1_000_000)));
        let views = Arc::new(AccountViews::new(clock.clone()));
        let calls = Arc::new(AtomicUsize::new(0));
        let (started, start) = tokio::sync::oneshot::channel::<()>();
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let views = views.clone();
            tokio::spawn(async move {
                views
                    .read("u", "demo", move || async move {
                        let _ = started.send(());
                        let _ = finished.await;
                        Ok(summary(1))
                    })
                    .await
            })
        };
        start.await.unwrap();
        views.changed("u");
        finish.send(()).unwrap();
        assert_eq!(slow.await.unwrap().unwrap().cash, 1.into());
        let v = views.read("u", "demo", broker(&calls, 2)).await.unwrap();
        assert_eq!(
            v.cash,
            2.into(),
            "fetched again: the first answer may predate the fill"
        );
    }
}
