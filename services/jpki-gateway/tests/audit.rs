//! The audit log over a real socket: every tenant call leaves one event in its tenant's log, in
//! order; an auditor reads the tenants it is granted (checkpoints, events, proofs), every proof
//! verifies with jpki-audit against the signed checkpoint, its reads are events too, and nobody
//! else reads anything: another tenant's auditor, a tenant, an operator.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::audit::v1::{
    GetCheckpointRequest, GetConsistencyProofRequest, GetEvidenceRequest, GetInclusionProofRequest,
    StreamEventsRequest, audit_service_client::AuditServiceClient,
};
use jpki_api::v1::{CheckStatusRequest, LinkRequest, LookupLinkRequest, lookup_link_request};
use jpki_audit::{AuditEvent, CheckpointVerifier, Hash, LogHashes, verify_consistency, verify_inclusion};
use jpki_gateway::settings::{AuditorSettings, PrincipalSettings};
use tonic::Code;
use tonic::transport::Channel;

const KEY_AUDITOR_A: &str = "key-auditor-a";
const KEY_AUDITOR_B: &str = "key-auditor-b";
const KEY_OPS: &str = "key-ops";

async fn start_audited() -> Running {
    start_with(|config| {
        config.auditors = vec![
            AuditorSettings {
                id: "auditor-a".into(),
                api_key: Some(KEY_AUDITOR_A.into()),
                tenants: vec!["bank-a".into()],
                ..AuditorSettings::default()
            },
            AuditorSettings {
                id: "auditor-b".into(),
                api_key: Some(KEY_AUDITOR_B.into()),
                tenants: vec!["bank-b".into()],
                ..AuditorSettings::default()
            },
        ];
        config.operators =
            vec![PrincipalSettings { id: "ops".into(), api_key: Some(KEY_OPS.into()), ..PrincipalSettings::default() }];
        config.audit.platform = "jpki-gateway.test".into();
    })
    .await
}

async fn auditor(running: &Running) -> AuditServiceClient<Channel> {
    AuditServiceClient::new(running.channel().await)
}

async fn events(client: &mut AuditServiceClient<Channel>, tenant: &str, from: u64, to: u64) -> Vec<(u64, String)> {
    let request = StreamEventsRequest { tenant: tenant.into(), from, to };
    let mut stream = client.stream_events(authed(request, KEY_AUDITOR_A)).await.unwrap().into_inner();
    let mut entries = Vec::new();
    while let Some(entry) = stream.message().await.unwrap() {
        entries.push((entry.index, entry.leaf));
    }
    entries
}

