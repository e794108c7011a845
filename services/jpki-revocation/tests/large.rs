//! A 1M-entry list generated in memory by jpki-testpki's streaming writer: loaded, every 1000th
//! generated serial found with its date and reason, random non-serials not found.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, Target, at, time};
use jpki_core::revocation::{RevocationReason, RevocationStatus};
use jpki_revocation::CompactList;
use jpki_testpki::crl::{LargeCrlOptions, large_crl_entry, large_crl_serial};
use jpki_testpki::{CertKind as PkiKind, write_large_crl};

const ENTRIES: u64 = 1_000_000;

#[test]
fn a_million_entries_load_and_answer() {
    let fixture = Fixture::new(0);
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    let anchor = fixture.anchor_of(ca);
    let options = LargeCrlOptions::default();
    let mut der = Vec::with_capacity(50_000_000);
    let info = write_large_crl(ca.issuer(), ENTRIES, &mut der).unwrap();
    assert_eq!(info.entry_count, ENTRIES);

    let list = CompactList::from_der("national", &der, &fixture.anchors, jpki_testsupport::testing::at()).unwrap();
    drop(der);
    assert_eq!(list.len() as u64, ENTRIES);
    assert_eq!(list.meta().crl_number.to_string(), "1");
    assert_eq!(list.meta().issuer_key_id, ca.key_id());
    let per_entry = list.resident_bytes() as f64 / ENTRIES as f64;
    assert!(per_entry <= 32.0, "{per_entry} bytes per entry");

    for index in (0..ENTRIES).step_by(1000) {
        let serial = large_crl_serial(options.seed, index);
        let expected = large_crl_entry(options.seed, index, options.this_update);
        let found = list.lookup(&serial).unwrap_or_else(|| panic!("entry {index} missing"));
        assert_eq!(found.revoked_at.0, expected.revocation_date.unix_timestamp(), "entry {index}");
        let reason = expected.reason.map(|reason| RevocationReason::from_code(reason.code()).unwrap());
        assert_eq!(found.reason, reason, "entry {index}");
    }
    // Random 16-byte values shaped like generated serials, and another seed's serials.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..100_000 {
        let mut serial = [0u8; 16];
        serial[..8].copy_from_slice(&next().to_be_bytes());
        serial[8..].copy_from_slice(&next().to_be_bytes());
        serial[0] = (serial[0] & 0x7f).max(1);
        assert!(list.lookup(&serial).is_none());
        assert!(list.lookup(&serial[..8]).is_none());
    }
    for index in (0..ENTRIES).step_by(997) {
        assert!(list.lookup(&large_crl_serial(options.seed + 1, index)).is_none());
    }

    // Through the store, as the verifier asks.
    let store = jpki_revocation::RevocationStore::new(fixture.anchors.clone(), 0);
    let summary = store.insert(list, at()).unwrap();
    assert_eq!(summary.entries, ENTRIES);
    let revoked = Target::serial(anchor, &large_crl_serial(options.seed, 123_456), Vec::new());
    assert!(matches!(revoked.ask(&store, anchor, at()).status, RevocationStatus::Revoked { .. }));
    let good = Target::serial(anchor, &[0x01; 16], Vec::new());
    assert_eq!(good.ask(&store, anchor, time("2026-06-01T12:00:00Z")).status, RevocationStatus::Good);
}
