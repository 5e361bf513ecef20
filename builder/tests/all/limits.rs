//! Bounded builds: one build of an app at a time (the next waits and says so), a node's build
//! slots, and a build's output cut at its limits.

use std::sync::Arc;
use std::time::Duration;

use paas_builder::output::{MAX_LINE_LENGTH, OUTPUT_TRUNCATED};
use paas_builder::{Builder, BuilderConfig, CollectOutput};

use crate::support::{repo_root, request, write_executable};

/// A builder allowing `slots` builds at once, and a buildpack whose compile runs `script`.
fn setup(slots: usize, script: &str) -> (tempfile::TempDir, tempfile::TempDir, Arc<Builder>) {
    let (data, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_executable(&bp.path().join("bin/compile"), &format!("#!/bin/sh\n{script}\n"));
    let mut config = BuilderConfig::new(data.path(), repo_root().join("buildpacks"));
    config.max_concurrent_builds = slots;
    (data, bp, Arc::new(Builder::new(config).unwrap()))
}

async fn build_in_background(
    builder: &Arc<Builder>,
    app: &str,
    bp: &std::path::Path,
) -> (Arc<CollectOutput>, tokio::task::JoinHandle<bool>) {
    let src = tempfile::tempdir().unwrap();
    let mut req = request(app, src.path());
    req.buildpack_url = Some(bp.display().to_string());
    let out = Arc::new(CollectOutput::default());
    let (builder, sink) = (builder.clone(), out.clone());
    let task = tokio::spawn(async move {
        let _src = src;
        builder.build(req, sink.as_ref()).await.is_ok()
    });
    (out, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_build_of_an_app_waits_for_the_first_and_says_so() {
    let (_data, bp, builder) = setup(4, "echo compiling; sleep 1");
    let (first, first_task) = build_in_background(&builder, "busy-app", bp.path()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (second, second_task) = build_in_background(&builder, "busy-app", bp.path()).await;
    let (other, other_task) = build_in_background(&builder, "other-app", bp.path()).await;
    assert!(first_task.await.unwrap() && second_task.await.unwrap() && other_task.await.unwrap());
    assert!(!first.text().contains("Waiting"), "{}", first.text());
    assert_eq!(second.lines()[0], "-----> Waiting for the build of busy-app already running");
    assert!(!other.text().contains("Waiting"), "another app does not wait: {}", other.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_past_the_node_s_slots_wait_for_one() {
    let (_data, bp, builder) = setup(1, "sleep 1");
    let (_, first_task) = build_in_background(&builder, "first-app", bp.path()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (second, second_task) = build_in_background(&builder, "second-app", bp.path()).await;
    assert!(first_task.await.unwrap() && second_task.await.unwrap());
    assert_eq!(second.lines()[0], "-----> Waiting for a build slot (1 builds run at once on this node)");
}

#[tokio::test]
async fn a_build_printing_100_mb_without_a_newline_is_cut() {
    let (_data, bp, builder) = setup(1, "head -c 100000000 /dev/zero | tr '\\0' x; echo; for i in $(seq 400); do head -c 65536 /dev/zero | tr '\\0' y; echo; done; echo never shown");
    let (out, task) = build_in_background(&builder, "loud-app", bp.path()).await;
    assert!(task.await.unwrap());
    let lines = out.lines();
    let long = lines.iter().find(|l| l.starts_with("xxx")).unwrap();
    assert!(long.len() < MAX_LINE_LENGTH + 20 && long.ends_with(" (line truncated)"));
    assert_eq!(lines.iter().filter(|l| *l == OUTPUT_TRUNCATED).count(), 1);
    assert!(!lines.iter().any(|l| l == "never shown"));
    let total: usize = lines.iter().map(|l| l.len() + 1).sum();
    assert!(total <= paas_builder::output::MAX_BUILD_OUTPUT + 1024, "{total}");
}
