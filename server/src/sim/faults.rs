//! Fault injection for reliability tests: a share of `/v2` requests fails with a chosen
//! status, every request can be delayed, and a share hangs.
//!
//! `POST /sim/v1/faults {"error_rate":0.2,"latency_ms":200,"statuses":[500,503,429],
//! "timeout_rate":0.05}`; `DELETE /sim/v1/faults` clears them. Failures happen *before*
//! the request is processed (nothing changes). Timeouts happen *after* it was processed,
//! as when a response is lost on the way back: an order placed under a timeout exists, so
//! a client that retries must rely on its `client_order_id`. The draws come from a
//! generator seeded with the simulator's seed, so a run is repeatable.

use super::Simulator;
use super::error::SimError;
use app::domain::synthetic::Rng;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
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

    fn draw(&self) -> (Duration, Draw) {
        let mut guard = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        let (faults, rng) = &mut *guard;
        let Some(f) = faults.as_ref() else {
            return (Duration::ZERO, Draw::Pass);
        };
        let latency = Duration::from_millis(f.latency_ms);
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
    let (latency, draw) = sim.faults.draw();
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
