//! Heroku Redis: each add-on is a `redis-server` of its own, which paas configures, starts,
//! supervises and stops. Its folder is `<data-dir>/addons/redis/<id>/`: `redis.conf` (written
//! here: the server is given no command that changes it), `data/` (the append-only file, so data
//! survives restarts), `redis.log` and the pid file. It runs as the unprivileged `redis` user when
//! paas runs as root, listens on the add-on host on a port picked at provisioning and kept, asks
//! for a random password (`requirepass`), holds at most its plan's `maxmemory` (writes past it get
//! Redis's OOM error: `noeviction`, Heroku's default) and `maxclients`. CONFIG, DEBUG, SHUTDOWN,
//! MODULE, ACL, MIGRATE and replication commands are renamed to nothing, so a tenant cannot lift
//! its limits, read files or make the server connect elsewhere. A server that exits is started
//! again (backing off up to 30 s); paas stops them all when it stops and starts them at its next
//! start.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::catalog::Plan;
use super::host::AddonHost;
use super::process;
use super::{AddonError, Provisioned};

/// The unprivileged user the servers run as when paas runs as root (Debian's package makes it).
const REDIS_USER: &str = "redis";

/// Commands a tenant may not run: they change limits or the password (CONFIG, ACL), read or
/// write the host's files or the server's memory (DEBUG, MODULE), stop it (SHUTDOWN), or make it
/// connect elsewhere (MIGRATE, REPLICAOF/SLAVEOF, SYNC, PSYNC, FAILOVER).
const RENAMED: &[&str] =
    &["CONFIG", "DEBUG", "SHUTDOWN", "MODULE", "ACL", "MIGRATE", "REPLICAOF", "SLAVEOF", "SYNC", "PSYNC", "FAILOVER"];

/// How long a server has to answer after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The `heroku-redis` service: the Redis servers of every add-on on this node.
#[derive(Debug)]
pub struct RedisService {
    root: PathBuf,
    host: AddonHost,
    bin: PathBuf,
    ready_timeout: Duration,
    servers: Mutex<HashMap<String, Supervised>>,
}

/// A running server and its supervising task.
#[derive(Debug, Clone)]
struct Supervised {
    pid: Arc<AtomicU32>,
    stopping: Arc<AtomicBool>,
}

