//! What a new list changes: the certificates it newly revokes, for continuous revocation
//! monitoring (継続的な失効確認) and the tenant-facing watch API.

use jpki_core::UnixTime;
use jpki_core::revocation::RevocationReason;

use crate::store::CompactList;

/// One certificate that the new list revokes and the previous one did not.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NewlyRevoked {
    /// Serial, lowercase hex without leading zero bytes.
    pub serial: String,
    /// revocationDate.
    pub revoked_at: UnixTime,
    /// reasonCode.
    pub reason: Option<RevocationReason>,
}

/// The difference between two consecutive complete lists of one issuer key and scope.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChangeSet {
    /// Issuing CA key identifier, hex: with a serial, the certificate's identity.
    pub issuer_key_id: String,
    /// Label of the new list.
    pub list: String,
    /// cRLNumber of the previous list.
    pub from_number: String,
    /// cRLNumber of the new list.
    pub to_number: String,
    /// Entries in the new list that the previous one did not have.
    pub newly_revoked: Vec<NewlyRevoked>,
    /// Entries of the previous list that the new one dropped (expired certificates, released holds).
    pub dropped: u64,
}

/// Compares consecutive lists. Each entry of one list is looked up in the other, so no extra
/// index is built even for tens of millions of entries.
pub fn change_set(previous: &CompactList, next: &CompactList) -> ChangeSet {
    let newly_revoked = next
        .entries()
        .filter(|(serial, _)| previous.lookup(serial).is_none())
        .map(|(serial, entry)| NewlyRevoked {
            serial: hex::encode(serial),
            revoked_at: entry.revoked_at,
            reason: entry.reason,
        })
        .collect();
    let dropped = previous.entries().filter(|(serial, _)| next.lookup(serial).is_none()).count() as u64;
    ChangeSet {
        issuer_key_id: hex::encode(&next.meta().issuer_key_id),
        list: next.meta().label.clone(),
        from_number: previous.meta().crl_number.to_string(),
        to_number: next.meta().crl_number.to_string(),
        newly_revoked,
        dropped,
    }
}
