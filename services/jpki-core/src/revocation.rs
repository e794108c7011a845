//! The revocation interface. A source answers good, revoked or unknown, always with where the
//! answer came from. Unknown never passes: the verifier turns it into INDETERMINATE/TRY_LATER.
//!
//! The answer types live in [`crate::revocation_status`] and the identity in [`crate::cert_id`];
//! both are re-exported here, so `jpki_core::revocation::RevocationStatus` and the like keep working.

use crate::anchor::TrustAnchor;
use crate::time::UnixTime;

pub use crate::cert_id::CertId;
pub use crate::revocation_status::{
    ListIdentity, Provenance, RevocationAnswer, RevocationReason, RevocationStatus, UnknownStatusCause,
};

/// What a source is asked.
#[derive(Clone, Copy, Debug)]
pub struct RevocationQuery<'a> {
    /// The certificate's identity.
    pub certificate: &'a CertId,
    /// The certificate's serial, big-endian without leading zero bytes.
    pub serial: &'a [u8],
    /// The anchor that issued it.
    pub issuer: &'a TrustAnchor,
    /// The certificate's cRLDistributionPoints DirNames, raw DER.
    pub distribution_points: &'a [Vec<u8>],
    /// The validation time.
    pub at: UnixTime,
}

/// Anything that can answer revocation queries. Implementations must not block for long:
/// the verifier calls them on every verification, even when the chain is cached.
pub trait RevocationSource: Send + Sync {
    /// The status of one certificate at `query.at`.
    fn status(&self, query: &RevocationQuery<'_>) -> RevocationAnswer;
}

/// A source that knows nothing: every answer is unknown (fail closed).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRevocationSource;

impl RevocationSource for NoRevocationSource {
    fn status(&self, _query: &RevocationQuery<'_>) -> RevocationAnswer {
        RevocationAnswer::unknown(UnknownStatusCause::NoSource)
    }
}
