//! Shared by the store's integration tests: a redis-server of our own on a free port (never the
//! machine's 6379), and a harness that runs one test case against `LocalStore` or `RedisStore`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod crash;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jpki_store::{LocalStore, RedisStore, StoreError, TenantStore};

/// The durable settings `RedisStore::connect` requires, as redis-server arguments.
pub const DURABLE: &[&str] = &["--appendonly", "yes", "--appendfsync", "always"];

/// The redis-server binary: `$REDIS_SERVER` when set (only that), else `/usr/bin/redis-server`,
/// else `redis-server` on the PATH. `None` (with a message) when there is none, unless `$CI` is
/// set: then it panics, so that CI never skips the Redis tests silently.
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
            .is_ok_and(|s| s.success());
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
            "SKIPPED: redis-server not found (tried {candidates:?}); the RedisStore cases of this test binary pass \
             without running. Install redis-server or set REDIS_SERVER; set CI to make this an error."
        );
    });
    None
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A redis-server started for one test in its own directory, killed (SIGKILL) on drop.
pub struct RedisServer {
    binary: PathBuf,
    child: Option<Child>,
    /// Its port.
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
            settings: settings.iter().map(|s| s.to_string()).collect(),
        };
        server.spawn(None);
        Some(server)
    }

    fn spawn(&mut self, port: Option<u16>) {
        for attempt in 0..5 {
            // The same port on the first restart attempt, so that clients reconnect to it.
            let port = match port {
                Some(p) if attempt == 0 => p,
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
                    break; // port taken: try another
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
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts again on the same directory (and the same port when it is still free).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        self.spawn(Some(self.port));
    }

    /// Sends a signal (`STOP`, `CONT`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// A plain connection for inspecting keys.
    pub fn raw(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection_with_timeout(Duration::from_secs(5)).unwrap()
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

/// Which implementation a harness runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `LocalStore` on a temporary file.
    Local,
    /// `RedisStore` on a redis-server of the test's own.
    Redis,
}

/// One store under test, with what it takes to reopen it.
pub struct Harness {
    pub kind: Kind,
    store: Option<Arc<dyn TenantStore>>,
    /// LocalStore's file.
    pub path: PathBuf,
    /// RedisStore's server.
    pub server: Option<RedisServer>,
    /// RedisStore's key prefix.
    pub prefix: String,
    /// What `LocalStore::path` said at the last open.
    reported_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// A LocalStore in a fresh directory (nested, to check that `open` creates it).
    pub fn local() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/store.redb");
        let local = LocalStore::open(&path).unwrap();
        let reported_path = local.path().to_path_buf();
        Harness {
            kind: Kind::Local,
            store: Some(Arc::new(local)),
            path,
            server: None,
            prefix: String::new(),
            reported_path,
            _dir: dir,
        }
    }

    /// A RedisStore on a new durable redis-server; `None` when redis-server is missing (and `$CI`
    /// is unset).
    pub fn redis() -> Option<Harness> {
        let dir = tempfile::tempdir().unwrap();
        let server = RedisServer::start(dir.path(), DURABLE)?;
        let prefix = "jpki-test:".to_owned();
        let store: Arc<dyn TenantStore> = Arc::new(RedisStore::connect(&server.url(), &prefix).unwrap());
        Some(Harness {
            kind: Kind::Redis,
            store: Some(store),
            path: PathBuf::new(),
            server: Some(server),
            prefix,
            reported_path: PathBuf::new(),
            _dir: dir,
        })
    }

    /// Both kinds that are available.
    pub fn all() -> Vec<Harness> {
        std::iter::once(Harness::local()).chain(Harness::redis()).collect()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn TenantStore> {
        self.store.as_ref().unwrap()
    }

    /// Closes the store and opens it again. LocalStore: reopens the file. RedisStore: SIGKILLs
    /// redis-server, restarts it on the same directory (state comes back from the AOF only) and
    /// connects a new store.
    pub fn reopen(&mut self) {
        let store = self.store.take().unwrap();
        assert_eq!(Arc::strong_count(&store), 1, "a clone of the store is still alive");
        drop(store);
        self.store = Some(match self.kind {
            Kind::Local => {
                let local = LocalStore::open(&self.path).unwrap();
                self.reported_path = local.path().to_path_buf();
                Arc::new(local)
            }
            Kind::Redis => {
                let server = self.server.as_mut().unwrap();
                server.kill9();
                server.restart();
                Arc::new(RedisStore::connect(&server.url(), &self.prefix).unwrap())
            }
        });
    }

    /// A cheaper reopen for many iterations: LocalStore reopens the file; RedisStore drops its
    /// connections, makes the server reload its data from the AOF on disk (`DEBUG LOADAOF`) and
    /// connects a new store.
    pub fn reload(&mut self) {
        match self.kind {
            Kind::Local => self.reopen(),
            Kind::Redis => {
                drop(self.store.take());
                let server = self.server.as_ref().unwrap();
                let _: () = redis::cmd("DEBUG").arg("LOADAOF").query(&mut server.raw()).unwrap();
                self.store = Some(Arc::new(RedisStore::connect(&server.url(), &self.prefix).unwrap()));
            }
        }
    }

    /// What only one implementation promises about handles. LocalStore: a second handle on the
    /// open file is refused, and `path` is the file. RedisStore: a second handle (another replica)
    /// shares the state, and another prefix on the same server does not.
    pub fn check_handles(&self) {
        match self.kind {
            Kind::Local => {
                assert!(matches!(LocalStore::open(&self.path), Err(StoreError::InUse { .. })));
                assert_eq!(self.reported_path, self.path);
            }
            Kind::Redis => {
                let url = self.server.as_ref().unwrap().url();
                let other = RedisStore::connect(&url, &self.prefix).unwrap();
                other.put_meta("handles-check", b"shared").unwrap();
                assert_eq!(self.store().get_meta("handles-check").unwrap(), Some(b"shared".to_vec()));
                let elsewhere = RedisStore::connect(&url, "other-prefix:").unwrap();
                assert_eq!(elsewhere.get_meta("handles-check").unwrap(), None);
            }
        }
    }
}
