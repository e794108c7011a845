//! Gateway throughput over a real socket, against bare ring RSA-2048 verification measured in the
//! same run (docs/performance.md records the figures; nothing asserts them).
//!
//! ```sh
//! cargo run --release -p jpki-gateway --example throughput -- [SECONDS_PER_CASE] [CONCURRENCY] [ROUNDS]
//! ```
//!
//! The gateway runs in this process on its single-node default (redb store, fsync per commit),
//! the clients too, so both share the machine's cores, as a one-node deployment with a local load
//! generator would. Cases, interleaved over the rounds:
//! - `baseline`: `ring` PKCS#1 v1.5 SHA-256 verifications of a 32-byte challenge, on as many threads
//!   as the runtime has workers: the machine's RSA ceiling.
//! - `check_status`: CheckStatus of one certificate (no cryptography, no write): the RPC path.
//! - `verify_signature_raw`: VerifySignature of a raw signature over a 1 KiB form (one RSA
//!   verification on a cached chain, one durable write).
//! - `login`: IssueChallenge + VerifyAuthProof (one RSA verification, three durable writes).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jpki_api::v1::raw_signature::Signed;
use jpki_api::v1::status_service_client::StatusServiceClient;
use jpki_api::v1::verification_service_client::VerificationServiceClient;
use jpki_api::v1::{
    CertificateId, CheckStatusRequest, Indication, IssueChallengeRequest, RawSignature, VerifyAuthProofRequest,
    VerifySignatureRequest, verify_signature_request::Signature,
};
use jpki_gateway::settings::TenantSettings;
use jpki_gateway::{Gateway, GatewayConfig};
use jpki_testpki::{TestPki, WriteOptions};
use tonic::transport::Channel;

const KEY: &str = "throughput-key";

fn authed<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {KEY}").parse().unwrap());
    request
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Baseline,
    CheckStatus,
    VerifySignatureRaw,
    Login,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Baseline => "baseline (ring RSA-2048 verify)",
            Case::CheckStatus => "check_status (1 id)",
            Case::VerifySignatureRaw => "verify_signature_raw",
            Case::Login => "login (issue + verify proof)",
        }
    }
}

struct Fixture {
    pki: Arc<TestPki>,
    channel: Channel,
    form: Vec<u8>,
    signature: Vec<u8>,
    certificate_id: CertificateId,
}

/// One operation of a case; returns whether it passed.
async fn operate(case: Case, fixture: &Fixture) -> bool {
    let card = fixture.pki.card("h01").unwrap();
    match case {
        Case::Baseline => unreachable!("the baseline runs on blocking threads"),
        Case::CheckStatus => {
            let mut client = StatusServiceClient::new(fixture.channel.clone());
            let request = CheckStatusRequest { certificates: vec![fixture.certificate_id.clone()] };
            client.check_status(authed(request)).await.is_ok()
        }
        Case::VerifySignatureRaw => {
            let mut client = VerificationServiceClient::new(fixture.channel.clone());
            let request = VerifySignatureRequest {
                signature: Some(Signature::Raw(RawSignature {
                    signature: fixture.signature.clone(),
                    certificate: card.signing_cert_der().to_vec(),
                    signed: Some(Signed::Content(fixture.form.clone())),
                    hash: jpki_api::v1::HashAlgorithm::Sha256 as i32,
                })),
                applicant: None,
            };
            let response = client.verify_signature(authed(request)).await;
            response.is_ok_and(|response| {
                response.into_inner().result.is_some_and(|result| result.indication() == Indication::TotalPassed)
            })
        }
        Case::Login => {
            let mut client = VerificationServiceClient::new(fixture.channel.clone());
            let Ok(issued) = client.issue_challenge(authed(IssueChallengeRequest::default())).await else {
                return false;
            };
            let issued = issued.into_inner();
            let proof = VerifyAuthProofRequest {
                challenge_id: issued.challenge_id,
                certificate: card.auth_cert_der().to_vec(),
                signature: card.prove(&issued.challenge).unwrap(),
            };
            let response = client.verify_auth_proof(authed(proof)).await;
            response.is_ok_and(|response| {
                response.into_inner().result.is_some_and(|result| result.indication() == Indication::TotalPassed)
            })
        }
    }
}

