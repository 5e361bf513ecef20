//! The ruby buildpack: examples/hello-ruby (Rack on WEBrick, its gems in vendor/cache) is
//! installed by the stack's Bundler (deployment mode, `--local`) into vendor/bundle, `web` is
//! `bundle exec rackup` and its gems load at /app on the stack alone; a Gemfile.lock that does not
//! match the Gemfile fails with bundler's message; `web` is picked as Heroku picks it (Rails,
//! puma, Rack); a Rack app with a `public/` is Ruby, not a static site; a gem with a C extension
//! is compiled in the build (the stack's ruby-dev and cc) and loads at /app.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use paas_builder::manifest::NATIVE_STACK;
use paas_builder::CollectOutput;

use crate::support::{assert_lines, build_ok, builder, native, repo_root, request, run_at_app};

/// The example's web command.
const RACKUP: &str = "bundle exec rackup config.ru -p ${PORT:-5000}";

#[tokio::test]
async fn ruby_example_installs_its_vendored_gems_and_runs_rackup_on_the_stack() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let src = tempfile::tempdir().unwrap();
    paas_builder::source::copy_tree(&repo_root().join("examples/hello-ruby"), src.path()).unwrap();
    // A static site's folder too: the Rack app is still Ruby's (ruby is tried before static).
    fs::create_dir(src.path().join("public")).unwrap();
    fs::write(src.path().join("public/robots.txt"), "").unwrap();
    let (built, lines) = build_ok(&builder, "hello-ruby", src.path()).await;
    assert_eq!(lines[1], "-----> Ruby app detected", "{lines:#?}");
    assert!(lines[2].starts_with("-----> Ruby: building natively: ruby.wasm"), "{lines:#?}");
    assert_lines(&lines, &[
        "-----> Installing dependencies with bundle install --local (deployment, without development:test)",
        "       Installing rack 2.2.22",
        "       Installing webrick 1.8.1",
    ]);
    assert_eq!(built.manifest.stack, NATIVE_STACK);
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native(RACKUP))]));

    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    // At /app (read-only) with only the stack: Bundler finds the gems the build installed.
    let at_app = run_at_app(
        &unpacked.path().join("app"),
        "bundle exec ruby -e 'require \"rack\"; require \"webrick\"; puts Rack.release, $LOADED_FEATURES.grep(/webrick.rb/), ENV[\"RACK_ENV\"]' 2>&1",
    );
    assert_eq!(
        String::from_utf8_lossy(&at_app.stdout).lines().collect::<Vec<_>>(),
        ["2.2.22", "/app/vendor/bundle/ruby/3.1.0/gems/webrick-1.8.1/lib/webrick.rb", "production"],
        "{at_app:?}"
    );

    // The second build starts from the gems the first installed (kept in CACHE_DIR). Its
    // Gemfile.lock names a newer Bundler: the stack's installs it, without trying to download
    // that version first.
    let lock = src.path().join("Gemfile.lock");
    fs::write(&lock, fs::read_to_string(&lock).unwrap().replace("BUNDLED WITH\n   2.3.15", "BUNDLED WITH\n   2.99.0")).unwrap();
    let (_, lines) = build_ok(&builder, "hello-ruby", src.path()).await;
    assert!(lines.contains(&"-----> Using the gems installed by the last build".to_string()), "{lines:#?}");
    assert!(lines.contains(&"       Using rack 2.2.22".to_string()), "{lines:#?}");
    assert!(lines.contains(&"       Gemfile.lock was made with Bundler 2.99.0; installing with the stack's 2.3.15".to_string()), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("Installing Bundler 2.99.0")), "{lines:#?}");
}

#[tokio::test]
async fn ruby_gemfile_lock_that_does_not_match_fails_with_bundlers_message() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let src = tempfile::tempdir().unwrap();
    paas_builder::source::copy_tree(&repo_root().join("examples/hello-ruby"), src.path()).unwrap();
    let gemfile = fs::read_to_string(src.path().join("Gemfile")).unwrap();
    fs::write(src.path().join("Gemfile"), format!("{gemfile}gem \"sinatra\"\n")).unwrap();
    let out = CollectOutput::default();
    let error = builder.build(request("ruby-app", src.path()), &out).await.unwrap_err();
    assert_eq!(error.to_string(), "failed to compile Ruby app: bin/compile of the ruby buildpack exited with status 1");
    let lines = out.lines();
    assert_lines(&lines, &["       You are trying to install in deployment mode after changing", "       * sinatra"]);
    assert_eq!(lines.last().unwrap(), " !     bundle install failed (the messages above are bundler's)");

    // No Gemfile.lock at all: said before bundler runs.
    fs::remove_file(src.path().join("Gemfile.lock")).unwrap();
    let out = CollectOutput::default();
    builder.build(request("ruby-app", src.path()), &out).await.unwrap_err();
    assert_eq!(
        out.lines().last().unwrap(),
        " !     Gemfile.lock is missing: run `bundle lock` (or `bundle install`) and commit Gemfile.lock"
    );
}

