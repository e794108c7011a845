//! The use cases. Each takes the calling tenant and decoded input, runs on the clock, the
//! verifier and the tenant store, and returns one typed outcome. They block (the store fsyncs and
//! verification is CPU-bound): async callers run each one whole on a blocking thread.

use std::sync::Arc;

use jpki_core::{AuthProofInput, CertId, CertKind, SignatureInput, UnixTime, ValidationReport, Verifier};
use jpki_revocation::RevocationStore;
use jpki_store::{
    Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, Outcome, StoredEvent, TenantStore, TenantWrite,
    VerificationKind, VerificationRecord, WatchRequest, WriteAnswer,
};

use crate::audit::{CallContext, cert_ref, digest, one, per_outcome, record_verdict};
use crate::clock::Clock;
use crate::outcome::{
    AppError, Applicant, CertificateStatus, ChallengeRefusal, Cited, Disclosed, DisclosedFields, IssuedChallenge,
    KindNotPermitted, LinkDecision, LinkRefusal, ProofOutcome, SignatureOutcome, Verification, VerificationVerdict,
};
use crate::tenant::{BusinessPurpose, FieldPermissions, Tenant};

/// Random bytes in a challenge.
pub const CHALLENGE_BYTES: usize = 32;
/// Random bytes in a verification or challenge id (shown as twice as many hex digits).
pub const ID_BYTES: usize = 16;

/// The rules the use cases apply, from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Seconds a challenge stays valid.
    pub challenge_ttl_seconds: u64,
    /// Largest age, in seconds, of an authentication verification that backs a link.
    pub auth_verification_max_age_seconds: u64,
    /// Largest age, in seconds, of a signature verification cited with a link.
    pub signature_verification_max_age_seconds: u64,
    /// How long a passed verification entitles the tenant to its certificate's status.
    pub verification_retention_seconds: u64,
}

/// The application: what every transport (gRPC, tests, tools) calls.
#[derive(Clone)]
pub struct App {
    verifier: Arc<Verifier>,
    revocation: Arc<RevocationStore>,
    store: Arc<dyn TenantStore>,
    clock: Arc<dyn Clock>,
    rules: Rules,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("clock", &self.clock).field("rules", &self.rules).finish_non_exhaustive()
    }
}

/// A random identifier of `bytes` random bytes, lowercase hex.
pub fn random_id(bytes: usize) -> Result<String, AppError> {
    Ok(hex::encode(random_bytes(bytes)?))
}

fn random_bytes(count: usize) -> Result<Vec<u8>, AppError> {
    let mut buffer = vec![0u8; count];
    getrandom::fill(&mut buffer).map_err(|_| AppError::NoRandomness)?;
    Ok(buffer)
}

fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The certificate a report identified (anchor found), with its notAfter and kind.
fn identified(report: &ValidationReport) -> Option<(CertId, i64, Option<CertKind>)> {
    let facts = report.certificate.as_ref()?;
    Some((facts.id()?, facts.not_after.0, facts.kind))
}

fn passed(report: &ValidationReport) -> bool {
    report.indication == jpki_core::Indication::TotalPassed
}

/// What to watch after a passed verification: its certificate, notAfter and kind.
fn watch_request(report: &ValidationReport) -> Option<WatchRequest> {
    let (certificate, not_after, kind) = identified(report).filter(|_| passed(report))?;
    Some(WatchRequest { certificate, not_after, kind: kind.map_or("", CertKind::as_str).to_owned() })
}

/// The record kept of a verification (for Link, CheckStatus and auditors), rendered from the
/// report the tenant is told; a verdict without one (a proof refused for its challenge, a kind
/// the tenant may not verify) is kept as refused: not passed, no certificate, nothing entitled.
fn record(
    id: &str,
    kind: VerificationKind,
    report: Option<&ValidationReport>,
    at: UnixTime,
    transaction_reference: &str,
    purpose: BusinessPurpose,
) -> VerificationRecord {
    let certificate = report.and_then(identified);
    VerificationRecord {
        id: id.to_owned(),
        kind,
        passed: report.is_some_and(passed),
        not_after: certificate.as_ref().map(|(_, not_after, _)| *not_after),
        certificate: certificate.map(|(key, _, _)| key),
        verified_at: report.map_or(at.0, |report| report.validation_time.0),
        transaction_reference: transaction_reference.to_owned(),
        purpose: purpose.name().to_owned(),
    }
}