impl RedisService {
    /// The service keeping its servers under `root` (`<data-dir>/addons/redis`), listening where
    /// `host` says (127.0.0.1, and the service address dynos are granted).
    pub fn new(root: PathBuf, host: AddonHost) -> RedisService {
        let bin = std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("redis-server")).find(|bin| bin.is_file()))
            .unwrap_or_else(|| PathBuf::from("/usr/bin/redis-server"));
        RedisService { root, host, bin, ready_timeout: READY_TIMEOUT, servers: Mutex::new(HashMap::new()) }
    }

    /// The same with another `redis-server` binary and start-up timeout (tests of failures).
    pub fn with_binary(mut self, bin: PathBuf, ready_timeout: Duration) -> RedisService {
        self.bin = bin;
        self.ready_timeout = ready_timeout;
        self
    }

    /// Where the servers' folders are.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The pid of an add-on's server now (0: none).
    pub fn pid(&self, id: &str) -> u32 {
        self.servers.lock().expect("redis servers").get(id).map_or(0, |s| s.pid.load(Ordering::SeqCst))
    }

    /// Makes a server for `plan`: its folder, configuration and process, ready to answer; on any
    /// failure, nothing of it is left.
    pub async fn provision(&self, plan: &Plan) -> Result<Provisioned, AddonError> {
        if !self.bin.is_file() {
            return Err(AddonError::Unavailable(format!(
                "Heroku Redis needs redis-server ({} is missing): install it (apt-get install redis-server)",
                self.bin.display()
            )));
        }
        let id = format!("redis_{}", uuid::Uuid::new_v4().simple());
        let password = random_password();
        let made = self.create(&id, &password, plan).await;
        let result = match made {
            Ok(port) => match self.start(&id).await {
                Ok(()) => Ok(port),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(port) => {
                let url = redis_url(&self.host.url_host().to_string(), port, &password);
                Ok(Provisioned { provider_id: id, config: BTreeMap::from([("URL".to_string(), url)]) })
            }
            Err(e) => {
                self.remove(&id).await;
                Err(e)
            }
        }
    }

    /// Applies another plan's limits: the configuration is rewritten and the server restarted
    /// (its data is kept in the append-only file).
    pub async fn change_plan(&self, id: &str, plan: &Plan) -> Result<(), AddonError> {
        check_id(id)?;
        let conf = self.dir(id).join("redis.conf");
        let text = std::fs::read_to_string(&conf).map_err(|e| AddonError::Failed(format!("cannot read {id}'s configuration: {e}")))?;
        let text: String = text
            .lines()
            .map(|line| match line.split_whitespace().next() {
                Some("maxmemory") => format!("maxmemory {}\n", plan.storage_mib * 1024 * 1024),
                Some("maxclients") => format!("maxclients {}\n", plan.connection_limit),
                _ => format!("{line}\n"),
            })
            .collect();
        std::fs::write(&conf, text).map_err(|e| AddonError::Failed(format!("cannot write {id}'s configuration: {e}")))?;
        self.stop_one(id).await;
        self.start(id).await
    }

    /// Stops an add-on's server and removes its folder (its data).
    pub async fn deprovision(&self, id: &str) -> Result<(), AddonError> {
        check_id(id)?;
        self.remove(id).await;
        if self.dir(id).exists() {
            return Err(AddonError::Failed(format!("cannot remove the data of {id}")));
        }
        Ok(())
    }

    /// At the server's start: ends servers a killed paas left running, starts those of `known`
    /// add-ons (in the background), and removes the folders of any other (a provisioning a crash
    /// interrupted).
    pub async fn start_existing(self: &Arc<Self>, known: &[String]) {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return };
        for entry in entries.flatten() {
            let Some(id) = entry.file_name().to_str().map(str::to_string) else { continue };
            if check_id(&id).is_err() {
                continue;
            }
            end_leftover(&self.dir(&id)).await;
            if !known.contains(&id) {
                tracing::warn!("previous run: removing the Redis server {id}, which belongs to no add-on");
                self.remove(&id).await;
                continue;
            }
            let service = self.clone();
            tokio::spawn(async move {
                if let Err(e) = service.start(&id).await {
                    tracing::error!("cannot start the Redis server of add-on {id}: {e}");
                }
            });
        }
    }

    /// Stops every server (SIGTERM: Redis flushes its append-only file), waiting up to 10 s each.
    pub async fn stop_all(&self) {
        let ids: Vec<String> = self.servers.lock().expect("redis servers").keys().cloned().collect();
        futures::future::join_all(ids.iter().map(|id| self.stop_one(id))).await;
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Writes the server's folder and configuration; gives back its port.
    async fn create(&self, id: &str, password: &str, plan: &Plan) -> Result<u16, AddonError> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let fail = |what: &str, e: &dyn std::fmt::Display| AddonError::Unavailable(format!("{what}: {e}"));
        let user = redis_user()?;
        let dir = self.dir(id);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| fail("cannot create the Redis server's folder", &e))?;
        // The server's user passes through `<data-dir>/addons/redis/<id>` (search only) to its
        // data; its configuration holds the password and is readable by it alone.
        for path in self.root.parent().into_iter().chain([self.root.as_path(), dir.as_path()]) {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o711))
                .map_err(|e| fail("cannot set a folder's mode", &e))?;
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail("cannot restrict the data folder", &e))?;
        if let Some((uid, _)) = user {
            process::check_reachable(&dir, uid, REDIS_USER).map_err(AddonError::Unavailable)?;
        }
        let listen = self.host.listen();
        let port = process::free_port(&listen).map_err(|e| fail("cannot pick a port", &e))?;
        let conf = configuration(&listen, port, password, plan, &data);
        let conf_path = dir.join("redis.conf");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&conf_path)
            .map_err(|e| fail("cannot write redis.conf", &e))?;
        std::io::Write::write_all(&mut file, conf.as_bytes()).map_err(|e| fail("cannot write redis.conf", &e))?;
        if let Some((uid, gid)) = user {
            for path in [&data, &conf_path] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| fail("cannot hand the server its files", &e))?;
            }
        }
        Ok(port)
    }

    /// Starts the server of `id` and waits until it answers; then supervises it.
    async fn start(&self, id: &str) -> Result<(), AddonError> {
        let dir = self.dir(id);
        let (port, password) = read_port_and_password(&dir.join("redis.conf"))?;
        let mut command = self.command(&dir)?;
        let mut child = command.spawn().map_err(|e| AddonError::Unavailable(format!("cannot start redis-server: {e}")))?;
        let pid = child.id().unwrap_or(0);
        let _ = std::fs::write(dir.join("redis.pid"), format!("{pid}\n"));
        // Known before it answers: a destroy or a stop meanwhile ends it.
        let supervised = Supervised { pid: Arc::new(AtomicU32::new(pid)), stopping: Arc::new(AtomicBool::new(false)) };
        self.servers.lock().expect("redis servers").insert(id.to_string(), supervised.clone());
        let ready = tokio::select! {
            ready = wait_ready(self.host.endpoint(port), &password, self.ready_timeout) => ready,
            status = child.wait() => Err(format!("redis-server exited at start ({})", status.map(|s| s.to_string()).unwrap_or_default())),
        };
        let ready = if supervised.stopping.load(Ordering::SeqCst) { Err("stopped while starting".to_string()) } else { ready };
        if let Err(why) = ready {
            {
                let mut servers = self.servers.lock().expect("redis servers");
                if servers.get(id).is_some_and(|s| Arc::ptr_eq(&s.stopping, &supervised.stopping)) {
                    servers.remove(id);
                }
            }
            if alive(&mut child) {
                process::stop(pid, "-KILL", Duration::from_secs(5)).await;
            }
            let _ = child.wait().await;
            let log = dir.join("redis.log");
            return Err(AddonError::Unavailable(format!("the Redis server of {id} did not start: {why} (see {})", log.display())));
        }
        tokio::spawn(supervise(id.to_string(), child, command, supervised, dir));
        tracing::info!("Redis server of add-on {id} listening on {}", self.host.endpoint(port));
        Ok(())
    }

    fn command(&self, dir: &Path) -> Result<tokio::process::Command, AddonError> {
        use std::os::unix::fs::OpenOptionsExt;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(dir.join("redis.log"))
            .map_err(|e| AddonError::Unavailable(format!("cannot open the Redis server's log: {e}")))?;
        let log2 = log.try_clone().map_err(|e| AddonError::Unavailable(e.to_string()))?;
        // The configuration is a file: a password on the command line is in /proc for all to read.
        let mut command = tokio::process::Command::new(&self.bin);
        command.arg(dir.join("redis.conf")).current_dir(dir.join("data")).stdin(Stdio::null()).stdout(log).stderr(log2);
        // Where to listen is given at every start, over the file's `bind` (made at provisioning):
        // the service address moves with --dyno-network, and a server bound to the old one would
        // not start.
        command.arg("--bind").args(self.host.listen().iter().map(ToString::to_string));
        if let Some((uid, gid)) = redis_user()? {
            command.uid(uid).gid(gid);
        }
        Ok(command)
    }

    /// Stops the server of `id` (if it runs) and forgets it.
    async fn stop_one(&self, id: &str) {
        let supervised = self.servers.lock().expect("redis servers").remove(id);
        let Some(supervised) = supervised else { return };
        supervised.stopping.store(true, Ordering::SeqCst);
        let pid = supervised.pid.swap(0, Ordering::SeqCst);
        if pid != 0 && !process::stop(pid, "-TERM", Duration::from_secs(10)).await {
            tracing::warn!("the Redis server of add-on {id} did not stop within 10 s; killed");
        }
    }

    /// Stops the server of `id` and removes its folder.
    async fn remove(&self, id: &str) {
        self.stop_one(id).await;
        let dir = self.dir(id);
        end_leftover(&dir).await;
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!("cannot remove {}: {e}", dir.display());
        }
    }
}

