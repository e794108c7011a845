//! [`RevocationStore`]: the compact lists as a [`RevocationSource`].
//!
//! - Several lists per issuer key, each with its scope (RFC 5280 6.3.3): a list with an
//!   issuingDistributionPoint DirName covers only certificates whose cRLDistributionPoints name
//!   it; a list without one covers every certificate of the issuer; onlyContainsCACerts lists
//!   (ARLs) never cover end entities. When several lists cover a certificate, the one with the
//!   latest thisUpdate answers.
//! - Freshness is judged at query time: before thisUpdate, after nextUpdate plus the configured
//!   grace, or without nextUpdate, the answer is unknown (never good).
//! - Loading parses, verifies and indexes without any lock held, then swaps a new snapshot in:
//!   readers never wait for a rebuild and never see a half-built list. A refused list leaves the
//!   last good one in place.
//! - cRLNumber must increase per (issuer key, scope): a replayed or rolled-back list is refused
//!   with both numbers named.
//! - Delta CRLs (deltaCRLIndicator) are merged at query time with the complete list of the same
//!   issuer key and scope whose number is at least the delta's BaseCRLNumber: an entry in the
//!   delta wins (removeFromCRL releases the certificate), otherwise the complete list answers;
//!   freshness is then judged on the delta's dates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use jpki_core::UnixTime;
use jpki_core::anchor::TrustAnchor;
use jpki_core::revocation::{
    Provenance, RevocationAnswer, RevocationQuery, RevocationReason, RevocationSource, RevocationStatus,
    UnknownStatusCause,
};

use crate::error::LoadError;
use crate::parse::{CrlNumber, Scope};
use crate::store::{CompactList, Entry, ListMeta};

/// A complete list with, possibly, the delta CRL applied on top of it.
#[derive(Debug)]
struct Slot {
    complete: Arc<CompactList>,
    delta: Option<Arc<CompactList>>,
}

impl Slot {
    fn scope(&self) -> &Scope {
        &self.complete.meta().scope
    }

    /// The list whose dates and number describe the answer: the delta when there is one.
    fn newest(&self) -> &ListMeta {
        self.delta.as_deref().map_or(self.complete.meta(), CompactList::meta)
    }
}

type Snapshot = HashMap<Vec<u8>, Vec<Arc<Slot>>>;

/// What was loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSummary {
    /// The caller's label.
    pub label: String,
    /// Issuing anchor key identifier, hex.
    pub issuer_key_id: String,
    /// cRLNumber, decimal.
    pub crl_number: String,
    /// For a delta CRL, its BaseCRLNumber, decimal.
    pub delta_base: Option<String>,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: Option<UnixTime>,
    /// Distinct serials.
    pub entries: u64,
    /// The scope.
    pub scope: Scope,
    /// Heap bytes of the index.
    pub resident_bytes: usize,
}

impl ListSummary {
    fn of(list: &CompactList) -> Self {
        let meta = list.meta();
        ListSummary {
            label: meta.label.clone(),
            issuer_key_id: hex::encode(&meta.issuer_key_id),
            crl_number: meta.crl_number.to_string(),
            delta_base: meta.delta_base.as_ref().map(CrlNumber::to_string),
            this_update: meta.this_update,
            next_update: meta.next_update,
            entries: meta.entries,
            scope: meta.scope.clone(),
            resident_bytes: list.resident_bytes(),
        }
    }
}

/// Compact CRLs indexed by issuing key, usable as the verifier's revocation source.
#[derive(Debug)]
pub struct RevocationStore {
    anchors: Vec<TrustAnchor>,
    grace_seconds: i64,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serialises loads so that two concurrent loads cannot lose each other's list.
    writer: Mutex<()>,
}

impl RevocationStore {
    /// An empty store whose lists are signed by `anchors` and stay usable `grace_seconds` after
    /// their nextUpdate.
    pub fn new(anchors: Vec<TrustAnchor>, grace_seconds: i64) -> Self {
        RevocationStore {
            anchors,
            grace_seconds,
            snapshot: RwLock::new(Arc::new(Snapshot::new())),
            writer: Mutex::new(()),
        }
    }

