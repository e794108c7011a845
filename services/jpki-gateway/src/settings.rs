//! The gateway's configuration: a TOML file plus `JPKI_GATEWAY_*` environment overrides. There is
//! no built-in default: the demo (a generated test PKI and a demo tenant) is `jpkictl demo`.
//!
//! Environment variables override the file: `JPKI_GATEWAY_LISTEN=0.0.0.0:50051`, nested keys
//! with `__`: `JPKI_GATEWAY_TLS__CERTIFICATE=/etc/tls/tls.crt`, `JPKI_GATEWAY_LIMITS__MAX_CONCURRENT_REQUESTS=128`.
//! deploy/gateway.example.toml documents every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use jpki_core::CertKind;
use serde::{Deserialize, Serialize};

use jpki_app::FieldPermissions;
use jpki_app::directory::PolicyDocument;
pub use jpki_app::tenant::FOUR_FIELDS;
use jpki_app::tenant::TenantPolicy;
use jpki_app::trust::{AnchorFile, TrustConfig};

/// Everything the gateway needs to start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Serve plaintext HTTP/2. Must be set explicitly when no TLS is configured (the local demo),
    /// and is accepted on a loopback address only, unless `allow_plaintext_on_network`.
    pub plaintext: bool,
    /// Accept `plaintext` on a non-loopback address (logged as a warning at start): API keys and
    /// personal data then cross the network in clear. Only for a network that is itself encrypted
    /// and private (e.g. a service mesh's mTLS in front of the gateway).
    pub allow_plaintext_on_network: bool,
    /// TLS certificate chain and key (PEM); required unless `plaintext`.
    pub tls: Option<TlsFiles>,
    /// Where the durable local store lives (challenges, verification records, links, events).
    pub data_dir: PathBuf,
    /// The engine of the local store (without `redis`): `journal` (`data_dir/store.journal`, the
    /// default) or `redb` (`data_dir/store.redb`). Unset: `redb` when only `store.redb` exists (a
    /// data directory from before the journal; `jpkictl store import-redb` moves it), else
    /// `journal`. docs/durability.md compares them.
    pub embedded_engine: Option<EmbeddedEngine>,
    /// On the journal engine: how long, in microseconds, the journal's flusher thread waits before
    /// a sync asked for under a queue of calls, so that the calls behind join it
    /// (`JournalStore::set_commit_delay`; docs/durability.md). 0 syncs at once. A call with no
    /// queue behind it never waits for it. At most [`MAX_COMMIT_DELAY_MICROS`].
    pub journal_commit_delay_micros: u64,
    /// Timeouts, concurrency and drain.
    pub limits: Limits,
    /// Challenge lifetime.
    pub challenges: ChallengeSettings,
    /// Which verifications may back a link.
    pub links: LinkSettings,
    /// Trust anchors, policies and revocation lists.
    pub trust: TrustSettings,
    /// The tenants and their API keys (the file wins over the admin API for what it defines).
    pub tenants: Vec<TenantSettings>,
    /// Operators: administer tenants on the admin port; never see a tenant's data.
    pub operators: Vec<PrincipalSettings>,
    /// Auditors: read the audit log of the tenants they are granted; never verify.
    pub auditors: Vec<AuditorSettings>,
    /// Where the admin service (jpki.admin.v1.AdminService, operators only) listens: its own
    /// port, never the shared one. Unset: no admin service.
    pub admin_listen: Option<SocketAddr>,
    /// The directory of principals and keys.
    pub directory: DirectorySettings,
    /// Redis shared by several replicas: the tenant store and CRL refresh coordination. Without
    /// it, the gateway is a single node with durable local storage in `data_dir`.
    pub redis: Option<RedisSettings>,
    /// The tenants' audit logs: the platform name in their origins and the checkpoint signing key.
    pub audit: AuditLogSettings,
}

