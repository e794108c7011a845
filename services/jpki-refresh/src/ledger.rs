//! The highest cRLNumber accepted per list, kept across restarts so that a replayed or
//! rolled-back list is refused even by a freshly started process.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use jpki_revocation::CrlNumber;

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

/// A JSON file `{ "list name": "cRLNumber hex" }`, replaced atomically (write, fsync, rename,
/// fsync the directory) on every change.
#[derive(Debug)]
pub struct FileLedger {
    path: PathBuf,
    numbers: BTreeMap<String, String>,
}

impl FileLedger {
    /// Opens (or starts) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let error = |detail: String| LedgerError::File { path: path.to_owned(), detail };
        let numbers = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|parse| error(format!("not a ledger: {parse}")))?,
            Err(missing) if missing.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(other) => return Err(error(other.to_string())),
        };
        Ok(FileLedger { path: path.to_owned(), numbers })
    }

    /// The highest number accepted for a list.
    pub fn floor(&self, list: &str) -> Option<CrlNumber> {
        let bytes = hex::decode(self.numbers.get(list)?).ok()?;
        Some(CrlNumber::from_be_bytes(&bytes))
    }

    /// Records a number (only ever raising it) and makes it durable before returning.
    pub fn record(&mut self, list: &str, number: &CrlNumber) -> Result<(), LedgerError> {
        if self.floor(list).is_some_and(|floor| floor >= *number) {
            return Ok(());
        }
        self.numbers.insert(list.to_owned(), hex::encode(number.as_be_bytes()));
        let error = |detail: std::io::Error| LedgerError::File { path: self.path.clone(), detail: detail.to_string() };
        let temporary = self.path.with_extension("tmp");
        let json = serde_json::to_vec_pretty(&self.numbers)
            .map_err(|detail| LedgerError::File { path: self.path.clone(), detail: detail.to_string() })?;
        let mut file = std::fs::File::create(&temporary).map_err(error)?;
        file.write_all(&json).map_err(error)?;
        file.sync_all().map_err(error)?;
        std::fs::rename(&temporary, &self.path).map_err(error)?;
        if let Some(directory) = self.path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::File::open(directory).and_then(|directory| directory.sync_all()).map_err(error)?;
        }
        Ok(())
    }
}
