//! Each native dyno's own pool of keep-alive connections: reused across requests, closed with the
//! dyno's route, never handed to a later dyno at the same address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use paas_router::{RouterConfig, TcpBackend, WebDyno};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::Harness;

const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

/// A keep-alive dyno written over raw sockets: answers each request head (none has a body) with
/// `hello`, or for `GET /big` a 16 MiB body (more than the sockets buffer, so a reader that goes
/// away leaves it mid-response); counts the connections it accepted and reports each one's end
/// (the router closed it, or a write failed).
async fn counting_dyno(listener: TcpListener) -> (Arc<AtomicUsize>, mpsc::UnboundedReceiver<()>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let (closed_tx, closed) = mpsc::unbounded_channel();
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let closed_tx = closed_tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                'conn: loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let big = seen.starts_with(b"GET /big ");
                        seen.drain(..end + 4);
                        let written = if big {
                            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", 16 << 20);
                            let body = vec![b'x'; 16 << 20];
                            match stream.write_all(head.as_bytes()).await {
                                Ok(()) => stream.write_all(&body).await,
                                Err(error) => Err(error),
                            }
                        } else {
                            stream.write_all(HELLO).await
                        };
                        if written.is_err() {
                            break 'conn;
                        }
                    }
                }
                let _ = closed_tx.send(());
            });
        }
    });
    (accepted, closed)
}

async fn get_hello(router: &Harness) {
    let reply = router.get("hello.localhost", "/").await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "hello"), "{:?}", reply.headers);
}

#[tokio::test]
async fn sequential_requests_to_a_native_dyno_reuse_one_pooled_connection() {
    let router = Harness::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, _closed) = counting_dyno(listener).await;
    let backend = TcpBackend::new(addr);
    router.table.set_web("hello", vec![WebDyno::new("web.1", backend.clone())]);
    for _ in 0..20 {
        get_hello(&router).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for 20 requests in a row");
    assert_eq!(backend.idle_connections(), 1);
}

#[tokio::test]
async fn a_dyno_leaving_the_route_table_has_its_pooled_connections_closed() {
    let router = Harness::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_accepted, mut closed) = counting_dyno(listener).await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(addr))]);
    get_hello(&router).await;
    router.table.set_web("hello", vec![]);
    tokio::time::timeout(Duration::from_secs(5), closed.recv())
        .await
        .expect("the pooled connection to the removed dyno was not closed");
}

/// A dyno that answers one request per connection and then "vanishes" the way a dyno in a
/// network namespace does when the namespace goes: no FIN, no RST, its sockets just stop
/// answering (here: kept open, never read again). Its listener is closed.
async fn vanishing_dyno(listener: TcpListener) {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buf = vec![0u8; 8192];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        seen.extend_from_slice(&buf[..n]);
    }
    stream.write_all(HELLO).await.unwrap();
    drop(listener);
    tokio::spawn(async move {
        let _kept = stream;
        std::future::pending::<()>().await;
    });
}

#[tokio::test]
async fn a_new_dyno_at_a_dead_dynos_address_never_gets_its_stale_pooled_connections() {
    // Regression: with one pool for every dyno keyed by address, the stale keep-alive connection
    // of a dyno that vanished was handed to the next dyno at the same address, and the request
    // on it hung until the request timeout (H12) instead of reaching the new dyno.
    let router = Harness::with_config(RouterConfig { request_timeout: Duration::from_secs(3), ..RouterConfig::default() }).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let old = tokio::spawn(vanishing_dyno(listener));
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(addr))]);
    get_hello(&router).await;
    old.await.unwrap();

    // The supervisor starts a new dyno (same address) and publishes a new route for it.
    let listener = TcpListener::bind(addr).await.unwrap();
    let (accepted, _closed) = counting_dyno(listener).await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(addr))]);
    for _ in 0..3 {
        get_hello(&router).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    let codes: Vec<_> = router.log_lines(4).await.iter().map(|(_, line)| line.code).collect();
    assert_eq!(codes, vec![None; 4], "no H-code in the router log");
}

#[tokio::test]
async fn a_native_dyno_connection_is_reused_after_a_read_body_and_closed_after_a_body_dropped_early() {
    let router = Harness::start().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, mut closed) = counting_dyno(listener).await;
    let backend = TcpBackend::new(addr);
    router.table.set_web("hello", vec![WebDyno::new("web.1", backend.clone())]);
    get_hello(&router).await;
    get_hello(&router).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for two requests in a row");

    // A client that reads the head of a 16 MiB response and goes away: the router drops the
    // response body mid-way, and with it the connection to the dyno.
    let mut client = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    client.write_all(b"GET /big HTTP/1.1\r\nhost: hello.localhost\r\n\r\n").await.unwrap();
    let mut head = vec![0u8; 4096];
    let n = client.read(&mut head).await.unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&head[..n]));
    drop(client);
    tokio::time::timeout(Duration::from_secs(10), closed.recv())
        .await
        .expect("the dyno connection whose body was dropped early was not closed");
    assert_eq!(backend.idle_connections(), 0, "a connection left mid-response was pooled");

    get_hello(&router).await;
    get_hello(&router).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "a new connection after the dropped body, then reused");
    assert_eq!(backend.idle_connections(), 1);
}
