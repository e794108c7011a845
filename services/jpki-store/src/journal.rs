//! [`JournalStore`]: the embedded single-node store as an in-memory state and an append-only,
//! group-committed journal of the operations that changed it.
//!
//! # File format
//!
//! `store.journal` starts with the 16-byte header [`MAGIC`]; then frames, each a little-endian
//! `u32` payload length, a little-endian `u32` CRC-32 (IEEE) of the payload, and the payload: one
//! [`Entry`] as JSON; then, while the store is open, zeros written ahead of the next frames (see
//! [`Appender`]), which a zero length marks. An entry is either an operation ([`Op`]: the call and
//! its arguments, applied again on replay by the same code that applied it live) or one item of a
//! snapshot ([`Item`], written by compaction and backup). Opening replays every frame into the
//! state; a frame that is cut short or fails its CRC ends the journal there (a torn write of the
//! last, unacknowledged group), and the file is truncated to the last whole frame (zeros and any
//! stale frame past them go too).
//!
//! Entries added later read from older journals through serde defaults: an `audited` operation
//! without `evidence` kept none, and a snapshot without an `audit_floor` item has floor 0. The audit
//! operations are `audited` (a call's write, its leaf and its evidence), `audit_trim` (drops the
//! tenant's leaves below `below`; the size stays) and `evidence_drop`; snapshots write each tenant's
//! `audit_floor`, then its `audit_leaf` items from the floor on, then its pending `evidence` items.
//!
//! # Durability
//!
//! A call applies its operation to the state and appends the operation's frame to an in-memory
//! buffer, under one lock, so that the journal's order is the order in which the state changed.
//! A durable call then waits until the buffer up to its frame is written and `fdatasync`ed. The
//! first waiter that finds no flush under way does the flush itself, for every frame appended so
//! far (leader/follower group commit): concurrent calls share one `write` and one `fdatasync`,
//! and a lone call pays no hand-off to another thread. An issued challenge does not wait (it may be
//! lost in a crash, which is safe: see `docs/durability.md`); it becomes durable with the next flush.
//! A durable call that changed nothing (a replayed challenge, an idempotent link) still waits for
//! the frames before it, because its answer may rest on them.
//!
//! Reads see every applied operation, including one whose flush is under way (as Redis clients
//! see a write before its AOF fsync): no answer that acknowledges a write is sent before that
//! write is durable, and the journal's order makes a write durable only after everything it read.
//!
//! If a write or `fdatasync` fails, the store refuses every later call: the state may hold
//! operations the disk does not, and the only safe recovery is to reopen and replay.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jpki_core::CertId;
use serde::{Deserialize, Serialize};

use crate::id_key::IdKey;
use crate::rules::{ChallengeSlot, EventStatus, Step, WatchEntry, Watched, existing_link, step};
use crate::types::{check_customer, check_id, check_kind, entitlement_cutoff, hex_bytes, invalid};
use crate::{
    AuditLeaves, Audited, CHALLENGE_PURGE_GRACE_SECS, Challenge, ConsumeOutcome, DirectoryOutcome, DirectoryWrite,
    EvidenceItem, LinkOutcome, LinkRecord, MAX_AUDIT_PAGE, MAX_META_LEN, PlatformLogEntry, RevocationNotice,
    StoreError, StoredEvent, TenantId, TenantStore, TenantWrite, VerificationRecord, WATCH_PURGE_GRACE_SECS,
    WatchRequest, WriteAnswer,
};

/// The journal file's first bytes: the format and its version.
const MAGIC: &[u8; 16] = b"JPKI-JOURNAL-v1\n";

/// Bytes of a frame's length and CRC.
const FRAME_HEADER: usize = 8;

/// The first byte of an audited call's payload ([`encode_audited_frame`]); every other payload is
/// one JSON entry, which starts with `{`.
const AUDITED_FRAME: u8 = 1;

/// Frames larger than this are refused when reading (a corrupt length must not make the replay
/// allocate gigabytes).
const MAX_FRAME: usize = 256 << 20;

/// An issued challenge does not wait for a flush, unless this many bytes are waiting to be
/// written: the buffer stays bounded under a flood of challenges.
const MAX_UNFLUSHED: usize = 1 << 20;

/// Compaction runs (from [`TenantStore::purge_expired`] and at open) when the journal holds more
/// than this many entries beyond twice the live items: the file then stays within a small multiple
/// of the state.
const COMPACTION_SLACK: u64 = 100_000;

/// A compaction copies the frames written while it made its snapshot without holding any lock,
/// until fewer than this many bytes of them are left; it copies those while calls wait, then
/// switches files. About a millisecond of writing, at most, where calls wait.
const CATCH_UP_BYTES: u64 = 1 << 20;

/// At most this many rounds of copying without a lock (see [`CATCH_UP_BYTES`]).
const CATCH_UP_ROUNDS: usize = 8;

/// How far ahead of its frames the file is kept extended with zeros (see [`Appender`]).
const PREALLOCATION: u64 = 4 << 20;

/// The zeros are added this much at a time, once at least this much of them was used.
const EXTENSION_STEP: u64 = 256 << 10;

/// The largest flush buffer kept for the next flush (`Shared::spare`); a larger one is freed.
const MAX_SPARE_BYTES: usize = 4 << 20;

/// The zeros [`Appender::append`] writes ahead, a chunk at a time.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// The embedded store: the state in memory, every change in an append-only journal file that is
/// replayed at open. Safe to share between threads (`Arc<dyn TenantStore>`).
///
/// Only one `JournalStore` may have a file open at a time (an exclusive `flock` on
/// `<file>.lock`); a second `open` fails with [`StoreError::InUse`].
pub struct JournalStore {
    inner: Arc<Inner>,
    /// The thread that flushes for [`JournalStore::durable`] waiters.
    flusher: Option<JoinHandle<()>>,
}

/// The store's parts, shared with its flusher thread.
struct Inner {
    path: PathBuf,
    shared: RwLock<Shared>,
    flush: Mutex<Flush>,
    /// Signalled when a flush ends.
    flushed: Condvar,
    /// Signalled when the flusher thread has work (or the store closes).
    flush_requested: Condvar,
    /// Only the flush leader (or compaction, which first becomes the leader) writes the file.
    file: Mutex<Appender>,
    /// Held by a compaction or a backup from start to end: each reads the file by its path and
    /// its frames by `file`'s offsets, which a compaction's switch would change under the other.
    rewriting: Mutex<()>,
    counters: Counters,
    /// Set with `Flush::failed`, so that a call can check it without the flush lock.
    refusing: AtomicBool,
    /// [`JournalStore::set_commit_delay`], in microseconds.
    commit_delay_micros: AtomicU64,
    recovered: Recovery,
    /// Holds the lock for as long as the store lives.
    _lock: File,
}

/// What the state is and what is waiting to be written, under one lock.
struct Shared {
    state: State,
    /// Frames appended but not yet handed to a flush.
    pending: Vec<u8>,
    /// The buffer of the last flush, emptied, to become `pending` at the next one: reusing it
    /// saves growing a fresh buffer, and its page faults, at every flush.
    spare: Vec<u8>,
    /// The number of the last appended frame (frames are numbered from 1 per open).
    appended: u64,
    /// Entries in the file plus `pending` (compaction's measure).
    entries: u64,
}

/// The group commit's bookkeeping.
struct Flush {
    /// Every frame up to this number is on disk.
    durable: u64,
    /// A leader is writing.
    flushing: bool,
    /// Why the store refuses calls since a failed write or sync.
    failed: Option<String>,
    /// Asynchronous waiters: the entry each waits for, and how to wake it.
    waiters: Vec<(u64, Waker)>,
    /// The flusher thread is asked to flush.
    requested: bool,
    /// The store is closing: the flusher thread ends.
    closing: bool,
    /// A waiter that leaves the flush to others (its caller has a queue of calls) asked since
    /// the flusher thread last led.
    queued: bool,
}

/// The journal file and where its frames end. The file is kept extended ahead of the frames with
/// [`PREALLOCATION`] of written zeros, added [`EXTENSION_STEP`] at a time, so that a flush
/// overwrites blocks the file already has: its `fdatasync` then writes the data alone, where an
/// append also writes the file's new size and block allocation (on this machine's ext4, 80 against
/// 55 µs of CPU and 210 against 140 µs per sync; docs/performance.md). Replay ends at the first
/// zero frame length.
struct Appender {
    file: File,
    /// Where the next frame goes: the end of the last whole frame.
    end: u64,
    /// The file's length: `end` plus the zeros ahead of it.
    allocated: u64,
}

impl Appender {
    /// The appender of a file whose frames end at its end (after replay has cut it there, or a
    /// snapshot was just written).
    fn at_end(file: File) -> Result<Self, StoreError> {
        let end = file.metadata().map_err(|e| io_error("reading the journal's length", &e))?.len();
        Ok(Appender { file, end, allocated: end })
    }

    /// Writes `frames` after the last frame, then, once they used [`EXTENSION_STEP`] of the zeros
    /// ahead, writes zeros until [`PREALLOCATION`] lie ahead again. The caller syncs.
    fn append(&mut self, frames: &[u8]) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt;
        if frames.is_empty() {
            return Ok(());
        }
        let writing = |e: std::io::Error| io_error("writing the journal", &e);
        let end = self.end + frames.len() as u64;
        self.file.write_all_at(frames, self.end).map_err(writing)?;
        if end + PREALLOCATION > self.allocated + EXTENSION_STEP {
            // Back to PREALLOCATION ahead, in whole steps: a flush adds about as many zeros as it
            // wrote frames, so that no one flush's sync carries megabytes of zeros (milliseconds
            // for every call waiting on it; docs/performance.md). From one static buffer: a fresh
            // buffer per extension cost page faults.
            let mut at = self.allocated.max(end);
            let allocated = at + (end + PREALLOCATION - at).next_multiple_of(EXTENSION_STEP);
            while at < allocated {
                let chunk = ZEROS.len().min(usize::try_from(allocated - at).unwrap_or(usize::MAX));
                self.file.write_all_at(&ZEROS[..chunk], at).map_err(writing)?;
                at += chunk as u64;
            }
            self.allocated = allocated;
        }
        self.end = end;
        Ok(())
    }

    /// Cuts the zeros ahead of the last frame (a clean close).
    fn trim(&mut self) -> Result<(), StoreError> {
        if self.allocated > self.end {
            self.file.set_len(self.end).map_err(|e| io_error("trimming the journal", &e))?;
            self.file.sync_all().map_err(|e| io_error("trimming the journal", &e))?;
            self.allocated = self.end;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Counters {
    logged: AtomicU64,
    syncs: AtomicU64,
    compactions: AtomicU64,
}

/// What the journal did since it was opened; for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalStats {
    /// Operations appended to the journal: one per call that changed something. A call's whole
    /// change is one entry, so this counts commits.
    pub logged: u64,
    /// `fdatasync` calls (each makes every entry before it durable).
    pub syncs: u64,
    /// Compactions (the file rewritten as a snapshot of the state).
    pub compactions: u64,
}

/// What opening the journal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recovery {
    /// Entries replayed.
    pub entries: u64,
    /// Bytes after the last whole frame, cut off (a torn write of an unacknowledged group).
    pub truncated_bytes: u64,
}

impl Drop for JournalStore {
    fn drop(&mut self) {
        // A clean close keeps the issued challenges that no durable call has flushed yet. Nothing
        // to report to if it fails: the next open replays what reached the disk.
        let appended = self.inner.shared.read().map(|shared| shared.appended).unwrap_or(0);
        if self.inner.wait_durable(appended).is_ok() {
            // Leave the file as long as its frames, as an append-only file would be.
            if let Ok(mut file) = self.inner.file.lock() {
                let _ = file.trim();
            }
        }
        if let Ok(mut flush) = self.inner.flush.lock() {
            flush.closing = true;
        }
        self.inner.flush_requested.notify_all();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
}

impl std::fmt::Debug for JournalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

/// One journal entry.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Entry {
    Op(Op),
    Item(Item),
}

/// An entry borrowed for writing (the same JSON as [`Entry`]).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum EntryRef<'a> {
    Op(&'a Op),
    Item(&'a Item),
}

/// A call that changed the state, with the arguments that make replay give the same change.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    PutChallenge {
        tenant: TenantId,
        id: String,
        challenge: Challenge,
    },
    Consume {
        tenant: TenantId,
        id: String,
        now: i64,
    },
    SettleProof {
        tenant: TenantId,
        id: String,
        now: i64,
        verified: VerificationRecord,
        watch: Option<Watched>,
    },
    RecordVerification {
        tenant: TenantId,
        record: VerificationRecord,
        watch: Option<Watched>,
    },
    Link {
        tenant: TenantId,
        record: LinkRecord,
    },
    Unlink {
        tenant: TenantId,
        customer_id: String,
        certificate: Option<CertId>,
    },
    Watch {
        tenant: TenantId,
        watched: Watched,
    },
    AppendEvents {
        events: Vec<(TenantId, RevocationNotice)>,
    },
    Purge {
        now: i64,
        retention_secs: i64,
    },
    PutMeta {
        key: String,
        #[serde(with = "hex_bytes")]
        value: Vec<u8>,
    },
    Directory {
        write: DirectoryWrite,
    },
    /// A call's write (if any) and the leaf its outcome selected, at the tenant's next index,
    /// with the call's evidence (absent in journals written before evidence existed).
    Audited {
        tenant: TenantId,
        write: Option<Box<Op>>,
        index: u64,
        leaf: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<Evidence>,
    },
    /// [`TenantStore::audit_trim`]: the leaves below `below` leave the journal's state.
    AuditTrim {
        tenant: TenantId,
        below: u64,
    },
    /// [`TenantStore::audit_evidence_drop`].
    EvidenceDrop {
        tenant: TenantId,
        #[serde(with = "hex_keys")]
        keys: Vec<[u8; 32]>,
    },
}

/// An evidence item (an end-entity certificate's DER under its SHA-256), as the journal holds it.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Evidence {
    #[serde(with = "hex_key")]
    pub(crate) key: [u8; 32],
    #[serde(with = "hex_bytes")]
    pub(crate) der: Vec<u8>,
}

