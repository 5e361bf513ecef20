//! Teams and app permissions end to end (issue 27), on one server: for each app permission
//! (view, deploy, operate, manage) and each team role (admin, member, viewer), a command it
//! allows succeeds and one it does not is refused with 403 `forbidden`, through the official
//! `heroku` CLI and through `paas`; apps move between a user and the team (apps:transfer) and
//! lock; a removed member is refused on the next request and on the next `git push`.

use crate::heroku_cli::{Heroku, Run, create_user, has_row, heroku_bin, lines};
use crate::support::{TestServer, git, login, ok, run, try_git};

/// The heroku CLI's error lines, joined (it wraps them and prefixes `›`).
fn message(run: &Run) -> String {
    run.stderr.split_whitespace().filter(|w| *w != "›").collect::<Vec<_>>().join(" ")
}

/// `heroku ARGS` as `key` fails with Heroku's `forbidden` error id and says `says`.
fn heroku_forbidden(heroku: &Heroku, key: &str, args: &[&str], says: &str) {
    let run = heroku.run(Some(key), args);
    let message = message(&run);
    assert_ne!(run.code, Some(0), "heroku {args:?} should be refused:\n{}", run.stdout);
    assert!(message.contains("Error ID: forbidden") && message.contains(says), "heroku {args:?}: {message}");
}

