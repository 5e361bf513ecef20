//! The python buildpack on its examples: a Flask app behind its gunicorn Procfile becomes a
//! wasi:http component (WSGI adapter), a direct wasi:http handler too; a dependency with only
//! native code, an ASGI server or PAAS_NATIVE=1 make a native app in a virtualenv that works at
//! /app; a component whose Procfile server is installed records the native command beside it. componentize-py and the apps'
//! dependencies come from PyPI; pip's cache is shared under ~/.cache/paas-buildpacks.

use std::fs;

use std::collections::BTreeMap;

use paas_builder::manifest::{NATIVE_STACK, WASI_STACK};
use paas_builder::{Builder, BuilderConfig, CollectOutput, ProcessKind};

use crate::support::{COMPONENT_MAGIC, assert_lines, build_ok, native, repo_root, request, run_at_app};

/// A builder whose buildpacks share pip's and npm's download caches (the build's own `HOME`
/// is fresh each time), so each package is fetched once per machine — where builds run on the
/// host: a sandboxed build sees no folder of the host's, so it fills its app's own cache.
pub fn caching_builder(data: &std::path::Path) -> Builder {
    let mut config = BuilderConfig::new(data, repo_root().join("buildpacks"));
    if !crate::support::runc_available() {
        let cache = dirs_cache().join("paas-buildpacks");
        config.stack_env.push(("PIP_CACHE_DIR".into(), cache.join("pip").display().to_string()));
        config.stack_env.push(("npm_config_cache".into(), cache.join("npm").display().to_string()));
    }
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
    let (built, lines) = build_ok(&builder, "hello-python", &app).await;
    assert_eq!(lines[..2], ["-----> Building with python buildpack", "-----> Python app detected"], "{lines:#?}");
    assert_lines(&lines, &[
        "-----> Installing componentize-py 0.25.1",
        "-----> Installing dependencies with pip",
        "       MarkupSafe 3.0.4: native speedups left out, its pure-Python code is used",
        "-----> Building a wasi:http component of the WSGI app app:app with componentize-py",
        "-----> Discovering process types",
        "       Default types for buildpack -> web",
    ]);
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
    let app = repo_root().join("examples/hello-python-wasi");
    let (built, lines) = build_ok(&builder, "hello-python-wasi", &app).await;
    assert!(lines.contains(&"-----> Building the wasi:http handler in app.py with componentize-py".to_string()), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("pip")), "no requirements, no pip: {lines:#?}");
    assert_eq!(built.manifest.processes, [("web".to_string(), web_component())].into_iter().collect());
}

#[tokio::test]
async fn python_flask_gunicorn_example_is_native_because_ujson_is_c_only_and_its_venv_works_at_app() {
    let data = tempfile::tempdir().unwrap();
    let builder = caching_builder(data.path());
    let app = repo_root().join("examples/flask-gunicorn");
    let (built, lines) = build_ok(&builder, "flask-gunicorn", &app).await;
    assert_lines(&lines, &[
        "-----> Building a native app: ujson 5.11.0 has native extension modules and no pure-Python build for WebAssembly",
        "-----> Creating a virtualenv of Python 3.11.2 at /app/.paas/python/venv",
        "       web: gunicorn app:app (native, in the virtualenv)",
    ]);
    assert!(!lines.iter().any(|l| l.contains("componentize-py")), "no component is built: {lines:#?}");
    assert_eq!(built.manifest.stack, NATIVE_STACK);
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("gunicorn app:app"))]));

    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let slug_app = unpacked.path().join("app");
    let venv = slug_app.join(".paas/python/venv");
    assert_eq!(fs::read_to_string(venv.join("bin/gunicorn")).unwrap().lines().next(), Some("#!/app/.paas/python/venv/bin/python3"));
    let build_dirs = data.path().canonicalize().unwrap().join("builds");
    let leftover = std::process::Command::new("grep").arg("-rl").arg(&build_dirs).arg(&slug_app).output().unwrap();
    assert!(leftover.stdout.is_empty(), "build-dir paths left in the slug: {}", String::from_utf8_lossy(&leftover.stdout));

    // Moved elsewhere, the venv's python still finds its packages (the venv is found from its
    // own location); at /app, in a root of nothing but the stack, gunicorn loads the app.
    let moved = venv.join("bin/python");
    let imports = std::process::Command::new(&moved).args(["-c", "import flask, gunicorn, ujson, sys; print(sys.prefix)"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&imports.stdout).trim(), venv.display().to_string(), "{imports:?}");
    let at_app = run_at_app(&slug_app, "command -v gunicorn && gunicorn --check-config app:app && python -c 'import app, sys; print(sys.prefix, app.ujson.__file__)'");
    assert!(at_app.status.success(), "{at_app:?}");
    assert_eq!(
        String::from_utf8_lossy(&at_app.stdout).lines().collect::<Vec<_>>(),
        [
            "/app/.paas/python/venv/bin/gunicorn",
            "/app/.paas/python/venv /app/.paas/python/venv/lib/python3.11/site-packages/ujson.cpython-311-x86_64-linux-gnu.so"
        ]
    );

    // The next build takes the decision and the relocated venv from the cache.
    let again = CollectOutput::default();
    let rebuilt = builder.build(request("flask-gunicorn", &app), &again).await.unwrap_or_else(|e| panic!("{e}: {:#?}", again.lines()));
    let lines = again.lines();
    assert_lines(&lines, &[
        "-----> Using the dependencies installed by the last build (requirements unchanged)",
        "-----> Using the virtualenv of the last build (requirements unchanged)",
    ]);
    assert!(!lines.iter().any(|l| l.contains("Installing")), "{lines:#?}");
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&rebuilt.slug.id, unpacked.path()).unwrap();
    let at_app = run_at_app(&unpacked.path().join("app"), "gunicorn --check-config app:app && echo loaded");
    assert_eq!(String::from_utf8_lossy(&at_app.stdout), "loaded\n", "{at_app:?}");
}

