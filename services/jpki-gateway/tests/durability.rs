//! Nothing acknowledged is lost: the gateway binary is killed with SIGKILL while clients work, and
//! after a restart on the same data directory every acknowledged challenge use, verification and
//! link is still there, and so is every acknowledged call's audit event, whether the integrator
//! (every second here) had moved it into the archive or not.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::{
    Indication, IssueChallengeRequest, LinkRequest, LookupLinkRequest, VerifyAuthProofRequest, lookup_link_request::Key,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_challenges_and_links_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[audit]\nintegrate_interval_seconds = 1\n");
    std::fs::write(&config, text).unwrap();
    let spawn = |config: &std::path::Path| spawn_binary(config, "warn", std::process::Stdio::inherit());
    let pki = jpki_testsupport::testing::pki();
    let card = pki.card("h04").unwrap();

    let (mut child, address) = spawn(&config);
    let mut client = jpki_api::v1::verification_service_client::VerificationServiceClient::new(channel(address).await);
    let mut links = jpki_api::v1::link_service_client::LinkServiceClient::new(channel(address).await);

    // A login whose challenge was used, one challenge issued but not yet used, and a link.
    let used = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let used_proof = VerifyAuthProofRequest {
        challenge_id: used.challenge_id.clone(),
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&used.challenge).unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let passed = client.verify_auth_proof(authed(used_proof.clone(), KEY_A)).await.unwrap().into_inner();
    let result = passed.result.unwrap();
    assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
    let pending = client
        .issue_challenge(authed(IssueChallengeRequest { transaction_reference: "pending".into() }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    links
        .link(authed(
            LinkRequest {
                customer_id: "CUST-0004".into(),
                auth_verification_id: result.verification_id.clone(),
                signature_verification_id: String::new(),
            },
            KEY_A,
        ))
        .await
        .unwrap();

    // Then a stream of acknowledged logins, killed at an arbitrary point.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let worker = {
        let acknowledged = acknowledged.clone();
        let pki = pki.clone();
        let mut client = client.clone();
        tokio::spawn(async move {
            let card = pki.card("h04").unwrap();
            loop {
                let Ok(issued) = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await else {
                    return;
                };
                let issued = issued.into_inner();
                let proof = VerifyAuthProofRequest {
                    challenge_id: issued.challenge_id.clone(),
                    certificate: card.auth_cert_der().to_vec(),
                    signature: card.prove(&issued.challenge).unwrap(),
                    business_purpose: BusinessPurpose::Login as i32,
                };
                match client.verify_auth_proof(authed(proof.clone(), KEY_A)).await {
                    Ok(_) => acknowledged.lock().unwrap().push(proof),
                    Err(_) => return,
                }
            }
        })
    };
    // Let some logins be acknowledged, over a few of the integrator's passes (bounded polling, no
    // timing assertion: the kill may land before, during or after a pass).
    for round in 0..400 {
        if acknowledged.lock().unwrap().len() >= 5 && round >= 100 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    kill_9(&mut child);
    let _ = worker.await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 5, "only {} logins were acknowledged before the kill", acknowledged.len());

    let (mut child, address) = spawn(&config);
    let mut client = jpki_api::v1::verification_service_client::VerificationServiceClient::new(channel(address).await);
    let mut links = jpki_api::v1::link_service_client::LinkServiceClient::new(channel(address).await);
    let acknowledged_ids: Vec<String> =
        std::iter::once(&used_proof).chain(&acknowledged).map(|proof| proof.challenge_id.clone()).collect();
    for proof in std::iter::once(used_proof).chain(acknowledged) {
        let replay = client.verify_auth_proof(authed(proof, KEY_A)).await.unwrap().into_inner();
        assert_eq!(replay.result.unwrap().reason.unwrap().code, "CHALLENGE_ALREADY_USED");
    }
    // The pending challenge is still good (issuing it does not fsync, but the link's commit after it
    // made it durable), and the link is there: the login finds the customer.
    let proof = VerifyAuthProofRequest {
        challenge_id: pending.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&pending.challenge).unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let login = client.verify_auth_proof(authed(proof, KEY_A)).await.unwrap().into_inner();
    assert_eq!(login.result.unwrap().indication(), Indication::TotalPassed);
    assert_eq!(login.customer_id, "CUST-0004");
    assert_eq!(login.transaction_reference, "pending");
    let found = links
        .lookup_link(authed(LookupLinkRequest { key: Some(Key::CustomerId("CUST-0004".into())) }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.links.len(), 1);
    kill_9(&mut child);

    // Every acknowledged call's audit event survived too, in the same commit as its writes: each
    // acknowledged proof's event says it passed, and the log has no gap.
    // The events below the archive's size are there, the rest in the journal.
    use jpki_archive::AuditArchive as _;
    use jpki_store::TenantStore as _;
    let store = jpki_store::JournalStore::open(dir.path().join("data/store.journal")).unwrap();
    let archive = jpki_archive::FileArchive::open(&dir.path().join("data/audit/archive.redb")).unwrap();
    let bank = jpki_store::TenantId::new("bank-a").unwrap();
    let size = store.audit_size(&bank).unwrap();
    let integrated = archive.integrated("bank-a").unwrap();
    assert!(store.audit_floor(&bank).unwrap() <= integrated, "the journal never drops what is not archived");
    println!("{integrated} of {size} events were in the archive");
    let mut events = Vec::new();
    while (events.len() as u64) < size {
        let from = events.len() as u64;
        let page: Vec<String> = if from < integrated {
            let archived = archive.leaves("bank-a", from, jpki_store::MAX_AUDIT_PAGE).unwrap();
            archived.into_iter().map(|leaf| leaf.payload.unwrap()).collect()
        } else {
            store.audit_leaves(&bank, from, jpki_store::MAX_AUDIT_PAGE).unwrap()
        };
        assert!(!page.is_empty(), "a gap in the audit log at {}", events.len());
        events.extend(page.iter().map(|leaf| jpki_audit::AuditEvent::from_leaf(leaf.as_bytes()).unwrap()));
    }
    let passed_proofs: std::collections::HashSet<&str> = events
        .iter()
        .filter(|event| event.rpc.ends_with("/VerifyAuthProof") && event.indication.as_deref() == Some("TOTAL_PASSED"))
        .filter_map(|event| event.detail.get("challenge_id").map(String::as_str))
        .collect();
    for proof in &acknowledged_ids {
        assert!(passed_proofs.contains(proof.as_str()), "the acknowledged login over {proof} has no passed event");
    }
    assert!(events.iter().any(|event| event.rpc.ends_with("/Link")), "the acknowledged link's event");
}
