//! `jpki.gateway.v1.VerificationService`: document signatures (本人確認) and authentication
//! proofs over single-use challenges (資格確認). Handlers decode, call the core, record, encode.

use jpki_api::v1;
use jpki_core::{AuthProofInput, SignatureInput, SignedContent, UnixTime, ValidationReport, Verifier};
use jpki_store::{CertKey, Challenge, ConsumeOutcome, VerificationKind, VerificationRecord, WatchRequest};
use tonic::{Request, Response, Status};

use crate::config::now;
use crate::convert;
use crate::errors::{bad_request, check_size, check_text, require_bytes};
use crate::state::{AppState, random_id};
use crate::tenant::tenant_of;

/// Largest accepted content, CMS or detached content: 10 MiB.
pub const MAX_CONTENT_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted certificate: 16 KiB.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;
/// Largest accepted raw signature value: 1 KiB.
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// Largest accepted digest: 64 bytes (SHA-512).
pub const MAX_DIGEST_BYTES: usize = 64;
/// Longest transaction reference, in characters.
pub const MAX_TRANSACTION_REFERENCE: usize = 128;
/// Random bytes in a challenge.
pub const CHALLENGE_BYTES: usize = 32;

/// `jpki.gateway.v1.VerificationService`.
#[derive(Clone)]
pub struct VerificationApi {
    state: AppState,
}

