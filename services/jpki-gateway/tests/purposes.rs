//! Business purposes and the tenant's certificate-kind policy over a real socket: a purpose is
//! required and must go with the RPC (INVALID_ARGUMENT), the tenant must be allowed it
//! (PERMISSION_DENIED), a certificate kind the tenant may not verify is a refused result, and the
//! purpose is kept in the stored record.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::{
    BusinessPurpose, CertificateKind, CheckStatusRequest, Indication, IssueChallengeRequest, LinkRequest,
    SubIndication, VerificationResult, VerifyAuthProofRequest, VerifySignatureRequest,
    verification_service_client::VerificationServiceClient,
};
use jpki_gateway::settings::TenantSettings;
use jpki_store::{JournalStore, TenantId, TenantStore};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Tenant S: signing certificates on the card only; account opening and login only.
const KEY_S: &str = "key-bank-s";
/// Tenant L: authentication certificates only, every field.
const KEY_L: &str = "key-bank-l";

fn strings(names: &[&str]) -> Option<Vec<String>> {
    Some(names.iter().map(|name| (*name).to_owned()).collect())
}

async fn start_with_policies() -> Running {
    start_with(|config| {
        config.tenants.push(TenantSettings {
            certificate_kinds: strings(&["signing_card"]),
            business_purposes: strings(&["account_opening", "login"]),
            ..TenantSettings::with_key("bank-s", KEY_S)
        });
        config.tenants.push(TenantSettings {
            four_fields: strings(&["name", "date_of_birth", "address", "sex"]).unwrap(),
            certificate_kinds: strings(&["auth_card", "auth_phone"]),
            ..TenantSettings::with_key("bank-l", KEY_L)
        });
    })
    .await
}

/// A proof by `holder`'s card over a fresh challenge of the tenant with `key`, for `purpose`.
async fn proof(
    client: &mut VerificationServiceClient<Channel>,
    running: &Running,
    key: &str,
    purpose: BusinessPurpose,
) -> VerifyAuthProofRequest {
    let issued = client.issue_challenge(authed(IssueChallengeRequest::default(), key)).await.unwrap().into_inner();
    let card = running.pki.card("h01").unwrap();
    VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&issued.challenge).unwrap(),
        business_purpose: purpose.into(),
    }
}

/// The single field violation of an INVALID_ARGUMENT.
fn violation(status: &Status) -> (String, String) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let violations = status.get_details_bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 1, "{violations:?}");
    (violations[0].field.clone(), violations[0].description.clone())
}

