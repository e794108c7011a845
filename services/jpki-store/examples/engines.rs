//! The embedded engines against each other on the writes of a login: `put_challenge` then
//! `settle_proof` (the challenge's use and the attempt's record, one durable commit), from T
//! threads at once. Prints, per engine and thread count, logins per second and the process's CPU
//! per login (user + system, from `/proc/self/stat`), beside a bare ring RSA-2048 verification
//! timed in the same run. Each engine runs the logins twice: plain, and as the gateway writes them
//! (`+audit`: each write through `write_audited`, with its audit leaves and the certificate kept as
//! evidence).
//!
//! Then the cost of one `fdatasync` after a 2.5 KB write (about a journal frame of a passed
//! verification with its event), when the write appends to the file and when it overwrites zeros
//! already written ahead of it (what the journal does; `journal.rs`, `Appender`).
//!
//! Then, for the journal, what an operator sizes for: the resident memory per stored login (its
//! used challenge and its verification record, with the indexes) after `--memory N` logins, how
//! long calls wait while that journal is compacted, and how long reopening (replaying) it takes.
//!
//! `cargo run --release -p jpki-store --example engines -- [LOGINS_PER_THREAD] [THREADS,...] [MEMORY_LOGINS]`
//! (defaults 2000, 1,4,16,32 and 200000). Needs a writable `$TMPDIR` on the disk being measured.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use jpki_core::CertId;
use jpki_store::{Challenge, JournalStore, LocalStore, TenantId, TenantStore, VerificationKind, VerificationRecord};

const NOW: i64 = 1_780_272_000;

/// User + system CPU of this process, from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn record(id: String) -> VerificationRecord {
    VerificationRecord {
        id,
        kind: VerificationKind::Authentication,
        passed: true,
        certificate: Some(CertId { ca_key_id: "ab01".repeat(10), serial: "0a1b2c3d".into() }),
        not_after: Some(NOW + 86_400),
        verified_at: NOW,
        transaction_reference: "tx-1".into(),
        purpose: "login".into(),
    }
}

/// An id as the gateway makes them (32 lowercase hex digits of 16 random bytes): distinct for
/// each (run, kind, thread, login), and spread like random ones (a fixed 128-bit mix), so that the
/// maps see the gateway's key order and lengths.
fn gateway_id(run: usize, kind: u8, thread: usize, login: usize) -> String {
    let n = (run as u128) << 96 | u128::from(kind) << 88 | (thread as u128) << 64 | login as u128;
    // An odd multiplier is a bijection on u128; the xor-shift spreads the high bits down.
    let mixed = n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    format!("{:032x}", mixed ^ (mixed >> 61))
}

/// A pending challenge of a login.
fn challenge() -> Challenge {
    Challenge { challenge: vec![7; 32], transaction_reference: "tx-1".into(), issued_at: NOW, expires_at: NOW + 300 }
}

/// Logins per second and CPU per login of `login(t, i)` run `per_thread` times on each of
/// `threads` threads at once.
fn timed(threads: usize, per_thread: usize, login: impl Fn(usize, usize) + Sync) -> (f64, Duration) {
    let (cpu0, wall0) = (cpu(), Instant::now());
    std::thread::scope(|scope| {
        for t in 0..threads {
            let login = &login;
            scope.spawn(move || (0..per_thread).for_each(|i| login(t, i)));
        }
    });
    let logins = (threads * per_thread) as f64;
    (logins / wall0.elapsed().as_secs_f64(), (cpu() - cpu0).div_f64(logins))
}

/// One login's plain writes: the challenge, then the proof settled with its record.
fn login(store: &dyn TenantStore, tenant: &TenantId, run: usize, thread: usize, n: usize) {
    let id = gateway_id(run, 0, thread, n);
    store.put_challenge(tenant, &id, challenge()).unwrap();
    store.settle_proof(tenant, &id, NOW + 1, record(gateway_id(run, 1, thread, n)), None).unwrap();
}

/// Logins per second and CPU per login.
fn run(store: &dyn TenantStore, threads: usize, per_thread: usize) -> (f64, Duration) {
    let tenant = TenantId::new("bank-a").unwrap();
    timed(threads, per_thread, |t, i| login(store, &tenant, threads, t, i))
}

