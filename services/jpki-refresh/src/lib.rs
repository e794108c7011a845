//! Getting revocation lists from where they live, without trusting the transport.
//!
//! [`fetch`] downloads a list over HTTP(S) with conditional GET, timeouts, a size limit and
//! retries with jittered exponential backoff, or reads it from a file or directory; DER and PEM
//! are both accepted. Nothing here decides whether a list is good: every list is checked by the
//! revocation store (signature by the issuing CA's key, dates, numbers) before it is used.

pub mod coordinate;
pub mod fetch;
pub mod ledger;
pub mod refresher;
pub mod source;

pub use coordinate::{Coordinator, RedisConfig};
pub use fetch::{FetchError, FetchOutcome, Fetched, Fetcher, HttpPolicy, Validators};
pub use ledger::{FileLedger, LedgerError, sequence_id};
pub use refresher::{ListConfig, ListStatus, RefreshConfig, RefreshEvent, Refresher, Via};
pub use source::{CrlSource, SourceError};
