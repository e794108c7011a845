//! The generated messages, enums, servers and clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jpki_api::v1::{
    self, CertificateFacts, CertificateId, CertificateKind, CmsSignature, HashAlgorithm, Indication, RawSignature,
    Reason, RevocationEvent, SubIndication, VerificationResult, VerifySignatureRequest, VerifySignatureResponse,
    lookup_link_request, raw_signature, verify_signature_request,
};
use prost::Message;
use prost_types::Timestamp;

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(message: &M) -> M {
    let bytes = message.encode_to_vec();
    let decoded = M::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(&decoded, message);
    decoded
}

#[test]
fn verify_signature_request_with_cms_round_trips() {
    let request = VerifySignatureRequest {
        signature: Some(verify_signature_request::Signature::Cms(CmsSignature {
            cms: vec![0x30, 0x80, 0x06, 0x09],
            detached_content: b"form".to_vec(),
            certificate: vec![],
        })),
        applicant: Some(v1::ApplicantData {
            name: "公的 太郎".to_owned(),
            date_of_birth: "1990-01-02".to_owned(),
            address: "東京都千代田区千代田1丁目1番1号".to_owned(),
            sex: "1".to_owned(),
        }),
        business_purpose: v1::BusinessPurpose::AccountOpening as i32,
    };
    let decoded = round_trip(&request);
    match decoded.signature {
        Some(verify_signature_request::Signature::Cms(cms)) => assert_eq!(cms.detached_content, b"form"),
        other => panic!("expected a CMS signature, got {other:?}"),
    }
}

#[test]
fn raw_signature_oneof_round_trips() {
    let request = VerifySignatureRequest {
        signature: Some(verify_signature_request::Signature::Raw(RawSignature {
            signature: vec![1; 256],
            certificate: vec![0x30, 0x82],
            signed: Some(raw_signature::Signed::Digest(vec![7; 32])),
            hash: HashAlgorithm::Sha256.into(),
        })),
        applicant: None,
        business_purpose: v1::BusinessPurpose::AccountOpening as i32,
    };
    round_trip(&request);
}

#[test]
fn wire_format_uses_the_proto_field_numbers() {
    // CmsSignature.cms is field 1 (bytes): tag 0x0a.
    let cms = CmsSignature { cms: vec![0xAB], ..Default::default() };
    assert_eq!(cms.encode_to_vec(), [0x0a, 0x01, 0xAB]);
    // VerifySignatureRequest.cms is field 2 (message): tag 0x12.
    // An unset business purpose (0) is not on the wire either.
    let request = VerifySignatureRequest {
        signature: Some(verify_signature_request::Signature::Cms(cms)),
        ..VerifySignatureRequest::default()
    };
    assert_eq!(request.encode_to_vec(), [0x12, 0x03, 0x0a, 0x01, 0xAB]);
}

#[test]
fn verification_result_with_timestamps_and_details_round_trips() {
    let at = Timestamp { seconds: 1_780_000_000, nanos: 5 };
    let response = VerifySignatureResponse {
        result: Some(VerificationResult {
            verification_id: "v-1".to_owned(),
            indication: Indication::TotalFailed.into(),
            sub_indication: SubIndication::RevokedNoPoe.into(),
            reason: Some(Reason {
                code: "REVOKED".to_owned(),
                details: [("reason".to_owned(), "key_compromise".to_owned())].into_iter().collect(),
            }),
            retry_may_help: false,
            validation_time: Some(at),
            certificate: Some(CertificateFacts {
                id: Some(CertificateId { ca_key_id: "ab01".to_owned(), serial: "1f".to_owned() }),
                kind: CertificateKind::SigningCard.into(),
                not_after: Some(Timestamp { seconds: 1_900_000_000, nanos: 0 }),
                ..Default::default()
            }),
            revocation: None,
        }),
        four_fields: None,
    };
    let decoded = round_trip(&response);
    let result = decoded.result.expect("result");
    assert_eq!(result.indication(), Indication::TotalFailed);
    assert_eq!(result.sub_indication(), SubIndication::RevokedNoPoe);
    assert_eq!(result.validation_time, Some(at));
}

#[test]
fn enums_keep_their_proto_names_and_numbers() {
    assert_eq!(Indication::TotalPassed as i32, 1);
    assert_eq!(Indication::Indeterminate.as_str_name(), "INDETERMINATE");
    assert_eq!(SubIndication::from_str_name("TRY_LATER"), Some(SubIndication::TryLater));
    assert_eq!(SubIndication::TryLater as i32, 13);
    assert_eq!(v1::BusinessMeaning::try_from(3), Ok(v1::BusinessMeaning::CardLost));
    // An unknown number from a newer peer survives decoding as its i32.
    let result = VerificationResult { indication: 99, ..Default::default() };
    let decoded = round_trip(&result);
    assert_eq!(decoded.indication, 99);
    assert_eq!(decoded.indication(), Indication::Unspecified);
}

