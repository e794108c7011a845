//! The audit log's long-term store.
//!
//! Each tenant's audit log is a Merkle tree of leaves (one-line UTF-8 JSON events). The hot tenant
//! store (jpki-store) assigns each leaf its index; a background integrator copies durable leaves
//! into this archive and then trims them from the hot store, so years of leaves never sit in RAM.
//! The archive also keeps the signed checkpoints (history) and the evidence the answers rested on:
//! revocation lists (DER, platform-wide) and end-entity certificates (DER, per tenant).
//!
//! Two implementations pass the same behaviour tests (`tests/behaviour.rs`):
//!
//! - [`FileArchive`]: one redb file under the gateway's data_dir, the single-node embedded default.
//! - [`PgArchive`]: PostgreSQL, shared by several gateway replicas.
//!
//! Every method blocks (file or network I/O): call it from a blocking thread (tokio's
//! `spawn_blocking`), never from async code. The README beside this crate gives the schema,
//! durability, leadership and retention semantics.

mod file;
mod pg;

pub use file::FileArchive;
pub use pg::PgArchive;

use sha2::{Digest, Sha256};

/// Largest leaf, in bytes.
pub const MAX_LEAF_BYTES: usize = 16 * 1024;
/// Largest tenant id, in bytes.
pub const MAX_TENANT_BYTES: usize = 64;
/// Largest certificate id (text), in bytes.
pub const MAX_CERTIFICATE_BYTES: usize = 256;
/// Largest checkpoint note, in bytes.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most platform lists one leaf may cite.
pub const MAX_LISTS_PER_LEAF: usize = 256;
/// Largest evidence item (DER), in bytes: a national-scale revocation list is hundreds of MiB.
pub const MAX_EVIDENCE_BYTES: usize = 1024 * 1024 * 1024;
/// `limit` of [`AuditArchive::leaves`] and [`AuditArchive::checkpoints`] is capped at this.
pub const MAX_LIMIT: usize = 1024;

/// One leaf handed to the archive by the integrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafIn {
    /// The event JSON, one line: non-empty, no `\n`, at most [`MAX_LEAF_BYTES`] (the hot store's rule).
    pub leaf: String,
    /// The event's unix time (seconds), for retention.
    pub time: i64,
    /// The event's certificate id (text), for retention holds.
    pub certificate: Option<String>,
    /// Key of the tenant evidence (certificate DER) this event cites.
    pub evidence: Option<[u8; 32]>,
    /// Keys of the platform lists this event cites.
    pub lists: Vec<[u8; 32]>,
}

/// One archived leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedLeaf {
    /// Its index in the tenant's log (from 0).
    pub index: u64,
    /// Its RFC 9162 leaf hash, `SHA-256(0x00 || leaf)` ([`leaf_hash`]).
    pub hash: [u8; 32],
    /// The leaf; `None` once expired by retention ([`AuditArchive::expire`]).
    pub payload: Option<String>,
}

/// Whose evidence an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvidenceOwner<'a> {
    /// Platform-wide (revocation lists).
    Platform,
    /// One tenant's (end-entity certificates); no other tenant sees it.
    Tenant(&'a str),
}

/// What one [`AuditArchive::expire`] pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Leaves whose payload was removed.
    pub leaves: u64,
    /// Evidence items removed.
    pub evidence: u64,
}

/// Why an archive call failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A different leaf is already archived at this index: the log forked. Nothing was written.
    #[error("tenant {tenant}: a different leaf is already archived at index {index}")]
    Conflict {
        /// The tenant.
        tenant: String,
        /// The first conflicting index.
        index: u64,
    },
    /// The leaves would start after the archived ones, leaving a hole. Nothing was written.
    #[error("tenant {tenant}: {integrated} leaves archived, cannot append from {from}")]
    Gap {
        /// The tenant.
        tenant: String,
        /// How many leaves are archived.
        integrated: u64,
        /// Where the refused leaves started.
        from: u64,
    },
    /// An argument is invalid (the message says which).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The storage failed (file, database, connection).
    #[error("archive backend: {0}")]
    Backend(String),
}

