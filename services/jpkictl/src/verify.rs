//! `jpkictl verify signature|auth`: the core on files, printing the same report the server returns.

use std::path::PathBuf;

use anyhow::{Context, bail};
use jpki_core::report::{FailureReason, InputPart, ValidationReport};
use jpki_core::{AuthProofInput, HashAlgorithm, Indication, SignatureInput, SignedContent, UnixTime};

use crate::trust::{TrustArgs, read, read_certificate, read_cms, validation_time};

/// Verify a document signature (raw or CMS).
#[derive(clap::Args, Debug)]
pub struct SignatureArgs {
    /// CMS SignedData file (DER, BER or PEM), attached or detached.
    #[arg(long, value_name = "FILE", conflicts_with = "signature")]
    pub cms: Option<PathBuf>,
    /// Raw PKCS#1 v1.5 signature file (binary).
    #[arg(long, value_name = "FILE", required_unless_present = "cms")]
    pub signature: Option<PathBuf>,
    /// Signer certificate (PEM or DER). Required with --signature; with --cms only when not embedded.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The signed content (for a raw signature, or a detached CMS).
    #[arg(long, value_name = "FILE", conflicts_with = "digest")]
    pub content: Option<PathBuf>,
    /// The digest of the signed content, hex (raw signatures only).
    #[arg(long, value_name = "HEX")]
    pub digest: Option<String>,
    /// Hash algorithm of a raw signature: sha256, sha384, sha512 (sha1 is recognised and refused).
    #[arg(long, default_value = "sha256")]
    pub hash: String,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Verify an authentication proof over a challenge.
#[derive(clap::Args, Debug)]
pub struct AuthArgs {
    /// User-authentication certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// The challenge, as a file of bytes.
    #[arg(long, value_name = "FILE", required_unless_present = "challenge_hex")]
    pub challenge: Option<PathBuf>,
    /// The challenge, hex.
    #[arg(long, value_name = "HEX", conflicts_with = "challenge")]
    pub challenge_hex: Option<String>,
    /// The proof: PKCS#1 v1.5 SHA-256 signature over the challenge (binary file).
    #[arg(long, value_name = "FILE")]
    pub signature: PathBuf,
    /// When the challenge was issued (RFC 3339); a revocation before it is a definite failure.
    #[arg(long, value_name = "TIME")]
    pub challenge_issued_at: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Files behind each input part, so that a format failure names the file.
struct InputFiles {
    certificate: Option<PathBuf>,
    cms: Option<PathBuf>,
    signature: Option<PathBuf>,
}

fn hex_argument(text: &str, flag: &str) -> anyhow::Result<Vec<u8>> {
    hex::decode(text.trim()).with_context(|| format!("{flag}: not hex"))
}

/// Runs `verify signature`; returns the process exit code.
pub fn signature(args: &SignatureArgs) -> anyhow::Result<i32> {
    let trust = args.trust.load()?;
    let hash = HashAlgorithm::parse(&args.hash).with_context(|| format!("--hash {}: unknown algorithm", args.hash))?;
    let certificate = args.cert.as_deref().map(read_certificate).transpose()?;
    let content = args.content.as_deref().map(read).transpose()?;
    let digest = args.digest.as_deref().map(|text| hex_argument(text, "--digest")).transpose()?;
    let report = if let Some(cms_path) = &args.cms {
        if digest.is_some() {
            bail!("--digest applies to raw signatures; a detached CMS takes --content");
        }
        let cms = read_cms(cms_path)?;
        let input = SignatureInput::Cms {
            cms: &cms,
            detached_content: content.as_deref(),
            certificate: certificate.as_deref(),
        };
        trust.verifier.verify_signature(&input, trust.at)
    } else {
        let signature_path = args.signature.as_deref().context("give --cms or --signature")?;
        let signature = read(signature_path)?;
        let certificate = certificate.as_deref().context("--signature needs --cert")?;
        let signed = match (&content, &digest) {
            (Some(data), None) => SignedContent::Message { data, hash },
            (None, Some(digest)) => SignedContent::Digest { digest, hash },
            _ => bail!("a raw signature needs --content FILE or --digest HEX"),
        };
        let input = SignatureInput::Raw { signature: &signature, certificate, content: signed };
        trust.verifier.verify_signature(&input, trust.at)
    };
    let files = InputFiles { certificate: args.cert.clone(), cms: args.cms.clone(), signature: args.signature.clone() };
    Ok(emit(&report, &files, args.json))
}

/// Runs `verify auth`; returns the process exit code.
pub fn auth(args: &AuthArgs) -> anyhow::Result<i32> {
    let trust = args.trust.load()?;
    let certificate = read_certificate(&args.cert)?;
    let challenge = match (&args.challenge, &args.challenge_hex) {
        (Some(path), _) => read(path)?,
        (None, Some(text)) => hex_argument(text, "--challenge-hex")?,
        (None, None) => bail!("give --challenge FILE or --challenge-hex HEX"),
    };
    let signature = read(&args.signature)?;
    let challenge_issued_at: Option<UnixTime> =
        args.challenge_issued_at.as_deref().map(|text| validation_time(Some(text))).transpose()?;
    let input =
        AuthProofInput { certificate: &certificate, challenge: &challenge, signature: &signature, challenge_issued_at };
    let report = trust.verifier.verify_auth_proof(&input, trust.at);
    let files = InputFiles { certificate: Some(args.cert.clone()), cms: None, signature: Some(args.signature.clone()) };
    Ok(emit(&report, &files, args.json))
}

/// Exit code for a report: 0 passed, 1 TOTAL_FAILED, 2 INDETERMINATE.
pub fn exit_code(report: &ValidationReport) -> i32 {
    match report.indication {
        Indication::TotalPassed => 0,
        Indication::TotalFailed => 1,
        Indication::Indeterminate => 2,
    }
}

fn emit(report: &ValidationReport, files: &InputFiles, json: bool) -> i32 {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("cannot serialise report: {error}"),
        }
    } else {
        print!("{}", crate::render::report_text(report));
        if let Some(FailureReason::Malformed { input, .. }) = &report.reason {
            let file = match input {
                InputPart::Certificate => files.certificate.as_ref(),
                InputPart::Cms | InputPart::SignedAttributes => files.cms.as_ref(),
                InputPart::SignatureValue => files.signature.as_ref(),
                InputPart::Digest => None,
            };
            if let Some(file) = file {
                println!("  malformed file    {}", file.display());
            }
        }
    }
    exit_code(report)
}
