//! Heroku's router errors: H10, H12, H13, H14, H80, H99 and the body limit (413, H25).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use paas_router::{BackendError, ErrorCode, FnBackend, RouterBody, RouterConfig, TcpBackend, WebDyno, full_body, into_router_body};

use crate::support::{Chunks, Harness, closing_dyno, dead_address, native_dyno};

fn assert_error_page(reply: &crate::support::Reply, status: u16) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
    assert!(reply.body.starts_with("<!DOCTYPE html>"), "{}", reply.body);
}

#[tokio::test]
async fn h14_when_no_web_dynos_run() {
    let router = Harness::start().await;
    router.table.ensure_app("hello");
    let reply = router.get("hello.localhost", "/").await.unwrap();
    assert_error_page(&reply, 503);
    assert!(reply.body.contains("Application error"));
    let line = &router.log_lines(1).await[0].1;
    assert_eq!((line.code, line.status, line.dyno.as_deref()), (Some(ErrorCode::H14), 503, None));
}

#[tokio::test]
async fn h10_when_the_web_process_crashed_or_no_dyno_answers() {
    let router = Harness::start().await;
    router.table.set_crashed("hello", true);
    assert_error_page(&router.get("hello.localhost", "/").await.unwrap(), 503);

    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(dead_address().await))]);
    assert_error_page(&router.get("hello.localhost", "/").await.unwrap(), 503);

    let lines = router.log_lines(2).await;
    assert_eq!(lines[0].1.code, Some(ErrorCode::H10));
    assert_eq!(lines[0].1.dyno, None);
    assert_eq!(lines[1].1.code, Some(ErrorCode::H10));
    assert_eq!(lines[1].1.dyno.as_deref(), Some("web.1"));
}

#[tokio::test]
async fn a_request_without_body_goes_to_another_dyno_when_one_is_unreachable() {
    let router = Harness::start().await;
    router.table.set_web(
        "hello",
        vec![
            WebDyno::new("web.1", TcpBackend::new(dead_address().await)),
            WebDyno::new("web.2", TcpBackend::new(native_dyno("web.2").await)),
        ],
    );
    for _ in 0..20 {
        let reply = router.get("hello.localhost", "/").await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "web.2"));
    }
}

#[tokio::test]
async fn h12_after_the_request_timeout_drops_the_call_and_the_next_request_works() {
    let config = RouterConfig { request_timeout: Duration::from_millis(300), ..RouterConfig::default() };
    let router = Harness::with_config(config).await;
    let (dyno, dropped) = slow_dyno("/slow");
    router.table.set_web("hello", vec![dyno]);
    let started = Instant::now();
    let reply = router.get("hello.localhost", "/slow").await.unwrap();
    let took = started.elapsed();
    assert_error_page(&reply, 503);
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "{took:?}");
    assert!(dropped.load(Ordering::SeqCst), "the backend's future was dropped");
    let reply = router.get("hello.localhost", "/").await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "fast"));
    let line = &router.log_lines(1).await[0].1;
    assert_eq!((line.code, line.status, line.dyno.as_deref(), line.bytes), (Some(ErrorCode::H12), 503, Some("web.1"), Some(0)));
    assert!(line.service.unwrap() >= Duration::from_millis(300));
}

/// web.1, whose answer to `slow_path` takes a minute (to any other path: "fast"), and a flag that
/// turns true once the router drops that slow call.
fn slow_dyno(slow_path: &'static str) -> (WebDyno, Arc<AtomicBool>) {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let backend = FnBackend::new(move |req: http::Request<RouterBody>| {
        let flag = flag.clone();
        async move {
            if req.uri().path() == slow_path {
                let _noticed = DropFlag(flag);
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok::<_, BackendError>(http::Response::new(full_body("fast")))
        }
    });
    (WebDyno::new("web.1", backend), dropped)
}

struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn h13_when_the_dyno_closes_the_connection_without_a_response() {
    let router = Harness::start().await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(closing_dyno().await))]);
    assert_error_page(&router.get("hello.localhost", "/").await.unwrap(), 503);
    let line = &router.log_lines(1).await[0].1;
    assert_eq!((line.code, line.dyno.as_deref()), (Some(ErrorCode::H13), Some("web.1")));
}

#[tokio::test]
async fn h80_in_maintenance_mode_and_back() {
    let router = Harness::start().await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("hello").await))]);
    router.table.set_maintenance("hello", true);
    let reply = router.get("hello.localhost", "/").await.unwrap();
    assert_error_page(&reply, 503);
    assert!(reply.body.contains("maintenance"), "{}", reply.body);
    router.table.set_maintenance("hello", false);
    assert_eq!(router.get("hello.localhost", "/").await.unwrap().body, "hello");
    let lines = router.log_lines(2).await;
    assert_eq!(lines[0].1.code, Some(ErrorCode::H80));
    assert!(lines[0].1.to_string().starts_with("at=info code=H80 desc=\"Maintenance mode\" "));
    assert_eq!(lines[1].1.code, None);
}