/// The audit log's long-term store. Every method blocks: call it from a blocking thread
/// (`spawn_blocking`), never from async code.
pub trait AuditArchive: Send + Sync + std::fmt::Debug {
    /// How many leaves of the tenant are archived (0..n are all present).
    fn integrated(&self, tenant: &str) -> Result<u64, ArchiveError>;
    /// Appends leaves at indexes from, from+1, ... in ONE atomic durable transaction (durable when it returns).
    /// from > integrated → Gap. Leaves at indexes already archived must be byte-identical (compare hashes), else
    /// Conflict (a fork: never overwrite); identical ones are skipped (idempotent: two integrators racing is safe).
    /// Returns the new integrated size.
    fn integrate(&self, tenant: &str, from: u64, leaves: &[LeafIn]) -> Result<u64, ArchiveError>;
    /// Up to `limit` (capped at [`MAX_LIMIT`]) leaves from `from`, in index order (fewer at the end).
    fn leaves(&self, tenant: &str, from: u64, limit: usize) -> Result<Vec<ArchivedLeaf>, ArchiveError>;
    /// Keeps a signed checkpoint note of the tenant's log at `size` (history; one per size, first one kept).
    fn put_checkpoint(&self, tenant: &str, size: u64, note: &str) -> Result<(), ArchiveError>;
    /// Stored checkpoints with size >= from_size, ascending, at most `limit` (capped at [`MAX_LIMIT`]).
    fn checkpoints(&self, tenant: &str, from_size: u64, limit: usize) -> Result<Vec<(u64, String)>, ArchiveError>;
    /// The stored checkpoint with the largest size.
    fn latest_checkpoint(&self, tenant: &str) -> Result<Option<(u64, String)>, ArchiveError>;
    /// Keeps evidence under `key` (lists: the SHA-256 of their tbsCertList; certificates: SHA-256 of the DER),
    /// idempotent (same key, first bytes kept). Durable when it returns. One item of
    /// [`put_evidence_batch`](AuditArchive::put_evidence_batch).
    fn put_evidence(&self, owner: EvidenceOwner<'_>, key: &[u8; 32], der: &[u8]) -> Result<(), ArchiveError> {
        self.put_evidence_batch(owner, &[(key, der)])
    }
    /// Keeps every (key, DER) as [`put_evidence`](AuditArchive::put_evidence) does, in ONE atomic durable
    /// transaction: the integrator moves a page of certificates at the cost of one commit, not one each. An
    /// invalid item refuses the whole batch (nothing written); a key twice in the batch keeps its first bytes.
    fn put_evidence_batch(&self, owner: EvidenceOwner<'_>, items: &[(&[u8; 32], &[u8])]) -> Result<(), ArchiveError>;
    /// The evidence under `key` for that owner (a tenant never sees another tenant's certificates).
    fn evidence(&self, owner: EvidenceOwner<'_>, key: &[u8; 32]) -> Result<Option<Vec<u8>>, ArchiveError>;
    /// Retention hold on a tenant's certificate: until None = held indefinitely (while linked);
    /// Some(t) = held until t (set at unlink: t = unlink time + retention). The last call wins.
    fn hold(&self, tenant: &str, certificate: &str, until: Option<i64>) -> Result<(), ArchiveError>;
    /// Retention: removes the payload (sets it to None, keeps index and hash so the tree stays verifiable) of every
    /// leaf with time < now - retention_secs whose (tenant, certificate) has no hold with until None or until > now;
    /// then removes every evidence item (tenant certificates and platform lists) that no leaf WITH a payload cites
    /// and that either was cited by a leaf whose payload is gone, or was stored (system clock) before
    /// now - retention_secs: evidence put before the leaf citing it is integrated is not lost in between.
    /// Checkpoints are never removed. Returns counts.
    fn expire(&self, now: i64, retention_secs: i64) -> Result<ExpiryReport, ArchiveError>;
    /// Whether this process is the integrating leader now (FileArchive: always true — redb locks the file
    /// to one process; PgArchive: a session-level pg_try_advisory_lock held on a dedicated connection; if
    /// that connection died, retry on a new one). Cheap to call every few seconds.
    fn try_lead(&self) -> Result<bool, ArchiveError>;
}

/// The RFC 9162 leaf hash `SHA-256(0x00 || leaf)`.
///
/// Computed here with sha2 rather than taken from jpki-audit's tree: the archive is a storage
/// crate that jpki-audit and jpki-app build on, so it must not depend on them (that would be a
/// cycle), and the hash is a two-line, fixed definition that RFC 9162 §2.1.1 pins down. The
/// behaviour tests check it against the RFC's definition.
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(leaf);
    hasher.finalize().into()
}

/// The owner as stored: `""` for the platform (a tenant id is never empty), else the tenant id.
fn owner_key(owner: EvidenceOwner<'_>) -> Result<&str, ArchiveError> {
    match owner {
        EvidenceOwner::Platform => Ok(""),
        EvidenceOwner::Tenant(tenant) => check_tenant(tenant).map(|()| tenant),
    }
}

/// The owner as stored, once every item's DER is checked: 1 to [`MAX_EVIDENCE_BYTES`] bytes.
fn check_evidence<'o>(owner: EvidenceOwner<'o>, items: &[(&[u8; 32], &[u8])]) -> Result<&'o str, ArchiveError> {
    let owner = owner_key(owner)?;
    if items.iter().any(|(_, der)| der.is_empty() || der.len() > MAX_EVIDENCE_BYTES) {
        return Err(ArchiveError::Invalid(format!("evidence: 1 to {MAX_EVIDENCE_BYTES} bytes")));
    }
    Ok(owner)
}

/// Non-empty ASCII `[A-Za-z0-9_.-]`, at most [`MAX_TENANT_BYTES`].
fn check_tenant(tenant: &str) -> Result<(), ArchiveError> {
    let valid = !tenant.is_empty()
        && tenant.len() <= MAX_TENANT_BYTES
        && tenant.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid { Ok(()) } else { Err(ArchiveError::Invalid(format!("tenant id {tenant:?}"))) }
}

