//! Crash-restart backoff: the first restart at once, then waits doubling from a base up to a
//! ceiling (Heroku: up to 5 minutes apart).

use std::time::Duration;

/// How long to wait before the restart that follows `crashes` consecutive crashes:
/// zero after the first crash, then `base`, `2·base`, `4·base`, … capped at `max`.
pub fn restart_delay(crashes: u32, base: Duration, max: Duration) -> Duration {
    if crashes <= 1 {
        return Duration::ZERO;
    }
    let doublings = (crashes - 2).min(30);
    base.saturating_mul(1u32 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_once_then_doubling_up_to_the_ceiling() {
        let s = Duration::from_secs;
        let delays: Vec<Duration> = (1..=12).map(|n| restart_delay(n, s(1), s(300))).collect();
        assert_eq!(
            delays,
            [s(0), s(1), s(2), s(4), s(8), s(16), s(32), s(64), s(128), s(256), s(300), s(300)]
        );
        assert_eq!(restart_delay(u32::MAX, s(1), s(300)), s(300));
    }
}
