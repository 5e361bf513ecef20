//! Samples this node's dynos into the app metrics every few seconds: per process type the dynos
//! running, their memory, CPU time and restarts; each dyno's memory and CPU time; the wasm
//! instances each app holds;
//! the node's instance pool. Off the request path (the router counts requests itself).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use paas_metrics::{DynoMemory, Metrics, ProcessGauges};
use paas_runtime::{DynoState, Runtime, Supervisor};

/// How often dynos are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Samples every app the supervisor runs, every [`SAMPLE_EVERY`], for as long as it runs.
pub fn spawn_sampler(supervisor: Supervisor, runtime: Runtime, metrics: Arc<Metrics>) {
    tokio::spawn(async move {
        loop {
            sample(&supervisor, &runtime, &metrics).await;
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
    });
}

/// One pass over every app.
pub async fn sample(supervisor: &Supervisor, runtime: &Runtime, metrics: &Metrics) {
    for app in supervisor.apps() {
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
        let usage = supervisor.usage(&app);
        metrics.app(&app).set_processes(processes, dynos, usage.instances);
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
