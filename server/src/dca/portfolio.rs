//! The signed-in user's broker account as the pages show it (balances, positions, recent
//! orders, from each user's account view), historical bars and asset search: the
//! [`PortfolioPort`]. The engine tells it when a fill changed an account.

use super::account_view::{self, AccountViews};
use super::repository::Bought;
use super::{asset_facts, broker_unavailable};
use crate::accounts::AccountService;
use crate::broker::alpaca::AlpacaBroker;
use crate::broker::directory::BrokerDirectory;
use crate::broker::{Activity, Broker};
use crate::db::Db;
use crate::errors::internal;
use crate::events::EventBus;
use app::api::AppError;
use app::api::dca::{
    AccountSummary, AssetFacts, BarLength, BarsQuery, OrderSummary, PositionSummary,
};
use app::api::live::LiveEvent;
use app::api::performance::{HoldingReturns, PerformanceView, PlanReturns, Returns, ValuePoint};
use app::api::ports::{Caller, PortfolioPort};
use app::domain::market::Bar;
use app::domain::market::Symbol;
use app::domain::returns::{self, Book, Lot, NoRate, Performance, Sold};
use app::domain::time::Clock;
use async_trait::async_trait;
use futures_util::StreamExt as _;
use jiff::civil::Date;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive as _;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};

/// When the exchange next opens after `now` (`None` while it is open).
fn next_open(now: jiff::Timestamp) -> Option<jiff::Timestamp> {
    use app::domain::calendar;
    if calendar::is_open_at(now) {
        return None;
    }
    let today = calendar::new_york().to_datetime(now).date();
    let session = calendar::next_session_on_or_after(today)?;
    if session.open_at() > now {
        return Some(session.open_at());
    }
    calendar::next_session_on_or_after(today.tomorrow().ok()?).map(|s| s.open_at())
}

/// A rate as a percentage to two places.
fn percent(rate: f64) -> Option<Decimal> {
    Decimal::from_f64(rate * 100.0).map(|pct| pct.round_dp(2))
}

fn wire_returns(p: &Performance) -> Returns {
    Returns {
        invested: p.invested,
        value: p.value,
        gain: p.gain,
        gain_pct: p.gain_pct,
        xirr_pct: p.xirr.ok().and_then(percent),
        xirr_note: p.xirr.err().map(NoRate::words),
        twr_pct: p.twr.and_then(percent),
        twr_annual_pct: p.twr_annualised.and_then(percent),
        days: p.days,
    }
}

fn series(p: &Performance) -> Vec<ValuePoint> {
    p.series
        .iter()
        .map(|point| ValuePoint {
            date: point.on,
            invested: point.invested,
            value: point.value,
        })
        .collect()
}

/// Balances, positions and the 20 latest orders of one broker account (three requests,
/// sent together).
async fn read_account(broker: &AlpacaBroker) -> Result<AccountSummary, AppError> {
    let (account, positions, orders) = tokio::try_join!(
        broker.account(),
        broker.positions(),
        broker.orders(crate::broker::OrderQuery::All),
    )
    .map_err(broker_unavailable)?;
    Ok(AccountSummary {
        equity: account.equity,
        cash: account.cash,
        buying_power: account.buying_power,
        portfolio_value: account.equity,
        realized_pl: None,
        unrealized_pl: positions.iter().filter_map(|p| p.unrealized_pl).sum(),
        positions: positions
            .into_iter()
            .map(|p| PositionSummary {
                symbol: p.symbol.to_string(),
                qty: p.qty,
                avg_entry_price: p.avg_entry_price,
                market_value: p.market_value,
                unrealized_pl: p.unrealized_pl,
                cost_basis: p.cost_basis,
            })
            .collect(),
        recent_orders: orders
            .into_iter()
            .take(20)
            .map(|o| {
                let (notional, qty) = match o.size {
                    app::domain::order::Size::Notional(n) => (Some(n), None),
                    app::domain::order::Size::Qty(q) => (None, Some(q)),
                };
                OrderSummary {
                    id: o.id,
                    client_order_id: o.client_order_id,
                    symbol: o.symbol.to_string(),
                    side: o.side,
                    notional,
                    qty,
                    status: o.status.as_str().to_owned(),
                    filled_qty: o.filled_qty,
                    filled_avg_price: o.filled_avg_price,
                    created_at: o.created_at,
                }
            })
            .collect(),
    })
}

