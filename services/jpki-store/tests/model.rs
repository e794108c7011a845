//! Model-based test: random operation sequences (including reopening the store) give the same
//! answers from `LocalStore` and from `RedisStore` as from a plain in-memory model of the
//! documented semantics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use jpki_core::CertId;
use jpki_store::{
    CHALLENGE_PURGE_GRACE_SECS, Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, RevocationNotice, StatusChange,
    StoreError, StoredEvent, TenantId, TenantStore, VerificationKind, VerificationRecord, WATCH_PURGE_GRACE_SECS,
    WatchRequest,
};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use support::Harness;

const START: i64 = 1_780_000_000;
const TENANTS: [&str; 3] = ["a", "b", "a.1"];
const CUSTOMERS: [&str; 3] = ["u0", "u1", "u10"];
const KINDS: [&str; 2] = ["auth_card", "signing_card"];

/// One notice of an append: tenant, certificate, change, reason, cRLNumber, with a customer id.
#[derive(Debug, Clone)]
struct Notice {
    t: usize,
    cert: u8,
    change: StatusChange,
    reason: Option<&'static str>,
    crl: Option<&'static str>,
    with_customer: bool,
}

/// Few values, so that repeats, changes, stale numbers and releases all happen often; numbers with
/// leading zeros and of different lengths.
fn notice() -> impl Strategy<Value = Notice> {
    (
        0..TENANTS.len(),
        0..4u8,
        prop::sample::select(vec![StatusChange::Held, StatusChange::Revoked, StatusChange::Released]),
        prop::sample::select(vec![None, Some("key_compromise"), Some("certificate_hold")]),
        prop::sample::select(vec![None, Some("9"), Some("010"), Some("10"), Some("11"), Some("100")]),
        any::<bool>(),
    )
        .prop_map(|(t, cert, change, reason, crl, with_customer)| Notice {
            t,
            cert,
            change,
            reason,
            crl,
            with_customer,
        })
}

#[derive(Debug, Clone)]
enum Op {
    PutChallenge { t: usize, id: u8, ttl: i64 },
    Consume { t: usize, id: u8 },
    PutVerification { t: usize, id: u8, passed: bool, cert: Option<u8>, watch: bool },
    GetVerification { t: usize, id: u8 },
    Link { t: usize, customer: usize, cert: u8 },
    Unlink { t: usize, customer: usize, cert: Option<u8> },
    Watch { t: usize, cert: u8, not_after_delta: i64, kind: usize },
    Append(Vec<Notice>),
    Entitled { t: usize, retention: i64 },
    LastEventFor { t: usize, cert: u8 },
    EventsAfter { t: usize, after: u64, limit: usize },
    PutMeta { key: u8, value: Vec<u8> },
    Purge { retention: i64 },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TENANTS.len();
    prop_oneof![
        (t.clone(), 0..4u8, prop::sample::select(vec![0i64, 1, 60, 61, 120]))
            .prop_map(|(t, id, ttl)| Op::PutChallenge { t, id, ttl }),
        (t.clone(), 0..4u8).prop_map(|(t, id)| Op::Consume { t, id }),
        (t.clone(), 0..3u8, any::<bool>(), proptest::option::of(0..4u8), any::<bool>())
            .prop_map(|(t, id, passed, cert, watch)| Op::PutVerification { t, id, passed, cert, watch }),
        (t.clone(), prop::sample::select(vec![0i64, 1, 60, 1000]))
            .prop_map(|(t, retention)| Op::Entitled { t, retention }),
        (t.clone(), 0..4u8).prop_map(|(t, cert)| Op::LastEventFor { t, cert }),
        (t.clone(), 0..3u8).prop_map(|(t, id)| Op::GetVerification { t, id }),
        (t.clone(), 0..CUSTOMERS.len(), 0..4u8).prop_map(|(t, customer, cert)| Op::Link { t, customer, cert }),
        (t.clone(), 0..CUSTOMERS.len(), proptest::option::of(0..4u8)).prop_map(|(t, customer, cert)| Op::Unlink {
            t,
            customer,
            cert
        }),
        (t.clone(), 0..4u8, -(WATCH_PURGE_GRACE_SECS + 2000)..1000i64, 0..KINDS.len())
            .prop_map(|(t, cert, not_after_delta, kind)| Op::Watch { t, cert, not_after_delta, kind }),
        proptest::collection::vec(notice(), 0..5).prop_map(Op::Append),
        (t, 0..5u64, 0..4usize).prop_map(|(t, after, limit)| Op::EventsAfter { t, after, limit }),
        (0..2u8, proptest::collection::vec(any::<u8>(), 0..8)).prop_map(|(key, value)| Op::PutMeta { key, value }),
        (0..1500i64).prop_map(|retention| Op::Purge { retention }),
        Just(Op::Reopen),
    ]
}

