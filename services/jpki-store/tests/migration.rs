//! A store written by the previous schema (1: one revocation event per tenant and certificate, no
//! entitlement index) opens, is migrated in place to schema 2, and reads correctly; the migrated
//! event statuses take new changes of status. `LocalStore`: the committed fixture
//! `tests/fixtures/store-v1.redb.gz`, written by the schema-1 code (`tests/fixtures/make-v1-store.sh`).
//! `RedisStore`: the same items written with raw commands in the schema-1 key layout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use jpki_core::CertId;
use jpki_store::{
    Challenge, ConsumeOutcome, LinkRecord, LocalStore, RedisStore, RevocationNotice, StatusChange, StoreError,
    TenantId, TenantStore, VerificationKind, VerificationRecord,
};
use redb::{ReadableTableMetadata, TableDefinition};
use support::{DURABLE, RedisServer};

/// The fixture's time base (`make_v1_store.rs`).
const T: i64 = 1_780_272_000;

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn cert(serial: &str) -> CertId {
    CertId { ca_key_id: "ab01".into(), serial: serial.into() }
}

fn challenge(n: u8) -> Challenge {
    Challenge { challenge: vec![n; 32], transaction_reference: format!("tx-c{n}"), issued_at: T, expires_at: T + 300 }
}

fn record(id: &str, passed: bool, serial: Option<&str>, verified_at: i64) -> VerificationRecord {
    VerificationRecord {
        id: id.into(),
        kind: VerificationKind::Authentication,
        passed,
        certificate: serial.map(cert),
        not_after: serial.map(|_| T + 1_000_000),
        verified_at,
        transaction_reference: format!("tx-{id}"),
        purpose: String::new(),
    }
}

fn link(customer: &str, serial: &str) -> LinkRecord {
    LinkRecord { customer_id: customer.into(), certificate: cert(serial), not_after: T + 1_000_000, linked_at: T }
}

/// The schema-1 events: stored without `change`, so they read as revocations.
fn old_notice(serial: &str, reason: Option<&str>, crl: &str, customer: Option<&str>) -> RevocationNotice {
    RevocationNotice {
        certificate: cert(serial),
        change: StatusChange::Revoked,
        revoked_at: T + 500,
        reason: reason.map(Into::into),
        crl_number: Some(crl.into()),
        customer_id: customer.map(Into::into),
        kind: "auth_card".into(),
    }
}

fn verifications() -> Vec<(&'static str, VerificationRecord)> {
    vec![
        ("bank-a", record("v-0a-old", true, Some("0a"), T - 50)),
        ("bank-a", record("v-0a", true, Some("0a"), T)),
        ("bank-a", record("v-0b-failed", false, Some("0b"), T)),
        ("bank-a", record("v-0c-old", true, Some("0c"), T - 100_000)),
        ("bank-a", record("v-nocert", true, None, T)),
        ("bank-b", record("v-0d", true, Some("0d"), T)),
    ]
}

