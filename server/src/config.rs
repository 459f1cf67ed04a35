//! Typed, layered configuration: defaults → optional `quantshift.toml` → environment
//! (`QUANTSHIFT_<KEY>`, plus the conventional `DATABASE_URL`) → command-line flags.
//! Validated once at start-up; every error names the offending key.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The file read when `--config` is not given (it is optional).
pub const DEFAULT_CONFIG_FILE: &str = "quantshift.toml";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the web server listens on.
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database and other local state.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data_dir>/quantshift.db`.
    pub database_url: Option<String>,
    /// The URL users reach the app at. Decides the `Secure` cookie flag (https) and the
    /// origin that state-changing requests must come from. Defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// Where the built site (WASM, JS, CSS, public assets) is served from.
    pub site_root: PathBuf,
    /// This e-mail address is an admin: promoted at start-up once an account with it exists
    /// and has verified the address. Signing up never makes an admin (admins are made with
    /// `quantshift user create --admin` or `quantshift user promote`).
    pub admin_email: Option<String>,
    /// A session ends after this many days without a visit.
    pub session_idle_days: u32,
    /// Failed sign-ins allowed per account and per IP address within the window.
    pub sign_in_max_failures: u32,
    /// The window, in minutes, over which failed sign-ins are counted.
    pub sign_in_window_minutes: u32,
    /// Accounts that may be created from one client address per hour.
    pub sign_ups_per_hour: u32,
    /// Days the audit log keeps its entries (at least 30); older ones are deleted hourly.
    pub audit_retention_days: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How many trusted proxies append to `X-Forwarded-For`: the client address is that
    /// many entries from the right (what the outermost trusted proxy saw).
    pub trusted_proxy_hops: u32,
    /// How long a client may take to send a request's body once its headers are in, or to
    /// take any of a response, in milliseconds: a slower client gets 408 (or, mid-response,
    /// a closed connection), so slow clients cannot hold connections open.
    pub client_timeout_ms: u64,
    /// How long a connection may wait for a complete request head, in milliseconds: from
    /// its start, and again after each response (so idle kept-alive connections close
    /// after it). Keep it longer than a proxy's idle timeout for its upstream connections
    /// (60 s for nginx and AWS load balancers), or the proxy may reuse a closing one.
    pub keep_alive_timeout_ms: u64,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Demo mode: run the simulated Alpaca broker in-process, so every user can trade a
    /// paper account with no keys.
    pub demo_broker: bool,
    /// Where the in-process simulator listens (loopback; port 0 picks a free one).
    pub demo_broker_listen: SocketAddr,
    /// Use this running simulator (e.g. one `quantshift sim-broker` shared by several
    /// instances) instead of starting one in-process.
    pub demo_broker_url: Option<String>,
    /// Start the in-process demo market at this instant (RFC 3339, e.g.
    /// `2026-11-30T15:00:00Z`) instead of now. The whole server then runs on the demo
    /// market's clock, which the simulator's loopback control API can move: for demos on a
    /// weekend and for end-to-end tests.
    pub demo_start_time: Option<String>,
    /// Requests per minute per broker API key (Alpaca allows 200).
    pub broker_rate_limit_per_min: u32,
    /// How long one broker request may take, in milliseconds, before it counts as lost
    /// and is retried (an order is retried under the same client order id).
    pub broker_timeout_ms: u64,
    /// Base64 of 32 random bytes: the key that encrypts users' broker keys at rest.
    /// Required when `demo_broker` is off; in demo mode one is created under `data_dir`.
    pub secrets_key: Option<String>,
    /// Alpaca's trading URLs for users' own keys (overridable for a simulator).
    pub alpaca_paper_url: String,
    pub alpaca_live_url: String,
    pub alpaca_data_url: String,
    /// Days of paper trading a user needs before live keys are accepted.
    pub live_unlock_days: u32,
    /// Scheduler workers in this instance (0 runs none: a web-only instance).
    pub scheduler_workers: u32,
    /// How often an idle worker looks for due work, in milliseconds.
    pub scheduler_poll_ms: u64,
    /// How long one run of a slot may take, in milliseconds, before the worker hands it
    /// back to resume later; a slot whose instance died is taken over after twice this.
    pub scheduler_slot_budget_ms: u64,
    /// A slot missed while the server was down still runs if it is at most this late.
    pub missed_grace_minutes: u32,
    /// "Buy now" presses that queue a purchase, per user and clock hour.
    pub run_now_per_hour: u32,
    /// Hold each user to their subscription tier (`tiers`). Off (the default for a
    /// self-hosted install): every user has every feature.
    pub billing: bool,
    /// What each tier allows and costs (`[tiers.free]`, `[tiers.basic]`, `[tiers.pro]`,
    /// `[tiers.premium]`: `price`, `max_symbols`, `frequencies`, `every_n`, `smart_dca`,
    /// `signal_bots`, `live_trading`).
    pub tiers: app::domain::tier::Tiers,
    /// Stripe's secret API key (`sk_live_…`/`sk_test_…`). Required with billing on outside
    /// demo mode; in demo mode without one, a Stripe stand-in runs in-process.
    pub stripe_secret_key: Option<String>,
    /// The webhook endpoint's signing secret (`whsec_…`) for `POST /api/billing/webhook`.
    pub stripe_webhook_secret: Option<String>,
    /// Stripe's API base URL (a stand-in's for tests and demos).
    pub stripe_api_base: String,
    /// The Stripe price id (`price_…`) of each paid tier's monthly subscription.
    pub stripe_price_basic: Option<String>,
    pub stripe_price_pro: Option<String>,
    pub stripe_price_premium: Option<String>,
    /// The bearer token Prometheus sends for `GET /metrics` on the main listener
    /// (`Authorization: Bearer …`; at least 16 characters). Without it, `/metrics` is not
    /// served there.
    pub metrics_token: Option<String>,
    /// Also serve `GET /metrics` without a token on this address (e.g. `127.0.0.1:9464`,
    /// reachable only from the monitoring network).
    pub metrics_listen: Option<SocketAddr>,
    /// How often each instance probes the brokers in use and Stripe for the health page,
    /// in milliseconds.
    pub health_probe_ms: u64,
    /// Where e-mail is sent: `smtps://user:password@host` (TLS from the start, port 465),
    /// `smtp://user:password@host:587?tls=required` (STARTTLS) or `smtp://host:25` (plain,
    /// for a local relay). Admins may set another in the admin settings page, which wins.
    /// Without either, demo mode keeps e-mails in a local mailbox at `/dev/mailbox`.
    pub smtp_url: Option<String>,
    /// The sender of every e-mail (`QuantShift <no-reply@example.com>`); defaults to
    /// `no-reply@` the public URL's host.
    pub mail_from: Option<String>,
}

