//! The archive's behaviour, the same cases against both implementations: [`FileArchive`] in a
//! temporary directory and [`PgArchive`] on a PostgreSQL server of the test's own (skipped with a
//! notice when PostgreSQL is missing, an error under CI). Real components, no mocks, no timing
//! assertions.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Barrier;

use jpki_archive::{
    ArchiveError, AuditArchive, EvidenceOwner, ExpiryReport, FileArchive, LeafIn, MAX_LEAF_BYTES, MAX_LIMIT, PgArchive,
    leaf_hash,
};
use jpki_testsupport::postgres::PostgresServer;
use sha2::{Digest, Sha256};

/// Runs `case` on a fresh FileArchive, then on a fresh PgArchive (when PostgreSQL is there).
fn both(case: impl Fn(&dyn AuditArchive)) {
    let dir = tempfile::tempdir().unwrap();
    let file = FileArchive::open(&dir.path().join("archive.redb")).unwrap();
    case(&file);
    drop(file);
    let dir = tempfile::tempdir().unwrap();
    if let Some(server) = PostgresServer::start(dir.path()) {
        let pg = PgArchive::connect(&server.url()).unwrap();
        case(&pg);
    }
}

fn leaf(n: u64) -> LeafIn {
    LeafIn {
        leaf: format!(r#"{{"event":"test","n":{n}}}"#),
        time: 1_000,
        certificate: None,
        evidence: None,
        lists: vec![],
    }
}

fn leaves(range: std::ops::Range<u64>) -> Vec<LeafIn> {
    range.map(leaf).collect()
}

fn key(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn payloads(archive: &dyn AuditArchive, tenant: &str) -> Vec<Option<String>> {
    archive.leaves(tenant, 0, MAX_LIMIT).unwrap().into_iter().map(|leaf| leaf.payload).collect()
}

#[test]
fn integrate_and_read_back() {
    both(|archive| {
        assert_eq!(archive.integrated("bank-a").unwrap(), 0);
        assert!(archive.leaves("bank-a", 0, 10).unwrap().is_empty());
        assert_eq!(archive.integrate("bank-a", 0, &leaves(0..5)).unwrap(), 5);
        assert_eq!(archive.integrated("bank-a").unwrap(), 5);
        assert_eq!(archive.integrated("bank-b").unwrap(), 0, "tenants are separate");
        let read = archive.leaves("bank-a", 0, 10).unwrap();
        assert_eq!(read.len(), 5);
        for (i, archived) in read.iter().enumerate() {
            let expected = leaf(i as u64).leaf;
            assert_eq!(archived.index, i as u64);
            assert_eq!(archived.payload.as_deref(), Some(expected.as_str()));
            // RFC 9162: SHA-256(0x00 || leaf).
            let mut hasher = Sha256::new();
            hasher.update([0u8]);
            hasher.update(expected.as_bytes());
            let rfc: [u8; 32] = hasher.finalize().into();
            assert_eq!(archived.hash, rfc);
            assert_eq!(leaf_hash(expected.as_bytes()), rfc);
        }
        let middle = archive.leaves("bank-a", 3, 1).unwrap();
        assert_eq!(middle.len(), 1);
        assert_eq!(middle[0].index, 3);
        assert!(archive.leaves("bank-a", 5, 10).unwrap().is_empty());
        assert!(archive.leaves("bank-a", u64::MAX, 10).unwrap().is_empty());
        assert!(archive.leaves("bank-a", 0, 0).unwrap().is_empty());
        // An empty batch at the end is a no-op.
        assert_eq!(archive.integrate("bank-a", 5, &[]).unwrap(), 5);
        // The limit is capped.
        assert_eq!(archive.integrate("bank-a", 5, &leaves(5..1100)).unwrap(), 1100);
        let capped = archive.leaves("bank-a", 0, 5000).unwrap();
        assert_eq!(capped.len(), MAX_LIMIT);
        assert!(capped.windows(2).all(|pair| pair[1].index == pair[0].index + 1));
        assert_eq!(archive.leaves("bank-a", 1090, usize::MAX).unwrap().len(), 10);
    });
}

#[test]
fn reintegrating_identical_leaves_is_idempotent() {
    both(|archive| {
        assert_eq!(archive.integrate("t", 0, &leaves(0..5)).unwrap(), 5);
        assert_eq!(archive.integrate("t", 0, &leaves(0..5)).unwrap(), 5);
        assert_eq!(archive.integrate("t", 1, &leaves(1..3)).unwrap(), 5, "inside the archived range");
        assert_eq!(archive.integrate("t", 3, &leaves(3..8)).unwrap(), 8, "overlapping the end");
        let read = archive.leaves("t", 0, 100).unwrap();
        assert_eq!(read.len(), 8);
        assert!(read.iter().enumerate().all(|(i, l)| l.payload.as_deref() == Some(leaf(i as u64).leaf.as_str())));
    });
}

#[test]
fn a_different_leaf_at_an_archived_index_is_a_conflict() {
    both(|archive| {
        archive.integrate("t", 0, &leaves(0..5)).unwrap();
        let mut fork = leaves(2..7);
        fork[1].leaf = r#"{"event":"forged"}"#.into();
        match archive.integrate("t", 2, &fork) {
            Err(ArchiveError::Conflict { tenant, index }) => assert_eq!((tenant.as_str(), index), ("t", 3)),
            other => panic!("expected Conflict, got {other:?}"),
        }
        // Nothing of the refused batch was written, not even its new leaves.
        assert_eq!(archive.integrated("t").unwrap(), 5);
        assert_eq!(archive.leaves("t", 3, 1).unwrap()[0].payload.as_deref(), Some(leaf(3).leaf.as_str()));
        // Other metadata (time, certificate, citations) is not part of the leaf's identity.
        let mut same = leaf(4);
        same.time = 99;
        same.certificate = Some("cert".into());
        assert_eq!(archive.integrate("t", 4, &[same]).unwrap(), 5);
    });
}

#[test]
fn leaves_after_the_archived_ones_are_a_gap() {
    both(|archive| {
        match archive.integrate("t", 3, &leaves(3..5)) {
            Err(ArchiveError::Gap { tenant, integrated, from }) => {
                assert_eq!((tenant.as_str(), integrated, from), ("t", 0, 3))
            }
            other => panic!("expected Gap, got {other:?}"),
        }
        archive.integrate("t", 0, &leaves(0..2)).unwrap();
        assert!(matches!(
            archive.integrate("t", 3, &leaves(3..4)),
            Err(ArchiveError::Gap { integrated: 2, from: 3, .. })
        ));
        assert_eq!(archive.integrated("t").unwrap(), 2);
        assert_eq!(archive.integrate("t", 2, &leaves(2..4)).unwrap(), 4);
    });
}

#[test]
fn checkpoints_are_a_history() {
    both(|archive| {
        assert_eq!(archive.latest_checkpoint("t").unwrap(), None);
        archive.put_checkpoint("t", 1, "note one\n\n— sig\n").unwrap();
        archive.put_checkpoint("t", 5, "note five\n").unwrap();
        archive.put_checkpoint("t", 3, "note three\n").unwrap();
        archive.put_checkpoint("t", 5, "another note five\n").unwrap();
        archive.put_checkpoint("other", 9, "other\n").unwrap();
        let all = archive.checkpoints("t", 0, 100).unwrap();
        let expected: Vec<(u64, String)> =
            vec![(1, "note one\n\n— sig\n".into()), (3, "note three\n".into()), (5, "note five\n".into())];
        assert_eq!(all, expected, "ascending, first one kept");
        assert_eq!(archive.checkpoints("t", 2, 1).unwrap(), vec![(3, "note three\n".to_owned())]);
        assert_eq!(archive.checkpoints("t", 6, 10).unwrap(), vec![]);
        assert_eq!(archive.checkpoints("t", u64::MAX, 10).unwrap(), vec![]);
        assert_eq!(archive.latest_checkpoint("t").unwrap(), Some((5, "note five\n".into())));
        assert_eq!(archive.latest_checkpoint("other").unwrap(), Some((9, "other\n".into())));
        assert_eq!(archive.latest_checkpoint("none").unwrap(), None);
    });
}

#[test]
fn evidence_is_isolated_between_tenants_and_the_platform() {
    both(|archive| {
        let a = EvidenceOwner::Tenant("bank-a");
        let b = EvidenceOwner::Tenant("bank-b");
        archive.put_evidence(a, &key(1), b"certificate of a").unwrap();
        archive.put_evidence(a, &key(1), b"other bytes").unwrap();
        archive.put_evidence(EvidenceOwner::Platform, &key(2), b"a list").unwrap();
        assert_eq!(archive.evidence(a, &key(1)).unwrap().as_deref(), Some(&b"certificate of a"[..]), "first kept");
        assert_eq!(archive.evidence(b, &key(1)).unwrap(), None);
        assert_eq!(archive.evidence(EvidenceOwner::Platform, &key(1)).unwrap(), None);
        assert_eq!(archive.evidence(a, &key(2)).unwrap(), None);
        assert_eq!(archive.evidence(EvidenceOwner::Platform, &key(2)).unwrap().as_deref(), Some(&b"a list"[..]));
        archive.put_evidence(b, &key(1), b"certificate of b").unwrap();
        assert_eq!(archive.evidence(b, &key(1)).unwrap().as_deref(), Some(&b"certificate of b"[..]));
        assert_eq!(archive.evidence(a, &key(1)).unwrap().as_deref(), Some(&b"certificate of a"[..]));
    });
}

#[test]
fn a_batch_of_evidence_is_kept_whole_or_not_at_all() {
    both(|archive| {
        let t = EvidenceOwner::Tenant("t");
        archive.put_evidence(t, &key(1), b"kept before").unwrap();
        // A key already kept, a key twice in the batch: the first bytes stay.
        let batch: [(&[u8; 32], &[u8]); 4] =
            [(&key(1), b"later"), (&key(2), b"two"), (&key(3), b"three"), (&key(2), b"two again")];
        archive.put_evidence_batch(t, &batch).unwrap();
        for (byte, der) in [(1, &b"kept before"[..]), (2, b"two"), (3, b"three")] {
            assert_eq!(archive.evidence(t, &key(byte)).unwrap().as_deref(), Some(der), "key {byte}");
        }
        // One invalid item refuses the batch: nothing of it is kept.
        let result = archive.put_evidence_batch(t, &[(&key(4), b"four"), (&key(5), b"")]);
        assert!(matches!(result, Err(ArchiveError::Invalid(_))), "{result:?}");
        assert_eq!(archive.evidence(t, &key(4)).unwrap(), None);
        archive.put_evidence_batch(t, &[]).unwrap();
        // Each item ages and expires as one put alone would: unused, past the retention, gone.
        let report = archive.expire(now() + 10_000, 1_000).unwrap();
        assert_eq!(report.evidence, 3);
        assert_eq!(archive.evidence(t, &key(2)).unwrap(), None);
    });
}

#[test]
fn retention_expires_payloads_and_unneeded_evidence() {
    both(|archive| {
        let now = now();
        let retention = 1_000;
        let old = now - 5_000;
        let t = EvidenceOwner::Tenant("t");
        let platform = EvidenceOwner::Platform;
        let cited = |n: u64, time: i64, certificate: &str, evidence: u8, lists: &[u8]| LeafIn {
            time,
            certificate: Some(certificate.into()),
            evidence: Some(key(evidence)),
            lists: lists.iter().map(|&byte| key(byte)).collect(),
            ..leaf(n)
        };
        for byte in [1, 2, 3, 4, 5] {
            archive.put_evidence(t, &key(byte), &[byte; 10]).unwrap();
        }
        for byte in [11, 12, 13, 14] {
            archive.put_evidence(platform, &key(byte), &[byte; 10]).unwrap();
        }
        // Another tenant's certificate under a key that "t" also uses: never touched by "t"'s leaves.
        archive.put_evidence(EvidenceOwner::Tenant("u"), &key(2), b"u's").unwrap();
        archive.integrate("u", 0, &[cited(100, now, "cu", 2, &[])]).unwrap();
        let batch = vec![
            cited(0, old, "held", 1, &[11]),       // held indefinitely: kept
            cited(1, old, "free", 2, &[12, 12]),   // no hold: expires, evidence 2 and list 12 go
            cited(2, old, "past", 3, &[13]),       // held until the past: expires
            cited(3, now, "free", 4, &[11]),       // fresh: kept
            cited(4, old, "future", 5, &[13, 11]), // held until the future: kept (and keeps list 13)
            LeafIn { time: old, ..leaf(5) },       // no certificate, cites nothing: expires
        ];
        archive.integrate("t", 0, &batch).unwrap();
        archive.hold("t", "held", None).unwrap();
        archive.hold("t", "past", Some(now + 100)).unwrap();
        archive.hold("t", "past", Some(now - 10)).unwrap(); // the last call wins
        archive.hold("t", "future", Some(now + 100_000)).unwrap();
        archive.put_checkpoint("t", 6, "checkpoint\n").unwrap();

        let report = archive.expire(now, retention).unwrap();
        assert_eq!(report, ExpiryReport { leaves: 3, evidence: 3 }, "leaves 1, 2, 5; evidence 2, 3 and list 12");
        let read = archive.leaves("t", 0, 10).unwrap();
        let kept: Vec<bool> = read.iter().map(|leaf| leaf.payload.is_some()).collect();
        assert_eq!(kept, [true, false, false, true, true, false]);
        for (archived, original) in read.iter().zip(&batch) {
            assert_eq!(archived.hash, leaf_hash(original.leaf.as_bytes()), "the hash stays");
        }
        let present = |owner, byte| archive.evidence(owner, &key(byte)).unwrap().is_some();
        assert!(present(t, 1) && present(t, 4) && present(t, 5), "cited by kept leaves");
        assert!(!present(t, 2) && !present(t, 3), "cited only by expired leaves");
        assert!(present(EvidenceOwner::Tenant("u"), 2), "another tenant's evidence is its own");
        assert!(present(platform, 11) && present(platform, 13), "lists cited by kept leaves");
        assert!(!present(platform, 12), "a list cited only by an expired leaf");
        assert!(present(platform, 14), "never cited, stored within the retention: kept for the leaf to come");
        // Expiring is idempotent, and expired leaves still re-integrate idempotently (by hash).
        assert_eq!(archive.expire(now, retention).unwrap(), ExpiryReport::default());
        assert_eq!(archive.integrate("t", 0, &batch).unwrap(), 6);
        assert_eq!(payloads(archive, "t")[1], None, "re-integrating does not bring a payload back");

        // Unlinking: the indefinite hold becomes a hold until the past.
        archive.hold("t", "held", Some(now - 1)).unwrap();
        assert_eq!(
            archive.expire(now, retention).unwrap(),
            ExpiryReport { leaves: 1, evidence: 1 },
            "leaf 0 and evidence 1"
        );
        assert!(!present(t, 1));
        assert!(present(platform, 11), "still cited by leaf 3 and leaf 4");

        // Much later: everything not held expires, and so does evidence nothing cites.
        let report = archive.expire(now + 10_000, retention).unwrap();
        assert_eq!(report.leaves, 2, "leaf 3 and u's leaf; leaf 4 is still held");
        assert!(!present(t, 4) && !present(EvidenceOwner::Tenant("u"), 2) && !present(platform, 14));
        assert!(present(t, 5) && present(platform, 11) && present(platform, 13), "cited by the held leaf 4");
        assert_eq!(payloads(archive, "t"), [None, None, None, None, Some(batch[4].leaf.clone()), None]);
        assert_eq!(archive.latest_checkpoint("t").unwrap(), Some((6, "checkpoint\n".into())), "never removed");
        assert!(matches!(archive.expire(now, -1), Err(ArchiveError::Invalid(_))));
    });
}

#[test]
fn invalid_inputs_are_rejected() {
    both(|archive| {
        let invalid = |result: Result<(), ArchiveError>, what: &str| {
            assert!(matches!(result, Err(ArchiveError::Invalid(_))), "{what}: {result:?}");
        };
        for tenant in ["", "a b", "a/b", "a:b", "a\0b", "é", &"x".repeat(65)] {
            invalid(archive.integrated(tenant).map(drop), "integrated");
            invalid(archive.integrate(tenant, 0, &leaves(0..1)).map(drop), "integrate");
            invalid(archive.leaves(tenant, 0, 1).map(drop), "leaves");
            invalid(archive.put_checkpoint(tenant, 1, "n"), "put_checkpoint");
            invalid(archive.checkpoints(tenant, 0, 1).map(drop), "checkpoints");
            invalid(archive.latest_checkpoint(tenant).map(drop), "latest_checkpoint");
            invalid(archive.put_evidence(EvidenceOwner::Tenant(tenant), &key(1), b"x"), "put_evidence");
            invalid(archive.evidence(EvidenceOwner::Tenant(tenant), &key(1)).map(drop), "evidence");
            invalid(archive.hold(tenant, "c", None), "hold");
        }
        assert!(archive.integrated(&"x".repeat(64)).is_ok());
        for text in ["", "two\nlines", "\n", &"x".repeat(MAX_LEAF_BYTES + 1)] {
            invalid(archive.integrate("t", 0, &[LeafIn { leaf: text.into(), ..leaf(0) }]).map(drop), "leaf");
        }
        archive.integrate("t", 0, &[LeafIn { leaf: "x".repeat(MAX_LEAF_BYTES), ..leaf(0) }]).unwrap();
        // Whatever the hot store accepts (anything but a newline) is archived as it is.
        let odd = "tab\t cr\r nul\0 \u{2028} é";
        archive.integrate("odd", 0, &[LeafIn { leaf: odd.into(), ..leaf(0) }]).unwrap();
        assert_eq!(archive.leaves("odd", 0, 1).unwrap()[0].payload.as_deref(), Some(odd));
        invalid(archive.integrate("t", 0, &[LeafIn { certificate: Some("a\nb".into()), ..leaf(0) }]).map(drop), "cert");
        invalid(archive.integrate("t", 0, &[LeafIn { lists: vec![key(1); 257], ..leaf(0) }]).map(drop), "lists");
        // A bad leaf anywhere in the batch refuses all of it.
        invalid(archive.integrate("t", 1, &[leaf(1), LeafIn { leaf: String::new(), ..leaf(2) }]).map(drop), "batch");
        assert_eq!(archive.integrated("t").unwrap(), 1);
        invalid(archive.integrate("t", u64::MAX, &leaves(0..2)).map(drop), "index overflow");
        invalid(archive.integrate("t", i64::MAX as u64, &leaves(0..1)).map(drop), "index past i64::MAX");
        invalid(archive.put_checkpoint("t", u64::MAX, "n"), "size past i64::MAX");
        invalid(archive.put_checkpoint("t", 1, ""), "empty note");
        invalid(archive.put_checkpoint("t", 1, "n\0"), "NUL in note");
        invalid(archive.put_evidence(EvidenceOwner::Platform, &key(1), b""), "empty evidence");
        invalid(archive.hold("t", "", None), "empty certificate");
        invalid(archive.hold("t", "c\0", None), "NUL in certificate");
    });
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn valid_tenant(tenant: &str) -> bool {
        !tenant.is_empty()
            && tenant.len() <= 64
            && tenant.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    }

    /// Arbitrary tenant ids and leaves never panic, and are accepted exactly when valid.
    fn check(archive: &dyn AuditArchive, tenant: &str, text: &str) {
        let result = archive.integrate(tenant, 0, &[LeafIn { leaf: text.to_owned(), ..leaf(0) }]);
        let valid_leaf = !text.is_empty() && text.len() <= MAX_LEAF_BYTES && !text.contains('\n');
        if valid_tenant(tenant) && valid_leaf {
            // Either it is new (1) or an earlier case put a leaf at 0 (identical or a conflict).
            assert!(matches!(result, Ok(1) | Err(ArchiveError::Conflict { index: 0, .. })), "{result:?}");
        } else {
            assert!(matches!(result, Err(ArchiveError::Invalid(_))), "{tenant:?} {text:?}: {result:?}");
        }
        let read = archive.leaves(tenant, 0, 1);
        assert_eq!(read.is_ok(), valid_tenant(tenant));
    }

    fn strategy() -> impl Strategy<Value = (String, String)> {
        (
            prop_oneof!["[A-Za-z0-9_.-]{0,70}", ".{0,8}"],
            prop_oneof!["[ -~]{0,40}", ".{0,20}", "\\PC{1,40}", "(.|\n){0,10}"],
        )
    }

    #[test]
    fn arbitrary_inputs_never_panic() {
        both(|archive| {
            proptest!(ProptestConfig::with_cases(64), |((tenant, text) in strategy())| {
                check(archive, &tenant, &text);
            });
        });
    }
}

#[test]
fn two_threads_integrating_the_same_range() {
    both(|archive| {
        // Identical leaves: both succeed with the same size.
        let barrier = Barrier::new(2);
        let results: Vec<Result<u64, ArchiveError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        archive.integrate("t", 0, &leaves(0..200))
                    })
                })
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        assert!(results.iter().all(|result| matches!(result, Ok(200))), "{results:?}");
        assert_eq!(archive.leaves("t", 0, MAX_LIMIT).unwrap().len(), 200);
        // Different leaves (a fork): one wins, the other is refused, and the archive holds the winner's.
        let forks: [Vec<LeafIn>; 2] = [0, 1].map(|side| {
            (200..300).map(|n| LeafIn { leaf: format!(r#"{{"side":{side},"n":{n}}}"#), ..leaf(n) }).collect()
        });
        let barrier = Barrier::new(2);
        let results: Vec<Result<u64, ArchiveError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = forks
                .iter()
                .map(|fork| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        archive.integrate("t", 200, fork)
                    })
                })
                .collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        let winner = match (&results[0], &results[1]) {
            (Ok(300), Err(ArchiveError::Conflict { index: 200, .. })) => 0,
            (Err(ArchiveError::Conflict { index: 200, .. }), Ok(300)) => 1,
            other => panic!("expected one Ok and one Conflict, got {other:?}"),
        };
        let stored = archive.leaves("t", 200, 200).unwrap();
        assert_eq!(stored.len(), 100);
        assert!(stored.iter().zip(&forks[winner]).all(|(s, w)| s.payload.as_deref() == Some(w.leaf.as_str())));
    });
}

