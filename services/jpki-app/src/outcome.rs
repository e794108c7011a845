//! The typed outcome of each use case. The gRPC handlers, the CLI and the stored records all
//! render these; none of them decides anything the outcome does not already say.

use jpki_applicant::Verdict;
use jpki_core::four_fields::{DateOfBirthField, SexField, TextField};
use jpki_core::report::CertificateFacts;
use jpki_core::{CertKind, RevocationAnswer, UnixTime, ValidationReport};
use jpki_store::{LinkRecord, StoreError, VerificationKind};

/// Why a use case could not run to an outcome. A verification that fails is an outcome, not one
/// of these.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The tenant store failed; nothing was acknowledged.
    #[error("storage: {0}")]
    Storage(#[from] StoreError),
    /// The operating system gave no random bytes for an id or a challenge.
    #[error("no randomness available")]
    NoRandomness,
    /// An audit event could not be encoded, or the audit tree failed; nothing was acknowledged.
    #[error("audit log: {0}")]
    Audit(jpki_audit::AuditError),
    /// The audit log's long-term archive failed; nothing it was asked was done.
    #[error("audit archive: {0}")]
    Archive(jpki_archive::ArchiveError),
}

/// The data an applicant typed (本人確認), compared with the certificate's four fields. Empty
/// strings are "not typed".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applicant {
    /// 氏名 as typed.
    pub name: String,
    /// 生年月日 as typed (e.g. `1980-12-31`, `S55.12.31`).
    pub date_of_birth: String,
    /// 住所 as typed.
    pub address: String,
    /// 性別 as typed (`1`, `男`, `male`, ...).
    pub sex: String,
}

/// One of the four fields as disclosed to a tenant, with the verdict on the applicant's typed
/// value when one was typed and the certificate has the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disclosed<F> {
    /// The field as the certificate holds it.
    pub field: F,
    /// How the typed value compares, when there was one to compare.
    pub verdict: Option<Verdict>,
}

/// The four fields a tenant may receive. A field it may not receive is `None` and was never
/// compared (a verdict would leak it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisclosedFields {
    /// 氏名.
    pub name: Option<Disclosed<TextField>>,
    /// 生年月日.
    pub date_of_birth: Option<Disclosed<DateOfBirthField>>,
    /// 住所.
    pub address: Option<Disclosed<TextField>>,
    /// 性別.
    pub sex: Option<Disclosed<SexField>>,
}

impl DisclosedFields {
    /// The names of the fields disclosed (never their values), in the API's order.
    pub fn names(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("date_of_birth", self.date_of_birth.is_some()),
            ("address", self.address.is_some()),
            ("sex", self.sex.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, disclosed)| disclosed.then_some(name))
        .collect()
    }
}

/// A certificate the core identified as of a kind the tenant's policy does not permit
/// (`tenants.certificate_kinds`): a result, not an error, since the kind is known only once the
/// certificate is parsed and its anchor found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindNotPermitted {
    /// The kind the core identified.
    pub found: CertKind,
    /// The kinds the tenant may verify.
    pub permitted: Vec<CertKind>,
    /// The certificate's facts (from the bytes the tenant sent; nothing from the lists).
    pub certificate: CertificateFacts,
    /// The validation time.
    pub validation_time: UnixTime,
}

impl KindNotPermitted {
    /// The reason code of the result (docs/api.md).
    pub const CODE: &'static str = "CERTIFICATE_KIND_NOT_PERMITTED";

    /// The reason's details: `found` and `permitted`, written as the core writes
    /// CERTIFICATE_KIND_NOT_ACCEPTED's `found` and `accepted`.
    pub fn details(&self) -> Vec<(&'static str, String)> {
        let permitted: Vec<String> = self.permitted.iter().map(|kind| format!("\"{}\"", kind.as_str())).collect();
        vec![("found", self.found.as_str().to_owned()), ("permitted", format!("[{}]", permitted.join(",")))]
    }
}

/// What a verification concluded, as the tenant is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerificationVerdict {
    /// A proof refused for its challenge, before any cryptography (TOTAL_FAILED,
    /// SIG_CONSTRAINTS_FAILURE). Never for a signature.
    Refused(ChallengeRefusal),
    /// A certificate of a kind the tenant may not verify (TOTAL_FAILED, SIG_CONSTRAINTS_FAILURE,
    /// CERTIFICATE_KIND_NOT_PERMITTED): the core's other findings (revocation, four fields) are
    /// not the tenant's to see.
    NotPermitted(Box<KindNotPermitted>),
    /// Verified by the core, with its report.
    Verified(Box<ValidationReport>),
}

impl VerificationVerdict {
    /// The core's report, when the tenant is told it.
    pub fn report(&self) -> Option<&ValidationReport> {
        match self {
            VerificationVerdict::Verified(report) => Some(report),
            VerificationVerdict::Refused(_) | VerificationVerdict::NotPermitted(_) => None,
        }
    }

    /// Whether it passed (TOTAL_PASSED).
    pub fn passed(&self) -> bool {
        self.report().is_some_and(ValidationReport::passed)
    }
}

/// A verification: its id (kept in the tenant's records), its time and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The verification id (32 hex digits), which Link cites.
    pub id: String,
    /// The time of the verification.
    pub at: UnixTime,
    /// What it concluded.
    pub verdict: VerificationVerdict,
}

impl Verification {
    /// Whether it passed (TOTAL_PASSED).
    pub fn passed(&self) -> bool {
        self.verdict.passed()
    }
}

/// The outcome of VerifySignature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureOutcome {
    /// The verification.
    pub verification: Verification,
    /// The four fields, only when the signature passed: a revoked certificate (the holder moved,
    /// died), a bad signature or a certificate kind the tenant may not verify discloses nothing.
    pub four_fields: Option<DisclosedFields>,
}

