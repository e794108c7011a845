//! Durable, tenant-keyed storage for the JPKI gateway.
//!
//! The gateway keeps six kinds of state per tenant (a bank); [`TenantStore`] is the interface.
//! Three implementations pass the same behaviour tests (`tests/behaviour.rs`, `tests/model.rs`):
//!
//! - [`JournalStore`]: single node, embedded, the default: the state in memory and an append-only,
//!   group-committed journal of every change, replayed at open (its module docs give the file
//!   format, recovery and compaction). For one gateway process.
//! - [`LocalStore`]: single node, embedded, one [redb] file. For one gateway process.
//! - [`RedisStore`]: shared by every gateway replica, on one Redis primary (standalone, or a
//!   primary that Sentinel fails over; not Cluster, see below). No state lives only in one pod.
//!
//! # Data model
//!
//! | item | identity | purpose |
//! | --- | --- | --- |
//! | [`Challenge`] | (tenant, challenge id) | single use: the first consume marks it used; replays answer [`ConsumeOutcome::AlreadyUsed`] |
//! | [`VerificationRecord`] | (tenant, verification id) | what `Link` and audits refer to |
//! | [`LinkRecord`] | (tenant, certificate) and (tenant, customer id, certificate) | a certificate links to at most one customer per tenant; a customer may have several certificates |
//! | watch entry | (tenant, certificate), plus a global certificate → tenants index | which tenants get revocation events for a certificate |
//! | audit leaf | (tenant, index) | the tenant's audit log: one leaf per call, written by [`TenantStore::write_audited`] in the same commit as the call's writes (module `audit`); the size (next index) and the floor (lowest index still held, raised by [`TenantStore::audit_trim`] once the leaves below were archived) |
//! | audit evidence | (tenant, SHA-256 of the DER) | an end-entity certificate kept by [`AuditLeaves::with_evidence`] in the leaf's commit, pending until the archive takes it ([`TenantStore::audit_evidence_drop`]) |
//! | [`StoredEvent`] | (tenant, sequence) | per-tenant log of every change of status ([`StatusChange`]: held, revoked, released) of watched certificates |
//! | event status | (tenant, certificate) | the last recorded status (its event's sequence, change, reason, highest cRLNumber): what [`TenantStore::append_events`] compares each notice with |
//! | entitlement | (tenant, certificate) | latest `verified_at` of a passed verification of it: with the links, what [`TenantStore::entitled`] reads |
//!
//! Every key starts with the tenant (except the global watchers index, which maps a certificate to
//! tenant ids and nothing else), so a tenant can only ever reach its own items: an id issued to
//! another tenant is simply absent. Certificates are identified by [`jpki_core::CertId`] (CA key id
//! and serial, lowercase hex, checked by [`jpki_core::CertId::validate`]), as in the API's
//! `CertificateId`. Where an id is part of a key it is stored as its two hex strings (redb) or as
//! `ca_key_id:serial` (Redis); in records it is the JSON object `{"ca_key_id":…,"serial":…}`.
//!
//! # Keys (redb tables of [`LocalStore`])
//!
//! Keys are redb tuples, ordered element by element, so a tenant's items form one contiguous range.
//!
//! | table | key | value |
//! | --- | --- | --- |
//! | `challenges` | (tenant, challenge id) | pending challenge, or used marker (`used_at`, `expires_at`) |
//! | `challenge_expiry` | (expires_at, tenant, challenge id) | () — purge index |
//! | `verifications` | (tenant, verification id) | [`VerificationRecord`] |
//! | `verification_age` | (verified_at, tenant, verification id) | () — purge index |
//! | `links_by_cert` | (tenant, ca_key_id, serial) | [`LinkRecord`] (the record of truth) |
//! | `links_by_customer` | (tenant, customer id, ca_key_id, serial) | () |
//! | `watch` | (tenant, ca_key_id, serial) | kind and not_after |
//! | `watchers` | (ca_key_id, serial, tenant) | kind |
//! | `watch_expiry` | (not_after, tenant, ca_key_id, serial) | () — purge index |
//! | `events` | (tenant, sequence) | [`RevocationNotice`] |
//! | `event_status` | (tenant, ca_key_id, serial) | last recorded status: `sequence`, `change`, `reason`, `crl_number` (highest seen, no leading zeros) |
//! | `event_head` | tenant | last sequence |
//! | `entitlements` | (tenant, ca_key_id, serial) | latest `verified_at` of a passed verification of the certificate |
//! | `entitlement_age` | (verified_at, tenant, ca_key_id, serial) | () — purge index of `entitlements` |
//! | `meta` | key | bytes |
//! | `audit` | (tenant, index) | the audit log's leaf (UTF-8 JSON, one line) |
//! | `audit_size` | tenant | the number of leaves (the next index), trimmed ones included |
//! | `audit_floor` | tenant | the lowest index `audit` still holds (absent: 0); [`TenantStore::audit_trim`] deletes the rows below it, in transactions of at most 10,000 |
//! | `audit_evidence` | (tenant, key: 32 bytes, the DER's SHA-256) | pending evidence: the DER |
//! | `store_schema` | `version` | 2 |
//!
//! Indexes are always written in the same transaction as the item they index.
//!
//! # Keys (Redis, [`RedisStore`])
//!
//! Every key starts with the configurable prefix `{P}` (default [`DEFAULT_PREFIX`], `jpki:`), then
//! the tenant `{T}` for tenant data, or `#` for the few global keys (`#` is not allowed in a tenant
//! id, so the two families never meet): e.g. `jpki:bank-a:ch:4f2c…` and `jpki:#idx:challenges`.
//! Ids and customer ids are always the last component, so a colon in them is harmless; `{C}` is a
//! certificate field `ca_key_id:serial` (both lowercase hex).
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `{P}{T}:ch:<id>` | hash | `state` (`pending`/`used`), `expires_at`, `challenge` (JSON, while pending), `used_at` (once used); Redis expiry at `expires_at + CHALLENGE_PURGE_GRACE_SECS + 1` |
//! | `{P}{T}:ver:<id>` | hash | `record` ([`VerificationRecord`] JSON), `verified_at`; Redis expiry at `verified_at + retention + 1` if [`RedisStoreConfig::verification_retention_secs`] is set |
//! | `{P}{T}:link:{C}` | string | [`LinkRecord`] JSON (the record of truth) |
//! | `{P}{T}:cust:<customer id>` | set | the customer's certificate fields `{C}` |
//! | `{P}{T}:watch` | hash | `{C}` → sort key of `not_after` |
//! | `{P}#watchers:{C}` | hash | tenant → kind (the global certificate → tenants index) |
//! | `{P}{T}:ev` | hash | sequence → [`RevocationNotice`] JSON |
//! | `{P}{T}:ev_status` | hash | `{C}` → last recorded status `<sequence> <change> <cRLNumber or -> <reason token>`, e.g. `7 held 1234 +certificate_hold` (reason token `-`: none, `+` and the reason otherwise; the reason may hold spaces, it comes last) |
//! | `{P}{T}:ev_head` | string | last sequence (`INCR`) |
//! | `{P}{T}:ent` | hash | `{C}` → sort key of the latest `verified_at` of a passed verification of it |
//! | `{P}{T}:audit` | hash | audit log: index (decimal, from 0) → leaf ([`AuditLeaves`], opaque one-line text), from the floor on |
//! | `{P}{T}:audit_size` | string | how many leaves the log has had (`INCR`; the next leaf's index), trimmed ones included |
//! | `{P}{T}:audit_floor` | string | the lowest index `{P}{T}:audit` still holds (absent: 0), raised by [`TenantStore::audit_trim`] |
//! | `{P}{T}:evidence` | hash | pending evidence: the key (64 lowercase hex digits, the DER's SHA-256) → the DER (binary) |
//! | `{P}#idx:challenges`, `{P}#idx:verifications`, `{P}#idx:watches`, `{P}#idx:entitlements` | sorted set | purge indexes: members `<sort key of time>:{T}:<id or {C}>`, all with score 0, read in order with `ZRANGEBYLEX` |
//! | `{P}#meta:<key>` | string | gateway state ([`TenantStore::put_meta`]) |
//! | `{P}#schema` | string | layout version (`2`) |
//!
//! A sort key is 20 digits whose byte order is the numeric order of the `i64` time (`1` and 19
//! digits when >= 0, e.g. `10000000001780272000`), so purge cutoffs are exact for every `i64`
//! (sorted-set scores are doubles and would not be).
//!
//! Every mutating call is one Lua script run with `EVALSHA` (or one plain command for
//! `put_meta`): put_challenge and put_verification create the hash only if absent
//! ([`StoreError::Duplicate`] otherwise) and index it; record_verification (and put_verification,
//! which is record_verification without a watch) writes the record, its entitlement (when passed
//! with a certificate) and the watch entry in one script; consume_challenge turns `pending` into `used`
//! (the expiry and index entry stay, so replays answer `AlreadyUsed` until expiry + grace; an
//! expired challenge is marked used too); settle_proof runs consume_challenge and record_verification
//! as one script (the record kept refused unless the challenge was pending and unexpired), so that a
//! proof attempt is one durable write (docs/durability.md); link writes the link and the customer set or returns the
//! existing link; unlink removes one link (only if in this customer's set) or all of the
//! customer's; watch updates the tenant hash, the global watchers hash and the index together;
//! append_events checks each notice against its certificate's status and gives each change a
//! sequence from `INCR` inside the script, across tenants in one script; entitled reads the links
//! and the entitlement hash for up to 1000 certificates in one (read-only) script; purge removes
//! index members with their items. [`TenantStore::write_audited`] runs the audited form of the
//! write's script (put_challenge's, settle_proof's, record_verification's, link's, unlink's, or
//! an empty one): the same script body as a Lua function over its own keys and arguments, then,
//! only if the write succeeded, the leaf its outcome selects appended with the index from `INCR`
//! of `{T}:audit_size` (and the call's evidence `HSET` into `{T}:evidence`, whatever the outcome),
//! all in one script; a duplicate id or a corrupt value appends nothing. audit_size, audit_floor
//! and audit_leaves are plain reads (`GET`, `MGET`, `HMGET`); audit_trim checks `below` against
//! the size (which only grows), then runs one script per batch of 500 leaves that `HDEL`s them and
//! `SET`s `{T}:audit_floor` past them, so the server never blocks for long and an interrupted trim
//! has made durable progress; audit_evidence is `HSCAN`, audit_evidence_get `HGET`,
//! audit_evidence_drop `HDEL` (batches of 500); audit_tenants `SCAN`s for `{P}*:audit_size` (every
//! tenant with a log has one; a matching key whose middle is no tenant id is skipped).
//!
//! **Audit leaves stay in Redis memory until trimmed.** Nothing expires `{T}:audit` or
//! `{T}:evidence`: every leaf and pending certificate is held in the server's memory (and its AOF)
//! until the archive integrator copies it to the long-term store and calls
//! [`TenantStore::audit_trim`] / [`TenantStore::audit_evidence_drop`]. Size the server's memory for
//! what the integrator may lag behind, and watch it.
//!
//! **Expiry.** Challenges (and, when configured, verification records) carry a Redis expiry, so
//! Redis drops them by itself even if nobody purges; the deadline is the purge time plus one
//! second, per the Redis server's clock, and it is set only when still ahead of that clock (an item
//! written with a past deadline waits for purge, as in `LocalStore`). Watch entries are hash fields,
//! which Redis 7.0 cannot expire one by one. [`TenantStore::purge_expired`] therefore still sweeps
//! the four indexes with the caller's `now` (exactly the `LocalStore` semantics and counts: an
//! index entry whose item Redis already expired still counts as removed); it mostly removes index
//! members, in batches of 500 per script so that the server never blocks for long. Several
//! replicas may purge at once: an entry is removed, and counted, once.
//!
//! **Schema migration.** `connect` runs one script that records the layout version in an empty
//! store, or migrates a schema-1 store (one event per (tenant, certificate), `{T}:ev_cert`) to
//! schema 2 atomically: each `{T}:ev_cert` entry becomes the certificate's `{T}:ev_status` (derived
//! from its event; an event without `change` was a revocation) and is deleted, and the entitlement
//! index is built from the stored verification records. The script reads and checks everything
//! before its first write (a corrupt value leaves the store unchanged at schema 1) and finds the
//! tenants with `KEYS`, so it blocks the server while it runs: on a large store, migrate in a
//! maintenance window. Stop every gateway of the previous version first: they keep writing the
//! schema-1 layout, and they refuse to connect to a schema-2 store.
//!
//! **Cluster.** Keys carry no hash tags, deliberately: watch and purge update a tenant's keys and
//! the global watchers index in one script, append_events updates several tenants in one script,
//! and unlink (all of a customer's links) and links_by_customer derive key names inside their
//! script; Redis Cluster refuses all of these. The target is one primary: standalone, or with
//! replicas that Sentinel promotes. Moving to Cluster would need `{T}` hash tags, per-tenant
//! batches in append_events and a global watchers index updated outside the tenant's script.
//! The audit keys already fit: an audited write's script and a trim's touch only `{P}{T}:` keys of
//! one tenant (the write's own keys aside); audit_tenants' `SCAN` would have to visit every node.
//!
//! **Connections.** [`RedisStore`] uses the `redis` crate's synchronous API (the gateway calls the
//! store from `spawn_blocking`) with a small pool ([`RedisStoreConfig::max_connections`]); connect
//! and response timeouts turn a dead or frozen server into [`StoreError::Backend`] within seconds.
//! A connection idle for a while is checked with `PING` before use
//! ([`RedisStoreConfig::idle_check_after`]); one that failed mid-reply is dropped; a dropped
//! connection or a `READONLY` reply (the primary was demoted) also drops every idle one, so that
//! the next call connects afresh. Reads are retried once on a fresh connection; writes never are. The
//! store does not ask Sentinel where the primary is: give it an address that follows the primary
//! (e.g. a Kubernetes Service selecting the current primary, or a proxy).
//!
//! ```no_run
//! use std::sync::Arc;
//! use jpki_store::{DurabilityCheck, RedisStore, RedisStoreConfig, TenantStore};
//!
//! # fn demo() -> Result<(), jpki_store::StoreError> {
//! let mut config = RedisStoreConfig::new("redis://redis-primary:6379/0");
//! config.prefix = "jpki:".into();
//! config.verification_retention_secs = Some(90 * 24 * 3600); // the gateway's retention
//! config.durability_check = DurabilityCheck::Require; // the default: refuse a server that does not fsync
//! let store = RedisStore::connect_with(config)?; // blocking: call it from spawn_blocking
//! for problem in store.durability().problems() {
//!     eprintln!("redis durability: {problem}"); // only with DurabilityCheck::ReportOnly
//! }
//! let store: Arc<dyn TenantStore> = Arc::new(store);
//! # Ok(()) }
//! ```
//!
//! Values are JSON (serde_json): self-describing, so a field added later with `#[serde(default)]`
//! reads old records without a migration (a schema-1 [`RevocationNotice`] has no `change` and
//! reads as [`StatusChange::Revoked`]), and readable with `redb` or `redis-cli` tools when
//! debugging. Records are small (under 1 KiB), so the size over a binary format does not matter.
//! Challenge bytes are hex strings.
//!
//! # Durability
//!
//! ## JournalStore
//!
//! An audited call ([`TenantStore::write_audited`]) is one journal entry holding its write, its
//! selected leaf and its evidence, encoded under the lock (the leaf depends on the write's answer).
//! A trim and an evidence drop are entries of their own (durable when they return); snapshots keep
//! each tenant's floor, the leaves from it and the pending evidence. A call that
//! changed something is one journal entry, applied and appended under one lock; a
//! durable call returns once the journal is `fdatasync`ed up to its entry (concurrent calls share
//! the sync: leader/follower group commit), a call that changed nothing once the entries before it
//! are. `put_challenge` does not wait (as for `LocalStore` below). `tests/crash.rs` kills a writer
//! process with SIGKILL, also with six threads sharing syncs.
//!
//! ## LocalStore
//!
//! `open` creates the tables of a new file, or migrates a schema-1 file to schema 2 (the event
//! statuses from `event_by_cert`, which is dropped, and the entitlement index from the verification
//! records) in one write transaction together with the version bump: a crash during it leaves
//! the file at schema 1, intact, and the next `open` migrates again. `tests/migration.rs` opens a
//! file written by the schema-1 code (`tests/fixtures/store-v1.redb.gz`, made by
//! `tests/fixtures/make-v1-store.sh`) and the same items in Redis's schema-1 layout.
//!
//! Each mutating call is atomic and durable: when it returns `Ok`, its change has been committed
//! with immediate durability (fsync'd) and survives a crash, `kill -9` or power loss; a call
//! interrupted before it returns leaves either all of its changes or none. The one exception is
//! `put_challenge`: an issued challenge may be lost in a crash (it is then refused, which is safe), so
//! it is committed without fsync when no durable call shares its group, and becomes durable with
//! the next durable commit (docs/durability.md).
//!
//! **Group commit.** All writes run on the store's one writer thread (redb admits one write
//! transaction at a time anyway). It takes a call, then every call queued meanwhile (up to 256),
//! runs them in queue order in one redb write transaction, commits it once, and only then answers
//! each of them; so concurrent callers share one fsync instead of queueing for one each. The
//! answers are exactly those of running the calls one after another in queue order (a challenge
//! consumed twice in one group: the first `Consumed`, the second `AlreadyUsed`). A call that fails
//! (e.g. [`StoreError::Duplicate`]) must not keep its partial writes: the group is aborted and run
//! again without sharing across the failure (the calls before it, then it alone, then the rest),
//! so each call stays atomic and keeps its error. A failed commit fails every call of its group.
//! A group in which nothing changed (replayed challenges, idempotent links or watches) is aborted
//! and costs no fsync; a call that changed nothing but shares a group with changes is answered
//! after that group's commit (its answer may rest on them). Reads see a consistent snapshot and
//! never wait for writers. `tests/crash.rs` kills a real writer process
//! with SIGKILL at random points and checks every acknowledged item; SIGKILL keeps the page cache,
//! so that test covers atomicity and recovery, while power-loss safety rests on redb's fsync.
//!
//! ## RedisStore
//!
//! An `Ok` from a mutating call means: the server ran the whole script (atomically), and, when the
//! server runs with `appendonly yes`, `appendfsync always` and `no-appendfsync-on-rewrite no`, it
//! wrote and fsync'd the script's effects to its AOF before it replied (Redis 7.0 has no `WAITAOF`;
//! `always` is what ties the reply to the fsync). The AOF holds a script's effects inside
//! `MULTI`/`EXEC`, so after `kill -9` the server replays all of a script or none of it (a torn tail
//! is dropped with the default `aof-load-truncated yes`). `tests/redis_crash.rs` SIGKILLs
//! redis-server under a writer and checks every acknowledged item after a restart on the same
//! directory; like the `LocalStore` test it keeps the page cache, so power-loss safety rests on the
//! server's fsync.
//!
//! The gateway cannot verify the server's fsync policy beyond asking it: [`RedisStore::connect`]
//! reads `appendonly`, `appendfsync`, `no-appendfsync-on-rewrite` and `maxmemory-policy`
//! (`noeviction`: other policies may drop stored items) with `CONFIG GET` and refuses to connect
//! ([`StoreError::NotDurable`]) unless all are as required, or unless the caller opts out with
//! [`DurabilityCheck::ReportOnly`] (then [`RedisStore::durability`] holds what to log).
//! [`RedisStore::check_durability`] re-reads them (settings can change later). Not covered:
//! replication is asynchronous, so a Sentinel failover can lose writes the old primary had
//! acknowledged; and a call that fails after its command was sent (timeout, dropped connection)
//! may have been applied.
//!
//! # Time
//!
//! Nothing here reads a clock: every time is an `i64` of Unix seconds passed in by the caller. The
//! one exception is the Redis expiry of [`RedisStore`] items, which Redis applies by its own clock
//! (an expiry never precedes the purge time the caller's clock would give, give or take the skew
//! between the two clocks, which the purge grace absorbs).
//!
//! ```no_run
//! use std::sync::Arc;
//! use jpki_store::{Challenge, ConsumeOutcome, LocalStore, TenantId, TenantStore};
//!
//! # fn demo() -> Result<(), jpki_store::StoreError> {
//! let store: Arc<dyn TenantStore> = Arc::new(LocalStore::open("/var/lib/jpki-gateway/store.redb")?);
//! let bank = TenantId::new("bank-a")?;
//! let now = 1_780_272_000;
//! store.put_challenge(&bank, "ch-1", Challenge {
//!     challenge: vec![7; 32],
//!     transaction_reference: "tx-42".into(),
//!     issued_at: now,
//!     expires_at: now + 300,
//! })?;
//! assert!(matches!(store.consume_challenge(&bank, "ch-1", now + 5)?, ConsumeOutcome::Consumed(_)));
//! assert!(matches!(store.consume_challenge(&bank, "ch-1", now + 6)?, ConsumeOutcome::AlreadyUsed { .. }));
//! # Ok(()) }
//! ```

