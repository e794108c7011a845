//! The audit log's leaves, written in the same commit as the call they record.
//!
//! Each tenant has one append-only list of leaves (index 0, 1, 2, …): the leaves of its
//! transparency log (`jpki-audit` builds the Merkle tree and the checkpoints over them). The store
//! keeps the leaves opaque: one line of UTF-8 text each, no newline. What it guarantees is that a
//! call's leaf gets the tenant's next index in the same atomic, durable commit as the call's own
//! writes ([`TenantStore::write_audited`](crate::TenantStore::write_audited)): an answered call's
//! leaf is never lost, and a leaf never records a write that did not happen.
//!
//! A leaf records what the call answered, and some answers depend on the store: a proof's
//! challenge may have been used by a racing call meanwhile, a certificate may be linked to another
//! customer. The caller therefore gives one leaf per outcome the write can have
//! ([`AuditLeaves`]), and the store keeps the one that matches, inside the commit.
//!
//! A call may also keep one evidence item ([`AuditLeaves::with_evidence`]: an end-entity
//! certificate's DER under its SHA-256, per tenant, never inside a leaf) in that same commit,
//! whatever the outcome. Evidence stays pending until the archive integrator took it
//! ([`TenantStore::audit_evidence_drop`](crate::TenantStore::audit_evidence_drop)).
//!
//! # Moving leaves to the archive
//!
//! The hot store need not keep every leaf: the integrator reads
//! [`TenantStore::audit_size`](crate::TenantStore::audit_size), copies the leaves below it into
//! the long-term archive, then calls [`TenantStore::audit_trim`](crate::TenantStore::audit_trim).
//! The size stays; the leaves below the new floor
//! ([`TenantStore::audit_floor`](crate::TenantStore::audit_floor)) are gone from the hot store, and
//! [`TenantStore::audit_leaves`](crate::TenantStore::audit_leaves) answers
//! [`StoreError::AuditTrimmed`] for them. [`TenantStore::audit_tenants`](crate::TenantStore::audit_tenants)
//! lists the tenants to visit.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use jpki_core::CertId;

use crate::types::{check_customer, check_id, invalid};
use crate::{Challenge, ConsumeOutcome, LinkOutcome, LinkRecord, StoreError, VerificationRecord, WatchRequest};

/// The longest leaf, in bytes (the C2SP tlog-tiles entry bundles use 2-byte lengths).
pub const MAX_AUDIT_LEAF_LEN: usize = 16 * 1024;

/// The most leaves [`TenantStore::audit_leaves`](crate::TenantStore::audit_leaves) returns at once.
pub const MAX_AUDIT_PAGE: usize = 1024;

/// The tenant write that an audited call makes, if any.
#[derive(Clone, Debug, PartialEq)]
pub enum TenantWrite {
    /// The call writes nothing but its leaf (a read, a refusal, a stream opening or closing).
    Nothing,
    /// [`TenantStore::put_challenge`](crate::TenantStore::put_challenge), made durable.
    PutChallenge {
        /// The challenge id.
        id: String,
        /// The challenge.
        challenge: Challenge,
    },
    /// [`TenantStore::settle_proof`](crate::TenantStore::settle_proof).
    SettleProof {
        /// The challenge id.
        id: String,
        /// The time of the attempt.
        now: i64,
        /// The attempt's record when the challenge was pending.
        verified: VerificationRecord,
        /// What to watch when it passed.
        watch: Option<WatchRequest>,
    },
    /// [`TenantStore::record_verification`](crate::TenantStore::record_verification).
    RecordVerification {
        /// The record.
        record: VerificationRecord,
        /// What to watch.
        watch: Option<WatchRequest>,
    },
    /// [`TenantStore::link`](crate::TenantStore::link).
    Link {
        /// The link.
        record: LinkRecord,
    },
    /// [`TenantStore::unlink`](crate::TenantStore::unlink).
    Unlink {
        /// The customer.
        customer_id: String,
        /// The one certificate, or all of the customer's.
        certificate: Option<CertId>,
    },
}

