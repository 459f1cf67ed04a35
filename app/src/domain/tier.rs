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
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
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

impl TierRules {
    /// What the tier offers, in a few short lines (the pricing cards).
    pub fn features(&self) -> Vec<String> {
        let symbols = match self.max_symbols {
            Some(n) => format!("{n} symbols"),
            None => "Unlimited symbols".to_owned(),
        };
        let schedules = self
            .frequencies
            .iter()
            .map(|f| match f {
                Frequency::Daily => "daily",
                Frequency::Weekly => "weekly",
                Frequency::Monthly => "monthly",
            })
            .collect::<Vec<_>>()
            .join(", ");
        let every = if self.every_n { " or every few" } else { "" };
        let mut strategies = vec!["Pure DCA"];
        if self.smart_dca {
            strategies.push("Smart DCA");
        }
        if self.signal_bots {
            strategies.push("MA-crossover signal bots");
        }
        vec![
            format!("{symbols}, {schedules}{every} plans"),
            strategies.join(", "),
            if self.live_trading {
                "Paper and live Alpaca accounts".to_owned()
            } else {
                "Paper trading only".to_owned()
            },
        ]
    }
}

/// The whole table. Defaults: Free $0 (3 symbols, weekly, Pure DCA, paper only), Basic $9
/// (the same with live trading), Pro $19 (10 symbols, every schedule), Premium $29
/// (unlimited, Smart DCA and signal bots).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
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

fn period_word(frequency: Frequency) -> &'static str {
    match frequency {
        Frequency::Daily => "days",
        Frequency::Weekly => "weeks",
        Frequency::Monthly => "months",
    }
}