/// One stored item, as a snapshot writes it; the indexes follow from the items.
#[derive(Serialize, Deserialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub(crate) enum Item {
    Challenge {
        tenant: TenantId,
        id: String,
        slot: ChallengeSlot,
    },
    Verification {
        tenant: TenantId,
        record: VerificationRecord,
    },
    Entitlement {
        tenant: TenantId,
        certificate: CertId,
        verified_at: i64,
    },
    Link {
        tenant: TenantId,
        record: LinkRecord,
    },
    Watch {
        tenant: TenantId,
        watched: Watched,
    },
    Event {
        tenant: TenantId,
        sequence: u64,
        event: RevocationNotice,
    },
    EventStatus {
        tenant: TenantId,
        certificate: CertId,
        status: EventStatus,
    },
    Head {
        tenant: TenantId,
        sequence: u64,
    },
    Meta {
        key: String,
        #[serde(with = "hex_bytes")]
        value: Vec<u8>,
    },
    Directory {
        key: String,
        value: String,
    },
    PlatformLog {
        sequence: u64,
        entry: String,
    },
    AuditLeaf {
        tenant: TenantId,
        index: u64,
        leaf: String,
    },
    /// The tenant's audit floor (written before its leaves; absent until a trim).
    AuditFloor {
        tenant: TenantId,
        floor: u64,
    },
    /// A pending evidence item.
    Evidence {
        tenant: TenantId,
        #[serde(flatten)]
        evidence: Evidence,
    },
}

/// What an operation answers (one variant per kind of answer).
enum Answer {
    Done,
    Consumed(ConsumeOutcome),
    Linked(LinkOutcome),
    Count(usize),
    Sequences(Vec<u64>),
    Directory(DirectoryOutcome),
}

/// One tenant's items.
#[derive(Default)]
struct TenantState {
    // B-trees, not hash maps: a hash map doubles its table all at once, under the state's
    // lock, and at 57,000 records that stalled every call for tens of ms (docs/performance.md).
    // Ids as `IdKey`s: the gateway's compare without following a pointer (id_key.rs).
    challenges: BTreeMap<IdKey, ChallengeSlot>,
    verifications: BTreeMap<IdKey, VerificationRecord>,
    links: BTreeMap<CertId, LinkRecord>,
    links_by_customer: BTreeSet<(String, CertId)>,
    watch: BTreeMap<CertId, WatchEntry>,
    events: BTreeMap<u64, RevocationNotice>,
    event_status: BTreeMap<CertId, EventStatus>,
    entitlements: BTreeMap<CertId, i64>,
    head: u64,
    /// The lowest index still held (0 until a trim).
    audit_floor: u64,
    /// The audit log's leaves from `audit_floor` on, by index.
    audit: VecDeque<String>,
    /// Pending evidence, by key.
    evidence: BTreeMap<[u8; 32], Vec<u8>>,
}

impl TenantState {
    /// The audit log's size (the next index).
    fn audit_size(&self) -> u64 {
        self.audit_floor + self.audit.len() as u64
    }

    /// Whether the tenant has an audit log (a leaf was ever appended).
    fn has_audit_log(&self) -> bool {
        self.audit_size() > 0
    }
}

/// Everything the store holds, with the indexes the purge and the global watcher lookup need.
#[derive(Default)]
struct State {
    tenants: HashMap<TenantId, TenantState>,
    watchers: BTreeMap<CertId, BTreeMap<TenantId, String>>,
    challenge_expiry: BTreeSet<(i64, TenantId, IdKey)>,
    verification_age: BTreeSet<(i64, TenantId, IdKey)>,
    entitlement_age: BTreeSet<(i64, TenantId, CertId)>,
    watch_expiry: BTreeSet<(i64, TenantId, CertId)>,
    meta: HashMap<String, Vec<u8>>,
    directory: BTreeMap<String, String>,
    platform_log: BTreeMap<u64, String>,
}

impl State {
    fn tenant(&self, tenant: &TenantId) -> Option<&TenantState> {
        self.tenants.get(tenant)
    }

    fn tenant_mut(&mut self, tenant: &TenantId) -> &mut TenantState {
        self.tenants.entry(tenant.clone()).or_default()
    }

    /// Applies `op`: the one place where an operation changes the state, live and on replay. An
    /// error leaves the state as it was. The flag says whether anything changed.
    fn apply(&mut self, op: &Op) -> Result<(Answer, bool), StoreError> {
        Ok(match op {
            Op::PutChallenge { tenant, id, challenge } => {
                let slots = &mut self.tenant_mut(tenant).challenges;
                let key = IdKey::new(id);
                if slots.contains_key(&key) {
                    return Err(StoreError::Duplicate { what: "challenge" });
                }
                let slot = ChallengeSlot::Pending { challenge: challenge.clone() };
                self.insert_challenge(tenant.clone(), key, slot, challenge.expires_at);
                (Answer::Done, true)
            }
            Op::Consume { tenant, id, now } => {
                let (outcome, changed) = self.consume(tenant, id, *now);
                (Answer::Consumed(outcome), changed)
            }
            Op::SettleProof { tenant, id, now, verified, watch } => {
                if self.tenant(tenant).is_some_and(|t| t.verifications.contains_key(&IdKey::new(&verified.id))) {
                    return Err(StoreError::Duplicate { what: "verification" });
                }
                let (outcome, _) = self.consume(tenant, id, *now);
                if matches!(outcome, ConsumeOutcome::Consumed(_)) {
                    self.record(tenant, verified, watch.as_ref());
                } else {
                    self.record(tenant, &verified.refused(), None);
                }
                (Answer::Consumed(outcome), true)
            }
            Op::RecordVerification { tenant, record, watch } => {
                if self.tenant(tenant).is_some_and(|t| t.verifications.contains_key(&IdKey::new(&record.id))) {
                    return Err(StoreError::Duplicate { what: "verification" });
                }
                self.record(tenant, record, watch.as_ref());
                (Answer::Done, true)
            }
            Op::Link { tenant, record } => {
                let state = self.tenant_mut(tenant);
                if let Some(existing) = state.links.get(&record.certificate) {
                    return Ok((Answer::Linked(existing_link(existing.clone(), &record.customer_id)), false));
                }
                state.links.insert(record.certificate.clone(), record.clone());
                state.links_by_customer.insert((record.customer_id.clone(), record.certificate.clone()));
                (Answer::Linked(LinkOutcome::Created(record.clone())), true)
            }
            Op::Unlink { tenant, customer_id, certificate } => {
                let Some(state) = self.tenants.get_mut(tenant) else { return Ok((Answer::Count(0), false)) };
                let certificates: Vec<CertId> = match certificate {
                    Some(cert) => match state.links.get(cert) {
                        Some(link) if link.customer_id == *customer_id => vec![cert.clone()],
                        // Not linked, or linked to someone else: not this customer's to remove.
                        _ => Vec::new(),
                    },
                    None => customer_links(state, customer_id).map(|(_, cert)| cert.clone()).collect(),
                };
                for cert in &certificates {
                    state.links.remove(cert);
                    state.links_by_customer.remove(&(customer_id.clone(), cert.clone()));
                }
                (Answer::Count(certificates.len()), !certificates.is_empty())
            }
            Op::Watch { tenant, watched } => {
                let changed = self.watch(tenant, watched);
                (Answer::Done, changed)
            }
            Op::AppendEvents { events } => {
                // Check that no sequence can overflow before changing anything.
                for (tenant, _) in events {
                    let head = self.tenant(tenant).map_or(0, |t| t.head);
                    if head.checked_add(events.len() as u64).is_none() {
                        return Err(invalid("sequence", "exhausted"));
                    }
                }
                let mut sequences = Vec::with_capacity(events.len());
                let mut changed = false;
                for (tenant, notice) in events {
                    let state = self.tenant_mut(tenant);
                    match step(state.event_status.get(&notice.certificate), notice) {
                        Step::Answer(sequence) => sequences.push(sequence),
                        Step::RaiseFloor(status) => {
                            sequences.push(status.sequence);
                            state.event_status.insert(notice.certificate.clone(), status);
                            changed = true;
                        }
                        Step::Append(floor) => {
                            state.head += 1;
                            let sequence = state.head;
                            state.events.insert(sequence, notice.clone());
                            let status = EventStatus {
                                sequence,
                                change: notice.change,
                                reason: notice.reason.clone(),
                                crl_number: floor,
                            };
                            state.event_status.insert(notice.certificate.clone(), status);
                            sequences.push(sequence);
                            changed = true;
                        }
                    }
                }
                (Answer::Sequences(sequences), changed)
            }
            Op::Purge { now, retention_secs } => {
                let removed = self.purge(*now, *retention_secs);
                (Answer::Count(removed), removed > 0)
            }
            Op::PutMeta { key, value } => {
                self.meta.insert(key.clone(), value.clone());
                (Answer::Done, true)
            }
            Op::Directory { write } => {
                let directory = &self.directory;
                let holds = write.expectations_hold(|key| Ok::<_, StoreError>(directory.get(key).cloned()))?;
                if !holds {
                    return Ok((Answer::Directory(DirectoryOutcome::Conflict), false));
                }
                for (key, value) in &write.put {
                    self.directory.insert(key.clone(), value.clone());
                }
                for key in &write.delete {
                    self.directory.remove(key);
                }
                let log_sequence = write.log.as_ref().map(|entry| {
                    let sequence = self.platform_log.last_key_value().map_or(1, |(last, _)| last + 1);
                    self.platform_log.insert(sequence, entry.clone());
                    sequence
                });
                (Answer::Directory(DirectoryOutcome::Applied { log_sequence }), true)
            }
            Op::Audited { tenant, write, index, leaf, evidence } => {
                // Replay: the leaf was selected live; the write gives the same answer again.
                if self.tenant(tenant).map_or(0, TenantState::audit_size) != *index {
                    return Err(StoreError::Corrupt { what: "journal", detail: "audit leaf out of order".into() });
                }
                let answer = match write {
                    Some(op) => self.apply(op)?.0,
                    None => Answer::Done,
                };
                let state = self.tenant_mut(tenant);
                state.audit.push_back(leaf.clone());
                if let Some(Evidence { key, der }) = evidence {
                    state.evidence.insert(*key, der.clone());
                }
                (answer, true)
            }
            Op::AuditTrim { tenant, below } => {
                let Some(state) = self.tenants.get_mut(tenant) else {
                    return match below {
                        0 => Ok((Answer::Done, false)),
                        _ => Err(beyond_size()),
                    };
                };
                if *below > state.audit_size() {
                    return Err(beyond_size());
                }
                let changed = *below > state.audit_floor;
                while state.audit_floor < *below {
                    state.audit.pop_front();
                    state.audit_floor += 1;
                }
                (Answer::Done, changed)
            }
            Op::EvidenceDrop { tenant, keys } => {
                let Some(state) = self.tenants.get_mut(tenant) else { return Ok((Answer::Done, false)) };
                let mut changed = false;
                for key in keys {
                    changed |= state.evidence.remove(key).is_some();
                }
                (Answer::Done, changed)
            }
        })
    }

