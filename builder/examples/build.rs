//! Builds a folder into a slug with the built-in buildpacks, printing the build output:
//! `cargo run -p paas-builder --example build -- DATA_DIR APP SOURCE_DIR` (used by
//! `bench/build-cache.sh`).

use std::path::PathBuf;
use std::sync::Arc;

use paas_builder::{BuildRequest, Builder, BuilderConfig, OutputSink, Source};

struct Print;

impl OutputSink for Print {
    fn line(&self, line: &str) {
        println!("{line}");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, app, source] = &args[..] else {
        eprintln!("usage: build DATA_DIR APP SOURCE_DIR");
        std::process::exit(2);
    };
    let buildpacks = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../buildpacks");
    let builder = Arc::new(Builder::new(BuilderConfig::new(data, buildpacks))?);
    let request = BuildRequest {
        app: app.clone(),
        source: Source::Dir(source.into()),
        config_vars: Default::default(),
        buildpack_url: None,
        source_version: None,
    };
    let built = builder.build(request, &Print).await?;
    println!("slug {} ({} bytes) in {:.1?}", built.slug.id, built.slug.size, built.duration);
    Ok(())
}
