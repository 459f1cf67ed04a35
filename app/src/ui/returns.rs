//! How money is doing, as the dashboard shows it: invested, value, gain
//! and the two returns (each with when it is the right number), and the value-against-
//! invested chart, from the server's [`crate::api::performance`] figures.

use super::chart::{ChartData, Series};
use super::format::{day_month, money};
use crate::api::performance::{Returns, ValuePoint};
use leptos::prelude::*;
use rust_decimal::Decimal;

/// Portfolio value against money invested, one point a day (the server's series). Days are
/// labelled "1 Dec", with the year when the series spans more than one.
pub fn value_chart(points: &[ValuePoint]) -> ChartData {
    let years = points
        .first()
        .zip(points.last())
        .map(|(a, b)| (a.date.year(), b.date.year()));
    let label = |date: jiff::civil::Date| match years {
        Some((first, last)) if first != last => format!("{} {}", day_month(date), date.year()),
        _ => day_month(date),
    };
    ChartData {
        labels: points.iter().map(|p| label(p.date)).collect(),
        series: vec![
            Series {
                name: "Value",
                class: "line-a",
                values: points.iter().map(|p| p.value).collect(),
            },
            Series {
                name: "Invested",
                class: "line-b",
                values: points.iter().map(|p| p.invested).collect(),
            },
        ],
    }
}

/// "+12.34%", "−3.10%".
pub fn percent(value: Decimal) -> String {
    let sign = if value > Decimal::ZERO {
        "+"
    } else if value < Decimal::ZERO {
        "−"
    } else {
        ""
    };
    format!("{sign}{:.2}%", value.abs())
}

pub fn rate(value: Option<Decimal>) -> String {
    value.map(percent).unwrap_or_else(|| "—".into())
}

/// "+$12.00", "−$3.10" (money's own minus), "—" without an amount.
pub fn signed(amount: Option<Decimal>) -> String {
    match amount {
        Some(v) if v > Decimal::ZERO => format!("+{}", money(v)),
        Some(v) => money(v),
        None => "—".into(),
    }
}

/// Invested, value, gain and the two returns.
#[component]
pub fn ReturnsCards(returns: Returns) -> impl IntoView {
    let Returns {
        invested,
        value,
        gain,
        gain_pct,
        xirr_pct,
        xirr_note,
        twr_pct,
        twr_annual_pct,
        ..
    } = returns;
    view! {
        <div class="cards">
            <div class="card"><span class="card-label">"Invested"</span><span class="card-value" data-testid="invested">{money(invested)}</span></div>
            <div class="card"><span class="card-label">"Value now"</span><span class="card-value" data-testid="value">{money(value)}</span></div>
            <div class="card"><span class="card-label">"Gain"</span><span class="card-value" data-testid="gain">{signed(Some(gain))}" "<small>{rate(gain_pct)}</small></span></div>
            <div class="card">
                <span class="card-label">"Money-weighted return (XIRR)"</span>
                <span class="card-value" data-testid="xirr">{match xirr_pct { Some(p) => format!("{} a year", percent(p)), None => "—".into() }}</span>
                <span class="field-hint" data-testid="xirr-note">{xirr_note.unwrap_or_else(|| "Your yearly return, counting when each dollar went in: the number for money added over time.".into())}</span>
            </div>
            <div class="card">
                <span class="card-label">"Time-weighted return"</span>
                <span class="card-value" data-testid="twr">{rate(twr_pct)}{twr_annual_pct.map(|p| format!(" ({} a year)", percent(p)))}</span>
                <span class="field-hint">"How the investments did since the first purchase, whatever the timing: the number to compare with an index."</span>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn the_chart_and_rates_read_the_server_series() {
        let point = |day: i8, invested, value| ValuePoint {
            date: jiff::civil::date(2026, 12, day),
            invested,
            value,
        };
        let data = value_chart(&[
            point(1, dec!(50), dec!(50)),
            point(2, dec!(50), dec!(51.25)),
        ]);
        assert_eq!(data.labels, ["1 Dec", "2 Dec"]);
        let over_new_year = value_chart(&[
            ValuePoint {
                date: jiff::civil::date(2026, 12, 31),
                invested: dec!(1),
                value: dec!(1),
            },
            ValuePoint {
                date: jiff::civil::date(2027, 1, 4),
                invested: dec!(1),
                value: dec!(1),
            },
        ]);
        assert_eq!(over_new_year.labels, ["31 Dec 2026", "4 Jan 2027"]);
        assert_eq!(data.series[0].values, [dec!(50), dec!(51.25)]);
        assert_eq!(data.series[1].values, [dec!(50), dec!(50)]);
        assert_eq!(percent(dec!(12.3)), "+12.30%");
        assert_eq!(percent(dec!(-3.1)), "−3.10%");
        assert_eq!(rate(None), "—");
    }
}
