//! [`LocalStore`]: the embedded single-node store, one redb file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use jpki_core::CertId;
use redb::{
    Database, DatabaseError, Durability, ReadTransaction, ReadableTable, TableDefinition, TableHandle, WriteTransaction,
};
use serde::{Serialize, de::DeserializeOwned};

use crate::journal::{Evidence, Item};
use crate::rules::{ChallengeSlot, EventStatus, Step, WatchEntry, Watched, existing_link, step};
use crate::types::{
    check_customer, check_id, check_kind, entitlement_cutoff, invalid, normalise_crl_number, stored_tenant,
};
use crate::{
    AuditLeaves, Audited, Challenge, ConsumeOutcome, DirectoryOutcome, DirectoryWrite, EvidenceItem, LinkOutcome,
    LinkRecord, MAX_AUDIT_PAGE, MAX_META_LEN, PlatformLogEntry, RevocationNotice, StoreError, StoredEvent, TenantId,
    TenantStore, TenantWrite, VerificationRecord, WatchRequest, WriteAnswer,
};

/// How long after `expires_at` a challenge or its used marker is kept. A replay shortly after
/// expiry then still answers `AlreadyUsed`, and a purge run by a caller whose clock is ahead of the
/// one consuming cannot turn a live challenge into `Unknown`.
pub const CHALLENGE_PURGE_GRACE_SECS: i64 = 600;

/// How long after a certificate's notAfter its watch entries are kept: a list published shortly
/// after notAfter may still revoke it; later, CRLs drop the certificate and no event can come.
pub const WATCH_PURGE_GRACE_SECS: i64 = 7 * 24 * 3600;

/// Schema of the tables below; bump (and migrate in `open`) when a key or value layout changes.
/// 1: one event per (tenant, certificate) (`event_by_cert`). 2: every change of status
/// (`event_status`), and the entitlement index (`entitlements`, `entitlement_age`).
const SCHEMA_VERSION: u32 = 2;

/// Purges remove at most this many items per transaction, so that one purge never builds a huge
/// transaction (memory) nor blocks other writers for long.
const PURGE_BATCH: usize = 10_000;

const CHALLENGES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("challenges");
const CHALLENGE_EXPIRY: TableDefinition<(i64, &str, &str), ()> = TableDefinition::new("challenge_expiry");
const VERIFICATIONS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("verifications");
const VERIFICATION_AGE: TableDefinition<(i64, &str, &str), ()> = TableDefinition::new("verification_age");
const LINKS_BY_CERT: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("links_by_cert");
const LINKS_BY_CUSTOMER: TableDefinition<(&str, &str, &str, &str), ()> = TableDefinition::new("links_by_customer");
const WATCH: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("watch");
const WATCHERS: TableDefinition<(&str, &str, &str), &str> = TableDefinition::new("watchers");
const WATCH_EXPIRY: TableDefinition<(i64, &str, &str, &str), ()> = TableDefinition::new("watch_expiry");
const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
const EVENT_STATUS: TableDefinition<(&str, &str, &str), &[u8]> = TableDefinition::new("event_status");
/// Schema 1's de-duplication index (certificate → its one event's sequence); read and dropped by
/// the migration to schema 2.
const EVENT_BY_CERT_V1: TableDefinition<(&str, &str, &str), u64> = TableDefinition::new("event_by_cert");
const ENTITLEMENTS: TableDefinition<(&str, &str, &str), i64> = TableDefinition::new("entitlements");
const ENTITLEMENT_AGE: TableDefinition<(i64, &str, &str, &str), ()> = TableDefinition::new("entitlement_age");
const EVENT_HEAD: TableDefinition<&str, u64> = TableDefinition::new("event_head");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const DIRECTORY: TableDefinition<&str, &str> = TableDefinition::new("directory");
const PLATFORM_LOG: TableDefinition<u64, &str> = TableDefinition::new("platform_log");
const SCHEMA: TableDefinition<&str, u32> = TableDefinition::new("store_schema");
const AUDIT: TableDefinition<(&str, u64), &str> = TableDefinition::new("audit");
const AUDIT_SIZE: TableDefinition<&str, u64> = TableDefinition::new("audit_size");
const AUDIT_FLOOR: TableDefinition<&str, u64> = TableDefinition::new("audit_floor");
const AUDIT_EVIDENCE: TableDefinition<(&str, &[u8]), &[u8]> = TableDefinition::new("audit_evidence");

/// Tables added to schema 2 without a version bump: `init` commits when one was missing, so that
/// read transactions find them in a file written before they existed.
const LATER_TABLES: [&str; 4] = ["audit", "audit_size", "audit_floor", "audit_evidence"];

/// Most leaves one transaction of [`TenantStore::audit_trim`] removes.
const TRIM_BATCH: u64 = 10_000;

/// The embedded store: one redb file, safe to share between threads (`Arc<dyn TenantStore>`).
///
/// Every write runs on one writer thread that owns the write transactions and commits the calls
/// queued meanwhile together (group commit: see the crate docs, Durability); readers never block and
/// see the last committed state. Only one `LocalStore` may have a file open at a time (redb locks
/// it); a second `open` fails with [`StoreError::InUse`]. Dropping the store stops the writer
/// thread and closes the file.
pub struct LocalStore {
    db: Arc<Database>,
    path: PathBuf,
    /// The writer thread's queue; `None` only while dropping.
    queue: Option<Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        // Closing the queue ends the writer's loop once it has answered what it already took (no
        // caller can be waiting: every caller borrows the store). Joining makes sure the database
        // file is closed, and its lock released, when the drop returns.
        drop(self.queue.take());
        if let Some(writer) = self.writer.take() {
            // A writer that panicked already failed its callers (their reply channels closed).
            let _ = writer.join();
        }
    }
}

