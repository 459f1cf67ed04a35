//! One long position's books: shares held, what they cost, the trade still open, and the
//! trades closed with their profit. The backtester keeps one per symbol, and a live signal
//! bot keeps one of its own (separate from the account's other holdings of the symbol, so a
//! bot never sells what DCA plans bought): one implementation, so a bot's live trades and
//! its backtest count profit the same way.
//!
//! Commissions are part of the cost: a buy adds its value and commission; a sell takes away
//! the sold share of the cost, and its trade's profit is what the sale brought (after its
//! commission) less what those shares cost (with theirs).

use super::backtest::Trade;
use super::backtest::metrics::to_f64;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The entry side of a trade not yet closed (buys add to it; sells close it part by part).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTrade {
    pub entry_time: jiff::Timestamp,
    pub qty: Decimal,
    pub entry_value: Decimal,
    pub entry_commission: Decimal,
}

impl OpenTrade {
    /// Average entry price, before commission.
    pub fn entry_price(&self) -> Decimal {
        if self.qty.is_zero() {
            Decimal::ZERO
        } else {
            self.entry_value / self.qty
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionLedger {
    pub qty: Decimal,
    /// Total cost of the shares held, commissions included.
    pub cost: Decimal,
    pub open: Option<OpenTrade>,
    /// Profit of every closed trade (or part of one), after commissions.
    pub realized_pnl: Decimal,
}

/// A sale the ledger refuses: more shares than this position holds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot sell {wanted} shares of a position of {held}")]
pub struct Oversold {
    pub held: Decimal,
    pub wanted: Decimal,
}

impl PositionLedger {
    /// Books one fill; returns the cash it moved (negative for a buy, commission included).
    pub fn apply(&mut self, fill: &crate::domain::order::Fill) -> Result<Decimal, Oversold> {
        use crate::domain::order::Side;
        Ok(match fill.side {
            Side::Buy => {
                self.buy(fill.qty, fill.price, fill.commission, fill.time);
                -(fill.qty * fill.price + fill.commission)
            }
            Side::Sell => {
                self.sell(fill.qty, fill.price, fill.commission, fill.time)?;
                fill.qty * fill.price - fill.commission
            }
        })
    }

    /// The books of the fills of `symbol` among `fills` (in the order given), with the cash
    /// they moved: sales in, purchases and commissions out. A bot's position, apart from
    /// its evaluation (which places each fill among its bars).
    pub fn replay(
        symbol: &crate::domain::market::Symbol,
        fills: &[crate::domain::order::Fill],
    ) -> Result<(Self, Decimal), Oversold> {
        let mut ledger = Self::default();
        let mut cash = Decimal::ZERO;
        for fill in fills.iter().filter(|f| &f.symbol == symbol) {
            cash += ledger.apply(fill)?;
        }
        Ok((ledger, cash))
    }

    /// Records a buy of `qty` at `price` (its commission apart).
    pub fn buy(
        &mut self,
        qty: Decimal,
        price: Decimal,
        commission: Decimal,
        time: jiff::Timestamp,
    ) {
        let value = qty * price;
        self.qty += qty;
        self.cost += value + commission;
        match &mut self.open {
            Some(trade) => {
                trade.qty += qty;
                trade.entry_value += value;
                trade.entry_commission += commission;
            }
            None => {
                self.open = Some(OpenTrade {
                    entry_time: time,
                    qty,
                    entry_value: value,
                    entry_commission: commission,
                })
            }
        }
    }

    /// Records a sale of `qty` at `price`; returns the (part of the) trade it closes.
    pub fn sell(
        &mut self,
        qty: Decimal,
        price: Decimal,
        commission: Decimal,
        time: jiff::Timestamp,
    ) -> Result<Option<Trade>, Oversold> {
        if qty > self.qty || qty <= Decimal::ZERO {
            return Err(Oversold {
                held: self.qty,
                wanted: qty,
            });
        }
        let value = qty * price;
        let share = qty / self.qty;
        self.cost -= self.cost * share;
        self.qty -= qty;
        let mut closed = None;
        if let Some(trade) = &mut self.open {
            let portion = qty / trade.qty;
            let entry_value = trade.entry_value * portion;
            let entry_commission = trade.entry_commission * portion;
            let pnl = value - commission - entry_value - entry_commission;
            let basis = entry_value + entry_commission;
            self.realized_pnl += pnl;
            closed = Some(Trade {
                entry_time: trade.entry_time,
                exit_time: time,
                qty,
                entry_price: entry_value / qty,
                exit_price: price,
                pnl,
                return_pct: if basis.is_zero() {
                    0.0
                } else {
                    to_f64(pnl / basis) * 100.0
                },
            });
            trade.qty -= qty;
            trade.entry_value -= entry_value;
            trade.entry_commission -= entry_commission;
            if trade.qty.is_zero() {
                self.open = None;
            }
        }
        if self.qty.is_zero() {
            self.cost = Decimal::ZERO;
        }
        Ok(closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn at(day: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_796_050_800 + day * 86_400).unwrap()
    }

    #[test]
    fn a_round_trip_books_its_profit_after_both_commissions() {
        let mut ledger = PositionLedger::default();
        ledger.buy(dec!(10), dec!(100), dec!(2), at(0));
        assert_eq!(ledger.qty, dec!(10));
        assert_eq!(ledger.cost, dec!(1002));
        let trade = ledger
            .sell(dec!(10), dec!(110), dec!(2.2), at(5))
            .unwrap()
            .unwrap();
        // 1100 − 2.20 − 1000 − 2 = 95.80
        assert_eq!(trade.pnl, dec!(95.80));
        assert_eq!(trade.entry_price, dec!(100));
        assert_eq!(trade.exit_price, dec!(110));
        assert!((trade.return_pct - 95.8 / 1002.0 * 100.0).abs() < 1e-9);
        assert_eq!(
            ledger,
            PositionLedger {
                realized_pnl: dec!(95.80),
                ..PositionLedger::default()
            }
        );
    }

    #[test]
    fn partial_sales_close_the_trade_in_proportion() {
        let mut ledger = PositionLedger::default();
        ledger.buy(dec!(2), dec!(50), Decimal::ZERO, at(0));
        ledger.buy(dec!(2), dec!(70), Decimal::ZERO, at(1));
        assert_eq!(ledger.open.as_ref().unwrap().entry_price(), dec!(60));
        let first = ledger
            .sell(dec!(1), dec!(80), Decimal::ZERO, at(2))
            .unwrap()
            .unwrap();
        assert_eq!(first.pnl, dec!(20));
        assert_eq!(ledger.qty, dec!(3));
        assert_eq!(ledger.cost, dec!(180));
        let rest = ledger
            .sell(dec!(3), dec!(40), Decimal::ZERO, at(3))
            .unwrap()
            .unwrap();
        assert_eq!(rest.pnl, dec!(-60));
        assert_eq!(ledger.realized_pnl, dec!(-40));
        assert!(ledger.open.is_none() && ledger.cost.is_zero());
    }

    #[test]
    fn a_position_never_sells_more_than_it_holds() {
        let mut ledger = PositionLedger::default();
        ledger.buy(dec!(0.5), dec!(100), Decimal::ZERO, at(0));
        let before = ledger.clone();
        assert_eq!(
            ledger.sell(dec!(0.500000001), dec!(100), Decimal::ZERO, at(1)),
            Err(Oversold {
                held: dec!(0.5),
                wanted: dec!(0.500000001)
            })
        );
        assert!(
            ledger
                .sell(Decimal::ZERO, dec!(100), Decimal::ZERO, at(1))
                .is_err()
        );
        assert_eq!(ledger, before, "a refused sale changes nothing");
    }
}
