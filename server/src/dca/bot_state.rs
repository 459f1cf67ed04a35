//! A signal bot's state as its page shows it: the position it holds (its own, apart from
//! the account's other shares), entry, stop and target, realized profit, its last runs with
//! what each saw or did, and its next evaluation. Computed as the bot itself decides: its
//! bars from its warm-up and its fills, through the backtester's strategy.

use super::portfolio::{BotBars, PortfolioService};
use super::scheduler::bot_start;
use crate::broker::Broker as _;
use crate::broker::alpaca::AlpacaBroker;
use crate::errors::internal;
use crate::mail::templates;
use app::api::AppError;
use app::api::dca::{Plan, PlanStrategy};
use app::api::ports::Caller;
use app::domain::calendar;
use app::domain::ids::PlanId;
use app::domain::market::round_cents;
use app::domain::market::{Bar, Symbol};
use app::domain::strategy::ma_crossover::{ExitRule, MaCrossoverConfig, Sizing, live};
use jiff::civil::Date;
use rust_decimal::Decimal;
use std::sync::{Arc, PoisonError};

/// One run of the bot: when, how it ended, and what it saw or did.
pub struct BotRun {
    pub at: jiff::Timestamp,
    pub state: String,
    pub reason: Option<String>,
}

pub struct BotState {
    pub plan: Plan,
    pub config: MaCrossoverConfig,
    /// Shares the bot holds, what they cost (average entry), and their value now.
    pub qty: Decimal,
    pub entry: Option<Decimal>,
    pub price: Option<Decimal>,
    pub stop: Option<Decimal>,
    pub target: Option<Decimal>,
    pub realized: Decimal,
    /// The capital not in the position.
    pub cash: Decimal,
    /// Whether its indicators had enough history at the last close.
    pub informed: bool,
    pub runs: Vec<BotRun>,
    /// Orders sent and not yet answered.
    pub waiting: usize,
    /// Whether one of its orders ended with no answer from the broker (it may have traded).
    pub unresolved: bool,
}

impl BotState {
    /// What the dashboard shows of the bot (`help/bot_panels.html`).
    fn panel(&self) -> minijinja::Value {
        let ny = calendar::new_york();
        let last = self.runs.first().map(|run| {
            minijinja::context! {
                at => ny.to_datetime(run.at).strftime("%a %b %-d").to_string(),
                reason => run.reason.clone().unwrap_or_else(|| run.state.clone()),
            }
        });
        minijinja::context! {
            id => self.plan.id.as_ref().map(|id| id.as_str().to_owned()),
            name => self.plan.name.clone(),
            status => self.plan.status.as_str(),
            symbol => self.plan.legs.first().map(|l| l.symbol.to_string()),
            held => !self.qty.is_zero(),
            qty => self.qty.normalize().to_string(),
            value => self.price.map(|p| round_cents(p * self.qty).to_string()),
            entry => self.entry.map(|e| e.to_string()),
            stop => self.stop.map(|s| s.to_string()),
            target => self.target.map(|t| t.to_string()),
            has_stop => self.config.stop_loss.is_some(),
            has_target => self.config.take_profit.is_some(),
            realized => signed(self.realized),
            waiting => self.waiting,
            next_run => self.plan.next_run_at.map(|at| ny.to_datetime(at).strftime("%a %b %-d %H:%M").to_string()),
            last,
        }
    }

    /// The settings in a line: "moving averages of 5 and 20 days, risk 1% per trade with a
    /// 2 × ATR(14) stop; …" (no slash: the page's escaping would show it as an entity).
    pub fn settings_line(&self) -> String {
        let c = &self.config;
        let sizing = match c.sizing {
            Sizing::AllIn => "all the capital per trade".to_owned(),
            Sizing::FixedNotional { amount } => format!("${amount} per trade"),
            Sizing::AtrRisk {
                risk_pct,
                atr_multiple,
            } => format!(
                "risk {risk_pct}% per trade with a {atr_multiple} × ATR({}) stop",
                c.atr_period
            ),
        };
        let exit = |rule: Option<ExitRule>| match rule {
            None => "none".to_owned(),
            Some(ExitRule::AtrMultiple(m)) => format!("{m} × ATR({})", c.atr_period),
            Some(ExitRule::Percent(p)) => format!("{p}%"),
        };
        let mut line = format!(
            "moving averages of {} and {} days, {sizing}; stop loss {}, take profit {}",
            c.fast,
            c.slow,
            exit(c.stop_loss),
            exit(c.take_profit)
        );
        if let Some(f) = c.volume_filter {
            line.push_str(&format!(
                "; volume above {} × its {}-day average",
                f.multiple, f.period
            ));
        }
        if let Some(days) = c.trend_filter {
            line.push_str(&format!("; only above the {days}-day average"));
        }
        if c.whole_shares {
            line.push_str("; whole shares");
        }
        line
    }
}

