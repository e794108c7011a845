//! Lookups from several threads while lists are swapped repeatedly: every answer must be the
//! one the list it names gives. No timing is involved: the writer waits for readers to make
//! progress between swaps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Fixture, Target, at, offset, time};
use jpki_core::revocation::RevocationStatus;
use jpki_testpki::{CertKind as PkiKind, CrlEntry, ReasonCode};

const LISTS: u64 = 24;
const READERS: usize = 3;

#[test]
fn readers_never_see_a_wrong_or_half_built_list() {
    let fixture = Arc::new(Fixture::new(0));
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    // Even-numbered lists revoke X, odd-numbered ones revoke Y; all carry 20 000 other entries.
    let x = vec![0x11; 16];
    let y = vec![0x22; 16];
    let revoked_at = offset(time("2026-05-01T00:00:00Z"));
    let filler: Vec<CrlEntry> = (0u32..20_000)
        .map(|i| {
            CrlEntry::new([[0x33u8; 12].as_slice(), &i.to_be_bytes()].concat(), revoked_at)
                .reason(ReasonCode::Superseded)
        })
        .collect();
    let lists: Vec<Vec<u8>> = (1..=LISTS)
        .map(|number| {
            let mut entries = filler.clone();
            let marked = if number % 2 == 0 { &x } else { &y };
            entries.push(CrlEntry::new(marked.clone(), revoked_at).reason(ReasonCode::KeyCompromise));
            fixture.crl(ca, time("2026-05-10T00:00:00Z"), time("2026-06-10T00:00:00Z"), number, &entries)
        })
        .collect();
    fixture.store.load("list-1", &lists[0], at()).unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let queries = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (fixture, done, queries) = (fixture.clone(), done.clone(), queries.clone());
            let (x, y) = (x.clone(), y.clone());
            std::thread::spawn(move || {
                let ca = fixture.ca(PkiKind::SigningCard, 2);
                let anchor = fixture.anchor_of(ca);
                let targets =
                    [(Target::serial(anchor, &x, Vec::new()), 0), (Target::serial(anchor, &y, Vec::new()), 1)];
                let filler =
                    Target::serial(anchor, &[[0x33u8; 12].as_slice(), &7u32.to_be_bytes()].concat(), Vec::new());
                let mut wrong = 0usize;
                let mut numbers = std::collections::BTreeSet::new();
                while !done.load(Ordering::Acquire) {
                    for (target, parity) in &targets {
                        let answer = target.ask(&fixture.store, anchor, at());
                        let number: u64 =
                            answer.provenance.as_ref().unwrap().crl_number.as_ref().unwrap().parse().unwrap();
                        numbers.insert(number);
                        let revoked = matches!(answer.status, RevocationStatus::Revoked { .. });
                        if revoked != (number % 2 == *parity) {
                            wrong += 1;
                        }
                    }
                    if !matches!(filler.ask(&fixture.store, anchor, at()).status, RevocationStatus::Revoked { .. }) {
                        wrong += 1;
                    }
                    queries.fetch_add(1, Ordering::AcqRel);
                }
                (wrong, numbers)
            })
        })
        .collect();

    for (index, der) in lists.iter().enumerate().skip(1) {
        let before = queries.load(Ordering::Acquire);
        fixture.store.load(&format!("list-{}", index + 1), der, at()).unwrap();
        // Let the readers run some rounds against this list before the next swap.
        while queries.load(Ordering::Acquire) < before + 50 {
            std::thread::yield_now();
        }
    }
    done.store(true, Ordering::Release);
    let mut seen = std::collections::BTreeSet::new();
    for reader in readers {
        let (wrong, numbers) = reader.join().unwrap();
        assert_eq!(wrong, 0);
        seen.extend(numbers);
    }
    assert!(seen.len() > 2, "readers saw several lists: {seen:?}");
    assert_eq!(fixture.store.lists().len(), 1);
}
