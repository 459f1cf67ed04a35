//! Line charts drawn as SVG by a component: axes with labels, a readout of the values under
//! the pointer (or the keyboard: arrow keys step through the points), and a table with the
//! same numbers for screen readers. No JavaScript charting library.

use super::format::{fixed, money};
use leptos::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: &'static str,
    /// CSS class that colours the line (`line-a`, `line-b`).
    pub class: &'static str,
    pub values: Vec<Decimal>,
}

/// Points shared by every series: one label per x position.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartData {
    pub labels: Vec<String>,
    pub series: Vec<Series>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// The y range to draw: every value, padded, never empty.
fn y_range(data: &ChartData) -> (f64, f64) {
    let values = data
        .series
        .iter()
        .flat_map(|s| s.values.iter())
        .filter_map(|v| v.to_f64());
    let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !min.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((max - min) * 0.08).max(max.abs() * 0.01).max(1.0);
    (
        (min - pad).max(if min >= 0.0 { 0.0 } else { f64::MIN }),
        max + pad,
    )
}

/// SVG path of one series (screen coordinates; f64 only for drawing, never for money).
pub fn path(values: &[Decimal], count: usize, range: (f64, f64)) -> String {
    let (lo, hi) = range;
    let span = (hi - lo).max(f64::EPSILON);
    let step = if count > 1 {
        (WIDTH - LEFT - RIGHT) / (count - 1) as f64
    } else {
        0.0
    };
    let mut d = String::new();
    for (i, v) in values.iter().enumerate() {
        let y = v.to_f64().unwrap_or(lo);
        let px = LEFT + step * i as f64;
        let py = TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (y - lo) / span);
        d.push_str(&format!(
            "{}{},{}",
            if i == 0 { "M" } else { " L" },
            fixed(px, 1),
            fixed(py, 1)
        ));
    }
    d
}

/// `$1.5M`, `$25k`, `$950`; negative amounts as `money` writes them (`−$120`).
fn short_money(v: f64) -> String {
    let sign = if fixed(v, 0).starts_with('-') {
        "−"
    } else {
        ""
    };
    let v = v.abs();
    if v >= 1_000_000.0 {
        format!("{sign}${}M", fixed(v / 1_000_000.0, 1))
    } else if v >= 10_000.0 {
        format!("{sign}${}k", fixed(v / 1_000.0, 0))
    } else {
        format!("{sign}${}", fixed(v, 0))
    }
}

/// An SVG coordinate, to a tenth of a unit.
fn at(v: f64) -> String {
    fixed(v, 1)
}

