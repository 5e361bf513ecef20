//! PHP and Java apps end to end (issue 23): `git push` of examples/hello-php (php-fpm behind
//! nginx, a Composer path package) and examples/hello-java (Maven offline, the JDK's HTTP server)
//! to one real `paas server`, which runs each natively in a runc container. Each answers through
//! the router with a config var, logs to `paas logs`, scales to two dynos, restarts, rolls back,
//! and runs a one-off of its console (`php -r`, `java -version`). Bad input fails the push with
//! the tool's message and makes no release: a PHP syntax error (php -l), a Composer package that
//! cannot be had (Packagist is not reachable), a Java build without a runnable jar, a JDK the
//! stack does not have.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{self, TestServer, ok, router_get, run};

/// A `paas` client command as the operator; its stdout.
fn paas(server: &TestServer, args: &[&str]) -> String {
    ok(server.paas().args(args).env_remove("PAAS_APP"))
}

/// `git push paas main`: whether it succeeded, and its output (the build's `remote:` lines).
fn push(server: &TestServer, repo: &Path, what: &str) -> (bool, String) {
    let started = Instant::now();
    let pushed = support::try_git(&server.home(), repo, &["push", "paas", "main"]);
    println!("[php-java] {what}: git push took {:.1} s", started.elapsed().as_secs_f64());
    (pushed.status.success(), format!("{}{}", String::from_utf8_lossy(&pushed.stdout), String::from_utf8_lossy(&pushed.stderr)))
}

/// Polls `GET path` of `app` until it answers 200 with `want`.
fn answers(server: &TestServer, app: &str, path: &str, want: &str) {
    support::eventually_get(server, app, path, (200, want), Duration::from_secs(90));
}

/// Writes `content` to `file` of the repo and commits it.
fn commit(server: &TestServer, repo: &Path, file: &str, content: &str) {
    std::fs::write(repo.join(file), content).unwrap();
    support::git(&server.home(), repo, &["add", "-A"]);
    support::git(&server.home(), repo, &["commit", "--quiet", "-m", "Change"]);
}

/// Pushed, served with a config var, logged, scaled to two dynos and back, restarted, rolled
/// back: what every language's example goes through. `greeting(name)` is the page's body.
fn lifecycle(server: &TestServer, app: &str, greeting: &dyn Fn(&str) -> String) {
    answers(server, app, "/", &greeting("world"));
    crate::native::logged(server, app, &format!("{app}: GET /"));

    paas(server, &["config:set", "GREETING_NAME=paas", "-a", app]);
    answers(server, app, "/", &greeting("paas"));

    paas(server, &["ps:scale", "web=2", "-a", app]);
    crate::native::both_web_dynos_answer(server, app);
    paas(server, &["ps:scale", "web=1", "-a", app]);
    // Only web.1 answers once web.2 is gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    while (0..6).any(|_| router_get(server, app, "/dyno").1.contains("web.2")) {
        assert!(Instant::now() < deadline, "{app}: web.2 still answers after ps:scale web=1");
        std::thread::sleep(Duration::from_millis(250));
    }

    let (status, boot) = router_get(server, app, "/boot");
    assert_eq!(status, 200, "{app}: {boot}");
    paas(server, &["ps:restart", "-a", app]);
    support::replaced(server, app, &boot);
    answers(server, app, "/", &greeting("paas"));

    // Back to the pushed release: its config has no GREETING_NAME.
    paas(server, &["rollback", "-a", app]);
    answers(server, app, "/", &greeting("world"));
}

/// A push that must succeed, and whose output has each of `wanted`.
fn pushed(server: &TestServer, repo: &Path, what: &str, wanted: &[&str]) {
    let (pushed, output) = push(server, repo, what);
    assert!(pushed, "{output}");
    has_each(&output, what, wanted);
}

/// A push that must fail: the output has each of `wanted`, and the app's releases are unchanged.
fn refused(server: &TestServer, app: &str, repo: &Path, what: &str, wanted: &[&str]) {
    let before = paas(server, &["releases", "-a", app]);
    let (pushed, output) = push(server, repo, what);
    assert!(!pushed, "{what}: the push succeeded:\n{output}");
    has_each(&output, what, wanted);
    assert_eq!(paas(server, &["releases", "-a", app]), before, "{what}: a failed push made a release");
}

/// Checks that the push's `output` has each of `wanted`.
fn has_each(output: &str, what: &str, wanted: &[&str]) {
    for want in wanted {
        assert!(output.contains(want), "{what}: {want:?} not in the push's output:\n{output}");
    }
}

