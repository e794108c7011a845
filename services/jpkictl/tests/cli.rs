//! The CLI as a user runs it: the demo, verification output, and errors that name the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn jpkictl(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jpkictl")).args(arguments).output().expect("run jpkictl")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn generate(directory: &Path) -> String {
    let pki = directory.join("pki").display().to_string();
    let output = jpkictl(&["testpki", "generate", "--out", &pki, "--crl-this-update", "2026-05-31T00:00:00Z"]);
    assert!(output.status.success(), "{}", text(&output));
    pki
}

#[test]
fn offline_demo_runs_and_every_printed_command_runs_verbatim() {
    let directory = tempfile::tempdir().unwrap();
    let output = jpkictl(&["demo", "--offline", "--dir", &directory.path().display().to_string()]);
    let printed = text(&output);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("demo complete"));
    // Re-run the printed jpkictl lines through a shell, exactly as a user would paste them.
    let commands: Vec<&str> = printed.lines().filter_map(|line| line.strip_prefix("$ jpkictl ")).collect();
    assert_eq!(commands.len(), 8, "{printed}");
    let expected_codes = [0, 0, 0, 0, 0, 0, 0, 2];
    for (command, expected) in commands.iter().zip(expected_codes) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("\"$JPKICTL\" {command} >/dev/null"))
            .env("JPKICTL", env!("CARGO_BIN_EXE_jpkictl"))
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(expected), "{command}");
    }
}

#[test]
fn json_report_and_exit_codes() {
    let directory = tempfile::tempdir().unwrap();
    let pki = generate(directory.path());
    let form = directory.path().join("form.txt");
    std::fs::write(&form, "申込書").unwrap();
    let signature = directory.path().join("form.sig");
    let (form_s, signature_s) = (form.display().to_string(), signature.display().to_string());
    let output = jpkictl(&[
        "testpki",
        "sign",
        "--pki",
        &pki,
        "--holder",
        "h01",
        "--in",
        &form_s,
        "--out",
        &signature_s,
        "--raw",
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let certificate = format!("{pki}/holders/h01/signing.pem");
    let crl = format!("{pki}/crl");
    let base = [
        "verify",
        "signature",
        "--anchors",
        &pki,
        "--crl",
        &crl,
        "--signature",
        &signature_s,
        "--cert",
        &certificate,
        "--content",
        &form_s,
        "--at",
        "2026-06-01T00:00:00Z",
        "--json",
    ];
    let output = jpkictl(&base);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["indication"], "TOTAL_PASSED");
    assert_eq!(report["four_fields"]["name"]["value"], "山田\u{3000}太郎");
    assert_eq!(report["certificate"]["kind"], "signing_card");

    // Altered content: TOTAL_FAILED, exit code 1.
    std::fs::write(&form, "改ざんされた申込書").unwrap();
    let output = jpkictl(&base);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["sub_indication"], "SIG_CRYPTO_FAILURE");
    assert_eq!(report["reason"]["code"], "SIGNATURE_INVALID");

    // Without CRLs the status is unknown: INDETERMINATE/TRY_LATER, exit code 2.
    std::fs::write(&form, "申込書").unwrap();
    let without_crl: Vec<&str> =
        base.iter().copied().filter(|argument| *argument != "--crl" && *argument != crl).collect();
    let output = jpkictl(&without_crl);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["sub_indication"], "TRY_LATER");
}

