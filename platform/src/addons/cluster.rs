//! The PostgreSQL cluster `paas server` runs for Heroku Postgres add-ons when the operator gives
//! none: initialised under `<data-dir>/addons/postgres` (initdb as the unprivileged `postgres`
//! user when paas runs as root), started at the first add-on (and at each start of the server
//! once it exists), restarted if it dies, stopped with the server. It listens where the
//! [`AddonHost`] says (127.0.0.1, and the dyno network's service address when there is one: add-on
//! URLs name it) on a port picked once at initdb (kept in its `postgresql.conf`, so add-on URLs
//! survive restarts), with password (SCRAM) authentication from the host's clients only (its
//! `pg_hba.conf`, written at each start) and TLS (a self-signed certificate) over TCP; the admin
//! connects over a unix socket in a folder only root and the cluster's user can open.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;

use super::AddonError;
use super::host::AddonHost;
use super::process::{self, alive, signal};

/// The local cluster (see the module docs).
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    host: AddonHost,
    bin: Option<PathBuf>,
    started: Mutex<Option<u16>>,
    port: AtomicU32,
    pid: Arc<AtomicU32>,
    stopping: Arc<AtomicBool>,
}

/// The unprivileged user the cluster runs as when paas runs as root.
const CLUSTER_USER: &str = "postgres";

