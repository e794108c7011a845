//! Command line: where the gateway and the test PKI are, what to call, how hard and for how long.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail};

use crate::ops::Kind;

/// `jpki-loadtest`: drives a running jpki-gateway over gRPC and reports latency percentiles,
/// throughput, errors and the server's CPU per call.
#[derive(clap::Parser, Debug)]
#[command(name = "jpki-loadtest", version, about, long_about = None)]
pub struct Args {
    /// The gateway (plaintext gRPC).
    #[arg(long, default_value = "http://127.0.0.1:50051", value_name = "URL")]
    pub gateway: String,
    /// The test PKI: a directory written by `jpkictl testpki generate`, or the demo's
    /// DIR/gateway/test-pki.
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// A tenant's API key; repeat for several tenants (calls go round-robin over them).
    #[arg(long = "api-key", value_name = "KEY", default_value = "demo-key")]
    pub api_keys: Vec<String>,
    /// Card holders to use, comma-separated (default: every holder in the manifest), round-robin.
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub holders: Vec<String>,
    /// Weights of the operations, e.g. login=1,verify-auth=0,verify-signature=1,check-status=0
    /// (also verify-signature-raw, issue-challenge, and health: the RPC floor); unnamed operations
    /// weigh 0.
    #[arg(long, default_value = "login=1,verify-signature=1", value_name = "OP=W,...")]
    pub mix: Mix,
    /// Open loop: operations started per second, on schedule whatever the completions.
    #[arg(long, default_value_t = 100.0, value_name = "N")]
    pub rate: f64,
    /// Open loop at each of these rates in turn; writes --plot and reports the saturation point.
    #[arg(long, value_delimiter = ',', value_name = "N,...", conflicts_with = "closed")]
    pub sweep: Vec<f64>,
    /// Closed loop instead: --concurrency callers, each starting its next operation when the last ends.
    #[arg(long)]
    pub closed: bool,
    /// Closed loop: the number of callers.
    #[arg(long, default_value_t = 16, value_name = "C")]
    pub concurrency: usize,
    /// Closed loop: verify-auth challenges issued and proved before the run. When the window
    /// outlasts them, the rest of the verify-auth calls are whole logins (reported per RPC).
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub auth_pool: usize,
    /// Open loop: operations in flight at most; a call due while this many are in flight starts as
    /// soon as one ends, and its latency still counts from when it was due.
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub max_in_flight: usize,
    /// Seconds of load before the measured window (not recorded).
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub warmup: f64,
    /// Seconds of the measured window.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub duration: f64,
    /// The gateway's process id: its CPU time (utime + stime) is read around the measured window.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Sweep: the p99 bound (ms) of the saturation point.
    #[arg(long, default_value_t = 5.0, value_name = "MS")]
    pub slo_ms: f64,
    /// Write every figure as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Sweep: where to write the plot of latency against offered rate (SVG).
    #[arg(long, default_value = "latency-vs-rate.svg", value_name = "FILE")]
    pub plot: PathBuf,
    /// HTTP/2 connections to the gateway; calls go round-robin over them.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub connections: usize,
    /// Seconds of the bare RSA verification baseline timed before the run.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub baseline_seconds: f64,
    /// Before the measured run, a phase of health alone with the same loop settings: its server
    /// CPU per RPC is the floor, subtracted once per RPC in the report (needs --server-pid; a sweep
    /// measures it once, at its first rate).
    #[arg(long)]
    pub floor: bool,
    /// Also report the window in slots of this many ms (calls by when due or started: count, p50,
    /// p99, max, and the slot's wall-clock time), to place a tail in time against the server's logs.
    #[arg(long, value_name = "MS")]
    pub timeline: Option<u64>,
}

impl Args {
    /// The rates to run in the open loop: the sweep, or the one rate.
    pub fn rates(&self) -> Vec<f64> {
        if self.sweep.is_empty() { vec![self.rate] } else { self.sweep.clone() }
    }

