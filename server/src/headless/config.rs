//! The headless bot's YAML file (`quantshift bot --config bot.yaml`; `bot.example.yaml`
//! documents every key). Unknown keys and bad values are refused with the key's path
//! (`strategy.sizing.risk_pct: …`), before anything runs.

use crate::config::LogFormat;
use app::domain::market::Symbol;
use app::domain::strategy::ma_crossover::MaCrossoverConfig;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

/// Where the bot trades: Alpaca's paper or live account, or any Alpaca-compatible URL
/// (the simulator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Paper,
    Live,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paper => "paper",
            Self::Live => "live",
        }
    }
}

/// Which clock says when it is: this machine's, or the broker's (`GET /v2/clock`: the
/// simulator's moved clock, for rehearsals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockSource {
    #[default]
    System,
    Broker,
}

#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerFile {
    #[serde(default)]
    pub environment: Environment,
    /// The trading API's base URL [default: Alpaca's, for the environment].
    #[serde(default)]
    pub url: Option<String>,
    /// The market data API's base URL [default: https://data.alpaca.markets].
    #[serde(default)]
    pub data_url: Option<String>,
    /// The key pair [default: the environment's APCA_API_KEY_ID and APCA_API_SECRET_KEY].
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub clock: ClockSource,
}

impl std::fmt::Debug for BrokerFile {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerFile")
            .field("environment", &self.environment)
            .field("url", &self.url)
            .field("data_url", &self.data_url)
            .field("key_id", &self.key_id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("clock", &self.clock)
            .finish()
    }
}

impl BrokerFile {
    pub fn trading_url(&self) -> String {
        self.url
            .clone()
            .unwrap_or_else(|| match self.environment {
                Environment::Paper => "https://paper-api.alpaca.markets".into(),
                Environment::Live => "https://api.alpaca.markets".into(),
            })
            .trim_end_matches('/')
            .to_owned()
    }

    pub fn data_url(&self) -> String {
        self.data_url
            .as_deref()
            .unwrap_or("https://data.alpaca.markets")
            .trim_end_matches('/')
            .to_owned()
    }
}

/// The file as written.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotFile {
    /// The bot's name in logs and status [default: "<SYMBOL> MA crossover"].
    #[serde(default)]
    pub name: Option<String>,
    pub symbol: String,
    /// The money the bot may use; it never trades the rest of the account.
    #[serde(deserialize_with = "money")]
    pub capital: Decimal,
    /// When it evaluates each trading day, New York time, after the close.
    #[serde(default = "default_evaluate_at")]
    pub evaluate_at: String,
    /// Paused: it keeps its position and takes no new signals.
    #[serde(default)]
    pub paused: bool,
    /// The strategy: the API's `bot` object (absent keys take the defaults, 5/20).
    #[serde(default)]
    pub strategy: MaCrossoverConfig,
    pub broker: BrokerFile,
    /// The state file (SQLite), relative to this file [default: beside it, `<name>.sqlite`].
    #[serde(default)]
    pub state: Option<PathBuf>,
    #[serde(default = "default_log_format")]
    pub log_format: LogFormat,
    /// How often the engine looks for work and the broker's clock is read, in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

fn default_evaluate_at() -> String {
    "16:10".into()
}

fn default_log_format() -> LogFormat {
    LogFormat::Text
}

fn default_poll_ms() -> u64 {
    1000
}