fn signature(running: &Running, purpose: i32) -> VerifySignatureRequest {
    VerifySignatureRequest { business_purpose: purpose, ..cms_request(&running.pki, "h01", FORM, FORM) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purpose_is_required_and_must_go_with_the_rpc() {
    let running = start_with_policies().await;
    let mut client = running.verification().await;
    let field = |description: &str| ("business_purpose".to_owned(), description.to_owned());

    let missing = client.verify_signature(authed(signature(&running, 0), KEY_A)).await.unwrap_err();
    assert_eq!(violation(&missing), field("required"));
    let unknown = client.verify_signature(authed(signature(&running, 99), KEY_A)).await.unwrap_err();
    assert_eq!(violation(&unknown), field("unknown business purpose"));
    let login = client.verify_signature(authed(signature(&running, BusinessPurpose::Login.into()), KEY_A)).await;
    let expected = "not allowed with VerifySignature; one of ACCOUNT_OPENING, REMITTANCE, PERIODIC_REVERIFICATION";
    assert_eq!(violation(&login.unwrap_err()), field(expected));

    let unset = VerifyAuthProofRequest {
        business_purpose: 0,
        ..proof(&mut client, &running, KEY_A, BusinessPurpose::Login).await
    };
    let missing = client.verify_auth_proof(authed(unset.clone(), KEY_A)).await.unwrap_err();
    assert_eq!(violation(&missing), field("required"));
    let opening = VerifyAuthProofRequest { business_purpose: BusinessPurpose::AccountOpening.into(), ..unset.clone() };
    let refused = client.verify_auth_proof(authed(opening, KEY_A)).await.unwrap_err();
    let expected = "not allowed with VerifyAuthProof; one of LOGIN, REMITTANCE, PERIODIC_REVERIFICATION";
    assert_eq!(violation(&refused), field(expected));

    // Refused before the use case: the challenge is still pending and answers a proper proof.
    let login = VerifyAuthProofRequest { business_purpose: BusinessPurpose::Login.into(), ..unset };
    let answer = client.verify_auth_proof(authed(login, KEY_A)).await.unwrap().into_inner();
    assert_eq!(answer.result.unwrap().indication(), Indication::TotalPassed);

    // Every allowed pair passes for a tenant allowed every purpose.
    for purpose in
        [BusinessPurpose::AccountOpening, BusinessPurpose::Remittance, BusinessPurpose::PeriodicReverification]
    {
        let answer = client.verify_signature(authed(signature(&running, purpose.into()), KEY_A)).await.unwrap();
        assert_eq!(answer.into_inner().result.unwrap().indication(), Indication::TotalPassed, "{purpose:?}");
    }
    for purpose in [BusinessPurpose::Login, BusinessPurpose::Remittance, BusinessPurpose::PeriodicReverification] {
        let request = proof(&mut client, &running, KEY_A, purpose).await;
        let answer = client.verify_auth_proof(authed(request, KEY_A)).await.unwrap().into_inner();
        assert_eq!(answer.result.unwrap().indication(), Indication::TotalPassed, "{purpose:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purpose_outside_the_tenants_policy_is_permission_denied() {
    let running = start_with_policies().await;
    let mut client = running.verification().await;
    let remittance = signature(&running, BusinessPurpose::Remittance.into());
    let denied = client.verify_signature(authed(remittance.clone(), KEY_S)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    // The caller's own purpose only: nothing about the tenant's other purposes or other tenants.
    assert_eq!(denied.message(), "business_purpose: REMITTANCE is not permitted for this tenant");
    let request = proof(&mut client, &running, KEY_S, BusinessPurpose::PeriodicReverification).await;
    let denied = client.verify_auth_proof(authed(request, KEY_S)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");

    // The same purpose is fine for a tenant allowed it, and a malformed purpose is still
    // INVALID_ARGUMENT for a tenant that may not give it.
    let passed = client.verify_signature(authed(remittance, KEY_A)).await.unwrap().into_inner();
    assert_eq!(passed.result.unwrap().indication(), Indication::TotalPassed);
    let login = client.verify_signature(authed(signature(&running, BusinessPurpose::Login.into()), KEY_S)).await;
    assert_eq!(login.unwrap_err().code(), Code::InvalidArgument);
}

/// The refusal of a certificate kind, as every client sees it.
fn assert_kind_not_permitted(result: &VerificationResult, found: &str, permitted: &str) {
    assert_eq!(
        (result.indication(), result.sub_indication()),
        (Indication::TotalFailed, SubIndication::SigConstraintsFailure),
        "{result:?}"
    );
    let reason = result.reason.as_ref().unwrap();
    assert_eq!(reason.code, "CERTIFICATE_KIND_NOT_PERMITTED");
    assert_eq!((reason.details["found"].as_str(), reason.details["permitted"].as_str()), (found, permitted));
    assert!(!result.retry_may_help);
    assert!(result.revocation.is_none(), "nothing from the lists: {result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_kind_the_tenant_may_not_verify_is_a_refused_result() {
    let mut running = start_with_policies().await;
    let mut client = running.verification().await;

    // A tenant allowed signing certificates only proves with the card's authentication key.
    let request = proof(&mut client, &running, KEY_S, BusinessPurpose::Login).await;
    let answer = client.verify_auth_proof(authed(request, KEY_S)).await.unwrap().into_inner();
    let result = answer.result.unwrap();
    assert_kind_not_permitted(&result, "auth_card", r#"["signing_card"]"#);
    let certificate = result.certificate.as_ref().unwrap();
    assert_eq!(certificate.kind(), CertificateKind::AuthCard);
    assert_eq!(answer.customer_id, "");
    let refused_id = result.verification_id.clone();

    // It backs no link and entitles nothing.
    let link = LinkRequest {
        customer_id: "CUST-S".into(),
        auth_verification_id: refused_id.clone(),
        signature_verification_id: String::new(),
    };
    let status = running.links().await.link(authed(link, KEY_S)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(status.get_details_precondition_failure().unwrap().violations[0].r#type, "VERIFICATION_NOT_PASSED");
    let asked = CheckStatusRequest { certificates: vec![certificate.id.clone().unwrap()] };
    let statuses = running.status().await.check_status(authed(asked, KEY_S)).await.unwrap().into_inner();
    assert_eq!(statuses.statuses[0].revocation.as_ref().unwrap().status(), jpki_api::v1::RevocationStatus::NotEntitled);

    // A tenant allowed authentication certificates only gets no four fields from a signature.
    let signed = client
        .verify_signature(authed(signature(&running, BusinessPurpose::AccountOpening.into()), KEY_L))
        .await
        .unwrap()
        .into_inner();
    assert_kind_not_permitted(signed.result.as_ref().unwrap(), "signing_card", r#"["auth_card","auth_phone"]"#);
    assert!(signed.four_fields.is_none());

    // The signing tenant's own kind passes, with its purpose in the stored record; the refused
    // proof is stored as not passed, with no certificate, and with its purpose.
    let opened = client
        .verify_signature(authed(signature(&running, BusinessPurpose::AccountOpening.into()), KEY_S))
        .await
        .unwrap()
        .into_inner();
    let opened = opened.result.unwrap();
    assert_eq!(opened.indication(), Indication::TotalPassed);

    running.gateway.take().unwrap().shutdown().await.unwrap();
    let journal = running.dir.path().join("data/store.journal");
    // The gateway's last tasks let go of the journal shortly after the shutdown.
    let mut store = JournalStore::open(&journal);
    for _ in 0..200 {
        if store.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        store = JournalStore::open(&journal);
    }
    let store = store.unwrap();
    let bank_s = TenantId::new("bank-s").unwrap();
    let record = store.get_verification(&bank_s, &opened.verification_id).unwrap().unwrap();
    assert_eq!((record.purpose.as_str(), record.passed), ("account_opening", true));
    let record = store.get_verification(&bank_s, &refused_id).unwrap().unwrap();
    assert_eq!((record.purpose.as_str(), record.passed, record.certificate), ("login", false, None));
    assert!(store.watched(&TenantId::new("bank-l").unwrap()).unwrap().is_empty());
}
