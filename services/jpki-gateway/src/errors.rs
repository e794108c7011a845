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

/// How long a client should wait before retrying a call that met a storage failure.
pub const STORAGE_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// The status for a storage failure. Nothing was acknowledged, so a retry is safe (Link is
/// idempotent; a challenge whose use may have been recorded answers CHALLENGE_ALREADY_USED, so log
/// in with a new one); with Redis, a write cut off by a timeout may still have been applied.
///
/// - UNAVAILABLE with `google.rpc.RetryInfo` when the backend failed or is unreachable (I/O, Redis
///   down or timing out, not durable): transient, retry after the delay;
/// - INTERNAL when retrying cannot help: a stored record does not decode, or the gateway passed the
///   store something it refuses (a bug: the API checks every limit first).
pub fn storage_failed(error: &jpki_store::StoreError) -> Status {
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
    }
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
