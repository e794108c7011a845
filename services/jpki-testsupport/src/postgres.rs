//! A real PostgreSQL server of the test's own (never a mock): `initdb` into a fresh data directory
//! inside the test's directory, `postgres` on a free port on 127.0.0.1 with its unix socket in that
//! directory too, fsync and every other setting at their defaults, stopped on drop.
//!
//! The binaries are looked up under `/usr/lib/postgresql/*/bin` (Debian's layout; they are not on
//! the PATH), the newest version first, or in `$PG_BIN` when set (only there). When they are
//! missing, [`PostgresServer::start`] returns `None` after printing a `SKIPPED` notice, unless
//! `$CI` is set: then it panics, so that CI never skips the PostgreSQL tests silently.
//!
//! initdb and postgres refuse to run as root. As root, the server's directories are given to the
//! `postgres` user and the binaries run as that user (the child's uid and gid are set at spawn, so
//! the child is the postmaster itself and [`PostgresServer::kill_9`] kills the right process).
//! Tests only: everything else panics with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::redis::free_port;

/// The directory of `initdb`, `pg_ctl`, `postgres` and `pg_isready`: `$PG_BIN` when set (only
/// that), else the newest `/usr/lib/postgresql/*/bin` holding them. `None` (with a notice) when
/// there is none, unless `$CI` is set.
pub fn postgres_bin_dir() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("PG_BIN") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => {
            let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let version = entry.file_name().to_str()?.split('.').next()?.parse().ok()?;
                    Some((version, entry.path().join("bin")))
                })
                .collect();
            found.sort();
            found.into_iter().rev().map(|(_, dir)| dir).collect()
        }
    };
    let complete =
        |dir: &PathBuf| ["initdb", "pg_ctl", "postgres", "pg_isready"].iter().all(|bin| dir.join(bin).is_file());
    if let Some(dir) = candidates.iter().find(|dir| complete(dir)) {
        return Some(dir.clone());
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL server binaries not found (tried {candidates:?}); CI must install them (apt-get install postgresql)"
        );
    }
    // Written to the process's stderr directly, not through eprintln!, which the test harness
    // captures (and hides for passing tests); once per test binary.
    static SKIP_NOTICE: std::sync::Once = std::sync::Once::new();
    SKIP_NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: PostgreSQL server binaries not found (tried {candidates:?}); the PostgreSQL tests of this binary \
             pass without running. Install postgresql or set PG_BIN; set CI to make this an error."
        );
    });
    None
}

/// A PostgreSQL server started for one test in its own directory; stopped (immediate shutdown) on
/// drop.
pub struct PostgresServer {
    bin: PathBuf,
    child: Option<Child>,
    /// Its TCP port on 127.0.0.1 (kept across restarts).
    pub port: u16,
    data: PathBuf,
    socket_dir: PathBuf,
    /// The user to run as, when this process is root: (uid, gid) of `postgres`.
    run_as: Option<(u32, u32)>,
    /// A directory of our own to remove on drop (when the test's directory was not usable).
    own_root: Option<PathBuf>,
}

/// (uid, gid) of a user, from `id`.
fn user_ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let output = Command::new("id").args([flag, user]).output().expect("run id");
        assert!(output.status.success(), "no user {user:?}: PostgreSQL cannot run as root");
        String::from_utf8_lossy(&output.stdout).trim().parse().expect("numeric id")
    };
    (id("-u"), id("-g"))
}

/// Whether every ancestor of `dir` (not `dir` itself) can be traversed by any user.
fn ancestors_traversable(dir: &Path) -> bool {
    dir.ancestors()
        .skip(1)
        .all(|ancestor| std::fs::metadata(ancestor).is_ok_and(|meta| meta.permissions().mode() & 0o001 != 0))
}

