//! Inherited file descriptors in the helper.
//!
//! Owns the only `unsafe` in the crate: borrowing a raw fd number that the
//! helper inherited across `execve` (the status pipe, and whatever else a
//! careless parent leaked). It must never close or wrap an fd that some
//! Rust object owns: it only reads `/proc/self/fd`, sets `FD_CLOEXEC` and
//! writes to the status fd, in the single-threaded helper before exec.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

use rustix::io::{FdFlags, fcntl_getfd, fcntl_setfd};

/// Runs `f` on a borrowed inherited fd.
#[allow(unsafe_code)]
fn with_inherited<T>(fd: RawFd, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<T>) -> io::Result<T> {
    if fd < 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: the borrow lives only for `f`. The helper is single-threaded
    // and owns no Rust object for fds above 2 (std's stdio is 0-2, and the
    // `/proc/self/fd` iterator is dropped before this runs), so nothing can
    // close or reuse `fd` while it is borrowed. If `fd` is not open, the
    // syscalls in `f` fail with EBADF; no memory is touched.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    f(borrowed)
}

/// Writes all of `bytes` to an inherited fd.
pub(crate) fn write_inherited(fd: RawFd, bytes: &[u8]) -> io::Result<()> {
    with_inherited(fd, |fd| {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rustix::io::write(fd, rest)?;
            if n == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero));
            }
            rest = &rest[n..];
        }
        Ok(())
    })
}

/// Marks every fd above 2 close-on-exec, so the command inherits only
/// stdin, stdout and stderr (the status fd closes at exec, which tells the
/// parent the exec happened).
pub(crate) fn close_inherited_on_exec() -> io::Result<()> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let name = entry?.file_name();
        if let Some(n) = name.to_str().and_then(|s| s.parse::<RawFd>().ok()) {
            numbers.push(n);
        }
    }
    for fd in numbers.into_iter().filter(|&fd| fd > 2) {
        let result = with_inherited(fd, |b| {
            let flags = fcntl_getfd(b)?;
            fcntl_setfd(b, flags | FdFlags::CLOEXEC)?;
            Ok(())
        });
        match result {
            // The directory iterator's own fd is closed by now.
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {}
            other => other?,
        }
    }
    Ok(())
}
