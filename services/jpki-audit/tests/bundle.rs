//! The auditor's bundle: written, then verified offline, then tampered with in every way the
//! verifier must name.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::fs;

use common::*;
use jpki_audit::bundle::verify_dir;
use jpki_audit::{Bundle, LogSigner, Mismatch, VerifyFailure};

const FIRST: u64 = 120;
const SIZE: u64 = 300;

fn fresh() -> (tempfile::TempDir, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let leaves = write_bundle(dir.path(), FIRST, SIZE);
    (dir, leaves)
}

fn event_failure(dir: &std::path::Path) -> (u64, Mismatch) {
    match verify_dir(dir) {
        Err(VerifyFailure::Event { index, what }) => (index, what),
        other => panic!("expected an event failure, got {other:?}"),
    }
}

#[test]
fn clean_bundle_verifies() {
    let (dir, _) = fresh();
    let report = verify_dir(dir.path()).unwrap();
    assert_eq!(report.origin, origin());
    assert_eq!(report.size, SIZE);
    assert_eq!(report.checkpoints, vec![FIRST, SIZE]);
    assert_eq!(report.key_names, vec![origin()]);
    assert_eq!(report.first_time, Some(1_780_000_000));
    assert_eq!(report.last_time, Some(1_780_000_000 + SIZE as i64 - 1));
    // tile/0/000, tile/0/001.p/44, tile/1/000.p/1; tile/entries/000, tile/entries/001.p/44.
    assert_eq!((report.tiles, report.entry_bundles), (3, 2));
    for file in [
        "origin",
        "keys.vkey",
        "events.jsonl",
        "checkpoint",
        "checkpoints/120",
        "checkpoints/300",
        "tile/0/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
        "tile/entries/000",
        "tile/entries/001.p/44",
    ] {
        assert!(dir.path().join(file).is_file(), "{file}");
    }
    assert_eq!(fs::read(dir.path().join("checkpoint")).unwrap(), fs::read(dir.path().join("checkpoints/300")).unwrap());
}

#[test]
fn changed_event_one_byte() {
    let (dir, mut leaves) = fresh();
    let pos = leaves[37].iter().position(|&b| b == b'7').unwrap();
    leaves[37][pos] = b'8';
    write_events(dir.path(), &leaves);
    assert_eq!(event_failure(dir.path()), (37, Mismatch::Changed));
}

#[test]
fn changed_event_after_the_first_checkpoint() {
    let (dir, mut leaves) = fresh();
    leaves[250][10] ^= 1;
    write_events(dir.path(), &leaves);
    assert_eq!(event_failure(dir.path()), (250, Mismatch::Changed));
}

#[test]
fn removed_event() {
    let (dir, mut leaves) = fresh();
    leaves.remove(50);
    write_events(dir.path(), &leaves);
    assert_eq!(event_failure(dir.path()), (50, Mismatch::Missing));
}

#[test]
fn swapped_events() {
    let (dir, mut leaves) = fresh();
    leaves.swap(10, 11);
    write_events(dir.path(), &leaves);
    assert_eq!(event_failure(dir.path()), (10, Mismatch::Reordered));
}

#[test]
fn inserted_event() {
    let (dir, mut leaves) = fresh();
    leaves.insert(20, event(9999).leaf().unwrap());
    write_events(dir.path(), &leaves);
    assert_eq!(event_failure(dir.path()), (20, Mismatch::Extra));
}

#[test]
fn events_past_the_newest_checkpoint() {
    let (dir, mut leaves) = fresh();
    leaves.push(event(SIZE).leaf().unwrap());
    write_events(dir.path(), &leaves);
    assert_eq!(event_failure(dir.path()), (SIZE, Mismatch::Extra));
}

#[test]
fn truncated_events_at_a_line_end() {
    let (dir, leaves) = fresh();
    write_events(dir.path(), &leaves[..250]);
    assert_eq!(event_failure(dir.path()), (250, Mismatch::Missing));
}

#[test]
fn truncated_events_mid_line() {
    let (dir, _) = fresh();
    let path = dir.path().join("events.jsonl");
    let data = fs::read(&path).unwrap();
    // Cut 30 bytes into event 200 (the 201st line).
    let start_of_200 = data.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(199).unwrap().0 + 1;
    fs::write(&path, &data[..start_of_200 + 30]).unwrap();
    assert_eq!(event_failure(dir.path()), (200, Mismatch::Truncated));
}

