//! `jpkictl demo`: a test PKI, the CA simulator serving its lists, and the gateway (embedded
//! configuration, demo tenant, lists refreshed from the simulator) in this process; then a
//! walkthrough of `jpkictl` command lines to run against them, served until Ctrl-C.
//!
//! Every command line is printed on one line starting with `$ `, with absolute paths and the
//! actual addresses, so that it can be pasted (and a test can run it) as it is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use jpki_casim::{CaSimulator, SimConfig};
use jpki_gateway::settings::{EmbeddedEngine, ListSettings, TenantSettings, TrustSettings};
use jpki_gateway::{Gateway, GatewayConfig};

use super::{APPLICATION, DemoArgs, quote};

/// The card holder of the walkthrough and the data the applicant types on the form: the same
/// person as the certificate's four fields (山田　太郎, 昭和 1980-12-31, 東京都千代田区霞が関二丁目１番２号,
/// male), typed the way people do, so that two verdicts are EQUAL_AFTER_NORMALISATION.
const HOLDER: &str = "h01";
const TYPED_NAME: &str = "山田 太郎";
const TYPED_DATE_OF_BIRTH: &str = "1980-12-31";
const TYPED_ADDRESS: &str = "東京都千代田区霞が関2-1-2";
const TYPED_SEX: &str = "1";
/// The bank's customer id in the walkthrough.
const CUSTOMER: &str = "CUST-0001";

/// The demo tenant's id.
pub const DEMO_TENANT: &str = "demo-bank";
/// The demo tenant's API key (plaintext, local demo only).
pub const DEMO_API_KEY: &str = "demo-key";
/// The demo operator's id and key (plaintext, local demo only).
const DEMO_OPERATOR: &str = "demo-operator";
const DEMO_OPERATOR_KEY: &str = "demo-operator-key";
/// The tenant the walkthrough onboards.
const SECOND_TENANT: &str = "demo-insurer";
/// The demo bank's auditor and its key (plaintext, local demo only).
const DEMO_AUDITOR: &str = "demo-auditor";
const DEMO_AUDITOR_KEY: &str = "demo-auditor-key";

/// The demo's gateway configuration: the test PKI written in `pki` (its anchors and policies), the
/// demo tenant with all four fields, plaintext on loopback, durable local storage in `data_dir`.
/// Its lists are refreshed from the CA simulator (set by the caller).
fn demo_config(data_dir: &Path, pki: &Path, manifest: &jpki_testpki::Manifest) -> GatewayConfig {
    let mut trust = TrustSettings::default();
    trust.add(manifest.anchor_files(pki), manifest.policy_oids());
    GatewayConfig {
        plaintext: true,
        data_dir: data_dir.to_path_buf(),
        trust,
        tenants: vec![TenantSettings {
            id: DEMO_TENANT.to_owned(),
            api_key_sha256: None,
            api_key: Some(DEMO_API_KEY.to_owned()),
            four_fields: jpki_gateway::settings::FOUR_FIELDS.iter().map(|field| (*field).to_owned()).collect(),
            // Far above the default quota, so that the load generator measures the gateway (the
            // global limits still apply), not the demo tenant's quota.
            quota: Some(jpki_gateway::settings::QuotaSettings {
                requests_per_second: 1_000_000,
                burst: 1_000_000,
                max_concurrent: 100_000,
            }),
            ..TenantSettings::default()
        }],
        operators: vec![jpki_gateway::settings::PrincipalSettings {
            id: DEMO_OPERATOR.to_owned(),
            api_key: Some(DEMO_OPERATOR_KEY.to_owned()),
            ..jpki_gateway::settings::PrincipalSettings::default()
        }],
        auditors: vec![jpki_gateway::settings::AuditorSettings {
            id: DEMO_AUDITOR.to_owned(),
            api_key: Some(DEMO_AUDITOR_KEY.to_owned()),
            tenants: vec![DEMO_TENANT.to_owned()],
            ..jpki_gateway::settings::AuditorSettings::default()
        }],
        ..GatewayConfig::default()
    }
}

