//! `jpkictl demo --offline`: both JPKI flows end to end, without a server, on a generated test PKI.
//!
//! Every step is a real `jpkictl` command line, printed and then run through the same parser, so
//! that what the demo prints can be pasted into a shell verbatim.

use std::path::Path;

use anyhow::Context;
use clap::Parser;

/// Prints a command line and runs it in-process; returns its exit code.
fn step(arguments: &[&str]) -> anyhow::Result<i32> {
    let line: Vec<String> = arguments.iter().map(|argument| super::quote(argument)).collect();
    println!("\n$ jpkictl {}", line.join(" "));
    let cli = crate::Cli::try_parse_from(std::iter::once("jpkictl").chain(arguments.iter().copied()))
        .context("demo built an invalid command line")?;
    crate::run(&cli.command)
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

/// Runs the demo; exit code 0 when every step gave the expected result.
pub fn run(args: &super::DemoArgs) -> anyhow::Result<i32> {
    let base = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("jpki-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&base).with_context(|| format!("{}: cannot create", base.display()))?;
    let pki = base.join("pki");
    let files = base.join("files");
    std::fs::create_dir_all(&files).with_context(|| format!("{}: cannot create", files.display()))?;
    let (pki_s, seed) = (text(&pki), args.seed.to_string());

    println!("== jpki-gateway demo: 本人確認 (account opening) and 資格確認 (login), offline");
    println!("   working directory: {}", base.display());
    println!("\n== 1. A test PKI: JPKI-profile roots (two generations, same DN), card holders, fresh CRLs");
    let mut expected_ok = step(&["testpki", "generate", "--out", &pki_s, "--seed", &seed])? == 0;
    let manifest = jpki_testpki::TestPki::load_manifest(&pki).map_err(|error| anyhow::anyhow!("{error}"))?;
    let holder = manifest
        .holders
        .iter()
        .find(|holder| !holder.phone && holder.generation == 2)
        .or_else(|| manifest.holders.first())
        .context("the test PKI has no holder")?;
    let holder_id = holder.id.clone();

    println!("\n== 2. 本人確認: the applicant signs the application form with the card's signing certificate");
    let form = files.join("application.txt");
    std::fs::write(&form, super::APPLICATION).with_context(|| format!("{}: cannot write", form.display()))?;
    let cms = files.join("application.p7s");
    let (form_s, cms_s) = (text(&form), text(&cms));
    expected_ok &=
        step(&["testpki", "sign", "--pki", &pki_s, "--holder", &holder_id, "--in", &form_s, "--out", &cms_s])? == 0;
    println!(
        "\n   The bank (through the gateway) verifies chain, validity, revocation and signature (※1) and reads the four fields (※2):"
    );
    let crl_dir = text(&pki.join("crl"));
    let verify_form =
        ["verify", "signature", "--anchors", &pki_s, "--crl", &crl_dir, "--cms", &cms_s, "--content", &form_s];
    expected_ok &= step(&verify_form)? == 0;

    println!(
        "\n== 3. 資格確認: the bank issues a random challenge; the card proves possession with the authentication certificate"
    );
    let mut challenge = [0u8; 32];
    getrandom::fill(&mut challenge).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
    let challenge_hex = hex::encode(challenge);
    let proof = files.join("proof.bin");
    let proof_s = text(&proof);
    expected_ok &= step(&[
        "testpki",
        "prove",
        "--pki",
        &pki_s,
        "--holder",
        &holder_id,
        "--challenge-hex",
        &challenge_hex,
        "--out",
        &proof_s,
    ])? == 0;
    let auth_cert = text(&pki.join(&holder.auth.cert_pem));
    let verify_proof = [
        "verify",
        "auth",
        "--anchors",
        &pki_s,
        "--crl",
        &crl_dir,
        "--cert",
        &auth_cert,
        "--challenge-hex",
        &challenge_hex,
        "--signature",
        &proof_s,
    ];
    expected_ok &= step(&verify_proof)? == 0;
    println!(
        "\n   The (CA key id, serial) above is what the bank links to its customer id (※3); the gateway's API does that."
    );

    println!("\n== 4. The card is reported lost: the CA revokes both certificates and publishes new CRLs");
    let revoked_dir = files.join("crl-after-loss");
    std::fs::create_dir_all(&revoked_dir).with_context(|| format!("{}: cannot create", revoked_dir.display()))?;
    for certificate in [&holder.signing, &holder.auth] {
        let out = text(&revoked_dir.join(format!("{}.crl", certificate.issuer)));
        let revoke = format!("{holder_id}:key-compromise");
        expected_ok &= step(&[
            "testpki",
            "crl",
            "--pki",
            &pki_s,
            "--ca",
            &certificate.issuer,
            "--revoke-holder",
            &revoke,
            "--out",
            &out,
        ])? == 0;
    }
    let revoked_s = text(&revoked_dir);
    let mut verify_again = verify_proof.to_vec();
    verify_again[5] = &revoked_s;
    println!("\n   The same proof now fails: revoked (INDETERMINATE/REVOKED_NO_POE, reason key_compromise):");
    expected_ok &= step(&verify_again)? == 2;

    println!();
    if expected_ok {
        println!("== demo complete: every step gave the expected result. Files are in {}", base.display());
        Ok(0)
    } else {
        println!("== demo FAILED: a step did not give the expected result (see above)");
        Ok(1)
    }
}
