//! `paas node install`: makes this machine a paas node run by systemd. It writes the unit
//! (`/etc/systemd/system/paas.service`, the same as `dist/paas.service` for the default paths), a
//! settings file of `PAAS_*` variables (`/etc/paas/paas.env`, 0600: it may hold a database URL),
//! the data dir (`/var/lib/paas`, 0711), and, with `--copy-to`, a copy of this binary; then says
//! what to run next and what the host lacks. Running it again changes nothing; a file that exists
//! with other content is left alone (and the install refused, before anything is written) unless
//! `--force`. It starts nothing: systemd need not run (tests use `--unit-dir`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

/// Install `paas server` as a systemd service on this machine.
#[derive(Debug, Args)]
pub struct NodeInstallCommand {
    /// The server's data dir (ledger, slugs, builds, the operator's key), made mode 0711: nobody else
    /// lists it, and the add-on servers (users `postgres` and `redis`) reach their own folders in it.
    #[arg(long, default_value = "/var/lib/paas")]
    data_dir: PathBuf,
    /// Where the unit `paas.service` is written.
    #[arg(long, default_value = "/etc/systemd/system")]
    unit_dir: PathBuf,
    /// The unit's settings file (PAAS_* variables, one per `paas server` flag), mode 0600.
    #[arg(long, default_value = "/etc/paas/paas.env")]
    config: PathBuf,
    /// Copy this binary here (e.g. /usr/local/bin/paas) and have the unit run the copy; without
    /// it, the unit runs this binary where it is.
    #[arg(long, value_name = "PATH")]
    copy_to: Option<PathBuf>,
    /// PAAS_API_LISTEN in the settings (default: the server's, 127.0.0.1:5000).
    #[arg(long)]
    api_listen: Option<std::net::SocketAddr>,
    /// PAAS_ROUTER_LISTEN in the settings (default: the server's, 127.0.0.1:8080).
    #[arg(long)]
    router_listen: Option<std::net::SocketAddr>,
    /// PAAS_DOMAIN in the settings: apps are served at <app>.<domain>.
    #[arg(long)]
    domain: Option<String>,
    /// PAAS_DATABASE_URL in the settings: the ledger in PostgreSQL (postgres://…).
    #[arg(long)]
    database_url: Option<String>,
    /// PAAS_NODE_ADDRESS in the settings: where other nodes reach this one's API and router.
    #[arg(long)]
    node_address: Option<String>,
    /// PAAS_JOIN in the settings: join the grid of --database-url with a token of `paas
    /// nodes:token` (used once, at the first start).
    #[arg(long, value_name = "TOKEN", requires = "database_url")]
    join: Option<String>,
    /// Replace a unit, settings file or binary copy that exists with other content.
    #[arg(long)]
    force: bool,
}

/// One file the install writes.
struct Planned {
    path: PathBuf,
    content: Vec<u8>,
    mode: u32,
}

