//! The task that feeds tenants' revocation events (the rules are in
//! [`jpki_app::revocation_events`]) from the refresher's change sets, and the hub that wakes open
//! `WatchRevocations` streams.

use jpki_app::clock::now;
use jpki_app::revocation_events::{apply_change_set, reconcile};
use jpki_revocation::{ChangeSet, RevocationStore};
use jpki_store::{TenantId, TenantStore};
use tokio::sync::{broadcast, watch};

/// Wakes watch streams; carries the tenant whose log grew.
#[derive(Clone, Debug)]
pub struct EventHub {
    appended: broadcast::Sender<TenantId>,
    draining: watch::Receiver<bool>,
}

impl EventHub {
    /// A hub whose streams end when `draining` turns true.
    pub fn new(draining: watch::Receiver<bool>) -> Self {
        EventHub { appended: broadcast::channel(1024).0, draining }
    }

    /// Subscribes to appends (before reading the backlog, so that nothing falls in between).
    pub fn subscribe(&self) -> broadcast::Receiver<TenantId> {
        self.appended.subscribe()
    }

    /// Turns true when the server starts draining.
    pub fn draining(&self) -> watch::Receiver<bool> {
        self.draining.clone()
    }

    fn notify(&self, tenant: TenantId) {
        // No receiver is not an error: no stream is open.
        let _ = self.appended.send(tenant);
    }
}

/// Turns change sets into events until `shutdown`; reconciles at start and after a lag.
pub async fn run(
    store: std::sync::Arc<dyn TenantStore>,
    revocation: std::sync::Arc<RevocationStore>,
    directory: jpki_app::directory::Directory,
    hub: EventHub,
    mut changes: broadcast::Receiver<ChangeSet>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut reconcile_needed = true;
    loop {
        let work: Option<ChangeSet> = if reconcile_needed {
            None
        } else {
            tokio::select! {
                _ = shutdown.changed() => return,
                received = changes.recv() => match received {
                    Ok(changes) => Some(changes),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "revocation change sets missed; reconciling every watched certificate");
                        reconcile_needed = true;
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        };
        let (store, revocation, directory) = (store.clone(), revocation.clone(), directory.clone());
        let outcome = tokio::task::spawn_blocking(move || match work {
            Some(changes) => apply_change_set(store.as_ref(), &changes),
            // Every tenant the directory holds now, those onboarded since the start included.
            None => match directory.tenant_ids() {
                Ok(tenants) => reconcile(store.as_ref(), &revocation, &tenants, now()),
                Err(jpki_app::AppError::Storage(error)) => Err(error),
                Err(other) => Err(jpki_store::StoreError::Backend(other.to_string())),
            },
        })
        .await;
        match outcome {
            Ok(Ok(grown)) => {
                reconcile_needed = false;
                for tenant in grown {
                    hub.notify(tenant);
                }
            }
            Ok(Err(error)) => {
                // Retried by a reconciliation: the change set's events must not be lost.
                tracing::error!(%error, "cannot record revocation events; will reconcile");
                reconcile_needed = true;
                tokio::select! {
                    _ = shutdown.changed() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
            Err(_) => reconcile_needed = true,
        }
    }
}
