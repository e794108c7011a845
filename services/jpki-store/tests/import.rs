//! `import_redb`: a redb store moved into a journal answers every query as the redb store did.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jpki_core::CertId;
use jpki_store::{
    AuditLeaves, Challenge, ConsumeOutcome, JournalStore, LinkRecord, LocalStore, RevocationNotice, StatusChange,
    StoreError, TenantId, TenantStore, TenantWrite, VerificationKind, VerificationRecord, WatchRequest, import_redb,
};
use sha2::{Digest, Sha256};

const NOW: i64 = 1_780_272_000;

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn cert(serial: &str) -> CertId {
    CertId { ca_key_id: "ab01".into(), serial: serial.into() }
}

fn record(id: &str, serial: &str, passed: bool) -> VerificationRecord {
    VerificationRecord {
        id: id.into(),
        kind: VerificationKind::Authentication,
        passed,
        certificate: passed.then(|| cert(serial)),
        not_after: Some(NOW + 86_400),
        verified_at: NOW,
        transaction_reference: format!("tx-{id}"),
        purpose: "login".into(),
    }
}

/// Writes one of every kind of item, for two tenants.
fn populate(store: &dyn TenantStore) {
    for t in [tenant("bank-a"), tenant("bank-b")] {
        let challenge = |n: u8| Challenge {
            challenge: vec![n; 32],
            transaction_reference: format!("tx{n}"),
            issued_at: NOW,
            expires_at: NOW + 300,
        };
        store.put_challenge(&t, "pending", challenge(1)).unwrap();
        store.put_challenge(&t, "used", challenge(2)).unwrap();
        store.consume_challenge(&t, "used", NOW + 1).unwrap();
        let watch = WatchRequest { certificate: cert("0a"), not_after: NOW + 86_400, kind: "auth_card".into() };
        store.record_verification(&t, record("v1", "0a", true), Some(watch)).unwrap();
        store.put_verification(&t, record("v2", "0b", false)).unwrap();
        let link =
            LinkRecord { customer_id: "C-1".into(), certificate: cert("0a"), not_after: NOW + 86_400, linked_at: NOW };
        store.link(&t, link).unwrap();
        store.watch(&t, &cert("0c"), NOW + 86_400, "sign_card").unwrap();
        let notice = |serial: &str, change, number: &str| RevocationNotice {
            certificate: cert(serial),
            change,
            revoked_at: NOW,
            reason: None,
            crl_number: Some(number.into()),
            customer_id: None,
            kind: "auth_card".into(),
        };
        store
            .append_events(vec![
                (t.clone(), notice("0a", StatusChange::Held, "7")),
                (t.clone(), notice("0c", StatusChange::Revoked, "7")),
            ])
            .unwrap();
        // An audit log with evidence, trimmed below 2 (bank-a) or not at all (bank-b).
        for i in 0..4u8 {
            let der = vec![i; 100];
            let leaves = AuditLeaves::one(format!("{{\"i\":{i}}}")).with_evidence(Sha256::digest(&der).into(), der);
            store.write_audited(&t, TenantWrite::Nothing, leaves).unwrap();
        }
        if t.as_str() == "bank-a" {
            store.audit_trim(&t, 2).unwrap();
            store.audit_evidence_drop(&t, &[Sha256::digest([0u8; 100]).into()]).unwrap();
        }
    }
    store.put_meta("refresh", b"state").unwrap();
}

/// Every query of both tenants, as text.
fn answers(store: &dyn TenantStore) -> String {
    let mut out = String::new();
    for t in [tenant("bank-a"), tenant("bank-b"), tenant("bank-c")] {
        for id in ["pending", "used", "none"] {
            out += &format!("{:?}\n", store.peek_challenge(&t, id, NOW + 2).unwrap());
        }
        for id in ["v1", "v2", "v3"] {
            out += &format!("{:?}\n", store.get_verification(&t, id).unwrap());
        }
        out += &format!("{:?}\n", store.links_by_customer(&t, "C-1").unwrap());
        out += &format!("{:?}\n", store.link_by_certificate(&t, &cert("0a")).unwrap());
        out += &format!("{:?}\n", store.watched(&t).unwrap());
        out += &format!("{:?}\n", store.events_after(&t, 0, 100).unwrap());
        out +=
            &format!("{:?} {:?}\n", store.last_event_for(&t, &cert("0a")).unwrap(), store.last_sequence(&t).unwrap());
        let certs = [cert("0a"), cert("0b"), cert("0c")];
        out += &format!("{:?}\n", store.entitled(&t, &certs, NOW + 10, 3600).unwrap());
        let floor = store.audit_floor(&t).unwrap();
        out +=
            &format!("{floor} {} {:?}\n", store.audit_size(&t).unwrap(), store.audit_leaves(&t, floor, 100).unwrap());
        out += &format!("{:?}\n", store.audit_leaves(&t, 0, 100).map_err(|e| e.to_string()));
        let mut evidence = store.audit_evidence(&t, 100).unwrap();
        evidence.sort();
        out += &format!("{evidence:?}\n");
    }
    out += &format!("{:?}\n", store.audit_tenants().unwrap());
    for serial in ["0a", "0c"] {
        out += &format!("{:?}\n", store.watchers(&cert(serial)).unwrap());
    }
    out += &format!("{:?}\n", store.get_meta("refresh").unwrap());
    out
}

#[test]
fn an_imported_journal_answers_as_the_redb_store() {
    let dir = tempfile::tempdir().unwrap();
    let (redb, journal) = (dir.path().join("store.redb"), dir.path().join("store.journal"));
    let expected = {
        let local = LocalStore::open(&redb).unwrap();
        populate(&local);
        answers(&local)
    };
    // The audit part is there to compare: bank-a's floor and size, its trimmed leaves refused.
    assert!(expected.contains("2 4 [\"{\\\"i\\\":2}\""), "{expected}");
    assert!(expected.contains("moved to the archive"), "{expected}");
    assert!(import_redb(&redb, &journal).unwrap() > 10);
    let store = JournalStore::open(&journal).unwrap();
    assert_eq!(answers(&store), expected);
    // And it goes on: the next sequence, the used challenge stays used, the pending one is usable.
    let t = tenant("bank-a");
    assert!(matches!(store.consume_challenge(&t, "used", NOW + 3).unwrap(), ConsumeOutcome::AlreadyUsed { .. }));
    assert!(matches!(store.consume_challenge(&t, "pending", NOW + 3).unwrap(), ConsumeOutcome::Consumed(_)));
    let last = store.last_sequence(&t).unwrap();
    let notice = RevocationNotice {
        certificate: cert("0a"),
        change: StatusChange::Revoked,
        revoked_at: NOW,
        reason: Some("keyCompromise".into()),
        crl_number: Some("8".into()),
        customer_id: None,
        kind: "auth_card".into(),
    };
    assert_eq!(store.append_events(vec![(t, notice)]).unwrap(), [last + 1]);
    // An existing journal is never overwritten.
    drop(store);
    assert!(matches!(import_redb(&redb, &journal), Err(StoreError::Backend(_))));
}
