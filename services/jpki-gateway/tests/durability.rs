//! Nothing acknowledged is lost: the gateway binary is killed with SIGKILL while clients work, and
//! after a restart on the same data directory every acknowledged challenge use, verification and
//! link is still there.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;
use jpki_api::v1::{
    Indication, IssueChallengeRequest, LinkRequest, LookupLinkRequest, VerifyAuthProofRequest, lookup_link_request::Key,
};

/// Writes a configuration file for the binary: plaintext, the test PKI, the test tenants.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let pki = jpki_fixtures::testing::pki();
    let config = config(dir, &pki);
    let path = dir.join("gateway.toml");
    std::fs::write(&path, toml_of(&config)).unwrap();
    path
}

fn toml_of(config: &jpki_gateway::GatewayConfig) -> String {
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\nplaintext = true\ndata_dir = {:?}\n[trust]\ntest_pki = {:?}\n",
        config.data_dir.display().to_string(),
        config.trust.test_pki.as_ref().unwrap().display().to_string(),
    );
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

/// Starts the binary and returns it with the address it printed.
fn spawn(config: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jpki-gateway"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
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

fn kill_9(child: &mut Child) {
    // Child::kill sends SIGKILL on Unix: no shutdown code runs.
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_challenges_and_links_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let pki = jpki_fixtures::testing::pki();
    let card = pki.card("h04").unwrap();

    let (mut child, address) = spawn(&config);
    let mut client = jpki_api::v1::verification_service_client::VerificationServiceClient::new(channel(address).await);
    let mut links = jpki_api::v1::link_service_client::LinkServiceClient::new(channel(address).await);

    // A login whose challenge was used, one challenge issued but not yet used, and a link.
    let used = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let used_proof = VerifyAuthProofRequest {
        challenge_id: used.challenge_id.clone(),
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&used.challenge).unwrap(),
    };
    let passed = client.verify_auth_proof(authed(used_proof.clone(), KEY_A)).await.unwrap().into_inner();
    let result = passed.result.unwrap();
    assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
    let pending = client
        .issue_challenge(authed(IssueChallengeRequest { transaction_reference: "pending".into() }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    links
        .link(authed(
            LinkRequest {
                customer_id: "CUST-0004".into(),
                auth_verification_id: result.verification_id.clone(),
                signature_verification_id: String::new(),
            },
            KEY_A,
        ))
        .await
        .unwrap();

    // Then a stream of acknowledged logins, killed at an arbitrary point.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let worker = {
        let acknowledged = acknowledged.clone();
        let pki = pki.clone();
        let mut client = client.clone();
        tokio::spawn(async move {
            let card = pki.card("h04").unwrap();
            loop {
                let Ok(issued) = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await else {
                    return;
                };
                let issued = issued.into_inner();
                let proof = VerifyAuthProofRequest {
                    challenge_id: issued.challenge_id.clone(),
                    certificate: card.auth_cert_der().to_vec(),
                    signature: card.prove(&issued.challenge).unwrap(),
                };
                match client.verify_auth_proof(authed(proof.clone(), KEY_A)).await {
                    Ok(_) => acknowledged.lock().unwrap().push(proof),
                    Err(_) => return,
                }
            }
        })
    };
    // Let some logins be acknowledged (bounded polling, no timing assertion).
    for _ in 0..400 {
        if acknowledged.lock().unwrap().len() >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    kill_9(&mut child);
    let _ = worker.await;
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 5, "only {} logins were acknowledged before the kill", acknowledged.len());

    let (mut child, address) = spawn(&config);
    let mut client = jpki_api::v1::verification_service_client::VerificationServiceClient::new(channel(address).await);
    let mut links = jpki_api::v1::link_service_client::LinkServiceClient::new(channel(address).await);
    for proof in std::iter::once(used_proof).chain(acknowledged) {
        let replay = client.verify_auth_proof(authed(proof, KEY_A)).await.unwrap().into_inner();
        assert_eq!(replay.result.unwrap().reason.unwrap().code, "CHALLENGE_ALREADY_USED");
    }
    // The pending challenge is still good, and the link is there: the login finds the customer.
    let proof = VerifyAuthProofRequest {
        challenge_id: pending.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&pending.challenge).unwrap(),
    };
    let login = client.verify_auth_proof(authed(proof, KEY_A)).await.unwrap().into_inner();
    assert_eq!(login.result.unwrap().indication(), Indication::TotalPassed);
    assert_eq!(login.customer_id, "CUST-0004");
    assert_eq!(login.transaction_reference, "pending");
    let found = links
        .lookup_link(authed(LookupLinkRequest { key: Some(Key::CustomerId("CUST-0004".into())) }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(found.links.len(), 1);
    kill_9(&mut child);
}