/// `paas ARGS` as `key` exits 1 with the API's 403 message.
fn paas_forbidden(server: &TestServer, key: &str, args: &[&str], says: &str) {
    let output = run(server.paas_as(key).args(args).env_remove("PAAS_APP"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "paas {args:?} should be refused: {stderr}");
    assert!(stderr.contains(says), "paas {args:?}: {stderr}");
}

fn paas(server: &TestServer, key: &str, args: &[&str]) -> String {
    ok(server.paas_as(key).args(args).env_remove("PAAS_APP"))
}

#[test]
fn each_permission_and_role_allows_its_commands_and_refuses_the_rest_through_both_clis() {
    let Some(bin) = heroku_bin() else { return };
    let server = TestServer::start();
    let heroku = Heroku { bin, home: tempfile::tempdir().unwrap(), api_url: server.api_url.clone() };
    let ada = create_user(&server, "ada@example.com", "pw");
    let meg = create_user(&server, "meg@example.com", "pw");
    let vic = create_user(&server, "vic@example.com", "pw");

    // Roles. The admin makes the team with paas (the heroku CLI has no teams:create).
    paas(&server, &ada, &["teams:create", "acme"]);
    let added = heroku.ok(&ada, &["members:add", "meg@example.com", "--role", "member", "-t", "acme"]);
    assert!(added.stderr.contains("Adding meg@example.com to acme as member... done"), "{}", added.stderr);
    paas(&server, &ada, &["members:add", "vic@example.com", "--role", "viewer", "-t", "acme"]);
    let members = heroku.ok(&vic, &["members", "-t", "acme"]).stdout;
    for row in [["ada@example.com", "admin"], ["meg@example.com", "member"], ["vic@example.com", "viewer"]] {
        assert!(has_row(&members, &row), "{members}");
    }
    assert_eq!(paas(&server, &vic, &["members", "-t", "acme"]), "ada@example.com  admin\nmeg@example.com  member\nvic@example.com  viewer\n");
    assert!(has_row(&heroku.ok(&meg, &["teams"]).stdout, &["acme", "member"]));
    assert_eq!(paas(&server, &vic, &["teams"]), "Team  Role\nacme  viewer\n");
    // admin: manages members; member and viewer do not.
    let not_admin = "You need the admin role in team acme to do that";
    heroku_forbidden(&heroku, &meg, &["members:add", "x@example.com", "--role", "admin", "-t", "acme"], not_admin);
    paas_forbidden(&server, &vic, &["members:add", "x@example.com", "--role", "admin", "-t", "acme"], not_admin);
    // member: creates team apps; viewer does not.
    let created = heroku.ok(&meg, &["apps:create", "acme-web", "--team", "acme"]);
    assert!(created.stderr.contains("Creating acme-web... done"), "{}", created.stderr);
    paas(&server, &meg, &["apps:create", "acme-api", "--team", "acme", "--no-remote"]);
    let not_member = "You need the member role in team acme to do that; you are a viewer.";
    heroku_forbidden(&heroku, &vic, &["apps:create", "acme-x", "--team", "acme"], not_member);
    paas_forbidden(&server, &vic, &["apps:create", "acme-x", "--team", "acme", "--no-remote"], not_member);
    assert_eq!(lines(&heroku.ok(&vic, &["apps", "--team", "acme"]).stdout), ["=== Apps in team acme", "acme-api", "acme-web"]);
    assert_eq!(paas(&server, &vic, &["apps", "--team", "acme"]), "=== Apps in team acme\n\nacme-api\nacme-web\n");
    // viewer: reads the team's apps (view), changes nothing.
    assert_eq!(lines(&heroku.ok(&vic, &["config", "-a", "acme-web"]).stdout), ["=== acme-web Config Vars"]);
    paas(&server, &vic, &["releases", "-a", "acme-api"]);
    let no_deploy = "You need the deploy permission on acme-web to do that; you have view.";
    heroku_forbidden(&heroku, &vic, &["config:set", "A=1", "-a", "acme-web"], no_deploy);
    paas_forbidden(&server, &vic, &["config:set", "A=1", "-a", "acme-web"], no_deploy);

    // Permissions: one collaborator (outside the team) per permission, given with access:add.
    let mut keys = Vec::new();
    for permission in ["view", "deploy", "operate", "manage"] {
        let email = format!("{permission}@example.com");
        keys.push(create_user(&server, &email, "pw"));
        let granted = heroku.ok(&ada, &["access:add", &email, "-a", "acme-web", "--permissions", permission]);
        let with = if permission == "view" { "view".to_string() } else { format!("{permission}, view") };
        assert!(granted.stderr.contains(&format!("with {with} permissions")), "{}", granted.stderr);
        paas(&server, &ada, &["access:add", &email, "-a", "acme-api", "--permissions", permission]);
    }
    let [view, deploy, operate, manage] = [&keys[0], &keys[1], &keys[2], &keys[3]];
    let access = heroku.ok(&ada, &["access", "-a", "acme-web"]).stdout;
    assert!(has_row(&access, &["deploy@example.com", "collaborator", "deploy,", "view"]), "{access}");
    assert!(has_row(&access, &["ada@example.com", "admin", "deploy,", "manage,", "operate,", "view"]), "{access}");
    // Each row: (key, an allowed command, a refused one, what the refusal says), for each app.
    let cases: [(&str, &[&str], &[&str], &str); 4] = [
        (view, &["releases"], &["domains:add", "www.view.example.com"], "the manage permission"),
        (deploy, &["config:set", "A=1"], &["ps:restart"], "the operate permission"),
        (operate, &["ps:restart"], &["config:set", "A=2"], "the deploy permission"),
        (manage, &["domains:add", "www.manage.example.com"], &["ps:restart"], "the operate permission"),
    ];
    fn with_app<'a>(args: &[&'a str], app: &'a str) -> Vec<&'a str> {
        [args, &["-a", app][..]].concat()
    }
    for (key, allowed, refused, says) in cases {
        heroku.ok(key, &with_app(allowed, "acme-web"));
        heroku_forbidden(&heroku, key, &with_app(refused, "acme-web"), says);
        let mut allowed = allowed.to_vec();
        if allowed[0] == "domains:add" {
            allowed[1] = "api.manage.example.com";
        }
        paas(&server, key, &with_app(&allowed, "acme-api"));
        paas_forbidden(&server, key, &with_app(refused, "acme-api"), says);
    }
    // access:update narrows or widens a grant: deploy becomes operate.
    let updated = heroku.ok(&ada, &["access:update", "deploy@example.com", "-a", "acme-web", "--permissions", "operate"]);
    assert!(updated.stderr.contains("with operate,view permissions"), "{}", updated.stderr);
    heroku.ok(deploy, &["ps:restart", "-a", "acme-web"]);
    heroku_forbidden(&heroku, deploy, &["config:set", "A=3", "-a", "acme-web"], "the deploy permission");
    paas(&server, &ada, &["access:update", "deploy@example.com", "-a", "acme-api", "--permissions", "operate"]);
    paas(&server, deploy, &["ps:restart", "-a", "acme-api"]);
    paas_forbidden(&server, deploy, &["config:set", "A=3", "-a", "acme-api"], "the deploy permission");

    // Transfers: a member's personal app into the team (heroku's PATCH /teams/apps/{app}), out of
    // it to a member by an admin only; a locked app gives the viewer no implicit view.
    paas(&server, &meg, &["apps:create", "meg-own", "--no-remote"]);
    let moved = heroku.ok(&meg, &["apps:transfer", "acme", "-a", "meg-own"]);
    assert!(moved.stderr.contains("Transferring meg-own to acme... done"), "{}", moved.stderr);
    assert_eq!(paas(&server, &vic, &["apps", "--team", "acme"]), "=== Apps in team acme\n\nacme-api\nacme-web\nmeg-own\n");
    let out = ["apps:transfer", "vic@example.com", "-a", "meg-own", "--confirm", "meg-own"];
    heroku_forbidden(&heroku, &meg, &out, "You need the admin role in team acme to do that; you are a member.");
    heroku.ok(&ada, &out);
    assert_eq!(lines(&heroku.ok(&vic, &["apps"]).stdout)[..2], ["=== vic@example.com Apps", "meg-own"]);
    let locked = heroku.ok(&ada, &["apps:lock", "-a", "acme-api"]);
    assert!(locked.stderr.contains("Locking acme-api... done"), "{}", locked.stderr);
    assert!(heroku.run(Some(&vic), &["config", "-a", "acme-api"]).stderr.contains("Couldn't find that app."));

    // A member with git access to a team app (its creator holds all four) is removed: their next
    // request and their next push are refused.
    let home = tempfile::tempdir().unwrap();
    login(&server, home.path(), &meg);
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("README"), "hi\n").unwrap();
    git(home.path(), repo.path(), &["init", "--quiet", "--initial-branch=main"]);
    git(home.path(), repo.path(), &["add", "README"]);
    git(home.path(), repo.path(), &["commit", "--quiet", "-m", "First"]);
    let url = format!("{}/acme-web.git", server.api_url);
    git(home.path(), repo.path(), &["ls-remote", &url]);
    let removed = heroku.ok(&ada, &["members:remove", "meg@example.com", "-t", "acme"]);
    assert!(removed.stderr.contains("Removing meg@example.com from acme... done"), "{}", removed.stderr);
    let not_in_team = "You are not a member of team acme.";
    heroku_forbidden(&heroku, &meg, &["apps", "--team", "acme"], not_in_team);
    paas_forbidden(&server, &meg, &["apps", "--team", "acme"], not_in_team);
    let push = try_git(home.path(), repo.path(), &["push", &url, "main"]);
    let said = String::from_utf8_lossy(&push.stderr);
    assert!(!push.status.success() && said.contains("403"), "the push went through: {said}");
    assert!(heroku.run(Some(&meg), &["config", "-a", "acme-web"]).stderr.contains("Couldn't find that app."));
}
