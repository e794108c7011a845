//! Behaviour of every `TenantStore` operation, including tenant isolation and persistence across
//! a reopen. Every case runs against every implementation: `local_store::<case>` on `LocalStore`,
//! `journal_store::<case>` on `JournalStore`,
//! `redis_store::<case>` on `RedisStore` with a redis-server of its own (skipped with a message
//! when redis-server is missing, unless `$CI` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use jpki_core::CertId;
use jpki_store::{
    AuditLeaves, Audited, CHALLENGE_PURGE_GRACE_SECS, Challenge, ConsumeOutcome, DirectoryOutcome, DirectoryWrite,
    LinkOutcome, LinkRecord, MAX_AUDIT_PAGE, MAX_DIRECTORY_VALUE_LEN, MAX_EVIDENCE_LEN, Outcome, PlatformLogEntry,
    RevocationNotice, StatusChange, StoreError, StoredEvent, TenantId, TenantWrite, VerificationKind,
    VerificationRecord, WATCH_PURGE_GRACE_SECS, WatchRequest, WriteAnswer,
};
use sha2::{Digest, Sha256};
use support::Harness;

const NOW: i64 = 1_780_272_000;

/// Runs each listed case (a `fn(&mut Harness)`) once per implementation.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod local_store {
            $(#[test] fn $case() { super::$case(&mut super::Harness::local()); })*
        }
        mod journal_store {
            $(#[test] fn $case() { super::$case(&mut super::Harness::journal()); })*
        }
        mod redis_store {
            $(#[test] fn $case() {
                if let Some(mut harness) = super::Harness::redis() {
                    super::$case(&mut harness);
                }
            })*
        }
    };
}

on_both_stores!(
    store_refuses_invalid_ids,
    challenge_is_single_use,
    used_challenge_cannot_be_re_armed,
    expired_challenge_is_reported_and_marked_used,
    challenges_are_isolated_between_tenants,
    purge_removes_expired_challenges_after_the_grace_and_old_verifications,
    purge_drops_watches_long_past_not_after,
    verifications_round_trip_and_are_isolated,
    links_conflicts_and_idempotence,
    unlink_one_or_all_and_only_own,
    watch_list_is_per_tenant_with_a_global_index,
    events_are_sequenced_per_tenant_and_deduplicated,
    events_record_every_change_of_status,
    stale_notices_are_not_appended_whatever_the_length_of_the_number,
    a_release_needs_a_hold,
    last_event_for_is_the_current_status_per_tenant,
    entitlement_comes_from_own_links_and_passed_verifications_within_retention,
    entitlement_expires_with_retention_and_purge,
    unlink_keeps_entitlement_of_a_recent_passed_verification,
    record_verification_stores_record_entitlement_and_watch_or_nothing,
    customer_ids_and_references_of_128_multibyte_characters_are_accepted,
    meta_round_trip,
    everything_survives_a_reopen,
    concurrent_consumers_see_exactly_one_success,
    peek_reads_without_consuming,
    settle_proof_consumes_and_records_in_one_step,
    settle_proof_keeps_a_lost_race_refused,
    concurrent_settles_accept_exactly_one,
    directory_writes_are_guarded_atomic_and_logged,
    concurrent_directory_writers_with_one_expectation_see_one_success,
    audited_writes_append_the_leaf_of_their_outcome_in_the_same_commit,
    audited_writes_that_fail_append_nothing,
    concurrent_audited_writes_get_distinct_consecutive_indexes,
    audit_trim_drops_leaves_below_the_floor_and_keeps_the_size,
    audit_evidence_is_kept_with_the_leaf_whatever_the_outcome,
);

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn cert(serial: &str) -> CertId {
    CertId { ca_key_id: "ab01".into(), serial: serial.into() }
}

fn challenge(expires_at: i64) -> Challenge {
    Challenge { challenge: vec![1, 2, 3, 0xff], transaction_reference: "tx-1".into(), issued_at: NOW, expires_at }
}

fn verification(id: &str, verified_at: i64) -> VerificationRecord {
    VerificationRecord {
        id: id.into(),
        kind: VerificationKind::Authentication,
        passed: true,
        certificate: Some(cert("0a")),
        not_after: Some(NOW + 1000),
        verified_at,
        transaction_reference: "tx".into(),
        purpose: "login".into(),
    }
}

fn link(customer: &str, serial: &str) -> LinkRecord {
    LinkRecord { customer_id: customer.into(), certificate: cert(serial), not_after: NOW + 1000, linked_at: NOW }
}

fn notice(serial: &str) -> RevocationNotice {
    RevocationNotice {
        certificate: cert(serial),
        change: StatusChange::Revoked,
        revoked_at: NOW,
        reason: Some("key_compromise".into()),
        crl_number: Some("42".into()),
        customer_id: None,
        kind: "auth_card".into(),
    }
}

#[test]
fn tenant_ids_and_cert_ids_are_validated() {
    assert!(TenantId::new("bank-A_1.x").is_ok());
    assert!(TenantId::new("a".repeat(64)).is_ok());
    for bad in ["", "a b", "bank/x", "銀行", &"a".repeat(65)] {
        assert!(matches!(TenantId::new(bad), Err(StoreError::InvalidInput { field: "tenant", .. })), "{bad:?}");
    }
    let id = |ca: &str, serial: &str| CertId { ca_key_id: ca.into(), serial: serial.into() };
    assert!(id("00ff", "1").validate().is_ok());
    for (ca, serial) in [("", "1"), ("AB", "1"), ("ab", "xyz"), ("ab", "")] {
        assert!(id(ca, serial).validate().is_err(), "{ca:?} {serial:?}");
    }
}

fn store_refuses_invalid_ids(h: &mut Harness) {
    // A bad tenant id cannot be made at all (the field is private), nor deserialised.
    let store = h.store();
    let err = TenantId::new("bad tenant").unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { field: "tenant", .. }));
    assert!(serde_json::from_str::<TenantId>("\"bad tenant\"").is_err());
    assert_eq!(serde_json::from_str::<TenantId>("\"bank-a\"").unwrap(), tenant("bank-a"));
    let err = store.watch(&tenant("a"), &CertId { ca_key_id: "AB".into(), serial: "1".into() }, NOW, "k").unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { field: "ca_key_id", .. }));
}

fn challenge_is_single_use(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    assert_eq!(store.consume_challenge(&a, "c1", NOW + 10).unwrap(), ConsumeOutcome::Consumed(challenge(NOW + 300)));
    assert_eq!(store.consume_challenge(&a, "c1", NOW + 11).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: NOW + 10 });
    // Still used after its expiry, until purged.
    assert_eq!(
        store.consume_challenge(&a, "c1", NOW + 900).unwrap(),
        ConsumeOutcome::AlreadyUsed { used_at: NOW + 10 }
    );
    assert_eq!(store.consume_challenge(&a, "nope", NOW).unwrap(), ConsumeOutcome::Unknown);
}

fn used_challenge_cannot_be_re_armed(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    assert!(matches!(store.put_challenge(&a, "c1", challenge(NOW + 300)), Err(StoreError::Duplicate { .. })));
    store.consume_challenge(&a, "c1", NOW).unwrap();
    assert!(matches!(store.put_challenge(&a, "c1", challenge(NOW + 300)), Err(StoreError::Duplicate { .. })));
    assert_eq!(store.consume_challenge(&a, "c1", NOW + 1).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: NOW });
}

fn expired_challenge_is_reported_and_marked_used(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    // expires_at is the first second it is refused.
    assert_eq!(store.consume_challenge(&a, "c1", NOW + 300).unwrap(), ConsumeOutcome::Expired(challenge(NOW + 300)));
    assert_eq!(
        store.consume_challenge(&a, "c1", NOW + 301).unwrap(),
        ConsumeOutcome::AlreadyUsed { used_at: NOW + 300 }
    );
    store.put_challenge(&a, "c2", challenge(NOW + 300)).unwrap();
    assert!(matches!(store.consume_challenge(&a, "c2", NOW + 299).unwrap(), ConsumeOutcome::Consumed(_)));
}

fn challenges_are_isolated_between_tenants(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    // B neither sees nor consumes A's challenge, and its attempt does not mark it used.
    assert_eq!(store.consume_challenge(&b, "c1", NOW).unwrap(), ConsumeOutcome::Unknown);
    assert!(matches!(store.consume_challenge(&a, "c1", NOW).unwrap(), ConsumeOutcome::Consumed(_)));
    assert_eq!(store.consume_challenge(&b, "c1", NOW).unwrap(), ConsumeOutcome::Unknown);
    // The same id may be issued to B independently.
    store.put_challenge(&b, "c1", challenge(NOW + 300)).unwrap();
    assert!(matches!(store.consume_challenge(&b, "c1", NOW).unwrap(), ConsumeOutcome::Consumed(_)));
}

