//! Issue 3 benchmark of the compact CRL store on a generated national-scale list, with every
//! figure and ratio measured in one run.
//!
//! ```text
//! cargo run --release -p jpki-revocation --example crl_bench                      # 1M entries
//! cargo run --release -p jpki-revocation --example crl_bench -- 10000000          # 10M entries
//! cargo run --release -p jpki-revocation --example crl_bench -- 10000000 1000000  # refresh list size
//! ```
//!
//! 1. Generates N entries with jpki-testpki's streaming writer into a temporary file (deleted at
//!    the end) and the issuing CA's certificate next to it.
//! 2. In a child process (a fresh heap, so VmHWM is not polluted by other phases): reads the file
//!    into memory, records VmHWM, loads it with [`CompactList::from_der`] (parse + signature
//!    check + index) and records VmHWM again: the increase is the index plus the load's transient
//!    memory, **without** the file bytes. Then a breakdown (SHA-256 alone, parse alone, parse +
//!    collect, signature, sort + index), lookups (mean and p99 over random hits) directly and
//!    through [`RevocationStore`], and a `HashSet<u64>` of the same serials as a baseline.
//! 3. `openssl crl -noout -inform DER -CAfile CA.pem` on the same file under `/usr/bin/time -v`
//!    (wall time and peak RSS; its stderr must say "verify OK", since `openssl crl` exits 0 even
//!    when the signature check fails).
//! 4. In a child process: rustls-webpki's `OwnedCertRevocationList::from_der` on the same file,
//!    same memory method. It parses and builds a `BTreeMap`; it does **not** check the signature
//!    (webpki does that when a path is verified), so only the parse and index are timed.
//! 5. A refresh under load (in this process): reader threads query a [`RevocationStore`] holding a
//!    1M-entry list (cRLNumber 1) while four more 1M-entry lists (cRLNumbers 2..=5, even numbers
//!    with other serials) are built and swapped in one after the other. Latency of
//!    `RevocationSource::status` before, during a build, overlapping a swap, between and after;
//!    every answer is checked against the list it names (status, date, reason).
//!
//! Prints a summary table with the targets, the load average at each phase and the ratios.
//! Linux only (/proc/self/status, /proc/loadavg). Not part of the test suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jpki_core::revocation::{CertId, RevocationQuery, RevocationReason, RevocationSource, RevocationStatus};
use jpki_core::{AlgorithmPolicy, CertKind, TrustAnchor, UnixTime};
use jpki_revocation::compact::{ListBuilder, ListMeta};
use jpki_revocation::verify::select_signer;
use jpki_revocation::{CompactList, RevocationStore, parse_crl};
use jpki_testpki::crl::{LargeCrlOptions, large_crl_entry, large_crl_serial};
use jpki_testpki::{CertKind as PkiKind, TestPki, write_large_crl_with};

const LOOKUPS: usize = 1_000_000;
/// Lookups through `RevocationStore::status` in the 10M child (each builds a query).
const STORE_LOOKUPS: usize = 200_000;
/// Reader threads during the refresh.
const READERS: usize = 2;
/// Lists swapped in during the refresh test.
const SWAPS: usize = 4;
/// Validation time of every query: 2026-06-01T00:00:00Z, inside both generated lists' validity.
const AT: UnixTime = UnixTime(1_780_272_000);

/// VmHWM and VmRSS in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// User plus system CPU time of this process in seconds (/proc/self/stat, clock ticks of 10 ms on
/// Linux's usual USER_HZ = 100), to tell the work from the time spent waiting for a core.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The 1-minute load average.
fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|first| first.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// xorshift64: random indices without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Lookup latencies in nanoseconds: the mean from one batch loop; p50, p99 and p99.9 per call
/// (timer overhead, about 20 ns, included).
struct Latency {
    mean: f64,
    p50: f64,
    p99: f64,
    p999: f64,
}

