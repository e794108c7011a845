//! The validation report: ETSI EN 319 102-1 indications, exact reasons and the facts checked.
//!
//! The API, the CLI and audit records are all views of [`ValidationReport`]. The mapping from a
//! [`FailureReason`] to its indication, sub-indication and retry advice lives in one place
//! ([`FailureReason::sub_indication`], [`FailureReason::retry_may_help`]) and is tabulated in
//! `docs/results.md`.

use serde::Serialize;

use crate::cert_id::CertId;
use crate::four_fields::FourFields;
use crate::kind::CertKind;
use crate::revocation_status::{RevocationAnswer, RevocationReason, UnknownStatusCause};
use crate::time::UnixTime;

/// Main status indication (ETSI EN 319 102-1, 5.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Indication {
    /// Every check passed.
    TotalPassed,
    /// A check failed in a way more information cannot change.
    TotalFailed,
    /// The result could not be established with the information available.
    Indeterminate,
}

/// Sub-indication (ETSI EN 319 102-1, table 5), only those the core can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubIndication {
    /// TOTAL_FAILED: the input is not a well-formed signature, certificate or proof.
    FormatFailure,
    /// TOTAL_FAILED: the signed data's digest does not match the signed messageDigest.
    HashFailure,
    /// TOTAL_FAILED: the signature value does not verify with the signer's key.
    SigCryptoFailure,
    /// TOTAL_FAILED: revoked, and the proof was demonstrably made after the revocation.
    Revoked,
    /// TOTAL_FAILED: the certificate is not valid yet, so the signature predates it.
    NotYetValid,
    /// INDETERMINATE: revoked, no proof of existence before the revocation.
    RevokedNoPoe,
    /// INDETERMINATE: outside its validity period at the validation time.
    OutOfBoundsNoPoe,
    /// INDETERMINATE: no trust anchor verifies the certificate.
    NoCertificateChainFound,
    /// INDETERMINATE: the signer's certificate is neither embedded nor supplied, or does not match.
    NoSigningCertificateFound,
    /// INDETERMINATE: the certificate violates the profile's constraints.
    ChainConstraintsFailure,
    /// INDETERMINATE: an algorithm or key size is not accepted by the policy.
    CryptoConstraintsFailure,
    /// INDETERMINATE: the signed data needed for a detached signature was not supplied.
    SignedDataNotFound,
    /// INDETERMINATE: revocation status cannot be established now; retry later.
    TryLater,
}

impl SubIndication {
    /// The main indication this sub-indication belongs to.
    pub fn indication(self) -> Indication {
        match self {
            SubIndication::FormatFailure
            | SubIndication::HashFailure
            | SubIndication::SigCryptoFailure
            | SubIndication::Revoked
            | SubIndication::NotYetValid => Indication::TotalFailed,
            SubIndication::RevokedNoPoe
            | SubIndication::OutOfBoundsNoPoe
            | SubIndication::NoCertificateChainFound
            | SubIndication::NoSigningCertificateFound
            | SubIndication::ChainConstraintsFailure
            | SubIndication::CryptoConstraintsFailure
            | SubIndication::SignedDataNotFound
            | SubIndication::TryLater => Indication::Indeterminate,
        }
    }
}

/// Which part of the input a format failure is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputPart {
    /// The signer's or prover's certificate.
    Certificate,
    /// The CMS SignedData structure.
    Cms,
    /// The CMS signed attributes.
    SignedAttributes,
    /// The signature value.
    SignatureValue,
    /// A supplied digest.
    Digest,
}

/// Where an algorithm is used, for crypto-constraint failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlgorithmUse {
    /// The CA's signature on the certificate.
    CertificateSignature,
    /// The signature on the document, challenge or signed attributes.
    DataSignature,
    /// The certificate's public key.
    PublicKey,
}