    /// Applies a call's write and appends the leaf its answer selects (and keeps the call's
    /// evidence); returns the answer, the leaf's index and the leaf. An error leaves the state as
    /// it was.
    fn apply_audited<'l>(
        &mut self,
        tenant: &TenantId,
        write: Option<&Op>,
        leaves: &'l AuditLeaves,
    ) -> Result<(WriteAnswer, u64, &'l str), StoreError> {
        let answer = match write {
            Some(op) => write_answer(self.apply(op)?.0)?,
            None => WriteAnswer::Done,
        };
        let outcome = answer.outcome();
        // `AuditLeaves::validate` made sure every outcome of the write has its leaf.
        let leaf = leaves.leaf(outcome).ok_or_else(internal)?;
        let state = self.tenant_mut(tenant);
        let index = state.audit_size();
        state.audit.push_back(leaf.to_owned());
        if let Some((key, der)) = leaves.evidence() {
            state.evidence.insert(*key, der.to_vec());
        }
        Ok((answer, index, leaf))
    }

    fn consume(&mut self, tenant: &TenantId, id: &str, now: i64) -> (ConsumeOutcome, bool) {
        let Some(slot) = self.tenants.get_mut(tenant).and_then(|t| t.challenges.get_mut(&IdKey::new(id))) else {
            return (ConsumeOutcome::Unknown, false);
        };
        let (outcome, marker) = slot.consume(now);
        let changed = marker.is_some();
        if let Some(marker) = marker {
            *slot = marker;
        }
        (outcome, changed)
    }

    /// Stores a verification record (its id known to be fresh), its entitlement when passed, and
    /// the watch entry.
    fn record(&mut self, tenant: &TenantId, record: &VerificationRecord, watch: Option<&Watched>) {
        self.insert_verification(tenant.clone(), record.clone());
        if let (true, Some(certificate)) = (record.passed, &record.certificate) {
            self.entitle(tenant, certificate, record.verified_at);
        }
        if let Some(watched) = watch {
            self.watch(tenant, watched);
        }
    }

    /// Holds a challenge's slot with its expiry index entry.
    fn insert_challenge(&mut self, tenant: TenantId, key: IdKey, slot: ChallengeSlot, expires_at: i64) {
        self.tenant_mut(&tenant).challenges.insert(key.clone(), slot);
        self.challenge_expiry.insert((expires_at, tenant, key));
    }

    /// Holds a verification record with its age index entry.
    fn insert_verification(&mut self, tenant: TenantId, record: VerificationRecord) {
        let key = IdKey::new(&record.id);
        self.verification_age.insert((record.verified_at, tenant.clone(), key.clone()));
        self.tenant_mut(&tenant).verifications.insert(key, record);
    }

    /// The latest passed `verified_at` wins.
    fn entitle(&mut self, tenant: &TenantId, certificate: &CertId, verified_at: i64) {
        let state = self.tenants.entry(tenant.clone()).or_default();
        let latest = state.entitlements.get(certificate).copied();
        if latest.is_some_and(|latest| latest >= verified_at) {
            return;
        }
        state.entitlements.insert(certificate.clone(), verified_at);
        if let Some(latest) = latest {
            self.entitlement_age.remove(&(latest, tenant.clone(), certificate.clone()));
        }
        self.entitlement_age.insert((verified_at, tenant.clone(), certificate.clone()));
    }

    /// Records a watch entry; an identical one is a no-op.
    fn watch(&mut self, tenant: &TenantId, watched: &Watched) -> bool {
        let state = self.tenants.entry(tenant.clone()).or_default();
        let certificate = &watched.certificate;
        match state.watch.get(certificate) {
            Some(existing) if *existing == watched.entry => return false,
            Some(existing) => {
                self.watch_expiry.remove(&(existing.not_after, tenant.clone(), certificate.clone()));
            }
            None => {}
        }
        state.watch.insert(certificate.clone(), watched.entry.clone());
        self.watchers.entry(certificate.clone()).or_default().insert(tenant.clone(), watched.entry.kind.clone());
        self.watch_expiry.insert((watched.entry.not_after, tenant.clone(), certificate.clone()));
        true
    }

    /// [`TenantStore::purge_expired`]: returns the challenges, records and watch entries removed.
    fn purge(&mut self, now: i64, retention_secs: i64) -> usize {
        let mut removed = 0;
        let cutoff = now.saturating_sub(CHALLENGE_PURGE_GRACE_SECS);
        for (_, tenant, id) in take_before(&mut self.challenge_expiry, cutoff, |e| e.0) {
            if let Some(state) = self.tenants.get_mut(&tenant) {
                state.challenges.remove(&id);
            }
            removed += 1;
        }
        let cutoff = now.saturating_sub(retention_secs);
        for (_, tenant, id) in take_before(&mut self.verification_age, cutoff, |e| e.0) {
            if let Some(state) = self.tenants.get_mut(&tenant) {
                state.verifications.remove(&id);
            }
            removed += 1;
        }
        for (_, tenant, certificate) in take_before(&mut self.entitlement_age, cutoff, |e| e.0) {
            if let Some(state) = self.tenants.get_mut(&tenant) {
                state.entitlements.remove(&certificate);
            }
        }
        let cutoff = now.saturating_sub(WATCH_PURGE_GRACE_SECS);
        for (_, tenant, certificate) in take_before(&mut self.watch_expiry, cutoff, |e| e.0) {
            if let Some(state) = self.tenants.get_mut(&tenant) {
                state.watch.remove(&certificate);
            }
            if let Some(watchers) = self.watchers.get_mut(&certificate) {
                watchers.remove(&tenant);
                if watchers.is_empty() {
                    self.watchers.remove(&certificate);
                }
            }
            removed += 1;
        }
        removed
    }

    /// Restores one snapshot item.
    fn restore(&mut self, item: Item) {
        match item {
            Item::Challenge { tenant, id, slot } => {
                let expires_at = match &slot {
                    ChallengeSlot::Pending { challenge } => challenge.expires_at,
                    ChallengeSlot::Used { expires_at, .. } => *expires_at,
                };
                self.insert_challenge(tenant, IdKey::new(&id), slot, expires_at);
            }
            Item::Verification { tenant, record } => self.insert_verification(tenant, record),
            Item::Entitlement { tenant, certificate, verified_at } => self.entitle(&tenant, &certificate, verified_at),
            Item::Link { tenant, record } => {
                let state = self.tenant_mut(&tenant);
                state.links_by_customer.insert((record.customer_id.clone(), record.certificate.clone()));
                state.links.insert(record.certificate.clone(), record);
            }
            Item::Watch { tenant, watched } => {
                self.watch(&tenant, &watched);
            }
            Item::Event { tenant, sequence, event } => {
                self.tenant_mut(&tenant).events.insert(sequence, event);
            }
            Item::EventStatus { tenant, certificate, status } => {
                self.tenant_mut(&tenant).event_status.insert(certificate, status);
            }
            Item::Head { tenant, sequence } => self.tenant_mut(&tenant).head = sequence,
            Item::Meta { key, value } => {
                self.meta.insert(key, value);
            }
            Item::Directory { key, value } => {
                self.directory.insert(key, value);
            }
            Item::PlatformLog { sequence, entry } => {
                self.platform_log.insert(sequence, entry);
            }
            Item::AuditLeaf { tenant, index, leaf } => {
                let state = self.tenant_mut(&tenant);
                // Snapshots write the floor, then the leaves in order; a gap would shift every
                // later index.
                if state.audit_size() == index {
                    state.audit.push_back(leaf);
                }
            }
            Item::AuditFloor { tenant, floor } => {
                let state = self.tenant_mut(&tenant);
                // Before the tenant's leaves, as snapshots write it.
                if state.audit.is_empty() {
                    state.audit_floor = floor;
                }
            }
            Item::Evidence { tenant, evidence } => {
                self.tenant_mut(&tenant).evidence.insert(evidence.key, evidence.der);
            }
        }
    }

    /// Every item, as a snapshot holds them.
    fn items(&self) -> impl Iterator<Item = Item> + '_ {
        let meta = self
            .meta
            .iter()
            .map(|(key, value)| Item::Meta { key: key.clone(), value: value.clone() })
            .chain(self.directory.iter().map(|(key, value)| Item::Directory { key: key.clone(), value: value.clone() }))
            .chain(
                self.platform_log
                    .iter()
                    .map(|(sequence, entry)| Item::PlatformLog { sequence: *sequence, entry: entry.clone() }),
            );
        let tenants = self.tenants.iter().flat_map(|(tenant, state)| {
            let t = || tenant.clone();
            let challenges = state.challenges.iter().map(move |(id, slot)| Item::Challenge {
                tenant: t(),
                id: id.to_string(),
                slot: slot.clone(),
            });
            let verifications = state
                .verifications
                .values()
                .map(move |record| Item::Verification { tenant: t(), record: record.clone() });
            let entitlements = state.entitlements.iter().map(move |(certificate, at)| Item::Entitlement {
                tenant: t(),
                certificate: certificate.clone(),
                verified_at: *at,
            });
            let links = state.links.values().map(move |record| Item::Link { tenant: t(), record: record.clone() });
            let watches = state.watch.iter().map(move |(certificate, entry)| Item::Watch {
                tenant: t(),
                watched: Watched { certificate: certificate.clone(), entry: entry.clone() },
            });
            let events = state.events.iter().map(move |(sequence, event)| Item::Event {
                tenant: t(),
                sequence: *sequence,
                event: event.clone(),
            });
            let statuses = state.event_status.iter().map(move |(certificate, status)| Item::EventStatus {
                tenant: t(),
                certificate: certificate.clone(),
                status: status.clone(),
            });
            let head = std::iter::once(Item::Head { tenant: t(), sequence: state.head });
            let floor = (state.audit_floor > 0).then(|| Item::AuditFloor { tenant: t(), floor: state.audit_floor });
            let audit = state.audit.iter().zip(state.audit_floor..).map(move |(leaf, index)| Item::AuditLeaf {
                tenant: t(),
                index,
                leaf: leaf.clone(),
            });
            let evidence = state.evidence.iter().map(move |(key, der)| Item::Evidence {
                tenant: t(),
                evidence: Evidence { key: *key, der: der.clone() },
            });
            challenges
                .chain(verifications)
                .chain(entitlements)
                .chain(links)
                .chain(watches)
                .chain(events)
                .chain(statuses)
                .chain(head)
                .chain(floor)
                .chain(audit)
                .chain(evidence)
        });
        meta.chain(tenants)
    }

    /// How many items a snapshot would hold (compaction's measure).
    fn item_count(&self) -> u64 {
        let per_tenant: usize = self
            .tenants
            .values()
            .map(|s| {
                s.challenges.len()
                    + s.verifications.len()
                    + s.entitlements.len()
                    + s.links.len()
                    + s.watch.len()
                    + s.events.len()
                    + s.event_status.len()
                    + s.audit.len()
                    + s.evidence.len()
                    + 1
            })
            .sum();
        (per_tenant + self.meta.len() + self.directory.len() + self.platform_log.len()) as u64
    }
}

/// The customer's links, in certificate order.
fn customer_links<'s>(state: &'s TenantState, customer_id: &'s str) -> impl Iterator<Item = &'s (String, CertId)> + 's {
    state
        .links_by_customer
        .range((customer_id.to_owned(), CertId { ca_key_id: String::new(), serial: String::new() })..)
        .take_while(move |(customer, _)| customer == customer_id)
}

/// Removes and returns the entries of an age index (ordered by time first) whose time is before
/// `cutoff`.
fn take_before<T: Ord>(index: &mut BTreeSet<T>, cutoff: i64, time: impl Fn(&T) -> i64) -> Vec<T> {
    let mut old = Vec::new();
    while index.first().is_some_and(|entry| time(entry) < cutoff) {
        old.extend(index.pop_first());
    }
    old
}

impl JournalStore {
    /// Opens the journal at `path`, creating it and its parent directories if needed, and replays
    /// it into memory (a torn tail is cut off: see [`JournalStore::recovery`]). Compacts the file
    /// when it holds far more entries than live items.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StoreError::CreateDir { path: parent.to_path_buf(), source })?;
        }
        let lock = lock_file(&path)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error("opening the journal", &e))?;
        let mut state = State::default();
        let recovered = replay(&mut file, &mut state)?;
        let mut entries = recovered.entries;
        let counters = Counters::default();
        if worth_compacting(entries, &state) {
            // No call runs yet: the snapshot is of the state just replayed.
            let temporary = compaction_path(&path);
            entries = write_snapshot(&temporary, &state)?;
            std::fs::rename(&temporary, &path).map_err(|e| io_error("replacing the journal", &e))?;
            sync_parent(&path)?;
            file = reopen(&path)?;
            counters.compactions.fetch_add(1, Ordering::Relaxed);
        }
        let inner = Arc::new(Inner {
            path,
            shared: RwLock::new(Shared { state, pending: Vec::new(), spare: Vec::new(), appended: 0, entries }),
            flush: Mutex::new(Flush {
                durable: 0,
                flushing: false,
                failed: None,
                waiters: Vec::new(),
                requested: false,
                closing: false,
                queued: false,
            }),
            flushed: Condvar::new(),
            flush_requested: Condvar::new(),
            file: Mutex::new(Appender::at_end(file)?),
            rewriting: Mutex::new(()),
            counters,
            refusing: AtomicBool::new(false),
            commit_delay_micros: AtomicU64::new(0),
            recovered,
            _lock: lock,
        });
        let flusher_inner = Arc::clone(&inner);
        let flusher = std::thread::Builder::new()
            .name("jpki-journal-flush".into())
            .spawn(move || flusher_inner.flusher_loop())
            .map_err(|e| StoreError::Backend(format!("starting the journal's flusher thread: {e}")))?;
        Ok(JournalStore { inner, flusher: Some(flusher) })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// What the last open replayed and cut off.
    pub fn recovery(&self) -> Recovery {
        self.inner.recovered
    }

    /// What the journal did since it was opened.
    pub fn stats(&self) -> JournalStats {
        self.inner.stats()
    }

    /// Writes a compact copy of the journal to `destination` (a new file, synced) while calls go
    /// on, without making them wait: a snapshot of the state that the journal's frames give at the
    /// start, then the frames written since, up to the end. It holds every call acknowledged
    /// before it began; returns its number of entries. The result is a journal: restore it by
    /// putting it in place of the store's file while the gateway is stopped.
    pub fn backup(&self, destination: impl AsRef<Path>) -> Result<u64, StoreError> {
        let inner = &self.inner;
        let _rewriting = inner.rewriting.lock().map_err(|_| poisoned())?;
        let mut rewrite = inner.rewrite_beside(destination.as_ref(), || {})?;
        let end = inner.file.lock().map_err(|_| poisoned())?.end;
        let copied = copy_frames(&rewrite.source, &mut rewrite.file, rewrite.copied_to, end)?;
        rewrite.file.sync_data().map_err(|e| io_error("syncing a backup", &e))?;
        Ok(rewrite.snapshot + rewrite.copied + copied)
    }

    /// Rewrites the journal as a snapshot of the state: the file shrinks to the live items. Calls
    /// go on meanwhile, and wait only for the switch of files (docs/durability.md, "Compaction").
    pub fn compact(&self) -> Result<(), StoreError> {
        self.inner.compact(|| {})
    }

    /// Runs `calls` on this thread with the durability wait of every journal call deferred: they
    /// return once applied and appended, and the result comes with the entry that must be flushed
    /// before any answer resting on it is sent (`None` when nothing waits). Await it with
    /// [`JournalStore::durable`]. For a caller that must not block its thread (an async runtime's
    /// worker): `calls` must not move to another thread or await.
    pub fn deferring<T>(&self, calls: impl FnOnce() -> T) -> (T, Option<u64>) {
        let outer = DEFERRED.with(|deferred| deferred.replace(Some(0)));
        let value = calls();
        let upto = DEFERRED.with(|deferred| deferred.replace(outer)).filter(|&upto| upto > 0);
        (value, upto)
    }

    /// Resolves once the journal is on disk up to entry `upto` (from [`JournalStore::deferring`]).
    /// A poll that finds no flush under way leads one on the polling thread, which blocks for one
    /// write and `fdatasync`; one that finds a flush under way registers, and that flush's leader or
    /// the store's flusher thread wakes it. So at most one thread at a time blocks on the disk.
    pub fn durable(&self, upto: u64) -> Durable {
        Durable { inner: Arc::clone(&self.inner), upto, lead: true }
    }

    /// How long the flusher thread waits, before a flush that a [`JournalStore::durable_led_elsewhere`]
    /// waiter asked for, for more entries to share its `fdatasync` (PostgreSQL's `commit_delay`).
    /// Such a waiter's caller has a queue of calls, so the entries of the calls behind it arrive
    /// within a fraction of a millisecond; without the delay, a sync under load serves one or two
    /// calls. Zero (the default) flushes at once. Flushes that a waiter leads on its own thread,
    /// and synchronous callers, never wait.
    pub fn set_commit_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.inner.commit_delay_micros.store(micros, Ordering::Relaxed);
    }

    /// [`JournalStore::durable`] that never leads the flush on the polling thread: the flusher
    /// thread (or a flush already under way) makes the entry durable and wakes it. For a caller
    /// whose thread has other calls to serve meanwhile.
    pub fn durable_led_elsewhere(&self, upto: u64) -> Durable {
        Durable { inner: Arc::clone(&self.inner), upto, lead: false }
    }
}

