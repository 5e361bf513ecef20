//! The floor of any proxy, for benchmarks: a TCP proxy that copies bytes both ways between each
//! client connection and a connection of its own to one upstream, parsing nothing. What it costs
//! over going direct is the extra hop itself (the kernel's TCP work on both sides, the wake-ups).
//!
//!     cargo run --release -p paas-router --example splice_proxy -- UPSTREAM_ADDR
//!
//! Binds 127.0.0.1:0 and prints `Serving HTTP on http://ADDR/`.

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let upstream: std::net::SocketAddr =
        std::env::args().nth(1).context("usage: splice_proxy UPSTREAM_ADDR")?.parse().context("upstream address")?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("Serving HTTP on http://{}/", listener.local_addr()?);
    loop {
        let (mut client, _) = listener.accept().await?;
        tokio::spawn(async move {
            let Ok(mut dyno) = TcpStream::connect(upstream).await else { return };
            let _ = (client.set_nodelay(true), dyno.set_nodelay(true));
            let _ = tokio::io::copy_bidirectional(&mut client, &mut dyno).await;
        });
    }
}