/// Runs the servers and prints the walkthrough; returns after Ctrl-C.
pub fn run(args: &DemoArgs) -> anyhow::Result<i32> {
    let (base, temporary) = match &args.dir {
        Some(dir) => (dir.clone(), false),
        None => (std::env::temp_dir().join(format!("jpki-demo-{}", std::process::id())), true),
    };
    // The gateway's store keeps list numbers and events across restarts, while the simulator starts
    // its lists afresh: an earlier run's directory would make the new lists look rolled back.
    if base.read_dir().is_ok_and(|mut entries| entries.next().is_some()) {
        bail!("{}: not empty (an earlier demo?); give a new or empty directory", base.display());
    }
    std::fs::create_dir_all(&base).with_context(|| format!("{}: cannot create", base.display()))?;
    // The gateway's warnings (a list that cannot be downloaded, a stale list) on stderr; RUST_LOG for more.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).try_init();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start the async runtime")?;
    let result = runtime.block_on(serve(args, &base));
    drop(runtime);
    if temporary {
        let _ = std::fs::remove_dir_all(&base);
    }
    result
}

fn path(path: &Path) -> String {
    quote(&path.display().to_string())
}

async fn serve(args: &DemoArgs, base: &Path) -> anyhow::Result<i32> {
    let data_dir = base.join("gateway");
    let pki = data_dir.join("test-pki");
    let files = base.join("files");
    std::fs::create_dir_all(&files).with_context(|| format!("{}: cannot create", files.display()))?;
    crate::testpki::generate_into(&pki, args.seed, time::OffsetDateTime::now_utc())?;
    let manifest = jpki_testpki::TestPki::load_manifest(&pki).map_err(|error| anyhow::anyhow!("{error}"))?;
    let holder = manifest
        .holders
        .iter()
        .find(|holder| holder.id == HOLDER)
        .with_context(|| format!("the test PKI has no holder {HOLDER}"))?;
    let form = files.join("application.txt");
    std::fs::write(&form, APPLICATION).with_context(|| format!("{}: cannot write", form.display()))?;

    let simulator = CaSimulator::from_dir(&pki, SimConfig::default())
        .map_err(|error| anyhow::anyhow!("{}: {error}", pki.display()))?;
    let ca_listener = tokio::net::TcpListener::bind(&args.ca_listen)
        .await
        .with_context(|| format!("CA simulator: cannot listen on {}", args.ca_listen))?;
    let ca = simulator.spawn(ca_listener).map_err(|error| anyhow::anyhow!("CA simulator: {error}"))?;

    let mut config = demo_config(&data_dir, &pki, &manifest);
    config.trust.lists =
        simulator.labels().into_iter().map(|label| ListSettings { source: ca.crl_url(&label), name: label }).collect();
    config.trust.refresh_interval_seconds = args.refresh_seconds;
    config.embedded_engine = match args.store_engine.as_deref() {
        Some("redb") => Some(EmbeddedEngine::Redb),
        Some(_) => Some(EmbeddedEngine::Journal),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("gateway: cannot listen on {}", args.listen))?;
    config.listen = listener.local_addr().context("gateway address")?;
    config.admin_listen =
        Some(args.admin_listen.parse().with_context(|| format!("--admin-listen {}", args.admin_listen))?);
    let gateway = Gateway::start(config, listener).await?;
    let admin_url = format!("http://{}", gateway.admin_addr().context("the admin service's address")?);
    let url = format!("http://{}", gateway.local_addr());
    crate::api::wait_until_serving(&url, Duration::from_secs(60)).await?;

    let walkthrough = Walkthrough {
        url,
        admin_url,
        ca_url: ca.base_url(),
        pki: pki.clone(),
        files,
        holder_name: holder.four_fields.name.clone(),
        auth_ca: holder.auth.issuer.clone(),
        auth_certificate: pki.join(&holder.auth.cert_pem),
        refresh_seconds: args.refresh_seconds,
    };
    walkthrough.print()?;

    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    println!("\n== stopping: draining the gateway, then the CA simulator");
    gateway.shutdown().await?;
    ca.shutdown().await.map_err(|error| anyhow::anyhow!("CA simulator: {error}"))?;
    Ok(0)
}

struct Walkthrough {
    url: String,
    admin_url: String,
    ca_url: String,
    pki: PathBuf,
    files: PathBuf,
    holder_name: String,
    auth_ca: String,
    auth_certificate: PathBuf,
    refresh_seconds: u64,
}

/// Prints one command line.
fn command(arguments: &[String]) {
    let line: Vec<String> = arguments.iter().map(|argument| quote(argument)).collect();
    println!("$ jpkictl {}", line.join(" "));
}

/// Prints what the previous command shows.
fn expect(text: &str) {
    println!("   → {text}");
}

impl Walkthrough {
    fn file(&self, name: &str) -> String {
        self.files.join(name).display().to_string()
    }