fn measure<T>(probes: &[T], mut lookup: impl FnMut(&T) -> bool) -> Latency {
    let start = Instant::now();
    let mut hits = 0usize;
    for probe in probes {
        hits += usize::from(lookup(black_box(probe)));
    }
    let mean = start.elapsed().as_nanos() as f64 / probes.len() as f64;
    assert_eq!(hits, probes.len(), "every probe is a hit");
    let mut samples: Vec<Duration> = probes
        .iter()
        .map(|probe| {
            let start = Instant::now();
            black_box(lookup(black_box(probe)));
            start.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let at = |per_mille: usize| samples[samples.len() * per_mille / 1000].as_nanos() as f64;
    Latency { mean, p50: at(500), p99: at(990), p999: at(999) }
}

/// Reports a [`Latency`] under `prefix`.
fn report_latency(prefix: &str, latency: &Latency) {
    report(&format!("{prefix}_mean_ns"), latency.mean);
    report(&format!("{prefix}_p50_ns"), latency.p50);
    report(&format!("{prefix}_p99_ns"), latency.p99);
    report(&format!("{prefix}_p999_ns"), latency.p999);
}

/// Random generated serials (hits) of the default seed.
fn probes(entries: u64, count: usize) -> Vec<[u8; 16]> {
    let seed = LargeCrlOptions::default().seed;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..count).map(|_| large_crl_serial(seed, rng.next() % entries)).collect()
}

fn signing_anchor(ca_der: &[u8]) -> TrustAnchor {
    TrustAnchor::from_der(CertKind::SigningCard, ca_der, &AlgorithmPolicy::default()).expect("anchor")
}

/// A child's result line: `R key value` on stdout (its human-readable log goes to stderr).
fn report(key: &str, value: f64) {
    println!("R {key} {value}");
}

/// Child: the compact store on the file.
fn child_compact(path: &Path, ca_der: &Path, entries: u64) {
    let anchors = vec![signing_anchor(&std::fs::read(ca_der).expect("CA"))];
    let (hwm_start, rss_start) = memory();
    report("load_avg", loadavg());
    let start = Instant::now();
    let der = std::fs::read(path).expect("read CRL");
    report("read_s", secs(start.elapsed()));
    let (hwm_file, _) = memory();

    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let list = CompactList::from_der("bench", &der, &anchors, AT).expect("load");
    let load = start.elapsed();
    let cpu = cpu_seconds() - cpu_start;
    let (hwm_loaded, rss_loaded) = memory();
    assert_eq!(list.len() as u64, entries);
    report("load_s", secs(load));
    report("load_cpu_s", cpu);
    report("hwm_start_mib", mib(hwm_start));
    report("hwm_file_mib", mib(hwm_file));
    report("hwm_loaded_mib", mib(hwm_loaded));
    report("peak_increase_bpe", hwm_loaded.saturating_sub(hwm_file) as f64 / entries as f64);
    report("index_bpe", list.resident_bytes() as f64 / entries as f64);
    eprintln!(
        "compact: load {load:.2?}; VmHWM start {:.1} MiB, with file {:.1} MiB, after load {:.1} MiB",
        mib(hwm_start),
        mib(hwm_file),
        mib(hwm_loaded)
    );

    // Breakdown of the same work, step by step (after the measured load, so it does not
    // disturb the memory figure; the pages it touches are warm).
    let start = Instant::now();
    black_box(ring::digest::digest(&ring::digest::SHA256, &der));
    report("sha256_s", secs(start.elapsed()));
    let start = Instant::now();
    black_box(parse_crl(&der, |entry| {
        black_box(entry);
        Ok(())
    }))
    .expect("parse");
    report("parse_hash_s", secs(start.elapsed()));
    let start = Instant::now();
    let mut builder = ListBuilder::with_capacity(der.len() / 48);
    let parsed = parse_crl(&der, |entry| builder.push(&entry)).expect("parse");
    report("parse_collect_s", secs(start.elapsed()));
    let start = Instant::now();
    let signer = select_signer(&parsed, &anchors, AT).expect("signature");
    report("verify_s", secs(start.elapsed()));
    let meta = ListMeta {
        label: "breakdown".into(),
        issuer_raw: parsed.issuer_raw.to_vec(),
        issuer_key_id: signer.key_id().to_vec(),
        crl_number: parsed.crl_number.clone(),
        this_update: parsed.this_update,
        next_update: parsed.next_update,
        scope: parsed.scope.clone(),
        delta_base: parsed.delta_base.clone(),
        hash: parsed.hash,
        entries: 0,
        tbs_digest: parsed.tbs_digest.clone(),
    };
    let start = Instant::now();
    let again = builder.finish(meta);
    report("index_s", secs(start.elapsed()));
    assert_eq!(again.len(), list.len());
    drop(again);

    drop(der);
    let (_, rss_list) = memory();
    report("rss_list_bpe", rss_list.saturating_sub(rss_start) as f64 / entries as f64);
    eprintln!("compact: VmRSS with list and file {:.1} MiB, list only {:.1} MiB", mib(rss_loaded), mib(rss_list));

    let probes = probes(entries, LOOKUPS);
    report_latency("lookup", &measure(&probes, |serial| list.lookup(serial).is_some()));

    let start = Instant::now();
    let seed = LargeCrlOptions::default().seed;
    let mut set: HashSet<u64> = HashSet::with_capacity(entries as usize);
    for index in 0..entries {
        let serial = large_crl_serial(seed, index);
        set.insert(u64::from_be_bytes(serial[8..].try_into().expect("8 bytes")));
    }
    report("set_build_s", secs(start.elapsed()));
    // hashbrown's table: one u64 and one control byte per bucket, buckets = capacity * 8 / 7
    // rounded up to a power of two.
    let buckets = (set.capacity() * 8 / 7).next_power_of_two();
    report("set_bpe", (buckets * (size_of::<u64>() + 1)) as f64 / entries as f64);
    let keys: Vec<u64> =
        probes.iter().map(|serial| u64::from_be_bytes(serial[8..].try_into().expect("8 bytes"))).collect();
    report_latency("set", &measure(&keys, |key| set.contains(key)));
    drop(set);

    // The verifier's path: RevocationSource::status (freshness, scope, provenance strings).
    let store = RevocationStore::new(anchors.clone(), 0);
    store.insert(list, AT).expect("insert");
    let anchor = &anchors[0];
    let queries: Vec<(CertId, [u8; 16])> =
        probes[..STORE_LOOKUPS].iter().map(|serial| (CertId::new(anchor.key_id(), serial), *serial)).collect();
    let latency = measure(&queries, |(id, serial)| {
        let query = RevocationQuery { certificate: id, serial, issuer: anchor, distribution_points: &[], at: AT };
        matches!(store.status(&query).status, RevocationStatus::Revoked { .. })
    });
    report_latency("store", &latency);
}

/// Child: rustls-webpki on the file.
fn child_webpki(path: &Path, entries: u64) {
    report("load_avg", loadavg());
    let der = std::fs::read(path).expect("read CRL");
    let (hwm_file, _) = memory();
    let start = Instant::now();
    let crl = webpki::OwnedCertRevocationList::from_der(&der).expect("webpki parse");
    let load = start.elapsed();
    let (hwm_loaded, _) = memory();
    report("load_s", secs(load));
    report("hwm_file_mib", mib(hwm_file));
    report("hwm_loaded_mib", mib(hwm_loaded));
    report("peak_increase_bpe", hwm_loaded.saturating_sub(hwm_file) as f64 / entries as f64);
    eprintln!(
        "webpki: from_der {load:.2?}; VmHWM with file {:.1} MiB, after {:.1} MiB",
        mib(hwm_file),
        mib(hwm_loaded)
    );
    drop(der);
    let crl = webpki::CertRevocationList::from(crl);
    let probes = probes(entries, LOOKUPS);
    report_latency("lookup", &measure(&probes, |serial| crl.find_serial(serial).expect("find").is_some()));
}

/// Runs this binary as a child and collects its `R key value` lines.
fn run_child(args: &[&str]) -> BTreeMap<String, f64> {
    let output = Command::new(std::env::current_exe().expect("own path"))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("child");
    assert!(output.status.success(), "child {args:?} failed: {:?}", output.status);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("R")).then_some(())?;
            Some((words.next()?.to_owned(), words.next()?.parse().ok()?))
        })
        .collect()
}

