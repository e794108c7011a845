//! What only `RedisStore` has: its key layout, Redis expiry, the durability check at connect,
//! timeouts against a dead or frozen server, reconnection after a restart, and error messages that
//! quote no stored value. The `TenantStore` contract itself is tested on both stores by
//! `tests/behaviour.rs` and `tests/model.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jpki_core::CertId;
use jpki_store::{
    AuditLeaves, Audited, CHALLENGE_PURGE_GRACE_SECS, Challenge, ConsumeOutcome, DEFAULT_PREFIX, DurabilityCheck,
    LinkRecord, Outcome, RedisStore, RedisStoreConfig, RevocationNotice, StatusChange, StoreError, TenantId,
    TenantStore, TenantWrite, VerificationKind, VerificationRecord, WatchRequest, WriteAnswer,
};
use sha2::{Digest, Sha256};
use support::{DURABLE, RedisServer, free_port};

fn start(settings: &[&str]) -> Option<(tempfile::TempDir, RedisServer)> {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path(), settings)?;
    Some((dir, server))
}

fn wall_clock() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn challenge(issued_at: i64, expires_at: i64) -> Challenge {
    Challenge { challenge: vec![9; 8], transaction_reference: "tx-secret-ref".into(), issued_at, expires_at }
}

fn verification(id: &str, verified_at: i64) -> VerificationRecord {
    VerificationRecord {
        id: id.into(),
        kind: VerificationKind::Signature,
        passed: true,
        certificate: None,
        not_after: None,
        verified_at,
        transaction_reference: "tx".into(),
        purpose: "login".into(),
    }
}

fn quick(url: &str) -> RedisStoreConfig {
    let mut config = RedisStoreConfig::new(url);
    config.connect_timeout = Duration::from_millis(300);
    config.response_timeout = Duration::from_millis(300);
    config
}

fn ttl(conn: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(conn).unwrap()
}

