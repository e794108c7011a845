//! Authentication and authorization: every call but health and reflection runs as one principal
//! (tenant, auditor or operator), named by its API key, and only within its role.
//! [`AuthenticateLayer`] is a tower layer in the server's one stack.
//!
//! Keys are looked up in the directory (`jpki_app::directory`) through a cache ([`Access`]) that
//! holds each answer for at most `directory.cache_ttl_ms` (5 s by default and at most): a change
//! made on this node drops the cache at once, a change made on another replica drops it through
//! Redis pub/sub, and the TTL bounds how long a lost message can matter.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::bail;
use futures_util::future::BoxFuture;
use jpki_app::clock::now;
use jpki_app::directory::{
    AuthRefusal, Caller, ConfiguredPrincipal, Directory, PolicyDocument, Principal, Role, configured_key_id, key_digest,
};
use jpki_app::tenant::TenantRpc;
use jpki_app::{AppError, CallContext, Tenant};
use jpki_store::{StoreError, TenantId};
use tokio::sync::watch;
use tonic::{Request, Status};

use crate::settings::GatewayConfig;

/// How long a key's last use may lag (one write per key per replica per interval at most).
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// The one answer to every refused credential: it tells nothing about other keys or principals.
const REFUSED: &str = "the API key is not valid (unknown, expired, revoked, or its principal suspended)";

/// The configuration file's principals (tenants, auditors, operators) as the directory's
/// bootstrap takes them, checked: valid ids, one id per principal, at most one key form each, no
/// key shared, known names; and the digests of their keys, to find the key id of a configured
/// key (which, unlike a generated one, does not carry it).
pub fn configured_principals(
    config: &GatewayConfig,
) -> anyhow::Result<(Vec<ConfiguredPrincipal>, HashMap<String, String>)> {
    let mut principals = Vec::new();
    let mut key_ids = HashMap::new();
    let mut ids = std::collections::HashSet::new();
    let mut spkis = std::collections::HashSet::new();
    let mut add = |id: &str,
                   role: Role,
                   policy: Option<PolicyDocument>,
                   auditor_of: Vec<String>,
                   api_key: &Option<String>,
                   api_key_sha256: &Option<String>,
                   client_spki_sha256: &Option<String>,
                   require_client_certificate: bool|
     -> anyhow::Result<()> {
        let what = format!("{}s.{id}", role.name());
        let list = format!("{}s", role.name());
        if !ids.insert(id.to_owned()) {
            // Two entries would share one principal under different rights.
            bail!("{list}: {id:?} is configured twice (ids are unique across tenants, operators and auditors)");
        }
        if jpki_store::TenantId::new(id).is_err() {
            bail!("{list}: invalid id {id:?} (1 to 64 of A-Z a-z 0-9 _ . -)");
        }
        let key_sha256 = match (api_key, api_key_sha256) {
            (Some(key), None) if !key.is_empty() => Some(key_digest(key)),
            (None, Some(hex_digest)) => {
                let mut bytes = [0u8; 32];
                if hex::decode_to_slice(hex_digest.trim(), &mut bytes).is_err() {
                    bail!("{what}: api_key_sha256 must be 64 hex digits");
                }
                Some(hex::encode(bytes))
            }
            (None, None) => None,
            (Some(_), None) => bail!("{what}: api_key is empty"),
            _ => bail!("{what}: set at most one of api_key or api_key_sha256"),
        };
        if let Some(digest) = &key_sha256
            && key_ids.insert(digest.clone(), configured_key_id(id)).is_some()
        {
            bail!("{what}: its API key is also another principal's");
        }
        if let Some(spki) = client_spki_sha256
            && !spkis.insert(spki.trim().to_ascii_lowercase())
        {
            bail!("{what}: its client certificate key is also another principal's");
        }
        let client_spki_sha256 = match client_spki_sha256 {
            None => None,
            Some(hex_digest) => {
                let mut bytes = [0u8; 32];
                if hex::decode_to_slice(hex_digest.trim(), &mut bytes).is_err() {
                    bail!("{what}: client_spki_sha256 must be 64 hex digits");
                }
                Some(hex::encode(bytes))
            }
        };
        if require_client_certificate && client_spki_sha256.is_none() {
            bail!("{what}: require_client_certificate needs client_spki_sha256");
        }
        principals.push(ConfiguredPrincipal {
            id: id.to_owned(),
            role,
            policy,
            auditor_of,
            key_sha256,
            client_spki_sha256,
            require_client_certificate,
        });
        Ok(())
    };
    for tenant in &config.tenants {
        let policy = tenant.policy()?;
        add(
            &tenant.id,
            Role::Tenant,
            Some(policy),
            Vec::new(),
            &tenant.api_key,
            &tenant.api_key_sha256,
            &tenant.client_spki_sha256,
            tenant.require_client_certificate,
        )?;
    }
    for operator in &config.operators {
        let (key, digest, spki) = (&operator.api_key, &operator.api_key_sha256, &operator.client_spki_sha256);
        add(&operator.id, Role::Operator, None, Vec::new(), key, digest, spki, false)?;
    }
    for auditor in &config.auditors {
        let (key, digest, spki) = (&auditor.api_key, &auditor.api_key_sha256, &auditor.client_spki_sha256);
        add(&auditor.id, Role::Auditor, None, auditor.tenants.clone(), key, digest, spki, false)?;
    }
    Ok((principals, key_ids))
}

