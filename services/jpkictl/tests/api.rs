//! `jpkictl api …` and `jpkictl ca-admin …` against a real gateway and CA simulator: every
//! subcommand in text and JSON, the files `--save` writes and later commands read, exit codes,
//! gRPC errors with their violations, TLS and the environment variables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use support::gateway::{KEY, KEY_NAME_ONLY, Options, TestGateway, jpkictl, jpkictl_env, make_tls};

const FORM: &str = "口座開設申込書\n";

/// Signs the form with h01's card (CMS, detached) and returns (form, cms) paths.
fn signed_form(gateway: &TestGateway) -> (String, String) {
    let (form, cms) = (gateway.file("form.txt"), gateway.file("form.p7s"));
    std::fs::write(&form, FORM).unwrap();
    let pki = gateway.pki().display().to_string();
    jpkictl(&["testpki", "sign", "--pki", &pki, "--holder", "h01", "--in", &form, "--out", &cms]).expect_code(0);
    (form, cms)
}

/// issue-challenge --save, testpki prove --challenge-file, verify-auth-proof --save: the saved
/// verification's path and the run.
fn login(gateway: &TestGateway, name: &str, holder: &str, extra: &[&str]) -> (String, support::gateway::Run) {
    let (challenge, proof, saved) = (
        gateway.file(&format!("{name}.json")),
        gateway.file(&format!("{name}.bin")),
        gateway.file(&format!("{name}-v.json")),
    );
    gateway.api(&["issue-challenge", "--transaction-reference", name, "--save", &challenge]).expect_code(0);
    let pki = gateway.pki().display().to_string();
    jpkictl(&["testpki", "prove", "--pki", &pki, "--holder", holder, "--challenge-file", &challenge, "--out", &proof])
        .expect_code(0);
    let certificate = gateway.pki_file(&format!("holders/{holder}/auth.pem"));
    let mut arguments =
        vec!["verify-auth-proof", "--challenge", &challenge, "--certificate", &certificate, "--signature", &proof];
    arguments.extend(["--save", &saved]);
    arguments.extend(extra);
    let run = gateway.api(&arguments);
    (saved, run)
}

