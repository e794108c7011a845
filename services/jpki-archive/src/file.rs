//! [`FileArchive`]: one redb file, the single-node embedded default.

use std::collections::HashMap;
use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};

use crate::{
    ArchiveError, ArchivedLeaf, AuditArchive, EvidenceOwner, ExpiryReport, LeafIn, MAX_LIMIT, check_batch,
    check_certificate, check_evidence, check_note, check_tenant, citations, cutoff, first_conflict, owner_key, to_i64,
    unix_now,
};

/// (tenant, index) → leaf hash (32 bytes) followed by the payload (absent once expired).
const LEAVES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("leaves");
/// tenant → integrated size.
const SIZES: TableDefinition<&str, u64> = TableDefinition::new("sizes");
/// (time, tenant, index) → the leaf's certificate and citations: the leaves that still have a payload.
const PENDING: TableDefinition<(i64, &str, u64), &[u8]> = TableDefinition::new("pending");
/// (tenant, size) → signed checkpoint note.
const CHECKPOINTS: TableDefinition<(&str, u64), &str> = TableDefinition::new("checkpoints");
/// (owner, key) → (stored at, DER); owner `""` is the platform.
const EVIDENCE: TableDefinition<EvidenceKey, (i64, &[u8])> = TableDefinition::new("evidence");
/// (owner, key) of an evidence item.
type EvidenceKey<'a> = (&'a str, &'a [u8]);
/// (stored at, owner, key) → (): evidence not yet past the retention cut-off.
const EVIDENCE_AGE: TableDefinition<(i64, &str, &[u8]), ()> = TableDefinition::new("evidence_age");
/// (owner, key) → how many leaves with a payload cite it (absent: none).
const CITES: TableDefinition<(&str, &[u8]), u64> = TableDefinition::new("cites");
/// (tenant, certificate) → held until (`i64::MAX`: indefinitely).
const HOLDS: TableDefinition<(&str, &str), i64> = TableDefinition::new("holds");
/// `version` → schema version.
const META: TableDefinition<&str, u64> = TableDefinition::new("archive_meta");

/// The file format's version, in `archive_meta`.
const SCHEMA_VERSION: u64 = 1;

/// The archive in one redb file (single node, embedded). redb locks the file to one process, so
/// that process is always the integrating leader. Every write commits durably (fsync) before it
/// returns.
#[derive(Debug)]
pub struct FileArchive {
    db: Database,
}

fn backend(error: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Backend(error.to_string())
}

