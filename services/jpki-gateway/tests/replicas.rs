//! Two replicas sharing one real redis-server (appendfsync always): no state lives only in one
//! pod. A challenge issued by one is consumed by the other, a replay on either is refused, a link
//! made on one is found by the other, and a revocation reaches a stream on either replica.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::{Indication, IssueChallengeRequest, LinkRequest, VerifyAuthProofRequest, WatchRevocationsRequest};
use jpki_casim::{CaSimulator, SimConfig};

use jpki_testsupport::{DURABLE, RedisServer};
use tokio_stream::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_challenges_links_and_events_through_redis() {
    let redis_dir = tempfile::tempdir().unwrap();
    let Some(redis) = RedisServer::start(redis_dir.path(), DURABLE) else { return };
    let pki = jpki_testsupport::testing::pki();
    let simulator = CaSimulator::from_test_pki(&pki, SimConfig::default()).unwrap();
    let casim = simulator.bind("127.0.0.1:0").await.unwrap();

    let mut replicas = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path(), &pki);
        refresh_from(&mut config, &simulator, &casim);
        use_redis(&mut config, redis.url());
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
    drop(redis_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_failure_is_unavailable_with_retry_info_and_a_retry_succeeds() {
    use tonic_types::StatusExt;
    let redis_dir = tempfile::tempdir().unwrap();
    let Some(mut redis) = RedisServer::start(redis_dir.path(), DURABLE) else { return };
    let pki = jpki_testsupport::testing::pki();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), &pki);
    use_redis(&mut config, redis.url());
    let running = launch(config, pki.clone(), dir, None).await;
    wait_serving(running.address).await;
    let mut client = running.verification().await;
    client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap();

    redis.kill_9();
    let status = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let retry = status.get_details_retry_info().expect("google.rpc.RetryInfo");
    assert!(retry.retry_delay.is_some_and(|delay| !delay.is_zero()), "{retry:?}");
    assert!(status.message().contains("may be retried"), "{}", status.message());

    // Retrying after the store is back works: nothing was half-done.
    redis.restart();
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