#[test]
fn account_opening_linking_and_login_in_text_and_json() {
    let gateway = TestGateway::start(Options::default());
    let (form, cms) = signed_form(&gateway);
    let saved_signature = gateway.file("signature.json");

    // verify-signature, CMS, with the applicant's data typed differently: verdicts per field.
    let run = gateway
        .api(&[
            "verify-signature",
            "--cms",
            &cms,
            "--content",
            &form,
            "--name",
            "山田 太郎",
            "--date-of-birth",
            "1980-12-31",
            "--address",
            "東京都千代田区霞が関2-1-2",
            "--sex",
            "2",
            "--save",
            &saved_signature,
        ])
        .expect_code(0);
    assert!(run.stdout.starts_with("TOTAL_PASSED  signature"), "{run:#?}");
    for expected in
        ["SIGNING_CARD", "revocation        good", "山田　太郎", "EQUAL_AFTER_NORMALISATION", "EXACT", "DIFFERS"]
    {
        assert!(run.stdout.contains(expected), "{expected}: {run:#?}");
    }
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved_signature).unwrap()).unwrap();
    assert_eq!(saved["result"]["indication"], "TOTAL_PASSED");
    assert!(saved["result"]["verification_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(saved["four_fields"]["address"]["verdict"], "EQUAL_AFTER_NORMALISATION");
    assert_eq!(saved["four_fields"]["sex"]["verdict"], "DIFFERS");

    // --json; a tenant allowed the name only gets the name only.
    let run = gateway.api_as(KEY_NAME_ONLY, &["verify-signature", "--cms", &cms, "--content", &form, "--json"]);
    let json = run.expect_code(0).json();
    assert_eq!(json["four_fields"]["name"]["value"], "山田\u{3000}太郎");
    assert!(json["four_fields"].get("address").is_none(), "{json}");
    let run = gateway.api_as(KEY_NAME_ONLY, &["verify-signature", "--cms", &cms, "--content", &form]).expect_code(0);
    assert!(run.stdout.contains("(not provided to this tenant)"), "{run:#?}");

    // Raw signatures: content or digest, and a failing one (exit 1).
    let (raw, certificate) = (gateway.file("form.sig"), gateway.pki_file("holders/h01/signing.pem"));
    let pki = gateway.pki().display().to_string();
    jpkictl(&["testpki", "sign", "--pki", &pki, "--holder", "h01", "--in", &form, "--out", &raw, "--raw"])
        .expect_code(0);
    gateway.api(&["verify-signature", "--raw", &raw, "--certificate", &certificate, "--content", &form]).expect_code(0);
    let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, FORM.as_bytes()));
    gateway
        .api(&[
            "verify-signature",
            "--raw",
            &raw,
            "--certificate",
            &certificate,
            "--digest-hex",
            &digest,
            "--hash",
            "sha256",
        ])
        .expect_code(0);
    let tampered = gateway.file("tampered.txt");
    std::fs::write(&tampered, "改ざん").unwrap();
    let run = gateway
        .api(&["verify-signature", "--raw", &raw, "--certificate", &certificate, "--content", &tampered, "--json"])
        .expect_code(1);
    assert_eq!(run.json()["result"]["indication"], "TOTAL_FAILED");
    assert_eq!(run.json()["result"]["sub_indication"], "SIG_CRYPTO_FAILURE");

    // issue-challenge in text and JSON; the JSON holds the challenge in hex.
    let run = gateway.api(&["issue-challenge"]).expect_code(0);
    assert!(run.stdout.contains("challenge id") && run.stdout.contains("expires at"), "{run:#?}");
    let json = gateway.api(&["issue-challenge", "--transaction-reference", "T-1", "--json"]).expect_code(0).json();
    assert_eq!(json["challenge"].as_str().unwrap().len(), 64, "{json}");
    assert!(json["expires_at"].as_str().unwrap().ends_with('Z'), "{json}");

    // The first login: passed, nobody linked yet.
    let (first, run) = login(&gateway, "opening", "h01", &[]);
    let run = run.expect_code(0);
    assert!(run.stdout.starts_with("TOTAL_PASSED  authentication proof"), "{run:#?}");
    assert!(run.stdout.contains("no customer linked") && run.stdout.contains("transaction ref   opening"), "{run:#?}");

    // link from the saved files, text; again with ids and --json: idempotent.
    let run = gateway
        .api(&[
            "link",
            "--customer-id",
            "CUST-0001",
            "--auth-verification",
            &first,
            "--signature-verification",
            &saved_signature,
        ])
        .expect_code(0);
    assert!(run.stdout.starts_with("linked: customer CUST-0001 to certificate "), "{run:#?}");
    let auth_id = saved_string(&first, "/result/verification_id");
    let json = gateway
        .api(&["link", "--customer-id", "CUST-0001", "--auth-verification-id", &auth_id, "--json"])
        .expect_code(0)
        .json();
    assert!(json.get("created").is_none(), "false is the proto3 default, left out: {json}");
    let certificate_id = json["certificate"].clone();
    let (ca_key_id, serial) =
        (certificate_id["ca_key_id"].as_str().unwrap(), certificate_id["serial"].as_str().unwrap());

    // The next login names the customer (text and JSON).
    let (_, run) = login(&gateway, "login", "h01", &[]);
    assert!(run.expect_code(0).stdout.contains("customer          CUST-0001"));
    let (_, run) = login(&gateway, "login-json", "h01", &["--json", "--purpose", "remittance"]);
    let json = run.expect_code(0).json();
    assert_eq!(json["customer_id"], "CUST-0001");
    assert_eq!(json["transaction_reference"], "login-json");
    assert_eq!(json["result"]["certificate"]["kind"], "AUTH_CARD");

    // lookup-link by customer (text) and by certificate (JSON).
    let run = gateway.api(&["lookup-link", "--customer-id", "CUST-0001"]).expect_code(0);
    assert!(run.stdout.contains(&format!("customer CUST-0001  certificate {ca_key_id}:{serial}")), "{run:#?}");
    let json =
        gateway.api(&["lookup-link", "--ca-key-id", ca_key_id, "--serial", serial, "--json"]).expect_code(0).json();
    assert_eq!(json["links"][0]["customer_id"], "CUST-0001");

    // check-status: by id and by certificate file (the same identity), text and JSON.
    let id = format!("{ca_key_id}:{serial}");
    let auth_pem = gateway.pki_file("holders/h01/auth.pem");
    let run = gateway.api(&["check-status", "--id", &id, "--certificate", &auth_pem]).expect_code(0);
    assert_eq!(run.stdout.matches(&format!("{id}  good")).count(), 2, "{run:#?}");
    let json = gateway.api(&["check-status", "--certificate", &auth_pem, "--json"]).expect_code(0).json();
    assert_eq!(json["statuses"][0]["certificate"], certificate_id);
    assert_eq!(json["statuses"][0]["revocation"]["status"], "REVOCATION_STATUS_GOOD");

    // unlink (JSON, then text), then nothing to look up.
    let json = gateway
        .api(&["unlink", "--customer-id", "CUST-0001", "--ca-key-id", ca_key_id, "--serial", serial, "--json"])
        .expect_code(0)
        .json();
    assert_eq!(json["removed"], 1);
    let run = gateway.api(&["unlink", "--customer-id", "CUST-0001"]).expect_code(0);
    assert!(run.stdout.starts_with("removed 0 link(s)"), "{run:#?}");
    let run = gateway.api(&["lookup-link", "--customer-id", "CUST-0001"]).expect_code(0);
    assert_eq!(run.stdout, "no link found\n");

    // health, text and JSON, whole server and one service.
    assert_eq!(gateway.api(&["health"]).expect_code(0).stdout, "(server): SERVING\n");
    let json =
        gateway.api(&["health", "--service", "jpki.gateway.v1.VerificationService", "--json"]).expect_code(0).json();
    assert_eq!(json["status"], "SERVING");
}

