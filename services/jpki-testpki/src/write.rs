//! Writing the PKI to a directory with `manifest.json`, and loading cards and CAs back.
//!
//! Layout (all paths relative to the directory):
//!
//! ```text
//! manifest.json
//! anchors/<kind>-g<N>.{pem,der,key.pem}   e.g. anchors/signing-card-g1.pem
//! anchors/bundle.pem                      all eight anchors
//! holders/<id>/signing.{pem,der,key.pem}
//! holders/<id>/auth.{pem,der,key.pem}
//! bad/<case>.{pem,der,key.pem}            e.g. bad/expired.pem
//! bad/foreign_ca.issuer.{pem,der,key.pem} the foreign CA (not an anchor) that issued bad/foreign_ca
//! crl/<kind>-g<N>.crl                     empty CRL per anchor, DER
//! ```
//!
//! Keys are unencrypted PKCS#8 PEM: this is test material only.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

use crate::card::Card;
use crate::error::{Error, Result};
use crate::holder::FourFields;
use crate::keys;
use crate::pki::{BadCaseKind, Ca, IssuedCert, TestPki, VALIDATION_TIME, hex_upper};
use crate::profile::CertKind;

/// Options of [`TestPki::write_to`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// thisUpdate of the CRLs written to `crl/` (default 2026-05-31T15:00:00Z, i.e. midnight JST
    /// on 2026-06-01). Pass the current time for demos that run "now".
    pub crl_this_update: OffsetDateTime,
    /// nextUpdate of those CRLs (default one day after the default thisUpdate: JPKI publishes
    /// daily).
    pub crl_next_update: OffsetDateTime,
    /// cRLNumber of those CRLs (default 1).
    pub crl_number: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            crl_this_update: datetime!(2026-05-31 15:00:00 UTC),
            crl_next_update: datetime!(2026-06-01 15:00:00 UTC),
            crl_number: 1,
        }
    }
}

impl WriteOptions {
    /// CRLs valid from `this_update` for one day.
    pub fn with_crl_time(this_update: OffsetDateTime) -> Self {
        WriteOptions {
            crl_this_update: this_update,
            crl_next_update: this_update + time::Duration::days(1),
            crl_number: 1,
        }
    }
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version (1).
    pub format: u32,
    /// `jpki-testpki <version>`.
    pub generator: String,
    /// The seed the PKI was generated from.
    pub seed: u64,
    /// A reminder that this is test material.
    pub note: String,
    /// The validation time other tests pin (all good certificates are valid then).
    pub validation_time: String,
    /// Certificate policy OID of each kind (phone OIDs are test-only).
    pub policies: Vec<PolicyEntry>,
    /// The eight trust anchors.
    pub anchors: Vec<CaEntry>,
    /// All anchors in one PEM file.
    pub anchor_bundle_pem: String,
    /// The foreign CA (same DN as the signing CA, not an anchor).
    pub foreign_ca: CaEntry,
    /// Holders with their four fields and certificates.
    pub holders: Vec<HolderEntry>,
    /// Bad cases with the reason they must fail.
    pub bad_cases: Vec<BadCaseEntry>,
    /// The CRLs written.
    pub crls: Vec<CrlFileEntry>,
}

impl Manifest {
    /// The trust anchors' certificate files under `directory` (where the PKI was written), with
    /// their kind's configuration name (`signing_card`): what a gateway or verifier trusts.
    pub fn anchor_files(&self, directory: &Path) -> Vec<(&'static str, PathBuf)> {
        self.anchors
            .iter()
            .filter(|entry| entry.anchor)
            .map(|entry| (entry.kind.config_name(), directory.join(&entry.cert_der)))
            .collect()
    }

    /// The policy OID of each kind, by the kind's configuration name.
    pub fn policy_oids(&self) -> Vec<(&'static str, String)> {
        self.policies.iter().map(|entry| (entry.kind.config_name(), entry.policy_oid.clone())).collect()
    }
}

/// A kind and its policy OID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEntry {
    /// The kind.
    pub kind: CertKind,
    /// Its certificatePolicies OID.
    pub policy_oid: String,
    /// Whether the OID is a test-only invention.
    pub test_only: bool,
}

/// A CA in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaEntry {
    /// Label (`signing-card-g1`, ..., `foreign-ca`).
    pub label: String,
    /// Kind of certificates it issues.
    pub kind: CertKind,
    /// Generation.
    pub generation: u8,
    /// Whether it is a trust anchor.
    pub anchor: bool,
    /// Subject DN (same for both generations).
    pub subject: String,
    /// Serial, upper-case hex.
    pub serial: String,
    /// Subject key identifier, upper-case hex.
    pub subject_key_id: String,
    /// SHA-256 of the DER certificate, upper-case hex.
    pub sha256_fingerprint: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// Path of the PEM certificate.
    pub cert_pem: String,
    /// Path of the DER certificate.
    pub cert_der: String,
    /// Path of the PKCS#8 PEM key.
    pub key_pem: String,
}

