//! One-off dynos end to end: `paas run` of `examples/worker-rust` through the TLS rendezvous
//! (output, exit code, stdin, time limit), the rendezvous protocol itself (greeting, `\x04`,
//! wrong and reused secrets, a raw terminal's echo and line editing), `paas run` on a terminal
//! (`script`: Ctrl-C), `paas run:detached` into the logs with `ps` listing `run.1` while it
//! runs, and native one-offs (shell commands in runc; on a terminal, a real tty of its size).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

use crate::support::{Gathered, TestServer, ok, paas_bin, push_example, run};

/// `paas` as the user `paas login` logged in (no PAAS_API_URL / PAAS_API_KEY: the stored URL,
/// key and CA are used).
fn logged_in(server: &TestServer) -> Command {
    in_home(server, paas_bin())
}

/// `program` with the server's home as HOME, and no PAAS_API_URL / PAAS_API_KEY.
fn in_home(server: &TestServer, program: &str) -> Command {
    let mut command = Command::new(program);
    command.env("HOME", server.home()).env_remove("PAAS_API_URL").env_remove("PAAS_API_KEY").current_dir(server.home());
    command
}

/// Runs `command` with `input` on its stdin (then closed).
fn with_stdin(command: &mut Command, input: &[u8]) -> std::process::Output {
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn paas_run_gives_the_dynos_output_and_exit_code_and_feeds_its_stdin() {
    let server = TestServer::start();
    // push_example logs in with `paas login`, which records the server's CA.
    push_example(&server, "worker-rust", "oneoff");
    assert!(server.home().join(".config/paas/ca.pem").is_file(), "paas login records the CA");

    let out = run(logged_in(&server).args(["run", "-a", "oneoff", "--env", "INTERVAL_MS=10", "--", "worker-rust", "2"]));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", text(&out.stderr));
    assert_eq!(stdout, "run.1: tick 1\nrun.1: tick 2\nrun.1: done after 2 iterations\n");
    assert!(text(&out.stderr).contains("Running worker-rust 2 on ⬢ oneoff... up, run.1"), "{}", text(&out.stderr));
    // A wasip2 guest's exit(3) reaches the host as a failure (1): Rust's std has no exit-with-code.
    let out = run(logged_in(&server).args(["run", "-a", "oneoff", "--env", "EXIT_CODE=3;INTERVAL_MS=10", "--", "worker-rust", "1"]));
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(1), "run.1: tick 1\nrun.1: done after 1 iterations\n".to_string()));
    // The time limit stops it: exit code 124, as timeout(1)'s.
    let started = Instant::now();
    let out = run(logged_in(&server).args(["run", "-a", "oneoff", "--time-to-live", "1", "--env", "INTERVAL_MS=100", "--", "worker-rust"]));
    assert_eq!(out.status.code(), Some(124), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).starts_with("run.1: tick 1\n"), "{}", text(&out.stdout));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    // stdin reaches the guest, line by line, and ends with \x04.
    let out = with_stdin(logged_in(&server).args(["run", "-a", "oneoff", "--", "worker-rust", "echo"]), b"hello\nwide world\n");
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "echo: hello\necho: wide world\n".to_string()), "{}", text(&out.stderr));

    // A component file of the slug runs too, with its arguments.
    let out = run(logged_in(&server).args(["run", "-a", "oneoff", "-x", "--env", "INTERVAL_MS=1", "--", "target/wasm32-wasip2/release/worker-rust.wasm", "1"]));
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "run.1: tick 1\nrun.1: done after 1 iterations\n".to_string()));

    // What is neither a process type nor a component is refused, naming the process types.
    let out = run(logged_in(&server).args(["run", "-a", "oneoff", "--", "bash"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("`bash` is neither a process type of this app (worker-rust)"), "{}", text(&out.stderr));
}

/// `POST /apps/{app}/dynos` as the operator: the JSON answer.
fn create_dyno(server: &TestServer, app: &str, body: &str) -> Value {
    let out = ok(Command::new("curl")
        .args(["-sS", "-f", "-X", "POST", "-H", "Content-Type: application/json"])
        .args(["-H", &format!("Authorization: Bearer {}", server.operator_key)])
        .args(["-d", body])
        .arg(format!("{}/apps/{app}/dynos", server.api_url)));
    serde_json::from_str(&out).unwrap()
}

/// A TLS connection to the rendezvous of `attach_url` trusting only `<data-dir>/tls/ca.pem`,
/// after sending `secret`.
fn rendezvous(server: &TestServer, attach_url: &str, secret: &str) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(server.data_dir().join("tls/ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let addr = attach_url.strip_prefix("rendezvous://").unwrap().split('/').next().unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = rustls::StreamOwned::new(rustls::ClientConnection::new(Arc::new(config), name).unwrap(), tcp);
    tls.write_all(format!("{secret}\r\n").as_bytes()).unwrap();
    tls.flush().unwrap();
    tls
}

/// Everything until the server closes (an unclean close counts as the end).
fn read_all(tls: &mut impl Read) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof || e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("reading the rendezvous: {e}"),
        }
    }
}

