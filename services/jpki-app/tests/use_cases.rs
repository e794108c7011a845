//! The use cases on a fixed clock, the test PKI's verifier and a real embedded store: every
//! typed outcome a transport renders, without any transport.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use jpki_app::clock::FixedClock;
use jpki_app::outcome::{
    CertificateStatus, ChallengeRefusal, Cited, LinkDecision, LinkRefusal, VerificationVerdict as Verdict,
};
use jpki_app::tenant::BusinessPurpose;
use jpki_app::{App, FieldPermissions, Rules, Tenant};
use jpki_core::CertId;
use jpki_core::{Indication, RevocationStatus};
use jpki_revocation::RevocationStore;
use jpki_store::{LocalStore, TenantId};
use jpki_testpki::{CmsOptions, TestPki};
use jpki_testsupport::testing::{at, offset, pki, time};

const RULES: Rules = Rules {
    challenge_ttl_seconds: 60,
    auth_verification_max_age_seconds: 300,
    signature_verification_max_age_seconds: 3600,
    verification_retention_seconds: 86_400,
};

struct Fixture {
    app: App,
    clock: Arc<FixedClock>,
    pki: Arc<TestPki>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalStore::open(dir.path().join("store.redb")).unwrap());
    fixture_on(store, dir)
}

fn fixture_on(store: Arc<dyn jpki_store::TenantStore>, dir: tempfile::TempDir) -> Fixture {
    let pki = pki();
    let revocation = Arc::new(RevocationStore::new(jpki_testsupport::anchors(&pki).unwrap(), 0));
    for ca in pki.cas().iter().filter(|ca| ca.is_anchor()) {
        let (from, until) = (offset(time("2026-05-01T00:00:00Z")), offset(time("2026-07-01T00:00:00Z")));
        let der = pki.issue_crl(ca, from, until, 1, &[]).unwrap();
        revocation.load(ca.label(), &der, at()).unwrap();
    }
    let verifier = Arc::new(jpki_testsupport::verifier(&pki, revocation.clone(), 16).unwrap());
    let clock = Arc::new(FixedClock::new(at()));
    let app = App::new(verifier, revocation, store, clock.clone(), RULES);
    Fixture { app, clock, pki, _dir: dir }
}

/// The call context of a test call: a made-up principal and request.
fn call() -> jpki_app::CallContext {
    jpki_app::CallContext {
        rpc: "/jpki.gateway.v1.VerificationService/Test".into(),
        principal: "test-principal".into(),
        credential: "test-key".into(),
        request_id: "req-1".into(),
        trace_id: None,
    }
}

fn tenant(id: &str, fields: FieldPermissions) -> Tenant {
    Tenant { id: TenantId::new(id).unwrap(), fields, policy: jpki_app::tenant::TenantPolicy::everything() }
}

impl Fixture {
    /// A whole login by `holder`'s card: challenge, proof.
    fn login(&self, tenant: &Tenant, holder: &str) -> jpki_app::outcome::ProofOutcome {
        self.prove(tenant, holder, BusinessPurpose::Login)
    }

    /// A challenge and `holder`'s card's proof, verified for `purpose`.
    fn prove(&self, tenant: &Tenant, holder: &str, purpose: BusinessPurpose) -> jpki_app::outcome::ProofOutcome {
        let issued = self.app.issue_challenge(tenant, &call(), "tx-1".into()).unwrap();
        let card = self.pki.card(holder).unwrap();
        let proof = card.prove(&issued.challenge).unwrap();
        self.app.verify_auth_proof(tenant, &call(), purpose, &issued.id, card.auth_cert_der(), &proof).unwrap()
    }

    fn certificate_of(&self, holder: &str) -> CertId {
        let card = self.pki.card(holder).unwrap();
        let report = self.pki_report(card.auth_cert_der());
        let facts = report.certificate.unwrap();
        CertId { ca_key_id: facts.ca_key_id.unwrap(), serial: facts.serial }
    }

    fn pki_report(&self, certificate: &[u8]) -> jpki_core::ValidationReport {
        let tenant = tenant("probe", FieldPermissions::default());
        let issued = self.app.issue_challenge(&tenant, &call(), String::new()).unwrap();
        let outcome = self
            .app
            .verify_auth_proof(&tenant, &call(), BusinessPurpose::Login, &issued.id, certificate, &[0u8; 256])
            .unwrap();
        match outcome.verification.verdict {
            Verdict::Verified(report) => *report,
            other => panic!("not verified: {other:?}"),
        }
    }
}

