//! The ledger conformance suite: every check runs against SQLite and against PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use paas_ledger::autoscale::Policy;
use paas_ledger::ledger::{self, AppFilter, AppUpdate, LedgerError};
use paas_ledger::model::{FormationUpdate, NewRelease, ProcessTypes, Quantity};
use paas_ledger::Ledger;
use uuid::Uuid;

use crate::addon_ledger::{a_rollback_keeps_addon_config_vars_as_the_attachments_say, addons_attach_and_detach_in_releases};
use crate::backends::TestLedger;

conformance!(
    users_and_api_keys,
    creating_an_app_records_v1_initial_release,
    config_changes_append_releases,
    rollback_copies_slug_and_config_without_rebuilding,
    formation_updates_are_validated_and_atomic,
    concurrent_writers_never_share_or_skip_a_version,
    releases_cannot_be_updated_or_deleted,
    collaborators_grant_access,
    destroyed_apps_vanish_but_keep_their_ledger,
    domains_route_hostnames,
    reopening_the_ledger_brings_everything_back,
    builds_record_their_slug_release_and_output,
    log_drains_are_kept_per_app,
    app_features_are_kept_per_app,
    autoscaling_policies_are_kept_per_process_type,
    scheduled_jobs_are_kept_and_each_run_claimed_once,
    a_failed_release_takes_a_version_but_never_goes_live,
    dyno_size_grants_are_kept_per_user,
    addons_attach_and_detach_in_releases,
    a_rollback_keeps_addon_config_vars_as_the_attachments_say,
);

#[tokio::test]
async fn a_data_dir_with_awkward_characters_holds_the_sqlite_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("my data?#100%");
    std::fs::create_dir_all(&data_dir).unwrap();
    let opened = ledger::open(&ledger::sqlite_url(&data_dir)).await.unwrap();
    opened.create_user("a@example.com", None, false).await.unwrap();
    assert!(data_dir.join("paas.db").exists());
}

async fn user(ledger: &dyn Ledger, email: &str) -> Uuid {
    ledger.create_user(email, None, false).await.unwrap().0.id
}

fn changes(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
}

fn deploy(slug: Uuid, types: &[&str], description: &str) -> NewRelease {
    let process_types: ProcessTypes = types.iter().map(|t| (t.to_string(), format!("./{t}"))).collect();
    NewRelease { slug_id: slug, process_types, description: description.to_string() }
}

async fn users_and_api_keys(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    assert_eq!(ledger.find_operator().await.unwrap(), None);
    let (op, op_key) = ledger.create_user("Operator@Localhost", None, true).await.unwrap();
    assert_eq!(op.email, "operator@localhost");
    assert_eq!(ledger.find_operator().await.unwrap(), Some(op.clone()));
    let (found, key) = ledger.authenticate_key(&op_key).await.unwrap().unwrap();
    assert_eq!((found.id, key.user_id), (op.id, op.id));
    assert!(ledger.authenticate_key("not-a-key").await.unwrap().is_none());

    let (alice, _) = ledger.create_user("alice@example.com", Some("s3cret"), false).await.unwrap();
    assert!(!alice.operator);
    assert_eq!(ledger.authenticate_password("alice@example.com", "s3cret").await.unwrap(), Some(alice.clone()));
    assert_eq!(ledger.authenticate_password("alice@example.com", "wrong").await.unwrap(), None);
    assert_eq!(ledger.authenticate_password("operator@localhost", "").await.unwrap(), None);
    assert!(matches!(
        ledger.create_user("alice@example.com", None, false).await,
        Err(LedgerError::Conflict(m)) if m == "A user with email alice@example.com already exists."
    ));
    assert_eq!(ledger.find_user("ALICE@example.com").await.unwrap(), Some(alice.clone()));
    assert_eq!(ledger.find_user(&alice.id.to_string()).await.unwrap(), Some(alice.clone()));

    let (second, second_key) = ledger.create_api_key(alice.id, "laptop").await.unwrap();
    assert_eq!(ledger.list_api_keys(alice.id).await.unwrap().len(), 2);
    assert_eq!(ledger.authenticate_key(&second_key).await.unwrap().unwrap().1, second);
    ledger.delete_api_key(alice.id, second.id).await.unwrap();
    assert!(ledger.authenticate_key(&second_key).await.unwrap().is_none());
    assert!(matches!(ledger.delete_api_key(op.id, second.id).await, Err(LedgerError::NotFound(_))));
}

