//! Offline research commands: `quantshift backtest` over a CSV file and
//! `quantshift calendar`. Both run the shared domain code unchanged.

use anyhow::{Context as _, bail};
use app::domain::backtest::{BacktestConfig, BacktestReport, FillAt, StrategySpec, run_backtest};
use app::domain::calendar;
use app::domain::market::{Symbol, round_cents};
use app::domain::plan::PlanStrategy;
use app::domain::schedule::{DayOfMonth, Frequency, Schedule, Weekday};
use app::domain::strategy::dca::Leg;
use app::domain::strategy::ma_crossover::{ExitRule, MaCrossoverConfig, Sizing, VolumeFilter};
use app::domain::strategy::smart_dca::{MaCondition, SmartDcaConfig, WhenNotMet};
use clap::ValueEnum;
use rust_decimal::Decimal;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr as _;

fn decimal(value: &str) -> Result<Decimal, String> {
    Decimal::from_str(value.trim()).map_err(|_| format!("{value:?} is not a decimal number"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StrategyName {
    MaCrossover,
    Dca,
    SmartDca,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SizingName {
    AllIn,
    FixedNotional,
    AtrRisk,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConditionName {
    CloseAboveSma,
    CloseBelowSma,
    FastAboveSlow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FrequencyName {
    Daily,
    Weekly,
    Monthly,
}

/// `quantshift backtest`: run a strategy over bars from a CSV file.
#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// CSV with a header row naming Date, Open, High, Low, Close, Volume.
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// The symbol the bars are for [default: the file name, e.g. spy.csv → SPY].
    #[arg(long)]
    pub symbol: Option<String>,
    #[arg(long, value_enum)]
    pub strategy: StrategyName,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Starting cash (MA crossover).
    #[arg(long, default_value = "10000", value_parser = decimal)]
    pub cash: Decimal,
    /// Commission as a fraction of traded value, e.g. 0.002.
    #[arg(long, default_value = "0", value_parser = decimal)]
    pub commission: Decimal,
    /// Slippage in basis points.
    #[arg(long, default_value = "0", value_parser = decimal)]
    pub slippage_bps: Decimal,
    /// Fill orders at the same bar's close instead of the next bar's open.
    #[arg(long)]
    pub fill_at_close: bool,

    /// Fast SMA period (MA crossover; also the fast period of --condition fast-above-slow).
    #[arg(long, default_value_t = 5)]
    pub fast: u32,
    /// Slow SMA period.
    #[arg(long, default_value_t = 20)]
    pub slow: u32,
    #[arg(long, value_enum, default_value = "atr-risk")]
    pub sizing: SizingName,
    /// Dollars per trade for --sizing fixed-notional.
    #[arg(long, default_value = "1000", value_parser = decimal)]
    pub notional: Decimal,
    /// Percent of equity risked per trade for --sizing atr-risk.
    #[arg(long, default_value = "1", value_parser = decimal)]
    pub risk_pct: Decimal,
    /// ATR multiple of the stop distance used by --sizing atr-risk.
    #[arg(long, default_value = "2", value_parser = decimal)]
    pub atr_multiple: Decimal,
    #[arg(long, default_value_t = 14)]
    pub atr_period: u32,
    /// Stop loss at this many ATRs below the entry [default: 2].
    #[arg(long, value_parser = decimal, conflicts_with = "stop_pct")]
    pub stop_atr: Option<Decimal>,
    /// Stop loss at this percentage below the entry.
    #[arg(long, value_parser = decimal)]
    pub stop_pct: Option<Decimal>,
    /// No stop loss at all.
    #[arg(long, conflicts_with_all = ["stop_atr", "stop_pct"])]
    pub no_stop: bool,
    /// Take profit at this many ATRs above the entry.
    #[arg(long, value_parser = decimal, conflicts_with = "take_profit_pct")]
    pub take_profit_atr: Option<Decimal>,
    /// Take profit at this percentage above the entry.
    #[arg(long, value_parser = decimal)]
    pub take_profit_pct: Option<Decimal>,
    /// Enter only when volume exceeds this multiple of its average.
    #[arg(long, value_parser = decimal)]
    pub volume_multiple: Option<Decimal>,
    /// Bars in that volume average.
    #[arg(long, default_value_t = 20)]
    pub volume_period: u32,
    /// Enter only when the close is above SMA(this many bars).
    #[arg(long)]
    pub trend_sma: Option<u32>,
    /// Trade whole shares only.
    #[arg(long)]
    pub whole_shares: bool,

    /// Dollars per purchase (DCA).
    #[arg(long, default_value = "100", value_parser = decimal)]
    pub amount: Decimal,
    #[arg(long, value_enum, default_value = "weekly")]
    pub frequency: FrequencyName,
    /// Every N weeks or months.
    #[arg(long, default_value_t = 1)]
    pub interval: u32,
    /// Weekday of weekly purchases: monday … friday.
    #[arg(long, default_value = "monday")]
    pub weekday: String,
    /// Day of monthly purchases: 1–28, first or last (trading day).
    #[arg(long, default_value = "1")]
    pub day_of_month: String,
    /// Time of day of purchases, HH:MM.
    #[arg(long, default_value = "10:00")]
    pub time: String,
    /// IANA time zone of --time.
    #[arg(long, default_value = "America/New_York")]
    pub timezone: String,
    /// Smart DCA's condition.
    #[arg(long, value_enum, default_value = "close-above-sma")]
    pub condition: ConditionName,
    /// Smart DCA's SMA period (close-above-sma / close-below-sma).
    #[arg(long, default_value_t = 50)]
    pub period: u32,
    /// Carry skipped amounts forward instead of skipping them (Smart DCA).
    #[arg(long)]
    pub carry_forward: bool,
}

impl BacktestArgs {
    fn symbol(&self) -> anyhow::Result<Symbol> {
        let name = match &self.symbol {
            Some(symbol) => symbol.clone(),
            None => self
                .data
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned(),
        };
        Symbol::parse(&name).map_err(|e| {
            anyhow::anyhow!("--symbol: {e} (pass --symbol when the file name is not a symbol)")
        })
    }

    fn schedule(&self) -> anyhow::Result<Schedule> {
        let weekday = match self.weekday.to_ascii_lowercase().as_str() {
            "monday" | "mon" => Weekday::Mon,
            "tuesday" | "tue" => Weekday::Tue,
            "wednesday" | "wed" => Weekday::Wed,
            "thursday" | "thu" => Weekday::Thu,
            "friday" | "fri" => Weekday::Fri,
            other => bail!("--weekday: {other:?} is not a trading weekday (monday … friday)"),
        };
        let day_of_month = match self.day_of_month.as_str() {
            "first" => DayOfMonth::First,
            "last" => DayOfMonth::Last,
            day => DayOfMonth::Day(
                day.parse()
                    .map_err(|_| anyhow::anyhow!("--day-of-month: use 1–28, first or last"))?,
            ),
        };
        let frequency = match self.frequency {
            FrequencyName::Daily => Frequency::Daily,
            FrequencyName::Weekly => Frequency::Weekly,
            FrequencyName::Monthly => Frequency::Monthly,
        };
        Ok(Schedule {
            frequency,
            interval: self.interval,
            weekday: (frequency == Frequency::Weekly).then_some(weekday),
            day_of_month: (frequency == Frequency::Monthly).then_some(day_of_month),
            time: self.time.clone(),
            timezone: self.timezone.clone(),
            anchor: None,
        })
    }

    fn spec(&self, symbol: Symbol) -> anyhow::Result<StrategySpec> {
        let legs = |amount| vec![Leg { symbol, amount }];
        Ok(match self.strategy {
            StrategyName::MaCrossover => {
                let sizing = match self.sizing {
                    SizingName::AllIn => Sizing::AllIn,
                    SizingName::FixedNotional => Sizing::FixedNotional {
                        amount: self.notional,
                    },
                    SizingName::AtrRisk => Sizing::AtrRisk {
                        risk_pct: self.risk_pct,
                        atr_multiple: self.atr_multiple,
                    },
                };
                let stop_loss = if self.no_stop {
                    None
                } else if let Some(pct) = self.stop_pct {
                    Some(ExitRule::Percent(pct))
                } else {
                    Some(ExitRule::AtrMultiple(self.stop_atr.unwrap_or(Decimal::TWO)))
                };
                let take_profit = self
                    .take_profit_pct
                    .map(ExitRule::Percent)
                    .or(self.take_profit_atr.map(ExitRule::AtrMultiple));
                let config = MaCrossoverConfig {
                    fast: self.fast,
                    slow: self.slow,
                    atr_period: self.atr_period,
                    sizing,
                    stop_loss,
                    take_profit,
                    volume_filter: self.volume_multiple.map(|multiple| VolumeFilter {
                        multiple,
                        period: self.volume_period,
                    }),
                    trend_filter: self.trend_sma,
                    whole_shares: self.whole_shares,
                    commission: self.commission,
                };
                // The bot's capital is its one leg's amount: the starting cash.
                StrategySpec {
                    strategy: PlanStrategy::Discretionary(config),
                    legs: legs(self.cash),
                    schedule: Schedule::after_the_close(),
                }
            }
            StrategyName::Dca => StrategySpec {
                strategy: PlanStrategy::Pure,
                schedule: self.schedule()?,
                legs: legs(self.amount),
            },
            StrategyName::SmartDca => {
                let condition = match self.condition {
                    ConditionName::CloseAboveSma => MaCondition::CloseAboveSma {
                        period: self.period,
                    },
                    ConditionName::CloseBelowSma => MaCondition::CloseBelowSma {
                        period: self.period,
                    },
                    ConditionName::FastAboveSlow => MaCondition::FastAboveSlow {
                        fast: self.fast,
                        slow: self.slow,
                    },
                };
                let when_not_met = if self.carry_forward {
                    WhenNotMet::CarryForward
                } else {
                    WhenNotMet::Skip
                };
                StrategySpec {
                    strategy: PlanStrategy::Smart(SmartDcaConfig {
                        condition,
                        when_not_met,
                    }),
                    schedule: self.schedule()?,
                    legs: legs(self.amount),
                }
            }
        })
    }
}

/// Runs the backtest and returns what to print.
pub fn backtest(args: &BacktestArgs) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(&args.data)
        .with_context(|| format!("failed to read {}", args.data.display()))?;
    let bars = app::domain::csv::parse_bars(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.data.display()))?;
    let symbol = args.symbol()?;
    let spec = args.spec(symbol.clone())?;
    let config = BacktestConfig {
        initial_cash: args.cash,
        commission: args.commission,
        slippage_bps: args.slippage_bps,
        fill_at: if args.fill_at_close {
            FillAt::SameClose
        } else {
            FillAt::NextOpen
        },
        ..BacktestConfig::default()
    };
    let report =
        run_backtest(&spec, &[(symbol, bars)], config).map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("strategy".into(), spec.name().into());
            if matches!(spec.strategy, PlanStrategy::Discretionary(_)) {
                object.remove("purchases");
                object.remove("skipped");
            }
        }
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    Ok(table(spec.name(), &report))
}

fn pct(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.2} %"))
}

fn ratio(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |v| format!("{v:.2}"))
}

