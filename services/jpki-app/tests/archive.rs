//! The audit log's long-term archive under the use cases, on a real store and a real archive
//! file: the integrator moves events and certificates out of the store without changing a single
//! hash, the evidence of an answer is the very certificate it rested on, and retention removes
//! payloads (never hashes) except where a link holds them, until the retention period after the
//! unlink has passed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use jpki_app::audit::AuditSettings;
use jpki_app::clock::FixedClock;
use jpki_app::outcome::LinkDecision;
use jpki_app::tenant::BusinessPurpose;
use jpki_app::{App, AuditLog, CallContext, Clock as _, FieldPermissions, Rules, Tenant};
use jpki_archive::{AuditArchive, EvidenceOwner, FileArchive};
use jpki_audit::{AuditEvent, LogSigner};
use jpki_revocation::RevocationStore;
use jpki_store::{LocalStore, TenantId, TenantStore};
use jpki_testpki::TestPki;
use jpki_testsupport::testing::{at, offset, pki, time};

const RULES: Rules = Rules {
    challenge_ttl_seconds: 60,
    auth_verification_max_age_seconds: 300,
    signature_verification_max_age_seconds: 3600,
    verification_retention_seconds: 86_400,
};

/// The retention of this test: 1000 seconds.
const RETENTION: i64 = 1000;

struct Fixture {
    app: App,
    store: Arc<dyn TenantStore>,
    archive: Arc<dyn AuditArchive>,
    clock: Arc<FixedClock>,
    pki: Arc<TestPki>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn TenantStore> = Arc::new(LocalStore::open(dir.path().join("store.redb")).unwrap());
    let archive: Arc<dyn AuditArchive> = Arc::new(FileArchive::open(&dir.path().join("archive.redb")).unwrap());
    let pki = pki();
    let revocation = Arc::new(RevocationStore::new(jpki_testsupport::anchors(&pki).unwrap(), 0));
    for ca in pki.cas().iter().filter(|ca| ca.is_anchor()) {
        let (from, until) = (offset(time("2026-05-01T00:00:00Z")), offset(time("2026-07-01T00:00:00Z")));
        let der = pki.issue_crl(ca, from, until, 1, &[]).unwrap();
        revocation.load(ca.label(), &der, at()).unwrap();
    }
    let verifier = Arc::new(jpki_testsupport::verifier(&pki, revocation.clone(), 16).unwrap());
    let clock = Arc::new(FixedClock::new(at()));
    let app = App::new(verifier, revocation, store.clone(), clock.clone(), RULES);
    Fixture { app, store, archive, clock, pki, _dir: dir }
}

impl Fixture {
    /// A log over the fixture's store and archive (a new one has no cached tree).
    fn log(&self) -> AuditLog {
        let signer = LogSigner::from_seed("jpki-gateway.test", &[7; 32]).unwrap();
        let settings = AuditSettings {
            platform: "jpki-gateway.test".into(),
            verifier_keys: vec![signer.vkey()],
            signer: Arc::new(signer),
            retention_seconds: RETENTION,
            list_archive: None,
        };
        AuditLog::new(self.store.clone(), self.archive.clone(), settings)
    }

    fn login(&self, tenant: &Tenant, holder: &str) -> String {
        let issued = self.app.issue_challenge(tenant, &call("IssueChallenge"), "tx".into()).unwrap();
        let card = self.pki.card(holder).unwrap();
        let proof = card.prove(&issued.challenge).unwrap();
        let outcome = self
            .app
            .verify_auth_proof(
                tenant,
                &call("VerifyAuthProof"),
                BusinessPurpose::Login,
                &issued.id,
                card.auth_cert_der(),
                &proof,
            )
            .unwrap();
        assert!(outcome.passed(), "{:?}", outcome.verification.verdict);
        outcome.verification.id
    }
}

fn call(method: &str) -> CallContext {
    let service = if method.contains("ink") { "LinkService" } else { "VerificationService" };
    CallContext {
        rpc: format!("/jpki.gateway.v1.{service}/{method}"),
        principal: "bank-a".into(),
        credential: "key".into(),
        request_id: "req".into(),
        trace_id: None,
    }
}

