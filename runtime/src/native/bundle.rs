//! One native dyno's OCI runtime bundle: `config.json` (built with the `oci-spec` crate) and the
//! root filesystem it names. The root is an empty read-only directory holding the node's stack:
//! the host's `/usr` (and `/lib*`, `/bin`, `/sbin` as the host has them), a chosen few files of
//! `/etc` (never `shadow` or the platform's own), a `passwd` naming the dyno's user; the slug's
//! app directory at `/app` under a per-dyno writable overlay (writes are the dyno's own and
//! vanish with it; the slug is never changed); a fresh tmpfs at `/tmp`; `/proc`; a minimal `/dev`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    BoxBuilder, Capabilities, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder, LinuxMemoryBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder,
    PosixRlimit, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, UserBuilder,
    get_default_mounts,
};

use super::seccomp;
use super::{NativeError, io};

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

/// Directories of the host's `/etc` mounted read-only (those that exist), and every `python3*`
/// one (Debian's python links `sitecustomize.py` into `/etc/python3.N`).
const ETC_DIRS: &[&str] =
    &["ssl", "ca-certificates", "alternatives", "ld.so.conf.d", "profile.d", "fonts", "perl", "gss"];

/// Top-level directories of the stack besides `/usr`: bind-mounted when the host has them as
/// directories, recreated as links when they are links (merged `/usr`).
const STACK_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// The `PATH` of a native dyno unless a config var sets one.
pub(crate) const DEFAULT_PATH: &str = "/app/bin:/usr/local/bin:/usr/bin:/bin";

/// Everything the bundle of one dyno is made of.
pub(crate) struct Plan<'a> {
    /// The bundle directory (created by [`write`]).
    pub dir: &'a Path,
    /// The container's hostname.
    pub hostname: &'a str,
    /// The argument vector of the dyno's process.
    pub args: Vec<String>,
    /// Its environment.
    pub env: Vec<(String, String)>,
    /// The dyno's own uid (and gid).
    pub uid: u32,
    /// The slug's app directory (lower layer of `/app`).
    pub app_dir: Option<&'a Path>,
    /// The memory limit (also the size of `/tmp`).
    pub memory_bytes: u64,
    /// The process/thread limit.
    pub processes: u32,
    /// runc's `cgroupsPath`, when cgroups are used; otherwise rlimits stand in.
    pub cgroups_path: Option<String>,
    /// Allocate a pseudo-terminal of (rows, columns) for the process.
    pub terminal: Option<(u16, u16)>,
}

/// Creates the bundle directory: its root filesystem and `config.json`.
pub(crate) fn write(plan: &Plan) -> Result<(), NativeError> {
    let rootfs = plan.dir.join("rootfs");
    let etc = rootfs.join("etc");
    mkdir(&etc)?;
    let mut mounts = base_mounts();
    mounts.push(bind("/usr", Path::new("/usr")));
    for name in STACK_DIRS {
        let host = Path::new("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&host).map_err(io(&host))?;
                symlink(&target, &rootfs.join(name))?;
            }
            Ok(meta) if meta.is_dir() => mounts.push(bind(&host.to_string_lossy(), &host)),
            _ => {}
        }
    }
    for name in ETC_FILES {
        copy_etc(&Path::new("/etc").join(name), &etc.join(name))?;
    }
    let mut dirs: Vec<String> = ETC_DIRS.iter().map(|d| d.to_string()).collect();
    let python = std::fs::read_dir("/etc").map_err(io(Path::new("/etc")))?;
    dirs.extend(
        python.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with("python3")),
    );
    for name in dirs {
        let host = Path::new("/etc").join(name);
        if host.is_dir() {
            mounts.push(bind(&host.to_string_lossy(), &host));
        }
    }
    write_file(&etc.join("passwd"), &passwd(plan.uid))?;
    write_file(&etc.join("group"), &group(plan.uid))?;
    write_file(&etc.join("hostname"), &format!("{}\n", plan.hostname))?;
    // The dyno's own name resolves without DNS (runtimes that look up their hostname at start).
    let hosts = std::fs::read_to_string(etc.join("hosts")).unwrap_or_default();
    write_file(&etc.join("hosts"), &format!("{hosts}127.0.0.1\t{}\n", plan.hostname))?;
    mounts.push(app_overlay(plan)?);
    mounts.push(tmpfs("/tmp", &["nosuid", "nodev", "mode=1777", &format!("size={}", plan.memory_bytes)]));
    spec(plan, mounts)?.save(plan.dir.join("config.json"))?;
    Ok(())
}

