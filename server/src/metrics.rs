//! Prometheus metrics, exposed at `GET /metrics` (OpenMetrics text, with prometheus-client).
//!
//! Each [`Application`](crate::startup::Application) has its own registry (tests run many
//! servers in one process, and each must count only its own requests). Counters and
//! histograms are updated as things happen: HTTP requests by route template, method and
//! status; broker requests by endpoint; sign-in failures; open live sockets. The database's
//! state (slots by state, purchases by status, scheduler lag, the reconcile backlog) is
//! read when Prometheus scrapes, from the same snapshot the admin health page shows, so
//! every instance reports the same figures for the shared database.
//!
//! Every name starts with `quantshift_` and carries its unit; the README lists them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BrokerErrorLabels {
    endpoint: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: String,
}

/// The label of a request no route matched (so unknown paths cannot blow up the series).
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets from 1 ms to about 33 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The broker's share: cloned into every broker client.
#[derive(Clone, Debug)]
pub struct BrokerMetrics {
    duration: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    errors: Family<BrokerErrorLabels, Counter>,
}

impl BrokerMetrics {
    /// One request to `endpoint` took `seconds`; `error` names its failure's kind.
    pub fn record(&self, endpoint: &str, seconds: f64, error: Option<&str>) {
        self.duration
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_owned(),
            })
            .observe(seconds);
        if let Some(kind) = error {
            self.errors
                .get_or_create(&BrokerErrorLabels {
                    endpoint: endpoint.to_owned(),
                    kind: kind.to_owned(),
                })
                .inc();
        }
    }
}

/// What the database holds, read at scrape time (see [`crate::ops`]).
#[derive(Clone, Debug, Default)]
pub struct DbFigures {
    pub slots_by_state: Vec<(String, i64)>,
    pub purchases_by_status: Vec<(String, i64)>,
    /// Age of the oldest due work nobody has claimed, in seconds (0 when none).
    pub scheduler_lag_seconds: f64,
    pub reconcile_backlog: i64,
    pub pool_size: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
}

/// 5xx answers in each of the last few minutes, for the health page's error rate.
#[derive(Debug, Default)]
struct ErrorWindow {
    /// (minute since the epoch, answers) for the last [`ErrorWindow::MINUTES`] minutes.
    minutes: VecDeque<(u64, u64)>,
}

impl ErrorWindow {
    const MINUTES: u64 = 5;

    fn add(&mut self, minute: u64) {
        match self.minutes.back_mut() {
            Some((last, count)) if *last == minute => *count += 1,
            _ => self.minutes.push_back((minute, 1)),
        }
        while self
            .minutes
            .front()
            .is_some_and(|(m, _)| *m + Self::MINUTES <= minute)
        {
            self.minutes.pop_front();
        }
    }

    /// (answers in the last complete minute, answers in the last five minutes).
    fn rate(&self, minute: u64) -> (u64, u64) {
        let last = self
            .minutes
            .iter()
            .find(|(m, _)| *m + 1 == minute)
            .map_or(0, |(_, c)| *c);
        let recent = self
            .minutes
            .iter()
            .filter(|(m, _)| *m + Self::MINUTES > minute)
            .map(|(_, c)| c)
            .sum();
        (last, recent)
    }
}

