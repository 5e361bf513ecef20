//! One tenant cannot exhaust the node: a flooded app keeps to its share of the instance pool,
//! spinning guests leave other apps' latency alone, an instance's resources (fds, streams) and
//! its dyno's `/tmp` are bounded.

use std::time::{Duration, Instant};

use paas_runtime::{CommandDyno, DynoSize, DynoSpec, HandleError, Limits, Runtime, RuntimeConfig, Stdin, WebDyno};

use crate::util::{assert_still_serving, get, guest, probe, spec, try_get};

fn runtime(dir: &std::path::Path, slots: u32, per_app: u32) -> Runtime {
    let mut config = RuntimeConfig::new(dir);
    config.max_instances = slots;
    config.max_instances_per_app = per_app;
    Runtime::new(config).unwrap()
}

fn web(rt: &Runtime, app: &str, dyno: &str, reuse: bool) -> WebDyno {
    let component = rt.load_component(guest("http_probe")).unwrap();
    let mut spec = DynoSpec::new(app, dyno);
    spec.reuse = reuse;
    WebDyno::start(rt, &component, spec).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_app_cannot_take_the_instance_pool() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path(), 6, 3);
    // App A: three web dynos that could run 48 requests at once between them.
    let flooded: Vec<WebDyno> = (1..=3).map(|i| web(&rt, "flooded", &format!("web.{i}"), false)).collect();
    let other = web(&rt, "other", "web.1", true);
    let started = Instant::now();
    let flood: Vec<_> = (0..9)
        .map(|i| {
            let dyno = flooded[i % flooded.len()].clone();
            tokio::spawn(async move { try_get(&dyno, "/sleep?ms=1500").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = rt.pool_metrics().unwrap().component_instances();
    assert_eq!(held, 3, "the flooded app holds {held} instances, not its share of 3");
    // Before, the flood held every slot and this failed: "maximum concurrent instance limit reached".
    let asked = Instant::now();
    assert_eq!(get(&other, "/").await, (200, "ok".to_string()));
    assert!(asked.elapsed() < Duration::from_millis(1000), "the other app waited {:?}", asked.elapsed());
    // The flood is served too, three at a time: three rounds of 1.5 s.
    for request in flood {
        assert_eq!(request.await.unwrap(), Ok((200, "slept".to_string())));
    }
    assert!(started.elapsed() >= Duration::from_millis(1500 * 3), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_at_its_share_gives_back_its_own_idle_instances_first() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path(), 8, 2);
    let dynos: Vec<WebDyno> = (1..=4).map(|i| web(&rt, "app", &format!("web.{i}"), true)).collect();
    for dyno in &dynos {
        // Each keeps its instance idle after the request; the third and fourth take the slots of
        // the least recently used ones instead of waiting for a slot nobody frees.
        let answer = tokio::time::timeout(Duration::from_secs(5), get(dyno, "/")).await;
        assert_eq!(answer.expect("waited for a slot held by an idle instance"), (200, "ok".to_string()));
    }
    assert!(rt.pool_metrics().unwrap().component_instances() <= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_holds_no_more_memory_than_its_share_and_other_apps_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RuntimeConfig::new(dir.path());
    config.max_instances = 20;
    config.max_memory_per_app = 300 << 20;
    let rt = Runtime::new(config).unwrap();
    let hog = web(&rt, "hog", "web.1", false);
    let other = web(&rt, "other", "web.1", false);
    // Three instances of 100 MiB at once: the third is past the app's 300 MiB (each also has
    // its own few MiB), and traps; the other app allocates as much meanwhile. (Each holds its
    // memory 5 s: long enough for all three to have grown, even on a loaded machine.)
    let held: Vec<_> = (0..3)
        .map(|_| {
            let hog = hog.clone();
            tokio::spawn(async move { try_get(&hog, "/alloc?mib=100&hold_ms=5000").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(get(&other, "/alloc?mib=100").await.0, 200);
    let mut answers = Vec::new();
    for request in held {
        answers.push(request.await.unwrap());
    }
    let refused: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert_eq!(refused, [&HandleError::AppMemoryExceeded { limit_bytes: 300 << 20 }], "{answers:?}");
    assert_eq!(
        refused[0].to_string(),
        "Error R15 (Memory quota vastly exceeded): the app's instances together tried to grow past 300 MiB"
    );
    // Its memory came back with the instances.
    assert_eq!(get(&hog, "/alloc?mib=100").await.0, 200);
}

#[tokio::test]
async fn idle_instances_give_their_memory_back_to_their_apps_next_instance() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RuntimeConfig::new(dir.path());
    config.max_memory_per_app = 300 << 20;
    let rt = Runtime::new(config).unwrap();
    // Each dyno keeps its instance, grown to 100 MiB, idle after its request.
    let dynos: Vec<WebDyno> = (1..=4).map(|i| web(&rt, "app", &format!("web.{i}"), true)).collect();
    for dyno in &dynos {
        assert_eq!(get(dyno, "/alloc?mib=100").await.0, 200);
    }
}

/// The 99th percentile of `n` sequential requests to `dyno`.
async fn p99(dyno: &WebDyno, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        assert_still_serving(dyno).await;
        times.push(start.elapsed());
    }
    times.sort();
    times[n * 99 / 100]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_spinning_workers_leave_another_apps_p99_within_twice_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path(), 50, 20);
    let quiet_app = web(&rt, "quiet", "web.1", true);
    let cli = rt.load_component(guest("cli_probe")).unwrap();
    let _ = p99(&quiet_app, 200).await; // warm up
    let quiet = p99(&quiet_app, 1000).await;
    let workers: Vec<CommandDyno> = (1..=10)
        .map(|i| {
            CommandDyno::start(&rt, &cli, DynoSpec::new("spinner", format!("worker.{i}")), vec!["loop".into()], Stdin::Empty)
                .unwrap()
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = p99(&quiet_app, 1000).await;
    eprintln!("p99 of the quiet app: {quiet:?} alone, {busy:?} beside ten spinning workers");
    // Before, the spinners shared the serving threads 10 ms at a time: p99 in the tens of ms.
    let bound = (quiet * 2).max(quiet + Duration::from_millis(3));
    assert!(busy <= bound, "p99 {busy:?} beside spinners, {quiet:?} alone");
    // The workers still run: they got the CPU nobody else wanted.
    assert!(workers.iter().all(|w| !w.is_finished()));
    for worker in workers {
        worker.stop(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_spinning_forever_still_times_out_in_the_background_lane() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.limits = Some(Limits { request_timeout: Duration::from_millis(800), ..DynoSize::Basic.limits() });
    let dyno = probe(spec);
    let start = Instant::now();
    assert_eq!(try_get(&dyno, "/loop").await.unwrap_err(), HandleError::Timeout(Duration::from_millis(800)));
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    assert_eq!(get(&dyno, "/spin?ms=50").await, (200, "spun".to_string()));
}

#[tokio::test]
async fn regression_a_guest_opening_files_without_end_traps_at_its_resource_capacity() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.limits = Some(Limits { resources: 200, ..DynoSize::Basic.limits() });
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/open?n=100").await, (200, "opened 100".to_string()));
    let err = try_get(&dyno, "/open?n=100000").await.unwrap_err();
    let HandleError::Trap(detail) = &err else { panic!("{err:?}") };
    assert!(detail.contains("resource table has no free keys"), "{detail}");
    assert_eq!(err.status(), 500);
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn writing_past_the_tmp_quota_fails_with_insufficient_space() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.limits = Some(Limits { tmp_bytes: 1 << 20, ..DynoSize::Basic.limits() });
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/fill?kib=512").await, (200, "ok".to_string()));
    assert_eq!(get(&dyno, "/fill?kib=2048&name=big").await, (507, "insufficient-space".to_string()));
    // Space freed (the big file truncated) can be written again.
    assert_eq!(get(&dyno, "/fill?kib=1&name=big").await, (200, "ok".to_string()));
    assert_eq!(get(&dyno, "/fill?kib=256&name=more").await, (200, "ok".to_string()));
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn each_size_gets_a_tmp_quota_of_its_memory() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.size = DynoSize::Standard;
    let dyno = probe(spec);
    let fs = rustix::fs::statfs(dyno.scratch_dir()).unwrap();
    assert_eq!(fs.f_type, 0x0102_1994, "not a tmpfs"); // TMPFS_MAGIC
    assert_eq!(fs.f_blocks as u64 * fs.f_bsize as u64, 512 << 20);
}

#[tokio::test]
async fn regression_a_dynos_tmp_is_never_left_mounted_in_the_hosts_tree() {
    // Mounts in the host's tree outlive the process: every exit of paas server (or of a test run)
    // left each running dyno's /tmp mounted, its folder impossible to remove.
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/write?path=/tmp/kept&value=yes").await.0, 200);
    assert!(dyno.scratch_dir().starts_with("/proc/self/fd"), "{}", dyno.scratch_dir().display());
    let root = crate::util::runtime().config().scratch_dir.clone();
    let mounted_under_root = || -> Vec<String> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(root.to_str().unwrap())).map(String::from).collect()
    };
    // A dyno starting right now is mounted for a few microseconds, never for 200 ms.
    let before = mounted_under_root();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stayed: Vec<String> = mounted_under_root().into_iter().filter(|p| before.contains(p)).collect();
    assert!(stayed.is_empty(), "{stayed:?}");
}

#[tokio::test]
async fn regression_a_dyno_whose_app_has_fewer_slots_than_its_ready_instances_prewarms_and_serves() {
    // Prewarming took a slot by dropping the app's idle instance, which was the dyno's own ready
    // one: with one slot per app and two ready instances it made and dropped instances without end.
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path(), 10, 1);
    let component = rt.load_component(guest("http_probe")).unwrap();
    let mut spec = DynoSpec::new("small", "web.1");
    spec.reuse = false;
    spec.ready = 2;
    let dyno = WebDyno::start(&rt, &component, spec).unwrap();
    tokio::time::timeout(Duration::from_secs(10), dyno.prewarm()).await.expect("prewarm ended").unwrap();
    assert_eq!(dyno.instances_idle(), 1, "one ready instance: the app's one slot");
    assert_eq!(get(&dyno, "/count").await.1, "1");
}