#[test]
fn malformed_files_are_named_never_a_panic() {
    let directory = tempfile::tempdir().unwrap();
    let pki = generate(directory.path());
    let crl = format!("{pki}/crl");
    let garbage = directory.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap();
    let garbage_s = garbage.display().to_string();
    let missing = directory.path().join("missing.bin").display().to_string();
    let challenge = "00";

    // A file that cannot be read, broken PEM, a bad CRL, a bad anchor: exit 3 naming the file.
    let output = jpkictl(&[
        "verify",
        "auth",
        "--anchors",
        &pki,
        "--crl",
        &crl,
        "--cert",
        &missing,
        "--challenge-hex",
        challenge,
        "--signature",
        &missing,
    ]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output).contains("missing.bin: cannot read"), "{}", text(&output));
    let output = jpkictl(&[
        "verify",
        "auth",
        "--anchors",
        &pki,
        "--crl",
        &crl,
        "--cert",
        &garbage_s,
        "--challenge-hex",
        challenge,
        "--signature",
        &garbage_s,
    ]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output).contains("garbage.pem"), "{}", text(&output));
    let output = jpkictl(&[
        "verify",
        "auth",
        "--anchors",
        &pki,
        "--crl",
        &garbage_s,
        "--cert",
        &garbage_s,
        "--challenge-hex",
        challenge,
        "--signature",
        &garbage_s,
    ]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output).contains("garbage.pem"), "{}", text(&output));
    let output = jpkictl(&[
        "verify",
        "auth",
        "--anchor",
        &format!("auth-card={pki}/holders/h01/auth.pem"),
        "--cert",
        &garbage_s,
        "--challenge-hex",
        challenge,
        "--signature",
        &garbage_s,
    ]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output).contains("auth.pem: unusable trust anchor"), "{}", text(&output));

    // DER garbage where a certificate belongs is a FORMAT_FAILURE result naming the file.
    let binary = directory.path().join("cert.der");
    std::fs::write(&binary, [0x30, 0x82, 0xff, 0xff, 0x00]).unwrap();
    let binary_s = binary.display().to_string();
    let output = jpkictl(&[
        "verify",
        "auth",
        "--anchors",
        &pki,
        "--crl",
        &crl,
        "--cert",
        &binary_s,
        "--challenge-hex",
        challenge,
        "--signature",
        &binary_s,
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let printed = text(&output);
    assert!(
        printed.contains("FORMAT_FAILURE") && printed.contains("malformed file") && printed.contains("cert.der"),
        "{printed}"
    );
}

#[test]
fn crl_inspect_and_lookup_explain_a_list() {
    let directory = tempfile::tempdir().unwrap();
    let pki = generate(directory.path());
    let ca = format!("{pki}/anchors/auth-card-g2.pem");
    let crl = directory.path().join("revoked.crl").display().to_string();
    let output = jpkictl(&[
        "testpki",
        "crl",
        "--pki",
        &pki,
        "--ca",
        "auth-card-g2",
        "--revoke-holder",
        "h01:key-compromise",
        "--this-update",
        "2026-05-31T00:00:00Z",
        "--out",
        &crl,
    ]);
    assert!(output.status.success(), "{}", text(&output));

    let output = jpkictl(&["crl", "inspect", &crl, "--issuer", &ca, "--at", "2026-05-31T12:00:00Z", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["crl_number"], "2");
    assert_eq!(summary["entries"], 1);
    assert_eq!(summary["reasons"]["key_compromise"], 1);
    // A day later the list is stale: exit 1, and the text says so.
    let output = jpkictl(&["crl", "inspect", &crl, "--issuer", &ca, "--at", "2026-06-02T00:00:00Z"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).contains("stale: nextUpdate"), "{}", text(&output));

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{pki}/manifest.json")).unwrap()).unwrap();
    let serial = manifest["holders"][0]["auth"]["serial"].as_str().unwrap().to_owned();
    let output = jpkictl(&["crl", "lookup", &crl, &serial, "--issuer", &ca]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("REVOKED") && text(&output).contains("key_compromise"), "{}", text(&output));
    let other = manifest["holders"][1]["auth"]["serial"].as_str().unwrap().to_owned();
    assert_eq!(jpkictl(&["crl", "lookup", &crl, &other, "--issuer", &ca]).status.code(), Some(0));

    // The wrong issuer, a truncated list: refused, naming the file and the problem.
    let wrong = format!("{pki}/anchors/signing-card-g2.pem");
    let output = jpkictl(&["crl", "inspect", &crl, "--issuer", &wrong]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output).contains("revoked.crl: refused") && text(&output).contains("no trust anchor"),
        "{}",
        text(&output)
    );
    let bytes = std::fs::read(&crl).unwrap();
    let truncated = directory.path().join("truncated.crl");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let output = jpkictl(&["crl", "inspect", &truncated.display().to_string(), "--issuer", &ca]);
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output).contains("malformed CRL at byte"), "{}", text(&output));
}

/// `audit evidence --offline` as an auditor runs it on evidence already fetched: exit 0 when the
/// answer is re-proved, 1 when a check fails, 2 when the evidence cannot be read.
#[test]
fn audit_evidence_offline_exit_codes() {
    let directory = tempfile::tempdir().unwrap();
    let pki = generate(directory.path());
    let pki = Path::new(&pki);
    let pulled = directory.path().join("pulled");
    let evidence = pulled.join("evidence").join("0");
    std::fs::create_dir_all(evidence.join("lists")).unwrap();
    let certificate = std::fs::read(pki.join("holders/h01/signing.der")).unwrap();
    let mut revocation = Vec::new();
    for name in ["signing-card-g1", "signing-card-g2"] {
        let der = std::fs::read(pki.join("crl").join(format!("{name}.crl"))).unwrap();
        let tbs = jpki_audit::sha256_hex(jpki_revocation::parse_crl(&der, |_| Ok(())).unwrap().tbs);
        std::fs::write(evidence.join("lists").join(format!("{tbs}.crl")), &der).unwrap();
        revocation.push(jpki_audit::ListRelied {
            issuer_key_id: "00".into(),
            scope: "base".into(),
            number: Some("1".into()),
            sha256: tbs,
        });
    }
    let event = jpki_audit::AuditEvent {
        time: 1_780_272_000,
        tenant: "acme".into(),
        principal: "p".into(),
        credential: "k".into(),
        rpc: "/jpki.gateway.v1.GatewayService/VerifySignature".into(),
        request_id: "r".into(),
        indication: Some("TOTAL_PASSED".into()),
        certificate: Some(jpki_audit::CertRef { ca_key_id: "00".into(), serial: "01".into() }),
        digests: [("certificate_sha256".to_owned(), jpki_audit::sha256_hex(&certificate))].into_iter().collect(),
        revocation,
        ..Default::default()
    };
    std::fs::write(evidence.join("event.json"), event.leaf().unwrap()).unwrap();
    std::fs::write(evidence.join("certificate.der"), &certificate).unwrap();
    let dir = pulled.display().to_string();
    let anchors = pki.display().to_string();
    let run = |extra: &[&str]| {
        let mut arguments = vec!["audit", "evidence", "0", "--dir", &dir, "--offline"];
        arguments.extend_from_slice(extra);
        jpkictl(&arguments)
    };
    let output = run(&["--anchors", &anchors]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).starts_with("RE-PROVED  event 0"), "{}", text(&output));
    let output = run(&["--anchors", &anchors, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["reproof"]["verdict"], "reproved", "{json}");

    // Another holder's certificate: the digest check fails.
    std::fs::copy(pki.join("holders/h02/signing.der"), evidence.join("certificate.der")).unwrap();
    let output = run(&["--anchors", &anchors]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("[FAIL] certificate_sha256"), "{}", text(&output));

    // Nothing fetched for that index: an I/O error.
    let output = jpkictl(&["audit", "evidence", "9", "--dir", &dir, "--offline"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}
