//! Many threads writing to one `LocalStore` at once (its writer thread then commits their calls in
//! shared transactions): every acknowledged answer must be one that some serial order of the calls
//! gives, and everything acknowledged must be in the store after a reopen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};

use jpki_core::CertId;
use jpki_store::{
    Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, LocalStore, RevocationNotice, StatusChange, StoreError,
    TenantId, TenantStore,
};

const NOW: i64 = 1_780_272_000;
const THREADS: usize = 12;
const ROUNDS: usize = 40;

fn tenant(i: usize) -> TenantId {
    TenantId::new(if i.is_multiple_of(2) { "bank-a" } else { "bank-b" }).unwrap()
}

fn cert(i: usize) -> CertId {
    CertId { ca_key_id: "ca01".into(), serial: format!("{i:x}") }
}

fn challenge(thread: usize) -> Challenge {
    Challenge {
        challenge: vec![u8::try_from(thread).unwrap(); 8],
        transaction_reference: format!("tx{thread}"),
        issued_at: NOW,
        expires_at: NOW + 300,
    }
}

fn notice(i: usize) -> RevocationNotice {
    RevocationNotice {
        certificate: cert(i),
        change: StatusChange::Revoked,
        revoked_at: NOW,
        reason: None,
        crl_number: Some("1".into()),
        customer_id: None,
        kind: "auth_card".into(),
    }
}

/// What one thread saw in one round.
struct Seen {
    put_shared: Result<(), String>,
    consume_shared: ConsumeOutcome,
    link_shared: LinkOutcome,
    own_consumed: ConsumeOutcome,
    own_link: LinkOutcome,
    /// Sequences of (shared certificate, own certificate) from one append.
    sequences: Vec<u64>,
}

