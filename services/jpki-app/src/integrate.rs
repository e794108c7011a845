//! The integrator: moves each tenant's durable audit leaves, and the evidence they cite, from the
//! tenant store (journal, redb or Redis: fast, but memory) into the long-term archive (a redb file
//! under `data_dir`, or PostgreSQL for replicas), then trims them from the store.
//!
//! Order matters, and every step can be repeated after a crash:
//! 1. a durable write in the store: every leaf below the size read before it is then durable
//!    (journal order, the AOF's order), so no leaf that a crash could still lose is archived;
//! 2. the pending evidence (certificates) into the archive, then dropped from the store;
//! 3. the leaves into the archive in pages, each page one durable transaction that refuses to
//!    overwrite a different leaf (two integrators racing agree, a fork fails loudly), with the
//!    retention holds their links and unlinks imply;
//! 4. the store drops the leaves below what the archive has.
//!
//! Only the leader (the archive's lease: [`jpki_archive::AuditArchive::try_lead`]) integrates;
//! readers follow both places ([`AuditLog::entries`]).

use jpki_archive::{ArchiveError, EvidenceOwner, ExpiryReport, LeafIn};
use jpki_audit::{AuditEvent, digest_bytes};
use jpki_store::{MAX_AUDIT_PAGE, StoreError, TenantId};

use crate::audit::{AuditLog, AuditReadError, Evidence, archive_error};

/// How many evidence items move per step.
const EVIDENCE_PAGE: usize = 256;

/// What one integration pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntegrationReport {
    /// Tenants whose logs were looked at.
    pub tenants: u64,
    /// Leaves moved into the archive.
    pub leaves: u64,
    /// Certificates moved into the archive.
    pub certificates: u64,
    /// Lists copied into the archive from this process's list archive.
    pub lists: u64,
    /// Lists an event cites that neither the archive nor this process had (another replica
    /// installed them; that replica copies them on its next pass).
    pub lists_missing: u64,
}

impl AuditLog {
    /// Whether this process is the one that integrates and publishes now.
    pub fn is_leader(&self) -> Result<bool, AuditReadError> {
        self.archive().try_lead().map_err(archive_error)
    }

    /// Integrates every tenant's log the store holds (see the module's documentation). Call it on
    /// the leader.
    pub fn integrate_all(&self) -> Result<IntegrationReport, AuditReadError> {
        self.integrate_each(&self.store().audit_tenants()?)
    }

    /// Integrates the logs of `tenants` (the directory's, which a Redis store need not scan for).
    pub fn integrate_each(&self, tenants: &[TenantId]) -> Result<IntegrationReport, AuditReadError> {
        let mut report = IntegrationReport::default();
        for tenant in tenants {
            self.integrate(tenant, &mut report)?;
            report.tenants += 1;
        }
        Ok(report)
    }

