//! The pure core of the gateway's per-tenant transparency log.
//!
//! - [`event`]: [`AuditEvent`], the leaf: one compact JSON line per answered (or refused) call, in
//!   which documents, challenges and customer ids appear only as digests.
//! - [`tree`]: [`LogHashes`], the RFC 6962 Merkle tree over the leaves, with inclusion and
//!   consistency proofs and the C2SP tlog-tiles hash tiles.
//! - [`checkpoint`]: C2SP tlog-checkpoint bodies signed as C2SP signed notes (Ed25519), and their
//!   verification against several published keys (rotation with overlap).
//! - [`bundle`]: the directory an auditor pulls (also a tlog-tiles mirror) and its offline
//!   verification, which names the first event that does not match.
//!
//! No I/O happens outside [`bundle`]; the gateway owns storage and the signing seed.

pub mod bundle;
pub mod checkpoint;
pub mod event;
pub mod tree;

pub use bundle::{Bundle, Expired, Mismatch, VerifyFailure, VerifyReport};
pub use checkpoint::{CheckpointVerifier, LogSigner, VerifiedCheckpoint, origin};
pub use event::{AuditEvent, CertRef, ListRelied, MAX_LEAF_BYTES, digest_bytes, sha256_hex};
pub use tlog_tiles::Hash;
pub use tree::{LogHashes, leaf_hash, verify_consistency, verify_inclusion};

/// Everything that can go wrong in this crate outside [`bundle::verify_dir`] (which reports a
/// [`VerifyFailure`]).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An event could not be encoded or a leaf could not be decoded.
    #[error("audit event encoding: {0}")]
    Encoding(#[from] serde_json::Error),
    /// A leaf is larger than [`MAX_LEAF_BYTES`].
    #[error("leaf of {len} bytes exceeds the {max}-byte limit")]
    LeafTooLarge {
        /// The leaf's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A leaf is not a version this crate reads, or is not one line.
    #[error("invalid leaf: {0}")]
    InvalidLeaf(String),
    /// A tree size or index outside the tree.
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// The tree library refused (should not happen for a tree built here).
    #[error("tree: {0}")]
    Tree(#[from] tlog_tiles::Error),
    /// A proof did not verify.
    #[error("proof does not verify: {0}")]
    InvalidProof(String),
    /// An origin, platform, tenant or key name that the formats do not allow.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// A verifier key that does not parse, or two different keys under one name and id.
    #[error("invalid verifier key {vkey:?}: {reason}")]
    InvalidKey {
        /// The offending key as given.
        vkey: String,
        /// Why.
        reason: String,
    },
    /// A checkpoint that does not parse or does not verify.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The leaves do not produce the signed root of a checkpoint (the bundle is not written).
    #[error("leaves do not match the checkpoint of size {size}: {reason}")]
    LeavesMismatch {
        /// The checkpoint's size.
        size: u64,
        /// Why.
        reason: String,
    },
    /// File system error while writing a bundle.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}
