//! Ledgers to test against: a fresh SQLite file, or a fresh database on a real PostgreSQL server
//! that this test binary starts (initdb + pg_ctl on a unix socket in a temp dir, no TCP port) or
//! finds in `PAAS_TEST_DATABASE_URL`; and `conformance!`, which runs each check against both.
//! paas-platform's tests use this file too, by path.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use paas_ledger::{Ledger, ledger};

/// A test module per backend, `sqlite` and `postgres`, each with a test per check named: the
/// check (`async fn check(&TestLedger)`) run on a fresh ledger of that backend.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let ledger = crate::backends::sqlite().await;
                    super::$check(&ledger).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(ledger) = crate::backends::postgres().await else { return };
                    super::$check(&ledger).await;
                }
            )*
        }
    };
}

/// A ledger and what keeps its storage alive.
pub struct TestLedger {
    pub ledger: Arc<dyn Ledger>,
    /// Where it is, to open it again.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A ledger in a fresh SQLite file.
pub async fn sqlite() -> TestLedger {
    let dir = tempfile::tempdir().unwrap();
    let url = ledger::sqlite_url(dir.path());
    let ledger = ledger::open(&url).await.unwrap();
    TestLedger { ledger, url, _dir: Some(dir) }
}

/// A ledger in a fresh database on the test PostgreSQL server; `None` (after saying so) when
/// PostgreSQL is not installed and `CI` is not set. In CI a missing PostgreSQL fails the test.
pub async fn postgres() -> Option<TestLedger> {
    let admin_url = server()?.clone();
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    {
        use sqlx::{Connection, Executor};
        sqlx::any::install_default_drivers();
        let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
        admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        admin.close().await.unwrap();
    }
    let url = with_database(&admin_url, &name);
    let ledger = ledger::open(&url).await.unwrap();
    Some(TestLedger { ledger, url, _dir: None })
}

/// `admin_url` pointing at database `name` instead.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let base = match path_start {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => format!("{base}/{name}"),
    };
    match query {
        Some(query) => format!("{base}?{query}"),
        None => base,
    }
}

/// The test PostgreSQL server's admin URL (what add-on tests provision on), or `None` as
/// [`postgres`] says.
#[allow(dead_code, reason = "paas-platform's add-on tests use it; the ledger's do not")]
pub fn admin_url() -> Option<String> {
    server().cloned()
}

static SERVER: OnceLock<Option<String>> = OnceLock::new();

/// The admin URL of the test PostgreSQL server, started on first use.
fn server() -> Option<&'static String> {
    SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("PAAS_TEST_DATABASE_URL") {
                return Some(url);
            }
            let Some(bin) = postgres_bin() else {
                let why = "PostgreSQL binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin \
                           and PAAS_TEST_DATABASE_URL is not set";
                if std::env::var_os("CI").is_some() {
                    panic!("{why}; CI must test the PostgreSQL ledger (run .ci/setup)");
                }
                eprintln!("skipping the PostgreSQL ledger tests: {why}");
                return None;
            };
            Some(start_server(&bin))
        })
        .as_ref()
}

fn postgres_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    dirs.sort_by_key(|dir| {
        dir.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0)
    });
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A command run as the `postgres` user when we are root (initdb refuses root).
fn pg_command(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts PostgreSQL listening only on a unix socket in a temp dir, and a watchdog that stops it
/// and removes the dir once this test process has exited.
#[allow(clippy::zombie_processes)] // the watchdog outlives this process on purpose
fn start_server(bin: &Path) -> String {
    let dir = tempfile::Builder::new().prefix("paas-pg-").tempdir().unwrap().keep();
    if is_root() {
        run(Command::new("chown").arg("postgres").arg(&dir));
    }
    let data = dir.join("data");
    run(pg_command(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]));
    let options = format!(
        "-c listen_addresses='' -c unix_socket_directories={} -c fsync=off -c max_connections=200",
        dir.display()
    );
    run(pg_command(&bin.join("pg_ctl"))
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-o", &options, "-w", "start"]));
    let stop = pg_command(&bin.join("pg_ctl"));
    let stop = format!(
        "{} -D {} -m immediate stop",
        std::iter::once(stop.get_program())
            .chain(stop.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        data.display()
    );
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the PostgreSQL watchdog");
    format!("postgres://postgres@localhost/postgres?host={}", dir.display())
}
