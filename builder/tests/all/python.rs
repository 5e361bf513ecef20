//! The python buildpack on its examples: a Flask app behind its gunicorn Procfile becomes a
//! wasi:http component (WSGI adapter), a direct wasi:http handler too, and a dependency with
//! native code fails the build with the package's name. componentize-py and the apps'
//! dependencies come from PyPI; pip's cache is shared under ~/.cache/paas-buildpacks.

use std::fs;

use paas_builder::manifest::WASI_STACK;
use paas_builder::{Builder, BuilderConfig, CollectOutput, ProcessKind};

use crate::support::{COMPONENT_MAGIC, repo_root, request};

/// A builder whose buildpacks share pip's and npm's download caches (the build's own `HOME`
/// is fresh each time), so each package is fetched once per machine.
pub fn caching_builder(data: &std::path::Path) -> Builder {
    let mut config = BuilderConfig::new(data, repo_root().join("buildpacks"));
    let cache = dirs_cache().join("paas-buildpacks");
    config.stack_env.push(("PIP_CACHE_DIR".into(), cache.join("pip").display().to_string()));
    config.stack_env.push(("npm_config_cache".into(), cache.join("npm").display().to_string()));
    Builder::new(config).unwrap()
}

fn dirs_cache() -> std::path::PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(Into::into)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"))
}

fn web_component() -> ProcessKind {
    ProcessKind::Wasm { component: ".paas/python/web.wasm".into(), reuse: true, args: vec![], native: None }
}

#[tokio::test]
async fn python_flask_example_becomes_a_wsgi_component_and_reuses_its_dependencies() {
    let data = tempfile::tempdir().unwrap();
    let builder = caching_builder(data.path());
    let app = repo_root().join("examples/hello-python");
    let out = CollectOutput::default();
    let built = builder.build(request("hello-python", &app), &out).await.unwrap_or_else(|e| panic!("{e}: {:#?}", out.lines()));
    let lines = out.lines();
    assert_eq!(lines[..2], ["-----> Building with python buildpack", "-----> Python app detected"], "{lines:#?}");
    for expected in [
        "-----> Installing componentize-py 0.25.1",
        "-----> Installing dependencies with pip",
        "       MarkupSafe 3.0.4: native speedups left out, its pure-Python code is used",
        "-----> Building a wasi:http component of the WSGI app app:app with componentize-py",
        "-----> Discovering process types",
        "       Default types for buildpack -> web",
    ] {
        assert!(lines.contains(&expected.to_string()), "missing {expected:?} in {lines:#?}");
    }
    assert!(lines.iter().any(|l| l.starts_with("       Successfully installed") && l.contains("flask-3.1.2")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.starts_with("       web: .paas/python/web.wasm (")), "{lines:#?}");
    assert_eq!(built.manifest.stack, WASI_STACK);
    assert_eq!(built.manifest.processes, [("web".to_string(), web_component())].into_iter().collect());

    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let component = fs::read(unpacked.path().join("app/.paas/python/web.wasm")).unwrap();
    assert_eq!(&component[..8], COMPONENT_MAGIC);
    assert_eq!(
        fs::read_to_string(unpacked.path().join("app/Procfile")).unwrap(),
        "# served by .paas/python/web.wasm (the python buildpack), was: web: gunicorn app:app\n"
    );

    let again = CollectOutput::default();
    builder.build(request("hello-python", &app), &again).await.unwrap();
    let lines = again.lines();
    assert!(lines.contains(&"-----> Using the dependencies installed by the last build (requirements unchanged)".to_string()), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("Installing")), "{lines:#?}");
}

#[tokio::test]
async fn python_wsgi_example_implements_wasi_http_itself() {
    let data = tempfile::tempdir().unwrap();
    let builder = caching_builder(data.path());
    let out = CollectOutput::default();
    let app = repo_root().join("examples/hello-python-wasi");
    let built = builder.build(request("hello-python-wasi", &app), &out).await.unwrap_or_else(|e| panic!("{e}: {:#?}", out.lines()));
    let lines = out.lines();
    assert!(lines.contains(&"-----> Building the wasi:http handler in app.py with componentize-py".to_string()), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("pip")), "no requirements, no pip: {lines:#?}");
    assert_eq!(built.manifest.processes, [("web".to_string(), web_component())].into_iter().collect());
}

#[tokio::test]
async fn python_dependency_with_native_code_fails_naming_it() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(src.path().join("requirements.txt"), "ujson==5.11.0\n").unwrap();
    fs::write(src.path().join("app.py"), "import ujson\n\napp = None\n").unwrap();
    let out = CollectOutput::default();
    let error = caching_builder(data.path()).build(request("ujson-app", src.path()), &out).await.unwrap_err();
    assert_eq!(error.to_string(), "failed to compile Python app: bin/compile of the python buildpack exited with status 1");
    let lines = out.lines();
    assert_eq!(
        lines[lines.len() - 3..],
        [
            " !     ujson 5.11.0 has native extension modules and no pure-Python build for WebAssembly.",
            " !     This app needs the native (container) path, which is not available yet.",
            " !     Until it is, only apps whose dependencies are pure Python build (as wasi:http components).",
        ],
        "{lines:#?}"
    );
}

#[tokio::test]
async fn python_asgi_server_in_the_procfile_needs_the_native_path() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(src.path().join("Procfile"), "web: uvicorn main:app --port $PORT\n").unwrap();
    fs::write(src.path().join("requirements.txt"), "").unwrap();
    let out = CollectOutput::default();
    caching_builder(data.path()).build(request("asgi-app", src.path()), &out).await.unwrap_err();
    assert_eq!(
        out.lines()[2..],
        [
            " !     the Procfile's web command `uvicorn main:app --port $PORT` is not a WSGI server the wasm path can stand in for (gunicorn or waitress-serve module:app).",
            " !     This app needs the native (container) path, which is not available yet.",
            " !     Until it is, only apps whose dependencies are pure Python build (as wasi:http components).",
        ]
    );
}