    /// `api <rpc> --gateway URL --api-key KEY` followed by `rest`.
    fn api(&self, rpc: &str, rest: &[&str]) {
        let mut arguments = vec!["api".to_owned(), rpc.to_owned(), "--gateway".to_owned(), self.url.clone()];
        arguments.extend(["--api-key".to_owned(), DEMO_API_KEY.to_owned()]);
        arguments.extend(rest.iter().map(|argument| (*argument).to_owned()));
        command(&arguments);
    }

    /// issue-challenge, prove and verify-auth-proof for login number `n`.
    fn login(&self, n: u32, reference: &str, save: bool) {
        let (challenge, proof) = (self.file(&format!("challenge-{n}.json")), self.file(&format!("proof-{n}.bin")));
        self.api("issue-challenge", &["--transaction-reference", reference, "--save", &challenge]);
        let pki = self.pki.display().to_string();
        command(&[
            "testpki".into(),
            "prove".into(),
            "--pki".into(),
            pki,
            "--holder".into(),
            HOLDER.into(),
            "--challenge-file".into(),
            challenge.clone(),
            "--out".into(),
            proof.clone(),
        ]);
        let certificate = self.auth_certificate.display().to_string();
        let saved = self.file(&format!("auth-verification-{n}.json"));
        let mut rest =
            vec!["--purpose", "login", "--challenge", &challenge, "--certificate", &certificate, "--signature", &proof];
        if save {
            rest.extend(["--save", &saved]);
        }
        self.api("verify-auth-proof", &rest);
    }

    fn print(&self) -> anyhow::Result<()> {
        let program = std::env::current_exe().context("the path of this program")?;
        let program_dir = program.parent().context("the directory of this program")?;
        let (form, cms) = (self.file("application.txt"), self.file("application.p7s"));
        let signature_verification = self.file("signature-verification.json");

        println!("== jpki-gateway demo: a bank opens an account with a My Number card (本人確認), links the");
        println!("   customer (※3), logs them in (資格確認), and learns at once when the card is lost.");
        println!();
        println!("   gateway       {}  (plaintext gRPC; tenant {DEMO_TENANT}, API key {DEMO_API_KEY})", self.url);
        println!(
            "   CA simulator  {}  (serves the test PKI's CRLs; the gateway downloads them every {} s)",
            self.ca_url, self.refresh_seconds
        );
        println!("   test PKI      {}  (card holder {HOLDER}: {})", self.pki.display(), self.holder_name);
        println!("   files         {}", self.files.display());
        println!("   jpkictl       {}", program.display());
        println!();
        println!("Run these commands in another terminal, in order: every line starting with `$ `. Put");
        println!("jpkictl on your PATH first to paste them as they are:");
        println!("$ export PATH={}:\"$PATH\"", path(program_dir));

        println!("\n== 0. The gateway is up and has loaded every list");
        command(&["api".into(), "health".into(), "--gateway".into(), self.url.clone()]);
        expect("(server): SERVING");

        println!("\n== 1. 本人確認 (account opening): the applicant signs the application form with the card");
        let pki = self.pki.display().to_string();
        command(&[
            "testpki".into(),
            "sign".into(),
            "--pki".into(),
            pki,
            "--holder".into(),
            HOLDER.into(),
            "--in".into(),
            form.clone(),
            "--out".into(),
            cms.clone(),
        ]);
        println!("   The bank sends the signature with the data typed on the form. The gateway checks chain,");
        println!("   validity, revocation and signature (※1) and compares the data with the four fields (※2):");
        self.api(
            "verify-signature",
            &[
                "--purpose",
                "account_opening",
                "--cms",
                &cms,
                "--content",
                &form,
                "--name",
                TYPED_NAME,
                "--date-of-birth",
                TYPED_DATE_OF_BIRTH,
                "--address",
                TYPED_ADDRESS,
                "--sex",
                TYPED_SEX,
                "--save",
                &signature_verification,
            ],
        );
        expect("TOTAL_PASSED; name EQUAL_AFTER_NORMALISATION (an ASCII space typed for the full-width one),");
        expect("address EQUAL_AFTER_NORMALISATION (2-1-2 typed for 二丁目１番２号), date of birth and sex EXACT");

        println!("\n== 2. ※3 linking: the applicant proves possession of the card's authentication key over a");
        println!("   fresh challenge, and the bank links its customer id to that verification");
        self.login(1, "account-opening-0001", true);
        expect("TOTAL_PASSED, no customer linked yet");
        self.api(
            "link",
            &[
                "--customer-id",
                CUSTOMER,
                "--auth-verification",
                &self.file("auth-verification-1.json"),
                "--signature-verification",
                &signature_verification,
            ],
        );
        expect(&format!("linked: customer {CUSTOMER} to the authentication certificate (CA key id:serial)"));
        self.api("lookup-link", &["--customer-id", CUSTOMER]);

        println!("\n== 3. 資格確認 (login, remittance): a new challenge and proof; the gateway names the customer");
        self.login(2, "login-0001", false);
        expect(&format!("TOTAL_PASSED, customer {CUSTOMER}, transaction ref login-0001"));

        println!("\n== 4. The card is lost: the CA revokes its authentication certificate and publishes a new list");
        command(&[
            "ca-admin".into(),
            "revoke".into(),
            "--url".into(),
            self.ca_url.clone(),
            "--ca".into(),
            self.auth_ca.clone(),
            "--holder".into(),
            HOLDER.into(),
            "--reason".into(),
            "key-compromise".into(),
        ]);
        println!("   Within {} s the gateway downloads the new list and tells the bank:", self.refresh_seconds);
        self.api("watch-revocations", &["--cursor", "0", "--count", "1", "--timeout-seconds", "30"]);
        expect(&format!("one event: the certificate, reason key_compromise, CARD_LOST, customer {CUSTOMER}"));
        let certificate = self.auth_certificate.display().to_string();
        self.api("check-status", &["--certificate", &certificate]);
        expect("revoked, with the list that says so (exit code 1)");
        println!("   The next login is refused:");
        self.login(3, "login-0002", false);
        expect("REVOKED: the proof was made after the revocation (exit code 1)");

        self.tenancy(&form, &cms);
        self.audit();

        println!("\n== The gateway and the CA simulator serve until Ctrl-C. Try `jpkictl api --help`.");
        Ok(())
    }