/// A VerifyAuthProof's audit leaf as the gateway writes it (959 bytes of JSON).
const LEAF: &str = r#"{"v":1,"time":1780272000,"tenant":"bank-a","principal":"bank-a","credential":"config.bank-a","rpc":"/jpki.gateway.v1.VerificationService/VerifyAuthProof","purpose":"login","request_id":"b7f54e03-177b-4a2e-91c9-268ac4cc2cdd","code":"OK","indication":"TOTAL_PASSED","certificate":{"ca_key_id":"23f28eaa35d8cd9beced9c000866be5897d1b789","serial":"92a65699709f0a1e06d56f9f5d49a27b"},"digests":{"certificate_sha256":"23a9704ba35dae457954aa40d1a0484bc5dba1557a26241fcf5d2ae821fc6643","signature_sha256":"4b994ee959ae9c3c41ede5095dd03f00244e934f2440ef3478bc23e21961531e"},"revocation":[{"issuer_key_id":"23f28eaa35d8cd9beced9c000866be5897d1b789","scope":"base","number":"1","sha256":"c53099513cd742335a1a01ce44bfb82486accb86c52cf91adc84975b99a957a4"}],"detail":{"challenge_id":"4082fcb00fd63a8d93bb688e9e4d8237","verification_id":"5b09ff1ac78da7cf7e327faaaa798b54"}}"#;

/// Logins per second and CPU per login as the gateway writes them: each write with its audit
/// leaves (`write_audited`; the proof's with a leaf per outcome and 1.4 KB of certificate kept as
/// evidence), so that the store's cost per call includes encoding the leaf and the evidence.
fn run_audited(store: &dyn TenantStore, threads: usize, per_thread: usize) -> (f64, Duration) {
    use jpki_store::{AuditLeaves, TenantWrite};
    let tenant = TenantId::new("bank-a").unwrap();
    let der: Vec<u8> = (0..1438u32).map(|i| (i * 7) as u8).collect();
    let key: [u8; 32] = Sha256::digest(&der).into();
    timed(threads, per_thread, |t, i| {
        let id = gateway_id(threads, 2, t, i);
        let put = TenantWrite::PutChallenge { id: id.clone(), challenge: challenge() };
        store.write_audited(&tenant, put, AuditLeaves::one(LEAF.to_owned())).unwrap();
        let verified = record(gateway_id(threads, 3, t, i));
        let settle = TenantWrite::SettleProof { id, now: NOW + 1, verified, watch: None };
        let leaves = settle
            .outcomes()
            .iter()
            .fold(AuditLeaves::default(), |leaves, outcome| leaves.with(*outcome, LEAF.to_owned()));
        store.write_audited(&tenant, settle, leaves.with_evidence(key, der.clone())).unwrap();
    })
}

/// CPU of one bare ring RSA-2048 PKCS#1 v1.5 SHA-256 verification of a test card's proof, as
/// the load generator's baseline.
fn rsa_baseline() -> Duration {
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    let pki = jpki_testsupport::testing::pki();
    let card = pki.card("h01").unwrap();
    let challenge = [7u8; 32];
    let proof = card.prove(&challenge).unwrap();
    let parsed = jpki_core::cert::ParsedCertificate::parse(card.auth_cert_der()).unwrap();
    let key = parsed.rsa_key().unwrap();
    let (cpu0, started) = (cpu(), Instant::now());
    let mut n = 0u32;
    while started.elapsed() < Duration::from_secs(1) {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.pkcs1()).verify(&challenge, &proof).unwrap();
        n += 1;
    }
    (cpu() - cpu0) / n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per_thread: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let thread_counts: Vec<usize> =
        args.get(2).map(|a| a.split(',').filter_map(|t| t.parse().ok()).collect()).unwrap_or(vec![1, 4, 16, 32]);
    let rsa = rsa_baseline();
    println!("bare RSA-2048 verify: {:.1} µs CPU; {per_thread} logins per thread", rsa.as_secs_f64() * 1e6);
    println!("{:<14} {:>8} {:>12} {:>16} {:>10}", "engine", "threads", "logins/s", "CPU/login µs", "× RSA");
    for threads in thread_counts {
        let dir = tempfile::tempdir().unwrap();
        let engines: [(&str, Box<dyn TenantStore>); 2] = [
            ("redb", Box::new(LocalStore::open(dir.path().join("store.redb")).unwrap())),
            ("journal", Box::new(JournalStore::open(dir.path().join("store.journal")).unwrap())),
        ];
        for (name, store) in &engines {
            let plain = run(store.as_ref(), threads, per_thread);
            let audited = run_audited(store.as_ref(), threads, per_thread);
            for (name, (rate, per_login)) in [(name.to_string(), plain), (format!("{name}+audit"), audited)] {
                let micros = per_login.as_secs_f64() * 1e6;
                println!(
                    "{name:<14} {threads:>8} {rate:>12.0} {micros:>16.1} {:>10.2}",
                    micros / (rsa.as_secs_f64() * 1e6)
                );
            }
        }
    }
    sync_cost(rsa);
    let logins: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    journal_size(logins);
}

