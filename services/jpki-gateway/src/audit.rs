//! `jpki.audit.v1.AuditService`: an auditor's reads of the tenants' transparency logs it is
//! granted (checkpoints, events, inclusion and consistency proofs). Every read is itself an event
//! in the tenant's log. docs/audit.md describes the model and the formats.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context as _;
use jpki_api::audit::v1;
use jpki_app::audit::{AuditReadError, AuditSettings};
use jpki_app::clock::now;
use jpki_app::directory::Principal;
use jpki_app::{AuditLog, CallContext};
use jpki_audit::LogSigner;
use jpki_store::TenantId;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::auth::{call_of, caller_of};
use crate::decode::bad_request;
use crate::settings::GatewayConfig;

/// Where, under `data_dir`, every revocation list the gateway installs is archived under the
/// digest its audit events name (`jpki_revocation::archive`).
pub const LIST_ARCHIVE: &str = "evidence/lists";

/// The most events one StreamEvents call returns (resume from the last index plus one).
pub const MAX_EVENTS_PER_CALL: u64 = 10_000;

/// The seed file made on first start when none is configured (single node).
const DEFAULT_KEY_FILE: &str = "audit-signing.key";

/// The checkpoint signer and the keys to publish, from the configuration: the configured seed
/// file, or `data_dir/audit-signing.key`, made with a random seed on first start.
pub fn settings(config: &GatewayConfig) -> anyhow::Result<AuditSettings> {
    let path = match &config.audit.signing_key_file {
        Some(path) => path.clone(),
        None => {
            let path = config.data_dir.join(DEFAULT_KEY_FILE);
            if !path.exists() {
                make_seed_file(&path)?;
            }
            path
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("audit.signing_key_file {}: cannot read", path.display()))?;
    let seed: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| format!("audit.signing_key_file {}: not 64 hex digits", path.display()))?;
    let signer = LogSigner::from_seed(&config.audit.platform, &seed)
        .map_err(|error| anyhow::anyhow!("audit.platform {:?}: {error}", config.audit.platform))?;
    // The origin check refuses a platform name the formats cannot carry, before any call.
    jpki_audit::origin(&config.audit.platform, "check")
        .map_err(|error| anyhow::anyhow!("audit.platform {:?}: {error}", config.audit.platform))?;
    let mut verifier_keys = vec![signer.vkey()];
    verifier_keys.extend(config.audit.previous_verifier_keys.iter().cloned());
    jpki_audit::CheckpointVerifier::new(&verifier_keys)
        .map_err(|error| anyhow::anyhow!("audit.previous_verifier_keys: {error}"))?;
    let retention_seconds = i64::try_from(config.audit.retention_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
    Ok(AuditSettings {
        platform: config.audit.platform.clone(),
        signer: Arc::new(signer),
        verifier_keys,
        retention_seconds,
        list_archive: Some(config.data_dir.join(LIST_ARCHIVE)),
    })
}

/// Where, under `data_dir`, the single-node long-term archive is.
pub const FILE_ARCHIVE: &str = "audit/archive.redb";

/// The long-term archive: PostgreSQL when configured, else the redb file under `data_dir`.
/// Blocking: call from a blocking thread.
pub fn open_archive(config: &GatewayConfig) -> anyhow::Result<Arc<dyn jpki_archive::AuditArchive>> {
    Ok(match &config.audit.postgres {
        Some(postgres) => Arc::new(
            jpki_archive::PgArchive::connect(&postgres.url)
                .map_err(|error| anyhow::anyhow!("audit.postgres: cannot open the archive: {error}"))?,
        ),
        None => {
            let path = config.data_dir.join(FILE_ARCHIVE);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
            }
            Arc::new(
                jpki_archive::FileArchive::open(&path)
                    .map_err(|error| anyhow::anyhow!("{}: cannot open the audit archive: {error}", path.display()))?,
            )
        }
    })
}

