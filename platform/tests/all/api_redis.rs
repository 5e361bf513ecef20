//! Heroku Redis through the Platform API in-process, on real `redis-server`s the service starts:
//! REDIS_URL in a release, SET/GET with its password (a wrong one refused), the plan's
//! `maxmemory` enforced by Redis (OOM past it), CONFIG gone, the server not root and its
//! password not on its command line, data kept across a crash and a restart, destroy removing
//! the process and its data, and a failed provisioning leaving nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use paas_platform::addons::AddonServices;
use paas_platform::addons::host::AddonHost;
use paas_platform::addons::postgres::{PostgresServer, PostgresService};
use paas_platform::addons::redis::RedisService;
use serde_json::{Value, json};

use crate::api::{Api, setup_with};

/// Whether redis-server is installed; in CI it must be.
fn have_redis() -> bool {
    let found = std::process::Command::new("redis-server").arg("--version").output().is_ok();
    if !found {
        assert!(std::env::var_os("CI").is_none(), "redis-server is missing: run .ci/setup");
        eprintln!("skipping: redis-server is not installed");
    }
    found
}

/// A folder the servers' unprivileged user can pass through.
fn addons_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

async fn api_with(redis: Arc<RedisService>) -> Api {
    let mut api = setup_with(Default::default()).await;
    api.addons = Some(services(redis));
    api
}

fn services(redis: Arc<RedisService>) -> AddonServices {
    // Postgres is not used here: nothing listens on port 1.
    let postgres = PostgresService::new(PostgresServer::External("postgres://a@127.0.0.1:1/postgres".into()));
    AddonServices::new(postgres).with_redis(redis)
}

/// One command to the server of `url` (`redis://:password@host:port`), after AUTH with the URL's
/// password (or `password`): the reply, as `+OK`, `-ERR …`, `$value`, `:1`, `*n`.
pub(crate) fn command(url: &str, password: Option<&str>, args: &[&[u8]]) -> String {
    let authority = url.strip_prefix("redis://").unwrap();
    let (auth, endpoint) = authority.rsplit_once('@').unwrap();
    let mut stream = TcpStream::connect(endpoint).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let password = password.unwrap_or(auth.trim_start_matches(':'));
    let auth_reply = send(&mut stream, &mut reader, &[b"AUTH", password.as_bytes()]);
    if !auth_reply.starts_with("+OK") {
        return auth_reply;
    }
    send(&mut stream, &mut reader, args)
}

fn send(stream: &mut TcpStream, reader: &mut BufReader<TcpStream>, args: &[&[u8]]) -> String {
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg);
        request.extend_from_slice(b"\r\n");
    }
    stream.write_all(&request).unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let line = line.trim_end().to_string();
    match line.strip_prefix('$').and_then(|n| n.parse::<i64>().ok()) {
        Some(n) if n >= 0 => {
            let mut value = vec![0u8; n as usize + 2];
            reader.read_exact(&mut value).unwrap();
            format!("${}", String::from_utf8_lossy(&value[..n as usize]))
        }
        _ => line,
    }
}