/// The audit logs' naming and signing (docs/audit.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditLogSettings {
    /// The platform's name: each tenant's log has the origin `<platform>/tenant/<tenant>`, and the
    /// signing key is named after it. No spaces or `+`.
    pub platform: String,
    /// A file holding the Ed25519 signing key's 32-byte seed as 64 hex digits. Unset: the seed is
    /// kept in `data_dir/audit-signing.key`, made on first start (single node only: with `redis`
    /// every replica must sign with the same key, so the file is required).
    pub signing_key_file: Option<PathBuf>,
    /// Verifier keys (signed-note vkey form) of earlier signing keys, still published during a
    /// rotation's overlap so that checkpoints they signed keep verifying.
    pub previous_verifier_keys: Vec<String>,
    /// How often the counts of a tenant's refused calls (outside its policy, over its quota) are
    /// written to its log, as one event per (principal, code): at least 1 second.
    pub refusal_interval_seconds: u64,
    /// Where the tenants' checkpoints and hash tiles are served over HTTP in the C2SP tlog-tiles
    /// layout (`/<tenant>/checkpoint`, `/<tenant>/tile/<L>/<N>`), for monitors and standard tools;
    /// entry bundles are not served there (the events go to the tenant's auditors only). Unset: not
    /// served.
    pub tiles_listen: Option<std::net::SocketAddr>,
    /// How often each tenant's log that grew gets a new published checkpoint (signed, stored
    /// durably as the tenant's latest), besides the ones made on demand: at least 1 second.
    pub checkpoint_interval_seconds: u64,
    /// How often the leader moves the tenants' durable events and evidence from the tenant store
    /// into the long-term archive: at least 1 second.
    pub integrate_interval_seconds: u64,
    /// How long events and the evidence they cite are kept, in days (2557: seven years, the
    /// 犯収法 record period); a linked certificate's records are kept this long after the unlink.
    /// Expiry removes payloads and keeps their hashes, so every checkpoint stays provable.
    pub retention_days: u64,
    /// The long-term archive in PostgreSQL (required with `redis`: the log and the evidence are
    /// kept for years, not in Redis memory nor in one pod). Unset: a redb file,
    /// `data_dir/audit/archive.redb`.
    pub postgres: Option<PostgresSettings>,
}

/// The audit archive's PostgreSQL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSettings {
    /// `postgres://user[:password]@host:port/db` or a key=value string; prefer the environment
    /// (`JPKI_GATEWAY_AUDIT__POSTGRES__URL`) when it holds a password.
    pub url: String,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PostgresSettings").field("url", &"<redacted>").finish()
    }
}

impl Default for AuditLogSettings {
    fn default() -> Self {
        AuditLogSettings {
            platform: "jpki-gateway.local".into(),
            signing_key_file: None,
            previous_verifier_keys: Vec::new(),
            refusal_interval_seconds: 60,
            tiles_listen: None,
            checkpoint_interval_seconds: 60,
            integrate_interval_seconds: 5,
            retention_days: 2557,
            postgres: None,
        }
    }
}

/// The engine of the single-node store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddedEngine {
    /// `jpki_store::JournalStore`: the state in memory, an append-only journal with group commit.
    Journal,
    /// `jpki_store::LocalStore`: a redb B-tree file, one transaction per group of calls.
    Redb,
}

/// Redis settings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[user:password@]host:port/db` or `rediss://…`; prefer the environment
    /// (`JPKI_GATEWAY_REDIS__URL`) when it holds a password.
    pub url: String,
    /// Prefix of every key: the store uses `<prefix>store:`, list coordination `<prefix>crl:`.
    #[serde(default = "default_redis_prefix")]
    pub prefix: String,
    /// Refuse to start unless Redis acknowledges only what it has fsynced (`appendonly yes`,
    /// `appendfsync always`, `maxmemory-policy noeviction`). Turn off only when a managed Redis
    /// hides its configuration and its durability is known otherwise.
    #[serde(default = "default_true")]
    pub require_durable: bool,
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("RedisSettings")
            .field("url", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("require_durable", &self.require_durable)
            .finish()
    }
}

fn default_redis_prefix() -> String {
    "jpki:".to_owned()
}

fn default_true() -> bool {
    true
}

/// TLS files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The server's certificate chain, PEM.
    pub certificate: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
    /// The CAs whose client certificates are accepted (PEM, several allowed): turns on optional
    /// client authentication (mTLS). A verified client certificate names a principal by its key
    /// (`client_spki_sha256`); without one, the API key does.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// Limits of the server's tower stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A unary call taking longer gets DEADLINE_EXCEEDED (streams are not limited).
    pub request_timeout_ms: u64,
    /// Calls in progress across all connections; more are shed at once with RESOURCE_EXHAUSTED.
    pub max_concurrent_requests: usize,
    /// On shutdown, how long in-flight calls may take before the server stops anyway.
    pub drain_timeout_seconds: u64,
    /// Failed authentications (UNAUTHENTICATED) a peer IP may make per minute, sustained, before
    /// its calls are refused before authentication (RESOURCE_EXHAUSTED, RetryInfo); 0 turns the
    /// throttle off (e.g. behind a proxy that hides client addresses).
    pub auth_failures_per_minute: u32,
    /// Failed authentications a peer IP may make at once; the one that spends them throttles it.
    pub auth_failure_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout_ms: 10_000,
            max_concurrent_requests: 256,
            drain_timeout_seconds: 20,
            auth_failures_per_minute: 10,
            auth_failure_burst: 10,
        }
    }
}