/// Writes a new random seed, readable by the owner only.
fn make_seed_file(path: &Path) -> anyhow::Result<()> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|_| anyhow::anyhow!("no randomness for the audit signing key"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("{}: cannot create", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", hex::encode(seed)).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    tracing::info!(path = %path.display(), "made the audit log signing key");
    Ok(())
}

/// `jpki.audit.v1.AuditService`.
#[derive(Clone)]
pub struct AuditApi {
    log: Arc<AuditLog>,
    anchors: Arc<Vec<Vec<u8>>>,
}

impl AuditApi {
    /// The service over the tenants' logs; `anchors` (DER) are shown with each event's evidence.
    pub fn new(log: Arc<AuditLog>, anchors: Vec<Vec<u8>>) -> Self {
        AuditApi { log, anchors: Arc::new(anchors) }
    }

    /// Runs a read of `tenant`'s log for an auditor of it, after recording the read in that log.
    /// The read gets the durable size: the events up to and including its own read event, all
    /// durable (it never answers beyond them; see `AuditLog::checkpoint_at`).
    async fn read<T, R>(
        &self,
        request: &Request<R>,
        tenant: &str,
        what: &'static str,
        detail: Vec<(&'static str, String)>,
        read: impl FnOnce(&AuditLog, &TenantId, u64) -> Result<T, AuditReadError> + Send + 'static,
    ) -> Result<T, Status>
    where
        T: Send + 'static,
    {
        let tenant = granted(request, tenant)?;
        let call: Arc<CallContext> = call_of(request)?;
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || {
            let mut detail = detail;
            detail.push(("read", what.to_owned()));
            let index = log.record_read(&call, &tenant, now(), &detail)?;
            read(&log, &tenant, index + 1)
        })
        .await
        .map_err(|_| Status::internal("the read's task failed"))?
        .map_err(|error| read_error(&error))
    }
}

/// The tenant, when the caller is an auditor granted it; PERMISSION_DENIED otherwise, the same
/// whether the tenant exists or not.
fn granted<R>(request: &Request<R>, tenant: &str) -> Result<TenantId, Status> {
    let caller = caller_of(request)?;
    let denied = || Status::permission_denied("not an auditor of this tenant");
    match &caller.principal {
        Principal::Auditor { tenants, .. } => {
            tenants.iter().find(|granted| granted.as_str() == tenant).cloned().ok_or_else(denied)
        }
        Principal::Tenant(_) | Principal::Operator { .. } => Err(denied()),
    }
}

fn read_error(error: &AuditReadError) -> Status {
    match error {
        AuditReadError::OutOfRange { field, reason } => bad_request(field, reason),
        AuditReadError::App(error) => crate::encode::app_error(error),
    }
}

/// The stream type of StreamEvents.
pub type EntryStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<v1::AuditEntry, Status>> + Send>>;

#[tonic::async_trait]
impl v1::audit_service_server::AuditService for AuditApi {
    async fn get_checkpoint(
        &self,
        request: Request<v1::GetCheckpointRequest>,
    ) -> Result<Response<v1::Checkpoint>, Status> {
        let tenant = request.get_ref().tenant.clone();
        let checkpoint = self
            .read(&request, &tenant, "checkpoint", Vec::new(), |log, t, durable| log.checkpoint_at(t, durable))
            .await?;
        Ok(Response::new(v1::Checkpoint {
            note: checkpoint.note,
            origin: checkpoint.origin,
            size: checkpoint.size,
            root_hash: checkpoint.root.to_vec(),
            verifier_keys: self.log.verifier_keys().to_vec(),
        }))
    }

    type StreamEventsStream = EntryStream;

    async fn stream_events(
        &self,
        request: Request<v1::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        let v1::StreamEventsRequest { tenant, from, to } = request.get_ref().clone();
        if to != 0 && to < from {
            return Err(bad_request("to", "below from"));
        }
        let detail = vec![("from", from.to_string()), ("to", to.to_string())];
        let size = self.read(&request, &tenant, "events", detail, |_, _, durable| Ok(durable)).await?;
        // Up to the size when the call began (its own read event included), at most a page.
        let end = if to == 0 { size } else { to.min(size) }.min(from.saturating_add(MAX_EVENTS_PER_CALL));
        let tenant = granted(&request, &tenant)?;
        let (sender, receiver) = mpsc::channel(16);
        let log = self.log.clone();
        tokio::spawn(async move {
            let mut next = from;
            while next < end {
                let (log, tenant) = (log.clone(), tenant.clone());
                let limit = usize::try_from(end - next).unwrap_or(usize::MAX).min(jpki_store::MAX_AUDIT_PAGE);
                let page = tokio::task::spawn_blocking(move || log.entries(&tenant, next, limit)).await;
                let entries = match page {
                    Ok(Ok(entries)) if !entries.is_empty() => entries,
                    Ok(Ok(_)) => return,
                    Ok(Err(error)) => {
                        let _ = sender.send(Err(read_error(&error))).await;
                        return;
                    }
                    Err(_) => {
                        let _ = sender.send(Err(Status::internal("the read's task failed"))).await;
                        return;
                    }
                };
                for entry in entries {
                    let sent = v1::AuditEntry {
                        index: entry.index,
                        leaf: entry.leaf.unwrap_or_default(),
                        leaf_hash: entry.hash.0.to_vec(),
                    };
                    if sender.send(Ok(sent)).await.is_err() {
                        return;
                    }
                    next += 1;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn get_inclusion_proof(
        &self,
        request: Request<v1::GetInclusionProofRequest>,
    ) -> Result<Response<v1::InclusionProof>, Status> {
        let v1::GetInclusionProofRequest { tenant, index, tree_size } = request.get_ref().clone();
        let detail = vec![("index", index.to_string()), ("tree_size", tree_size.to_string())];
        let (proof, entry) = self
            .read(&request, &tenant, "inclusion_proof", detail, move |log, t, durable| {
                log.inclusion(t, index, tree_size, durable)
            })
            .await?;
        Ok(Response::new(v1::InclusionProof {
            index,
            tree_size,
            hashes: proof.iter().map(|hash| hash.0.to_vec()).collect(),
            leaf: entry.leaf.unwrap_or_default(),
        }))
    }

    async fn get_consistency_proof(
        &self,
        request: Request<v1::GetConsistencyProofRequest>,
    ) -> Result<Response<v1::ConsistencyProof>, Status> {
        let v1::GetConsistencyProofRequest { tenant, old_size, new_size } = request.get_ref().clone();
        let detail = vec![("old_size", old_size.to_string()), ("new_size", new_size.to_string())];
        let proof = self
            .read(&request, &tenant, "consistency_proof", detail, move |log, t, durable| {
                log.consistency(t, old_size, new_size, durable)
            })
            .await?;
        Ok(Response::new(v1::ConsistencyProof {
            old_size,
            new_size,
            hashes: proof.iter().map(|hash| hash.0.to_vec()).collect(),
        }))
    }

    async fn get_evidence(&self, request: Request<v1::GetEvidenceRequest>) -> Result<Response<v1::Evidence>, Status> {
        let v1::GetEvidenceRequest { tenant, index } = request.get_ref().clone();
        let detail = vec![("index", index.to_string())];
        let evidence = self
            .read(&request, &tenant, "evidence", detail, move |log, t, durable| log.evidence(t, index, durable))
            .await?;
        Ok(Response::new(v1::Evidence {
            index,
            leaf: evidence.leaf.unwrap_or_default(),
            certificate: evidence.certificate.unwrap_or_default(),
            lists: evidence
                .lists
                .into_iter()
                .map(|(key, der)| v1::EvidenceList { tbs_sha256: key.to_vec(), der: der.unwrap_or_default() })
                .collect(),
            anchors: self.anchors.as_ref().clone(),
        }))
    }
}