/// The keys whose values are secrets: a printed configuration shows them as redacted.
const SECRET_KEYS: [&str; 4] = [
    "secrets_key",
    "stripe_secret_key",
    "stripe_webhook_secret",
    "metrics_token",
];

/// `url` with the password of its user info (`scheme://user:password@host`) redacted.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:[redacted]{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Every setting, the secrets redacted (a configuration printed into a log or an error
/// report must not carry the keys that seal broker credentials or talk to Stripe).
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut value = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        for key in SECRET_KEYS {
            if let Some(secret) = value.get_mut(key).filter(|v| !v.is_null()) {
                *secret = "[redacted]".into();
            }
        }
        // A database or SMTP URL's password (`postgres://user:password@host/db`).
        for key in ["database_url", "smtp_url"] {
            if let Some(url) = value.get_mut(key)
                && let Some(text) = url.as_str().map(redact_password)
            {
                *url = text.into();
            }
        }
        write!(f, "Config {value}")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            public_url: None,
            site_root: PathBuf::from("target/site"),
            admin_email: None,
            session_idle_days: 14,
            sign_in_max_failures: 10,
            sign_in_window_minutes: 15,
            sign_ups_per_hour: 10,
            audit_retention_days: 365,
            trust_forwarded_for: false,
            trusted_proxy_hops: 1,
            client_timeout_ms: 10_000,
            keep_alive_timeout_ms: 75_000,
            log_format: LogFormat::Text,
            demo_broker: true,
            demo_broker_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            demo_broker_url: None,
            demo_start_time: None,
            broker_rate_limit_per_min: 200,
            broker_timeout_ms: 10_000,
            secrets_key: None,
            alpaca_paper_url: "https://paper-api.alpaca.markets".into(),
            alpaca_live_url: "https://api.alpaca.markets".into(),
            alpaca_data_url: "https://data.alpaca.markets".into(),
            live_unlock_days: 30,
            scheduler_workers: 2,
            scheduler_poll_ms: 1000,
            scheduler_slot_budget_ms: 60_000,
            missed_grace_minutes: 240,
            run_now_per_hour: 10,
            billing: false,
            tiers: app::domain::tier::Tiers::default(),
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: "https://api.stripe.com/".into(),
            stripe_price_basic: None,
            stripe_price_pro: None,
            stripe_price_premium: None,
            metrics_token: None,
            metrics_listen: None,
            health_probe_ms: 15_000,
            smtp_url: None,
            mail_from: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

