//! A limiter per API key, shared by every caller in the process: Alpaca allows 200
//! requests a minute per key, and a caller that would exceed it waits instead of failing.
//! It counts the requests of the last minute (as the broker does), so no minute ever holds
//! more than the allowance: a bucket that refilled as it went (a minute's burst, then more
//! as tokens came back) let up to twice as many through in a minute, and the broker
//! refused the rest. Limiters nobody holds whose requests are all over a minute old are the
//! same as new ones, so they are dropped once there are many: the map does not grow with
//! every key id ever submitted.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The broker's minute, and a second more: a request counted here when it leaves is
/// counted there a moment later, so the broker's minute never holds one too many.
const WINDOW: Duration = Duration::from_secs(61);

#[derive(Debug)]
pub struct TokenBucket {
    per_minute: usize,
    /// When each request of the last minute was sent, oldest first.
    sent: tokio::sync::Mutex<VecDeque<Instant>>,
}

impl TokenBucket {
    /// A limiter allowing `per_minute` requests in any minute.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1) as usize,
            sent: tokio::sync::Mutex::new(VecDeque::new()),
        }
    }

    /// Forgets requests sent a minute or more before `now`.
    fn expire(sent: &mut VecDeque<Instant>, now: Instant) {
        while sent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= WINDOW)
        {
            sent.pop_front();
        }
    }

    /// Nobody holds it and its requests are all over a minute old: dropping it changes
    /// nothing.
    fn is_idle(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) == 1
            && self.sent.try_lock().is_ok_and(|sent| {
                sent.back()
                    .is_none_or(|at| Instant::now().duration_since(*at) >= WINDOW)
            })
    }

    /// Requests that may be sent now, unless the limiter is in use this instant.
    fn available(&self) -> Option<u32> {
        let mut sent = self.sent.try_lock().ok()?;
        Self::expire(&mut sent, Instant::now());
        // At most the allowance, itself a u32.
        Some(self.per_minute.saturating_sub(sent.len()) as u32)
    }

    /// Waits until a request may be sent (the minute's oldest is a minute old), then
    /// counts it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut sent = self.sent.lock().await;
                let now = Instant::now();
                Self::expire(&mut sent, now);
                if sent.len() < self.per_minute {
                    sent.push_back(now);
                    return;
                }
                let oldest = *sent.front().expect("a full window holds requests");
                WINDOW.saturating_sub(now.duration_since(oldest))
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
    async fn callers_wait_instead_of_failing_and_no_minute_holds_more() {
        let bucket = TokenBucket::new(60);
        let start = Instant::now();
        for _ in 0..30 {
            bucket.acquire().await;
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        for _ in 0..30 {
            bucket.acquire().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(30),
            "the allowance is there at once"
        );
        // The 61st waits until the first thirty are a window old, then thirty go at once (a
        // bucket refilling one a second had let them through at 30 s: 90 in a minute).
        for _ in 0..30 {
            bucket.acquire().await;
        }
        assert_eq!(start.elapsed(), WINDOW);
        bucket.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(30) + WINDOW);
        // The window now holds the thirty sent at one window and this one.
        assert_eq!(bucket.available(), Some(29));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_buckets_of_forgotten_keys_are_dropped() {
        let limiters = RateLimiters::new(200);
        let held = limiters.for_key("in use");
        held.acquire().await;
        for i in 0..3000 {
            limiters.for_key(&format!("junk-{i}")).acquire().await;
        }
        // Limiters that just sent a request are not idle: nothing could be dropped.
        assert!(limiters.len() > 3000);
        tokio::time::advance(WINDOW).await;
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
