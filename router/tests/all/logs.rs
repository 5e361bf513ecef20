//! Router log lines, exactly as Heroku writes them, into the app's stream.

use std::time::Duration;

use paas_router::{RouterConfig, TcpBackend, WebDyno, full_body};

use crate::support::{Harness, mask_times, native_dyno};

#[tokio::test]
async fn a_served_request_logs_one_info_line_in_herokus_format() {
    let router = Harness::start().await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("hello-world").await))]);
    router.table.add_domain("hello", "hello.example").unwrap();
    let reply = router.get("Hello.LocalHost:9999", "/path?q=%221%22").await.unwrap();
    let id = reply.header("echo-x-request-id");
    let lines = router.log_lines(1).await;
    assert_eq!(lines.len(), 1);
    let (app, line) = &lines[0];
    assert_eq!(app, "hello");
    assert_eq!(
        mask_times(&line.to_string()),
        format!(
            "at=info method=GET path=\"/path?q=%221%22\" host=hello.localhost request_id={id} fwd=\"127.0.0.1\" \
             dyno=web.1 connect=Nms service=Nms status=200 bytes=11 protocol=http"
        )
    );
}

#[tokio::test]
async fn error_lines_carry_code_and_description() {
    let config = RouterConfig { request_timeout: Duration::from_millis(200), ..RouterConfig::default() };
    let router = Harness::with_config(config).await;
    router.table.ensure_app("idle");
    router.table.set_web("slow", vec![WebDyno::new("web.2", TcpBackend::new(native_dyno("slow").await))]);
    let req = http::Request::post(router.url("/sleep/1000"))
        .header("host", "slow.localhost")
        .header("x-request-id", "0123456789abcdefghij")
        .body(full_body(""))
        .unwrap();
    router.send(req).await.unwrap();
    let req = http::Request::get(router.url("/"))
        .header("host", "idle.localhost")
        .header("x-request-id", "abcdefghij0123456789")
        .header("x-forwarded-for", "198.51.100.1")
        .body(full_body(""))
        .unwrap();
    router.send(req).await.unwrap();
    let lines = router.log_lines(2).await;
    assert_eq!(lines[0].0, "slow");
    assert_eq!(
        mask_times(&lines[0].1.to_string()),
        "at=error code=H12 desc=\"Request timeout\" method=POST path=\"/sleep/1000\" host=slow.localhost \
         request_id=0123456789abcdefghij fwd=\"127.0.0.1\" dyno=web.2 connect=Nms service=Nms status=503 bytes=0 protocol=http"
    );
    assert_eq!(lines[1].0, "idle");
    assert_eq!(
        lines[1].1.to_string(),
        "at=error code=H14 desc=\"No web processes running\" method=GET path=\"/\" host=idle.localhost \
         request_id=abcdefghij0123456789 fwd=\"198.51.100.1, 127.0.0.1\" dyno= connect= service= status=503 bytes= protocol=http"
    );
}

#[tokio::test]
async fn app_metrics_count_what_the_log_lines_say() {
    let config = RouterConfig { request_timeout: Duration::from_millis(200), ..RouterConfig::default() };
    let router = Harness::with_config(config).await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("hello-world").await))]);
    router.table.set_web("slow", vec![WebDyno::new("web.1", TcpBackend::new(native_dyno("slow").await))]);
    for _ in 0..3 {
        router.get("hello.localhost", "/").await.unwrap();
    }
    let upload = http::Request::post(router.url("/")).header("host", "hello.localhost").body(full_body("12345")).unwrap();
    router.send(upload).await.unwrap();
    router.get("slow.localhost", "/sleep/1000").await.unwrap();
    let lines = router.log_lines(5).await;
    let hello = router.table.metrics().get("hello").expect("hello's metrics").web.snapshot();
    assert_eq!(hello.classes, [0, 4, 0, 0, 0]);
    let logged: u64 = lines.iter().filter(|(app, _)| app == "hello").map(|(_, l)| l.bytes.unwrap()).sum();
    assert_eq!((hello.bytes_in, hello.bytes_out), (5, logged));
    assert_eq!(hello.latency.count(), 4);
    let slow = router.table.metrics().get("slow").unwrap().web.snapshot();
    assert_eq!((slow.classes[4], slow.codes[1]), (1, 1), "one 5xx, one H12");
    let p50_ms = slow.latency.quantile_us(0.5).unwrap() / 1000;
    assert!((150..=300).contains(&p50_ms), "the H12 took the 200 ms timeout: {p50_ms} ms");
    // A removed app's metrics go with it.
    router.table.remove_app("hello");
    assert!(router.table.metrics().get("hello").is_none());
}