#[test]
fn keys_follow_the_documented_layout() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    let store = RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap();
    assert_eq!(store.prefix(), "jpki:");
    let a = tenant("bank-a");
    let cert = CertId { ca_key_id: "ab01".into(), serial: "0f".into() };
    store.put_challenge(&a, "c:1", challenge(100, 400)).unwrap();
    store.put_verification(&a, verification("v1", 100)).unwrap();
    let passed = VerificationRecord { certificate: Some(cert.clone()), ..verification("v2", 120) };
    store.put_verification(&a, passed).unwrap();
    store
        .link(
            &a,
            LinkRecord { customer_id: "cust:7".into(), certificate: cert.clone(), not_after: 900, linked_at: 100 },
        )
        .unwrap();
    store.watch(&a, &cert, 900, "auth_card").unwrap();
    let notice = RevocationNotice {
        certificate: cert.clone(),
        change: StatusChange::Revoked,
        revoked_at: 150,
        reason: None,
        crl_number: Some("7".into()),
        customer_id: Some("cust:7".into()),
        kind: "auth_card".into(),
    };
    store.append_events(vec![(a.clone(), notice)]).unwrap();
    store.put_meta("crl/auth", b"12").unwrap();

    let mut conn = support::raw(&server);
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    keys.sort();
    let types: BTreeMap<String, String> =
        keys.iter().map(|k| (k.clone(), redis::cmd("TYPE").arg(k).query::<String>(&mut conn).unwrap())).collect();
    let expected: BTreeMap<String, String> = [
        ("jpki:#idx:challenges", "zset"),
        ("jpki:#idx:entitlements", "zset"),
        ("jpki:#idx:verifications", "zset"),
        ("jpki:#idx:watches", "zset"),
        ("jpki:#meta:crl/auth", "string"),
        ("jpki:#schema", "string"),
        ("jpki:#watchers:ab01:0f", "hash"),
        ("jpki:bank-a:ch:c:1", "hash"),
        ("jpki:bank-a:cust:cust:7", "set"),
        ("jpki:bank-a:ev", "hash"),
        ("jpki:bank-a:ent", "hash"),
        ("jpki:bank-a:ev_status", "hash"),
        ("jpki:bank-a:ev_head", "string"),
        ("jpki:bank-a:link:ab01:0f", "string"),
        ("jpki:bank-a:ver:v1", "hash"),
        ("jpki:bank-a:ver:v2", "hash"),
        ("jpki:bank-a:watch", "hash"),
    ]
    .into_iter()
    .map(|(k, t)| (k.to_owned(), t.to_owned()))
    .collect();
    assert_eq!(types, expected);

    let slot: BTreeMap<String, String> = redis::cmd("HGETALL").arg("jpki:bank-a:ch:c:1").query(&mut conn).unwrap();
    assert_eq!(slot["state"], "pending");
    assert_eq!(slot["expires_at"], "400");
    assert_eq!(serde_json::from_str::<Challenge>(&slot["challenge"]).unwrap(), challenge(100, 400));
    let members: Vec<String> =
        redis::cmd("ZRANGE").arg("jpki:#idx:challenges").arg(0).arg(-1).query(&mut conn).unwrap();
    assert_eq!(members, vec!["10000000000000000400:bank-a:c:1".to_string()]);
    let watch: BTreeMap<String, String> = redis::cmd("HGETALL").arg("jpki:bank-a:watch").query(&mut conn).unwrap();
    assert_eq!(watch["ab01:0f"], "10000000000000000900");
    let watchers: BTreeMap<String, String> =
        redis::cmd("HGETALL").arg("jpki:#watchers:ab01:0f").query(&mut conn).unwrap();
    assert_eq!(watchers["bank-a"], "auth_card");
    let members: Vec<String> = redis::cmd("ZRANGE").arg("jpki:#idx:watches").arg(0).arg(-1).query(&mut conn).unwrap();
    assert_eq!(members, vec!["10000000000000000900:bank-a:ab01:0f".to_string()]);
    let head: String = redis::cmd("GET").arg("jpki:bank-a:ev_head").query(&mut conn).unwrap();
    assert_eq!(head, "1");
    // The certificate's status: sequence, change, cRLNumber, reason ('-': none).
    let status: String = redis::cmd("HGET").arg("jpki:bank-a:ev_status").arg("ab01:0f").query(&mut conn).unwrap();
    assert_eq!(status, "1 revoked 7 -");
    let entitled: BTreeMap<String, String> = redis::cmd("HGETALL").arg("jpki:bank-a:ent").query(&mut conn).unwrap();
    assert_eq!(entitled["ab01:0f"], "10000000000000000120");
    let members: Vec<String> =
        redis::cmd("ZRANGE").arg("jpki:#idx:entitlements").arg(0).arg(-1).query(&mut conn).unwrap();
    assert_eq!(members, vec!["10000000000000000120:bank-a:ab01:0f".to_string()]);
    let link: String = redis::cmd("GET").arg("jpki:bank-a:link:ab01:0f").query(&mut conn).unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&link).unwrap()["customer_id"], "cust:7");

    // Consuming keeps the slot as a used marker without the challenge bytes.
    store.consume_challenge(&a, "c:1", 200).unwrap();
    let slot: BTreeMap<String, String> = redis::cmd("HGETALL").arg("jpki:bank-a:ch:c:1").query(&mut conn).unwrap();
    let fields: Vec<&str> = slot.keys().map(String::as_str).collect();
    assert_eq!(fields, ["expires_at", "state", "used_at"]);
    assert_eq!((slot["state"].as_str(), slot["used_at"].as_str()), ("used", "200"));
}

