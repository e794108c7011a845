//! The directory an auditor pulls (`jpkictl audit pull`) and verifies offline (`jpkictl audit
//! verify`). It is also a C2SP tlog-tiles mirror, so standard tools read it:
//!
//! ```text
//! origin               the log's origin line
//! keys.vkey            the published verifier keys, one per line
//! events.jsonl         leaf i on line i, exactly the leaf bytes, '\n' after each; an empty line
//!                      for an expired event (its payload removed under retention)
//! expired              one line per expired event, "<index> <hex RFC 9162 leaf hash>", ascending
//!                      (absent when no event expired)
//! checkpoint           the newest signed checkpoint
//! checkpoints/<size>   every checkpoint pulled so far (kept across pulls)
//! tile/<L>/<N>[.p/<W>]         hash tiles of the newest size
//! tile/entries/<N>[.p/<W>]     entry bundles (2-byte big-endian length, then the leaf; an
//!                              expired entry is empty: only its hash, in the hash tiles, remains)
//! ```
//!
//! A leaf is never empty (it is an [`AuditEvent`]'s JSON), so an empty line is unambiguous; the
//! tree is recomputed from the leaves and, for expired events, from their hashes in `expired`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use tlog_tiles::{HASH_SIZE, Hash, Tile};

use crate::AuditError;
use crate::checkpoint::{CheckpointVerifier, VerifiedCheckpoint};
use crate::event::{AuditEvent, MAX_LEAF_BYTES};
use crate::tree::{LogHashes, TILE_HEIGHT, entry_bundles, tile_path, verify_consistency};

/// The origin file.
pub const ORIGIN_FILE: &str = "origin";
/// The verifier keys file.
pub const KEYS_FILE: &str = "keys.vkey";
/// The events file.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The newest checkpoint.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// Every checkpoint pulled, by size.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// Hash tiles and entry bundles.
pub const TILE_DIR: &str = "tile";
/// The leaf hashes of expired events.
pub const EXPIRED_FILE: &str = "expired";

/// The leaf hashes of expired events, by index.
pub type Expired = BTreeMap<u64, Hash>;

/// The tree of `leaves` where the leaves of `expired` events are empty and their hashes given.
///
/// # Errors
/// [`AuditError::InvalidLeaf`] for an empty leaf without a hash, or a hash for a leaf that is not
/// empty or past the end.
pub fn tree_of<L: AsRef<[u8]>>(leaves: &[L], expired: &Expired) -> Result<LogHashes, AuditError> {
    if let Some((&index, _)) = expired.iter().next_back()
        && index >= leaves.len() as u64
    {
        return Err(AuditError::InvalidLeaf(format!("expired event {index} is past the last event")));
    }
    let mut tree = LogHashes::new();
    for (index, leaf) in (0u64..).zip(leaves) {
        let leaf = leaf.as_ref();
        match (expired.get(&index), leaf.is_empty()) {
            (Some(hash), true) => tree.push_record_hash(*hash)?,
            (None, false) => tree.push_leaf(leaf)?,
            (Some(_), false) => {
                return Err(AuditError::InvalidLeaf(format!("event {index} is listed expired yet holds a leaf")));
            }
            (None, true) => {
                return Err(AuditError::InvalidLeaf(format!("event {index} is empty without an expired leaf hash")));
            }
        };
    }
    Ok(tree)
}

/// The `expired` file's text.
fn expired_text(expired: &Expired) -> String {
    expired.iter().map(|(index, hash)| format!("{index} {}\n", hex::encode(hash.0))).collect()
}

/// Parses the `expired` file (absent: none expired).
///
/// # Errors
/// A line that is not `<index> <64 hex digits>`, or indexes not strictly ascending.
pub fn read_expired(dir: &Path) -> Result<Expired, String> {
    let path = dir.join(EXPIRED_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Expired::new()),
        Err(e) => return Err(e.to_string()),
    };
    let mut expired = Expired::new();
    for (number, line) in (1..).zip(text.lines()) {
        let parsed = line.split_once(' ').and_then(|(index, hash)| {
            let index = index.parse::<u64>().ok()?;
            let hash: [u8; HASH_SIZE] = hex::decode(hash).ok()?.try_into().ok()?;
            Some((index, Hash(hash)))
        });
        let Some((index, hash)) = parsed else {
            return Err(format!("line {number}: expected \"<index> <hex leaf hash>\""));
        };
        if expired.keys().next_back().is_some_and(|&last| last >= index) {
            return Err(format!("line {number}: indexes must ascend"));
        }
        expired.insert(index, hash);
    }
    Ok(expired)
}

