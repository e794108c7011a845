//! [`PgArchive`]: PostgreSQL, shared by several gateway replicas.

use std::sync::Mutex;
use std::time::Duration;

use postgres::{Client, Config, NoTls};
use r2d2_postgres::PostgresConnectionManager;

use crate::{
    ArchiveError, ArchivedLeaf, AuditArchive, EvidenceOwner, ExpiryReport, LeafIn, MAX_LIMIT, check_batch,
    check_certificate, check_evidence, check_note, check_tenant, citations, cutoff, first_conflict, owner_key, to_i64,
    unix_now,
};

/// The schema's version, in `archive_schema`.
const SCHEMA_VERSION: i32 = 1;
/// Advisory lock (transaction level) that serialises schema creation by concurrent connects.
const SCHEMA_LOCK: i64 = 0x6a70_6b69_7363_6865; // "jpkische"
/// Advisory lock (session level) of the integrating leader.
const LEADER_LOCK: i64 = 0x6a70_6b69_6c65_6164; // "jpkilead"
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keepalive idle time, unless the URL sets one: how soon a dead peer is noticed.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Connections in the pool (besides the leader's own).
const POOL_SIZE: u32 = 4;

/// Version 1 of the schema (see the crate's README).
const SCHEMA_V1: &str = "
CREATE TABLE archive_sizes (tenant text PRIMARY KEY, integrated bigint NOT NULL);
CREATE TABLE archive_leaves (
    tenant text NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, payload bytea,
    event_time bigint NOT NULL, certificate text, PRIMARY KEY (tenant, idx));
CREATE INDEX archive_leaves_due ON archive_leaves (event_time) WHERE payload IS NOT NULL;
CREATE TABLE archive_citations (
    owner text NOT NULL, key bytea NOT NULL, tenant text NOT NULL, idx bigint NOT NULL,
    live boolean NOT NULL DEFAULT true, PRIMARY KEY (owner, key, tenant, idx));
CREATE INDEX archive_citations_leaf ON archive_citations (tenant, idx);
CREATE TABLE archive_checkpoints (
    tenant text NOT NULL, size bigint NOT NULL, note text NOT NULL, PRIMARY KEY (tenant, size));
CREATE TABLE archive_evidence (
    owner text NOT NULL, key bytea NOT NULL, der bytea NOT NULL, stored_at bigint NOT NULL,
    PRIMARY KEY (owner, key));
CREATE INDEX archive_evidence_age ON archive_evidence (stored_at);
CREATE TABLE archive_holds (
    tenant text NOT NULL, certificate text NOT NULL, until bigint, PRIMARY KEY (tenant, certificate));
INSERT INTO archive_schema (version) VALUES (1);
";

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// The archive in PostgreSQL, for several gateway replicas. A small connection pool serves the
/// calls; leadership ([`AuditArchive::try_lead`]) is a session-level advisory lock held on a
/// dedicated connection. Every method blocks: call it from a blocking thread (tokio's
/// `spawn_blocking`), never from async code (the sync `postgres` client runs its own runtime).
pub struct PgArchive {
    /// Always `Some` until dropped (see the `Drop` implementation).
    pool: Option<Pool>,
    config: Config,
    /// The leader's connection and whether it holds [`LEADER_LOCK`].
    leader: Mutex<Option<(Client, bool)>>,
}

/// The sync `postgres` client closes a connection by blocking on its own runtime, which panics
/// on a thread that drives async tasks; the archive is often dropped on one (the gateway's
/// shutdown), so its connections are closed on a plain thread of their own.
impl Drop for PgArchive {
    fn drop(&mut self) {
        let pool = self.pool.take();
        let leader = self.leader.get_mut().ok().and_then(Option::take);
        let closing = std::thread::Builder::new().name("jpki-archive-close".into()).spawn(move || drop((pool, leader)));
        if let Err(error) = closing {
            // The connections were closed here instead, as the client does by itself.
            eprintln!("jpki-archive: no thread to close the PostgreSQL connections on: {error}");
        }
    }
}

impl std::fmt::Debug for PgArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgArchive").field("hosts", &self.config.get_hosts()).finish_non_exhaustive()
    }
}

fn backend(error: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Backend(error.to_string())
}

/// A postgres error with the server's message when there is one.
fn db(error: postgres::Error) -> ArchiveError {
    match error.as_db_error() {
        Some(server) => ArchiveError::Backend(format!("{error}: {server}")),
        None => backend(error),
    }
}

