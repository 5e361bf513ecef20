//! Limits one account cannot get around, through the API in-process: the per-account request
//! rate (`RateLimit-Remaining`, 429 `rate_limit`), password guesses counted against it, one-off
//! dynos per app and the dyno sizes an operator grants.

use std::sync::Arc;

use axum::Extension;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use paas_platform::api::{self, limits::ApiLimits};
use paas_platform::model::{App, Dyno, NewRelease};
use paas_platform::serving::{DynoDirectory, OneOff, OneOffError, OneOffRequest, StopOneOff};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::{error, setup_with};

fn limited(requests_per_hour: u32) -> ApiLimits {
    ApiLimits { requests_per_hour, ..ApiLimits::default() }
}

#[tokio::test]
async fn an_account_past_its_rate_limit_gets_429_and_ratelimit_remaining_counts_down() {
    let api = setup_with(limited(3)).await;
    let (alice, bob) = (api.user("alice@example.com").await, api.user("bob@example.com").await);
    for left in ["2", "1", "0"] {
        let reply = api.get("/account", &alice).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["ratelimit-remaining"], left);
    }
    let reply = api.get("/apps", &alice).await;
    let (status, id, message) = error(&reply);
    assert_eq!((status, id), (StatusCode::TOO_MANY_REQUESTS, "rate_limit"));
    assert!(message.contains("rate limit of 3 requests per hour") && message.contains("seconds"), "{message}");
    assert_eq!(reply.headers["ratelimit-remaining"], "0");
    // Another account has its own bucket; an unauthenticated answer has no header.
    assert_eq!(api.get("/account", &bob).await.headers["ratelimit-remaining"], "2");
    assert!(!api.get("/account", "wrong").await.headers.contains_key("ratelimit-remaining"));
    // The operator runs the platform and is not limited.
    for _ in 0..5 {
        let reply = api.get("/account", &api.operator).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(!reply.headers.contains_key("ratelimit-remaining"));
    }
}

#[tokio::test]
async fn password_guesses_count_against_the_accounts_rate_limit() {
    let api = setup_with(limited(3)).await;
    let reply =
        api.send(Method::POST, "/users", Some(&api.operator), Some(json!({"email": "eve@example.com", "password": "right"})), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let login = |password: &str| {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("eve@example.com:{password}"));
        let api = &api;
        async move {
            api.send(Method::POST, "/oauth/authorizations", None, Some(json!({})), &[("authorization", &format!("Basic {basic}"))])
                .await
        }
    };
    assert_eq!(login("right").await.status, StatusCode::CREATED);
    assert_eq!(login("guess 1").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login("guess 2").await.status, StatusCode::UNAUTHORIZED);
    // The bucket is empty: even the right password waits, and no more guesses are checked.
    let reply = login("right").await;
    assert_eq!(error(&reply).1, "rate_limit");
}

/// A dyno directory whose one-off dynos run until the test stops them.
#[derive(Default)]
struct Holding(std::sync::Mutex<std::collections::HashMap<String, usize>>);

#[async_trait::async_trait]
impl DynoDirectory for Holding {
    async fn dynos(&self, _app: &App) -> Vec<Dyno> {
        Vec::new()
    }
    async fn start_oneoff(&self, app: &App, request: OneOffRequest) -> Result<OneOff, OneOffError> {
        // Starting takes a while: requests at the same moment overlap here.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let mut all = self.0.lock().unwrap();
        let running = all.entry(app.name.clone()).or_default();
        *running += 1;
        let now = chrono::Utc::now();
        let dyno = Dyno {
            id: uuid::Uuid::new_v4(),
            app_id: app.id,
            name: format!("{}.{}", request.process_type, *running),
            process_type: request.process_type.clone(),
            command: request.command.clone(),
            size: "Basic".into(),
            state: "up".into(),
            release_version: 1,
            created_at: now,
            updated_at: now,
        };
        Ok(OneOff { dyno, attached: None, exit: Box::pin(std::future::pending()), stop: StopOneOff::new().0 })
    }
    async fn oneoffs_running(&self, app: &App) -> usize {
        self.0.lock().unwrap().get(&app.name).copied().unwrap_or(0)
    }
}

