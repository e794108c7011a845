//! The directory of principals and their credentials, and the administration use cases.
//!
//! A **principal** is a tenant (a relying party: verifies, links, watches), an auditor (reads the
//! audit log of the tenants it is granted) or an operator (administers tenants; never sees a
//! tenant's data). Each holds **API keys**: `jpkigw_<key id>_<secret>`, the key id public (16 hex
//! digits: lookups, secret scanning), the secret 256 random bits (64 hex digits), stored only as
//! the SHA-256 of the whole key. A key has an expiry and a last-used time and can be revoked; a
//! principal may hold several at once, so that a rotation overlaps.
//!
//! Records are JSON documents in the tenant store's directory (`principal/<id>`,
//! `credential/<key id>`, `used/<key id>`), changed only through [`Directory`], each change one
//! guarded write with its platform-log entry ([`AdminEvent`]). docs/tenancy.md is the user's view.

use std::sync::Arc;

use jpki_core::CertKind;
use jpki_store::{
    AuditLeaves, DirectoryOutcome, DirectoryWrite, PlatformLogEntry, StoreError, TenantId, TenantStore, TenantWrite,
};
use serde::{Deserialize, Serialize};

use crate::outcome::AppError;
use crate::tenant::{BusinessPurpose, FieldPermissions, Quota, Tenant, TenantPolicy, TenantRpc};

/// The public prefix of every API key the gateway issues (secret scanners match on it).
pub const API_KEY_PREFIX: &str = "jpkigw_";
/// Hex digits of a key id.
const KEY_ID_HEX: usize = 16;
/// Hex digits of a key's secret (256 bits).
const SECRET_HEX: usize = 64;
/// How often a guarded write is retried after a concurrent change.
const WRITE_ATTEMPTS: usize = 8;

/// A principal's role: what kind of calls it may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A relying party (bank, insurer): verification, links, status.
    Tenant,
    /// Reads the audit log of the tenants it is granted; never verifies.
    Auditor,
    /// Administers tenants and the platform; never sees a tenant's data.
    Operator,
}

impl Role {
    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Tenant => "tenant",
            Role::Auditor => "auditor",
            Role::Operator => "operator",
        }
    }
}

/// Whether a principal may act.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalState {
    /// Its credentials authenticate.
    Active,
    /// Its credentials are refused (UNAUTHENTICATED) until resumed; its data is kept.
    Suspended,
    /// Gone for good: credentials revoked, data kept only as long as retention requires.
    Offboarded,
}

/// Where a principal's definition comes from, which decides who may change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The configuration file: set again at every start (the file wins); the API may suspend,
    /// resume and manage keys, but not change its policy.
    Configuration,
    /// The admin API.
    Api,
}

/// A tenant's policy and fields as stored (names, so that the document reads without the code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    /// The four fields it may receive.
    pub four_fields: Vec<String>,
    /// The RPCs it may call.
    pub rpcs: Vec<String>,
    /// The certificate kinds it may verify.
    pub certificate_kinds: Vec<String>,
    /// The business purposes it may give.
    pub business_purposes: Vec<String>,
    /// Calls per second.
    pub requests_per_second: u32,
    /// Burst above the rate.
    pub burst: u32,
    /// Calls in progress at once.
    pub max_concurrent: u32,
}

/// A name in a policy that is not known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    /// Which list it is in.
    pub what: &'static str,
    /// The name.
    pub name: String,
}

impl PolicyDocument {
    /// The document of a policy.
    pub fn of(fields: FieldPermissions, policy: &TenantPolicy) -> Self {
        PolicyDocument {
            four_fields: fields.names().into_iter().map(str::to_owned).collect(),
            rpcs: policy.rpcs.iter().map(|rpc| rpc.name().to_owned()).collect(),
            certificate_kinds: policy.certificate_kinds.iter().map(|kind| kind.as_str().to_owned()).collect(),
            business_purposes: policy.business_purposes.iter().map(|purpose| purpose.name().to_owned()).collect(),
            requests_per_second: policy.quota.requests_per_second,
            burst: policy.quota.burst,
            max_concurrent: policy.quota.max_concurrent,
        }
    }

    /// The fields and policy the document names; the first unknown name otherwise.
    pub fn parse(&self) -> Result<(FieldPermissions, TenantPolicy), UnknownName> {
        fn each<T>(
            names: &[String],
            what: &'static str,
            parse: impl Fn(&str) -> Option<T>,
        ) -> Result<Vec<T>, UnknownName> {
            names.iter().map(|name| parse(name).ok_or_else(|| UnknownName { what, name: name.clone() })).collect()
        }
        let fields =
            FieldPermissions::from_names(&self.four_fields).map_err(|name| UnknownName { what: "field", name })?;
        let policy = TenantPolicy {
            rpcs: each(&self.rpcs, "rpc", TenantRpc::from_name)?,
            certificate_kinds: each(&self.certificate_kinds, "certificate kind", CertKind::parse)?,
            business_purposes: each(&self.business_purposes, "business purpose", BusinessPurpose::from_name)?,
            quota: Quota {
                requests_per_second: self.requests_per_second.max(1),
                burst: self.burst.max(1),
                max_concurrent: self.max_concurrent.max(1),
            },
        };
        Ok((fields, policy))
    }
}