/// `record_verification` is one script: the server counts one `EVALSHA` and no other write for
/// the record, its entitlement and the watch entry together (Redis runs a script without
/// interleaving other clients' commands, and the AOF holds its effects in one `MULTI`/`EXEC`, so
/// a crash replays all three or none). `tests/behaviour.rs` shows that a refused call stores none.
#[test]
fn record_verification_is_one_script() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    let store = RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap();
    let a = tenant("bank-a");
    let cert = CertId { ca_key_id: "ab01".into(), serial: "0f".into() };
    let mut conn = support::raw(&server);
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut conn).unwrap();
    let record = VerificationRecord { certificate: Some(cert.clone()), ..verification("v1", 100) };
    let watch = WatchRequest { certificate: cert.clone(), not_after: 900, kind: "auth_card".into() };
    store.record_verification(&a, record, Some(watch)).unwrap();
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut conn).unwrap();
    let calls = |command: &str| -> u64 {
        stats
            .lines()
            .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
            .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
    };
    assert_eq!(calls("evalsha"), 1, "{stats}");
    assert_eq!(calls("eval"), 0, "{stats}");
    // Inside it: the record, the two indexes and the watch entry.
    assert_eq!(calls("hset"), 4, "{stats}"); // record, entitlement, watch, watchers
    assert_eq!(calls("zadd"), 3, "{stats}"); // verification, entitlement and watch indexes
    let keys: Vec<String> = redis::cmd("KEYS").arg("jpki:bank-a:*").query(&mut conn).unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}"); // ver:v1, ent, watch
}

/// An audited write is one script too: the write and its leaf (`{T}:audit`, index → leaf, and
/// `{T}:audit_size`) in one `EVALSHA`. Also what the behaviour tests do not reach: an expired
/// challenge's leaf, and a stored value the script cannot read (no leaf, the plain method's error).
#[test]
fn audited_writes_are_one_script_with_the_documented_keys() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    let store = RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap();
    let a = tenant("bank-a");
    let mut conn = support::raw(&server);
    store.put_challenge(&a, "c1", challenge(100, 400)).unwrap();
    let leaves = [Outcome::Consumed, Outcome::Expired, Outcome::AlreadyUsed, Outcome::Unknown]
        .into_iter()
        .fold(AuditLeaves::default(), |leaves, outcome| leaves.with(outcome, format!("leaf-{}", outcome.as_str())));
    let settle = TenantWrite::SettleProof { id: "c1".into(), now: 400, verified: verification("v1", 400), watch: None };
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut conn).unwrap();
    let audited = store.write_audited(&a, settle, leaves.clone()).unwrap();
    assert_eq!(
        audited,
        Audited { answer: WriteAnswer::Consumed(ConsumeOutcome::Expired(challenge(100, 400))), index: 0 }
    );
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut conn).unwrap();
    assert!(stats.contains("cmdstat_evalsha:calls=1,"), "{stats}");
    assert!(!stats.contains("cmdstat_eval:"), "{stats}");
    // An expired challenge keeps its attempt refused, as settle_proof does.
    assert!(!store.get_verification(&a, "v1").unwrap().unwrap().passed);
    let log: BTreeMap<String, String> = redis::cmd("HGETALL").arg("jpki:bank-a:audit").query(&mut conn).unwrap();
    assert_eq!(log, BTreeMap::from([("0".to_owned(), "leaf-expired".to_owned())]));
    let size: String = redis::cmd("GET").arg("jpki:bank-a:audit_size").query(&mut conn).unwrap();
    assert_eq!(size, "1");

    // A duplicate record id: settle_proof's error, nothing consumed, no leaf.
    store.put_challenge(&a, "c2", challenge(100, 400)).unwrap();
    let again = TenantWrite::SettleProof { id: "c2".into(), now: 200, verified: verification("v1", 200), watch: None };
    let err = store.write_audited(&a, again, leaves).unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { what: "verification" }), "{err}");
    assert!(matches!(store.peek_challenge(&a, "c2", 200).unwrap(), ConsumeOutcome::Consumed(_)));
    // A stored link that does not decode: link's error, no leaf.
    let cert = CertId { ca_key_id: "ab01".into(), serial: "0f".into() };
    let _: () = redis::cmd("SET").arg("jpki:bank-a:link:ab01:0f").arg("not json").query(&mut conn).unwrap();
    let record = LinkRecord { customer_id: "cust-1".into(), certificate: cert, not_after: 900, linked_at: 100 };
    let link_leaves = [Outcome::Created, Outcome::AlreadyLinked, Outcome::LinkedToOther]
        .into_iter()
        .fold(AuditLeaves::default(), |leaves, outcome| leaves.with(outcome, "leaf".into()));
    let err = store.write_audited(&a, TenantWrite::Link { record }, link_leaves).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { what: "link", .. }), "{err}");
    assert_eq!(store.audit_size(&a).unwrap(), 1);
    assert_eq!(store.audit_leaves(&a, 0, 10).unwrap(), ["leaf-expired"]);
}

