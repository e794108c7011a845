//! [`RedisStore`]: the shared store for several gateway replicas, on one Redis primary.
//!
//! The key layout, the scripts and the durability statement are in the crate documentation
//! (`lib.rs`); this module implements them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jpki_core::CertId;
use redis::{ConnectionLike, ErrorKind, RedisError, RedisResult, Script, ServerErrorKind};
use serde::{Serialize, de::DeserializeOwned};

use crate::types::{
    check_customer, check_id, check_kind, entitlement_cutoff, invalid, normalise_crl_number, stored_tenant,
};
use crate::{
    AuditLeaves, Audited, CHALLENGE_PURGE_GRACE_SECS, Challenge, ConsumeOutcome, DirectoryOutcome, DirectoryWrite,
    EvidenceItem, LinkOutcome, LinkRecord, MAX_AUDIT_PAGE, MAX_META_LEN, Outcome, PlatformLogEntry, RevocationNotice,
    StatusChange, StoreError, StoredEvent, TenantId, TenantStore, TenantWrite, VerificationRecord,
    WATCH_PURGE_GRACE_SECS, WatchRequest, WriteAnswer,
};

/// The key prefix [`RedisStore::connect`] callers normally pass, and [`RedisStoreConfig::new`]'s default.
pub const DEFAULT_PREFIX: &str = "jpki:";

/// Longest key prefix accepted.
const MAX_PREFIX_LEN: usize = 128;

/// Layout version stored under `{prefix}#schema`; bump (and migrate in `connect`) when a key or
/// value layout changes. 1: one event per (tenant, certificate) (`{T}:ev_cert`). 2: every change
/// of status (`{T}:ev_status`), and the entitlement index (`{T}:ent`, `#idx:entitlements`).
const SCHEMA_VERSION: u32 = 2;

/// Index entries handled per purge script: a script blocks the whole server while it runs, so each
/// one stays short (well under a millisecond per hundred entries).
const PURGE_BATCH: usize = 500;

/// Fields read per `HMGET` when listing events.
const EVENT_READ_CHUNK: usize = 1000;

/// Fields asked per `HSCAN` step when listing a tenant's watch list.
const SCAN_COUNT: usize = 1000;

/// Latest expiry handed to `EXPIREAT` (9999-12-31T23:59:59Z); later deadlines (or overflowing
/// ones) leave the key to `purge_expired` alone.
const MAX_EXPIRE_AT: i64 = 253_402_300_799;

/// What [`RedisStore::connect_with`] does when the server's settings do not make acknowledged
/// writes durable (see [`DurabilityReport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DurabilityCheck {
    /// Refuse to connect ([`StoreError::NotDurable`]) unless the server reports `appendonly yes`,
    /// `appendfsync always`, `no-appendfsync-on-rewrite no` and `maxmemory-policy noeviction`, or
    /// when it does not let us read them (e.g. `CONFIG` renamed or denied by ACL). The default.
    #[default]
    Require,
    /// Explicit opt-out: connect anyway and leave the findings in [`RedisStore::durability`] for the
    /// caller to log. For servers whose policy is known out of band (a managed Redis that hides
    /// `CONFIG`) or for tests that do not need durability.
    ReportOnly,
}

/// How to reach Redis and how to use it. Build with [`RedisStoreConfig::new`], then adjust fields.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStoreConfig {
    /// `redis://[user:password@]host:port/db` (or `rediss://`, `redis+unix://`). Never logged by
    /// this crate (it may hold a password).
    pub url: String,
    /// Prepended to every key (default [`DEFAULT_PREFIX`]); stores with different prefixes share a
    /// server without seeing each other. At most 128 bytes.
    pub prefix: String,
    /// Most connections open at once (default 16). A call waits for a free one for at most
    /// `connect_timeout + response_timeout`.
    pub max_connections: usize,
    /// Bound on establishing a connection, including `AUTH`/`SELECT` (default 2 s).
    pub connect_timeout: Duration,
    /// Bound on sending one command and reading its reply (default 2 s). A command that times out
    /// fails with [`StoreError::Backend`]; it may still have been applied by the server.
    pub response_timeout: Duration,
    /// A pooled connection idle for longer than this is checked with `PING` before a call uses
    /// it (default 5 s), so that a connection the server or a middlebox dropped while idle costs a
    /// reconnect rather than a failed write. `Duration::ZERO` checks before every call.
    pub idle_check_after: Duration,
    /// What to do when the server is not configured for durable acknowledgements.
    pub durability_check: DurabilityCheck,
    /// When set, a verification record also gets a Redis expiry at `verified_at + this + 1`, so
    /// that Redis drops it by itself; give the gateway's retention. `None` (the default): records
    /// go only through [`TenantStore::purge_expired`].
    pub verification_retention_secs: Option<i64>,
}

impl RedisStoreConfig {
    /// Defaults for `url`: prefix [`DEFAULT_PREFIX`], 16 connections, 2 s timeouts, `PING` after 5 s
    /// idle, [`DurabilityCheck::Require`], no expiry on verification records.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(2),
            idle_check_after: Duration::from_secs(5),
            durability_check: DurabilityCheck::Require,
            verification_retention_secs: None,
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        if self.prefix.len() > MAX_PREFIX_LEN {
            return Err(invalid("prefix", "at most 128 bytes"));
        }
        if self.max_connections == 0 {
            return Err(invalid("max_connections", "must be at least 1"));
        }
        if self.connect_timeout.is_zero() || self.response_timeout.is_zero() {
            return Err(invalid("timeout", "must be positive"));
        }
        if self.verification_retention_secs.is_some_and(|secs| secs < 0) {
            return Err(invalid("verification_retention_secs", "is negative"));
        }
        Ok(())
    }
}

impl fmt::Debug for RedisStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreConfig")
            .field("url", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("idle_check_after", &self.idle_check_after)
            .field("durability_check", &self.durability_check)
            .field("verification_retention_secs", &self.verification_retention_secs)
            .finish()
    }
}

/// The server settings that decide whether an acknowledged write survives a crash, as read with
/// `CONFIG GET` (`None`: the server did not let us read it).
///
/// This is what the server says about itself, nothing more: the gateway cannot check that the disk
/// honours fsync, nor that a replica promoted by Sentinel has the same settings or had received the
/// write (Redis replication is asynchronous: a failover can lose acknowledged writes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DurabilityReport {
    /// `appendonly` (need `yes`).
    pub appendonly: Option<String>,
    /// `appendfsync` (need `always`: fsync of the AOF before the reply is sent).
    pub appendfsync: Option<String>,
    /// `no-appendfsync-on-rewrite` (need `no`: with `yes`, no fsync happens during a rewrite).
    pub no_appendfsync_on_rewrite: Option<String>,
    /// `maxmemory-policy` (need `noeviction`: any other policy may drop stored items under memory
    /// pressure).
    pub maxmemory_policy: Option<String>,
}

impl DurabilityReport {
    /// What is wrong, one sentence per setting; empty when every setting is as required.
    pub fn problems(&self) -> Vec<String> {
        let wanted = [
            ("appendonly", &self.appendonly, "yes"),
            ("appendfsync", &self.appendfsync, "always"),
            ("no-appendfsync-on-rewrite", &self.no_appendfsync_on_rewrite, "no"),
            ("maxmemory-policy", &self.maxmemory_policy, "noeviction"),
        ];
        wanted
            .into_iter()
            .filter_map(|(name, found, need)| match found {
                Some(value) if value.eq_ignore_ascii_case(need) => None,
                Some(value) => Some(format!("{name} is {value:?}, need {need:?}")),
                None => Some(format!("{name} could not be read (CONFIG GET refused), need {need:?}")),
            })
            .collect()
    }

    /// Whether every setting is as required.
    pub fn is_durable(&self) -> bool {
        self.problems().is_empty()
    }
}

