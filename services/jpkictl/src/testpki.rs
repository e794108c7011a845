//! `jpkictl testpki …`: the test PKI and card simulator, for integration work and demos.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use jpki_testpki::{CmsOptions, CrlEntry, HashAlg, ReasonCode, SignerIdKind, TestPki, WriteOptions};

use crate::trust::read;

/// Test-PKI subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TestPkiCommand {
    /// Generate a JPKI-profile test PKI into a directory (deterministic for a seed).
    Generate(GenerateArgs),
    /// Sign a document with a holder's card (signing certificate): CMS or raw.
    Sign(SignArgs),
    /// Sign a challenge with a holder's card (authentication certificate).
    Prove(ProveArgs),
    /// Issue a CRL from one of the test CAs, revoking holders' certificates or serials.
    Crl(CrlArgs),
    /// Write a very large CRL (millions of entries) for benchmarks, streamed to the file.
    LargeCrl(LargeCrlArgs),
}

/// `testpki generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Output directory (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed; the same seed gives byte-identical certificates.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// thisUpdate of the written CRLs (RFC 3339); default: now, with nextUpdate a day later.
    #[arg(long, value_name = "TIME")]
    pub crl_this_update: Option<String>,
}

/// `testpki sign`.
#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// Test-PKI directory.
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// Holder id (see manifest.json), e.g. h01.
    #[arg(long)]
    pub holder: String,
    /// Document to sign.
    #[arg(long = "in", value_name = "FILE")]
    pub input: PathBuf,
    /// Output file: CMS DER, or the raw signature with --raw.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Raw PKCS#1 v1.5 signature instead of CMS.
    #[arg(long)]
    pub raw: bool,
    /// CMS: include the content.
    #[arg(long)]
    pub attached: bool,
    /// CMS: sign the content directly, without signed attributes.
    #[arg(long)]
    pub no_signed_attributes: bool,
    /// CMS: identify the signer by subjectKeyIdentifier.
    #[arg(long)]
    pub skid: bool,
    /// CMS: do not embed the signer certificate.
    #[arg(long)]
    pub no_certificate: bool,
    /// Hash: sha256, sha384, sha512 or sha1 (sha1 for negative tests).
    #[arg(long, default_value = "sha256")]
    pub hash: String,
}

