//! The event-driven backtester. It feeds bars (and, for DCA, schedule slots) to an
//! unchanged [`Strategy`] and fills what it asks for:
//!
//! - Orders decided on a bar fill at the next bar's open of that symbol ([`FillAt::NextOpen`],
//!   the default) or at the deciding bar's close ([`FillAt::SameClose`]).
//! - A slot fills at the open of each symbol's first bar on or after the slot's New York
//!   date. In [`Funding::Contributions`] mode (DCA) every notional purchase is a new
//!   contribution, so no starting cash is needed.
//! - Commission is a fraction of traded value, charged on entry and exit; slippage (basis
//!   points) moves buy prices up and sell prices down. Buys are cut to what cash affords,
//!   quantities are rounded down to 9 places (or whole shares), so cash never goes negative.
//!
//! Bars are pushed one at a time in time order ([`Backtester::push`]), so a series may be
//! fed in any chunks with the same result. Daily bars are assumed for annualised figures.

pub mod metrics;
mod report;
mod run;
#[cfg(test)]
mod tests;

pub use report::{BacktestPurchase, BacktestReport, DcaStats, OpenPosition, Skip, Stats, Trade};
pub use run::{StrategySpec, run_backtest, slots_between};

use super::ledger::PositionLedger;
use super::market::{Bar, Symbol, round_qty_down};
use super::order::{AccountView, Fill, OrderIntent, Side, Size};
use super::strategy::{Action, Event, Strategy};
use rust_decimal::Decimal;
use rust_decimal::dec;
use serde::{Deserialize, Serialize};

/// When an order decided on a bar's close is filled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillAt {
    #[default]
    NextOpen,
    SameClose,
}

/// Where the money for purchases comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Funding {
    /// A starting cash balance (the crossover bot).
    #[default]
    Cash,
    /// Each notional purchase is a fresh contribution (DCA).
    Contributions,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacktestConfig {
    pub initial_cash: Decimal,
    /// Fraction of traded value, e.g. 0.002 for 0.2 %.
    pub commission: Decimal,
    pub slippage_bps: Decimal,
    pub fill_at: FillAt,
    pub funding: Funding,
    /// Keep the equity curve (exact, one point per bar time) for charts. Statistics do not
    /// need it; a long intraday backtest can turn it off to run in constant memory.
    #[serde(default = "yes")]
    pub record_curve: bool,
}

fn yes() -> bool {
    true
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self {
            initial_cash: dec!(10000),
            commission: Decimal::ZERO,
            slippage_bps: Decimal::ZERO,
            fill_at: FillAt::NextOpen,
            funding: Funding::Cash,
            record_curve: true,
        }
    }
}

/// One symbol's holdings and pending orders.
#[derive(Clone, Debug)]
struct Book {
    symbol: Symbol,
    /// Shares held, their cost and the open trade (what a live bot keeps the same way).
    ledger: PositionLedger,
    last_close: Option<Decimal>,
    last_time: Option<jiff::Timestamp>,
    /// `qty` and `last_close` as floats, for the running statistics only.
    qty_f64: f64,
    close_f64: f64,
    pending: Vec<OrderIntent>,
    /// First purchase price, for the lump-sum comparison.
    first_fill: Option<(Decimal, jiff::Timestamp)>,
}

/// Equity at one bar time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquityPoint {
    pub time: jiff::Timestamp,
    pub equity: Decimal,
    pub invested: Decimal,
    /// Money contributed during this period (DCA).
    pub contributed: Decimal,
    pub exposed: bool,
}

pub struct Backtester<S> {
    strategy: S,
    config: BacktestConfig,
    /// Each slot with the instant it becomes due: the start of its New York date.
    slots: Vec<(jiff::Timestamp, jiff::Timestamp)>,
    next_slot: usize,
    books: Vec<Book>,
    cash: Decimal,
    cash_f64: f64,
    /// Each book's (quantity, latest close), indexed like `books`: what strategies see.
    marks: Vec<(Decimal, Decimal)>,
    invested: Decimal,
    period_contribution: Decimal,
    current_time: Option<jiff::Timestamp>,
    running: metrics::RunningStats,
    equity: Vec<EquityPoint>,
    trades: Vec<Trade>,
    purchases: Vec<BacktestPurchase>,
    skips: Vec<Skip>,
    commissions: Decimal,
    first_time: Option<jiff::Timestamp>,
    bars: u64,
    actions: Vec<Action>,
}

