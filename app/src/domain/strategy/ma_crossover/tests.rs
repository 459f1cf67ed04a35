use super::*;
use crate::domain::market::{Bar, Symbol};
use crate::domain::order::{AccountView, Fill, Side, Size};
use crate::domain::strategy::{Action, Event, Strategy};
use rust_decimal::Decimal;
use rust_decimal::dec;

fn spy() -> Symbol {
    Symbol::parse("SPY").unwrap()
}

fn bar(close: Decimal, volume: u64) -> Bar {
    Bar {
        time: jiff::Timestamp::UNIX_EPOCH,
        open: close,
        high: close + dec!(1),
        low: close - dec!(1),
        close,
        volume,
    }
}

fn account(cash: Decimal, qty: Decimal) -> AccountView<'static> {
    // Positions are valued at zero here: these tests size from cash.
    AccountView {
        cash,
        position_qty: qty,
        marks: &[],
    }
}

/// Feeds closes; returns the actions of the last bar.
fn feed(s: &mut MaCrossover, closes: &[(Decimal, u64)], acct: AccountView<'_>) -> Vec<Action> {
    let symbol = spy();
    let mut actions = Vec::new();
    for (close, volume) in closes {
        actions.clear();
        s.on_event(
            Event::Bar {
                symbol: &symbol,
                bar: &bar(*close, *volume),
            },
            &acct,
            &mut actions,
        );
    }
    actions
}

fn config() -> MaCrossoverConfig {
    MaCrossoverConfig {
        fast: 2,
        slow: 3,
        sizing: Sizing::AllIn,
        stop_loss: None,
        ..MaCrossoverConfig::default()
    }
}

const CROSS_UP: [(Decimal, u64); 5] = [
    (dec!(10), 100),
    (dec!(10), 100),
    (dec!(10), 100),
    (dec!(9), 100),
    (dec!(12), 100),
];

fn buy_qty(actions: &[Action]) -> Option<Decimal> {
    match actions {
        [Action::Order(o)] if o.side == Side::Buy => match o.size {
            Size::Qty(q) => Some(q),
            Size::Notional(_) => None,
        },
        _ => None,
    }
}

#[test]
fn enters_only_on_a_strict_cross() {
    let mut s = MaCrossover::new(spy(), config());
    assert_eq!(
        buy_qty(&feed(&mut s, &CROSS_UP[..4], account(dec!(1000), dec!(0)))),
        None
    );
    let qty = buy_qty(&feed(&mut s, &CROSS_UP[4..], account(dec!(1000), dec!(0)))).unwrap();
    assert_eq!(
        qty,
        crate::domain::market::round_qty_down(dec!(999.9) / dec!(12))
    );
    // From equal averages straight to above is not a cross.
    let mut s = MaCrossover::new(spy(), config());
    let actions = feed(
        &mut s,
        &[(dec!(10), 1), (dec!(10), 1), (dec!(10), 1), (dec!(13), 1)],
        account(dec!(1000), dec!(0)),
    );
    assert!(actions.is_empty());
}

#[test]
fn whole_shares_and_fixed_notional_sizing() {
    let mut s = MaCrossover::new(
        spy(),
        MaCrossoverConfig {
            whole_shares: true,
            ..config()
        },
    );
    assert_eq!(
        buy_qty(&feed(&mut s, &CROSS_UP, account(dec!(1000), dec!(0)))),
        Some(dec!(83))
    );
    let fixed = MaCrossoverConfig {
        sizing: Sizing::FixedNotional { amount: dec!(120) },
        ..config()
    };
    let mut s = MaCrossover::new(spy(), fixed);
    assert_eq!(
        buy_qty(&feed(&mut s, &CROSS_UP, account(dec!(1000), dec!(0)))),
        Some(dec!(10))
    );
}

#[test]
fn atr_risk_sizing_risks_the_configured_share_of_equity() {
    let sizing = Sizing::AtrRisk {
        risk_pct: dec!(1),
        atr_multiple: dec!(2),
    };
    let mut s = MaCrossover::new(
        spy(),
        MaCrossoverConfig {
            sizing,
            atr_period: 2,
            ..config()
        },
    );
    // Every bar has high − low = 2 and the gaps are small, so ATR(2) is about 2–3.
    let qty = buy_qty(&feed(&mut s, &CROSS_UP, account(dec!(100000), dec!(0)))).unwrap();
    let atr = s.atr.value().unwrap();
    assert_eq!(
        qty,
        crate::domain::market::round_qty_down(dec!(1000) / (atr * dec!(2)))
    );
}

/// A strategy with a 10% stop loss that entered on a cross up and bought 5 at 12 (stop
/// 10.8), with that buy.
fn entered_with_a_stop() -> (MaCrossover, Fill) {
    let stop = MaCrossoverConfig {
        stop_loss: Some(ExitRule::Percent(dec!(10))),
        ..config()
    };
    let mut s = MaCrossover::new(spy(), stop);
    feed(&mut s, &CROSS_UP, account(dec!(1000), dec!(0)));
    let fill = Fill {
        symbol: spy(),
        side: Side::Buy,
        qty: dec!(5),
        price: dec!(12),
        commission: dec!(0),
        time: jiff::Timestamp::UNIX_EPOCH,
    };
    s.on_event(
        Event::Fill(&fill),
        &account(dec!(940), dec!(5)),
        &mut Vec::new(),
    );
    (s, fill)
}

