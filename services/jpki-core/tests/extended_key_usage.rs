//! A critical extendedKeyUsage binds the key to its listed purposes (RFC 5280 4.2.1.12). JPKI
//! certificates carry none, and no purpose can be checked against JPKI's profile, so a critical
//! one is refused, in an end-entity certificate and in a trust anchor; a non-critical one is
//! advisory and ignored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use jpki_core::report::{Check, SubIndication};
use jpki_core::{AlgorithmPolicy, AnchorError, CertKind, FailureReason, HashAlgorithm, Indication, TrustAnchor};
use jpki_core::{SignatureInput, SignedContent, ValidationReport, Verifier};
use jpki_revocation::RevocationStore;
use jpki_testpki::cert::ext;
use jpki_testpki::profile::key_usage;
use jpki_testpki::{CertificateBuilder, Extension, TestPki, der, keys};
use jpki_testsupport::testing::{at, offset, pki, time};

const FORM: &[u8] = b"account opening form";
const EXT_KEY_USAGE: &str = "2.5.29.37";
const EMAIL_PROTECTION: &str = "1.3.6.1.5.5.7.3.4";
const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";

fn extended_key_usage(critical: bool) -> Extension {
    let purposes = [der::oid(EMAIL_PROTECTION).unwrap(), der::oid(CODE_SIGNING).unwrap()];
    Extension::new(EXT_KEY_USAGE, critical, der::sequence(&[&purposes[0], &purposes[1]]))
}

fn verifier(pki: &Arc<TestPki>) -> Verifier {
    let store = Arc::new(RevocationStore::new(jpki_testsupport::anchors(pki).unwrap(), 0));
    let (this_update, next_update) = (time("2026-05-01T00:00:00Z"), time("2026-07-01T00:00:00Z"));
    for ca in pki.cas().iter().filter(|ca| ca.is_anchor()) {
        let der = ca.issue_crl(offset(this_update), offset(next_update), 1, &[]).unwrap();
        store.load(ca.label(), &der, this_update).unwrap();
    }
    jpki_testsupport::verifier(pki, store, 100).unwrap()
}

/// A raw signature by h01's signing key under a profile certificate for that key with `extra`.
fn signed_with(pki: &TestPki, label: &str, extra: Vec<Extension>, verifier: &Verifier) -> ValidationReport {
    let key = pki.holder("h01").unwrap().signing().key().clone();
    let spki = keys::spki_der(&key.to_public_key()).unwrap();
    let certificate = pki.issue_for_public_key(jpki_testpki::CertKind::SigningCard, label, spki, extra).unwrap();
    let signature = jpki_testpki::sign_message(&key, FORM, jpki_testpki::HashAlg::Sha256).unwrap();
    let content = SignedContent::Message { data: FORM, hash: HashAlgorithm::Sha256 };
    verifier.verify_signature(&SignatureInput::Raw { signature: &signature, certificate: &certificate, content }, at())
}

#[test]
fn an_end_entity_with_a_critical_extended_key_usage_is_refused() {
    let pki = pki();
    let verifier = verifier(&pki);
    // The same certificate without the extension passes: the refusal is the extension's.
    let report = signed_with(&pki, "eku/none", vec![], &verifier);
    assert!(report.passed(), "{report:#?}");
    let report = signed_with(&pki, "eku/critical", vec![extended_key_usage(true)], &verifier);
    assert_eq!(report.indication, Indication::Indeterminate, "{report:#?}");
    assert_eq!(report.sub_indication, Some(SubIndication::ChainConstraintsFailure));
    assert_eq!(
        report.reason,
        Some(FailureReason::CriticalExtendedKeyUsage {
            purposes: vec![EMAIL_PROTECTION.to_owned(), CODE_SIGNING.to_owned()]
        })
    );
    assert_eq!(report.reason.as_ref().unwrap().code(), "CRITICAL_EXTENDED_KEY_USAGE");
    assert!(!report.retry_may_help);
    assert_eq!(
        report.checks.last().map(|outcome| (outcome.check, outcome.passed)),
        Some((Check::ChainConstraints, false))
    );
    assert!(report.four_fields.is_none());
}

#[test]
fn a_non_critical_extended_key_usage_is_advisory() {
    let pki = pki();
    let report = signed_with(&pki, "eku/non-critical", vec![extended_key_usage(false)], &verifier(&pki));
    assert!(report.passed(), "{report:#?}");
}

/// The signing root of generation 2 made again with its own key and name, plus `extra`.
fn root_with(pki: &TestPki, extra: Vec<Extension>) -> Vec<u8> {
    let ca = pki.ca(jpki_testpki::CertKind::SigningCard, 2).unwrap();
    let spki = keys::spki_der(&ca.key().to_public_key()).unwrap();
    let mut builder = CertificateBuilder::new(
        ca.serial().to_vec(),
        jpki_testpki::CertKind::SigningCard.ca_name(),
        ca.not_before(),
        ca.not_after(),
        spki,
    )
    .extension(ext::key_usage(&[key_usage::KEY_CERT_SIGN, key_usage::CRL_SIGN], true))
    .extension(ext::basic_constraints(true, true))
    .extension(ext::subject_key_identifier(ca.key_id()));
    for extension in extra {
        builder = builder.extension(extension);
    }
    builder.self_sign(ca.key()).unwrap()
}

#[test]
fn an_anchor_with_a_critical_extended_key_usage_is_refused() {
    let pki = pki();
    let policy = AlgorithmPolicy::default();
    let plain = root_with(&pki, vec![]);
    TrustAnchor::from_der(CertKind::SigningCard, &plain, &policy).expect("the root without the extension is usable");
    let non_critical = root_with(&pki, vec![extended_key_usage(false)]);
    TrustAnchor::from_der(CertKind::SigningCard, &non_critical, &policy).expect("a non-critical one is advisory");
    let critical = root_with(&pki, vec![extended_key_usage(true)]);
    assert_eq!(
        TrustAnchor::from_der(CertKind::SigningCard, &critical, &policy).unwrap_err(),
        AnchorError::CriticalExtendedKeyUsage { purposes: vec![EMAIL_PROTECTION.to_owned(), CODE_SIGNING.to_owned()] }
    );
}
