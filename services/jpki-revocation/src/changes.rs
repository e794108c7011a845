//! What a new list changes: every certificate whose status differs between two consecutive
//! effective views of one issuer key and scope, for continuous revocation monitoring
//! (継続的な失効確認) and the tenant-facing watch API.
//!
//! A view is a complete list with, possibly, its delta applied (an entry of the delta wins;
//! removeFromCRL takes the serial off), exactly as the store answers queries. Comparing views
//! rather than raw lists is what makes deltas right: a delta's removeFromCRL for a serial that was
//! not listed changes nothing, and the complete list that later carries a delta's entries is no
//! new revocation.
//!
//! Per serial, from the view before to the view after:
//!
//! | before | after | change |
//! |---|---|---|
//! | absent | certificateHold | [`ListedChange::Held`] |
//! | absent | another reason or none | [`ListedChange::Revoked`] |
//! | certificateHold | another reason or none | [`ListedChange::Revoked`] (the hold became a revocation) |
//! | a reason | another reason (not a hold) | [`ListedChange::Revoked`] with the new reason |
//! | a reason | certificateHold | [`ListedChange::Held`] (a CA fault, reported as it is listed) |
//! | certificateHold | absent | [`ListedChange::Released`] |
//! | another reason or none | absent | counted in [`ChangeSet::dropped`] (an expired certificate left the list) |
//! | same reason | same reason | nothing (a changed revocationDate alone is no change of status) |
//!
//! Both views are walked once, side by side, in serial order: no index is built, so the cost
//! for 10M-entry lists is two sequential scans.

use std::cmp::Ordering;
use std::iter::Peekable;

use jpki_core::revocation::RevocationReason;
use jpki_core::{CertId, UnixTime};

use crate::compact::{Entry, Ordered, SerialKey};
use crate::store::ListView;

/// A certificate's status as one list (with its delta applied) shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ListedChange {
    /// Newly listed with certificateHold (suspended).
    Held {
        /// revocationDate of the hold entry: when the suspension began.
        since: UnixTime,
    },
    /// Newly listed with another reason (or none), including a hold turned into a revocation or a
    /// reason that changed.
    Revoked {
        /// revocationDate.
        revoked_at: UnixTime,
        /// reasonCode, `None` when the entry has none.
        reason: Option<RevocationReason>,
    },
    /// Held before, no longer listed (dropped, or removeFromCRL in a delta).
    Released,
}

/// One certificate whose status differs between two consecutive views.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StatusChange {
    /// Serial, lowercase hex without leading zero bytes.
    pub serial: String,
    /// What changed.
    pub change: ListedChange,
}

/// The difference between two consecutive views (complete list plus delta) of one issuer key
/// and scope.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ChangeSet {
    /// Issuing CA key identifier, hex: with a serial, the certificate's identity.
    pub issuer_key_id: String,
    /// Label of the list that made the new view (the delta's when it has one).
    pub list: String,
    /// cRLNumber of the previous view (of its delta when it had one), decimal.
    pub from_number: String,
    /// cRLNumber of the new view (of its delta when it has one), decimal.
    pub to_number: String,
    /// thisUpdate of the new view (the time of a release).
    pub this_update: UnixTime,
    /// Every change of status, ordered by serial.
    pub changes: Vec<StatusChange>,
    /// Revoked (not held) entries the new view dropped: expired certificates, no event.
    pub dropped: u64,
}

impl ChangeSet {
    /// The identity of the certificate of one of [`ChangeSet::changes`].
    pub fn certificate(&self, change: &StatusChange) -> CertId {
        CertId { ca_key_id: self.issuer_key_id.clone(), serial: change.serial.clone() }
    }
}

/// Compares two consecutive views of one issuer key and scope (see the module documentation for
/// the rules).
pub fn change_set(previous: &ListView, next: &ListView) -> ChangeSet {
    let newest = next.newest();
    let mut set = ChangeSet {
        issuer_key_id: hex::encode(&newest.issuer_key_id),
        list: newest.label.clone(),
        from_number: previous.newest().crl_number.to_string(),
        to_number: newest.crl_number.to_string(),
        this_update: newest.this_update,
        changes: Vec::new(),
        dropped: 0,
    };
    let mut before = Effective::of(previous).peekable();
    let mut after = Effective::of(next).peekable();
    loop {
        let order = match (before.peek(), after.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((old, _)), Some((new, _))) => old.cmp(new),
        };
        let (serial, change) = match order {
            Ordering::Less => {
                let Some((serial, old)) = before.next() else { break };
                if is_hold(&old) {
                    (serial, ListedChange::Released)
                } else {
                    set.dropped += 1;
                    continue;
                }
            }
            Ordering::Greater => {
                let Some((serial, new)) = after.next() else { break };
                (serial, listed(&new))
            }
            Ordering::Equal => {
                let (Some((serial, old)), Some((_, new))) = (before.next(), after.next()) else { break };
                if old.reason == new.reason {
                    continue;
                }
                (serial, listed(&new))
            }
        };
        set.changes.push(StatusChange { serial: serial.to_hex(), change });
    }
    set
}

fn is_hold(entry: &Entry) -> bool {
    entry.reason == Some(RevocationReason::CertificateHold)
}

fn listed(entry: &Entry) -> ListedChange {
    if is_hold(entry) {
        ListedChange::Held { since: entry.revoked_at }
    } else {
        ListedChange::Revoked { revoked_at: entry.revoked_at, reason: entry.reason }
    }
}

/// The entries a view lists, in serial order: the complete list merged with the delta, the
/// delta's entry winning and removeFromCRL taking the serial off.
struct Effective<'a> {
    complete: Peekable<Ordered<'a>>,
    delta: Option<Peekable<Ordered<'a>>>,
}

impl<'a> Effective<'a> {
    fn of(view: &'a ListView) -> Self {
        Effective {
            complete: view.complete.ordered().peekable(),
            delta: view.delta.as_deref().map(|delta| delta.ordered().peekable()),
        }
    }
}

impl<'a> Iterator for Effective<'a> {
    type Item = (SerialKey<'a>, Entry);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some(delta) = self.delta.as_mut() else { return self.complete.next() };
            let from_delta = match (self.complete.peek(), delta.peek()) {
                (_, None) => return self.complete.next(),
                (None, Some(_)) => delta.next(),
                (Some((complete, _)), Some((changed, _))) => match complete.cmp(changed) {
                    Ordering::Less => return self.complete.next(),
                    Ordering::Greater => delta.next(),
                    Ordering::Equal => {
                        self.complete.next();
                        delta.next()
                    }
                },
            };
            match from_delta {
                Some((_, Entry { reason: Some(RevocationReason::RemoveFromCrl), .. })) => continue,
                other => return other,
            }
        }
    }
}
