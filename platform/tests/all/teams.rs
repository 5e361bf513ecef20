//! Teams in-process: Heroku's shapes for teams, members, team apps and team-app collaborators
//! with permissions; roles (admin, member, viewer); locking; transfers; a removed member's access
//! ending at once (API and live log sessions).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api::{Api, Reply, error, setup_with};

async fn call(api: &Api, method: Method, path: &str, key: &str, body: Option<Value>) -> Reply {
    api.send(method, path, Some(key), body, &[]).await
}

fn ok(reply: &Reply) -> &Value {
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    &reply.body
}

fn names(reply: &Reply) -> Vec<String> {
    ok(reply).as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect()
}

struct Team {
    api: Api,
    admin: String,
    member: String,
    viewer: String,
    outsider: String,
}

/// Team `acme`: admin@, member@ (member), viewer@ (viewer); outsider@ in no team.
async fn team() -> Team {
    let api = setup_with(Default::default()).await;
    let admin = api.user("admin@example.com").await;
    let member = api.user("member@example.com").await;
    let viewer = api.user("viewer@example.com").await;
    let outsider = api.user("outsider@example.com").await;
    let created = call(&api, Method::POST, "/teams", &admin, Some(json!({"name": "acme"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!((created.body["role"].as_str(), created.body["type"].as_str()), (Some("admin"), Some("team")));
    for (email, role, method) in [("member@example.com", "member", Method::PUT), ("viewer@example.com", "viewer", Method::POST)] {
        let reply = call(&api, method, "/teams/acme/members", &admin, Some(json!({"email": email, "role": role}))).await;
        assert_eq!(ok(&reply)["role"], role);
    }
    Team { api, admin, member, viewer, outsider }
}

#[tokio::test]
async fn teams_members_and_roles_have_herokus_shapes() {
    let Team { api, admin, member, viewer, outsider } = team().await;
    let teams = call(&api, Method::GET, "/teams", &viewer, None).await;
    assert_eq!(names(&teams), ["acme"]);
    assert_eq!(teams.body[0]["role"], "viewer");
    assert_eq!(names(&call(&api, Method::GET, "/teams", &outsider, None).await), Vec::<String>::new());
    let members = call(&api, Method::GET, "/teams/acme/members", &viewer, None).await;
    let roles: Vec<(String, String)> = ok(&members)
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().into(), m["role"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        roles,
        [("admin@example.com".into(), "admin".into()), ("member@example.com".into(), "member".into()), ("viewer@example.com".into(), "viewer".into())]
    );
    // Only admins manage members; outsiders get a 403 too (the heroku CLI's access expects it).
    for key in [&member, &viewer] {
        let reply = call(&api, Method::POST, "/teams/acme/members", key, Some(json!({"email": "outsider@example.com", "role": "admin"}))).await;
        assert_eq!(error(&reply).0, StatusCode::FORBIDDEN);
        assert_eq!(error(&reply).1, "forbidden");
    }
    let reply = call(&api, Method::GET, "/teams/acme/members", &outsider, None).await;
    assert_eq!(error(&reply), (StatusCode::FORBIDDEN, "forbidden", "You are not a member of team acme."));
    assert_eq!(call(&api, Method::GET, "/teams/nope", &admin, None).await.status, StatusCode::NOT_FOUND);
    // Roles are checked; the last admin stays.
    let reply = call(&api, Method::PATCH, "/teams/acme/members", &admin, Some(json!({"email": "viewer@example.com", "role": "owner"}))).await;
    assert_eq!(error(&reply).0, StatusCode::UNPROCESSABLE_ENTITY);
    let reply = call(&api, Method::PATCH, "/teams/acme/members", &admin, Some(json!({"email": "admin@example.com", "role": "member"}))).await;
    assert!(error(&reply).2.contains("last admin"), "{}", reply.body);
    let reply = call(&api, Method::DELETE, "/teams/acme/members/admin@example.com", &admin, None).await;
    assert!(error(&reply).2.contains("last admin"), "{}", reply.body);
    let reply = call(&api, Method::PATCH, "/teams/acme/members", &admin, Some(json!({"email": "outsider@example.com", "role": "member"}))).await;
    assert_eq!(error(&reply).0, StatusCode::NOT_FOUND, "PATCH changes members only");
    // The permission list and the feature the heroku CLI looks for.
    let permissions = call(&api, Method::GET, "/teams/permissions", &viewer, None).await;
    assert_eq!(names(&permissions), ["view", "deploy", "operate", "manage"]);
    let features = call(&api, Method::GET, "/teams/acme/features", &viewer, None).await;
    assert_eq!((features.body[0]["name"].as_str(), features.body[0]["enabled"].as_bool()), (Some("org-access-controls"), Some(true)));
    // The default team, on /account.
    assert_eq!(ok(&call(&api, Method::GET, "/account", &member, None).await)["default_team"], Value::Null);
    let account = call(&api, Method::PATCH, "/account", &member, Some(json!({"default_team": "acme"}))).await;
    assert_eq!(ok(&account)["default_team"]["name"], "acme");
    let reply = call(&api, Method::PATCH, "/account", &outsider, Some(json!({"default_team": "acme"}))).await;
    assert_eq!(error(&reply).1, "forbidden");
    // A team with apps cannot be deleted.
    let app = call(&api, Method::POST, "/teams/apps", &member, Some(json!({"name": "acme-web"}))).await;
    assert_eq!(app.status, StatusCode::CREATED, "the default team: {}", app.body);
    assert!(error(&call(&api, Method::DELETE, "/teams/acme", &admin, None).await).2.contains("still owns 1 app"));
}

#[tokio::test]
async fn team_apps_follow_roles_grants_and_locks() {
    let Team { api, admin, member, viewer, outsider } = team().await;
    // Viewers do not create apps; members do, and get all four permissions on them.
    let reply = call(&api, Method::POST, "/teams/apps", &viewer, Some(json!({"name": "acme-x", "team": "acme"}))).await;
    assert_eq!(error(&reply).0, StatusCode::FORBIDDEN);
    let app = call(&api, Method::POST, "/teams/apps", &member, Some(json!({"name": "acme-web", "team": "acme"}))).await;
    assert_eq!(app.status, StatusCode::CREATED, "{}", app.body);
    assert_eq!(app.body["team"]["name"], "acme");
    assert_eq!(app.body["owner"]["email"], "acme@herokumanager.com");
    assert_eq!(app.body["locked"], false);
    let reply = call(&api, Method::POST, "/teams/apps", &outsider, Some(json!({"name": "acme-y", "team": "acme"}))).await;
    assert_eq!(error(&reply).1, "forbidden");

    // Everyone in the team sees it; the viewer may read but not change it.
    for key in [&admin, &member, &viewer] {
        assert_eq!(names(&call(&api, Method::GET, "/teams/acme/apps", key, None).await), ["acme-web"]);
        assert!(names(&call(&api, Method::GET, "/apps", key, None).await).contains(&"acme-web".to_string()));
    }
    assert_eq!(call(&api, Method::GET, "/apps/acme-web/config-vars", &viewer, None).await.status, StatusCode::OK);
    let reply = call(&api, Method::PATCH, "/apps/acme-web/config-vars", &viewer, Some(json!({"A": "1"}))).await;
    assert_eq!(error(&reply), (StatusCode::FORBIDDEN, "forbidden", "You need the deploy permission on acme-web to do that; you have view."));
    assert_eq!(ok(&call(&api, Method::PATCH, "/apps/acme-web/config-vars", &member, Some(json!({"A": "1"}))).await)["A"], "1");
    assert_eq!(call(&api, Method::GET, "/apps/acme-web", &outsider, None).await.status, StatusCode::NOT_FOUND);

    // A grant through the team-app collaborators route: deploy only, then operate.
    let grant = json!({"user": "outsider@example.com", "permissions": ["deploy"]});
    let added = call(&api, Method::POST, "/teams/apps/acme-web/collaborators", &viewer, Some(grant.clone())).await;
    assert_eq!(error(&added).1, "forbidden", "a viewer does not manage");
    let added = call(&api, Method::POST, "/teams/apps/acme-web/collaborators", &admin, Some(grant)).await;
    let granted: Vec<&str> = ok(&added)["permissions"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(granted, ["view", "deploy"]);
    assert_eq!(call(&api, Method::PATCH, "/apps/acme-web/config-vars", &outsider, Some(json!({"B": "2"}))).await.status, StatusCode::OK);
    let scale = || call(&api, Method::PATCH, "/apps/acme-web/formation", &outsider, Some(json!({"updates": [{"type": "web", "quantity": 1}]})));
    assert_eq!(error(&scale().await).1, "forbidden");
    let patch = json!({"permissions": ["operate"]});
    ok(&call(&api, Method::PATCH, "/teams/apps/acme-web/collaborators/outsider@example.com", &admin, Some(patch)).await);
    assert_ne!(error(&scale().await).0, StatusCode::FORBIDDEN, "operate lets a scale past the check");
    assert_eq!(error(&call(&api, Method::PATCH, "/apps/acme-web/config-vars", &outsider, Some(json!({"B": "3"}))).await).1, "forbidden");
    let access = call(&api, Method::GET, "/apps/acme-web/collaborators", &viewer, None).await;
    let emails: Vec<&str> = ok(&access).as_array().unwrap().iter().map(|c| c["user"]["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["member@example.com", "outsider@example.com"], "the creator holds a grant; no owner row");

    // The team's add-ons are seen as its apps are (the add-on listing's SQL goes by the same rule).
    let app_id = uuid::Uuid::parse_str(app.body["id"].as_str().unwrap()).unwrap();
    let creator = api.state.ledger.find_user("member@example.com").await.unwrap().unwrap();
    let addon = paas_platform::addons::NewAddon {
        app_id,
        name: "postgresql-team-1".into(),
        service: "heroku-postgresql".into(),
        plan: "essential-0".into(),
        provider_id: "addon_team_1".into(),
        config: std::collections::BTreeMap::from([("URL".to_string(), "postgres://x".to_string())]),
        attachment_names: vec!["DATABASE".into()],
    };
    api.state.ledger.create_addon(creator.id, addon).await.unwrap();
    assert_eq!(call(&api, Method::GET, "/addons/postgresql-team-1", &viewer, None).await.status, StatusCode::OK);
    assert_eq!(names(&call(&api, Method::GET, "/addons", &viewer, None).await), ["postgresql-team-1"]);

    // Locked: the viewer loses the implicit view; the member keeps their grant; admins see all.
    let locked = call(&api, Method::PATCH, "/teams/apps/acme-web", &viewer, Some(json!({"locked": true}))).await;
    assert_eq!(error(&locked).1, "forbidden");
    assert_eq!(ok(&call(&api, Method::PATCH, "/teams/apps/acme-web", &admin, Some(json!({"locked": true}))).await)["locked"], true);
    assert_eq!(call(&api, Method::GET, "/apps/acme-web", &viewer, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(names(&call(&api, Method::GET, "/teams/acme/apps", &viewer, None).await), Vec::<String>::new());
    assert_eq!(call(&api, Method::GET, "/teams/apps/acme-web", &member, None).await.status, StatusCode::OK);
    assert_eq!(call(&api, Method::GET, "/addons/postgresql-team-1", &viewer, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn apps_move_between_a_user_and_a_team() {
    let Team { api, admin, member, viewer, outsider } = team().await;
    api.create_app(&member, "mine").await;
    // A personal app: only its owner transfers it, into a team they are a member of.
    let reply = call(&api, Method::PATCH, "/teams/apps/mine", &admin, Some(json!({"owner": "acme"}))).await;
    assert_eq!(error(&reply).0, StatusCode::NOT_FOUND, "the admin cannot see a member's personal app");
    let moved = call(&api, Method::PATCH, "/teams/apps/mine", &member, Some(json!({"owner": "acme"}))).await;
    assert_eq!(ok(&moved)["team"]["name"], "acme");
    assert_eq!(call(&api, Method::GET, "/apps/mine", &viewer, None).await.status, StatusCode::OK);
    assert_eq!(call(&api, Method::GET, "/apps/mine/releases", &admin, None).await.status, StatusCode::OK);
    // Out of the team, to a member, by an admin only (the member holds manage, not the admin role).
    let reply = call(&api, Method::PATCH, "/teams/apps/mine", &member, Some(json!({"owner": "viewer@example.com"}))).await;
    assert_eq!(error(&reply).1, "forbidden");
    let reply = call(&api, Method::PATCH, "/teams/apps/mine", &admin, Some(json!({"owner": "outsider@example.com"}))).await;
    assert!(error(&reply).2.contains("not a member of team acme"), "{}", reply.body);
    let transfer = json!({"app": "mine", "recipient": "viewer@example.com"});
    let reply = call(&api, Method::POST, "/account/app-transfers", &admin, Some(transfer)).await;
    assert_eq!(ok(&reply)["state"], "accepted");
    let app = call(&api, Method::GET, "/apps/mine", &viewer, None).await;
    assert_eq!((ok(&app)["owner"]["email"].as_str(), &app.body["team"]), (Some("viewer@example.com"), &Value::Null));
    assert_eq!(call(&api, Method::GET, "/apps/mine", &member, None).await.status, StatusCode::NOT_FOUND, "collaborators removed");
    assert_eq!(call(&api, Method::GET, "/apps/mine", &outsider, None).await.status, StatusCode::NOT_FOUND);
    let reply = call(&api, Method::POST, "/account/app-transfers", &viewer, Some(json!({"app": "mine", "recipient": "admin@example.com"}))).await;
    assert!(error(&reply).2.contains("between users are not supported"), "{}", reply.body);
}

/// Removing a member ends their access at once: the next request on the team is a 403, the
/// team's apps are gone from them (the stranger's 404), their grants are gone, and their live
/// log session of a team app ends.
#[tokio::test]
async fn a_removed_member_is_refused_on_the_next_request_and_their_log_session_ends() {
    let Team { api, admin, member, .. } = team().await;
    ok(&call(&api, Method::POST, "/teams/apps", &admin, Some(json!({"name": "acme-api", "team": "acme"}))).await);
    let grant = json!({"user": "member@example.com", "permissions": ["deploy", "operate"]});
    ok(&call(&api, Method::POST, "/teams/apps/acme-api/collaborators", &admin, Some(grant)).await);
    let session = call(&api, Method::POST, "/apps/acme-api/log-sessions", &member, Some(json!({"tail": true}))).await;
    let url = ok(&session)["logplex_url"].as_str().unwrap().to_string();
    let token = url.rsplit('/').next().unwrap().to_string();
    assert!(api.state.logs.find_session(&token).is_some());
    assert_eq!(call(&api, Method::GET, "/apps/acme-api/config-vars", &member, None).await.status, StatusCode::OK);

    ok(&call(&api, Method::DELETE, "/teams/acme/members/member@example.com", &admin, None).await);
    assert!(api.state.logs.find_session(&token).is_none(), "the live session ended");
    let reply = call(&api, Method::GET, "/teams/acme/apps", &member, None).await;
    assert_eq!(error(&reply), (StatusCode::FORBIDDEN, "forbidden", "You are not a member of team acme."));
    assert_eq!(call(&api, Method::GET, "/apps/acme-api/config-vars", &member, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&api, Method::PATCH, "/apps/acme-api/config-vars", &member, Some(json!({"X": "1"}))).await.status, StatusCode::NOT_FOUND);
    // Back in the team as a viewer: the old grant does not come back.
    ok(&call(&api, Method::PUT, "/teams/acme/members", &admin, Some(json!({"email": "member@example.com", "role": "viewer"}))).await);
    assert_eq!(error(&call(&api, Method::PATCH, "/apps/acme-api/config-vars", &member, Some(json!({"X": "1"}))).await).1, "forbidden");
}