/// What a cached authentication looked up.
/// A refused credential: why (for the gateway's log only), and the tenant whose key it named,
/// whose audit log counts the refusal.
#[derive(Clone, Debug)]
struct Refused {
    reason: AuthRefusal,
    owner: Option<(String, TenantId)>,
}

impl From<AuthRefusal> for Refused {
    fn from(reason: AuthRefusal) -> Self {
        Refused { reason, owner: None }
    }
}

enum Lookup {
    /// A presented API key.
    Key(String),
    /// A verified client certificate's SPKI SHA-256, hex.
    Certificate(String),
}

/// The verified client certificate of a TLS connection: rustls has verified its chain against the
/// configured client CAs before the call arrives.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    /// SHA-256 of its SubjectPublicKeyInfo, hex: what `client_spki_sha256` pins.
    pub spki_sha256: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
}

/// The request's verified client certificate, if any.
pub fn client_certificate<B>(request: &http::Request<B>) -> Option<ClientCertificate> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let certificates = request.extensions().get::<TlsConnectInfo<TcpConnectInfo>>()?.peer_certs()?;
    let leaf = certificates.first()?;
    let (_, certificate) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let spki = certificate.tbs_certificate.subject_pki.raw;
    Some(ClientCertificate {
        spki_sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, spki)),
        der: leaf.as_ref().to_vec(),
    })
}

/// Whether `leaf` was issued directly by one of `cas` (DER): its issuer is the CA's subject and
/// the CA's key verifies its signature.
fn issued_by_one_of(leaf: &[u8], cas: &[Vec<u8>]) -> bool {
    let Ok((_, leaf)) = x509_parser::parse_x509_certificate(leaf) else { return false };
    cas.iter().any(|ca| {
        x509_parser::parse_x509_certificate(ca).is_ok_and(|(_, ca)| {
            ca.subject().as_raw() == leaf.issuer().as_raw() && leaf.verify_signature(Some(ca.public_key())).is_ok()
        })
    })
}

/// Every certificate (DER) in a PEM text.
pub fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem)
        .filter_map(Result::ok)
        .filter(|pem| pem.label == "CERTIFICATE")
        .map(|pem| pem.contents)
        .collect()
}

/// The directory behind a cache: authentication, and the change notices that end a suspended
/// tenant's streams.
pub struct Access {
    directory: Directory,
    configured: HashMap<String, String>,
    /// Each principal's own client CAs (DER), from the configuration file.
    client_cas: HashMap<String, Vec<Vec<u8>>>,
    answers: moka::future::Cache<String, Result<Caller, Refused>>,
    touched: moka::sync::Cache<String, ()>,
    changes: watch::Sender<u64>,
    refusals: Arc<crate::refusals::Refusals>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("cached", &self.answers.entry_count()).finish_non_exhaustive()
    }
}

