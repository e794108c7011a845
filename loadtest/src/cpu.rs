//! CPU time of a process from /proc (utime + stime), and the machine's load average.

use std::time::Duration;

use anyhow::{Context, bail};

/// Which process.
#[derive(Clone, Copy, Debug)]
pub enum Process {
    /// This one.
    Own,
    /// The calling thread of this process.
    OwnThread,
    /// Another, by id.
    Pid(u32),
}

/// CPU time of a process, split as the kernel accounts it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTime {
    /// In user space (utime).
    pub user: Duration,
    /// In the kernel on the process's behalf (stime): system calls such as fsync, writes, sockets.
    pub system: Duration,
}

impl CpuTime {
    /// User + system.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// The time spent since `earlier`.
    pub fn since(&self, earlier: CpuTime) -> CpuTime {
        CpuTime { user: self.user.saturating_sub(earlier.user), system: self.system.saturating_sub(earlier.system) }
    }
}

/// Reads /proc/PID/stat and converts clock ticks to time.
#[derive(Clone, Copy, Debug)]
pub struct CpuClock {
    ticks_per_second: u64,
}

impl CpuClock {
    /// Asks `getconf CLK_TCK` for the clock-tick rate (no `unsafe` sysconf call).
    pub fn new() -> anyhow::Result<CpuClock> {
        let output =
            std::process::Command::new("getconf").arg("CLK_TCK").output().context("cannot run getconf CLK_TCK")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let ticks_per_second: u64 =
            text.trim().parse().with_context(|| format!("getconf CLK_TCK printed {:?}", text.trim()))?;
        if ticks_per_second == 0 {
            bail!("getconf CLK_TCK printed 0");
        }
        Ok(CpuClock { ticks_per_second })
    }

    /// The process's CPU time so far (all its threads).
    pub fn read(&self, process: Process) -> anyhow::Result<CpuTime> {
        let path = match process {
            Process::Own => "/proc/self/stat".to_owned(),
            Process::OwnThread => "/proc/thread-self/stat".to_owned(),
            Process::Pid(pid) => format!("/proc/{pid}/stat"),
        };
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("{path}: cannot read (is the process running?)"))?;
        let (user, system) = cpu_ticks(&text).with_context(|| format!("{path}: unexpected format"))?;
        let time = |ticks: u64| Duration::from_secs_f64(ticks as f64 / self.ticks_per_second as f64);
        Ok(CpuTime { user: time(user), system: time(system) })
    }

    /// Clock ticks per second (the resolution of the readings).
    pub fn ticks_per_second(&self) -> u64 {
        self.ticks_per_second
    }
}

/// (utime, stime) from the text of /proc/PID/stat. The command name (field 2) is in parentheses
/// and may hold spaces, so the fields are counted after the last ')': state is field 3, utime 14,
/// stime 15.
fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some((utime, stime))
}

/// The 1-minute load average, when /proc/loadavg can be read.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let stat = "1234 (jpki gateway) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1 2 3";
        assert_eq!(cpu_ticks(stat), Some((250, 75)));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn reads_own_cpu_time() {
        let clock = CpuClock::new().unwrap();
        assert!(clock.ticks_per_second() > 0);
        clock.read(Process::Own).unwrap();
    }
}
