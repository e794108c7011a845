//! docs/results.md lists every reason code with the indication and sub-indication the code reports.
#![allow(clippy::unwrap_used)]

use jpki_core::report::{AlgorithmUse, InputPart};
use jpki_core::revocation::UnknownStatusCause;
use jpki_core::{CertKind, FailureReason, UnixTime};

/// One value of every variant; `every_code_is_exemplified` catches a variant missing here.
fn one_of_each() -> Vec<FailureReason> {
    let time = UnixTime(0);
    let reasons = vec![
        FailureReason::Malformed { input: InputPart::Cms, at_byte: None },
        FailureReason::UnsupportedCertificateVersion { version: 0 },
        FailureReason::SignatureAlgorithmMismatch,
        FailureReason::UnsupportedCmsContent { content_type: String::new() },
        FailureReason::UnsupportedSignerCount { count: 2 },
        FailureReason::SignedAttributeInvalid { attribute: String::new() },
        FailureReason::ContentTypeMismatch,
        FailureReason::ContentSuppliedTwice,
        FailureReason::DigestLengthMismatch { expected: 32, found: 20 },
        FailureReason::MessageDigestMismatch,
        FailureReason::SignatureInvalid,
        FailureReason::Revoked { revoked_at: time, reason: None },
        FailureReason::RevokedBeforeProof { revoked_at: time, reason: None, challenge_issued_at: time },
        FailureReason::CertificateOnHold { held_since: time },
        FailureReason::CertificateNotYetValid { not_before: time },
        FailureReason::CertificateExpired { not_after: time },
        FailureReason::AnchorOutsideValidity { not_before: time, not_after: time },
        FailureReason::NoAnchorVerifiesCertificate { issuer: String::new(), anchors_tried: 0 },
        FailureReason::SigningCertificateNotFound,
        FailureReason::SignerIdentifierMismatch,
        FailureReason::DetachedContentMissing,
        FailureReason::CertificateKindNotAccepted { found: CertKind::AuthCard, accepted: vec![] },
        FailureReason::PolicyNotAccepted { found: vec![], accepted: vec![] },
        FailureReason::KeyUsageNotPermitted { required: vec![], present: vec![] },
        FailureReason::EndEntityIsCa,
        FailureReason::UnknownCriticalExtension { oid: String::new() },
        FailureReason::CriticalExtendedKeyUsage { purposes: vec![] },
        FailureReason::HashAlgorithmRejected { algorithm: String::new(), usage: AlgorithmUse::DataSignature },
        FailureReason::UnsupportedAlgorithm { oid: String::new(), usage: AlgorithmUse::PublicKey },
        FailureReason::KeyTooSmall { bits: 1024, minimum: 2048 },
        FailureReason::RevocationStatusUnknown { cause: UnknownStatusCause::NoSource },
    ];
    reasons
}

fn screaming<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value).unwrap().as_str().unwrap().to_owned()
}

#[test]
fn results_table_matches_the_code() {
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/results.md")).unwrap();
    for reason in one_of_each() {
        let code = reason.code();
        assert_eq!(serde_json::to_value(&reason).unwrap()["code"], code, "code() matches the serialised code");
        let row = table
            .lines()
            .find(|line| line.contains(&format!("| `{code}` |")))
            .unwrap_or_else(|| panic!("docs/results.md has no row for {code}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[3], screaming(reason.indication()), "indication of {code}");
        assert_eq!(cells[4], screaming(reason.sub_indication()), "sub-indication of {code}");
        let retry = if reason.retry_may_help() { "yes" } else { "no" };
        assert_eq!(cells[5], retry, "retry column of {code}");
    }
}

#[test]
fn every_code_is_exemplified() {
    // FailureReason::code is an exhaustive match inside the crate: read its codes from the source.
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/report.rs")).unwrap();
    let body = source.split("pub fn code(&self)").nth(1).unwrap();
    let codes: Vec<&str> =
        body.lines().take_while(|line| !line.starts_with("    }")).filter_map(|line| line.split('"').nth(1)).collect();
    let exemplified: Vec<&str> = one_of_each().iter().map(FailureReason::code).collect();
    assert_eq!(codes, exemplified, "one_of_each lists every FailureReason variant, in declaration order");
}