impl LocalStore {
    /// Opens the store at `path`, creating the file and its parent directories if needed. After a
    /// crash, redb checks and repairs its allocator state here, which takes longer on large files.
    /// Starts the store's writer thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StoreError::CreateDir { path: parent.to_path_buf(), source })?;
        }
        let mut db = Database::builder().create_with_file_format_v3(true).create(path).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => StoreError::InUse { path: path.to_path_buf() },
            other => backend(other),
        })?;
        // Files from redb 2's default v2 format are moved to v3, the only one redb 3 reads.
        db.upgrade().map_err(backend)?;
        let db = Arc::new(db);
        let (queue, jobs) = mpsc::channel::<Job>();
        let writer_db = Arc::clone(&db);
        let writer = std::thread::Builder::new()
            .name("jpki-store-writer".into())
            .spawn(move || writer_loop(&writer_db, &jobs))
            .map_err(|e| StoreError::Backend(format!("starting the store writer thread: {e}")))?;
        let store = Self { db, path: path.to_path_buf(), queue: Some(queue), writer: Some(writer) };
        store.init()?;
        Ok(store)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates every table (so that read transactions never meet a missing one) and checks the
    /// schema version.
    fn init(&self) -> Result<(), StoreError> {
        self.write(|txn| {
            let existing: Vec<String> =
                txn.list_tables().map_err(backend)?.map(|table| table.name().to_owned()).collect();
            let created = LATER_TABLES.iter().any(|name| !existing.iter().any(|e| e == name));
            open(txn, CHALLENGES)?;
            open(txn, CHALLENGE_EXPIRY)?;
            open(txn, VERIFICATIONS)?;
            open(txn, VERIFICATION_AGE)?;
            open(txn, LINKS_BY_CERT)?;
            open(txn, LINKS_BY_CUSTOMER)?;
            open(txn, WATCH)?;
            open(txn, WATCHERS)?;
            open(txn, WATCH_EXPIRY)?;
            open(txn, EVENTS)?;
            open(txn, EVENT_STATUS)?;
            open(txn, EVENT_HEAD)?;
            open(txn, ENTITLEMENTS)?;
            open(txn, ENTITLEMENT_AGE)?;
            open(txn, META)?;
            open(txn, DIRECTORY)?;
            open(txn, PLATFORM_LOG)?;
            open(txn, AUDIT)?;
            open(txn, AUDIT_SIZE)?;
            open(txn, AUDIT_FLOOR)?;
            open(txn, AUDIT_EVIDENCE)?;
            let mut schema = open(txn, SCHEMA)?;
            let found = schema.get("version").map_err(backend)?.map(|g| g.value());
            match found {
                Some(SCHEMA_VERSION) => Ok(((), created)),
                // In the same transaction as the version bump: a crash leaves schema 1, intact.
                Some(1) => {
                    migrate_from_1(txn)?;
                    schema.insert("version", SCHEMA_VERSION).map_err(backend)?;
                    Ok(((), true))
                }
                Some(found) => Err(StoreError::UnsupportedSchema { found, supported: SCHEMA_VERSION }),
                None => {
                    schema.insert("version", SCHEMA_VERSION).map_err(backend)?;
                    Ok(((), true))
                }
            }
        })
    }

    /// Runs `op` as one atomic, durable operation and returns its value once it is committed.
    ///
    /// `op` reports whether it changed something (`(value, true)`). The call goes to the writer
    /// thread, which runs it, in queue order, in one write transaction together with the calls
    /// queued meanwhile (up to [`MAX_GROUP`]), and commits that transaction once, with
    /// [`Durability::Immediate`] (fsync before the commit returns), if any of them changed
    /// something; otherwise it aborts it, so that a group of read-only outcomes (replays,
    /// idempotent repeats) costs no fsync. Every call of the group is answered only after that
    /// commit (or abort) returned, so an `Ok` is always durable, even for a call that changed
    /// nothing but saw another call's change. The outcome is exactly that of running the calls one
    /// after the other in queue order.
    ///
    /// An `Err` from `op` must not leave its partial writes in the shared transaction: the writer
    /// then aborts the group and runs again, each in a fresh transaction, the calls before the
    /// failing one (as one group), then the failing one alone (its error is then the answer), then
    /// the rest. `op` is therefore `Fn`: it may run more than once, each time from the last
    /// committed state, and only the run that is committed counts. A failed commit fails every call
    /// of its group ([`StoreError::Backend`]); none of them is acknowledged.
    fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&WriteTransaction) -> Result<(T, bool), StoreError> + Send + 'static,
    {
        self.submit(op, true)
    }

    /// Like [`LocalStore::write`], but the call does not need its own fsync: a group of such calls
    /// only is committed without one (`Durability::None`), and becomes durable with the next
    /// durable commit. For writes whose loss in a crash is safe (an issued challenge: lost, it is
    /// refused afterwards; docs/durability.md).
    fn write_ephemeral<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&WriteTransaction) -> Result<(T, bool), StoreError> + Send + 'static,
    {
        self.submit(op, false)
    }

    fn submit<T, F>(&self, op: F, durable: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&WriteTransaction) -> Result<(T, bool), StoreError> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(Call { op, value: None, reply, durable });
        let queue = self.queue.as_ref().ok_or_else(writer_gone)?;
        queue.send(job).map_err(|_| writer_gone())?;
        // The writer drops the reply sender without answering only if it panicked.
        answer.recv().map_err(|_| writer_gone())?
    }

    fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        f(&txn)
    }

    /// One batch of a purge; returns how many items it removed.
    fn purge_challenges(&self, cutoff: i64) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let mut index = open(txn, CHALLENGE_EXPIRY)?;
            let mut keys = Vec::new();
            for item in index.range::<(i64, &str, &str)>(..(cutoff, "", "")).map_err(backend)? {
                let (key, _) = item.map_err(backend)?;
                let (expires_at, tenant, id) = key.value();
                keys.push((expires_at, tenant.to_owned(), id.to_owned()));
                if keys.len() == PURGE_BATCH {
                    break;
                }
            }
            let mut challenges = open(txn, CHALLENGES)?;
            for (expires_at, tenant, id) in &keys {
                index.remove((*expires_at, tenant.as_str(), id.as_str())).map_err(backend)?;
                challenges.remove((tenant.as_str(), id.as_str())).map_err(backend)?;
            }
            Ok((keys.len(), !keys.is_empty()))
        })
    }

    fn purge_verifications(&self, cutoff: i64) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let mut index = open(txn, VERIFICATION_AGE)?;
            let mut keys = Vec::new();
            for item in index.range::<(i64, &str, &str)>(..(cutoff, "", "")).map_err(backend)? {
                let (key, _) = item.map_err(backend)?;
                let (verified_at, tenant, id) = key.value();
                keys.push((verified_at, tenant.to_owned(), id.to_owned()));
                if keys.len() == PURGE_BATCH {
                    break;
                }
            }
            let mut records = open(txn, VERIFICATIONS)?;
            for (verified_at, tenant, id) in &keys {
                index.remove((*verified_at, tenant.as_str(), id.as_str())).map_err(backend)?;
                records.remove((tenant.as_str(), id.as_str())).map_err(backend)?;
            }
            Ok((keys.len(), !keys.is_empty()))
        })
    }

    fn purge_entitlements(&self, cutoff: i64) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let mut index = open(txn, ENTITLEMENT_AGE)?;
            let mut keys = Vec::new();
            for item in index.range::<(i64, &str, &str, &str)>(..(cutoff, "", "", "")).map_err(backend)? {
                let (key, _) = item.map_err(backend)?;
                let (verified_at, tenant, ca, serial) = key.value();
                keys.push((verified_at, tenant.to_owned(), ca.to_owned(), serial.to_owned()));
                if keys.len() == PURGE_BATCH {
                    break;
                }
            }
            let mut entitlements = open(txn, ENTITLEMENTS)?;
            for (verified_at, tenant, ca, serial) in &keys {
                let (tenant, ca, serial) = (tenant.as_str(), ca.as_str(), serial.as_str());
                index.remove((*verified_at, tenant, ca, serial)).map_err(backend)?;
                entitlements.remove((tenant, ca, serial)).map_err(backend)?;
            }
            Ok((keys.len(), !keys.is_empty()))
        })
    }

    fn purge_watches(&self, cutoff: i64) -> Result<usize, StoreError> {
        self.write(move |txn| {
            let mut index = open(txn, WATCH_EXPIRY)?;
            let mut keys = Vec::new();
            for item in index.range::<(i64, &str, &str, &str)>(..(cutoff, "", "", "")).map_err(backend)? {
                let (key, _) = item.map_err(backend)?;
                let (not_after, tenant, ca, serial) = key.value();
                keys.push((not_after, tenant.to_owned(), ca.to_owned(), serial.to_owned()));
                if keys.len() == PURGE_BATCH {
                    break;
                }
            }
            let mut watch = open(txn, WATCH)?;
            let mut watchers = open(txn, WATCHERS)?;
            for (not_after, tenant, ca, serial) in &keys {
                let (tenant, ca, serial) = (tenant.as_str(), ca.as_str(), serial.as_str());
                index.remove((*not_after, tenant, ca, serial)).map_err(backend)?;
                watch.remove((tenant, ca, serial)).map_err(backend)?;
                watchers.remove((ca, serial, tenant)).map_err(backend)?;
            }
            Ok((keys.len(), !keys.is_empty()))
        })
    }
}

