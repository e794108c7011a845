//! `Verifier::validate_certificate`: a certificate alone, with the same checks, reasons and report
//! structure as the signature and authentication paths, minus the signature value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, at, time};
use jpki_core::report::{Check, Operation};
use jpki_core::{
    AuthProofInput, FailureReason, HashAlgorithm, Indication, Purpose, SignatureInput, SignedContent, SubIndication,
    ValidationReport,
};
use jpki_testpki::{BadCaseKind, CertKind as PkiKind, HashAlg, ReasonCode};

const FORM: &[u8] = b"form";

fn assert_result(report: &ValidationReport, sub: SubIndication, code: &str) {
    assert_eq!(report.sub_indication, Some(sub), "{report:#?}");
    assert_eq!(report.indication, sub.indication());
    assert_eq!(report.reason.as_ref().map(FailureReason::code), Some(code), "{report:#?}");
}

fn holder(fixture: &Fixture) -> jpki_testpki::Holder {
    fixture
        .pki
        .holders()
        .iter()
        .find(|holder| {
            holder.signing().kind() == PkiKind::SigningCard && holder.signing().issuer_label().ends_with("g2")
        })
        .cloned()
        .expect("a g2 card holder")
}

fn raw<'a>(signature: &'a [u8], certificate: &'a [u8]) -> SignatureInput<'a> {
    SignatureInput::Raw {
        signature,
        certificate,
        content: SignedContent::Message { data: FORM, hash: HashAlgorithm::Sha256 },
    }
}

#[test]
fn a_good_certificate_passes_with_the_signature_paths_report_minus_the_signature() {
    let fixture = Fixture::new();
    let card = holder(&fixture).card();
    let report = fixture.verifier.validate_certificate(card.signing_cert_der(), Purpose::Signing, at());
    assert!(report.passed(), "{report:#?}");
    assert_eq!(report.operation, Operation::Certificate);
    assert!(report.signature.is_none());
    let checks: Vec<Check> = report.checks.iter().map(|outcome| outcome.check).collect();
    assert_eq!(
        checks,
        [
            Check::Format,
            Check::CryptoConstraints,
            Check::ChainBuilt,
            Check::ChainConstraints,
            Check::ValidityPeriod,
            Check::Revocation
        ]
    );
    // Same facts as the signature path.
    let signature = card.sign_document(FORM).unwrap();
    let signed = fixture.verifier.verify_signature(&raw(&signature, card.signing_cert_der()), at());
    assert_eq!(report.certificate, signed.certificate);
    assert_eq!(report.revocation, signed.revocation);
    assert_eq!(report.four_fields, signed.four_fields);
    assert!(report.four_fields.is_some());

    let auth = fixture.verifier.validate_certificate(card.auth_cert_der(), Purpose::Authentication, at());
    assert!(auth.passed(), "{auth:#?}");
    assert!(auth.four_fields.is_none());
}