    /// Integrates one tenant's log.
    pub fn integrate(&self, tenant: &TenantId, report: &mut IntegrationReport) -> Result<(), AuditReadError> {
        let store = self.store();
        let archive = self.archive();
        let size = store.audit_size(tenant)?;
        // Nothing new (the usual case for most tenants on most passes): no barrier write.
        if size <= archive.integrated(tenant.as_str()).map_err(archive_error)?
            && store.audit_evidence(tenant, 1)?.is_empty()
        {
            return Ok(());
        }
        // 1. The barrier: a durable write after the leaves below `size`.
        store.put_meta(&format!("audit/integrating/{}", tenant.as_str()), size.to_string().as_bytes())?;
        // 2. Evidence first, so that a leaf in the archive never cites a certificate that is
        //    only in the store.
        loop {
            let pending = store.audit_evidence(tenant, EVIDENCE_PAGE)?;
            if pending.is_empty() {
                break;
            }
            let keys: Vec<[u8; 32]> = pending.iter().map(|(key, _)| *key).collect();
            // One archive commit per page: a commit per certificate would bound the pass to the
            // archive's commit rate (a few hundred a second on a disk) when customers are many.
            let items: Vec<(&[u8; 32], &[u8])> = pending.iter().map(|(key, der)| (key, der.as_slice())).collect();
            archive.put_evidence_batch(EvidenceOwner::Tenant(tenant.as_str()), &items).map_err(archive_error)?;
            store.audit_evidence_drop(tenant, &keys)?;
            report.certificates += keys.len() as u64;
        }
        // 3. The leaves.
        let mut from = archive.integrated(tenant.as_str()).map_err(archive_error)?;
        while from < size {
            let limit = usize::try_from(size - from).unwrap_or(usize::MAX).min(MAX_AUDIT_PAGE);
            let leaves = match store.audit_leaves(tenant, from, limit) {
                Ok(leaves) if !leaves.is_empty() => leaves,
                Ok(_) => break,
                // Another integrator (a former leader) moved and trimmed them meanwhile.
                Err(StoreError::AuditTrimmed { .. }) => {
                    let integrated = archive.integrated(tenant.as_str()).map_err(archive_error)?;
                    if integrated <= from {
                        return Err(archive_error(ArchiveError::Invalid(format!(
                            "{}: the store trimmed leaves from {from} that the archive does not have",
                            tenant.as_str()
                        ))));
                    }
                    from = integrated;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let mut page = Vec::with_capacity(leaves.len());
            for leaf in leaves {
                page.push(self.leaf_in(tenant, leaf, report)?);
            }
            let integrated = archive.integrate(tenant.as_str(), from, &page).map_err(archive_error)?;
            report.leaves += integrated.saturating_sub(from);
            from = integrated;
        }
        // 4. The store forgets what the archive keeps.
        if from > store.audit_floor(tenant)? {
            store.audit_trim(tenant, from)?;
        }
        Ok(())
    }

    /// A leaf as the archive takes it: with its time, certificate and what it cites, and the
    /// retention holds and lists it implies put in place first.
    fn leaf_in(
        &self,
        tenant: &TenantId,
        leaf: String,
        report: &mut IntegrationReport,
    ) -> Result<LeafIn, AuditReadError> {
        let Ok(event) = serde_json::from_str::<AuditEvent>(&leaf) else {
            // Not an event of ours (the store keeps leaves opaque): kept, but never expired early.
            tracing::warn!(tenant = tenant.as_str(), "an audit leaf is not an event; archived as it is");
            let time = crate::clock::now().0;
            return Ok(LeafIn { leaf, time, certificate: None, evidence: None, lists: Vec::new() });
        };
        let certificate = event.certificate.as_ref().map(jpki_audit::CertRef::text);
        for (held, until) in holds(&event, self.settings().retention_seconds) {
            self.archive().hold(tenant.as_str(), &held, until).map_err(archive_error)?;
        }
        let mut lists = Vec::new();
        for list in &event.revocation {
            let Some(key) = digest_bytes(&list.sha256) else { continue };
            self.copy_list(&key, report)?;
            lists.push(key);
        }
        Ok(LeafIn { time: event.time, certificate, evidence: event.evidence_key(), lists, leaf })
    }

    /// Makes sure the archive has the list with `key`, from this process's list archive.
    fn copy_list(&self, key: &[u8; 32], report: &mut IntegrationReport) -> Result<(), AuditReadError> {
        if self.list_archived(key) {
            return Ok(());
        }
        let archive = self.archive();
        if archive.evidence(EvidenceOwner::Platform, key).map_err(archive_error)?.is_some() {
            self.remember_list(*key);
            return Ok(());
        }
        match self.local_list(key) {
            Some(der) => {
                archive.put_evidence(EvidenceOwner::Platform, key, &der).map_err(archive_error)?;
                self.remember_list(*key);
                report.lists += 1;
            }
            None => report.lists_missing += 1,
        }
        Ok(())
    }

    /// The list with `key` from this process's list archive, if it has it.
    fn local_list(&self, key: &[u8; 32]) -> Option<Vec<u8>> {
        let dir = self.settings().list_archive.as_ref()?;
        std::fs::read(jpki_revocation::archive::path_of(dir, key)).ok()
    }

    /// Copies every list of this process's list archive that the long-term archive lacks (each
    /// replica runs this, the leader or not: a list one replica installed may be cited by an
    /// event another replica integrates).
    pub fn copy_lists(&self) -> Result<u64, AuditReadError> {
        let Some(dir) = self.settings().list_archive.clone() else { return Ok(0) };
        let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(0) };
        let mut report = IntegrationReport::default();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(key) = name.to_str().and_then(|name| name.strip_suffix(".crl")).and_then(digest_bytes) else {
                continue;
            };
            self.copy_list(&key, &mut report)?;
        }
        Ok(report.lists)
    }