fn purge_removes_expired_challenges_after_the_grace_and_old_verifications(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.put_challenge(&a, "used", challenge(NOW + 300)).unwrap();
    store.put_challenge(&a, "pending", challenge(NOW + 300)).unwrap();
    store.put_challenge(&a, "later", challenge(NOW + 10_000)).unwrap();
    store.consume_challenge(&a, "used", NOW).unwrap();
    store.put_verification(&a, verification("old", NOW - 100)).unwrap();
    store.put_verification(&a, verification("new", NOW)).unwrap();

    // Exactly at the grace boundary nothing goes.
    assert_eq!(store.purge_expired(NOW + 300 + CHALLENGE_PURGE_GRACE_SECS, 1000).unwrap(), 0);
    assert_eq!(store.consume_challenge(&a, "used", NOW + 1).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: NOW });

    let at = NOW + 301 + CHALLENGE_PURGE_GRACE_SECS;
    // Retention: "old" is older than at - 1000; "new" is not.
    let retention = at - NOW + 50;
    assert_eq!(store.purge_expired(at, retention).unwrap(), 3);
    assert_eq!(store.consume_challenge(&a, "used", at).unwrap(), ConsumeOutcome::Unknown);
    assert_eq!(store.consume_challenge(&a, "pending", at).unwrap(), ConsumeOutcome::Unknown);
    assert!(store.get_verification(&a, "old").unwrap().is_none());
    assert!(store.get_verification(&a, "new").unwrap().is_some());
    assert!(matches!(store.consume_challenge(&a, "later", at).unwrap(), ConsumeOutcome::Consumed(_)));
    assert_eq!(store.purge_expired(at, retention).unwrap(), 0);
    assert!(matches!(store.purge_expired(at, -1), Err(StoreError::InvalidInput { .. })));
}

fn purge_drops_watches_long_past_not_after(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.watch(&a, &cert("01"), NOW, "auth_card").unwrap();
    store.watch(&a, &cert("02"), NOW + 10, "auth_card").unwrap();
    // Re-watching with a later notAfter moves its purge time.
    store.watch(&a, &cert("01"), NOW + 20, "auth_card").unwrap();
    assert_eq!(store.purge_expired(NOW + 11 + WATCH_PURGE_GRACE_SECS, 0).unwrap(), 1);
    assert_eq!(store.watched(&a).unwrap(), vec![cert("01")]);
    assert!(store.watchers(&cert("02")).unwrap().is_empty());
    assert_eq!(store.watchers(&cert("01")).unwrap(), vec![(a.clone(), "auth_card".into())]);
    assert_eq!(store.purge_expired(NOW + 21 + WATCH_PURGE_GRACE_SECS, 0).unwrap(), 1);
    assert!(store.watched(&a).unwrap().is_empty());
}

fn verifications_round_trip_and_are_isolated(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    let mut record = verification("v1", NOW);
    store.put_verification(&a, record.clone()).unwrap();
    assert_eq!(store.get_verification(&a, "v1").unwrap(), Some(record.clone()));
    assert_eq!(store.get_verification(&b, "v1").unwrap(), None);
    assert!(matches!(store.put_verification(&a, record.clone()), Err(StoreError::Duplicate { .. })));
    record.kind = VerificationKind::Signature;
    record.passed = false;
    record.certificate = None;
    record.not_after = None;
    store.put_verification(&b, record.clone()).unwrap();
    assert_eq!(store.get_verification(&b, "v1").unwrap(), Some(record));
    assert!(store.get_verification(&a, "v2").unwrap().is_none());
}

fn links_conflicts_and_idempotence(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    let first = link("cust-1", "01");
    assert_eq!(store.link(&a, first.clone()).unwrap(), LinkOutcome::Created(first.clone()));
    // Same pair again: idempotent, and the stored record (with its original linked_at) comes back.
    let again = LinkRecord { linked_at: NOW + 99, ..first.clone() };
    assert_eq!(store.link(&a, again).unwrap(), LinkOutcome::AlreadyLinked(first.clone()));
    // Another customer of the same tenant cannot take the certificate.
    assert_eq!(
        store.link(&a, link("cust-2", "01")).unwrap(),
        LinkOutcome::LinkedToOther { customer_id: "cust-1".into() }
    );
    // Another tenant can link the same certificate to its own customer.
    assert!(matches!(store.link(&b, link("cust-2", "01")).unwrap(), LinkOutcome::Created(_)));
    // A customer may have several certificates (renewal).
    let renewed = link("cust-1", "02");
    store.link(&a, renewed.clone()).unwrap();
    assert_eq!(store.links_by_customer(&a, "cust-1").unwrap(), vec![first.clone(), renewed.clone()]);
    assert_eq!(store.link_by_certificate(&a, &cert("01")).unwrap(), Some(first));
    assert_eq!(store.link_by_certificate(&b, &cert("01")).unwrap().unwrap().customer_id, "cust-2");
    assert!(store.links_by_customer(&b, "cust-1").unwrap().is_empty());
    assert!(store.link_by_certificate(&b, &cert("02")).unwrap().is_none());
    // A customer id that is a prefix of another does not see its links.
    store.link(&a, link("cust-10", "03")).unwrap();
    assert_eq!(store.links_by_customer(&a, "cust-1").unwrap().len(), 2);
}

fn unlink_one_or_all_and_only_own(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    for serial in ["01", "02", "03"] {
        store.link(&a, link("cust-1", serial)).unwrap();
    }
    store.link(&a, link("cust-2", "04")).unwrap();
    store.link(&b, link("cust-1", "05")).unwrap();

    // Tenant B cannot remove A's links, nor can another customer.
    assert_eq!(store.unlink(&b, "cust-1", Some(&cert("01"))).unwrap(), 0);
    assert_eq!(store.unlink(&a, "cust-2", Some(&cert("01"))).unwrap(), 0);
    assert_eq!(store.unlink(&a, "cust-1", Some(&cert("04"))).unwrap(), 0);
    assert_eq!(store.unlink(&a, "cust-1", Some(&cert("99"))).unwrap(), 0);

    assert_eq!(store.unlink(&a, "cust-1", Some(&cert("02"))).unwrap(), 1);
    assert!(store.link_by_certificate(&a, &cert("02")).unwrap().is_none());
    assert_eq!(store.links_by_customer(&a, "cust-1").unwrap().len(), 2);

    assert_eq!(store.unlink(&a, "cust-1", None).unwrap(), 2);
    assert!(store.links_by_customer(&a, "cust-1").unwrap().is_empty());
    assert!(store.link_by_certificate(&a, &cert("01")).unwrap().is_none());
    assert_eq!(store.unlink(&a, "cust-1", None).unwrap(), 0);
    // Others untouched.
    assert_eq!(store.links_by_customer(&a, "cust-2").unwrap().len(), 1);
    assert_eq!(store.links_by_customer(&b, "cust-1").unwrap().len(), 1);
    // An unlinked certificate may be linked to someone else.
    assert!(matches!(store.link(&a, link("cust-2", "01")).unwrap(), LinkOutcome::Created(_)));
}

fn watch_list_is_per_tenant_with_a_global_index(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    store.watch(&a, &cert("01"), NOW, "auth_card").unwrap();
    store.watch(&a, &cert("01"), NOW, "auth_card").unwrap();
    store.watch(&b, &cert("01"), NOW, "auth_card").unwrap();
    store.watch(&a, &cert("02"), NOW, "signing_card").unwrap();
    // Stored as given: neither whole bytes nor normalised.
    let odd = CertId { ca_key_id: "ab0".into(), serial: "1".into() };
    store.watch(&a, &odd, NOW, "signing_card").unwrap();
    assert_eq!(
        store.watchers(&cert("01")).unwrap(),
        vec![(a.clone(), "auth_card".to_string()), (b.clone(), "auth_card".to_string())]
    );
    assert_eq!(store.watchers(&cert("02")).unwrap(), vec![(a.clone(), "signing_card".to_string())]);
    assert!(store.watchers(&cert("03")).unwrap().is_empty());
    assert_eq!(store.watched(&a).unwrap(), vec![odd, cert("01"), cert("02")]);
    assert_eq!(store.watched(&b).unwrap(), vec![cert("01")]);
    assert!(store.watched(&tenant("bank-c")).unwrap().is_empty());
    // A repeated watch with a new kind replaces it.
    store.watch(&b, &cert("01"), NOW, "auth_phone").unwrap();
    assert_eq!(store.watchers(&cert("01")).unwrap()[1], (b, "auth_phone".to_string()));
}