fn spec(plan: &Plan, mounts: Vec<Mount>) -> Result<Spec, NativeError> {
    let user = UserBuilder::default().uid(plan.uid).gid(plan.uid).additional_gids(Vec::<u32>::new()).build()?;
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
        .args(plan.args.clone())
        .env(env)
        .cwd("/app")
        .no_new_privileges(true)
        .capabilities(capabilities)
        .rlimits(rlimits(plan)?)
        .build()?;
    let namespaces =
        [LinuxNamespaceType::Pid, LinuxNamespaceType::Mount, LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts]
            .into_iter()
            .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
            .collect::<Result<Vec<_>, _>>()?;
    let deny_devices = LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build()?;
    let mut resources = LinuxResourcesBuilder::default().devices(vec![deny_devices]);
    if plan.cgroups_path.is_some() {
        // The memory limit is on the parent cgroup paas made (see `cgroup.rs`); runc's own must
        // not be lower, or the kill would be counted in a cgroup that vanishes with the dyno.
        resources = resources
            .pids(LinuxPidsBuilder::default().limit(i64::from(plan.processes)).build()?)
            .memory(LinuxMemoryBuilder::default().build()?);
    }
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources.build()?)
        .seccomp(seccomp::profile()?)
        .masked_paths(oci_spec::runtime::get_default_maskedpaths())
        .readonly_paths(oci_spec::runtime::get_default_readonly_paths());
    if let Some(path) = &plan.cgroups_path {
        linux = linux.cgroups_path(PathBuf::from(path));
    }
    let mut spec = Spec::default();
    spec.set_hostname(Some(plan.hostname.to_string()))
        .set_process(Some(process))
        .set_root(Some(RootBuilder::default().path("rootfs").readonly(true).build()?))
        .set_mounts(Some(mounts))
        .set_linux(Some(linux.build()?))
        .set_annotations(None);
    Ok(spec)
}

/// Open files always; without cgroups, processes too (RLIMIT_NPROC counts the processes of the
/// dyno's uid, which no other dyno shares). The memory fallback (RLIMIT_DATA) is set by the
/// dyno's shell instead: runc's own init, written in Go, cannot start under a small one.
fn rlimits(plan: &Plan) -> Result<Vec<PosixRlimit>, NativeError> {
    let limit = |typ, value: u64| PosixRlimitBuilder::default().typ(typ).hard(value).soft(value).build();
    let mut limits = vec![limit(PosixRlimitType::RlimitNofile, 10_000)?];
    if plan.cgroups_path.is_none() {
        limits.push(limit(PosixRlimitType::RlimitNproc, u64::from(plan.processes))?);
    }
    Ok(limits)
}

/// `/proc`, `/dev` (tmpfs; runc adds null, zero, full, random, urandom, tty), `/dev/pts`,
/// `/dev/shm`, `/dev/mqueue`: runc's defaults without `/sys`.
fn base_mounts() -> Vec<Mount> {
    let keep: HashSet<&str> = ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"].into();
    get_default_mounts().into_iter().filter(|m| m.destination().to_str().is_some_and(|d| keep.contains(d))).collect()
}

/// `/app`: the slug's directory as the lower layer of an overlay whose upper layer (owned by the
/// dyno's user) lives in the bundle.
fn app_overlay(plan: &Plan) -> Result<Mount, NativeError> {
    let layers = plan.dir.join("app");
    let (upper, work, empty) = (layers.join("upper"), layers.join("work"), layers.join("empty"));
    for dir in [&upper, &work, &empty] {
        mkdir(dir)?;
    }
    std::os::unix::fs::chown(&upper, Some(plan.uid), Some(plan.uid)).map_err(io(&upper))?;
    let lower = plan.app_dir.unwrap_or(&empty);
    for dir in [lower, upper.as_path(), work.as_path()] {
        if dir.to_string_lossy().contains([',', ':']) {
            return Err(NativeError::Spec(format!(
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
    Ok(MountBuilder::default().destination("/app").typ("overlay").source("overlay").options(options).build()?)
}

fn bind(destination: &str, source: &Path) -> Mount {
    let options = ["rbind", "ro", "nosuid", "nodev"].map(String::from).to_vec();
    let mut mount = Mount::default();
    mount
        .set_destination(PathBuf::from(destination))
        .set_typ(Some("bind".into()))
        .set_source(Some(source.into()))
        .set_options(Some(options));
    mount
}

fn tmpfs(destination: &str, options: &[&str]) -> Mount {
    let mut mount = Mount::default();
    mount
        .set_destination(PathBuf::from(destination))
        .set_typ(Some("tmpfs".into()))
        .set_source(Some("tmpfs".into()))
        .set_options(Some(options.iter().map(|o| o.to_string()).collect()));
    mount
}

/// Copies one `/etc` file (following links), or recreates a link that points into `/usr`.
fn copy_etc(host: &Path, into: &Path) -> Result<(), NativeError> {
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

/// `/etc/passwd`: root, the dyno's user (home `/app`), nobody.
fn passwd(uid: u32) -> String {
    format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\ndyno:x:{uid}:{uid}:dyno:/app:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
}

fn group(uid: u32) -> String {
    format!("root:x:0:\ndyno:x:{uid}:\nnogroup:x:65534:\n")
}

fn mkdir(dir: &Path) -> Result<(), NativeError> {
    std::fs::create_dir_all(dir).map_err(io(dir))
}

fn symlink(target: &Path, link: &Path) -> Result<(), NativeError> {
    std::os::unix::fs::symlink(target, link).map_err(io(link))
}

fn write_file(path: &Path, text: &str) -> Result<(), NativeError> {
    std::fs::write(path, text).map_err(io(path))
}
