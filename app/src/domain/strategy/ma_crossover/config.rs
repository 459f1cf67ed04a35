use rust_decimal::Decimal;
use rust_decimal::dec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How big an entry is. Read through [`SizingWire`]: a plain struct costs the browser's
/// bundle far less than a tagged enum (bot plans are read on most pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "SizingWire")]
pub enum Sizing {
    /// All available cash less a 0.01 % buffer, divided by the price including commission.
    AllIn,
    /// A fixed dollar amount per trade (capped by the cash available).
    FixedNotional { amount: Decimal },
    /// Risk `risk_pct` % of equity per trade, with the stop `atr_multiple` × ATR away
    /// (capped by the cash available).
    AtrRisk {
        risk_pct: Decimal,
        atr_multiple: Decimal,
    },
}

/// Where a stop loss or take profit sits relative to the entry price (read through
/// [`ExitRuleWire`], as [`Sizing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(
    tag = "kind",
    content = "value",
    rename_all = "snake_case",
    try_from = "ExitRuleWire"
)]
pub enum ExitRule {
    /// This many ATRs (at entry) away from the entry price.
    AtrMultiple(Decimal),
    /// This percentage of the entry price away from it.
    Percent(Decimal),
}

/// [`Sizing`] as JSON: `{"kind": "all_in" | "fixed_notional" | "atr_risk", …}`.
#[derive(Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[cfg_attr(not(feature = "hydrate"), serde(deny_unknown_fields))]
struct SizingWire {
    kind: String,
    amount: Option<Decimal>,
    risk_pct: Option<Decimal>,
    atr_multiple: Option<Decimal>,
}

impl TryFrom<SizingWire> for Sizing {
    type Error = String;

    fn try_from(wire: SizingWire) -> Result<Self, Self::Error> {
        let missing = |field: &str| format!("sizing \"{}\" needs \"{field}\"", wire.kind);
        match wire.kind.as_str() {
            "all_in" => Ok(Sizing::AllIn),
            "fixed_notional" => Ok(Sizing::FixedNotional {
                amount: wire.amount.ok_or_else(|| missing("amount"))?,
            }),
            "atr_risk" => Ok(Sizing::AtrRisk {
                risk_pct: wire.risk_pct.ok_or_else(|| missing("risk_pct"))?,
                atr_multiple: wire.atr_multiple.ok_or_else(|| missing("atr_multiple"))?,
            }),
            other => Err(format!(
                "unknown sizing \"{other}\": use all_in, fixed_notional or atr_risk"
            )),
        }
    }
}

/// [`ExitRule`] as JSON: `{"kind": "atr_multiple" | "percent", "value": "2"}`.
#[derive(Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[cfg_attr(not(feature = "hydrate"), serde(deny_unknown_fields))]
struct ExitRuleWire {
    kind: String,
    value: Decimal,
}

impl TryFrom<ExitRuleWire> for ExitRule {
    type Error = String;

    fn try_from(wire: ExitRuleWire) -> Result<Self, Self::Error> {
        match wire.kind.as_str() {
            "atr_multiple" => Ok(ExitRule::AtrMultiple(wire.value)),
            "percent" => Ok(ExitRule::Percent(wire.value)),
            other => Err(format!(
                "unknown exit rule \"{other}\": use atr_multiple or percent"
            )),
        }
    }
}

/// Enter only when the bar's volume exceeds `multiple` × the average of the previous
/// `period` bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[cfg_attr(not(feature = "hydrate"), serde(deny_unknown_fields))]
pub struct VolumeFilter {
    pub multiple: Decimal,
    pub period: u32,
}

/// The bot's settings; `Default` is the product's default (5/20, ATR-risk 1 % with a
/// 2 × ATR(14) stop, no take profit, fractional shares).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(default)]
/// Unknown keys are refused on the server (a misspelt setting must not silently take its
/// default); the browser never reads one it did not write.
#[cfg_attr(not(feature = "hydrate"), serde(deny_unknown_fields))]
pub struct MaCrossoverConfig {
    pub fast: u32,
    pub slow: u32,
    pub atr_period: u32,
    pub sizing: Sizing,
    pub stop_loss: Option<ExitRule>,
    pub take_profit: Option<ExitRule>,
    pub volume_filter: Option<VolumeFilter>,
    /// Enter only when the close is above SMA(this many bars), e.g. 50 or 200.
    pub trend_filter: Option<u32>,
    pub whole_shares: bool,
    /// Commission as a fraction of traded value, used to size entries so they are affordable.
    pub commission: Decimal,
}

impl Default for MaCrossoverConfig {
    fn default() -> Self {
        Self {
            fast: 5,
            slow: 20,
            atr_period: 14,
            sizing: Sizing::AtrRisk {
                risk_pct: dec!(1),
                atr_multiple: dec!(2),
            },
            stop_loss: Some(ExitRule::AtrMultiple(dec!(2))),
            take_profit: None,
            volume_filter: None,
            trend_filter: None,
            whole_shares: false,
            commission: Decimal::ZERO,
        }
    }
}

