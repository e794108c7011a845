#![allow(clippy::unwrap_used, clippy::expect_used)]
//! cRLNumbers run per (issuer key, scope), not per configured list: a source holding several
//! partitioned lists of one issuer, or lists of several CA generations, gets every list loaded,
//! across restarts (the ledger) and across replicas (Redis, a real redis-server).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jpki_refresh::{
    CrlSource, Fetcher, FileLedger, HttpPolicy, ListConfig, RedisConfig, RefreshConfig, RefreshEvent, Refresher,
};
use jpki_revocation::{RevocationStore, Scope};
use jpki_testpki::{CertKind, CrlBuilder, CrlEntry, IssuingDistributionPoint, ReasonCode, TestPki};

const SEED: u64 = 2026;
const LIST: &str = "signing-lists";

fn pki() -> Arc<TestPki> {
    TestPki::cached(SEED).unwrap()
}

fn policy() -> HttpPolicy {
    HttpPolicy { attempts: 1, ..HttpPolicy::default() }
}

/// An hour ago, whole seconds.
fn issued() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::hours(1)
}

/// A list of the signing CA of `generation`, numbered `number`, for `municipality`'s distribution
/// point (or the whole issuer), revoking one serial per number so that contents differ.
fn list(generation: u8, number: u64, municipality: Option<&str>) -> Vec<u8> {
    let pki = pki();
    let ca = pki.ca(CertKind::SigningCard, generation).unwrap();
    let entry = CrlEntry::new(vec![0x30, number as u8], issued()).reason(ReasonCode::KeyCompromise);
    let mut builder = CrlBuilder::new(issued(), Some(issued() + time::Duration::days(1))).number(number).entry(entry);
    if let Some(municipality) = municipality {
        builder = builder.issuing_distribution_point(IssuingDistributionPoint {
            full_name: Some(jpki_testpki::profile::ee_crl_dp_name(CertKind::SigningCard, "Hokkaido", municipality)),
            only_contains_user_certs: true,
            only_contains_ca_certs: false,
        });
    }
    builder.sign(ca.issuer()).unwrap()
}

fn pem(der: &[u8]) -> String {
    jpki_testpki::keys::pem_encode("X509 CRL", der).unwrap()
}

async fn refresher(source: CrlSource, ledger: Option<&Path>, redis: Option<&str>) -> Refresher {
    let pki = pki();
    let store = Arc::new(RevocationStore::new(jpki_testsupport::anchors(&pki).unwrap(), 0));
    let config = RefreshConfig {
        lists: vec![ListConfig { name: LIST.to_owned(), source }],
        interval: Duration::from_secs(3600),
        poll_interval: Duration::from_secs(60),
        redis: redis.map(RedisConfig::new),
        ledger: ledger.map(Path::to_owned),
        archive: None,
    };
    Refresher::new(config, store, Fetcher::new(policy()).unwrap()).await.unwrap()
}

/// (issuer key id hex, cRLNumber) of every list in the store, sorted.
fn loaded(refresher: &Refresher) -> Vec<(String, String)> {
    let mut lists: Vec<(String, String)> =
        refresher.store().lists().into_iter().map(|summary| (summary.issuer_key_id, summary.crl_number)).collect();
    lists.sort();
    lists
}

fn key(generation: u8) -> String {
    hex::encode(pki().ca(CertKind::SigningCard, generation).unwrap().key_id())
}

fn refused(event: &RefreshEvent) -> bool {
    matches!(event, RefreshEvent::Refused { .. })
}

