//! Change sets: every change of a certificate's status between the effective views (complete list
//! plus its delta) before and after each load, complete and delta alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jpki_core::UnixTime;
use jpki_core::revocation::RevocationReason;
use jpki_revocation::{ChangeSet, ListedChange, RevocationStore, StatusChange};
use jpki_testpki::{Ca, CertKind, CrlBuilder, CrlEntry, ReasonCode};
use jpki_testsupport::testing::{offset, pki, time};

/// A store over the test PKI's anchors and the signing CA (generation 2) lists are issued by.
struct Lists {
    store: RevocationStore,
    pki: std::sync::Arc<jpki_testpki::TestPki>,
}

fn day(d: u32) -> UnixTime {
    time(&format!("2026-05-{d:02}T00:00:00Z"))
}

impl Lists {
    fn new() -> Self {
        let pki = pki();
        let store = RevocationStore::new(jpki_testsupport::anchors(&pki).unwrap(), 0);
        Lists { store, pki }
    }

    fn ca(&self) -> &Ca {
        self.pki.ca(CertKind::SigningCard, 2).unwrap()
    }

    /// Loads complete list `number`, issued on day `number`, and returns its change set.
    fn complete(&self, number: u64, entries: &[CrlEntry]) -> Option<ChangeSet> {
        let der = CrlBuilder::new(offset(day(number as u32)), Some(offset(time("2026-07-01T00:00:00Z"))))
            .number(number)
            .entries(entries.iter().cloned())
            .sign(self.ca().issuer())
            .unwrap();
        self.store.load_with_changes(&format!("complete-{number}"), &der, day(number as u32)).unwrap().1
    }

    /// Loads delta `number` on `base`, issued on day `number`, and returns its change set.
    fn delta(&self, number: u64, base: u64, entries: &[CrlEntry]) -> Option<ChangeSet> {
        let der = CrlBuilder::new(offset(day(number as u32)), Some(offset(time("2026-07-01T00:00:00Z"))))
            .number(number)
            .delta_crl_indicator(base)
            .entries(entries.iter().cloned())
            .sign(self.ca().issuer())
            .unwrap();
        self.store.load_with_changes(&format!("delta-{number}"), &der, day(number as u32)).unwrap().1
    }
}

const A: &[u8] = &[0x01, 0x01];
const B: &[u8] = &[0x02, 0x02];

fn entry(serial: &[u8], on: u32, reason: Option<ReasonCode>) -> CrlEntry {
    let entry = CrlEntry::new(serial.to_vec(), offset(day(on)));
    match reason {
        Some(reason) => entry.reason(reason),
        None => entry,
    }
}

fn changes(set: &Option<ChangeSet>) -> Vec<StatusChange> {
    set.as_ref().expect("a change set").changes.clone()
}

fn change(serial: &[u8], change: ListedChange) -> StatusChange {
    StatusChange { serial: hex::encode(serial), change }
}

#[test]
fn the_first_list_has_no_change_set() {
    let lists = Lists::new();
    assert_eq!(lists.complete(1, &[entry(A, 1, Some(ReasonCode::KeyCompromise))]), None);
}

#[test]
fn a_hold_then_a_revocation_is_held_then_revoked() {
    let lists = Lists::new();
    lists.complete(1, &[]);
    let held = lists.complete(2, &[entry(A, 2, Some(ReasonCode::CertificateHold))]);
    assert_eq!(changes(&held), vec![change(A, ListedChange::Held { since: day(2) })]);
    let set = held.unwrap();
    assert_eq!((set.from_number.as_str(), set.to_number.as_str(), set.dropped), ("1", "2", 0));
    assert_eq!((set.list.as_str(), set.this_update), ("complete-2", day(2)));
    assert_eq!(set.issuer_key_id, hex::encode(lists.ca().key_id()));

    let revoked = lists.complete(3, &[entry(A, 3, Some(ReasonCode::KeyCompromise))]);
    assert_eq!(
        changes(&revoked),
        vec![change(A, ListedChange::Revoked { revoked_at: day(3), reason: Some(RevocationReason::KeyCompromise) })]
    );
    // The same listing again is no change.
    assert_eq!(changes(&lists.complete(4, &[entry(A, 3, Some(ReasonCode::KeyCompromise))])), vec![]);
}