impl VerificationApi {
    /// The service over shared state.
    pub fn new(state: AppState) -> Self {
        VerificationApi { state }
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

fn check_signature_request(request: v1::VerifySignatureRequest) -> Result<Checked, Status> {
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

fn check_applicant(applicant: &v1::ApplicantData) -> Result<(), Status> {
    check_text("applicant.name", &applicant.name, 100, false)?;
    check_text("applicant.date_of_birth", &applicant.date_of_birth, 32, false)?;
    check_text("applicant.address", &applicant.address, 400, false)?;
    check_text("applicant.sex", &applicant.sex, 16, false)
}

fn verify_signature(verifier: &Verifier, checked: &Checked, at: UnixTime) -> ValidationReport {
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

/// What to watch after a passed verification: its certificate, notAfter and kind.
fn watch_request(report: &ValidationReport) -> Option<WatchRequest> {
    let (certificate, not_after, kind) = identified(report).filter(|_| passed(report))?;
    Some(WatchRequest { certificate, not_after, kind: kind_name(kind).to_owned() })
}

/// The certificate a report identified (anchor found), with its notAfter and kind.
fn identified(report: &ValidationReport) -> Option<(CertKey, i64, Option<jpki_core::CertKind>)> {
    let facts = report.certificate.as_ref()?;
    let ca_key_id = facts.ca_key_id.clone()?;
    Some((CertKey { ca_key_id, serial: facts.serial.clone() }, facts.not_after.0, facts.kind))
}

fn passed(report: &ValidationReport) -> bool {
    report.indication == jpki_core::Indication::TotalPassed
}

/// The record kept of a verification, so that Link can rely on it and auditors can find it.
fn record(
    report: &ValidationReport,
    id: &str,
    kind: VerificationKind,
    transaction_reference: &str,
) -> VerificationRecord {
    let certificate = identified(report);
    VerificationRecord {
        id: id.to_owned(),
        kind,
        passed: passed(report),
        not_after: certificate.as_ref().map(|(_, not_after, _)| *not_after),
        certificate: certificate.map(|(key, _, _)| key),
        verified_at: report.validation_time.0,
        transaction_reference: transaction_reference.to_owned(),
    }
}

fn kind_name(kind: Option<jpki_core::CertKind>) -> &'static str {
    kind.map_or("", jpki_core::CertKind::as_str)
}

fn log_outcome(rpc: &str, tenant: &str, verification_id: &str, result: &v1::VerificationResult) {
    // Outcome only: never the four fields, the document, the challenge or a key.
    tracing::info!(
        rpc,
        tenant,
        verification_id,
        indication = result.indication().as_str_name(),
        sub_indication = result.sub_indication().as_str_name(),
        reason = result.reason.as_ref().map_or("", |reason| reason.code.as_str()),
        "verification"
    );
}

fn check_challenge_id(challenge_id: &str) -> Result<(), Status> {
    if challenge_id.is_empty() {
        return Err(bad_request("challenge_id", "required"));
    }
    if challenge_id.len() != 32 || !challenge_id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(bad_request("challenge_id", "32 hex digits, as IssueChallenge returns"));
    }
    Ok(())
}

#[tonic::async_trait]
impl v1::verification_service_server::VerificationService for VerificationApi {
    async fn verify_signature(
        &self,
        request: Request<v1::VerifySignatureRequest>,
    ) -> Result<Response<v1::VerifySignatureResponse>, Status> {
        let tenant = tenant_of(&request)?;
        let mut request = request.into_inner();
        let applicant = request.applicant.take();
        if let Some(applicant) = &applicant {
            check_applicant(applicant)?;
        }
        let checked = check_signature_request(request)?;
        let verification_id = random_id(16)?;
        let at = now();
        let report = self.state.verify(move |verifier| verify_signature(verifier, &checked, at)).await?;
        let stored = record(&report, &verification_id, VerificationKind::Signature, "");
        let watch = watch_request(&report);
        let tenant_id = tenant.id.clone();
        self.state.store(move |store| store.record_verification(&tenant_id, stored, watch)).await?;
        let result = convert::verification_result(&report, verification_id.clone());
        log_outcome("VerifySignature", tenant.id.as_str(), &verification_id, &result);
        // The four fields (and their verdicts) only for a signature that passed: a revoked
        // certificate (the holder moved, died) or a bad signature must not disclose them.
        let four_fields = report
            .four_fields
            .as_ref()
            .filter(|_| passed(&report))
            .map(|fields| convert::four_fields(fields, tenant.fields, applicant.as_ref()));
        Ok(Response::new(v1::VerifySignatureResponse { result: Some(result), four_fields }))
    }

    async fn issue_challenge(
        &self,
        request: Request<v1::IssueChallengeRequest>,
    ) -> Result<Response<v1::IssueChallengeResponse>, Status> {
        let tenant = tenant_of(&request)?;
        let request = request.into_inner();
        check_text("transaction_reference", &request.transaction_reference, MAX_TRANSACTION_REFERENCE, false)?;
        let challenge_id = random_id(16)?;
        let mut challenge = vec![0u8; CHALLENGE_BYTES];
        getrandom::fill(&mut challenge).map_err(|_| Status::internal("no randomness available"))?;
        let issued_at = now().0;
        let ttl = i64::try_from(self.state.config.challenges.ttl_seconds).unwrap_or(i64::MAX);
        let expires_at = issued_at.saturating_add(ttl);
        let stored = Challenge {
            challenge: challenge.clone(),
            transaction_reference: request.transaction_reference,
            issued_at,
            expires_at,
        };
        let (tenant_id, id) = (tenant.id.clone(), challenge_id.clone());
        self.state.store(move |store| store.put_challenge(&tenant_id, &id, stored)).await?;
        tracing::info!(tenant = tenant.id.as_str(), challenge_id = %challenge_id, "challenge issued");
        Ok(Response::new(v1::IssueChallengeResponse {
            challenge_id,
            challenge,
            expires_at: Some(convert::timestamp(UnixTime(expires_at))),
        }))
    }

    async fn verify_auth_proof(
        &self,
        request: Request<v1::VerifyAuthProofRequest>,
    ) -> Result<Response<v1::VerifyAuthProofResponse>, Status> {
        let tenant = tenant_of(&request)?;
        let request = request.into_inner();
        check_challenge_id(&request.challenge_id)?;
        require_bytes("certificate", &request.certificate, MAX_CERTIFICATE_BYTES)?;
        require_bytes("signature", &request.signature, MAX_SIGNATURE_BYTES)?;
        let challenge_id = request.challenge_id.to_ascii_lowercase();
        let verification_id = random_id(16)?;
        let at = now();
        // Consumed first, whatever the proof: a challenge answers one attempt only.
        let (tenant_id, id) = (tenant.id.clone(), challenge_id.clone());
        let outcome = self.state.store(move |store| store.consume_challenge(&tenant_id, &id, at.0)).await?;
        let refused = |code: &str, details: &[(&str, String)]| {
            convert::challenge_refused(verification_id.clone(), at, code, details)
        };
        let (challenge, result, customer_id) = match outcome {
            ConsumeOutcome::Unknown => (None, refused("CHALLENGE_UNKNOWN", &[]), String::new()),
            ConsumeOutcome::AlreadyUsed { used_at } => {
                (None, refused("CHALLENGE_ALREADY_USED", &[("used_at", UnixTime(used_at).to_rfc3339())]), String::new())
            }
            ConsumeOutcome::Expired(challenge) => {
                let details = [("expires_at", UnixTime(challenge.expires_at).to_rfc3339())];
                (Some(challenge), refused("CHALLENGE_EXPIRED", &details), String::new())
            }
            ConsumeOutcome::Consumed(challenge) => {
                let issued = challenge.clone();
                let (certificate, signature) = (request.certificate, request.signature);
                let report = self
                    .state
                    .verify(move |verifier| {
                        let input = AuthProofInput {
                            certificate: &certificate,
                            challenge: &issued.challenge,
                            signature: &signature,
                            challenge_issued_at: Some(UnixTime(issued.issued_at)),
                        };
                        verifier.verify_auth_proof(&input, at)
                    })
                    .await?;
                let stored = record(
                    &report,
                    &verification_id,
                    VerificationKind::Authentication,
                    &challenge.transaction_reference,
                );
                let watch = watch_request(&report);
                let tenant_id = tenant.id.clone();
                let link = self
                    .state
                    .store(move |store| {
                        let certificate = watch.as_ref().map(|request| request.certificate.clone());
                        store.record_verification(&tenant_id, stored, watch)?;
                        match certificate {
                            Some(key) => store.link_by_certificate(&tenant_id, &key),
                            None => Ok(None),
                        }
                    })
                    .await?;
                let customer_id = link.map(|link| link.customer_id).unwrap_or_default();
                (Some(challenge), convert::verification_result(&report, verification_id.clone()), customer_id)
            }
        };
        if result.sub_indication() == v1::SubIndication::SigConstraintsFailure {
            // Refused challenges are recorded too: auditors see every attempt.
            let stored = VerificationRecord {
                id: verification_id.clone(),
                kind: VerificationKind::Authentication,
                passed: false,
                certificate: None,
                not_after: None,
                verified_at: at.0,
                transaction_reference: challenge
                    .as_ref()
                    .map(|challenge| challenge.transaction_reference.clone())
                    .unwrap_or_default(),
            };
            let tenant_id = tenant.id.clone();
            self.state.store(move |store| store.put_verification(&tenant_id, stored)).await?;
        }
        log_outcome("VerifyAuthProof", tenant.id.as_str(), &verification_id, &result);
        Ok(Response::new(v1::VerifyAuthProofResponse {
            result: Some(result),
            customer_id,
            transaction_reference: challenge.map(|challenge| challenge.transaction_reference).unwrap_or_default(),
        }))
    }
}
