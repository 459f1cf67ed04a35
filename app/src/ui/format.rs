//! How the UI shows values.

use crate::domain::market::round_cents;
use rust_decimal::Decimal;

/// `$100,000.00`: cents, with thousands separated.
pub fn money(amount: Decimal) -> String {
    let text = round_cents(amount).abs().to_string();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount.is_sign_negative() && !amount.is_zero() {
        "−"
    } else {
        ""
    };
    format!("{sign}${grouped}.{cents}")
}

#[cfg(test)]
mod tests {
    use super::money;
    use rust_decimal::dec;

    #[test]
    fn money_is_grouped_in_thousands() {
        assert_eq!(money(dec!(100000)), "$100,000.00");
        assert_eq!(money(dec!(999.5)), "$999.50");
        assert_eq!(money(dec!(1234567.891)), "$1,234,567.89");
        assert_eq!(money(dec!(-42.1)), "−$42.10");
        assert_eq!(money(dec!(0)), "$0.00");
    }
}