/// A readable summary: the statistics, then the trades or purchases.
fn table(strategy: &str, report: &BacktestReport) -> String {
    let s = &report.stats;
    let ny = calendar::new_york();
    let date = |t: jiff::Timestamp| ny.to_datetime(t).date().to_string();
    let mut out = String::new();
    let mut row = |name: &str, value: String| {
        let _ = writeln!(out, "{name:<24}{value:>20}");
    };
    row("strategy", strategy.to_string());
    row("period", format!("{} … {}", date(s.start), date(s.end)));
    row("bars", s.bars.to_string());
    if let Some(dca) = &s.dca {
        row("purchases", dca.purchases.to_string());
        row(
            "total invested",
            format!("${}", round_cents(dca.total_invested)),
        );
        row("final value", format!("${}", round_cents(dca.final_value)));
        row("profit", format!("${}", round_cents(dca.profit)));
        row("XIRR", pct(dca.xirr_pct));
        row(
            "lump sum final value",
            format!("${}", round_cents(dca.lump_sum_final_value)),
        );
    } else {
        row("initial cash", format!("${}", round_cents(s.initial_cash)));
        row("final equity", format!("${}", round_cents(s.final_equity)));
    }
    row("total return", pct(Some(s.total_return_pct)));
    row("CAGR", pct(s.cagr_pct));
    row("max drawdown", pct(Some(s.max_drawdown_pct)));
    row("Sharpe", ratio(s.sharpe));
    row("Sortino", ratio(s.sortino));
    row("exposure", pct(Some(s.exposure_pct)));
    row("closed trades", s.trades.to_string());
    row("win rate", pct(s.win_rate_pct));
    row("profit factor", ratio(s.profit_factor));
    row(
        "average trade",
        format!("${}", round_cents(s.average_trade)),
    );
    row("commissions", format!("${}", round_cents(s.commissions)));
    if !report.trades.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<12}{:<12}{:>14}{:>12}{:>12}{:>12}{:>10}",
            "entry", "exit", "qty", "entry $", "exit $", "P&L $", "return"
        );
        for t in &report.trades {
            let _ = writeln!(
                out,
                "{:<12}{:<12}{:>14}{:>12}{:>12}{:>12}{:>9.2}%",
                date(t.entry_time),
                date(t.exit_time),
                t.qty.round_dp(4),
                t.entry_price.round_dp(2),
                t.exit_price.round_dp(2),
                round_cents(t.pnl),
                t.return_pct
            );
        }
    }
    if let Some(open) = &report.open_position {
        let _ = writeln!(
            out,
            "\nopen position: {} {} since {} at {}, marked at {} (unrealised ${})",
            open.qty.round_dp(4),
            open.symbol,
            date(open.entry_time),
            open.entry_price.round_dp(2),
            open.last_price.round_dp(2),
            round_cents(open.unrealized_pnl)
        );
    }
    if s.dca.is_some() {
        let _ = writeln!(
            out,
            "\n{} purchases, {} skipped slots",
            report.purchases.len(),
            report.skipped.len()
        );
        for skip in report.skipped.iter().take(20) {
            let _ = writeln!(out, "  {} {}", date(skip.time), skip.reason);
        }
    }
    out
}

/// `quantshift calendar`: one trading day per line, `YYYY-MM-DD HH:MM HH:MM`.
pub fn calendar_lines(from: jiff::civil::Date, to: jiff::civil::Date) -> anyhow::Result<String> {
    let range = calendar::FIRST_YEAR..=calendar::LAST_YEAR;
    if !range.contains(&from.year()) || !range.contains(&to.year()) {
        bail!(
            "the calendar covers {} to {}",
            calendar::FIRST_YEAR,
            calendar::LAST_YEAR
        );
    }
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    Ok(calendar::sessions(from, to)
        .map(|s| calendar::format_session_line(&s) + "\n")
        .collect())
}
