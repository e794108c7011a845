//! The API's error statuses, with google.rpc details, in one place.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` field violation.
pub fn bad_request(field: &str, description: &str) -> Status {
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {description}"),
        ErrorDetails::with_bad_request_violation(field, description),
    )
}

/// INVALID_ARGUMENT unless `bytes` is at most `max` long.
pub fn check_size(field: &str, bytes: &[u8], max: usize) -> Result<(), Status> {
    if bytes.len() > max {
        return Err(bad_request(field, &format!("{} bytes, at most {max} accepted", bytes.len())));
    }
    Ok(())
}

/// INVALID_ARGUMENT unless `bytes` is non-empty and at most `max` long.
pub fn require_bytes(field: &str, bytes: &[u8], max: usize) -> Result<(), Status> {
    if bytes.is_empty() {
        return Err(bad_request(field, "required"));
    }
    check_size(field, bytes, max)
}

/// INVALID_ARGUMENT unless `text` is at most `max` characters without control characters
/// (and non-empty when `required`).
pub fn check_text(field: &str, text: &str, max: usize, required: bool) -> Result<(), Status> {
    if required && text.is_empty() {
        return Err(bad_request(field, "required"));
    }
    let length = text.chars().count();
    if length > max {
        return Err(bad_request(field, &format!("{length} characters, at most {max} accepted")));
    }
    if text.chars().any(char::is_control) {
        return Err(bad_request(field, "control characters are not accepted"));
    }
    Ok(())
}

/// FAILED_PRECONDITION with a `google.rpc.PreconditionFailure` violation.
pub fn precondition_failed(violation: &str, subject: &str, description: &str) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        format!("{subject}: {description}"),
        ErrorDetails::with_precondition_failure_violation(violation, subject, description),
    )
}

/// INTERNAL for a storage failure. Nothing was acknowledged, but with Redis a write cut off by a
/// timeout may still have been applied: retrying is safe (Link is idempotent; a challenge whose
/// use may have been recorded answers CHALLENGE_ALREADY_USED, so log in with a new one).
pub fn storage_failed(error: &jpki_store::StoreError) -> Status {
    tracing::error!(%error, "store failed");
    Status::internal(
        "storage failed; the call was not acknowledged and may be retried (with a new challenge for VerifyAuthProof)",
    )
}

/// A lowercase hex identifier of at most `max_digits` digits, as certificate ids use.
pub fn check_hex(field: &str, text: &str, max_digits: usize) -> Result<(), Status> {
    if text.is_empty() {
        return Err(bad_request(field, "required"));
    }
    if text.len() > max_digits {
        return Err(bad_request(field, &format!("at most {max_digits} hex digits")));
    }
    if !text.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)) {
        return Err(bad_request(field, "lowercase hex digits only"));
    }
    Ok(())
}
