//! Fault injection for reliability tests: a share of `/v2` requests fails with a chosen
//! status, every request can be delayed, and a share hangs.
//!
//! `POST /sim/v1/faults {"error_rate":0.2,"latency_ms":200,"statuses":[500,503,429],
//! "timeout_rate":0.05}`; `DELETE /sim/v1/faults` clears them. Failures happen *before*
//! the request is processed (nothing changes). Timeouts happen *after* it was processed,
//! as when a response is lost on the way back: an order placed under a timeout exists, so
//! a client that retries must rely on its `client_order_id`. The draws come from a
//! generator seeded with the simulator's seed, so a run is repeatable.
//!
//! Two deterministic faults complete the set: `"lost_order_responses": N` places the next
//! N orders and then loses each answer (the request hangs for `timeout_ms`), and
//! `"partial_fills": {"SPY": "0.5", "*": "0.25"}` fills only that share of an order (by
//! symbol, `*` for any) when it first executes; the rest rests until the order expires
//! at the close or is canceled.

use super::Simulator;
use super::error::SimError;
use app::domain::synthetic::Rng;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The active faults.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Faults {
    /// Share of requests answered with one of `statuses` (0..=1).
    pub error_rate: f64,
    /// Delay added to every request.
    pub latency_ms: u64,
    /// Statuses to fail with, drawn uniformly (500 when empty).
    pub statuses: Vec<u16>,
    /// Share of requests that hang after being processed (0..=1).
    pub timeout_rate: f64,
    /// How long a hanging request hangs (60 s when absent).
    pub timeout_ms: Option<u64>,
    /// The next this many `POST /v2/orders` are processed, then their answers are lost.
    pub lost_order_responses: u32,
    /// Share (0 < s < 1) of an order that fills when it first executes, by symbol.
    pub partial_fills: BTreeMap<String, Decimal>,
}

/// The faults and their random draws.
pub struct FaultInjector {
    faults: Mutex<(Option<Faults>, Rng)>,
}

enum Draw {
    Pass,
    Fail(u16),
    Hang(Duration),
}

impl FaultInjector {
    pub fn new(seed: u64) -> Self {
        Self {
            faults: Mutex::new((None, Rng::new(seed ^ 0xFA17_FA17_FA17_FA17))),
        }
    }

    pub fn set(&self, faults: Option<Faults>) {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).0 = faults;
    }

    pub fn get(&self) -> Option<Faults> {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// What happens to a request; `places_order` for `POST /v2/orders`.
    fn draw(&self, places_order: bool) -> (Duration, Draw) {
        let mut guard = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let (faults, rng) = &mut *guard;
        let Some(f) = faults.as_mut() else {
            return (Duration::ZERO, Draw::Pass);
        };
        let latency = Duration::from_millis(f.latency_ms);
        if places_order && f.lost_order_responses > 0 {
            f.lost_order_responses -= 1;
            let hang = Duration::from_millis(f.timeout_ms.unwrap_or(60_000));
            return (latency, Draw::Hang(hang));
        }
        let roll = rng.next_f64();
        let draw = if roll < f.error_rate {
            let status = if f.statuses.is_empty() {
                500
            } else {
                f.statuses[(rng.next_u64() % f.statuses.len() as u64) as usize]
            };
            Draw::Fail(status)
        } else if roll < f.error_rate + f.timeout_rate {
            Draw::Hang(Duration::from_millis(f.timeout_ms.unwrap_or(60_000)))
        } else {
            Draw::Pass
        };
        (latency, draw)
    }
}

fn failure(status: u16) -> SimError {
    match status {
        429 => SimError::rate_limited(),
        401 => SimError::unauthorized(),
        503 => SimError::new(503, 50300000, "service unavailable"),
        s => SimError::new(s, u32::from(s) * 100_000, "internal server error"),
    }
}

/// Middleware for the `/v2` routes.
pub async fn inject(State(sim): State<Arc<Simulator>>, request: Request, next: Next) -> Response {
    let places_order =
        request.method() == axum::http::Method::POST && request.uri().path() == "/v2/orders";
    let (latency, draw) = sim.faults.draw(places_order);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match draw {
        Draw::Pass => next.run(request).await,
        Draw::Fail(status) => failure(status).into_response(),
        Draw::Hang(duration) => {
            let response = next.run(request).await;
            tokio::time::sleep(duration).await;
            response
        }
    }
}
