//! Native dynos under real runc, as root: serving on `$PORT`, the sandbox (users, capabilities,
//! seccomp, filesystems, network namespaces), limits (pids, memory → R15), R10, stopping, stale
//! containers and one-offs (the supervisor's native dynos are paas-node's tests). Skipped when
//! runc or root is missing, except under CI=true where that fails.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use paas_runtime::{
    DynoSpec, ExitStatus, Limits, LogLine, LogStreamKind, NativeConfig, NativeDyno, NativeRuntime, Stdin, free_port,
    run_native_oneoff,
};
use paas_sandbox::net::{OutsideHost, PROBE_PY, uplink_address};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::runc::{app_dir, containers, native, native_with};
use crate::util::{drain, spec};

/// A web dyno spec on a free port with logs to a channel.
pub fn web_spec(app: &str, dyno: &str, app_dir: &Path) -> (DynoSpec, mpsc::Receiver<LogLine>) {
    let (mut spec, rx) = spec(app, dyno);
    spec.app_dir = Some(app_dir.to_path_buf());
    spec.port = free_port().expect("free port");
    (spec, rx)
}

/// GET `path` over HTTP/1.0: status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nhost: test\r\n\r\n").as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// The cgroup directories named after container `id`, in every hierarchy.
fn cgroups_of(id: &str) -> Vec<String> {
    let out = std::process::Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", id])
        .output()
        .expect("find");
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

/// Waits (up to 20 s) for the dyno to write `want` on stdout.
async fn wait_for_line(rx: &mut mpsc::Receiver<LogLine>, want: &str) {
    let wait = async {
        while let Some(line) = rx.recv().await {
            if line.stream == LogStreamKind::Stdout && line.line == want {
                return;
            }
        }
        panic!("the dyno's logs ended before {want:?}");
    };
    tokio::time::timeout(Duration::from_secs(20), wait).await.unwrap_or_else(|_| panic!("no {want:?} in 20 s"));
}

/// The lines of one stream.
fn lines(logs: &[LogLine], stream: LogStreamKind) -> Vec<String> {
    logs.iter().filter(|l| l.stream == stream).map(|l| l.line.clone()).collect()
}

/// Runs a one-off `command` (app dir `app`), returning its status and all its log lines.
async fn oneoff(native: &NativeRuntime, app: Option<&Path>, command: &str) -> (ExitStatus, Vec<LogLine>) {
    let (mut spec, mut rx) = spec("sandbox", "run.1");
    spec.app_dir = app.map(Path::to_path_buf);
    let status = run_native_oneoff(native, spec, command, Stdin::Empty).await.expect("start one-off");
    (status, drain(&mut rx, Duration::from_millis(200)).await)
}

#[tokio::test]
async fn native_web_dyno_serves_on_its_port_and_logs_its_output() {
    let Some((native, _data)) = native() else { return };
    let app = app_dir();
    let (spec, mut rx) = web_spec("shop", "web.1", app.path());
    let dyno = NativeDyno::start(&native, spec, "python3 server.py", Stdin::Empty).expect("start");
    dyno.wait_for_port(Duration::from_secs(20)).await.expect("boots");
    assert_eq!(http_get(dyno.addr(), "/").await.expect("GET"), (200, "hello from web.1".to_string()));
    let id = dyno.container_id().to_string();
    assert!(!cgroups_of(&id).is_empty(), "the dyno has cgroups");
    let status = dyno.stop(Duration::from_secs(5)).await;
    assert_eq!(status, ExitStatus::Exited(143), "python dies of SIGTERM");
    assert_eq!(cgroups_of(&id), Vec::<String>::new(), "no cgroup of the dyno is left in any hierarchy");
    let logs = drain(&mut rx, Duration::from_millis(300)).await;
    assert!(lines(&logs, LogStreamKind::Stdout).iter().any(|l| l.starts_with("listening on ")), "{logs:?}");
    assert!(lines(&logs, LogStreamKind::Runtime).contains(&"Process exited with status 143".to_string()), "{logs:?}");
}

/// A native dyno's CPU time comes from its cgroup's accounting (cgroup v2 `cpu.stat`, v1
/// `cpuacct.usage`): a busy-looping process's grows, and its memory is read too. It was never
/// filled (`paas_dyno_cpu_seconds_total` stayed empty).
#[tokio::test]
async fn a_busy_native_dynos_cpu_time_grows() {
    let Some((native, _data)) = native() else { return };
    let (spec, _rx) = spec("spinner", "worker.1");
    let dyno = NativeDyno::start(&native, spec, "while :; do :; done", Stdin::Empty).expect("start");
    let usage = dyno.usage_probe();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    // runc makes the container's cgroups as it starts it.
    while usage.cpu_seconds().is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = usage.cpu_seconds().expect("this node counts a container's CPU time");
    while usage.cpu_seconds().unwrap_or(0.0) < first + 0.2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let then = usage.cpu_seconds().unwrap_or(0.0);
    assert!(then >= first + 0.2, "a busy loop's CPU time went from {first} s to {then} s in 20 s");
    assert!(usage.bytes() > 0, "its memory is read too");
    dyno.stop(Duration::ZERO).await;
}

#[tokio::test]
async fn native_oneoff_reads_stdin_and_returns_its_exit_code() {
    let Some((native, _data)) = native() else { return };
    let (spec, mut rx) = spec("tools", "run.7");
    let stdin = Stdin::Bytes("hello native\n".into());
    let status = run_native_oneoff(&native, spec, "tr a-z A-Z; echo oops >&2; exit 3", stdin).await.expect("start");
    assert_eq!(status, ExitStatus::Exited(3));
    let logs = drain(&mut rx, Duration::from_millis(200)).await;
    assert_eq!(lines(&logs, LogStreamKind::Stdout), ["HELLO NATIVE"]);
    assert_eq!(lines(&logs, LogStreamKind::Stderr), ["oops"]);
}

#[tokio::test]
async fn attached_native_oneoff_streams_stdin_to_stdout() {
    let Some((native, _data)) = native() else { return };
    let (spec, _rx) = spec("tools", "run.8");
    let (dyno, mut stdio) = NativeDyno::attach(&native, spec, "read line; echo \"got $line\"; exit 5").expect("attach");
    stdio.stdin.write_all(b"ping\n").await.expect("write stdin");
    drop(stdio.stdin);
    let mut out = String::new();
    stdio.stdout.read_to_string(&mut out).await.expect("read stdout");
    assert_eq!(out, "got ping\n");
    assert_eq!(dyno.wait().await, ExitStatus::Exited(5));
}

#[tokio::test]
async fn a_native_oneoff_on_a_terminal_gets_a_tty_of_the_clients_size() {
    let Some((native, _data)) = native() else { return };
    let (spec, _rx) = spec("tools", "run.9");
    let command = "test -t 0 && test -t 1 && echo stdin-is-a-tty; tty; stty size; read -p 'name? ' x; echo \"typed $x\"; exit 2";
    let (dyno, mut stdio) = NativeDyno::attach_tty(&native, spec, command, 33, 101).expect("attach a tty");
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&out).contains("name? ") {
        let n = tokio::time::timeout(Duration::from_secs(10), stdio.stdout.read(&mut buf))
            .await
            .expect("prompt in time")
            .expect("read");
        assert!(n > 0, "output ended before the prompt: {:?}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    stdio.stdin.write_all(b"hi\n").await.expect("type");
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stdio.stdout.read_to_end(&mut rest))
        .await
        .expect("in time")
        .expect("read");
    out.extend_from_slice(&rest);
    let out = String::from_utf8_lossy(&out).replace("\r\n", "\n");
    let mut err = String::new();
    stdio.stderr.read_to_string(&mut err).await.expect("read runc's stderr");
    assert!(out.contains("stdin-is-a-tty\n/dev/pts/0\n33 101\n"), "{out:?} {err}");
    assert!(out.contains("typed hi\n"), "{out:?}");
    assert_eq!(dyno.wait().await, ExitStatus::Exited(2));
}

/// Lines of the one-off's stdout that start with `key=`, as `key=value` → value.
fn value<'a>(stdout: &'a [String], key: &str) -> &'a str {
    stdout.iter().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key}= in {stdout:?}"))
}

