//! The gateway over a real socket: a test PKI in a temp dir, the server on 127.0.0.1:0, the CA
//! simulator over real HTTP when lists are refreshed, generated tonic clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::link_service_client::LinkServiceClient;
use jpki_api::v1::status_service_client::StatusServiceClient;
use jpki_api::v1::verification_service_client::VerificationServiceClient;
use jpki_api::v1::{CmsSignature, VerifySignatureRequest, verify_signature_request::Signature};
use jpki_casim::{CaSimulator, SimConfig, SimHandle};
use jpki_gateway::settings::{ListSettings, TenantSettings};
use jpki_gateway::{Gateway, GatewayConfig};
use jpki_testpki::{CmsOptions, TestPki, WriteOptions};
use tonic::transport::Channel;

/// Tenant A: every field.
pub const KEY_A: &str = "key-bank-a";
/// Tenant B: the name only.
pub const KEY_B: &str = "key-bank-b";

pub struct Running {
    pub gateway: Option<Gateway>,
    pub address: SocketAddr,
    pub pki: Arc<TestPki>,
    pub dir: tempfile::TempDir,
    pub casim: Option<SimHandle>,
}

impl Running {
    pub async fn channel(&self) -> Channel {
        channel(self.address).await
    }
    pub async fn verification(&self) -> VerificationServiceClient<Channel> {
        VerificationServiceClient::new(self.channel().await)
    }
    pub async fn links(&self) -> LinkServiceClient<Channel> {
        LinkServiceClient::new(self.channel().await)
    }
    pub async fn status(&self) -> StatusServiceClient<Channel> {
        StatusServiceClient::new(self.channel().await)
    }
    pub fn pki_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("pki")
    }
}

/// The tenants of every test.
pub fn tenants() -> Vec<TenantSettings> {
    vec![
        TenantSettings {
            id: "bank-a".into(),
            api_key: Some(KEY_A.into()),
            api_key_sha256: None,
            four_fields: ["name", "date_of_birth", "address", "sex"].map(String::from).to_vec(),
            ..TenantSettings::default()
        },
        TenantSettings {
            id: "bank-b".into(),
            api_key: None,
            api_key_sha256: Some(hex::encode(ring::digest::digest(&ring::digest::SHA256, KEY_B.as_bytes()))),
            four_fields: vec!["name".into()],
            ..TenantSettings::default()
        },
    ]
}

/// [`tenants`] with every key given as its digest: what a gateway on a network address accepts
/// (a plaintext key in the file is for loopback only).
pub fn hashed_tenants() -> Vec<TenantSettings> {
    tenants()
        .into_iter()
        .map(|tenant| match tenant.api_key {
            Some(key) => TenantSettings {
                api_key: None,
                api_key_sha256: Some(hex::encode(ring::digest::digest(&ring::digest::SHA256, key.as_bytes()))),
                ..tenant
            },
            None => tenant,
        })
        .collect()
}

/// A configuration over a test PKI written to `dir/pki`, its lists loaded from files.
pub fn config(dir: &Path, pki: &TestPki) -> GatewayConfig {
    let pki_dir = dir.join("pki");
    if !pki_dir.join("manifest.json").exists() {
        let crl_time = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
        pki.write_to(&pki_dir, &WriteOptions::with_crl_time(crl_time)).unwrap();
    }
    let mut config = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        plaintext: true,
        data_dir: dir.join("data"),
        tenants: tenants(),
        ..GatewayConfig::default()
    };
    let manifest = TestPki::load_manifest(&pki_dir).unwrap();
    config.trust.add(manifest.anchor_files(&pki_dir), manifest.policy_oids());
    config.trust.crl_files = vec![pki_dir.join("crl")];
    config
}

pub async fn start() -> Running {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut GatewayConfig)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let pki = jpki_testsupport::testing::pki();
    let mut config = config(dir.path(), &pki);
    tweak(&mut config);
    launch(config, pki, dir, None).await
}

