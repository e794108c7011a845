//! What every handler shares: the application and the hub that wakes watch streams.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jpki_app::{App, AppError};
use jpki_store::JournalStore;
use tonic::Status;

use crate::events::EventHub;

/// The most input bytes a use case may read on a runtime worker (about 0.2 ms of SHA-256 here);
/// larger ones run on a blocking thread.
pub const INLINE_MAX_BYTES: usize = 256 * 1024;

/// Shared handler state.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub app: App,
    /// New revocation events, for open watch streams.
    pub events: EventHub,
    /// The store, when it is the embedded journal: use cases then run on the calling task and
    /// await their durability (see [`AppState::run`]).
    pub journal: Option<Arc<JournalStore>>,
    /// The directory behind its cache: watch streams end when their tenant is suspended.
    pub access: Arc<crate::auth::Access>,
    /// Use cases on the journal between their start and their answer's durability.
    pub in_flight: Arc<AtomicUsize>,
}

/// Counts a use case in [`AppState::in_flight`] until it is dropped (answered or cancelled).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    /// Counts one more; returns the guard and how many are in flight with it.
    fn enter(count: &'a AtomicUsize) -> (Self, usize) {
        let with_this = count.fetch_add(1, Ordering::Relaxed) + 1;
        (InFlight(count), with_this)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AppState {
    /// Runs one use case and turns its error into a status.
    ///
    /// On the journal, the use case runs right here: its store calls only touch memory (tens of
    /// microseconds with the verification), and their `fdatasync` is awaited afterwards, shared
    /// with every call in flight: while no more calls are in flight than there are runtime
    /// workers, this task leads the flush when none is under way (blocking this worker for one
    /// sync); otherwise it waits without blocking, for the flush under way or the flusher
    /// thread's. That saves the thread hand-offs of a blocking thread per call. On redb and
    /// Redis, whose calls block on disk or network, it runs whole on a blocking thread.
    pub async fn run<T, F>(&self, use_case: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&App) -> Result<T, AppError> + Send + 'static,
    {
        self.run_sized(0, use_case).await
    }

    /// [`AppState::run`] for a use case that reads `bytes` of input (a signed document): above
    /// [`INLINE_MAX_BYTES`] it runs on a blocking thread even on the journal, so that hashing a
    /// large document never holds a runtime worker for milliseconds.
    pub async fn run_sized<T, F>(&self, bytes: usize, use_case: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&App) -> Result<T, AppError> + Send + 'static,
    {
        if let Some(journal) = self.journal.as_ref().filter(|_| bytes <= INLINE_MAX_BYTES) {
            let (_counted, in_flight) = InFlight::enter(&self.in_flight);
            let (outcome, upto) = journal.deferring(|| use_case(&self.app));
            if let Some(upto) = upto {
                // Lead the flush on this worker only while no more calls are in flight than there
                // are workers: under a queue, a worker blocked in a sync would stall calls it
                // could serve, and the flusher thread syncs for all of them at once.
                let workers =
                    tokio::runtime::Handle::try_current().map_or(1, |runtime| runtime.metrics().num_workers());
                let durable =
                    if in_flight <= workers { journal.durable(upto) } else { journal.durable_led_elsewhere(upto) };
                durable.await.map_err(|error| crate::encode::app_error(&AppError::from(error)))?;
            }
            return outcome.map_err(|error| crate::encode::app_error(&error));
        }
        let app = self.app.clone();
        tokio::task::spawn_blocking(move || use_case(&app))
            .await
            .map_err(|_| Status::internal("the call's task failed"))?
            .map_err(|error| crate::encode::app_error(&error))
    }
}
