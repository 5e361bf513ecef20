//! Add-ons through the Platform API in-process, on a real PostgreSQL server (the test one):
//! Heroku's shapes, DATABASE_URL in a release, a database that answers, sharing with `--as`,
//! plan changes PostgreSQL enforces, and destroying the add-on (or its app) dropping it; unknown plans and failed
//! provisioning leave nothing behind.

use axum::http::{Method, StatusCode};
use paas_platform::addons::AddonServices;
use paas_platform::addons::postgres::{PostgresServer, PostgresService};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, Row};

use crate::api::{Api, error, setup_with};

async fn api_on(server: PostgresServer) -> Api {
    let mut api = setup_with(Default::default()).await;
    api.addons = Some(AddonServices::new(PostgresService::new(server)));
    api
}

async fn connect(url: &str) -> Result<sqlx::PgConnection, sqlx::Error> {
    sqlx::PgConnection::connect(url).await
}

async fn config(api: &Api, app: &str, key: &str) -> Value {
    api.get(&format!("/apps/{app}/config-vars"), key).await.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_has_herokus_shapes_and_unknown_plans_name_the_available_ones() {
    let api = setup_with(Default::default()).await;
    let key = api.user("cat@example.com").await;
    api.create_app(&key, "catalog").await;
    let services = api.get("/addon-services", &key).await.body;
    assert_eq!(services[0]["name"], "heroku-postgresql");
    assert_eq!(services[0]["human_name"], "Heroku Postgres");
    let plans = api.get("/addon-services/heroku-postgresql/plans", &key).await.body;
    assert_eq!(plans[0]["name"], "heroku-postgresql:essential-0");
    assert_eq!(plans[0]["default"], true);
    assert_eq!(plans[0]["price"]["cents"], 500);
    let id = plans[1]["id"].as_str().unwrap();
    assert_eq!(api.get(&format!("/addon-services/heroku-postgresql/plans/{id}"), &key).await.body["name"], plans[1]["name"]);
    assert_eq!(api.get("/plans", &key).await.body.as_array().unwrap().len(), 8);
    assert_eq!(api.get("/addon-services/heroku-mongo", &key).await.status, StatusCode::NOT_FOUND);

    let create = |plan: &str| json!({"plan": {"name": plan}});
    let reply = api.send(Method::POST, "/apps/catalog/addons", Some(&key), Some(create("heroku-mongo:big")), &[]).await;
    let (status, id, message) = error(&reply);
    assert_eq!((status, id), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params"));
    assert!(message.contains("heroku-postgresql"), "{message}");
    let reply = api.send(Method::POST, "/apps/catalog/addons", Some(&key), Some(create("heroku-postgresql:huge")), &[]).await;
    let (status, _, message) = error(&reply);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("heroku-postgresql:essential-0, heroku-postgresql:essential-1"), "{message}");
    let reply = api
        .send(Method::POST, "/apps/catalog/addons", Some(&key), Some(json!({"plan": "heroku-postgresql", "attachment": {"name": "1;DROP"}})), &[])
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    // Without add-on services (API-only), creating is a 503, and nothing is written.
    let reply = api.send(Method::POST, "/apps/catalog/addons", Some(&key), Some(create("heroku-postgresql:essential-0")), &[]).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
    assert_eq!(api.get("/apps/catalog/addons", &key).await.body, json!([]));
    assert_eq!(api.get("/addon-attachments", &key).await.body, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_provisioning_leaves_no_addon_attachment_or_config_var() {
    // Nothing listens on port 1.
    let api = api_on(PostgresServer::External("postgres://admin:hunter2@127.0.0.1:1/postgres".into())).await;
    let key = api.user("fail@example.com").await;
    api.create_app(&key, "no-db").await;
    let releases = api.get("/apps/no-db/releases", &key).await.body.as_array().unwrap().len();
    let body = json!({"plan": "heroku-postgresql:essential-0"});
    let reply = api.send(Method::POST, "/apps/no-db/addons", Some(&key), Some(body), &[]).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
    assert!(!reply.body.to_string().contains("hunter2"), "the admin password leaked: {}", reply.body);
    assert_eq!(api.get("/apps/no-db/addons", &key).await.body, json!([]));
    assert_eq!(api.get("/apps/no-db/addon-attachments", &key).await.body, json!([]));
    assert_eq!(config(&api, "no-db", &key).await, json!({}));
    assert_eq!(api.get("/apps/no-db/releases", &key).await.body.as_array().unwrap().len(), releases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heroku_postgres_is_a_real_database_attached_shared_and_dropped() {
    let Some(admin) = crate::backends::admin_url() else { return };
    let api = api_on(PostgresServer::External(admin.clone())).await;
    let key = api.user("pg@example.com").await;
    api.create_app(&key, "shop").await;
    api.create_app(&key, "reports").await;

    let body = json!({"plan": {"name": "heroku-postgresql:essential-0"}});
    let reply = api.send(Method::POST, "/apps/shop/addons", Some(&key), Some(body), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let addon = reply.body;
    let name = addon["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("postgresql-"), "{name}");
    assert_eq!(addon["addon_service"]["name"], "heroku-postgresql");
    assert_eq!(addon["plan"]["name"], "heroku-postgresql:essential-0");
    assert_eq!(addon["app"]["name"], "shop");
    assert_eq!(addon["state"], "provisioned");
    assert_eq!(addon["config_vars"], json!(["DATABASE_URL"]));
    assert!(!addon.to_string().contains("postgres://"), "credentials in the add-on: {addon}");

    // DATABASE_URL is set in a new release, and the database answers.
    let url = config(&api, "shop", &key).await["DATABASE_URL"].as_str().unwrap().to_string();
    let releases = api.get("/apps/shop/releases", &key).await.body;
    let newest = releases.as_array().unwrap().last().unwrap().clone();
    assert_eq!(newest["description"], format!("Attach DATABASE (@ref:{name})"));
    assert_eq!(newest["addon_plan_names"], json!(["heroku-postgresql:essential-0"]));
    let mut db = connect(&url).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut db).await.unwrap();
    assert_eq!(one, 1);
    db.execute("CREATE TABLE items (id int)").await.unwrap();
    let role: String = sqlx::query_scalar("SELECT current_user").fetch_one(&mut db).await.unwrap();
    db.close().await.unwrap();
    let mut admin_db = connect(&admin).await.unwrap();
    let limit: i32 = sqlx::query_scalar("SELECT rolconnlimit FROM pg_roles WHERE rolname = $1")
        .bind(&role)
        .fetch_one(&mut admin_db)
        .await
        .unwrap();
    assert_eq!(limit, 20);

    // The listings and resolvers the heroku CLI uses.
    let listed = api.get("/apps/shop/addons", &key).await.body;
    assert_eq!(listed[0]["name"], name);
    assert_eq!(api.get("/addons", &key).await.body.as_array().unwrap().len(), 1);
    assert_eq!(api.get(&format!("/addons/{name}"), &key).await.body["id"], addon["id"]);
    assert_eq!(api.get("/apps/shop/addons/DATABASE", &key).await.body["name"], name);
    let resolve = json!({"addon_attachment": "DATABASE_URL", "app": "shop", "addon_service": "heroku-postgresql"});
    let resolved = api.send(Method::POST, "/actions/addon-attachments/resolve", Some(&key), Some(resolve), &[]).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    assert_eq!(resolved.body[0]["name"], "DATABASE");
    assert_eq!(resolved.body[0]["addon"]["name"], name);
    // heroku pg:psql filters on the attachment's add-on plan.
    assert_eq!(resolved.body[0]["addon"]["plan"]["name"], "heroku-postgresql:essential-0");
    let resolved =
        api.send(Method::POST, "/actions/addons/resolve", Some(&key), Some(json!({"addon": "DATABASE", "app": "shop"})), &[]).await;
    assert_eq!(resolved.body[0]["name"], name, "{}", resolved.body);
    let missing = api.send(Method::POST, "/actions/addons/resolve", Some(&key), Some(json!({"addon": "nope"})), &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Another user sees none of it.
    let stranger = api.user("stranger@example.com").await;
    assert_eq!(api.get("/addons", &stranger).await.body, json!([]));
    assert_eq!(api.get(&format!("/addons/{name}"), &stranger).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/addon-attachments", &stranger).await.body, json!([]));

    // Shared with another app under another name.
    let attach = json!({"addon": {"name": name}, "app": {"name": "reports"}, "name": "SHOP_DB"});
    let reply = api.send(Method::POST, "/addon-attachments", Some(&key), Some(attach), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let shared_id = reply.body["id"].as_str().unwrap().to_string();
    assert_eq!(reply.body["app"]["name"], "reports");
    assert_eq!(reply.body["addon"]["app"]["name"], "shop");
    assert_eq!(config(&api, "reports", &key).await["SHOP_DB_URL"], url.as_str());
    assert_eq!(api.get("/apps/reports/addons", &key).await.body[0]["name"], name);
    // The same name again there: 422, nothing changes.
    let again = json!({"addon": name, "app": "reports", "name": "SHOP_DB"});
    assert_eq!(api.send(Method::POST, "/addon-attachments", Some(&key), Some(again), &[]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    // It cannot be destroyed from the app it is only attached to.
    let reply = api.send(Method::DELETE, &format!("/apps/reports/addons/{name}"), Some(&key), None, &[]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    // Detaching removes the config var.
    let reply = api.send(Method::DELETE, &format!("/addon-attachments/{shared_id}"), Some(&key), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(config(&api, "reports", &key).await.get("SHOP_DB_URL").is_none());
    let newest = api.get("/apps/reports/releases", &key).await.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(newest["description"], format!("Detach SHOP_DB (@ref:{name})"));

    // A second database on the same app takes a colour, and cannot open the first.
    let body = json!({"plan": "heroku-postgresql:essential-1"});
    let second = api.send(Method::POST, "/apps/shop/addons", Some(&key), Some(body), &[]).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    assert_eq!(second.body["config_vars"], json!(["HEROKU_POSTGRESQL_AMBER_URL"]));
    let second_url = config(&api, "shop", &key).await["HEROKU_POSTGRESQL_AMBER_URL"].as_str().unwrap().to_string();
    let database = |url: &str| url.split('/').nth(3).unwrap().split('?').next().unwrap().to_string();
    // The second add-on's role and password, the first one's database.
    let (base, query) = second_url.split_once('?').map_or((second_url.as_str(), None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').unwrap().0;
    let cross = format!("{prefix}/{}{}", database(&url), query.map(|q| format!("?{q}")).unwrap_or_default());
    assert_eq!(database(&cross), database(&url));
    let refused = connect(&cross).await;
    assert!(refused.is_err(), "one add-on's role opened another's database");

    // A plan change is enforced by PostgreSQL.
    let second_name = second.body["name"].as_str().unwrap();
    let reply = api
        .send(Method::PATCH, &format!("/apps/shop/addons/{second_name}"), Some(&key), Some(json!({"plan": "essential-2"})), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["plan"]["name"], "heroku-postgresql:essential-2");
    let second_role = second_url.split("://").nth(1).unwrap().split(':').next().unwrap();
    let row = sqlx::query("SELECT rolconnlimit FROM pg_roles WHERE rolname = $1").bind(second_role).fetch_one(&mut admin_db).await.unwrap();
    assert_eq!(row.get::<i32, _>(0), 40);

    // Destroying drops the database and the role, and removes DATABASE_URL in a release.
    let reply = api.send(Method::DELETE, &format!("/apps/shop/addons/{name}"), Some(&key), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["state"], "deprovisioned");
    assert!(config(&api, "shop", &key).await.get("DATABASE_URL").is_none());
    assert!(connect(&url).await.is_err(), "the destroyed add-on's database still answers");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = $1").bind(&role).fetch_one(&mut admin_db).await.unwrap();
    assert_eq!(left, 0);
    assert_eq!(api.get(&format!("/addons/{name}"), &key).await.status, StatusCode::NOT_FOUND);
    let reply = api.send(Method::DELETE, &format!("/apps/shop/addons/{second_name}"), Some(&key), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // Destroying an app destroys the add-ons it owns and detaches the others.
    let body = json!({"plan": "heroku-postgresql"});
    let third = api.send(Method::POST, "/apps/reports/addons", Some(&key), Some(body), &[]).await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.body);
    let third_name = third.body["name"].as_str().unwrap();
    let third_url = config(&api, "reports", &key).await["DATABASE_URL"].as_str().unwrap().to_string();
    let attach = json!({"addon": third_name, "app": "shop", "name": "REPORTS"});
    assert_eq!(api.send(Method::POST, "/addon-attachments", Some(&key), Some(attach), &[]).await.status, StatusCode::CREATED);
    assert!(connect(&third_url).await.is_ok());
    let reply = api.send(Method::DELETE, "/apps/reports", Some(&key), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(connect(&third_url).await.is_err(), "a destroyed app's database still answers");
    assert!(config(&api, "shop", &key).await.get("REPORTS_URL").is_none());
    assert_eq!(api.get("/addons", &key).await.body, json!([]));
    admin_db.close().await.unwrap();
}