async fn creating_an_app_records_v1_initial_release(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("my-app", owner).await.unwrap();
    assert_eq!((app.name.as_str(), app.owner.id, app.owner.email.as_str()), ("my-app", owner, "owner@example.com"));
    let releases = ledger.list_releases(app.id).await.unwrap();
    assert_eq!(releases.len(), 1);
    let v1 = &releases[0];
    assert_eq!((v1.version, v1.description.as_str(), v1.current), (1, "Initial release", true));
    assert_eq!((v1.slug_id, v1.user.email.as_str(), v1.status.as_str()), (None, "owner@example.com", "succeeded"));
    assert_eq!(app.released_at, Some(v1.created_at));
    assert_eq!(ledger.find_app("my-app").await.unwrap(), Some(app.clone()));
    assert_eq!(ledger.find_app(&app.id.to_string()).await.unwrap().unwrap().id, app.id);
    assert!(matches!(
        ledger.create_app("my-app", owner).await,
        Err(LedgerError::Conflict(m)) if m == "Name my-app is already taken."
    ));
    ledger.create_app("another", owner).await.unwrap();
    let names: Vec<String> = ledger.list_apps(AppFilter::All).await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["another", "my-app"]);
    let renamed = ledger.update_app(app.id, AppUpdate { name: Some("renamed".into()), maintenance: Some(true) }).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.maintenance, renamed.id), ("renamed", true, app.id));
    assert!(matches!(
        ledger.update_app(app.id, AppUpdate { name: Some("another".into()), maintenance: None }).await,
        Err(LedgerError::Conflict(_))
    ));
}

async fn config_changes_append_releases(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("configured", owner).await.unwrap();
    let (config, release) =
        ledger.update_config_vars(app.id, owner, changes(&[("FOO", Some("1")), ("BAR", Some("2"))])).await.unwrap();
    assert_eq!(config, BTreeMap::from([("BAR".into(), "2".into()), ("FOO".into(), "1".into())]));
    let v2 = release.unwrap();
    assert_eq!((v2.version, v2.description.as_str(), v2.current), (2, "Set BAR, FOO config vars", true));
    // Nothing changes: no release.
    let (_, none) = ledger.update_config_vars(app.id, owner, changes(&[("FOO", Some("1")), ("NOPE", None)])).await.unwrap();
    assert_eq!(none, None);
    let (config, v3) = ledger.update_config_vars(app.id, owner, changes(&[("FOO", None)])).await.unwrap();
    let v3 = v3.unwrap();
    assert_eq!((v3.version, v3.description.as_str()), (3, "Remove FOO config vars"));
    assert_eq!(config, BTreeMap::from([("BAR".into(), "2".into())]));
    // v2 keeps its snapshot; only the newest is current.
    let v2_again = ledger.find_release(app.id, "v2").await.unwrap().unwrap();
    assert_eq!(v2_again.config_vars.get("FOO").map(String::as_str), Some("1"));
    assert!(!v2_again.current);
    assert_eq!(ledger.find_release(app.id, "2").await.unwrap().unwrap().id, v2.id);
    assert_eq!(ledger.find_release(app.id, &v2.id.to_string()).await.unwrap().unwrap().version, 2);
    assert_eq!(ledger.find_release(app.id, "v9").await.unwrap(), None);
    assert_eq!(ledger.current_release(app.id).await.unwrap().unwrap().id, v3.id);
    let versions: Vec<i64> = ledger.list_releases(app.id).await.unwrap().iter().map(|r| r.version).collect();
    assert_eq!(versions, [1, 2, 3]);
}

