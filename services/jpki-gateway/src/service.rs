//! The `jpki.gateway.v1` services: a thin layer that decodes a request, calls the core and encodes
//! its report. Only `VerifySignature` is implemented; every other RPC answers UNIMPLEMENTED.

use std::pin::Pin;
use std::sync::Arc;

use jpki_api::v1;
use jpki_core::report::CertificateFacts;
use jpki_core::revocation::RevocationStatus;
use jpki_core::{SignatureInput, SignedContent, UnixTime, ValidationReport, Verifier};
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::config::now;

/// Largest accepted content, CMS or detached content: 10 MiB.
pub const MAX_CONTENT_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted certificate: 16 KiB.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;
/// Largest accepted raw signature value: 1 KiB.
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// Largest accepted digest: 64 bytes (SHA-512).
pub const MAX_DIGEST_BYTES: usize = 64;

/// The message of every RPC not served yet.
pub const NOT_IMPLEMENTED: &str = "not implemented yet (issue 4)";

fn unimplemented() -> Status {
    Status::unimplemented(NOT_IMPLEMENTED)
}

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` field violation.
fn bad_request(field: &str, description: &str) -> Status {
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {description}"),
        ErrorDetails::with_bad_request_violation(field, description),
    )
}

fn check_size(field: &str, bytes: &[u8], max: usize) -> Result<(), Status> {
    if bytes.len() > max {
        return Err(bad_request(field, &format!("{} bytes, at most {max} accepted", bytes.len())));
    }
    Ok(())
}

/// `jpki.gateway.v1.VerificationService`.
#[derive(Clone)]
pub struct VerificationApi {
    verifier: Arc<Verifier>,
}

impl VerificationApi {
    /// A service verifying with `verifier`.
    pub fn new(verifier: Arc<Verifier>) -> Self {
        VerificationApi { verifier }
    }
}

/// A request checked for shape and size, owning its bytes, ready for the core.
enum Checked {
    Raw { signature: Vec<u8>, certificate: Vec<u8>, signed: v1::raw_signature::Signed, hash: jpki_core::HashAlgorithm },
    Cms { cms: Vec<u8>, detached_content: Option<Vec<u8>>, certificate: Option<Vec<u8>> },
}

fn core_hash(hash: i32) -> Result<jpki_core::HashAlgorithm, Status> {
    match v1::HashAlgorithm::try_from(hash) {
        Ok(v1::HashAlgorithm::Unspecified | v1::HashAlgorithm::Sha256) => Ok(jpki_core::HashAlgorithm::Sha256),
        Ok(v1::HashAlgorithm::Sha1) => Ok(jpki_core::HashAlgorithm::Sha1),
        Ok(v1::HashAlgorithm::Sha384) => Ok(jpki_core::HashAlgorithm::Sha384),
        Ok(v1::HashAlgorithm::Sha512) => Ok(jpki_core::HashAlgorithm::Sha512),
        Err(_) => Err(bad_request("raw.hash", "unknown hash algorithm")),
    }
}

fn check_request(request: v1::VerifySignatureRequest) -> Result<Checked, Status> {
    use v1::verify_signature_request::Signature;
    match request.signature {
        None => Err(bad_request("signature", "one of raw or cms is required")),
        Some(Signature::Raw(raw)) => {
            if raw.signature.is_empty() {
                return Err(bad_request("raw.signature", "required"));
            }
            check_size("raw.signature", &raw.signature, MAX_SIGNATURE_BYTES)?;
            if raw.certificate.is_empty() {
                return Err(bad_request("raw.certificate", "required"));
            }
            check_size("raw.certificate", &raw.certificate, MAX_CERTIFICATE_BYTES)?;
            let signed = match raw.signed {
                None => return Err(bad_request("raw.signed", "one of content or digest is required")),
                Some(v1::raw_signature::Signed::Content(content)) => {
                    check_size("raw.content", &content, MAX_CONTENT_BYTES)?;
                    v1::raw_signature::Signed::Content(content)
                }
                Some(v1::raw_signature::Signed::Digest(digest)) => {
                    if digest.is_empty() {
                        return Err(bad_request("raw.digest", "required"));
                    }
                    check_size("raw.digest", &digest, MAX_DIGEST_BYTES)?;
                    v1::raw_signature::Signed::Digest(digest)
                }
            };
            let hash = core_hash(raw.hash)?;
            Ok(Checked::Raw { signature: raw.signature, certificate: raw.certificate, signed, hash })
        }
        Some(Signature::Cms(cms)) => {
            if cms.cms.is_empty() {
                return Err(bad_request("cms.cms", "required"));
            }
            check_size("cms.cms", &cms.cms, MAX_CONTENT_BYTES)?;
            check_size("cms.detached_content", &cms.detached_content, MAX_CONTENT_BYTES)?;
            check_size("cms.certificate", &cms.certificate, MAX_CERTIFICATE_BYTES)?;
            Ok(Checked::Cms {
                cms: cms.cms,
                detached_content: (!cms.detached_content.is_empty()).then_some(cms.detached_content),
                certificate: (!cms.certificate.is_empty()).then_some(cms.certificate),
            })
        }
    }
}

fn verify(verifier: &Verifier, checked: &Checked, at: UnixTime) -> ValidationReport {
    let input = match checked {
        Checked::Raw { signature, certificate, signed, hash } => SignatureInput::Raw {
            signature,
            certificate,
            content: match signed {
                v1::raw_signature::Signed::Content(data) => SignedContent::Message { data, hash: *hash },
                v1::raw_signature::Signed::Digest(digest) => SignedContent::Digest { digest, hash: *hash },
            },
        },
        Checked::Cms { cms, detached_content, certificate } => SignatureInput::Cms {
            cms,
            detached_content: detached_content.as_deref(),
            certificate: certificate.as_deref(),
        },
    };
    verifier.verify_signature(&input, at)
}

/// A random 128-bit identifier, lowercase hex.
pub fn new_verification_id() -> Result<String, Status> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Status::internal("no randomness available"))?;
    Ok(hex::encode(bytes))
}

#[tonic::async_trait]
impl v1::verification_service_server::VerificationService for VerificationApi {
    async fn verify_signature(
        &self,
        request: Request<v1::VerifySignatureRequest>,
    ) -> Result<Response<v1::VerifySignatureResponse>, Status> {
        let checked = check_request(request.into_inner())?;
        let verification_id = new_verification_id()?;
        let verifier = self.verifier.clone();
        let at = now();
        // RSA and hashing are CPU work: keep them off the async workers.
        let report = tokio::task::spawn_blocking(move || verify(&verifier, &checked, at))
            .await
            .map_err(|_| Status::internal("verification task failed"))?;
        // Outcome only: never the four fields, the document or a key.
        tracing::info!(
            verification_id = %verification_id,
            indication = ?report.indication,
            sub_indication = ?report.sub_indication,
            reason = report.reason.as_ref().map(|reason| reason.code()).unwrap_or(""),
            "VerifySignature"
        );
        Ok(Response::new(signature_response(&report, verification_id)))
    }

    async fn issue_challenge(
        &self,
        _request: Request<v1::IssueChallengeRequest>,
    ) -> Result<Response<v1::IssueChallengeResponse>, Status> {
        Err(unimplemented())
    }

    async fn verify_auth_proof(
        &self,
        _request: Request<v1::VerifyAuthProofRequest>,
    ) -> Result<Response<v1::VerifyAuthProofResponse>, Status> {
        Err(unimplemented())
    }
}

/// `jpki.gateway.v1.LinkService`: not implemented yet.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkApi;

#[tonic::async_trait]
impl v1::link_service_server::LinkService for LinkApi {
    async fn link(&self, _request: Request<v1::LinkRequest>) -> Result<Response<v1::LinkResponse>, Status> {
        Err(unimplemented())
    }

    async fn unlink(&self, _request: Request<v1::UnlinkRequest>) -> Result<Response<v1::UnlinkResponse>, Status> {
        Err(unimplemented())
    }

    async fn lookup_link(
        &self,
        _request: Request<v1::LookupLinkRequest>,
    ) -> Result<Response<v1::LookupLinkResponse>, Status> {
        Err(unimplemented())
    }
}

/// `jpki.gateway.v1.StatusService`: not implemented yet.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatusApi;

/// The stream type of `WatchRevocations`.
pub type RevocationStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<v1::RevocationEvent, Status>> + Send>>;

#[tonic::async_trait]
impl v1::status_service_server::StatusService for StatusApi {
    async fn check_status(
        &self,
        _request: Request<v1::CheckStatusRequest>,
    ) -> Result<Response<v1::CheckStatusResponse>, Status> {
        Err(unimplemented())
    }

    type WatchRevocationsStream = RevocationStream;

    async fn watch_revocations(
        &self,
        _request: Request<v1::WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        Err(unimplemented())
    }
}

fn timestamp(time: UnixTime) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: time.0, nanos: 0 }
}

/// A serde value as a plain string: strings as they are, anything else as JSON.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The serde name of a value that serialises to a string, or its JSON.
fn serde_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).map(|value| plain(&value)).unwrap_or_default()
}

fn indication(indication: jpki_core::Indication) -> v1::Indication {
    match indication {
        jpki_core::Indication::TotalPassed => v1::Indication::TotalPassed,
        jpki_core::Indication::TotalFailed => v1::Indication::TotalFailed,
        jpki_core::Indication::Indeterminate => v1::Indication::Indeterminate,
    }
}

fn sub_indication(sub: jpki_core::SubIndication) -> v1::SubIndication {
    use jpki_core::SubIndication as S;
    match sub {
        S::FormatFailure => v1::SubIndication::FormatFailure,
        S::HashFailure => v1::SubIndication::HashFailure,
        S::SigCryptoFailure => v1::SubIndication::SigCryptoFailure,
        S::Revoked => v1::SubIndication::Revoked,
        S::NotYetValid => v1::SubIndication::NotYetValid,
        S::RevokedNoPoe => v1::SubIndication::RevokedNoPoe,
        S::OutOfBoundsNoPoe => v1::SubIndication::OutOfBoundsNoPoe,
        S::NoCertificateChainFound => v1::SubIndication::NoCertificateChainFound,
        S::NoSigningCertificateFound => v1::SubIndication::NoSigningCertificateFound,
        S::ChainConstraintsFailure => v1::SubIndication::ChainConstraintsFailure,
        S::CryptoConstraintsFailure => v1::SubIndication::CryptoConstraintsFailure,
        S::SignedDataNotFound => v1::SubIndication::SignedDataNotFound,
        S::TryLater => v1::SubIndication::TryLater,
    }
}

fn certificate_kind(kind: jpki_core::CertKind) -> v1::CertificateKind {
    match kind {
        jpki_core::CertKind::SigningCard => v1::CertificateKind::SigningCard,
        jpki_core::CertKind::AuthCard => v1::CertificateKind::AuthCard,
        jpki_core::CertKind::SigningPhone => v1::CertificateKind::SigningPhone,
        jpki_core::CertKind::AuthPhone => v1::CertificateKind::AuthPhone,
    }
}

fn reason(reason: &jpki_core::FailureReason) -> v1::Reason {
    let mut details = std::collections::HashMap::new();
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(reason) {
        for (key, value) in fields {
            if key != "code" && !value.is_null() {
                details.insert(key, plain(&value));
            }
        }
    }
    v1::Reason { code: reason.code().to_owned(), details }
}

fn certificate_facts(facts: &CertificateFacts) -> v1::CertificateFacts {
    v1::CertificateFacts {
        id: Some(v1::CertificateId {
            ca_key_id: facts.ca_key_id.clone().unwrap_or_default(),
            serial: facts.serial.clone(),
        }),
        kind: facts.kind.map_or(v1::CertificateKind::Unspecified, certificate_kind) as i32,
        issuer: facts.issuer.clone(),
        not_before: Some(timestamp(facts.not_before)),
        not_after: Some(timestamp(facts.not_after)),
        policies: facts.policies.clone(),
    }
}

fn revocation_facts(answer: &jpki_core::RevocationAnswer) -> v1::RevocationFacts {
    let mut facts = v1::RevocationFacts::default();
    match &answer.status {
        RevocationStatus::Good => facts.status = "good".to_owned(),
        RevocationStatus::Revoked { revoked_at, reason } => {
            facts.status = "revoked".to_owned();
            facts.revoked_at = Some(timestamp(*revoked_at));
            facts.reason = reason.as_ref().map(serde_name).unwrap_or_default();
        }
        RevocationStatus::Unknown { .. } => facts.status = "unknown".to_owned(),
    }
    if let Some(provenance) = &answer.provenance {
        facts.list = provenance.list.clone();
        facts.crl_number = provenance.crl_number.clone().unwrap_or_default();
        facts.this_update = Some(timestamp(provenance.this_update));
        facts.next_update = provenance.next_update.map(timestamp);
    }
    facts
}

fn problems<T: serde::Serialize>(problems: &[T]) -> Vec<String> {
    problems
        .iter()
        .map(|problem| match serde_json::to_value(problem) {
            Ok(serde_json::Value::Object(fields)) => fields.get("problem").map(plain).unwrap_or_default(),
            Ok(other) => plain(&other),
            Err(_) => String::new(),
        })
        .collect()
}

fn text_field(field: &jpki_core::four_fields::TextField) -> v1::TextField {
    v1::TextField {
        value: field.value.clone().unwrap_or_default(),
        substitute_positions: field
            .substitute_positions
            .iter()
            .map(|position| u32::try_from(*position).unwrap_or(u32::MAX))
            .collect(),
        problems: problems(&field.problems),
        verdict: v1::FieldVerdict::Unspecified as i32,
    }
}

fn four_fields(fields: &jpki_core::FourFields) -> v1::FourFields {
    v1::FourFields {
        name: Some(text_field(&fields.name)),
        date_of_birth: Some(v1::TextField {
            value: fields.date_of_birth.raw.clone().unwrap_or_default(),
            problems: problems(&fields.date_of_birth.problems),
            ..Default::default()
        }),
        address: Some(text_field(&fields.address)),
        sex: Some(v1::TextField {
            value: fields.sex.raw.clone().unwrap_or_default(),
            problems: problems(&fields.sex.problems),
            ..Default::default()
        }),
    }
}

/// The core's report of a signature verification as the API's `VerificationResult`.
pub fn verification_result(report: &ValidationReport, verification_id: String) -> v1::VerificationResult {
    v1::VerificationResult {
        verification_id,
        indication: indication(report.indication) as i32,
        sub_indication: report.sub_indication.map_or(v1::SubIndication::Unspecified, sub_indication) as i32,
        reason: report.reason.as_ref().map(reason),
        retry_may_help: report.retry_may_help,
        validation_time: Some(timestamp(report.validation_time)),
        certificate: report.certificate.as_ref().map(certificate_facts),
        revocation: report.revocation.as_ref().map(revocation_facts),
    }
}

/// The core's report as a `VerifySignatureResponse` (four fields as raw values; no comparison with
/// applicant data yet, so every verdict is unspecified).
pub fn signature_response(report: &ValidationReport, verification_id: String) -> v1::VerifySignatureResponse {
    v1::VerifySignatureResponse {
        result: Some(verification_result(report, verification_id)),
        four_fields: report.four_fields.as_ref().map(four_fields),
    }
}