/// A principal as stored under `principal/<id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRecord {
    /// Its id (a tenant's is its [`TenantId`]); one namespace for every role.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// Whether it may act.
    pub state: PrincipalState,
    /// Who defines it.
    pub source: Source,
    /// A tenant's fields and policy.
    #[serde(default)]
    pub policy: Option<PolicyDocument>,
    /// An auditor's tenants.
    #[serde(default)]
    pub auditor_of: Vec<String>,
    /// SHA-256 of the SubjectPublicKeyInfo of its client certificate, hex (mTLS).
    #[serde(default)]
    pub client_spki_sha256: Option<String>,
    /// Whether its calls must come with that client certificate.
    #[serde(default)]
    pub require_client_certificate: bool,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// An API key as stored under `credential/<key id>`: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// The key id (public).
    pub key_id: String,
    /// The principal it authenticates.
    pub principal: String,
    /// SHA-256 of the whole key, hex.
    pub sha256: String,
    /// A note for people (e.g. "rotation 2026-12").
    #[serde(default)]
    pub label: String,
    /// When it was issued.
    pub created_at: i64,
    /// Who issued it (principal id, or `configuration`).
    pub created_by: String,
    /// After this instant it no longer authenticates (`None`: no expiry).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When it was revoked.
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

impl CredentialRecord {
    /// Whether it authenticates at `now`.
    pub fn usable_at(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

/// One administrative action, as the platform log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminEvent {
    /// When (Unix seconds).
    pub at: i64,
    /// Who: a principal id, or `configuration` for the bootstrap.
    pub actor: String,
    /// With which credential (key id), if any.
    #[serde(default)]
    pub credential: Option<String>,
    /// What: `create_principal`, `update_policy`, `set_client_certificate`, `suspend`, `resume`,
    /// `offboard`, `issue_key`, `revoke_key`, `rotate_key`, `bootstrap`.
    pub action: String,
    /// On which principal.
    pub target: String,
    /// Details (a key id, the new policy), never a secret.
    #[serde(default)]
    pub detail: String,
}

/// Who made a call: the principal and the credential it presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The principal.
    pub principal: Principal,
    /// The key id of the credential.
    pub credential: String,
    /// When the credential expires (a cached authentication must not outlive it).
    pub expires_at: Option<i64>,
    /// The principal's client certificate key (SPKI SHA-256, hex), if it has one.
    pub client_spki_sha256: Option<String>,
    /// Whether the principal's calls must come with that certificate.
    pub require_client_certificate: bool,
}

impl Caller {
    /// The principal's id.
    pub fn id(&self) -> &str {
        match &self.principal {
            Principal::Tenant(tenant) => tenant.id.as_str(),
            Principal::Auditor { id, .. } | Principal::Operator { id } => id,
        }
    }

    /// Whether the caller presented a stored API key (rather than only a client certificate).
    pub fn by_key(&self) -> bool {
        !self.credential.starts_with(CERTIFICATE_CREDENTIAL)
    }

    /// The principal's role.
    pub fn role(&self) -> Role {
        match self.principal {
            Principal::Tenant(_) => Role::Tenant,
            Principal::Auditor { .. } => Role::Auditor,
            Principal::Operator { .. } => Role::Operator,
        }
    }
}

/// An authenticated, active principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A tenant, with what it may do.
    Tenant(Arc<Tenant>),
    /// An auditor and the tenants it may read.
    Auditor {
        /// Its id.
        id: String,
        /// The tenants whose audit log it may read.
        tenants: Vec<TenantId>,
    },
    /// An operator.
    Operator {
        /// Its id.
        id: String,
    },
}

/// A new API key: shown once, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The whole key, to hand to the principal.
    pub key: String,
    /// Its stored record.
    pub record: CredentialRecord,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("key", &"<secret>").field("record", &self.record).finish()
    }
}

/// SHA-256 of a presented key, hex.
pub fn key_digest(key: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, key.as_bytes()))
}

/// The key id of a key in the gateway's format (`jpkigw_<16 hex>_<64 hex>`).
pub fn key_id_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (key_id, secret) = rest.split_once('_')?;
    let lower_hex = |text: &str, len: usize| {
        text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    (lower_hex(key_id, KEY_ID_HEX) && lower_hex(secret, SECRET_HEX)).then_some(key_id)
}

/// Why a presented key does not authenticate. The gateway answers every one of them with the
/// same UNAUTHENTICATED, so that a caller learns nothing about other keys or principals; the
/// reason is for the platform's own log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthRefusal {
    /// Not a key the directory knows (or the secret does not match).
    UnknownKey,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
    /// Its principal is suspended or offboarded.
    PrincipalInactive,
}

/// The directory's use cases over the tenant store. Synchronous (the store may block): the
/// gateway calls them on a blocking thread and caches what authentication reads.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn TenantStore>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

