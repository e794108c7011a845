//! Tenancy over real sockets: roles (tenant, auditor, operator) deny by default; operators onboard
//! tenants and issue keys on the admin port; a tenant rotates its own keys with no failed call;
//! suspension, revocation and offboarding apply at once on one node and, through Redis, on every
//! replica; the configuration file wins for what it defines; every admin action is in the
//! platform log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use common::*;
use jpki_api::admin::v1::admin_service_client::AdminServiceClient;
use jpki_api::admin::v1::{
    CreatePrincipalRequest, CreateTenantRequest, IssueApiKeyRequest, ListPlatformLogRequest, PrincipalRef,
    SetClientCertificateRequest, TenantPolicy, UpdateTenantPolicyRequest,
};
use jpki_api::v1::credential_service_client::CredentialServiceClient;
use jpki_api::v1::{
    CheckStatusRequest, Indication, IssueChallengeRequest, ListApiKeysRequest, RevokeApiKeyRequest,
    RotateApiKeyRequest, WatchRevocationsRequest,
};
use jpki_gateway::GatewayConfig;
use jpki_gateway::settings::{AuditorSettings, PrincipalSettings};
use tonic::Code;
use tonic::transport::Channel;

const KEY_OPS: &str = "key-operator";
const KEY_AUDITOR: &str = "key-auditor";

fn with_admin(config: &mut GatewayConfig) {
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.operators =
        vec![PrincipalSettings { id: "ops".into(), api_key: Some(KEY_OPS.into()), ..PrincipalSettings::default() }];
    config.auditors = vec![AuditorSettings {
        id: "audit-a".into(),
        api_key: Some(KEY_AUDITOR.into()),
        tenants: vec!["bank-a".into()],
        ..AuditorSettings::default()
    }];
}

async fn admin(address: SocketAddr) -> AdminServiceClient<Channel> {
    AdminServiceClient::new(channel(address).await)
}

fn admin_address(running: &Running) -> SocketAddr {
    running.gateway.as_ref().unwrap().admin_addr().expect("admin_listen is set")
}

fn everything() -> TenantPolicy {
    TenantPolicy {
        four_fields: vec!["name".into()],
        rpcs: [
            "VerifySignature",
            "IssueChallenge",
            "VerifyAuthProof",
            "Link",
            "Unlink",
            "LookupLink",
            "CheckStatus",
            "WatchRevocations",
        ]
        .map(String::from)
        .to_vec(),
        certificate_kinds: ["signing_card", "auth_card", "signing_phone", "auth_phone"].map(String::from).to_vec(),
        business_purposes: ["account_opening", "login", "remittance", "periodic_reverification"]
            .map(String::from)
            .to_vec(),
        ..TenantPolicy::default()
    }
}

async fn issue_challenge(address: SocketAddr, key: &str) -> Result<(), tonic::Status> {
    let mut client = jpki_api::v1::verification_service_client::VerificationServiceClient::new(channel(address).await);
    client.issue_challenge(authed(IssueChallengeRequest::default(), key)).await.map(|_| ())
}

