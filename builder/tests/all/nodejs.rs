//! The nodejs buildpack on its example: a fetch handler becomes a wasi:http component
//! (componentize-js, wasi:http@0.2.10); an app that listens on $PORT itself fails the build,
//! saying the native path is not available yet. componentize-js and esbuild come from npm;
//! npm's cache is shared under ~/.cache/paas-buildpacks.

use std::fs;

use paas_builder::manifest::WASI_STACK;
use paas_builder::{CollectOutput, ProcessKind};

use crate::python::caching_builder;
use crate::support::{COMPONENT_MAGIC, repo_root, request};

#[tokio::test]
async fn nodejs_fetch_example_becomes_a_component() {
    let data = tempfile::tempdir().unwrap();
    let builder = caching_builder(data.path());
    let out = CollectOutput::default();
    let app = repo_root().join("examples/hello-js");
    let built = builder.build(request("hello-js", &app), &out).await.unwrap_or_else(|e| panic!("{e}: {:#?}", out.lines()));
    let lines = out.lines();
    assert_eq!(lines[..3], ["-----> Building with nodejs buildpack", "-----> Node.js app detected", "-----> Installing componentize-js 0.23.0 and esbuild 0.28.2"], "{lines:#?}");
    for expected in [
        "-----> Bundling index.js with esbuild",
        "-----> Building a wasi:http component with componentize-js",
        "-----> Discovering process types",
        "       Default types for buildpack -> web",
    ] {
        assert!(lines.contains(&expected.to_string()), "missing {expected:?} in {lines:#?}");
    }
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
async fn nodejs_app_listening_on_port_needs_the_native_path() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(src.path().join("package.json"), r#"{"name": "server", "main": "server.js"}"#).unwrap();
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
        [
            " !     server.js starts its own HTTP server (http.createServer().listen(process.env.PORT)).",
            " !     This app needs the native (container) path, which is not available yet.",
            " !     Until it is, only apps that handle the fetch event or export a fetch handler build (as wasi:http components).",
        ]
    );
}