#[test]
fn audit_trim_and_evidence_use_the_documented_keys_and_audit_tenants_its_prefix() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    let mut conn = support::raw(&server);
    // A prefix with glob characters, and another store on the same server.
    let store = RedisStore::connect(&server.url(), "j*[p]?:").unwrap();
    let other = RedisStore::connect(&server.url(), "j:").unwrap();
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    let der = vec![0x30, 0x82, 0x01];
    let key: [u8; 32] = Sha256::digest(&der).into();
    for i in 0..3 {
        let leaves = AuditLeaves::one(format!("leaf-{i}"));
        let leaves = if i == 1 { leaves.with_evidence(key, der.clone()) } else { leaves };
        store.write_audited(&a, TenantWrite::Nothing, leaves).unwrap();
    }
    other.write_audited(&b, TenantWrite::Nothing, AuditLeaves::one("x".into())).unwrap();
    // An item id ending in `:audit_size` is no tenant.
    store.put_challenge(&a, "x:audit_size", challenge(100, 400)).unwrap();
    let evidence: BTreeMap<String, Vec<u8>> =
        redis::cmd("HGETALL").arg("j*[p]?:bank-a:evidence").query(&mut conn).unwrap();
    assert_eq!(evidence, BTreeMap::from([(hex::encode(key), der.clone())]));
    store.audit_trim(&a, 2).unwrap();
    let floor: String = redis::cmd("GET").arg("j*[p]?:bank-a:audit_floor").query(&mut conn).unwrap();
    assert_eq!(floor, "2");
    let log: BTreeMap<String, String> = redis::cmd("HGETALL").arg("j*[p]?:bank-a:audit").query(&mut conn).unwrap();
    assert_eq!(log, BTreeMap::from([("2".to_owned(), "leaf-2".to_owned())]));
    assert_eq!(store.audit_tenants().unwrap(), vec![a.clone()]);
    assert_eq!(other.audit_tenants().unwrap(), [b]);
    store.audit_evidence_drop(&a, &[key]).unwrap();
    let left: i64 = redis::cmd("EXISTS").arg("j*[p]?:bank-a:evidence").query(&mut conn).unwrap();
    assert_eq!(left, 0);
}

#[test]
fn prefixes_isolate_stores_on_one_server() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    let one = RedisStore::connect(&server.url(), "one:").unwrap();
    let two = RedisStore::connect(&server.url(), "two:").unwrap();
    let a = tenant("bank-a");
    one.put_challenge(&a, "c1", challenge(100, 400)).unwrap();
    two.put_challenge(&a, "c1", challenge(100, 400)).unwrap();
    // A purge sweeps its own prefix only.
    assert_eq!(one.purge_expired(400 + CHALLENGE_PURGE_GRACE_SECS + 1, 0).unwrap(), 1);
    assert_eq!(one.consume_challenge(&a, "c1", 200).unwrap(), ConsumeOutcome::Unknown);
    assert!(matches!(two.consume_challenge(&a, "c1", 200).unwrap(), ConsumeOutcome::Consumed(_)));
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut support::raw(&server)).unwrap();
    assert!(keys.iter().all(|k| k.starts_with("one:") || k.starts_with("two:")), "{keys:?}");
}