impl TenantStore for LocalStore {
    fn put_challenge(&self, tenant: &TenantId, id: &str, challenge: Challenge) -> Result<(), StoreError> {
        check_id("challenge id", id)?;
        challenge.validate()?;
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        let expires_at = challenge.expires_at;
        let slot = encode(&ChallengeSlot::Pending { challenge })?;
        self.write_ephemeral(move |txn| {
            put_challenge_in(txn, &tenant, &id, expires_at, &slot)?;
            Ok(((), true))
        })
    }

    fn consume_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError> {
        check_id("challenge id", id)?;
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        self.write(move |txn| consume_in(txn, &tenant, &id, now))
    }

    fn peek_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError> {
        check_id("challenge id", id)?;
        self.read(|txn| {
            let table = txn.open_table(CHALLENGES).map_err(backend)?;
            let found = table.get((tenant.as_str(), id)).map_err(backend)?;
            let slot = found.map(|slot| decode::<ChallengeSlot>("challenge", slot.value())).transpose()?;
            Ok(slot.map_or(ConsumeOutcome::Unknown, |slot| slot.consume(now).0))
        })
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
        let verified = Prepared::new(verified, watch)?;
        let refused = Prepared::new(verified.record.refused(), None)?;
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        // One transaction, so one commit: the challenge's use and the attempt's record.
        self.write(move |txn| Ok((settle_in(txn, &tenant, &id, now, &verified, &refused)?, true)))
    }

    fn purge_expired(&self, now: i64, verification_retention_secs: i64) -> Result<usize, StoreError> {
        if verification_retention_secs < 0 {
            return Err(invalid("verification_retention_secs", "is negative"));
        }
        let mut removed = 0;
        type Purge = fn(&LocalStore, i64) -> Result<usize, StoreError>;
        let passes: [(Purge, i64); 3] = [
            (Self::purge_challenges, now.saturating_sub(CHALLENGE_PURGE_GRACE_SECS)),
            (Self::purge_verifications, now.saturating_sub(verification_retention_secs)),
            (Self::purge_watches, now.saturating_sub(WATCH_PURGE_GRACE_SECS)),
        ];
        for (pass, cutoff) in passes {
            loop {
                let n = pass(self, cutoff)?;
                removed += n;
                if n < PURGE_BATCH {
                    break;
                }
            }
        }
        // The index of passed verifications goes with their retention; it is not counted (the
        // records it indexes were). The age index holds only the latest time per certificate.
        let cutoff = now.saturating_sub(verification_retention_secs);
        while self.purge_entitlements(cutoff)? == PURGE_BATCH {}
        Ok(removed)
    }

    fn record_verification(
        &self,
        tenant: &TenantId,
        record: VerificationRecord,
        watch: Option<WatchRequest>,
    ) -> Result<(), StoreError> {
        let prepared = Prepared::new(record, watch)?;
        let tenant = tenant.as_str().to_owned();
        // One transaction, so one commit: the record, its entitlement and the watch entry land
        // together.
        self.write(move |txn| {
            prepared.record_in(txn, &tenant)?;
            Ok(((), true))
        })
    }

    fn get_verification(&self, tenant: &TenantId, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
        check_id("verification id", id)?;
        self.read(|txn| {
            let table = txn.open_table(VERIFICATIONS).map_err(backend)?;
            let found = table.get((tenant.as_str(), id)).map_err(backend)?;
            found.map(|g| decode("verification", g.value())).transpose()
        })
    }

    fn link(&self, tenant: &TenantId, record: LinkRecord) -> Result<LinkOutcome, StoreError> {
        record.validate()?;
        let tenant = tenant.as_str().to_owned();
        let bytes = encode(&record)?;
        self.write(move |txn| link_in(txn, &tenant, &record, &bytes))
    }

    fn unlink(&self, tenant: &TenantId, customer_id: &str, certificate: Option<&CertId>) -> Result<u32, StoreError> {
        check_customer(customer_id)?;
        if let Some(cert) = certificate {
            cert.validate()?;
        }
        let (tenant, customer_id) = (tenant.as_str().to_owned(), customer_id.to_owned());
        let certificate = certificate.cloned();
        self.write(move |txn| {
            let removed = unlink_in(txn, &tenant, &customer_id, certificate.as_ref())?;
            Ok((removed, removed > 0))
        })
    }

    fn links_by_customer(&self, tenant: &TenantId, customer_id: &str) -> Result<Vec<LinkRecord>, StoreError> {
        check_customer(customer_id)?;
        let t = tenant.as_str();
        self.read(|txn| {
            let by_customer = txn.open_table(LINKS_BY_CUSTOMER).map_err(backend)?;
            let by_cert = txn.open_table(LINKS_BY_CERT).map_err(backend)?;
            let mut links = Vec::new();
            for item in by_customer.range::<(&str, &str, &str, &str)>((t, customer_id, "", "")..).map_err(backend)? {
                let (key, _) = item.map_err(backend)?;
                let (kt, kc, ca, serial) = key.value();
                if kt != t || kc != customer_id {
                    break;
                }
                let guard = by_cert.get((t, ca, serial)).map_err(backend)?.ok_or_else(|| StoreError::Corrupt {
                    what: "link index",
                    detail: "customer index names a certificate without a link".into(),
                })?;
                links.push(decode("link", guard.value())?);
            }
            Ok(links)
        })
    }

    fn link_by_certificate(&self, tenant: &TenantId, certificate: &CertId) -> Result<Option<LinkRecord>, StoreError> {
        certificate.validate()?;
        self.read(|txn| {
            let table = txn.open_table(LINKS_BY_CERT).map_err(backend)?;
            let key = (tenant.as_str(), certificate.ca_key_id.as_str(), certificate.serial.as_str());
            let found = table.get(key).map_err(backend)?;
            found.map(|g| decode("link", g.value())).transpose()
        })
    }

    fn watch(&self, tenant: &TenantId, certificate: &CertId, not_after: i64, kind: &str) -> Result<(), StoreError> {
        certificate.validate()?;
        check_kind(kind)?;
        let (tenant, certificate) = (tenant.as_str().to_owned(), certificate.clone());
        let entry = WatchEntry { kind: kind.to_owned(), not_after };
        let bytes = encode(&entry)?;
        self.write(move |txn| Ok(((), watch_in(txn, &tenant, &certificate, &entry, &bytes)?)))
    }

    fn watchers(&self, certificate: &CertId) -> Result<Vec<(TenantId, String)>, StoreError> {
        certificate.validate()?;
        let (ca, serial) = (certificate.ca_key_id.as_str(), certificate.serial.as_str());
        self.read(|txn| {
            let table = txn.open_table(WATCHERS).map_err(backend)?;
            let mut out = Vec::new();
            for item in table.range::<(&str, &str, &str)>((ca, serial, "")..).map_err(backend)? {
                let (key, kind) = item.map_err(backend)?;
                let (kca, kserial, tenant) = key.value();
                if kca != ca || kserial != serial {
                    break;
                }
                out.push((stored_tenant(tenant, "watcher")?, kind.value().to_owned()));
            }
            Ok(out)
        })
    }

    fn watched(&self, tenant: &TenantId) -> Result<Vec<CertId>, StoreError> {
        let t = tenant.as_str();
        self.read(|txn| {
            let table = txn.open_table(WATCH).map_err(backend)?;
            let mut out = Vec::new();
            for item in table.range::<(&str, &str, &str)>((t, "", "")..).map_err(backend)? {
                let (key, _) = item.map_err(backend)?;
                let (kt, ca, serial) = key.value();
                if kt != t {
                    break;
                }
                out.push(CertId { ca_key_id: ca.to_owned(), serial: serial.to_owned() });
            }
            Ok(out)
        })
    }