#[tokio::test]
async fn python_pure_app_whose_procfile_server_is_a_requirement_records_both_component_and_native() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    paas_builder::source::copy_tree(&repo_root().join("examples/hello-python"), src.path()).unwrap();
    fs::write(src.path().join("requirements.txt"), "flask==3.1.2\ngunicorn==23.0.0\n").unwrap();
    let builder = caching_builder(data.path());
    let (built, lines) = build_ok(&builder, "both-python", src.path()).await;
    assert!(lines.contains(&"       web: also `gunicorn app:app` natively (the component is preferred)".to_string()), "{lines:#?}");
    assert_eq!(built.manifest.stack, WASI_STACK);
    assert_eq!(
        built.manifest.processes["web"],
        ProcessKind::Wasm { component: ".paas/python/web.wasm".into(), reuse: true, args: vec![], native: Some("gunicorn app:app".into()) }
    );
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    assert_eq!(fs::read_to_string(unpacked.path().join("app/Procfile")).unwrap(), "web: gunicorn app:app\n", "the Procfile is left as written");
    let at_app = run_at_app(&unpacked.path().join("app"), "gunicorn --check-config app:app && echo loaded");
    assert_eq!(String::from_utf8_lossy(&at_app.stdout), "loaded\n", "{at_app:?}");

    // PAAS_NATIVE=1 skips the component.
    let mut forced = request("both-python", src.path());
    forced.config_vars.insert("PAAS_NATIVE".into(), "1".into());
    let out = CollectOutput::default();
    let built = builder.build(forced, &out).await.unwrap_or_else(|e| panic!("{e}: {:#?}", out.lines()));
    assert!(out.lines().contains(&"-----> Building a native app: PAAS_NATIVE=1 is set".to_string()), "{:#?}", out.lines());
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("gunicorn app:app"))]));
    assert_eq!(built.manifest.stack, NATIVE_STACK);
}

#[tokio::test]
async fn python_native_web_command_that_the_requirements_do_not_install_fails_saying_what_to_add() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(src.path().join("Procfile"), "web: uvicorn main:app --port $PORT\n").unwrap();
    fs::write(src.path().join("requirements.txt"), "").unwrap();
    let out = CollectOutput::default();
    caching_builder(data.path()).build(request("asgi-app", src.path()), &out).await.unwrap_err();
    let lines = out.lines();
    assert_eq!(
        lines[2],
        "-----> Building a native app: the Procfile's web command `uvicorn main:app --port $PORT` is not a WSGI server the component can stand in for (gunicorn or waitress-serve module:app)"
    );
    assert_eq!(
        lines.last().unwrap(),
        " !     the web command `uvicorn main:app --port $PORT` runs `uvicorn`, which is neither installed by the requirements nor on the stack: add it to requirements.txt"
    );
}

#[tokio::test]
async fn python_component_app_with_a_worker_in_its_procfile_gets_the_venv_for_the_worker() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    paas_builder::source::copy_tree(&repo_root().join("examples/hello-python"), src.path()).unwrap();
    fs::write(src.path().join("Procfile"), "web: gunicorn app:app\nworker: python -c 'import flask; print(\"worker\", flask.__name__)'\n").unwrap();
    let builder = caching_builder(data.path());
    let (built, lines) = build_ok(&builder, "worker-python", src.path()).await;
    assert_lines(&lines, &["-----> Creating a virtualenv of Python 3.11.2 at /app/.paas/python/venv"]);
    assert_eq!(built.manifest.stack, NATIVE_STACK, "the worker is native-only");
    assert_eq!(built.manifest.processes["web"], web_component(), "gunicorn is not a requirement: no fallback");
    let worker = built.manifest.processes["worker"].native_command().unwrap().to_string();
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let at_app = run_at_app(&unpacked.path().join("app"), &worker);
    assert_eq!(String::from_utf8_lossy(&at_app.stdout), "worker flask\n", "{at_app:?}");
}