impl PostgresServer {
    /// Initialises a cluster under `dir` (`initdb -A trust -U postgres`) and starts `postgres` on
    /// a free port, waiting until it accepts connections. `None` when the binaries are missing and
    /// `$CI` is unset.
    pub fn start(dir: &Path) -> Option<PostgresServer> {
        let bin = postgres_bin_dir()?;
        let run_as = rustix::process::geteuid().is_root().then(|| user_ids("postgres"));
        let dir = std::fs::canonicalize(dir).expect("test directory");
        // The server's user must reach its directories: inside the test's directory when its
        // ancestors allow it (the test directory itself is opened for traversal), else in a
        // directory of our own under /tmp (removed on drop).
        let (root, own_root) = if run_as.is_none() || ancestors_traversable(&dir) {
            if run_as.is_some() {
                let mut permissions = std::fs::metadata(&dir).unwrap().permissions();
                permissions.set_mode(permissions.mode() | 0o711);
                std::fs::set_permissions(&dir, permissions).unwrap();
            }
            (dir.join("postgres"), None)
        } else {
            let own = PathBuf::from("/tmp").join(format!("jpki-postgres-{}-{}", std::process::id(), free_port()));
            (own.clone(), Some(own))
        };
        std::fs::create_dir_all(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = root.join("data");
        let socket_dir = root.join("socket");
        for path in [&data, &socket_dir] {
            std::fs::create_dir_all(path).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
            if let Some((uid, gid)) = run_as {
                std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
            }
        }
        let mut server = PostgresServer { bin, child: None, port: 0, data, socket_dir, run_as, own_root };
        // --no-sync: initdb's own final sync only guards the fresh cluster against a machine
        // crash, which no test simulates; the server keeps fsync on.
        let output = server
            .command("initdb")
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&server.data)
            .output()
            .expect("run initdb");
        assert!(output.status.success(), "initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        server.spawn(None);
        Some(server)
    }

    /// A command for one of the server's binaries, run as the server's user.
    fn command(&self, binary: &str) -> Command {
        let mut command = Command::new(self.bin.join(binary));
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid).env("HOME", &self.socket_dir);
        }
        command.stdin(Stdio::null());
        command
    }

    fn spawn(&mut self, port: Option<u16>) {
        // A restart keeps its port: a killed postmaster's backends may need a moment to exit
        // before the shared memory and port are free, so it is retried on that port.
        let attempts = if port.is_some() { 200 } else { 5 };
        for _ in 0..attempts {
            let port = port.unwrap_or_else(free_port);
            let mut child = self
                .command("postgres")
                .arg("-D")
                .arg(&self.data)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                .arg("-k")
                .arg(&self.socket_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn postgres");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if self.ready(child.id(), port) {
                    self.child = Some(child);
                    self.port = port;
                    return;
                }
                if child.try_wait().unwrap().is_some() {
                    break; // The port was taken, or the old server is still going away: again.
                }
                assert!(Instant::now() < deadline, "postgres did not start on port {port}");
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("postgres did not start after {attempts} attempts");
    }

    /// Whether our postmaster (`pid`) accepts connections: its `postmaster.pid` names it and says
    /// `ready` (not another test's server on the same port), and `pg_isready` agrees.
    fn ready(&self, pid: u32, port: u16) -> bool {
        let Ok(status) = std::fs::read_to_string(self.data.join("postmaster.pid")) else { return false };
        let lines: Vec<&str> = status.lines().collect();
        if lines.first() != Some(&pid.to_string().as_str()) || lines.get(7).is_none_or(|line| line.trim() != "ready") {
            return false;
        }
        Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres", "-d", "postgres", "-t", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The key-value connection string through the unix socket (`host=/socket/dir ...`).
    pub fn socket_url(&self) -> String {
        format!("host={} port={} user=postgres dbname=postgres", self.socket_dir.display(), self.port)
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        crate::process::pid(&self.child)
    }

    /// SIGKILL to the postmaster, as a crash would (no shutdown code runs), and wait for it to be
    /// gone. Its backends notice and exit on their own.
    pub fn kill_9(&mut self) {
        crate::process::kill_9(&mut self.child);
    }

    /// Starts again on the same data directory and port, after [`PostgresServer::kill_9`]: the
    /// server runs crash recovery from its WAL.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill it first");
        self.spawn(Some(self.port));
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGQUIT: immediate shutdown (the postmaster stops its backends, without a checkpoint).
            if let Some(pid) = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap_or(0)) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(root) = self.own_root.take() {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}
