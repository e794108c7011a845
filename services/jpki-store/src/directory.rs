//! The directory: the platform's principals (tenants, auditors, operators) and their credentials,
//! as small JSON documents under string keys, and the platform log of administrative actions.
//!
//! The store keeps the documents opaque (their schema is the application's, `jpki_app::directory`);
//! what it guarantees is that one [`DirectoryWrite`] applies whole or not at all, together with
//! its platform-log entry, and only if every expected value still holds (optimistic concurrency:
//! two operators updating one tenant at once cannot lose either change silently).

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::types::{check_len, invalid};

/// The longest directory key.
pub const MAX_DIRECTORY_KEY_LEN: usize = 256;
/// The longest directory value or platform-log entry.
pub const MAX_DIRECTORY_VALUE_LEN: usize = 64 * 1024;

/// One atomic change of the directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryWrite {
    /// Each key's value as the writer read it (`None`: absent). If any differs now, nothing is
    /// written and the answer is [`DirectoryOutcome::Conflict`].
    pub expect: Vec<(String, Option<String>)>,
    /// Keys to set.
    pub put: Vec<(String, String)>,
    /// Keys to remove.
    pub delete: Vec<String>,
    /// The platform-log entry of this change, appended with the next sequence (`None`: the change
    /// is not an administrative action, e.g. a credential's last-used time).
    pub log: Option<String>,
}

impl DirectoryWrite {
    /// Refuses empty or oversized keys and values.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        let keys =
            self.expect.iter().map(|(key, _)| key).chain(self.put.iter().map(|(key, _)| key)).chain(&self.delete);
        for key in keys {
            if key.is_empty() {
                return Err(invalid("directory key", "is empty"));
            }
            check_len("directory key", key, MAX_DIRECTORY_KEY_LEN)?;
        }
        let values = self
            .expect
            .iter()
            .filter_map(|(_, value)| value.as_ref())
            .chain(self.put.iter().map(|(_, value)| value))
            .chain(&self.log);
        for value in values {
            check_len("directory value", value, MAX_DIRECTORY_VALUE_LEN)?;
        }
        Ok(())
    }

    /// Whether every expectation holds, given a way to read the current value of a key.
    pub(crate) fn expectations_hold<E>(
        &self,
        mut current: impl FnMut(&str) -> Result<Option<String>, E>,
    ) -> Result<bool, E> {
        for (key, expected) in &self.expect {
            if current(key)? != *expected {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// What a [`DirectoryWrite`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectoryOutcome {
    /// Written, durably; the sequence of its platform-log entry, if it had one.
    Applied {
        /// The log entry's sequence (1, 2, …).
        log_sequence: Option<u64>,
    },
    /// An expected value did not hold: nothing was written. Read again and retry.
    Conflict,
}

/// One platform-log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformLogEntry {
    /// Its sequence, from 1.
    pub sequence: u64,
    /// The entry as written.
    pub entry: String,
}
