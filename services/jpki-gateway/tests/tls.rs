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
    let files = TlsFiles { certificate: dir.join("tls.crt"), private_key: dir.join("tls.key") };
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

    let files = TlsFiles { certificate: dir.path().join("tls.crt"), private_key: dir.path().join("tls.key") };
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
    with_tls(&mut config, TlsFiles { certificate: files.certificate.clone(), private_key: missing.clone() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error =
        jpki_gateway::Gateway::start(config.clone(), listener).await.err().expect("a missing key file").to_string();
    assert!(error.contains(&missing.display().to_string()), "{error}");

    // A key that is not PEM at all.
    let garbage = tls_dir.path().join("garbage.key");
    std::fs::write(&garbage, b"not a key").unwrap();
    with_tls(&mut config, TlsFiles { certificate: files.certificate, private_key: garbage });
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
    let files = TlsFiles { certificate: dir.path().join("tls.crt"), private_key: dir.path().join("tls.key") };
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
