//! The archive of every revocation list a gateway installs, content-addressed by the digest of the
//! list's tbsCertList (the identity its audit events give it, [`crate::ListMeta::tbs_digest`]), so
//! that an auditor can be shown the very list an answer rested on.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Where the list with `tbs_digest` is (or would be) kept in `dir`: `<dir>/<hex digest>.crl`.
pub fn path_of(dir: &Path, tbs_digest: &[u8]) -> PathBuf {
    dir.join(format!("{}.crl", hex::encode(tbs_digest)))
}

/// Keeps `der` under its digest in `dir`, durably: written to a temporary file, synced, renamed
/// and the directory synced, so a crash leaves the whole list or none. A list already kept is not
/// written again (the same digest is the same signed content).
pub fn keep(dir: &Path, tbs_digest: &[u8], der: &[u8]) -> std::io::Result<PathBuf> {
    let path = path_of(dir, tbs_digest);
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{}.crl.tmp-{}", hex::encode(tbs_digest), std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(der)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, &path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_kept_once_under_its_digest_and_nothing_else_is_left() {
        let dir = std::env::temp_dir().join(format!("jpki-archive-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = keep(&dir, &[0xab; 32], b"list").unwrap();
        assert_eq!(first, path_of(&dir, &[0xab; 32]));
        assert_eq!(first.file_name().unwrap().to_str().unwrap(), format!("{}.crl", "ab".repeat(32)));
        // The same digest again is the same list: not written again.
        assert_eq!(keep(&dir, &[0xab; 32], b"ignored").unwrap(), first);
        assert_eq!(std::fs::read(&first).unwrap(), b"list");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