/// Everything the schema-1 writer stored reads back; the entitlement index was built from the
/// records; the migrated statuses take a hold and a revocation of an old event's certificate.
fn check_migrated(store: &dyn TenantStore) {
    let (a, b) = (tenant("bank-a"), tenant("bank-b"));
    assert_eq!(
        store.consume_challenge(&a, "ch-used", T + 20).unwrap(),
        ConsumeOutcome::AlreadyUsed { used_at: T + 10 }
    );
    assert_eq!(store.consume_challenge(&a, "ch-pending", T + 20).unwrap(), ConsumeOutcome::Consumed(challenge(1)));
    assert_eq!(store.consume_challenge(&b, "ch-pending", T + 20).unwrap(), ConsumeOutcome::Consumed(challenge(3)));
    for (t, record) in verifications() {
        assert_eq!(store.get_verification(&tenant(t), &record.id).unwrap(), Some(record));
    }
    assert_eq!(store.links_by_customer(&a, "cust-1").unwrap(), vec![link("cust-1", "0a"), link("cust-1", "0e")]);
    assert_eq!(store.link_by_certificate(&b, &cert("0f")).unwrap(), Some(link("顧客-2", "0f")));
    assert_eq!(store.watched(&a).unwrap(), vec![cert("0a"), cert("0e")]);
    assert_eq!(store.watchers(&cert("0f")).unwrap(), vec![(b.clone(), "signing_card".to_string())]);
    assert_eq!(store.get_meta("crl/auth").unwrap(), Some(b"42".to_vec()));

    // Old events read as revocations, with their sequences; each is its certificate's status.
    let events: Vec<(u64, RevocationNotice)> =
        store.events_after(&a, 0, 10).unwrap().into_iter().map(|e| (e.sequence, e.event)).collect();
    assert_eq!(
        events,
        vec![
            (1, old_notice("0a", Some("key_compromise"), "41", Some("cust-1"))),
            (2, old_notice("0e", Some("certificate_hold"), "0042", Some("cust-1"))),
        ]
    );
    assert_eq!(store.events_after(&b, 0, 10).unwrap()[0].event, old_notice("0f", None, "7", Some("顧客-2")));
    assert_eq!(store.last_event_for(&a, &cert("0e")).unwrap().unwrap().sequence, 2);
    assert_eq!(store.last_event_for(&b, &cert("0f")).unwrap().unwrap().sequence, 1);
    assert_eq!(store.last_event_for(&b, &cert("0a")).unwrap(), None);

    // Entitlement: own links and passed verifications within retention, from the migration.
    let asked: Vec<CertId> = ["0a", "0b", "0c", "0d", "0e", "0f"].into_iter().map(cert).collect();
    assert_eq!(store.entitled(&a, &asked, T, 1000).unwrap(), vec![true, false, false, false, true, false]);
    assert_eq!(store.entitled(&a, &[cert("0c")], T, 100_000).unwrap(), vec![true]);
    assert_eq!(store.entitled(&a, &[cert("0c")], T, 99_999).unwrap(), vec![false]);
    assert_eq!(store.entitled(&b, &asked, T, 0).unwrap(), vec![false, false, false, true, false, true]);

    // An old event's certificate put on hold, then revoked for good: two new events.
    let change = |change, reason: &str, crl: &str| RevocationNotice {
        change,
        reason: Some(reason.into()),
        crl_number: Some(crl.into()),
        revoked_at: T + 900,
        customer_id: None,
        ..old_notice("0a", None, "0", None)
    };
    let held = change(StatusChange::Held, "certificate_hold", "43");
    let revoked = change(StatusChange::Revoked, "key_compromise", "44");
    assert_eq!(store.append_events(vec![(a.clone(), held), (a.clone(), revoked.clone())]).unwrap(), vec![3, 4]);
    assert_eq!(store.last_event_for(&a, &cert("0a")).unwrap().unwrap().event, revoked);
    // The old cRLNumber (0042) is the migrated floor; the old hold was stored as a revocation, so
    // there is nothing to release.
    let stale = RevocationNotice { certificate: cert("0e"), ..change(StatusChange::Held, "certificate_hold", "41") };
    let release = RevocationNotice {
        certificate: cert("0e"),
        change: StatusChange::Released,
        reason: None,
        ..change(StatusChange::Released, "", "45")
    };
    assert_eq!(store.append_events(vec![(a.clone(), stale), (a.clone(), release)]).unwrap(), vec![2, 0]);
    assert_eq!(store.last_sequence(&a).unwrap(), 4);
}

const SCHEMA: TableDefinition<&str, u32> = TableDefinition::new("store_schema");
const EVENT_BY_CERT: TableDefinition<(&str, &str, &str), u64> = TableDefinition::new("event_by_cert");

/// The schema version of a closed LocalStore file, and whether schema 1's `event_by_cert` is there.
fn local_schema(path: &Path) -> (u32, bool) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let version = txn.open_table(SCHEMA).unwrap().get("version").unwrap().unwrap().value();
    let old_index = match txn.open_table(EVENT_BY_CERT) {
        Ok(table) => table.len().unwrap() > 0,
        Err(redb::TableError::TableDoesNotExist(_)) => false,
        Err(e) => panic!("{e}"),
    };
    (version, old_index)
}