thread_local! {
    /// Inside [`JournalStore::deferring`]: the highest entry a deferred call must see flushed.
    static DEFERRED: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The future of [`JournalStore::durable`].
#[must_use = "the entry is durable only when this resolves"]
pub struct Durable {
    inner: Arc<Inner>,
    upto: u64,
    /// Whether a poll that finds no flush under way leads one on its own thread.
    lead: bool,
}

impl Future for Durable {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let mut flush = match self.inner.lock_flush() {
            Ok(flush) => flush,
            Err(error) => return Poll::Ready(Err(error)),
        };
        if let Some(settled) = settled(&flush, self.upto) {
            return Poll::Ready(settled);
        }
        if self.lead && !flush.flushing {
            // No flush under way: lead one here, as a synchronous caller does. This blocks the
            // polling thread for one write and `fdatasync` (at most one runtime worker at a time,
            // since the others find the flush under way), and saves waking the flusher thread and
            // being woken by it: two thread hand-offs per call.
            flush = match self.inner.lead(flush) {
                Ok(flush) => flush,
                Err(error) => return Poll::Ready(Err(error)),
            };
            if let Some(settled) = settled(&flush, self.upto) {
                return Poll::Ready(settled);
            }
        }
        flush.waiters.push((self.upto, context.waker().clone()));
        flush.queued |= !self.lead;
        if !flush.requested {
            flush.requested = true;
            self.inner.flush_requested.notify_one();
        }
        Poll::Pending
    }
}

impl Inner {
    fn stats(&self) -> JournalStats {
        JournalStats {
            logged: self.counters.logged.load(Ordering::Relaxed),
            syncs: self.counters.syncs.load(Ordering::Relaxed),
            compactions: self.counters.compactions.load(Ordering::Relaxed),
        }
    }

    /// Writes at `path` a journal that replays to the same state as this one, holding no lock
    /// that calls take: replays the frames on disk now into a state of its own (the file's
    /// frames are only ever appended to), writes that state's snapshot, then copies the frames
    /// written meanwhile, until fewer than [`CATCH_UP_BYTES`] of them are left. The caller holds
    /// `rewriting`.
    ///
    /// `meanwhile` runs once the snapshot is written (tests make calls there).
    fn rewrite_beside(&self, path: &Path, meanwhile: impl FnOnce()) -> Result<Rewrite, StoreError> {
        let reading = |e: std::io::Error| io_error("reading the journal", &e);
        // Every frame before `end` is whole: frames are written and `end` moved under this lock.
        let cut = self.file.lock().map_err(|_| poisoned())?.end;
        let source = File::open(&self.path).map_err(reading)?;
        let mut state = State::default();
        let replaced = {
            let mut reader = std::io::BufReader::with_capacity(1 << 20, &source);
            read_header(&mut reader)?;
            let (entries, at) = replay_frames(&mut reader, cut, &mut state)?;
            if at != cut {
                return Err(StoreError::Corrupt {
                    what: "journal",
                    detail: format!("its frames do not replay whole to {cut} bytes (stopped at {at})"),
                });
            }
            entries
        };
        let snapshot = write_snapshot(path, &state)?;
        drop(state);
        meanwhile();
        let mut file = OpenOptions::new().append(true).open(path).map_err(|e| io_error("writing a snapshot", &e))?;
        let (mut copied_to, mut copied) = (cut, 0);
        // Copying is far faster than calls write frames; the bound only ends a race it would lose.
        for _ in 0..CATCH_UP_ROUNDS {
            let end = self.file.lock().map_err(|_| poisoned())?.end;
            if end - copied_to < CATCH_UP_BYTES {
                break;
            }
            copied += copy_frames(&source, &mut file, copied_to, end)?;
            copied_to = end;
        }
        // So that the sync made while calls wait covers only what is copied then.
        file.sync_data().map_err(|e| io_error("syncing a snapshot", &e))?;
        Ok(Rewrite { source, file, snapshot, copied, replaced, copied_to })
    }

    /// Rewrites the journal as a snapshot of the state and the frames since ([`Inner::rewrite_beside`]),
    /// then, with calls waiting, copies the last frames and the pending ones and renames the new
    /// file over the old one.
    fn compact(&self, meanwhile: impl FnOnce()) -> Result<(), StoreError> {
        let _rewriting = self.rewriting.lock().map_err(|_| poisoned())?;
        let temporary = compaction_path(&self.path);
        let mut rewrite = match self.rewrite_beside(&temporary, meanwhile) {
            Ok(rewrite) => rewrite,
            Err(error) => {
                let _ = std::fs::remove_file(&temporary);
                return Err(error);
            }
        };
        // Become the flush leader, so that nothing else writes the file meanwhile.
        let mut flush = self.lock_flush()?;
        while flush.flushing {
            flush = self.flushed.wait(flush).map_err(|_| poisoned())?;
        }
        if let Err(error) = check_failed(&flush) {
            let _ = std::fs::remove_file(&temporary);
            return Err(error);
        }
        flush.flushing = true;
        drop(flush);
        // Ok(Err(_)): not switched, the old file and the pending frames as they were.
        let result = (|| {
            let mut shared = self.write()?;
            let last_frames = (|| -> Result<(), StoreError> {
                let end = self.file.lock().map_err(|_| poisoned())?.end;
                copy_frames(&rewrite.source, &mut rewrite.file, rewrite.copied_to, end)?;
                rewrite.file.write_all(&shared.pending).map_err(|e| io_error("writing a snapshot", &e))?;
                rewrite.file.sync_data().map_err(|e| io_error("syncing a snapshot", &e))
            })();
            if let Err(error) = last_frames.and_then(|()| {
                std::fs::rename(&temporary, &self.path).map_err(|e| io_error("replacing the journal", &e))
            }) {
                let _ = std::fs::remove_file(&temporary);
                return Ok(Err(error));
            }
            *self.file.lock().map_err(|_| poisoned())? = Appender::at_end(reopen(&self.path)?)?;
            // The new file holds every applied operation, the pending ones too.
            shared.pending.clear();
            // The frames after the replaced ones are all in the new file, after the snapshot.
            shared.entries = shared.entries.saturating_sub(rewrite.replaced) + rewrite.snapshot;
            let upto = shared.appended;
            // Calls go on from here; none is acknowledged before the rename is durable, since
            // acknowledging takes a flush and this compaction leads until then.
            drop(shared);
            sync_parent(&self.path)?;
            Ok(Ok(upto))
        })();
        let mut flush = self.lock_flush()?;
        flush.flushing = false;
        match &result {
            Ok(Ok(upto)) => {
                flush.durable = flush.durable.max(*upto);
                self.counters.compactions.fetch_add(1, Ordering::Relaxed);
            }
            // Until the rename nothing changed: the pending frames go to the old file as usual.
            Ok(Err(_)) => {}
            // After it, whether the journal in place has the pending frames is unknown: refuse
            // calls from now on.
            Err(error) => self.refuse(&mut flush, format!("compaction failed: {error}")),
        }
        // The flusher wakes the waiters (their entries are in the new file, still pending, or the
        // store failed); as in `lead`, it must be told even if an earlier request of theirs found it busy.
        flush.requested = !flush.waiters.is_empty();
        if flush.requested {
            self.flush_requested.notify_one();
        }
        self.flushed.notify_all();
        result.and_then(|switched| switched.map(|_| ()))
    }

    fn compact_if_worth_it(&self) -> Result<(), StoreError> {
        let worth_it = {
            let shared = self.read()?;
            worth_compacting(shared.entries, &shared.state)
        };
        if worth_it { self.compact(|| {}) } else { Ok(()) }
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, Shared>, StoreError> {
        self.shared.read().map_err(|_| poisoned())
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, Shared>, StoreError> {
        self.shared.write().map_err(|_| poisoned())
    }

    /// Refuses every later call, for `why`.
    fn refuse(&self, flush: &mut Flush, why: String) {
        flush.failed = Some(why);
        self.refusing.store(true, Ordering::Release);
    }

    fn lock_flush(&self) -> Result<MutexGuard<'_, Flush>, StoreError> {
        self.flush.lock().map_err(|_| poisoned())
    }

    /// Applies `op`, appends it to the journal when it changed something, and, when `durable`,
    /// returns only once the journal is on disk up to it (or up to the last entry before it,
    /// when it changed nothing).
    fn commit(&self, op: Op, durable: bool) -> Result<Answer, StoreError> {
        // Encoded outside the lock; dropped if the operation fails or changes nothing.
        let frame = encode_frame(&EntryRef::Op(&op))?;
        let (answer, upto, unflushed) = {
            let mut shared = self.write()?;
            if self.refusing.load(Ordering::Acquire) {
                check_failed(&*self.lock_flush()?)?;
            }
            let (answer, changed) = shared.state.apply(&op)?;
            if changed {
                self.append(&mut shared, &frame);
            }
            (answer, shared.appended, shared.pending.len())
        };
        if durable || unflushed > MAX_UNFLUSHED {
            self.durable_or_deferred(upto)?;
        }
        Ok(answer)
    }

    /// Appends one frame to the pending buffer (under the state lock, in the state's order).
    fn append(&self, shared: &mut Shared, frame: &[u8]) {
        shared.pending.extend_from_slice(frame);
        shared.appended += 1;
        shared.entries += 1;
        self.counters.logged.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns once frame `upto` is on disk, or, inside [`JournalStore::deferring`], records it
    /// for the caller to await.
    fn durable_or_deferred(&self, upto: u64) -> Result<(), StoreError> {
        let deferred = DEFERRED.with(|deferred| {
            let waiting = deferred.get()?;
            deferred.set(Some(waiting.max(upto)));
            Some(())
        });
        if deferred.is_none() {
            self.wait_durable(upto)?;
        }
        Ok(())
    }

    /// Applies a call's write with its audit leaf, appends them as one frame and returns once it
    /// is on disk. The frame holds the selected leaf, so it is encoded under the lock.
    fn commit_audited(
        &self,
        tenant: &TenantId,
        write: Option<Op>,
        leaves: &AuditLeaves,
    ) -> Result<(WriteAnswer, u64), StoreError> {
        let (answer, index, upto) = {
            let mut shared = self.write()?;
            if self.refusing.load(Ordering::Acquire) {
                check_failed(&*self.lock_flush()?)?;
            }
            let (answer, index, leaf) = shared.state.apply_audited(tenant, write.as_ref(), leaves)?;
            // The leaf and evidence go into the frame as they are (`encode_audited_frame`).
            let op = Op::Audited {
                tenant: tenant.clone(),
                write: write.map(Box::new),
                index,
                leaf: String::new(),
                evidence: None,
            };
            let frame = match encode_audited_frame(&op, leaf, leaves.evidence()) {
                Ok(frame) => frame,
                Err(error) => {
                    // Applied but not journalled: the state is ahead of the file; refuse from now.
                    self.refuse(&mut *self.lock_flush()?, error.to_string());
                    return Err(error);
                }
            };
            self.append(&mut shared, &frame);
            (answer, index, shared.appended)
        };
        self.durable_or_deferred(upto)?;
        Ok((answer, index))
    }

    /// Returns once every frame up to `upto` is on disk: leads a flush if none is under way,
    /// otherwise waits for the one that is (and leads the next one if that was not enough).
    fn wait_durable(&self, upto: u64) -> Result<(), StoreError> {
        let mut flush = self.lock_flush()?;
        loop {
            if let Some(settled) = settled(&flush, upto) {
                return settled;
            }
            if flush.flushing {
                flush = self.flushed.wait(flush).map_err(|_| poisoned())?;
                continue;
            }
            flush = self.lead(flush)?;
        }
    }

    /// Leads one flush (the caller found none under way) and wakes everyone it made durable;
    /// asks the flusher thread for another when asynchronous waiters remain.
    fn lead<'a>(&'a self, mut flush: MutexGuard<'a, Flush>) -> Result<MutexGuard<'a, Flush>, StoreError> {
        flush.flushing = true;
        drop(flush);
        let result = self.flush_pending();
        let mut flush = self.lock_flush()?;
        flush.flushing = false;
        match result {
            Ok(written) => flush.durable = flush.durable.max(written),
            Err(error) => self.refuse(&mut flush, error.to_string()),
        }
        let (durable, failed) = (flush.durable, flush.failed.is_some());
        // A waiter whose entry is durable, or any when the store failed: it then reads the failure.
        let (ready, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut flush.waiters).into_iter().partition(|(upto, _)| failed || *upto <= durable);
        flush.waiters = waiting;
        // Whoever led (the flusher, or a synchronous caller), the flusher must hear of every
        // waiter left: it may have gone back to sleep because this flush was under way when they
        // asked, and a waiter that finds `requested` set does not notify again. A request whose
        // waiters this flush served is cleared, so it does not cost a useless sync.
        flush.requested = !flush.waiters.is_empty();
        if flush.requested {
            self.flush_requested.notify_one();
        }
        self.flushed.notify_all();
        ready.into_iter().for_each(|(_, waker)| waker.wake());
        Ok(flush)
    }

    /// The flusher thread: flushes whenever an asynchronous waiter asks and no flush is under
    /// way, after the commit delay when a queued waiter asked; ends when the store closes.
    fn flusher_loop(&self) {
        let Ok(mut flush) = self.lock_flush() else { return };
        loop {
            if flush.closing {
                return;
            }
            if !flush.requested || flush.flushing {
                flush = match self.flush_requested.wait(flush) {
                    Ok(flush) => flush,
                    Err(_) => return,
                };
                continue;
            }
            if flush.failed.is_some() {
                // Wake them all: each reads the failure.
                flush.requested = false;
                std::mem::take(&mut flush.waiters).into_iter().for_each(|(_, waker)| waker.wake());
                continue;
            }
            if std::mem::take(&mut flush.queued) {
                // `requested` stays set meanwhile, so the waiters arriving do not wake this thread.
                flush = match self.delay_commit(flush) {
                    Ok(flush) => flush,
                    Err(_) => return,
                };
                if flush.closing || flush.flushing {
                    continue;
                }
            }
            flush.requested = false;
            if flush.waiters.is_empty() {
                // A flush led elsewhere served them.
                continue;
            }
            flush = match self.lead(flush) {
                Ok(flush) => flush,
                Err(_) => return,
            };
        }
    }

    /// Waits [`JournalStore::set_commit_delay`] before a flush that a queued caller asked for, so
    /// that the calls behind it append their entries to the same sync; returns early when the
    /// store closes.
    fn delay_commit<'a>(&'a self, mut flush: MutexGuard<'a, Flush>) -> Result<MutexGuard<'a, Flush>, StoreError> {
        let started = Instant::now();
        while !flush.closing {
            // Read on each turn, so that a changed delay applies to the wait under way.
            let delay = Duration::from_micros(self.commit_delay_micros.load(Ordering::Relaxed));
            let left = (started + delay).saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // A flush led elsewhere ending, or the store closing, wakes this early: wait out the rest.
            flush = self.flush_requested.wait_timeout(flush, left).map_err(|_| poisoned())?.0;
        }
        Ok(flush)
    }

    /// The leader's work: takes every pending frame, writes them, and syncs; returns the number of
    /// the last frame now durable.
    fn flush_pending(&self) -> Result<u64, StoreError> {
        let (mut bytes, upto) = {
            let mut shared = self.write()?;
            let spare = std::mem::take(&mut shared.spare);
            (std::mem::replace(&mut shared.pending, spare), shared.appended)
        };
        let mut file = self.file.lock().map_err(|_| poisoned())?;
        file.append(&bytes)?;
        file.file.sync_data().map_err(|e| io_error("syncing the journal", &e))?;
        drop(file);
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        if bytes.capacity() <= MAX_SPARE_BYTES
            && let Ok(mut shared) = self.write()
        {
            bytes.clear();
            shared.spare = bytes;
        }
        Ok(upto)
    }
}

/// The answer of an audited write, as the trait gives it.
fn write_answer(answer: Answer) -> Result<WriteAnswer, StoreError> {
    Ok(match answer {
        Answer::Done => WriteAnswer::Done,
        Answer::Consumed(outcome) => WriteAnswer::Consumed(outcome),
        Answer::Linked(outcome) => WriteAnswer::Linked(outcome),
        Answer::Count(removed) => WriteAnswer::Unlinked(u32::try_from(removed).unwrap_or(u32::MAX)),
        Answer::Sequences(_) | Answer::Directory(_) => return Err(internal()),
    })
}

fn beyond_size() -> StoreError {
    invalid("audit trim", "is beyond the audit log's size")
}

/// An evidence key as a lowercase hex string.
mod hex_key {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(key))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut key = [0; 32];
        hex::decode_to_slice(text, &mut key).map_err(serde::de::Error::custom)?;
        Ok(key)
    }
}

