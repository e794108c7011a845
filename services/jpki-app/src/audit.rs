//! The audit events of the use cases, and the tenant's transparency log over them.
//!
//! Every use case a tenant calls records one [`AuditEvent`] in the tenant's log, in the same
//! durable commit as its own writes ([`jpki_store::TenantStore::write_audited`]): an answered call
//! always has its event, and an event always describes a call whose writes happened. Documents,
//! challenges and customer ids appear only as SHA-256 digests; the four fields, keys and
//! challenges never appear.
//!
//! [`AuditLog`] serves the log to auditors: signed checkpoints (C2SP tlog-checkpoint, Ed25519
//! signed notes), leaves by index, inclusion and consistency proofs (RFC 9162), over an in-memory
//! hash tree per tenant that it extends from the store's leaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jpki_archive::{ArchiveError, AuditArchive};
use jpki_audit::{AuditError, AuditEvent, CertRef, Hash, ListRelied, LogHashes, LogSigner};
use jpki_core::revocation::RevocationAnswer;
use jpki_core::{CertId, UnixTime, ValidationReport};
use jpki_store::{AuditLeaves, MAX_AUDIT_PAGE, Outcome, StoreError, TenantId, TenantStore, TenantWrite};
use serde::Serialize;

use crate::outcome::{AppError, KindNotPermitted, VerificationVerdict};

/// Who made a call, and how: what every event of it carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallContext {
    /// The full gRPC method path, e.g. `/jpki.gateway.v1.VerificationService/VerifyAuthProof`.
    pub rpc: String,
    /// The principal's id.
    pub principal: String,
    /// The credential: an API key's id, or `spki:<hex>` for a client certificate.
    pub credential: String,
    /// The request id (`x-request-id`).
    pub request_id: String,
    /// The W3C trace id, when the call carried one.
    pub trace_id: Option<String>,
}

impl CallContext {
    /// An event of this call for `tenant` at `time`, answered OK, with nothing else yet.
    pub fn event(&self, tenant: &TenantId, time: UnixTime) -> AuditEvent {
        AuditEvent {
            time: time.0,
            tenant: tenant.as_str().to_owned(),
            principal: self.principal.clone(),
            credential: self.credential.clone(),
            rpc: self.rpc.clone(),
            request_id: self.request_id.clone(),
            trace_id: self.trace_id.clone(),
            ..AuditEvent::default()
        }
    }
}

/// The SHA-256 of `data`, lowercase hex: how documents, challenges and customer ids appear.
pub fn digest(data: &[u8]) -> String {
    jpki_audit::sha256_hex(data)
}

/// The event as the store keeps it: one line of JSON.
pub(crate) fn leaf(event: &AuditEvent) -> Result<String, AppError> {
    let bytes = event.leaf().map_err(AppError::Audit)?;
    String::from_utf8(bytes).map_err(|_| AppError::Audit(AuditError::InvalidLeaf("not UTF-8".into())))
}

/// The one leaf of a write with one outcome.
pub(crate) fn one(event: &AuditEvent) -> Result<AuditLeaves, AppError> {
    Ok(AuditLeaves::one(leaf(event)?))
}

/// A serde enum's wire name (`TOTAL_PASSED`, ...).
fn wire_name<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value).ok().and_then(|value| value.as_str().map(str::to_owned))
}

pub(crate) fn cert_ref(id: CertId) -> CertRef {
    CertRef { ca_key_id: id.ca_key_id, serial: id.serial }
}

/// The revocation lists a report's answer rests on.
fn lists_relied(report: &ValidationReport) -> Vec<ListRelied> {
    report.revocation.as_ref().map(answer_lists).unwrap_or_default()
}

/// The revocation lists an answer rests on.
pub(crate) fn answer_lists(answer: &RevocationAnswer) -> Vec<ListRelied> {
    let lists = answer.provenance.as_ref().map(|provenance| provenance.lists.as_slice());
    lists
        .unwrap_or_default()
        .iter()
        .map(|list| ListRelied {
            issuer_key_id: list.issuer_key_id.clone(),
            scope: list.scope.to_owned(),
            number: Some(list.crl_number.clone()),
            sha256: list.tbs_digest.clone(),
        })
        .collect()
}

