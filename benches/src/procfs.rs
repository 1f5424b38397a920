//! What the harness reads about a server process from `/proc`: CPU time used so
//! far, time spent runnable but waiting for a CPU, and peak resident memory.

use std::time::Duration;

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on Linux).
fn ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

/// User plus system CPU time the process has used so far (utime + stime).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = ticks_per_second();
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks as f64,
    ))
}

/// A process's CPU time and run-queue wait so far, or over a window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    /// User plus system CPU time.
    pub(crate) cpu: Duration,
    /// Time its threads were runnable but waited for a CPU (schedstat's second
    /// field, summed over threads): how much other work on the core held it back.
    pub(crate) waited: Duration,
}

impl Usage {
    /// What was used between `before` and `self`.
    pub(crate) fn since(self, before: Usage) -> Usage {
        Usage {
            cpu: self.cpu.saturating_sub(before.cpu),
            waited: self.waited.saturating_sub(before.waited),
        }
    }

    /// CPU seconds per million of `count` calls or messages; `None` for none.
    pub(crate) fn cpu_per_million(&self, count: u64) -> Option<f64> {
        (count > 0).then(|| self.cpu.as_secs_f64() / count as f64 * 1e6)
    }
}

/// CPU time and run-queue wait so far.
pub(crate) fn usage(pid: u32) -> Option<Usage> {
    Some(Usage {
        cpu: cpu_time(pid)?,
        waited: run_queue_wait(pid).unwrap_or_default(),
    })
}

/// Time the process's threads spent waiting on a run queue (`/proc/<pid>/task/*/schedstat`).
fn run_queue_wait(pid: u32) -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(task) = task else { continue };
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .nth(1)
            .and_then(|ns| ns.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(Duration::from_nanos(total))
}

/// Peak resident set size in KiB (`VmHWM` in `/proc/<pid>/status`).
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}
