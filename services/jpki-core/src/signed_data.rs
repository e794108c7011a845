//! RSA PKCS#1 v1.5 verification of a message or of a pre-computed digest.

use rsa::pkcs1::DecodeRsaPublicKey;

use crate::algorithm::HashAlgorithm;
use crate::der::{self, Reader, tag};

/// An RSA public key as found in a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaKey {
    /// The DER `RSAPublicKey` (PKCS#1), the subjectPublicKey bits.
    pkcs1: Vec<u8>,
    /// Modulus length in bits.
    bits: usize,
}

/// Why bytes are not an acceptable RSA public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not a DER `RSAPublicKey`.
    Malformed,
    /// The public exponent is even, below 3 or over 33 bits.
    BadExponent,
}

impl RsaKey {
    /// Parses a DER `RSAPublicKey`.
    pub fn from_pkcs1(pkcs1: &[u8]) -> Result<Self, KeyError> {
        let sequence = der::parse_single(pkcs1, false).map_err(|_| KeyError::Malformed)?;
        if sequence.tag != tag::SEQUENCE {
            return Err(KeyError::Malformed);
        }
        let mut reader: Reader<'_> = sequence.reader(false);
        let modulus = reader.read(tag::INTEGER).map_err(|_| KeyError::Malformed)?;
        let exponent = reader.read(tag::INTEGER).map_err(|_| KeyError::Malformed)?;
        reader.finish().map_err(|_| KeyError::Malformed)?;
        if modulus.contents.first().is_none_or(|first| first & 0x80 != 0) {
            return Err(KeyError::Malformed); // empty or negative
        }
        let modulus = der::unsigned_integer_bytes(modulus.contents);
        let bits = modulus.len() * 8 - modulus.first().map_or(8, |first| first.leading_zeros() as usize);
        let exponent = der::unsigned_integer_bytes(exponent.contents);
        let exponent_odd = exponent.last().is_some_and(|last| last & 1 == 1);
        let exponent_small = exponent.len() == 1 && exponent[0] < 3;
        if !exponent_odd || exponent_small || exponent.len() > 5 {
            return Err(KeyError::BadExponent);
        }
        Ok(RsaKey { pkcs1: pkcs1.to_vec(), bits })
    }

    /// The DER `RSAPublicKey`, i.e. the certificate's subjectPublicKey bits.
    pub fn pkcs1(&self) -> &[u8] {
        &self.pkcs1
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Verifies a signature over `message` (ring hashes it). SHA-1 is never verified here:
    /// the policy refuses it before.
    pub fn verify_message(&self, hash: HashAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn ring::signature::VerificationAlgorithm = match hash {
            HashAlgorithm::Sha1 => return false,
            HashAlgorithm::Sha256 => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            HashAlgorithm::Sha384 => &ring::signature::RSA_PKCS1_2048_8192_SHA384,
            HashAlgorithm::Sha512 => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
        };
        ring::signature::UnparsedPublicKey::new(algorithm, &self.pkcs1).verify(message, signature).is_ok()
    }

    /// Verifies a signature over a digest computed elsewhere. ring always hashes, so this path
    /// uses the rsa crate's pre-hash verification.
    pub fn verify_digest(&self, hash: HashAlgorithm, digest: &[u8], signature: &[u8]) -> bool {
        let Ok(key) = rsa::PublicKey::from_pkcs1_der(&self.pkcs1) else { return false };
        let scheme = match hash {
            HashAlgorithm::Sha1 => return false,
            HashAlgorithm::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            HashAlgorithm::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            HashAlgorithm::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        };
        digest.len() == hash.output_len() && key.verify(scheme, digest, signature).is_ok()
    }
}
