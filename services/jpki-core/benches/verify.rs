//! Verification throughput against bare ring RSA-2048, measured in one run.
//!
//! Every case uses the same RSA-2048 material from the deterministic test PKI (seed 2026):
//!
//! - `baseline/ring_rsa2048_pkcs1_sha256`: `ring` PKCS#1 v1.5 SHA-256 verification of a 32-byte
//!   challenge with the authentication certificate's subjectPublicKey, nothing else;
//! - `auth_proof/cached_chain` and `auth_proof/cold_chain`: [`Verifier::verify_auth_proof`] on that
//!   certificate and signature, with the chain cache warm, or disabled (`chain_cache_capacity: 0`);
//! - `cms_signature/cached_chain` and `cms_signature/cold_chain`: [`Verifier::verify_signature`] on a
//!   detached CMS over a 1 KB form (signed attributes, certificate embedded, SHA-256), four fields
//!   extracted, chain cache warm or disabled.
//!
//! The machine these run on is shared and noisy, so absolute times say little. After criterion's
//! own measurements the bench times every case again with a calibrated `Instant` loop, rounds
//! interleaved across cases, and prints each case's rate as a ratio to the baseline's rate
//! measured in the same process (median of the per-round ratios), beside its target. The ratios
//! are recorded in `docs/performance.md`; no test asserts them.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-bench cargo bench -p jpki-core --bench verify`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use jpki_core::cert::ParsedCertificate;
use jpki_core::{AuthProofInput, SignatureInput, UnixTime, Verifier};
use jpki_revocation::RevocationStore;
use jpki_testpki::{CmsOptions, TestPki};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

/// Seed of the test PKI, as in the core's tests.
const SEED: u64 = 2026;

/// A case's target, as a fraction of the baseline's rate.
#[derive(Clone, Copy)]
enum Target {
    /// The rate must reach at least this fraction.
    AtLeast(f64),
    /// Cannot exceed about this fraction (the work includes this many baseline verifications).
    Ceiling(f64),
    /// Measured for information.
    None,
}

fn time(text: &str) -> UnixTime {
    UnixTime::parse_rfc3339(text).unwrap()
}

fn offset(moment: UnixTime) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(moment.0).unwrap()
}

/// A verifier over every anchor of the test PKI, all kinds sharing `crls`.
fn verifier(pki: &TestPki, crls: &Arc<RevocationStore>, chain_cache_capacity: u64) -> Verifier {
    jpki_testsupport::verifier(pki, crls.clone(), chain_cache_capacity).unwrap()
}

/// About 1 KB of form text, as a bank's application form would be.
fn form() -> Vec<u8> {
    let line = "口座開設申込書: 氏名 山田 太郎, 住所 東京都千代田区千代田1-1, 生年月日 1990-01-01\n";
    line.repeat(1024 / line.len() + 1).into_bytes()[..1024].to_vec()
}

/// The shared material: verifiers (chain cache on and off) and the inputs, every one checked to
/// pass before anything is timed.
struct Setup {
    cached: Verifier,
    cold: Verifier,
    at: UnixTime,
    auth_certificate: Vec<u8>,
    auth_key_pkcs1: Vec<u8>,
    challenge: [u8; 32],
    proof: Vec<u8>,
    form: Vec<u8>,
    cms: Vec<u8>,
}

impl Setup {
    fn new() -> Self {
        let pki = TestPki::cached(SEED).unwrap();
        // Empty CRLs from every anchor, valid 2026-05-01..2026-07-01; validation at 2026-06-01.
        let crls = Arc::new(RevocationStore::new(jpki_testsupport::anchors(&pki).unwrap(), 0));
        let cached = verifier(&pki, &crls, 1000);
        let cold = verifier(&pki, &crls, 0);
        for ca in pki.cas().iter().filter(|ca| ca.is_anchor()) {
            let this_update = offset(time("2026-05-01T00:00:00Z"));
            let next_update = offset(time("2026-07-01T00:00:00Z"));
            let der = ca.issue_crl(this_update, next_update, 1, &[]).unwrap();
            crls.load(ca.label(), &der, time("2026-05-01T00:00:00Z")).unwrap();
        }
        let holder = pki
            .holders()
            .iter()
            .find(|holder| holder.signing().kind() == jpki_testpki::CertKind::SigningCard)
            .expect("a card holder");
        let card = holder.card();
        let auth_certificate = card.auth_cert_der().to_vec();
        let parsed = ParsedCertificate::parse(&auth_certificate).unwrap();
        let key = parsed.rsa_key().unwrap();
        assert_eq!(key.bits(), 2048, "the baseline is RSA-2048");
        let auth_key_pkcs1 = key.pkcs1().to_vec();
        let challenge: [u8; 32] = std::array::from_fn(|index| (index as u8).wrapping_mul(37).wrapping_add(11));
        let proof = card.prove(&challenge).unwrap();
        let form = form();
        let cms = card.sign_document_cms(&form, CmsOptions::default()).unwrap();
        let setup = Setup {
            cached,
            cold,
            at: time("2026-06-01T00:00:00Z"),
            auth_certificate,
            auth_key_pkcs1,
            challenge,
            proof,
            form,
            cms,
        };
        // A broken setup must fail here, not be measured. This also warms the chain cache.
        assert!(setup.baseline(), "bare ring verification failed");
        for verifier in [&setup.cached, &setup.cold] {
            let report = setup.auth_proof(verifier);
            assert!(report.passed(), "{report:#?}");
            let report = setup.cms_signature(verifier);
            assert!(report.passed(), "{report:#?}");
            assert!(report.four_fields.is_some(), "the CMS report carries the four fields");
        }
        setup
    }

