//! Oversized and malformed requests over a real socket: every size limit is an INVALID_ARGUMENT
//! naming its field; a whole message over the server's limit is refused without harming it;
//! garbage where a certificate belongs is a result; request ids; health and reflection without
//! an API key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::{
    CmsSignature, Indication, IssueChallengeRequest, LinkRequest, LookupLinkRequest, RawSignature, SubIndication,
    UnlinkRequest, VerifyAuthProofRequest, VerifySignatureRequest, lookup_link_request::Key, raw_signature::Signed,
    verify_signature_request::Signature,
};
use jpki_gateway::MAX_MESSAGE_BYTES;
use jpki_gateway::decode::{MAX_CERTIFICATE_BYTES, MAX_CONTENT_BYTES, MAX_DIGEST_BYTES, MAX_SIGNATURE_BYTES};
use tonic::Code;
use tonic_types::StatusExt;

const CHALLENGE_ID: &str = "0123456789abcdef0123456789abcdef";

fn violation(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad_request = status.get_details_bad_request().expect("google.rpc.BadRequest details");
    assert_eq!(bad_request.field_violations.len(), 1, "{status:?}");
    bad_request.field_violations[0].field.clone()
}

fn raw(signature: usize, certificate: usize, signed: Signed, hash: i32) -> VerifySignatureRequest {
    VerifySignatureRequest {
        signature: Some(Signature::Raw(RawSignature {
            signature: vec![1; signature],
            certificate: vec![0x30; certificate],
            signed: Some(signed),
            hash,
        })),
        applicant: None,
        business_purpose: BusinessPurpose::AccountOpening as i32,
    }
}

fn cms(cms: usize, detached: usize, certificate: usize) -> VerifySignatureRequest {
    VerifySignatureRequest {
        signature: Some(Signature::Cms(CmsSignature {
            cms: vec![0x30; cms],
            detached_content: vec![b'x'; detached],
            certificate: vec![0x30; certificate],
        })),
        applicant: None,
        business_purpose: BusinessPurpose::AccountOpening as i32,
    }
}

