//! `jpki.gateway.v1.LinkService`: a tenant's customer ids linked to authentication certificates
//! (※3). Decode, call the use case, encode.

use jpki_api::v1;
use jpki_app::outcome::LinkDecision;
use tonic::{Request, Response, Status};

use crate::auth::{call_of, tenant_of};
use crate::decode::{self, MAX_CUSTOMER_ID, MAX_VERIFICATION_ID, bad_request, check_text};
use crate::encode;
use crate::state::AppState;

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

#[tonic::async_trait]
impl v1::link_service_server::LinkService for LinkApi {
    async fn link(&self, request: Request<v1::LinkRequest>) -> Result<Response<v1::LinkResponse>, Status> {
        let (tenant, call) = (tenant_of(&request)?, call_of(&request)?);
        let request = request.into_inner();
        check_text("customer_id", &request.customer_id, MAX_CUSTOMER_ID, true)?;
        check_text("auth_verification_id", &request.auth_verification_id, MAX_VERIFICATION_ID, true)?;
        check_text("signature_verification_id", &request.signature_verification_id, MAX_VERIFICATION_ID, false)?;
        let caller = tenant.clone();
        let decision = self
            .state
            .run(move |app| {
                let signature_id = Some(request.signature_verification_id.as_str()).filter(|id| !id.is_empty());
                app.link(&caller, &call, &request.customer_id, &request.auth_verification_id, signature_id)
            })
            .await?;
        let (link, created) = match decision {
            LinkDecision::Created(link) => (link, true),
            LinkDecision::AlreadyLinked(link) => (link, false),
            LinkDecision::Refused(refusal) => return Err(encode::link_refused(&refusal)),
        };
        tracing::info!(tenant = tenant.id.as_str(), created, "link");
        Ok(Response::new(v1::LinkResponse {
            certificate: Some(encode::certificate_id(&link.certificate)),
            not_after: Some(encode::timestamp(jpki_core::UnixTime(link.not_after))),
            created,
        }))
    }

    async fn unlink(&self, request: Request<v1::UnlinkRequest>) -> Result<Response<v1::UnlinkResponse>, Status> {
        let (tenant, call) = (tenant_of(&request)?, call_of(&request)?);
        let request = request.into_inner();
        check_text("customer_id", &request.customer_id, MAX_CUSTOMER_ID, true)?;
        let certificate = match &request.certificate {
            Some(id) => Some(decode::certificate_id("certificate", Some(id))?),
            None => None,
        };
        let caller = tenant.clone();
        let removed =
            self.state.run(move |app| app.unlink(&caller, &call, &request.customer_id, certificate.as_ref())).await?;
        tracing::info!(tenant = tenant.id.as_str(), removed, "unlink");
        Ok(Response::new(v1::UnlinkResponse { removed }))
    }

    async fn lookup_link(
        &self,
        request: Request<v1::LookupLinkRequest>,
    ) -> Result<Response<v1::LookupLinkResponse>, Status> {
        let (tenant, call) = (tenant_of(&request)?, call_of(&request)?);
        let links = match request.into_inner().key {
            None => return Err(bad_request("key", "one of certificate or customer_id is required")),
            Some(v1::lookup_link_request::Key::CustomerId(customer_id)) => {
                check_text("customer_id", &customer_id, MAX_CUSTOMER_ID, true)?;
                self.state.run(move |app| app.links_of_customer(&tenant, &call, &customer_id)).await?
            }
            Some(v1::lookup_link_request::Key::Certificate(certificate)) => {
                let key = decode::certificate_id("certificate", Some(&certificate))?;
                self.state
                    .run(move |app| Ok(app.link_of_certificate(&tenant, &call, &key)?.into_iter().collect()))
                    .await?
            }
        };
        Ok(Response::new(v1::LookupLinkResponse { links: links.iter().map(encode::link).collect() }))
    }
}
