//! Every indication and sub-indication the core can produce, on the deterministic test PKI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, at, time};
use jpki_core::report::Check;
use jpki_core::revocation::{RevocationReason, UnknownStatusCause};
use jpki_core::{
    AuthProofInput, FailureReason, HashAlgorithm, Indication, SignatureInput, SignedContent, SubIndication,
    ValidationReport,
};
use jpki_testpki::{BadCaseKind, CertKind as PkiKind, CmsOptions, CrlEntry, HashAlg, ReasonCode, SignerIdKind};

const FORM: &[u8] = "口座開設申込書: 山田 太郎, 東京都千代田区".as_bytes();

fn assert_result(report: &ValidationReport, sub: SubIndication, code: &str) {
    assert_eq!(report.sub_indication, Some(sub), "{report:#?}");
    assert_eq!(report.indication, sub.indication());
    assert_eq!(report.reason.as_ref().map(FailureReason::code), Some(code), "{report:#?}");
}

fn raw(signature: &[u8], certificate: &[u8], data: &[u8]) -> SignatureInput<'static> {
    // Leak is fine in tests: it keeps the helper signature simple.
    let signature = Box::leak(signature.to_vec().into_boxed_slice());
    let certificate = Box::leak(certificate.to_vec().into_boxed_slice());
    let data = Box::leak(data.to_vec().into_boxed_slice());
    SignatureInput::Raw {
        signature,
        certificate,
        content: SignedContent::Message { data, hash: HashAlgorithm::Sha256 },
    }
}

fn card_holder(fixture: &Fixture, kind: PkiKind, generation_label: &str) -> jpki_testpki::Holder {
    fixture
        .pki
        .holders()
        .iter()
        .find(|holder| holder.signing().kind() == kind && holder.signing().issuer_label().ends_with(generation_label))
        .cloned()
        .expect("holder of that kind and generation")
}

#[test]
fn raw_signature_passes_with_four_fields() {
    let fixture = Fixture::new();
    let holder = card_holder(&fixture, PkiKind::SigningCard, "g2");
    let card = holder.card();
    let signature = card.sign_document(FORM).unwrap();
    let report = fixture.verifier.verify_signature(&raw(&signature, card.signing_cert_der(), FORM), at());
    assert_eq!(report.indication, Indication::TotalPassed, "{report:#?}");
    assert!(report.reason.is_none() && report.sub_indication.is_none() && !report.retry_may_help);
    let fields = report.four_fields.as_ref().unwrap();
    let expected = holder.four_fields();
    assert_eq!(fields.name.value.as_deref(), Some(expected.name.as_str()));
    assert_eq!(fields.address.value.as_deref(), Some(expected.address.as_str()));
    assert_eq!(fields.name.substitute_mask.as_deref(), Some(expected.name_substitute.as_str()));
    assert_eq!(fields.date_of_birth.raw.as_deref(), Some(expected.date_of_birth.as_str()));
    assert_eq!(fields.sex.raw.as_deref(), Some(expected.sex.as_str()));
    assert!(fields.name.is_well_formed() && fields.address.is_well_formed());
    let certificate = report.certificate.as_ref().unwrap();
    assert_eq!(certificate.kind, Some(jpki_core::CertKind::SigningCard));
    assert_eq!(certificate.serial, hex::encode(jpki_core::der::unsigned_integer_bytes(holder.signing().serial())));
    assert_eq!(
        certificate.ca_key_id.as_deref(),
        Some(hex::encode(fixture.ca(PkiKind::SigningCard, 2).key_id()).as_str())
    );
    let revocation = report.revocation.as_ref().unwrap();
    assert_eq!(revocation.provenance.as_ref().unwrap().crl_number.as_deref(), Some("1"));
    let checks: Vec<Check> = report.checks.iter().map(|outcome| outcome.check).collect();
    assert_eq!(
        checks,
        [
            Check::Format,
            Check::CryptoConstraints,
            Check::ChainBuilt,
            Check::ChainConstraints,
            Check::SignatureValue,
            Check::ValidityPeriod,
            Check::Revocation
        ]
    );
}