/// The tenant's certificate-kind policy over the core's report: a certificate the core identified
/// as of a kind the tenant may not verify is refused, whatever else the core found.
fn permitted(tenant: &Tenant, report: ValidationReport) -> VerificationVerdict {
    match report.certificate.as_ref().and_then(|facts| facts.kind.map(|kind| (facts, kind))) {
        Some((facts, found)) if !tenant.policy.allows_kind(found) => {
            VerificationVerdict::NotPermitted(Box::new(KindNotPermitted {
                found,
                permitted: tenant.policy.certificate_kinds.clone(),
                certificate: facts.clone(),
                validation_time: report.validation_time,
            }))
        }
        _ => VerificationVerdict::Verified(Box::new(report)),
    }
}

/// The verdict on one typed value, when it was typed and the certificate has the field.
fn verdict(
    typed: &str,
    value: Option<&str>,
    compare: impl FnOnce(&str, &str) -> jpki_applicant::Verdict,
) -> Option<jpki_applicant::Verdict> {
    let value = value.filter(|value| !value.is_empty())?;
    (!typed.trim().is_empty()).then(|| compare(typed, value))
}

/// The four fields the tenant may receive, each compared with the applicant's typed value.
pub fn disclose(
    fields: &jpki_core::FourFields,
    permissions: FieldPermissions,
    applicant: Option<&Applicant>,
) -> DisclosedFields {
    let empty = Applicant::default();
    let applicant = applicant.unwrap_or(&empty);
    let name = permissions.name.then(|| Disclosed {
        verdict: verdict(&applicant.name, fields.name.value.as_deref(), |typed, value| {
            jpki_applicant::compare_name(typed, value, &fields.name.substitute_positions)
        }),
        field: fields.name.clone(),
    });
    let address = permissions.address.then(|| Disclosed {
        verdict: verdict(&applicant.address, fields.address.value.as_deref(), |typed, value| {
            jpki_applicant::compare_address(typed, value, &fields.address.substitute_positions)
        }),
        field: fields.address.clone(),
    });
    let date_of_birth = permissions.date_of_birth.then(|| Disclosed {
        verdict: verdict(
            &applicant.date_of_birth,
            fields.date_of_birth.raw.as_deref(),
            jpki_applicant::compare_date_of_birth,
        ),
        field: fields.date_of_birth.clone(),
    });
    let sex = permissions.sex.then(|| Disclosed {
        verdict: verdict(&applicant.sex, fields.sex.raw.as_deref(), jpki_applicant::compare_sex),
        field: fields.sex.clone(),
    });
    DisclosedFields { name, date_of_birth, address, sex }
}

/// The digests of a signature request: the signature (raw) or the CMS, the signed document
/// when it is given, and a raw signature's certificate.
fn signature_digests(input: &SignatureInput<'_>) -> std::collections::BTreeMap<String, String> {
    let mut digests = std::collections::BTreeMap::new();
    match input {
        SignatureInput::Raw { signature, certificate, content } => {
            digests.insert("signature_sha256".to_owned(), digest(signature));
            digests.insert("certificate_sha256".to_owned(), digest(certificate));
            match content {
                jpki_core::SignedContent::Message { data, .. } => {
                    digests.insert("document_sha256".to_owned(), digest(data));
                }
                jpki_core::SignedContent::Digest { digest: given, .. } => {
                    digests.insert("document_digest".to_owned(), hex::encode(given));
                }
            }
        }
        SignatureInput::Cms { cms, detached_content, certificate } => {
            digests.insert("cms_sha256".to_owned(), digest(cms));
            if let Some(document) = detached_content {
                digests.insert("document_sha256".to_owned(), digest(document));
            }
            if let Some(certificate) = certificate {
                digests.insert("certificate_sha256".to_owned(), digest(certificate));
            }
        }
    }
    digests
}

