use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// When a slot may buy. On the wire: `{"kind": "close_above_sma", "period": 50}`,
/// `{"kind": "close_below_sma", "period": 20}` or
/// `{"kind": "fast_above_slow", "fast": 10, "slow": 50}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MaCondition {
    /// Trend confirmation: the last close is above its SMA(period).
    CloseAboveSma { period: u32 },
    /// Buy the dip: the last close is below its SMA(period).
    CloseBelowSma { period: u32 },
    /// The fast SMA is above the slow SMA.
    FastAboveSlow { fast: u32, slow: u32 },
}

/// Read as one flat object rather than through serde's internally tagged enums, which
/// buffer every field first: that machinery cost ~4 KB gzip on every browser page that
/// reads a plan (BENCHMARKS.md). Accepts exactly what the derived form accepted, except
/// that a wrongly typed field of another kind (`"fast": "x"` beside `close_above_sma`) is
/// now an error instead of being ignored.
impl<'de> Deserialize<'de> for MaCondition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            CloseAboveSma,
            CloseBelowSma,
            FastAboveSlow,
        }
        #[derive(Deserialize)]
        struct Wire {
            kind: Kind,
            period: Option<u32>,
            fast: Option<u32>,
            slow: Option<u32>,
        }
        let wire = Wire::deserialize(deserializer)?;
        let field = |value: Option<u32>, name: &'static str| {
            value.ok_or_else(|| serde::de::Error::missing_field(name))
        };
        Ok(match wire.kind {
            Kind::CloseAboveSma => Self::CloseAboveSma {
                period: field(wire.period, "period")?,
            },
            Kind::CloseBelowSma => Self::CloseBelowSma {
                period: field(wire.period, "period")?,
            },
            Kind::FastAboveSlow => Self::FastAboveSlow {
                fast: field(wire.fast, "fast")?,
                slow: field(wire.slow, "slow")?,
            },
        })
    }
}

/// What happens to a slot whose condition does not hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_keep_their_wire_form() {
        for condition in [
            MaCondition::CloseAboveSma { period: 50 },
            MaCondition::CloseBelowSma { period: 20 },
            MaCondition::FastAboveSlow { fast: 10, slow: 50 },
        ] {
            let text = serde_json::to_string(&condition).unwrap();
            assert!(text.starts_with(r#"{"kind":""#), "{text}");
            assert_eq!(
                serde_json::from_str::<MaCondition>(&text).unwrap(),
                condition
            );
        }
        let read = |text: &str| serde_json::from_str::<MaCondition>(text);
        assert_eq!(
            read(r#"{"period": 7, "kind": "close_below_sma", "note": "the tag may come last"}"#)
                .unwrap(),
            MaCondition::CloseBelowSma { period: 7 }
        );
        let missing = read(r#"{"kind": "fast_above_slow", "fast": 3}"#).unwrap_err();
        assert!(
            missing.to_string().contains("missing field `slow`"),
            "{missing}"
        );
        let unknown = read(r#"{"kind": "close_near_sma", "period": 3}"#).unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("unknown variant `close_near_sma`"),
            "{unknown}"
        );
        assert!(
            read(r#"{"period": 3}"#)
                .unwrap_err()
                .to_string()
                .contains("missing field `kind`")
        );
        assert!(read(r#"{"kind": "close_above_sma", "period": -1}"#).is_err());
    }
}
