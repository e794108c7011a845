//! Keeping every configured list fresh in the revocation store.
//!
//! Each cycle, per configured list (a source, which may hold several lists): without Redis, fetch
//! from the source (conditional GET) and install every list that is new; with Redis, first install
//! what another replica published, then, if the source is due and this replica wins the lease,
//! fetch from the CA and publish (see [`crate::coordinate`]). Installing always re-checks the CA's
//! signature, the dates and the number; a failed fetch or a refused list keeps the last good list
//! in use. Numbers are compared per cRLNumber sequence (issuer key and scope, see
//! [`crate::ledger`]), never per configured name, so that partitions and CA generations served
//! by one source all load. Every installed list that follows another view of its sequence sends
//! one [`ChangeSet`] to [`Refresher::subscribe_changes`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jpki_core::UnixTime;
use jpki_revocation::{ChangeSet, CompactList, CrlNumber, LoadError, RevocationStore};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::coordinate::{CoordinationError, Coordinator, Lease, Published, RedisConfig};
use crate::fetch::{FetchOutcome, Fetcher, Validators};
use crate::ledger::sequence_id;
use crate::ledger::{FileLedger, LedgerError};
use crate::source::CrlSource;

/// One list to keep fresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListConfig {
    /// Stable name (used in Redis keys and provenance), e.g. `signing-card-g2`.
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
    /// Where the highest accepted cRLNumber per (issuer key, scope) is kept across restarts.
    pub ledger: Option<PathBuf>,
    /// Where every list is archived under its digest before it is installed
    /// (`jpki_revocation::archive`), so that no answer rests on a list that is not kept.
    pub archive: Option<PathBuf>,
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
        /// Certificates whose status changed (held, revoked, released) compared with the
        /// previous view of the same issuer key and scope.
        changes: usize,
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
}

/// One list of a source after an install attempt.
struct Outcome {
    event: RefreshEvent,
    /// The list is in use (newly installed or already held): what publishing it needs.
    accepted: Option<Accepted>,
}

/// A list in use, as a leader publishes it.
struct Accepted {
    sequence: String,
    number: CrlNumber,
    der: Vec<u8>,
}

/// Whether a source is to be asked again: nobody checked within the interval, or its record names
/// no list (a record of the previous layout, whose list this version does not read).
fn due(published: &Published, interval: i64) -> bool {
    published.lists.is_empty() || now().0.saturating_sub(published.checked_at) >= interval
}

/// The event that stands for several (one per list of a source): the first refusal, so that a
/// refused list is never hidden behind an installed one; else the last installation; else the
/// first event.
fn summary(events: &[RefreshEvent]) -> Option<RefreshEvent> {
    events
        .iter()
        .find(|event| matches!(event, RefreshEvent::Refused { .. } | RefreshEvent::PublishRefused { .. }))
        .or_else(|| events.iter().rev().find(|event| matches!(event, RefreshEvent::Installed { .. })))
        .or_else(|| events.first())
        .cloned()
}

/// Keeps lists fresh. Share it in an `Arc`; [`Refresher::run`] drives it.
pub struct Refresher {
    config: RefreshConfig,
    store: Arc<RevocationStore>,
    fetcher: Fetcher,
    coordinator: Option<Coordinator>,
    ledger: Option<Mutex<FileLedger>>,
    state: Mutex<HashMap<String, ListState>>,
    /// SHA-256 of the list installed per sequence from (or published to) Redis.
    installed: Mutex<HashMap<String, String>>,
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
            installed: Mutex::new(HashMap::new()),
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

    /// One change set per installed list (complete or delta) that follows another view of its
    /// issuer key and scope: every certificate whose status changed (see
    /// [`jpki_revocation::changes`]).
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