    /// `admin --gateway ADMIN_URL --api-key OPERATOR_KEY` followed by `rest`.
    fn admin(&self, rest: &[&str]) {
        let mut arguments = vec!["admin".to_owned(), "--gateway".to_owned(), self.admin_url.clone()];
        arguments.extend(["--api-key".to_owned(), DEMO_OPERATOR_KEY.to_owned()]);
        arguments.extend(rest.iter().map(|argument| (*argument).to_owned()));
        command(&arguments);
    }

    /// A command line as printed, with `--api-key "$(cat KEY_FILE)"` (a key is never printed).
    fn with_key_file(&self, rpc: &str, key_file: &str, rest: &[&str]) {
        let line: Vec<String> = rest.iter().map(|argument| quote(argument)).collect();
        println!(
            "$ jpkictl api {rpc} --gateway {} --api-key \"$(cat {})\" {}",
            quote(&self.url),
            quote(key_file),
            line.join(" ")
        );
    }

    /// The bank's auditor pulls the bank's log, verifies it, has it verified by a tool nobody here
    /// wrote, and catches one altered byte in a copy.
    fn audit(&self) {
        let (pulled, altered) = (self.file("audit-demo-bank"), self.file("audit-demo-bank-altered"));
        println!(
            "\n== 8. The bank's auditor ({DEMO_AUDITOR}, key {DEMO_AUDITOR_KEY}) pulls the bank's audit log: every"
        );
        println!("   call above is an event in a Merkle tree, under a checkpoint signed by the gateway");
        command(&[
            "audit".into(),
            "pull".into(),
            "--gateway".into(),
            self.url.clone(),
            "--api-key".into(),
            DEMO_AUDITOR_KEY.into(),
            "--tenant".into(),
            DEMO_TENANT.into(),
            "--dir".into(),
            pulled.clone(),
        ]);
        expect("demo-bank: 0 → N events, the root, and the key that signed it (now pinned in the directory)");
        command(&["audit".into(), "verify".into(), "--dir".into(), pulled.clone()]);
        expect("VERIFIED, offline, from the files alone: every checkpoint's signature, the tree, the tiles");
        let (keys, origin) = (self.file("demo-bank.vkey"), format!("jpki-gateway.local/tenant/{DEMO_TENANT}"));
        println!("   The auditor keeps the key it pinned outside the directory the server fills:");
        println!("$ cp {} {}", quote(&format!("{pulled}/keys.vkey")), quote(&keys));
        println!("   and has the same files verified by aics-tlog (PyPI; `pip install aics-tlog`), which reads");
        println!("   C2SP tlog-tiles, checkpoints and signed notes and RFC 9162 proofs, with none of our code:");
        let aics = |what: &str, tiles: &str, rest: &str| {
            println!(
                "$ aics-tlog {what} --tiles {} --vkey-file {} --origin {}{rest}",
                quote(tiles),
                quote(&keys),
                quote(&origin)
            );
        };
        aics("verify-checkpoint", &pulled, "");
        expect("\"ok\": true: the signed checkpoint, its root recomputed from the tiles");
        // Events 0 and 1 are the start's: the configuration made demo-bank and granted its auditor.
        let event_2 =
            |dir: &str| format!(" --index 2 --leaves-file {} --leaf-line 3", quote(&format!("{dir}/events.jsonl")));
        aics("verify-inclusion", &pulled, &event_2(&pulled));
        expect("\"ok\": true: event 2 (the demo's first verification) is in the signed tree");
        println!("   The evidence that answer rested on (the certificate and the lists it names), fetched and");
        println!("   re-proved offline against the auditor's own copy of the roots:");
        command(&[
            "audit".into(),
            "evidence".into(),
            "2".into(),
            "--gateway".into(),
            self.url.clone(),
            "--api-key".into(),
            DEMO_AUDITOR_KEY.into(),
            "--dir".into(),
            pulled.clone(),
            "--anchors".into(),
            self.pki.display().to_string(),
        ]);
        expect("RE-PROVED: the certificate's digest, each list's digest and signature, the chain and the status");
        println!("   One byte changed in a copy (the 10th character of event 2) is caught, and named:");
        let events = format!("{altered}/events.jsonl");
        println!(
            "$ cp -r {} {} && printf x | dd of={} bs=1 seek=$(( $(head -n 2 {} | wc -c) + 9 )) conv=notrunc status=none",
            quote(&pulled),
            quote(&altered),
            quote(&events),
            quote(&events)
        );
        command(&["audit".into(), "verify".into(), "--dir".into(), altered.clone()]);
        expect("DOES NOT VERIFY: event 2 of events.jsonl (3): changed (exit code 1)");
        aics("verify-inclusion", &altered, &event_2(&altered));
        expect("\"ok\": false: the leaf is not included at this index under the checkpoint (exit code 1)");
    }

