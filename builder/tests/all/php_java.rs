//! The php and java buildpacks without a server: the default web process (heroku-php-nginx with
//! public/ or the app's root as the docroot), whose scripts run at /app on the stack alone;
//! Composer with platform requirements only (nothing to fetch), and with a committed vendor/
//! (nothing fetched from Packagist); a
//! syntax error (php -l) and an extension the stack lacks fail with PHP's message; a JDK the
//! stack does not have and a build.gradle without a wrapper are refused before any build; a
//! system.properties app runs the Procfile's command on the JDK it names. (Maven builds and
//! the servers themselves: tests/e2e/languages_php_java.rs.)

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use paas_builder::manifest::NATIVE_STACK;
use paas_builder::{Builder, CollectOutput};

use crate::support::{build_ok, builder, native, repo_root, request, run_at_app};

/// Writes `files` (path, content) under `dir`.
fn app(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

/// Builds `src` and gives the error and the output's lines.
async fn fails(builder: &Builder, src: &Path) -> (String, Vec<String>) {
    let out = CollectOutput::default();
    let error = builder.build(request("bad-app", src), &out).await.unwrap_err();
    (error.to_string(), out.lines())
}

#[tokio::test]
async fn php_without_a_procfile_serves_public_or_the_root_with_heroku_php_nginx_from_the_slug() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let composer = ("composer.json", r#"{"require": {"php": ">=8.1", "ext-json": "*"}}"#);
    for (files, web) in [
        (&[composer, ("public/index.php", "<?php echo 'hi';\n"), ("lib/util.php", "<?php function f() {}\n")][..], "heroku-php-nginx public/"),
        (&[("index.php", "<?php echo 'hi';\n")][..], "heroku-php-nginx"),
    ] {
        let src = tempfile::tempdir().unwrap();
        app(src.path(), files);
        let (built, lines) = build_ok(&builder, "php-app", src.path()).await;
        assert_eq!(lines[1], "-----> PHP app detected", "{lines:#?}");
        assert!(lines[2].starts_with("-----> Building natively with the stack's PHP 8."), "{lines:#?}");
        assert!(lines[3].starts_with("       no WebAssembly component: "), "{lines:#?}");
        let php_files = files.iter().filter(|(path, _)| path.ends_with(".php")).count();
        let checked = if php_files == 1 { "1 file".to_string() } else { format!("{php_files} files") };
        assert!(lines.contains(&format!("       {checked}, no syntax errors")), "{lines:#?}");
        // Composer runs for a composer.json (platform requirements only: nothing to fetch).
        let with_composer = files.contains(&composer);
        assert_eq!(lines.iter().any(|l| l.starts_with("-----> Installing dependencies with Composer 2.")), with_composer, "{lines:#?}");
        assert_eq!(built.manifest.stack, NATIVE_STACK);
        assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native(web))]));

        // At /app with only the stack: the server script is on PATH (.profile.d) and checks its
        // input before starting anything; php itself is the stack's, for one-off dynos.
        let unpacked = tempfile::tempdir().unwrap();
        builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
        let at_app = run_at_app(&unpacked.path().join("app"), "command -v heroku-php-nginx; php -r 'echo PHP_MAJOR_VERSION, PHP_EOL;'; heroku-php-nginx");
        assert_eq!(String::from_utf8_lossy(&at_app.stdout), "/app/.paas/php/bin/heroku-php-nginx\n8\n", "{at_app:?}");
        assert!(String::from_utf8_lossy(&at_app.stderr).contains("heroku-php-nginx: $PORT is not set"), "{at_app:?}");
    }
}