    /// Checks and installs one list of `list`'s source. `coordinator`, for a leader, supplies the
    /// highest number published in Redis for the list's sequence, which a leader must not go below
    /// even when its own store and ledger are empty (a freshly started replica).
    async fn install(
        &self,
        list: &ListConfig,
        der: Vec<u8>,
        via: Via,
        coordinator: Option<&Coordinator>,
    ) -> Result<Outcome, CoordinationError> {
        let name = list.name.clone();
        let anchors = self.store.anchors().to_vec();
        let label = format!("{name} ({})", list.source.describe());
        // Parsing and indexing tens of millions of entries is CPU work: keep it off the runtime.
        let at = now();
        let built = tokio::task::spawn_blocking(move || (CompactList::from_der(&label, &der, &anchors, at), der)).await;
        let refused =
            |error: String| Ok(Outcome { event: RefreshEvent::Refused { list: name.clone(), error }, accepted: None });
        let (candidate, der) = match built {
            Ok((Ok(candidate), der)) => (candidate, der),
            Ok((Err(error), _)) => return refused(error.to_string()),
            Err(join) => return refused(format!("indexing task failed: {join}")),
        };
        // Archived before anything can rely on it (a list refused below stays archived: harmless,
        // the archive is content-addressed).
        let der = match &self.config.archive {
            None => der,
            Some(archive) => {
                let (dir, digest) = (archive.clone(), candidate.meta().tbs_digest.clone());
                let kept = tokio::task::spawn_blocking(move || {
                    let kept = jpki_revocation::archive::keep(&dir, &digest, &der);
                    (kept, der)
                })
                .await;
                match kept {
                    Ok((Ok(_), der)) => der,
                    Ok((Err(error), _)) => return refused(format!("cannot archive the list: {error}")),
                    Err(join) => return refused(format!("archiving task failed: {join}")),
                }
            }
        };
        let (key, scope) = (candidate.meta().issuer_key_id.clone(), candidate.meta().scope.clone());
        let sequence = sequence_id(&key, &scope);
        let number = candidate.meta().crl_number.clone();
        let accepted = Accepted { sequence: sequence.clone(), number: number.clone(), der };
        if let Some(coordinator) = coordinator {
            let published = coordinator.published_list(&sequence).await?;
            let floor = published.and_then(|published| hex::decode(&published.number_hex).ok());
            if let Some(floor) = floor.map(|bytes| CrlNumber::from_be_bytes(&bytes)).filter(|floor| number < *floor) {
                return refused(format!(
                    "cRLNumber {number} is below {floor}, already published by a replica: a replayed or rolled-back list"
                ));
            }
        }
        if let Some(ledger) = &self.ledger {
            let floor = ledger.lock().unwrap_or_else(PoisonError::into_inner).floor(&key, &scope);
            if let Some(floor) = floor.filter(|floor| number < *floor) {
                return refused(format!(
                    "cRLNumber {number} is below {floor}, already accepted: a replayed or rolled-back list"
                ));
            }
        }
        let held = self.store.view(&key, &scope).and_then(|view| {
            std::iter::once(view.complete).chain(view.delta).find(|held| held.meta().crl_number == number)
        });
        if let Some(held) = held {
            // A list carrying a number in use but other content (the CA's list rolled back one
            // number after a revocation, or re-issued under the same number) is the CA's fault,
            // not "not modified": the number must increase (docs/revocation.md).
            let (old, new) = (held.meta(), candidate.meta());
            if (old.this_update, old.next_update, old.entries, &old.delta_base)
                != (new.this_update, new.next_update, new.entries, &new.delta_base)
            {
                return refused(format!(
                    "cRLNumber {number} is the number of the list in use but the list differs (thisUpdate {} \
                     vs {}, {} vs {} entries): a rolled-back or re-issued list",
                    new.this_update, old.this_update, new.entries, old.entries
                ));
            }
            return Ok(Outcome { event: RefreshEvent::NotModified { list: name }, accepted: Some(accepted) });
        }
        let (this_update, next_update, entries) =
            (candidate.meta().this_update, candidate.meta().next_update, candidate.meta().entries);
        let store = self.store.clone();
        // The change set walks both views (tens of millions of entries): off the runtime too.
        let inserted = tokio::task::spawn_blocking(move || store.insert_with_changes(candidate, now())).await;
        let changes = match inserted {
            Ok(Ok((_, changes))) => changes,
            Ok(Err(LoadError::NotNewer { .. })) if via == Via::Redis => {
                return Ok(Outcome { event: RefreshEvent::NotModified { list: name }, accepted: None });
            }
            Ok(Err(error)) => return refused(error.to_string()),
            Err(join) => return refused(format!("installing task failed: {join}")),
        };
        if let Some(ledger) = &self.ledger
            && let Err(error) = ledger.lock().unwrap_or_else(PoisonError::into_inner).record(&key, &scope, &number)
        {
            tracing::error!(%error, list = %name, sequence, "cannot persist the accepted cRLNumber");
        }
        let changed = changes.as_ref().map_or(0, |changes| changes.changes.len());
        if let Some(changes) = changes {
            let _ = self.changes.send(changes);
        }
        self.with_state(&name, |state| {
            state.status.number = Some(number.to_string());
            state.status.this_update = Some(this_update);
            state.status.next_update = next_update;
            state.status.entries = entries;
        });
        let event = RefreshEvent::Installed { list: name, number: number.to_string(), entries, via, changes: changed };
        Ok(Outcome { event, accepted: Some(accepted) })
    }

