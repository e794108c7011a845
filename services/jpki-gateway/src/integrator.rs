//! The audit log's background work: every replica copies the lists it installed into the
//! long-term archive; the leader (the archive's lease) moves the tenants' durable events and
//! evidence there ([`AuditLog::integrate_all`]), publishes a checkpoint of each log that grew
//! every `checkpoint_interval_seconds`, and applies retention once a day. On a drain the leader
//! integrates and publishes once more.
//!
//! The maximum delay between an answered call and a published checkpoint that covers its event
//! is therefore `integrate_interval_seconds + checkpoint_interval_seconds` while a leader runs
//! (docs/audit.md); GetCheckpoint signs on demand on any replica meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jpki_app::AuditLog;
use jpki_app::clock::now;
use jpki_app::directory::Directory;
use jpki_store::TenantId;
use tokio::sync::watch;

/// How often retention runs.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The intervals of [`run`].
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    /// Between integration passes.
    pub integrate: Duration,
    /// Between published checkpoints of a log that grew.
    pub checkpoint: Duration,
}

/// Runs until the server drains (then one last pass).
pub async fn run(intervals: Intervals, log: Arc<AuditLog>, directory: Directory, mut draining: watch::Receiver<bool>) {
    let mut state = Passes { published: HashMap::new(), last_publish: None, last_expiry: None };
    loop {
        let stopping = tokio::select! {
            _ = draining.changed() => true,
            () = tokio::time::sleep(intervals.integrate) => false,
        };
        let (log, directory) = (log.clone(), directory.clone());
        let mut passes = std::mem::take(&mut state);
        let done = tokio::task::spawn_blocking(move || {
            passes.once(&log, &directory, intervals, stopping);
            passes
        })
        .await;
        match done {
            Ok(passes) => state = passes,
            Err(error) => tracing::error!(%error, "the audit integration task failed"),
        }
        if stopping {
            return;
        }
    }
}

/// What the passes remember between runs.
#[derive(Default)]
struct Passes {
    published: HashMap<TenantId, u64>,
    last_publish: Option<Instant>,
    last_expiry: Option<Instant>,
}

impl Passes {
    fn once(&mut self, log: &AuditLog, directory: &Directory, intervals: Intervals, stopping: bool) {
        if let Err(error) = log.copy_lists() {
            tracing::warn!(%error, "copying revocation lists into the audit archive");
        }
        match log.is_leader() {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, "the audit archive's leadership cannot be checked");
                return;
            }
        }
        // The directory's tenants: a Redis store would otherwise have to scan its whole keyspace.
        let tenants = match directory.tenant_ids_ever() {
            Ok(tenants) => tenants,
            Err(error) => {
                tracing::warn!(%error, "the directory cannot be read for the audit integration");
                return;
            }
        };
        match log.integrate_each(&tenants) {
            Ok(report) if report.leaves > 0 || report.certificates > 0 || report.lists_missing > 0 => {
                tracing::debug!(?report, "audit events integrated into the archive");
                if report.lists_missing > 0 {
                    tracing::warn!(missing = report.lists_missing, "events cite lists this replica does not have");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "integrating the audit logs into the archive"),
        }
        if stopping || self.last_publish.is_none_or(|last| last.elapsed() >= intervals.checkpoint) {
            self.publish(log, directory);
            self.last_publish = Some(Instant::now());
        }
        if !stopping && self.last_expiry.is_none_or(|last| last.elapsed() >= EXPIRY_INTERVAL) {
            match log.expire(now().0) {
                Ok(report) => {
                    tracing::info!(leaves = report.leaves, evidence = report.evidence, "audit retention applied")
                }
                Err(error) => tracing::warn!(%error, "audit retention"),
            }
            self.last_expiry = Some(Instant::now());
        }
    }

    /// Publishes a checkpoint of every tenant's log that grew since its last one here.
    fn publish(&mut self, log: &AuditLog, directory: &Directory) {
        for tenant in directory.tenant_ids().unwrap_or_default() {
            let grown =
                log.size_now(&tenant).is_ok_and(|size| self.published.get(&tenant).is_none_or(|last| size > *last));
            if !grown {
                continue;
            }
            match log.publish(&tenant) {
                Ok(checkpoint) => {
                    self.published.insert(tenant, checkpoint.size);
                }
                Err(error) => tracing::warn!(%error, tenant = tenant.as_str(), "periodic checkpoint"),
            }
        }
    }
}