fn root(bytes: &[u8]) -> Hash {
    Hash(bytes.try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_an_event_and_an_auditor_proves_the_log() {
    let running = start_audited().await;
    let mut verification = running.verification().await;
    let mut links = running.links().await;
    let mut status = running.status().await;
    // Tenant A: a login, a link, a lookup, a status check. Tenant B: a login.
    let login = login(&mut verification, &running.pki, "h01", KEY_A, "tx-1").await;
    let verification_id = login.result.unwrap().verification_id;
    let link = LinkRequest {
        customer_id: "CUST-0001".into(),
        auth_verification_id: verification_id.clone(),
        ..LinkRequest::default()
    };
    let linked = links.link(authed(link, KEY_A)).await.unwrap().into_inner();
    let lookup = LookupLinkRequest { key: Some(lookup_link_request::Key::CustomerId("CUST-0001".into())) };
    links.lookup_link(authed(lookup, KEY_A)).await.unwrap();
    let check = CheckStatusRequest { certificates: vec![linked.certificate.clone().unwrap()] };
    status.check_status(authed(check, KEY_A)).await.unwrap();
    common::login(&mut verification, &running.pki, "h02", KEY_B, "tx-b").await;

    let mut client = auditor(&running).await;
    let checkpoint = client
        .get_checkpoint(authed(GetCheckpointRequest { tenant: "bank-a".into() }, KEY_AUDITOR_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checkpoint.origin, "jpki-gateway.test/tenant/bank-a");
    let verifier = CheckpointVerifier::new(&checkpoint.verifier_keys).unwrap();
    let verified = verifier.verify(checkpoint.note.as_bytes(), &checkpoint.origin).unwrap();
    assert_eq!(verified.size, checkpoint.size);
    assert_eq!(verified.root, root(&checkpoint.root_hash));
    // The start's administrative events (the configuration created bank-a and granted auditor-a),
    // five calls (IssueChallenge, VerifyAuthProof, Link, LookupLink, CheckStatus) and the
    // auditor's read of the checkpoint, which is itself the last event.
    assert_eq!(checkpoint.size, 8);

    let entries = events(&mut client, "bank-a", 0, 0).await;
    // The stream's own read is recorded first, so it is part of what it returns.
    assert_eq!(entries.len(), 9);
    assert!(entries.iter().enumerate().all(|(i, (index, _))| *index == i as u64));
    let parsed: Vec<AuditEvent> =
        entries.iter().map(|(_, leaf)| AuditEvent::from_leaf(leaf.as_bytes()).unwrap()).collect();
    let rpcs: Vec<&str> = parsed.iter().map(|event| event.rpc.rsplit('/').next().unwrap()).collect();
    assert_eq!(
        rpcs,
        [
            "bootstrap",
            "bootstrap",
            "IssueChallenge",
            "VerifyAuthProof",
            "Link",
            "LookupLink",
            "CheckStatus",
            "GetCheckpoint",
            "StreamEvents"
        ]
    );
    assert!(parsed.iter().all(|event| event.tenant == "bank-a"));
    assert!(parsed[2..].iter().all(|event| !event.request_id.is_empty()), "every call's request id");
    assert_eq!(
        [parsed[0].detail.get("target"), parsed[1].detail.get("target")],
        [Some(&"bank-a".to_owned()), Some(&"auditor-a".to_owned())]
    );
    assert_eq!(parsed[0].principal, "configuration", "the file made the change");
    assert_eq!(parsed[3].indication.as_deref(), Some("TOTAL_PASSED"));
    assert_eq!(parsed[3].principal, "bank-a");
    assert_eq!(parsed[3].detail.get("verification_id"), Some(&verification_id));
    assert_eq!(parsed[7].principal, "auditor-a", "an auditor's read is an event of the tenant's log");
    let all: String = entries.iter().map(|(_, leaf)| leaf.as_str()).collect();
    assert!(!all.contains("CUST-0001"), "customer ids appear as digests only");
    assert!(all.contains(&jpki_audit::sha256_hex(b"CUST-0001")));

    // The checkpoint's root is the tree of the first eight leaves.
    let hashes = LogHashes::from_leaves(&entries.iter().map(|(_, leaf)| leaf.as_bytes()).collect::<Vec<_>>()).unwrap();
    assert_eq!(hashes.root(8).unwrap(), verified.root);

    // Inclusion of the login's event in the signed tree.
    let proof = client
        .get_inclusion_proof(authed(
            GetInclusionProofRequest { tenant: "bank-a".into(), index: 3, tree_size: 8 },
            KEY_AUDITOR_A,
        ))
        .await
        .unwrap()
        .into_inner();
    let path: Vec<Hash> = proof.hashes.iter().map(|hash| root(hash)).collect();
    verify_inclusion(&path, 8, verified.root, 3, proof.leaf.as_bytes()).unwrap();
    assert_eq!(proof.leaf, entries[3].1);

    // A later checkpoint is consistent with the first.
    let later = client
        .get_checkpoint(authed(GetCheckpointRequest { tenant: "bank-a".into() }, KEY_AUDITOR_A))
        .await
        .unwrap()
        .into_inner();
    let later_verified = verifier.verify(later.note.as_bytes(), &later.origin).unwrap();
    assert!(later.size > 8);
    let consistency = client
        .get_consistency_proof(authed(
            GetConsistencyProofRequest { tenant: "bank-a".into(), old_size: 8, new_size: later.size },
            KEY_AUDITOR_A,
        ))
        .await
        .unwrap()
        .into_inner();
    let path: Vec<Hash> = consistency.hashes.iter().map(|hash| root(hash)).collect();
    verify_consistency(&path, 8, verified.root, later.size, later_verified.root).unwrap();
    // A proof for a tree the log does not have yet is a bad request, not a panic.
    let beyond = client
        .get_consistency_proof(authed(
            GetConsistencyProofRequest { tenant: "bank-a".into(), old_size: 1, new_size: 1_000_000 },
            KEY_AUDITOR_A,
        ))
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), Code::InvalidArgument);

    // Tenant B's log holds B's calls only.
    let mut b_client = auditor(&running).await;
    let b_request = StreamEventsRequest { tenant: "bank-b".into(), from: 0, to: 0 };
    let mut stream = b_client.stream_events(authed(b_request, KEY_AUDITOR_B)).await.unwrap().into_inner();
    let mut b_events = Vec::new();
    while let Some(entry) = stream.message().await.unwrap() {
        b_events.push(AuditEvent::from_leaf(entry.leaf.as_bytes()).unwrap());
    }
    assert_eq!(b_events.len(), 5, "the start's bank-b and auditor-b, B's challenge, proof and its auditor's read");
    assert!(b_events.iter().all(|event| event.tenant == "bank-b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_tenants_auditors_read_its_log() {
    let running = start_audited().await;
    let mut client = auditor(&running).await;
    let ask = |tenant: &str, key: &str| authed(GetCheckpointRequest { tenant: tenant.into() }, key);
    // Auditor A may not read bank-b, nor a tenant that does not exist: the same answer.
    let other = client.get_checkpoint(ask("bank-b", KEY_AUDITOR_A)).await.unwrap_err();
    let missing = client.get_checkpoint(ask("bank-z", KEY_AUDITOR_A)).await.unwrap_err();
    assert_eq!(other.code(), Code::PermissionDenied);
    assert_eq!((missing.code(), missing.message()), (other.code(), other.message()));
    let streamed = client
        .stream_events(authed(StreamEventsRequest { tenant: "bank-b".into(), from: 0, to: 0 }, KEY_AUDITOR_A))
        .await
        .unwrap_err();
    assert_eq!(streamed.code(), Code::PermissionDenied);
    // A tenant and an operator are not auditors, and an unknown key is not anyone.
    for key in [KEY_A, KEY_OPS] {
        let refused = client.get_checkpoint(ask("bank-a", key)).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{key}");
    }
    let unknown = client.get_checkpoint(ask("bank-a", "no-such-key")).await.unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated);
    // Nothing refused reached bank-b's log: the start's two administrative events (bank-b and
    // auditor-b) and auditor B's own read are its only events.
    let checkpoint = client.get_checkpoint(ask("bank-b", KEY_AUDITOR_B)).await.unwrap().into_inner();
    assert_eq!(checkpoint.size, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_and_its_key_survive_a_restart() {
    let mut running = start_audited().await;
    let mut verification = running.verification().await;
    login(&mut verification, &running.pki, "h01", KEY_A, "tx-1").await;
    let mut client = auditor(&running).await;
    let ask = || authed(GetCheckpointRequest { tenant: "bank-a".into() }, KEY_AUDITOR_A);
    let before = client.get_checkpoint(ask()).await.unwrap().into_inner();
    drop((verification, client));
    running.gateway.take().unwrap().shutdown().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = config(running.dir.path(), &running.pki);
    config.auditors = vec![AuditorSettings {
        id: "auditor-a".into(),
        api_key: Some(KEY_AUDITOR_A.into()),
        tenants: vec!["bank-a".into()],
        ..AuditorSettings::default()
    }];
    config.audit.platform = "jpki-gateway.test".into();
    let address = listener.local_addr().unwrap();
    let gateway = jpki_gateway::Gateway::start(config, listener).await.unwrap();
    wait_serving(address).await;
    let mut client = AuditServiceClient::new(channel(address).await);
    let after = client.get_checkpoint(ask()).await.unwrap().into_inner();
    assert_eq!(after.verifier_keys, before.verifier_keys, "the same signing key after a restart");
    assert_eq!(after.size, before.size + 1);
    let consistency = client
        .get_consistency_proof(authed(
            GetConsistencyProofRequest { tenant: "bank-a".into(), old_size: before.size, new_size: after.size },
            KEY_AUDITOR_A,
        ))
        .await
        .unwrap()
        .into_inner();
    let path: Vec<Hash> = consistency.hashes.iter().map(|hash| root(hash)).collect();
    verify_consistency(&path, before.size, root(&before.root_hash), after.size, root(&after.root_hash)).unwrap();
    drop(client);
    gateway.shutdown().await.unwrap();
    // The drain published the log's checkpoint (as the interval does), durably, signed by the same
    // key, over the whole log.
    use jpki_store::TenantStore as _;
    let store = jpki_store::JournalStore::open(running.dir.path().join("data/store.journal")).unwrap();
    let bank = jpki_store::TenantId::new("bank-a").unwrap();
    let note = String::from_utf8(store.get_meta("audit/checkpoint/bank-a").unwrap().unwrap()).unwrap();
    let verified =
        CheckpointVerifier::new(&after.verifier_keys).unwrap().verify(note.as_bytes(), &after.origin).unwrap();
    assert_eq!(verified.size, store.audit_size(&bank).unwrap());
    // The drain also moved every event into the long-term archive (the single node's redb file),
    // so the store keeps none of them in memory any more; the archive keeps the checkpoints too.
    use jpki_archive::AuditArchive as _;
    let archive = jpki_archive::FileArchive::open(&running.dir.path().join("data/audit/archive.redb")).unwrap();
    assert_eq!(archive.integrated("bank-a").unwrap(), verified.size);
    assert_eq!(store.audit_floor(&bank).unwrap(), verified.size);
    let archived = archive.leaves("bank-a", 0, 1024).unwrap();
    let hashes: Vec<Hash> = archived.iter().map(|leaf| Hash(leaf.hash)).collect();
    let mut tree = LogHashes::new();
    for hash in hashes {
        tree.push_record_hash(hash).unwrap();
    }
    assert_eq!(tree.root(verified.size).unwrap(), verified.root, "the archive holds the signed tree");
    let latest = archive.latest_checkpoint("bank-a").unwrap().unwrap();
    assert_eq!(latest, (verified.size, note));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_calls_are_counted_into_one_event_per_interval() {
    let running = start_with(|config| {
        config.tenants.push(jpki_gateway::settings::TenantSettings {
            rpcs: Some(vec!["IssueChallenge".into()]),
            quota: Some(jpki_gateway::settings::QuotaSettings { requests_per_second: 1, burst: 1, max_concurrent: 8 }),
            ..jpki_gateway::settings::TenantSettings::with_key("bank-p", "key-bank-p")
        });
        config.auditors = vec![AuditorSettings {
            id: "auditor-p".into(),
            api_key: Some("key-auditor-p".into()),
            tenants: vec!["bank-p".into()],
            ..AuditorSettings::default()
        }];
        config.audit.refusal_interval_seconds = 1;
    })
    .await;
    let mut verification = running.verification().await;
    // A key of bank-p of the gateway's format (its key id public), minted before the quota runs out.
    let mut credentials =
        jpki_api::v1::credential_service_client::CredentialServiceClient::new(running.channel().await);
    let rotate = jpki_api::v1::RotateApiKeyRequest { overlap_seconds: 3600, ..Default::default() };
    let minted = credentials.rotate_api_key(authed(rotate, "key-bank-p")).await.unwrap().into_inner().api_key;
    let (prefix, secret) = minted.rsplit_once('_').unwrap();
    let forged = format!("{prefix}_{}", if secret.starts_with('0') { "1" } else { "0" }.repeat(secret.len()));
    // Outside the policy: PERMISSION_DENIED, five times.
    for _ in 0..5 {
        let request = cms_request(&running.pki, "h01", FORM, FORM);
        let refused = verification.verify_signature(authed(request, "key-bank-p")).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    // Over the quota (1 per second, burst 1): at least one RESOURCE_EXHAUSTED among six at once.
    let mut exhausted = 0;
    for _ in 0..6 {
        let request = jpki_api::v1::IssueChallengeRequest::default();
        if let Err(status) = verification.issue_challenge(authed(request, "key-bank-p")).await {
            assert_eq!(status.code(), Code::ResourceExhausted);
            exhausted += 1;
        }
    }
    assert!(exhausted >= 1);
    // A key of bank-p with a forged secret (its key id is public): UNAUTHENTICATED, three times,
    // counted in bank-p's log; a key that names nobody is counted in no tenant's log.
    for key in [forged.as_str(), forged.as_str(), forged.as_str(), "jpkigw_00000000000000ff_00"] {
        let request = jpki_api::v1::IssueChallengeRequest::default();
        let refused = verification.issue_challenge(authed(request, key)).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
    }
    // Within a few intervals, one aggregate event per code holds the counts (bounded polling).
    let mut client = auditor(&running).await;
    let mut aggregates = Vec::new();
    for _ in 0..100 {
        let request = StreamEventsRequest { tenant: "bank-p".into(), from: 0, to: 0 };
        let mut stream = client.stream_events(authed(request, "key-auditor-p")).await.unwrap().into_inner();
        aggregates.clear();
        while let Some(entry) = stream.message().await.unwrap() {
            let event = AuditEvent::from_leaf(entry.leaf.as_bytes()).unwrap();
            if event.detail.get("aggregate").map(String::as_str) == Some("refused") {
                aggregates.push((event.code.clone(), event.count.unwrap(), event.principal.clone()));
            }
        }
        let counted: u64 = aggregates.iter().filter(|(code, ..)| code == "RESOURCE_EXHAUSTED").map(|(_, n, _)| n).sum();
        let unauthenticated = aggregates.iter().any(|(code, ..)| code == "UNAUTHENTICATED");
        if aggregates.iter().any(|(code, ..)| code == "PERMISSION_DENIED") && counted == exhausted && unauthenticated {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let denied: Vec<_> = aggregates.iter().filter(|(code, ..)| code == "PERMISSION_DENIED").collect();
    assert_eq!(denied.len(), 1, "one event for the five refusals: {aggregates:?}");
    assert_eq!(denied[0].1, 5);
    assert_eq!(denied[0].2, "bank-p");
    let counted: u64 = aggregates.iter().filter(|(code, ..)| code == "RESOURCE_EXHAUSTED").map(|(_, n, _)| n).sum();
    assert_eq!(counted, exhausted);
    let forged: Vec<_> = aggregates.iter().filter(|(code, ..)| code == "UNAUTHENTICATED").collect();
    assert_eq!(forged.len(), 1, "{aggregates:?}");
    assert_eq!((forged[0].1, forged[0].2.as_str()), (3, "bank-p"), "the forged key's three refusals, none other");
}

/// A plain HTTP/1.1 GET: the status code and the body.
async fn http_get(address: std::net::SocketAddr, path: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: tiles\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|window| window == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response[split + 4..].to_vec())
}

/// The external-client venv's aics-tlog; `None`, with a message, when the venv is absent, which
/// fails under `CI=true`.
fn aics_tlog() -> Option<std::path::PathBuf> {
    jpki_testsupport::external::venv("the aics-tlog part of the tile test").map(|venv| venv.join("bin/aics-tlog"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_and_hash_tiles_are_served_over_http_for_standard_tools() {
    let running = start_with(|config| {
        config.audit.platform = "jpki-gateway.test".into();
        config.audit.tiles_listen = Some("127.0.0.1:0".parse().unwrap());
        config.auditors = vec![AuditorSettings {
            id: "auditor-http".into(),
            api_key: Some("key-auditor-http".into()),
            tenants: vec!["bank-a".into()],
            ..AuditorSettings::default()
        }];
    })
    .await;
    let tiles = running.gateway.as_ref().unwrap().tiles_addr().unwrap();
    let mut verification = running.verification().await;
    for i in 0..3 {
        login(&mut verification, &running.pki, "h01", KEY_A, &format!("tx-{i}")).await;
    }
    let (status, note) = http_get(tiles, "/bank-a/checkpoint").await;
    assert_eq!(status, 200);
    let note = String::from_utf8(note).unwrap();
    // The configuration's two principals concerning bank-a (itself, its auditor), then the logins.
    assert!(note.starts_with("jpki-gateway.test/tenant/bank-a\n8\n"), "{note}");
    // A public read writes nothing: the log is still eight events long.
    let (_, again) = http_get(tiles, "/bank-a/checkpoint").await;
    assert!(String::from_utf8(again).unwrap().starts_with("jpki-gateway.test/tenant/bank-a\n8\n"));
    let (status, tile) = http_get(tiles, "/bank-a/tile/0/000.p/8").await;
    assert_eq!((status, tile.len()), (200, 8 * 32));
    // Events only to auditors; no log for a tenant that does not exist; no tile beyond the tree.
    assert_eq!(http_get(tiles, "/bank-a/tile/entries/000.p/6").await.0, 404);
    assert_eq!(http_get(tiles, "/bank-z/checkpoint").await.0, 404);
    assert_eq!(http_get(tiles, "/bank-a/tile/0/000").await.0, 404);
    assert_eq!(http_get(tiles, "/bank-a/tile/0/000.p/0").await.0, 404);

    // A standard tool reads the live log: aics-tlog verifies the checkpoint, its root recomputed
    // from the hash tiles it fetches over HTTP.
    let Some(aics) = aics_tlog() else { return };
    // The key comes from the authenticated API, not from the server being verified over HTTP.
    let mut client = auditor(&running).await;
    let published = client
        .get_checkpoint(authed(GetCheckpointRequest { tenant: "bank-a".into() }, "key-auditor-http"))
        .await
        .unwrap()
        .into_inner()
        .verifier_keys;
    let log_key = published[0].clone();
    let output = std::process::Command::new(aics)
        .args(["verify-checkpoint", "--tiles", &format!("http://{tiles}/bank-a/"), "--log-key", &log_key])
        .args(["--origin", "jpki-gateway.test/tenant/bank-a"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("\"ok\": true"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lists_an_answer_rested_on_are_archived_under_the_digest_its_event_names() {
    // Lists refreshed over HTTP from the CA simulator (the refresher archives before installing).
    let running = start_with_casim(|config| {
        config.auditors = vec![AuditorSettings {
            id: "auditor-a".into(),
            api_key: Some(KEY_AUDITOR_A.into()),
            tenants: vec!["bank-a".into()],
            ..AuditorSettings::default()
        }];
    })
    .await;
    // Health turns SERVING once every list is installed (and archived).
    wait_serving(running.address).await;
    let mut verification = running.verification().await;
    let passed = login(&mut verification, &running.pki, "h01", KEY_A, "tx-1").await.result.unwrap();
    assert_eq!(passed.indication(), jpki_api::v1::Indication::TotalPassed, "{passed:?}");
    let mut client = auditor(&running).await;
    let entries = events(&mut client, "bank-a", 0, 0).await;
    let proof = entries
        .iter()
        .map(|(_, leaf)| AuditEvent::from_leaf(leaf.as_bytes()).unwrap())
        .find(|event| event.rpc.ends_with("/VerifyAuthProof"))
        .unwrap();
    assert!(!proof.revocation.is_empty(), "{proof:?}");
    for list in &proof.revocation {
        let path = running.dir.path().join("data/evidence/lists").join(format!("{}.crl", list.sha256));
        let der = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let parsed = jpki_revocation::parse_crl(&der, |_| Ok(())).unwrap();
        assert_eq!(hex::encode(parsed.tbs_digest), list.sha256, "the archived list is the one named");
        assert_eq!(Some(parsed.crl_number.to_string()), list.number);
    }

    // The auditor gets the evidence of that answer: the certificate the proof passed on, each list
    // it names, and the anchors the gateway trusted.
    let (index, _) = entries
        .iter()
        .find(|(_, leaf)| AuditEvent::from_leaf(leaf.as_bytes()).unwrap().rpc.ends_with("/VerifyAuthProof"))
        .unwrap();
    let evidence = client
        .get_evidence(authed(GetEvidenceRequest { tenant: "bank-a".into(), index: *index }, KEY_AUDITOR_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(evidence.certificate, running.pki.card("h01").unwrap().auth_cert_der());
    assert_eq!(evidence.lists.len(), proof.revocation.len());
    for (list, named) in evidence.lists.iter().zip(&proof.revocation) {
        assert_eq!(hex::encode(&list.tbs_sha256), named.sha256);
        let parsed = jpki_revocation::parse_crl(&list.der, |_| Ok(())).unwrap();
        assert_eq!(hex::encode(parsed.tbs_digest), named.sha256, "the list served is the one named");
    }
    assert!(!evidence.anchors.is_empty());
    // A tenant is no auditor: it gets nothing, not even whether the event exists.
    let denied = client
        .get_evidence(authed(GetEvidenceRequest { tenant: "bank-a".into(), index: *index }, KEY_A))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}
