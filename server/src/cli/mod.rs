//! The `quantshift` command line.

use crate::accounts::{AccountService, SignInPolicy};
use crate::clock::SystemClock;
use crate::config::{Config, Overrides};
use crate::db::Db;
mod backtest;

use crate::startup::{Application, shutdown_signal};
use crate::telemetry;
use anyhow::Context as _;
use app::domain::account::Role;
use backtest::BacktestArgs;
use clap::{Parser, Subcommand};
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// QuantShift: automated dollar-cost averaging on Alpaca.
///
/// Configuration comes from defaults, then the optional file (quantshift.toml), then
/// QUANTSHIFT_<KEY> environment variables (and DATABASE_URL), then these flags.
#[derive(Debug, Parser)]
#[command(name = "quantshift", version, about, long_about)]
pub struct Cli {
    /// Configuration file to read [default: quantshift.toml, if present].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default when no command is given).
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit.
    Migrate(DataArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Run the simulated Alpaca broker (Alpaca's HTTP API and trade-updates stream).
    SimBroker(SimBrokerArgs),
    /// Serve the Stripe stand-in: Stripe's API paths the app uses, a hosted checkout page
    /// (pays with 4242 4242 4242 4242) and portal, and signed webhooks to the app. Prices
    /// come from the configuration (`stripe_price_*`, else `price_basic`, …, and `tiers`).
    StripeStandin(StripeStandinArgs),
    /// Run one MA-crossover signal bot without the web app: `quantshift bot --config
    /// bot.yaml` (see bot.example.yaml). SIGTERM or SIGINT stop it after the step in hand,
    /// SIGHUP reads the file again.
    Bot {
        #[command(subcommand)]
        command: Option<BotCommand>,
    },
    /// Backtest a strategy over daily bars from a CSV file.
    Backtest(Box<BacktestArgs>),
    /// Measure the purchase engine (see `quantshift bench scheduler --help`).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Print the NYSE trading days in a range: `YYYY-MM-DD HH:MM HH:MM` (open, close, New York).
    Calendar {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: jiff::civil::Date,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: jiff::civil::Date,
    },
}

#[derive(Debug, Subcommand)]
pub enum BotCommand {
    /// Print the bot's state from its state file: position, entry, stop and target,
    /// realized profit, next evaluation and its last runs.
    Status {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// N users with L-leg plans all due at one instant, run by the real scheduler against
    /// an in-process simulated broker: orders per second and each slot's delay.
    Scheduler(crate::bench::SchedulerBenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct SimBrokerArgs {
    /// Address to serve on; Alpaca's paths are served at its root.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4010")]
    pub listen: SocketAddr,
    /// Give an unknown key id a new $100,000 account on first use.
    #[arg(long)]
    pub auto_accounts: bool,
    /// Requests per API key per minute before answering 429.
    #[arg(long, default_value_t = 200)]
    pub rate_limit_per_min: u32,
    /// Seed of the synthetic prices and of fault draws.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated time at start (RFC 3339) [default: now].
    #[arg(long, value_name = "RFC3339")]
    pub start_time: Option<jiff::Timestamp>,
    /// Simulated seconds per real second (0 freezes the clock; the control API moves it).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Serve the /sim/v1 control API on a non-loopback address too.
    #[arg(long)]
    pub allow_remote_control: bool,
    /// Keep the accounts in this file across restarts [default: in memory only].
    #[arg(long, value_name = "FILE")]
    pub state_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StripeStandinArgs {
    /// Address to serve on; Stripe's `/v1/...` paths are served at its root.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:12111")]
    pub listen: SocketAddr,
    /// Where events are delivered: the app's `/api/billing/webhook`.
    #[arg(long, value_name = "URL")]
    pub webhook_url: String,
    /// The signing secret the app checks (`stripe_webhook_secret`).
    #[arg(long, value_name = "SECRET")]
    pub webhook_secret: String,
    /// The API key callers must send (`stripe_secret_key`) [default: any].
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// The base of the hosted pages' links [default: http://ADDR].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

#[derive(Debug, Default, clap::Args)]
pub struct DataArgs {
    /// Directory for the embedded database and local state (key `data_dir`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:3000 (key `listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input.
    Create {
        /// The new user's e-mail address.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: never pass it as an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Make an existing user an admin.
    Promote {
        /// The user's e-mail address.
        email: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Set a user's subscription tier (what `billing = true` holds them to).
    Tier {
        /// The user's e-mail address.
        email: String,
        /// free, basic, pro or premium.
        tier: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        let command = self.command.unwrap_or(Command::Serve(ServeArgs::default()));
        if let Command::SimBroker(args) = &command {
            telemetry::init(crate::config::LogFormat::Text);
            return run_sim_broker(args).await;
        }
        if let Command::Bot { command } = &command {
            // `--config` names the bot's YAML file here, not the server's configuration.
            let path = self
                .config
                .as_deref()
                .context("name the bot's file: quantshift bot --config bot.yaml")?;
            return match command {
                None => crate::headless::run(path).await,
                Some(BotCommand::Status { json }) => {
                    let text = crate::headless::status(path, *json).await?;
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(text.as_bytes())?;
                    Ok(stdout.flush()?)
                }
            };
        }
        // The research and benchmark commands need no configuration.
        let output = match &command {
            Command::Bench(BenchCommand::Scheduler(args)) => {
                Some(crate::bench::scheduler(args).await?)
            }
            Command::Backtest(args) => Some(backtest::backtest(args)?),
            Command::Calendar { from, to } => Some(backtest::calendar_lines(*from, *to)?),
            _ => None,
        };
        if let Some(output) = output {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(output.as_bytes())?;
            return Ok(stdout.flush()?);
        }
        let overrides = match &command {
            Command::Serve(args) => Overrides {
                listen: args.listen,
                data_dir: args.data.data_dir.clone(),
            },
            Command::Migrate(data)
            | Command::User(
                UserCommand::Create { data, .. }
                | UserCommand::Promote { data, .. }
                | UserCommand::Tier { data, .. },
            ) => Overrides {
                listen: None,
                data_dir: data.data_dir.clone(),
            },
            Command::Backtest(_)
            | Command::Calendar { .. }
            | Command::SimBroker(_)
            | Command::StripeStandin(_)
            | Command::Bot { .. }
            | Command::Bench(_) => Overrides::default(),
        };
        let config = Config::load(self.config.as_deref(), overrides)?;
        telemetry::init(config.log_format);
        match command {
            Command::Backtest(_)
            | Command::Calendar { .. }
            | Command::SimBroker(_)
            | Command::Bot { .. }
            | Command::Bench(_) => Ok(()),
            Command::StripeStandin(args) => run_stripe_standin(&args, &config).await,
            Command::Serve(_) => {
                Application::build(&config)
                    .await?
                    .run_until(shutdown_signal())
                    .await
            }
            Command::Migrate(_) => {
                let db = Db::connect(&config.database_url()).await?;
                db.migrate().await?;
                db.close().await;
                tracing::info!("migrations applied");
                Ok(())
            }
            Command::User(UserCommand::Create {
                email,
                password_stdin: _,
                admin,
                data: _,
            }) => {
                let mut password = String::new();
                std::io::stdin()
                    .read_to_string(&mut password)
                    .context("failed to read the password from standard input")?;
                let password = password.trim_end_matches(['\r', '\n']);
                let db = Db::connect(&config.database_url()).await?;
                db.migrate().await?;
                let role = if admin { Role::Admin } else { Role::Subscriber };
                let result = accounts(&db, &config)
                    .create_user(&email, password, role)
                    .await;
                db.close().await;
                let user = result.map_err(readable)?;
                tracing::info!(id = %user.id, email = %user.email, role = user.role.as_str(), "user created");
                Ok(())
            }
            Command::User(UserCommand::Promote { email, data: _ }) => {
                let db = Db::connect(&config.database_url()).await?;
                db.migrate().await?;
                let result = accounts(&db, &config).promote(&email).await;
                db.close().await;
                let user = result.map_err(readable)?;
                tracing::info!(id = %user.id, email = %user.email, "user is an admin");
                Ok(())
            }
            Command::User(UserCommand::Tier {
                email,
                tier,
                data: _,
            }) => {
                let db = Db::connect(&config.database_url()).await?;
                db.migrate().await?;
                let result = accounts(&db, &config).set_tier(&email, &tier).await;
                db.close().await;
                let user = result.map_err(readable)?;
                tracing::info!(id = %user.id, email = %user.email, tier = %tier, "tier set");
                Ok(())
            }
        }
    }
}

/// The account service a command-line tool uses (no sessions; on PostgreSQL its events
/// still reach the running instances).
fn accounts(db: &Db, config: &Config) -> AccountService {
    AccountService::new(
        db.clone(),
        Arc::new(SystemClock),
        SignInPolicy {
            max_failures: config.sign_in_max_failures,
            window_minutes: config.sign_in_window_minutes,
            sign_ups_per_hour: config.sign_ups_per_hour,
        },
        None,
        crate::events::EventBus::publisher(db.clone()),
    )
}

/// An API error as one line for the terminal, its field messages included.
pub(crate) fn readable(e: app::api::AppError) -> anyhow::Error {
    let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    if fields.is_empty() {
        anyhow::anyhow!("{}", e.message)
    } else {
        anyhow::anyhow!("{} {}", e.message, fields.join("; "))
    }
}

async fn run_sim_broker(args: &SimBrokerArgs) -> anyhow::Result<()> {
    if !(args.speed >= 0.0 && args.speed.is_finite()) {
        anyhow::bail!("--speed must be 0 or more");
    }
    let sim = sim::Simulator::new(sim::SimConfig {
        auto_accounts: args.auto_accounts,
        rate_limit_per_min: args.rate_limit_per_min.max(1),
        seed: args.seed,
        start_time: args.start_time,
        speed: args.speed,
        allow_control_api: args.listen.ip().is_loopback() || args.allow_remote_control,
        state_file: args.state_file.clone(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;
    sim::serve(listener, sim, shutdown_signal())
        .await
        .context("the simulator failed")
}

async fn run_stripe_standin(args: &StripeStandinArgs, config: &Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("failed to listen on {}", args.listen))?;
    // The stand-in sells every paid tier, under the configured price ids or its own.
    let mut config = config.clone();
    for (price, standin) in [
        (&mut config.stripe_price_basic, "price_basic"),
        (&mut config.stripe_price_pro, "price_pro"),
        (&mut config.stripe_price_premium, "price_premium"),
    ] {
        price.get_or_insert_with(|| standin.to_owned());
    }
    let standin = sim::stripe::StripeStandin::start(
        listener,
        sim::stripe::StandinConfig {
            api_key: args.api_key.clone(),
            webhook_url: args.webhook_url.clone(),
            webhook_secret: args.webhook_secret.clone(),
            prices: crate::startup::standin_prices(&config),
            public_url: args.public_url.clone(),
            now: Arc::new(|| jiff::Timestamp::now().as_second()),
        },
    )
    .await
    .context("the Stripe stand-in failed to start")?;
    tracing::info!(url = %standin.base_url(), "Stripe stand-in serving");
    shutdown_signal().await;
    drop(standin);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default() {
        let cli = Cli::try_parse_from(["quantshift"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from([
            "quantshift",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/tmp/x",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Serve(ServeArgs {
                listen: Some(_),
                ..
            }))
        ));
    }

    #[test]
    fn user_create_requires_password_stdin() {
        assert!(
            Cli::try_parse_from(["quantshift", "user", "create", "--email", "a@b.co"]).is_err()
        );
        assert!(
            Cli::try_parse_from([
                "quantshift",
                "user",
                "create",
                "--email",
                "a@b.co",
                "--password-stdin",
                "--admin"
            ])
            .is_ok()
        );
    }
}