/// Writing a pulled bundle (see the module docs for the layout).
#[derive(Debug, Clone, Copy)]
pub struct Bundle;

impl Bundle {
    /// Writes (or updates) the bundle in `dir`: the leaves, the verifier keys and the checkpoints,
    /// adding to the checkpoints already in `checkpoints/` and rewriting everything else. Every file
    /// is written to a temporary name and renamed into place.
    ///
    /// Nothing is written unless every checkpoint (given or already stored) verifies against
    /// `vkeys` with `origin`, no two of them disagree on a root, and the leaves produce the root of
    /// every one of them, ending exactly at the newest.
    ///
    /// Returns the newest checkpoint.
    ///
    /// # Errors
    /// [`AuditError::Checkpoint`], [`AuditError::LeavesMismatch`], [`AuditError::InvalidLeaf`],
    /// [`AuditError::LeafTooLarge`], [`AuditError::InvalidKey`], [`AuditError::Io`].
    pub fn write(
        dir: &Path,
        origin: &str,
        vkeys: &[String],
        leaves: &[Vec<u8>],
        checkpoints: &[String],
    ) -> Result<VerifiedCheckpoint, AuditError> {
        Self::write_with_expired(dir, origin, vkeys, leaves, &Expired::new(), checkpoints)
    }

    /// [`Bundle::write`] where some events expired: their leaves are empty and their leaf hashes
    /// are in `expired` (written to the `expired` file).
    ///
    /// # Errors
    /// As [`Bundle::write`]; [`AuditError::InvalidLeaf`] when `expired` and the empty leaves differ.
    pub fn write_with_expired(
        dir: &Path,
        origin: &str,
        vkeys: &[String],
        leaves: &[Vec<u8>],
        expired: &Expired,
        checkpoints: &[String],
    ) -> Result<VerifiedCheckpoint, AuditError> {
        if origin.is_empty() || origin.contains('\n') {
            return Err(AuditError::InvalidName(format!("origin {origin:?}")));
        }
        let verifier = CheckpointVerifier::new(vkeys)?;
        // By size: the checkpoint, its note, and whether checkpoints/<size> already holds it.
        let mut all: BTreeMap<u64, (VerifiedCheckpoint, Vec<u8>, bool)> = BTreeMap::new();
        for (file, note) in read_stored_checkpoints(dir)? {
            let checked = verifier
                .verify(&note, origin)
                .map_err(|e| AuditError::Checkpoint(format!("stored {file} (pass every key that signed one): {e}")))?;
            let in_dir = file != CHECKPOINT_FILE;
            add_checkpoint(&mut all, checked, note, in_dir)?;
        }
        for note in checkpoints {
            let checked = verifier.verify(note.as_bytes(), origin)?;
            add_checkpoint(&mut all, checked, note.as_bytes().to_vec(), false)?;
        }
        let Some((newest, _, _)) = all.values().next_back() else {
            return Err(AuditError::Checkpoint("no checkpoint".into()));
        };
        let newest = newest.clone();
        let count = u64::try_from(leaves.len()).map_err(|_| AuditError::OutOfRange("leaf count".into()))?;
        if count != newest.size {
            return Err(AuditError::LeavesMismatch {
                size: newest.size,
                reason: format!("{count} leaves for the newest checkpoint"),
            });
        }
        for (index, leaf) in leaves.iter().enumerate() {
            if leaf.len() > MAX_LEAF_BYTES {
                return Err(AuditError::LeafTooLarge { len: leaf.len(), max: MAX_LEAF_BYTES });
            }
            if leaf.contains(&b'\n') {
                return Err(AuditError::InvalidLeaf(format!("leaf {index} holds a newline")));
            }
        }
        let tree = tree_of(leaves, expired)?;
        for (checked, _, _) in all.values() {
            if tree.root(checked.size)? != checked.root {
                return Err(AuditError::LeavesMismatch { size: checked.size, reason: "root differs".into() });
            }
        }

        // Checked: write.
        write_atomic(dir, ORIGIN_FILE, format!("{origin}\n").as_bytes())?;
        let keys: String = verifier.vkeys().iter().map(|k| format!("{k}\n")).collect();
        write_atomic(dir, KEYS_FILE, keys.as_bytes())?;
        let mut events = Vec::with_capacity(leaves.iter().map(|l| l.len() + 1).sum());
        for leaf in leaves {
            events.extend_from_slice(leaf);
            events.push(b'\n');
        }
        write_atomic(dir, EVENTS_FILE, &events)?;
        if expired.is_empty() {
            let path = dir.join(EXPIRED_FILE);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(&path, e)),
                _ => {}
            }
        } else {
            write_atomic(dir, EXPIRED_FILE, expired_text(expired).as_bytes())?;
        }
        for (size, (_, note, in_dir)) in &all {
            if !in_dir {
                write_atomic(dir, &format!("{CHECKPOINTS_DIR}/{size}"), note)?;
            }
        }
        if let Some((_, note, _)) = all.get(&newest.size) {
            write_atomic(dir, CHECKPOINT_FILE, note)?;
        }
        let mut written: BTreeSet<PathBuf> = BTreeSet::new();
        for (path, data) in tree.tiles(newest.size)? {
            write_atomic(dir, &path, &data)?;
            written.insert(dir.join(path));
        }
        for (path, start, count) in entry_bundles(newest.size) {
            write_atomic(dir, &path, &entry_bundle(leaves, start, count))?;
            written.insert(dir.join(path));
        }
        // Tiles of an older size (earlier partial tiles) are no longer part of this mirror.
        for file in files_under(&dir.join(TILE_DIR))? {
            if !written.contains(&file) {
                fs::remove_file(&file).map_err(|e| io_error(&file, e))?;
            }
        }
        Ok(newest)
    }
}

