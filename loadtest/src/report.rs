//! The figures of a run: assembled for JSON and printed for people.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::baseline::Baseline;
use crate::cpu::CpuTime;
use crate::driver::{Mode, RunResult};
use crate::stats::{Percentiles, Recorded};

/// CPU time spent in the window, per call and per RPC.
#[derive(Clone, Debug, Serialize)]
pub struct CpuFigures {
    /// CPU seconds (user + system) in the window.
    pub cpu_seconds: f64,
    /// Of which in user space.
    pub user_seconds: f64,
    /// Of which in the kernel (system calls: fsync, writes, sockets).
    pub system_seconds: f64,
    /// The same, as cores kept busy on average.
    pub cores_busy: f64,
    /// Per operation answered in the window.
    pub us_per_call: Option<f64>,
    /// Per RPC completed in the window.
    pub us_per_rpc: Option<f64>,
    /// `us_per_call` in bare RSA verifications (the baseline).
    pub per_call_in_rsa_verifications: Option<f64>,
    /// `us_per_rpc` in bare RSA verifications.
    pub per_rpc_in_rsa_verifications: Option<f64>,
}

impl CpuFigures {
    fn new(time: CpuTime, window_seconds: f64, calls: u64, rpcs: u64, baseline: &Baseline) -> CpuFigures {
        let cpu = time.total();
        let cpu_us = cpu.as_secs_f64() * 1e6;
        let per = |count: u64| (count > 0).then(|| cpu_us / count as f64);
        let us_per_call = per(calls);
        let us_per_rpc = per(rpcs);
        CpuFigures {
            cpu_seconds: cpu.as_secs_f64(),
            user_seconds: time.user.as_secs_f64(),
            system_seconds: time.system.as_secs_f64(),
            cores_busy: cpu.as_secs_f64() / window_seconds,
            us_per_call,
            us_per_rpc,
            per_call_in_rsa_verifications: us_per_call.map(|us| us / baseline.us_per_verification),
            per_rpc_in_rsa_verifications: us_per_rpc.map(|us| us / baseline.us_per_verification),
        }
    }
}

/// The RPC floor: the server's CPU per RPC in a phase of `health` alone, run with the main run's
/// loop settings just before it.
#[derive(Clone, Debug, Serialize)]
pub struct Floor {
    /// Server CPU per health RPC completed in the phase's window.
    pub us_per_rpc: f64,
    /// The same in bare RSA verifications.
    pub per_rpc_in_rsa_verifications: f64,
    /// The phase itself: its loop (rate or concurrency), counts, latency and CPU.
    pub phase: Step,
}

impl Floor {
    /// The floor of a health-only phase; none without the server's CPU or with no RPC completed.
    pub fn of(phase: Step) -> Option<Floor> {
        let cpu = phase.server_cpu.as_ref()?;
        let (us_per_rpc, per_rpc_in_rsa_verifications) = (cpu.us_per_rpc?, cpu.per_rpc_in_rsa_verifications?);
        Some(Floor { us_per_rpc, per_rpc_in_rsa_verifications, phase })
    }

    /// Where the floor was measured: `open loop at 300/s` or `closed loop, 16 callers`.
    pub fn conditions(&self) -> String {
        loop_name(&self.phase)
    }
}

/// The server's CPU beyond the floor: per RPC less one floor, per call less one floor per RPC.
#[derive(Clone, Debug, Serialize)]
pub struct OverFloor {
    /// The floor subtracted, in µs of server CPU per RPC.
    pub floor_us_per_rpc: f64,
    /// RPCs completed in the window per answered call: the floors subtracted per call (2 for login).
    pub rpcs_per_call: Option<f64>,
    /// Server CPU per RPC less the floor.
    pub us_per_rpc: Option<f64>,
    /// `us_per_rpc` in bare RSA verifications.
    pub per_rpc_in_rsa_verifications: Option<f64>,
    /// Server CPU per call less `rpcs_per_call` floors.
    pub us_per_call: Option<f64>,
    /// `us_per_call` in bare RSA verifications.
    pub per_call_in_rsa_verifications: Option<f64>,
}