/// Why a verification did not pass. Every variant maps to exactly one sub-indication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum FailureReason {
    /// An input is not valid DER/BER or not the structure expected.
    Malformed {
        /// Which input.
        input: InputPart,
        /// Byte offset of the problem, where known.
        at_byte: Option<usize>,
    },
    /// The certificate is not X.509 v3.
    UnsupportedCertificateVersion {
        /// The version number found (0 = v1).
        version: u32,
    },
    /// The certificate's outer signatureAlgorithm differs from the one inside tbsCertificate.
    SignatureAlgorithmMismatch,
    /// The CMS object is not SignedData over id-data.
    UnsupportedCmsContent {
        /// The content type found, dotted.
        content_type: String,
    },
    /// The CMS object does not have exactly one signer.
    UnsupportedSignerCount {
        /// Number of SignerInfos found.
        count: usize,
    },
    /// A required CMS signed attribute is missing or appears more than once.
    SignedAttributeInvalid {
        /// The attribute's OID, dotted.
        attribute: String,
    },
    /// The contentType signed attribute does not match eContentType.
    ContentTypeMismatch,
    /// Detached content was given that differs from the content inside the CMS.
    ContentSuppliedTwice,
    /// A supplied digest's length does not fit its hash algorithm.
    DigestLengthMismatch {
        /// Expected length in bytes.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// The content's digest differs from the signed messageDigest attribute.
    MessageDigestMismatch,
    /// The signature value does not verify with the certificate's key.
    SignatureInvalid,
    /// The certificate is revoked; no proof the signature existed before.
    Revoked {
        /// Revocation date from the list.
        revoked_at: UnixTime,
        /// Reason code from the list, if any.
        reason: Option<RevocationReason>,
    },
    /// The certificate was revoked before the challenge of this proof was issued.
    RevokedBeforeProof {
        /// Revocation date from the list.
        revoked_at: UnixTime,
        /// Reason code from the list, if any.
        reason: Option<RevocationReason>,
        /// When the challenge was issued; the proof cannot be older.
        challenge_issued_at: UnixTime,
    },
    /// The certificate is listed with certificateHold: suspended, and the suspension can be lifted,
    /// so (as EN 319 102-1 in EU DSS) the answer may change later. The list that says so is the
    /// report's `revocation` provenance.
    CertificateOnHold {
        /// revocationDate of the hold entry: since when the certificate is suspended.
        held_since: UnixTime,
    },
    /// The certificate's notBefore is after the validation time.
    CertificateNotYetValid {
        /// The certificate's notBefore.
        not_before: UnixTime,
    },
    /// The certificate's notAfter is before the validation time.
    CertificateExpired {
        /// The certificate's notAfter.
        not_after: UnixTime,
    },
    /// The trust anchor that issued the certificate is outside its own validity.
    AnchorOutsideValidity {
        /// The anchor's notBefore.
        not_before: UnixTime,
        /// The anchor's notAfter.
        not_after: UnixTime,
    },
    /// No configured trust anchor's key verifies the certificate's signature.
    NoAnchorVerifiesCertificate {
        /// The certificate's issuer DN.
        issuer: String,
        /// How many anchors were tried.
        anchors_tried: usize,
    },
    /// Neither the CMS nor the request carries the signer's certificate.
    SigningCertificateNotFound,
    /// The supplied certificate is not the one the CMS SignerIdentifier names.
    SignerIdentifierMismatch,
    /// A detached CMS signature arrived without its content.
    DetachedContentMissing,
    /// The certificate chains to an anchor of a kind this operation does not accept.
    CertificateKindNotAccepted {
        /// Kind of the anchor found.
        found: CertKind,
        /// Kinds the operation accepts.
        accepted: Vec<CertKind>,
    },
    /// None of the certificate's policies is configured for its kind.
    PolicyNotAccepted {
        /// Policy OIDs in the certificate.
        found: Vec<String>,
        /// Policy OIDs accepted for the kind.
        accepted: Vec<String>,
    },
    /// keyUsage is missing or lacks a bit the kind requires.
    KeyUsageNotPermitted {
        /// Bits the kind requires.
        required: Vec<&'static str>,
        /// Bits present (empty when the extension is missing).
        present: Vec<&'static str>,
    },
    /// An end-entity certificate claims to be a CA.
    EndEntityIsCa,
    /// A critical extension the core does not process.
    UnknownCriticalExtension {
        /// The extension's OID, dotted.
        oid: String,
    },
    /// A critical extendedKeyUsage: it restricts the key to its purposes (RFC 5280 4.2.1.12),
    /// JPKI's profile has none, and no listed purpose can be checked against it.
    CriticalExtendedKeyUsage {
        /// The KeyPurposeIds listed, dotted.
        purposes: Vec<String>,
    },
    /// A hash algorithm below the policy (SHA-1).
    HashAlgorithmRejected {
        /// Algorithm name or OID.
        algorithm: String,
        /// Where it is used.
        usage: AlgorithmUse,
    },
    /// An algorithm the core does not implement (fail closed).
    UnsupportedAlgorithm {
        /// The algorithm OID, dotted.
        oid: String,
        /// Where it is used.
        usage: AlgorithmUse,
    },
    /// An RSA key shorter than the policy's minimum.
    KeyTooSmall {
        /// Modulus length in bits.
        bits: usize,
        /// Minimum accepted.
        minimum: usize,
    },
    /// Revocation status could not be established (no source, stale list, no list for the scope).
    RevocationStatusUnknown {
        /// Why the status is unknown.
        cause: UnknownStatusCause,
    },
}

