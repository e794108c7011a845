//! Keeping every configured list fresh in the revocation store.
//!
//! Each cycle, per list: without Redis, fetch from the source (conditional GET) and install what
//! is new; with Redis, first install what another replica published, then, if the list is due
//! and this replica wins the lease, fetch from the CA and publish (see [`crate::coordinate`]).
//! Installing always re-checks the CA's signature, the dates and the number; a failed fetch or a
//! refused list keeps the last good list in use.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jpki_core::UnixTime;
use jpki_revocation::{ChangeSet, CompactList, CrlNumber, LoadError, RevocationStore, change_set};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::coordinate::{CoordinationError, Coordinator, Lease, Published, RedisConfig};
use crate::fetch::{FetchOutcome, Fetcher, Validators};
use crate::ledger::{FileLedger, LedgerError};
use crate::source::CrlSource;

/// One list to keep fresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListConfig {
    /// Stable name (used in Redis keys, the ledger and provenance), e.g. `signing-card-g2`.
    pub name: String,
    /// Where it comes from.
    pub source: CrlSource,
}

/// Refresh settings.
#[derive(Clone, Debug)]
pub struct RefreshConfig {
    /// The lists.
    pub lists: Vec<ListConfig>,
    /// How often the CA is asked, per list, across all replicas.
    pub interval: Duration,
    /// How often a follower looks at Redis when no notification arrives.
    pub poll_interval: Duration,
    /// Redis, for several replicas; `None` fetches directly.
    pub redis: Option<RedisConfig>,
    /// Where the highest accepted cRLNumber per list is kept across restarts.
    pub ledger: Option<PathBuf>,
}

/// Why the refresher could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Redis could not be reached.
    #[error(transparent)]
    Coordination(#[from] CoordinationError),
    /// The ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// How a list reached this replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Fetched from the source by this replica.
    Source,
    /// Published in Redis by another (or this) replica.
    Redis,
}

/// What one refresh step did, for logs, metrics and tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RefreshEvent {
    /// A new list is in use.
    Installed {
        /// List name.
        list: String,
        /// cRLNumber, decimal.
        number: String,
        /// Entries.
        entries: u64,
        /// Where it came from.
        via: Via,
        /// Certificates newly revoked compared with the previous list.
        newly_revoked: usize,
    },
    /// The source has nothing newer.
    NotModified {
        /// List name.
        list: String,
    },
    /// The list was not due, or another replica holds the lease.
    Skipped {
        /// List name.
        list: String,
        /// Why.
        why: &'static str,
    },
    /// The source could not be reached; the last good list stays in use.
    FetchFailed {
        /// List name.
        list: String,
        /// The error.
        error: String,
    },
    /// The source served a list that was refused; the last good list stays in use.
    Refused {
        /// List name.
        list: String,
        /// Why.
        error: String,
    },
    /// This replica's lease ran out before it could publish; its list was not published.
    PublishRefused {
        /// List name.
        list: String,
        /// The stale fencing token.
        fence: u64,
    },
    /// Redis failed; the last good list stays in use.
    CoordinationFailed {
        /// List name.
        list: String,
        /// The error.
        error: String,
    },
}

/// Observability per list: what is in use and how the last attempt went.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ListStatus {
    /// List name.
    pub name: String,
    /// The source.
    pub source: String,
    /// cRLNumber in use.
    pub number: Option<String>,
    /// thisUpdate of the list in use.
    pub this_update: Option<UnixTime>,
    /// nextUpdate of the list in use.
    pub next_update: Option<UnixTime>,
    /// Entries in use.
    pub entries: u64,
    /// Outcome of the last attempt (the event name).
    pub last_result: Option<String>,
    /// When it was.
    pub last_attempt: Option<UnixTime>,
    /// Full downloads from the source by this replica.
    pub downloads: u64,
    /// Seconds since the thisUpdate of the list in use.
    pub age_seconds: Option<i64>,
    /// Whether the list in use is past its nextUpdate (an alert, not a readiness failure).
    pub stale: bool,
}

