//! The egress policy of wasm dynos: outgoing `wasi:http` requests and `wasi:sockets` connections
//! to loopback, link-local, private and the node's own addresses are refused (and logged) unless
//! the operator allows the range; `http://<app>.<domain>/` goes to the router.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use paas_runtime::{AppsRoute, DynoSpec, LogLine, NetworkPolicy, Runtime, RuntimeConfig, WebDyno};
use tokio::sync::mpsc;

use crate::util::{assert_still_serving, drain, get, guest, probe, spec};

/// A runtime of its own (the shared one denies loopback), allowing `allow`.
fn runtime_allowing(name: &str, allow: &[&str]) -> Runtime {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("paas-runtime-egress-{name}"));
    let mut config = RuntimeConfig::new(&dir);
    config.max_instances = 8;
    config.egress_allow = allow.iter().map(|s| paas_sandbox::egress::parse_allow(s).unwrap()).collect();
    Runtime::new(config).expect("create the runtime")
}

fn probe_on(rt: &Runtime, spec: DynoSpec) -> WebDyno {
    let component = rt.load_component(guest("http_probe")).expect("load http_probe");
    WebDyno::start(rt, &component, spec).expect("start web dyno")
}

/// A web dyno of the http probe on a runtime allowing 127.0.0.0/8 (tests reaching their own
/// local servers).
pub fn loopback_probe(spec: DynoSpec) -> WebDyno {
    static RT: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    probe_on(RT.get_or_init(|| runtime_allowing("loopback", &["127.0.0.0/8"])), spec)
}

/// An HTTP server on 127.0.0.1 answering `pong <host header>`, counting the connections it
/// accepted.
async fn counting_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| {
                    let host = req.headers().get("host").map(|h| h.to_str().unwrap_or("").to_string());
                    async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(format!("pong {}", host.unwrap_or_default()))))) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    (addr, accepted)
}

pub async fn runtime_lines(logs: &mut mpsc::Receiver<LogLine>) -> Vec<String> {
    drain(logs, Duration::from_millis(200))
        .await
        .into_iter()
        .filter(|l| l.stream == paas_runtime::LogStreamKind::Runtime)
        .map(|l| l.line)
        .collect()
}