impl PortfolioService {
    /// The dashboard's "Signal bots" section: each of the caller's bots, oldest first, as
    /// HTML (empty without bots). A bot whose state cannot be read (its broker does not
    /// answer) says so in its place.
    pub async fn bot_panels(&self, caller: &Caller) -> Result<String, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let rows = self.db.plans_of(&user.id).await.map_err(internal)?;
        let bots: Vec<Plan> = rows
            .into_iter()
            .filter_map(|row| row.into_plan().ok())
            .filter(Plan::is_bot)
            .collect();
        if bots.is_empty() {
            return Ok(String::new());
        }
        let states =
            futures_util::future::join_all(bots.iter().map(|plan| self.state_of(&user.id, plan)))
                .await;
        let panels: Vec<minijinja::Value> = bots
            .iter()
            .zip(states)
            .map(|(plan, state)| match state {
                Ok(bot) => bot.panel(),
                Err(err) => minijinja::context! {
                    id => plan.id.as_ref().map(|id| id.as_str().to_owned()),
                    name => plan.name.clone(),
                    status => plan.status.as_str(),
                    symbol => plan.legs.first().map(|l| l.symbol.to_string()),
                    problem => err.message,
                },
            })
            .collect();
        templates::render(
            "help/bot_panels.html",
            minijinja::context! { bots => panels },
        )
        .map_err(internal)
    }

    /// The caller's bot `plan_id` (404 for another user's plan or one that is no bot).
    pub async fn bot_state(&self, caller: &Caller, plan_id: &str) -> Result<BotState, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let not_found = || AppError::not_found("That bot");
        let id = PlanId::parse(plan_id).map_err(|_| not_found())?;
        let row = self
            .db
            .plan(id.as_str(), &user.id)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        let plan = row.into_plan().map_err(internal)?;
        self.state_of(&user.id, &plan).await
    }

    /// The state of `plan`, one of user `user_id`'s bots (404 if it is no bot).
    async fn state_of(&self, user_id: &str, plan: &Plan) -> Result<BotState, AppError> {
        let not_found = || AppError::not_found("That bot");
        let PlanStrategy::Discretionary(config) = plan.strategy else {
            return Err(not_found());
        };
        let id = plan.id.as_ref().ok_or_else(not_found)?;
        let leg = plan.legs.first().ok_or_else(not_found)?.clone();
        let (fills, waiting) = self.db.bot_fills(id.as_str(), "").await.map_err(internal)?;
        let unresolved = self
            .db
            .unresolved_orders(id.as_str())
            .await
            .map_err(internal)?
            > 0;
        let runs: Vec<BotRun> = self
            .db
            .bot_runs(id.as_str(), 10)
            .await
            .map_err(internal)?
            .into_iter()
            .filter_map(|(at, state, reason)| {
                Some(BotRun {
                    at: jiff::Timestamp::from_millisecond(at).ok()?,
                    state,
                    reason,
                })
            })
            .collect();
        // The bars up to the last close that has passed, as the bot's last evaluation saw.
        let now = jiff::Timestamp::from_millisecond(self.clock.now().millis()).map_err(internal)?;
        let ny = calendar::new_york();
        let today = ny.to_datetime(now).date();
        let last_close = match calendar::session(today) {
            Ok(session) if session.close_at() <= now => Some(today),
            _ => calendar::previous_session_before(today).map(|s| s.date),
        };
        let (broker, account) = self.brokers.account_for(user_id).await?;
        let start = plan
            .created_at
            .and_then(|created| bot_start(plan, &config, created));
        // A stopped bot that holds nothing has no stop or target: its bars are not read.
        let holds = app::domain::ledger::PositionLedger::replay(&leg.symbol, &fills)
            .map_or(true, |(ledger, _)| !ledger.qty.is_zero());
        let wants_bars = holds || plan.status != app::api::dca::PlanStatus::Stopped;
        let bars = match (start, last_close) {
            (Some(start), Some(end)) if start <= end && wants_bars => {
                // Its own evaluation of that close has finished (its newest finished run
                // is of that day).
                let settled = runs
                    .first()
                    .is_some_and(|run| ny.to_datetime(run.at).date() == end);
                let key = format!("{}/{account}", id.as_str());
                self.bars_through(&key, &broker, &leg.symbol, start, end, now, settled)
                    .await
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        // Its bars and every fill so far, this morning's too: the position, entry, stop and
        // target the next evaluation starts from.
        let done = live::state_now(&leg.symbol, &config, leg.amount, &bars, &fills)
            .map_err(|err| internal(anyhow::anyhow!("the bot's fills do not add up: {err}")))?;
        let qty = done.ledger.qty;
        // Exits only from bars through the last close: with fewer (the broker did not
        // answer, or not in full), the strategy's ATR would be an older day's.
        let complete = last_close.is_some() && bars.last().map(|b| b.exchange_date()) == last_close;
        let exits = |level: Option<Decimal>| {
            level
                .filter(|_| !qty.is_zero() && complete)
                .map(round_cents)
        };
        let price = if qty.is_zero() {
            None
        } else {
            let symbol = std::collections::BTreeSet::from([leg.symbol.to_string()]);
            self.latest_prices(user_id, &broker, &symbol)
                .await
                .remove(leg.symbol.as_str())
        };
        Ok(BotState {
            config,
            qty,
            entry: done
                .ledger
                .open
                .as_ref()
                .map(|t| round_cents(t.entry_price())),
            price,
            stop: exits(done.stop),
            target: exits(done.target),
            realized: round_cents(done.ledger.realized_pnl),
            cash: round_cents(done.cash),
            // A stopped bot holding nothing read no bars: it needs no more history.
            informed: done.informed || !wants_bars,
            runs,
            waiting,
            unresolved,
            plan: plan.clone(),
        })
    }
}

impl PortfolioService {
    /// A bot's daily bars of `symbol` from `start` through the close of `end` (the last
    /// close), kept under `key`, the bot and its broker account (another user's, another
    /// bot's or another account's would be read with other keys, perhaps from another data
    /// feed). Once the bot's own evaluation of that close
    /// has finished (`settled`) the bars are final and read from the broker once per close,
    /// not with each refresh of the dashboard; before, they are read again after
    /// [`UNSETTLED_FOR`] of wall time. `None` when the broker did not answer (not kept: the
    /// next read tries again).
    #[allow(clippy::too_many_arguments)]
    async fn bars_through(
        &self,
        key: &str,
        broker: &AlpacaBroker,
        symbol: &Symbol,
        start: Date,
        end: Date,
        now: jiff::Timestamp,
        settled: bool,
    ) -> Option<Vec<Bar>> {
        let cached = self
            .bot_bars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .filter(|cached| {
                cached.through == end
                    && cached.from == start
                    && (cached.settled || (!settled && cached.read.elapsed() < UNSETTLED_FOR))
            })
            .map(|cached| cached.bars.clone());
        if let Some(bars) = cached {
            return Some(bars.as_ref().clone());
        }
        let ny = calendar::new_york();
        let from = ny
            .to_timestamp(start.to_datetime(jiff::civil::Time::midnight()))
            .ok()?;
        let to = ny
            .to_timestamp(end.to_datetime(jiff::civil::time(23, 59, 0, 0)))
            .ok()?;
        let bars: Vec<Bar> = broker
            .bars(symbol, crate::broker::TimeFrame::Day, from, to.min(now))
            .await
            .ok()?
            .into_iter()
            .filter(|b| (start..=end).contains(&b.exchange_date()))
            .collect();
        let mut cache = self.bot_bars.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|_, cached| cached.through == end);
        cache.insert(
            key.to_owned(),
            BotBars {
                from: start,
                through: end,
                settled: settled && bars.last().map(Bar::exchange_date) == Some(end),
                read: std::time::Instant::now(),
                bars: Arc::new(bars.clone()),
            },
        );
        Some(bars)
    }
}

/// How long a bot's bars read before its evaluation of the last close has finished are
/// used again (page views and refreshes in that window share one read).
const UNSETTLED_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// A gain or loss in dollars and cents, signed ("+$1.50", "−$0.25", "$0.00").
pub fn signed(amount: Decimal) -> String {
    let amount = round_cents(amount);
    if amount > Decimal::ZERO {
        format!("+${amount}")
    } else if amount < Decimal::ZERO {
        format!("−${}", amount.abs())
    } else {
        "$0.00".to_owned()
    }
}
