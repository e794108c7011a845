//! The gateway over a real socket: a test PKI in a temp dir, the server on 127.0.0.1:0, generated clients.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::SocketAddr;

use jpki_api::v1::verification_service_client::VerificationServiceClient;
use jpki_api::v1::{CmsSignature, IssueChallengeRequest, VerifySignatureRequest, verify_signature_request::Signature};
use jpki_api::v1::{Indication, SubIndication};
use jpki_gateway::ServerConfig;
use jpki_testpki::{CmsOptions, TestPki, WriteOptions};
use tonic::transport::Channel;
use tonic_types::StatusExt;

struct Running {
    address: SocketAddr,
    pki: TestPki,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Running {
    let now = time::OffsetDateTime::now_utc();
    let pki = TestPki::generate(2026).unwrap();
    let dir = tempfile::tempdir().unwrap();
    pki.write_to(dir.path(), &WriteOptions::with_crl_time(now - time::Duration::minutes(5))).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = ServerConfig::from_test_pki(dir.path(), address).unwrap();
    let loaded = config.load_verifier(jpki_gateway::config::now()).unwrap();
    assert!(loaded.lists > 0, "the test PKI's CRLs are loaded");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        jpki_gateway::serve(&loaded, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    Running { address, pki, _dir: dir, _shutdown: tx }
}

async fn channel(address: SocketAddr) -> Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}")).unwrap();
    for _ in 0..50 {
        if let Ok(channel) = endpoint.connect().await {
            return channel;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server did not come up");
}

fn cms_request(running: &Running, signed: &[u8], sent: &[u8]) -> VerifySignatureRequest {
    let card = running.pki.card("h02").unwrap();
    let options = CmsOptions { signing_time: time::OffsetDateTime::now_utc(), ..Default::default() };
    let cms = card.sign_document_cms(signed, options).unwrap();
    VerifySignatureRequest {
        signature: Some(Signature::Cms(CmsSignature { cms, detached_content: sent.to_vec(), certificate: Vec::new() })),
        applicant: None,
    }
}

const FORM: &[u8] = "申請書: 口座開設 2026-11-25".as_bytes();

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cms_signature_passes_with_four_fields() {
    let running = start().await;
    let mut client = VerificationServiceClient::new(channel(running.address).await);
    let response = client.verify_signature(cms_request(&running, FORM, FORM)).await.unwrap().into_inner();
    let result = response.result.unwrap();
    assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
    assert_eq!(result.sub_indication(), SubIndication::Unspecified);
    assert!(result.reason.is_none());
    assert_eq!(result.verification_id.len(), 32);
    assert!(result.validation_time.is_some());
    let certificate = result.certificate.unwrap();
    assert_eq!(certificate.kind(), jpki_api::v1::CertificateKind::SigningCard);
    assert!(!certificate.id.unwrap().serial.is_empty());
    let revocation = result.revocation.unwrap();
    assert_eq!(revocation.status, "good");
    assert!(!revocation.list.is_empty());
    let fields = response.four_fields.unwrap();
    assert!(!fields.name.unwrap().value.is_empty());
    assert!(!fields.address.unwrap().value.is_empty());
    assert_eq!(fields.date_of_birth.unwrap().value.len(), 9);
    assert!(!fields.sex.unwrap().value.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_content_is_a_hash_failure_result() {
    let running = start().await;
    let mut client = VerificationServiceClient::new(channel(running.address).await);
    let mut altered = FORM.to_vec();
    altered.push(b'!');
    let response = client.verify_signature(cms_request(&running, FORM, &altered)).await.unwrap().into_inner();
    let result = response.result.unwrap();
    assert_eq!(result.indication(), Indication::TotalFailed);
    assert_eq!(result.sub_indication(), SubIndication::HashFailure);
    assert_eq!(result.reason.unwrap().code, "MESSAGE_DIGEST_MISMATCH");
    assert!(!result.retry_may_help);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_invalid_argument_with_field_violations() {
    let running = start().await;
    let mut client = VerificationServiceClient::new(channel(running.address).await);
    let status = client.verify_signature(VerifySignatureRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let violations = status.get_details_bad_request().unwrap().field_violations;
    assert_eq!(violations[0].field, "signature");

    let empty_cms =
        VerifySignatureRequest { signature: Some(Signature::Cms(CmsSignature::default())), applicant: None };
    let status = client.verify_signature(empty_cms).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.get_details_bad_request().unwrap().field_violations[0].field, "cms.cms");

    let big_certificate = VerifySignatureRequest {
        signature: Some(Signature::Cms(CmsSignature {
            cms: vec![0x30, 0x80],
            detached_content: Vec::new(),
            certificate: vec![0; 16 * 1024 + 1],
        })),
        applicant: None,
    };
    let status = client.verify_signature(big_certificate).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.get_details_bad_request().unwrap().field_violations[0].field, "cms.certificate");

    // Garbage that is well-shaped is a verification result, not an error.
    let garbage = VerifySignatureRequest {
        signature: Some(Signature::Cms(CmsSignature { cms: vec![1, 2, 3], ..Default::default() })),
        applicant: None,
    };
    let result = client.verify_signature(garbage).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.indication(), Indication::TotalFailed);
    assert_eq!(result.sub_indication(), SubIndication::FormatFailure);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_rpcs_are_unimplemented() {
    let running = start().await;
    let mut client = VerificationServiceClient::new(channel(running.address).await);
    let status = client.issue_challenge(IssueChallengeRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert_eq!(status.message(), "not implemented yet (issue 4)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let running = start().await;
    let mut client = HealthClient::new(channel(running.address).await);
    for service in ["", "jpki.gateway.v1.VerificationService"] {
        let response = client.check(HealthCheckRequest { service: service.to_owned() }).await.unwrap().into_inner();
        assert_eq!(response.status(), ServingStatus::Serving, "{service:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_lists_the_services() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let running = start().await;
    let mut client = ServerReflectionClient::new(channel(running.address).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|service| service.name).collect();
    for name in jpki_api::SERVICE_NAMES {
        assert!(names.iter().any(|listed| listed == name), "{name} not in {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_signature_passes_and_a_wrong_signature_fails() {
    use jpki_api::v1::{RawSignature, raw_signature::Signed};
    let running = start().await;
    let mut client = VerificationServiceClient::new(channel(running.address).await);
    let card = running.pki.card("h02").unwrap();
    let signature = card.sign_document(FORM).unwrap();
    let raw = |signature: Vec<u8>| VerifySignatureRequest {
        signature: Some(Signature::Raw(RawSignature {
            signature,
            certificate: card.signing_cert_der().to_vec(),
            signed: Some(Signed::Content(FORM.to_vec())),
            hash: jpki_api::v1::HashAlgorithm::Sha256 as i32,
        })),
        applicant: None,
    };
    let result = client.verify_signature(raw(signature.clone())).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
    let mut wrong = signature;
    wrong[10] ^= 1;
    let result = client.verify_signature(raw(wrong)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.indication(), Indication::TotalFailed);
    assert_eq!(result.sub_indication(), SubIndication::SigCryptoFailure);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1alpha_is_served_too() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let running = start().await;
    let mut client = ServerReflectionClient::new(channel(running.address).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    assert!(list.service.iter().any(|service| service.name == "jpki.gateway.v1.VerificationService"));
}