#[component]
pub fn LineChart(
    /// What the chart shows, for its accessible name.
    title: &'static str,
    #[prop(into)] data: Signal<ChartData>,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let hover = RwSignal::new(None::<usize>);
    let count = move || data.with(|d| d.labels.len());
    let readout = move || {
        data.with(|d| {
            let i = hover.get().unwrap_or(d.labels.len().saturating_sub(1));
            let label = d.labels.get(i).cloned().unwrap_or_default();
            let values = d
                .series
                .iter()
                .filter_map(|s| s.values.get(i).map(|v| format!("{} {}", s.name, money(*v))))
                .collect::<Vec<_>>()
                .join(" · ");
            format!("{label}: {values}")
        })
    };
    let on_move = move |ev: leptos::ev::MouseEvent| {
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let n = count();
            let Some(svg) = ev
                .current_target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            else {
                return;
            };
            let rect = svg.get_bounding_client_rect();
            if n == 0 || rect.width() <= 0.0 {
                return;
            }
            let x = (f64::from(ev.client_x()) - rect.left()) / rect.width() * WIDTH;
            let step = if n > 1 {
                (WIDTH - LEFT - RIGHT) / (n - 1) as f64
            } else {
                1.0
            };
            let i = ((x - LEFT) / step).round().clamp(0.0, (n - 1) as f64) as usize;
            hover.set(Some(i));
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let n = count();
        if n == 0 {
            return;
        }
        let current = hover.get().unwrap_or(n - 1);
        match ev.key().as_str() {
            "ArrowLeft" => hover.set(Some(current.saturating_sub(1))),
            "ArrowRight" => hover.set(Some((current + 1).min(n - 1))),
            "Home" => hover.set(Some(0)),
            "End" => hover.set(Some(n - 1)),
            _ => return,
        }
        ev.prevent_default();
    };
    let marker_x = move || {
        let n = count();
        let i = hover.get()?;
        let step = if n > 1 {
            (WIDTH - LEFT - RIGHT) / (n - 1) as f64
        } else {
            0.0
        };
        Some(at(LEFT + step * i as f64))
    };

    view! {
        <figure class="chart" data-testid=testid.unwrap_or("chart")>
            <p class="chart-readout" aria-hidden="true" data-testid="chart-readout">{readout}</p>
            <svg viewBox=format!("0 0 {} {}", at(WIDTH), at(HEIGHT)) role="img" aria-label=title tabindex="0"
                preserveAspectRatio="none"
                on:mousemove=on_move on:mouseleave=move |_| hover.set(None) on:keydown=on_key>
                {move || {
                    let range = data.with(y_range);
                    let (lo, hi) = range;
                    let ticks = (0..=3).map(|k| {
                        let v = lo + (hi - lo) * f64::from(k) / 3.0;
                        let y = TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - f64::from(k) / 3.0);
                        view! {
                            <line class="grid" x1=at(LEFT) x2=at(WIDTH - RIGHT) y1=at(y) y2=at(y) />
                            <text class="axis-label" x=at(LEFT - 6.0) y=at(y + 4.0) text-anchor="end">{short_money(v)}</text>
                        }
                    }).collect_view();
                    let (first, last) = data.with(|d| (d.labels.first().cloned().unwrap_or_default(), d.labels.last().cloned().unwrap_or_default()));
                    let n = count();
                    let lines = data.with(|d| d.series.iter().map(|s| {
                        view! { <path class=format!("line {}", s.class) d=path(&s.values, n, range) /> }
                    }).collect_view());
                    view! {
                        {ticks}
                        <text class="axis-label" x=at(LEFT) y=at(HEIGHT - 8.0)>{first}</text>
                        <text class="axis-label" x=at(WIDTH - RIGHT) y=at(HEIGHT - 8.0) text-anchor="end">{last}</text>
                        {lines}
                    }
                }}
                {move || marker_x().map(|x| view! { <line class="marker" x1=x.clone() x2=x y1=at(TOP) y2=at(HEIGHT - BOTTOM) /> })}
            </svg>
            <figcaption class="chart-legend">
                {move || data.with(|d| d.series.iter().map(|s| view! {
                    <span class=format!("legend {}", s.class)>{s.name}</span>
                }).collect_view())}
            </figcaption>
            <table class="visually-hidden">
                <caption>{title}</caption>
                <thead><tr>
                    <th scope="col">"Date"</th>
                    {move || data.with(|d| d.series.iter().map(|s| view! { <th scope="col">{s.name}</th> }).collect_view())}
                </tr></thead>
                <tbody>
                    {move || data.with(|d| d.labels.iter().enumerate().map(|(i, label)| view! {
                        <tr>
                            <th scope="row">{label.clone()}</th>
                            {d.series.iter().map(|s| view! { <td>{s.values.get(i).map(|v| money(*v)).unwrap_or_default()}</td> }).collect_view()}
                        </tr>
                    }).collect_view())}
                </tbody>
            </table>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn a_path_visits_every_point_left_to_right() {
        let d = path(&[dec!(0), dec!(50), dec!(100)], 3, (0.0, 100.0));
        assert!(d.starts_with("M64.0,212.0"), "{d}");
        assert!(
            d.ends_with(&format!("L{:.1},{TOP:.1}", WIDTH - RIGHT)),
            "{d}"
        );
        assert_eq!(d.matches('L').count(), 2);
    }

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(short_money(1_540_000.0), "$1.5M");
        assert_eq!(short_money(25_400.0), "$25k");
        assert_eq!(short_money(950.4), "$950");
        assert_eq!(short_money(-120.0), "−$120");
        assert_eq!(short_money(-0.2), "$0");
        assert_eq!(short_money(-25_400.0), "−$25k");
    }

    #[test]
    fn the_range_covers_every_series_with_room() {
        let data = ChartData {
            labels: vec!["a".into(), "b".into()],
            series: vec![
                Series {
                    name: "x",
                    class: "line-a",
                    values: vec![dec!(100), dec!(200)],
                },
                Series {
                    name: "y",
                    class: "line-b",
                    values: vec![dec!(150), dec!(250)],
                },
            ],
        };
        let (lo, hi) = y_range(&data);
        assert!((0.0..100.0).contains(&lo) && hi > 250.0);
        let empty = ChartData {
            labels: vec![],
            series: vec![],
        };
        assert_eq!(y_range(&empty), (0.0, 1.0));
    }
}
