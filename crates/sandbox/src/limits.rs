//! Resource limits for one sandboxed run.
//!
//! Owns the default ceilings (256 MiB address space, 30 s CPU, 64 processes,
//! 16 MiB files, 30 s wall clock, 64 KiB per output stream). Limits can only
//! be lowered from these defaults: every setter takes the minimum of the
//! current value and the request, so no caller can raise a ceiling.

use std::time::Duration;

/// Default address-space limit (RLIMIT_AS).
pub const DEFAULT_MEMORY_BYTES: u64 = 256 * 1024 * 1024;
/// Default CPU-time limit (RLIMIT_CPU).
pub const DEFAULT_CPU_SECONDS: u64 = 30;
/// Default process limit (RLIMIT_NPROC, counted inside the sandbox's user namespace).
pub const DEFAULT_PROCESSES: u64 = 64;
/// Default file-size limit (RLIMIT_FSIZE).
pub const DEFAULT_FILE_SIZE_BYTES: u64 = 16 * 1024 * 1024;
/// Default open-file limit (RLIMIT_NOFILE).
pub const DEFAULT_OPEN_FILES: u64 = 256;
/// Default wall-clock limit for the whole process tree.
pub const DEFAULT_WALL_CLOCK: Duration = Duration::from_secs(30);
/// Default cap on each of stdout and stderr.
pub const DEFAULT_OUTPUT_BYTES: usize = 64 * 1024;
/// Default size of the private `/tmp` (tmpfs memory is not counted by RLIMIT_AS).
pub const DEFAULT_TMP_BYTES: u64 = 64 * 1024 * 1024;

/// Limits for one run. Start from [`Limits::default`] and lower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    memory_bytes: u64,
    cpu_seconds: u64,
    processes: u64,
    file_size_bytes: u64,
    open_files: u64,
    wall_clock: Duration,
    output_bytes: usize,
    tmp_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            cpu_seconds: DEFAULT_CPU_SECONDS,
            processes: DEFAULT_PROCESSES,
            file_size_bytes: DEFAULT_FILE_SIZE_BYTES,
            open_files: DEFAULT_OPEN_FILES,
            wall_clock: DEFAULT_WALL_CLOCK,
            output_bytes: DEFAULT_OUTPUT_BYTES,
            tmp_bytes: DEFAULT_TMP_BYTES,
        }
    }
}

impl Limits {
    /// Lowers the address-space limit (never below 1 MiB, never above the current value).
    #[must_use]
    pub fn lower_memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = self.memory_bytes.min(bytes.max(1024 * 1024));
        self
    }
    /// Lowers the CPU-time limit (at least 1 s).
    #[must_use]
    pub fn lower_cpu_seconds(mut self, seconds: u64) -> Self {
        self.cpu_seconds = self.cpu_seconds.min(seconds.max(1));
        self
    }
    /// Lowers the process limit (at least 1).
    #[must_use]
    pub fn lower_processes(mut self, processes: u64) -> Self {
        self.processes = self.processes.min(processes.max(1));
        self
    }
    /// Lowers the file-size limit.
    #[must_use]
    pub fn lower_file_size_bytes(mut self, bytes: u64) -> Self {
        self.file_size_bytes = self.file_size_bytes.min(bytes);
        self
    }
    /// Lowers the open-file limit (at least 16, so the shell itself can start).
    #[must_use]
    pub fn lower_open_files(mut self, files: u64) -> Self {
        self.open_files = self.open_files.min(files.max(16));
        self
    }
    /// Lowers the wall-clock limit (at least 100 ms).
    #[must_use]
    pub fn lower_wall_clock(mut self, wall: Duration) -> Self {
        self.wall_clock = self.wall_clock.min(wall.max(Duration::from_millis(100)));
        self
    }
    /// Lowers the cap on each output stream.
    #[must_use]
    pub fn lower_output_bytes(mut self, bytes: usize) -> Self {
        self.output_bytes = self.output_bytes.min(bytes);
        self
    }
    /// Lowers the size of the private `/tmp` (at least 1 MiB).
    #[must_use]
    pub fn lower_tmp_bytes(mut self, bytes: u64) -> Self {
        self.tmp_bytes = self.tmp_bytes.min(bytes.max(1024 * 1024));
        self
    }

    /// Address-space limit in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_bytes
    }
    /// CPU-time limit in seconds.
    pub fn cpu_seconds(&self) -> u64 {
        self.cpu_seconds
    }
    /// Process limit.
    pub fn processes(&self) -> u64 {
        self.processes
    }
    /// File-size limit in bytes.
    pub fn file_size_bytes(&self) -> u64 {
        self.file_size_bytes
    }
    /// Open-file limit.
    pub fn open_files(&self) -> u64 {
        self.open_files
    }
    /// Wall-clock limit for the whole tree.
    pub fn wall_clock(&self) -> Duration {
        self.wall_clock
    }
    /// Cap on each output stream, in bytes.
    pub fn output_bytes(&self) -> usize {
        self.output_bytes
    }
    /// Size of the private `/tmp`, in bytes.
    pub fn tmp_bytes(&self) -> u64 {
        self.tmp_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_can_only_be_lowered() {
        let raised = Limits::default()
            .lower_memory_bytes(u64::MAX)
            .lower_cpu_seconds(10_000)
            .lower_processes(100_000)
            .lower_file_size_bytes(u64::MAX)
            .lower_open_files(1 << 20)
            .lower_wall_clock(Duration::from_secs(3600))
            .lower_output_bytes(usize::MAX)
            .lower_tmp_bytes(u64::MAX);
        assert_eq!(raised, Limits::default());

        let lowered = Limits::default()
            .lower_memory_bytes(64 << 20)
            .lower_processes(8)
            .lower_wall_clock(Duration::from_secs(2));
        assert_eq!(lowered.memory_bytes(), 64 << 20);
        assert_eq!(lowered.processes(), 8);
        assert_eq!(lowered.wall_clock(), Duration::from_secs(2));
        // Lowering twice keeps the lower value.
        assert_eq!(lowered.lower_processes(32).processes(), 8);
    }

    #[test]
    fn floors_keep_a_run_possible() {
        let l = Limits::default().lower_cpu_seconds(0).lower_processes(0);
        assert_eq!(l.cpu_seconds(), 1);
        assert_eq!(l.processes(), 1);
    }
}
