//! Building a verifier from files: anchors per kind, policy OIDs, CRLs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use jpki_app::trust::{AnchorFile, TrustConfig, files_in};
use jpki_core::cert::{certificates_from_pem_or_der, pem_blocks};
use jpki_core::{CertKind, UnixTime, Verifier};

/// Where trust comes from, shared by every verifying subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct TrustArgs {
    /// Directory of root certificates (PEM or DER). Each file name starts with its kind:
    /// signing-card, auth-card, signing-phone or auth-phone. A test-PKI directory (with
    /// `manifest.json`) works as is: its anchors and policy OIDs are used.
    #[arg(long, value_name = "DIR")]
    pub anchors: Option<PathBuf>,
    /// One root certificate file for a kind, as KIND=FILE. Repeatable.
    #[arg(long = "anchor", value_name = "KIND=FILE")]
    pub anchor: Vec<String>,
    /// An accepted certificatePolicies OID for a kind, as KIND=OID. Repeatable. Card kinds default
    /// to the published JPKI policies; smartphone kinds have no default and must be configured.
    #[arg(long = "policy", value_name = "KIND=OID")]
    pub policy: Vec<String>,
    /// CRL files (PEM or DER) or directories of them. Without any, revocation status is unknown
    /// and every verification is INDETERMINATE/TRY_LATER: there is no way to skip the check.
    #[arg(long = "crl", value_name = "PATH")]
    pub crl: Vec<PathBuf>,
    /// Seconds a CRL may be used after its nextUpdate.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub crl_grace: i64,
    /// Validation time (RFC 3339, e.g. 2026-06-01T00:00:00Z); default: now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// Everything a verification needs.
pub struct Trust {
    /// The verifier.
    pub verifier: Arc<Verifier>,
    /// The validation time.
    pub at: UnixTime,
}

/// Parses `--at`, or takes the current time.
pub fn validation_time(at: Option<&str>) -> anyhow::Result<UnixTime> {
    match at {
        Some(text) => UnixTime::parse_rfc3339(text)
            .with_context(|| format!("--at {text}: not an RFC 3339 time such as 2026-06-01T00:00:00Z")),
        None => Ok(UnixTime(time::OffsetDateTime::now_utc().unix_timestamp())),
    }
}

pub use jpki_app::trust::read;

/// Reads the first certificate of a PEM or DER file.
pub fn read_certificate(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = read(path)?;
    let mut certificates = certificates_from_pem_or_der(&bytes)
        .map_err(|_| anyhow::anyhow!("{}: PEM armour is broken or holds no CERTIFICATE block", path.display()))?;
    match certificates.len() {
        1 => Ok(certificates.remove(0)),
        count => bail!("{}: holds {count} certificates, expected one", path.display()),
    }
}

/// Reads a CMS file: DER/BER, or PEM labelled CMS or PKCS7.
pub fn read_cms(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = read(path)?;
    for label in ["CMS", "PKCS7"] {
        if let Ok(mut blocks) = pem_blocks(&bytes, label)
            && blocks.len() == 1
            && blocks[0] != bytes
        {
            return Ok(blocks.remove(0));
        }
    }
    if bytes.starts_with(b"-----BEGIN ") {
        bail!("{}: PEM file without a CMS or PKCS7 block", path.display());
    }
    Ok(bytes)
}

fn parse_kind(text: &str, origin: &str) -> anyhow::Result<CertKind> {
    CertKind::parse(text).with_context(|| {
        format!("{origin}: unknown kind {text:?}; expected signing-card, auth-card, signing-phone or auth-phone")
    })
}

fn kind_of_file(path: &Path) -> anyhow::Result<CertKind> {
    let stem = path.file_name().and_then(|name| name.to_str()).unwrap_or_default().replace('-', "_");
    CertKind::ALL.into_iter().find(|kind| stem.starts_with(kind.as_str())).with_context(|| {
        format!(
            "{}: file name does not start with a kind (signing-card, auth-card, signing-phone, auth-phone)",
            path.display()
        )
    })
}

fn is_certificate_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|ext| ext.to_str()), Some("pem" | "der" | "crt" | "cer"))
}

/// Adds a directory of anchors to `config`: a test-PKI directory (with `manifest.json`: its
/// anchors and policy OIDs), or root certificates (PEM or DER, `.pem`/`.der`/`.crt`/`.cer`) whose
/// file names start with their kind.
///
/// # Errors
/// An unreadable directory or manifest, or a file name that names no kind.
pub fn add_anchor_dir(config: &mut TrustConfig, directory: &Path) -> anyhow::Result<()> {
    if directory.join("manifest.json").is_file() {
        let manifest = jpki_testpki::TestPki::load_manifest(directory)
            .map_err(|error| anyhow::anyhow!("{}: {error}", directory.join("manifest.json").display()))?;
        for (kind, path) in manifest.anchor_files(directory) {
            config.anchors.push(AnchorFile { kind: parse_kind(kind, "manifest.json")?, path });
        }
        for (kind, oid) in manifest.policy_oids() {
            config.policies.push((parse_kind(kind, "manifest.json")?, oid));
        }
    } else {
        for path in files_in(directory)?.into_iter().filter(|path| is_certificate_file(path)) {
            config.anchors.push(AnchorFile { kind: kind_of_file(&path)?, path });
        }
    }
    Ok(())
}

impl TrustArgs {
    /// Loads anchors, policies and CRLs exactly as the gateway does; every problem names its file.
    pub fn load(&self) -> anyhow::Result<Trust> {
        let at = validation_time(self.at.as_deref())?;
        let mut config =
            TrustConfig { crls: self.crl.clone(), crl_grace_seconds: self.crl_grace, ..TrustConfig::default() };
        if let Some(directory) = &self.anchors {
            add_anchor_dir(&mut config, directory)?;
        }
        for item in &self.anchor {
            let (kind, file) = item.split_once('=').with_context(|| format!("--anchor {item}: expected KIND=FILE"))?;
            config.anchors.push(AnchorFile { kind: parse_kind(kind, "--anchor")?, path: PathBuf::from(file) });
        }
        for item in &self.policy {
            config.policies.push(parse_policy(item, "--policy")?);
        }
        if config.anchors.is_empty() {
            bail!("no trust anchors: give --anchors DIR or --anchor KIND=FILE");
        }
        let loaded = config.load(at)?;
        for message in &loaded.skipped {
            eprintln!("jpkictl: {message}");
        }
        Ok(Trust { verifier: loaded.verifier, at })
    }
}

fn parse_policy(item: &str, origin: &str) -> anyhow::Result<(CertKind, String)> {
    let (kind, oid) = item.split_once('=').with_context(|| format!("{origin}: {item:?}: expected KIND=OID"))?;
    let oid = oid.trim();
    if oid.is_empty() || !oid.split('.').all(|arc| !arc.is_empty() && arc.bytes().all(|byte| byte.is_ascii_digit())) {
        bail!("{origin}: {oid:?} is not a dotted OID");
    }
    Ok((parse_kind(kind.trim(), origin)?, oid.to_owned()))
}
