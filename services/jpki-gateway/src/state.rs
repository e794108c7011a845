//! What every handler shares: the verifier, the revocation store, the tenant store and settings.

use std::sync::Arc;

use jpki_core::Verifier;
use jpki_revocation::RevocationStore;
use jpki_store::{StoreError, TenantStore};
use tonic::Status;

use crate::events::EventHub;
use crate::settings::GatewayConfig;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    /// The verifier (anchors, policies, the revocation store as its source).
    pub verifier: Arc<Verifier>,
    /// The revocation store (for status checks by certificate id).
    pub revocation: Arc<RevocationStore>,
    /// Durable tenant-keyed storage.
    pub store: Arc<dyn TenantStore>,
    /// The configuration the server started with.
    pub config: Arc<GatewayConfig>,
    /// New revocation events, for open watch streams.
    pub events: EventHub,
}

impl AppState {
    /// Runs a store operation off the async workers (the store fsyncs); a failure is INTERNAL.
    pub async fn store<T, F>(&self, operation: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&dyn TenantStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || operation(store.as_ref()))
            .await
            .map_err(|_| Status::internal("store task failed"))?
            .map_err(|error| crate::errors::storage_failed(&error))
    }

    /// Runs CPU-bound verification off the async workers.
    pub async fn verify<T, F>(&self, work: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Verifier) -> T + Send + 'static,
    {
        let verifier = self.verifier.clone();
        tokio::task::spawn_blocking(move || work(&verifier))
            .await
            .map_err(|_| Status::internal("verification task failed"))
    }
}

/// A random identifier of `bytes` random bytes, lowercase hex.
pub fn random_id(bytes: usize) -> Result<String, Status> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|_| Status::internal("no randomness available"))?;
    Ok(hex::encode(buffer))
}
