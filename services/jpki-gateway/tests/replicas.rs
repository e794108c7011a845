//! Two replicas sharing one real redis-server (appendfsync always): no state lives only in one
//! pod. A challenge issued by one is consumed by the other, a replay on either is refused, a link
//! made on one is found by the other, and a revocation reaches a stream on either replica.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::{Indication, IssueChallengeRequest, LinkRequest, VerifyAuthProofRequest, WatchRevocationsRequest};
use jpki_casim::{CaSimulator, SimConfig};

use tokio_stream::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_challenges_links_and_events_through_redis() {
    let Some(shared) = SharedStores::start() else { return };
    let pki = jpki_testsupport::testing::pki();
    let simulator = CaSimulator::from_test_pki(&pki, SimConfig::default()).unwrap();
    let casim = simulator.bind("127.0.0.1:0").await.unwrap();

    let mut replicas = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), &pki);
        refresh_from(&mut config, &simulator, &casim);
        shared.apply(&mut config);
        let running = launch(config, pki.clone(), dir, None).await;
        wait_serving(running.address).await;
        replicas.push(running);
    }
    let (a, b) = (&replicas[0], &replicas[1]);
    let mut on_a = a.verification().await;
    let mut on_b = b.verification().await;
    let card = pki.card("h06").unwrap();

    let issued = on_a.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let proof = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&issued.challenge).unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let passed = on_b.verify_auth_proof(authed(proof.clone(), KEY_A)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(passed.indication(), Indication::TotalPassed, "{passed:?}");
    for client in [&mut on_a, &mut on_b] {
        let replay = client.verify_auth_proof(authed(proof.clone(), KEY_A)).await.unwrap().into_inner();
        assert_eq!(replay.result.unwrap().reason.unwrap().code, "CHALLENGE_ALREADY_USED");
    }

    // Linked on A with B's verification; the login on B finds the customer.
    let mut links = a.links().await;
    let link = LinkRequest {
        customer_id: "CUST-0006".into(),
        auth_verification_id: passed.verification_id.clone(),
        signature_verification_id: String::new(),
    };
    assert!(links.link(authed(link, KEY_A)).await.unwrap().into_inner().created);
    let login = login(&mut on_b, &pki, "h06", KEY_A, "").await;
    assert_eq!(login.customer_id, "CUST-0006");

    // A stream on each replica; the card is reported lost once, at the CA.
    let mut streams = Vec::new();
    for replica in [a, b] {
        let stream = replica
            .status()
            .await
            .watch_revocations(authed(WatchRevocationsRequest { cursor: "0".into() }, KEY_A))
            .await
            .unwrap()
            .into_inner();
        streams.push(stream);
    }
    let holder = pki.holder("h06").unwrap();
    simulator
        .revoke(&jpki_casim::Revocation {
            ca: holder.auth().issuer_label().to_owned(),
            target: jpki_casim::RevokeTarget::Holder("h06".into()),
            reason: jpki_casim::parse_reason("key_compromise"),
            revoked_at: None,
        })
        .unwrap();
    let mut cursors = Vec::new();
    for stream in &mut streams {
        let event =
            tokio::time::timeout(std::time::Duration::from_secs(60), stream.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(event.customer_id, "CUST-0006");
        assert_eq!(event.meaning(), jpki_api::v1::BusinessMeaning::CardLost);
        cursors.push(event.cursor);
    }
    assert_eq!(cursors[0], cursors[1], "one event, one cursor, whichever replica serves it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_failure_is_unavailable_with_retry_info_and_a_retry_succeeds() {
    use tonic_types::StatusExt;
    let Some(mut shared) = SharedStores::start() else { return };
    let pki = jpki_testsupport::testing::pki();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), &pki);
    shared.apply(&mut config);
    let running = launch(config, pki.clone(), dir, None).await;
    wait_serving(running.address).await;
    let mut client = running.verification().await;
    client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap();

    shared.redis.kill_9();
    let status = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let retry = status.get_details_retry_info().expect("google.rpc.RetryInfo");
    assert!(retry.retry_delay.is_some_and(|delay| !delay.is_zero()), "{retry:?}");
    assert!(status.message().contains("may be retried"), "{}", status.message());

    // Retrying after the store is back works: nothing was half-done.
    shared.redis.restart();
    let mut answered = None;
    for _ in 0..50 {
        match client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await {
            Ok(response) => {
                answered = Some(response.into_inner());
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    assert_eq!(answered.expect("answered once redis is back").challenge.len(), 32);
}

/// Two replicas, one log per tenant: whichever replica answered, each event gets its index in
/// Redis before the answer; the leader moves the durable events and the certificates into
/// PostgreSQL and Redis keeps only the tail; an auditor on either replica reads the same log and
/// the evidence of an answer the other replica gave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_keep_one_audit_log_in_postgres_and_redis_only_its_tail() {
    use jpki_api::audit::v1::audit_service_client::AuditServiceClient;
    use jpki_api::audit::v1::{GetCheckpointRequest, GetEvidenceRequest, StreamEventsRequest};
    use jpki_archive::AuditArchive as _;
    use jpki_store::TenantStore as _;
    const KEY_AUDITOR: &str = "key-auditor-a";
    let Some(shared) = SharedStores::start() else { return };
    let pki = jpki_testsupport::testing::pki();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), &pki);
        shared.apply(&mut config);
        config.audit.integrate_interval_seconds = 1;
        config.audit.checkpoint_interval_seconds = 1;
        config.auditors = vec![jpki_gateway::settings::AuditorSettings {
            id: "auditor-a".into(),
            api_key: Some(KEY_AUDITOR.into()),
            tenants: vec!["bank-a".into()],
            ..jpki_gateway::settings::AuditorSettings::default()
        }];
        let running = launch(config, pki.clone(), dir, None).await;
        wait_serving(running.address).await;
        replicas.push(running);
    }
    let (a, b) = (&replicas[0], &replicas[1]);
    let on_b = login(&mut b.verification().await, &pki, "h07", KEY_A, "tx-b").await;
    assert_eq!(on_b.result.unwrap().indication(), Indication::TotalPassed);
    login(&mut a.verification().await, &pki, "h01", KEY_A, "tx-a").await;

    let mut auditor_a = AuditServiceClient::new(a.channel().await);
    let mut auditor_b = AuditServiceClient::new(b.channel().await);
    let ask = || authed(GetCheckpointRequest { tenant: "bank-a".into() }, KEY_AUDITOR);
    let checkpoint = auditor_b.get_checkpoint(ask()).await.unwrap().into_inner();

    // The leader integrates within a few of its 1-second passes (bounded by attempts, not time).
    let archive = {
        let url = shared.postgres.url();
        tokio::task::spawn_blocking(move || jpki_archive::PgArchive::connect(&url).unwrap()).await.unwrap()
    };
    let archive = std::sync::Arc::new(archive);
    let mut integrated = 0;
    for _ in 0..600 {
        let archive = archive.clone();
        integrated = tokio::task::spawn_blocking(move || archive.integrated("bank-a").unwrap()).await.unwrap();
        if integrated >= checkpoint.size {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(integrated >= checkpoint.size, "integrated {integrated} of {}", checkpoint.size);
    let redis_url = shared.redis.url();
    let floor = tokio::task::spawn_blocking(move || {
        let mut settings = jpki_store::RedisStoreConfig::new(redis_url);
        settings.prefix = "jpki:store:".into();
        let store = jpki_store::RedisStore::connect_with(settings).unwrap();
        store.audit_floor(&jpki_store::TenantId::new("bank-a").unwrap()).unwrap()
    })
    .await
    .unwrap();
    assert!(floor >= checkpoint.size.min(integrated), "Redis keeps only the tail: floor {floor}");

    // Replica A serves the log B's auditor saw: the same events, the same root.
    let request = StreamEventsRequest { tenant: "bank-a".into(), from: 0, to: checkpoint.size };
    let mut stream = auditor_a.stream_events(authed(request, KEY_AUDITOR)).await.unwrap().into_inner();
    let mut tree = jpki_audit::LogHashes::new();
    let mut proof_on_b = None;
    while let Some(entry) = stream.message().await.unwrap() {
        assert_eq!(jpki_audit::leaf_hash(entry.leaf.as_bytes()).0.to_vec(), entry.leaf_hash);
        tree.push_leaf(entry.leaf.as_bytes()).unwrap();
        let event = jpki_audit::AuditEvent::from_leaf(entry.leaf.as_bytes()).unwrap();
        if event.rpc.ends_with("/VerifyAuthProof") && event.digests.contains_key("certificate_sha256") {
            proof_on_b.get_or_insert(entry.index);
        }
    }
    assert_eq!(tree.size(), checkpoint.size);
    assert_eq!(tree.root(checkpoint.size).unwrap().0.to_vec(), checkpoint.root_hash);
    // The evidence of B's answer, served by A from PostgreSQL.
    let index = proof_on_b.unwrap();
    let evidence = auditor_a
        .get_evidence(authed(GetEvidenceRequest { tenant: "bank-a".into(), index }, KEY_AUDITOR))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(evidence.certificate, pki.card("h07").unwrap().auth_cert_der());
}
