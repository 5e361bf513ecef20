//! Samples this node's dynos into the app metrics every few seconds: per process type the dynos
//! running, their memory, CPU time and restarts; each dyno's memory and CPU time; the wasm
//! instances each app holds;
//! the node's instance pool. Off the request path (the router counts requests itself).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use paas_metrics::{DynoMemory, Metrics, ProcessGauges};
use paas_runtime::Runtime;

use crate::supervisor::{DynoState, Supervisor};

use super::oneoff::OneOffs;

/// How often dynos are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Samples every app the supervisor runs (and its one-off dynos), every [`SAMPLE_EVERY`], for as
/// long as the server holds its metrics (it stops once only the sampler does).
pub fn spawn_sampler(supervisor: Supervisor, runtime: Runtime, metrics: Arc<Metrics>, oneoffs: Arc<OneOffs>) {
    tokio::spawn(async move {
        while Arc::strong_count(&metrics) > 1 {
            sample(&supervisor, &runtime, &metrics, Some(&oneoffs)).await;
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
    });
}

/// One pass over every app that still has metrics: an app removed meanwhile (destroyed, or
/// renamed) lost them with its route, and sampling it does not make them again.
pub async fn sample(supervisor: &Supervisor, runtime: &Runtime, metrics: &Metrics, oneoffs: Option<&OneOffs>) {
    let mut apps = supervisor.apps();
    apps.extend(oneoffs.map(OneOffs::apps).unwrap_or_default());
    apps.sort();
    apps.dedup();
    for app in apps {
        let Some(app_metrics) = metrics.get(&app) else { continue };
        let mut processes: BTreeMap<String, ProcessGauges> = BTreeMap::new();
        let mut dynos = Vec::new();
        for dyno in supervisor.dynos(&app).await {
            let gauges = processes.entry(dyno.process_type.clone()).or_default();
            if dyno.state != DynoState::Crashed {
                gauges.dynos += 1;
            }
            gauges.restarts += u64::from(dyno.restarts);
            if dyno.memory_bytes.is_some() || dyno.cpu_seconds.is_some() {
                let memory_bytes = dyno.memory_bytes.unwrap_or(0);
                gauges.memory_bytes += memory_bytes;
                let (name, process_type, cpu_seconds) = (dyno.name, dyno.process_type, dyno.cpu_seconds);
                dynos.push(DynoMemory { name, process_type, memory_bytes, cpu_seconds });
            }
        }
        // One-off dynos (`run.N`, `scheduler.N`): memory and CPU time, not counted as formation dynos.
        for dyno in oneoffs.map(|o| o.usage(&app)).unwrap_or_default() {
            let gauges = processes.entry(dyno.process_type.clone()).or_default();
            gauges.memory_bytes += dyno.memory_bytes;
            dynos.push(dyno);
        }
        let usage = supervisor.usage(&app);
        app_metrics.set_processes(processes, dynos, usage.instances);
    }
    if let Some(pool) = runtime.pool_metrics() {
        metrics.set_node(vec![
            ("paas_pool_component_instances", "Component instances of the node's pool in use.", pool.component_instances() as f64),
            ("paas_pool_memories", "Linear memories of the node's pool in use.", pool.memories() as f64),
            ("paas_pool_tables", "Tables of the node's pool in use.", pool.tables() as f64),
            ("paas_pool_stacks", "Async stacks of the node's pool in use.", pool.stacks() as f64),
            ("paas_pool_unused_warm_memories", "Warm (unused, kept resident) linear memory slots.", pool.unused_warm_memories() as f64),
            ("paas_pool_unused_memory_bytes_resident", "Bytes the warm linear memory slots keep resident.", pool.unused_memory_bytes_resident() as f64),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampler's list of apps is read before an app is removed, its gauges written after:
    /// the removed app's metrics must not come back (they did, with `Metrics::app`).
    #[tokio::test]
    async fn an_app_removed_between_the_list_and_its_sample_gets_no_metrics_again() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::new(paas_runtime::RuntimeConfig::new(dir.path())).unwrap();
        let metrics = Arc::new(Metrics::new());
        let table = Arc::new(paas_router::RouteTable::with_metrics("localhost", metrics.clone()));
        let (logs, _rx) = paas_runtime::LogSink::channel(16);
        let supervisor = Supervisor::new(runtime.clone(), table.clone(), logs, crate::supervisor::SupervisorConfig::default());
        for app in ["kept", "gone"] {
            supervisor
                .apply(crate::supervisor::AppSpec {
                    app: app.into(),
                    release: 1,
                    app_dir: dir.path().into(),
                    ..Default::default()
                })
                .await;
        }
        assert!(metrics.get("gone").is_some(), "its route made its metrics");
        // The app's route (and metrics) go first; the supervisor still lists it a moment longer.
        table.remove_app("gone");
        sample(&supervisor, &runtime, &metrics, None).await;
        assert!(metrics.get("gone").is_none(), "a removed app's metrics are not made again");
        assert!(metrics.get("kept").is_some());
    }
}
