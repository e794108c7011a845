//! Recording the calls: HDR histograms per operation, per RPC and overall; answers, errors by
//! gRPC code and results that did not pass.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::ops::{Kind, Outcome, Rpc, Verdict, code_name};

/// Latencies are recorded in µs, from 1 µs to an hour, to 3 significant digits.
fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; a failure here is a programming error.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap_or_else(|_| unreachable!("valid histogram bounds"))
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The measured window: calls due (open loop) or started (closed loop) in it are recorded;
/// answers completed in it make the throughput.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Start (after the warm-up).
    pub start: Instant,
    /// End.
    pub end: Instant,
}

impl Window {
    fn contains(&self, instant: Instant) -> bool {
        instant >= self.start && instant < self.end
    }

    /// Its length in seconds.
    pub fn seconds(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }
}

/// Latency percentiles in µs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p99_9_us: u64,
    /// Largest.
    pub max_us: u64,
}

impl Percentiles {
    fn of(histogram: &Histogram<u64>) -> Percentiles {
        Percentiles {
            count: histogram.len(),
            mean_us: histogram.mean(),
            p50_us: histogram.value_at_quantile(0.50),
            p90_us: histogram.value_at_quantile(0.90),
            p99_us: histogram.value_at_quantile(0.99),
            p99_9_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
        }
    }
}

/// The counts of the operations due (open loop) or started (closed loop) in the window, and the
/// answers completed in it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Tally {
    /// Operations due or started in the window.
    pub started: u64,
    /// Of those, answered (passed or not).
    pub answered: u64,
    /// Of those, TOTAL_PASSED (CheckStatus: GOOD).
    pub passed: u64,
    /// Of those, ended by a gRPC error.
    pub errors: u64,
    /// The same, by code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// Answers that did not pass (a setup problem: wrong PKI, tenant, clock or list).
    pub not_passed: u64,
    /// The same, by indication/sub-indication (reason).
    pub not_passed_by_result: BTreeMap<String, u64>,
    /// Answers completed within the window, whenever they were due.
    pub answered_in_window: u64,
    /// Achieved throughput: `answered_in_window` per second.
    pub achieved_per_s: f64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.started += other.started;
        self.answered += other.answered;
        self.passed += other.passed;
        self.errors += other.errors;
        self.not_passed += other.not_passed;
        self.answered_in_window += other.answered_in_window;
        self.achieved_per_s += other.achieved_per_s;
        for (total, part) in [
            (&mut self.errors_by_code, &other.errors_by_code),
            (&mut self.not_passed_by_result, &other.not_passed_by_result),
        ] {
            for (key, count) in part {
                *total.entry(key.clone()).or_default() += count;
            }
        }
    }
}

/// One operation kind's figures.
#[derive(Clone, Debug, Serialize)]
pub struct OperationReport {
    /// Its counts.
    #[serde(flatten)]
    pub tally: Tally,
    /// Latency of the answered operations (open loop: from when each was due).
    pub latency: Percentiles,
}

/// One RPC's figures (every RPC of the operations due or started in the window).
#[derive(Clone, Debug, Serialize)]
pub struct RpcReport {
    /// Answered.
    pub answered: u64,
    /// Ended by a gRPC error, by code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// From the RPC's own send to its answer.
    pub latency: Percentiles,
}

/// Everything recorded in one window.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    /// Every operation's counts.
    #[serde(flatten)]
    pub totals: Tally,
    /// RPCs completed within the window (answered or not): the divisor of CPU per RPC.
    pub rpcs_in_window: u64,
    /// verify-auth calls that found the prepared pool empty and issued their own challenge.
    pub pool_misses: u64,
    /// Every answered operation.
    pub overall: Percentiles,
    /// By operation.
    pub operations: BTreeMap<String, OperationReport>,
    /// By RPC.
    pub rpcs: BTreeMap<String, RpcReport>,
    /// Login and unprepared verify-auth: the card's proof in this process (part of a login).
    pub card_signing: Option<Percentiles>,
    /// With --timeline: the window's answered operations by the slot they were due (or started) in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<TimelineSlot>>,
}

/// One slot of the timeline.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TimelineSlot {
    /// The slot's start, in ms from the window's start.
    pub from_ms: u64,
    /// The slot's start on the wall clock (Unix ms), to compare with the server's logs.
    pub unix_ms: u64,
    /// Operations due (or started) in the slot and answered.
    pub count: u64,
    /// Their median latency.
    pub p50_us: u64,
    /// Their 99th percentile.
    pub p99_us: u64,
    /// The slowest.
    pub max_us: u64,
}

