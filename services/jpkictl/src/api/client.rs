//! Connecting to the gateway (plaintext or TLS, API key as metadata) and reporting its errors.

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use jpki_api::v1::link_service_client::LinkServiceClient;
use jpki_api::v1::status_service_client::StatusServiceClient;
use jpki_api::v1::verification_service_client::VerificationServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::health_client::HealthClient;
use tonic_types::StatusExt;

/// Where the gateway is and who the caller is; accepted before or after the `api` subcommand.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Gateway and output (before or after the subcommand)")]
pub struct Connection {
    /// Gateway URL: http://HOST:PORT (plaintext) or https://HOST:PORT (TLS).
    #[arg(long, global = true, env = "JPKI_GATEWAY_URL", default_value = "http://127.0.0.1:50051", value_name = "URL")]
    pub gateway: String,
    /// PEM file of the CA certificate(s) to trust for an https:// gateway (default: the system roots).
    #[arg(long, global = true, env = "JPKI_GATEWAY_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Name to expect in the gateway's TLS certificate (default: the URL's host).
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_domain: Option<String>,
    /// The caller's API key (a tenant's; an operator's for `admin`; an auditor's for `audit`), sent as
    /// `authorization: Bearer KEY`.
    #[arg(long, global = true, env = "JPKI_API_KEY", value_name = "KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print the response as JSON (the proto3 JSON mapping with proto field names) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Adds the API key to every call.
#[derive(Clone, Debug)]
pub struct Auth(Option<MetadataValue<Ascii>>);

impl Interceptor for Auth {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel with the caller's API key on every call.
pub type Authed = InterceptedService<Channel, Auth>;

/// A connected gateway.
pub struct Gateway {
    channel: Channel,
    auth: Auth,
}

impl Connection {
    /// Connects now, so that an unreachable gateway or a TLS problem is reported before any RPC.
    pub async fn connect(&self) -> anyhow::Result<Gateway> {
        let auth = match &self.api_key {
            Some(key) => Some(
                format!("Bearer {key}")
                    .parse::<MetadataValue<Ascii>>()
                    .context("--api-key: not a valid header value (printable ASCII only)")?,
            ),
            None => None,
        };
        let mut endpoint = Endpoint::from_shared(self.gateway.clone())
            .with_context(|| format!("--gateway {}: not a URL", self.gateway))?
            .connect_timeout(Duration::from_secs(10));
        if self.gateway.starts_with("https://") {
            let mut tls = ClientTlsConfig::new();
            tls = match &self.ca_cert {
                Some(path) => tls.ca_certificate(Certificate::from_pem(crate::trust::read(path)?)),
                None => tls.with_native_roots(),
            };
            if let Some(domain) = &self.tls_domain {
                tls = tls.domain_name(domain.clone());
            }
            endpoint = endpoint.tls_config(tls).context("TLS configuration")?;
        } else if self.ca_cert.is_some() || self.tls_domain.is_some() {
            bail!("--ca-cert and --tls-domain need an https:// gateway URL (got {})", self.gateway);
        } else if !self.gateway.starts_with("http://") {
            bail!("--gateway {}: expected http://HOST:PORT or https://HOST:PORT", self.gateway);
        }
        let channel =
            endpoint.connect().await.with_context(|| format!("cannot connect to the gateway at {}", self.gateway))?;
        Ok(Gateway { channel, auth: Auth(auth) })
    }
}

impl Gateway {
    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    /// VerificationService.
    pub fn verification(&self) -> VerificationServiceClient<Authed> {
        VerificationServiceClient::new(self.authed())
    }

    /// LinkService.
    pub fn links(&self) -> LinkServiceClient<Authed> {
        LinkServiceClient::new(self.authed())
    }

    /// StatusService.
    pub fn status(&self) -> StatusServiceClient<Authed> {
        StatusServiceClient::new(self.authed())
    }

    /// CredentialService: the caller's own keys.
    pub fn credentials(&self) -> jpki_api::v1::credential_service_client::CredentialServiceClient<Authed> {
        jpki_api::v1::credential_service_client::CredentialServiceClient::new(self.authed())
    }

    /// AdminService (on the admin port).
    pub fn admin(&self) -> jpki_api::admin::v1::admin_service_client::AdminServiceClient<Authed> {
        jpki_api::admin::v1::admin_service_client::AdminServiceClient::new(self.authed())
    }

    /// AuditService (an auditor's key).
    pub fn audit(&self) -> jpki_api::audit::v1::audit_service_client::AuditServiceClient<Authed> {
        jpki_api::audit::v1::audit_service_client::AuditServiceClient::new(self.authed())
    }

    /// grpc.health.v1.Health.
    pub fn health(&self) -> HealthClient<Authed> {
        HealthClient::new(self.authed())
    }
}

/// A gRPC error from the gateway, printed with its code, message, every BadRequest and
/// PreconditionFailure violation, and the request id to quote to the operator.
#[derive(Debug)]
pub struct RpcError(pub tonic::Status);

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = &self.0;
        let mut text = format!("the gateway answered {}: {}", code_name(status.code()), status.message());
        let details = status.get_error_details();
        for violation in details.bad_request().map(|bad| bad.field_violations.as_slice()).unwrap_or_default() {
            let _ = write!(text, "\n  field {}: {}", violation.field, violation.description);
            if !violation.reason.is_empty() {
                let _ = write!(text, " ({})", violation.reason);
            }
        }
        for violation in details.precondition_failure().map(|failure| failure.violations.as_slice()).unwrap_or_default()
        {
            let _ =
                write!(text, "\n  precondition {} {}: {}", violation.r#type, violation.subject, violation.description);
        }
        if let Some(id) = status.metadata().get("x-request-id").and_then(|value| value.to_str().ok()) {
            let _ = write!(text, "\n  request id {id}");
        }
        f.write_str(&text)
    }
}

impl std::error::Error for RpcError {}

/// The canonical name of a gRPC code, as in the gRPC documentation and `grpcurl`.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Unwraps an RPC's response, turning a status into an [`RpcError`].
pub trait Rpc<T> {
    /// The response message, or the error.
    fn rpc(self) -> anyhow::Result<T>;
}

impl<T> Rpc<T> for Result<tonic::Response<T>, tonic::Status> {
    fn rpc(self) -> anyhow::Result<T> {
        self.map(tonic::Response::into_inner).map_err(|status| anyhow::Error::new(RpcError(status)))
    }
}