pub struct PortfolioService {
    pub(super) db: Db,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) accounts: Arc<AccountService>,
    pub(super) brokers: Arc<BrokerDirectory>,
    events: EventBus,
    /// Each user's broker account as last read (page views are served from here).
    views: AccountViews,
    /// Daily closes read today, per market data source and symbol: they are the same for
    /// every user of a source and change once a day.
    closes: Mutex<HashMap<(&'static str, String), Closes>>,
    /// Each account's books from its activities (per user and broker account), kept so
    /// a read adds only newer activities; one read at a time per account.
    income: Mutex<HashMap<(String, String), IncomeEntry>>,
    /// Each signal bot's daily bars through the last close, by plan id and broker account
    /// (`bot_state`: the dashboard reads every bot's state with each refresh of its figures).
    pub(super) bot_bars: Mutex<HashMap<String, BotBars>>,
}

/// A bot's daily bars from `from` through the close of `through`, read at `read`; final
/// when `settled` (read after the bot's evaluation of that close).
pub(super) struct BotBars {
    pub(super) from: Date,
    pub(super) through: Date,
    pub(super) settled: bool,
    pub(super) read: std::time::Instant,
    pub(super) bars: Arc<Vec<app::domain::market::Bar>>,
}

/// One account's [`Income`], read by one request at a time.
type IncomeEntry = Arc<tokio::sync::Mutex<Income>>;

/// What an account's activities have said so far: its fills (the plans' buys, the user's
/// own buys and every sale) and its dividends.
#[derive(Debug, Default)]
struct Income {
    /// The last whole read, served while the daily read from the start is under way (or
    /// failing).
    previous: Option<AccountActivity>,
    fills: Arc<Vec<Fill>>,
    dividends: Decimal,
    /// When the first read of these activities was made (ms): the whole history is read
    /// again once a day, so an activity the broker books late under an earlier date is
    /// not missed for good.
    started_at: i64,
    /// The last activity read: the next read starts after it.
    last_id: Option<String>,
    /// Whether every activity up to `read_at` has been read.
    complete: bool,
    /// When it was last read, or last failed to be read (ms); `None`: never.
    read_at: Option<i64>,
    /// Whether that last read failed.
    failed: bool,
    /// When it was last asked for (ms): unasked ones are dropped.
    used_at: i64,
}

/// One fill of an account's order, from its activities.
#[derive(Clone, Debug)]
struct Fill {
    /// ms.
    at: i64,
    order_id: String,
    symbol: String,
    sell: bool,
    qty: Decimal,
    price: Decimal,
}

/// What the account's activities said, once they have all been read.
#[derive(Clone, Debug)]
struct AccountActivity {
    fills: Arc<Vec<Fill>>,
    dividends: Decimal,
}

impl Income {
    /// Its figures, once every activity has been read.
    fn snapshot(&self) -> Option<AccountActivity> {
        self.complete.then(|| AccountActivity {
            fills: self.fills.clone(),
            dividends: app::domain::market::round_cents(self.dividends),
        })
    }
}

/// How long an account's realized profit and dividends are reused before newer activities
/// are read (sales and dividends are rare; a dashboard refreshes every 30 s).
const INCOME_MS: i64 = 5 * 60_000;
/// After the broker failed to answer, how long before it is asked again.
const INCOME_RETRY_MS: i64 = 60_000;
/// Pages of 100 activities one read goes through at most (the rest on the next reads).
const INCOME_PAGES: usize = 20;
/// Accounts nobody asked about for this long are forgotten (read again from the start).
const INCOME_KEPT_MS: i64 = 60 * 60_000;
/// How long the activities read are kept before the whole history is read again.
const INCOME_REREAD_MS: i64 = 24 * 60 * 60_000;

