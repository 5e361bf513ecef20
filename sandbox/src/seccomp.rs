//! The seccomp profile of native dynos: every system call is allowed except a deny list modelled
//! on Docker's default profile (mounting, tracing other processes, loading kernel code, keys,
//! namespaces, clocks, swap, reboot…), which fail with `EPERM` as they would for an unprivileged
//! process. `clone3` answers `ENOSYS` so that libc falls back to `clone`, whose
//! `CLONE_NEWUSER` flag is refused.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator,
    LinuxSyscall, LinuxSyscallBuilder,
};

use crate::SandboxError;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
const CLONE_NEWUSER: u64 = 0x1000_0000;

/// System calls a dyno may not make (names unknown to an architecture are ignored by runc).
pub(crate) const DENIED: &[&str] = &[
    // Filesystems and mounts.
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "quotactl",
    "quotactl_fd",
    "open_by_handle_at",
    "name_to_handle_at",
    // Namespaces.
    "unshare",
    "setns",
    // Other processes' memory.
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    // Kernel code and kernel facilities.
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "bpf",
    "perf_event_open",
    "lookup_dcookie",
    "uselib",
    "nfsservctl",
    "userfaultfd",
    "fanotify_init",
    "syslog",
    "acct",
    "iopl",
    "ioperm",
    "vhangup",
    // Keys.
    "keyctl",
    "add_key",
    "request_key",
    // The machine: clocks, swap, reboot, names.
    "reboot",
    "swapon",
    "swapoff",
    "settimeofday",
    "stime",
    "clock_settime",
    "clock_settime64",
    "clock_adjtime",
    "clock_adjtime64",
    "adjtimex",
    "sethostname",
    "setdomainname",
];

/// The profile written into each bundle's `config.json`.
pub(crate) fn profile() -> Result<LinuxSeccomp, SandboxError> {
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let deny: LinuxSyscall = LinuxSyscallBuilder::default()
        .names(names(DENIED))
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(EPERM)
        .build()?;
    let clone3 = LinuxSyscallBuilder::default()
        .names(names(&["clone3"]))
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(ENOSYS)
        .build()?;
    let new_user_namespace = LinuxSeccompArgBuilder::default()
        .index(0usize)
        .value(CLONE_NEWUSER)
        .value_two(CLONE_NEWUSER)
        .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
        .build()?;
    let clone_newuser = LinuxSyscallBuilder::default()
        .names(names(&["clone"]))
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(EPERM)
        .args(vec![new_user_namespace])
        .build()?;
    Ok(LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .architectures(architectures())
        .syscalls(vec![deny, clone3, clone_newuser])
        .build()?)
}

/// The native architecture and the 32-bit ones its kernel also runs (a filter for the native
/// one alone would let a 32-bit binary make the denied calls).
fn architectures() -> Vec<Arch> {
    match std::env::consts::ARCH {
        "x86_64" => vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32],
        "aarch64" => vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm],
        _ => vec![Arch::ScmpArchNative],
    }
}
