#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A daily refresh of a 1M-entry list under continuous lookups: reader threads ask the store
//! (through `RevocationSource::status`, as the verifier does) about serials revoked in both lists,
//! serials on neither and serials that only the new list revokes, while the main thread loads the
//! new list. Every answer must be the one of the list it names, never unknown, never going back
//! to the old list once the new one was seen or once the load returned, and the readers must
//! keep answering while the load runs. No timing is measured: the main thread waits for reader
//! progress (counts), never for a duration.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{Fixture, Target, offset, time};
use jpki_core::UnixTime;
use jpki_core::revocation::{RevocationReason, RevocationStatus};
use jpki_testpki::crl::{LargeCrlOptions, large_crl_entry, large_crl_serial};
use jpki_testpki::{CertKind as PkiKind, CrlEntry, ReasonCode, write_large_crl_with};

const ENTRIES: u64 = 1_000_000;
const SEED: u64 = 7;
const OLD: u64 = 41;
const NEW: u64 = 42;
const READERS: usize = 2;

fn old_this_update() -> UnixTime {
    time("2026-05-31T15:00:00Z")
}

fn new_this_update() -> UnixTime {
    time("2026-05-31T21:00:00Z")
}

/// Validation time: within both lists' validity.
fn at() -> UnixTime {
    time("2026-06-01T00:00:00Z")
}

fn both_extra(i: u8) -> Vec<u8> {
    vec![0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, i]
}

fn newly_revoked(i: u8) -> Vec<u8> {
    vec![0x6e, 0x65, 0x77, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, i]
}

fn absent(i: u8) -> Vec<u8> {
    vec![0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, i]
}

fn both_extra_at() -> UnixTime {
    time("2026-05-20T09:00:00Z")
}

fn newly_revoked_at() -> UnixTime {
    time("2026-05-31T20:00:00Z")
}

fn list(fixture: &Fixture, number: u64, this_update: UnixTime, extra: Vec<CrlEntry>) -> Vec<u8> {
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    let options = LargeCrlOptions {
        this_update: offset(this_update),
        next_update: offset(UnixTime(this_update.0 + 86_400)),
        number,
        seed: SEED,
        extra_entries: extra,
        ..LargeCrlOptions::default()
    };
    let mut der = Vec::with_capacity(50_000_000);
    let info = write_large_crl_with(ca.issuer(), ENTRIES, &options, &mut der).unwrap();
    assert_eq!(info.total_len, der.len() as u64);
    der
}

/// Waits until the readers have made `target` lookups in all. The deadline only turns a hung or
/// dead reader into a failure; it is far above what the wait takes.
fn wait_for_lookups(lookups: &AtomicU64, target: u64, readers: &[std::thread::JoinHandle<Seen>]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while lookups.load(Ordering::Acquire) < target {
        assert!(!readers.iter().any(std::thread::JoinHandle::is_finished), "a reader stopped early");
        assert!(std::time::Instant::now() < deadline, "readers made no progress for 5 minutes");
        std::thread::yield_now();
    }
}

/// What one reader saw.
#[derive(Debug, Default)]
struct Seen {
    wrong: Vec<String>,
    old_answers: u64,
    new_answers: u64,
}

