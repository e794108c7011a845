//! A quick per-operation latency comparison, printed (run with `--nocapture`), never asserted:
//! `LocalStore` (redb, fsync per commit) and `JournalStore` (journal, fdatasync per group) against `RedisStore` on a local redis-server with
//! `appendfsync always`, and with `everysec` to show what the fsync costs. Set
//! `JPKI_STORE_LATENCY_N` for more iterations (default 30, to keep the suite quick).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use jpki_core::CertId;
use jpki_store::{
    Challenge, DurabilityCheck, JournalStore, LinkRecord, LocalStore, RedisStore, RedisStoreConfig, RevocationNotice,
    StatusChange, TenantId, TenantStore, VerificationKind, VerificationRecord,
};
use support::{DURABLE, RedisServer};

const NOW: i64 = 1_780_272_000;

type Op = (&'static str, fn(&dyn TenantStore, usize));

const OPS: [Op; 10] = [
    ("put_challenge", |s, i| {
        let c = Challenge {
            challenge: vec![7; 32],
            transaction_reference: "tx".into(),
            issued_at: NOW,
            expires_at: NOW + 300,
        };
        s.put_challenge(&tenant(), &format!("c{i}"), c).unwrap();
    }),
    ("consume_challenge", |s, i| {
        s.consume_challenge(&tenant(), &format!("c{i}"), NOW + 1).unwrap();
    }),
    ("put_verification", |s, i| {
        let v = VerificationRecord {
            id: format!("v{i}"),
            kind: VerificationKind::Authentication,
            passed: true,
            certificate: Some(cert(i)),
            not_after: Some(NOW + 1000),
            verified_at: NOW,
            transaction_reference: "tx".into(),
            purpose: "login".into(),
        };
        s.put_verification(&tenant(), v).unwrap();
    }),
    ("get_verification", |s, i| {
        s.get_verification(&tenant(), &format!("v{i}")).unwrap().unwrap();
    }),
    ("link", |s, i| {
        let l =
            LinkRecord { customer_id: format!("cust{}", i % 10), certificate: cert(i), not_after: NOW, linked_at: NOW };
        s.link(&tenant(), l).unwrap();
    }),
    ("links_by_customer", |s, i| {
        s.links_by_customer(&tenant(), &format!("cust{}", i % 10)).unwrap();
    }),
    ("watch", |s, i| s.watch(&tenant(), &cert(i), NOW + 1000, "auth_card").unwrap()),
    ("watchers", |s, i| {
        s.watchers(&cert(i)).unwrap();
    }),
    ("append_events (1)", |s, i| {
        let n = RevocationNotice {
            certificate: cert(i),
            change: StatusChange::Revoked,
            revoked_at: NOW,
            reason: None,
            crl_number: Some("1".into()),
            customer_id: None,
            kind: "auth_card".into(),
        };
        s.append_events(vec![(tenant(), n)]).unwrap();
    }),
    ("events_after (10)", |s, i| {
        s.events_after(&tenant(), i as u64, 10).unwrap();
    }),
];

fn tenant() -> TenantId {
    TenantId::new("bank-a").unwrap()
}

fn cert(i: usize) -> CertId {
    CertId { ca_key_id: "ab01".into(), serial: format!("{i:x}") }
}

/// Median and 99th percentile (the maximum, for small n) of each operation, in microseconds.
fn measure(store: &dyn TenantStore, n: usize) -> Vec<(u128, u128)> {
    OPS.iter()
        .map(|(_, op)| {
            let mut times: Vec<Duration> = (0..n)
                .map(|i| {
                    let started = Instant::now();
                    op(store, i);
                    started.elapsed()
                })
                .collect();
            times.sort();
            (times[n / 2].as_micros(), times[(n * 99 / 100).min(n - 1)].as_micros())
        })
        .collect()
}

/// Writes per second with `threads` threads each putting and consuming `n` challenges.
fn concurrent_writes_per_second(store: &dyn TenantStore, threads: usize, n: usize) -> u128 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for i in 0..n {
                    let id = format!("t{t}-{i}");
                    let c = Challenge {
                        challenge: vec![7; 32],
                        transaction_reference: "tx".into(),
                        issued_at: NOW,
                        expires_at: NOW + 300,
                    };
                    store.put_challenge(&tenant(), &id, c).unwrap();
                    store.consume_challenge(&tenant(), &id, NOW + 1).unwrap();
                }
            });
        }
    });
    (2 * threads * n) as u128 * 1_000_000 / started.elapsed().as_micros().max(1)
}

#[test]
fn print_per_operation_latency() {
    let n: usize = std::env::var("JPKI_STORE_LATENCY_N").ok().and_then(|v| v.parse().ok()).unwrap_or(30).max(1);
    let dir = tempfile::tempdir().unwrap();
    let local = LocalStore::open(dir.path().join("store.redb")).unwrap();
    const THREADS: usize = 8;
    let mut columns = vec![("LocalStore", measure(&local, n))];
    let mut throughput = vec![("LocalStore", concurrent_writes_per_second(&local, THREADS, n))];
    let journal = JournalStore::open(dir.path().join("store.journal")).unwrap();
    columns.push(("JournalStore", measure(&journal, n)));
    throughput.push(("JournalStore", concurrent_writes_per_second(&journal, THREADS, n)));

    if let Some(server) = RedisServer::start(dir.path(), DURABLE) {
        let store = RedisStore::connect(&server.url(), "lat:").unwrap();
        columns.push(("Redis always", measure(&store, n)));
        throughput.push(("Redis always", concurrent_writes_per_second(&store, THREADS, n)));
        let relaxed_dir = tempfile::tempdir().unwrap();
        let relaxed = RedisServer::start(relaxed_dir.path(), &["--appendonly", "yes", "--appendfsync", "everysec"]);
        if let Some(relaxed) = relaxed {
            let mut config = RedisStoreConfig::new(relaxed.url());
            config.durability_check = DurabilityCheck::ReportOnly;
            let store = RedisStore::connect_with(config).unwrap();
            columns.push(("Redis everysec", measure(&store, n)));
            throughput.push(("Redis everysec", concurrent_writes_per_second(&store, THREADS, n)));
        }
    }

    println!("per-operation latency, median / p99 in µs, n = {n} (debug build of the store):");
    print!("{:<20}", "operation");
    for (name, _) in &columns {
        print!("{name:>22}");
    }
    println!();
    for (row, (name, _)) in OPS.iter().enumerate() {
        print!("{name:<20}");
        for (_, results) in &columns {
            let (median, p99) = results[row];
            print!("{:>22}", format!("{median} / {p99}"));
        }
        println!();
    }
    print!("{:<20}", format!("writes/s, {THREADS} threads"));
    for (_, per_second) in &throughput {
        print!("{per_second:>22}");
    }
    println!();
}