/// With the lists refreshed every second from a CA simulator over HTTP.
pub async fn start_with_casim(tweak: impl FnOnce(&mut GatewayConfig)) -> Running {
    start_with_casim_config(SimConfig::default(), |_| {}, tweak).await
}

/// The simulator's lists, refreshed every second, as the gateway's configured lists.
pub fn refresh_from(config: &mut GatewayConfig, simulator: &CaSimulator, casim: &SimHandle) {
    // The lists come from the simulator only.
    config.trust.crl_files.clear();
    config.trust.lists = simulator
        .labels()
        .into_iter()
        .map(|label| ListSettings { source: casim.crl_url(&label), name: label })
        .collect();
    config.trust.refresh_interval_seconds = 1;
}

pub async fn launch(
    config: GatewayConfig,
    pki: Arc<TestPki>,
    dir: tempfile::TempDir,
    casim: Option<SimHandle>,
) -> Running {
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let gateway = Gateway::start(config, listener).await.unwrap();
    let address = gateway.local_addr();
    Running { gateway: Some(gateway), address, pki, dir, casim }
}

pub async fn channel(address: SocketAddr) -> Channel {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}")).unwrap();
    for _ in 0..100 {
        if let Ok(channel) = endpoint.connect().await {
            return channel;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server did not come up");
}

/// A request with the tenant's API key.
pub fn authed<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

/// Waits until grpc.health.v1 says SERVING for "" (bounded by attempts, not asserted on time).
pub async fn wait_serving(address: SocketAddr) {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut client = HealthClient::new(channel(address).await);
    for _ in 0..600 {
        let response = client.check(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
        if response.status() == ServingStatus::Serving {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never SERVING");
}

pub const FORM: &[u8] = "申請書: 口座開設 2026-11-25".as_bytes();

/// A CMS signature over `signed` by `holder`'s card, sent with `sent` as detached content.
pub fn cms_request(pki: &TestPki, holder: &str, signed: &[u8], sent: &[u8]) -> VerifySignatureRequest {
    let card = pki.card(holder).unwrap();
    let options = CmsOptions { signing_time: time::OffsetDateTime::now_utc(), ..Default::default() };
    let cms = card.sign_document_cms(signed, options).unwrap();
    VerifySignatureRequest {
        signature: Some(Signature::Cms(CmsSignature { cms, detached_content: sent.to_vec(), certificate: Vec::new() })),
        applicant: None,
        business_purpose: BusinessPurpose::AccountOpening as i32,
    }
}

/// IssueChallenge, prove with `holder`'s card, VerifyAuthProof.
pub async fn login(
    client: &mut VerificationServiceClient<Channel>,
    pki: &TestPki,
    holder: &str,
    key: &str,
    reference: &str,
) -> jpki_api::v1::VerifyAuthProofResponse {
    let issued = client
        .issue_challenge(authed(jpki_api::v1::IssueChallengeRequest { transaction_reference: reference.into() }, key))
        .await
        .unwrap()
        .into_inner();
    let card = pki.card(holder).unwrap();
    let proof = jpki_api::v1::VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&issued.challenge).unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    client.verify_auth_proof(authed(proof, key)).await.unwrap().into_inner()
}

/// Like [`start_with_casim`], with the simulator's settings given and `prepare` run on the
/// simulator before the gateway starts (e.g. to make it misbehave from the first download).
pub async fn start_with_casim_config(
    sim_config: SimConfig,
    prepare: impl FnOnce(&CaSimulator),
    tweak: impl FnOnce(&mut GatewayConfig),
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let pki = jpki_testsupport::testing::pki();
    let simulator = CaSimulator::from_test_pki(&pki, sim_config).unwrap();
    prepare(&simulator);
    let casim = simulator.bind("127.0.0.1:0").await.unwrap();
    let mut config = config(dir.path(), &pki);
    refresh_from(&mut config, &simulator, &casim);
    tweak(&mut config);
    launch(config, pki, dir, Some(casim)).await
}

/// grpc.health.v1 Check of the overall service ("").
pub async fn health_status(address: SocketAddr) -> tonic_health::pb::health_check_response::ServingStatus {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut client = HealthClient::new(channel(address).await);
    client.check(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner().status()
}

/// Writes a configuration file for the binary: plaintext, the test PKI, the test tenants.
pub fn write_config(dir: &Path) -> std::path::PathBuf {
    let pki = jpki_testsupport::testing::pki();
    let config = config(dir, &pki);
    let path = dir.join("gateway.toml");
    std::fs::write(&path, toml_of(&config)).unwrap();
    path
}

pub fn toml_of(config: &jpki_gateway::GatewayConfig) -> String {
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\nplaintext = true\ndata_dir = {:?}\n[trust]\ncrl_files = {:?}\n",
        config.data_dir.display().to_string(),
        config.trust.crl_files.iter().map(|path| path.display().to_string()).collect::<Vec<_>>(),
    );
    for anchor in &config.trust.anchors {
        text.push_str(&format!(
            "[[trust.anchors]]\nkind = {:?}\npath = {:?}\n",
            anchor.kind,
            anchor.path.display().to_string()
        ));
    }
    for policy in &config.trust.policies {
        text.push_str(&format!("[[trust.policies]]\nkind = {:?}\noid = {:?}\n", policy.kind, policy.oid));
    }
    for tenant in &config.tenants {
        text.push_str(&format!("[[tenants]]\nid = {:?}\nfour_fields = {:?}\n", tenant.id, tenant.four_fields));
        if let Some(key) = &tenant.api_key {
            text.push_str(&format!("api_key = {key:?}\n"));
        }
        if let Some(digest) = &tenant.api_key_sha256 {
            text.push_str(&format!("api_key_sha256 = {digest:?}\n"));
        }
    }
    text
}

/// Starts the binary with `RUST_LOG=log_filter`, its log (stderr) going to `log`; returns it
/// with the address it printed on stdout.
pub fn spawn_binary(config: &Path, log_filter: &str, log: Stdio) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jpki-gateway"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", log_filter)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = lines.next().expect("the gateway printed its address").unwrap();
    let address = line.strip_prefix("jpki-gateway listening on ").expect("address line").parse().unwrap();
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

pub fn kill_9(child: &mut Child) {
    // Child::kill sends SIGKILL on Unix: no shutdown code runs.
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The shared stores of replicas: a real redis-server (appendfsync always) for the tenant store
/// and a real PostgreSQL for the audit archive, each started by the test on a free port.
pub struct SharedStores {
    pub redis: jpki_testsupport::RedisServer,
    pub postgres: jpki_testsupport::postgres::PostgresServer,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl SharedStores {
    /// Both servers, or `None` (the test skips; under CI=true the support panics instead).
    pub fn start() -> Option<SharedStores> {
        let (redis_dir, postgres_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let redis = jpki_testsupport::RedisServer::start(redis_dir.path(), jpki_testsupport::DURABLE)?;
        let postgres = jpki_testsupport::postgres::PostgresServer::start(postgres_dir.path())?;
        Some(SharedStores { redis, postgres, _dirs: (redis_dir, postgres_dir) })
    }

    /// Points a replica's configuration at both.
    pub fn apply(&self, config: &mut GatewayConfig) {
        use_redis(config, self.redis.url(), self.postgres.url());
    }
}

/// The shared Redis store and PostgreSQL archive of replicas, with the audit signing key every
/// replica must share (a fixed test seed, written under the replica's data directory).
pub fn use_redis(config: &mut GatewayConfig, url: String, postgres_url: String) {
    config.redis = Some(jpki_gateway::settings::RedisSettings { url, prefix: "jpki:".into(), require_durable: true });
    config.audit.postgres = Some(jpki_gateway::settings::PostgresSettings { url: postgres_url });
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let key = config.data_dir.join("shared-audit-signing.key");
    std::fs::write(&key, format!("{}\n", "11".repeat(32))).unwrap();
    config.audit.signing_key_file = Some(key);
}
