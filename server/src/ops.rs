//! Operations: what the admin health page (`/admin/health`, `GET /api/admin/health`) and
//! the metrics (`/metrics`) report.
//!
//! Each instance writes a heartbeat row every [`BEAT_EVERY`] (host, version, workers and
//! how many purchases it is running), and probes the brokers its users use (simulated,
//! paper, live) and Stripe (with billing on) every `probe_every`: a GET without
//! credentials, where any answer below 500 means "reachable". The report reads the rest
//! from the database when asked, and grades every figure against the thresholds below,
//! so the page, the JSON and an alerting rule agree on what is amber and what is red.

use crate::broker::rate_limit::RateLimiters;
use crate::db::Db;
use crate::db::ops::InstanceRow;
use crate::metrics::{DbFigures, Metrics};
use app::api::admin::{
    HealthCount, HealthInstance, HealthKey, HealthLevel, HealthMail, HealthProbe, HealthReport,
    HealthTile,
};
use app::domain::time::Clock;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often each instance writes its heartbeat.
pub const BEAT_EVERY: Duration = Duration::from_secs(10);
/// An instance silent for this long is shown as stale; after ten minutes its row is deleted
/// (it stopped without saying so, or lost the database: a restart beats under a new id).
const STALE_AFTER_MS: i64 = 3 * 10_000;
const FORGET_AFTER_MS: i64 = 10 * 60_000;

/// The thresholds, (amber from, red from).
const LAG_SECONDS: (u64, u64) = (60, 300);
const BUSY_PERCENT: (i64, i64) = (80, 100);
const BACKLOG_AGE_SECONDS: (u64, u64) = (3_600, 86_400);
const FAILED_24H: (i64, i64) = (1, 25);
const DB_LATENCY_MS: (u64, u64) = (100, 1_000);
const BROKER_LATENCY_MS: u64 = 1_000;
/// A key with less than this share of its minute's allowance left.
const HEADROOM_PERCENT: (u32, u32) = (20, 5);
const ERRORS_PER_MINUTE: (u64, u64) = (1, 10);
/// E-mails given up on in a day, and how long the oldest may wait (a retry backs off to
/// 30 minutes, so waiting longer means the server keeps refusing).
const MAIL_FAILED_24H: (i64, i64) = (1, 10);
const MAIL_WAIT_SECONDS: (u64, u64) = (15 * 60, 60 * 60);

/// Level of `value` against (amber, red) thresholds, higher is worse.
fn grade<T: PartialOrd>(value: T, (amber, red): (T, T)) -> HealthLevel {
    if value >= red {
        HealthLevel::Critical
    } else if value >= amber {
        HealthLevel::Warn
    } else {
        HealthLevel::Ok
    }
}

/// What this instance probes and where.
#[derive(Clone, Debug)]
pub struct OpsSettings {
    pub probe_every: Duration,
    pub probe_timeout: Duration,
    /// The simulated broker (demo mode).
    pub simulated_url: Option<String>,
    pub paper_url: String,
    pub live_url: String,
    /// Stripe's API base, when billing is on.
    pub stripe_url: Option<String>,
    /// Scheduler workers in this instance.
    pub workers: u32,
}

/// How busy this instance's scheduler is: (purchases running now, at most at once).
pub type Load = Arc<dyn Fn() -> (i64, i64) + Send + Sync>;

pub struct OpsService {
    db: Db,
    /// The market's clock (slots and purchases are stamped with it).
    market: Arc<dyn Clock>,
    /// Real time: heartbeats, probes.
    wall: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    limiters: Arc<RateLimiters>,
    settings: OpsSettings,
    instance: InstanceRow,
    started: std::time::Instant,
    load: Mutex<Option<Load>>,
    probes: Mutex<BTreeMap<&'static str, HealthProbe>>,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn seconds_between(earlier: i64, later: i64) -> u64 {
    u64::try_from((later - earlier).max(0) / 1000).unwrap_or(0)
}

fn duration_words(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3_600 => format!("{} min", seconds / 60),
        3_600..86_400 => format!("{} h", seconds / 3_600),
        _ => format!("{} d", seconds / 86_400),
    }
}

fn counts(rows: Vec<(String, i64)>) -> Vec<HealthCount> {
    rows.into_iter()
        .map(|(name, count)| HealthCount { name, count })
        .collect()
}

