//! Limits one account cannot get around, through the API in-process: the per-account request
//! rate (`RateLimit-Remaining`, 429 `rate_limit`), password guesses counted against it, one-off
//! dynos per app and the dyno sizes an operator grants.

use axum::http::{Method, StatusCode};
use base64::Engine;
use paas_platform::api::limits::ApiLimits;
use serde_json::json;

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
