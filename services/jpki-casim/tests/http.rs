//! The simulator over a real socket with a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Sim, client, now_plus, pki, status};
use jpki_casim::{CaSimulator, SimConfig};
use jpki_core::revocation::{RevocationReason, RevocationStatus};
use jpki_revocation::LoadError;
use serde_json::json;

#[tokio::test]
async fn downloaded_list_parses_and_verifies() {
    let sim = Sim::start().await;
    for label in sim.handle.simulator().labels() {
        let response = sim.get_crl(&label).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "application/pkix-crl");
        assert!(headers["etag"].to_str().unwrap().starts_with('"'));
        assert!(httpdate::parse_http_date(headers["last-modified"].to_str().unwrap()).is_ok());
        let der = response.bytes().await.unwrap();
        let (_, summary) = sim.check(&label, &der).unwrap();
        assert_eq!(summary.crl_number, "1");
        assert_eq!(summary.entries, 0);
        let next = summary.next_update.unwrap();
        assert_eq!(next.0 - summary.this_update.0, 24 * 3600, "default validity is 24 h");
        assert!((summary.this_update.0 - now_plus(0).0).abs() < 60, "thisUpdate is now");
        assert_eq!(summary.issuer_key_id, hex::encode(sim.anchor(&label).key_id()));
    }
    assert_eq!(sim.handle.simulator().labels().len(), 8);
}

#[tokio::test]
async fn conditional_get_gives_304_then_200_after_a_revoke() {
    let sim = Sim::start().await;
    let label = "signing-card-g2";
    let first = sim.get_crl(label).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let last_modified = first.headers()["last-modified"].to_str().unwrap().to_owned();
    let url = sim.handle.crl_url(label);

    let by_etag = sim.client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(by_etag.status(), 304);
    assert_eq!(by_etag.headers()["etag"].to_str().unwrap(), etag);
    assert!(by_etag.bytes().await.unwrap().is_empty());
    let by_date = sim.client.get(&url).header("if-modified-since", &last_modified).send().await.unwrap();
    assert_eq!(by_date.status(), 304);
    let other = sim.client.get(&url).header("if-none-match", "\"something-else\"").send().await.unwrap();
    assert_eq!(other.status(), 200);

    let holder = pki().holder("h02").unwrap().signing().serial_hex();
    let (code, answer) = sim.post("/revoke", json!({"ca": label, "serial": holder, "reason": "superseded"})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["number"], 2);

    let after = sim.client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(after.status(), 200);
    let new_etag = after.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let der = after.bytes().await.unwrap();
    let (_, summary) = sim.check(label, &der).unwrap();
    assert_eq!(summary.crl_number, "2");
    let again = sim.client.get(&url).header("if-none-match", &new_etag).send().await.unwrap();
    assert_eq!(again.status(), 304);

    let stats = sim.stats().await;
    let downloads = &stats["lists"][label]["downloads"];
    assert_eq!(downloads["full"], 3);
    assert_eq!(downloads["not_modified"], 3);
    assert_eq!(downloads["misbehaved"], 0);
}

