//! Revocation events for tenants (継続的な失効確認): every change of status of a certificate a
//! tenant verified or linked — held (certificateHold), revoked for good, released from a hold — is
//! appended to that tenant's durable log, and open `WatchRevocations` streams are woken.
//!
//! Two paths feed the log, both idempotent (the store appends a notice only when it changes the
//! certificate's last recorded status, and ignores one from an older list): the refresher's change
//! sets (only the serials whose status changed between consecutive lists, deltas included), and a
//! reconciliation of every watched certificate against the lists in use, run at start and whenever
//! change sets were missed, so that a restart or a lagging receiver loses nothing.

use jpki_core::UnixTime;
use jpki_core::revocation::{RevocationReason, RevocationStatus};
use jpki_revocation::{ChangeSet, ListedChange, RevocationStore};
use jpki_store::{CertKey, RevocationNotice, StatusChange, StoreError, TenantId, TenantStore};
use tokio::sync::{broadcast, watch};

use crate::config::now;

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

/// A CRL reason from its wire name (`key_compromise`), as stored with events.
pub fn reason_from_name(name: &str) -> Option<RevocationReason> {
    (0u8..=10).filter_map(RevocationReason::from_code).find(|reason| crate::convert::reason_name(Some(*reason)) == name)
}

/// One change of a certificate's status, as the lists show it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Change {
    change: StatusChange,
    /// revocationDate (start of a hold), or for a release the releasing list's thisUpdate.
    at: UnixTime,
    reason: Option<RevocationReason>,
    crl_number: Option<String>,
}

impl Change {
    /// What a listed entry means: a hold is not a revocation (it may be lifted).
    fn listed(revoked_at: UnixTime, reason: Option<RevocationReason>, crl_number: Option<String>) -> Self {
        let change =
            if reason == Some(RevocationReason::CertificateHold) { StatusChange::Held } else { StatusChange::Revoked };
        Change { change, at: revoked_at, reason, crl_number }
    }
}

/// Builds the notices for one certificate's change: one per tenant watching it, with the
/// tenant's customer id when linked. A release goes only to tenants whose last event for the
/// certificate is its hold (the store would ignore the others anyway; this keeps batches small).
fn notices_for(
    store: &dyn TenantStore,
    certificate: &CertKey,
    change: &Change,
) -> Result<Vec<(TenantId, RevocationNotice)>, StoreError> {
    let mut notices = Vec::new();
    for (tenant, kind) in store.watchers(certificate)? {
        if change.change == StatusChange::Released
            && store.last_event_for(&tenant, certificate)?.is_none_or(|last| last.event.change != StatusChange::Held)
        {
            continue;
        }
        let customer_id = store.link_by_certificate(&tenant, certificate)?.map(|link| link.customer_id);
        notices.push((
            tenant,
            RevocationNotice {
                certificate: certificate.clone(),
                change: change.change,
                revoked_at: change.at.0,
                reason: change.reason.map(|reason| crate::convert::reason_name(Some(reason))),
                crl_number: change.crl_number.clone(),
                customer_id,
                kind,
            },
        ));
    }
    Ok(notices)
}

/// Appends the notices and returns the tenants whose log grew.
fn append(store: &dyn TenantStore, notices: Vec<(TenantId, RevocationNotice)>) -> Result<Vec<TenantId>, StoreError> {
    if notices.is_empty() {
        return Ok(Vec::new());
    }
    let mut tenants: Vec<TenantId> = notices.iter().map(|(tenant, _)| tenant.clone()).collect();
    store.append_events(notices)?;
    tenants.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    tenants.dedup();
    Ok(tenants)
}

/// The events of one change set.
pub fn apply_change_set(store: &dyn TenantStore, changes: &ChangeSet) -> Result<Vec<TenantId>, StoreError> {
    let mut notices = Vec::new();
    let number = Some(changes.to_number.clone());
    for changed in &changes.changes {
        let certificate = CertKey { ca_key_id: changes.issuer_key_id.clone(), serial: changed.serial.clone() };
        let change = match &changed.change {
            ListedChange::Held { since } => {
                Change::listed(*since, Some(RevocationReason::CertificateHold), number.clone())
            }
            ListedChange::Revoked { revoked_at, reason } => Change::listed(*revoked_at, *reason, number.clone()),
            ListedChange::Released => Change {
                change: StatusChange::Released,
                at: changes.this_update,
                reason: None,
                crl_number: number.clone(),
            },
        };
        notices.extend(notices_for(store, &certificate, &change)?);
    }
    append(store, notices)
}

/// Checks every certificate any of `tenants` watches against the lists in use: a listed one gets
/// its hold or revocation, a good one its release when the tenant last heard of a hold.
pub fn reconcile(
    store: &dyn TenantStore,
    revocation: &RevocationStore,
    tenants: &[TenantId],
    at: UnixTime,
) -> Result<Vec<TenantId>, StoreError> {
    let mut notices = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for tenant in tenants {
        for certificate in store.watched(tenant)? {
            if !seen.insert((certificate.ca_key_id.clone(), certificate.serial.clone())) {
                continue;
            }
            let (Ok(key_id), Ok(serial)) = (hex::decode(&certificate.ca_key_id), hex::decode(&certificate.serial))
            else {
                continue;
            };
            let answer = revocation.status_by_id(&key_id, &serial, at);
            let number = answer.provenance.as_ref().and_then(|provenance| provenance.crl_number.clone());
            let change = match answer.status {
                RevocationStatus::Revoked { revoked_at, reason } => Change::listed(revoked_at, reason, number),
                RevocationStatus::Good => {
                    let this_update = answer.provenance.as_ref().map_or(at, |provenance| provenance.this_update);
                    Change { change: StatusChange::Released, at: this_update, reason: None, crl_number: number }
                }
                // Nothing is known now: no change is claimed.
                RevocationStatus::Unknown { .. } => continue,
            };
            notices.extend(notices_for(store, &certificate, &change)?);
        }
    }
    append(store, notices)
}

/// Turns change sets into events until `shutdown`; reconciles at start and after a lag.
pub async fn run(
    store: std::sync::Arc<dyn TenantStore>,
    revocation: std::sync::Arc<RevocationStore>,
    tenants: Vec<TenantId>,
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
        let (store, revocation, tenants) = (store.clone(), revocation.clone(), tenants.clone());
        let outcome = tokio::task::spawn_blocking(move || match work {
            Some(changes) => apply_change_set(store.as_ref(), &changes),
            None => reconcile(store.as_ref(), &revocation, &tenants, now()),
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