impl OverFloor {
    fn new(server: &CpuFigures, calls: u64, rpcs: u64, floor_us: f64, baseline: &Baseline) -> OverFloor {
        let rpcs_per_call = (calls > 0).then(|| rpcs as f64 / calls as f64);
        let us_per_rpc = server.us_per_rpc.map(|us| us - floor_us);
        let us_per_call = server.us_per_call.zip(rpcs_per_call).map(|(us, rpcs)| us - rpcs * floor_us);
        OverFloor {
            floor_us_per_rpc: floor_us,
            rpcs_per_call,
            us_per_rpc,
            per_rpc_in_rsa_verifications: us_per_rpc.map(|us| us / baseline.us_per_verification),
            us_per_call,
            per_call_in_rsa_verifications: us_per_call.map(|us| us / baseline.us_per_verification),
        }
    }
}

/// One run (one rate of a sweep).
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// `open` or `closed`.
    pub mode: &'static str,
    /// Open loop: calls due per second.
    pub offered_per_s: Option<f64>,
    /// Open loop: calls in flight at most.
    pub max_in_flight: Option<usize>,
    /// Closed loop: callers.
    pub concurrency: Option<usize>,
    /// Seconds of warm-up (not recorded).
    pub warmup_s: f64,
    /// Seconds of the window.
    pub duration_s: f64,
    /// Calls launched, warm-up included.
    pub launched: u64,
    /// Open loop: calls that waited for an in-flight slot (their latency counts from when they were due).
    pub launched_late: u64,
    /// Open loop: calls due in time but still waiting for a slot at the end; never sent.
    pub not_sent: u64,
    /// Calls still in flight when the drain gave up.
    pub unfinished: u64,
    /// verify-auth challenges issued and proved before the run.
    pub prepared_auth_challenges: usize,
    /// What was recorded in the window.
    #[serde(flatten)]
    pub recorded: Recorded,
    /// The gateway's CPU (with --server-pid).
    pub server_cpu: Option<CpuFigures>,
    /// With --floor: the gateway's CPU less one floor per RPC.
    pub server_cpu_over_floor: Option<OverFloor>,
    /// This process's CPU (it shares the machine with the gateway).
    pub loadgen_cpu: CpuFigures,
    /// 1-minute load average at the window's start.
    pub load_average_start: Option<f64>,
    /// 1-minute load average at the window's end.
    pub load_average_end: Option<f64>,
}

impl Step {
    /// The figures of one run, with the server's CPU over `floor` when there is one.
    pub fn new(mode: Mode, warmup: Duration, result: RunResult, baseline: &Baseline, floor: Option<&Floor>) -> Step {
        let seconds = result.window.seconds();
        let calls = result.recorded.totals.answered_in_window;
        let rpcs = result.recorded.rpcs_in_window;
        let (offered_per_s, max_in_flight, concurrency, name) = match mode {
            Mode::Open { rate, max_in_flight } => (Some(rate), Some(max_in_flight), None, "open"),
            Mode::Closed { concurrency } => (None, None, Some(concurrency), "closed"),
        };
        let server_cpu = result.server_cpu.map(|cpu| CpuFigures::new(cpu, seconds, calls, rpcs, baseline));
        let server_cpu_over_floor = server_cpu
            .as_ref()
            .zip(floor)
            .map(|(server, floor)| OverFloor::new(server, calls, rpcs, floor.us_per_rpc, baseline));
        Step {
            mode: name,
            offered_per_s,
            max_in_flight,
            concurrency,
            warmup_s: warmup.as_secs_f64(),
            duration_s: seconds,
            launched: result.launched,
            launched_late: result.launched_late,
            not_sent: result.not_sent,
            unfinished: result.unfinished,
            prepared_auth_challenges: result.prepared,
            server_cpu,
            server_cpu_over_floor,
            loadgen_cpu: CpuFigures::new(result.own_cpu, seconds, calls, rpcs, baseline),
            recorded: result.recorded,
            load_average_start: result.load_average.0,
            load_average_end: result.load_average.1,
        }
    }