#[tokio::test]
async fn revoke_by_holder_and_by_serial_marks_the_certificate_revoked_with_the_reason() {
    let sim = Sim::start().await;
    let pki = pki();
    let h01 = pki.holder("h01").unwrap();

    let (code, answer) = sim
        .post(
            "/revoke",
            json!({"ca": "auth-card-g2", "holder": "h01", "reason": "key_compromise", "revoked_at": "2026-06-01T09:00:00+09:00"}),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["number"], 2);
    assert_eq!(answer["serial"], h01.auth().serial_hex());
    let der = sim.crl_bytes("auth-card-g2").await;
    let (set, summary) = sim.check("auth-card-g2", &der).unwrap();
    assert_eq!(summary.entries, 1);
    match status(&set, sim.anchor("auth-card-g2"), h01.auth().serial()) {
        RevocationStatus::Revoked { revoked_at, reason } => {
            assert_eq!(reason, Some(RevocationReason::KeyCompromise));
            assert_eq!(revoked_at, jpki_core::UnixTime::parse_rfc3339("2026-06-01T00:00:00Z").unwrap());
        }
        other => panic!("expected revoked, got {other:?}"),
    }
    // Another holder on the same list stays good.
    let h02 = pki.holder("h02").unwrap();
    assert_eq!(status(&set, sim.anchor("auth-card-g2"), h02.auth().serial()), RevocationStatus::Good);

    // By serial (lower case, with a leading zero octet), the RFC 5280 spelling of the reason.
    let serial = format!("00{}", h01.signing().serial_hex().to_lowercase());
    let (code, answer) =
        sim.post("/revoke", json!({"ca": "signing-card-g2", "serial": serial, "reason": "affiliationChanged"})).await;
    assert_eq!(code, 200, "{answer}");
    let (code, answer) = sim
        .post("/revoke", json!({"ca": "signing-card-g2", "holder": "h02", "reason": "cessation_of_operation"}))
        .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["number"], 3);
    assert_eq!(answer["entries"], 2);
    let der = sim.crl_bytes("signing-card-g2").await;
    let (set, _) = sim.check("signing-card-g2", &der).unwrap();
    let anchor = sim.anchor("signing-card-g2");
    assert!(matches!(
        status(&set, anchor, h01.signing().serial()),
        RevocationStatus::Revoked { reason: Some(RevocationReason::AffiliationChanged), .. }
    ));
    assert!(matches!(
        status(&set, anchor, h02.signing().serial()),
        RevocationStatus::Revoked { reason: Some(RevocationReason::CessationOfOperation), .. }
    ));

    let stats = sim.stats().await;
    let list = &stats["lists"]["signing-card-g2"];
    assert_eq!(list["number"], 3);
    assert_eq!(list["entry_count"], 2);
    assert!(list["entries"].as_array().unwrap().iter().any(|e| e["reason"] == "cessation_of_operation"));
    // Untouched lists keep number 1.
    assert_eq!(stats["lists"]["signing-card-g1"]["number"], 1);
}

