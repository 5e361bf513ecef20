//! Teams in the ledger, on SQLite and PostgreSQL (paas-platform's tests cover the API's side).

use paas_ledger::LedgerError;
use paas_ledger::access::{AppOwner, Permissions, TeamRole, permissions_of};
use paas_ledger::ledger::AppFilter;

/// The ledger's side of teams, on SQLite and PostgreSQL: memberships and roles, team apps and
/// the listing rule, relations, transfers, and a removed member's grants going with them.
async fn teams_in_the_ledger(t: &crate::backends::TestLedger) {
    let ledger = t.ledger.as_ref();
    let (admin, _) = ledger.create_user("admin@example.com", None, false).await.unwrap();
    let (member, _) = ledger.create_user("member@example.com", None, false).await.unwrap();
    let team = ledger.create_team("acme", admin.id).await.unwrap();
    assert!(matches!(ledger.create_team("acme", member.id).await, Err(LedgerError::Conflict(_))));
    ledger.set_team_member(team.id, member.id, TeamRole::Member, true).await.unwrap();
    assert_eq!(ledger.team_role(team.id, member.id).await.unwrap(), Some(TeamRole::Member));
    let app = ledger.create_team_app("acme-web", admin.id, team.id, false).await.unwrap();
    assert_eq!(app.team.as_ref().map(|t| t.name.as_str()), Some("acme"));
    let relation = ledger.relation(&app, member.id).await.unwrap();
    assert_eq!(permissions_of(&member, &app, relation).to_csv(), "view");
    let listed = |filter| async move { ledger.list_apps(filter).await.unwrap().into_iter().map(|a| a.name).collect::<Vec<_>>() };
    assert_eq!(listed(AppFilter::AccessibleBy(member.id)).await, ["acme-web"]);
    ledger.set_app_locked(app.id, true).await.unwrap();
    assert!(listed(AppFilter::AccessibleBy(member.id)).await.is_empty());
    assert_eq!(listed(AppFilter::Team { team: team.id, visible_to: Some(admin.id) }).await, ["acme-web"]);
    ledger.add_collaborator_with(app.id, member.id, Permissions::parse(["deploy"]).unwrap()).await.unwrap();
    assert_eq!(listed(AppFilter::AccessibleBy(member.id)).await, ["acme-web"]);
    let removed = ledger.remove_team_member(team.id, "member@example.com").await.unwrap();
    assert_eq!(removed.user.id, member.id);
    assert_eq!(ledger.relation(&app, member.id).await.unwrap(), Default::default(), "the grant went with the membership");
    assert!(ledger.remove_team_member(team.id, "admin@example.com").await.is_err(), "the last admin stays");
    let moved = ledger.transfer_app(app.id, AppOwner::User(admin.id)).await.unwrap();
    assert_eq!((moved.team, moved.owner.id, moved.locked), (None, admin.id, false));
    ledger.destroy_team(team.id).await.unwrap();
    assert!(ledger.find_team("acme").await.unwrap().is_none());
}

#[tokio::test]
async fn teams_in_the_sqlite_ledger() {
    teams_in_the_ledger(&crate::backends::sqlite().await).await;
}

#[tokio::test]
async fn teams_in_the_postgres_ledger() {
    let Some(ledger) = crate::backends::postgres().await else { return };
    teams_in_the_ledger(&ledger).await;
}
