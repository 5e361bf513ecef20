//! Routing across nodes: two real routers, "a" and "b", where b runs the app's dyno and a only
//! knows it through b's router ([`PeerBackend`]). The hop keeps the client's headers, is logged
//! once (by a), is never forwarded again, and a forged hop header is an outside request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{HeaderValue, Request, Response};
use paas_router::{
    BackendError, FnBackend, MemoryLog, PeerBackend, Peers, RouteTable, Router, RouterBody, RouterConfig, TcpBackend,
    WebDyno, full_body,
};
use tokio::net::TcpListener;

use crate::server::{assert_echoed, echo_upgrade_dyno, upgrade_to_echo};
use crate::support::{Reply, client, closing_dyno, dead_address, native_dyno};

/// Vouches for one credential.
struct Keys(&'static str);

impl Peers for Keys {
    fn vouch(&self, credential: &HeaderValue) -> bool {
        credential == self.0
    }
}

/// One node's router on 127.0.0.1:0 taking hops signed `peer`.
struct Node {
    addr: SocketAddr,
    table: Arc<RouteTable>,
    log: Arc<MemoryLog>,
}

impl Node {
    async fn start(peer: &'static str) -> Node {
        let table = Arc::new(RouteTable::new("localhost"));
        let log = Arc::new(MemoryLog::new());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new(table.clone(), RouterConfig::default()).with_log(log.clone()).with_peers(Arc::new(Keys(peer)));
        tokio::spawn(router.serve(listener));
        Node { addr, table, log }
    }

    /// A route entry on another node: `dyno` reached through `node`'s router, signed as `me`.
    fn via(node: SocketAddr, dyno: &str, me: &'static str) -> WebDyno {
        WebDyno::new(dyno, PeerBackend::new(node, HeaderValue::from_static(me)))
    }

    async fn get(&self, host: &str, headers: &[(&str, &str)]) -> Reply {
        let mut req = Request::get(format!("http://{}/", self.addr)).header("host", host);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Reply::read(client(false).request(req.body(full_body("")).unwrap()).await.unwrap()).await.unwrap()
    }
}

/// A web dyno `name` that answers with the request headers it got, one `name: value` line each.
fn echo_dyno(name: &str, seen: Arc<Mutex<Vec<String>>>) -> WebDyno {
    WebDyno::new(
        name,
        FnBackend::new(move |req: Request<RouterBody>| {
            let lines: Vec<String> =
                req.headers().iter().map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?"))).collect();
            seen.lock().unwrap().push(lines.join("\n"));
            std::future::ready(Ok::<_, BackendError>(Response::new(full_body(lines.join("\n") + "\n"))))
        }),
    )
}

#[tokio::test]
async fn another_nodes_dyno_serves_with_the_clients_headers_and_one_log_line() {
    let (a, b) = (Node::start("Node kb").await, Node::start("Node ka").await);
    let seen = Arc::new(Mutex::new(Vec::new()));
    b.table.set_web("hello", vec![echo_dyno("web.2", seen.clone())]);
    a.table.ensure_app("hello");
    a.table.set_remote("hello", vec![Node::via(b.addr, "web.2", "Node ka")]);

    let reply = a
        .get("hello.localhost", &[("x-request-id", "abcdefghij0123456789"), ("x-forwarded-for", "203.0.113.7")])
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let got = &reply.body;
    assert!(got.contains("x-request-id: abcdefghij0123456789"), "{got}");
    assert!(got.contains("x-forwarded-for: 203.0.113.7, 127.0.0.1\n"), "the client's address, once: {got}");
    assert!(got.contains(&format!("x-forwarded-port: {}", a.addr.port())), "the port the client used: {got}");
    assert!(got.contains("via: 1.1 paas\n") && got.contains("host: hello.localhost"), "{got}");
    assert!(!got.contains("x-paas"), "no node credential reaches a dyno: {got}");
    assert_eq!(reply.header("via"), "1.1 paas");
    assert!(!reply.headers.keys().any(|k| k.as_str().starts_with("x-paas")), "{:?}", reply.headers);

    let lines = a.log.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0].1;
    assert_eq!((line.dyno.as_deref(), line.status, line.code), (Some("web.2"), 200, None));
    assert_eq!((line.request_id.as_str(), line.fwd.as_str()), ("abcdefghij0123456789", "203.0.113.7, 127.0.0.1"));
    assert!(b.log.lines().is_empty(), "the hop is logged once, by the node the client reached");

    // A dyno on this node is preferred.
    a.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("a-web.1").await))]);
    assert_eq!(a.get("hello.localhost", &[]).await.body, "a-web.1");
}

