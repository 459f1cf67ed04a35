//! JSON Schemas (for the REST API's OpenAPI document) of the wire forms that are not
//! derived: instants and dates as jiff writes them, money as a decimal string, and the
//! schedule's hand-written fields. Server only.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

/// A string schema under a name of its own, written inline where it is used.
macro_rules! string_schema {
    ($(#[$doc:meta])* $name:ident, $schema:tt) => {
        $(#[$doc])*
        pub struct $name;

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

string_schema!(
    /// An instant: RFC 3339 in UTC, e.g. `"2026-06-08T20:10:00Z"`.
    Instant,
    {"type": "string", "format": "date-time"}
);
string_schema!(
    /// A calendar day, `YYYY-MM-DD`.
    Day,
    {"type": "string", "format": "date"}
);
string_schema!(
    /// Dollars as a decimal string, never a JSON number: `"50.00"`.
    Money,
    {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
);

impl JsonSchema for crate::domain::schedule::Weekday {
    fn schema_name() -> Cow<'static, str> {
        "Weekday".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri"]})
    }
}

impl JsonSchema for crate::domain::schedule::DayOfMonth {
    fn schema_name() -> Cow<'static, str> {
        "DayOfMonth".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A calendar day 1–28, or the first or last trading day of the month.",
            "oneOf": [
                {"type": "integer", "minimum": 1, "maximum": 28},
                {"type": "string", "enum": ["first", "last"]}
            ]
        })
    }
}
