//! `kill -9` durability: a real writer process is killed at random points; every item it
//! acknowledged (printed `ack` after its commits returned) must be in the reopened store, consumed
//! challenges must still answer `AlreadyUsed`, and the indexes of a half-written item must agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use jpki_store::{CertKey, Challenge, ConsumeOutcome, LocalStore, TenantId, TenantStore};

/// Must match the writer's.
const BASE: i64 = 1_780_000_000;
const ROUNDS: u64 = 5;
/// Item numbers of round r start at r * STRIDE so that rounds never reuse an id.
const STRIDE: u64 = 1_000_000;

fn random_below(n: u64) -> u64 {
    // No rand dependency: the std hasher is randomly keyed per process.
    RandomState::new().hash_one(std::time::SystemTime::now()) % n
}

fn tenant_of(n: u64) -> TenantId {
    TenantId::new(if n.is_multiple_of(2) { "crash-a" } else { "crash-b" }).unwrap()
}

fn cert_of(n: u64) -> CertKey {
    CertKey::new("ca01", format!("{n:x}")).unwrap()
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash/store.redb");
    // Acknowledged item number -> its event sequence, over all rounds.
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();

    for round in 1..=ROUNDS {
        let first = round * STRIDE;
        let mut child = Command::new(env!("CARGO_BIN_EXE_jpki-store-crash-writer"))
            .arg(&path)
            .arg(first.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wanted = 1 + random_below(40);
        let mut parse = |line: String| {
            let mut parts = line.split_whitespace();
            assert_eq!(parts.next(), Some("ack"), "{line}");
            let n: u64 = parts.next().unwrap().parse().unwrap();
            let sequence: u64 = parts.next().unwrap().parse().unwrap();
            acked.insert(n, sequence);
        };
        for _ in 0..wanted {
            parse(lines.next().expect("writer exited early").unwrap());
        }
        // Land the kill at a random point of the next item's transactions.
        std::thread::sleep(Duration::from_micros(random_below(20_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // Acks printed before the kill are acknowledged too.
        for line in lines {
            parse(line.unwrap());
        }
        let last = *acked.keys().next_back().unwrap();
        eprintln!("round {round}: killed after item {last} ({} acked so far)", acked.len());

        let store = LocalStore::open(&path).unwrap();
        check_acked(&store, &acked);
        // The item the kill interrupted (and the one after, in case): each index agrees with the others.
        for n in [last + 1, last + 2] {
            check_consistent(&store, n);
        }
        eprintln!("  item {} had {} when killed", last + 1, written_parts(&store, last + 1));
        // The store is writable after recovery.
        let t = tenant_of(first);
        let c = Challenge {
            challenge: vec![1],
            transaction_reference: String::new(),
            issued_at: BASE,
            expires_at: BASE + 9,
        };
        store.put_challenge(&t, &format!("after{round}"), c).unwrap();
        assert!(matches!(
            store.consume_challenge(&t, &format!("after{round}"), BASE).unwrap(),
            ConsumeOutcome::Consumed(_)
        ));
    }
}

fn check_acked(store: &LocalStore, acked: &BTreeMap<u64, u64>) {
    for (&n, &sequence) in acked {
        let (t, cert, at) = (tenant_of(n), cert_of(n), BASE + i64::try_from(n).unwrap());
        assert_eq!(
            store.consume_challenge(&t, &format!("c{n}"), at + 1).unwrap(),
            ConsumeOutcome::AlreadyUsed { used_at: at },
            "c{n}"
        );
        let record = store.get_verification(&t, &format!("v{n}")).unwrap().unwrap_or_else(|| panic!("v{n} lost"));
        assert_eq!(record.certificate.as_ref(), Some(&cert));
        let link = store.link_by_certificate(&t, &cert).unwrap().unwrap_or_else(|| panic!("link {n} lost"));
        assert_eq!(link.customer_id, format!("cust{}", n % 5));
        assert!(store.links_by_customer(&t, &link.customer_id).unwrap().contains(&link), "customer index {n}");
        assert!(store.watchers(&cert).unwrap().contains(&(t.clone(), "auth_card".to_string())), "watch {n}");
        let events = store.events_after(&t, sequence - 1, 1).unwrap();
        assert_eq!(events.len(), 1, "event {n}");
        assert_eq!(events[0].sequence, sequence);
        assert_eq!(events[0].event.certificate, cert);
        assert!(store.last_sequence(&t).unwrap() >= sequence);
    }
    // Sequences stay dense per tenant: nothing lost or duplicated between acknowledged events.
    for t in [tenant_of(0), tenant_of(1)] {
        let events = store.events_after(&t, 0, usize::MAX).unwrap();
        assert_eq!(events.len() as u64, store.last_sequence(&t).unwrap());
        assert!(events.iter().enumerate().all(|(i, e)| e.sequence == i as u64 + 1));
    }
}

fn check_consistent(store: &LocalStore, n: u64) {
    let (t, cert) = (tenant_of(n), cert_of(n));
    let by_cert = store.link_by_certificate(&t, &cert).unwrap();
    let in_customer =
        store.links_by_customer(&t, &format!("cust{}", n % 5)).unwrap().into_iter().any(|l| l.certificate == cert);
    assert_eq!(by_cert.is_some(), in_customer, "link indexes of item {n}");
    let watching = store.watchers(&cert).unwrap().iter().any(|(w, _)| *w == t);
    assert_eq!(watching, store.watched(&t).unwrap().contains(&cert), "watch indexes of item {n}");
}

/// Which of an item's later writes had committed (for the log: shows the kill landing mid-item;
/// the challenge is left alone, since probing it would change it).
fn written_parts(store: &LocalStore, n: u64) -> String {
    let (t, cert) = (tenant_of(n), cert_of(n));
    let parts = [
        ("verification", store.get_verification(&t, &format!("v{n}")).unwrap().is_some()),
        ("link", store.link_by_certificate(&t, &cert).unwrap().is_some()),
        ("watch", store.watched(&t).unwrap().contains(&cert)),
        ("event", store.events_after(&t, 0, usize::MAX).unwrap().iter().any(|e| e.event.certificate == cert)),
    ];
    let done: Vec<&str> = parts.iter().filter(|(_, present)| *present).map(|(name, _)| *name).collect();
    if done.is_empty() { "none of verification, link, watch, event".into() } else { done.join(", ") }
}
