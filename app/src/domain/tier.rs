//! Subscription tiers: what each one allows (distinct symbols in use, schedules,
//! strategies, live trading) and its monthly price. One table, shared by the server (which
//! enforces it when a plan is saved or resumed and when live keys are connected) and the
//! browser; an operator can change every number (`[tiers.*]` in the configuration).

use super::market::Symbol;
use super::plan::{Plan, PlanStrategy};
use super::schedule::Frequency;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    Free,
    Basic,
    Pro,
    Premium,
}

impl Tier {
    /// Cheapest first.
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Basic, Tier::Pro, Tier::Premium];

    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Basic => "basic",
            Tier::Pro => "pro",
            Tier::Premium => "premium",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Tier::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The name people read: "Pro".
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Free => "Free",
            Tier::Basic => "Basic",
            Tier::Pro => "Pro",
            Tier::Premium => "Premium",
        }
    }
}

/// What one tier allows, and what it costs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRules {
    /// US dollars a month.
    pub price: Decimal,
    /// Distinct symbols across the user's active and paused plans; `None`: unlimited.
    pub max_symbols: Option<u32>,
    /// The schedules a plan may use.
    pub frequencies: Vec<Frequency>,
    /// Whether a plan may run every N weeks, months or days (N > 1).
    pub every_n: bool,
    pub smart_dca: bool,
    pub signal_bots: bool,
    /// Whether live (real money) broker keys may be connected; paper always may.
    pub live_trading: bool,
}

/// The whole table. Defaults: Free $0 (3 symbols, weekly, Pure DCA, paper only), Basic $9
/// (the same with live trading), Pro $19 (10 symbols, every schedule), Premium $29
/// (unlimited, Smart DCA and signal bots).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tiers {
    pub free: TierRules,
    pub basic: TierRules,
    pub pro: TierRules,
    pub premium: TierRules,
}

impl Default for Tiers {
    fn default() -> Self {
        let weekly = TierRules {
            price: Decimal::ZERO,
            max_symbols: Some(3),
            frequencies: vec![Frequency::Weekly],
            every_n: false,
            smart_dca: false,
            signal_bots: false,
            live_trading: false,
        };
        let every_schedule = vec![Frequency::Daily, Frequency::Weekly, Frequency::Monthly];
        Self {
            free: weekly.clone(),
            basic: TierRules {
                price: Decimal::from(9),
                live_trading: true,
                ..weekly.clone()
            },
            pro: TierRules {
                price: Decimal::from(19),
                max_symbols: Some(10),
                frequencies: every_schedule.clone(),
                every_n: true,
                live_trading: true,
                ..weekly
            },
            premium: TierRules {
                price: Decimal::from(29),
                max_symbols: None,
                frequencies: every_schedule,
                every_n: true,
                smart_dca: true,
                signal_bots: true,
                live_trading: true,
            },
        }
    }
}

fn frequency_word(frequency: Frequency) -> &'static str {
    match frequency {
        Frequency::Daily => "daily",
        Frequency::Weekly => "weekly",
        Frequency::Monthly => "monthly",
    }
}

impl Tiers {
    pub fn rules(&self, tier: Tier) -> &TierRules {
        match tier {
            Tier::Free => &self.free,
            Tier::Basic => &self.basic,
            Tier::Pro => &self.pro,
            Tier::Premium => &self.premium,
        }
    }

    /// "… needs Pro": the cheapest tier that `allows`, or that none does.
    fn needs(&self, what: &str, allows: impl Fn(&TierRules) -> bool) -> String {
        match Tier::ALL.into_iter().find(|t| allows(self.rules(*t))) {
            Some(tier) => format!("{what} needs {}.", tier.name()),
            None => format!("{what} is not offered."),
        }
    }

