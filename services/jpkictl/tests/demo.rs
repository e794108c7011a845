//! `jpkictl demo` as a user runs it: it starts the CA simulator and the gateway, prints the
//! walkthrough, and every printed command, pasted into a shell as it is, gives the result the
//! walkthrough announces; Ctrl-C stops it cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Collected, wait_until};

/// What each printed command must give, in order: a fragment of the command line, the exit code
/// and what its output must contain.
const EXPECTED: [(&str, i32, &[&str]); 37] = [
    ("export PATH=", 0, &[]),
    ("api health", 0, &["SERVING"]),
    ("testpki sign", 0, &["signed"]),
    ("api verify-signature", 0, &["TOTAL_PASSED", "EQUAL_AFTER_NORMALISATION", "EXACT"]),
    ("api issue-challenge", 0, &["challenge issued"]),
    ("testpki prove", 0, &["proof by h01"]),
    ("api verify-auth-proof", 0, &["TOTAL_PASSED", "no customer linked"]),
    ("api link", 0, &["linked: customer CUST-0001"]),
    ("api lookup-link", 0, &["customer CUST-0001"]),
    ("api issue-challenge", 0, &["challenge issued"]),
    ("testpki prove", 0, &["proof by h01"]),
    ("api verify-auth-proof", 0, &["TOTAL_PASSED", "customer          CUST-0001"]),
    ("ca-admin revoke", 0, &["revoked serial"]),
    ("api watch-revocations", 0, &["key_compromise", "CARD_LOST", "customer CUST-0001"]),
    ("api check-status", 1, &["revoked at"]),
    ("api issue-challenge", 0, &["challenge issued"]),
    ("testpki prove", 0, &["proof by h01"]),
    ("api verify-auth-proof", 1, &["REVOKED"]),
    ("create-tenant demo-insurer", 0, &["\"demo-insurer\"", "\"active\""]),
    ("issue-key demo-insurer", 0, &["shown once"]),
    ("api verify-signature", 0, &["TOTAL_PASSED"]),
    ("api rotate-key", 0, &["shown once"]),
    ("api list-keys", 0, &["key_id", "last_used_at"]),
    ("api verify-signature", 0, &["TOTAL_PASSED"]),
    ("api verify-signature", 0, &["TOTAL_PASSED"]),
    ("suspend demo-insurer", 0, &["\"suspended\""]),
    ("api verify-signature", 3, &["UNAUTHENTICATED"]),
    ("admin --gateway", 0, &["\"action\":\"suspend\"", "\"actor\":\"demo-operator\""]),
    ("audit pull", 0, &["demo-bank: 0 → ", "newly pinned"]),
    ("audit verify", 0, &["VERIFIED", "jpki-gateway.local/tenant/demo-bank"]),
    ("keys.vkey", 0, &[]),
    ("aics-tlog verify-checkpoint", 0, &["\"ok\": true", "\"tiles_ok\": true"]),
    ("aics-tlog verify-inclusion", 0, &["\"ok\": true"]),
    ("audit evidence 2", 0, &["RE-PROVED", "TOTAL_PASSED"]),
    ("cp -r", 0, &[]),
    ("audit verify", 1, &["DOES NOT VERIFY", "event 2 of events.jsonl (3): changed"]),
    ("aics-tlog verify-inclusion", 1, &["\"ok\": false"]),
];

/// The external-client venv's `bin` (aics-tlog); `None` when it is absent, which fails the test
/// under `CI=true`.
fn external_venv_bin() -> Option<std::path::PathBuf> {
    jpki_testsupport::external::venv("the demo's aics-tlog commands").map(|venv| venv.join("bin"))
}

#[test]
fn every_printed_command_runs_verbatim_against_the_demo_servers() {
    let directory = tempfile::tempdir().unwrap();
    let dir = directory.path().join("demo");
    let arguments: Vec<String> = [
        "demo",
        "--dir",
        &dir.display().to_string(),
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--ca-listen",
        "127.0.0.1:0",
    ]
    .map(String::from)
    .to_vec();
    let mut demo = Collected::spawn(env!("CARGO_BIN_EXE_jpkictl"), &arguments);
    wait_until("the walkthrough", || demo.lines().iter().any(|line| line.contains("serve until Ctrl-C")));
    let printed = demo.lines();
    let commands: Vec<&str> = printed.iter().filter_map(|line| line.strip_prefix("$ ")).collect();
    assert_eq!(commands.len(), EXPECTED.len(), "{printed:#?}");
    // The actual ports, never the defaults.
    assert!(
        !printed.iter().any(|line| line.contains(":50051") || line.contains(":50052") || line.contains(":8480")),
        "{printed:#?}"
    );

    // As pasted into a shell, with jpkictl on the PATH as the walkthrough says.
    let bin = Path::new(env!("CARGO_BIN_EXE_jpkictl")).parent().unwrap();
    let venv = external_venv_bin();
    let venv_path = venv.as_ref().map(|bin| format!("{}:", bin.display())).unwrap_or_default();
    let path = format!("{}:{venv_path}{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    for (command, (fragment, code, contains)) in commands.iter().zip(EXPECTED) {
        assert!(command.contains(fragment), "expected {fragment}: {command}");
        if venv.is_none() && command.starts_with("aics-tlog") {
            continue;
        }
        let started = Instant::now();
        let output = Command::new("bash").arg("-c").arg(command).env("PATH", &path).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert_eq!(output.status.code(), Some(code), "{command}\n{text}");
        for expected in contains {
            assert!(text.contains(expected), "{command}: no {expected:?} in\n{text}");
        }
        assert!(started.elapsed() < Duration::from_secs(40), "{command}");
    }

    // Ctrl-C drains the gateway and stops the simulator: exit code 0.
    demo.signal("INT");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = demo.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the demo did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    assert!(demo.lines().iter().any(|line| line.contains("stopping")));
}

#[test]
fn a_directory_from_an_earlier_run_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("leftover"), "").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_jpkictl"))
        .args(["demo", "--dir", &directory.path().display().to_string(), "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not empty"));
}
