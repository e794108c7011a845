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
//! - A newer list whose thisUpdate is after the load time does not replace the list in use: it is
//!   kept pending beside it. Which one answers is judged at query time (the store has no clock):
//!   for a query at a time before the pending list's thisUpdate, the current list (with its
//!   delta); at or after it, the pending one. Each (issuer key, scope) therefore holds a few
//!   views (complete list plus optional delta), each usable from its start (the later thisUpdate
//!   of its complete list and delta); the view with the highest cRLNumber among those started at
//!   the query time answers, and when none has started, the earliest (whose answer is then
//!   `ListNotYetValid`, as for a first list that is not yet valid). A loaded complete list takes
//!   over the newest delta numbered above it; a loaded delta applies to every held complete list
//!   at or above its BaseCRLNumber, so that the current and the pending view both get it. A view
//!   that a newer one has superseded by the load time is dropped at that load: a list that was
//!   pending stays in memory beside the old one until the first load after its thisUpdate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use jpki_core::UnixTime;
use jpki_core::anchor::TrustAnchor;
use jpki_core::revocation::{
    ListIdentity, Provenance, RevocationAnswer, RevocationQuery, RevocationReason, RevocationSource, RevocationStatus,
    UnknownStatusCause,
};

use crate::changes::{ChangeSet, change_set};
use crate::compact::{CompactList, Entry, ListMeta};
use crate::error::LoadError;
use crate::parse::{CrlNumber, Scope};

/// A complete list with, possibly, the delta CRL applied on top of it: what answers for one
/// issuer key and scope, and what change sets compare.
#[derive(Clone, Debug)]
pub struct ListView {
    /// The complete list.
    pub complete: Arc<CompactList>,
    /// The delta CRL applied on top of it, if any.
    pub delta: Option<Arc<CompactList>>,
}

impl ListView {
    /// The list whose dates and number describe the answer: the delta when there is one.
    pub fn newest(&self) -> &ListMeta {
        self.delta.as_deref().map_or(self.complete.meta(), CompactList::meta)
    }

    /// From when the view answers: the later thisUpdate of the complete list and the delta.
    pub fn starts(&self) -> UnixTime {
        self.complete.meta().this_update.max(self.newest().this_update)
    }

    /// Order of views: by the newest cRLNumber, then by the complete list's.
    fn rank(&self) -> (&CrlNumber, &CrlNumber) {
        (&self.newest().crl_number, &self.complete.meta().crl_number)
    }
}

/// The views of one issuer key and scope, by rank, oldest first; never empty.
#[derive(Debug)]
struct Slot {
    scope: Scope,
    views: Vec<ListView>,
}

impl Slot {
    /// Sorts `views` and drops those a newer view supersedes from `at` on (or from their own
    /// start, which makes them unreachable).
    fn new(scope: Scope, mut views: Vec<ListView>, at: UnixTime) -> Self {
        views.sort_by(|a, b| a.rank().cmp(&b.rank()));
        let mut kept = Vec::with_capacity(views.len());
        let mut earliest_later: Option<UnixTime> = None;
        for view in views.into_iter().rev() {
            let start = view.starts();
            if earliest_later.is_none_or(|later| later > at.max(start)) {
                kept.push(view);
            }
            earliest_later = Some(earliest_later.map_or(start, |later| later.min(start)));
        }
        kept.reverse();
        Slot { scope, views: kept }
    }

    fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The view with the highest rank: what answers once every held list has started.
    fn newest(&self) -> Option<&ListView> {
        self.views.last()
    }

    /// The view answering a query at `at`.
    fn select(&self, at: UnixTime) -> Option<&ListView> {
        self.views
            .iter()
            .rev()
            .find(|view| view.starts() <= at)
            .or_else(|| self.views.iter().min_by_key(|view| view.starts()))
    }

    fn highest_complete(&self) -> Option<&CrlNumber> {
        self.views.iter().map(|view| &view.complete.meta().crl_number).max()
    }