const TARGETS: [&str; 4] = ["simulated", "paper", "live", "stripe"];

impl OpsService {
    pub fn new(
        db: Db,
        market: Arc<dyn Clock>,
        wall: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        limiters: Arc<RateLimiters>,
        settings: OpsSettings,
    ) -> Self {
        let now = wall.now().millis();
        let instance = InstanceRow {
            id: uuid::Uuid::new_v4().to_string(),
            host: host_name(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: now,
            last_beat_at: now,
            workers: i64::from(settings.workers),
            busy: 0,
            capacity: 0,
        };
        Self {
            db,
            market,
            wall,
            metrics,
            limiters,
            settings,
            instance,
            started: std::time::Instant::now(),
            load: Mutex::new(None),
            probes: Mutex::new(BTreeMap::new()),
        }
    }

    /// Where the heartbeat reads how busy the scheduler is.
    pub fn watch_load(&self, load: Load) {
        *self.load.lock().unwrap_or_else(|e| e.into_inner()) = Some(load);
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Writes this instance's heartbeat and forgets instances gone for a day.
    pub async fn beat(&self) -> anyhow::Result<()> {
        let now = self.wall.now().millis();
        let (busy, capacity) = self
            .load
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or((0, 0), |load| load());
        let row = InstanceRow {
            last_beat_at: now,
            busy,
            capacity,
            ..self.instance.clone()
        };
        self.db.beat(&row).await?;
        self.db.forget_instances(now - FORGET_AFTER_MS).await?;
        Ok(())
    }

    /// Probes every broker environment in use, and Stripe with billing on, at once.
    pub async fn probe(&self) {
        futures_util::future::join_all(TARGETS.into_iter().map(|target| self.probe_one(target)))
            .await;
    }

    async fn probe_one(&self, target: &'static str) {
        let (url, in_use) = match target {
            "simulated" => (self.settings.simulated_url.clone(), true),
            "stripe" => (self.settings.stripe_url.clone(), true),
            environment => {
                let url = if environment == "live" {
                    &self.settings.live_url
                } else {
                    &self.settings.paper_url
                };
                let users = self
                    .db
                    .broker_connections_in(environment)
                    .await
                    .unwrap_or(0);
                (Some(url.clone()), users > 0)
            }
        };
        let Some(url) = url else { return };
        let mut result = HealthProbe {
            target: target.to_owned(),
            in_use,
            reachable: None,
            status: None,
            latency_ms: None,
            checked_at: None,
            error: None,
        };
        if in_use {
            let url = if target == "stripe" {
                format!("{}/v1/balance", url.trim_end_matches('/'))
            } else {
                format!("{}/v2/clock", url.trim_end_matches('/'))
            };
            let answer = crate::broker::alpaca::probe(&url, self.settings.probe_timeout).await;
            result.checked_at = Some(self.wall.now().millis());
            match answer {
                Ok((status, took)) => {
                    result.status = Some(status);
                    result.latency_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
                    result.reachable = Some(status < 500);
                    if status >= 500 {
                        result.error = Some(format!("answered HTTP {status}"));
                    }
                }
                Err(message) => {
                    result.reachable = Some(false);
                    result.error = Some(message);
                }
            }
        }
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(target, result);
    }

    /// Beats and probes until `shutdown`, then removes this instance's row.
    pub fn spawn(
        self: &Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        // The probes in a task of their own: a slow broker never delays a heartbeat.
        let prober = {
            let me = self.clone();
            tokio::spawn(async move {
                let mut probe = tokio::time::interval(me.settings.probe_every);
                probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    probe.tick().await;
                    me.probe().await;
                }
            })
        };
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(BEAT_EVERY);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = beat.tick() => {
                        if let Err(err) = me.beat().await {
                            tracing::warn!(error = %format!("{err:#}"), "the heartbeat failed");
                        }
                    }
                    _ = shutdown.changed() => break,
                }
                if *shutdown.borrow() {
                    break;
                }
            }
            prober.abort();
            let _ = me.db.remove_instance(&me.instance.id).await;
        })
    }

    /// The database's figures for `/metrics`.
    pub async fn figures(&self) -> anyhow::Result<DbFigures> {
        let now = self.market.now().millis();
        let oldest_due = self.db.oldest_due_slot(now).await?;
        let backlog = self.db.reconcile_backlog().await?;
        let (pool_size, pool_idle, pool_max) = self.db.pool_usage();
        Ok(DbFigures {
            slots_by_state: self.db.slot_counts(0).await?,
            purchases_by_status: self.db.purchase_counts().await?,
            scheduler_lag_seconds: oldest_due.map_or(0.0, |due| (now - due).max(0) as f64 / 1000.0),
            reconcile_backlog: backlog.open,
            pool_size,
            pool_idle,
            pool_max,
        })
    }

    /// The health report, every figure graded.
    pub async fn report(&self) -> anyhow::Result<HealthReport> {
        let now = self.market.now().millis();
        let wall_now = self.wall.now().millis();
        let database_latency_ms = self
            .db
            .ping()
            .await
            .ok()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let lag = self
            .db
            .oldest_due_slot(now)
            .await?
            .map_or(0, |due| seconds_between(due, now));
        let slots_last_hour = counts(self.db.slot_counts(now - 3_600_000).await?);
        let slots_last_day = counts(self.db.slot_counts(now - 86_400_000).await?);
        let instances: Vec<HealthInstance> = self
            .db
            .instances()
            .await?
            .into_iter()
            .map(|row| HealthInstance {
                stale: row.last_beat_at < wall_now - STALE_AFTER_MS,
                id: row.id,
                host: row.host,
                version: row.version,
                started_at: row.started_at,
                last_beat_at: row.last_beat_at,
                workers: row.workers,
                busy: row.busy,
                capacity: row.capacity,
            })
            .collect();
        let backlog = self.db.reconcile_backlog().await?;
        let reconcile_oldest_seconds = backlog.oldest.map(|at| seconds_between(at, now));
        let failures = self.db.recent_failures(now - 86_400_000, 5).await?;
        let totals = self.db.failure_counts(now - 86_400_000).await?;
        let total = |status: &str| {
            totals
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n)
        };
        let (failed_24h, missed_24h) = (total("failed"), total("missed"));
        let top_reasons = failures
            .iter()
            .take(5)
            .map(|(status, reason, count)| HealthCount {
                name: if reason.is_empty() {
                    status.clone()
                } else {
                    format!("{status}: {reason}")
                },
                count: *count,
            })
            .collect();
        let probes = self
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let brokers: Vec<HealthProbe> = ["simulated", "paper", "live"]
            .into_iter()
            .filter_map(|t| probes.get(t).cloned())
            .collect();
        let stripe = probes.get("stripe").cloned();
        let rate_limits: Vec<HealthKey> = self
            .limiters
            .busiest(5)
            .into_iter()
            .map(|(key, available, per_minute)| HealthKey {
                key: format!(
                    "…{}",
                    key.chars()
                        .rev()
                        .take(4)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<String>()
                ),
                available,
                per_minute,
            })
            .collect();
        let (errors_last_minute, errors_last_5_minutes) = self.metrics.server_errors();
        // The outbox runs on real time.
        let outbox = self.db.outbox_figures(wall_now).await?;
        let email = HealthMail {
            pending: outbox.pending,
            oldest_pending_seconds: u64::try_from(outbox.oldest_pending_ms / 1_000).unwrap_or(0),
            sent_24h: outbox.sent_24h,
            failed_24h: outbox.failed_24h,
            last_error: self
                .db
                .recent_mail_failures(wall_now, 1)
                .await?
                .into_iter()
                .next(),
        };

        let mut report = HealthReport {
            level: HealthLevel::Ok,
            tiles: Vec::new(),
            version: self.instance.version.clone(),
            uptime_seconds: self.started.elapsed().as_secs(),
            instance: self.instance.id.clone(),
            generated_at: wall_now,
            scheduler_lag_seconds: lag,
            slots_last_hour,
            slots_last_day,
            instances,
            reconcile_open: backlog.open,
            reconcile_oldest_seconds,
            failed_24h,
            missed_24h,
            top_reasons,
            database_latency_ms,
            brokers,
            stripe,
            rate_limits,
            errors_last_minute,
            errors_last_5_minutes,
            websockets: self.metrics.open_sockets(),
            email,
        };
        report.tiles = tiles(&report);
        report.level = report
            .tiles
            .iter()
            .map(|t| t.level)
            .max()
            .unwrap_or(HealthLevel::Ok);
        Ok(report)
    }
}

