//! Building a verifier from files: anchors per kind, policy OIDs, CRLs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use jpki_core::cert::{certificates_from_pem_or_der, pem_blocks};
use jpki_core::oid::jpki;
use jpki_core::{AlgorithmPolicy, CertKind, KindConfig, TrustAnchor, UnixTime, Verifier, VerifierConfig};
use jpki_revocation::{LoadError, RevocationStore};

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
    pub verifier: Verifier,
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

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

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

fn files_in(directory: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(directory).with_context(|| format!("{}: cannot list", directory.display()))? {
        let path = entry.with_context(|| format!("{}: cannot list", directory.display()))?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn is_certificate_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|ext| ext.to_str()), Some("pem" | "der" | "crt" | "cer"))
}

impl TrustArgs {
    /// Loads anchors, policies and CRLs; every problem names its file.
    pub fn load(&self) -> anyhow::Result<Trust> {
        let at = validation_time(self.at.as_deref())?;
        let mut anchors: Vec<(CertKind, Vec<u8>, PathBuf)> = Vec::new();
        let mut policies: Vec<(CertKind, String)> = Vec::new();
        if let Some(directory) = &self.anchors {
            if directory.join("manifest.json").is_file() {
                load_test_pki(directory, &mut anchors, &mut policies)?;
            } else {
                for path in files_in(directory)?.into_iter().filter(|path| is_certificate_file(path)) {
                    let kind = kind_of_file(&path)?;
                    for der in certificates_from_pem_or_der(&read(&path)?)
                        .map_err(|_| anyhow::anyhow!("{}: broken PEM armour", path.display()))?
                    {
                        anchors.push((kind, der, path.clone()));
                    }
                }
            }
        }
        for item in &self.anchor {
            let (kind, file) = item.split_once('=').with_context(|| format!("--anchor {item}: expected KIND=FILE"))?;
            let kind = parse_kind(kind, "--anchor")?;
            let path = PathBuf::from(file);
            for der in certificates_from_pem_or_der(&read(&path)?)
                .map_err(|_| anyhow::anyhow!("{}: broken PEM armour", path.display()))?
            {
                anchors.push((kind, der, path.clone()));
            }
        }
        for item in &self.policy {
            policies.push(parse_policy(item, "--policy")?);
        }
        if anchors.is_empty() {
            bail!("no trust anchors: give --anchors DIR or --anchor KIND=FILE");
        }
        let policy = AlgorithmPolicy::default();
        // Check each anchor on its own first, so that an error names the file.
        let mut checked = Vec::new();
        for (kind, der, path) in &anchors {
            let anchor = TrustAnchor::from_der(*kind, der, &policy)
                .map_err(|error| anyhow::anyhow!("{}: unusable trust anchor: {error}", path.display()))?;
            checked.push(anchor);
        }
        // The gateway's store: the same checks (signature by key, numbers, scopes, freshness).
        let crls = Arc::new(RevocationStore::new(checked.clone(), self.crl_grace));
        for path in &self.crl {
            let files = if path.is_dir() { files_in(path)? } else { vec![path.clone()] };
            for file in files {
                let bytes = read(&file)?;
                let blocks = pem_blocks(&bytes, "X509 CRL")
                    .map_err(|_| anyhow::anyhow!("{}: PEM file without an X509 CRL block", file.display()))?;
                for der in blocks {
                    match crls.load(&file.display().to_string(), &der, at) {
                        Ok(_) => {}
                        // A list that is not newer than one already given, or that has expired by the
                        // validation time, is set aside as the gateway would; the verification then
                        // says which list it used, or that none was fresh.
                        Err(error @ (LoadError::NotNewer { .. } | LoadError::Expired { .. })) => {
                            eprintln!("jpkictl: {}: CRL not used: {error}", file.display());
                        }
                        Err(error) => anyhow::bail!("{}: CRL refused: {error}", file.display()),
                    }
                }
            }
        }
        let mut kinds = Vec::new();
        for kind in CertKind::ALL {
            let kind_anchors: Vec<Vec<u8>> = anchors
                .iter()
                .filter(|(anchor_kind, ..)| *anchor_kind == kind)
                .map(|(_, der, _)| der.clone())
                .collect();
            if kind_anchors.is_empty() {
                continue;
            }
            let mut policy_oids: Vec<String> =
                policies.iter().filter(|(policy_kind, _)| *policy_kind == kind).map(|(_, oid)| oid.clone()).collect();
            if policy_oids.is_empty() {
                match kind {
                    CertKind::SigningCard => policy_oids.push(jpki::POLICY_SIGNING_CARD.to_owned()),
                    CertKind::AuthCard => policy_oids.push(jpki::POLICY_AUTH_CARD.to_owned()),
                    CertKind::SigningPhone | CertKind::AuthPhone => {
                        bail!("anchors for {kind} need at least one --policy {kind}=OID (no published default)")
                    }
                }
            }
            kinds.push(KindConfig { kind, anchors: kind_anchors, policy_oids, revocation: crls.clone() });
        }
        let verifier = Verifier::new(VerifierConfig { kinds, algorithms: policy, chain_cache_capacity: 1024 })?;
        Ok(Trust { verifier, at })
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

type AnchorFiles = Vec<(CertKind, Vec<u8>, PathBuf)>;

/// Anchors and policies of a directory written by `jpkictl testpki generate`.
fn load_test_pki(
    directory: &Path,
    anchors: &mut AnchorFiles,
    policies: &mut Vec<(CertKind, String)>,
) -> anyhow::Result<()> {
    let manifest = jpki_testpki::TestPki::load_manifest(directory)
        .map_err(|error| anyhow::anyhow!("{}: {error}", directory.join("manifest.json").display()))?;
    for entry in manifest.anchors.iter().filter(|entry| entry.anchor) {
        let path = directory.join(&entry.cert_der);
        anchors.push((crate::testpki::core_kind(entry.kind), read(&path)?, path));
    }
    for entry in &manifest.policies {
        policies.push((crate::testpki::core_kind(entry.kind), entry.policy_oid.clone()));
    }
    Ok(())
}