#[tokio::test]
async fn bad_input_gets_400_naming_the_field() {
    let sim = Sim::start().await;
    let cases = [
        ("/revoke", "{not json".to_owned(), "body"),
        ("/revoke", "[1, 2]".to_owned(), "body"),
        ("/revoke", json!({"serial": "01"}).to_string(), "ca"),
        ("/revoke", json!({"ca": 5, "serial": "01"}).to_string(), "ca"),
        ("/revoke", json!({"ca": "no-such-ca", "serial": "01"}).to_string(), "ca"),
        ("/revoke", json!({"ca": "signing-card-g2"}).to_string(), "serial"),
        ("/revoke", json!({"ca": "signing-card-g2", "serial": "xyz"}).to_string(), "serial"),
        ("/revoke", json!({"ca": "signing-card-g2", "serial": "01", "holder": "h01"}).to_string(), "serial"),
        ("/revoke", json!({"ca": "signing-card-g2", "holder": "nobody"}).to_string(), "holder"),
        ("/revoke", json!({"ca": "signing-card-g1", "holder": "h01"}).to_string(), "holder"),
        ("/revoke", json!({"ca": "signing-card-g2", "serial": "01", "reason": "bored"}).to_string(), "reason"),
        (
            "/revoke",
            json!({"ca": "signing-card-g2", "serial": "01", "revoked_at": "yesterday"}).to_string(),
            "revoked_at",
        ),
        ("/misbehave", json!({}).to_string(), "mode"),
        ("/misbehave", json!({"mode": "sulky"}).to_string(), "mode"),
        ("/misbehave", json!({"mode": "error", "status": 200}).to_string(), "status"),
        ("/misbehave", json!({"mode": "error", "status": 70000}).to_string(), "status"),
        ("/misbehave", json!({"mode": "slow", "delay_ms": -1}).to_string(), "delay_ms"),
        ("/misbehave", json!({"mode": "huge", "size": 10}).to_string(), "size"),
        ("/misbehave", json!({"mode": "garbage", "times": 0}).to_string(), "times"),
        ("/misbehave", json!({"mode": "garbage", "ca": "no-such-ca"}).to_string(), "ca"),
    ];
    for (path, body, field) in cases {
        let (code, answer) = sim.post_raw(path, body.clone()).await;
        assert_eq!(code, 400, "{path} {body}: {answer}");
        assert_eq!(answer["field"], field, "{path} {body}: {answer}");
        assert!(answer["error"].is_string());
    }
    // Nothing changed.
    let stats = sim.stats().await;
    assert_eq!(stats["lists"]["signing-card-g2"]["number"], 1);
    assert_eq!(stats["misbehaviour"]["mode"], "normal");

    let missing = sim.get_crl("no-such-ca").await;
    assert_eq!(missing.status(), 404);
    let no_suffix = sim.client.get(sim.url("/crl/signing-card-g2")).send().await.unwrap();
    assert_eq!(no_suffix.status(), 404);
    let unknown = sim.client.get(sim.url("/nothing")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn truncated_and_garbage_lists_are_refused_as_malformed() {
    let sim = Sim::start().await;
    let label = "auth-card-g2";
    let good = sim.crl_bytes(label).await;

    let (code, answer) = sim.post("/misbehave", json!({"mode": "truncated", "times": 1})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["mode"], "truncated");
    let truncated = sim.crl_bytes(label).await;
    assert_eq!(truncated.len(), good.len() / 2);
    assert_eq!(truncated[..], good[..good.len() / 2]);
    assert!(matches!(sim.check(label, &truncated).unwrap_err(), LoadError::Malformed { .. }));

    // `times` ran out: back to normal.
    assert_eq!(sim.crl_bytes(label).await, good);
    assert_eq!(sim.stats().await["misbehaviour"]["mode"], "normal");

    sim.post("/misbehave", json!({"mode": "garbage", "times": 2})).await;
    let first = sim.crl_bytes(label).await;
    let second = sim.crl_bytes(label).await;
    assert_ne!(first, second);
    for garbage in [first, second] {
        assert_eq!(garbage.len(), good.len());
        // Random bytes that happen to start like a SEQUENCE end early: trailing data.
        let refused = sim.check(label, &garbage).unwrap_err();
        assert!(matches!(refused, LoadError::Malformed { .. } | LoadError::TrailingData { .. }), "{refused:?}");
    }
    assert_eq!(sim.crl_bytes(label).await, good);

    let downloads = &sim.stats().await["lists"][label]["downloads"];
    assert_eq!(downloads["full"], 6);
    assert_eq!(downloads["misbehaved"], 3);
}

#[tokio::test]
async fn wrong_signer_list_is_refused() {
    let sim = Sim::start().await;
    for label in ["signing-card-g2", "auth-card-g1"] {
        sim.post("/misbehave", json!({"mode": "wrong_signer", "times": 1})).await;
        let der = sim.crl_bytes(label).await;
        // Same issuer DN as the real CA, other key.
        let parsed = x509_parser::parse_x509_crl(&der).unwrap().1;
        let ca = pki().ca_by_label(label).unwrap().clone();
        assert_eq!(parsed.tbs_cert_list.issuer.as_raw(), ca.name_der());
        let err = sim.check(label, &der).unwrap_err();
        assert!(matches!(err, LoadError::WrongIssuer { .. } | LoadError::SignatureInvalid { .. }), "{label}: {err:?}");
        // And it verifies under the foreign CA's key, so it is a real signature.
        let foreign = pki().foreign_ca().clone();
        let foreign_anchor = jpki_core::TrustAnchor::from_der(
            jpki_core::CertKind::SigningCard,
            foreign.cert_der(),
            &jpki_core::AlgorithmPolicy::default(),
        );
        if label == "signing-card-g2" {
            common::load(vec![foreign_anchor.unwrap()], label, &der).unwrap();
        }
    }
}

#[tokio::test]
async fn rolled_back_list_has_a_lower_number() {
    let sim = Sim::start().await;
    let label = "signing-card-g1";
    for _ in 0..2 {
        let (code, _) = sim.post("/publish", json!({})).await;
        assert_eq!(code, 200);
    }
    let current = sim.crl_bytes(label).await;
    let (_, summary) = sim.check(label, &current).unwrap();
    assert_eq!(summary.crl_number, "3");

    sim.post("/misbehave", json!({"mode": "rolled_back", "times": 1, "ca": label})).await;
    // Other lists are not affected by a scoped misbehaviour.
    let other = sim.crl_bytes("signing-card-g2").await;
    assert_eq!(sim.check("signing-card-g2", &other).unwrap().1.crl_number, "3");
    let rolled = sim.crl_bytes(label).await;
    let (_, summary) = sim.check(label, &rolled).expect("a rolled-back list is validly signed");
    assert_eq!(summary.crl_number, "2");
    let again = sim.crl_bytes(label).await;
    assert_eq!(again, current);
}

#[tokio::test]
async fn expired_list_has_next_update_in_the_past() {
    let sim = Sim::start().await;
    let label = "auth-phone-g2";
    sim.post("/revoke", json!({"ca": label, "holder": "p01", "reason": "certificate_hold"})).await;
    sim.post("/misbehave", json!({"mode": "expired"})).await;
    let response = sim.get_crl(label).await;
    assert_eq!(response.status(), 200);
    let der = response.bytes().await.unwrap();
    let (set, summary) = sim.check(label, &der).expect("an expired list is validly signed");
    let next = summary.next_update.unwrap();
    assert!(next < now_plus(0), "nextUpdate {next} is not in the past");
    assert_eq!(summary.crl_number, "2");
    assert_eq!(summary.entries, 1);
    let serial = pki().holder("p01").unwrap().auth().serial().to_vec();
    assert!(matches!(
        status(&set, sim.anchor(label), &serial),
        RevocationStatus::Unknown { cause: jpki_core::revocation::UnknownStatusCause::ListStale { .. } }
    ));
    // Without `times` it stays until changed.
    let again = sim.crl_bytes(label).await;
    assert!(sim.check(label, &again).unwrap().1.next_update.unwrap() < now_plus(0));
    sim.post("/misbehave", json!({"mode": "normal"})).await;
    let fresh = sim.crl_bytes(label).await;
    assert!(sim.check(label, &fresh).unwrap().1.next_update.unwrap() > now_plus(0));
}

#[tokio::test]
async fn slow_list_trips_a_client_timeout() {
    let sim = Sim::start().await;
    let (code, answer) = sim.post("/misbehave", json!({"mode": "slow", "delay_ms": 3000, "times": 1})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["delay_ms"], 3000);
    let impatient = client(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let result = async {
        let response = impatient.get(sim.handle.crl_url("signing-card-g2")).send().await?;
        response.bytes().await
    }
    .await;
    let err = result.expect_err("the body arrives after the timeout");
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Back to normal for the next request.
    let der = sim.crl_bytes("signing-card-g2").await;
    sim.check("signing-card-g2", &der).unwrap();
}

#[tokio::test]
async fn slow_body_still_arrives_for_a_patient_client() {
    let sim = Sim::start().await;
    sim.post("/misbehave", json!({"mode": "slow", "delay_ms": 300, "times": 1})).await;
    let started = std::time::Instant::now();
    let response = sim.get_crl("signing-card-g2").await;
    assert_eq!(response.status(), 200);
    let der = response.bytes().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.check("signing-card-g2", &der).unwrap();
}

#[tokio::test]
async fn error_mode_answers_the_status() {
    let sim = Sim::start().await;
    for status in [500u16, 503] {
        sim.post("/misbehave", json!({"mode": "error", "status": status, "times": 1})).await;
        let response = sim.get_crl("signing-card-g2").await;
        assert_eq!(response.status().as_u16(), status);
        let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert!(body["error"].is_string());
    }
    assert_eq!(sim.get_crl("signing-card-g2").await.status(), 200);
    let downloads = &sim.stats().await["lists"]["signing-card-g2"]["downloads"];
    assert_eq!(downloads["full"], 1);
    assert_eq!(downloads["misbehaved"], 2);
}

#[tokio::test]
async fn huge_list_advertises_and_streams_more_than_the_limit() {
    let sim = Sim::start().await;
    let size = 4u64 << 20;
    sim.post("/misbehave", json!({"mode": "huge", "size": size, "times": 1})).await;
    let mut response = sim.get_crl("signing-card-g2").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(size));
    // A client with a 1 MiB limit reads until it is over, then gives up.
    let limit = 1usize << 20;
    let mut received = 0usize;
    let mut first = None;
    while let Some(chunk) = response.chunk().await.unwrap() {
        if first.is_none() {
            first = chunk.first().copied();
        }
        received += chunk.len();
        if received > limit {
            break;
        }
    }
    assert!(received > limit);
    assert_eq!(first, Some(0x30));
    drop(response);

    // A client that reads it all gets exactly `size` bytes.
    sim.post("/misbehave", json!({"mode": "huge", "size": 70_000, "times": 1})).await;
    let all = sim.crl_bytes("signing-card-g2").await;
    assert_eq!(all.len(), 70_000);
    assert!(matches!(sim.check("signing-card-g2", &all).unwrap_err(), LoadError::Malformed { .. }));
}

#[tokio::test]
async fn publish_reissues_every_list() {
    let sim = Sim::start().await;
    let before = sim.crl_bytes("signing-card-g2").await;
    let (_, summary_before) = sim.check("signing-card-g2", &before).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, answer) = sim.post_raw("/publish", String::new()).await;
    assert_eq!(code, 200, "{answer}");
    let lists = answer["lists"].as_object().unwrap();
    assert_eq!(lists.len(), 8);
    assert!(lists.values().all(|n| n == 2));
    let after = sim.crl_bytes("signing-card-g2").await;
    let (_, summary_after) = sim.check("signing-card-g2", &after).unwrap();
    assert_eq!(summary_after.crl_number, "2");
    assert!(summary_after.this_update > summary_before.this_update);
    // An If-Modified-Since client sees the new list.
    let since = httpdate::fmt_http_date(
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(summary_before.this_update.0 as u64),
    );
    let response =
        sim.client.get(sim.handle.crl_url("signing-card-g2")).header("if-modified-since", since).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn configured_validity_sets_next_update() {
    let config = SimConfig { validity: time::Duration::hours(2), ..SimConfig::default() };
    let sim = Sim::start_with(config).await;
    let der = sim.crl_bytes("auth-card-g2").await;
    let (_, summary) = sim.check("auth-card-g2", &der).unwrap();
    assert_eq!(summary.next_update.unwrap().0 - summary.this_update.0, 7200);
    let bad = SimConfig { validity: time::Duration::ZERO, ..SimConfig::default() };
    assert!(CaSimulator::from_test_pki(&pki(), bad).is_err());
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sim = Sim::start().await;
    let url = sim.handle.crl_url("signing-card-g2");
    assert_eq!(sim.client.get(&url).send().await.unwrap().status(), 200);
    let Sim { handle, client, .. } = sim;
    handle.shutdown().await.unwrap();
    let fresh = common::client(Duration::from_secs(2));
    assert!(fresh.get(&url).send().await.is_err());
    drop(client);
}

#[tokio::test]
async fn shutdown_does_not_hang_on_a_slow_response() {
    let config = SimConfig { shutdown_grace: Duration::from_millis(200), ..SimConfig::default() };
    let sim = Sim::start_with(config).await;
    sim.post("/misbehave", json!({"mode": "slow", "delay_ms": 60_000})).await;
    let url = sim.handle.crl_url("signing-card-g2");
    let client = sim.client.clone();
    let pending = tokio::spawn(async move { client.get(url).send().await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    sim.handle.shutdown().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    pending.abort();
}

#[tokio::test]
async fn unrevoke_releases_a_hold() {
    let sim = Sim::start().await;
    let label = "auth-card-g2";
    let serial = pki().holder("h04").unwrap().auth().serial().to_vec();
    let (code, _) = sim.post("/revoke", json!({"ca": label, "holder": "h04", "reason": "certificate_hold"})).await;
    assert_eq!(code, 200);
    let der = sim.crl_bytes(label).await;
    let (set, _) = sim.check(label, &der).unwrap();
    assert!(matches!(
        status(&set, sim.anchor(label), &serial),
        RevocationStatus::Revoked { reason: Some(RevocationReason::CertificateHold), .. }
    ));

    let (code, answer) = sim.post("/unrevoke", json!({"ca": label, "holder": "h04"})).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["number"], 3);
    assert_eq!(answer["entries"], 0);
    let der = sim.crl_bytes(label).await;
    let (set, summary) = sim.check(label, &der).unwrap();
    assert_eq!(summary.crl_number, "3");
    assert_eq!(status(&set, sim.anchor(label), &serial), RevocationStatus::Good);

    // Not on the list (any more): 400 naming the field.
    let (code, answer) = sim.post("/unrevoke", json!({"ca": label, "holder": "h04"})).await;
    assert_eq!(code, 400);
    assert_eq!(answer["field"], "holder");
    let (code, answer) = sim.post("/unrevoke", json!({"ca": label, "serial": "01"})).await;
    assert_eq!(code, 400);
    assert_eq!(answer["field"], "serial");
    let (code, answer) = sim.post("/unrevoke", json!({"serial": "01"})).await;
    assert_eq!(code, 400);
    assert_eq!(answer["field"], "ca");
    assert_eq!(sim.stats().await["lists"][label]["number"], 3);
}
