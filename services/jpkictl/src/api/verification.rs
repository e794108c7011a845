//! VerificationService: `verify-signature` (本人確認), `issue-challenge` and `verify-auth-proof`
//! (資格確認).

use std::path::PathBuf;

use anyhow::Context;
use jpki_api::v1::{
    ApplicantData, BusinessPurpose, CmsSignature, HashAlgorithm, IssueChallengeRequest, RawSignature,
    VerifyAuthProofRequest, VerifySignatureRequest, raw_signature, verify_signature_request,
};

use super::client::{Connection, Rpc};
use super::output::{answer, exit_code, four_fields_text, result_text, saved_string, timestamp, to_json};
use crate::trust::{read, read_certificate, read_cms};

/// `api verify-signature`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("form").required(true).args(["cms", "raw"]))]
pub struct VerifySignatureArgs {
    /// CMS SignedData (DER, BER or PEM).
    #[arg(long, value_name = "FILE")]
    pub cms: Option<PathBuf>,
    /// A raw PKCS#1 v1.5 signature value (needs --certificate and --content or --digest-hex).
    #[arg(long, value_name = "SIGFILE", requires = "certificate")]
    pub raw: Option<PathBuf>,
    /// The signed content (CMS: of a detached signature).
    #[arg(long, value_name = "FILE")]
    pub content: Option<PathBuf>,
    /// Raw: the digest of the signed content instead of the content, hex.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["content", "cms"])]
    pub digest_hex: Option<String>,
    /// The signer's certificate (PEM or DER): required with --raw, for CMS when it is not embedded.
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<PathBuf>,
    /// Raw: the hash the signer used.
    #[arg(long, value_parser = ["sha256", "sha384", "sha512", "sha1"], conflicts_with = "cms")]
    pub hash: Option<String>,
    /// Applicant's name as typed in the application, to compare with the certificate's.
    #[arg(long)]
    pub name: Option<String>,
    /// Applicant's date of birth as typed, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date_of_birth: Option<String>,
    /// Applicant's address as typed.
    #[arg(long)]
    pub address: Option<String>,
    /// Applicant's sex: 1 male, 2 female, 3 not stated.
    #[arg(long, value_name = "1|2|3")]
    pub sex: Option<String>,
    /// Why the bank verifies (the gateway records it; the tenant must be allowed it).
    #[arg(long, value_parser = ["account_opening", "remittance", "periodic_reverification"], default_value = "account_opening")]
    pub purpose: String,
    /// Write the response as JSON to this file (for `api link --signature-verification`).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
}

/// `api issue-challenge`.
#[derive(clap::Args, Debug)]
pub struct IssueChallengeArgs {
    /// Your transaction reference, echoed by verify-auth-proof.
    #[arg(long, value_name = "REF", default_value = "")]
    pub transaction_reference: String,
    /// Write challenge_id, challenge (hex) and expires_at as JSON to this file (for
    /// `testpki prove --challenge-file` and `api verify-auth-proof --challenge`).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
}

/// `api verify-auth-proof`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["challenge", "challenge_id"]))]
pub struct VerifyAuthProofArgs {
    /// The JSON file saved by `api issue-challenge --save`.
    #[arg(long, value_name = "FILE")]
    pub challenge: Option<PathBuf>,
    /// The challenge id from issue-challenge.
    #[arg(long, value_name = "ID")]
    pub challenge_id: Option<String>,
    /// The user-authentication certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub certificate: PathBuf,
    /// The card's signature over the challenge (raw bytes, e.g. from `testpki prove`).
    #[arg(long, value_name = "FILE")]
    pub signature: PathBuf,
    /// Why the bank verifies (the gateway records it; the tenant must be allowed it).
    #[arg(long, value_parser = ["login", "remittance", "periodic_reverification"], default_value = "login")]
    pub purpose: String,
    /// Write the response as JSON to this file (for `api link --auth-verification`).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
}

fn hash(name: Option<&str>) -> HashAlgorithm {
    match name {
        Some("sha1") => HashAlgorithm::Sha1,
        Some("sha384") => HashAlgorithm::Sha384,
        Some("sha512") => HashAlgorithm::Sha512,
        Some(_) => HashAlgorithm::Sha256,
        None => HashAlgorithm::Unspecified,
    }
}

/// The API's purpose of a `--purpose` name (the configuration's names, lowercase).
fn purpose(name: &str) -> anyhow::Result<i32> {
    let purpose = BusinessPurpose::from_str_name(&name.to_ascii_uppercase())
        .filter(|purpose| *purpose != BusinessPurpose::Unspecified)
        .with_context(|| format!("--purpose: unknown business purpose {name:?}"))?;
    Ok(purpose.into())
}