/// Challenge settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChallengeSettings {
    /// Seconds a challenge stays usable.
    pub ttl_seconds: u64,
}

impl Default for ChallengeSettings {
    fn default() -> Self {
        ChallengeSettings { ttl_seconds: 300 }
    }
}

/// Link settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSettings {
    /// An authentication verification may back a link for this many seconds after it passed.
    pub auth_verification_max_age_seconds: u64,
    /// A signature verification (same account opening) may be cited for this many seconds.
    pub signature_verification_max_age_seconds: u64,
    /// Verification records are kept this long, then purged.
    pub verification_retention_seconds: u64,
}

impl Default for LinkSettings {
    fn default() -> Self {
        LinkSettings {
            auth_verification_max_age_seconds: 600,
            signature_verification_max_age_seconds: 86_400,
            verification_retention_seconds: 7 * 86_400,
        }
    }
}

/// One trust anchor file in the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorSettings {
    /// signing_card, auth_card, signing_phone or auth_phone.
    pub kind: String,
    /// PEM or DER file (PEM may hold several certificates).
    pub path: PathBuf,
}

/// One accepted policy OID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// The kind it applies to.
    pub kind: String,
    /// The OID, dotted.
    pub oid: String,
}

/// One list kept fresh by the refresher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSettings {
    /// Stable name of the source (provenance, logs, Redis coordination), e.g. `signing-card-g2`. The
    /// source may hold several lists; cRLNumber floors are kept per (issuer key, scope), not per name.
    pub name: String,
    /// An `http://` or `https://` URL, or a file path.
    pub source: String,
}

/// Trust configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrustSettings {
    /// Trust anchors.
    pub anchors: Vec<AnchorSettings>,
    /// Accepted policies (card kinds default to the published JPKI policies).
    pub policies: Vec<PolicySettings>,
    /// Lists loaded once at start (files or directories).
    pub crl_files: Vec<PathBuf>,
    /// Lists refreshed from their source every `refresh_interval_seconds`.
    pub lists: Vec<ListSettings>,
    /// Seconds between refreshes of each list.
    pub refresh_interval_seconds: u64,
    /// Seconds a list may still be used after its nextUpdate.
    pub crl_grace_seconds: i64,
}

impl Default for TrustSettings {
    fn default() -> Self {
        TrustSettings {
            anchors: Vec::new(),
            policies: Vec::new(),
            crl_files: Vec::new(),
            lists: Vec::new(),
            refresh_interval_seconds: 900,
            crl_grace_seconds: 0,
        }
    }
}

impl TrustSettings {
    /// Adds anchor files and policy OIDs given by kind name (`signing_card`), as a test PKI's
    /// manifest lists them.
    pub fn add(&mut self, anchors: Vec<(&str, PathBuf)>, policies: Vec<(&str, String)>) {
        self.anchors.extend(anchors.into_iter().map(|(kind, path)| AnchorSettings { kind: kind.to_owned(), path }));
        self.policies.extend(policies.into_iter().map(|(kind, oid)| PolicySettings { kind: kind.to_owned(), oid }));
    }
}

