//! Every indication and sub-indication reachable through the API, over a real socket: each case
//! goes through VerifySignature (raw or CMS) or VerifyAuthProof and asserts the indication, the
//! sub-indication and the reason code (docs/results.md).
//!
//! Reachability through the API (every sub-indication is reached by at least one RPC):
//! - HASH_FAILURE needs a signed messageDigest: CMS only (a raw signature over altered content is
//!   SIG_CRYPTO_FAILURE; a proof has no content digest).
//! - NO_SIGNING_CERTIFICATE_FOUND and SIGNED_DATA_NOT_FOUND are CMS-only by nature.
//! - REVOKED (TOTAL_FAILED, REVOKED_BEFORE_PROOF) needs a proof-of-existence bound: only
//!   VerifyAuthProof has one (the challenge's issue time). A document signature revoked is always
//!   REVOKED_NO_POE.
//! - SIG_CONSTRAINTS_FAILURE is the gateway's: a proof's challenge (VerifyAuthProof only) and the
//!   tenant's certificate kinds (tests/purposes.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::verification_service_client::VerificationServiceClient;
use jpki_api::v1::{
    ApplicantData, CertificateId, CheckStatusRequest, CmsSignature, HashAlgorithm, Indication, IssueChallengeRequest,
    RawSignature, SubIndication, VerificationResult, VerifyAuthProofRequest, VerifySignatureRequest,
    raw_signature::Signed, verify_signature_request::Signature,
};
use jpki_gateway::settings::AnchorSettings;
use jpki_testpki::cert::ext;
use jpki_testpki::profile::key_usage;
use jpki_testpki::{
    BadCaseKind, Ca, CertKind as PkiKind, CertificateBuilder, CmsOptions, DistinguishedName, HashAlg, PrivateKey,
    Signer, TestPki, WriteOptions,
};
use time::OffsetDateTime;
use tonic::transport::Channel;

use Indication::{Indeterminate, TotalFailed, TotalPassed};
use SubIndication as S;

/// What one case must give: indication, sub-indication, reason code ("" on TOTAL_PASSED).
type Expected = (Indication, SubIndication, &'static str);

const PASSED: Expected = (TotalPassed, S::Unspecified, "");

fn date(year: i32, month: u8, day: u8) -> OffsetDateTime {
    time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day).unwrap().midnight().assume_utc()
}

fn check(name: &str, result: &VerificationResult, (indication, sub, code): Expected) {
    assert_eq!(result.indication(), indication, "{name}: {result:#?}");
    assert_eq!(result.sub_indication(), sub, "{name}: {result:#?}");
    match result.reason.as_ref() {
        Some(reason) => assert_eq!(reason.code, code, "{name}: {result:#?}"),
        None => assert_eq!(code, "", "{name}: no reason in {result:#?}"),
    }
    if indication == TotalPassed {
        assert!(result.reason.is_none() && !result.retry_may_help, "{name}: {result:#?}");
    }
    assert!(!result.verification_id.is_empty(), "{name}");
}

// ---------------------------------------------------------------------------------------------
// Inputs.

fn raw(signature: Vec<u8>, certificate: &[u8], signed: Signed, hash: HashAlgorithm) -> VerifySignatureRequest {
    VerifySignatureRequest {
        signature: Some(Signature::Raw(RawSignature {
            signature,
            certificate: certificate.to_vec(),
            signed: Some(signed),
            hash: hash as i32,
        })),
        applicant: None,
        business_purpose: BusinessPurpose::AccountOpening as i32,
    }
}

/// A raw SHA-256 signature over FORM by `signer`, sent with `sent` as the content.
fn raw_over(signer: &Signer<'_>, sent: &[u8]) -> VerifySignatureRequest {
    let signature = signer.sign_message(FORM, HashAlg::Sha256).unwrap();
    raw(signature, signer.cert_der(), Signed::Content(sent.to_vec()), HashAlgorithm::Sha256)
}