fn tile(key: &str, title: &str, level: HealthLevel, value: String, detail: String) -> HealthTile {
    HealthTile {
        key: key.to_owned(),
        title: title.to_owned(),
        level,
        value,
        detail,
    }
}

fn probe_tile(probe: &HealthProbe, key: &str, title: &str) -> HealthTile {
    let (level, value) = match (probe.in_use, probe.reachable, probe.latency_ms) {
        (false, _, _) => (HealthLevel::Ok, "not in use".to_owned()),
        (true, None, _) => (HealthLevel::Ok, "not checked yet".to_owned()),
        (true, Some(false), _) => (HealthLevel::Critical, "unreachable".to_owned()),
        (true, Some(true), Some(ms)) if ms >= BROKER_LATENCY_MS => {
            (HealthLevel::Warn, format!("slow: {ms} ms"))
        }
        (true, Some(true), ms) => (HealthLevel::Ok, format!("up: {} ms", ms.unwrap_or(0))),
    };
    let detail = match &probe.error {
        Some(error) => format!("{error}. Red when it does not answer or answers 5xx."),
        None => format!(
            "Answer time of a request without keys. Amber from {BROKER_LATENCY_MS} ms, red when it does not answer."
        ),
    };
    tile(key, title, level, value, detail)
}

/// The report's figures, graded.
fn tiles(report: &HealthReport) -> Vec<HealthTile> {
    let mut tiles = Vec::new();
    tiles.push(tile(
        "scheduler_lag",
        "Scheduler lag",
        grade(report.scheduler_lag_seconds, LAG_SECONDS),
        duration_words(report.scheduler_lag_seconds),
        format!(
            "How long the oldest due purchase has waited for a worker. Amber from {} s, red from {} s.",
            LAG_SECONDS.0, LAG_SECONDS.1
        ),
    ));
    let live: Vec<&HealthInstance> = report.instances.iter().filter(|i| !i.stale).collect();
    let busy: i64 = live.iter().map(|i| i.busy).sum();
    let capacity: i64 = live.iter().map(|i| i.capacity).sum();
    let workers: i64 = live.iter().map(|i| i.workers).sum();
    let stale = report.instances.len() - live.len();
    let percent = if capacity > 0 {
        busy * 100 / capacity
    } else {
        0
    };
    let mut level = grade(percent, BUSY_PERCENT);
    if workers == 0 || stale > 0 {
        level = level.max(HealthLevel::Warn);
    }
    tiles.push(tile(
        "workers",
        "Workers",
        level,
        format!("{busy} of {capacity} busy"),
        format!(
            "{} instance(s) up with {workers} worker(s){}. Amber from {}% busy, with no workers, or when an instance stopped beating; red at {}%.",
            live.len(),
            if stale > 0 {
                format!(", {stale} silent")
            } else {
                String::new()
            },
            BUSY_PERCENT.0,
            BUSY_PERCENT.1
        ),
    ));
    let age = report.reconcile_oldest_seconds.unwrap_or(0);
    tiles.push(tile(
        "reconcile",
        "Orders awaiting outcome",
        grade(age, BACKLOG_AGE_SECONDS),
        report.reconcile_open.to_string(),
        format!(
            "Orders sent whose fill is still being checked{}. Amber when one waits over an hour, red over a day.",
            report
                .reconcile_oldest_seconds
                .map(|s| format!("; the oldest for {}", duration_words(s)))
                .unwrap_or_default()
        ),
    ));
    let failed = report.failed_24h + report.missed_24h;
    tiles.push(tile(
        "purchases",
        "Failed or missed (24 h)",
        grade(failed, FAILED_24H),
        failed.to_string(),
        match report.top_reasons.first() {
            Some(top) => format!(
                "Most often: {} ({}). Amber from {}, red from {}.",
                top.name, top.count, FAILED_24H.0, FAILED_24H.1
            ),
            None => format!(
                "None. Amber from {}, red from {}.",
                FAILED_24H.0, FAILED_24H.1
            ),
        },
    ));
    tiles.push(match report.database_latency_ms {
        Some(ms) => tile(
            "database",
            "Database",
            grade(ms, DB_LATENCY_MS),
            format!("{ms} ms"),
            format!(
                "Round trip of a trivial query. Amber from {} ms, red from {} ms.",
                DB_LATENCY_MS.0, DB_LATENCY_MS.1
            ),
        ),
        None => tile(
            "database",
            "Database",
            HealthLevel::Critical,
            "unreachable".to_owned(),
            "A trivial query failed.".to_owned(),
        ),
    });
    for probe in &report.brokers {
        let title = match probe.target.as_str() {
            "simulated" => "Broker: simulated",
            "paper" => "Broker: paper",
            _ => "Broker: live",
        };
        tiles.push(probe_tile(
            probe,
            &format!("broker_{}", probe.target),
            title,
        ));
    }
    if let Some(stripe) = &report.stripe {
        tiles.push(probe_tile(stripe, "stripe", "Stripe"));
    }
    let tightest = report.rate_limits.first();
    let left_percent = tightest.map_or(100, |k| k.available * 100 / k.per_minute.max(1));
    let headroom = if left_percent < HEADROOM_PERCENT.1 {
        HealthLevel::Critical
    } else if left_percent < HEADROOM_PERCENT.0 {
        HealthLevel::Warn
    } else {
        HealthLevel::Ok
    };
    tiles.push(tile(
        "rate_limits",
        "Broker rate limits",
        headroom,
        tightest.map_or("no keys in use".to_owned(), |k| {
            format!("{} left of {} ({})", k.available, k.per_minute, k.key)
        }),
        format!(
            "Requests the busiest key may still send this minute. Amber under {}%, red under {}%.",
            HEADROOM_PERCENT.0, HEADROOM_PERCENT.1
        ),
    ));
    let mail = &report.email;
    let mail_level = grade(mail.failed_24h, MAIL_FAILED_24H)
        .max(grade(mail.oldest_pending_seconds, MAIL_WAIT_SECONDS));
    tiles.push(tile(
        "email",
        "E-mail",
        mail_level,
        format!("{} waiting, {} failed", mail.pending, mail.failed_24h),
        format!(
            "{} sent in 24 h; the oldest waiting for {}{}. Amber when one waits {} min or one was given up on in 24 h, red at {} min or {} given up.",
            mail.sent_24h,
            duration_words(mail.oldest_pending_seconds),
            mail.last_error
                .as_deref()
                .map(|e| format!("; last failure: {e}"))
                .unwrap_or_default(),
            MAIL_WAIT_SECONDS.0 / 60,
            MAIL_WAIT_SECONDS.1 / 60,
            MAIL_FAILED_24H.1
        ),
    ));
    tiles.push(tile(
        "errors",
        "Server errors",
        grade(report.errors_last_minute, ERRORS_PER_MINUTE),
        format!("{}/min", report.errors_last_minute),
        format!(
            "5xx answers of this instance in the last minute ({} in five). Amber from {}, red from {} a minute.",
            report.errors_last_5_minutes, ERRORS_PER_MINUTE.0, ERRORS_PER_MINUTE.1
        ),
    ));
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_graded_against_amber_and_red() {
        assert_eq!(grade(59_u64, LAG_SECONDS), HealthLevel::Ok);
        assert_eq!(grade(60_u64, LAG_SECONDS), HealthLevel::Warn);
        assert_eq!(grade(300_u64, LAG_SECONDS), HealthLevel::Critical);
        assert_eq!(grade(0_i64, FAILED_24H), HealthLevel::Ok);
        assert_eq!(grade(1_i64, FAILED_24H), HealthLevel::Warn);
    }

    #[test]
    fn durations_read_in_their_largest_unit() {
        assert_eq!(duration_words(5), "5 s");
        assert_eq!(duration_words(125), "2 min");
        assert_eq!(duration_words(7_300), "2 h");
        assert_eq!(duration_words(200_000), "2 d");
    }

    #[test]
    fn an_unreachable_broker_in_use_is_red_and_one_not_in_use_is_not() {
        let mut probe = HealthProbe {
            target: "simulated".into(),
            in_use: true,
            reachable: Some(false),
            status: Some(500),
            latency_ms: Some(3),
            checked_at: Some(1),
            error: Some("answered HTTP 500".into()),
        };
        assert_eq!(probe_tile(&probe, "k", "t").level, HealthLevel::Critical);
        probe.reachable = Some(true);
        probe.latency_ms = Some(1_500);
        assert_eq!(probe_tile(&probe, "k", "t").level, HealthLevel::Warn);
        probe.in_use = false;
        assert_eq!(probe_tile(&probe, "k", "t").level, HealthLevel::Ok);
    }
}
