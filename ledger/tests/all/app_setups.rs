//! App setups in the ledger, on SQLite and PostgreSQL: kept across a restart (a new connection),
//! ended once, and gone with their app. They lived in a process-wide static before (review):
//! lost on restart, per node, one bound shared by everyone.

use paas_ledger::ledger;
use paas_ledger::setups::{AppSetup, FAILED, SUCCEEDED};
use uuid::Uuid;

async fn setups_are_kept_ended_once_and_go_with_their_app(url: &str) {
    let first = ledger::open(url).await.unwrap();
    let (alice, _) = first.create_user("alice@example.com", None, false).await.unwrap();
    let app = first.create_app("seeded", alice.id).await.unwrap();
    let build = first.create_build(app.id, alice.id, None, None).await.unwrap();
    let setup = AppSetup::pending(app.id, build.id);
    first.create_app_setup(&setup).await.unwrap();
    assert_eq!(first.find_app_setup(setup.id).await.unwrap(), Some(setup.clone()));
    assert_eq!(first.find_app_setup(Uuid::new_v4()).await.unwrap(), None);
    drop(first);

    // Another connection (a restarted server, another node) finds it and ends it.
    let second = ledger::open(url).await.unwrap();
    let ended = second.finish_app_setup(setup.id, SUCCEEDED, None, Some(("seeded with hello", 0))).await.unwrap().unwrap();
    assert_eq!((ended.status.as_str(), ended.postdeploy.clone()), (SUCCEEDED, Some(("seeded with hello".to_string(), 0))));
    assert!(ended.updated_at >= setup.updated_at);
    // Ended once: a late deadline does not turn it into a failure.
    let again = second.finish_app_setup(setup.id, FAILED, Some("late"), None).await.unwrap().unwrap();
    assert_eq!(again, ended);

    // A destroyed app's setup is gone.
    second.destroy_app(app.id).await.unwrap();
    assert_eq!(second.find_app_setup(setup.id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_setups_are_kept_in_the_ledger_across_restarts_on_sqlite_and_postgres() {
    let sqlite = crate::backends::sqlite().await;
    setups_are_kept_ended_once_and_go_with_their_app(&sqlite.url).await;
    if let Some(postgres) = crate::backends::postgres().await {
        setups_are_kept_ended_once_and_go_with_their_app(&postgres.url).await;
    }
}