/// Whether a server on the URL's port takes its password (the port alone may be another
/// program's by now: the machine's tests share its ephemeral ports).
fn answers(url: &str) -> bool {
    TcpStream::connect(url.rsplit('@').next().unwrap()).is_ok() && command(url, None, &[b"PING"]) == "+PONG"
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn folders(root: &Path) -> Vec<String> {
    std::fs::read_dir(root).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heroku_redis_is_a_real_server_with_its_plans_limits_kept_across_restarts_and_removed_on_destroy() {
    if !have_redis() {
        return;
    }
    let dir = addons_dir();
    let root = dir.path().join("addons/redis");
    let redis = Arc::new(RedisService::new(root.clone(), AddonHost::loopback()));
    let api = api_with(redis.clone()).await;
    let key = api.user("redis@example.com").await;
    api.create_app(&key, "counter").await;

    let reply = api.send(Method::POST, "/apps/counter/addons", Some(&key), Some(json!({"plan": "heroku-redis:mini"})), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let name = reply.body["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("redis-"), "{name}");
    assert_eq!(reply.body["plan"]["name"], "heroku-redis:mini");
    assert_eq!(reply.body["config_vars"], json!(["REDIS_URL"]));
    let config = api.get("/apps/counter/config-vars", &key).await.body;
    let url = config["REDIS_URL"].as_str().unwrap().to_string();
    let password = url.strip_prefix("redis://:").unwrap().split('@').next().unwrap().to_string();
    assert!(password.len() >= 43, "a short password: {}", password.len());
    assert!(url.contains("@127.0.0.1:"), "{url}");
    let newest = api.get("/apps/counter/releases", &key).await.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(newest["description"], format!("Attach REDIS (@ref:{name})"));
    assert_eq!(newest["addon_plan_names"], json!(["heroku-redis:mini"]));

    // The URL works; a wrong password does not; CONFIG (which would lift the limits) is gone.
    assert_eq!(command(&url, None, &[b"SET", b"count", b"41"]), "+OK");
    assert_eq!(command(&url, None, &[b"INCR", b"count"]), ":42");
    assert!(command(&url, Some("wrong"), &[b"GET", b"count"]).starts_with("-WRONGPASS"), "a wrong password was let in");
    assert!(command(&url, None, &[b"CONFIG", b"SET", b"maxmemory", b"0"]).starts_with("-ERR unknown command"));
    assert!(command(&url, None, &[b"DEBUG", b"SLEEP", b"0"]).starts_with("-ERR unknown command"));

    // The server runs unprivileged, and its password is not on its command line.
    let addon_dir = root.join(folders(&root).pop().unwrap());
    let pid: u32 = std::fs::read_to_string(addon_dir.join("redis.pid")).unwrap().trim().parse().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap().to_string();
    if crate::is_root() {
        assert!(!uids.split_whitespace().skip(1).any(|uid| uid == "0"), "redis-server runs as root: {uids}");
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(&password), "the password is on the command line");
    let log = std::fs::read_to_string(addon_dir.join("redis.log")).unwrap();
    assert!(log.contains("Ready to accept connections") && !log.contains(&password), "{log}");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&addon_dir.join("redis.conf")), mode(&addon_dir.join("redis.log")), mode(&addon_dir.join("data"))), (0o600, 0o600, 0o700));

    // mini's maxmemory (25 MB) is enforced by Redis: writes past it get its OOM error.
    let megabyte = vec![b'x'; 1024 * 1024];
    let mut refused = None;
    for i in 0..40 {
        let reply = command(&url, None, &[b"SET", format!("big{i}").as_bytes(), &megabyte]);
        if reply != "+OK" {
            refused = Some((i, reply));
            break;
        }
    }
    let (written, reply) = refused.expect("40 MB were written to a 25 MB plan");
    assert!(reply.starts_with("-OOM"), "{reply}");
    // 1 MB values take a bit more of jemalloc's memory (size classes).
    assert!((15..=25).contains(&written), "refused after {written} MB");
    assert_eq!(command(&url, None, &[b"GET", b"count"]), "$42", "reads still work");

    // maxclients (20 on mini): the 21st connection is refused by Redis.
    let endpoint = url.rsplit('@').next().unwrap().to_string();
    let held: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&endpoint).unwrap()).collect();
    assert!(command(&url, None, &[b"PING"]).contains("max number of clients reached"), "a 21st client was let in");
    drop(held);
    wait_for("the clients to leave", || command(&url, None, &[b"PING"]) == "+PONG").await;

    // A plan change restarts the server with the new plan's limits and keeps the data.
    let reply = api.send(Method::PATCH, &format!("/apps/counter/addons/{name}"), Some(&key), Some(json!({"plan": "premium-0"})), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["plan"]["name"], "heroku-redis:premium-0");
    assert!(command(&url, None, &[b"INFO", b"memory"]).contains("maxmemory:52428800"), "premium-0's maxmemory is not applied");
    assert_eq!(command(&url, None, &[b"GET", b"count"]), "$42");
    let pid: u32 = std::fs::read_to_string(addon_dir.join("redis.pid")).unwrap().trim().parse().unwrap();

    // A killed server is started again, with its data (the append-only file).
    tokio::time::sleep(Duration::from_millis(1100)).await; // appendfsync everysec
    assert!(std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
    wait_for("the server to come back", || redis.pid(&provider(&addon_dir)) != pid && std::net::TcpStream::connect(url.rsplit('@').next().unwrap()).is_ok()).await;
    wait_for("the data to load", || command(&url, None, &[b"GET", b"count"]) == "$42").await;

    // paas stops; the next start brings it back with its data.
    redis.stop_all().await;
    let pid = std::fs::read_to_string(addon_dir.join("redis.pid")).unwrap().trim().parse::<u32>().unwrap();
    assert!(!alive(pid), "the server outlived stop_all");
    // The address it was made on is gone (a new --dyno-network moved the service address):
    // where to listen is given at each start, over the file's.
    let conf_path = addon_dir.join("redis.conf");
    let conf = std::fs::read_to_string(&conf_path).unwrap();
    let moved: String = conf.lines().map(|l| if l.starts_with("bind ") { "bind 198.51.100.77\n".to_string() } else { format!("{l}\n") }).collect();
    std::fs::write(&conf_path, moved).unwrap();
    let again = Arc::new(RedisService::new(root.clone(), AddonHost::loopback()));
    let stray = root.join("redis_0123abcd");
    std::fs::create_dir(&stray).unwrap();
    again.start_existing(&[provider(&addon_dir)]).await;
    assert!(!stray.exists(), "a folder of no add-on was kept");
    wait_for("the restarted server", || std::net::TcpStream::connect(url.rsplit('@').next().unwrap()).is_ok()).await;
    wait_for("the data after a restart", || command(&url, None, &[b"GET", b"count"]) == "$42").await;

    // Destroy: the process ends, its data goes, REDIS_URL leaves in a release.
    let mut api = api;
    api.addons = Some(services(again.clone()));
    let pid = again.pid(&provider(&addon_dir));
    let reply = api.send(Method::DELETE, &format!("/apps/counter/addons/{name}"), Some(&key), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(!alive(pid), "the destroyed add-on's server still runs");
    assert!(!addon_dir.exists(), "the destroyed add-on's data is still there");
    assert!(api.get("/apps/counter/config-vars", &key).await.body.get("REDIS_URL").is_none());
    assert!(!answers(&url), "the destroyed add-on's server still answers");

    // Destroying an app destroys its Redis add-ons: process and data.
    let reply = api.send(Method::POST, "/apps/counter/addons", Some(&key), Some(json!({"plan": "heroku-redis:mini"})), &[]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let url = api.get("/apps/counter/config-vars", &key).await.body["REDIS_URL"].as_str().unwrap().to_string();
    let addon_dir = root.join(folders(&root).pop().unwrap());
    let pid = again.pid(&provider(&addon_dir));
    assert!(alive(pid));
    let reply = api.send(Method::DELETE, "/apps/counter", Some(&key), None, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(!alive(pid) && !addon_dir.exists(), "a destroyed app's Redis server or data is left");
    assert!(!answers(&url), "a destroyed app's Redis server still answers");
}

fn provider(addon_dir: &Path) -> String {
    addon_dir.file_name().unwrap().to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_redis_provisioning_leaves_no_addon_attachment_config_var_process_or_folder() {
    let dir = addons_dir();
    // A "redis-server" that starts and never answers, and one that exits at once.
    let hang = dir.path().join("hanging-redis-server");
    std::fs::write(&hang, "#!/bin/sh\nexec sleep 600.4242\n").unwrap();
    std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (bin, said) in [(hang.clone(), "no answer within 1 s"), ("/bin/false".into(), "exited at start")] {
        let root = dir.path().join("addons/redis");
        let redis = Arc::new(RedisService::new(root.clone(), AddonHost::loopback()).with_binary(bin, Duration::from_secs(1)));
        let api = api_with(redis).await;
        let key = api.user("fail@example.com").await;
        api.create_app(&key, "no-redis").await;
        let releases = api.get("/apps/no-redis/releases", &key).await.body.as_array().unwrap().len();
        let reply = api.send(Method::POST, "/apps/no-redis/addons", Some(&key), Some(json!({"plan": "heroku-redis"})), &[]).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
        assert!(reply.body["message"].as_str().unwrap().contains(said), "{}", reply.body);
        assert_eq!(api.get("/apps/no-redis/addons", &key).await.body, json!([]));
        assert_eq!(api.get("/apps/no-redis/addon-attachments", &key).await.body, json!([]));
        assert_eq!(api.get("/apps/no-redis/config-vars", &key).await.body, json!({}));
        assert_eq!(api.get("/apps/no-redis/releases", &key).await.body.as_array().unwrap().len(), releases);
        assert_eq!(folders(&root), Vec::<String>::new(), "a folder was left");
    }
    // No process of the hanging server is left.
    let left = std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        alive(entry.file_name().to_str().and_then(|p| p.parse().ok()).unwrap_or(0))
            && String::from_utf8_lossy(&cmdline).contains("600.4242")
    });
    assert!(!left, "the hanging server's process was left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_redis_plans_name_the_available_ones() {
    let api = setup_with(Default::default()).await;
    let key = api.user("plans@example.com").await;
    api.create_app(&key, "plans").await;
    let reply = api.send(Method::POST, "/apps/plans/addons", Some(&key), Some(json!({"plan": "heroku-redis:huge"})), &[]).await;
    let (status, id, message) = crate::api::error(&reply);
    assert_eq!((status, id), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params"));
    assert!(message.contains("heroku-redis:mini, heroku-redis:premium-0"), "{message}");
    let plans: Value = api.get("/addon-services/heroku-redis/plans", &key).await.body;
    assert_eq!(plans[0]["name"], "heroku-redis:mini");
    assert_eq!(plans[0]["default"], true);
    assert_eq!(plans[0]["description"], "Heroku Redis Mini: 20 clients, 25 MB memory");
}
