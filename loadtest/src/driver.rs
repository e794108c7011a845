//! Driving the load: the open loop (calls due at a constant rate, launched on schedule whatever the
//! completions, latency from when each was due), the closed loop, and the challenges prepared ahead
//! for verify-auth.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use crate::cpu::{CpuClock, CpuTime, Process};
use crate::ops::{self, Kind, Prepared, code_name};
use crate::stats::{Recorded, Recorder, Window};
use crate::target::Target;

/// How calls are started.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// `rate` calls per second on schedule, at most `max_in_flight` at once.
    Open {
        /// Calls due per second.
        rate: f64,
        /// Calls in flight at most.
        max_in_flight: usize,
    },
    /// `concurrency` callers, each starting its next call when the last ends.
    Closed {
        /// Callers.
        concurrency: usize,
    },
}

/// One run: how, what and how long.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Open or closed loop.
    pub mode: Mode,
    /// One period of the operations, repeated.
    pub sequence: Vec<Kind>,
    /// Load before the window, not recorded.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Closed loop: verify-auth challenges to prepare (the open loop prepares exactly what it will use).
    pub closed_auth_pool: usize,
    /// The gateway's process, whose CPU time is read at the window's start and end.
    pub server_pid: Option<u32>,
    /// The timeline's slot length, when one is asked for.
    pub timeline: Option<Duration>,
}

/// What a run measured.
#[derive(Debug)]
pub struct RunResult {
    /// The window.
    pub window: Window,
    /// The recorded calls.
    pub recorded: Recorded,
    /// Calls launched (warm-up included).
    pub launched: u64,
    /// Open loop: calls that found --max-in-flight calls in flight when due and waited for one to end.
    pub launched_late: u64,
    /// Open loop: calls due before the end but still waiting for a slot then; never sent.
    pub not_sent: u64,
    /// Calls still in flight when the drain gave up.
    pub unfinished: u64,
    /// verify-auth challenges prepared ahead.
    pub prepared: usize,
    /// The gateway's CPU time in the window.
    pub server_cpu: Option<CpuTime>,
    /// This process's CPU time in the window.
    pub own_cpu: CpuTime,
    /// 1-minute load average at the window's start and end.
    pub load_average: (Option<f64>, Option<f64>),
}

/// Longer than the client's 30 s call timeout, so that a drain normally sees every call end.
const DRAIN: Duration = Duration::from_secs(35);
/// Calls in flight while preparing verify-auth challenges.
const PREPARE_CONCURRENCY: usize = 32;

struct Shared {
    target: Arc<Target>,
    sequence: Vec<Kind>,
    recorder: Mutex<Recorder>,
    pool: Mutex<Vec<Prepared>>,
}

impl Shared {
    /// Runs one call and records it as due (or started) at `start`.
    async fn call(&self, kind: Kind, start: Instant) {
        let pick = self.target.pick();
        let prepared = if kind == Kind::VerifyAuth {
            self.pool.lock().unwrap_or_else(PoisonError::into_inner).pop()
        } else {
            None
        };
        let outcome = ops::run(kind, &self.target, pick, prepared).await;
        let end = Instant::now();
        self.recorder.lock().unwrap_or_else(PoisonError::into_inner).record(kind, start, end, &outcome);
    }
}

/// Runs `plan` against `target`.
pub async fn run(target: &Arc<Target>, plan: &Plan, clock: CpuClock) -> anyhow::Result<RunResult> {
    let auth_calls = match plan.mode {
        Mode::Open { rate, .. } => {
            let calls = open_loop_calls(rate, plan.warmup + plan.duration);
            (0..calls).filter(|call| plan.sequence[*call as usize % plan.sequence.len()] == Kind::VerifyAuth).count()
        }
        Mode::Closed { .. } if plan.sequence.contains(&Kind::VerifyAuth) => plan.closed_auth_pool,
        Mode::Closed { .. } => 0,
    };
    let pool = prepare(target, auth_calls).await?;
    // A little ahead, so that the first calls are not already late when the pacer starts.
    let start = Instant::now() + Duration::from_millis(50);
    let window = Window { start: start + plan.warmup, end: start + plan.warmup + plan.duration };
    let shared = Arc::new(Shared {
        target: Arc::clone(target),
        sequence: plan.sequence.clone(),
        recorder: Mutex::new(Recorder::new(window, plan.timeline)),
        pool: Mutex::new(pool),
    });
    let sampler = tokio::spawn(sample_cpu(clock, plan.server_pid, window));
    let (launched, launched_late, not_sent, unfinished) = match plan.mode {
        Mode::Open { rate, max_in_flight } => open_loop(&shared, rate, max_in_flight, start, window.end).await?,
        Mode::Closed { concurrency } => closed_loop(&shared, concurrency, window.end).await,
    };
    let (server_cpu, own_cpu, load_average) = sampler.await.context("the CPU sampler stopped")??;
    let recorded = shared.recorder.lock().unwrap_or_else(PoisonError::into_inner).report();
    Ok(RunResult {
        window,
        recorded,
        launched,
        launched_late,
        not_sent,
        unfinished,
        prepared: auth_calls,
        server_cpu,
        own_cpu,
        load_average,
    })
}

/// Calls due in `span` at `rate`.
fn open_loop_calls(rate: f64, span: Duration) -> u64 {
    (rate * span.as_secs_f64()).ceil() as u64
}