impl<S: Strategy> Backtester<S> {
    /// A backtest of `strategy`; `slots` are the schedule's instants (empty for bar-driven
    /// strategies), in increasing order.
    pub fn new(strategy: S, config: BacktestConfig, mut slots: Vec<jiff::Timestamp>) -> Self {
        slots.sort();
        let new_york = super::calendar::new_york();
        // A slot fills on the first bar of its New York date or later, i.e. the first bar
        // at or after that date's midnight; comparing instants spares a time-zone
        // conversion per bar.
        let slots = slots
            .into_iter()
            .map(|slot| {
                let midnight = new_york
                    .to_datetime(slot)
                    .date()
                    .to_datetime(jiff::civil::Time::midnight());
                (slot, new_york.to_timestamp(midnight).unwrap_or(slot))
            })
            .collect();
        let cash = match config.funding {
            Funding::Cash => config.initial_cash,
            Funding::Contributions => Decimal::ZERO,
        };
        Self {
            strategy,
            config,
            slots,
            next_slot: 0,
            books: Vec::new(),
            cash,
            cash_f64: metrics::to_f64(cash),
            marks: Vec::new(),
            invested: Decimal::ZERO,
            period_contribution: Decimal::ZERO,
            current_time: None,
            running: metrics::RunningStats::new(metrics::to_f64(cash)),
            equity: Vec::new(),
            trades: Vec::new(),
            purchases: Vec::new(),
            skips: Vec::new(),
            commissions: Decimal::ZERO,
            first_time: None,
            bars: 0,
            actions: Vec::new(),
        }
    }

    fn book_index(&mut self, symbol: &Symbol) -> usize {
        if let Some(i) = self.books.iter().position(|b| &b.symbol == symbol) {
            return i;
        }
        self.books.push(Book {
            symbol: symbol.clone(),
            ledger: PositionLedger::default(),
            last_close: None,
            last_time: None,
            qty_f64: 0.0,
            close_f64: 0.0,
            pending: Vec::new(),
            first_fill: None,
        });
        self.marks.push((Decimal::ZERO, Decimal::ZERO));
        self.books.len() - 1
    }

    fn market_value(&self) -> Decimal {
        self.marks.iter().map(|(qty, price)| qty * price).sum()
    }

    /// Keeps book `b`'s (quantity, latest price) mark, and its float mirror, current.
    fn mark(&mut self, b: usize) {
        let book = &mut self.books[b];
        let close = book.last_close.unwrap_or(Decimal::ZERO);
        self.marks[b] = (book.ledger.qty, close);
        book.qty_f64 = metrics::to_f64(book.ledger.qty);
        book.close_f64 = metrics::to_f64(close);
    }

    /// Feeds one bar. Bars must come in time order (several symbols may share a time).
    pub fn push(&mut self, symbol: &Symbol, bar: &Bar) -> Result<(), String> {
        let b = self.book_index(symbol);
        if self.books[b].last_time.is_some_and(|t| bar.time <= t) {
            return Err(format!(
                "{symbol} bar at {} is not after the previous one",
                bar.time
            ));
        }
        if self.current_time.is_some_and(|t| bar.time < t) {
            return Err(format!("bar at {} arrived after a later bar", bar.time));
        }
        if self.current_time != Some(bar.time) {
            self.close_period();
            self.current_time = Some(bar.time);
        }
        self.first_time.get_or_insert(bar.time);
        self.bars += 1;

        // Slots due by this bar's New York date run before the bar is seen (no peeking).
        while let Some((slot, due)) = self.slots.get(self.next_slot).copied() {
            if due > bar.time {
                break;
            }
            self.next_slot += 1;
            self.run_strategy(b, Event::Slot { time: slot }, slot, None);
        }

        // Orders waiting for this symbol's next open fill now.
        for order in std::mem::take(&mut self.books[b].pending) {
            self.fill(b, order, bar.open, bar.time);
        }

        // The strategy decides at this bar's close, with positions marked at that close.
        self.books[b].last_close = Some(bar.close);
        self.books[b].last_time = Some(bar.time);
        self.marks[b].1 = bar.close;
        self.books[b].close_f64 = metrics::to_f64(bar.close);
        self.run_strategy(b, Event::Bar { symbol, bar }, bar.time, Some(bar));
        Ok(())
    }