async fn onboard(admin: &mut AdminServiceClient<Channel>, id: &str) -> String {
    let created = admin
        .create_tenant(authed(CreateTenantRequest { id: id.into(), policy: Some(everything()) }, KEY_OPS))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((created.role.as_str(), created.state.as_str(), created.source.as_str()), ("tenant", "active", "api"));
    let issued = admin
        .issue_api_key(authed(
            IssueApiKeyRequest { principal: id.into(), expires_in_seconds: 0, label: "first".into() },
            KEY_OPS,
        ))
        .await
        .unwrap()
        .into_inner();
    let info = issued.info.unwrap();
    assert!(issued.api_key.starts_with(&format!("jpkigw_{}_", info.key_id)), "{}", info.key_id);
    assert_eq!(issued.api_key.len(), "jpkigw_".len() + 16 + 1 + 64, "a 256-bit secret");
    assert!(info.usable);
    issued.api_key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_refused_even_while_its_answer_is_cached() {
    let running = start_with(with_admin).await;
    let mut admin = admin(admin_address(&running)).await;
    onboard(&mut admin, "insurer-x").await;
    let issued = admin
        .issue_api_key(authed(
            IssueApiKeyRequest { principal: "insurer-x".into(), expires_in_seconds: 2, label: String::new() },
            KEY_OPS,
        ))
        .await
        .unwrap()
        .into_inner();
    issue_challenge(running.address, &issued.api_key).await.unwrap();
    // Past the expiry (whole seconds), well inside the cache's 5 s.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let status = issue_challenge(running.address, &issued.api_key).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_deny_by_default() {
    let running = start_with(with_admin).await;
    let admin_addr = admin_address(&running);
    // A tenant may not administer, on the admin port; an auditor neither.
    for key in [KEY_A, KEY_AUDITOR] {
        let status = admin(admin_addr).await.list_principals(authed(Default::default(), key)).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{key}: {status:?}");
    }
    // An operator or auditor may not verify or read a tenant's data.
    for key in [KEY_OPS, KEY_AUDITOR] {
        let status = issue_challenge(running.address, key).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{key}: {status:?}");
        let mut status_client = running.status().await;
        let status = status_client.check_status(authed(CheckStatusRequest::default(), key)).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
    }
    // The admin service is not on the shared port at all.
    let status = admin(running.address).await.list_principals(authed(Default::default(), KEY_OPS)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    // Unknown keys get one answer, whatever exists.
    for key in ["jpkigw_0000000000000000_".to_owned() + &"0".repeat(64), "nothing".into()] {
        let status = issue_challenge(running.address, &key).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(
            status.message(),
            "the API key is not valid (unknown, expired, revoked, or its principal suspended)"
        );
    }
    // Every principal manages its own keys, an operator too.
    let mut credentials = CredentialServiceClient::new(channel(running.address).await);
    let mine = credentials.list_api_keys(authed(ListApiKeysRequest {}, KEY_OPS)).await.unwrap().into_inner();
    assert_eq!(mine.keys.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(), ["config.ops"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_onboards_a_tenant_that_verifies_rotates_and_is_suspended() {
    let running = start_with(with_admin).await;
    let mut admin = admin(admin_address(&running)).await;
    let key = onboard(&mut admin, "insurer-c").await;

    // Its first verification, with the key the operator issued.
    let mut client = running.verification().await;
    let answer = login(&mut client, &running.pki, "h01", &key, "first").await;
    assert_eq!(answer.result.unwrap().indication(), Indication::TotalPassed);

    // The tenant rotates: both keys work during the overlap, so no call fails.
    let mut credentials = CredentialServiceClient::new(channel(running.address).await);
    let rotated = credentials
        .rotate_api_key(authed(
            RotateApiKeyRequest { overlap_seconds: 600, expires_in_seconds: 0, label: "2026-12".into() },
            &key,
        ))
        .await
        .unwrap()
        .into_inner();
    issue_challenge(running.address, &key).await.unwrap();
    issue_challenge(running.address, &rotated.api_key).await.unwrap();
    let listed = credentials.list_api_keys(authed(ListApiKeysRequest {}, &rotated.api_key)).await.unwrap().into_inner();
    assert_eq!(listed.keys.len(), 2);
    let old = listed.keys.iter().find(|k| k.key_id != rotated.info.as_ref().unwrap().key_id).unwrap();
    assert!(old.expires_at > 0 && old.usable, "the old key expires after the overlap: {old:?}");
    assert!(old.last_used_at > 0, "its use was recorded");
    // Then revokes the operator-minted key: the operator can no longer act as the tenant.
    credentials
        .revoke_api_key(authed(RevokeApiKeyRequest { key_id: old.key_id.clone() }, &rotated.api_key))
        .await
        .unwrap();
    assert_eq!(issue_challenge(running.address, &key).await.unwrap_err().code(), Code::Unauthenticated);
    issue_challenge(running.address, &rotated.api_key).await.unwrap();
    // Another principal's key id is as unknown as a missing one.
    let foreign = credentials
        .revoke_api_key(authed(RevokeApiKeyRequest { key_id: "config.bank-a".into() }, &rotated.api_key))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);
    issue_challenge(running.address, KEY_A).await.unwrap();

    // A suspension applies at once on this node, and ends the tenant's open watch stream.
    let mut status = running.status().await;
    let mut stream = status
        .watch_revocations(authed(WatchRevocationsRequest::default(), &rotated.api_key))
        .await
        .unwrap()
        .into_inner();
    admin.suspend_principal(authed(PrincipalRef { id: "insurer-c".into() }, KEY_OPS)).await.unwrap();
    let status = issue_challenge(running.address, &rotated.api_key).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let ended =
        tokio::time::timeout(std::time::Duration::from_secs(60), stream.message()).await.expect("the stream ends");
    assert_eq!(ended.unwrap_err().code(), Code::Unauthenticated);
    // Other tenants are not affected; a resume restores the keys.
    issue_challenge(running.address, KEY_A).await.unwrap();
    admin.resume_principal(authed(PrincipalRef { id: "insurer-c".into() }, KEY_OPS)).await.unwrap();
    issue_challenge(running.address, &rotated.api_key).await.unwrap();

    // Offboarding revokes every key for good.
    admin.offboard_principal(authed(PrincipalRef { id: "insurer-c".into() }, KEY_OPS)).await.unwrap();
    assert_eq!(issue_challenge(running.address, &rotated.api_key).await.unwrap_err().code(), Code::Unauthenticated);
    let keys =
        admin.list_api_keys(authed(PrincipalRef { id: "insurer-c".into() }, KEY_OPS)).await.unwrap().into_inner();
    assert!(keys.keys.iter().all(|k| k.revoked_at > 0 && !k.usable), "{keys:?}");
    let status = admin.resume_principal(authed(PrincipalRef { id: "insurer-c".into() }, KEY_OPS)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Every action is in the platform log: who, what, on whom.
    let log = admin
        .list_platform_log(authed(ListPlatformLogRequest { after: 0, limit: 0 }, KEY_OPS))
        .await
        .unwrap()
        .into_inner();
    let actions: Vec<(String, String, String)> = log
        .entries
        .iter()
        .map(|entry| {
            let json: serde_json::Value = serde_json::from_str(&entry.entry_json).unwrap();
            let field = |name: &str| json[name].as_str().unwrap_or_default().to_owned();
            (field("actor"), field("action"), field("target"))
        })
        .filter(|(_, _, target)| target == "insurer-c")
        .collect();
    let expected = [
        ("ops", "create_principal"),
        ("ops", "issue_key"),
        ("insurer-c", "issue_key"),
        ("insurer-c", "rotate_key"),
        ("insurer-c", "revoke_key"),
        ("ops", "suspend"),
        ("ops", "resume"),
        ("ops", "offboard"),
    ];
    let seen: Vec<(&str, &str)> = actions.iter().map(|(actor, action, _)| (actor.as_str(), action.as_str())).collect();
    for pair in expected {
        assert!(seen.contains(&pair), "{pair:?} missing from {seen:?}");
    }
    assert!(log.entries.windows(2).all(|w| w[0].sequence < w[1].sequence));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_file_wins_for_what_it_defines() {
    let mut running = start_with(with_admin).await;
    let mut admin = admin(admin_address(&running)).await;
    let status = admin
        .update_tenant_policy(authed(
            UpdateTenantPolicyRequest { id: "bank-a".into(), policy: Some(everything()) },
            KEY_OPS,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // An API tenant's policy changes at once: without CheckStatus it is PERMISSION_DENIED.
    let key = onboard(&mut admin, "broker-d").await;
    let mut narrower = everything();
    narrower.rpcs.retain(|rpc| rpc != "IssueChallenge");
    admin
        .update_tenant_policy(authed(
            UpdateTenantPolicyRequest { id: "broker-d".into(), policy: Some(narrower) },
            KEY_OPS,
        ))
        .await
        .unwrap();
    assert_eq!(issue_challenge(running.address, &key).await.unwrap_err().code(), Code::PermissionDenied);
    // The mTLS pin: the API sets it for its own principals, not for the file's.
    let pin = |id: &str, spki: &str, required: bool| {
        authed(SetClientCertificateRequest { id: id.into(), spki_sha256: spki.into(), required }, KEY_OPS)
    };
    let spki = "ab".repeat(32);
    assert_eq!(
        admin.set_client_certificate(pin("bank-a", &spki, false)).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    assert_eq!(
        admin.set_client_certificate(pin("broker-d", "", true)).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    assert_eq!(
        admin.set_client_certificate(pin("broker-d", "not-hex", false)).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let pinned = admin.set_client_certificate(pin("broker-d", &spki, true)).await.unwrap().into_inner();
    assert_eq!((pinned.client_spki_sha256.as_str(), pinned.require_client_certificate), (spki.as_str(), true));
    // Required, and this plaintext call has no certificate: the key alone is refused at once.
    assert_eq!(issue_challenge(running.address, &key).await.unwrap_err().code(), Code::Unauthenticated);
    // A suspension of a file tenant survives a restart; the file's policy is applied again.
    admin.suspend_principal(authed(PrincipalRef { id: "bank-b".into() }, KEY_OPS)).await.unwrap();
    // Connections still open would keep the store (and its lock) alive past the shutdown.
    drop(admin);
    let gateway = running.gateway.take().unwrap();
    gateway.shutdown().await.unwrap();
    let mut config = config(running.dir.path(), &running.pki);
    with_admin(&mut config);
    config.tenants[0].rpcs = Some(vec!["CheckStatus".into()]);
    let restarted = launch(config, running.pki.clone(), running.dir, None).await;
    assert_eq!(issue_challenge(restarted.address, KEY_A).await.unwrap_err().code(), Code::PermissionDenied);
    assert_eq!(issue_challenge(restarted.address, KEY_B).await.unwrap_err().code(), Code::Unauthenticated);
    // Its pinned, required certificate outlives the restart too.
    assert_eq!(issue_challenge(restarted.address, &key).await.unwrap_err().code(), Code::Unauthenticated);
    let mut admin = self::admin(admin_address(&restarted)).await;
    let auditor = admin
        .create_principal(authed(
            CreatePrincipalRequest { id: "audit-b".into(), role: "auditor".into(), auditor_of: vec!["bank-b".into()] },
            KEY_OPS,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(auditor.auditor_of, ["bank-b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_replica_applies_on_the_other_through_redis() {
    let Some(shared) = SharedStores::start() else { return };
    let pki = jpki_testsupport::testing::pki();
    let dir = tempfile::tempdir().unwrap();
    let replica = |name: &str| {
        let mut config = config(dir.path(), &pki);
        config.data_dir = dir.path().join(name);
        shared.apply(&mut config);
        with_admin(&mut config);
        config
    };
    let first = launch(replica("one"), pki.clone(), tempfile::tempdir().unwrap(), None).await;
    let second = launch(replica("two"), pki.clone(), tempfile::tempdir().unwrap(), None).await;
    let mut admin = admin(admin_address(&first)).await;
    let key = onboard(&mut admin, "insurer-e").await;
    issue_challenge(second.address, &key).await.unwrap();
    admin.suspend_principal(authed(PrincipalRef { id: "insurer-e".into() }, KEY_OPS)).await.unwrap();
    // Within the cache TTL (5 s) at the latest; the pub/sub notice usually makes it immediate.
    // Bounded attempts, not a timing assertion.
    let mut refused = false;
    for _ in 0..100 {
        if issue_challenge(second.address, &key).await.is_err_and(|s| s.code() == Code::Unauthenticated) {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(refused, "the suspension never reached the other replica");
}