#[tokio::test]
async fn a_native_dyno_is_an_unprivileged_sandbox_without_the_platform_files() {
    let Some((native, data)) = native() else { return };
    let app = app_dir();
    let script = format!(
        "echo uid=$(id -u)
         grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t' | sed 's/:/=/'
         unshare --user true 2>/dev/null; echo unshare=$?
         ls {data} >/dev/null 2>&1; echo data_dir=$?
         cat /etc/shadow >/dev/null 2>&1; echo shadow=$?
         touch /usr/x 2>/dev/null; echo usr=$?
         echo fresh > /app/new && echo app_new=$(cat /app/new)
         echo changed >> /app/server.py 2>/dev/null; echo app_existing=$?
         echo home=$HOME dyno=$DYNO pid1=$(cat /proc/1/comm)
         echo own_name=$(getent hosts $(hostname) | cut -d' ' -f1)
         echo user=$(whoami)
         echo certs=$(ls /etc/ssl/certs | wc -l) python=$(python3 -c 'import sitecustomize; print(1)' 2>&1)
         for f in /etc/nginx/mime.types /etc/maven/m2.conf /etc/nginx/nginx.conf /etc/nginx/sites-enabled /etc/maven/settings.xml /etc/php/*/fpm/pool.d /etc/php/*/fpm/php-fpm.conf; do
             test -e $f && echo seen=$f; done; echo seen=end",
        data = data.path().display()
    );
    let (status, logs) = oneoff(&native, Some(app.path()), &script).await;
    let out = lines(&logs, LogStreamKind::Stdout);
    assert_eq!(status, ExitStatus::Exited(0), "{logs:?}");
    assert_ne!(value(&out, "uid"), "0", "not root");
    assert_eq!(value(&out, "CapEff"), "0000000000000000", "no capabilities");
    assert_eq!(value(&out, "CapBnd"), "0000000000000000", "none to gain either");
    assert_eq!(value(&out, "NoNewPrivs"), "1");
    assert_eq!(value(&out, "Seccomp"), "2", "a seccomp filter is installed");
    assert_ne!(value(&out, "unshare"), "0", "no new namespaces");
    assert_ne!(value(&out, "data_dir"), "0", "the platform's data dir is not visible");
    assert_ne!(value(&out, "shadow"), "0", "/etc/shadow is not in the stack");
    assert_ne!(value(&out, "usr"), "0", "the stack is read-only");
    assert_eq!(value(&out, "app_new"), "fresh", "new files in /app go to the dyno's overlay");
    assert_ne!(value(&out, "app_existing"), "0", "the slug's files cannot be changed");
    assert_eq!(value(&out, "home"), "/app dyno=run.1 pid1=bash");
    assert_eq!(value(&out, "user"), "dyno");
    assert_eq!(value(&out, "own_name"), "127.0.0.1", "the hostname resolves locally");
    let stack = value(&out, "certs");
    assert!(stack.ends_with(" python=1") && !stack.starts_with("0 "), "CA certificates and Debian's python: {stack}");
    // What the languages' runtimes read of /etc, where the host has it; never the operator's own
    // configuration beside it (nginx sites, php-fpm pools, Maven's settings with passwords).
    let seen: Vec<&str> = out.iter().filter_map(|l| l.strip_prefix("seen=")).collect();
    let wanted: Vec<&str> = ["/etc/nginx/mime.types", "/etc/maven/m2.conf"].into_iter().filter(|f| Path::new(f).exists()).collect();
    assert_eq!(seen, [wanted, vec!["end"]].concat(), "only the runtimes' files of /etc/nginx, /etc/maven and /etc/php");
    assert!(!app.path().join("new").exists(), "the slug directory is untouched");
    assert!(std::fs::read_to_string(app.path().join("server.py")).unwrap().ends_with("serve_forever()\n"));
}

