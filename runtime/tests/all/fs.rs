//! The per-dyno filesystem: `/tmp` fresh and private per dyno, `/app` read-only, nothing else.

use std::path::Path;
use std::time::Duration;

use paas_runtime::{LogLine, WebDyno};
use tokio::sync::mpsc;

use crate::util::{assert_still_serving, get, probe, spec};

fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Procfile"), "web: app.wasm\n").unwrap();
    dir
}

/// A probe web dyno whose `/app` is `app`, and its log lines.
fn probe_over(app: &Path) -> (WebDyno, mpsc::Receiver<LogLine>) {
    let (mut spec, logs) = spec("probe", "web.1");
    spec.app_dir = Some(app.to_path_buf());
    (probe(spec), logs)
}

#[tokio::test]
async fn reading_etc_passwd_fails() {
    let (spec, _logs) = spec("probe", "web.1");
    let dyno = probe(spec);
    let (status, body) = get(&dyno, "/read?path=/etc/passwd").await;
    assert_eq!((status, body.as_str()), (403, "error: No such file or directory (os error 44)"));
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn escaping_app_with_dot_dot_fails() {
    let app = app_dir();
    let (dyno, _logs) = probe_over(app.path());
    assert_eq!(get(&dyno, "/read?path=/app/Procfile").await, (200, "web: app.wasm\n".to_string()));
    let (status, body) = get(&dyno, "/read?path=/app/../../etc/passwd").await;
    assert_eq!((status, body.as_str()), (403, "error: Operation not permitted (os error 63)"));
    let (status, body) = get(&dyno, "/read?path=/tmp/../../etc/passwd").await;
    assert_eq!((status, body.as_str()), (403, "error: Operation not permitted (os error 63)"));
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn writing_to_app_fails() {
    let app = app_dir();
    let (dyno, _logs) = probe_over(app.path());
    let (status, body) = get(&dyno, "/write?path=/app/new.txt&value=x").await;
    assert_eq!((status, body.as_str()), (403, "error: Operation not permitted (os error 63)"));
    let (status, _) = get(&dyno, "/write?path=/app/Procfile&value=x").await;
    assert_eq!(status, 403);
    assert!(!app.path().join("new.txt").exists());
    assert_eq!(std::fs::read_to_string(app.path().join("Procfile")).unwrap(), "web: app.wasm\n");
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn only_tmp_and_app_are_visible() {
    let app = app_dir();
    let (dyno, _logs) = probe_over(app.path());
    let (status, body) = get(&dyno, "/list?path=/").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(get(&dyno, "/list?path=/app").await, (200, "Procfile".to_string()));
}

#[tokio::test]
async fn two_dynos_of_one_app_do_not_see_each_others_tmp() {
    let (spec1, _l1) = spec("shared-app", "web.1");
    let (spec2, _l2) = spec("shared-app", "web.2");
    let one = probe(spec1);
    let two = probe(spec2);
    assert_eq!(get(&one, "/write?path=/tmp/one.txt&value=from-one").await, (200, "written".to_string()));
    assert_eq!(get(&two, "/write?path=/tmp/two.txt&value=from-two").await, (200, "written".to_string()));
    assert_eq!(get(&one, "/list?path=/tmp").await, (200, "one.txt".to_string()));
    assert_eq!(get(&two, "/list?path=/tmp").await, (200, "two.txt".to_string()));
    assert_eq!(get(&one, "/read?path=/tmp/one.txt").await, (200, "from-one".to_string()));
    assert_eq!(get(&two, "/read?path=/tmp/one.txt").await.0, 403);
    assert_ne!(one.scratch_dir(), two.scratch_dir());
}

#[tokio::test]
async fn tmp_is_shared_by_the_instances_of_one_dyno_and_wiped_at_stop() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.reuse = false;
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/write?path=/tmp/kept&value=yes").await.0, 200);
    assert_eq!(get(&dyno, "/read?path=/tmp/kept").await, (200, "yes".to_string()));
    let scratch = dyno.scratch_dir().to_path_buf();
    assert!(scratch.join("kept").exists());
    dyno.stop(Duration::from_secs(5)).await;
    // (`/proc/self/fd/N` of its tmpfs: N may be reused at once, so look for the file.)
    assert!(!scratch.join("kept").exists(), "scratch {} not wiped", scratch.display());
}