/// The end-entity certificate a signature's report rests on: the one sent with the request, or
/// the one embedded in the CMS whose SHA-256 the report names.
fn signer_certificate<'a>(input: &SignatureInput<'a>, report: &ValidationReport) -> Option<&'a [u8]> {
    match input {
        SignatureInput::Raw { certificate, .. } => Some(certificate),
        SignatureInput::Cms { certificate: Some(certificate), .. } => Some(certificate),
        SignatureInput::Cms { cms, certificate: None, .. } => {
            let named = &report.certificate.as_ref()?.sha256;
            let embedded = jpki_core::cms::parse(cms).ok()?.certificates;
            embedded.into_iter().find(|der| digest(der) == *named)
        }
    }
}

/// The leaves with the certificate kept as the tenant's evidence, under the SHA-256 the event
/// already names (`digests.certificate_sha256`: the certificate is not hashed again).
fn with_certificate(
    leaves: jpki_store::AuditLeaves,
    event: &jpki_audit::AuditEvent,
    certificate: &[u8],
) -> jpki_store::AuditLeaves {
    match event.evidence_key() {
        Some(key) => leaves.with_evidence(key, certificate.to_vec()),
        None => leaves,
    }
}

impl App {
    /// The application over its parts.
    pub fn new(
        verifier: Arc<Verifier>,
        revocation: Arc<RevocationStore>,
        store: Arc<dyn TenantStore>,
        clock: Arc<dyn Clock>,
        rules: Rules,
    ) -> Self {
        App { verifier, revocation, store, clock, rules }
    }

    /// The tenant store (for background tasks: purging, revocation events).
    pub fn store(&self) -> &Arc<dyn TenantStore> {
        &self.store
    }

    /// The revocation store.
    pub fn revocation(&self) -> &Arc<RevocationStore> {
        &self.revocation
    }

    /// The rules.
    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// The clock.
    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// 本人確認: verifies a document signature, records it with its business purpose (and
    /// watches its certificate when it passed), and discloses the four fields the tenant may
    /// receive, compared with the applicant's typed data. A certificate of a kind the tenant may
    /// not verify is refused and discloses nothing.
    pub fn verify_signature(
        &self,
        tenant: &Tenant,
        call: &CallContext,
        purpose: BusinessPurpose,
        input: &SignatureInput<'_>,
        applicant: Option<&Applicant>,
    ) -> Result<SignatureOutcome, AppError> {
        let id = random_id(ID_BYTES)?;
        let at = self.clock.now();
        let verdict = permitted(tenant, self.verifier.verify_signature(input, at));
        let report = verdict.report();
        let stored = record(&id, VerificationKind::Signature, report, at, "", purpose);
        let four_fields = report
            .filter(|report| passed(report))
            .and_then(|report| report.four_fields.as_ref())
            .map(|fields| disclose(fields, tenant.fields, applicant));
        let mut event = call.event(&tenant.id, at);
        event.purpose = Some(purpose.name().to_owned());
        record_verdict(&mut event, &verdict);
        event.digests = signature_digests(input);
        // A CMS signature's certificate may travel inside it: its digest is the report's.
        if let Some(facts) = report.and_then(|report| report.certificate.as_ref()) {
            event.digests.entry("certificate_sha256".to_owned()).or_insert_with(|| facts.sha256.clone());
        }
        event.detail.insert("verification_id".into(), id.clone());
        if let Some(fields) = &four_fields {
            event.detail.insert("fields_disclosed".into(), fields.names().join(","));
        }
        let write = TenantWrite::RecordVerification { record: stored, watch: report.and_then(watch_request) };
        let mut leaves = one(&event)?;
        if let Some(certificate) =
            report.filter(|report| passed(report)).and_then(|report| signer_certificate(input, report))
        {
            leaves = with_certificate(leaves, &event, certificate);
        }
        self.store.write_audited(&tenant.id, write, leaves)?;
        Ok(SignatureOutcome { verification: Verification { id, at, verdict }, four_fields })
    }