mod audit;
mod directory;
mod id_key;
mod journal;
mod local;
mod redis_store;
mod rules;
mod types;

pub use audit::{
    AuditLeaves, Audited, EvidenceItem, MAX_AUDIT_LEAF_LEN, MAX_AUDIT_PAGE, MAX_EVIDENCE_LEN, Outcome, TenantWrite,
    WriteAnswer,
};
pub use directory::{
    DirectoryOutcome, DirectoryWrite, MAX_DIRECTORY_KEY_LEN, MAX_DIRECTORY_VALUE_LEN, PlatformLogEntry,
};
pub use journal::{Durable, JournalStats, JournalStore, Recovery, import_redb};
pub use local::{CHALLENGE_PURGE_GRACE_SECS, LocalStore, WATCH_PURGE_GRACE_SECS};
pub use redis_store::{DEFAULT_PREFIX, DurabilityCheck, DurabilityReport, RedisStore, RedisStoreConfig};
pub use types::{
    Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, RevocationNotice, StatusChange, StoredEvent, TenantId,
    VerificationKind, VerificationRecord, WatchRequest,
};

use std::path::PathBuf;

use jpki_core::CertId;

/// Longest challenge or verification id (and meta key), in bytes; the API limits ids to 128
/// characters, 4 bytes per UTF-8 character at most.
pub const MAX_ID_LEN: usize = 4 * 128;
/// Longest customer id, in bytes; the API limits it to 128 characters, 4 bytes per UTF-8 character
/// at most.
pub const MAX_CUSTOMER_ID_LEN: usize = 4 * 128;
/// Longest transaction reference, in bytes; the API limits it to 128 characters, 4 bytes per UTF-8
/// character at most.
pub const MAX_TRANSACTION_REFERENCE_LEN: usize = 4 * 128;
/// Longest text the gateway makes itself (reason, kind, CRL number), in bytes; also the most
/// challenge bytes.
pub const MAX_TEXT_LEN: usize = 1024;
/// Longest meta value, in bytes (meta is for small gateway state).
pub const MAX_META_LEN: usize = 64 * 1024;

