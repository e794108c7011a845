//! Tenants and their API keys: every API call runs as one authenticated tenant.
//!
//! Keys are compared by SHA-256 digest, so configuration files need only hold the digest, and the
//! lookup time does not depend on how much of a guessed key is right.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::bail;
use tonic::{Request, Status};

use crate::settings::{FOUR_FIELDS, TenantSettings};

/// Which of the four fields a tenant may receive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldPermissions {
    /// 氏名.
    pub name: bool,
    /// 生年月日.
    pub date_of_birth: bool,
    /// 住所.
    pub address: bool,
    /// 性別.
    pub sex: bool,
}

/// An authenticated tenant, attached to each request by [`Tenants::authenticate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant id: the first part of every stored key.
    pub id: jpki_store::TenantId,
    /// Its four-field permissions.
    pub fields: FieldPermissions,
}

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
            let mut fields = FieldPermissions::default();
            for field in &tenant.four_fields {
                match field.as_str() {
                    "name" => fields.name = true,
                    "date_of_birth" => fields.date_of_birth = true,
                    "address" => fields.address = true,
                    "sex" => fields.sex = true,
                    other => bail!("tenants.{}: unknown field {other:?} (one of {FOUR_FIELDS:?})", tenant.id),
                }
            }
            if by_key_digest.insert(key_digest, Arc::new(Tenant { id, fields })).is_some() {
                bail!("tenants.{}: its API key is also another tenant's", tenant.id);
            }
        }
        Ok(Tenants { by_key_digest })
    }

    /// The tenant of a request's `authorization: Bearer <key>` metadata, attached to its
    /// extensions; UNAUTHENTICATED otherwise. Used as a tonic interceptor.
    pub fn authenticate(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .ok_or_else(|| Status::unauthenticated("missing authorization metadata (Bearer API key)"))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| Status::unauthenticated("authorization must be \"Bearer <API key>\""))?;
        let tenant = self
            .by_key_digest
            .get(&digest(key.as_bytes()))
            .ok_or_else(|| Status::unauthenticated("unknown API key"))?
            .clone();
        request.extensions_mut().insert(tenant);
        Ok(request)
    }

    /// The tenant ids.
    pub fn ids(&self) -> Vec<jpki_store::TenantId> {
        let mut ids: Vec<_> = self.by_key_digest.values().map(|tenant| tenant.id.clone()).collect();
        ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        ids.dedup();
        ids
    }
}

/// The tenant attached by [`Tenants::authenticate`]; INTERNAL if the interceptor is missing
/// (a wiring bug, never a client's fault).
pub fn tenant_of<T>(request: &Request<T>) -> Result<Arc<Tenant>, Status> {
    request.extensions().get::<Arc<Tenant>>().cloned().ok_or_else(|| Status::internal("no tenant on the request"))
}
