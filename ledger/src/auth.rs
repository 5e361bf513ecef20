//! Secrets: API keys (random 256-bit, stored as their SHA-256) and passwords (Argon2id).
//! Argon2 is slow on purpose, so the server runs it through [`hash`] and [`verify`]: on tokio's
//! blocking threads (never on an async worker, where it would stall the API and the router),
//! at most [`MAX_CONCURRENT_HASHES`] at once (a flood of bad logins queues there, cheaply,
//! instead of taking every blocking thread).

use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// How many Argon2 hashes or verifications run at once.
pub const MAX_CONCURRENT_HASHES: usize = 4;

static HASHING: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// Hashes running now, and the most there ever were (what the tests check).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Hashing failed: its blocking task could not run to the end (the runtime is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("password hashing did not finish: {0}")]
pub struct HashingError(String);

/// A new random API key: 64 lowercase hex digits (256 bits).
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the ledger stores for an API key: its SHA-256, hex. A 256-bit random key needs no salt
/// or slow hash, and a lookup by hash stays an index lookup.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Hashes a password for storage (Argon2id, PHC string with its salt).
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters")
        .to_string()
}

/// Whether `password` matches a hash made by [`hash_password`].
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Runs `work` on a blocking thread once one of the [`MAX_CONCURRENT_HASHES`] slots is free.
async fn off_the_workers<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashingError> {
    let _slot = HASHING.acquire().await.map_err(|e| HashingError(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let running = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(running, Ordering::SeqCst);
        #[cfg(test)]
        tests::RAN_ON.lock().unwrap().push(std::thread::current().id());
        let result = work();
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        result
    })
    .await
    .map_err(|e| HashingError(e.to_string()))
}

/// [`hash_password`] off the async workers, bounded.
pub async fn hash(password: &str) -> Result<String, HashingError> {
    let password = password.to_string();
    off_the_workers(move || hash_password(&password)).await
}

/// [`verify_password`] off the async workers, bounded.
pub async fn verify(password: &str, hash: &str) -> Result<bool, HashingError> {
    let (password, hash) = (password.to_string(), hash.to_string());
    off_the_workers(move || verify_password(&password, &hash)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_random_and_hashed() {
        let (a, b) = (generate_api_key(), generate_api_key());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(hash_api_key(&a), hash_api_key(&a));
        assert_ne!(hash_api_key(&a), a);
    }

    /// The threads Argon2 ran on.
    pub(super) static RAN_ON: std::sync::Mutex<Vec<std::thread::ThreadId>> = std::sync::Mutex::new(Vec::new());

    /// A flood of logins: Argon2 never runs on the async worker (the test's thread, on a
    /// current-thread runtime), which stays free to run other tasks, and never more than
    /// MAX_CONCURRENT_HASHES at once.
    #[tokio::test(flavor = "current_thread")]
    async fn a_flood_of_logins_hashes_off_the_worker_and_bounded() {
        let worker = std::thread::current().id();
        let stored = hash("s3cret").await.unwrap();
        let ticks = std::sync::Arc::new(AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let guesses: Vec<_> = (0..32)
            .map(|n| {
                let stored = stored.clone();
                tokio::spawn(async move { verify(&format!("guess {n}"), &stored).await.unwrap() })
            })
            .collect();
        for guess in guesses {
            assert!(!guess.await.unwrap());
        }
        ticker.abort();
        assert!(verify("s3cret", &stored).await.unwrap());
        assert!(PEAK.load(Ordering::SeqCst) <= MAX_CONCURRENT_HASHES, "{}", PEAK.load(Ordering::SeqCst));
        let ran_on = RAN_ON.lock().unwrap();
        assert!(ran_on.len() >= 34 && !ran_on.contains(&worker), "{} hashes, on the worker: {}", ran_on.len(), ran_on.contains(&worker));
        // The worker ran other tasks meanwhile.
        assert!(ticks.load(Ordering::SeqCst) > 0);
    }

    #[test]
    fn passwords_verify() {
        let hash = hash_password("s3cret");
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("s3cret!", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
    }
}
