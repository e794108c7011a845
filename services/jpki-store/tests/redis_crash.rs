//! `kill -9` durability of `RedisStore`: redis-server (own port, own directory, `appendonly yes`,
//! `appendfsync always`) is SIGKILLed at random points under a writer process
//! (`jpki-store-crash-writer redis://...`); after a restart on the same directory, every item the
//! writer acknowledged (printed `ack` after each of its calls returned `Ok`) must be there, used
//! challenges must still answer `AlreadyUsed`, event sequences must be dense, and the indexes of a
//! half-written item must agree (each script is all or nothing in the AOF).
//!
//! SIGKILL keeps the page cache, so this covers "acknowledged means in the AOF, and the AOF
//! replays atomically"; that the AOF is also on the disk before the reply rests on
//! `appendfsync always`, which `RedisStore::connect` insists on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use jpki_store::{Challenge, ConsumeOutcome, RedisStore, TenantStore};
use support::crash::{BASE, check_acked, check_consistent, parse_ack, random_below, tenant_of, written_parts};
use support::{DURABLE, RedisServer};

const ROUNDS: u64 = 5;
/// Item numbers of round r start at r * STRIDE so that rounds never reuse an id.
const STRIDE: u64 = 1_000_000;

#[test]
fn acknowledged_writes_survive_kill_9_of_redis_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut server) = RedisServer::start(dir.path(), DURABLE) else { return };
    // Acknowledged item number -> its event sequence, over all rounds.
    let mut acked: BTreeMap<u64, u64> = BTreeMap::new();

    for round in 1..=ROUNDS {
        let first = round * STRIDE;
        let mut child = Command::new(env!("CARGO_BIN_EXE_jpki-store-crash-writer"))
            .arg(server.url())
            .arg(first.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()) // it reports the failure the kill causes
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wanted = 1 + random_below(40);
        for _ in 0..wanted {
            parse_ack(&lines.next().expect("writer exited early").unwrap(), &mut acked);
        }
        // Land the kill at a random point of the next item's scripts.
        std::thread::sleep(Duration::from_micros(random_below(5_000)));
        server.kill_9();
        // The writer stops at its first failed call; acks printed before that are acknowledged.
        for line in lines {
            parse_ack(&line.unwrap(), &mut acked);
        }
        child.wait().unwrap();
        let last = *acked.keys().next_back().unwrap();
        eprintln!("round {round}: redis-server killed after item {last} ({} acked so far)", acked.len());

        server.restart();
        let store = RedisStore::connect(&server.url(), "crash:").unwrap();
        check_acked(&store, &acked);
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
