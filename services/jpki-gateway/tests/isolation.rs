//! Tenant isolation on every store: tenant B walks every RPC with tenant A's ids (challenge,
//! verification, customer and certificate ids) and gets nothing, B's auditor reads nothing of A's
//! log (not even whether an event exists), and A's state is unchanged afterwards. Runs on the
//! journal (the default), on redb, and on a real redis-server with a real PostgreSQL archive.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::{
    CheckStatusRequest, Indication, IssueChallengeRequest, LinkRequest, LookupLinkRequest, RevocationStatus,
    UnlinkRequest, VerifyAuthProofRequest, lookup_link_request::Key,
};
use jpki_gateway::settings::EmbeddedEngine;
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_b_reaches_nothing_of_tenant_a_on_the_journal() {
    walk(start_with(with_auditors).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_b_reaches_nothing_of_tenant_a_on_redb() {
    walk(
        start_with(|config| {
            config.embedded_engine = Some(EmbeddedEngine::Redb);
            with_auditors(config);
        })
        .await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_b_reaches_nothing_of_tenant_a_on_redis() {
    let Some(shared) = SharedStores::start() else { return };
    walk(
        start_with(|config| {
            shared.apply(config);
            with_auditors(config);
        })
        .await,
    )
    .await;
}

const KEY_AUDITOR_A: &str = "key-auditor-a";
const KEY_AUDITOR_B: &str = "key-auditor-b";

/// An auditor of each tenant.
fn with_auditors(config: &mut jpki_gateway::GatewayConfig) {
    let auditor = |id: &str, key: &str, tenant: &str| jpki_gateway::settings::AuditorSettings {
        id: id.into(),
        api_key: Some(key.into()),
        tenants: vec![tenant.into()],
        ..jpki_gateway::settings::AuditorSettings::default()
    };
    config.auditors =
        vec![auditor("auditor-a", KEY_AUDITOR_A, "bank-a"), auditor("auditor-b", KEY_AUDITOR_B, "bank-b")];
}

/// Every auditor call of B's auditor on A's log is refused as it would be for a tenant that does
/// not exist; B's auditor reads B's log, whose events are all B's.
async fn auditor_b_reads_nothing_of_a(running: &Running) {
    use jpki_api::audit::v1::audit_service_client::AuditServiceClient;
    use jpki_api::audit::v1::*;
    let mut auditor = AuditServiceClient::new(running.channel().await);
    for tenant in ["bank-a", "no-such-bank"] {
        let denied = [
            auditor.get_checkpoint(authed(GetCheckpointRequest { tenant: tenant.into() }, KEY_AUDITOR_B)).await.err(),
            auditor
                .stream_events(authed(StreamEventsRequest { tenant: tenant.into(), from: 0, to: 0 }, KEY_AUDITOR_B))
                .await
                .err(),
            auditor
                .get_inclusion_proof(authed(
                    GetInclusionProofRequest { tenant: tenant.into(), index: 0, tree_size: 1 },
                    KEY_AUDITOR_B,
                ))
                .await
                .err(),
            auditor
                .get_consistency_proof(authed(
                    GetConsistencyProofRequest { tenant: tenant.into(), old_size: 0, new_size: 1 },
                    KEY_AUDITOR_B,
                ))
                .await
                .err(),
            auditor
                .get_evidence(authed(GetEvidenceRequest { tenant: tenant.into(), index: 0 }, KEY_AUDITOR_B))
                .await
                .err(),
        ];
        for status in denied {
            let status = status.expect("refused");
            assert_eq!((status.code(), status.message()), (Code::PermissionDenied, "not an auditor of this tenant"));
        }
    }
    let request = StreamEventsRequest { tenant: "bank-b".into(), from: 0, to: 0 };
    let mut stream = auditor.stream_events(authed(request, KEY_AUDITOR_B)).await.unwrap().into_inner();
    let mut count = 0;
    while let Some(entry) = stream.message().await.unwrap() {
        let event = jpki_audit::AuditEvent::from_leaf(entry.leaf.as_bytes()).unwrap();
        assert_eq!(event.tenant, "bank-b", "{event:?}");
        count += 1;
    }
    assert!(count > 0, "B's calls are in B's log");
    // A's auditor still reads A's log.
    let checkpoint = auditor.get_checkpoint(authed(GetCheckpointRequest { tenant: "bank-a".into() }, KEY_AUDITOR_A));
    assert!(checkpoint.await.unwrap().into_inner().size > 0);
}

async fn walk(running: Running) {
    let mut client = running.verification().await;
    let mut links = running.links().await;
    let mut status = running.status().await;
    let card = running.pki.card("h01").unwrap();

    // Tenant A: a login, a link, a signature verification, and a challenge left pending.
    let login_a = login(&mut client, &running.pki, "h01", KEY_A, "a-1").await.result.unwrap();
    assert_eq!(login_a.indication(), Indication::TotalPassed);
    let certificate = login_a.certificate.clone().unwrap().id.unwrap();
    let link = |auth: &str| LinkRequest {
        customer_id: "CUST-A".into(),
        auth_verification_id: auth.into(),
        signature_verification_id: String::new(),
    };
    links.link(authed(link(&login_a.verification_id), KEY_A)).await.unwrap();
    let signed = client.verify_signature(authed(cms_request(&running.pki, "h01", FORM, FORM), KEY_A)).await.unwrap();
    let signature_a = signed.into_inner().result.unwrap().verification_id;
    let pending = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();

    // Tenant B with A's ids.
    // A's pending challenge, proved correctly by the card: unknown to B, and not consumed.
    let proof = VerifyAuthProofRequest {
        challenge_id: pending.challenge_id.clone(),
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&pending.challenge).unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let answer = client.verify_auth_proof(authed(proof.clone(), KEY_B)).await.unwrap().into_inner();
    let result = answer.result.unwrap();
    assert_eq!(result.reason.unwrap().code, "CHALLENGE_UNKNOWN");
    assert_eq!((answer.customer_id.as_str(), answer.transaction_reference.as_str()), ("", ""));
    // A's verifications cannot back B's links.
    for id in [&login_a.verification_id, &signature_a] {
        let refused = links.link(authed(link(id), KEY_B)).await.unwrap_err();
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert_eq!(refused.get_details_precondition_failure().unwrap().violations[0].r#type, "VERIFICATION_UNKNOWN");
    }
    // A's customer and certificate: nothing to look up, nothing to unlink.
    for key in [Key::CustomerId("CUST-A".into()), Key::Certificate(certificate.clone())] {
        let found = links.lookup_link(authed(LookupLinkRequest { key: Some(key) }, KEY_B)).await.unwrap();
        assert!(found.into_inner().links.is_empty());
    }
    for only in [Some(certificate.clone()), None] {
        let unlink = UnlinkRequest { customer_id: "CUST-A".into(), certificate: only };
        assert_eq!(links.unlink(authed(unlink, KEY_B)).await.unwrap().into_inner().removed, 0);
    }
    // A's certificate's status: not B's to learn.
    let checked = status
        .check_status(authed(CheckStatusRequest { certificates: vec![certificate.clone()] }, KEY_B))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.statuses[0].revocation.as_ref().unwrap().status(), RevocationStatus::NotEntitled);
    auditor_b_reads_nothing_of_a(&running).await;

    // Tenant A's state is unchanged: the link, its status, and the pending challenge, which A can
    // still use (the next login names the customer).
    let found = links.lookup_link(authed(LookupLinkRequest { key: Some(Key::CustomerId("CUST-A".into())) }, KEY_A));
    assert_eq!(found.await.unwrap().into_inner().links.len(), 1);
    let checked = status
        .check_status(authed(CheckStatusRequest { certificates: vec![certificate] }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.statuses[0].revocation.as_ref().unwrap().status(), RevocationStatus::Good);
    let answer = client.verify_auth_proof(authed(proof, KEY_A)).await.unwrap().into_inner();
    assert_eq!(answer.result.unwrap().indication(), Indication::TotalPassed);
    assert_eq!(answer.customer_id, "CUST-A");
}
