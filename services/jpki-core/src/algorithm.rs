//! Algorithm policy: which hashes and key sizes are accepted.

use serde::Serialize;

use crate::oid;
use crate::report::{AlgorithmUse, FailureReason};

/// Hash algorithms that can appear in JPKI signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// SHA-1: recognised so that it can be refused precisely.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// Lowercase name (`sha256`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    /// Parses a name such as `sha256` or `SHA-256`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Some(HashAlgorithm::Sha1),
            "sha256" => Some(HashAlgorithm::Sha256),
            "sha384" => Some(HashAlgorithm::Sha384),
            "sha512" => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// Digest length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    /// From a digest algorithm OID (`id-sha256`).
    pub fn from_digest_oid(dotted: &str) -> Option<Self> {
        match dotted {
            oid::SHA1 => Some(HashAlgorithm::Sha1),
            oid::SHA256 => Some(HashAlgorithm::Sha256),
            oid::SHA384 => Some(HashAlgorithm::Sha384),
            oid::SHA512 => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// From an RSA PKCS#1 v1.5 signature algorithm OID (`sha256WithRSAEncryption`).
    pub fn from_rsa_signature_oid(dotted: &str) -> Option<Self> {
        match dotted {
            oid::SHA1_WITH_RSA => Some(HashAlgorithm::Sha1),
            oid::SHA256_WITH_RSA => Some(HashAlgorithm::Sha256),
            oid::SHA384_WITH_RSA => Some(HashAlgorithm::Sha384),
            oid::SHA512_WITH_RSA => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }

    /// Hashes `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let algorithm = match self {
            HashAlgorithm::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha256 => &ring::digest::SHA256,
            HashAlgorithm::Sha384 => &ring::digest::SHA384,
            HashAlgorithm::Sha512 => &ring::digest::SHA512,
        };
        ring::digest::digest(algorithm, data).as_ref().to_vec()
    }
}

/// What the verifier accepts. The defaults are the project's policy: RSA of at least 2048 bits,
/// SHA-256/384/512. Nothing weaker can be configured; the policy can only be tightened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmPolicy {
    min_rsa_bits: usize,
}

impl Default for AlgorithmPolicy {
    fn default() -> Self {
        AlgorithmPolicy { min_rsa_bits: Self::FLOOR_RSA_BITS }
    }
}

impl AlgorithmPolicy {
    /// The smallest RSA modulus ever accepted.
    pub const FLOOR_RSA_BITS: usize = 2048;

    /// A policy requiring at least `bits` (never below [`Self::FLOOR_RSA_BITS`]).
    pub fn with_min_rsa_bits(bits: usize) -> Self {
        AlgorithmPolicy { min_rsa_bits: bits.max(Self::FLOOR_RSA_BITS) }
    }

    /// The minimum RSA modulus length.
    pub fn min_rsa_bits(&self) -> usize {
        self.min_rsa_bits
    }

    /// Checks a hash algorithm.
    pub fn check_hash(&self, hash: HashAlgorithm, usage: AlgorithmUse) -> Result<(), FailureReason> {
        match hash {
            HashAlgorithm::Sha1 => {
                Err(FailureReason::HashAlgorithmRejected { algorithm: hash.name().to_owned(), usage })
            }
            HashAlgorithm::Sha256 | HashAlgorithm::Sha384 | HashAlgorithm::Sha512 => Ok(()),
        }
    }

    /// Checks an RSA modulus length.
    pub fn check_rsa_bits(&self, bits: usize) -> Result<(), FailureReason> {
        if bits < self.min_rsa_bits {
            Err(FailureReason::KeyTooSmall { bits, minimum: self.min_rsa_bits })
        } else {
            Ok(())
        }
    }

    /// Maps an RSA signature algorithm OID to its hash and checks it; unknown algorithms fail closed.
    pub fn check_rsa_signature_oid(&self, dotted: &str, usage: AlgorithmUse) -> Result<HashAlgorithm, FailureReason> {
        let hash = HashAlgorithm::from_rsa_signature_oid(dotted)
            .ok_or_else(|| FailureReason::UnsupportedAlgorithm { oid: dotted.to_owned(), usage })?;
        self.check_hash(hash, usage)?;
        Ok(hash)
    }
}