#[test]
fn every_holder_of_every_kind_and_generation_passes() {
    let fixture = Fixture::new();
    for holder in fixture.pki.holders() {
        let card = holder.card();
        let signature = card.sign_document(FORM).unwrap();
        let report = fixture.verifier.verify_signature(&raw(&signature, card.signing_cert_der(), FORM), at());
        assert!(report.passed(), "{}: {report:#?}", holder.id());
        let proof = card.prove(b"challenge").unwrap();
        let input = AuthProofInput {
            certificate: card.auth_cert_der(),
            challenge: b"challenge",
            signature: &proof,
            challenge_issued_at: None,
        };
        let report = fixture.verifier.verify_auth_proof(&input, at());
        assert!(report.passed(), "{}: {report:#?}", holder.id());
        assert!(report.four_fields.is_none(), "authentication certificates carry no four fields");
    }
    let g1 = card_holder(&fixture, PkiKind::SigningCard, "g1");
    let g2 = card_holder(&fixture, PkiKind::SigningCard, "g2");
    let key_id = |holder: &jpki_testpki::Holder| {
        let card = holder.card();
        let signature = card.sign_document(FORM).unwrap();
        let report = fixture.verifier.verify_signature(&raw(&signature, card.signing_cert_der(), FORM), at());
        report.certificate.unwrap().ca_key_id.unwrap()
    };
    assert_ne!(key_id(&g1), key_id(&g2), "generations share a DN but not a key id");
}

#[test]
fn raw_digest_input_uses_pre_hash_verification() {
    let fixture = Fixture::new();
    let card = card_holder(&fixture, PkiKind::SigningCard, "g2").card();
    for (hash, pki_hash) in [
        (HashAlgorithm::Sha256, HashAlg::Sha256),
        (HashAlgorithm::Sha384, HashAlg::Sha384),
        (HashAlgorithm::Sha512, HashAlg::Sha512),
    ] {
        let digest = hash.digest(FORM);
        let signature = card.sign_digest(&digest, pki_hash).unwrap();
        let input = SignatureInput::Raw {
            signature: &signature,
            certificate: card.signing_cert_der(),
            content: SignedContent::Digest { digest: &digest, hash },
        };
        assert!(fixture.verifier.verify_signature(&input, at()).passed());
        let mut altered = digest.clone();
        altered[0] ^= 1;
        let input = SignatureInput::Raw {
            signature: &signature,
            certificate: card.signing_cert_der(),
            content: SignedContent::Digest { digest: &altered, hash },
        };
        assert_result(
            &fixture.verifier.verify_signature(&input, at()),
            SubIndication::SigCryptoFailure,
            "SIGNATURE_INVALID",
        );
    }
    let short = [0u8; 20];
    let input = SignatureInput::Raw {
        signature: &[0u8; 256],
        certificate: card.signing_cert_der(),
        content: SignedContent::Digest { digest: &short, hash: HashAlgorithm::Sha256 },
    };
    assert_result(
        &fixture.verifier.verify_signature(&input, at()),
        SubIndication::FormatFailure,
        "DIGEST_LENGTH_MISMATCH",
    );
    let sha1_digest = HashAlgorithm::Sha1.digest(FORM);
    let sha1_signature = card.sign_digest(&sha1_digest, HashAlg::Sha1).unwrap();
    let input = SignatureInput::Raw {
        signature: &sha1_signature,
        certificate: card.signing_cert_der(),
        content: SignedContent::Digest { digest: &sha1_digest, hash: HashAlgorithm::Sha1 },
    };
    assert_result(
        &fixture.verifier.verify_signature(&input, at()),
        SubIndication::CryptoConstraintsFailure,
        "HASH_ALGORITHM_REJECTED",
    );
}

