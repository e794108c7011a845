//! The stored records and their validation.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use jpki_core::{CertId, CertIdError};
use serde::{Deserialize, Serialize};

use crate::{MAX_CUSTOMER_ID_LEN, MAX_ID_LEN, MAX_TEXT_LEN, MAX_TRANSACTION_REFERENCE_LEN, StoreError};

/// Longest tenant id.
const MAX_TENANT_LEN: usize = 64;

/// A tenant (a bank): 1..=64 characters of `[A-Za-z0-9_.-]`.
///
/// Checked once, when it is made ([`TenantId::new`], `parse`, deserialisation); the field is private,
/// so every `TenantId` is valid and the stores do not check it again.
///
/// Shared (`Arc<str>`): the stores keep a tenant's id in every record and index entry, and a clone
/// is then a reference count, not an allocation and a copy; the entries made from one id point to
/// one text, which stays in the cache. Compared, hashed and ordered as its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// A validated tenant id.
    pub fn new(id: impl Into<String>) -> Result<Self, StoreError> {
        let id = id.into();
        if id.is_empty() || id.len() > MAX_TENANT_LEN {
            return Err(invalid("tenant", "must be 1 to 64 characters"));
        }
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            return Err(invalid("tenant", "only A-Z, a-z, 0-9, '_', '.' and '-' are allowed"));
        }
        Ok(Self(id.into()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = StoreError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> Self {
        id.0.to_string()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A single-use authentication challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// The bytes the card must sign.
    #[serde(with = "hex_bytes")]
    pub challenge: Vec<u8>,
    /// The tenant's transaction reference, echoed in the result.
    pub transaction_reference: String,
    /// When it was issued.
    pub issued_at: i64,
    /// The first second at which it is no longer accepted.
    pub expires_at: i64,
}

impl Challenge {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if self.challenge.is_empty() || self.challenge.len() > MAX_TEXT_LEN {
            return Err(invalid("challenge", "must be 1 to 1024 bytes"));
        }
        check_len("transaction_reference", &self.transaction_reference, MAX_TRANSACTION_REFERENCE_LEN)?;
        if self.expires_at < self.issued_at {
            return Err(invalid("expires_at", "is before issued_at"));
        }
        Ok(())
    }
}

/// What consuming a challenge found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// It was pending and is now used.
    Consumed(Challenge),
    /// This tenant has no such challenge (never issued, issued to another tenant, or purged).
    Unknown,
    /// It was pending but expired; it is now marked used.
    Expired(Challenge),
    /// It was consumed before, at `used_at`.
    AlreadyUsed {
        /// When the first consume happened.
        used_at: i64,
    },
}

/// Which verification produced a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationKind {
    /// VerifySignature.
    Signature,
    /// VerifyAuthProof.
    Authentication,
}

/// A certificate to watch for revocation events, recorded with a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// The certificate.
    pub certificate: CertId,
    /// Its notAfter (the entry is purged a while after it).
    pub not_after: i64,
    /// Its kind, e.g. `auth_card`.
    pub kind: String,
}

/// The outcome of one verification, kept for links and audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRecord {
    /// Verification id (1..=[`MAX_ID_LEN`] bytes).
    pub id: String,
    /// Which RPC.
    pub kind: VerificationKind,
    /// Whether the indication was TOTAL_PASSED.
    pub passed: bool,
    /// The end-entity certificate, when it could be parsed.
    pub certificate: Option<CertId>,
    /// Its notAfter.
    pub not_after: Option<i64>,
    /// The validation time.
    pub verified_at: i64,
    /// The tenant's transaction reference.
    pub transaction_reference: String,
    /// Why the tenant verified, by name (`account_opening`, `login`, ...): the application's
    /// business purpose. Empty in records stored before purposes were kept.
    #[serde(default)]
    pub purpose: String,
}

impl VerificationRecord {
    /// The same attempt kept as refused: not passed, no certificate (so nothing is entitled).
    pub fn refused(&self) -> VerificationRecord {
        VerificationRecord { passed: false, certificate: None, not_after: None, ..self.clone() }
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        check_id("verification id", &self.id)?;
        if let Some(cert) = &self.certificate {
            cert.validate()?;
        }
        check_len("purpose", &self.purpose, MAX_TEXT_LEN)?;
        check_len("transaction_reference", &self.transaction_reference, MAX_TRANSACTION_REFERENCE_LEN)
    }
}

/// A link between a tenant's customer and a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// The tenant's customer id (1..=[`MAX_CUSTOMER_ID_LEN`] bytes).
    pub customer_id: String,
    /// The linked certificate.
    pub certificate: CertId,
    /// The certificate's notAfter.
    pub not_after: i64,
    /// When the link was made.
    pub linked_at: i64,
}

impl LinkRecord {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        check_customer(&self.customer_id)?;
        Ok(self.certificate.validate()?)
    }
}

/// What linking found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// A new link.
    Created(LinkRecord),
    /// The certificate was already linked to the same customer (idempotent); the stored record.
    AlreadyLinked(LinkRecord),
    /// The certificate is linked to another customer of this tenant.
    LinkedToOther {
        /// That customer.
        customer_id: String,
    },
}

/// What happened to a watched certificate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    /// Listed with certificateHold: suspended; it may be released later.
    Held,
    /// Listed with any other reason (or none): revoked for good.
    Revoked,
    /// Taken off the list after a hold (removeFromCRL in a delta, or dropped from the next complete
    /// list).
    Released,
}