impl FailureReason {
    /// The sub-indication this reason is reported under.
    pub fn sub_indication(&self) -> SubIndication {
        use FailureReason as R;
        match self {
            R::Malformed { .. }
            | R::UnsupportedCertificateVersion { .. }
            | R::SignatureAlgorithmMismatch
            | R::UnsupportedCmsContent { .. }
            | R::UnsupportedSignerCount { .. }
            | R::SignedAttributeInvalid { .. }
            | R::ContentTypeMismatch
            | R::ContentSuppliedTwice
            | R::DigestLengthMismatch { .. } => SubIndication::FormatFailure,
            R::MessageDigestMismatch => SubIndication::HashFailure,
            R::SignatureInvalid => SubIndication::SigCryptoFailure,
            R::Revoked { .. } => SubIndication::RevokedNoPoe,
            R::RevokedBeforeProof { .. } => SubIndication::Revoked,
            R::CertificateOnHold { .. } => SubIndication::TryLater,
            R::CertificateNotYetValid { .. } => SubIndication::NotYetValid,
            R::CertificateExpired { .. } | R::AnchorOutsideValidity { .. } => SubIndication::OutOfBoundsNoPoe,
            R::NoAnchorVerifiesCertificate { .. } => SubIndication::NoCertificateChainFound,
            R::SigningCertificateNotFound | R::SignerIdentifierMismatch => SubIndication::NoSigningCertificateFound,
            R::DetachedContentMissing => SubIndication::SignedDataNotFound,
            R::CertificateKindNotAccepted { .. }
            | R::PolicyNotAccepted { .. }
            | R::KeyUsageNotPermitted { .. }
            | R::EndEntityIsCa
            | R::UnknownCriticalExtension { .. }
            | R::CriticalExtendedKeyUsage { .. } => SubIndication::ChainConstraintsFailure,
            R::HashAlgorithmRejected { .. } | R::UnsupportedAlgorithm { .. } | R::KeyTooSmall { .. } => {
                SubIndication::CryptoConstraintsFailure
            }
            R::RevocationStatusUnknown { .. } => SubIndication::TryLater,
        }
    }

    /// The main indication.
    pub fn indication(&self) -> Indication {
        self.sub_indication().indication()
    }

    /// Whether the same request may pass if retried later without changes: true when revocation
    /// data is missing or stale, or the certificate is only on hold.
    pub fn retry_may_help(&self) -> bool {
        matches!(self, FailureReason::RevocationStatusUnknown { .. } | FailureReason::CertificateOnHold { .. })
    }