    /// Fetches from the source with the validators of the lists in use and installs every list
    /// it holds. The validators are returned (and kept) when the source sent new content; they
    /// are kept only when no list was refused, so that a refused list is fetched again.
    async fn fetch_and_install(
        &self,
        list: &ListConfig,
        validators: Validators,
        coordinator: Option<&Coordinator>,
    ) -> Result<(Vec<Outcome>, Option<Validators>), CoordinationError> {
        let single = |event| Ok((vec![Outcome { event, accepted: None }], None));
        match self.fetcher.fetch(&list.source, &validators).await {
            Err(error) => single(RefreshEvent::FetchFailed { list: list.name.clone(), error: error.to_string() }),
            Ok(FetchOutcome::NotModified { .. }) => single(RefreshEvent::NotModified { list: list.name.clone() }),
            Ok(FetchOutcome::Fetched(fetched)) => {
                self.with_state(&list.name, |state| state.status.downloads += 1);
                let mut outcomes = Vec::with_capacity(fetched.lists.len());
                for der in fetched.lists {
                    outcomes.push(self.install(list, der, Via::Source, coordinator).await?);
                }
                if outcomes.is_empty() {
                    outcomes
                        .push(Outcome { event: RefreshEvent::NotModified { list: list.name.clone() }, accepted: None });
                }
                if !outcomes.iter().any(|outcome| matches!(outcome.event, RefreshEvent::Refused { .. })) {
                    self.with_state(&list.name, |state| state.validators = fetched.validators.clone());
                }
                Ok((outcomes, Some(fetched.validators)))
            }
        }
    }

    /// Emits every event and returns the one that stands for them.
    fn report(&self, list: &ListConfig, events: Vec<RefreshEvent>) -> RefreshEvent {
        let chosen = summary(&events).unwrap_or(RefreshEvent::NotModified { list: list.name.clone() });
        if events.is_empty() {
            return self.emit(chosen);
        }
        for event in events {
            self.emit(event);
        }
        chosen
    }

    /// One refresh step for one configured source: every list it holds.
    pub async fn refresh(&self, list: &ListConfig) -> RefreshEvent {
        let events = match &self.coordinator {
            None => {
                let validators = self.with_state(&list.name, |state| state.validators.clone()).unwrap_or_default();
                match self.fetch_and_install(list, validators, None).await {
                    Ok((outcomes, _)) => outcomes.into_iter().map(|outcome| outcome.event).collect(),
                    Err(error) => {
                        vec![RefreshEvent::CoordinationFailed { list: list.name.clone(), error: error.to_string() }]
                    }
                }
            }
            Some(coordinator) => match self.refresh_coordinated(coordinator, list).await {
                Ok(events) => events,
                Err(error) => {
                    vec![RefreshEvent::CoordinationFailed { list: list.name.clone(), error: error.to_string() }]
                }
            },
        };
        self.report(list, events)
    }

    /// Installs what Redis holds for a source (every sequence's list), where this replica does
    /// not have it yet.
    pub async fn sync_from_redis(&self, list: &ListConfig) -> Option<RefreshEvent> {
        let coordinator = self.coordinator.as_ref()?;
        let events = match self.sync(coordinator, list).await {
            Ok(events) if events.is_empty() => return None,
            Ok(events) => events,
            Err(error) => vec![RefreshEvent::CoordinationFailed { list: list.name.clone(), error: error.to_string() }],
        };
        Some(self.report(list, events))
    }

    fn installed_hash(&self, sequence: &str) -> Option<String> {
        self.installed.lock().unwrap_or_else(PoisonError::into_inner).get(sequence).cloned()
    }

    fn mark_installed(&self, sequence: &str, sha256: &str) {
        self.installed.lock().unwrap_or_else(PoisonError::into_inner).insert(sequence.to_owned(), sha256.to_owned());
    }

    async fn sync(&self, coordinator: &Coordinator, list: &ListConfig) -> Result<Vec<RefreshEvent>, CoordinationError> {
        let Some(published) = coordinator.published(&list.name).await? else { return Ok(Vec::new()) };
        let mut events = Vec::new();
        let mut complete = !published.lists.is_empty();
        for sequence in &published.lists {
            let Some(record) = coordinator.published_list(sequence).await? else {
                complete = false;
                continue;
            };
            if record.chunks == 0 || self.installed_hash(sequence).as_deref() == Some(record.sha256.as_str()) {
                continue;
            }
            let der = coordinator.download(sequence, &record).await?;
            let outcome = self.install(list, der, Via::Redis, None).await?;
            if matches!(outcome.event, RefreshEvent::Installed { .. } | RefreshEvent::NotModified { .. }) {
                self.mark_installed(sequence, &record.sha256);
            } else {
                complete = false;
            }
            events.push(outcome.event);
        }
        if complete {
            // This replica holds every list of the source: the source's validators are its own.
            self.with_state(&list.name, |state| {
                state.validators =
                    Validators { etag: published.etag.clone(), last_modified: published.last_modified.clone() };
            });
        }
        Ok(events)
    }

