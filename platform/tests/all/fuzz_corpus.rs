//! The fuzz targets' corpus (`fuzz/corpus/<target>/`: seeds, and every input that ever crashed a
//! target, kept under a name saying what broke) replayed through the targets' own code
//! (`paas_platform::fuzzing`) on stable Rust, in every `cargo test`. libFuzzer itself (nightly,
//! cargo-fuzz) runs with `fuzz/smoke.sh`.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} has no inputs", dir.display());
    inputs
}

/// Runs `target` over its corpus; a panic names the input.
fn replay(target: &str, run: fn(&[u8])) {
    let mut failed = Vec::new();
    for (name, input) in corpus(target) {
        if std::panic::catch_unwind(|| run(&input)).is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "fuzz target {target} panics on fuzz/corpus/{target}/{failed:?}");
}

#[test]
fn the_procfile_corpus_parses_without_a_panic() {
    replay("procfile", paas_platform::fuzzing::procfile);
}

#[test]
fn the_slug_manifest_corpus_reads_without_a_panic() {
    replay("slug_manifest", paas_platform::fuzzing::slug_manifest);
}

#[test]
fn the_cron_corpus_schedules_without_a_panic() {
    replay("cron", paas_platform::fuzzing::cron);
}

#[test]
fn the_api_body_corpus_gets_no_5xx() {
    replay("api_body", paas_platform::fuzzing::api_body);
}
