//! Authentication: every API call runs as one tenant, named by its API key. [`AuthenticateLayer`]
//! is a tower layer in the server's one stack; health and reflection are exempt.
//!
//! Keys are compared by SHA-256 digest, so configuration files need only hold the digest, and the
//! lookup time does not depend on how much of a guessed key is right.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::bail;
use jpki_app::tenant::FOUR_FIELDS;
use jpki_app::{FieldPermissions, Tenant};
use tonic::{Request, Status};

use crate::settings::TenantSettings;

/// The configured tenants, by API-key digest.
#[derive(Clone, Debug, Default)]
pub struct Tenants {
    by_key_digest: HashMap<[u8; 32], Arc<Tenant>>,
}

fn digest(key: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(digest.as_ref());
    bytes
}

impl Tenants {
    /// Checks the settings: valid ids, exactly one key form per tenant, no key shared by two
    /// tenants, known field names.
    pub fn from_settings(settings: &[TenantSettings]) -> anyhow::Result<Self> {
        let mut by_key_digest = HashMap::new();
        let mut ids = std::collections::HashSet::new();
        for tenant in settings {
            if !ids.insert(tenant.id.as_str()) {
                // Two entries would share one tenant's data under different permissions.
                bail!("tenants: {:?} is configured twice", tenant.id);
            }
            let Ok(id) = jpki_store::TenantId::new(&tenant.id) else {
                bail!("tenants: invalid id {:?} (1 to 64 of A-Z a-z 0-9 _ . -)", tenant.id);
            };
            let key_digest = match (&tenant.api_key, &tenant.api_key_sha256) {
                (Some(key), None) if !key.is_empty() => digest(key.as_bytes()),
                (None, Some(hex_digest)) => {
                    let mut bytes = [0u8; 32];
                    if hex::decode_to_slice(hex_digest.trim(), &mut bytes).is_err() {
                        bail!("tenants.{}: api_key_sha256 must be 64 hex digits", tenant.id);
                    }
                    bytes
                }
                _ => bail!("tenants.{}: set exactly one of api_key or api_key_sha256", tenant.id),
            };
            let fields = FieldPermissions::from_names(&tenant.four_fields).map_err(|other| {
                anyhow::anyhow!("tenants.{}: unknown field {other:?} (one of {FOUR_FIELDS:?})", tenant.id)
            })?;
            let policy = tenant.policy()?;
            if by_key_digest.insert(key_digest, Arc::new(Tenant { id, fields, policy })).is_some() {
                bail!("tenants.{}: its API key is also another tenant's", tenant.id);
            }
        }
        Ok(Tenants { by_key_digest })
    }

    /// The tenant of a request's `authorization: Bearer <key>` header; UNAUTHENTICATED otherwise.
    pub fn authenticate(&self, headers: &http::HeaderMap) -> Result<Arc<Tenant>, Status> {
        let header = headers
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| Status::unauthenticated("missing authorization metadata (Bearer API key)"))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| Status::unauthenticated("authorization must be \"Bearer <API key>\""))?;
        self.by_key_digest
            .get(&digest(key.as_bytes()))
            .cloned()
            .ok_or_else(|| Status::unauthenticated("unknown API key"))
    }

    /// The tenant ids.
    pub fn ids(&self) -> Vec<jpki_store::TenantId> {
        let mut ids: Vec<_> = self.by_key_digest.values().map(|tenant| tenant.id.clone()).collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.dedup();
        ids
    }
}

/// The tenant attached by [`AuthenticateLayer`]; INTERNAL if the layer is missing (a wiring bug,
/// never a client's fault).
pub fn tenant_of<T>(request: &Request<T>) -> Result<Arc<Tenant>, Status> {
    request.extensions().get::<Arc<Tenant>>().cloned().ok_or_else(|| Status::internal("no tenant on the request"))
}

/// Calls that need no tenant: health checks (probes) and reflection (tools).
fn exempt(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// The tower layer that authenticates every call but health and reflection, attaching the
/// tenant to the request's extensions (tonic hands them to the handler); UNAUTHENTICATED
/// otherwise, without reaching any service.
#[derive(Clone, Debug)]
pub struct AuthenticateLayer {
    tenants: Arc<Tenants>,
}

impl AuthenticateLayer {
    /// The layer over the configured tenants.
    pub fn new(tenants: Arc<Tenants>) -> Self {
        AuthenticateLayer { tenants }
    }
}

impl<S> tower::Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate { inner, tenants: self.tenants.clone() }
    }
}

/// The service of [`AuthenticateLayer`].
#[derive(Clone, Debug)]
pub struct Authenticate<S> {
    inner: S,
    tenants: Arc<Tenants>,
}

impl<S, B> tower::Service<http::Request<B>> for Authenticate<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures_util::future::Either<std::future::Ready<Result<Self::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        use futures_util::future::Either;
        // The service made ready is the one that answers; a refused call drops it, so that
        // whatever it reserved in poll_ready is released.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        if exempt(request.uri().path()) {
            return Either::Right(ready.call(request));
        }
        match self.tenants.authenticate(request.headers()) {
            Ok(tenant) => {
                request.extensions_mut().insert(tenant);
                Either::Right(ready.call(request))
            }
            Err(status) => Either::Left(std::future::ready(Ok(status.into_http()))),
        }
    }
}
