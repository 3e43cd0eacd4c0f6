//! Giving back the memory that only start-up needed.
//!
//! Start-up runs code that an idle server never runs again: configuration,
//! the vault's Argon2id, migrations, the doctor, building the router, the
//! first round of every background task. The kernel maps the binary in
//! 64 KiB runs around each page touched ("fault-around"), so a settled
//! server kept about 14 MiB of a 30 MB binary resident, mostly cold, and
//! the allocator kept start-up's freed buffers in its arenas.
//!
//! [`release_start_up_pages`] unmaps the binary's clean pages from this
//! process (they stay in the page cache and come back as minor faults when
//! next used) and asks glibc to return free heap pages. A burst of work
//! pages code back in the same way, so `serve` calls it again once the
//! server has gone quiet after requests ([`QuietWatch`]). It owns nothing
//! else and must never touch a writable mapping, a mapping of another file,
//! or a read-only mapping with a written page (the loader's relocations):
//! only private `r-xp`/`r--p` mappings of our own executable that are
//! byte-for-byte the file.

use std::os::unix::fs::MetadataExt;

/// What was released, for the log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Bytes of our executable's clean mappings whose pages were dropped.
    pub mapped_bytes: usize,
    /// Whether the allocator gave any memory back.
    pub heap_trimmed: bool,
    /// Resident set before and after, in KiB (0 if unreadable).
    pub rss_kib_before: u64,
    pub rss_kib_after: u64,
}

/// A read-only mapping of the running executable: `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: usize,
    end: usize,
}

