//! `jpkictl store import-redb` on a real redb store: the journal holds its items, the redb file
//! is kept aside, and a second run refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use jpki_store::{JournalStore, LocalStore, TenantStore};

fn import(data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jpkictl"))
        .args(["store", "import-redb", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run jpkictl")
}

#[test]
fn a_redb_store_is_imported_into_a_journal() {
    let dir = tempfile::tempdir().unwrap();
    {
        let local = LocalStore::open(dir.path().join("store.redb")).unwrap();
        local.put_meta("refresh", b"state").unwrap();
    }
    let output = import(dir.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported 1 items"));
    assert!(dir.path().join("store.redb.imported").exists() && !dir.path().join("store.redb").exists());
    let journal = JournalStore::open(dir.path().join("store.journal")).unwrap();
    assert_eq!(journal.get_meta("refresh").unwrap().as_deref(), Some(&b"state"[..]));
    drop(journal);
    let again = import(dir.path());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no redb store to import"));
}
