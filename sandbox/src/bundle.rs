//! One container's OCI runtime bundle: `config.json` (built with the `oci-spec` crate) and the
//! root filesystem it names, from a [`Plan`]. The root is an empty read-only directory holding the
//! node's stack: the host's `/usr` (and `/lib*`, `/bin`, `/sbin` as the host has them), a chosen
//! few files of `/etc` (never `shadow` or the platform's own), a `passwd` naming the container's
//! user; a fresh tmpfs at `/tmp`; `/proc`; a minimal `/dev`; then the caller's mounts (a native
//! dyno's slug at `/app` under a writable overlay; a build's own folders). No capabilities,
//! `no_new_privileges`, the seccomp profile of `seccomp.rs`, new PID, mount, IPC and UTS
//! namespaces, and the network the plan names.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    BoxBuilder, Capabilities, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder,
    LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder,
    Mount as OciMount, MountBuilder,
    PosixRlimit, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, UserBuilder,
    get_default_mounts,
};

use crate::error::{SandboxError, io};
use crate::limits::{self, IoLimits};
use crate::seccomp;

/// Files of the host's `/etc` copied into the stack (symlinks into `/usr` are kept as links).
const ETC_FILES: &[&str] = &[
    "resolv.conf",
    "hosts",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "protocols",
    "services",
    "networks",
    "mime.types",
    "ld.so.cache",
    "ld.so.conf",
    "localtime",
    "timezone",
    "os-release",
    "debian_version",
    "inputrc",
    "bash.bashrc",
    "profile",
    "environment",
    "magic",
    "mailcap",
];

/// Directories of the host's `/etc` mounted read-only (those that exist), and every one named
/// with a prefix of [`ETC_DIR_PREFIXES`].
const ETC_DIRS: &[&str] = &[
    "ssl",
    "ca-certificates",
    "alternatives",
    "ld.so.conf.d",
    "profile.d",
    "fonts",
    "perl",
    "gss",
];

/// Single files and folders of the host's `/etc` mounted read-only (those that exist): what the
/// languages' runtimes read, and nothing else of their folders, where an operator's own
/// configuration may hold secrets (nginx sites, php-fpm pools with `env[…]`, Maven's
/// `settings.xml` with passwords). nginx reads its `mime.types` (`heroku-php-nginx` writes the
/// rest); Maven its `m2.conf` and `logging/` (builds name their own global settings). PHP's
/// folders are per version: [`PHP_PATHS`] under each `/etc/php/<version>`.
const ETC_PATHS: &[&str] = &["nginx/mime.types", "maven/m2.conf", "maven/logging"];

/// Under each `/etc/php/<version>`: the CLI's and php-fpm's `php.ini` and the `conf.d` folders
/// that load the extensions (links into `mods-available`); never `fpm/pool.d` or
/// `fpm/php-fpm.conf`.
const PHP_PATHS: &[&str] = &["cli", "mods-available", "fpm/php.ini", "fpm/conf.d"];

/// Prefixes of further `/etc` directories mounted read-only: Debian's python links
/// `sitecustomize.py` into `/etc/python3.N`, and a Debian JDK's `conf/` (`java.security` among
/// it) links into `/etc/java-N-openjdk` (without it the JVM does not start).
const ETC_DIR_PREFIXES: &[&str] = &["python3", "java-"];

/// Top-level directories of the stack besides `/usr`: bind-mounted when the host has them as
/// directories, recreated as links when they are links (merged `/usr`).
const STACK_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Where a container's network comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// The host's network namespace (native dynos bind `127.0.0.1:$PORT` for the router).
    Host,
    /// A new, empty network namespace: only its own loopback, no way out.
    None,
    /// An existing network namespace (`/run/netns/NAME`), joined.
    Join(PathBuf),
}

/// One mount a caller asks for, besides the stack, `/proc`, `/dev` and the fresh `/tmp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A host directory at `destination`, read-only unless `writable` (never setuid, never
    /// devices).
    Bind {
        /// The host directory.
        source: PathBuf,
        /// Where the container sees it.
        destination: String,
        /// Whether the container may write to it.
        writable: bool,
    },
    /// `lower` (a host directory, or an empty one) under a writable overlay at `destination`:
    /// the container's writes land in the bundle and vanish with it; `lower` is never changed.
    Overlay {
        /// The read-only lower layer.
        lower: Option<PathBuf>,
        /// Where the container sees it.
        destination: String,
        /// The size of the writable layer (a tmpfs of its own: writes past it are ENOSPC), or
        /// none (on the bundle's disk, unbounded).
        quota_bytes: Option<u64>,
    },
}

