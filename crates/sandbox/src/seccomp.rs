//! The seccomp layer applied by the helper.
//!
//! Owns the deny list: kernel attack surface a shell command never needs
//! (io_uring, ptrace, bpf, keyrings, mounts, namespaces, module loading,
//! terminal injection) and every socket family except AF_UNIX. Denied calls
//! fail with EPERM so programs fail cleanly; `clone3` fails with ENOSYS so
//! libc falls back to `clone`, whose flags the filter can inspect. It must
//! never allow a call on another architecture or through the x32 ABI.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen as Len, SeccompCmpOp as Op, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch, sock_filter,
};

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// Calls denied whatever their arguments.
fn always_denied() -> Vec<i64> {
    let mut calls = vec![
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_process_madvise,
        libc::SYS_pidfd_getfd,
        libc::SYS_kcmp,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_keyctl,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_open_tree,
        libc::SYS_move_mount,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_open_by_handle_at,
        libc::SYS_acct,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_reboot,
        libc::SYS_quotactl,
    ];
    #[cfg(target_arch = "x86_64")]
    calls.extend([libc::SYS_iopl, libc::SYS_ioperm]);
    calls
}

fn condition(arg: u8, len: Len, op: Op, value: u64) -> Result<SeccompCondition, String> {
    SeccompCondition::new(arg, len, op, value).map_err(|e| e.to_string())
}

fn one(cond: SeccompCondition) -> Result<SeccompRule, String> {
    SeccompRule::new(vec![cond]).map_err(|e| e.to_string())
}

/// The EPERM filter: the deny list plus argument rules.
fn eperm_filter() -> Result<SeccompFilter, String> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for call in always_denied() {
        // An empty rule list matches every call of that number.
        rules.insert(call, Vec::new());
    }
    // Terminal injection: the command is cast as u32 by the kernel, so
    // compare the low 32 bits only.
    rules.insert(
        libc::SYS_ioctl,
        vec![
            one(condition(1, Len::Dword, Op::Eq, libc::TIOCSTI)?)?,
            one(condition(1, Len::Dword, Op::Eq, libc::TIOCLINUX)?)?,
        ],
    );
    // Sockets: AF_UNIX only (the network namespace is empty anyway).
    let not_unix = || condition(0, Len::Dword, Op::Ne, libc::AF_UNIX as u64);
    rules.insert(libc::SYS_socket, vec![one(not_unix()?)?]);
    rules.insert(libc::SYS_socketpair, vec![one(not_unix()?)?]);
    // New namespaces through clone(2) flags, the back door around unshare.
    let namespace_flags = [
        libc::CLONE_NEWNS,
        libc::CLONE_NEWCGROUP,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
    ];
    let mut clone_rules = Vec::new();
    for flag in namespace_flags {
        let flag = flag as u64;
        clone_rules.push(one(condition(0, Len::Dword, Op::MaskedEq(flag), flag)?)?);
    }
    rules.insert(libc::SYS_clone, clone_rules);
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )
    .map_err(|e| e.to_string())
}

/// `clone3` passes its flags in memory the filter cannot read: ENOSYS makes
/// libc fall back to `clone`.
fn clone3_filter() -> Result<SeccompFilter, String> {
    let mut rules = BTreeMap::new();
    rules.insert(libc::SYS_clone3, Vec::new());
    SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        ARCH,
    )
    .map_err(|e| e.to_string())
}

/// x86_64 kernels may accept x32 calls (number | 0x4000_0000) under the
/// same audit arch; those numbers would slip past every rule above.
#[cfg(target_arch = "x86_64")]
fn x32_guard() -> BpfProgram {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const JGE_K: u16 = 0x35;
    const RET_K: u16 = 0x06;
    const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let deny = libc::SECCOMP_RET_ERRNO | (libc::EPERM as u32);
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    vec![
        op(LD_W_ABS, 0, 0, 4),              // arch
        op(JEQ_K, 0, 3, AUDIT_ARCH_X86_64), // other arch: deny
        op(LD_W_ABS, 0, 0, 0),              // syscall number
        op(JGE_K, 1, 0, X32_SYSCALL_BIT),   // x32: deny
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
        op(RET_K, 0, 0, deny),
    ]
}

/// All programs, in the order they are installed.
pub(crate) fn programs() -> Result<Vec<BpfProgram>, String> {
    let mut programs = Vec::new();
    #[cfg(target_arch = "x86_64")]
    programs.push(x32_guard());
    for filter in [eperm_filter()?, clone3_filter()?] {
        programs.push(BpfProgram::try_from(filter).map_err(|e| e.to_string())?);
    }
    Ok(programs)
}

/// Installs every program on this thread (and what it executes).
pub(crate) fn apply() -> Result<(), String> {
    for program in programs()? {
        seccompiler::apply_filter(&program).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_for_this_architecture() {
        let programs = programs().unwrap();
        assert!(programs.len() >= 2);
        assert!(programs.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn deny_list_covers_the_required_calls() {
        let denied = always_denied();
        for call in [
            libc::SYS_io_uring_setup,
            libc::SYS_ptrace,
            libc::SYS_bpf,
            libc::SYS_keyctl,
            libc::SYS_mount,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_kexec_load,
            libc::SYS_finit_module,
        ] {
            assert!(denied.contains(&call), "{call} not denied");
        }
    }
}
