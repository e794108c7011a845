//! The jpki-gateway gRPC server (first slice of issue 4).
//!
//! - [`config`]: [`ServerConfig`] (listen address, anchors and policy OIDs per kind, CRL files) and
//!   loading it into a [`jpki_core::Verifier`] over a [`jpki_revocation::RevocationStore`].
//! - [`service`]: `jpki.gateway.v1.VerificationService.VerifySignature` (raw and CMS), a thin layer
//!   over [`jpki_core::Verifier::verify_signature`]. Every other RPC answers UNIMPLEMENTED.
//! - [`serve`]: the tonic server with `grpc.health.v1` and server reflection (v1 and v1alpha).
//!
//! Plaintext only: TLS, authentication of tenants and a configuration file are not implemented yet.

pub mod config;
pub mod service;

use std::future::Future;

use jpki_api::v1::link_service_server::LinkServiceServer;
use jpki_api::v1::status_service_server::StatusServiceServer;
use jpki_api::v1::verification_service_server::VerificationServiceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;

pub use config::{AnchorFile, Loaded, ServerConfig};
pub use service::{LinkApi, StatusApi, VerificationApi};

/// Largest accepted gRPC message: two 10 MiB fields plus room for the rest.
pub const MAX_MESSAGE_BYTES: usize = 2 * service::MAX_CONTENT_BYTES + 64 * 1024;

/// Serves the API on `listener` until `shutdown` completes. Health reports SERVING for `""` and
/// each v1 service once the server is set up (the verifier is already loaded by then).
pub async fn serve(
    loaded: &Loaded,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", ServingStatus::Serving).await;
    for name in jpki_api::SERVICE_NAMES {
        reporter.set_service_status(name, ServingStatus::Serving).await;
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(jpki_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(jpki_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let verification = VerificationServiceServer::new(VerificationApi::new(loaded.verifier.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(verification)
        .add_service(LinkServiceServer::new(LinkApi))
        .add_service(StatusServiceServer::new(StatusApi))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