/// How far time moves before an operation: steps and challenge lifetimes come from small sets so
/// that expiry and purge boundaries are hit exactly, not only crossed.
fn step() -> impl Strategy<Value = i64> {
    prop::sample::select(vec![0i64, 1, 60, CHALLENGE_PURGE_GRACE_SECS])
}

fn tenant(i: usize) -> TenantId {
    TenantId::new(TENANTS[i]).unwrap()
}

fn cert(i: u8) -> CertId {
    // Two CA keys, one a prefix of the other, to exercise tuple ordering.
    let ca_key_id = if i.is_multiple_of(2) { "ab" } else { "ab0" };
    CertId { ca_key_id: ca_key_id.into(), serial: format!("{i:x}") }
}

enum Slot {
    Pending(Challenge),
    Used { used_at: i64, expires_at: i64 },
}

impl Slot {
    fn expires_at(&self) -> i64 {
        match self {
            Slot::Pending(c) => c.expires_at,
            Slot::Used { expires_at, .. } => *expires_at,
        }
    }
}

/// A certificate's recorded status: sequence, change, reason, highest cRLNumber (as a number).
type Status = (u64, StatusChange, Option<String>, Option<u128>);

#[derive(Default)]
struct Model {
    challenges: BTreeMap<(TenantId, String), Slot>,
    verifications: BTreeMap<(TenantId, String), VerificationRecord>,
    links: BTreeMap<(TenantId, CertId), LinkRecord>,
    watch: BTreeMap<(TenantId, CertId), (String, i64)>,
    events: BTreeMap<TenantId, Vec<RevocationNotice>>,
    status: BTreeMap<(TenantId, CertId), Status>,
    meta: BTreeMap<String, Vec<u8>>,
}

impl Model {
    fn consume(&mut self, key: (TenantId, String), now: i64) -> ConsumeOutcome {
        match self.challenges.get(&key) {
            None => ConsumeOutcome::Unknown,
            Some(Slot::Used { used_at, .. }) => ConsumeOutcome::AlreadyUsed { used_at: *used_at },
            Some(Slot::Pending(c)) => {
                let c = c.clone();
                self.challenges.insert(key, Slot::Used { used_at: now, expires_at: c.expires_at });
                if now >= c.expires_at { ConsumeOutcome::Expired(c) } else { ConsumeOutcome::Consumed(c) }
            }
        }
    }

    fn link(&mut self, t: TenantId, record: LinkRecord) -> LinkOutcome {
        let key = (t, record.certificate.clone());
        match self.links.get(&key) {
            Some(existing) if existing.customer_id == record.customer_id => {
                LinkOutcome::AlreadyLinked(existing.clone())
            }
            Some(existing) => LinkOutcome::LinkedToOther { customer_id: existing.customer_id.clone() },
            None => {
                self.links.insert(key, record.clone());
                LinkOutcome::Created(record)
            }
        }
    }

    fn unlink(&mut self, t: &TenantId, customer: &str, cert: Option<&CertId>) -> u32 {
        let doomed: Vec<_> = self
            .links
            .iter()
            .filter(|((lt, lc), l)| lt == t && l.customer_id == customer && cert.is_none_or(|c| c == lc))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &doomed {
            self.links.remove(k);
        }
        doomed.len() as u32
    }