/// Adds a checkpoint by size; the same size must carry the same root. A note already in
/// `checkpoints/` wins, so that a stored file is never rewritten.
fn add_checkpoint(
    all: &mut BTreeMap<u64, (VerifiedCheckpoint, Vec<u8>, bool)>,
    checked: VerifiedCheckpoint,
    note: Vec<u8>,
    in_dir: bool,
) -> Result<(), AuditError> {
    match all.get_mut(&checked.size) {
        Some((known, _, _)) if known.root != checked.root => Err(AuditError::Checkpoint(format!(
            "two checkpoints of size {} with different roots: the log forked",
            checked.size
        ))),
        Some(entry) => {
            if in_dir && !entry.2 {
                *entry = (checked, note, true);
            }
            Ok(())
        }
        None => {
            all.insert(checked.size, (checked, note, in_dir));
            Ok(())
        }
    }
}

/// An entry bundle: each leaf as a 2-byte big-endian length and the leaf (C2SP tlog-tiles).
fn entry_bundle<L: AsRef<[u8]>>(leaves: &[L], start: u64, count: u64) -> Vec<u8> {
    let range = usize::try_from(start).unwrap_or(usize::MAX)..usize::try_from(start + count).unwrap_or(usize::MAX);
    let mut data = Vec::new();
    for leaf in leaves.get(range).unwrap_or_default() {
        let leaf = leaf.as_ref();
        // Leaves are at most MAX_LEAF_BYTES, well below u16::MAX.
        data.extend_from_slice(&u16::try_from(leaf.len()).unwrap_or(u16::MAX).to_be_bytes());
        data.extend_from_slice(leaf);
    }
    data
}

fn io_error(path: &Path, source: std::io::Error) -> AuditError {
    AuditError::Io { path: path.display().to_string(), source }
}

/// Writes `dir/name` through a temporary file in the same directory and a rename, so that a
/// reader never sees half a file.
fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<(), AuditError> {
    let path = dir.join(name);
    let parent = path.parent().unwrap_or(dir);
    fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = parent.join(format!(".{file_name}.tmp{}", std::process::id()));
    let mut file = fs::File::create(&temp).map_err(|e| io_error(&temp, e))?;
    file.write_all(data).and_then(|()| file.sync_all()).map_err(|e| io_error(&temp, e))?;
    fs::rename(&temp, &path).map_err(|e| io_error(&path, e))
}