/// Why an administrative action was not done (not an error of the platform).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdminRefusal {
    /// No principal (or key) with that id.
    #[error("{0} not found")]
    NotFound(String),
    /// The id is taken.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The principal is defined by the configuration file, which wins over the API.
    #[error("{0} is defined in the configuration file; change it there")]
    ManagedByConfiguration(String),
    /// The request names something invalid.
    #[error("{0}")]
    Invalid(String),
    /// The principal is offboarded: nothing more can be done with it.
    #[error("{0} is offboarded")]
    Offboarded(String),
    /// Concurrent changes kept winning; retry.
    #[error("the directory kept changing; retry")]
    Contended,
}

/// An administrative action's answer: done, refused for a reason, or failed.
pub type AdminResult<T> = Result<Result<T, AdminRefusal>, AppError>;

fn principal_key(id: &str) -> String {
    format!("principal/{id}")
}

fn credential_key(key_id: &str) -> String {
    format!("credential/{key_id}")
}

/// The prefix of the keys' last-use times.
const USED: &str = "used/";

fn used_key(key_id: &str) -> String {
    format!("{USED}{key_id}")
}

fn to_json<T: Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::Storage(StoreError::Backend(format!("encoding: {e}"))))
}

fn from_json<T: for<'de> Deserialize<'de>>(what: &'static str, text: &str) -> Result<T, AppError> {
    serde_json::from_str(text).map_err(|e| AppError::Storage(StoreError::Corrupt { what, detail: e.to_string() }))
}

/// A principal in the configuration file, as the bootstrap applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredPrincipal {
    /// Its id.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// A tenant's fields and policy.
    pub policy: Option<PolicyDocument>,
    /// An auditor's tenants.
    pub auditor_of: Vec<String>,
    /// SHA-256 of its configured key, hex (its key id is `config.<id>`), if it has one.
    pub key_sha256: Option<String>,
    /// SHA-256 of its client certificate's SubjectPublicKeyInfo, hex.
    pub client_spki_sha256: Option<String>,
    /// Whether its calls must come with that certificate.
    pub require_client_certificate: bool,
}

/// The credential name of a caller named by its client certificate (then followed by the start of
/// its key's SPKI SHA-256): it has no stored record, so no last use to record.
const CERTIFICATE_CREDENTIAL: &str = "certificate.";

/// The key id of a principal's configured key.
pub fn configured_key_id(principal: &str) -> String {
    format!("config.{principal}")
}

impl Directory {
    /// The directory in `store`.
    pub fn new(store: Arc<dyn TenantStore>) -> Self {
        Directory { store }
    }

    /// The principal with `id`.
    pub fn principal(&self, id: &str) -> Result<Option<PrincipalRecord>, AppError> {
        self.store.directory_get(&principal_key(id))?.map(|text| from_json("principal", &text)).transpose()
    }

    /// The credential with `key_id`.
    pub fn credential(&self, key_id: &str) -> Result<Option<CredentialRecord>, AppError> {
        self.store.directory_get(&credential_key(key_id))?.map(|text| from_json("credential", &text)).transpose()
    }

    /// Every principal, in id order.
    pub fn principals(&self) -> Result<Vec<PrincipalRecord>, AppError> {
        self.store.directory_scan("principal/")?.iter().map(|(_, text)| from_json("principal", text)).collect()
    }

    /// The ids of every tenant not offboarded (their revocation events are kept up to date).
    pub fn tenant_ids(&self) -> Result<Vec<TenantId>, AppError> {
        self.tenants_where(|state| state != PrincipalState::Offboarded)
    }

    /// The ids of every tenant the directory has ever had, offboarded too: the audit logs to
    /// integrate (an offboarded tenant's last events must still move).
    pub fn tenant_ids_ever(&self) -> Result<Vec<TenantId>, AppError> {
        self.tenants_where(|_| true)
    }

    fn tenants_where(&self, keep: impl Fn(PrincipalState) -> bool) -> Result<Vec<TenantId>, AppError> {
        Ok(self
            .principals()?
            .into_iter()
            .filter(|p| p.role == Role::Tenant && keep(p.state))
            .filter_map(|p| TenantId::new(&p.id).ok())
            .collect())
    }

    /// A principal's credentials (revoked and expired ones included), with their last-used time.
    pub fn credentials_of(&self, principal: &str) -> Result<Vec<(CredentialRecord, Option<i64>)>, AppError> {
        let used: std::collections::HashMap<String, String> = self.store.directory_scan(USED)?.into_iter().collect();
        let mut found = Vec::new();
        for (_, text) in self.store.directory_scan("credential/")? {
            let record: CredentialRecord = from_json("credential", &text)?;
            if record.principal == principal {
                let last_use = used.get(&used_key(&record.key_id)).and_then(|time| time.parse().ok());
                found.push((record, last_use));
            }
        }
        Ok(found)
    }