    /// 資格確認, first step: a single-use challenge for the card to sign.
    ///
    /// The challenge is written durably with the call's audit event: an answered call's event
    /// is never lost (a challenge alone could be, safely; its event could not).
    pub fn issue_challenge(
        &self,
        tenant: &Tenant,
        call: &CallContext,
        transaction_reference: String,
    ) -> Result<IssuedChallenge, AppError> {
        // One read of the OS's randomness for both: the two system calls were 3.7% of the
        // call's server CPU in a profile (docs/performance.md).
        let mut challenge = random_bytes(ID_BYTES + CHALLENGE_BYTES)?;
        let id = hex::encode(challenge.split_off(CHALLENGE_BYTES));
        let issued_at = self.clock.now();
        let expires_at = UnixTime(issued_at.0.saturating_add(seconds(self.rules.challenge_ttl_seconds)));
        let mut event = call.event(&tenant.id, issued_at);
        event.digests.insert("challenge_sha256".into(), digest(&challenge));
        if !transaction_reference.is_empty() {
            event.digests.insert("transaction_reference_sha256".into(), digest(transaction_reference.as_bytes()));
        }
        event.detail.insert("challenge_id".into(), id.clone());
        event.detail.insert("expires_at".into(), expires_at.0.to_string());
        let stored = Challenge {
            challenge: challenge.clone(),
            transaction_reference,
            issued_at: issued_at.0,
            expires_at: expires_at.0,
        };
        self.store.write_audited(
            &tenant.id,
            TenantWrite::PutChallenge { id: id.clone(), challenge: stored },
            one(&event)?,
        )?;
        Ok(IssuedChallenge { id, challenge, issued_at, expires_at })
    }