/// openssl's figures: wall seconds (our clock), peak RSS MiB (from /usr/bin/time -v, if present).
struct OpensslRun {
    wall_s: f64,
    max_rss_mib: Option<f64>,
    verified: bool,
    load_avg: f64,
}

fn run_openssl(path: &Path, ca_pem: &Path) -> Option<OpensslRun> {
    let time_v = Path::new("/usr/bin/time").exists();
    let mut command = if time_v {
        let mut command = Command::new("/usr/bin/time");
        command.args(["-v", "openssl"]);
        command
    } else {
        Command::new("openssl")
    };
    command.arg("crl").arg("-noout").arg("-inform").arg("DER").arg("-in").arg(path).arg("-CAfile").arg(ca_pem);
    let load_avg = loadavg();
    let start = Instant::now();
    let output = command.output().ok()?;
    let wall_s = secs(start.elapsed());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let verified = stderr.lines().any(|line| line.trim() == "verify OK");
    if !verified {
        eprintln!("openssl did not say 'verify OK' (exit {:?}):\n{stderr}", output.status);
    }
    let max_rss_mib = stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|kb| kb.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0);
    Some(OpensslRun { wall_s, max_rss_mib, verified, load_avg })
}

/// One generated list of the refresh test, with what each probe must answer.
struct Probe {
    id: CertId,
    serial: [u8; 16],
    /// (revocationDate, reason) in the odd-numbered lists, and in the even-numbered ones.
    expected: [Option<(i64, Option<RevocationReason>)>; 2],
}