    /// The platform log after `after`, at most `limit` entries.
    pub fn platform_log(&self, after: u64, limit: usize) -> Result<Vec<PlatformLogEntry>, AppError> {
        Ok(self.store.platform_log(after, limit)?)
    }

    /// Authenticates a presented key at `now`: the key id (from the key itself, or from the
    /// configured keys' digests for keys in the configuration file's own format), then the
    /// stored credential, its digest (compared in constant time), expiry and revocation, then its
    /// principal's state. `configured` maps digests of configured keys to their key ids.
    pub fn authenticate(
        &self,
        presented: &str,
        configured: &std::collections::HashMap<String, String>,
        now: i64,
    ) -> Result<Result<Caller, AuthRefusal>, AppError> {
        let digest = key_digest(presented);
        let key_id = match key_id_of(presented) {
            Some(key_id) => key_id.to_owned(),
            None => match configured.get(&digest) {
                Some(key_id) => key_id.clone(),
                None => return Ok(Err(AuthRefusal::UnknownKey)),
            },
        };
        let Some(credential) = self.credential(&key_id)? else { return Ok(Err(AuthRefusal::UnknownKey)) };
        if !constant_time_equal(credential.sha256.as_bytes(), digest.as_bytes()) {
            return Ok(Err(AuthRefusal::UnknownKey));
        }
        if credential.revoked_at.is_some() {
            return Ok(Err(AuthRefusal::Revoked));
        }
        if !credential.usable_at(now) {
            return Ok(Err(AuthRefusal::Expired));
        }
        let Some(record) = self.principal(&credential.principal)? else {
            return Ok(Err(AuthRefusal::UnknownKey));
        };
        caller(&record, key_id, credential.expires_at)
    }

    /// The tenant a refused key names, whatever its secret: the principal and tenant of the key
    /// whose public key id it carries (or, for a key from the file, whose digest it has), when that
    /// principal is a tenant. A refused use of a tenant's key (wrong secret, revoked, expired,
    /// suspended) is counted in that tenant's audit log; a key that names no tenant is counted
    /// nowhere but in the gateway's log.
    pub fn tenant_of_presented_key(
        &self,
        presented: &str,
        configured: &std::collections::HashMap<String, String>,
    ) -> Result<Option<(String, TenantId)>, AppError> {
        let key_id = match key_id_of(presented) {
            Some(key_id) => key_id.to_owned(),
            None => match configured.get(&key_digest(presented)) {
                Some(key_id) => key_id.clone(),
                None => return Ok(None),
            },
        };
        let Some(credential) = self.credential(&key_id)? else { return Ok(None) };
        let Some(record) = self.principal(&credential.principal)? else { return Ok(None) };
        if record.role != Role::Tenant {
            return Ok(None);
        }
        Ok(TenantId::new(&record.id).ok().map(|tenant| (record.id.clone(), tenant)))
    }

    /// Authenticates a verified client certificate by its key (SPKI SHA-256, hex): the principal
    /// that names it, if active.
    pub fn authenticate_certificate(&self, spki_sha256: &str) -> Result<Result<Caller, AuthRefusal>, AppError> {
        let Some(record) =
            self.principals()?.into_iter().find(|p| p.client_spki_sha256.as_deref() == Some(spki_sha256))
        else {
            return Ok(Err(AuthRefusal::UnknownKey));
        };
        let credential = format!("{CERTIFICATE_CREDENTIAL}{}", &spki_sha256[..spki_sha256.len().min(16)]);
        caller(&record, credential, None)
    }
}

/// The caller a principal's record and credential make, if the principal is active.
fn caller(
    record: &PrincipalRecord,
    credential: String,
    expires_at: Option<i64>,
) -> Result<Result<Caller, AuthRefusal>, AppError> {
    Ok(match record.principal()? {
        Some(principal) => Ok(Caller {
            principal,
            credential,
            expires_at,
            client_spki_sha256: record.client_spki_sha256.clone(),
            require_client_certificate: record.require_client_certificate,
        }),
        None => Err(AuthRefusal::PrincipalInactive),
    })
}

impl PrincipalRecord {
    /// The principal the record describes, if it is active.
    pub fn principal(&self) -> Result<Option<Principal>, AppError> {
        let record = self;
        if record.state != PrincipalState::Active {
            return Ok(None);
        }
        Ok(Some(match record.role {
            Role::Tenant => {
                let corrupt = |detail: String| AppError::Storage(StoreError::Corrupt { what: "principal", detail });
                let id =
                    TenantId::new(&record.id).map_err(|_| corrupt(format!("invalid tenant id {:?}", record.id)))?;
                let document =
                    record.policy.as_ref().ok_or_else(|| corrupt(format!("tenant {} has no policy", record.id)))?;
                let (fields, policy) = document.parse().map_err(|e| corrupt(e.to_string()))?;
                Principal::Tenant(Arc::new(Tenant { id, fields, policy }))
            }
            Role::Auditor => Principal::Auditor {
                id: record.id.clone(),
                tenants: record.auditor_of.iter().filter_map(|id| TenantId::new(id).ok()).collect(),
            },
            Role::Operator => Principal::Operator { id: record.id.clone() },
        }))
    }
}

