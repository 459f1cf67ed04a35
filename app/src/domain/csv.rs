//! Reading bars from CSV text: a header row naming `Date, Open, High, Low, Close, Volume`
//! (any case, any order, extra columns ignored), dates as `YYYY-MM-DD` (the bar of that
//! New York trading day, timed at 09:30) or RFC 3339 instants. Every problem is reported
//! with its line number; nothing is silently dropped.

use super::calendar;
use super::market::Bar;
use rust_decimal::Decimal;
use std::str::FromStr as _;

const COLUMNS: [&str; 6] = ["date", "open", "high", "low", "close", "volume"];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> CsvError {
    CsvError {
        line,
        message: message.into(),
    }
}

fn parse_time(value: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(date) = jiff::civil::Date::from_str(value) {
        return calendar::new_york()
            .to_timestamp(date.at(9, 30, 0, 0))
            .map_err(|e| format!("date {value:?}: {e}"));
    }
    jiff::Timestamp::from_str(value)
        .map_err(|_| format!("{value:?} is neither a YYYY-MM-DD date nor an RFC 3339 time"))
}

fn parse_price(name: &str, value: &str) -> Result<Decimal, String> {
    let price = Decimal::from_str(value)
        .or_else(|_| Decimal::from_scientific(value))
        .map_err(|_| format!("{name} {value:?} is not a number"))?;
    if price <= Decimal::ZERO {
        return Err(format!("{name} {value} must be positive"));
    }
    Ok(price)
}

fn parse_volume(value: &str) -> Result<u64, String> {
    if let Ok(v) = value.parse::<u64>() {
        return Ok(v);
    }
    // Some exports write volumes as "1234.0".
    match Decimal::from_str(value) {
        Ok(v) if v >= Decimal::ZERO && v.fract().is_zero() => {
            u64::try_from(v.mantissa() / 10i128.pow(v.scale()))
                .map_err(|_| format!("volume {value} is too large"))
        }
        _ => Err(format!(
            "volume {value:?} is not a whole non-negative number"
        )),
    }
}

/// Parses CSV text into bars in strictly increasing time order.
pub fn parse_bars(text: &str) -> Result<Vec<Bar>, CsvError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (header_line, header) = lines
        .by_ref()
        .find(|(_, l)| !l.trim().is_empty())
        .ok_or_else(|| error(1, "the file is empty"))?;
    let names: Vec<String> = header
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let mut index = [0usize; 6];
    for (slot, column) in index.iter_mut().zip(COLUMNS) {
        *slot = names
            .iter()
            .position(|n| n == column)
            .ok_or_else(|| error(header_line, format!("the header has no {column:?} column")))?;
    }
    let mut bars: Vec<Bar> = Vec::new();
    for (line, row) in lines {
        if row.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = row.split(',').map(|f| f.trim().trim_matches('"')).collect();
        let field = |i: usize| -> Result<&str, CsvError> {
            fields
                .get(index[i])
                .copied()
                .ok_or_else(|| error(line, format!("missing the {} column", COLUMNS[i])))
        };
        let time = parse_time(field(0)?).map_err(|m| error(line, m))?;
        let open = parse_price("open", field(1)?).map_err(|m| error(line, m))?;
        let high = parse_price("high", field(2)?).map_err(|m| error(line, m))?;
        let low = parse_price("low", field(3)?).map_err(|m| error(line, m))?;
        let close = parse_price("close", field(4)?).map_err(|m| error(line, m))?;
        let volume = parse_volume(field(5)?).map_err(|m| error(line, m))?;
        let bar = Bar {
            time,
            open,
            high,
            low,
            close,
            volume,
        };
        bar.check().map_err(|m| error(line, m))?;
        if let Some(previous) = bars.last() {
            if bar.time == previous.time {
                return Err(error(line, format!("duplicate date {}", field(0)?)));
            }
            if bar.time < previous.time {
                return Err(error(
                    line,
                    format!(
                        "{} comes before the previous row; sort the file by date",
                        field(0)?
                    ),
                ));
            }
        }
        bars.push(bar);
    }
    if bars.is_empty() {
        return Err(error(header_line, "the file has a header but no rows"));
    }
    Ok(bars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    #[test]
    fn reads_any_case_and_column_order_ignoring_extras() {
        let text = "date,Adj Close,CLOSE,high,Low,open,Volume\n2024-01-02,1,10.5,11,9.5,10,1000\n2024-01-03,1,11,11.5,10,10.5,1200.0\n";
        let bars = parse_bars(text).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(
            (bars[0].open, bars[0].close, bars[1].volume),
            (dec!(10), dec!(10.5), 1200)
        );
        assert_eq!(bars[0].time.to_string(), "2024-01-02T14:30:00Z");
    }

    #[test]
    fn reads_rfc3339_times() {
        let text = "Date,Open,High,Low,Close,Volume\n2024-07-01T13:30:00Z,1,2,1,2,5\n";
        assert_eq!(
            parse_bars(text).unwrap()[0].time.to_string(),
            "2024-07-01T13:30:00Z"
        );
    }

    #[test]
    fn reports_problems_with_line_numbers() {
        let header = "Date,Open,High,Low,Close,Volume\n";
        let cases = [
            (
                "Date,Open,High,Low,Close\n2024-01-02,1,1,1,1\n",
                1,
                "volume",
            ),
            (
                &format!("{header}2024-01-02,1,x,1,1,1\n") as &str,
                2,
                "high \"x\" is not a number",
            ),
            (
                &format!("{header}2024-01-02,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n"),
                3,
                "duplicate",
            ),
            (
                &format!("{header}2024-01-03,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n"),
                3,
                "sort the file",
            ),
            (&format!("{header}2024-01-02,1,1,2,1,1\n"), 2, "below low"),
            (&format!("{header}2024-13-02,1,1,1,1,1\n"), 2, "neither"),
            (
                &format!("{header}2024-01-02,1,1,1,1\n"),
                2,
                "missing the volume column",
            ),
            (
                &format!("{header}2024-01-02,1,1,1,1,-5\n"),
                2,
                "whole non-negative",
            ),
            (header, 1, "no rows"),
            ("", 1, "empty"),
        ];
        for (text, line, needle) in cases {
            let err = parse_bars(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
    }
}
