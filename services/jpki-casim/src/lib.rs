//! CA simulator for development and tests: serves the test PKI's CRLs over real HTTP the way
//! the CA (J-LIS) would, and fails on demand the ways a real distribution point can.
//!
//! State: the anchor CAs of a `jpki_testpki` PKI (from a directory written by
//! `jpkictl testpki generate --out DIR`, or an in-memory [`jpki_testpki::TestPki`]), the revocation
//! entries and cRLNumber of each CA's list (starting at 1, + 1 on every change), thisUpdate = now
//! at issue and nextUpdate = thisUpdate + [`SimConfig::validity`] (24 h by default).
//!
//! Endpoints (see the crate README for curl examples):
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /crl/{label}.crl` | the current DER CRL, `application/pkix-crl`, with `ETag`, `Last-Modified`; 304 on `If-None-Match` / `If-Modified-Since` |
//! | `POST /revoke` | `{"ca", "serial" \| "holder", "reason"?, "revoked_at"?}`: adds an entry, new list, answers the new number |
//! | `POST /unrevoke` | `{"ca", "serial" \| "holder"}`: removes an entry (a released hold), new list |
//! | `POST /misbehave` | `{"mode", "times"?, "ca"?, "delay_ms"?, "status"?, "size"?}`: what the next downloads get |
//! | `GET /stats` | downloads (full, not modified, misbehaved), number and entries per list |
//! | `POST /publish` | re-issues every list now (number + 1): the daily publication |
//!
//! Starting and stopping it from a tokio runtime:
//!
//! ```no_run
//! # async fn demo() -> Result<(), jpki_casim::Error> {
//! use jpki_casim::{CaSimulator, SimConfig};
//! let pki = jpki_testpki::TestPki::cached(42)?;
//! let sim = CaSimulator::from_test_pki(&pki, SimConfig::default())?;
//! let handle = sim.bind("127.0.0.1:0").await?; // or sim.spawn(listener)
//! let url = handle.crl_url("signing-card-g2"); // http://127.0.0.1:PORT/crl/signing-card-g2.crl
//! // ... run the client under test against `url` ...
//! handle.shutdown().await?;
//! # let _ = url; Ok(()) }
//! ```
//!
//! For a process that serves until a signal, use [`serve`] with a shutdown future.

mod error;
mod http;
mod sim;

pub use error::{Error, Result};
pub use http::{CRL_CONTENT_TYPE, SimHandle, serve};
pub use sim::{
    CaSimulator, CurrentCrl, DEFAULT_ERROR_STATUS, DEFAULT_HUGE_SIZE, DEFAULT_SLOW_DELAY_MS, Downloads, EntryStats,
    ListStats, MAX_HUGE_SIZE, MAX_SLOW_DELAY_MS, MIN_HUGE_SIZE, Misbehaviour, MisbehaviourSetting, Revocation,
    RevokeTarget, Revoked, SimConfig, Stats, parse_reason, parse_serial, reason_name,
};