impl Access {
    /// Access over `directory`, with the configured keys' digests, each principal's own client CAs
    /// (DER) and the cache's TTL.
    pub fn new(
        directory: Directory,
        configured: HashMap<String, String>,
        client_cas: HashMap<String, Vec<Vec<u8>>>,
        ttl: Duration,
    ) -> Self {
        Access {
            directory,
            configured,
            client_cas,
            answers: moka::future::Cache::builder().max_capacity(100_000).time_to_live(ttl).build(),
            touched: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(TOUCH_INTERVAL).build(),
            changes: watch::channel(0).0,
            refusals: Arc::default(),
        }
    }

    /// The counts of refused calls, for the audit log's aggregates.
    pub fn refusals(&self) -> &Arc<crate::refusals::Refusals> {
        &self.refusals
    }

    /// The directory.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Drops every cached answer and tells open streams to check their principal again: after
    /// a change on this node (at once) or a notice from another replica.
    pub fn invalidate(&self) {
        self.answers.invalidate_all();
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// Notices of directory changes (see [`Access::invalidate`]).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The caller of a request: its `authorization: Bearer <key>` header and its verified client
    /// certificate's key (SPKI SHA-256, hex), either of them or both (then naming one principal);
    /// a principal that requires its certificate is refused without it. UNAUTHENTICATED otherwise.
    pub async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        client: Option<ClientCertificate>,
    ) -> Result<Caller, Status> {
        let client_spki = client.as_ref().map(|certificate| certificate.spki_sha256.clone());
        let by_certificate = match &client_spki {
            Some(spki) => Some(self.lookup(format!("spki:{spki}"), Lookup::Certificate(spki.clone())).await?),
            None => None,
        };
        let caller = match (headers.get(http::header::AUTHORIZATION), by_certificate) {
            (None, None) => return Err(Status::unauthenticated("missing authorization metadata (Bearer API key)")),
            // A certificate alone: only if it names a principal.
            (None, Some(answer)) => answer,
            (Some(header), by_certificate) => {
                let by_key = self.authenticate_key(header).await?;
                match (by_key, by_certificate) {
                    // A certificate naming another principal than the key: neither is trusted.
                    (Ok(key), Some(Ok(certificate))) if key.id() != certificate.id() => {
                        Err(AuthRefusal::UnknownKey.into())
                    }
                    (by_key, _) => by_key,
                }
            }
        };
        match caller {
            Ok(caller)
                if caller.require_client_certificate
                    && (client_spki.is_none() || caller.client_spki_sha256 != client_spki) =>
            {
                tracing::info!(principal = caller.id(), "credential refused: its client certificate is required");
                Err(self.refused(tenant_principal(&caller)))
            }
            // A certificate that names a principal with its own client CA must come from that CA.
            Ok(caller)
                if caller.client_spki_sha256.is_some()
                    && caller.client_spki_sha256 == client_spki
                    && self.client_cas.get(caller.id()).is_some_and(|cas| {
                        !client.as_ref().is_some_and(|certificate| issued_by_one_of(&certificate.der, cas))
                    }) =>
            {
                tracing::info!(principal = caller.id(), "credential refused: not issued by the principal's client CA");
                Err(self.refused(tenant_principal(&caller)))
            }
            // A cached answer never outlives its key.
            Ok(caller) if caller.expires_at.is_some_and(|expiry| now().0 >= expiry) => {
                tracing::info!(refusal = ?AuthRefusal::Expired, "credential refused");
                Err(self.refused(tenant_principal(&caller)))
            }
            Ok(caller) => {
                if caller.by_key() {
                    self.touch(&caller.credential);
                }
                Ok(caller)
            }
            Err(refused) => {
                tracing::info!(refusal = ?refused.reason, "credential refused");
                Err(self.refused(refused.owner))
            }
        }
    }

    /// UNAUTHENTICATED, the same for every refusal; counted in the audit log of the tenant whose
    /// credential it was, if any (docs/audit.md).
    fn refused(&self, owner: Option<(String, TenantId)>) -> Status {
        if let Some((principal, tenant)) = owner {
            self.refusals.record(&tenant, &principal, tonic::Code::Unauthenticated);
        }
        Status::unauthenticated(REFUSED)
    }