#[tokio::test]
async fn h99_when_the_backend_fails_otherwise() {
    let router = Harness::start().await;
    router.table.set_web(
        "hello",
        vec![WebDyno::new("web.1", FnBackend::new(|_req| async { Err(BackendError::Other("trap".into())) }))],
    );
    assert_error_page(&router.get("hello.localhost", "/").await.unwrap(), 503);
    assert_eq!(router.log_lines(1).await[0].1.code, Some(ErrorCode::H99));
}

#[tokio::test]
async fn request_bodies_over_the_limit_get_413_whether_declared_or_streamed() {
    let config = RouterConfig { max_body_bytes: 1024, ..RouterConfig::default() };
    let router = Harness::with_config(config).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let native = TcpBackend::new(native_dyno("hello").await);
    router.table.set_web(
        "hello",
        vec![WebDyno::new(
            "web.1",
            FnBackend::new(move |req| {
                counted.fetch_add(1, Ordering::SeqCst);
                paas_router::Backend::call(&native, req)
            }),
        )],
    );
    let post = |body: RouterBody| {
        http::Request::post(router.url("/len")).header("host", "hello.localhost").body(body).unwrap()
    };
    // Exactly the limit passes.
    let reply = router.send(post(full_body(vec![b'x'; 1024]))).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "1024"));
    // Declared too large: refused before any dyno is called.
    let reply = router.send(post(full_body(vec![b'x'; 1025]))).await.unwrap();
    assert_error_page(&reply, 413);
    assert!(reply.body.contains("Request too large"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Streamed (chunked, no length): cut once over the limit.
    let chunks = Chunks(vec![Bytes::from(vec![b'x'; 800]); 3]);
    let reply = router.send(post(into_router_body(chunks))).await.unwrap();
    assert_error_page(&reply, 413);
    let streamed = Chunks(vec![Bytes::from(vec![b'x'; 500]); 2]);
    let reply = router.send(post(into_router_body(streamed))).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "1000"));
    let codes: Vec<_> = router.log_lines(4).await.into_iter().map(|(_, l)| (l.code, l.status)).collect();
    assert_eq!(
        codes,
        [(None, 200), (Some(ErrorCode::H25), 413), (Some(ErrorCode::H25), 413), (None, 200)]
    );
}

#[tokio::test]
async fn h27_when_the_client_goes_away_while_the_dyno_works() {
    let router = Harness::start().await;
    let (dyno, dropped) = slow_dyno("/wait");
    router.table.set_web("hello", vec![dyno]);
    let mut stream = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET /wait HTTP/1.1\r\nHost: hello.localhost\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(stream);
    let lines = router.log_lines(1).await;
    let line = &lines[0].1;
    assert_eq!((line.code, line.status, line.dyno.as_deref()), (Some(ErrorCode::H27), 499, Some("web.1")));
    assert!(line.to_string().starts_with("at=error code=H27 desc=\"Client Request Interrupted\" method=GET path=\"/wait\""));
    assert!(dropped.load(Ordering::SeqCst), "the dyno's call was dropped with the client");
}

#[tokio::test]
async fn a_head_request_and_an_empty_response_still_log_a_line() {
    let router = Harness::start().await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("hello").await))]);
    let req = http::Request::head(router.url("/")).header("host", "hello.localhost").body(full_body("")).unwrap();
    let reply = router.send(req).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, ""));
    let line = &router.log_lines(1).await[0].1;
    assert_eq!((line.method.as_str(), line.status, line.bytes), ("HEAD", 200, Some(0)));
}

/// A response body that sends one chunk, then nothing, ever.
struct Stall(bool);

impl http_body::Body for Stall {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.0 {
            return std::task::Poll::Pending;
        }
        self.0 = true;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(b"first")))))
    }
}

#[tokio::test]
async fn h15_when_a_response_body_stalls_past_the_idle_timeout() {
    let config = RouterConfig { idle_timeout: Duration::from_millis(300), ..RouterConfig::default() };
    let router = Harness::with_config(config).await;
    router.table.set_web(
        "hello",
        vec![WebDyno::new(
            "web.1",
            FnBackend::new(|_req| async { Ok::<_, BackendError>(http::Response::new(into_router_body(Stall(false)))) }),
        )],
    );
    let started = Instant::now();
    let req = http::Request::get(router.url("/stream")).header("host", "hello.localhost").body(full_body("")).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(3), router.send(req)).await.unwrap();
    assert!(response.is_err(), "the body is cut off: {response:?}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "{took:?}");
    let line = &router.log_lines(1).await[0].1;
    assert_eq!((line.code, line.status, line.bytes), (Some(ErrorCode::H15), 503, Some(5)));
    assert!(line.to_string().starts_with("at=error code=H15 desc=\"Idle connection\" "));
}

#[tokio::test]
async fn a_backend_reporting_its_own_timeout_is_h12() {
    let router = Harness::start().await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", FnBackend::new(|_req| async { Err(BackendError::Timeout) }))]);
    assert_error_page(&router.get("hello.localhost", "/").await.unwrap(), 503);
    assert_eq!(router.log_lines(1).await[0].1.code, Some(ErrorCode::H12));
}
