//! JPKI verification core.
//!
//! Bytes in, typed reports out: certificate chains to the JPKI roots, the four fields, raw and
//! CMS signatures, authentication proofs and revocation, reported in ETSI EN 319 102-1 terms.
//! No I/O, no async, no clock: the caller passes the validation time and the revocation source.
//! No input, however malformed, panics; every rejection has a specific [`FailureReason`].

pub mod algorithm;
pub mod anchor;
pub mod cert;
pub mod cert_id;
pub mod cms;
pub mod der;
pub mod four_fields;
pub mod kind;
pub mod oid;
pub mod report;
pub mod revocation;
pub mod revocation_status;
pub mod signed_data;
pub mod time;
pub mod verifier;

pub use algorithm::{AlgorithmPolicy, HashAlgorithm};
pub use anchor::{AnchorError, TrustAnchor};
pub use cert_id::{CertId, CertIdError, CertIdPart};
pub use four_fields::FourFields;
pub use kind::{CertKind, Purpose};
pub use report::{FailureReason, Indication, SubIndication, ValidationReport};
pub use revocation::{NoRevocationSource, RevocationAnswer, RevocationSource, RevocationStatus};
pub use time::UnixTime;
pub use verifier::{AuthProofInput, ConfigError, KindConfig, SignatureInput, SignedContent, Verifier, VerifierConfig};
