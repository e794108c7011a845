//! `jpkictl audit …`: an auditor's copy of a tenant's transparency log (jpki.audit.v1.AuditService,
//! on the shared port, with an auditor's key), and its offline checks. docs/audit.md describes the
//! log; jpki-audit does every hash, proof and signature check.
//!
//! - `pull`: brings the pulled directory up to a fresh checkpoint, after checking it is consistent
//!   with the checkpoint pinned by the previous pull (split view, rewritten or shrunk log) and
//!   signed by a pinned key (or `--accept-new-keys`).
//! - `verify`: checks a pulled directory offline; names the first event that differs.
//! - `proof`: the inclusion proof of one event, against a fresh or the pinned checkpoint.
//! - `show`: events of a pulled directory, offline.
//! - `evidence`: the evidence of one event (certificate, lists, anchors), re-proved offline
//!   (module `evidence`; its own exit codes: 0 re-proved, 1 not, 2 usage or I/O).
//!
//! Exit codes: 0 done; 1 `verify` found the directory does not verify (the failure is printed);
//! 3 for anything else (a gRPC error, an unreachable gateway, a refused pull, bad input).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use jpki_api::audit::v1 as audit;
use jpki_audit::bundle::{CHECKPOINT_FILE, EVENTS_FILE, KEYS_FILE, ORIGIN_FILE, read_expired};
use jpki_audit::{
    AuditEvent, Bundle, CheckpointVerifier, Expired, Hash, VerifiedCheckpoint, VerifyFailure, VerifyReport,
    verify_consistency, verify_inclusion,
};

use crate::api::Connection;
use crate::api::client::{Rpc, RpcError};
use crate::api::output::print_json;

/// The most events StreamEvents sends in one call.
pub const MAX_EVENTS_PER_CALL: u64 = 10_000;

/// Exit code of `audit verify` when the directory does not verify.
pub const NOT_VERIFIED: i32 = 1;

/// `audit` options and subcommand.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// The shared port and an auditor's key (only `pull`, `proof` and `evidence` connect).
    #[command(flatten)]
    pub connection: Connection,
    /// The action.
    #[command(subcommand)]
    pub command: AuditCommand,
}

/// One subcommand per action.
#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Pull a tenant's log into DIR (new events only), after checking the new checkpoint is
    /// signed by a pinned key and consistent with the pinned one.
    Pull(PullArgs),
    /// Verify a pulled directory offline. Exit code: 0 verified, 1 does not verify.
    Verify {
        /// The pulled directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Prove that one event is in the log: its inclusion proof against a checkpoint.
    Proof(ProofArgs),
    /// Fetch the evidence of event INDEX into DIR/evidence/INDEX/ and re-prove its answer offline
    /// (certificate digest, lists, chain, validity, revocation). Exit code: 0 re-proved or nothing
    /// to re-prove, 1 not re-proved, 2 usage or I/O error.
    Evidence(crate::evidence::EvidenceArgs),
    /// Print events of a pulled directory (offline, not verified: run `audit verify` for that).
    Show {
        /// The pulled directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Only the event at this index (from 0).
        #[arg(long, value_name = "N")]
        index: Option<u64>,
    },
}

/// `audit pull`.
#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// The tenant whose log to pull.
    #[arg(long)]
    pub tenant: String,
    /// The directory: created on the first pull, updated by later ones.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Accept a checkpoint signed by none of the keys pinned in DIR/keys.vkey, and pin every key the
    /// gateway publishes now (a key rotation you accept).
    #[arg(long)]
    pub accept_new_keys: bool,
}

/// `audit proof`.
#[derive(clap::Args, Debug)]
pub struct ProofArgs {
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The event's index (from 0).
    #[arg(long, value_name = "N")]
    pub index: u64,
    /// A pulled directory: prove against its pinned checkpoint and keys instead of a fresh
    /// checkpoint (whose keys are trusted as the gateway serves them).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs one `audit` subcommand; returns the exit code.
pub fn run(args: &AuditArgs) -> anyhow::Result<i32> {
    let json = args.connection.json;
    match &args.command {
        AuditCommand::Verify { dir } => Ok(verify(dir, json)),
        AuditCommand::Show { dir, index } => show(dir, *index, json),
        AuditCommand::Pull(pull_args) => crate::block_on(pull(&args.connection, pull_args)),
        AuditCommand::Proof(proof_args) => crate::block_on(proof(&args.connection, proof_args)),
        AuditCommand::Evidence(evidence_args) => Ok(crate::evidence::run(&args.connection, evidence_args)),
    }
}

// ---------------------------------------------------------------------------------------------
// Decisions without the network.

/// The state a previous pull left in a directory (already verified with `verify_dir`).
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The log's origin.
    pub origin: String,
    /// The pinned verifier keys (keys.vkey).
    pub vkeys: Vec<String>,
    /// The newest checkpoint's size.
    pub size: u64,
    /// The newest checkpoint's root.
    pub root: Hash,
    /// Every leaf pulled, in order (events.jsonl); empty for an expired event.
    pub leaves: Vec<Vec<u8>>,
    /// The leaf hashes of the expired events (the `expired` file).
    pub expired: Expired,
}

