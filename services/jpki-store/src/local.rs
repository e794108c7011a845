//! [`LocalStore`]: the embedded single-node store, one redb file.

use std::path::{Path, PathBuf};

use redb::{Database, DatabaseError, Durability, ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::types::{check_customer, check_id, check_kind, invalid};
use crate::{
    CertKey, Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, MAX_META_LEN, RevocationNotice, StoreError,
    StoredEvent, TenantId, TenantStore, VerificationRecord,
};

/// How long after `expires_at` a challenge or its used marker is kept. A replay shortly after
/// expiry then still answers `AlreadyUsed`, and a purge run by a caller whose clock is ahead of the
/// one consuming cannot turn a live challenge into `Unknown`.
pub const CHALLENGE_PURGE_GRACE_SECS: i64 = 600;

/// How long after a certificate's notAfter its watch entries are kept: a list published shortly
/// after notAfter may still revoke it; later, CRLs drop the certificate and no event can come.
pub const WATCH_PURGE_GRACE_SECS: i64 = 7 * 24 * 3600;

/// Schema of the tables below; bump (and migrate in `open`) when a key or value layout changes.
const SCHEMA_VERSION: u32 = 1;

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
const EVENT_BY_CERT: TableDefinition<(&str, &str, &str), u64> = TableDefinition::new("event_by_cert");
const EVENT_HEAD: TableDefinition<&str, u64> = TableDefinition::new("event_head");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SCHEMA: TableDefinition<&str, u32> = TableDefinition::new("store_schema");

/// A challenge slot: the challenge until first consumed, then only the used marker (the bytes are
/// no longer needed).
#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum ChallengeSlot {
    Pending { challenge: Challenge },
    Used { used_at: i64, expires_at: i64 },
}

#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct WatchEntry {
    kind: String,
    not_after: i64,
}