#[test]
fn php_and_java_apps_are_pushed_served_scaled_restarted_and_rolled_back() {
    if !crate::native::runc_available() {
        return;
    }
    let started = Instant::now();
    let server = TestServer::start();

    // --- hello-php: php -l, composer install (a path package), php-fpm behind nginx.
    let php_version = ok(std::process::Command::new("php").args(["-r", "echo PHP_VERSION;"]));
    let php = support::app_repo(&server, "hello-php", "hello-php");
    pushed(&server, php.path(), "hello-php", &[
        "Building natively with the stack's PHP",
        "no WebAssembly component",
        "files, no syntax errors",
        "Installing paas/greeting (1.0.0)",
        "web: heroku-php-nginx -C nginx_app.conf public/ (the Procfile's)",
    ]);
    lifecycle(&server, "hello-php", &|name| format!("Hello, {name}, from PHP {php_version}!\n"));
    // The stack's extensions are loaded in the dyno (/etc/php's conf.d): mbstring counts characters.
    answers(&server, "hello-php", "/length", "5\n");
    let one_off = run(server.paas().args(["run", "-a", "hello-php", "--", "php -r 'echo \"PHP \", PHP_VERSION, PHP_EOL;'"]));
    assert_eq!(
        (one_off.status.code(), String::from_utf8_lossy(&one_off.stdout).into_owned()),
        (Some(0), format!("PHP {php_version}\n")),
        "{}",
        String::from_utf8_lossy(&one_off.stderr)
    );
    println!("[php-java] hello-php done at {:.1} s", started.elapsed().as_secs_f64());

    // --- hello-java: the stack's Maven offline, JDK 17 from system.properties, the runnable jar.
    let java = support::app_repo(&server, "hello-java", "hello-java");
    pushed(&server, java.path(), "hello-java", &[
        "Building natively on the stack's JDK 17",
        "no WebAssembly component",
        "Building with the stack's Apache Maven",
        "BUILD SUCCESS",
        "web: java -Dserver.port=$PORT $JAVA_OPTS -jar target/hello-java-1.0.jar",
    ]);
    lifecycle(&server, "hello-java", &|name| format!("Hello, {name}, from Java 17!\n"));
    let one_off = run(server.paas().args(["run", "-a", "hello-java", "--", "java -version"]));
    let said = format!("{}{}", String::from_utf8_lossy(&one_off.stdout), String::from_utf8_lossy(&one_off.stderr));
    assert!(one_off.status.success() && said.contains("openjdk version \"17."), "{said}");
    println!("[php-java] hello-java done at {:.1} s", started.elapsed().as_secs_f64());

    // --- bad input: each push fails with the tool's message and makes no release.
    let bad_php = support::app_repo(&server, "hello-php", "bad-php");
    commit(&server, bad_php.path(), "public/index.php", "<?php\necho \"unfinished\"\necho \"next\";\n");
    refused(&server, "bad-php", bad_php.path(), "a PHP syntax error", &[
        "Parse error: syntax error, unexpected token \"echo\"",
        "public/index.php on line 3",
        "php -l found syntax errors",
    ]);
    std::fs::copy(support::repo_root().join("examples/hello-php/public/index.php"), bad_php.path().join("public/index.php")).unwrap();
    std::fs::remove_file(bad_php.path().join("composer.lock")).unwrap();
    commit(&server, bad_php.path(), "composer.json", r#"{"require": {"monolog/monolog": "^3.0"}}"#);
    refused(&server, "bad-php", bad_php.path(), "a Composer package Packagist would give", &[
        "repo.packagist.org",
        "composer install failed",
    ]);

    let bad_java = support::app_repo(&server, "hello-java", "bad-java");
    let pom = std::fs::read_to_string(bad_java.path().join("pom.xml")).unwrap();
    let start = pom.find("        <configuration>").unwrap();
    let end = pom.find("</configuration>").unwrap() + "</configuration>\n".len();
    commit(&server, bad_java.path(), "pom.xml", &format!("{}{}", &pom[..start], &pom[end..]));
    refused(&server, "bad-java", bad_java.path(), "a Java build without a runnable jar", &[
        "BUILD SUCCESS",
        "the build made no runnable jar: target/hello-java-1.0.jar has no Main-Class in its manifest",
    ]);
    commit(&server, bad_java.path(), "system.properties", "java.runtime.version=11\n");
    refused(&server, "bad-java", bad_java.path(), "a JDK the stack does not have", &[
        "system.properties asks for Java 11 (java.runtime.version=11), which this stack does not have",
        "the stack's JDKs: 17 (/usr/lib/jvm/java-17-openjdk-amd64)",
    ]);
    println!("[php-java] the whole test took {:.1} s", started.elapsed().as_secs_f64());
}
