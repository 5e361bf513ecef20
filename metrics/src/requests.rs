//! What the router records per request of an app's web process: status class, Heroku error
//! code, response time, bytes in and out. Each is a relaxed atomic add on the app's own counters
//! (no lock, nothing shared with other apps).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::histogram::{Buckets, Histogram};

/// The router error codes counted (Heroku's `H10` … `H99`), in this order.
pub const CODES: [&str; 9] = ["H10", "H12", "H13", "H14", "H15", "H25", "H27", "H80", "H99"];

/// The status classes counted, in this order (`5xx` also holds 499, H27's).
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The request counters of one app's web process.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    classes: [AtomicU64; 5],
    codes: [AtomicU64; 9],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    latency: Histogram,
}

/// One finished request, as the router saw it.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// The status sent to the client.
    pub status: u16,
    /// The router's error code, as an index into [`CODES`].
    pub code: Option<usize>,
    /// Time from the request reaching the router to the end of the response (Heroku's
    /// `connect` + `service`).
    pub took: Duration,
    /// Request body bytes read.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
}

impl RequestMetrics {
    /// Counts one finished request.
    pub fn record(&self, request: Request) {
        let class = usize::from(request.status / 100).clamp(1, 5) - 1;
        self.classes[class].fetch_add(1, Ordering::Relaxed);
        if let Some(code) = request.code.and_then(|c| self.codes.get(c)) {
            code.fetch_add(1, Ordering::Relaxed);
        }
        if request.bytes_in > 0 {
            self.bytes_in.fetch_add(request.bytes_in, Ordering::Relaxed);
        }
        self.bytes_out.fetch_add(request.bytes_out, Ordering::Relaxed);
        self.latency.record(request.took);
    }

    /// Counts request body bytes (as the body is read, so a streamed upload counts as it goes).
    pub fn add_bytes_in(&self, bytes: u64) {
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The counters now (cumulative since the app's metrics were made).
    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            classes: std::array::from_fn(|i| self.classes[i].load(Ordering::Relaxed)),
            codes: std::array::from_fn(|i| self.codes[i].load(Ordering::Relaxed)),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            latency: self.latency.snapshot(),
        }
    }
}

/// [`RequestMetrics`] at one moment, or the difference of two.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Requests per status class ([`CLASSES`]).
    pub classes: [u64; 5],
    /// Requests per router error code ([`CODES`]).
    pub codes: [u64; 9],
    /// Request body bytes.
    pub bytes_in: u64,
    /// Response body bytes.
    pub bytes_out: u64,
    /// Response times.
    pub latency: Buckets,
}

impl RequestCounts {
    /// All requests.
    pub fn requests(&self) -> u64 {
        self.classes.iter().sum()
    }

    /// What happened since `earlier` (a snapshot of the same counters).
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            classes: std::array::from_fn(|i| self.classes[i].saturating_sub(earlier.classes[i])),
            codes: std::array::from_fn(|i| self.codes[i].saturating_sub(earlier.codes[i])),
            bytes_in: self.bytes_in.saturating_sub(earlier.bytes_in),
            bytes_out: self.bytes_out.saturating_sub(earlier.bytes_out),
            latency: self.latency.since(&earlier.latency),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_counts_in_its_class_code_bytes_and_histogram() {
        let metrics = RequestMetrics::default();
        let ok = Request { status: 200, code: None, took: Duration::from_millis(5), bytes_in: 10, bytes_out: 20 };
        metrics.record(ok);
        metrics.record(Request { status: 503, code: Some(1), ..ok });
        metrics.record(Request { status: 499, code: Some(6), bytes_out: 0, ..ok });
        let counts = metrics.snapshot();
        assert_eq!(counts.classes, [0, 1, 0, 1, 1]);
        assert_eq!(counts.codes[1], 1, "H12");
        assert_eq!(counts.codes[6], 1, "H27");
        assert_eq!((counts.bytes_in, counts.bytes_out), (30, 40));
        assert_eq!(counts.latency.count(), 3);
        assert_eq!(counts.requests(), 3);
        assert_eq!(metrics.snapshot().since(&counts), RequestCounts::default());
    }
}