fn hash32(bytes: &[u8]) -> Result<[u8; 32], ArchiveError> {
    bytes.try_into().map_err(|_| backend("stored hash is not 32 bytes"))
}

impl PgArchive {
    /// Connects to `url` (a `postgres://user@host:port/db` URL or `host=/socket/dir user=…`
    /// key-value string; no TLS) and creates or checks the schema (versioned, idempotent, safe when
    /// several replicas connect at once).
    pub fn connect(url: &str) -> Result<PgArchive, ArchiveError> {
        let mut config: Config =
            url.parse().map_err(|error| ArchiveError::Invalid(format!("database url: {error}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // The default (2 h) would let a dead peer hold a connection, and the leader lock, for hours.
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(KEEPALIVE_IDLE);
        }
        if config.get_application_name().is_none() {
            config.application_name("jpki-archive");
        }
        let manager = PostgresConnectionManager::new(config.clone(), NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .build(manager)
            .map_err(backend)?;
        let archive = PgArchive { pool: Some(pool), config, leader: Mutex::new(None) };
        archive.create_schema()?;
        Ok(archive)
    }

    fn create_schema(&self) -> Result<(), ArchiveError> {
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK]).map_err(db)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS archive_schema (version integer NOT NULL)").map_err(db)?;
        let version: Option<i32> = tx.query_one("SELECT max(version) FROM archive_schema", &[]).map_err(db)?.get(0);
        match version {
            None => tx.batch_execute(SCHEMA_V1).map_err(db)?,
            Some(SCHEMA_VERSION) => {}
            Some(other) => return Err(ArchiveError::Backend(format!("archive schema version {other} is unknown"))),
        }
        tx.commit().map_err(db)
    }

    fn conn(&self) -> Result<r2d2::PooledConnection<PostgresConnectionManager<NoTls>>, ArchiveError> {
        let pool = self.pool.as_ref().ok_or_else(|| ArchiveError::Backend("the archive is closed".into()))?;
        pool.get().map_err(backend)
    }

    /// One attempt at leadership on the dedicated connection (made when missing).
    fn lead_once(&self, slot: &mut Option<(Client, bool)>) -> Result<bool, ArchiveError> {
        if slot.is_none() {
            *slot = Some((self.config.connect(NoTls).map_err(db)?, false));
        }
        let Some((client, held)) = slot.as_mut() else { return Ok(false) };
        if *held {
            // Still ours while the session lives.
            client.is_valid(CONNECT_TIMEOUT).map_err(db)?;
            return Ok(true);
        }
        *held = client.query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK]).map_err(db)?.get(0);
        Ok(*held)
    }
}

impl AuditArchive for PgArchive {
    fn integrated(&self, tenant: &str) -> Result<u64, ArchiveError> {
        check_tenant(tenant)?;
        let row =
            self.conn()?.query_opt("SELECT integrated FROM archive_sizes WHERE tenant = $1", &[&tenant]).map_err(db)?;
        row.map_or(Ok(0), |row| u64::try_from(row.get::<_, i64>(0)).map_err(backend))
    }