    fn links_by_customer(&self, t: &TenantId, customer: &str) -> Vec<LinkRecord> {
        self.links.iter().filter(|((lt, _), l)| lt == t && l.customer_id == customer).map(|(_, l)| l.clone()).collect()
    }

    /// The documented rules, written plainly (numbers small enough for u128 here).
    fn append(&mut self, batch: &[(TenantId, RevocationNotice)]) -> Vec<u64> {
        batch
            .iter()
            .map(|(t, n)| {
                let key = (t.clone(), n.certificate.clone());
                let number: Option<u128> = n.crl_number.as_deref().map(|d| d.parse().unwrap());
                let last = self.status.get(&key).cloned();
                if n.change == StatusChange::Released && last.as_ref().is_none_or(|l| l.1 != StatusChange::Held) {
                    return 0;
                }
                if let Some((seq, change, reason, floor)) = last.clone() {
                    if number.is_some() && floor.is_some() && number < floor {
                        return seq;
                    }
                    if change == n.change && reason == n.reason {
                        self.status.insert(key, (seq, change, reason, floor.max(number)));
                        return seq;
                    }
                }
                let log = self.events.entry(t.clone()).or_default();
                log.push(n.clone());
                let seq = log.len() as u64;
                let floor = last.and_then(|l| l.3).max(number);
                self.status.insert(key, (seq, n.change, n.reason.clone(), floor));
                seq
            })
            .collect()
    }

    fn last_event_for(&self, t: &TenantId, c: &CertId) -> Option<StoredEvent> {
        let (seq, ..) = self.status.get(&(t.clone(), c.clone()))?;
        let event = self.events[t][*seq as usize - 1].clone();
        Some(StoredEvent { sequence: *seq, event })
    }

    fn entitled(&self, t: &TenantId, certs: &[CertId], now: i64, retention: i64) -> Vec<bool> {
        certs
            .iter()
            .map(|c| {
                self.links.contains_key(&(t.clone(), c.clone()))
                    || self.verifications.iter().any(|((vt, _), v)| {
                        vt == t && v.passed && v.certificate.as_ref() == Some(c) && v.verified_at >= now - retention
                    })
            })
            .collect()
    }

    fn events_after(&self, t: &TenantId, after: u64, limit: usize) -> Vec<StoredEvent> {
        let log = self.events.get(t).map(Vec::as_slice).unwrap_or_default();
        log.iter()
            .enumerate()
            .map(|(i, e)| StoredEvent { sequence: i as u64 + 1, event: e.clone() })
            .filter(|e| e.sequence > after)
            .take(limit)
            .collect()
    }

    fn purge(&mut self, now: i64, retention: i64) -> usize {
        let before = self.challenges.len() + self.verifications.len() + self.watch.len();
        self.challenges.retain(|_, s| s.expires_at() >= now - CHALLENGE_PURGE_GRACE_SECS);
        self.verifications.retain(|_, v| v.verified_at >= now - retention);
        self.watch.retain(|_, (_, not_after)| *not_after >= now - WATCH_PURGE_GRACE_SECS);
        before - (self.challenges.len() + self.verifications.len() + self.watch.len())
    }
}