/// Records a verdict in an event: the indication, sub-indication and reason the tenant was
/// told, the certificate, and the lists relied on.
pub(crate) fn record_verdict(event: &mut AuditEvent, verdict: &VerificationVerdict) {
    match verdict {
        VerificationVerdict::Verified(report) => {
            event.indication = wire_name(&report.indication);
            event.sub_indication = report.sub_indication.as_ref().and_then(wire_name);
            event.reason = report.reason.as_ref().map(|reason| reason.code().to_owned());
            event.certificate = report.certificate.as_ref().and_then(|facts| facts.id()).map(cert_ref);
            event.revocation = lists_relied(report);
        }
        VerificationVerdict::Refused(refusal) => refused(event, refusal.code()),
        VerificationVerdict::NotPermitted(not_permitted) => {
            refused(event, KindNotPermitted::CODE);
            event.certificate = not_permitted.certificate.id().map(cert_ref);
        }
    }
}

fn refused(event: &mut AuditEvent, code: &str) {
    event.indication = Some("TOTAL_FAILED".into());
    event.sub_indication = Some("SIG_CONSTRAINTS_FAILURE".into());
    event.reason = Some(code.to_owned());
}

/// Leaves for each outcome of a write, each made by `make` from the base event.
pub(crate) fn per_outcome(
    write: &TenantWrite,
    mut make: impl FnMut(Outcome) -> Result<AuditEvent, AppError>,
) -> Result<AuditLeaves, AppError> {
    write
        .outcomes()
        .iter()
        .try_fold(AuditLeaves::default(), |leaves, outcome| Ok(leaves.with(*outcome, leaf(&make(*outcome)?)?)))
}

/// How the gateway signs its logs' checkpoints.
#[derive(Clone, Debug)]
pub struct AuditSettings {
    /// The platform's name in every origin (`<platform>/tenant/<tenant>`).
    pub platform: String,
    /// The signing key.
    pub signer: Arc<LogSigner>,
    /// Every verifier key to publish: the signing key's first, then keys rotated out that are
    /// still within their overlap.
    pub verifier_keys: Vec<String>,
    /// How long an event's payload and the evidence it cites are kept, in seconds (7 years by
    /// default; a linked certificate's events are kept this long after the unlink).
    pub retention_seconds: i64,
    /// Where this process archives the revocation lists it installs (`jpki_revocation::archive`),
    /// from which the integrator copies the lists events cite into the long-term archive.
    pub list_archive: Option<std::path::PathBuf>,
}

/// Seven years of 365.25 days: the 犯収法 record period.
pub const DEFAULT_RETENTION_SECONDS: i64 = 7 * 36_525 * 864;

/// A signed checkpoint of a tenant's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The signed note.
    pub note: String,
    /// The origin.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: [u8; 32],
}

/// Why an auditor's request cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum AuditReadError {
    /// An index or size beyond the log, or sizes out of order.
    #[error("{field}: {reason}")]
    OutOfRange {
        /// The request field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The store or the tree failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for AuditReadError {
    fn from(error: StoreError) -> Self {
        AuditReadError::App(AppError::Storage(error))
    }
}

impl From<AuditError> for AuditReadError {
    fn from(error: AuditError) -> Self {
        AuditReadError::App(AppError::Audit(error))
    }
}

/// One event of a log as auditors read it.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Its index.
    pub index: u64,
    /// Its RFC 9162 leaf hash.
    pub hash: Hash,
    /// The event's JSON; `None` once its retention ended and the payload was removed.
    pub leaf: Option<String>,
}

/// The evidence an event's answer rested on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// The event's JSON, `None` once expired.
    pub leaf: Option<String>,
    /// The end-entity certificate the verification passed on, when kept.
    pub certificate: Option<Vec<u8>>,
    /// Each list the event names: the digest of its tbsCertList and its DER, when kept.
    pub lists: Vec<([u8; 32], Option<Vec<u8>>)>,
}

