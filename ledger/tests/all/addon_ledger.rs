//! The ledger's add-ons and attachments, run by the conformance suite in `ledger.rs` against
//! SQLite and PostgreSQL: each attach, detach and destroy is a release setting or removing the
//! attachment's config vars. paas-platform's tests use `new_addon` from here, by path.

use std::collections::BTreeMap;

use paas_ledger::Ledger;
use paas_ledger::addons::{AddonFilter, NewAddon};
use paas_ledger::ledger::LedgerError;
use uuid::Uuid;

use crate::backends::TestLedger;

/// An add-on of heroku-postgresql on `app_id` whose config is `URL=url`, attached under the
/// first of `names` free on the app.
pub fn new_addon(app_id: Uuid, name: &str, url: &str, names: &[&str]) -> NewAddon {
    NewAddon {
        app_id,
        name: name.into(),
        service: "heroku-postgresql".into(),
        plan: "essential-0".into(),
        provider_id: format!("addon_{}", Uuid::new_v4().simple()),
        config: BTreeMap::from([("URL".to_string(), url.to_string())]),
        attachment_names: names.iter().map(|n| n.to_string()).collect(),
    }
}

/// Heroku Postgres's attachment names: `DATABASE`, then colours.
pub const DEFAULT_NAMES: &[&str] = &["DATABASE", "HEROKU_POSTGRESQL_AMBER", "HEROKU_POSTGRESQL_AQUA"];

pub async fn addons_attach_and_detach_in_releases(t: &TestLedger) {
    let ledger: &dyn Ledger = t.ledger.as_ref();
    let (owner, _) = ledger.create_user("addons@example.com", None, false).await.unwrap();
    let app = ledger.create_app("with-db", owner.id).await.unwrap();
    let other = ledger.create_app("reporting", owner.id).await.unwrap();

    let (addon, attachment, release) = ledger
        .create_addon(owner.id, new_addon(app.id, "postgresql-calm-00001", "postgres://a:pw1@h:1/a", DEFAULT_NAMES))
        .await
        .unwrap();
    assert_eq!(attachment.name, "DATABASE");
    assert_eq!(attachment.config_vars, ["DATABASE_URL"]);
    assert_eq!(addon.config_vars, ["DATABASE_URL"]);
    assert_eq!(release.description, "Attach DATABASE (@ref:postgresql-calm-00001)");
    assert_eq!(release.config_vars["DATABASE_URL"], "postgres://a:pw1@h:1/a");
    assert_eq!(release.addons, ["heroku-postgresql:essential-0"]);
    assert!(release.current);

    // A second database takes a colour.
    let (second, attachment2, release2) = ledger
        .create_addon(owner.id, new_addon(app.id, "postgresql-bold-00002", "postgres://b:pw2@h:1/b", DEFAULT_NAMES))
        .await
        .unwrap();
    assert_eq!(attachment2.name, "HEROKU_POSTGRESQL_AMBER");
    assert_eq!(release2.config_vars["HEROKU_POSTGRESQL_AMBER_URL"], "postgres://b:pw2@h:1/b");
    assert_eq!(release2.config_vars["DATABASE_URL"], "postgres://a:pw1@h:1/a");
    assert_eq!(release2.version, release.version + 1);

    // The same name twice on an app is refused, and nothing is recorded.
    let taken = ledger.create_addon(owner.id, new_addon(app.id, "postgresql-x-00003", "u", &["DATABASE"])).await;
    assert!(matches!(taken, Err(LedgerError::Conflict(_))), "{taken:?}");
    assert!(ledger.find_addon("postgresql-x-00003").await.unwrap().is_none());
    assert_eq!(ledger.current_release(app.id).await.unwrap().unwrap().version, release2.version);
    let dup = ledger.create_addon(owner.id, new_addon(other.id, "postgresql-calm-00001", "u", DEFAULT_NAMES)).await;
    assert!(matches!(dup, Err(LedgerError::Conflict(_))), "{dup:?}");

    // Attached to another app under another name: the same URL there.
    let (shared, release3) = ledger.attach_addon(addon.id, other.id, owner.id, vec!["REPORTS".into()]).await.unwrap();
    assert_eq!(shared.name, "REPORTS");
    assert_eq!(shared.addon_app_name, "with-db");
    assert_eq!(release3.description, "Attach REPORTS (@ref:postgresql-calm-00001)");
    assert_eq!(release3.config_vars["REPORTS_URL"], "postgres://a:pw1@h:1/a");
    assert_eq!(release3.addons, ["heroku-postgresql:essential-0"]);

    // Listings.
    let on_app = ledger.list_addons(AddonFilter::App(app.id)).await.unwrap();
    assert_eq!(on_app.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["postgresql-calm-00001", "postgresql-bold-00002"]);
    let on_other = ledger.list_addons(AddonFilter::App(other.id)).await.unwrap();
    assert_eq!(on_other.len(), 1);
    assert_eq!(ledger.list_attachments(AddonFilter::Addon(addon.id)).await.unwrap().len(), 2);
    assert_eq!(ledger.list_attachments(AddonFilter::AccessibleBy(owner.id)).await.unwrap().len(), 3);
    let (stranger, _) = ledger.create_user("stranger@example.com", None, false).await.unwrap();
    assert!(ledger.list_addons(AddonFilter::AccessibleBy(stranger.id)).await.unwrap().is_empty());
    assert!(ledger.list_attachments(AddonFilter::AccessibleBy(stranger.id)).await.unwrap().is_empty());
    let by_name = ledger.find_attachment("REPORTS", Some(other.id)).await.unwrap().unwrap();
    assert_eq!(by_name.id, shared.id);
    assert!(ledger.find_attachment("REPORTS", Some(app.id)).await.unwrap().is_none());

    // Detaching removes the config var in a release.
    let (_, release4) = ledger.detach_addon(shared.id, owner.id).await.unwrap();
    assert_eq!(release4.description, "Detach REPORTS (@ref:postgresql-calm-00001)");
    assert!(!release4.config_vars.contains_key("REPORTS_URL"));
    assert!(release4.addons.is_empty());
    assert!(ledger.detach_addon(shared.id, owner.id).await.is_err());

    // A plan change is recorded.
    let changed = ledger.update_addon_plan(second.id, "essential-1").await.unwrap();
    assert_eq!(changed.plan, "essential-1");

    // Destroying detaches everywhere and forgets the add-on.
    ledger.attach_addon(addon.id, other.id, owner.id, vec!["REPORTS".into()]).await.unwrap();
    let (gone, releases) = ledger.destroy_addon(addon.id, owner.id).await.unwrap();
    assert_eq!(gone.provider_id, addon.provider_id);
    assert_eq!(releases.len(), 2);
    let config = ledger.current_release(app.id).await.unwrap().unwrap().config_vars;
    assert!(!config.contains_key("DATABASE_URL"));
    assert!(config.contains_key("HEROKU_POSTGRESQL_AMBER_URL"));
    assert!(!ledger.current_release(other.id).await.unwrap().unwrap().config_vars.contains_key("REPORTS_URL"));
    assert!(ledger.find_addon(&addon.id.to_string()).await.unwrap().is_none());
    assert!(ledger.list_attachments(AddonFilter::Addon(addon.id)).await.unwrap().is_empty());
    assert_eq!(
        ledger.current_release(app.id).await.unwrap().unwrap().addons,
        ["heroku-postgresql:essential-1"]
    );
}