/// The origin the fresh checkpoint must carry: the pinned one, or (first pull) the one the gateway
/// names, which must be `<platform>/tenant/<tenant>`.
///
/// # Errors
/// When the gateway names another origin.
pub fn expected_origin(tenant: &str, served: &str, pinned: Option<&str>) -> anyhow::Result<String> {
    if let Some(pinned) = pinned {
        if served != pinned {
            bail!("the gateway names the log {served:?}, the pulled directory holds {pinned:?}");
        }
        return Ok(pinned.to_owned());
    }
    let suffix = format!("/tenant/{tenant}");
    match served.strip_suffix(&suffix) {
        Some(platform) if !platform.is_empty() && !served.contains('\n') => Ok(served.to_owned()),
        _ => bail!("the gateway names the log of tenant {tenant} {served:?}, expected \"<platform>{suffix}\""),
    }
}

/// Which keys sign a fresh checkpoint, and which to pin.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDecision {
    /// The verified checkpoint.
    pub checkpoint: VerifiedCheckpoint,
    /// The keys to write to keys.vkey: the pinned ones, plus the served ones on a first pull or
    /// with `--accept-new-keys`.
    pub vkeys: Vec<String>,
    /// Names of the keys whose signatures verified (among `vkeys`).
    pub signed_by: Vec<String>,
    /// Whether the checkpoint is signed by a key that was not pinned (first pull or accepted rotation).
    pub new_key: bool,
    /// Keys the gateway publishes that stay unpinned (not accepted).
    pub unpinned: Vec<String>,
}

/// Verifies a fresh checkpoint `note` (origin `origin`) and decides which keys to pin. On a first
/// pull (`pinned` is `None`) the served keys are trusted; afterwards the note must be signed by a
/// pinned key, unless `accept_new_keys`.
///
/// # Errors
/// A key or note that does not verify, or a note signed by no pinned key without `accept_new_keys`.
pub fn decide_keys(
    note: &str,
    origin: &str,
    served: &[String],
    pinned: Option<&[String]>,
    accept_new_keys: bool,
) -> anyhow::Result<KeyDecision> {
    let pinned_keys: Vec<String> = pinned.unwrap_or_default().iter().map(|k| k.trim().to_owned()).collect();
    let unpinned: Vec<String> =
        served.iter().map(|k| k.trim().to_owned()).filter(|k| !pinned_keys.contains(k)).collect();
    let accept = pinned.is_none() || accept_new_keys;
    let mut all = pinned_keys.clone();
    all.extend(unpinned.iter().cloned());
    // Every known signature must be valid, by pinned and served keys alike.
    let checked = CheckpointVerifier::new(&all)
        .context("the gateway's verifier keys")?
        .verify(note.as_bytes(), origin)
        .context("the gateway's checkpoint does not verify")?;
    let by_pinned = match pinned {
        Some(keys) => CheckpointVerifier::new(keys).context(KEYS_FILE)?.verify(note.as_bytes(), origin).ok(),
        None => None,
    };
    match (by_pinned, accept) {
        (Some(by_pinned), false) => Ok(KeyDecision {
            checkpoint: by_pinned.clone(),
            vkeys: pinned_keys,
            signed_by: by_pinned.signed_by,
            new_key: false,
            unpinned,
        }),
        (by_pinned, true) => Ok(KeyDecision {
            new_key: by_pinned.is_none(),
            signed_by: checked.signed_by.clone(),
            checkpoint: checked,
            vkeys: all,
            unpinned: Vec::new(),
        }),
        (None, false) => bail!(
            "the checkpoint is signed by {} only, none of the keys pinned in {KEYS_FILE}: if the log's key was \
             rotated and you accept the new one, pass --accept-new-keys",
            checked.signed_by.join(", ")
        ),
    }
}

