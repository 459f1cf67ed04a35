//! Builds the application from a `Config`: database, migrations, services, router and
//! listener. `Application::build` binds (port 0 works) so tests can ask for `port()`.

use crate::accounts::{AccountService, SignInPolicy};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::db::Db;
use crate::db::sessions::DbSessionStore;
use crate::http::{AppState, SessionSettings, router};
use anyhow::Context as _;
use app::domain::account::Email;
use app::domain::time::Clock;
use leptos::config::{Env, LeptosOptions};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    demo_broker: Option<DemoBroker>,
    demo_broker_url: Option<Arc<str>>,
    router: axum::Router,
    /// How long clients may take to send request heads and to read responses.
    deadlines: crate::http::serve::Deadlines,
    /// Tells open live sockets the server is stopping.
    stop_sockets: tokio::sync::watch::Sender<bool>,
    db: Db,
    sessions: DbSessionStore,
    accounts: Arc<AccountService>,
    brokers: Arc<crate::broker::directory::BrokerDirectory>,
    portfolio: Arc<crate::dca::portfolio::PortfolioService>,
    events: crate::events::EventBus,
    scheduler: Option<Arc<crate::dca::scheduler::Scheduler>>,
    stripe_standin: Option<StripeStandin>,
    /// Heartbeats, probes, the health report and the metrics.
    ops: Arc<crate::ops::OpsService>,
    /// `metrics_listen`: `/metrics` without a token, on its own address.
    metrics_listener: Option<TcpListener>,
    /// Reads the platform settings again now and then (another instance may save them).
    settings: Arc<crate::settings::SettingsService>,
    /// The e-mail outbox's sender and the periodic notifications.
    mail: Arc<crate::mail::MailService>,
}

