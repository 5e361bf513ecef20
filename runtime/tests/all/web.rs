//! Web dynos: in-process requests, instance reuse, concurrency, outgoing HTTP, stop.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use paas_runtime::{HandleError, NetworkPolicy};

use crate::util::{assert_still_serving, get, probe, spec, try_get};

#[tokio::test]
async fn answers_in_process() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/").await, (200, "ok".to_string()));
    assert_eq!(get(&dyno, "/nope").await, (404, "not found".to_string()));
}

#[tokio::test]
async fn reuse_keeps_one_instance_across_requests() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/count").await.1, "1");
    assert_eq!(get(&dyno, "/count").await.1, "2");
    assert_eq!(get(&dyno, "/count").await.1, "3");
    assert_eq!(dyno.instances_created(), 1);
}

#[tokio::test]
async fn without_reuse_every_request_gets_a_fresh_instance() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.reuse = false;
    let dyno = probe(spec);
    for _ in 0..3 {
        assert_eq!(get(&dyno, "/count").await.1, "1");
    }
    assert_eq!(dyno.instances_used(), 3);
}

/// Waits (up to 10 s) until `dyno` has `n` idle instances.
async fn idle_instances(dyno: &paas_runtime::WebDyno, n: usize) {
    let start = Instant::now();
    while dyno.instances_idle() != n {
        assert!(start.elapsed() < Duration::from_secs(10), "{} idle instances, not {n}", dyno.instances_idle());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A guest's call runs in its request's own task: a request dropped half-way (the client went
/// away, the router's timeout) must leave the call to go on to its end, not cut it off.
#[tokio::test]
async fn a_request_dropped_during_its_call_leaves_the_call_to_finish() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    let slept = dyno.scratch_dir().join("slept");
    assert!(tokio::time::timeout(Duration::from_millis(50), try_get(&dyno, "/sleep?ms=300&touch=slept")).await.is_err());
    assert!(!slept.exists(), "the call ended before its request was dropped");
    let start = Instant::now();
    while !slept.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "the call was cut off when its request was dropped");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Its response had nowhere to go (the guest's write failed); the dyno serves on.
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn fresh_mode_serves_from_ready_instances_that_no_request_touched() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.reuse = false;
    spec.ready = 2;
    let dyno = probe(spec);
    dyno.prewarm().await.unwrap();
    assert_eq!((dyno.instances_created(), dyno.instances_idle(), dyno.instances_used()), (2, 2, 0));
    for _ in 0..6 {
        // Each request is the first its instance sees: nothing of an earlier request's memory.
        assert_eq!(get(&dyno, "/count").await.1, "1");
    }
    // Each request's task made a new ready instance after its response.
    idle_instances(&dyno, 2).await;
    assert_eq!(dyno.instances_used(), 6);
    assert_eq!(dyno.instances_created(), 6 + 2, "every instance made served one request or is ready");
    dyno.stop(Duration::from_secs(1)).await;
    assert_eq!(dyno.instances_idle(), 0, "a stopped dyno keeps no ready instances");
}

/// Fills at once (each request's task refills after its response) make no more than `ready`
/// between them: two that each saw too few idle instances made one too many (CI saw 3 of 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fills_at_once_keep_no_more_ready_instances_than_asked() {
    for _ in 0..5 {
        let (mut spec, _logs) = spec("probe", "web.1");
        spec.reuse = false;
        spec.ready = 2;
        let dyno = probe(spec);
        let fills: Vec<_> = (0..4).map(|_| tokio::spawn({
            let dyno = dyno.clone();
            async move { dyno.prewarm().await.unwrap() }
        })).collect();
        for fill in fills {
            fill.await.unwrap();
        }
        assert_eq!((dyno.instances_idle(), dyno.instances_created()), (2, 2));
    }
}

#[tokio::test]
async fn a_reused_instance_is_retired_after_its_maximum_of_requests() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.max_requests = 2;
    let dyno = probe(spec);
    let mut counts = Vec::new();
    for _ in 0..5 {
        counts.push(get(&dyno, "/count").await.1);
    }
    assert_eq!(counts, ["1", "2", "1", "2", "1"]);
    assert_eq!(dyno.instances_used(), 3);
}

/// A client that sends its next request as soon as a response's body ended often found the
/// instance still returning from its call, and a reuse-mode dyno made a second instance (a
/// second interpreter for Flask in `languages::python_flask…`).
#[tokio::test]
async fn regression_sequential_requests_reuse_the_instance_still_finishing_its_call() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    for _ in 0..5 {
        assert_eq!(get(&dyno, "/linger?ms=20").await.1, "answered");
    }
    assert_eq!(dyno.instances_used(), 1);
    assert_eq!(get(&dyno, "/count").await.1, "6");
}

#[tokio::test]
async fn concurrency_limit_queues_requests() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.concurrency = 1;
    let dyno = probe(spec);
    let start = Instant::now();
    let (a, b) = tokio::join!(get(&dyno, "/sleep?ms=300"), get(&dyno, "/sleep?ms=300"));
    assert_eq!((a.0, b.0), (200, 200));
    assert!(start.elapsed() >= Duration::from_millis(590), "ran concurrently: {:?}", start.elapsed());
    assert_eq!(dyno.instances_created(), 1);

    let (mut spec2, _logs) = crate::util::spec("probe", "web.2");
    spec2.concurrency = 2;
    let dyno = probe(spec2);
    let start = Instant::now();
    let (a, b) = tokio::join!(get(&dyno, "/sleep?ms=300"), get(&dyno, "/sleep?ms=300"));
    assert_eq!((a.0, b.0), (200, 200));
    assert!(start.elapsed() < Duration::from_millis(590), "ran one after the other: {:?}", start.elapsed());
}