/// VerifySignature.
pub async fn verify_signature(connection: &Connection, args: &VerifySignatureArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let signature = match (&args.cms, &args.raw) {
        (Some(cms), _) => verify_signature_request::Signature::Cms(CmsSignature {
            cms: read_cms(cms)?,
            detached_content: args.content.as_deref().map(read).transpose()?.unwrap_or_default(),
            certificate: args.certificate.as_deref().map(read_certificate).transpose()?.unwrap_or_default(),
        }),
        (None, Some(raw)) => {
            let certificate = args.certificate.as_deref().context("--raw needs --certificate")?;
            let signed = match (&args.content, &args.digest_hex) {
                (Some(content), _) => raw_signature::Signed::Content(read(content)?),
                (None, Some(digest)) => {
                    raw_signature::Signed::Digest(hex::decode(digest.trim()).context("--digest-hex: not hex")?)
                }
                (None, None) => anyhow::bail!("--raw needs --content FILE or --digest-hex HEX"),
            };
            verify_signature_request::Signature::Raw(RawSignature {
                signature: read(raw)?,
                certificate: read_certificate(certificate)?,
                signed: Some(signed),
                hash: hash(args.hash.as_deref()).into(),
            })
        }
        (None, None) => anyhow::bail!("give --cms FILE or --raw SIGFILE"),
    };
    let typed = [&args.name, &args.date_of_birth, &args.address, &args.sex];
    let applicant = typed.iter().any(|field| field.is_some()).then(|| ApplicantData {
        name: args.name.clone().unwrap_or_default(),
        date_of_birth: args.date_of_birth.clone().unwrap_or_default(),
        address: args.address.clone().unwrap_or_default(),
        sex: args.sex.clone().unwrap_or_default(),
    });
    let request =
        VerifySignatureRequest { signature: Some(signature), applicant, business_purpose: purpose(&args.purpose)? };
    let gateway = connection.connect().await?;
    let response = gateway.verification().verify_signature(request).await.rpc()?;
    let value = to_json(&response, "jpki.gateway.v1.VerifySignatureResponse")?;
    let mut text = String::new();
    result_text(&mut text, "signature", response.result.as_ref());
    if let Some(fields) = &response.four_fields {
        four_fields_text(&mut text, fields);
    }
    answer(json, &value, &text, args.save.as_ref())?;
    Ok(exit_code(response.result.as_ref()))
}

/// IssueChallenge. The saved and printed JSON has the challenge in hex (what `testpki prove
/// --challenge-hex` takes), not the proto mapping's base64.
pub async fn issue_challenge(connection: &Connection, args: &IssueChallengeArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let request = IssueChallengeRequest { transaction_reference: args.transaction_reference.clone() };
    let gateway = connection.connect().await?;
    let response = gateway.verification().issue_challenge(request).await.rpc()?;
    let mut value = to_json(&response, "jpki.gateway.v1.IssueChallengeResponse")?;
    value["challenge"] = serde_json::Value::String(hex::encode(&response.challenge));
    let text = format!(
        "challenge issued\n  challenge id      {}\n  challenge         {}\n  expires at        {}\n",
        response.challenge_id,
        hex::encode(&response.challenge),
        timestamp(response.expires_at.as_ref())
    );
    answer(json, &value, &text, args.save.as_ref())?;
    Ok(0)
}

/// VerifyAuthProof.
pub async fn verify_auth_proof(connection: &Connection, args: &VerifyAuthProofArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let challenge_id = match (&args.challenge, &args.challenge_id) {
        (Some(path), _) => saved_string(path, "/challenge_id", "`jpkictl api issue-challenge --save`")?,
        (None, Some(id)) => id.clone(),
        (None, None) => anyhow::bail!("give --challenge FILE or --challenge-id ID"),
    };
    let request = VerifyAuthProofRequest {
        challenge_id,
        certificate: read_certificate(&args.certificate)?,
        signature: read(&args.signature)?,
        business_purpose: purpose(&args.purpose)?,
    };
    let gateway = connection.connect().await?;
    let response = gateway.verification().verify_auth_proof(request).await.rpc()?;
    let value = to_json(&response, "jpki.gateway.v1.VerifyAuthProofResponse")?;
    let mut text = String::new();
    result_text(&mut text, "authentication proof", response.result.as_ref());
    let customer = if response.customer_id.is_empty() { "no customer linked" } else { response.customer_id.as_str() };
    text.push_str(&format!("  customer          {customer}\n"));
    if !response.transaction_reference.is_empty() {
        text.push_str(&format!("  transaction ref   {}\n", response.transaction_reference));
    }
    answer(json, &value, &text, args.save.as_ref())?;
    Ok(exit_code(response.result.as_ref()))
}
