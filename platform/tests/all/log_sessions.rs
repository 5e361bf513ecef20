//! Log sessions belong to one app (by id) and one user: a session's URL never reads another app
//! that took the name, stops working when its user loses the app, and its live tails end when
//! the app is destroyed or renamed or the user is removed as a collaborator.

use axum::http::{Method, StatusCode};
use paas_platform::logplex::{LogplexConfig, Source};
use serde_json::{Value, json};

use crate::logs::{Logs, all, chunk, setup};

/// A non-operator user: their API key.
async fn user(logs: &Logs, email: &str) -> String {
    logs.state.ledger.create_user(email, None, false).await.unwrap().1
}

/// `key` makes a log session of `app`: its URL's path.
async fn session_as(logs: &Logs, key: &str, app: &str, body: Value) -> String {
    let (status, reply) = logs.call_as(key, Method::POST, &format!("/apps/{app}/log-sessions"), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    reply["logplex_url"].as_str().unwrap().strip_prefix("http://127.0.0.1:5000").unwrap().to_string()
}

/// What broke: A's session of probe-x, kept after A destroyed the app, streamed the config
/// change of B's new app called probe-x.
#[tokio::test]
async fn a_log_session_of_a_destroyed_app_does_not_stream_a_new_app_of_the_same_name() {
    let logs = setup(LogplexConfig::default()).await;
    let (alice, bob) = (user(&logs, "alice@example.com").await, user(&logs, "bob@example.com").await);
    let (status, _) = logs.call_as(&alice, Method::POST, "/apps", Some(json!({"name": "probe-x"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let history = session_as(&logs, &alice, "probe-x", json!({})).await;
    let tail = session_as(&logs, &alice, "probe-x", json!({"tail": true, "lines": 0})).await;
    let (status, _, mut live) = logs.open(&tail, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chunk(&mut live).await.unwrap(), "retry: 1\n\n");

    let (status, _) = logs.call_as(&alice, Method::DELETE, "/apps/probe-x", None).await;
    assert_eq!(status, StatusCode::OK);
    // The live tail ended with the app.
    assert_eq!(chunk(&mut live).await, None);
    let (status, _) = logs.call_as(&bob, Method::POST, "/apps", Some(json!({"name": "probe-x"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = logs.call_as(&bob, Method::PATCH, "/apps/probe-x/config-vars", Some(json!({"SECRET": "b"}))).await;
    assert_eq!(status, StatusCode::OK);
    for path in [&history, &tail] {
        let (status, _, body) = logs.open(path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!all(body).await.contains("SECRET"));
    }
    // Bob's own session reads his app.
    let mine = session_as(&logs, &bob, "probe-x", json!({})).await;
    assert!(all(logs.open(&mine, None).await.2).await.contains("Set SECRET config vars by bob@example.com"));
}

#[tokio::test]
async fn a_removed_collaborator_loses_the_tail_and_the_session() {
    let logs = setup(LogplexConfig::default()).await;
    let (alice, bob) = (user(&logs, "alice@example.com").await, user(&logs, "bob@example.com").await);
    logs.call_as(&alice, Method::POST, "/apps", Some(json!({"name": "shared"}))).await;
    let (status, _) =
        logs.call_as(&alice, Method::POST, "/apps/shared/collaborators", Some(json!({"user": "bob@example.com"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let bobs = session_as(&logs, &bob, "shared", json!({"tail": true, "lines": 0})).await;
    let alices = session_as(&logs, &alice, "shared", json!({"tail": true, "lines": 0})).await;
    let (_, _, mut bob_live) = logs.open(&bobs, None).await;
    let (_, _, mut alice_live) = logs.open(&alices, None).await;
    chunk(&mut bob_live).await.unwrap();
    chunk(&mut alice_live).await.unwrap();

    let (status, _) = logs.call_as(&alice, Method::DELETE, "/apps/shared/collaborators/bob@example.com", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chunk(&mut bob_live).await, None);
    assert_eq!(logs.open(&bobs, None).await.0, StatusCode::NOT_FOUND);
    // The owner's tail goes on.
    logs.state.logs.publish("shared", Source::App, "web.1", "still here");
    assert!(chunk(&mut alice_live).await.unwrap().contains("app[web.1]: still here"));
}

#[tokio::test]
async fn a_session_whose_user_lost_the_app_is_refused_at_connect() {
    let logs = setup(LogplexConfig::default()).await;
    let (alice, bob) = (user(&logs, "alice@example.com").await, user(&logs, "bob@example.com").await);
    logs.call_as(&alice, Method::POST, "/apps", Some(json!({"name": "shared"}))).await;
    logs.call_as(&alice, Method::POST, "/apps/shared/collaborators", Some(json!({"user": "bob@example.com"}))).await;
    let bobs = session_as(&logs, &bob, "shared", json!({})).await;
    // Access removed behind the API's back (another node, the ledger directly): checked at connect.
    let app = logs.state.ledger.find_app("shared").await.unwrap().unwrap();
    logs.state.ledger.remove_collaborator(app.id, "bob@example.com").await.unwrap();
    assert_eq!(logs.open(&bobs, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rename_ends_live_tails_and_the_session_reads_the_app_under_its_new_name() {
    let logs = setup(LogplexConfig::default()).await;
    let alice = user(&logs, "alice@example.com").await;
    logs.call_as(&alice, Method::POST, "/apps", Some(json!({"name": "before"}))).await;
    let path = session_as(&logs, &alice, "before", json!({"tail": true, "lines": 0})).await;
    let (_, _, mut live) = logs.open(&path, None).await;
    chunk(&mut live).await.unwrap();
    let (status, _) = logs.call_as(&alice, Method::PATCH, "/apps/before", Some(json!({"name": "after"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chunk(&mut live).await, None);
    // A new app takes the old name: the session still reads the renamed app, by id.
    logs.call_as(&alice, Method::POST, "/apps", Some(json!({"name": "before"}))).await;
    logs.state.logs.publish("before", Source::App, "web.1", "the other app");
    logs.state.logs.publish("after", Source::App, "web.1", "the same app");
    let (status, _, mut live) = logs.open(&path, None).await;
    assert_eq!(status, StatusCode::OK);
    chunk(&mut live).await.unwrap();
    logs.state.logs.publish("after", Source::App, "web.1", "renamed and followed");
    let next = chunk(&mut live).await.unwrap();
    assert!(next.contains("renamed and followed") && !next.contains("the other app"), "{next}");
}

/// A session's URL is public and could be opened any number of times, each open holding a
/// connection (and on a grid a tail on every other node): the session, and its user, have a
/// cap on open streams (review 4, finding 6).
#[tokio::test]
async fn a_log_session_opened_past_its_stream_caps_is_refused_with_429() {
    use paas_platform::logplex::session::{MAX_STREAMS_PER_SESSION, MAX_STREAMS_PER_USER};
    let logs = setup(LogplexConfig::default()).await;
    let alice = user(&logs, "alice@example.com").await;
    logs.call_as(&alice, Method::POST, "/apps", Some(json!({"name": "busy"}))).await;
    let tail = session_as(&logs, &alice, "busy", json!({"tail": true, "lines": 0})).await;
    let mut open = Vec::new();
    for _ in 0..MAX_STREAMS_PER_SESSION {
        let (status, _, body) = logs.open(&tail, None).await;
        assert_eq!(status, StatusCode::OK);
        open.push(body);
    }
    let (status, _, body) = logs.open(&tail, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let refused: Value = serde_json::from_str(&all(body).await).unwrap();
    assert_eq!(
        refused["message"],
        "This log session already has 4 streams open, the most at once: close one, or make another session (heroku logs)."
    );
    // A stream closed by its client frees its place.
    open.pop();
    let (status, _, body) = logs.open(&tail, None).await;
    assert_eq!(status, StatusCode::OK);
    open.push(body);

    // Many sessions of one user: the user's cap.
    while open.len() < MAX_STREAMS_PER_USER {
        let more = session_as(&logs, &alice, "busy", json!({"tail": true, "lines": 0})).await;
        for _ in 0..MAX_STREAMS_PER_SESSION.min(MAX_STREAMS_PER_USER - open.len()) {
            let (status, _, body) = logs.open(&more, None).await;
            assert_eq!(status, StatusCode::OK);
            open.push(body);
        }
    }
    let another = session_as(&logs, &alice, "busy", json!({"tail": true, "lines": 0})).await;
    let (status, _, body) = logs.open(&another, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(all(body).await.contains("Your log sessions already have 32 streams open"));
    // The open streams still stream.
    logs.state.logs.publish("busy", Source::App, "web.1", "to all");
    for body in &mut open {
        let mut text = chunk(body).await.unwrap();
        while !text.contains("to all") {
            text = chunk(body).await.unwrap();
        }
    }
}