    /// 資格確認, second step: verifies the proof over a pending challenge, then consumes the
    /// challenge and records the attempt with its business purpose in one durable commit
    /// (whatever the proof: a challenge answers one attempt only), and names the linked customer.
    ///
    /// The challenge is read before the verification and consumed after it, atomically with the
    /// record: of two attempts racing with one challenge, only the first to commit is accepted;
    /// the other is answered and recorded as refused (CHALLENGE_ALREADY_USED), never as passed.
    pub fn verify_auth_proof(
        &self,
        tenant: &Tenant,
        call: &CallContext,
        purpose: BusinessPurpose,
        challenge_id: &str,
        certificate: &[u8],
        signature: &[u8],
    ) -> Result<ProofOutcome, AppError> {
        let verification_id = random_id(ID_BYTES)?;
        let at = self.clock.now();
        let attempt = |report: Option<&ValidationReport>, reference: &str| {
            record(&verification_id, VerificationKind::Authentication, report, at, reference, purpose)
        };
        let (stored, verified) = match self.store.peek_challenge(&tenant.id, challenge_id, at.0)? {
            ConsumeOutcome::Consumed(challenge) => {
                let input = AuthProofInput {
                    certificate,
                    challenge: &challenge.challenge,
                    signature,
                    challenge_issued_at: Some(UnixTime(challenge.issued_at)),
                };
                let verdict = permitted(tenant, self.verifier.verify_auth_proof(&input, at));
                (attempt(verdict.report(), &challenge.transaction_reference), Some(verdict))
            }
            // Refused whatever happens next; the record keeps the attempt for auditors.
            ConsumeOutcome::Expired(challenge) => (attempt(None, &challenge.transaction_reference), None),
            ConsumeOutcome::AlreadyUsed { .. } | ConsumeOutcome::Unknown => (attempt(None, ""), None),
        };
        let watch = verified.as_ref().and_then(VerificationVerdict::report).and_then(watch_request);
        let certificate_watched = watch.as_ref().map(|request| request.certificate.clone());
        let write = TenantWrite::SettleProof { id: challenge_id.to_owned(), now: at.0, verified: stored, watch };
        // The event of each way the commit can settle the challenge; the store keeps the one that
        // happened, in the same commit.
        // What every outcome's event shares, hashed once.
        let mut base = call.event(&tenant.id, at);
        base.purpose = Some(purpose.name().to_owned());
        base.digests.insert("certificate_sha256".into(), digest(certificate));
        base.digests.insert("signature_sha256".into(), digest(signature));
        base.detail.insert("challenge_id".into(), challenge_id.to_owned());
        base.detail.insert("verification_id".into(), verification_id.clone());
        let mut leaves = per_outcome(&write, |outcome| {
            let mut event = base.clone();
            // Only the refusal's code goes into the event, so its time does not matter here.
            let refusal = |refusal| VerificationVerdict::Refused(refusal);
            let refused = match (outcome, &verified) {
                (Outcome::Consumed, Some(_)) => None,
                (Outcome::Expired, _) => Some(refusal(ChallengeRefusal::Expired { expires_at: UnixTime(0) })),
                (Outcome::AlreadyUsed, _) => Some(refusal(ChallengeRefusal::AlreadyUsed { used_at: UnixTime(0) })),
                _ => Some(refusal(ChallengeRefusal::Unknown)),
            };
            if let Some(verdict) = refused.as_ref().or(verified.as_ref()) {
                record_verdict(&mut event, verdict);
            }
            Ok(event)
        })?;
        // The certificate a passed proof rested on is evidence, kept with the commit; if the
        // challenge turns out used, the evidence only outlives the event by the retention sweep.
        if verified.as_ref().and_then(VerificationVerdict::report).is_some_and(passed) {
            leaves = with_certificate(leaves, &base, certificate);
        }
        let settled = match self.store.write_audited(&tenant.id, write, leaves)?.answer {
            WriteAnswer::Consumed(outcome) => outcome,
            _ => return Err(AppError::Storage(jpki_store::StoreError::Backend("settle answered no outcome".into()))),
        };
        let (verdict, transaction_reference) = match (settled, verified) {
            (ConsumeOutcome::Consumed(challenge), Some(verdict)) => (verdict, challenge.transaction_reference),
            (ConsumeOutcome::Consumed(challenge), None) => {
                // Pending at commit but not when read: another call re-armed nothing (ids are never
                // reused), so this is a store that changed under us; refuse rather than pass.
                (VerificationVerdict::Refused(ChallengeRefusal::Unknown), challenge.transaction_reference)
            }
            (ConsumeOutcome::Expired(challenge), _) => (
                VerificationVerdict::Refused(ChallengeRefusal::Expired { expires_at: UnixTime(challenge.expires_at) }),
                challenge.transaction_reference,
            ),
            (ConsumeOutcome::AlreadyUsed { used_at }, _) => (
                VerificationVerdict::Refused(ChallengeRefusal::AlreadyUsed { used_at: UnixTime(used_at) }),
                String::new(),
            ),
            (ConsumeOutcome::Unknown, _) => (VerificationVerdict::Refused(ChallengeRefusal::Unknown), String::new()),
        };
        let customer_id = match certificate_watched.filter(|_| verdict.passed()) {
            Some(key) => self.store.link_by_certificate(&tenant.id, &key)?.map(|link| link.customer_id),
            None => None,
        };
        let verification = Verification { id: verification_id, at, verdict };
        Ok(ProofOutcome { verification, customer_id, transaction_reference })
    }

    /// The certificate and notAfter of a cited verification that can back a link, or why not.
    fn usable(
        &self,
        record: Option<VerificationRecord>,
        cited: Cited,
        max_age: u64,
        now: UnixTime,
    ) -> Result<(CertId, i64), LinkRefusal> {
        let record = record.ok_or(LinkRefusal::VerificationUnknown(cited))?;
        if record.kind != cited.expected_kind() {
            return Err(LinkRefusal::WrongKind(cited));
        }
        let (true, Some(certificate), Some(not_after)) = (record.passed, record.certificate, record.not_after) else {
            return Err(LinkRefusal::NotPassed(cited));
        };
        let age_seconds = now.0.saturating_sub(record.verified_at);
        if age_seconds > seconds(max_age) {
            return Err(LinkRefusal::TooOld { cited, age_seconds, max_age_seconds: max_age });
        }
        Ok((certificate, not_after))
    }

