//! The production server's shape: it does not contain the test PKI, and it has no built-in
//! configuration (the demo is `jpkictl demo`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;

#[test]
fn the_production_server_does_not_contain_the_test_pki() {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-e", "normal", "-p", "jpki-gateway", "--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let crates: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert!(crates.contains(&"jpki-app"), "the server runs on the application layer:\n{tree}");
    for test_only in ["jpki-testpki", "jpki-testsupport", "jpki-casim"] {
        assert!(!crates.contains(&test_only), "{test_only} is in the server's normal dependencies:\n{tree}");
    }
}

#[test]
fn without_a_configuration_the_server_refuses_and_points_to_the_demo() {
    let output = Command::new(env!("CARGO_BIN_EXE_jpki-gateway")).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--config FILE"), "{stderr}");
    assert!(stderr.contains("jpkictl -- demo"), "{stderr}");
    assert!(output.stdout.is_empty(), "no address line: nothing listens");
}