fn expected(seed: u64, index: u64) -> (i64, Option<RevocationReason>) {
    let entry = large_crl_entry(seed, index, LargeCrlOptions::default().this_update);
    let reason = entry.reason.map(|reason| RevocationReason::from_code(reason.code()).expect("defined reason"));
    (entry.revocation_date.unix_timestamp(), reason)
}

/// Whether an answer is the one the list it names must give.
fn correct(status: &RevocationStatus, number: u64, probe: &Probe) -> bool {
    let expected = match number {
        0 => return false,
        odd if odd % 2 == 1 => probe.expected[0],
        _ => probe.expected[1],
    };
    match (status, expected) {
        (RevocationStatus::Good, None) => true,
        (RevocationStatus::Revoked { revoked_at, reason }, Some((date, want))) => {
            revoked_at.0 == date && *reason == want
        }
        _ => false,
    }
}

/// One timed lookup: start (ns since the test's epoch), latency (ns), whether it was right,
/// and the cRLNumber of the list that answered (0: none).
#[derive(Clone, Copy)]
struct Sample {
    start: u64,
    latency: u32,
    wrong: bool,
    number: u8,
}

struct WindowStats {
    count: usize,
    mean: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
    wrong: usize,
    /// Distinct cRLNumbers that answered, in order.
    numbers: Vec<u8>,
}