impl TenantWrite {
    /// The outcomes this write can have: [`AuditLeaves`] must hold a leaf for each.
    pub fn outcomes(&self) -> &'static [Outcome] {
        match self {
            TenantWrite::Nothing
            | TenantWrite::PutChallenge { .. }
            | TenantWrite::RecordVerification { .. }
            | TenantWrite::Unlink { .. } => &[Outcome::Done],
            TenantWrite::SettleProof { .. } => {
                &[Outcome::Consumed, Outcome::Expired, Outcome::AlreadyUsed, Outcome::Unknown]
            }
            TenantWrite::Link { .. } => &[Outcome::Created, Outcome::AlreadyLinked, Outcome::LinkedToOther],
        }
    }
}

impl TenantWrite {
    /// Checks the write's arguments as its own method does (a watch request is checked where it
    /// is converted).
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        match self {
            TenantWrite::Nothing => Ok(()),
            TenantWrite::PutChallenge { id, challenge } => {
                check_id("challenge id", id)?;
                challenge.validate()
            }
            TenantWrite::SettleProof { id, verified, .. } => {
                check_id("challenge id", id)?;
                verified.validate()
            }
            TenantWrite::RecordVerification { record, .. } => record.validate(),
            TenantWrite::Link { record } => record.validate(),
            TenantWrite::Unlink { customer_id, certificate } => {
                check_customer(customer_id)?;
                certificate.as_ref().map_or(Ok(()), |cert| cert.validate().map_err(StoreError::from))
            }
        }
    }
}

/// What a [`TenantWrite`] answered.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteAnswer {
    /// Nothing to say (nothing, a challenge, a verification record).
    Done,
    /// The settled proof's challenge.
    Consumed(ConsumeOutcome),
    /// The link.
    Linked(LinkOutcome),
    /// How many links were removed.
    Unlinked(u32),
}

impl WriteAnswer {
    /// Which leaf this answer selects.
    pub fn outcome(&self) -> Outcome {
        match self {
            WriteAnswer::Done | WriteAnswer::Unlinked(_) => Outcome::Done,
            WriteAnswer::Consumed(ConsumeOutcome::Consumed(_)) => Outcome::Consumed,
            WriteAnswer::Consumed(ConsumeOutcome::Expired(_)) => Outcome::Expired,
            WriteAnswer::Consumed(ConsumeOutcome::AlreadyUsed { .. }) => Outcome::AlreadyUsed,
            WriteAnswer::Consumed(ConsumeOutcome::Unknown) => Outcome::Unknown,
            WriteAnswer::Linked(LinkOutcome::Created(_)) => Outcome::Created,
            WriteAnswer::Linked(LinkOutcome::AlreadyLinked(_)) => Outcome::AlreadyLinked,
            WriteAnswer::Linked(LinkOutcome::LinkedToOther { .. }) => Outcome::LinkedToOther,
        }
    }
}

/// The store's part of a call's answer, which selects the call's leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The write had one possible outcome.
    Done,
    /// The challenge was pending and is now used.
    Consumed,
    /// The challenge had expired.
    Expired,
    /// The challenge was used before.
    AlreadyUsed,
    /// The challenge is unknown to this tenant.
    Unknown,
    /// The link was made.
    Created,
    /// The same link existed.
    AlreadyLinked,
    /// The certificate is linked to another customer.
    LinkedToOther,
}

impl Outcome {
    /// The outcome's name, as the Redis scripts return it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Consumed => "consumed",
            Outcome::Expired => "expired",
            Outcome::AlreadyUsed => "already_used",
            Outcome::Unknown => "unknown",
            Outcome::Created => "created",
            Outcome::AlreadyLinked => "already_linked",
            Outcome::LinkedToOther => "linked_to_other",
        }
    }
}

/// A pending evidence item: its key (the DER's SHA-256) and the DER.
pub type EvidenceItem = ([u8; 32], Vec<u8>);

