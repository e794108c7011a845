//! National-scale compact CRL store for JPKI.
//!
//! JPKI lists hold tens of millions of entries (10M entries are about 410-490 MB of DER). This
//! crate loads them without building a tree and answers lookups from a compact, immutable index:
//!
//! - [`parse`]: a streaming CRL parser that walks `tbsCertList` once, hashing it as it goes;
//! - [`verify`]: selects the issuing anchor by key, checks the signature on that digest and that
//!   the anchor may sign lists (cRLSign, valid at the load time and at thisUpdate);
//! - [`compact`]: [`CompactList`], a sorted fixed-width index (24 bytes per entry plus a small
//!   two-level directory) with sub-microsecond lookups;
//! - [`store`]: [`RevocationStore`], a [`jpki_core::RevocationSource`] holding several lists per
//!   issuer key, each with its scope, judged for freshness at query time, swapped atomically,
//!   protected against replays and rollbacks by cRLNumber, a newer list not yet valid kept pending
//!   beside the one in use;
//! - [`changes`]: every change of a certificate's status between two consecutive views (held,
//!   revoked, released), deltas included.
//!
//! No I/O and no clock: callers pass the bytes and the time.
//!
//! ```no_run
//! use std::sync::Arc;
//! use jpki_core::{RevocationSource, TrustAnchor, UnixTime};
//! use jpki_revocation::RevocationStore;
//!
//! # fn demo(anchors: Vec<TrustAnchor>, daily_crl: &[u8]) -> Result<(), jpki_revocation::LoadError> {
//! // Lists stay usable for one hour after their nextUpdate.
//! let store = Arc::new(RevocationStore::new(anchors, 3600));
//! let now = UnixTime(1_780_272_000);
//! let summary = store.load("signing-ca-g2.crl", daily_crl, now)?;
//! println!("loaded CRL {} with {} entries", summary.crl_number, summary.entries);
//! // Hand `store.clone()` to the verifier as the kind's revocation source.
//! let _source: Arc<dyn RevocationSource> = store;
//! # Ok(()) }
//! ```

pub mod archive;
pub mod changes;
pub mod compact;
pub mod error;
pub mod parse;
pub mod store;
pub mod verify;

pub use changes::{ChangeSet, ListedChange, StatusChange, change_set};
pub use compact::{CompactList, Entry, ListMeta};
pub use error::LoadError;
pub use parse::{CrlNumber, ParsedCrl, RawEntry, Scope, parse_crl};
pub use store::{ListSummary, ListView, RevocationStore};