#[test]
fn altered_checkpoint_signature() {
    let (dir, _) = fresh();
    let path = dir.path().join("checkpoints/120");
    let note = fs::read_to_string(&path).unwrap();
    let (body, sig) = note.split_once("\n\n").unwrap();
    let mut sig = sig.to_owned().into_bytes();
    let pos = sig.len() - 6;
    sig[pos] = if sig[pos] == b'A' { b'B' } else { b'A' };
    fs::write(&path, format!("{body}\n\n{}", String::from_utf8(sig).unwrap())).unwrap();
    match verify_dir(dir.path()) {
        Err(VerifyFailure::Checkpoint { file, reason }) => {
            assert_eq!(file, "checkpoints/120");
            assert!(reason.contains("invalid signature"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn checkpoint_from_another_origin() {
    let (dir, leaves) = fresh();
    // Signed by the log's own key, but for another tenant's log.
    let other = jpki_audit::origin(PLATFORM, "other").unwrap();
    let tree = jpki_audit::LogHashes::from_leaves(&leaves).unwrap();
    let note = signer().sign(&other, FIRST, tree.root(FIRST).unwrap()).unwrap();
    fs::write(dir.path().join("checkpoints/120"), note).unwrap();
    match verify_dir(dir.path()) {
        Err(VerifyFailure::Checkpoint { file, reason }) => {
            assert_eq!(file, "checkpoints/120");
            assert!(reason.contains("origin"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn checkpoint_under_the_wrong_name() {
    let (dir, _) = fresh();
    fs::copy(dir.path().join("checkpoints/120"), dir.path().join("checkpoints/121")).unwrap();
    assert!(matches!(verify_dir(dir.path()), Err(VerifyFailure::Checkpoint { file, .. }) if file == "checkpoints/121"));
}

#[test]
fn without_authentic_tiles_the_range_between_checkpoints_is_named() {
    let (dir, mut leaves) = fresh();
    leaves[250][10] ^= 1;
    write_events(dir.path(), &leaves);
    // Tiles forged to match the altered events: they no longer match the signed root.
    let tree = jpki_audit::LogHashes::from_leaves(&leaves).unwrap();
    for (path, data) in tree.tiles(SIZE).unwrap() {
        fs::write(dir.path().join(path), data).unwrap();
    }
    match verify_dir(dir.path()) {
        Err(VerifyFailure::EventRange { from, to, .. }) => assert_eq!((from, to), (FIRST, SIZE)),
        other => panic!("{other:?}"),
    }
    // Tiles gone altogether: the same range.
    fs::remove_dir_all(dir.path().join("tile")).unwrap();
    match verify_dir(dir.path()) {
        Err(VerifyFailure::EventRange { from, to, .. }) => assert_eq!((from, to), (FIRST, SIZE)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn altered_entry_bundle_or_tile() {
    let (dir, _) = fresh();
    let path = dir.path().join("tile/entries/001.p/44");
    let mut data = fs::read(&path).unwrap();
    data[100] ^= 1;
    fs::write(&path, &data).unwrap();
    match verify_dir(dir.path()) {
        Err(VerifyFailure::Tile { file, reason }) => {
            assert_eq!(file, "tile/entries/001.p/44");
            assert!(reason.contains("entry 256"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let (dir, _) = fresh();
    fs::remove_file(dir.path().join("tile/1/000.p/1")).unwrap();
    assert!(matches!(verify_dir(dir.path()), Err(VerifyFailure::Tile { file, .. }) if file == "tile/1/000.p/1"));
}

#[test]
fn write_refuses_leaves_that_do_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let signer = signer();
    let leaves = leaves(50);
    let notes = checkpoints(&signer, &leaves, &[20, 50]);
    let mut changed = leaves.clone();
    changed[3][5] ^= 1;
    assert!(Bundle::write(dir.path(), &origin(), &[signer.vkey()], &changed, &notes).is_err());
    assert!(Bundle::write(dir.path(), &origin(), &[signer.vkey()], &leaves[..49], &notes).is_err());
    let other_key = LogSigner::from_seed(&origin(), &[8; 32]).unwrap();
    assert!(Bundle::write(dir.path(), &origin(), &[other_key.vkey()], &leaves, &notes).is_err());
    assert!(Bundle::write(dir.path(), "other/origin", &[signer.vkey()], &leaves, &notes).is_err());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn pulls_keep_checkpoints_and_refuse_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let signer = signer();
    let all = leaves(600);
    Bundle::write(dir.path(), &origin(), &[signer.vkey()], &all[..100], &checkpoints(&signer, &all, &[100])).unwrap();
    let partial_100 = dir.path().join("tile/0/000.p/100");
    assert!(partial_100.is_file());
    // The next pull passes only the new checkpoint; the old one stays and is checked too.
    Bundle::write(dir.path(), &origin(), &[signer.vkey()], &all, &checkpoints(&signer, &all, &[600])).unwrap();
    let report = verify_dir(dir.path()).unwrap();
    assert_eq!(report.checkpoints, vec![100, 600]);
    assert!(!partial_100.exists(), "old partial tiles are removed");
    // A log that rewrote history: its new checkpoint does not extend the stored one.
    let mut forked = leaves(700);
    forked[5] = event(5000).leaf().unwrap();
    let notes = checkpoints(&signer, &forked, &[700]);
    let err = Bundle::write(dir.path(), &origin(), &[signer.vkey()], &forked, &notes).unwrap_err();
    assert!(err.to_string().contains("size 100"), "{err}");
    assert_eq!(verify_dir(dir.path()).unwrap().size, 600);
}

#[test]
fn key_rotation_in_one_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let old = signer();
    let new = LogSigner::from_seed(&format!("{}/2027", origin()), &[9; 32]).unwrap();
    let all = leaves(40);
    let mut notes = checkpoints(&old, &all, &[10]);
    notes.extend(checkpoints(&new, &all, &[40]));
    Bundle::write(dir.path(), &origin(), &[old.vkey(), new.vkey()], &all, &notes).unwrap();
    let report = verify_dir(dir.path()).unwrap();
    let mut names = vec![old.name().to_owned(), new.name().to_owned()];
    names.sort();
    assert_eq!(report.key_names, names);
}
