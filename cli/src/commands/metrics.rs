//! `paas metrics`: an app's last hour (or `--since`) a minute per line: requests by status
//! class, router errors, response-time percentiles, CPU time, memory and dynos
//! (`GET /apps/{app}/metrics`).

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// Show an app's metrics a minute per line (the last hour by default).
#[derive(Debug, Args)]
pub struct MetricsCommand {
    #[command(flatten)]
    app: AppArg,
    /// How far back: an RFC 3339 time or a duration ago (`90m`, `6h`, `1d`; at most 24 h).
    #[arg(long, default_value = "1h")]
    since: String,
    /// Print the API's answer as JSON.
    #[arg(long)]
    json: bool,
}

impl MetricsCommand {
    /// `GET /apps/{app}/metrics?since=…`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let since: String = url_escape(&self.since);
        let body = credentials::connect()?.get(&format!("/apps/{}/metrics?since={since}", seg(&name))).await?;
        if self.json {
            output::json(&body);
            return Ok(());
        }
        print!("{}", render(&name, &body));
        Ok(())
    }
}

/// `%`-escapes what a query value cannot hold as is (`+` of a time zone, spaces).
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn mib(bytes: &Value) -> String {
    format!("{:.1}", bytes.as_f64().unwrap_or(0.0) / (1024.0 * 1024.0))
}

fn ms(value: &Value) -> String {
    value.as_f64().map_or_else(|| "-".to_string(), |ms| format!("{ms:.1}"))
}

/// A header, then one line per minute.
fn render(app: &str, body: &Value) -> String {
    let empty = Vec::new();
    let points = body["points"].as_array().unwrap_or(&empty);
    let total: u64 = points.iter().flat_map(|p| p["requests"].as_object().into_iter().flat_map(|r| r.values())).filter_map(Value::as_u64).sum();
    let mut out = format!(
        "=== {} metrics, a minute per line since {} ({total} requests)\n\n",
        output::app(app),
        body["since"].as_str().unwrap_or("?")
    );
    out.push_str(&format!(
        "{:<6} {:>7} {:>5} {:>5} {:<12} {:>8} {:>8} {:>8} {:>7} {:>9} {:>5}\n",
        "time", "2xx+3xx", "4xx", "5xx", "errors", "p50 ms", "p95 ms", "p99 ms", "CPU s", "mem MiB", "dynos"
    ));
    for p in points {
        let count = |class: &str| p["requests"][class].as_u64().unwrap_or(0);
        let errors: Vec<String> = p["errors"].as_object().map_or_else(Vec::new, |codes| {
            codes.iter().map(|(code, n)| format!("{code}×{}", n.as_u64().unwrap_or(0))).collect()
        });
        let time = p["time"].as_str().and_then(|t| t.get(11..16)).unwrap_or("?");
        out.push_str(&format!(
            "{:<6} {:>7} {:>5} {:>5} {:<12} {:>8} {:>8} {:>8} {:>7.2} {:>9} {:>5}\n",
            time,
            count("1xx") + count("2xx") + count("3xx"),
            count("4xx"),
            count("5xx"),
            if errors.is_empty() { "-".to_string() } else { errors.join(",") },
            ms(&p["response_time_ms"]["p50"]),
            ms(&p["response_time_ms"]["p95"]),
            ms(&p["response_time_ms"]["p99"]),
            p["cpu_seconds"].as_f64().unwrap_or(0.0),
            mib(&p["memory_bytes"]),
            p["dynos"].as_u64().unwrap_or(0),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_per_line_with_classes_errors_percentiles_and_memory() {
        let body = serde_json::json!({
            "since": "2026-12-05T01:00:00Z",
            "points": [
                {"time": "2026-12-05T01:00:00Z", "requests": {"1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}, "errors": {},
                 "response_time_ms": {"p50": null, "p95": null, "p99": null}, "memory_bytes": 0, "dynos": 1},
                {"time": "2026-12-05T01:01:00Z", "requests": {"1xx": 0, "2xx": 40, "3xx": 2, "4xx": 1, "5xx": 1}, "errors": {"H12": 1},
                 "response_time_ms": {"p50": 12.04, "p95": 48.0, "p99": 97.31}, "cpu_seconds": 1.5, "memory_bytes": 7340032, "dynos": 2}
            ]
        });
        let text = render("shop", &body);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "=== ⬢ shop metrics, a minute per line since 2026-12-05T01:00:00Z (44 requests)");
        assert!(lines[3].starts_with("01:00") && lines[3].contains(" - ") && lines[3].ends_with("0.0     1"), "{}", lines[3]);
        assert_eq!(lines[4], "01:01       42     1     1 H12×1            12.0     48.0     97.3    1.50       7.0     2");
        assert_eq!(url_escape("2026-12-05T01:00:00+01:00"), "2026-12-05T01:00:00%2B01:00");
    }
}