/// One tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// Tenant id: 1 to 64 of `A-Z a-z 0-9 _ . -`.
    pub id: String,
    /// SHA-256 of the API key, hex (production).
    #[serde(default)]
    pub api_key_sha256: Option<String>,
    /// The API key itself (local demo and tests only).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Which of the four fields it may receive: any of name, date_of_birth, address, sex.
    /// None by default (deny by default).
    #[serde(default)]
    pub four_fields: Vec<String>,
    /// The tenant RPCs it may call, by method name (`VerifySignature`, …). Unset: all of them.
    #[serde(default)]
    pub rpcs: Option<Vec<String>>,
    /// The certificate kinds it may verify (`signing_card`, `auth_card`, `signing_phone`,
    /// `auth_phone`). Unset: all four.
    #[serde(default)]
    pub certificate_kinds: Option<Vec<String>>,
    /// The business purposes it may give (`account_opening`, `login`, `remittance`,
    /// `periodic_reverification`). Unset: all four.
    #[serde(default)]
    pub business_purposes: Option<Vec<String>>,
    /// Its quota on each replica. Unset: the default quota.
    #[serde(default)]
    pub quota: Option<QuotaSettings>,
    /// SHA-256 of the SubjectPublicKeyInfo of its client certificate, hex (mTLS; `tls.client_ca`).
    #[serde(default)]
    pub client_spki_sha256: Option<String>,
    /// The CA (PEM) that must have issued its client certificate directly; trusted for client
    /// authentication on top of `tls.client_ca`.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Refuse this tenant's calls that do not come with its client certificate (an API key alone is
    /// then not enough).
    #[serde(default)]
    pub require_client_certificate: bool,
}

/// An operator in the configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalSettings {
    /// 1 to 64 of `A-Z a-z 0-9 _ . -`, unique across tenants, operators and auditors.
    pub id: String,
    /// SHA-256 of its API key, hex.
    #[serde(default)]
    pub api_key_sha256: Option<String>,
    /// The API key itself (a gateway listening on loopback only: the local demo and tests).
    #[serde(default)]
    pub api_key: Option<String>,
    /// SHA-256 of the SubjectPublicKeyInfo of its client certificate, hex (mTLS; `tls.client_ca`).
    #[serde(default)]
    pub client_spki_sha256: Option<String>,
    /// The CA (PEM) that must have issued its client certificate directly; trusted for client
    /// authentication on top of `tls.client_ca`.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
}

/// An auditor in the configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditorSettings {
    /// 1 to 64 of `A-Z a-z 0-9 _ . -`, unique across tenants, operators and auditors.
    pub id: String,
    /// SHA-256 of its API key, hex.
    #[serde(default)]
    pub api_key_sha256: Option<String>,
    /// The API key itself (a gateway listening on loopback only).
    #[serde(default)]
    pub api_key: Option<String>,
    /// SHA-256 of the SubjectPublicKeyInfo of its client certificate, hex (mTLS).
    #[serde(default)]
    pub client_spki_sha256: Option<String>,
    /// The CA (PEM) that must have issued its client certificate directly.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// The tenants whose audit log it may read.
    #[serde(default)]
    pub tenants: Vec<String>,
}

/// The directory's cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectorySettings {
    /// How long an authentication answer is cached, in milliseconds (1 to 5000): the longest a
    /// change made on another replica can take to apply if its Redis notice is lost.
    pub cache_ttl_ms: u64,
}

impl Default for DirectorySettings {
    fn default() -> Self {
        DirectorySettings { cache_ttl_ms: 5_000 }
    }
}

/// A tenant's quota on each replica (docs/tenancy.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSettings {
    /// Sustained calls per second.
    pub requests_per_second: u32,
    /// Calls allowed at once above the sustained rate.
    pub burst: u32,
    /// Calls in progress at once.
    pub max_concurrent: u32,
}

impl TenantSettings {
    /// A tenant with an id and a plaintext key and nothing else set (tests and the demo).
    pub fn with_key(id: &str, api_key: &str) -> Self {
        TenantSettings {
            id: id.to_owned(),
            api_key: Some(api_key.to_owned()),
            api_key_sha256: None,
            four_fields: Vec::new(),
            rpcs: None,
            certificate_kinds: None,
            business_purposes: None,
            quota: None,
            client_spki_sha256: None,
            client_ca: None,
            require_client_certificate: false,
        }
    }