#[tokio::test]
async fn a_forwarded_request_is_never_forwarded_again_and_a_forged_hop_is_an_outside_request() {
    let (a, b) = (Node::start("Node kb").await, Node::start("Node ka").await);
    let seen = Arc::new(Mutex::new(Vec::new()));
    a.table.set_web("loop", vec![echo_dyno("web.1", seen.clone())]);
    // b has no dyno of the app; its route points at a.
    b.table.ensure_app("loop");
    b.table.set_remote("loop", vec![Node::via(a.addr, "web.1", "Node kb")]);

    // A hop signed by a node, for an app b does not run: b answers H14 itself.
    let reply = b.get("loop.localhost", &[("x-paas-hop", "Node ka")]).await;
    assert_eq!((reply.status.as_u16(), reply.header("x-paas-router-code")), (503, "H14"));
    assert!(seen.lock().unwrap().is_empty() && a.log.lines().is_empty(), "not sent on to a");
    assert!(b.log.lines().is_empty(), "the sending node logs a hop");

    // A forged hop header: an outside request (forwarded to a, headers set, logged by b).
    let reply = b.get("loop.localhost", &[("x-paas-hop", "Node forged"), ("x-forwarded-for", "10.9.9.9")]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains("x-forwarded-for: 10.9.9.9, 127.0.0.1\n"), "{}", reply.body);
    assert!(!reply.body.contains("Node forged") && !reply.body.contains("Node kb"), "{}", reply.body);
    assert_eq!(b.log.lines().len(), 1);
    assert!(a.log.lines().is_empty());
}

#[tokio::test]
async fn a_node_that_is_down_is_h99_and_one_without_the_dyno_up_is_its_code_unless_another_takes_it() {
    let (a, b) = (Node::start("Node kb").await, Node::start("Node ka").await);
    a.table.ensure_app("hello");
    a.table.set_remote("hello", vec![Node::via(dead_address().await, "web.3", "Node ka")]);
    let reply = a.get("hello.localhost", &[]).await;
    assert_eq!(reply.status, 503);
    let line = &a.log.lines()[0].1;
    assert_eq!((line.code.map(|c| c.as_str()), line.dyno.as_deref()), (Some("H99"), Some("web.3")));

    // b has the app placed but its dyno is not up yet: H14, which a reports as such.
    b.table.ensure_app("hello");
    a.table.set_remote("hello", vec![Node::via(b.addr, "web.2", "Node ka")]);
    assert_eq!(a.get("hello.localhost", &[]).await.status, 503);
    assert_eq!(a.log.lines()[1].1.code.map(|c| c.as_str()), Some("H14"));

    // With a node that is down, one without the dyno, and one that serves: every GET is served.
    let c = Node::start("Node ka").await;
    c.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("c-web.1").await))]);
    a.table.set_remote(
        "hello",
        vec![
            Node::via(c.addr, "web.1", "Node ka"),
            Node::via(b.addr, "web.2", "Node ka"),
            Node::via(dead_address().await, "web.3", "Node ka"),
        ],
    );
    for _ in 0..20 {
        let reply = a.get("hello.localhost", &[]).await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "c-web.1"));
    }

    // The dyno on the other node closes without answering: H13 in a's line, from b's answer.
    b.table.set_web("hello", vec![WebDyno::new("web.2", TcpBackend::new(closing_dyno().await))]);
    a.table.set_remote("hello", vec![Node::via(b.addr, "web.2", "Node ka")]);
    let before = a.log.lines().len();
    assert_eq!(a.get("hello.localhost", &[]).await.status, 503);
    let line = &a.log.lines()[before].1;
    assert_eq!((line.code.map(|c| c.as_str()), line.dyno.as_deref(), line.status), (Some("H13"), Some("web.2"), 503));
}

