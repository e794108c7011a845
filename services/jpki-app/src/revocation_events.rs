//! Revocation events for tenants (継続的な失効確認): every change of status of a certificate a
//! tenant verified or linked — held (certificateHold), revoked for good, released from a hold — is
//! appended to that tenant's durable log.
//!
//! Two paths feed the log, both idempotent (the store appends a notice only when it changes the
//! certificate's last recorded status, and ignores one from an older list): the refresher's change
//! sets (only the serials whose status changed between consecutive lists, deltas included), and a
//! reconciliation of every watched certificate against the lists in use, run at start and whenever
//! change sets were missed, so that a restart or a lagging receiver loses nothing.

use jpki_core::revocation::{RevocationReason, RevocationStatus};
use jpki_core::{CertId, UnixTime};
use jpki_revocation::{ChangeSet, ListedChange, RevocationStore};
use jpki_store::{RevocationNotice, StatusChange, StoreError, TenantId, TenantStore};

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
    certificate: &CertId,
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
                reason: change.reason.map(|reason| reason.name().to_owned()),
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
        let certificate = changes.certificate(changed);
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
            if !seen.insert(certificate.clone()) {
                continue;
            }
            let Some((key_id, serial)) = certificate.bytes() else {
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