impl Drop for RedisService {
    fn drop(&mut self) {
        for supervised in self.servers.lock().expect("redis servers").values() {
            supervised.stopping.store(true, Ordering::SeqCst);
            let pid = supervised.pid.swap(0, Ordering::SeqCst);
            if pid != 0 {
                process::signal(pid, "-TERM");
            }
        }
    }
}

fn alive(child: &mut tokio::process::Child) -> bool {
    matches!(child.try_wait(), Ok(None))
}

/// Waits for the server's exit and starts it again, after 1 s, doubling up to 30 s while it keeps
/// dying within a minute; ends when the server is being stopped.
async fn supervise(
    id: String,
    mut child: tokio::process::Child,
    mut command: tokio::process::Command,
    supervised: Supervised,
    dir: PathBuf,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = tokio::time::Instant::now();
        let status = child.wait().await;
        if supervised.stopping.load(Ordering::SeqCst) {
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        tracing::warn!(?status, "the Redis server of add-on {id} exited; starting it again in {} s", backoff.as_secs());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
        if supervised.stopping.load(Ordering::SeqCst) {
            return;
        }
        match command.spawn() {
            Ok(next) => {
                let pid = next.id().unwrap_or(0);
                supervised.pid.store(pid, Ordering::SeqCst);
                let _ = std::fs::write(dir.join("redis.pid"), format!("{pid}\n"));
                child = next;
            }
            Err(e) => tracing::error!("cannot start the Redis server of add-on {id} again: {e}"),
        }
    }
}