#[tokio::test]
async fn php_with_a_committed_vendor_installs_from_composer_lock_without_packagist() {
    // The fixture: examples/hello-php's package installed by the host's Composer from a path
    // repository, then the repository and the package's source removed: what is left is
    // composer.json, composer.lock and vendor/, as an app that commits vendor/ has them.
    let src = tempfile::tempdir().unwrap();
    paas_builder::source::copy_tree(&repo_root().join("examples/hello-php"), src.path()).unwrap();
    let home = tempfile::tempdir().unwrap();
    let composer = std::process::Command::new("composer")
        .args(["install", "--quiet", "--no-interaction"])
        .current_dir(src.path())
        .env("COMPOSER_HOME", home.path())
        .output()
        .unwrap();
    assert!(composer.status.success(), "{composer:?}");
    fs::remove_dir_all(src.path().join("packages")).unwrap();
    app(src.path(), &[("composer.json", r#"{"require": {"php": ">=8.1", "paas/greeting": "^1.0"}}"#)]);

    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let (built, lines) = build_ok(&builder, "vendored-php", src.path()).await;
    assert!(lines.iter().any(|l| l.starts_with("-----> Installing dependencies with Composer") && l.ends_with("(1 package required)")), "{lines:#?}");
    assert!(lines.contains(&"       Nothing to install, update or remove".to_string()), "{lines:#?}");
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let at_app = run_at_app(&unpacked.path().join("app"), "php -r 'require \"vendor/autoload.php\"; echo Paas\\Greeting\\Greeting::for(\"vendor\");'");
    assert!(String::from_utf8_lossy(&at_app.stdout).starts_with("Hello, vendor, from PHP 8."), "{at_app:?}");
}

#[tokio::test]
async fn php_syntax_errors_and_extensions_the_stack_lacks_fail_with_phps_message() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());

    let broken = tempfile::tempdir().unwrap();
    app(broken.path(), &[("index.php", "<?php echo 'ok';\n"), ("src/Broken.php", "<?php\nclass Broken {\n  function f() { return 1 }\n}\n")]);
    let (error, lines) = fails(&builder, broken.path()).await;
    assert_eq!(error, "failed to compile PHP app: bin/compile of the php buildpack exited with status 1");
    assert!(lines.contains(&"       Parse error: syntax error, unexpected token \"}\", expecting \";\" in src/Broken.php on line 3".to_string()), "{lines:#?}");
    assert_eq!(lines.last().unwrap(), " !     php -l found syntax errors: fix them and push again");

    let extension = tempfile::tempdir().unwrap();
    app(extension.path(), &[("index.php", "<?php echo 'ok';\n"), ("composer.json", r#"{"require": {"php": ">=8.1", "ext-nosuchext": "*"}}"#)]);
    let (_, lines) = fails(&builder, extension.path()).await;
    assert!(lines.iter().any(|l| l.starts_with(" !     composer.json requires ext-nosuchext, which the stack's PHP 8.")), "{lines:#?}");

    let invalid = tempfile::tempdir().unwrap();
    app(invalid.path(), &[("composer.json", "{\"require\": ")]);
    let (_, lines) = fails(&builder, invalid.path()).await;
    assert_eq!(lines.last().unwrap(), " !     composer.json is not valid JSON: Syntax error", "{lines:#?}");
}

#[tokio::test]
async fn java_refuses_a_jdk_the_stack_lacks_and_gradle_without_a_wrapper_before_building() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());

    let old = tempfile::tempdir().unwrap();
    app(old.path(), &[("pom.xml", "<project/>"), ("system.properties", "java.runtime.version=1.8\n")]);
    let (error, lines) = fails(&builder, old.path()).await;
    assert_eq!(error, "failed to compile Java app: bin/compile of the java buildpack exited with status 1");
    assert_eq!(lines[2], " !     system.properties asks for Java 1.8 (java.runtime.version=1.8), which this stack does not have", "{lines:#?}");
    assert!(lines[3].starts_with(" !     the stack's JDKs: 17 (/usr/lib/jvm/java-17-openjdk-amd64)"), "{lines:#?}");

    let gradle = tempfile::tempdir().unwrap();
    app(gradle.path(), &[("build.gradle", "plugins { id 'java' }\n")]);
    let (_, lines) = fails(&builder, gradle.path()).await;
    assert!(lines.contains(&" !     build.gradle without a Gradle wrapper: Gradle is not on this stack".to_string()), "{lines:#?}");
}

#[tokio::test]
async fn java_system_properties_alone_runs_the_procfile_on_the_jdk_it_names() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let src = tempfile::tempdir().unwrap();
    app(src.path(), &[("system.properties", "java.runtime.version=17\n"), ("Procfile", "web: java $JAVA_OPTS -jar app.jar\n")]);
    let (built, lines) = build_ok(&builder, "jvm-app", src.path()).await;
    assert_eq!(lines[1], "-----> Java app detected", "{lines:#?}");
    assert!(lines[2].starts_with("-----> Building natively on the stack's JDK 17."), "{lines:#?}");
    assert!(lines.contains(&"-----> Nothing to build (no pom.xml or build.gradle): the Procfile's commands run on the JDK".to_string()), "{lines:#?}");
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("java $JAVA_OPTS -jar app.jar"))]));
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let at_app = run_at_app(&unpacked.path().join("app"), "echo $JAVA_HOME; echo $JAVA_OPTS; java -version 2>&1 | head -n1");
    let stdout = String::from_utf8_lossy(&at_app.stdout);
    assert!(
        stdout.starts_with("/usr/lib/jvm/java-17-openjdk-amd64\n-XX:MaxRAMPercentage=75.0 -Xss512k -XX:+UseSerialGC -Dfile.encoding=UTF-8\nopenjdk version \"17."),
        "{at_app:?}"
    );
}