#[derive(Debug, Default)]
struct ListState {
    status: ListStatus,
    validators: Validators,
    installed_fence: u64,
}

/// Keeps lists fresh. Share it in an `Arc`; [`Refresher::run`] drives it.
pub struct Refresher {
    config: RefreshConfig,
    store: Arc<RevocationStore>,
    fetcher: Fetcher,
    coordinator: Option<Coordinator>,
    ledger: Option<Mutex<FileLedger>>,
    state: Mutex<HashMap<String, ListState>>,
    changes: broadcast::Sender<ChangeSet>,
    events: broadcast::Sender<RefreshEvent>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher").field("lists", &self.config.lists.len()).finish_non_exhaustive()
    }
}

fn now() -> UnixTime {
    let seconds =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
    UnixTime(i64::try_from(seconds).unwrap_or(i64::MAX))
}

impl Refresher {
    /// Connects to Redis (if configured) and opens the ledger.
    pub async fn new(
        config: RefreshConfig,
        store: Arc<RevocationStore>,
        fetcher: Fetcher,
    ) -> Result<Self, RefreshError> {
        let coordinator = match &config.redis {
            Some(redis) => Some(Coordinator::connect(redis.clone()).await?),
            None => None,
        };
        let ledger = config.ledger.as_deref().map(FileLedger::open).transpose()?.map(Mutex::new);
        let state = config
            .lists
            .iter()
            .map(|list| {
                let status =
                    ListStatus { name: list.name.clone(), source: list.source.describe(), ..ListStatus::default() };
                (list.name.clone(), ListState { status, ..ListState::default() })
            })
            .collect();
        Ok(Refresher {
            config,
            store,
            fetcher,
            coordinator,
            ledger,
            state: Mutex::new(state),
            changes: broadcast::channel(64).0,
            events: broadcast::channel(256).0,
        })
    }

    /// The configured lists.
    pub fn lists(&self) -> &[ListConfig] {
        &self.config.lists
    }

    /// The store the lists are installed in.
    pub fn store(&self) -> &Arc<RevocationStore> {
        &self.store
    }

    /// Change sets of newly landed lists (newly revoked serials with reasons).
    pub fn subscribe_changes(&self) -> broadcast::Receiver<ChangeSet> {
        self.changes.subscribe()
    }

    /// Every refresh event.
    pub fn subscribe_events(&self) -> broadcast::Receiver<RefreshEvent> {
        self.events.subscribe()
    }

    /// Status of every list.
    pub fn status(&self) -> Vec<ListStatus> {
        let at = now();
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut statuses: Vec<ListStatus> = state
            .values()
            .map(|list| {
                let mut status = list.status.clone();
                status.stale = status.next_update.is_none_or(|next| next < at);
                status.age_seconds = status.this_update.map(|this_update| at.0.saturating_sub(this_update.0));
                status
            })
            .collect();
        statuses.sort_by(|a, b| a.name.cmp(&b.name));
        statuses
    }

