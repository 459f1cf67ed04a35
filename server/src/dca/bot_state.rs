//! A signal bot's state as its page shows it: the position it holds (its own, apart from
//! the account's other shares), entry, stop and target, realized profit, its last runs with
//! what each saw or did, and its next evaluation. Computed as the bot itself decides: its
//! bars from its warm-up and its fills, through the backtester's strategy.

use super::portfolio::PortfolioService;
use super::scheduler::bot_start;
use crate::broker::Broker as _;
use crate::errors::internal;
use app::api::AppError;
use app::api::dca::{Plan, PlanStrategy};
use app::api::ports::Caller;
use app::domain::calendar;
use app::domain::ids::PlanId;
use app::domain::market::round_cents;
use app::domain::strategy::ma_crossover::{ExitRule, MaCrossoverConfig, Sizing, live};
use rust_decimal::Decimal;

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
}

impl BotState {
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
        let PlanStrategy::Discretionary(config) = plan.strategy else {
            return Err(not_found());
        };
        let leg = plan.legs.first().ok_or_else(not_found)?.clone();
        let (fills, waiting) = self.db.bot_fills(id.as_str(), "").await.map_err(internal)?;
        let runs = self
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
        let broker = self.brokers.broker_for(&user.id).await?;
        let start = plan
            .created_at
            .and_then(|created| bot_start(&plan, &config, created));
        let bars = match (start, last_close) {
            (Some(start), Some(end)) if start <= end => {
                let from = ny
                    .to_timestamp(start.to_datetime(jiff::civil::Time::midnight()))
                    .map_err(internal)?;
                let to = ny
                    .to_timestamp(end.to_datetime(jiff::civil::time(23, 59, 0, 0)))
                    .map_err(internal)?;
                broker
                    .bars(
                        &leg.symbol,
                        crate::broker::TimeFrame::Day,
                        from,
                        to.min(now),
                    )
                    .await
                    .map(|bars| {
                        bars.into_iter()
                            .filter(|b| (start..=end).contains(&b.exchange_date()))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let done = live::evaluate(&leg.symbol, &config, leg.amount, &bars, &fills)
            .map_err(|err| internal(anyhow::anyhow!("the bot's fills do not add up: {err}")))?;
        // Every fill so far (the evaluation leaves out those after its last close, such as
        // this morning's): what the bot holds now.
        let (ledger, moved) = app::domain::ledger::PositionLedger::replay(&leg.symbol, &fills)
            .map_err(|err| internal(anyhow::anyhow!("the bot's fills do not add up: {err}")))?;
        let cash = leg.amount + moved;
        let qty = ledger.qty;
        // The exits are the last evaluation's, for the position it saw.
        let exits = |level: Option<Decimal>| {
            level
                .filter(|_| !qty.is_zero() && done.ledger.qty == qty)
                .map(round_cents)
        };
        let price = if qty.is_zero() {
            None
        } else {
            broker.latest_price(&leg.symbol).await.ok()
        };
        Ok(BotState {
            config,
            qty,
            entry: ledger.open.as_ref().map(|t| round_cents(t.entry_price())),
            price,
            stop: exits(done.stop),
            target: exits(done.target),
            realized: round_cents(ledger.realized_pnl),
            cash: round_cents(cash),
            informed: done.informed,
            runs,
            waiting,
            plan,
        })
    }
}
