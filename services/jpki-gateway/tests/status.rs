//! StatusService as a tenant sees it: CheckStatus answers only for the tenant's own certificates
//! (NOT_ENTITLED otherwise, saying nothing), and WatchRevocations reports every change of status
//! (held, revoked, released) once, in order, resumable.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::{
    CertificateId, CheckStatusRequest, Indication, IssueChallengeRequest, LinkRequest, RevocationChange,
    RevocationEvent, RevocationFacts, RevocationReason, RevocationStatus, UnlinkRequest, VerifyAuthProofRequest,
    WatchRevocationsRequest,
};
use jpki_casim::{Revocation, RevokeTarget, parse_reason};
use tokio_stream::StreamExt;

async fn check(running: &Running, key: &str, ids: &[CertificateId]) -> Vec<RevocationFacts> {
    let request = CheckStatusRequest { certificates: ids.to_vec() };
    let response = running.status().await.check_status(authed(request, key)).await.unwrap().into_inner();
    response.statuses.into_iter().map(|status| status.revocation.unwrap()).collect()
}

fn not_entitled() -> RevocationFacts {
    RevocationFacts { status: RevocationStatus::NotEntitled.into(), ..RevocationFacts::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_status_answers_only_for_the_tenants_own_certificates() {
    let running = start().await;
    let mut client = running.verification().await;

    // Tenant A: a passed account opening (h01's signing certificate), a passed login (h02's
    // authentication certificate, then linked), a failed login (h03: proof over other bytes).
    let signed = client.verify_signature(authed(cms_request(&running.pki, "h01", FORM, FORM), KEY_A)).await.unwrap();
    let signing = signed.into_inner().result.unwrap();
    assert_eq!(signing.indication(), Indication::TotalPassed);
    let signing_id = signing.certificate.unwrap().id.unwrap();
    let login_a = login(&mut client, &running.pki, "h02", KEY_A, "").await.result.unwrap();
    let auth_id = login_a.certificate.clone().unwrap().id.unwrap();
    let issued = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let card = running.pki.card("h03").unwrap();
    let failed = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(b"not the challenge").unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let failed = client.verify_auth_proof(authed(failed, KEY_A)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(failed.indication(), Indication::TotalFailed);
    let failed_id = failed.certificate.unwrap().id.unwrap();
    let made_up = CertificateId { ca_key_id: signing_id.ca_key_id.clone(), serial: "7fffffffffffffff".into() };
    let foreign_issuer = CertificateId { ca_key_id: "00ff".into(), serial: "01".into() };

    // A: its passed verifications answer; a failed one, a made-up serial and an unknown issuer
    // answer not_entitled, alike.
    let ids = [signing_id.clone(), auth_id.clone(), failed_id.clone(), made_up.clone(), foreign_issuer.clone()];
    let facts = check(&running, KEY_A, &ids).await;
    assert_eq!(facts[0].status(), RevocationStatus::Good, "{:?}", facts[0]);
    assert_eq!(facts[1].status(), RevocationStatus::Good, "{:?}", facts[1]);
    assert!(!facts[0].list.is_empty() && facts[0].this_update.is_some());
    for fact in &facts[2..] {
        assert_eq!(fact, &not_entitled());
    }

    // B has verified nothing: every id, A's real ones included, answers exactly like a made-up one.
    let facts = check(&running, KEY_B, &ids).await;
    assert!(facts.iter().all(|fact| fact == &not_entitled()), "{facts:?}");

    // Once B verifies the same card itself, B may ask about it too.
    let login_b = login(&mut client, &running.pki, "h02", KEY_B, "").await.result.unwrap();
    assert_eq!(login_b.indication(), Indication::TotalPassed);
    assert_eq!(check(&running, KEY_B, std::slice::from_ref(&auth_id)).await[0].status(), RevocationStatus::Good);
    assert_eq!(check(&running, KEY_B, std::slice::from_ref(&signing_id)).await[0], not_entitled());

    // A link keeps A entitled; an unlink leaves the passed verification (still within retention).
    let mut links = running.links().await;
    let link = LinkRequest {
        customer_id: "CUST-0002".into(),
        auth_verification_id: login_a.verification_id.clone(),
        signature_verification_id: String::new(),
    };
    links.link(authed(link, KEY_A)).await.unwrap();
    assert_eq!(check(&running, KEY_A, std::slice::from_ref(&auth_id)).await[0].status(), RevocationStatus::Good);
    let unlink = UnlinkRequest { customer_id: "CUST-0002".into(), certificate: Some(auth_id.clone()) };
    links.unlink(authed(unlink, KEY_A)).await.unwrap();
    assert_eq!(check(&running, KEY_A, std::slice::from_ref(&auth_id)).await[0].status(), RevocationStatus::Good);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_status_entitlement_ends_with_the_record_retention_but_not_with_a_link() {
    // A retention of one second: the passed verification stops entitling soon after; the link does not.
    let running = start_with(|config| config.links.verification_retention_seconds = 1).await;
    let mut client = running.verification().await;
    let (first, second) = (
        login(&mut client, &running.pki, "h04", KEY_A, "").await.result.unwrap(),
        login(&mut client, &running.pki, "h05", KEY_A, "").await.result.unwrap(),
    );
    let link = LinkRequest {
        customer_id: "CUST-0005".into(),
        auth_verification_id: second.verification_id.clone(),
        signature_verification_id: String::new(),
    };
    running.links().await.link(authed(link, KEY_A)).await.unwrap();
    let ids = [first.certificate.unwrap().id.unwrap(), second.certificate.unwrap().id.unwrap()];
    // Bounded wait for the clock to pass the retention (no timed assertion: the answer is awaited).
    let mut expired = false;
    for _ in 0..100 {
        let facts = check(&running, KEY_A, &ids).await;
        assert_eq!(facts[1].status(), RevocationStatus::Good, "the link keeps entitling");
        if facts[0] == not_entitled() {
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(expired, "a verification past the retention still entitles");
}

async fn next_event(stream: &mut tonic::Streaming<RevocationEvent>) -> RevocationEvent {
    tokio::time::timeout(Duration::from_secs(60), stream.next()).await.expect("an event").unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_of_status_is_one_event_in_order() {
    let running = start_with_casim(|_| {}).await;
    wait_serving(running.address).await;
    let mut client = running.verification().await;
    let signed = client.verify_signature(authed(cms_request(&running.pki, "h06", FORM, FORM), KEY_A)).await.unwrap();
    let signing = signed.into_inner().result.unwrap();
    assert_eq!(signing.indication(), Indication::TotalPassed);
    let id = signing.certificate.unwrap().id.unwrap();
    let mut stream = running
        .status()
        .await
        .watch_revocations(authed(WatchRevocationsRequest { cursor: "0".into() }, KEY_A))
        .await
        .unwrap()
        .into_inner();

    let simulator = running.casim.as_ref().unwrap().simulator();
    let ca = running.pki.holder("h06").unwrap().signing().issuer_label().to_owned();
    let target = RevokeTarget::Holder("h06".into());
    let revoke = |reason: &str| {
        simulator
            .revoke(&Revocation {
                ca: ca.clone(),
                target: target.clone(),
                reason: parse_reason(reason),
                revoked_at: None,
            })
            .unwrap();
    };

    // Held, released, held again, then revoked for good (the held card is reported lost), then the
    // reason changes: one event each, in list order.
    revoke("certificate_hold");
    let held = next_event(&mut stream).await;
    assert_eq!((held.change(), held.reason()), (RevocationChange::Held, RevocationReason::CertificateHold));
    assert_eq!(held.certificate.as_ref(), Some(&id));
    assert_eq!(held.meaning(), jpki_api::v1::BusinessMeaning::Suspended);

    simulator.unrevoke(&ca, &target).unwrap();
    let released = next_event(&mut stream).await;
    assert_eq!((released.change(), released.reason()), (RevocationChange::Released, RevocationReason::Unspecified));

    revoke("certificate_hold");
    let held_again = next_event(&mut stream).await;
    assert_eq!(held_again.change(), RevocationChange::Held);

    revoke("key_compromise");
    let revoked = next_event(&mut stream).await;
    assert_eq!((revoked.change(), revoked.reason()), (RevocationChange::Revoked, RevocationReason::KeyCompromise));
    assert_eq!(revoked.meaning(), jpki_api::v1::BusinessMeaning::CardLost);

    revoke("cessation_of_operation");
    let died = next_event(&mut stream).await;
    assert_eq!((died.change(), died.reason()), (RevocationChange::Revoked, RevocationReason::CessationOfOperation));

    // A new publication with the same status, and a revoked certificate dropped from the list
    // (as an expired one is): no event. A marker event afterwards proves nothing came in between.
    simulator.publish().unwrap();
    simulator.unrevoke(&ca, &target).unwrap();
    let marker = running.pki.holder("h06").unwrap().auth().issuer_label().to_owned();
    let login = login(&mut client, &running.pki, "h06", KEY_A, "").await.result.unwrap();
    assert_eq!(login.indication(), Indication::TotalPassed);
    simulator
        .revoke(&Revocation {
            ca: marker,
            target: RevokeTarget::Holder("h06".into()),
            reason: parse_reason("superseded"),
            revoked_at: None,
        })
        .unwrap();
    let next = next_event(&mut stream).await;
    assert_eq!((next.change(), next.reason()), (RevocationChange::Revoked, RevocationReason::Superseded), "{next:?}");

    // Cursors strictly increase, and list numbers with them; a replay from "0" gives the same six.
    let events = [&held, &released, &held_again, &revoked, &died, &next];
    let cursors: Vec<u64> = events.iter().map(|event| event.cursor.parse().unwrap()).collect();
    assert!(cursors.windows(2).all(|pair| pair[0] < pair[1]), "{cursors:?}");
    let numbers: Vec<u64> = events[..5].iter().map(|event| event.crl_number.parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]), "{numbers:?}");
    let replay: Vec<RevocationEvent> = running
        .status()
        .await
        .watch_revocations(authed(WatchRevocationsRequest { cursor: "0".into() }, KEY_A))
        .await
        .unwrap()
        .into_inner()
        .take(6)
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(replay.iter().collect::<Vec<_>>(), events);

    // Tenant B, watching from "0" (a cursor A's stream also started from), gets none of A's events:
    // its first event is its own certificate's, revoked afterwards as a marker.
    let theirs = client.verify_signature(authed(cms_request(&running.pki, "h07", FORM, FORM), KEY_B)).await.unwrap();
    let theirs = theirs.into_inner().result.unwrap();
    assert_eq!(theirs.indication(), Indication::TotalPassed);
    let theirs = theirs.certificate.unwrap().id.unwrap();
    let mut from_zero = running
        .status()
        .await
        .watch_revocations(authed(WatchRevocationsRequest { cursor: "0".into() }, KEY_B))
        .await
        .unwrap()
        .into_inner();
    let ca_b = running.pki.holder("h07").unwrap().signing().issuer_label().to_owned();
    simulator
        .revoke(&Revocation {
            ca: ca_b,
            target: RevokeTarget::Holder("h07".into()),
            reason: parse_reason("key_compromise"),
            revoked_at: None,
        })
        .unwrap();
    let first = next_event(&mut from_zero).await;
    assert_eq!(first.certificate.as_ref(), Some(&theirs), "B's stream from 0 began with another tenant's event");
    assert_eq!(first.cursor, "1", "B's cursors are its own sequence");
}