    /// The anchors lists are checked against.
    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.anchors
    }

    /// Checks a DER CRL (complete or delta) and, if it is acceptable at time `at`, swaps it in for
    /// its (issuer key, scope). On any error the store is unchanged.
    pub fn load(&self, label: &str, der: &[u8], at: UnixTime) -> Result<ListSummary, LoadError> {
        // The expensive part (parse, signature, sort) runs without any lock.
        let list = CompactList::from_der(label, der, &self.anchors)?;
        self.insert(list, at)
    }

    /// Adds an already built list (see [`CompactList::from_der`], which should be given this
    /// store's anchors), with the same checks as [`Self::load`]. Lets a caller build a list on
    /// another thread and keep the swap short.
    pub fn insert(&self, list: CompactList, at: UnixTime) -> Result<ListSummary, LoadError> {
        let meta = list.meta();
        if let Some(next_update) = meta.next_update
            && at.0 > next_update.0.saturating_add(self.grace_seconds)
        {
            return Err(LoadError::Expired { next_update, at });
        }
        let summary = ListSummary::of(&list);
        let list = Arc::new(list);
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current();
        let key = list.meta().issuer_key_id.clone();
        let slots = current.get(&key).map(Vec::as_slice).unwrap_or_default();
        let existing = slots.iter().find(|slot| slot.scope() == &list.meta().scope);
        let replacement = match list.meta().delta_base.clone() {
            None => Self::replace_complete(existing.map(Arc::as_ref), list)?,
            Some(base) => Self::apply_delta(existing.map(Arc::as_ref), &base, list)?,
        };
        let mut next: Snapshot = (*current).clone();
        let per_issuer = next.entry(key).or_default();
        per_issuer.retain(|slot| slot.scope() != replacement.scope());
        per_issuer.push(Arc::new(replacement));
        let previous = {
            let mut guard = self.snapshot.write().unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *guard, Arc::new(next))
        };
        // A replaced list (hundreds of MB) is freed here, outside the lock, once no reader holds it.
        drop((previous, current));
        Ok(summary)
    }

    fn replace_complete(existing: Option<&Slot>, list: Arc<CompactList>) -> Result<Slot, LoadError> {
        let offered = &list.meta().crl_number;
        let Some(existing) = existing else { return Ok(Slot { complete: list, delta: None }) };
        let loaded = &existing.complete.meta().crl_number;
        if offered <= loaded {
            return Err(not_newer(&list, loaded));
        }
        // Complete and delta lists share one numbering: a delta numbered above the new complete
        // list still adds to it.
        let delta = existing.delta.clone().filter(|delta| delta.meta().crl_number > *offered);
        Ok(Slot { complete: list, delta })
    }

    fn apply_delta(existing: Option<&Slot>, base: &CrlNumber, delta: Arc<CompactList>) -> Result<Slot, LoadError> {
        let complete = existing.map(|slot| &slot.complete).filter(|complete| complete.meta().crl_number >= *base);
        let (Some(existing), Some(complete)) = (existing, complete) else {
            return Err(LoadError::DeltaWithoutBase {
                base: base.to_string(),
                loaded: existing.map(|slot| slot.complete.meta().crl_number.to_string()),
            });
        };
        let loaded = existing.newest().crl_number.clone();
        if delta.meta().crl_number <= loaded {
            return Err(not_newer(&delta, &loaded));
        }
        Ok(Slot { complete: complete.clone(), delta: Some(delta) })
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The complete list in use for an issuer key and scope, e.g. to compute what a new list
    /// changes before it is inserted.
    pub fn complete_list(&self, issuer_key_id: &[u8], scope: &Scope) -> Option<Arc<CompactList>> {
        let snapshot = self.current();
        let slots = snapshot.get(issuer_key_id)?;
        slots.iter().find(|slot| slot.scope() == scope).map(|slot| slot.complete.clone())
    }

    /// Summaries of every loaded list (complete and delta).
    pub fn lists(&self) -> Vec<ListSummary> {
        let snapshot = self.current();
        let mut lists: Vec<ListSummary> = snapshot
            .values()
            .flatten()
            .flat_map(|slot| std::iter::once(&slot.complete).chain(slot.delta.as_ref()))
            .map(|list| ListSummary::of(list))
            .collect();
        lists.sort_by(|a, b| (&a.issuer_key_id, &a.label).cmp(&(&b.issuer_key_id, &b.label)));
        lists
    }
}

fn not_newer(list: &CompactList, loaded: &CrlNumber) -> LoadError {
    LoadError::NotNewer {
        issuer_key_id: hex::encode(&list.meta().issuer_key_id),
        loaded: loaded.to_string(),
        offered: list.meta().crl_number.to_string(),
    }
}