async fn rollback_copies_slug_and_config_without_rebuilding(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("rolling", owner).await.unwrap();
    let slug = Uuid::new_v4();
    ledger.update_config_vars(app.id, owner, changes(&[("FOO", Some("old"))])).await.unwrap();
    let v3 = ledger.create_release(app.id, owner, deploy(slug, &["web", "worker"], "Deploy 2b93a215")).await.unwrap();
    assert_eq!((v3.version, v3.slug_id, v3.description.as_str()), (3, Some(slug), "Deploy 2b93a215"));
    assert_eq!(v3.config_vars.get("FOO").map(String::as_str), Some("old"), "config carried over");
    let formation = ledger.list_formation(app.id).await.unwrap();
    let summary: Vec<(String, i64, String)> =
        formation.iter().map(|f| (f.process_type.clone(), f.quantity, f.size.clone())).collect();
    assert_eq!(summary, [("web".into(), 1, "Basic".into()), ("worker".into(), 0, "Basic".into())]);
    assert_eq!(formation[0].command, "./web");

    let new_slug = Uuid::new_v4();
    ledger.update_config_vars(app.id, owner, changes(&[("FOO", Some("new"))])).await.unwrap();
    ledger.create_release(app.id, owner, deploy(new_slug, &["web"], "Deploy 77777777")).await.unwrap();
    let v6 = ledger.rollback(app.id, owner, v3.id).await.unwrap();
    assert_eq!((v6.version, v6.description.as_str(), v6.current), (6, "Rollback to v3", true));
    assert_eq!((v6.slug_id, v6.process_types.clone(), v6.config_vars.clone()), (Some(slug), v3.process_types, v3.config_vars));
    assert!(matches!(ledger.rollback(app.id, owner, Uuid::new_v4()).await, Err(LedgerError::NotFound(_))));
    assert_eq!(ledger.list_releases(app.id).await.unwrap().len(), 6);
}

async fn formation_updates_are_validated_and_atomic(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("scaled", owner).await.unwrap();
    let scale = |process_type: &str, quantity: Quantity| FormationUpdate {
        process_type: process_type.into(),
        quantity: Some(quantity),
        size: None,
    };
    let error = ledger.update_formation(app.id, vec![scale("web", Quantity::Absolute(2))]).await.unwrap_err();
    assert_eq!(error.to_string(), "No such process type web: this app has no process types yet; push code first.");

    ledger.create_release(app.id, owner, deploy(Uuid::new_v4(), &["web", "worker"], "Deploy 1")).await.unwrap();
    let after = ledger.update_formation(app.id, vec![scale("web", Quantity::Absolute(2))]).await.unwrap();
    assert_eq!(after.iter().map(|f| f.quantity).collect::<Vec<_>>(), [2, 0]);
    let after = ledger.update_formation(app.id, vec![scale("web", Quantity::Relative(1))]).await.unwrap();
    assert_eq!(after[0].quantity, 3);
    let error = ledger.update_formation(app.id, vec![scale("web", Quantity::Relative(-4))]).await.unwrap_err();
    assert_eq!(error.to_string(), "Quantity of web would be -1: it cannot be negative.");
    let error = ledger.update_formation(app.id, vec![scale("clock", Quantity::Absolute(1))]).await.unwrap_err();
    assert_eq!(error.to_string(), "No such process type clock defined in Procfile. Types: web, worker");
    // One bad update: nothing is written.
    let error = ledger
        .update_formation(app.id, vec![scale("worker", Quantity::Absolute(5)), scale("clock", Quantity::Absolute(1))])
        .await
        .unwrap_err();
    assert!(matches!(error, LedgerError::Invalid(_)));
    let formation = ledger.list_formation(app.id).await.unwrap();
    assert_eq!(formation.iter().map(|f| f.quantity).collect::<Vec<_>>(), [3, 0]);
    let resized = ledger
        .update_formation(app.id, vec![FormationUpdate { process_type: "worker".into(), quantity: None, size: Some("Standard-2X".into()) }])
        .await
        .unwrap();
    assert_eq!((resized[1].quantity, resized[1].size.as_str()), (0, "Standard-2X"));
    // A release without the worker hides it; the formation comes back with it.
    ledger.create_release(app.id, owner, deploy(Uuid::new_v4(), &["web"], "Deploy 2")).await.unwrap();
    assert_eq!(ledger.list_formation(app.id).await.unwrap().len(), 1);
    ledger.record_dyno_action(app.id, owner, "restart", Some("web")).await.unwrap();
}