    /// Links a customer id to the certificate of a fresh, passed authentication verification of
    /// this tenant (and, when cited, checks a fresh passed signature verification too). Never
    /// from a bare serial. Refused or not, the call's event is one durable commit, with the link
    /// when one is made.
    pub fn link(
        &self,
        tenant: &Tenant,
        call: &CallContext,
        customer_id: &str,
        auth_verification_id: &str,
        signature_verification_id: Option<&str>,
    ) -> Result<LinkDecision, AppError> {
        let now = self.clock.now();
        let mut event = call.event(&tenant.id, now);
        event.digests.insert("customer_id_sha256".into(), digest(customer_id.as_bytes()));
        event.detail.insert("auth_verification_id".into(), auth_verification_id.to_owned());
        if let Some(id) = signature_verification_id {
            event.detail.insert("signature_verification_id".into(), id.to_owned());
        }
        let refuse = |mut event: jpki_audit::AuditEvent, refusal: LinkRefusal| {
            event.code =
                if refusal == LinkRefusal::LinkedToOther { "ALREADY_EXISTS" } else { "FAILED_PRECONDITION" }.into();
            event.reason = Some(refusal.code().to_owned());
            (event, refusal)
        };
        let auth = self.store.get_verification(&tenant.id, auth_verification_id)?;
        let signature = match signature_verification_id {
            Some(id) => Some(self.store.get_verification(&tenant.id, id)?),
            None => None,
        };
        let checked = self
            .usable(auth, Cited::Authentication, self.rules.auth_verification_max_age_seconds, now)
            .and_then(|usable| match signature {
                Some(signature) => self
                    .usable(signature, Cited::Signature, self.rules.signature_verification_max_age_seconds, now)
                    .map(|_| usable),
                None => Ok(usable),
            });
        let (certificate, not_after) = match checked {
            Ok(usable) => usable,
            Err(refusal) => {
                let (event, refusal) = refuse(event, refusal);
                self.store.write_audited(&tenant.id, TenantWrite::Nothing, one(&event)?)?;
                return Ok(LinkDecision::Refused(refusal));
            }
        };
        event.certificate = Some(cert_ref(certificate.clone()));
        // The certificate is already watched: VerifyAuthProof watched it when it passed.
        let record = LinkRecord { customer_id: customer_id.to_owned(), certificate, not_after, linked_at: now.0 };
        let write = TenantWrite::Link { record };
        let leaves = per_outcome(&write, |outcome| {
            let mut event = event.clone();
            match outcome {
                Outcome::LinkedToOther => return Ok(refuse(event, LinkRefusal::LinkedToOther).0),
                Outcome::Created => event.detail.insert("outcome".into(), "created".into()),
                _ => event.detail.insert("outcome".into(), "already_linked".into()),
            };
            Ok(event)
        })?;
        Ok(match self.store.write_audited(&tenant.id, write, leaves)?.answer {
            WriteAnswer::Linked(LinkOutcome::Created(link)) => LinkDecision::Created(link),
            WriteAnswer::Linked(LinkOutcome::AlreadyLinked(link)) => LinkDecision::AlreadyLinked(link),
            _ => LinkDecision::Refused(LinkRefusal::LinkedToOther),
        })
    }

    /// Removes a customer's links (all, or the one to `certificate`); returns how many.
    pub fn unlink(
        &self,
        tenant: &Tenant,
        call: &CallContext,
        customer_id: &str,
        certificate: Option<&CertId>,
    ) -> Result<u32, AppError> {
        let mut event = call.event(&tenant.id, self.clock.now());
        event.digests.insert("customer_id_sha256".into(), digest(customer_id.as_bytes()));
        event.certificate = certificate.cloned().map(cert_ref);
        if certificate.is_none() {
            // The certificates whose retention the unlink starts (read before the write: a link
            // made in between stays held, which keeps its records longer, never shorter).
            let linked = self.store.links_by_customer(&tenant.id, customer_id)?;
            let ids: Vec<String> = linked.iter().map(|link| cert_ref(link.certificate.clone()).text()).collect();
            event.detail.insert("certificates".into(), ids.join(","));
        }
        let write = TenantWrite::Unlink { customer_id: customer_id.to_owned(), certificate: certificate.cloned() };
        Ok(match self.store.write_audited(&tenant.id, write, one(&event)?)?.answer {
            WriteAnswer::Unlinked(removed) => removed,
            _ => 0,
        })
    }

    /// Records a read's event: the call's one durable commit.
    fn record_read(&self, tenant: &Tenant, event: &jpki_audit::AuditEvent) -> Result<(), AppError> {
        self.store.write_audited(&tenant.id, TenantWrite::Nothing, one(event)?)?;
        Ok(())
    }

