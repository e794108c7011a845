//! `jpki.gateway.v1.StatusService`: status of many certificates at once, and the stream of
//! revocation events of the certificates this tenant verified or linked.

use std::pin::Pin;

use jpki_api::v1;
use jpki_store::{StoredEvent, TenantId};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::config::now;
use crate::convert;
use crate::errors::bad_request;
use crate::events::reason_from_name;
use crate::links::{cert_key, certificate_id};
use crate::state::AppState;
use crate::tenant::tenant_of;

/// Most certificates per CheckStatus call.
pub const MAX_STATUS_CERTIFICATES: usize = 1000;
/// Events read from the store per page when a stream catches up.
const PAGE: usize = 256;

/// `jpki.gateway.v1.StatusService`.
#[derive(Clone)]
pub struct StatusApi {
    state: AppState,
}

impl StatusApi {
    /// The service over shared state.
    pub fn new(state: AppState) -> Self {
        StatusApi { state }
    }
}

/// The facts for a certificate outside the tenant's set: the status alone, nothing from any list,
/// the same whether the certificate exists or not.
fn not_entitled() -> v1::RevocationFacts {
    v1::RevocationFacts { status: v1::RevocationStatus::NotEntitled as i32, ..v1::RevocationFacts::default() }
}

/// The stream type of `WatchRevocations`.
pub type RevocationStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<v1::RevocationEvent, Status>> + Send>>;

fn kind_of(name: &str) -> v1::CertificateKind {
    jpki_core::CertKind::parse(name).map_or(v1::CertificateKind::Unspecified, convert::certificate_kind)
}

fn revocation_change(change: jpki_store::StatusChange) -> v1::RevocationChange {
    match change {
        jpki_store::StatusChange::Held => v1::RevocationChange::Held,
        jpki_store::StatusChange::Revoked => v1::RevocationChange::Revoked,
        jpki_store::StatusChange::Released => v1::RevocationChange::Released,
    }
}

fn event_message(stored: &StoredEvent) -> v1::RevocationEvent {
    let event = &stored.event;
    let reason = event.reason.as_deref().and_then(reason_from_name);
    v1::RevocationEvent {
        cursor: stored.sequence.to_string(),
        certificate: Some(certificate_id(&event.certificate)),
        revoked_at: Some(convert::timestamp(jpki_core::UnixTime(event.revoked_at))),
        reason: convert::revocation_reason(reason) as i32,
        meaning: convert::business_meaning(reason) as i32,
        customer_id: event.customer_id.clone().unwrap_or_default(),
        crl_number: event.crl_number.clone().unwrap_or_default(),
        kind: kind_of(&event.kind) as i32,
        change: revocation_change(event.change) as i32,
    }
}

/// Sends the tenant's events after `cursor`, then new ones as they are appended, until the
/// client goes away or the server drains.
async fn follow(
    state: AppState,
    tenant: TenantId,
    mut cursor: u64,
    sender: mpsc::Sender<Result<v1::RevocationEvent, Status>>,
) {
    let mut appended = state.events.subscribe();
    let mut draining = state.events.draining();
    loop {
        let (tenant_id, after) = (tenant.clone(), cursor);
        let page = match state.store(move |store| store.events_after(&tenant_id, after, PAGE)).await {
            Ok(page) => page,
            Err(status) => {
                let _ = sender.send(Err(status)).await;
                return;
            }
        };
        for stored in &page {
            if sender.send(Ok(event_message(stored))).await.is_err() {
                return;
            }
            cursor = stored.sequence;
        }
        if page.len() == PAGE {
            continue;
        }
        loop {
            tokio::select! {
                () = sender.closed() => return,
                _ = draining.changed() => {
                    let _ = sender
                        .send(Err(Status::unavailable("server draining; reconnect with the last cursor")))
                        .await;
                    return;
                }
                received = appended.recv() => match received {
                    Ok(grown) if grown == tenant => break,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }
}

#[tonic::async_trait]
impl v1::status_service_server::StatusService for StatusApi {
    async fn check_status(
        &self,
        request: Request<v1::CheckStatusRequest>,
    ) -> Result<Response<v1::CheckStatusResponse>, Status> {
        let tenant = tenant_of(&request)?;
        let request = request.into_inner();
        if request.certificates.is_empty() {
            return Err(bad_request("certificates", "at least one certificate id is required"));
        }
        if request.certificates.len() > MAX_STATUS_CERTIFICATES {
            return Err(bad_request(
                "certificates",
                &format!("{} ids, at most {MAX_STATUS_CERTIFICATES} per call", request.certificates.len()),
            ));
        }
        let keys = request
            .certificates
            .iter()
            .enumerate()
            .map(|(index, id)| cert_key(&format!("certificates[{index}]"), Some(id)))
            .collect::<Result<Vec<_>, Status>>()?;
        let at = now();
        // A tenant learns the status only of certificates it verified (passed, within the record
        // retention) or linked: anything else would let it watch other tenants' customers (moved,
        // died, card lost) or enumerate serials.
        let retention = i64::try_from(self.state.config.links.verification_retention_seconds).unwrap_or(i64::MAX);
        let (tenant_id, asked) = (tenant.id.clone(), keys.clone());
        let entitled = self.state.store(move |store| store.entitled(&tenant_id, &asked, at.0, retention)).await?;
        let statuses = keys
            .iter()
            .zip(entitled)
            .map(|(key, entitled)| {
                let revocation = if entitled {
                    let (key_id, serial) =
                        (hex::decode(&key.ca_key_id).unwrap_or_default(), hex::decode(&key.serial).unwrap_or_default());
                    convert::revocation_facts(&self.state.revocation.status_by_id(&key_id, &serial, at))
                } else {
                    not_entitled()
                };
                v1::CertificateStatus { certificate: Some(certificate_id(key)), revocation: Some(revocation) }
            })
            .collect();
        Ok(Response::new(v1::CheckStatusResponse { statuses }))
    }

    type WatchRevocationsStream = RevocationStream;

    async fn watch_revocations(
        &self,
        request: Request<v1::WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        let tenant = tenant_of(&request)?;
        let cursor_text = request.into_inner().cursor;
        let tenant_id = tenant.id.clone();
        let cursor = if cursor_text.is_empty() {
            self.state.store(move |store| store.last_sequence(&tenant_id)).await?
        } else {
            cursor_text
                .parse::<u64>()
                .map_err(|_| bad_request("cursor", "a cursor from a previous event, \"0\", or empty"))?
        };
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(follow(self.state.clone(), tenant.id.clone(), cursor, sender));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