    /// The fields and policy the settings name (what is unset is everything at the default
    /// quota), checked by the same rules as the admin API's (`PolicyDocument::parse`).
    pub fn policy(&self) -> anyhow::Result<PolicyDocument> {
        let everything = PolicyDocument::of(FieldPermissions::default(), &TenantPolicy::everything());
        let quota = match &self.quota {
            Some(quota) if quota.requests_per_second == 0 || quota.burst == 0 || quota.max_concurrent == 0 => {
                bail!("tenants.{}.quota: requests_per_second, burst and max_concurrent must be at least 1", self.id)
            }
            Some(quota) => (quota.requests_per_second, quota.burst, quota.max_concurrent),
            None => (everything.requests_per_second, everything.burst, everything.max_concurrent),
        };
        let document = PolicyDocument {
            four_fields: self.four_fields.clone(),
            rpcs: self.rpcs.clone().unwrap_or(everything.rpcs),
            certificate_kinds: self.certificate_kinds.clone().unwrap_or(everything.certificate_kinds),
            business_purposes: self.business_purposes.clone().unwrap_or(everything.business_purposes),
            requests_per_second: quota.0,
            burst: quota.1,
            max_concurrent: quota.2,
        };
        document.parse().map_err(|unknown| anyhow::anyhow!("tenants.{}: {unknown}", self.id))?;
        Ok(document)
    }
}

/// The default of [`GatewayConfig::journal_commit_delay_micros`]: with 32 calls in flight it
/// halves the journal's syncs at the same throughput (docs/performance.md).
pub const DEFAULT_COMMIT_DELAY_MICROS: u64 = 300;

/// The largest [`GatewayConfig::journal_commit_delay_micros`]: every call under a queue may wait
/// this long more.
pub const MAX_COMMIT_DELAY_MICROS: u64 = 10_000;

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            plaintext: false,
            allow_plaintext_on_network: false,
            tls: None,
            data_dir: PathBuf::from("jpki-gateway-data"),
            embedded_engine: None,
            journal_commit_delay_micros: DEFAULT_COMMIT_DELAY_MICROS,
            limits: Limits::default(),
            challenges: ChallengeSettings::default(),
            links: LinkSettings::default(),
            trust: TrustSettings::default(),
            tenants: Vec::new(),
            operators: Vec::new(),
            auditors: Vec::new(),
            admin_listen: None,
            directory: DirectorySettings::default(),
            redis: None,
            audit: AuditLogSettings::default(),
        }
    }
}

fn parse_kind(kind: &str) -> anyhow::Result<CertKind> {
    CertKind::parse(kind).with_context(|| {
        format!("unknown certificate kind {kind:?} (signing_card, auth_card, signing_phone, auth_phone)")
    })
}

/// A principal's own client CA file, with its id.
fn own<'c>(id: &'c str, path: &'c Option<PathBuf>) -> Option<(Option<&'c str>, &'c Path)> {
    path.as_deref().map(|path| (Some(id), path))
}

impl GatewayConfig {
    /// Every configured client CA file: `tls.client_ca` (no principal) and each principal's
    /// `client_ca` (with its id).
    pub fn client_ca_files(&self) -> Vec<(Option<&str>, &Path)> {
        let tls = self.tls.iter().filter_map(|tls| tls.client_ca.as_deref()).map(|path| (None, path));
        let tenants = self.tenants.iter().filter_map(|t| own(&t.id, &t.client_ca));
        let operators = self.operators.iter().filter_map(|o| own(&o.id, &o.client_ca));
        let auditors = self.auditors.iter().filter_map(|a| own(&a.id, &a.client_ca));
        tls.chain(tenants).chain(operators).chain(auditors).collect()
    }

