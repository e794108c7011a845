//! Per-tenant quotas and the throttle of failed authentication over a real socket: the rate and
//! the calls in progress of one tenant are refused with QuotaFailure and RetryInfo while another
//! tenant's calls pass; an open stream holds a call until it is dropped; a peer that failed
//! authentication too often is refused before its key is looked at, good key or not.
//! Counts and codes only: nothing here asserts on time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::{IssueChallengeRequest, WatchRevocationsRequest};
use jpki_gateway::settings::{QuotaSettings, TenantSettings};
use jpki_gateway::throttle::THROTTLED_REASON;
use tonic::Code;
use tonic_types::StatusExt;

/// The test tenants, bank-a with the given quota and bank-b at the default.
fn tenants_with_quota_a(quota: QuotaSettings) -> Vec<TenantSettings> {
    let mut tenants = tenants();
    tenants[0].quota = Some(quota);
    tenants
}

fn challenge(key: &str) -> tonic::Request<IssueChallengeRequest> {
    authed(IssueChallengeRequest { transaction_reference: "quota-test".into() }, key)
}

/// The QuotaFailure violation of a refusal by bank-a's quota: (description, retry delay).
fn quota_refusal(status: &tonic::Status) -> (String, std::time::Duration) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let failure = status.get_details_quota_failure().expect("google.rpc.QuotaFailure details");
    assert_eq!(failure.violations.len(), 1, "{failure:?}");
    assert_eq!(failure.violations[0].subject, "tenant:bank-a");
    let retry = status.get_details_retry_info().expect("google.rpc.RetryInfo details");
    (failure.violations[0].description.clone(), retry.retry_delay.expect("a retry delay"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_third_immediate_call_over_rate_1_burst_2_is_refused_and_another_tenant_passes() {
    let quota = QuotaSettings { requests_per_second: 1, burst: 2, max_concurrent: 10 };
    let running = start_with(|config| config.tenants = tenants_with_quota_a(quota)).await;
    let mut client = running.verification().await;
    let mut status = running.status().await;

    for call in 1..=2 {
        client.issue_challenge(challenge(KEY_A)).await.unwrap_or_else(|status| panic!("call {call}: {status:?}"));
    }
    // The third call is refused unless the machine took a whole second over the second one (one
    // token back): a few more attempts keep a loaded machine from failing the test, not a timing.
    let mut refused = None;
    for _ in 0..5 {
        if let Err(status) = client.issue_challenge(challenge(KEY_A)).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("no call over the burst was refused");
    let (description, retry_delay) = quota_refusal(&refused);
    assert!(description.starts_with("rate quota"), "{description}");
    assert!(!retry_delay.is_zero(), "governor's wait for the next call");

    // Every RPC of the tenant counts, streams included.
    let mut refused = None;
    for _ in 0..5 {
        if let Err(status) = status.watch_revocations(authed(WatchRevocationsRequest::default(), KEY_A)).await {
            refused = Some(status);
            break;
        }
    }
    assert!(quota_refusal(&refused.expect("no stream over the rate was refused")).0.starts_with("rate quota"));
    // The same moment, bank-b has its own bucket.
    for call in 1..=5 {
        client
            .issue_challenge(challenge(KEY_B))
            .await
            .unwrap_or_else(|status| panic!("bank-b call {call}: {status:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stream_holds_the_only_call_in_progress_until_dropped() {
    let quota = QuotaSettings { requests_per_second: 1000, burst: 1000, max_concurrent: 1 };
    let running = start_with(|config| config.tenants = tenants_with_quota_a(quota)).await;
    let mut status = running.status().await;
    let mut client = running.verification().await;

    let stream = status.watch_revocations(authed(WatchRevocationsRequest::default(), KEY_A)).await.unwrap();

    let refused = client.issue_challenge(challenge(KEY_A)).await.unwrap_err();
    let (description, retry_delay) = quota_refusal(&refused);
    assert!(description.starts_with("concurrency quota: 1 "), "{description}");
    assert_eq!(retry_delay, jpki_gateway::quota::CONCURRENCY_RETRY_DELAY);
    let second_stream = status.watch_revocations(authed(WatchRevocationsRequest::default(), KEY_A)).await.unwrap_err();
    assert!(quota_refusal(&second_stream).0.starts_with("concurrency quota"));
    // bank-b's calls in progress are its own.
    let _b_stream = status.watch_revocations(authed(WatchRevocationsRequest::default(), KEY_B)).await.unwrap();
    client.issue_challenge(challenge(KEY_B)).await.unwrap();

    // Dropping the stream resets it; the server ends the call when it sees the reset, so the
    // next call may still find it in progress for a moment (attempts bounded, not timed).
    drop(stream);
    let mut refusals = 0;
    loop {
        match client.issue_challenge(challenge(KEY_A)).await {
            Ok(_) => break,
            Err(status) => {
                assert!(quota_refusal(&status).0.starts_with("concurrency quota"), "{status:?}");
                refusals += 1;
                assert!(refusals < 200, "the dropped stream still holds the call");
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_failed_authentication_too_often_is_throttled_even_with_a_good_key() {
    // The default budget: 10 failures at once, 10 per minute.
    let running = start().await;
    let mut client = running.verification().await;

    // Successful calls are not counted.
    for _ in 0..30 {
        client.issue_challenge(challenge(KEY_A)).await.unwrap();
    }
    for attempt in 1..=10 {
        let status = client.issue_challenge(challenge("not-a-key")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "attempt {attempt}: {status:?}");
    }
    // The tenth spent the budget: the next call is refused before its key is looked at, the same
    // for a good key, an unknown one and none.
    let mut answers = Vec::new();
    for key in [Some(KEY_A), Some("not-a-key"), None] {
        let request = match key {
            Some(key) => challenge(key),
            None => tonic::Request::new(IssueChallengeRequest { transaction_reference: "quota-test".into() }),
        };
        let status = client.issue_challenge(request).await.unwrap_err();
        assert_eq!(status.code(), Code::ResourceExhausted, "{key:?}: {status:?}");
        assert_eq!(status.get_details_error_info().expect("ErrorInfo").reason, THROTTLED_REASON);
        let retry_delay = status.get_details_retry_info().expect("RetryInfo").retry_delay.expect("a delay");
        assert!(!retry_delay.is_zero());
        assert!(status.get_details_quota_failure().is_none(), "not a tenant's quota");
        answers.push(status.message().to_owned());
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]), "no hint whether a key exists: {answers:?}");
}