impl FileArchive {
    /// Opens (or creates) the archive file at `path`. Fails with [`ArchiveError::Backend`] when
    /// another process has it open, or it is not an archive of a known version.
    pub fn open(path: &Path) -> Result<FileArchive, ArchiveError> {
        let db = Database::create(path).map_err(backend)?;
        let tx = db.begin_write().map_err(backend)?;
        {
            let mut meta = tx.open_table(META).map_err(backend)?;
            let version = meta.get("version").map_err(backend)?.map(|v| v.value());
            match version {
                None => {
                    meta.insert("version", SCHEMA_VERSION).map_err(backend)?;
                }
                Some(SCHEMA_VERSION) => {}
                Some(other) => return Err(ArchiveError::Backend(format!("archive schema version {other} is unknown"))),
            }
            tx.open_table(LEAVES).map_err(backend)?;
            tx.open_table(SIZES).map_err(backend)?;
            tx.open_table(PENDING).map_err(backend)?;
            tx.open_table(CHECKPOINTS).map_err(backend)?;
            tx.open_table(EVIDENCE).map_err(backend)?;
            tx.open_table(EVIDENCE_AGE).map_err(backend)?;
            tx.open_table(CITES).map_err(backend)?;
            tx.open_table(HOLDS).map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(FileArchive { db })
    }

    /// Runs `body` in one write transaction and commits it durably.
    fn write<T>(&self, body: impl FnOnce(&WriteTransaction) -> Result<T, ArchiveError>) -> Result<T, ArchiveError> {
        let tx = self.db.begin_write().map_err(backend)?;
        let value = body(&tx)?;
        tx.commit().map_err(backend)?;
        Ok(value)
    }
}

/// A pending leaf's retention data: its certificate and the (owner, key) it cites.
struct Meta {
    certificate: Option<String>,
    cited: Vec<(String, [u8; 32])>,
}

/// `[certificate length u16 BE, 0xFFFF: none][certificate]` then per citation
/// `[owner length u8][owner][key 32]`.
fn encode_meta(leaf: &LeafIn, cited: &[(&str, [u8; 32])]) -> Vec<u8> {
    let mut out = Vec::new();
    match &leaf.certificate {
        // At most MAX_CERTIFICATE_BYTES (checked), so it fits.
        Some(certificate) => {
            out.extend_from_slice(&u16::try_from(certificate.len()).unwrap_or(u16::MAX - 1).to_be_bytes());
            out.extend_from_slice(certificate.as_bytes());
        }
        None => out.extend_from_slice(&u16::MAX.to_be_bytes()),
    }
    for (owner, key) in cited {
        // A tenant id is at most 64 bytes (checked).
        out.push(u8::try_from(owner.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(owner.as_bytes());
        out.extend_from_slice(key);
    }
    out
}

fn decode_meta(bytes: &[u8]) -> Result<Meta, ArchiveError> {
    let corrupt = || ArchiveError::Backend("corrupt pending-leaf record".into());
    let (length, mut rest) = bytes.split_first_chunk::<2>().ok_or_else(corrupt)?;
    let length = u16::from_be_bytes(*length);
    let certificate = if length == u16::MAX {
        None
    } else {
        let (text, tail) = rest.split_at_checked(usize::from(length)).ok_or_else(corrupt)?;
        rest = tail;
        Some(String::from_utf8(text.to_vec()).map_err(|_| corrupt())?)
    };
    let mut cited = Vec::new();
    while let Some((length, tail)) = rest.split_first() {
        let (owner, tail) = tail.split_at_checked(usize::from(*length)).ok_or_else(corrupt)?;
        let (key, tail) = tail.split_first_chunk::<32>().ok_or_else(corrupt)?;
        cited.push((String::from_utf8(owner.to_vec()).map_err(|_| corrupt())?, *key));
        rest = tail;
    }
    Ok(Meta { certificate, cited })
}

/// Whether (tenant, certificate) is held at `now`.
fn held(tx: &WriteTransaction, tenant: &str, certificate: &str, now: i64) -> Result<bool, ArchiveError> {
    let holds = tx.open_table(HOLDS).map_err(backend)?;
    let until = holds.get((tenant, certificate)).map_err(backend)?.map(|until| until.value());
    Ok(until.is_some_and(|until| until == i64::MAX || until > now))
}

/// Removes an evidence item and its age entry; whether it was there.
fn remove_evidence(tx: &WriteTransaction, owner: &str, key: &[u8]) -> Result<bool, ArchiveError> {
    let mut evidence = tx.open_table(EVIDENCE).map_err(backend)?;
    let stored_at = evidence.remove((owner, key)).map_err(backend)?.map(|item| item.value().0);
    if let Some(stored_at) = stored_at {
        tx.open_table(EVIDENCE_AGE).map_err(backend)?.remove((stored_at, owner, key)).map_err(backend)?;
    }
    Ok(stored_at.is_some())
}

/// How many leaves with a payload cite (owner, key).
fn cite_count(tx: &WriteTransaction, owner: &str, key: &[u8]) -> Result<u64, ArchiveError> {
    let cites = tx.open_table(CITES).map_err(backend)?;
    Ok(cites.get((owner, key)).map_err(backend)?.map_or(0, |count| count.value()))
}

impl AuditArchive for FileArchive {
    fn integrated(&self, tenant: &str) -> Result<u64, ArchiveError> {
        check_tenant(tenant)?;
        let tx = self.db.begin_read().map_err(backend)?;
        let sizes = tx.open_table(SIZES).map_err(backend)?;
        Ok(sizes.get(tenant).map_err(backend)?.map_or(0, |size| size.value()))
    }

    fn integrate(&self, tenant: &str, from: u64, leaves: &[LeafIn]) -> Result<u64, ArchiveError> {
        let batch = check_batch(tenant, from, leaves)?;
        self.write(|tx| {
            let mut sizes = tx.open_table(SIZES).map_err(backend)?;
            let size = sizes.get(tenant).map_err(backend)?.map_or(0, |size| size.value());
            if from > size {
                return Err(ArchiveError::Gap { tenant: tenant.to_owned(), integrated: size, from });
            }
            let mut table = tx.open_table(LEAVES).map_err(backend)?;
            let mut stored = Vec::new();
            for entry in table.range((tenant, from)..(tenant, size.min(batch.end))).map_err(backend)? {
                let (key, value) = entry.map_err(backend)?;
                let hash = value.value().first_chunk::<32>().copied().ok_or_else(|| backend("corrupt leaf record"))?;
                stored.push((key.value().1, hash));
            }
            first_conflict(tenant, from, &batch, &stored)?;
            let mut pending = tx.open_table(PENDING).map_err(backend)?;
            let first_new = size.max(from);
            // Skip the leaves already archived (identical, checked above).
            let skip = usize::try_from(first_new - from).map_err(backend)?;
            // The page's citations counted first: most of a page's leaves cite the same lists, so
            // one update per item cited rather than one per leaf.
            let mut cited_in_page: HashMap<(&str, [u8; 32]), u64> = HashMap::new();
            let mut value = Vec::new();
            for (index, (leaf, hash)) in (first_new..).zip(leaves.iter().zip(&batch.hashes).skip(skip)) {
                value.clear();
                value.extend_from_slice(hash);
                value.extend_from_slice(leaf.leaf.as_bytes());
                table.insert((tenant, index), value.as_slice()).map_err(backend)?;
                let cited = citations(tenant, leaf);
                pending.insert((leaf.time, tenant, index), encode_meta(leaf, &cited).as_slice()).map_err(backend)?;
                for item in cited {
                    *cited_in_page.entry(item).or_default() += 1;
                }
            }
            let mut cites = tx.open_table(CITES).map_err(backend)?;
            for ((owner, key), added) in cited_in_page {
                let count = cites.get((owner, key.as_slice())).map_err(backend)?.map_or(0, |count| count.value());
                cites.insert((owner, key.as_slice()), count.saturating_add(added)).map_err(backend)?;
            }
            let size = size.max(batch.end);
            sizes.insert(tenant, size).map_err(backend)?;
            Ok(size)
        })
    }

    fn leaves(&self, tenant: &str, from: u64, limit: usize) -> Result<Vec<ArchivedLeaf>, ArchiveError> {
        check_tenant(tenant)?;
        let tx = self.db.begin_read().map_err(backend)?;
        let table = tx.open_table(LEAVES).map_err(backend)?;
        let mut out = Vec::new();
        for entry in table.range((tenant, from)..=(tenant, u64::MAX)).map_err(backend)?.take(limit.min(MAX_LIMIT)) {
            let (key, value) = entry.map_err(backend)?;
            let value = value.value();
            let (hash, payload) = value.split_first_chunk::<32>().ok_or_else(|| backend("corrupt leaf record"))?;
            let payload = if payload.is_empty() {
                None
            } else {
                Some(String::from_utf8(payload.to_vec()).map_err(|_| backend("corrupt leaf payload"))?)
            };
            out.push(ArchivedLeaf { index: key.value().1, hash: *hash, payload });
        }
        Ok(out)
    }

    fn put_checkpoint(&self, tenant: &str, size: u64, note: &str) -> Result<(), ArchiveError> {
        check_tenant(tenant)?;
        check_note(note)?;
        to_i64("size", size)?;
        self.write(|tx| {
            let mut table = tx.open_table(CHECKPOINTS).map_err(backend)?;
            if table.get((tenant, size)).map_err(backend)?.is_none() {
                table.insert((tenant, size), note).map_err(backend)?;
            }
            Ok(())
        })
    }

    fn checkpoints(&self, tenant: &str, from_size: u64, limit: usize) -> Result<Vec<(u64, String)>, ArchiveError> {
        check_tenant(tenant)?;
        let tx = self.db.begin_read().map_err(backend)?;
        let table = tx.open_table(CHECKPOINTS).map_err(backend)?;
        let range = table.range((tenant, from_size)..=(tenant, u64::MAX)).map_err(backend)?;
        range
            .take(limit.min(MAX_LIMIT))
            .map(|entry| entry.map(|(key, note)| (key.value().1, note.value().to_owned())).map_err(backend))
            .collect()
    }

    fn latest_checkpoint(&self, tenant: &str) -> Result<Option<(u64, String)>, ArchiveError> {
        check_tenant(tenant)?;
        let tx = self.db.begin_read().map_err(backend)?;
        let table = tx.open_table(CHECKPOINTS).map_err(backend)?;
        let last = table.range((tenant, 0)..=(tenant, u64::MAX)).map_err(backend)?.next_back();
        last.transpose().map(|entry| entry.map(|(key, note)| (key.value().1, note.value().to_owned()))).map_err(backend)
    }

    fn put_evidence_batch(&self, owner: EvidenceOwner<'_>, items: &[(&[u8; 32], &[u8])]) -> Result<(), ArchiveError> {
        let owner = check_evidence(owner, items)?;
        if items.is_empty() {
            return Ok(());
        }
        let stored_at = unix_now();
        self.write(|tx| {
            let mut evidence = tx.open_table(EVIDENCE).map_err(backend)?;
            let mut ages = tx.open_table(EVIDENCE_AGE).map_err(backend)?;
            for (key, der) in items {
                if evidence.get((owner, key.as_slice())).map_err(backend)?.is_none() {
                    evidence.insert((owner, key.as_slice()), (stored_at, *der)).map_err(backend)?;
                    ages.insert((stored_at, owner, key.as_slice()), ()).map_err(backend)?;
                }
            }
            Ok(())
        })
    }

    fn evidence(&self, owner: EvidenceOwner<'_>, key: &[u8; 32]) -> Result<Option<Vec<u8>>, ArchiveError> {
        let owner = owner_key(owner)?;
        let tx = self.db.begin_read().map_err(backend)?;
        let table = tx.open_table(EVIDENCE).map_err(backend)?;
        Ok(table.get((owner, key.as_slice())).map_err(backend)?.map(|item| item.value().1.to_vec()))
    }

    fn hold(&self, tenant: &str, certificate: &str, until: Option<i64>) -> Result<(), ArchiveError> {
        check_tenant(tenant)?;
        check_certificate(certificate)?;
        self.write(|tx| {
            let mut holds = tx.open_table(HOLDS).map_err(backend)?;
            holds.insert((tenant, certificate), until.unwrap_or(i64::MAX)).map_err(backend)?;
            Ok(())
        })
    }

    fn expire(&self, now: i64, retention_secs: i64) -> Result<ExpiryReport, ArchiveError> {
        let cutoff = cutoff(now, retention_secs)?;
        self.write(|tx| {
            let mut report = ExpiryReport::default();
            let due: Vec<(i64, String, u64, Vec<u8>)> = {
                let pending = tx.open_table(PENDING).map_err(backend)?;
                let range = pending.range(..(cutoff, "", 0)).map_err(backend)?;
                range
                    .map(|entry| {
                        entry.map_err(backend).map(|(key, meta)| {
                            let (time, tenant, index) = key.value();
                            (time, tenant.to_owned(), index, meta.value().to_vec())
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            let mut uncited: Vec<(String, [u8; 32])> = Vec::new();
            for (time, tenant, index, meta) in due {
                let meta = decode_meta(&meta)?;
                if let Some(certificate) = &meta.certificate
                    && held(tx, &tenant, certificate, now)?
                {
                    continue;
                }
                let mut leaves = tx.open_table(LEAVES).map_err(backend)?;
                let hash = leaves
                    .get((tenant.as_str(), index))
                    .map_err(backend)?
                    .and_then(|value| value.value().first_chunk::<32>().copied())
                    .ok_or_else(|| backend("pending leaf without its record"))?;
                leaves.insert((tenant.as_str(), index), hash.as_slice()).map_err(backend)?;
                tx.open_table(PENDING).map_err(backend)?.remove((time, tenant.as_str(), index)).map_err(backend)?;
                report.leaves += 1;
                let mut cites = tx.open_table(CITES).map_err(backend)?;
                for (owner, key) in meta.cited {
                    let count = cites.get((owner.as_str(), key.as_slice())).map_err(backend)?.map_or(0, |c| c.value());
                    if count <= 1 {
                        cites.remove((owner.as_str(), key.as_slice())).map_err(backend)?;
                        uncited.push((owner, key));
                    } else {
                        cites.insert((owner.as_str(), key.as_slice()), count - 1).map_err(backend)?;
                    }
                }
            }
            for (owner, key) in uncited {
                if cite_count(tx, &owner, &key)? == 0 && remove_evidence(tx, &owner, &key)? {
                    report.evidence += 1;
                }
            }
            // Evidence stored before the cut-off: removed unless cited; if cited, its last citation
            // expiring removes it (above), so its age entry is no longer needed.
            let aged: Vec<(i64, String, Vec<u8>)> = {
                let ages = tx.open_table(EVIDENCE_AGE).map_err(backend)?;
                let range = ages.range(..(cutoff, "", [].as_slice())).map_err(backend)?;
                range
                    .map(|entry| {
                        entry.map_err(backend).map(|(key, _)| {
                            let (stored_at, owner, key) = key.value();
                            (stored_at, owner.to_owned(), key.to_vec())
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            for (stored_at, owner, key) in aged {
                if cite_count(tx, &owner, &key)? == 0 {
                    if remove_evidence(tx, &owner, &key)? {
                        report.evidence += 1;
                    }
                } else {
                    let mut ages = tx.open_table(EVIDENCE_AGE).map_err(backend)?;
                    ages.remove((stored_at, owner.as_str(), key.as_slice())).map_err(backend)?;
                }
            }
            Ok(report)
        })
    }

    fn try_lead(&self) -> Result<bool, ArchiveError> {
        Ok(true)
    }
}