    fn integrate(&self, tenant: &str, from: u64, leaves: &[LeafIn]) -> Result<u64, ArchiveError> {
        let batch = check_batch(tenant, from, leaves)?;
        let (from_i, end_i) = (to_i64("index", from)?, to_i64("index", batch.end)?);
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db)?;
        tx.execute("INSERT INTO archive_sizes (tenant, integrated) VALUES ($1, 0) ON CONFLICT DO NOTHING", &[&tenant])
            .map_err(db)?;
        // Serialises the integrators of one tenant.
        let size: i64 = tx
            .query_one("SELECT integrated FROM archive_sizes WHERE tenant = $1 FOR UPDATE", &[&tenant])
            .map_err(db)?
            .get(0);
        if from_i > size {
            return Err(ArchiveError::Gap {
                tenant: tenant.to_owned(),
                integrated: u64::try_from(size).map_err(backend)?,
                from,
            });
        }
        let indexes: Vec<i64> = (from_i..end_i).collect();
        let hashes: Vec<&[u8]> = batch.hashes.iter().map(|hash| hash.as_slice()).collect();
        // bytea, not text: a leaf may hold a NUL, which text cannot.
        let payloads: Vec<&[u8]> = leaves.iter().map(|leaf| leaf.leaf.as_bytes()).collect();
        let times: Vec<i64> = leaves.iter().map(|leaf| leaf.time).collect();
        let certificates: Vec<Option<&str>> = leaves.iter().map(|leaf| leaf.certificate.as_deref()).collect();
        let inserted = tx
            .query(
                "INSERT INTO archive_leaves (tenant, idx, hash, payload, event_time, certificate) \
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::bytea[], $4::bytea[], $5::bigint[], $6::text[]) \
                 ON CONFLICT DO NOTHING RETURNING idx",
                &[&tenant, &indexes, &hashes, &payloads, &times, &certificates],
            )
            .map_err(db)?;
        let (mut owners, mut keys, mut cited_by) = (Vec::new(), Vec::new(), Vec::new());
        for row in inserted {
            let index: i64 = row.get(0);
            let leaf = usize::try_from(index - from_i)
                .ok()
                .and_then(|at| leaves.get(at))
                .ok_or_else(|| backend("stray index"))?;
            for (owner, key) in citations(tenant, leaf) {
                owners.push(owner);
                keys.push(key.to_vec());
                cited_by.push(index);
            }
        }
        tx.execute(
            "INSERT INTO archive_citations (owner, key, tenant, idx) \
             SELECT o, k, $1, i FROM UNNEST($2::text[], $3::bytea[], $4::bigint[]) AS c(o, k, i) ON CONFLICT DO NOTHING",
            &[&tenant, &owners, &keys, &cited_by],
        )
        .map_err(db)?;
        // Skipped (conflicting) indexes must hold the same leaf: compare the whole range.
        let stored = tx
            .query(
                "SELECT idx, hash FROM archive_leaves WHERE tenant = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
                &[&tenant, &from_i, &end_i],
            )
            .map_err(db)?
            .iter()
            .map(|row| Ok((u64::try_from(row.get::<_, i64>(0)).map_err(backend)?, hash32(row.get(1))?)))
            .collect::<Result<Vec<_>, ArchiveError>>()?;
        first_conflict(tenant, from, &batch, &stored)?;
        let size = size.max(end_i);
        tx.execute("UPDATE archive_sizes SET integrated = $2 WHERE tenant = $1", &[&tenant, &size]).map_err(db)?;
        tx.commit().map_err(db)?;
        u64::try_from(size).map_err(backend)
    }

    fn leaves(&self, tenant: &str, from: u64, limit: usize) -> Result<Vec<ArchivedLeaf>, ArchiveError> {
        check_tenant(tenant)?;
        let Ok(from) = i64::try_from(from) else { return Ok(Vec::new()) };
        let limit = i64::try_from(limit.min(MAX_LIMIT)).map_err(backend)?;
        let rows = self
            .conn()?
            .query(
                "SELECT idx, hash, payload FROM archive_leaves WHERE tenant = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
                &[&tenant, &from, &limit],
            )
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(ArchivedLeaf {
                    index: u64::try_from(row.get::<_, i64>(0)).map_err(backend)?,
                    hash: hash32(row.get(1))?,
                    payload: row
                        .get::<_, Option<Vec<u8>>>(2)
                        .map(|bytes| String::from_utf8(bytes).map_err(|_| backend("stored leaf is not UTF-8")))
                        .transpose()?,
                })
            })
            .collect()
    }

    fn put_checkpoint(&self, tenant: &str, size: u64, note: &str) -> Result<(), ArchiveError> {
        check_tenant(tenant)?;
        check_note(note)?;
        let size = to_i64("size", size)?;
        self.conn()?
            .execute(
                "INSERT INTO archive_checkpoints (tenant, size, note) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&tenant, &size, &note],
            )
            .map_err(db)?;
        Ok(())
    }

    fn checkpoints(&self, tenant: &str, from_size: u64, limit: usize) -> Result<Vec<(u64, String)>, ArchiveError> {
        check_tenant(tenant)?;
        let Ok(from_size) = i64::try_from(from_size) else { return Ok(Vec::new()) };
        let limit = i64::try_from(limit.min(MAX_LIMIT)).map_err(backend)?;
        let rows = self
            .conn()?
            .query(
                "SELECT size, note FROM archive_checkpoints WHERE tenant = $1 AND size >= $2 ORDER BY size LIMIT $3",
                &[&tenant, &from_size, &limit],
            )
            .map_err(db)?;
        rows.iter().map(|row| Ok((u64::try_from(row.get::<_, i64>(0)).map_err(backend)?, row.get(1)))).collect()
    }

    fn latest_checkpoint(&self, tenant: &str) -> Result<Option<(u64, String)>, ArchiveError> {
        check_tenant(tenant)?;
        let row = self
            .conn()?
            .query_opt(
                "SELECT size, note FROM archive_checkpoints WHERE tenant = $1 ORDER BY size DESC LIMIT 1",
                &[&tenant],
            )
            .map_err(db)?;
        row.map(|row| Ok((u64::try_from(row.get::<_, i64>(0)).map_err(backend)?, row.get(1)))).transpose()
    }

    fn put_evidence_batch(&self, owner: EvidenceOwner<'_>, items: &[(&[u8; 32], &[u8])]) -> Result<(), ArchiveError> {
        let owner = check_evidence(owner, items)?;
        if items.is_empty() {
            return Ok(());
        }
        let keys: Vec<&[u8]> = items.iter().map(|(key, _)| key.as_slice()).collect();
        let ders: Vec<&[u8]> = items.iter().map(|(_, der)| *der).collect();
        // One statement, one round trip; WITH ORDINALITY keeps the batch's order, so that of a key
        // given twice the first bytes are kept.
        self.conn()?
            .execute(
                "INSERT INTO archive_evidence (owner, key, der, stored_at) \
                 SELECT $1, item.key, item.der, $4 FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY \
                 AS item(key, der, position) ORDER BY item.position ON CONFLICT DO NOTHING",
                &[&owner, &keys, &ders, &unix_now()],
            )
            .map_err(db)?;
        Ok(())
    }

    fn evidence(&self, owner: EvidenceOwner<'_>, key: &[u8; 32]) -> Result<Option<Vec<u8>>, ArchiveError> {
        let owner = owner_key(owner)?;
        let row = self
            .conn()?
            .query_opt("SELECT der FROM archive_evidence WHERE owner = $1 AND key = $2", &[&owner, &key.as_slice()])
            .map_err(db)?;
        Ok(row.map(|row| row.get(0)))
    }

    fn hold(&self, tenant: &str, certificate: &str, until: Option<i64>) -> Result<(), ArchiveError> {
        check_tenant(tenant)?;
        check_certificate(certificate)?;
        self.conn()?
            .execute(
                "INSERT INTO archive_holds (tenant, certificate, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant, certificate) DO UPDATE SET until = EXCLUDED.until",
                &[&tenant, &certificate, &until],
            )
            .map_err(db)?;
        Ok(())
    }

    fn expire(&self, now: i64, retention_secs: i64) -> Result<ExpiryReport, ArchiveError> {
        let cutoff = cutoff(now, retention_secs)?;
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db)?;
        let leaves: i64 = tx
            .query_one(
                "WITH expired AS ( \
                   UPDATE archive_leaves l SET payload = NULL \
                   WHERE l.payload IS NOT NULL AND l.event_time < $1 AND NOT EXISTS ( \
                     SELECT 1 FROM archive_holds h WHERE h.tenant = l.tenant AND h.certificate = l.certificate \
                     AND (h.until IS NULL OR h.until > $2)) \
                   RETURNING l.tenant, l.idx), \
                 dead AS ( \
                   UPDATE archive_citations c SET live = false FROM expired e \
                   WHERE c.tenant = e.tenant AND c.idx = e.idx RETURNING 1) \
                 SELECT count(*) FROM expired",
                &[&cutoff, &now],
            )
            .map_err(db)?
            .get(0);
        let evidence = tx
            .execute(
                "DELETE FROM archive_evidence e \
                 WHERE (e.stored_at < $1 OR EXISTS (SELECT 1 FROM archive_citations c \
                          WHERE c.owner = e.owner AND c.key = e.key AND NOT c.live)) \
                   AND NOT EXISTS (SELECT 1 FROM archive_citations c \
                          WHERE c.owner = e.owner AND c.key = e.key AND c.live)",
                &[&cutoff],
            )
            .map_err(db)?;
        tx.execute("DELETE FROM archive_citations WHERE NOT live", &[]).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(ExpiryReport { leaves: u64::try_from(leaves).map_err(backend)?, evidence })
    }

    fn try_lead(&self) -> Result<bool, ArchiveError> {
        let mut slot = self.leader.lock().map_err(|_| backend("leader lock poisoned"))?;
        match self.lead_once(&mut slot) {
            Ok(leading) => Ok(leading),
            Err(_) => {
                // The connection died (and with it any lock it held): once more on a new one.
                *slot = None;
                self.lead_once(&mut slot).inspect_err(|_| *slot = None)
            }
        }
    }
}