struct Measured {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn run_case(case: Case, fixture: &Arc<Fixture>, seconds: f64, concurrency: usize, workers: usize) -> Measured {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    if case == Case::Baseline {
        let card = fixture.pki.card("h01").unwrap();
        let challenge = [7u8; 32];
        let signature = card.prove(&challenge).unwrap();
        let parsed = jpki_core::cert::ParsedCertificate::parse(card.auth_cert_der()).unwrap();
        let key = parsed.rsa_key().unwrap().pkcs1().to_vec();
        for _ in 0..workers {
            let (stop, done, key, signature) = (stop.clone(), done.clone(), key.clone(), signature.clone());
            tasks.push(tokio::task::spawn_blocking(move || {
                let key = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key);
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    key.verify(&challenge, &signature).unwrap();
                    latencies.push(start.elapsed());
                    done.fetch_add(1, Ordering::Relaxed);
                }
                latencies
            }));
        }
    } else {
        for _ in 0..concurrency {
            let (stop, done, fixture) = (stop.clone(), done.clone(), fixture.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    assert!(operate(case, &fixture).await, "{} failed", case.name());
                    latencies.push(start.elapsed());
                    done.fetch_add(1, Ordering::Relaxed);
                }
                latencies
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    Measured { rate: done.load(Ordering::Relaxed) as f64 / elapsed, p50_ms: percentile(0.5), p99_ms: percentile(0.99) }
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).filter(|argument| !argument.starts_with("--")).collect();
    let seconds: f64 = arguments.first().map_or(3.0, |text| text.parse().unwrap());
    let concurrency: usize = arguments.get(1).map_or(16, |text| text.parse().unwrap());
    let rounds: usize = arguments.get(2).map_or(3, |text| text.parse().unwrap());
    let workers = std::thread::available_parallelism().map_or(2, |cores| cores.get());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::cached(2026).unwrap();
        let pki_dir = dir.path().join("pki");
        pki.write_to(
            &pki_dir,
            &WriteOptions::with_crl_time(time::OffsetDateTime::now_utc() - time::Duration::minutes(5)),
        )
        .unwrap();
        let mut config = GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            plaintext: true,
            data_dir: dir.path().join("data"),
            tenants: vec![TenantSettings {
                id: "bench".into(),
                api_key: Some(KEY.into()),
                api_key_sha256: None,
                four_fields: vec![],
            }],
            ..GatewayConfig::default()
        };
        config.limits.max_concurrent_requests = 4096;
        let manifest = jpki_testpki::TestPki::load_manifest(&pki_dir).unwrap();
        config.trust.add(manifest.anchor_files(&pki_dir), manifest.policy_oids());
        config.trust.crl_files = vec![pki_dir.join("crl")];
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let gateway = Gateway::start(config, listener).await.unwrap();
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", gateway.local_addr()))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let card = pki.card("h01").unwrap();
        let form = vec![b'x'; 1024];
        let signature = card.sign_document(&form).unwrap();
        let holder = pki.holder("h01").unwrap();
        let certificate_id = CertificateId {
            ca_key_id: hex::encode(pki.ca_by_label(holder.signing().issuer_label()).unwrap().key_id()),
            serial: holder.signing().serial_hex(),
        };
        let fixture = Arc::new(Fixture { pki: pki.clone(), channel, form, signature, certificate_id });
        // Warm up: chain caches, connections, the store file.
        for case in [Case::CheckStatus, Case::VerifySignatureRaw, Case::Login] {
            assert!(operate(case, &fixture).await, "{} does not pass", case.name());
        }
        let cases = [Case::Baseline, Case::CheckStatus, Case::VerifySignatureRaw, Case::Login];
        let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        let mut last: Vec<Option<Measured>> = (0..cases.len()).map(|_| None).collect();
        println!("{workers} cores, {concurrency} concurrent calls, {seconds} s per case, {rounds} rounds");
        for round in 0..rounds {
            let mut baseline = 0.0;
            for (index, case) in cases.iter().enumerate().cycle().skip(round % cases.len()).take(cases.len()) {
                let measured = run_case(*case, &fixture, seconds, concurrency, workers).await;
                if *case == Case::Baseline {
                    baseline = measured.rate;
                }
                last[index] = Some(measured);
            }
            for (index, measured) in last.iter().enumerate() {
                ratios[index].push(measured.as_ref().unwrap().rate / baseline);
            }
        }
        println!("| case | rate (/s, last round) | p50 ms | p99 ms | ratio vs baseline (median of rounds) |");
        println!("|---|---|---|---|---|");
        for (index, case) in cases.iter().enumerate() {
            let mut case_ratios = ratios[index].clone();
            case_ratios.sort_by(f64::total_cmp);
            let median = case_ratios[case_ratios.len() / 2];
            let measured = last[index].as_ref().unwrap();
            println!(
                "| {} | {:.0} | {:.2} | {:.2} | {:.3}x |",
                case.name(),
                measured.rate,
                measured.p50_ms,
                measured.p99_ms,
                median
            );
        }
        gateway.shutdown().await.unwrap();
    });
}
