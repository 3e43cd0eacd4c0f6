//! A closed pipe ends a command quietly, as it does for `cat` or `ls`.
//!
//! Rust ignores SIGPIPE, so `hardshell users list | head -1` made every
//! `println!` after `head` exited panic with a backtrace (exit 101). Every
//! command except `serve` restores the default action: the process ends
//! at the first write to a closed pipe, silently, like the classic tools.
//! The server keeps ignoring SIGPIPE: a client that hangs up must never
//! stop it.

/// Restores the default SIGPIPE action for this process.
#[allow(unsafe_code)]
pub(super) fn restore_default() {
    // SAFETY: `signal` only changes this process's disposition for
    // SIGPIPE; SIG_DFL installs no handler, so no code of ours can run in
    // signal context, and changing a disposition is thread-safe (the
    // runtime's threads may already exist). The result is ignored on
    // purpose: SIG_ERR can only mean an invalid signal number, and SIGPIPE
    // is valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