fn cms(cms: Vec<u8>, detached_content: &[u8], certificate: &[u8]) -> VerifySignatureRequest {
    VerifySignatureRequest {
        signature: Some(Signature::Cms(CmsSignature {
            cms,
            detached_content: detached_content.to_vec(),
            certificate: certificate.to_vec(),
        })),
        applicant: None,
        business_purpose: BusinessPurpose::AccountOpening as i32,
    }
}

fn now_options() -> CmsOptions {
    CmsOptions { signing_time: OffsetDateTime::now_utc(), ..CmsOptions::default() }
}

/// How a proof is made once the challenge is known: (certificate, signature).
type Prover = Box<dyn Fn(&[u8]) -> (Vec<u8>, Vec<u8>) + Send + Sync>;

/// A PKCS#1 v1.5 SHA-256 proof over the challenge with `key`, sent with `certificate`.
fn proof_by(key: &PrivateKey, certificate: &[u8]) -> Prover {
    let (key, certificate) = (key.clone(), certificate.to_vec());
    Box::new(move |challenge| {
        let signature = Signer::new(&key, &certificate).sign_message(challenge, HashAlg::Sha256).unwrap();
        (certificate.clone(), signature)
    })
}

async fn verify(
    client: &mut VerificationServiceClient<Channel>,
    request: VerifySignatureRequest,
) -> VerificationResult {
    client.verify_signature(authed(request, KEY_A)).await.unwrap().into_inner().result.unwrap()
}

/// IssueChallenge, then VerifyAuthProof with the prover's certificate and signature.
async fn prove(client: &mut VerificationServiceClient<Channel>, prover: &Prover) -> VerificationResult {
    let issued = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let (certificate, signature) = prover(&issued.challenge);
    let request = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate,
        signature,
        business_purpose: BusinessPurpose::Login as i32,
    };
    client.verify_auth_proof(authed(request, KEY_A)).await.unwrap().into_inner().result.unwrap()
}

