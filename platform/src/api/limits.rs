//! What one account may take of the API: requests (a token bucket per user, Heroku's 4,500 an
//! hour refilled continuously, answered in `RateLimit-Remaining` and a 429 `rate_limit` past it)
//! and one-off dynos running at once per app (429 `oneoff_limit` past it). Operators are not limited: the limits keep
//! tenants from taking the platform, and the operator runs it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

use super::ApiError;

/// Heroku's limit: requests per hour per account.
pub const DEFAULT_REQUESTS_PER_HOUR: u32 = 4_500;

/// One-off dynos an app may run at once, by default.
pub const DEFAULT_ONEOFFS_PER_APP: usize = 5;

/// The limits an operator sets (`paas server --api-rate-limit`, `--oneoffs-per-app`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// Requests an account may make per hour: the bucket's size, refilled at this rate.
    pub requests_per_hour: u32,
    /// One-off dynos (`paas run`, `heroku run`) an app may run at once.
    pub oneoffs_per_app: usize,
}

impl Default for ApiLimits {
    fn default() -> ApiLimits {
        ApiLimits { requests_per_hour: DEFAULT_REQUESTS_PER_HOUR, oneoffs_per_app: DEFAULT_ONEOFFS_PER_APP }
    }
}

/// One account's bucket: tokens left as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The limits and the state that enforces them (one per server).
#[derive(Debug, Default)]
pub struct Limits {
    config: ApiLimits,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
    /// Per app: held while one-off dynos are counted and one is started, so two requests at
    /// once cannot both see room for one more.
    oneoff_turns: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

impl Limits {
    /// Limits as configured, every bucket full.
    pub fn new(config: ApiLimits) -> Limits {
        Limits { config, ..Limits::default() }
    }

    /// Runs `start` if the app runs fewer one-off dynos than the limit (`running` counts them),
    /// one request of the app at a time; past the limit, a 429 `oneoff_limit`.
    pub async fn start_oneoff<T>(
        &self,
        app: &crate::model::App,
        running: impl Future<Output = usize>,
        start: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let turn = self.oneoff_turns.lock().expect("one-off turns").entry(app.id).or_default().clone();
        let result = {
            let _turn = turn.lock().await;
            let running = running.await;
            if running >= self.config.oneoffs_per_app {
                Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "oneoff_limit",
                    format!(
                        "{} already runs {running} one-off dynos, the most an app may run at once ({}): \
                         wait for one to exit, or stop one (paas ps:stop run.N).",
                        app.name, self.config.oneoffs_per_app
                    ),
                ))
            } else {
                start.await
            }
        };
        let mut turns = self.oneoff_turns.lock().expect("one-off turns");
        // The map's and ours: no one else waits, the entry can go.
        if Arc::strong_count(&turn) == 2 {
            turns.remove(&app.id);
        }
        result
    }

    /// What they are.
    pub fn config(&self) -> ApiLimits {
        self.config
    }

    /// Takes one request from `user`'s bucket: the requests left, or how long until one is.
    pub fn take(&self, user: Uuid) -> Result<u64, Duration> {
        self.take_at(user, Instant::now())
    }

    fn take_at(&self, user: Uuid, now: Instant) -> Result<u64, Duration> {
        let size = f64::from(self.config.requests_per_hour.max(1));
        let per_second = size / 3600.0;
        let mut buckets = self.buckets.lock().expect("rate limit buckets");
        if buckets.len() > 10_000 {
            // Full buckets carry nothing: forget them (a bucket per account, only those active).
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < size);
        }
        let bucket = buckets.entry(user).or_insert(Bucket { tokens: size, at: now });
        let refilled = (bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * per_second).min(size);
        bucket.at = now;
        if refilled >= 1.0 {
            bucket.tokens = refilled - 1.0;
            Ok(bucket.tokens as u64)
        } else {
            bucket.tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / per_second))
        }
    }

    /// Takes one request of `user`'s (operators are not limited) and notes what is left for the
    /// `RateLimit-Remaining` header; past the limit, a 429 `rate_limit`.
    pub fn check(&self, user: &crate::model::User, remaining: Option<&Remaining>) -> Result<(), ApiError> {
        if user.operator {
            return Ok(());
        }
        let taken = self.take(user.id);
        if let Some(remaining) = remaining {
            remaining.0.store(taken.unwrap_or(0), Ordering::Relaxed);
        }
        taken.map(drop).map_err(|wait| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit",
                format!(
                    "Your account reached the API rate limit of {} requests per hour. Please wait {} \
                     seconds before making new requests.",
                    self.config.requests_per_hour,
                    wait.as_secs().max(1)
                ),
            )
        })
    }
}

/// Requests left to the caller, as [`Limits::check`] found; `u64::MAX` until it is called.
#[derive(Debug, Clone)]
pub struct Remaining(Arc<AtomicU64>);

/// Gives every authenticated response (of an account that is limited) Heroku's
/// `RateLimit-Remaining` header.
pub async fn remaining_header(mut request: Request, next: Next) -> Response {
    let remaining = Remaining(Arc::new(AtomicU64::new(u64::MAX)));
    request.extensions_mut().insert(remaining.clone());
    let mut response = next.run(request).await;
    let left = remaining.0.load(Ordering::Relaxed);
    if left != u64::MAX {
        response.headers_mut().insert("ratelimit-remaining", HeaderValue::from(left));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills_continuously() {
        let limits = Limits::new(ApiLimits { requests_per_hour: 3600, ..ApiLimits::default() });
        let (user, start) = (Uuid::new_v4(), Instant::now());
        for left in (0..3600).rev() {
            assert_eq!(limits.take_at(user, start), Ok(left));
        }
        let wait = limits.take_at(user, start).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900), "{wait:?}");
        // One a second comes back.
        assert_eq!(limits.take_at(user, start + Duration::from_millis(1500)), Ok(0));
        assert!(limits.take_at(user, start + Duration::from_millis(1600)).is_err());
        // Another account has its own bucket.
        assert_eq!(limits.take_at(Uuid::new_v4(), start), Ok(3599));
        // A long pause fills the bucket, no more.
        assert_eq!(limits.take_at(user, start + Duration::from_secs(86_400)), Ok(3599));
    }
}
