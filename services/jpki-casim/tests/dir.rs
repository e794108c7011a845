//! The simulator over a directory written by the test PKI (what `jpkictl ca-sim --pki DIR` uses),
//! and the library API without HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Sim, anchors, client, pki, status};
use jpki_casim::{CaSimulator, Error, Misbehaviour, MisbehaviourSetting, Revocation, RevokeTarget, SimConfig};
use jpki_core::revocation::{RevocationReason, RevocationStatus};
use jpki_testpki::{ReasonCode, WriteOptions};
use serde_json::json;

#[tokio::test]
async fn serves_a_written_directory_and_revokes_holders_from_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    pki().write_to(dir.path(), &WriteOptions::default()).unwrap();
    let sim = CaSimulator::from_dir(dir.path(), SimConfig::default()).unwrap();
    assert_eq!(sim.labels().len(), 8);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sim.spawn(listener).unwrap();
    let http = client(std::time::Duration::from_secs(30));

    // h07 holds g1 certificates.
    let response = http
        .post(format!("{}/revoke", handle.base_url()))
        .body(json!({"ca": "signing-card-g1", "holder": "h07", "reason": "superseded"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(answer["number"], 2);

    let der = http.get(handle.crl_url("signing-card-g1")).send().await.unwrap().bytes().await.unwrap();
    let anchors = anchors();
    let (set, summary) = common::load(anchors.clone(), "signing-card-g1", &der).unwrap();
    assert_eq!(summary.crl_number, "2");
    let issuer = anchors.iter().find(|a| a.key_id() == pki().ca_by_label("signing-card-g1").unwrap().key_id()).unwrap();
    let serial = pki().holder("h07").unwrap().signing().serial().to_vec();
    assert!(matches!(
        status(&set, issuer, &serial),
        RevocationStatus::Revoked { reason: Some(RevocationReason::Superseded), .. }
    ));

    // Bad cases are addressable as holders `bad/<slug>`.
    let response = http
        .post(format!("{}/revoke", handle.base_url()))
        .body(json!({"ca": "signing-card-g2", "holder": "bad/wrong_policy"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_directory_without_manifest_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(CaSimulator::from_dir(dir.path(), SimConfig::default()), Err(Error::TestPki(_))));
}

#[tokio::test]
async fn library_api_matches_what_http_serves() {
    let sim = Sim::start().await;
    let api = sim.handle.simulator();
    let revoked = api
        .revoke(&Revocation {
            ca: "auth-card-g2".into(),
            target: RevokeTarget::Holder("h03".into()),
            reason: Some(ReasonCode::CertificateHold),
            revoked_at: None,
        })
        .unwrap();
    assert_eq!(revoked.number, 2);
    let current = api.current_crl("auth-card-g2").unwrap();
    assert_eq!(current.number, 2);
    let response = sim.get_crl("auth-card-g2").await;
    assert_eq!(response.headers()["etag"].to_str().unwrap(), current.etag);
    assert_eq!(response.bytes().await.unwrap(), current.der);

    api.set_misbehaviour(MisbehaviourSetting::times(Misbehaviour::Error { status: 502 }, 1)).unwrap();
    assert_eq!(sim.get_crl("auth-card-g2").await.status(), 502);
    assert_eq!(api.misbehaviour(), MisbehaviourSetting::normal());
    assert!(api.set_misbehaviour(MisbehaviourSetting::always(Misbehaviour::Huge { size: 1 })).is_err());
    assert!(matches!(api.current_crl("nope"), Err(Error::UnknownCa(_))));

    let stats = api.stats();
    assert_eq!(stats.lists["auth-card-g2"].downloads.full, 1);
    assert_eq!(stats.lists["auth-card-g2"].downloads.misbehaved, 1);
    assert_eq!(stats.lists["auth-card-g2"].entries[0].reason, Some("certificate_hold"));
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let sim = CaSimulator::from_test_pki(&pki(), SimConfig::default()).unwrap();
    let handle = sim.bind("127.0.0.1:0").await.unwrap();
    let url = handle.crl_url("signing-card-g2");
    let http = client(std::time::Duration::from_secs(2));
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    drop(handle);
    tokio::task::yield_now().await;
    let fresh = client(std::time::Duration::from_secs(2));
    assert!(fresh.get(&url).send().await.is_err());
}

#[test]
fn spawn_outside_a_runtime_is_an_error() {
    let sim = CaSimulator::from_test_pki(&pki(), SimConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let std_listener = listener.into_std().unwrap();
    drop(runtime);
    // Outside any runtime: an error, not a panic.
    let result = std::panic::catch_unwind(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(std_listener).unwrap()
        };
        sim.spawn(listener).map(|_| ())
    });
    assert!(matches!(result, Ok(Err(Error::Task(_)))));
}

/// OpenSSL, as an independent peer, checks the signature of a served list (skipped without
/// `openssl` on PATH).
#[tokio::test]
async fn openssl_verifies_a_served_list() {
    if std::process::Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl not found; skipped");
        return;
    }
    let sim = Sim::start().await;
    sim.post("/revoke", json!({"ca": "signing-card-g2", "holder": "h01", "reason": "key_compromise"})).await;
    let der = sim.crl_bytes("signing-card-g2").await;
    let dir = tempfile::tempdir().unwrap();
    let crl = dir.path().join("g2.crl");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&crl, &der).unwrap();
    std::fs::write(&ca, pki().ca_by_label("signing-card-g2").unwrap().cert_pem().unwrap()).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["crl", "-inform", "DER", "-in"])
        .arg(&crl)
        .arg("-CAfile")
        .arg(&ca)
        .args(["-noout", "-text"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("verify OK") || stdout.contains("verify OK"), "{stderr}{stdout}");
    assert!(stdout.contains("Key Compromise"), "{stdout}");
    assert!(stdout.contains("X509v3 CRL Number"), "{stdout}");

    // The foreign signer does not verify under the real CA.
    sim.post("/misbehave", json!({"mode": "wrong_signer", "times": 1})).await;
    std::fs::write(&crl, sim.crl_bytes("signing-card-g2").await).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["crl", "-inform", "DER", "-in"])
        .arg(&crl)
        .arg("-CAfile")
        .arg(&ca)
        .arg("-noout")
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() || !all.contains("verify OK"), "{all}");
}
