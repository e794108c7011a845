//! What every handler shares: the application and the hub that wakes watch streams.

use jpki_app::{App, AppError};
use tonic::Status;

use crate::events::EventHub;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: App,
    /// New revocation events, for open watch streams.
    pub events: EventHub,
}

impl AppState {
    /// Runs one use case whole on a blocking thread (the store fsyncs, verification is
    /// CPU-bound), and turns its error into a status.
    pub async fn run<T, F>(&self, use_case: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&App) -> Result<T, AppError> + Send + 'static,
    {
        let app = self.app.clone();
        tokio::task::spawn_blocking(move || use_case(&app))
            .await
            .map_err(|_| Status::internal("the call's task failed"))?
            .map_err(|error| crate::encode::app_error(&error))
    }
}
