//! The change feed follows the API's writes: each write handler says what it changed for the
//! serving side (`serving::Changed`, part of its response) and `serving::notify_changes` reports
//! it once the response is a success. Reads, failures and writes that change nothing the dynos
//! run report nothing.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use paas_platform::serving::{Change, Changes, notify_changes};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::{Api, setup_with};

/// Sends one request (as the operator) through the API under the change feed's layer, as `paas
/// server` serves it: its status and the changes it reported.
async fn changes_of(api: &Api, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Vec<Change>) {
    let (changes, mut feed) = Changes::channel();
    let router = paas_platform::api::app(api.state.clone()).layer(axum::middleware::from_fn_with_state(changes, notify_changes));
    // Applies each change at once (drops its receipt), as the serving side does once it has.
    let applied = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(notice) = feed.recv().await {
            seen.push(notice.change);
        }
        seen
    });
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("accept", "application/vnd.heroku+json; version=3")
        .header("authorization", format!("Bearer {}", api.operator));
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let status = router.oneshot(request.body(body).unwrap()).await.unwrap().status();
    let seen = tokio::time::timeout(Duration::from_secs(5), applied).await.expect("the feed closes with the router").unwrap();
    (status, seen)
}

fn app(name: &str) -> Vec<Change> {
    vec![Change::App(name.to_string())]
}

fn restart(name: &str, target: Option<&str>) -> Vec<Change> {
    vec![Change::Restart { app: name.to_string(), target: target.map(str::to_string) }]
}

/// A request (method, path, body) and what it should answer: its status and its changes.
type Case = (Method, &'static str, Option<Value>, StatusCode, Vec<Change>);

#[tokio::test]
async fn writes_report_what_they_change_and_reads_and_failures_nothing() {
    let api = setup_with(Default::default()).await;
    let cases: Vec<Case> = vec![
        (Method::POST, "/apps", Some(json!({"name": "hello"})), StatusCode::CREATED, vec![Change::Apps]),
        (Method::GET, "/apps/hello/formation", None, StatusCode::OK, vec![]),
        (Method::PATCH, "/apps/hello/config-vars", Some(json!({"GREETING": "hi"})), StatusCode::OK, app("hello")),
        (Method::PATCH, "/apps/nope/config-vars", Some(json!({"GREETING": "hi"})), StatusCode::NOT_FOUND, vec![]),
        (Method::POST, "/apps/hello/domains", Some(json!({"hostname": "www.example.com"})), StatusCode::CREATED, app("hello")),
        (Method::DELETE, "/apps/hello/domains/www.example.com", None, StatusCode::OK, app("hello")),
        (Method::PATCH, "/apps/hello/features/sleep", Some(json!({"enabled": true})), StatusCode::OK, app("hello")),
        (Method::PATCH, "/apps/hello", Some(json!({"maintenance": true})), StatusCode::OK, app("hello")),
        (Method::POST, "/apps/hello/log-sessions", Some(json!({})), StatusCode::CREATED, vec![]),
        (Method::POST, "/apps/hello/dynos", Some(json!({"command": "true"})), StatusCode::NOT_IMPLEMENTED, vec![]),
        (Method::DELETE, "/apps/hello/dynos", None, StatusCode::ACCEPTED, restart("hello", None)),
        (Method::DELETE, "/apps/hello/dynos/web.1", None, StatusCode::ACCEPTED, restart("hello", Some("web.1"))),
        (Method::DELETE, "/apps/hello/formations/web", None, StatusCode::ACCEPTED, restart("hello", Some("web"))),
        (Method::POST, "/apps/hello/dynos/web.2/actions/stop", None, StatusCode::ACCEPTED, restart("hello", Some("web.2"))),
        (Method::POST, "/apps/hello/formations/web/actions/stop", None, StatusCode::ACCEPTED, restart("hello", Some("web"))),
        (Method::PATCH, "/account", Some(json!({})), StatusCode::OK, vec![]),
        // A rename is reported under the old name: the serving side's sweep moves the dynos.
        (Method::PATCH, "/apps/hello", Some(json!({"name": "renamed"})), StatusCode::OK, app("hello")),
        (Method::DELETE, "/apps/renamed", None, StatusCode::OK, app("renamed")),
    ];
    for (method, path, body, status, expected) in cases {
        let what = format!("{method} {path}");
        assert_eq!(changes_of(&api, method, path, body).await, (status, expected), "{what}");
    }
}