/// Every regular file under `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&current, e)),
        };
        for entry in entries {
            let path = entry.map_err(|e| io_error(&current, e))?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// The stored checkpoints, as (`checkpoints/<size>` or `checkpoint`, note), `checkpoint` first.
fn read_stored_checkpoints(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, AuditError> {
    let mut found = Vec::new();
    let latest = dir.join(CHECKPOINT_FILE);
    match fs::read(&latest) {
        Ok(note) => found.push((CHECKPOINT_FILE.to_owned(), note)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&latest, e)),
    }
    let mut names = Vec::new();
    let cps = dir.join(CHECKPOINTS_DIR);
    match fs::read_dir(&cps) {
        Ok(entries) => {
            for entry in entries {
                let name = entry.map_err(|e| io_error(&cps, e))?.file_name().to_string_lossy().into_owned();
                // Leftover temporary files start with a dot.
                if !name.starts_with('.') {
                    names.push(name);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(&cps, e)),
    }
    names.sort_by_key(|name| (name.parse::<u64>().unwrap_or(u64::MAX), name.clone()));
    for name in names {
        let path = cps.join(&name);
        let note = fs::read(&path).map_err(|e| io_error(&path, e))?;
        found.push((format!("{CHECKPOINTS_DIR}/{name}"), note));
    }
    Ok(found)
}

/// What a successful [`verify_dir`] checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    /// The log's origin.
    pub origin: String,
    /// Number of events, the newest checkpoint's size.
    pub size: u64,
    /// The newest checkpoint's root.
    pub root: Hash,
    /// Sizes of the checkpoints checked, ascending.
    pub checkpoints: Vec<u64>,
    /// Names of the keys whose signatures verified.
    pub key_names: Vec<String>,
    /// Time of the first event (unix seconds).
    pub first_time: Option<i64>,
    /// Time of the last event (unix seconds).
    pub last_time: Option<i64>,
    /// Hash tiles checked.
    pub tiles: usize,
    /// Entry bundles checked.
    pub entry_bundles: usize,
}

/// How an event differs from the signed log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The event's bytes differ from the logged event at this index.
    Changed,
    /// The logged event at this index is absent (removed, or the file ends here).
    Missing,
    /// The event at this index is not in the log (inserted, or past the newest checkpoint).
    Extra,
    /// The event at this index is a logged event, but from another index (reordered).
    Reordered,
    /// The file ends in the middle of this event (no final newline).
    Truncated,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Changed => "changed",
            Self::Missing => "missing",
            Self::Extra => "extra",
            Self::Reordered => "reordered",
            Self::Truncated => "truncated",
        })
    }
}

/// Why a bundle does not verify; for events, the first that does not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    /// A file is missing, unreadable or malformed (origin, keys).
    #[error("{file}: {reason}")]
    File {
        /// The file, relative to the bundle.
        file: String,
        /// Why.
        reason: String,
    },
    /// A checkpoint's signature, origin, name or consistency fails.
    #[error("checkpoint {file}: {reason}")]
    Checkpoint {
        /// The file, relative to the bundle.
        file: String,
        /// Why.
        reason: String,
    },
    /// The first event (line of events.jsonl, from 0) that does not match the signed log, located
    /// with the hash tiles (authenticated against the newest signed root) or past the newest size.
    #[error("event {index} of {EVENTS_FILE} ({}): {what}", index + 1)]
    Event {
        /// Index of the event (line number - 1).
        index: u64,
        /// How it differs.
        what: Mismatch,
    },
    /// Events do not match and the hash tiles cannot locate the first one (they are missing or do
    /// not match the signed root either): it lies in `from..to`, between the last checkpoint that
    /// matched and the first that did not.
    #[error(
        "the first event of {EVENTS_FILE} that does not match is at an index in {from}..{to} (checkpoint {to} fails; {reason})"
    )]
    EventRange {
        /// Size of the last matching checkpoint (0 if none): every event before it is authentic.
        from: u64,
        /// Size of the first checkpoint that does not match.
        to: u64,
        /// Why the tiles could not narrow it down.
        reason: String,
    },
    /// A logged event that is not a valid [`AuditEvent`] leaf (a writer's fault, not tampering).
    #[error("event {index} of {EVENTS_FILE}: malformed: {reason}")]
    MalformedEvent {
        /// Index of the event.
        index: u64,
        /// Why.
        reason: String,
    },
    /// The events match, but a hash tile or entry bundle does not agree with them.
    #[error("{file}: {reason}")]
    Tile {
        /// The tile, relative to the bundle.
        file: String,
        /// Why.
        reason: String,
    },
}

