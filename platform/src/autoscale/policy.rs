//! The pure decision made from one window's p95 under an autoscaling [`Policy`] (min, max, p95
//! target; kept in the ledger).

pub use paas_ledger::autoscale::Policy;

use crate::names::SizeClass;

/// The memory share of an app's wasm instances (the runtime's `MAX_MEMORY_PER_APP`, 4 GiB).
const WASM_APP_MEMORY_MIB: u64 = 4096;
/// The instance slots of an app (the runtime's `MAX_INSTANCES_PER_APP`).
const WASM_APP_INSTANCES: u64 = 100;

/// The most dynos a wasm app of `size` may be scaled to: as many instances of the size at its
/// memory limit as the app's share holds (Basic 32, Standard-1X/2X 8, Performance 2), within its
/// instance slots.
pub fn wasm_ceiling(size: &str) -> i64 {
    let instances = (WASM_APP_MEMORY_MIB / SizeClass::of(size).memory_mib()).min(WASM_APP_INSTANCES);
    i64::try_from(instances).unwrap_or(1).max(1)
}

/// A decision: the quantity to run and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Dynos to run (the current quantity when nothing changes).
    pub quantity: i64,
    /// Why, for the log line (`p95 412 ms > target 200 ms`).
    pub reason: String,
}

/// What to run next: `current` dynos served the window with `p95_ms` (`None`: no requests).
pub fn decide(policy: &Policy, current: i64, p95_ms: Option<f64>, ceiling: Option<i64>) -> Decision {
    let max = ceiling.map_or(policy.max, |c| policy.max.min(c)).max(policy.min);
    let target = policy.p95_ms as f64;
    let (wanted, reason) = match p95_ms {
        Some(p95) if p95 > target => {
            let proportional = (current.max(1) as f64 * p95 / target).ceil() as i64;
            (proportional.max(current + 1), format!("p95 {p95:.0} ms > target {} ms", policy.p95_ms))
        }
        Some(p95) if p95 < target / 2.0 => {
            (current - 1, format!("p95 {p95:.0} ms < half the target {} ms", policy.p95_ms))
        }
        Some(p95) => (current, format!("p95 {p95:.0} ms near target {} ms", policy.p95_ms)),
        None => (current - 1, "no requests".to_string()),
    };
    let quantity = wanted.clamp(policy.min, max);
    let reason = match (wanted > max, wanted < policy.min) {
        (true, _) if ceiling.is_some_and(|c| c < policy.max) => format!("{reason}; at the size's instance budget {max}"),
        (true, _) => format!("{reason}; at the maximum {max}"),
        (_, true) if current != quantity => format!("{reason}; the minimum is {}", policy.min),
        _ => reason,
    };
    Decision { quantity, reason }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;

    fn policy(min: i64, max: i64, p95_ms: i64) -> Policy {
        let now = Utc::now();
        Policy { app_id: Uuid::nil(), process_type: "web".into(), enabled: true, min, max, p95_ms, created_at: now, updated_at: now }
    }

    #[test]
    fn slow_scales_up_in_proportion_fast_and_idle_scale_down_by_one() {
        let p = policy(1, 10, 200);
        assert_eq!(decide(&p, 1, Some(450.0), None).quantity, 3, "ceil(1 × 450/200)");
        assert_eq!(decide(&p, 2, Some(210.0), None).quantity, 3, "at least one more");
        assert_eq!(decide(&p, 4, Some(2000.0), None).quantity, 10, "capped at max");
        assert!(decide(&p, 4, Some(2000.0), None).reason.contains("at the maximum 10"));
        assert_eq!(decide(&p, 3, Some(150.0), None).quantity, 3, "near the target: stay");
        assert_eq!(decide(&p, 3, Some(50.0), None).quantity, 2);
        assert_eq!(decide(&p, 3, None, None).quantity, 2);
        assert_eq!(decide(&p, 1, None, None).quantity, 1, "never under min");
        assert_eq!(decide(&policy(2, 10, 200), 1, None, None).quantity, 2, "raised to min");
        assert_eq!(decide(&p, 1, Some(450.0), None).reason, "p95 450 ms > target 200 ms");
    }

    #[test]
    fn a_wasm_app_stops_at_its_sizes_instance_budget() {
        assert_eq!((wasm_ceiling("Basic"), wasm_ceiling("standard-2x"), wasm_ceiling("Performance-L")), (32, 8, 2));
        let p = policy(1, 20, 100);
        let d = decide(&p, 1, Some(5000.0), Some(wasm_ceiling("Standard-1X")));
        assert_eq!(d.quantity, 8);
        assert!(d.reason.contains("instance budget 8"), "{}", d.reason);
    }
}
