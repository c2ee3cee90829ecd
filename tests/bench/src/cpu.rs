//! Where the CPU went during a measured stretch: this process (the server
//! or the worker under test, in-process) and every PostgreSQL process on
//! the machine, read from `/proc`. Two cores are all these machines have,
//! so "both busy" and "half idle" tell a CPU limit from a wait.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Linux reports `/proc/*/stat` times in USER_HZ, 100 per second on every
/// architecture it builds for.
const TICKS_PER_SECOND: f64 = 100.0;

pub struct CpuMark {
    at: Instant,
    own: u64,
    /// Ticks per PostgreSQL process: a backend that exits during the
    /// stretch (pgbench's, between rounds) must leave the sum on both sides.
    postgres: HashMap<String, u64>,
}

/// Cores kept busy on average over the stretch (2.0 is both of them).
#[derive(Clone, Copy, Debug)]
pub struct CpuSplit {
    pub wall: Duration,
    pub own_cores: f64,
    pub postgres_cores: f64,
}

impl CpuMark {
    pub fn now() -> Self {
        Self {
            at: Instant::now(),
            own: ticks_of(&std::process::id().to_string()).unwrap_or(0),
            postgres: postgres_ticks(),
        }
    }

    pub fn split(&self) -> CpuSplit {
        let wall = self.at.elapsed();
        let secs = wall.as_secs_f64().max(1e-9);
        let own = ticks_of(&std::process::id().to_string()).unwrap_or(0);
        let cores = |ticks: u64| ticks as f64 / TICKS_PER_SECOND / secs;
        // A process started during the stretch counts from zero.
        let postgres: u64 = postgres_ticks()
            .into_iter()
            .map(|(pid, now)| now.saturating_sub(self.postgres.get(&pid).copied().unwrap_or(0)))
            .sum();
        CpuSplit {
            wall,
            own_cores: cores(own.saturating_sub(self.own)),
            postgres_cores: cores(postgres),
        }
    }
}

impl CpuSplit {
    /// Microseconds of CPU per item done in the stretch, for this process
    /// and for PostgreSQL.
    pub fn us_per(&self, items: usize) -> (f64, f64) {
        let per = |cores: f64| cores * self.wall.as_secs_f64() * 1e6 / items.max(1) as f64;
        (per(self.own_cores), per(self.postgres_cores))
    }
}

/// User and system time of one process, in ticks.
fn ticks_of(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the rest follows its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15; this slice starts at field 3.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Every `postgres` process's ticks (the postmaster, backends, background
/// workers), by process id.
fn postgres_ticks() -> HashMap<String, u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "postgres")
        })
        .filter_map(|pid| ticks_of(&pid).map(|t| (pid, t)))
        .collect()
}