/// An amount: a string or a whole number, never a YAML float (binary: `0.1` is not 0.1).
fn money<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an amount in quotes, e.g. \"2500.50\", or a whole number")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Decimal, E> {
            Decimal::from_str(v.trim())
                .map_err(|_| E::custom(format!("{v:?} is not an amount, e.g. \"2500.50\"")))
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Decimal, E> {
            Err(E::custom(format!(
                "write amounts with cents in quotes (\"{v}\"): a YAML number with a fraction is a binary float"
            )))
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// What went wrong with the file: each problem with its key's path.
#[derive(Debug, PartialEq, Eq)]
pub struct FileErrors {
    pub file: PathBuf,
    pub problems: Vec<(String, String)>,
}

impl std::fmt::Display for FileErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is not a valid bot configuration:",
            self.file.display()
        )?;
        for (key, message) in &self.problems {
            if key.is_empty() {
                write!(f, "\n  {message}")?;
            } else {
                write!(f, "\n  {key}: {message}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for FileErrors {}

/// A file read and checked: what the bot runs.
#[derive(Clone, Debug, PartialEq)]
pub struct BotSettings {
    /// The file it was read from.
    pub path: PathBuf,
    pub file: BotFile,
    pub symbol: Symbol,
    pub name: String,
    /// The state database, resolved against the file's directory.
    pub state: PathBuf,
}

impl BotSettings {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, FileErrors> {
        let text = std::fs::read_to_string(path).map_err(|err| FileErrors {
            file: path.to_owned(),
            problems: vec![(String::new(), format!("cannot be read: {err}"))],
        })?;
        Self::parse(&text, path)
    }

    /// Checks the text of the file at `path` (the path resolves `state`).
    pub fn parse(text: &str, path: &Path) -> Result<Self, FileErrors> {
        let errors = |problems| FileErrors {
            file: path.to_owned(),
            problems,
        };
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let file: BotFile = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let key = err.path().to_string();
            let key = if key == "." { String::new() } else { key };
            // serde_yaml_ng names the enclosing key itself ("strategy: unknown field …")
            // and puts the line and column after the message.
            let message = err.into_inner().to_string();
            let message = match message.split_once(": ") {
                Some((head, rest)) if !head.contains(' ') => rest.to_owned(),
                _ => message,
            };
            errors(vec![(key, message)])
        })?;
        let mut problems = Vec::new();
        let symbol = Symbol::parse(&file.symbol)
            .map_err(|m| problems.push(("symbol".into(), m)))
            .ok();
        if file.capital < Decimal::ONE {
            problems.push(("capital".into(), "must be at least 1 (dollar)".into()));
        }
        if jiff::civil::Time::strptime("%H:%M", &file.evaluate_at).is_err() {
            problems.push((
                "evaluate_at".into(),
                format!(
                    "{:?} is not a time as HH:MM, e.g. \"16:10\"",
                    file.evaluate_at
                ),
            ));
        }
        if let Err(fields) = file.strategy.validate() {
            problems.extend(
                fields
                    .into_iter()
                    .map(|(key, message)| (format!("strategy.{key}"), message)),
            );
        }
        if !(10..=3_600_000).contains(&file.poll_ms) {
            problems.push(("poll_ms".into(), "must be 10 to 3600000".into()));
        }
        if let Some(url) = &file.broker.url
            && url::Url::parse(url).is_err()
        {
            problems.push(("broker.url".into(), format!("{url:?} is not a URL")));
        }
        if let Some(url) = &file.broker.data_url
            && url::Url::parse(url).is_err()
        {
            problems.push(("broker.data_url".into(), format!("{url:?} is not a URL")));
        }
        let name = file
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{} MA crossover", file.symbol.trim().to_uppercase()));
        let (Some(symbol), true) = (symbol, problems.is_empty()) else {
            return Err(errors(problems));
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let state = match &file.state {
            Some(state) => dir.join(state),
            None => {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "bot".into());
                dir.join(format!("{stem}.sqlite"))
            }
        };
        Ok(Self {
            path: path.to_owned(),
            file,
            symbol,
            name,
            state,
        })
    }

    /// The key pair: from the file, else the environment (apca's variable names).
    pub fn keys(&self) -> anyhow::Result<(String, String)> {
        let pick = |given: &Option<String>, var: &str| {
            given
                .clone()
                .or_else(|| std::env::var(var).ok())
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!("no broker key: set {var} or broker.{} in the file", {
                        if var.ends_with("KEY_ID") {
                            "key_id"
                        } else {
                            "secret"
                        }
                    })
                })
        };
        Ok((
            pick(&self.file.broker.key_id, "APCA_API_KEY_ID")?,
            pick(&self.file.broker.secret, "APCA_API_SECRET_KEY")?,
        ))
    }

    /// The state database's URL.
    pub fn database_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.state.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::strategy::ma_crossover::{ExitRule, Sizing};
    use rust_decimal::dec;

    fn parse(text: &str) -> Result<BotSettings, FileErrors> {
        BotSettings::parse(text, Path::new("/etc/qs/spy.yaml"))
    }

    fn problems(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap_err().problems
    }

    const MINIMAL: &str = "symbol: spy\ncapital: \"2500.50\"\nbroker: {}\n";

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let settings = parse(MINIMAL).unwrap();
        assert_eq!(settings.symbol.as_str(), "SPY");
        assert_eq!(settings.name, "SPY MA crossover");
        assert_eq!(settings.file.capital, dec!(2500.50));
        assert_eq!(settings.file.evaluate_at, "16:10");
        assert_eq!(settings.file.strategy, MaCrossoverConfig::default());
        assert_eq!(settings.state, Path::new("/etc/qs/spy.sqlite"));
        assert_eq!(
            settings.file.broker.trading_url(),
            "https://paper-api.alpaca.markets"
        );
        assert_eq!(settings.file.broker.clock, ClockSource::System);
        assert!(!settings.file.paused);
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../../bot.example.yaml");
        let settings = parse(text).unwrap();
        assert_eq!(settings.file.strategy.fast, 5);
        assert_eq!(settings.file.strategy.slow, 20);
        assert_eq!(
            settings.file.strategy.sizing,
            Sizing::AtrRisk {
                risk_pct: dec!(1),
                atr_multiple: dec!(2)
            }
        );
        assert_eq!(
            settings.file.strategy.take_profit,
            Some(ExitRule::Percent(dec!(10)))
        );
        assert_eq!(settings.state, Path::new("/etc/qs/bot-state.sqlite"));
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let found = problems(&format!("{MINIMAL}strategy:\n  fsat: 3\n"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "strategy.fsat");
        assert!(found[0].1.starts_with("unknown field `fsat`"), "{found:?}");
        assert!(found[0].1.contains("unknown field `fsat`"), "{found:?}");
        let found = problems(&format!(
            "{MINIMAL}strategy:\n  sizing: {{kind: atr_risk, risk_pct: 1, atr_multiple: 2, risk: 3}}\n"
        ));
        assert_eq!(found[0].0, "strategy.sizing.risk", "{found:?}");
        assert!(found[0].1.contains("unknown field `risk`"), "{found:?}");
        let found = problems("symbol: SPY\ncapital: 100\nbroker: {secret_key: x}\n");
        assert_eq!(found[0].0, "broker.secret_key", "{found:?}");
        assert!(found[0].1.contains("secret_key"), "{found:?}");
        let found = problems("symbol: SPY\ncapital: 100\nbroker: {}\ncapitol: 5\n");
        assert_eq!(found[0].0, "capitol", "{found:?}");
        assert!(found[0].1.contains("unknown field `capitol`"), "{found:?}");
    }

    #[test]
    fn the_secret_never_prints() {
        let settings =
            parse("symbol: SPY\ncapital: 100\nbroker: {key_id: PKX, secret: hunter2hunter2}\n")
                .unwrap();
        let printed = format!("{settings:?}");
        assert!(
            printed.contains("PKX") && !printed.contains("hunter2"),
            "{printed}"
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_path() {
        let found = problems(&format!(
            "{MINIMAL}strategy:\n  sizing: {{kind: all_out}}\n"
        ));
        assert_eq!(found[0].0, "strategy.sizing", "{found:?}");
        assert!(
            found[0].1.contains("unknown sizing \"all_out\""),
            "{found:?}"
        );
        let found = problems(&format!("{MINIMAL}strategy:\n  fast: 30\n"));
        assert_eq!(found[0].0, "strategy.fast", "{found:?}");
        let found = problems("symbol: SPY\ncapital: 100.5\nbroker: {}\n");
        assert_eq!(found[0].0, "capital", "{found:?}");
        assert!(found[0].1.contains("in quotes"), "{found:?}");
        let found = problems("symbol: SPY\ncapital: \"0\"\nbroker: {environment: demo}\n");
        assert_eq!(found[0].0, "broker.environment", "{found:?}");
        let found = problems(
            "symbol: \"\"\ncapital: \"0.5\"\nevaluate_at: \"4pm\"\nbroker: {url: nowhere}\n",
        );
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["symbol", "capital", "evaluate_at", "broker.url"]);
        let found = problems("symbol: SPY\nbroker: {}\n");
        assert!(found[0].1.contains("missing field `capital`"), "{found:?}");
    }

    #[test]
    fn the_message_names_the_file_and_each_key() {
        let err =
            parse("symbol: SPY\ncapital: \"0\"\nbroker: {}\nevaluate_at: \"25:00\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/etc/qs/spy.yaml is not a valid bot configuration:"));
        assert!(text.contains("\n  capital: must be at least 1"), "{text}");
        assert!(text.contains("\n  evaluate_at: \"25:00\""), "{text}");
    }
}
