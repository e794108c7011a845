//! Real services for the test suites (never mocks): a `redis-server` of the test's own, on a free
//! port, in a directory and with the persistence settings the test chooses, killed on drop.
//!
//! Tests only: the functions panic with a clear message when the service cannot be started.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `appendonly yes` + `appendfsync always`: what "acknowledged means durable" needs on Redis 7.0.
pub const DURABLE: &[&str] = &["--save", "", "--appendonly", "yes", "--appendfsync", "always"];
/// No persistence at all.
pub const EPHEMERAL: &[&str] = &["--save", "", "--appendonly", "no"];

/// A redis-server started for one test, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port (kept across [`RedisServer::restart`]).
    pub port: u16,
    dir: PathBuf,
    persistence: Vec<String>,
}

impl RedisServer {
    /// Starts `redis-server` in `dir` with `persistence` (e.g. [`DURABLE`]) and waits until it
    /// answers PING.
    pub fn start(dir: &Path, persistence: &[&str]) -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir: dir.to_path_buf(),
            persistence: persistence.iter().map(|argument| (*argument).to_owned()).collect(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--dir", &self.dir.display().to_string()])
            .args(&self.persistence)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.cli(&["PING"]).as_deref() != Some("PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it with SIGKILL (no shutdown code runs), as a crash would.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, directory and settings (after [`RedisServer::kill_9`]).
    pub fn restart(&mut self) {
        self.kill_9();
        self.spawn();
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs redis-cli against this server; `None` when it cannot connect.
    pub fn cli(&self, arguments: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(arguments).output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        (output.status.success() && !text.starts_with("Could not connect")).then_some(text)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill_9();
    }
}