    /// Whether this step keeps up: achieved within 5% of offered and p99 below `slo_ms`.
    pub fn sustained(&self, slo_ms: f64) -> bool {
        self.offered_per_s.is_some_and(|offered| {
            self.recorded.totals.achieved_per_s >= 0.95 * offered
                && (self.recorded.overall.p99_us as f64) < slo_ms * 1000.0
        })
    }
}

/// The sweep's conclusion.
#[derive(Clone, Debug, Serialize)]
pub struct Sweep {
    /// The p99 bound.
    pub slo_ms: f64,
    /// The highest offered rate whose achieved throughput is within 5% of it and whose p99 is
    /// below `slo_ms`; none when no rate qualifies.
    pub saturation_per_s: Option<f64>,
    /// The highest offered rate whose achieved throughput is within 5% of it, whatever its p99.
    pub throughput_limit_per_s: Option<f64>,
    /// The plot of p50 and p99 against the offered rate.
    pub plot: String,
}

/// Every figure of one invocation.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `jpki-loadtest <version>`.
    pub tool: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// `git rev-parse HEAD` of the working directory, when it is a checkout.
    pub git_commit: Option<String>,
    /// Whether that checkout had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// Cores this process may use (`available_parallelism`).
    pub cores: usize,
    /// The CPU's model name from /proc/cpuinfo.
    pub cpu_model: Option<String>,
    /// The gateway's URL.
    pub gateway: String,
    /// The test-PKI directory.
    pub pki: String,
    /// The mix (operation=weight).
    pub mix: String,
    /// Tenants (API keys), round-robin.
    pub tenants: usize,
    /// Card holders, round-robin.
    pub holders: Vec<String>,
    /// HTTP/2 connections.
    pub connections: usize,
    /// The gateway's process id.
    pub server_pid: Option<u32>,
    /// Clock ticks per second of the CPU readings (their resolution).
    pub cpu_clock_ticks_per_s: u64,
    /// The yardstick, timed before the run.
    pub rsa_baseline: Baseline,
    /// With --floor: the server's CPU per RPC of health alone, measured before the run (a sweep:
    /// once, at its first rate).
    pub floor: Option<Floor>,
    /// One per rate (one in all for a single run).
    pub steps: Vec<Step>,
    /// With --sweep.
    pub sweep: Option<Sweep>,
}

/// One line of the latency table.
fn row(text: &mut String, label: &str, percentiles: &Percentiles) {
    let _ = writeln!(
        text,
        "  {label:<38} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        percentiles.count,
        percentiles.p50_us,
        percentiles.p90_us,
        percentiles.p99_us,
        percentiles.p99_9_us,
        percentiles.max_us
    );
}

fn cpu_line(text: &mut String, who: &str, cpu: &CpuFigures, baseline: &Baseline) {
    let _ = write!(
        text,
        "  {who} CPU: {:.2} s in the window ({:.2} user, {:.2} system; {:.2} cores)",
        cpu.cpu_seconds, cpu.user_seconds, cpu.system_seconds, cpu.cores_busy
    );
    if let (Some(call), Some(call_x)) = (cpu.us_per_call, cpu.per_call_in_rsa_verifications) {
        let _ = write!(text, "; {call:.0} µs per call = {call_x:.1}× the bare RSA verify");
    }
    if let (Some(rpc), Some(rpc_x)) = (cpu.us_per_rpc, cpu.per_rpc_in_rsa_verifications) {
        let _ = write!(text, "; {rpc:.0} µs per RPC = {rpc_x:.1}×");
    }
    let _ = writeln!(text, " (baseline {:.1} µs)", baseline.us_per_verification);
}

fn counts(map: &std::collections::BTreeMap<String, u64>) -> String {
    let parts: Vec<String> = map.iter().map(|(key, count)| format!("{key} {count}")).collect();
    parts.join(", ")
}

/// `open loop at 300/s` or `closed loop, 16 callers`.
fn loop_name(step: &Step) -> String {
    match (step.offered_per_s, step.concurrency) {
        (Some(rate), _) => format!("open loop at {rate}/s"),
        (None, Some(concurrency)) => format!("closed loop, {concurrency} callers"),
        (None, None) => String::new(),
    }
}