#[test]
fn stop_loss_exits_after_the_entry_fill() {
    let (mut s, _) = entered_with_a_stop();
    // Stop at 10.8: a close of 11 holds, 10.5 sells everything.
    assert!(feed(&mut s, &[(dec!(11), 1)], account(dec!(940), dec!(5))).is_empty());
    let actions = feed(&mut s, &[(dec!(10.5), 1)], account(dec!(940), dec!(5)));
    assert!(
        matches!(&actions[..], [Action::Order(o)] if o.side == Side::Sell && o.size == Size::Qty(dec!(5)) && o.reason == "stop loss")
    );
}

#[test]
fn volume_and_trend_filters_block_entries() {
    let volume = MaCrossoverConfig {
        volume_filter: Some(VolumeFilter {
            multiple: dec!(1.5),
            period: 2,
        }),
        ..config()
    };
    let mut s = MaCrossover::new(spy(), volume);
    assert!(
        feed(&mut s, &CROSS_UP, account(dec!(1000), dec!(0))).is_empty(),
        "volume 100 is not > 1.5 × 100"
    );
    let mut s = MaCrossover::new(spy(), volume);
    let mut loud = CROSS_UP;
    loud[4].1 = 151;
    assert!(buy_qty(&feed(&mut s, &loud, account(dec!(1000), dec!(0)))).is_some());

    let trend = MaCrossoverConfig {
        trend_filter: Some(5),
        ..config()
    };
    let mut s = MaCrossover::new(spy(), trend);
    // SMA(5) of 10,10,10,9,12 = 10.2 < 12: the trend agrees.
    assert!(buy_qty(&feed(&mut s, &CROSS_UP, account(dec!(1000), dec!(0)))).is_some());
    let mut s = MaCrossover::new(
        spy(),
        MaCrossoverConfig {
            trend_filter: Some(6),
            ..config()
        },
    );
    assert!(
        feed(&mut s, &CROSS_UP, account(dec!(1000), dec!(0))).is_empty(),
        "SMA(6) is not warm yet"
    );
}

#[test]
fn config_validation() {
    assert!(MaCrossoverConfig::default().validate().is_ok());
    let bad = MaCrossoverConfig {
        fast: 20,
        slow: 5,
        commission: dec!(0.5),
        ..MaCrossoverConfig::default()
    };
    let errors = bad.validate().unwrap_err();
    assert!(errors.contains_key("fast") && errors.contains_key("commission"));
}

#[test]
fn the_warm_up_length_is_exactly_what_makes_the_first_evaluation_informed() {
    let variants = [
        MaCrossoverConfig::default(),
        MaCrossoverConfig {
            fast: 3,
            slow: 8,
            atr_period: 30,
            ..MaCrossoverConfig::default()
        },
        MaCrossoverConfig {
            sizing: Sizing::AllIn,
            stop_loss: Some(ExitRule::Percent(dec!(5))),
            volume_filter: Some(VolumeFilter {
                multiple: dec!(1.5),
                period: 40,
            }),
            ..MaCrossoverConfig::default()
        },
        MaCrossoverConfig {
            trend_filter: Some(200),
            ..MaCrossoverConfig::default()
        },
    ];
    for config in variants {
        let needed = config.warm_up_bars();
        let mut s = MaCrossover::new(spy(), config);
        let closes: Vec<(Decimal, u64)> = (0..needed)
            .map(|i| (dec!(100) + Decimal::from(i % 7), 1_000 + i as u64))
            .collect();
        feed(
            &mut s,
            &closes[..needed - 1],
            account(dec!(1000), Decimal::ZERO),
        );
        assert!(
            !s.is_warm(),
            "{needed} bars for {config:?}: not warm one bar early"
        );
        feed(
            &mut s,
            &closes[needed - 1..],
            account(dec!(1000), Decimal::ZERO),
        );
        assert!(s.is_warm(), "{needed} bars for {config:?}");
    }
    assert_eq!(MaCrossoverConfig::default().warm_up_bars(), 21);
}

#[test]
fn shares_left_after_part_of_the_position_went_keep_their_stop() {
    let (mut s, buy) = entered_with_a_stop();
    // Two of the five go (sold elsewhere and written off): the three left keep the stop.
    let part = Fill {
        side: Side::Sell,
        qty: dec!(2),
        ..buy.clone()
    };
    s.on_event(
        Event::Fill(&part),
        &account(dec!(964), dec!(3)),
        &mut Vec::new(),
    );
    assert_eq!(s.exits().0, Some(dec!(10.8)));
    let actions = feed(&mut s, &[(dec!(10.5), 1)], account(dec!(964), dec!(3)));
    assert!(
        matches!(&actions[..], [Action::Order(o)] if o.side == Side::Sell && o.size == Size::Qty(dec!(3)) && o.reason == "stop loss"),
        "{actions:?}"
    );
    // The last of them going clears the levels.
    let rest = Fill {
        qty: dec!(3),
        ..part
    };
    s.on_event(
        Event::Fill(&rest),
        &account(dec!(995.5), dec!(0)),
        &mut Vec::new(),
    );
    assert_eq!(s.exits(), (None, None));
}
