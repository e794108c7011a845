//! The encoded descriptor set: contents, and the reflection services built from it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use jpki_api::{FILE_DESCRIPTOR_SET, SERVICE_NAMES};
use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};

const API_FILE: &str = "jpki/gateway/v1/gateway.proto";

fn decode() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes")
}

fn api_file(fds: &FileDescriptorSet) -> &FileDescriptorProto {
    fds.file.iter().find(|f| f.name() == API_FILE).expect("gateway.proto is in the set")
}

/// service name -> [(method, input, output, server streaming)]
fn services(file: &FileDescriptorProto) -> BTreeMap<String, Vec<(String, String, String, bool)>> {
    file.service
        .iter()
        .map(|s| {
            let methods = s
                .method
                .iter()
                .map(|m| {
                    (m.name().to_owned(), m.input_type().to_owned(), m.output_type().to_owned(), m.server_streaming())
                })
                .collect();
            (s.name().to_owned(), methods)
        })
        .collect()
}

#[test]
fn contains_the_three_services_with_their_methods() {
    let fds = decode();
    let file = api_file(&fds);
    assert_eq!(file.package(), "jpki.gateway.v1");
    assert_eq!(file.syntax(), "proto3");
    let services = services(file);
    let m = |name: &str, input: &str, output: &str, streaming: bool| {
        (name.to_owned(), format!(".jpki.gateway.v1.{input}"), format!(".jpki.gateway.v1.{output}"), streaming)
    };
    let expected = BTreeMap::from([
        (
            "VerificationService".to_owned(),
            vec![
                m("VerifySignature", "VerifySignatureRequest", "VerifySignatureResponse", false),
                m("IssueChallenge", "IssueChallengeRequest", "IssueChallengeResponse", false),
                m("VerifyAuthProof", "VerifyAuthProofRequest", "VerifyAuthProofResponse", false),
            ],
        ),
        (
            "LinkService".to_owned(),
            vec![
                m("Link", "LinkRequest", "LinkResponse", false),
                m("Unlink", "UnlinkRequest", "UnlinkResponse", false),
                m("LookupLink", "LookupLinkRequest", "LookupLinkResponse", false),
            ],
        ),
        (
            "StatusService".to_owned(),
            vec![
                m("CheckStatus", "CheckStatusRequest", "CheckStatusResponse", false),
                m("WatchRevocations", "WatchRevocationsRequest", "RevocationEvent", true),
            ],
        ),
    ]);
    assert_eq!(services, expected);
    // No method streams its request.
    assert!(file.service.iter().flat_map(|s| &s.method).all(|m| !m.client_streaming()));
}

#[test]
fn service_names_match_the_descriptor_and_the_generated_servers() {
    use jpki_api::v1::{
        credential_service_server, link_service_server, status_service_server, verification_service_server,
    };
    let fds = decode();
    let file = api_file(&fds);
    let from_descriptor: Vec<String> =
        file.service.iter().map(|s| format!("{}.{}", file.package(), s.name())).collect();
    // gateway.proto holds the first three; credentials.proto the fourth; audit.proto the fifth.
    assert_eq!(from_descriptor, SERVICE_NAMES[..3]);
    assert_eq!(
        [
            verification_service_server::SERVICE_NAME,
            link_service_server::SERVICE_NAME,
            status_service_server::SERVICE_NAME,
            credential_service_server::SERVICE_NAME,
            jpki_api::audit::v1::audit_service_server::SERVICE_NAME,
        ],
        SERVICE_NAMES
    );
}

#[test]
fn includes_the_timestamp_import_and_the_comments() {
    let fds = decode();
    let names: Vec<&str> = fds.file.iter().map(|f| f.name()).collect();
    // Dependencies come first, so a reflection client can resolve every type.
    assert_eq!(
        names,
        [
            "google/protobuf/timestamp.proto",
            API_FILE,
            "jpki/gateway/v1/credentials.proto",
            "jpki/admin/v1/admin.proto",
            "jpki/audit/v1/audit.proto"
        ]
    );
    let file = api_file(&fds);
    assert_eq!(file.dependency, ["google/protobuf/timestamp.proto"]);
    let info = file.source_code_info.as_ref().expect("source info kept");
    assert!(
        info.location.iter().any(|l| l.leading_comments().contains("Verifies a document signature")),
        "proto comments are in the descriptor set"
    );
}

#[test]
fn every_message_and_enum_of_the_api_is_there() {
    let fds = decode();
    let file = api_file(&fds);
    let messages: Vec<&str> = file.message_type.iter().map(|m| m.name()).collect();
    for name in ["VerifySignatureRequest", "CmsSignature", "RawSignature", "VerificationResult", "RevocationEvent"] {
        assert!(messages.contains(&name), "{name} missing from {messages:?}");
    }
    let enums: Vec<&str> = file.enum_type.iter().map(|e| e.name()).collect();
    assert_eq!(
        enums,
        [
            "Indication",
            "SubIndication",
            "BusinessPurpose",
            "CertificateKind",
            "HashAlgorithm",
            "RevocationStatus",
            "RevocationReason",
            "FieldVerdict",
            "Era",
            "Sex",
            "BusinessMeaning",
            "RevocationChange"
        ]
    );
}

#[test]
fn reflection_v1_service_builds() {
    let service = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1();
    assert!(service.is_ok(), "v1 reflection: {:?}", service.err());
}

#[test]
fn reflection_v1alpha_service_builds() {
    let service = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1alpha();
    assert!(service.is_ok(), "v1alpha reflection: {:?}", service.err());
}

#[test]
fn reflection_builds_when_listing_only_the_api_services() {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .include_reflection_service(false);
    for name in SERVICE_NAMES {
        builder = builder.with_service_name(name);
    }
    assert!(builder.build_v1().is_ok());
}