#[test]
fn the_rendezvous_greets_pipes_both_ways_and_refuses_wrong_and_reused_secrets() {
    let server = TestServer::start();
    push_example(&server, "worker-rust", "meet");
    let dyno = create_dyno(&server, "meet", r#"{"command": "worker-rust echo", "attach": true, "env": {"EXIT_CODE": "0"}}"#);
    assert_eq!(dyno["name"], "run.1");
    assert_eq!(dyno["type"], "run");
    let url = dyno["attach_url"].as_str().unwrap().to_string();
    let secret = url.rsplit('/').next().unwrap().to_string();
    assert!(url.starts_with("rendezvous://127.0.0.1:"), "{url}");
    assert!(secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()), "{secret}");

    // A wrong secret: closed without a greeting; the dyno still waits for its client.
    let mut wrong = rendezvous(&server, &url, &"0".repeat(64));
    assert_eq!(read_all(&mut wrong), b"");

    let mut tls = rendezvous(&server, &url, &secret);
    let mut greeting = [0u8; 12];
    tls.read_exact(&mut greeting).unwrap();
    assert_eq!(&greeting, b"rendezvous\r\n");
    tls.write_all(b"one\ntwo\n\x04ignored after the end of stdin\n").unwrap();
    tls.flush().unwrap();
    assert_eq!(text(&read_all(&mut tls)), "echo: one\necho: two\n");

    // Used once: refused the second time.
    let mut again = rendezvous(&server, &url, &secret);
    assert_eq!(read_all(&mut again), b"");

    // A client with a raw terminal (it sends COLUMNS and LINES) to a wasm dyno: the rendezvous
    // echoes and edits what is typed, hands over whole lines, and ends lines with \r\n.
    let dyno = create_dyno(&server, "meet", r#"{"command": "worker-rust echo", "attach": true, "env": {"COLUMNS": "80", "LINES": "24"}}"#);
    let url = dyno["attach_url"].as_str().unwrap().to_string();
    let mut tls = rendezvous(&server, &url, url.rsplit('/').next().unwrap());
    tls.read_exact(&mut greeting).unwrap();
    tls.write_all(b"hj\x7fi\r").unwrap();
    tls.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    tls.write_all(b"\x04").unwrap();
    tls.flush().unwrap();
    assert_eq!(text(&read_all(&mut tls)), "hj\x08 \x08i\r\necho: hi\r\n");
}

#[test]
fn run_detached_goes_to_the_logs_and_ps_lists_run_1_while_it_runs() {
    let server = TestServer::start();
    push_example(&server, "worker-rust", "background");
    let out = ok(logged_in(&server).args(["run:detached", "-a", "background", "--env", "INTERVAL_MS=300", "--", "worker-rust", "6"]));
    assert!(out.contains("paas logs -a background --dyno run.1"), "{out}");

    let ps = ok(logged_in(&server).args(["ps", "-a", "background"]));
    assert!(ps.contains("run.1") && ps.contains("worker-rust 6"), "ps while it runs:\n{ps}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let logs = loop {
        let logs = ok(logged_in(&server).args(["logs", "-a", "background", "--dyno", "run.1"]));
        if logs.contains("State changed from up to complete") {
            break logs;
        }
        assert!(Instant::now() < deadline, "run.1 did not complete; logs:\n{logs}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for line in ["Starting process with command `worker-rust 6`", "app[run.1]: run.1: tick 1", "app[run.1]: run.1: done after 6 iterations", "Process exited with status 0"] {
        assert!(logs.contains(line), "{line:?} not in the logs:\n{logs}");
    }
    let ps = ok(logged_in(&server).args(["ps", "-a", "background"]));
    assert!(!ps.contains("run.1"), "ps after it exited:\n{ps}");

    // One that would run forever: ps:stop stops it (the stop file, as for other dynos).
    ok(logged_in(&server).args(["run:detached", "-a", "background", "--env", "INTERVAL_MS=100", "--", "worker-rust"]));
    ok(logged_in(&server).args(["ps:stop", "run.1", "-a", "background"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = ok(logged_in(&server).args(["logs", "-a", "background", "--dyno", "run.1"]));
        if logs.contains("stop requested after") && logs.matches("State changed from up to complete").count() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "run.1 did not stop; logs:\n{logs}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!ok(logged_in(&server).args(["ps", "-a", "background"])).contains("run.1"));
}

#[test]
fn native_one_offs_run_shell_commands_in_a_container() {
    if !crate::native::runc_available() {
        return;
    }
    let server = TestServer::start();
    push_example(&server, "threaded-rust", "native-run");
    // A shell command, with its real exit code; stdout and stderr both reach the client.
    let out = run(logged_in(&server).args(["run", "-a", "native-run", "--", "echo out; echo err >&2; cat; exit 3"]).stdin(Stdio::piped()));
    // (Two pipes without a terminal: their order is not kept.)
    let mut lines: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!((out.status.code(), lines), (Some(3), vec!["err".to_string(), "out".to_string()]), "{}", text(&out.stderr));
    let out = with_stdin(logged_in(&server).args(["run", "-a", "native-run", "--", "cat; echo DYNO=$DYNO"]), b"piped in\n");
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "piped in\nDYNO=run.1\n".to_string()), "{}", text(&out.stderr));
    // From a terminal (`script`, sized 33x101): the container's process has a real tty of the
    // client's size on stdin and stdout (runc on a pty of the server's own, no util-linux
    // `script` on the server side), and its exit code comes back.
    let line = format!("stty rows 33 cols 101; {} run -a native-run -- 'test -t 0 && test -t 1 && echo is-a-tty; tty; stty size; exit 4'", paas_bin());
    let mut child = on_a_terminal(&server, &line);
    let stdin = child.stdin.take();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let shown = text(&out.stdout).replace("\r\n", "\n");
    assert!(shown.contains("is-a-tty\n/dev/pts/0\n33 101\n"), "{shown:?} {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(4), "{shown:?}");
}

#[test]
fn paas_run_on_a_terminal_gets_echo_and_line_editing_and_ctrl_c_stops_the_dyno() {
    // `script` gives paas run a terminal: it goes raw (stty), sends COLUMNS and LINES, and
    // Ctrl-C reaches the rendezvous as \x03.
    let server = TestServer::start();
    push_example(&server, "worker-rust", "terminal");
    let line = format!("{} run -a terminal -- worker-rust echo", paas_bin());
    let mut child = on_a_terminal(&server, &line);
    let mut stdin = child.stdin.take().unwrap();
    let seen = Gathered::start([Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>]);
    seen.wait_for("up, run.1");
    stdin.write_all(b"hj\x7fi\r").unwrap();
    stdin.flush().unwrap();
    seen.wait_for("hj\x08 \x08i\r\necho: hi\r\n");
    let started = Instant::now();
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    seen.wait_for("^C");
    let status = child.wait().unwrap();
    let all = seen.finish();
    assert!(started.elapsed() < Duration::from_secs(5), "Ctrl-C took {:?}", started.elapsed());
    assert_eq!(status.code(), Some(0), "{all:?}");
}

#[test]
fn paas_login_over_https_takes_the_ca_file_and_paas_run_trusts_it_without_a_flag() {
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &["--api-tls-listen", "127.0.0.1:0"]);
    let lines = server.stdout.lock().unwrap().clone();
    let https = lines.iter().find_map(|l| l.strip_prefix("API listening on ").filter(|u| u.starts_with("https://")));
    let https = https.expect("the server prints its HTTPS address").trim_end_matches('/').to_string();
    push_example(&server, "worker-rust", "secure-run");

    let login = |extra: &[&str]| run(logged_in(&server).args(["login", "--api-url", &https, "--api-key", &server.operator_key]).args(extra));
    let refused = login(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("pass --ca-file <data-dir>/tls/ca.pem"), "{}", text(&refused.stderr));
    let ca = server.data_dir().join("tls/ca.pem");
    let logged = login(&["--ca-file", ca.to_str().unwrap()]);
    assert!(logged.status.success(), "{}", text(&logged.stderr));

    // The API over HTTPS and the rendezvous, both checked against the recorded CA.
    assert!(ok(logged_in(&server).args(["apps"])).contains("secure-run"));
    let out = run(logged_in(&server).args(["run", "-a", "secure-run", "--env", "INTERVAL_MS=1", "--", "worker-rust", "1"]));
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "run.1: tick 1\nrun.1: done after 1 iterations\n".to_string()), "{}", text(&out.stderr));
}

/// `line` run by a shell on a terminal of util-linux `script`, its ends piped to the test.
fn on_a_terminal(server: &TestServer, line: &str) -> std::process::Child {
    in_home(server, "script")
        .args(["-qfec", line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run script (util-linux): {e}"))
}
