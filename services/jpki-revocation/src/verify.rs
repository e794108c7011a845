//! Choosing the anchor whose key signed a CRL.
//!
//! Every generation of a JPKI root has the same DN, so the issuer is selected by key: when the
//! CRL has an authorityKeyIdentifier, only the anchors with that key identifier (and the issuer
//! DN) are candidates; without one, every anchor with the issuer DN is tried. The signature is
//! checked over the digest [`parse_crl`](crate::parse::parse_crl) computed while walking the TBS.
//!
//! The anchor whose key verifies must also be fit to sign the list: its keyUsage, when present,
//! has cRLSign (RFC 5280 4.2.1.3); it is valid at the load time (an anchor is trusted only within
//! its validity, as the verifier requires of the certificates it issued); and the list's
//! thisUpdate is within that validity (RFC 5280 6.3.3 (f): the CRL issuer's key must have been
//! valid when it signed; a list dated outside it was signed by a key not then, or no longer,
//! vouched for).

use jpki_core::UnixTime;
use jpki_core::anchor::TrustAnchor;

use crate::error::LoadError;
use crate::parse::ParsedCrl;

/// The anchor whose key verifies the CRL's signature and that may sign it at `at` (the load
/// time). When several candidates verify, the first fit one is taken; when none is fit, the first
/// verifying candidate's refusal is returned.
pub fn select_signer<'a>(
    crl: &ParsedCrl<'_>,
    anchors: &'a [TrustAnchor],
    at: UnixTime,
) -> Result<&'a TrustAnchor, LoadError> {
    let candidates: Vec<&TrustAnchor> = anchors
        .iter()
        .filter(|anchor| anchor.subject_raw() == crl.issuer_raw)
        .filter(|anchor| crl.authority_key_id.is_none_or(|key_id| key_id == anchor.key_id()))
        .collect();
    if candidates.is_empty() {
        return Err(LoadError::WrongIssuer { authority_key_id: crl.authority_key_id.map(hex::encode) });
    }
    let count = candidates.len();
    let mut refusal = None;
    for anchor in candidates {
        if !anchor.key().verify_digest(crl.hash, &crl.tbs_digest, crl.signature) {
            continue;
        }
        match fit_to_sign(anchor, crl, at) {
            Ok(()) => return Ok(anchor),
            Err(error) => {
                refusal.get_or_insert(error);
            }
        }
    }
    Err(refusal.unwrap_or(LoadError::SignatureInvalid { candidates: count }))
}

/// cRLSign when keyUsage is present, valid at `at`, and valid at the list's thisUpdate.
fn fit_to_sign(anchor: &TrustAnchor, crl: &ParsedCrl<'_>, at: UnixTime) -> Result<(), LoadError> {
    let key_id = || hex::encode(anchor.key_id());
    if anchor.key_usage().is_some_and(|usage| !usage.crl_sign) {
        return Err(LoadError::SignerNotForCrls { key_id: key_id() });
    }
    let (not_before, not_after) = (anchor.not_before(), anchor.not_after());
    if at < not_before || at > not_after {
        return Err(LoadError::SignerNotValid { key_id: key_id(), not_before, not_after, at });
    }
    if crl.this_update < not_before || crl.this_update > not_after {
        let this_update = crl.this_update;
        return Err(LoadError::SignedOutsideSignerValidity { key_id: key_id(), not_before, not_after, this_update });
    }
    Ok(())
}