#[test]
fn concurrent_writers_get_serialisable_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = Arc::new(LocalStore::open(&path).unwrap());
    let barrier = Arc::new(Barrier::new(THREADS));

    // seen[round][thread]
    let mut seen: Vec<Vec<Seen>> = (0..ROUNDS).map(|_| Vec::new()).collect();
    let results: Vec<Vec<Seen>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|th| {
                let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
                scope.spawn(move || {
                    (0..ROUNDS)
                        .map(|round| {
                            let t = tenant(round);
                            let shared = format!("shared{round}");
                            let own = format!("own{round}-{th}");
                            let own_cert = 1_000_000 + round * THREADS + th;
                            barrier.wait();
                            // Every thread puts the same challenge id: exactly one may succeed (a
                            // Duplicate error in the middle of a shared transaction must not undo
                            // the others' writes).
                            let put_shared = store.put_challenge(&t, &shared, challenge(th)).map_err(|e| match e {
                                StoreError::Duplicate { what } => what.to_string(),
                                other => panic!("{other}"),
                            });
                            store.put_challenge(&t, &own, challenge(th)).unwrap();
                            let now = NOW + 1 + i64::try_from(th).unwrap();
                            let consume_shared = store.consume_challenge(&t, &shared, now).unwrap();
                            let own_consumed = store.consume_challenge(&t, &own, now).unwrap();
                            let link = |cert_no: usize| LinkRecord {
                                customer_id: format!("cust{th}"),
                                certificate: cert(cert_no),
                                not_after: NOW + 1000,
                                linked_at: NOW,
                            };
                            // Everyone links the same certificate to a different customer.
                            let link_shared = store.link(&t, link(round)).unwrap();
                            let own_link = store.link(&t, link(own_cert)).unwrap();
                            store.watch(&t, &cert(own_cert), NOW + 1000, "auth_card").unwrap();
                            let sequences = store
                                .append_events(vec![(t.clone(), notice(round)), (t.clone(), notice(own_cert))])
                                .unwrap();
                            Seen { put_shared, consume_shared, link_shared, own_consumed, own_link, sequences }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for per_thread in results {
        for (round, s) in per_thread.into_iter().enumerate() {
            seen[round].push(s);
        }
    }

    // Sequences per tenant: certificate -> sequence, all acknowledged.
    let mut sequences: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    for (round, threads) in seen.iter().enumerate() {
        // One put of the shared challenge won; its owner's bytes are what the winning consume got.
        let winners: Vec<usize> = (0..THREADS).filter(|&th| threads[th].put_shared.is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: puts of one id that succeeded");
        assert!(threads.iter().all(|s| s.put_shared.as_ref().err().is_none_or(|w| w == "challenge")));
        let owner = winners[0];
        // Exactly one consume of the shared challenge won; the others saw its used marker.
        let consumed: Vec<usize> =
            (0..THREADS).filter(|&th| matches!(threads[th].consume_shared, ConsumeOutcome::Consumed(_))).collect();
        assert_eq!(consumed.len(), 1, "round {round}: consumes that succeeded");
        let consumer = consumed[0];
        assert_eq!(threads[consumer].consume_shared, ConsumeOutcome::Consumed(challenge(owner)));
        let used_at = NOW + 1 + i64::try_from(consumer).unwrap();
        for (th, s) in threads.iter().enumerate().filter(|&(th, _)| th != consumer) {
            assert_eq!(s.consume_shared, ConsumeOutcome::AlreadyUsed { used_at }, "round {round} thread {th}");
        }
        // Own items never conflict.
        for (th, s) in threads.iter().enumerate() {
            assert_eq!(s.own_consumed, ConsumeOutcome::Consumed(challenge(th)));
            assert!(matches!(s.own_link, LinkOutcome::Created(_)));
        }
        // One link of the shared certificate was created; everyone else was told whose it is.
        let created: Vec<usize> =
            (0..THREADS).filter(|&th| matches!(threads[th].link_shared, LinkOutcome::Created(_))).collect();
        assert_eq!(created.len(), 1, "round {round}: links created");
        let customer = format!("cust{}", created[0]);
        for (th, s) in threads.iter().enumerate().filter(|&(th, _)| th != created[0]) {
            assert_eq!(s.link_shared, LinkOutcome::LinkedToOther { customer_id: customer.clone() }, "thread {th}");
        }
        // Events: the shared certificate got one sequence, whoever appended it first.
        let t = round % 2;
        for (th, s) in threads.iter().enumerate() {
            assert_eq!(s.sequences.len(), 2);
            let own_cert = 1_000_000 + round * THREADS + th;
            for (cert_no, sequence) in [(round, s.sequences[0]), (own_cert, s.sequences[1])] {
                let previous = sequences.insert((t, cert_no), sequence);
                assert!(previous.is_none_or(|p| p == sequence), "round {round} certificate {cert_no}");
            }
        }
    }

    // Per tenant, the acknowledged sequences are exactly 1..=n: dense and unique.
    for t in 0..2 {
        let mine: BTreeSet<u64> = sequences.iter().filter(|((tt, _), _)| *tt == t).map(|(_, &s)| s).collect();
        let count = sequences.keys().filter(|(tt, _)| *tt == t).count();
        assert_eq!(mine.len(), count, "tenant {t}: two certificates share a sequence");
        assert_eq!(mine, (1..=count as u64).collect(), "tenant {t}: sequences not dense");
    }

    // Everything acknowledged is there after a reopen.
    let store = Arc::into_inner(store).unwrap();
    drop(store);
    let store = LocalStore::open(&path).unwrap();
    for (&(t, cert_no), &sequence) in &sequences {
        let events = store.events_after(&tenant(t), sequence - 1, 1).unwrap();
        assert_eq!(events[0].sequence, sequence);
        assert_eq!(events[0].event.certificate, cert(cert_no));
    }
    for t in 0..2 {
        let count = sequences.keys().filter(|(tt, _)| *tt == t).count();
        assert_eq!(store.last_sequence(&tenant(t)).unwrap(), count as u64);
    }
    for round in 0..ROUNDS {
        let t = tenant(round);
        assert!(store.link_by_certificate(&t, &cert(round)).unwrap().is_some());
        for th in 0..THREADS {
            let own = format!("own{round}-{th}");
            assert!(matches!(store.consume_challenge(&t, &own, NOW + 50).unwrap(), ConsumeOutcome::AlreadyUsed { .. }));
            let own_cert = cert(1_000_000 + round * THREADS + th);
            assert_eq!(store.link_by_certificate(&t, &own_cert).unwrap().unwrap().customer_id, format!("cust{th}"));
            assert!(store.watched(&t).unwrap().contains(&own_cert));
        }
    }
}

/// Idempotent repeats, alone, still cost no write: run concurrently with nothing else, they leave
/// the file untouched.
#[test]
fn concurrent_no_op_writes_do_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let store = LocalStore::open(&path).unwrap();
    let t = tenant(0);
    store.put_challenge(&t, "c", challenge(0)).unwrap();
    store.consume_challenge(&t, "c", NOW).unwrap();
    let link = LinkRecord { customer_id: "u".into(), certificate: cert(1), not_after: NOW, linked_at: NOW };
    store.link(&t, link.clone()).unwrap();
    store.watch(&t, &cert(1), NOW, "auth_card").unwrap();
    store.append_events(vec![(t.clone(), notice(1))]).unwrap();
    let before = std::fs::read(&path).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..20 {
                    assert_eq!(
                        store.consume_challenge(&t, "c", NOW + 1).unwrap(),
                        ConsumeOutcome::AlreadyUsed { used_at: NOW }
                    );
                    assert!(matches!(store.link(&t, link.clone()).unwrap(), LinkOutcome::AlreadyLinked(_)));
                    store.watch(&t, &cert(1), NOW, "auth_card").unwrap();
                    assert_eq!(store.append_events(vec![(t.clone(), notice(1))]).unwrap(), vec![1]);
                    assert_eq!(store.unlink(&t, "other", Some(&cert(1))).unwrap(), 0);
                }
            });
        }
    });
    assert!(std::fs::read(&path).unwrap() == before, "no-op writes changed the file");
}
