//! An independent check: bundles written by jpki-audit, verified by aics-tlog (pure Python, its own
//! C2SP signed-note, tlog-checkpoint, tlog-tiles and RFC 9162 code) through tests/aics_verify.py.
//!
//! aics-tlog lives in the Python venv made by `services/jpki-gateway/tests/external/setup.sh` (at
//! `$JPKI_EXTERNAL_VENV`, default `<repo>/target/external-venv`). Without it the tests fail when
//! `CI` is set, and are skipped with a message otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::*;
use jpki_audit::{Bundle, LogHashes};
use serde_json::{Value, json};

const FIRST: u64 = 137;
const SIZE: u64 = 700;

/// The venv of setup.sh (see [`jpki_testsupport::external::venv`]).
fn venv() -> Option<PathBuf> {
    jpki_testsupport::external::venv("the aics-tlog tests")
}

fn b64(proof: &[jpki_audit::Hash]) -> Vec<String> {
    proof.iter().map(|h| BASE64.encode(h.0)).collect()
}

/// A bundle of SIZE events with checkpoints at FIRST and SIZE, and proofs.json next to it.
fn bundle_with_proofs(root: &Path) -> (PathBuf, PathBuf) {
    let dir = root.join("bundle");
    let signer = signer();
    let leaves = leaves(SIZE);
    let notes = checkpoints(&signer, &leaves, &[FIRST, SIZE]);
    Bundle::write(&dir, &origin(), &[signer.vkey()], &leaves, &notes).unwrap();
    let tree = LogHashes::from_leaves(&leaves).unwrap();
    let mut inclusion = Vec::new();
    for (index, size) in [
        (0, SIZE),
        (1, SIZE),
        (136, SIZE),
        (255, SIZE),
        (256, SIZE),
        (699, SIZE),
        (0, FIRST),
        (100, FIRST),
        (136, FIRST),
    ] {
        let proof = tree.inclusion_proof(index, size).unwrap();
        inclusion.push(json!({"index": index, "size": size, "proof": b64(&proof)}));
    }
    let consistency: Vec<Value> = [(FIRST, SIZE), (SIZE, SIZE), (FIRST, FIRST)]
        .iter()
        .map(|&(old, new)| json!({"old": old, "new": new, "proof": b64(&tree.consistency_proof(old, new).unwrap())}))
        .collect();
    let proofs = root.join("proofs.json");
    std::fs::write(&proofs, json!({"inclusion": inclusion, "consistency": consistency}).to_string()).unwrap();
    (dir, proofs)
}

/// Runs aics_verify.py; its exit status and JSON report.
fn aics_verify(venv: &Path, dir: &Path, proofs: &Path) -> (bool, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aics_verify.py");
    let output = Command::new(venv.join("bin/python")).arg(script).arg(dir).arg(proofs).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("aics_verify.py: {e}\nstdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr))
    });
    (output.status.success(), report)
}

#[test]
fn aics_tlog_verifies_a_bundle() {
    let Some(venv) = venv() else { return };
    let temp = tempfile::tempdir().unwrap();
    let (dir, proofs) = bundle_with_proofs(temp.path());
    let (ok, report) = aics_verify(&venv, &dir, &proofs);
    assert!(ok, "{report:#}");
    let checked = &report["checked"];
    assert_eq!(checked["checkpoints"], 3, "{report:#}"); // checkpoint, checkpoints/137, checkpoints/700
    // tile/0/000, 001, 002.p/188, tile/1/000.p/2; three entry bundles.
    assert_eq!(checked["tiles"], 4, "{report:#}");
    assert_eq!(checked["entry_bundles"], 3, "{report:#}");
    assert_eq!(checked["entries"], SIZE, "{report:#}");
    assert_eq!(checked["roots_from_tiles"], 2, "{report:#}");
    assert_eq!(checked["inclusion_proofs"], 9, "{report:#}");
    assert_eq!(checked["consistency_proofs"], 3, "{report:#}");
    assert_eq!(report["sizes"], json!([FIRST, SIZE]));
}

#[test]
fn aics_tlog_refuses_an_altered_event() {
    let Some(venv) = venv() else { return };
    let temp = tempfile::tempdir().unwrap();
    let (dir, proofs) = bundle_with_proofs(temp.path());
    let path = dir.join("events.jsonl");
    let mut events = std::fs::read(&path).unwrap();
    // One byte inside event 300 (line 301).
    let start = events.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(299).unwrap().0 + 1;
    events[start + 40] ^= 1;
    std::fs::write(&path, events).unwrap();
    let (ok, report) = aics_verify(&venv, &dir, &proofs);
    assert!(!ok, "{report:#}");
    let errors = report["errors"].to_string();
    assert!(errors.contains("line 300 is not the logged entry 300"), "{report:#}");
    assert!(errors.contains("does not have the signed root"), "{report:#}");
    // And jpki-audit's own verifier names the same event.
    assert_eq!(
        jpki_audit::bundle::verify_dir(&dir),
        Err(jpki_audit::VerifyFailure::Event { index: 300, what: jpki_audit::Mismatch::Changed })
    );
}

#[test]
fn aics_tlog_refuses_an_altered_checkpoint_signature_and_entry_bundle() {
    let Some(venv) = venv() else { return };
    let temp = tempfile::tempdir().unwrap();
    let (dir, proofs) = bundle_with_proofs(temp.path());
    let path = dir.join("checkpoints/137");
    let note = std::fs::read_to_string(&path).unwrap();
    let (body, sig) = note.split_once("\n\n").unwrap();
    let mut sig = sig.to_owned().into_bytes();
    let pos = sig.len() - 6;
    sig[pos] = if sig[pos] == b'A' { b'B' } else { b'A' };
    std::fs::write(&path, format!("{body}\n\n{}", String::from_utf8(sig).unwrap())).unwrap();
    let bundle = dir.join("tile/entries/001");
    let mut data = std::fs::read(&bundle).unwrap();
    data[10] ^= 1;
    std::fs::write(&bundle, data).unwrap();
    let (ok, report) = aics_verify(&venv, &dir, &proofs);
    assert!(!ok, "{report:#}");
    let errors = report["errors"].to_string();
    assert!(errors.contains("checkpoints/137"), "{report:#}");
    assert!(errors.contains("tiles:"), "{report:#}");
}