fn window_stats(samples: &[Sample]) -> WindowStats {
    let mut latencies: Vec<u32> = samples.iter().map(|sample| sample.latency).collect();
    latencies.sort_unstable();
    let mut numbers: Vec<u8> = samples.iter().map(|sample| sample.number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    let count = latencies.len();
    let at = |fraction: f64| {
        latencies
            .get(((count as f64 * fraction) as usize).min(count.saturating_sub(1)))
            .map_or(f64::NAN, |&ns| f64::from(ns))
    };
    WindowStats {
        count,
        mean: latencies.iter().map(|&ns| f64::from(ns)).sum::<f64>() / count.max(1) as f64,
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        max: latencies.last().map_or(f64::NAN, |&ns| f64::from(ns)),
        wrong: samples.iter().filter(|sample| sample.wrong).count(),
        numbers,
    }
}

struct RefreshResult {
    entries: u64,
    build_s: f64,
    swap_us: f64,
    swap_max_us: f64,
    load_avg: f64,
    windows: Vec<(&'static str, WindowStats)>,
}

/// Refreshes under continuous lookups: the store starts with list 1 (seed 0); lists 2..=SWAPS+1
/// are built and swapped in one after the other, even numbers with seed 1's serials, odd numbers
/// with seed 0's, so every answer can be checked against the list it names.
fn refresh(ca: &jpki_testpki::Ca, anchors: &[TrustAnchor], entries: u64) -> RefreshResult {
    let generate = |number: u64| {
        let options = LargeCrlOptions { seed: 1 - number % 2, number, ..LargeCrlOptions::default() };
        let mut der = Vec::with_capacity(entries as usize * 49 + 4096);
        write_large_crl_with(ca.issuer(), entries, &options, &mut der).expect("generate");
        der
    };
    let lists: Vec<Vec<u8>> = (1..=SWAPS as u64 + 1).map(generate).collect();
    let store = Arc::new(RevocationStore::new(anchors.to_vec(), 0));
    store.load("list-1", &lists[0], AT).expect("load list 1");
    let anchor = Arc::new(anchors.iter().find(|anchor| anchor.key_id() == ca.key_id()).expect("anchor").clone());

    // A third of the probes in the odd lists only, a third in the even lists only, a third in none.
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let probes: Arc<Vec<Probe>> = Arc::new(
        (0..300_000u64)
            .map(|i| {
                let index = rng.next() % entries;
                let seed = i % 3;
                let serial = large_crl_serial(seed, index);
                let hit = Some(expected(seed, index));
                let expected = match seed {
                    0 => [hit, None],
                    1 => [None, hit],
                    _ => [None, None],
                };
                Probe { id: CertId::new(anchor.key_id(), &serial), serial, expected }
            })
            .collect(),
    );

    let epoch = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|reader| {
            let (store, anchor, probes, done) = (store.clone(), anchor.clone(), probes.clone(), done.clone());
            std::thread::spawn(move || {
                let mut samples: Vec<Sample> = Vec::with_capacity(8_000_000);
                let mut index = reader * 7919;
                while !done.load(Ordering::Relaxed) {
                    let probe = &probes[index % probes.len()];
                    index += 1;
                    let query = RevocationQuery {
                        certificate: &probe.id,
                        serial: &probe.serial,
                        issuer: &anchor,
                        distribution_points: &[],
                        at: AT,
                    };
                    let start = Instant::now();
                    let answer = store.status(black_box(&query));
                    let latency = start.elapsed();
                    let number = answer.provenance.as_ref().and_then(|provenance| provenance.crl_number.as_deref());
                    let number: u64 = number.and_then(|number| number.parse().ok()).unwrap_or(0);
                    samples.push(Sample {
                        start: (start - epoch).as_nanos() as u64,
                        latency: u32::try_from(latency.as_nanos()).unwrap_or(u32::MAX),
                        wrong: !correct(&answer.status, number, probe),
                        number: number as u8,
                    });
                }
                samples
            })
        })
        .collect();

    std::thread::sleep(Duration::from_secs(1));
    let load_avg = loadavg();
    // (build start, swap start, swap end) of each refresh, in ns since the epoch.
    let mut refreshes: Vec<(u64, u64, u64)> = Vec::new();
    for (index, der) in lists.iter().enumerate().skip(1) {
        let build_start = epoch.elapsed().as_nanos() as u64;
        let list = CompactList::from_der(&format!("list-{}", index + 1), der, store.anchors(), AT).expect("build");
        let swap_start = epoch.elapsed().as_nanos() as u64;
        store.insert(list, AT).expect("swap");
        let swap_end = epoch.elapsed().as_nanos() as u64;
        refreshes.push((build_start, swap_start, swap_end));
        std::thread::sleep(Duration::from_millis(300));
    }
    done.store(true, Ordering::Relaxed);
    let samples: Vec<Sample> = readers.into_iter().flat_map(|reader| reader.join().expect("reader")).collect();

    let first = refreshes.first().map_or(0, |refresh| refresh.0);
    let last = refreshes.last().map_or(0, |refresh| refresh.2);
    let end = |sample: &Sample| sample.start + u64::from(sample.latency);
    let in_build = |sample: &Sample| refreshes.iter().any(|r| sample.start >= r.0 && sample.start < r.1);
    let in_swap = |sample: &Sample| refreshes.iter().any(|r| sample.start < r.2 && end(sample) >= r.1);
    let pick = |keep: &dyn Fn(&Sample) -> bool| -> Vec<Sample> { samples.iter().copied().filter(keep).collect() };
    let windows = vec![
        ("before the first refresh", window_stats(&pick(&|s| end(s) < first))),
        ("during a build (parse+sig+sort)", window_stats(&pick(&in_build))),
        ("overlapping a swap (insert)", window_stats(&pick(&in_swap))),
        (
            "between refreshes",
            window_stats(&pick(&|s| s.start >= first && end(s) < last && !in_build(s) && !in_swap(s))),
        ),
        ("after the last swap", window_stats(&pick(&|s| s.start >= last))),
        ("all", window_stats(&samples)),
    ];
    let count = refreshes.len().max(1) as f64;
    RefreshResult {
        entries,
        build_s: refreshes.iter().map(|r| (r.1 - r.0) as f64 / 1e9).sum::<f64>() / count,
        swap_us: refreshes.iter().map(|r| (r.2 - r.1) as f64 / 1e3).sum::<f64>() / count,
        swap_max_us: refreshes.iter().map(|r| (r.2 - r.1) as f64 / 1e3).fold(0.0, f64::max),
        load_avg,
        windows,
    }
}

/// Removes the temporary directory when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let (mode, path, entries) = (&args[2], Path::new(&args[3]), args[4].parse().expect("entries"));
        match mode.as_str() {
            "compact" => child_compact(path, Path::new(&args[5]), entries),
            "webpki" => child_webpki(path, entries),
            other => panic!("unknown child {other}"),
        }
        return;
    }
    let entries: u64 = args.get(1).map_or(1_000_000, |text| text.parse().expect("entry count"));
    let refresh_entries: u64 = args.get(2).map_or(1_000_000, |text| text.parse().expect("refresh entry count"));

    let pki = TestPki::generate(2026).expect("test PKI");
    let ca = pki.ca(PkiKind::SigningCard, 2).expect("signing CA");
    let anchors: Vec<TrustAnchor> = pki
        .cas()
        .iter()
        .filter(|ca| ca.is_anchor() && ca.kind() == PkiKind::SigningCard)
        .map(|ca| signing_anchor(ca.cert_der()))
        .collect();
    let dir = TempDir(std::env::temp_dir().join(format!("jpki-crl-bench-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let (path, ca_der, ca_pem) = (dir.0.join("list.crl"), dir.0.join("ca.der"), dir.0.join("ca.pem"));
    std::fs::write(&ca_der, ca.cert_der()).expect("CA DER");
    std::fs::write(&ca_pem, ca.cert_pem().expect("PEM")).expect("CA PEM");

    let start = Instant::now();
    let file = std::fs::File::create(&path).expect("temp file");
    let info =
        write_large_crl_with(ca.issuer(), entries, &LargeCrlOptions::default(), BufWriter::new(file)).expect("write");
    eprintln!(
        "generated {} entries, {:.1} MiB, in {:.2?} -> {}",
        info.entry_count,
        mib(info.total_len),
        start.elapsed(),
        path.display()
    );
    let path_text = path.to_str().expect("UTF-8 temp path");
    let count = entries.to_string();

    eprintln!("phase 1: compact store (child process)");
    let compact = run_child(&["--child", "compact", path_text, &count, ca_der.to_str().expect("UTF-8")]);
    eprintln!("phase 2: openssl crl");
    let openssl = run_openssl(&path, &ca_pem);
    eprintln!("phase 3: rustls-webpki (child process)");
    let webpki = run_child(&["--child", "webpki", path_text, &count]);
    let _ = std::fs::remove_file(&path);
    eprintln!("phase 4: refresh under lookups ({refresh_entries} entries)");
    let refresh = refresh(ca, &anchors, refresh_entries);

    let c = |key: &str| compact.get(key).copied().unwrap_or(f64::NAN);
    let w = |key: &str| webpki.get(key).copied().unwrap_or(f64::NAN);
    println!();
    println!(
        "== crl_bench: {entries} entries, {:.1} MiB DER; {} cores, {}; load avg at start of each phase in [] ==",
        mib(info.total_len),
        std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model()
    );
    println!("{:<52} {:>16} {:>12}  status", "measure", "value", "target");
    let row = |name: &str, value: String, target: &str, status: &str| {
        println!("{name:<52} {value:>16} {target:>12}  {status}");
    };
    let load = c("load_s");
    row(
        &format!("compact load: parse+sig+index [{:.2}]", c("load_avg")),
        format!("{load:.2} s"),
        "<= 3 s",
        met(load <= 3.0),
    );
    row("  CPU time of the load (user+sys)", format!("{:.2} s", c("load_cpu_s")), "", "");
    row("  (file read before it, not included)", format!("{:.2} s", c("read_s")), "", "");
    row("  breakdown: SHA-256 of the whole file alone", format!("{:.2} s", c("sha256_s")), "", "");
    row("  breakdown: parse + hash, no collect", format!("{:.2} s", c("parse_hash_s")), "", "");
    row("  breakdown: parse + hash + collect records", format!("{:.2} s", c("parse_collect_s")), "", "");
    row("  breakdown: signature (select_signer)", format!("{:.4} s", c("verify_s")), "", "");
    row("  breakdown: sort + dedup + directory", format!("{:.2} s", c("index_s")), "", "");
    let peak = c("peak_increase_bpe");
    row("compact peak increase (VmHWM, file excluded)", format!("{peak:.2} B/entry"), "<= 32 B", met(peak <= 32.0));
    row("  index (resident_bytes)", format!("{:.2} B/entry", c("index_bpe")), "", "");
    row("  VmRSS list only (file dropped) over start", format!("{:.2} B/entry", c("rss_list_bpe")), "", "");
    row(
        "  process VmHWM: start / with file / after load",
        format!("{:.0}/{:.0}/{:.0} MiB", c("hwm_start_mib"), c("hwm_file_mib"), c("hwm_loaded_mib")),
        "",
        "",
    );
    let (mean, p99) = (c("lookup_mean_ns"), c("lookup_p99_ns"));
    row("compact lookup mean (1M random hits)", format!("{mean:.0} ns"), "< 1000 ns", met(mean < 1000.0));
    row("compact lookup p99 (per call, timer incl.)", format!("{p99:.0} ns"), "< 2000 ns", met(p99 < 2000.0));
    let shape = |get: &dyn Fn(&str) -> f64, prefix: &str| {
        format!(
            "{:.0}/{:.0}/{:.0} ns",
            get(&format!("{prefix}_p50_ns")),
            get(&format!("{prefix}_p99_ns")),
            get(&format!("{prefix}_p999_ns"))
        )
    };
    row("  compact lookup p50/p99/p99.9", shape(&c, "lookup"), "", "");
    row("RevocationStore::status mean (200k hits)", format!("{:.0} ns", c("store_mean_ns")), "", "");
    row("  status p50/p99/p99.9", shape(&c, "store"), "", "");
    row("HashSet<u64> lookup mean", format!("{:.0} ns", c("set_mean_ns")), "", "");
    row("  HashSet p50/p99/p99.9", shape(&c, "set"), "", "");
    row("HashSet<u64> table size", format!("{:.2} B/entry", c("set_bpe")), "", "");
    row(
        "ratio compact/HashSet: mean, p99, bytes",
        format!("{:.2}x {:.2}x {:.2}x", mean / c("set_mean_ns"), p99 / c("set_p99_ns"), c("index_bpe") / c("set_bpe")),
        "",
        "",
    );
    match &openssl {
        Some(run) => {
            row(
                &format!("openssl crl -CAfile wall time [{:.2}]", run.load_avg),
                format!("{:.2} s", run.wall_s),
                "",
                if run.verified { "verify OK" } else { "NOT verified" },
            );
            let ours = c("read_s") + load;
            row("ratio openssl wall / compact (read+load)", format!("{:.1}x", run.wall_s / ours), "", "");
            if let Some(rss) = run.max_rss_mib {
                row("openssl peak RSS (/usr/bin/time -v, file incl.)", format!("{rss:.0} MiB"), "", "");
                row(
                    "  = B/entry; ratio to compact process VmHWM",
                    format!("{:.0} B, {:.1}x", rss * 1048576.0 / entries as f64, rss / c("hwm_loaded_mib")),
                    "",
                    "",
                );
            }
        }
        None => row("openssl crl", "not run".into(), "", "openssl missing"),
    }
    row(
        &format!("webpki OwnedCertRevocationList::from_der [{:.2}]", w("load_avg")),
        format!("{:.2} s", w("load_s")),
        "",
        "no sig check",
    );
    row("ratio webpki / compact load time", format!("{:.1}x", w("load_s") / load), "", "");
    row(
        "webpki peak increase (VmHWM, file excluded)",
        format!("{:.1} B/entry", w("peak_increase_bpe")),
        "",
        &format!("{:.1}x compact", w("peak_increase_bpe") / peak),
    );
    row(
        "webpki find_serial mean / p99 (1M random hits)",
        format!("{:.0} / {:.0} ns", w("lookup_mean_ns"), w("lookup_p99_ns")),
        "",
        &format!("{:.1}x / {:.1}x compact", w("lookup_mean_ns") / mean, w("lookup_p99_ns") / p99),
    );
    println!();
    println!(
        "== refresh under load: {} entries, {READERS} reader threads on RevocationStore::status, {SWAPS} refreshes; \
         build (CompactList::from_der) mean {:.2} s, insert (swap) mean {:.0} us, max {:.0} us [{:.2}] ==",
        refresh.entries, refresh.build_s, refresh.swap_us, refresh.swap_max_us, refresh.load_avg
    );
    println!(
        "{:<32} {:>9} {:>8} {:>7} {:>8} {:>9} {:>10} {:>6}  cRLNumbers seen",
        "window", "lookups", "mean ns", "p50 ns", "p99 ns", "p99.9 ns", "max ns", "wrong"
    );
    for (name, stats) in &refresh.windows {
        println!(
            "{name:<32} {:>9} {:>8.0} {:>7.0} {:>8.0} {:>9.0} {:>10.0} {:>6}  {:?}",
            stats.count, stats.mean, stats.p50, stats.p99, stats.p999, stats.max, stats.wrong, stats.numbers
        );
    }
    let wrong = refresh.windows.last().map_or(0, |(_, stats)| stats.wrong);
    println!("wrong answers: {wrong} ({})", met(wrong == 0));
}