/// Everything that can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An argument is malformed (the value is not echoed: it may be a customer id).
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which argument.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An id that must be fresh is already stored for this tenant (ids are random, so this is a
    /// caller bug; overwriting could re-arm a used challenge).
    #[error("{what} id already exists")]
    Duplicate {
        /// `challenge` or `verification`.
        what: &'static str,
    },
    /// The store's directory could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another handle (in this or another process) has the store open.
    #[error("store {path} is already open elsewhere")]
    InUse {
        /// The store file.
        path: PathBuf,
    },
    /// The store was written by a newer schema than this build knows.
    #[error("store schema {found} is newer than supported {supported}")]
    UnsupportedSchema {
        /// Schema version found in the file.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// A stored value does not decode.
    #[error("corrupt {what} record: {detail}")]
    Corrupt {
        /// Which kind of record.
        what: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The storage engine failed (I/O, corruption detected by the engine, Redis unreachable or
    /// timing out, ...). The message names the operation and the kind of failure, never a stored
    /// value. For [`RedisStore`], a failure after the command was sent may have been applied.
    #[error("storage backend: {0}")]
    Backend(String),
    /// The Redis server is not configured so that an acknowledged write survives a crash (see
    /// [`DurabilityCheck`]); nothing was written.
    #[error("redis server is not configured for durable writes: {detail}")]
    NotDurable {
        /// Which settings are wrong or unreadable.
        detail: String,
    },
    /// The audit leaves asked for were dropped from this store by [`TenantStore::audit_trim`]
    /// (they were archived): read indexes below `floor` from the long-term archive.
    #[error("audit leaves below index {floor} were moved to the archive")]
    AuditTrimmed {
        /// The lowest index the store still holds ([`TenantStore::audit_floor`]).
        floor: u64,
    },
}

/// Durable, tenant-keyed storage used by the gateway.
///
/// Every method is synchronous and may block on disk or network (call it from `spawn_blocking`).
/// Every mutating method is atomic and durable when it returns `Ok` (an issued challenge may be
/// lost in a crash on the embedded store: see [`TenantStore::put_challenge`]). Implementations are shared between
/// threads as `Arc<dyn TenantStore>`.
pub trait TenantStore: Send + Sync {
    /// Stores a fresh challenge under `id`. Fails with [`StoreError::Duplicate`] when this tenant
    /// already has that id (pending or used), so that a used challenge can never be re-armed.
    /// Atomic, but an implementation may skip the fsync: a challenge lost in a crash is refused
    /// afterwards, which is safe (its use, in `consume_challenge`/`settle_proof`, is durable).
    fn put_challenge(&self, tenant: &TenantId, id: &str, challenge: Challenge) -> Result<(), StoreError>;

    /// Consumes a challenge atomically: the first call marks it used and returns it (or
    /// [`ConsumeOutcome::Expired`] when `now >= expires_at`, marking it used as well); every later
    /// call answers [`ConsumeOutcome::AlreadyUsed`] until the marker is purged. An id unknown to
    /// this tenant, including one issued to another tenant, is [`ConsumeOutcome::Unknown`].
    fn consume_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError>;

    /// What [`TenantStore::consume_challenge`] would answer now, without consuming anything: a
    /// read, no commit. [`ConsumeOutcome::Consumed`] here means "pending": it is still usable.
    fn peek_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError>;

    /// The one durable commit of a proof attempt (VerifyAuthProof): consumes the challenge exactly
    /// as [`TenantStore::consume_challenge`] does and keeps the attempt's record, atomically.
    /// `verified` and `watch` are kept as given only when the outcome is
    /// [`ConsumeOutcome::Consumed`]; otherwise the record is kept refused (not passed, no
    /// certificate, nothing entitled or watched), so that an attempt that lost a race with another
    /// use of the same challenge never counts as passed. [`StoreError::Duplicate`] when the
    /// record's id exists (nothing is consumed then).
    fn settle_proof(
        &self,
        tenant: &TenantId,
        id: &str,
        now: i64,
        verified: VerificationRecord,
        watch: Option<WatchRequest>,
    ) -> Result<ConsumeOutcome, StoreError>;

    /// Removes, for all tenants: challenges and used markers whose `expires_at` is more than
    /// [`CHALLENGE_PURGE_GRACE_SECS`] before `now`; verification records whose `verified_at` is
    /// more than `verification_retention_secs` before `now`; watch entries whose `not_after` is
    /// more than [`WATCH_PURGE_GRACE_SECS`] before `now`. Returns how many of these items were
    /// removed. Also removes entitlement index entries whose latest passed `verified_at` is more
    /// than `verification_retention_secs` before `now` (not counted: they index the records).
    fn purge_expired(&self, now: i64, verification_retention_secs: i64) -> Result<usize, StoreError>;

    /// Stores a verification record under `record.id`; [`StoreError::Duplicate`] if the id exists.
    /// A passed record with a certificate also updates the entitlement index (see
    /// [`TenantStore::entitled`]) in the same atomic step.
    fn put_verification(&self, tenant: &TenantId, record: VerificationRecord) -> Result<(), StoreError> {
        self.record_verification(tenant, record, None)
    }

    /// Stores a verification record and, when given, watches its certificate, as one atomic,
    /// durable step (one commit, or one script): either the record, its entitlement index entry
    /// and the watch entry are all stored, or none of them ([`StoreError::Duplicate`] when the id
    /// exists, [`StoreError::InvalidInput`] when the record or the watch request is malformed).
    fn record_verification(
        &self,
        tenant: &TenantId,
        record: VerificationRecord,
        watch: Option<WatchRequest>,
    ) -> Result<(), StoreError>;

    /// This tenant's verification record `id`.
    fn get_verification(&self, tenant: &TenantId, id: &str) -> Result<Option<VerificationRecord>, StoreError>;

    /// Links `record.customer_id` to `record.certificate`. Linking the same pair again is
    /// idempotent ([`LinkOutcome::AlreadyLinked`] with the stored record, unchanged); a certificate
    /// linked to another customer is refused ([`LinkOutcome::LinkedToOther`]).
    fn link(&self, tenant: &TenantId, record: LinkRecord) -> Result<LinkOutcome, StoreError>;

    /// Removes the customer's link to `certificate`, or all of the customer's links when `None`.
    /// Returns how many were removed (0 when the certificate is linked to someone else).
    fn unlink(&self, tenant: &TenantId, customer_id: &str, certificate: Option<&CertId>) -> Result<u32, StoreError>;

    /// The customer's links, ordered by certificate (CA key id, then serial).
    fn links_by_customer(&self, tenant: &TenantId, customer_id: &str) -> Result<Vec<LinkRecord>, StoreError>;

    /// The link of a certificate.
    fn link_by_certificate(&self, tenant: &TenantId, certificate: &CertId) -> Result<Option<LinkRecord>, StoreError>;

    /// Records that this tenant verified or linked `certificate`, of certificate kind `kind`
    /// (e.g. `auth_card`), so that it receives revocation events for it. Idempotent; a repeated
    /// call replaces the kind and `not_after`.
    fn watch(&self, tenant: &TenantId, certificate: &CertId, not_after: i64, kind: &str) -> Result<(), StoreError>;

    /// The tenants watching `certificate`, with the kind each recorded, ordered by tenant.
    fn watchers(&self, certificate: &CertId) -> Result<Vec<(TenantId, String)>, StoreError>;

    /// The certificates this tenant watches, ordered by CA key id, then serial.
    fn watched(&self, tenant: &TenantId) -> Result<Vec<CertId>, StoreError>;

    /// Appends changes of status to the tenants' event logs, atomically (one transaction or one
    /// script), and returns one sequence per notice, in input order.
    ///
    /// The store keeps, per (tenant, certificate), the last recorded status: the sequence of the
    /// event that recorded it, its change, reason and the highest cRLNumber seen. Notices are taken
    /// in order (a batch may hold a hold and then a revocation of the same certificate), each
    /// against the status left by the ones before it:
    /// - a [`StatusChange::Released`] for a certificate with no recorded status, or whose last
    ///   status is not [`StatusChange::Held`], is not appended: its sequence is 0 (nothing to
    ///   release; a revoked certificate that drops off a list has simply expired);
    /// - a notice whose `crl_number` is numerically lower than the highest recorded for the
    ///   certificate is stale and is not appended: the existing sequence (a notice without
    ///   `crl_number` is never stale);
    /// - a notice with the same change and reason as the last recorded status is a repeat and is
    ///   not appended: the existing sequence; its `crl_number`, when higher, becomes the recorded
    ///   one;
    /// - any other notice is appended with the tenant's next sequence.
    ///
    /// Sequences are per tenant, start at 1 and strictly increase. Retrying a batch appends
    /// nothing twice when each certificate's notices carry their lists' cRLNumbers (as the
    /// gateway's do): the first run left each certificate at its last notice's status and number,
    /// so an earlier notice is stale or a repeat, and a release finds no hold. Without numbers, a
    /// retried batch that changes a certificate twice (held, then released) appends again.
    fn append_events(&self, events: Vec<(TenantId, RevocationNotice)>) -> Result<Vec<u64>, StoreError>;

    /// The event that recorded this (tenant, certificate)'s current status (the last one appended
    /// for it), or `None` when no event was ever appended for it. The gateway sends a release only
    /// to tenants whose last event for the certificate is a hold.
    fn last_event_for(&self, tenant: &TenantId, certificate: &CertId) -> Result<Option<StoredEvent>, StoreError>;

    /// For each certificate, whether this tenant may learn its status: it has a link to it, or a
    /// passed verification of it (a record with `passed` and that certificate) whose `verified_at`
    /// is at or after `now - retention_secs`. Ordered as `certificates`. One read of an index
    /// (tenant, certificate) → latest passed `verified_at`, written with each verification record
    /// and purged with them; cheap for the API's 1000 ids per call. Another tenant's links and
    /// verifications never count. [`StoreError::InvalidInput`] when `retention_secs` is negative.
    fn entitled(
        &self,
        tenant: &TenantId,
        certificates: &[CertId],
        now: i64,
        retention_secs: i64,
    ) -> Result<Vec<bool>, StoreError>;

    /// Up to `limit` of this tenant's events with a sequence greater than `after`, in order.
    fn events_after(&self, tenant: &TenantId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;

    /// This tenant's highest sequence, 0 when it has no event.
    fn last_sequence(&self, tenant: &TenantId) -> Result<u64, StoreError>;

    /// Stores a small piece of gateway state (not tenant data), e.g. the last processed CRL
    /// numbers. Keys: 1..=[`MAX_ID_LEN`] bytes; values: at most [`MAX_META_LEN`] bytes.
    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Reads gateway state stored with [`TenantStore::put_meta`].
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Applies one directory change with its platform-log entry, atomically and durably, if every
    /// expected value still holds ([`DirectoryOutcome::Conflict`] otherwise, nothing written).
    fn directory_write(&self, write: DirectoryWrite) -> Result<DirectoryOutcome, StoreError>;

    /// The directory value under `key`.
    fn directory_get(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Every directory entry whose key starts with `prefix`, in key order.
    fn directory_scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Up to `limit` platform-log entries after sequence `after`, in order.
    fn platform_log(&self, after: u64, limit: usize) -> Result<Vec<PlatformLogEntry>, StoreError>;

    /// Makes `write` and appends the leaf of its outcome (see [`AuditLeaves`]) to the tenant's
    /// audit log with the tenant's next index, as one atomic, durable commit: when this returns
    /// `Ok`, both are on disk (a challenge too, unlike [`TenantStore::put_challenge`]); when it
    /// fails, neither was made. Errors as the write's own method, and
    /// [`StoreError::InvalidInput`] when a leaf is malformed or one of the write's outcomes has
    /// none.
    fn write_audited(&self, tenant: &TenantId, write: TenantWrite, leaves: AuditLeaves) -> Result<Audited, StoreError>;

    /// How many leaves the tenant's audit log holds (the next leaf's index).
    fn audit_size(&self, tenant: &TenantId) -> Result<u64, StoreError>;

    /// Up to `limit` (at most [`MAX_AUDIT_PAGE`]) of the tenant's leaves from index `from`, in
    /// order; fewer at the end of the log. [`StoreError::AuditTrimmed`] when `from` is below
    /// [`TenantStore::audit_floor`] (those leaves were archived and trimmed).
    fn audit_leaves(&self, tenant: &TenantId, from: u64, limit: usize) -> Result<Vec<String>, StoreError>;

    /// Drops the leaves with index < below from the hot store (their payloads were archived); the
    /// size stays. Idempotent (a `below` at or under the floor changes nothing); `below` beyond
    /// [`TenantStore::audit_size`] is [`StoreError::InvalidInput`]. Need not be durable by itself
    /// (replaying an older trim is harmless), but survives snapshot, compaction and restart once
    /// durable.
    fn audit_trim(&self, tenant: &TenantId, below: u64) -> Result<(), StoreError>;

    /// The lowest index the hot store still holds (0 until a trim).
    fn audit_floor(&self, tenant: &TenantId) -> Result<u64, StoreError>;

    /// Up to `limit` (at most [`MAX_AUDIT_PAGE`]) pending evidence items of the tenant (key, DER),
    /// any order: kept by [`AuditLeaves::with_evidence`], not yet dropped by
    /// [`TenantStore::audit_evidence_drop`].
    fn audit_evidence(&self, tenant: &TenantId, limit: usize) -> Result<Vec<EvidenceItem>, StoreError>;

    /// One pending evidence item by key.
    fn audit_evidence_get(&self, tenant: &TenantId, key: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Drops pending evidence items (after they were archived). Idempotent: an absent key is no
    /// error. Durable when it returns `Ok`.
    fn audit_evidence_drop(&self, tenant: &TenantId, keys: &[[u8; 32]]) -> Result<(), StoreError>;

    /// Every tenant that has an audit log in this store (a leaf was ever appended, trimmed or
    /// not), ordered by tenant id, so the integrator can find them.
    fn audit_tenants(&self) -> Result<Vec<TenantId>, StoreError>;
}
