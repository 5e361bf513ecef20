//! Metrics through the API in-process: `GET /apps/{app}/metrics` (the app's one-minute series,
//! for whoever may view the app) and `GET /metrics` (Prometheus text, operators only).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use paas_metrics::{Metrics, ProcessGauges};
use paas_platform::api;
use serde_json::Value;
use tower::ServiceExt;

use crate::api::{Api, setup_with};

/// GET `path` with `key` through the API with the node's metrics in its extensions.
async fn get(api: &Api, metrics: &Arc<Metrics>, path: &str, key: Option<&str>) -> (StatusCode, String, Value) {
    let mut request = Request::get(path).header("accept", "application/vnd.heroku+json; version=3");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let router = api::app(api.state.clone()).layer(axum::Extension(metrics.clone()));
    let response = router.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, content_type, body)
}

#[tokio::test]
async fn an_apps_metrics_are_its_viewers_and_all_apps_metrics_are_the_operators() {
    let api = setup_with(Default::default()).await;
    let (alice, bob) = (api.user("alice@example.com").await, api.user("bob@example.com").await);
    api.create_app(&alice, "shop").await;
    let metrics = Arc::new(Metrics::new());
    let shop = metrics.app("shop");
    let ok = paas_metrics::Request { status: 200, code: None, took: Duration::from_millis(20), bytes_in: 0, bytes_out: 100 };
    for _ in 0..40 {
        shop.web.record(ok);
    }
    shop.web.record(paas_metrics::Request { status: 503, code: Some(1), ..ok });
    let web = ProcessGauges { dynos: 2, memory_bytes: 6 << 20, restarts: 0, cpu_seconds: None };
    let dynos = vec![paas_metrics::DynoMemory { name: "web.1".into(), process_type: "web".into(), memory_bytes: 6 << 20, cpu_seconds: Some(1.25) }];
    shop.set_processes([("web".to_string(), web)].into(), dynos, 3);
    // The last closed minute: the API's series ends there.
    let last = paas_metrics::minute_of(chrono::Utc::now()) - 1;
    shop.close_minute(last);

    let (status, _, body) = get(&api, &metrics, "/apps/shop/metrics", Some(&alice)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 60, "an hour by default, a point per minute: {body}");
    let point = &points[59];
    assert_eq!((point["requests"]["2xx"].as_u64(), point["requests"]["5xx"].as_u64()), (Some(40), Some(1)));
    assert_eq!(point["errors"], serde_json::json!({"H12": 1}));
    let p50 = point["response_time_ms"]["p50"].as_f64().unwrap();
    assert!((17.0..=23.0).contains(&p50), "{p50}");
    assert_eq!((point["dynos"].as_u64(), point["memory_bytes"].as_u64(), point["instances"].as_u64()), (Some(2), Some(6 << 20), Some(3)));
    assert!(points[0]["response_time_ms"]["p50"].is_null(), "no requests, no percentile");
    assert_eq!(body["dynos"][0]["memory_bytes"], 6 << 20);
    assert_eq!((body["dynos"][0]["cpu_seconds"].as_f64(), body["processes"]["web"]["cpu_seconds"].as_f64()), (Some(1.25), Some(1.25)));
    assert_eq!(point["cpu_seconds"].as_f64(), Some(1.25), "the CPU time used in the minute");
    assert_eq!(body["processes"]["web"]["dynos"], 2);
    assert_eq!(body["budget"]["max_points"], 1440);
    assert_eq!(body["until"], points[59]["time"]);

    let (status, _, body) = get(&api, &metrics, "/apps/shop/metrics?since=3h", Some(&alice)).await;
    assert_eq!((status, body["points"].as_array().unwrap().len()), (StatusCode::OK, 180));
    let (_, _, body) = get(&api, &metrics, "/apps/shop/metrics?since=30d", Some(&alice)).await;
    assert_eq!(body["points"].as_array().unwrap().len(), 1440, "at most the last 24 hours");
    let (status, _, body) = get(&api, &metrics, "/apps/shop/metrics?since=yesterday", Some(&alice)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Invalid since"), "{body}");

    // Another user's app: as the permission table says for an app they have no access to.
    let (status, _, body) = get(&api, &metrics, "/apps/shop/metrics", Some(&bob)).await;
    assert_eq!((status, body["id"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");
    // All apps: operators only.
    let (status, _, _) = get(&api, &metrics, "/metrics", Some(&alice)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = get(&api, &metrics, "/metrics", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, content_type, body) = get(&api, &metrics, "/metrics", Some(&api.operator)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = body.as_str().unwrap();
    assert!(text.contains("paas_router_requests_total{app=\"shop\",process_type=\"web\",status_class=\"2xx\"} 40"), "{text}");
    assert!(text.contains("paas_dyno_memory_bytes{app=\"shop\",process_type=\"web\"} 6291456"), "{text}");

    // An app this node has no metrics of yet: the same shape, all zeros.
    api.create_app(&alice, "quiet").await;
    let (status, _, body) = get(&api, &metrics, "/apps/quiet/metrics?since=5m", Some(&alice)).await;
    assert_eq!((status, body["points"].as_array().unwrap().len()), (StatusCode::OK, 5));
    assert_eq!(body["points"][4]["requests"]["2xx"], 0);
}
