//! The API's listeners against clients that hold connections open: a slowloris client that
//! sends half a request line is dropped after the header read timeout, one client address
//! cannot take every TLS handshake slot, and a peer that stops acknowledging is given up after a
//! minute (real sockets on loopback, a real TLS handshake).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use paas_platform::https::{HandshakeLimits, TlsListener};
use paas_platform::tls::ServerTls;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Reads until the peer closes (`Some(what it sent)`), or `None` if it is still open after `limit`.
async fn closed_within(stream: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn a_slowloris_client_sending_half_a_request_line_is_dropped() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/", get(|| async { "ok" }));
    let timeout = Duration::from_millis(500);
    tokio::spawn(paas_platform::listen::serve(listener, router, timeout, std::future::pending()));

    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HT").await.unwrap();
    let started = Instant::now();
    let said = closed_within(&mut slow, Duration::from_secs(5)).await.expect("the slow client is dropped");
    assert!(started.elapsed() >= timeout / 2, "dropped after {:?}", started.elapsed());
    assert!(!said.contains("200 OK"), "{said}");

    // A client that sends its request in time is answered.
    let mut prompt = TcpStream::connect(addr).await.unwrap();
    prompt.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let said = closed_within(&mut prompt, Duration::from_secs(5)).await.unwrap();
    assert!(said.starts_with("HTTP/1.1 200 OK") && said.ends_with("ok"), "{said}");
}

/// A TCP connection to `server` from the loopback address `from`.
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// A TLS client that trusts `tls`'s CA.
fn connector(tls: &ServerTls) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(tls.ca_pem().unwrap()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(client))
}

/// A connection whose peer stops acknowledging (gone without closing) is given up after
/// `UNACKNOWLEDGED_TIMEOUT` rather than the kernel's ~15 minutes of retransmissions: set on the
/// connections the TLS listeners accept, and by `give_up_on_silent_peers` on the API's plain
/// listener (`paas server` taps it).
#[tokio::test]
async fn accepted_connections_give_up_on_a_peer_that_stops_acknowledging() {
    use paas_platform::listen::{UNACKNOWLEDGED_TIMEOUT, give_up_on_silent_peers};
    let want = u32::try_from(UNACKNOWLEDGED_TIMEOUT.as_millis()).unwrap();
    assert!(UNACKNOWLEDGED_TIMEOUT < Duration::from_secs(5 * 60));

    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let mut plain = axum::serve::ListenerExt::tap_io(tcp, |tcp: &mut TcpStream| give_up_on_silent_peers(tcp));
    let _client = TcpStream::connect(addr).await.unwrap();
    let (accepted, _) = axum::serve::Listener::accept(&mut plain).await;
    assert_eq!(rustix::net::sockopt::tcp_user_timeout(&accepted).unwrap(), want);
    let (_client_side, untapped) = {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(tcp.local_addr().unwrap()).await.unwrap();
        (client, tcp.accept().await.unwrap().0)
    };
    assert_ne!(rustix::net::sockopt::tcp_user_timeout(&untapped).unwrap(), want, "the kernel's default differs");

    let dir = tempfile::tempdir().unwrap();
    let tls = ServerTls::load_or_create(dir.path(), &[], None, None).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let mut listener = TlsListener::new(tcp, tls.server_config(), "test").unwrap();
    let client = tokio::spawn({
        let connector = connector(&tls);
        async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
        }
    });
    let (accepted, _) = tokio::time::timeout(Duration::from_secs(5), axum::serve::Listener::accept(&mut listener)).await.unwrap();
    assert_eq!(rustix::net::sockopt::tcp_user_timeout(accepted.get_ref().0).unwrap(), want);
    drop(client.await.unwrap());
}

#[tokio::test]
async fn one_client_address_cannot_take_every_tls_handshake_slot() {
    let dir = tempfile::tempdir().unwrap();
    let tls = ServerTls::load_or_create(dir.path(), &[], None, None).unwrap();
    let limits = HandshakeLimits { timeout: Duration::from_secs(30), max: 8, per_address: 3 };
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let mut listener = TlsListener::with_limits(tcp, tls.server_config(), "test", limits).unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = axum::serve::Listener::accept(&mut listener).await;
            tokio::spawn(async move {
                let _ = stream.write_all(b"hi").await;
                let _ = stream.shutdown().await;
            });
        }
    });
    let connector = connector(&tls);
    let handshake = |from: &'static str| {
        let connector = connector.clone();
        async move {
            let tcp = connect_from(from, addr).await;
            let name = ServerName::try_from("localhost").unwrap();
            let mut tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
                .await
                .expect("handshake in time")
                .expect("handshake");
            let mut said = String::new();
            tls.read_to_string(&mut said).await.unwrap();
            said
        }
    };

    // 127.0.0.1 opens ten connections and says nothing: three hold handshake slots, the rest are
    // closed at once.
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(connect_from("127.0.0.1", addr).await);
    }
    let mut closed = 0;
    for stream in &mut silent {
        if closed_within(stream, Duration::from_secs(1)).await.is_some() {
            closed += 1;
        }
    }
    assert_eq!(closed, 7, "connections past the per-address limit are closed");
    // Another address still gets a handshake.
    assert_eq!(handshake("127.0.0.2").await, "hi");
    // Once the silent client lets go, its address gets handshakes again.
    silent.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(handshake("127.0.0.1").await, "hi");
}

