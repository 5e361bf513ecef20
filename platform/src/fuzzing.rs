//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly), here so that the stable test
//! `tests/all/fuzz_corpus.rs` replays the same code over the checked-in corpus and every crash
//! input found so far, on every `cargo test`. Each function takes arbitrary bytes and panics only
//! on a bug: a parser that panics, or an API answer that is a 5xx.
//!
//! | target | what it feeds |
//! |---|---|
//! | `procfile` | [`paas_builder::Procfile::parse`] |
//! | `slug_manifest` | [`paas_builder::SlugManifest::from_toml`] (then a round trip) and [`paas_builder::slug::read_manifest`] (a slug archive) |
//! | `cron` | [`crate::scheduler::cron::Schedule::parse`], then the next runs |
//! | `api_body` | a JSON body to one of the API's body-taking routes, in-process over SQLite |

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};

/// The Procfile parser.
pub fn procfile(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(procfile) = paas_builder::Procfile::parse(text)
    {
        // What parsed has no line breaks in a command and a valid name.
        for (name, command) in procfile.entries() {
            assert!(!name.is_empty() && !command.contains('\n'), "{name:?}: {command:?}");
        }
    }
}

/// The slug manifest: TOML text, and a slug archive (gzip'd tar) from the start.
pub fn slug_manifest(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(manifest) = paas_builder::SlugManifest::from_toml(text)
    {
        let again = paas_builder::SlugManifest::from_toml(&manifest.to_toml()).expect("a valid manifest reads back");
        assert_eq!(again, manifest);
    }
    let _ = paas_builder::slug::read_manifest(data);
}

/// Cron expressions and the runs they schedule.
pub fn cron(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(schedule) = crate::scheduler::cron::Schedule::parse(text) else { return };
    let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("a fixed time");
    if let Some(next) = schedule.next_after(start) {
        assert!(next > start, "{text:?}: next run {next} is not after {start}");
    }
    let until = start + chrono::Duration::days(400);
    let runs = schedule.runs_between(start, until, 50);
    let mut previous = start;
    for &run in &runs.first {
        assert!(run > previous && run <= until, "{text:?}: run {run} out of order after {previous}");
        previous = run;
    }
    assert!(runs.first.len() as u64 <= runs.count, "{text:?}: {runs:?}");
    if let Some(last) = runs.last {
        assert!(last >= previous && last <= until, "{text:?}: last run {last} out of the span");
    }
}

/// The body-taking routes `api_body` sends to (method, path); `hello` is an app that exists.
pub const BODY_ROUTES: &[(&str, &str)] = &[
    ("POST", "/apps"),
    ("PATCH", "/apps/hello"),
    ("PATCH", "/apps/hello/config-vars"),
    ("POST", "/apps/hello/releases"),
    ("PATCH", "/apps/hello/formation"),
    ("PATCH", "/apps/hello/formation/web"),
    ("POST", "/apps/hello/dynos"),
    ("POST", "/apps/hello/builds"),
    ("PUT", "/apps/hello/buildpack-installations"),
    ("POST", "/apps/hello/log-sessions"),
    ("POST", "/apps/hello/log-drains"),
    ("PATCH", "/apps/hello/features/preboot"),
    ("POST", "/apps/hello/scheduled-jobs"),
    ("POST", "/apps/hello/domains"),
    ("PATCH", "/apps/hello/domains/www.example.test"),
    ("POST", "/apps/hello/sni-endpoints"),
    ("POST", "/apps/hello/collaborators"),
    ("POST", "/apps/hello/addons"),
    ("POST", "/addon-attachments"),
    ("POST", "/actions/addons/resolve"),
    ("POST", "/actions/addon-attachments/resolve"),
    ("PATCH", "/account"),
    ("POST", "/users"),
    ("PATCH", "/users/~"),
    ("POST", "/oauth/authorizations"),
    ("POST", "/teams"),
    ("POST", "/teams/apps"),
    ("POST", "/account/app-transfers"),
];

/// An API over a SQLite ledger in a temporary folder, with app `hello` and domain
/// `www.example.test`, made once per process.
struct Harness {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    key: String,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let (router, key) = runtime.block_on(async {
            let ledger = crate::ledger::open(&crate::ledger::sqlite_url(dir.path())).await.expect("a ledger");
            let (operator, key) = ledger.create_user("operator@localhost", None, true).await.expect("an operator");
            let app = ledger.create_app("hello", operator.id).await.expect("app hello");
            ledger.add_domain(app.id, "www.example.test").await.expect("a domain");
            let config = crate::api::PlatformConfig {
                domain: "localhost".into(),
                router_port: Some(8080),
                api_url: "http://127.0.0.1:5000".into(),
            };
            let state = crate::api::AppState {
                ledger,
                config: Arc::new(config),
                deploys: None,
                logs: Default::default(),
                limits: Arc::new(crate::api::limits::Limits::new(Default::default())),
            };
            (crate::api::app(state), key)
        });
        Harness { runtime, router, key, _dir: dir }
    })
}

/// The first byte picks a route of [`BODY_ROUTES`]; the rest is its JSON body. Any answer but a
/// 5xx is fine (501: this API has no builder and no dynos).
pub fn api_body(data: &[u8]) {
    use tower::ServiceExt;
    let Some((&pick, body)) = data.split_first() else { return };
    let (method, path) = BODY_ROUTES[pick as usize % BODY_ROUTES.len()];
    let harness = harness();
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("accept", "application/vnd.heroku+json; version=3")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", harness.key))
        .body(axum::body::Body::from(body.to_vec()))
        .expect("a request");
    let response = harness.runtime.block_on(harness.router.clone().oneshot(request)).expect("infallible");
    let status = response.status();
    // This API has no builder and no dynos: builds and one-off dynos answer 501 on purpose
    // (a real server has both).
    let not_here = status == axum::http::StatusCode::NOT_IMPLEMENTED;
    assert!(
        !status.is_server_error() || not_here,
        "{method} {path} with {:?} answered {status}",
        String::from_utf8_lossy(body)
    );
}
