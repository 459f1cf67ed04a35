use super::{ExitRule, MaCrossoverConfig, Sizing};
use crate::domain::indicators::{Atr, Sma, VolumeAverage};
use crate::domain::market::{Bar, Symbol, round_qty_down};
use crate::domain::order::{AccountView, OrderIntent, Side};
use crate::domain::strategy::{Action, Event, Strategy};
use rust_decimal::Decimal;
use rust_decimal::dec;
use std::cmp::Ordering;

/// Cash kept back by all-in sizing, so rounding and price moves cannot overdraw.
const ALL_IN_BUFFER: Decimal = dec!(0.9999);

#[derive(Clone, Debug)]
pub struct MaCrossover {
    symbol: Symbol,
    config: MaCrossoverConfig,
    fast: Sma,
    slow: Sma,
    pub(super) atr: Atr,
    needs_atr: bool,
    volume: Option<VolumeAverage>,
    trend: Option<Sma>,
    /// How the fast SMA stood against the slow one on the previous bar.
    previous: Option<Ordering>,
    /// Exit levels of the open position, set when the entry fills.
    stop: Option<Decimal>,
    target: Option<Decimal>,
    /// ATR when the entry was decided, for ATR-based exits.
    entry_atr: Option<Decimal>,
    /// Whether every rule could read its indicators on the last bar (see [`Self::is_warm`]).
    informed: bool,
}

impl MaCrossover {
    /// `config` must have passed `validate()`.
    pub fn new(symbol: Symbol, config: MaCrossoverConfig) -> Self {
        Self {
            symbol,
            fast: Sma::new(config.fast as usize),
            slow: Sma::new(config.slow as usize),
            atr: Atr::new(config.atr_period as usize),
            needs_atr: Self::uses_atr(&config),
            volume: config
                .volume_filter
                .map(|f| VolumeAverage::new(f.period as usize)),
            trend: config.trend_filter.map(|p| Sma::new(p as usize)),
            previous: None,
            stop: None,
            target: None,
            entry_atr: None,
            informed: false,
            config,
        }
    }

    /// Whether the last bar's decision could use every rule: both SMAs on it and the bar
    /// before (a crossover), the ATR if a rule reads it, the volume average of the bars
    /// before it, the trend SMA. A live bot fetches
    /// [`MaCrossoverConfig::warm_up_bars`] bars so its first evaluation is informed.
    pub fn is_warm(&self) -> bool {
        self.informed
    }

    /// The open position's stop loss and take profit levels.
    pub fn exits(&self) -> (Option<Decimal>, Option<Decimal>) {
        (self.stop, self.target)
    }

    /// Whether any rule reads the ATR (it costs a division per bar, so it is skipped if not).
    fn uses_atr(config: &MaCrossoverConfig) -> bool {
        matches!(config.sizing, Sizing::AtrRisk { .. })
            || matches!(config.stop_loss, Some(ExitRule::AtrMultiple(_)))
            || matches!(config.take_profit, Some(ExitRule::AtrMultiple(_)))
    }

    fn entry_qty(&self, price: Decimal, account: &AccountView<'_>) -> Decimal {
        let unit_cost = price * (Decimal::ONE + self.config.commission);
        if unit_cost <= Decimal::ZERO {
            return Decimal::ZERO;
        }
        let affordable = account.cash.max(Decimal::ZERO) * ALL_IN_BUFFER / unit_cost;
        let wanted = match self.config.sizing {
            Sizing::AllIn => affordable,
            Sizing::FixedNotional { amount } => amount / unit_cost,
            Sizing::AtrRisk {
                risk_pct,
                atr_multiple,
            } => match self.atr.value() {
                Some(atr) if atr > Decimal::ZERO => {
                    account.equity() * risk_pct / dec!(100) / (atr * atr_multiple)
                }
                _ => Decimal::ZERO,
            },
        };
        let qty = wanted.min(affordable);
        if self.config.whole_shares {
            qty.floor()
        } else {
            round_qty_down(qty)
        }
    }

