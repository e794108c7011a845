//! A test log: events, a signer and a bundle written with two checkpoints.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use jpki_audit::{AuditEvent, Bundle, CertRef, LogHashes, LogSigner, sha256_hex};

pub const PLATFORM: &str = "jpki-gateway.example";
pub const TENANT: &str = "acme";

pub fn event(i: u64) -> AuditEvent {
    let mut digests = BTreeMap::new();
    digests.insert("document_sha256".to_owned(), sha256_hex(format!("document {i}").as_bytes()));
    let mut detail = BTreeMap::new();
    detail.insert("verification_id".to_owned(), format!("v-{i:05}"));
    AuditEvent {
        v: 1,
        time: 1_780_000_000 + i as i64,
        tenant: TENANT.into(),
        principal: "p-bank".into(),
        credential: "k-1".into(),
        rpc: "/jpki.gateway.v1.GatewayService/VerifySignature".into(),
        purpose: Some("account opening".into()),
        request_id: format!("req-{i:05}"),
        trace_id: None,
        code: "OK".into(),
        indication: Some("TOTAL-PASSED".into()),
        sub_indication: None,
        reason: None,
        certificate: Some(CertRef { ca_key_id: "0a1b".into(), serial: format!("{i:x}") }),
        digests,
        count: None,
        revocation: vec![],
        detail,
    }
}

pub fn leaves(n: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| event(i).leaf().unwrap()).collect()
}

pub fn origin() -> String {
    jpki_audit::origin(PLATFORM, TENANT).unwrap()
}

pub fn signer() -> LogSigner {
    LogSigner::from_seed(&origin(), &[7; 32]).unwrap()
}

/// Signed checkpoints of `leaves` at each of `sizes`.
pub fn checkpoints(signer: &LogSigner, leaves: &[Vec<u8>], sizes: &[u64]) -> Vec<String> {
    let tree = LogHashes::from_leaves(leaves).unwrap();
    sizes.iter().map(|&size| signer.sign(&origin(), size, tree.root(size).unwrap()).unwrap()).collect()
}

/// A bundle of `n` events with checkpoints at `first` and `n`.
pub fn write_bundle(dir: &Path, first: u64, n: u64) -> Vec<Vec<u8>> {
    let signer = signer();
    let leaves = leaves(n);
    let notes = checkpoints(&signer, &leaves, &[first, n]);
    Bundle::write(dir, &origin(), &[signer.vkey()], &leaves, &notes).unwrap();
    leaves
}

/// events.jsonl from these lines.
pub fn write_events(dir: &Path, lines: &[Vec<u8>]) {
    let mut data = Vec::new();
    for line in lines {
        data.extend_from_slice(line);
        data.push(b'\n');
    }
    std::fs::write(dir.join("events.jsonl"), data).unwrap();
}
