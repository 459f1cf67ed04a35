use super::*;
use crate::domain::market::{Bar, Symbol};
use crate::domain::order::{AccountView, Size};
use crate::domain::strategy::dca::Leg;
use crate::domain::strategy::{Action, Event, Strategy};
use rust_decimal::Decimal;
use rust_decimal::dec;

const ACCOUNT: AccountView<'static> = AccountView {
    cash: Decimal::ZERO,
    position_qty: Decimal::ZERO,
    marks: &[],
};

fn spy() -> Symbol {
    Symbol::parse("SPY").unwrap()
}

fn feed(strategy: &mut SmartDca, closes: &[Decimal]) {
    let symbol = spy();
    for close in closes {
        let bar = Bar {
            time: jiff::Timestamp::UNIX_EPOCH,
            open: *close,
            high: *close,
            low: *close,
            close: *close,
            volume: 1,
        };
        strategy.on_event(
            Event::Bar {
                symbol: &symbol,
                bar: &bar,
            },
            &ACCOUNT,
            &mut Vec::new(),
        );
    }
}

fn slot(strategy: &mut SmartDca) -> Vec<Action> {
    let mut actions = Vec::new();
    strategy.on_event(
        Event::Slot {
            time: jiff::Timestamp::UNIX_EPOCH,
        },
        &ACCOUNT,
        &mut actions,
    );
    actions
}

fn bought(actions: &[Action]) -> Option<Decimal> {
    match actions {
        [Action::Order(order)] => match order.size {
            Size::Notional(amount) => Some(amount),
            Size::Qty(_) => None,
        },
        _ => None,
    }
}

fn smart(condition: MaCondition, when_not_met: WhenNotMet) -> SmartDca {
    SmartDca::new(
        vec![Leg {
            symbol: spy(),
            amount: dec!(100),
        }],
        SmartDcaConfig {
            condition,
            when_not_met,
        },
    )
}

#[test]
fn close_above_sma_buys_only_in_an_uptrend() {
    let mut s = smart(MaCondition::CloseAboveSma { period: 3 }, WhenNotMet::Skip);
    let actions = slot(&mut s);
    assert!(
        matches!(&actions[..], [Action::Skip { reason, .. }] if reason.contains("not enough price history"))
    );
    feed(&mut s, &[dec!(10), dec!(11), dec!(12)]); // SMA 11, close 12
    assert_eq!(bought(&slot(&mut s)), Some(dec!(100)));
    feed(&mut s, &[dec!(9)]); // SMA (11+12+9)/3 = 10.67, close 9
    let actions = slot(&mut s);
    assert!(
        matches!(&actions[..], [Action::Skip { reason, .. }] if reason.contains("did not hold"))
    );
}

#[test]
fn close_below_sma_buys_the_dip() {
    let mut s = smart(MaCondition::CloseBelowSma { period: 2 }, WhenNotMet::Skip);
    feed(&mut s, &[dec!(10), dec!(8)]);
    assert_eq!(bought(&slot(&mut s)), Some(dec!(100)));
    feed(&mut s, &[dec!(12)]);
    assert_eq!(bought(&slot(&mut s)), None);
}

#[test]
fn carry_forward_adds_skipped_amounts_to_the_next_purchase() {
    let mut s = smart(
        MaCondition::CloseAboveSma { period: 2 },
        WhenNotMet::CarryForward,
    );
    feed(&mut s, &[dec!(10), dec!(9)]);
    let first = slot(&mut s);
    assert!(matches!(&first[..], [Action::Skip { reason, .. }] if reason.contains("$100 carried")));
    let second = slot(&mut s);
    assert!(
        matches!(&second[..], [Action::Skip { reason, .. }] if reason.contains("$200 carried"))
    );
    feed(&mut s, &[dec!(12)]);
    assert_eq!(bought(&slot(&mut s)), Some(dec!(300)));
    assert_eq!(
        bought(&slot(&mut s)),
        Some(dec!(100)),
        "the carry is spent once"
    );
}

#[test]
fn fast_above_slow_compares_averages_exactly() {
    let mut s = smart(
        MaCondition::FastAboveSlow { fast: 2, slow: 3 },
        WhenNotMet::Skip,
    );
    feed(&mut s, &[dec!(10), dec!(10), dec!(10)]);
    assert_eq!(
        bought(&slot(&mut s)),
        None,
        "equal averages are not 'above'"
    );
    feed(&mut s, &[dec!(11)]);
    assert_eq!(bought(&slot(&mut s)), Some(dec!(100)));
}

#[test]
fn config_validation_and_json() {
    assert!(SmartDcaConfig::default().validate().is_ok());
    let bad = SmartDcaConfig {
        condition: MaCondition::FastAboveSlow { fast: 20, slow: 5 },
        when_not_met: WhenNotMet::Skip,
    };
    assert!(bad.validate().unwrap_err()["smart.condition"].contains("shorter"));
    let json = serde_json::to_value(SmartDcaConfig::default()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"condition": {"kind": "close_above_sma", "period": 50}, "when_not_met": "skip"})
    );
}

#[test]
fn a_restored_carry_is_spent_with_the_next_purchase() {
    let mut s = smart(
        MaCondition::CloseAboveSma { period: 2 },
        WhenNotMet::CarryForward,
    );
    s.set_carried(&spy(), dec!(250));
    feed(&mut s, &[dec!(10), dec!(12)]);
    assert_eq!(bought(&slot(&mut s)), Some(dec!(350)));
    assert_eq!(bought(&slot(&mut s)), Some(dec!(100)));
}

#[test]
fn carried_amounts_are_capped_at_the_slot_maximum() {
    use super::cap_carried;
    use crate::domain::market::Symbol;
    use crate::domain::strategy::dca::Leg;
    use rust_decimal::dec;
    use std::collections::BTreeMap;
    let spy = Symbol::parse("SPY").unwrap();
    let qqq = Symbol::parse("QQQ").unwrap();
    let legs = vec![
        Leg {
            symbol: spy.clone(),
            amount: dec!(50),
        },
        Leg {
            symbol: qqq.clone(),
            amount: dec!(25),
        },
    ];
    let owed = BTreeMap::from([(spy.clone(), dec!(500)), (qqq.clone(), dec!(250))]);
    // Room for everything: nothing changes.
    assert_eq!(cap_carried(&legs, &owed, dec!(10000)), owed);
    // $75 planned, $200 maximum: $125 of room, the first leg first.
    assert_eq!(
        cap_carried(&legs, &owed, dec!(200)),
        BTreeMap::from([(spy.clone(), dec!(125))])
    );
    assert_eq!(
        cap_carried(&legs, &owed, dec!(600)),
        BTreeMap::from([(spy.clone(), dec!(500)), (qqq.clone(), dec!(25))])
    );
    // No room at all, and nothing owed for a symbol not in the plan.
    assert!(cap_carried(&legs, &owed, dec!(75)).is_empty());
    let stray = BTreeMap::from([(Symbol::parse("IWM").unwrap(), dec!(10))]);
    assert!(cap_carried(&legs, &stray, dec!(10000)).is_empty());
}