#[tokio::test]
async fn a_dyno_cannot_see_another_dynos_tmp() {
    let Some((native, _data)) = native() else { return };
    let (spec_a, mut rx) = spec("secrets", "worker.1");
    let a = NativeDyno::start(&native, spec_a, "echo hidden > /tmp/a-secret && echo written; sleep 30", Stdin::Empty)
        .expect("start");
    wait_for_line(&mut rx, "written").await;
    let (status, logs) = oneoff(&native, None, "ls -A /tmp; cat /tmp/a-secret 2>/dev/null; echo end").await;
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(lines(&logs, LogStreamKind::Stdout), ["end"], "an empty /tmp of its own");
    a.stop(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn sigterm_then_sigkill_after_the_grace_period() {
    let Some((native, _data)) = native() else { return };
    let (spec, mut rx) = spec("stubborn", "worker.1");
    let command = "trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.1; done";
    let dyno = NativeDyno::start(&native, spec, command, Stdin::Empty).expect("start");
    wait_for_line(&mut rx, "ready").await;
    let started = std::time::Instant::now();
    assert_eq!(dyno.stop(Duration::from_secs(1)).await, ExitStatus::Stopped);
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(6), "{took:?}");
    let logs = drain(&mut rx, Duration::from_millis(300)).await;
    assert!(lines(&logs, LogStreamKind::Stdout).contains(&"got TERM".to_string()), "{logs:?}");
    assert!(lines(&logs, LogStreamKind::Runtime).contains(&"Stopping process with SIGKILL".to_string()), "{logs:?}");
}

/// Forks children that sleep until a fork is refused; prints how many it made.
const FORK_BOMB: &str = r#"python3 -c '
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
except OSError as e:
    print("refused after", n, e.strerror, flush=True)
'"#;

async fn fork_bomb_is_stopped_and_others_keep_serving(native: NativeRuntime) {
    let app = app_dir();
    let (web, _web_logs) = web_spec("bystander", "web.1", app.path());
    let web = NativeDyno::start(&native, web, "python3 server.py", Stdin::Empty).expect("start web");
    web.wait_for_port(Duration::from_secs(20)).await.expect("boots");
    let (spec, mut rx) = spec("bomb", "run.1");
    let bomb = NativeDyno::start(&native, spec, FORK_BOMB, Stdin::Empty).expect("start bomb");
    assert_eq!(http_get(web.addr(), "/").await.expect("GET during the bomb").0, 200);
    assert_eq!(bomb.wait().await, ExitStatus::Exited(0));
    let out = lines(&drain(&mut rx, Duration::from_millis(200)).await, LogStreamKind::Stdout);
    let made: u32 = out
        .iter()
        .find_map(|l| l.strip_prefix("refused after "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(made < paas_runtime::DynoSize::Basic.max_processes(), "{out:?}");
    assert!(out[0].ends_with("Resource temporarily unavailable"), "{out:?}");
    assert_eq!(http_get(web.addr(), "/").await.expect("GET after the bomb"), (200, "hello from web.1".to_string()));
    web.stop(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_fork_bomb_is_stopped_by_the_pids_cgroup() {
    let Some((native, _data)) = native_with(true) else { return };
    fork_bomb_is_stopped_and_others_keep_serving(native).await;
}

#[tokio::test]
async fn without_cgroups_a_fork_bomb_is_stopped_by_rlimit_nproc() {
    let Some((native, _data)) = native_with(false) else { return };
    fork_bomb_is_stopped_and_others_keep_serving(native).await;
}

/// Allocates (and touches) 16 MiB at a time up to 512 MiB.
const HOG: &str = r#"python3 -c '
blocks = []
for i in range(32):
    blocks.append(bytearray(16 << 20))
    print("allocated", (i + 1) * 16, "MiB", flush=True)
'"#;

#[tokio::test]
async fn allocating_past_the_memory_limit_is_killed_and_logged_r15() {
    let Some((native, _data)) = native() else { return };
    let (mut spec, mut rx) = spec("hog", "worker.1");
    spec.limits = Some(Limits { memory_bytes: 64 << 20, ..Limits::default() });
    let status = run_native_oneoff(&native, spec, HOG, Stdin::Empty).await.expect("start");
    assert_eq!(status, ExitStatus::Exited(137), "killed");
    let logs = drain(&mut rx, Duration::from_millis(200)).await;
    let runtime = lines(&logs, LogStreamKind::Runtime);
    assert!(runtime.iter().any(|l| l.starts_with("Error R15 (Memory quota vastly exceeded)")), "{logs:?}");
    assert!(!lines(&logs, LogStreamKind::Stdout).contains(&"allocated 128 MiB".to_string()), "{logs:?}");
}

#[tokio::test]
async fn without_cgroups_allocations_past_the_limit_fail() {
    let Some((native, _data)) = native_with(false) else { return };
    let (mut spec, mut rx) = spec("hog", "worker.1");
    spec.limits = Some(Limits { memory_bytes: 64 << 20, ..Limits::default() });
    let status = run_native_oneoff(&native, spec, HOG, Stdin::Empty).await.expect("start");
    assert_eq!(status, ExitStatus::Exited(1), "MemoryError");
    let logs = drain(&mut rx, Duration::from_millis(200)).await;
    assert!(lines(&logs, LogStreamKind::Stderr).iter().any(|l| l.contains("MemoryError")), "{logs:?}");
}

/// Runs [`PROBE_PY`] in a one-off of `native`: one `TARGET OK <line>` or `TARGET ERR <name>`
/// per `HOST:PORT` target.
async fn probe(native: &NativeRuntime, targets: &[String]) -> Vec<String> {
    let (status, logs) = oneoff(native, None, &format!("python3 -c '{PROBE_PY}' {}", targets.join(" "))).await;
    assert_eq!(status, ExitStatus::Exited(0), "{logs:?}");
    lines(&logs, LogStreamKind::Stdout)
}

/// A listener on every address of the node (it stands for the API, git and PostgreSQL, which
/// listen on loopback or a node address): greets each connection with `node`. Its port.
fn node_service() -> u16 {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut stream, b"node\n");
        }
    });
    port
}

#[tokio::test]
async fn a_native_oneoff_cannot_connect_to_the_api_on_loopback_nor_to_any_node_address() {
    let Some((native, _data)) = native() else { return };
    let port = node_service();
    let targets = [format!("127.0.0.1:{port}"), format!("gateway:{port}"), format!("{}:{port}", uplink_address().expect("uplink address"))];
    let out = probe(&native, &targets).await;
    let refused: Vec<String> = targets.iter().map(|t| format!("{t} ERR ConnectionRefusedError")).collect();
    assert_eq!(out, refused, "loopback is the namespace's own; the veth's and eth0's addresses are the node's");
    // On the host's network (as before namespaces) the same one-off reached the node's service.
    let shared = NativeRuntime::with_sandbox(native.sandbox().clone());
    assert_eq!(probe(&shared, &targets[..1]).await, [format!("{} OK node", targets[0])]);
}

#[tokio::test]
async fn native_dynos_cannot_reach_each_other_nor_be_reached_from_outside_but_the_router_reaches_them() {
    let Some((native, _data)) = native() else { return };
    let app = app_dir();
    let (spec, _rx) = web_spec("shop", "web.1", app.path());
    let web = NativeDyno::start(&native, spec, "python3 server.py", Stdin::Empty).expect("start");
    web.wait_for_port(Duration::from_secs(20)).await.expect("boots");
    let addr = web.addr();
    assert!(native.network().unwrap().range().contains(&match addr.ip() {
        std::net::IpAddr::V4(ip) => ip,
        other => panic!("{other}"),
    }));
    // The router's way: from the node to the dyno's address.
    assert_eq!(http_get(addr, "/").await.expect("GET"), (200, "hello from web.1".to_string()));
    // Another dyno (a one-off) is refused; the internet (a public-looking host) is reached, from
    // the node's address (masquerade); the node's end of the link to it is a node address.
    let outside = OutsideHost::start().expect("outside host");
    let targets = [
        addr.to_string(),
        format!("{}:{}", outside.address(), outside.port()),
        format!("{}:{}", outside.node_address(), outside.port()),
    ];
    let out = probe(&native, &targets).await;
    let want = [
        format!("{} ERR ConnectionRefusedError", targets[0]),
        format!("{} OK {}", targets[1], outside.node_address()),
        format!("{} ERR ConnectionRefusedError", targets[2]),
    ];
    assert_eq!(out, want);
    // From outside the node (its default route is the node), the dyno's port is closed.
    let from_outside = std::process::Command::new("ip")
        .args(["netns", "exec", &outside.netns(), "python3", "-c", PROBE_PY, &addr.to_string()])
        .output()
        .expect("probe from outside");
    assert_eq!(String::from_utf8_lossy(&from_outside.stdout).trim(), format!("{addr} ERR TimeoutError"));
    web.stop(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_restarted_node_removes_the_containers_a_crashed_one_left() {
    let Some((native, data)) = native() else { return };
    // On the host's network: the forgotten dyno would keep its network (and that range) forever.
    let native = NativeRuntime::with_sandbox(native.sandbox().clone());
    // The server dies without stopping anything: the container, its bundle and cgroup remain.
    forgotten_with_a_stuck_run(&native, "orphan").await;
    assert_eq!(containers(&native).len(), 1);
    let restarted = NativeRuntime::new(NativeConfig::new(data.path())).expect("restart");
    assert_eq!(restarted.cleanup_stale().await.expect("cleanup"), 1);
    assert!(containers(&restarted).is_empty());
    // SIGKILL lands at once, though not within the call that sends it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !runs_of(native.state_root()).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the crashed run's runc run is still alive: {:?}", runs_of(native.state_root()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bundles = std::fs::read_dir(data.path().join("runtime/containers")).unwrap().count();
    assert_eq!(bundles, 0, "stale bundles removed");
}

/// When the server is gone (its end of the watchdog's pipe closes), the watchdog kills and deletes
/// its containers, and also a `runc run` that would not end by itself with its container.
#[tokio::test]
async fn the_watchdog_ends_the_containers_and_runs_of_a_server_gone() {
    let Some((native, _data)) = native() else { return };
    let native = NativeRuntime::with_sandbox(native.sandbox().clone());
    let watchdog = native.sandbox().watchdog().expect("watchdog");
    forgotten_with_a_stuck_run(&native, "watched").await;
    // As the server's death would: the pipe's only writer goes.
    drop(watchdog);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !containers(&native).is_empty() || !runs_of(native.state_root()).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "10 s after the watchdog fired: containers {:?}, runs {:?}",
            containers(&native),
            runs_of(native.state_root())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a dyno of app `app` in a container and forgets it, as a server killed with it running
/// would; its `runc run` is then stopped, as one stuck would be: it cannot end by itself when its
/// container goes (one was seen to outlive its deleted container in CI).
async fn forgotten_with_a_stuck_run(native: &NativeRuntime, app: &str) {
    let (spec, _rx) = spec(app, "worker.1");
    let dyno = NativeDyno::start(native, spec, "sleep 600", Stdin::Empty).expect("start");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while containers(native).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the container never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::mem::forget(dyno);
    let runs = runs_of(native.state_root());
    assert_eq!(runs.len(), 1, "the dyno's runc run");
    let stopped = std::process::Command::new("kill").args(["-STOP", &runs[0].to_string()]).status().unwrap();
    assert!(stopped.success());
}

/// The live (not zombie) `runc --root ROOT run` processes of `root`.
fn runs_of(root: &Path) -> Vec<u32> {
    let root = root.to_string_lossy();
    let mut runs = Vec::new();
    for pid in std::fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'));
        if args.get(1..4).is_some_and(|a| a[0] == "--root" && a[1] == root && a[2] == "run") && !zombie {
            runs.push(pid);
        }
    }
    runs
}