/// The mappings of the file with inode `ino` in `/proc/self/smaps` text
/// that are private, not writable, and hold no anonymous page: code
/// (`r-xp`) and read-only data (`r--p`) exactly as the file has them. The
/// loader's relocated pointers (RELRO) are also `r--p`, but their pages were
/// written, so they count as anonymous and are left alone. Anything
/// unparsable is skipped: this is an optimisation, and a mapping we do not
/// understand is one we leave alone.
fn clean_ranges_of(smaps: &str, ino: u64) -> Vec<Range> {
    let mut out = Vec::new();
    // The mapping being read, and whether it qualifies so far.
    let mut current: Option<Range> = None;
    for line in smaps.lines() {
        if let Some(anon) = line.strip_prefix("Anonymous:") {
            let clean = anon.trim().trim_end_matches("kB").trim() == "0";
            if let Some(r) = current.take().filter(|_| clean) {
                out.push(r);
            }
            continue;
        }
        let mut f = line.split_ascii_whitespace();
        let (Some(range), Some(perms), Some(_offset), Some(_dev), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // Header lines are the only ones whose second field is a mode.
        if perms.len() != 4 || !range.contains('-') {
            continue;
        }
        current = None;
        if !matches!(perms, "r-xp" | "r--p") || inode.parse::<u64>().ok() != Some(ino) {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        if let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) {
            current = (end > start).then_some(Range { start, end });
        }
    }
    out
}

/// Drops the resident pages of our own code and trims the heap. Call when
/// start-up is over, and again when a burst of work is over; safe to call
/// from any thread, and while other threads run that code (a dropped page
/// faults back in, byte for byte the file).
pub fn release_start_up_pages() -> Released {
    let mut released = Released {
        rss_kib_before: rss_kib(),
        heap_trimmed: trim_heap(),
        ..Released::default()
    };
    if let (Ok(exe), Ok(smaps)) = (
        std::fs::metadata("/proc/self/exe"),
        std::fs::read_to_string("/proc/self/smaps"),
    ) {
        for r in clean_ranges_of(&smaps, exe.ino()) {
            if drop_clean_pages(r) {
                released.mapped_bytes += r.end - r.start;
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

/// Returns the allocator's free pages to the OS: glibc keeps freed
/// buffers in its arenas for good. With the arenas capped
/// ([`cap_malloc_arenas`]) and idle blocking threads expiring, a server
/// came back to within 1.2–1.7 MiB of its idle anonymous memory 10 s
/// after a 10 s read load (`bench/RESULTS.md`, read path, session 11).
pub fn release_free_heap() -> bool {
    trim_heap()
}

/// HTTP requests seen by the edge since start; only [`QuietWatch`] reads it.
static REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts one request (one relaxed add: the edge calls it for each).
pub fn note_request() {
    REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// What the periodic give-back should do at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Requests arrived since the last tick: leave memory alone (the work
    /// would only page back in).
    Busy,
    /// The first tick with no request after some: drop code pages and
    /// trim the heap again.
    WentQuiet,
    /// Still quiet: nothing new to give back.
    Idle,
}

/// Decides, tick by tick, when a burst of requests is over.
#[derive(Debug, Default)]
pub struct QuietWatch {
    last: u64,
    busy_since_release: bool,
}

impl QuietWatch {
    pub fn tick(&mut self) -> Tick {
        self.observe(REQUESTS.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn observe(&mut self, seen: u64) -> Tick {
        let moved = seen != self.last;
        self.last = seen;
        if moved {
            self.busy_since_release = true;
            Tick::Busy
        } else if std::mem::take(&mut self.busy_since_release) {
            Tick::WentQuiet
        } else {
            Tick::Idle
        }
    }
}

/// How long an idle blocking-pool thread lives (tokio's default is 10 s).
/// Thread start-up costs tens of µs; a steady load keeps its threads busy,
/// so only a burst's extra threads go, and sooner.
pub const BLOCKING_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(2);

/// glibc's arenas for the whole process. glibc otherwise makes up to eight
/// per core as threads contend, and each keeps its own free chunks: after
/// a 10 s read load a server held 16 arenas with 6.7 MB free in 1,557
/// chunks, too fragmented for `malloc_trim` to return. Two suit the two
/// async workers; the blocking pool's threads share them.
pub const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`MALLOC_ARENAS`]. Call first thing in
/// `main`, before any thread starts; a no-op elsewhere. An explicit
/// `GLIBC_TUNABLES=glibc.malloc.arena_max=…` still wins.
pub fn cap_malloc_arenas() -> bool {
    if std::env::var_os("GLIBC_TUNABLES").is_some_and(|t| t.to_string_lossy().contains("arena_max"))
    {
        return false;
    }
    set_arena_max(MALLOC_ARENAS)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_arena_max(n: i32) -> bool {
    // SAFETY: `mallopt` only changes an allocator setting; it takes
    // glibc's own lock and touches no memory of ours.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, n) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_: i32) -> bool {
    false
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn drop_clean_pages(r: Range) -> bool {
    // SAFETY: `r` is, per /proc/self/smaps read just now, a private,
    // non-writable mapping of the file we are running with no anonymous
    // page: no byte of it differs from the file. It cannot gain one since:
    // writing needs `mprotect`, which nothing here calls after the loader's
    // RELRO step (done before `main`, with `-z now`), and the main
    // executable's mappings are never unmapped or replaced while it runs.
    // MADV_DONTNEED on such a mapping discards only page-table entries;
    // every later access, from any thread, faults the same bytes back in
    // from the file. The file cannot change under us: the kernel refuses to
    // open a running executable for writing (ETXTBSY), and a replacement by
    // rename is a new inode. The pointer is not dereferenced here.
    unsafe {
        libc::madvise(
            r.start as *mut libc::c_void,
            r.end - r.start,
            libc::MADV_DONTNEED,
        ) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn drop_clean_pages(_: Range) -> bool {
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

    #[test]
    fn memory_goes_back_once_per_quiet_spell_after_requests() {
        let mut w = QuietWatch::default();
        assert_eq!(w.observe(0), Tick::Idle, "nothing happened yet");
        assert_eq!(w.observe(5), Tick::Busy);
        assert_eq!(w.observe(9), Tick::Busy);
        assert_eq!(w.observe(9), Tick::WentQuiet);
        assert_eq!(w.observe(9), Tick::Idle, "only once per quiet spell");
        assert_eq!(w.observe(9), Tick::Idle);
        assert_eq!(w.observe(10), Tick::Busy);
        assert_eq!(w.observe(10), Tick::WentQuiet);
    }

    const SMAPS: &str = "\
5581a000-5581b000 r--p 00000000 fd:01 4242 /usr/bin/hardshell
Rss:                   4 kB
Anonymous:             0 kB
5581b000-5581f000 r-xp 00001000 fd:01 4242 /usr/bin/hardshell
Rss:                  16 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
5581f000-55820000 r--p 00005000 fd:01 4242 /usr/bin/hardshell
Anonymous:             4 kB
55820000-55821000 rw-p 00006000 fd:01 4242 /usr/bin/hardshell
Anonymous:             0 kB
7f00000-7f10000 r-xp 00000000 fd:01 777 /usr/lib/libc.so.6
Anonymous:             0 kB
7f20000-7f30000 r--p 00000000 00:00 0
Anonymous:             0 kB
garbage line
7f40000-7f3f000 r-xp 00000000 fd:01 4242 /usr/bin/hardshell
Anonymous:             0 kB
7f50000-7f60000 r-xp 00000000 fd:01 4242 /usr/bin/hardshell
";

    #[test]
    fn only_clean_read_only_mappings_of_our_executable_are_chosen() {
        let r = |start, end| Range { start, end };
        assert_eq!(
            clean_ranges_of(SMAPS, 4242),
            // Not: the relocated r--p (anonymous pages), the writable
            // data, libc, an anonymous mapping, an empty range, and a
            // mapping whose Anonymous line never came.
            vec![r(0x5581a000, 0x5581b000), r(0x5581b000, 0x5581f000)]
        );
        assert!(clean_ranges_of(SMAPS, 1).is_empty());
    }

    #[test]
    fn the_process_keeps_running_after_its_code_is_released() {
        let released = release_start_up_pages();
        // The test binary has code; it must have found and dropped it.
        assert!(released.mapped_bytes > 0, "{released:?}");
        assert!(released.rss_kib_before > 0, "{released:?}");
        // Code from all over the binary still runs correctly afterwards.
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(v.iter().sum::<u64>(), 500_500);
        assert_eq!(format!("{:x}", 0xdead_beef_u32), "deadbeef");
        let t = std::thread::spawn(|| serde_json::json!({"ok": true}).to_string());
        assert_eq!(t.join().ok().as_deref(), Some(r#"{"ok":true}"#));
    }
}
