//! Pipelines, promotions and app webhooks in-process: the ledger tables on SQLite and
//! PostgreSQL, the routes over a real SQLite ledger, and webhook deliveries to a receiver on
//! loopback (reachable because the test's egress policy allows it, as `--egress-allow
//! 127.0.0.0/8` would).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use base64::Engine;
use paas_platform::Ledger;
use paas_platform::access::TeamRole;
use paas_platform::api::limits::ApiLimits;
use paas_platform::logplex::drains::DrainPolicy;
use paas_platform::model::NewSlug;
use paas_platform::pipelines::{PipelineOwner, Promotion, PromotionTarget, Stage};
use paas_platform::serving::{Change, Changes, notify_changes};
use paas_platform::webhooks::WebhookSettings;
use paas_sandbox::egress::{EgressPolicy, parse_allow};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::{Api, error, setup_with};

async fn pipelines_and_webhooks_are_kept(ledger: &dyn Ledger) {
    let (alice, _) = ledger.create_user("alice@example.com", None, false).await.unwrap();
    let staging = ledger.create_app("shop-staging", alice.id).await.unwrap();
    let prod = ledger.create_app("shop-prod", alice.id).await.unwrap();
    let pipeline = ledger.create_pipeline("shop", PipelineOwner::User(alice.id)).await.unwrap();
    assert!(matches!(ledger.create_pipeline("shop", PipelineOwner::User(alice.id)).await, Err(paas_platform::LedgerError::Conflict(_))));
    assert_eq!(ledger.find_pipeline("shop").await.unwrap(), Some(pipeline.clone()));
    let coupled = ledger.create_coupling(pipeline.id, staging.id, Stage::Staging).await.unwrap();
    ledger.create_coupling(pipeline.id, prod.id, Stage::Production).await.unwrap();
    let twice = ledger.create_coupling(pipeline.id, staging.id, Stage::Development).await;
    assert!(matches!(twice, Err(paas_platform::LedgerError::Conflict(_))), "{twice:?}");
    assert_eq!(ledger.app_coupling(staging.id).await.unwrap(), Some(coupled.clone()));
    let moved = ledger.update_coupling(coupled.id, Stage::Development).await.unwrap();
    assert_eq!(moved.stage, Stage::Development);
    let stages: Vec<Stage> = ledger.list_couplings(pipeline.id).await.unwrap().iter().map(|c| c.stage).collect();
    assert_eq!(stages, [Stage::Development, Stage::Production]);
    // A destroyed app's coupling is gone from the pipeline.
    ledger.destroy_app(prod.id).await.unwrap();
    assert_eq!(ledger.list_couplings(pipeline.id).await.unwrap().len(), 1);

    let now = chrono::Utc::now();
    let promotion = Promotion {
        id: Uuid::new_v4(),
        pipeline_id: pipeline.id,
        source_app_id: staging.id,
        source_release_id: Uuid::new_v4(),
        status: "completed".into(),
        targets: vec![PromotionTarget { id: Uuid::new_v4(), app_id: prod.id, release_id: None, status: "failed".into(), error_message: Some("no".into()) }],
        created_at: now,
        updated_at: now,
    };
    ledger.record_promotion(&promotion).await.unwrap();
    let read = ledger.find_promotion(promotion.id).await.unwrap().unwrap();
    assert_eq!((read.targets, read.status), (promotion.targets, promotion.status));

    let settings = |url: &str| WebhookSettings {
        url: Some(url.into()),
        secret: Some("s".into()),
        include: Some(vec!["api:release".into()]),
        level: Some("sync".into()),
        authorization: None,
    };
    let hook = ledger.add_webhook(staging.id, settings("https://example.com/a")).await.unwrap();
    assert!(matches!(ledger.add_webhook(staging.id, settings("https://example.com/a")).await, Err(paas_platform::LedgerError::Conflict(_))));
    let change = WebhookSettings { include: Some(vec!["dyno".into(), "api:build".into()]), ..Default::default() };
    let changed = ledger.update_webhook(staging.id, hook.id, change).await.unwrap();
    assert_eq!((changed.include, changed.url, changed.secret), (vec!["dyno".to_string(), "api:build".to_string()], hook.url, hook.secret));
    for n in 1..10 {
        ledger.add_webhook(staging.id, settings(&format!("https://example.com/{n}"))).await.unwrap();
    }
    let eleventh = ledger.add_webhook(staging.id, settings("https://example.com/11")).await;
    assert!(matches!(eleventh, Err(paas_platform::LedgerError::Conflict(_))), "{eleventh:?}");
    ledger.remove_webhook(staging.id, hook.id).await.unwrap();
    assert_eq!(ledger.list_webhooks(staging.id).await.unwrap().len(), 9);
    ledger.destroy_pipeline(pipeline.id).await.unwrap();
    assert_eq!(ledger.app_coupling(staging.id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_couplings_promotions_and_webhooks_are_kept_on_sqlite_and_postgres() {
    pipelines_and_webhooks_are_kept(crate::backends::sqlite().await.ledger.as_ref()).await;
    if let Some(postgres) = crate::backends::postgres().await {
        pipelines_and_webhooks_are_kept(postgres.ledger.as_ref()).await;
    }
}

/// `GET /pipelines` read every pipeline on the server, then checked each against the caller;
/// and an account could create pipelines without end (review 4, finding 2).
async fn pipelines_are_listed_per_viewer_in_sql_and_capped_per_owner(ledger: &dyn Ledger) {
    let (alice, _) = ledger.create_user("alice@example.com", None, false).await.unwrap();
    let (bob, _) = ledger.create_user("bob@example.com", None, false).await.unwrap();
    let (carol, _) = ledger.create_user("carol@example.com", None, false).await.unwrap();
    let team = ledger.create_team("acme", alice.id).await.unwrap();
    ledger.set_team_member(team.id, bob.id, TeamRole::Viewer, true).await.unwrap();
    ledger.create_pipeline("alices", PipelineOwner::User(alice.id)).await.unwrap();
    ledger.create_pipeline("bobs", PipelineOwner::User(bob.id)).await.unwrap();
    ledger.create_pipeline("acmes", PipelineOwner::Team(team.id)).await.unwrap();
    let names = |pipelines: Vec<paas_platform::pipelines::Pipeline>| pipelines.into_iter().map(|p| p.name).collect::<Vec<_>>();
    assert_eq!(names(ledger.list_pipelines(Some(alice.id), None).await.unwrap()), ["acmes", "alices"]);
    assert_eq!(names(ledger.list_pipelines(Some(bob.id), None).await.unwrap()), ["acmes", "bobs"]);
    assert!(ledger.list_pipelines(Some(carol.id), None).await.unwrap().is_empty());
    assert_eq!(names(ledger.list_pipelines(None, None).await.unwrap()), ["acmes", "alices", "bobs"]);
    assert_eq!(names(ledger.list_pipelines(Some(bob.id), Some("acmes")).await.unwrap()), ["acmes"]);
    assert!(ledger.list_pipelines(Some(bob.id), Some("alices")).await.unwrap().is_empty());
    assert_eq!(names(ledger.list_pipelines(None, Some("alices")).await.unwrap()), ["alices"]);

    for n in 0..paas_platform::pipelines::MAX_PER_OWNER {
        ledger.create_pipeline(&format!("carol-{n}"), PipelineOwner::User(carol.id)).await.unwrap();
    }
    let over = ledger.create_pipeline("carol-last", PipelineOwner::User(carol.id)).await.unwrap_err().to_string();
    assert_eq!(over, "This user already has 100 pipelines, the most one may have: destroy one before creating another.");
    assert!(ledger.create_pipeline("carol-last", PipelineOwner::Team(team.id)).await.is_ok(), "a cap per owner");
    let carols = ledger.list_pipelines(Some(carol.id), None).await.unwrap();
    assert_eq!(carols.len(), paas_platform::pipelines::MAX_PER_OWNER);
    ledger.destroy_pipeline(carols[0].id).await.unwrap();
    ledger.create_pipeline("carol-again", PipelineOwner::User(carol.id)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_are_listed_per_viewer_in_sql_and_capped_per_owner_on_sqlite_and_postgres() {
    pipelines_are_listed_per_viewer_in_sql_and_capped_per_owner(crate::backends::sqlite().await.ledger.as_ref()).await;
    if let Some(postgres) = crate::backends::postgres().await {
        pipelines_are_listed_per_viewer_in_sql_and_capped_per_owner(postgres.ledger.as_ref()).await;
    }
}

async fn call(api: &Api, method: Method, path: &str, key: &str, body: Option<Value>) -> (StatusCode, Value) {
    let reply = api.send(method, path, Some(key), body, &[]).await;
    (reply.status, reply.body)
}

/// A slug for `app` recorded in the ledger and released through the API (a deploy).
async fn deploy(api: &Api, key: &str, app: &str) -> Value {
    let id = api.state.ledger.find_app(app).await.unwrap().unwrap().id;
    let slug = NewSlug {
        checksum: "ab".repeat(32),
        size: 1,
        stack: "paas-wasm".into(),
        commit: Some("2b93a215cafe".into()),
        buildpack: None,
        process_types: [("web".to_string(), "web.wasm".to_string())].into(),
    };
    let slug = api.state.ledger.create_slug(id, slug).await.unwrap();
    let (status, release) = call(api, Method::POST, &format!("/apps/{app}/releases"), key, Some(json!({"slug": slug.id}))).await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    release
}

#[tokio::test]
async fn a_pipeline_couples_apps_by_stage_and_promotes_the_source_slug_to_its_targets() {
    let api = setup_with(ApiLimits::default()).await;
    let alice = api.user("alice@example.com").await;
    let bob = api.user("bob@example.com").await;
    for app in ["shop-staging", "shop-prod"] {
        api.create_app(&alice, app).await;
    }
    let alice_id = api.get("/account", &alice).await.body["id"].clone();
    let body = json!({"name": "shop", "owner": {"id": alice_id, "type": "user"}, "generation": {"name": "cedar"}});
    let (status, pipeline) = call(&api, Method::POST, "/pipelines", &alice, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{pipeline}");
    assert_eq!((&pipeline["name"], &pipeline["owner"]["type"]), (&json!("shop"), &json!("user")));
    let taken = api.send(Method::POST, "/pipelines", Some(&alice), Some(body), &[]).await;
    assert_eq!(error(&taken), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", "Name shop is already taken by another pipeline."));
    // Someone else's pipeline is not seen, by name or id.
    assert_eq!(api.get("/pipelines?eq[name]=shop", &alice).await.body.as_array().unwrap().len(), 1);
    assert_eq!(api.get("/pipelines?eq[name]=shop", &bob).await.body, json!([]));
    let id = pipeline["id"].as_str().unwrap();
    assert_eq!(api.get(&format!("/pipelines/{id}"), &bob).await.status, StatusCode::NOT_FOUND);

    let couple = |app: &str, stage: &str| json!({"app": app, "pipeline": id, "stage": stage});
    let bad = api.send(Method::POST, "/pipeline-couplings", Some(&alice), Some(couple("shop-staging", "qa")), &[]).await;
    assert_eq!(error(&bad).2, "Stage \"qa\" is unknown: use development, staging or production.");
    let (status, coupling) = call(&api, Method::POST, "/pipeline-couplings", &alice, Some(couple("shop-staging", "staging"))).await;
    assert_eq!(status, StatusCode::CREATED, "{coupling}");
    let (status, _) = call(&api, Method::POST, "/pipeline-couplings", &alice, Some(couple("shop-prod", "production"))).await;
    assert_eq!(status, StatusCode::CREATED);
    let again = api.send(Method::POST, "/pipeline-couplings", Some(&alice), Some(couple("shop-prod", "staging")), &[]).await;
    assert_eq!(error(&again).2, "This app is already in a pipeline: remove it from that one first.");
    // Bob cannot couple his app into alice's pipeline, nor hers into one of his.
    api.create_app(&bob, "bobs-app").await;
    let (status, _) = call(&api, Method::POST, "/pipeline-couplings", &bob, Some(couple("bobs-app", "staging"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, mine) = call(&api, Method::GET, "/apps/shop-staging/pipeline-couplings", &alice, None).await;
    assert_eq!((&mine["stage"], &mine["pipeline"]["name"], &mine["app"]["name"]), (&json!("staging"), &json!("shop"), &json!("shop-staging")));
    assert_eq!(api.get("/apps/bobs-app/pipeline-couplings", &bob).await.status, StatusCode::NOT_FOUND);
    let (_, couplings) = call(&api, Method::GET, &format!("/pipelines/{id}/pipeline-couplings"), &alice, None).await;
    let ids: Vec<Value> = couplings.as_array().unwrap().iter().map(|c| c["app"]["id"].clone()).collect();
    assert_eq!(ids.len(), 2);
    // pipelines:info reads the apps with POST /filters/apps: only those the caller may see.
    let (_, apps) = call(&api, Method::POST, "/filters/apps", &alice, Some(json!({"in": {"id": ids}}))).await;
    let names: Vec<&str> = apps.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["shop-prod", "shop-staging"]);
    assert_eq!(call(&api, Method::POST, "/filters/apps", &bob, Some(json!({"in": {"id": ids}}))).await.1, json!([]));

    let promote = |source: &Value, target: &Value| {
        json!({"pipeline": {"id": id}, "source": {"app": {"id": source}}, "targets": [{"app": {"id": target}}]})
    };
    let (staging, prod) = (&ids[0], &ids[1]);
    let empty = api.send(Method::POST, "/pipeline-promotions", Some(&alice), Some(promote(staging, prod)), &[]).await;
    assert_eq!(error(&empty).2, "shop-staging has no slug to promote: deploy it first.");
    let deployed = deploy(&api, &alice, "shop-staging").await;
    let (status, _) = call(&api, Method::POST, "/pipeline-promotions", &bob, Some(promote(staging, prod))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "bob sees no such pipeline");
    let (status, promotion) = call(&api, Method::POST, "/pipeline-promotions", &alice, Some(promote(staging, prod))).await;
    assert_eq!(status, StatusCode::CREATED, "{promotion}");
    assert_eq!(promotion["source"]["release"]["id"], deployed["id"]);
    let promotion_id = promotion["id"].as_str().unwrap();
    let (_, targets) = call(&api, Method::GET, &format!("/pipeline-promotions/{promotion_id}/promotion-targets"), &alice, None).await;
    assert_eq!(targets[0]["status"], "succeeded", "{targets}");
    let (_, released) = call(&api, Method::GET, "/apps/shop-prod/releases/2", &alice, None).await;
    assert_eq!((&released["id"], &released["description"]), (&targets[0]["release"]["id"], &json!("Promote shop-staging v2")));
    let prod_slug = released["slug"]["id"].as_str().unwrap();
    let (_, slug) = call(&api, Method::GET, &format!("/apps/shop-prod/slugs/{prod_slug}"), &alice, None).await;
    assert_eq!(slug["checksum"], format!("SHA256:{}", "ab".repeat(32)), "{slug}");
    assert_eq!(api.get(&format!("/pipeline-promotions/{promotion_id}"), &bob).await.status, StatusCode::NOT_FOUND);

    let coupling_id = coupling["id"].as_str().unwrap();
    let (status, moved) = call(&api, Method::PATCH, &format!("/pipeline-couplings/{coupling_id}"), &alice, Some(json!({"stage": "development"}))).await;
    assert_eq!((status, &moved["stage"]), (StatusCode::OK, &json!("development")));
    assert_eq!(call(&api, Method::DELETE, &format!("/pipeline-couplings/{coupling_id}"), &alice, None).await.0, StatusCode::OK);
    assert_eq!(api.get("/apps/shop-staging/pipeline-couplings", &alice).await.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&api, Method::DELETE, &format!("/pipelines/{id}"), &bob, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&api, Method::DELETE, &format!("/pipelines/{id}"), &alice, None).await.0, StatusCode::OK);
    assert_eq!(api.get("/pipelines", &alice).await.body, json!([]));
}

/// hyper drops a handler's future when its client hangs up: a promotion stopped at an `.await`
/// had released some targets and recorded nothing (review 4, finding 3). The request here is
/// dropped as soon as the first target has its release; every target still gets one, and each
/// is reported to the serving side from the promotion's own task (review4b F5: reported by the
/// response, a hang-up lost it; before that promotions reported nothing).
#[tokio::test]
async fn a_promotion_whose_client_hangs_up_mid_way_still_releases_every_target() {
    let api = setup_with(ApiLimits::default()).await;
    let alice = api.user("alice@example.com").await;
    let (status, pipeline) = call(&api, Method::POST, "/pipelines", &alice, Some(json!({"name": "many"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{pipeline}");
    let apps: Vec<String> = (0..=20).map(|n| format!("many-{n}")).collect();
    let mut ids = Vec::new();
    for (n, app) in apps.iter().enumerate() {
        ids.push(api.create_app(&alice, app).await["id"].clone());
        let stage = if n == 0 { "staging" } else { "production" };
        let body = json!({"app": app, "pipeline": pipeline["id"], "stage": stage});
        assert_eq!(call(&api, Method::POST, "/pipeline-couplings", &alice, Some(body)).await.0, StatusCode::CREATED);
    }
    deploy(&api, &alice, "many-0").await;
    let targets: Vec<Value> = ids[1..].iter().map(|id| json!({"app": {"id": id}})).collect();
    let body = json!({"pipeline": {"id": pipeline["id"]}, "source": {"app": {"id": ids[0]}}, "targets": targets});
    let promoted = |app: &str| {
        let (api, app) = (&api, app.to_string());
        async move {
            let id = api.state.ledger.find_app(&app).await.unwrap().unwrap().id;
            api.state.ledger.current_release(id).await.unwrap().is_some_and(|r| r.description == "Promote many-0 v2")
        }
    };
    let first_released = async {
        while !promoted("many-1").await {
            tokio::task::yield_now().await;
        }
    };
    // Under the change feed's layer, as `paas server` serves the API.
    let (changes, mut feed) = Changes::channel();
    let router = paas_platform::api::app(api.state.clone()).layer(axum::middleware::from_fn_with_state(changes, notify_changes));
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/pipeline-promotions")
        .header("accept", "application/vnd.heroku+json; version=3")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    tokio::select! {
        biased;
        () = first_released => {}
        reply = tower::ServiceExt::oneshot(router, request) => {
            panic!("the promotion of 20 targets ended before its first target was seen released: {}", reply.unwrap().status())
        }
    }
    // The request's future is gone, as when hyper drops it; the promotion goes on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for app in &apps[1..] {
        while !promoted(app).await {
            assert!(tokio::time::Instant::now() < deadline, "{app} was never released: the promotion stopped with its client");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut reported = std::collections::BTreeSet::new();
    while reported.len() < apps.len() - 1 {
        let notice = tokio::time::timeout(Duration::from_secs(10), feed.recv()).await;
        let notice = notice.unwrap_or_else(|_| panic!("only {reported:?} were reported after the client hung up")).expect("the feed is open");
        if let Change::App(app) = notice.change {
            reported.insert(app);
        }
    }
    assert_eq!(reported, apps[1..].iter().cloned().collect());
}

/// A receiver on loopback that records each delivery and answers the statuses of `answers` in
/// turn (then 200).
pub(crate) async fn receiver(answers: Vec<u16>) -> (String, Arc<Mutex<Vec<(HeaderMap, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let kept = seen.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (kept, answers) = (kept.clone(), answers.clone());
            async move {
                kept.lock().unwrap().push((headers, body));
                StatusCode::from_u16(answers.lock().unwrap().next().unwrap_or(200)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, seen)
}

/// Waits up to 10 s for `check` to hold.
async fn eventually(mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn webhooks_get_signed_heroku_payloads_retried_with_back_off_and_only_where_drains_may_go() {
    let api = setup_with(ApiLimits::default()).await;
    let allowed = ["127.0.0.0/8"].iter().map(|r| parse_allow(r).unwrap()).collect();
    assert!(api.state.logs.set_drain_policy(DrainPolicy::new(EgressPolicy::new(allowed, Vec::new()))));
    let key = api.user("alice@example.com").await;
    api.create_app(&key, "hooked").await;
    let hook = |url: &str, include: Value, level: &str| json!({"url": url, "include": include, "level": level, "secret": "s3cret"});

    // Refused: a denied address (link-local stays denied), a syslog URL, an unknown kind or level.
    for (body, message) in [
        (
            hook("http://169.254.169.254/latest", json!(["api:release"]), "notify"),
            "Webhook URL http://169.254.169.254/latest is refused: 169.254.169.254 denied (link-local). Webhooks cannot deliver to loopback, link-local, private or this server's own addresses.",
        ),
        (hook("syslog://example.com:514", json!(["api:release"]), "notify"), "Webhook URL syslog://example.com:514 is refused: use http://host/path or https://host/path."),
        (hook("https://example.com/", json!(["api:nope"]), "notify"), "Event kind \"api:nope\" is unknown: use api:addon, api:addon-attachment, api:app, api:build, api:collaborator, api:domain, api:dyno, api:formation, api:release, api:sni-endpoint, dyno."),
        (hook("https://example.com/", json!(["dyno"]), "often"), "Level \"often\" is unknown: use notify or sync."),
    ] {
        let reply = api.send(Method::POST, "/apps/hooked/webhooks", Some(&key), Some(body), &[]).await;
        assert_eq!(error(&reply), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", message));
    }

    // A sync webhook whose receiver fails once: the delivery is retried and succeeds.
    let (url, seen) = receiver(vec![500]).await;
    let reply = api.send(Method::POST, "/apps/hooked/webhooks", Some(&key), Some(hook(&url, json!(["api:release", "dyno"]), "sync")), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.headers["heroku-webhook-secret"], "s3cret");
    assert!(reply.body.get("secret").is_none(), "the secret is never shown back: {}", reply.body);
    assert_eq!((&reply.body["include"], &reply.body["level"]), (&json!(["api:release", "dyno"]), &json!("sync")));
    let webhook_id = reply.body["id"].clone();
    // A notify webhook whose receiver fails: one attempt only. A secret is made when none is given.
    let (quiet_url, quiet_seen) = receiver(vec![503]).await;
    let body = json!({"url": quiet_url, "include": ["api:release"], "level": "notify"});
    let reply = api.send(Method::POST, "/apps/hooked/webhooks", Some(&key), Some(body), &[]).await;
    assert_eq!(reply.headers["heroku-webhook-secret"].len(), 64);

    let (status, _) = call(&api, Method::PATCH, "/apps/hooked/config-vars", &key, Some(json!({"FOO": "bar"}))).await;
    assert_eq!(status, StatusCode::OK);
    eventually(|| seen.lock().unwrap().len() == 2).await;
    let (headers, body) = seen.lock().unwrap()[1].clone();
    let mac = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(b"s3cret", body.as_bytes()));
    assert_eq!(headers["heroku-webhook-hmac-sha256"], mac.as_str());
    assert_eq!(headers["content-type"], "application/json");
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&payload["resource"], &payload["action"]), (&json!("release"), &json!("create")));
    assert_eq!((&payload["data"]["version"], &payload["data"]["description"]), (&json!(2), &json!("Set FOO config vars")));
    assert_eq!((&payload["data"]["app"]["name"], &payload["actor"]["email"]), (&json!("hooked"), &json!("alice@example.com")));
    assert_eq!(payload["version"], "application/vnd.heroku+json; version=3");
    assert_eq!((&payload["webhook_metadata"]["event"]["include"], &payload["webhook_metadata"]["webhook"]["id"]), (&json!("api:release"), &webhook_id));
    let first: Value = serde_json::from_str(&seen.lock().unwrap()[0].1).unwrap();
    assert_eq!(first["id"], payload["id"], "a retry carries the same event");
    assert_ne!(first["webhook_metadata"]["attempt"]["id"], payload["webhook_metadata"]["attempt"]["id"]);

    let deliveries = loop {
        let deliveries = api.get("/apps/hooked/webhook-deliveries", &key).await.body;
        let statuses: Vec<&str> = deliveries.as_array().unwrap().iter().map(|d| d["status"].as_str().unwrap()).collect();
        if !statuses.contains(&"retrying") && !statuses.contains(&"pending") {
            break deliveries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let of = |hook: &Value| deliveries.as_array().unwrap().iter().find(|d| d["webhook"]["id"] == *hook).unwrap().clone();
    let delivered = of(&webhook_id);
    assert_eq!((&delivered["status"], &delivered["num_attempts"], &delivered["last_attempt"]["code"]), (&json!("succeeded"), &json!(2), &json!(200)));
    let failed = deliveries.as_array().unwrap().iter().find(|d| d["webhook"]["id"] != webhook_id).unwrap();
    assert_eq!((&failed["status"], &failed["num_attempts"], &failed["last_attempt"]["code"]), (&json!("failed"), &json!(1), &json!(503)));
    assert_eq!(quiet_seen.lock().unwrap().len(), 1);
    let events = api.get("/apps/hooked/webhook-events", &key).await.body;
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!((&events[0]["id"], &events[0]["include"]), (&payload["id"], &json!("api:release")));
    let event_id = events[0]["id"].as_str().unwrap();
    assert_eq!(api.get(&format!("/apps/hooked/webhook-events/{event_id}"), &key).await.body["payload"]["data"]["version"], 2);

    // Another user sees none of it; the webhook is listed, changed and removed by its app's owner.
    let bob = api.user("bob@example.com").await;
    assert_eq!(api.get("/apps/hooked/webhook-deliveries", &bob).await.status, StatusCode::NOT_FOUND);
    let path = format!("/apps/hooked/webhooks/{}", webhook_id.as_str().unwrap());
    let (status, changed) = call(&api, Method::PATCH, &path, &key, Some(json!({"include": ["api:formation"]}))).await;
    assert_eq!((status, &changed["include"]), (StatusCode::OK, &json!(["api:formation"])));
    assert_eq!(call(&api, Method::DELETE, &path, &key, None).await.0, StatusCode::OK);
    assert_eq!(api.get("/apps/hooked/webhooks", &key).await.body.as_array().unwrap().len(), 1);
}

/// HMAC-SHA256 (RFC 2104), written out here so the test does not use the code it checks.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = sha2::Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    sha2::Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
}

/// A view-only collaborator read the webhooks' URLs (and the credentials they often carry) with
/// GET /apps/{app}/webhooks (review 4, finding 4); deliveries stay theirs to read, without URLs.
#[tokio::test]
async fn a_view_only_collaborator_cannot_read_webhook_urls() {
    let api = setup_with(ApiLimits::default()).await;
    let allowed = ["127.0.0.0/8"].iter().map(|r| parse_allow(r).unwrap()).collect();
    assert!(api.state.logs.set_drain_policy(DrainPolicy::new(EgressPolicy::new(allowed, Vec::new()))));
    let owner = api.user("alice@example.com").await;
    let viewer = api.user("vic@example.com").await;
    api.create_app(&owner, "hooked").await;
    let body = json!({"user": "vic@example.com", "permissions": ["view"]});
    assert_eq!(call(&api, Method::POST, "/apps/hooked/collaborators", &owner, Some(body)).await.0, StatusCode::CREATED);
    let (url, _) = receiver(vec![]).await;
    let secret_url = format!("{url}?token=t0kenInTheQuery");
    let body = json!({"url": secret_url, "include": ["api:release"], "level": "notify"});
    let (status, hook) = call(&api, Method::POST, "/apps/hooked/webhooks", &owner, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let one = format!("/apps/hooked/webhooks/{}", hook["id"].as_str().unwrap());
    for path in ["/apps/hooked/webhooks", one.as_str()] {
        let reply = api.get(path, &viewer).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}: {}", reply.body);
        assert!(!reply.body.to_string().contains("t0ken"), "{}", reply.body);
        assert_eq!(api.get(path, &owner).await.status, StatusCode::OK);
    }
    let deliveries = api.get("/apps/hooked/webhook-deliveries", &viewer).await;
    assert_eq!(deliveries.status, StatusCode::OK);
}