fn events_are_sequenced_per_tenant_and_deduplicated(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    assert_eq!(store.last_sequence(&a).unwrap(), 0);
    let seqs = store
        .append_events(vec![
            (a.clone(), notice("01")),
            (b.clone(), notice("01")),
            (a.clone(), notice("02")),
            (a.clone(), notice("01")), // duplicate within the batch
        ])
        .unwrap();
    assert_eq!(seqs, vec![1, 1, 2, 1]);
    // Repeat across batches (same change and reason, from a later list): the existing sequence,
    // nothing appended.
    let mut repeat = notice("02");
    repeat.crl_number = Some("43".into());
    assert_eq!(store.append_events(vec![(a.clone(), repeat), (a.clone(), notice("03"))]).unwrap(), vec![2, 3]);
    assert_eq!(store.append_events(Vec::new()).unwrap(), Vec::<u64>::new());
    assert_eq!(store.last_sequence(&a).unwrap(), 3);
    assert_eq!(store.last_sequence(&b).unwrap(), 1);

    let all = store.events_after(&a, 0, 100).unwrap();
    assert_eq!(
        all,
        vec![
            StoredEvent { sequence: 1, event: notice("01") },
            StoredEvent { sequence: 2, event: notice("02") },
            StoredEvent { sequence: 3, event: notice("03") },
        ]
    );
    assert_eq!(store.events_after(&a, 1, 1).unwrap(), vec![StoredEvent { sequence: 2, event: notice("02") }]);
    assert!(store.events_after(&a, 3, 10).unwrap().is_empty());
    assert!(store.events_after(&a, 0, 0).unwrap().is_empty());
    assert!(store.events_after(&a, u64::MAX, 10).unwrap().is_empty());
    assert_eq!(store.events_after(&b, 0, 10).unwrap().len(), 1);
    assert!(store.events_after(&tenant("bank-c"), 0, 10).unwrap().is_empty());

    // An invalid entry refuses the whole batch.
    let bad = RevocationNotice { certificate: CertId { ca_key_id: "X".into(), serial: "1".into() }, ..notice("09") };
    assert!(store.append_events(vec![(a.clone(), notice("04")), (a.clone(), bad)]).is_err());
    assert_eq!(store.last_sequence(&a).unwrap(), 3);
}

fn change(serial: &str, change: StatusChange, reason: Option<&str>, crl: Option<&str>) -> RevocationNotice {
    RevocationNotice {
        change,
        reason: reason.map(Into::into),
        crl_number: crl.map(Into::into),
        revoked_at: NOW + 7,
        ..notice(serial)
    }
}

fn events_record_every_change_of_status(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    let held = change("01", StatusChange::Held, Some("certificate_hold"), Some("10"));
    let revoked = change("01", StatusChange::Revoked, Some("key_compromise"), Some("11"));
    // A hold, then a revocation for good: two events, in order, even within one batch.
    assert_eq!(store.append_events(vec![(a.clone(), held.clone()), (a.clone(), revoked.clone())]).unwrap(), vec![1, 2]);
    // The reason changes: another event.
    let moved = change("01", StatusChange::Revoked, Some("cessation_of_operation"), Some("12"));
    assert_eq!(store.append_events(vec![(a.clone(), moved.clone())]).unwrap(), vec![3]);
    // Repeats of the current status, from the same or later lists: nothing new.
    let repeat = change("01", StatusChange::Revoked, Some("cessation_of_operation"), Some("13"));
    assert_eq!(store.append_events(vec![(a.clone(), moved.clone()), (a.clone(), repeat)]).unwrap(), vec![3, 3]);

    // Hold, release, hold again, release again: four events.
    let hold = |crl: &str| change("02", StatusChange::Held, Some("certificate_hold"), Some(crl));
    let release = |crl: &str| change("02", StatusChange::Released, None, Some(crl));
    let batch = vec![(a.clone(), hold("20")), (a.clone(), release("21"))];
    assert_eq!(store.append_events(batch).unwrap(), vec![4, 5]);
    let batch = vec![(a.clone(), hold("22")), (a.clone(), release("23")), (a.clone(), release("23"))];
    // The second release has nothing to release any more.
    assert_eq!(store.append_events(batch.clone()).unwrap(), vec![6, 7, 0]);
    // The same batch again (a retry after a timeout): the hold is stale now, nothing is released.
    assert_eq!(store.append_events(batch).unwrap(), vec![7, 0, 0]);
    let events: Vec<(u64, StatusChange)> =
        store.events_after(&a, 0, 100).unwrap().into_iter().map(|e| (e.sequence, e.event.change)).collect();
    use StatusChange::{Held, Released, Revoked};
    assert_eq!(events, vec![(1, Held), (2, Revoked), (3, Revoked), (4, Held), (5, Released), (6, Held), (7, Released)]);
    assert_eq!(store.events_after(&a, 0, 1).unwrap()[0].event, held);
    assert_eq!(store.events_after(&a, 1, 1).unwrap()[0].event, revoked);
    assert_eq!(store.last_sequence(&a).unwrap(), 7);
    // Survives a reopen, and goes on from there.
    h.reopen();
    let store = h.store();
    assert_eq!(store.append_events(vec![(a.clone(), hold("24")), (a.clone(), hold("25"))]).unwrap(), vec![8, 8]);
    assert_eq!(store.last_sequence(&a).unwrap(), 8);
}

fn stale_notices_are_not_appended_whatever_the_length_of_the_number(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    let big = "123456789012345678901234567890"; // more digits than any integer type holds
    let held = change("01", StatusChange::Held, Some("certificate_hold"), Some(big));
    assert_eq!(store.append_events(vec![(a.clone(), held)]).unwrap(), vec![1]);
    // Lower numbers are stale, however they are written: shorter, or with leading zeros.
    for stale in ["99999999999999999999999999999", "000123456789012345678901234567889", "9"] {
        let revoked = change("01", StatusChange::Revoked, Some("key_compromise"), Some(stale));
        assert_eq!(store.append_events(vec![(a.clone(), revoked)]).unwrap(), vec![1], "{stale}");
    }
    // The same number with leading zeros is not lower; nor is a longer one; nor no number.
    let same = change("01", StatusChange::Revoked, Some("key_compromise"), Some(&format!("00{big}")));
    let longer = change("01", StatusChange::Held, Some("certificate_hold"), Some("1000000000000000000000000000000"));
    let unnumbered = change("01", StatusChange::Revoked, Some("affiliation_changed"), None);
    let batch = vec![(a.clone(), same), (a.clone(), longer), (a.clone(), unnumbered)];
    assert_eq!(store.append_events(batch).unwrap(), vec![2, 3, 4]);
    // The floor stays at the highest number seen, also after an event without a number.
    let lower = change("01", StatusChange::Held, Some("certificate_hold"), Some(big));
    assert_eq!(store.append_events(vec![(a.clone(), lower)]).unwrap(), vec![4]);
    // A repeat from a newer list raises the floor: an older list's different status is stale.
    let repeat =
        change("01", StatusChange::Revoked, Some("affiliation_changed"), Some("2000000000000000000000000000000"));
    let older = change("01", StatusChange::Held, Some("certificate_hold"), Some("1500000000000000000000000000000"));
    assert_eq!(store.append_events(vec![(a.clone(), repeat), (a.clone(), older)]).unwrap(), vec![4, 4]);
    assert_eq!(store.last_sequence(&a).unwrap(), 4);
    // Numbers must be decimal.
    for bad in ["", "12a", "-1", "0x10"] {
        let notice = change("01", StatusChange::Held, None, Some(bad));
        let err = store.append_events(vec![(a.clone(), notice)]).unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput { field: "crl_number", .. }), "{bad:?}: {err}");
    }
}

fn a_release_needs_a_hold(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    let release = |serial: &str| change(serial, StatusChange::Released, None, Some("30"));
    // Nothing recorded, or revoked for good: nothing to release (0), nothing appended.
    let revoked = change("02", StatusChange::Revoked, Some("key_compromise"), Some("29"));
    store.append_events(vec![(a.clone(), revoked)]).unwrap();
    assert_eq!(store.append_events(vec![(a.clone(), release("01")), (a.clone(), release("02"))]).unwrap(), vec![0, 0]);
    assert_eq!(store.last_sequence(&a).unwrap(), 1);
    // Another tenant's hold does not make this tenant's release.
    let held = change("01", StatusChange::Held, Some("certificate_hold"), Some("29"));
    store.append_events(vec![(b.clone(), held)]).unwrap();
    assert_eq!(store.append_events(vec![(a.clone(), release("01")), (b.clone(), release("01"))]).unwrap(), vec![0, 2]);
    let released = store.events_after(&b, 1, 10).unwrap();
    assert_eq!(released, vec![StoredEvent { sequence: 2, event: release("01") }]);
    assert_eq!(store.last_sequence(&a).unwrap(), 1);
}