    /// A customer's links.
    pub fn links_of_customer(
        &self,
        tenant: &Tenant,
        call: &CallContext,
        customer_id: &str,
    ) -> Result<Vec<LinkRecord>, AppError> {
        let links = self.store.links_by_customer(&tenant.id, customer_id)?;
        let mut event = call.event(&tenant.id, self.clock.now());
        event.digests.insert("customer_id_sha256".into(), digest(customer_id.as_bytes()));
        event.count = Some(links.len() as u64);
        self.record_read(tenant, &event)?;
        Ok(links)
    }

    /// The link of a certificate, if any.
    pub fn link_of_certificate(
        &self,
        tenant: &Tenant,
        call: &CallContext,
        certificate: &CertId,
    ) -> Result<Option<LinkRecord>, AppError> {
        let link = self.store.link_by_certificate(&tenant.id, certificate)?;
        let mut event = call.event(&tenant.id, self.clock.now());
        event.certificate = Some(cert_ref(certificate.clone()));
        event.count = Some(u64::from(link.is_some()));
        self.record_read(tenant, &event)?;
        Ok(link)
    }

    /// The status of each certificate, in order. A tenant learns the status only of certificates
    /// it verified (passed, within the record retention) or linked: anything else would let it
    /// watch other tenants' customers (moved, died, card lost) or enumerate serials. The event
    /// holds the count and a digest of the ids asked (`ca_key_id:serial` lines), and the lists
    /// the answers rest on.
    pub fn check_status(
        &self,
        tenant: &Tenant,
        call: &CallContext,
        certificates: &[CertId],
    ) -> Result<Vec<CertificateStatus>, AppError> {
        let at = self.clock.now();
        let retention = seconds(self.rules.verification_retention_seconds);
        let entitled = self.store.entitled(&tenant.id, certificates, at.0, retention)?;
        let statuses: Vec<CertificateStatus> = certificates
            .iter()
            .zip(entitled)
            .map(|(certificate, entitled)| match (entitled, certificate.bytes()) {
                (true, Some((key_id, serial))) => {
                    CertificateStatus::Known(self.revocation.status_by_id(&key_id, &serial, at))
                }
                _ => CertificateStatus::NotEntitled,
            })
            .collect();
        let mut event = call.event(&tenant.id, at);
        let ids: String = certificates.iter().map(|id| format!("{}:{}\n", id.ca_key_id, id.serial)).collect();
        event.digests.insert("certificate_ids_sha256".into(), digest(ids.as_bytes()));
        event.count = Some(certificates.len() as u64);
        let mut lists: Vec<jpki_audit::ListRelied> = Vec::new();
        for status in &statuses {
            if let CertificateStatus::Known(answer) = status {
                for list in crate::audit::answer_lists(answer) {
                    if !lists.contains(&list) {
                        lists.push(list);
                    }
                }
            }
        }
        event.revocation = lists;
        self.record_read(tenant, &event)?;
        Ok(statuses)
    }

    /// Records the opening or the closing of a revocation watch stream, with its cursor.
    pub fn record_watch(&self, tenant: &Tenant, call: &CallContext, phase: &str, cursor: u64) -> Result<(), AppError> {
        let mut event = call.event(&tenant.id, self.clock.now());
        event.detail.insert("stream".into(), phase.to_owned());
        event.detail.insert("cursor".into(), cursor.to_string());
        self.record_read(tenant, &event)
    }

    /// Where a new watch starts: after `cursor`, or after the newest event when none is given.
    pub fn watch_from(&self, tenant: &Tenant, cursor: Option<u64>) -> Result<u64, AppError> {
        match cursor {
            Some(cursor) => Ok(cursor),
            None => Ok(self.store.last_sequence(&tenant.id)?),
        }
    }

    /// Up to `limit` of the tenant's revocation events after `cursor`, oldest first.
    pub fn events_after(&self, tenant: &Tenant, cursor: u64, limit: usize) -> Result<Vec<StoredEvent>, AppError> {
        Ok(self.store.events_after(&tenant.id, cursor, limit)?)
    }
}
