//! Add-on URLs given the current host at start (`addons::host::rehost_urls`), on SQLite and
//! PostgreSQL.

use paas_platform::Ledger;

use crate::addon_ledger::{DEFAULT_NAMES, new_addon};
use crate::backends::TestLedger;

conformance!(addon_urls_naming_an_old_host_are_given_the_current_one);

/// An add-on of a server paas runs itself whose URL names another host than where the server
/// listens now (a new --dyno-network, an add-on made before the service address existed) is
/// given the current host at start: in its config and, by a release, on each app attached.
async fn addon_urls_naming_an_old_host_are_given_the_current_one(t: &TestLedger) {
    use paas_platform::addons::host::{AddonHost, rehost_urls};
    let ledger: &dyn Ledger = t.ledger.as_ref();
    let host = AddonHost::loopback();
    let services = ["heroku-postgresql"];
    assert_eq!(rehost_urls(ledger, &host, &services).await.unwrap(), 0, "no operator, no add-on: nothing to do");
    let (operator, _) = ledger.create_user("op@rehost.example", None, true).await.unwrap();
    let app = ledger.create_app("moved-db", operator.id).await.unwrap();
    let other = ledger.create_app("moved-db-reader", operator.id).await.unwrap();
    let old = "postgres://a:pw1@10.199.255.253:40123/a?sslmode=require";
    let (addon, _, _) = ledger.create_addon(operator.id, new_addon(app.id, "postgresql-moved-00001", old, DEFAULT_NAMES)).await.unwrap();
    ledger.attach_addon(addon.id, other.id, operator.id, vec!["READER".into()]).await.unwrap();
    let mut external = new_addon(app.id, "external-x-00002", "postgres://x:pw@db.example.com:5432/x", &["OTHER"]);
    external.service = "some-other-service".into();
    ledger.create_addon(operator.id, external).await.unwrap();

    assert_eq!(rehost_urls(ledger, &host, &services).await.unwrap(), 1);
    let new = "postgres://a:pw1@127.0.0.1:40123/a?sslmode=require";
    assert_eq!(ledger.find_addon(&addon.name).await.unwrap().unwrap().config["URL"], new);
    let owner_release = ledger.current_release(app.id).await.unwrap().unwrap();
    assert_eq!(owner_release.config_vars["DATABASE_URL"], new);
    assert_eq!(owner_release.description, "Update DATABASE (@ref:postgresql-moved-00001): its server moved");
    assert_eq!(ledger.current_release(other.id).await.unwrap().unwrap().config_vars["READER_URL"], new);
    assert_eq!(owner_release.config_vars["OTHER_URL"], "postgres://x:pw@db.example.com:5432/x", "another service is left alone");
    assert_eq!(rehost_urls(ledger, &host, &services).await.unwrap(), 0, "the second start changes nothing");
}