#[tokio::test]
async fn an_app_runs_at_most_its_limit_of_one_off_dynos_at_once() {
    let api = setup_with(ApiLimits { oneoffs_per_app: 2, ..ApiLimits::default() }).await;
    let alice = api.user("alice@example.com").await;
    api.create_app(&alice, "busy").await;
    api.create_app(&alice, "other").await;
    let directory = Arc::new(Holding::default());
    let run = |app: &'static str| {
        let (router, alice) = (api::app(api.state.clone()).layer(Extension(directory.clone() as Arc<dyn DynoDirectory>)), alice.clone());
        async move {
            let request = Request::post(format!("/apps/{app}/dynos"))
                .header("authorization", format!("Bearer {alice}"))
                .header("content-type", "application/json")
                .body(Body::from(json!({"command": "sleep 600", "attach": false}).to_string()))
                .unwrap();
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let body: Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
            (status, body)
        }
    };
    // Five at the same moment: two start, three are refused, each with the reason.
    let replies = futures::future::join_all((0..5).map(|_| run("busy"))).await;
    let started = replies.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(started, 2, "{replies:?}");
    for (status, body) in replies.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_eq!((*status, body["id"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("oneoff_limit")));
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("busy already runs 2 one-off dynos") && message.contains("(2)"), "{message}");
    }
    // Another app of the same user is not held back.
    assert_eq!(run("other").await.0, StatusCode::CREATED);
    // Once one exits, there is room again.
    *directory.0.lock().unwrap().get_mut("busy").unwrap() -= 1;
    assert_eq!(run("busy").await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn performance_dynos_need_an_operators_grant() {
    let api = setup_with(ApiLimits::default()).await;
    let (alice, bob) = (api.user("alice@example.com").await, api.user("bob@example.com").await);
    let app = api.create_app(&alice, "big").await;
    let app_id = app["id"].as_str().unwrap().parse().unwrap();
    let owner = api.state.ledger.find_user("alice@example.com").await.unwrap().unwrap().id;
    let process_types = [("web".to_string(), "./server".to_string())].into();
    let release = NewRelease { slug_id: uuid::Uuid::new_v4(), process_types, description: "Deploy".into() };
    api.state.ledger.create_release(app_id, owner, release).await.unwrap();
    let scale = |key: &str, size: &str| {
        let (api, key) = (&api, key.to_string());
        let body = json!({"updates": [{"type": "web", "quantity": 1, "size": size}]});
        async move { api.send(Method::PATCH, "/apps/big/formation", Some(&key), Some(body), &[]).await }
    };
    let defaults = json!(["Eco", "Basic", "Standard-1X", "Standard-2X"]);
    assert_eq!(api.get("/users/~", &alice).await.body["dyno_sizes"], defaults);

    // Not granted: scaling and one-off dynos are refused, saying what may be used.
    let refused = "Size Performance-M is not granted to alice@example.com (the owner of big): the sizes they \
                   may use are Eco, Basic, Standard-1X, Standard-2X. An operator grants more with \
                   `paas users:grant alice@example.com performance-m`.";
    assert_eq!(error(&scale(&alice, "performance-m").await), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", refused));
    let run = api.send(Method::POST, "/apps/big/dynos", Some(&alice), Some(json!({"command": "x", "size": "Performance-M"})), &[]).await;
    assert_eq!(error(&run), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", refused));
    assert_eq!(scale(&alice, "standard-2x").await.status, StatusCode::OK);
    // Only an operator grants; a user cannot see another's account.
    let grant = |key: &str, who: &str, sizes: Value| {
        let (api, key, path) = (&api, key.to_string(), format!("/users/{who}"));
        async move { api.send(Method::PATCH, &path, Some(&key), Some(json!({"dyno_sizes": sizes})), &[]).await }
    };
    assert_eq!(grant(&alice, "~", json!(["performance-m"])).await.status, StatusCode::FORBIDDEN);
    assert_eq!(api.get("/users/alice@example.com", &bob).await.status, StatusCode::NOT_FOUND);
    let reply = grant(&api.operator, "alice@example.com", json!(["performance-m", "basic", "Basic"])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["dyno_sizes"], json!(["Basic", "Performance-M"]));
    assert_eq!(scale(&alice, "performance-m").await.status, StatusCode::OK);
    // A collaborator scales with the owner's sizes, not their own.
    api.send(Method::POST, "/apps/big/collaborators", Some(&alice), Some(json!({"user": "bob@example.com"})), &[]).await;
    assert_eq!(scale(&bob, "performance-m").await.status, StatusCode::OK);
    // The grant is the whole list: Standard-2X is not in it any more.
    assert_eq!(error(&scale(&alice, "standard-2x").await).0, StatusCode::UNPROCESSABLE_ENTITY);
    // Bad grants are refused with the reason; null is the default again.
    let reply = grant(&api.operator, "alice@example.com", json!(["huge"])).await;
    let (status, _, message) = error(&reply);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("Size \"huge\" is unknown"), "{message}");
    assert_eq!(error(&grant(&api.operator, "alice@example.com", json!([])).await).0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error(&grant(&api.operator, "nobody@example.com", json!(null)).await).0, StatusCode::NOT_FOUND);
    assert_eq!(grant(&api.operator, "alice@example.com", json!(null)).await.body["dyno_sizes"], defaults);
}
