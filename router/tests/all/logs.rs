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
