//! grpc.health.v1 readiness over a real socket, with the CA simulator over HTTP: NOT_SERVING until
//! every configured list has been loaded once, SERVING while a list goes stale (its answers are
//! TRY_LATER), NOT_SERVING once draining starts, and no new connections after the drain.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use common::*;
use jpki_api::v1::{Indication, SubIndication, VerificationResult};
use jpki_casim::{Misbehaviour, MisbehaviourSetting, SimConfig};
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// A 404 is not retried by the fetcher: every refresh round fails fast.
fn failing() -> MisbehaviourSetting {
    MisbehaviourSetting::always(Misbehaviour::Error { status: 404 })
}

async fn verify_h01(running: &Running) -> VerificationResult {
    let mut client = running.verification().await;
    let request = cms_request(&running.pki, "h01", FORM, FORM);
    client.verify_signature(authed(request, KEY_A)).await.unwrap().into_inner().result.unwrap()
}

async fn every_service_is(running: &Running, expected: ServingStatus) {
    let mut health = HealthClient::new(running.channel().await);
    for service in std::iter::once(&"").chain(jpki_api::SERVICE_NAMES.iter()) {
        let status =
            health.check(HealthCheckRequest { service: (*service).to_owned() }).await.unwrap().into_inner().status();
        assert_eq!(status, expected, "service {service:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_serving_until_every_list_has_been_loaded_once() {
    let running = start_with_casim_config(
        SimConfig::default(),
        |simulator| simulator.set_misbehaviour(failing()).unwrap(),
        |_| {},
    )
    .await;
    let simulator = running.casim.as_ref().unwrap().simulator();

    // Bounded wait until the gateway has asked for every list (and been refused).
    let mut asked = false;
    for _ in 0..600 {
        if simulator.stats().lists.values().all(|list| list.downloads.misbehaved > 0) {
            asked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(asked, "the gateway never asked for every list: {:?}", simulator.stats());
    every_service_is(&running, ServingStatus::NotServing).await;
    // Calls are answered meanwhile (health is for the load balancer): without a list, TRY_LATER.
    let result = verify_h01(&running).await;
    assert_eq!(result.indication(), Indication::Indeterminate, "{result:?}");
    assert_eq!(result.sub_indication(), SubIndication::TryLater);
    assert!(result.retry_may_help);
    assert_eq!(result.revocation.as_ref().unwrap().unknown_cause, "no_list_for_issuer");

    // The CA answers again: every list lands, and the gateway becomes ready.
    simulator.set_misbehaviour(MisbehaviourSetting::normal()).unwrap();
    wait_serving(running.address).await;
    every_service_is(&running, ServingStatus::Serving).await;
    let result = verify_h01(&running).await;
    assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_gone_stale_keeps_serving_and_answers_try_later() {
    // Lists valid for a few seconds only; the CA stops answering once they are loaded.
    let sim = SimConfig { validity: time::Duration::seconds(5), ..SimConfig::default() };
    let running = start_with_casim_config(sim, |_| {}, |_| {}).await;
    wait_serving(running.address).await;
    let simulator = running.casim.as_ref().unwrap().simulator();
    simulator.set_misbehaviour(failing()).unwrap();

    // Bounded wait until the list's nextUpdate has passed.
    let mut stale = None;
    for _ in 0..600 {
        let result = verify_h01(&running).await;
        if result.sub_indication() == SubIndication::TryLater {
            stale = Some(result);
            break;
        }
        assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let result = stale.expect("the list never went stale");
    assert_eq!(result.indication(), Indication::Indeterminate);
    assert_eq!(result.reason.as_ref().unwrap().code, "REVOCATION_STATUS_UNKNOWN");
    assert_eq!(result.reason.as_ref().unwrap().details.get("cause").map(String::as_str), Some("list_stale"));
    assert!(result.retry_may_help);
    let revocation = result.revocation.as_ref().unwrap();
    assert_eq!(revocation.status(), jpki_api::v1::RevocationStatus::Unknown);
    assert_eq!(revocation.unknown_cause, "list_stale");
    assert!(revocation.next_update.is_some() && !revocation.crl_number.is_empty(), "{revocation:?}");
    // Still ready: a stale list is an alert, not a reason to leave the load balancer.
    every_service_is(&running, ServingStatus::Serving).await;

    // The CA recovers and publishes: the next refresh makes the answers definite again.
    simulator.set_misbehaviour(MisbehaviourSetting::normal()).unwrap();
    simulator.publish().unwrap();
    let mut recovered = false;
    for _ in 0..600 {
        if verify_h01(&running).await.indication() == Indication::TotalPassed {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "never recovered after a new publication");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_turns_not_serving_and_then_refuses_connections() {
    let mut running = start_with(|config| config.limits.drain_timeout_seconds = 10).await;
    wait_serving(running.address).await;
    let channel = running.channel().await;
    let mut health = HealthClient::new(channel.clone());
    let mut watch = health.watch(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    let first = watch.next().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);

    let gateway = running.gateway.take().unwrap();
    let shutdown = tokio::spawn(gateway.shutdown());
    // The open watch stream (a call in flight) sees the change.
    let next = tokio::time::timeout(Duration::from_secs(30), watch.next())
        .await
        .expect("no health update after shutdown started")
        .unwrap()
        .unwrap();
    assert_eq!(next.status(), ServingStatus::NotServing);

    // Once the last call ends, the drain completes and the port is closed.
    drop(watch);
    drop(health);
    drop(channel);
    tokio::time::timeout(Duration::from_secs(30), shutdown).await.expect("drain hangs").unwrap().unwrap();
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", running.address)).unwrap();
    let refused = endpoint.connect().await;
    assert!(refused.is_err(), "a new connection after the drain was accepted");
}