impl Directory {
    /// Records that a key was used at `now` (not logged, not part of any answer's durability:
    /// the gateway calls it at most about once a minute per key).
    pub fn touch(&self, key_id: &str, now: i64) -> Result<(), AppError> {
        let write = DirectoryWrite { put: vec![(used_key(key_id), now.to_string())], ..DirectoryWrite::default() };
        self.store.directory_write(write)?;
        Ok(())
    }

    /// Applies the configuration file's principals: each is created or set to the file's
    /// definition (the file wins over the API for what it defines), its state (suspension) kept;
    /// its configured key is stored as the credential `config.<id>`, and replaced when the file's
    /// key changes. Logged as `bootstrap` only when something changed.
    pub fn bootstrap(&self, principals: &[ConfiguredPrincipal], now: i64) -> Result<(), AppError> {
        for configured in principals {
            self.guarded(|| {
                let key = principal_key(&configured.id);
                let current = self.store.directory_get(&key)?;
                let existing: Option<PrincipalRecord> =
                    current.as_deref().map(|t| from_json("principal", t)).transpose()?;
                let record = PrincipalRecord {
                    id: configured.id.clone(),
                    role: configured.role,
                    state: existing.as_ref().map_or(PrincipalState::Active, |e| e.state),
                    source: Source::Configuration,
                    policy: configured.policy.clone(),
                    auditor_of: configured.auditor_of.clone(),
                    client_spki_sha256: configured.client_spki_sha256.clone(),
                    require_client_certificate: configured.require_client_certificate,
                    created_at: existing.as_ref().map_or(now, |e| e.created_at),
                    updated_at: now,
                };
                let mut write =
                    DirectoryWrite { expect: vec![(key.clone(), current.clone())], ..DirectoryWrite::default() };
                let unchanged = existing
                    .as_ref()
                    .is_some_and(|e| PrincipalRecord { updated_at: e.updated_at, ..record.clone() } == *e);
                if !unchanged {
                    write.put.push((key, to_json(&record)?));
                }
                if let Some(sha256) = &configured.key_sha256 {
                    let key_id = configured_key_id(&configured.id);
                    let stored = self.store.directory_get(&credential_key(&key_id))?;
                    let stored_record: Option<CredentialRecord> =
                        stored.as_deref().map(|t| from_json("credential", t)).transpose()?;
                    // The same key keeps its record (a revocation of it stands); a new key in the
                    // file replaces it.
                    if stored_record.as_ref().is_none_or(|r| r.sha256 != *sha256) {
                        let credential = CredentialRecord {
                            key_id: key_id.clone(),
                            principal: configured.id.clone(),
                            sha256: sha256.clone(),
                            label: "configuration file".into(),
                            created_at: now,
                            created_by: "configuration".into(),
                            expires_at: None,
                            revoked_at: None,
                        };
                        write.expect.push((credential_key(&key_id), stored));
                        write.put.push((credential_key(&key_id), to_json(&credential)?));
                    }
                }
                if write.put.is_empty() {
                    return Ok(Ok(()));
                }
                let event = AdminEvent {
                    at: now,
                    actor: "configuration".into(),
                    credential: None,
                    action: "bootstrap".into(),
                    target: configured.id.clone(),
                    detail: format!("role {}", configured.role.name()),
                };
                write.log = Some(to_json(&event)?);
                self.apply(write, ())
            })?
            .map_err(settle)?;
        }
        Ok(())
    }

    /// Creates a tenant defined through the API (active, no key yet).
    pub fn create_tenant(
        &self,
        actor: &Caller,
        id: &str,
        policy: PolicyDocument,
        now: i64,
    ) -> AdminResult<PrincipalRecord> {
        if TenantId::new(id).is_err() {
            return Ok(Err(AdminRefusal::Invalid(format!("invalid tenant id {id:?} (1 to 64 of A-Z a-z 0-9 _ . -)"))));
        }
        self.create(actor, id, Role::Tenant, Some(policy), Vec::new(), now)
    }

    /// Creates an auditor or operator defined through the API.
    pub fn create_principal(
        &self,
        actor: &Caller,
        id: &str,
        role: Role,
        auditor_of: Vec<String>,
        now: i64,
    ) -> AdminResult<PrincipalRecord> {
        if role == Role::Tenant {
            return Ok(Err(AdminRefusal::Invalid("tenants are created with their policy (create_tenant)".into())));
        }
        if TenantId::new(id).is_err() {
            return Ok(Err(AdminRefusal::Invalid(format!(
                "invalid principal id {id:?} (1 to 64 of A-Z a-z 0-9 _ . -)"
            ))));
        }
        self.create(actor, id, role, None, auditor_of, now)
    }

