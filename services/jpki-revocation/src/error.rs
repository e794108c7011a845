//! Why a CRL was refused. Every variant carries the values that explain it.

use jpki_core::UnixTime;

/// Why a CRL could not be loaded. A refused list never replaces the last good one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not a DER CertificateList: `what` was expected at `at_byte` (offset in the input).
    #[error("malformed CRL at byte {at_byte}: {what}")]
    Malformed {
        /// Offset of the offending element (for truncation: the end of the input).
        at_byte: usize,
        /// What was being read.
        what: &'static str,
    },
    /// Bytes after the CertificateList.
    #[error("trailing data after the CRL at byte {at_byte}")]
    TrailingData {
        /// Offset of the first extra byte.
        at_byte: usize,
    },
    /// The CRL version is not v2 (or absent, v1).
    #[error("unsupported CRL version at byte {at_byte}")]
    UnsupportedVersion {
        /// Offset of the version field.
        at_byte: usize,
    },
    /// The signature algorithm is SHA-1 or not an RSA PKCS#1 v1.5 algorithm we accept.
    #[error("CRL signature algorithm {oid} is not accepted")]
    AlgorithmRejected {
        /// Dotted OID.
        oid: String,
    },
    /// The outer signatureAlgorithm differs from the tbsCertList signature field.
    #[error("signatureAlgorithm at byte {at_byte} differs from the tbsCertList signature field")]
    AlgorithmMismatch {
        /// Offset of the outer signatureAlgorithm.
        at_byte: usize,
    },
    /// No configured anchor has the CRL issuer DN (and, when present, the authorityKeyIdentifier).
    #[error("no trust anchor matches the CRL issuer (authority key id {authority_key_id:?})")]
    WrongIssuer {
        /// The CRL's authorityKeyIdentifier, hex, when it has one.
        authority_key_id: Option<String>,
    },
    /// No candidate anchor's key verifies the signature.
    #[error("CRL signature does not verify with any of the {candidates} anchor(s) named as its issuer")]
    SignatureInvalid {
        /// How many anchors were tried.
        candidates: usize,
    },
    /// The anchor whose key verifies the signature has a keyUsage without cRLSign: its key is not
    /// for signing CRLs (RFC 5280 4.2.1.3).
    #[error("the anchor {key_id} whose key verifies the CRL has keyUsage without cRLSign")]
    SignerNotForCrls {
        /// The anchor's key identifier, hex.
        key_id: String,
    },
    /// The anchor whose key verifies the signature is not valid at the load time, so it cannot be
    /// trusted now.
    #[error("the anchor {key_id} whose key verifies the CRL is valid {not_before}..{not_after}, not at {at}")]
    SignerNotValid {
        /// The anchor's key identifier, hex.
        key_id: String,
        /// The anchor's notBefore.
        not_before: UnixTime,
        /// The anchor's notAfter.
        not_after: UnixTime,
        /// The load time.
        at: UnixTime,
    },
    /// The list says it was issued (thisUpdate) outside the validity of the anchor whose key
    /// verifies it: before the anchor existed or after it expired (RFC 5280 6.3.3).
    #[error("CRL thisUpdate {this_update} is outside the validity {not_before}..{not_after} of its signer {key_id}")]
    SignedOutsideSignerValidity {
        /// The anchor's key identifier, hex.
        key_id: String,
        /// The anchor's notBefore.
        not_before: UnixTime,
        /// The anchor's notAfter.
        not_after: UnixTime,
        /// The list's thisUpdate.
        this_update: UnixTime,
    },
    /// The list is past its nextUpdate (plus grace) at load time.
    #[error("CRL expired: nextUpdate {next_update} is before {at}")]
    Expired {
        /// The list's nextUpdate.
        next_update: UnixTime,
        /// The load time.
        at: UnixTime,
    },
    /// thisUpdate is after nextUpdate.
    #[error("thisUpdate {this_update} is after nextUpdate {next_update}")]
    InvertedDates {
        /// thisUpdate.
        this_update: UnixTime,
        /// nextUpdate.
        next_update: UnixTime,
    },
    /// A critical CRL extension this store does not process.
    #[error("unknown critical CRL extension {oid}")]
    UnknownCriticalExtension {
        /// Dotted OID.
        oid: String,
    },
    /// A critical entry extension this store does not process (e.g. certificateIssuer).
    #[error("unknown critical extension {oid} on the entry for serial {serial}")]
    UnknownCriticalEntryExtension {
        /// Dotted OID.
        oid: String,
        /// Entry serial, hex.
        serial: String,
    },
    /// The same CRL extension appears twice.
    #[error("CRL extension {oid} appears twice")]
    DuplicateExtension {
        /// Dotted OID.
        oid: String,
    },
    /// The list has no cRLNumber, so replays and rollbacks could not be detected.
    #[error("CRL has no cRLNumber")]
    MissingCrlNumber,
    /// A scope this store does not support (onlySomeReasons, indirectCRL, attribute certificates,
    /// non-DirName or relative distribution point names).
    #[error("unsupported CRL scope: {what}")]
    UnsupportedScope {
        /// What was found.
        what: &'static str,
    },
    /// The list's cRLNumber is not above the one already loaded for the same issuer key and
    /// scope: a replay or a rollback.
    #[error("CRL number {offered} is not newer than the loaded {loaded} for issuer key {issuer_key_id}")]
    NotNewer {
        /// Issuer key identifier, hex.
        issuer_key_id: String,
        /// cRLNumber already loaded, decimal.
        loaded: String,
        /// cRLNumber offered, decimal.
        offered: String,
    },
    /// A delta CRL whose base is not loaded (no complete list for its issuer key and scope, or
    /// the loaded complete list is older than the delta's BaseCRLNumber).
    #[error("delta CRL needs a base list numbered at least {base}, loaded: {loaded:?}")]
    DeltaWithoutBase {
        /// The delta's BaseCRLNumber, decimal.
        base: String,
        /// The loaded complete list's number, decimal, if any.
        loaded: Option<String>,
    },
    /// A complete (non-delta) list has an entry with reason removeFromCRL, which RFC 5280 allows
    /// only in delta CRLs; read literally it would revoke the certificate it means to release.
    #[error("entry for serial {serial} has reason removeFromCRL in a complete list (allowed in delta CRLs only)")]
    RemoveFromCrlInCompleteList {
        /// The first such entry's serial, hex.
        serial: String,
    },
    /// More entries than the compact index can address.
    #[error("CRL has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
}