fn last_event_for_is_the_current_status_per_tenant(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    assert_eq!(store.last_event_for(&a, &cert("01")).unwrap(), None);
    let held = change("01", StatusChange::Held, Some("certificate_hold"), Some("5"));
    store.append_events(vec![(a.clone(), notice("02")), (a.clone(), held.clone())]).unwrap();
    assert_eq!(store.last_event_for(&a, &cert("01")).unwrap(), Some(StoredEvent { sequence: 2, event: held.clone() }));
    assert_eq!(store.last_event_for(&b, &cert("01")).unwrap(), None);
    // A repeat keeps the event that recorded the status; a change replaces it.
    let repeat = change("01", StatusChange::Held, Some("certificate_hold"), Some("6"));
    store.append_events(vec![(a.clone(), repeat)]).unwrap();
    assert_eq!(store.last_event_for(&a, &cert("01")).unwrap().unwrap().event, held);
    let released = change("01", StatusChange::Released, None, Some("7"));
    store.append_events(vec![(a.clone(), released.clone())]).unwrap();
    assert_eq!(store.last_event_for(&a, &cert("01")).unwrap(), Some(StoredEvent { sequence: 3, event: released }));
    assert!(store.last_event_for(&a, &CertId { ca_key_id: "AB".into(), serial: "1".into() }).is_err());
}

fn passed(id: &str, serial: &str, verified_at: i64) -> VerificationRecord {
    VerificationRecord { certificate: Some(cert(serial)), verified_at, ..verification(id, verified_at) }
}

fn entitlement_comes_from_own_links_and_passed_verifications_within_retention(h: &mut Harness) {
    let store = h.store();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    let asked: Vec<CertId> = ["01", "02", "03", "04", "05"].into_iter().map(cert).collect();
    assert_eq!(store.entitled(&a, &asked, NOW, 100).unwrap(), vec![false; 5]);
    store.put_verification(&a, passed("v1", "01", NOW)).unwrap();
    store.link(&a, link("cust-1", "02")).unwrap();
    // A failed verification does not entitle; a passed one without a certificate has nothing to.
    store.put_verification(&a, VerificationRecord { passed: false, ..passed("v2", "03", NOW) }).unwrap();
    store.put_verification(&a, VerificationRecord { certificate: None, ..passed("v3", "04", NOW) }).unwrap();
    // Another tenant's verification or link never entitles.
    store.put_verification(&b, passed("v1", "04", NOW)).unwrap();
    store.link(&b, link("cust-1", "05")).unwrap();
    assert_eq!(store.entitled(&a, &asked, NOW, 100).unwrap(), vec![true, true, false, false, false]);
    assert_eq!(store.entitled(&b, &asked, NOW, 100).unwrap(), vec![false, false, false, true, true]);
    // Order and repeats follow the question.
    let order = vec![cert("05"), cert("01"), cert("05"), cert("02")];
    assert_eq!(store.entitled(&a, &order, NOW, 100).unwrap(), vec![false, true, false, true]);
    assert!(store.entitled(&a, &[], NOW, 100).unwrap().is_empty());
    // The API's 1000 ids per call: one call answers them all.
    let mut many: Vec<CertId> = (0..999).map(|i| cert(&format!("{:x}", 0x1000 + i))).collect();
    many.push(cert("01"));
    let answers = store.entitled(&a, &many, NOW, 100).unwrap();
    assert_eq!(answers.len(), 1000);
    assert_eq!(answers.iter().filter(|yes| **yes).count(), 1);
    assert!(answers[999]);
    assert!(matches!(store.entitled(&a, &asked, NOW, -1), Err(StoreError::InvalidInput { .. })));
    let bad = [CertId { ca_key_id: "AB".into(), serial: "1".into() }];
    assert!(matches!(store.entitled(&a, &bad, NOW, 100), Err(StoreError::InvalidInput { .. })));
}

fn entitlement_expires_with_retention_and_purge(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    let (one, two) = ([cert("01")], [cert("02")]);
    store.put_verification(&a, passed("old", "01", NOW - 100)).unwrap();
    store.put_verification(&a, passed("new", "01", NOW)).unwrap();
    // An older record written later does not move the latest back.
    store.put_verification(&a, passed("older", "01", NOW - 500)).unwrap();
    store.put_verification(&a, passed("v2", "02", NOW - 100)).unwrap();
    // At or after now - retention.
    assert_eq!(store.entitled(&a, &one, NOW + 50, 50).unwrap(), vec![true]);
    assert_eq!(store.entitled(&a, &one, NOW + 51, 50).unwrap(), vec![false]);
    assert_eq!(store.entitled(&a, &two, NOW, 100).unwrap(), vec![true]);
    assert_eq!(store.entitled(&a, &two, NOW, 99).unwrap(), vec![false]);
    // A purge with a retention that keeps "new" keeps the entitlement; the records it removes are
    // counted, not the index.
    assert_eq!(store.purge_expired(NOW + 50, 60).unwrap(), 3);
    assert!(store.get_verification(&a, "new").unwrap().is_some());
    assert_eq!(store.entitled(&a, &one, NOW + 50, 60).unwrap(), vec![true]);
    assert_eq!(store.entitled(&a, &two, NOW + 50, 1000).unwrap(), vec![false], "purged with its record");
    // Once the last passed record is past retention, the purge removes the entitlement too.
    assert_eq!(store.purge_expired(NOW + 61, 60).unwrap(), 1);
    assert_eq!(store.entitled(&a, &one, NOW + 61, 1000).unwrap(), vec![false]);
    // A link made after the verification expired still entitles.
    store.link(&a, link("cust-1", "01")).unwrap();
    assert_eq!(store.entitled(&a, &one, NOW + 10_000, 0).unwrap(), vec![true]);
}

fn unlink_keeps_entitlement_of_a_recent_passed_verification(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    let asked = [cert("01"), cert("02")];
    store.link(&a, link("cust-1", "01")).unwrap();
    store.link(&a, link("cust-1", "02")).unwrap();
    store.put_verification(&a, passed("v1", "02", NOW)).unwrap();
    assert_eq!(store.entitled(&a, &asked, NOW + 10, 100).unwrap(), vec![true, true]);
    assert_eq!(store.unlink(&a, "cust-1", None).unwrap(), 2);
    // The link's entitlement is gone; the passed verification's stays while within retention.
    assert_eq!(store.entitled(&a, &asked, NOW + 10, 100).unwrap(), vec![false, true]);
    assert_eq!(store.entitled(&a, &asked, NOW + 101, 100).unwrap(), vec![false, false]);
}

fn record_verification_stores_record_entitlement_and_watch_or_nothing(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    let watch = |kind: &str| WatchRequest { certificate: cert("01"), not_after: NOW + 1000, kind: kind.into() };
    store.record_verification(&a, passed("v1", "01", NOW), Some(watch("auth_card"))).unwrap();
    assert_eq!(store.get_verification(&a, "v1").unwrap(), Some(passed("v1", "01", NOW)));
    assert_eq!(store.entitled(&a, &[cert("01")], NOW, 0).unwrap(), vec![true]);
    assert_eq!(store.watchers(&cert("01")).unwrap(), vec![(a.clone(), "auth_card".to_string())]);
    // A watch that fails validation stores nothing: neither the record nor its entitlement.
    let err = store.record_verification(&a, passed("v2", "02", NOW), Some(watch(""))).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { field: "kind", .. }), "{err}");
    let bad_cert = WatchRequest { certificate: CertId { ca_key_id: "AB".into(), serial: "1".into() }, ..watch("k") };
    assert!(store.record_verification(&a, passed("v2", "02", NOW), Some(bad_cert)).is_err());
    assert_eq!(store.get_verification(&a, "v2").unwrap(), None);
    assert_eq!(store.entitled(&a, &[cert("02")], NOW, 0).unwrap(), vec![false]);
    // A duplicate id stores nothing either: the watch's new kind is not applied.
    let err = store.record_verification(&a, passed("v1", "02", NOW + 5), Some(watch("signing_card"))).unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { what: "verification" }), "{err}");
    assert_eq!(store.watchers(&cert("01")).unwrap(), vec![(a.clone(), "auth_card".to_string())]);
    assert_eq!(store.entitled(&a, &[cert("02")], NOW + 5, 0).unwrap(), vec![false]);
    // Without a watch.
    store.record_verification(&a, passed("v3", "03", NOW), None).unwrap();
    assert_eq!(store.entitled(&a, &[cert("03")], NOW, 0).unwrap(), vec![true]);
    assert!(store.watchers(&cert("03")).unwrap().is_empty());
}