/// What one container is: its process, its user, what it sees and what it may use.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The container's hostname (empty: the container's id).
    pub hostname: String,
    /// The argument vector of its process (`args[0]` is looked up on the container's `PATH`).
    pub args: Vec<String>,
    /// Its whole environment.
    pub env: Vec<(String, String)>,
    /// Its working directory (inside the container).
    pub cwd: String,
    /// The user's name in the container's `/etc/passwd` (its uid is the container's own).
    pub user: String,
    /// The user's home directory in `/etc/passwd`.
    pub home: String,
    /// The caller's mounts, in order (a later one may lie inside an earlier one).
    pub mounts: Vec<Mount>,
    /// The memory limit (also the size of the fresh `/tmp`).
    pub memory_bytes: u64,
    /// The process/thread limit.
    pub processes: u32,
    /// The CPU limit in thousandths of a core (`2000`: two cores), or none.
    pub cpu_millis: Option<u64>,
    /// Block-I/O limits on the disks the container sees (with cgroups), or none.
    pub io: Option<IoLimits>,
    /// The network namespace.
    pub network: Network,
    /// Allocate a pseudo-terminal of (rows, columns) for the process.
    pub terminal: Option<(u16, u16)>,
}

/// What the sandbox adds to a [`Plan`] when it writes the bundle.
pub(crate) struct Placement<'a> {
    /// The bundle directory (created by [`write`]).
    pub dir: &'a Path,
    /// The container's hostname.
    pub hostname: &'a str,
    /// The container's own uid (and gid).
    pub uid: u32,
    /// runc's `cgroupsPath`, when cgroups are used; otherwise rlimits stand in.
    pub cgroups_path: Option<String>,
}

/// Creates the bundle directory: its root filesystem and `config.json`.
pub(crate) fn write(plan: &Plan, at: &Placement) -> Result<(), SandboxError> {
    let rootfs = at.dir.join("rootfs");
    let etc = rootfs.join("etc");
    mkdir(&etc)?;
    let mut mounts = base_mounts();
    mounts.push(bind("/usr", Path::new("/usr"), false));
    for name in STACK_DIRS {
        let host = Path::new("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&host).map_err(io(&host))?;
                symlink(&target, &rootfs.join(name))?;
            }
            Ok(meta) if meta.is_dir() => mounts.push(bind(&host.to_string_lossy(), &host, false)),
            _ => {}
        }
    }
    for name in ETC_FILES {
        copy_etc(&Path::new("/etc").join(name), &etc.join(name))?;
    }
    let mut dirs: Vec<String> = ETC_DIRS.iter().map(|d| d.to_string()).collect();
    let listed = std::fs::read_dir("/etc").map_err(io(Path::new("/etc")))?;
    dirs.extend(
        listed
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| ETC_DIR_PREFIXES.iter().any(|prefix| n.starts_with(prefix))),
    );
    for name in dirs {
        let host = Path::new("/etc").join(name);
        if host.is_dir() {
            mounts.push(bind(&host.to_string_lossy(), &host, false));
        }
    }
    let php_versions = std::fs::read_dir("/etc/php").into_iter().flatten().flatten().map(|e| e.path());
    let php_paths = php_versions.flat_map(|version| PHP_PATHS.iter().map(move |p| version.join(p)));
    for host in ETC_PATHS.iter().map(|p| Path::new("/etc").join(p)).chain(php_paths) {
        // Followed links are the stack's own (`/etc` is the host's, not a tenant's).
        if host.is_dir() || host.is_file() {
            mounts.push(bind(&host.to_string_lossy(), &host, false));
        }
    }
    write_file(&etc.join("passwd"), &passwd(&plan.user, at.uid, &plan.home))?;
    write_file(&etc.join("group"), &group(&plan.user, at.uid))?;
    write_file(&etc.join("hostname"), &format!("{}\n", at.hostname))?;
    // The container's own name resolves without DNS (runtimes that look up their hostname).
    if plan.network == Network::Host {
        let hosts = std::fs::read_to_string(etc.join("hosts")).unwrap_or_default();
        write_file(&etc.join("hosts"), &format!("{hosts}127.0.0.1\t{}\n", at.hostname))?;
    } else {
        // A namespace of its own: nothing of the node's hosts, and only resolvers it can reach.
        // (The copies are removed first: one may be a link, which a write would follow.)
        let (hosts, resolv) = crate::net::etc_files(at.hostname);
        for (name, text) in [("hosts", hosts), ("resolv.conf", resolv)] {
            let _ = std::fs::remove_file(etc.join(name));
            write_file(&etc.join(name), &text)?;
        }
    }
    mounts.push(tmpfs("/tmp", &["nosuid", "nodev", "mode=1777", &format!("size={}", plan.memory_bytes)]));
    for (index, mount) in plan.mounts.iter().enumerate() {
        mounts.push(match mount {
            Mount::Bind { source, destination, writable } => bind(destination, source, *writable),
            Mount::Overlay { lower, destination, quota_bytes } => {
                overlay(at, index, lower.as_deref(), destination, *quota_bytes)?
            }
        });
    }
    spec(plan, at, mounts)?.save(at.dir.join("config.json"))?;
    Ok(())
}