    /// The machine-readable code, as serialised in the `code` field.
    pub fn code(&self) -> &'static str {
        use FailureReason as R;
        match self {
            R::Malformed { .. } => "MALFORMED",
            R::UnsupportedCertificateVersion { .. } => "UNSUPPORTED_CERTIFICATE_VERSION",
            R::SignatureAlgorithmMismatch => "SIGNATURE_ALGORITHM_MISMATCH",
            R::UnsupportedCmsContent { .. } => "UNSUPPORTED_CMS_CONTENT",
            R::UnsupportedSignerCount { .. } => "UNSUPPORTED_SIGNER_COUNT",
            R::SignedAttributeInvalid { .. } => "SIGNED_ATTRIBUTE_INVALID",
            R::ContentTypeMismatch => "CONTENT_TYPE_MISMATCH",
            R::ContentSuppliedTwice => "CONTENT_SUPPLIED_TWICE",
            R::DigestLengthMismatch { .. } => "DIGEST_LENGTH_MISMATCH",
            R::MessageDigestMismatch => "MESSAGE_DIGEST_MISMATCH",
            R::SignatureInvalid => "SIGNATURE_INVALID",
            R::Revoked { .. } => "REVOKED",
            R::RevokedBeforeProof { .. } => "REVOKED_BEFORE_PROOF",
            R::CertificateOnHold { .. } => "CERTIFICATE_ON_HOLD",
            R::CertificateNotYetValid { .. } => "CERTIFICATE_NOT_YET_VALID",
            R::CertificateExpired { .. } => "CERTIFICATE_EXPIRED",
            R::AnchorOutsideValidity { .. } => "ANCHOR_OUTSIDE_VALIDITY",
            R::NoAnchorVerifiesCertificate { .. } => "NO_ANCHOR_VERIFIES_CERTIFICATE",
            R::SigningCertificateNotFound => "SIGNING_CERTIFICATE_NOT_FOUND",
            R::SignerIdentifierMismatch => "SIGNER_IDENTIFIER_MISMATCH",
            R::DetachedContentMissing => "DETACHED_CONTENT_MISSING",
            R::CertificateKindNotAccepted { .. } => "CERTIFICATE_KIND_NOT_ACCEPTED",
            R::PolicyNotAccepted { .. } => "POLICY_NOT_ACCEPTED",
            R::KeyUsageNotPermitted { .. } => "KEY_USAGE_NOT_PERMITTED",
            R::EndEntityIsCa => "END_ENTITY_IS_CA",
            R::UnknownCriticalExtension { .. } => "UNKNOWN_CRITICAL_EXTENSION",
            R::CriticalExtendedKeyUsage { .. } => "CRITICAL_EXTENDED_KEY_USAGE",
            R::HashAlgorithmRejected { .. } => "HASH_ALGORITHM_REJECTED",
            R::UnsupportedAlgorithm { .. } => "UNSUPPORTED_ALGORITHM",
            R::KeyTooSmall { .. } => "KEY_TOO_SMALL",
            R::RevocationStatusUnknown { .. } => "REVOCATION_STATUS_UNKNOWN",
        }
    }
}

/// What was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// A document signature (電子署名), raw or CMS.
    Signature,
    /// A user-authentication proof over a challenge (電子利用者証明).
    AuthenticationProof,
    /// An end-entity certificate alone, for a purpose (`Verifier::validate_certificate`): every
    /// check but the signature's, e.g. to re-prove an audited answer from its evidence.
    Certificate,
}

/// One step of the validation, in the order performed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The input structures parse.
    Format,
    /// The signer's certificate was found and matches the signer identifier.
    SignerIdentified,
    /// Algorithms and key sizes satisfy the policy.
    CryptoConstraints,
    /// A trust anchor's key verifies the certificate.
    ChainBuilt,
    /// Kind, policy, keyUsage, basicConstraints and critical extensions fit the profile.
    ChainConstraints,
    /// The certificate and its anchor are valid at the validation time.
    ValidityPeriod,
    /// The certificate is not revoked according to a fresh list.
    Revocation,
    /// The content digest matches the signed messageDigest.
    MessageDigest,
    /// The signature value verifies.
    SignatureValue,
}

/// Outcome of one [`Check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CheckOutcome {
    /// The check.
    pub check: Check,
    /// Whether it passed.
    pub passed: bool,
}

