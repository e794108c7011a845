//! Choosing the anchor whose key signed a CRL.
//!
//! Every generation of a JPKI root has the same DN, so the issuer is selected by key: when the
//! CRL has an authorityKeyIdentifier, only the anchors with that key identifier (and the issuer
//! DN) are candidates; without one, every anchor with the issuer DN is tried. The signature is
//! checked over the digest [`parse_crl`](crate::parse::parse_crl) computed while walking the TBS.

use jpki_core::anchor::TrustAnchor;

use crate::error::LoadError;
use crate::parse::ParsedCrl;

/// The anchor whose key verifies the CRL's signature.
pub fn select_signer<'a>(crl: &ParsedCrl<'_>, anchors: &'a [TrustAnchor]) -> Result<&'a TrustAnchor, LoadError> {
    let candidates: Vec<&TrustAnchor> = anchors
        .iter()
        .filter(|anchor| anchor.subject_raw() == crl.issuer_raw)
        .filter(|anchor| crl.authority_key_id.is_none_or(|key_id| key_id == anchor.key_id()))
        .collect();
    if candidates.is_empty() {
        return Err(LoadError::WrongIssuer { authority_key_id: crl.authority_key_id.map(hex::encode) });
    }
    let count = candidates.len();
    candidates
        .into_iter()
        .find(|anchor| anchor.key().verify_digest(crl.hash, &crl.tbs_digest, crl.signature))
        .ok_or(LoadError::SignatureInvalid { candidates: count })
}