fn read_file(dir: &Path, name: &str) -> Result<Vec<u8>, VerifyFailure> {
    fs::read(dir.join(name)).map_err(|e| VerifyFailure::File { file: name.to_owned(), reason: e.to_string() })
}

/// Verifies a bundle offline, from its files alone: every checkpoint's signature (against
/// `keys.vkey`) and origin; the tree of `events.jsonl` against every checkpoint, ascending, with an
/// RFC 6962 consistency proof between each successive pair; the hash tiles and entry bundles
/// against the events. On failure it names the first event that does not match as precisely as the
/// files allow.
///
/// # Errors
/// The first [`VerifyFailure`] found.
pub fn verify_dir(dir: &Path) -> Result<VerifyReport, VerifyFailure> {
    let origin_raw = String::from_utf8(read_file(dir, ORIGIN_FILE)?)
        .map_err(|_| VerifyFailure::File { file: ORIGIN_FILE.into(), reason: "not UTF-8".into() })?;
    let origin = origin_raw.strip_suffix('\n').unwrap_or(&origin_raw).to_owned();
    if origin.is_empty() || origin.contains('\n') {
        return Err(VerifyFailure::File { file: ORIGIN_FILE.into(), reason: "not one line".into() });
    }
    let keys_raw = String::from_utf8(read_file(dir, KEYS_FILE)?)
        .map_err(|_| VerifyFailure::File { file: KEYS_FILE.into(), reason: "not UTF-8".into() })?;
    let vkeys: Vec<String> = keys_raw.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    let verifier = CheckpointVerifier::new(&vkeys)
        .map_err(|e| VerifyFailure::File { file: KEYS_FILE.into(), reason: e.to_string() })?;

    // Checkpoints: signature, origin, name, and one root per size.
    let stored = read_stored_checkpoints(dir)
        .map_err(|e| VerifyFailure::File { file: CHECKPOINTS_DIR.into(), reason: e.to_string() })?;
    let Some((first_file, _)) = stored.first() else {
        return Err(VerifyFailure::File { file: CHECKPOINT_FILE.into(), reason: "no checkpoint".into() });
    };
    if first_file != CHECKPOINT_FILE {
        return Err(VerifyFailure::File { file: CHECKPOINT_FILE.into(), reason: "missing".into() });
    }
    let mut checkpoints: BTreeMap<u64, (String, VerifiedCheckpoint)> = BTreeMap::new();
    let mut key_names = BTreeSet::new();
    let mut latest_size = 0;
    for (file, note) in &stored {
        let fail = |reason: String| VerifyFailure::Checkpoint { file: file.clone(), reason };
        let checked = verifier.verify(note, &origin).map_err(|e| fail(e.to_string()))?;
        if file == CHECKPOINT_FILE {
            latest_size = checked.size;
        } else if file.strip_prefix(&format!("{CHECKPOINTS_DIR}/")) != Some(checked.size.to_string().as_str()) {
            return Err(fail(format!("holds the checkpoint of size {}", checked.size)));
        }
        key_names.extend(checked.signed_by.iter().cloned());
        match checkpoints.get(&checked.size) {
            Some((other, known)) if known.root != checked.root => {
                return Err(fail(format!("another root than {other} for size {}: the log forked", checked.size)));
            }
            Some(_) => {}
            None => {
                checkpoints.insert(checked.size, (file.clone(), checked));
            }
        }
    }
    let Some((&size, (_, newest))) = checkpoints.iter().next_back() else {
        return Err(VerifyFailure::File { file: CHECKPOINT_FILE.into(), reason: "no checkpoint".into() });
    };
    let newest = newest.clone();
    if latest_size != size {
        return Err(VerifyFailure::Checkpoint {
            file: CHECKPOINT_FILE.into(),
            reason: format!("size {latest_size} is not the newest ({size})"),
        });
    }

    // Events: the tree, then every checkpoint against it.
    let raw = read_file(dir, EVENTS_FILE)?;
    let truncated = !raw.is_empty() && !raw.ends_with(b"\n");
    let body = raw.strip_suffix(b"\n").unwrap_or(&raw);
    let leaves: Vec<&[u8]> = if raw.is_empty() { Vec::new() } else { body.split(|&b| b == b'\n').collect() };
    let expired = read_expired(dir).map_err(|reason| VerifyFailure::File { file: EXPIRED_FILE.into(), reason })?;
    let tree = tree_of(&leaves, &expired)
        .map_err(|e| VerifyFailure::File { file: EVENTS_FILE.into(), reason: e.to_string() })?;
    let count = tree.size();
    let mut last_good = 0;
    let mut first_bad = None;
    for (&cp_size, (_, cp)) in &checkpoints {
        let matches = cp_size <= count && tree.root(cp_size).is_ok_and(|root| root == cp.root);
        if !matches {
            first_bad = Some(cp_size);
            break;
        }
        last_good = cp_size;
    }
    if let Some(bad) = first_bad {
        return Err(locate(dir, &tree, &newest, truncated, last_good, bad));
    }
    if count > size {
        return Err(VerifyFailure::Event { index: size, what: Mismatch::Extra });
    }
    if truncated {
        // Only reachable for an empty final line cut without its newline, which a leaf never is.
        return Err(VerifyFailure::Event { index: count.saturating_sub(1), what: Mismatch::Truncated });
    }

    // Successive checkpoints are prefixes of one list; check the RFC 6962 proofs as a verifier would.
    let sizes: Vec<u64> = checkpoints.keys().copied().collect();
    for pair in sizes.windows(2) {
        let (old, new) = (pair[0], pair[1]);
        let (Some((_, old_cp)), Some((new_file, new_cp))) = (checkpoints.get(&old), checkpoints.get(&new)) else {
            continue;
        };
        let proof = tree
            .consistency_proof(old, new)
            .map_err(|e| VerifyFailure::Checkpoint { file: new_file.clone(), reason: e.to_string() })?;
        verify_consistency(&proof, old, old_cp.root, new, new_cp.root)
            .map_err(|e| VerifyFailure::Checkpoint { file: new_file.clone(), reason: e.to_string() })?;
    }

    let (tiles, bundles) = check_tiles(dir, &tree, size, &leaves)?;

    let mut first_time = None;
    let mut last_time = None;
    for (index, leaf) in leaves.iter().enumerate().filter(|(index, _)| !expired.contains_key(&(*index as u64))) {
        let event = AuditEvent::from_leaf(leaf)
            .map_err(|e| VerifyFailure::MalformedEvent { index: index as u64, reason: e.to_string() })?;
        first_time.get_or_insert(event.time);
        last_time = Some(event.time);
    }
    Ok(VerifyReport {
        origin,
        size,
        root: newest.root,
        checkpoints: sizes,
        key_names: key_names.into_iter().collect(),
        first_time,
        last_time,
        tiles,
        entry_bundles: bundles,
    })
}