/// Evidence keys as lowercase hex strings.
mod hex_keys {
    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(keys: &[[u8; 32]], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(keys.len()))?;
        for key in keys {
            seq.serialize_element(&hex::encode(key))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts
            .into_iter()
            .map(|text| {
                let mut key = [0; 32];
                hex::decode_to_slice(text, &mut key).map_err(serde::de::Error::custom)?;
                Ok(key)
            })
            .collect()
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend("the journal's state lock is poisoned (a call panicked)".into())
}

fn internal() -> StoreError {
    StoreError::Backend("the journal answered an operation with the wrong kind of answer".into())
}

/// A waiter's answer, once its entry is durable or the store has failed.
fn settled(flush: &Flush, upto: u64) -> Option<Result<(), StoreError>> {
    match check_failed(flush) {
        Err(error) => Some(Err(error)),
        Ok(()) => (flush.durable >= upto).then_some(Ok(())),
    }
}

fn check_failed(flush: &Flush) -> Result<(), StoreError> {
    match &flush.failed {
        Some(why) => Err(StoreError::Backend(format!("the journal refuses calls since an earlier failure: {why}"))),
        None => Ok(()),
    }
}

fn io_error(doing: &str, error: &std::io::Error) -> StoreError {
    StoreError::Backend(format!("{doing}: {error}"))
}

/// Takes the store's exclusive lock (`<file>.lock`), or fails with [`StoreError::InUse`].
fn lock_file(path: &Path) -> Result<File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(PathBuf::from(name))
        .map_err(|e| io_error("opening the journal's lock file", &e))?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(lock),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(StoreError::InUse { path: path.to_path_buf() }),
        Err(e) => Err(StoreError::Backend(format!("locking the journal: {e}"))),
    }
}

fn encode_frame(entry: &EntryRef<'_>) -> Result<Vec<u8>, StoreError> {
    let mut frame = vec![0; FRAME_HEADER];
    serde_json::to_writer(&mut frame, entry).map_err(encoding_error)?;
    seal_frame(frame)
}

fn encoding_error(error: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("encoding an entry: {error}"))
}

/// The frame of an audited call: `op` is its `audited` entry without the leaf and evidence, which
/// follow the entry's JSON as they are. Inside the JSON, the leaf (JSON text) would be escaped and
/// the evidence (DER) hex, and the two were most of the cost of encoding a verification's entry.
///
/// Payload: [`AUDITED_FRAME`], the JSON's length (u32, little-endian) and the JSON, the leaf's
/// length and the leaf, then the evidence's key (32 bytes) and DER when there is evidence.
fn encode_audited_frame(op: &Op, leaf: &str, evidence: Option<(&[u8; 32], &[u8])>) -> Result<Vec<u8>, StoreError> {
    let evidence_len = evidence.map_or(0, |(key, der)| key.len() + der.len());
    let mut frame = Vec::with_capacity(FRAME_HEADER + 256 + leaf.len() + evidence_len);
    frame.resize(FRAME_HEADER + 5, 0);
    frame[FRAME_HEADER] = AUDITED_FRAME;
    serde_json::to_writer(&mut frame, op).map_err(encoding_error)?;
    let json_len = frame.len() - FRAME_HEADER - 5;
    frame[FRAME_HEADER + 1..FRAME_HEADER + 5].copy_from_slice(&section_len(json_len)?.to_le_bytes());
    frame.extend_from_slice(&section_len(leaf.len())?.to_le_bytes());
    frame.extend_from_slice(leaf.as_bytes());
    if let Some((key, der)) = evidence {
        frame.extend_from_slice(key);
        frame.extend_from_slice(der);
    }
    seal_frame(frame)
}

fn section_len(len: usize) -> Result<u32, StoreError> {
    u32::try_from(len).ok().filter(|&len| len as usize <= MAX_FRAME).ok_or(invalid("entry", "too large"))
}

/// Fills in the length and CRC of a frame whose payload follows its (zeroed) header.
fn seal_frame(mut frame: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    let len = section_len(frame.len() - FRAME_HEADER)?;
    let crc = crc32fast::hash(&frame[FRAME_HEADER..]);
    frame[..4].copy_from_slice(&len.to_le_bytes());
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

fn decode_entry(payload: &[u8]) -> Result<Entry, StoreError> {
    match payload.split_first() {
        Some((&AUDITED_FRAME, sections)) => decode_audited(sections).map(Entry::Op),
        _ => serde_json::from_slice(payload).map_err(|e| corrupt_entry(e.to_string())),
    }
}

fn corrupt_entry(detail: String) -> StoreError {
    StoreError::Corrupt { what: "journal entry", detail }
}

/// The entry of an audited frame ([`encode_audited_frame`]), after its tag.
fn decode_audited(sections: &[u8]) -> Result<Op, StoreError> {
    let (json, rest) = sized_section(sections)?;
    let (leaf, rest) = sized_section(rest)?;
    let evidence = match rest.split_first_chunk::<32>() {
        None if rest.is_empty() => None,
        Some((key, der)) if !der.is_empty() => Some(Evidence { key: *key, der: der.to_vec() }),
        _ => return Err(corrupt_entry("an audited frame's evidence is cut short".into())),
    };
    let leaf =
        String::from_utf8(leaf.to_vec()).map_err(|_| corrupt_entry("an audited frame's leaf is not UTF-8".into()))?;
    match serde_json::from_slice(json).map_err(|e| corrupt_entry(e.to_string()))? {
        Op::Audited { tenant, write, index, leaf: inline, evidence: None } if inline.is_empty() => {
            Ok(Op::Audited { tenant, write, index, leaf, evidence })
        }
        _ => Err(corrupt_entry("an audited frame holds another entry".into())),
    }
}

/// A section of an audited frame (its u32 little-endian length, then its bytes), and the rest.
fn sized_section(bytes: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let cut = || corrupt_entry("an audited frame is cut short".into());
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(cut)?;
    let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| cut())?;
    (len <= rest.len()).then(|| rest.split_at(len)).ok_or_else(cut)
}

/// Reads the journal into `state`, one frame at a time (the file is never held in memory whole);
/// writes the header of a new file; cuts a torn tail.
fn replay(file: &mut File, state: &mut State) -> Result<Recovery, StoreError> {
    let reading = |e: std::io::Error| io_error("reading the journal", &e);
    let length = file.metadata().map_err(reading)?.len();
    if length < MAGIC.len() as u64 {
        // New, or created but cut before its header was synced: nothing was ever acknowledged.
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(reading)?;
        if !MAGIC.starts_with(&bytes) {
            return Err(StoreError::Corrupt { what: "journal", detail: "not a journal file (bad header)".into() });
        }
        file.set_len(0).map_err(|e| io_error("initialising the journal", &e))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| io_error("initialising the journal", &e))?;
        file.write_all(MAGIC).map_err(|e| io_error("initialising the journal", &e))?;
        file.sync_all().map_err(|e| io_error("initialising the journal", &e))?;
        return Ok(Recovery::default());
    }
    let mut reader = std::io::BufReader::with_capacity(1 << 20, &*file);
    read_header(&mut reader)?;
    let (entries, at) = replay_frames(&mut reader, length, state)?;
    // What follows the frames is the zeros ahead of them, or a torn write into them or past them.
    // It goes, so that a later flush never leaves a stale frame after its own. Only the non-zero
    // part is reported as torn.
    let truncated_bytes = torn_bytes(&mut reader, at, length).map_err(reading)?;
    drop(reader);
    if length > at {
        file.set_len(at).map_err(|e| io_error("cutting the journal's torn tail", &e))?;
        file.sync_all().map_err(|e| io_error("cutting the journal's torn tail", &e))?;
    }
    file.seek(SeekFrom::End(0)).map_err(reading)?;
    Ok(Recovery { entries, truncated_bytes })
}

/// Reads the journal's header, where `reader` stands; a file that does not start with it is not a
/// journal.
fn read_header(reader: &mut std::io::BufReader<&File>) -> Result<(), StoreError> {
    let mut header = [0u8; MAGIC.len()];
    reader.read_exact(&mut header).map_err(|e| io_error("reading the journal", &e))?;
    if &header != MAGIC {
        return Err(StoreError::Corrupt { what: "journal", detail: "not a journal file (bad header)".into() });
    }
    Ok(())
}

/// Applies the frames after the header, where `reader` stands, to `state`, up to `length` bytes
/// of file or the first frame that is not whole; returns the number of frames and where they end.
fn replay_frames(
    reader: &mut std::io::BufReader<&File>,
    length: u64,
    state: &mut State,
) -> Result<(u64, u64), StoreError> {
    let reading = |e: std::io::Error| io_error("reading the journal", &e);
    let mut at = MAGIC.len() as u64;
    let mut entries = 0;
    let mut payload = Vec::new();
    // Each frame: its length and CRC, then the payload. A zero length ends the frames (the zeros
    // the file is extended with ahead of them); the first frame that is cut short, too long for the
    // file or fails its CRC ends the journal (a torn write of the last group).
    loop {
        let mut frame = [0u8; FRAME_HEADER];
        if at + FRAME_HEADER as u64 > length {
            break;
        }
        reader.read_exact(&mut frame).map_err(reading)?;
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        if len == 0 || len > MAX_FRAME || at + (FRAME_HEADER + len) as u64 > length {
            break;
        }
        payload.resize(len, 0);
        reader.read_exact(&mut payload).map_err(reading)?;
        if crc32fast::hash(&payload) != crc {
            break;
        }
        match decode_entry(&payload)? {
            Entry::Op(op) => {
                state.apply(&op).map_err(|e| StoreError::Corrupt {
                    what: "journal",
                    detail: format!("entry {} does not apply again: {e}", entries + 1),
                })?;
            }
            Entry::Item(item) => state.restore(item),
        }
        entries += 1;
        at += (FRAME_HEADER + len) as u64;
    }
    Ok((entries, at))
}

/// The bytes from `at` (where `reader` stands, or inside the frame it stopped in) to the last
/// non-zero byte before `length`.
fn torn_bytes(reader: &mut std::io::BufReader<&File>, at: u64, length: u64) -> std::io::Result<u64> {
    reader.seek(SeekFrom::Start(at))?;
    let (mut offset, mut last_non_zero) = (at, at);
    let mut chunk = vec![0; 64 << 10];
    while offset < length {
        let read = reader.read(&mut chunk)?;
        if read == 0 {
            break;
        }
        if let Some(position) = chunk[..read].iter().rposition(|&byte| byte != 0) {
            last_non_zero = offset + position as u64 + 1;
        }
        offset += read as u64;
    }
    Ok(last_non_zero - at)
}

/// Where a compaction writes the new journal before renaming it over the one at `path`.
fn compaction_path(path: &Path) -> PathBuf {
    path.with_extension("journal.compacting")
}

/// The journal at `path`, opened for the appender after a compaction renamed it into place.
fn reopen(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new().read(true).write(true).open(path).map_err(|e| io_error("reopening the journal", &e))
}

/// Whether a journal of `entries` holds enough more than `state`'s items to be compacted.
fn worth_compacting(entries: u64, state: &State) -> bool {
    entries > 2 * state.item_count() + COMPACTION_SLACK
}

/// A journal written beside the store's ([`Inner::rewrite_beside`]).
struct Rewrite {
    /// The store's journal, as it was when the rewrite began (read by offset).
    source: File,
    /// The new journal, open for appending.
    file: File,
    /// How many entries the snapshot wrote.
    snapshot: u64,
    /// How many frames were copied after it.
    copied: u64,
    /// How many entries of the old journal the snapshot stands for.
    replaced: u64,
    /// Where the frames copied so far end in the old journal.
    copied_to: u64,
}