    fn create(
        &self,
        actor: &Caller,
        id: &str,
        role: Role,
        policy: Option<PolicyDocument>,
        auditor_of: Vec<String>,
        now: i64,
    ) -> AdminResult<PrincipalRecord> {
        if let Some(policy) = &policy
            && let Err(unknown) = policy.parse()
        {
            return Ok(Err(AdminRefusal::Invalid(unknown.to_string())));
        }
        let record = PrincipalRecord {
            id: id.to_owned(),
            role,
            state: PrincipalState::Active,
            source: Source::Api,
            policy,
            auditor_of,
            client_spki_sha256: None,
            require_client_certificate: false,
            created_at: now,
            updated_at: now,
        };
        let event = event(actor, now, "create_principal", id, format!("role {}", role.name()));
        let write = DirectoryWrite {
            expect: vec![(principal_key(id), None)],
            put: vec![(principal_key(id), to_json(&record)?)],
            delete: Vec::new(),
            log: Some(to_json(&event)?),
        };
        match self.write_logged(write)? {
            DirectoryOutcome::Applied { .. } => Ok(Ok(record)),
            DirectoryOutcome::Conflict => Ok(Err(AdminRefusal::AlreadyExists(id.to_owned()))),
        }
    }

    /// Replaces a tenant's fields and policy (not for tenants of the configuration file).
    pub fn update_policy(
        &self,
        actor: &Caller,
        id: &str,
        policy: PolicyDocument,
        now: i64,
    ) -> AdminResult<PrincipalRecord> {
        if let Err(unknown) = policy.parse() {
            return Ok(Err(AdminRefusal::Invalid(unknown.to_string())));
        }
        let detail = format!("policy {}", to_json(&policy)?);
        self.change(actor, id, "update_policy", detail, now, |record| {
            if record.role != Role::Tenant {
                return Err(AdminRefusal::Invalid(format!("{id} is not a tenant")));
            }
            if record.source == Source::Configuration {
                return Err(AdminRefusal::ManagedByConfiguration(id.to_owned()));
            }
            record.policy = Some(policy.clone());
            Ok(())
        })
    }

    /// Pins (`Some`) or clears (`None`) a principal's client certificate key (SPKI SHA-256, hex) and
    /// whether it is required (not for principals of the configuration file, which sets them).
    pub fn set_client_certificate(
        &self,
        actor: &Caller,
        id: &str,
        spki_sha256: Option<String>,
        required: bool,
        now: i64,
    ) -> AdminResult<PrincipalRecord> {
        let spki_sha256 = match spki_sha256 {
            None => None,
            Some(text) => {
                let mut bytes = [0u8; 32];
                if hex::decode_to_slice(text.trim(), &mut bytes).is_err() {
                    return Ok(Err(AdminRefusal::Invalid("spki_sha256 must be 64 hex digits".into())));
                }
                Some(hex::encode(bytes))
            }
        };
        if required && spki_sha256.is_none() {
            return Ok(Err(AdminRefusal::Invalid("a required client certificate needs its spki_sha256".into())));
        }
        if let Some(spki) = &spki_sha256
            && self.principals()?.iter().any(|p| p.id != id && p.client_spki_sha256.as_deref() == Some(spki.as_str()))
        {
            return Ok(Err(AdminRefusal::Invalid("that key is already another principal's".into())));
        }
        let detail = format!("spki {} required {required}", spki_sha256.as_deref().unwrap_or("-"));
        self.change(actor, id, "set_client_certificate", detail, now, |record| {
            if record.source == Source::Configuration {
                return Err(AdminRefusal::ManagedByConfiguration(id.to_owned()));
            }
            record.client_spki_sha256 = spki_sha256.clone();
            record.require_client_certificate = required;
            Ok(())
        })
    }

    /// Suspends (`true`) or resumes (`false`) a principal.
    pub fn set_suspended(&self, actor: &Caller, id: &str, suspended: bool, now: i64) -> AdminResult<PrincipalRecord> {
        let action = if suspended { "suspend" } else { "resume" };
        self.change(actor, id, action, String::new(), now, |record| {
            record.state = if suspended { PrincipalState::Suspended } else { PrincipalState::Active };
            Ok(())
        })
    }

    /// Offboards a principal: it can never act again and every key of it is revoked; its data
    /// stays until retention removes it.
    pub fn offboard(&self, actor: &Caller, id: &str, now: i64) -> AdminResult<PrincipalRecord> {
        let record = match self.change(actor, id, "offboard", String::new(), now, |record| {
            record.state = PrincipalState::Offboarded;
            Ok(())
        })? {
            Ok(record) => record,
            Err(refusal) => return Ok(Err(refusal)),
        };
        for (credential, _) in self.credentials_of(id)? {
            if credential.revoked_at.is_none() {
                // A key removed meanwhile needs no revocation.
                if let Err(AdminRefusal::Contended) = self.revoke_key(actor, &credential.key_id, None, now)? {
                    return Ok(Err(AdminRefusal::Contended));
                }
            }
        }
        Ok(Ok(record))
    }

