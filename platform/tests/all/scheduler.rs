//! The scheduler driven by a test clock over a real SQLite ledger, with a dyno directory that
//! records the one-off dynos it is asked for; and `/apps/{app}/scheduled-jobs` in-process.

use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, Utc};
use paas_platform::api::{AppState, PlatformConfig};
use paas_platform::ledger;
use paas_platform::logplex::Logplex;
use paas_platform::model::{App, Dyno};
use paas_platform::scheduler::cron::Schedule;
use paas_platform::scheduler::{Clock, Scheduler};
use paas_platform::serving::{DynoDirectory, OneOff, OneOffError, OneOffRequest, StopOneOff};
use serde_json::{Value, json};

use crate::logs::call_api;

struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl TestClock {
    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

/// Records each one-off dyno asked for; they exit 0 at once.
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, OneOffRequest)>>);

#[async_trait::async_trait]
impl DynoDirectory for Recorder {
    async fn dynos(&self, _app: &App) -> Vec<Dyno> {
        Vec::new()
    }
    async fn start_oneoff(&self, app: &App, request: OneOffRequest) -> Result<OneOff, OneOffError> {
        let mut started = self.0.lock().unwrap();
        started.push((app.name.clone(), request.clone()));
        let now = Utc::now();
        let dyno = Dyno {
            id: uuid::Uuid::new_v4(),
            app_id: app.id,
            name: format!("{}.{}", request.process_type, started.len()),
            process_type: request.process_type.clone(),
            command: request.command.clone(),
            size: "Basic".into(),
            state: "up".into(),
            release_version: 2,
            created_at: now,
            updated_at: now,
        };
        Ok(OneOff { dyno, attached: None, exit: Box::pin(async { 0 }), stop: StopOneOff::new().0 })
    }
}

impl Recorder {
    fn commands(&self) -> Vec<(String, String, String)> {
        let started = self.0.lock().unwrap();
        started.iter().map(|(app, r)| (app.clone(), r.process_type.clone(), r.command.clone())).collect()
    }
}

