//! Loading trust (anchors, policies, CRL files) into a verifier; shared by the server and jpkictl.
//! Every problem names its file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use jpki_core::cert::pem_blocks;
use jpki_core::oid::jpki;
use jpki_core::{AlgorithmPolicy, CertKind, KindConfig, TrustAnchor, UnixTime, Verifier, VerifierConfig};
use jpki_revocation::{LoadError, RevocationStore};

/// One trust anchor file (PEM or DER) for a certificate kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnchorFile {
    /// The kind the anchor issues.
    pub kind: CertKind,
    /// The certificate file.
    pub path: PathBuf,
}

/// Where trust comes from: anchor files per kind, accepted policies and CRLs. The server, the demo
/// and `jpkictl verify` load it the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustConfig {
    /// Trust anchors, per kind.
    pub anchors: Vec<AnchorFile>,
    /// Accepted certificatePolicies OIDs, per kind. Card kinds default to the published JPKI
    /// policies when none is given; smartphone kinds must be configured.
    pub policies: Vec<(CertKind, String)>,
    /// CRL files (PEM or DER) or directories of them.
    pub crls: Vec<PathBuf>,
    /// Seconds a CRL may be used after its nextUpdate.
    pub crl_grace_seconds: i64,
    /// Where every list loaded is archived under its digest (`jpki_revocation::archive`), if
    /// anywhere.
    pub archive: Option<PathBuf>,
}

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// The regular files of a directory, sorted by name; errors name the directory.
pub fn files_in(directory: &Path) -> anyhow::Result<Vec<PathBuf>> {
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

impl TrustConfig {
    /// Loads anchors, policies and CRLs (as of `at`) into a verifier; every problem names its file.
    /// Lists that are not newer than one already loaded, or expired at `at`, are set aside and
    /// reported in [`Loaded::skipped`].
    pub fn load(&self, at: UnixTime) -> anyhow::Result<Loaded> {
        if self.anchors.is_empty() {
            bail!("no trust anchors configured");
        }
        let algorithms = AlgorithmPolicy::default();
        let mut anchors: Vec<(CertKind, Vec<u8>)> = Vec::new();
        let mut checked = Vec::new();
        for file in &self.anchors {
            let der = read(&file.path)?;
            let blocks = pem_blocks(&der, "CERTIFICATE")
                .map_err(|_| anyhow::anyhow!("{}: PEM file without a CERTIFICATE block", file.path.display()))?;
            for der in blocks {
                let anchor = TrustAnchor::from_der(file.kind, &der, &algorithms)
                    .map_err(|error| anyhow::anyhow!("{}: unusable trust anchor: {error}", file.path.display()))?;
                checked.push(anchor);
                anchors.push((file.kind, der));
            }
        }
        let store = Arc::new(RevocationStore::new(checked, self.crl_grace_seconds));
        let mut lists = 0usize;
        let mut skipped = Vec::new();
        for path in &self.crls {
            let files = if path.is_dir() { files_in(path)? } else { vec![path.clone()] };
            for file in files {
                let bytes = read(&file)?;
                let blocks = pem_blocks(&bytes, "X509 CRL")
                    .map_err(|_| anyhow::anyhow!("{}: PEM file without an X509 CRL block", file.display()))?;
                for der in blocks {
                    match store.load(&file.display().to_string(), &der, at) {
                        Ok(summary) => {
                            lists += 1;
                            // Before any call can rely on it: the gateway serves after this returns.
                            if let Some(archive) = &self.archive {
                                jpki_revocation::archive::keep(archive, &summary.tbs_digest, &der).with_context(
                                    || {
                                        format!(
                                            "{}: cannot archive the list from {}",
                                            archive.display(),
                                            file.display()
                                        )
                                    },
                                )?;
                            }
                        }
                        Err(error @ (LoadError::NotNewer { .. } | LoadError::Expired { .. })) => {
                            tracing::warn!(file = %file.display(), %error, "CRL not used");
                            skipped.push(format!("{}: CRL not used: {error}", file.display()));
                        }
                        Err(error) => bail!("{}: CRL refused: {error}", file.display()),
                    }
                }
            }
        }
        let mut kinds = Vec::new();
        for kind in CertKind::ALL {
            let kind_anchors: Vec<Vec<u8>> =
                anchors.iter().filter(|(anchor_kind, _)| *anchor_kind == kind).map(|(_, der)| der.clone()).collect();
            if kind_anchors.is_empty() {
                continue;
            }
            let mut policy_oids: Vec<String> = self
                .policies
                .iter()
                .filter(|(policy_kind, _)| *policy_kind == kind)
                .map(|(_, oid)| oid.clone())
                .collect();
            if policy_oids.is_empty() {
                match kind {
                    CertKind::SigningCard => policy_oids.push(jpki::POLICY_SIGNING_CARD.to_owned()),
                    CertKind::AuthCard => policy_oids.push(jpki::POLICY_AUTH_CARD.to_owned()),
                    CertKind::SigningPhone | CertKind::AuthPhone => {
                        bail!("anchors for {kind} need at least one policy OID (no published default)")
                    }
                }
            }
            kinds.push(KindConfig { kind, anchors: kind_anchors, policy_oids, revocation: store.clone() });
        }
        let verifier = Verifier::new(VerifierConfig { kinds, algorithms, chain_cache_capacity: 1024 })?;
        Ok(Loaded { verifier: Arc::new(verifier), revocation: store, lists, skipped })
    }
}

/// A loaded verifier with its revocation store.
pub struct Loaded {
    /// The verifier.
    pub verifier: Arc<Verifier>,
    /// The revocation store the verifier consults.
    pub revocation: Arc<RevocationStore>,
    /// Number of CRLs accepted into the store.
    pub lists: usize,
    /// Lists set aside (not newer than another, or expired), one message each naming the file.
    pub skipped: Vec<String>,
}