/// A symbol's daily closes from `from` up to yesterday, read on `on`.
struct Closes {
    on: Date,
    from: Date,
    closes: Arc<Vec<(Date, Decimal)>>,
}

/// Symbols whose latest price or closes are read from the broker at once.
const PARALLEL_READS: usize = 8;

impl PortfolioService {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        brokers: Arc<BrokerDirectory>,
        events: EventBus,
    ) -> Self {
        Self {
            db,
            accounts,
            brokers,
            events,
            views: AccountViews::new(clock.clone()),
            clock,
            closes: Mutex::new(HashMap::new()),
            income: Mutex::new(HashMap::new()),
            bot_bars: Mutex::new(HashMap::new()),
        }
    }

    /// The account's fills and dividends from its activities (newer ones read at most
    /// every [`INCOME_MS`], the whole history once a day); `None` until every activity has
    /// been read once, or when the broker did not answer the first time.
    async fn income(
        &self,
        user_id: &str,
        account: &str,
        broker: &AlpacaBroker,
    ) -> Option<AccountActivity> {
        let now = self.clock.now().millis();
        let entry = {
            let mut all = self.income.lock().unwrap_or_else(PoisonError::into_inner);
            all.retain(|_, entry| {
                Arc::strong_count(entry) > 1
                    || entry
                        .try_lock()
                        .map_or(true, |income| now - income.used_at < INCOME_KEPT_MS)
            });
            all.entry((user_id.to_owned(), account.to_owned()))
                .or_default()
                .clone()
        };
        let mut income = entry.lock().await;
        if income.read_at.is_some() && now - income.started_at >= INCOME_REREAD_MS {
            // Read again from the start; what was read serves until that read is whole.
            let previous = income.snapshot().or_else(|| income.previous.take());
            *income = Income {
                previous,
                ..Income::default()
            };
        }
        if income.read_at.is_none() {
            income.started_at = now;
        }
        income.used_at = now;
        // Newer activities every few minutes; the rest of a long history at once (the last
        // read stopped after its pages); after a failure, not before a minute.
        let wait = match (income.failed, income.complete) {
            (true, _) => INCOME_RETRY_MS,
            (false, true) => INCOME_MS,
            (false, false) => 0,
        };
        if income.read_at.is_none_or(|at| now - at >= wait) {
            match broker
                .activities(income.last_id.clone(), INCOME_PAGES)
                .await
            {
                Ok(read) => {
                    let mut fills = Vec::clone(&income.fills);
                    for activity in read.activities {
                        match activity {
                            Activity::Fill {
                                time,
                                order_id,
                                symbol,
                                side,
                                qty,
                                price,
                            } => fills.push(Fill {
                                at: time.as_millisecond(),
                                order_id,
                                symbol: symbol.to_string(),
                                sell: side == app::domain::order::Side::Sell,
                                qty,
                                price,
                            }),
                            Activity::Dividend { amount, .. } => income.dividends += amount,
                        }
                    }
                    income.fills = Arc::new(fills);
                    income.last_id = read.last_id;
                    income.complete = read.complete;
                    income.read_at = Some(now);
                    income.failed = false;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the account's activities");
                    income.read_at = Some(now);
                    income.failed = true;
                }
            }
        }
        income.snapshot().or_else(|| income.previous.clone())
    }

    /// The caller's account view (balances, positions, recent orders).
    async fn account_view(&self, user_id: &str) -> Result<Arc<AccountSummary>, AppError> {
        let (broker, account) = self.brokers.account_for(user_id).await?;
        self.views
            .read(user_id, &account, move || async move {
                read_account(&broker).await
            })
            .await
    }

    /// Each symbol's latest price: from the positions the account view holds (one broker
    /// request for them all, shared with the dashboard), else the latest trade.
    pub(super) async fn latest_prices(
        &self,
        user_id: &str,
        broker: &AlpacaBroker,
        symbols: &BTreeSet<String>,
    ) -> BTreeMap<String, Decimal> {
        let mut prices = BTreeMap::new();
        if let Ok(view) = self.account_view(user_id).await {
            for position in &view.positions {
                if let Some(value) = position.market_value
                    && !position.qty.is_zero()
                    && symbols.contains(&position.symbol)
                {
                    prices.insert(position.symbol.clone(), value / position.qty);
                }
            }
        }
        let missing: Vec<String> = symbols
            .iter()
            .filter(|s| !prices.contains_key(*s))
            .cloned()
            .collect();
        let read = futures_util::stream::iter(missing)
            .map(|symbol: String| async move {
                let parsed = Symbol::parse(&symbol).ok()?;
                let price = broker.latest_price(&parsed).await.ok()?;
                Some((symbol, price))
            })
            .buffer_unordered(PARALLEL_READS)
            .collect::<Vec<_>>()
            .await;
        prices.extend(read.into_iter().flatten());
        prices
    }

    /// `symbol`'s daily closes from `from` to yesterday (New York), read once a day from
    /// `source` (`demo`, the simulator, or `alpaca`'s market data).
    async fn closes(
        &self,
        source: &'static str,
        broker: &AlpacaBroker,
        symbol: &str,
        from: Date,
        today: Date,
    ) -> Arc<Vec<(Date, Decimal)>> {
        let key = (source, symbol.to_owned());
        if let Some(cached) = self
            .closes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            && cached.on == today
            && cached.from <= from
        {
            return cached.closes.clone();
        }
        let ny = app::domain::calendar::new_york();
        let read = async {
            let parsed = Symbol::parse(symbol).ok()?;
            let start = ny
                .to_timestamp(from.to_datetime(jiff::civil::Time::midnight()))
                .ok()?;
            let end = ny
                .to_timestamp(today.to_datetime(jiff::civil::Time::midnight()))
                .ok()?
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .ok()?;
            if end <= start {
                return Some(Vec::new());
            }
            let bars = broker
                .bars(&parsed, crate::broker::TimeFrame::Day, start, end)
                .await
                .ok()?;
            Some(
                bars.into_iter()
                    .map(|bar| (ny.to_datetime(bar.time).date(), bar.close))
                    .collect::<Vec<_>>(),
            )
        };
        // Without closes the days are valued at purchase prices; not kept, so the next
        // read tries again.
        let Some(closes) = read.await else {
            return Arc::new(Vec::new());
        };
        let closes = Arc::new(closes);
        let mut cache = self.closes.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|_, cached| cached.on == today);
        cache.insert(
            key,
            Closes {
                on: today,
                from,
                closes: closes.clone(),
            },
        );
        closes
    }

    /// The engine changed the user's account (an order filled): their view is outdated;
    /// if they are watching it, it is read again now and the new balances are announced.
    pub async fn account_changed(&self, user_id: &str) {
        if !self.views.changed(user_id) {
            return;
        }
        let Ok((broker, account)) = self.brokers.account_for(user_id).await else {
            return;
        };
        match self
            .views
            .refresh(user_id, &account, read_account(&broker))
            .await
        {
            Ok(view) => {
                let event = LiveEvent::Account(app::api::live::Balances {
                    equity: view.equity,
                    cash: view.cash,
                    buying_power: view.buying_power,
                    portfolio_value: view.portfolio_value,
                });
                self.events.publish(user_id, &event).await;
            }
            Err(err) => tracing::debug!(error = %err.message, "could not refresh an account view"),
        }
    }

    /// The users' account views.
    pub fn account_views(&self) -> &account_view::AccountViews {
        &self.views
    }

    /// Marks a user's account view outdated whenever another instance's purchase event for
    /// them goes by (the events of every instance reach every instance), so no instance
    /// serves balances from before a fill made elsewhere. This instance's own purchases
    /// mark the view where they happen, in order with its refreshes. Runs until the bus
    /// closes.
    pub fn watch_purchases(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let mut events = self.events.subscribe();
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let event = events.recv().await;
                let Some(me) = me.upgrade() else { break };
                match event {
                    Ok(event)
                        if event.live_type() == Some("purchase") && !me.events.is_own(&event) =>
                    {
                        me.views.changed(&event.user_id);
                    }
                    Ok(_) => {}
                    // Events were missed: any view may be outdated.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        me.views.changed_all()
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }
}