#[test]
fn local_store_of_schema_1_is_migrated_on_open() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1.redb.gz");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let unpacked = std::process::Command::new("gzip").arg("-dc").arg(&fixture).output().expect("gzip runs");
    assert!(unpacked.status.success(), "gzip -dc {}", fixture.display());
    std::fs::write(&path, unpacked.stdout).unwrap();
    assert_eq!(local_schema(&path), (1, true), "the fixture is a schema-1 file");

    let store = LocalStore::open(&path).unwrap();
    check_migrated(&store);
    drop(store);
    assert_eq!(local_schema(&path), (2, false));
    // Opening again finds schema 2: nothing to migrate, everything still there.
    let store = LocalStore::open(&path).unwrap();
    assert_eq!(store.last_sequence(&tenant("bank-a")).unwrap(), 4);
    assert_eq!(store.entitled(&tenant("bank-a"), &[cert("0c")], T, 100_000).unwrap(), vec![true]);
}

#[test]
fn local_store_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    drop(LocalStore::open(&path).unwrap());
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(SCHEMA).unwrap().insert("version", 3).unwrap();
        txn.commit().unwrap();
    }
    assert!(matches!(LocalStore::open(&path), Err(StoreError::UnsupportedSchema { found: 3, supported: 2 })));
}

/// `sort_key` of the Redis layout, for times >= 0.
fn sort_key(t: i64) -> String {
    format!("1{t:019}")
}

/// Writes the fixture's items in the schema-1 Redis layout, command by command as the schema-1
/// scripts did (every value is JSON, as serde wrote it then).
fn write_schema_1(conn: &mut redis::Connection, p: &str) {
    let mut cmd = |args: &[&str]| {
        let mut c = redis::cmd(args[0]);
        for arg in &args[1..] {
            c.arg(*arg);
        }
        let _: redis::Value = c.query(conn).unwrap();
    };
    cmd(&["SET", &format!("{p}#schema"), "1"]);
    // Challenges: pending (with the challenge JSON) and used (marker only).
    for (t, id, n) in [("bank-a", "ch-pending", 1), ("bank-b", "ch-pending", 3)] {
        let json = serde_json::to_string(&challenge(n)).unwrap();
        let key = format!("{p}{t}:ch:{id}");
        cmd(&["HSET", &key, "state", "pending", "expires_at", &(T + 300).to_string(), "challenge", &json]);
        cmd(&["ZADD", &format!("{p}#idx:challenges"), "0", &format!("{}:{t}:{id}", sort_key(T + 300))]);
    }
    let key = format!("{p}bank-a:ch:ch-used");
    cmd(&["HSET", &key, "state", "used", "expires_at", &(T + 300).to_string(), "used_at", &(T + 10).to_string()]);
    cmd(&["ZADD", &format!("{p}#idx:challenges"), "0", &format!("{}:bank-a:ch-used", sort_key(T + 300))]);
    for (t, record) in verifications() {
        let key = format!("{p}{t}:ver:{}", record.id);
        let json = serde_json::to_string(&record).unwrap();
        cmd(&["HSET", &key, "verified_at", &record.verified_at.to_string(), "record", &json]);
        let member = format!("{}:{t}:{}", sort_key(record.verified_at), record.id);
        cmd(&["ZADD", &format!("{p}#idx:verifications"), "0", &member]);
    }
    for (t, customer, serial) in [("bank-a", "cust-1", "0a"), ("bank-a", "cust-1", "0e"), ("bank-b", "顧客-2", "0f")]
    {
        let json = serde_json::to_string(&link(customer, serial)).unwrap();
        cmd(&["SET", &format!("{p}{t}:link:ab01:{serial}"), &json]);
        cmd(&["SADD", &format!("{p}{t}:cust:{customer}"), &format!("ab01:{serial}")]);
    }
    for (t, serial, kind) in
        [("bank-a", "0a", "auth_card"), ("bank-a", "0e", "auth_card"), ("bank-b", "0f", "signing_card")]
    {
        let at = sort_key(T + 1_000_000);
        cmd(&["HSET", &format!("{p}{t}:watch"), &format!("ab01:{serial}"), &at]);
        cmd(&["HSET", &format!("{p}#watchers:ab01:{serial}"), t, kind]);
        cmd(&["ZADD", &format!("{p}#idx:watches"), "0", &format!("{at}:{t}:ab01:{serial}")]);
    }
    // Events as schema 1 wrote them: no `change` field.
    let events = [
        ("bank-a", 1, old_notice("0a", Some("key_compromise"), "41", Some("cust-1"))),
        ("bank-a", 2, old_notice("0e", Some("certificate_hold"), "0042", Some("cust-1"))),
        ("bank-b", 1, old_notice("0f", None, "7", Some("顧客-2"))),
    ];
    for (t, seq, notice) in events {
        let mut json: BTreeMap<String, serde_json::Value> =
            serde_json::from_value(serde_json::to_value(&notice).unwrap()).unwrap();
        json.remove("change");
        let field = format!("ab01:{}", notice.certificate.serial);
        cmd(&["HSET", &format!("{p}{t}:ev"), &seq.to_string(), &serde_json::to_string(&json).unwrap()]);
        cmd(&["HSET", &format!("{p}{t}:ev_cert"), &field, &seq.to_string()]);
        cmd(&["SET", &format!("{p}{t}:ev_head"), &seq.to_string()]);
    }
    cmd(&["SET", &format!("{p}#meta:crl/auth"), "42"]);
}

