//! Host routing, custom domains, random spread and route changes under load.

use std::collections::HashMap;
use std::time::Duration;

use paas_router::{BackendError, FnBackend, TcpBackend, WebDyno, full_body};

use crate::support::{Harness, native_dyno};

#[tokio::test]
async fn host_routes_by_app_subdomain_and_custom_domain_any_case_and_port() {
    let router = Harness::start().await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("hello").await))]);
    router.table.set_web("other", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("other").await))]);
    router.table.add_domain("hello", "www.Hello.example").unwrap();

    for host in ["hello.localhost", "HELLO.LocalHost:8080", "www.hello.example", "WWW.HELLO.EXAMPLE:443"] {
        let reply = router.get(host, "/").await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "hello"), "host {host}");
        assert_eq!(reply.header("echo-host"), host, "the dyno sees the Host the client sent");
    }
    assert_eq!(router.get("other.localhost", "/").await.unwrap().body, "other");

    // A domain moves: the old name stops routing at once, the new one starts.
    router.table.remove_domain("hello", "www.hello.example").unwrap();
    router.table.add_domain("other", "www.hello.example").unwrap();
    assert_eq!(router.get("www.hello.example", "/").await.unwrap().body, "other");
}

#[tokio::test]
async fn unknown_host_gets_a_404_page_that_names_no_app() {
    let router = Harness::start().await;
    router.table.set_web("secret-app", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("x").await))]);
    router.table.add_domain("secret-app", "secret.example").unwrap();
    for host in ["nope.localhost", "secret.example.evil", "localhost", "127.0.0.1"] {
        let reply = router.get(host, "/").await.unwrap();
        assert_eq!(reply.status, 404, "host {host}");
        assert!(reply.body.contains("No such app"), "{}", reply.body);
        assert!(!reply.body.contains("secret"), "the page names no app: {}", reply.body);
        assert!(!reply.body.contains(host), "the page does not echo the host: {}", reply.body);
    }
    assert!(router.log.lines().is_empty(), "unknown hosts belong to no app's log");
}

#[tokio::test]
async fn requests_spread_at_random_across_three_web_dynos() {
    let router = Harness::start().await;
    let mut web = Vec::new();
    for n in 1..=3 {
        web.push(WebDyno::new(format!("web.{n}"), TcpBackend::new(native_dyno(&format!("web.{n}")).await)));
    }
    router.table.set_web("hello", web);
    let mut counts = HashMap::<String, u32>::new();
    for _ in 0..300 {
        let reply = router.get("hello.localhost", "/").await.unwrap();
        *counts.entry(reply.body).or_default() += 1;
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert_eq!(counts.values().sum::<u32>(), 300);
    // Expected 100 each; 50 is more than 6 standard deviations away.
    assert!(counts.values().all(|&n| n > 50), "{counts:?}");
    let lines = router.log_lines(300).await;
    let by_dyno = lines.iter().fold(HashMap::<String, u32>::new(), |mut acc, (_, line)| {
        *acc.entry(line.dyno.clone().unwrap()).or_default() += 1;
        acc
    });
    assert_eq!(by_dyno, counts, "log lines name the dyno that answered");
}

#[tokio::test]
async fn route_changes_during_in_flight_requests_drop_nothing() {
    let router = Harness::start().await;
    let slow = |name: &'static str| {
        WebDyno::new(
            name,
            FnBackend::new(move |_req| async move {
                tokio::time::sleep(Duration::from_millis(400)).await;
                Ok::<_, BackendError>(http::Response::new(full_body(name)))
            }),
        )
    };
    router.table.set_web("hello", vec![slow("web.1"), slow("web.2")]);
    let router = std::sync::Arc::new(router);
    let mut in_flight = Vec::new();
    for _ in 0..20 {
        let router = router.clone();
        in_flight.push(tokio::spawn(async move { router.get("hello.localhost", "/").await.unwrap() }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Deploy (new dynos), scale, add a domain, then remove the app: none of it touches them.
    router.table.set_web("hello", vec![WebDyno::new("web.3", TcpBackend::new(native_dyno("web.3").await))]);
    assert_eq!(router.get("hello.localhost", "/").await.unwrap().body, "web.3");
    router.table.add_domain("hello", "hello.example").unwrap();
    router.table.set_web("hello", vec![]);
    router.table.remove_app("hello");
    for request in in_flight {
        let reply = request.await.unwrap();
        assert_eq!(reply.status, 200);
        assert!(reply.body == "web.1" || reply.body == "web.2", "{}", reply.body);
    }
    assert_eq!(router.get("hello.localhost", "/").await.unwrap().status, 404);
}