fn bank() -> Tenant {
    Tenant {
        id: TenantId::new("bank-a").unwrap(),
        fields: FieldPermissions::default(),
        policy: jpki_app::tenant::TenantPolicy::everything(),
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().try_into().unwrap()
}

/// Each event with its payload, if kept.
fn payloads(log: &AuditLog, tenant: &TenantId, size: u64) -> Vec<Option<AuditEvent>> {
    let entries = log.entries(tenant, 0, size as usize).unwrap();
    assert_eq!(entries.len() as u64, size);
    entries.iter().map(|entry| entry.leaf.as_ref().map(|leaf| serde_json::from_str(leaf).unwrap())).collect()
}

fn held_by(event: &Option<AuditEvent>, holder_serial: &str) -> bool {
    event.as_ref().and_then(|event| event.certificate.as_ref()).is_some_and(|id| id.serial == holder_serial)
}

#[test]
fn integration_moves_events_and_certificates_without_changing_a_hash_and_retention_keeps_what_links_hold() {
    let fixture = fixture();
    let bank = bank();
    let log = fixture.log();
    let linked_login = fixture.login(&bank, "h01");
    let decision = fixture.app.link(&bank, &call("Link"), "CUST-1", &linked_login, None).unwrap();
    let LinkDecision::Created(link) = decision else { panic!("{decision:?}") };
    fixture.login(&bank, "h02");
    let size = fixture.store.audit_size(&bank.id).unwrap();
    let published = log.publish(&bank.id).unwrap();
    assert_eq!(published.size, size);
    let before = log.entries(&bank.id, 0, size as usize).unwrap();

    // Integration: everything moves, the store keeps nothing below, the readers see the same log.
    let report = log.integrate_all().unwrap();
    assert_eq!((report.tenants, report.leaves, report.certificates), (1, size, 2), "{report:?}");
    assert_eq!(fixture.archive.integrated("bank-a").unwrap(), size);
    assert_eq!(fixture.store.audit_floor(&bank.id).unwrap(), size);
    assert!(fixture.store.audit_evidence(&bank.id, 10).unwrap().is_empty(), "the certificates moved");
    let fresh = fixture.log();
    assert_eq!(fresh.entries(&bank.id, 0, size as usize).unwrap(), before, "the same events, read from the archive");
    assert_eq!(fresh.checkpoint_at(&bank.id, size).unwrap().root, published.root, "the same tree");
    assert_eq!(log.integrate_all().unwrap().leaves, 0, "integrating again moves nothing");
    let history = fixture.archive.checkpoints("bank-a", 0, 10).unwrap();
    assert_eq!(history, vec![(size, published.note.clone())], "the published checkpoint is in the history");

    // The evidence of the linked login: its very certificate, from the archive.
    let events = payloads(&log, &bank.id, size);
    let proof_index = events
        .iter()
        .position(|event| {
            event.as_ref().is_some_and(|event| {
                event.rpc.ends_with("/VerifyAuthProof") && event.detail.get("verification_id") == Some(&linked_login)
            })
        })
        .unwrap() as u64;
    let evidence = log.evidence(&bank.id, proof_index, size).unwrap();
    let h01 = fixture.pki.card("h01").unwrap().auth_cert_der().to_vec();
    assert_eq!(evidence.certificate.as_deref(), Some(h01.as_slice()));
    assert!(log.evidence(&bank.id, size, size).is_err(), "nothing beyond the durable size");

    // Retention, past the period: the linked certificate's events stay, the rest lose their
    // payloads but keep their hashes, and an unheld certificate goes.
    let h02 = fixture.pki.card("h02").unwrap().auth_cert_der().to_vec();
    let expired = log.expire(fixture.clock.now().0 + RETENTION + 1).unwrap();
    assert!(expired.leaves > 0 && expired.evidence == 1, "{expired:?}");
    let after = payloads(&log, &bank.id, size);
    for (index, (old, new)) in events.iter().zip(&after).enumerate() {
        if held_by(old, &link.certificate.serial) {
            assert_eq!(new, old, "event {index} of the linked certificate is held");
        } else {
            assert!(new.is_none(), "event {index} expired: {new:?}");
        }
    }
    let fresh = fixture.log();
    assert_eq!(fresh.checkpoint_at(&bank.id, size).unwrap().root, published.root, "expiry keeps every hash");
    assert!(fixture.archive.evidence(EvidenceOwner::Tenant("bank-a"), &sha256(&h02)).unwrap().is_none());
    assert!(fixture.archive.evidence(EvidenceOwner::Tenant("bank-a"), &sha256(&h01)).unwrap().is_some());

    // The unlink, well after the events, starts the period: still held just before its end,
    // gone after.
    fixture.clock.advance(5 * RETENTION);
    let removed = fixture.app.unlink(&bank, &call("Unlink"), "CUST-1", None).unwrap();
    assert_eq!(removed, 1);
    let unlinked_at = fixture.clock.now().0;
    log.integrate_all().unwrap();
    log.expire(unlinked_at + RETENTION - 1).unwrap();
    assert!(payloads(&log, &bank.id, size).iter().any(|event| held_by(event, &link.certificate.serial)));
    log.expire(unlinked_at + RETENTION + 1).unwrap();
    assert!(!payloads(&log, &bank.id, size).iter().any(|event| held_by(event, &link.certificate.serial)));
    assert!(fixture.archive.evidence(EvidenceOwner::Tenant("bank-a"), &sha256(&h01)).unwrap().is_none());
    assert_eq!(fixture.log().checkpoint_at(&bank.id, size).unwrap().root, published.root);
}