impl MaCrossoverConfig {
    /// Daily bars a live bot needs before its first evaluation so that evaluation uses
    /// every rule, as the backtest of the same bars would: a crossover compares the SMAs on
    /// two bars (`slow + 1`), the ATR seeds over `atr_period` bars (when a rule reads it),
    /// the volume filter averages the `period` bars before the one it judges, and the trend
    /// filter is an SMA. (Checked against [`super::MaCrossover::is_warm`] in the tests.)
    pub fn warm_up_bars(&self) -> usize {
        let uses_atr = matches!(self.sizing, Sizing::AtrRisk { .. })
            || matches!(self.stop_loss, Some(ExitRule::AtrMultiple(_)))
            || matches!(self.take_profit, Some(ExitRule::AtrMultiple(_)));
        [
            self.slow as usize + 1,
            if uses_atr {
                self.atr_period as usize
            } else {
                0
            },
            self.volume_filter.map_or(0, |f| f.period as usize + 1),
            self.trend_filter.map_or(0, |p| p as usize),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Each broken rule: the setting's key and what is wrong, in the settings' order.
    fn problems(&self) -> impl Iterator<Item = (&'static str, &'static str)> {
        let exit_ok = |key: &str, rule: Option<ExitRule>| match rule {
            None => true,
            Some(ExitRule::AtrMultiple(m)) => m > Decimal::ZERO,
            Some(ExitRule::Percent(p)) => {
                p > Decimal::ZERO && (key == "take_profit" || p < dec!(100))
            }
        };
        const EXIT: &str = "Use a positive ATR multiple or percentage (a stop below 100 %).";
        let rules: [(bool, &'static str, &'static str); 9] = [
            (
                self.fast >= 1 && self.fast < self.slow,
                "fast",
                "The fast period must be at least 1 and below the slow one.",
            ),
            (
                self.slow <= 1000,
                "slow",
                "The slow period can be at most 1000 bars.",
            ),
            (
                (1..=1000).contains(&self.atr_period),
                "atr_period",
                "The ATR period must be 1–1000 bars.",
            ),
            (
                self.commission >= Decimal::ZERO && self.commission < dec!(0.1),
                "commission",
                "Commission is a fraction of traded value below 0.1 (10 %).",
            ),
            match self.sizing {
                Sizing::AllIn => (true, "sizing", ""),
                Sizing::FixedNotional { amount } => (
                    amount >= Decimal::ONE,
                    "sizing",
                    "A fixed amount must be at least $1.",
                ),
                Sizing::AtrRisk {
                    risk_pct,
                    atr_multiple,
                } => (
                    risk_pct > Decimal::ZERO
                        && risk_pct <= dec!(100)
                        && atr_multiple > Decimal::ZERO,
                    "sizing",
                    "Risk must be above 0 and at most 100 %, with a positive ATR multiple.",
                ),
            },
            (exit_ok("stop_loss", self.stop_loss), "stop_loss", EXIT),
            (
                exit_ok("take_profit", self.take_profit),
                "take_profit",
                EXIT,
            ),
            (
                self.volume_filter.is_none_or(|filter| {
                    filter.multiple > Decimal::ZERO && (1..=1000).contains(&filter.period)
                }),
                "volume_filter",
                "The volume multiple must be positive and the period 1–1000 bars.",
            ),
            (
                self.trend_filter
                    .is_none_or(|period| (2..=1000).contains(&period)),
                "trend_filter",
                "The trend SMA period must be 2–1000 bars.",
            ),
        ];
        rules
            .into_iter()
            .filter(|(ok, _, _)| !ok)
            .map(|(_, key, message)| (key, message))
    }

    /// What is wrong first, if anything (the browser's backtest form).
    pub fn first_problem(&self) -> Option<&'static str> {
        self.problems().next().map(|(_, message)| message)
    }

    pub fn validate(&self) -> Result<(), BTreeMap<String, String>> {
        let errors: BTreeMap<String, String> = self
            .problems()
            .map(|(key, message)| (key.to_owned(), message.to_owned()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod wire_tests {
    use super::*;

    /// Every sizing and exit rule reads back what it writes (the backtest report's form),
    /// and an unknown kind is refused by name.
    #[test]
    fn settings_round_trip_through_their_json_form() {
        for sizing in [
            Sizing::AllIn,
            Sizing::FixedNotional { amount: dec!(250) },
            Sizing::AtrRisk {
                risk_pct: dec!(1.5),
                atr_multiple: dec!(3),
            },
        ] {
            for exit in [ExitRule::AtrMultiple(dec!(2)), ExitRule::Percent(dec!(7.5))] {
                let config = MaCrossoverConfig {
                    sizing,
                    stop_loss: Some(exit),
                    take_profit: Some(exit),
                    volume_filter: Some(VolumeFilter {
                        multiple: dec!(1.2),
                        period: 10,
                    }),
                    trend_filter: Some(200),
                    ..MaCrossoverConfig::default()
                };
                let json = serde_json::to_value(config).unwrap();
                assert_eq!(
                    serde_json::from_value::<MaCrossoverConfig>(json.clone()).unwrap(),
                    config,
                    "{json}"
                );
            }
        }
        let json = serde_json::json!({"sizing": {"kind": "atr_risk", "risk_pct": "1", "atr_multiple": "2"},
                                      "stop_loss": {"kind": "percent", "value": "3"}});
        let config: MaCrossoverConfig = serde_json::from_value(json).unwrap();
        assert_eq!(config.stop_loss, Some(ExitRule::Percent(dec!(3))));
        let bad = serde_json::json!({"sizing": {"kind": "martingale"}});
        let err = serde_json::from_value::<MaCrossoverConfig>(bad).unwrap_err();
        assert!(
            err.to_string().contains("unknown sizing \"martingale\""),
            "{err}"
        );
        let missing = serde_json::json!({"sizing": {"kind": "fixed_notional"}});
        let err = serde_json::from_value::<MaCrossoverConfig>(missing).unwrap_err();
        assert!(err.to_string().contains("needs \"amount\""), "{err}");
    }
}
