//! Heroku Postgres storage limits on a real PostgreSQL server (the test one): a database filled
//! past its plan's size (a small limit given to the check) loses write access, its app's log
//! says so, a role that writes on anyway is locked out, and freeing space restores access.

use axum::http::{Method, StatusCode};
use paas_platform::addons::AddonServices;
use paas_platform::addons::postgres::{PostgresServer, PostgresService};
use paas_platform::addons::storage::{StorageChange, StorageEnforcer};
use serde_json::json;
use sqlx::{Connection, Executor};

use crate::api::setup_with;

/// Rows of ~1 kB that do not compress (md5 text), `mib` MiB of them.
fn fill(mib: u32) -> String {
    format!(
        "INSERT INTO items SELECT string_agg(md5(random()::text || g::text || s::text), '') \
         FROM generate_series(1, {}) g, generate_series(1, 30) s GROUP BY g",
        mib * 1000
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_past_its_plans_size_loses_write_access_until_it_is_back_under() {
    let Some(admin) = crate::backends::admin_url() else { return };
    let mut api = setup_with(Default::default()).await;
    let services = AddonServices::new(PostgresService::new(PostgresServer::External(admin.clone())));
    api.addons = Some(services.clone());
    let key = api.user("full@example.com").await;
    api.create_app(&key, "full").await;
    let reply = api.send(Method::POST, "/apps/full/addons", Some(&key), Some(json!({"plan": "heroku-postgresql"})), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let name = reply.body["name"].as_str().unwrap().to_string();
    let url = api.get("/apps/full/config-vars", &key).await.body["DATABASE_URL"].as_str().unwrap().to_string();
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    db.execute("CREATE TABLE items (body text)").await.unwrap();
    let size: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(&mut db).await.unwrap();
    // The limit: what it holds now and 20 MiB.
    let limit = size as u64 + 20 * 1024 * 1024;
    let enforcer = StorageEnforcer::new(api.state.ledger.clone(), api.state.logs.clone(), services.postgres()).with_limit(limit);
    assert_eq!(enforcer.check_now().await.unwrap(), vec![], "under the limit nothing changes");

    db.execute(sqlx::AssertSqlSafe(fill(21))).await.unwrap();
    assert_eq!(enforcer.check_now().await.unwrap(), vec![(name.clone(), StorageChange::Restricted)]);
    assert!(db.execute("SELECT 1").await.is_err(), "the role's session was not ended");
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let refused = db.execute(sqlx::AssertSqlSafe(fill(1))).await.unwrap_err().to_string();
    assert!(refused.contains("read-only transaction"), "{refused}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(&mut db).await.unwrap();
    assert!(rows > 0, "reads still work");
    let log = api.state.logs.app("full").with_ring(|ring| ring.tail(100, |_| true).iter().map(|l| l.to_string()).collect::<Vec<_>>());
    assert!(
        log.iter().any(|line| line.contains("app[heroku-postgres]") && line.contains(&name) && line.contains("write access revoked")),
        "{log:?}"
    );
    assert_eq!(enforcer.check_now().await.unwrap(), vec![], "a restricted database is left as it is");

    // A role that turns read-only off and writes on is locked out past 110 %.
    db.execute("SET default_transaction_read_only = off").await.unwrap();
    db.execute(sqlx::AssertSqlSafe(fill(4))).await.unwrap();
    assert_eq!(enforcer.check_now().await.unwrap(), vec![(name.clone(), StorageChange::LockedOut)]);
    let refused = sqlx::PgConnection::connect(&url).await.unwrap_err().to_string();
    assert!(refused.contains("not permitted to log in"), "{refused}");

    // A bigger limit (a plan upgrade): access returns; then space is freed in a read-write transaction.
    let bigger = StorageEnforcer::new(api.state.ledger.clone(), api.state.logs.clone(), services.postgres()).with_limit(1 << 30);
    assert_eq!(bigger.check_now().await.unwrap(), vec![(name.clone(), StorageChange::Restored)]);
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    db.execute(sqlx::AssertSqlSafe(fill(1))).await.unwrap();
    assert_eq!(enforcer.check_now().await.unwrap(), vec![(name.clone(), StorageChange::Restricted)]);
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    db.execute("BEGIN READ WRITE; TRUNCATE items; COMMIT").await.unwrap();
    assert_eq!(enforcer.check_now().await.unwrap(), vec![(name.clone(), StorageChange::Restored)]);
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    db.execute(sqlx::AssertSqlSafe(fill(1))).await.unwrap();
    db.close().await.unwrap();
    let reply = api.send(Method::DELETE, &format!("/apps/full/addons/{name}"), Some(&key), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}
