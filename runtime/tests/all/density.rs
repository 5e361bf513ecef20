//! Many apps on one runtime: a component is loaded once and shared by every app running the same
//! bytes; more web dynos that keep idle instances than the pool has slots still all serve.

use paas_runtime::{DynoSpec, Runtime, RuntimeConfig, WebDyno};

use crate::util::{get, guest};

fn small_runtime(dir: &std::path::Path, slots: u32) -> Runtime {
    let mut config = RuntimeConfig::new(dir);
    config.max_instances = slots;
    Runtime::new(config).unwrap()
}

#[test]
fn apps_with_the_same_component_share_one_load() {
    let dir = tempfile::tempdir().unwrap();
    let rt = small_runtime(dir.path(), 4);
    let bytes = std::fs::read(guest("http_probe")).unwrap();
    let a = rt.load_component_bytes(&bytes).unwrap();
    let b = rt.load_component_bytes(&bytes).unwrap();
    assert!(a.shares_code_with(&b), "the second app got a second copy of the code");
    // Other bytes (a custom section appended) are another component.
    let mut other = bytes.clone();
    other.extend_from_slice(b"\x00\x08\x04noteabc");
    let c = rt.load_component_bytes(&other).unwrap();
    assert!(!c.shares_code_with(&a));
    assert_eq!(rt.loaded_components(), 2);
    drop(c);
    assert_eq!(rt.loaded_components(), 1, "a component nobody holds is freed");
}

#[test]
fn regression_one_app_deploying_a_new_release_does_not_unshare_the_component_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let rt = small_runtime(dir.path(), 4);
    let first_app = rt.load_component(guest("http_probe")).unwrap();
    let second_app = rt.load_component(guest("http_probe")).unwrap();
    // The first app moves to another release: it lets go of its component.
    rt.unload(first_app.sha256());
    drop(first_app);
    // A third app with the same component still gets the one the second app runs (before, it
    // got a fresh load: one more copy of the code and InstancePre per redeploy).
    let third_app = rt.load_component(guest("http_probe")).unwrap();
    assert!(third_app.shares_code_with(&second_app));
}

#[tokio::test]
async fn more_dynos_keeping_idle_instances_than_pool_slots_all_serve() {
    let dir = tempfile::tempdir().unwrap();
    let slots = 3;
    let rt = small_runtime(dir.path(), slots);
    let component = rt.load_component(guest("http_probe")).unwrap();
    let dynos: Vec<WebDyno> = (0..slots * 2)
        .map(|i| {
            let spec = DynoSpec::new(format!("app{i}"), "web.1");
            assert!(spec.reuse, "reuse is what keeps idle instances");
            WebDyno::start(&rt, &component, spec).unwrap()
        })
        .collect();
    for (i, dyno) in dynos.iter().enumerate() {
        // Starting a dyno instantiates ahead of traffic, as the supervisor does: with every
        // slot held by an idle instance of another app, that used to fail (the dyno crashed).
        dyno.prewarm().await.unwrap_or_else(|e| panic!("app{i}: {e}"));
        assert_eq!(get(dyno, "/").await, (200, "ok".to_string()), "app{i}");
    }
    // Every app still answers; the least recently used gave their idle instances back.
    for dyno in &dynos {
        assert_eq!(get(dyno, "/").await, (200, "ok".to_string()));
    }
    let metrics = rt.pool_metrics().expect("the pooling allocator");
    assert!(metrics.component_instances() <= u64::from(slots), "{} instances", metrics.component_instances());
    assert!(dynos.iter().map(WebDyno::instances_created).sum::<u64>() > u64::from(slots) * 2);
}
