//! Metrics (paas extensions): `GET /metrics`, every app of this node in Prometheus' text format
//! (operators only), and `GET /apps/{app}/metrics?since=…`, one app's one-minute series as JSON
//! (anyone who may view the app).
//!
//! The app's answer:
//!
//! ```json
//! {
//!   "app": {"id": "…", "name": "shop"},
//!   "resolution_seconds": 60,
//!   "since": "2026-12-05T01:00:00Z",          // the first minute's start
//!   "until": "2026-12-05T01:59:00Z",          // the last closed minute's start
//!   "points": [                               // one per minute, oldest first, none missing
//!     {"time": "2026-12-05T01:00:00Z",
//!      "requests": {"1xx": 0, "2xx": 118, "3xx": 0, "4xx": 2, "5xx": 1},
//!      "errors": {"H12": 1},                  // router error codes seen in the minute
//!      "response_time_ms": {"p50": 12.1, "p95": 48.0, "p99": 97.3},   // null without requests
//!      "bytes_in": 0, "bytes_out": 20931,
//!      "memory_bytes": 7340032, "cpu_seconds": 1.25, "dynos": 2, "instances": 3, "restarts": 0}
//!   ],
//!   "processes": {"web": {"dynos": 2, "memory_bytes": 7340032, "restarts": 0, "cpu_seconds": 81.2}},
//!   "dynos": [{"name": "web.1", "process_type": "web", "memory_bytes": 3670016, "cpu_seconds": 40.1}],
//!   "instances": 3,
//!   "budget": {"max_points": 1440, "point_bytes": 76, "held_bytes": 1936}
//! }
//! ```
//!
//! `since` is an RFC 3339 time or a duration ago (`90m`, `6h`, `24h`; default `1h`); it is
//! clamped to the last 24 hours. Requests are the web process's, as the router saw them (status
//! class, H-codes, time to the end of the response); gauges are sampled at the minute's end.
//! The numbers are this node's (a grid node answers for the requests its router served).

use std::sync::Arc;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use paas_metrics::{Metrics, minute_of};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::extract::AppAccess;

/// The node's metrics, when something serves apps.
pub type Registry = Option<Extension<Arc<Metrics>>>;

/// `GET /metrics`: Prometheus' text format (operators).
pub async fn prometheus(registry: Registry) -> Response {
    let text = registry.map(|Extension(metrics)| metrics.prometheus()).unwrap_or_default();
    ([(CONTENT_TYPE, paas_metrics::PROMETHEUS_CONTENT_TYPE)], text).into_response()
}

/// The query of `GET /apps/{app}/metrics`.
#[derive(Debug, Deserialize)]
pub struct SinceQuery {
    since: Option<String>,
}

/// `GET /apps/{app}/metrics?since=…`.
pub async fn app(
    AppAccess { app, .. }: AppAccess,
    registry: Registry,
    query: Result<Query<SinceQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::invalid(format!("Invalid query: {e}")))?;
    let now = Utc::now();
    let since = parse_since(query.since.as_deref(), now)?;
    // The last closed minute; the one running now is not in the series yet.
    let until = minute_of(now).saturating_sub(1);
    let from = minute_of(since).max(until.saturating_sub(paas_metrics::MINUTES as u32 - 1)).min(until);
    let metrics = registry.and_then(|Extension(r)| r.get(&app.name)).unwrap_or_default();
    let time = |minute: u32| DateTime::from_timestamp(i64::from(minute) * 60, 0).unwrap_or_default();
    Ok(Json(json!({
        "app": {"id": app.id, "name": app.name},
        "resolution_seconds": 60,
        "since": time(from),
        "until": time(until),
        "points": metrics.minutes(from, until),
        "processes": metrics.processes(),
        "dynos": metrics.dynos(),
        "instances": metrics.instances(),
        "budget": {
            "max_points": paas_metrics::MINUTES,
            "point_bytes": std::mem::size_of::<paas_metrics::Point>(),
            "held_bytes": metrics.held_bytes(),
        },
    })))
}

/// `since`: an RFC 3339 time, or a duration ago (`30m`, `6h`, `1d`); none: an hour ago.
fn parse_since(since: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let Some(text) = since.map(str::trim) else { return Ok(now - Duration::hours(1)) };
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let invalid = || {
        ApiError::invalid(format!(
            "Invalid since {text:?}: use an RFC 3339 time (2026-12-05T01:00:00Z) or a duration ago (90m, 6h, 1d)."
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
    let amount: i64 = text[..split].parse().map_err(|_| invalid())?;
    let minutes = match &text[split..] {
        "m" | "min" => amount,
        "h" => amount.saturating_mul(60),
        "d" => amount.saturating_mul(24 * 60),
        _ => return Err(invalid()),
    };
    // Past 24 hours is clamped by the caller; this only has to stay a valid time.
    Ok(now - Duration::minutes(minutes.min(7 * 24 * 60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_time_or_a_duration_ago() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T02:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_since(None, now).unwrap(), now - Duration::hours(1));
        assert_eq!(parse_since(Some("90m"), now).unwrap(), now - Duration::minutes(90));
        assert_eq!(parse_since(Some("1d"), now).unwrap(), now - Duration::hours(24));
        assert_eq!(parse_since(Some("2026-12-05T01:30:00Z"), now).unwrap(), now - Duration::minutes(30));
        for bad in ["", "h", "5 years", "-5m", "99999999999999999999m"] {
            assert!(parse_since(Some(bad), now).is_err(), "{bad}");
        }
    }
}
