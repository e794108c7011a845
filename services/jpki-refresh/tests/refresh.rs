#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The fetcher and the refresher over real HTTP against the CA simulator (one process, no Redis).
//!
//! Every misbehaviour of the simulator gets its own test: the refresher must report it, keep the
//! list in use, and the verifier (with the store as its revocation source) must keep answering
//! from that list until a good list arrives. No timing assertions: timeouts are only used to
//! make the simulator's `slow` mode fail, never to judge speed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jpki_casim::{CaSimulator, Misbehaviour, MisbehaviourSetting, Revocation, RevokeTarget, SimConfig, SimHandle};
use jpki_core::revocation::{RevocationReason, RevocationStatus};
use jpki_core::{
    AuthProofInput, FailureReason, HashAlgorithm, Indication, SignatureInput, SignedContent, SubIndication,
    TrustAnchor, UnixTime, ValidationReport, Verifier,
};
use jpki_refresh::{
    CrlSource, FetchError, FetchOutcome, Fetcher, HttpPolicy, ListConfig, ListStatus, RefreshConfig, RefreshEvent,
    Refresher, Validators, Via,
};
use jpki_revocation::{ListedChange, RevocationStore, StatusChange};
use jpki_testpki::{ReasonCode, TestPki};

const SEED: u64 = 2026;
const AUTH_G2: &str = "auth-card-g2";
const SIGNING_G2: &str = "signing-card-g2";

fn pki() -> Arc<TestPki> {
    TestPki::cached(SEED).unwrap()
}

fn now() -> UnixTime {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    UnixTime(i64::try_from(seconds).unwrap())
}

fn anchors(pki: &TestPki) -> Vec<TrustAnchor> {
    jpki_testsupport::anchors(pki).unwrap()
}

/// A verifier trusting every anchor of the test PKI, with `store` as every kind's revocation source.
fn verifier(pki: &TestPki, store: &Arc<RevocationStore>) -> Verifier {
    jpki_testsupport::verifier(pki, store.clone(), 100).unwrap()
}

/// Small limits, two attempts, tiny backoff: fast failures, still generous for a loaded machine.
fn policy() -> HttpPolicy {
    HttpPolicy {
        connect_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(5),
        max_bytes: 1 << 20,
        attempts: 2,
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
    }
}

async fn simulator() -> SimHandle {
    CaSimulator::from_test_pki(&pki(), SimConfig::default()).unwrap().bind("127.0.0.1:0").await.unwrap()
}

/// A whole-second revocation date an hour ago (before any validation time used below).
fn an_hour_ago() -> UnixTime {
    UnixTime(now().0 - 3600)
}

fn revoke(sim: &SimHandle, ca: &str, holder: &str, reason: Option<ReasonCode>, at: UnixTime) -> u64 {
    sim.simulator()
        .revoke(&Revocation {
            ca: ca.to_owned(),
            target: RevokeTarget::Holder(holder.to_owned()),
            reason,
            revoked_at: Some(time::OffsetDateTime::from_unix_timestamp(at.0).unwrap()),
        })
        .unwrap()
        .number
}

fn misbehave(sim: &SimHandle, setting: MisbehaviourSetting) {
    sim.simulator().set_misbehaviour(setting).unwrap();
}

/// Serial as the refresher's change sets spell it: lowercase hex without leading zero bytes.
fn serial_hex(serial: &[u8]) -> String {
    hex::encode(jpki_core::der::unsigned_integer_bytes(serial))
}

/// One simulator, one list followed by one refresher into one store, and a verifier over the store.
struct Env {
    pki: Arc<TestPki>,
    sim: SimHandle,
    ca: &'static str,
    store: Arc<RevocationStore>,
    verifier: Verifier,
    refresher: Refresher,
    list: ListConfig,
}

impl Env {
    async fn start(ca: &'static str, policy: HttpPolicy, ledger: Option<&Path>) -> Self {
        let sim = simulator().await;
        Self::over(sim, ca, policy, ledger).await
    }

