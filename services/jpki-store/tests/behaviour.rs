//! Behaviour of every `TenantStore` operation, including tenant isolation and persistence across
//! a reopen. Every case runs against both implementations: `local_store::<case>` on `LocalStore`,
//! `redis_store::<case>` on `RedisStore` with a redis-server of its own (skipped with a message
//! when redis-server is missing, unless `$CI` is set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use jpki_store::{
    CHALLENGE_PURGE_GRACE_SECS, CertKey, Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, RevocationNotice,
    StoreError, StoredEvent, TenantId, VerificationKind, VerificationRecord, WATCH_PURGE_GRACE_SECS,
};
use support::Harness;

const NOW: i64 = 1_780_272_000;

/// Runs each listed case (a `fn(&mut Harness)`) once per implementation.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod local_store {
            $(#[test] fn $case() { super::$case(&mut super::Harness::local()); })*
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
    meta_round_trip,
    everything_survives_a_reopen,
    concurrent_consumers_see_exactly_one_success,
);

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn cert(serial: &str) -> CertKey {
    CertKey::new("ab01", serial).unwrap()
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
    }
}

fn link(customer: &str, serial: &str) -> LinkRecord {
    LinkRecord { customer_id: customer.into(), certificate: cert(serial), not_after: NOW + 1000, linked_at: NOW }
}

fn notice(serial: &str) -> RevocationNotice {
    RevocationNotice {
        certificate: cert(serial),
        revoked_at: NOW,
        reason: Some("key_compromise".into()),
        crl_number: Some("42".into()),
        customer_id: None,
        kind: "auth_card".into(),
    }
}

#[test]
fn tenant_ids_and_cert_keys_are_validated() {
    assert!(TenantId::new("bank-A_1.x").is_ok());
    assert!(TenantId::new("a".repeat(64)).is_ok());
    for bad in ["", "a b", "bank/x", "銀行", &"a".repeat(65)] {
        assert!(matches!(TenantId::new(bad), Err(StoreError::InvalidInput { field: "tenant", .. })), "{bad:?}");
    }
    assert!(CertKey::new("00ff", "1").is_ok());
    for (ca, serial) in [("", "1"), ("AB", "1"), ("ab", "xyz"), ("ab", "")] {
        assert!(CertKey::new(ca, serial).is_err(), "{ca:?} {serial:?}");
    }
}

fn store_refuses_invalid_ids(h: &mut Harness) {
    // A TenantId built around validation is still refused by the store.
    let store = h.store();
    let err = store.put_challenge(&TenantId("bad tenant".into()), "c", challenge(NOW + 60)).unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { field: "tenant", .. }));
    let err = store.watch(&tenant("a"), &CertKey { ca_key_id: "AB".into(), serial: "1".into() }, NOW, "k").unwrap_err();
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
    store.watch(&a, &CertKey::new("ab0", "1").unwrap(), NOW, "signing_card").unwrap();
    assert_eq!(
        store.watchers(&cert("01")).unwrap(),
        vec![(a.clone(), "auth_card".to_string()), (b.clone(), "auth_card".to_string())]
    );
    assert_eq!(store.watchers(&cert("02")).unwrap(), vec![(a.clone(), "signing_card".to_string())]);
    assert!(store.watchers(&cert("03")).unwrap().is_empty());
    assert_eq!(store.watched(&a).unwrap(), vec![CertKey::new("ab0", "1").unwrap(), cert("01"), cert("02")]);
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
    // Duplicate across batches: the existing sequence, nothing appended.
    let mut changed = notice("02");
    changed.reason = Some("other".into());
    assert_eq!(store.append_events(vec![(a.clone(), changed), (a.clone(), notice("03"))]).unwrap(), vec![2, 3]);
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
    let bad = RevocationNotice { certificate: CertKey { ca_key_id: "X".into(), serial: "1".into() }, ..notice("09") };
    assert!(store.append_events(vec![(a.clone(), notice("04")), (a.clone(), bad)]).is_err());
    assert_eq!(store.last_sequence(&a).unwrap(), 3);
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