#[tokio::test]
async fn outgoing_requests_to_loopback_are_denied_and_logged_and_never_connect() {
    let (addr, accepted) = counting_server().await;
    let (spec, mut logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    let (status, body) = get(&dyno, &format!("/fetch?url=http://{addr}/openapi.json")).await;
    assert_eq!((status, body.as_str()), (502, "error: ErrorCode::HttpRequestDenied"));
    let lines = runtime_lines(&mut logs).await;
    let want = format!("outbound request to {addr} denied (loopback)");
    assert!(lines.contains(&want), "{want:?} not in {lines:#?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "the test server got a connection");
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn outgoing_requests_to_denied_ranges_are_refused_with_their_reason() {
    let (spec, mut logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    for (url, want) in [
        ("http://169.254.169.254/latest/meta-data/", "outbound request to 169.254.169.254:80 denied (link-local)"),
        ("http://10.0.0.1:8080/", "outbound request to 10.0.0.1:8080 denied (private)"),
        ("http://[::ffff:127.0.0.1]:5000/", "outbound request to [::ffff:127.0.0.1]:5000 denied (loopback)"),
        ("http://0.0.0.0:5000/", "outbound request to 0.0.0.0:5000 denied (unspecified)"),
        ("https://100.64.0.1/", "outbound request to 100.64.0.1:443 denied (cgnat)"),
        // A name is resolved once, and the address it resolved to is the one checked.
        ("http://localhost:5000/", "outbound request to localhost:5000 ("),
    ] {
        let (status, body) = get(&dyno, &format!("/fetch?url={url}")).await;
        assert_eq!((status, body.as_str()), (502, "error: ErrorCode::HttpRequestDenied"), "{url}");
        let lines = runtime_lines(&mut logs).await;
        assert!(lines.iter().any(|l| l.starts_with(want)), "{want:?} not in {lines:#?}");
    }
    let lines = runtime_lines(&mut logs).await;
    assert!(lines.is_empty(), "{lines:#?}");
}

#[tokio::test]
async fn a_range_the_operator_allows_is_reached() {
    let (addr, accepted) = counting_server().await;
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = loopback_probe(spec);
    let (status, body) = get(&dyno, &format!("/fetch?url=http://{addr}/ping")).await;
    assert_eq!((status, body), (200, format!("200 pong {addr}")));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn requests_for_the_nodes_apps_go_to_the_router() {
    // The "router" is a test server on loopback, which the policy denies: only the route to it
    // for <app>.<domain> reaches it.
    let (router, accepted) = counting_server().await;
    let rt = runtime_allowing("apps-route", &[]);
    assert!(rt.set_apps_route(AppsRoute::new("paas.test", router)));
    assert!(!rt.set_apps_route(AppsRoute::new("other.test", router)), "set once");
    let (spec, mut logs) = spec("probe", "web.1");
    let dyno = probe_on(&rt, spec);
    for host in ["shop.paas.test", "shop.paas.test:8080", "SHOP.Paas.Test"] {
        let (status, body) = get(&dyno, &format!("/fetch?url=http://{host}/")).await;
        assert_eq!((status, body), (200, format!("200 pong {host}")));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    // The router's address itself stays denied, and so do other names.
    let (status, _) = get(&dyno, &format!("/fetch?url=http://{router}/")).await;
    assert_eq!(status, 502);
    let (status, body) = get(&dyno, "/fetch?url=http://a.b.paas.test/").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    let lines = runtime_lines(&mut logs).await;
    assert!(lines.contains(&format!("outbound request to {router} denied (loopback)")), "{lines:#?}");
}

#[tokio::test]
async fn https_requests_verify_the_servers_certificate() {
    // A self-signed server on an allowed address: the handshake happens (TLS with SNI) and the
    // certificate is refused.
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sni_tx, mut sni_rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let start = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream).await.unwrap();
        let _ = sni_tx.send(start.client_hello().server_name().map(str::to_string)).await;
        let _ = start.into_stream(config).await;
    });
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = loopback_probe(spec);
    let (status, body) = get(&dyno, &format!("/fetch?url=https://localhost:{port}/")).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body, "error: ErrorCode::TlsCertificateError");
    assert_eq!(sni_rx.recv().await.unwrap().as_deref(), Some("localhost"));
}

#[tokio::test]
async fn granted_sockets_follow_the_egress_policy() {
    let (addr, accepted) = counting_server().await;
    let (mut spec, mut logs) = spec("probe", "web.1");
    spec.network = NetworkPolicy { allow_all: true, ..Default::default() };
    let dyno = probe(spec);
    let (status, body) = get(&dyno, &format!("/connect?addr={addr}")).await;
    assert_eq!((status, body.as_str()), (403, "error: Permission denied (os error 2)"));
    let lines = runtime_lines(&mut logs).await;
    assert!(lines.contains(&format!("outbound connection to {addr} denied (loopback)")), "{lines:#?}");
    // Listed explicitly, still denied: the policy applies to every grant.
    let (mut spec, _logs) = crate::util::spec("probe", "web.2");
    spec.network = NetworkPolicy { allow_tcp_to: vec![addr], ..Default::default() };
    let dyno = probe(spec);
    assert_eq!(get(&dyno, &format!("/connect?addr={addr}")).await.0, 403);
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    // Allowed by the operator: connects.
    let (mut spec, _logs) = crate::util::spec("probe", "web.3");
    spec.network = NetworkPolicy { allow_all: true, ..Default::default() };
    let dyno = loopback_probe(spec);
    assert_eq!(get(&dyno, &format!("/connect?addr={addr}")).await, (200, "connected".to_string()));
}