/// The server's CPU over the floor, beside the server's CPU line.
fn over_floor_line(text: &mut String, over: &OverFloor, floor: &Floor) {
    let _ = write!(text, "  server CPU over the floor:");
    if let (Some(rpc), Some(rpc_x)) = (over.us_per_rpc, over.per_rpc_in_rsa_verifications) {
        let _ = write!(text, " {rpc:.0} µs per RPC = {rpc_x:.1}× the bare RSA verify");
    }
    // Per call only where calls have several RPCs (login: per call less 2 floors).
    if let (Some(call), Some(call_x), Some(rpcs)) =
        (over.us_per_call, over.per_call_in_rsa_verifications, over.rpcs_per_call)
        && (rpcs - 1.0).abs() > 1e-9
    {
        let _ = write!(text, "; {call:.0} µs per call less {rpcs:.2} floors = {call_x:.1}×");
    }
    let _ = writeln!(
        text,
        " (floor {:.1} µs per RPC = {:.2}×, health alone, {})",
        floor.us_per_rpc,
        floor.per_rpc_in_rsa_verifications,
        floor.conditions()
    );
}

/// The floor phase's conclusion.
pub fn floor_line(floor: &Floor) -> String {
    format!(
        "floor: {:.1} µs of server CPU per RPC = {:.2}× the bare RSA verify (health alone, {}, {} RPCs in the window)\n",
        floor.us_per_rpc,
        floor.per_rpc_in_rsa_verifications,
        floor.conditions(),
        floor.phase.recorded.rpcs_in_window
    )
}

/// The human summary of one step (with the floor its server CPU is set against, if any).
pub fn summary(step: &Step, baseline: &Baseline, floor: Option<&Floor>) -> String {
    let mut text = String::new();
    let recorded = &step.recorded;
    let totals = &recorded.totals;
    text.push_str(&loop_name(step));
    let _ = writeln!(
        text,
        ", warm-up {} s, window {:.1} s: achieved {:.1}/s (answers completed in the window)",
        step.warmup_s, step.duration_s, totals.achieved_per_s
    );
    let _ = writeln!(
        text,
        "  calls in the window: {} started, {} answered ({} passed), {} errors, {} not passed; {} launched late, {} not sent, {} unfinished",
        totals.started,
        totals.answered,
        totals.passed,
        totals.errors,
        totals.not_passed,
        step.launched_late,
        step.not_sent,
        step.unfinished
    );
    if totals.errors > 0 {
        let _ = writeln!(text, "  errors by gRPC code: {}", counts(&totals.errors_by_code));
    }
    if totals.not_passed > 0 {
        let _ = writeln!(text, "  NOT PASSED (a setup problem): {}", counts(&totals.not_passed_by_result));
    }
    if recorded.pool_misses > 0 {
        let _ =
            writeln!(text, "  verify-auth found no prepared challenge {} times (issued its own)", recorded.pool_misses);
    }
    let origin = if step.offered_per_s.is_some() { "from when due" } else { "from start" };
    let _ = writeln!(
        text,
        "  {:<38} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "latency in µs", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    row(&mut text, &format!("all operations ({origin})"), &recorded.overall);
    for (name, operation) in &recorded.operations {
        row(&mut text, name, &operation.latency);
    }
    for (name, rpc) in &recorded.rpcs {
        row(&mut text, &format!("RPC {name} (from its send)"), &rpc.latency);
    }
    if let Some(signing) = &recorded.card_signing {
        row(&mut text, "card proof in this process", signing);
    }
    if let Some(timeline) = &recorded.timeline {
        let _ = writeln!(
            text,
            "  timeline ({origin}), µs: {:>9} {:>15} {:>7} {:>8} {:>8} {:>9}",
            "from ms", "unix ms", "count", "p50", "p99", "max"
        );
        for slot in timeline {
            let _ = writeln!(
                text,
                "  {:>30} {:>15} {:>7} {:>8} {:>8} {:>9}",
                slot.from_ms, slot.unix_ms, slot.count, slot.p50_us, slot.p99_us, slot.max_us
            );
        }
    }
    if let Some(server) = &step.server_cpu {
        cpu_line(&mut text, "server", server, baseline);
    }
    if let (Some(over), Some(floor)) = (&step.server_cpu_over_floor, floor) {
        over_floor_line(&mut text, over, floor);
    }
    cpu_line(&mut text, "load generator", &step.loadgen_cpu, baseline);
    if let (Some(start), Some(end)) = (step.load_average_start, step.load_average_end) {
        let _ = writeln!(text, "  load average (1 min): {start:.2} at the start, {end:.2} at the end");
    }
    text
}

/// The sweep's table and conclusion.
pub fn sweep_summary(steps: &[Step], sweep: &Sweep) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{:>10} {:>11} {:>9} {:>9} {:>8} {:>11} {:>10}",
        "offered/s", "achieved/s", "p50 ms", "p99 ms", "errors", "server µs", "sustained"
    );
    for step in steps {
        let server =
            step.server_cpu.as_ref().and_then(|cpu| cpu.us_per_call).map_or("-".to_owned(), |us| format!("{us:.0}"));
        let _ = writeln!(
            text,
            "{:>10} {:>11.1} {:>9.2} {:>9.2} {:>8} {:>11} {:>10}",
            step.offered_per_s.unwrap_or_default(),
            step.recorded.totals.achieved_per_s,
            step.recorded.overall.p50_us as f64 / 1000.0,
            step.recorded.overall.p99_us as f64 / 1000.0,
            step.recorded.totals.errors,
            server,
            if step.sustained(sweep.slo_ms) { "yes" } else { "no" }
        );
    }
    match sweep.saturation_per_s {
        Some(rate) => {
            let _ = writeln!(
                text,
                "saturation: {rate}/s (highest offered rate achieved within 5% with p99 < {} ms)",
                sweep.slo_ms
            );
        }
        None => {
            let _ = writeln!(text, "saturation: no rate achieved within 5% with p99 < {} ms", sweep.slo_ms);
        }
    }
    if let Some(rate) = sweep.throughput_limit_per_s {
        let _ = writeln!(text, "throughput limit: {rate}/s (highest offered rate achieved within 5%, any p99)");
    }
    let _ = writeln!(text, "plot: {}", sweep.plot);
    text
}

