//! The release phase over a real SQLite ledger, with a dyno directory whose one-off dynos print
//! two lines and exit with a chosen code: what runs, what is recorded, what the caller is told.

use std::sync::{Arc, Mutex};

use paas_builder::CollectOutput;
use paas_platform::deploys::release_phase::{Candidate, ReleaseError, ReleasePhase};
use paas_platform::ledger;
use paas_platform::logplex::Logplex;
use paas_platform::model::{App, Dyno, NewRelease, UserRef};
use paas_platform::serving::{Attached, DynoDirectory, OneOff, OneOffError, OneOffRequest, StopOneOff};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// One-off dynos that print `output` (through a small pipe: the reader must keep up) and exit
/// with `code`; the requests are kept.
struct Phase {
    code: Mutex<i32>,
    output: Mutex<Vec<u8>>,
    requests: Mutex<Vec<OneOffRequest>>,
}

#[async_trait::async_trait]
impl DynoDirectory for Phase {
    async fn dynos(&self, _app: &App) -> Vec<Dyno> {
        Vec::new()
    }
    async fn start_oneoff(&self, app: &App, request: OneOffRequest) -> Result<OneOff, OneOffError> {
        self.requests.lock().unwrap().push(request.clone());
        let (mut guest, caller) = tokio::io::duplex(64);
        let written = self.output.lock().unwrap().clone();
        tokio::spawn(async move { guest.write_all(&written).await });
        let (output, stdin) = tokio::io::split(caller);
        let now = chrono::Utc::now();
        let dyno = Dyno {
            id: Uuid::new_v4(),
            app_id: app.id,
            name: "release.1".into(),
            process_type: request.process_type.clone(),
            command: request.command.clone(),
            size: "Basic".into(),
            state: "up".into(),
            release_version: request.release.as_ref().map_or(0, |r| r.version),
            created_at: now,
            updated_at: now,
        };
        let code = *self.code.lock().unwrap();
        Ok(OneOff {
            dyno,
            attached: Some(Attached { stdin: Box::new(stdin), output: Box::new(output), terminal: false }),
            exit: Box::pin(async move { code }),
            stop: StopOneOff::new().0,
        })
    }
}

fn deploy(slug: Uuid, types: &[&str]) -> NewRelease {
    NewRelease {
        slug_id: slug,
        process_types: types.iter().map(|t| (t.to_string(), format!("./{t}"))).collect(),
        description: "Deploy abc1234".into(),
    }
}

