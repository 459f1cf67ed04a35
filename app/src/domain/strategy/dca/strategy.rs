use super::Leg;
use crate::domain::order::{AccountView, OrderIntent};
use crate::domain::strategy::{Action, Event, Strategy};

/// Buys every leg's amount on every slot.
#[derive(Clone, Debug)]
pub struct PureDca {
    legs: Vec<Leg>,
}

impl PureDca {
    pub fn new(legs: Vec<Leg>) -> Self {
        Self { legs }
    }
}

impl Strategy for PureDca {
    fn on_event(
        &mut self,
        event: Event<'_>,
        _account: &AccountView<'_>,
        actions: &mut Vec<Action>,
    ) {
        if let Event::Slot { .. } = event {
            actions.extend(self.legs.iter().map(|leg| {
                Action::Order(OrderIntent::buy_notional(
                    leg.symbol.clone(),
                    leg.amount,
                    "scheduled purchase",
                ))
            }));
        }
    }
}
