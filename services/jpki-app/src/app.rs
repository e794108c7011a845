//! The use cases. Each takes the calling tenant and decoded input, runs on the clock, the
//! verifier and the tenant store, and returns one typed outcome. They block (the store fsyncs and
//! verification is CPU-bound): async callers run each one whole on a blocking thread.

use std::sync::Arc;

use jpki_core::{AuthProofInput, CertId, CertKind, SignatureInput, UnixTime, ValidationReport, Verifier};
use jpki_revocation::RevocationStore;
use jpki_store::{
    Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, StoredEvent, TenantStore, VerificationKind, VerificationRecord,
    WatchRequest,
};

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
        purpose: BusinessPurpose,
        input: &SignatureInput<'_>,
        applicant: Option<&Applicant>,
    ) -> Result<SignatureOutcome, AppError> {
        let id = random_id(ID_BYTES)?;
        let at = self.clock.now();
        let verdict = permitted(tenant, self.verifier.verify_signature(input, at));
        let report = verdict.report();
        let stored = record(&id, VerificationKind::Signature, report, at, "", purpose);
        self.store.record_verification(&tenant.id, stored, report.and_then(watch_request))?;
        let four_fields = report
            .filter(|report| passed(report))
            .and_then(|report| report.four_fields.as_ref())
            .map(|fields| disclose(fields, tenant.fields, applicant));
        Ok(SignatureOutcome { verification: Verification { id, at, verdict }, four_fields })
    }

    /// 資格確認, first step: a single-use challenge for the card to sign.
    pub fn issue_challenge(&self, tenant: &Tenant, transaction_reference: String) -> Result<IssuedChallenge, AppError> {
        let id = random_id(ID_BYTES)?;
        let challenge = random_bytes(CHALLENGE_BYTES)?;
        let issued_at = self.clock.now();
        let expires_at = UnixTime(issued_at.0.saturating_add(seconds(self.rules.challenge_ttl_seconds)));
        let stored = Challenge {
            challenge: challenge.clone(),
            transaction_reference,
            issued_at: issued_at.0,
            expires_at: expires_at.0,
        };
        self.store.put_challenge(&tenant.id, &id, stored)?;
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
        let settled = self.store.settle_proof(&tenant.id, challenge_id, at.0, stored, watch)?;
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
    /// from a bare serial.
    pub fn link(
        &self,
        tenant: &Tenant,
        customer_id: &str,
        auth_verification_id: &str,
        signature_verification_id: Option<&str>,
    ) -> Result<LinkDecision, AppError> {
        let now = self.clock.now();
        let auth = self.store.get_verification(&tenant.id, auth_verification_id)?;
        let signature = match signature_verification_id {
            Some(id) => Some(self.store.get_verification(&tenant.id, id)?),
            None => None,
        };
        let (certificate, not_after) =
            match self.usable(auth, Cited::Authentication, self.rules.auth_verification_max_age_seconds, now) {
                Ok(usable) => usable,
                Err(refusal) => return Ok(LinkDecision::Refused(refusal)),
            };
        if let Some(signature) = signature
            && let Err(refusal) =
                self.usable(signature, Cited::Signature, self.rules.signature_verification_max_age_seconds, now)
        {
            return Ok(LinkDecision::Refused(refusal));
        }
        // The certificate is already watched: VerifyAuthProof watched it when it passed.
        let record = LinkRecord { customer_id: customer_id.to_owned(), certificate, not_after, linked_at: now.0 };
        Ok(match self.store.link(&tenant.id, record)? {
            LinkOutcome::Created(link) => LinkDecision::Created(link),
            LinkOutcome::AlreadyLinked(link) => LinkDecision::AlreadyLinked(link),
            LinkOutcome::LinkedToOther { .. } => LinkDecision::Refused(LinkRefusal::LinkedToOther),
        })
    }

    /// Removes a customer's links (all, or the one to `certificate`); returns how many.
    pub fn unlink(&self, tenant: &Tenant, customer_id: &str, certificate: Option<&CertId>) -> Result<u32, AppError> {
        Ok(self.store.unlink(&tenant.id, customer_id, certificate)?)
    }

    /// A customer's links.
    pub fn links_of_customer(&self, tenant: &Tenant, customer_id: &str) -> Result<Vec<LinkRecord>, AppError> {
        Ok(self.store.links_by_customer(&tenant.id, customer_id)?)
    }

    /// The link of a certificate, if any.
    pub fn link_of_certificate(&self, tenant: &Tenant, certificate: &CertId) -> Result<Option<LinkRecord>, AppError> {
        Ok(self.store.link_by_certificate(&tenant.id, certificate)?)
    }

    /// The status of each certificate, in order. A tenant learns the status only of certificates
    /// it verified (passed, within the record retention) or linked: anything else would let it
    /// watch other tenants' customers (moved, died, card lost) or enumerate serials.
    pub fn check_status(&self, tenant: &Tenant, certificates: &[CertId]) -> Result<Vec<CertificateStatus>, AppError> {
        let at = self.clock.now();
        let retention = seconds(self.rules.verification_retention_seconds);
        let entitled = self.store.entitled(&tenant.id, certificates, at.0, retention)?;
        Ok(certificates
            .iter()
            .zip(entitled)
            .map(|(certificate, entitled)| match (entitled, certificate.bytes()) {
                (true, Some((key_id, serial))) => {
                    CertificateStatus::Known(self.revocation.status_by_id(&key_id, &serial, at))
                }
                _ => CertificateStatus::NotEntitled,
            })
            .collect())
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
