//! A signal bot's decision on its newest daily bar, for live trading: the bot's bars (from
//! its warm-up on) and the fills its orders really got are replayed, in time order, through
//! the very [`MaCrossover`] the backtester runs, with the bot's own books
//! ([`PositionLedger`]) and its capital allocation as its cash. The backtester does the same
//! with fills it simulates at the next open; with the same bars and those fills, both make
//! the same decisions (the parity test below).
//!
//! Fills are placed the way the backtester places them: a fill belongs before the first bar
//! that starts after it, so an order decided on day D's close and filled at day D+1's open
//! is seen before day D+1's bar. Fills later than a day after the newest bar's start are
//! left out (they answer decisions this evaluation has not reached).

use super::{MaCrossover, MaCrossoverConfig};
use crate::domain::ledger::{Oversold, PositionLedger};
use crate::domain::market::{Bar, Symbol};
use crate::domain::order::{AccountView, Fill, OrderIntent};
use crate::domain::strategy::{Action, Event, Strategy};
use rust_decimal::Decimal;

/// What the bot knows and wants after its newest bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// The order to place for the next open (the newest bar's decision), with its reason.
    pub intent: Option<OrderIntent>,
    /// Whether the newest bar's decision could use every rule (enough history).
    pub informed: bool,
    /// The bot's own position and realized profit.
    pub ledger: PositionLedger,
    /// The allocation left to trade with.
    pub cash: Decimal,
    /// The open position's exit levels.
    pub stop: Option<Decimal>,
    pub target: Option<Decimal>,
}

/// Replays `bars` (time order) and the bot's `fills` through the strategy; see the module.
/// Errors if the fills sell more than the bot bought (they are not this bot's).
pub fn evaluate(
    symbol: &Symbol,
    config: &MaCrossoverConfig,
    allocation: Decimal,
    bars: &[Bar],
    fills: &[Fill],
) -> Result<Evaluation, Oversold> {
    replay(symbol, config, allocation, bars, fills, false)
}

/// The bot as it stands now, for showing: [`evaluate`], then the fills it leaves out (those
/// after its newest bar's day, such as this morning's answer to the last decision) booked
/// as the next evaluation books them before its bar, so the position, its entry, stop and
/// target are the ones the next evaluation starts from.
pub fn state_now(
    symbol: &Symbol,
    config: &MaCrossoverConfig,
    allocation: Decimal,
    bars: &[Bar],
    fills: &[Fill],
) -> Result<Evaluation, Oversold> {
    replay(symbol, config, allocation, bars, fills, true)
}

fn replay(
    symbol: &Symbol,
    config: &MaCrossoverConfig,
    allocation: Decimal,
    bars: &[Bar],
    fills: &[Fill],
    book_later_fills: bool,
) -> Result<Evaluation, Oversold> {
    let mut strategy = MaCrossover::new(symbol.clone(), *config);
    let mut ledger = PositionLedger::default();
    let mut cash = allocation;
    let mut fills: Vec<&Fill> = fills.iter().filter(|f| &f.symbol == symbol).collect();
    fills.sort_by_key(|f| f.time);
    let mut pending = fills.into_iter().peekable();
    let mut actions = Vec::new();
    let mut intent = None;
    for (i, bar) in bars.iter().enumerate() {
        // Fills before the next bar; after the newest bar, only those of its own day (a fill
        // of the day after, seen when a day is evaluated late, came after the decision).
        let until = bars.get(i + 1).map(|b| b.time).or_else(|| {
            bar.time
                .checked_add(jiff::SignedDuration::from_hours(24))
                .ok()
        });
        while let Some(fill) = pending.next_if(|f| until.is_none_or(|until| f.time < until)) {
            book(&mut strategy, &mut ledger, &mut cash, fill, bar.open)?;
        }
        let marks = [(ledger.qty, bar.close)];
        let account = AccountView {
            cash,
            position_qty: ledger.qty,
            marks: &marks,
        };
        actions.clear();
        strategy.on_event(Event::Bar { symbol, bar }, &account, &mut actions);
        intent = actions.iter().find_map(|action| match action {
            Action::Order(order) => Some(order.clone()),
            Action::Skip { .. } => None,
        });
    }
    if book_later_fills {
        for fill in pending {
            book(&mut strategy, &mut ledger, &mut cash, fill, fill.price)?;
        }
    }
    let (stop, target) = strategy.exits();
    Ok(Evaluation {
        intent,
        informed: strategy.is_warm(),
        ledger,
        cash,
        stop,
        target,
    })
}