fn content(len: usize) -> Signed {
    Signed::Content(vec![b'x'; len])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_over_its_limit_is_a_field_violation() {
    let running = start().await;
    let mut client = running.verification().await;
    let sha256 = jpki_api::v1::HashAlgorithm::Sha256 as i32;
    let over_content = MAX_CONTENT_BYTES + 1;

    let signature_cases: Vec<(&str, VerifySignatureRequest)> = vec![
        ("signature", VerifySignatureRequest::default()),
        ("raw.signature", raw(MAX_SIGNATURE_BYTES + 1, 100, content(10), sha256)),
        ("raw.signature", raw(0, 100, content(10), sha256)),
        ("raw.certificate", raw(256, MAX_CERTIFICATE_BYTES + 1, content(10), sha256)),
        ("raw.certificate", raw(256, 0, content(10), sha256)),
        ("raw.content", raw(256, 100, content(over_content), sha256)),
        ("raw.digest", raw(256, 100, Signed::Digest(vec![0; MAX_DIGEST_BYTES + 1]), sha256)),
        ("raw.digest", raw(256, 100, Signed::Digest(Vec::new()), sha256)),
        ("raw.hash", raw(256, 100, content(10), 99)),
        ("cms.cms", cms(over_content, 0, 0)),
        ("cms.cms", cms(0, 10, 0)),
        ("cms.detached_content", cms(100, over_content, 0)),
        ("cms.certificate", cms(100, 0, MAX_CERTIFICATE_BYTES + 1)),
    ];
    for (field, request) in signature_cases {
        let status = client.verify_signature(authed(request, KEY_A)).await.unwrap_err();
        assert_eq!(violation(&status), field, "{status:?}");
    }
    let mut no_signed = raw(256, 100, content(1), sha256);
    if let Some(Signature::Raw(raw)) = &mut no_signed.signature {
        raw.signed = None;
    }
    assert_eq!(violation(&client.verify_signature(authed(no_signed, KEY_A)).await.unwrap_err()), "raw.signed");

    // The typed applicant data: bounded text without control characters.
    let mut typed = cms_request(&running.pki, "h01", FORM, FORM);
    typed.applicant = Some(jpki_api::v1::ApplicantData { name: "山田\u{0}太郎".into(), ..Default::default() });
    assert_eq!(violation(&client.verify_signature(authed(typed.clone(), KEY_A)).await.unwrap_err()), "applicant.name");
    typed.applicant = Some(jpki_api::v1::ApplicantData { address: "町".repeat(401), ..Default::default() });
    assert_eq!(violation(&client.verify_signature(authed(typed, KEY_A)).await.unwrap_err()), "applicant.address");

    // VerifyAuthProof: sizes are checked before the challenge is looked up.
    let proof = |certificate: usize, signature: usize| VerifyAuthProofRequest {
        challenge_id: CHALLENGE_ID.into(),
        certificate: vec![0x30; certificate],
        signature: vec![1; signature],
        business_purpose: BusinessPurpose::Login as i32,
    };
    let proof_cases = [
        ("certificate", proof(MAX_CERTIFICATE_BYTES + 1, 256)),
        ("certificate", proof(0, 256)),
        ("signature", proof(100, MAX_SIGNATURE_BYTES + 1)),
        ("signature", proof(100, 0)),
        ("challenge_id", VerifyAuthProofRequest { challenge_id: String::new(), ..proof(100, 256) }),
        ("challenge_id", VerifyAuthProofRequest { challenge_id: "g".repeat(32), ..proof(100, 256) }),
    ];
    for (field, request) in proof_cases {
        let status = client.verify_auth_proof(authed(request, KEY_A)).await.unwrap_err();
        assert_eq!(violation(&status), field, "{status:?}");
    }

    // Text fields: length in characters, and no control characters.
    for reference in ["r".repeat(129), "あ".repeat(129), "tx\n1".into(), "tx\u{7f}".into()] {
        let status = client
            .issue_challenge(authed(IssueChallengeRequest { transaction_reference: reference }, KEY_A))
            .await
            .unwrap_err();
        assert_eq!(violation(&status), "transaction_reference");
    }
    // 128 characters (multi-byte) are accepted.
    client
        .issue_challenge(authed(IssueChallengeRequest { transaction_reference: "あ".repeat(128) }, KEY_A))
        .await
        .unwrap();

    let mut links = running.links().await;
    for customer_id in ["c".repeat(129), "CUST\t1".into(), String::new()] {
        let link = LinkRequest {
            customer_id: customer_id.clone(),
            auth_verification_id: CHALLENGE_ID.into(),
            signature_verification_id: String::new(),
        };
        assert_eq!(violation(&links.link(authed(link, KEY_A)).await.unwrap_err()), "customer_id");
        let unlink = UnlinkRequest { customer_id: customer_id.clone(), certificate: None };
        assert_eq!(violation(&links.unlink(authed(unlink, KEY_A)).await.unwrap_err()), "customer_id");
        let lookup = LookupLinkRequest { key: Some(Key::CustomerId(customer_id)) };
        assert_eq!(violation(&links.lookup_link(authed(lookup, KEY_A)).await.unwrap_err()), "customer_id");
    }

    // Still serving normally afterwards.
    let result = client.verify_signature(authed(cms_request(&running.pki, "h01", FORM, FORM), KEY_A)).await.unwrap();
    assert_eq!(result.into_inner().result.unwrap().indication(), Indication::TotalPassed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_server_limit_is_refused_and_the_server_survives() {
    let running = start().await;
    let mut client = running.verification().await;
    // Two fields at their limit fit in one message...
    let at_limit = cms(MAX_CONTENT_BYTES, MAX_CONTENT_BYTES, 0);
    let result = client.verify_signature(authed(at_limit, KEY_A)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.sub_indication(), SubIndication::FormatFailure, "{result:?}");
    // ... a message over MAX_MESSAGE_BYTES is refused by tonic while decoding, before any handler:
    // OUT_OF_RANGE is the code tonic gives for "decoded message length too large".
    let mut huge = cms(MAX_CONTENT_BYTES, MAX_CONTENT_BYTES, 0);
    huge.applicant = Some(jpki_api::v1::ApplicantData {
        name: "x".repeat(MAX_MESSAGE_BYTES - 2 * MAX_CONTENT_BYTES),
        ..Default::default()
    });
    let status = client.verify_signature(authed(huge, KEY_A)).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("too large"), "{status:?}");
    // The same connection, and new ones, still work.
    let result = client.verify_signature(authed(cms_request(&running.pki, "h01", FORM, FORM), KEY_A)).await.unwrap();
    assert_eq!(result.into_inner().result.unwrap().indication(), Indication::TotalPassed);
    let mut fresh = running.verification().await;
    fresh.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_where_a_certificate_belongs_is_a_result() {
    let running = start().await;
    let mut client = running.verification().await;
    let garbage = b"\x30\x82\xff\xffnot a certificate at all".to_vec();
    let request = VerifySignatureRequest {
        signature: Some(Signature::Raw(RawSignature {
            signature: vec![7; 256],
            certificate: garbage.clone(),
            signed: Some(Signed::Content(FORM.to_vec())),
            hash: 0,
        })),
        applicant: None,
        business_purpose: BusinessPurpose::AccountOpening as i32,
    };
    let result = client.verify_signature(authed(request, KEY_A)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.indication(), Indication::TotalFailed);
    assert_eq!(result.sub_indication(), SubIndication::FormatFailure);
    assert_eq!(result.reason.as_ref().unwrap().code, "MALFORMED");
    assert!(result.certificate.is_none());

    let cms_garbage = VerifySignatureRequest {
        signature: Some(Signature::Cms(CmsSignature {
            cms: cms_request(&running.pki, "h01", FORM, FORM).signature.map_or(
                Vec::new(),
                |signature| match signature {
                    Signature::Cms(cms) => cms.cms,
                    Signature::Raw(_) => Vec::new(),
                },
            ),
            detached_content: FORM.to_vec(),
            certificate: garbage.clone(),
        })),
        applicant: None,
        business_purpose: BusinessPurpose::AccountOpening as i32,
    };
    let result = client.verify_signature(authed(cms_garbage, KEY_A)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.sub_indication(), SubIndication::FormatFailure, "{result:?}");

    let issued = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let proof = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate: garbage,
        signature: vec![7; 256],
        business_purpose: BusinessPurpose::Login as i32,
    };
    let result = client.verify_auth_proof(authed(proof, KEY_A)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.sub_indication(), SubIndication::FormatFailure);
    assert_eq!(result.reason.as_ref().unwrap().code, "MALFORMED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_a_request_id_made_or_echoed() {
    let running = start().await;
    let mut client = running.verification().await;

    // Made by the server when the caller sends none: on answers and on errors alike.
    let response = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap();
    let made =
        response.metadata().get("x-request-id").expect("x-request-id on a response").to_str().unwrap().to_owned();
    assert!(!made.is_empty());
    let again = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap();
    assert_ne!(again.metadata().get("x-request-id").unwrap().to_str().unwrap(), made, "a new id per call");
    let error = client.issue_challenge(IssueChallengeRequest::default()).await.unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);
    assert!(error.metadata().get("x-request-id").is_some(), "x-request-id on an error: {error:?}");

    // Echoed when the caller sends one.
    let mut request = authed(IssueChallengeRequest::default(), KEY_A);
    request.metadata_mut().insert("x-request-id", "bank-a-req-000123".parse().unwrap());
    let response = client.issue_challenge(request).await.unwrap();
    assert_eq!(response.metadata().get("x-request-id").unwrap(), "bank-a-req-000123");
    let mut request = authed(VerifySignatureRequest::default(), KEY_A);
    request.metadata_mut().insert("x-request-id", "bank-a-req-000124".parse().unwrap());
    let error = client.verify_signature(request).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(error.metadata().get("x-request-id").unwrap(), "bank-a-req-000124");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_answer_without_an_api_key() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let running = start().await;
    wait_serving(running.address).await;
    // Per service too.
    let mut health = tonic_health::pb::health_client::HealthClient::new(running.channel().await);
    for service in jpki_api::SERVICE_NAMES {
        let response = health
            .check(tonic_health::pb::HealthCheckRequest { service: service.to_owned() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.status(), tonic_health::pb::health_check_response::ServingStatus::Serving, "{service}");
    }

    let mut reflection = ServerReflectionClient::new(running.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let response = stream.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer {response:?}");
    };
    let names: Vec<&str> = list.service.iter().map(|service| service.name.as_str()).collect();
    for expected in ["jpki.gateway.v1.VerificationService", "jpki.gateway.v1.LinkService", "grpc.health.v1.Health"] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
}

/// A document above the inline limit is verified on a blocking thread (on the journal, smaller
/// ones run on the calling task): the answer is the same, and its record is durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_document_is_verified_like_a_small_one() {
    let running = start().await;
    let mut client = running.verification().await;
    let large = vec![b'x'; 2 * jpki_gateway::state::INLINE_MAX_BYTES];
    for document in [FORM, large.as_slice()] {
        let answer = client.verify_signature(authed(cms_request(&running.pki, "h01", document, document), KEY_A)).await;
        let result = answer.unwrap().into_inner().result.unwrap();
        assert_eq!(result.indication(), Indication::TotalPassed, "{} bytes: {result:?}", document.len());
    }
}
