//! `quantshift bench scheduler`: the purchase engine's throughput, end to end. N users
//! with L-leg plans all due at one instant, the real application (its scheduler worker
//! pool, its database, the Alpaca client over HTTP) against a simulated broker of its own
//! with the market open; the clock jumps to the instant and the run ends when every leg
//! is recorded. Reports orders per second from due to recorded and each slot's delay.

use crate::config::Config;
use crate::db::Db;
use crate::dca::PlanRow;
use crate::startup::Application;
use anyhow::Context as _;
use app::api::dca::{Plan, PlanStatus, PlanStrategy};
use app::domain::account::{Email, Role};
use app::domain::ids::PlanId;
use app::domain::market::Symbol;
use app::domain::schedule::Schedule;
use app::domain::strategy::dca::Leg;
use app::domain::time::{Clock, Timestamp};
use rust_decimal::Decimal;
use sim::{SimConfig, Simulator};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct SchedulerBenchArgs {
    /// Users, each with one plan.
    #[arg(long, default_value_t = 1000)]
    pub users: u32,
    /// Legs (symbols) per plan.
    #[arg(long, default_value_t = 2)]
    pub legs: u32,
    /// Database to run on (an empty one) [default: a new SQLite file in a temporary directory].
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Scheduler workers per instance.
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Application instances sharing the database and the simulated broker (as several
    /// processes would; PostgreSQL is their deployment).
    #[arg(long, default_value_t = 1)]
    pub instances: u32,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
}

/// Monday 30 November 2026, 10:00 New York: the market is open.
const DUE: &str = "2026-11-30T15:00:00Z";

/// A clock the benchmark sets.
#[derive(Debug)]
struct SetClock(AtomicI64);

impl Clock for SetClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// The `p`th percentile (0–100) of sorted `values`, by nearest rank.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * p).div_ceil(100).max(1) - 1]
}

pub async fn scheduler(args: &SchedulerBenchArgs) -> anyhow::Result<String> {
    anyhow::ensure!(
        (1..=10).contains(&args.legs),
        "--legs must be between 1 and 10"
    );
    anyhow::ensure!(
        (1..=8).contains(&args.instances),
        "--instances must be between 1 and 8"
    );
    let due: jiff::Timestamp = DUE.parse()?;
    let sim = Simulator::new(SimConfig {
        auto_accounts: true,
        start_time: Some(due),
        speed: 0.0,
        ..SimConfig::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(sim::serve(listener, sim, std::future::pending()));

    let data_dir = std::env::temp_dir().join(format!("qs-bench-{}", uuid::Uuid::new_v4().simple()));
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.clone(),
        database_url: args.database.clone(),
        demo_broker: true,
        demo_broker_url: Some(sim_url),
        scheduler_workers: args.workers,
        scheduler_poll_ms: 20,
        ..Config::default()
    };
    let before = due.as_millisecond() - 60_000;
    let clock = Arc::new(SetClock(AtomicI64::new(before)));
    let mut applications = Vec::new();
    for _ in 0..args.instances {
        applications.push(Application::build_with_clock(&config, clock.clone()).await?);
    }
    let db = Db::connect(&config.database_url()).await?;
    let backend = format!("{:?}", db.backend()).to_lowercase();

    let symbols: Vec<Symbol> = [
        "SPY", "QQQ", "VTI", "VOO", "IWM", "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL",
    ]
    .iter()
    .take(args.legs as usize)
    .map(|s| Symbol::parse(s).map_err(anyhow::Error::msg))
    .collect::<anyhow::Result<_>>()?;
    let schedule: Schedule = serde_json::from_value(serde_json::json!({"frequency": "weekly",
        "interval": 1, "weekday": "mon", "day_of_month": null, "time": "10:00",
        "timezone": "America/New_York"}))?;
    let created = Timestamp::from_millis(before);
    for i in 0..args.users {
        let email = Email::parse(&format!("bench{i}@example.com")).map_err(anyhow::Error::msg)?;
        let user = db
            .insert_user(&email, "not a password hash", Role::Subscriber, created)
            .await?;
        let plan = Plan {
            id: Some(PlanId::parse(&uuid::Uuid::new_v4().to_string()).map_err(anyhow::Error::msg)?),
            name: format!("bench {i}"),
            strategy: PlanStrategy::Pure,
            legs: symbols
                .iter()
                .map(|symbol| Leg {
                    symbol: symbol.clone(),
                    amount: Decimal::from(10),
                })
                .collect(),
            schedule: schedule.clone(),
            queue_outside_hours: false,
            status: PlanStatus::Active,
            next_run_at: Some(due),
            created_at: Some(jiff::Timestamp::from_millisecond(before)?),
            updated_at: Some(jiff::Timestamp::from_millisecond(before)?),
            paused_reason: None,
        };
        db.insert_plan(&PlanRow::from_plan(&user.id, &plan)?)
            .await?;
    }

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let servers: Vec<_> = applications
        .into_iter()
        .map(|application| {
            let mut stopped = stopped.clone();
            tokio::spawn(application.run_until(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }))
        })
        .collect();
    let expected = i64::from(args.users) * i64::from(args.legs);
    let started = Instant::now();
    clock
        .0
        .store(due.as_millisecond() + 1_000, Ordering::SeqCst);
    let mut delays = Vec::with_capacity(args.users as usize);
    // Only the slots are counted while it runs (an indexed count, light beside the work
    // measured); the purchases once at the end.
    let slots = i64::from(args.users);
    while (delays.len() as i64) < slots {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(args.timeout_secs),
            "only {} of {slots} slots finished within {} s",
            delays.len(),
            args.timeout_secs
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        let done: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM slots WHERE state IN ('done', 'failed', 'missed')",
        )
        .fetch_one(db.pool())
        .await
        .context("failed to count the finished slots")?;
        let elapsed = started.elapsed();
        while (delays.len() as i64) < done {
            delays.push(elapsed);
        }
    }
    let total = started.elapsed();
    let (recorded, failed): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'filled' THEN 0 ELSE 1 END), 0) FROM purchases",
    )
    .fetch_one(db.pool())
    .await?;
    anyhow::ensure!(
        recorded == expected,
        "{recorded} of {expected} orders were recorded"
    );
    let _ = stop.send(true);
    for server in servers {
        server.await??;
    }
    db.close().await;
    let _ = std::fs::remove_dir_all(&data_dir);

    delays.sort();
    Ok(format!(
        "scheduler benchmark: {users} users x {legs} legs on {backend}, {instances} instance(s) x {workers} workers\n\
         orders recorded: {expected} ({failed} not bought) in {secs:.2} s = {rate:.0} orders/s\n\
         slot delay from due: p50 {p50:.2} s, p99 {p99:.2} s, max {max:.2} s\n",
        users = args.users,
        legs = args.legs,
        workers = args.workers,
        instances = args.instances,
        secs = total.as_secs_f64(),
        rate = expected as f64 / total.as_secs_f64(),
        p50 = percentile(&delays, 50).as_secs_f64(),
        p99 = percentile(&delays, 99).as_secs_f64(),
        max = delays.last().copied().unwrap_or_default().as_secs_f64(),
    ))
}

#[cfg(test)]
mod tests {
    use super::percentile;
    use std::time::Duration;

    #[test]
    fn percentiles_of_sorted_delays() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_secs).collect();
        assert_eq!(percentile(&values, 50), Duration::from_secs(50));
        assert_eq!(percentile(&values, 99), Duration::from_secs(99));
        assert_eq!(percentile(&values, 0), Duration::from_secs(1));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
    }
}