impl Application {
    /// Builds on the wall clock, or on the demo market's clock with `demo_start_time`.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_inner(config, None).await
    }

    pub async fn build_with_clock(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_inner(config, Some(clock)).await
    }

    async fn build_inner(config: &Config, clock: Option<Arc<dyn Clock>>) -> anyhow::Result<Self> {
        let demo_start = config
            .demo_start_time
            .as_deref()
            .map(str::parse::<jiff::Timestamp>)
            .transpose()
            .map_err(|e| anyhow::anyhow!("configuration key `demo_start_time`: {e}"))?;
        let demo_broker = if config.demo_broker && config.demo_broker_url.is_none() {
            Some(
                DemoBroker::start(
                    config.demo_broker_listen,
                    demo_start,
                    &config.data_dir,
                    config.broker_rate_limit_per_min,
                )
                .await?,
            )
        } else {
            None
        };
        // Accounts, sessions and sign-in limits live in real time even when the market runs
        // on the demo clock (moving the demo clock must not reset anyone's limits).
        let wall: Arc<dyn Clock> = clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
        let clock: Arc<dyn Clock> = match (clock, &demo_broker) {
            (Some(clock), _) => clock,
            (None, Some(demo)) if demo_start.is_some() => Arc::new(DemoClock(demo.sim.clone())),
            _ => Arc::new(SystemClock),
        };
        let db = Db::connect(&config.database_url()).await?;
        db.migrate().await?;

        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("failed to listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        // With port 0 the real port is known only now; the default origin must use it.
        let public_origin = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));

        let admin_email = config
            .admin_email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|m| anyhow::anyhow!("configuration key `admin_email`: {m}"))?;
        let events = crate::events::EventBus::start(db.clone()).await?;
        let metrics = Arc::new(crate::metrics::Metrics::new());
        // The settings admins change at run time, read before anything uses them.
        let live_settings = crate::settings::LiveSettings::new(config.tiers.clone());
        let broker_limiters = Arc::new(crate::broker::rate_limit::RateLimiters::new(
            config.broker_rate_limit_per_min,
        ));
        let demo_broker_url: Option<Arc<str>> = match (&config.demo_broker_url, &demo_broker) {
            (Some(url), _) if config.demo_broker => Some(url.trim_end_matches('/').into()),
            (_, Some(running)) => Some(running.url.as_str().into()),
            _ => None,
        };
        let vault = match &config.secrets_key {
            Some(key) => crate::secrets::SecretBox::from_base64(key)
                .map_err(|m| anyhow::anyhow!("configuration key `secrets_key` {m}"))?,
            None => crate::secrets::SecretBox::load_or_create(&config.data_dir)?,
        };
        let brokers = Arc::new(crate::broker::directory::BrokerDirectory::new(
            db.clone(),
            vault,
            demo_broker_url.clone(),
            crate::broker::directory::AlpacaSettings {
                paper: config.alpaca_paper_url.clone(),
                live: config.alpaca_live_url.clone(),
                data: config.alpaca_data_url.clone(),
                request_timeout: std::time::Duration::from_millis(config.broker_timeout_ms),
                metrics: Some(metrics.broker()),
            },
            broker_limiters.clone(),
        ));

        let mail = Arc::new(crate::mail::MailService::new(
            db.clone(),
            wall.clone(),
            brokers.vault().clone(),
            crate::mail::MailSettings {
                smtp_url: config.smtp_url.clone(),
                mail_from: config.mail_from.clone(),
                demo: config.demo_broker,
                origin: public_origin.clone(),
                poll: Duration::from_millis(config.scheduler_poll_ms.max(200)),
            },
            crate::mail::notify::Notifier::new(brokers.clone(), clock.clone()),
        ));
        let accounts = Arc::new(
            AccountService::new(
                db.clone(),
                wall.clone(),
                SignInPolicy {
                    max_failures: config.sign_in_max_failures,
                    window_minutes: config.sign_in_window_minutes,
                    sign_ups_per_hour: config.sign_ups_per_hour,
                },
                admin_email,
                events.clone(),
            )
            .with_metrics(metrics.clone())
            .with_settings(live_settings.clone())
            .with_mail(mail.clone()),
        );
        accounts.promote_configured_admin().await?;
        let settings = Arc::new(crate::settings::SettingsService::new(
            db.clone(),
            wall.clone(),
            accounts.clone(),
            live_settings.clone(),
        ));
        settings.refresh().await?;

        let leptos_options = LeptosOptions::builder()
            .output_name("quantshift")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .env(if cfg!(debug_assertions) {
                Env::DEV
            } else {
                Env::PROD
            })
            .build();
        let sessions = DbSessionStore::new(db.clone());
        db.set_audit_retention(config.audit_retention_days).await?;
        // The first clean-up pass, before anything is served.
        housekeeping_pass(&sessions, &accounts, &db).await;
        let plan_limits = live_settings.clone();
        let billing_tiers = config.billing.then(|| live_settings.clone());
        let plans = Arc::new(
            crate::dca::DcaService::new(
                db.clone(),
                events.clone(),
                clock.clone(),
                accounts.clone(),
                plan_limits.clone(),
                brokers.clone(),
            )
            .with_run_now_per_hour(config.run_now_per_hour)
            .with_tiers(billing_tiers.clone()),
        );
        let portfolio = Arc::new(crate::dca::portfolio::PortfolioService::new(
            db.clone(),
            clock.clone(),
            accounts.clone(),
            brokers.clone(),
            events.clone(),
        ));
        portfolio.watch_purchases();
        let scheduler = (config.scheduler_workers > 0).then(|| {
            crate::dca::scheduler::Scheduler::new(
                db.clone(),
                clock.clone(),
                brokers.clone(),
                events.clone(),
                portfolio.clone(),
                crate::dca::scheduler::SchedulerConfig {
                    workers: config.scheduler_workers as usize,
                    poll: Duration::from_millis(config.scheduler_poll_ms),
                    slot_budget: Duration::from_millis(config.scheduler_slot_budget_ms),
                    // Twice the budget: a live worker always finishes or hands back first.
                    lease: Duration::from_millis(config.scheduler_slot_budget_ms * 2),
                    grace: Duration::from_secs(u64::from(config.missed_grace_minutes) * 60),
                    plan_limits: plan_limits.clone(),
                    tiers: billing_tiers.clone(),
                    wall: Some(crate::dca::scheduler::WallClock(wall.clone())),
                    ..Default::default()
                },
            )
        });
        let stripe_standin = if config.stripe_standin() {
            // Webhooks go straight to this instance's listener, not through a proxy.
            let mut local = addr;
            if local.ip().is_unspecified() {
                local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            Some(start_stripe_standin(config, &format!("http://{local}"), &wall).await?)
        } else {
            None
        };
        let mut billing = crate::billing::BillingService::new(
            db.clone(),
            clock.clone(),
            accounts.clone(),
            config.billing,
            live_settings.clone(),
        );
        if config.billing {
            let (key, base, secret) = match &stripe_standin {
                Some(standin) => (
                    STANDIN_API_KEY.to_owned(),
                    format!("{}/", standin.standin.base_url()),
                    standin.webhook_secret.clone(),
                ),
                None => (
                    config.stripe_secret_key.clone().unwrap_or_default(),
                    config.stripe_api_base.clone(),
                    config.stripe_webhook_secret.clone().unwrap_or_default(),
                ),
            };
            billing = billing.with_stripe(crate::billing::StripeBilling {
                api: Arc::new(crate::billing::stripe::AsyncStripe::new(&key, &base)?),
                prices: config.stripe_prices(),
                webhook_secret: secret,
                return_origin: public_origin.clone(),
                events: events.clone(),
                wall: wall.clone(),
            });
        }
        let billing = Arc::new(billing);
        let connections = Arc::new(
            crate::connections::ConnectionService::new(
                db.clone(),
                clock.clone(),
                accounts.clone(),
                brokers.clone(),
                config.live_unlock_days,
            )
            .with_tiers(billing_tiers.clone()),
        );
        let ops = Arc::new(crate::ops::OpsService::new(
            db.clone(),
            clock.clone(),
            wall.clone(),
            metrics.clone(),
            broker_limiters.clone(),
            crate::ops::OpsSettings {
                probe_every: Duration::from_millis(config.health_probe_ms),
                probe_timeout: Duration::from_millis(config.broker_timeout_ms.min(5_000)),
                simulated_url: demo_broker_url.as_deref().map(str::to_owned),
                paper_url: config.alpaca_paper_url.clone(),
                live_url: config.alpaca_live_url.clone(),
                stripe_url: config.billing.then(|| match &stripe_standin {
                    Some(standin) => standin.standin.base_url().to_string(),
                    None => config.stripe_api_base.clone(),
                }),
                workers: config.scheduler_workers,
            },
        ));
        if let Some(scheduler) = &scheduler {
            let scheduler = scheduler.clone();
            ops.watch_load(Arc::new(move || scheduler.load()));
        }
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("failed to listen on {addr} (metrics_listen)"))?,
            ),
            None => None,
        };
        let admin = Arc::new(crate::admin::AdminService::new(
            db.clone(),
            clock.clone(),
            accounts.clone(),
            billing.clone(),
            connections.clone(),
            events.clone(),
            ops.clone(),
        ));
        let (stop_sockets, stopping) = tokio::sync::watch::channel(false);
        let state = AppState {
            stopping,
            leptos_options,
            db: db.clone(),
            accounts: accounts.clone(),
            ports: app::api::ports::Ports {
                accounts: accounts.clone(),
                billing: billing.clone(),
                admin,
                settings: settings.clone(),
                notes: Arc::new(crate::notes::NotesService::new(
                    db.clone(),
                    wall.clone(),
                    accounts.clone(),
                )),
                plans,
                portfolio: portfolio.clone(),
                connections,
            },

            events: events.clone(),
            public_origin: public_origin.into(),
            forwarded_hops: config
                .trust_forwarded_for
                .then_some(config.trusted_proxy_hops),
            broker_limiters,
            demo_broker_url: demo_broker_url.clone(),
            billing: config.billing,
            stripe_webhook: billing,
            ops: ops.clone(),
            metrics_token: config.metrics_token.as_deref().map(|t| t.trim().into()),
            mail: mail.clone(),
            demo: config.demo_broker,
            portfolio: portfolio.clone(),
            help: Arc::new(crate::http::help::HelpFacts {
                missed_grace_minutes: config.missed_grace_minutes,
                live_unlock_days: config.live_unlock_days,
                run_now_per_hour: config.run_now_per_hour,
                session_idle_days: config.session_idle_days,
                audit_retention_days: config.audit_retention_days,
                billing: config.billing,
                settings: live_settings.clone(),
            }),
        };
        let router = router(
            state,
            SessionSettings {
                store: sessions.clone(),
                secure: config.secure_cookies(),
                idle_days: config.session_idle_days,
            },
            crate::http::limits::RequestLimits {
                max_body_bytes: crate::http::limits::MAX_BODY_BYTES,
                client_timeout: Duration::from_millis(config.client_timeout_ms),
            },
        );
        Ok(Self {
            listener,
            demo_broker,
            demo_broker_url,

            router,
            deadlines: crate::http::serve::Deadlines {
                head: Duration::from_millis(config.keep_alive_timeout_ms),
                write_stall: Duration::from_millis(config.client_timeout_ms),
            },
            stop_sockets,
            db,
            sessions,
            accounts: accounts.clone(),
            brokers,
            portfolio,
            events: events.clone(),
            scheduler,
            stripe_standin,
            ops,
            metrics_listener,
            settings,
            mail,
        })
    }

    /// The in-process Stripe stand-in (billing on in demo mode without a Stripe key).
    pub fn stripe_standin(&self) -> Option<Arc<sim::stripe::StripeStandin>> {
        self.stripe_standin.as_ref().map(|s| s.standin.clone())
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The `metrics_listen` listener's port, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The live event bus (for tests).
    pub fn events(&self) -> crate::events::EventBus {
        self.events.clone()
    }

    /// Where users' brokers are found (for tests that drive the scheduler themselves).
    pub fn brokers(&self) -> Arc<crate::broker::directory::BrokerDirectory> {
        self.brokers.clone()
    }

    /// The users' account views (for tests that drive the scheduler themselves).
    pub fn portfolio(&self) -> Arc<crate::dca::portfolio::PortfolioService> {
        self.portfolio.clone()
    }

    /// E-mail (for tests that drive the sender or the notification pass themselves).
    pub fn mail(&self) -> Arc<crate::mail::MailService> {
        self.mail.clone()
    }

    /// The in-process simulated broker's base URL, in demo mode.
    pub fn demo_broker_url(&self) -> Option<&str> {
        self.demo_broker_url.as_deref()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish and closes
    /// the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.listener.local_addr()?;
        tracing::info!(%addr, "QuantShift is listening on http://{addr}");
        let cleanup = tokio::spawn(housekeeping(
            self.sessions,
            self.accounts.clone(),
            self.db.clone(),
        ));
        let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
        let ops = self.ops.spawn(workers_stop.clone());
        let settings = self.settings.spawn(workers_stop.clone());
        let mail_sender = self.mail.spawn(workers_stop.clone());
        let notifications = self.mail.spawn_notifications(workers_stop.clone());
        let metrics_server = self.metrics_listener.map(|listener| {
            let router = crate::http::ops::metrics_router(self.ops.clone());
            tracing::info!(addr = ?listener.local_addr().ok(), "metrics on /metrics");
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, router).await {
                    tracing::warn!(error = %err, "the metrics listener stopped");
                }
            })
        });
        let workers = self
            .scheduler
            .as_ref()
            .map(|s| s.spawn(workers_stop))
            .unwrap_or_default();
        // Open requests get a grace period to finish; a connection that never ends (a stuck
        // client, an endless stream) must not hold shutdown hostage.
        let (stopping, stop_requested) = tokio::sync::oneshot::channel::<()>();
        let stop_sockets = self.stop_sockets;
        let server =
            crate::http::serve::serve(self.listener, self.router, self.deadlines, async move {
                shutdown.await;
                // Live sockets left the connection loop when they were upgraded: tell them.
                let _ = stop_sockets.send(true);
                let _ = stopping.send(());
            });
        tokio::select! {
            () = server => {}
            () = async {
                if stop_requested.await.is_ok() {
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => tracing::warn!("connections were still open after {SHUTDOWN_GRACE:?}; closing them"),
        }
        cleanup.abort();
        // Workers finish the slot in hand, then stop; unfinished slots keep their lease and
        // are picked up again after a restart.
        let _ = stop_workers.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        let _ = ops.await;
        let _ = settings.await;
        let _ = mail_sender.await;
        let _ = notifications.await;
        if let Some(server) = metrics_server {
            server.abort();
        }
        if let Some(demo) = self.demo_broker {
            demo.stop().await;
        }
        self.db.close().await;
        tracing::info!("QuantShift stopped");
        Ok(())
    }
}