#[test]
fn cms_matrix_from_the_card_simulator_passes() {
    let fixture = Fixture::new();
    let card = card_holder(&fixture, PkiKind::SigningCard, "g2").card();
    for attached in [true, false] {
        for signed_attributes in [true, false] {
            for signer_id in [SignerIdKind::IssuerAndSerial, SignerIdKind::SubjectKeyId] {
                for embed_certificate in [true, false] {
                    for hash in [HashAlg::Sha256, HashAlg::Sha512] {
                        let options = CmsOptions {
                            attached,
                            signed_attributes,
                            signer_id,
                            embed_certificate,
                            hash,
                            ..CmsOptions::default()
                        };
                        let cms = card.sign_document_cms(FORM, options).unwrap();
                        let input = SignatureInput::Cms {
                            cms: &cms,
                            detached_content: (!attached).then_some(FORM),
                            certificate: (!embed_certificate).then_some(card.signing_cert_der()),
                        };
                        let report = fixture.verifier.verify_signature(&input, at());
                        assert!(report.passed(), "{options:?}: {report:#?}");
                        assert!(report.four_fields.is_some());
                        let signature = report.signature.unwrap();
                        assert_eq!(signature.attached, Some(attached));
                        assert_eq!(signature.claimed_signing_time.is_some(), signed_attributes);
                    }
                }
            }
        }
    }
}

#[test]
fn cms_failures_have_exact_reasons() {
    let fixture = Fixture::new();
    let card = card_holder(&fixture, PkiKind::SigningCard, "g2").card();
    let other = card_holder(&fixture, PkiKind::SigningCard, "g1").card();
    let detached = card.sign_document_cms(FORM, CmsOptions::default()).unwrap();
    let verify = |cms: &[u8], content: Option<&[u8]>, certificate: Option<&[u8]>| {
        fixture.verifier.verify_signature(&SignatureInput::Cms { cms, detached_content: content, certificate }, at())
    };
    assert_result(&verify(&detached, Some(b"altered"), None), SubIndication::HashFailure, "MESSAGE_DIGEST_MISMATCH");
    assert_result(&verify(&detached, None, None), SubIndication::SignedDataNotFound, "DETACHED_CONTENT_MISSING");
    let attached = card.sign_document_cms(FORM, CmsOptions { attached: true, ..CmsOptions::default() }).unwrap();
    assert_result(
        &verify(&attached, Some(b"another form"), None),
        SubIndication::FormatFailure,
        "CONTENT_SUPPLIED_TWICE",
    );
    assert!(verify(&attached, Some(FORM), None).passed(), "the same content twice is not ambiguous");
    let no_attributes =
        card.sign_document_cms(FORM, CmsOptions { signed_attributes: false, ..CmsOptions::default() }).unwrap();
    assert_result(
        &verify(&no_attributes, Some(b"altered"), None),
        SubIndication::SigCryptoFailure,
        "SIGNATURE_INVALID",
    );
    let not_embedded =
        card.sign_document_cms(FORM, CmsOptions { embed_certificate: false, ..CmsOptions::default() }).unwrap();
    assert_result(
        &verify(&not_embedded, Some(FORM), None),
        SubIndication::NoSigningCertificateFound,
        "SIGNING_CERTIFICATE_NOT_FOUND",
    );
    assert_result(
        &verify(&not_embedded, Some(FORM), Some(other.signing_cert_der())),
        SubIndication::NoSigningCertificateFound,
        "SIGNER_IDENTIFIER_MISMATCH",
    );
    let sha1 = card.sign_document_cms(FORM, CmsOptions { hash: HashAlg::Sha1, ..CmsOptions::default() }).unwrap();
    assert_result(&verify(&sha1, Some(FORM), None), SubIndication::CryptoConstraintsFailure, "HASH_ALGORITHM_REJECTED");
    assert_result(&verify(b"\x30\x03\x02\x01", Some(FORM), None), SubIndication::FormatFailure, "MALFORMED");
    let truncated = &detached[..detached.len() / 2];
    let report = verify(truncated, Some(FORM), None);
    assert_result(&report, SubIndication::FormatFailure, "MALFORMED");
    // The signature byte flipped: the signed attributes still match, the RSA check does not.
    let mut flipped = detached.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    assert_result(&verify(&flipped, Some(FORM), None), SubIndication::SigCryptoFailure, "SIGNATURE_INVALID");
}