    /// Refuses values that cannot give a meaningful run.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.api_keys.is_empty() {
            bail!("give at least one --api-key");
        }
        if self.rates().iter().any(|rate| !rate.is_finite() || *rate <= 0.0) {
            bail!("rates must be positive numbers of calls per second");
        }
        if !(self.duration > 0.0 && self.warmup >= 0.0 && self.baseline_seconds > 0.0) {
            bail!("--duration and --baseline-seconds must be positive, --warmup not negative");
        }
        if self.floor && self.server_pid.is_none() {
            bail!("--floor measures the server's CPU: give --server-pid");
        }
        if self.timeline == Some(0) {
            bail!("--timeline is a slot length in ms: at least 1");
        }
        if self.concurrency == 0 || self.max_in_flight == 0 || self.connections == 0 {
            bail!("--concurrency, --max-in-flight and --connections must be at least 1");
        }
        Ok(())
    }
}

/// Integer weights over the operation kinds, turned into a fixed repeating order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    /// (kind, weight) for every kind with a weight above 0, in [`Kind::ALL`] order.
    pub weights: Vec<(Kind, u32)>,
}

impl FromStr for Mix {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Mix> {
        let mut weights: Vec<(Kind, u32)> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let (name, weight) = part.split_once('=').with_context(|| format!("{part}: expected OP=WEIGHT"))?;
            let kind: Kind = name.trim().parse()?;
            let weight: u32 =
                weight.trim().parse().with_context(|| format!("{part}: the weight is not a whole number"))?;
            if weights.iter().any(|(seen, _)| *seen == kind) {
                bail!("{name}: named twice");
            }
            weights.push((kind, weight));
        }
        weights.retain(|(_, weight)| *weight > 0);
        if weights.is_empty() {
            bail!("the mix has no operation with a weight above 0");
        }
        weights.sort_by_key(|(kind, _)| Kind::ALL.iter().position(|known| known == kind));
        Ok(Mix { weights })
    }
}

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> =
            self.weights.iter().map(|(kind, weight)| format!("{}={weight}", kind.name())).collect();
        f.write_str(&parts.join(","))
    }
}

impl Mix {
    /// One period of the calls, interleaved by smooth weighted round-robin: for 1:3 that is
    /// b, b, a, b rather than a, b, b, b, so that even a short window sees the intended shares.
    pub fn sequence(&self) -> Vec<Kind> {
        let total: i64 = self.weights.iter().map(|(_, weight)| i64::from(*weight)).sum();
        let mut current = vec![0i64; self.weights.len()];
        let mut order = Vec::new();
        for _ in 0..total {
            for (credit, (_, weight)) in current.iter_mut().zip(&self.weights) {
                *credit += i64::from(*weight);
            }
            let Some(best) = (0..current.len()).max_by_key(|index| (current[*index], std::cmp::Reverse(*index))) else {
                break;
            };
            current[best] -= total;
            order.push(self.weights[best].0);
        }
        order
    }

    /// The weight of `kind` (0 when absent).
    pub fn weight(&self, kind: Kind) -> u32 {
        self.weights.iter().find(|(known, _)| *known == kind).map_or(0, |(_, weight)| *weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_drops_zero_weights_and_interleaves() {
        let mix: Mix = "login=1,verify-auth=0,verify-signature=3,check-status=0".parse().unwrap();
        assert_eq!(mix.weights, vec![(Kind::VerifySignature, 3), (Kind::Login, 1)]);
        let sequence = mix.sequence();
        assert_eq!(sequence.len(), 4);
        assert_eq!(sequence.iter().filter(|kind| **kind == Kind::Login).count(), 1);
        assert_eq!(sequence[0], Kind::VerifySignature);
        assert_eq!(mix.to_string(), "verify-signature=3,login=1");
    }

    #[test]
    fn mix_refusals() {
        assert!("login=0".parse::<Mix>().is_err());
        assert!("login".parse::<Mix>().is_err());
        assert!("logon=1".parse::<Mix>().is_err());
        assert!("login=1,login=2".parse::<Mix>().is_err());
        assert!("login=-1".parse::<Mix>().is_err());
    }
}
