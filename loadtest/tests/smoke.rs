//! A few seconds of every operation at a low rate against a real gateway started here, through the
//! built binary, checking the JSON report (counts and the order of percentiles, no timings).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;

use jpki_gateway::settings::TenantSettings;
use jpki_gateway::{Gateway, GatewayConfig};
use jpki_testpki::{TestPki, WriteOptions};
use serde_json::Value;

const KEYS: [&str; 2] = ["smoke-key-a", "smoke-key-b"];

/// A gateway over the test PKI written in `dir/pki`, plaintext on 127.0.0.1, two tenants.
fn config(dir: &Path) -> GatewayConfig {
    let pki_dir = dir.join("pki");
    let mut config = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        plaintext: true,
        data_dir: dir.join("data"),
        tenants: KEYS
            .iter()
            .enumerate()
            .map(|(index, key)| TenantSettings {
                id: format!("smoke-{index}"),
                api_key: Some((*key).to_owned()),
                api_key_sha256: None,
                four_fields: vec![],
                ..TenantSettings::default()
            })
            .collect(),
        ..GatewayConfig::default()
    };
    let manifest = TestPki::load_manifest(&pki_dir).unwrap();
    config.trust.add(manifest.anchor_files(&pki_dir), manifest.policy_oids());
    config.trust.crl_files = vec![pki_dir.join("crl")];
    config
}

fn percentiles_ordered(latency: &Value, what: &str) {
    let get = |name: &str| latency[name].as_u64().unwrap_or_else(|| panic!("{what}: {name} missing in {latency}"));
    let values = ["p50_us", "p90_us", "p99_us", "p99_9_us", "max_us"].map(get);
    assert!(values[0] > 0, "{what}: p50 is 0");
    assert!(values.windows(2).all(|pair| pair[0] <= pair[1]), "{what}: percentiles out of order: {values:?}");
    assert!(get("count") > 0, "{what}: nothing recorded");
}

/// Runs the built binary against a gateway started here over a fresh test PKI, with `arguments`
/// after the common ones; returns the JSON report and the printed summary.
async fn run_loadtest(arguments: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let pki_dir = dir.path().join("pki");
    let pki = TestPki::cached(2026).unwrap();
    pki.write_to(&pki_dir, &WriteOptions::with_crl_time(time::OffsetDateTime::now_utc() - time::Duration::minutes(5)))
        .unwrap();
    let config = config(dir.path());
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let gateway = Gateway::start(config, listener).await.unwrap();
    let json_path = dir.path().join("report.json");

    // Two cards keep the preflight short (every tenant × card × kind once).
    let mut command = Command::new(env!("CARGO_BIN_EXE_jpki-loadtest"));
    command
        .arg("--gateway")
        .arg(format!("http://{}", gateway.local_addr()))
        .arg("--pki")
        .arg(&pki_dir)
        .args(["--api-key", KEYS[0], "--api-key", KEYS[1], "--holders", "h01,h02", "--baseline-seconds", "0.2"])
        // The gateway runs in this test's process.
        .args(["--server-pid", &std::process::id().to_string()])
        .arg("--json")
        .arg(&json_path)
        .args(arguments);
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "jpki-loadtest failed:\n{stdout}\n{stderr}");
    println!("{stdout}");
    gateway.shutdown().await.unwrap();
    (serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap(), stdout)
}

