//! The archive's cost per event, measured: integrates synthetic events shaped like the gateway's
//! (510 bytes, the demo's median; one in two a verification citing its certificate and two lists)
//! into a FileArchive, and into a PgArchive when `JPKI_ARCHIVE_PG_URL` is set, and prints the CPU
//! time and the bytes per event, with bare RSA-2048 verifications measured in the same run as the
//! baseline. Then the cost of archiving distinct certificates as evidence (1.4 KB each, a
//! customer's), one commit per certificate against one per page of 256 (the integrator's page).
//! docs/performance.md quotes it:
//!
//! ```sh
//! cargo run --release -p jpki-archive --example sizing -- 100000
//! JPKI_ARCHIVE_PG_URL=postgres://postgres@127.0.0.1:5432/test cargo run --release -p jpki-archive --example sizing -- 100000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Instant;

use jpki_archive::{AuditArchive, FileArchive, LeafIn, PgArchive};

/// Events per integrate call (the integrator's page).
const PAGE: usize = 1024;

fn main() {
    let events: u64 = std::env::args().nth(1).map_or(100_000, |count| count.parse().expect("a number of events"));
    let rsa = rsa_verify_micros();
    println!("baseline: one bare RSA-2048 PKCS#1 v1.5 SHA-256 verification (ring) = {rsa:.1} µs");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.redb");
    let file = FileArchive::open(&path).unwrap();
    let micros = integrate(&file, "sizing-file", events);
    let bytes = std::fs::metadata(&path).unwrap().len();
    report("FileArchive (redb)", events, micros, rsa, bytes);
    evidence_cost(&file, "FileArchive (redb)", "sizing-file", rsa);
    if let Ok(url) = std::env::var("JPKI_ARCHIVE_PG_URL") {
        let pg = PgArchive::connect(&url).unwrap();
        let tenant = format!("sizing-{}", std::process::id());
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let size = |client: &mut postgres::Client| -> i64 {
            let row = client
                .query_one(
                    "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c \
                     WHERE c.relkind = 'r' AND c.relname IN ('archive_leaves', 'archive_citations')",
                    &[],
                )
                .unwrap();
            row.get(0)
        };
        let before = size(&mut client);
        let micros = integrate(&pg, &tenant, events);
        client.batch_execute("VACUUM ANALYZE archive_leaves").unwrap();
        client.batch_execute("VACUUM ANALYZE archive_citations").unwrap();
        let after = size(&mut client);
        report("PgArchive (PostgreSQL)", events, micros, rsa, u64::try_from(after - before).unwrap_or(0));
        evidence_cost(&pg, "PgArchive (PostgreSQL)", &tenant, rsa);
        client.execute("DELETE FROM archive_evidence WHERE owner = $1", &[&tenant]).unwrap();
        client.execute("DELETE FROM archive_citations WHERE tenant = $1", &[&tenant]).unwrap();
        client.execute("DELETE FROM archive_leaves WHERE tenant = $1", &[&tenant]).unwrap();
        client.execute("DELETE FROM archive_sizes WHERE tenant = $1", &[&tenant]).unwrap();
    }
}

/// Certificates in each half of [`evidence_cost`], and per batch in its second half.
const CERTIFICATES: u64 = 1024;
const EVIDENCE_PAGE: usize = 256;

/// Wall time per certificate kept as evidence: `CERTIFICATES` distinct ones put one at a time, then
/// as many others in batches of `EVIDENCE_PAGE`.
fn evidence_cost(archive: &dyn AuditArchive, name: &str, tenant: &str, rsa: f64) {
    let owner = jpki_archive::EvidenceOwner::Tenant(tenant);
    let certificate = |n: u64| -> ([u8; 32], Vec<u8>) {
        let der: Vec<u8> = (0..1438u64).map(|i| (i.wrapping_mul(n | 1) >> 3) as u8).chain(n.to_be_bytes()).collect();
        (<sha2::Sha256 as sha2::Digest>::digest(&der).into(), der)
    };
    let started = Instant::now();
    for n in 0..CERTIFICATES {
        let (key, der) = certificate(n);
        archive.put_evidence(owner, &key, &der).unwrap();
    }
    let alone = started.elapsed().as_secs_f64() * 1e6 / CERTIFICATES as f64;
    let items: Vec<([u8; 32], Vec<u8>)> = (CERTIFICATES..2 * CERTIFICATES).map(certificate).collect();
    let started = Instant::now();
    for page in items.chunks(EVIDENCE_PAGE) {
        let page: Vec<(&[u8; 32], &[u8])> = page.iter().map(|(key, der)| (key, der.as_slice())).collect();
        archive.put_evidence_batch(owner, &page).unwrap();
    }
    let batched = started.elapsed().as_secs_f64() * 1e6 / CERTIFICATES as f64;
    println!(
        "{name}: evidence, {CERTIFICATES} distinct certificates: one commit each {alone:.1} µs per certificate \
         ({:.2}× RSA), in batches of {EVIDENCE_PAGE} {batched:.1} µs ({:.3}× RSA)",
        alone / rsa,
        batched / rsa
    );
}

fn report(name: &str, events: u64, micros: f64, rsa: f64, bytes: u64) {
    let per_event = micros / events as f64;
    println!(
        "{name}: {events} events, {per_event:.2} µs per event ({:.3}× an RSA verification), {:.0} bytes per event",
        per_event / rsa,
        bytes as f64 / events as f64
    );
}

/// Integrates `events` synthetic events in pages; the elapsed time in µs.
fn integrate(archive: &dyn AuditArchive, tenant: &str, events: u64) -> f64 {
    let started = Instant::now();
    let mut from = 0;
    while from < events {
        let page: Vec<LeafIn> = (from..events.min(from + PAGE as u64)).map(event).collect();
        from = archive.integrate(tenant, from, &page).unwrap();
    }
    started.elapsed().as_secs_f64() * 1e6
}

fn event(index: u64) -> LeafIn {
    let mut leaf = format!("{{\"v\":1,\"time\":{},\"index\":{index},\"pad\":\"", 1_764_900_000 + index);
    while leaf.len() < 508 {
        leaf.push('x');
    }
    leaf.push_str("\"}");
    let verification = index.is_multiple_of(2);
    let key = |text: String| -> [u8; 32] { <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()).into() };
    LeafIn {
        leaf,
        time: 1_764_900_000 + i64::try_from(index).unwrap_or(i64::MAX),
        certificate: verification.then(|| format!("a1b2c3d4e5f60718293a4b5c6d7e8f9012345678:{:x}", index / 10)),
        evidence: verification.then(|| key(format!("certificate {}", index / 10))),
        lists: if verification {
            vec![key(format!("base {}", index / 50_000)), key(format!("delta {}", index / 5_000))]
        } else {
            Vec::new()
        },
    }
}

/// One bare RSA-2048 verification, µs (median of 5 rounds of 200).
fn rsa_verify_micros() -> f64 {
    let key = include_bytes!("rsa/public-key.der");
    let message = include_bytes!("rsa/message.txt");
    let signature = include_bytes!("rsa/signature.bin");
    let public = ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key);
    let mut rounds: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..200 {
                public.verify(message, signature).unwrap();
            }
            started.elapsed().as_secs_f64() * 1e6 / 200.0
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}
