//! The server side: HTTP/1.1 keep-alive, h2c, slow clients, idle connections, graceful shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use paas_router::{RouterConfig, TcpBackend, WebDyno, full_body};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Harness, Reply, client, native_dyno};

async fn hello(config: RouterConfig) -> Harness {
    let router = Harness::with_config(config).await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("hello").await))]);
    router
}

/// Reads until the peer closes; returns what was read and how long it took.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("connection still open after {limit:?}; read {:?}", String::from_utf8_lossy(&got)),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), started.elapsed())
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: hello.localhost\r\n\r\n";

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection_then_idle_closes_it() {
    let config = RouterConfig { idle_timeout: Duration::from_millis(400), ..RouterConfig::default() };
    let router = hello(config).await;
    let mut stream = TcpStream::connect(router.addr).await.unwrap();
    for _ in 0..3 {
        stream.write_all(GET).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.ends_with("\r\n\r\nhello"), "{text}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (rest, idle) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(rest, "");
    assert!(idle >= Duration::from_millis(200) && idle < Duration::from_millis(1500), "{idle:?}");
}

#[tokio::test]
async fn a_slow_client_sending_headers_is_cut_off_but_an_idle_one_is_not() {
    let config = RouterConfig {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(30),
        ..RouterConfig::default()
    };
    let router = hello(config).await;
    let mut slow = TcpStream::connect(router.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: hello.loc").await.unwrap();
    let mut idle = TcpStream::connect(router.addr).await.unwrap();
    let (got, took) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    assert_eq!(got, "");
    assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(1500), "{took:?}");
    // The connection that sent nothing is still open past the header deadline, and works.
    idle.write_all(GET).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).ends_with("hello"));
}

#[tokio::test]
async fn h2c_with_prior_knowledge_works() {
    let router = hello(RouterConfig::default()).await;
    let h2 = client(true);
    for _ in 0..3 {
        let req = http::Request::get(router.url("/h2")).header("host", "hello.localhost").body(full_body("")).unwrap();
        let reply = Reply::read(h2.request(req).await.unwrap()).await.unwrap();
        assert_eq!(reply.version, http::Version::HTTP_2);
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "hello"));
        assert_eq!(reply.header("echo-via"), "2.0 paas");
        assert_eq!(reply.header("echo-version"), "HTTP/1.1", "native dynos get HTTP/1.1");
        assert_eq!(reply.header("echo-host"), "hello.localhost");
    }
    // Without a Host header, h2's :authority routes.
    let stream = TcpStream::connect(router.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("http://hello.localhost/").body(full_body("")).unwrap();
    let reply = Reply::read(sender.send_request(req).await.unwrap()).await.unwrap();
    assert_eq!(reply.body, "hello");
    assert_eq!(router.log_lines(4).await.len(), 4);
}

#[tokio::test]
async fn graceful_shutdown_stops_accepting_and_lets_requests_in_flight_finish() {
    let mut router = hello(RouterConfig::default()).await;
    let url = router.url("/sleep/400");
    let in_flight = tokio::spawn(async move {
        let req = http::Request::get(url).header("host", "hello.localhost").body(full_body("")).unwrap();
        Reply::read(client(false).request(req).await.unwrap()).await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    router.shutdown();
    let reply = in_flight.await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "hello"));
    let served = router.task.take().unwrap();
    tokio::time::timeout(Duration::from_secs(2), served).await.unwrap().unwrap().unwrap();
    assert!(TcpStream::connect(router.addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn an_idle_h2c_connection_is_closed_too() {
    let config = RouterConfig { idle_timeout: Duration::from_millis(300), ..RouterConfig::default() };
    let router = hello(config).await;
    let stream = TcpStream::connect(router.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get("http://hello.localhost/").body(full_body("")).unwrap();
    let reply = Reply::read(sender.send_request(req).await.unwrap()).await.unwrap();
    assert_eq!(reply.body, "hello");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), conn).await.expect("closed by the router").unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
}

/// Reads an HTTP/1.1 head up to its blank line, byte by byte (what follows stays in `stream`);
/// returns it lowercased, or `None` if the peer closed first.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).to_ascii_lowercase())
}

/// Connects to the router at `addr` and asks for hello's `/ws` with `Upgrade: echo`; returns the
/// stream and the head of the answer, lowercased.
pub async fn upgrade_to_echo(addr: SocketAddr) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nHost: hello.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await.expect("the router's answer");
    (stream, head)
}

/// Sends `word` through an upgraded `stream` and checks that the echo dyno sends it back.
pub async fn assert_echoed(stream: &mut TcpStream, word: &str) {
    stream.write_all(word.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; word.len()];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, word.as_bytes());
}

/// A native dyno that switches to an echo protocol on `Upgrade: echo`.
pub async fn echo_upgrade_dyno() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else { return };
                assert!(head.contains("\r\nupgrade: echo\r\n") && head.contains("\r\nconnection: upgrade\r\n"), "{head}");
                stream
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
                    .await
                    .unwrap();
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn upgrades_such_as_websockets_are_spliced_until_idle() {
    let config = RouterConfig { idle_timeout: Duration::from_millis(400), ..RouterConfig::default() };
    let router = Harness::with_config(config).await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(echo_upgrade_dyno().await))]);
    let (mut stream, head) = upgrade_to_echo(router.addr).await;
    assert!(head.starts_with("http/1.1 101 switching protocols\r\n"), "{head}");
    assert!(head.contains("\r\nupgrade: echo\r\n") && head.contains("\r\nconnection: upgrade\r\n"), "{head}");
    for word in ["ping", "pong and more"] {
        assert_echoed(&mut stream, word).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (rest, idle) = read_until_closed(&mut stream, Duration::from_secs(3)).await;
    assert_eq!(rest, "");
    assert!(idle >= Duration::from_millis(200), "{idle:?}");
    let line = &router.log_lines(1).await[0].1;
    assert_eq!((line.status, line.path.as_str(), line.code), (101, "/ws", None));
}