/// Text without control characters (so no NUL, which PostgreSQL text cannot hold, and no line
/// break), non-empty, at most `max` bytes.
fn check_line(what: &str, text: &str, max: usize) -> Result<(), ArchiveError> {
    if text.is_empty() || text.len() > max || text.chars().any(char::is_control) {
        return Err(ArchiveError::Invalid(format!("{what}: must be one non-empty line of at most {max} bytes")));
    }
    Ok(())
}

/// A leaf: non-empty, at most [`MAX_LEAF_BYTES`], no newline. Exactly the hot store's rule
/// (jpki-store refuses nothing else), so that every leaf it committed can be archived: a stricter
/// rule here would stall the integrator on that leaf for good.
fn check_leaf(leaf: &str) -> Result<(), ArchiveError> {
    if leaf.is_empty() || leaf.len() > MAX_LEAF_BYTES || leaf.contains('\n') {
        return Err(ArchiveError::Invalid(format!("leaf: must be 1 to {MAX_LEAF_BYTES} bytes without a newline")));
    }
    Ok(())
}

/// A checkpoint note: non-empty, at most [`MAX_NOTE_BYTES`], no NUL (line breaks are its syntax).
fn check_note(note: &str) -> Result<(), ArchiveError> {
    if note.is_empty() || note.len() > MAX_NOTE_BYTES || note.contains('\0') {
        return Err(ArchiveError::Invalid(format!(
            "checkpoint note: non-empty, no NUL, at most {MAX_NOTE_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A certificate id as held or cited.
fn check_certificate(certificate: &str) -> Result<(), ArchiveError> {
    check_line("certificate id", certificate, MAX_CERTIFICATE_BYTES)
}

/// An index or size as stored (PostgreSQL bigint): at most `i64::MAX`.
fn to_i64(what: &str, value: u64) -> Result<i64, ArchiveError> {
    i64::try_from(value).map_err(|_| ArchiveError::Invalid(format!("{what} {value} exceeds i64::MAX")))
}

/// A batch to integrate, checked: the leaves' hashes, and the index just past the batch.
struct Batch {
    hashes: Vec<[u8; 32]>,
    end: u64,
}

/// Checks the tenant and every leaf of an integrate call, and hashes the leaves.
fn check_batch(tenant: &str, from: u64, leaves: &[LeafIn]) -> Result<Batch, ArchiveError> {
    check_tenant(tenant)?;
    let count = u64::try_from(leaves.len()).map_err(|_| ArchiveError::Invalid("too many leaves".into()))?;
    let end = from.checked_add(count).ok_or_else(|| ArchiveError::Invalid("index overflow".into()))?;
    to_i64("index", end)?;
    for leaf in leaves {
        check_leaf(&leaf.leaf)?;
        if let Some(certificate) = &leaf.certificate {
            check_certificate(certificate)?;
        }
        if leaf.lists.len() > MAX_LISTS_PER_LEAF {
            return Err(ArchiveError::Invalid(format!("a leaf cites more than {MAX_LISTS_PER_LEAF} lists")));
        }
    }
    Ok(Batch { hashes: leaves.iter().map(|leaf| leaf_hash(leaf.leaf.as_bytes())).collect(), end })
}

/// The evidence items a leaf cites, as (owner, key): its certificate under the tenant, its lists
/// under the platform (each once).
fn citations<'a>(tenant: &'a str, leaf: &LeafIn) -> Vec<(&'a str, [u8; 32])> {
    let mut cited: Vec<(&str, [u8; 32])> = leaf.evidence.iter().map(|key| (tenant, *key)).collect();
    for key in &leaf.lists {
        if !cited.contains(&("", *key)) {
            cited.push(("", *key));
        }
    }
    cited
}

/// `now - retention_secs`, saturating; the cut-off of [`AuditArchive::expire`].
fn cutoff(now: i64, retention_secs: i64) -> Result<i64, ArchiveError> {
    if retention_secs < 0 {
        return Err(ArchiveError::Invalid("retention_secs must not be negative".into()));
    }
    Ok(now.saturating_sub(retention_secs))
}

/// The system clock, unix seconds: when an evidence item was stored.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// The first index in `[from, ..)` whose stored hash differs from the batch's.
fn first_conflict(tenant: &str, from: u64, batch: &Batch, stored: &[(u64, [u8; 32])]) -> Result<(), ArchiveError> {
    for (index, hash) in stored {
        let position = index.checked_sub(from).and_then(|offset| usize::try_from(offset).ok());
        if position.and_then(|position| batch.hashes.get(position)) != Some(hash) {
            return Err(ArchiveError::Conflict { tenant: tenant.to_owned(), index: *index });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        assert!(check_tenant("bank-a_1.x").is_ok());
        for bad in ["", "a b", "a:b", "é", &"a".repeat(65)] {
            assert!(matches!(check_tenant(bad), Err(ArchiveError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn leaf_hash_is_rfc9162() {
        let expected: [u8; 32] = Sha256::digest(b"\x00abc").into();
        assert_eq!(leaf_hash(b"abc"), expected);
    }
}
