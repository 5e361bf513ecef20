//! Limits: memory per instance, request deadline. Exceeding one fails that request only.

use std::time::{Duration, Instant};

use paas_runtime::{DynoSize, HandleError, Limits};

use crate::util::{assert_still_serving, get, probe, spec, try_get};

#[tokio::test]
async fn allocating_past_the_memory_limit_traps_that_request_only() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.size = DynoSize::Basic;
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/alloc?mib=64").await, (200, "allocated 64 MiB (114688)".to_string()));
    let err = try_get(&dyno, "/alloc?mib=200").await.unwrap_err();
    assert_eq!(err, HandleError::MemoryExceeded { limit_bytes: 128 << 20 });
    assert_eq!(err.to_string(), "Error R15 (Memory quota vastly exceeded): the instance tried to grow its memory past 128 MiB");
    assert_eq!(err.status(), 500);
    assert_still_serving(&dyno).await;
    assert_eq!(get(&dyno, "/alloc?mib=64").await.0, 200);
}

#[tokio::test]
async fn bigger_sizes_allow_more_memory() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.size = DynoSize::Standard;
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/alloc?mib=200").await, (200, "allocated 200 MiB (358400)".to_string()));
}

fn short_deadline(spec: &mut paas_runtime::DynoSpec, timeout: Duration) {
    spec.limits = Some(Limits { request_timeout: timeout, ..DynoSize::Basic.limits() });
}

#[tokio::test]
async fn an_endless_loop_times_out_and_the_dyno_keeps_serving() {
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.concurrency = 1;
    short_deadline(&mut spec, Duration::from_millis(500));
    let dyno = probe(spec);
    let start = Instant::now();
    let err = try_get(&dyno, "/loop").await.unwrap_err();
    assert_eq!(err, HandleError::Timeout(Duration::from_millis(500)));
    assert_eq!(err.status(), 503);
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    // With concurrency 1 this only works if the looping instance's slot was given back.
    assert_still_serving(&dyno).await;
}

#[tokio::test]
async fn a_busy_guest_does_not_block_other_dynos() {
    let (mut spec1, _l1) = spec("probe", "web.1");
    short_deadline(&mut spec1, Duration::from_secs(2));
    let looping = probe(spec1);
    let (spec2, _l2) = spec("probe", "web.2");
    let other = probe(spec2);
    let busy = tokio::spawn(async move { try_get(&looping, "/loop").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = Instant::now();
    assert_still_serving(&other).await;
    assert!(start.elapsed() < Duration::from_millis(1500), "blocked for {:?}", start.elapsed());
    assert_eq!(busy.await.unwrap().unwrap_err(), HandleError::Timeout(Duration::from_secs(2)));
}

#[tokio::test]
async fn a_guest_waiting_past_the_deadline_times_out() {
    let (mut spec, _logs) = spec("probe", "web.1");
    short_deadline(&mut spec, Duration::from_millis(300));
    let dyno = probe(spec);
    assert_eq!(try_get(&dyno, "/sleep?ms=5000").await.unwrap_err(), HandleError::Timeout(Duration::from_millis(300)));
    assert_still_serving(&dyno).await;
}