    /// The answer for an API key header (cached).
    async fn authenticate_key(&self, header: &http::HeaderValue) -> Result<Result<Caller, Refused>, Status> {
        let key = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|key| !key.is_empty() && key.len() <= 512)
            .ok_or_else(|| Status::unauthenticated("authorization must be \"Bearer <API key>\""))?;
        self.lookup(key_digest(key), Lookup::Key(key.to_owned())).await
    }

    /// One directory lookup through the cache, on a blocking thread when it misses.
    async fn lookup(&self, cache_key: String, lookup: Lookup) -> Result<Result<Caller, Refused>, Status> {
        let (directory, configured) = (self.directory.clone(), self.configured.clone());
        self.answers
            .try_get_with(cache_key, async move {
                tokio::task::spawn_blocking(move || match lookup {
                    Lookup::Key(presented) => match directory.authenticate(&presented, &configured, now().0)? {
                        Ok(caller) => Ok(Ok(caller)),
                        Err(reason) => {
                            let owner = directory.tenant_of_presented_key(&presented, &configured)?;
                            Ok(Err(Refused { reason, owner }))
                        }
                    },
                    Lookup::Certificate(spki) => {
                        directory.authenticate_certificate(&spki).map(|answer| answer.map_err(Refused::from))
                    }
                })
                .await
                .map_err(|_| AppError::Storage(StoreError::Backend("the directory lookup task failed".into())))?
            })
            .await
            // A storage failure: UNAVAILABLE with RetryInfo, as for every call that reaches the store.
            .map_err(|error| crate::encode::app_error(&error))
    }

    /// Records the key's use, at most once per [`TOUCH_INTERVAL`] per key on this replica, off
    /// the call's path.
    fn touch(&self, key_id: &str) {
        if self.touched.contains_key(key_id) {
            return;
        }
        self.touched.insert(key_id.to_owned(), ());
        let (directory, key_id) = (self.directory.clone(), key_id.to_owned());
        tokio::task::spawn_blocking(move || {
            if let Err(error) = directory.touch(&key_id, now().0) {
                tracing::warn!(%error, "cannot record a key's last use");
            }
        });
    }

    /// Whether the principal `id` is still active (read through the directory, not the cache).
    pub async fn is_active(&self, id: &str) -> Result<bool, Status> {
        let (directory, id) = (self.directory.clone(), id.to_owned());
        let record = tokio::task::spawn_blocking(move || directory.principal(&id))
            .await
            .map_err(|_| Status::internal("the directory lookup task failed"))?
            .map_err(|error| crate::encode::app_error(&error))?;
        Ok(record.is_some_and(|record| record.state == jpki_app::directory::PrincipalState::Active))
    }
}

/// The principal and tenant of a tenant caller.
fn tenant_principal(caller: &Caller) -> Option<(String, TenantId)> {
    match &caller.principal {
        Principal::Tenant(tenant) => Some((caller.id().to_owned(), tenant.id.clone())),
        Principal::Auditor { .. } | Principal::Operator { .. } => None,
    }
}

/// The tenant attached by [`AuthenticateLayer`]; INTERNAL if the layer is missing (a wiring bug,
/// never a client's fault).
pub fn tenant_of<T>(request: &Request<T>) -> Result<Arc<Tenant>, Status> {
    request.extensions().get::<Arc<Tenant>>().cloned().ok_or_else(|| Status::internal("no tenant on the request"))
}

/// The caller attached by [`AuthenticateLayer`]; INTERNAL if the layer is missing.
pub fn caller_of<T>(request: &Request<T>) -> Result<Arc<Caller>, Status> {
    request.extensions().get::<Arc<Caller>>().cloned().ok_or_else(|| Status::internal("no caller on the request"))
}

/// The call's context for its audit event, attached by [`AuthenticateLayer`]; INTERNAL if the
/// layer is missing.
pub fn call_of<T>(request: &Request<T>) -> Result<Arc<CallContext>, Status> {
    request.extensions().get::<Arc<CallContext>>().cloned().ok_or_else(|| Status::internal("no call context"))
}

/// Who calls what: the path, the principal and its credential, the request id (set by the
/// request-id layer outside this one) and the W3C trace id of a `traceparent` header.
fn call_context<B>(request: &http::Request<B>, caller: &Caller) -> CallContext {
    let header = |name: &str| request.headers().get(name).and_then(|value| value.to_str().ok());
    let trace_id = header("traceparent")
        .and_then(|value| value.split('-').nth(1))
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    CallContext {
        rpc: request.uri().path().to_owned(),
        principal: caller.id().to_owned(),
        credential: caller.credential.clone(),
        request_id: header(crate::stack::REQUEST_ID_HEADER).unwrap_or_default().to_owned(),
        trace_id,
    }
}

