//! TLS over a real socket: a server certificate from a test CA made with rcgen, a tonic TLS
//! client that trusts that CA, plaintext and untrusting clients refused, and the configuration
//! checks around `tls` and `plaintext`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use common::*;
use jpki_api::v1::verification_service_client::VerificationServiceClient;
use jpki_api::v1::{Indication, IssueChallengeRequest};
use jpki_gateway::GatewayConfig;
use jpki_gateway::settings::TlsFiles;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

/// A test CA and a server certificate for localhost and 127.0.0.1 under it, written to `dir`;
/// returns the files and the CA's PEM.
fn server_files(dir: &Path) -> (TlsFiles, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "jpki-gateway test TLS CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut server_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    server_params.distinguished_name.push(DnType::CommonName, "localhost");
    let server = server_params.signed_by(&server_key, &ca).unwrap();
    let files = TlsFiles { certificate: dir.join("tls.crt"), private_key: dir.join("tls.key"), client_ca: None };
    std::fs::write(&files.certificate, server.pem()).unwrap();
    std::fs::write(&files.private_key, server_key.serialize_pem()).unwrap();
    (files, ca.pem())
}

fn with_tls(config: &mut GatewayConfig, files: TlsFiles) {
    config.plaintext = false;
    config.tls = Some(files);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_client_verifies_and_a_plaintext_one_is_refused() {
    let tls_dir = tempfile::tempdir().unwrap();
    let (files, ca_pem) = server_files(tls_dir.path());
    let running = start_with(|config| with_tls(config, files)).await;
    let address = running.address;

    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca_pem)).domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://{address}")).unwrap().tls_config(tls).unwrap().connect().await;
    let mut client = VerificationServiceClient::new(channel.expect("TLS connection"));
    let request = cms_request(&running.pki, "h01", FORM, FORM);
    let response = client.verify_signature(authed(request, KEY_A)).await.unwrap();
    let result = response.into_inner().result.unwrap();
    assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
    let login = login(&mut client, &running.pki, "h02", KEY_A, "over-tls").await;
    assert_eq!(login.result.unwrap().indication(), Indication::TotalPassed);

    // Plaintext HTTP/2 to the TLS port: the connection or the first call fails.
    let plaintext = Endpoint::from_shared(format!("http://{address}")).unwrap();
    let refused = match plaintext.connect().await {
        Err(_) => true,
        Ok(channel) => VerificationServiceClient::new(channel)
            .issue_challenge(authed(IssueChallengeRequest::default(), KEY_A))
            .await
            .is_err(),
    };
    assert!(refused, "a plaintext client was served over the TLS port");

    // A TLS client that does not trust the test CA is refused too.
    let untrusting = Endpoint::from_shared(format!("https://{address}"))
        .unwrap()
        .tls_config(ClientTlsConfig::new().domain_name("localhost"))
        .unwrap();
    let refused = match untrusting.connect().await {
        Err(_) => true,
        Ok(channel) => VerificationServiceClient::new(channel)
            .issue_challenge(authed(IssueChallengeRequest::default(), KEY_A))
            .await
            .is_err(),
    };
    assert!(refused, "a client without the CA completed a handshake");

    // And the TLS client still works.
    client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap();
}