    fn exit_level(
        rule: ExitRule,
        entry: Decimal,
        atr: Option<Decimal>,
        below: bool,
    ) -> Option<Decimal> {
        let distance = match rule {
            ExitRule::AtrMultiple(m) => atr? * m,
            ExitRule::Percent(p) => entry * p / dec!(100),
        };
        Some(if below {
            entry - distance
        } else {
            entry + distance
        })
    }

    fn on_bar(&mut self, bar: &Bar, account: &AccountView<'_>, actions: &mut Vec<Action>) {
        // The volume filter compares this bar with the average of the bars before it.
        let volume_ready = self.volume.as_ref().is_none_or(|avg| avg.value().is_some());
        let volume_ok = match (&self.volume, self.config.volume_filter) {
            (Some(avg), Some(filter)) => avg
                .value()
                .is_some_and(|avg| Decimal::from(bar.volume) > filter.multiple * avg),
            _ => true,
        };
        self.fast.update(bar.close);
        self.slow.update(bar.close);
        if self.needs_atr {
            self.atr.update(bar.high, bar.low, bar.close);
        }
        if let Some(avg) = &mut self.volume {
            avg.update(bar.volume);
        }
        if let Some(trend) = &mut self.trend {
            trend.update(bar.close);
        }
        let now = self.fast.compare(&self.slow);
        let previous = std::mem::replace(&mut self.previous, now);
        self.informed = previous.is_some()
            && now.is_some()
            && volume_ready
            && (!self.needs_atr || self.atr.value().is_some())
            && self.trend.as_ref().is_none_or(|t| t.value().is_some());
        let crossed_up = previous == Some(Ordering::Less) && now == Some(Ordering::Greater);
        let crossed_down = previous == Some(Ordering::Greater) && now == Some(Ordering::Less);

        if account.position_qty > Decimal::ZERO {
            let reason = if self.stop.is_some_and(|stop| bar.close <= stop) {
                Some("stop loss")
            } else if self.target.is_some_and(|target| bar.close >= target) {
                Some("take profit")
            } else if crossed_down {
                Some("fast SMA crossed below slow SMA")
            } else {
                None
            };
            if let Some(reason) = reason {
                actions.push(Action::Order(OrderIntent::sell_qty(
                    self.symbol.clone(),
                    account.position_qty,
                    reason,
                )));
            }
            return;
        }
        if !crossed_up || !volume_ok {
            return;
        }
        if let Some(trend) = &self.trend
            && trend.value().is_none_or(|sma| bar.close <= sma)
        {
            return;
        }
        let qty = self.entry_qty(bar.close, account);
        if qty > Decimal::ZERO {
            self.entry_atr = self.atr.value();
            actions.push(Action::Order(OrderIntent::buy_qty(
                self.symbol.clone(),
                qty,
                "fast SMA crossed above slow SMA",
            )));
        }
    }
}

impl Strategy for MaCrossover {
    fn on_event(&mut self, event: Event<'_>, account: &AccountView<'_>, actions: &mut Vec<Action>) {
        match event {
            Event::Bar { symbol, bar } if *symbol == self.symbol => {
                self.on_bar(bar, account, actions)
            }
            Event::Fill(fill) if fill.symbol == self.symbol => match fill.side {
                Side::Buy => {
                    let atr = self.entry_atr;
                    self.stop = self
                        .config
                        .stop_loss
                        .and_then(|r| Self::exit_level(r, fill.price, atr, true));
                    self.target = self
                        .config
                        .take_profit
                        .and_then(|r| Self::exit_level(r, fill.price, atr, false));
                }
                // Levels go with the last share: shares still held after part of the
                // position went (a sale cut to what the account held, a write-off of shares
                // sold elsewhere) keep their stop and target.
                Side::Sell if account.position_qty <= Decimal::ZERO => {
                    self.stop = None;
                    self.target = None;
                }
                Side::Sell => {}
            },
            _ => {}
        }
    }
}