/// The tenants' logs as auditors read them: a hash tree per tenant, extended on each read from the
/// long-term archive (the leaves the integrator moved there) and then the store's newer leaves (so
/// it also follows leaves that other replicas appended), and signed checkpoints. The trees live in
/// memory (about 64 bytes per event) and are rebuilt after a restart.
pub struct AuditLog {
    store: Arc<dyn TenantStore>,
    archive: Arc<dyn AuditArchive>,
    settings: AuditSettings,
    trees: Mutex<HashMap<TenantId, Arc<Mutex<LogHashes>>>>,
    /// Lists known to be in the archive (content-addressed, never changed): not asked again.
    lists_archived: Mutex<std::collections::HashSet<[u8; 32]>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("platform", &self.settings.platform).finish_non_exhaustive()
    }
}

impl AuditLog {
    /// The logs whose new leaves are in `store` and older ones in `archive`, signed with
    /// `settings`.
    pub fn new(store: Arc<dyn TenantStore>, archive: Arc<dyn AuditArchive>, settings: AuditSettings) -> Self {
        AuditLog { store, archive, settings, trees: Mutex::new(HashMap::new()), lists_archived: Mutex::default() }
    }

    /// The tenant store the log's newest leaves are in.
    pub(crate) fn store(&self) -> &Arc<dyn TenantStore> {
        &self.store
    }

