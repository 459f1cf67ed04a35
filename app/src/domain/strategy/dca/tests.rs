use super::*;
use crate::domain::market::Symbol;
use crate::domain::order::{AccountView, Side, Size};
use crate::domain::strategy::{Action, Event, Strategy};
use rust_decimal::Decimal;
use rust_decimal::dec;

fn leg(symbol: &str, amount: Decimal) -> Leg {
    Leg {
        symbol: Symbol::parse(symbol).unwrap(),
        amount,
    }
}

const ACCOUNT: AccountView<'static> = AccountView {
    cash: Decimal::ZERO,
    position_qty: Decimal::ZERO,
    marks: &[],
};

#[test]
fn buys_every_leg_on_every_slot() {
    let mut dca = PureDca::new(vec![leg("SPY", dec!(50)), leg("QQQ", dec!(25))]);
    let mut actions = Vec::new();
    dca.on_event(
        Event::Slot {
            time: jiff::Timestamp::UNIX_EPOCH,
        },
        &ACCOUNT,
        &mut actions,
    );
    let orders: Vec<_> = actions
        .iter()
        .map(|a| match a {
            Action::Order(o) => (o.symbol.as_str().to_owned(), o.side, o.size),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        orders,
        [
            ("SPY".into(), Side::Buy, Size::Notional(dec!(50))),
            ("QQQ".into(), Side::Buy, Size::Notional(dec!(25)))
        ]
    );
}

#[test]
fn ignores_bars() {
    let mut dca = PureDca::new(vec![leg("SPY", dec!(50))]);
    let bar = crate::domain::market::Bar {
        time: jiff::Timestamp::UNIX_EPOCH,
        open: dec!(1),
        high: dec!(1),
        low: dec!(1),
        close: dec!(1),
        volume: 1,
    };
    let symbol = Symbol::parse("SPY").unwrap();
    let mut actions = Vec::new();
    dca.on_event(
        Event::Bar {
            symbol: &symbol,
            bar: &bar,
        },
        &ACCOUNT,
        &mut actions,
    );
    assert!(actions.is_empty());
}

#[test]
fn legs_are_validated() {
    assert!(validate_legs(&[leg("SPY", dec!(1)), leg("QQQ", dec!(10000))]).is_ok());
    let errors = validate_legs(&[]).unwrap_err();
    assert!(errors["legs"].contains("at least one"));
    let errors = validate_legs(&[leg("SPY", dec!(0.99)), leg("SPY", dec!(5.001))]).unwrap_err();
    assert!(errors["legs[0].amount"].contains("at least $1.00"));
    assert!(errors["legs[1].amount"].contains("whole cents"));
    assert!(errors["legs[1].symbol"].contains("already"));
    let many: Vec<_> = (0..51).map(|i| leg(&format!("S{i}"), dec!(1))).collect();
    assert!(validate_legs(&many).unwrap_err()["legs"].contains("at most 50"));
}