/// The highest offered rate achieved within 5% with p99 below `slo_ms` (infinite: any p99).
pub fn saturation(steps: &[Step], slo_ms: f64) -> Option<f64> {
    steps.iter().filter(|step| step.sustained(slo_ms)).filter_map(|step| step.offered_per_s).reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_floor_subtracts_one_floor_per_rpc() {
        let baseline = Baseline {
            operation: "rsa",
            verifications: 1,
            seconds: 1.0,
            cpu_seconds: 1.0,
            us_per_verification: 25.0,
            us_per_verification_wall: 25.0,
        };
        // 100 logins (200 RPCs) on 0.1 s of server CPU: 1000 µs per call, 500 per RPC.
        let time = CpuTime { user: Duration::from_millis(60), system: Duration::from_millis(40) };
        let server = CpuFigures::new(time, 1.0, 100, 200, &baseline);
        let over = OverFloor::new(&server, 100, 200, 50.0, &baseline);
        assert_eq!(over.rpcs_per_call, Some(2.0));
        assert!((over.us_per_rpc.unwrap() - 450.0).abs() < 1e-6);
        assert!((over.per_rpc_in_rsa_verifications.unwrap() - 18.0).abs() < 1e-6);
        assert!((over.us_per_call.unwrap() - 900.0).abs() < 1e-6);
        assert!((over.per_call_in_rsa_verifications.unwrap() - 36.0).abs() < 1e-6);
        let none = OverFloor::new(&CpuFigures::new(time, 1.0, 0, 0, &baseline), 0, 0, 50.0, &baseline);
        assert_eq!((none.rpcs_per_call, none.us_per_rpc, none.us_per_call), (None, None, None));
    }
}
