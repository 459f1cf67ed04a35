//! Bounded retries with exponential backoff and full jitter, for transient errors only.

use super::BrokerError;
use std::future::Future;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The longest wait before attempt `n + 1`: base × 2ⁿ, capped.
    fn ceiling(&self, n: u32) -> Duration {
        self.base_delay
            .saturating_mul(2u32.saturating_pow(n))
            .min(self.max_delay)
    }

    /// Runs `op` until it succeeds, fails for good, or the attempts run out.
    pub async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, BrokerError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BrokerError>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(err) if err.is_transient() && attempt + 1 < self.attempts => {
                    // Full jitter: a uniformly random wait up to the ceiling spreads retries
                    // from many callers instead of synchronising them.
                    let ceiling = self.ceiling(attempt);
                    let fraction =
                        (uuid::Uuid::new_v4().as_u64_pair().0 % 10_000) as f64 / 10_000.0;
                    tracing::debug!(attempt, error = %err, "retrying a transient broker error");
                    tokio::time::sleep(ceiling.mul_f64(fraction)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_only_and_stops() {
        let policy = RetryPolicy::default();
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = policy
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(BrokerError::Transient("503".into()))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 5);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), _> = policy
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(BrokerError::Rejected("insufficient buying power".into()))
            })
            .await;
        assert_eq!(
            result,
            Err(BrokerError::Rejected("insufficient buying power".into()))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a rejection is final");

        calls.store(0, Ordering::SeqCst);
        let result = policy
            .run(|| async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err(BrokerError::Transient("timeout".into()))
                } else {
                    Ok(n)
                }
            })
            .await;
        assert_eq!(result, Ok(2));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(0), Duration::from_millis(200));
        assert_eq!(policy.ceiling(3), Duration::from_millis(1600));
        assert_eq!(policy.ceiling(10), Duration::from_secs(5));
    }
}