/// Compares every hash tile and entry bundle of the tree of `size` with the files.
fn check_tiles(dir: &Path, tree: &LogHashes, size: u64, leaves: &[&[u8]]) -> Result<(usize, usize), VerifyFailure> {
    let expected =
        tree.tiles(size).map_err(|e| VerifyFailure::Tile { file: TILE_DIR.into(), reason: e.to_string() })?;
    let tiles = expected.len();
    for (path, data) in expected {
        let found =
            fs::read(dir.join(&path)).map_err(|e| VerifyFailure::Tile { file: path.clone(), reason: e.to_string() })?;
        if found != data {
            return Err(VerifyFailure::Tile {
                file: path,
                reason: format!("does not match the tree of {EVENTS_FILE}"),
            });
        }
    }
    let bundles = entry_bundles(size);
    let count = bundles.len();
    for (path, start, width) in bundles {
        let found =
            fs::read(dir.join(&path)).map_err(|e| VerifyFailure::Tile { file: path.clone(), reason: e.to_string() })?;
        let data = entry_bundle(leaves, start, width);
        if found != data {
            let entries = parse_entry_bundle(&found);
            let differs = (0..width)
                .find(|&i| {
                    let leaf = usize::try_from(start + i).ok().and_then(|i| leaves.get(i)).copied();
                    entries.get(usize::try_from(i).unwrap_or(usize::MAX)).copied() != leaf
                })
                .unwrap_or(width);
            return Err(VerifyFailure::Tile {
                file: path,
                reason: format!("entry {} differs from {EVENTS_FILE}", start + differs),
            });
        }
    }
    Ok((tiles, count))
}