    /// Issues a new key for a principal (an operator for anyone, a principal for itself).
    pub fn issue_key(
        &self,
        actor: &Caller,
        principal: &str,
        expires_at: Option<i64>,
        label: &str,
        now: i64,
    ) -> AdminResult<IssuedKey> {
        let Some(record) = self.principal(principal)? else {
            return Ok(Err(AdminRefusal::NotFound(principal.to_owned())));
        };
        if record.state == PrincipalState::Offboarded {
            return Ok(Err(AdminRefusal::Offboarded(principal.to_owned())));
        }
        if expires_at.is_some_and(|expiry| expiry <= now) {
            return Ok(Err(AdminRefusal::Invalid("the expiry is not in the future".into())));
        }
        if label.len() > 200 {
            return Ok(Err(AdminRefusal::Invalid("the label is longer than 200 bytes".into())));
        }
        let key_id = crate::app::random_id(KEY_ID_HEX / 2)?;
        let secret = crate::app::random_id(SECRET_HEX / 2)?;
        let key = format!("{API_KEY_PREFIX}{key_id}_{secret}");
        let credential = CredentialRecord {
            key_id: key_id.clone(),
            principal: principal.to_owned(),
            sha256: key_digest(&key),
            label: label.to_owned(),
            created_at: now,
            created_by: actor.id().to_owned(),
            expires_at,
            revoked_at: None,
        };
        let event = event(actor, now, "issue_key", principal, format!("key {key_id}"));
        let write = DirectoryWrite {
            expect: vec![(credential_key(&key_id), None)],
            put: vec![(credential_key(&key_id), to_json(&credential)?)],
            delete: Vec::new(),
            log: Some(to_json(&event)?),
        };
        match self.write_logged(write)? {
            DirectoryOutcome::Applied { .. } => Ok(Ok(IssuedKey { key, record: credential })),
            // 64 random bits collided: vanishingly rare, and harmless to refuse.
            DirectoryOutcome::Conflict => Ok(Err(AdminRefusal::Contended)),
        }
    }

    /// Revokes a key; with `owner`, only if it belongs to that principal (self-service).
    pub fn revoke_key(
        &self,
        actor: &Caller,
        key_id: &str,
        owner: Option<&str>,
        now: i64,
    ) -> AdminResult<CredentialRecord> {
        self.guarded(|| {
            let key = credential_key(key_id);
            let current = self.store.directory_get(&key)?;
            let Some(mut record) =
                current.as_deref().map(|t| from_json::<CredentialRecord>("credential", t)).transpose()?
            else {
                return Ok(Err(AdminRefusal::NotFound(key_id.to_owned())));
            };
            if owner.is_some_and(|owner| owner != record.principal) {
                // Another principal's key: as if it did not exist.
                return Ok(Err(AdminRefusal::NotFound(key_id.to_owned())));
            }
            if record.revoked_at.is_some() {
                return Ok(Ok(record));
            }
            record.revoked_at = Some(now);
            let event = event(actor, now, "revoke_key", &record.principal, format!("key {key_id}"));
            let write = DirectoryWrite {
                expect: vec![(key.clone(), current)],
                put: vec![(key, to_json(&record)?)],
                delete: Vec::new(),
                log: Some(to_json(&event)?),
            };
            self.apply(write, record)
        })
    }