/// Appends the whole frames of `source` between the offsets `from` and `to` to `out`; returns
/// how many.
fn copy_frames(source: &File, out: &mut File, from: u64, to: u64) -> Result<u64, StoreError> {
    use std::os::unix::fs::FileExt;
    let reading = |e: std::io::Error| io_error("reading the journal", &e);
    let (mut at, mut frames, mut frame) = (from, 0, Vec::new());
    while at < to {
        let mut header = [0u8; FRAME_HEADER];
        source.read_exact_at(&mut header, at).map_err(reading)?;
        let len = u64::from(u32::from_le_bytes([header[0], header[1], header[2], header[3]]));
        let whole = FRAME_HEADER as u64 + len;
        if len == 0 || at + whole > to {
            return Err(StoreError::Corrupt { what: "journal", detail: format!("no whole frame at {at} before {to}") });
        }
        frame.resize(usize::try_from(whole).map_err(|_| internal())?, 0);
        source.read_exact_at(&mut frame, at).map_err(reading)?;
        out.write_all(&frame).map_err(|e| io_error("writing a snapshot", &e))?;
        at += whole;
        frames += 1;
    }
    Ok(frames)
}

/// Writes `state` as a journal of snapshot items to `path` (replacing it), synced; returns the
/// number of entries.
fn write_snapshot(path: &Path, state: &State) -> Result<u64, StoreError> {
    let file = File::create(path).map_err(|e| io_error("creating a snapshot", &e))?;
    let mut out = std::io::BufWriter::new(file);
    out.write_all(MAGIC).map_err(|e| io_error("writing a snapshot", &e))?;
    let mut entries = 0;
    for item in state.items() {
        out.write_all(&encode_frame(&EntryRef::Item(&item))?).map_err(|e| io_error("writing a snapshot", &e))?;
        entries += 1;
    }
    let file = out.into_inner().map_err(|e| io_error("writing a snapshot", e.error()))?;
    file.sync_all().map_err(|e| io_error("syncing a snapshot", &e))?;
    sync_parent(path)?;
    Ok(entries)
}

/// Syncs the directory of `path`, so that a new or renamed file is found after a crash.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(parent).and_then(|dir| dir.sync_all()).map_err(|e| io_error("syncing the store's directory", &e))
}

impl TenantStore for JournalStore {
    fn put_challenge(&self, tenant: &TenantId, id: &str, challenge: Challenge) -> Result<(), StoreError> {
        check_id("challenge id", id)?;
        challenge.validate()?;
        // Not durable on its own: see the module docs.
        self.inner.commit(Op::PutChallenge { tenant: tenant.clone(), id: id.to_owned(), challenge }, false).map(|_| ())
    }

    fn consume_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError> {
        check_id("challenge id", id)?;
        match self.inner.commit(Op::Consume { tenant: tenant.clone(), id: id.to_owned(), now }, true)? {
            Answer::Consumed(outcome) => Ok(outcome),
            _ => Err(internal()),
        }
    }

    fn peek_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError> {
        check_id("challenge id", id)?;
        let shared = self.inner.read()?;
        let slot = shared.state.tenant(tenant).and_then(|t| t.challenges.get(&IdKey::new(id)));
        Ok(slot.map_or(ConsumeOutcome::Unknown, |slot| slot.consume(now).0))
    }

    fn settle_proof(
        &self,
        tenant: &TenantId,
        id: &str,
        now: i64,
        verified: VerificationRecord,
        watch: Option<WatchRequest>,
    ) -> Result<ConsumeOutcome, StoreError> {
        check_id("challenge id", id)?;
        let watch = checked_watch(watch)?;
        verified.validate()?;
        let op = Op::SettleProof { tenant: tenant.clone(), id: id.to_owned(), now, verified, watch };
        match self.inner.commit(op, true)? {
            Answer::Consumed(outcome) => Ok(outcome),
            _ => Err(internal()),
        }
    }

    fn purge_expired(&self, now: i64, verification_retention_secs: i64) -> Result<usize, StoreError> {
        if verification_retention_secs < 0 {
            return Err(invalid("verification_retention_secs", "is negative"));
        }
        let removed = match self.inner.commit(Op::Purge { now, retention_secs: verification_retention_secs }, true)? {
            Answer::Count(removed) => removed,
            _ => return Err(internal()),
        };
        self.inner.compact_if_worth_it()?;
        Ok(removed)
    }

    fn record_verification(
        &self,
        tenant: &TenantId,
        record: VerificationRecord,
        watch: Option<WatchRequest>,
    ) -> Result<(), StoreError> {
        record.validate()?;
        let watch = checked_watch(watch)?;
        self.inner.commit(Op::RecordVerification { tenant: tenant.clone(), record, watch }, true).map(|_| ())
    }

    fn get_verification(&self, tenant: &TenantId, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
        check_id("verification id", id)?;
        let shared = self.inner.read()?;
        Ok(shared.state.tenant(tenant).and_then(|t| t.verifications.get(&IdKey::new(id))).cloned())
    }

    fn link(&self, tenant: &TenantId, record: LinkRecord) -> Result<LinkOutcome, StoreError> {
        record.validate()?;
        match self.inner.commit(Op::Link { tenant: tenant.clone(), record }, true)? {
            Answer::Linked(outcome) => Ok(outcome),
            _ => Err(internal()),
        }
    }

    fn unlink(&self, tenant: &TenantId, customer_id: &str, certificate: Option<&CertId>) -> Result<u32, StoreError> {
        check_customer(customer_id)?;
        if let Some(cert) = certificate {
            cert.validate()?;
        }
        let op = Op::Unlink {
            tenant: tenant.clone(),
            customer_id: customer_id.to_owned(),
            certificate: certificate.cloned(),
        };
        match self.inner.commit(op, true)? {
            Answer::Count(removed) => Ok(u32::try_from(removed).unwrap_or(u32::MAX)),
            _ => Err(internal()),
        }
    }

    fn links_by_customer(&self, tenant: &TenantId, customer_id: &str) -> Result<Vec<LinkRecord>, StoreError> {
        check_customer(customer_id)?;
        let shared = self.inner.read()?;
        let Some(state) = shared.state.tenant(tenant) else { return Ok(Vec::new()) };
        customer_links(state, customer_id)
            .map(|(_, certificate)| {
                state.links.get(certificate).cloned().ok_or_else(|| StoreError::Corrupt {
                    what: "link index",
                    detail: "customer index names a certificate without a link".into(),
                })
            })
            .collect()
    }

    fn link_by_certificate(&self, tenant: &TenantId, certificate: &CertId) -> Result<Option<LinkRecord>, StoreError> {
        certificate.validate()?;
        let shared = self.inner.read()?;
        Ok(shared.state.tenant(tenant).and_then(|t| t.links.get(certificate)).cloned())
    }

    fn watch(&self, tenant: &TenantId, certificate: &CertId, not_after: i64, kind: &str) -> Result<(), StoreError> {
        certificate.validate()?;
        check_kind(kind)?;
        let watched =
            Watched { certificate: certificate.clone(), entry: WatchEntry { kind: kind.to_owned(), not_after } };
        self.inner.commit(Op::Watch { tenant: tenant.clone(), watched }, true).map(|_| ())
    }

    fn watchers(&self, certificate: &CertId) -> Result<Vec<(TenantId, String)>, StoreError> {
        certificate.validate()?;
        let shared = self.inner.read()?;
        Ok(shared
            .state
            .watchers
            .get(certificate)
            .map(|watchers| watchers.iter().map(|(tenant, kind)| (tenant.clone(), kind.clone())).collect())
            .unwrap_or_default())
    }

    fn watched(&self, tenant: &TenantId) -> Result<Vec<CertId>, StoreError> {
        let shared = self.inner.read()?;
        Ok(shared.state.tenant(tenant).map(|t| t.watch.keys().cloned().collect()).unwrap_or_default())
    }

    fn append_events(&self, events: Vec<(TenantId, RevocationNotice)>) -> Result<Vec<u64>, StoreError> {
        for (_, notice) in &events {
            notice.validate()?;
        }
        match self.inner.commit(Op::AppendEvents { events }, true)? {
            Answer::Sequences(sequences) => Ok(sequences),
            _ => Err(internal()),
        }
    }

    fn last_event_for(&self, tenant: &TenantId, certificate: &CertId) -> Result<Option<StoredEvent>, StoreError> {
        certificate.validate()?;
        let shared = self.inner.read()?;
        let Some(state) = shared.state.tenant(tenant) else { return Ok(None) };
        let Some(status) = state.event_status.get(certificate) else { return Ok(None) };
        let event = state.events.get(&status.sequence).cloned().ok_or_else(|| StoreError::Corrupt {
            what: "event log",
            detail: "a certificate's status names a missing event".into(),
        })?;
        Ok(Some(StoredEvent { sequence: status.sequence, event }))
    }

    fn entitled(
        &self,
        tenant: &TenantId,
        certificates: &[CertId],
        now: i64,
        retention_secs: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let cutoff = entitlement_cutoff(certificates, now, retention_secs)?;
        let shared = self.inner.read()?;
        let state = shared.state.tenant(tenant);
        Ok(certificates
            .iter()
            .map(|certificate| {
                state.is_some_and(|t| {
                    t.links.contains_key(certificate) || t.entitlements.get(certificate).is_some_and(|&at| at >= cutoff)
                })
            })
            .collect())
    }

    fn events_after(&self, tenant: &TenantId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let Some(first) = after.checked_add(1) else { return Ok(Vec::new()) };
        let shared = self.inner.read()?;
        let Some(state) = shared.state.tenant(tenant) else { return Ok(Vec::new()) };
        Ok(state
            .events
            .range(first..)
            .take(limit)
            .map(|(sequence, event)| StoredEvent { sequence: *sequence, event: event.clone() })
            .collect())
    }

    fn last_sequence(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(self.inner.read()?.state.tenant(tenant).map_or(0, |t| t.head))
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_id("meta key", key)?;
        if value.len() > MAX_META_LEN {
            return Err(invalid("meta value", "too long"));
        }
        self.inner.commit(Op::PutMeta { key: key.to_owned(), value: value.to_vec() }, true).map(|_| ())
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_id("meta key", key)?;
        Ok(self.inner.read()?.state.meta.get(key).cloned())
    }

    fn directory_write(&self, write: DirectoryWrite) -> Result<DirectoryOutcome, StoreError> {
        write.validate()?;
        match self.inner.commit(Op::Directory { write }, true)? {
            Answer::Directory(outcome) => Ok(outcome),
            _ => Err(internal()),
        }
    }

    fn directory_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.inner.read()?.state.directory.get(key).cloned())
    }

    fn directory_scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let shared = self.inner.read()?;
        Ok(shared
            .state
            .directory
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn write_audited(&self, tenant: &TenantId, write: TenantWrite, leaves: AuditLeaves) -> Result<Audited, StoreError> {
        write.validate()?;
        leaves.validate(&write)?;
        let t = || tenant.clone();
        let op = match write {
            TenantWrite::Nothing => None,
            TenantWrite::PutChallenge { id, challenge } => Some(Op::PutChallenge { tenant: t(), id, challenge }),
            TenantWrite::SettleProof { id, now, verified, watch } => {
                Some(Op::SettleProof { tenant: t(), id, now, verified, watch: checked_watch(watch)? })
            }
            TenantWrite::RecordVerification { record, watch } => {
                Some(Op::RecordVerification { tenant: t(), record, watch: checked_watch(watch)? })
            }
            TenantWrite::Link { record } => Some(Op::Link { tenant: t(), record }),
            TenantWrite::Unlink { customer_id, certificate } => {
                Some(Op::Unlink { tenant: t(), customer_id, certificate })
            }
        };
        let (answer, index) = self.inner.commit_audited(tenant, op, &leaves)?;
        Ok(Audited { answer, index })
    }

    fn audit_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(self.inner.read()?.state.tenant(tenant).map_or(0, TenantState::audit_size))
    }

    fn audit_leaves(&self, tenant: &TenantId, from: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        let shared = self.inner.read()?;
        let Some(state) = shared.state.tenant(tenant) else { return Ok(Vec::new()) };
        let Some(offset) = from.checked_sub(state.audit_floor) else {
            return Err(StoreError::AuditTrimmed { floor: state.audit_floor });
        };
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(state.audit.iter().skip(offset).take(limit.min(MAX_AUDIT_PAGE)).cloned().collect())
    }

    fn audit_trim(&self, tenant: &TenantId, below: u64) -> Result<(), StoreError> {
        self.inner.commit(Op::AuditTrim { tenant: tenant.clone(), below }, true).map(|_| ())
    }

    fn audit_floor(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(self.inner.read()?.state.tenant(tenant).map_or(0, |t| t.audit_floor))
    }

    fn audit_evidence(&self, tenant: &TenantId, limit: usize) -> Result<Vec<EvidenceItem>, StoreError> {
        let shared = self.inner.read()?;
        let Some(state) = shared.state.tenant(tenant) else { return Ok(Vec::new()) };
        Ok(state.evidence.iter().take(limit.min(MAX_AUDIT_PAGE)).map(|(key, der)| (*key, der.clone())).collect())
    }

    fn audit_evidence_get(&self, tenant: &TenantId, key: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner.read()?.state.tenant(tenant).and_then(|t| t.evidence.get(key).cloned()))
    }

    fn audit_evidence_drop(&self, tenant: &TenantId, keys: &[[u8; 32]]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.inner.commit(Op::EvidenceDrop { tenant: tenant.clone(), keys: keys.to_vec() }, true).map(|_| ())
    }

    fn audit_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let shared = self.inner.read()?;
        let mut tenants: Vec<TenantId> =
            shared.state.tenants.iter().filter(|(_, state)| state.has_audit_log()).map(|(t, _)| t.clone()).collect();
        tenants.sort();
        Ok(tenants)
    }

    fn platform_log(&self, after: u64, limit: usize) -> Result<Vec<PlatformLogEntry>, StoreError> {
        let Some(first) = after.checked_add(1) else { return Ok(Vec::new()) };
        let shared = self.inner.read()?;
        Ok(shared
            .state
            .platform_log
            .range(first..)
            .take(limit)
            .map(|(sequence, entry)| PlatformLogEntry { sequence: *sequence, entry: entry.clone() })
            .collect())
    }
}

