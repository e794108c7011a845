//! Profiling harness for the 10M-entry load: generates the list in memory, then runs
//! [`CompactList::from_der`] (parse + signature check + index) a few times, printing each time.
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
        let start = Instant::now();
        let list = CompactList::from_der("profile", &der, &anchors, jpki_testsupport::testing::at()).expect("load");
        println!("round {round}: {} entries loaded in {:.2?}", list.len(), start.elapsed());
    }
}
