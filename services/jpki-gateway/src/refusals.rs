//! Calls refused before they reach a service, counted per (tenant, principal, code) and written
//! to the tenant's audit log once per interval as one aggregate event each: a flood of refused
//! calls costs one counter increment per call and one write per interval, never a write per call.
//!
//! Counted: a tenant's credential refused (UNAUTHENTICATED, in the auth layer: its key id with a
//! wrong secret, a revoked or expired key, a suspended tenant, a missing client certificate), a
//! tenant's call outside its policy (PERMISSION_DENIED, in the auth layer) and over its quota
//! (RESOURCE_EXHAUSTED, in the quota layer). The counts of the interval under way live in
//! memory: a crash loses at most that interval's aggregates (docs/audit.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jpki_app::AuditLog;
use jpki_app::clock::now;
use jpki_store::TenantId;
use tokio::sync::watch;

/// What is counted: whose log, which principal, which gRPC code.
type Key = (TenantId, String, tonic::Code);

/// The counts of the interval under way.
#[derive(Debug, Default)]
pub struct Refusals {
    counts: Mutex<HashMap<Key, u64>>,
}

impl Refusals {
    /// Counts one refused call of `principal`, for `tenant`'s log.
    pub fn record(&self, tenant: &TenantId, principal: &str, code: tonic::Code) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry((tenant.clone(), principal.to_owned(), code)).or_default() += 1;
        }
    }

    /// The counts so far, leaving none.
    fn take(&self) -> HashMap<Key, u64> {
        self.counts.lock().map(|mut counts| std::mem::take(&mut *counts)).unwrap_or_default()
    }
}

/// A gRPC code's canonical name, as events carry it.
fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
        _ => "OTHER",
    }
}

/// Writes the aggregates every `interval` (and once more when the server drains).
pub async fn run(refusals: Arc<Refusals>, log: Arc<AuditLog>, interval: Duration, mut draining: watch::Receiver<bool>) {
    let mut from = now();
    loop {
        let stopping = tokio::select! {
            _ = draining.changed() => true,
            () = tokio::time::sleep(interval) => false,
        };
        let to = now();
        let counts = refusals.take();
        if !counts.is_empty() {
            let log = log.clone();
            let written = tokio::task::spawn_blocking(move || {
                for ((tenant, principal, code), count) in counts {
                    let code = code_name(code);
                    if let Err(error) = log.record_refusals(&tenant, &principal, code, count, from, to) {
                        tracing::warn!(%error, tenant = tenant.as_str(), "refused calls not recorded in the audit log");
                    }
                }
            })
            .await;
            if written.is_err() {
                tracing::warn!("the refused calls' task failed");
            }
        }
        from = to;
        if stopping {
            return;
        }
    }
}