fn customer_ids_and_references_of_128_multibyte_characters_are_accepted(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    // 3 bytes per character (384 bytes) and 4 bytes per character (512 bytes), at the API's limit
    // of 128 characters.
    for (i, c) in ['あ', '𠮷'].into_iter().enumerate() {
        let text: String = std::iter::repeat_n(c, 128).collect();
        let serial = format!("0{i}");
        let record = link(&text, &serial);
        assert_eq!(store.link(&a, record.clone()).unwrap(), LinkOutcome::Created(record.clone()));
        assert_eq!(store.links_by_customer(&a, &text).unwrap(), vec![record.clone()]);
        assert_eq!(store.link_by_certificate(&a, &cert(&serial)).unwrap(), Some(record.clone()));
        let with_customer = RevocationNotice { customer_id: Some(text.clone()), ..notice(&serial) };
        store.append_events(vec![(a.clone(), with_customer.clone())]).unwrap();
        assert_eq!(store.last_event_for(&a, &cert(&serial)).unwrap().unwrap().event, with_customer);
        assert_eq!(store.unlink(&a, &text, Some(&cert(&serial))).unwrap(), 1);

        let id = format!("c{i}");
        let issued = Challenge { transaction_reference: text.clone(), ..challenge(NOW + 300) };
        store.put_challenge(&a, &id, issued.clone()).unwrap();
        assert_eq!(store.consume_challenge(&a, &id, NOW).unwrap(), ConsumeOutcome::Consumed(issued));
        let record = VerificationRecord { transaction_reference: text.clone(), ..verification(&format!("v{i}"), NOW) };
        store.put_verification(&a, record.clone()).unwrap();
        assert_eq!(store.get_verification(&a, &record.id).unwrap(), Some(record));
        // Ids of 128 such characters too.
        store.put_verification(&a, verification(&text, NOW)).unwrap();
        assert!(store.get_verification(&a, &text).unwrap().is_some());
    }
    // A character more is refused as input, not as a backend failure.
    let too_long: String = std::iter::repeat_n('𠮷', 129).collect();
    let err = store.link(&a, link(&too_long, "09")).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { field: "customer_id", .. }), "{err}");
    let err = store.put_verification(&a, verification(&too_long, NOW)).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { field: "verification id", .. }), "{err}");
}

fn meta_round_trip(h: &mut Harness) {
    let store = h.store();
    assert_eq!(store.get_meta("crl/auth").unwrap(), None);
    store.put_meta("crl/auth", b"1234").unwrap();
    store.put_meta("crl/auth", b"1235").unwrap();
    assert_eq!(store.get_meta("crl/auth").unwrap(), Some(b"1235".to_vec()));
    assert!(store.put_meta("", b"x").is_err());
}

fn everything_survives_a_reopen(h: &mut Harness) {
    let a = tenant("bank-a");
    {
        let store = h.store();
        // LocalStore: only one handle at a time. RedisStore: every handle shares the state.
        h.check_handles();
        store.put_challenge(&a, "used", challenge(NOW + 300)).unwrap();
        store.put_challenge(&a, "pending", challenge(NOW + 300)).unwrap();
        store.consume_challenge(&a, "used", NOW).unwrap();
        store.put_verification(&a, verification("v1", NOW)).unwrap();
        store.link(&a, link("cust-1", "01")).unwrap();
        store.watch(&a, &cert("01"), NOW, "auth_card").unwrap();
        store.append_events(vec![(a.clone(), notice("01"))]).unwrap();
        store.put_meta("k", b"v").unwrap();
        let write = DirectoryWrite {
            put: vec![("principal/bank-a".into(), "{}".into())],
            log: Some("created".into()),
            ..DirectoryWrite::default()
        };
        assert_eq!(store.directory_write(write).unwrap(), DirectoryOutcome::Applied { log_sequence: Some(1) });
    }
    // LocalStore: the file is closed and opened again. RedisStore: redis-server is killed with
    // SIGKILL and restarted on its directory, so everything below comes back from its AOF.
    h.reopen();
    let store = h.store();
    h.check_handles();
    assert_eq!(store.consume_challenge(&a, "used", NOW + 1).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: NOW });
    assert!(matches!(store.consume_challenge(&a, "pending", NOW + 1).unwrap(), ConsumeOutcome::Consumed(_)));
    assert_eq!(store.get_verification(&a, "v1").unwrap(), Some(verification("v1", NOW)));
    assert_eq!(store.links_by_customer(&a, "cust-1").unwrap(), vec![link("cust-1", "01")]);
    assert_eq!(store.watchers(&cert("01")).unwrap(), vec![(a.clone(), "auth_card".to_string())]);
    assert_eq!(store.last_sequence(&a).unwrap(), 1);
    assert_eq!(store.append_events(vec![(a.clone(), notice("01")), (a.clone(), notice("02"))]).unwrap(), vec![1, 2]);
    assert_eq!(store.get_meta("k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(store.directory_get("principal/bank-a").unwrap().as_deref(), Some("{}"));
    assert_eq!(store.platform_log(0, 10).unwrap(), vec![PlatformLogEntry { sequence: 1, entry: "created".into() }]);
}

fn directory_writes_are_guarded_atomic_and_logged(h: &mut Harness) {
    let store = h.store();
    let put = |key: &str, value: &str| (key.to_owned(), value.to_owned());
    assert_eq!(store.directory_get("principal/a").unwrap(), None);
    assert_eq!(store.platform_log(0, 10).unwrap(), vec![]);
    // Create only if absent, with a log entry.
    let create = DirectoryWrite {
        expect: vec![("principal/a".into(), None)],
        put: vec![put("principal/a", "v1"), put("credential/k1", "a")],
        delete: vec![],
        log: Some("create a".into()),
    };
    assert_eq!(store.directory_write(create.clone()).unwrap(), DirectoryOutcome::Applied { log_sequence: Some(1) });
    // The same again: the expectation fails and nothing is written or logged.
    assert_eq!(store.directory_write(create).unwrap(), DirectoryOutcome::Conflict);
    assert_eq!(store.platform_log(0, 10).unwrap().len(), 1);
    // A stale expectation fails; the right one applies, deletes and logs.
    let stale = DirectoryWrite {
        expect: vec![("principal/a".into(), Some("v0".into()))],
        put: vec![put("principal/a", "v2")],
        ..DirectoryWrite::default()
    };
    assert_eq!(store.directory_write(stale).unwrap(), DirectoryOutcome::Conflict);
    assert_eq!(store.directory_get("principal/a").unwrap().as_deref(), Some("v1"));
    let update = DirectoryWrite {
        expect: vec![("principal/a".into(), Some("v1".into()))],
        put: vec![put("principal/a", "v2"), put("principal/b", "w")],
        delete: vec!["credential/k1".into()],
        log: Some("update a".into()),
    };
    assert_eq!(store.directory_write(update).unwrap(), DirectoryOutcome::Applied { log_sequence: Some(2) });
    assert_eq!(store.directory_get("credential/k1").unwrap(), None);
    // Unlogged writes take no sequence.
    let touch = DirectoryWrite { put: vec![put("used/k2", "123")], ..DirectoryWrite::default() };
    assert_eq!(store.directory_write(touch).unwrap(), DirectoryOutcome::Applied { log_sequence: None });
    // Scans are by prefix, in key order; "principal/" does not match "principalx".
    store.directory_write(DirectoryWrite { put: vec![put("principalx", "z")], ..DirectoryWrite::default() }).unwrap();
    assert_eq!(store.directory_scan("principal/").unwrap(), vec![put("principal/a", "v2"), put("principal/b", "w")]);
    assert_eq!(store.directory_scan("nothing/").unwrap(), vec![]);
    let log = store.platform_log(0, 10).unwrap();
    assert_eq!(
        log.iter().map(|e| (e.sequence, e.entry.as_str())).collect::<Vec<_>>(),
        vec![(1, "create a"), (2, "update a")]
    );
    assert_eq!(store.platform_log(1, 10).unwrap().len(), 1);
    assert_eq!(store.platform_log(0, 1).unwrap().len(), 1);
    assert_eq!(store.platform_log(u64::MAX, 10).unwrap(), vec![]);
    // Keys and values are bounded.
    let empty_key = DirectoryWrite { put: vec![put("", "x")], ..DirectoryWrite::default() };
    assert!(store.directory_write(empty_key).is_err());
    let huge =
        DirectoryWrite { put: vec![put("k", &"x".repeat(MAX_DIRECTORY_VALUE_LEN + 1))], ..DirectoryWrite::default() };
    assert!(store.directory_write(huge).is_err());
}

fn concurrent_directory_writers_with_one_expectation_see_one_success(h: &mut Harness) {
    let store = h.store();
    let applied: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|writer| {
                let store = store.clone();
                scope.spawn(move || {
                    let write = DirectoryWrite {
                        expect: vec![("principal/race".into(), None)],
                        put: vec![("principal/race".into(), format!("writer-{writer}"))],
                        delete: vec![],
                        log: Some(format!("writer-{writer}")),
                    };
                    matches!(store.directory_write(write).unwrap(), DirectoryOutcome::Applied { .. })
                })
            })
            .collect();
        handles.into_iter().map(|handle| usize::from(handle.join().unwrap())).sum()
    });
    assert_eq!(applied, 1);
    let winner = store.directory_get("principal/race").unwrap().unwrap();
    let log = store.platform_log(0, 100).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry, winner);
}