fn saved_string(path: &str, pointer: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    value.pointer(pointer).and_then(serde_json::Value::as_str).unwrap().to_owned()
}

#[test]
fn revocation_events_are_watched_and_the_ca_simulator_is_administered() {
    let gateway = TestGateway::start(Options { casim: true, ..Options::default() });
    let ca_url = gateway.ca_url();
    let (verification, run) = login(&gateway, "opening", "h02", &[]);
    run.expect_code(0);
    gateway.api(&["link", "--customer-id", "CUST-0002", "--auth-verification", &verification]).expect_code(0);

    // Nothing yet: the time runs out before one event (exit 4); without --count that is fine (0).
    let started = Instant::now();
    let run = gateway.api(&["watch-revocations", "--cursor", "0", "--count", "1", "--timeout-seconds", "1"]);
    assert_eq!(run.expect_code(4).stdout, "");
    assert!(started.elapsed() < Duration::from_secs(20));
    gateway.api(&["watch-revocations", "--timeout-seconds", "1"]).expect_code(0);

    // ca-admin: stats (text, JSON), revoke (text), then the event arrives.
    let run = jpkictl(&["ca-admin", "stats", "--url", &ca_url]).expect_code(0);
    assert!(run.stdout.contains("auth-card-g2: #1, 0 entries"), "{run:#?}");
    let run = jpkictl(&[
        "ca-admin",
        "revoke",
        "--url",
        &ca_url,
        "--ca",
        "auth-card-g2",
        "--holder",
        "h02",
        "--reason",
        "key-compromise",
    ])
    .expect_code(0);
    assert!(run.stdout.contains("on auth-card-g2: list #2 now has 1 entries"), "{run:#?}");
    let json = jpkictl(&["ca-admin", "--json", "stats", "--url", &ca_url]).expect_code(0).json();
    assert_eq!(json["lists"]["auth-card-g2"]["entries"][0]["reason"], "key_compromise");

    let run =
        gateway.api(&["watch-revocations", "--cursor", "0", "--count", "1", "--timeout-seconds", "30"]).expect_code(0);
    assert!(run.stdout.starts_with("cursor "), "{run:#?}");
    for expected in ["reason key_compromise", "CARD_LOST", "customer CUST-0002", "AUTH_CARD", "CRL #2"] {
        assert!(run.stdout.contains(expected), "{expected}: {run:#?}");
    }
    let run = gateway
        .api(&["watch-revocations", "--cursor", "0", "--count", "1", "--timeout-seconds", "30", "--json"])
        .expect_code(0);
    let event = run.json();
    assert_eq!(event["meaning"], "CARD_LOST");
    assert_eq!(event["customer_id"], "CUST-0002");
    // Resuming after that cursor: nothing new.
    let cursor = event["cursor"].as_str().unwrap();
    gateway.api(&["watch-revocations", "--cursor", cursor, "--count", "1", "--timeout-seconds", "1"]).expect_code(4);

    // check-status: revoked is exit code 1, in text and JSON.
    let auth_pem = gateway.pki_file("holders/h02/auth.pem");
    let run = gateway.api(&["check-status", "--certificate", &auth_pem]).expect_code(1);
    assert!(run.stdout.contains("revoked at") && run.stdout.contains("reason key_compromise"), "{run:#?}");
    let json = gateway.api(&["check-status", "--certificate", &auth_pem, "--json"]).expect_code(1).json();
    assert_eq!(json["statuses"][0]["revocation"]["reason"], "KEY_COMPROMISE");
    assert_eq!(json["statuses"][0]["revocation"]["status"], "REVOCATION_STATUS_REVOKED");
    let (_, run) = login(&gateway, "after", "h02", &[]);
    assert!(run.expect_code(1).stdout.contains("TOTAL_FAILED / REVOKED"));

    // unrevoke (a released hold) and publish, in text and JSON.
    let run =
        jpkictl(&["ca-admin", "unrevoke", "--url", &ca_url, "--ca", "auth-card-g2", "--holder", "h02"]).expect_code(0);
    assert!(run.stdout.contains("list #3 now has 0 entries"), "{run:#?}");
    let run = jpkictl(&["ca-admin", "publish", "--url", &ca_url]).expect_code(0);
    assert!(run.stdout.starts_with("published:") && run.stdout.contains("auth-card-g2 #4"), "{run:#?}");
    let json = jpkictl(&["ca-admin", "publish", "--url", &ca_url, "--json"]).expect_code(0).json();
    assert_eq!(json["lists"]["auth-card-g2"], 5);
    // The simulator's own errors name the field.
    let run = jpkictl(&["ca-admin", "revoke", "--url", &ca_url, "--ca", "nope", "--serial", "01"]).expect_code(3);
    assert!(run.stderr.contains("HTTP 400") && run.stderr.contains("ca: unknown CA"), "{run:#?}");
}