async fn concurrent_writers_never_share_or_skip_a_version(t: &TestLedger) {
    let ledger: Arc<dyn Ledger> = t.ledger.clone();
    let owner = user(ledger.as_ref(), "owner@example.com").await;
    let app = ledger.create_app("racy", owner).await.unwrap();
    // Sixteen config:sets at once.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("KEY_{i}");
            ledger.update_config_vars(app.id, owner, changes(&[(&key, Some("x"))])).await.unwrap().1.unwrap().version
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }
    versions.sort();
    assert_eq!(versions, (2..=17).collect::<Vec<_>>());
    let config = ledger.current_release(app.id).await.unwrap().unwrap().config_vars;
    assert_eq!(config.len(), 16, "no config:set was lost: {config:?}");
    // Deploys racing rollbacks.
    let v2 = ledger.find_release(app.id, "v2").await.unwrap().unwrap().id;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                ledger.create_release(app.id, owner, deploy(Uuid::new_v4(), &["web"], "Deploy")).await.unwrap().version
            } else {
                ledger.rollback(app.id, owner, v2).await.unwrap().version
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let versions: Vec<i64> = ledger.list_releases(app.id).await.unwrap().iter().map(|r| r.version).collect();
    assert_eq!(versions, (1..=29).collect::<Vec<_>>());
}

async fn releases_cannot_be_updated_or_deleted(t: &TestLedger) {
    use sqlx::{Connection, Executor};
    let owner = user(t.ledger.as_ref(), "owner@example.com").await;
    let app = t.ledger.create_app("immutable", owner).await.unwrap();
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&t.url).await.unwrap();
    let update = connection.execute("UPDATE releases SET description = 'rewritten'").await;
    assert!(update.unwrap_err().to_string().contains("releases are append-only"));
    let delete = connection.execute("DELETE FROM releases").await;
    assert!(delete.unwrap_err().to_string().contains("releases are append-only"));
    let releases = t.ledger.list_releases(app.id).await.unwrap();
    assert_eq!(releases[0].description, "Initial release");
}

async fn builds_record_their_slug_release_and_output(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("built", owner).await.unwrap();
    let build = ledger.create_build(app.id, owner, Some("abc1234"), None).await.unwrap();
    assert_eq!((build.status.as_str(), build.buildpack.as_deref()), ("pending", None));
    assert_eq!(ledger.build_output(build.id).await.unwrap(), None);

    let types: ProcessTypes = [("web".to_string(), "app.wasm".to_string())].into();
    let new_slug = paas_ledger::model::NewSlug {
        checksum: "ab".repeat(32),
        size: 5_000_000_000,
        stack: "wasi-p2".into(),
        commit: Some("abc1234".into()),
        buildpack: Some("rust".into()),
        process_types: types.clone(),
    };
    let slug = ledger.create_slug(app.id, new_slug.clone()).await.unwrap();
    assert_eq!((slug.checksum.as_str(), slug.size, slug.process_types.clone()), (new_slug.checksum.as_str(), 5_000_000_000, types));
    assert_eq!(ledger.find_slug(app.id, slug.id).await.unwrap(), Some(slug.clone()));
    let other = ledger.create_app("other", owner).await.unwrap();
    assert_eq!(ledger.find_slug(other.id, slug.id).await.unwrap(), None);
    let release = ledger.create_release(app.id, owner, deploy(slug.id, &["web"], "Deploy abc1234")).await.unwrap();

    ledger.record_build_output(build.id, Some("rust"), "-----> Building\n-----> Launching... done, v2").await.unwrap();
    let done = ledger.finish_build(build.id, "succeeded", Some(slug.id), Some(release.id)).await.unwrap();
    assert_eq!((done.status.as_str(), done.buildpack.as_deref()), ("succeeded", Some("rust")));
    assert_eq!((done.slug_id, done.release_id), (Some(slug.id), Some(release.id)));
    assert_eq!(ledger.build_output(build.id).await.unwrap().as_deref(), Some("-----> Building\n-----> Launching... done, v2"));
    assert!(matches!(ledger.record_build_output(Uuid::new_v4(), None, "").await, Err(LedgerError::NotFound(_))));

    assert_eq!(ledger.buildpack(app.id).await.unwrap(), None);
    ledger.set_buildpack(app.id, Some("https://example.com/bp.git")).await.unwrap();
    ledger.set_buildpack(app.id, Some("rust")).await.unwrap();
    assert_eq!(ledger.buildpack(app.id).await.unwrap().as_deref(), Some("rust"));
    assert_eq!(ledger.buildpack(other.id).await.unwrap(), None);
    ledger.set_buildpack(app.id, None).await.unwrap();
    assert_eq!(ledger.buildpack(app.id).await.unwrap(), None);
}

