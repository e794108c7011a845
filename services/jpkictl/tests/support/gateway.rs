//! A real gateway for the CLI's tests: jpki_gateway::Gateway in this process on 127.0.0.1:0 (its
//! own runtime, so the test thread can run jpkictl processes), over a test PKI written to a temp
//! dir; optionally its lists refreshed every second from an in-process CA simulator, optionally TLS.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use jpki_casim::{CaSimulator, SimConfig, SimHandle};
use jpki_gateway::settings::{ListSettings, TenantSettings, TlsFiles};
use jpki_gateway::{Gateway, GatewayConfig};

/// Tenant bank-a: every field.
pub const KEY: &str = "key-bank-a";
/// Tenant bank-b: the name only.
pub const KEY_NAME_ONLY: &str = "key-bank-b";

/// What a jpkictl run printed and returned.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| panic!("not JSON ({error}): {self:#?}"))
    }
    /// Asserts the exit code, showing everything otherwise.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "{self:#?}");
        self
    }
}

/// Runs jpkictl with `arguments` and optional extra environment.
pub fn jpkictl_env(arguments: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_jpkictl"));
    command
        .args(arguments)
        .env_remove("JPKI_GATEWAY_URL")
        .env_remove("JPKI_API_KEY")
        .env_remove("JPKI_GATEWAY_CA_CERT");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run jpkictl");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs jpkictl with `arguments`.
pub fn jpkictl(arguments: &[&str]) -> Run {
    jpkictl_env(arguments, &[])
}

/// TLS material made by rcgen: a CA and a server certificate for localhost and 127.0.0.1.
pub struct TestTls {
    /// The CA certificate, PEM file.
    pub ca: PathBuf,
    /// The server's certificate and key files.
    pub files: TlsFiles,
}

/// Writes a CA and a server certificate into `dir`.
pub fn make_tls(dir: &Path) -> TestTls {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "jpkictl test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    let (ca, certificate, private_key) = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(&certificate, server_cert.pem()).unwrap();
    std::fs::write(&private_key, server_key.serialize_pem()).unwrap();
    TestTls { ca, files: TlsFiles { certificate, private_key, client_ca: None } }
}

/// How to start the test gateway.
#[derive(Default)]
pub struct Options {
    /// Lists refreshed every second from a CA simulator (otherwise the test PKI's CRL files).
    pub casim: bool,
    /// Serve TLS with these files instead of plaintext.
    pub tls: Option<TestTls>,
}

/// A running gateway, shut down (drained) on drop.
pub struct TestGateway {
    runtime: tokio::runtime::Runtime,
    gateway: Option<Gateway>,
    /// The CA simulator, with `Options::casim`.
    pub casim: Option<SimHandle>,
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub url: String,
    /// The CA certificate to trust, with TLS.
    pub ca_cert: Option<PathBuf>,
    /// Temp dir: `pki/` (the test PKI), `data/` (the gateway's store), room for test files.
    pub dir: tempfile::TempDir,
}

impl TestGateway {
    /// Starts a gateway and waits until it reports SERVING.
    pub fn start(options: Options) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        let pki = jpki_testpki::TestPki::cached(2026).unwrap();
        let pki_dir = dir.path().join("pki");
        let crl_time = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
        pki.write_to(&pki_dir, &jpki_testpki::WriteOptions::with_crl_time(crl_time)).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let mut config = GatewayConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            plaintext: options.tls.is_none(),
            tls: options.tls.as_ref().map(|tls| tls.files.clone()),
            data_dir: dir.path().join("data"),
            tenants: vec![
                TenantSettings {
                    id: "bank-a".into(),
                    api_key: Some(KEY.into()),
                    api_key_sha256: None,
                    four_fields: ["name", "date_of_birth", "address", "sex"].map(String::from).to_vec(),
                    ..TenantSettings::default()
                },
                TenantSettings {
                    id: "bank-b".into(),
                    api_key: Some(KEY_NAME_ONLY.into()),
                    api_key_sha256: None,
                    four_fields: vec!["name".into()],
                    ..TenantSettings::default()
                },
            ],
            ..GatewayConfig::default()
        };
        let manifest = jpki_testpki::TestPki::load_manifest(&pki_dir).unwrap();
        config.trust.add(manifest.anchor_files(&pki_dir), manifest.policy_oids());
        config.trust.crl_files = vec![pki_dir.join("crl")];
        let (gateway, casim) = runtime.block_on(async {
            let casim = if options.casim {
                let simulator = CaSimulator::from_test_pki(&pki, SimConfig::default()).unwrap();
                let handle = simulator.bind("127.0.0.1:0").await.unwrap();
                config.trust.crl_files.clear();
                config.trust.lists = simulator
                    .labels()
                    .into_iter()
                    .map(|label| ListSettings { source: handle.crl_url(&label), name: label })
                    .collect();
                config.trust.refresh_interval_seconds = 1;
                Some(handle)
            } else {
                None
            };
            let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
            (Gateway::start(config, listener).await.unwrap(), casim)
        });
        let scheme = if options.tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", gateway.local_addr());
        let ca_cert = options.tls.map(|tls| tls.ca);
        let running = TestGateway { runtime, gateway: Some(gateway), casim, url, ca_cert, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while running.api(&["health"]).code != 0 {
            assert!(Instant::now() < deadline, "the gateway never reported SERVING");
            std::thread::sleep(Duration::from_millis(100));
        }
        running
    }

    /// The test PKI's directory.
    pub fn pki(&self) -> PathBuf {
        self.dir.path().join("pki")
    }

    /// A path in the temp dir, as a string.
    pub fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A file of the test PKI, as a string.
    pub fn pki_file(&self, relative: &str) -> String {
        self.pki().join(relative).display().to_string()
    }

    /// The CA simulator's base URL.
    pub fn ca_url(&self) -> String {
        self.casim.as_ref().expect("started with casim").base_url()
    }

    /// `jpkictl api --gateway URL [--ca-cert CA] --api-key KEY ARGUMENTS…`.
    pub fn api(&self, arguments: &[&str]) -> Run {
        self.api_as(KEY, arguments)
    }

    /// As [`Self::api`] with another API key.
    pub fn api_as(&self, key: &str, arguments: &[&str]) -> Run {
        let mut all = vec!["api", "--gateway", &self.url, "--api-key", key];
        let ca;
        if let Some(path) = &self.ca_cert {
            ca = path.display().to_string();
            all.extend(["--ca-cert", &ca]);
        }
        all.extend(arguments);
        jpkictl(&all)
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            let _ = self.runtime.block_on(gateway.shutdown());
        }
        if let Some(casim) = self.casim.take() {
            let _ = self.runtime.block_on(casim.shutdown());
        }
    }
}
