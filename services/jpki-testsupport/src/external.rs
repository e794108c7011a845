//! The Python venv of the external-client tests (`services/jpki-gateway/tests/external/setup.sh`:
//! grpcurl, grpcio, aics-tlog), found the same way by every suite that uses it.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The repository's root.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv of setup.sh (`$JPKI_EXTERNAL_VENV`, default `<repo>/target/external-venv`), complete
/// for the current requirements.txt. `None`, after a message naming `who` needs it, when it is
/// missing outside CI; in CI (`CI` set, and not `0` or `false`) a missing venv is a failure,
/// never a skip.
pub fn venv(who: &str) -> Option<PathBuf> {
    let path = std::env::var_os("JPKI_EXTERNAL_VENV")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/external-venv"));
    let requirements =
        std::fs::read_to_string(repo_root().join("services/jpki-gateway/tests/external/requirements.txt"))
            .unwrap_or_default();
    let stamp = std::fs::read_to_string(path.join(".jpki-external-requirements")).ok();
    let problem = if !path.join("bin/python").is_file() {
        "no venv there"
    } else if stamp.as_deref() != Some(requirements.as_str()) {
        "it was not completed for the current requirements.txt"
    } else {
        return Some(path);
    };
    let message = format!(
        "{who} need the Python venv at {} ({problem}); run services/jpki-gateway/tests/external/setup.sh",
        path.display()
    );
    let in_ci = std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"));
    assert!(!in_ci, "{message}");
    // Straight to stderr, past the test harness's capture, so that the skip is seen.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {message}");
    None
}