    fn append_events(&self, events: Vec<(TenantId, RevocationNotice)>) -> Result<Vec<u64>, StoreError> {
        for (_, notice) in &events {
            notice.validate()?;
        }
        let events = events
            .into_iter()
            .map(|(tenant, notice)| Ok((tenant, encode(&notice)?, notice)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(move |txn| {
            let mut log = open(txn, EVENTS)?;
            let mut statuses = open(txn, EVENT_STATUS)?;
            let mut head = open(txn, EVENT_HEAD)?;
            let mut sequences = Vec::with_capacity(events.len());
            let mut changed = false;
            for (tenant, bytes, notice) in &events {
                let t = tenant.as_str();
                let cert = (t, notice.certificate.ca_key_id.as_str(), notice.certificate.serial.as_str());
                let found =
                    statuses.get(cert).map_err(backend)?.map(|g| decode::<EventStatus>("event status", g.value()));
                let last = found.transpose()?;
                match step(last.as_ref(), notice) {
                    Step::Answer(sequence) => sequences.push(sequence),
                    Step::RaiseFloor(status) => {
                        statuses.insert(cert, encode(&status)?.as_slice()).map_err(backend)?;
                        sequences.push(status.sequence);
                        changed = true;
                    }
                    Step::Append(floor) => {
                        let last_sequence = head.get(t).map_err(backend)?.map_or(0, |g| g.value());
                        let sequence = last_sequence.checked_add(1).ok_or(invalid("sequence", "exhausted"))?;
                        log.insert((t, sequence), bytes.as_slice()).map_err(backend)?;
                        head.insert(t, sequence).map_err(backend)?;
                        let status = EventStatus {
                            sequence,
                            change: notice.change,
                            reason: notice.reason.clone(),
                            crl_number: floor,
                        };
                        statuses.insert(cert, encode(&status)?.as_slice()).map_err(backend)?;
                        sequences.push(sequence);
                        changed = true;
                    }
                }
            }
            Ok((sequences, changed))
        })
    }

    fn last_event_for(&self, tenant: &TenantId, certificate: &CertId) -> Result<Option<StoredEvent>, StoreError> {
        certificate.validate()?;
        let t = tenant.as_str();
        self.read(|txn| {
            let statuses = txn.open_table(EVENT_STATUS).map_err(backend)?;
            let key = (t, certificate.ca_key_id.as_str(), certificate.serial.as_str());
            let Some(found) = statuses.get(key).map_err(backend)? else { return Ok(None) };
            let status: EventStatus = decode("event status", found.value())?;
            let log = txn.open_table(EVENTS).map_err(backend)?;
            let event = log.get((t, status.sequence)).map_err(backend)?.ok_or_else(|| StoreError::Corrupt {
                what: "event log",
                detail: "a certificate's status names a missing event".into(),
            })?;
            Ok(Some(StoredEvent { sequence: status.sequence, event: decode("event", event.value())? }))
        })
    }

    fn entitled(
        &self,
        tenant: &TenantId,
        certificates: &[CertId],
        now: i64,
        retention_secs: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let cutoff = entitlement_cutoff(certificates, now, retention_secs)?;
        let t = tenant.as_str();
        self.read(|txn| {
            let links = txn.open_table(LINKS_BY_CERT).map_err(backend)?;
            let entitlements = txn.open_table(ENTITLEMENTS).map_err(backend)?;
            certificates
                .iter()
                .map(|certificate| {
                    let key = (t, certificate.ca_key_id.as_str(), certificate.serial.as_str());
                    if links.get(key).map_err(backend)?.is_some() {
                        return Ok(true);
                    }
                    Ok(entitlements.get(key).map_err(backend)?.is_some_and(|g| g.value() >= cutoff))
                })
                .collect()
        })
    }

    fn events_after(&self, tenant: &TenantId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let Some(first) = after.checked_add(1) else { return Ok(Vec::new()) };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let t = tenant.as_str();
        self.read(|txn| {
            let table = txn.open_table(EVENTS).map_err(backend)?;
            let mut out = Vec::new();
            for item in table.range::<(&str, u64)>((t, first)..=(t, u64::MAX)).map_err(backend)? {
                let (key, value) = item.map_err(backend)?;
                out.push(StoredEvent { sequence: key.value().1, event: decode("event", value.value())? });
                if out.len() == limit {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn last_sequence(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(EVENT_HEAD).map_err(backend)?;
            Ok(table.get(tenant.as_str()).map_err(backend)?.map_or(0, |g| g.value()))
        })
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_id("meta key", key)?;
        if value.len() > MAX_META_LEN {
            return Err(invalid("meta value", "too long"));
        }
        let (key, value) = (key.to_owned(), value.to_vec());
        self.write(move |txn| {
            open(txn, META)?.insert(key.as_str(), value.as_slice()).map_err(backend)?;
            Ok(((), true))
        })
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_id("meta key", key)?;
        self.read(|txn| {
            let table = txn.open_table(META).map_err(backend)?;
            Ok(table.get(key).map_err(backend)?.map(|g| g.value().to_vec()))
        })
    }

    fn directory_write(&self, write: DirectoryWrite) -> Result<DirectoryOutcome, StoreError> {
        write.validate()?;
        self.write(move |txn| {
            let mut directory = open(txn, DIRECTORY)?;
            let holds = write.expectations_hold(|key| {
                Ok::<_, StoreError>(directory.get(key).map_err(backend)?.map(|g| g.value().to_owned()))
            })?;
            if !holds {
                return Ok((DirectoryOutcome::Conflict, false));
            }
            for (key, value) in &write.put {
                directory.insert(key.as_str(), value.as_str()).map_err(backend)?;
            }
            for key in &write.delete {
                directory.remove(key.as_str()).map_err(backend)?;
            }
            let log_sequence = match &write.log {
                None => None,
                Some(entry) => {
                    let mut log = open(txn, PLATFORM_LOG)?;
                    let last = log.last().map_err(backend)?.map_or(0, |(key, _)| key.value());
                    log.insert(last + 1, entry.as_str()).map_err(backend)?;
                    Some(last + 1)
                }
            };
            Ok((DirectoryOutcome::Applied { log_sequence }, true))
        })
    }

    fn directory_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(DIRECTORY).map_err(backend)?;
            Ok(table.get(key).map_err(backend)?.map(|g| g.value().to_owned()))
        })
    }

    fn directory_scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(DIRECTORY).map_err(backend)?;
            let mut found = Vec::new();
            for item in table.range(prefix..).map_err(backend)? {
                let (key, value) = item.map_err(backend)?;
                if !key.value().starts_with(prefix) {
                    break;
                }
                found.push((key.value().to_owned(), value.value().to_owned()));
            }
            Ok(found)
        })
    }

    fn write_audited(&self, tenant: &TenantId, write: TenantWrite, leaves: AuditLeaves) -> Result<Audited, StoreError> {
        write.validate()?;
        leaves.validate(&write)?;
        let prepared = PreparedWrite::new(write)?;
        let tenant = tenant.as_str().to_owned();
        // One transaction: the write, the leaf and the log's size land together.
        self.write(move |txn| {
            let t = tenant.as_str();
            let answer = prepared.run_in(txn, t)?;
            // `AuditLeaves::validate` made sure every outcome of the write has its leaf.
            let leaf =
                leaves.leaf(answer.outcome()).ok_or_else(|| invalid("audit leaves", "lack the outcome's leaf"))?;
            let mut sizes = open(txn, AUDIT_SIZE)?;
            let index = sizes.get(t).map_err(backend)?.map_or(0, |size| size.value());
            open(txn, AUDIT)?.insert((t, index), leaf).map_err(backend)?;
            sizes.insert(t, index + 1).map_err(backend)?;
            if let Some((key, der)) = leaves.evidence() {
                open(txn, AUDIT_EVIDENCE)?.insert((t, key.as_slice()), der).map_err(backend)?;
            }
            Ok((Audited { answer, index }, true))
        })
    }

    fn audit_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.read(|txn| {
            let sizes = txn.open_table(AUDIT_SIZE).map_err(backend)?;
            Ok(sizes.get(tenant.as_str()).map_err(backend)?.map_or(0, |size| size.value()))
        })
    }

    fn audit_leaves(&self, tenant: &TenantId, from: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|txn| {
            let t = tenant.as_str();
            let floor = txn.open_table(AUDIT_FLOOR).map_err(backend)?.get(t).map_err(backend)?.map_or(0, |f| f.value());
            if from < floor {
                return Err(StoreError::AuditTrimmed { floor });
            }
            let table = txn.open_table(AUDIT).map_err(backend)?;
            let mut leaves = Vec::new();
            for item in table.range((t, from)..=(t, u64::MAX)).map_err(backend)?.take(limit.min(MAX_AUDIT_PAGE)) {
                leaves.push(item.map_err(backend)?.1.value().to_owned());
            }
            Ok(leaves)
        })
    }

    fn audit_trim(&self, tenant: &TenantId, below: u64) -> Result<(), StoreError> {
        // In transactions of at most TRIM_BATCH leaves each, every one raising the floor.
        loop {
            let t = tenant.as_str().to_owned();
            let floor = self.write(move |txn| {
                let t = t.as_str();
                let size = open(txn, AUDIT_SIZE)?.get(t).map_err(backend)?.map_or(0, |size| size.value());
                if below > size {
                    return Err(invalid("audit trim", "is beyond the audit log's size"));
                }
                let mut floors = open(txn, AUDIT_FLOOR)?;
                let floor = floors.get(t).map_err(backend)?.map_or(0, |floor| floor.value());
                if below <= floor {
                    return Ok((floor, false));
                }
                let stop = below.min(floor.saturating_add(TRIM_BATCH));
                let mut leaves = open(txn, AUDIT)?;
                for index in floor..stop {
                    leaves.remove((t, index)).map_err(backend)?;
                }
                floors.insert(t, stop).map_err(backend)?;
                Ok((stop, true))
            })?;
            if floor >= below {
                return Ok(());
            }
        }
    }

    fn audit_floor(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.read(|txn| {
            let floors = txn.open_table(AUDIT_FLOOR).map_err(backend)?;
            Ok(floors.get(tenant.as_str()).map_err(backend)?.map_or(0, |floor| floor.value()))
        })
    }

    fn audit_evidence(&self, tenant: &TenantId, limit: usize) -> Result<Vec<EvidenceItem>, StoreError> {
        let t = tenant.as_str();
        self.read(|txn| {
            let table = txn.open_table(AUDIT_EVIDENCE).map_err(backend)?;
            let mut found = Vec::new();
            for item in table.range::<(&str, &[u8])>((t, &[][..])..).map_err(backend)? {
                if found.len() >= limit.min(MAX_AUDIT_PAGE) {
                    break;
                }
                let (key, der) = item.map_err(backend)?;
                let (kt, key) = key.value();
                if kt != t {
                    break;
                }
                found.push((evidence_key(key)?, der.value().to_vec()));
            }
            Ok(found)
        })
    }

    fn audit_evidence_get(&self, tenant: &TenantId, key: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(AUDIT_EVIDENCE).map_err(backend)?;
            Ok(table.get((tenant.as_str(), key.as_slice())).map_err(backend)?.map(|der| der.value().to_vec()))
        })
    }

    fn audit_evidence_drop(&self, tenant: &TenantId, keys: &[[u8; 32]]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let (t, keys) = (tenant.as_str().to_owned(), keys.to_vec());
        self.write(move |txn| {
            let mut table = open(txn, AUDIT_EVIDENCE)?;
            let mut changed = false;
            for key in &keys {
                changed |= table.remove((t.as_str(), key.as_slice())).map_err(backend)?.is_some();
            }
            Ok(((), changed))
        })
    }

    fn audit_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.read(|txn| {
            let sizes = txn.open_table(AUDIT_SIZE).map_err(backend)?;
            let mut tenants = Vec::new();
            for item in sizes.iter().map_err(backend)? {
                let (tenant, size) = item.map_err(backend)?;
                if size.value() > 0 {
                    tenants.push(stored_tenant(tenant.value(), "audit size")?);
                }
            }
            Ok(tenants)
        })
    }

    fn platform_log(&self, after: u64, limit: usize) -> Result<Vec<PlatformLogEntry>, StoreError> {
        let Some(first) = after.checked_add(1) else { return Ok(Vec::new()) };
        self.read(|txn| {
            let table = txn.open_table(PLATFORM_LOG).map_err(backend)?;
            let mut found = Vec::new();
            for item in table.range(first..).map_err(backend)?.take(limit) {
                let (sequence, entry) = item.map_err(backend)?;
                found.push(PlatformLogEntry { sequence: sequence.value(), entry: entry.value().to_owned() });
            }
            Ok(found)
        })
    }
}

