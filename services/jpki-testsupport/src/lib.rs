//! What the test suites, benchmarks and fuzz targets share, and nothing else uses: it is only ever
//! a dev-dependency (the fuzz crate, itself test tooling, is the one normal user).
//!
//! - [`fixtures`]: the bridge between the test PKI and the verifier (kinds, policies, a verifier
//!   trusting the test PKI's anchors, the shared seed and validation time), re-exported here.
//! - [`external`]: the Python venv of the external-client tests (grpcurl, grpcio, aics-tlog).
//! - [`redis`]: a real `redis-server` of the test's own on a free port (never a mock), re-exported
//!   here.
//! - [`postgres`]: a real PostgreSQL server of the test's own on a free port (never a mock).

pub mod external;
pub mod fixtures;
pub mod postgres;
mod process;
pub mod redis;

pub use fixtures::*;
pub use postgres::PostgresServer;
pub use redis::*;