#[test]
fn tls_or_plaintext_must_be_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let base = GatewayConfig { tenants: hashed_tenants(), ..GatewayConfig::default() };
    assert!(base.tls.is_none() && !base.plaintext, "secure by default");

    let error = base.check().unwrap_err().to_string();
    assert!(error.starts_with("tls:"), "{error}");

    let files =
        TlsFiles { certificate: dir.path().join("tls.crt"), private_key: dir.path().join("tls.key"), client_ca: None };
    let both = GatewayConfig { plaintext: true, tls: Some(files.clone()), ..base.clone() };
    let error = both.check().unwrap_err().to_string();
    assert!(error.contains("plaintext") && error.contains("tls"), "{error}");

    GatewayConfig { plaintext: true, ..base.clone() }.check().unwrap();
    GatewayConfig { tls: Some(files), ..base }.check().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_or_unusable_tls_files_stop_the_start() {
    let tls_dir = tempfile::tempdir().unwrap();
    let (files, _) = server_files(tls_dir.path());

    // A missing key file: the error names it.
    let dir = tempfile::tempdir().unwrap();
    let pki = jpki_testsupport::testing::pki();
    let mut config = config(dir.path(), &pki);
    let missing = tls_dir.path().join("missing.key");
    with_tls(
        &mut config,
        TlsFiles { certificate: files.certificate.clone(), private_key: missing.clone(), client_ca: None },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error =
        jpki_gateway::Gateway::start(config.clone(), listener).await.err().expect("a missing key file").to_string();
    assert!(error.contains(&missing.display().to_string()), "{error}");

    // A key that is not PEM at all.
    let garbage = tls_dir.path().join("garbage.key");
    std::fs::write(&garbage, b"not a key").unwrap();
    with_tls(&mut config, TlsFiles { certificate: files.certificate, private_key: garbage, client_ca: None });
    // (A failed start may leave its store open: use another one.)
    config.data_dir = dir.path().join("data-2");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = jpki_gateway::Gateway::start(config, listener).await.err().expect("an unusable key").to_string();
    assert!(error.starts_with("tls:"), "{error}");
}

#[test]
fn plaintext_is_refused_on_a_network_address_unless_explicitly_allowed() {
    let base = GatewayConfig { tenants: hashed_tenants(), plaintext: true, ..GatewayConfig::default() };
    for loopback in ["127.0.0.1:50051", "[::1]:50051", "127.0.0.2:9000"] {
        GatewayConfig { listen: loopback.parse().unwrap(), ..base.clone() }.check().unwrap();
    }
    for network in ["0.0.0.0:50051", "[::]:50051", "192.0.2.10:50051"] {
        let config = GatewayConfig { listen: network.parse().unwrap(), ..base.clone() };
        let error = config.check().unwrap_err().to_string();
        assert!(error.starts_with("plaintext:") && error.contains("allow_plaintext_on_network"), "{error}");
        GatewayConfig { allow_plaintext_on_network: true, ..config }.check().unwrap();
    }
    // TLS on a network address needs no opt-in.
    let dir = tempfile::tempdir().unwrap();
    let files =
        TlsFiles { certificate: dir.path().join("tls.crt"), private_key: dir.path().join("tls.key"), client_ca: None };
    GatewayConfig { listen: "0.0.0.0:50051".parse().unwrap(), plaintext: false, tls: Some(files), ..base }
        .check()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_start_on_a_listener_bound_to_every_interface_is_refused() {
    // The configured `listen` is loopback, but the listener handed to the server is not: the
    // address actually served is what counts. Binding 0.0.0.0 sends nothing anywhere.
    let dir = tempfile::tempdir().unwrap();
    let pki = jpki_testsupport::testing::pki();
    let config = config(dir.path(), &pki);
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let error = jpki_gateway::Gateway::start(config.clone(), listener).await.err().expect("refused").to_string();
    assert!(error.starts_with("plaintext:"), "{error}");

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let config = GatewayConfig { allow_plaintext_on_network: true, ..config };
    let gateway = jpki_gateway::Gateway::start(config, listener).await.expect("allowed explicitly");
    gateway.shutdown().await.unwrap();
}

/// A client certificate from `ca` and the SHA-256 of its SubjectPublicKeyInfo (hex), as
/// `client_spki_sha256` takes it.
fn client_identity(ca: &CertifiedIssuer<'static, KeyPair>, name: &str) -> (tonic::transport::Identity, String) {
    client_identity_with(&KeyPair::generate().unwrap(), ca, name)
}

/// [`client_identity`] for a given key (one key may be certified by several CAs).
fn client_identity_with(
    key: &KeyPair,
    ca: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
) -> (tonic::transport::Identity, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    let certificate = params.signed_by(key, ca).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate.der()).unwrap();
    let spki = hex::encode(ring::digest::digest(&ring::digest::SHA256, parsed.tbs_certificate.subject_pki.raw));
    (tonic::transport::Identity::from_pem(certificate.pem(), key.serialize_pem()), spki)
}

fn client_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_names_its_principal_and_a_tenant_may_require_it() {
    const KEY_M: &str = "key-bank-m";
    let tls_dir = tempfile::tempdir().unwrap();
    let (mut files, server_ca_pem) = server_files(tls_dir.path());
    let clients = client_ca("jpki-gateway test client CA");
    let client_ca_file = tls_dir.path().join("client-ca.pem");
    std::fs::write(&client_ca_file, clients.pem()).unwrap();
    files.client_ca = Some(client_ca_file);
    let (identity_m, spki_m) = client_identity(&clients, "bank-m");
    let (identity_a, spki_a) = client_identity(&clients, "bank-a");
    let (identity_stranger, _) = client_identity(&client_ca("an unknown CA"), "stranger");
    // bank-p has its own client CA: its key certified by that CA passes, the same key certified by
    // the shared client CA does not.
    let own_ca = client_ca("bank-p's own client CA");
    let own_ca_file = tls_dir.path().join("bank-p-ca.pem");
    std::fs::write(&own_ca_file, own_ca.pem()).unwrap();
    let key_p = KeyPair::generate().unwrap();
    let (identity_p, spki_p) = client_identity_with(&key_p, &own_ca, "bank-p");
    let (identity_p_elsewhere, same_spki) = client_identity_with(&key_p, &clients, "bank-p");
    assert_eq!(spki_p, same_spki);

    let running = start_with(|config| {
        with_tls(config, files);
        config.tenants = hashed_tenants();
        config.tenants[0].client_spki_sha256 = Some(spki_a);
        config.tenants.push(jpki_gateway::settings::TenantSettings {
            id: "bank-m".into(),
            api_key_sha256: Some(hex::encode(ring::digest::digest(&ring::digest::SHA256, KEY_M.as_bytes()))),
            client_spki_sha256: Some(spki_m),
            require_client_certificate: true,
            ..jpki_gateway::settings::TenantSettings::default()
        });
        config.tenants.push(jpki_gateway::settings::TenantSettings {
            id: "bank-p".into(),
            client_spki_sha256: Some(spki_p),
            client_ca: Some(own_ca_file),
            ..jpki_gateway::settings::TenantSettings::default()
        });
    })
    .await;
    let address = running.address;
    let connect = |identity: Option<tonic::transport::Identity>| {
        let mut tls =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&server_ca_pem)).domain_name("localhost");
        if let Some(identity) = identity {
            tls = tls.identity(identity);
        }
        async move {
            let channel =
                Endpoint::from_shared(format!("https://{address}")).unwrap().tls_config(tls).unwrap().connect().await?;
            Ok::<_, tonic::transport::Error>(VerificationServiceClient::new(channel))
        }
    };
    let call = |key: Option<&str>| match key {
        Some(key) => authed(IssueChallengeRequest::default(), key),
        None => tonic::Request::new(IssueChallengeRequest::default()),
    };

    // The certificate alone names bank-m; with bank-m's key too.
    let mut with_m = connect(Some(identity_m.clone())).await.unwrap();
    with_m.issue_challenge(call(None)).await.unwrap();
    with_m.issue_challenge(call(Some(KEY_M))).await.unwrap();
    // bank-m requires it: its key alone is refused.
    let mut without = connect(None).await.unwrap();
    assert_eq!(without.issue_challenge(call(Some(KEY_M))).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    // Client authentication is optional on the shared port: bank-a's key alone still works.
    without.issue_challenge(call(Some(KEY_A))).await.unwrap();
    // A certificate and a key of different principals: refused.
    assert_eq!(with_m.issue_challenge(call(Some(KEY_A))).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    let mut with_a = connect(Some(identity_a)).await.unwrap();
    assert_eq!(with_a.issue_challenge(call(Some(KEY_M))).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    with_a.issue_challenge(call(None)).await.unwrap();
    // A principal's own client CA: required for its certificate.
    connect(Some(identity_p)).await.unwrap().issue_challenge(call(None)).await.unwrap();
    let mut elsewhere = connect(Some(identity_p_elsewhere)).await.unwrap();
    assert_eq!(elsewhere.issue_challenge(call(None)).await.unwrap_err().code(), tonic::Code::Unauthenticated);
    // A certificate from a CA that is not configured does not get through the handshake.
    let refused = match connect(Some(identity_stranger)).await {
        Err(_) => true,
        Ok(mut client) => client.issue_challenge(call(Some(KEY_A))).await.is_err(),
    };
    assert!(refused, "a client certificate of an unknown CA was accepted");
}