#[test]
fn challenges_and_configured_verifications_carry_a_redis_expiry() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    let mut config = RedisStoreConfig::new(server.url());
    config.verification_retention_secs = Some(3600);
    let store = RedisStore::connect_with(config).unwrap();
    let plain = RedisStore::connect(&server.url(), "plain:").unwrap();
    let a = tenant("bank-a");
    let now = wall_clock();
    let mut conn = support::raw(&server);

    // expires_at + grace + 1, by the server's clock (same machine: within a second or two).
    store.put_challenge(&a, "live", challenge(now, now + 300)).unwrap();
    let left = ttl(&mut conn, "jpki:bank-a:ch:live");
    assert!((300 + CHALLENGE_PURGE_GRACE_SECS - 2..=300 + CHALLENGE_PURGE_GRACE_SECS + 1).contains(&left), "{left}");
    // Consuming keeps it: the used marker lives as long as the challenge would have.
    store.consume_challenge(&a, "live", now + 1).unwrap();
    assert!(ttl(&mut conn, "jpki:bank-a:ch:live") > 300);
    // A deadline already past leaves the item to purge_expired (TTL -1: no expiry), as LocalStore.
    store.put_challenge(&a, "old", challenge(now - 5000, now - 4000)).unwrap();
    assert_eq!(ttl(&mut conn, "jpki:bank-a:ch:old"), -1);
    assert!(matches!(store.consume_challenge(&a, "old", now).unwrap(), ConsumeOutcome::Expired(_)));

    store.put_verification(&a, verification("v1", now)).unwrap();
    let left = ttl(&mut conn, "jpki:bank-a:ver:v1");
    assert!((3600 - 2..=3601).contains(&left), "{left}");
    plain.put_verification(&a, verification("v1", now)).unwrap();
    assert_eq!(ttl(&mut conn, "plain:bank-a:ver:v1"), -1, "no retention configured: no expiry");

    // Redis drops a challenge by itself at expires_at + grace + 1; purge then only counts the
    // index entry, and a new challenge under the same id is not hurt by the old entry.
    let expires_at = now - CHALLENGE_PURGE_GRACE_SECS;
    store.put_challenge(&a, "soon", challenge(expires_at - 60, expires_at)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis::cmd("EXISTS").arg("jpki:bank-a:ch:soon").query::<bool>(&mut conn).unwrap() {
        assert!(Instant::now() < deadline, "redis did not expire the challenge");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(store.consume_challenge(&a, "soon", now).unwrap(), ConsumeOutcome::Unknown);
    store.put_challenge(&a, "soon", challenge(now, now + 10_000)).unwrap();
    // Two entries: "old" (with its item) and the index entry of the expired "soon".
    assert_eq!(store.purge_expired(expires_at + CHALLENGE_PURGE_GRACE_SECS + 1, 1_000_000_000).unwrap(), 2);
    assert_eq!(store.consume_challenge(&a, "old", now).unwrap(), ConsumeOutcome::Unknown);
    assert!(matches!(store.consume_challenge(&a, "soon", now).unwrap(), ConsumeOutcome::Consumed(_)));
}

#[test]
fn connect_requires_durable_settings_unless_told_otherwise() {
    let Some((_dir, server)) = start(&["--appendonly", "yes", "--appendfsync", "everysec"]) else { return };
    let err = RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap_err();
    let StoreError::NotDurable { detail } = &err else { panic!("{err:?}") };
    assert!(detail.contains("appendfsync is \"everysec\", need \"always\""), "{detail}");

    let mut config = RedisStoreConfig::new(server.url());
    config.durability_check = DurabilityCheck::ReportOnly;
    let store = RedisStore::connect_with(config).unwrap();
    assert_eq!(store.durability().appendfsync.as_deref(), Some("everysec"));
    assert!(!store.durability().is_durable());
    assert_eq!(store.durability().problems().len(), 1, "{:?}", store.durability());

    // Settings can change after connect; check_durability reads them again.
    let mut conn = support::raw(&server);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("appendfsync").arg("always").query(&mut conn).unwrap();
    assert!(store.check_durability().unwrap().is_durable());
    RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("maxmemory-policy").arg("allkeys-lru").query(&mut conn).unwrap();
    let report = store.check_durability().unwrap();
    assert_eq!(report.problems(), vec!["maxmemory-policy is \"allkeys-lru\", need \"noeviction\"".to_string()]);

    // Redis' own default: no AOF at all.
    let Some((_dir2, plain)) = start(&[]) else { return };
    let err = RedisStore::connect(&plain.url(), DEFAULT_PREFIX).unwrap_err();
    assert!(matches!(&err, StoreError::NotDurable { detail } if detail.contains("appendonly is \"no\"")), "{err}");
}

#[test]
fn unreadable_settings_are_refused_unless_told_otherwise() {
    let Some((_dir, server)) =
        start(&["--appendonly", "yes", "--appendfsync", "always", "--rename-command", "CONFIG", ""])
    else {
        return;
    };
    let err = RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap_err();
    assert!(
        matches!(&err, StoreError::NotDurable { detail } if detail.contains("appendfsync could not be read")),
        "{err}"
    );
    let mut config = RedisStoreConfig::new(server.url());
    config.durability_check = DurabilityCheck::ReportOnly;
    let store = RedisStore::connect_with(config).unwrap();
    assert_eq!(store.durability().appendfsync, None);
    store.put_meta("k", b"v").unwrap();
}

#[test]
fn a_dead_server_fails_fast() {
    // Nothing listens.
    let url = format!("redis://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let err = RedisStore::connect_with(quick(&url)).unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("connection refused")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));

    // Accepts TCP but never answers: the connect timeout covers the handshake.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let started = Instant::now();
    let err = RedisStore::connect_with(quick(&url)).unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("timed out")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    drop(listener);

    // A URL that does not parse is not echoed (it may hold a password).
    let err = RedisStore::connect("redis://user:hunter2@[bad", DEFAULT_PREFIX).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn a_frozen_server_times_out_and_the_store_recovers() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    let store = RedisStore::connect_with(quick(&server.url())).unwrap();
    let a = tenant("bank-a");
    store.put_meta("k", b"v").unwrap();
    server.signal("STOP");
    let started = Instant::now();
    let err = store.get_meta("k").unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("timed out")), "{err}");
    let err = store.put_challenge(&a, "c1", challenge(1, 2)).unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    server.signal("CONT");
    // The timed-out connections were dropped; fresh ones work. (The put may have been applied
    // once the server resumed: a timeout does not say either way.)
    assert_eq!(store.get_meta("k").unwrap(), Some(b"v".to_vec()));
    store.put_challenge(&a, "c2", challenge(1, 2)).unwrap();
}