#[test]
fn errors_print_the_code_the_message_and_every_violation() {
    let gateway = TestGateway::start(Options::default());

    // A wrong or missing API key: UNAUTHENTICATED, exit 3.
    let run = gateway.api_as("wrong-key", &["issue-challenge"]).expect_code(3);
    assert!(run.stderr.contains("the gateway answered UNAUTHENTICATED"), "{run:#?}");
    let run = jpkictl(&["api", "--gateway", &gateway.url, "issue-challenge"]).expect_code(3);
    assert!(run.stderr.contains("UNAUTHENTICATED"), "{run:#?}");

    // Malformed requests: INVALID_ARGUMENT with the field.
    let long = "x".repeat(300);
    let run = gateway.api(&["issue-challenge", "--transaction-reference", &long]).expect_code(3);
    assert!(
        run.stderr.contains("INVALID_ARGUMENT") && run.stderr.contains("\n  field transaction_reference: "),
        "{run:#?}"
    );
    let run = gateway.api(&["check-status", "--id", "not-hex:zz"]).expect_code(3);
    assert!(run.stderr.contains("INVALID_ARGUMENT") && run.stderr.contains("\n  field certificates"), "{run:#?}");
    let run = gateway.api(&[
        "verify-auth-proof",
        "--challenge-id",
        "",
        "--certificate",
        &gateway.pki_file("holders/h01/auth.pem"),
        "--signature",
        &gateway.pki_file("holders/h01/auth.pem"),
    ]);
    assert!(run.expect_code(3).stderr.contains("\n  field "), "every violation is printed");

    // Link without a passed authentication: FAILED_PRECONDITION with its violation.
    let run =
        gateway.api(&["link", "--customer-id", "C-1", "--auth-verification-id", "no-such-verification"]).expect_code(3);
    assert!(run.stderr.contains("FAILED_PRECONDITION") && run.stderr.contains("\n  precondition "), "{run:#?}");

    // The request id comes with every error, to quote to the operator.
    assert!(run.stderr.contains("\n  request id "), "{run:#?}");

    // Local problems: exit 3 naming the file or the option; no gateway: exit 3 naming the URL.
    let missing = gateway.file("missing.json");
    let run = gateway
        .api(&["verify-auth-proof", "--challenge", &missing, "--certificate", &missing, "--signature", &missing])
        .expect_code(3);
    assert!(run.stderr.contains("missing.json: cannot read"), "{run:#?}");
    let not_saved = gateway.file("other.json");
    std::fs::write(&not_saved, "{\"links\": []}").unwrap();
    let run = gateway.api(&["link", "--customer-id", "C-1", "--auth-verification", &not_saved]).expect_code(3);
    assert!(run.stderr.contains("other.json: no result.verification_id"), "{run:#?}");
    let run = jpkictl(&["api", "--gateway", "http://127.0.0.1:9", "health"]).expect_code(3);
    assert!(run.stderr.contains("cannot connect to the gateway at http://127.0.0.1:9"), "{run:#?}");
    let run = jpkictl(&["api", "--gateway", "http://127.0.0.1:9", "--ca-cert", "x.pem", "health"]).expect_code(3);
    assert!(run.stderr.contains("need an https:// gateway URL"), "{run:#?}");
    // clap refuses incomplete forms, and a purpose the RPC does not take, before anything is sent
    // (its usage error, exit 2).
    assert_eq!(gateway.api(&["verify-signature", "--raw", &missing]).code, 2);
    assert_eq!(gateway.api(&["verify-signature", "--purpose", "login", "--cms", &missing]).code, 2);
    let proof = ["--challenge-id", "00", "--certificate", &missing, "--signature", &missing];
    assert_eq!(gateway.api(&[&["verify-auth-proof", "--purpose", "account_opening"][..], &proof].concat()).code, 2);
}