    /// Shows `event` to the strategy (from book `at`'s point of view) and handles its
    /// decisions. With `bar`, orders for that book may fill at the bar's close.
    fn run_strategy(
        &mut self,
        at: usize,
        event: Event<'_>,
        time: jiff::Timestamp,
        bar: Option<&Bar>,
    ) {
        let mut actions = std::mem::take(&mut self.actions);
        actions.clear();
        let account = AccountView {
            cash: self.cash,
            position_qty: self.books[at].ledger.qty,
            marks: &self.marks,
        };
        self.strategy.on_event(event, &account, &mut actions);
        for action in actions.drain(..) {
            match action {
                Action::Skip { reason, .. } => self.skips.push(Skip { time, reason }),
                Action::Order(order) => {
                    let b = self.book_index(&order.symbol);
                    match bar {
                        Some(bar) if at == b && self.config.fill_at == FillAt::SameClose => {
                            self.fill(b, order, bar.close, bar.time);
                        }
                        _ => self.books[b].pending.push(order),
                    }
                }
            }
        }
        self.actions = actions;
    }

    fn fill(&mut self, b: usize, order: OrderIntent, reference: Decimal, time: jiff::Timestamp) {
        let slip = self.config.slippage_bps / dec!(10000);
        let rate = self.config.commission;
        let price = match order.side {
            Side::Buy => reference * (Decimal::ONE + slip),
            Side::Sell => reference * (Decimal::ONE - slip),
        };
        if price <= Decimal::ZERO {
            return;
        }
        let unit_cost = price * (Decimal::ONE + rate);
        let qty = match (order.side, order.size) {
            (Side::Buy, Size::Notional(amount)) => {
                let amount = match self.config.funding {
                    Funding::Contributions => {
                        self.cash += amount;
                        self.invested += amount;
                        self.period_contribution += amount;
                        amount
                    }
                    Funding::Cash => amount.min(self.cash),
                };
                round_qty_down(amount / unit_cost)
            }
            (Side::Buy, Size::Qty(wanted)) => {
                let affordable = round_qty_down(self.cash.max(Decimal::ZERO) / unit_cost);
                if wanted <= affordable {
                    wanted
                } else if wanted.fract().is_zero() {
                    affordable.floor()
                } else {
                    affordable
                }
            }
            (Side::Sell, Size::Qty(wanted)) => wanted.min(self.books[b].ledger.qty),
            (Side::Sell, Size::Notional(amount)) => {
                round_qty_down(amount / price).min(self.books[b].ledger.qty)
            }
        };
        if qty <= Decimal::ZERO {
            return;
        }
        let value = qty * price;
        let commission = value * rate;
        self.commissions += commission;
        let book = &mut self.books[b];
        match order.side {
            Side::Buy => {
                self.cash -= value + commission;
                book.ledger.buy(qty, price, commission, time);
                book.first_fill.get_or_insert((price, time));
                if let Size::Notional(amount) = order.size {
                    self.purchases.push(BacktestPurchase {
                        time,
                        symbol: book.symbol.clone(),
                        amount,
                        qty,
                        price,
                        commission,
                    });
                }
            }
            Side::Sell => {
                self.cash += value - commission;
                // `qty` is at most what the book holds (capped above).
                if let Ok(Some(trade)) = book.ledger.sell(qty, price, commission, time) {
                    self.trades.push(trade);
                }
            }
        }
        let fill = Fill {
            symbol: book.symbol.clone(),
            side: order.side,
            qty,
            price,
            commission,
            time,
        };
        self.mark(b);
        self.cash_f64 = metrics::to_f64(self.cash);
        // Orders decided on a fill wait for the next open, like any other.
        self.run_strategy(b, Event::Fill(&fill), time, None);
    }

    /// Records the equity at the close of the current bar time: into the running
    /// statistics always, and into the curve when it is kept.
    fn close_period(&mut self) {
        let Some(time) = self.current_time else {
            return;
        };
        let exposed = self.books.iter().any(|b| b.qty_f64 > 0.0);
        let held: f64 = self.books.iter().map(|b| b.qty_f64 * b.close_f64).sum();
        let contributed = std::mem::take(&mut self.period_contribution);
        let contributed_f64 = if contributed.is_zero() {
            0.0
        } else {
            metrics::to_f64(contributed)
        };
        self.running
            .record(self.cash_f64 + held, contributed_f64, exposed);
        if self.config.record_curve {
            self.equity.push(EquityPoint {
                time,
                equity: self.cash + self.market_value(),
                invested: self.invested,
                contributed,
                exposed,
            });
        }
    }

    /// Ends the run: marks open positions at the last close and computes the statistics.
    pub fn finish(mut self) -> BacktestReport {
        self.close_period();
        report::build(self)
    }
}