    /// The file (if any) overridden by `JPKI_GATEWAY_*` environment variables, checked.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(GatewayConfig::default()));
        if let Some(file) = file {
            if !file.is_file() {
                bail!("{}: no such configuration file", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        let config: GatewayConfig = figment
            .merge(Env::prefixed("JPKI_GATEWAY_").split("__"))
            .extract()
            .map_err(|error| anyhow::anyhow!("configuration: {error}"))?;
        config.check()?;
        Ok(config)
    }

    /// Refuses configurations that cannot be served safely; every message names the key.
    pub fn check(&self) -> anyhow::Result<()> {
        if !self.plaintext && self.tls.is_none() {
            bail!(
                "tls: no certificate configured; set tls.certificate and tls.private_key, or plaintext = true (local use only)"
            );
        }
        if self.plaintext && self.tls.is_some() {
            bail!("plaintext = true and tls are both set; choose one");
        }
        if self.limits.max_concurrent_requests == 0 {
            bail!("limits.max_concurrent_requests must be at least 1");
        }
        if self.limits.request_timeout_ms == 0 {
            bail!("limits.request_timeout_ms must be at least 1");
        }
        if self.challenges.ttl_seconds == 0 {
            bail!("challenges.ttl_seconds must be at least 1");
        }
        if self.journal_commit_delay_micros > MAX_COMMIT_DELAY_MICROS {
            bail!("journal_commit_delay_micros must be at most {MAX_COMMIT_DELAY_MICROS} (10 ms)");
        }
        if self.trust.refresh_interval_seconds == 0 {
            bail!("trust.refresh_interval_seconds must be at least 1");
        }
        if self.tenants.is_empty() && self.operators.is_empty() {
            bail!("tenants: none configured, and no operator to create one; every call would be refused");
        }
        if self.redis.is_some() && self.audit.signing_key_file.is_none() {
            bail!(
                "audit.signing_key_file: required with redis (every replica must sign the audit logs with the same key)"
            );
        }
        if self.redis.is_some() && self.audit.postgres.is_none() {
            bail!(
                "audit.postgres: required with redis (the replicas' audit logs and evidence are kept for years in \
                 PostgreSQL, not in Redis memory or in one pod's data_dir)"
            );
        }
        if self.audit.integrate_interval_seconds == 0 {
            bail!("audit.integrate_interval_seconds must be at least 1");
        }
        if self.audit.retention_days == 0 {
            bail!("audit.retention_days must be at least 1");
        }
        if self.audit.checkpoint_interval_seconds == 0 {
            bail!("audit.checkpoint_interval_seconds must be at least 1");
        }
        if self.audit.refusal_interval_seconds == 0 {
            bail!("audit.refusal_interval_seconds must be at least 1");
        }
        if !(1..=5_000).contains(&self.directory.cache_ttl_ms) {
            bail!("directory.cache_ttl_ms must be 1 to 5000 (a change must apply on every replica within 5 s)");
        }
        let plaintext_keys = self.tenants.iter().any(|t| t.api_key.is_some())
            || self.operators.iter().any(|o| o.api_key.is_some())
            || self.auditors.iter().any(|a| a.api_key.is_some());
        let listens = std::iter::once(self.listen).chain(self.admin_listen);
        if plaintext_keys && listens.clone().any(|address| !address.ip().is_loopback()) {
            bail!(
                "api_key: a plaintext key in the configuration file is accepted only for the local demo (a loopback \
                 address); configure api_key_sha256, or issue keys with `jpkictl admin issue-key`"
            );
        }
        for address in listens {
            self.check_plaintext_address(address)?;
        }
        if self.admin_listen.is_some_and(|admin| admin == self.listen && admin.port() != 0) {
            bail!("admin_listen must differ from listen: the admin service has its own port");
        }
        for anchor in &self.trust.anchors {
            parse_kind(&anchor.kind).with_context(|| format!("trust.anchors: {}", anchor.path.display()))?;
        }
        for policy in &self.trust.policies {
            parse_kind(&policy.kind).context("trust.policies")?;
        }
        for list in &self.trust.lists {
            jpki_refresh::CrlSource::parse(&list.source)
                .map_err(|error| anyhow::anyhow!("trust.lists {}: {error}", list.name))?;
        }
        crate::auth::configured_principals(self)?;
        Ok(())
    }

    /// Refuses plaintext on an address other than loopback unless `allow_plaintext_on_network`:
    /// API keys and the four fields would cross the network in clear.
    pub fn check_plaintext_address(&self, address: SocketAddr) -> anyhow::Result<()> {
        if self.plaintext && !address.ip().is_loopback() && !self.allow_plaintext_on_network {
            bail!(
                "plaintext: {address} is not a loopback address; API keys and personal data would cross the network \
                 in clear. Configure [tls], listen on 127.0.0.1 or ::1, or set allow_plaintext_on_network = true \
                 behind an encrypted private network"
            );
        }
        Ok(())
    }

    /// The trust part as the loader takes it.
    pub fn trust_config(&self) -> anyhow::Result<TrustConfig> {
        let mut trust = TrustConfig::default();
        for anchor in &self.trust.anchors {
            trust.anchors.push(AnchorFile { kind: parse_kind(&anchor.kind)?, path: anchor.path.clone() });
        }
        for policy in &self.trust.policies {
            trust.policies.push((parse_kind(&policy.kind)?, policy.oid.clone()));
        }
        trust.crls.extend(self.trust.crl_files.iter().cloned());
        trust.crl_grace_seconds = self.trust.crl_grace_seconds;
        trust.archive = Some(self.data_dir.join(crate::audit::LIST_ARCHIVE));
        Ok(trust)
    }
}
