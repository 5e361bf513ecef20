//! An app's one-minute series over the last 24 hours, in a fixed budget: one 76-byte [`Point`]
//! per minute that had something to say (requests, CPU time, restarts, or gauges that changed), at most
//! [`MINUTES`] of them; a minute without a point had no requests and the gauges of the one before.

use std::collections::VecDeque;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::requests::{CLASSES, CODES, RequestCounts};

/// Minutes kept: 24 hours.
pub const MINUTES: usize = 24 * 60;

/// One minute of an app, packed (76 bytes): the bound of an app's series is
/// `MINUTES * size_of::<Point>()` ≈ 107 KiB, and an app with no traffic, no CPU time and steady
/// dynos holds none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Point {
    /// Minutes since the Unix epoch (the minute's start).
    pub minute: u32,
    /// Requests per status class ([`CLASSES`]).
    pub classes: [u32; 5],
    /// Requests per router error code ([`CODES`]), saturating.
    pub codes: [u16; 9],
    /// Response-time percentiles, in microseconds (0: no requests).
    pub p50_us: u32,
    /// 95th percentile.
    pub p95_us: u32,
    /// 99th percentile.
    pub p99_us: u32,
    /// Request body bytes (saturating at 4 GiB a minute).
    pub bytes_in: u32,
    /// Response body bytes (saturating).
    pub bytes_out: u32,
    /// Memory of all the app's dynos at the end of the minute, in KiB.
    pub memory_kib: u32,
    /// CPU time all the app's dynos used during the minute, in milliseconds.
    pub cpu_ms: u32,
    /// Wasm instances the app held at the end of the minute.
    pub instances: u16,
    /// Dynos running at the end of the minute.
    pub dynos: u16,
    /// Dyno restarts (crashes) during the minute.
    pub restarts: u16,
}

/// The gauges a point carries, as sampled at the end of its minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Bytes of memory of all the app's dynos.
    pub memory_bytes: u64,
    /// Wasm instances held.
    pub instances: u64,
    /// Dynos running.
    pub dynos: u64,
    /// CPU milliseconds used during the minute.
    pub cpu_ms: u64,
}

fn sat32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn sat16(n: u64) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl Point {
    /// The point of `minute`: the requests it saw, the restarts in it, the gauges at its end.
    pub fn new(minute: u32, requests: &RequestCounts, restarts: u64, gauges: Gauges) -> Point {
        let q = |q| requests.latency.quantile_us(q).map_or(0, sat32);
        Point {
            minute,
            classes: requests.classes.map(sat32),
            codes: requests.codes.map(sat16),
            p50_us: q(0.5),
            p95_us: q(0.95),
            p99_us: q(0.99),
            bytes_in: sat32(requests.bytes_in),
            bytes_out: sat32(requests.bytes_out),
            memory_kib: sat32(gauges.memory_bytes / 1024),
            cpu_ms: sat32(gauges.cpu_ms),
            instances: sat16(gauges.instances),
            dynos: sat16(gauges.dynos),
            restarts: sat16(restarts),
        }
    }

    /// Whether this point says only what the minute before it said (no requests, no CPU time,
    /// no restarts, the same gauges): such a point is not stored.
    fn repeats(&self, before: Option<&Point>) -> bool {
        let quiet = self.classes.iter().all(|&n| n == 0) && self.restarts == 0 && self.cpu_ms == 0;
        let same = |b: &Point| (b.memory_kib, b.instances, b.dynos) == (self.memory_kib, self.instances, self.dynos);
        quiet && before.map_or(self.memory_kib == 0 && self.dynos == 0 && self.instances == 0, same)
    }

    /// The same gauges, no requests, at `minute` (a minute without a stored point).
    fn carried(&self, minute: u32) -> Point {
        Point { minute, memory_kib: self.memory_kib, instances: self.instances, dynos: self.dynos, ..Point::default() }
    }
}

/// The stored points of one app, oldest first.
#[derive(Debug, Default)]
pub struct Series {
    points: VecDeque<Point>,
    /// The last point that fell out of the window (its gauges carry into the minutes after it).
    floor: Option<Point>,
}

impl Series {
    /// Adds the point of a closed minute (unless it repeats the one before) and drops points
    /// older than 24 hours.
    pub fn push(&mut self, point: Point) {
        let oldest = point.minute.saturating_sub(MINUTES as u32 - 1);
        while self.points.front().is_some_and(|p| p.minute < oldest) {
            self.floor = self.points.pop_front();
        }
        if point.repeats(self.points.back().or(self.floor.as_ref())) {
            return;
        }
        if self.points.len() == MINUTES {
            self.floor = self.points.pop_front();
        }
        if self.points.len() == self.points.capacity() {
            // Grow by what is needed, never past the budget (VecDeque doubles otherwise).
            let want = (self.points.len() * 2).clamp(16, MINUTES);
            self.points.reserve_exact(want - self.points.len());
        }
        self.points.push_back(point);
    }

