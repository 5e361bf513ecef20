//! A router in front of native dynos, for benchmarks and manual tries: app `hello` at
//! `hello.localhost` served by the dynos at the given addresses (`web.1`, `web.2`, …).
//!
//!     cargo run --release -p paas-router --example router -- 127.0.0.1:5001 [127.0.0.1:5002 …]
//!
//! Binds `PAAS_ROUTER_LISTEN` (default 127.0.0.1:0) and prints `Serving HTTP on http://ADDR/`;
//! stops on SIGINT or SIGTERM.
//! Each router log line is formatted (as `paas server` does, into a buffer each thread keeps) and
//! counted; with `PAAS_ROUTER_LOG=1` they are printed to stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use paas_router::{LogLine, RouteTable, Router, RouterConfig, TcpBackend, WebDyno};
use tokio::net::TcpListener;

/// The allocator `paas` itself uses (cli/src/main.rs), so that the figures are paas's router's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut web = Vec::new();
    for (n, addr) in std::env::args().skip(1).enumerate() {
        let addr = addr.parse().with_context(|| format!("dyno address {addr:?}"))?;
        web.push(WebDyno::new(format!("web.{}", n + 1), TcpBackend::new(addr)));
    }
    anyhow::ensure!(!web.is_empty(), "usage: router DYNO_ADDR…");
    let table = Arc::new(RouteTable::new("localhost"));
    table.set_web("hello", web);

    let print = std::env::var_os("PAAS_ROUTER_LOG").is_some_and(|v| v == "1");
    let lines = Arc::new(AtomicU64::new(0));
    let counted = lines.clone();
    // As `paas server` formats it (node/src/serve/mod.rs): into a buffer each thread keeps.
    let log = move |app: &str, line: &LogLine| {
        thread_local! {
            static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        TEXT.with_borrow_mut(|text| {
            text.clear();
            for piece in ["app[", app, "] heroku[router]: "] {
                text.push_str(piece);
            }
            line.write_to(text);
            counted.fetch_add(1, Ordering::Relaxed);
            if print {
                eprintln!("{text}");
            }
        });
    };

    let listen = std::env::var("PAAS_ROUTER_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&listen).await?;
    println!("Serving HTTP on http://{}/", listener.local_addr()?);
    let router = Router::new(table, RouterConfig::default()).with_log(Arc::new(log));
    router
        .serve_with_shutdown(listener, async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await?;
    eprintln!("{} router log lines", lines.load(Ordering::Relaxed));
    Ok(())
}