fn concurrent_consumers_see_exactly_one_success(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, a) = (std::sync::Arc::clone(store), a.clone());
            std::thread::spawn(move || store.consume_challenge(&a, "c1", NOW + i).unwrap())
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| matches!(o, ConsumeOutcome::Consumed(_))).count(), 1);
    assert_eq!(outcomes.iter().filter(|o| matches!(o, ConsumeOutcome::AlreadyUsed { .. })).count(), 7);
}

#[test]
fn records_are_stored_as_json() {
    // The stored format is part of the contract between the two stores and with migrations.
    let c = challenge(NOW + 1);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["challenge"], "010203ff");
    let v = serde_json::to_value(verification("v", NOW)).unwrap();
    assert_eq!(v["kind"], "authentication");
    assert_eq!(serde_json::to_value(tenant("x")).unwrap(), "x");
}

fn peek_reads_without_consuming(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    for _ in 0..2 {
        assert_eq!(store.peek_challenge(&a, "c1", NOW).unwrap(), ConsumeOutcome::Consumed(challenge(NOW + 300)));
    }
    assert_eq!(store.peek_challenge(&a, "c1", NOW + 300).unwrap(), ConsumeOutcome::Expired(challenge(NOW + 300)));
    assert_eq!(store.peek_challenge(&tenant("bank-b"), "c1", NOW).unwrap(), ConsumeOutcome::Unknown);
    assert!(matches!(store.consume_challenge(&a, "c1", NOW + 1).unwrap(), ConsumeOutcome::Consumed(_)));
    assert_eq!(store.peek_challenge(&a, "c1", NOW + 2).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: NOW + 1 });
}

fn settle_proof_consumes_and_records_in_one_step(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    let watch = WatchRequest { certificate: cert("01"), not_after: NOW + 1000, kind: "auth_card".into() };
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    let outcome = store.settle_proof(&a, "c1", NOW, passed("v1", "01", NOW), Some(watch.clone())).unwrap();
    assert_eq!(outcome, ConsumeOutcome::Consumed(challenge(NOW + 300)));
    assert_eq!(store.get_verification(&a, "v1").unwrap(), Some(passed("v1", "01", NOW)));
    assert_eq!(store.entitled(&a, &[cert("01")], NOW, 0).unwrap(), vec![true]);
    assert_eq!(store.watchers(&cert("01")).unwrap(), vec![(a.clone(), "auth_card".to_string())]);
    assert_eq!(store.peek_challenge(&a, "c1", NOW).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: NOW });
    // A duplicate record id fails and consumes nothing.
    store.put_challenge(&a, "c2", challenge(NOW + 300)).unwrap();
    let err = store.settle_proof(&a, "c2", NOW, passed("v1", "02", NOW), None).unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { what: "verification" }), "{err}");
    assert!(matches!(store.peek_challenge(&a, "c2", NOW).unwrap(), ConsumeOutcome::Consumed(_)));
    // An expired or unknown challenge: the attempt is kept, refused.
    store.put_challenge(&a, "c3", challenge(NOW + 10)).unwrap();
    let outcome = store.settle_proof(&a, "c3", NOW + 10, passed("v3", "03", NOW + 10), Some(watch)).unwrap();
    assert_eq!(outcome, ConsumeOutcome::Expired(challenge(NOW + 10)));
    assert_eq!(store.get_verification(&a, "v3").unwrap(), Some(passed("v3", "03", NOW + 10).refused()));
    assert_eq!(store.entitled(&a, &[cert("03")], NOW + 10, 0).unwrap(), vec![false]);
    assert_eq!(store.peek_challenge(&a, "c3", NOW + 11).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: NOW + 10 });
    let outcome = store.settle_proof(&a, "nope", NOW, passed("v4", "04", NOW), None).unwrap();
    assert_eq!(outcome, ConsumeOutcome::Unknown);
    assert_eq!(store.get_verification(&a, "v4").unwrap().map(|record| record.passed), Some(false));
}

fn settle_proof_keeps_a_lost_race_refused(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    // Both read the challenge pending; the first to commit wins.
    assert!(matches!(store.peek_challenge(&a, "c1", NOW).unwrap(), ConsumeOutcome::Consumed(_)));
    assert!(matches!(store.peek_challenge(&a, "c1", NOW).unwrap(), ConsumeOutcome::Consumed(_)));
    let watch = WatchRequest { certificate: cert("02"), not_after: NOW + 1000, kind: "auth_card".into() };
    assert!(matches!(
        store.settle_proof(&a, "c1", NOW, passed("v1", "01", NOW), None).unwrap(),
        ConsumeOutcome::Consumed(_)
    ));
    let late = store.settle_proof(&a, "c1", NOW + 1, passed("v2", "02", NOW + 1), Some(watch)).unwrap();
    assert_eq!(late, ConsumeOutcome::AlreadyUsed { used_at: NOW });
    let kept = store.get_verification(&a, "v2").unwrap().unwrap();
    assert!(!kept.passed && kept.certificate.is_none(), "the loser is never kept as passed: {kept:?}");
    assert_eq!(store.entitled(&a, &[cert("02")], NOW + 1, 0).unwrap(), vec![false]);
    assert!(store.watchers(&cert("02")).unwrap().is_empty());
}

fn concurrent_settles_accept_exactly_one(h: &mut Harness) {
    let store = h.store();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, a) = (std::sync::Arc::clone(store), a.clone());
            std::thread::spawn(move || {
                let record = passed(&format!("v{i}"), "01", NOW + i);
                store.settle_proof(&a, "c1", NOW + i, record, None).unwrap()
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| matches!(o, ConsumeOutcome::Consumed(_))).count(), 1);
    let kept_passed =
        (0..8).filter(|i| store.get_verification(&a, &format!("v{i}")).unwrap().is_some_and(|r| r.passed)).count();
    assert_eq!(kept_passed, 1, "exactly one attempt kept as passed");
}

/// One leaf per outcome, each naming its outcome, so the test sees which one was kept.
fn leaves_for(write: &TenantWrite, call: &str) -> AuditLeaves {
    write.outcomes().iter().fold(AuditLeaves::default(), |leaves, outcome| {
        leaves.with(*outcome, format!("{{\"call\":\"{call}\",\"outcome\":\"{}\"}}", outcome.as_str()))
    })
}

fn audited(store: &dyn jpki_store::TenantStore, t: &TenantId, write: TenantWrite, call: &str) -> Audited {
    let leaves = leaves_for(&write, call);
    store.write_audited(t, write, leaves).unwrap()
}