/// A server a killed paas left running (its pid file names a live process working in the
/// add-on's data folder; Redis rewrites its command line, so that is no mark): stopped.
async fn end_leftover(dir: &Path) {
    let Ok(text) = std::fs::read_to_string(dir.join("redis.pid")) else { return };
    let Ok(pid) = text.trim().parse::<u32>() else { return };
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
    let ours = cwd.is_some() && cwd == std::fs::canonicalize(dir.join("data")).ok();
    if pid != 0 && ours && process::alive(pid) {
        tracing::warn!(pid, "previous run: stopping the Redis server {} left running", dir.display());
        process::stop(pid, "-TERM", Duration::from_secs(10)).await;
    }
}

/// `Some((uid, gid))` of [`REDIS_USER`] when paas runs as root (then `nobody`'s if there is no
/// such user); `None` otherwise (the server runs as paas's user).
fn redis_user() -> Result<Option<(u32, u32)>, AddonError> {
    if !process::running_as_root() {
        return Ok(None);
    }
    process::user_ids(REDIS_USER).or_else(|| process::user_ids("nobody")).map(Some).ok_or_else(|| {
        AddonError::Unavailable(format!(
            "paas runs as root and there is neither a {REDIS_USER:?} nor a \"nobody\" user to run Redis servers as"
        ))
    })
}

/// A password of 32 random bytes, URL-safe base64 (43 characters: no escaping in a URL).
fn random_password() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A server's `redis.conf`.
fn configuration(listen: &[IpAddr], port: u16, password: &str, plan: &Plan, data: &Path) -> String {
    let host = listen.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
    let mut conf = format!(
        "# paas: a Heroku Redis add-on's server (written by paas; restarting applies changes)\n\
         bind {host}\nport {port}\nprotected-mode yes\nrequirepass {password}\n\
         maxmemory {}\nmaxmemory-policy noeviction\nmaxclients {}\n\
         appendonly yes\nappendfsync everysec\nsave \"\"\ndir {}\n\
         daemonize no\nlogfile \"\"\nloglevel notice\n",
        plan.storage_mib * 1024 * 1024,
        plan.connection_limit,
        data.display()
    );
    for command in RENAMED {
        conf.push_str(&format!("rename-command {command} \"\"\n"));
    }
    conf
}