    fn highest(&self) -> Option<&CrlNumber> {
        self.views.iter().map(|view| &view.newest().crl_number).max()
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
    /// The digest of the tbsCertList (see [`ListMeta::tbs_digest`]): the list's identity.
    pub tbs_digest: Vec<u8>,
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
            tbs_digest: meta.tbs_digest.clone(),
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
        let list = CompactList::from_der(label, der, &self.anchors, at)?;
        self.insert(list, at)
    }

    /// [`Self::load`], also returning what the list changes (see [`crate::changes`]) against the
    /// newest view of its issuer key and scope before the load; `None` when there was none.
    pub fn load_with_changes(
        &self,
        label: &str,
        der: &[u8],
        at: UnixTime,
    ) -> Result<(ListSummary, Option<ChangeSet>), LoadError> {
        let list = CompactList::from_der(label, der, &self.anchors, at)?;
        self.insert_with_changes(list, at)
    }

    /// Adds an already built list (see [`CompactList::from_der`], which should be given this
    /// store's anchors), with the same checks as [`Self::load`]. Lets a caller build a list on
    /// another thread and keep the swap short.
    pub fn insert(&self, list: CompactList, at: UnixTime) -> Result<ListSummary, LoadError> {
        self.insert_views(list, at).map(|(summary, ..)| summary)
    }

    /// [`Self::insert`], also returning the change set between the newest view of the list's
    /// issuer key and scope before the insert and the view the list made (for a pending list,
    /// the view that will answer from its thisUpdate). Both views are taken under the store's
    /// write lock, so concurrent loads cannot make a change set skip or repeat a change; the
    /// comparison itself runs after the swap, without any lock.
    pub fn insert_with_changes(
        &self,
        list: CompactList,
        at: UnixTime,
    ) -> Result<(ListSummary, Option<ChangeSet>), LoadError> {
        let (summary, before, after) = self.insert_views(list, at)?;
        Ok((summary, before.map(|before| change_set(&before, &after))))
    }

    fn insert_views(
        &self,
        list: CompactList,
        at: UnixTime,
    ) -> Result<(ListSummary, Option<ListView>, ListView), LoadError> {
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
        let scope = list.meta().scope.clone();
        let slots = current.get(&key).map(Vec::as_slice).unwrap_or_default();
        let existing = slots.iter().find(|slot| slot.scope() == &scope).map(Arc::as_ref);
        let before = existing.and_then(Slot::newest).cloned();
        let (after, also) = match list.meta().delta_base.clone() {
            None => (Self::complete_view(existing, list)?, Vec::new()),
            Some(base) => Self::delta_views(existing, &base, list)?,
        };
        let held = existing.map(|slot| slot.views.clone()).unwrap_or_default();
        let views = held.into_iter().chain(also).chain(std::iter::once(after.clone())).collect();
        let replacement = Slot::new(scope, views, at);
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
        Ok((summary, before, after))
    }

    /// The view a complete list makes: it must be numbered above every held complete list, and
    /// takes over the newest delta numbered above it (complete and delta lists share one
    /// numbering).
    fn complete_view(existing: Option<&Slot>, list: Arc<CompactList>) -> Result<ListView, LoadError> {
        let offered = &list.meta().crl_number;
        let Some(existing) = existing else { return Ok(ListView { complete: list, delta: None }) };
        if let Some(loaded) = existing.highest_complete().filter(|loaded| offered <= *loaded) {
            return Err(not_newer(&list, loaded));
        }
        let delta = existing
            .views
            .iter()
            .filter_map(|view| view.delta.as_ref())
            .filter(|delta| delta.meta().crl_number > *offered)
            .max_by(|a, b| a.meta().crl_number.cmp(&b.meta().crl_number))
            .cloned();
        Ok(ListView { complete: list, delta })
    }

