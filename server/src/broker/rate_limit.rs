//! A token bucket per API key, shared by every caller in the process: Alpaca allows 200
//! requests a minute per key, and a caller that would exceed it waits for a token
//! instead of failing. Buckets nobody holds that have refilled completely are the same as
//! new ones, so they are dropped once there are many: the map does not grow with every key
//! id ever submitted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    state: tokio::sync::Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A bucket allowing `per_minute` requests a minute, with a full minute's burst.
    pub fn new(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            capacity,
            per_second: capacity / 60.0,
            state: tokio::sync::Mutex::new((capacity, Instant::now())),
        }
    }

    /// Nobody holds it and it is full again: dropping it changes nothing.
    fn is_idle(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) == 1
            && self.state.try_lock().is_ok_and(|state| {
                let (tokens, last) = *state;
                tokens + Instant::now().duration_since(last).as_secs_f64() * self.per_second
                    >= self.capacity
            })
    }

    /// Whole requests that may be sent now, unless the bucket is in use this instant.
    fn available(&self) -> Option<u32> {
        let state = self.state.try_lock().ok()?;
        let (tokens, last) = *state;
        let now = (tokens + Instant::now().duration_since(last).as_secs_f64() * self.per_second)
            .min(self.capacity);
        // Whole tokens between 0 and the capacity (a u32): the cast cannot truncate.
        Some(now.floor() as u32)
    }

    /// Waits until a request may be sent, then takes its token.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().await;
                let (tokens, last) = &mut *state;
                let now = Instant::now();
                *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second)
                    .min(self.capacity);
                *last = now;
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - *tokens) / self.per_second)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Above this many buckets, idle ones are dropped when a new key arrives: once the map has
/// doubled since the last sweep, or a minute after it (a bucket is idle a minute after its
/// last use). Never on every new key: with thousands of busy keys that was quadratic.
const SWEEP_ABOVE: usize = 1024;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// One bucket per API key id.
#[derive(Debug, Default)]
pub struct RateLimiters {
    per_minute: u32,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_key: HashMap<String, Arc<TokenBucket>>,
    sweep_at: usize,
    last_sweep: Option<Instant>,
}

impl std::ops::Deref for Buckets {
    type Target = HashMap<String, Arc<TokenBucket>>;
    fn deref(&self) -> &Self::Target {
        &self.by_key
    }
}

impl RateLimiters {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    pub fn for_key(&self, key_id: &str) -> Arc<TokenBucket> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = buckets.len() >= SWEEP_ABOVE.max(buckets.sweep_at)
            || (buckets.len() >= SWEEP_ABOVE
                && buckets
                    .last_sweep
                    .is_none_or(|at| at.elapsed() >= SWEEP_EVERY));
        if due && !buckets.contains_key(key_id) {
            buckets.by_key.retain(|_, bucket| !bucket.is_idle());
            buckets.sweep_at = buckets.len() * 2;
            buckets.last_sweep = Some(Instant::now());
        }
        buckets
            .by_key
            .entry(key_id.to_owned())
            .or_insert_with(|| Arc::new(TokenBucket::new(self.per_minute)))
            .clone()
    }
    /// The `n` buckets with the fewest requests left: (key id, requests left now, the
    /// allowance a minute). A bucket busy this instant is skipped (it is being used, and
    /// its count is a moment away from changing anyway).
    pub fn busiest(&self, n: usize) -> Vec<(String, u32, u32)> {
        let buckets: Vec<(String, Arc<TokenBucket>)> = self
            .buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(key, bucket)| (key.clone(), bucket.clone()))
            .collect();
        let mut left: Vec<(String, u32, u32)> = buckets
            .into_iter()
            .filter_map(|(key, bucket)| {
                let tokens = bucket.available()?;
                Some((key, tokens, self.per_minute.max(1)))
            })
            .collect();
        left.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        left.truncate(n);
        left
    }

    /// How many buckets are kept.
    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn callers_wait_for_tokens_instead_of_failing() {
        let bucket = TokenBucket::new(60); // one a second, burst of 60
        let start = Instant::now();
        for _ in 0..60 {
            bucket.acquire().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(10),
            "the burst is immediate"
        );
        bucket.acquire().await;
        bucket.acquire().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(1990) && waited < Duration::from_millis(2100),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_buckets_of_forgotten_keys_are_dropped() {
        let limiters = RateLimiters::new(200);
        let held = limiters.for_key("in use");
        held.acquire().await;
        for i in 0..3000 {
            limiters.for_key(&format!("junk-{i}")).acquire().await;
        }
        // Buckets that just spent a token are not full yet: nothing could be dropped.
        assert!(limiters.len() > 3000);
        tokio::time::advance(Duration::from_secs(61)).await;
        limiters.for_key("new");
        assert_eq!(
            limiters.len(),
            2,
            "only the held bucket and the new one remain"
        );
        assert!(Arc::ptr_eq(&held, &limiters.for_key("in use")));
    }

    #[tokio::test(start_paused = true)]
    async fn the_busiest_keys_have_the_fewest_requests_left() {
        let limiters = RateLimiters::new(100);
        for _ in 0..30 {
            limiters.for_key("busy").acquire().await;
        }
        for _ in 0..5 {
            limiters.for_key("calm").acquire().await;
        }
        limiters.for_key("idle");
        assert_eq!(
            limiters.busiest(2),
            vec![("busy".to_owned(), 70, 100), ("calm".to_owned(), 95, 100)]
        );
    }

    #[test]
    fn one_bucket_per_key() {
        let limiters = RateLimiters::new(200);
        assert!(Arc::ptr_eq(&limiters.for_key("a"), &limiters.for_key("a")));
        assert!(!Arc::ptr_eq(&limiters.for_key("a"), &limiters.for_key("b")));
    }
}