/// Facts about the end-entity certificate, reported once it is parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateFacts {
    /// Kind, once the issuing anchor is known.
    pub kind: Option<CertKind>,
    /// Issuing CA key identifier (the anchor's subjectKeyIdentifier), hex; with `serial`, the
    /// certificate's identity. Absent until an anchor is found.
    pub ca_key_id: Option<String>,
    /// Serial number, lowercase hex without leading zero bytes.
    pub serial: String,
    /// Issuer DN (RFC 4514).
    pub issuer: String,
    /// Subject DN (RFC 4514).
    pub subject: String,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// certificatePolicies OIDs.
    pub policies: Vec<String>,
    /// SHA-256 of the certificate DER, hex.
    pub sha256: String,
    /// SHA-256 of the anchor's DER, hex, once found.
    pub anchor_sha256: Option<String>,
}

impl CertificateFacts {
    /// The certificate's identity, once its anchor is found.
    pub fn id(&self) -> Option<CertId> {
        Some(CertId { ca_key_id: self.ca_key_id.clone()?, serial: self.serial.clone() })
    }
}

/// Facts about the signature itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureFacts {
    /// Input format.
    pub format: SignatureFormat,
    /// Hash algorithm name (e.g. `sha256`).
    pub hash: &'static str,
    /// The CMS signingTime attribute, as claimed by the signer (not proof of time).
    pub claimed_signing_time: Option<UnixTime>,
    /// Whether the CMS carried its content.
    pub attached: Option<bool>,
}

/// How the signature arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureFormat {
    /// Raw PKCS#1 v1.5 over the message.
    RawMessage,
    /// Raw PKCS#1 v1.5 over a supplied digest.
    RawDigest,
    /// CMS SignedData.
    Cms,
    /// Authentication proof over a challenge.
    Challenge,
}

/// The whole report of one verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValidationReport {
    /// What was verified.
    pub operation: Operation,
    /// Main indication.
    pub indication: Indication,
    /// Sub-indication, absent on TOTAL_PASSED.
    pub sub_indication: Option<SubIndication>,
    /// Exact reason, absent on TOTAL_PASSED.
    pub reason: Option<FailureReason>,
    /// Whether retrying later without changes may give another answer.
    pub retry_may_help: bool,
    /// The time the verification was made for.
    pub validation_time: UnixTime,
    /// Checks performed, in order, with their outcome.
    pub checks: Vec<CheckOutcome>,
    /// End-entity certificate facts, when it could be parsed.
    pub certificate: Option<CertificateFacts>,
    /// Revocation status used, with its provenance.
    pub revocation: Option<RevocationAnswer>,
    /// Signature facts, when the signature structure could be parsed.
    pub signature: Option<SignatureFacts>,
    /// The four fields, for signing certificates.
    pub four_fields: Option<FourFields>,
}

impl ValidationReport {
    /// An empty report for an operation, to be filled as checks run.
    pub(crate) fn new(operation: Operation, validation_time: UnixTime) -> Self {
        ValidationReport {
            operation,
            indication: Indication::Indeterminate,
            sub_indication: None,
            reason: None,
            retry_may_help: false,
            validation_time,
            checks: Vec::new(),
            certificate: None,
            revocation: None,
            signature: None,
            four_fields: None,
        }
    }

    /// Whether the verification passed.
    pub fn passed(&self) -> bool {
        self.indication == Indication::TotalPassed
    }

    pub(crate) fn record(&mut self, check: Check, passed: bool) {
        self.checks.push(CheckOutcome { check, passed });
    }

    /// Closes the report with the outcome of a verification.
    pub(crate) fn conclude(mut self, outcome: Result<(), (Check, FailureReason)>) -> Self {
        match outcome {
            Ok(()) => {
                self.indication = Indication::TotalPassed;
            }
            Err((check, reason)) => {
                self.record(check, false);
                self.indication = reason.indication();
                self.sub_indication = Some(reason.sub_indication());
                self.retry_may_help = reason.retry_may_help();
                self.reason = Some(reason);
            }
        }
        self
    }
}