fn spec(plan: &Plan, at: &Placement, mounts: Vec<OciMount>) -> Result<Spec, SandboxError> {
    let user = UserBuilder::default().uid(at.uid).gid(at.uid).additional_gids(Vec::<u32>::new()).build()?;
    let none = || Capabilities::new();
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(none())
        .effective(none())
        .inheritable(none())
        .permitted(none())
        .ambient(none())
        .build()?;
    let env = plan.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
    let mut process = ProcessBuilder::default();
    if let Some((rows, cols)) = plan.terminal {
        process = process.console_size(BoxBuilder::default().height(u64::from(rows)).width(u64::from(cols)).build()?);
    }
    let process = process
        .terminal(plan.terminal.is_some())
        .user(user)
        .args(args(plan, at))
        .env(env)
        .cwd(plan.cwd.clone())
        .no_new_privileges(true)
        .capabilities(capabilities)
        .rlimits(rlimits(plan, at)?)
        .build()?;
    let mut namespaces =
        [LinuxNamespaceType::Pid, LinuxNamespaceType::Mount, LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts]
            .into_iter()
            .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
            .collect::<Result<Vec<_>, _>>()?;
    match &plan.network {
        Network::Host => {}
        Network::None => namespaces.push(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network).build()?),
        Network::Join(path) => namespaces
            .push(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::Network).path(path.clone()).build()?),
    }
    let deny_devices = LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build()?;
    let mut resources = LinuxResourcesBuilder::default().devices(vec![deny_devices]);
    if at.cgroups_path.is_some() {
        // The memory limit is on the parent cgroup paas made (see `cgroup.rs`); runc's own must
        // not be lower, or the kill would be counted in a cgroup that vanishes with the container.
        resources = resources
            .pids(LinuxPidsBuilder::default().limit(i64::from(plan.processes)).build()?)
            .memory(LinuxMemoryBuilder::default().build()?);
        if let Some(millis) = plan.cpu_millis {
            let period: u64 = 100_000;
            let quota = (millis.max(10) * period / 1000) as i64;
            resources = resources.cpu(LinuxCpuBuilder::default().quota(quota).period(period).build()?);
        }
        if let Some(io) = &plan.io {
            resources = resources.block_io(limits::block_io(io, &seen_disks(plan, at))?);
        }
    }
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build()?)
        .seccomp(seccomp::profile()?)
        .masked_paths(oci_spec::runtime::get_default_maskedpaths())
        .readonly_paths(oci_spec::runtime::get_default_readonly_paths());
    if let Some(path) = &at.cgroups_path {
        linux = linux.cgroups_path(PathBuf::from(path));
    }
    let mut spec = Spec::default();
    spec.set_hostname(Some(at.hostname.to_string()))
        .set_process(Some(process))
        .set_root(Some(RootBuilder::default().path("rootfs").readonly(true).build()?))
        .set_mounts(Some(mounts))
        .set_linux(Some(linux.build()?))
        .set_annotations(None);
    Ok(spec)
}

/// The disks of what the container sees: the stack (`/`, `/usr`), its mounts' host folders and
/// the bundle (the node's data dir).
fn seen_disks(plan: &Plan, at: &Placement) -> std::collections::BTreeSet<(i64, i64)> {
    let mounts = plan.mounts.iter().filter_map(|m| match m {
        Mount::Bind { source, .. } => Some(source.as_path()),
        Mount::Overlay { lower, .. } => lower.as_deref(),
    });
    limits::disks([Path::new("/"), Path::new("/usr"), at.dir].into_iter().chain(mounts))
}

/// The plan's arguments; without a memory cgroup, run through `sh` after `ulimit -d` (RLIMIT_DATA
/// bounds the heap of every process instead; it cannot be an OCI rlimit, since runc's own init,
/// written in Go, cannot start under a small one).
fn args(plan: &Plan, at: &Placement) -> Vec<String> {
    if at.cgroups_path.is_some() {
        return plan.args.clone();
    }
    let script = format!("ulimit -d {} || exit 1; exec \"$@\"", plan.memory_bytes / 1024);
    ["/bin/sh".to_string(), "-c".into(), script, "sh".into()].into_iter().chain(plan.args.iter().cloned()).collect()
}