/// An end-entity certificate in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertEntry {
    /// Key label.
    pub label: String,
    /// Profile kind the certificate claims.
    pub kind: CertKind,
    /// Serial, upper-case hex of the unsigned value.
    pub serial: String,
    /// Label of the issuing CA.
    pub issuer: String,
    /// Policy OID carried.
    pub policy_oid: String,
    /// SHA-256 of the DER certificate, upper-case hex.
    pub sha256_fingerprint: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// Path of the PEM certificate.
    pub cert_pem: String,
    /// Path of the DER certificate.
    pub cert_der: String,
    /// Path of the PKCS#8 PEM key.
    pub key_pem: String,
}

/// A holder in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderEntry {
    /// Holder id.
    pub id: String,
    /// Smartphone holder.
    pub phone: bool,
    /// CA generation.
    pub generation: u8,
    /// What this holder exercises.
    pub note: String,
    /// Prefecture (romaji).
    pub prefecture: String,
    /// Municipality (romaji).
    pub municipality: String,
    /// Name as the person writes it (may contain characters the certificate substitutes).
    pub name_as_written: String,
    /// Address as the person writes it.
    pub address_as_written: String,
    /// The four fields exactly as in the signing certificate.
    pub four_fields: FourFields,
    /// Signing certificate.
    pub signing: CertEntry,
    /// Authentication certificate.
    pub auth: CertEntry,
}

/// A bad case in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadCaseEntry {
    /// Which bad case.
    pub name: BadCaseKind,
    /// Why a verifier must reject it.
    pub expected_failure: String,
    /// The certificate.
    pub cert: CertEntry,
}

/// A CRL file in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlFileEntry {
    /// Label of the issuing CA.
    pub ca: String,
    /// Path of the DER CRL.
    pub path: String,
    /// thisUpdate, RFC 3339.
    pub this_update: String,
    /// nextUpdate, RFC 3339.
    pub next_update: String,
    /// cRLNumber.
    pub number: u64,
    /// Number of entries.
    pub entries: u64,
}

fn rfc3339(t: OffsetDateTime) -> Result<String> {
    t.format(&Rfc3339).map_err(|e| Error::Time(e.to_string()))
}

fn fingerprint(der: &[u8]) -> String {
    hex_upper(&Sha256::digest(der))
}

struct Out<'a> {
    dir: &'a Path,
}

impl Out<'_> {
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
    }

    /// Writes `<stem>.pem`, `<stem>.der` and `<stem>.key.pem`; returns the three paths.
    fn cert_and_key(&self, stem: &str, der: &[u8], key: &rsa::PrivateKey) -> Result<(String, String, String)> {
        let (pem_path, der_path, key_path) = (format!("{stem}.pem"), format!("{stem}.der"), format!("{stem}.key.pem"));
        self.write(&pem_path, keys::pem_encode("CERTIFICATE", der)?.as_bytes())?;
        self.write(&der_path, der)?;
        self.write(&key_path, keys::private_key_pem(key)?.as_bytes())?;
        Ok((pem_path, der_path, key_path))
    }

    fn ca(&self, stem: &str, ca: &Ca) -> Result<CaEntry> {
        let (cert_pem, cert_der, key_pem) = self.cert_and_key(stem, ca.cert_der(), ca.key())?;
        let (nb, na) = (ca.not_before(), ca.not_after());
        Ok(CaEntry {
            label: ca.label().to_owned(),
            kind: ca.kind(),
            generation: ca.generation(),
            anchor: ca.is_anchor(),
            subject: ca.kind().ca_name().to_string(),
            serial: hex_upper(ca.serial()),
            subject_key_id: hex_upper(ca.key_id()),
            sha256_fingerprint: fingerprint(ca.cert_der()),
            not_before: rfc3339(nb)?,
            not_after: rfc3339(na)?,
            cert_pem,
            cert_der,
            key_pem,
        })
    }

    fn ee(&self, stem: &str, c: &IssuedCert) -> Result<CertEntry> {
        let (cert_pem, cert_der, key_pem) = self.cert_and_key(stem, c.cert_der(), c.key())?;
        Ok(CertEntry {
            label: c.label().to_owned(),
            kind: c.kind(),
            serial: c.serial_hex(),
            issuer: c.issuer_label().to_owned(),
            policy_oid: c.policy_oid().to_owned(),
            sha256_fingerprint: fingerprint(c.cert_der()),
            not_before: rfc3339(c.not_before())?,
            not_after: rfc3339(c.not_after())?,
            cert_pem,
            cert_der,
            key_pem,
        })
    }
}