    /// Whether every list has been installed at least once (readiness).
    pub fn all_loaded(&self) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).values().all(|list| list.status.number.is_some())
    }

    fn with_state<T>(&self, list: &str, change: impl FnOnce(&mut ListState) -> T) -> Option<T> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).get_mut(list).map(change)
    }

    fn emit(&self, event: RefreshEvent) -> RefreshEvent {
        let (list, name) = match &event {
            RefreshEvent::Installed { list, .. } => (list, "installed"),
            RefreshEvent::NotModified { list } => (list, "not_modified"),
            RefreshEvent::Skipped { list, .. } => (list, "skipped"),
            RefreshEvent::FetchFailed { list, .. } => (list, "fetch_failed"),
            RefreshEvent::Refused { list, .. } => (list, "refused"),
            RefreshEvent::PublishRefused { list, .. } => (list, "publish_refused"),
            RefreshEvent::CoordinationFailed { list, .. } => (list, "coordination_failed"),
        };
        if !matches!(event, RefreshEvent::Skipped { .. }) {
            self.with_state(list, |state| {
                state.status.last_result = Some(name.to_owned());
                state.status.last_attempt = Some(now());
            });
        }
        tracing::info!(?event, "revocation list refresh");
        let _ = self.events.send(event.clone());
        event
    }

    /// Checks and installs a list. Returns the event to report.
    /// `published` is the highest number published in Redis, which a leader must not go below even
    /// when its own store and ledger are empty (a freshly started replica).
    async fn install(&self, list: &ListConfig, der: Vec<u8>, via: Via, published: Option<&CrlNumber>) -> RefreshEvent {
        let name = list.name.clone();
        let anchors = self.store.anchors().to_vec();
        let label = format!("{name} ({})", list.source.describe());
        // Parsing and indexing tens of millions of entries is CPU work: keep it off the runtime.
        let built = tokio::task::spawn_blocking(move || CompactList::from_der(&label, &der, &anchors)).await;
        let refused = |error: String| RefreshEvent::Refused { list: name.clone(), error };
        let candidate = match built {
            Ok(Ok(candidate)) => candidate,
            Ok(Err(error)) => return refused(error.to_string()),
            Err(join) => return refused(format!("indexing task failed: {join}")),
        };
        let number = candidate.meta().crl_number.clone();
        if let Some(published) = published.filter(|published| number < **published) {
            return refused(format!(
                "cRLNumber {number} is below {published}, already published by a replica: a replayed or rolled-back list"
            ));
        }
        if let Some(ledger) = &self.ledger {
            let floor = ledger.lock().unwrap_or_else(PoisonError::into_inner).floor(&name);
            if let Some(floor) = floor.filter(|floor| number < *floor) {
                return refused(format!(
                    "cRLNumber {number} is below {floor}, already accepted: a replayed or rolled-back list"
                ));
            }
        }
        let previous = self.store.complete_list(&candidate.meta().issuer_key_id, &candidate.meta().scope);
        if let Some(previous) = previous.as_ref().filter(|previous| previous.meta().crl_number == number) {
            // Fix: a list carrying the number in use but other content (the CA's list rolled back
            // one number after a revocation, or re-issued under the same number) used to be
            // reported as `not_modified`, hiding the CA's fault. The number must increase
            // (docs/revocation.md); only the very same list again is "not modified".
            let (old, new) = (previous.meta(), candidate.meta());
            if (old.this_update, old.next_update, old.entries) != (new.this_update, new.next_update, new.entries) {
                return refused(format!(
                    "cRLNumber {number} is the number of the list in use but the list differs (thisUpdate {} \
                     vs {}, {} vs {} entries): a rolled-back or re-issued list",
                    new.this_update, old.this_update, new.entries, old.entries
                ));
            }
            return RefreshEvent::NotModified { list: name };
        }
        let changes = previous.as_deref().map(|previous| change_set(previous, &candidate));
        let (this_update, next_update, entries) =
            (candidate.meta().this_update, candidate.meta().next_update, candidate.meta().entries);
        match self.store.insert(candidate, now()) {
            Ok(_) => {}
            Err(LoadError::NotNewer { .. }) if via == Via::Redis => return RefreshEvent::NotModified { list: name },
            Err(error) => return refused(error.to_string()),
        }
        if let Some(ledger) = &self.ledger
            && let Err(error) = ledger.lock().unwrap_or_else(PoisonError::into_inner).record(&name, &number)
        {
            tracing::error!(%error, list = %name, "cannot persist the accepted cRLNumber");
        }
        let newly_revoked = changes.as_ref().map_or(0, |changes| changes.newly_revoked.len());
        if let Some(changes) = changes {
            let _ = self.changes.send(changes);
        }
        self.with_state(&name, |state| {
            state.status.number = Some(number.to_string());
            state.status.this_update = Some(this_update);
            state.status.next_update = next_update;
            state.status.entries = entries;
        });
        RefreshEvent::Installed { list: name, number: number.to_string(), entries, via, newly_revoked }
    }

    /// Fetches from the source with the validators of the list in use.
    async fn fetch_and_install(
        &self,
        list: &ListConfig,
        validators: Validators,
        published: Option<&CrlNumber>,
    ) -> (RefreshEvent, Option<(Vec<u8>, Validators)>) {
        match self.fetcher.fetch(&list.source, &validators).await {
            Err(error) => (RefreshEvent::FetchFailed { list: list.name.clone(), error: error.to_string() }, None),
            Ok(FetchOutcome::NotModified { .. }) => (RefreshEvent::NotModified { list: list.name.clone() }, None),
            Ok(FetchOutcome::Fetched(fetched)) => {
                self.with_state(&list.name, |state| state.status.downloads += 1);
                let mut last = RefreshEvent::NotModified { list: list.name.clone() };
                let mut installed = None;
                for der in fetched.lists {
                    last = self.install(list, der.clone(), Via::Source, published).await;
                    if matches!(last, RefreshEvent::Installed { .. }) {
                        installed = Some(der);
                    }
                }
                if !matches!(last, RefreshEvent::Refused { .. }) {
                    self.with_state(&list.name, |state| state.validators = fetched.validators.clone());
                }
                (last, installed.map(|der| (der, fetched.validators)))
            }
        }
    }

    /// One refresh step for one list.
    pub async fn refresh(&self, list: &ListConfig) -> RefreshEvent {
        let event = match &self.coordinator {
            None => {
                let validators = self.with_state(&list.name, |state| state.validators.clone()).unwrap_or_default();
                self.fetch_and_install(list, validators, None).await.0
            }
            Some(coordinator) => match self.refresh_coordinated(coordinator, list).await {
                Ok(event) => event,
                Err(error) => RefreshEvent::CoordinationFailed { list: list.name.clone(), error: error.to_string() },
            },
        };
        self.emit(event)
    }

    /// Installs what Redis holds for a list, if this replica does not have it yet.
    pub async fn sync_from_redis(&self, list: &ListConfig) -> Option<RefreshEvent> {
        let coordinator = self.coordinator.as_ref()?;
        let event = match self.sync(coordinator, list).await {
            Ok(None) => return None,
            Ok(Some(event)) => event,
            Err(error) => RefreshEvent::CoordinationFailed { list: list.name.clone(), error: error.to_string() },
        };
        Some(self.emit(event))
    }

    async fn sync(
        &self,
        coordinator: &Coordinator,
        list: &ListConfig,
    ) -> Result<Option<RefreshEvent>, CoordinationError> {
        let Some(published) = coordinator.published(&list.name).await? else { return Ok(None) };
        let installed = self.with_state(&list.name, |state| state.installed_fence).unwrap_or(0);
        if published.fence == installed || published.chunks == 0 {
            return Ok(None);
        }
        let der = coordinator.download(&list.name, &published).await?;
        let event = self.install(list, der, Via::Redis, None).await;
        if matches!(event, RefreshEvent::Installed { .. } | RefreshEvent::NotModified { .. }) {
            self.with_state(&list.name, |state| {
                state.installed_fence = published.fence;
                state.validators =
                    Validators { etag: published.etag.clone(), last_modified: published.last_modified.clone() };
            });
        }
        Ok(Some(event))
    }

    async fn refresh_coordinated(
        &self,
        coordinator: &Coordinator,
        list: &ListConfig,
    ) -> Result<RefreshEvent, CoordinationError> {
        let synced = self.sync(coordinator, list).await?;
        let interval = i64::try_from(self.config.interval.as_secs()).unwrap_or(i64::MAX);
        let due = |published: &Option<Published>| {
            published.as_ref().is_none_or(|published| now().0.saturating_sub(published.checked_at) >= interval)
        };
        if !due(&coordinator.published(&list.name).await?) {
            return Ok(synced.unwrap_or(RefreshEvent::Skipped { list: list.name.clone(), why: "checked recently" }));
        }
        let Some(lease) = coordinator.try_lead(&list.name).await? else {
            return Ok(
                synced.unwrap_or(RefreshEvent::Skipped { list: list.name.clone(), why: "another replica leads" })
            );
        };
        let result = self.lead(coordinator, list, lease).await;
        coordinator.release(&list.name, lease).await?;
        result
    }

    async fn lead(
        &self,
        coordinator: &Coordinator,
        list: &ListConfig,
        lease: Lease,
    ) -> Result<RefreshEvent, CoordinationError> {
        // Re-read under the lease: another leader may have checked just before.
        let published = coordinator.published(&list.name).await?;
        let interval = i64::try_from(self.config.interval.as_secs()).unwrap_or(i64::MAX);
        if published.as_ref().is_some_and(|published| now().0.saturating_sub(published.checked_at) < interval) {
            return Ok(RefreshEvent::Skipped { list: list.name.clone(), why: "checked recently" });
        }
        let validators = self.with_state(&list.name, |state| state.validators.clone()).unwrap_or_default();
        let floor = published.as_ref().and_then(|published| hex::decode(&published.number_hex).ok());
        let floor = floor.map(|bytes| CrlNumber::from_be_bytes(&bytes));
        let (event, installed) = self.fetch_and_install(list, validators, floor.as_ref()).await;
        match (&event, installed) {
            (RefreshEvent::Installed { number, .. }, Some((der, validators))) => {
                let number_hex = jpki_revocation::parse_crl(&der, |_| Ok(()))
                    .map(|parsed| hex::encode(parsed.crl_number.as_be_bytes()))
                    .unwrap_or_default();
                let record = Published {
                    fence: lease.fence,
                    number: number.clone(),
                    number_hex,
                    chunks: 0,
                    sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, &der)),
                    etag: validators.etag,
                    last_modified: validators.last_modified,
                    checked_at: now().0,
                };
                if coordinator.publish(&list.name, lease, &der, &record).await? {
                    self.with_state(&list.name, |state| state.installed_fence = lease.fence);
                    Ok(event)
                } else {
                    Ok(RefreshEvent::PublishRefused { list: list.name.clone(), fence: lease.fence })
                }
            }
            (RefreshEvent::NotModified { .. }, _) => {
                coordinator.mark_checked(&list.name, lease, now().0).await?;
                Ok(event)
            }
            _ => Ok(event),
        }
    }

    /// Refreshes every list each interval and follows Redis notifications, until `shutdown` is
    /// set. Jitter spreads replicas so that they do not all ask at once.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut pubsub = match &self.coordinator {
            Some(coordinator) => match coordinator.subscribe().await {
                Ok(pubsub) => Some(pubsub),
                Err(error) => {
                    tracing::warn!(%error, "cannot subscribe to list notifications; polling only");
                    None
                }
            },
            None => None,
        };
        let tick = if self.coordinator.is_some() {
            self.config.poll_interval.min(self.config.interval)
        } else {
            self.config.interval
        };
        loop {
            for list in &self.config.lists {
                self.refresh(list).await;
            }
            let pause = tick.mul_f64(0.8 + 0.4 * fastrand::f64());
            let sleep = tokio::time::sleep(pause);
            tokio::pin!(sleep);
            loop {
                let notified = async {
                    match pubsub.as_mut() {
                        Some(pubsub) => {
                            use futures_util::StreamExt;
                            pubsub.on_message().next().await.and_then(|message| message.get_payload::<String>().ok())
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = shutdown.changed() => return,
                    () = &mut sleep => break,
                    name = notified => {
                        if let Some(list) = name.and_then(|name| self.config.lists.iter().find(|list| list.name == name)) {
                            self.sync_from_redis(list).await;
                        }
                    }
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }
}