#[test]
fn the_store_reconnects_after_a_server_restart() {
    let Some((_dir, mut server)) = start(DURABLE) else { return };
    let store = RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap();
    let a = tenant("bank-a");
    store.put_challenge(&a, "c1", challenge(1, 2)).unwrap();
    let port = server.port;
    let restart = |server: &mut RedisServer| {
        server.kill_9();
        server.restart();
        assert_eq!(server.port, port, "port was taken meanwhile");
    };

    // While the server is down, calls fail (quickly: connection refused).
    server.kill_9();
    let err = store.get_meta("k").unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err}");
    server.restart();
    assert_eq!(store.get_meta("k").unwrap(), None);

    // A read on a pooled connection to the dead server is retried once on a fresh connection.
    restart(&mut server);
    assert_eq!(store.get_meta("k").unwrap(), None);

    // A write is never retried by the store (it could have been applied): it fails once, and the
    // next call gets a fresh connection. The restarted server has an empty script cache: EVALSHA
    // falls back to loading the script.
    restart(&mut server);
    let err = store.consume_challenge(&a, "c1", 1).unwrap_err();
    assert!(matches!(&err, StoreError::Backend(m) if m.contains("connection lost")), "{err}");
    assert!(matches!(store.consume_challenge(&a, "c1", 1).unwrap(), ConsumeOutcome::Consumed(_)));
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut support::raw(&server)).unwrap();
    assert_eq!(store.consume_challenge(&a, "c1", 1).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: 1 });

    // A pooled connection idle past idle_check_after is checked with PING first: the same restart
    // then costs the write nothing.
    let mut config = RedisStoreConfig::new(server.url());
    config.idle_check_after = Duration::ZERO;
    let checked = RedisStore::connect_with(config).unwrap();
    checked.put_meta("k", b"1").unwrap();
    restart(&mut server);
    assert_eq!(checked.consume_challenge(&a, "c1", 1).unwrap(), ConsumeOutcome::AlreadyUsed { used_at: 1 });
}