/// What a fresh checkpoint needs against the pinned one of size `pinned`: `Ok(Some(m))` a
/// consistency proof from `m`, `Ok(None)` nothing to fetch (first pull, empty pinned tree, or same
/// size: then [`check_pinned`] compares the roots).
///
/// # Errors
/// The log shrank.
pub fn consistency_needed(pinned: Option<u64>, new: u64) -> anyhow::Result<Option<u64>> {
    match pinned {
        Some(old) if new < old => {
            bail!("the log shrank: the pinned checkpoint has {old} events, the gateway's now {new}; nothing written")
        }
        Some(old) if old > 0 && old < new => Ok(Some(old)),
        _ => Ok(None),
    }
}

/// Checks that the pinned tree (`old_size`, `old_root`) is a prefix of the fresh checkpoint, with
/// the consistency `proof` (empty when [`consistency_needed`] asked for none).
///
/// # Errors
/// The log shrank, forked or was rewritten.
pub fn check_pinned(old_size: u64, old_root: Hash, new: &VerifiedCheckpoint, proof: &[Hash]) -> anyhow::Result<()> {
    consistency_needed(Some(old_size), new.size)?;
    verify_consistency(proof, old_size, old_root, new.size, new.root).map_err(|error| {
        anyhow::anyhow!(
            "the gateway's checkpoint of size {} is not consistent with the pinned checkpoint of size {old_size}: \
             the log forked or was rewritten ({error}); nothing written",
            new.size
        )
    })
}

/// The leaves of a pull: the ones already in the directory, then the fetched ones, which must come
/// with consecutive indexes up to `target`. An expired event (its payload removed under
/// retention) is an empty leaf with its leaf hash kept apart.
#[derive(Debug, Clone)]
pub struct Leaves {
    leaves: Vec<Vec<u8>>,
    expired: Expired,
    target: u64,
    fetched: u64,
}

impl Leaves {
    /// Starts from the pulled `leaves`, to reach `target` leaves.
    pub fn new(leaves: Vec<Vec<u8>>, target: u64) -> Self {
        Self::with_expired(leaves, Expired::new(), target)
    }

    /// Starts from the pulled `leaves` and the hashes of those that expired.
    pub fn with_expired(leaves: Vec<Vec<u8>>, expired: Expired, target: u64) -> Self {
        Self { leaves, expired, target, fetched: 0 }
    }

