//! Raw RSA PKCS#1 v1.5 signatures, as the card produces them: the card signs a DER DigestInfo
//! and does not enforce the hash, so SHA-1 is possible too.
//!
//! Signatures are computed without blinding randomness; PKCS#1 v1.5 is deterministic, so the
//! output is the same either way.

use rsa::{Pkcs1v15Sign, PrivateKey};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::der;
use crate::error::{Error, Result};
use crate::profile::oid;

/// A hash algorithm for signatures and CMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    /// SHA-1 (the card accepts it; verifiers should reject it).
    Sha1,
    /// SHA-256 (the JPKI default).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// All algorithms.
    pub const ALL: [HashAlg; 4] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The digest algorithm OID (`id-sha256`, ...).
    pub fn digest_oid(self) -> &'static str {
        match self {
            HashAlg::Sha1 => oid::SHA1,
            HashAlg::Sha256 => oid::SHA256,
            HashAlg::Sha384 => oid::SHA384,
            HashAlg::Sha512 => oid::SHA512,
        }
    }

    /// The `<hash>WithRSAEncryption` signature algorithm OID.
    pub fn rsa_signature_oid(self) -> &'static str {
        match self {
            HashAlg::Sha1 => oid::SHA1_WITH_RSA,
            HashAlg::Sha256 => oid::SHA256_WITH_RSA,
            HashAlg::Sha384 => oid::SHA384_WITH_RSA,
            HashAlg::Sha512 => oid::SHA512_WITH_RSA,
        }
    }

    /// Name as OpenSSL spells it: `sha1`, `sha256`, ...
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finalize()
    }

    /// An incremental hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            HashAlg::Sha1 => Hasher::Sha1(Sha1::new()),
            HashAlg::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlg::Sha384 => Hasher::Sha384(Sha384::new()),
            HashAlg::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// `AlgorithmIdentifier` of the `<hash>WithRSAEncryption` signature (NULL parameters).
    pub fn signature_algorithm_der(self) -> Result<Vec<u8>> {
        der::algorithm_null_params(self.rsa_signature_oid())
    }
}

/// An incremental hash over one of the [`HashAlg`] algorithms.
#[derive(Clone, Debug)]
pub enum Hasher {
    /// SHA-1 state.
    Sha1(Sha1),
    /// SHA-256 state.
    Sha256(Sha256),
    /// SHA-384 state.
    Sha384(Sha384),
    /// SHA-512 state.
    Sha512(Sha512),
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// Returns the digest.
    pub fn finalize(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// DER `DigestInfo ::= SEQUENCE { AlgorithmIdentifier (with NULL parameters), OCTET STRING }`.
pub fn digest_info(digest: &[u8], alg: HashAlg) -> Result<Vec<u8>> {
    if digest.len() != alg.output_len() {
        return Err(Error::Invalid(format!(
            "{} digest must be {} bytes, got {}",
            alg.name(),
            alg.output_len(),
            digest.len()
        )));
    }
    Ok(der::sequence(&[&der::algorithm_null_params(alg.digest_oid())?, &der::octet_string(digest)]))
}

/// RSA PKCS#1 v1.5 signature over a precomputed digest (wrapped in a DigestInfo first).
pub fn sign_digest(key: &PrivateKey, digest: &[u8], alg: HashAlg) -> Result<Vec<u8>> {
    let info = digest_info(digest, alg)?;
    Ok(key.sign(Pkcs1v15Sign::new_unprefixed(), &info)?)
}

/// RSA PKCS#1 v1.5 signature over a message hashed with `alg`.
pub fn sign_message(key: &PrivateKey, message: &[u8], alg: HashAlg) -> Result<Vec<u8>> {
    sign_digest(key, &alg.digest(message), alg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_info_sha256_prefix() {
        let di = digest_info(&[0u8; 32], HashAlg::Sha256).unwrap();
        assert_eq!(
            &di[..19],
            &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
                0x04, 0x20
            ]
        );
        assert!(digest_info(&[0u8; 31], HashAlg::Sha256).is_err());
    }

    #[test]
    fn signatures_verify_with_rsa() {
        let key = crate::keys::derive_key(3, "sign-test", 1024).unwrap();
        let public = key.to_public_key();
        for alg in HashAlg::ALL {
            let sig = sign_message(&key, b"hello", alg).unwrap();
            let d = alg.digest(b"hello");
            match alg {
                HashAlg::Sha1 => public.verify(Pkcs1v15Sign::new_unprefixed(), &digest_info(&d, alg).unwrap(), &sig),
                HashAlg::Sha256 => public.verify(Pkcs1v15Sign::new::<Sha256>(), &d, &sig),
                HashAlg::Sha384 => public.verify(Pkcs1v15Sign::new::<Sha384>(), &d, &sig),
                HashAlg::Sha512 => public.verify(Pkcs1v15Sign::new::<Sha512>(), &d, &sig),
            }
            .unwrap();
        }
    }
}