    /// A refresher (new store, new verifier) following `ca` on an existing simulator.
    async fn over(sim: SimHandle, ca: &'static str, policy: HttpPolicy, ledger: Option<&Path>) -> Self {
        let pki = pki();
        let store = Arc::new(RevocationStore::new(anchors(&pki), 0));
        let verifier = verifier(&pki, &store);
        let list = ListConfig { name: ca.to_owned(), source: CrlSource::Http(sim.crl_url(ca)) };
        let config = RefreshConfig {
            lists: vec![list.clone()],
            interval: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(60),
            redis: None,
            ledger: ledger.map(Path::to_owned),
            archive: None,
        };
        let refresher = Refresher::new(config, store.clone(), Fetcher::new(policy).unwrap()).await.unwrap();
        Env { pki, sim, ca, store, verifier, refresher, list }
    }

    async fn refresh(&self) -> RefreshEvent {
        self.refresher.refresh(&self.list).await
    }

    fn status(&self) -> ListStatus {
        let statuses = self.refresher.status();
        assert_eq!(statuses.len(), 1);
        statuses.into_iter().next().unwrap()
    }

    fn number_in_use(&self) -> Option<String> {
        self.status().number
    }

    /// What the verifier says now about `holder`'s certificate of this CA: an authentication
    /// proof for an auth CA, a raw document signature for a signing CA.
    fn verdict(&self, holder: &str) -> ValidationReport {
        let at = now();
        let card = self.pki.card(holder).unwrap();
        if self.ca.starts_with("auth") {
            let challenge = b"refresh-test challenge";
            let signature = card.prove(challenge).unwrap();
            let input = AuthProofInput {
                certificate: card.auth_cert_der(),
                challenge,
                signature: &signature,
                challenge_issued_at: None,
            };
            self.verifier.verify_auth_proof(&input, at)
        } else {
            let document = b"refresh-test document";
            let signature = card.sign_document(document).unwrap();
            let input = SignatureInput::Raw {
                signature: &signature,
                certificate: card.signing_cert_der(),
                content: SignedContent::Message { data: document, hash: HashAlgorithm::Sha256 },
            };
            self.verifier.verify_signature(&input, at)
        }
    }

    /// The holder passes, answered by the list numbered `number`.
    fn assert_good(&self, holder: &str, number: u64) {
        let report = self.verdict(holder);
        assert_eq!(report.indication, Indication::TotalPassed, "{holder}: {report:?}");
        let answer = report.revocation.as_ref().unwrap();
        assert_eq!(answer.status, RevocationStatus::Good, "{holder}");
        assert_eq!(answer.provenance.as_ref().unwrap().crl_number, Some(number.to_string()), "{holder}");
    }

    /// The holder is revoked (INDETERMINATE/REVOKED_NO_POE), answered by the list numbered `number`.
    fn assert_revoked(&self, holder: &str, number: u64, revoked_at: UnixTime, reason: Option<RevocationReason>) {
        let report = self.verdict(holder);
        assert_eq!(report.indication, Indication::Indeterminate, "{holder}: {report:?}");
        assert_eq!(report.sub_indication, Some(SubIndication::RevokedNoPoe), "{holder}");
        assert_eq!(report.reason, Some(FailureReason::Revoked { revoked_at, reason }), "{holder}");
        let provenance = report.revocation.as_ref().unwrap().provenance.as_ref().unwrap();
        assert_eq!(provenance.crl_number, Some(number.to_string()), "{holder}");
    }
}

fn assert_installed(event: &RefreshEvent, number: u64, entries: u64, changes: usize) {
    let expected = RefreshEvent::Installed {
        list: event_list(event).to_owned(),
        number: number.to_string(),
        entries,
        via: Via::Source,
        changes,
    };
    assert_eq!(event, &expected);
}

