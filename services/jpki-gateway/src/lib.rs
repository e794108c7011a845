//! The jpki-gateway gRPC server: a thin shell of tower layers and handlers around the
//! verification core, the revocation store and the tenant store.
//!
//! - [`settings`]: [`GatewayConfig`] from a TOML file plus `JPKI_GATEWAY_*` environment
//!   overrides, or the embedded default (generated test PKI, demo tenant, plaintext).
//! - [`auth`]: API keys → tenants, as a tower layer.
//! - [`quota`]: per-tenant rate and concurrency quotas, as a tower layer inside authentication.
//! - [`throttle`]: per-peer throttle of failed authentication, as a tower layer outside it.
//! - [`stack`]: [`stack::build_stack`], every tower layer in order.
//! - [`decode`], [`encode`]: requests into the application's inputs, its outcomes into messages
//!   and statuses.
//! - [`verification`], [`links`], [`status`]: the three `jpki.gateway.v1` services, each handler
//!   decode → one use case of [`jpki_app`] → encode.
//! - [`events`]: the task that turns the refresher's change sets into tenants' events.
//! - [`server`]: health, reflection, refresher, background tasks and graceful drain.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod decode;
pub mod encode;
pub mod events;
pub mod integrator;
pub mod links;
pub mod quota;
pub mod refusals;
pub mod server;
pub mod settings;
pub mod stack;
pub mod state;
pub mod status;
pub mod throttle;
pub mod tiles;
pub mod verification;

pub use server::{Gateway, MAX_MESSAGE_BYTES};
pub use settings::GatewayConfig;
