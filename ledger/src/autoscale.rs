//! An autoscaling policy as the ledger keeps it: one process type's bounds and p95 target
//! ([`Policy`]), checked by [`Policy::check`]. What is decided from it is in
//! `paas_platform::autoscale`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Autoscaling of one process type of an app, as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The app.
    pub app_id: Uuid,
    /// `web` (the router measures web dynos only).
    pub process_type: String,
    /// Whether it scales now (disabled: the bounds are kept for the next enable).
    pub enabled: bool,
    /// Fewest dynos (at least 1).
    pub min: i64,
    /// Most dynos.
    pub max: i64,
    /// The p95 response-time target, in milliseconds.
    pub p95_ms: i64,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Why [`Policy::check`] refused a policy; the text is the message the API answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `min` and `max` are not `1 <= min <= max <= MAX_DYNOS`.
    #[error("Invalid bounds min={min} max={max}: use 1 <= min <= max <= {MAX_DYNOS}.")]
    Bounds {
        /// The `min` given.
        min: i64,
        /// The `max` given.
        max: i64,
    },
    /// The p95 target is not 1 to 30000 ms.
    #[error("Invalid p95 target {0} ms: use 1 to 30000 ms (the router's timeout).")]
    Target(i64),
}

/// Largest `max` accepted (a formation's own limit is the operator's business).
pub const MAX_DYNOS: i64 = 100;

impl Policy {
    /// Checks the bounds: `1 <= min <= max <= 100`, a target of 1 ms to 30 s.
    pub fn check(&self) -> Result<(), PolicyError> {
        if self.min < 1 || self.max < self.min || self.max > MAX_DYNOS {
            return Err(PolicyError::Bounds { min: self.min, max: self.max });
        }
        if !(1..=30_000).contains(&self.p95_ms) {
            return Err(PolicyError::Target(self.p95_ms));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked() {
        let now = Utc::now();
        let ok = Policy { app_id: Uuid::nil(), process_type: "web".into(), enabled: true, min: 1, max: 10, p95_ms: 200, created_at: now, updated_at: now };
        let policy = |min, max, p95_ms| Policy { min, max, p95_ms, ..ok.clone() };
        assert!(policy(1, 10, 200).check().is_ok());
        for bad in [policy(0, 10, 200), policy(5, 4, 200), policy(1, 101, 200), policy(1, 10, 0), policy(1, 10, 30_001)] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        // The API answers these texts in its 422 bodies.
        assert_eq!(policy(5, 4, 200).check().unwrap_err().to_string(), "Invalid bounds min=5 max=4: use 1 <= min <= max <= 100.");
        assert_eq!(
            policy(1, 10, 0).check().unwrap_err().to_string(),
            "Invalid p95 target 0 ms: use 1 to 30000 ms (the router's timeout)."
        );
    }
}