/// The API key the app and the in-process stand-in share.
const STANDIN_API_KEY: &str = "sk_test_quantshift_standin";

/// The Stripe stand-in, served in-process on its own loopback port (billing in demo mode).
struct StripeStandin {
    standin: Arc<sim::stripe::StripeStandin>,
    webhook_secret: String,
}

/// What the stand-in sells: each paid tier's configured price, under its price id.
pub fn standin_prices(config: &Config) -> Vec<sim::stripe::StandinPrice> {
    let prices = config.stripe_prices();
    app::domain::tier::Tier::ALL
        .into_iter()
        .filter_map(|tier| {
            let id = prices.of(tier)?;
            let cents = (config.tiers.rules(tier).price * rust_decimal::Decimal::ONE_HUNDRED)
                .round()
                .try_into()
                .ok()?;
            Some(sim::stripe::StandinPrice {
                id: id.to_owned(),
                name: tier.name().to_owned(),
                unit_amount: cents,
            })
        })
        .collect()
}

async fn start_stripe_standin(
    config: &Config,
    app_origin: &str,
    wall: &Arc<dyn Clock>,
) -> anyhow::Result<StripeStandin> {
    // Loopback like the demo broker, on a port of its own.
    let listen = SocketAddr::new(config.demo_broker_listen.ip(), 0);
    let listener = TcpListener::bind(listen)
        .await
        .context("failed to listen for the Stripe stand-in")?;
    let webhook_secret = config
        .stripe_webhook_secret
        .clone()
        .unwrap_or_else(|| format!("whsec_{}", uuid::Uuid::new_v4().simple()));
    let wall = wall.clone();
    let standin = sim::stripe::StripeStandin::start(
        listener,
        sim::stripe::StandinConfig {
            api_key: Some(STANDIN_API_KEY.to_owned()),
            webhook_url: format!("{app_origin}/api/billing/webhook"),
            webhook_secret: webhook_secret.clone(),
            prices: standin_prices(config),
            public_url: None,
            now: Arc::new(move || wall.now().millis().div_euclid(1000)),
        },
    )
    .await
    .context("failed to start the Stripe stand-in")?;
    tracing::info!(url = %standin.base_url(), "Stripe stand-in (demo mode): pay with 4242 4242 4242 4242");
    Ok(StripeStandin {
        standin: Arc::new(standin),
        webhook_secret,
    })
}