/// A challenge issued for a login proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedChallenge {
    /// Its id (32 hex digits), which VerifyAuthProof cites.
    pub id: String,
    /// The bytes the card signs.
    pub challenge: Vec<u8>,
    /// When it was issued.
    pub issued_at: UnixTime,
    /// The first second at which it is no longer accepted.
    pub expires_at: UnixTime,
}

/// Why a proof was refused on account of its challenge, before any cryptography.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeRefusal {
    /// This tenant never issued it (or it was purged).
    Unknown,
    /// It answered an earlier attempt, at `used_at`.
    AlreadyUsed {
        /// When it was used.
        used_at: UnixTime,
    },
    /// It expired at `expires_at` (it is now used up as well).
    Expired {
        /// When it expired.
        expires_at: UnixTime,
    },
}

impl ChallengeRefusal {
    /// The reason code of the result (docs/results.md).
    pub fn code(&self) -> &'static str {
        match self {
            ChallengeRefusal::Unknown => "CHALLENGE_UNKNOWN",
            ChallengeRefusal::AlreadyUsed { .. } => "CHALLENGE_ALREADY_USED",
            ChallengeRefusal::Expired { .. } => "CHALLENGE_EXPIRED",
        }
    }

    /// The reason's details, times in RFC 3339.
    pub fn details(&self) -> Vec<(&'static str, String)> {
        match self {
            ChallengeRefusal::Unknown => Vec::new(),
            ChallengeRefusal::AlreadyUsed { used_at } => vec![("used_at", used_at.to_rfc3339())],
            ChallengeRefusal::Expired { expires_at } => vec![("expires_at", expires_at.to_rfc3339())],
        }
    }
}

/// The outcome of VerifyAuthProof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofOutcome {
    /// The verification.
    pub verification: Verification,
    /// The tenant's customer linked to the certificate, for a passed proof.
    pub customer_id: Option<String>,
    /// The transaction reference given with the challenge (empty for an unknown challenge).
    pub transaction_reference: String,
}

impl ProofOutcome {
    /// Whether the proof passed.
    pub fn passed(&self) -> bool {
        self.verification.passed()
    }
}

/// Which verification a Link request cited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cited {
    /// The authentication verification (required).
    Authentication,
    /// The signature verification (optional).
    Signature,
}

/// Why a link was not made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkRefusal {
    /// No verification with the cited id for this tenant.
    VerificationUnknown(Cited),
    /// The cited verification is of the other kind.
    WrongKind(Cited),
    /// The cited verification did not pass.
    NotPassed(Cited),
    /// The cited verification is older than the configured maximum age.
    TooOld {
        /// Which one.
        cited: Cited,
        /// Its age, in seconds.
        age_seconds: i64,
        /// The configured maximum, in seconds.
        max_age_seconds: u64,
    },
    /// The certificate is linked to another customer of this tenant.
    LinkedToOther,
}

impl LinkRefusal {
    /// The verification a refusal is about, if any.
    pub fn cited(&self) -> Option<Cited> {
        match self {
            LinkRefusal::VerificationUnknown(cited)
            | LinkRefusal::WrongKind(cited)
            | LinkRefusal::NotPassed(cited)
            | LinkRefusal::TooOld { cited, .. } => Some(*cited),
            LinkRefusal::LinkedToOther => None,
        }
    }

    /// The documented violation type (docs/api.md).
    pub fn code(&self) -> &'static str {
        match self {
            LinkRefusal::VerificationUnknown(_) => "VERIFICATION_UNKNOWN",
            LinkRefusal::WrongKind(_) => "VERIFICATION_WRONG_KIND",
            LinkRefusal::NotPassed(_) => "VERIFICATION_NOT_PASSED",
            LinkRefusal::TooOld { .. } => "VERIFICATION_TOO_OLD",
            LinkRefusal::LinkedToOther => "LINKED_TO_OTHER_CUSTOMER",
        }
    }

    /// A sentence for people.
    pub fn description(&self) -> String {
        match self {
            LinkRefusal::VerificationUnknown(_) => "no verification with this id for this tenant".to_owned(),
            LinkRefusal::WrongKind(Cited::Authentication) => {
                "not an authentication (VerifyAuthProof) verification".to_owned()
            }
            LinkRefusal::WrongKind(Cited::Signature) => "not a signature (VerifySignature) verification".to_owned(),
            LinkRefusal::NotPassed(_) => "the verification did not pass".to_owned(),
            LinkRefusal::TooOld { age_seconds, max_age_seconds, .. } => {
                format!("verified {age_seconds} s ago, at most {max_age_seconds} s accepted")
            }
            LinkRefusal::LinkedToOther => {
                "this certificate is linked to another customer of this tenant; unlink it first".to_owned()
            }
        }
    }
}

impl Cited {
    /// The kind of verification it must be.
    pub fn expected_kind(self) -> VerificationKind {
        match self {
            Cited::Authentication => VerificationKind::Authentication,
            Cited::Signature => VerificationKind::Signature,
        }
    }
}

/// The outcome of Link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkDecision {
    /// A new link.
    Created(LinkRecord),
    /// The same link existed (Link is idempotent).
    AlreadyLinked(LinkRecord),
    /// Not linked, and why.
    Refused(LinkRefusal),
}

/// The status of one certificate asked about in CheckStatus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateStatus {
    /// Outside the tenant's set (not verified with a pass within the retention, not linked): no
    /// other fact, the same whether the certificate exists or not.
    NotEntitled,
    /// The lists' answer.
    Known(RevocationAnswer),
}
