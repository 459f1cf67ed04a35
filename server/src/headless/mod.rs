//! `quantshift bot --config bot.yaml`: one signal bot against one Alpaca account (or the
//! simulator), without the web app. It runs the web app's own engine on a SQLite state
//! file: the bot is a plan of a local operator account, evaluated by the same scheduler
//! (intent before send, one client order id per bot, day and side, fills reconciled from
//! the broker), so a restart resumes where it stopped and never sends an order twice.
//!
//! SIGTERM and SIGINT let the step in hand finish, then exit; SIGHUP reads the file
//! again (name, capital, evaluation time, paused, strategy; the broker and the state file
//! change only with a restart). `quantshift bot status` prints the bot's state.

pub mod config;

use crate::accounts::{AccountService, SignInPolicy};
use crate::broker::Broker as _;
use crate::broker::directory::{AlpacaSettings, BrokerDirectory};
use crate::cli::readable as app_error;
use crate::clock::SystemClock;
use crate::connections::ConnectionRow;
use crate::db::Db;
use crate::dca::DcaService;
use crate::dca::bot_state::BotState;
use crate::dca::portfolio::PortfolioService;
use crate::dca::scheduler::{Scheduler, SchedulerConfig, WallClock};
use crate::events::{Delivery, EventBus};
use anyhow::Context as _;
use app::api::AppError;
use app::api::dca::{Plan, PlanStatus};
use app::api::live::LiveEvent;
use app::api::ports::{Caller, PlanPort as _};
use app::domain::account::{Email, Role};
use app::domain::plan::PlanWire;
use app::domain::time::{Clock, Timestamp};
use config::{BotSettings, ClockSource};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use config::FileErrors;

/// The operator's account in the state file (it never signs in: there is no web app).
const OPERATOR_EMAIL: &str = "bot@headless.quantshift.app";

/// The broker's clock, read every poll (`broker.clock: broker`): the simulator's moved
/// clock for rehearsals. Between reads it stands still.
struct BrokerClock(Arc<AtomicI64>);

impl Clock for BrokerClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::Relaxed))
    }
}