impl LocalStore {
    /// Every stored item, in the journal's snapshot form (`journal::import_redb`): one read
    /// transaction, so the items are a consistent state.
    pub(crate) fn for_each_item(&self, each: &mut dyn FnMut(Item)) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let cert = |ca: &str, serial: &str| CertId { ca_key_id: ca.to_owned(), serial: serial.to_owned() };
        for item in txn.open_table(META).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            each(Item::Meta { key: key.value().to_owned(), value: value.value().to_vec() });
        }
        for item in txn.open_table(DIRECTORY).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            each(Item::Directory { key: key.value().to_owned(), value: value.value().to_owned() });
        }
        for item in txn.open_table(PLATFORM_LOG).map_err(backend)?.iter().map_err(backend)? {
            let (sequence, entry) = item.map_err(backend)?;
            each(Item::PlatformLog { sequence: sequence.value(), entry: entry.value().to_owned() });
        }
        for item in txn.open_table(CHALLENGES).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let (t, id) = key.value();
            let slot = decode::<ChallengeSlot>("challenge", value.value())?;
            each(Item::Challenge { tenant: stored_tenant(t, "challenge")?, id: id.to_owned(), slot });
        }
        for item in txn.open_table(VERIFICATIONS).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let record = decode::<VerificationRecord>("verification", value.value())?;
            each(Item::Verification { tenant: stored_tenant(key.value().0, "verification")?, record });
        }
        for item in txn.open_table(ENTITLEMENTS).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let (t, ca, serial) = key.value();
            let tenant = stored_tenant(t, "entitlement")?;
            each(Item::Entitlement { tenant, certificate: cert(ca, serial), verified_at: value.value() });
        }
        for item in txn.open_table(LINKS_BY_CERT).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let record = decode::<LinkRecord>("link", value.value())?;
            each(Item::Link { tenant: stored_tenant(key.value().0, "link")?, record });
        }
        for item in txn.open_table(WATCH).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let (t, ca, serial) = key.value();
            let entry = decode::<WatchEntry>("watch", value.value())?;
            let watched = Watched { certificate: cert(ca, serial), entry };
            each(Item::Watch { tenant: stored_tenant(t, "watch")?, watched });
        }
        for item in txn.open_table(EVENTS).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let (t, sequence) = key.value();
            let event = decode::<RevocationNotice>("event", value.value())?;
            each(Item::Event { tenant: stored_tenant(t, "event")?, sequence, event });
        }
        for item in txn.open_table(EVENT_STATUS).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let (t, ca, serial) = key.value();
            let status = decode::<EventStatus>("event status", value.value())?;
            each(Item::EventStatus {
                tenant: stored_tenant(t, "event status")?,
                certificate: cert(ca, serial),
                status,
            });
        }
        for item in txn.open_table(EVENT_HEAD).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            each(Item::Head { tenant: stored_tenant(key.value(), "event head")?, sequence: value.value() });
        }
        // Every floor before every leaf: a tenant's floor must precede its leaves.
        for item in txn.open_table(AUDIT_FLOOR).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            each(Item::AuditFloor { tenant: stored_tenant(key.value(), "audit floor")?, floor: value.value() });
        }
        for item in txn.open_table(AUDIT_EVIDENCE).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let (t, key) = key.value();
            let evidence = Evidence { key: evidence_key(key)?, der: value.value().to_vec() };
            each(Item::Evidence { tenant: stored_tenant(t, "audit evidence")?, evidence });
        }
        for item in txn.open_table(AUDIT).map_err(backend)?.iter().map_err(backend)? {
            let (key, value) = item.map_err(backend)?;
            let (t, index) = key.value();
            each(Item::AuditLeaf { tenant: stored_tenant(t, "audit leaf")?, index, leaf: value.value().to_owned() });
        }
        Ok(())
    }
}