    /// The long-term archive.
    pub(crate) fn archive(&self) -> &Arc<dyn AuditArchive> {
        &self.archive
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &AuditSettings {
        &self.settings
    }

    /// Whether the list with `key` is known to be archived already.
    pub(crate) fn list_archived(&self, key: &[u8; 32]) -> bool {
        self.lists_archived.lock().is_ok_and(|known| known.contains(key))
    }

    /// Forgets which lists are archived (after a retention pass removed some).
    pub(crate) fn forget_lists(&self) {
        if let Ok(mut known) = self.lists_archived.lock() {
            known.clear();
        }
    }

    /// Remembers that the list with `key` is archived.
    pub(crate) fn remember_list(&self, key: [u8; 32]) {
        if let Ok(mut known) = self.lists_archived.lock() {
            known.insert(key);
        }
    }

    /// Up to `limit` entries from index `from` (at most [`MAX_AUDIT_PAGE`]): from the archive
    /// below what it has integrated, from the store above. A trim between the two reads (the
    /// integrator moved the leaves meanwhile) is answered from the archive, which has them by
    /// then: leaves are trimmed only after they are integrated.
    pub fn entries(&self, tenant: &TenantId, from: u64, limit: usize) -> Result<Vec<LogEntry>, AuditReadError> {
        let limit = limit.min(MAX_AUDIT_PAGE);
        let integrated = self.archive.integrated(tenant.as_str()).map_err(archive_error)?;
        if from >= integrated {
            match self.store.audit_leaves(tenant, from, limit) {
                Ok(leaves) => {
                    return Ok((from..)
                        .zip(leaves)
                        .map(|(index, leaf)| LogEntry {
                            index,
                            hash: jpki_audit::leaf_hash(leaf.as_bytes()),
                            leaf: Some(leaf),
                        })
                        .collect());
                }
                Err(StoreError::AuditTrimmed { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let integrated = self.archive.integrated(tenant.as_str()).map_err(archive_error)?;
        let limit = limit.min(usize::try_from(integrated.saturating_sub(from)).unwrap_or(usize::MAX));
        let archived = self.archive.leaves(tenant.as_str(), from, limit).map_err(archive_error)?;
        archived
            .into_iter()
            .map(|archived| {
                let hash = Hash(archived.hash);
                // A payload that does not hash to its stored hash is a corrupt archive, not an event.
                if let Some(leaf) = &archived.payload
                    && jpki_audit::leaf_hash(leaf.as_bytes()) != hash
                {
                    return Err(archive_error(ArchiveError::Invalid(format!(
                        "the archived event {} of {} does not match its hash",
                        archived.index,
                        tenant.as_str()
                    ))));
                }
                Ok(LogEntry { index: archived.index, hash, leaf: archived.payload })
            })
            .collect()
    }

    /// The verifier keys to publish.
    pub fn verifier_keys(&self) -> &[String] {
        &self.settings.verifier_keys
    }

    /// The origin of a tenant's log.
    pub fn origin(&self, tenant: &TenantId) -> Result<String, AuditReadError> {
        Ok(jpki_audit::origin(&self.settings.platform, tenant.as_str())?)
    }

    /// The tenant's tree, extended to every leaf the store holds now.
    fn tree(&self, tenant: &TenantId) -> Result<Arc<Mutex<LogHashes>>, AuditReadError> {
        let tree = {
            let mut trees = self.trees.lock().map_err(|_| poisoned())?;
            trees.entry(tenant.clone()).or_insert_with(|| Arc::new(Mutex::new(LogHashes::new()))).clone()
        };
        {
            let mut hashes = tree.lock().map_err(|_| poisoned())?;
            let size = self.store.audit_size(tenant)?;
            while hashes.size() < size {
                let entries = self.entries(tenant, hashes.size(), MAX_AUDIT_PAGE)?;
                if entries.is_empty() {
                    break;
                }
                for entry in entries {
                    hashes.push_record_hash(entry.hash)?;
                }
            }
        }
        Ok(tree)
    }

    /// Signs a checkpoint of the tenant's log at `size`, which the caller knows to be durable.
    ///
    /// A store may show a leaf before it is on disk (the journal applies before it syncs; Redis
    /// shows a write before its AOF fsync), and a checkpoint over a leaf later lost in a crash
    /// would be a signed statement the log can never reproduce. So sizes come from a durable
    /// commit: everything appended before a durable commit is durable with it (journal order,
    /// the AOF's order), e.g. the auditor's own read event, or [`AuditLog::publish`]'s write.
    pub fn checkpoint_at(&self, tenant: &TenantId, size: u64) -> Result<SignedCheckpoint, AuditReadError> {
        let origin = self.origin(tenant)?;
        let tree = self.tree(tenant)?;
        let hashes = tree.lock().map_err(|_| poisoned())?;
        if size > hashes.size() {
            return Err(out_of_range("size", format!("{size} is beyond the log's {} events", hashes.size())));
        }
        let root = hashes.root(size)?;
        let note = self.settings.signer.sign(&origin, size, root)?;
        Ok(SignedCheckpoint { note, origin, size, root: root.0 })
    }

    /// Signs a checkpoint at the log's current size and makes it durable (the latest published
    /// checkpoint of the tenant, one small store value), which also makes every leaf it covers
    /// durable; for readers that write no event (the tile server). Writes no leaf.
    pub fn publish(&self, tenant: &TenantId) -> Result<SignedCheckpoint, AuditReadError> {
        let size = self.store.audit_size(tenant)?;
        let checkpoint = self.checkpoint_at(tenant, size)?;
        self.store.put_meta(&format!("audit/checkpoint/{}", tenant.as_str()), checkpoint.note.as_bytes())?;
        // The history auditors can be shown later; after the store's durable write, so that a
        // checkpoint is archived only over leaves that are durable.
        self.archive.put_checkpoint(tenant.as_str(), checkpoint.size, &checkpoint.note).map_err(archive_error)?;
        Ok(checkpoint)
    }

    /// The hash tile at the C2SP path `tile/<L>/<N>[.p/<W>]` of the tenant's tree, when every
    /// leaf under it is among the first `within` (a published checkpoint's size).
    pub fn tile(&self, tenant: &TenantId, path: &str, within: u64) -> Result<Vec<u8>, AuditReadError> {
        let tree = self.tree(tenant)?;
        let hashes = tree.lock().map_err(|_| poisoned())?;
        hashes.tile(path, within).map_err(|error| out_of_range("path", error.to_string()))
    }

    /// The log's size now, durable or not (to decide whether to publish; never to answer with).
    pub fn size_now(&self, tenant: &TenantId) -> Result<u64, AuditReadError> {
        Ok(self.store.audit_size(tenant)?)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves, with the leaf; `size` at
    /// most `durable` (see [`AuditLog::checkpoint_at`]).
    pub fn inclusion(
        &self,
        tenant: &TenantId,
        index: u64,
        size: u64,
        durable: u64,
    ) -> Result<(Vec<Hash>, LogEntry), AuditReadError> {
        let tree = self.tree(tenant)?;
        let hashes = tree.lock().map_err(|_| poisoned())?;
        let known = hashes.size().min(durable);
        if size > known {
            return Err(out_of_range("tree_size", format!("{size} is beyond the log's {known} events")));
        }
        if index >= size {
            return Err(out_of_range("index", format!("{index} is not below the tree size {size}")));
        }
        let proof = hashes.inclusion_proof(index, size)?;
        drop(hashes);
        let entry = self.entries(tenant, index, 1)?.into_iter().next();
        let entry = entry.ok_or_else(|| out_of_range("index", format!("{index} has no leaf")))?;
        Ok((proof, entry))
    }

    /// The consistency proof between the trees of `old` and `new` leaves; `new` at most
    /// `durable` (see [`AuditLog::checkpoint_at`]).
    pub fn consistency(
        &self,
        tenant: &TenantId,
        old: u64,
        new: u64,
        durable: u64,
    ) -> Result<Vec<Hash>, AuditReadError> {
        let tree = self.tree(tenant)?;
        let hashes = tree.lock().map_err(|_| poisoned())?;
        let known = hashes.size().min(durable);
        if new > known {
            return Err(out_of_range("new_size", format!("{new} is beyond the log's {known} events")));
        }
        if old > new {
            return Err(out_of_range("old_size", format!("{old} is above new_size {new}")));
        }
        Ok(hashes.consistency_proof(old, new)?)
    }

    /// Records the calls of `principal` refused with `code` between `from` and `to` (one
    /// aggregate event with their count, not one event per call).
    pub fn record_refusals(
        &self,
        tenant: &TenantId,
        principal: &str,
        code: &str,
        count: u64,
        from: UnixTime,
        to: UnixTime,
    ) -> Result<u64, AuditReadError> {
        let call = CallContext { principal: principal.to_owned(), ..CallContext::default() };
        let mut event = call.event(tenant, to);
        event.code = code.to_owned();
        event.count = Some(count);
        event.detail.insert("aggregate".into(), "refused".into());
        event.detail.insert("from".into(), from.0.to_string());
        event.detail.insert("to".into(), to.0.to_string());
        Ok(self.store.write_audited(tenant, TenantWrite::Nothing, one(&event)?)?.index)
    }

    /// Records an auditor's read in the tenant's log (auditors' reads are events too); returns the
    /// read event's index. Durable when it returns, and so is every leaf before it: the read's
    /// answer never goes beyond `index + 1`.
    pub fn record_read(
        &self,
        call: &CallContext,
        tenant: &TenantId,
        at: UnixTime,
        detail: &[(&str, String)],
    ) -> Result<u64, AuditReadError> {
        let mut event = call.event(tenant, at);
        event.detail = detail.iter().map(|(key, value)| ((*key).to_owned(), value.clone())).collect();
        Ok(self.store.write_audited(tenant, TenantWrite::Nothing, one(&event)?)?.index)
    }
}

/// An archive failure, as the app reports storage failures.
pub(crate) fn archive_error(error: ArchiveError) -> AuditReadError {
    AuditReadError::App(AppError::Archive(error))
}

fn out_of_range(field: &'static str, reason: String) -> AuditReadError {
    AuditReadError::OutOfRange { field, reason }
}

fn poisoned() -> AuditReadError {
    AuditReadError::App(AppError::Storage(StoreError::Backend("the audit tree's lock is poisoned".into())))
}