async fn collaborators_grant_access(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let friend = user(ledger, "friend@example.com").await;
    let app = ledger.create_app("shared", owner).await.unwrap();
    ledger.create_app("friends-own", friend).await.unwrap();
    let names = |apps: Vec<paas_ledger::model::App>| apps.into_iter().map(|a| a.name).collect::<Vec<_>>();
    let sees_shared = async |user| names(ledger.list_apps(AppFilter::AccessibleBy(user)).await.unwrap()).contains(&"shared".to_string());
    assert!(sees_shared(owner).await);
    assert!(!sees_shared(friend).await);
    assert_eq!(names(ledger.list_apps(AppFilter::AccessibleBy(friend)).await.unwrap()), ["friends-own"]);
    let collaborator = ledger.add_collaborator(app.id, friend).await.unwrap();
    assert_eq!(collaborator.user.email, "friend@example.com");
    assert!(sees_shared(friend).await);
    assert_eq!(names(ledger.list_apps(AppFilter::AccessibleBy(friend)).await.unwrap()), ["friends-own", "shared"]);
    assert!(matches!(ledger.add_collaborator(app.id, friend).await, Err(LedgerError::Conflict(_))));
    assert!(matches!(ledger.add_collaborator(app.id, owner).await, Err(LedgerError::Invalid(_))));
    assert_eq!(ledger.list_collaborators(app.id).await.unwrap(), std::slice::from_ref(&collaborator));
    assert_eq!(ledger.remove_collaborator(app.id, "Friend@example.com").await.unwrap().id, collaborator.id);
    assert!(!sees_shared(friend).await);
    assert!(matches!(ledger.remove_collaborator(app.id, "friend@example.com").await, Err(LedgerError::NotFound(_))));
}

async fn destroyed_apps_vanish_but_keep_their_ledger(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("short-lived", owner).await.unwrap();
    ledger.add_domain(app.id, "www.example.com").await.unwrap();
    ledger.destroy_app(app.id).await.unwrap();
    assert_eq!(ledger.find_app("short-lived").await.unwrap(), None);
    assert_eq!(ledger.find_app(&app.id.to_string()).await.unwrap(), None);
    assert!(ledger.list_apps(AppFilter::All).await.unwrap().is_empty());
    assert!(matches!(ledger.destroy_app(app.id).await, Err(LedgerError::NotFound(_))));
    assert_eq!(ledger.list_releases(app.id).await.unwrap().len(), 1, "the ledger keeps its releases");
    // The name and the domain are free again.
    let again = ledger.create_app("short-lived", owner).await.unwrap();
    assert_ne!(again.id, app.id);
    ledger.add_domain(again.id, "www.example.com").await.unwrap();
}

