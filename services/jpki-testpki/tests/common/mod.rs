//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use jpki_testpki::TestPki;

pub const SEED: u64 = 42;

pub fn pki() -> Arc<TestPki> {
    TestPki::cached(SEED).unwrap()
}

/// A fresh directory under Cargo's per-target temp dir (emptied first; one per test name).
pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("jpki-testpki").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn pem(der: &[u8]) -> String {
    jpki_testpki::keys::pem_encode("CERTIFICATE", der).unwrap()
}

pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

pub fn openssl(args: &[&str]) -> Output {
    Command::new("openssl").args(args).output().expect("openssl must be installed for these tests")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `openssl x509 -inform DER -noout -text`.
pub fn openssl_text(dir: &Path, der: &[u8]) -> String {
    let p = write(dir, "cert.der", der);
    let o = openssl(&["x509", "-inform", "DER", "-noout", "-text", "-in", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}