/// One symbol's purchases still held, oldest first (the position page).
pub struct PositionLots {
    pub symbol: String,
    /// Each open lot with the name of the plan that bought it (`None`: a deleted plan).
    pub lots: Vec<(Lot, Option<String>)>,
    pub price: Option<Decimal>,
}

impl PortfolioService {
    /// `symbol`'s lots the caller's plans bought and still hold (first in, first out), with
    /// its latest price. `None` when no plan of theirs bought it.
    pub async fn position_lots(
        &self,
        caller: &Caller,
        symbol: &str,
    ) -> Result<Option<PositionLots>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let (broker, account) = self.brokers.account_for(&user.id).await?;
        let names: HashMap<String, String> = self
            .db
            .plans_of(&user.id)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|plan| (plan.id, plan.name))
            .collect();
        let now = self.now()?;
        let bought: Vec<Bought> = self.db.bought(&user.id, &account).await.map_err(internal)?;
        if !bought.iter().any(|b| b.symbol == symbol) {
            return Ok(None);
        }
        // The account's sales (the user's own included) take the oldest lots first.
        let activity = self.income(&user.id, &account, &broker).await;
        let fills = activity.as_ref().map_or(&[][..], |a| a.fills.as_slice());
        let plan_orders = self.db.plan_order_ids(&user.id).await.map_err(internal)?;
        let book = account_book(&bought, fills, &plan_orders, now);
        let open: Vec<(Lot, Option<String>)> = book
            .open()
            .filter(|(lot, plan)| lot.symbol == symbol && plan.is_some())
            .map(|(lot, plan)| {
                (
                    lot.clone(),
                    plan.as_ref().and_then(|id| names.get(id).cloned()),
                )
            })
            .collect();
        let price = self
            .latest_prices(&user.id, &broker, &BTreeSet::from([symbol.to_owned()]))
            .await
            .remove(symbol);
        Ok(Some(PositionLots {
            symbol: symbol.to_owned(),
            lots: open,
            price,
        }))
    }

    fn now(&self) -> Result<jiff::Timestamp, AppError> {
        jiff::Timestamp::from_millisecond(self.clock.now().millis()).map_err(internal)
    }
}