#[test]
fn errors_name_the_operation_not_the_data() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    let store = RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap();
    let a = tenant("bank-a");
    // A key of the wrong type where the store expects its hash.
    let _: () =
        redis::cmd("SET").arg("jpki:bank-a:ch:secret-id-42").arg("x").query(&mut support::raw(&server)).unwrap();
    let err = store.consume_challenge(&a, "secret-id-42", 1).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::Backend(_)), "{text}");
    assert!(text.contains("consume_challenge") && text.contains("WRONGTYPE"), "{text}");
    assert!(!text.contains("secret-id-42") && !text.contains("jpki:"), "{text}");
    let _: () =
        redis::cmd("SET").arg("jpki:bank-a:cust:customer-secret").arg("x").query(&mut support::raw(&server)).unwrap();
    let text = store.links_by_customer(&a, "customer-secret").unwrap_err().to_string();
    assert!(!text.contains("customer-secret"), "{text}");
    // The store still works afterwards.
    store.put_meta("k", b"v").unwrap();
}

#[test]
fn a_newer_layout_is_refused() {
    let Some((_dir, server)) = start(DURABLE) else { return };
    RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap();
    let _: () = redis::cmd("SET").arg("jpki:#schema").arg("3").query(&mut support::raw(&server)).unwrap();
    let err = RedisStore::connect(&server.url(), DEFAULT_PREFIX).unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedSchema { found: 3, supported: 2 }), "{err}");
    // Another prefix is another layout.
    RedisStore::connect(&server.url(), "other:").unwrap();
}

#[test]
fn purge_works_through_many_batches() {
    // About batching, not durability: no fsync per write, so that 1800 writes stay quick.
    let Some((_dir, server)) = start(&["--appendonly", "no"]) else { return };
    let mut config = RedisStoreConfig::new(server.url());
    config.durability_check = DurabilityCheck::ReportOnly;
    let store = RedisStore::connect_with(config).unwrap();
    let a = tenant("bank-a");
    // More than one purge batch (500) of each kind.
    for i in 0..1200 {
        store.put_challenge(&a, &format!("c{i}"), challenge(100, 200 + i)).unwrap();
    }
    for i in 0..600 {
        store.watch(&a, &CertId { ca_key_id: "ab".into(), serial: format!("{i:x}") }, 100 + i, "auth_card").unwrap();
    }
    let now = 200 + 1200 + CHALLENGE_PURGE_GRACE_SECS + 1_000_000;
    assert_eq!(store.purge_expired(now, 0).unwrap(), 1800);
    assert!(store.watched(&a).unwrap().is_empty());
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut support::raw(&server)).unwrap();
    assert_eq!(keys, vec!["jpki:#schema".to_string()]);
}