impl NodeInstallCommand {
    /// Checks everything first, then writes what is missing or (with `--force`) different.
    pub fn run(self) -> anyhow::Result<()> {
        let exe = std::env::current_exe().and_then(std::fs::canonicalize).context("cannot find this binary's path")?;
        let data_dir = absolute(&self.data_dir, "--data-dir")?;
        let config = absolute(&self.config, "--config")?;
        let program = match &self.copy_to {
            Some(path) => absolute(path, "--copy-to")?,
            None => exe.clone(),
        };
        let unit_dir = std::path::absolute(&self.unit_dir).context("cannot make --unit-dir absolute")?;
        let mut planned = vec![
            Planned { path: unit_dir.join("paas.service"), content: unit(&program, &data_dir, &config).into(), mode: 0o644 },
            Planned { path: config.clone(), content: self.settings()?.into(), mode: 0o600 },
        ];
        if program != exe {
            let content = std::fs::read(&exe).with_context(|| format!("cannot read {}", exe.display()))?;
            planned.push(Planned { path: program.clone(), content, mode: 0o755 });
        }
        let mut conflicts = Vec::new();
        let mut changes = Vec::new();
        for file in &planned {
            match std::fs::read(&file.path) {
                Ok(existing) if existing == file.content => println!("unchanged {}", file.path.display()),
                Ok(_) if !self.force => conflicts.push(file.path.display().to_string()),
                Ok(_) => changes.push((file, "replaced")),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => changes.push((file, "wrote")),
                Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.path.display())),
            }
        }
        if !conflicts.is_empty() {
            bail!(
                "{} exist{} with other content than this install writes; nothing was changed (--force replaces {})",
                conflicts.join(", "),
                if conflicts.len() == 1 { "s" } else { "" },
                if conflicts.len() == 1 { "it" } else { "them" },
            );
        }
        for (file, done) in changes {
            write_atomically(file)?;
            println!("{done} {}", file.path.display());
        }
        make_data_dir(&data_dir)?;
        println!("{}", next_steps(&data_dir, &config, self.api_listen));
        let missing = missing_tools();
        if !missing.is_empty() {
            println!("\nThis host lacks:");
            for (tool, why) in missing {
                println!("  {tool}: {why}");
            }
        }
        if self.copy_to.is_none() && (exe.starts_with("/tmp") || exe.components().any(|c| c.as_os_str() == "target")) {
            println!("\nThe unit runs {}, which may not stay there: --copy-to /usr/local/bin/paas", exe.display());
        }
        Ok(())
    }

    /// The settings file: the given settings, the others as commented-out examples.
    fn settings(&self) -> anyhow::Result<String> {
        let mut text = String::from(
            "# paas server's settings for paas.service: one PAAS_* variable per flag of `paas server --help`\n\
             # (the data dir is in the unit). Written by `paas node install`; after a change:\n\
             #   systemctl restart paas\n",
        );
        let given = [
            ("PAAS_API_LISTEN", self.api_listen.map(|a| a.to_string()), "127.0.0.1:5000"),
            ("PAAS_ROUTER_LISTEN", self.router_listen.map(|a| a.to_string()), "127.0.0.1:8080"),
            ("PAAS_DOMAIN", self.domain.clone(), "localhost"),
            ("PAAS_DATABASE_URL", self.database_url.clone(), "postgres://paas:PASSWORD@db.example:5432/paas"),
            ("PAAS_NODE_ADDRESS", self.node_address.clone(), "192.0.2.10"),
            ("PAAS_JOIN", self.join.clone(), "TOKEN-of-paas-nodes:token"),
        ];
        for (name, value, example) in given {
            match value {
                Some(value) => text.push_str(&format!("{name}={}\n", setting(&value, name)?)),
                None => text.push_str(&format!("#{name}={example}\n")),
            }
        }
        // Where this shell finds the Rust toolchain that Rust and static builds use (systemd
        // gives the service HOME=/root, so ~/.cargo and ~/.rustup are found without these).
        for name in ["CARGO_HOME", "RUSTUP_HOME"] {
            if let Some(value) = std::env::var_os(name).filter(|v| !v.is_empty()) {
                text.push_str(&format!("{name}={}\n", setting(&value.to_string_lossy(), name)?));
            }
        }
        Ok(text)
    }
}

/// The systemd unit running `program server` on `data_dir` with the settings of `config`.
pub fn unit(program: &Path, data_dir: &Path, config: &Path) -> String {
    format!(
        "# paas server: a self-hostable Heroku (Platform API, git, builds, router, dynos).\n\
         # Written by `paas node install` (the same as dist/paas.service for the default paths);\n\
         # settings go in {config} (PAAS_* variables).\n\
         [Unit]\n\
         Description=paas server\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=exec\n\
         # Root: builds and native dynos run in runc containers, on network namespaces with nftables\n\
         # rules and on loop-mounted build disks. HOME=/root: the Rust toolchain in ~/.cargo, ~/.rustup.\n\
         User=root\n\
         Environment=PAAS_DATA_DIR={data_dir}\n\
         EnvironmentFile=-{config}\n\
         ExecStart={program} server\n\
         # SIGTERM to the server alone: it ends builds and dynos itself; its watchdog process must\n\
         # outlive it to remove the containers of a server that crashed.\n\
         KillMode=process\n\
         TimeoutStopSec=60\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         # Containers get cgroups of their own (under the server's on cgroup v1).\n\
         Delegate=yes\n\
         LimitNOFILE=1048576\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        config = config.display(),
        data_dir = data_dir.display(),
        program = program.display(),
    )
}

/// `path` absolute, and plain enough for a unit file (no whitespace, quotes, `\`, `$`, `%`).
fn absolute(path: &Path, flag: &str) -> anyhow::Result<PathBuf> {
    let path = std::path::absolute(path).with_context(|| format!("cannot make {} absolute ({flag})", path.display()))?;
    plain(&path.to_string_lossy(), flag)?;
    Ok(path)
}

/// `value` unchanged if systemd reads it as written in a unit or environment file.
fn plain<'a>(value: &'a str, what: &str) -> anyhow::Result<&'a str> {
    if let Some(c) = value.chars().find(|c| c.is_whitespace() || c.is_control() || "\"'\\$%;`".contains(*c)) {
        bail!("{what}: {value:?} holds {c:?}, which a systemd unit would read otherwise; choose a value without it");
    }
    Ok(value)
}

/// `value` unchanged if systemd reads it as written in an environment file (`%` is no specifier
/// there: URL-encoded passwords pass).
fn setting<'a>(value: &'a str, what: &str) -> anyhow::Result<&'a str> {
    match value.contains('%') {
        true => plain(&value.replace('%', ""), what).map(|_| value),
        false => plain(value, what),
    }
}

