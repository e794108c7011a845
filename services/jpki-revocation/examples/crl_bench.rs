//! Load and lookup benchmark of the compact CRL store on a generated national-scale list.
//!
//! ```text
//! cargo run --release -p jpki-revocation --example crl_bench            # 1M entries
//! cargo run --release -p jpki-revocation --example crl_bench -- 10000000 # 10M entries
//! ```
//!
//! Generates N entries with jpki-testpki's streaming writer into a temporary file, loads it
//! (parse + signature check + index) and reports the load time, the index's bytes per entry, the
//! process's VmHWM/VmRSS before and after, and lookup mean and p99 over random hits; then the
//! same for a `HashSet<u64>` of the same serials (low 8 bytes) as a baseline. Linux only for the
//! memory figures (read from /proc/self/status). Not part of the test suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::hint::black_box;
use std::io::BufWriter;
use std::time::{Duration, Instant};

use jpki_core::{AlgorithmPolicy, CertKind, TrustAnchor};
use jpki_revocation::{CompactList, parse_crl};
use jpki_testpki::crl::{LargeCrlOptions, large_crl_serial};
use jpki_testpki::{CertKind as PkiKind, TestPki, write_large_crl};

const LOOKUPS: usize = 1_000_000;

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

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
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

/// Mean (from one batch loop) and p99 (per call, timer overhead included) in nanoseconds.
fn measure<T>(probes: &[T], mut lookup: impl FnMut(&T) -> bool) -> (f64, f64) {
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
    let p99 = samples[samples.len() * 99 / 100].as_nanos() as f64;
    (mean, p99)
}

fn main() {
    let entries: u64 = std::env::args().nth(1).map_or(1_000_000, |text| text.parse().expect("entry count"));
    let pki = TestPki::generate(2026).expect("test PKI");
    let ca = pki.ca(PkiKind::SigningCard, 2).expect("signing CA");
    let anchors: Vec<TrustAnchor> = pki
        .cas()
        .iter()
        .filter(|ca| ca.is_anchor() && ca.kind() == PkiKind::SigningCard)
        .map(|ca| TrustAnchor::from_der(CertKind::SigningCard, ca.cert_der(), &AlgorithmPolicy::default()).unwrap())
        .collect();

    let path = std::env::temp_dir().join(format!("jpki-crl-bench-{}-{entries}.der", std::process::id()));
    let start = Instant::now();
    let file = std::fs::File::create(&path).expect("temp file");
    let info = write_large_crl(ca.issuer(), entries, BufWriter::new(file)).expect("write CRL");
    println!(
        "generated {} entries, {:.1} MiB, in {:.2?} -> {}",
        info.entry_count,
        mib(info.total_len),
        start.elapsed(),
        path.display()
    );

    let (_, rss_start) = memory();
    let start = Instant::now();
    let der = std::fs::read(&path).expect("read CRL");
    println!("read file: {:.2?}", start.elapsed());
    let _ = std::fs::remove_file(&path);

    let start = Instant::now();
    let parsed = parse_crl(&der, |entry| {
        black_box(entry);
        Ok(())
    })
    .expect("parse");
    println!("parse + hash only (no index): {:.2?} ({} entries)", start.elapsed(), parsed.entry_count);

    let (hwm_before, _) = memory();
    let start = Instant::now();
    let list = CompactList::from_der("bench", &der, &anchors).expect("load");
    let load = start.elapsed();
    let (hwm_after, rss_loaded) = memory();
    drop(der);
    let (_, rss_after) = memory();
    println!("load (parse + signature check + index): {load:.2?}");
    println!(
        "entries: {}, index: {:.1} MiB = {:.2} bytes/entry",
        list.len(),
        mib(list.resident_bytes() as u64),
        list.resident_bytes() as f64 / list.len() as f64
    );
    println!(
        "VmHWM before load {:.1} MiB (holds the DER), after {:.1} MiB (+{:.2} bytes/entry: the load's peak above the DER)",
        mib(hwm_before),
        mib(hwm_after),
        hwm_after.saturating_sub(hwm_before) as f64 / entries as f64
    );
    println!(
        "VmRSS before reading the DER {:.1} MiB, with list and DER {:.1} MiB, list only {:.1} MiB (+{:.2} bytes/entry)",
        mib(rss_start),
        mib(rss_loaded),
        mib(rss_after),
        rss_after.saturating_sub(rss_start) as f64 / entries as f64
    );

    let seed = LargeCrlOptions::default().seed;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let probes: Vec<[u8; 16]> = (0..LOOKUPS).map(|_| large_crl_serial(seed, rng.next() % entries)).collect();
    let (mean, p99) = measure(&probes, |serial| list.lookup(serial).is_some());
    println!("compact lookup over {LOOKUPS} random hits: mean {mean:.0} ns, p99 {p99:.0} ns");

    let start = Instant::now();
    let mut set: HashSet<u64> = HashSet::with_capacity(entries as usize);
    for index in 0..entries {
        let serial = large_crl_serial(seed, index);
        set.insert(u64::from_be_bytes(serial[8..].try_into().expect("8 bytes")));
    }
    let build = start.elapsed();
    // hashbrown's table: one u64 and one control byte per bucket, buckets = capacity * 8 / 7
    // rounded up to a power of two. (RSS deltas are unreliable here: the set reuses pages the
    // loader freed.)
    let buckets = (set.capacity() * 8 / 7).next_power_of_two();
    let set_bytes = (buckets * (size_of::<u64>() + 1)) as u64;
    let set_probes: Vec<u64> =
        probes.iter().map(|serial| u64::from_be_bytes(serial[8..].try_into().expect("8 bytes"))).collect();
    let (set_mean, set_p99) = measure(&set_probes, |key| set.contains(key));
    println!(
        "HashSet<u64> baseline: build {build:.2?} (from generated serials, no parsing), {:.2} bytes/entry (table), \
         lookup mean {set_mean:.0} ns, p99 {set_p99:.0} ns",
        set_bytes as f64 / entries as f64
    );
    println!(
        "ratio compact/HashSet: lookup mean {:.2}x, p99 {:.2}x, bytes/entry {:.2}x (index) ",
        mean / set_mean,
        p99 / set_p99,
        (list.resident_bytes() as f64 / list.len() as f64) / (set_bytes as f64 / entries as f64).max(f64::MIN_POSITIVE)
    );
    black_box(&set);
    black_box(&list);
}