fn audited_writes_append_the_leaf_of_their_outcome_in_the_same_commit(h: &mut Harness) {
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    {
        let store = h.store().as_ref();
        assert_eq!(store.audit_size(&a).unwrap(), 0);
        let nothing = audited(store, &a, TenantWrite::Nothing, "read");
        assert_eq!(nothing, Audited { answer: WriteAnswer::Done, index: 0 });
        let put = TenantWrite::PutChallenge { id: "c1".into(), challenge: challenge(NOW + 300) };
        assert_eq!(audited(store, &a, put, "issue").index, 1);
        let settle = |id: &str, record: &str| TenantWrite::SettleProof {
            id: id.into(),
            now: NOW,
            verified: passed(record, "01", NOW),
            watch: Some(WatchRequest { certificate: cert("01"), not_after: NOW + 1000, kind: "auth_card".into() }),
        };
        let first = audited(store, &a, settle("c1", "v1"), "proof");
        assert_eq!(first.index, 2);
        assert!(matches!(first.answer, WriteAnswer::Consumed(ConsumeOutcome::Consumed(_))));
        let replay = audited(store, &a, settle("c1", "v2"), "proof");
        assert_eq!(replay.answer, WriteAnswer::Consumed(ConsumeOutcome::AlreadyUsed { used_at: NOW }));
        let unknown = audited(store, &a, settle("nope", "v3"), "proof");
        assert_eq!(unknown.answer, WriteAnswer::Consumed(ConsumeOutcome::Unknown));
        // The write itself happened: the record, its entitlement and watch.
        assert!(store.get_verification(&a, "v1").unwrap().unwrap().passed);
        assert!(!store.get_verification(&a, "v2").unwrap().unwrap().passed);
        let record = TenantWrite::RecordVerification { record: verification("s1", NOW), watch: None };
        assert_eq!(audited(store, &a, record, "sign").index, 5);
        let linked = audited(store, &a, TenantWrite::Link { record: link("cust-1", "01") }, "link");
        assert_eq!(linked.answer, WriteAnswer::Linked(LinkOutcome::Created(link("cust-1", "01"))));
        let again = audited(store, &a, TenantWrite::Link { record: link("cust-1", "01") }, "link");
        assert!(matches!(again.answer, WriteAnswer::Linked(LinkOutcome::AlreadyLinked(_))));
        let other = audited(store, &a, TenantWrite::Link { record: link("cust-2", "01") }, "link");
        assert!(matches!(other.answer, WriteAnswer::Linked(LinkOutcome::LinkedToOther { .. })));
        let unlink = TenantWrite::Unlink { customer_id: "cust-1".into(), certificate: None };
        let unlinked = audited(store, &a, unlink, "unlink");
        assert_eq!(unlinked, Audited { answer: WriteAnswer::Unlinked(1), index: 9 });
        // Another tenant's log is its own.
        assert_eq!(audited(store, &b, TenantWrite::Nothing, "read").index, 0);
    }
    // Every leaf is durable with its write.
    h.reopen();
    let store = h.store();
    assert_eq!(store.audit_size(&a).unwrap(), 10);
    assert_eq!(store.audit_size(&b).unwrap(), 1);
    let leaves = store.audit_leaves(&a, 0, 100).unwrap();
    let kept: Vec<&str> = leaves.iter().map(|leaf| leaf.split('"').nth(7).unwrap()).collect();
    assert_eq!(
        kept,
        [
            "done",
            "done",
            "consumed",
            "already_used",
            "unknown",
            "done",
            "created",
            "already_linked",
            "linked_to_other",
            "done"
        ]
    );
    assert_eq!(store.audit_leaves(&a, 8, 100).unwrap(), leaves[8..].to_vec());
    assert_eq!(store.audit_leaves(&a, 10, 100).unwrap(), Vec::<String>::new());
    assert_eq!(store.audit_leaves(&tenant("bank-c"), 0, 100).unwrap(), Vec::<String>::new());
    assert!(store.get_verification(&a, "v1").unwrap().is_some());
    assert_eq!(store.consume_challenge(&a, "c1", NOW).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: NOW });
    // The next leaf continues the same log.
    assert_eq!(audited(store.as_ref(), &a, TenantWrite::Nothing, "read").index, 10);
}

fn audited_writes_that_fail_append_nothing(h: &mut Harness) {
    let store = h.store().as_ref();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
    // A duplicate challenge id: the write's error, and no leaf.
    let put = TenantWrite::PutChallenge { id: "c1".into(), challenge: challenge(NOW + 300) };
    let err = store.write_audited(&a, put.clone(), leaves_for(&put, "issue")).unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { what: "challenge" }), "{err}");
    // Leaves missing an outcome, holding a newline, or empty: refused before anything is written.
    let settle = TenantWrite::SettleProof { id: "c1".into(), now: NOW, verified: verification("v1", NOW), watch: None };
    let partial = AuditLeaves::one("{}".into()).with(Outcome::Consumed, "{}".into());
    assert!(matches!(store.write_audited(&a, settle.clone(), partial), Err(StoreError::InvalidInput { .. })));
    let newline = AuditLeaves::one("{\n}".into());
    assert!(matches!(store.write_audited(&a, TenantWrite::Nothing, newline), Err(StoreError::InvalidInput { .. })));
    let empty = AuditLeaves::one(String::new());
    assert!(matches!(store.write_audited(&a, TenantWrite::Nothing, empty), Err(StoreError::InvalidInput { .. })));
    assert!(matches!(
        store.write_audited(&a, TenantWrite::Nothing, AuditLeaves::default()),
        Err(StoreError::InvalidInput { .. })
    ));
    assert!(matches!(store.peek_challenge(&a, "c1", NOW).unwrap(), ConsumeOutcome::Consumed(_)));
    assert_eq!(store.get_verification(&a, "v1").unwrap(), None);
    assert_eq!(store.audit_size(&a).unwrap(), 0);
    // A page is bounded.
    for i in 0..(MAX_AUDIT_PAGE + 5) {
        store.write_audited(&a, TenantWrite::Nothing, AuditLeaves::one(format!("{{\"i\":{i}}}"))).unwrap();
    }
    assert_eq!(store.audit_leaves(&a, 0, usize::MAX).unwrap().len(), MAX_AUDIT_PAGE);
    assert_eq!(store.audit_leaves(&a, 1000, 3).unwrap(), ["{\"i\":1000}", "{\"i\":1001}", "{\"i\":1002}"]);
}

fn concurrent_audited_writes_get_distinct_consecutive_indexes(h: &mut Harness) {
    let a = tenant("bank-a");
    let store = h.store().clone();
    let threads: Vec<_> = (0..6)
        .map(|thread| {
            let (store, a) = (store.clone(), a.clone());
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let leaf = format!("{{\"t\":{thread},\"i\":{i}}}");
                        store.write_audited(&a, TenantWrite::Nothing, AuditLeaves::one(leaf.clone())).unwrap().index
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut indexes: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..150).collect::<Vec<u64>>());
    let leaves = store.audit_leaves(&a, 0, 1000).unwrap();
    assert_eq!(leaves.len(), 150);
    assert_eq!(leaves.iter().collect::<std::collections::BTreeSet<_>>().len(), 150);
}

fn leaf(i: usize) -> AuditLeaves {
    AuditLeaves::one(format!("{{\"i\":{i}}}"))
}

fn audit_trim_drops_leaves_below_the_floor_and_keeps_the_size(h: &mut Harness) {
    let (a, b, c, d) = (tenant("bank-a"), tenant("bank-b"), tenant("bank-c"), tenant("bank-d"));
    let before;
    {
        let store = h.store().as_ref();
        for i in 0..5 {
            store.write_audited(&a, TenantWrite::Nothing, leaf(i)).unwrap();
        }
        store.write_audited(&b, TenantWrite::Nothing, leaf(0)).unwrap();
        before = store.audit_leaves(&a, 0, 100).unwrap();
        assert_eq!(store.audit_tenants().unwrap(), [a.clone(), b.clone()]);
        assert_eq!(store.audit_floor(&a).unwrap(), 0);
        // Beyond the size: refused, for a tenant with a log and one without.
        assert!(matches!(store.audit_trim(&a, 6), Err(StoreError::InvalidInput { .. })));
        assert!(matches!(store.audit_trim(&c, 1), Err(StoreError::InvalidInput { .. })));
        store.audit_trim(&c, 0).unwrap();
        assert_eq!(store.audit_floor(&a).unwrap(), 0);

        store.audit_trim(&a, 3).unwrap();
        assert_eq!(store.audit_floor(&a).unwrap(), 3);
        assert_eq!(store.audit_size(&a).unwrap(), 5);
        assert!(matches!(store.audit_leaves(&a, 0, 100), Err(StoreError::AuditTrimmed { floor: 3 })));
        assert!(matches!(store.audit_leaves(&a, 2, 1), Err(StoreError::AuditTrimmed { floor: 3 })));
        assert_eq!(store.audit_leaves(&a, 3, 100).unwrap(), before[3..].to_vec());
        assert_eq!(store.audit_leaves(&a, 4, 1).unwrap(), before[4..].to_vec());
        // Idempotent, and an older trim is harmless.
        store.audit_trim(&a, 3).unwrap();
        store.audit_trim(&a, 1).unwrap();
        assert_eq!(store.audit_floor(&a).unwrap(), 3);
        // The log goes on at the same size; another tenant is untouched.
        assert_eq!(store.write_audited(&a, TenantWrite::Nothing, leaf(5)).unwrap().index, 5);
        assert_eq!(store.audit_floor(&b).unwrap(), 0);
        assert_eq!(store.audit_leaves(&b, 0, 10).unwrap().len(), 1);
        // More leaves than one batch of a trim.
        for i in 0..1200 {
            store.write_audited(&d, TenantWrite::Nothing, leaf(i)).unwrap();
        }
        store.audit_trim(&d, 1100).unwrap();
    }
    // The trim is durable: after a reopen (Redis: SIGKILL and a restart from the AOF).
    h.reopen();
    let store = h.store().as_ref();
    assert_eq!(store.audit_floor(&a).unwrap(), 3);
    assert_eq!(store.audit_size(&a).unwrap(), 6);
    assert!(matches!(store.audit_leaves(&a, 0, 100), Err(StoreError::AuditTrimmed { floor: 3 })));
    let after = store.audit_leaves(&a, 3, 100).unwrap();
    assert_eq!(after[..2], before[3..]);
    assert_eq!(after[2], "{\"i\":5}");
    assert_eq!(store.audit_floor(&d).unwrap(), 1100);
    assert_eq!(store.audit_size(&d).unwrap(), 1200);
    assert!(matches!(store.audit_leaves(&d, 1099, 10), Err(StoreError::AuditTrimmed { floor: 1100 })));
    let rest = store.audit_leaves(&d, 1100, 1000).unwrap();
    assert_eq!(rest.len(), 100);
    assert_eq!(rest[0], "{\"i\":1100}");
    // Everything trimmed: the tenant still has a log (its size), and reads at the size are empty.
    store.audit_trim(&a, 6).unwrap();
    assert_eq!(store.audit_leaves(&a, 6, 100).unwrap(), Vec::<String>::new());
    assert_eq!(store.audit_size(&a).unwrap(), 6);
    assert_eq!(store.audit_tenants().unwrap(), [a.clone(), b.clone(), d.clone()]);
    h.reopen();
    let store = h.store().as_ref();
    assert_eq!(store.audit_floor(&a).unwrap(), 6);
    assert_eq!(store.write_audited(&a, TenantWrite::Nothing, leaf(6)).unwrap().index, 6);
    assert_eq!(store.audit_leaves(&a, 6, 100).unwrap(), ["{\"i\":6}"]);
}

