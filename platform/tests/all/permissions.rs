//! The permission table (`paas_platform::api::permissions::TABLE`), walked row by row against
//! the real router: every route has a row and every row a route, and each app row refuses a
//! collaborator who holds every permission but the one it needs (403 `forbidden`), lets one who
//! holds it past the check, and hides the app (404) from a stranger.

use axum::http::{Method, StatusCode};
use paas_platform::access::Permission;
use paas_platform::api::permissions::{self, Need, TABLE};
use serde_json::json;

use crate::api::{error, setup_with};

const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

/// A path template with its parameters filled in: `{app}` → `app`, `{team}` → `team`, others `x`.
fn fill(template: &str, app: &str, team: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{app}" => app.to_string(),
            "{team}" => team.to_string(),
            s if s.starts_with('{') => "x".to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_has_a_row_and_every_row_a_route() {
    let api = setup_with(Default::default()).await;
    let (_, paths) = paas_platform::api::app_and_paths(api.state.clone());
    let mut without_row = Vec::new();
    let mut served = Vec::new();
    for path in &paths {
        for method in METHODS {
            // Without credentials: a served method answers 401 (or runs a public handler), one the
            // route does not serve 405, and one served without a row 500 before its handler.
            let reply = api.send(method.clone(), &fill(path, "app", "team"), None, None, &[]).await;
            if reply.status == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            served.push((method.to_string(), path.to_string()));
            if permissions::need(method.as_str(), path).is_none() || reply.status == StatusCode::INTERNAL_SERVER_ERROR {
                without_row.push(format!("{method} {path} ({})", reply.status));
            }
        }
    }
    assert!(without_row.is_empty(), "routes without a row in the permission table: {without_row:#?}");
    let stale: Vec<_> = TABLE
        .iter()
        .filter(|(method, path, _)| !served.contains(&(method.to_string(), path.to_string())))
        .collect();
    assert!(stale.is_empty(), "rows without a route: {stale:#?}");
    assert_eq!(served.len(), TABLE.len());
}

/// A route's row, applied: for every app row, a collaborator with every permission but the one
/// needed is refused with 403 `forbidden` before anything happens, one with only it passes the
/// check (whatever the handler answers next), and a stranger sees a 404.
#[tokio::test]
async fn each_app_row_refuses_the_permission_it_needs_and_passes_it() {
    let api = setup_with(Default::default()).await;
    let owner = api.user("owner@example.com").await;
    let stranger = api.user("stranger@example.com").await;
    api.create_app(&owner, "guarded").await;
    let mut without = std::collections::BTreeMap::new();
    let mut only = std::collections::BTreeMap::new();
    for permission in Permission::ALL {
        let email = format!("without-{permission}@example.com");
        let key = api.user(&email).await;
        let rest: Vec<&str> = Permission::ALL.iter().filter(|p| **p != permission).map(|p| p.name()).collect();
        let body = json!({"user": email, "permissions": rest});
        let added = api.send(Method::POST, "/apps/guarded/collaborators", Some(&owner), Some(body), &[]).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        without.insert(permission, key);
        let email = format!("only-{permission}@example.com");
        let key = api.user(&email).await;
        let body = json!({"user": email, "permissions": [permission.name()]});
        let added = api.send(Method::POST, "/apps/guarded/collaborators", Some(&owner), Some(body), &[]).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
        only.insert(permission, key);
    }
    let mut checked = 0;
    for (method, path, need) in TABLE {
        let Need::App(permission) = need else { continue };
        if !path.contains("{app}") {
            continue;
        }
        let method: Method = method.parse().unwrap();
        let uri = fill(path, "guarded", "team");
        if permission != &Permission::View {
            let reply = api.send(method.clone(), &uri, Some(&without[permission]), None, &[]).await;
            let (status, id, message) = error(&reply);
            assert_eq!((status, id), (StatusCode::FORBIDDEN, "forbidden"), "{method} {path} without {permission}: {message}");
            assert!(message.contains(&format!("the {permission} permission")), "{message}");
        }
        let reply = api.send(method.clone(), &uri, Some(&only[permission]), None, &[]).await;
        assert!(
            ![StatusCode::FORBIDDEN, StatusCode::UNAUTHORIZED].contains(&reply.status),
            "{method} {path} with {permission}: {} {}",
            reply.status,
            reply.body
        );
        let reply = api.send(method.clone(), &uri, Some(&stranger), None, &[]).await;
        assert_eq!(error(&reply).0, StatusCode::NOT_FOUND, "{method} {path} by a stranger");
        checked += 1;
    }
    assert!(checked > 50, "{checked} app rows checked");
    // Nothing a refused request asked for happened.
    let app = api.get("/apps/guarded", &owner).await;
    assert_eq!(app.status, StatusCode::OK, "{}", app.body);
}

/// Operator rows refuse users; the owner rows keep a personal app's destruction, renaming and
/// transfer to its owner.
#[tokio::test]
async fn operator_and_owner_rows_refuse_everyone_else() {
    let api = setup_with(Default::default()).await;
    let (owner, friend) = (api.user("owner@example.com").await, api.user("friend@example.com").await);
    api.create_app(&owner, "personal").await;
    let added =
        api.send(Method::POST, "/apps/personal/collaborators", Some(&owner), Some(json!({"user": "friend@example.com"})), &[]).await;
    assert_eq!(added.status, StatusCode::CREATED);
    // A personal app's full collaborator keeps Heroku's plain shape: the heroku CLI's `access`
    // then shows no permissions column, as before teams.
    assert_eq!(added.body.get("permissions"), None, "{}", added.body);
    for (method, path, need) in TABLE {
        if *need != Need::Operator {
            continue;
        }
        let reply = api.send(method.parse().unwrap(), &fill(path, "personal", "t"), Some(&friend), Some(json!({})), &[]).await;
        assert_eq!(error(&reply).0, StatusCode::FORBIDDEN, "{method} {path}");
    }
    // The owner rows (destroy, rename, transfer) keep a personal app to its owner.
    for (method, path, body) in [
        (Method::DELETE, "/apps/personal", None),
        (Method::PATCH, "/apps/personal", Some(json!({"name": "stolen"}))),
        (Method::PATCH, "/teams/apps/personal", Some(json!({"owner": "friend@example.com"}))),
    ] {
        let reply = api.send(method.clone(), path, Some(&friend), body, &[]).await;
        assert_eq!(error(&reply).1, "forbidden", "{method} {path}");
        assert!(error(&reply).2.contains("Only the owner of personal"), "{}", reply.body);
    }
    // A full collaborator holds all four permissions: manage lets them add a domain.
    let reply = api.send(Method::POST, "/apps/personal/domains", Some(&friend), Some(json!({"hostname": "www.example.com"})), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    // The owner may.
    let reply = api.send(Method::DELETE, "/apps/personal", Some(&owner), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}
