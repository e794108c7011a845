//! `jpki.gateway.v1.LinkService`: a tenant's customer ids linked to authentication certificates
//! (※3). A link is made only on the strength of a fresh, passed authentication verification of
//! the same tenant, never from a bare serial.

use jpki_api::v1;
use jpki_store::{CertKey, LinkOutcome, LinkRecord, VerificationKind, VerificationRecord};
use tonic::{Request, Response, Status};

use crate::config::now;
use crate::convert::timestamp;
use crate::errors::{bad_request, check_hex, check_text, precondition_failed};
use crate::state::AppState;
use crate::tenant::tenant_of;

/// Longest customer id, in characters.
pub const MAX_CUSTOMER_ID: usize = 128;
/// Longest CA key id, in hex digits (SHA-512-sized key identifiers at most).
pub const MAX_KEY_ID_DIGITS: usize = 128;
/// Longest serial, in hex digits (RFC 5280: at most 20 octets; some CAs exceed it slightly).
pub const MAX_SERIAL_DIGITS: usize = 64;

/// `jpki.gateway.v1.LinkService`.
#[derive(Clone)]
pub struct LinkApi {
    state: AppState,
}

impl LinkApi {
    /// The service over shared state.
    pub fn new(state: AppState) -> Self {
        LinkApi { state }
    }
}

/// A certificate id from the API, checked and normalised (lowercase, no leading zero bytes).
pub fn cert_key(field: &str, id: Option<&v1::CertificateId>) -> Result<CertKey, Status> {
    let Some(id) = id else { return Err(bad_request(field, "required")) };
    let ca_key_id = id.ca_key_id.to_ascii_lowercase();
    let mut serial = id.serial.to_ascii_lowercase();
    check_hex(&format!("{field}.ca_key_id"), &ca_key_id, MAX_KEY_ID_DIGITS)?;
    check_hex(&format!("{field}.serial"), &serial, MAX_SERIAL_DIGITS)?;
    if ca_key_id.len() % 2 == 1 {
        return Err(bad_request(&format!("{field}.ca_key_id"), "an even number of hex digits"));
    }
    if serial.len() % 2 == 1 {
        serial.insert(0, '0');
    }
    while serial.len() > 2 && serial.starts_with("00") {
        serial.drain(..2);
    }
    Ok(CertKey { ca_key_id, serial })
}

/// The API's certificate id.
pub fn certificate_id(key: &CertKey) -> v1::CertificateId {
    v1::CertificateId { ca_key_id: key.ca_key_id.clone(), serial: key.serial.clone() }
}

fn link_message(link: &LinkRecord) -> v1::Link {
    v1::Link {
        customer_id: link.customer_id.clone(),
        certificate: Some(certificate_id(&link.certificate)),
        not_after: Some(timestamp(jpki_core::UnixTime(link.not_after))),
        linked_at: Some(timestamp(jpki_core::UnixTime(link.linked_at))),
    }
}

/// The certificate and notAfter of a cited verification that can back a link, or why it cannot
/// (a PreconditionFailure violation type and its description). `field` names the request field.
fn usable(
    record: Option<VerificationRecord>,
    expected: VerificationKind,
    max_age: u64,
    now: i64,
    field: &str,
) -> Result<(CertKey, i64), Status> {
    let refuse = |violation: &str, description: &str| precondition_failed(violation, field, description);
    let Some(record) = record else {
        return Err(refuse("VERIFICATION_UNKNOWN", "no verification with this id for this tenant"));
    };
    if record.kind != expected {
        let wanted = match expected {
            VerificationKind::Authentication => "an authentication (VerifyAuthProof)",
            VerificationKind::Signature => "a signature (VerifySignature)",
        };
        return Err(refuse("VERIFICATION_WRONG_KIND", &format!("not {wanted} verification")));
    }
    let (true, Some(certificate), Some(not_after)) = (record.passed, record.certificate, record.not_after) else {
        return Err(refuse("VERIFICATION_NOT_PASSED", "the verification did not pass"));
    };
    let age = now.saturating_sub(record.verified_at);
    if age > i64::try_from(max_age).unwrap_or(i64::MAX) {
        return Err(refuse("VERIFICATION_TOO_OLD", &format!("verified {age} s ago, at most {max_age} s accepted")));
    }
    Ok((certificate, not_after))
}

