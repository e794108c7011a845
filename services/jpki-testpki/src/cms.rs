//! CMS SignedData writer (RFC 5652), DER, one signer, RSA PKCS#1 v1.5.
//!
//! Produces what desktop tools produce from a card: a `ContentInfo` with `id-signedData`,
//! attached or detached `id-data` content, optional signed attributes (contentType,
//! messageDigest, signingTime), issuerAndSerialNumber or subjectKeyIdentifier as signer id, and
//! the signer certificate embedded or not. The signatureAlgorithm is `rsaEncryption`, as OpenSSL
//! writes it.

use rsa::PrivateKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::der;
use crate::error::Result;
use crate::keys;
use crate::profile::oid;
use crate::sign::{HashAlg, sign_digest};

/// Default signingTime: shortly before the validation time other tests pin (2026-06-01).
pub const DEFAULT_SIGNING_TIME: OffsetDateTime = datetime!(2026-05-31 23:00:00 UTC);

/// How the SignerInfo identifies the signer certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerIdKind {
    /// `issuerAndSerialNumber` (SignerInfo version 1).
    IssuerAndSerial,
    /// `[0] subjectKeyIdentifier` (SignerInfo version 3).
    SubjectKeyId,
}

/// What to put in the SignedData.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CmsOptions {
    /// Include the content (`eContent`); otherwise detached.
    pub attached: bool,
    /// Sign a set of signed attributes instead of the content directly.
    pub signed_attributes: bool,
    /// How the signer is identified.
    pub signer_id: SignerIdKind,
    /// Include the signer certificate in `certificates`.
    pub embed_certificate: bool,
    /// Digest algorithm (also the DigestInfo hash inside the RSA signature).
    pub hash: HashAlg,
    /// Value of the signingTime attribute (only with `signed_attributes`).
    pub signing_time: OffsetDateTime,
}

impl Default for CmsOptions {
    /// Detached, signed attributes, issuerAndSerialNumber, certificate embedded, SHA-256.
    fn default() -> Self {
        CmsOptions {
            attached: false,
            signed_attributes: true,
            signer_id: SignerIdKind::IssuerAndSerial,
            embed_certificate: true,
            hash: HashAlg::Sha256,
            signing_time: DEFAULT_SIGNING_TIME,
        }
    }
}

/// DER `SET OF Attribute` with contentType id-data, messageDigest and signingTime, sorted.
/// This exact encoding (tag 0x31) is what the signature covers.
pub fn signed_attributes_der(content_digest: &[u8], signing_time: OffsetDateTime) -> Result<Vec<u8>> {
    let attr = |type_oid: &str, value: Vec<u8>| -> Result<Vec<u8>> {
        Ok(der::sequence(&[&der::oid(type_oid)?, &der::set_of(vec![value])]))
    };
    Ok(der::set_of(vec![
        attr(oid::ATTR_CONTENT_TYPE, der::oid(oid::ID_DATA)?)?,
        attr(oid::ATTR_MESSAGE_DIGEST, der::octet_string(content_digest))?,
        attr(oid::ATTR_SIGNING_TIME, der::x509_time(signing_time)?)?,
    ]))
}

/// Signs `content` into a DER `ContentInfo` holding a SignedData, with any key and certificate
/// (the certificate's issuer, serial and subjectKeyIdentifier become the signer id).
pub fn sign_cms(key: &PrivateKey, cert_der: &[u8], content: &[u8], opts: &CmsOptions) -> Result<Vec<u8>> {
    let info = der::parse_certificate(cert_der)?;
    let hash = opts.hash;
    let content_digest = hash.digest(content);

    let (version, sid) = match opts.signer_id {
        SignerIdKind::IssuerAndSerial => {
            (1u64, der::sequence(&[&info.issuer, &der::tlv(der::tag::INTEGER, &info.serial_content)]))
        }
        SignerIdKind::SubjectKeyId => {
            let ski = match info.subject_key_id {
                Some(k) => k,
                None => keys::key_id_from_spki(&info.spki)?.to_vec(),
            };
            (3u64, der::implicit_primitive(0, &ski))
        }
    };

    let (signed_attrs_field, signature) = if opts.signed_attributes {
        let attrs = signed_attributes_der(&content_digest, opts.signing_time)?;
        let sig = sign_digest(key, &hash.digest(&attrs), hash)?;
        (der::retag(attrs, 0xA0), sig)
    } else {
        (Vec::new(), sign_digest(key, &content_digest, hash)?)
    };

    let digest_alg = der::algorithm_no_params(hash.digest_oid())?;
    let signer_info = der::sequence(&[
        &der::integer_u64(version),
        &sid,
        &digest_alg,
        &signed_attrs_field,
        &der::algorithm_null_params(oid::RSA_ENCRYPTION)?,
        &der::octet_string(&signature),
    ]);

    let econtent = if opts.attached { der::explicit(0, &[&der::octet_string(content)]) } else { Vec::new() };
    let encap = der::sequence(&[&der::oid(oid::ID_DATA)?, &econtent]);
    let certificates = if opts.embed_certificate { der::implicit_constructed(0, &[cert_der]) } else { Vec::new() };
    let signed_data = der::sequence(&[
        &der::integer_u64(version),
        &der::set_of(vec![digest_alg.clone()]),
        &encap,
        &certificates,
        &der::set_of(vec![signer_info]),
    ]);
    Ok(der::sequence(&[&der::oid(oid::ID_SIGNED_DATA)?, &der::explicit(0, &[&signed_data])]))
}