    /// The views a delta makes: one per held complete list numbered at least its BaseCRLNumber
    /// (the current one and a pending one alike), the one on the highest complete list first.
    /// It must be numbered above every held list.
    fn delta_views(
        existing: Option<&Slot>,
        base: &CrlNumber,
        delta: Arc<CompactList>,
    ) -> Result<(ListView, Vec<ListView>), LoadError> {
        let mut completes: Vec<&Arc<CompactList>> =
            existing.map(|slot| slot.views.iter().map(|view| &view.complete).collect()).unwrap_or_default();
        completes.retain(|complete| complete.meta().crl_number >= *base);
        completes.sort_by(|a, b| a.meta().crl_number.cmp(&b.meta().crl_number));
        completes.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let (Some(existing), Some(highest)) = (existing, completes.pop()) else {
            return Err(LoadError::DeltaWithoutBase {
                base: base.to_string(),
                loaded: existing.and_then(Slot::highest_complete).map(CrlNumber::to_string),
            });
        };
        if let Some(loaded) = existing.highest().filter(|loaded| delta.meta().crl_number <= **loaded) {
            return Err(not_newer(&delta, loaded));
        }
        let view = |complete: &Arc<CompactList>| ListView { complete: complete.clone(), delta: Some(delta.clone()) };
        Ok((view(highest), completes.into_iter().map(view).collect()))
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The newest view (complete list plus delta) of an issuer key and scope: the one in use, or
    /// the pending one that will answer from its thisUpdate.
    pub fn view(&self, issuer_key_id: &[u8], scope: &Scope) -> Option<ListView> {
        let snapshot = self.current();
        let slots = snapshot.get(issuer_key_id)?;
        slots.iter().find(|slot| slot.scope() == scope).and_then(|slot| slot.newest().cloned())
    }

    /// The complete list of [`Self::view`].
    pub fn complete_list(&self, issuer_key_id: &[u8], scope: &Scope) -> Option<Arc<CompactList>> {
        self.view(issuer_key_id, scope).map(|view| view.complete)
    }

    /// Summaries of every held list (complete and delta, in use or pending), each once.
    pub fn lists(&self) -> Vec<ListSummary> {
        let snapshot = self.current();
        let mut held: Vec<&Arc<CompactList>> = snapshot
            .values()
            .flatten()
            .flat_map(|slot| slot.views.iter())
            .flat_map(|view| std::iter::once(&view.complete).chain(view.delta.as_ref()))
            .collect();
        held.sort_by_key(|list| Arc::as_ptr(list));
        held.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let mut lists: Vec<ListSummary> = held.into_iter().map(|list| ListSummary::of(list)).collect();
        lists.sort_by(|a, b| {
            (&a.issuer_key_id, &a.label, &a.crl_number).cmp(&(&b.issuer_key_id, &b.label, &b.crl_number))
        });
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
        // Among the covering lists, one that has started answers before one that has not, then
        // the latest thisUpdate.
        let covering = slots
            .iter()
            .filter(|slot| covers(slot.scope(), query.distribution_points))
            .filter_map(|slot| slot.select(query.at))
            .max_by_key(|view| (view.starts() <= query.at, view.newest().this_update));
        let Some(view) = covering else {
            return RevocationAnswer::unknown(UnknownStatusCause::NoListForScope);
        };
        self.view_answer(view, query.serial, query.at)
    }
}

impl RevocationStore {
    /// The answer of one view (complete list plus delta) for a serial at a time.
    fn view_answer(&self, slot: &ListView, serial: &[u8], at: UnixTime) -> RevocationAnswer {
        let newest = slot.newest();
        let list = match &slot.delta {
            None => newest.label.clone(),
            Some(delta) => format!("{} + delta {}", slot.complete.meta().label, delta.meta().label),
        };
        let identity = |meta: &ListMeta, scope| ListIdentity {
            issuer_key_id: hex::encode(&meta.issuer_key_id),
            scope,
            crl_number: meta.crl_number.to_string(),
            tbs_digest: hex::encode(&meta.tbs_digest),
        };
        let mut lists = vec![identity(slot.complete.meta(), "base")];
        lists.extend(slot.delta.as_ref().map(|delta| identity(delta.meta(), "delta")));
        let provenance = Some(Provenance {
            list,
            crl_number: Some(newest.crl_number.to_string()),
            this_update: newest.this_update,
            next_update: newest.next_update,
            lists,
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
        let answers: Vec<RevocationAnswer> =
            slots.iter().filter_map(|slot| slot.select(at)).map(|view| self.view_answer(view, serial, at)).collect();
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