impl Cluster {
    /// The cluster in `dir` (`<data-dir>/addons/postgres`), listening where `host` says; nothing
    /// happens until the first add-on.
    pub fn new(dir: PathBuf, host: AddonHost) -> Cluster {
        Cluster {
            dir,
            host,
            bin: postgres_bin(),
            started: Mutex::new(None),
            port: AtomicU32::new(0),
            pid: Arc::new(AtomicU32::new(0)),
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts the cluster now, in the background, if an earlier run initialised it: its add-ons'
    /// apps connect whether or not anyone calls the API.
    pub fn start_if_initialised(self: &Arc<Self>) {
        if !self.data().join("PG_VERSION").exists() {
            return;
        }
        let cluster = self.clone();
        tokio::spawn(async move {
            if let Err(e) = cluster.admin_url().await {
                tracing::error!("cannot start the add-on PostgreSQL cluster: {e}");
            }
        });
    }

    /// Where apps reach it: the [`AddonHost`]'s URL host and its port (known once started).
    pub fn public_address(&self) -> (String, u16) {
        (self.host.url_host().to_string(), self.port.load(Ordering::SeqCst) as u16)
    }

    /// The admin's URL (the superuser over the unix socket), starting the cluster if needed.
    pub async fn admin_url(&self) -> Result<String, AddonError> {
        let mut started = self.started.lock().await;
        let port = match *started {
            Some(port) => port,
            None => {
                let port = self.start().await?;
                *started = Some(port);
                port
            }
        };
        Ok(format!("postgres://{CLUSTER_USER}@localhost:{port}/postgres?host={}", self.socket_dir().display()))
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    async fn start(&self) -> Result<u16, AddonError> {
        let bin = self.bin.clone().ok_or_else(|| {
            AddonError::Unavailable(
                "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin): install it or give \
                 paas server --addons-postgres-url"
                    .into(),
            )
        })?;
        let dir = self.dir.clone();
        let data = self.data();
        let socket_dir = self.socket_dir();
        let host = self.host;
        let port = tokio::task::spawn_blocking(move || init(&bin, &dir, &data, &socket_dir, &host))
            .await
            .map_err(|e| AddonError::Unavailable(e.to_string()))??;
        self.port.store(u32::from(port), Ordering::SeqCst);
        self.spawn_supervised()?;
        // Ready once the admin can connect.
        let url = format!("postgres://{CLUSTER_USER}@localhost:{port}/postgres?host={}", self.socket_dir().display());
        for _ in 0..300 {
            use sqlx::Connection;
            if let Ok(connection) = sqlx::postgres::PgConnection::connect(&url).await {
                let _ = connection.close().await;
                let listen: Vec<String> = self.host.listen().iter().map(ToString::to_string).collect();
                tracing::info!(port, "add-on PostgreSQL cluster started on {} port {port}", listen.join(" and "));
                return Ok(port);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(AddonError::Unavailable(format!(
            "the add-on PostgreSQL cluster did not start within 30 s (see {})",
            self.dir.join("postgres.log").display()
        )))
    }

    /// Starts `postgres` and a task that starts it again (after a second) whenever it exits
    /// while the server is not stopping.
    fn spawn_supervised(&self) -> Result<(), AddonError> {
        let mut command = self.postgres_command()?;
        let child = command.spawn().map_err(|e| AddonError::Unavailable(format!("cannot start postgres: {e}")))?;
        self.pid.store(child.id().unwrap_or(0), Ordering::SeqCst);
        let (pid, stopping) = (self.pid.clone(), self.stopping.clone());
        let mut respawn = self.postgres_command()?;
        tokio::spawn(async move {
            let mut child = child;
            loop {
                let status = child.wait().await;
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                tracing::warn!(?status, "the add-on PostgreSQL cluster exited; starting it again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                match respawn.spawn() {
                    Ok(next) => {
                        pid.store(next.id().unwrap_or(0), Ordering::SeqCst);
                        child = next;
                    }
                    Err(e) => {
                        tracing::error!("cannot start the add-on PostgreSQL cluster again: {e}");
                        return;
                    }
                }
            }
        });
        Ok(())
    }

    fn postgres_command(&self) -> Result<tokio::process::Command, AddonError> {
        let bin = self.bin.as_ref().ok_or_else(|| AddonError::Unavailable("PostgreSQL is not installed".into()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .map_err(|e| AddonError::Unavailable(format!("cannot open the cluster's log: {e}")))?;
        let log2 = log.try_clone().map_err(|e| AddonError::Unavailable(e.to_string()))?;
        let mut command = tokio::process::Command::new(bin.join("postgres"));
        // Where it listens is the host's, at each start (postgresql.conf's line is initdb's).
        let listen: Vec<String> = self.host.listen().iter().map(ToString::to_string).collect();
        command
            .arg("-D")
            .arg(self.data())
            .arg("-c")
            .arg(format!("listen_addresses={}", listen.join(",")))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        if let Some((uid, gid)) = cluster_user()? {
            command.uid(uid).gid(gid);
        }
        Ok(command)
    }

    /// Stops the cluster (fast shutdown: sessions end) and waits up to 10 s for it to exit.
    pub async fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let pid = self.pid.swap(0, Ordering::SeqCst);
        if pid == 0 {
            return;
        }
        signal(pid, "-INT");
        for _ in 0..100 {
            if !alive(pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::warn!("the add-on PostgreSQL cluster did not stop within 10 s");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let pid = self.pid.swap(0, Ordering::SeqCst);
        if pid != 0 {
            signal(pid, "-INT");
        }
    }
}

/// The newest PostgreSQL's binaries under `/usr/lib/postgresql/*/bin`.
fn postgres_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .collect();
    dirs.sort_by_key(|dir| dir.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0));
    dirs.pop()
}

/// `Some((uid, gid))` of [`CLUSTER_USER`] when we are root (PostgreSQL refuses to run as root).
fn cluster_user() -> Result<Option<(u32, u32)>, AddonError> {
    if !process::running_as_root() {
        return Ok(None);
    }
    process::user_ids(CLUSTER_USER)
        .map(Some)
        .ok_or_else(|| {
            AddonError::Unavailable(format!(
                "paas runs as root and there is no {CLUSTER_USER:?} user to run the add-on PostgreSQL cluster as \
                 (create it, or give paas server --addons-postgres-url)"
            ))
        })
}

/// Creates the cluster if it is not there (picking its port), ends a postmaster a killed server
/// left running, and gives back the port.
fn init(bin: &Path, dir: &Path, data: &Path, socket_dir: &Path, host: &AddonHost) -> Result<u16, AddonError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |what: &str, e: &dyn std::fmt::Display| AddonError::Unavailable(format!("{what}: {e}"));
    let user = cluster_user()?;
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the add-on PostgreSQL folder", &e))?;
    if let Some((uid, gid)) = user {
        // The cluster's user must pass through `<data-dir>/addons` to its folder (search only:
        // it can list nothing there), and own the folder, which nobody else may open. The data
        // dir and above are the operator's: say what stands in the way.
        if let Some(addons) = dir.parent() {
            let _ = std::fs::set_permissions(addons, std::fs::Permissions::from_mode(0o711));
        }
        process::check_reachable(dir, uid, CLUSTER_USER)
            .map_err(|e| AddonError::Unavailable(format!("{e} or give paas server --addons-postgres-url")))?;
        std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(|e| fail("cannot hand the folder to postgres", &e))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| fail("cannot restrict the add-on PostgreSQL folder", &e))?;
    if !data.join("PG_VERSION").exists() {
        let port = process::free_port(&host.listen()).map_err(|e| fail("cannot pick a port", &e))?;
        let _ = std::fs::remove_dir_all(data);
        let mut initdb = std::process::Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(data)
            .args(["-U", CLUSTER_USER, "-E", "UTF8", "--auth=trust", "--no-instructions"]);
        if let Some((uid, gid)) = user {
            use std::os::unix::process::CommandExt;
            initdb.uid(uid).gid(gid);
        }
        let output = initdb.output().map_err(|e| fail("cannot run initdb", &e))?;
        if !output.status.success() {
            return Err(AddonError::Unavailable(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        // TLS with a self-signed certificate: clients that require it (heroku pg:psql does for a
        // host other than localhost) connect; the password never crosses the network in clear.
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .map_err(|e| fail("cannot make the cluster's TLS certificate", &e))?;
        std::fs::write(data.join("server.crt"), certified.cert.pem()).map_err(|e| fail("cannot write server.crt", &e))?;
        let mut key = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(data.join("server.key"))
            .map_err(|e| fail("cannot write server.key", &e))?;
        std::io::Write::write_all(&mut key, certified.signing_key.serialize_pem().as_bytes())
            .map_err(|e| fail("cannot write server.key", &e))?;
        if let Some((uid, gid)) = user {
            for file in ["server.crt", "server.key"] {
                std::os::unix::fs::chown(data.join(file), Some(uid), Some(gid)).map_err(|e| fail("cannot chown", &e))?;
            }
        }
        let conf = format!(
            "\n# paas: the add-on cluster\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\npassword_encryption = scram-sha-256\nlog_statement = 'none'\n\
             ssl = on\n",
            socket_dir.display()
        );
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .map_err(|e| fail("cannot open postgresql.conf", &e))?;
        std::io::Write::write_all(&mut file, conf.as_bytes()).map_err(|e| fail("cannot write postgresql.conf", &e))?;
    }
    std::fs::write(data.join("pg_hba.conf"), pg_hba(host)).map_err(|e| fail("cannot write pg_hba.conf", &e))?;
    std::fs::create_dir_all(socket_dir).map_err(|e| fail("cannot create the socket folder", &e))?;
    if let Some((uid, gid)) = user {
        for path in [data, socket_dir] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| fail("cannot chown", &e))?;
        }
        let log = dir.join("postgres.log");
        let _ = std::fs::OpenOptions::new().create(true).append(true).open(&log);
        let _ = std::os::unix::fs::chown(&log, Some(uid), Some(gid));
    }
    end_leftover_postmaster(data);
    read_port(data)
}

/// The cluster's `pg_hba.conf`: the unix socket is in a folder only root and the cluster's user
/// can open (the admin connects there, trusted); apps connect over TCP with their role's password
/// (SCRAM), from the host's clients only (loopback, the service address, the dyno network, whose
/// table lets through only the containers granted the cluster's endpoint).
fn pg_hba(host: &AddonHost) -> String {
    let mut hba = String::from("local all all trust\n");
    for client in host.clients() {
        hba.push_str(&format!("host all all {client} scram-sha-256\n"));
    }
    hba
}

/// A postmaster a killed `paas server` left running holds the data dir: stop it.
fn end_leftover_postmaster(data: &Path) {
    let Ok(text) = std::fs::read_to_string(data.join("postmaster.pid")) else { return };
    let Some(pid) = text.lines().next().and_then(|line| line.trim().parse::<u32>().ok()) else { return };
    let is_postgres = std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres");
    if !is_postgres || !alive(pid) {
        return;
    }
    tracing::warn!(pid, "stopping the add-on PostgreSQL cluster a previous run left running");
    signal(pid, "-INT");
    for _ in 0..100 {
        if !alive(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_port(data: &Path) -> Result<u16, AddonError> {
    let conf = std::fs::read_to_string(data.join("postgresql.conf"))
        .map_err(|e| AddonError::Unavailable(format!("cannot read postgresql.conf: {e}")))?;
    conf.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("port = ")?.trim().parse().ok())
        .ok_or_else(|| AddonError::Unavailable("the add-on cluster's postgresql.conf has no port".into()))
}