    /// Every way `plan` goes beyond `tier`, keyed like [`Plan::validate`]'s fields, each
    /// naming the limit and the cheapest tier that allows it ("Basic allows weekly plans;
    /// daily needs Pro."). `symbols_elsewhere`: the distinct symbols of the user's other
    /// active and paused plans.
    pub fn check_plan(
        &self,
        tier: Tier,
        plan: &Plan,
        symbols_elsewhere: &BTreeSet<Symbol>,
    ) -> Result<(), BTreeMap<String, String>> {
        let rules = self.rules(tier);
        let name = tier.name();
        let mut errors = BTreeMap::new();
        let schedule = &plan.schedule;
        if !rules.frequencies.contains(&schedule.frequency) {
            let allowed: Vec<&str> = rules
                .frequencies
                .iter()
                .map(|f| frequency_word(*f))
                .collect();
            let word = frequency_word(schedule.frequency);
            let needs = self.needs(word, |r| r.frequencies.contains(&schedule.frequency));
            errors.insert(
                "schedule.frequency".into(),
                format!("{name} allows {} plans; {needs}", allowed.join(", ")),
            );
        } else if schedule.interval > 1 && !rules.every_n {
            let needs = self.needs(&format!("every {}", schedule.interval), |r| {
                r.every_n && r.frequencies.contains(&schedule.frequency)
            });
            errors.insert(
                "schedule.interval".into(),
                format!("{name} allows a purchase every period, not every few; {needs}"),
            );
        }
        match plan.strategy {
            PlanStrategy::Pure => {}
            PlanStrategy::Smart(_) if !rules.smart_dca => {
                let needs = self.needs("Smart DCA", |r| r.smart_dca);
                errors.insert("mode".into(), format!("{name} allows Pure DCA; {needs}"));
            }
            PlanStrategy::Discretionary(_) if !rules.signal_bots => {
                let needs = self.needs("a signal bot", |r| r.signal_bots);
                errors.insert("mode".into(), format!("{name} allows Pure DCA; {needs}"));
            }
            PlanStrategy::Smart(_) | PlanStrategy::Discretionary(_) => {}
        }
        if let Some(max) = rules.max_symbols {
            let mut symbols = symbols_elsewhere.clone();
            symbols.extend(plan.legs.iter().map(|leg| leg.symbol.clone()));
            let count = symbols.len();
            if count > max as usize {
                let needs = self.needs(&format!("{count} symbols"), |r| {
                    r.max_symbols.is_none_or(|m| count <= m as usize)
                });
                errors.insert(
                    "legs".into(),
                    format!(
                        "{name} allows {max} different symbols across your active and paused \
                         plans; with this plan you would have {count}: {needs}"
                    ),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Whether `tier` may connect live (real money) broker keys.
    pub fn check_live(&self, tier: Tier) -> Result<(), String> {
        if self.rules(tier).live_trading {
            Ok(())
        } else {
            Err(format!(
                "{} trades on paper only; {}",
                tier.name(),
                self.needs("live trading", |r| r.live_trading)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::{Schedule, Weekday};
    use crate::domain::strategy::dca::Leg;
    use crate::domain::strategy::smart_dca::SmartDcaConfig;

    fn plan(frequency: Frequency, interval: u32, symbols: &[&str]) -> Plan {
        Plan {
            id: None,
            name: "p".into(),
            strategy: PlanStrategy::Pure,
            legs: symbols
                .iter()
                .map(|s| Leg {
                    symbol: Symbol::parse(s).unwrap(),
                    amount: Decimal::from(10),
                })
                .collect(),
            schedule: Schedule {
                frequency,
                interval,
                weekday: (frequency == Frequency::Weekly).then_some(Weekday::Mon),
                day_of_month: None,
                time: "10:00".into(),
                timezone: "America/New_York".into(),
                anchor: None,
            },
            queue_outside_hours: false,
            status: Default::default(),
            next_run_at: None,
            created_at: None,
            updated_at: None,
        }
    }

    fn symbols(list: &[&str]) -> BTreeSet<Symbol> {
        list.iter().map(|s| Symbol::parse(s).unwrap()).collect()
    }

    #[test]
    fn each_tier_allows_what_the_table_says() {
        let tiers = Tiers::default();
        let none = BTreeSet::new();
        let weekly = plan(Frequency::Weekly, 1, &["SPY"]);
        for tier in Tier::ALL {
            assert_eq!(tiers.check_plan(tier, &weekly, &none), Ok(()), "{tier:?}");
        }
        let daily = plan(Frequency::Daily, 1, &["SPY"]);
        let errors = tiers.check_plan(Tier::Basic, &daily, &none).unwrap_err();
        assert_eq!(
            errors["schedule.frequency"],
            "Basic allows weekly plans; daily needs Pro."
        );
        assert!(tiers.check_plan(Tier::Pro, &daily, &none).is_ok());

        let fortnightly = plan(Frequency::Weekly, 2, &["SPY"]);
        let errors = tiers
            .check_plan(Tier::Free, &fortnightly, &none)
            .unwrap_err();
        assert!(
            errors["schedule.interval"].ends_with("every 2 needs Pro."),
            "{errors:?}"
        );
        assert!(tiers.check_plan(Tier::Pro, &fortnightly, &none).is_ok());

        let mut smart = plan(Frequency::Weekly, 1, &["SPY"]);
        smart.strategy = PlanStrategy::Smart(SmartDcaConfig::default());
        let errors = tiers.check_plan(Tier::Pro, &smart, &none).unwrap_err();
        assert_eq!(
            errors["mode"],
            "Pro allows Pure DCA; Smart DCA needs Premium."
        );
        assert!(tiers.check_plan(Tier::Premium, &smart, &none).is_ok());
    }

    #[test]
    fn symbols_count_across_plans_once_each() {
        let tiers = Tiers::default();
        let elsewhere = symbols(&["SPY", "QQQ"]);
        // SPY again and one new symbol: three distinct, within Free's three.
        let third = plan(Frequency::Weekly, 1, &["SPY", "VTI"]);
        assert!(tiers.check_plan(Tier::Free, &third, &elsewhere).is_ok());
        let fourth = plan(Frequency::Weekly, 1, &["VTI", "IWM"]);
        let errors = tiers
            .check_plan(Tier::Free, &fourth, &elsewhere)
            .unwrap_err();
        assert!(
            errors["legs"].starts_with("Free allows 3 different symbols"),
            "{errors:?}"
        );
        assert!(
            errors["legs"].ends_with("4 symbols needs Pro."),
            "{errors:?}"
        );
        assert!(tiers.check_plan(Tier::Pro, &fourth, &elsewhere).is_ok());
        let many: Vec<String> = (0..11).map(|i| format!("S{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let errors = tiers
            .check_plan(
                Tier::Pro,
                &plan(Frequency::Weekly, 1, &many),
                &BTreeSet::new(),
            )
            .unwrap_err();
        assert!(
            errors["legs"].ends_with("11 symbols needs Premium."),
            "{errors:?}"
        );
        assert!(
            tiers
                .check_plan(
                    Tier::Premium,
                    &plan(Frequency::Weekly, 1, &many),
                    &BTreeSet::new()
                )
                .is_ok()
        );
    }

    #[test]
    fn live_trading_starts_at_basic_and_operators_can_change_the_table() {
        let mut tiers = Tiers::default();
        assert_eq!(
            tiers.check_live(Tier::Free),
            Err("Free trades on paper only; live trading needs Basic.".into())
        );
        assert!(tiers.check_live(Tier::Basic).is_ok());
        tiers.basic.live_trading = false;
        assert!(
            tiers
                .check_live(Tier::Basic)
                .unwrap_err()
                .ends_with("needs Pro.")
        );
        tiers.free.frequencies.push(Frequency::Daily);
        assert!(
            tiers
                .check_plan(
                    Tier::Free,
                    &plan(Frequency::Daily, 1, &["SPY"]),
                    &BTreeSet::new()
                )
                .is_ok()
        );
        assert_eq!(Tier::parse("pro"), Some(Tier::Pro));
        assert_eq!(Tier::parse("gold"), None);
    }
}
