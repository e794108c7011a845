//! Events whose payload expired under retention: only their leaf hash remains (an empty line in
//! events.jsonl, the hash in `expired`), and the bundle still verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::fs;

use common::*;
use jpki_audit::bundle::{EXPIRED_FILE, read_expired, tree_of, verify_dir};
use jpki_audit::{Bundle, Expired, Mismatch, VerifyFailure, leaf_hash};

const SIZE: u64 = 300;
const GONE: [u64; 4] = [0, 7, 256, 299];

/// A bundle of SIZE events, checkpoints at 120 and SIZE, where the events of GONE expired.
fn expired_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let signer = signer();
    let full = leaves(SIZE);
    let notes = checkpoints(&signer, &full, &[120, SIZE]);
    let mut pulled = full.clone();
    let mut expired = Expired::new();
    for index in GONE {
        expired.insert(index, leaf_hash(&full[index as usize]));
        pulled[index as usize].clear();
    }
    Bundle::write_with_expired(dir.path(), &origin(), &[signer.vkey()], &pulled, &expired, &notes).unwrap();
    dir
}

#[test]
fn a_log_with_expired_events_verifies() {
    let dir = expired_bundle();
    let report = verify_dir(dir.path()).unwrap();
    assert_eq!(report.size, SIZE);
    // The first event expired: the first time is the first event still held.
    assert_eq!(report.first_time, Some(1_780_000_001));
    assert_eq!(report.last_time, Some(1_780_000_000 + SIZE as i64 - 2));
    let expired = read_expired(dir.path()).unwrap();
    assert_eq!(expired.keys().copied().collect::<Vec<_>>(), GONE);
    let text = fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(text.starts_with('\n') && text.ends_with("\n\n"));
    // Rewriting with nothing expired removes the file.
    let signer = signer();
    let full = leaves(SIZE);
    Bundle::write(dir.path(), &origin(), &[signer.vkey()], &full, &checkpoints(&signer, &full, &[SIZE])).unwrap();
    assert!(!dir.path().join(EXPIRED_FILE).exists());
    verify_dir(dir.path()).unwrap();
}

#[test]
fn an_altered_expired_hash_is_detected() {
    let dir = expired_bundle();
    let path = dir.path().join(EXPIRED_FILE);
    let text = fs::read_to_string(&path).unwrap();
    let line = text.lines().nth(1).unwrap().to_owned();
    let (index, hash) = line.split_once(' ').unwrap();
    assert_eq!(index, "7");
    let flipped = format!("{index} {}{}", if hash.starts_with('0') { '1' } else { '0' }, &hash[1..]);
    fs::write(&path, text.replace(&line, &flipped)).unwrap();
    assert!(
        matches!(verify_dir(dir.path()), Err(VerifyFailure::Event { index: 7, what: Mismatch::Changed })),
        "{:?}",
        verify_dir(dir.path())
    );
}

#[test]
fn an_empty_line_needs_its_hash_and_a_hash_an_empty_line() {
    let dir = expired_bundle();
    let path = dir.path().join(EXPIRED_FILE);
    let text = fs::read_to_string(&path).unwrap();
    // Dropping a hash: event 256 is empty without one.
    let without: String = text.lines().filter(|line| !line.starts_with("256 ")).map(|l| format!("{l}\n")).collect();
    fs::write(&path, without).unwrap();
    assert!(matches!(verify_dir(dir.path()), Err(VerifyFailure::File { file, .. }) if file == "events.jsonl"));
    fs::write(&path, &text).unwrap();
    verify_dir(dir.path()).unwrap();
    // Garbage in the file.
    fs::write(&path, "7 not-hex\n").unwrap();
    assert!(matches!(verify_dir(dir.path()), Err(VerifyFailure::File { file, .. }) if file == EXPIRED_FILE));

    let full = leaves(3);
    let mut expired = Expired::new();
    expired.insert(1, leaf_hash(&full[1]));
    assert!(tree_of(&full, &expired).is_err(), "a hash for a leaf that is held");
    expired.insert(5, leaf_hash(&full[1]));
    let mut pulled = full.clone();
    pulled[1].clear();
    assert!(tree_of(&pulled, &expired).is_err(), "a hash past the end");
    expired.remove(&5);
    assert_eq!(
        tree_of(&pulled, &expired).unwrap().root(3).unwrap(),
        jpki_audit::LogHashes::from_leaves(&full).unwrap().root(3).unwrap()
    );
}