    /// The index of the next leaf.
    pub fn next(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The next StreamEvents range `[from, to)`, at most [`MAX_EVENTS_PER_CALL`] long; `None` when
    /// complete.
    pub fn next_range(&self) -> Option<(u64, u64)> {
        let from = self.next();
        (from < self.target).then(|| (from, self.target.min(from.saturating_add(MAX_EVENTS_PER_CALL))))
    }

    /// Adds a received entry (`end` is the end of the range asked for), whose `leaf` may be empty
    /// (expired): then `leaf_hash` places it in the tree. A leaf that is present must have the `leaf_hash` sent with it (when one is sent).
    ///
    /// # Errors
    /// An index that is not the next one or is past `end`; an expired entry without a 32-byte
    /// hash; a leaf whose hash is not the one sent.
    pub fn push_entry(&mut self, index: u64, leaf: String, leaf_hash: &[u8], end: u64) -> anyhow::Result<()> {
        let expected = self.next();
        if index != expected {
            bail!("the gateway sent event {index} where event {expected} was due (indexes must be consecutive)");
        }
        if index >= end {
            bail!("the gateway sent event {index}, past the end {end} of the range asked for");
        }
        if leaf.is_empty() {
            let hash = hash(leaf_hash, &format!("the leaf hash of expired event {index}"))?;
            self.expired.insert(index, hash);
        } else if !leaf_hash.is_empty() && jpki_audit::leaf_hash(leaf.as_bytes()).0.as_slice() != leaf_hash {
            bail!("the gateway sent event {index} with a leaf hash that is not its leaf's");
        }
        self.leaves.push(leaf.into_bytes());
        self.fetched += 1;
        Ok(())
    }

    /// How many leaves were fetched.
    pub fn fetched(&self) -> u64 {
        self.fetched
    }

    /// Every leaf (empty where expired) and the expired leaves' hashes.
    pub fn into_parts(self) -> (Vec<Vec<u8>>, Expired) {
        (self.leaves, self.expired)
    }
}

/// A 32-byte hash from the wire.
fn hash(bytes: &[u8], what: &str) -> anyhow::Result<Hash> {
    let array: [u8; 32] =
        bytes.try_into().map_err(|_| anyhow::anyhow!("{what}: {} bytes, expected 32", bytes.len()))?;
    Ok(Hash(array))
}

fn hashes(list: &[Vec<u8>], what: &str) -> anyhow::Result<Vec<Hash>> {
    list.iter().map(|bytes| hash(bytes, what)).collect()
}

// ---------------------------------------------------------------------------------------------
// Files of a pulled directory.

fn read_text(dir: &Path, name: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    std::fs::read_to_string(&path).with_context(|| format!("{}: cannot read", path.display()))
}

/// The leaves of events.jsonl, one a line (empty for an expired event).
fn read_leaves(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let path = dir.join(EVENTS_FILE);
    let raw = std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
    let Some(body) = raw.strip_suffix(b"\n") else {
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        bail!("{}: does not end with a newline", path.display());
    };
    Ok(body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect())
}

fn read_vkeys(dir: &Path) -> anyhow::Result<Vec<String>> {
    Ok(read_text(dir, KEYS_FILE)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

pub(crate) fn read_origin(dir: &Path) -> anyhow::Result<String> {
    Ok(read_text(dir, ORIGIN_FILE)?.trim_end_matches('\n').to_owned())
}

/// Whether `dir` holds a previous pull (any of its files).
fn has_pull(dir: &Path) -> bool {
    [ORIGIN_FILE, KEYS_FILE, EVENTS_FILE, CHECKPOINT_FILE].iter().any(|name| dir.join(name).exists())
}

/// The previous pull in `dir`, verified first; `None` when there is none.
fn read_pinned(dir: &Path) -> anyhow::Result<Option<Pinned>> {
    if !has_pull(dir) {
        return Ok(None);
    }
    let report = jpki_audit::bundle::verify_dir(dir)
        .map_err(|failure| anyhow::anyhow!("{}: the previous pull does not verify: {failure}", dir.display()))?;
    Ok(Some(Pinned {
        origin: report.origin,
        vkeys: read_vkeys(dir)?,
        size: report.size,
        root: report.root,
        leaves: read_leaves(dir)?,
        expired: read_expired(dir).map_err(|reason| anyhow::anyhow!("{}: {reason}", dir.display()))?,
    }))
}

/// The pulled event at `index` in `dir`: `None` when `dir` holds no pull, fewer events, or the
/// event expired.
///
/// # Errors
/// An unreadable events.jsonl.
pub(crate) fn pulled_leaf(dir: &Path, index: u64) -> anyhow::Result<Option<Vec<u8>>> {
    if !dir.join(EVENTS_FILE).exists() {
        return Ok(None);
    }
    let leaves = read_leaves(dir)?;
    Ok(usize::try_from(index).ok().and_then(|i| leaves.get(i)).filter(|leaf| !leaf.is_empty()).cloned())
}

/// The checkpoint of a pulled directory, checked against its keys and origin.
fn pinned_checkpoint(dir: &Path) -> anyhow::Result<VerifiedCheckpoint> {
    let origin = read_origin(dir)?;
    let note = read_text(dir, CHECKPOINT_FILE)?;
    CheckpointVerifier::new(&read_vkeys(dir)?)
        .with_context(|| format!("{}", dir.join(KEYS_FILE).display()))?
        .verify(note.as_bytes(), &origin)
        .with_context(|| format!("{}", dir.join(CHECKPOINT_FILE).display()))
}

/// Unix seconds in RFC 3339.
pub(crate) fn time_text(seconds: Option<i64>) -> String {
    seconds
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}

fn event_json(leaf: &[u8], index: u64) -> anyhow::Result<String> {
    let event = AuditEvent::from_leaf(leaf).with_context(|| format!("event {index}"))?;
    serde_json::to_string_pretty(&event).context("JSON")
}

// ---------------------------------------------------------------------------------------------
// Commands.

/// `audit verify`: 0 verified, [`NOT_VERIFIED`] otherwise.
fn verify(dir: &Path, json: bool) -> i32 {
    match jpki_audit::bundle::verify_dir(dir) {
        Ok(report) => {
            if json {
                print_json(&report_json(&report));
            } else {
                print!("{}", report_text(dir, &report));
            }
            0
        }
        Err(failure) => {
            if json {
                print_json(&failure_json(&failure));
            } else {
                println!("DOES NOT VERIFY  {}\n  {failure}", dir.display());
            }
            NOT_VERIFIED
        }
    }
}

fn report_text(dir: &Path, report: &VerifyReport) -> String {
    let mut out = String::new();
    let sizes: Vec<String> = report.checkpoints.iter().map(u64::to_string).collect();
    let _ = writeln!(out, "VERIFIED  {}", dir.display());
    let _ = writeln!(out, "  origin            {}", report.origin);
    let _ = writeln!(out, "  events            {}", report.size);
    let _ = writeln!(out, "  root              {}", hex::encode(report.root.0));
    let _ = writeln!(out, "  checkpoints       {} (sizes {})", sizes.len(), sizes.join(", "));
    let _ = writeln!(out, "  keys              {}", report.key_names.join(", "));
    let _ = writeln!(out, "  first event       {}", time_text(report.first_time));
    let _ = writeln!(out, "  last event        {}", time_text(report.last_time));
    let _ = writeln!(out, "  tiles             {} hash tiles, {} entry bundles", report.tiles, report.entry_bundles);
    out
}

fn report_json(report: &VerifyReport) -> serde_json::Value {
    serde_json::json!({
        "verified": true,
        "origin": report.origin,
        "size": report.size,
        "root": hex::encode(report.root.0),
        "checkpoints": report.checkpoints,
        "keys": report.key_names,
        "first_time": time_text(report.first_time),
        "last_time": time_text(report.last_time),
    })
}

fn failure_json(failure: &VerifyFailure) -> serde_json::Value {
    let mut value = serde_json::json!({ "verified": false, "failure": failure.to_string() });
    if let VerifyFailure::Event { index, what } = failure {
        value["index"] = (*index).into();
        value["what"] = what.to_string().into();
    }
    value
}

/// `audit show`.
fn show(dir: &Path, index: Option<u64>, json: bool) -> anyhow::Result<i32> {
    let leaves = read_leaves(dir)?;
    let selected: Vec<(u64, &Vec<u8>)> = match index {
        Some(index) => {
            let leaf = usize::try_from(index).ok().and_then(|i| leaves.get(i)).with_context(|| {
                format!("--index {index}: {} holds {} events", dir.join(EVENTS_FILE).display(), leaves.len())
            })?;
            vec![(index, leaf)]
        }
        None => (0u64..).zip(leaves.iter()).collect(),
    };
    let expired = read_expired(dir).map_err(|reason| anyhow::anyhow!("{}: {reason}", dir.display()))?;
    for (index, leaf) in selected {
        if leaf.is_empty() {
            let hash = expired.get(&index).map_or_else(|| "-".to_owned(), |hash| hex::encode(hash.0));
            if json {
                print_json(&serde_json::json!({ "index": index, "expired": true, "leaf_hash": hash }));
            } else {
                println!("event {index} expired (its payload was removed under retention); leaf hash {hash}");
            }
            continue;
        }
        if json {
            let event = AuditEvent::from_leaf(leaf).with_context(|| format!("event {index}"))?;
            print_json(&serde_json::json!({ "index": index, "event": event }));
        } else {
            println!("{}", event_json(leaf, index)?);
        }
    }
    Ok(0)
}

/// `audit pull`.
async fn pull(connection: &Connection, args: &PullArgs) -> anyhow::Result<i32> {
    let dir = &args.dir;
    let pinned = read_pinned(dir)?;
    let gateway = connection.connect().await?;
    let mut client = gateway.audit();
    let tenant = args.tenant.clone();

    let served = client.get_checkpoint(audit::GetCheckpointRequest { tenant: tenant.clone() }).await.rpc()?;
    let origin = expected_origin(&tenant, &served.origin, pinned.as_ref().map(|p| p.origin.as_str()))?;
    let keys = decide_keys(
        &served.note,
        &origin,
        &served.verifier_keys,
        pinned.as_ref().map(|p| p.vkeys.as_slice()),
        args.accept_new_keys,
    )?;
    let checkpoint = &keys.checkpoint;
    if served.size != checkpoint.size || hash(&served.root_hash, "root_hash")? != checkpoint.root {
        bail!("the gateway's checkpoint size or root_hash differ from its signed note");
    }

    // Split view: the pinned tree must be a prefix of the new one.
    let (old_size, leaves) = match pinned {
        Some(pinned) => {
            let proof = match consistency_needed(Some(pinned.size), checkpoint.size)? {
                Some(old) => {
                    let request = audit::GetConsistencyProofRequest {
                        tenant: tenant.clone(),
                        old_size: old,
                        new_size: checkpoint.size,
                    };
                    let answer = client.get_consistency_proof(request).await.rpc()?;
                    hashes(&answer.hashes, "consistency proof")?
                }
                None => Vec::new(),
            };
            check_pinned(pinned.size, pinned.root, checkpoint, &proof)?;
            (pinned.size, Leaves::with_expired(pinned.leaves, pinned.expired, checkpoint.size))
        }
        None => (0, Leaves::new(Vec::new(), checkpoint.size)),
    };

    let mut leaves = leaves;
    while let Some((from, to)) = leaves.next_range() {
        let request = audit::StreamEventsRequest { tenant: tenant.clone(), from, to };
        let mut stream = client.stream_events(request).await.rpc()?;
        while let Some(entry) = stream.message().await.map_err(|status| anyhow::Error::new(RpcError(status)))? {
            leaves.push_entry(entry.index, entry.leaf, &entry.leaf_hash, to)?;
        }
        if leaves.next() == from {
            bail!("the gateway's event stream [{from}, {to}) ended without an event");
        }
    }
    let fetched = leaves.fetched();
    let (leaves, expired) = leaves.into_parts();
    // Bundle::write re-reads the checkpoints already in `dir` and checks the leaves against all.
    Bundle::write_with_expired(dir, &origin, &keys.vkeys, &leaves, &expired, std::slice::from_ref(&served.note))
        .with_context(|| format!("{}: nothing written", dir.display()))?;

    let signer = keys.signed_by.join(", ");
    let note = if keys.new_key { " (newly pinned)" } else { "" };
    let root = hex::encode(checkpoint.root.0);
    if connection.json {
        print_json(&serde_json::json!({
            "tenant": tenant,
            "old_size": old_size,
            "new_size": checkpoint.size,
            "fetched": fetched,
            "root": root,
            "signed_by": keys.signed_by,
            "new_key": keys.new_key,
        }));
    } else {
        println!(
            "{tenant}: {old_size} → {} events, {fetched} fetched, root {root}, signed by {signer}{note}",
            checkpoint.size
        );
    }
    for key in &keys.unpinned {
        eprintln!("jpkictl: the gateway also publishes {key}, not pinned (--accept-new-keys pins it)");
    }
    Ok(0)
}

/// `audit proof`.
async fn proof(connection: &Connection, args: &ProofArgs) -> anyhow::Result<i32> {
    let pinned = args.dir.as_deref().map(pinned_checkpoint).transpose()?;
    let gateway = connection.connect().await?;
    let mut client = gateway.audit();
    let tenant = args.tenant.clone();
    let checkpoint = match pinned {
        Some(checkpoint) => checkpoint,
        None => {
            let served = client.get_checkpoint(audit::GetCheckpointRequest { tenant: tenant.clone() }).await.rpc()?;
            let origin = expected_origin(&tenant, &served.origin, None)?;
            decide_keys(&served.note, &origin, &served.verifier_keys, None, true)?.checkpoint
        }
    };
    if args.index >= checkpoint.size {
        bail!("--index {}: the checkpoint has {} events", args.index, checkpoint.size);
    }
    let request =
        audit::GetInclusionProofRequest { tenant: tenant.clone(), index: args.index, tree_size: checkpoint.size };
    let answer = client.get_inclusion_proof(request).await.rpc()?;
    if answer.index != args.index || answer.tree_size != checkpoint.size {
        bail!("the gateway proved event {} of size {}, not the one asked for", answer.index, answer.tree_size);
    }
    let path = hashes(&answer.hashes, "inclusion proof")?;
    verify_inclusion(&path, checkpoint.size, checkpoint.root, args.index, answer.leaf.as_bytes())
        .context("the gateway's inclusion proof does not verify")?;
    if connection.json {
        let event = AuditEvent::from_leaf(answer.leaf.as_bytes()).context("the proven event")?;
        print_json(&serde_json::json!({
            "index": args.index,
            "tree_size": checkpoint.size,
            "root": hex::encode(checkpoint.root.0),
            "event": event,
        }));
    } else {
        println!("{}", event_json(answer.leaf.as_bytes(), args.index)?);
        println!(
            "included at {} of size {} (root {}, signed by {})",
            args.index,
            checkpoint.size,
            hex::encode(checkpoint.root.0),
            checkpoint.signed_by.join(", ")
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jpki_audit::{LogHashes, LogSigner};

    const ORIGIN: &str = "jpki-gateway.example/tenant/acme";

    fn signer(name: &str, seed: u8) -> LogSigner {
        LogSigner::from_seed(name, &[seed; 32]).unwrap()
    }

    fn tree(n: u64) -> LogHashes {
        let leaves: Vec<Vec<u8>> = (0..n).map(|i| format!("leaf {i}").into_bytes()).collect();
        LogHashes::from_leaves(&leaves).unwrap()
    }

    fn checkpoint(tree: &LogHashes, size: u64) -> VerifiedCheckpoint {
        VerifiedCheckpoint { origin: ORIGIN.into(), size, root: tree.root(size).unwrap(), signed_by: vec![] }
    }

    #[test]
    fn origin_is_pinned_or_named_after_the_tenant() {
        assert_eq!(expected_origin("acme", ORIGIN, None).unwrap(), ORIGIN);
        assert_eq!(expected_origin("acme", ORIGIN, Some(ORIGIN)).unwrap(), ORIGIN);
        assert!(expected_origin("other", ORIGIN, None).is_err());
        assert!(expected_origin("acme", "/tenant/acme", None).is_err());
        let moved = "elsewhere.example/tenant/acme";
        assert!(expected_origin("acme", moved, None).is_ok());
        assert!(expected_origin("acme", moved, Some(ORIGIN)).unwrap_err().to_string().contains("holds"));
    }

    #[test]
    fn consistency_is_asked_only_between_two_nonempty_sizes() {
        assert_eq!(consistency_needed(None, 5).unwrap(), None);
        assert_eq!(consistency_needed(Some(0), 5).unwrap(), None);
        assert_eq!(consistency_needed(Some(5), 5).unwrap(), None);
        assert_eq!(consistency_needed(Some(3), 5).unwrap(), Some(3));
        let shrank = consistency_needed(Some(6), 5).unwrap_err().to_string();
        assert!(shrank.contains("shrank") && shrank.contains('6') && shrank.contains('5'), "{shrank}");
    }

    #[test]
    fn pinned_prefix_is_checked_and_a_fork_names_both_sizes() {
        let log = tree(300);
        let new = checkpoint(&log, 300);
        let proof = log.consistency_proof(120, 300).unwrap();
        check_pinned(120, log.root(120).unwrap(), &new, &proof).unwrap();
        // Same size: same root, no proof.
        check_pinned(300, log.root(300).unwrap(), &new, &[]).unwrap();
        check_pinned(0, tree(0).root(0).unwrap(), &new, &[]).unwrap();
        // A rewritten history: the pinned root of another tree of 120.
        let mut other: Vec<Vec<u8>> = (0..300).map(|i| format!("leaf {i}").into_bytes()).collect();
        other[7] = b"rewritten".to_vec();
        let forked = LogHashes::from_leaves(&other).unwrap();
        let error = check_pinned(120, forked.root(120).unwrap(), &new, &proof).unwrap_err().to_string();
        assert!(error.contains("size 300") && error.contains("size 120") && error.contains("forked"), "{error}");
        // Same size, another root.
        let error = check_pinned(300, forked.root(300).unwrap(), &new, &[]).unwrap_err().to_string();
        assert!(error.contains("forked"), "{error}");
        // A proof for other sizes.
        assert!(check_pinned(120, log.root(120).unwrap(), &new, &log.consistency_proof(121, 300).unwrap()).is_err());
        // Shrunk.
        assert!(check_pinned(301, log.root(300).unwrap(), &new, &[]).unwrap_err().to_string().contains("shrank"));
    }

    #[test]
    fn events_are_fetched_in_bounded_consecutive_ranges() {
        let pulled: Vec<Vec<u8>> = (0..3).map(|i| vec![b'a' + i]).collect();
        let mut leaves = Leaves::new(pulled, 3 + 2 * MAX_EVENTS_PER_CALL + 5);
        assert_eq!(leaves.next_range(), Some((3, 3 + MAX_EVENTS_PER_CALL)));
        // A short answer: the next range resumes after the last index received.
        for i in 3..10 {
            leaves.push_entry(i, format!("e{i}"), &[], 3 + MAX_EVENTS_PER_CALL).unwrap();
        }
        assert_eq!(leaves.next_range(), Some((10, 10 + MAX_EVENTS_PER_CALL)));
        assert!(leaves.push_entry(11, "gap".into(), &[], 20).unwrap_err().to_string().contains("consecutive"));
        assert!(leaves.push_entry(9, "repeat".into(), &[], 20).is_err());
        assert!(leaves.push_entry(10, "past the range".into(), &[], 10).is_err());
        for i in 10..(3 + 2 * MAX_EVENTS_PER_CALL + 5) {
            leaves.push_entry(i, format!("e{i}"), &[], u64::MAX).unwrap();
        }
        assert_eq!(leaves.next_range(), None);
        assert_eq!(leaves.fetched(), 2 * MAX_EVENTS_PER_CALL + 5);
        assert_eq!(leaves.into_parts().0[..4], [b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"e3".to_vec()]);
        assert_eq!(Leaves::new(vec![], 0).next_range(), None);
    }

    #[test]
    fn keys_are_pinned_on_first_use_and_rotation_needs_consent() {
        let root = tree(10).root(10).unwrap();
        let old = signer(ORIGIN, 1);
        let new = signer(&format!("{ORIGIN}/2027"), 2);
        let by_old = old.sign(ORIGIN, 10, root).unwrap();
        let by_new = new.sign(ORIGIN, 10, root).unwrap();
        let both_served = [new.vkey(), old.vkey()];

        // First pull: every served key is pinned.
        let first = decide_keys(&by_old, ORIGIN, &both_served, None, false).unwrap();
        assert_eq!(first.signed_by, vec![ORIGIN.to_owned()]);
        assert!(first.new_key && first.unpinned.is_empty());
        assert_eq!(first.vkeys.len(), 2);
        assert_eq!(first.checkpoint.size, 10);

        // Signed by the pinned key: the new served key stays unpinned.
        let pinned = [old.vkey()];
        let kept = decide_keys(&by_old, ORIGIN, &both_served, Some(&pinned), false).unwrap();
        assert!(!kept.new_key);
        assert_eq!(kept.vkeys, vec![old.vkey()]);
        assert_eq!(kept.unpinned, vec![new.vkey()]);

        // Signed by the new key only: refused, unless accepted.
        let refused = decide_keys(&by_new, ORIGIN, &both_served, Some(&pinned), false).unwrap_err().to_string();
        assert!(refused.contains("--accept-new-keys") && refused.contains("/2027"), "{refused}");
        let accepted = decide_keys(&by_new, ORIGIN, &[new.vkey()], Some(&pinned), true).unwrap();
        assert!(accepted.new_key);
        assert_eq!(accepted.signed_by, vec![new.name().to_owned()]);
        // The old key stays pinned: the older checkpoints in the directory need it.
        assert_eq!(accepted.vkeys, vec![old.vkey(), new.vkey()]);

        // Signed by an unknown key, wrong origin, or altered: refused even with consent.
        let stranger = signer(ORIGIN, 3).sign(ORIGIN, 10, root).unwrap();
        assert!(decide_keys(&stranger, ORIGIN, &both_served, Some(&pinned), true).is_err());
        assert!(decide_keys(&by_old, "x.example/tenant/acme", &both_served, None, false).is_err());
        let altered = by_old.replacen("\n10\n", "\n11\n", 1);
        assert!(decide_keys(&altered, ORIGIN, &both_served, Some(&pinned), true).is_err());
    }

    #[test]
    fn expired_entries_keep_their_hash_and_a_pull_with_them_verifies() {
        let full: Vec<Vec<u8>> = (0..5).map(event_leaf).collect();
        let mut leaves = Leaves::new(Vec::new(), 5);
        for (i, leaf) in (0u64..).zip(&full) {
            let hash = jpki_audit::leaf_hash(leaf).0;
            let text = if i == 1 || i == 4 { String::new() } else { String::from_utf8(leaf.clone()).unwrap() };
            leaves.push_entry(i, text, &hash, 5).unwrap();
        }
        // An expired entry needs its hash; a present leaf must match the hash sent with it.
        let mut more = Leaves::new(Vec::new(), 2);
        assert!(more.push_entry(0, String::new(), &[], 2).unwrap_err().to_string().contains("expired event 0"));
        let text = String::from_utf8(full[0].clone()).unwrap();
        assert!(more.push_entry(0, text, &[0; 32], 2).unwrap_err().to_string().contains("not its leaf's"));

        let (pulled, expired) = leaves.into_parts();
        assert_eq!(expired.keys().copied().collect::<Vec<_>>(), [1, 4]);
        let dir = tempfile::tempdir().unwrap();
        let log = signer(ORIGIN, 1);
        let note = log.sign(ORIGIN, 5, LogHashes::from_leaves(&full).unwrap().root(5).unwrap()).unwrap();
        Bundle::write_with_expired(dir.path(), ORIGIN, &[log.vkey()], &pulled, &expired, &[note]).unwrap();
        assert_eq!(verify(dir.path(), true), 0);
        let pinned = read_pinned(dir.path()).unwrap().unwrap();
        assert_eq!(pinned.expired, expired);
        assert_eq!(pulled_leaf(dir.path(), 1).unwrap(), None);
        assert_eq!(pulled_leaf(dir.path(), 2).unwrap(), Some(full[2].clone()));
        assert_eq!(pulled_leaf(dir.path(), 9).unwrap(), None);
        assert_eq!(show(dir.path(), Some(4), true).unwrap(), 0);
    }

    fn event_leaf(i: u64) -> Vec<u8> {
        let event = AuditEvent {
            time: 1_780_000_000 + i as i64,
            tenant: "acme".into(),
            principal: "p".into(),
            credential: "k".into(),
            rpc: "/jpki.gateway.v1.GatewayService/IssueChallenge".into(),
            request_id: format!("r{i}"),
            ..Default::default()
        };
        event.leaf().unwrap()
    }

    #[test]
    fn wire_hashes_are_32_bytes() {
        assert!(hash(&[0; 32], "h").is_ok());
        assert!(hash(&[0; 31], "h").unwrap_err().to_string().contains("31 bytes"));
    }
}