/// The New York date of `at` (ms; `now`'s for a time out of range).
fn date_of(at: i64, now: jiff::Timestamp) -> Date {
    let at = jiff::Timestamp::from_millisecond(at).unwrap_or(now);
    app::domain::calendar::new_york().to_datetime(at).date()
}

/// A purchase as a lot on its New York date.
fn lot_of(b: &Bought, now: jiff::Timestamp) -> Lot {
    Lot {
        on: date_of(b.at, now),
        symbol: b.symbol.clone(),
        qty: b.qty,
        price: b.price,
    }
}

/// The account's shares first in first out: the plans' purchases (tagged with their plan),
/// the bots' sales (of their own shares only), and, from the account's fills, the user's
/// own purchases (untagged) and sales (of the oldest shares in the account), in the order
/// they happened. A plan's order is also a fill of the account: the fills of the plans'
/// orders (those that bought, and `plan_orders`, those not known to have filled yet) are
/// left out. (An order whose send was never answered has no broker id until it is found:
/// a fill of it seen before then counts as the user's own.)
fn account_book(
    bought: &[Bought],
    fills: &[Fill],
    plan_orders: &HashSet<String>,
    now: jiff::Timestamp,
) -> Book<Option<String>> {
    enum Step<'a> {
        Buy(Lot, Option<String>),
        /// A bot's sale, of its plan's shares.
        BotSell(&'a Bought),
        Sell(&'a Fill),
    }

    let filled: HashSet<&str> = bought
        .iter()
        .filter_map(|b| b.order_id.as_deref())
        .collect();
    let mut steps: Vec<(i64, bool, Step<'_>)> = bought
        .iter()
        .map(|b| {
            if b.sell {
                (b.at, true, Step::BotSell(b))
            } else {
                (
                    b.at,
                    false,
                    Step::Buy(lot_of(b, now), Some(b.plan_id.clone())),
                )
            }
        })
        .collect();
    for fill in fills {
        if plan_orders.contains(fill.order_id.as_str()) || filled.contains(fill.order_id.as_str()) {
            continue;
        }
        if fill.sell {
            steps.push((fill.at, true, Step::Sell(fill)));
        } else {
            let lot = Lot {
                on: date_of(fill.at, now),
                symbol: fill.symbol.clone(),
                qty: fill.qty,
                price: fill.price,
            };
            steps.push((fill.at, false, Step::Buy(lot, None)));
        }
    }
    // Buys before sales at the same moment.
    steps.sort_by_key(|(at, sell, _)| (*at, *sell));
    let mut book = Book::default();
    for (_, _, step) in steps {
        match step {
            Step::Buy(lot, plan) => book.buy(lot, plan),
            Step::BotSell(b) => {
                book.sell_where(date_of(b.at, now), &b.symbol, b.qty, b.price, |plan| {
                    plan.as_deref() == Some(b.plan_id.as_str())
                })
            }
            Step::Sell(fill) => {
                book.sell(date_of(fill.at, now), &fill.symbol, fill.qty, fill.price)
            }
        }
    }
    book
}

#[async_trait]
impl PortfolioPort for PortfolioService {
    /// The caller's broker account: balances, positions and recent orders, from their
    /// account view (see [`account_view`]): the broker is asked only when the view is
    /// missing, old or outdated by a fill.
    async fn account(&self, caller: &Caller) -> Result<AccountSummary, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let view = self.account_view(&user.id).await?;
        Ok(AccountSummary::clone(&view))
    }

    /// Historical bars from the caller's broker, oldest first.
    async fn bars(&self, caller: &Caller, query: &BarsQuery) -> Result<Vec<Bar>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let checked = query.check().map_err(AppError::invalid_fields)?;
        let ny = app::domain::calendar::new_york();
        let at_midnight = |date: jiff::civil::Date| {
            ny.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .map_err(internal)
        };
        let from = at_midnight(checked.from)?;
        let to = at_midnight(checked.to.tomorrow().map_err(internal)?)?
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .map_err(internal)?;
        let timeframe = match checked.length {
            BarLength::Day => crate::broker::TimeFrame::Day,
            BarLength::Hour => crate::broker::TimeFrame::Hour,
        };
        self.brokers
            .broker_for(&user.id)
            .await?
            .bars(&checked.symbol, timeframe, from, to)
            .await
            .map_err(broker_unavailable)
    }

    /// How the caller's purchases are doing: the account's and each plan's returns, valued
    /// at the latest prices, with daily points from the broker's closes.
    async fn performance(&self, caller: &Caller) -> Result<PerformanceView, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let now = self.now()?;
        let ny = app::domain::calendar::new_york();
        // Values are per trading day: on a weekend or a holiday, the last session's point
        // is today's (at the latest prices).
        let today = ny.to_datetime(now).date();
        let today = if app::domain::calendar::is_trading_day(today) {
            today
        } else {
            app::domain::calendar::previous_session_before(today).map_or(today, |s| s.date)
        };
        // The account the plans trade in now: its purchases, at its broker's prices.
        let (broker, account) = self.brokers.account_for(&user.id).await?;
        let bought = self.db.bought(&user.id, &account).await.map_err(internal)?;
        let plans = self.db.plans_of(&user.id).await.map_err(internal)?;
        let lots: Vec<(String, Lot)> = bought
            .iter()
            .filter(|b| !b.sell)
            .map(|b| (b.plan_id.clone(), lot_of(b, now)))
            .collect();
        let activity = self.income(&user.id, &account, &broker).await;
        // The account's sales, first in first out: the parts that sold the plans' shares
        // take them off the plans (and bring their money back).
        let plan_orders = self.db.plan_order_ids(&user.id).await.map_err(internal)?;
        let book = account_book(
            &bought,
            activity.as_ref().map_or(&[][..], |a| a.fills.as_slice()),
            &plan_orders,
            now,
        );
        let sold: Vec<Sold<Option<String>>> = book
            .sold()
            .iter()
            .filter(|s| s.tag.is_some())
            .cloned()
            .collect();
        // Only what is still held is priced.
        let symbols: BTreeSet<String> = book
            .open()
            .filter(|(_, plan)| plan.is_some())
            .map(|(lot, _)| lot.symbol.clone())
            .collect();
        let (prices, closes, as_of) = if lots.is_empty() {
            (BTreeMap::new(), BTreeMap::new(), None)
        } else {
            let source = if account == "demo" { "demo" } else { "alpaca" };
            let prices = self.latest_prices(&user.id, &broker, &symbols).await;
            // The prices are the account view's: as old as its last read from the broker.
            let as_of = self.views.fetched_at(&user.id, &account);
            let mut first: BTreeMap<String, Date> = BTreeMap::new();
            for (_, lot) in &lots {
                let entry = first.entry(lot.symbol.clone()).or_insert(lot.on);
                *entry = (*entry).min(lot.on);
            }
            let broker = &broker;
            let closes = futures_util::stream::iter(first)
                .map(|(symbol, from): (String, Date)| async move {
                    let closes = self.closes(source, broker, &symbol, from, today).await;
                    (symbol, closes.as_ref().clone())
                })
                .buffer_unordered(PARALLEL_READS)
                .collect::<BTreeMap<_, _>>()
                .await;
            (prices, closes, as_of)
        };
        let as_of = as_of
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .unwrap_or(now);
        let all: Vec<Lot> = lots.iter().map(|(_, lot)| lot.clone()).collect();
        let account = returns::performance(&all, &sold, &closes, &prices, today);
        let plans = plans
            .iter()
            .map(|plan| {
                let mine: Vec<Lot> = lots
                    .iter()
                    .filter(|(id, _)| *id == plan.id)
                    .map(|(_, lot)| lot.clone())
                    .collect();
                let theirs: Vec<Sold<Option<String>>> = sold
                    .iter()
                    .filter(|s| s.tag.as_deref() == Some(plan.id.as_str()))
                    .cloned()
                    .collect();
                let performance = returns::performance(&mine, &theirs, &closes, &prices, today);
                PlanReturns {
                    plan_id: plan.id.clone(),
                    name: plan.name.clone(),
                    series: series(&performance),
                    returns: wire_returns(&performance),
                }
            })
            .collect();
        Ok(PerformanceView {
            as_of,
            market_open: app::domain::calendar::is_open_at(now),
            next_open: next_open(now),
            opens_in_ms: next_open(now).map(|at| at.as_millisecond() - now.as_millisecond()),
            series: series(&account),
            holdings: account
                .holdings
                .iter()
                .map(|h| HoldingReturns {
                    symbol: h.symbol.clone(),
                    qty: h.qty,
                    cost: h.cost,
                    average_cost: h.average_cost,
                    value: h.value,
                })
                .collect(),
            account: wire_returns(&account),
            realized_pl: activity.as_ref().map(|_| book.realized()),
            dividends: activity.as_ref().map(|a| a.dividends),
            plans,
            bots_html: String::new(),
        })
    }

    /// Tradable symbols matching `query`, for the plan editor.
    async fn search_assets(
        &self,
        caller: &Caller,
        query: &str,
    ) -> Result<Vec<AssetFacts>, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let broker = self.brokers.broker_for(&user.id).await?;
        let found = broker
            .search_assets(query, 20)
            .await
            .map_err(broker_unavailable)?;
        Ok(found.into_iter().map(asset_facts).collect())
    }

    async fn bot_panels(&self, caller: &Caller) -> Result<String, AppError> {
        PortfolioService::bot_panels(self, caller).await
    }
}
