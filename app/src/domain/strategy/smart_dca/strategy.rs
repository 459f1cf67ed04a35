use super::{MaCondition, SmartDcaConfig, WhenNotMet};
use crate::domain::indicators::Sma;
use crate::domain::market::Symbol;
use crate::domain::order::{AccountView, OrderIntent};
use crate::domain::strategy::dca::Leg;
use crate::domain::strategy::{Action, Event, Strategy};
use rust_decimal::Decimal;

/// Per-leg state: its indicators, its last close and any amount carried forward.
#[derive(Clone, Debug)]
struct LegState {
    leg: Leg,
    fast: Sma,
    slow: Option<Sma>,
    last_close: Option<Decimal>,
    carried: Decimal,
}

#[derive(Clone, Debug)]
pub struct SmartDca {
    config: SmartDcaConfig,
    legs: Vec<LegState>,
}

impl SmartDca {
    pub fn new(legs: Vec<Leg>, config: SmartDcaConfig) -> Self {
        let (fast, slow) = match config.condition {
            MaCondition::CloseAboveSma { period } | MaCondition::CloseBelowSma { period } => {
                (period, None)
            }
            MaCondition::FastAboveSlow { fast, slow } => (fast, Some(slow)),
        };
        let legs = legs
            .into_iter()
            .map(|leg| LegState {
                leg,
                fast: Sma::new(fast.max(1) as usize),
                slow: slow.map(|s| Sma::new(s.max(1) as usize)),
                last_close: None,
                carried: Decimal::ZERO,
            })
            .collect();
        Self { config, legs }
    }

    /// Restores an amount carried forward by earlier slots (live plans rebuild the
    /// strategy for each slot; the carry comes from their purchase history).
    pub fn set_carried(&mut self, symbol: &Symbol, amount: Decimal) {
        if let Some(state) = self.legs.iter_mut().find(|s| &s.leg.symbol == symbol) {
            state.carried = amount;
        }
    }

    fn verdict(&self, state: &LegState) -> Result<(), String> {
        let condition = self.config.describe();
        let not_ready = || format!("not enough price history yet for {condition}");
        match self.config.condition {
            MaCondition::CloseAboveSma { .. } | MaCondition::CloseBelowSma { .. } => {
                let (Some(close), Some(sma)) = (state.last_close, state.fast.value()) else {
                    return Err(not_ready());
                };
                let above = matches!(self.config.condition, MaCondition::CloseAboveSma { .. });
                let holds = if above { close > sma } else { close < sma };
                if holds {
                    Ok(())
                } else {
                    Err(format!(
                        "{condition} did not hold (close {close}, SMA {})",
                        sma.round_dp(2)
                    ))
                }
            }
            MaCondition::FastAboveSlow { .. } => {
                let slow = state.slow.as_ref().filter(|s| s.is_ready());
                let (true, Some(slow)) = (state.fast.is_ready(), slow) else {
                    return Err(not_ready());
                };
                // Compares the averages exactly: fast_sum / n_fast > slow_sum / n_slow.
                let fast_side = state.fast.sum() * Decimal::from(slow.period());
                let slow_side = slow.sum() * Decimal::from(state.fast.period());
                if fast_side > slow_side {
                    Ok(())
                } else {
                    Err(format!("{condition} did not hold"))
                }
            }
        }
    }
}

impl Strategy for SmartDca {
    fn on_event(
        &mut self,
        event: Event<'_>,
        _account: &AccountView<'_>,
        actions: &mut Vec<Action>,
    ) {
        match event {
            Event::Bar { symbol, bar } => {
                if let Some(state) = self.legs.iter_mut().find(|s| &s.leg.symbol == symbol) {
                    state.fast.update(bar.close);
                    if let Some(slow) = &mut state.slow {
                        slow.update(bar.close);
                    }
                    state.last_close = Some(bar.close);
                }
            }
            Event::Slot { .. } => {
                for i in 0..self.legs.len() {
                    let verdict = self.verdict(&self.legs[i]);
                    let state = &mut self.legs[i];
                    let symbol: &Symbol = &state.leg.symbol;
                    match verdict {
                        Ok(()) => {
                            let amount = state.leg.amount + state.carried;
                            let reason = if state.carried.is_zero() {
                                format!("scheduled purchase: {}", self.config.describe())
                            } else {
                                format!(
                                    "scheduled purchase with ${} carried forward",
                                    state.carried
                                )
                            };
                            state.carried = Decimal::ZERO;
                            actions.push(Action::Order(OrderIntent::buy_notional(
                                symbol.clone(),
                                amount,
                                reason,
                            )));
                        }
                        Err(why) => {
                            let reason = match self.config.when_not_met {
                                WhenNotMet::Skip => format!("{symbol} skipped: {why}"),
                                WhenNotMet::CarryForward => {
                                    state.carried += state.leg.amount;
                                    format!(
                                        "{symbol} skipped: {why}; ${} carried forward",
                                        state.carried
                                    )
                                }
                            };
                            actions.push(Action::Skip {
                                symbol: Some(symbol.clone()),
                                reason,
                            });
                        }
                    }
                }
            }
            Event::Fill(_) => {}
        }
    }
}