/// The port and password in a server's `redis.conf`.
fn read_port_and_password(conf: &Path) -> Result<(u16, String), AddonError> {
    let text = std::fs::read_to_string(conf).map_err(|e| AddonError::Unavailable(format!("cannot read {}: {e}", conf.display())))?;
    let value = |key: &str| text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(' ').map(str::trim));
    let port = value("port").and_then(|p| p.parse().ok());
    let password = value("requirepass");
    port.zip(password.map(str::to_string))
        .ok_or_else(|| AddonError::Unavailable(format!("{} has no port or password", conf.display())))
}

/// Waits until the server answers `AUTH` and `PING` on `host:port`.
async fn wait_ready(endpoint: SocketAddr, password: &str, timeout: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = String::from("no answer");
    while tokio::time::Instant::now() < deadline {
        match ping(endpoint, password).await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("no answer within {} s ({last})", timeout.as_secs()))
}

async fn ping(endpoint: SocketAddr, password: &str) -> Result<(), String> {
    let mut stream = tokio::net::TcpStream::connect(endpoint).await.map_err(|e| e.to_string())?;
    stream.write_all(format!("AUTH {password}\r\nPING\r\n").as_bytes()).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 256];
    let read = async {
        while !answer.ends_with(b"+PONG\r\n") && answer.len() < 4096 {
            let n = stream.read(&mut buffer).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..n]);
        }
        Ok::<(), String>(())
    };
    tokio::time::timeout(Duration::from_secs(2), read).await.map_err(|_| "no reply".to_string())??;
    // The answer is Redis's (`-LOADING …`, `-ERR …`): never the password.
    if answer.ends_with(b"+PONG\r\n") { Ok(()) } else { Err(String::from_utf8_lossy(&answer).trim().to_string()) }
}

/// Only names this service made reach a path: `redis_` and lower-case hex.
fn check_id(id: &str) -> Result<(), AddonError> {
    let hex = id.strip_prefix("redis_").unwrap_or("");
    if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(AddonError::Failed(format!("not a Heroku Redis resource name: {id:?}")))
    }
}

/// `redis://:password@host:port`, as Heroku gives (an IPv6 host in brackets).
fn redis_url(host: &str, port: u16, password: &str) -> String {
    if host.contains(':') {
        format!("redis://:{password}@[{host}]:{port}")
    } else {
        format!("redis://:{password}@{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_holds_the_plans_limits_and_renames_what_would_lift_them() {
        let plan = super::super::catalog::resolve_plan("heroku-redis:mini").unwrap().1;
        let listen = [IpAddr::from([127, 0, 0, 1]), IpAddr::from([10, 199, 255, 253])];
        let conf = configuration(&listen, 6400, "pw", plan, Path::new("/d/data"));
        for line in ["maxmemory 26214400", "maxclients 20", "maxmemory-policy noeviction", "appendonly yes", "requirepass pw", "bind 127.0.0.1 10.199.255.253", "rename-command CONFIG \"\""] {
            assert!(conf.lines().any(|l| l == line), "{line} missing from {conf}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("redis.conf"), &conf).unwrap();
        assert_eq!(read_port_and_password(&dir.path().join("redis.conf")).unwrap(), (6400, "pw".to_string()));
    }

    #[test]
    fn passwords_are_long_and_url_safe_and_ids_are_checked() {
        let password = random_password();
        assert!(password.len() >= 43 && password.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{password}");
        assert_ne!(password, random_password());
        assert!(check_id("redis_0a1b").is_ok());
        assert!(check_id("redis_../etc").is_err() && check_id("redis_").is_err() && check_id("addon_1").is_err());
        assert_eq!(redis_url("::1", 7000, "p"), "redis://:p@[::1]:7000");
    }
}