/// Open files always; without cgroups, processes too (RLIMIT_NPROC counts the processes of the
/// container's uid, which no other container shares).
fn rlimits(plan: &Plan, at: &Placement) -> Result<Vec<PosixRlimit>, SandboxError> {
    let limit = |typ, value: u64| PosixRlimitBuilder::default().typ(typ).hard(value).soft(value).build();
    let mut limits = vec![limit(PosixRlimitType::RlimitNofile, 10_000)?];
    if at.cgroups_path.is_none() {
        limits.push(limit(PosixRlimitType::RlimitNproc, u64::from(plan.processes))?);
    }
    Ok(limits)
}

/// `/proc`, `/dev` (tmpfs; runc adds null, zero, full, random, urandom, tty), `/dev/pts`,
/// `/dev/shm`, `/dev/mqueue`: runc's defaults without `/sys`.
fn base_mounts() -> Vec<OciMount> {
    let keep: HashSet<&str> = ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"].into();
    get_default_mounts().into_iter().filter(|m| m.destination().to_str().is_some_and(|d| keep.contains(d))).collect()
}

/// `lower` as the lower layer of an overlay whose upper layer (owned by the container's user)
/// lives in the bundle (`overlay/<index>/`).
fn overlay(
    at: &Placement,
    index: usize,
    lower: Option<&Path>,
    destination: &str,
    quota_bytes: Option<u64>,
) -> Result<OciMount, SandboxError> {
    let layers = at.dir.join("overlay").join(index.to_string());
    if let Some(bytes) = quota_bytes {
        mkdir(&layers)?;
        limits::mount_layers(&layers, bytes)?;
    }
    let (upper, work, empty) = (layers.join("upper"), layers.join("work"), layers.join("empty"));
    for dir in [&upper, &work, &empty] {
        mkdir(dir)?;
    }
    std::os::unix::fs::chown(&upper, Some(at.uid), Some(at.uid)).map_err(io(&upper))?;
    let lower = lower.unwrap_or(&empty);
    for dir in [lower, upper.as_path(), work.as_path()] {
        if dir.to_string_lossy().contains([',', ':']) {
            return Err(SandboxError::Spec(format!(
                "`{}` cannot be an overlay layer (it contains `,` or `:`)",
                dir.display()
            )));
        }
    }
    let options = vec![
        format!("lowerdir={}", lower.display()),
        format!("upperdir={}", upper.display()),
        format!("workdir={}", work.display()),
        "nosuid".into(),
        "nodev".into(),
    ];
    Ok(MountBuilder::default().destination(destination).typ("overlay").source("overlay").options(options).build()?)
}

fn bind(destination: &str, source: &Path, writable: bool) -> OciMount {
    let options = ["rbind", if writable { "rw" } else { "ro" }, "nosuid", "nodev"].map(String::from).to_vec();
    let mut mount = OciMount::default();
    mount
        .set_destination(PathBuf::from(destination))
        .set_typ(Some("bind".into()))
        .set_source(Some(source.into()))
        .set_options(Some(options));
    mount
}

fn tmpfs(destination: &str, options: &[&str]) -> OciMount {
    let mut mount = OciMount::default();
    mount
        .set_destination(PathBuf::from(destination))
        .set_typ(Some("tmpfs".into()))
        .set_source(Some("tmpfs".into()))
        .set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    mount
}

/// Copies one `/etc` file (following links), or recreates a link that points into `/usr`.
fn copy_etc(host: &Path, into: &Path) -> Result<(), SandboxError> {
    let Ok(meta) = std::fs::symlink_metadata(host) else { return Ok(()) };
    if meta.file_type().is_symlink()
        && let Ok(target) = std::fs::read_link(host)
        && std::fs::canonicalize(host).is_ok_and(|real| real.starts_with("/usr/"))
    {
        return symlink(&target, into);
    }
    if host.is_file() {
        std::fs::copy(host, into).map_err(io(into))?;
    }
    Ok(())
}

/// `/etc/passwd`: root, the container's user, nobody.
fn passwd(user: &str, uid: u32, home: &str) -> String {
    format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n{user}:x:{uid}:{uid}:{user}:{home}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
}

fn group(user: &str, uid: u32) -> String {
    format!("root:x:0:\n{user}:x:{uid}:\nnogroup:x:65534:\n")
}

fn mkdir(dir: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(dir).map_err(io(dir))
}

fn symlink(target: &Path, link: &Path) -> Result<(), SandboxError> {
    std::os::unix::fs::symlink(target, link).map_err(io(link))
}

fn write_file(path: &Path, text: &str) -> Result<(), SandboxError> {
    std::fs::write(path, text).map_err(io(path))
}
