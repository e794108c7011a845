//! `kill -9` durability of `LocalStore` and `JournalStore`: a real writer process is killed at random points; every
//! item it acknowledged (printed `ack` after its commits returned) must be in the reopened store,
//! consumed challenges must still answer `AlreadyUsed`, and the indexes of a half-written item must
//! agree. `tests/redis_crash.rs` does the same for `RedisStore`, killing redis-server instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use jpki_store::{Challenge, ConsumeOutcome, JournalStore, LocalStore, TenantStore};
use support::crash::{BASE, check_acked, check_consistent, parse_ack, random_below, tenant_of, written_parts};

const ROUNDS: u64 = 5;
/// Item numbers of round r start at r * STRIDE so that rounds never reuse an id.
const STRIDE: u64 = 1_000_000;

#[test]
fn acknowledged_writes_survive_kill_9() {
    kill_rounds(1, "store.redb");
}

#[test]
fn acknowledged_journal_writes_survive_kill_9() {
    kill_rounds(1, "store.journal");
}

/// The same with several writer threads in the writer process, so that `LocalStore` commits their
/// calls in shared transactions (group commit): every item acknowledged by any thread survives,
/// and every item that was in flight is either whole or consistent.
#[test]
fn acknowledged_writes_of_concurrent_writers_survive_kill_9() {
    kill_rounds(6, "store.redb");
}

/// The same on the journal, whose concurrent calls share one `fdatasync` (group commit).
#[test]
fn acknowledged_journal_writes_of_concurrent_writers_survive_kill_9() {
    kill_rounds(6, "store.journal");
}

/// The same while the writer process compacts the journal over and over from another thread,
/// so that kills land in compactions too: before, during and after the switch of files.
#[test]
fn acknowledged_journal_writes_survive_kill_9_during_compactions() {
    kill_rounds_with(2, "store.journal", &["compacting"]);
}

/// Opens the store the writer wrote: a journal when the file name ends in `.journal`.
fn reopen(path: &std::path::Path) -> Box<dyn TenantStore> {
    if path.extension().is_some_and(|e| e == "journal") {
        let journal = JournalStore::open(path).unwrap();
        eprintln!("  recovery: {:?}", journal.recovery());
        Box::new(journal)
    } else {
        Box::new(LocalStore::open(path).unwrap())
    }
}

/// Runs the writer with `threads` threads on the store file `file`, kills it at a random point
/// [`ROUNDS`] times, and checks the reopened store each time.
fn kill_rounds(threads: u64, file: &str) {
    kill_rounds_with(threads, file, &[]);
}

/// [`kill_rounds`], with `extra` arguments for the writer after its thread count.
fn kill_rounds_with(threads: u64, file: &str, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash").join(file);
    // Acknowledged item number -> its event sequence, over all rounds.
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();
    // Compactions the writer finished, and rounds killed with a compaction's new file begun.
    let (mut compactions, mut killed_compacting) = (0, 0);
    let mut take = |line: String, acked: &mut BTreeMap<u64, u64>| match line.as_str() {
        "compacted" => compactions += 1,
        _ => parse_ack(&line, acked),
    };

    for round in 1..=ROUNDS {
        let first = round * STRIDE;
        let mut writer = Command::new(env!("CARGO_BIN_EXE_jpki-store-crash-writer"));
        writer.arg(&path).arg(first.to_string());
        if threads > 1 || !extra.is_empty() {
            writer.arg(threads.to_string()).args(extra);
        }
        let mut child = writer.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..1 + random_below(40 * threads) {
            take(lines.next().expect("writer exited early").unwrap(), &mut acked);
        }
        // Land the kill at a random point of the next items' transactions.
        std::thread::sleep(Duration::from_micros(random_below(20_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // Acks printed before the kill are acknowledged too.
        for line in lines {
            take(line.unwrap(), &mut acked);
        }
        killed_compacting += u32::from(path.with_extension("journal.compacting").exists());
        let last = *acked.keys().next_back().unwrap();
        let in_round = acked.range(first..).count();
        eprintln!("round {round}: killed with {in_round} items acked this round, the last {last}");

        let store = reopen(&path);
        let store = store.as_ref();
        check_acked(store, &acked);
        // Every item of this round that was not acknowledged (in flight in some thread, or not
        // started): its indexes agree with each other.
        for n in (first..=last + 2 * threads).filter(|n| !acked.contains_key(n)) {
            check_consistent(store, n);
        }
        eprintln!("  item {} had {} when killed", last + 1, written_parts(store, last + 1));
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
    if extra.contains(&"compacting") {
        eprintln!("{compactions} compactions finished; {killed_compacting} of {ROUNDS} kills left a new file begun");
        // Either shows that the kills met a compacting writer (how often each is, is chance).
        assert!(compactions + killed_compacting > 0, "the writer compacted");
    }
}