/// Values given on the command line, which win over every other layer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// Loads every layer. `file` is read if it exists; a missing default file is fine,
    /// a missing file named explicitly is an error.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let (path, required) = match file {
            Some(path) => (path.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        if required && !path.exists() {
            return Err(ConfigError::Invalid {
                key: "--config",
                message: format!("file {} does not exist", path.display()),
            });
        }
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&path))
            .merge(Env::raw().only(&["DATABASE_URL"]))
            .merge(Env::prefixed("QUANTSHIFT_"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    /// Whether billing runs against the in-process Stripe stand-in: billing on in demo
    /// mode without a Stripe key.
    pub fn stripe_standin(&self) -> bool {
        self.billing && self.demo_broker && self.stripe_secret_key.is_none()
    }

    /// The Stripe price ids by tier (the stand-in's own ids when it runs).
    pub fn stripe_prices(&self) -> crate::billing::webhook::Prices {
        let or = |value: &Option<String>, standin: &str| match value {
            Some(id) => Some(id.clone()),
            None if self.stripe_standin() => Some(standin.to_owned()),
            None => None,
        };
        crate::billing::webhook::Prices {
            basic: or(&self.stripe_price_basic, "price_basic"),
            pro: or(&self.stripe_price_pro, "price_pro"),
            premium: or(&self.stripe_price_premium, "price_premium"),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.into(),
        };
        if let Some(url) = &self.database_url
            && !["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite: or postgres://",
            ));
        }
        if let Some(url) = &self.public_url
            && (!(url.starts_with("http://") || url.starts_with("https://")) || url.ends_with('/'))
        {
            return Err(invalid(
                "public_url",
                "must be http(s)://host[:port] without a trailing slash",
            ));
        }
        if let Some(email) = &self.admin_email {
            app::domain::account::Email::parse(email).map_err(|m| invalid("admin_email", &m))?;
        }
        for tier in app::domain::tier::Tier::ALL {
            let rules = self.tiers.rules(tier);
            let key = match tier {
                app::domain::tier::Tier::Free => "tiers.free",
                app::domain::tier::Tier::Basic => "tiers.basic",
                app::domain::tier::Tier::Pro => "tiers.pro",
                app::domain::tier::Tier::Premium => "tiers.premium",
            };
            if rules.frequencies.is_empty() {
                return Err(invalid(key, "frequencies must name at least one schedule"));
            }
            if rules.price.is_sign_negative() {
                return Err(invalid(key, "price cannot be negative"));
            }
        }
        if self
            .metrics_token
            .as_deref()
            .is_some_and(|token| token.trim().len() < 16)
        {
            return Err(invalid(
                "metrics_token",
                "must be at least 16 characters (a random token)",
            ));
        }
        if let Some(url) = &self.smtp_url {
            crate::mail::check_smtp_url(url).map_err(|m| invalid("smtp_url", &m))?;
        }
        if let Some(from) = &self.mail_from {
            crate::mail::check_from(from).map_err(|m| invalid("mail_from", &m))?;
        }
        if self.health_probe_ms < 100 {
            return Err(invalid("health_probe_ms", "must be at least 100"));
        }
        if self.billing && !self.stripe_standin() {
            for (key, value) in [
                ("stripe_secret_key", &self.stripe_secret_key),
                ("stripe_webhook_secret", &self.stripe_webhook_secret),
                ("stripe_price_basic", &self.stripe_price_basic),
                ("stripe_price_pro", &self.stripe_price_pro),
                ("stripe_price_premium", &self.stripe_price_premium),
            ] {
                if value.as_deref().is_none_or(str::is_empty) {
                    return Err(invalid(
                        key,
                        "is required when billing is on (outside demo mode, where a Stripe \
                         stand-in runs without it)",
                    ));
                }
            }
        }
        if !(self.stripe_api_base.starts_with("http://")
            || self.stripe_api_base.starts_with("https://"))
        {
            return Err(invalid("stripe_api_base", "must be an http(s) URL"));
        }
        if !self.demo_broker_listen.ip().is_loopback() {
            return Err(invalid(
                "demo_broker_listen",
                "must be a loopback address: the simulator's control API is not for the network",
            ));
        }
        if let Some(url) = &self.demo_broker_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid("demo_broker_url", "must be an http(s) URL"));
        }
        if let Some(start) = &self.demo_start_time {
            start.parse::<jiff::Timestamp>().map_err(|_| {
                invalid(
                    "demo_start_time",
                    "must be an RFC 3339 instant, e.g. 2026-11-30T15:00:00Z",
                )
            })?;
            if !self.demo_broker || self.demo_broker_url.is_some() {
                return Err(invalid(
                    "demo_start_time",
                    "needs the in-process demo broker (demo_broker on, no demo_broker_url)",
                ));
            }
        }
        match &self.secrets_key {
            Some(key) => {
                crate::secrets::SecretBox::from_base64(key)
                    .map_err(|m| invalid("secrets_key", &m))?;
            }
            None if !self.demo_broker => {
                return Err(invalid(
                    "secrets_key",
                    "is required when demo_broker is off: it encrypts users' broker keys at rest \
                     (generate one with `openssl rand -base64 32`)",
                ));
            }
            None => {}
        }
        for (key, url) in [
            ("alpaca_paper_url", &self.alpaca_paper_url),
            ("alpaca_live_url", &self.alpaca_live_url),
            ("alpaca_data_url", &self.alpaca_data_url),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(key, "must be an http(s) URL"));
            }
        }
        if !(1..=10).contains(&self.trusted_proxy_hops) {
            return Err(invalid("trusted_proxy_hops", "must be between 1 and 10"));
        }
        if !(100..=300_000).contains(&self.client_timeout_ms) {
            return Err(invalid(
                "client_timeout_ms",
                "must be between 100 and 300000",
            ));
        }
        if !(100..=600_000).contains(&self.keep_alive_timeout_ms) {
            return Err(invalid(
                "keep_alive_timeout_ms",
                "must be between 100 and 600000",
            ));
        }
        if self.broker_rate_limit_per_min == 0 {
            return Err(invalid("broker_rate_limit_per_min", "must be at least 1"));
        }
        if !(100..=120_000).contains(&self.broker_timeout_ms) {
            return Err(invalid(
                "broker_timeout_ms",
                "must be between 100 and 120000",
            ));
        }
        if self.scheduler_workers > 64 {
            return Err(invalid("scheduler_workers", "must be at most 64"));
        }
        if !(10..=60_000).contains(&self.scheduler_poll_ms) {
            return Err(invalid("scheduler_poll_ms", "must be between 10 and 60000"));
        }
        if !(1000..=600_000).contains(&self.scheduler_slot_budget_ms) {
            return Err(invalid(
                "scheduler_slot_budget_ms",
                "must be between 1000 and 600000",
            ));
        }
        if self.broker_timeout_ms * 3 > self.scheduler_slot_budget_ms {
            return Err(invalid(
                "broker_timeout_ms",
                "must be at most a third of scheduler_slot_budget_ms (a slot retries its requests within its budget)",
            ));
        }
        if !(1..=3600).contains(&self.run_now_per_hour) {
            return Err(invalid("run_now_per_hour", "must be between 1 and 3600"));
        }
        if self.session_idle_days == 0 {
            return Err(invalid("session_idle_days", "must be at least 1"));
        }
        if self.sign_in_max_failures == 0 {
            return Err(invalid("sign_in_max_failures", "must be at least 1"));
        }
        if self.sign_ups_per_hour == 0 {
            return Err(invalid("sign_ups_per_hour", "must be at least 1"));
        }
        if !(30..=36_500).contains(&self.audit_retention_days) {
            return Err(invalid(
                "audit_retention_days",
                "must be between 30 and 36500",
            ));
        }
        if self.sign_in_window_minutes == 0 {
            return Err(invalid("sign_in_window_minutes", "must be at least 1"));
        }
        Ok(())
    }

    /// The database to use, with the embedded SQLite default filled in.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("quantshift.db").display()
            )
        })
    }

    /// The public origin (`scheme://host[:port]`).
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// Cookies are `Secure` exactly when users reach the app over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url().starts_with("https://")
    }
}