#[tonic::async_trait]
impl v1::link_service_server::LinkService for LinkApi {
    async fn link(&self, request: Request<v1::LinkRequest>) -> Result<Response<v1::LinkResponse>, Status> {
        let tenant = tenant_of(&request)?;
        let request = request.into_inner();
        check_text("customer_id", &request.customer_id, MAX_CUSTOMER_ID, true)?;
        check_text("auth_verification_id", &request.auth_verification_id, 64, true)?;
        check_text("signature_verification_id", &request.signature_verification_id, 64, false)?;
        let settings = self.state.config.links.clone();
        let at = now().0;
        let tenant_id = tenant.id.clone();
        let (auth_id, signature_id) = (request.auth_verification_id.clone(), request.signature_verification_id.clone());
        let (auth, signature) = self
            .state
            .store(move |store| {
                let auth = store.get_verification(&tenant_id, &auth_id)?;
                let signature = if signature_id.is_empty() {
                    None
                } else {
                    Some(store.get_verification(&tenant_id, &signature_id)?)
                };
                Ok((auth, signature))
            })
            .await?;
        let (certificate, not_after) = usable(
            auth,
            VerificationKind::Authentication,
            settings.auth_verification_max_age_seconds,
            at,
            "auth_verification_id",
        )?;
        if let Some(signature) = signature {
            usable(
                signature,
                VerificationKind::Signature,
                settings.signature_verification_max_age_seconds,
                at,
                "signature_verification_id",
            )?;
        }
        let record = LinkRecord { customer_id: request.customer_id.clone(), certificate, not_after, linked_at: at };
        let tenant_id = tenant.id.clone();
        let outcome = self
            .state
            // The certificate is already watched: VerifyAuthProof watched it when it passed.
            .store(move |store| store.link(&tenant_id, record))
            .await?;
        let (link, created) = match outcome {
            LinkOutcome::Created(link) => (link, true),
            LinkOutcome::AlreadyLinked(link) => (link, false),
            LinkOutcome::LinkedToOther { .. } => {
                return Err(Status::already_exists(
                    "this certificate is linked to another customer of this tenant; unlink it first",
                ));
            }
        };
        tracing::info!(tenant = tenant.id.as_str(), created, "link");
        Ok(Response::new(v1::LinkResponse {
            certificate: Some(certificate_id(&link.certificate)),
            not_after: Some(timestamp(jpki_core::UnixTime(link.not_after))),
            created,
        }))
    }

    async fn unlink(&self, request: Request<v1::UnlinkRequest>) -> Result<Response<v1::UnlinkResponse>, Status> {
        let tenant = tenant_of(&request)?;
        let request = request.into_inner();
        check_text("customer_id", &request.customer_id, MAX_CUSTOMER_ID, true)?;
        let certificate = match &request.certificate {
            Some(_) => Some(cert_key("certificate", request.certificate.as_ref())?),
            None => None,
        };
        let tenant_id = tenant.id.clone();
        let removed =
            self.state.store(move |store| store.unlink(&tenant_id, &request.customer_id, certificate.as_ref())).await?;
        tracing::info!(tenant = tenant.id.as_str(), removed, "unlink");
        Ok(Response::new(v1::UnlinkResponse { removed }))
    }

    async fn lookup_link(
        &self,
        request: Request<v1::LookupLinkRequest>,
    ) -> Result<Response<v1::LookupLinkResponse>, Status> {
        let tenant = tenant_of(&request)?;
        let tenant_id = tenant.id.clone();
        let links = match request.into_inner().key {
            None => return Err(bad_request("key", "one of certificate or customer_id is required")),
            Some(v1::lookup_link_request::Key::CustomerId(customer_id)) => {
                check_text("customer_id", &customer_id, MAX_CUSTOMER_ID, true)?;
                self.state.store(move |store| store.links_by_customer(&tenant_id, &customer_id)).await?
            }
            Some(v1::lookup_link_request::Key::Certificate(certificate)) => {
                let key = cert_key("certificate", Some(&certificate))?;
                self.state
                    .store(move |store| Ok(store.link_by_certificate(&tenant_id, &key)?.into_iter().collect()))
                    .await?
            }
        };
        Ok(Response::new(v1::LookupLinkResponse { links: links.iter().map(link_message).collect() }))
    }
}