/// The strategies a tier allows, in words: "Pure DCA and Smart DCA".
fn strategies(rules: &TierRules) -> String {
    let mut allowed = vec!["Pure DCA"];
    if rules.smart_dca {
        allowed.push("Smart DCA");
    }
    if rules.signal_bots {
        allowed.push("signal bots");
    }
    allowed.join(" and ")
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
    /// active and paused plans. `stored`: the plan's saved version, when it is an edit or a
    /// resume: a user already over the symbol limit (after a downgrade) may still make
    /// changes that do not add to the count.
    pub fn check_plan(
        &self,
        tier: Tier,
        plan: &Plan,
        symbols_elsewhere: &BTreeSet<Symbol>,
        stored: Option<&Plan>,
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
            let every = format!(
                "every {} {}",
                schedule.interval,
                period_word(schedule.frequency)
            );
            let needs = self.needs(&every, |r| {
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
                let allowed = strategies(rules);
                errors.insert("mode".into(), format!("{name} allows {allowed}; {needs}"));
            }
            PlanStrategy::Discretionary(_) if !rules.signal_bots => {
                let needs = self.needs("a signal bot", |r| r.signal_bots);
                let allowed = strategies(rules);
                errors.insert("mode".into(), format!("{name} allows {allowed}; {needs}"));
            }
            PlanStrategy::Smart(_) | PlanStrategy::Discretionary(_) => {}
        }
        if let Some(max) = rules.max_symbols {
            let mut symbols = symbols_elsewhere.clone();
            symbols.extend(plan.legs.iter().map(|leg| leg.symbol.clone()));
            let count = symbols.len();
            let mut before = symbols_elsewhere.clone();
            before.extend(
                stored
                    .iter()
                    .flat_map(|p| p.legs.iter().map(|l| l.symbol.clone())),
            );
            if count > max as usize && (stored.is_none() || count > before.len()) {
                let needs = self.needs(&format!("{count} symbols"), |r| {
                    r.max_symbols.is_none_or(|m| count <= m as usize)
                });
                errors.insert(
                    "legs".into(),
                    format!(
                        "{name} allows {max} different symbols across your plans; with this \
                         one there would be {count}: {needs}"
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

    /// Which of a user's running plans `tier` does not allow, with why: `plans` oldest
    /// first, so what fits keeps running and the newest plans are the ones stopped (a
    /// plan whose schedule or strategy the tier lacks, or whose new symbols would take the
    /// running plans past the tier's count).
    pub fn over_limit<'p>(&self, tier: Tier, plans: &'p [Plan]) -> Vec<(&'p Plan, String)> {
        let mut running = BTreeSet::new();
        let mut over = Vec::new();
        for plan in plans {
            match self.check_plan(tier, plan, &running, None) {
                Ok(()) => running.extend(plan.legs.iter().map(|leg| leg.symbol.clone())),
                Err(errors) => {
                    let why = errors.into_values().collect::<Vec<_>>().join(" ");
                    over.push((plan, why));
                }
            }
        }
        over
    }

    /// Why `tier` does not let `plan` run beside the user's `active` plans (oldest first),
    /// if it does not: fitted as [`Tiers::over_limit`] fits them, with `plan` last when it
    /// is not active itself (a resume, or a paused plan's "buy now").
    pub fn why_not_run(&self, tier: Tier, mut active: Vec<Plan>, plan: &Plan) -> Option<String> {
        if !active.iter().any(|p| p.id == plan.id) {
            active.push(plan.clone());
        }
        self.over_limit(tier, &active)
            .into_iter()
            .find(|(over, _)| over.id == plan.id)
            .map(|(_, why)| why)
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
            paused_reason: None,
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
            assert_eq!(
                tiers.check_plan(tier, &weekly, &none, None),
                Ok(()),
                "{tier:?}"
            );
        }
        let daily = plan(Frequency::Daily, 1, &["SPY"]);
        let errors = tiers
            .check_plan(Tier::Basic, &daily, &none, None)
            .unwrap_err();
        assert_eq!(
            errors["schedule.frequency"],
            "Basic allows weekly plans; daily needs Pro."
        );
        assert!(tiers.check_plan(Tier::Pro, &daily, &none, None).is_ok());

        let fortnightly = plan(Frequency::Weekly, 2, &["SPY"]);
        let errors = tiers
            .check_plan(Tier::Free, &fortnightly, &none, None)
            .unwrap_err();
        assert!(
            errors["schedule.interval"].ends_with("every 2 weeks needs Pro."),
            "{errors:?}"
        );
        assert!(
            tiers
                .check_plan(Tier::Pro, &fortnightly, &none, None)
                .is_ok()
        );

        let mut smart = plan(Frequency::Weekly, 1, &["SPY"]);
        smart.strategy = PlanStrategy::Smart(SmartDcaConfig::default());
        let errors = tiers
            .check_plan(Tier::Pro, &smart, &none, None)
            .unwrap_err();
        assert_eq!(
            errors["mode"],
            "Pro allows Pure DCA; Smart DCA needs Premium."
        );
        assert!(tiers.check_plan(Tier::Premium, &smart, &none, None).is_ok());
    }

    #[test]
    fn symbols_count_across_plans_once_each() {
        let tiers = Tiers::default();
        let elsewhere = symbols(&["SPY", "QQQ"]);
        // SPY again and one new symbol: three distinct, within Free's three.
        let third = plan(Frequency::Weekly, 1, &["SPY", "VTI"]);
        assert!(
            tiers
                .check_plan(Tier::Free, &third, &elsewhere, None)
                .is_ok()
        );
        let fourth = plan(Frequency::Weekly, 1, &["VTI", "IWM"]);
        let errors = tiers
            .check_plan(Tier::Free, &fourth, &elsewhere, None)
            .unwrap_err();
        assert!(
            errors["legs"].starts_with("Free allows 3 different symbols"),
            "{errors:?}"
        );
        assert!(
            errors["legs"].ends_with("4 symbols needs Pro."),
            "{errors:?}"
        );
        assert!(
            tiers
                .check_plan(Tier::Pro, &fourth, &elsewhere, None)
                .is_ok()
        );
        let many: Vec<String> = (0..11).map(|i| format!("S{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let errors = tiers
            .check_plan(
                Tier::Pro,
                &plan(Frequency::Weekly, 1, &many),
                &BTreeSet::new(),
                None,
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
                    &BTreeSet::new(),
                    None,
                )
                .is_ok()
        );
    }

    #[test]
    fn a_downgrade_stops_the_newest_plans_first() {
        let tiers = Tiers::default();
        let plans = [
            plan(Frequency::Weekly, 1, &["SPY", "QQQ"]),
            plan(Frequency::Daily, 1, &["SPY"]),
            plan(Frequency::Weekly, 1, &["VTI", "IWM"]),
            plan(Frequency::Weekly, 1, &["VTI"]),
        ];
        let over = tiers.over_limit(Tier::Free, &plans);
        let over: Vec<_> = over
            .iter()
            .map(|(p, why)| (p.legs.len(), why.as_str()))
            .collect();
        assert_eq!(over.len(), 2, "{over:?}");
        assert!(over[0].1.contains("daily needs Pro"), "{over:?}");
        assert!(over[1].1.contains("4 symbols needs Pro"), "{over:?}");
        // The last plan's VTI makes three symbols with the oldest plan's: it runs.
        assert!(tiers.over_limit(Tier::Pro, &plans).is_empty());
        // A paused plan resumed (or bought now) is fitted after the active ones.
        let mut plans = plans;
        for (i, plan) in plans.iter_mut().enumerate() {
            let id = format!("00000000-0000-4000-8000-00000000000{i}");
            plan.id = Some(crate::domain::ids::PlanId::parse(&id).unwrap());
        }
        let active = vec![plans[0].clone(), plans[3].clone()];
        assert_eq!(
            tiers.why_not_run(Tier::Free, active.clone(), &plans[3]),
            None
        );
        let why = tiers.why_not_run(Tier::Free, active, &plans[2]).unwrap();
        assert!(why.contains("4 symbols needs Pro"), "{why}");
    }

    #[test]
    fn a_user_over_the_symbol_limit_may_still_make_changes_that_add_none() {
        let tiers = Tiers::default();
        // After a downgrade to Free: five symbols in use.
        let elsewhere = symbols(&["SPY", "QQQ", "VTI"]);
        let stored = plan(Frequency::Weekly, 1, &["IWM", "VOO"]);
        let fewer = plan(Frequency::Weekly, 1, &["IWM"]);
        assert!(
            tiers
                .check_plan(Tier::Free, &fewer, &elsewhere, Some(&stored))
                .is_ok()
        );
        let swapped = plan(Frequency::Weekly, 1, &["IWM", "AAPL"]);
        assert!(
            tiers
                .check_plan(Tier::Free, &swapped, &elsewhere, Some(&stored))
                .is_ok()
        );
        let more = plan(Frequency::Weekly, 1, &["IWM", "VOO", "AAPL"]);
        assert!(
            tiers
                .check_plan(Tier::Free, &more, &elsewhere, Some(&stored))
                .is_err()
        );
        let mut smart = plan(Frequency::Weekly, 1, &["IWM"]);
        smart.strategy = PlanStrategy::Smart(SmartDcaConfig::default());
        let mut bot = smart.clone();
        bot.strategy = PlanStrategy::Discretionary(Default::default());
        let mut table = Tiers::default();
        table.pro.smart_dca = true;
        assert_eq!(
            table
                .check_plan(Tier::Pro, &bot, &elsewhere, None)
                .unwrap_err()["mode"],
            "Pro allows Pure DCA and Smart DCA; a signal bot needs Premium."
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
                    &BTreeSet::new(),
                    None,
                )
                .is_ok()
        );
        assert_eq!(Tier::parse("pro"), Some(Tier::Pro));
        assert_eq!(Tier::parse("gold"), None);
    }

    #[test]
    fn features_read_off_the_rules() {
        let tiers = Tiers::default();
        assert_eq!(
            tiers.free.features(),
            ["3 symbols, weekly plans", "Pure DCA", "Paper trading only"]
        );
        assert_eq!(
            tiers.premium.features(),
            [
                "Unlimited symbols, daily, weekly, monthly or every few plans",
                "Pure DCA, Smart DCA, MA-crossover signal bots",
                "Paper and live Alpaca accounts"
            ]
        );
    }
}