/// The entries of a bundle, up to the first that does not parse.
fn parse_entry_bundle(mut data: &[u8]) -> Vec<&[u8]> {
    let mut entries = Vec::new();
    while let [high, low, rest @ ..] = data {
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        let Some(entry) = rest.get(..len) else { break };
        entries.push(entry);
        data = &rest[len..];
    }
    entries
}

/// The leaf hashes in the level-0 hash tiles of the tree of `newest.size`, if the tiles hold them
/// all and they produce the signed root (so they are authentic).
fn authentic_leaf_hashes(dir: &Path, newest: &VerifiedCheckpoint) -> Result<Vec<Hash>, String> {
    let mut hashes = Vec::new();
    for tile in Tile::new_tiles(TILE_HEIGHT, 0, newest.size).into_iter().filter(|t| t.level() == 0) {
        let path = tile_path(&tile);
        let data = fs::read(dir.join(&path)).map_err(|e| format!("{path}: {e}"))?;
        if data.len() != tile.width() as usize * HASH_SIZE {
            return Err(format!("{path}: {} bytes", data.len()));
        }
        for chunk in data.chunks_exact(HASH_SIZE) {
            let mut hash = [0; HASH_SIZE];
            hash.copy_from_slice(chunk);
            hashes.push(Hash(hash));
        }
    }
    let mut tree = LogHashes::new();
    for hash in &hashes {
        tree.push_record_hash(*hash).map_err(|e| e.to_string())?;
    }
    if tree.root(newest.size).map_err(|e| e.to_string())? != newest.root {
        return Err("the hash tiles do not match the signed root either".into());
    }
    Ok(hashes)
}

/// Names the first event that differs from the signed log: exactly when the hash tiles are
/// authentic, otherwise as the range between the last good and the first bad checkpoint.
fn locate(
    dir: &Path,
    tree: &LogHashes,
    newest: &VerifiedCheckpoint,
    truncated: bool,
    last_good: u64,
    first_bad: u64,
) -> VerifyFailure {
    let logged = match authentic_leaf_hashes(dir, newest) {
        Ok(hashes) => hashes,
        Err(reason) => return VerifyFailure::EventRange { from: last_good, to: first_bad, reason },
    };
    let ours: Vec<Hash> = (0..tree.size()).filter_map(|index| tree.record_hash(index).ok()).collect();
    debug_assert_eq!(ours.len() as u64, tree.size());
    let end = ours.len().max(logged.len());
    for i in 0..end {
        let what = match (ours.get(i), logged.get(i)) {
            (None, _) => Mismatch::Missing,
            (Some(_), None) => Mismatch::Extra,
            (Some(mine), Some(theirs)) if mine == theirs => continue,
            (Some(mine), Some(theirs)) => {
                // Is our event logged later (so the logged one here went missing), and is the logged
                // one found later among ours (so ours here was inserted)? Both: reordered.
                let ours_later = logged[i + 1..].contains(mine);
                let theirs_later = ours[i + 1..].contains(theirs);
                match (ours_later, theirs_later) {
                    (true, true) => Mismatch::Reordered,
                    (true, false) => Mismatch::Missing,
                    (false, true) => Mismatch::Extra,
                    (false, false) if truncated && i + 1 == ours.len() => Mismatch::Truncated,
                    (false, false) => Mismatch::Changed,
                }
            }
        };
        return VerifyFailure::Event { index: i as u64, what };
    }
    VerifyFailure::EventRange {
        from: last_good,
        to: first_bad,
        reason: "the events match the hash tiles, yet not a checkpoint".into(),
    }
}