/// The `paas[scheduler]` lines of the app's stream.
fn scheduler_lines(logs: &Logplex, app: &str) -> Vec<String> {
    logs.app(app).with_ring(|ring| ring.tail(1500, |l| l.process == "scheduler").iter().map(|l| l.text.clone()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_job_runs_once_and_runs_missed_while_down_are_reported_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = ledger::sqlite_url(dir.path());
    let ledger = ledger::open(&url).await.unwrap();
    let (owner, _) = ledger.create_user("owner@example.com", None, false).await.unwrap();
    let app = ledger.create_app("cron", owner.id).await.unwrap();
    let job = ledger.add_scheduled_job(app.id, "*/10 * * * *", "worker --once").await.unwrap();
    let first = Schedule::parse("*/10 * * * *").unwrap().next_after(job.created_at).unwrap();

    let (logs, dynos) = (Logplex::default(), Arc::new(Recorder::default()));
    let clock = Arc::new(TestClock(Mutex::new(first - Duration::seconds(1))));
    let scheduler = Scheduler::new(ledger.clone(), logs.clone(), dynos.clone(), clock.clone());
    scheduler.tick().await;
    assert_eq!(dynos.commands(), [], "nothing is due before the first run");

    clock.set(first + Duration::seconds(30));
    scheduler.tick().await;
    scheduler.tick().await;
    let ran = ("cron".to_string(), "scheduler".to_string(), "worker --once".to_string());
    assert_eq!(dynos.commands(), std::slice::from_ref(&ran), "the due run starts once, however often the scheduler ticks");
    let lines = scheduler_lines(&logs, "cron");
    assert_eq!(lines[0], format!("running job {} (worker --once) as scheduler.1", job.id));

    // The server stops; it comes back 40 minutes later, on a ledger opened anew.
    drop(scheduler);
    let ledger = ledger::open(&url).await.unwrap();
    let logs = Logplex::default();
    let scheduler = Scheduler::new(ledger.clone(), logs.clone(), dynos.clone(), clock.clone());
    clock.set(first + Duration::minutes(40) + Duration::seconds(20));
    scheduler.tick().await;
    assert_eq!(dynos.commands(), [ran.clone(), ran.clone()], "the run that is due now starts; missed ones are not made up");
    let lines = scheduler_lines(&logs, "cron");
    let missed: Vec<String> = (1..=3)
        .map(|n| format!("missed run of job {} (worker --once) at {}", job.id, (first + Duration::minutes(10 * n)).to_rfc3339()))
        .collect();
    assert_eq!(lines[..3], missed[..], "{lines:#?}");
    assert_eq!(lines[3], format!("running job {} (worker --once) as scheduler.2", job.id));
    let exited = format!("job {} (scheduler.2) exited with code 0", job.id);
    for _ in 0..100 {
        if scheduler_lines(&logs, "cron").contains(&exited) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(scheduler_lines(&logs, "cron").contains(&exited), "{:#?}", scheduler_lines(&logs, "cron"));

    // Down for a day: five runs listed, the rest counted; the run due now starts.
    let day_later = first + Duration::minutes(40) + Duration::days(1);
    clock.set(day_later + Duration::seconds(5));
    scheduler.tick().await;
    let lines = scheduler_lines(&logs, "cron");
    assert_eq!(lines.iter().filter(|l| l.starts_with("missed run of job")).count(), 3 + 5);
    let summary = format!("… and {} more missed runs of job {}, the last at {}", 143 - 5, job.id, day_later.to_rfc3339());
    assert!(lines.contains(&summary), "{lines:#?}");
    assert_eq!(dynos.commands().len(), 3);

    // A run more than two minutes late is missed, not started.
    clock.set(day_later + Duration::minutes(13));
    scheduler.tick().await;
    assert_eq!(dynos.commands().len(), 3);
    let late = format!("missed run of job {} (worker --once) at {}", job.id, (day_later + Duration::minutes(10)).to_rfc3339());
    assert!(scheduler_lines(&logs, "cron").contains(&late));
}

#[tokio::test]
async fn a_job_that_cannot_start_says_why_in_the_log_stream() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger::open(&ledger::sqlite_url(dir.path())).await.unwrap();
    let (owner, _) = ledger.create_user("owner@example.com", None, false).await.unwrap();
    let app = ledger.create_app("undeployed", owner.id).await.unwrap();
    let job = ledger.add_scheduled_job(app.id, "* * * * *", "migrate").await.unwrap();
    struct NoDynos;
    #[async_trait::async_trait]
    impl DynoDirectory for NoDynos {
        async fn dynos(&self, _app: &App) -> Vec<Dyno> {
            Vec::new()
        }
        async fn start_oneoff(&self, app: &App, _request: OneOffRequest) -> Result<OneOff, OneOffError> {
            Err(OneOffError::NoRelease(app.name.clone()))
        }
    }
    let logs = Logplex::default();
    let clock = Arc::new(TestClock(Mutex::new(job.created_at + Duration::seconds(61))));
    Scheduler::new(ledger, logs.clone(), Arc::new(NoDynos), clock).tick().await;
    let lines = scheduler_lines(&logs, "undeployed");
    assert_eq!(
        lines,
        [format!("job {} (migrate) could not start: undeployed has no release to run yet: deploy it first (git push, or paas deploy)", job.id)]
    );
}

#[tokio::test]
async fn scheduled_jobs_api_adds_lists_and_removes_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger::open(&ledger::sqlite_url(dir.path())).await.unwrap();
    let (_, key) = ledger.create_user("owner@example.com", None, false).await.unwrap();
    let (_, stranger) = ledger.create_user("stranger@example.com", None, false).await.unwrap();
    let config = PlatformConfig { domain: "localhost".into(), router_port: None, api_url: "http://127.0.0.1:5000".into() };
    let state = AppState { ledger, config: Arc::new(config), deploys: None, logs: Logplex::default(), limits: Default::default() };
    assert_eq!(call_api(&state, &key, Method::POST, "/apps", Some(json!({"name": "jobs"}))).await.0, StatusCode::CREATED);

    let (status, job) = call_api(
        &state,
        &key,
        Method::POST,
        "/apps/jobs/scheduled-jobs",
        Some(json!({"schedule": " */10  * * * *", "command": "worker --once"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    assert_eq!((job["schedule"].as_str(), job["command"].as_str(), job["app"]["name"].as_str()), (Some("*/10 * * * *"), Some("worker --once"), Some("jobs")));
    let next: DateTime<Utc> = job["next_run_at"].as_str().unwrap().parse().unwrap();
    assert!(next > Utc::now() && next <= Utc::now() + Duration::minutes(10) && next.timestamp() % 600 == 0, "{next}");
    assert_eq!(job["last_run_at"], Value::Null);

    let (status, error) =
        call_api(&state, &key, Method::POST, "/apps/jobs/scheduled-jobs", Some(json!({"schedule": "*/10 * * *", "command": "x"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["message"].as_str().unwrap().contains("it has 4 fields, not 5"), "{error}");
    let (status, error) =
        call_api(&state, &key, Method::POST, "/apps/jobs/scheduled-jobs", Some(json!({"schedule": "@daily", "command": "  "}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["message"].as_str().unwrap().contains("command is empty"), "{error}");
    let long = "x".repeat(5000);
    let (status, error) =
        call_api(&state, &key, Method::POST, "/apps/jobs/scheduled-jobs", Some(json!({"schedule": "@daily", "command": long}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error["message"].as_str().unwrap().contains("at most 4096"), "{error}");

    let (status, list) = call_api(&state, &key, Method::GET, "/apps/jobs/scheduled-jobs", None).await;
    assert_eq!((status, list.as_array().unwrap().len()), (StatusCode::OK, 1));
    assert_eq!(call_api(&state, &stranger, Method::GET, "/apps/jobs/scheduled-jobs", None).await.0, StatusCode::NOT_FOUND);

    let id = job["id"].as_str().unwrap();
    let (status, shown) = call_api(&state, &key, Method::GET, &format!("/apps/jobs/scheduled-jobs/{}", &id[..8]), None).await;
    assert_eq!((status, shown["id"].as_str()), (StatusCode::OK, Some(id)));
    let (status, removed) = call_api(&state, &key, Method::DELETE, &format!("/apps/jobs/scheduled-jobs/{id}"), None).await;
    assert_eq!((status, removed["id"].as_str()), (StatusCode::OK, Some(id)));
    let (status, error) = call_api(&state, &key, Method::DELETE, &format!("/apps/jobs/scheduled-jobs/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error["message"].as_str().unwrap().contains("paas scheduler lists"), "{error}");

    let (_, document) = call_api(&state, &key, Method::GET, "/openapi.json", None).await;
    assert_eq!(document["paths"]["/apps/{app}/scheduled-jobs"]["post"]["x-paas-extension"], json!(true));
}