/// Wall time and CPU per `write` + `fdatasync` of a 2.5 KB frame, appending and overwriting
/// zeros written ahead, alternated three times.
fn sync_cost(rsa: Duration) {
    use std::os::unix::fs::FileExt;
    const SYNCS: usize = 2000;
    const FRAME: usize = 2500;
    let dir = tempfile::tempdir().unwrap();
    let frame = vec![b'x'; FRAME];
    println!("{:<22} {:>14} {:>14} {:>8}", "write + fdatasync", "wall/sync µs", "CPU/sync µs", "× RSA");
    for _ in 0..3 {
        for preallocated in [false, true] {
            let path = dir.path().join("sync-cost");
            let _ = std::fs::remove_file(&path);
            let file =
                std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
            if preallocated {
                file.write_all_at(&vec![0; SYNCS * FRAME + 4096], 0).unwrap();
                file.sync_all().unwrap();
            }
            let (cpu0, wall0) = (cpu(), Instant::now());
            for n in 0..SYNCS {
                file.write_all_at(&frame, (n * FRAME) as u64).unwrap();
                file.sync_data().unwrap();
            }
            let (wall, used) = (wall0.elapsed() / SYNCS as u32, (cpu() - cpu0) / SYNCS as u32);
            println!(
                "{:<22} {:>14.1} {:>14.1} {:>8.2}",
                if preallocated { "overwriting zeros" } else { "appending" },
                wall.as_secs_f64() * 1e6,
                used.as_secs_f64() * 1e6,
                used.as_secs_f64() / rsa.as_secs_f64()
            );
        }
    }
}

/// How long calls wait while `store` is compacted: one thread logs in without pause while this
/// one compacts; prints the compaction's wall time beside the calls' typical and longest latency.
fn compaction_stall(store: &JournalStore) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let tenant = TenantId::new("bank-a").unwrap();
    let stop = AtomicBool::new(false);
    let (compaction, mut latencies) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut latencies = Vec::new();
            for n in 0.. {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let started = Instant::now();
                // Run 99: ids no other run of this store uses.
                login(store, &tenant, 99, 0, n);
                latencies.push(started.elapsed());
            }
            latencies
        });
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        store.compact().unwrap();
        let compaction = started.elapsed();
        std::thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::Release);
        (compaction, writer.join().unwrap())
    });
    latencies.sort();
    let quantile = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!(
        "compaction of that journal: {:.2} s; a login meanwhile (of {} from one thread): p50 {:.2} ms, \
         p99 {:.2} ms, longest {:.2} ms",
        compaction.as_secs_f64(),
        latencies.len(),
        quantile(0.5),
        quantile(0.99),
        quantile(1.0)
    );
}

/// Resident set size of this process, from `/proc/self/statm` (pages of 4 KiB).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

/// Memory per stored login, journal bytes per login, and the replay time of `logins` logins.
fn journal_size(logins: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.journal");
    let before = resident_bytes();
    let store = JournalStore::open(&path).unwrap();
    // 16 threads, so that the writes share syncs and the run stays short.
    run(&store, 16, logins / 16);
    let resident = resident_bytes().saturating_sub(before);
    compaction_stall(&store);
    drop(store);
    let file = std::fs::metadata(&path).unwrap().len();
    let started = Instant::now();
    let (cpu0, reopened) = (cpu(), JournalStore::open(&path).unwrap());
    let (replay_wall, replay_cpu) = (started.elapsed(), cpu() - cpu0);
    let n = (logins / 16 * 16) as u64;
    println!(
        "journal after {n} logins: {:.0} B resident per login, {:.0} B of journal per login; \
         reopening replayed {} entries in {:.2} s ({:.2} s CPU)",
        resident as f64 / n as f64,
        file as f64 / n as f64,
        reopened.recovery().entries,
        replay_wall.as_secs_f64(),
        replay_cpu.as_secs_f64()
    );
}