async fn domains_route_hostnames(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("routed", owner).await.unwrap();
    let other = ledger.create_app("other", owner).await.unwrap();
    let domain = ledger.add_domain(app.id, "WWW.Example.com").await.unwrap();
    assert_eq!(domain.hostname, "www.example.com");
    assert!(matches!(ledger.add_domain(other.id, "www.example.com").await, Err(LedgerError::Conflict(_))));
    let by_host = |host: &'static str| async move { ledger.find_app_by_hostname(host, "localhost").await.unwrap().map(|a| a.name) };
    assert_eq!(by_host("routed.localhost").await.as_deref(), Some("routed"));
    assert_eq!(by_host("www.example.com").await.as_deref(), Some("routed"));
    assert_eq!(by_host("nope.localhost").await, None);
    assert_eq!(by_host("a.routed.localhost").await, None);
    assert_eq!(ledger.list_domains(app.id).await.unwrap(), std::slice::from_ref(&domain));
    assert_eq!(ledger.remove_domain(app.id, "www.example.com").await.unwrap().id, domain.id);
    assert_eq!(by_host("www.example.com").await, None);
}

async fn log_drains_are_kept_per_app(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("drained", owner).await.unwrap();
    let other = ledger.create_app("other", owner).await.unwrap();
    let syslog = ledger.add_log_drain(app.id, "syslog://logs.example.com:514").await.unwrap();
    assert!(syslog.token.starts_with("d.") && syslog.token.len() == 38, "{}", syslog.token);
    assert!(matches!(ledger.add_log_drain(app.id, "syslog://logs.example.com:514").await, Err(LedgerError::Conflict(_))));
    let http = ledger.add_log_drain(app.id, "http://logs.example.com/in").await.unwrap();
    let elsewhere = ledger.add_log_drain(other.id, "syslog://logs.example.com:514").await.unwrap();
    assert_eq!(ledger.list_log_drains(app.id).await.unwrap(), [syslog.clone(), http.clone()]);
    let all = ledger.all_log_drains().await.unwrap();
    assert_eq!(all, [("drained".to_string(), syslog.clone()), ("drained".to_string(), http.clone()), ("other".to_string(), elsewhere)]);
    assert_eq!(ledger.remove_log_drain(app.id, &syslog.token).await.unwrap(), syslog);
    assert_eq!(ledger.remove_log_drain(app.id, "http://logs.example.com/in").await.unwrap(), http);
    assert!(matches!(ledger.remove_log_drain(app.id, &http.id.to_string()).await, Err(LedgerError::NotFound(_))));
    // A destroyed app's drains go with it.
    ledger.destroy_app(other.id).await.unwrap();
    assert_eq!(ledger.all_log_drains().await.unwrap(), []);
}

async fn app_features_are_kept_per_app(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("featured", owner).await.unwrap();
    let other = ledger.create_app("plain", owner).await.unwrap();
    assert_eq!(ledger.list_app_features(app.id).await.unwrap(), []);
    let on = ledger.set_app_feature(app.id, "sleep", true).await.unwrap();
    assert!(on.enabled && on.name == "sleep" && on.app_id == app.id);
    let again = ledger.set_app_feature(app.id, "sleep", true).await.unwrap();
    assert_eq!(again, on, "setting the same state changes nothing");
    let off = ledger.set_app_feature(app.id, "sleep", false).await.unwrap();
    assert!(!off.enabled);
    assert_eq!(off.created_at, on.created_at);
    let preboot = ledger.set_app_feature(app.id, "preboot", true).await.unwrap();
    assert_eq!(ledger.list_app_features(app.id).await.unwrap(), [preboot, off]);
    assert_eq!(ledger.list_app_features(other.id).await.unwrap(), []);
}

async fn reopening_the_ledger_brings_everything_back(t: &TestLedger) {
    let owner = user(t.ledger.as_ref(), "owner@example.com").await;
    let app = t.ledger.create_app("durable", owner).await.unwrap();
    t.ledger.create_release(app.id, owner, deploy(Uuid::new_v4(), &["web"], "Deploy 1")).await.unwrap();
    t.ledger
        .update_formation(app.id, vec![FormationUpdate { process_type: "web".into(), quantity: Some(Quantity::Absolute(3)), size: None }])
        .await
        .unwrap();
    let reopened = ledger::open(&t.url).await.unwrap();
    let before = t.ledger.find_app("durable").await.unwrap().unwrap();
    assert_eq!(reopened.find_app("durable").await.unwrap(), Some(before));
    let formation = reopened.list_formation(app.id).await.unwrap();
    assert_eq!((formation[0].process_type.as_str(), formation[0].quantity), ("web", 3));
}