#[test]
fn file_archive_is_durable_across_reopen_and_locked_to_one_opener() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.redb");
    let archive = FileArchive::open(&path).unwrap();
    write_everything(&archive);
    assert!(matches!(FileArchive::open(&path), Err(ArchiveError::Backend(_))), "one opener at a time");
    assert!(archive.try_lead().unwrap());
    drop(archive);
    let archive = FileArchive::open(&path).unwrap();
    check_everything(&archive);
    check_hold(&archive);
}

#[test]
fn pg_archive_keeps_what_it_acknowledged_across_a_server_crash() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut server) = PostgresServer::start(dir.path()) else { return };
    let archive = PgArchive::connect(&server.url()).unwrap();
    assert!(archive.try_lead().unwrap());
    write_everything(&archive);
    let pid = server.pid();
    server.kill_9();
    server.restart();
    assert_ne!(server.pid(), pid);
    // The same archive recovers its connections, and a new one (over the unix socket) sees the same.
    check_everything(&archive);
    check_everything(&PgArchive::connect(&server.socket_url()).unwrap());
    check_hold(&archive);
    // The leader's session died with the server: it leads again on a new connection.
    assert!((0..1000).any(|_| archive.try_lead().unwrap_or(false)));
}

/// Every kind of acknowledged write, for the durability tests.
fn write_everything(archive: &dyn AuditArchive) {
    archive.integrate("t", 0, &leaves(0..50)).unwrap();
    archive.integrate("t", 50, &leaves(50..60)).unwrap();
    archive.put_checkpoint("t", 60, "checkpoint 60\n").unwrap();
    archive.put_evidence(EvidenceOwner::Tenant("t"), &key(1), b"certificate").unwrap();
    archive.put_evidence(EvidenceOwner::Platform, &key(2), b"list").unwrap();
    archive.hold("t", "held", None).unwrap();
    archive.integrate("t", 60, &[LeafIn { certificate: Some("held".into()), time: 0, ..leaf(60) }]).unwrap();
}