    /// Onboarding a second tenant, its first verification, a rotation with no failed call, and a
    /// suspension.
    fn tenancy(&self, form: &str, cms: &str) {
        let (first_key, second_key) = (self.file("insurer.key"), self.file("insurer-rotated.key"));
        let verify = ["--purpose", "account_opening", "--cms", cms, "--content", form];
        println!(
            "\n== 5. A second tenant joins: the operator onboards an insurer on the admin port ({})",
            self.admin_url
        );
        println!("   (operator {DEMO_OPERATOR}, key {DEMO_OPERATOR_KEY}), with only the name disclosed:");
        self.admin(&[
            "create-tenant",
            SECOND_TENANT,
            "--rpcs",
            "all",
            "--certificate-kinds",
            "all",
            "--business-purposes",
            "all",
            "--four-fields",
            "name",
        ]);
        expect("the tenant, active, with its policy");
        println!("   and issues its first key, shown once (here saved to a file):");
        let line: Vec<String> =
            ["admin", "--gateway", &self.admin_url, "--api-key", DEMO_OPERATOR_KEY, "issue-key", SECOND_TENANT]
                .iter()
                .map(|argument| quote(argument))
                .collect();
        println!("$ jpkictl {} > {}", line.join(" "), quote(&first_key));
        expect("key id … (shown once: store it now)");
        println!("   Its first verification, with that key:");
        self.with_key_file("verify-signature", &first_key, &verify);
        expect("TOTAL_PASSED; only the name is disclosed to this tenant");

        println!("\n== 6. The insurer rotates its key with no failed call: the old key works for the overlap");
        println!(
            "$ jpkictl api rotate-key --gateway {} --api-key \"$(cat {})\" --overlap-seconds 3600 > {}",
            quote(&self.url),
            quote(&first_key),
            quote(&second_key)
        );
        expect("a new key; the operator-minted one now expires within the hour");
        self.with_key_file("list-keys", &second_key, &[]);
        expect("two keys, both usable; the old one with its expiry");
        self.with_key_file("verify-signature", &first_key, &verify);
        expect("TOTAL_PASSED with the old key, during the overlap");
        self.with_key_file("verify-signature", &second_key, &verify);
        expect("TOTAL_PASSED with the new key");

        println!("\n== 7. The operator suspends the insurer: its keys are refused at once");
        self.admin(&["suspend", SECOND_TENANT]);
        self.with_key_file("verify-signature", &second_key, &verify);
        expect("UNAUTHENTICATED (exit code 3); the bank's calls are not affected");
        self.admin(&["log"]);
        expect("the platform log: who created, keyed and suspended the insurer, and when");
    }
}
