//! Card simulator: what a My Number card (or a smartphone with JPKI) does for a client.
//!
//! A [`Card`] holds a signing key and certificate and an authentication key and certificate.
//! Like the real card it signs what it is given with RSA PKCS#1 v1.5 over a DigestInfo; the
//! client software picks the hash. [`Signer`] does the same for any key and certificate, so the
//! bad-case certificates can sign too.

use rsa::PrivateKey;

use crate::cms::{CmsOptions, sign_cms};
use crate::error::Result;
use crate::holder::FourFields;
use crate::sign::{HashAlg, sign_digest, sign_message};

/// Any signing identity: a private key and its certificate (DER).
#[derive(Clone, Copy, Debug)]
pub struct Signer<'a> {
    key: &'a PrivateKey,
    cert_der: &'a [u8],
}

impl<'a> Signer<'a> {
    /// A signer over `key` and `cert_der` (they are not checked against each other, so a
    /// mismatching pair can be used for negative tests).
    pub fn new(key: &'a PrivateKey, cert_der: &'a [u8]) -> Self {
        Signer { key, cert_der }
    }
    /// The key.
    pub fn key(&self) -> &'a PrivateKey {
        self.key
    }
    /// The certificate, DER.
    pub fn cert_der(&self) -> &'a [u8] {
        self.cert_der
    }
    /// Raw PKCS#1 v1.5 signature over `message` hashed with `hash`.
    pub fn sign_message(&self, message: &[u8], hash: HashAlg) -> Result<Vec<u8>> {
        sign_message(self.key, message, hash)
    }
    /// Raw PKCS#1 v1.5 signature over a precomputed digest.
    pub fn sign_digest(&self, digest: &[u8], hash: HashAlg) -> Result<Vec<u8>> {
        sign_digest(self.key, digest, hash)
    }
    /// CMS SignedData (DER ContentInfo) over `content`.
    pub fn sign_cms(&self, content: &[u8], opts: CmsOptions) -> Result<Vec<u8>> {
        sign_cms(self.key, self.cert_der, content, &opts)
    }
}

/// A holder's card (or smartphone): signing and user-authentication keys with their certificates.
#[derive(Clone, Debug)]
pub struct Card {
    holder_id: String,
    four_fields: Option<FourFields>,
    signing_key: PrivateKey,
    signing_cert: Vec<u8>,
    auth_key: PrivateKey,
    auth_cert: Vec<u8>,
}

impl Card {
    /// A card from its parts.
    pub fn new(
        holder_id: String,
        four_fields: Option<FourFields>,
        signing_key: PrivateKey,
        signing_cert: Vec<u8>,
        auth_key: PrivateKey,
        auth_cert: Vec<u8>,
    ) -> Card {
        Card { holder_id, four_fields, signing_key, signing_cert, auth_key, auth_cert }
    }

    /// The holder id.
    pub fn holder_id(&self) -> &str {
        &self.holder_id
    }
    /// The holder's four fields, when known (always for generated PKIs and loaded directories).
    pub fn four_fields(&self) -> Option<&FourFields> {
        self.four_fields.as_ref()
    }
    /// The signing certificate (署名用電子証明書), DER.
    pub fn signing_cert_der(&self) -> &[u8] {
        &self.signing_cert
    }
    /// The user-authentication certificate (利用者証明用電子証明書), DER.
    pub fn auth_cert_der(&self) -> &[u8] {
        &self.auth_cert
    }
    /// The signing key and certificate as a [`Signer`].
    pub fn signing_signer(&self) -> Signer<'_> {
        Signer::new(&self.signing_key, &self.signing_cert)
    }
    /// The authentication key and certificate as a [`Signer`].
    pub fn auth_signer(&self) -> Signer<'_> {
        Signer::new(&self.auth_key, &self.auth_cert)
    }

    /// 電子署名: raw SHA-256 PKCS#1 v1.5 signature over the document with the signing key.
    pub fn sign_document(&self, document: &[u8]) -> Result<Vec<u8>> {
        sign_message(&self.signing_key, document, HashAlg::Sha256)
    }
    /// Raw signature over the document with a chosen hash (SHA-1 for negative tests).
    pub fn sign_document_with(&self, document: &[u8], hash: HashAlg) -> Result<Vec<u8>> {
        sign_message(&self.signing_key, document, hash)
    }
    /// Raw signature over a digest the client computed (as JPKI SDKs send it to the card).
    pub fn sign_digest(&self, digest: &[u8], hash: HashAlg) -> Result<Vec<u8>> {
        sign_digest(&self.signing_key, digest, hash)
    }
    /// CMS SignedData over the document with the signing key and certificate.
    pub fn sign_document_cms(&self, document: &[u8], opts: CmsOptions) -> Result<Vec<u8>> {
        sign_cms(&self.signing_key, &self.signing_cert, document, &opts)
    }
    /// 電子利用者証明: SHA-256 signature over the relying party's challenge with the auth key.
    pub fn prove(&self, challenge: &[u8]) -> Result<Vec<u8>> {
        sign_message(&self.auth_key, challenge, HashAlg::Sha256)
    }
}
