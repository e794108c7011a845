//! `jpki.gateway.v1.StatusService`: status of many certificates at once, and the stream of
//! revocation events of the certificates this tenant verified or linked.

use std::pin::Pin;
use std::sync::Arc;

use jpki_api::v1;
use jpki_app::Tenant;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::auth::{call_of, tenant_of};
use crate::decode;
use crate::encode;
use crate::state::AppState;

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

/// The stream type of `WatchRevocations`.
pub type RevocationStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<v1::RevocationEvent, Status>> + Send>>;

/// Sends the tenant's events after `cursor`, then new ones as they are appended, until the
/// client goes away or the server drains; returns the last cursor sent.
async fn follow(
    state: AppState,
    tenant: Arc<Tenant>,
    mut cursor: u64,
    sender: mpsc::Sender<Result<v1::RevocationEvent, Status>>,
) -> u64 {
    let mut appended = state.events.subscribe();
    let mut draining = state.events.draining();
    let mut directory_changes = state.access.changes();
    // The backstop for a lost Redis notice: the tenant's state is read again this often.
    let mut recheck = tokio::time::interval(SUSPENSION_CHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (caller, after) = (tenant.clone(), cursor);
        let page = match state.run(move |app| app.events_after(&caller, after, PAGE)).await {
            Ok(page) => page,
            Err(status) => {
                let _ = sender.send(Err(status)).await;
                return cursor;
            }
        };
        for stored in &page {
            if sender.send(Ok(encode::revocation_event(stored))).await.is_err() {
                return cursor;
            }
            cursor = stored.sequence;
        }
        if page.len() == PAGE {
            continue;
        }
        loop {
            tokio::select! {
                () = sender.closed() => return cursor,
                _ = draining.changed() => {
                    let _ = sender
                        .send(Err(Status::unavailable("server draining; reconnect with the last cursor")))
                        .await;
                    return cursor;
                }
                _ = directory_changes.changed() => {
                    if ended_by_suspension(&state, &tenant, &sender).await {
                        return cursor;
                    }
                }
                _ = recheck.tick() => {
                    if ended_by_suspension(&state, &tenant, &sender).await {
                        return cursor;
                    }
                }
                received = appended.recv() => match received {
                    Ok(grown) if grown == tenant.id => break,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return cursor,
                },
            }
        }
    }
}

/// How often an open watch stream reads its tenant's state again.
const SUSPENSION_CHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether the stream ended because its tenant is no longer active (then it has sent the final
/// UNAUTHENTICATED). A failed read keeps the stream open: the next check tries again.
async fn ended_by_suspension(
    state: &AppState,
    tenant: &Tenant,
    sender: &mpsc::Sender<Result<v1::RevocationEvent, Status>>,
) -> bool {
    match state.access.is_active(tenant.id.as_str()).await {
        Ok(false) => {
            let _ = sender.send(Err(Status::unauthenticated("the tenant is suspended"))).await;
            true
        }
        Ok(true) | Err(_) => false,
    }
}

#[tonic::async_trait]
impl v1::status_service_server::StatusService for StatusApi {
    async fn check_status(
        &self,
        request: Request<v1::CheckStatusRequest>,
    ) -> Result<Response<v1::CheckStatusResponse>, Status> {
        let (tenant, call) = (tenant_of(&request)?, call_of(&request)?);
        let keys = decode::certificate_ids(&request.into_inner().certificates)?;
        let asked = keys.clone();
        let statuses = self.state.run(move |app| app.check_status(&tenant, &call, &asked)).await?;
        let statuses =
            keys.iter().zip(&statuses).map(|(key, status)| encode::certificate_status(key, status)).collect();
        Ok(Response::new(v1::CheckStatusResponse { statuses }))
    }

    type WatchRevocationsStream = RevocationStream;

    async fn watch_revocations(
        &self,
        request: Request<v1::WatchRevocationsRequest>,
    ) -> Result<Response<Self::WatchRevocationsStream>, Status> {
        let (tenant, call) = (tenant_of(&request)?, call_of(&request)?);
        let cursor = decode::cursor(&request.into_inner().cursor)?;
        let (caller, opened) = (tenant.clone(), call.clone());
        let cursor = self
            .state
            .run(move |app| {
                let cursor = app.watch_from(&caller, cursor)?;
                app.record_watch(&caller, &opened, "open", cursor)?;
                Ok(cursor)
            })
            .await?;
        let (sender, receiver) = mpsc::channel(64);
        let state = self.state.clone();
        tokio::spawn(async move {
            let last = follow(state.clone(), tenant.clone(), cursor, sender).await;
            // The close is recorded whatever ended the stream; a failure is logged, not answered
            // (the stream is gone).
            if let Err(status) = state.run(move |app| app.record_watch(&tenant, &call, "close", last)).await {
                tracing::warn!(error = %status.message(), "the watch stream's close event was not recorded");
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
