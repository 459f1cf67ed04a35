//! The simulator's clock: simulated time that runs at `speed` × real time from a base
//! instant, and that tests and the control API can set or move forward.
//!
//! `speed == 0.0` freezes the clock: only [`SimClock::set`] and [`SimClock::advance`]
//! move it (the deterministic mode tests use).

use jiff::{SignedDuration, Timestamp};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
struct Base {
    real: Instant,
    sim: Timestamp,
}

/// Simulated time; `Send + Sync`, cheap to read.
#[derive(Debug)]
pub struct SimClock {
    base: Mutex<Base>,
    speed: f64,
}

impl SimClock {
    /// A clock that reads `start` now and then runs at `speed` (negative or NaN is 0).
    pub fn new(start: Timestamp, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            0.0
        };
        Self {
            base: Mutex::new(Base {
                real: Instant::now(),
                sim: start,
            }),
            speed,
        }
    }

    /// Whether simulated time moves by itself.
    pub fn is_running(&self) -> bool {
        self.speed > 0.0
    }

    pub fn now(&self) -> Timestamp {
        let base = self.base.lock().unwrap_or_else(|e| e.into_inner());
        Self::read(&base, self.speed)
    }

    fn read(base: &Base, speed: f64) -> Timestamp {
        if speed == 0.0 {
            return base.sim;
        }
        let elapsed = base.real.elapsed().as_secs_f64() * speed;
        let elapsed = SignedDuration::try_from_secs_f64(elapsed).unwrap_or(SignedDuration::MAX);
        base.sim.saturating_add(elapsed).unwrap_or(base.sim)
    }

    /// Sets the simulated time to `to` (it keeps running from there at `speed`).
    pub fn set(&self, to: Timestamp) {
        let mut base = self.base.lock().unwrap_or_else(|e| e.into_inner());
        base.real = Instant::now();
        base.sim = to;
    }

    /// Moves the simulated time forward by `seconds` (backward if negative); returns the new time.
    pub fn advance(&self, seconds: i64) -> Timestamp {
        let mut base = self.base.lock().unwrap_or_else(|e| e.into_inner());
        let now = Self::read(&base, self.speed);
        let to = now
            .saturating_add(SignedDuration::from_secs(seconds))
            .unwrap_or(now);
        base.real = Instant::now();
        base.sim = to;
        to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let start: Timestamp = "2026-01-05T15:00:00Z".parse().unwrap();
        let clock = SimClock::new(start, 0.0);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.advance(60).to_string(), "2026-01-05T15:01:00Z");
        clock.set(start);
        assert_eq!(clock.now(), start);
        assert!(!clock.is_running());
    }

    #[test]
    fn running_clock_moves_at_speed() {
        let start: Timestamp = "2026-01-05T15:00:00Z".parse().unwrap();
        let clock = SimClock::new(start, 1000.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(clock.now() >= start.saturating_add(SignedDuration::from_secs(10)).unwrap());
    }
}
