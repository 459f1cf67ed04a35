//! The backtest's results: statistics, closed trades, the open position, DCA purchases and
//! skipped slots, in the JSON shape the CLI and the browser use (money as decimal strings,
//! ratios as numbers, dates as New York `YYYY-MM-DD`).

use super::metrics::{self, to_f64};
use super::{Backtester, EquityPoint, Funding};
use crate::domain::market::{Symbol, round_cents};
use crate::domain::strategy::Strategy;
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

fn ny_date<S: Serializer>(time: &jiff::Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(
        &crate::domain::calendar::new_york()
            .to_datetime(*time)
            .date(),
    )
}

fn cents<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&round_cents(*amount))
}

fn exact<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&value.normalize())
}

/// A closed round trip (or the closed part of one).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trade {
    #[serde(rename = "entry_date", serialize_with = "ny_date")]
    pub entry_time: jiff::Timestamp,
    #[serde(rename = "exit_date", serialize_with = "ny_date")]
    pub exit_time: jiff::Timestamp,
    #[serde(serialize_with = "exact")]
    pub qty: Decimal,
    /// Average entry price (before commission).
    #[serde(serialize_with = "exact")]
    pub entry_price: Decimal,
    #[serde(serialize_with = "exact")]
    pub exit_price: Decimal,
    /// Profit after both commissions.
    #[serde(serialize_with = "cents")]
    pub pnl: Decimal,
    pub return_pct: f64,
}

/// A position still open at the end, marked at the last close (not counted as a trade).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpenPosition {
    pub symbol: Symbol,
    #[serde(rename = "entry_date", serialize_with = "ny_date")]
    pub entry_time: jiff::Timestamp,
    #[serde(serialize_with = "exact")]
    pub qty: Decimal,
    #[serde(serialize_with = "exact")]
    pub entry_price: Decimal,
    #[serde(serialize_with = "exact")]
    pub last_price: Decimal,
    #[serde(serialize_with = "cents")]
    pub market_value: Decimal,
    #[serde(serialize_with = "cents")]
    pub unrealized_pnl: Decimal,
}

/// One DCA purchase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BacktestPurchase {
    #[serde(rename = "date", serialize_with = "ny_date")]
    pub time: jiff::Timestamp,
    pub symbol: Symbol,
    #[serde(serialize_with = "cents")]
    pub amount: Decimal,
    #[serde(serialize_with = "exact")]
    pub qty: Decimal,
    #[serde(serialize_with = "exact")]
    pub price: Decimal,
    #[serde(serialize_with = "exact")]
    pub commission: Decimal,
}

