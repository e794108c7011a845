//! Trust anchors: the JPKI root CAs, one set per certificate kind.
//!
//! Every generation of a JPKI root has the same subject DN and no authorityKeyIdentifier, so
//! anchors are told apart by key ([`TrustAnchor::key_id`]), never by name.

use crate::algorithm::AlgorithmPolicy;
use crate::cert::{KeyUsageBits, ParsedCertificate};
use crate::kind::CertKind;
use crate::report::FailureReason;
use crate::signed_data::RsaKey;
use crate::time::UnixTime;

/// A configured root CA.
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    kind: CertKind,
    certificate: ParsedCertificate,
    key: RsaKey,
    key_id: Vec<u8>,
    der: Vec<u8>,
}

/// Why a certificate cannot serve as a trust anchor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// The certificate does not parse, or its key is unusable.
    #[error("trust anchor is not a usable certificate: {0:?}")]
    Unusable(FailureReason),
    /// basicConstraints does not say cA, or keyUsage lacks keyCertSign.
    #[error("trust anchor is not a CA certificate (basicConstraints cA and keyCertSign required)")]
    NotCa,
    /// The anchor carries a critical extendedKeyUsage: JPKI roots have none, and a restriction of
    /// the key to purposes the verifier cannot check would be ignored.
    #[error("trust anchor has a critical extendedKeyUsage ({purposes:?})")]
    CriticalExtendedKeyUsage {
        /// The KeyPurposeIds listed, dotted.
        purposes: Vec<String>,
    },
    /// The self-signature does not verify.
    #[error("trust anchor's self-signature does not verify")]
    SelfSignatureInvalid,
}

impl TrustAnchor {
    /// Parses and checks a root certificate for a kind.
    pub fn from_der(kind: CertKind, der: &[u8], policy: &AlgorithmPolicy) -> Result<Self, AnchorError> {
        let certificate = ParsedCertificate::parse(der).map_err(AnchorError::Unusable)?;
        let key = certificate.rsa_key().map_err(AnchorError::Unusable)?.clone();
        policy.check_rsa_bits(key.bits()).map_err(AnchorError::Unusable)?;
        let can_sign_certificates = certificate.key_usage.is_none_or(|usage| usage.key_cert_sign);
        if !certificate.is_ca || !can_sign_certificates {
            return Err(AnchorError::NotCa);
        }
        if let Some(purposes) = &certificate.critical_extended_key_usage {
            return Err(AnchorError::CriticalExtendedKeyUsage { purposes: purposes.clone() });
        }
        let hash = policy
            .check_rsa_signature_oid(
                &certificate.signature_algorithm,
                crate::report::AlgorithmUse::CertificateSignature,
            )
            .map_err(AnchorError::Unusable)?;
        if !key.verify_message(hash, &certificate.tbs, &certificate.signature) {
            return Err(AnchorError::SelfSignatureInvalid);
        }
        // RFC 5280 method 1 when the anchor carries no subjectKeyIdentifier.
        let key_id = certificate.subject_key_id.clone().unwrap_or_else(|| {
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key.pkcs1()).as_ref().to_vec()
        });
        Ok(TrustAnchor { kind, certificate, key, key_id, der: der.to_vec() })
    }

    /// The kind this anchor issues.
    pub fn kind(&self) -> CertKind {
        self.kind
    }

    /// The key identifier: subjectKeyIdentifier, or SHA-1 of the key when absent.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The anchor's RSA key.
    pub fn key(&self) -> &RsaKey {
        &self.key
    }

    /// Subject DN, raw DER.
    pub fn subject_raw(&self) -> &[u8] {
        &self.certificate.subject_raw
    }

    /// Subject DN, RFC 4514.
    pub fn subject(&self) -> &str {
        &self.certificate.subject
    }

    /// keyUsage, when the certificate has the extension (absent: every use is allowed).
    pub fn key_usage(&self) -> Option<KeyUsageBits> {
        self.certificate.key_usage
    }

    /// notBefore.
    pub fn not_before(&self) -> UnixTime {
        self.certificate.not_before
    }

    /// notAfter.
    pub fn not_after(&self) -> UnixTime {
        self.certificate.not_after
    }

    /// SHA-256 of the DER.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.certificate.sha256
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}
