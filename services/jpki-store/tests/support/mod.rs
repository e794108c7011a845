//! Shared by the store's integration tests: a redis-server of our own on a free port (never the
//! machine's 6379), and a harness that runs one test case against `LocalStore` or `RedisStore`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod crash;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jpki_store::{JournalStore, LocalStore, RedisStore, StoreError, TenantStore};

// Not every test binary uses each of them.
#[allow(unused_imports)]
pub use jpki_testsupport::{DURABLE, RedisServer, free_port, redis_server_binary};

/// A plain connection to a test server, for inspecting keys.
pub fn raw(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url()).unwrap().get_connection_with_timeout(Duration::from_secs(5)).unwrap()
}

/// Which implementation a harness runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `LocalStore` on a temporary file.
    Local,
    /// `JournalStore` on a temporary file.
    Journal,
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

    /// A JournalStore in a fresh directory (nested, to check that `open` creates it).
    pub fn journal() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/store.journal");
        let journal = JournalStore::open(&path).unwrap();
        let reported_path = journal.path().to_path_buf();
        Harness {
            kind: Kind::Journal,
            store: Some(Arc::new(journal)),
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
        [Harness::local(), Harness::journal()].into_iter().chain(Harness::redis()).collect()
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
            Kind::Journal => {
                let journal = JournalStore::open(&self.path).unwrap();
                self.reported_path = journal.path().to_path_buf();
                Arc::new(journal)
            }
            Kind::Redis => {
                let server = self.server.as_mut().unwrap();
                server.kill_9();
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
            Kind::Local | Kind::Journal => self.reopen(),
            Kind::Redis => {
                drop(self.store.take());
                let server = self.server.as_ref().unwrap();
                let _: () = redis::cmd("DEBUG").arg("LOADAOF").query(&mut raw(server)).unwrap();
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
            Kind::Journal => {
                assert!(matches!(JournalStore::open(&self.path), Err(StoreError::InUse { .. })));
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