#[tokio::test]
async fn the_release_phase_runs_the_new_release_and_only_exit_0_makes_it_current() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger::open(&ledger::sqlite_url(dir.path())).await.unwrap();
    let (owner, _) = ledger.create_user("owner@example.com", None, false).await.unwrap();
    let user = UserRef { id: owner.id, email: owner.email.clone() };
    let app = ledger.create_app("phased", owner.id).await.unwrap();
    let logs = Logplex::default();
    let phase = ReleasePhase::new(ledger.clone(), logs.clone());

    // No release process type: released at once, no dyno.
    let plain = phase.release(&app, &user, Candidate::Deploy(deploy(Uuid::new_v4(), &["web"])), &CollectOutput::default()).await.unwrap();
    assert!(plain.current && plain.version == 2);

    // A release process type but no dynos on this server: recorded failed, saying why.
    let out = CollectOutput::default();
    let error = phase.release(&app, &user, Candidate::Deploy(deploy(Uuid::new_v4(), &["web", "release"])), &out).await.unwrap_err();
    assert!(matches!(&error, ReleaseError::NotStarted { release, reason } if release.version == 3 && release.status == "failed" && reason.to_string() == "this server runs no dynos"), "{error}");

    let dynos = Arc::new(Phase { code: Mutex::new(1), output: Mutex::new(b"migrating\ndone\n".to_vec()), requests: Mutex::default() });
    phase.set_dynos(dynos.clone());
    ledger.update_config_vars(app.id, owner.id, [("FOO".to_string(), Some("bar".to_string()))].into()).await.unwrap();
    let good = ledger.current_release(app.id).await.unwrap().unwrap();
    assert_eq!(good.version, 4);

    // Exit 1: the push is told, with the output; recorded failed; v4 stays current.
    let (slug, out) = (Uuid::new_v4(), CollectOutput::default());
    let error = phase.release(&app, &user, Candidate::Deploy(deploy(slug, &["web", "release"])), &out).await.unwrap_err();
    assert_eq!(error.to_string(), "Release phase failed: exit code 1");
    let ReleaseError::Failed { release, code, output } = &error else { panic!("{error:?}") };
    assert_eq!((release.version, release.status.as_str(), *code), (5, "failed", 1));
    assert_eq!(output, &["migrating", "done"]);
    assert_eq!(out.lines(), ["-----> Running release command `./release`...", "       migrating", "       done"]);
    assert_eq!(ledger.current_release(app.id).await.unwrap().unwrap().id, good.id);
    // What ran: the release about to be made — its slug, the current config vars — attached.
    let ran = dynos.requests.lock().unwrap()[0].clone();
    assert_eq!((ran.process_type.as_str(), ran.command.as_str(), ran.attach), ("release", "release", true));
    let candidate = ran.release.unwrap();
    assert_eq!((candidate.slug_id, candidate.version, candidate.config_vars["FOO"].as_str()), (Some(slug), 5, "bar"));
    let lines = logs.app("phased").with_ring(|ring| ring.tail(100, |_| true).iter().map(|l| l.to_string()).collect::<Vec<_>>());
    assert!(lines.iter().any(|l| l.ends_with("app[release.1]: migrating")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.ends_with("app[api]: Release v5 failed: release phase exit code 1")), "{lines:#?}");

    // Exit 0: current. A rollback runs its target's release phase, with the target's config.
    *dynos.code.lock().unwrap() = 0;
    let released = phase.release(&app, &user, Candidate::Deploy(deploy(slug, &["web", "release"])), &CollectOutput::default()).await.unwrap();
    assert!(released.current && released.version == 6 && released.status == "succeeded");
    let target = ledger.find_release(app.id, "v2").await.unwrap().unwrap();
    let no_phase = phase.release(&app, &user, Candidate::Rollback(target), &CollectOutput::default()).await.unwrap();
    assert_eq!((no_phase.version, no_phase.description.as_str()), (7, "Rollback to v2"));
    assert_eq!(dynos.requests.lock().unwrap().len(), 2, "v2 has no release process type: nothing ran");
    *dynos.code.lock().unwrap() = 1;
    let error = phase.release(&app, &user, Candidate::Rollback(released.clone()), &CollectOutput::default()).await.unwrap_err();
    assert_eq!(error.release().map(|r| (r.version, r.description.as_str(), r.current)), Some((8, "Rollback to v6", false)));
    assert_eq!(ledger.current_release(app.id).await.unwrap().unwrap().version, 7);

    // Output that is not UTF-8, or a line longer than 16 KiB, is read to its end all the same.
    let mut odd = b"\xff\xfe bad\n".to_vec();
    odd.extend(std::iter::repeat_n(b'x', 20_000));
    odd.extend(b"\nend\n");
    *dynos.output.lock().unwrap() = odd;
    let out = CollectOutput::default();
    let error = phase.release(&app, &user, Candidate::Deploy(deploy(slug, &["web", "release"])), &out).await.unwrap_err();
    let ReleaseError::Failed { output, .. } = &error else { panic!("{error:?}") };
    let lengths: Vec<usize> = output.iter().map(String::len).collect();
    assert_eq!(lengths, [10, 16 * 1024, 20_000 - 16 * 1024, 3], "{:?}", &output[0]);
    assert_eq!((output[0].as_str(), output[3].as_str()), ("\u{FFFD}\u{FFFD} bad", "end"));
}