/// An end-entity certificate of `kind`'s profile for `key`, issued by `ca` with the given validity.
fn issue(
    ca: &Ca,
    kind: PkiKind,
    key: &PrivateKey,
    serial: u8,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Vec<u8> {
    let spki = jpki_testpki::keys::spki_der(&key.to_public_key()).unwrap();
    CertificateBuilder::new(
        vec![0x7e, serial],
        DistinguishedName::new().country("JP").common_name(format!("INDICATIONS-{serial}")),
        not_before,
        not_after,
        spki,
    )
    .extension(ext::key_usage(kind.ee_key_usage(), true))
    .extension(ext::certificate_policies(&[kind.policy_oid()], true).unwrap())
    .extension(ext::authority_key_identifier(ca.key_id()))
    .sign(ca.issuer())
    .unwrap()
}

/// A signing root that expired on 2025-10-19 (as the real 2015 roots did), written to `dir`, and a
/// signing certificate under it that is itself still within its validity.
fn expired_root(dir: &Path, pki: &TestPki) -> (AnchorSettings, Vec<u8>, PrivateKey) {
    let key = jpki_testpki::keys::derive_key(4, "ca/indications-expired-root", 2048).unwrap();
    let spki = jpki_testpki::keys::spki_der(&key.to_public_key()).unwrap();
    let key_id = jpki_testpki::keys::key_id_from_spki(&spki).unwrap();
    let root = CertificateBuilder::new(
        vec![0x15],
        DistinguishedName::new().country("JP").common_name("Expired Test Root 2015"),
        date(2015, 10, 20),
        date(2025, 10, 19),
        spki,
    )
    .extension(ext::key_usage(&[key_usage::KEY_CERT_SIGN, key_usage::CRL_SIGN], true))
    .extension(ext::basic_constraints(true, true))
    .extension(ext::subject_key_identifier(&key_id))
    .self_sign(&key)
    .unwrap();
    let ca = Ca::from_parts("expired-root", PkiKind::SigningCard, 1, true, root.clone(), key).unwrap();
    let path = dir.join("expired-root.pem");
    std::fs::write(&path, jpki_testpki::keys::pem_encode("CERTIFICATE", &root).unwrap()).unwrap();
    let holder_key = pki.holder("h05").unwrap().signing().key().clone();
    let certificate = issue(&ca, PkiKind::SigningCard, &holder_key, 1, date(2024, 1, 1), date(2029, 1, 1));
    (AnchorSettings { kind: "signing_card".into(), path }, certificate, holder_key)
}

// ---------------------------------------------------------------------------------------------
// Lists fresh (the test PKI's files): everything but revocation and TRY_LATER.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_signatures_give_every_sub_indication_but_revocation() {
    let anchors = tempfile::tempdir().unwrap();
    let pki = jpki_testsupport::testing::pki();
    let (anchor, outlives_root, outlives_key) = expired_root(anchors.path(), &pki);
    let running = start_with(|config| config.trust.anchors.push(anchor)).await;
    let mut client = running.verification().await;
    let pki = &running.pki;
    let card = pki.card("h01").unwrap();
    let other = pki.card("h07").unwrap();
    let signing = card.signing_signer();
    let bad = |kind: BadCaseKind| pki.bad_case(kind).unwrap().cert().signer();
    let digest = |hash: HashAlg, data: &[u8]| hash.digest(data);
    // An ECDSA certificate: an algorithm the core does not implement (fails closed).
    let ecdsa = rcgen::generate_simple_self_signed(vec!["ecdsa.example".to_owned()]).unwrap();

    let cases: Vec<(&str, VerifySignatureRequest, Expected)> = vec![
        // TOTAL_PASSED.
        ("raw content", raw_over(&signing, FORM), PASSED),
        (
            "raw sha-384 digest",
            raw(
                card.sign_digest(&digest(HashAlg::Sha384, FORM), HashAlg::Sha384).unwrap(),
                card.signing_cert_der(),
                Signed::Digest(digest(HashAlg::Sha384, FORM)),
                HashAlgorithm::Sha384,
            ),
            PASSED,
        ),
        ("cms detached", cms(card.sign_document_cms(FORM, now_options()).unwrap(), FORM, b""), PASSED),
        (
            "cms attached, certificate supplied",
            cms(
                card.sign_document_cms(FORM, CmsOptions { attached: true, embed_certificate: false, ..now_options() })
                    .unwrap(),
                b"",
                card.signing_cert_der(),
            ),
            PASSED,
        ),
        // FORMAT_FAILURE.
        (
            "raw garbage certificate",
            raw_over(&Signer::new(signing.key(), b"\x30\x03garbage"), FORM),
            (TotalFailed, S::FormatFailure, "MALFORMED"),
        ),
        (
            "raw digest of the wrong length",
            raw(vec![0; 256], card.signing_cert_der(), Signed::Digest(vec![0; 20]), HashAlgorithm::Sha256),
            (TotalFailed, S::FormatFailure, "DIGEST_LENGTH_MISMATCH"),
        ),
        ("cms garbage", cms(b"\x30\x03\x02\x01".to_vec(), FORM, b""), (TotalFailed, S::FormatFailure, "MALFORMED")),
        (
            "cms attached with other detached content",
            cms(
                card.sign_document_cms(FORM, CmsOptions { attached: true, ..now_options() }).unwrap(),
                b"another form",
                b"",
            ),
            (TotalFailed, S::FormatFailure, "CONTENT_SUPPLIED_TWICE"),
        ),
        // HASH_FAILURE (CMS only: the signed messageDigest).
        (
            "cms altered content",
            cms(card.sign_document_cms(FORM, now_options()).unwrap(), b"altered form", b""),
            (TotalFailed, S::HashFailure, "MESSAGE_DIGEST_MISMATCH"),
        ),
        // SIG_CRYPTO_FAILURE.
        (
            "raw altered content",
            raw_over(&signing, b"altered form"),
            (TotalFailed, S::SigCryptoFailure, "SIGNATURE_INVALID"),
        ),
        (
            "raw signature by another key",
            raw_over(&Signer::new(other.signing_signer().key(), card.signing_cert_der()), FORM),
            (TotalFailed, S::SigCryptoFailure, "SIGNATURE_INVALID"),
        ),
        (
            "cms without signed attributes, altered content",
            cms(
                card.sign_document_cms(FORM, CmsOptions { signed_attributes: false, ..now_options() }).unwrap(),
                b"altered form",
                b"",
            ),
            (TotalFailed, S::SigCryptoFailure, "SIGNATURE_INVALID"),
        ),
        // NOT_YET_VALID.
        (
            "raw not yet valid",
            raw_over(&bad(BadCaseKind::NotYetValid), FORM),
            (TotalFailed, S::NotYetValid, "CERTIFICATE_NOT_YET_VALID"),
        ),
        (
            "cms not yet valid",
            cms(bad(BadCaseKind::NotYetValid).sign_cms(FORM, now_options()).unwrap(), FORM, b""),
            (TotalFailed, S::NotYetValid, "CERTIFICATE_NOT_YET_VALID"),
        ),
        // OUT_OF_BOUNDS_NO_POE.
        (
            "raw expired",
            raw_over(&bad(BadCaseKind::Expired), FORM),
            (Indeterminate, S::OutOfBoundsNoPoe, "CERTIFICATE_EXPIRED"),
        ),
        (
            "raw under an expired root",
            raw_over(&Signer::new(&outlives_key, &outlives_root), FORM),
            (Indeterminate, S::OutOfBoundsNoPoe, "ANCHOR_OUTSIDE_VALIDITY"),
        ),
        // NO_CERTIFICATE_CHAIN_FOUND.
        (
            "raw from a foreign CA",
            raw_over(&bad(BadCaseKind::ForeignCa), FORM),
            (Indeterminate, S::NoCertificateChainFound, "NO_ANCHOR_VERIFIES_CERTIFICATE"),
        ),
        (
            "cms from a foreign CA",
            cms(bad(BadCaseKind::ForeignCa).sign_cms(FORM, now_options()).unwrap(), FORM, b""),
            (Indeterminate, S::NoCertificateChainFound, "NO_ANCHOR_VERIFIES_CERTIFICATE"),
        ),
        // NO_SIGNING_CERTIFICATE_FOUND (CMS only).
        (
            "cms without its certificate",
            cms(
                card.sign_document_cms(FORM, CmsOptions { embed_certificate: false, ..now_options() }).unwrap(),
                FORM,
                b"",
            ),
            (Indeterminate, S::NoSigningCertificateFound, "SIGNING_CERTIFICATE_NOT_FOUND"),
        ),
        (
            "cms with another certificate supplied",
            cms(
                card.sign_document_cms(FORM, CmsOptions { embed_certificate: false, ..now_options() }).unwrap(),
                FORM,
                other.signing_cert_der(),
            ),
            (Indeterminate, S::NoSigningCertificateFound, "SIGNER_IDENTIFIER_MISMATCH"),
        ),
        // CHAIN_CONSTRAINTS_FAILURE.
        (
            "signing without nonRepudiation",
            raw_over(&bad(BadCaseKind::SigningWithoutNonRepudiation), FORM),
            (Indeterminate, S::ChainConstraintsFailure, "KEY_USAGE_NOT_PERMITTED"),
        ),
        (
            "authentication profile under the signing CA",
            raw_over(&bad(BadCaseKind::AuthProfileUnderSigningCa), FORM),
            (Indeterminate, S::ChainConstraintsFailure, "POLICY_NOT_ACCEPTED"),
        ),
        (
            "unknown critical extension",
            raw_over(&bad(BadCaseKind::UnknownCriticalExtension), FORM),
            (Indeterminate, S::ChainConstraintsFailure, "UNKNOWN_CRITICAL_EXTENSION"),
        ),
        (
            "end entity is a CA",
            raw_over(&bad(BadCaseKind::EeIsCa), FORM),
            (Indeterminate, S::ChainConstraintsFailure, "END_ENTITY_IS_CA"),
        ),
        (
            "wrong policy",
            raw_over(&bad(BadCaseKind::WrongPolicy), FORM),
            (Indeterminate, S::ChainConstraintsFailure, "POLICY_NOT_ACCEPTED"),
        ),
        (
            "authentication certificate on a document",
            raw_over(&card.auth_signer(), FORM),
            (Indeterminate, S::ChainConstraintsFailure, "CERTIFICATE_KIND_NOT_ACCEPTED"),
        ),
        (
            "cms by the authentication key",
            cms(card.auth_signer().sign_cms(FORM, now_options()).unwrap(), FORM, b""),
            (Indeterminate, S::ChainConstraintsFailure, "CERTIFICATE_KIND_NOT_ACCEPTED"),
        ),
        // CRYPTO_CONSTRAINTS_FAILURE.
        (
            "raw sha-1 digest",
            raw(
                card.sign_digest(&digest(HashAlg::Sha1, FORM), HashAlg::Sha1).unwrap(),
                card.signing_cert_der(),
                Signed::Digest(digest(HashAlg::Sha1, FORM)),
                HashAlgorithm::Sha1,
            ),
            (Indeterminate, S::CryptoConstraintsFailure, "HASH_ALGORITHM_REJECTED"),
        ),
        (
            "cms sha-1",
            cms(card.sign_document_cms(FORM, CmsOptions { hash: HashAlg::Sha1, ..now_options() }).unwrap(), FORM, b""),
            (Indeterminate, S::CryptoConstraintsFailure, "HASH_ALGORITHM_REJECTED"),
        ),
        (
            "certificate signed with sha-1",
            raw_over(&bad(BadCaseKind::Sha1), FORM),
            (Indeterminate, S::CryptoConstraintsFailure, "HASH_ALGORITHM_REJECTED"),
        ),
        (
            "rsa-1024 key",
            raw_over(&bad(BadCaseKind::WeakKey), FORM),
            (Indeterminate, S::CryptoConstraintsFailure, "KEY_TOO_SMALL"),
        ),
        (
            "ecdsa certificate",
            raw(vec![1; 64], ecdsa.cert.der(), Signed::Content(FORM.to_vec()), HashAlgorithm::Sha256),
            (Indeterminate, S::CryptoConstraintsFailure, "UNSUPPORTED_ALGORITHM"),
        ),
        // SIGNED_DATA_NOT_FOUND (CMS only).
        (
            "detached cms without its content",
            cms(card.sign_document_cms(FORM, now_options()).unwrap(), b"", b""),
            (Indeterminate, S::SignedDataNotFound, "DETACHED_CONTENT_MISSING"),
        ),
    ];
    for (name, request, expected) in cases {
        let response = client.verify_signature(authed(request, KEY_A)).await.unwrap().into_inner();
        let result = response.result.unwrap();
        check(name, &result, expected);
        // The four fields only on TOTAL_PASSED (a bad signature by a real card must not disclose them).
        assert_eq!(response.four_fields.is_some(), expected.0 == TotalPassed, "{name}: {:?}", response.four_fields);
        if expected.0 == TotalPassed {
            let certificate = result.certificate.as_ref().expect(name);
            assert_eq!(certificate.kind(), jpki_api::v1::CertificateKind::SigningCard, "{name}");
            assert_eq!(result.revocation.as_ref().unwrap().status(), jpki_api::v1::RevocationStatus::Good, "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_proofs_give_every_sub_indication_but_revocation() {
    let running = start().await;
    let mut client = running.verification().await;
    let pki = &running.pki;
    let card = pki.card("h02").unwrap();
    let holder = pki.holder("h02").unwrap();
    let auth_ca = pki.ca_by_label(holder.auth().issuer_label()).unwrap();
    let auth_key = holder.auth().key();
    let bad = |kind: BadCaseKind| {
        let certificate = pki.bad_case(kind).unwrap().cert();
        proof_by(certificate.key(), certificate.cert_der())
    };
    let not_yet_valid = issue(auth_ca, PkiKind::AuthCard, auth_key, 2, date(2030, 1, 1), date(2035, 1, 1));
    let expired = issue(auth_ca, PkiKind::AuthCard, auth_key, 3, date(2015, 1, 1), date(2020, 1, 1));
    let other_bytes: Prover = {
        let (key, certificate) = (auth_key.clone(), card.auth_cert_der().to_vec());
        Box::new(move |_| {
            let signature =
                Signer::new(&key, &certificate).sign_message(b"not the challenge", HashAlg::Sha256).unwrap();
            (certificate.clone(), signature)
        })
    };

    let cases: Vec<(&str, Prover, Expected)> = vec![
        ("card proof", proof_by(auth_key, card.auth_cert_der()), PASSED),
        ("garbage certificate", proof_by(auth_key, b"not a certificate"), (TotalFailed, S::FormatFailure, "MALFORMED")),
        ("proof over other bytes", other_bytes, (TotalFailed, S::SigCryptoFailure, "SIGNATURE_INVALID")),
        (
            "proof by another key",
            proof_by(pki.holder("h03").unwrap().auth().key(), card.auth_cert_der()),
            (TotalFailed, S::SigCryptoFailure, "SIGNATURE_INVALID"),
        ),
        (
            "authentication certificate not yet valid",
            proof_by(auth_key, &not_yet_valid),
            (TotalFailed, S::NotYetValid, "CERTIFICATE_NOT_YET_VALID"),
        ),
        (
            "authentication certificate expired",
            proof_by(auth_key, &expired),
            (Indeterminate, S::OutOfBoundsNoPoe, "CERTIFICATE_EXPIRED"),
        ),
        (
            "foreign CA",
            bad(BadCaseKind::ForeignCa),
            (Indeterminate, S::NoCertificateChainFound, "NO_ANCHOR_VERIFIES_CERTIFICATE"),
        ),
        (
            "signing certificate used to log in",
            proof_by(holder.signing().key(), card.signing_cert_der()),
            (Indeterminate, S::ChainConstraintsFailure, "CERTIFICATE_KIND_NOT_ACCEPTED"),
        ),
        (
            "authentication profile under the signing CA",
            bad(BadCaseKind::AuthProfileUnderSigningCa),
            (Indeterminate, S::ChainConstraintsFailure, "POLICY_NOT_ACCEPTED"),
        ),
        (
            "certificate signed with sha-1",
            bad(BadCaseKind::Sha1),
            (Indeterminate, S::CryptoConstraintsFailure, "HASH_ALGORITHM_REJECTED"),
        ),
        ("rsa-1024 key", bad(BadCaseKind::WeakKey), (Indeterminate, S::CryptoConstraintsFailure, "KEY_TOO_SMALL")),
    ];
    for (name, prover, expected) in &cases {
        check(name, &prove(&mut client, prover).await, *expected);
    }

    // SIG_CONSTRAINTS_FAILURE: the challenge (the core is never reached).
    let prover = proof_by(auth_key, card.auth_cert_der());
    let (certificate, signature) = prover(b"whatever");
    let unknown = VerifyAuthProofRequest {
        challenge_id: "0123456789abcdef0123456789abcdef".into(),
        certificate,
        signature,
        business_purpose: BusinessPurpose::Login as i32,
    };
    let result = client.verify_auth_proof(authed(unknown, KEY_A)).await.unwrap().into_inner().result.unwrap();
    check("unknown challenge", &result, (TotalFailed, S::SigConstraintsFailure, "CHALLENGE_UNKNOWN"));
    assert!(!result.retry_may_help);
    let issued = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let (certificate, signature) = prover(&issued.challenge);
    let request = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate,
        signature,
        business_purpose: BusinessPurpose::Login as i32,
    };
    let first = client.verify_auth_proof(authed(request.clone(), KEY_A)).await.unwrap().into_inner().result.unwrap();
    check("first use", &first, PASSED);
    let again = client.verify_auth_proof(authed(request, KEY_A)).await.unwrap().into_inner().result.unwrap();
    check("challenge used twice", &again, (TotalFailed, S::SigConstraintsFailure, "CHALLENGE_ALREADY_USED"));
    // Times in details are RFC 3339, like the core's (revoked_at, next_update, ...).
    let used_at = again.reason.unwrap().details["used_at"].clone();
    assert!(jpki_core::UnixTime::parse_rfc3339(&used_at).is_some(), "{used_at}");
}

// ---------------------------------------------------------------------------------------------
// TRY_LATER: no usable list for the issuer.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_list_files_give_try_later() {
    // The test PKI's lists, all past their nextUpdate: the loader sets them aside, so no list
    // covers any issuer.
    let dir = tempfile::tempdir().unwrap();
    let pki = jpki_testsupport::testing::pki();
    let now = OffsetDateTime::now_utc();
    let options = WriteOptions {
        crl_this_update: now - time::Duration::days(3),
        crl_next_update: now - time::Duration::days(2),
        crl_number: 1,
    };
    pki.write_to(dir.path().join("pki"), &options).unwrap();
    let config = config(dir.path(), &pki);
    let running = launch(config, pki, dir, None).await;
    let mut client = running.verification().await;
    let card = running.pki.card("h01").unwrap();

    let signature = verify(&mut client, raw_over(&card.signing_signer(), FORM)).await;
    let cms = verify(&mut client, cms_request(&running.pki, "h01", FORM, FORM)).await;
    let proof =
        prove(&mut client, &proof_by(running.pki.holder("h01").unwrap().auth().key(), card.auth_cert_der())).await;
    for (name, result) in [("raw", signature), ("cms", cms), ("proof", proof)] {
        check(name, &result, (Indeterminate, S::TryLater, "REVOCATION_STATUS_UNKNOWN"));
        assert!(result.retry_may_help, "{name}: {result:#?}");
        assert_eq!(
            result.reason.as_ref().unwrap().details.get("cause").map(String::as_str),
            Some("no_list_for_issuer")
        );
        let revocation = result.revocation.as_ref().unwrap();
        assert_eq!(revocation.status(), jpki_api::v1::RevocationStatus::Unknown, "{name}");
        assert_eq!(revocation.unknown_cause, "no_list_for_issuer", "{name}");
        // The certificate itself was identified: only its status is missing.
        assert!(result.certificate.as_ref().unwrap().id.is_some(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// REVOKED and REVOKED_NO_POE: holders revoked by the CA simulator, lists refreshed over HTTP.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_holders_give_revoked_and_revoked_no_poe() {
    let running = start_with_casim(|_| {}).await;
    wait_serving(running.address).await;
    let mut client = running.verification().await;
    let mut status = running.status().await;
    let pki = running.pki.clone();
    let simulator = running.casim.as_ref().unwrap().simulator();
    let (h04, h05, h06) = (pki.card("h04").unwrap(), pki.card("h05").unwrap(), pki.card("h06").unwrap());
    let auth_proof = |card: &jpki_testpki::Card| proof_by(card.auth_signer().key(), card.auth_cert_der());

    // Before: everything passes; note the certificate ids.
    let mut ids: Vec<CertificateId> = Vec::new();
    for request in [raw_over(&h04.signing_signer(), FORM), raw_over(&h06.signing_signer(), FORM)] {
        let result = verify(&mut client, request).await;
        check("before revocation", &result, PASSED);
        ids.push(result.certificate.unwrap().id.unwrap());
    }
    for card in [&h04, &h05] {
        let result = prove(&mut client, &auth_proof(card)).await;
        check("before revocation", &result, PASSED);
        ids.push(result.certificate.unwrap().id.unwrap());
    }

    // h05 gets a challenge now and is revoked after it was issued.
    let pending = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let issued_at = pending.expires_at.unwrap().seconds - i64::try_from(running_ttl()).unwrap();
    for _ in 0..100 {
        if OffsetDateTime::now_utc().unix_timestamp() > issued_at {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let revoke = |holder: &str, certificate: &jpki_testpki::IssuedCert, reason: &str, at: Option<OffsetDateTime>| {
        simulator
            .revoke(&jpki_casim::Revocation {
                ca: certificate.issuer_label().to_owned(),
                target: jpki_casim::RevokeTarget::Holder(holder.into()),
                reason: jpki_casim::parse_reason(reason),
                revoked_at: at,
            })
            .unwrap();
    };
    let hour_ago = OffsetDateTime::now_utc() - time::Duration::hours(1);
    revoke("h04", pki.holder("h04").unwrap().signing(), "affiliation_changed", None);
    revoke("h06", pki.holder("h06").unwrap().signing(), "certificate_hold", None);
    revoke("h04", pki.holder("h04").unwrap().auth(), "key_compromise", Some(hour_ago));
    revoke("h05", pki.holder("h05").unwrap().auth(), "key_compromise", None);

    // Bounded wait until the gateway has installed the new lists.
    let mut landed = false;
    for _ in 0..600 {
        let checked = status
            .check_status(authed(CheckStatusRequest { certificates: ids.clone() }, KEY_A))
            .await
            .unwrap()
            .into_inner();
        if checked
            .statuses
            .iter()
            .all(|status| status.revocation.as_ref().unwrap().status() == jpki_api::v1::RevocationStatus::Revoked)
        {
            landed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(landed, "the revocations never reached the gateway");

    // A document signature: no proof it predates the revocation.
    let result = verify(&mut client, raw_over(&h04.signing_signer(), FORM)).await;
    check("revoked signing certificate", &result, (Indeterminate, S::RevokedNoPoe, "REVOKED"));
    assert!(!result.retry_may_help);
    let reason = result.reason.as_ref().unwrap();
    assert_eq!(reason.details.get("reason").map(String::as_str), Some("affiliation_changed"));
    assert!(reason.details.contains_key("revoked_at"));
    let revocation = result.revocation.as_ref().unwrap();
    assert_eq!(
        (revocation.status(), revocation.reason()),
        (jpki_api::v1::RevocationStatus::Revoked, jpki_api::v1::RevocationReason::AffiliationChanged)
    );
    assert!(revocation.revoked_at.is_some() && !revocation.crl_number.is_empty() && !revocation.list.is_empty());
    let result = verify(&mut client, cms_request(&pki, "h04", FORM, FORM)).await;
    check("revoked signing certificate, cms", &result, (Indeterminate, S::RevokedNoPoe, "REVOKED"));
    // The holder moved (affiliationChanged): the old four fields and verdicts on them are not
    // disclosed; the certificate facts stay.
    let applicant = ApplicantData { name: h04.four_fields().unwrap().name.clone(), ..ApplicantData::default() };
    let request = VerifySignatureRequest { applicant: Some(applicant), ..raw_over(&h04.signing_signer(), FORM) };
    let response = client.verify_signature(authed(request, KEY_A)).await.unwrap().into_inner();
    assert!(response.four_fields.is_none(), "four fields disclosed for a revoked certificate: {response:#?}");
    let facts = response.result.unwrap().certificate.unwrap();
    assert!(facts.id.is_some() && facts.not_after.is_some(), "{facts:?}");

    // A hold may be released: retrying may help.
    let result = verify(&mut client, raw_over(&h06.signing_signer(), FORM)).await;
    check("suspended signing certificate", &result, (Indeterminate, S::TryLater, "CERTIFICATE_ON_HOLD"));
    assert!(result.retry_may_help, "{result:#?}");

    // A proof over a challenge issued after the revocation: certainly made after it.
    let result = prove(&mut client, &auth_proof(&h04)).await;
    check("proof after the revocation", &result, (TotalFailed, S::Revoked, "REVOKED_BEFORE_PROOF"));
    assert!(!result.retry_may_help);
    let details = &result.reason.as_ref().unwrap().details;
    assert!(details.contains_key("challenge_issued_at") && details.contains_key("revoked_at"), "{details:?}");

    // A proof over a challenge issued before the revocation: no proof of existence before it.
    let (certificate, signature) = auth_proof(&h05)(&pending.challenge);
    let request = VerifyAuthProofRequest {
        challenge_id: pending.challenge_id,
        certificate,
        signature,
        business_purpose: BusinessPurpose::Login as i32,
    };
    let result = client.verify_auth_proof(authed(request, KEY_A)).await.unwrap().into_inner().result.unwrap();
    check("proof before the revocation", &result, (Indeterminate, S::RevokedNoPoe, "REVOKED"));
}

/// The challenge lifetime of the harness's configuration (the default).
fn running_ttl() -> u64 {
    jpki_gateway::settings::ChallengeSettings::default().ttl_seconds
}