/// Writes `file` through a temporary file in its folder renamed over it (a link at the path is
/// replaced, never followed; a running binary is replaced, not rewritten).
fn write_atomically(file: &Planned) -> anyhow::Result<()> {
    let dir = file.path.parent().context("a file to write has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = file.path.file_name().context("a file to write has no name")?.to_string_lossy();
    let temp = dir.join(format!(".{name}.paas-install-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(file.mode)
        .open(&temp)
        .and_then(|mut out| {
            out.write_all(&file.content)?;
            out.set_permissions(std::fs::Permissions::from_mode(file.mode))?;
            out.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, &file.path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e).with_context(|| format!("cannot write {}", file.path.display()));
    }
    Ok(())
}

/// Creates the data dir, or sets an existing one, to mode 0711 ([`DATA_DIR_MODE`]).
fn make_data_dir(dir: &Path) -> anyhow::Result<()> {
    let existed = dir.is_dir();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create the data dir {}", dir.display()))?;
    let mode = std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?.permissions().mode() & 0o7777;
    if mode != DATA_DIR_MODE {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DATA_DIR_MODE))
            .with_context(|| format!("cannot make the data dir {} mode {DATA_DIR_MODE:04o}", dir.display()))?;
    }
    match (existed, mode) {
        (false, _) => println!("created {} ({DATA_DIR_MODE:04o})", dir.display()),
        (true, DATA_DIR_MODE) => println!("unchanged {}", dir.display()),
        (true, mode) => println!("made {} {DATA_DIR_MODE:04o} (it was {mode:04o})", dir.display()),
    }
    Ok(())
}

/// The data dir's mode: the owner's, searchable by others but not listable, so the add-on
/// servers paas runs as the users `postgres` and `redis` reach `<data-dir>/addons/…` (their own
/// folders, 0700) while the ledger and keys (0600) stay the owner's.
const DATA_DIR_MODE: u32 = 0o711;

/// What to run once the files are in place.
fn next_steps(data_dir: &Path, config: &Path, api: Option<std::net::SocketAddr>) -> String {
    let api = api.map_or_else(
        || "http://127.0.0.1:5000".to_string(),
        |a| match a.ip().is_unspecified() {
            true => format!("http://127.0.0.1:{}", a.port()),
            false => format!("http://{a}"),
        },
    );
    format!(
        "\nNext:\n  \
         systemctl daemon-reload\n  \
         systemctl enable --now paas\n  \
         journalctl -u paas -f        # the server's log (settings: {config})\n  \
         paas login --api-url {api} < {key}",
        config = config.display(),
        key = data_dir.join("operator-api-key").display(),
    )
}

/// The host programs `paas server` uses that are not on PATH, each with what needs it.
fn missing_tools() -> Vec<(&'static str, &'static str)> {
    const TOOLS: &[(&str, &str)] = &[
        ("runc", "builds and native dynos run in its containers (apt-get install runc)"),
        ("git", "git push (apt-get install git)"),
        ("nft", "the containers' network rules (apt-get install nftables)"),
        ("ip", "the containers' network namespaces (apt-get install iproute2)"),
        ("mkfs.ext4", "build disks (apt-get install e2fsprogs)"),
        ("mkfs.xfs", "build disks with instant cache copies; ext4 without it (apt-get install xfsprogs)"),
        ("cargo", "Rust and static-site builds (rustup, with the wasm32-wasip2 target)"),
        ("node", "Node.js builds and apps (apt-get install nodejs npm)"),
        ("python3", "Python builds and apps (apt-get install python3 python3-venv)"),
        ("go", "Go builds (apt-get install golang-go)"),
        ("bundle", "Ruby builds and apps (apt-get install ruby ruby-bundler ruby-dev)"),
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    let home_cargo = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain(home_cargo).collect();
    TOOLS.iter().filter(|(tool, _)| !dirs.iter().any(|dir| dir.join(tool).is_file())).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_unit_is_dist_paas_service() {
        let written = unit(Path::new("/usr/local/bin/paas"), Path::new("/var/lib/paas"), Path::new("/etc/paas/paas.env"));
        assert_eq!(written, include_str!("../../../dist/paas.service"), "dist/paas.service is what `paas node install --copy-to /usr/local/bin/paas` writes");
    }

    #[test]
    fn values_systemd_would_read_otherwise_are_refused() {
        for bad in ["/srv/my paas", "/srv/$HOME", "/srv/100%", "a\"b", "a\\b", "x\ny", "a;b"] {
            assert!(plain(bad, "--data-dir").is_err(), "{bad:?}");
        }
        let url = "postgres://u:p%40ss@db:5432/paas?sslmode=require";
        assert_eq!(setting(url, "--database-url").unwrap(), url);
        assert!(setting("postgres://u:p ss@db/paas", "--database-url").is_err());
    }
}