    fn baseline(&self) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, black_box(&self.auth_key_pkcs1))
            .verify(black_box(&self.challenge), black_box(&self.proof))
            .is_ok()
    }

    fn auth_proof(&self, verifier: &Verifier) -> jpki_core::ValidationReport {
        let input = AuthProofInput {
            certificate: black_box(&self.auth_certificate),
            challenge: black_box(&self.challenge),
            signature: black_box(&self.proof),
            challenge_issued_at: None,
        };
        verifier.verify_auth_proof(&input, self.at)
    }

    fn cms_signature(&self, verifier: &Verifier) -> jpki_core::ValidationReport {
        let input = SignatureInput::Cms {
            cms: black_box(&self.cms),
            detached_content: Some(black_box(&self.form)),
            certificate: None,
        };
        verifier.verify_signature(&input, self.at)
    }
}

/// One measured case.
struct Case<'a> {
    name: &'static str,
    target: Target,
    run: Box<dyn Fn() -> bool + 'a>,
}

fn cases(setup: &Setup) -> Vec<Case<'_>> {
    vec![
        Case { name: "baseline/ring_rsa2048_pkcs1_sha256", target: Target::None, run: Box::new(|| setup.baseline()) },
        Case {
            name: "auth_proof/cached_chain",
            target: Target::AtLeast(0.8),
            run: Box::new(|| setup.auth_proof(&setup.cached).passed()),
        },
        Case {
            name: "cms_signature/cached_chain",
            target: Target::AtLeast(0.6),
            run: Box::new(|| setup.cms_signature(&setup.cached).passed()),
        },
        Case {
            name: "cms_signature/cold_chain",
            target: Target::Ceiling(0.5),
            run: Box::new(|| setup.cms_signature(&setup.cold).passed()),
        },
        Case {
            name: "auth_proof/cold_chain",
            target: Target::None,
            run: Box::new(|| setup.auth_proof(&setup.cold).passed()),
        },
    ]
}

/// Iterations of `run` that take at least `batch`.
fn calibrate(run: &dyn Fn() -> bool, batch: Duration) -> u64 {
    assert!(run(), "a case stopped passing");
    let mut iterations = 1u64;
    loop {
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(run());
        }
        let elapsed = started.elapsed();
        if elapsed >= batch / 2 {
            let scaled = iterations as f64 * batch.as_secs_f64() / elapsed.as_secs_f64();
            return (scaled.ceil() as u64).max(1);
        }
        iterations *= 2;
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 { values[middle] } else { (values[middle - 1] + values[middle]) / 2.0 }
}

/// Times every case in interleaved rounds and prints its rate relative to the baseline (case 0).
fn print_ratios(cases: &[Case<'_>]) {
    const ROUNDS: usize = 21;
    const BATCH: Duration = Duration::from_millis(40);
    let iterations: Vec<u64> = cases.iter().map(|case| calibrate(&*case.run, BATCH)).collect();
    // nanoseconds per verification, per case, per round
    let mut times = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for round in 0..ROUNDS {
        // Rotate the order so no case always runs right after the same one.
        for step in 0..cases.len() {
            let index = (round + step) % cases.len();
            let started = Instant::now();
            for _ in 0..iterations[index] {
                black_box((cases[index].run)());
            }
            times[index].push(started.elapsed().as_nanos() as f64 / iterations[index] as f64);
        }
    }
    let baseline = median(times[0].clone());
    println!();
    println!(
        "Ratios to the baseline (rate = 1 / time per verification; {ROUNDS} interleaved rounds of ~{} ms \
         per case, median of per-round ratios):",
        BATCH.as_millis()
    );
    println!("{}: {:.2} us per verification", cases[0].name, baseline / 1000.0);
    for (case, case_times) in cases.iter().zip(&times).skip(1) {
        let ratio = median(times[0].iter().zip(case_times).map(|(base, time)| base / time).collect());
        let absolute = median(case_times.clone()) / 1000.0;
        let target = match case.target {
            Target::AtLeast(target) => {
                let verdict = if ratio >= target { "met" } else { "NOT MET" };
                format!("(target >= {target:.2}x) {verdict}")
            }
            Target::Ceiling(ceiling) => format!("(ceiling ~{ceiling:.2}x: two RSA verifications)"),
            Target::None => "(information only)".to_owned(),
        };
        println!("{}: {ratio:.2}x of bare ring RSA-2048 verify {target}; {absolute:.2} us per verification", case.name);
    }
}

fn main() {
    let setup = Setup::new();
    let cases = cases(&setup);

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    for case in &cases {
        criterion.bench_function(case.name, |bencher| bencher.iter(|| (case.run)()));
    }
    criterion.final_summary();

    // Only under `cargo bench` (criterion's benchmark mode); `cargo test --benches` passes no
    // `--bench` and runs each case once as a test.
    let arguments: Vec<String> = std::env::args().collect();
    let has = |flag: &str| arguments.iter().any(|argument| argument == flag);
    if has("--bench") && !has("--test") && !has("--list") && !arguments.iter().any(|a| a.starts_with("--profile-time"))
    {
        println!(
            "\nInputs: authentication certificate {} bytes, 32-byte challenge; CMS {} bytes (detached) over a {}-byte form.",
            setup.auth_certificate.len(),
            setup.cms.len(),
            setup.form.len()
        );
        print_ratios(&cases);
    }
}