/// How long open requests may take to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The simulated Alpaca broker, served in-process on its own loopback port (demo mode).
struct DemoBroker {
    url: String,
    sim: Arc<sim::Simulator>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl DemoBroker {
    /// `rate_limit_per_min`: the requests it answers per key and minute (Alpaca's 200 by
    /// default: the same allowance the server keeps to).
    async fn start(
        listen: SocketAddr,
        start_time: Option<jiff::Timestamp>,
        data_dir: &std::path::Path,
        rate_limit_per_min: u32,
    ) -> anyhow::Result<Self> {
        crate::private_fs::create_dir(data_dir).with_context(|| {
            format!("failed to create the data directory {}", data_dir.display())
        })?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("failed to listen on {listen} for the demo broker"))?;
        let url = format!("http://{}", listener.local_addr()?);
        let sim = sim::Simulator::new(sim::SimConfig {
            auto_accounts: true,
            allow_control_api: true,
            start_time,
            // The demo portfolio survives restarts.
            state_file: Some(data_dir.join("demo-broker.json")),
            rate_limit_per_min,
            ..sim::SimConfig::default()
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sim::serve(listener, sim.clone(), async {
            let _ = stopped.await;
        }));
        tracing::info!(%url, "demo mode: simulated Alpaca broker started");
        Ok(Self {
            url,
            sim,
            stop,
            task,
        })
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        if let Ok(Err(err)) = self.task.await {
            tracing::warn!(error = %err, "the demo broker stopped with an error");
        }
    }
}

/// The demo market's clock as the server's clock (`demo_start_time`): moving the market's
/// time through its control API moves the scheduler's too.
struct DemoClock(Arc<sim::Simulator>);

impl Clock for DemoClock {
    fn now(&self) -> app::domain::time::Timestamp {
        app::domain::time::Timestamp::from_millis(self.0.now().as_millisecond())
    }
}

/// Every hour (the first pass runs at start-up): deletes expired sessions, sign-in
/// attempt windows older than a day, and audit entries past their retention.
async fn housekeeping(sessions: DbSessionStore, accounts: Arc<AccountService>, db: Db) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    every.tick().await; // the first tick is immediate
    loop {
        every.tick().await;
        housekeeping_pass(&sessions, &accounts, &db).await;
    }
}

async fn housekeeping_pass(sessions: &DbSessionStore, accounts: &AccountService, db: &Db) {
    match sessions.delete_expired().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "deleted expired sessions"),
        Err(err) => tracing::warn!(error = %err, "failed to delete expired sessions"),
    }
    if let Err(err) = accounts.prune_attempts().await {
        tracing::warn!(error = %format!("{err:#}"), "failed to prune sign-in attempts");
    }
    if let Some(mail) = accounts.mail()
        && let Err(err) = mail.prune().await
    {
        tracing::warn!(error = %format!("{err:#}"), "failed to prune sent e-mails");
    }
    match db.prune_audit().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "deleted audit entries past their retention"),
        Err(err) => tracing::warn!(error = %err, "failed to prune the audit log"),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
