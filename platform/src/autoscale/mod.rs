//! Metrics over time and what follows from them: each app's one-minute series is closed at the
//! turn of every minute ([`close_minutes`]).

use std::sync::Arc;

use chrono::{Timelike, Utc};

/// Closes every app's minute at each turn of the wall-clock minute, until `shutdown`.
pub async fn close_minutes(metrics: Arc<paas_metrics::Metrics>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        let now = Utc::now();
        let into_minute = std::time::Duration::new(u64::from(now.second()), now.nanosecond().min(999_999_999));
        let wait = std::time::Duration::from_secs(60).saturating_sub(into_minute);
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(wait) => {}
        }
        // Just past the turn: the minute that ended is the one a second ago.
        metrics.close_minute(Utc::now() - chrono::Duration::seconds(1));
    }
}