/// Stores a fresh challenge (its slot encoded); [`StoreError::Duplicate`] when the id exists.
fn put_challenge_in(txn: &WriteTransaction, t: &str, id: &str, expires_at: i64, slot: &[u8]) -> Result<(), StoreError> {
    let mut table = open(txn, CHALLENGES)?;
    if table.get((t, id)).map_err(backend)?.is_some() {
        return Err(StoreError::Duplicate { what: "challenge" });
    }
    table.insert((t, id), slot).map_err(backend)?;
    open(txn, CHALLENGE_EXPIRY)?.insert((expires_at, t, id), ()).map_err(backend)?;
    Ok(())
}

/// Consumes the challenge and keeps the attempt's record: `verified` when the challenge was
/// pending, `refused` otherwise.
fn settle_in(
    txn: &WriteTransaction,
    tenant: &str,
    id: &str,
    now: i64,
    verified: &Prepared,
    refused: &Prepared,
) -> Result<ConsumeOutcome, StoreError> {
    // A duplicate record id fails the call, and a failed call keeps none of its writes.
    let (outcome, _) = consume_in(txn, tenant, id, now)?;
    let kept = if matches!(outcome, ConsumeOutcome::Consumed(_)) { verified } else { refused };
    kept.record_in(txn, tenant)?;
    Ok(outcome)
}

/// Links, or answers the existing link; the flag says whether anything changed.
fn link_in(
    txn: &WriteTransaction,
    t: &str,
    record: &LinkRecord,
    bytes: &[u8],
) -> Result<(LinkOutcome, bool), StoreError> {
    let mut by_cert = open(txn, LINKS_BY_CERT)?;
    let (ca, serial) = (record.certificate.ca_key_id.as_str(), record.certificate.serial.as_str());
    let found = by_cert.get((t, ca, serial)).map_err(backend)?.map(|g| decode::<LinkRecord>("link", g.value()));
    if let Some(existing) = found.transpose()? {
        return Ok((existing_link(existing, &record.customer_id), false));
    }
    by_cert.insert((t, ca, serial), bytes).map_err(backend)?;
    open(txn, LINKS_BY_CUSTOMER)?.insert((t, record.customer_id.as_str(), ca, serial), ()).map_err(backend)?;
    Ok((LinkOutcome::Created(record.clone()), true))
}

/// Removes the customer's link to `certificate`, or all of them; returns how many.
fn unlink_in(
    txn: &WriteTransaction,
    tenant: &str,
    customer_id: &str,
    certificate: Option<&CertId>,
) -> Result<u32, StoreError> {
    let t = tenant;
    let mut by_cert = open(txn, LINKS_BY_CERT)?;
    let mut by_customer = open(txn, LINKS_BY_CUSTOMER)?;
    let certs: Vec<(String, String)> = match certificate {
        Some(cert) => {
            let (ca, serial) = (cert.ca_key_id.as_str(), cert.serial.as_str());
            let found = by_cert.get((t, ca, serial)).map_err(backend)?.map(|g| decode::<LinkRecord>("link", g.value()));
            match found.transpose()? {
                Some(link) if link.customer_id == customer_id => vec![(ca.to_owned(), serial.to_owned())],
                // Not linked, or linked to someone else: that link is not this customer's to remove.
                _ => Vec::new(),
            }
        }
        None => {
            let mut certs = Vec::new();
            for item in by_customer.range::<(&str, &str, &str, &str)>((t, customer_id, "", "")..).map_err(backend)? {
                let (key, _) = item.map_err(backend)?;
                let (kt, kc, ca, serial) = key.value();
                if kt != t || kc != customer_id {
                    break;
                }
                certs.push((ca.to_owned(), serial.to_owned()));
            }
            certs
        }
    };
    for (ca, serial) in &certs {
        by_cert.remove((t, ca.as_str(), serial.as_str())).map_err(backend)?;
        by_customer.remove((t, customer_id, ca.as_str(), serial.as_str())).map_err(backend)?;
    }
    Ok(u32::try_from(certs.len()).unwrap_or(u32::MAX))
}

/// A call's write, checked and encoded once (the writer may run it more than once).
enum PreparedWrite {
    Nothing,
    PutChallenge { id: String, expires_at: i64, slot: Vec<u8> },
    // Boxed: two records inline would make every variant twice the size of the others.
    SettleProof { id: String, now: i64, verified: Prepared, refused: Box<Prepared> },
    Record(Prepared),
    Link { record: LinkRecord, bytes: Vec<u8> },
    Unlink { customer_id: String, certificate: Option<CertId> },
}

impl PreparedWrite {
    fn new(write: TenantWrite) -> Result<Self, StoreError> {
        Ok(match write {
            TenantWrite::Nothing => PreparedWrite::Nothing,
            TenantWrite::PutChallenge { id, challenge } => {
                let expires_at = challenge.expires_at;
                PreparedWrite::PutChallenge { id, expires_at, slot: encode(&ChallengeSlot::Pending { challenge })? }
            }
            TenantWrite::SettleProof { id, now, verified, watch } => {
                let verified = Prepared::new(verified, watch)?;
                let refused = Box::new(Prepared::new(verified.record.refused(), None)?);
                PreparedWrite::SettleProof { id, now, verified, refused }
            }
            TenantWrite::RecordVerification { record, watch } => PreparedWrite::Record(Prepared::new(record, watch)?),
            TenantWrite::Link { record } => {
                let bytes = encode(&record)?;
                PreparedWrite::Link { record, bytes }
            }
            TenantWrite::Unlink { customer_id, certificate } => PreparedWrite::Unlink { customer_id, certificate },
        })
    }