/// A rollback keeps the app's own config vars of the target release, but add-ons' vars follow
/// the attachments of now: a destroyed add-on's URL does not come back, a new one stays.
pub async fn a_rollback_keeps_addon_config_vars_as_the_attachments_say(t: &TestLedger) {
    let ledger: &dyn Ledger = t.ledger.as_ref();
    let (owner, _) = ledger.create_user("rollback@example.com", None, false).await.unwrap();
    let app = ledger.create_app("rolls-back", owner.id).await.unwrap();
    let set = |key: &str, value: &str| BTreeMap::from([(key.to_string(), Some(value.to_string()))]);
    let (_, v_plain) = ledger.update_config_vars(app.id, owner.id, set("FOO", "1")).await.unwrap();
    let v_plain = v_plain.unwrap();
    let (first, _, _) =
        ledger.create_addon(owner.id, new_addon(app.id, "postgresql-old-00001", "postgres://a:pw1@h:1/a", DEFAULT_NAMES)).await.unwrap();
    let (_, v_with_first) = ledger.update_config_vars(app.id, owner.id, set("FOO", "2")).await.unwrap();
    let v_with_first = v_with_first.unwrap();
    assert_eq!(v_with_first.config_vars["DATABASE_URL"], "postgres://a:pw1@h:1/a");
    ledger.destroy_addon(first.id, owner.id).await.unwrap();
    let (second, _, _) =
        ledger.create_addon(owner.id, new_addon(app.id, "postgresql-new-00002", "postgres://b:pw2@h:1/b", DEFAULT_NAMES)).await.unwrap();

    // Back to when the first add-on was attached: the second's URL, not the destroyed one's.
    let back = ledger.rollback(app.id, owner.id, v_with_first.id).await.unwrap();
    assert_eq!(back.config_vars["DATABASE_URL"], "postgres://b:pw2@h:1/b");
    assert_eq!(back.config_vars["FOO"], "2");
    assert_eq!(back.addons, ["heroku-postgresql:essential-0"]);
    // Back to before any add-on: the attached one's URL stays.
    let back = ledger.rollback(app.id, owner.id, v_plain.id).await.unwrap();
    assert_eq!(back.config_vars["DATABASE_URL"], "postgres://b:pw2@h:1/b");
    assert_eq!(back.config_vars["FOO"], "1");
    // With no add-on left, no add-on URL comes back.
    ledger.destroy_addon(second.id, owner.id).await.unwrap();
    let back = ledger.rollback(app.id, owner.id, v_with_first.id).await.unwrap();
    assert_eq!(back.config_vars.get("DATABASE_URL"), None, "{:?}", back.config_vars.keys());
    assert_eq!(back.config_vars["FOO"], "2");
    assert!(back.addons.is_empty(), "{:?}", back.addons);
}