impl StatusChange {
    /// The stored name (`held`, `revoked`, `released`), as in the JSON of a [`RevocationNotice`].
    pub fn as_str(self) -> &'static str {
        match self {
            StatusChange::Held => "held",
            StatusChange::Revoked => "revoked",
            StatusChange::Released => "released",
        }
    }

    /// The change named by [`StatusChange::as_str`].
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [StatusChange::Held, StatusChange::Revoked, StatusChange::Released].into_iter().find(|c| c.as_str() == name)
    }

    /// Records of schema 1 have no `change`: every one of them was a revocation.
    fn schema_1_default() -> Self {
        StatusChange::Revoked
    }
}

/// A change of status of a certificate that concerns a tenant (one event of its log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationNotice {
    /// The certificate.
    pub certificate: CertId,
    /// The change. Records written before this field existed were all revocations.
    #[serde(default = "StatusChange::schema_1_default")]
    pub change: StatusChange,
    /// revocationDate for [`StatusChange::Held`] and [`StatusChange::Revoked`]; for
    /// [`StatusChange::Released`], the thisUpdate of the list that released it.
    pub revoked_at: i64,
    /// The reason code, when the list gives one (`None` for a release).
    pub reason: Option<String>,
    /// The cRLNumber of the list that made the change, decimal (1..=[`MAX_TEXT_LEN`] digits).
    pub crl_number: Option<String>,
    /// The customer linked to the certificate when the event was made.
    pub customer_id: Option<String>,
    /// The certificate's kind (as recorded by [`crate::TenantStore::watch`]).
    pub kind: String,
}

impl RevocationNotice {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        self.certificate.validate()?;
        if let Some(reason) = &self.reason {
            check_len("reason", reason, MAX_TEXT_LEN)?;
        }
        if let Some(number) = &self.crl_number {
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("crl_number", "must be decimal digits"));
            }
            check_len("crl_number", number, MAX_TEXT_LEN)?;
        }
        if let Some(customer) = &self.customer_id {
            check_customer(customer)?;
        }
        check_len("kind", &self.kind, MAX_TEXT_LEN)
    }
}

/// A decimal cRLNumber without leading zeros (`"0"` for zero), so that numbers of any length
/// compare by length, then lexically; `None` when `number` is not decimal digits.
pub(crate) fn normalise_crl_number(number: &str) -> Option<&str> {
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = number.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed })
}

/// Orders two normalised cRLNumbers numerically.
pub(crate) fn compare_crl_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// An event of a tenant's revocation log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Its per-tenant sequence (the resume cursor).
    pub sequence: u64,
    /// The event.
    pub event: RevocationNotice,
}

/// A tenant id read back from storage (in an index or key of `what`): one that does not parse is
/// corruption.
pub(crate) fn stored_tenant(id: &str, what: &'static str) -> Result<TenantId, StoreError> {
    TenantId::new(id).map_err(|_| StoreError::Corrupt { what, detail: "not a tenant id".to_owned() })
}

/// Checks the arguments of [`crate::TenantStore::entitled`] and returns the oldest `verified_at`
/// that still entitles.
pub(crate) fn entitlement_cutoff(certificates: &[CertId], now: i64, retention_secs: i64) -> Result<i64, StoreError> {
    for certificate in certificates {
        certificate.validate()?;
    }
    if retention_secs < 0 {
        return Err(invalid("retention_secs", "is negative"));
    }
    Ok(now.saturating_sub(retention_secs))
}

/// A certificate id that fails [`CertId::validate`] is invalid input, named by its part.
impl From<CertIdError> for StoreError {
    fn from(error: CertIdError) -> Self {
        let reason = match error {
            CertIdError::Empty(_) | CertIdError::TooLong { .. } => "must be 1 to 128 hex digits",
            CertIdError::NotHex(_) => "must be lowercase hex",
            // `validate` does not require whole bytes; only `CertId::from_hex` refuses this.
            CertIdError::OddKeyId => "must be an even number of hex digits",
        };
        invalid(error.part().name(), reason)
    }
}

pub(crate) fn invalid(field: &'static str, reason: &'static str) -> StoreError {
    StoreError::InvalidInput { field, reason }
}

pub(crate) fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.len() > max {
        return Err(invalid(field, "too long"));
    }
    Ok(())
}

pub(crate) fn check_id(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid(field, "is empty"));
    }
    check_len(field, value, MAX_ID_LEN)
}

pub(crate) fn check_customer(value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid("customer_id", "is empty"));
    }
    check_len("customer_id", value, MAX_CUSTOMER_ID_LEN)
}

pub(crate) fn check_kind(value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid("kind", "is empty"));
    }
    check_len("kind", value, MAX_TEXT_LEN)
}

/// Bytes as a lowercase hex string, readable in stored JSON.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        // Into one buffer: `hex::encode` collects a `String` char by char, which for a kept
        // certificate (about 1.2 KB of DER per passed verification) was a few percent of a call.
        let mut text = vec![0; bytes.len() * 2];
        hex::encode_to_slice(bytes, &mut text).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_record_stored_before_purposes_reads_with_an_empty_purpose() {
        let before = r#"{"id":"v1","kind":"authentication","passed":true,"certificate":null,"not_after":null,
            "verified_at":100,"transaction_reference":"tx"}"#;
        let record: VerificationRecord = serde_json::from_str(before).unwrap();
        assert_eq!(record.purpose, "");
        let kept = VerificationRecord { purpose: "login".into(), ..record };
        let again: VerificationRecord = serde_json::from_str(&serde_json::to_string(&kept).unwrap()).unwrap();
        assert_eq!(again, kept);
    }
}