#[test]
fn a_login_links_and_the_next_login_names_the_customer() {
    let fixture = fixture();
    let bank = tenant("bank-a", FieldPermissions::default());
    let first = fixture.login(&bank, "h01");
    assert!(first.passed(), "{:?}", first.verification.verdict);
    assert_eq!((first.customer_id.as_deref(), first.transaction_reference.as_str()), (None, "tx-1"));

    let decision = fixture.app.link(&bank, &call(), "CUST-1", &first.verification.id, None).unwrap();
    let LinkDecision::Created(link) = decision else { panic!("{decision:?}") };
    assert_eq!(link.certificate, fixture.certificate_of("h01"));
    let again = fixture.app.link(&bank, &call(), "CUST-1", &first.verification.id, None).unwrap();
    assert!(matches!(again, LinkDecision::AlreadyLinked(_)), "Link is idempotent");
    assert_eq!(
        fixture.app.link(&bank, &call(), "CUST-2", &first.verification.id, None).unwrap(),
        LinkDecision::Refused(LinkRefusal::LinkedToOther)
    );

    let second = fixture.login(&bank, "h01");
    assert_eq!(second.customer_id.as_deref(), Some("CUST-1"));

    // Status: the linked certificate is known, another tenant's and a made-up one are not.
    let made_up = CertId { ca_key_id: link.certificate.ca_key_id.clone(), serial: "7f".into() };
    let statuses = fixture.app.check_status(&bank, &call(), &[link.certificate.clone(), made_up.clone()]).unwrap();
    assert!(matches!(&statuses[0], CertificateStatus::Known(answer) if answer.status == RevocationStatus::Good));
    assert_eq!(statuses[1], CertificateStatus::NotEntitled);
    let other = tenant("bank-b", FieldPermissions::default());
    assert_eq!(
        fixture.app.check_status(&other, &call(), &[link.certificate]).unwrap(),
        [CertificateStatus::NotEntitled]
    );
}

