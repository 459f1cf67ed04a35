use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// When a slot may buy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MaCondition {
    /// Trend confirmation: the last close is above its SMA(period).
    CloseAboveSma { period: u32 },
    /// Buy the dip: the last close is below its SMA(period).
    CloseBelowSma { period: u32 },
    /// The fast SMA is above the slow SMA.
    FastAboveSlow { fast: u32, slow: u32 },
}

/// What happens to a slot whose condition does not hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenNotMet {
    /// The slot's money is not spent.
    #[default]
    Skip,
    /// The slot's amount is added to the next slot that buys.
    CarryForward,
}

/// Smart DCA settings. Default: buy when the close is above its 50-day SMA, else skip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmartDcaConfig {
    pub condition: MaCondition,
    #[serde(default)]
    pub when_not_met: WhenNotMet,
}

impl Default for SmartDcaConfig {
    fn default() -> Self {
        Self {
            condition: MaCondition::CloseAboveSma { period: 50 },
            when_not_met: WhenNotMet::Skip,
        }
    }
}

impl SmartDcaConfig {
    /// Field-level problems, keyed `smart.condition`.
    pub fn validate(&self) -> Result<(), BTreeMap<String, String>> {
        let problem = match self.condition {
            MaCondition::CloseAboveSma { period } | MaCondition::CloseBelowSma { period }
                if !(2..=400).contains(&period) =>
            {
                Some("The SMA period must be between 2 and 400 bars.".to_string())
            }
            MaCondition::FastAboveSlow { fast, slow } if fast < 1 || slow > 400 || fast >= slow => {
                Some("The fast period must be at least 1 and shorter than the slow one (at most 400).".into())
            }
            _ => None,
        };
        match problem {
            Some(message) => Err(BTreeMap::from([("smart.condition".to_string(), message)])),
            None => Ok(()),
        }
    }

    /// A short description, e.g. "close above SMA(50)".
    pub fn describe(&self) -> String {
        match self.condition {
            MaCondition::CloseAboveSma { period } => format!("close above SMA({period})"),
            MaCondition::CloseBelowSma { period } => format!("close below SMA({period})"),
            MaCondition::FastAboveSlow { fast, slow } => format!("SMA({fast}) above SMA({slow})"),
        }
    }
}
