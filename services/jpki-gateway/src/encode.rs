//! Outcomes as API messages and application errors as gRPC statuses: one mapping, used by every
//! RPC.

use jpki_api::v1;
use jpki_core::report::CertificateFacts;
use jpki_core::revocation::{RevocationStatus, UnknownStatusCause};
use jpki_core::{CertId, UnixTime, ValidationReport};

use jpki_app::outcome::{
    CertificateStatus, Cited, Disclosed, DisclosedFields, KindNotPermitted, LinkRefusal, Verification,
    VerificationVerdict,
};
use jpki_app::tenant::BusinessPurpose;
use jpki_store::{LinkRecord, StatusChange, StoredEvent};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A core time as a protobuf timestamp.
pub fn timestamp(time: UnixTime) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: time.0, nanos: 0 }
}

/// A serde value as a plain string: strings as they are, anything else as JSON.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
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

/// A core kind as the API's.
pub fn certificate_kind(kind: jpki_core::CertKind) -> v1::CertificateKind {
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
            match value {
                _ if key == "code" || value.is_null() => {}
                // A nested tagged value (REVOCATION_STATUS_UNKNOWN's `cause`) is flattened, as
                // docs/results.md lists it: `cause` = list_stale, `next_update` = ..., not JSON.
                serde_json::Value::Object(nested) => {
                    for (key, value) in nested {
                        if !value.is_null() {
                            details.insert(key, plain(&value));
                        }
                    }
                }
                value => {
                    details.insert(key, plain(&value));
                }
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

/// A revocation answer as the API's facts.
pub fn revocation_facts(answer: &jpki_core::RevocationAnswer) -> v1::RevocationFacts {
    let mut facts = v1::RevocationFacts::default();
    match &answer.status {
        RevocationStatus::Good => facts.set_status(v1::RevocationStatus::Good),
        RevocationStatus::Revoked { revoked_at, reason } => {
            facts.set_status(v1::RevocationStatus::Revoked);
            facts.revoked_at = Some(timestamp(*revoked_at));
            facts.set_reason(revocation_reason(*reason));
        }
        RevocationStatus::Unknown { cause } => {
            facts.set_status(v1::RevocationStatus::Unknown);
            facts.unknown_cause = unknown_cause(cause);
        }
    }
    if let Some(provenance) = &answer.provenance {
        facts.list = provenance.list.clone();
        facts.crl_number = provenance.crl_number.clone().unwrap_or_default();
        facts.this_update = Some(timestamp(provenance.this_update));
        facts.next_update = provenance.next_update.map(timestamp);
    }
    facts
}

fn unknown_cause(cause: &UnknownStatusCause) -> String {
    match serde_json::to_value(cause) {
        Ok(serde_json::Value::Object(fields)) => fields.get("cause").map(plain).unwrap_or_default(),
        Ok(other) => plain(&other),
        Err(_) => String::new(),
    }
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

fn verdict(verdict: Option<jpki_applicant::Verdict>) -> i32 {
    let verdict = match verdict {
        None => v1::FieldVerdict::Unspecified,
        Some(jpki_applicant::Verdict::Exact) => v1::FieldVerdict::Exact,
        Some(jpki_applicant::Verdict::EqualAfterNormalisation) => v1::FieldVerdict::EqualAfterNormalisation,
        Some(jpki_applicant::Verdict::DiffersAtSubstitutesOnly) => v1::FieldVerdict::DiffersAtSubstitutesOnly,
        Some(jpki_applicant::Verdict::Differs) => v1::FieldVerdict::Differs,
    };
    verdict as i32
}

fn era(era: jpki_core::four_fields::Era) -> v1::Era {
    use jpki_core::four_fields::Era;
    match era {
        Era::Meiji => v1::Era::Meiji,
        Era::Taisho => v1::Era::Taisho,
        Era::Showa => v1::Era::Showa,
        Era::Heisei => v1::Era::Heisei,
        Era::Reiwa => v1::Era::Reiwa,
        Era::Unknown => v1::Era::Unspecified,
    }
}

fn sex(sex: jpki_core::four_fields::Sex) -> v1::Sex {
    use jpki_core::four_fields::Sex;
    match sex {
        Sex::Male => v1::Sex::Male,
        Sex::Female => v1::Sex::Female,
        Sex::Unknown => v1::Sex::NotStated,
    }
}

fn disclosed_text(disclosed: &Disclosed<jpki_core::four_fields::TextField>) -> v1::TextField {
    v1::TextField { verdict: verdict(disclosed.verdict), ..text_field(&disclosed.field) }
}

/// The disclosed four fields, with their verdicts.
pub fn four_fields(fields: &DisclosedFields) -> v1::FourFields {
    let date_of_birth = fields.date_of_birth.as_ref().map(|disclosed| {
        let source = &disclosed.field;
        v1::DateOfBirth {
            verdict: verdict(disclosed.verdict),
            era: source.era.map_or(v1::Era::Unspecified, era) as i32,
            year: source.year.map_or(0, u32::from),
            month: source.month.map_or(0, u32::from),
            day: source.day.map_or(0, u32::from),
            problems: problems(&source.problems),
            raw: source.raw.clone().unwrap_or_default(),
        }
    });
    let sex = fields.sex.as_ref().map(|disclosed| {
        let source = &disclosed.field;
        v1::SexField {
            verdict: verdict(disclosed.verdict),
            value: source.value.map_or(v1::Sex::Unspecified, sex) as i32,
            problems: problems(&source.problems),
            raw: source.raw.clone().unwrap_or_default(),
        }
    });
    v1::FourFields {
        name: fields.name.as_ref().map(disclosed_text),
        date_of_birth,
        address: fields.address.as_ref().map(disclosed_text),
        sex,
    }
}

/// A business purpose as the API's.
pub fn business_purpose(purpose: BusinessPurpose) -> v1::BusinessPurpose {
    match purpose {
        BusinessPurpose::AccountOpening => v1::BusinessPurpose::AccountOpening,
        BusinessPurpose::Login => v1::BusinessPurpose::Login,
        BusinessPurpose::Remittance => v1::BusinessPurpose::Remittance,
        BusinessPurpose::PeriodicReverification => v1::BusinessPurpose::PeriodicReverification,
    }
}

/// The core's report as the API's `VerificationResult`.
fn verification_result(report: &ValidationReport, verification_id: String) -> v1::VerificationResult {
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

/// A verification refused by the gateway rather than the core: TOTAL_FAILED,
/// SIG_CONSTRAINTS_FAILURE, the reason and its details; no revocation facts.
fn refused(
    verification_id: String,
    at: UnixTime,
    code: &str,
    details: Vec<(&'static str, String)>,
    certificate: Option<&CertificateFacts>,
) -> v1::VerificationResult {
    v1::VerificationResult {
        verification_id,
        indication: v1::Indication::TotalFailed as i32,
        sub_indication: v1::SubIndication::SigConstraintsFailure as i32,
        reason: Some(v1::Reason {
            code: code.to_owned(),
            details: details.into_iter().map(|(key, value)| (key.to_owned(), value)).collect(),
        }),
        retry_may_help: false,
        validation_time: Some(timestamp(at)),
        certificate: certificate.map(certificate_facts),
        revocation: None,
    }
}

/// A verification as the API's `VerificationResult`: the core's report, or a refusal for the
/// proof's challenge (CHALLENGE_*) or for a certificate kind the tenant may not verify
/// (CERTIFICATE_KIND_NOT_PERMITTED, with the certificate's facts but nothing from the lists).
pub fn verification(verification: &Verification) -> v1::VerificationResult {
    let id = verification.id.clone();
    match &verification.verdict {
        VerificationVerdict::Verified(report) => verification_result(report, id),
        VerificationVerdict::Refused(refusal) => refused(id, verification.at, refusal.code(), refusal.details(), None),
        VerificationVerdict::NotPermitted(not_permitted) => refused(
            id,
            not_permitted.validation_time,
            KindNotPermitted::CODE,
            not_permitted.details(),
            Some(&not_permitted.certificate),
        ),
    }
}

/// What a CRL reason means for a bank (PROFILE.md, "Reason codes in use").
pub fn business_meaning(reason: Option<jpki_core::revocation::RevocationReason>) -> v1::BusinessMeaning {
    use jpki_core::revocation::RevocationReason as R;
    match reason {
        Some(R::AffiliationChanged) => v1::BusinessMeaning::MovedOrRenamed,
        Some(R::Superseded) => v1::BusinessMeaning::Renewed,
        Some(R::KeyCompromise) => v1::BusinessMeaning::CardLost,
        Some(R::CessationOfOperation) => v1::BusinessMeaning::DiedOrLeftRegister,
        Some(R::CertificateHold) => v1::BusinessMeaning::Suspended,
        Some(R::Unspecified | R::CaCompromise | R::RemoveFromCrl | R::PrivilegeWithdrawn | R::AaCompromise) | None => {
            v1::BusinessMeaning::Unspecified
        }
    }
}

/// A CRL reason as the API's enum (none and unspecified (0) alike: JPKI lists omit code 0).
pub fn revocation_reason(reason: Option<jpki_core::revocation::RevocationReason>) -> v1::RevocationReason {
    use jpki_core::revocation::RevocationReason as R;
    match reason {
        None | Some(R::Unspecified) => v1::RevocationReason::Unspecified,
        Some(R::KeyCompromise) => v1::RevocationReason::KeyCompromise,
        Some(R::CaCompromise) => v1::RevocationReason::CaCompromise,
        Some(R::AffiliationChanged) => v1::RevocationReason::AffiliationChanged,
        Some(R::Superseded) => v1::RevocationReason::Superseded,
        Some(R::CessationOfOperation) => v1::RevocationReason::CessationOfOperation,
        Some(R::CertificateHold) => v1::RevocationReason::CertificateHold,
        Some(R::RemoveFromCrl) => v1::RevocationReason::RemoveFromCrl,
        Some(R::PrivilegeWithdrawn) => v1::RevocationReason::PrivilegeWithdrawn,
        Some(R::AaCompromise) => v1::RevocationReason::AaCompromise,
    }
}

/// FAILED_PRECONDITION with a `google.rpc.PreconditionFailure` violation.
pub fn precondition_failed(violation: &str, subject: &str, description: &str) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        format!("{subject}: {description}"),
        ErrorDetails::with_precondition_failure_violation(violation, subject, description),
    )
}

/// How long a client should wait before retrying a call that met a storage failure.
pub const STORAGE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// The status for a storage failure. Nothing was acknowledged, so a retry is safe (Link is
/// idempotent; a challenge whose use may have been recorded answers CHALLENGE_ALREADY_USED, so log
/// in with a new one); with Redis, a write cut off by a timeout may still have been applied.
///
/// - UNAVAILABLE with `google.rpc.RetryInfo` when the backend failed or is unreachable (I/O, Redis
///   down or timing out, not durable): transient, retry after the delay;
/// - INTERNAL when retrying cannot help: a stored record does not decode, or the gateway passed the
///   store something it refuses (a bug: the API checks every limit first);
/// - FAILED_PRECONDITION when audit leaves asked for were trimmed from the hot store (the app reads
///   them from the archive instead, so this should not reach a client).
fn storage_failed(error: &jpki_store::StoreError) -> Status {
    use jpki_store::StoreError;
    tracing::error!(%error, "store failed");
    match error {
        StoreError::Backend(_)
        | StoreError::NotDurable { .. }
        | StoreError::InUse { .. }
        | StoreError::CreateDir { .. } => Status::with_error_details(
            Code::Unavailable,
            "storage unavailable; the call was not acknowledged and may be retried (with a new challenge for VerifyAuthProof)",
            ErrorDetails::with_retry_info(Some(STORAGE_RETRY_DELAY)),
        ),
        StoreError::InvalidInput { .. }
        | StoreError::Duplicate { .. }
        | StoreError::UnsupportedSchema { .. }
        | StoreError::Corrupt { .. } => Status::internal("storage refused the call; it was not acknowledged"),
        // The app reads trimmed leaves from the archive; reaching here means it did not.
        StoreError::AuditTrimmed { .. } => {
            Status::failed_precondition("these audit events were moved to the archive and are not served here")
        }
    }
}

/// The status for an application error.
pub fn app_error(error: &jpki_app::AppError) -> Status {
    match error {
        jpki_app::AppError::Storage(error) => storage_failed(error),
        jpki_app::AppError::NoRandomness => {
            tracing::error!("no randomness available");
            Status::internal("no randomness available")
        }
        jpki_app::AppError::Audit(error) => {
            tracing::error!(%error, "audit log");
            Status::internal("the audit log refused the call; it was not acknowledged")
        }
        jpki_app::AppError::Archive(error) => {
            tracing::error!(%error, "audit archive");
            archive_failed(error)
        }
    }
}

/// The status for a failure of the audit log's long-term archive (only auditors' reads and the
/// integrator use it; tenants' calls never wait on it).
fn archive_failed(error: &jpki_archive::ArchiveError) -> Status {
    match error {
        jpki_archive::ArchiveError::Backend(_) => Status::with_error_details(
            Code::Unavailable,
            "the audit archive is unavailable; retry later",
            ErrorDetails::with_retry_info(Some(STORAGE_RETRY_DELAY)),
        ),
        _ => Status::internal("the audit archive failed; see the gateway's log"),
    }
}

/// The API's certificate id.
pub fn certificate_id(id: &CertId) -> v1::CertificateId {
    v1::CertificateId { ca_key_id: id.ca_key_id.clone(), serial: id.serial.clone() }
}

/// A link as the API shows it.
pub fn link(link: &LinkRecord) -> v1::Link {
    v1::Link {
        customer_id: link.customer_id.clone(),
        certificate: Some(certificate_id(&link.certificate)),
        not_after: Some(timestamp(UnixTime(link.not_after))),
        linked_at: Some(timestamp(UnixTime(link.linked_at))),
    }
}

/// A refused link: FAILED_PRECONDITION naming the cited request field, or ALREADY_EXISTS.
pub fn link_refused(refusal: &LinkRefusal) -> Status {
    let field = match refusal.cited() {
        Some(Cited::Authentication) => "auth_verification_id",
        Some(Cited::Signature) => "signature_verification_id",
        None => return Status::already_exists(refusal.description()),
    };
    precondition_failed(refusal.code(), field, &refusal.description())
}

/// One certificate's status for CheckStatus.
pub fn certificate_status(id: &CertId, status: &CertificateStatus) -> v1::CertificateStatus {
    let revocation = match status {
        // The status alone, nothing from any list, the same whether the certificate exists or not.
        CertificateStatus::NotEntitled => {
            v1::RevocationFacts { status: v1::RevocationStatus::NotEntitled as i32, ..v1::RevocationFacts::default() }
        }
        CertificateStatus::Known(answer) => revocation_facts(answer),
    };
    v1::CertificateStatus { certificate: Some(certificate_id(id)), revocation: Some(revocation) }
}

fn revocation_change(change: StatusChange) -> v1::RevocationChange {
    match change {
        StatusChange::Held => v1::RevocationChange::Held,
        StatusChange::Revoked => v1::RevocationChange::Revoked,
        StatusChange::Released => v1::RevocationChange::Released,
    }
}

/// A stored revocation event as the API's.
pub fn revocation_event(stored: &StoredEvent) -> v1::RevocationEvent {
    let event = &stored.event;
    let reason = event.reason.as_deref().and_then(jpki_core::revocation::RevocationReason::from_name);
    v1::RevocationEvent {
        cursor: stored.sequence.to_string(),
        certificate: Some(certificate_id(&event.certificate)),
        revoked_at: Some(timestamp(UnixTime(event.revoked_at))),
        reason: revocation_reason(reason) as i32,
        meaning: business_meaning(reason) as i32,
        customer_id: event.customer_id.clone().unwrap_or_default(),
        crl_number: event.crl_number.clone().unwrap_or_default(),
        kind: jpki_core::CertKind::parse(&event.kind).map_or(v1::CertificateKind::Unspecified, certificate_kind) as i32,
        change: revocation_change(event.change) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_map_to_their_documented_codes() {
        let code = |error| app_error(&jpki_app::AppError::Storage(error)).code();
        assert_eq!(code(jpki_store::StoreError::AuditTrimmed { floor: 3 }), Code::FailedPrecondition);
        assert_eq!(code(jpki_store::StoreError::Backend("down".into())), Code::Unavailable);
        assert_eq!(code(jpki_store::StoreError::Duplicate { what: "challenge" }), Code::Internal);
    }
}