/// The Redis store: every gateway replica connects to the same primary and sees the same state.
/// Safe to share between threads (`Arc<dyn TenantStore>`); every call borrows a pooled connection.
///
/// Each mutating call is one Lua script (or one command), so it is atomic; with the server settings
/// [`DurabilityCheck::Require`] insists on, its `Ok` means the change is in the fsync'd AOF. A call
/// that fails with [`StoreError::Backend`] after the command was sent (a response timeout, a
/// dropped connection) may or may not have been applied: the caller cannot assume nothing was
/// recorded. Retrying is safe: `link`, `watch`, `unlink`, `append_events` (with cRLNumbers, see
/// [`TenantStore::append_events`]) and `put_meta` are idempotent; a retried
/// `put_challenge`/`put_verification` answers [`StoreError::Duplicate`] and a retried
/// `consume_challenge` answers [`ConsumeOutcome::AlreadyUsed`] (the challenge is spent). A retried
/// `write_audited` answers as its write's method would and, when that succeeds, appends another
/// leaf (a second record of the call, never a lost one).
/// Read-only calls are retried once by the store itself when a pooled connection turns out to be
/// dead (server restarted); writes never are.
pub struct RedisStore {
    pool: Pool,
    keys: Keys,
    scripts: Scripts,
    verification_retention_secs: Option<i64>,
    durability: DurabilityReport,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix)
            .field("max_connections", &self.pool.max)
            .field("durability", &self.durability)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Appends the keys and arguments of the Lua `record` function (see `record_lua!`) for
    /// `record` and its watch request, after checking both.
    fn record_arguments(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        t: &str,
        record: &VerificationRecord,
        watch: Option<&WatchRequest>,
    ) -> Result<(), StoreError> {
        record.validate()?;
        if let Some(request) = watch {
            request.certificate.validate()?;
            check_kind(&request.kind)?;
        }
        let deadline = match self.verification_retention_secs {
            Some(retention) => Self::deadline(record.verified_at, retention),
            None => String::new(),
        };
        let entitles = match (record.passed, &record.certificate) {
            (true, Some(certificate)) => cert_field(certificate),
            _ => String::new(),
        };
        inv.key(self.keys.item(t, "ver", &record.id))
            .key(self.keys.global("idx:verifications"))
            .key(self.keys.tenant(t, "ent"))
            .key(self.keys.global("idx:entitlements"))
            .arg(t)
            .arg(member(record.verified_at, t, &record.id))
            .arg(deadline)
            .arg(record.verified_at)
            .arg(encode(record)?)
            .arg(entitles)
            .arg(sort_key(record.verified_at));
        if let Some(request) = watch {
            let field = cert_field(&request.certificate);
            inv.key(self.keys.tenant(t, "watch"))
                .key(self.keys.global(&format!("watchers:{field}")))
                .key(self.keys.global("idx:watches"))
                .arg(&field)
                .arg(sort_key(request.not_after))
                .arg(&request.kind);
        }
        Ok(())
    }

    /// Appends the keys and arguments of `PUT_NEW` for a challenge.
    fn put_challenge_arguments(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        t: &str,
        id: &str,
        challenge: &Challenge,
    ) -> Result<(), StoreError> {
        challenge.validate()?;
        inv.key(self.keys.item(t, "ch", id))
            .key(self.keys.global("idx:challenges"))
            .arg(member(challenge.expires_at, t, id))
            .arg(Self::deadline(challenge.expires_at, CHALLENGE_PURGE_GRACE_SECS))
            .arg("state")
            .arg("pending")
            .arg("expires_at")
            .arg(challenge.expires_at)
            .arg("challenge")
            .arg(encode(challenge)?);
        Ok(())
    }

    /// Appends the keys and arguments of `SETTLE`: the challenge, the time, the refused form of
    /// `verified`, then those of `record`.
    fn settle_arguments(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        t: &str,
        id: &str,
        now: i64,
        verified: &VerificationRecord,
        watch: Option<&WatchRequest>,
    ) -> Result<(), StoreError> {
        let refused = verified.refused();
        refused.validate()?;
        inv.key(self.keys.item(t, "ch", id)).arg(now).arg(encode(&refused)?);
        self.record_arguments(inv, t, verified, watch)
    }

    /// Appends the keys and arguments of `LINK`.
    fn link_arguments(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        t: &str,
        record: &LinkRecord,
    ) -> Result<(), StoreError> {
        let field = cert_field(&record.certificate);
        inv.key(self.keys.item(t, "link", &field))
            .key(self.keys.item(t, "cust", &record.customer_id))
            .arg(encode(record)?)
            .arg(&field);
        Ok(())
    }

    /// Appends the keys and arguments of `UNLINK`.
    fn unlink_arguments(
        &self,
        inv: &mut redis::ScriptInvocation<'_>,
        t: &str,
        customer_id: &str,
        certificate: Option<&CertId>,
    ) {
        inv.key(self.keys.item(t, "cust", customer_id)).arg(self.keys.item(t, "link", ""));
        if let Some(cert) = certificate {
            let field = cert_field(cert);
            inv.key(self.keys.item(t, "link", &field)).arg(field);
        }
    }

    /// Connects with the defaults of [`RedisStoreConfig::new`] and the given key prefix (usually
    /// [`DEFAULT_PREFIX`]). Fails with [`StoreError::NotDurable`] unless the server is configured
    /// for durable acknowledgements (see [`DurabilityCheck::Require`]), with
    /// [`StoreError::Backend`] when it cannot be reached within the timeouts.
    pub fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let mut config = RedisStoreConfig::new(url);
        config.prefix = prefix.to_owned();
        Self::connect_with(config)
    }

    /// Connects: checks that the server answers, reads its durability settings (and applies
    /// `config.durability_check`), checks or records the layout version, and loads the scripts.
    pub fn connect_with(config: RedisStoreConfig) -> Result<Self, StoreError> {
        config.validate()?;
        // The client's own message may quote the URL, password included.
        let client = redis::Client::open(config.url.as_str())
            .map_err(|_| StoreError::Backend("invalid redis url (not echoed: it may hold a password)".into()))?;
        let pool = Pool::new(client, &config);
        let mut store = Self {
            pool,
            keys: Keys { prefix: config.prefix.clone() },
            scripts: Scripts::new(),
            verification_retention_secs: config.verification_retention_secs,
            durability: DurabilityReport::default(),
        };
        store.durability = store.check_durability()?;
        if config.durability_check == DurabilityCheck::Require && !store.durability.is_durable() {
            return Err(StoreError::NotDurable { detail: store.durability.problems().join("; ") });
        }
        let scripts = store.scripts.all();
        store.run("SCRIPT LOAD", false, |conn| {
            for script in &scripts {
                script.prepare_invoke().load(conn)?;
            }
            Ok(())
        })?;
        store.check_schema()?;
        Ok(store)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.keys.prefix
    }

    /// The server's durability settings as read by `connect`.
    pub fn durability(&self) -> &DurabilityReport {
        &self.durability
    }

    /// Reads the server's durability settings again, e.g. from a periodic health check: they can
    /// change after `connect` (`CONFIG SET`, or a failover to a differently configured replica).
    /// Settings the server refuses to show are `None`; only a failure to reach it is an error.
    pub fn check_durability(&self) -> Result<DurabilityReport, StoreError> {
        self.run("CONFIG GET", true, |conn| {
            let mut get = |name: &str| -> RedisResult<Option<String>> {
                match redis::cmd("CONFIG").arg("GET").arg(name).query::<Vec<String>>(conn) {
                    Ok(pair) => Ok(pair.into_iter().nth(1)),
                    // Renamed, disabled or denied: a server reply, not a broken connection.
                    Err(e) if is_server_reply(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            };
            Ok(DurabilityReport {
                appendonly: get("appendonly")?,
                appendfsync: get("appendfsync")?,
                no_appendfsync_on_rewrite: get("no-appendfsync-on-rewrite")?,
                maxmemory_policy: get("maxmemory-policy")?,
            })
        })
    }

    /// Records the layout version in an empty store, migrates a schema-1 store (one script, so
    /// atomic), and refuses a newer one.
    fn check_schema(&self) -> Result<(), StoreError> {
        let mut inv = self.scripts.migrate.prepare_invoke();
        inv.key(self.keys.global("schema"))
            .arg(&self.keys.prefix)
            .arg(format!("{}*:ev_cert", glob_escape(&self.keys.prefix)))
            .arg(SCHEMA_VERSION);
        let found: Option<String> = self.run("schema", false, |conn| inv.invoke(conn))?;
        let found = found
            .as_deref()
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| StoreError::Corrupt { what: "schema", detail: "layout version is not a number".into() })?;
        if found != SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchema { found, supported: SCHEMA_VERSION });
        }
        Ok(())
    }

    /// Runs `f` on a pooled connection. A connection whose reply stream may be out of step (I/O
    /// error, timeout, undecodable reply) is dropped, not reused; a dropped connection or a
    /// `READONLY` reply (failover) discards every idle connection too. `idempotent` calls are
    /// retried once on a fresh connection when a reused one turned out to be dead.
    fn run<T>(
        &self,
        op: &'static str,
        idempotent: bool,
        f: impl Fn(&mut redis::Connection) -> RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut retried = false;
        loop {
            let mut leased = self.pool.take(op)?;
            match f(&mut leased.conn) {
                Ok(value) => {
                    self.pool.give_back(leased, true);
                    return Ok(value);
                }
                Err(e) => {
                    let stale = e.is_connection_dropped() || e.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly);
                    let reused = leased.reused;
                    self.pool.give_back(leased, is_server_reply(&e) && !stale);
                    if stale {
                        self.pool.discard_idle();
                    }
                    if idempotent && stale && reused && !retried {
                        retried = true;
                        continue;
                    }
                    return Err(backend(op, &e));
                }
            }
        }
    }

    /// An expiry deadline for `EXPIREAT`, or `""` (none) when it overflows or lies beyond year 9999.
    fn deadline(base: i64, after: i64) -> String {
        match base.checked_add(after).and_then(|d| d.checked_add(1)) {
            Some(deadline) if deadline <= MAX_EXPIRE_AT => deadline.to_string(),
            _ => String::new(),
        }
    }

    /// One purge pass over an index: removes members older than `cutoff` in batches.
    fn purge_index(&self, index: &str, cutoff: i64, kind: PurgeKind) -> Result<usize, StoreError> {
        let upper = format!("({}", sort_key(cutoff));
        let mut removed = 0;
        loop {
            let members: Vec<String> = self.run("purge scan", true, |conn| {
                redis::cmd("ZRANGEBYLEX")
                    .arg(index)
                    .arg("-")
                    .arg(&upper)
                    .arg("LIMIT")
                    .arg(0)
                    .arg(PURGE_BATCH)
                    .query(conn)
            })?;
            if members.is_empty() {
                return Ok(removed);
            }
            let script = match kind {
                PurgeKind::Watches => &self.scripts.purge_watches,
                PurgeKind::Entitlements => &self.scripts.purge_entitlements,
                PurgeKind::Challenges | PurgeKind::Verifications => &self.scripts.purge_items,
            };
            let mut inv = script.prepare_invoke();
            inv.key(index);
            if let PurgeKind::Challenges | PurgeKind::Verifications = kind {
                inv.arg(if matches!(kind, PurgeKind::Challenges) { "expires_at" } else { "verified_at" });
            }
            for member in &members {
                let (time, tenant, rest) = parse_member(member)?;
                match kind {
                    PurgeKind::Challenges => {
                        inv.key(self.keys.item(tenant, "ch", rest)).arg(member).arg(time.to_string());
                    }
                    PurgeKind::Verifications => {
                        inv.key(self.keys.item(tenant, "ver", rest)).arg(member).arg(time.to_string());
                    }
                    PurgeKind::Entitlements => {
                        inv.key(self.keys.tenant(tenant, "ent")).arg(member).arg(rest).arg(sort_key(time));
                    }
                    PurgeKind::Watches => {
                        inv.key(self.keys.tenant(tenant, "watch"))
                            .key(self.keys.global(&format!("watchers:{rest}")))
                            .arg(member)
                            .arg(rest)
                            .arg(tenant)
                            .arg(sort_key(time));
                    }
                }
            }
            let n: usize = self.run("purge", false, |conn| inv.invoke(conn))?;
            removed += n;
            if members.len() < PURGE_BATCH {
                return Ok(removed);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum PurgeKind {
    Challenges,
    Verifications,
    Watches,
    Entitlements,
}

impl TenantStore for RedisStore {
    fn put_challenge(&self, tenant: &TenantId, id: &str, challenge: Challenge) -> Result<(), StoreError> {
        check_id("challenge id", id)?;
        let mut inv = self.scripts.put_new.prepare_invoke();
        self.put_challenge_arguments(&mut inv, tenant.as_str(), id, &challenge)?;
        let created: i64 = self.run("put_challenge", false, |conn| inv.invoke(conn))?;
        created_or_duplicate(created, "challenge")
    }

    fn consume_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError> {
        check_id("challenge id", id)?;
        let mut inv = self.scripts.consume.prepare_invoke();
        inv.key(self.keys.item(tenant.as_str(), "ch", id)).arg(now);
        let reply: Vec<String> = self.run("consume_challenge", false, |conn| inv.invoke(conn))?;
        consume_outcome(&reply, now)
    }

    fn peek_challenge(&self, tenant: &TenantId, id: &str, now: i64) -> Result<ConsumeOutcome, StoreError> {
        check_id("challenge id", id)?;
        let key = self.keys.item(tenant.as_str(), "ch", id);
        let (state, used_at, challenge): (Option<String>, Option<String>, Option<String>) =
            self.run("peek_challenge", true, |conn| {
                redis::cmd("HMGET").arg(&key).arg("state").arg("used_at").arg("challenge").query(conn)
            })?;
        // The same reply as the consume script gives, without its write.
        let reply: Vec<String> = match (state.as_deref(), used_at, challenge) {
            (None, _, _) => vec!["unknown".into()],
            (Some("used"), Some(used_at), _) => vec!["used".into(), used_at],
            (Some("pending"), _, Some(challenge)) => vec!["pending".into(), challenge],
            _ => vec!["corrupt".into()],
        };
        consume_outcome(&reply, now)
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
        let mut inv = self.scripts.settle.prepare_invoke();
        self.settle_arguments(&mut inv, tenant.as_str(), id, now, &verified, watch.as_ref())?;
        let reply: Vec<String> = self.run("settle_proof", false, |conn| inv.invoke(conn))?;
        settle_outcome(&reply, now)
    }

    fn purge_expired(&self, now: i64, verification_retention_secs: i64) -> Result<usize, StoreError> {
        if verification_retention_secs < 0 {
            return Err(invalid("verification_retention_secs", "is negative"));
        }
        let passes = [
            ("idx:challenges", now.saturating_sub(CHALLENGE_PURGE_GRACE_SECS), PurgeKind::Challenges),
            ("idx:verifications", now.saturating_sub(verification_retention_secs), PurgeKind::Verifications),
            ("idx:watches", now.saturating_sub(WATCH_PURGE_GRACE_SECS), PurgeKind::Watches),
        ];
        let mut removed = 0;
        for (index, cutoff, kind) in passes {
            removed += self.purge_index(&self.keys.global(index), cutoff, kind)?;
        }
        // The index of passed verifications goes with their retention; not counted (the records
        // it indexes were).
        let cutoff = now.saturating_sub(verification_retention_secs);
        self.purge_index(&self.keys.global("idx:entitlements"), cutoff, PurgeKind::Entitlements)?;
        Ok(removed)
    }

    fn record_verification(
        &self,
        tenant: &TenantId,
        record: VerificationRecord,
        watch: Option<WatchRequest>,
    ) -> Result<(), StoreError> {
        // One script: the record, its entitlement and the watch entry are stored together or not
        // at all (a duplicate id stores none of them).
        let mut inv = self.scripts.record.prepare_invoke();
        self.record_arguments(&mut inv, tenant.as_str(), &record, watch.as_ref())?;
        let created: i64 = self.run("record_verification", false, |conn| inv.invoke(conn))?;
        created_or_duplicate(created, "verification")
    }

    fn get_verification(&self, tenant: &TenantId, id: &str) -> Result<Option<VerificationRecord>, StoreError> {
        check_id("verification id", id)?;
        let key = self.keys.item(tenant.as_str(), "ver", id);
        let found: Option<String> =
            self.run("get_verification", true, |conn| redis::cmd("HGET").arg(&key).arg("record").query(conn))?;
        found.map(|json| decode("verification", &json)).transpose()
    }

    fn link(&self, tenant: &TenantId, record: LinkRecord) -> Result<LinkOutcome, StoreError> {
        record.validate()?;
        let mut inv = self.scripts.link.prepare_invoke();
        self.link_arguments(&mut inv, tenant.as_str(), &record)?;
        let existing: Option<String> = self.run("link", false, |conn| inv.invoke(conn))?;
        link_outcome(record, existing)
    }

    fn unlink(&self, tenant: &TenantId, customer_id: &str, certificate: Option<&CertId>) -> Result<u32, StoreError> {
        check_customer(customer_id)?;
        if let Some(cert) = certificate {
            cert.validate()?;
        }
        let mut inv = self.scripts.unlink.prepare_invoke();
        self.unlink_arguments(&mut inv, tenant.as_str(), customer_id, certificate);
        let removed: u64 = self.run("unlink", false, |conn| inv.invoke(conn))?;
        Ok(unlinked_count(removed))
    }

    fn links_by_customer(&self, tenant: &TenantId, customer_id: &str) -> Result<Vec<LinkRecord>, StoreError> {
        check_customer(customer_id)?;
        let t = tenant.as_str();
        let mut inv = self.scripts.links_of.prepare_invoke();
        inv.key(self.keys.item(t, "cust", customer_id)).arg(self.keys.item(t, "link", ""));
        let found: Vec<Option<String>> = self.run("links_by_customer", true, |conn| inv.invoke(conn))?;
        let mut links = found
            .into_iter()
            .map(|json| {
                let json = json.ok_or_else(|| StoreError::Corrupt {
                    what: "link index",
                    detail: "customer index names a certificate without a link".into(),
                })?;
                decode::<LinkRecord>("link", &json)
            })
            .collect::<Result<Vec<_>, _>>()?;
        links.sort_by(|a, b| a.certificate.cmp(&b.certificate));
        Ok(links)
    }

    fn link_by_certificate(&self, tenant: &TenantId, certificate: &CertId) -> Result<Option<LinkRecord>, StoreError> {
        certificate.validate()?;
        let key = self.keys.item(tenant.as_str(), "link", &cert_field(certificate));
        let found: Option<String> =
            self.run("link_by_certificate", true, |conn| redis::cmd("GET").arg(&key).query(conn))?;
        found.map(|json| decode("link", &json)).transpose()
    }

    fn watch(&self, tenant: &TenantId, certificate: &CertId, not_after: i64, kind: &str) -> Result<(), StoreError> {
        certificate.validate()?;
        check_kind(kind)?;
        let t = tenant.as_str();
        let field = cert_field(certificate);
        let mut inv = self.scripts.watch.prepare_invoke();
        inv.key(self.keys.tenant(t, "watch"))
            .key(self.keys.global(&format!("watchers:{field}")))
            .key(self.keys.global("idx:watches"))
            .arg(&field)
            .arg(t)
            .arg(sort_key(not_after))
            .arg(kind);
        let _: i64 = self.run("watch", false, |conn| inv.invoke(conn))?;
        Ok(())
    }

    fn watchers(&self, certificate: &CertId) -> Result<Vec<(TenantId, String)>, StoreError> {
        certificate.validate()?;
        let key = self.keys.global(&format!("watchers:{}", cert_field(certificate)));
        let found: BTreeMap<String, String> =
            self.run("watchers", true, |conn| redis::cmd("HGETALL").arg(&key).query(conn))?;
        found.into_iter().map(|(tenant, kind)| Ok((stored_tenant(&tenant, "watcher")?, kind))).collect()
    }

    fn watched(&self, tenant: &TenantId) -> Result<Vec<CertId>, StoreError> {
        let key = self.keys.tenant(tenant.as_str(), "watch");
        // HSCAN rather than HKEYS: a bank may watch millions of certificates, and one HKEYS would
        // block the server for the whole list. A field present throughout the scan is returned at
        // least once (duplicates are removed below).
        let fields: Vec<String> = self.run("watched", true, |conn| {
            let mut cursor: u64 = 0;
            let mut fields = Vec::new();
            loop {
                let (next, page): (u64, Vec<String>) =
                    redis::cmd("HSCAN").arg(&key).arg(cursor).arg("COUNT").arg(SCAN_COUNT).query(conn)?;
                fields.extend(page.into_iter().step_by(2));
                if next == 0 {
                    return Ok(fields);
                }
                cursor = next;
            }
        })?;
        let mut out = fields.iter().map(|f| parse_cert_field(f)).collect::<Result<Vec<_>, _>>()?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    fn append_events(&self, events: Vec<(TenantId, RevocationNotice)>) -> Result<Vec<u64>, StoreError> {
        for (_, notice) in &events {
            notice.validate()?;
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = self.scripts.append.prepare_invoke();
        for (tenant, notice) in &events {
            let t = tenant.as_str();
            let number = notice.crl_number.as_deref().and_then(normalise_crl_number).unwrap_or("-");
            inv.key(self.keys.tenant(t, "ev_head"))
                .key(self.keys.tenant(t, "ev"))
                .key(self.keys.tenant(t, "ev_status"))
                .arg(cert_field(&notice.certificate))
                .arg(encode(notice)?)
                .arg(notice.change.as_str())
                .arg(reason_token(notice.reason.as_deref()))
                .arg(number);
        }
        let sequences: Vec<u64> = self.run("append_events", false, |conn| inv.invoke(conn))?;
        if sequences.len() != events.len() {
            return Err(StoreError::Backend("append_events: script returned the wrong number of sequences".into()));
        }
        Ok(sequences)
    }

    fn last_event_for(&self, tenant: &TenantId, certificate: &CertId) -> Result<Option<StoredEvent>, StoreError> {
        certificate.validate()?;
        let t = tenant.as_str();
        let (status_key, log_key) = (self.keys.tenant(t, "ev_status"), self.keys.tenant(t, "ev"));
        let field = cert_field(certificate);
        // Events are never removed, and a status is written with its event in one script.
        let found: Option<(String, Option<String>)> = self.run("last_event_for", true, |conn| {
            let status: Option<String> = redis::cmd("HGET").arg(&status_key).arg(&field).query(conn)?;
            let Some(status) = status else { return Ok(None) };
            let sequence = status.split(' ').next().unwrap_or_default().to_owned();
            let event: Option<String> = redis::cmd("HGET").arg(&log_key).arg(&sequence).query(conn)?;
            Ok(Some((status, event)))
        })?;
        let Some((status, event)) = found else { return Ok(None) };
        let corrupt = |detail: &str| StoreError::Corrupt { what: "event log", detail: detail.into() };
        let sequence = parse_status_sequence(&status).ok_or_else(|| corrupt("a certificate's status is malformed"))?;
        let json = event.ok_or_else(|| corrupt("a certificate's status names a missing event"))?;
        Ok(Some(StoredEvent { sequence, event: decode("event", &json)? }))
    }

    fn entitled(
        &self,
        tenant: &TenantId,
        certificates: &[CertId],
        now: i64,
        retention_secs: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let cutoff = entitlement_cutoff(certificates, now, retention_secs)?;
        if certificates.is_empty() {
            return Ok(Vec::new());
        }
        let t = tenant.as_str();
        let mut inv = self.scripts.entitled.prepare_invoke();
        inv.key(self.keys.tenant(t, "ent")).arg(sort_key(cutoff));
        for certificate in certificates {
            let field = cert_field(certificate);
            inv.key(self.keys.item(t, "link", &field)).arg(field);
        }
        let answers: Vec<u8> = self.run("entitled", true, |conn| inv.invoke(conn))?;
        if answers.len() != certificates.len() {
            return Err(StoreError::Backend("entitled: script returned the wrong number of answers".into()));
        }
        Ok(answers.into_iter().map(|answer| answer == 1).collect())
    }

    fn events_after(&self, tenant: &TenantId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        let Some(first) = after.checked_add(1) else { return Ok(Vec::new()) };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let t = tenant.as_str();
        let (head_key, log_key) = (self.keys.tenant(t, "ev_head"), self.keys.tenant(t, "ev"));
        // Events are never removed and each is written with its head in one script, so every
        // sequence up to a head read earlier is present.
        self.run("events_after", true, |conn| {
            let head: Option<u64> = redis::cmd("GET").arg(&head_key).query(conn)?;
            let last = head.unwrap_or(0).min(after.saturating_add(u64::try_from(limit).unwrap_or(u64::MAX)));
            let mut out = Vec::new();
            let mut next = first;
            while next <= last {
                let end = last.min(next.saturating_add(EVENT_READ_CHUNK as u64 - 1));
                let sequences: Vec<u64> = (next..=end).collect();
                let found: Vec<Option<String>> = redis::cmd("HMGET").arg(&log_key).arg(&sequences).query(conn)?;
                out.extend(sequences.into_iter().zip(found));
                match end.checked_add(1) {
                    Some(n) => next = n,
                    None => break,
                }
            }
            Ok(out)
        })?
        .into_iter()
        .map(|(sequence, json)| {
            let json = json.ok_or_else(|| StoreError::Corrupt {
                what: "event log",
                detail: format!("sequence {sequence} is missing below the head"),
            })?;
            Ok(StoredEvent { sequence, event: decode("event", &json)? })
        })
        .collect()
    }

    fn last_sequence(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let key = self.keys.tenant(tenant.as_str(), "ev_head");
        let head: Option<u64> = self.run("last_sequence", true, |conn| redis::cmd("GET").arg(&key).query(conn))?;
        Ok(head.unwrap_or(0))
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_id("meta key", key)?;
        if value.len() > MAX_META_LEN {
            return Err(invalid("meta value", "too long"));
        }
        let key = self.keys.global(&format!("meta:{key}"));
        self.run("put_meta", false, |conn| redis::cmd("SET").arg(&key).arg(value).query::<()>(conn))
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_id("meta key", key)?;
        let key = self.keys.global(&format!("meta:{key}"));
        self.run("get_meta", true, |conn| redis::cmd("GET").arg(&key).query(conn))
    }

    fn directory_write(&self, write: DirectoryWrite) -> Result<DirectoryOutcome, StoreError> {
        write.validate()?;
        let has_log = write.log.is_some();
        let json = serde_json::to_string(&write).map_err(|e| StoreError::Backend(format!("encoding: {e}")))?;
        let mut inv = self.scripts.directory.prepare_invoke();
        inv.key(self.keys.global("dir"))
            .key(self.keys.global("plog"))
            .key(self.keys.global("plog_head"))
            .arg(json)
            .arg(self.directory_channel());
        let sequence: i64 = self.run("directory_write", false, |conn| inv.invoke(conn))?;
        match sequence {
            -1 => Ok(DirectoryOutcome::Conflict),
            0 if !has_log => Ok(DirectoryOutcome::Applied { log_sequence: None }),
            n if n > 0 && has_log => Ok(DirectoryOutcome::Applied { log_sequence: Some(n as u64) }),
            _ => Err(StoreError::Corrupt { what: "platform log", detail: "unexpected sequence".into() }),
        }
    }

    fn directory_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let hash = self.keys.global("dir");
        self.run("directory_get", true, |conn| redis::cmd("HGET").arg(&hash).arg(key).query(conn))
    }

    fn directory_scan(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let hash = self.keys.global("dir");
        let all: Vec<(String, String)> = self.run("directory_scan", true, |conn| {
            redis::cmd("HSCAN")
                .arg(&hash)
                .arg(0)
                .arg("MATCH")
                .arg(format!("{}*", glob_escape(prefix)))
                .arg("COUNT")
                .arg(u32::MAX)
                .query::<(String, Vec<(String, String)>)>(conn)
                .map(|(_cursor, found)| found)
        })?;
        let mut found: Vec<(String, String)> = all.into_iter().filter(|(key, _)| key.starts_with(prefix)).collect();
        found.sort();
        Ok(found)
    }

    fn write_audited(&self, tenant: &TenantId, write: TenantWrite, leaves: AuditLeaves) -> Result<Audited, StoreError> {
        write.validate()?;
        leaves.validate(&write)?;
        let t = tenant.as_str();
        let scripts = &self.scripts.audited;
        let script = match &write {
            TenantWrite::Nothing => &scripts.nothing,
            TenantWrite::PutChallenge { .. } => &scripts.put_new,
            TenantWrite::SettleProof { .. } => &scripts.settle,
            TenantWrite::RecordVerification { .. } => &scripts.record,
            TenantWrite::Link { .. } => &scripts.link,
            TenantWrite::Unlink { .. } => &scripts.unlink,
        };
        // Only the leaves of the write's outcomes travel (`validate` made sure each is there).
        let chosen: Vec<(Outcome, &str)> =
            write.outcomes().iter().filter_map(|outcome| leaves.leaf(*outcome).map(|leaf| (*outcome, leaf))).collect();
        let mut inv = script.prepare_invoke();
        inv.key(self.keys.tenant(t, "audit"))
            .key(self.keys.tenant(t, "audit_size"))
            .key(self.keys.tenant(t, "evidence"))
            .arg(chosen.len());
        match leaves.evidence() {
            Some((key, der)) => inv.arg(hex::encode(key)).arg(der),
            None => inv.arg("").arg(""),
        };
        for (outcome, leaf) in &chosen {
            inv.arg(outcome.as_str()).arg(*leaf);
        }
        match &write {
            TenantWrite::Nothing => {}
            TenantWrite::PutChallenge { id, challenge } => self.put_challenge_arguments(&mut inv, t, id, challenge)?,
            TenantWrite::SettleProof { id, now, verified, watch } => {
                self.settle_arguments(&mut inv, t, id, *now, verified, watch.as_ref())?;
            }
            TenantWrite::RecordVerification { record, watch } => {
                self.record_arguments(&mut inv, t, record, watch.as_ref())?;
            }
            TenantWrite::Link { record } => self.link_arguments(&mut inv, t, record)?,
            TenantWrite::Unlink { customer_id, certificate } => {
                self.unlink_arguments(&mut inv, t, customer_id, certificate.as_ref());
            }
        }
        let (index, outcome, reply): (i64, String, redis::Value) =
            self.run("write_audited", false, |conn| inv.invoke(conn))?;
        let answer = audited_answer(write, reply);
        let Ok(index) = u64::try_from(index) else {
            // Nothing was written: the write's own error (a duplicate id, a corrupt value).
            answer?;
            return Err(StoreError::Corrupt { what: "audit log", detail: "no outcome for the write's reply".into() });
        };
        let answer = answer?;
        if answer.outcome().as_str() != outcome {
            // The script's reading of the write and ours disagree: only a corrupt value does that.
            return Err(StoreError::Corrupt {
                what: "audit log",
                detail: "the leaf's outcome is not the answer's".into(),
            });
        }
        Ok(Audited { answer, index })
    }

    fn audit_size(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let key = self.keys.tenant(tenant.as_str(), "audit_size");
        let size: Option<u64> = self.run("audit_size", true, |conn| redis::cmd("GET").arg(&key).query(conn))?;
        Ok(size.unwrap_or(0))
    }

    fn audit_leaves(&self, tenant: &TenantId, from: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        let limit = u64::try_from(limit.min(MAX_AUDIT_PAGE)).unwrap_or(0);
        let t = tenant.as_str();
        let (size_key, floor_key, log_key) =
            (self.keys.tenant(t, "audit_size"), self.keys.tenant(t, "audit_floor"), self.keys.tenant(t, "audit"));
        // Each leaf is written with the size in one script, and a trim removes leaves and raises
        // the floor in one script, so every index between a floor and a size read together is
        // present, unless a later trim removed it (told apart below).
        let (floor, found): (u64, Vec<(u64, Option<String>)>) = self.run("audit_leaves", true, |conn| {
            let (size, floor): (Option<u64>, Option<u64>) =
                redis::cmd("MGET").arg(&size_key).arg(&floor_key).query(conn)?;
            let floor = floor.unwrap_or(0);
            let end = size.unwrap_or(0).min(from.saturating_add(limit));
            if from < floor || from >= end {
                return Ok((floor, Vec::new()));
            }
            let indexes: Vec<u64> = (from..end).collect();
            let leaves: Vec<Option<String>> = redis::cmd("HMGET").arg(&log_key).arg(&indexes).query(conn)?;
            Ok((floor, indexes.into_iter().zip(leaves).collect()))
        })?;
        if from < floor {
            return Err(StoreError::AuditTrimmed { floor });
        }
        let mut leaves = Vec::with_capacity(found.len());
        for (index, leaf) in found {
            match leaf {
                Some(leaf) => leaves.push(leaf),
                None => {
                    // A trim between the two reads, or a hole below the size.
                    let floor = self.audit_floor(tenant)?;
                    if index < floor {
                        return Err(StoreError::AuditTrimmed { floor });
                    }
                    return Err(StoreError::Corrupt {
                        what: "audit log",
                        detail: format!("index {index} is missing below the size"),
                    });
                }
            }
        }
        Ok(leaves)
    }

    fn audit_trim(&self, tenant: &TenantId, below: u64) -> Result<(), StoreError> {
        // The size only grows, so a size read before the scripts bounds `below` for good.
        if below > self.audit_size(tenant)? {
            return Err(invalid("audit trim", "is beyond the audit log's size"));
        }
        let t = tenant.as_str();
        let mut inv = self.scripts.trim.prepare_invoke();
        inv.key(self.keys.tenant(t, "audit")).key(self.keys.tenant(t, "audit_floor")).arg(below).arg(TRIM_BATCH);
        // One script per batch, each raising the floor, so that the server never blocks for long.
        loop {
            let floor: u64 = self.run("audit_trim", false, |conn| inv.invoke(conn))?;
            if floor >= below {
                return Ok(());
            }
        }
    }

    fn audit_floor(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let key = self.keys.tenant(tenant.as_str(), "audit_floor");
        let floor: Option<u64> = self.run("audit_floor", true, |conn| redis::cmd("GET").arg(&key).query(conn))?;
        Ok(floor.unwrap_or(0))
    }

    fn audit_evidence(&self, tenant: &TenantId, limit: usize) -> Result<Vec<EvidenceItem>, StoreError> {
        let limit = limit.min(MAX_AUDIT_PAGE);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = self.keys.tenant(tenant.as_str(), "evidence");
        let found: Vec<(String, Vec<u8>)> = self.run("audit_evidence", true, |conn| {
            let mut found = Vec::new();
            let mut cursor = 0u64;
            loop {
                let (next, page): (u64, Vec<(String, Vec<u8>)>) =
                    redis::cmd("HSCAN").arg(&key).arg(cursor).arg("COUNT").arg(limit).query(conn)?;
                found.extend(page);
                cursor = next;
                if cursor == 0 || found.len() >= limit {
                    break;
                }
            }
            found.truncate(limit);
            Ok(found)
        })?;
        found.into_iter().map(|(field, der)| Ok((evidence_key(&field)?, der))).collect()
    }

    fn audit_evidence_get(&self, tenant: &TenantId, key: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let hash = self.keys.tenant(tenant.as_str(), "evidence");
        let field = hex::encode(key);
        self.run("audit_evidence_get", true, |conn| redis::cmd("HGET").arg(&hash).arg(&field).query(conn))
    }

    fn audit_evidence_drop(&self, tenant: &TenantId, keys: &[[u8; 32]]) -> Result<(), StoreError> {
        let hash = self.keys.tenant(tenant.as_str(), "evidence");
        for chunk in keys.chunks(TRIM_BATCH) {
            let fields: Vec<String> = chunk.iter().map(hex::encode).collect();
            let _: u64 =
                self.run("audit_evidence_drop", true, |conn| redis::cmd("HDEL").arg(&hash).arg(&fields).query(conn))?;
        }
        Ok(())
    }

    fn audit_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let pattern = format!("{}*:audit_size", glob_escape(&self.keys.prefix));
        let keys: Vec<String> = self.run("audit_tenants", true, |conn| {
            let mut keys = Vec::new();
            let mut cursor = 0u64;
            loop {
                let (next, page): (u64, Vec<String>) =
                    redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).query(conn)?;
                keys.extend(page);
                cursor = next;
                if cursor == 0 {
                    return Ok(keys);
                }
            }
        })?;
        // `{P}{T}:audit_size`; any other key the pattern matches (an id ending in `:audit_size`,
        // a global key) leaves a remainder that is no tenant id, since one holds no `:` or `#`.
        let mut tenants: Vec<TenantId> = keys
            .iter()
            .filter_map(|key| key.strip_prefix(self.keys.prefix.as_str())?.strip_suffix(":audit_size"))
            .filter_map(|tenant| TenantId::new(tenant).ok())
            .collect();
        tenants.sort();
        tenants.dedup();
        Ok(tenants)
    }

    fn platform_log(&self, after: u64, limit: usize) -> Result<Vec<PlatformLogEntry>, StoreError> {
        let sequences: Vec<u64> = (1..=limit as u64).filter_map(|offset| after.checked_add(offset)).collect();
        if sequences.is_empty() {
            return Ok(Vec::new());
        }
        let hash = self.keys.global("plog");
        let entries: Vec<Option<String>> =
            self.run("platform_log", true, |conn| redis::cmd("HMGET").arg(&hash).arg(&sequences).query(conn))?;
        Ok(sequences
            .into_iter()
            .zip(entries)
            .map_while(|(sequence, entry)| entry.map(|entry| PlatformLogEntry { sequence, entry }))
            .collect())
    }
}

impl RedisStore {
    /// The pub/sub channel on which every directory change is announced (`changed`).
    pub fn directory_channel(&self) -> String {
        self.keys.global("dir_changes")
    }

    /// Calls `on_change` on every directory change any replica makes, and also whenever the
    /// subscription (re)connects, since messages published while disconnected are lost; `on_lost`
    /// when the subscription fails (it is retried every second). Runs on its own thread until
    /// `stop` is set (checked about once a second).
    pub fn watch_directory(
        &self,
        on_change: impl Fn() + Send + 'static,
        on_lost: impl Fn(&redis::RedisError) + Send + 'static,
        stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let client = self.pool.client.clone();
        let channel = self.directory_channel();
        std::thread::Builder::new().name("jpki-directory-watch".into()).spawn(move || {
            use std::sync::atomic::Ordering;
            while !stop.load(Ordering::Acquire) {
                let subscribed = (|| -> RedisResult<()> {
                    let mut connection = client.get_connection_with_timeout(Duration::from_secs(2))?;
                    connection.set_read_timeout(Some(Duration::from_secs(1)))?;
                    let mut pubsub = connection.as_pubsub();
                    pubsub.subscribe(&channel)?;
                    // Anything published while we were away is lost: start afresh.
                    on_change();
                    while !stop.load(Ordering::Acquire) {
                        match pubsub.get_message() {
                            Ok(_) => on_change(),
                            Err(error) if error.is_timeout() => continue,
                            Err(error) => return Err(error),
                        }
                    }
                    Ok(())
                })();
                if let Err(error) = subscribed {
                    on_lost(&error);
                    on_change();
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        })
    }
}

/// Key names. Tenant keys are `{prefix}{tenant}:{kind}:{rest}`; global keys are
/// `{prefix}#{name}` (`#` is not allowed in a tenant id, so the two never meet).
struct Keys {
    prefix: String,
}

impl Keys {
    /// `{prefix}{tenant}:{kind}:{rest}`: one item (`rest` empty: the common prefix of such keys).
    fn item(&self, tenant: &str, kind: &str, rest: &str) -> String {
        format!("{}{tenant}:{kind}:{rest}", self.prefix)
    }

    /// `{prefix}{tenant}:{kind}`: one per-tenant collection.
    fn tenant(&self, tenant: &str, kind: &str) -> String {
        format!("{}{tenant}:{kind}", self.prefix)
    }

    fn global(&self, name: &str) -> String {
        format!("{}#{name}", self.prefix)
    }
}

/// A reason as stored in an event status: `-` for none, `+` and the reason otherwise (so that no
/// reason and an empty one differ).
fn reason_token(reason: Option<&str>) -> String {
    match reason {
        None => "-".to_owned(),
        Some(reason) => format!("+{reason}"),
    }
}

/// The sequence of an event status `{sequence} {change} {cRLNumber or -} {reason token}`.
fn parse_status_sequence(status: &str) -> Option<u64> {
    let (sequence, rest) = status.split_once(' ')?;
    let (change, _) = rest.split_once(' ')?;
    StatusChange::from_name(change)?;
    sequence.parse().ok().filter(|s| *s > 0)
}

/// `text` with the glob characters of `KEYS` patterns escaped.
/// An evidence key from its hash field (lowercase hex).
fn evidence_key(field: &str) -> Result<[u8; 32], StoreError> {
    let mut key = [0; 32];
    hex::decode_to_slice(field, &mut key)
        .map_err(|_| StoreError::Corrupt { what: "audit evidence", detail: "a key is not 64 hex digits".into() })?;
    Ok(key)
}

fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `ca_key_id:serial`: both lowercase hex, so the colon is unambiguous. The stored form, spelt out
/// here rather than borrowed from `CertId`'s `Display` (`ca_key_id/serial`), which is free to change.
fn cert_field(cert: &CertId) -> String {
    format!("{}:{}", cert.ca_key_id, cert.serial)
}

/// The id in a [`cert_field`], as written: ids are stored as given, not normalised.
fn parse_cert_field(field: &str) -> Result<CertId, StoreError> {
    let corrupt = || StoreError::Corrupt { what: "watch", detail: "malformed certificate field".into() };
    let (ca, serial) = field.split_once(':').ok_or_else(corrupt)?;
    let id = CertId { ca_key_id: ca.to_owned(), serial: serial.to_owned() };
    id.validate().map_err(|_| corrupt())?;
    Ok(id)
}

/// A time as 20 characters whose byte order is the numeric order: `1` and 19 digits for t >= 0
/// (readable: `10000000001780272000`), `0` and 19 digits of t - i64::MIN for t < 0.
fn sort_key(t: i64) -> String {
    if t >= 0 { format!("1{:019}", t.unsigned_abs()) } else { format!("0{:019}", t.abs_diff(i64::MIN)) }
}

fn parse_sort_key(key: &str) -> Option<i64> {
    if key.len() != 20 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (sign, digits) = key.split_at(1);
    let magnitude: u64 = digits.parse().ok()?;
    match sign {
        "1" => i64::try_from(magnitude).ok(),
        "0" => i64::MIN.checked_add_unsigned(magnitude).filter(|t| *t < 0),
        _ => None,
    }
}

/// An expiry-index member: `{sort_key(time)}:{tenant}:{rest}`; `rest` (an id, or `ca:serial`) may
/// hold colons, tenant ids never do.
fn member(time: i64, tenant: &str, rest: &str) -> String {
    format!("{}:{tenant}:{rest}", sort_key(time))
}

fn parse_member(member: &str) -> Result<(i64, &str, &str), StoreError> {
    let corrupt = || StoreError::Corrupt { what: "expiry index", detail: "malformed index member".into() };
    let (time, rest) = member.split_once(':').ok_or_else(corrupt)?;
    let (tenant, rest) = rest.split_once(':').ok_or_else(corrupt)?;
    Ok((parse_sort_key(time).ok_or_else(corrupt)?, tenant, rest))
}

/// Whether the error is a complete reply from the server (the connection is still in step).
fn is_server_reply(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::Server(_) | ErrorKind::Extension)
}

/// A [`StoreError::Backend`] naming the operation and the kind of failure, never a key, an
/// argument or a reply (the client's messages may quote them).
fn backend(op: &'static str, e: &RedisError) -> StoreError {
    let what = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_connection_dropped() {
        "connection lost".to_owned()
    } else {
        match e.code() {
            Some(code) => format!("{} ({code})", e.category()),
            None => e.category().to_owned(),
        }
    };
    StoreError::Backend(format!("redis {op}: {what}"))
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(format!("encoding a record: {e}")))
}

fn decode<T: DeserializeOwned>(what: &'static str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt { what, detail: e.to_string() })
}

/// A small blocking connection pool: idle connections are reused (after a `PING` when idle for
/// more than `idle_check_after`), at most `max` are open, and a connection that may be out of
/// step is dropped rather than returned.
struct Pool {
    client: redis::Client,
    max: usize,
    connect_timeout: Duration,
    response_timeout: Duration,
    idle_check_after: Duration,
    state: Mutex<PoolState>,
    freed: Condvar,
}

#[derive(Default)]
struct PoolState {
    /// Idle connections, with when each was given back.
    idle: Vec<(redis::Connection, Instant)>,
    open: usize,
    /// Bumped by `discard_idle`: connections leased before are not taken back.
    generation: u64,
}

struct Leased {
    conn: redis::Connection,
    generation: u64,
    reused: bool,
}

impl Pool {
    fn new(client: redis::Client, config: &RedisStoreConfig) -> Self {
        Self {
            client,
            max: config.max_connections,
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
            idle_check_after: config.idle_check_after,
            state: Mutex::new(PoolState::default()),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The state is two counters and a list, consistent after every statement: a panic
        // elsewhere while holding the lock cannot leave it half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, op: &'static str) -> Result<Leased, StoreError> {
        let deadline = Instant::now() + self.connect_timeout + self.response_timeout;
        loop {
            let mut state = self.lock();
            let (idle, generation) = loop {
                if let Some(idle) = state.idle.pop() {
                    break (Some(idle), state.generation);
                }
                if state.open < self.max {
                    state.open += 1;
                    break (None, state.generation);
                }
                let now = Instant::now();
                if now >= deadline {
                    return Err(StoreError::Backend(format!("redis {op}: all {} connections busy", self.max)));
                }
                state = self.freed.wait_timeout(state, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
            };
            drop(state);
            match idle {
                Some((conn, idle_since)) if idle_since.elapsed() < self.idle_check_after => {
                    return Ok(Leased { conn, generation, reused: true });
                }
                // Idle for a while: the server may have restarted or a middlebox may have dropped
                // the connection. A PING now is cheaper than a write failing ambiguously later.
                Some((mut conn, _)) => match redis::cmd("PING").query::<String>(&mut conn) {
                    Ok(_) => return Ok(Leased { conn, generation, reused: true }),
                    Err(_) => {
                        drop(conn);
                        self.release_slot();
                        self.discard_idle();
                    }
                },
                None => {
                    return match self.open_connection() {
                        Ok(conn) => Ok(Leased { conn, generation, reused: false }),
                        Err(e) => {
                            self.release_slot();
                            Err(backend(op, &e))
                        }
                    };
                }
            }
        }
    }

    fn open_connection(&self) -> RedisResult<redis::Connection> {
        let conn = self.client.get_connection_with_timeout(self.connect_timeout)?;
        conn.set_read_timeout(Some(self.response_timeout))?;
        conn.set_write_timeout(Some(self.response_timeout))?;
        Ok(conn)
    }

    fn release_slot(&self) {
        let mut state = self.lock();
        state.open = state.open.saturating_sub(1);
        drop(state);
        self.freed.notify_one();
    }

    fn give_back(&self, leased: Leased, healthy: bool) {
        let mut state = self.lock();
        if healthy && leased.generation == state.generation && leased.conn.is_open() {
            state.idle.push((leased.conn, Instant::now()));
            drop(state);
        } else {
            state.open = state.open.saturating_sub(1);
            drop(state);
            drop(leased);
        }
        self.freed.notify_one();
    }

    /// Drops every idle connection (they are likely dead too: server restart or failover).
    fn discard_idle(&self) {
        let mut state = self.lock();
        state.generation += 1;
        let idle = std::mem::take(&mut state.idle);
        state.open = state.open.saturating_sub(idle.len());
        drop(state);
        drop(idle);
        self.freed.notify_all();
    }
}

/// A consume reply (`unknown`; `used`, used_at; `pending`, challenge JSON) as an outcome at `now`.
fn consume_outcome(reply: &[String], now: i64) -> Result<ConsumeOutcome, StoreError> {
    match reply {
        [state] if state == "unknown" => Ok(ConsumeOutcome::Unknown),
        [state, used_at] if state == "used" => {
            let used_at = used_at
                .parse()
                .map_err(|_| StoreError::Corrupt { what: "challenge", detail: "used_at is not a number".into() })?;
            Ok(ConsumeOutcome::AlreadyUsed { used_at })
        }
        [state, json] if state == "pending" => {
            let challenge: Challenge = decode("challenge", json)?;
            if now >= challenge.expires_at {
                Ok(ConsumeOutcome::Expired(challenge))
            } else {
                Ok(ConsumeOutcome::Consumed(challenge))
            }
        }
        _ => Err(StoreError::Corrupt { what: "challenge", detail: "unexpected challenge state".into() }),
    }
}

/// The answer of an audited write from the write script's reply, read as the write's own method
/// reads it.
fn audited_answer(write: TenantWrite, reply: redis::Value) -> Result<WriteAnswer, StoreError> {
    fn read<T: redis::FromRedisValue>(reply: redis::Value) -> Result<T, StoreError> {
        redis::from_redis_value(reply).map_err(|_| StoreError::Backend("redis write_audited: unexpected reply".into()))
    }
    Ok(match write {
        TenantWrite::Nothing => WriteAnswer::Done,
        TenantWrite::PutChallenge { .. } => {
            created_or_duplicate(read(reply)?, "challenge")?;
            WriteAnswer::Done
        }
        TenantWrite::SettleProof { now, .. } => {
            WriteAnswer::Consumed(settle_outcome(&read::<Vec<String>>(reply)?, now)?)
        }
        TenantWrite::RecordVerification { .. } => {
            created_or_duplicate(read(reply)?, "verification")?;
            WriteAnswer::Done
        }
        TenantWrite::Link { record } => WriteAnswer::Linked(link_outcome(record, read(reply)?)?),
        TenantWrite::Unlink { .. } => WriteAnswer::Unlinked(unlinked_count(read(reply)?)),
    })
}

/// A `PUT_NEW` or `RECORD` reply: 1 created, 0 the id existed.
fn created_or_duplicate(created: i64, what: &'static str) -> Result<(), StoreError> {
    if created == 0 {
        return Err(StoreError::Duplicate { what });
    }
    Ok(())
}

/// A `SETTLE` reply: `duplicate` (the record id existed, nothing written) or a consume reply.
fn settle_outcome(reply: &[String], now: i64) -> Result<ConsumeOutcome, StoreError> {
    if reply.first().is_some_and(|state| state == "duplicate") {
        return Err(StoreError::Duplicate { what: "verification" });
    }
    consume_outcome(reply, now)
}

/// A `LINK` reply for `record`: nothing (created) or the existing link's JSON.
fn link_outcome(record: LinkRecord, existing: Option<String>) -> Result<LinkOutcome, StoreError> {
    match existing {
        None => Ok(LinkOutcome::Created(record)),
        Some(json) => {
            let existing: LinkRecord = decode("link", &json)?;
            if existing.customer_id == record.customer_id {
                Ok(LinkOutcome::AlreadyLinked(existing))
            } else {
                Ok(LinkOutcome::LinkedToOther { customer_id: existing.customer_id })
            }
        }
    }
}

/// An `UNLINK` reply: how many links were removed.
fn unlinked_count(removed: u64) -> u32 {
    u32::try_from(removed).unwrap_or(u32::MAX)
}

/// The Lua scripts, run with `EVALSHA` (loaded again by the client after `NOSCRIPT`). Every
/// mutating script checks before it writes, so an error leaves nothing half-done; Redis runs a
/// script to the end without interleaving other commands, and the AOF gets its effects wrapped in
/// `MULTI`/`EXEC`, so a crash replays all of them or none.
struct Scripts {
    put_new: Script,
    consume: Script,
    record: Script,
    settle: Script,
    link: Script,
    unlink: Script,
    links_of: Script,
    watch: Script,
    append: Script,
    entitled: Script,
    purge_items: Script,
    purge_watches: Script,
    purge_entitlements: Script,
    migrate: Script,
    directory: Script,
    trim: Script,
    audited: AuditedScripts,
}

/// The audited form of each write script (see [`audited_script`]).
struct AuditedScripts {
    nothing: Script,
    put_new: Script,
    settle: Script,
    record: Script,
    link: Script,
    unlink: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            put_new: Script::new(PUT_NEW),
            consume: Script::new(CONSUME),
            record: Script::new(RECORD),
            settle: Script::new(SETTLE),
            link: Script::new(LINK),
            unlink: Script::new(UNLINK),
            links_of: Script::new(LINKS_OF),
            watch: Script::new(WATCH),
            append: Script::new(APPEND),
            entitled: Script::new(ENTITLED),
            purge_items: Script::new(PURGE_ITEMS),
            purge_watches: Script::new(PURGE_WATCHES),
            purge_entitlements: Script::new(PURGE_ENTITLEMENTS),
            migrate: Script::new(MIGRATE),
            directory: Script::new(DIRECTORY),
            trim: Script::new(TRIM),
            audited: AuditedScripts {
                nothing: audited_script(NOTHING, DONE_OUTCOME, &[Outcome::Done]),
                put_new: audited_script(PUT_NEW, CREATED_OUTCOME, &[Outcome::Done]),
                settle: audited_script(
                    SETTLE,
                    SETTLE_OUTCOME,
                    &[Outcome::Consumed, Outcome::Expired, Outcome::AlreadyUsed, Outcome::Unknown],
                ),
                record: audited_script(RECORD, CREATED_OUTCOME, &[Outcome::Done]),
                link: audited_script(
                    LINK,
                    LINK_OUTCOME,
                    &[Outcome::Created, Outcome::AlreadyLinked, Outcome::LinkedToOther],
                ),
                unlink: audited_script(UNLINK, DONE_OUTCOME, &[Outcome::Done]),
            },
        }
    }

    fn all(&self) -> [&Script; 22] {
        [
            &self.put_new,
            &self.consume,
            &self.record,
            &self.settle,
            &self.link,
            &self.unlink,
            &self.links_of,
            &self.watch,
            &self.append,
            &self.entitled,
            &self.purge_items,
            &self.purge_watches,
            &self.purge_entitlements,
            &self.migrate,
            &self.directory,
            &self.trim,
            &self.audited.nothing,
            &self.audited.put_new,
            &self.audited.settle,
            &self.audited.record,
            &self.audited.link,
            &self.audited.unlink,
        ]
    }
}

/// The audited form of the write script `body` (write_audited): the same script, run as a Lua
/// function over its own KEYS and ARGV (parameters named `KEYS` and `ARGV` shadow the globals, so
/// the body runs unchanged), then, only if `outcome_lua` names an outcome for its reply, the leaf
/// of that outcome appended to the tenant's log with the next index from `INCR`. The audit keys
/// and leaves come first, so the write's own KEYS and ARGV are the tail of the call's:
/// KEYS[1] the tenant's audit hash, KEYS[2] its size counter, KEYS[3] its evidence hash, KEYS[4..]
/// the write's; ARGV[1] the number n of leaves, ARGV[2] the evidence's field (its key in hex; empty
/// for none), ARGV[3] its DER, ARGV[2i+2], ARGV[2i+3] outcome i and its leaf, ARGV[2n+4..] the
/// write's. The evidence is kept with the leaf, whatever the outcome. Reply: {index, outcome, the write's reply}, or {-1, '', the write's reply} when the
/// write failed (a duplicate id, a corrupt value; nothing written, no leaf). Every outcome
/// `outcomes` lists must have its leaf, checked before the write: an error after it would keep
/// the write without its leaf.
fn audited_script(body: &str, outcome_lua: &str, outcomes: &[Outcome]) -> Script {
    let names: Vec<String> = outcomes.iter().map(|outcome| format!("'{}'", outcome.as_str())).collect();
    let mut lua = String::with_capacity(body.len() + outcome_lua.len() + AUDIT_APPEND.len() + 128);
    lua.push_str("local function body(KEYS, ARGV)\n");
    lua.push_str(body);
    lua.push_str("\nend\n");
    lua.push_str(outcome_lua);
    lua.push_str("local OUTCOMES = {");
    lua.push_str(&names.join(", "));
    lua.push_str("}\n");
    lua.push_str(AUDIT_APPEND);
    Script::new(&lua)
}

/// The end of every audited script (see [`audited_script`]), after `body`, `outcome_of` and
/// `OUTCOMES`. The index is formatted with `%d`: a Lua number would print as `1e+14` from there on.
const AUDIT_APPEND: &str = r#"
local n = tonumber(ARGV[1])
local leaves = {}
for i = 1, n do leaves[ARGV[2 * i + 2]] = ARGV[2 * i + 3] end
for _, outcome in ipairs(OUTCOMES) do
  if not leaves[outcome] then return redis.error_reply('audit leaves lack an outcome') end
end
local write_keys, write_args = {}, {}
for i = 4, #KEYS do write_keys[#write_keys + 1] = KEYS[i] end
for i = 2 * n + 4, #ARGV do write_args[#write_args + 1] = ARGV[i] end
local reply = body(write_keys, write_args)
local outcome = outcome_of(reply, write_keys, write_args)
if not outcome then return {-1, '', reply} end
local index = redis.call('INCR', KEYS[2]) - 1
redis.call('HSET', KEYS[1], string.format('%d', index), leaves[outcome])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end
return {index, outcome, reply}
"#;

/// Leaves (and evidence keys) one script of audit_trim (and one `HDEL` of audit_evidence_drop)
/// removes at most.
const TRIM_BATCH: usize = 500;

/// One batch of audit_trim: removes the leaves from the floor up to `below` (at most `batch`) and
/// raises the floor past them; returns the new floor. Idempotent: a `below` at or under the floor
/// changes nothing. The caller checked `below` against the size.
const TRIM: &str = r#"
-- KEYS[1] audit hash, KEYS[2] audit floor; ARGV[1] below, ARGV[2] batch
local below = tonumber(ARGV[1])
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
if below <= floor then return floor end
local stop = math.min(below, floor + tonumber(ARGV[2]))
local fields = {}
for i = floor, stop - 1 do fields[#fields + 1] = string.format('%d', i) end
redis.call('HDEL', KEYS[1], unpack(fields))
redis.call('SET', KEYS[2], string.format('%d', stop))
return stop
"#;

/// The write of an audited call that writes nothing but its leaf.
const NOTHING: &str = "return 1";

/// The outcome of a write with one outcome that cannot fail (unlink, nothing).
const DONE_OUTCOME: &str = r#"
local function outcome_of(reply, KEYS, ARGV) return 'done' end
"#;

/// The outcome of `PUT_NEW` and `RECORD`: 1 created, 0 a duplicate id (nothing written).
const CREATED_OUTCOME: &str = r#"
local function outcome_of(reply, KEYS, ARGV)
  if reply == 1 then return 'done' end
  return nil
end
"#;

/// The outcome of `SETTLE`, as `consume_outcome` reads its reply; expiry is `SETTLE`'s own test
/// (`accepted`), so that `consumed` is exactly the case where the record was kept as given.
/// nil for a duplicate record id or a corrupt challenge (nothing written).
const SETTLE_OUTCOME: &str = r#"
local function outcome_of(reply, KEYS, ARGV)
  local state = reply[1]
  if state == 'unknown' then return 'unknown' end
  if state == 'used' then
    if reply[2] and string.match(reply[2], '^%-?%d+$') then return 'already_used' end
    return nil
  end
  if state ~= 'pending' then return nil end
  if tonumber(ARGV[1]) < tonumber(redis.call('HGET', KEYS[1], 'expires_at')) then return 'consumed' end
  return 'expired'
end
"#;

/// The outcome of `LINK`: created (false), or the existing link's customer compared with the new
/// record's (both JSON, decoded with cjson); nil when the existing link does not decode.
const LINK_OUTCOME: &str = r#"
local function outcome_of(reply, KEYS, ARGV)
  if not reply then return 'created' end
  local ok_old, old = pcall(cjson.decode, reply)
  local ok_new, new = pcall(cjson.decode, ARGV[1])
  if not (ok_old and ok_new and type(old) == 'table' and type(new) == 'table') then return nil end
  if type(old.customer_id) ~= 'string' then return nil end
  if old.customer_id == new.customer_id then return 'already_linked' end
  return 'linked_to_other'
end
"#;

/// directory_write: check every expected value, then apply the writes and the log entry, and
/// tell the replicas (`PUBLISH`) so that they drop their cached principals.
const DIRECTORY: &str = r#"
-- KEYS[1] directory hash, KEYS[2] platform log hash, KEYS[3] its last sequence
-- ARGV[1] the DirectoryWrite as JSON, ARGV[2] the change channel
local write = cjson.decode(ARGV[1])
for _, pair in ipairs(write.expect) do
  local current = redis.call('HGET', KEYS[1], pair[1])
  if pair[2] == cjson.null then
    if current then return -1 end
  elseif current ~= pair[2] then
    return -1
  end
end
for _, pair in ipairs(write.put) do redis.call('HSET', KEYS[1], pair[1], pair[2]) end
for _, key in ipairs(write.delete) do redis.call('HDEL', KEYS[1], key) end
local sequence = 0
if write.log ~= cjson.null then
  sequence = redis.call('INCR', KEYS[3])
  redis.call('HSET', KEYS[2], sequence, write.log)
end
redis.call('PUBLISH', ARGV[2], 'changed')
return sequence
"#;

/// put_challenge: create a hash only if absent, index it, and give it a Redis
/// expiry when the deadline is still ahead of the server's clock (a deadline already past leaves
/// the item to purge_expired, as LocalStore would, instead of deleting it on the spot).
const PUT_NEW: &str = r#"
-- KEYS[1] item hash, KEYS[2] expiry index
-- ARGV[1] index member, ARGV[2] expiry deadline (Unix seconds) or '', ARGV[3..] field, value, ...
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[2] ~= '' and tonumber(ARGV[2]) > tonumber(redis.call('TIME')[1]) then
  redis.call('EXPIREAT', KEYS[1], ARGV[2])
end
return 1
"#;

/// The body of record_verification as a Lua function over its own KEYS and ARGV layout, so that
/// settle_proof runs the very same steps.
/// K[1] record hash, K[2] verification index, K[3] tenant entitlement hash, K[4] entitlement index,
/// K[5] tenant watch hash, K[6] certificate watchers hash, K[7] watch expiry index (with a watch only);
/// A[1] tenant, A[2] index member, A[3] expiry deadline or '', A[4] verified_at, A[5] record JSON,
/// A[6] certificate field to entitle or '', A[7] sort key of verified_at,
/// A[8] watched certificate field, A[9] sort key of not_after, A[10] kind (with a watch only).
macro_rules! record_lua {
    () => {
        r#"
local function record(K, A)
  if redis.call('EXISTS', K[1]) == 1 then return 0 end
  redis.call('HSET', K[1], 'verified_at', A[4], 'record', A[5])
  redis.call('ZADD', K[2], 0, A[2])
  if A[3] ~= '' and tonumber(A[3]) > tonumber(redis.call('TIME')[1]) then
    redis.call('EXPIREAT', K[1], A[3])
  end
  if A[6] ~= '' then
    local latest = redis.call('HGET', K[3], A[6])
    if not latest or A[7] > latest then
      if latest then redis.call('ZREM', K[4], latest .. ':' .. A[1] .. ':' .. A[6]) end
      redis.call('HSET', K[3], A[6], A[7])
      redis.call('ZADD', K[4], 0, A[7] .. ':' .. A[1] .. ':' .. A[6])
    end
  end
  if K[5] then
    local old = redis.call('HGET', K[5], A[8])
    if not (old == A[9] and redis.call('HGET', K[6], A[1]) == A[10]) then
      if old then redis.call('ZREM', K[7], old .. ':' .. A[1] .. ':' .. A[8]) end
      redis.call('HSET', K[5], A[8], A[9])
      redis.call('HSET', K[6], A[1], A[10])
      redis.call('ZADD', K[7], 0, A[9] .. ':' .. A[1] .. ':' .. A[8])
    end
  end
  return 1
end
"#
    };
}

/// The body of consume_challenge as a Lua function: pending -> used (keeps expires_at, the index
/// member and the expiry).
macro_rules! consume_lua {
    () => {
        r#"
local function consume(key, now)
  local state = redis.call('HGET', key, 'state')
  if not state then return {'unknown'} end
  if state == 'used' then return {'used', redis.call('HGET', key, 'used_at')} end
  if state ~= 'pending' then return {'corrupt'} end
  local challenge = redis.call('HGET', key, 'challenge')
  if not challenge then return {'corrupt'} end
  redis.call('HSET', key, 'state', 'used', 'used_at', now)
  redis.call('HDEL', key, 'challenge')
  return {'pending', challenge}
end
"#
    };
}

/// record_verification: the record, its entitlement and the watch entry, together (0 when the
/// record id exists: nothing is stored).
const RECORD: &str = concat!(record_lua!(), "return record(KEYS, ARGV)\n");

/// consume_challenge.
const CONSUME: &str = concat!(consume_lua!(), "return consume(KEYS[1], ARGV[1])\n");

/// settle_proof: consume_challenge and record_verification in one script, the record kept refused
/// (ARGV[2], nothing entitled or watched) unless the challenge was pending and unexpired.
/// KEYS[1] challenge hash, KEYS[2..] as record's K; ARGV[1] now, ARGV[2] refused record JSON,
/// ARGV[3..] as record's A. A duplicate record id is checked first: a script's writes before an
/// error would stay.
const SETTLE: &str = concat!(
    record_lua!(),
    consume_lua!(),
    r#"
local K, A = {}, {}
for i = 2, #KEYS do K[i - 1] = KEYS[i] end
for i = 3, #ARGV do A[i - 2] = ARGV[i] end
if redis.call('EXISTS', K[1]) == 1 then return {'duplicate'} end
local reply = consume(KEYS[1], ARGV[1])
if reply[1] == 'corrupt' then return reply end
local accepted = reply[1] == 'pending'
  and tonumber(ARGV[1]) < tonumber(redis.call('HGET', KEYS[1], 'expires_at'))
if not accepted then
  A[5] = ARGV[2]
  A[6] = ''
  K[5], K[6], K[7] = nil, nil, nil
end
record(K, A)
return reply
"#
);

/// link: the certificate's link (record of truth) and the customer's set, together.
const LINK: &str = r#"
-- KEYS[1] link key, KEYS[2] customer set; ARGV[1] link JSON, ARGV[2] certificate field
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return false
"#;

/// unlink: one certificate (only if it is this customer's) or all of the customer's.
const UNLINK: &str = r#"
-- KEYS[1] customer set, KEYS[2] link key (one certificate only)
-- ARGV[1] link key prefix, ARGV[2] certificate field (one certificate only)
if ARGV[2] then
  if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 0 then return 0 end
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[1], ARGV[2])
  return 1
end
local certs = redis.call('SMEMBERS', KEYS[1])
for _, cert in ipairs(certs) do redis.call('DEL', ARGV[1] .. cert) end
redis.call('DEL', KEYS[1])
return #certs
"#;

/// links_by_customer: the set and the links it names, read at one instant.
const LINKS_OF: &str = r#"
-- KEYS[1] customer set; ARGV[1] link key prefix
local out = {}
for _, cert in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = redis.call('GET', ARGV[1] .. cert)
end
return out
"#;

/// watch: per-tenant entry (value: the sort key of not_after), global watchers hash, expiry index.
const WATCH: &str = r#"
-- KEYS[1] tenant watch hash, KEYS[2] certificate watchers hash, KEYS[3] watch expiry index
-- ARGV[1] certificate field, ARGV[2] tenant, ARGV[3] sort key of not_after, ARGV[4] kind
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old == ARGV[3] and redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[4] then return 0 end
if old then redis.call('ZREM', KEYS[3], old .. ':' .. ARGV[2] .. ':' .. ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('ZADD', KEYS[3], 0, ARGV[3] .. ':' .. ARGV[2] .. ':' .. ARGV[1])
return 1
"#;

/// append_events: each notice against its certificate's status `{seq} {change} {crl or -} {reason
/// token}` (the rules of `TenantStore::append_events`); every status is checked before anything is
/// written, since a script that fails half-way keeps its earlier writes.
const APPEND: &str = r#"
-- event i: KEYS[3i-2] tenant head counter, KEYS[3i-1] tenant log hash, KEYS[3i] tenant status hash
--          ARGV[5i-4] certificate field, ARGV[5i-3] event JSON, ARGV[5i-2] change,
--          ARGV[5i-1] reason token ('-' none, '+reason'), ARGV[5i] cRLNumber without leading zeros or '-'
local function parse(status)
  return string.match(status, '^(%d+) (%l+) ([%d%-]+) (.*)$')
end
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
for i = 1, #KEYS / 3 do
  local status = redis.call('HGET', KEYS[3 * i], ARGV[5 * i - 4])
  if status and not parse(status) then return redis.error_reply('corrupt event status') end
end
local out = {}
for i = 1, #KEYS / 3 do
  local head, log, statuses = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local field, json, change, reason, crl = ARGV[5 * i - 4], ARGV[5 * i - 3], ARGV[5 * i - 2], ARGV[5 * i - 1], ARGV[5 * i]
  local status = redis.call('HGET', statuses, field)
  local seq, last_change, floor, last_reason
  if status then seq, last_change, floor, last_reason = parse(status) end
  if change == 'released' and last_change ~= 'held' then
    out[i] = 0
  elseif status and crl ~= '-' and floor ~= '-' and greater(floor, crl) then
    out[i] = tonumber(seq)
  elseif status and last_change == change and last_reason == reason then
    if crl ~= '-' and (floor == '-' or greater(crl, floor)) then
      redis.call('HSET', statuses, field, seq .. ' ' .. change .. ' ' .. crl .. ' ' .. reason)
    end
    out[i] = tonumber(seq)
  else
    if crl == '-' and status then crl = floor end
    local new = string.format('%d', redis.call('INCR', head))
    redis.call('HSET', log, new, json)
    redis.call('HSET', statuses, field, new .. ' ' .. change .. ' ' .. crl .. ' ' .. reason)
    out[i] = tonumber(new)
  end
end
return out
"#;

/// entitled: per certificate, a link of the tenant, or a passed verification at or after the cutoff.
const ENTITLED: &str = r#"
-- KEYS[1] tenant entitlement hash, KEYS[i+1] link key of certificate i
-- ARGV[1] sort key of the cutoff, ARGV[i+1] certificate field i
local out = {}
for i = 2, #KEYS do
  local yes = redis.call('EXISTS', KEYS[i]) == 1
  if not yes then
    local latest = redis.call('HGET', KEYS[1], ARGV[i])
    yes = latest and latest >= ARGV[1]
  end
  if yes then out[i - 1] = 1 else out[i - 1] = 0 end
end
return out
"#;

/// purge of challenges or verifications: removes index members, and their items unless the item
/// was re-created with another time after Redis expired the old one.
const PURGE_ITEMS: &str = r#"
-- KEYS[1] index, KEYS[i+1] item hash of member i
-- ARGV[1] time field name; ARGV[2i] member i, ARGV[2i+1] its time (decimal)
local removed = 0
for i = 1, #KEYS - 1 do
  if redis.call('ZREM', KEYS[1], ARGV[2 * i]) == 1 then
    removed = removed + 1
    if redis.call('HGET', KEYS[i + 1], ARGV[1]) == ARGV[2 * i + 1] then redis.call('DEL', KEYS[i + 1]) end
  end
end
return removed
"#;

/// purge of watch entries: index member, per-tenant entry and global watchers field together.
const PURGE_WATCHES: &str = r#"
-- KEYS[1] index; KEYS[2i] tenant watch hash, KEYS[2i+1] certificate watchers hash of member i
-- ARGV[4i-3] member, ARGV[4i-2] certificate field, ARGV[4i-1] tenant, ARGV[4i] sort key of not_after
local removed = 0
for i = 1, (#KEYS - 1) / 2 do
  if redis.call('ZREM', KEYS[1], ARGV[4 * i - 3]) == 1 then
    removed = removed + 1
    if redis.call('HGET', KEYS[2 * i], ARGV[4 * i - 2]) == ARGV[4 * i] then
      redis.call('HDEL', KEYS[2 * i], ARGV[4 * i - 2])
      redis.call('HDEL', KEYS[2 * i + 1], ARGV[4 * i - 1])
    end
  end
end
return removed
"#;

/// purge of entitlements: index member and the tenant's entry, unless a later verification moved it.
const PURGE_ENTITLEMENTS: &str = r#"
-- KEYS[1] index; KEYS[i+1] tenant entitlement hash of member i
-- ARGV[3i-2] member, ARGV[3i-1] certificate field, ARGV[3i] sort key of verified_at
local removed = 0
for i = 1, #KEYS - 1 do
  if redis.call('ZREM', KEYS[1], ARGV[3 * i - 2]) == 1 then
    removed = removed + 1
    if redis.call('HGET', KEYS[i + 1], ARGV[3 * i - 1]) == ARGV[3 * i] then
      redis.call('HDEL', KEYS[i + 1], ARGV[3 * i - 1])
    end
  end
end
return removed
"#;

/// The layout version: set in an empty store; a schema-1 store is migrated to schema 2 in this one
/// script (atomic; it reads every key of the prefix, so it blocks the server while it runs: about
/// a second per hundred thousand events and records). Everything is read and checked before the
/// first write, so a corrupt value fails the migration without changing anything.
const MIGRATE: &str = r#"
-- KEYS[1] schema key; ARGV[1] prefix, ARGV[2] KEYS pattern of every `{P}*:ev_cert`, ARGV[3] this version
local version = redis.call('GET', KEYS[1])
if not version then
  redis.call('SET', KEYS[1], ARGV[3])
  return ARGV[3]
end
if version ~= '1' then return version end
local prefix = ARGV[1]
local writes = {}
local function decode(json)
  local ok, value = pcall(cjson.decode, json)
  if ok and type(value) == 'table' then return value end
  return nil
end
-- Each certificate's one event becomes its status; schema 1 events have no change: revocations.
for _, key in ipairs(redis.call('KEYS', ARGV[2])) do
  local tenant = string.match(string.sub(key, #prefix + 1), '^([%w_%.%-]+):ev_cert$')
  if tenant then
    local entries = redis.call('HGETALL', key)
    for j = 1, #entries, 2 do
      local field, seq = entries[j], entries[j + 1]
      local json = redis.call('HGET', prefix .. tenant .. ':ev', seq)
      local event = json and decode(json)
      if not event or not string.match(seq, '^%d+$') then return redis.error_reply('corrupt schema 1 event') end
      local change = event.change
      if type(change) ~= 'string' then change = 'revoked' end
      local crl = '-'
      if type(event.crl_number) == 'string' and string.match(event.crl_number, '^%d+$') then
        crl = string.gsub(event.crl_number, '^0+', '')
        if crl == '' then crl = '0' end
      end
      local reason = '-'
      if type(event.reason) == 'string' then reason = '+' .. event.reason end
      writes[#writes + 1] = {'HSET', prefix .. tenant .. ':ev_status', field, seq .. ' ' .. change .. ' ' .. crl .. ' ' .. reason}
    end
    writes[#writes + 1] = {'DEL', key}
  end
end
-- The entitlement index, from every verification record still stored (the latest passed one wins).
local latest, order = {}, {}
for _, member in ipairs(redis.call('ZRANGE', prefix .. '#idx:verifications', 0, -1)) do
  local sk, tenant, id = string.match(member, '^(%d+):([^:]+):(.*)$')
  local json = sk and redis.call('HGET', prefix .. tenant .. ':ver:' .. id, 'record')
  if json then
    local record = decode(json)
    if not record then return redis.error_reply('corrupt verification record') end
    local cert = record.certificate
    if record.passed == true and type(cert) == 'table' and type(cert.ca_key_id) == 'string' and type(cert.serial) == 'string' then
      local k = tenant .. ' ' .. cert.ca_key_id .. ':' .. cert.serial
      if not latest[k] then
        latest[k] = {tenant, cert.ca_key_id .. ':' .. cert.serial, sk}
        order[#order + 1] = k
      elseif sk > latest[k][3] then
        latest[k][3] = sk
      end
    end
  end
end
for _, k in ipairs(order) do
  local e = latest[k]
  writes[#writes + 1] = {'HSET', prefix .. e[1] .. ':ent', e[2], e[3]}
  writes[#writes + 1] = {'ZADD', prefix .. '#idx:entitlements', '0', e[3] .. ':' .. e[1] .. ':' .. e[2]}
end
for _, w in ipairs(writes) do redis.call(unpack(w)) end
redis.call('SET', KEYS[1], ARGV[3])
return ARGV[3]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_order_like_numbers_and_round_trip() {
        let times = [i64::MIN, i64::MIN + 1, -1_780_272_000, -1, 0, 1, 9, 10, 1_780_272_000, i64::MAX - 1, i64::MAX];
        let keys: Vec<String> = times.iter().map(|t| sort_key(*t)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert!(keys.iter().all(|k| k.len() == 20));
        for t in times {
            assert_eq!(parse_sort_key(&sort_key(t)), Some(t));
        }
        assert_eq!(sort_key(1_780_272_000), "10000000001780272000");
        assert_eq!(parse_sort_key("2000"), None);
        assert_eq!(parse_sort_key("x0000000000000000000"), None);
    }

    #[test]
    fn members_parse_back_with_colons_in_the_rest() {
        let m = member(-5, "bank-a", "id:with:colons");
        assert_eq!(parse_member(&m).ok(), Some((-5, "bank-a", "id:with:colons")));
        assert!(parse_member("nonsense").is_err());
    }

    #[test]
    fn deadlines_skip_overflow_and_far_future() {
        assert_eq!(RedisStore::deadline(100, 600), "701");
        assert_eq!(RedisStore::deadline(i64::MAX, 600), "");
        assert_eq!(RedisStore::deadline(MAX_EXPIRE_AT, 0), "");
    }

    #[test]
    fn durability_report_names_each_problem() {
        let good = DurabilityReport {
            appendonly: Some("yes".into()),
            appendfsync: Some("always".into()),
            no_appendfsync_on_rewrite: Some("no".into()),
            maxmemory_policy: Some("noeviction".into()),
        };
        assert!(good.is_durable());
        let bad = DurabilityReport { appendfsync: Some("everysec".into()), maxmemory_policy: None, ..good };
        let problems = bad.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("appendfsync is \"everysec\""));
        assert!(problems[1].contains("maxmemory-policy could not be read"));
    }

    #[test]
    fn config_debug_hides_the_url() {
        let config = RedisStoreConfig::new("redis://user:secret@host:6379/0");
        assert!(!format!("{config:?}").contains("secret"));
    }
}
