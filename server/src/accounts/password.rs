//! Password hashing with argon2id (the crate's default parameters: m=19 MiB, t=2, p=1).
//! Hashing is CPU-bound, so it runs on the blocking pool, at most one hash per core at a
//! time ([`Hashers`], one per account service): 500 sign-ins at once cannot take
//! 500 × 19 MiB and every core. Requests beyond that wait up to [`WAIT`], then are
//! answered [`HashError::Busy`].

use anyhow::Context as _;
use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use std::sync::LazyLock;
use std::time::Duration;

/// How long a hash waits for a free core before giving up.
pub const WAIT: Duration = Duration::from_secs(3);

/// The cores password hashes may use at once.
#[derive(Debug)]
pub struct Hashers(tokio::sync::Semaphore);

impl Default for Hashers {
    fn default() -> Self {
        Self(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every core is hashing and none came free in time.
    #[error("too many passwords are being checked at once")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

async fn permit(hashers: &Hashers) -> Result<tokio::sync::SemaphorePermit<'_>, HashError> {
    match tokio::time::timeout(WAIT, hashers.0.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(HashError::Busy),
    }
}

/// Verified against when the e-mail address is unknown, so a sign-in takes as long for a
/// missing account as for a wrong password and does not reveal which addresses exist.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking("timing equaliser, never a real password").unwrap_or_default());

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("failed to hash a password")?
        .to_string())
}

pub async fn hash(hashers: &Hashers, password: String) -> Result<String, HashError> {
    let _core = permit(hashers).await?;
    Ok(
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .context("the hashing task failed")??,
    )
}

/// Whether `password` matches `hash`. With no hash (unknown user) it spends the same
/// time and answers false.
pub async fn verify(
    hashers: &Hashers,
    password: String,
    hash: Option<String>,
) -> Result<bool, HashError> {
    let _core = permit(hashers).await?;
    Ok(tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        known && matches
    })
    .await
    .context("the verification task failed")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let h = Hashers::default();
        let a = hash(&h, "correct horse battery".into()).await.unwrap();
        let b = hash(&h, "correct horse battery".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(
            verify(&h, "correct horse battery".into(), Some(a.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(&h, "wrong horse battery".into(), Some(a))
                .await
                .unwrap()
        );
        assert!(!verify(&h, "anything at all".into(), None).await.unwrap());
    }
}