async fn scheduled_jobs_are_kept_and_each_run_claimed_once(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("cronned", owner).await.unwrap();
    let other = ledger.create_app("elsewhere", owner).await.unwrap();
    let job = ledger.add_scheduled_job(app.id, "*/10 * * * *", "worker --once").await.unwrap();
    assert_eq!((job.schedule.as_str(), job.command.as_str(), job.last_run_at), ("*/10 * * * *", "worker --once", None));
    let second = ledger.add_scheduled_job(app.id, "@daily", "cleanup").await.unwrap();
    let theirs = ledger.add_scheduled_job(other.id, "0 * * * *", "report").await.unwrap();
    assert_eq!(ledger.list_scheduled_jobs(app.id).await.unwrap(), [job.clone(), second.clone()]);

    // A run is claimed once: the second claim from the same previous state loses.
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-26T01:10:00Z").unwrap().with_timezone(&chrono::Utc);
    assert!(ledger.claim_scheduled_run(job.id, None, at, None).await.unwrap());
    assert!(!ledger.claim_scheduled_run(job.id, None, at, None).await.unwrap());
    let later = at + chrono::Duration::minutes(10);
    assert!(ledger.claim_scheduled_run(job.id, Some(at), later, None).await.unwrap());
    assert!(!ledger.claim_scheduled_run(job.id, Some(at), later, None).await.unwrap());
    let stored = ledger.list_scheduled_jobs(app.id).await.unwrap();
    assert_eq!(stored[0].last_run_at, Some(later));

    // Removing: only the app's own jobs; a destroyed app's jobs stop being listed for the scheduler.
    assert!(matches!(ledger.remove_scheduled_job(other.id, job.id).await, Err(LedgerError::NotFound(_))));
    assert_eq!(ledger.remove_scheduled_job(app.id, second.id).await.unwrap(), second);
    let all = ledger.all_scheduled_jobs().await.unwrap();
    assert_eq!(all.iter().map(|(name, j)| (name.as_str(), j.id)).collect::<Vec<_>>(), [("cronned", job.id), ("elsewhere", theirs.id)]);
    ledger.destroy_app(other.id).await.unwrap();
    assert_eq!(ledger.all_scheduled_jobs().await.unwrap().len(), 1);

    // At most MAX_SCHEDULED_JOBS per app.
    for i in 1..paas_ledger::model::MAX_SCHEDULED_JOBS {
        ledger.add_scheduled_job(app.id, "@hourly", &format!("job {i}")).await.unwrap();
    }
    let refused = ledger.add_scheduled_job(app.id, "@hourly", "one too many").await.unwrap_err();
    assert!(matches!(&refused, LedgerError::Invalid(m) if m.contains("remove one first")), "{refused}");
}

async fn a_failed_release_takes_a_version_but_never_goes_live(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let owner = user(ledger, "owner@example.com").await;
    let app = ledger.create_app("phased", owner).await.unwrap();
    let good = Uuid::new_v4();
    let v2 = ledger.create_release(app.id, owner, deploy(good, &["web", "release"], "Deploy good")).await.unwrap();
    assert!(v2.current && v2.status == "succeeded");
    let types: Vec<String> = ledger.list_formation(app.id).await.unwrap().into_iter().map(|f| f.process_type).collect();
    assert_eq!(types, ["web"], "the release phase is never a formation");
    let scale = FormationUpdate { process_type: "release".into(), quantity: Some(Quantity::Absolute(1)), size: None };
    let refused = ledger.update_formation(app.id, vec![scale]).await.unwrap_err();
    assert!(matches!(&refused, LedgerError::Invalid(m) if m.contains("cannot be scaled")), "{refused}");

    let v3 = ledger.create_failed_release(app.id, owner, deploy(Uuid::new_v4(), &["web", "release", "worker"], "Deploy bad")).await.unwrap();
    assert_eq!((v3.version, v3.status.as_str(), v3.current), (3, "failed", false));
    assert_eq!(ledger.current_release(app.id).await.unwrap().unwrap().id, v2.id, "the previous release stays current");
    let listed = ledger.list_releases(app.id).await.unwrap();
    assert_eq!(listed.iter().map(|r| (r.version, r.current)).collect::<Vec<_>>(), [(1, false), (2, true), (3, false)]);
    assert!(ledger.list_formation(app.id).await.unwrap().iter().all(|f| f.process_type == "web"), "a failed release makes no formation");

    // A config change builds on the current release, not on the failed one.
    let (_, v4) = ledger.update_config_vars(app.id, owner, changes(&[("A", Some("1"))])).await.unwrap();
    let v4 = v4.unwrap();
    assert_eq!((v4.version, v4.slug_id, v4.current), (4, Some(good), true));
    let v5 = ledger.failed_rollback(app.id, owner, v2.id).await.unwrap();
    assert_eq!((v5.version, v5.description.as_str(), v5.status.as_str(), v5.current), (5, "Rollback to v2", "failed", false));
    assert_eq!(ledger.current_release(app.id).await.unwrap().unwrap().id, v4.id);
    let v6 = ledger.rollback(app.id, owner, v2.id).await.unwrap();
    assert!(v6.current && v6.status == "succeeded");
}