/// Every call of a step answered and passed, with no errors.
fn all_passed(step: &Value, stdout: &str) {
    let started = step["started"].as_u64().unwrap();
    assert!(started > 0, "no calls in the window:\n{stdout}");
    assert_eq!(step["answered"], started, "every call answered:\n{stdout}");
    assert_eq!(step["passed"], started, "every call passed:\n{stdout}");
    assert_eq!(step["errors"], 0, "{stdout}");
    assert_eq!(step["not_passed"], 0, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_open_loop_run_reports_every_operation() {
    let (report, stdout) = run_loadtest(&[
        "--mix",
        "login=1,verify-auth=1,verify-signature=1,check-status=1,health=1,issue-challenge=1",
        "--rate",
        "40",
        "--warmup",
        "1",
        "--duration",
        "3",
    ])
    .await;
    assert!(report["rsa_baseline"]["us_per_verification"].as_f64().unwrap() > 0.0);
    assert!(report["cores"].as_u64().unwrap() >= 1);
    assert_eq!(report["tenants"], 2);
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    let step = &steps[0];
    assert_eq!(step["mode"], "open");
    assert_eq!(step["offered_per_s"], 40.0);
    all_passed(step, &stdout);
    assert_eq!(step["pool_misses"], 0, "verify-auth used prepared challenges:\n{stdout}");
    assert!(step["achieved_per_s"].as_f64().unwrap() > 0.0);
    percentiles_ordered(&step["overall"], "overall");
    for operation in ["login", "verify-auth", "verify-signature", "check-status", "health", "issue-challenge"] {
        let figures = &step["operations"][operation];
        assert!(figures["started"].as_u64().unwrap() > 0, "{operation} never ran:\n{stdout}");
        percentiles_ordered(&figures["latency"], operation);
    }
    for rpc in ["IssueChallenge", "VerifyAuthProof", "VerifySignature", "CheckStatus", "HealthCheck"] {
        percentiles_ordered(&step["rpcs"][rpc]["latency"], rpc);
    }
    // verify-auth's challenges were issued before the run: only logins and issue-challenge issue
    // in the window.
    let issued = step["operations"]["login"]["answered"].as_u64().unwrap()
        + step["operations"]["issue-challenge"]["answered"].as_u64().unwrap();
    assert_eq!(step["rpcs"]["IssueChallenge"]["answered"].as_u64().unwrap(), issued);
    let server_cpu = &step["server_cpu"];
    assert!(server_cpu["cpu_seconds"].as_f64().is_some(), "server CPU read: {server_cpu}");
    assert!(server_cpu["per_call_in_rsa_verifications"].as_f64().is_some());
    assert!(report["floor"].is_null(), "no floor without --floor");
    assert!(step["server_cpu_over_floor"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_phase_runs_health_alone_and_is_subtracted() {
    // A closed loop of one caller: the floor phase takes the main run's loop settings.
    let (report, stdout) = run_loadtest(&[
        "--mix",
        "health=1",
        "--floor",
        "--closed",
        "--concurrency",
        "1",
        "--warmup",
        "0.5",
        "--duration",
        "1",
    ])
    .await;
    let floor = &report["floor"];
    let floor_us = floor["us_per_rpc"].as_f64().unwrap_or_else(|| panic!("no floor in {floor}"));
    assert!(floor["per_rpc_in_rsa_verifications"].as_f64().is_some());
    let phase = &floor["phase"];
    assert_eq!(phase["mode"], "closed");
    assert_eq!(phase["concurrency"], 1);
    all_passed(phase, &stdout);
    assert!(phase["operations"]["health"]["passed"].as_u64().unwrap() > 0);
    assert!(phase["server_cpu_over_floor"].is_null(), "the phase is not set against itself");

    let step = &report["steps"][0];
    all_passed(step, &stdout);
    percentiles_ordered(&step["rpcs"]["HealthCheck"]["latency"], "HealthCheck");
    let over = &step["server_cpu_over_floor"];
    assert_eq!(over["floor_us_per_rpc"].as_f64(), Some(floor_us));
    assert_eq!(over["rpcs_per_call"].as_f64(), Some(1.0));
    for field in ["us_per_rpc", "per_rpc_in_rsa_verifications", "us_per_call", "per_call_in_rsa_verifications"] {
        assert!(over[field].as_f64().is_some(), "{field} missing in {over}");
    }
    assert!(stdout.contains("server CPU over the floor:"), "{stdout}");
}