#[test]
fn a_dropped_hold_is_released_and_a_dropped_revocation_is_only_counted() {
    let lists = Lists::new();
    lists.complete(1, &[entry(A, 1, Some(ReasonCode::CertificateHold)), entry(B, 1, Some(ReasonCode::Superseded))]);
    let set = lists.complete(2, &[]);
    assert_eq!(changes(&set), vec![change(A, ListedChange::Released)]);
    let set = set.unwrap();
    assert_eq!(set.dropped, 1, "B expired off the list: no event");
    assert_eq!(set.this_update, day(2), "the time of the release");
}

#[test]
fn a_changed_reason_is_a_revocation_with_the_new_reason() {
    let lists = Lists::new();
    lists.complete(1, &[entry(A, 1, Some(ReasonCode::AffiliationChanged)), entry(B, 1, None)]);
    let set = lists.complete(2, &[entry(A, 1, Some(ReasonCode::CessationOfOperation)), entry(B, 1, None)]);
    assert_eq!(
        changes(&set),
        vec![change(
            A,
            ListedChange::Revoked { revoked_at: day(1), reason: Some(RevocationReason::CessationOfOperation) }
        )]
    );
}

#[test]
fn deltas_are_compared_as_effective_views() {
    let lists = Lists::new();
    lists.complete(1, &[entry(A, 1, Some(ReasonCode::CertificateHold))]);
    // removeFromCRL for the held A releases it; removeFromCRL for B, never listed, changes nothing.
    let set = lists.delta(
        2,
        1,
        &[entry(A, 2, Some(ReasonCode::RemoveFromCrl)), entry(B, 2, Some(ReasonCode::RemoveFromCrl))],
    );
    assert_eq!(changes(&set), vec![change(A, ListedChange::Released)]);
    let set = set.unwrap();
    assert_eq!((set.from_number.as_str(), set.to_number.as_str()), ("1", "2"));
    assert_eq!((set.list.as_str(), set.this_update, set.dropped), ("delta-2", day(2), 0));

    // A later delta on the same base revokes B: compared with the previous delta's view, only B.
    let set = lists.delta(3, 1, &[entry(A, 2, Some(ReasonCode::RemoveFromCrl)), entry(B, 3, None)]);
    assert_eq!(changes(&set), vec![change(B, ListedChange::Revoked { revoked_at: day(3), reason: None })]);

    // The next complete list carries what the delta said: nothing changes.
    let set = lists.complete(4, &[entry(B, 3, None)]);
    assert_eq!(changes(&set), vec![]);
    assert_eq!(set.unwrap().dropped, 0);
}

#[test]
fn a_delta_removing_a_serial_that_is_not_listed_changes_nothing() {
    let lists = Lists::new();
    lists.complete(1, &[entry(A, 1, Some(ReasonCode::KeyCompromise))]);
    let set = lists.delta(2, 1, &[entry(B, 2, Some(ReasonCode::RemoveFromCrl))]).unwrap();
    assert_eq!(set.changes, vec![]);
    assert_eq!(set.dropped, 0);
}

#[test]
fn changes_are_ordered_by_serial_across_long_and_short_serials() {
    let lists = Lists::new();
    lists.complete(1, &[]);
    // A 20-byte serial goes to the store's side table; ordering is numeric all the same.
    let long = [0x7f; 20];
    let set =
        lists.complete(2, &[entry(&long, 2, None), entry(B, 2, None), entry(A, 2, Some(ReasonCode::CertificateHold))]);
    let serials: Vec<String> = changes(&set).into_iter().map(|change| change.serial).collect();
    assert_eq!(serials, vec![hex::encode(A), hex::encode(B), hex::encode(long)]);
}

#[test]
fn remove_from_crl_in_a_complete_list_is_refused_not_read_as_a_revocation() {
    let lists = Lists::new();
    lists.complete(1, &[entry(A, 1, Some(ReasonCode::CertificateHold))]);
    let der = CrlBuilder::new(offset(day(2)), Some(offset(time("2026-07-01T00:00:00Z"))))
        .number(2)
        .entries([entry(A, 1, Some(ReasonCode::RemoveFromCrl)), entry(B, 2, None)])
        .sign(lists.ca().issuer())
        .unwrap();
    let error = lists.store.load_with_changes("complete-2", &der, day(2)).unwrap_err();
    assert_eq!(error, jpki_revocation::LoadError::RemoveFromCrlInCompleteList { serial: hex::encode(A) });
    // The list in use is unchanged: A is still held.
    let view = lists.store.view(lists.ca().key_id(), &Default::default()).unwrap();
    assert_eq!(view.complete.meta().crl_number.to_string(), "1");
}