#[cfg(test)]
// figment::Jail closures must return its (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_configuration_hides_its_secrets() {
        assert_eq!(
            redact_password("postgres://app:hunter2@db:5432/qs"),
            "postgres://app:[redacted]@db:5432/qs"
        );
        assert_eq!(redact_password("sqlite://data/q.db"), "sqlite://data/q.db");
        let config = Config {
            database_url: Some("postgres://app:hunter2@db/qs".into()),
            secrets_key: Some("sealing-key-material".into()),
            stripe_secret_key: Some("sk_live_verysecret".into()),
            stripe_webhook_secret: Some("whsec_alsosecret".into()),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        for secret in [
            "sealing-key-material",
            "sk_live_verysecret",
            "whsec_alsosecret",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(
            printed.contains("\"stripe_secret_key\":\"[redacted]\""),
            "{printed}"
        );
        // What is not secret still shows.
        assert!(printed.contains(&config.listen.to_string()), "{printed}");
    }

    #[test]
    fn defaults_are_valid_and_embedded() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(
            config.database_url(),
            "sqlite://data/quantshift.db?mode=rwc"
        );
        assert_eq!(config.public_url(), "http://127.0.0.1:3000");
        assert!(!config.secure_cookies());
    }

    #[test]
    fn an_operator_changes_one_tier_and_keeps_the_rest() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "qs.toml",
                "billing = true\n[tiers.pro]\nmax_symbols = 12\nprice = 21.5\n\
                 [tiers.free]\nfrequencies = [\"weekly\", \"monthly\"]\n",
            )?;
            let config = Config::load(Some(Path::new("qs.toml")), Overrides::default()).unwrap();
            let defaults = app::domain::tier::Tiers::default();
            assert!(config.billing);
            assert_eq!(config.tiers.pro.max_symbols, Some(12));
            assert_eq!(config.tiers.pro.price.to_string(), "21.5");
            assert_eq!(config.tiers.pro.frequencies, defaults.pro.frequencies);
            assert_eq!(config.tiers.free.frequencies.len(), 2);
            assert_eq!(config.tiers.premium, defaults.premium);
            Ok(())
        });
    }

    #[test]
    fn a_mistyped_or_empty_tier_stops_start_up() {
        for (file, expected) in [
            ("[tiers.pro]\nmax_symbol = 5\n", "max_symbol"),
            ("[tiers.gold]\nprice = 5\n", "gold"),
            ("[tiers.free]\nfrequencies = []\n", "tiers.free"),
            ("[tiers.basic]\nprice = -1\n", "tiers.basic"),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.create_file("qs.toml", file)?;
                let err = Config::load(Some(Path::new("qs.toml")), Overrides::default())
                    .unwrap_err()
                    .to_string();
                assert!(err.contains(expected), "{file}: {err}");
                Ok(())
            });
        }
    }

    #[test]
    fn billing_outside_demo_mode_needs_every_stripe_key() {
        let real = "billing = true\ndemo_broker = false\n\
                    secrets_key = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n";
        let keys = "stripe_secret_key = \"sk_test_1\"\nstripe_webhook_secret = \"whsec_1\"\n\
                    stripe_price_basic = \"price_b\"\nstripe_price_pro = \"price_p\"\n";
        for (file, expected) in [
            (real.to_owned(), "stripe_secret_key"),
            (format!("{real}{keys}"), "stripe_price_premium"),
            (
                format!("{keys}stripe_api_base = \"ftp://x\"\n"),
                "stripe_api_base",
            ),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.create_file("qs.toml", &file)?;
                let err = Config::load(Some(Path::new("qs.toml")), Overrides::default())
                    .unwrap_err()
                    .to_string();
                assert!(err.contains(expected), "{file}: {err}");
                Ok(())
            });
        }
        // Demo mode without a key runs the stand-in, with its own price ids.
        figment::Jail::expect_with(|jail| {
            jail.create_file("qs.toml", "billing = true\n")?;
            let config = Config::load(Some(Path::new("qs.toml")), Overrides::default()).unwrap();
            assert!(config.stripe_standin());
            assert_eq!(config.stripe_prices().pro.as_deref(), Some("price_pro"));
            Ok(())
        });
    }

    #[test]
    fn layers_apply_in_order_and_errors_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "qs.toml",
                "listen = \"127.0.0.1:4000\"\nsession_idle_days = 3\n",
            )?;
            jail.set_env("QUANTSHIFT_SESSION_IDLE_DAYS", "5");
            let config = Config::load(Some(Path::new("qs.toml")), Overrides::default()).unwrap();
            assert_eq!(config.listen.port(), 4000);
            assert_eq!(config.session_idle_days, 5);

            let flags = Overrides {
                listen: Some("127.0.0.1:5000".parse().unwrap()),
                data_dir: None,
            };
            assert_eq!(
                Config::load(Some(Path::new("qs.toml")), flags)
                    .unwrap()
                    .listen
                    .port(),
                5000
            );

            jail.set_env("QUANTSHIFT_SESSION_IDLE_DAYS", "soon");
            let err = Config::load(Some(Path::new("qs.toml")), Overrides::default()).unwrap_err();
            assert!(
                err.to_string().to_lowercase().contains("session_idle_days"),
                "{err}"
            );

            jail.set_env("QUANTSHIFT_SESSION_IDLE_DAYS", "0");
            let err = Config::load(Some(Path::new("qs.toml")), Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("`session_idle_days`"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_rejected() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("QUANTSHIFT_LISTEN_PORT", "1");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(
                err.to_string().to_lowercase().contains("listen_port"),
                "{err}"
            );
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "mysql://x");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("database_url"), "{err}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("QUANTSHIFT_PUBLIC_URL", "https://invest.example.com");
            assert!(
                Config::load(None, Overrides::default())
                    .unwrap()
                    .secure_cookies()
            );
            Ok(())
        });
    }

    #[test]
    fn production_mode_needs_the_secrets_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("QUANTSHIFT_DEMO_BROKER", "false");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("`secrets_key`"), "{err}");
            jail.set_env("QUANTSHIFT_SECRETS_KEY", "dG9vIHNob3J0");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("32 bytes"), "{err}");
            jail.set_env(
                "QUANTSHIFT_SECRETS_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            );
            assert!(Config::load(None, Overrides::default()).is_ok());
            Ok(())
        });
    }

    #[test]
    fn a_named_config_file_must_exist() {
        let err = Config::load(
            Some(Path::new("/nonexistent/qs.toml")),
            Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--config"), "{err}");
    }
}
