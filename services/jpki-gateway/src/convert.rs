//! The core's reports as API messages: one mapping, used by every RPC.

use jpki_api::v1;
use jpki_core::report::CertificateFacts;
use jpki_core::revocation::{RevocationStatus, UnknownStatusCause};
use jpki_core::{UnixTime, ValidationReport};

use crate::tenant::FieldPermissions;

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

fn verdict(verdict: jpki_applicant::Verdict) -> i32 {
    let verdict = match verdict {
        jpki_applicant::Verdict::Exact => v1::FieldVerdict::Exact,
        jpki_applicant::Verdict::EqualAfterNormalisation => v1::FieldVerdict::EqualAfterNormalisation,
        jpki_applicant::Verdict::DiffersAtSubstitutesOnly => v1::FieldVerdict::DiffersAtSubstitutesOnly,
        jpki_applicant::Verdict::Differs => v1::FieldVerdict::Differs,
    };
    verdict as i32
}

/// The verdict on one typed value when it was typed and the certificate has the field.
fn compared_verdict(typed: &str, value: &str, compare: impl FnOnce(&str, &str) -> jpki_applicant::Verdict) -> i32 {
    if typed.trim().is_empty() || value.is_empty() {
        return v1::FieldVerdict::Unspecified as i32;
    }
    verdict(compare(typed, value))
}

/// Compares one typed text value into its field.
fn compared(typed: &str, field: &mut v1::TextField, compare: impl FnOnce(&str, &str) -> jpki_applicant::Verdict) {
    field.verdict = compared_verdict(typed, &field.value, compare);
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

/// The four fields the tenant may receive, each compared with the applicant's typed value when
/// given. Fields the tenant may not receive are absent and never compared (a verdict would leak
/// them).
pub fn four_fields(
    fields: &jpki_core::FourFields,
    permissions: FieldPermissions,
    applicant: Option<&v1::ApplicantData>,
) -> v1::FourFields {
    let empty = v1::ApplicantData::default();
    let applicant = applicant.unwrap_or(&empty);
    let positions = |field: &v1::TextField| -> Vec<usize> {
        field.substitute_positions.iter().filter_map(|position| usize::try_from(*position).ok()).collect()
    };
    let name = permissions.name.then(|| {
        let mut field = text_field(&fields.name);
        let substitutes = positions(&field);
        compared(&applicant.name, &mut field, |typed, value| jpki_applicant::compare_name(typed, value, &substitutes));
        field
    });
    let address = permissions.address.then(|| {
        let mut field = text_field(&fields.address);
        let substitutes = positions(&field);
        compared(&applicant.address, &mut field, |typed, value| {
            jpki_applicant::compare_address(typed, value, &substitutes)
        });
        field
    });
    let date_of_birth = permissions.date_of_birth.then(|| {
        let source = &fields.date_of_birth;
        let raw = source.raw.clone().unwrap_or_default();
        v1::DateOfBirth {
            verdict: compared_verdict(&applicant.date_of_birth, &raw, jpki_applicant::compare_date_of_birth),
            era: source.era.map_or(v1::Era::Unspecified, era) as i32,
            year: source.year.map_or(0, u32::from),
            month: source.month.map_or(0, u32::from),
            day: source.day.map_or(0, u32::from),
            problems: problems(&source.problems),
            raw,
        }
    });
    let sex = permissions.sex.then(|| {
        let source = &fields.sex;
        let raw = source.raw.clone().unwrap_or_default();
        v1::SexField {
            verdict: compared_verdict(&applicant.sex, &raw, jpki_applicant::compare_sex),
            value: source.value.map_or(v1::Sex::Unspecified, sex) as i32,
            problems: problems(&source.problems),
            raw,
        }
    });
    v1::FourFields { name, date_of_birth, address, sex }
}

/// The core's report as the API's `VerificationResult`.
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

/// A proof refused before any cryptography because of its challenge (TOTAL_FAILED,
/// SIG_CONSTRAINTS_FAILURE, reason `code` with its details).
pub fn challenge_refused(
    verification_id: String,
    at: UnixTime,
    code: &str,
    details: &[(&str, String)],
) -> v1::VerificationResult {
    v1::VerificationResult {
        verification_id,
        indication: v1::Indication::TotalFailed as i32,
        sub_indication: v1::SubIndication::SigConstraintsFailure as i32,
        reason: Some(v1::Reason {
            code: code.to_owned(),
            details: details.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).collect(),
        }),
        retry_may_help: false,
        validation_time: Some(timestamp(at)),
        certificate: None,
        revocation: None,
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

/// A revocation reason's wire name (e.g. `key_compromise`).
pub fn reason_name(reason: Option<jpki_core::revocation::RevocationReason>) -> String {
    reason.as_ref().map(serde_name).unwrap_or_default()
}