/// Books `fill` in the bot's books and tells the strategy (which sets its stop and target
/// from it), the position marked at `mark`.
fn book(
    strategy: &mut MaCrossover,
    ledger: &mut PositionLedger,
    cash: &mut Decimal,
    fill: &Fill,
    mark: Decimal,
) -> Result<(), Oversold> {
    *cash += ledger.apply(fill)?;
    let marks = [(ledger.qty, mark)];
    let account = AccountView {
        cash: *cash,
        position_qty: ledger.qty,
        marks: &marks,
    };
    strategy.on_event(Event::Fill(fill), &account, &mut Vec::new());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::backtest::{BacktestConfig, Backtester, Trade};
    use crate::domain::market::round_qty_down;
    use crate::domain::order::Side;
    use crate::domain::order::Size;
    use rust_decimal::dec;

    /// The broker of this test fills a market order at the next bar's open, a buy cut to
    /// what the cash affords (as the backtester's simulated broker does).
    fn fill_at_open(intent: &OrderIntent, bar: &Bar, cash: Decimal, held: Decimal) -> Fill {
        let Size::Qty(wanted) = intent.size else {
            panic!("the bot trades quantities")
        };
        let qty = match intent.side {
            Side::Buy => {
                let affordable = round_qty_down(cash.max(Decimal::ZERO) / bar.open);
                wanted.min(affordable)
            }
            Side::Sell => wanted.min(held),
        };
        Fill {
            symbol: intent.symbol.clone(),
            side: intent.side,
            qty,
            price: bar.open,
            commission: Decimal::ZERO,
            time: bar.time,
        }
    }

    fn live_trades(config: &MaCrossoverConfig, allocation: Decimal, bars: &[Bar]) -> Vec<Trade> {
        let spy = Symbol::parse("SPY").unwrap();
        let mut fills = Vec::new();
        let mut ledger = PositionLedger::default();
        let mut trades = Vec::new();
        // Each trading day after the close: evaluate on the bars so far, then the order
        // fills at the next day's open.
        for day in 0..bars.len() - 1 {
            let done = evaluate(&spy, config, allocation, &bars[..=day], &fills).unwrap();
            if let Some(intent) = done.intent {
                let fill = fill_at_open(&intent, &bars[day + 1], done.cash, done.ledger.qty);
                if fill.qty > Decimal::ZERO {
                    match fill.side {
                        Side::Buy => ledger.buy(fill.qty, fill.price, fill.commission, fill.time),
                        Side::Sell => trades.extend(
                            ledger
                                .sell(fill.qty, fill.price, fill.commission, fill.time)
                                .unwrap(),
                        ),
                    }
                    fills.push(fill);
                }
            }
        }
        trades
    }

    #[test]
    fn live_decisions_match_the_backtest_of_the_same_bars() {
        let bars = crate::domain::synthetic::daily_bars(
            "SPY",
            7,
            jiff::civil::date(2025, 1, 2),
            jiff::civil::date(2025, 12, 31),
        );
        assert!(bars.len() > 240);
        let spy = Symbol::parse("SPY").unwrap();
        for config in [
            MaCrossoverConfig::default(),
            MaCrossoverConfig {
                fast: 3,
                slow: 10,
                sizing: super::super::Sizing::AllIn,
                stop_loss: Some(super::super::ExitRule::Percent(dec!(3))),
                take_profit: Some(super::super::ExitRule::Percent(dec!(6))),
                ..MaCrossoverConfig::default()
            },
        ] {
            let allocation = dec!(10000);
            let mut backtest = Backtester::new(
                MaCrossover::new(spy.clone(), config),
                BacktestConfig {
                    initial_cash: allocation,
                    ..BacktestConfig::default()
                },
                vec![],
            );
            for bar in &bars {
                backtest.push(&spy, bar).unwrap();
            }
            let report = backtest.finish();
            assert!(
                report.trades.len() >= 3,
                "the data should trade: {config:?}"
            );
            assert_eq!(
                live_trades(&config, allocation, &bars),
                report.trades,
                "{config:?}"
            );
        }
    }

    #[test]
    fn a_fill_after_the_newest_bars_day_is_left_for_later() {
        let spy = Symbol::parse("SPY").unwrap();
        let bars = crate::domain::synthetic::daily_bars(
            "SPY",
            1,
            jiff::civil::date(2025, 1, 2),
            jiff::civil::date(2025, 2, 28),
        );
        let buy = |time| Fill {
            symbol: spy.clone(),
            side: Side::Buy,
            qty: dec!(1),
            price: dec!(100),
            commission: Decimal::ZERO,
            time,
        };
        let config = MaCrossoverConfig::default();
        // Day 10 evaluated late, after day 11's open filled an order: not counted yet.
        let late = evaluate(
            &spy,
            &config,
            dec!(1000),
            &bars[..=10],
            &[buy(bars[11].time)],
        )
        .unwrap();
        assert!(late.ledger.qty.is_zero());
        // A fill on the newest bar's own day is.
        let same_day = evaluate(
            &spy,
            &config,
            dec!(1000),
            &bars[..=11],
            &[buy(bars[11].time)],
        )
        .unwrap();
        assert_eq!(same_day.ledger.qty, dec!(1));
        assert_eq!(same_day.cash, dec!(900));
    }

    #[test]
    fn the_state_now_books_this_mornings_fill_as_the_next_evaluation_will() {
        let spy = Symbol::parse("SPY").unwrap();
        let bars = crate::domain::synthetic::daily_bars(
            "SPY",
            7,
            jiff::civil::date(2025, 1, 2),
            jiff::civil::date(2025, 12, 31),
        );
        let config = MaCrossoverConfig {
            take_profit: Some(super::super::ExitRule::AtrMultiple(dec!(3))),
            ..MaCrossoverConfig::default()
        };
        let allocation = dec!(10000);
        // The first day the bot decides to buy, and its fill at the next open.
        let (day, intent) = (0..bars.len() - 1)
            .find_map(|day| {
                let done = evaluate(&spy, &config, allocation, &bars[..=day], &[]).unwrap();
                done.intent
                    .filter(|i| i.side == Side::Buy)
                    .map(|i| (day, i))
            })
            .expect("the data should buy");
        let fill = fill_at_open(&intent, &bars[day + 1], allocation, Decimal::ZERO);
        let fills = [fill.clone()];
        // The evening's evaluation has not seen the fill; the state now has.
        let evening = evaluate(&spy, &config, allocation, &bars[..=day], &fills).unwrap();
        assert!(evening.ledger.qty.is_zero());
        assert_eq!(evening.stop, None);
        let now = state_now(&spy, &config, allocation, &bars[..=day], &fills).unwrap();
        assert_eq!(now.ledger.qty, fill.qty);
        assert_eq!(now.cash, allocation - fill.qty * fill.price);
        assert!(now.stop.is_some_and(|stop| stop < fill.price), "{now:?}");
        assert!(now.target.is_some_and(|t| t > fill.price), "{now:?}");
        // The next evaluation starts from the same position and exits.
        let next = evaluate(&spy, &config, allocation, &bars[..=day + 1], &fills).unwrap();
        assert_eq!(
            (next.ledger.qty, next.stop, next.target),
            (now.ledger.qty, now.stop, now.target)
        );
    }

    #[test]
    fn fills_that_are_not_the_bots_are_refused() {
        let spy = Symbol::parse("SPY").unwrap();
        let bars = crate::domain::synthetic::daily_bars(
            "SPY",
            1,
            jiff::civil::date(2025, 1, 2),
            jiff::civil::date(2025, 2, 28),
        );
        let sale = Fill {
            symbol: spy.clone(),
            side: Side::Sell,
            qty: dec!(1),
            price: dec!(100),
            commission: Decimal::ZERO,
            time: bars[3].time,
        };
        let refused = evaluate(
            &spy,
            &MaCrossoverConfig::default(),
            dec!(1000),
            &bars,
            &[sale],
        );
        assert!(refused.is_err());
    }
}
