//! The response-time histogram: fixed log-spaced buckets (four per doubling, 100 µs to 62 s)
//! counted with one relaxed atomic add per request, snapshots, and quantiles read from them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets per doubling of the response time: neighbouring bounds differ by 2^(1/4) ≈ 1.19, so a
/// quantile read from the buckets is within about 10 % of the exact one.
const PER_DOUBLING: u32 = 4;
/// The first bound, in microseconds.
const FIRST_US: f64 = 100.0;
/// Finite bounds: 100 µs · 2^(i/4) for i in 0..78 (the last is 62.3 s, past Heroku's 30 s timeout).
pub const BOUNDS: usize = 78;

/// The upper bounds of the buckets, in microseconds (the last bucket, past them, is +Inf).
pub fn bounds_us() -> &'static [u64; BOUNDS] {
    static BOUNDS_US: std::sync::OnceLock<[u64; BOUNDS]> = std::sync::OnceLock::new();
    BOUNDS_US.get_or_init(|| {
        let mut bounds = [0u64; BOUNDS];
        for (i, bound) in bounds.iter_mut().enumerate() {
            *bound = (FIRST_US * 2f64.powf(i as f64 / f64::from(PER_DOUBLING))).round() as u64;
        }
        bounds
    })
}

/// The bucket of a response time: the first whose bound is at least it.
fn bucket_of(us: u64) -> usize {
    bounds_us().partition_point(|&bound| bound < us)
}

/// Counts of one histogram, live: [`Histogram::record`] is one atomic add to a bucket and one to
/// the sum, never a lock.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS + 1],
    sum_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: std::array::from_fn(|_| AtomicU64::new(0)), sum_us: AtomicU64::new(0) }
    }
}

impl Histogram {
    /// Counts one response time.
    pub fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> Buckets {
        Buckets {
            counts: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// A histogram's counts at one moment (or the difference of two moments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    /// Count per bucket (not cumulative); the last is past every bound.
    pub counts: [u64; BOUNDS + 1],
    /// The sum of the recorded times, in microseconds.
    pub sum_us: u64,
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets { counts: [0; BOUNDS + 1], sum_us: 0 }
    }
}

impl Buckets {
    /// How many times were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `other`'s counts (the same measure taken elsewhere: another node's router).
    pub fn add(&mut self, other: &Buckets) {
        for (count, more) in self.counts.iter_mut().zip(other.counts) {
            *count = count.saturating_add(more);
        }
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }

    /// What was recorded since `earlier` (a snapshot of the same histogram).
    pub fn since(&self, earlier: &Buckets) -> Buckets {
        Buckets {
            counts: std::array::from_fn(|i| self.counts[i].saturating_sub(earlier.counts[i])),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
        }
    }

    /// The `q` quantile (0.0–1.0) in microseconds, interpolated within its bucket; `None` when
    /// nothing was recorded. A time past the last bound reads as the last bound.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let bounds = bounds_us();
        let mut below = 0u64;
        for (i, &count) in self.counts.iter().enumerate() {
            if count > 0 && (below + count) as f64 >= rank {
                let Some(&upper) = bounds.get(i) else { return Some(bounds[BOUNDS - 1]) };
                let lower = if i == 0 { 0 } else { bounds[i - 1] };
                let within = (rank - below as f64) / count as f64;
                return Some(lower + ((upper - lower) as f64 * within).round() as u64);
            }
            below += count;
        }
        Some(bounds[BOUNDS - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_grow_by_a_fourth_doubling_from_100_us_to_past_30_s() {
        let bounds = bounds_us();
        assert_eq!(bounds[0], 100);
        assert_eq!(bounds[4], 200);
        assert!(bounds[BOUNDS - 1] > 30_000_000, "{}", bounds[BOUNDS - 1]);
        assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(100), 0);
        assert_eq!(bucket_of(101), 1);
        assert_eq!(bucket_of(u64::MAX), BOUNDS);
    }

    #[test]
    fn quantiles_are_within_ten_percent_of_the_exact_ones() {
        let histogram = Histogram::default();
        // 1 ms .. 1000 ms, evenly: p50 500 ms, p95 950 ms, p99 990 ms.
        for ms in 1..=1000u64 {
            histogram.record(Duration::from_millis(ms));
        }
        let snap = histogram.snapshot();
        assert_eq!(snap.count(), 1000);
        for (q, exact) in [(0.5, 500_000.0), (0.95, 950_000.0), (0.99, 990_000.0)] {
            let got = snap.quantile_us(q).unwrap() as f64;
            assert!((got - exact).abs() / exact < 0.1, "q{q}: {got} vs {exact}");
        }
        assert_eq!(snap.sum_us, 500_500_000);
        assert_eq!(Buckets::default().quantile_us(0.5), None);
    }

    #[test]
    fn since_is_what_was_recorded_in_between() {
        let histogram = Histogram::default();
        histogram.record(Duration::from_millis(1));
        let before = histogram.snapshot();
        histogram.record(Duration::from_millis(100));
        histogram.record(Duration::from_millis(100));
        let delta = histogram.snapshot().since(&before);
        assert_eq!(delta.count(), 2);
        let p50 = delta.quantile_us(0.5).unwrap();
        assert!((90_000..=110_000).contains(&p50), "{p50}");
    }
}
