//! App webhooks get every kind of event they accept (Heroku's `api:app`, `api:domain`,
//! `api:collaborator`, `api:sni-endpoint`, `api:dyno`, `api:addon`, `api:addon-attachment`, …),
//! delivered to a real HTTP receiver on loopback; and a webhook URL's userinfo never reaches the
//! app's log, an error message or a delivery's record.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use paas_platform::addons::AddonServices;
use paas_platform::addons::postgres::{PostgresServer, PostgresService};
use paas_platform::logplex::drains::DrainPolicy;
use paas_sandbox::egress::{EgressPolicy, parse_allow};
use serde_json::{Value, json};

use crate::api::{Api, error, setup_with};
use crate::api_pipelines::receiver;

async fn call(api: &Api, method: Method, path: &str, key: &str, body: Option<Value>) -> Value {
    let reply = api.send(method.clone(), path, Some(key), body, &[]).await;
    assert!(reply.status.is_success(), "{method} {path}: {} {}", reply.status, reply.body);
    reply.body
}

/// A certificate for `name` and its key, valid now.
fn cert(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap().self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Webhook events of kinds other than `api:release`, `api:formation` and one-off dynos were
/// accepted but never sent (review), and the URL's `user:password@` went to the app's log; so did
/// its path and query, often the receiver's credential (review 4b F3): the log keeps the origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_get_every_kind_they_accept_and_never_show_the_url_s_userinfo() {
    let mut api = setup_with(Default::default()).await;
    let admin = crate::backends::admin_url();
    if let Some(admin) = &admin {
        api.addons = Some(AddonServices::new(PostgresService::new(PostgresServer::External(admin.clone()))));
    }
    let allowed = ["127.0.0.0/8"].iter().map(|r| parse_allow(r).unwrap()).collect();
    assert!(api.state.logs.set_drain_policy(DrainPolicy::new(EgressPolicy::new(allowed, Vec::new()))));
    let key = api.user("alice@example.com").await;
    api.user("bob@example.com").await;
    api.create_app(&key, "kinds").await;

    // Refused at creation: the message does not repeat the password.
    let denied = json!({"url": "http://user:p4ss@169.254.169.254/", "include": ["api:app"], "level": "notify"});
    let reply = api.send(Method::POST, "/apps/kinds/webhooks", Some(&key), Some(denied), &[]).await;
    let (status, _, message) = error(&reply);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.starts_with("Webhook URL http://***@169.254.169.254/ is refused"), "{message}");

    let (url, seen) = receiver(Vec::new()).await;
    let url = url.replace("http://", "http://user:p4ss@");
    let kinds: Vec<&str> = paas_platform::webhooks::KINDS.to_vec();
    call(&api, Method::POST, "/apps/kinds/webhooks", &key, Some(json!({"url": url, "include": kinds, "level": "notify"}))).await;
    // A webhook whose receiver is gone: its delivery fails, and its record does not show the password.
    let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let gone_url = format!("http://user:p4ss@{gone}/hook/s3cr3t-path?token=q7ery");
    let gone_hook =
        call(&api, Method::POST, "/apps/kinds/webhooks", &key, Some(json!({"url": gone_url, "include": ["api:app"], "level": "notify"}))).await;

    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    let mut expect = |resource: &str, action: &str| expected.insert((resource.to_string(), action.to_string()));
    call(&api, Method::PATCH, "/apps/kinds", &key, Some(json!({"maintenance": true}))).await;
    expect("app", "update");
    call(&api, Method::POST, "/apps/kinds/domains", &key, Some(json!({"hostname": "www.kinds.test"}))).await;
    expect("domain", "create");
    call(&api, Method::POST, "/apps/kinds/collaborators", &key, Some(json!({"user": "bob@example.com"}))).await;
    expect("collaborator", "create");
    call(&api, Method::PATCH, "/teams/apps/kinds/collaborators/bob@example.com", &key, Some(json!({"permissions": ["view"]}))).await;
    expect("collaborator", "update");
    call(&api, Method::DELETE, "/apps/kinds/collaborators/bob@example.com", &key, None).await;
    expect("collaborator", "destroy");
    let (chain, private_key) = cert("www.kinds.test");
    let body = json!({"certificate_chain": chain, "private_key": private_key});
    let endpoint = call(&api, Method::POST, "/apps/kinds/sni-endpoints", &key, Some(body.clone())).await;
    expect("sni-endpoint", "create");
    let endpoint = endpoint["name"].as_str().unwrap().to_string();
    call(&api, Method::PATCH, &format!("/apps/kinds/sni-endpoints/{endpoint}"), &key, Some(body)).await;
    expect("sni-endpoint", "update");
    call(&api, Method::PATCH, "/apps/kinds/domains/www.kinds.test", &key, Some(json!({"sni_endpoint": endpoint}))).await;
    expect("domain", "update");
    call(&api, Method::DELETE, &format!("/apps/kinds/sni-endpoints/{endpoint}"), &key, None).await;
    expect("sni-endpoint", "destroy");
    call(&api, Method::DELETE, "/apps/kinds/domains/www.kinds.test", &key, None).await;
    expect("domain", "destroy");
    call(&api, Method::DELETE, "/apps/kinds/dynos", &key, None).await;
    expect("dyno", "destroy");
    if admin.is_some() {
        let addon = call(&api, Method::POST, "/apps/kinds/addons", &key, Some(json!({"plan": "heroku-postgresql:essential-0"}))).await;
        expect("addon", "create");
        // Each add-on makes a release (its config var): api:release too.
        expect("release", "create");
        let addon = addon["name"].as_str().unwrap().to_string();
        let body = json!({"addon": addon, "app": "kinds", "name": "EXTRA"});
        let attachment = call(&api, Method::POST, "/addon-attachments", &key, Some(body)).await;
        expect("addon-attachment", "create");
        call(&api, Method::DELETE, &format!("/addon-attachments/{}", attachment["id"].as_str().unwrap()), &key, None).await;
        expect("addon-attachment", "destroy");
        call(&api, Method::DELETE, &format!("/apps/kinds/addons/{addon}"), &key, None).await;
        expect("addon", "destroy");
    } else {
        eprintln!("api:addon and api:addon-attachment not checked: no PostgreSQL for add-ons");
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let got = loop {
        let got: BTreeSet<(String, String)> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| {
                let payload: Value = serde_json::from_str(body).unwrap();
                (payload["resource"].as_str().unwrap().to_string(), payload["action"].as_str().unwrap().to_string())
            })
            .collect();
        if expected.is_subset(&got) || tokio::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let missing: Vec<_> = expected.difference(&got).collect();
    assert!(missing.is_empty(), "not sent: {missing:?}; sent: {got:?}");
    let payloads: Vec<Value> = seen.lock().unwrap().iter().map(|(_, body)| serde_json::from_str(body).unwrap()).collect();
    let domain = payloads.iter().find(|p| p["resource"] == "domain" && p["action"] == "create").unwrap();
    assert_eq!((&domain["data"]["hostname"], &domain["actor"]["email"]), (&json!("www.kinds.test"), &json!("alice@example.com")));
    let app = payloads.iter().find(|p| p["resource"] == "app").unwrap();
    assert_eq!((&app["data"]["name"], &app["data"]["maintenance"]), (&json!("kinds"), &json!(true)));
    let sni = payloads.iter().find(|p| p["resource"] == "sni-endpoint").unwrap();
    assert!(!sni.to_string().contains("PRIVATE KEY"), "an endpoint's event never carries its key");

    // The password is nowhere: the app's log, the deliveries (one failed, naming why). The log
    // (every viewer's, and the drains') shows no path or query either.
    let log = || api.state.logs.app("kinds").with_ring(|ring| ring.tail(100, |_| true).iter().map(|l| l.to_string()).collect::<Vec<_>>());
    assert!(log().iter().any(|line| line.contains(&format!("Add webhook http://{gone} by alice@example.com"))), "{:#?}", log());
    let failed = loop {
        let deliveries = call(&api, Method::GET, "/apps/kinds/webhook-deliveries", &key, None).await;
        let failed = deliveries.as_array().unwrap().iter().find(|d| d["status"] == "failed").cloned();
        if let Some(failed) = failed {
            break failed;
        }
        assert!(tokio::time::Instant::now() < deadline, "the delivery to a closed port never failed: {deliveries}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(failed["last_attempt"]["error_class"].as_str().unwrap().starts_with("cannot deliver"), "{failed}");
    let deliveries = call(&api, Method::GET, "/apps/kinds/webhook-deliveries", &key, None).await.to_string();
    call(&api, Method::DELETE, &format!("/apps/kinds/webhooks/{}", gone_hook["id"].as_str().unwrap()), &key, None).await;
    let log = log();
    assert!(log.iter().any(|line| line.contains(&format!("Remove webhook http://{gone} by alice@example.com"))), "{log:#?}");
    for shown in log.iter().chain([&deliveries, &message.to_string()]) {
        assert!(!shown.contains("p4ss"), "the URL's password shown: {shown}");
    }
    for line in &log {
        assert!(!line.contains("s3cr3t-path") && !line.contains("q7ery"), "the URL's path or query in the app's log: {line}");
    }
}