#[test]
fn authentication_proofs() {
    let fixture = Fixture::new();
    let card = card_holder(&fixture, PkiKind::SigningCard, "g2").card();
    let challenge = b"bank-challenge-0001";
    let proof = card.prove(challenge).unwrap();
    let verify = |certificate: &[u8], challenge: &[u8], signature: &[u8]| {
        fixture
            .verifier
            .verify_auth_proof(&AuthProofInput { certificate, challenge, signature, challenge_issued_at: None }, at())
    };
    assert!(verify(card.auth_cert_der(), challenge, &proof).passed());
    assert_result(
        &verify(card.auth_cert_der(), b"another challenge", &proof),
        SubIndication::SigCryptoFailure,
        "SIGNATURE_INVALID",
    );
    // A signing certificate cannot log in, and an authentication certificate cannot sign.
    let signed_challenge = card.sign_document(challenge).unwrap();
    assert_result(
        &verify(card.signing_cert_der(), challenge, &signed_challenge),
        SubIndication::ChainConstraintsFailure,
        "CERTIFICATE_KIND_NOT_ACCEPTED",
    );
    let report = fixture.verifier.verify_signature(&raw(&proof, card.auth_cert_der(), challenge), at());
    assert_result(&report, SubIndication::ChainConstraintsFailure, "CERTIFICATE_KIND_NOT_ACCEPTED");
    assert_result(&verify(b"not a certificate", challenge, &proof), SubIndication::FormatFailure, "MALFORMED");
}

#[test]
fn every_bad_case_has_its_reason() {
    let fixture = Fixture::new();
    let expectations = [
        (BadCaseKind::Expired, SubIndication::OutOfBoundsNoPoe, "CERTIFICATE_EXPIRED"),
        (BadCaseKind::NotYetValid, SubIndication::NotYetValid, "CERTIFICATE_NOT_YET_VALID"),
        (BadCaseKind::SigningWithoutNonRepudiation, SubIndication::ChainConstraintsFailure, "KEY_USAGE_NOT_PERMITTED"),
        (BadCaseKind::AuthProfileUnderSigningCa, SubIndication::ChainConstraintsFailure, "POLICY_NOT_ACCEPTED"),
        (BadCaseKind::WeakKey, SubIndication::CryptoConstraintsFailure, "KEY_TOO_SMALL"),
        (BadCaseKind::ForeignCa, SubIndication::NoCertificateChainFound, "NO_ANCHOR_VERIFIES_CERTIFICATE"),
        (BadCaseKind::Sha1, SubIndication::CryptoConstraintsFailure, "HASH_ALGORITHM_REJECTED"),
        (BadCaseKind::UnknownCriticalExtension, SubIndication::ChainConstraintsFailure, "UNKNOWN_CRITICAL_EXTENSION"),
        (BadCaseKind::EeIsCa, SubIndication::ChainConstraintsFailure, "END_ENTITY_IS_CA"),
        (BadCaseKind::WrongPolicy, SubIndication::ChainConstraintsFailure, "POLICY_NOT_ACCEPTED"),
    ];
    assert_eq!(expectations.len(), BadCaseKind::ALL.len());
    for (kind, sub, code) in expectations {
        let case = fixture.pki.bad_case(kind).unwrap();
        let certificate = case.cert();
        let signature = certificate.signer().sign_message(FORM, HashAlg::Sha256).unwrap();
        let report = fixture.verifier.verify_signature(&raw(&signature, certificate.cert_der(), FORM), at());
        assert_result(&report, sub, code);
        assert!(report.four_fields.is_none() || report.certificate.as_ref().unwrap().kind.is_some());
    }
}

