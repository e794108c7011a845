//! The child process of a test's own server (Redis, PostgreSQL): what both do with it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Child;

/// The running server's process id (panics when it is not running).
pub(crate) fn pid(child: &Option<Child>) -> u32 {
    child.as_ref().expect("running").id()
}

/// SIGKILL, as a crash would (no shutdown code runs), and wait for the process to be gone.
pub(crate) fn kill_9(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