/// An evidence item: (key, DER), the key being the DER's SHA-256.
fn evidence(fill: u8, len: usize) -> ([u8; 32], Vec<u8>) {
    let der = vec![fill; len];
    (Sha256::digest(&der).into(), der)
}

fn audit_evidence_is_kept_with_the_leaf_whatever_the_outcome(h: &mut Harness) {
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    let (e1, e2, e3, e4) = (evidence(1, 1200), evidence(2, MAX_EVIDENCE_LEN), evidence(3, 1), evidence(4, 900));
    {
        let store = h.store().as_ref();
        store.put_challenge(&a, "c1", challenge(NOW + 300)).unwrap();
        let settle = |record: &str| TenantWrite::SettleProof {
            id: "c1".into(),
            now: NOW,
            verified: passed(record, "01", NOW),
            watch: None,
        };
        let with =
            |write: &TenantWrite, e: &([u8; 32], Vec<u8>)| leaves_for(write, "proof").with_evidence(e.0, e.1.clone());
        let first = store.write_audited(&a, settle("v1"), with(&settle("v1"), &e1)).unwrap();
        assert!(matches!(first.answer, WriteAnswer::Consumed(ConsumeOutcome::Consumed(_))));
        // A failed precondition (the challenge was used) keeps its evidence too.
        let replay = store.write_audited(&a, settle("v2"), with(&settle("v2"), &e2)).unwrap();
        assert_eq!(replay.answer, WriteAnswer::Consumed(ConsumeOutcome::AlreadyUsed { used_at: NOW }));
        store.write_audited(&b, TenantWrite::Nothing, leaf(0).with_evidence(e3.0, e3.1.clone())).unwrap();
        // A failing write keeps neither its leaf nor its evidence.
        let put = TenantWrite::PutChallenge { id: "c1".into(), challenge: challenge(NOW + 300) };
        let err = store.write_audited(&a, put.clone(), with(&put, &e4)).unwrap_err();
        assert!(matches!(err, StoreError::Duplicate { .. }), "{err}");
        // Malformed evidence is refused before anything is written.
        let refused = [
            leaf(9).with_evidence(e1.0, e4.1.clone()),
            leaf(9).with_evidence(Sha256::digest([]).into(), Vec::new()),
            leaf(9).with_evidence(evidence(5, MAX_EVIDENCE_LEN + 1).0, vec![5; MAX_EVIDENCE_LEN + 1]),
        ];
        for leaves in refused {
            let err = store.write_audited(&a, TenantWrite::Nothing, leaves).unwrap_err();
            assert!(matches!(err, StoreError::InvalidInput { .. }), "{err}");
        }
        assert_eq!(store.audit_size(&a).unwrap(), 2);
        assert_eq!(store.audit_evidence_get(&a, &e4.0).unwrap(), None);
    }
    let sorted = |mut items: Vec<([u8; 32], Vec<u8>)>| {
        items.sort();
        items
    };
    // Durable with the commit.
    h.reopen();
    let store = h.store().as_ref();
    assert_eq!(sorted(store.audit_evidence(&a, 10).unwrap()), sorted(vec![e1.clone(), e2.clone()]));
    assert_eq!(store.audit_evidence(&a, 1).unwrap().len(), 1);
    assert_eq!(store.audit_evidence(&a, 0).unwrap(), Vec::new());
    assert_eq!(store.audit_evidence(&b, 10).unwrap(), vec![e3.clone()]);
    assert_eq!(store.audit_evidence(&tenant("bank-c"), 10).unwrap(), Vec::new());
    assert_eq!(store.audit_evidence_get(&a, &e1.0).unwrap(), Some(e1.1.clone()));
    assert_eq!(store.audit_evidence_get(&a, &e2.0).unwrap(), Some(e2.1.clone()));
    // Per tenant.
    assert_eq!(store.audit_evidence_get(&b, &e1.0).unwrap(), None);
    assert_eq!(store.audit_evidence_get(&a, &e3.0).unwrap(), None);
    // Dropped once archived; idempotent, an unknown key is no error.
    store.audit_evidence_drop(&a, &[e1.0, e4.0]).unwrap();
    store.audit_evidence_drop(&a, &[e1.0]).unwrap();
    store.audit_evidence_drop(&a, &[]).unwrap();
    assert_eq!(store.audit_evidence_get(&a, &e1.0).unwrap(), None);
    assert_eq!(store.audit_evidence(&a, 10).unwrap(), vec![e2.clone()]);
    assert_eq!(store.audit_evidence(&b, 10).unwrap(), vec![e3.clone()]);
    h.reopen();
    let store = h.store().as_ref();
    assert_eq!(store.audit_evidence(&a, 10).unwrap(), vec![e2]);
    assert_eq!(store.audit_evidence_get(&a, &e1.0).unwrap(), None);
    assert_eq!(store.audit_tenants().unwrap(), [a, b]);
}

/// The journal keeps the floor, the remaining leaves and the pending evidence through compaction,
/// a backup and the reopens after them.
#[test]
fn journal_trim_and_evidence_survive_compaction_and_backup() {
    use jpki_store::{JournalStore, TenantStore};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.journal");
    let a = tenant("bank-a");
    let e1 = evidence(1, 700);
    let check = |store: &JournalStore| {
        assert_eq!(store.audit_size(&a).unwrap(), 10);
        assert_eq!(store.audit_floor(&a).unwrap(), 4);
        assert!(matches!(store.audit_leaves(&a, 3, 10), Err(StoreError::AuditTrimmed { floor: 4 })));
        let leaves = store.audit_leaves(&a, 4, 100).unwrap();
        assert_eq!(leaves.len(), 6);
        assert_eq!(leaves[0], "{\"i\":4}");
        assert_eq!(store.audit_evidence(&a, 10).unwrap(), vec![e1.clone()]);
        assert_eq!(store.audit_tenants().unwrap(), vec![a.clone()]);
    };
    {
        let store = JournalStore::open(&path).unwrap();
        for i in 0..10 {
            let leaves = if i == 7 { leaf(i).with_evidence(e1.0, e1.1.clone()) } else { leaf(i) };
            store.write_audited(&a, TenantWrite::Nothing, leaves).unwrap();
        }
        store
            .write_audited(&a, TenantWrite::Nothing, leaf(99).with_evidence(evidence(3, 5).0, vec![2; 5]))
            .unwrap_err();
        store.audit_trim(&a, 4).unwrap();
        store.compact().unwrap();
        check(&store);
        store.backup(dir.path().join("backup.journal")).unwrap();
    }
    let store = JournalStore::open(&path).unwrap();
    check(&store);
    drop(store);
    let backup = JournalStore::open(dir.path().join("backup.journal")).unwrap();
    check(&backup);
}
