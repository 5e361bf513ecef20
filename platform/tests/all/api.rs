//! The Platform API in-process: `paas_platform::api::app(state)` driven with
//! `tower::ServiceExt::oneshot` over a real SQLite ledger.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use paas_platform::api::limits::{ApiLimits, Limits};
use paas_platform::api::{self, AppState, PlatformConfig};
use paas_platform::model::NewRelease;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::backends::{self, TestLedger};

pub(crate) struct Api {
    pub(crate) state: AppState,
    /// The add-on services requests get (as `paas server` gives them), if any.
    pub(crate) addons: Option<paas_platform::addons::AddonServices>,
    pub(crate) operator: String,
    _ledger: TestLedger,
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

async fn setup() -> Api {
    setup_with(ApiLimits::default()).await
}

/// An API with these limits.
pub(crate) async fn setup_with(limits: ApiLimits) -> Api {
    let ledger = backends::sqlite().await;
    let (_, operator) = ledger.ledger.create_user("operator@localhost", None, true).await.unwrap();
    let config = PlatformConfig { domain: "localhost".into(), router_port: Some(8080), api_url: "http://127.0.0.1:5000".into() };
    let limits = Arc::new(Limits::new(limits));
    let state = AppState { ledger: ledger.ledger.clone(), config: Arc::new(config), deploys: None, logs: Default::default(), limits };
    Api { state, addons: None, operator, _ledger: ledger }
}

impl Api {
    pub(crate) async fn send(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("accept")) {
            request = request.header("accept", "application/vnd.heroku+json; version=3");
        }
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.raw(request.body(body).unwrap()).await
    }

    async fn raw(&self, request: Request<Body>) -> Reply {
        let mut router = api::app(self.state.clone());
        if let Some(addons) = &self.addons {
            router = router.layer(axum::Extension(addons.clone()));
        }
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Reply { status, headers, body }
    }

    pub(crate) async fn get(&self, path: &str, key: &str) -> Reply {
        self.send(Method::GET, path, Some(key), None, &[]).await
    }

