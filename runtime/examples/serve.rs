//! paas-runtime behind a minimal hyper front, for benchmarks and manual tries:
//!
//! ```text
//! cargo run --release -p paas-runtime --example serve -- COMPONENT.wasm [--addr 127.0.0.1:0]
//!     [--no-reuse] [--concurrency N] [--data-dir DIR] [--keep-resident BYTES]
//! cargo run --release -p paas-runtime --example serve -- COMPONENT.wasm --measure [--data-dir DIR]
//!     [--keep-resident BYTES]
//! ```
//!
//! Serving prints `Serving HTTP on http://ADDR/` once the listener is bound. `--measure` prints
//! the cold start (cached `.cwasm` on disk to the first response byte, in a fresh engine) and the
//! cost of one instantiation, then the pool's warm slots and the process's resident memory after
//! 5000 fresh instances, and exits. `--keep-resident` sets `RuntimeConfig::keep_resident`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use paas_runtime::{DynoSpec, Runtime, RuntimeConfig, WebDyno};

struct Args {
    component: PathBuf,
    addr: SocketAddr,
    reuse: bool,
    concurrency: usize,
    data_dir: PathBuf,
    measure: bool,
    keep_resident: usize,
}

fn parse() -> anyhow::Result<Args> {
    let mut args = Args {
        component: PathBuf::new(),
        addr: "127.0.0.1:0".parse()?,
        reuse: true,
        concurrency: 64,
        data_dir: std::env::temp_dir().join("paas-serve"),
        measure: false,
        keep_resident: paas_runtime::KEEP_RESIDENT,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => args.addr = it.next().context("--addr needs a value")?.parse()?,
            "--no-reuse" => args.reuse = false,
            "--concurrency" => args.concurrency = it.next().context("--concurrency needs a value")?.parse()?,
            "--data-dir" => args.data_dir = it.next().context("--data-dir needs a value")?.into(),
            "--measure" => args.measure = true,
            "--keep-resident" => args.keep_resident = it.next().context("--keep-resident needs a value")?.parse()?,
            other if other.starts_with("--") => bail!("unknown flag {other}"),
            other => args.component = other.into(),
        }
    }
    if args.component.as_os_str().is_empty() {
        bail!("usage: serve COMPONENT.wasm [--addr ADDR] [--no-reuse] [--concurrency N] [--data-dir DIR] [--measure]");
    }
    Ok(args)
}

fn config(args: &Args) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(&args.data_dir);
    config.keep_resident = args.keep_resident;
    config
}

fn spec(args: &Args) -> DynoSpec {
    let mut spec = DynoSpec::new("bench", "web.1");
    spec.reuse = args.reuse;
    spec.concurrency = args.concurrency;
    spec
}

fn get() -> hyper::Request<Empty<Bytes>> {
    hyper::Request::get("http://bench.local/").body(Empty::new()).unwrap()
}

async fn measure(args: &Args) -> anyhow::Result<()> {
    // Make sure the `.cwasm` is on disk, then start from a fresh engine as a new process would.
    Runtime::new(config(args))?.load_component(&args.component)?;

    let t0 = Instant::now();
    let runtime = Runtime::new(config(args))?;
    let t_engine = t0.elapsed();
    let component = runtime.load_component(&args.component)?;
    anyhow::ensure!(component.cache_outcome() == paas_runtime::CacheOutcome::Hit, "expected a cache hit");
    let dyno = WebDyno::start(&runtime, &component, spec(args))?;
    let resp = dyno.handle(get()).await?;
    let t_first = t0.elapsed();
    anyhow::ensure!(resp.status() == 200, "status {}", resp.status());
    println!("engine_create_us {}", t_engine.as_micros());
    println!("cold_start_us {}", t_first.as_micros());
    println!("cold_start_without_engine_us {}", (t_first - t_engine).as_micros());

    // One instantiation (new store, WASI context, instance from the warm pool): the time of an
    // in-process request on a fresh instance minus that of one on a reused instance.
    let per_request = |reuse: bool| {
        let mut spec = spec(args);
        spec.reuse = reuse;
        let dyno = WebDyno::start(&runtime, &component, spec);
        async move {
            let dyno = dyno?;
            let n = 5000;
            for _ in 0..200 {
                dyno.handle(get()).await?;
            }
            let start = Instant::now();
            for _ in 0..n {
                let resp = dyno.handle(get()).await?;
                anyhow::ensure!(resp.status() == 200, "status {}", resp.status());
            }
            Ok::<_, anyhow::Error>(start.elapsed().as_secs_f64() * 1e6 / f64::from(n))
        }
    };
    let reused = per_request(true).await?;
    let fresh = per_request(false).await?;
    println!("request_reused_instance_us {reused:.1}");
    println!("request_fresh_instance_us {fresh:.1}");
    println!("instantiate_us {:.1}", fresh - reused);
    if let Some(pool) = runtime.pool_metrics() {
        println!("warm_memories {}", pool.unused_warm_memories());
        println!("warm_memory_bytes_resident {}", pool.unused_memory_bytes_resident());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(rss) = status.lines().find(|l| l.starts_with("VmRSS:")) {
        println!("process_rss_kb {}", rss.split_whitespace().nth(1).unwrap_or("?"));
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse()?;
    if args.measure {
        return measure(&args).await;
    }
    let runtime = Runtime::new(config(&args))?;
    let component = runtime.load_component(&args.component)?;
    let dyno = WebDyno::start(&runtime, &component, spec(&args))?;
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    println!("Serving HTTP on http://{}/", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let dyno = dyno.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let dyno = dyno.clone();
                async move { Ok::<_, std::convert::Infallible>(dyno.serve(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
