//! The application layer of jpki-gateway: one place for the business rules, between the
//! transports (gRPC handlers, the CLI) and the parts they run on (the verification core, the
//! revocation store, the tenant store).
//!
//! - [`app`]: the use cases — verify a signature, issue a challenge, verify a proof, link,
//!   unlink, look up, check status, watch — each returning one typed outcome ([`outcome`]).
//! - [`audit`]: the audit event of every call, written with the call's own writes, and the
//!   tenants' transparency logs (checkpoints, proofs) for auditors.
//! - [`revocation_events`]: turning the lists' change sets into tenants' revocation events.
//! - [`trust`]: loading anchors, policies and CRL files into a verifier.
//! - [`clock`], [`tenant`]: the time and the caller every use case takes.
//! - [`directory`]: principals (tenants, auditors, operators), their API keys, authentication,
//!   and the administration use cases with their platform log.
//!
//! No gRPC, no async: a transport decodes its request, calls one use case (on a blocking thread:
//! the store fsyncs), and encodes the outcome.

pub mod app;
pub mod audit;
pub mod clock;
pub mod directory;
pub mod integrate;
pub mod outcome;
pub mod revocation_events;
pub mod tenant;
pub mod trust;

pub use app::{App, Rules};
pub use audit::{AuditLog, AuditSettings, CallContext, Evidence, LogEntry};
pub use clock::{Clock, SystemClock};
pub use integrate::IntegrationReport;
pub use outcome::AppError;
pub use tenant::{FieldPermissions, Tenant};
pub use trust::{AnchorFile, Loaded, TrustConfig};