    fn run_in(&self, txn: &WriteTransaction, tenant: &str) -> Result<WriteAnswer, StoreError> {
        Ok(match self {
            PreparedWrite::Nothing => WriteAnswer::Done,
            PreparedWrite::PutChallenge { id, expires_at, slot } => {
                put_challenge_in(txn, tenant, id, *expires_at, slot)?;
                WriteAnswer::Done
            }
            PreparedWrite::SettleProof { id, now, verified, refused } => {
                WriteAnswer::Consumed(settle_in(txn, tenant, id, *now, verified, refused)?)
            }
            PreparedWrite::Record(prepared) => {
                prepared.record_in(txn, tenant)?;
                WriteAnswer::Done
            }
            PreparedWrite::Link { record, bytes } => WriteAnswer::Linked(link_in(txn, tenant, record, bytes)?.0),
            PreparedWrite::Unlink { customer_id, certificate } => {
                WriteAnswer::Unlinked(unlink_in(txn, tenant, customer_id, certificate.as_ref())?)
            }
        })
    }
}

/// A stored evidence key (32 bytes).
fn evidence_key(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| StoreError::Corrupt { what: "audit evidence", detail: "a key is not 32 bytes".into() })
}

fn open<'t, K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &'t WriteTransaction,
    table: TableDefinition<K, V>,
) -> Result<redb::Table<'t, K, V>, StoreError> {
    txn.open_table(table).map_err(backend)
}

fn backend(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(e.into().to_string())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    // Our records only hold strings, integers and options: serialising cannot fail, but say so
    // rather than panic if a future field could.
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encoding a record: {e}")))
}

fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })
}

/// Most calls the writer thread puts into one transaction (and one fsync).
const MAX_GROUP: usize = 256;

/// A queued write call, its closure erased: the writer runs it (possibly more than once) and then
/// answers it exactly once.
type Job = Box<dyn Pending>;

trait Pending: Send {
    /// Runs the operation in `txn`, keeps its value, and says whether it changed something.
    fn run(&mut self, txn: &WriteTransaction) -> Result<bool, StoreError>;
    /// Answers the caller with the value of the last run (its transaction has been committed or,
    /// if nothing changed, aborted).
    fn succeed(&mut self);
    /// Answers the caller with an error.
    fn fail(&mut self, error: StoreError);
    /// Whether the call must be durable when answered.
    fn durable(&self) -> bool;
}

struct Call<T, F> {
    op: F,
    value: Option<T>,
    reply: SyncSender<Result<T, StoreError>>,
    durable: bool,
}

impl<T, F> Pending for Call<T, F>
where
    T: Send,
    F: Fn(&WriteTransaction) -> Result<(T, bool), StoreError> + Send,
{
    fn run(&mut self, txn: &WriteTransaction) -> Result<bool, StoreError> {
        self.value = None;
        let (value, changed) = (self.op)(txn)?;
        self.value = Some(value);
        Ok(changed)
    }

    fn succeed(&mut self) {
        let result = self.value.take().ok_or_else(|| StoreError::Backend("write answered without a result".into()));
        // The caller waits until answered, so the receiver is alive; nothing to do if not.
        let _ = self.reply.send(result);
    }

    fn fail(&mut self, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }

    fn durable(&self) -> bool {
        self.durable
    }
}

fn writer_gone() -> StoreError {
    StoreError::Backend("the store's writer thread has stopped".into())
}

/// The writer thread: takes one call, then whatever else is already queued (up to
/// [`MAX_GROUP`]), and runs them as one group. Ends when the store drops its queue.
fn writer_loop(db: &Database, jobs: &Receiver<Job>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while let Ok(first) = jobs.recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        run_group(db, &mut group);
        group.clear();
    }
}

/// Runs `jobs` in order with the outcome of serial execution, sharing transactions (and fsyncs)
/// where no call fails, and answers every one.
fn run_group(db: &Database, jobs: &mut [Job]) {
    let mut start = 0;
    while start < jobs.len() {
        match run_together(db, &mut jobs[start..]) {
            None => return,
            // It ran first in a fresh transaction, i.e. on the committed state, exactly as alone,
            // and the abort dropped whatever it had written: its error is its answer.
            Some((0, error)) => {
                jobs[start].fail(error);
                start += 1;
            }
            // Commit the calls before it without it; it then runs first in the next round.
            Some((failed, _)) => {
                run_group(db, &mut jobs[start..start + failed]);
                start += failed;
            }
        }
    }
}

/// Runs all of `jobs` in one write transaction, commits it (or aborts it when nothing changed)
/// and answers every job: `None`. When job `i` fails, aborts the transaction and answers none of
/// them: `Some((i, error))`.
fn run_together(db: &Database, jobs: &mut [Job]) -> Option<(usize, StoreError)> {
    let mut txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(e) => {
            fail_all(jobs, &backend(e));
            return None;
        }
    };
    // Fsync before the commit returns whenever any call of the group needs it (a durable commit
    // also makes every earlier non-durable one durable); a group of calls that do not (issued
    // challenges) skips the fsync.
    let durable = jobs.iter().any(|job| job.durable());
    txn.set_durability(if durable { Durability::Immediate } else { Durability::None });
    let mut changed = false;
    for (i, job) in jobs.iter_mut().enumerate() {
        match job.run(&txn) {
            Ok(c) => changed |= c,
            Err(error) => {
                // The error says more than a failed abort could.
                let _ = txn.abort();
                return Some((i, error));
            }
        }
    }
    let ended = if changed { txn.commit().map_err(backend) } else { txn.abort().map_err(backend) };
    match ended {
        Ok(()) => jobs.iter_mut().for_each(|job| job.succeed()),
        Err(error) => fail_all(jobs, &error),
    }
    None
}

/// Answers every job with (a copy of) a backend failure that hit them all.
fn fail_all(jobs: &mut [Job], error: &StoreError) {
    let message = match error {
        StoreError::Backend(message) => message.clone(),
        other => other.to_string(),
    };
    for job in jobs {
        job.fail(StoreError::Backend(message.clone()));
    }
}

/// Consumes a challenge inside `txn`; the flag says whether anything was written.
fn consume_in(txn: &WriteTransaction, tenant: &str, id: &str, now: i64) -> Result<(ConsumeOutcome, bool), StoreError> {
    let mut table = open(txn, CHALLENGES)?;
    let found = table.get((tenant, id)).map_err(backend)?.map(|g| decode::<ChallengeSlot>("challenge", g.value()));
    let Some(slot) = found.transpose()? else { return Ok((ConsumeOutcome::Unknown, false)) };
    let (outcome, marker) = slot.consume(now);
    let changed = marker.is_some();
    if let Some(marker) = marker {
        table.insert((tenant, id), encode(&marker)?.as_slice()).map_err(backend)?;
    }
    Ok((outcome, changed))
}

/// A verification record (and its watch request) checked and encoded outside the writer.
struct Prepared {
    record: VerificationRecord,
    bytes: Vec<u8>,
    watch: Option<(CertId, WatchEntry, Vec<u8>)>,
}

impl Prepared {
    fn new(record: VerificationRecord, watch: Option<WatchRequest>) -> Result<Self, StoreError> {
        record.validate()?;
        let watch = match watch {
            Some(request) => {
                let Watched { certificate, entry } = Watched::checked(request)?;
                let bytes = encode(&entry)?;
                Some((certificate, entry, bytes))
            }
            None => None,
        };
        let bytes = encode(&record)?;
        Ok(Prepared { record, bytes, watch })
    }

    /// Stores the record, its entitlement (when passed) and the watch entry inside `txn`.
    fn record_in(&self, txn: &WriteTransaction, tenant: &str) -> Result<(), StoreError> {
        put_verification_in(txn, tenant, &self.record, &self.bytes)?;
        if let (true, Some(certificate)) = (self.record.passed, &self.record.certificate) {
            entitle_in(txn, tenant, certificate, self.record.verified_at)?;
        }
        if let Some((certificate, entry, entry_bytes)) = &self.watch {
            watch_in(txn, tenant, certificate, entry, entry_bytes)?;
        }
        Ok(())
    }
}