    async fn refresh_coordinated(
        &self,
        coordinator: &Coordinator,
        list: &ListConfig,
    ) -> Result<Vec<RefreshEvent>, CoordinationError> {
        let mut events = self.sync(coordinator, list).await?;
        let interval = i64::try_from(self.config.interval.as_secs()).unwrap_or(i64::MAX);
        let due = |published: &Option<Published>| published.as_ref().is_none_or(|published| due(published, interval));
        let skipped = |why| RefreshEvent::Skipped { list: list.name.clone(), why };
        if !due(&coordinator.published(&list.name).await?) {
            if events.is_empty() {
                events.push(skipped("checked recently"));
            }
            return Ok(events);
        }
        let Some(lease) = coordinator.try_lead(&list.name).await? else {
            if events.is_empty() {
                events.push(skipped("another replica leads"));
            }
            return Ok(events);
        };
        let result = self.lead(coordinator, list, lease).await;
        coordinator.release(&list.name, lease).await?;
        events.extend(result?);
        Ok(events)
    }

    async fn lead(
        &self,
        coordinator: &Coordinator,
        list: &ListConfig,
        lease: Lease,
    ) -> Result<Vec<RefreshEvent>, CoordinationError> {
        // Re-read under the lease: another leader may have checked just before.
        let published = coordinator.published(&list.name).await?;
        let interval = i64::try_from(self.config.interval.as_secs()).unwrap_or(i64::MAX);
        if published.as_ref().is_some_and(|published| !due(published, interval)) {
            return Ok(vec![RefreshEvent::Skipped { list: list.name.clone(), why: "checked recently" }]);
        }
        let validators = self.with_state(&list.name, |state| state.validators.clone()).unwrap_or_default();
        let (outcomes, fetched) = self.fetch_and_install(list, validators, Some(coordinator)).await?;
        let Some(validators) = fetched else {
            if outcomes.iter().any(|outcome| matches!(outcome.event, RefreshEvent::NotModified { .. })) {
                coordinator.mark_checked(&list.name, lease, now().0).await?;
            }
            return Ok(outcomes.into_iter().map(|outcome| outcome.event).collect());
        };
        let refused = outcomes.iter().any(|outcome| matches!(outcome.event, RefreshEvent::Refused { .. }));
        let publish_refused = || Ok(vec![RefreshEvent::PublishRefused { list: list.name.clone(), fence: lease.fence }]);
        let mut sequences: Vec<String> = Vec::new();
        let mut events = Vec::with_capacity(outcomes.len());
        for Outcome { event, accepted } in outcomes {
            events.push(event);
            let Some(Accepted { sequence, number, der }) = accepted else { continue };
            let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, &der));
            let current = coordinator.published_list(&sequence).await?;
            if current.is_none_or(|current| current.sha256 != sha256) {
                let number_hex = hex::encode(number.as_be_bytes());
                if !coordinator
                    .publish_list(&list.name, &sequence, lease, &der, &number.to_string(), &number_hex)
                    .await?
                {
                    return publish_refused();
                }
            }
            self.mark_installed(&sequence, &sha256);
            sequences.push(sequence);
        }
        let previous = published.unwrap_or_default();
        let record = if refused {
            // Keep the previous validators and check time, so that the next leader fetches again,
            // and the sequences published before (a refused list's sequence among them).
            let mut lists = previous.lists.clone();
            lists.extend(sequences);
            lists.sort();
            lists.dedup();
            Published { fence: lease.fence, lists, ..previous }
        } else {
            sequences.sort();
            sequences.dedup();
            Published {
                fence: lease.fence,
                etag: validators.etag,
                last_modified: validators.last_modified,
                checked_at: now().0,
                lists: sequences,
            }
        };
        if !coordinator.publish(&list.name, lease, &record).await? {
            return publish_refused();
        }
        Ok(events)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The gateway spawns [`Refresher::run`] on a multi-threaded runtime: its future must be `Send`.
    #[allow(dead_code)]
    fn run_is_send(refresher: Arc<Refresher>, shutdown: tokio::sync::watch::Receiver<bool>) {
        fn send<T: Send>(_: T) {}
        send(refresher.run(shutdown));
    }
}
