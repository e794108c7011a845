//! Several `jpkictl crl sync` processes against one real redis-server and the CA simulator:
//! the CA sees one download per list version and one request per interval, not one per process,
//! and a leader frozen past its lease cannot publish when it wakes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jpki_testsupport::EPHEMERAL;
use support::{Collected, Redis, free_port, http, wait_until};

const JPKICTL: &str = env!("CARGO_BIN_EXE_jpkictl");
const LIST: &str = "signing-card-g2";

fn generate(directory: &Path) -> String {
    let pki = directory.join("pki").display().to_string();
    let status = Command::new(JPKICTL).args(["testpki", "generate", "--out", &pki]).output().unwrap();
    assert!(status.status.success());
    pki
}

fn ca_simulator(pki: &str) -> (Collected, u16) {
    let port = free_port();
    let simulator = Collected::spawn(
        JPKICTL,
        &["ca-sim".into(), "--pki".into(), pki.into(), "--listen".into(), format!("127.0.0.1:{port}")],
    );
    wait_until("the CA simulator", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    (simulator, port)
}

fn replica(pki: &str, ca_port: u16, redis: &Redis, interval: u64, lease: u64) -> Collected {
    let arguments: Vec<String> = [
        "crl",
        "sync",
        "--anchors",
        pki,
        "--list",
        &format!("{LIST}=http://127.0.0.1:{ca_port}/crl/{LIST}.crl"),
        "--redis",
        &redis.url(),
        "--interval",
        &interval.to_string(),
        "--poll",
        "1",
        "--lease",
        &lease.to_string(),
    ]
    .iter()
    .map(|argument| argument.to_string())
    .collect();
    Collected::spawn(JPKICTL, &arguments)
}

fn installed(number: &str) -> impl Fn(&serde_json::Value) -> bool + '_ {
    move |event| event["event"] == "installed" && event["list"] == LIST && event["number"] == number
}

fn downloads(ca_port: u16) -> (u64, u64) {
    let (status, body) = http(ca_port, "GET", "/stats", None);
    assert_eq!(status, 200, "{body}");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    let text = stats.to_string();
    let list = stats["lists"]
        .as_array()
        .and_then(|lists| lists.iter().find(|list| list["label"] == LIST))
        .cloned()
        .or_else(|| stats["lists"].get(LIST).cloned())
        .unwrap_or_else(|| panic!("no stats for {LIST}: {text}"));
    let count = |name: &str| list["downloads"][name].as_u64().unwrap_or_else(|| panic!("{name} in {list}"));
    (count("full"), count("not_modified"))
}

#[test]
fn three_replicas_share_one_download_per_interval() {
    let directory = tempfile::tempdir().unwrap();
    let pki = generate(directory.path());
    let (_simulator, ca_port) = ca_simulator(&pki);
    let Some(redis) = Redis::start(directory.path(), EPHEMERAL) else { return };
    let interval = 3;
    let started = Instant::now();
    let replicas: Vec<Collected> = (0..3).map(|_| replica(&pki, ca_port, &redis, interval, 10)).collect();
    for replica in &replicas {
        replica.wait_for("installed #1", installed("1"));
    }
    let (status, body) = http(
        ca_port,
        "POST",
        "/revoke",
        Some(r#"{"ca": "signing-card-g2", "holder": "h01", "reason": "affiliation_changed"}"#),
    );
    assert_eq!(status, 200, "{body}");
    for replica in &replicas {
        replica.wait_for("installed #2", installed("2"));
    }
    // Let a few more intervals pass with nothing new at the CA.
    std::thread::sleep(Duration::from_secs(3 * interval));
    let elapsed = started.elapsed().as_secs();
    let (full, not_modified) = downloads(ca_port);
    assert_eq!(full, 2, "one full download per list version, whatever the number of replicas");
    let requests = full + not_modified;
    assert!(
        requests <= elapsed / interval + 2,
        "{requests} requests in {elapsed} s: at most one per {interval} s interval across the three replicas"
    );
    for number in ["1", "2"] {
        let from_source: usize = replicas
            .iter()
            .map(|replica| {
                replica.events().iter().filter(|event| installed(number)(event) && event["via"] == "source").count()
            })
            .sum();
        assert_eq!(from_source, 1, "list #{number} fetched by exactly one replica, the others took it from redis");
    }
}

#[test]
fn a_leader_frozen_past_its_lease_cannot_publish() {
    let directory = tempfile::tempdir().unwrap();
    let pki = generate(directory.path());
    let (_simulator, ca_port) = ca_simulator(&pki);
    let Some(redis) = Redis::start(directory.path(), EPHEMERAL) else { return };
    // The first download of the list is slow: the leader is still downloading when we freeze it.
    let (status, body) = http(
        ca_port,
        "POST",
        "/misbehave",
        Some(r#"{"mode": "slow", "delay_ms": 8000, "times": 1, "ca": "signing-card-g2"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let lock = format!("jpki:crl:{LIST}:lock");
    let frozen = replica(&pki, ca_port, &redis, 2, 2);
    wait_until("the first replica to take the lease", || redis.cli(&["EXISTS", &lock]).as_deref() == Some("1"));
    frozen.signal("STOP");
    wait_until("the frozen leader's lease to expire", || redis.cli(&["EXISTS", &lock]).as_deref() == Some("0"));

    let successor = replica(&pki, ca_port, &redis, 2, 2);
    successor.wait_for("the successor to fetch and publish", |event| installed("1")(event) && event["via"] == "source");
    let published_fence = redis.cli(&["HGET", &format!("jpki:crl:{LIST}:current"), "fence"]).unwrap();

    frozen.signal("CONT");
    let refused = frozen.wait_for("publish_refused", |event| event["event"] == "publish_refused");
    assert_ne!(refused["fence"].to_string(), published_fence, "the stale token is not the published one");
    assert_eq!(
        redis.cli(&["HGET", &format!("jpki:crl:{LIST}:current"), "fence"]).unwrap(),
        published_fence,
        "the frozen leader changed nothing in redis"
    );
}
