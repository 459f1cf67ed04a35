//! The signed-in user's broker account as the pages show it (balances, positions, recent
//! orders, from each user's account view), historical bars and asset search: the
//! [`PortfolioPort`]. The engine tells it when a fill changed an account.

use super::account_view::{self, AccountViews};
use super::{asset_facts, broker_unavailable};
use crate::accounts::AccountService;
use crate::broker::Broker;
use crate::broker::alpaca::AlpacaBroker;
use crate::broker::directory::BrokerDirectory;
use crate::errors::internal;
use crate::events::EventBus;
use app::api::AppError;
use app::api::dca::{
    AccountSummary, AssetFacts, BarLength, BarsQuery, OrderSummary, PositionSummary,
};
use app::api::live::LiveEvent;
use app::api::ports::{Caller, PortfolioPort};
use app::domain::market::Bar;
use app::domain::time::Clock;
use async_trait::async_trait;
use std::sync::Arc;

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
    accounts: Arc<AccountService>,
    brokers: Arc<BrokerDirectory>,
    events: EventBus,
    /// Each user's broker account as last read (page views are served from here).
    views: AccountViews,
}

impl PortfolioService {
    pub fn new(
        clock: Arc<dyn Clock>,
        accounts: Arc<AccountService>,
        brokers: Arc<BrokerDirectory>,
        events: EventBus,
    ) -> Self {
        Self {
            accounts,
            brokers,
            events,
            views: AccountViews::new(clock),
        }
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

#[async_trait]
impl PortfolioPort for PortfolioService {
    /// The caller's broker account: balances, positions and recent orders, from their
    /// account view (see [`account_view`]): the broker is asked only when the view is
    /// missing, old or outdated by a fill.
    async fn account(&self, caller: &Caller) -> Result<AccountSummary, AppError> {
        let user = self.accounts.require_user(caller).await?;
        let (broker, account) = self.brokers.account_for(&user.id).await?;
        let view = self
            .views
            .read(&user.id, &account, move || async move {
                read_account(&broker).await
            })
            .await?;
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
}