#[test]
fn anchor_outside_its_validity() {
    let fixture = Fixture::new();
    let ca = fixture.ca(PkiKind::SigningCard, 1);
    let template = card_holder(&fixture, PkiKind::SigningCard, "g2");
    // Reissue a holder's certificate under g1 with a validity that outlives the g1 root.
    let key = template.signing().key();
    let spki = jpki_testpki::keys::spki_der(&key.to_public_key()).unwrap();
    let der = jpki_testpki::CertificateBuilder::new(
        vec![0x42],
        jpki_testpki::DistinguishedName::new().country("JP").common_name("OUTLIVES-ROOT"),
        common::offset(time("2024-01-01T00:00:00Z")),
        common::offset(time("2031-01-01T00:00:00Z")),
        spki,
    )
    .extension(jpki_testpki::cert::ext::key_usage(PkiKind::SigningCard.ee_key_usage(), true))
    .extension(jpki_testpki::cert::ext::certificate_policies(&[PkiKind::SigningCard.policy_oid()], true).unwrap())
    .extension(jpki_testpki::cert::ext::authority_key_identifier(ca.key_id()))
    .sign(ca.issuer())
    .unwrap();
    let later = time("2030-01-01T00:00:00Z");
    // No list: the revocation store refuses lists signed by an anchor outside its validity, and
    // the anchor's validity is judged before revocation.
    let signature = template.signing().signer().sign_message(FORM, HashAlg::Sha256).unwrap();
    let report = fixture.verifier.verify_signature(&raw(&signature, &der, FORM), later);
    assert_result(&report, SubIndication::OutOfBoundsNoPoe, "ANCHOR_OUTSIDE_VALIDITY");
}

#[test]
fn revocation_outcomes() {
    let fixture = Fixture::new();
    let holder = card_holder(&fixture, PkiKind::SigningCard, "g2");
    let card = holder.card();
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    let auth_ca = fixture.ca(PkiKind::AuthCard, 2);
    let signature = card.sign_document(FORM).unwrap();
    let input = raw(&signature, card.signing_cert_der(), FORM);
    let revoked_at = time("2026-05-10T00:00:00Z");

    let entry = holder.signing().crl_entry(common::offset(revoked_at)).reason(ReasonCode::AffiliationChanged);
    fixture.publish(ca, time("2026-05-11T00:00:00Z"), time("2026-06-11T00:00:00Z"), 2, &[entry]);
    let report = fixture.verifier.verify_signature(&input, at());
    assert_result(&report, SubIndication::RevokedNoPoe, "REVOKED");
    assert_eq!(
        report.reason,
        Some(FailureReason::Revoked { revoked_at, reason: Some(RevocationReason::AffiliationChanged) })
    );
    assert!(!report.retry_may_help);
    assert_eq!(report.revocation.as_ref().unwrap().provenance.as_ref().unwrap().crl_number.as_deref(), Some("2"));
    // Before the list's thisUpdate its status is unknown, never good.
    let report = fixture.verifier.verify_signature(&input, time("2026-05-09T00:00:00Z"));
    assert_result(&report, SubIndication::TryLater, "REVOCATION_STATUS_UNKNOWN");

    // A hold may be released: TRY_LATER, retrying later may help (tests/hold.rs has the details).
    let hold = holder.signing().crl_entry(common::offset(revoked_at)).reason(ReasonCode::CertificateHold);
    fixture.publish(ca, time("2026-05-12T00:00:00Z"), time("2026-06-12T00:00:00Z"), 3, &[hold]);
    let report = fixture.verifier.verify_signature(&input, at());
    assert_result(&report, SubIndication::TryLater, "CERTIFICATE_ON_HOLD");
    assert!(report.retry_may_help);

    // A proof whose challenge was issued after the revocation: definitely revoked.
    let auth_entry = holder.auth().crl_entry(common::offset(revoked_at)).reason(ReasonCode::KeyCompromise);
    fixture.publish(auth_ca, time("2026-05-11T00:00:00Z"), time("2026-06-11T00:00:00Z"), 2, &[auth_entry]);
    let proof = card.prove(b"c").unwrap();
    let issued = time("2026-05-31T23:59:00Z");
    let input = AuthProofInput {
        certificate: card.auth_cert_der(),
        challenge: b"c",
        signature: &proof,
        challenge_issued_at: Some(issued),
    };
    let report = fixture.verifier.verify_auth_proof(&input, at());
    assert_result(&report, SubIndication::Revoked, "REVOKED_BEFORE_PROOF");
    let report = fixture.verifier.verify_auth_proof(&AuthProofInput { challenge_issued_at: None, ..input }, at());
    assert_result(&report, SubIndication::RevokedNoPoe, "REVOKED");
}