    /// Applies retention: payloads older than the retention period, and evidence nothing kept
    /// cites, are removed; hashes and checkpoints stay. Call it on the leader.
    pub fn expire(&self, now: i64) -> Result<ExpiryReport, AuditReadError> {
        let report = self.archive().expire(now, self.settings().retention_seconds).map_err(archive_error);
        // Lists it removed must be copied again if an event cites them later.
        self.forget_lists();
        report
    }

    /// The evidence of event `index` of the tenant's log, `index` below `durable` (see
    /// [`AuditLog::checkpoint_at`]): the certificate from the archive or, before it was
    /// integrated, the store; the lists from the archive or this process's list archive.
    pub fn evidence(&self, tenant: &TenantId, index: u64, durable: u64) -> Result<Evidence, AuditReadError> {
        if index >= durable {
            return Err(AuditReadError::OutOfRange {
                field: "index",
                reason: format!("{index} is beyond the log's {durable} events"),
            });
        }
        let entry = self
            .entries(tenant, index, 1)?
            .into_iter()
            .next()
            .ok_or_else(|| AuditReadError::OutOfRange { field: "index", reason: format!("{index} has no event") })?;
        let Some(leaf) = entry.leaf else { return Ok(Evidence::default()) };
        let Ok(event) = serde_json::from_str::<AuditEvent>(&leaf) else {
            return Ok(Evidence { leaf: Some(leaf), ..Evidence::default() });
        };
        let archive = self.archive();
        let certificate = match event.evidence_key() {
            Some(key) => match archive.evidence(EvidenceOwner::Tenant(tenant.as_str()), &key).map_err(archive_error)? {
                Some(der) => Some(der),
                None => self.store().audit_evidence_get(tenant, &key)?,
            },
            None => None,
        };
        let mut lists = Vec::new();
        for list in &event.revocation {
            let Some(key) = digest_bytes(&list.sha256) else { continue };
            let der = match archive.evidence(EvidenceOwner::Platform, &key).map_err(archive_error)? {
                Some(der) => Some(der),
                None => self.local_list(&key),
            };
            lists.push((key, der));
        }
        Ok(Evidence { leaf: Some(leaf), certificate, lists })
    }
}

/// The retention holds an event implies: a link holds its certificate's events while it lasts
/// (`None`), an unlink releases them `retention` after it (the period runs from the end of the
/// relationship). An unlink of all a customer's certificates names them in `detail.certificates`.
fn holds(event: &AuditEvent, retention: i64) -> Vec<(String, Option<i64>)> {
    let method = event.rpc.rsplit('/').next().unwrap_or_default();
    let named = || {
        let mut named: Vec<String> = event.certificate.iter().map(jpki_audit::CertRef::text).collect();
        if let Some(list) = event.detail.get("certificates") {
            named.extend(list.split(',').filter(|id| !id.is_empty()).map(str::to_owned));
        }
        named
    };
    match (method, event.code.as_str(), event.detail.get("outcome").map(String::as_str)) {
        ("Link", "OK", Some("created" | "already_linked")) => named().into_iter().map(|id| (id, None)).collect(),
        ("Unlink", "OK", _) => {
            let until = event.time.saturating_add(retention);
            named().into_iter().map(|id| (id, Some(until))).collect()
        }
        _ => Vec::new(),
    }
}
