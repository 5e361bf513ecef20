//! The nodejs buildpack on its example: a fetch handler becomes a wasi:http component
//! (componentize-js, wasi:http@0.2.10); the Express example, which listens on $PORT itself,
//! is native (npm ci, npm start) and finds its modules at /app; PAAS_NATIVE=1 forces native. componentize-js and esbuild come from npm;
//! npm's cache is shared under ~/.cache/paas-buildpacks.

use std::fs;

use std::collections::BTreeMap;

use paas_builder::manifest::{NATIVE_STACK, WASI_STACK};
use paas_builder::{CollectOutput, ProcessKind};

use crate::python::caching_builder;
use crate::support::{COMPONENT_MAGIC, assert_lines, build_ok, native, repo_root, request, run_at_app};

#[tokio::test]
async fn nodejs_fetch_example_becomes_a_component() {
    let data = tempfile::tempdir().unwrap();
    let builder = caching_builder(data.path());
    let app = repo_root().join("examples/hello-js");
    let (built, lines) = build_ok(&builder, "hello-js", &app).await;
    assert_eq!(lines[..3], ["-----> Building with nodejs buildpack", "-----> Node.js app detected", "-----> Installing componentize-js 0.23.0 and esbuild 0.28.2"], "{lines:#?}");
    assert_lines(&lines, &[
        "-----> Bundling index.js with esbuild",
        "-----> Building a wasi:http component with componentize-js",
        "-----> Discovering process types",
        "       Default types for buildpack -> web",
    ]);
    assert!(!lines.iter().any(|l| l.contains("WARNING")), "{lines:#?}");
    assert_eq!(built.manifest.stack, WASI_STACK);
    assert_eq!(
        built.manifest.processes,
        [("web".to_string(), ProcessKind::Wasm { component: ".paas/nodejs/web.wasm".into(), reuse: false, args: vec![], native: None })]
            .into_iter()
            .collect()
    );
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let component = fs::read(unpacked.path().join("app/.paas/nodejs/web.wasm")).unwrap();
    assert_eq!(&component[..8], COMPONENT_MAGIC);
}

#[tokio::test]
async fn nodejs_express_example_is_native_with_its_lock_file_and_npm_start() {
    let data = tempfile::tempdir().unwrap();
    let builder = caching_builder(data.path());
    let app = repo_root().join("examples/express-node");
    let (built, lines) = build_ok(&builder, "express-node", &app).await;
    assert_lines(&lines, &[
        "-----> Installing dependencies with npm ci --omit=dev",
        "-----> Building a native app: server.js does not handle the fetch event nor export a fetch handler: it runs as a server listening on $PORT",
    ]);
    assert!(!lines.iter().any(|l| l.contains("componentize-js")), "no component is built: {lines:#?}");
    assert_eq!(built.manifest.stack, NATIVE_STACK);
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("npm start"))]));

    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let at_app = run_at_app(
        &unpacked.path().join("app"),
        "command -v node && command -v npm && node -e 'console.log(require.resolve(\"express\"), process.env.NODE_ENV)'",
    );
    assert_eq!(
        String::from_utf8_lossy(&at_app.stdout).lines().collect::<Vec<_>>(),
        ["/usr/bin/node", "/usr/bin/npm", "/app/node_modules/express/index.js production"],
        "{at_app:?}"
    );
}

#[tokio::test]
async fn nodejs_fetch_app_is_native_when_paas_native_is_set() {
    let data = tempfile::tempdir().unwrap();
    let mut forced = request("hello-js", &repo_root().join("examples/hello-js"));
    forced.config_vars.insert("PAAS_NATIVE".into(), "1".into());
    let out = CollectOutput::default();
    let built = caching_builder(data.path()).build(forced, &out).await.unwrap_or_else(|e| panic!("{e}: {:#?}", out.lines()));
    assert!(out.lines().contains(&"-----> Building a native app: PAAS_NATIVE=1 is set".to_string()), "{:#?}", out.lines());
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("node index.js"))]));
}

#[tokio::test]
async fn nodejs_server_that_insists_on_a_component_fails_saying_why() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(src.path().join("package.json"), r#"{"name": "server", "main": "server.js", "paas": {"native": false}}"#).unwrap();
    fs::write(
        src.path().join("server.js"),
        "const http = require('http');\nhttp.createServer((req, res) => res.end('hi')).listen(process.env.PORT);\n",
    )
    .unwrap();
    let out = CollectOutput::default();
    let error = caching_builder(data.path()).build(request("node-server", src.path()), &out).await.unwrap_err();
    assert_eq!(error.to_string(), "failed to compile Node.js app: bin/compile of the nodejs buildpack exited with status 1");
    assert_eq!(
        out.lines()[2..],
        [" !     package.json sets \"paas\": {\"native\": false}, but server.js neither handles the fetch event nor exports a fetch handler"]
    );
}