/// A network namespace of the test's own with a veth pair: `host` on this side, `client` in it.
/// Removed when dropped.
struct Silenceable {
    ns: String,
    link: String,
    host: String,
    client: String,
}

impl Silenceable {
    /// `None` (skipped) unless root with ip(8) and curl; under CI=true that fails instead.
    fn new() -> Option<Silenceable> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let root = crate::is_root();
        let tools = [("ip", "-V"), ("curl", "--version")]
            .iter()
            .all(|(t, v)| std::process::Command::new(t).arg(v).output().is_ok_and(|o| o.status.success()));
        if !(root && tools) {
            assert!(!ci, "this test needs root, ip and curl (CI=true)");
            eprintln!("skipped: needs root, ip and curl");
            return None;
        }
        let pid = std::process::id();
        // A /30 of 10.251.0.0/16 picked by pid: .1 on this side, .2 in the namespace.
        let n = (pid % 16000) * 4;
        let addr = |last: u32| format!("10.251.{}.{}", n / 256, n % 256 + last);
        let this = Silenceable { ns: format!("paas-silent-{pid}"), link: format!("psil{pid}"), host: addr(1), client: addr(2) };
        let (ns, a, b) = (this.ns.as_str(), this.link.clone() + "a", this.link.clone() + "b");
        for args in [
            vec!["netns", "add", ns],
            vec!["link", "add", &a, "type", "veth", "peer", "name", &b],
            vec!["link", "set", &b, "netns", ns],
            vec!["addr", "add", &format!("{}/30", this.host), "dev", &a],
            vec!["link", "set", &a, "up"],
            vec!["-n", ns, "addr", "add", &format!("{}/30", this.client), "dev", &b],
            vec!["-n", ns, "link", "set", &b, "up"],
        ] {
            ip(&args);
        }
        Some(this)
    }

    /// The client's side goes silent: its link down, it neither answers nor closes.
    fn silence(&self) {
        ip(&["-n", &self.ns, "link", "set", &format!("{}b", self.link), "down"]);
    }
}

impl Drop for Silenceable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["netns", "del", &self.ns]).output();
        let _ = std::process::Command::new("ip").args(["link", "del", &format!("{}a", self.link)]).output();
    }
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// End to end (root): a stream written every second (as a log tail's keep-alives are) to a client
/// that then goes silent without closing is dropped about `UNACKNOWLEDGED_TIMEOUT` after its first
/// unacknowledged write, not after the kernel's ~15 minutes, and not before.
#[tokio::test]
async fn a_stream_to_a_client_that_went_silent_is_dropped_after_the_unacknowledged_timeout() {
    use paas_platform::listen::{HEADER_READ_TIMEOUT, UNACKNOWLEDGED_TIMEOUT, give_up_on_silent_peers, serve};
    let Some(net) = Silenceable::new() else { return };
    /// Tells the test when the response's stream is dropped (the connection gone).
    struct Dropped(Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.take().map(|tx| tx.send(()));
        }
    }
    let (tx, dropped) = tokio::sync::oneshot::channel();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    let router = axum::Router::new().route(
        "/",
        get(move || {
            let guard = Dropped(tx.lock().unwrap().take());
            let ticks = futures::stream::unfold(guard, |guard| async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Some((Ok::<_, std::convert::Infallible>(axum::body::Bytes::from_static(b"tick\n")), guard))
            });
            async move { axum::body::Body::from_stream(ticks) }
        }),
    );
    let listener = TcpListener::bind(format!("{}:0", net.host)).await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut TcpStream| give_up_on_silent_peers(tcp));
    tokio::spawn(serve(listener, router, HEADER_READ_TIMEOUT, std::future::pending()));
    let mut client = tokio::process::Command::new("ip")
        .args(["netns", "exec", &net.ns, "curl", "-sN", &url])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut first = [0u8; 5];
    let stdout = client.stdout.as_mut().unwrap();
    tokio::time::timeout(Duration::from_secs(10), stdout.read_exact(&mut first)).await.unwrap().unwrap();
    assert_eq!(&first, b"tick\n");

    net.silence();
    let silent = Instant::now();
    let limit = UNACKNOWLEDGED_TIMEOUT + Duration::from_secs(30);
    tokio::time::timeout(limit, dropped).await.expect("the silent client's stream is dropped").unwrap();
    let after = silent.elapsed();
    assert!(after >= UNACKNOWLEDGED_TIMEOUT - Duration::from_secs(1), "dropped after {after:?}, before the timeout");
    drop(client);
}