/// The window cut into slots, a histogram each.
struct Timeline {
    slot: Duration,
    /// The wall-clock time of the window's start.
    wall_start: SystemTime,
    slots: Vec<Histogram<u64>>,
}

impl Timeline {
    fn new(window: Window, slot: Duration) -> Timeline {
        let now = Instant::now();
        let wall_start = match window.start.checked_duration_since(now) {
            Some(ahead) => SystemTime::now() + ahead,
            None => SystemTime::now() - now.saturating_duration_since(window.start),
        };
        let count = (window.end - window.start).as_nanos().div_ceil(slot.as_nanos().max(1));
        let slots = (0..usize::try_from(count).unwrap_or(0)).map(|_| histogram()).collect();
        Timeline { slot, wall_start, slots }
    }

    fn record(&mut self, since_start: Duration, took: u64) {
        let index = since_start.as_nanos() / self.slot.as_nanos().max(1);
        if let Some(slot) = usize::try_from(index).ok().and_then(|index| self.slots.get_mut(index)) {
            slot.saturating_record(took);
        }
    }

    fn report(&self) -> Vec<TimelineSlot> {
        let wall_ms = self.wall_start.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis());
        let slot_ms = self.slot.as_millis();
        (0u128..)
            .zip(&self.slots)
            .map(|(index, slot)| TimelineSlot {
                from_ms: u64::try_from(index * slot_ms).unwrap_or(u64::MAX),
                unix_ms: u64::try_from(wall_ms + index * slot_ms).unwrap_or(u64::MAX),
                count: slot.len(),
                p50_us: slot.value_at_quantile(0.50),
                p99_us: slot.value_at_quantile(0.99),
                max_us: slot.max(),
            })
            .collect()
    }
}

struct RpcCounts {
    latency: Histogram<u64>,
    answered: u64,
    errors: BTreeMap<String, u64>,
}

/// Collects the outcomes of one run.
pub struct Recorder {
    window: Window,
    overall: Histogram<u64>,
    operations: BTreeMap<Kind, (Tally, Histogram<u64>)>,
    rpcs: BTreeMap<Rpc, RpcCounts>,
    card_signing: Histogram<u64>,
    rpcs_in_window: u64,
    pool_misses: u64,
    timeline: Option<Timeline>,
}

impl Recorder {
    /// A recorder for one window; with `timeline`, also by slots of that length.
    pub fn new(window: Window, timeline: Option<Duration>) -> Recorder {
        Recorder {
            timeline: timeline.map(|slot| Timeline::new(window, slot)),
            window,
            overall: histogram(),
            operations: BTreeMap::new(),
            rpcs: BTreeMap::new(),
            card_signing: histogram(),
            rpcs_in_window: 0,
            pool_misses: 0,
        }
    }

    /// Records one operation due (or started) at `start` and finished at `end`.
    pub fn record(&mut self, kind: Kind, start: Instant, end: Instant, outcome: &Outcome) {
        let (counts, latency) = self.operations.entry(kind).or_insert_with(|| (Tally::default(), histogram()));
        if self.window.contains(end) {
            self.rpcs_in_window += outcome.rpcs.len() as u64;
            if outcome.result.is_ok() {
                counts.answered_in_window += 1;
            }
        }
        if !self.window.contains(start) {
            return;
        }
        counts.started += 1;
        match &outcome.result {
            Ok(verdict) => {
                counts.answered += 1;
                match verdict {
                    Verdict::Passed => counts.passed += 1,
                    Verdict::NotPassed(what) => {
                        counts.not_passed += 1;
                        *counts.not_passed_by_result.entry(what.clone()).or_default() += 1;
                    }
                }
                let took = micros(end.saturating_duration_since(start).saturating_sub(outcome.untimed));
                latency.saturating_record(took);
                self.overall.saturating_record(took);
                if let Some(timeline) = &mut self.timeline {
                    timeline.record(start - self.window.start, took);
                }
            }
            Err(failure) => {
                counts.errors += 1;
                *counts.errors_by_code.entry(code_name(failure.code)).or_default() += 1;
            }
        }
        for rpc in &outcome.rpcs {
            let counts = self.rpcs.entry(rpc.rpc).or_insert_with(|| RpcCounts {
                latency: histogram(),
                answered: 0,
                errors: BTreeMap::new(),
            });
            if rpc.ok {
                counts.answered += 1;
                counts.latency.saturating_record(micros(rpc.took));
            } else if let Err(failure) = &outcome.result {
                *counts.errors.entry(code_name(failure.code)).or_default() += 1;
            }
        }
        if let Some(signing) = outcome.card_signing {
            self.card_signing.saturating_record(micros(signing));
        }
        if outcome.pool_miss {
            self.pool_misses += 1;
        }
    }

