//! Checks shared by the `kill -9` tests of both stores (`tests/crash.rs`, `tests/redis_crash.rs`):
//! the writer is `jpki-store-crash-writer`, which prints `ack {n} {sequence}` after every write of
//! item n returned.

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use jpki_core::CertId;
use jpki_store::{ConsumeOutcome, TenantId, TenantStore};

/// Must match the writer's.
pub const BASE: i64 = 1_780_000_000;

/// A random number below `n`.
pub fn random_below(n: u64) -> u64 {
    // No rand dependency: the std hasher is randomly keyed per process.
    RandomState::new().hash_one(std::time::SystemTime::now()) % n
}

/// The writer's tenant of item n.
pub fn tenant_of(n: u64) -> TenantId {
    TenantId::new(if n.is_multiple_of(2) { "crash-a" } else { "crash-b" }).unwrap()
}

/// The writer's certificate of item n.
pub fn cert_of(n: u64) -> CertId {
    CertId { ca_key_id: "ca01".into(), serial: format!("{n:x}") }
}

/// Parses one writer line into `acked` (item -> event sequence).
pub fn parse_ack(line: &str, acked: &mut BTreeMap<u64, u64>) {
    let mut parts = line.split_whitespace();
    assert_eq!(parts.next(), Some("ack"), "{line}");
    let n: u64 = parts.next().unwrap().parse().unwrap();
    let sequence: u64 = parts.next().unwrap().parse().unwrap();
    acked.insert(n, sequence);
}

/// Every acknowledged item is complete: challenge used, verification, both link indexes, watch,
/// event; and each tenant's sequences are dense.
pub fn check_acked(store: &dyn TenantStore, acked: &BTreeMap<u64, u64>) {
    for (&n, &sequence) in acked {
        let (t, cert, at) = (tenant_of(n), cert_of(n), BASE + i64::try_from(n).unwrap());
        assert_eq!(
            store.consume_challenge(&t, &format!("c{n}"), at + 1).unwrap(),
            ConsumeOutcome::AlreadyUsed { used_at: at },
            "c{n}"
        );
        let record = store.get_verification(&t, &format!("v{n}")).unwrap().unwrap_or_else(|| panic!("v{n} lost"));
        assert_eq!(record.certificate.as_ref(), Some(&cert));
        // The passed verification's entitlement index entry was committed with it.
        assert_eq!(store.entitled(&t, std::slice::from_ref(&cert), at, 0).unwrap(), vec![true], "entitlement {n}");
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

/// The indexes of item n (possibly half-written when the kill came) agree with each other.
pub fn check_consistent(store: &dyn TenantStore, n: u64) {
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
pub fn written_parts(store: &dyn TenantStore, n: u64) -> String {
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