fn check_everything(archive: &dyn AuditArchive) {
    assert_eq!(archive.integrated("t").unwrap(), 61);
    let read = archive.leaves("t", 0, 100).unwrap();
    assert!(read.iter().enumerate().all(|(i, l)| l.payload.as_deref() == Some(leaf(i as u64).leaf.as_str())));
    assert_eq!(archive.latest_checkpoint("t").unwrap(), Some((60, "checkpoint 60\n".into())));
    assert_eq!(archive.evidence(EvidenceOwner::Tenant("t"), &key(1)).unwrap().as_deref(), Some(&b"certificate"[..]));
    assert_eq!(archive.evidence(EvidenceOwner::Platform, &key(2)).unwrap().as_deref(), Some(&b"list"[..]));
}

/// The hold survived: its leaf is old but kept (the others, time 1000, expire).
fn check_hold(archive: &dyn AuditArchive) {
    assert_eq!(archive.expire(now(), 10).unwrap().leaves, 60);
    assert!(archive.leaves("t", 60, 1).unwrap()[0].payload.is_some());
}

#[test]
fn exactly_one_pg_archive_leads_and_another_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = PostgresServer::start(dir.path()) else { return };
    // Both connect at once to a fresh server: the schema is created once, under its lock.
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| PgArchive::connect(&server.url()).unwrap());
        let b = scope.spawn(|| PgArchive::connect(&server.url()).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    let first = (a.try_lead().unwrap(), b.try_lead().unwrap());
    assert!(first == (true, false), "exactly one leads: {first:?}");
    for _ in 0..5 {
        assert_eq!((a.try_lead().unwrap(), b.try_lead().unwrap()), (true, false), "stable while the leader lives");
    }
    drop(a);
    // The server ends the dropped session and frees its lock on its own time: retry, bounded.
    let took_over = (0..2000).any(|_| {
        let leading = b.try_lead().unwrap();
        if !leading {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        leading
    });
    assert!(took_over, "the follower never became leader");
    assert!(b.try_lead().unwrap());
}
