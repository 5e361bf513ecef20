//! The scheduler end to end, on the real clock: `paas scheduler:add "* * * * *" -- worker-rust 2`
//! runs `scheduler.1` at the next minute, its output and exit are in the app's log stream;
//! `paas scheduler` lists the job with its next run; bad schedules are refused saying why;
//! `scheduler:remove` stops it. (Missed runs across a restart are tested with a driven clock in
//! platform/tests/all/scheduler.rs: here they would take minutes of real time.)

use std::time::{Duration, Instant};

use crate::support::{TestServer, ok, push_example, run};

#[test]
fn a_scheduled_job_runs_as_a_one_off_dyno_and_its_output_reaches_the_logs() {
    let server = TestServer::start();
    let app = "cronjob";
    push_example(&server, "worker-rust", app);

    let bad = run(server.paas().args(["scheduler:add", "*/10 * * *", "-a", app, "--", "worker-rust", "2"]));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("it has 4 fields, not 5"), "{bad:?}");
    let no_command = run(server.paas().args(["scheduler:add", "* * * * *", "-a", app]));
    assert_eq!(no_command.status.code(), Some(2), "a missing command is a usage error: {no_command:?}");

    let added = ok(server.paas().args(["scheduler:add", "* * * * *", "-a", app, "--", "worker-rust", "2"]));
    assert!(added.contains("\"* * * * *\" runs `worker-rust 2`"), "{added}");
    let listed = ok(server.paas().args(["scheduler", "-a", app]));
    assert!(listed.contains("* * * * *") && listed.contains("worker-rust 2"), "{listed}");
    let id = listed.lines().find(|l| l.contains("worker-rust 2")).unwrap().split_whitespace().next().unwrap().to_string();

    // The next minute starts it (within the scheduler's 5 s tick); it ticks twice and exits 0.
    let deadline = Instant::now() + Duration::from_secs(80);
    let logs = loop {
        let logs = ok(server.paas().args(["logs", "-n", "1500", "-a", app]));
        if logs.contains(&format!("paas[scheduler]: job {id} (scheduler.1) exited with code 0")) {
            break logs;
        }
        assert!(Instant::now() < deadline, "the job did not run within 80 s:\n{logs}");
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(logs.contains(&format!("paas[scheduler]: running job {id} (worker-rust 2) as scheduler.1")), "{logs}");
    assert!(logs.contains("app[scheduler.1]: scheduler.1: tick 2"), "{logs}");
    assert!(logs.contains("app[scheduler.1]: scheduler.1: done after 2 iterations"), "{logs}");
    let listed = ok(server.paas().args(["scheduler", "-a", app, "--json"]));
    assert!(!listed.contains("\"last_run_at\": null"), "the run is recorded: {listed}");

    let removed = ok(server.paas().args(["scheduler:remove", &id[..8], "-a", app]));
    assert!(removed.contains(&format!("Removed scheduled job {id}")), "{removed}");
    assert!(ok(server.paas().args(["scheduler", "-a", app])).contains("has no scheduled jobs"));
}