#[test]
fn a_refresh_under_lookup_load_never_gives_a_wrong_answer() {
    let fixture = Arc::new(Fixture::new(0));
    let ca = fixture.ca(PkiKind::SigningCard, 2);

    let both: Vec<CrlEntry> = (0..4u8)
        .map(|i| CrlEntry::new(both_extra(i), offset(both_extra_at())).reason(ReasonCode::AffiliationChanged))
        .collect();
    let mut with_new = both.clone();
    with_new.extend(
        (0..4u8).map(|i| CrlEntry::new(newly_revoked(i), offset(newly_revoked_at())).reason(ReasonCode::KeyCompromise)),
    );
    let old = list(&fixture, OLD, old_this_update(), both);
    let new = list(&fixture, NEW, new_this_update(), with_new);
    assert!(old.len() > 48_000_000 && new.len() > old.len());

    let summary = fixture.store.load("signing-card-g2 #41", &old, at()).unwrap();
    assert_eq!(summary.entries, ENTRIES + 4);
    drop(old);

    let done = Arc::new(AtomicBool::new(false));
    let swapped = Arc::new(AtomicBool::new(false));
    let lookups = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|reader| {
            let (fixture, done, swapped, lookups) = (fixture.clone(), done.clone(), swapped.clone(), lookups.clone());
            std::thread::spawn(move || {
                let ca = fixture.ca(PkiKind::SigningCard, 2);
                let anchor = fixture.anchor_of(ca);
                let target = |serial: &[u8]| Target::serial(anchor, serial, Vec::new());
                // Generated entries, spread over the list, different per reader.
                let generated: Vec<(u64, Target)> = (0..64u64)
                    .map(|k| {
                        let index = (k * 15_551 + reader as u64 * 7_919) % ENTRIES;
                        (index, target(&large_crl_serial(SEED, index)))
                    })
                    .collect();
                let both: Vec<Target> = (0..4).map(|i| target(&both_extra(i))).collect();
                let new: Vec<Target> = (0..4).map(|i| target(&newly_revoked(i))).collect();
                let mut missing: Vec<Target> = (0..4).map(|i| target(&absent(i))).collect();
                missing.extend((0..16u64).map(|index| target(&large_crl_serial(SEED + 1, index * 31))));

                let mut seen = Seen::default();
                let mut saw_new = false;
                let wrong = |seen: &mut Seen, what: String| {
                    if seen.wrong.len() < 20 {
                        seen.wrong.push(what);
                    } else {
                        seen.wrong.push(String::new());
                    }
                };
                while !done.load(Ordering::Acquire) {
                    let round = [
                        generated.iter().map(|(index, target)| (target, Some(*index), 'g')).collect::<Vec<_>>(),
                        both.iter().map(|target| (target, None, 'b')).collect(),
                        new.iter().map(|target| (target, None, 'n')).collect(),
                        missing.iter().map(|target| (target, None, 'a')).collect(),
                    ];
                    for (target, index, class) in round.into_iter().flatten() {
                        // Read before asking: once set, the new list must answer.
                        let after_swap = swapped.load(Ordering::Acquire);
                        let answer = target.ask(&fixture.store, anchor, at());
                        lookups.fetch_add(1, Ordering::Relaxed);
                        let number = answer.provenance.as_ref().and_then(|p| p.crl_number.as_deref());
                        let number = match number {
                            Some("41") => OLD,
                            Some("42") => NEW,
                            other => {
                                wrong(&mut seen, format!("{class} answered by {other:?}: {answer:?}"));
                                continue;
                            }
                        };
                        if number == OLD {
                            seen.old_answers += 1;
                            if saw_new || after_swap {
                                wrong(&mut seen, format!("{class}: old list after the new one (swapped {after_swap})"));
                            }
                        } else {
                            seen.new_answers += 1;
                            saw_new = true;
                        }
                        let this_update = if number == OLD { old_this_update() } else { new_this_update() };
                        let expected = match (class, index) {
                            ('g', Some(index)) => {
                                let entry = large_crl_entry(SEED, index, offset(this_update));
                                RevocationStatus::Revoked {
                                    revoked_at: UnixTime(entry.revocation_date.unix_timestamp()),
                                    reason: entry.reason.map(|r| RevocationReason::from_code(r.code()).unwrap()),
                                }
                            }
                            ('b', _) => RevocationStatus::Revoked {
                                revoked_at: both_extra_at(),
                                reason: Some(RevocationReason::AffiliationChanged),
                            },
                            ('n', _) if number == NEW => RevocationStatus::Revoked {
                                revoked_at: newly_revoked_at(),
                                reason: Some(RevocationReason::KeyCompromise),
                            },
                            _ => RevocationStatus::Good,
                        };
                        if answer.status != expected {
                            wrong(
                                &mut seen,
                                format!("{class} {index:?} list {number}: {:?} != {expected:?}", answer.status),
                            );
                        }
                    }
                }
                seen
            })
        })
        .collect();

    // Let the readers get going on the old list (a count, not a duration).
    wait_for_lookups(&lookups, 10_000, &readers);
    let before = lookups.load(Ordering::Acquire);
    let loaded = fixture.store.load("signing-card-g2 #42", &new, at()).unwrap();
    let during = lookups.load(Ordering::Acquire) - before;
    swapped.store(true, Ordering::Release);
    assert_eq!(loaded.entries, ENTRIES + 8);
    assert_eq!(loaded.crl_number, NEW.to_string());
    // And some more rounds on the new list.
    let after = lookups.load(Ordering::Acquire);
    wait_for_lookups(&lookups, after + 10_000, &readers);
    done.store(true, Ordering::Release);

    let mut total = Seen::default();
    for reader in readers {
        let seen = reader.join().unwrap();
        total.wrong.extend(seen.wrong);
        total.old_answers += seen.old_answers;
        total.new_answers += seen.new_answers;
    }
    assert!(
        total.wrong.is_empty(),
        "{} wrong answers, first: {:#?}",
        total.wrong.len(),
        &total.wrong[..total.wrong.len().min(20)]
    );
    assert!(during > 0, "readers made no lookup while the 1M-entry list was loading");
    assert!(total.old_answers > 0 && total.new_answers > 0, "{total:?}");
    println!(
        "lookups while loading: {during}; answers from list {OLD}: {}, from list {NEW}: {}",
        total.old_answers, total.new_answers
    );

    // Only the new list is in use, and it answers the newly revoked serials as revoked.
    let lists = fixture.store.lists();
    assert_eq!(lists.len(), 1);
    assert_eq!(lists[0].crl_number, "42");
    let anchor = fixture.anchor_of(ca);
    for i in 0..4 {
        let answer = Target::serial(anchor, &newly_revoked(i), Vec::new()).ask(&fixture.store, anchor, at());
        assert!(matches!(answer.status, RevocationStatus::Revoked { .. }), "{answer:?}");
    }
}