#[test]
fn environment_variables_give_the_gateway_and_the_key() {
    let gateway = TestGateway::start(Options::default());
    let env = [("JPKI_GATEWAY_URL", gateway.url.as_str()), ("JPKI_API_KEY", KEY)];
    let run = jpkictl_env(&["api", "issue-challenge", "--json"], &env).expect_code(0);
    assert_eq!(run.json()["challenge"].as_str().unwrap().len(), 64);
    // The options also go after the subcommand.
    let run = jpkictl(&["api", "issue-challenge", "--gateway", &gateway.url, "--api-key", KEY]).expect_code(0);
    assert!(run.stdout.starts_with("challenge issued"));
    // --help shows that the key comes from the environment, never its value.
    let run = jpkictl_env(&["api", "--help"], &env).expect_code(0);
    assert!(run.stdout.contains("JPKI_API_KEY") && !run.stdout.contains(KEY), "{run:#?}");
}

#[test]
fn tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let tls = make_tls(dir.path());
    let ca = tls.ca.display().to_string();
    let gateway = TestGateway::start(Options { tls: Some(tls), ..Options::default() });
    assert!(gateway.url.starts_with("https://127.0.0.1:"));
    // The helper passes --ca-cert; the certificate names 127.0.0.1 and localhost.
    gateway.api(&["issue-challenge"]).expect_code(0);
    let port = gateway.url.rsplit(':').next().unwrap();
    let localhost = format!("https://localhost:{port}");
    jpkictl(&["api", "--gateway", &localhost, "--ca-cert", &ca, "health"]).expect_code(0);
    let env = [("JPKI_GATEWAY_CA_CERT", ca.as_str())];
    jpkictl_env(&["api", "--gateway", &gateway.url, "--tls-domain", "localhost", "health"], &env).expect_code(0);
    // Without the CA the handshake fails: exit 3, naming the gateway.
    let run = jpkictl(&["api", "--gateway", &gateway.url, "health"]).expect_code(3);
    assert!(run.stderr.contains(&format!("cannot connect to the gateway at {}", gateway.url)), "{run:#?}");
    // A name the certificate does not hold is refused too.
    let run = jpkictl(&["api", "--gateway", &gateway.url, "--ca-cert", &ca, "--tls-domain", "other.example", "health"]);
    run.expect_code(3);
}