/// A gem with a C extension (`HelloExt.hi`), packed with the host's `gem build` into `into`.
fn gem_with_a_c_extension(into: &Path) {
    let gem = tempfile::tempdir().unwrap();
    for (path, text) in [
        (
            "hello_ext.gemspec",
            "Gem::Specification.new do |s|\n  s.name = \"hello_ext\"\n  s.version = \"0.1.0\"\n  s.summary = \"A C extension\"\n  s.authors = [\"paas\"]\n  s.files = [\"ext/hello_ext/extconf.rb\", \"ext/hello_ext/hello_ext.c\", \"lib/hello_ext.rb\"]\n  s.extensions = [\"ext/hello_ext/extconf.rb\"]\nend\n",
        ),
        ("ext/hello_ext/extconf.rb", "require \"mkmf\"\ncreate_makefile(\"hello_ext/hello_ext\")\n"),
        (
            "ext/hello_ext/hello_ext.c",
            "#include <ruby.h>\nstatic VALUE hi(VALUE self) { return rb_str_new_cstr(\"hi from C\"); }\nvoid Init_hello_ext(void) { rb_define_singleton_method(rb_define_module(\"HelloExt\"), \"hi\", hi, 0); }\n",
        ),
        ("lib/hello_ext.rb", "require \"hello_ext/hello_ext\"\n"),
    ] {
        let path = gem.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let built = Command::new("gem").args(["build", "hello_ext.gemspec"]).current_dir(gem.path()).output().unwrap();
    assert!(built.status.success(), "{built:?}");
    fs::create_dir_all(into).unwrap();
    fs::copy(gem.path().join("hello_ext-0.1.0.gem"), into.join("hello_ext-0.1.0.gem")).unwrap();
}

#[tokio::test]
async fn ruby_gem_with_a_c_extension_is_compiled_in_the_build_and_loads_at_app() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    gem_with_a_c_extension(&src.path().join("vendor/cache"));
    fs::write(src.path().join("Gemfile"), "source \"https://rubygems.org\"\n\ngem \"hello_ext\"\n").unwrap();
    let lock = "GEM\n  remote: https://rubygems.org/\n  specs:\n    hello_ext (0.1.0)\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  hello_ext\n\nBUNDLED WITH\n   2.3.15\n";
    fs::write(src.path().join("Gemfile.lock"), lock).unwrap();
    fs::write(src.path().join("Procfile"), "web: bundle exec ruby -e 'require \"hello_ext\"; puts HelloExt.hi'\n").unwrap();
    let builder = builder(data.path());
    let (built, lines) = build_ok(&builder, "ruby-ext", src.path()).await;
    assert_lines(&lines, &["       Installing hello_ext 0.1.0 with native extensions"]);
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let at_app = run_at_app(&unpacked.path().join("app"), "bundle exec ruby -e 'require \"hello_ext\"; puts HelloExt.hi'");
    assert_eq!(String::from_utf8_lossy(&at_app.stdout), "hi from C\n", "{at_app:?}");
}

/// `bin/release` of the ruby buildpack on a folder of `files`: its `web` line.
fn web_of(files: &[(&str, &str)]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    let release = Path::new(&repo_root()).join("buildpacks/ruby/bin/release");
    let output = Command::new(release).arg(dir.path()).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().lines().find_map(|l| l.strip_prefix("  web: ").map(str::to_string))
}

#[test]
fn ruby_web_process_is_picked_as_heroku_picks_it() {
    let lock = |gems: &str| format!("GEM\n  remote: https://rubygems.org/\n  specs:\n{gems}\nPLATFORMS\n  ruby\n");
    let rails = lock("    puma (6.4.0)\n    railties (7.1.0)\n");
    assert_eq!(
        web_of(&[("Gemfile", ""), ("Gemfile.lock", &rails), ("bin/rails", ""), ("config.ru", "")]).as_deref(),
        Some("bin/rails server -p ${PORT:-5000} -e ${RAILS_ENV:-production}")
    );
    let puma = lock("    puma (6.4.0)\n      nio4r (~> 2.0)\n    rack (2.2.22)\n");
    assert_eq!(
        web_of(&[("Gemfile", ""), ("Gemfile.lock", &puma), ("config.ru", "")]).as_deref(),
        Some("bundle exec puma -p ${PORT:-5000} -e ${RACK_ENV:-production}")
    );
    assert_eq!(
        web_of(&[("Gemfile", ""), ("Gemfile.lock", &puma), ("config/puma.rb", "")]).as_deref(),
        Some("bundle exec puma -C config/puma.rb")
    );
    // A gem that merely depends on puma (an indented dependency line) is not puma.
    let rack = lock("    rack (2.2.22)\n    some-gem (1.0)\n      puma (>= 5)\n");
    assert_eq!(web_of(&[("Gemfile", ""), ("Gemfile.lock", &rack), ("config.ru", "")]).as_deref(), Some(RACKUP));
    assert_eq!(web_of(&[("Gemfile", ""), ("Gemfile.lock", &lock("    rake (13.0.6)\n"))]), None, "a plain Ruby app has no default web");
}