fn event_list(event: &RefreshEvent) -> &str {
    match event {
        RefreshEvent::Installed { list, .. }
        | RefreshEvent::NotModified { list }
        | RefreshEvent::Skipped { list, .. }
        | RefreshEvent::FetchFailed { list, .. }
        | RefreshEvent::Refused { list, .. }
        | RefreshEvent::PublishRefused { list, .. }
        | RefreshEvent::CoordinationFailed { list, .. } => list,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Fetcher
// ---------------------------------------------------------------------------------------------

fn fetched(outcome: FetchOutcome) -> jpki_refresh::Fetched {
    match outcome {
        FetchOutcome::Fetched(fetched) => fetched,
        other => panic!("expected new content, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetcher_conditional_get() {
    let sim = simulator().await;
    let source = CrlSource::Http(sim.crl_url(AUTH_G2));
    let fetcher = Fetcher::new(policy()).unwrap();

    let first = fetched(fetcher.fetch(&source, &Validators::default()).await.unwrap());
    let current = sim.simulator().current_crl(AUTH_G2).unwrap();
    assert_eq!(first.lists, vec![current.der.to_vec()]);
    assert_eq!(first.bytes, current.der.len() as u64);
    assert_eq!(first.attempts, 1);
    assert_eq!(first.validators.etag.as_deref(), Some(current.etag.as_str()));
    assert!(first.validators.last_modified.is_some());

    // Both validators, then each alone: 304.
    assert_eq!(fetcher.fetch(&source, &first.validators).await.unwrap(), FetchOutcome::NotModified { attempts: 1 });
    let etag_only = Validators { etag: first.validators.etag.clone(), last_modified: None };
    assert_eq!(fetcher.fetch(&source, &etag_only).await.unwrap(), FetchOutcome::NotModified { attempts: 1 });
    let date_only = Validators { etag: None, last_modified: first.validators.last_modified.clone() };
    assert_eq!(fetcher.fetch(&source, &date_only).await.unwrap(), FetchOutcome::NotModified { attempts: 1 });

    // A revocation issues a new list: the old ETag no longer matches.
    revoke(&sim, AUTH_G2, "h01", Some(ReasonCode::KeyCompromise), an_hour_ago());
    let second = fetched(fetcher.fetch(&source, &first.validators).await.unwrap());
    let current = sim.simulator().current_crl(AUTH_G2).unwrap();
    assert_eq!(current.number, 2);
    assert_eq!(second.lists, vec![current.der.to_vec()]);
    assert_eq!(second.validators.etag.as_deref(), Some(current.etag.as_str()));
    assert_ne!(second.validators.etag, first.validators.etag);
    assert_eq!(fetcher.fetch(&source, &second.validators).await.unwrap(), FetchOutcome::NotModified { attempts: 1 });

    let downloads = sim.simulator().stats().lists[AUTH_G2].downloads;
    assert_eq!((downloads.full, downloads.not_modified, downloads.misbehaved), (2, 4, 0));
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn fetcher_retries_server_errors_but_not_client_errors() {
    let sim = simulator().await;
    let source = CrlSource::Http(sim.crl_url(AUTH_G2));
    let error = |status| Misbehaviour::Error { status };

    // Two 503s, four attempts allowed: the third attempt gets the list.
    misbehave(&sim, MisbehaviourSetting::times(error(503), 2));
    let patient = Fetcher::new(HttpPolicy { attempts: 4, ..policy() }).unwrap();
    let outcome = fetched(patient.fetch(&source, &Validators::default()).await.unwrap());
    assert_eq!(outcome.attempts, 3);
    assert_eq!(outcome.lists, vec![sim.simulator().current_crl(AUTH_G2).unwrap().der.to_vec()]);

    // Two 503s, two attempts allowed: the status, after both attempts.
    misbehave(&sim, MisbehaviourSetting::times(error(503), 2));
    let hasty = Fetcher::new(HttpPolicy { attempts: 2, ..policy() }).unwrap();
    let failure = hasty.fetch(&source, &Validators::default()).await.unwrap_err();
    assert_eq!(failure, FetchError::Status { origin: sim.crl_url(AUTH_G2), status: 503, attempts: 2 });
    assert!(failure.to_string().contains("HTTP status 503 after 2 attempt(s)"), "{failure}");
    // Both misbehaving answers were consumed: the simulator is back to normal.
    assert_eq!(sim.simulator().misbehaviour(), MisbehaviourSetting::normal());

    // 404 (an unknown list) is not retried.
    let missing = CrlSource::Http(sim.crl_url("no-such-list"));
    let failure = patient.fetch(&missing, &Validators::default()).await.unwrap_err();
    assert_eq!(failure, FetchError::Status { origin: sim.crl_url("no-such-list"), status: 404, attempts: 1 });
    // Nor is a simulated 404 on a known list: one request only, and it used up the misbehaviour.
    misbehave(&sim, MisbehaviourSetting::always(error(404)));
    let failure = patient.fetch(&source, &Validators::default()).await.unwrap_err();
    assert!(matches!(failure, FetchError::Status { status: 404, attempts: 1, .. }), "{failure:?}");

    let downloads = sim.simulator().stats().lists[AUTH_G2].downloads;
    // 2 + 2 simulated 503s and one simulated 404; one good download.
    assert_eq!((downloads.full, downloads.misbehaved), (1, 5));
    misbehave(&sim, MisbehaviourSetting::normal());
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn fetcher_times_out_on_a_slow_body() {
    let sim = simulator().await;
    let source = CrlSource::Http(sim.crl_url(SIGNING_G2));
    misbehave(&sim, MisbehaviourSetting::always(Misbehaviour::Slow { delay_ms: 120_000 }));
    let fetcher = Fetcher::new(HttpPolicy { total_timeout: Duration::from_millis(500), ..policy() }).unwrap();
    let failure = fetcher.fetch(&source, &Validators::default()).await.unwrap_err();
    assert_eq!(failure, FetchError::Timeout { origin: sim.crl_url(SIGNING_G2), attempts: 2 });
    assert_eq!(sim.simulator().stats().lists[SIGNING_G2].downloads.misbehaved, 2);
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn fetcher_refuses_a_body_over_the_limit() {
    let sim = simulator().await;
    let source = CrlSource::Http(sim.crl_url(SIGNING_G2));
    misbehave(&sim, MisbehaviourSetting::always(Misbehaviour::Huge { size: 16 << 20 }));
    let fetcher = Fetcher::new(HttpPolicy { max_bytes: 64 << 10, attempts: 3, ..policy() }).unwrap();
    let failure = fetcher.fetch(&source, &Validators::default()).await.unwrap_err();
    assert_eq!(failure, FetchError::TooLarge { origin: sim.crl_url(SIGNING_G2), limit: 64 << 10 });
    // Not retried.
    assert_eq!(sim.simulator().stats().lists[SIGNING_G2].downloads.misbehaved, 1);
    sim.shutdown().await.unwrap();
}

/// Lists issued directly by the test PKI's CAs (no simulator), numbered and with `revoked` entries.
fn issue(ca_label: &str, number: u64, revoked: usize) -> Vec<u8> {
    let pki = pki();
    let ca = pki.ca_by_label(ca_label).unwrap();
    let this = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::hours(1);
    let entries: Vec<_> = (0..revoked)
        .map(|i| jpki_testpki::CrlEntry::new(vec![0x10, i as u8 + 1], this).reason(ReasonCode::Superseded))
        .collect();
    ca.issue_crl(this, this + time::Duration::days(1), number, &entries).unwrap()
}

fn pem(der: &[u8]) -> String {
    jpki_testpki::keys::pem_encode("X509 CRL", der).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn fetcher_reads_files_and_directories() {
    let fetcher = Fetcher::new(policy()).unwrap();
    let temp = tempfile::tempdir().unwrap();

    // A DER file: fetched, then not modified, then fetched again once rewritten (as PEM).
    let file = temp.path().join("auth-g2.crl");
    let one = issue(AUTH_G2, 1, 0);
    std::fs::write(&file, &one).unwrap();
    let source = CrlSource::File(file.clone());
    let first = fetched(fetcher.fetch(&source, &Validators::default()).await.unwrap());
    assert_eq!(first.lists, vec![one.clone()]);
    assert_eq!(first.bytes, one.len() as u64);
    assert!(first.validators.etag.is_some());
    assert_eq!(fetcher.fetch(&source, &first.validators).await.unwrap(), FetchOutcome::NotModified { attempts: 1 });
    let two = issue(AUTH_G2, 2, 3);
    std::fs::write(&file, pem(&two)).unwrap();
    let second = fetched(fetcher.fetch(&source, &first.validators).await.unwrap());
    assert_eq!(second.lists, vec![two.clone()]);
    assert_ne!(second.validators, first.validators);
    assert_eq!(fetcher.fetch(&source, &second.validators).await.unwrap(), FetchOutcome::NotModified { attempts: 1 });

    // A directory: every regular file, in name order; a PEM file may hold several lists.
    let directory = temp.path().join("lists");
    std::fs::create_dir(&directory).unwrap();
    std::fs::create_dir(directory.join("ignored-subdirectory")).unwrap();
    let signing = issue(SIGNING_G2, 1, 1);
    let (phone_auth, phone_signing) = (issue("auth-phone-g2", 1, 0), issue("signing-phone-g2", 1, 2));
    std::fs::write(directory.join("a-signing.crl"), &signing).unwrap();
    std::fs::write(directory.join("b-phones.pem"), pem(&phone_auth) + &pem(&phone_signing)).unwrap();
    let source = CrlSource::Directory(directory.clone());
    let first = fetched(fetcher.fetch(&source, &Validators::default()).await.unwrap());
    assert_eq!(first.lists, vec![signing.clone(), phone_auth.clone(), phone_signing.clone()]);
    assert_eq!(fetcher.fetch(&source, &first.validators).await.unwrap(), FetchOutcome::NotModified { attempts: 1 });
    // One file rewritten.
    let signing_two = issue(SIGNING_G2, 2, 4);
    std::fs::write(directory.join("a-signing.crl"), pem(&signing_two)).unwrap();
    let second = fetched(fetcher.fetch(&source, &first.validators).await.unwrap());
    assert_eq!(second.lists, vec![signing_two.clone(), phone_auth.clone(), phone_signing.clone()]);
    assert_eq!(fetcher.fetch(&source, &second.validators).await.unwrap(), FetchOutcome::NotModified { attempts: 1 });
    // A file added.
    std::fs::write(directory.join("c-auth.crl"), &one).unwrap();
    let third = fetched(fetcher.fetch(&source, &second.validators).await.unwrap());
    assert_eq!(third.lists, vec![signing_two, phone_auth, phone_signing, one]);
}

// ---------------------------------------------------------------------------------------------
// 2. One test per misbehaviour: the list in use and the answers stay, until a good list comes.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Expect {
    FetchFailed(&'static [&'static str]),
    Refused(&'static [&'static str]),
}

/// Installs list 1, revokes h01 (list 2 at the CA), serves `misbehaviour` and refreshes: the
/// expected event, list 1 still in use, h01 and h02 still good. Then the CA behaves, list 2 is
/// installed and h01 is revoked for the verifier.
async fn misbehaviour_keeps_the_list_in_use(ca: &'static str, misbehaviour: Misbehaviour, expect: Expect) -> Env {
    let env = Env::start(ca, policy(), None).await;
    assert_installed(&env.refresh().await, 1, 0, 0);
    env.assert_good("h01", 1);

    let revoked_at = an_hour_ago();
    assert_eq!(revoke(&env.sim, ca, "h01", Some(ReasonCode::KeyCompromise), revoked_at), 2);
    misbehave(&env.sim, MisbehaviourSetting::always(misbehaviour));
    let event = env.refresh().await;
    let (error, result) = match (&event, expect) {
        (RefreshEvent::FetchFailed { error, .. }, Expect::FetchFailed(needles)) => (error, ("fetch_failed", needles)),
        (RefreshEvent::Refused { error, .. }, Expect::Refused(needles)) => (error, ("refused", needles)),
        _ => panic!("expected {expect:?}, got {event:?}"),
    };
    for needle in result.1 {
        assert!(error.contains(needle), "{error:?} should name {needle:?}");
    }
    let status = env.status();
    assert_eq!(status.number.as_deref(), Some("1"), "the list in use is still the previous one");
    assert_eq!(status.last_result.as_deref(), Some(result.0));
    assert_eq!(status.entries, 0);
    assert_eq!(env.store.lists().len(), 1);
    assert_eq!(env.store.lists()[0].crl_number, "1");
    // The previous list answers: h01 (revoked at the CA, not on the list in use) and h02 good.
    env.assert_good("h01", 1);
    env.assert_good("h02", 1);

    misbehave(&env.sim, MisbehaviourSetting::normal());
    assert_installed(&env.refresh().await, 2, 1, 1);
    assert_eq!(env.number_in_use().as_deref(), Some("2"));
    env.assert_revoked("h01", 2, revoked_at, Some(RevocationReason::KeyCompromise));
    env.assert_good("h02", 2);
    env
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviour_slow_times_out_and_keeps_the_list() {
    let policy = HttpPolicy { total_timeout: Duration::from_secs(3), ..policy() };
    let env = Env::start(AUTH_G2, policy, None).await;
    assert_installed(&env.refresh().await, 1, 0, 0);
    let revoked_at = an_hour_ago();
    assert_eq!(revoke(&env.sim, AUTH_G2, "h01", Some(ReasonCode::KeyCompromise), revoked_at), 2);
    misbehave(&env.sim, MisbehaviourSetting::always(Misbehaviour::Slow { delay_ms: 120_000 }));
    let event = env.refresh().await;
    let RefreshEvent::FetchFailed { error, .. } = &event else { panic!("expected fetch_failed, got {event:?}") };
    assert!(error.contains("timed out after 2 attempt(s)"), "{error}");
    assert!(error.contains(&env.sim.crl_url(AUTH_G2)), "{error}");
    assert_eq!(env.number_in_use().as_deref(), Some("1"));
    assert_eq!(env.status().last_result.as_deref(), Some("fetch_failed"));
    env.assert_good("h01", 1);
    env.assert_good("h02", 1);

    misbehave(&env.sim, MisbehaviourSetting::normal());
    assert_installed(&env.refresh().await, 2, 1, 1);
    env.assert_revoked("h01", 2, revoked_at, Some(RevocationReason::KeyCompromise));
    env.assert_good("h02", 2);
    env.sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviour_error_status_keeps_the_list() {
    let misbehaviour = Misbehaviour::Error { status: 503 };
    let env = misbehaviour_keeps_the_list_in_use(
        AUTH_G2,
        misbehaviour,
        Expect::FetchFailed(&["HTTP status 503 after 2 attempt(s)"]),
    )
    .await;
    // Each refresh made both attempts against the error.
    assert_eq!(env.sim.simulator().stats().lists[AUTH_G2].downloads.misbehaved, 2);
    env.sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviour_truncated_is_refused_and_keeps_the_list() {
    let env =
        misbehaviour_keeps_the_list_in_use(SIGNING_G2, Misbehaviour::Truncated, Expect::Refused(&["malformed CRL"]))
            .await;
    env.sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviour_garbage_is_refused_and_keeps_the_list() {
    let env =
        misbehaviour_keeps_the_list_in_use(AUTH_G2, Misbehaviour::Garbage, Expect::Refused(&["malformed CRL at byte"]))
            .await;
    env.sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviour_expired_is_refused_and_keeps_the_list() {
    let env = misbehaviour_keeps_the_list_in_use(
        SIGNING_G2,
        Misbehaviour::Expired,
        Expect::Refused(&["CRL expired: nextUpdate"]),
    )
    .await;
    env.sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviour_rolled_back_is_refused_and_keeps_the_list() {
    // After the revocation the CA is at 2; rolled back, it serves 1 again with the new entry.
    let env = misbehaviour_keeps_the_list_in_use(
        AUTH_G2,
        Misbehaviour::RolledBack,
        Expect::Refused(&["cRLNumber 1 is the number of the list in use", "rolled-back"]),
    )
    .await;
    // With 2 in use, the rolled-back list (1) is below it: refused naming both numbers.
    misbehave(&env.sim, MisbehaviourSetting::times(Misbehaviour::RolledBack, 1));
    let event = env.refresh().await;
    let RefreshEvent::Refused { error, .. } = &event else { panic!("expected refused, got {event:?}") };
    assert!(error.contains("CRL number 1 is not newer than the loaded 2"), "{error}");
    assert_eq!(env.number_in_use().as_deref(), Some("2"));
    env.sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviour_wrong_signer_is_refused_and_keeps_the_list() {
    let foreign_key = hex::encode(pki().foreign_ca().key_id());
    let env = misbehaviour_keeps_the_list_in_use(
        SIGNING_G2,
        Misbehaviour::WrongSigner,
        Expect::Refused(&["no trust anchor matches the CRL issuer"]),
    )
    .await;
    // The message names the foreign key the list claims.
    misbehave(&env.sim, MisbehaviourSetting::times(Misbehaviour::WrongSigner, 1));
    let event = env.refresh().await;
    let RefreshEvent::Refused { error, .. } = &event else { panic!("expected refused, got {event:?}") };
    assert!(error.to_lowercase().contains(&foreign_key), "{error} should name {foreign_key}");
    assert_eq!(env.number_in_use().as_deref(), Some("2"));
    env.sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn misbehaviour_huge_is_cut_off_and_keeps_the_list() {
    let env = misbehaviour_keeps_the_list_in_use(
        AUTH_G2,
        Misbehaviour::Huge { size: 16 << 20 },
        Expect::FetchFailed(&["larger than the limit of 1048576 bytes"]),
    )
    .await;
    env.sim.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 3. The ledger across restarts
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn ledger_refuses_a_rollback_after_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let ledger = temp.path().join("ledger.json");
    let sim = simulator().await;
    let url = sim.crl_url(AUTH_G2);

    // Process A: installs 1, then 2 after a revocation; the ledger remembers 2.
    let a = Env::over(sim, AUTH_G2, policy(), Some(&ledger)).await;
    assert_installed(&a.refresh().await, 1, 0, 0);
    let n = revoke(&a.sim, AUTH_G2, "h03", Some(ReasonCode::AffiliationChanged), an_hour_ago());
    assert!(n >= 2);
    assert_installed(&a.refresh().await, n, 1, 1);
    let auth_key = hex::encode(pki().ca_by_label(AUTH_G2).unwrap().key_id());
    assert!(std::fs::read_to_string(&ledger).unwrap().contains(&auth_key), "one floor per (issuer key, scope)");
    let Env { sim, .. } = a;

    // Process B: a new store, the same ledger. The CA serves N - 1: refused, naming both numbers.
    let b = Env::over(sim, AUTH_G2, policy(), Some(&ledger)).await;
    assert_eq!(b.sim.crl_url(AUTH_G2), url);
    misbehave(&b.sim, MisbehaviourSetting::times(Misbehaviour::RolledBack, 1));
    let event = b.refresh().await;
    let RefreshEvent::Refused { error, .. } = &event else { panic!("expected refused, got {event:?}") };
    let expected = format!("cRLNumber {} is below {n}, already accepted", n - 1);
    assert!(error.contains(&expected), "{error} should say {expected}");
    assert_eq!(b.number_in_use(), None);
    assert!(b.store.lists().is_empty());
    // Nothing usable yet: the verifier cannot tell (TRY_LATER), never good.
    let report = b.verdict("h01");
    assert_eq!(report.sub_indication, Some(SubIndication::TryLater), "{report:?}");

    // The CA serves N again: installed.
    assert_installed(&b.refresh().await, n, 1, 0);
    assert_eq!(b.number_in_use(), Some(n.to_string()));
    b.assert_good("h01", n);
    b.sim.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 4. Change sets
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn change_sets_name_exactly_the_changes_of_status() {
    let env = Env::start(SIGNING_G2, policy(), None).await;
    let mut changes = env.refresher.subscribe_changes();
    assert_installed(&env.refresh().await, 1, 0, 0);
    // The first list has nothing to compare with: no change set.
    assert!(changes.try_recv().is_err());

    let first_at = an_hour_ago();
    revoke(&env.sim, SIGNING_G2, "h02", Some(ReasonCode::KeyCompromise), first_at);
    assert_installed(&env.refresh().await, 2, 1, 1);
    let change = changes.try_recv().unwrap();
    let h02 = serial_hex(env.pki.holder("h02").unwrap().signing().serial());
    let anchor_key = hex::encode(env.pki.ca_by_label(SIGNING_G2).unwrap().key_id());
    assert_eq!(change.issuer_key_id, anchor_key);
    assert_eq!((change.from_number.as_str(), change.to_number.as_str()), ("1", "2"));
    assert_eq!(change.dropped, 0);
    assert_eq!(
        change.changes,
        vec![StatusChange {
            serial: h02.clone(),
            change: ListedChange::Revoked { revoked_at: first_at, reason: Some(RevocationReason::KeyCompromise) },
        }]
    );
    assert!(changes.try_recv().is_err());

    // Two more at once, one on hold: those two, each as listed, ordered by serial.
    let second_at = UnixTime(first_at.0 + 60);
    revoke(&env.sim, SIGNING_G2, "h04", Some(ReasonCode::CessationOfOperation), second_at);
    revoke(&env.sim, SIGNING_G2, "h05", Some(ReasonCode::CertificateHold), second_at);
    assert_installed(&env.refresh().await, 4, 3, 2);
    let change = changes.try_recv().unwrap();
    assert_eq!((change.from_number.as_str(), change.to_number.as_str()), ("2", "4"));
    let mut expected = vec![
        StatusChange {
            serial: serial_hex(env.pki.holder("h04").unwrap().signing().serial()),
            change: ListedChange::Revoked {
                revoked_at: second_at,
                reason: Some(RevocationReason::CessationOfOperation),
            },
        },
        StatusChange {
            serial: serial_hex(env.pki.holder("h05").unwrap().signing().serial()),
            change: ListedChange::Held { since: second_at },
        },
    ];
    expected.sort_by(|a, b| (a.serial.len(), &a.serial).cmp(&(b.serial.len(), &b.serial)));
    assert_eq!(change.changes, expected);
    assert!(!change.changes.iter().any(|changed| changed.serial == h02));

    // Nothing new at the CA: not modified, no change set.
    assert_eq!(env.refresh().await, RefreshEvent::NotModified { list: SIGNING_G2.to_owned() });
    assert!(changes.try_recv().is_err());
    env.sim.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// 5. Status
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn status_describes_the_list_in_use() {
    let env = Env::start(AUTH_G2, policy(), None).await;
    let before = env.status();
    assert_eq!(before.name, AUTH_G2);
    assert_eq!(before.source, env.list.source.describe());
    assert_eq!((before.number, before.downloads, before.last_result), (None, 0, None));
    assert!(before.stale, "nothing loaded yet");
    assert!(!env.refresher.all_loaded());

    assert_installed(&env.refresh().await, 1, 0, 0);
    let current = env.sim.simulator().current_crl(AUTH_G2).unwrap();
    let status = env.status();
    assert_eq!(status.number.as_deref(), Some("1"));
    assert_eq!(status.this_update, Some(UnixTime(current.this_update.unix_timestamp())));
    assert_eq!(status.next_update, Some(UnixTime(current.next_update.unix_timestamp())));
    assert_eq!(status.next_update.unwrap().0 - status.this_update.unwrap().0, 24 * 3600);
    assert_eq!(status.entries, 0);
    assert_eq!(status.last_result.as_deref(), Some("installed"));
    assert!(status.last_attempt.is_some());
    assert_eq!(status.downloads, 1);
    assert!(!status.stale);
    assert!(env.refresher.all_loaded());

    // A 304 is not a download.
    assert_eq!(env.refresh().await, RefreshEvent::NotModified { list: AUTH_G2.to_owned() });
    let status = env.status();
    assert_eq!((status.number.as_deref(), status.downloads), (Some("1"), 1));
    assert_eq!(status.last_result.as_deref(), Some("not_modified"));

    revoke(&env.sim, AUTH_G2, "h01", Some(ReasonCode::KeyCompromise), an_hour_ago());
    revoke(&env.sim, AUTH_G2, "h02", Some(ReasonCode::Superseded), an_hour_ago());
    assert_installed(&env.refresh().await, 3, 2, 2);
    let current = env.sim.simulator().current_crl(AUTH_G2).unwrap();
    let status = env.status();
    assert_eq!(status.number.as_deref(), Some("3"));
    assert_eq!(status.this_update, Some(UnixTime(current.this_update.unix_timestamp())));
    assert_eq!(status.entries, 2);
    assert_eq!(status.downloads, 2);
    assert_eq!(status.last_result.as_deref(), Some("installed"));
    assert!(!status.stale);

    // A refused download still counts as a download, and changes nothing else.
    misbehave(&env.sim, MisbehaviourSetting::times(Misbehaviour::Garbage, 1));
    assert!(matches!(env.refresh().await, RefreshEvent::Refused { .. }));
    let refused = env.status();
    assert_eq!((refused.number.as_deref(), refused.entries, refused.downloads), (Some("3"), 2, 3));
    assert_eq!(refused.last_result.as_deref(), Some("refused"));
    // A failed fetch is no download.
    misbehave(&env.sim, MisbehaviourSetting::times(Misbehaviour::Error { status: 500 }, 2));
    assert!(matches!(env.refresh().await, RefreshEvent::FetchFailed { .. }));
    assert_eq!(env.status().downloads, 3);
    assert_eq!(env.status().last_result.as_deref(), Some("fetch_failed"));

    // The simulator agrees on what went over the wire: 200s and 304s.
    let downloads = env.sim.simulator().stats().lists[AUTH_G2].downloads;
    assert_eq!((downloads.full, downloads.not_modified), (3, 1));
    env.sim.shutdown().await.unwrap();
}
