//! Real services for the test suites (never mocks): a `redis-server` of the test's own, on a free
//! port (never the machine's 6379), in a directory and with the persistence settings the test
//! chooses, killed on drop.
//!
//! When redis-server is missing, [`RedisServer::start`] returns `None` after printing a `SKIPPED`
//! notice, unless `$CI` is set: then it panics, so that CI never skips the Redis tests silently.
//! Tests only: everything else panics with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `appendonly yes` + `appendfsync always`: what "acknowledged means durable" needs on Redis 7.0.
pub const DURABLE: &[&str] = &["--appendonly", "yes", "--appendfsync", "always"];
/// No persistence at all.
pub const EPHEMERAL: &[&str] = &["--appendonly", "no"];

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The redis-server binary: `$REDIS_SERVER` when set (only that), else `/usr/bin/redis-server`,
/// else `redis-server` on the PATH. `None` (with a notice) when there is none, unless `$CI` is set.
pub fn redis_server_binary() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("REDIS_SERVER") {
        Some(path) => vec![PathBuf::from(path)],
        None => vec![PathBuf::from("/usr/bin/redis-server"), PathBuf::from("redis-server")],
    };
    for candidate in &candidates {
        let works = Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if works {
            return Some(candidate.clone());
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("redis-server not found (tried {candidates:?}); CI must install it (apt-get install redis-server)");
    }
    // Written to the process's stderr directly, not through eprintln!, which the test harness
    // captures (and hides for passing tests); once per test binary.
    static SKIP_NOTICE: std::sync::Once = std::sync::Once::new();
    SKIP_NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: redis-server not found (tried {candidates:?}); the Redis tests of this binary pass without \
             running. Install redis-server or set REDIS_SERVER; set CI to make this an error."
        );
    });
    None
}

/// A redis-server started for one test in its own directory, killed (SIGKILL) on drop.
pub struct RedisServer {
    binary: PathBuf,
    child: Option<Child>,
    /// Its port (kept across restarts when still free).
    pub port: u16,
    dir: PathBuf,
    settings: Vec<String>,
}

impl RedisServer {
    /// Starts redis-server in `dir` (its AOF lives there) with `settings` (e.g. [`DURABLE`]) and
    /// waits until it answers PING. `None` when redis-server is missing and `$CI` is unset.
    pub fn start(dir: &Path, settings: &[&str]) -> Option<RedisServer> {
        let binary = redis_server_binary()?;
        let mut server = RedisServer {
            binary,
            child: None,
            port: 0,
            dir: dir.to_path_buf(),
            settings: settings.iter().map(|setting| (*setting).to_owned()).collect(),
        };
        server.spawn(None);
        Some(server)
    }

    fn spawn(&mut self, port: Option<u16>) {
        for attempt in 0..5 {
            // The same port on the first restart attempt, so that clients reconnect to it.
            let port = match port {
                Some(port) if attempt == 0 => port,
                _ => free_port(),
            };
            let mut child = Command::new(&self.binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--daemonize", "no"])
                .args(["--dir", &self.dir.display().to_string(), "--save", ""])
                .args(["--enable-debug-command", "local"])
                .args(&self.settings)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if ping(port) {
                    self.child = Some(child);
                    self.port = port;
                    return;
                }
                if child.try_wait().unwrap().is_some() {
                    break; // The port was taken: try another.
                }
                assert!(Instant::now() < deadline, "redis-server did not start on port {port}");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        panic!("redis-server did not start after 5 attempts");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        crate::process::pid(&self.child)
    }

    /// SIGKILL, as a crash would (no shutdown code runs), and wait for the process to be gone.
    pub fn kill_9(&mut self) {
        crate::process::kill_9(&mut self.child);
    }

    /// Starts again on the same directory and settings (and the same port when it is still free),
    /// after [`RedisServer::kill_9`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        self.spawn(Some(self.port));
    }

    /// Sends a signal (`STOP`, `CONT`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
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
        if let Some(mut child) = self.child.take() {
            // A stopped server ignores nothing but SIGKILL; continue it anyway for tidiness.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a server on `port` answers `+PONG` (not `-LOADING`).
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
