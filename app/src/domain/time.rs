//! Instants and the injectable clock. Code that needs "now" takes a [`Clock`] so tests
//! and the simulator can drive time.

use serde::{Deserialize, Serialize};

/// An instant in UTC, as whole milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The instant `minutes` before this one.
    pub const fn minus_minutes(self, minutes: i64) -> Self {
        Self(self.0 - minutes * 60_000)
    }

    /// The instant `seconds` after this one.
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0 + seconds * 1_000)
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_in_milliseconds() {
        let t = Timestamp::from_millis(1_000_000);
        assert_eq!(t.minus_minutes(15).millis(), 1_000_000 - 900_000);
        assert_eq!(t.plus_seconds(2).millis(), 1_002_000);
    }
}
