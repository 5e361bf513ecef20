//! Heroku Postgres add-ons end to end: a real `paas server` initialises its own PostgreSQL
//! cluster (as the unprivileged postgres user) at the first `paas addons:create`; the app's
//! config has DATABASE_URL, `psql "$DATABASE_URL" -c 'select 1'` works from the host, sharing
//! with `addons:attach --as` and `addons:detach` make releases, `addons:destroy` drops the
//! database (connecting fails), a server killed and started again brings its cluster back,
//! and stopping the server stops the cluster. examples/express-postgres (native, `pg` from npm)
//! counts its visits in its add-on through a restart and a rollback; another app's dyno, given
//! the same URL, cannot connect until the add-on is attached to it.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use crate::support::{TestServer, app_repo, eventually_get, ok, push, replaced, router_get, run, searchable_tempdir};

/// Where `server`'s add-on URLs point: its dyno network's service address (the test servers each
/// have a range of their own, kept in `<dir>/dyno-network`), or 127.0.0.1 without one.
pub fn addon_url_host(server: &TestServer) -> String {
    let kept = server.data_dir().parent().unwrap().join("dyno-network");
    match std::fs::read_to_string(kept).ok().and_then(|r| paas_sandbox::net::parse_range(&r).ok()) {
        Some(range) if crate::native::runc_available() => paas_sandbox::net::service_address(range).to_string(),
        _ => "127.0.0.1".to_string(),
    }
}

/// psql is there (CI installs it); elsewhere the test says why it skips.
fn psql_available() -> bool {
    if Command::new("psql").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "psql is missing: run .ci/setup");
        eprintln!("skipping: psql is not installed");
        return false;
    }
    true
}

/// `psql URL -c 'select 1'` from the host (5 s to connect).
pub fn psql(url: &str) -> std::process::Output {
    run(Command::new("psql").arg(url).args(["-XAtc", "select 1"]).env("PGCONNECT_TIMEOUT", "5"))
}

#[test]
fn addons_create_gives_a_database_psql_reaches_and_destroy_drops() {
    if !psql_available() {
        return;
    }
    let server = TestServer::start_in(searchable_tempdir());
    let paas = |args: &[&str]| ok(server.paas().args(args).env_remove("PAAS_APP"));
    paas(&["apps:create", "shop"]);
    paas(&["apps:create", "reports"]);

    let created = paas(&["addons:create", "heroku-postgresql:essential-0", "-a", "shop"]);
    assert!(created.contains("as DATABASE_URL"), "{created}");
    let name = created.split_whitespace().nth(1).unwrap().to_string();
    assert!(name.starts_with("postgresql-"), "{created}");

    let url = paas(&["config:get", "DATABASE_URL", "-a", "shop"]).trim().to_string();
    // The URL names the dyno network's service address (the host reaches it too).
    assert!(url.starts_with("postgres://addon_") && url.contains(&format!("@{}:", addon_url_host(&server))), "{url}");
    let answer = psql(&url);
    assert!(answer.status.success(), "psql: {}", String::from_utf8_lossy(&answer.stderr));
    assert_eq!(String::from_utf8_lossy(&answer.stdout).trim(), "1");
    // TLS, as heroku pg:psql requires for a host other than localhost.
    let tls = run(Command::new("psql").arg(&url).args(["-XAtc", "select ssl from pg_stat_ssl where pid = pg_backend_pid()"]).env("PGSSLMODE", "require"));
    assert_eq!(String::from_utf8_lossy(&tls.stdout).trim(), "t", "{}", String::from_utf8_lossy(&tls.stderr));
    // A wrong password is refused (the cluster checks passwords over TCP).
    let password = url.split(':').nth(2).unwrap().split('@').next().unwrap();
    assert!(!psql(&url.replacen(password, "wrong", 1)).status.success());

    let listed = paas(&["addons", "-a", "shop"]);
    assert!(listed.contains(&name) && listed.contains("heroku-postgresql:essential-0") && listed.contains("DATABASE"), "{listed}");
    let info = paas(&["addons:info", &name]);
    assert!(info.contains("Plan:") && info.contains("essential-0") && info.contains("Owning app:   shop"), "{info}");
    let releases = paas(&["releases", "-a", "shop"]);
    assert!(releases.contains(&format!("Attach DATABASE (@ref:{name})")), "{releases}");

    // Shared with another app under another name, then detached.
    let attached = paas(&["addons:attach", &name, "--as", "SHOP_DB", "-a", "reports"]);
    assert!(attached.contains("SHOP_DB_URL"), "{attached}");
    assert_eq!(paas(&["config:get", "SHOP_DB_URL", "-a", "reports"]).trim(), url);
    paas(&["addons:detach", "SHOP_DB", "-a", "reports"]);
    assert_eq!(paas(&["config:get", "SHOP_DB_URL", "-a", "reports"]).trim(), "");

    // A server killed with its cluster running comes back with it: the add-on answers again
    // without any API call (the leftover postmaster is stopped first).
    let server = TestServer::start_in(server.crash());
    let paas = |args: &[&str]| ok(server.paas().args(args).env_remove("PAAS_APP"));
    let back = (0..300).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        psql(&url).status.success()
    });
    assert!(back, "the add-on database did not answer after a restart");

    // Destroying wants the app's name, then drops the database.
    let refused = run(server.paas().args(["addons:destroy", &name, "-a", "shop"]).env_remove("PAAS_APP"));
    assert_eq!(refused.status.code(), Some(2));
    assert!(psql(&url).status.success(), "nothing was destroyed yet");
    paas(&["addons:destroy", &name, "-a", "shop", "--confirm", "shop"]);
    assert!(!psql(&url).status.success(), "the destroyed add-on's database still answers");
    assert_eq!(paas(&["config:get", "DATABASE_URL", "-a", "shop"]).trim(), "");
    assert!(paas(&["addons", "-a", "shop"]).contains("No add-ons"));

    // The ledger, which holds the URL, is the server's alone.
    let ledger_mode = std::fs::metadata(server.data_dir().join("paas.db")).unwrap().permissions().mode() & 0o777;
    assert_eq!(ledger_mode, 0o600, "paas.db is mode {ledger_mode:o}");
    // The cluster ran as postgres, under the data dir, and logged no password.
    let cluster = server.data_dir().join("addons/postgres");
    let log = std::fs::read_to_string(cluster.join("postgres.log")).unwrap_or_default();
    assert!(!log.contains(password), "a password reached the cluster's log");
    assert!(!server.stdout.lock().unwrap().iter().any(|line| line.contains(password)), "a password reached stdout");
    let pid: u32 = std::fs::read_to_string(cluster.join("data/postmaster.pid")).unwrap().lines().next().unwrap().parse().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap().to_string();
    assert!(!uid_line.split_whitespace().any(|uid| uid == "0"), "postgres runs as root: {uid_line}");
    drop(server);
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    assert!(gone, "the add-on cluster outlived paas server");
}

