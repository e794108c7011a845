//! Profiling harness for the 10M-entry load: generates the list in memory, then runs
//! [`CompactList::from_der`] (parse + signature check + index) a few times, printing the wall time
//! and the CPU time of each (the load is single-threaded; CPU time is what the target bounds, and
//! it moves less than wall time on a shared machine).
//!
//! ```text
//! cargo build --release -p jpki-revocation --example crl_profile
//! perf record -g -o crl.perf target/release/examples/crl_profile 10000000 3
//! perf report -i crl.perf --no-children --percent-limit 1
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use jpki_core::{AlgorithmPolicy, CertKind, TrustAnchor};
use jpki_revocation::CompactList;
use jpki_testpki::{CertKind as PkiKind, TestPki, write_large_crl};

fn main() {
    let mut args = std::env::args().skip(1);
    let entries: u64 = args.next().map_or(10_000_000, |text| text.parse().expect("entry count"));
    let rounds: usize = args.next().map_or(3, |text| text.parse().expect("rounds"));
    let pki = TestPki::generate(2026).expect("test PKI");
    let ca = pki.ca(PkiKind::SigningCard, 2).expect("signing CA");
    let anchors =
        vec![TrustAnchor::from_der(CertKind::SigningCard, ca.cert_der(), &AlgorithmPolicy::default()).expect("anchor")];
    let mut der = Vec::with_capacity(entries as usize * 49 + 4096);
    write_large_crl(ca.issuer(), entries, &mut der).expect("write CRL");
    for round in 0..rounds {
        let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
        let list = CompactList::from_der("profile", &der, &anchors, jpki_testsupport::testing::at()).expect("load");
        let cpu = thread_cpu_ns().saturating_sub(cpu_start);
        let peak = list.resident_bytes() as f64 / list.len().max(1) as f64;
        println!(
            "round {round}: {} entries loaded in {:.2?} wall, {:.3} s CPU, {peak:.1} B/entry resident",
            list.len(),
            start.elapsed(),
            cpu as f64 / 1e9
        );
    }
}

/// This thread's CPU time in ns (Linux: the first field of /proc/thread-self/schedstat).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|field| field.parse().ok()))
        .unwrap_or(0)
}
