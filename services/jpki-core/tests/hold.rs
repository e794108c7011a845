//! A certificate listed with certificateHold is suspended, not revoked: EN 319 102-1 as EU DSS
//! implements it answers INDETERMINATE/TRY_LATER, because the suspension can be lifted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use jpki_core::report::{Check, SubIndication};
use jpki_core::revocation::RevocationReason;
use jpki_core::{AuthProofInput, FailureReason, Indication, RevocationStatus, SignatureInput, SignedContent, UnixTime};
use jpki_core::{HashAlgorithm, ValidationReport, Verifier};
use jpki_revocation::RevocationStore;
use jpki_testpki::{Holder, ReasonCode, TestPki};
use jpki_testsupport::testing::{at, offset, pki, time};

const FORM: &[u8] = b"account opening form";
const CHALLENGE: &[u8] = b"login challenge 0001";

/// A verifier whose store holds, for every anchor, an empty list numbered 1 and then, for the
/// issuer of `holder`'s certificates, a list numbered 2 with both certificates listed for `reason`.
fn listed(pki: &Arc<TestPki>, holder: &Holder, reason: ReasonCode, listed_at: UnixTime) -> Verifier {
    let anchors = jpki_testsupport::anchors(pki).unwrap();
    let store = Arc::new(RevocationStore::new(anchors, 0));
    let (this_update, next_update) = (time("2026-05-01T00:00:00Z"), time("2026-07-01T00:00:00Z"));
    for ca in pki.cas().iter().filter(|ca| ca.is_anchor()) {
        let der = ca.issue_crl(offset(this_update), offset(next_update), 1, &[]).unwrap();
        store.load(ca.label(), &der, this_update).unwrap();
    }
    for certificate in [holder.signing(), holder.auth()] {
        let ca = pki.ca_by_label(certificate.issuer_label()).unwrap();
        let entry = certificate.crl_entry(offset(listed_at)).reason(reason);
        let der = ca.issue_crl(offset(this_update), offset(next_update), 2, &[entry]).unwrap();
        store.load(ca.label(), &der, this_update).unwrap();
    }
    jpki_testsupport::verifier(pki, store, 100).unwrap()
}

fn signature(verifier: &Verifier, holder: &Holder) -> ValidationReport {
    let card = holder.card();
    let signature = card.sign_document(FORM).unwrap();
    let content = SignedContent::Message { data: FORM, hash: HashAlgorithm::Sha256 };
    let input = SignatureInput::Raw { signature: &signature, certificate: card.signing_cert_der(), content };
    verifier.verify_signature(&input, at())
}

fn proof(verifier: &Verifier, holder: &Holder, challenge_issued_at: Option<UnixTime>) -> ValidationReport {
    let card = holder.card();
    let signature = card.prove(CHALLENGE).unwrap();
    let input = AuthProofInput {
        certificate: card.auth_cert_der(),
        challenge: CHALLENGE,
        signature: &signature,
        challenge_issued_at,
    };
    verifier.verify_auth_proof(&input, at())
}

/// TRY_LATER with the hold date, retry advised, and the list's facts kept in the report.
fn assert_on_hold(report: &ValidationReport, held_since: UnixTime) {
    assert_eq!(report.indication, Indication::Indeterminate, "{report:#?}");
    assert_eq!(report.sub_indication, Some(SubIndication::TryLater), "{report:#?}");
    assert_eq!(report.reason, Some(FailureReason::CertificateOnHold { held_since }), "{report:#?}");
    assert_eq!(report.reason.as_ref().unwrap().code(), "CERTIFICATE_ON_HOLD");
    assert!(report.retry_may_help, "a hold can be lifted");
    let revocation = report.revocation.as_ref().expect("the revocation answer stays in the report");
    assert_eq!(
        revocation.status,
        RevocationStatus::Revoked { revoked_at: held_since, reason: Some(RevocationReason::CertificateHold) }
    );
    let provenance = revocation.provenance.as_ref().expect("the list that says so");
    assert_eq!(provenance.crl_number.as_deref(), Some("2"));
    assert!(!provenance.list.is_empty());
    assert_eq!(report.checks.last().map(|outcome| (outcome.check, outcome.passed)), Some((Check::Revocation, false)));
}

#[test]
fn a_signature_by_a_held_certificate_is_try_later() {
    let pki = pki();
    let holder = pki.holder("h01").unwrap().clone();
    let held_since = time("2026-05-10T00:00:00Z");
    let verifier = listed(&pki, &holder, ReasonCode::CertificateHold, held_since);
    assert_on_hold(&signature(&verifier, &holder), held_since);
}

#[test]
fn an_authentication_proof_by_a_held_certificate_is_try_later() {
    let pki = pki();
    let holder = pki.holder("h01").unwrap().clone();
    let held_since = time("2026-05-10T00:00:00Z");
    let verifier = listed(&pki, &holder, ReasonCode::CertificateHold, held_since);
    assert_on_hold(&proof(&verifier, &holder, None), held_since);
    // Held before the challenge was issued: still a suspension that may be lifted, not a
    // definite failure.
    assert_on_hold(&proof(&verifier, &holder, Some(at())), held_since);
}

#[test]
fn a_revocation_for_good_stays_revoked_and_final() {
    let pki = pki();
    let holder = pki.holder("h01").unwrap().clone();
    let revoked_at = time("2026-05-10T00:00:00Z");
    let verifier = listed(&pki, &holder, ReasonCode::KeyCompromise, revoked_at);
    let reason = Some(RevocationReason::KeyCompromise);
    let report = signature(&verifier, &holder);
    assert_eq!(report.reason, Some(FailureReason::Revoked { revoked_at, reason }), "{report:#?}");
    assert_eq!(report.sub_indication, Some(SubIndication::RevokedNoPoe));
    assert!(!report.retry_may_help);
    let report = proof(&verifier, &holder, Some(at()));
    assert_eq!(
        report.reason,
        Some(FailureReason::RevokedBeforeProof { revoked_at, reason, challenge_issued_at: at() }),
        "{report:#?}"
    );
    assert!(!report.retry_may_help);
}
