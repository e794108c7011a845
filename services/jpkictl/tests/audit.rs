//! `jpkictl audit verify` and `audit show` on bundles written by jpki-audit, offline. The online
//! commands (`pull`, `proof`) are covered by the end-to-end test against a real gateway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use jpki_audit::{AuditEvent, Bundle, LogHashes, LogSigner};

const ORIGIN: &str = "jpki-gateway.example/tenant/acme";
const EVENTS: u64 = 300;

fn jpkictl(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jpkictl")).args(arguments).output().expect("run jpkictl")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        time: 1_780_000_000 + i64::try_from(i).unwrap(),
        tenant: "acme".into(),
        principal: "acme".into(),
        credential: "k1".into(),
        rpc: "/jpki.gateway.v1.VerificationService/VerifySignature".into(),
        purpose: Some("account_opening".into()),
        request_id: format!("req-{i:04}"),
        indication: Some("TOTAL_PASSED".into()),
        digests: [("document_sha256".to_owned(), jpki_audit::sha256_hex(&i.to_be_bytes()))].into(),
        ..Default::default()
    }
}

/// A bundle of `EVENTS` events with two checkpoints (200 and 300), signed by a fixed key.
fn bundle(dir: &Path) -> Vec<Vec<u8>> {
    let signer = LogSigner::from_seed(ORIGIN, &[7; 32]).unwrap();
    let leaves: Vec<Vec<u8>> = (0..EVENTS).map(|i| event(i).leaf().unwrap()).collect();
    let tree = LogHashes::from_leaves(&leaves).unwrap();
    let notes: Vec<String> =
        [200, EVENTS].iter().map(|&n| signer.sign(ORIGIN, n, tree.root(n).unwrap()).unwrap()).collect();
    Bundle::write(dir, ORIGIN, &[signer.vkey()], &leaves, &notes).unwrap();
    leaves
}

#[test]
fn verify_reports_a_good_bundle() {
    let dir = tempfile::tempdir().unwrap();
    bundle(dir.path());
    let output = jpkictl(&["audit", "verify", "--dir", &dir.path().display().to_string()]);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(0), "{printed}");
    for expected in ["VERIFIED", ORIGIN, "300", "sizes 200, 300", "2026-05-28T"] {
        assert!(printed.contains(expected), "{expected}: {printed}");
    }
    let output = jpkictl(&["audit", "verify", "--dir", &dir.path().display().to_string(), "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["verified"], true);
    assert_eq!(value["size"], EVENTS);
}

#[test]
fn verify_names_the_altered_event() {
    let dir = tempfile::tempdir().unwrap();
    let leaves = bundle(dir.path());
    // One byte of event 42 (a digit of its request id), in events.jsonl.
    let events = dir.path().join("events.jsonl");
    let mut raw = std::fs::read(&events).unwrap();
    let start: usize = leaves[..42].iter().map(|leaf| leaf.len() + 1).sum();
    let line = &leaves[42];
    let at = start + line.windows(8).position(|w| w == b"req-0042").unwrap() + 7;
    assert_eq!(raw[at], b'2');
    raw[at] = b'3';
    std::fs::write(&events, raw).unwrap();

    let output = jpkictl(&["audit", "verify", "--dir", &dir.path().display().to_string()]);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("DOES NOT VERIFY") && printed.contains("event 42 ") && printed.contains("changed"),
        "{printed}"
    );
    // pull refuses to build on it, before it connects (nothing listens on port 1).
    let d = dir.path().display().to_string();
    let output = jpkictl(&["audit", "pull", "--tenant", "acme", "--dir", &d, "--gateway", "http://127.0.0.1:1"]);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(3), "{printed}");
    assert!(printed.contains("previous pull does not verify") && printed.contains("event 42 "), "{printed}");
    let output = jpkictl(&["audit", "verify", "--dir", &dir.path().display().to_string(), "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((value["verified"].clone(), value["index"].clone()), (false.into(), 42.into()));
}

#[test]
fn verify_of_a_missing_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let output = jpkictl(&["audit", "verify", "--dir", &dir.path().join("absent").display().to_string()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("origin"), "{}", text(&output));
}

#[test]
fn show_prints_one_event_or_all() {
    let dir = tempfile::tempdir().unwrap();
    bundle(dir.path());
    let d = dir.path().display().to_string();
    let output = jpkictl(&["audit", "show", "--dir", &d, "--index", "3"]);
    assert!(output.status.success(), "{}", text(&output));
    let shown: AuditEvent = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown, event(3));
    assert!(String::from_utf8_lossy(&output.stdout).contains("\n  \"request_id\": \"req-0003\""));

    let output = jpkictl(&["audit", "show", "--dir", &d, "--json"]);
    assert!(output.status.success(), "{}", text(&output));
    let lines: Vec<serde_json::Value> = output
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 300);
    assert_eq!(lines[299]["index"], 299);
    assert_eq!(lines[299]["event"]["request_id"], "req-0299");

    let output = jpkictl(&["audit", "show", "--dir", &d, "--index", "300"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output).contains("holds 300 events"), "{}", text(&output));
}