#[test]
fn a_challenge_answers_one_attempt_within_its_lifetime() {
    let fixture = fixture();
    let bank = tenant("bank-a", FieldPermissions::default());
    let card = fixture.pki.card("h01").unwrap();
    let refusal = |outcome: jpki_app::outcome::ProofOutcome| match outcome.verification.verdict {
        Verdict::Refused(refusal) => refusal,
        other => panic!("not refused: {other:?}"),
    };

    let issued = fixture.app.issue_challenge(&bank, &call(), "tx".into()).unwrap();
    assert_eq!(issued.expires_at.0 - issued.issued_at.0, 60);
    // The id (16 random bytes in hex) and the challenge (32 bytes) come from one read of the OS's
    // randomness: disjoint parts of it, neither repeated by the next challenge.
    let next = fixture.app.issue_challenge(&bank, &call(), "tx".into()).unwrap();
    assert_eq!((issued.id.len(), issued.challenge.len()), (32, 32));
    assert!(issued.id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert!(!hex::encode(&issued.challenge).contains(&issued.id));
    assert!(next.id != issued.id && next.challenge != issued.challenge);
    let proof = card.prove(&issued.challenge).unwrap();
    assert!(
        fixture
            .app
            .verify_auth_proof(&bank, &call(), BusinessPurpose::Login, &issued.id, card.auth_cert_der(), &proof)
            .unwrap()
            .passed()
    );
    fixture.clock.advance(5);
    let replayed = fixture
        .app
        .verify_auth_proof(&bank, &call(), BusinessPurpose::Login, &issued.id, card.auth_cert_der(), &proof)
        .unwrap();
    assert_eq!(refusal(replayed), ChallengeRefusal::AlreadyUsed { used_at: at() });

    // Another tenant cannot use it, and cannot tell it exists.
    let other = tenant("bank-b", FieldPermissions::default());
    let issued = fixture.app.issue_challenge(&bank, &call(), String::new()).unwrap();
    let proof = card.prove(&issued.challenge).unwrap();
    let foreign = fixture
        .app
        .verify_auth_proof(&other, &call(), BusinessPurpose::Login, &issued.id, card.auth_cert_der(), &proof)
        .unwrap();
    assert_eq!(refusal(foreign), ChallengeRefusal::Unknown);

    let late = fixture.app.issue_challenge(&bank, &call(), "late".into()).unwrap();
    fixture.clock.advance(60);
    let proof = card.prove(&late.challenge).unwrap();
    let expired = fixture
        .app
        .verify_auth_proof(&bank, &call(), BusinessPurpose::Login, &late.id, card.auth_cert_der(), &proof)
        .unwrap();
    assert_eq!(expired.transaction_reference, "late");
    let refused = refusal(expired);
    assert_eq!(refused, ChallengeRefusal::Expired { expires_at: late.expires_at });
    assert_eq!(refused.code(), "CHALLENGE_EXPIRED");
    assert_eq!(refused.details(), [("expires_at", late.expires_at.to_rfc3339())]);
}

#[test]
fn a_link_needs_a_fresh_passed_authentication_of_the_same_tenant() {
    let fixture = fixture();
    let bank = tenant("bank-a", FieldPermissions::default());
    let refused = |decision: LinkDecision| match decision {
        LinkDecision::Refused(refusal) => refusal,
        other => panic!("linked: {other:?}"),
    };
    assert_eq!(
        refused(fixture.app.link(&bank, &call(), "C", "00000000000000000000000000000000", None).unwrap()),
        LinkRefusal::VerificationUnknown(Cited::Authentication)
    );

    let card = fixture.pki.card("h01").unwrap();
    let cms = card.sign_document_cms(b"form", CmsOptions { signing_time: offset(at()), ..Default::default() }).unwrap();
    let input = jpki_core::SignatureInput::Cms { cms: &cms, detached_content: Some(b"form"), certificate: None };
    let signature =
        fixture.app.verify_signature(&bank, &call(), BusinessPurpose::AccountOpening, &input, None).unwrap();
    assert!(signature.verification.passed(), "{:?}", signature.verification.verdict);
    let as_auth = refused(fixture.app.link(&bank, &call(), "C", &signature.verification.id, None).unwrap());
    assert_eq!(as_auth, LinkRefusal::WrongKind(Cited::Authentication));

    let failed = fixture.pki_report(card.auth_cert_der());
    assert_eq!(failed.indication, Indication::TotalFailed);
    let login = fixture.login(&bank, "h01");
    let other = tenant("bank-b", FieldPermissions::default());
    assert_eq!(
        refused(fixture.app.link(&other, &call(), "C", &login.verification.id, None).unwrap()),
        LinkRefusal::VerificationUnknown(Cited::Authentication),
        "another tenant's verification does not exist for it"
    );
    let with_auth_as_signature =
        fixture.app.link(&bank, &call(), "C", &login.verification.id, Some(&login.verification.id)).unwrap();
    assert_eq!(refused(with_auth_as_signature), LinkRefusal::WrongKind(Cited::Signature));

    fixture.clock.advance(301);
    let too_old = refused(fixture.app.link(&bank, &call(), "C", &login.verification.id, None).unwrap());
    assert_eq!(too_old, LinkRefusal::TooOld { cited: Cited::Authentication, age_seconds: 301, max_age_seconds: 300 });
    assert_eq!(too_old.code(), "VERIFICATION_TOO_OLD");
}

#[test]
fn a_failed_proof_cannot_back_a_link() {
    let fixture = fixture();
    let bank = tenant("bank-a", FieldPermissions::default());
    let card = fixture.pki.card("h01").unwrap();
    let issued = fixture.app.issue_challenge(&bank, &call(), String::new()).unwrap();
    let wrong = card.prove(b"another challenge").unwrap();
    let outcome = fixture
        .app
        .verify_auth_proof(&bank, &call(), BusinessPurpose::Login, &issued.id, card.auth_cert_der(), &wrong)
        .unwrap();
    assert!(!outcome.passed());
    let decision = fixture.app.link(&bank, &call(), "C", &outcome.verification.id, None).unwrap();
    assert_eq!(decision, LinkDecision::Refused(LinkRefusal::NotPassed(Cited::Authentication)));
}

#[test]
fn only_permitted_fields_are_disclosed_and_compared_and_only_on_a_pass() {
    let fixture = fixture();
    let card = fixture.pki.card("h01").unwrap();
    let cms = card.sign_document_cms(b"form", CmsOptions { signing_time: offset(at()), ..Default::default() }).unwrap();
    let input = jpki_core::SignatureInput::Cms { cms: &cms, detached_content: Some(b"form"), certificate: None };
    let applicant =
        jpki_app::outcome::Applicant { name: "山田 太郎".into(), sex: "1".into(), ..Default::default() };

    let name_only = tenant("bank-b", FieldPermissions { name: true, ..FieldPermissions::default() });
    let outcome = fixture
        .app
        .verify_signature(&name_only, &call(), BusinessPurpose::AccountOpening, &input, Some(&applicant))
        .unwrap();
    let fields = outcome.four_fields.expect("passed");
    let name = fields.name.expect("permitted");
    assert!(name.verdict.is_some(), "typed and present: compared");
    assert!(fields.date_of_birth.is_none() && fields.address.is_none() && fields.sex.is_none());

    let all = tenant("bank-a", FieldPermissions::ALL);
    let outcome = fixture.app.verify_signature(&all, &call(), BusinessPurpose::AccountOpening, &input, None).unwrap();
    let fields = outcome.four_fields.expect("passed");
    assert!(fields.sex.is_some_and(|sex| sex.verdict.is_none()), "nothing typed: no verdict");

    // A signature that fails discloses nothing, whatever the permissions.
    let mut broken = cms.clone();
    let last = broken.len() - 1;
    broken[last] ^= 1;
    let input = jpki_core::SignatureInput::Cms { cms: &broken, detached_content: Some(b"form"), certificate: None };
    let outcome =
        fixture.app.verify_signature(&all, &call(), BusinessPurpose::AccountOpening, &input, Some(&applicant)).unwrap();
    assert!(!outcome.verification.passed());
    assert!(outcome.four_fields.is_none());
}

#[test]
fn the_purpose_is_kept_in_the_record() {
    let fixture = fixture();
    let bank = tenant("bank-a", FieldPermissions::default());
    let outcome = fixture.prove(&bank, "h01", BusinessPurpose::Remittance);
    assert!(outcome.passed());
    let stored = fixture.app.store().get_verification(&bank.id, &outcome.verification.id).unwrap().unwrap();
    assert_eq!((stored.purpose.as_str(), stored.passed), ("remittance", true));

    let card = fixture.pki.card("h01").unwrap();

    let cms = card.sign_document_cms(b"form", CmsOptions { signing_time: offset(at()), ..Default::default() }).unwrap();
    let input = jpki_core::SignatureInput::Cms { cms: &cms, detached_content: Some(b"form"), certificate: None };
    let signed =
        fixture.app.verify_signature(&bank, &call(), BusinessPurpose::PeriodicReverification, &input, None).unwrap();
    let stored = fixture.app.store().get_verification(&bank.id, &signed.verification.id).unwrap().unwrap();
    assert_eq!(stored.purpose, "periodic_reverification");
}

/// A tenant allowed only some kinds: another kind is a refused result, recorded as refused (with
/// its purpose), that discloses, links, entitles and watches nothing.
#[test]
fn a_certificate_kind_the_tenant_may_not_verify_is_a_refused_result() {
    use jpki_core::CertKind;
    let fixture = fixture();
    let mut signing_only = tenant("bank-s", FieldPermissions::ALL);
    signing_only.policy.certificate_kinds = vec![CertKind::SigningCard];
    let outcome = fixture.login(&signing_only, "h01");
    let Verdict::NotPermitted(refusal) = &outcome.verification.verdict else { panic!("{outcome:?}") };
    assert_eq!((refusal.found, refusal.permitted.as_slice()), (CertKind::AuthCard, &[CertKind::SigningCard][..]));
    assert_eq!(refusal.details(), [("found", "auth_card".to_owned()), ("permitted", r#"["signing_card"]"#.to_owned())]);
    assert!(!outcome.passed() && outcome.customer_id.is_none());
    let stored = fixture.app.store().get_verification(&signing_only.id, &outcome.verification.id).unwrap().unwrap();
    assert_eq!((stored.passed, stored.certificate.is_none(), stored.purpose.as_str()), (false, true, "login"));
    let decision = fixture.app.link(&signing_only, &call(), "C", &outcome.verification.id, None).unwrap();
    assert_eq!(decision, LinkDecision::Refused(LinkRefusal::NotPassed(Cited::Authentication)));
    let certificate = fixture.certificate_of("h01");
    let status = fixture.app.check_status(&signing_only, &call(), &[certificate]).unwrap();
    assert_eq!(status, [CertificateStatus::NotEntitled]);
    assert!(fixture.app.store().watched(&signing_only.id).unwrap().is_empty());

    // The other way round: an authentication-only tenant gets no four fields from a signature.
    let card = fixture.pki.card("h01").unwrap();
    let mut auth_only = tenant("bank-l", FieldPermissions::ALL);
    auth_only.policy.certificate_kinds = vec![CertKind::AuthCard, CertKind::AuthPhone];
    let cms = card.sign_document_cms(b"form", CmsOptions { signing_time: offset(at()), ..Default::default() }).unwrap();
    let input = jpki_core::SignatureInput::Cms { cms: &cms, detached_content: Some(b"form"), certificate: None };
    let signed =
        fixture.app.verify_signature(&auth_only, &call(), BusinessPurpose::AccountOpening, &input, None).unwrap();
    assert!(
        matches!(&signed.verification.verdict, Verdict::NotPermitted(refusal) if refusal.found == CertKind::SigningCard)
    );
    assert!(signed.four_fields.is_none());
    assert!(fixture.app.store().watched(&auth_only.id).unwrap().is_empty());
    // The same signature passes for a tenant that may verify signing certificates.
    let all = tenant("bank-a", FieldPermissions::ALL);
    let signed = fixture.app.verify_signature(&all, &call(), BusinessPurpose::AccountOpening, &input, None).unwrap();
    assert!(signed.verification.passed() && signed.four_fields.is_some());
}

/// On Redis (appendfsync always), the store writes only through scripts, one durable write each:
/// IssueChallenge runs one (the challenge), VerifyAuthProof one (the challenge's use and the
/// attempt's record together); its other commands are reads.
#[test]
fn each_login_step_is_one_durable_write_on_redis() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = jpki_testsupport::RedisServer::start(dir.path(), jpki_testsupport::DURABLE) else { return };
    let store = Arc::new(jpki_store::RedisStore::connect(&server.url(), "jpki:").unwrap());
    let fixture = fixture_on(store, dir);
    let bank = tenant("bank-a", FieldPermissions::default());
    let mut connection = redis::Client::open(server.url()).unwrap().get_connection().unwrap();
    let mut scripts_run = |step: &mut dyn FnMut()| -> u64 {
        let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut connection).unwrap();
        step();
        let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut connection).unwrap();
        ["evalsha", "eval"]
            .iter()
            .filter_map(|command| {
                stats.lines().find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
            })
            .map(|rest| rest.split(',').next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    let mut issued = None;
    assert_eq!(
        scripts_run(&mut || issued = Some(fixture.app.issue_challenge(&bank, &call(), String::new()).unwrap())),
        1
    );
    let issued = issued.unwrap();
    let card = fixture.pki.card("h01").unwrap();
    let proof = card.prove(&issued.challenge).unwrap();
    let mut outcome = None;
    let writes = scripts_run(&mut || {
        outcome = Some(
            fixture
                .app
                .verify_auth_proof(&bank, &call(), BusinessPurpose::Login, &issued.id, card.auth_cert_der(), &proof)
                .unwrap(),
        );
    });
    assert!(outcome.unwrap().passed());
    assert_eq!(writes, 1);
}

/// On the journal (the default embedded engine), a call's whole change is one journal entry, so
/// counting entries counts commits: every use case makes exactly one, holding its audit event
/// with its writes (reads and idempotent repeats too: their event is their write), and waits for
/// its `fdatasync`.
#[test]
fn each_use_case_is_at_most_one_commit_on_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(jpki_store::JournalStore::open(dir.path().join("store.journal")).unwrap());
    let fixture = fixture_on(journal.clone(), dir);
    let bank = tenant("bank-a", FieldPermissions::ALL);
    // (entries appended, fdatasyncs) by one step.
    let commits = |step: &mut dyn FnMut()| {
        let before = journal.stats();
        step();
        let after = journal.stats();
        (after.logged - before.logged, after.syncs - before.syncs)
    };

    let mut issued = None;
    assert_eq!(
        commits(&mut || issued = Some(fixture.app.issue_challenge(&bank, &call(), "tx".into()).unwrap())),
        (1, 1)
    );
    let issued = issued.unwrap();
    let card = fixture.pki.card("h01").unwrap();
    let proof = card.prove(&issued.challenge).unwrap();
    let mut login = None;
    let step = commits(&mut || {
        login = Some(
            fixture
                .app
                .verify_auth_proof(&bank, &call(), BusinessPurpose::Login, &issued.id, card.auth_cert_der(), &proof)
                .unwrap(),
        );
    });
    let login = login.unwrap();
    assert!(login.passed());
    assert_eq!(step, (1, 1), "the challenge's use, the record, its entitlement and watch: one entry, one sync");
    // A replay is refused, and its refused record is the one entry.
    assert_eq!(
        commits(&mut || {
            fixture
                .app
                .verify_auth_proof(&bank, &call(), BusinessPurpose::Login, &issued.id, card.auth_cert_der(), &proof)
                .unwrap();
        }),
        (1, 1)
    );

    let cms = card.sign_document_cms(b"form", CmsOptions { signing_time: offset(at()), ..Default::default() }).unwrap();
    let input = jpki_core::SignatureInput::Cms { cms: &cms, detached_content: Some(b"form"), certificate: None };
    assert_eq!(
        commits(&mut || assert!(
            fixture
                .app
                .verify_signature(&bank, &call(), BusinessPurpose::AccountOpening, &input, None)
                .unwrap()
                .verification
                .passed()
        )),
        (1, 1)
    );

    let link = |fixture: &Fixture| fixture.app.link(&bank, &call(), "CUST-1", &login.verification.id, None).unwrap();
    assert_eq!(commits(&mut || assert!(matches!(link(&fixture), LinkDecision::Created(_)))), (1, 1));
    // Idempotent: only its event to write.
    assert_eq!(commits(&mut || assert!(matches!(link(&fixture), LinkDecision::AlreadyLinked(_)))), (1, 1));
    let certificate = fixture.certificate_of("h01");
    let reads = commits(&mut || {
        fixture.app.check_status(&bank, &call(), std::slice::from_ref(&certificate)).unwrap();
        fixture.app.links_of_customer(&bank, &call(), "CUST-1").unwrap();
        fixture.app.link_of_certificate(&bank, &call(), &certificate).unwrap();
    });
    assert_eq!(reads.0, 3, "one event per read");
    assert_eq!(commits(&mut || assert_eq!(fixture.app.unlink(&bank, &call(), "CUST-1", None).unwrap(), 1)), (1, 1));

    // Every call left exactly one event, in order, naming what happened and nothing private.
    use jpki_store::TenantStore as _;
    let leaves = journal.audit_leaves(&bank.id, 0, 100).unwrap();
    let events: Vec<jpki_audit::AuditEvent> =
        leaves.iter().map(|leaf| jpki_audit::AuditEvent::from_leaf(leaf.as_bytes()).unwrap()).collect();
    assert_eq!(events.len(), 10);
    let reasons: Vec<Option<&str>> = events.iter().map(|event| event.reason.as_deref()).collect();
    assert_eq!(reasons[2], Some("CHALLENGE_ALREADY_USED"), "the replay's event says why it was refused");
    assert_eq!(events[1].indication.as_deref(), Some("TOTAL_PASSED"));
    assert_eq!(events[1].purpose.as_deref(), Some("login"));
    assert_eq!(events[1].certificate.as_ref().map(|c| c.serial.clone()), Some(certificate.serial.clone()));
    assert!(!events[1].revocation.is_empty(), "the lists the answer rests on are named");
    assert_eq!(events[1].revocation[0].scope, "base");
    assert_eq!(events[4].detail.get("outcome").map(String::as_str), Some("created"));
    assert_eq!(events[5].detail.get("outcome").map(String::as_str), Some("already_linked"));
    assert_eq!(events[6].count, Some(1));
    assert!(events.iter().all(|event| event.tenant == "bank-a" && event.request_id == "req-1"));
    let all = leaves.join("\n");
    assert!(!all.contains("CUST-1"), "customer ids appear as digests only");
    assert!(!all.contains(&hex::encode(&issued.challenge)), "challenges appear as digests only");
    assert!(all.contains(&jpki_audit::sha256_hex(b"CUST-1")));
}