/// `testpki prove`.
#[derive(clap::Args, Debug)]
pub struct ProveArgs {
    /// Test-PKI directory.
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// Holder id.
    #[arg(long)]
    pub holder: String,
    /// Challenge file (the raw bytes).
    #[arg(long, value_name = "FILE", required_unless_present_any = ["challenge_hex", "challenge_file"])]
    pub challenge: Option<PathBuf>,
    /// Challenge, hex.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["challenge", "challenge_file"])]
    pub challenge_hex: Option<String>,
    /// The JSON saved by `jpkictl api issue-challenge --save` (its `challenge`, hex).
    #[arg(long, value_name = "FILE", conflicts_with = "challenge")]
    pub challenge_file: Option<PathBuf>,
    /// Output: the proof (raw signature).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `testpki crl`.
#[derive(clap::Args, Debug)]
pub struct CrlArgs {
    /// Test-PKI directory.
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// Issuing CA label, e.g. signing-card-g2 or auth-card-g2.
    #[arg(long)]
    pub ca: String,
    /// Revoke a holder's certificate from this CA: HOLDER[:REASON], e.g. h01:key-compromise.
    #[arg(long = "revoke-holder", value_name = "HOLDER[:REASON]")]
    pub revoke_holder: Vec<String>,
    /// Revoke a serial: HEX[:REASON].
    #[arg(long = "revoke-serial", value_name = "HEX[:REASON]")]
    pub revoke_serial: Vec<String>,
    /// cRLNumber.
    #[arg(long, default_value_t = 2)]
    pub number: u64,
    /// thisUpdate (RFC 3339); default now. Revocation dates are one minute before it.
    #[arg(long, value_name = "TIME")]
    pub this_update: Option<String>,
    /// Hours until nextUpdate.
    #[arg(long, default_value_t = 24)]
    pub valid_hours: i64,
    /// Output file (DER).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `testpki large-crl`.
#[derive(clap::Args, Debug)]
pub struct LargeCrlArgs {
    /// Test-PKI directory.
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// Issuing CA label.
    #[arg(long, default_value = "signing-card-g2")]
    pub ca: String,
    /// Number of entries.
    #[arg(long, default_value_t = 1_000_000)]
    pub entries: u64,
    /// Output file (DER).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

fn hash(name: &str) -> anyhow::Result<HashAlg> {
    HashAlg::ALL.into_iter().find(|hash| hash.name() == name).with_context(|| format!("--hash {name}: unknown"))
}

fn time_or_now(text: Option<&str>) -> anyhow::Result<time::OffsetDateTime> {
    let moment = crate::trust::validation_time(text)?;
    time::OffsetDateTime::from_unix_timestamp(moment.0).context("time out of range")
}

/// A reason from the command line, kebab- or snake-case (`key-compromise`). removeFromCRL and
/// aACompromise are left out: this writes complete CRLs of holder certificates.
fn reason(text: &str) -> anyhow::Result<ReasonCode> {
    let accepted = || {
        ReasonCode::ALL
            .into_iter()
            .filter(|reason| !matches!(reason, ReasonCode::RemoveFromCrl | ReasonCode::AaCompromise))
    };
    let name = text.replace('-', "_");
    accepted().find(|reason| jpki_casim::reason_name(*reason) == name).with_context(|| {
        let names: Vec<String> = accepted().map(|reason| jpki_casim::reason_name(reason).replace('_', "-")).collect();
        format!("unknown reason {:?}: {}", text.replace('_', "-"), names.join(", "))
    })
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("{}: cannot write", path.display()))
}

fn pki_error(directory: &Path) -> impl Fn(jpki_testpki::Error) -> anyhow::Error + '_ {
    move |error| anyhow::anyhow!("{}: {error}", directory.display())
}

/// Generates a PKI into `out`; CRLs valid from `crl_this_update` for a day.
pub fn generate_into(
    out: &Path,
    seed: u64,
    crl_this_update: time::OffsetDateTime,
) -> anyhow::Result<jpki_testpki::Manifest> {
    let pki = TestPki::generate(seed).map_err(pki_error(out))?;
    pki.write_to(out, &WriteOptions::with_crl_time(crl_this_update)).map_err(pki_error(out))
}

/// Runs a test-PKI subcommand.
pub fn run(command: &TestPkiCommand) -> anyhow::Result<i32> {
    match command {
        TestPkiCommand::Generate(args) => {
            let manifest = generate_into(&args.out, args.seed, time_or_now(args.crl_this_update.as_deref())?)?;
            println!("test PKI (seed {}) written to {}", args.seed, args.out.display());
            println!("  anchors: {}", manifest.anchors.len());
            for holder in &manifest.holders {
                println!("  holder {}: {}", holder.id, holder.four_fields.name);
            }
            println!("  bad cases: {}", manifest.bad_cases.len());
        }
        TestPkiCommand::Sign(args) => {
            let card = TestPki::load_card(&args.pki, &args.holder).map_err(pki_error(&args.pki))?;
            let document = read(&args.input)?;
            let hash = hash(&args.hash)?;
            let output = if args.raw {
                card.sign_document_with(&document, hash)
            } else {
                let options = CmsOptions {
                    attached: args.attached,
                    signed_attributes: !args.no_signed_attributes,
                    signer_id: if args.skid { SignerIdKind::SubjectKeyId } else { SignerIdKind::IssuerAndSerial },
                    embed_certificate: !args.no_certificate,
                    hash,
                    signing_time: time::OffsetDateTime::now_utc(),
                };
                card.sign_document_cms(&document, options)
            }
            .map_err(pki_error(&args.pki))?;
            write(&args.out, &output)?;
            println!("signed {} with {}'s card: {}", args.input.display(), args.holder, args.out.display());
        }
        TestPkiCommand::Prove(args) => {
            let card = TestPki::load_card(&args.pki, &args.holder).map_err(pki_error(&args.pki))?;
            let challenge = match (&args.challenge, &args.challenge_hex, &args.challenge_file) {
                (Some(path), _, _) => read(path)?,
                (None, Some(text), _) => hex::decode(text.trim()).context("--challenge-hex: not hex")?,
                (None, None, Some(path)) => crate::api::output::saved_challenge(path)?,
                (None, None, None) => bail!("give --challenge FILE, --challenge-hex HEX or --challenge-file FILE"),
            };
            write(&args.out, &card.prove(&challenge).map_err(pki_error(&args.pki))?)?;
            println!("proof by {}'s card written to {}", args.holder, args.out.display());
        }
        TestPkiCommand::Crl(args) => {
            let ca = TestPki::load_ca(&args.pki, &args.ca).map_err(pki_error(&args.pki))?;
            let manifest = TestPki::load_manifest(&args.pki).map_err(pki_error(&args.pki))?;
            let this_update = time_or_now(args.this_update.as_deref())?;
            let revoked_at = this_update - time::Duration::minutes(1);
            let mut entries = Vec::new();
            for item in &args.revoke_holder {
                let (holder_id, reason_text) = item.split_once(':').unwrap_or((item, "key-compromise"));
                let holder = manifest
                    .holders
                    .iter()
                    .find(|holder| holder.id == holder_id)
                    .with_context(|| format!("--revoke-holder: no holder {holder_id}"))?;
                let certificate = [&holder.signing, &holder.auth]
                    .into_iter()
                    .find(|certificate| certificate.issuer == args.ca)
                    .with_context(|| format!("--revoke-holder: {holder_id} has no certificate from {}", args.ca))?;
                let serial = hex::decode(&certificate.serial).context("manifest serial is not hex")?;
                entries.push(CrlEntry::new(serial, revoked_at).reason(reason(reason_text)?));
            }
            for item in &args.revoke_serial {
                let (serial, reason_text) = item.split_once(':').unwrap_or((item, "key-compromise"));
                let serial = hex::decode(serial).context("--revoke-serial: not hex")?;
                entries.push(CrlEntry::new(serial, revoked_at).reason(reason(reason_text)?));
            }
            let next_update = this_update + time::Duration::hours(args.valid_hours);
            let der = ca.issue_crl(this_update, next_update, args.number, &entries).map_err(pki_error(&args.pki))?;
            write(&args.out, &der)?;
            println!("CRL #{} from {} with {} entries: {}", args.number, args.ca, entries.len(), args.out.display());
        }
        TestPkiCommand::LargeCrl(args) => {
            let ca = TestPki::load_ca(&args.pki, &args.ca).map_err(pki_error(&args.pki))?;
            let file =
                std::fs::File::create(&args.out).with_context(|| format!("{}: cannot create", args.out.display()))?;
            let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
            let info =
                jpki_testpki::write_large_crl(ca.issuer(), args.entries, &mut writer).map_err(pki_error(&args.pki))?;
            std::io::Write::flush(&mut writer).with_context(|| format!("{}: cannot write", args.out.display()))?;
            println!("{} entries, {} bytes: {}", info.entry_count, info.total_len, args.out.display());
        }
    }
    Ok(0)
}
