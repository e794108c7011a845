//! `jpki-loadtest`: the load generator for jpki-gateway. It drives a running gateway over real
//! gRPC from its own process, in an open loop (a constant arrival rate, latency counted from when
//! each call was due, as wrk2 does, so that queueing is not hidden by coordinated omission) or a
//! closed loop, over a mix of operations, tenants and test-PKI cards; it reports HDR latency
//! percentiles, throughput, errors by gRPC code, results that did not pass, and the gateway's CPU
//! per call as a multiple of a bare RSA verification timed in the same run. `--sweep` runs several
//! rates and plots latency against the offered rate. See loadtest/README.md.

mod baseline;
mod cli;
mod cpu;
mod driver;
mod ops;
mod plot;
mod report;
mod stats;
mod target;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use cli::Args;
use cpu::CpuClock;
use driver::{Mode, Plan};
use ops::{Kind, Verdict};
use report::{Floor, Report, Step, Sweep};
use target::Target;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("jpki-loadtest: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    args.check()?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start the async runtime")?;
    runtime.block_on(load(args))
}

async fn load(args: &Args) -> anyhow::Result<()> {
    let clock = CpuClock::new()?;
    if let Some(pid) = args.server_pid {
        clock.read(cpu::Process::Pid(pid)).with_context(|| format!("--server-pid {pid}"))?;
    }
    let started_at =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let channels = target::connect(&args.gateway, args.connections).await?;
    let target = Arc::new(Target::load(&args.pki, &args.holders, &args.api_keys, channels)?);
    preflight(&target, &args.mix, args.floor).await?;

    // The yardstick, on one thread of this process, before any load.
    let baseline_card = target.card(target.pick_nth(0)).card.clone();
    let seconds = args.baseline_seconds;
    let rsa_baseline = tokio::task::spawn_blocking(move || baseline::measure(&baseline_card, seconds, clock))
        .await
        .context("the baseline stopped")??;
    println!(
        "baseline: {:.2} µs of CPU per bare RSA-2048 verification ({:.2} µs wall; {} in {:.2} s, one thread)",
        rsa_baseline.us_per_verification,
        rsa_baseline.us_per_verification_wall,
        rsa_baseline.verifications,
        rsa_baseline.seconds
    );

    let sequence = args.mix.sequence();
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let modes: Vec<Mode> = if args.closed {
        vec![Mode::Closed { concurrency: args.concurrency }]
    } else {
        args.rates().into_iter().map(|rate| Mode::Open { rate, max_in_flight: args.max_in_flight }).collect()
    };
    println!(
        "mix {}; {} tenant(s), {} card(s), {} connection(s); gateway {}",
        args.mix,
        target.tenants(),
        target.holders().len(),
        args.connections,
        args.gateway
    );
    let plan = |mode: Mode, sequence: Vec<Kind>| Plan {
        mode,
        sequence,
        warmup,
        duration,
        closed_auth_pool: args.auth_pool,
        server_pid: args.server_pid,
        timeline: args.timeline.map(Duration::from_millis),
    };
    // The RPC floor: health alone under the first step's loop. A sweep measures it once, at its
    // first rate, rather than doubling its length; every rate subtracts that floor.
    let floor = match modes.first() {
        Some(mode) if args.floor => {
            print!("floor phase (health alone): ");
            let result = driver::run(&target, &plan(*mode, vec![Kind::Health]), clock).await?;
            let phase = Step::new(*mode, warmup, result, &rsa_baseline, None);
            print!("{}", report::summary(&phase, &rsa_baseline, None));
            let floor = Floor::of(phase);
            match &floor {
                Some(floor) => print!("{}", report::floor_line(floor)),
                None => println!("floor: not measured (no server CPU or no health RPC in the window)"),
            }
            if floor.is_some() && modes.len() > 1 {
                println!("floor: measured once, at the sweep's first rate; every rate below subtracts it");
            }
            // As between the rates of a sweep: let the phase's stragglers settle.
            tokio::time::sleep(Duration::from_secs(1)).await;
            floor
        }
        _ => None,
    };
    let mut steps = Vec::new();
    for (index, mode) in modes.iter().enumerate() {
        if index > 0 {
            // Let the previous rate's stragglers and the store settle.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let result = driver::run(&target, &plan(*mode, sequence.clone()), clock).await?;
        let step = Step::new(*mode, warmup, result, &rsa_baseline, floor.as_ref());
        print!("{}", report::summary(&step, &rsa_baseline, floor.as_ref()));
        steps.push(step);
    }

    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let sweep = if args.sweep.is_empty() {
        None
    } else {
        let saturation = report::saturation(&steps, args.slo_ms);
        let title = format!(
            "jpki-gateway latency vs offered rate ({}; {cores} cores; {})",
            args.mix,
            &started_at[..10.min(started_at.len())]
        );
        let sweep = Sweep {
            slo_ms: args.slo_ms,
            saturation_per_s: saturation,
            throughput_limit_per_s: report::saturation(&steps, f64::INFINITY),
            plot: args.plot.display().to_string(),
        };
        plot::write(&args.plot, &title, &steps, &sweep)?;
        print!("{}", report::sweep_summary(&steps, &sweep));
        Some(sweep)
    };
    let (git_commit, git_dirty) = git_state();
    let report = Report {
        tool: format!("jpki-loadtest {}", env!("CARGO_PKG_VERSION")),
        started_at,
        git_commit,
        git_dirty,
        cores,
        cpu_model: cpu_model(),
        gateway: args.gateway.clone(),
        pki: args.pki.display().to_string(),
        mix: args.mix.to_string(),
        tenants: target.tenants(),
        holders: target.holders(),
        connections: args.connections,
        server_pid: args.server_pid,
        cpu_clock_ticks_per_s: clock.ticks_per_second(),
        rsa_baseline,
        floor,
        steps,
        sweep,
    };
    if let Some(path) = &args.json {
        let mut json = serde_json::to_string_pretty(&report).context("encode the report")?;
        json.push('\n');
        std::fs::write(path, json).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(())
}

/// One call of each kind in the mix for every tenant and card, before anything is measured: a
/// card or tenant the gateway does not accept would otherwise only show up as "not passed" counts.
/// The signature verification also makes each tenant entitled to CheckStatus of the card. Health
/// is called too when the floor phase will use it.
async fn preflight(target: &Arc<Target>, mix: &cli::Mix, floor: bool) -> anyhow::Result<()> {
    let mut kinds = vec![Kind::VerifySignature];
    if mix.weight(Kind::VerifySignatureRaw) > 0 {
        kinds.push(Kind::VerifySignatureRaw);
    }
    if mix.weight(Kind::Login) > 0 || mix.weight(Kind::VerifyAuth) > 0 {
        kinds.push(Kind::Login);
    }
    if mix.weight(Kind::IssueChallenge) > 0 {
        kinds.push(Kind::IssueChallenge);
    }
    if mix.weight(Kind::CheckStatus) > 0 {
        kinds.push(Kind::CheckStatus);
    }
    if mix.weight(Kind::Health) > 0 || floor {
        kinds.push(Kind::Health);
    }
    let mut problems = Vec::new();
    for pick in target.every_pair() {
        for kind in &kinds {
            let outcome = ops::run(*kind, target, pick, None).await;
            let problem = match outcome.result {
                Ok(Verdict::Passed) => continue,
                Ok(Verdict::NotPassed(what)) => what,
                Err(failure) => format!("{} → {}", failure.rpc.name(), ops::code_name(failure.code)),
            };
            problems.push(format!("{}: {}: {problem}", target.describe(pick), kind.name()));
        }
    }
    if !problems.is_empty() {
        bail!(
            "the gateway does not accept every tenant and card (check --api-key, --pki and --holders):\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// The commit of the working directory's checkout and whether it has uncommitted changes.
fn git_state() -> (Option<String>, Option<bool>) {
    let git = |arguments: &[&str]| {
        std::process::Command::new("git")
            .args(arguments)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"]);
    let dirty = commit
        .as_ref()
        .and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|text| !text.is_empty());
    (commit, dirty)
}

/// The CPU's model name.
fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}