#[test]
fn a_revoked_certificate_fails_as_on_the_signature_and_proof_paths() {
    let fixture = Fixture::new();
    let holder = holder(&fixture);
    let card = holder.card();
    let revoked_at = time("2026-05-10T00:00:00Z");
    let entry = holder.signing().crl_entry(common::offset(revoked_at)).reason(ReasonCode::AffiliationChanged);
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    fixture.publish(ca, time("2026-05-11T00:00:00Z"), time("2026-06-11T00:00:00Z"), 2, &[entry]);
    let report = fixture.verifier.validate_certificate(card.signing_cert_der(), Purpose::Signing, at());
    assert_result(&report, SubIndication::RevokedNoPoe, "REVOKED");
    let signature = card.sign_document(FORM).unwrap();
    let signed = fixture.verifier.verify_signature(&raw(&signature, card.signing_cert_der()), at());
    assert_eq!(
        (report.indication, report.sub_indication, &report.reason),
        (signed.indication, signed.sub_indication, &signed.reason)
    );
    assert_eq!(report.revocation, signed.revocation);

    let auth_entry = holder.auth().crl_entry(common::offset(revoked_at)).reason(ReasonCode::KeyCompromise);
    fixture.publish(
        fixture.ca(PkiKind::AuthCard, 2),
        time("2026-05-11T00:00:00Z"),
        time("2026-06-11T00:00:00Z"),
        2,
        &[auth_entry],
    );
    let report = fixture.verifier.validate_certificate(card.auth_cert_der(), Purpose::Authentication, at());
    let proof = card.prove(b"c").unwrap();
    let input = AuthProofInput {
        certificate: card.auth_cert_der(),
        challenge: b"c",
        signature: &proof,
        challenge_issued_at: None,
    };
    let proved = fixture.verifier.verify_auth_proof(&input, at());
    assert_result(&report, SubIndication::RevokedNoPoe, "REVOKED");
    assert_eq!(report.reason, proved.reason);
    // At any time the list covers after the revocation date, the same answer.
    let before =
        fixture.verifier.validate_certificate(card.signing_cert_der(), Purpose::Signing, time("2026-05-11T12:00:00Z"));
    assert_result(&before, SubIndication::RevokedNoPoe, "REVOKED");
}

#[test]
fn expired_wrong_usage_and_bad_profiles_have_the_signature_paths_reasons() {
    let fixture = Fixture::new();
    for kind in BadCaseKind::ALL {
        let case = fixture.pki.bad_case(kind).unwrap();
        let certificate = case.cert();
        let signature = certificate.signer().sign_message(FORM, HashAlg::Sha256).unwrap();
        let signed = fixture.verifier.verify_signature(&raw(&signature, certificate.cert_der()), at());
        let alone = fixture.verifier.validate_certificate(certificate.cert_der(), Purpose::Signing, at());
        assert_eq!(alone.reason, signed.reason, "{kind:?}");
        assert_eq!(alone.sub_indication, signed.sub_indication, "{kind:?}");
    }
    let expired = fixture.pki.bad_case(BadCaseKind::Expired).unwrap();
    let report = fixture.verifier.validate_certificate(expired.cert().cert_der(), Purpose::Signing, at());
    assert_result(&report, SubIndication::OutOfBoundsNoPoe, "CERTIFICATE_EXPIRED");

    let card = holder(&fixture).card();
    let wrong = fixture.verifier.validate_certificate(card.auth_cert_der(), Purpose::Signing, at());
    assert_result(&wrong, SubIndication::ChainConstraintsFailure, "CERTIFICATE_KIND_NOT_ACCEPTED");
    let wrong = fixture.verifier.validate_certificate(card.signing_cert_der(), Purpose::Authentication, at());
    assert_result(&wrong, SubIndication::ChainConstraintsFailure, "CERTIFICATE_KIND_NOT_ACCEPTED");
}

#[test]
fn garbage_is_a_format_failure() {
    let fixture = Fixture::new();
    for input in [&b""[..], b"not a certificate", &[0x30, 0x82, 0xff, 0xff]] {
        let report = fixture.verifier.validate_certificate(input, Purpose::Authentication, at());
        assert_eq!(report.indication, Indication::TotalFailed);
        assert_eq!(report.sub_indication, Some(SubIndication::FormatFailure), "{report:#?}");
        assert_eq!(report.operation, Operation::Certificate);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    #[test]
    fn no_input_panics_and_none_passes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), flip in 0usize..2048) {
        let fixture = shared();
        let report = fixture.verifier.validate_certificate(&bytes, Purpose::Signing, at());
        proptest::prop_assert!(!report.passed());
        // A good certificate with one byte flipped never panics either.
        let card = holder(fixture).card();
        let mut der = card.signing_cert_der().to_vec();
        let index = flip % der.len();
        der[index] ^= 0x01;
        let report = fixture.verifier.validate_certificate(&der, Purpose::Signing, at());
        proptest::prop_assert!(!report.passed() || report.certificate.is_some());
    }
}

fn shared() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(Fixture::new)
}