    /// The figures.
    pub fn report(&self) -> Recorded {
        let seconds = self.window.seconds();
        let mut totals = Tally::default();
        let mut operations = BTreeMap::new();
        for (kind, (counts, latency)) in &self.operations {
            let tally = Tally { achieved_per_s: counts.answered_in_window as f64 / seconds, ..counts.clone() };
            totals.add(&tally);
            operations.insert(kind.name().to_owned(), OperationReport { tally, latency: Percentiles::of(latency) });
        }
        let rpcs = self
            .rpcs
            .iter()
            .map(|(rpc, counts)| {
                let report = RpcReport {
                    answered: counts.answered,
                    errors_by_code: counts.errors.clone(),
                    latency: Percentiles::of(&counts.latency),
                };
                (rpc.name().to_owned(), report)
            })
            .collect();
        Recorded {
            totals,
            rpcs_in_window: self.rpcs_in_window,
            pool_misses: self.pool_misses,
            overall: Percentiles::of(&self.overall),
            operations,
            rpcs,
            card_signing: (!self.card_signing.is_empty()).then(|| Percentiles::of(&self.card_signing)),
            timeline: self.timeline.as_ref().map(Timeline::report),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{Failure, RpcTime};

    fn outcome(result: Result<Verdict, Failure>) -> Outcome {
        Outcome {
            rpcs: vec![RpcTime { rpc: Rpc::VerifySignature, took: Duration::from_micros(700), ok: result.is_ok() }],
            card_signing: None,
            untimed: Duration::ZERO,
            pool_miss: false,
            result,
        }
    }

    #[test]
    fn window_bounds_latency_and_throughput_separately() {
        let base = Instant::now();
        let window = Window { start: base + Duration::from_secs(1), end: base + Duration::from_secs(3) };
        let mut recorder = Recorder::new(window, Some(Duration::from_millis(500)));
        let at = |ms: u64| base + Duration::from_millis(ms);
        // Due in the warm-up, answered in the window: throughput only.
        recorder.record(Kind::VerifySignature, at(900), at(1100), &outcome(Ok(Verdict::Passed)));
        // Due and answered in the window.
        recorder.record(Kind::VerifySignature, at(1500), at(1501), &outcome(Ok(Verdict::Passed)));
        // Due in the window, answered after it: latency only.
        recorder.record(Kind::VerifySignature, at(2900), at(3200), &outcome(Ok(Verdict::NotPassed("x".into()))));
        let failure = Failure { rpc: Rpc::VerifySignature, code: tonic::Code::ResourceExhausted };
        recorder.record(Kind::VerifySignature, at(2000), at(2001), &outcome(Err(failure)));
        let report = recorder.report();
        let totals = &report.totals;
        assert_eq!((totals.started, totals.answered, totals.passed, totals.errors), (3, 2, 1, 1));
        assert_eq!(totals.answered_in_window, 2);
        assert_eq!(report.rpcs_in_window, 3);
        assert_eq!(totals.errors_by_code.get("RESOURCE_EXHAUSTED"), Some(&1));
        assert_eq!(totals.not_passed, 1);
        assert_eq!(report.overall.count, 2);
        assert_eq!(report.overall.max_us / 1000, 300);
        assert!((totals.achieved_per_s - 1.0).abs() < 1e-9);
        assert_eq!(report.operations["verify-signature"].tally.answered_in_window, 2);
        assert_eq!(report.rpcs["VerifySignature"].answered, 2);
        assert_eq!(report.rpcs["VerifySignature"].errors_by_code["RESOURCE_EXHAUSTED"], 1);
        // The timeline: four 500 ms slots; only answered calls due in the window, by when due.
        let timeline = report.timeline.expect("asked for");
        let counts: Vec<(u64, u64, u64)> =
            timeline.iter().map(|slot| (slot.from_ms, slot.count, slot.max_us / 1000)).collect();
        assert_eq!(counts, [(0, 0, 0), (500, 1, 1), (1000, 0, 0), (1500, 1, 300)]);
        assert_eq!(timeline[1].unix_ms - timeline[0].unix_ms, 500);
    }
}
