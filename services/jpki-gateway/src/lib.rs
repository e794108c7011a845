//! The jpki-gateway gRPC server: a thin shell of tower layers and handlers around the
//! verification core, the revocation store and the tenant store.
//!
//! - [`settings`]: [`GatewayConfig`] from a TOML file plus `JPKI_GATEWAY_*` environment
//!   overrides, or the embedded default (generated test PKI, demo tenant, plaintext).
//! - [`config`]: loading trust (anchors, policies, CRL files) into a verifier; shared with jpkictl.
//! - [`tenant`]: API keys → tenants (a tonic interceptor), four-field permissions.
//! - [`verification`], [`links`], [`status`]: the three `jpki.gateway.v1` services.
//! - [`events`]: revocation events for tenants, fed by the refresher's change sets.
//! - [`layers`], [`server`]: the tower stack, health, reflection, refresher and graceful drain.

pub mod config;
pub mod convert;
pub mod errors;
pub mod events;
pub mod layers;
pub mod links;
pub mod server;
pub mod settings;
pub mod state;
pub mod status;
pub mod tenant;
pub mod verification;

pub use config::{AnchorFile, Loaded, TrustConfig};
pub use server::{Gateway, MAX_MESSAGE_BYTES};
pub use settings::GatewayConfig;