/// The engine's parts on the state file.
struct Engine {
    db: Db,
    wall: Arc<dyn Clock>,
    clock: Arc<dyn Clock>,
    brokers: Arc<BrokerDirectory>,
    plans: Arc<DcaService>,
    portfolio: Arc<PortfolioService>,
    events: EventBus,
    user_id: String,
    caller: Caller,
    /// Reads the broker's clock (with `broker.clock: broker`).
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Engine {
    /// Opens the state file. To `run` the bot, the operator's account and its broker
    /// connection are written from the file first; `status` only reads them.
    async fn open(settings: &BotSettings, run: bool) -> anyhow::Result<Self> {
        let dir = settings
            .state
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        crate::private_fs::create_dir(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        let db = Db::connect(&settings.database_url())
            .await
            .with_context(|| format!("failed to open {}", settings.state.display()))?;
        // Only the bot itself migrates its state (never `status`, beside a running bot).
        if run {
            db.migrate().await?;
        } else {
            let ready = db.readiness().await;
            anyhow::ensure!(
                ready.reachable,
                "{} could not be read",
                settings.state.display()
            );
            anyhow::ensure!(
                ready.migrations_applied,
                "{} was written by an older QuantShift: start the bot once (`quantshift bot --config …`) \
                 to bring it up to date, then ask again",
                settings.state.display()
            );
            anyhow::ensure!(
                dir.join("secrets.key").exists(),
                "{} is missing: the keys in the state file cannot be opened",
                dir.join("secrets.key").display()
            );
        }
        let events = EventBus::start(db.clone()).await?;
        let broker = &settings.file.broker;
        let url = broker.trading_url();
        // The keys are sealed in the state file with a key file beside it (as the web app
        // keeps users' keys), so `bot status` can ask the broker too.
        let brokers = Arc::new(BrokerDirectory::new(
            db.clone(),
            crate::secrets::SecretBox::load_or_create(dir)?,
            None,
            AlpacaSettings {
                paper: url.clone(),
                live: url,
                data: broker.data_url(),
                request_timeout: Duration::from_secs(10),
                metrics: None,
            },
            Arc::new(crate::broker::rate_limit::RateLimiters::new(200)),
        ));
        let wall: Arc<dyn Clock> = Arc::new(SystemClock);
        let defaults = crate::config::Config::default();
        let accounts = Arc::new(AccountService::new(
            db.clone(),
            wall.clone(),
            SignInPolicy {
                max_failures: defaults.sign_in_max_failures,
                window_minutes: defaults.sign_in_window_minutes,
                sign_ups_per_hour: defaults.sign_ups_per_hour,
            },
            None,
            events.clone(),
        ));
        let email = Email::parse(OPERATOR_EMAIL).map_err(|m| anyhow::anyhow!(m))?;
        let existing = db.user_by_email(&email).await?.map(|user| user.id);
        let (user_id, client) = if run {
            let user_id = match existing {
                Some(id) => id,
                None => {
                    let password = format!("{}{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
                    accounts
                        .create_user(OPERATOR_EMAIL, &password, Role::Subscriber)
                        .await
                        .map_err(app_error)?
                        .id
                }
            };
            let client = connect(&db, &brokers, settings, &user_id, wall.now()).await?;
            (user_id, client)
        } else {
            let user_id = existing.context("the state file holds no bot yet")?;
            let client = brokers.broker_for(&user_id).await.map_err(app_error)?;
            (user_id, client)
        };
        let caller = crate::accounts::local_caller(&db, &user_id).await?;
        let (clock, ticker): (Arc<dyn Clock>, _) = match broker.clock {
            ClockSource::System => (wall.clone(), None),
            ClockSource::Broker => {
                let read = |clock: crate::broker::MarketClock| clock.now.as_millisecond();
                let now = Arc::new(AtomicI64::new(read(
                    client
                        .clock()
                        .await
                        .context("the broker's clock did not answer")?,
                )));
                let poll = Duration::from_millis(settings.file.poll_ms);
                let (shared, client) = (now.clone(), client.clone());
                let ticker = tokio::spawn(async move {
                    let mut failing = false;
                    loop {
                        tokio::time::sleep(poll).await;
                        match client.clock().await {
                            Ok(clock) => {
                                shared.store(read(clock), Ordering::Relaxed);
                                failing = false;
                            }
                            Err(err) if !failing => {
                                failing = true;
                                tracing::warn!(error = %err, "the broker's clock did not answer: the bot's time stands still until it does");
                            }
                            Err(_) => {}
                        }
                    }
                });
                (Arc::new(BrokerClock(now)) as Arc<dyn Clock>, Some(ticker))
            }
        };
        let plans = Arc::new(DcaService::new(
            db.clone(),
            events.clone(),
            clock.clone(),
            accounts.clone(),
            limits(),
            brokers.clone(),
        ));
        let portfolio = Arc::new(PortfolioService::new(
            db.clone(),
            clock.clone(),
            accounts,
            brokers.clone(),
            events.clone(),
        ));
        Ok(Self {
            db,
            wall,
            clock,
            brokers,
            plans,
            portfolio,
            events,
            user_id,
            caller,
            ticker,
        })
    }

    /// The bot's plan, if the state file has one.
    async fn bot(&self) -> anyhow::Result<Option<Plan>> {
        Ok(self
            .plans
            .list_plans(&self.caller)
            .await
            .map_err(app_error)?
            .into_iter()
            .find(Plan::is_bot))
    }

    /// Creates the bot's plan from the file, or brings it in line with the file.
    async fn apply(&self, settings: &BotSettings) -> anyhow::Result<Plan> {
        let existing = self.bot().await?;
        let file = &settings.file;
        let mut wire: PlanWire = serde_json::from_value(serde_json::json!({
            "name": settings.name,
            "mode": "discretionary",
            "legs": [{"symbol": settings.symbol.as_str(), "amount": file.capital.to_string()}],
            "schedule": {"frequency": "daily", "interval": 1, "time": file.evaluate_at,
                         "timezone": "America/New_York"},
        }))
        .context("the bot's plan")?;
        wire.bot = Some(file.strategy);
        wire.id = existing.as_ref().and_then(|p| p.id.clone());
        let plan = self
            .plans
            .save_plan(&self.caller, wire)
            .await
            .map_err(|err| in_file_terms(settings, err))?
            .into_plan();
        let wanted = if file.paused {
            PlanStatus::Paused
        } else {
            PlanStatus::Active
        };
        if plan.status == wanted {
            return Ok(plan);
        }
        let id = plan.id.clone().context("a saved plan has an id")?;
        self.plans
            .set_plan_status(&self.caller, &id, wanted)
            .await
            .map_err(app_error)
            .context("the settings were saved, but not `paused`")
    }

    async fn state(&self) -> anyhow::Result<Option<BotState>> {
        let Some(plan) = self.bot().await? else {
            return Ok(None);
        };
        let id = plan.id.context("a saved plan has an id")?;
        Ok(Some(
            self.portfolio
                .bot_state(&self.caller, id.as_str())
                .await
                .map_err(app_error)?,
        ))
    }

    async fn close(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        self.db.close().await;
    }
}

/// The web app's per-purchase cap is a platform rule; a headless bot's capital is up to
/// its operator (a billion dollars stands for no limit).
fn limits() -> crate::settings::LiveSettings {
    crate::settings::LiveSettings::with_plan_limits(app::domain::plan::PlanLimits {
        min_per_slot: rust_decimal::Decimal::ONE,
        max_per_slot: rust_decimal::Decimal::from(1_000_000_000),
    })
}

/// Checks the file's keys with the broker and records them as the operator's connection
/// (the account they open, as the web app records one).
async fn connect(
    db: &Db,
    brokers: &BrokerDirectory,
    settings: &BotSettings,
    user_id: &str,
    now: Timestamp,
) -> anyhow::Result<Arc<crate::broker::alpaca::AlpacaBroker>> {
    let environment = settings.file.broker.environment.as_str();
    let (key_id, secret) = settings.keys()?;
    let client = brokers
        .alpaca(environment, &key_id, &secret)
        .map_err(app_error)?;
    let account = client.account().await.with_context(|| {
        format!(
            "the broker at {} did not accept the keys",
            settings.file.broker.trading_url()
        )
    })?;
    let vault = brokers.vault();
    db.save_broker_connection(
        &ConnectionRow {
            user_id: user_id.to_owned(),
            environment: environment.to_owned(),
            key_id: vault.seal(&key_id, user_id)?,
            secret: vault.seal(&secret, user_id)?,
            key_last4: crate::connections::last4(&key_id),
            account_id: account.id,
            created_at: now.millis(),
            updated_at: now.millis(),
        },
        None,
    )
    .await?;
    Ok(client)
}

/// The plan's field errors under the file's keys (`legs[0].amount` is `capital`, …).
fn in_file_terms(settings: &BotSettings, err: AppError) -> anyhow::Error {
    if err.fields.is_empty() {
        return app_error(err);
    }
    let problems = err
        .fields
        .iter()
        .map(|(key, message)| {
            let key = if let Some(rest) = key.strip_prefix("bot.") {
                format!("strategy.{rest}")
            } else if key.contains("symbol") {
                "symbol".into()
            } else if key.contains("amount") || key == "legs" {
                "capital".into()
            } else if key.starts_with("schedule") {
                "evaluate_at".into()
            } else {
                key.clone()
            };
            (key, message.clone())
        })
        .collect();
    FileErrors {
        file: settings.path.clone(),
        problems,
    }
    .into()
}

/// `quantshift bot`: runs until SIGTERM or SIGINT.
pub async fn run(path: &Path) -> anyhow::Result<()> {
    let mut settings = BotSettings::load(path)?;
    crate::telemetry::init(settings.file.log_format);
    // Listening before anything else: a SIGHUP while starting must not end the process.
    let mut hangup = unix_signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut terminate = unix_signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = unix_signal(tokio::signal::unix::SignalKind::interrupt())?;
    // Stopped while starting: nothing runs.
    let started = async {
        let engine = Engine::open(&settings, true).await?;
        let plan = engine.apply(&settings).await?;
        anyhow::Ok((engine, plan))
    };
    let (engine, plan) = tokio::select! {
        started = started => started?,
        _ = terminate.recv() => return stopped_while_starting(),
        _ = interrupt.recv() => return stopped_while_starting(),
    };
    tracing::info!(
        bot = %plan.name,
        symbol = %settings.symbol,
        capital = %settings.file.capital,
        status = plan.status.as_str(),
        next_evaluation = ?plan.next_run_at,
        state = %settings.state.display(),
        "bot started"
    );
    let scheduler = Arc::new(Scheduler::new(
        engine.db.clone(),
        engine.clock.clone(),
        engine.brokers.clone(),
        engine.events.clone(),
        engine.portfolio.clone(),
        SchedulerConfig {
            workers: 1,
            poll: Duration::from_millis(settings.file.poll_ms),
            plan_limits: limits(),
            wall: Some(WallClock(engine.wall.clone())),
            ..Default::default()
        },
    ));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let workers = scheduler.spawn(stopping);
    // The log follows the workers' last step: it stops after them.
    let (stop_log, log_stopping) = tokio::sync::watch::channel(false);
    let log = tokio::spawn(log_events(
        engine.events.subscribe_user(&engine.user_id),
        log_stopping,
    ));
    loop {
        tokio::select! {
            _ = hangup.recv() => match reload(&engine, &settings, path).await {
                Ok(next) => settings = next,
                Err(err) => tracing::error!(
                    error = %format!("{err:#}"),
                    "the configuration was not reloaded; the bot goes on as it was"
                ),
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("stopping: the step in hand finishes first");
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    // What the last step published is in the channel already: the log drains it first.
    let _ = stop_log.send(true);
    let _ = log.await;
    engine.close().await;
    tracing::info!("bot stopped");
    Ok(())
}

fn stopped_while_starting() -> anyhow::Result<()> {
    tracing::info!("stopped while starting: nothing ran");
    Ok(())
}

fn unix_signal(
    kind: tokio::signal::unix::SignalKind,
) -> anyhow::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind).context("failed to listen for signals")
}

/// SIGHUP: the file again. Only what the running engine can change: the broker, the state
/// file, the log format and the poll interval need a restart.
async fn reload(
    engine: &Engine,
    running: &BotSettings,
    path: &Path,
) -> anyhow::Result<BotSettings> {
    let next = BotSettings::load(path)?;
    let fixed = [
        ("broker", next.file.broker != running.file.broker),
        ("state", next.state != running.state),
        (
            "log_format",
            next.file.log_format != running.file.log_format,
        ),
        ("poll_ms", next.file.poll_ms != running.file.poll_ms),
    ];
    if let Some((key, _)) = fixed.iter().find(|(_, changed)| *changed) {
        anyhow::bail!("`{key}` changes only with a restart");
    }
    let plan = engine.apply(&next).await?;
    tracing::info!(
        bot = %plan.name,
        capital = %next.file.capital,
        status = plan.status.as_str(),
        next_evaluation = ?plan.next_run_at,
        "configuration reloaded"
    );
    Ok(next)
}

/// The bot's orders and runs as structured log lines.
async fn log_events(
    mut events: tokio::sync::broadcast::Receiver<crate::events::UserEvent>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            biased;
            event = events.recv() => event,
            _ = stopping.changed() => return,
        };
        let event = match event {
            Ok(event) => event,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "log lines were dropped");
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let Delivery::Live(payload) = event.delivery else {
            continue;
        };
        match serde_json::from_value::<LiveEvent>(payload) {
            Ok(LiveEvent::Purchase { purchase: p }) => tracing::info!(
                side = match p.side {
                    app::domain::order::Side::Buy => "buy",
                    app::domain::order::Side::Sell => "sell",
                },
                symbol = %p.symbol,
                qty = p.qty.as_deref().unwrap_or(""),
                price = p.price.as_deref().unwrap_or(""),
                status = p.status.as_str(),
                client_order_id = %p.client_order_id,
                reason = p.reason.as_deref().unwrap_or(""),
                "order"
            ),
            Ok(LiveEvent::RunStatus(run)) => tracing::info!(
                state = run.state.as_str(),
                reason = run.reason.as_deref().unwrap_or(""),
                next_evaluation = ?run.next_run_at,
                "evaluation"
            ),
            _ => {}
        }
    }
}

/// `quantshift bot status`: the bot's state, as text or JSON.
pub async fn status(path: &Path, json: bool) -> anyhow::Result<String> {
    let settings = BotSettings::load(path)?;
    anyhow::ensure!(
        settings.state.exists(),
        "{} does not exist yet: the bot has not run",
        settings.state.display()
    );
    let engine = Engine::open(&settings, false).await?;
    let state = engine.state().await;
    engine.close().await;
    let state = state?.context("the state file holds no bot yet")?;
    Ok(if json {
        let mut text = serde_json::to_string_pretty(&status_json(&state))?;
        text.push('\n');
        text
    } else {
        status_text(&state)
    })
}

fn text(value: Option<rust_decimal::Decimal>) -> serde_json::Value {
    value.map_or(serde_json::Value::Null, |v| v.to_string().into())
}

fn status_json(state: &BotState) -> serde_json::Value {
    let plan = &state.plan;
    serde_json::json!({
        "id": plan.id.as_ref().map(|id| id.as_str().to_owned()),
        "name": plan.name,
        "symbol": plan.legs.first().map(|l| l.symbol.as_str().to_owned()),
        "capital": plan.legs.first().map(|l| l.amount.to_string()),
        "status": plan.status.as_str(),
        "settings": state.settings_line(),
        "qty": state.qty.to_string(),
        "entry": text(state.entry),
        "price": text(state.price),
        "stop": text(state.stop),
        "target": text(state.target),
        "realized": state.realized.to_string(),
        "cash": state.cash.to_string(),
        "informed": state.informed,
        "waiting": state.waiting,
        "next_evaluation": plan.next_run_at.map(|t| t.to_string()),
        "runs": state.runs.iter().map(|run| serde_json::json!({
            "at": run.at.to_string(),
            "state": run.state,
            "reason": run.reason,
        })).collect::<Vec<_>>(),
    })
}

fn status_text(state: &BotState) -> String {
    use std::fmt::Write as _;
    let plan = &state.plan;
    let ny = app::domain::calendar::new_york();
    let when = |t: jiff::Timestamp| ny.to_datetime(t).strftime("%a %Y-%m-%d %H:%M").to_string();
    let money = |v: Option<rust_decimal::Decimal>| v.map_or("—".to_owned(), |v| format!("${v}"));
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", plan.name, plan.status.as_str());
    let _ = writeln!(out, "  {}", state.settings_line());
    let symbol = plan.legs.first().map(|l| l.symbol.as_str()).unwrap_or("");
    if state.qty.is_zero() {
        let _ = writeln!(out, "  No {symbol} position.");
    } else {
        let _ = writeln!(
            out,
            "  Holding {} {symbol} at {} (entry); price {}, stop {}, target {}",
            state.qty,
            money(state.entry),
            money(state.price),
            money(state.stop),
            money(state.target)
        );
    }
    let _ = writeln!(
        out,
        "  Realized P&L ${}; capital not in the position ${}",
        state.realized, state.cash
    );
    if state.waiting > 0 {
        let _ = writeln!(
            out,
            "  {} order(s) waiting for the broker's answer.",
            state.waiting
        );
    }
    match plan.next_run_at {
        Some(at) if plan.status == PlanStatus::Active => {
            let _ = writeln!(out, "  Next evaluation: {} New York", when(at));
        }
        _ => {
            let _ = writeln!(out, "  No evaluation scheduled ({}).", plan.status.as_str());
        }
    }
    if !state.runs.is_empty() {
        let _ = writeln!(out, "  Last runs:");
        for run in &state.runs {
            let _ = writeln!(
                out,
                "    {}  {}  {}",
                when(run.at),
                run.state,
                run.reason.as_deref().unwrap_or("")
            );
        }
    }
    out
}