/// A slot that did not buy, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skip {
    #[serde(rename = "date", serialize_with = "ny_date")]
    pub time: jiff::Timestamp,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stats {
    #[serde(serialize_with = "ny_date")]
    pub start: jiff::Timestamp,
    #[serde(serialize_with = "ny_date")]
    pub end: jiff::Timestamp,
    pub bars: u64,
    #[serde(serialize_with = "cents")]
    pub initial_cash: Decimal,
    #[serde(serialize_with = "cents")]
    pub final_equity: Decimal,
    pub total_return_pct: f64,
    pub cagr_pct: Option<f64>,
    pub max_drawdown_pct: f64,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    pub exposure_pct: f64,
    pub trades: usize,
    pub win_rate_pct: Option<f64>,
    /// Gross profit / gross loss; `None` when there was no losing trade.
    pub profit_factor: Option<f64>,
    #[serde(serialize_with = "cents")]
    pub average_trade: Decimal,
    #[serde(serialize_with = "cents")]
    pub commissions: Decimal,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub dca: Option<DcaStats>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DcaStats {
    pub purchases: usize,
    #[serde(serialize_with = "cents")]
    pub total_invested: Decimal,
    #[serde(serialize_with = "cents")]
    pub cost_basis: Decimal,
    #[serde(serialize_with = "cents")]
    pub final_value: Decimal,
    #[serde(serialize_with = "cents")]
    pub profit: Decimal,
    pub xirr_pct: Option<f64>,
    /// The same total invested at once at the first purchase's prices.
    #[serde(serialize_with = "cents")]
    pub lump_sum_final_value: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BacktestReport {
    pub stats: Stats,
    pub trades: Vec<Trade>,
    pub open_position: Option<OpenPosition>,
    pub purchases: Vec<BacktestPurchase>,
    pub skipped: Vec<Skip>,
    /// Equity (and invested capital) at every bar time, for charts.
    #[serde(skip)]
    pub equity_curve: Vec<EquityPoint>,
}

fn days_between(a: jiff::Timestamp, b: jiff::Timestamp) -> f64 {
    (b.as_second() - a.as_second()) as f64 / 86_400.0
}

pub(super) fn build<S: Strategy>(run: Backtester<S>) -> BacktestReport {
    let start = run.first_time.unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let end = run.current_time.unwrap_or(start);
    let final_equity = run.cash + run.market_value();
    let days = days_between(start, end);

    let initial_cash = match run.config.funding {
        Funding::Cash => run.config.initial_cash,
        Funding::Contributions => Decimal::ZERO,
    };
    let ratios = run.running.ratios();

    let wins: Vec<&Trade> = run
        .trades
        .iter()
        .filter(|t| t.pnl > Decimal::ZERO)
        .collect();
    let gross_profit: Decimal = wins.iter().map(|t| t.pnl).sum();
    let gross_loss: Decimal = run
        .trades
        .iter()
        .filter(|t| t.pnl < Decimal::ZERO)
        .map(|t| -t.pnl)
        .sum();
    let trade_count = run.trades.len();
    let total_pnl: Decimal = run.trades.iter().map(|t| t.pnl).sum();

    let open_position = run.books.iter().find_map(|book| {
        let trade = book.ledger.open.as_ref()?;
        let last = book.last_close?;
        let market_value = book.ledger.qty * last;
        Some(OpenPosition {
            symbol: book.symbol.clone(),
            entry_time: trade.entry_time,
            qty: book.ledger.qty,
            entry_price: trade.entry_price(),
            last_price: last,
            market_value,
            unrealized_pnl: market_value - book.ledger.cost,
        })
    });

    let dca = (run.config.funding == Funding::Contributions).then(|| {
        let cost_basis: Decimal = run.books.iter().map(|b| b.ledger.cost).sum();
        let mut flows: Vec<(f64, f64)> = run
            .purchases
            .iter()
            .map(|p| (days_between(start, p.time), -to_f64(p.amount)))
            .collect();
        flows.push((days, to_f64(final_equity)));
        // The lump sum buys each symbol's share of the total at its first fill price.
        let lump_sum_final_value = run
            .books
            .iter()
            .filter_map(|book| {
                let (price, _) = book.first_fill?;
                let last = book.last_close?;
                let invested: Decimal = run
                    .purchases
                    .iter()
                    .filter(|p| p.symbol == book.symbol)
                    .map(|p| p.amount)
                    .sum();
                Some(invested / (price * (Decimal::ONE + run.config.commission)) * last)
            })
            .sum();
        DcaStats {
            purchases: run.purchases.len(),
            total_invested: run.invested,
            cost_basis,
            final_value: final_equity,
            profit: final_equity - run.invested,
            xirr_pct: metrics::xirr_pct(&flows),
            lump_sum_final_value,
        }
    });

    let total_return_pct = match &dca {
        Some(d) if d.total_invested > Decimal::ZERO => to_f64(d.profit / d.total_invested) * 100.0,
        Some(_) => 0.0,
        None if initial_cash > Decimal::ZERO => {
            to_f64(final_equity / initial_cash - Decimal::ONE) * 100.0
        }
        None => 0.0,
    };

    BacktestReport {
        stats: Stats {
            start,
            end,
            bars: run.bars,
            initial_cash,
            final_equity,
            total_return_pct,
            cagr_pct: metrics::cagr_pct(run.running.growth(), days),
            max_drawdown_pct: run.running.max_drawdown_pct(),
            sharpe: ratios.sharpe,
            sortino: ratios.sortino,
            exposure_pct: run.running.exposure_pct(),
            trades: trade_count,
            win_rate_pct: (trade_count > 0).then(|| wins.len() as f64 / trade_count as f64 * 100.0),
            profit_factor: (gross_loss > Decimal::ZERO).then(|| to_f64(gross_profit / gross_loss)),
            average_trade: if trade_count > 0 {
                total_pnl / Decimal::from(trade_count)
            } else {
                Decimal::ZERO
            },
            commissions: run.commissions,
            dca,
        },
        trades: run.trades,
        open_position,
        purchases: run.purchases,
        skipped: run.skips,
        equity_curve: run.equity,
    }
}