#[test]
fn unknown_revocation_status_never_passes() {
    let fixture = Fixture::without_crls();
    let holder = card_holder(&fixture, PkiKind::SigningCard, "g2");
    let card = holder.card();
    let signature = card.sign_document(FORM).unwrap();
    let input = raw(&signature, card.signing_cert_der(), FORM);
    let cause = |report: &ValidationReport| match &report.reason {
        Some(FailureReason::RevocationStatusUnknown { cause }) => cause.clone(),
        other => panic!("expected unknown status, got {other:?}"),
    };
    let report = fixture.verifier.verify_signature(&input, at());
    assert_result(&report, SubIndication::TryLater, "REVOCATION_STATUS_UNKNOWN");
    assert!(report.retry_may_help);
    assert_eq!(cause(&report), UnknownStatusCause::NoListForIssuer);

    let ca = fixture.ca(PkiKind::SigningCard, 2);
    fixture.publish(ca, time("2026-04-01T00:00:00Z"), time("2026-05-01T00:00:00Z"), 1, &[]);
    let report = fixture.verifier.verify_signature(&input, at());
    assert_eq!(cause(&report), UnknownStatusCause::ListStale { next_update: time("2026-05-01T00:00:00Z") });
    assert_eq!(report.revocation.as_ref().unwrap().provenance.as_ref().unwrap().crl_number.as_deref(), Some("1"));

    let report = fixture.verifier.verify_signature(&input, time("2026-03-01T00:00:00Z"));
    assert_eq!(cause(&report), UnknownStatusCause::ListNotYetValid { this_update: time("2026-04-01T00:00:00Z") });

    // A list limited to another distribution point does not cover the certificate.
    let other_point = jpki_testpki::profile::ee_crl_dp_name(PkiKind::SigningCard, "Hokkaido", "Sapporo-shi");
    let scoped = jpki_testpki::CrlBuilder::new(
        common::offset(time("2026-05-20T00:00:00Z")),
        Some(common::offset(time("2026-06-20T00:00:00Z"))),
    )
    .number(5)
    .issuing_distribution_point(jpki_testpki::IssuingDistributionPoint {
        full_name: Some(other_point),
        only_contains_user_certs: true,
        only_contains_ca_certs: false,
    })
    .sign(ca.issuer())
    .unwrap();
    let scoped_only = Fixture::without_crls();
    scoped_only.load("scoped", &scoped).unwrap();
    let report = scoped_only.verifier.verify_signature(&input, at());
    assert_eq!(cause(&report), UnknownStatusCause::NoListForScope);
}

#[test]
fn crls_that_must_be_refused() {
    use jpki_revocation::LoadError;
    let fixture = Fixture::without_crls();
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    let foreign = fixture.pki.foreign_ca();
    let dates = (common::offset(time("2026-05-01T00:00:00Z")), common::offset(time("2026-07-01T00:00:00Z")));
    let forged = foreign.issue_crl(dates.0, dates.1, 1, &[]).unwrap();
    assert!(matches!(
        fixture.load("forged", &forged),
        Err(LoadError::WrongIssuer { .. } | LoadError::SignatureInvalid { .. })
    ));
    let sha1 =
        jpki_testpki::CrlBuilder::new(dates.0, Some(dates.1)).number(1).hash(HashAlg::Sha1).sign(ca.issuer()).unwrap();
    assert!(matches!(fixture.load("sha1", &sha1), Err(LoadError::AlgorithmRejected { .. })));
    let critical = jpki_testpki::CrlBuilder::new(dates.0, Some(dates.1))
        .number(1)
        .entry(CrlEntry::new(vec![1], dates.0).extension(jpki_testpki::Extension::new(
            "1.3.6.1.4.1.55555.2",
            true,
            vec![0x05, 0x00],
        )))
        .sign(ca.issuer())
        .unwrap();
    assert!(matches!(fixture.load("critical", &critical), Err(LoadError::UnknownCriticalEntryExtension { .. })));
    let mut tampered = ca.issue_crl(dates.0, dates.1, 1, &[]).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(fixture.load("tampered", &tampered), Err(LoadError::SignatureInvalid { .. })));
    assert!(matches!(fixture.load("garbage", b"\x30\x00"), Err(LoadError::Malformed { .. })));
}