fn covers(scope: &Scope, distribution_points: &[Vec<u8>]) -> bool {
    if scope.only_ca_certs {
        return false;
    }
    match &scope.distribution_point {
        None => true,
        Some(point) => distribution_points.iter().any(|candidate| candidate == point),
    }
}

impl RevocationSource for RevocationStore {
    fn status(&self, query: &RevocationQuery<'_>) -> RevocationAnswer {
        let snapshot = self.current();
        let Some(slots) = snapshot.get(query.issuer.key_id()) else {
            return RevocationAnswer::unknown(UnknownStatusCause::NoListForIssuer);
        };
        let covering = slots
            .iter()
            .filter(|slot| covers(slot.scope(), query.distribution_points))
            .max_by_key(|slot| slot.newest().this_update);
        let Some(slot) = covering else {
            return RevocationAnswer::unknown(UnknownStatusCause::NoListForScope);
        };
        self.slot_answer(slot, query.serial, query.at)
    }
}

impl RevocationStore {
    /// The answer of one slot (complete list plus delta) for a serial at a time.
    fn slot_answer(&self, slot: &Slot, serial: &[u8], at: UnixTime) -> RevocationAnswer {
        let newest = slot.newest();
        let list = match &slot.delta {
            None => newest.label.clone(),
            Some(delta) => format!("{} + delta {}", slot.complete.meta().label, delta.meta().label),
        };
        let provenance = Some(Provenance {
            list,
            crl_number: Some(newest.crl_number.to_string()),
            this_update: newest.this_update,
            next_update: newest.next_update,
        });
        let answer = |status| RevocationAnswer { status, provenance: provenance.clone() };
        let this_update = slot.complete.meta().this_update;
        if at < this_update || at < newest.this_update {
            let this_update = if at < this_update { this_update } else { newest.this_update };
            return answer(RevocationStatus::Unknown { cause: UnknownStatusCause::ListNotYetValid { this_update } });
        }
        let Some(next_update) = newest.next_update else {
            return answer(RevocationStatus::Unknown { cause: UnknownStatusCause::ListWithoutNextUpdate });
        };
        if at.0 > next_update.0.saturating_add(self.grace_seconds) {
            return answer(RevocationStatus::Unknown { cause: UnknownStatusCause::ListStale { next_update } });
        }
        let entry = match slot.delta.as_ref().and_then(|delta| delta.lookup(serial)) {
            Some(Entry { reason: Some(RevocationReason::RemoveFromCrl), .. }) => None,
            Some(entry) if entry.revoked_at <= at => Some(entry),
            _ => slot.complete.lookup(serial),
        };
        match entry {
            Some(entry) if entry.revoked_at <= at => {
                answer(RevocationStatus::Revoked { revoked_at: entry.revoked_at, reason: entry.reason })
            }
            _ => answer(RevocationStatus::Good),
        }
    }

    /// The status of a certificate known only by issuer key and serial (one verified earlier,
    /// whose distribution points are not at hand): revoked if any list of the issuer that covers
    /// end entities has it; good only if every such list is usable at `at` and none has it;
    /// unknown otherwise. Without the distribution point this is stricter than [`Self::status`]:
    /// one stale partition makes every answer for the issuer unknown.
    pub fn status_by_id(&self, issuer_key_id: &[u8], serial: &[u8], at: UnixTime) -> RevocationAnswer {
        let snapshot = self.current();
        let slots: Vec<&Arc<Slot>> = snapshot
            .get(issuer_key_id)
            .map(|slots| slots.iter().filter(|slot| !slot.scope().only_ca_certs).collect())
            .unwrap_or_default();
        let answers: Vec<RevocationAnswer> = slots.iter().map(|slot| self.slot_answer(slot, serial, at)).collect();
        if let Some(revoked) = answers.iter().find(|answer| matches!(answer.status, RevocationStatus::Revoked { .. })) {
            return revoked.clone();
        }
        if let Some(unknown) = answers.iter().find(|answer| matches!(answer.status, RevocationStatus::Unknown { .. })) {
            return unknown.clone();
        }
        answers
            .into_iter()
            .max_by_key(|answer| answer.provenance.as_ref().map(|provenance| provenance.this_update))
            .unwrap_or_else(|| RevocationAnswer::unknown(UnknownStatusCause::NoListForIssuer))
    }
}