/// The embedded store: one redb file, safe to share between threads (`Arc<dyn TenantStore>`).
///
/// Writers are serialised by redb (one write transaction at a time); readers never block and see
/// the last committed state. Only one `LocalStore` may have a file open at a time (redb locks it);
/// a second `open` fails with [`StoreError::InUse`].
pub struct LocalStore {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Opens the store at `path`, creating the file and its parent directories if needed. After a
    /// crash, redb checks and repairs its allocator state here, which takes longer on large files.
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
        let store = Self { db, path: path.to_path_buf() };
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
            open(txn, EVENT_BY_CERT)?;
            open(txn, EVENT_HEAD)?;
            open(txn, META)?;
            let mut schema = open(txn, SCHEMA)?;
            let found = schema.get("version").map_err(backend)?.map(|g| g.value());
            match found {
                Some(found) if found > SCHEMA_VERSION => {
                    Err(StoreError::UnsupportedSchema { found, supported: SCHEMA_VERSION })
                }
                Some(_) => Ok(((), false)),
                None => {
                    schema.insert("version", SCHEMA_VERSION).map_err(backend)?;
                    Ok(((), true))
                }
            }
        })
    }

    /// Runs `f` in one write transaction, committed durably when `f` says it changed something
    /// (`(value, true)`) and aborted otherwise, so that read-only outcomes (replays, idempotent
    /// repeats) cost no fsync. An error aborts too.
    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<(T, bool), StoreError>) -> Result<T, StoreError> {
        let mut txn = self.db.begin_write().map_err(backend)?;
        // The default, stated so that nobody weakens it by accident: fsync before commit returns.
        txn.set_durability(Durability::Immediate);
        match f(&txn) {
            Ok((value, true)) => {
                txn.commit().map_err(backend)?;
                Ok(value)
            }
            Ok((value, false)) => {
                txn.abort().map_err(backend)?;
                Ok(value)
            }
            Err(e) => {
                // The original error says more than a failed abort could.
                let _ = txn.abort();
                Err(e)
            }
        }
    }

    fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        f(&txn)
    }

    /// One batch of a purge; returns how many items it removed.
    fn purge_challenges(&self, cutoff: i64) -> Result<usize, StoreError> {
        self.write(|txn| {
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
        self.write(|txn| {
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

    fn purge_watches(&self, cutoff: i64) -> Result<usize, StoreError> {
        self.write(|txn| {
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
        tenant.validate()?;
        check_id("challenge id", id)?;
        challenge.validate()?;
        let t = tenant.as_str();
        self.write(|txn| {
            let mut table = open(txn, CHALLENGES)?;
            if table.get((t, id)).map_err(backend)?.is_some() {
                return Err(StoreError::Duplicate { what: "challenge" });
            }
            let expires_at = challenge.expires_at;
            table.insert((t, id), encode(&ChallengeSlot::Pending { challenge })?.as_slice()).map_err(backend)?;
            open(txn, CHALLENGE_EXPIRY)?.insert((expires_at, t, id), ()).map_err(backend)?;
            Ok(((), true))
        })
    }

    fn consume_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError> {
        tenant.validate()?;
        check_id("challenge id", id)?;
        let t = tenant.as_str();
        self.write(|txn| {
            let mut table = open(txn, CHALLENGES)?;
            let found = table.get((t, id)).map_err(backend)?.map(|g| decode::<ChallengeSlot>("challenge", g.value()));
            match found.transpose()? {
                None => Ok((ConsumeOutcome::Unknown, false)),
                Some(ChallengeSlot::Used { used_at, .. }) => Ok((ConsumeOutcome::AlreadyUsed { used_at }, false)),
                Some(ChallengeSlot::Pending { challenge }) => {
                    let marker = ChallengeSlot::Used { used_at: now, expires_at: challenge.expires_at };
                    table.insert((t, id), encode(&marker)?.as_slice()).map_err(backend)?;
                    let outcome = if now >= challenge.expires_at {
                        ConsumeOutcome::Expired(challenge)
                    } else {
                        ConsumeOutcome::Consumed(challenge)
                    };
                    Ok((outcome, true))
                }
            }
        })
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
        Ok(removed)
    }

    fn put_verification(&self, tenant: &TenantId, record: VerificationRecord) -> Result<(), StoreError> {
        tenant.validate()?;
        record.validate()?;
        let t = tenant.as_str();
        self.write(|txn| {
            let mut table = open(txn, VERIFICATIONS)?;
            let id = record.id.as_str();
            if table.get((t, id)).map_err(backend)?.is_some() {
                return Err(StoreError::Duplicate { what: "verification" });
            }
            table.insert((t, id), encode(&record)?.as_slice()).map_err(backend)?;
            open(txn, VERIFICATION_AGE)?.insert((record.verified_at, t, id), ()).map_err(backend)?;
            Ok(((), true))
        })
    }

    fn get_verification(&self, tenant: &TenantId, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
        tenant.validate()?;
        check_id("verification id", id)?;
        self.read(|txn| {
            let table = txn.open_table(VERIFICATIONS).map_err(backend)?;
            let found = table.get((tenant.as_str(), id)).map_err(backend)?;
            found.map(|g| decode("verification", g.value())).transpose()
        })
    }

    fn link(&self, tenant: &TenantId, record: LinkRecord) -> Result<LinkOutcome, StoreError> {
        tenant.validate()?;
        record.validate()?;
        let t = tenant.as_str();
        self.write(|txn| {
            let mut by_cert = open(txn, LINKS_BY_CERT)?;
            let (ca, serial) = (record.certificate.ca_key_id.as_str(), record.certificate.serial.as_str());
            let found = by_cert.get((t, ca, serial)).map_err(backend)?.map(|g| decode::<LinkRecord>("link", g.value()));
            if let Some(existing) = found.transpose()? {
                let outcome = if existing.customer_id == record.customer_id {
                    LinkOutcome::AlreadyLinked(existing)
                } else {
                    LinkOutcome::LinkedToOther { customer_id: existing.customer_id }
                };
                return Ok((outcome, false));
            }
            by_cert.insert((t, ca, serial), encode(&record)?.as_slice()).map_err(backend)?;
            open(txn, LINKS_BY_CUSTOMER)?.insert((t, record.customer_id.as_str(), ca, serial), ()).map_err(backend)?;
            Ok((LinkOutcome::Created(record.clone()), true))
        })
    }

    fn unlink(&self, tenant: &TenantId, customer_id: &str, certificate: Option<&CertKey>) -> Result<u32, StoreError> {
        tenant.validate()?;
        check_customer(customer_id)?;
        if let Some(cert) = certificate {
            cert.validate()?;
        }
        let t = tenant.as_str();
        self.write(|txn| {
            let mut by_cert = open(txn, LINKS_BY_CERT)?;
            let mut by_customer = open(txn, LINKS_BY_CUSTOMER)?;
            let certs: Vec<(String, String)> = match certificate {
                Some(cert) => {
                    let (ca, serial) = (cert.ca_key_id.as_str(), cert.serial.as_str());
                    let found =
                        by_cert.get((t, ca, serial)).map_err(backend)?.map(|g| decode::<LinkRecord>("link", g.value()));
                    match found.transpose()? {
                        Some(link) if link.customer_id == customer_id => vec![(ca.to_owned(), serial.to_owned())],
                        // Not linked, or linked to someone else: that link is not this customer's to remove.
                        _ => Vec::new(),
                    }
                }
                None => {
                    let mut certs = Vec::new();
                    for item in
                        by_customer.range::<(&str, &str, &str, &str)>((t, customer_id, "", "")..).map_err(backend)?
                    {
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
            let removed = u32::try_from(certs.len()).unwrap_or(u32::MAX);
            Ok((removed, removed > 0))
        })
    }

    fn links_by_customer(&self, tenant: &TenantId, customer_id: &str) -> Result<Vec<LinkRecord>, StoreError> {
        tenant.validate()?;
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

    fn link_by_certificate(&self, tenant: &TenantId, certificate: &CertKey) -> Result<Option<LinkRecord>, StoreError> {
        tenant.validate()?;
        certificate.validate()?;
        self.read(|txn| {
            let table = txn.open_table(LINKS_BY_CERT).map_err(backend)?;
            let key = (tenant.as_str(), certificate.ca_key_id.as_str(), certificate.serial.as_str());
            let found = table.get(key).map_err(backend)?;
            found.map(|g| decode("link", g.value())).transpose()
        })
    }

    fn watch(&self, tenant: &TenantId, certificate: &CertKey, not_after: i64, kind: &str) -> Result<(), StoreError> {
        tenant.validate()?;
        certificate.validate()?;
        check_kind(kind)?;
        let (t, ca, serial) = (tenant.as_str(), certificate.ca_key_id.as_str(), certificate.serial.as_str());
        let entry = WatchEntry { kind: kind.to_owned(), not_after };
        self.write(|txn| {
            let mut watch = open(txn, WATCH)?;
            let found = watch.get((t, ca, serial)).map_err(backend)?.map(|g| decode::<WatchEntry>("watch", g.value()));
            let mut expiry = open(txn, WATCH_EXPIRY)?;
            match found.transpose()? {
                Some(existing) if existing == entry => return Ok(((), false)),
                Some(existing) => {
                    expiry.remove((existing.not_after, t, ca, serial)).map_err(backend)?;
                }
                None => {}
            }
            watch.insert((t, ca, serial), encode(&entry)?.as_slice()).map_err(backend)?;
            open(txn, WATCHERS)?.insert((ca, serial, t), kind).map_err(backend)?;
            expiry.insert((not_after, t, ca, serial), ()).map_err(backend)?;
            Ok(((), true))
        })
    }

    fn watchers(&self, certificate: &CertKey) -> Result<Vec<(TenantId, String)>, StoreError> {
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
                out.push((TenantId(tenant.to_owned()), kind.value().to_owned()));
            }
            Ok(out)
        })
    }

    fn watched(&self, tenant: &TenantId) -> Result<Vec<CertKey>, StoreError> {
        tenant.validate()?;
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
                out.push(CertKey { ca_key_id: ca.to_owned(), serial: serial.to_owned() });
            }
            Ok(out)
        })
    }

    fn append_events(&self, events: Vec<(TenantId, RevocationNotice)>) -> Result<Vec<u64>, StoreError> {
        for (tenant, notice) in &events {
            tenant.validate()?;
            notice.validate()?;
        }
        self.write(|txn| {
            let mut log = open(txn, EVENTS)?;
            let mut by_cert = open(txn, EVENT_BY_CERT)?;
            let mut head = open(txn, EVENT_HEAD)?;
            let mut sequences = Vec::with_capacity(events.len());
            let mut appended = false;
            for (tenant, notice) in &events {
                let t = tenant.as_str();
                let cert = (t, notice.certificate.ca_key_id.as_str(), notice.certificate.serial.as_str());
                let existing = by_cert.get(cert).map_err(backend)?.map(|g| g.value());
                if let Some(sequence) = existing {
                    sequences.push(sequence);
                    continue;
                }
                let last = head.get(t).map_err(backend)?.map_or(0, |g| g.value());
                let sequence = last.checked_add(1).ok_or(invalid("sequence", "exhausted"))?;
                log.insert((t, sequence), encode(notice)?.as_slice()).map_err(backend)?;
                by_cert.insert(cert, sequence).map_err(backend)?;
                head.insert(t, sequence).map_err(backend)?;
                sequences.push(sequence);
                appended = true;
            }
            Ok((sequences, appended))
        })
    }

    fn events_after(&self, tenant: &TenantId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        tenant.validate()?;
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
        tenant.validate()?;
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
        self.write(|txn| {
            open(txn, META)?.insert(key, value).map_err(backend)?;
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