    /// Bytes this series holds on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<Point>()
    }

    /// Every minute from `from` to `to` (minutes since the epoch, inclusive), stored or carried.
    pub fn minutes(&self, from: u32, to: u32) -> Vec<Point> {
        let mut out = Vec::with_capacity(to.saturating_sub(from) as usize + 1);
        let mut stored = self.points.iter().peekable();
        let mut last = self.floor;
        while let Some(p) = stored.peek() {
            if p.minute >= from {
                break;
            }
            last = Some(**p);
            stored.next();
        }
        for minute in from..=to {
            let point = match stored.next_if(|p| p.minute == minute) {
                Some(p) => *p,
                None => last.map_or(Point { minute, ..Point::default() }, |l| l.carried(minute)),
            };
            last = Some(point);
            out.push(point);
        }
        out
    }
}

/// A point as the API answers it (`GET /apps/{app}/metrics`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PointView {
    /// The minute's start (UTC).
    pub time: DateTime<Utc>,
    /// Requests per status class: `{"1xx": 0, "2xx": 120, "3xx": 0, "4xx": 2, "5xx": 1}`.
    pub requests: std::collections::BTreeMap<&'static str, u32>,
    /// Requests per router error code, only codes seen: `{"H12": 1}`.
    pub errors: std::collections::BTreeMap<&'static str, u16>,
    /// Response-time percentiles in milliseconds (`null` without requests).
    pub response_time_ms: Percentiles,
    /// Request body bytes.
    pub bytes_in: u32,
    /// Response body bytes.
    pub bytes_out: u32,
    /// Memory of all the app's dynos at the minute's end, in bytes.
    pub memory_bytes: u64,
    /// CPU seconds all the app's dynos used during the minute.
    pub cpu_seconds: f64,
    /// Dynos running at the minute's end.
    pub dynos: u16,
    /// Wasm instances held at the minute's end.
    pub instances: u16,
    /// Dyno restarts during the minute.
    pub restarts: u16,
}

/// p50, p95 and p99 in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile (what autoscaling targets).
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

impl From<&Point> for PointView {
    fn from(p: &Point) -> Self {
        let any = p.classes.iter().any(|&n| n > 0);
        let ms = |us: u32| any.then_some(f64::from(us) / 1000.0);
        PointView {
            time: Utc.timestamp_opt(i64::from(p.minute) * 60, 0).single().unwrap_or_default(),
            requests: CLASSES.iter().copied().zip(p.classes).collect(),
            errors: CODES.iter().copied().zip(p.codes).filter(|(_, n)| *n > 0).collect(),
            response_time_ms: Percentiles { p50: ms(p.p50_us), p95: ms(p.p95_us), p99: ms(p.p99_us) },
            bytes_in: p.bytes_in,
            bytes_out: p.bytes_out,
            memory_bytes: u64::from(p.memory_kib) * 1024,
            cpu_seconds: f64::from(p.cpu_ms) / 1000.0,
            dynos: p.dynos,
            instances: p.instances,
            restarts: p.restarts,
        }
    }
}

/// Minutes since the epoch of `at`.
pub fn minute_of(at: DateTime<Utc>) -> u32 {
    u32::try_from(at.timestamp().max(0) / 60).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(minute: u32, requests: u32) -> Point {
        Point { minute, classes: [0, requests, 0, 0, 0], dynos: 1, memory_kib: 100, ..Point::default() }
    }

    #[test]
    fn a_point_is_76_bytes() {
        assert_eq!(std::mem::size_of::<Point>(), 76);
    }

    #[test]
    fn quiet_minutes_are_not_stored_and_read_back_carried() {
        let mut series = Series::default();
        series.push(busy(10, 5));
        series.push(busy(11, 0)); // same gauges, no requests: not stored
        series.push(Point { minute: 12, dynos: 2, memory_kib: 200, ..Point::default() });
        assert_eq!(series.points.len(), 2);
        let minutes = series.minutes(9, 13);
        assert_eq!(minutes.len(), 5);
        assert_eq!(minutes[0], Point { minute: 9, ..Point::default() });
        assert_eq!(minutes[1].classes[1], 5);
        assert_eq!((minutes[2].minute, minutes[2].classes[1], minutes[2].dynos), (11, 0, 1));
        assert_eq!((minutes[4].minute, minutes[4].dynos, minutes[4].memory_kib), (13, 2, 200));
    }

    #[test]
    fn a_day_of_busy_minutes_stays_within_the_budget() {
        let mut series = Series::default();
        for minute in 0..3 * MINUTES as u32 {
            series.push(busy(minute, 1));
        }
        assert_eq!(series.points.len(), MINUTES);
        assert!(series.heap_bytes() <= MINUTES * 76, "{}", series.heap_bytes());
        let last = 3 * MINUTES as u32 - 1;
        assert_eq!(series.points.front().unwrap().minute, last - MINUTES as u32 + 1);
        // Gauges of the points that fell out still carry.
        let minutes = series.minutes(0, 1);
        assert_eq!(minutes[0].dynos, 1);
    }

    #[test]
    fn the_view_names_classes_and_codes() {
        let p = Point { minute: 29_000_000, classes: [0, 3, 0, 0, 1], codes: [0, 1, 0, 0, 0, 0, 0, 0, 0], p95_us: 1500, ..Point::default() };
        let view = serde_json::to_value(PointView::from(&p)).unwrap();
        assert_eq!(view["requests"]["2xx"], 3);
        assert_eq!(view["errors"], serde_json::json!({"H12": 1}));
        assert_eq!(view["response_time_ms"]["p95"], 1.5);
        assert_eq!(view["time"], "2025-02-19T21:20:00Z");
    }
}