/// The registry and every metric in it. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    broker: BrokerMetrics,
    sockets: Gauge,
    sign_in_failures: Counter,
    slots: Family<StateLabels, Gauge>,
    purchases: Family<StatusLabels, Gauge>,
    scheduler_lag: Gauge<f64, AtomicU64>,
    reconcile_backlog: Gauge,
    pool: Family<PoolLabels, Gauge>,
    errors: Mutex<ErrorWindow>,
    /// One scrape at a time: each clears and refills the database's gauges.
    rendering: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn minute_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("quantshift");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let request_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by route template and method",
            Unit::Seconds,
            request_duration.clone(),
        );
        let broker = BrokerMetrics {
            duration: Family::new_with_constructor(latency_histogram),
            errors: Family::default(),
        };
        registry.register_with_unit(
            "broker_request_duration",
            "Time one broker request took (each retry counts), by endpoint",
            Unit::Seconds,
            broker.duration.clone(),
        );
        registry.register(
            "broker_request_errors",
            "Broker requests that failed, by endpoint and kind (transient, rejected, unauthorized, not_found)",
            broker.errors.clone(),
        );
        let sockets = Gauge::default();
        registry.register(
            "websocket_connections",
            "Live websockets open on this instance",
            sockets.clone(),
        );
        let sign_in_failures = Counter::default();
        registry.register(
            "sign_in_failures",
            "Sign-ins refused for a wrong address or password on this instance",
            sign_in_failures.clone(),
        );
        let slots = Family::<StateLabels, Gauge>::default();
        registry.register(
            "slots",
            "Purchase slots in the database by state",
            slots.clone(),
        );
        let purchases = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "purchases",
            "Purchases in the database by status",
            purchases.clone(),
        );
        let scheduler_lag = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "scheduler_lag",
            "Age of the oldest due purchase nobody has started",
            Unit::Seconds,
            scheduler_lag.clone(),
        );
        let reconcile_backlog = Gauge::default();
        registry.register(
            "reconcile_backlog_orders",
            "Orders sent to a broker whose outcome is not known yet",
            reconcile_backlog.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections on this instance: in_use, idle and max",
            pool.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            broker,
            sockets,
            sign_in_failures,
            slots,
            purchases,
            scheduler_lag,
            reconcile_backlog,
            pool,
            errors: Mutex::new(ErrorWindow::default()),
            rendering: Mutex::new(()),
        }
    }

    pub fn broker(&self) -> BrokerMetrics {
        self.broker.clone()
    }

    /// One answered HTTP request.
    pub fn record_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status: status.to_string(),
            })
            .inc();
        self.request_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .observe(seconds);
        if status >= 500 {
            self.errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(minute_now());
        }
    }

    /// 5xx answers (in the last complete minute, in the last five minutes).
    pub fn server_errors(&self) -> (u64, u64) {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rate(minute_now())
    }

    pub fn sign_in_failed(&self) {
        self.sign_in_failures.inc();
    }

    /// Counts an open live socket until the guard drops.
    pub fn socket_opened(self: &Arc<Self>) -> SocketGuard {
        self.sockets.inc();
        SocketGuard(self.clone())
    }

    pub fn open_sockets(&self) -> i64 {
        self.sockets.get()
    }

    /// The exposition, with the database's figures as of now.
    pub fn render(&self, figures: &DbFigures) -> String {
        let _one_at_a_time = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
        self.slots.clear();
        for (state, count) in &figures.slots_by_state {
            self.slots
                .get_or_create(&StateLabels {
                    state: state.clone(),
                })
                .set(*count);
        }
        self.purchases.clear();
        for (status, count) in &figures.purchases_by_status {
            self.purchases
                .get_or_create(&StatusLabels {
                    status: status.clone(),
                })
                .set(*count);
        }
        self.scheduler_lag.set(figures.scheduler_lag_seconds);
        self.reconcile_backlog.set(figures.reconcile_backlog);
        for (state, value) in [
            (
                "in_use",
                figures.pool_size.saturating_sub(figures.pool_idle),
            ),
            ("idle", figures.pool_idle),
            ("max", figures.pool_max),
        ] {
            self.pool
                .get_or_create(&PoolLabels {
                    state: state.to_owned(),
                })
                .set(i64::from(value));
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Decrements the open-socket gauge when the socket ends.
pub struct SocketGuard(Arc<Metrics>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.sockets.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_template() {
        let metrics = Metrics::new();
        metrics.record_request("/api/dca/config/{id}", "GET", 200, 0.002);
        metrics.record_request("/api/dca/config/{id}", "GET", 200, 0.004);
        metrics.record_request(UNMATCHED, "GET", 404, 0.001);
        let text = metrics.render(&DbFigures::default());
        assert!(
            text.contains(
                r#"quantshift_http_requests_total{route="/api/dca/config/{id}",method="GET",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"quantshift_http_request_duration_seconds_count{route="/api/dca/config/{id}",method="GET"} 2"#
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn database_figures_replace_the_previous_scrape() {
        let metrics = Metrics::new();
        let mut figures = DbFigures {
            purchases_by_status: vec![("filled".into(), 3), ("failed".into(), 1)],
            ..DbFigures::default()
        };
        let first = metrics.render(&figures);
        assert!(
            first.contains(r#"quantshift_purchases{status="failed"} 1"#),
            "{first}"
        );
        figures.purchases_by_status = vec![("filled".into(), 4)];
        let second = metrics.render(&figures);
        assert!(
            second.contains(r#"quantshift_purchases{status="filled"} 4"#),
            "{second}"
        );
        assert!(!second.contains(r#"status="failed""#), "{second}");
    }

    #[test]
    fn the_error_window_counts_the_last_minute_and_the_last_five() {
        let mut window = ErrorWindow::default();
        for minute in [100, 101, 101, 103, 104, 104, 104] {
            window.add(minute);
        }
        assert_eq!(window.rate(105), (3, 6), "minutes 101..=104 in the window");
        assert_eq!(window.rate(104), (1, 7));
        assert_eq!(window.rate(200), (0, 0));
    }

    #[test]
    fn sockets_are_counted_while_open() {
        let metrics = Arc::new(Metrics::new());
        let first = metrics.socket_opened();
        let second = metrics.socket_opened();
        assert_eq!(metrics.open_sockets(), 2);
        drop(first);
        drop(second);
        assert_eq!(metrics.open_sockets(), 0);
    }
}
