//! Generated gRPC code for the `jpki.gateway.v1` tenant API (`proto/jpki/gateway/v1/gateway.proto`,
//! and `credentials.proto` for every principal's own keys) and the `jpki.admin.v1` administration
//! service (`proto/jpki/admin/v1/admin.proto`, [`admin::v1`]).
//!
//! The build script compiles the proto without a system `protoc` (`protox`, pure Rust) and generates
//! the code with `tonic-prost-build`:
//!
//! - [`v1`]: the messages and enums (prost), a server module per service
//!   ([`v1::verification_service_server`], [`v1::link_service_server`], [`v1::status_service_server`],
//!   [`v1::credential_service_server`])
//!   and a client module per service ([`v1::verification_service_client`], …).
//!   `google.protobuf.Timestamp` is [`prost_types::Timestamp`].
//! - [`FILE_DESCRIPTOR_SET`]: the encoded `FileDescriptorSet` (with `google/protobuf/timestamp.proto`
//!   and the proto comments), for gRPC server reflection.
//!
//! ```
//! use jpki_api::v1::{BusinessPurpose, CmsSignature, VerifySignatureRequest, verify_signature_request::Signature};
//! use prost::Message;
//!
//! let request = VerifySignatureRequest {
//!     signature: Some(Signature::Cms(CmsSignature { cms: vec![0x30, 0x80], ..Default::default() })),
//!     applicant: None,
//!     business_purpose: BusinessPurpose::AccountOpening.into(),
//! };
//! let decoded = VerifySignatureRequest::decode(request.encode_to_vec().as_slice()).unwrap();
//! assert_eq!(decoded, request);
//! ```

/// `jpki.gateway.v1`, by its proto package path (the generated admin code names it so).
pub mod gateway {
    /// `jpki.gateway.v1`: messages, enums, servers and clients generated from `gateway.proto` and
    /// `credentials.proto`.
    ///
    /// The item docs are the proto comments. The lints are relaxed for the generated code only: a
    /// proto item without a comment has no doc, and clippy's style is not the generator's.
    #[allow(missing_docs, clippy::all)]
    pub mod v1 {
        tonic::include_proto!("jpki.gateway.v1");
    }
}

pub use gateway::v1;

/// `jpki.admin.v1`: the operators' administration service, generated from `admin.proto`.
#[allow(missing_docs, clippy::all)]
pub mod admin {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("jpki.admin.v1");
    }
}

/// `jpki.audit.v1`: the auditors' read access to a tenant's transparency log, generated from
/// `audit.proto`.
#[allow(missing_docs, clippy::all)]
pub mod audit {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("jpki.audit.v1");
    }
}

/// The encoded `google.protobuf.FileDescriptorSet` of the three protos and their imports, with source
/// info, as `tonic_reflection::server::Builder::register_encoded_file_descriptor_set` takes it.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("jpki_gateway_v1_descriptor");

/// The fully-qualified names of the services on the shared port, as clients call them and
/// reflection lists them.
pub const SERVICE_NAMES: [&str; 5] = [
    "jpki.gateway.v1.VerificationService",
    "jpki.gateway.v1.LinkService",
    "jpki.gateway.v1.StatusService",
    "jpki.gateway.v1.CredentialService",
    "jpki.audit.v1.AuditService",
];

/// The fully-qualified name of the administration service (on the admin port only).
pub const ADMIN_SERVICE_NAME: &str = "jpki.admin.v1.AdminService";
