use crate::domain::market::Symbol;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The smallest notional order Alpaca accepts.
pub const MIN_LEG_AMOUNT: Decimal = Decimal::ONE;
/// Most legs one plan may have.
pub const MAX_LEGS: usize = 50;
/// The largest amount one leg may buy per slot ($1 billion): far above any plan limit, and
/// small enough that the legs of any plan add up without overflowing.
pub const MAX_LEG_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// What the legs spend per slot together; `None` if that does not fit in a decimal (only
/// for amounts the validation refuses anyway).
pub fn legs_total(legs: &[Leg]) -> Option<Decimal> {
    legs.iter()
        .try_fold(Decimal::ZERO, |sum, leg| sum.checked_add(leg.amount))
}

/// One symbol of a plan and the dollars to buy of it per slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub struct Leg {
    pub symbol: Symbol,
    /// Dollars per slot, at most 2 decimal places; a decimal string on the wire
    /// (`"50.00"`), never a JSON number.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schemars(with = "crate::api::schema::Money"))]
    pub amount: Decimal,
}

/// Checks the legs of a plan: 1–50 of them, no symbol twice, each amount at least $1 with
/// whole cents. Errors are keyed `legs` or `legs[i].amount` / `legs[i].symbol`.
pub fn validate_legs(legs: &[Leg]) -> Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    if legs.is_empty() {
        errors.insert("legs".into(), "Add at least one symbol to buy.".into());
    }
    if legs.len() > MAX_LEGS {
        errors.insert(
            "legs".into(),
            format!("A plan can buy at most {MAX_LEGS} symbols."),
        );
    }
    let mut seen = HashSet::new();
    for (i, leg) in legs.iter().enumerate() {
        if !seen.insert(&leg.symbol) {
            errors.insert(
                format!("legs[{i}].symbol"),
                format!("{} is already in this plan.", leg.symbol),
            );
        }
        if let Some(problem) = amount_problem(leg.amount) {
            errors.insert(format!("legs[{i}].amount"), problem);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What is wrong with one leg's amount, if anything: at least $1, whole cents.
pub fn amount_problem(amount: Decimal) -> Option<String> {
    if amount < MIN_LEG_AMOUNT {
        Some("Each amount must be at least $1.00.".into())
    } else if amount > MAX_LEG_AMOUNT {
        Some("Each amount can be at most $1,000,000,000.".into())
    } else if amount.normalize().scale() > 2 {
        Some("Use whole cents, e.g. 25.50.".into())
    } else {
        None
    }
}