/// Compares every query the store answers with the model.
fn check_all(store: &dyn TenantStore, model: &Model, now: i64) {
    for ti in 0..TENANTS.len() {
        let t = tenant(ti);
        for customer in CUSTOMERS {
            assert_eq!(store.links_by_customer(&t, customer).unwrap(), model.links_by_customer(&t, customer));
        }
        for c in 0..4 {
            assert_eq!(
                store.link_by_certificate(&t, &cert(c)).unwrap(),
                model.links.get(&(t.clone(), cert(c))).cloned()
            );
        }
        for id in 0..3u8 {
            let id = format!("v{id}");
            assert_eq!(store.get_verification(&t, &id).unwrap(), model.verifications.get(&(t.clone(), id)).cloned());
        }
        let watched: Vec<CertId> = model.watch.keys().filter(|(wt, _)| *wt == t).map(|(_, c)| c.clone()).collect();
        assert_eq!(store.watched(&t).unwrap(), watched);
        assert_eq!(store.events_after(&t, 0, usize::MAX).unwrap(), model.events_after(&t, 0, usize::MAX));
        let certs: Vec<CertId> = (0..4).map(cert).collect();
        for retention in [0, 1000] {
            assert_eq!(store.entitled(&t, &certs, now, retention).unwrap(), model.entitled(&t, &certs, now, retention));
        }
        for c in &certs {
            assert_eq!(store.last_event_for(&t, c).unwrap(), model.last_event_for(&t, c));
        }
        assert_eq!(store.last_sequence(&t).unwrap(), model.events.get(&t).map_or(0, |l| l.len() as u64));
    }
    for c in 0..4 {
        let watchers: Vec<(TenantId, String)> = model
            .watch
            .iter()
            .filter(|((_, wc), _)| *wc == cert(c))
            .map(|((t, _), (k, _))| (t.clone(), k.clone()))
            .collect();
        assert_eq!(store.watchers(&cert(c)).unwrap(), watchers);
    }
    for key in ["m0", "m1"] {
        assert_eq!(store.get_meta(key).unwrap(), model.meta.get(key).cloned());
    }
}