#[tokio::test(flavor = "multi_thread")]
async fn partitions_of_one_issuer_all_load_and_survive_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let directory = temp.path().join("lists");
    std::fs::create_dir(&directory).unwrap();
    let ledger = temp.path().join("ledger.json");
    // Two partitions of the same issuer key, numbered independently; the higher number first.
    std::fs::write(directory.join("a-sapporo.crl"), list(2, 9, Some("Sapporo-shi"))).unwrap();
    std::fs::write(directory.join("b-otaru.crl"), list(2, 4, Some("Otaru-shi"))).unwrap();
    let expected = vec![(key(2), "4".to_owned()), (key(2), "9".to_owned())];

    let first = refresher(CrlSource::Directory(directory.clone()), Some(&ledger), None).await;
    let event = first.refresh(&first.lists()[0]).await;
    assert!(!refused(&event), "{event:?}");
    assert_eq!(loaded(&first), expected);

    // A restart: a new store, the same ledger. Both load again.
    let second = refresher(CrlSource::Directory(directory.clone()), Some(&ledger), None).await;
    let event = second.refresh(&second.lists()[0]).await;
    assert!(!refused(&event), "{event:?}");
    assert_eq!(loaded(&second), expected);

    // The ledger keeps one floor per (issuer key, scope): a rollback of one partition is refused
    // after a restart, and the other partition still loads.
    let ledger_state = FileLedger::open(&ledger).unwrap();
    let ca_key = pki().ca(CertKind::SigningCard, 2).unwrap().key_id().to_vec();
    let scopes: Vec<Scope> = second.store().lists().into_iter().map(|summary| summary.scope).collect();
    let mut floors: Vec<String> =
        scopes.iter().map(|scope| ledger_state.floor(&ca_key, scope).unwrap().to_string()).collect();
    floors.sort();
    assert_eq!(floors, vec!["4", "9"]);
    std::fs::write(directory.join("b-otaru.crl"), list(2, 3, Some("Otaru-shi"))).unwrap();
    let third = refresher(CrlSource::Directory(directory.clone()), Some(&ledger), None).await;
    let event = third.refresh(&third.lists()[0]).await;
    let RefreshEvent::Refused { error, .. } = &event else { panic!("expected refused, got {event:?}") };
    assert!(error.contains("cRLNumber 3 is below 4, already accepted"), "{error}");
    assert_eq!(loaded(&third), vec![(key(2), "9".to_owned())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_ca_generations_in_one_file_both_load_and_survive_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("signing.pem");
    let ledger = temp.path().join("ledger.json");
    // Generation 1's sequence is further along than generation 2's.
    std::fs::write(&file, pem(&list(1, 40, None)) + &pem(&list(2, 6, None))).unwrap();
    let expected = vec![(key(1), "40".to_owned()), (key(2), "6".to_owned())];
    let mut sorted = expected.clone();
    sorted.sort();

    for _restart in 0..2 {
        let refresher = refresher(CrlSource::File(file.clone()), Some(&ledger), None).await;
        let event = refresher.refresh(&refresher.lists()[0]).await;
        assert!(!refused(&event), "{event:?}");
        assert_eq!(loaded(&refresher), sorted);
    }
}

#[test]
fn a_ledger_of_the_previous_format_is_ignored_not_misapplied() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("ledger.json");
    // The previous format: one number per configured list name.
    std::fs::write(&path, r#"{ "signing-card-g2": "09" }"#).unwrap();
    let mut ledger = FileLedger::open(&path).unwrap();
    assert_eq!(ledger.legacy_names(), ["signing-card-g2".to_owned()]);
    let scope = Scope::default();
    assert_eq!(ledger.floor(&[1, 2, 3], &scope), None);
    ledger.record(&[1, 2, 3], &scope, &jpki_revocation::CrlNumber::from_u64(4)).unwrap();
    let reopened = FileLedger::open(&path).unwrap();
    assert!(reopened.legacy_names().is_empty(), "rewritten in the new format");
    assert_eq!(reopened.floor(&[1, 2, 3], &scope), Some(jpki_revocation::CrlNumber::from_u64(4)));
    assert_eq!(reopened.floor(&[1, 2, 4], &scope), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_installs_every_list_a_leader_published() {
    let temp = tempfile::tempdir().unwrap();
    let Some(redis) = jpki_testsupport::RedisServer::start(temp.path(), jpki_testsupport::EPHEMERAL) else { return };
    let directory = temp.path().join("lists");
    std::fs::create_dir(&directory).unwrap();
    std::fs::write(directory.join("a-sapporo.crl"), list(2, 9, Some("Sapporo-shi"))).unwrap();
    std::fs::write(directory.join("b-otaru.crl"), list(2, 4, Some("Otaru-shi"))).unwrap();
    std::fs::write(directory.join("c-generations.pem"), pem(&list(1, 40, None)) + &pem(&list(2, 6, None))).unwrap();
    let mut expected =
        vec![(key(2), "4".to_owned()), (key(2), "9".to_owned()), (key(1), "40".to_owned()), (key(2), "6".to_owned())];
    expected.sort();

    let leader = refresher(CrlSource::Directory(directory.clone()), None, Some(&redis.url())).await;
    let event = leader.refresh(&leader.lists()[0]).await;
    assert!(matches!(event, RefreshEvent::Installed { .. }), "{event:?}");
    assert_eq!(loaded(&leader), expected);

    // The follower's source is unreachable: everything it has comes from Redis.
    let follower = refresher(CrlSource::Directory(temp.path().join("nowhere")), None, Some(&redis.url())).await;
    let event = follower.sync_from_redis(&follower.lists()[0]).await;
    assert!(matches!(event, Some(RefreshEvent::Installed { via: jpki_refresh::Via::Redis, .. })), "{event:?}");
    assert_eq!(loaded(&follower), expected);
    assert!(follower.all_loaded());
    // Nothing new: nothing to do.
    assert_eq!(follower.sync_from_redis(&follower.lists()[0]).await, None);

    // One partition moves on at the source: the leader, due again, publishes it; the follower takes it.
    std::fs::write(directory.join("b-otaru.crl"), list(2, 5, Some("Otaru-shi"))).unwrap();
    let _ = redis.cli(&["HSET", &format!("jpki:crl:{LIST}:current"), "checked_at", "0"]);
    let event = leader.refresh(&leader.lists()[0]).await;
    assert!(matches!(event, RefreshEvent::Installed { ref number, .. } if number == "5"), "{event:?}");
    let event = follower.sync_from_redis(&follower.lists()[0]).await;
    assert!(matches!(event, Some(RefreshEvent::Installed { ref number, .. }) if number == "5"), "{event:?}");
    let numbers: Vec<String> = loaded(&follower).into_iter().map(|(_, number)| number).collect();
    let mut numbers_sorted = numbers.clone();
    numbers_sorted.sort();
    assert_eq!(numbers_sorted, vec!["40", "5", "6", "9"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_of_the_previous_redis_layout_is_fetched_again_not_waited_for() {
    let temp = tempfile::tempdir().unwrap();
    let Some(redis) = jpki_testsupport::RedisServer::start(temp.path(), jpki_testsupport::EPHEMERAL) else { return };
    let directory = temp.path().join("lists");
    std::fs::create_dir(&directory).unwrap();
    std::fs::write(directory.join("a-sapporo.crl"), list(2, 9, Some("Sapporo-shi"))).unwrap();
    std::fs::write(directory.join("b-otaru.crl"), list(2, 4, Some("Otaru-shi"))).unwrap();
    // What the previous version left: one list per name, checked just now, its chunk under the name.
    let record = format!("jpki:crl:{LIST}:current");
    let checked_at = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
    let old = ["fence", "5", "number", "9", "number_hex", "09", "chunks", "1", "sha256", "00", "etag", "\"e\""];
    redis.cli(&[&["HSET", record.as_str()][..], &old[..], &["checked_at", checked_at.as_str()][..]].concat()).unwrap();
    redis.cli(&["SET", &format!("jpki:crl:{LIST}:data:5:0"), "old chunk"]).unwrap();
    redis.cli(&["SET", &format!("jpki:crl:{LIST}:fence"), "5"]).unwrap();

    let replica = refresher(CrlSource::Directory(directory.clone()), None, Some(&redis.url())).await;
    let event = replica.refresh(&replica.lists()[0]).await;
    assert!(matches!(event, RefreshEvent::Installed { .. }), "{event:?}");
    assert_eq!(loaded(&replica), vec![(key(2), "4".to_owned()), (key(2), "9".to_owned())]);
    assert_eq!(redis.cli(&["EXISTS", &format!("jpki:crl:{LIST}:data:5:0")]).as_deref(), Some("0"));
    assert_eq!(redis.cli(&["HEXISTS", &record, "chunks"]).as_deref(), Some("0"));
    assert_eq!(redis.cli(&["HGET", &record, "lists"]).unwrap().split(' ').count(), 2);
}
