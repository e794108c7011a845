//! The yardstick: a bare RSA-2048 PKCS#1 v1.5 SHA-256 verification with `ring` on one thread,
//! timed in this process just before the run (the same operation as `baseline/ring_rsa2048_pkcs1_sha256`
//! in `services/jpki-core/benches/verify.rs`).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jpki_core::cert::ParsedCertificate;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde::Serialize;

use crate::cpu::{CpuClock, Process};

/// The baseline's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    /// What was timed.
    pub operation: &'static str,
    /// Verifications done.
    pub verifications: u64,
    /// Seconds they took (wall clock).
    pub seconds: f64,
    /// CPU seconds of the measuring thread meanwhile (clock ticks, so ±1% over a second).
    pub cpu_seconds: f64,
    /// CPU time of one verification: the unit of the CPU-per-call ratios, which compare CPU
    /// time with CPU time, so that waiting for a core on a busy machine counts in neither.
    pub us_per_verification: f64,
    /// Wall time of one verification (includes any preemption of the thread).
    pub us_per_verification_wall: f64,
}

/// Times verifications of a proof over a 32-byte challenge by `card`'s authentication key for
/// about `seconds`.
pub fn measure(card: &jpki_testpki::Card, seconds: f64, clock: CpuClock) -> anyhow::Result<Baseline> {
    let challenge = [7u8; 32];
    let signature = card.prove(&challenge).map_err(|error| anyhow::anyhow!("baseline: signing: {error}"))?;
    let parsed = ParsedCertificate::parse(card.auth_cert_der())
        .map_err(|reason| anyhow::anyhow!("baseline: auth certificate: {}", reason.code()))?;
    let key = parsed.rsa_key().map_err(|reason| anyhow::anyhow!("baseline: auth key: {}", reason.code()))?;
    // As in the benchmark: the key is given unparsed each time, so ring's per-call key setup counts.
    let verify = || UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.pkcs1()).verify(&challenge, &signature);
    verify().ok().context("baseline: the proof does not verify")?;
    let budget = Duration::from_secs_f64(seconds);
    let cpu_before = clock.read(Process::OwnThread)?;
    let started = Instant::now();
    let mut verifications = 0u64;
    // Batches of 50 keep the clock reads out of the figure.
    while started.elapsed() < budget {
        for _ in 0..50 {
            if verify().is_err() {
                bail!("baseline: a verification failed");
            }
        }
        verifications += 50;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = clock.read(Process::OwnThread)?.since(cpu_before).total().as_secs_f64();
    let wall_us = elapsed * 1e6 / verifications as f64;
    Ok(Baseline {
        operation: "ring RSA-2048 PKCS#1 v1.5 SHA-256 verify, 32-byte message, one thread",
        verifications,
        seconds: elapsed,
        cpu_seconds: cpu,
        // A run too short for one clock tick falls back to the wall clock.
        us_per_verification: if cpu > 0.0 { cpu * 1e6 / verifications as f64 } else { wall_us },
        us_per_verification_wall: wall_us,
    })
}