#[test]
fn redis_store_of_schema_1_is_migrated_on_connect() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut server) = RedisServer::start(dir.path(), DURABLE) else { return };
    // A prefix with glob characters: the migration must find its own keys and only those.
    let prefix = "jpki*[1]:";
    let mut conn = support::raw(&server);
    write_schema_1(&mut conn, prefix);
    write_schema_1(&mut conn, "other:");
    let store = RedisStore::connect(&server.url(), prefix).unwrap();
    check_migrated(&store);
    let schema: String = redis::cmd("GET").arg(format!("{prefix}#schema")).query(&mut conn).unwrap();
    assert_eq!(schema, "2");
    let mut old: Vec<String> = redis::cmd("KEYS").arg("*ev_cert").query(&mut conn).unwrap();
    old.sort();
    // Another prefix's schema-1 keys are left alone.
    assert_eq!(old, ["other:bank-a:ev_cert", "other:bank-b:ev_cert"]);
    let other: String = redis::cmd("GET").arg("other:#schema").query(&mut conn).unwrap();
    assert_eq!(other, "1");
    drop(store);
    // After a kill -9 and restart, the migrated layout is what the AOF holds.
    server.kill_9();
    server.restart();
    let store = RedisStore::connect(&server.url(), prefix).unwrap();
    assert_eq!(store.last_sequence(&tenant("bank-a")).unwrap(), 4);
    assert_eq!(store.entitled(&tenant("bank-a"), &[cert("0c")], T, 100_000).unwrap(), vec![true]);
    // The other prefix migrates when a store connects to it.
    check_migrated(&RedisStore::connect(&server.url(), "other:").unwrap());
}

#[test]
fn redis_store_refuses_a_corrupt_schema_1_store_without_changing_it() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = RedisServer::start(dir.path(), DURABLE) else { return };
    let mut conn = support::raw(&server);
    write_schema_1(&mut conn, "p:");
    // An index entry naming a missing event: the migration fails before writing anything.
    let _: () = redis::cmd("HSET").arg("p:bank-a:ev_cert").arg("ab01:99").arg("9").query(&mut conn).unwrap();
    let err = RedisStore::connect(&server.url(), "p:").unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err}");
    let schema: String = redis::cmd("GET").arg("p:#schema").query(&mut conn).unwrap();
    assert_eq!(schema, "1");
    let status: bool = redis::cmd("EXISTS").arg("p:bank-a:ev_status").query(&mut conn).unwrap();
    assert!(!status);
    let entitlements: bool = redis::cmd("EXISTS").arg("p:bank-a:ent").query(&mut conn).unwrap();
    assert!(!entitlements);
}