    pub(crate) async fn user(&self, email: &str) -> String {
        let reply = self.send(Method::POST, "/users", Some(&self.operator), Some(json!({"email": email})), &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["api_key"].as_str().unwrap().to_string()
    }

    pub(crate) async fn create_app(&self, key: &str, name: &str) -> Value {
        let reply = self.send(Method::POST, "/apps", Some(key), Some(json!({"name": name})), &[]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    async fn release_count(&self, app: &str) -> usize {
        self.get(&format!("/apps/{app}/releases"), &self.operator).await.body.as_array().unwrap().len()
    }
}

pub(crate) fn error(reply: &Reply) -> (StatusCode, &str, &str) {
    (reply.status, reply.body["id"].as_str().unwrap_or("<no id>"), reply.body["message"].as_str().unwrap_or("<no message>"))
}

#[tokio::test]
async fn every_route_needs_a_valid_api_key() {
    let api = setup().await;
    for key in [None, Some("wrong")] {
        let reply = api.send(Method::GET, "/apps", key, None, &[]).await;
        assert_eq!(error(&reply), (StatusCode::UNAUTHORIZED, "unauthorized", "Invalid credentials provided."));
    }
    assert_eq!(api.get("/account", &api.operator).await.body["email"], "operator@localhost");
    // Basic auth with the key as password (what git sends) works too.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("heroku:{}", api.operator));
    let reply = api.send(Method::GET, "/account", None, None, &[("authorization", &format!("Basic {basic}"))]).await;
    assert_eq!(reply.status, StatusCode::OK);
    // The OpenAPI document is public and marks the extensions.
    let reply = api.send(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(reply.body["paths"]["/users"]["post"]["x-paas-extension"], true);
    assert!(reply.body["paths"]["/apps/{app}/formation"]["patch"].is_object());
}

#[tokio::test]
async fn operators_create_users_and_users_cannot() {
    let api = setup().await;
    let alice = api.user("alice@example.com").await;
    assert_eq!(api.get("/account", &alice).await.body["email"], "alice@example.com");
    let reply = api.send(Method::POST, "/users", Some(&alice), Some(json!({"email": "eve@example.com"})), &[]).await;
    assert_eq!(error(&reply), (StatusCode::FORBIDDEN, "forbidden", "Only an operator can do that."));
    let reply = api.send(Method::POST, "/users", Some(&api.operator), Some(json!({"email": "alice@example.com"})), &[]).await;
    assert_eq!(error(&reply), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "A user with email alice@example.com already exists."));
    let reply = api.send(Method::POST, "/users", Some(&api.operator), Some(json!({"email": "nope"})), &[]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn login_with_email_and_password_makes_an_api_key() {
    let api = setup().await;
    let reply = api
        .send(Method::POST, "/users", Some(&api.operator), Some(json!({"email": "dev@example.com", "password": "pw"})), &[])
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let basic = |password: &str| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("dev@example.com:{password}")));
    let body = json!({"description": "Heroku CLI login from host", "expires_in": 2592000, "scope": ["global"]});
    let reply = api.send(Method::POST, "/oauth/authorizations", None, Some(body.clone()), &[("authorization", &basic("pw"))]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["user"]["email"], "dev@example.com");
    let token = reply.body["access_token"]["token"].as_str().unwrap().to_string();
    assert_eq!(api.get("/account", &token).await.body["email"], "dev@example.com");
    let current = api.get("/oauth/authorizations/~", &token).await;
    assert_eq!(current.body["access_token"]["token"], token.as_str());
    assert_eq!(api.get("/oauth/authorizations", &token).await.body.as_array().unwrap().len(), 2);
    let reply = api.send(Method::POST, "/oauth/authorizations", None, Some(body), &[("authorization", &basic("wrong"))]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.send(Method::DELETE, "/oauth/sessions/~", Some(&token), None, &[]).await.status, StatusCode::OK);
    assert_eq!(api.send(Method::DELETE, "/oauth/authorizations/~", Some(&token), None, &[]).await.status, StatusCode::OK);
    assert_eq!(api.get("/account", &token).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn apps_have_herokus_shape_and_lifecycle() {
    let api = setup().await;
    let app = api.create_app(&api.operator, "my-app").await;
    for field in ["id", "created_at", "updated_at", "released_at"] {
        assert!(app[field].is_string(), "{field}: {app}");
    }
    assert_eq!(app["name"], "my-app");
    assert_eq!(app["owner"]["email"], "operator@localhost");
    assert_eq!((app["region"]["name"].as_str(), app["stack"]["name"].as_str()), (Some("us"), Some("paas-wasm")));
    assert_eq!(app["build_stack"]["name"], "paas-wasm");
    assert_eq!(app["generation"]["name"], "cedar");
    assert_eq!(app["web_url"], "http://my-app.localhost:8080/");
    assert_eq!(app["git_url"], "http://127.0.0.1:5000/my-app.git");
    assert_eq!((app["repo_size"].clone(), app["slug_size"].clone(), app["maintenance"].clone()), (Value::Null, Value::Null, json!(false)));
    let id = app["id"].as_str().unwrap();
    assert_eq!(api.get(&format!("/apps/{id}"), &api.operator).await.body["name"], "my-app");
    let releases = api.get("/apps/my-app/releases", &api.operator).await.body;
    assert_eq!(releases[0]["description"], "Initial release");
    assert_eq!(releases[0]["version"], 1);

    let generated = api.send(Method::POST, "/apps", Some(&api.operator), None, &[]).await;
    assert_eq!(generated.status, StatusCode::CREATED);
    assert!(paas_platform::names::validate_app_name(generated.body["name"].as_str().unwrap()).is_ok());

    for bad in ["ab", "My-App", "1app", "app_name", "a-name-that-is-way-too-long-for-us"] {
        let reply = api.send(Method::POST, "/apps", Some(&api.operator), Some(json!({"name": bad})), &[]).await;
        assert_eq!((reply.status, reply.body["id"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_params")), "{bad}");
        assert!(reply.body["message"].as_str().unwrap().contains(bad));
    }
    let taken = api.send(Method::POST, "/apps", Some(&api.operator), Some(json!({"name": "my-app"})), &[]).await;
    assert_eq!(error(&taken), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "Name my-app is already taken."));
    assert_eq!(api.get("/apps", &api.operator).await.body.as_array().unwrap().len(), 2);

    let renamed = api.send(Method::PATCH, "/apps/my-app", Some(&api.operator), Some(json!({"name": "new-name"})), &[]).await;
    assert_eq!(renamed.body["name"], "new-name");
    let destroyed = api.send(Method::DELETE, "/apps/new-name", Some(&api.operator), None, &[]).await;
    assert_eq!(destroyed.status, StatusCode::OK);
    let gone = api.get("/apps/new-name", &api.operator).await;
    assert_eq!(error(&gone), (StatusCode::NOT_FOUND, "not_found", "Couldn't find that app."));
}

#[tokio::test]
async fn config_set_and_releases_answer_what_the_heroku_cli_reads() {
    let api = setup().await;
    api.create_app(&api.operator, "cfg").await;
    let reply = api.send(Method::PATCH, "/apps/cfg/config-vars", Some(&api.operator), Some(json!({"FOO": "bar", "N": "1"})), &[]).await;
    assert_eq!(reply.body, json!({"FOO": "bar", "N": "1"}));
    // config:set reads the newest release with `order=desc,max=1` and prints `done, v2`.
    let newest = api
        .send(Method::GET, "/apps/cfg/releases", Some(&api.operator), None, &[("range", "version ..; order=desc,max=1")])
        .await;
    assert_eq!(newest.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(newest.body.as_array().unwrap().len(), 1);
    assert_eq!((newest.body[0]["version"].clone(), newest.body[0]["description"].clone()), (json!(2), json!("Set FOO, N config vars")));
    assert_eq!(newest.body[0]["current"], true);
    assert_eq!(newest.headers["next-range"], "version ]2..; max=1, order=desc");
    let reply = api.send(Method::PATCH, "/apps/cfg/config-vars", Some(&api.operator), Some(json!({"FOO": null})), &[]).await;
    assert_eq!(reply.body, json!({"N": "1"}));
    assert_eq!(api.get("/apps/cfg/config-vars", &api.operator).await.body, json!({"N": "1"}));

    let v2 = api.get("/apps/cfg/releases/2", &api.operator).await.body;
    assert_eq!((v2["eligible_for_rollback"].clone(), v2["user"]["email"].clone(), v2["status"].clone()), (json!(true), json!("operator@localhost"), json!("succeeded")));
    let rollback = api.send(Method::POST, "/apps/cfg/releases", Some(&api.operator), Some(json!({"release": v2["id"]})), &[]).await;
    assert_eq!(rollback.status, StatusCode::CREATED);
    assert_eq!((rollback.body["version"].clone(), rollback.body["description"].clone()), (json!(4), json!("Rollback to v2")));
    assert_eq!(api.get("/apps/cfg/config-vars", &api.operator).await.body, json!({"FOO": "bar", "N": "1"}));
    let listing = api.send(Method::GET, "/apps/cfg/releases", Some(&api.operator), None, &[("range", "version ..; max=15, order=desc")]).await;
    let versions: Vec<i64> = listing.body.as_array().unwrap().iter().map(|r| r["version"].as_i64().unwrap()).collect();
    assert_eq!((listing.status, versions), (StatusCode::OK, vec![4, 3, 2, 1]));
    assert!(listing.headers.get("next-range").is_none());
    let missing = api.send(Method::POST, "/apps/cfg/releases", Some(&api.operator), Some(json!({"release": "v42"})), &[]).await;
    assert_eq!(error(&missing), (StatusCode::NOT_FOUND, "not_found", "Couldn't find that release."));
}

#[tokio::test]
async fn scaling_follows_the_current_releases_process_types() {
    let api = setup().await;
    let app = api.create_app(&api.operator, "scaly").await;
    let patch = |updates: Value| api.send(Method::PATCH, "/apps/scaly/formation", Some(&api.operator), Some(json!({"updates": updates})), &[]);
    let reply = patch(json!([{"type": "web", "quantity": "2"}])).await;
    assert_eq!(
        error(&reply),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "No such process type web: this app has no process types yet; push code first.")
    );
    // What the builder will do after a build: record a release with a slug and its process types.
    let app_id = app["id"].as_str().unwrap().parse().unwrap();
    let owner = api.state.ledger.find_operator().await.unwrap().unwrap().id;
    let process_types = [("web".to_string(), "./server".to_string()), ("worker".to_string(), "./work".to_string())].into();
    let release = NewRelease { slug_id: uuid::Uuid::new_v4(), process_types, description: "Deploy 2b93a215".into() };
    api.state.ledger.create_release(app_id, owner, release).await.unwrap();

    let formation = api.get("/apps/scaly/formation", &api.operator).await.body;
    assert_eq!(formation.as_array().unwrap().len(), 2);
    assert_eq!((formation[0]["type"].clone(), formation[0]["quantity"].clone(), formation[0]["size"].clone()), (json!("web"), json!(1), json!("Basic")));
    assert_eq!(formation[0]["command"], "./server");
    let reply = patch(json!([{"type": "web", "quantity": "2", "size": "standard-1x"}])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!((reply.body[0]["quantity"].clone(), reply.body[0]["size"].clone()), (json!(2), json!("Standard-1X")));
    assert_eq!(patch(json!([{"type": "web", "quantity": "+1"}, {"type": "worker", "quantity": 2}])).await.body[0]["quantity"], 3);
    assert_eq!(patch(json!([{"type": "worker", "quantity": "-1"}])).await.body[0]["quantity"], 1);
    let reply = patch(json!([{"type": "clock", "quantity": 1}])).await;
    assert_eq!(reply.body["message"], "No such process type clock defined in Procfile. Types: web, worker");
    let reply = patch(json!([{"type": "web", "quantity": -1}])).await;
    assert_eq!(error(&reply), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "Invalid quantity -1: it cannot be negative."));
    let reply = patch(json!([{"type": "worker", "quantity": "-5"}])).await;
    assert_eq!(reply.body["message"], "Quantity of worker would be -4: it cannot be negative.");
    let reply = patch(json!([{"type": "web", "size": "gigantic"}])).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let single = api.send(Method::PATCH, "/apps/scaly/formation/web", Some(&api.operator), Some(json!({"quantity": 0})), &[]).await;
    assert_eq!(single.body["quantity"], 0);
    let formation = api.get("/apps/scaly/formation", &api.operator).await.body;
    let quantities: Vec<i64> = formation.as_array().unwrap().iter().map(|f| f["quantity"].as_i64().unwrap()).collect();
    assert_eq!(quantities, [0, 1], "failed updates wrote nothing");

    // No dyno runs before the supervisor exists; restarts are accepted and recorded.
    assert_eq!(api.get("/apps/scaly/dynos", &api.operator).await.body, json!([]));
    assert_eq!(api.get("/apps/scaly/dynos/web.1", &api.operator).await.status, StatusCode::NOT_FOUND);
    let run = api.send(Method::POST, "/apps/scaly/dynos", Some(&api.operator), Some(json!({"command": "ls", "attach": true})), &[]).await;
    assert_eq!(error(&run), (StatusCode::NOT_IMPLEMENTED, "not_implemented", "This paas server runs no dynos, so it cannot run one-off dynos."));
    for (method, path) in [(Method::DELETE, "/apps/scaly/dynos"), (Method::DELETE, "/apps/scaly/dynos/web.1"), (Method::DELETE, "/apps/scaly/formations/web"), (Method::POST, "/apps/scaly/dynos/web.1/actions/stop")] {
        assert_eq!(api.send(method, path, Some(&api.operator), None, &[]).await.status, StatusCode::ACCEPTED, "{path}");
    }
}

#[tokio::test]
async fn users_see_only_their_own_and_collaborated_apps() {
    let api = setup().await;
    let (alice, bob) = (api.user("alice@example.com").await, api.user("bob@example.com").await);
    api.create_app(&alice, "alices").await;
    api.create_app(&bob, "bobs").await;
    let names = |reply: Reply| reply.body.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(names(api.get("/users/~/apps", &alice).await), ["alices"]);
    assert_eq!(names(api.get("/apps", &bob).await), ["bobs"]);
    assert_eq!(names(api.get("/apps", &api.operator).await), ["alices", "bobs"]);
    let hidden = (StatusCode::NOT_FOUND, "not_found", "Couldn't find that app.");
    for path in [
        "/apps/alices",
        "/apps/alices/config-vars",
        "/apps/alices/releases",
        "/apps/alices/releases/1",
        "/apps/alices/formation",
        "/apps/alices/dynos",
        "/apps/alices/addons",
        "/apps/alices/sni-endpoints",
    ] {
        assert_eq!(error(&api.get(path, &bob).await), hidden, "{path}");
    }
    let restart = api.send(Method::DELETE, "/apps/alices/dynos", Some(&bob), None, &[]).await;
    assert_eq!(error(&restart), hidden);
    let reply = api.send(Method::PATCH, "/apps/alices/config-vars", Some(&bob), Some(json!({"X": "1"})), &[]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(api.release_count("alices").await, 1);

    let added = api.send(Method::POST, "/apps/alices/collaborators", Some(&alice), Some(json!({"user": "bob@example.com"})), &[]).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(names(api.get("/users/~/apps", &bob).await), ["alices", "bobs"]);
    let collaborators = api.get("/apps/alices/collaborators", &bob).await.body;
    let roles: Vec<(String, String)> = collaborators
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["user"]["email"].as_str().unwrap().into(), c["role"].as_str().unwrap().into()))
        .collect();
    assert_eq!(roles, [("alice@example.com".into(), "owner".into()), ("bob@example.com".into(), "collaborator".into())]);
    let reply = api.send(Method::PATCH, "/apps/alices/config-vars", Some(&bob), Some(json!({"X": "1"})), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    for path in ["/apps/alices/addons", "/apps/alices/sni-endpoints"] {
        let reply = api.get(path, &bob).await;
        assert_eq!((reply.status, reply.body), (StatusCode::OK, json!([])), "{path}");
    }
    let reply = api.send(Method::DELETE, "/apps/alices", Some(&bob), None, &[]).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = api.send(Method::DELETE, "/apps/alices/collaborators/bob@example.com", Some(&alice), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(api.get("/apps/alices", &bob).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_writes_nothing() {
    let api = setup().await;
    api.create_app(&api.operator, "strict").await;
    let huge = format!("{{\"FOO\": \"{}\"}}", "x".repeat(10 * 1024 * 1024));
    let request = Request::builder()
        .method(Method::PATCH)
        .uri("/apps/strict/config-vars")
        .header("authorization", format!("Bearer {}", api.operator))
        .header("content-type", "application/json")
        .body(Body::from(huge))
        .unwrap();
    let reply = api.raw(request).await;
    assert_eq!(error(&reply), (StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", "Request body too large: the limit is 1048576 bytes."));
    let reply = api.send(Method::PATCH, "/apps/strict/config-vars", Some(&api.operator), Some(json!({"A=B": "1"})), &[]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body["message"].as_str().unwrap().contains("A=B"));
    let request = Request::builder()
        .method(Method::PATCH)
        .uri("/apps/strict/config-vars")
        .header("authorization", format!("Bearer {}", api.operator))
        .body(Body::from("{not json"))
        .unwrap();
    assert_eq!(api.raw(request).await.body["id"], "bad_request");
    let reply = api.send(Method::PATCH, "/apps/strict/config-vars", Some(&api.operator), Some(json!({"A": {"nested": 1}})), &[]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.release_count("strict").await, 1, "nothing was written");
    assert_eq!(api.get("/apps/strict/config-vars", &api.operator).await.body, json!({}));

    for range in ["bogus ..", "version ..; max=0", "version ]x..", "version ..; order=sideways"] {
        let reply = api.send(Method::GET, "/apps/strict/releases", Some(&api.operator), None, &[("range", range)]).await;
        assert_eq!((reply.status, reply.body["id"].as_str()), (StatusCode::RANGE_NOT_SATISFIABLE, Some("requested_range_not_satisfiable")), "{range}");
    }
    let reply = api.send(Method::GET, "/apps/strict/releases", Some(&api.operator), None, &[("range", "bogus ..")]).await;
    assert_eq!(reply.body["message"], "Cannot range by \"bogus\". Accepted fields: version, id, created_at.");
    let reply = api.send(Method::GET, "/apps", Some(&api.operator), None, &[("accept", "application/vnd.heroku+json; version=2")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = api.send(Method::GET, "/apps", Some(&api.operator), None, &[("accept", "application/vnd.heroku+json; version=3.sdk")]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(api.get("/no/such/route", &api.operator).await.body["id"], "not_found");
}

#[tokio::test]
async fn lists_page_with_range_and_next_range_until_the_end() {
    let api = setup().await;
    for name in ["alpha", "beta", "delta", "epsilon", "gamma"] {
        api.create_app(&api.operator, name).await;
    }
    let mut range = Some("name ..; max=2".to_string());
    let (mut names, mut statuses) = (Vec::new(), Vec::new());
    while let Some(current) = range {
        let reply = api.send(Method::GET, "/users/~/apps", Some(&api.operator), None, &[("range", &current)]).await;
        statuses.push(reply.status.as_u16());
        names.extend(reply.body.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_string()));
        range = reply.headers.get("next-range").map(|v| v.to_str().unwrap().to_string());
    }
    assert_eq!(names, ["alpha", "beta", "delta", "epsilon", "gamma"]);
    assert_eq!(statuses, [206, 206, 200]);
    // The domains paginator of the heroku CLI sends a trailing `;`.
    let domains = api.send(Method::GET, "/apps/alpha/domains", Some(&api.operator), None, &[("range", "id ..; max=1000;")]).await;
    assert_eq!(domains.status, StatusCode::OK);
    assert_eq!((domains.body[0]["hostname"].clone(), domains.body[0]["kind"].clone()), (json!("alpha.localhost"), json!("heroku")));
    let added = api.send(Method::POST, "/apps/alpha/domains", Some(&api.operator), Some(json!({"hostname": "www.example.com"})), &[]).await;
    assert_eq!((added.status, added.body["cname"].clone()), (StatusCode::CREATED, json!("alpha.localhost")));
    let bad = api.send(Method::POST, "/apps/alpha/domains", Some(&api.operator), Some(json!({"hostname": "not a host"})), &[]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.get("/apps/alpha/domains", &api.operator).await.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn buildpack_installations_have_herokus_shape_and_one_buildpack_at_most() {
    let api = setup().await;
    let alice = api.user("alice@example.com").await;
    api.create_app(&alice, "bpapp").await;
    assert_eq!(api.get("/apps/bpapp/buildpack-installations", &alice).await.body, json!([]));
    let url = "https://github.com/heroku/heroku-buildpack-ruby";
    let reply = api
        .send(Method::PUT, "/apps/bpapp/buildpack-installations", Some(&alice), Some(json!({"updates": [{"buildpack": url}]})), &[])
        .await;
    let expected = json!([{"ordinal": 0, "buildpack": {"url": url, "name": url}}]);
    assert_eq!((reply.status, &reply.body), (StatusCode::OK, &expected));
    assert_eq!(api.get("/apps/bpapp/buildpack-installations", &alice).await.body, expected);
    // Setting the buildpack makes no release.
    assert_eq!(api.release_count("bpapp").await, 1);
    let two = json!({"updates": [{"buildpack": url}, {"buildpack": "rust"}]});
    let reply = api.send(Method::PUT, "/apps/bpapp/buildpack-installations", Some(&alice), Some(two), &[]).await;
    assert_eq!(
        error(&reply),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "paas runs one buildpack per app: give one buildpack, or none.")
    );
    let reply = api.send(Method::PUT, "/apps/bpapp/buildpack-installations", Some(&alice), Some(json!({"updates": []})), &[]).await;
    assert_eq!((reply.status, reply.body), (StatusCode::OK, json!([])));
    // Someone without access sees no such app; without a builder, builds are not implemented.
    let bob = api.user("bob@example.com").await;
    assert_eq!(api.get("/apps/bpapp/buildpack-installations", &bob).await.status, StatusCode::NOT_FOUND);
    let reply = api.send(Method::DELETE, "/apps/bpapp/build-cache", Some(&alice), None, &[]).await;
    assert_eq!(error(&reply).0, StatusCode::NOT_IMPLEMENTED);
}

#[tokio::test]
async fn app_features_are_listed_shown_and_toggled() {
    let api = setup().await;
    let key = api.user("featured@example.com").await;
    api.create_app(&key, "featured").await;
    let list = api.get("/apps/featured/features", &key).await;
    assert_eq!(list.status, StatusCode::OK);
    let names: Vec<&str> = list.body.as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["preboot", "sleep"]);
    assert!(list.body.as_array().unwrap().iter().all(|f| f["enabled"] == false));
    let fields: Vec<&String> = list.body[1].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "created_at", "description", "display_name", "doc_url", "enabled", "feedback_email", "id", "name", "state",
            "updated_at"
        ]
    );

    let body = Some(json!({"enabled": true}));
    let enabled = api.send(Method::PATCH, "/apps/featured/features/sleep", Some(&key), body, &[]).await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    assert_eq!((&enabled.body["name"], &enabled.body["enabled"], &enabled.body["state"]), (&json!("sleep"), &json!(true), &json!("general")));
    let shown = api.get("/apps/featured/features/sleep", &key).await;
    assert_eq!(shown.body, enabled.body);
    assert_eq!(api.get("/apps/featured/features", &key).await.body[1], enabled.body);
    // The id is the feature's, the same for every app.
    api.create_app(&key, "plain").await;
    let plain = api.get("/apps/plain/features/sleep", &key).await;
    assert_eq!((&plain.body["id"], &plain.body["enabled"]), (&enabled.body["id"], &json!(false)));

    let body = Some(json!({"enabled": false}));
    let disabled = api.send(Method::PATCH, "/apps/featured/features/sleep", Some(&key), body, &[]).await;
    assert_eq!(disabled.body["enabled"], false);
    assert_eq!(api.get("/apps/featured/features/sleep", &key).await.body["enabled"], false);

    let unknown = api.get("/apps/featured/features/turbo", &key).await;
    assert_eq!(
        error(&unknown),
        (StatusCode::NOT_FOUND, "not_found", "Couldn't find that feature: turbo. Known features: preboot, sleep.")
    );
    let body = Some(json!({"enabled": true}));
    let unknown = api.send(Method::PATCH, "/apps/featured/features/turbo", Some(&key), body, &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad = api.send(Method::PATCH, "/apps/featured/features/sleep", Some(&key), Some(json!({"enabled": "yes"})), &[]).await;
    assert_eq!(bad.status.as_u16() / 100, 4, "{}", bad.body);
    // Another user's app is not theirs to see.
    let stranger = api.user("stranger@example.com").await;
    assert_eq!(api.get("/apps/featured/features", &stranger).await.status.as_u16() / 100, 4);
}

#[tokio::test]
async fn a_slug_is_released_to_its_app_and_to_other_apps_the_caller_can_see() {
    let api = setup().await;
    let alice = api.user("alice@example.com").await;
    let bob = api.user("bob@example.com").await;
    let built = api.create_app(&alice, "built").await;
    api.create_app(&alice, "copy").await;
    api.create_app(&bob, "bobs").await;
    let built_id = built["id"].as_str().unwrap().parse().unwrap();
    let process_types: paas_platform::model::ProcessTypes = [("web".to_string(), "hello.wasm".to_string())].into();
    let new_slug = paas_platform::model::NewSlug {
        checksum: "cd".repeat(32),
        size: 1234,
        stack: "wasi-p2".into(),
        commit: Some("2b93a215cafe".into()),
        buildpack: Some("wasm".into()),
        process_types: process_types.clone(),
    };
    let slug = api.state.ledger.create_slug(built_id, new_slug).await.unwrap();
    let api = &api;
    let post = |app: &'static str, key: &str, body: Value| {
        let path = format!("/apps/{app}/releases");
        let key = key.to_string();
        async move { api.send(Method::POST, &path, Some(&key), Some(body), &[]).await }
    };

    let own = post("built", &alice, json!({"slug": slug.id})).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    assert_eq!((own.body["version"].clone(), own.body["description"].clone()), (json!(2), json!("Deploy 2b93a215")));
    assert_eq!(own.body["slug"]["id"], json!(slug.id));

    let copied = post("copy", &alice, json!({"slug": slug.id, "description": "Promote from built"})).await;
    assert_eq!(copied.status, StatusCode::CREATED, "{}", copied.body);
    assert_eq!(copied.body["description"], "Promote from built");
    let copy_slug = copied.body["slug"]["id"].as_str().unwrap().to_string();
    assert_ne!(copy_slug, slug.id.to_string(), "the app gets its own record of the slug");
    let shown = api.get(&format!("/apps/copy/slugs/{copy_slug}"), &alice).await;
    assert_eq!(shown.body["checksum"], json!(format!("SHA256:{}", "cd".repeat(32))), "{}", shown.body);
    let formation = api.get("/apps/copy/formation", &alice).await.body;
    assert_eq!((formation[0]["type"].clone(), formation[0]["quantity"].clone()), (json!("web"), json!(1)));

    // Bob cannot release alice's slug into his app: to him it does not exist.
    let refused = post("bobs", &bob, json!({"slug": slug.id})).await;
    assert_eq!(error(&refused), (StatusCode::NOT_FOUND, "not_found", "Couldn't find that slug."));
    let unknown = post("built", &alice, json!({"slug": uuid::Uuid::new_v4()})).await;
    assert_eq!(error(&unknown), (StatusCode::NOT_FOUND, "not_found", "Couldn't find that slug."));
    let both = post("built", &alice, json!({"slug": slug.id, "release": "1"})).await;
    assert_eq!(
        error(&both),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "Give either {\"release\": <id or version>} to roll back or {\"slug\": <id>} to release a slug.")
    );
    assert_eq!(api.release_count("bobs").await, 1, "refused requests wrote nothing (v1 is the initial release)");
}

#[tokio::test]
async fn a_buildpack_on_the_servers_filesystem_is_the_operators_choice() {
    let api = setup().await;
    let alice = api.user("alice@example.com").await;
    api.create_app(&alice, "hostbp").await;
    for url in ["/var/lib/paas", "file:///var/lib/paas/repos/other.git#main", "../x"] {
        let body = json!({"updates": [{"buildpack": url}]});
        let reply = api.send(Method::PUT, "/apps/hostbp/buildpack-installations", Some(&alice), Some(body), &[]).await;
        let (status, id, message) = error(&reply);
        assert_eq!((status, id), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params"), "{url}");
        assert!(message.contains("only an operator may choose"), "{message}");
        let reply = api.send(Method::PATCH, "/apps/hostbp/config-vars", Some(&alice), Some(json!({"BUILDPACK_URL": url})), &[]).await;
        assert_eq!(error(&reply).0, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
    }
    assert_eq!(api.get("/apps/hostbp/buildpack-installations", &alice).await.body, json!([]));
    // Built-in names and git URLs are for anyone; the operator may name a folder.
    for (who, url) in [(&alice, "rust"), (&alice, "https://example.com/bp.git#v1"), (&api.operator, "/srv/buildpacks/x")] {
        let body = json!({"updates": [{"buildpack": url}]});
        let reply = api.send(Method::PUT, "/apps/hostbp/buildpack-installations", Some(who), Some(body), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {:?}", reply.body);
    }
    let reply = api.send(Method::PATCH, "/apps/hostbp/config-vars", Some(&api.operator), Some(json!({"BUILDPACK_URL": "/srv/bp"})), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn the_routes_heroku_cli_11_reads_for_releases_ps_labs_regions_stacks_and_sessions() {
    let api = setup().await;
    let op = api.operator.clone();
    let app = api.create_app(&op, "breadth").await;
    let set = api.send(Method::PATCH, "/apps/breadth/config-vars", Some(&op), Some(json!({"FOO": "bar"})), &[]).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    api.send(Method::PATCH, "/apps/breadth/config-vars", Some(&op), Some(json!({"FOO": "baz"})), &[]).await;

    // `heroku releases:info`: each release's own config vars.
    assert_eq!(api.get("/apps/breadth/releases/1/config-vars", &op).await.body, json!({}));
    assert_eq!(api.get("/apps/breadth/releases/2/config-vars", &op).await.body, json!({"FOO": "bar"}));
    assert_eq!(api.get("/apps/breadth/releases/3/config-vars", &op).await.body, json!({"FOO": "baz"}));
    let missing = api.get("/apps/breadth/releases/9/config-vars", &op).await;
    assert_eq!(error(&missing), (StatusCode::NOT_FOUND, "not_found", "Couldn't find that release."));
    let stranger = api.user("stranger@example.com").await;
    assert_eq!(api.get("/apps/breadth/releases/2/config-vars", &stranger).await.status, StatusCode::NOT_FOUND);

    // `heroku ps:stop -p web`.
    let stop = api.send(Method::POST, "/apps/breadth/formations/web/actions/stop", Some(&op), None, &[]).await;
    assert_eq!((stop.status, stop.body), (StatusCode::ACCEPTED, json!({})));

    // `heroku labs`, `heroku regions`, `heroku apps:stacks`, `heroku sessions`.
    assert_eq!(api.get("/account/features", &op).await.body, json!([]));
    assert_eq!(api.get("/oauth/sessions", &op).await.body, json!([]));
    let regions = api.get("/regions", &op).await.body;
    assert_eq!((regions[0]["name"].clone(), regions[0]["private_capable"].clone()), (json!("us"), json!(false)));
    assert_eq!(regions[0]["id"], app["region"]["id"]);
    let stacks = api.get("/stacks", &op).await.body;
    assert_eq!(stacks.as_array().unwrap().len(), 1);
    assert_eq!((stacks[0]["name"].clone(), stacks[0]["state"].clone(), stacks[0]["default"].clone()), (json!("paas-wasm"), json!("public"), json!(true)));
    assert_eq!(stacks[0]["id"], app["stack"]["id"]);
    let sizes = api.get("/dyno-sizes", &op).await.body;
    let sizes: Vec<(Value, Value)> = sizes.as_array().unwrap().iter().map(|s| (s["name"].clone(), s["memory"].clone())).collect();
    assert_eq!(sizes[..3], [(json!("Eco"), json!(0.125)), (json!("Basic"), json!(0.125)), (json!("Standard-1X"), json!(0.5))]);
    assert_eq!(sizes.last(), Some(&(json!("Performance-L"), json!(2.0))));
    for path in ["/regions", "/stacks", "/dyno-sizes", "/account/features", "/oauth/sessions"] {
        assert_eq!(api.send(Method::GET, path, None, None, &[]).await.status, StatusCode::UNAUTHORIZED, "{path}");
    }

    // `apps:create --stack heroku-24` is mapped to this server's stack; an unknown one is a 422.
    let created = api.send(Method::POST, "/apps", Some(&op), Some(json!({"name": "modern", "stack": "heroku-24"})), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["stack"]["name"], "paas-wasm");
    let old = api.send(Method::POST, "/apps", Some(&op), Some(json!({"name": "ancient", "stack": "cedar-14"})), &[]).await;
    assert_eq!(
        error(&old),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "Stack \"cedar-14\" is unknown. Stacks: paas-wasm (also accepted as heroku-24).")
    );

    // A release phase shows in the formation as Heroku lists it (`heroku releases:retry` needs it).
    let app_id = app["id"].as_str().unwrap().parse().unwrap();
    let owner = api.state.ledger.find_operator().await.unwrap().unwrap().id;
    let process_types: paas_platform::model::ProcessTypes =
        [("web".to_string(), "./server".to_string()), ("release".to_string(), "./migrate".to_string())].into();
    let new_slug = paas_platform::model::NewSlug {
        checksum: "cd".repeat(32),
        size: 1234,
        stack: "wasi-p2".into(),
        commit: Some("2b93a215cafe".into()),
        buildpack: None,
        process_types: process_types.clone(),
    };
    let slug = api.state.ledger.create_slug(app_id, new_slug).await.unwrap();
    let release = NewRelease { slug_id: slug.id, process_types, description: "Deploy 2b93a215".into() };
    api.state.ledger.create_release(app_id, owner, release).await.unwrap();
    let formation = api.get("/apps/breadth/formation", &op).await.body;
    let entries: Vec<(Value, Value, Value)> =
        formation.as_array().unwrap().iter().map(|f| (f["type"].clone(), f["quantity"].clone(), f["command"].clone())).collect();
    assert_eq!(entries, [(json!("release"), json!(0), json!("./migrate")), (json!("web"), json!(1), json!("./server"))]);

    // `heroku releases:retry` posts the latest release's slug again; its release phase's output
    // is at the new release's output_stream_url, which needs no API key (`releases:output`).
    // Without dynos here the phase cannot start, so the retry is recorded as failed.
    let latest = api.get("/apps/breadth/releases/4", &op).await.body;
    assert_eq!(latest["output_stream_url"], Value::Null, "no phase ran through the API for v4");
    let body = json!({"description": "Retry of v4: Deploy 2b93a215", "slug": latest["slug"]["id"]});
    let retry = api.send(Method::POST, "/apps/breadth/releases", Some(&op), Some(body), &[]).await;
    assert_eq!(retry.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", retry.body);
    let retried = api.get("/apps/breadth/releases/5", &op).await.body;
    assert_eq!(retried["status"], "failed");
    let url = retried["output_stream_url"].as_str().unwrap_or_else(|| panic!("{retried}"));
    let path = url.strip_prefix("http://127.0.0.1:5000").unwrap();
    let output = api.send(Method::GET, path, None, None, &[]).await;
    assert_eq!(output.status, StatusCode::OK);
    assert!(output.body.as_str().unwrap().starts_with("-----> Running release command `./migrate`..."), "{}", output.body);
    let forged = format!("{}0", path.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    assert_eq!(api.send(Method::GET, &forged, None, None, &[]).await.status, StatusCode::NOT_FOUND);
}