/// What a call's path requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Required {
    /// Health checks (probes) and reflection (tools): no credential.
    Nothing,
    /// A tenant whose policy allows this RPC.
    Tenant(TenantRpc),
    /// Any principal (its own keys).
    AnyPrincipal,
    /// An operator.
    Operator,
    /// An auditor (the service checks which tenants it may read).
    Auditor,
    /// Nothing grants it (deny by default).
    Denied,
}

fn required(path: &str) -> Required {
    if path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.") {
        Required::Nothing
    } else if let Some(rpc) = TenantRpc::from_path(path) {
        Required::Tenant(rpc)
    } else if path.starts_with("/jpki.gateway.v1.CredentialService/") {
        Required::AnyPrincipal
    } else if path.starts_with("/jpki.admin.v1.AdminService/") {
        Required::Operator
    } else if path.starts_with("/jpki.audit.v1.AuditService/") {
        Required::Auditor
    } else {
        Required::Denied
    }
}

/// Whether `caller` may make a call that requires `required`; the tenant to attach, if any.
fn authorize(caller: &Caller, required: Required, path: &str) -> Result<Option<Arc<Tenant>>, Status> {
    let denied = || Status::permission_denied(format!("a {} may not call {path}", caller.role().name()));
    match (required, &caller.principal) {
        (Required::Nothing | Required::AnyPrincipal, Principal::Tenant(tenant)) => Ok(Some(tenant.clone())),
        (Required::Nothing | Required::AnyPrincipal, _) => Ok(None),
        (Required::Tenant(rpc), Principal::Tenant(tenant)) if tenant.policy.allows_rpc(rpc) => Ok(Some(tenant.clone())),
        (Required::Tenant(rpc), Principal::Tenant(_)) => {
            Err(Status::permission_denied(format!("this tenant's policy does not allow {}", rpc.name())))
        }
        (Required::Operator, Principal::Operator { .. }) | (Required::Auditor, Principal::Auditor { .. }) => Ok(None),
        _ => Err(denied()),
    }
}

/// The tower layer that authenticates every call but health and reflection and checks the
/// caller's role (and a tenant's allowed RPCs), attaching the caller and, for a tenant, the
/// tenant to the request's extensions (tonic hands them to the handler). Refused calls get
/// UNAUTHENTICATED or PERMISSION_DENIED without reaching any service.
#[derive(Clone, Debug)]
pub struct AuthenticateLayer {
    access: Arc<Access>,
}

impl AuthenticateLayer {
    /// The layer over the directory's access.
    pub fn new(access: Arc<Access>) -> Self {
        AuthenticateLayer { access }
    }
}

impl<S> tower::Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate { inner, access: self.access.clone() }
    }
}

/// The service of [`AuthenticateLayer`].
#[derive(Clone, Debug)]
pub struct Authenticate<S> {
    inner: S,
    access: Arc<Access>,
}

impl<S, B> tower::Service<http::Request<B>> for Authenticate<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The service made ready is the one that answers; a refused call drops it, so that
        // whatever it reserved in poll_ready is released.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let access = self.access.clone();
        Box::pin(async move {
            let required = required(request.uri().path());
            if required == Required::Nothing {
                return ready.call(request).await;
            }
            let admitted = match access.authenticate(request.headers(), client_certificate(&request)).await {
                Ok(caller) => match authorize(&caller, required, request.uri().path()) {
                    Ok(tenant) => Ok((caller, tenant)),
                    Err(status) => {
                        // A tenant's call outside its policy goes into its audit log's aggregates.
                        if let Principal::Tenant(tenant) = &caller.principal {
                            access.refusals.record(&tenant.id, caller.id(), status.code());
                        }
                        Err(status)
                    }
                },
                Err(status) => Err(status),
            };
            match admitted {
                Ok((caller, tenant)) => {
                    if let Some(tenant) = tenant {
                        request.extensions_mut().insert(tenant);
                    }
                    let call = call_context(&request, &caller);
                    request.extensions_mut().insert(Arc::new(call));
                    request.extensions_mut().insert(Arc::new(caller));
                    ready.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}