#[test]
fn cached_chain_still_checks_revocation_and_time_every_call() {
    let fixture = Fixture::new();
    let holder = card_holder(&fixture, PkiKind::SigningCard, "g2");
    let card = holder.card();
    let challenge = b"login";
    let proof = card.prove(challenge).unwrap();
    let input =
        AuthProofInput { certificate: card.auth_cert_der(), challenge, signature: &proof, challenge_issued_at: None };
    assert!(fixture.verifier.verify_auth_proof(&input, at()).passed());
    assert!(fixture.verifier.verify_auth_proof(&input, at()).passed(), "second call served from the cache");

    let entry = holder.auth().crl_entry(common::offset(time("2026-05-20T00:00:00Z"))).reason(ReasonCode::KeyCompromise);
    fixture.publish(
        fixture.ca(PkiKind::AuthCard, 2),
        time("2026-05-21T00:00:00Z"),
        time("2026-06-21T00:00:00Z"),
        2,
        &[entry],
    );
    assert_result(&fixture.verifier.verify_auth_proof(&input, at()), SubIndication::RevokedNoPoe, "REVOKED");

    let other = card_holder(&fixture, PkiKind::SigningCard, "g1").card();
    let proof = other.prove(challenge).unwrap();
    let input =
        AuthProofInput { certificate: other.auth_cert_der(), challenge, signature: &proof, challenge_issued_at: None };
    assert!(fixture.verifier.verify_auth_proof(&input, at()).passed());
    let after_expiry = time("2035-01-01T00:00:00Z");
    assert_result(
        &fixture.verifier.verify_auth_proof(&input, after_expiry),
        SubIndication::OutOfBoundsNoPoe,
        "CERTIFICATE_EXPIRED",
    );
}

#[test]
fn configuration_fails_closed() {
    use jpki_core::{ConfigError, KindConfig, NoRevocationSource, Verifier, VerifierConfig};
    let pki = common::pki();
    let anchor = pki.ca(PkiKind::SigningCard, 2).unwrap().cert_der().to_vec();
    let config = |anchors: Vec<Vec<u8>>, policy_oids: Vec<String>| VerifierConfig {
        kinds: vec![KindConfig {
            kind: jpki_core::CertKind::SigningCard,
            anchors,
            policy_oids,
            revocation: std::sync::Arc::new(NoRevocationSource),
        }],
        algorithms: jpki_core::AlgorithmPolicy::default(),
        chain_cache_capacity: 0,
    };
    assert!(matches!(Verifier::new(config(vec![], vec!["1.2".into()])), Err(ConfigError::IncompleteKind(_))));
    assert!(matches!(Verifier::new(config(vec![anchor.clone()], vec![])), Err(ConfigError::IncompleteKind(_))));
    let holder_certificate = pki.holders()[0].signing().cert_der().to_vec();
    assert!(matches!(
        Verifier::new(config(vec![holder_certificate], vec!["1.2".into()])),
        Err(ConfigError::Anchor { .. })
    ));
    assert!(matches!(
        Verifier::new(config(vec![b"junk".to_vec()], vec!["1.2".into()])),
        Err(ConfigError::Anchor { .. })
    ));
    // A kind that is not configured is not trusted: the authentication CA's certificates find no chain.
    let verifier =
        Verifier::new(config(vec![anchor], vec![jpki_testpki::profile::oid::POLICY_SIGNING.into()])).unwrap();
    let card = pki.holders()[0].card();
    let proof = card.prove(b"x").unwrap();
    let report = verifier.verify_auth_proof(
        &AuthProofInput {
            certificate: card.auth_cert_der(),
            challenge: b"x",
            signature: &proof,
            challenge_issued_at: None,
        },
        at(),
    );
    assert_result(&report, SubIndication::NoCertificateChainFound, "NO_ANCHOR_VERIFIES_CERTIFICATE");
}