/// The largest evidence item (an end-entity certificate's DER), in bytes.
pub const MAX_EVIDENCE_LEN: usize = 16 * 1024;

/// A call's leaves, one per outcome its write can have, and the evidence kept with whichever is
/// selected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditLeaves {
    leaves: Vec<(Outcome, String)>,
    evidence: Option<([u8; 32], Vec<u8>)>,
}

impl AuditLeaves {
    /// The leaf of a write with one outcome.
    pub fn one(leaf: String) -> Self {
        AuditLeaves { leaves: vec![(Outcome::Done, leaf)], evidence: None }
    }

    /// Adds the leaf kept when the write answers `outcome`.
    pub fn with(mut self, outcome: Outcome, leaf: String) -> Self {
        self.leaves.retain(|(existing, _)| *existing != outcome);
        self.leaves.push((outcome, leaf));
        self
    }

    /// Keeps `der` (an end-entity certificate, ≤ 16 KiB) as tenant evidence under `key` (its SHA-256) in the same commit as the leaf, whatever the outcome.
    ///
    /// The item stays pending ([`TenantStore::audit_evidence`](crate::TenantStore::audit_evidence))
    /// until [`TenantStore::audit_evidence_drop`](crate::TenantStore::audit_evidence_drop); a
    /// failing write keeps neither leaf nor evidence. `write_audited` refuses
    /// ([`StoreError::InvalidInput`]) an empty or longer DER, or a key that is not its SHA-256. A
    /// second call replaces the first.
    pub fn with_evidence(mut self, key: [u8; 32], der: Vec<u8>) -> Self {
        self.evidence = Some((key, der));
        self
    }

    /// The leaf of `outcome`.
    pub fn leaf(&self, outcome: Outcome) -> Option<&str> {
        self.leaves.iter().find(|(existing, _)| *existing == outcome).map(|(_, leaf)| leaf.as_str())
    }

    /// Every (outcome, leaf).
    pub fn iter(&self) -> impl Iterator<Item = (Outcome, &str)> {
        self.leaves.iter().map(|(outcome, leaf)| (*outcome, leaf.as_str()))
    }

    /// The evidence kept with the leaf, if any: (key, DER).
    pub fn evidence(&self) -> Option<(&[u8; 32], &[u8])> {
        self.evidence.as_ref().map(|(key, der)| (key, der.as_slice()))
    }

    /// Refuses leaves that are empty, too long or hold a newline, and a set that lacks a leaf
    /// for one of `write`'s outcomes; checked before anything is written.
    pub(crate) fn validate(&self, write: &TenantWrite) -> Result<(), StoreError> {
        if let Some((key, der)) = &self.evidence {
            if der.is_empty() || der.len() > MAX_EVIDENCE_LEN {
                return Err(invalid("evidence", "must be 1 to 16384 bytes"));
            }
            if Sha256::digest(der).as_slice() != key.as_slice() {
                return Err(invalid("evidence key", "is not the SHA-256 of the evidence"));
            }
        }
        for (_, leaf) in &self.leaves {
            if leaf.is_empty() || leaf.len() > MAX_AUDIT_LEAF_LEN {
                return Err(invalid("audit leaf", "must be 1 to 16384 bytes"));
            }
            if leaf.contains('\n') {
                return Err(invalid("audit leaf", "must not contain a newline"));
            }
        }
        if write.outcomes().iter().any(|outcome| self.leaf(*outcome).is_none()) {
            return Err(invalid("audit leaves", "lack a leaf for one of the write's outcomes"));
        }
        Ok(())
    }
}

/// What [`TenantStore::write_audited`](crate::TenantStore::write_audited) did.
#[derive(Clone, Debug, PartialEq)]
pub struct Audited {
    /// The write's answer.
    pub answer: WriteAnswer,
    /// The index the call's leaf got in the tenant's log (0 for the first).
    pub index: u64,
}