    /// A principal's rotation of its own keys: a new key, and every other usable key of it set to
    /// expire within `overlap_seconds` (so that calls in flight and replicas holding the old key
    /// keep working meanwhile). After it, whoever minted the old keys (an operator) can no
    /// longer act as the principal.
    pub fn rotate_own_key(
        &self,
        caller: &Caller,
        overlap_seconds: i64,
        expires_at: Option<i64>,
        label: &str,
        now: i64,
    ) -> AdminResult<IssuedKey> {
        let issued = match self.issue_key(caller, caller.id(), expires_at, label, now)? {
            Ok(issued) => issued,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let cutoff = now.saturating_add(overlap_seconds.max(0));
        for (credential, _) in self.credentials_of(caller.id())? {
            if credential.key_id == issued.record.key_id || !credential.usable_at(now) {
                continue;
            }
            if credential.expires_at.is_some_and(|expiry| expiry <= cutoff) {
                continue;
            }
            self.guarded(|| {
                let key = credential_key(&credential.key_id);
                let current = self.store.directory_get(&key)?;
                let Some(mut record) =
                    current.as_deref().map(|t| from_json::<CredentialRecord>("credential", t)).transpose()?
                else {
                    return Ok(Ok(()));
                };
                record.expires_at = Some(cutoff);
                let detail =
                    format!("key {} expires at {cutoff} (replaced by {})", record.key_id, issued.record.key_id);
                let event = event(caller, now, "rotate_key", caller.id(), detail);
                let write = DirectoryWrite {
                    expect: vec![(key.clone(), current)],
                    put: vec![(key, to_json(&record)?)],
                    delete: Vec::new(),
                    log: Some(to_json(&event)?),
                };
                self.apply(write, ())
            })?
            .map_err(settle)?;
        }
        Ok(Ok(issued))
    }

    /// Reads a principal, changes it with `change` and writes it back with its log entry, retrying
    /// on concurrent changes.
    fn change(
        &self,
        actor: &Caller,
        id: &str,
        action: &str,
        detail: String,
        now: i64,
        change: impl Fn(&mut PrincipalRecord) -> Result<(), AdminRefusal>,
    ) -> AdminResult<PrincipalRecord> {
        self.guarded(|| {
            let key = principal_key(id);
            let current = self.store.directory_get(&key)?;
            let Some(mut record) =
                current.as_deref().map(|t| from_json::<PrincipalRecord>("principal", t)).transpose()?
            else {
                return Ok(Err(AdminRefusal::NotFound(id.to_owned())));
            };
            if record.state == PrincipalState::Offboarded {
                return Ok(Err(AdminRefusal::Offboarded(id.to_owned())));
            }
            if let Err(refusal) = change(&mut record) {
                return Ok(Err(refusal));
            }
            record.updated_at = now;
            let event = event(actor, now, action, id, detail.clone());
            let write = DirectoryWrite {
                expect: vec![(key.clone(), current)],
                put: vec![(key, to_json(&record)?)],
                delete: Vec::new(),
                log: Some(to_json(&event)?),
            };
            self.apply(write, record)
        })
    }

    /// Writes; a conflict becomes [`AdminRefusal::Contended`], which [`Directory::guarded`] retries.
    fn apply<T>(&self, write: DirectoryWrite, value: T) -> AdminResult<T> {
        match self.write_logged(write)? {
            DirectoryOutcome::Applied { .. } => Ok(Ok(value)),
            DirectoryOutcome::Conflict => Ok(Err(AdminRefusal::Contended)),
        }
    }

    /// Writes a directory change; an administrative one (with a platform-log entry) is also
    /// recorded, once applied, as an event in the audit log of each tenant it concerns: the tenant
    /// it changes, or the tenants the auditor it changes is granted. That event is a second commit
    /// after the change's: the answer waits for both, so an acknowledged change always has its
    /// events, and a crash between the two leaves the change in the platform log only.
    fn write_logged(&self, write: DirectoryWrite) -> Result<DirectoryOutcome, AppError> {
        let event = write.log.as_deref().map(|text| from_json::<AdminEvent>("platform log entry", text)).transpose()?;
        let outcome = self.store.directory_write(write)?;
        if let (DirectoryOutcome::Applied { log_sequence }, Some(event)) = (&outcome, event) {
            for tenant in self.concerned(&event.target)? {
                let leaf = crate::audit::leaf(&admin_audit_event(&tenant, &event, *log_sequence))?;
                self.store.write_audited(&tenant, TenantWrite::Nothing, AuditLeaves::one(leaf))?;
            }
        }
        Ok(outcome)
    }

    /// The tenants an administrative action on principal `id` concerns.
    fn concerned(&self, id: &str) -> Result<Vec<TenantId>, AppError> {
        Ok(match self.principal(id)? {
            Some(record) if record.role == Role::Tenant => TenantId::new(&record.id).into_iter().collect(),
            Some(record) if record.role == Role::Auditor => {
                record.auditor_of.iter().filter_map(|tenant| TenantId::new(tenant).ok()).collect()
            }
            _ => Vec::new(),
        })
    }

    /// Runs a read-modify-write until it does not meet a concurrent change (a few attempts).
    fn guarded<T>(&self, attempt: impl Fn() -> AdminResult<T>) -> AdminResult<T> {
        for _ in 0..WRITE_ATTEMPTS {
            match attempt()? {
                Err(AdminRefusal::Contended) => continue,
                other => return Ok(other),
            }
        }
        Ok(Err(AdminRefusal::Contended))
    }
}

/// An administrative action as an event of a tenant's audit log: `rpc` `admin/<action>`, the
/// actor as principal, and the action, its target, its details and its platform-log sequence.
fn admin_audit_event(tenant: &TenantId, event: &AdminEvent, log_sequence: Option<u64>) -> jpki_audit::AuditEvent {
    let call = crate::audit::CallContext {
        rpc: format!("admin/{}", event.action),
        principal: event.actor.clone(),
        credential: event.credential.clone().unwrap_or_default(),
        ..crate::audit::CallContext::default()
    };
    let mut audit = call.event(tenant, jpki_core::UnixTime(event.at));
    audit.detail.insert("target".into(), event.target.clone());
    if !event.detail.is_empty() {
        audit.detail.insert("detail".into(), event.detail.clone());
    }
    if let Some(sequence) = log_sequence {
        audit.detail.insert("platform_log_sequence".into(), sequence.to_string());
    }
    audit
}

fn event(actor: &Caller, now: i64, action: &str, target: &str, detail: String) -> AdminEvent {
    AdminEvent {
        at: now,
        actor: actor.id().to_owned(),
        credential: Some(actor.credential.clone()),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
    }
}

/// A refusal where none is expected (only contention can happen there), as a storage failure.
fn settle(refusal: AdminRefusal) -> AppError {
    AppError::Storage(StoreError::Backend(format!("directory: {refusal}")))
}

/// Constant-time equality (the lookup time must not tell how much of a guessed digest is right).
fn constant_time_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