/// Writes a new journal at `journal` holding every item of the redb store at `redb` (opened and
/// closed here; the gateway must be stopped), and returns the number of items. Refuses to
/// overwrite an existing journal. The result is a compacted journal: `JournalStore::open` reads it.
pub fn import_redb(redb: &Path, journal: &Path) -> Result<u64, StoreError> {
    if journal.exists() {
        return Err(StoreError::Backend(format!("{} exists: not overwritten", journal.display())));
    }
    let local = crate::LocalStore::open(redb)?;
    let mut state = State::default();
    local.for_each_item(&mut |item| state.restore(item))?;
    drop(local);
    // Written beside the target and renamed, so that a crash never leaves half a journal.
    let temporary = journal.with_extension("journal.importing");
    let items = write_snapshot(&temporary, &state)?;
    std::fs::rename(&temporary, journal).map_err(|e| io_error("placing the imported journal", &e))?;
    sync_parent(journal)?;
    Ok(items)
}

/// A watch request checked and put in journal form.
fn checked_watch(watch: Option<WatchRequest>) -> Result<Option<Watched>, StoreError> {
    watch.map(Watched::checked).transpose()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::VerificationKind;

    const NOW: i64 = 1_780_272_000;

    fn tenant() -> TenantId {
        TenantId::new("bank-a").unwrap()
    }

    fn challenge() -> Challenge {
        Challenge { challenge: vec![7; 32], transaction_reference: "tx".into(), issued_at: NOW, expires_at: NOW + 300 }
    }

    fn record(id: &str) -> VerificationRecord {
        VerificationRecord {
            id: id.into(),
            kind: VerificationKind::Authentication,
            passed: true,
            certificate: Some(CertId { ca_key_id: "ab01".into(), serial: "0a".into() }),
            not_after: Some(NOW + 86_400),
            verified_at: NOW,
            transaction_reference: "tx".into(),
            purpose: "login".into(),
        }
    }

    /// A hang guard, not a timing test: returns once the store has synced, or after a minute.
    fn wait_for_a_sync(store: &JournalStore) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while store.stats().syncs == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Issues a challenge and settles a proof of it, as a login does.
    fn login(store: &JournalStore, n: u32) {
        let (id, verification) = (format!("c{n}"), format!("v{n}"));
        store.put_challenge(&tenant(), &id, challenge()).unwrap();
        let outcome = store.settle_proof(&tenant(), &id, NOW + 1, record(&verification), None).unwrap();
        assert!(matches!(outcome, ConsumeOutcome::Consumed(_)));
    }

    #[test]
    fn every_call_is_one_entry_and_a_challenge_waits_for_no_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::open(dir.path().join("store.journal")).unwrap();
        store.put_challenge(&tenant(), "c1", challenge()).unwrap();
        assert_eq!(store.stats(), JournalStats { logged: 1, syncs: 0, compactions: 0 });
        store.settle_proof(&tenant(), "c1", NOW + 1, record("v1"), None).unwrap();
        assert_eq!(store.stats(), JournalStats { logged: 2, syncs: 1, compactions: 0 });
        // A replay changes nothing, logs nothing, and finds nothing to sync.
        assert!(matches!(
            store.settle_proof(&tenant(), "c1", NOW + 2, record("v2"), None).unwrap(),
            ConsumeOutcome::AlreadyUsed { .. }
        ));
        assert_eq!(store.stats().logged, 3, "the refused attempt's record is kept");
    }

    #[test]
    fn a_torn_tail_is_cut_and_everything_before_it_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        {
            let store = JournalStore::open(&path).unwrap();
            for n in 0..10 {
                login(&store, n);
            }
        }
        let whole = std::fs::metadata(&path).unwrap().len();
        // Half of a next frame, as a write cut by a crash leaves it.
        let frame = encode_frame(&EntryRef::Op(&Op::PutMeta { key: "k".into(), value: vec![1; 100] })).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&frame[..frame.len() / 2]).unwrap();
        drop(file);
        let store = JournalStore::open(&path).unwrap();
        assert_eq!(store.recovery(), Recovery { entries: 20, truncated_bytes: (frame.len() / 2) as u64 });
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        assert!(store.get_verification(&tenant(), "v9").unwrap().is_some());
        assert_eq!(store.get_meta("k").unwrap(), None);
        // A flipped bit in the last frame fails its CRC: that frame goes, the rest stays.
        drop(store);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let store = JournalStore::open(&path).unwrap();
        assert_eq!(store.recovery().entries, 19);
        assert!(store.get_verification(&tenant(), "v8").unwrap().is_some());
        assert!(store.get_verification(&tenant(), "v9").unwrap().is_none());
    }

    #[test]
    fn the_zeros_ahead_of_the_frames_end_the_journal_and_a_stale_frame_after_them_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        let store = JournalStore::open(&path).unwrap();
        login(&store, 1);
        let extended = std::fs::metadata(&path).unwrap().len();
        assert!(extended >= PREALLOCATION, "the file is extended ahead of its frames: {extended}");
        let end = store.inner.file.lock().unwrap().end;
        drop(store);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), end, "a clean close trims the zeros");
        // As a crash leaves it: the zeros ahead, and past them a whole frame of an earlier,
        // unacknowledged write that landed on disk before the blocks in front of it.
        let stale = encode_frame(&EntryRef::Op(&Op::PutMeta { key: "stale".into(), value: vec![1] })).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.resize(bytes.len() + 4096, 0);
        bytes.extend_from_slice(&stale);
        bytes.resize(bytes.len() + 100, 0);
        std::fs::write(&path, &bytes).unwrap();
        let store = JournalStore::open(&path).unwrap();
        assert_eq!(store.recovery(), Recovery { entries: 2, truncated_bytes: 4096 + stale.len() as u64 });
        assert_eq!(store.get_meta("stale").unwrap(), None);
        // New frames go where the old ones ended, and the stale one never comes back.
        login(&store, 2);
        drop(store);
        let store = JournalStore::open(&path).unwrap();
        assert_eq!(store.recovery(), Recovery { entries: 4, truncated_bytes: 0 });
        assert_eq!(store.get_meta("stale").unwrap(), None);
        assert!(store.get_verification(&tenant(), "v2").unwrap().is_some());
    }

    #[test]
    fn the_zeros_ahead_are_topped_up_a_step_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(dir.path().join("j")).unwrap();
        let mut appender = Appender::at_end(file).unwrap();
        let length = |appender: &Appender| appender.file.metadata().unwrap().len();
        // The first frames extend the file by the whole preallocation.
        appender.append(&[1; 1000]).unwrap();
        assert_eq!(length(&appender), 1000 + PREALLOCATION);
        // Frames that use less than a step of the zeros add none.
        appender.append(&vec![2; usize::try_from(EXTENSION_STEP).unwrap() - 1000]).unwrap();
        assert_eq!(length(&appender), 1000 + PREALLOCATION);
        // Past a step, whole steps are added until the preallocation lies ahead again, never a
        // whole preallocation at once.
        for round in 0..64 {
            let before = length(&appender);
            appender.append(&[3; 40_000]).unwrap();
            let added = length(&appender) - before;
            assert!(added % EXTENSION_STEP == 0 && added <= 2 * EXTENSION_STEP, "round {round}: {added} bytes added");
            assert!(appender.allocated - appender.end >= PREALLOCATION - EXTENSION_STEP, "round {round}");
            assert_eq!(appender.allocated, length(&appender));
        }
        // A flush larger than the zeros ahead: the frames, then the whole preallocation after them.
        let big = usize::try_from(PREALLOCATION + EXTENSION_STEP).unwrap();
        appender.append(&vec![4; big]).unwrap();
        assert!(appender.allocated - appender.end >= PREALLOCATION);
        let bytes = std::fs::read(dir.path().join("j")).unwrap();
        let end = usize::try_from(appender.end).unwrap();
        assert_eq!(bytes[end - 1], 4);
        assert!(bytes[end..].iter().all(|byte| *byte == 0), "only zeros after the frames");
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        std::fs::write(&path, b"SQLite format 3\0 and more").unwrap();
        assert!(matches!(JournalStore::open(&path), Err(StoreError::Corrupt { what: "journal", .. })));
    }

    #[test]
    fn compaction_and_backup_keep_the_state_in_fewer_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        let backup = dir.path().join("backup.journal");
        let store = JournalStore::open(&path).unwrap();
        for n in 0..50 {
            login(&store, n);
        }
        store.put_meta("refresh", b"state").unwrap();
        // Everything older than the retention goes: the log keeps its entries until compaction.
        store.purge_expired(NOW + 10_000, 100).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        store.compact().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < before / 10);
        login(&store, 100);
        store.backup(&backup).unwrap();
        drop(store);
        for file in [&path, &backup] {
            let store = JournalStore::open(file).unwrap();
            assert_eq!(store.get_meta("refresh").unwrap().as_deref(), Some(&b"state"[..]));
            assert!(store.get_verification(&tenant(), "v1").unwrap().is_none());
            assert!(store.get_verification(&tenant(), "v100").unwrap().is_some());
            assert!(matches!(
                store.peek_challenge(&tenant(), "c100", NOW + 2).unwrap(),
                ConsumeOutcome::AlreadyUsed { .. }
            ));
            assert!(store.entitled(&tenant(), &[record("x").certificate.unwrap()], NOW, 100).unwrap()[0]);
        }
    }

    /// A compaction makes its snapshot holding no lock that calls take: calls made meanwhile
    /// (here, from inside it: they would deadlock on a held lock) go on, and the new file keeps
    /// them, both those flushed to the old file meanwhile (more than `CATCH_UP_BYTES`, copied
    /// without a lock) and those still pending at the switch (written with the last frames, and
    /// durable by it: no sync of their own).
    #[test]
    fn calls_made_during_a_compaction_go_on_and_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        let store = JournalStore::open(&path).unwrap();
        for n in 0..50 {
            login(&store, n);
        }
        store.purge_expired(NOW + 10_000, 100).unwrap();
        let (mut flushed_meanwhile, mut pending_upto) = (0, None);
        store
            .inner
            .compact(|| {
                let (_, upto) = store.deferring(|| (100..2_600).for_each(|n| login(&store, n)));
                block_on(store.durable(upto.unwrap())).unwrap();
                flushed_meanwhile = store.inner.file.lock().unwrap().end;
                assert!(store.get_verification(&tenant(), "v100").unwrap().is_some());
                (_, pending_upto) = store.deferring(|| login(&store, 3_000));
            })
            .unwrap();
        let syncs = store.stats().syncs;
        block_on(store.durable(pending_upto.unwrap())).unwrap();
        assert_eq!(store.stats().syncs, syncs, "the switch made the pending login durable");
        assert_eq!(store.stats().compactions, 1);
        assert!(flushed_meanwhile > CATCH_UP_BYTES, "{flushed_meanwhile} bytes");
        login(&store, 4_000);
        let entries = store.inner.read().unwrap().entries;
        drop(store);
        let store = JournalStore::open(&path).unwrap();
        assert_eq!(store.recovery().entries, entries);
        for n in (100..2_600).chain([3_000, 4_000]) {
            assert!(store.get_verification(&tenant(), &format!("v{n}")).unwrap().is_some(), "v{n}");
            let used = store.peek_challenge(&tenant(), &format!("c{n}"), NOW + 2).unwrap();
            assert!(matches!(used, ConsumeOutcome::AlreadyUsed { .. }), "c{n}");
        }
        assert!(store.get_verification(&tenant(), "v1").unwrap().is_none(), "purged before");
    }

    /// Compactions and backups while another thread logs in: every login acknowledged before a
    /// backup began is in it, and every acknowledged login is in the journal after reopening.
    #[test]
    fn compactions_and_backups_under_concurrent_calls_lose_nothing() {
        use std::sync::atomic::AtomicU32;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        let store = JournalStore::open(&path).unwrap();
        let done = AtomicU32::new(0);
        let logins = 1_500;
        let backups = std::thread::scope(|scope| {
            scope.spawn(|| {
                for n in 0..logins {
                    login(&store, n);
                    done.store(n + 1, Ordering::Release);
                }
            });
            let mut backups = Vec::new();
            while done.load(Ordering::Acquire) < logins {
                store.compact().unwrap();
                let before = done.load(Ordering::Acquire);
                let backup = dir.path().join(format!("backup-{}.journal", backups.len()));
                let entries = store.backup(&backup).unwrap();
                backups.push((backup, before, entries));
            }
            backups
        });
        assert!(store.stats().compactions > 0);
        drop(store);
        let check = |file: &Path, upto: u32| {
            let store = JournalStore::open(file).unwrap();
            for n in 0..upto {
                assert!(store.get_verification(&tenant(), &format!("v{n}")).unwrap().is_some(), "{file:?}: v{n}");
            }
            store.recovery().entries
        };
        check(&path, logins);
        for (backup, before, entries) in &backups {
            assert_eq!(check(backup, *before), *entries, "{backup:?}");
        }
    }

    /// The gateway's ids are held packed (`IdKey`): each must still be found by its text, refuse
    /// a duplicate, come back unchanged through replay and compaction, and go when it expires.
    #[test]
    fn packed_ids_are_found_by_their_text_through_replay_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        let (packed, text) = ("4082fcb00fd63a8d93bb688e9e4d8237", "4082FCB00FD63A8D93BB688E9E4D8237");
        let verification = "5b09ff1ac78da7cf7e327faaaa798b54";
        let store = JournalStore::open(&path).unwrap();
        for id in [packed, text] {
            store.put_challenge(&tenant(), id, challenge()).unwrap();
        }
        assert!(matches!(
            store.put_challenge(&tenant(), packed, challenge()),
            Err(StoreError::Duplicate { what: "challenge" })
        ));
        store.settle_proof(&tenant(), packed, NOW + 1, record(verification), None).unwrap();
        assert!(matches!(
            store.settle_proof(&tenant(), text, NOW + 1, record(verification), None),
            Err(StoreError::Duplicate { what: "verification" })
        ));
        let check = |store: &JournalStore| {
            assert_eq!(store.get_verification(&tenant(), verification).unwrap().unwrap().id, verification);
            assert!(store.get_verification(&tenant(), &verification.to_uppercase()).unwrap().is_none());
            assert!(matches!(
                store.peek_challenge(&tenant(), packed, NOW + 2).unwrap(),
                ConsumeOutcome::AlreadyUsed { .. }
            ));
            assert!(matches!(store.peek_challenge(&tenant(), text, NOW + 2).unwrap(), ConsumeOutcome::Consumed(_)));
        };
        check(&store);
        drop(store);
        let store = JournalStore::open(&path).unwrap();
        check(&store);
        store.compact().unwrap();
        drop(store);
        let store = JournalStore::open(&path).unwrap();
        check(&store);
        // Both challenges and the record expire by their packed or text keys.
        assert_eq!(store.purge_expired(NOW + 10_000, 100).unwrap(), 3);
        assert!(store.get_verification(&tenant(), verification).unwrap().is_none());
        assert!(matches!(store.peek_challenge(&tenant(), text, NOW + 2).unwrap(), ConsumeOutcome::Unknown));
    }

    /// Polls `future` to the end on this thread, parking between wake-ups.
    fn block_on<F: Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut context = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
            std::thread::park();
        }
    }

    #[test]
    fn deferred_calls_return_before_the_sync_and_the_flusher_makes_them_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        let store = JournalStore::open(&path).unwrap();
        let (outcome, upto) = store.deferring(|| {
            store.put_challenge(&tenant(), "c1", challenge()).unwrap();
            store.settle_proof(&tenant(), "c1", NOW + 1, record("v1"), None)
        });
        assert!(matches!(outcome.unwrap(), ConsumeOutcome::Consumed(_)));
        assert_eq!((upto, store.stats().syncs), (Some(2), 0), "nothing synced yet");
        // Nothing written by a read or by a challenge alone: nothing to wait for.
        let (_, nothing) = store.deferring(|| store.get_verification(&tenant(), "v1").unwrap());
        assert_eq!(nothing, None);
        block_on(store.durable(2)).unwrap();
        assert_eq!(store.stats().syncs, 1);
        // Already durable: resolves at once, no sync.
        block_on(store.durable(2)).unwrap();
        assert_eq!(store.stats().syncs, 1);
        // Many deferred callers at once share the flusher's syncs.
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let store = &store;
                scope.spawn(move || {
                    for n in 0..20 {
                        let (_, upto) = store.deferring(|| login(store, 10_000 + thread * 100 + n));
                        block_on(store.durable(upto.unwrap())).unwrap();
                    }
                });
            }
        });
        assert!(store.stats().syncs <= 1 + 8 * 20);
        drop(store);
        let store = JournalStore::open(&path).unwrap();
        assert!(store.get_verification(&tenant(), "v10719").unwrap().is_some());
    }

    #[test]
    fn concurrent_durable_calls_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::open(dir.path().join("store.journal")).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let store = &store;
                scope.spawn(move || (0..50).for_each(|n| login(store, thread * 1000 + n)));
            }
        });
        let stats = store.stats();
        assert_eq!(stats.logged, 8 * 50 * 2);
        assert!(stats.syncs <= 8 * 50, "at most one sync per durable call: {stats:?}");
    }

    #[test]
    fn a_synchronous_leader_that_serves_a_deferred_waiter_leaves_the_flusher_awake() {
        // The interleaving that once stranded every later deferred waiter: a waiter asks while a
        // synchronous leader is flushing (the flusher sees the flush under way and sleeps on), the
        // synchronous flush serves it, and `requested` stayed set with the flusher asleep, so the
        // next waiter, finding it set, never notified.
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(JournalStore::open(dir.path().join("store.journal")).unwrap());
        let (_, first) = store.deferring(|| login(&store, 1));
        let first = first.unwrap();
        store.inner.lock_flush().unwrap().flushing = true; // a synchronous leader is writing
        let waker = Waker::from(Arc::new(NoWake));
        let mut waiting = std::pin::pin!(store.durable(first));
        assert!(waiting.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        store.inner.lock_flush().unwrap().flushing = false; // its flush ends ...
        store.inner.wait_durable(first).unwrap(); // ... and a synchronous call leads the next
        assert!(waiting.as_mut().poll(&mut Context::from_waker(&waker)).is_ready());
        // The next deferred waiter leads its own flush (a hang guard, not a timing test).
        let (done, finished) = std::sync::mpsc::channel();
        let later = store.clone();
        std::thread::spawn(move || {
            let (_, upto) = later.deferring(|| login(&later, 2));
            let _ = done.send(block_on(later.durable(upto.unwrap())));
        });
        let outcome = finished.recv_timeout(Duration::from_secs(60));
        assert!(matches!(outcome, Ok(Ok(()))), "the next deferred waiter was stranded: {outcome:?}");
    }

    #[test]
    fn a_waiter_that_leads_nothing_is_served_by_the_flusher_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::open(dir.path().join("store.journal")).unwrap();
        let (_, upto) = store.deferring(|| login(&store, 1));
        // No flush is under way, and this waiter still does not sync on its own thread: the
        // flusher thread does (the hang guard of `block_on` is the test's time limit).
        block_on(store.durable_led_elsewhere(upto.unwrap())).unwrap();
        assert_eq!(store.stats().syncs, 1);
    }

    #[test]
    fn a_waiter_that_found_a_flush_under_way_is_served_by_the_flusher_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::open(dir.path().join("store.journal")).unwrap();
        let (_, upto) = store.deferring(|| login(&store, 1));
        store.inner.lock_flush().unwrap().flushing = true; // a leader is writing
        let waker = Waker::from(Arc::new(NoWake));
        let mut waiting = std::pin::pin!(store.durable(upto.unwrap()));
        assert!(waiting.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        assert_eq!(store.stats().syncs, 0, "a poll that finds a flush under way does not lead");
        {
            // That leader's flush ends without this entry: it hands the waiter to the flusher.
            let mut flush = store.inner.lock_flush().unwrap();
            flush.flushing = false;
            store.inner.flush_requested.notify_one();
        }
        wait_for_a_sync(&store);
        assert_eq!(store.stats().syncs, 1, "the flusher thread led the flush");
        assert!(waiting.as_mut().poll(&mut Context::from_waker(&waker)).is_ready());
    }

    #[test]
    fn a_queued_flush_waits_the_commit_delay_and_one_sync_serves_the_calls_behind_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::open(dir.path().join("store.journal")).unwrap();
        // Far longer than the test: nothing below can outlast it by chance.
        store.set_commit_delay(Duration::from_secs(3600));
        let waker = Waker::from(Arc::new(NoWake));
        let (_, first) = store.deferring(|| login(&store, 1));
        let mut first = std::pin::pin!(store.durable_led_elsewhere(first.unwrap()));
        assert!(first.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        let (_, second) = store.deferring(|| login(&store, 2));
        let mut second = std::pin::pin!(store.durable_led_elsewhere(second.unwrap()));
        assert!(second.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        assert_eq!(store.stats().syncs, 0, "the flusher thread waits out the delay");
        // Ending the delay ends the wait under way; its one sync serves both calls.
        store.set_commit_delay(Duration::ZERO);
        store.inner.flush_requested.notify_one();
        wait_for_a_sync(&store);
        assert!(first.as_mut().poll(&mut Context::from_waker(&waker)).is_ready());
        assert!(second.as_mut().poll(&mut Context::from_waker(&waker)).is_ready());
        assert_eq!(store.stats().syncs, 1);
    }

    #[test]
    fn closing_the_store_ends_a_commit_delay_and_keeps_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.journal");
        let store = JournalStore::open(&path).unwrap();
        store.set_commit_delay(Duration::from_secs(3600));
        let waker = Waker::from(Arc::new(NoWake));
        let (_, upto) = store.deferring(|| login(&store, 1));
        {
            let mut waiting = std::pin::pin!(store.durable_led_elsewhere(upto.unwrap()));
            assert!(waiting.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        }
        drop(store); // flushes, then the flusher thread leaves its wait (the test would hang otherwise)
        let reopened = JournalStore::open(&path).unwrap();
        assert_eq!(reopened.recovery().entries, 2, "the challenge and the proof that settled it");
    }

    /// Entries written before trims and evidence existed (no `evidence`, no floor item) replay
    /// as they did; a trim then drops the leaves below it, and an evidence drop what it names.
    #[test]
    fn entries_from_before_trims_and_evidence_replay() {
        let old = [
            r#"{"op":{"op":"audited","tenant":"bank-a","write":null,"index":0,"leaf":"{\"i\":0}"}}"#,
            r#"{"item":{"item":"audit_leaf","tenant":"bank-a","index":1,"leaf":"{\"i\":1}"}}"#,
            r#"{"op":{"op":"audited","tenant":"bank-a","write":null,"index":2,"leaf":"{\"i\":2}"}}"#,
        ];
        let mut state = State::default();
        for text in old {
            match serde_json::from_str::<Entry>(text).unwrap() {
                Entry::Op(op) => {
                    state.apply(&op).unwrap();
                }
                Entry::Item(item) => state.restore(item),
            }
        }
        let key = [9; 32];
        let audited = Op::Audited {
            tenant: tenant(),
            write: None,
            index: 3,
            leaf: "{}".into(),
            evidence: Some(Evidence { key, der: vec![1, 2] }),
        };
        let trim = Op::AuditTrim { tenant: tenant(), below: 2 };
        let drop = Op::EvidenceDrop { tenant: tenant(), keys: vec![key] };
        for op in [audited, trim, drop] {
            let text = serde_json::to_string(&EntryRef::Op(&op)).unwrap();
            let Entry::Op(op) = serde_json::from_str::<Entry>(&text).unwrap() else { panic!("not an op: {text}") };
            state.apply(&op).unwrap();
        }
        let t = state.tenant(&tenant()).unwrap();
        assert_eq!((t.audit_floor, t.audit_size(), t.audit.len()), (2, 4, 2));
        assert!(t.evidence.is_empty());
        assert!(matches!(
            state.apply(&Op::AuditTrim { tenant: tenant(), below: 5 }),
            Err(StoreError::InvalidInput { .. })
        ));
    }

    fn entry_json(op: &Op) -> String {
        serde_json::to_string(&EntryRef::Op(op)).unwrap()
    }

    /// An audited call's leaf and evidence come back from its frame byte for byte, and the frame
    /// is smaller than the same entry in JSON (the leaf escaped, the evidence hex).
    #[test]
    fn audited_frames_keep_the_leaf_and_evidence_as_they_are() {
        // Each frame below owns its write: made afresh, as `Op` has no `Clone`.
        let write = || {
            let record = VerificationRecord {
                id: "v1".into(),
                kind: crate::VerificationKind::Authentication,
                passed: true,
                not_after: Some(2_000_000_000),
                certificate: None,
                verified_at: 1_700_000_000,
                transaction_reference: "tx".into(),
                purpose: "login".into(),
            };
            Box::new(Op::RecordVerification { tenant: tenant(), record, watch: None })
        };
        let leaf = r#"{"name":"山田\u3000太郎","quote":"\"","ctl":"\u0001"}"#;
        let der: Vec<u8> = (0..=255).cycle().take(1200).collect();
        let key = [7u8; 32];
        for evidence in [None, Some((&key, der.as_slice()))] {
            let op =
                Op::Audited { tenant: tenant(), write: Some(write()), index: 4, leaf: String::new(), evidence: None };
            let frame = encode_audited_frame(&op, leaf, evidence).unwrap();
            let Entry::Op(decoded) = decode_entry(&frame[FRAME_HEADER..]).unwrap() else { panic!("not an op") };
            let inline = Op::Audited {
                tenant: tenant(),
                write: Some(write()),
                index: 4,
                leaf: leaf.into(),
                evidence: evidence.map(|(key, der)| Evidence { key: *key, der: der.to_vec() }),
            };
            assert_eq!(entry_json(&decoded), entry_json(&inline));
            assert!(frame.len() < encode_frame(&EntryRef::Op(&inline)).unwrap().len());
            // The CRC covers the payload like any other frame's.
            assert_eq!(u32::from_le_bytes(frame[4..8].try_into().unwrap()), crc32fast::hash(&frame[FRAME_HEADER..]));
        }
    }

    /// A damaged audited payload is refused as corrupt, never a panic: every cut inside the JSON
    /// or the leaf, a section length past the end, evidence shorter than its key, and an audited
    /// frame that holds another entry or a leaf inside its JSON.
    #[test]
    fn damaged_audited_frames_are_refused() {
        let op = Op::Audited { tenant: tenant(), write: None, index: 0, leaf: String::new(), evidence: None };
        let frame = encode_audited_frame(&op, "{\"i\":0}", None).unwrap();
        let payload = &frame[FRAME_HEADER..];
        for cut in 1..payload.len() {
            assert!(decode_entry(&payload[..cut]).is_err(), "a payload cut at {cut} decoded");
        }
        let mut too_long = payload.to_vec();
        too_long[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_entry(&too_long).is_err());
        let mut short_evidence = payload.to_vec();
        short_evidence.extend_from_slice(&[1; 31]);
        assert!(decode_entry(&short_evidence).is_err());
        let mut key_only = payload.to_vec();
        key_only.extend_from_slice(&[1; 32]);
        assert!(decode_entry(&key_only).is_err());
        let other = Op::AuditTrim { tenant: tenant(), below: 0 };
        assert!(decode_entry(&encode_audited_frame(&other, "{}", None).unwrap()[FRAME_HEADER..]).is_err());
        let inline = Op::Audited { tenant: tenant(), write: None, index: 0, leaf: "{}".into(), evidence: None };
        assert!(decode_entry(&encode_audited_frame(&inline, "{}", None).unwrap()[FRAME_HEADER..]).is_err());
        for byte in 0..=255u8 {
            let mut flipped = payload.to_vec();
            for at in 0..flipped.len() {
                flipped[at] ^= byte;
                let _ = decode_entry(&flipped);
                flipped[at] ^= byte;
            }
        }
    }

    struct NoWake;
    impl std::task::Wake for NoWake {
        fn wake(self: Arc<Self>) {}
    }
}