/// Inserts a verification record (refusing a duplicate id) inside a write transaction.
fn put_verification_in(
    txn: &WriteTransaction,
    tenant: &str,
    record: &VerificationRecord,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let mut table = open(txn, VERIFICATIONS)?;
    let id = record.id.as_str();
    if table.get((tenant, id)).map_err(backend)?.is_some() {
        return Err(StoreError::Duplicate { what: "verification" });
    }
    table.insert((tenant, id), bytes).map_err(backend)?;
    open(txn, VERIFICATION_AGE)?.insert((record.verified_at, tenant, id), ()).map_err(backend)?;
    Ok(())
}

/// Records a passed verification of `certificate` at `verified_at` in the entitlement index (the
/// latest time wins) inside a write transaction; returns whether anything changed.
fn entitle_in(
    txn: &WriteTransaction,
    tenant: &str,
    certificate: &CertId,
    verified_at: i64,
) -> Result<bool, StoreError> {
    let key = (tenant, certificate.ca_key_id.as_str(), certificate.serial.as_str());
    let mut entitlements = open(txn, ENTITLEMENTS)?;
    let latest = entitlements.get(key).map_err(backend)?.map(|g| g.value());
    if latest.is_some_and(|latest| latest >= verified_at) {
        return Ok(false);
    }
    let mut age = open(txn, ENTITLEMENT_AGE)?;
    if let Some(latest) = latest {
        age.remove((latest, key.0, key.1, key.2)).map_err(backend)?;
    }
    entitlements.insert(key, verified_at).map_err(backend)?;
    age.insert((verified_at, key.0, key.1, key.2), ()).map_err(backend)?;
    Ok(true)
}

/// Schema 1 → 2, inside `open`'s write transaction: each certificate's one event becomes its
/// recorded status (an event without `change` was a revocation), `event_by_cert` is dropped, and
/// the entitlement index is built from the stored verification records.
fn migrate_from_1(txn: &WriteTransaction) -> Result<(), StoreError> {
    let mut statuses = Vec::new();
    {
        let by_cert = open(txn, EVENT_BY_CERT_V1)?;
        let log = open(txn, EVENTS)?;
        for item in by_cert.iter().map_err(backend)? {
            let (key, sequence) = item.map_err(backend)?;
            let (tenant, ca, serial) = key.value();
            let sequence = sequence.value();
            let event = log.get((tenant, sequence)).map_err(backend)?.ok_or_else(|| StoreError::Corrupt {
                what: "event log",
                detail: "schema 1 de-duplication index names a missing event".into(),
            })?;
            let notice: RevocationNotice = decode("event", event.value())?;
            let status = EventStatus {
                sequence,
                change: notice.change,
                crl_number: notice.crl_number.as_deref().and_then(normalise_crl_number).map(str::to_owned),
                reason: notice.reason,
            };
            statuses.push(((tenant.to_owned(), ca.to_owned(), serial.to_owned()), encode(&status)?));
        }
    }
    let mut table = open(txn, EVENT_STATUS)?;
    for ((tenant, ca, serial), status) in &statuses {
        table.insert((tenant.as_str(), ca.as_str(), serial.as_str()), status.as_slice()).map_err(backend)?;
    }
    drop(table);
    txn.delete_table(EVENT_BY_CERT_V1).map_err(backend)?;

    let mut passed = Vec::new();
    for item in open(txn, VERIFICATIONS)?.iter().map_err(backend)? {
        let (key, value) = item.map_err(backend)?;
        let record: VerificationRecord = decode("verification", value.value())?;
        if let (true, Some(certificate)) = (record.passed, record.certificate) {
            passed.push((key.value().0.to_owned(), certificate, record.verified_at));
        }
    }
    for (tenant, certificate, verified_at) in &passed {
        entitle_in(txn, tenant, certificate, *verified_at)?;
    }
    Ok(())
}

/// Records a watch entry (and the global watchers index) inside a write transaction; returns
/// whether anything changed (an identical entry is a no-op).
fn watch_in(
    txn: &WriteTransaction,
    tenant: &str,
    certificate: &CertId,
    entry: &WatchEntry,
    bytes: &[u8],
) -> Result<bool, StoreError> {
    let (ca, serial) = (certificate.ca_key_id.as_str(), certificate.serial.as_str());
    let mut watch = open(txn, WATCH)?;
    let found = watch.get((tenant, ca, serial)).map_err(backend)?.map(|g| decode::<WatchEntry>("watch", g.value()));
    let mut expiry = open(txn, WATCH_EXPIRY)?;
    match found.transpose()? {
        Some(existing) if existing == *entry => return Ok(false),
        Some(existing) => {
            expiry.remove((existing.not_after, tenant, ca, serial)).map_err(backend)?;
        }
        None => {}
    }
    watch.insert((tenant, ca, serial), bytes).map_err(backend)?;
    open(txn, WATCHERS)?.insert((ca, serial, tenant), entry.kind.as_str()).map_err(backend)?;
    expiry.insert((entry.not_after, tenant, ca, serial), ()).map_err(backend)?;
    Ok(true)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A job writing meta `key`, failing after the write when `fail` is set.
    fn job(key: &'static str, fail: bool) -> (Job, mpsc::Receiver<Result<(), StoreError>>) {
        let (reply, answer) = mpsc::sync_channel(1);
        let op = move |txn: &WriteTransaction| {
            open(txn, META)?.insert(key, b"v".as_slice()).map_err(backend)?;
            if fail { Err(StoreError::Duplicate { what: "challenge" }) } else { Ok(((), true)) }
        };
        (Box::new(Call { op, value: None, reply, durable: true }), answer)
    }

    #[test]
    fn a_failing_call_in_a_group_keeps_none_of_its_writes_and_all_of_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("store.redb")).unwrap();
        let specs = [("a", false), ("b", true), ("c", false), ("d", false), ("e", true), ("f", true), ("g", false)];
        let (mut jobs, answers): (Vec<Job>, Vec<_>) = specs.iter().map(|&(key, fail)| job(key, fail)).unzip();
        run_group(&store.db, &mut jobs);
        for (&(key, fail), answer) in specs.iter().zip(answers) {
            let answer = answer.try_recv().expect("every call is answered");
            assert_eq!(answer.is_err(), fail, "{key}");
            assert_eq!(store.get_meta(key).unwrap().is_some(), !fail, "{key}");
        }
    }

    #[test]
    fn a_dropped_store_fails_nothing_and_stops_its_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let store = LocalStore::open(&path).unwrap();
        store.put_meta("k", b"v").unwrap();
        drop(store);
        // The writer is gone and the file closed: it opens again at once.
        let store = LocalStore::open(&path).unwrap();
        assert_eq!(store.get_meta("k").unwrap(), Some(b"v".to_vec()));
    }

    #[test]
    fn callers_get_a_backend_error_not_a_hang_when_the_writer_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path().join("store.redb")).unwrap();
        // A writer that dies mid-call (a panic inside redb, say) answers its callers with an error.
        let answer = store.write(|_txn: &WriteTransaction| -> Result<((), bool), StoreError> { panic!("injected") });
        assert!(matches!(answer, Err(StoreError::Backend(_))));
        // Later calls too, and the store still drops.
        assert!(matches!(store.put_meta("k", b"v"), Err(StoreError::Backend(_))));
        assert_eq!(store.get_meta("k").unwrap(), None);
    }
}
