//! `GET /metrics`: every app's counters and gauges in Prometheus' text format, written by
//! `prometheus-client`'s encoder from a collector that reads the atomics at scrape time (no
//! `prometheus-client` metric types on the request path: their families share one lock).

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::histogram::{BOUNDS, bounds_us};
use crate::requests::{CLASSES, CODES, RequestCounts};
use crate::{AppMetrics, NodeGauge, ProcessGauges};

/// One app as read by a scrape: name, web counters, gauges per process type, instances held.
type AppReading = (String, RequestCounts, Vec<(String, ProcessGauges)>, u64);

/// One scrape's reading of every app.
#[derive(Debug)]
struct Scrape {
    apps: Vec<AppReading>,
    node: Vec<NodeGauge>,
}

pub(crate) fn render(apps: &[(String, Arc<AppMetrics>)], node: &[NodeGauge]) -> String {
    let scrape = Scrape {
        apps: apps
            .iter()
            .map(|(name, m)| (name.clone(), m.web.snapshot(), m.processes().into_iter().collect(), m.instances()))
            .collect(),
        node: node.to_vec(),
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

fn web_labels(app: &str) -> Labels<'_> {
    vec![("app", app), ("process_type", "web")]
}

/// Writes one family: its descriptor, then each `(labels, value)`.
fn family<'a, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    rows: impl Iterator<Item = (Labels<'a>, M)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in rows {
        value.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        family(
            &mut encoder,
            "paas_router_requests",
            "Requests the router finished, per app, process type and status class.",
            MetricType::Counter,
            self.apps.iter().flat_map(|(app, req, _, _)| {
                CLASSES.iter().zip(req.classes).map(move |(class, n)| {
                    let mut labels = web_labels(app);
                    labels.push(("status_class", class));
                    (labels, ConstCounter::new(n))
                })
            }),
        )?;
        family(
            &mut encoder,
            "paas_router_errors",
            "Requests that ended in a router error code (H10, H12, ...), per app; codes never seen are left out.",
            MetricType::Counter,
            self.apps.iter().flat_map(|(app, req, _, _)| {
                CODES.iter().zip(req.codes).filter(|(_, n)| *n > 0).map(move |(code, n)| {
                    let mut labels = web_labels(app);
                    labels.push(("code", code));
                    (labels, ConstCounter::new(n))
                })
            }),
        )?;
        family(
            &mut encoder,
            "paas_router_request_bytes",
            "Request body bytes the router passed to the app's dynos.",
            MetricType::Counter,
            self.apps.iter().map(|(app, req, _, _)| (web_labels(app), ConstCounter::new(req.bytes_in))),
        )?;
        family(
            &mut encoder,
            "paas_router_response_bytes",
            "Response body bytes the router sent to clients.",
            MetricType::Counter,
            self.apps.iter().map(|(app, req, _, _)| (web_labels(app), ConstCounter::new(req.bytes_out))),
        )?;
        let mut metric = encoder.encode_descriptor(
            "paas_router_response_seconds",
            "Time from a request reaching the router to the end of its response.",
            None,
            MetricType::Histogram,
        )?;
        for (app, req, _, _) in &self.apps {
            let labels = web_labels(app);
            // Counts per bucket: the encoder adds them up into Prometheus' cumulative `le` lines.
            let buckets: Vec<(f64, u64)> = (0..=BOUNDS)
                .map(|i| (bounds_us().get(i).map_or(f64::INFINITY, |&us| us as f64 / 1e6), req.latency.counts[i]))
                .collect();
            let sum = req.latency.sum_us as f64 / 1e6;
            metric.encode_family(&labels)?.encode_histogram::<NoLabelSet>(sum, req.latency.count(), &buckets, None)?;
        }
        let processes = || {
            self.apps.iter().flat_map(|(app, _, processes, _)| {
                processes.iter().map(move |(kind, g)| (vec![("app", app.as_str()), ("process_type", kind.as_str())], g))
            })
        };
        family(
            &mut encoder,
            "paas_dynos",
            "Dynos running, per app and process type.",
            MetricType::Gauge,
            processes().map(|(l, g)| (l, ConstGauge::new(g.dynos as i64))),
        )?;
        family(
            &mut encoder,
            "paas_dyno_memory_bytes",
            "Memory of the dynos: wasm linear memory of their instances; native: the cgroup's anonymous memory and swap.",
            MetricType::Gauge,
            processes().map(|(l, g)| (l, ConstGauge::new(g.memory_bytes as i64))),
        )?;
        family(
            &mut encoder,
            "paas_dyno_restarts",
            "Restarts of the dynos after a crash, since they were started.",
            MetricType::Counter,
            processes().map(|(l, g)| (l, ConstCounter::new(g.restarts))),
        )?;
        family(
            &mut encoder,
            "paas_dyno_cpu_seconds",
            "CPU time the dynos used: wasm dynos' guest calls (thread CPU time), native dynos' cgroups; a dyno's time stays counted after it stops.",
            MetricType::Counter,
            processes().filter_map(|(l, g)| g.cpu_seconds.map(|s| (l, ConstCounter::new(s)))),
        )?;
        family(
            &mut encoder,
            "paas_app_instances",
            "Wasm instances the app holds from the node's pool (running, idle for reuse, workers).",
            MetricType::Gauge,
            self.apps.iter().map(|(app, _, _, n)| (vec![("app", app.as_str())], ConstGauge::new(*n as i64))),
        )?;
        for (name, help, value) in &self.node {
            family(&mut encoder, name, help, MetricType::Gauge, std::iter::once((Labels::new(), ConstGauge::new(*value))))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{DynoMemory, Metrics, ProcessGauges, Request};

    #[test]
    fn the_text_has_each_apps_counters_histogram_and_gauges() {
        let metrics = Metrics::new();
        let app = metrics.app("hello");
        let ok = Request { status: 200, code: None, took: Duration::from_millis(3), bytes_in: 7, bytes_out: 11 };
        app.web.record(ok);
        app.web.record(Request { status: 503, code: Some(1), ..ok });
        let web = ProcessGauges { dynos: 1, memory_bytes: 1 << 20, restarts: 2, cpu_seconds: None };
        let dyno = DynoMemory { name: "web.1".into(), process_type: "web".into(), memory_bytes: 1 << 20, cpu_seconds: Some(1.5) };
        app.set_processes([("web".to_string(), web)].into(), vec![dyno], 4);
        metrics.set_node(vec![("paas_pool_instances", "Instances of the pool in use.", 4.0)]);
        let text = metrics.prometheus();
        for line in [
            "paas_router_requests_total{app=\"hello\",process_type=\"web\",status_class=\"2xx\"} 1",
            "paas_router_requests_total{app=\"hello\",process_type=\"web\",status_class=\"5xx\"} 1",
            "paas_router_errors_total{app=\"hello\",process_type=\"web\",code=\"H12\"} 1",
            "paas_router_request_bytes_total{app=\"hello\",process_type=\"web\"} 14",
            "paas_router_response_seconds_count{app=\"hello\",process_type=\"web\"} 2",
            "paas_router_response_seconds_bucket{app=\"hello\",process_type=\"web\",le=\"+Inf\"} 2",
            "paas_dyno_memory_bytes{app=\"hello\",process_type=\"web\"} 1048576",
            "paas_dyno_restarts_total{app=\"hello\",process_type=\"web\"} 2",
            "paas_dyno_cpu_seconds_total{app=\"hello\",process_type=\"web\"} 1.5",
            "paas_app_instances{app=\"hello\"} 4",
            "paas_pool_instances 4",
        ] {
            assert!(text.contains(line), "no {line} in\n{text}");
        }
        assert!(!text.contains("code=\"H10\""), "unseen codes are left out");
    }
}