/// Launches the calls on schedule from a thread of its own (tokio's timer ticks in whole
/// milliseconds, which at hundreds of calls per second would bunch them up), then waits for the
/// last ones. Returns (launched, launched late, not sent, unfinished).
async fn open_loop(
    shared: &Arc<Shared>,
    rate: f64,
    max_in_flight: usize,
    start: Instant,
    end: Instant,
) -> anyhow::Result<(u64, u64, u64, u64)> {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let total = open_loop_calls(rate, end - start);
    let pacer = {
        let (shared, slots, handle) = (Arc::clone(shared), Arc::clone(&slots), Handle::current());
        tokio::task::spawn_blocking(move || pace(&handle, &shared, &slots, rate, total, start, end))
    };
    let (launched, launched_late, not_sent) = pacer.await.context("the pacer stopped")?;
    let permits = u32::try_from(max_in_flight).context("--max-in-flight is too large")?;
    let unfinished = match tokio::time::timeout(DRAIN, slots.acquire_many(permits)).await {
        Ok(_) => 0,
        Err(_) => (max_in_flight - slots.available_permits()) as u64,
    };
    Ok((launched, launched_late, not_sent, unfinished))
}

/// The pacer: call `n` is due at `start + n / rate`; it is launched then, or as soon as a slot is
/// free, and recorded from when it was due either way. Calls still waiting at `end` are not sent.
fn pace(
    handle: &Handle,
    shared: &Arc<Shared>,
    slots: &Arc<Semaphore>,
    rate: f64,
    total: u64,
    start: Instant,
    end: Instant,
) -> (u64, u64, u64) {
    let (mut launched, mut late) = (0u64, 0u64);
    for call in 0..total {
        let due = start + Duration::from_secs_f64(call as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let permit: OwnedSemaphorePermit = match Arc::clone(slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => {
                late += 1;
                let permit = handle.block_on(Arc::clone(slots).acquire_owned());
                // Only a call that waited for a slot past the end is dropped: one merely woken a
                // little after its due time (the last one often is) is still sent.
                match permit {
                    Ok(permit) if Instant::now() < end => permit,
                    _ => return (launched, late, total - call),
                }
            }
            Err(TryAcquireError::Closed) => return (launched, late, total - call),
        };
        let kind = shared.sequence[call as usize % shared.sequence.len()];
        let shared = Arc::clone(shared);
        handle.spawn(async move {
            shared.call(kind, due).await;
            drop(permit);
        });
        launched += 1;
    }
    (launched, late, 0)
}

/// `concurrency` callers until `end`, then waits for their last calls. Returns (launched, 0, 0,
/// unfinished).
async fn closed_loop(shared: &Arc<Shared>, concurrency: usize, end: Instant) -> (u64, u64, u64, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for _ in 0..concurrency {
        let (shared, next) = (Arc::clone(shared), Arc::clone(&next));
        callers.push(tokio::spawn(async move {
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let call = next.fetch_add(1, Ordering::Relaxed);
                let kind = shared.sequence[call as usize % shared.sequence.len()];
                shared.call(kind, started).await;
            }
        }));
    }
    let deadline = tokio::time::Instant::from_std(end) + DRAIN;
    let mut unfinished = 0;
    for caller in callers {
        if tokio::time::timeout_at(deadline, caller).await.is_err() {
            unfinished += 1;
        }
    }
    (next.load(Ordering::Relaxed), 0, 0, unfinished)
}

/// Issues and proves `count` challenges for verify-auth before the run (round-robin over tenants
/// and cards), so that the timed calls are VerifyAuthProof alone.
async fn prepare(target: &Arc<Target>, count: usize) -> anyhow::Result<Vec<Prepared>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let remaining = Arc::new(AtomicU64::new(count as u64));
    let mut workers = Vec::new();
    for _ in 0..PREPARE_CONCURRENCY.min(count) {
        let (target, remaining) = (Arc::clone(target), Arc::clone(&remaining));
        workers.push(tokio::spawn(async move {
            let mut prepared = Vec::new();
            while remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(1)).is_ok() {
                let pick = target.pick();
                match ops::prepare_auth(&target, pick).await {
                    Ok(one) => prepared.push(one),
                    Err(failure) => {
                        bail!("preparing verify-auth challenges: {} → {}", failure.rpc.name(), code_name(failure.code))
                    }
                }
            }
            Ok(prepared)
        }));
    }
    let mut pool = Vec::with_capacity(count);
    for worker in workers {
        pool.extend(worker.await.context("a preparing task stopped")??);
    }
    Ok(pool)
}

/// Reads the CPU times at the window's start and end: (gateway's, own, load averages).
async fn sample_cpu(
    clock: CpuClock,
    server_pid: Option<u32>,
    window: Window,
) -> anyhow::Result<(Option<CpuTime>, CpuTime, (Option<f64>, Option<f64>))> {
    let read = || -> anyhow::Result<(Option<CpuTime>, CpuTime)> {
        let server = server_pid.map(|pid| clock.read(Process::Pid(pid))).transpose()?;
        Ok((server, clock.read(Process::Own)?))
    };
    tokio::time::sleep_until(tokio::time::Instant::from_std(window.start)).await;
    let (server_before, own_before) = read()?;
    let load_before = crate::cpu::load_average();
    tokio::time::sleep_until(tokio::time::Instant::from_std(window.end)).await;
    let (server_after, own_after) = read()?;
    let server = match (server_before, server_after) {
        (Some(before), Some(after)) => Some(after.since(before)),
        _ => None,
    };
    Ok((server, own_after.since(own_before), (load_before, crate::cpu::load_average())))
}
