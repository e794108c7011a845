//! The highest cRLNumber accepted per (issuer key, scope), kept across restarts so that a
//! replayed or rolled-back list is refused even by a freshly started process.
//!
//! cRLNumber runs per issuer key and scope (RFC 5280 5.2.3): one configured source may hold
//! several partitioned lists (one per issuingDistributionPoint) or lists of several CA
//! generations (one per key), each with its own sequence, so the floor is kept per sequence, not
//! per configured list name.
//!
//! The previous format (`{ "list name": "number hex" }`, one number per configured name) cannot
//! be attributed to a (key, scope): its entries are ignored with a warning and the file is
//! rewritten in the current format at the first accepted list.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use jpki_revocation::{CrlNumber, Scope};
use serde::{Deserialize, Serialize};

/// Why the ledger could not be read or written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The state file could not be read, parsed or written durably.
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// The name of one cRLNumber sequence: the issuer key and the scope, as text fit for a Redis key
/// or a JSON object key: `KEYID/all` for a list of the whole issuer, `KEYID/dp-HASH` for a
/// partition (HASH: the first 16 bytes of the SHA-256 of the distribution point's Name DER, hex),
/// with `+user` and `+ca` for onlyContainsUserCerts and onlyContainsCACerts.
pub fn sequence_id(issuer_key_id: &[u8], scope: &Scope) -> String {
    let mut id = hex::encode(issuer_key_id);
    match &scope.distribution_point {
        None => id.push_str("/all"),
        Some(point) => {
            let digest = ring::digest::digest(&ring::digest::SHA256, point);
            id.push_str("/dp-");
            id.push_str(&hex::encode(digest.as_ref().get(..16).unwrap_or_default()));
        }
    }
    if scope.only_user_certs {
        id.push_str("+user");
    }
    if scope.only_ca_certs {
        id.push_str("+ca");
    }
    id
}

/// One sequence's floor as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Floor {
    /// Issuer key identifier, hex.
    issuer_key_id: String,
    /// The distribution point's Name DER, hex; absent for the whole issuer.
    distribution_point: Option<String>,
    only_user_certs: bool,
    only_ca_certs: bool,
    /// The highest cRLNumber accepted, big-endian hex.
    number: String,
}

/// The file: `{ "version": 2, "floors": { "<sequence id>": { … "number": "hex" } } }`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    version: u32,
    floors: BTreeMap<String, Floor>,
}

const VERSION: u32 = 2;

/// A JSON file of the highest cRLNumber per (issuer key, scope), replaced atomically (write,
/// fsync, rename, fsync the directory) on every change.
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    state: State,
    legacy: Vec<String>,
}

impl FileLedger {
    /// Opens (or starts) the ledger at `path`. A file of the previous, per-name format is read
    /// and its entries ignored, with a warning naming them (see the module documentation).
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let error = |detail: String| LedgerError::File { path: path.to_owned(), detail };
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(missing) if missing.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FileLedger { path: path.to_owned(), state: State::default(), legacy: Vec::new() });
            }
            Err(other) => return Err(error(other.to_string())),
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|parse| error(format!("not a ledger: {parse}")))?;
        if value.get("version").is_some() {
            let state: State =
                serde_json::from_value(value).map_err(|parse| error(format!("not a ledger: {parse}")))?;
            if state.version != VERSION {
                return Err(error(format!("ledger version {} is not {VERSION}", state.version)));
            }
            return Ok(FileLedger { path: path.to_owned(), state, legacy: Vec::new() });
        }
        let legacy: BTreeMap<String, String> =
            serde_json::from_value(value).map_err(|parse| error(format!("not a ledger: {parse}")))?;
        let legacy: Vec<String> = legacy.into_keys().collect();
        if !legacy.is_empty() {
            tracing::warn!(
                path = %path.display(),
                lists = ?legacy,
                "cRLNumber ledger of the previous format (one number per configured list name) ignored: its \
                 numbers cannot be attributed to an issuer key and scope; floors start again from the lists \
                 accepted from now on"
            );
        }
        Ok(FileLedger { path: path.to_owned(), state: State { version: VERSION, floors: BTreeMap::new() }, legacy })
    }

    /// The configured list names of a previous-format file whose numbers were ignored.
    pub fn legacy_names(&self) -> &[String] {
        &self.legacy
    }

    /// The highest number accepted for an issuer key and scope.
    pub fn floor(&self, issuer_key_id: &[u8], scope: &Scope) -> Option<CrlNumber> {
        let floor = self.state.floors.get(&sequence_id(issuer_key_id, scope))?;
        let bytes = hex::decode(&floor.number).ok()?;
        Some(CrlNumber::from_be_bytes(&bytes))
    }

    /// Records a number for an issuer key and scope (only ever raising it) and makes it durable
    /// before returning.
    pub fn record(&mut self, issuer_key_id: &[u8], scope: &Scope, number: &CrlNumber) -> Result<(), LedgerError> {
        if self.floor(issuer_key_id, scope).is_some_and(|floor| floor >= *number) {
            return Ok(());
        }
        let floor = Floor {
            issuer_key_id: hex::encode(issuer_key_id),
            distribution_point: scope.distribution_point.as_ref().map(hex::encode),
            only_user_certs: scope.only_user_certs,
            only_ca_certs: scope.only_ca_certs,
            number: hex::encode(number.as_be_bytes()),
        };
        self.state.version = VERSION;
        self.state.floors.insert(sequence_id(issuer_key_id, scope), floor);
        let error = |detail: std::io::Error| LedgerError::File { path: self.path.clone(), detail: detail.to_string() };
        let temporary = self.path.with_extension("tmp");
        let json = serde_json::to_vec_pretty(&self.state)
            .map_err(|detail| LedgerError::File { path: self.path.clone(), detail: detail.to_string() })?;
        let mut file = std::fs::File::create(&temporary).map_err(error)?;
        file.write_all(&json).map_err(error)?;
        file.sync_all().map_err(error)?;
        std::fs::rename(&temporary, &self.path).map_err(error)?;
        if let Some(directory) = self.path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::File::open(directory).and_then(|directory| directory.sync_all()).map_err(error)?;
        }
        self.legacy.clear();
        Ok(())
    }
}