fn run(h: &mut Harness, ops: Vec<(i64, Op)>) {
    let mut model = Model::default();
    let mut now = START;
    for (advance, op) in ops {
        now += advance;
        let store = h.store().as_ref();
        match op {
            Op::PutChallenge { t, id, ttl } => {
                let (t, id) = (tenant(t), format!("c{id}"));
                let c = Challenge {
                    challenge: vec![id.len() as u8; 4],
                    transaction_reference: id.clone(),
                    issued_at: now,
                    expires_at: now + ttl,
                };
                let got = store.put_challenge(&t, &id, c.clone());
                let key = (t, id);
                match model.challenges.entry(key) {
                    Entry::Occupied(_) => {
                        assert!(matches!(got, Err(StoreError::Duplicate { what: "challenge" })), "{got:?}")
                    }
                    Entry::Vacant(slot) => {
                        got.unwrap();
                        slot.insert(Slot::Pending(c));
                    }
                }
            }
            Op::Consume { t, id } => {
                let (t, id) = (tenant(t), format!("c{id}"));
                assert_eq!(store.consume_challenge(&t, &id, now).unwrap(), model.consume((t, id), now));
            }
            Op::PutVerification { t, id, passed, cert: c, watch } => {
                let t = tenant(t);
                let record = VerificationRecord {
                    id: format!("v{id}"),
                    kind: if passed { VerificationKind::Authentication } else { VerificationKind::Signature },
                    passed,
                    certificate: c.map(cert),
                    not_after: c.map(|c| now + i64::from(c)),
                    verified_at: now,
                    transaction_reference: String::new(),
                    purpose: "login".into(),
                };
                let request = c.filter(|_| watch).map(|c| WatchRequest {
                    certificate: cert(c),
                    not_after: now + 100,
                    kind: KINDS[1].into(),
                });
                let got = match &request {
                    None => store.put_verification(&t, record.clone()),
                    Some(request) => store.record_verification(&t, record.clone(), Some(request.clone())),
                };
                let key = (t.clone(), record.id.clone());
                match model.verifications.entry(key) {
                    Entry::Occupied(_) => {
                        assert!(matches!(got, Err(StoreError::Duplicate { what: "verification" })), "{got:?}")
                    }
                    Entry::Vacant(slot) => {
                        got.unwrap();
                        slot.insert(record);
                        if let Some(request) = request {
                            model.watch.insert((t, request.certificate), (request.kind, request.not_after));
                        }
                    }
                }
            }
            Op::Entitled { t, retention } => {
                let t = tenant(t);
                let certs: Vec<CertId> = (0..4).rev().map(cert).collect();
                assert_eq!(
                    store.entitled(&t, &certs, now, retention).unwrap(),
                    model.entitled(&t, &certs, now, retention)
                );
            }
            Op::LastEventFor { t, cert: c } => {
                let t = tenant(t);
                assert_eq!(store.last_event_for(&t, &cert(c)).unwrap(), model.last_event_for(&t, &cert(c)));
            }
            Op::GetVerification { t, id } => {
                let (t, id) = (tenant(t), format!("v{id}"));
                assert_eq!(store.get_verification(&t, &id).unwrap(), model.verifications.get(&(t, id)).cloned());
            }
            Op::Link { t, customer, cert: c } => {
                let t = tenant(t);
                let record = LinkRecord {
                    customer_id: CUSTOMERS[customer].into(),
                    certificate: cert(c),
                    not_after: now + 99,
                    linked_at: now,
                };
                assert_eq!(store.link(&t, record.clone()).unwrap(), model.link(t, record));
            }
            Op::Unlink { t, customer, cert: c } => {
                let (t, c) = (tenant(t), c.map(cert));
                let got = store.unlink(&t, CUSTOMERS[customer], c.as_ref()).unwrap();
                assert_eq!(got, model.unlink(&t, CUSTOMERS[customer], c.as_ref()));
            }
            Op::Watch { t, cert: c, not_after_delta, kind } => {
                let t = tenant(t);
                store.watch(&t, &cert(c), now + not_after_delta, KINDS[kind]).unwrap();
                model.watch.insert((t, cert(c)), (KINDS[kind].into(), now + not_after_delta));
            }
            Op::Append(batch) => {
                let batch: Vec<(TenantId, RevocationNotice)> = batch
                    .into_iter()
                    .map(|n| {
                        let notice = RevocationNotice {
                            certificate: cert(n.cert),
                            change: n.change,
                            revoked_at: now,
                            reason: n.reason.map(Into::into),
                            crl_number: n.crl.map(Into::into),
                            customer_id: n.with_customer.then(|| "u0".to_string()),
                            kind: KINDS[0].into(),
                        };
                        (tenant(n.t), notice)
                    })
                    .collect();
                assert_eq!(store.append_events(batch.clone()).unwrap(), model.append(&batch));
            }
            Op::EventsAfter { t, after, limit } => {
                let t = tenant(t);
                assert_eq!(store.events_after(&t, after, limit).unwrap(), model.events_after(&t, after, limit));
            }
            Op::PutMeta { key, value } => {
                let key = format!("m{key}");
                store.put_meta(&key, &value).unwrap();
                model.meta.insert(key, value);
            }
            Op::Purge { retention } => {
                assert_eq!(store.purge_expired(now, retention).unwrap(), model.purge(now, retention));
            }
            Op::Reopen => {
                // LocalStore: reopen the file. RedisStore: new connections, and the server
                // reloads its data from the AOF on disk.
                h.reload();
                check_all(h.store().as_ref(), &model, now);
            }
        }
    }
    check_all(h.store().as_ref(), &model, now);
}

fn ops() -> impl Strategy<Value = Vec<(i64, Op)>> {
    proptest::collection::vec((step(), op()), 1..40)
}

/// Every write fsyncs, so keep the case count modest: a few seconds in total.
const CASES: u32 = 32;

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn local_store_agrees_with_model(ops in ops()) {
        run(&mut Harness::local(), ops);
    }

    #[test]
    fn journal_store_agrees_with_model(ops in ops()) {
        run(&mut Harness::journal(), ops);
    }
}

#[test]
fn redis_store_agrees_with_model() {
    // One redis-server for every case (starting one per case would dominate the run time); each
    // case starts from an empty database.
    let Some(harness) = Harness::redis() else { return };
    let harness = RefCell::new(harness);
    let mut runner = TestRunner::new(ProptestConfig { cases: CASES, ..ProptestConfig::default() });
    let result = runner.run(&ops(), |ops| {
        let mut h = harness.borrow_mut();
        let server = h.server.as_ref().unwrap();
        let _: () = redis::cmd("FLUSHALL").query(&mut support::raw(server)).unwrap();
        h.reload();
        run(&mut h, ops);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