#[test]
fn streaming_event_and_lookup_oneof_round_trip() {
    round_trip(&RevocationEvent {
        cursor: "c-42".to_owned(),
        certificate: Some(CertificateId { ca_key_id: "ab01".to_owned(), serial: "1f".to_owned() }),
        revoked_at: Some(Timestamp { seconds: 1_780_000_000, nanos: 0 }),
        reason: v1::RevocationReason::Superseded.into(),
        meaning: v1::BusinessMeaning::Renewed.into(),
        customer_id: "cust-1".to_owned(),
        crl_number: "17".to_owned(),
        kind: v1::CertificateKind::AuthCard.into(),
        change: v1::RevocationChange::Revoked.into(),
    });
    round_trip(&v1::LookupLinkRequest { key: Some(lookup_link_request::Key::CustomerId("cust-1".to_owned())) });
}

/// A server implementing every RPC as UNIMPLEMENTED: the generated traits and servers are usable.
struct Unimplemented;

type Reply<T> = Result<tonic::Response<T>, tonic::Status>;

#[tonic::async_trait]
impl v1::verification_service_server::VerificationService for Unimplemented {
    async fn verify_signature(&self, _: tonic::Request<VerifySignatureRequest>) -> Reply<VerifySignatureResponse> {
        Err(tonic::Status::unimplemented("verify_signature"))
    }
    async fn issue_challenge(&self, _: tonic::Request<v1::IssueChallengeRequest>) -> Reply<v1::IssueChallengeResponse> {
        Err(tonic::Status::unimplemented("issue_challenge"))
    }
    async fn verify_auth_proof(
        &self,
        _: tonic::Request<v1::VerifyAuthProofRequest>,
    ) -> Reply<v1::VerifyAuthProofResponse> {
        Err(tonic::Status::unimplemented("verify_auth_proof"))
    }
}

#[tonic::async_trait]
impl v1::link_service_server::LinkService for Unimplemented {
    async fn link(&self, _: tonic::Request<v1::LinkRequest>) -> Reply<v1::LinkResponse> {
        Err(tonic::Status::unimplemented("link"))
    }
    async fn unlink(&self, _: tonic::Request<v1::UnlinkRequest>) -> Reply<v1::UnlinkResponse> {
        Err(tonic::Status::unimplemented("unlink"))
    }
    async fn lookup_link(&self, _: tonic::Request<v1::LookupLinkRequest>) -> Reply<v1::LookupLinkResponse> {
        Err(tonic::Status::unimplemented("lookup_link"))
    }
}

#[tonic::async_trait]
impl v1::status_service_server::StatusService for Unimplemented {
    async fn check_status(&self, _: tonic::Request<v1::CheckStatusRequest>) -> Reply<v1::CheckStatusResponse> {
        Err(tonic::Status::unimplemented("check_status"))
    }
    type WatchRevocationsStream = tokio_stream::Empty<Result<RevocationEvent, tonic::Status>>;
    async fn watch_revocations(
        &self,
        _: tonic::Request<v1::WatchRevocationsRequest>,
    ) -> Reply<Self::WatchRevocationsStream> {
        Ok(tonic::Response::new(tokio_stream::empty()))
    }
}

#[test]
fn generated_servers_and_clients_are_usable() {
    use tonic::server::NamedService;
    fn name_of<S: NamedService>(_: &S) -> &'static str {
        S::NAME
    }
    let verification = v1::verification_service_server::VerificationServiceServer::new(Unimplemented);
    let link = v1::link_service_server::LinkServiceServer::new(Unimplemented);
    let status = v1::status_service_server::StatusServiceServer::new(Unimplemented).max_decoding_message_size(11 << 20);
    assert_eq!(&[name_of(&verification), name_of(&link), name_of(&status)], &jpki_api::SERVICE_NAMES[..3]);
    assert_eq!(
        <v1::credential_service_server::CredentialServiceServer<()> as NamedService>::NAME,
        jpki_api::SERVICE_NAMES[3]
    );
    assert_eq!(
        <jpki_api::admin::v1::admin_service_server::AdminServiceServer<()> as NamedService>::NAME,
        jpki_api::ADMIN_SERVICE_NAME
    );

    // The clients exist for the transport channel (connecting needs a server; see the crate docs).
    fn client_types<T>() {}
    client_types::<v1::verification_service_client::VerificationServiceClient<tonic::transport::Channel>>();
    client_types::<v1::link_service_client::LinkServiceClient<tonic::transport::Channel>>();
    client_types::<v1::status_service_client::StatusServiceClient<tonic::transport::Channel>>();
}