async fn dyno_size_grants_are_kept_per_user(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let (alice, bob) = (user(ledger, "alice@example.com").await, user(ledger, "bob@example.com").await);
    assert_eq!(ledger.dyno_sizes(alice).await.unwrap(), None, "the default");
    let granted = vec!["Basic".to_string(), "Performance-M".to_string()];
    ledger.set_dyno_sizes(alice, Some(granted.clone())).await.unwrap();
    assert_eq!(ledger.dyno_sizes(alice).await.unwrap(), Some(granted.clone()));
    assert_eq!(ledger.dyno_sizes(bob).await.unwrap(), None);
    // Kept across a reopening.
    let reopened = paas_ledger::ledger::open(&t.url).await.unwrap();
    assert_eq!(reopened.dyno_sizes(alice).await.unwrap(), Some(granted));
    ledger.set_dyno_sizes(alice, None).await.unwrap();
    assert_eq!(ledger.dyno_sizes(alice).await.unwrap(), None);
    let nobody = Uuid::new_v4();
    assert!(matches!(ledger.set_dyno_sizes(nobody, None).await, Err(LedgerError::NotFound(_))));
    assert!(matches!(ledger.dyno_sizes(nobody).await, Err(LedgerError::NotFound(_))));
}

/// Stored per (app, process type); disabling keeps the bounds; a destroyed app's are not enabled.
async fn autoscaling_policies_are_kept_per_process_type(t: &TestLedger) {
    let ledger = &t.ledger;
    let owner = ledger.create_user("scaler@example.com", None, false).await.unwrap().0.id;
    let app = ledger.create_app("scaler", owner).await.unwrap();
    assert!(ledger.list_autoscaling(app.id).await.unwrap().is_empty());
    let now = chrono::Utc::now();
    let policy = Policy { app_id: app.id, process_type: "web".into(), enabled: true, min: 1, max: 10, p95_ms: 200, created_at: now, updated_at: now };
    let stored = ledger.set_autoscaling(&policy).await.unwrap();
    assert_eq!((stored.min, stored.max, stored.p95_ms, stored.enabled), (1, 10, 200, true));
    assert_eq!(ledger.enabled_autoscaling().await.unwrap(), std::slice::from_ref(&stored));
    let off = ledger.set_autoscaling(&Policy { enabled: false, max: 4, ..stored.clone() }).await.unwrap();
    assert_eq!(off.created_at, stored.created_at, "one row per process type");
    assert_eq!(ledger.list_autoscaling(app.id).await.unwrap(), std::slice::from_ref(&off));
    assert!(ledger.enabled_autoscaling().await.unwrap().is_empty());
    ledger.set_autoscaling(&Policy { enabled: true, ..off }).await.unwrap();
    ledger.destroy_app(app.id).await.unwrap();
    assert!(ledger.enabled_autoscaling().await.unwrap().is_empty(), "a destroyed app does not scale");
}