#[tokio::test]
async fn a_forwarded_request_for_an_app_the_node_does_not_know_yet_is_h14_so_another_node_takes_it() {
    let (a, b, c) = (Node::start("Node kb").await, Node::start("Node ka").await, Node::start("Node ka").await);
    // b has not seen the app yet (created through another node a moment ago); c runs its dyno.
    c.table.set_web("fresh", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("c-web.1").await))]);

    let reply = b.get("fresh.localhost", &[("x-paas-hop", "Node ka")]).await;
    assert_eq!((reply.status.as_u16(), reply.header("x-paas-router-code")), (503, "H14"), "not 404: {reply:?}");
    assert!(b.log.lines().is_empty(), "the sending node logs a hop");
    // An outside request (or a forged hop) for an unknown app is still the 404 page.
    assert_eq!(b.get("fresh.localhost", &[]).await.status, 404);
    assert_eq!(b.get("fresh.localhost", &[("x-paas-hop", "Node forged")]).await.status, 404);

    // a's routes name both nodes: every GET lands on c's dyno, whichever a tries first.
    a.table.ensure_app("fresh");
    a.table.set_remote("fresh", vec![Node::via(b.addr, "web.2", "Node ka"), Node::via(c.addr, "web.1", "Node ka")]);
    for _ in 0..20 {
        let reply = a.get("fresh.localhost", &[]).await;
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "c-web.1"));
    }
}

#[tokio::test]
async fn a_forwarded_requests_body_bytes_are_counted_once_by_the_node_the_client_reached() {
    let (a, b) = (Node::start("Node kb").await, Node::start("Node ka").await);
    b.table.set_web("upload", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("hello-world").await))]);
    a.table.ensure_app("upload");
    a.table.set_remote("upload", vec![Node::via(b.addr, "web.1", "Node ka")]);
    let post = Request::post(format!("http://{}/", a.addr)).header("host", "upload.localhost").body(full_body("12345")).unwrap();
    let reply = Reply::read(client(false).request(post).await.unwrap()).await.unwrap();
    assert_eq!(reply.status, 200, "{reply:?}");
    let counted = |node: &Node| node.table.metrics().get("upload").map_or(0, |m| m.web.snapshot().bytes_in);
    assert_eq!((counted(&a), counted(&b)), (5, 0), "counted where the log line is written, once");
}

#[tokio::test]
async fn an_upgrade_such_as_a_websocket_is_spliced_through_the_other_nodes_router() {
    let (a, b) = (Node::start("Node kb").await, Node::start("Node ka").await);
    b.table.set_web("hello", vec![WebDyno::new("web.2", TcpBackend::new(echo_upgrade_dyno().await))]);
    a.table.ensure_app("hello");
    a.table.set_remote("hello", vec![Node::via(b.addr, "web.2", "Node ka")]);
    let (mut stream, head) = upgrade_to_echo(a.addr).await;
    assert!(head.starts_with("http/1.1 101 switching protocols\r\n") && !head.contains("x-paas"), "{head}");
    for word in ["ping", "pong and more"] {
        assert_echoed(&mut stream, word).await;
    }
    drop(stream);
    let lines = a.log.lines();
    assert_eq!((lines.len(), lines[0].1.status, lines[0].1.dyno.as_deref()), (1, 101, Some("web.2")));
}
