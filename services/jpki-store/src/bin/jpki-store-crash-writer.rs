//! Test helper for `tests/crash.rs` and `tests/redis_crash.rs`: writes to a store until it (or
//! the Redis server under it) is killed.
//!
//! Usage: `jpki-store-crash-writer PATH FIRST [THREADS]` writes to the `LocalStore` file PATH, or
//! to the `JournalStore` file PATH when it ends in `.journal`;
//! `jpki-store-crash-writer redis://HOST:PORT FIRST [THREADS]` writes to a `RedisStore` with prefix
//! `crash:` and stops at the first error (the test kills the server). With THREADS (default 1)
//! writer threads, thread k writes items FIRST+k, FIRST+k+THREADS, ..., all concurrently on one
//! store (so that `LocalStore` commits their calls in shared transactions). With a fourth argument
//! `compacting`, a journal is also compacted over and over, from another thread, while they write;
//! it prints `compacted` after each compaction.
//!
//! For n = FIRST, FIRST+1, ... it runs, each in its own committed transaction (or script): put and
//! consume challenge `c{n}`, put verification `v{n}`, link certificate (ca01, hex n) to customer
//! `cust{n % 5}`, watch it, append its revocation event; then prints `ack {n} {sequence}` and
//! flushes. Items alternate between tenants `crash-a` and `crash-b`.
//! An acknowledged item must survive any later `kill -9`.

use std::io::Write;
use std::process::ExitCode;

use jpki_core::CertId;
use jpki_store::{
    Challenge, ConsumeOutcome, JournalStore, LinkOutcome, LinkRecord, LocalStore, RedisStore, RevocationNotice,
    StatusChange, StoreError, TenantId, TenantStore, VerificationKind, VerificationRecord,
};

/// Base of every time written (the test uses the same values).
const BASE: i64 = 1_780_000_000;
/// Stop by itself after this many items, in case the test never kills it.
const MAX_ITEMS: u64 = 20_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(first)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok())) else {
        eprintln!("usage: jpki-store-crash-writer PATH|redis://HOST:PORT FIRST [THREADS [compacting]]");
        return ExitCode::from(2);
    };
    let threads = match args.get(3).map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("THREADS must be a positive number");
            return ExitCode::from(2);
        }
    };
    let compacting = match args.get(4).map(String::as_str) {
        None => false,
        Some("compacting") if path.ends_with(".journal") => true,
        Some(other) => {
            eprintln!("unknown fourth argument {other:?} (only `compacting`, for a journal)");
            return ExitCode::from(2);
        }
    };
    match run(path, first, threads, compacting) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jpki-store-crash-writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str, first: u64, threads: u64, compacting: bool) -> Result<(), Box<dyn std::error::Error>> {
    let journal = if path.ends_with(".journal") { Some(open_when_free(|| JournalStore::open(path))?) } else { None };
    let other: Option<Box<dyn TenantStore>> = match &journal {
        Some(_) => None,
        None if path.starts_with("redis://") => Some(Box::new(RedisStore::connect(path, "crash:")?)),
        None => Some(Box::new(open_when_free(|| LocalStore::open(path))?)),
    };
    let store: &dyn TenantStore = match (&journal, &other) {
        (Some(journal), _) => journal,
        (None, Some(other)) => other.as_ref(),
        (None, None) => return Err("no store".into()),
    };
    let step = usize::try_from(threads)?;
    let writing = std::sync::atomic::AtomicBool::new(true);
    let result: Result<(), String> = std::thread::scope(|scope| {
        let compactor = journal.as_ref().filter(|_| compacting).map(|journal| {
            let writing = &writing;
            scope.spawn(move || {
                while writing.load(std::sync::atomic::Ordering::Acquire) {
                    journal.compact().map_err(|e| e.to_string())?;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "compacted").and_then(|()| out.flush()).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        });
        let writers: Vec<_> = (0..threads)
            .map(|k| scope.spawn(move || write_items(store, (first + k..first + MAX_ITEMS).step_by(step))))
            .collect();
        // The first error is reported (the test kills the process, so errors are rare anyway).
        let written =
            writers.into_iter().try_for_each(|w| w.join().unwrap_or_else(|_| Err("writer thread panicked".into())));
        writing.store(false, std::sync::atomic::Ordering::Release);
        let compacted = compactor.map_or(Ok(()), |c| c.join().unwrap_or_else(|_| Err("compactor panicked".into())));
        written.and(compacted)
    });
    Ok(result?)
}

fn write_items(store: &dyn TenantStore, items: impl Iterator<Item = u64>) -> Result<(), String> {
    for n in items {
        let sequence = write_item(store, n).map_err(|e| e.to_string())?;
        // The ack goes out only after every commit of item n returned.
        let mut out = std::io::stdout().lock();
        writeln!(out, "ack {n} {sequence}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn write_item(store: &dyn TenantStore, n: u64) -> Result<u64, Box<dyn std::error::Error>> {
    let tenant = TenantId::new(if n.is_multiple_of(2) { "crash-a" } else { "crash-b" })?;
    let t = i64::try_from(n)?;
    let id = format!("c{n}");
    store.put_challenge(
        &tenant,
        &id,
        Challenge {
            challenge: n.to_be_bytes().to_vec(),
            transaction_reference: format!("tx{n}"),
            issued_at: BASE,
            expires_at: BASE + 10_000_000,
        },
    )?;
    if !matches!(store.consume_challenge(&tenant, &id, BASE + t)?, ConsumeOutcome::Consumed(_)) {
        return Err(format!("challenge {id} was not consumed").into());
    }
    let certificate = CertId { ca_key_id: "ca01".into(), serial: format!("{n:x}") };
    store.put_verification(
        &tenant,
        VerificationRecord {
            id: format!("v{n}"),
            kind: VerificationKind::Authentication,
            passed: true,
            certificate: Some(certificate.clone()),
            not_after: Some(BASE + 5_000_000),
            verified_at: BASE + t,
            transaction_reference: format!("tx{n}"),
            purpose: "login".into(),
        },
    )?;
    let link = LinkRecord {
        customer_id: format!("cust{}", n % 5),
        certificate: certificate.clone(),
        not_after: BASE + 5_000_000,
        linked_at: BASE + t,
    };
    if !matches!(store.link(&tenant, link)?, LinkOutcome::Created(_)) {
        return Err(format!("link {n} was not created").into());
    }
    store.watch(&tenant, &certificate, BASE + 5_000_000, "auth_card")?;
    let notice = RevocationNotice {
        certificate,
        change: StatusChange::Revoked,
        revoked_at: BASE + t,
        reason: Some("key_compromise".into()),
        crl_number: Some(n.to_string()),
        customer_id: Some(format!("cust{}", n % 5)),
        kind: "auth_card".into(),
    };
    let sequences = store.append_events(vec![(tenant, notice)])?;
    sequences.first().copied().ok_or_else(|| Box::new(StoreError::Backend("no sequence returned".into())) as _)
}

/// Opens the store, waiting up to 5 s while it is in use. The test closes the store before it
/// starts this writer, but a child that another test thread forks in the meantime holds a copy of
/// the lock's file descriptor until it execs, and with it the lock.
fn open_when_free<S>(open: impl Fn() -> Result<S, StoreError>) -> Result<S, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match open() {
            Err(StoreError::InUse { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            result => return result,
        }
    }
}
