//! What the dyno receives: X-Request-Id, X-Forwarded-*, Via, and no hop-by-hop headers.

use paas_router::{TcpBackend, WebDyno, full_body, is_valid_request_id};

use crate::support::{Harness, native_dyno};

async fn hello() -> Harness {
    let router = Harness::start().await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("hello").await))]);
    router
}

async fn with_request_id(router: &Harness, id: &str) -> String {
    let req = http::Request::get(router.url("/"))
        .header("host", "hello.localhost")
        .header("x-request-id", id)
        .body(full_body(""))
        .unwrap();
    router.send(req).await.unwrap().header("echo-x-request-id").to_string()
}

#[tokio::test]
async fn x_request_id_is_kept_when_valid_and_generated_otherwise() {
    let router = hello().await;
    for valid in ["abcdefghij0123456789", "AZaz09+=/-AZaz09+=/-AZaz09+=/-", &"a".repeat(200)] {
        assert_eq!(with_request_id(&router, valid).await, valid);
    }
    for invalid in ["short", "abcdefghij0123456789_bad", &"a".repeat(201), "abcdefghij 0123456789"] {
        let sent = with_request_id(&router, invalid).await;
        assert_ne!(sent, invalid);
        assert_eq!(sent.len(), 36, "a UUID: {sent}");
        assert!(is_valid_request_id(&sent));
    }
    let first = router.get("hello.localhost", "/").await.unwrap().header("echo-x-request-id").to_string();
    let second = router.get("hello.localhost", "/").await.unwrap().header("echo-x-request-id").to_string();
    assert!(is_valid_request_id(&first) && first != second);
    let lines = router.log_lines(9).await;
    assert_eq!(lines[0].1.request_id, "abcdefghij0123456789", "the log line carries the id");
}

#[tokio::test]
async fn forwarded_headers_and_via_are_set_and_appended() {
    let router = hello().await;
    let reply = router.get("hello.localhost", "/a?b=c").await.unwrap();
    assert_eq!(reply.header("echo-x-forwarded-for"), "127.0.0.1");
    assert_eq!(reply.header("echo-x-forwarded-proto"), "http");
    assert_eq!(reply.header("echo-x-forwarded-port"), router.addr.port().to_string());
    assert_eq!(reply.header("echo-via"), "1.1 paas");
    assert_eq!(reply.header("echo-path"), "/a?b=c");
    assert_eq!(reply.header("via"), "1.1 paas", "responses carry Via too");
    let start: u128 = reply.header("echo-x-request-start").parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    assert!(start <= now && now - start < 10_000, "X-Request-Start {start} is Unix ms (now {now})");

    let req = http::Request::get(router.url("/"))
        .header("host", "hello.localhost")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("via", "1.1 edge")
        .header("connection", "x-secret")
        .header("x-secret", "hop")
        .body(full_body(""))
        .unwrap();
    let reply = router.send(req).await.unwrap();
    assert_eq!(reply.header("echo-x-forwarded-for"), "203.0.113.7, 127.0.0.1");
    assert_eq!(reply.header("echo-x-forwarded-proto"), "http", "the router's own protocol wins");
    assert_eq!(reply.header("echo-via"), "1.1 edge, 1.1 paas");
    assert_eq!(reply.header("echo-x-secret"), "", "headers named by Connection are hop-by-hop");
    let lines = router.log_lines(2).await;
    assert_eq!(lines[1].1.fwd, "203.0.113.7, 127.0.0.1");
}