/// `GET /boot` of `app`: the boot id of the process answering.
fn boot_id(server: &TestServer, app: &str) -> String {
    let (status, body) = router_get(server, app, "/boot");
    assert_eq!(status, 200, "{app} GET /boot: {body}");
    body
}

#[test]
fn a_native_app_keeps_its_rows_in_its_postgres_add_on_and_another_apps_dyno_cannot_connect() {
    if !psql_available() || !crate::native::runc_available() {
        return;
    }
    let server = TestServer::start_in(searchable_tempdir());
    let paas = |args: &[&str]| ok(server.paas().args(args).env_remove("PAAS_APP"));
    let within = Duration::from_secs(120);
    let no_database = (503, "no database: run `paas addons:create heroku-postgresql:essential-0`\n");

    let notes = app_repo(&server, "express-postgres", "notes");
    push(&server, notes.path());
    eventually_get(&server, "notes", "/count", no_database, within);
    let pushed = paas(&["releases", "-a", "notes"]);
    let created = paas(&["addons:create", "heroku-postgresql:essential-0", "-a", "notes"]);
    let name = created.split_whitespace().nth(1).unwrap().to_string();
    let url = paas(&["config:get", "DATABASE_URL", "-a", "notes"]).trim().to_string();
    assert!(url.contains(&format!("@{}:", addon_url_host(&server))), "{url}");
    // The new release restarts the dyno with DATABASE_URL and its grant.
    eventually_get(&server, "notes", "/count", (200, "visits: 0\n"), within);
    assert_eq!(router_get(&server, "notes", "/"), (200, "visits: 1\n".into()));
    assert_eq!(router_get(&server, "notes", "/"), (200, "visits: 2\n".into()));
    let rows = run(Command::new("psql").arg(&url).args(["-XAtc", "select count(*) from visits"]));
    assert_eq!(String::from_utf8_lossy(&rows.stdout).trim(), "2", "{}", String::from_utf8_lossy(&rows.stderr));

    // A restart: a new process, the same rows.
    let before = boot_id(&server, "notes");
    paas(&["ps:restart", "-a", "notes"]);
    replaced(&server, "notes", &before);
    assert_eq!(router_get(&server, "notes", "/"), (200, "visits: 3\n".into()));

    // A rollback to the release before the add-on keeps DATABASE_URL (add-on vars follow the
    // attachments), so the rows are still there.
    let v_push = pushed.lines().find(|l| l.contains("Deploy")).and_then(|l| l.split_whitespace().next()).unwrap().to_string();
    let before = boot_id(&server, "notes");
    paas(&["rollback", &v_push, "-a", "notes"]);
    assert_eq!(paas(&["config:get", "DATABASE_URL", "-a", "notes"]).trim(), url);
    replaced(&server, "notes", &before);
    assert_eq!(router_get(&server, "notes", "/"), (200, "visits: 4\n".into()));
    // A one-off dyno of the app reaches its database too (`paas run`, native).
    let count = "node -e \"const {Client} = require('pg'); const c = new Client({connectionString: process.env.DATABASE_URL, \
                 ssl: {rejectUnauthorized: false}}); c.connect().then(() => c.query('select count(*)::int as n from visits'))\
                 .then(r => { console.log('rows', r.rows[0].n); return c.end(); })\"";
    let out = paas(&["run", "-a", "notes", "--", count]);
    assert!(out.contains("rows 4"), "{out}");

    // Another app's dyno with the same URL (the password included) is refused by the dyno
    // network; attached, it connects; detached, it has no URL again.
    let intruder = app_repo(&server, "express-postgres", "intruder");
    push(&server, intruder.path());
    eventually_get(&server, "intruder", "/count", no_database, within);
    paas(&["config:set", &format!("DATABASE_URL={url}"), "-a", "intruder"]);
    eventually_get(&server, "intruder", "/count", (500, "database error: ECONNREFUSED\n"), within);
    paas(&["config:unset", "DATABASE_URL", "-a", "intruder"]);
    paas(&["addons:attach", &name, "-a", "intruder"]);
    eventually_get(&server, "intruder", "/count", (200, "visits: 4\n"), within);
    paas(&["addons:detach", "DATABASE", "-a", "intruder"]);
    eventually_get(&server, "intruder", "/count", no_database, within);
    // The owner still connects.
    assert_eq!(router_get(&server, "notes", "/count"), (200, "visits: 4\n".into()));
}