#[tokio::test]
async fn environment_has_config_vars_and_dyno_name() {
    let (mut spec, _logs) = spec("probe", "web.3");
    spec.env.insert("GREETING".into(), "hej".into());
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/env?name=GREETING").await, (200, "hej".to_string()));
    assert_eq!(get(&dyno, "/env?name=DYNO").await, (200, "web.3".to_string()));
    assert_eq!(get(&dyno, "/env?name=PS").await, (200, "web.3".to_string()));
    assert_eq!(get(&dyno, "/env?name=PORT").await, (200, "5000".to_string()));
    assert_eq!(get(&dyno, "/env?name=HOSTNAME").await, (404, "environment variable not found".to_string()));
}

#[tokio::test]
async fn guest_panic_is_a_500_for_that_request_only() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/count").await.1, "1");
    let err = try_get(&dyno, "/panic").await.unwrap_err();
    assert!(matches!(&err, HandleError::Trap(detail) if detail.contains("unreachable")), "{err:?}");
    assert_eq!(err.status(), 500);
    assert_still_serving(&dyno).await;
    // The trapped instance was thrown away: a new one counts from 1 again.
    assert_eq!(get(&dyno, "/count").await.1, "2");
    assert_eq!(dyno.instances_used(), 2);
}

#[tokio::test]
async fn serve_turns_errors_into_5xx_responses() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    let req = hyper::Request::get("http://app.example/panic").body(http_body_util::Empty::<Bytes>::new()).unwrap();
    let resp = dyno.serve(req).await;
    assert_eq!(resp.status(), 500);
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn returning_without_a_response_is_a_500() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    assert_eq!(try_get(&dyno, "/noresponse").await.unwrap_err(), HandleError::NoResponse);
    assert_still_serving(&dyno).await;
}

/// A guest whose `handle` returned without setting its response outparam, but kept it alive,
/// left `handle` waiting for a response forever (the 500 came at best with the deadline).
#[tokio::test]
async fn regression_a_guest_that_returns_without_a_response_gets_500_at_once() {
    async fn no_response_at_once(dyno: &paas_runtime::WebDyno) {
        let start = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(10), try_get(dyno, "/noresponse-kept"))
            .await
            .expect("handle hung on a guest that returned without a response")
            .unwrap_err();
        assert_eq!(err, HandleError::NoResponse);
        assert_eq!(err.status(), 500);
        assert!(start.elapsed() < Duration::from_secs(5), "answered after {:?}", start.elapsed());
    }
    // The default deadline (30 s) is far above what the test allows.
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    // On a reused instance…
    assert_eq!(get(&dyno, "/count").await.1, "1");
    no_response_at_once(&dyno).await;
    // …which is thrown away: the next request gets a fresh one…
    assert_eq!(get(&dyno, "/count").await.1, "1");
    assert_eq!(dyno.instances_used(), 2);
    // …and on a fresh instance.
    let (mut spec, _logs) = crate::util::spec("probe", "web.2");
    spec.reuse = false;
    let dyno = probe(spec);
    no_response_at_once(&dyno).await;
    assert_still_serving(&dyno).await;
    let (spec, _logs) = crate::util::spec("probe", "web.3");
    let dyno = probe(spec);
    no_response_at_once(&dyno).await;
    no_response_at_once(&dyno).await;
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn request_body_reaches_the_guest_and_post_works() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    let req = hyper::Request::post("http://app.example/").body(Full::new(Bytes::from_static(b"hello"))).unwrap();
    let resp = dyno.handle(req).await.unwrap();
    assert_eq!(resp.status(), 200);
}

async fn local_http_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = service_fn(|_req| async { Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from("pong")))) });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn outgoing_http_works() {
    // Loopback is denied by the egress policy unless the operator allows it (see egress.rs).
    let addr = local_http_server().await;
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = crate::egress::loopback_probe(spec);
    assert_eq!(get(&dyno, &format!("/fetch?url=http://{addr}/ping")).await, (200, "200 pong".to_string()));
}

#[tokio::test]
async fn outgoing_sockets_are_denied_by_default() {
    let addr = local_http_server().await;
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    let (status, body) = get(&dyno, &format!("/connect?addr={addr}")).await;
    assert_eq!((status, body.as_str()), (403, "error: Permission denied (os error 2)"));
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn regression_a_socket_allowed_by_policy_connects_despite_the_implicit_bind_check() {
    // `connect` is first checked as a bind to the unspecified address; a policy that only
    // listed the destination denied every connection.
    let addr = local_http_server().await;
    let (mut spec, _logs) = spec("probe", "web.2");
    spec.network = NetworkPolicy { allow_tcp_to: vec![addr], ..Default::default() };
    let dyno = crate::egress::loopback_probe(spec);
    assert_eq!(get(&dyno, &format!("/connect?addr={addr}")).await, (200, "connected".to_string()));
    let other = local_http_server().await;
    assert_eq!(get(&dyno, &format!("/connect?addr={other}")).await.0, 403);
}

#[tokio::test]
async fn a_stopped_dyno_refuses_requests() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    assert_still_serving(&dyno).await;
    dyno.stop(Duration::from_secs(5)).await;
    assert_eq!(try_get(&dyno, "/").await.unwrap_err(), HandleError::Stopped);
}