impl TestPki {
    /// Writes every certificate (PEM and DER), every key (PKCS#8 PEM), one empty CRL per anchor
    /// and `manifest.json` under `dir` (created if needed; existing files are overwritten).
    /// Returns the manifest.
    pub fn write_to(&self, dir: impl AsRef<Path>, opts: &WriteOptions) -> Result<Manifest> {
        let out = Out { dir: dir.as_ref() };
        let mut anchors = Vec::new();
        let mut bundle = String::new();
        for ca in self.cas() {
            anchors.push(out.ca(&format!("anchors/{}", ca.label()), ca)?);
            bundle.push_str(&ca.cert_pem()?);
        }
        let anchor_bundle_pem = "anchors/bundle.pem".to_owned();
        out.write(&anchor_bundle_pem, bundle.as_bytes())?;
        let foreign_ca = out.ca("bad/foreign_ca.issuer", self.foreign_ca())?;

        let mut holders = Vec::new();
        for h in self.holders() {
            let p = h.profile();
            holders.push(HolderEntry {
                id: p.id.clone(),
                phone: p.phone,
                generation: p.generation,
                note: p.note.clone(),
                prefecture: p.prefecture.clone(),
                municipality: p.municipality.clone(),
                name_as_written: p.name_as_written.clone(),
                address_as_written: p.address_as_written.clone(),
                four_fields: p.four_fields.clone(),
                signing: out.ee(&format!("holders/{}/signing", p.id), h.signing())?,
                auth: out.ee(&format!("holders/{}/auth", p.id), h.auth())?,
            });
        }

        let mut bad_cases = Vec::new();
        for b in self.bad_cases() {
            bad_cases.push(BadCaseEntry {
                name: b.kind(),
                expected_failure: b.expected_failure().to_owned(),
                cert: out.ee(&format!("bad/{}", b.kind().slug()), b.cert())?,
            });
        }

        let mut crls = Vec::new();
        for (label, der) in self.empty_crls(opts.crl_this_update, opts.crl_next_update, opts.crl_number)? {
            let path = format!("crl/{label}.crl");
            out.write(&path, &der)?;
            crls.push(CrlFileEntry {
                ca: label,
                path,
                this_update: rfc3339(opts.crl_this_update)?,
                next_update: rfc3339(opts.crl_next_update)?,
                number: opts.crl_number,
                entries: 0,
            });
        }

        let manifest = Manifest {
            format: 1,
            generator: format!("jpki-testpki {}", env!("CARGO_PKG_VERSION")),
            seed: self.seed(),
            note: "TEST MATERIAL ONLY: fictitious people, unencrypted keys, CAs that imitate the \
                   JPKI profile. Smartphone kinds use test-only names and policy OIDs."
                .to_owned(),
            validation_time: rfc3339(VALIDATION_TIME)?,
            policies: CertKind::ALL
                .into_iter()
                .map(|k| PolicyEntry { kind: k, policy_oid: k.policy_oid().to_owned(), test_only: k.is_phone() })
                .collect(),
            anchors,
            anchor_bundle_pem,
            foreign_ca,
            holders,
            bad_cases,
            crls,
        };
        let mut json = serde_json::to_string_pretty(&manifest)?;
        json.push('\n');
        out.write("manifest.json", json.as_bytes())?;
        Ok(manifest)
    }

    /// Reads `manifest.json` from a directory written by [`TestPki::write_to`].
    pub fn load_manifest(dir: impl AsRef<Path>) -> Result<Manifest> {
        let path = dir.as_ref().join("manifest.json");
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Loads a holder's card (keys, certificates, four fields) from a written directory.
    pub fn load_card(dir: impl AsRef<Path>, holder_id: &str) -> Result<Card> {
        let dir = dir.as_ref();
        let manifest = TestPki::load_manifest(dir)?;
        let h = manifest
            .holders
            .iter()
            .find(|h| h.id == holder_id)
            .ok_or_else(|| Error::UnknownHolder(holder_id.to_owned()))?;
        let (signing_key, signing_cert) = load_pair(dir, &h.signing.key_pem, &h.signing.cert_der)?;
        let (auth_key, auth_cert) = load_pair(dir, &h.auth.key_pem, &h.auth.cert_der)?;
        Ok(Card::new(h.id.clone(), Some(h.four_fields.clone()), signing_key, signing_cert, auth_key, auth_cert))
    }

    /// Loads a CA (an anchor label such as `signing-card-g2`, or `foreign-ca`) with its key from
    /// a written directory, e.g. to issue CRLs with [`Ca::issue_crl`].
    pub fn load_ca(dir: impl AsRef<Path>, label: &str) -> Result<Ca> {
        let dir = dir.as_ref();
        let manifest = TestPki::load_manifest(dir)?;
        let entry = manifest
            .anchors
            .iter()
            .chain(std::iter::once(&manifest.foreign_ca))
            .find(|c| c.label == label)
            .ok_or_else(|| Error::Invalid(format!("no CA {label:?} in the manifest")))?;
        let (key, cert) = load_pair(dir, &entry.key_pem, &entry.cert_der)?;
        Ca::from_parts(&entry.label, entry.kind, entry.generation, entry.anchor, cert, key)
    }
}

fn read(dir: &Path, rel: &str) -> Result<Vec<u8>> {
    let path: PathBuf = dir.join(rel);
    fs::read(&path).map_err(|e| Error::io(&path, e))
}

fn load_pair(dir: &Path, key_rel: &str, cert_rel: &str) -> Result<(rsa::PrivateKey, Vec<u8>)> {
    let key_pem =
        String::from_utf8(read(dir, key_rel)?).map_err(|_| Error::Encoding(format!("{key_rel} is not UTF-8")))?;
    Ok((keys::private_key_from_pem(&key_pem)?, read(dir, cert_rel)?))
}
