//! Giving back the memory that only start-up needed.
//!
//! Start-up runs code that an idle server never runs again: configuration,
//! the vault's Argon2id, migrations, the doctor, building the router. The
//! kernel maps the binary's code in 64 KiB runs around each page touched
//! ("fault-around"), so by the time the server listens about 20 MiB of a
//! 30 MB binary is resident, nearly all of it cold. Likewise the allocator
//! keeps freed start-up buffers in its arenas.
//!
//! [`release_start_up_pages`] unmaps the binary's *executable* pages from
//! this process (they stay in the page cache and come back as minor faults
//! the next time they run) and asks glibc to return free heap pages. It owns
//! nothing else and must never touch a writable mapping, a mapping of
//! another file, or read-only data (relocated pointers live beside it, in
//! pages the loader wrote): only `r-xp` mappings of our own executable.

use std::os::unix::fs::MetadataExt;

/// What was released, for the log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Bytes of our executable's code mappings whose pages were dropped.
    pub code_bytes: usize,
    /// Whether the allocator gave any memory back.
    pub heap_trimmed: bool,
    /// Resident set before and after, in KiB (0 if unreadable).
    pub rss_kib_before: u64,
    pub rss_kib_after: u64,
}

/// A code mapping of the running executable: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: usize,
    end: usize,
}

/// The `r-xp` mappings of the file with inode `ino` in `/proc/self/maps`
/// text. Anything unparsable is skipped: this is an optimisation, and a line
/// we do not understand is a line we leave alone.
fn own_code_ranges(maps: &str, ino: u64) -> Vec<Range> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_ascii_whitespace();
            let (range, perms, _offset, _dev, inode) =
                (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            if perms != "r-xp" || inode.parse::<u64>().ok()? != ino {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then_some(Range { start, end })
        })
        .collect()
}

/// Drops the resident pages of our own code and trims the heap. Call once,
/// when start-up is over and before serving; safe to call from any thread.
pub fn release_start_up_pages() -> Released {
    let mut released = Released {
        rss_kib_before: rss_kib(),
        heap_trimmed: trim_heap(),
        ..Released::default()
    };
    if let (Ok(exe), Ok(maps)) = (
        std::fs::metadata("/proc/self/exe"),
        std::fs::read_to_string("/proc/self/maps"),
    ) {
        for r in own_code_ranges(&maps, exe.ino()) {
            if drop_code_pages(r) {
                released.code_bytes += r.end - r.start;
            }
        }
    }
    released.rss_kib_after = rss_kib();
    released
}

/// `VmRSS` from `/proc/self/status`, in KiB; 0 if unreadable.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn drop_code_pages(r: Range) -> bool {
    // SAFETY: `r` is, per /proc/self/maps, a private read-only executable
    // mapping of the file we are running, so no memory in it was ever
    // written by this process: the loader relocates only writable and RELRO
    // pages, which are never `r-x`. MADV_DONTNEED on such a mapping discards
    // nothing but page-table entries; every later access, from any thread,
    // faults the same bytes back in from the file. The file cannot change
    // under us, since the kernel refuses to open a running executable for
    // writing (ETXTBSY) and a replacement by rename is a new inode. No Rust
    // object lives in the range, and the pointer is not dereferenced here.
    unsafe {
        libc::madvise(
            r.start as *mut libc::c_void,
            r.end - r.start,
            libc::MADV_DONTNEED,
        ) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn drop_code_pages(_: Range) -> bool {
    false
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim_heap() -> bool {
    // SAFETY: `malloc_trim` only releases free memory held by glibc's
    // arenas; allocated blocks are untouched, and glibc locks each arena
    // while trimming it, so other threads may allocate meanwhile.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
5581a000-5581b000 r--p 00000000 fd:01 4242 /usr/bin/hardshell
5581b000-5581f000 r-xp 00001000 fd:01 4242 /usr/bin/hardshell
5581f000-55820000 r--p 00005000 fd:01 4242 /usr/bin/hardshell
55820000-55821000 rw-p 00006000 fd:01 4242 /usr/bin/hardshell
7f00000-7f10000 r-xp 00000000 fd:01 777 /usr/lib/libc.so.6
7f20000-7f30000 rwxp 00000000 00:00 0
garbage line
7f40000-7f3f000 r-xp 00000000 fd:01 4242 /usr/bin/hardshell
";

    #[test]
    fn only_our_executable_code_is_chosen() {
        assert_eq!(
            own_code_ranges(MAPS, 4242),
            vec![Range {
                start: 0x5581b000,
                end: 0x5581f000
            }]
        );
        assert!(own_code_ranges(MAPS, 1).is_empty());
    }

    #[test]
    fn the_process_keeps_running_after_its_code_is_released() {
        let released = release_start_up_pages();
        // The test binary has code; it must have found and dropped it.
        assert!(released.code_bytes > 0, "{released:?}");
        assert!(released.rss_kib_before > 0, "{released:?}");
        // Code from all over the binary still runs correctly afterwards.
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(v.iter().sum::<u64>(), 500_500);
        assert_eq!(format!("{:x}", 0xdead_beef_u32), "deadbeef");
        let t = std::thread::spawn(|| serde_json::json!({"ok": true}).to_string());
        assert_eq!(t.join().ok().as_deref(), Some(r#"{"ok":true}"#));
    }
}
