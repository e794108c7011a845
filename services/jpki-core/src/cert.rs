//! Parsing a certificate into the facts the verifier needs, once.
//!
//! x509-parser does the DER; this module turns its view into owned, typed facts and refuses
//! what the profile cannot accept (wrong version, mismatched algorithms, non-RSA keys, unknown
//! critical extensions are recorded for the constraint check).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::der::{self, DerError, tag};
use crate::four_fields::{self, FourFields};
use crate::oid;
use crate::report::{AlgorithmUse, FailureReason, InputPart};
use crate::signed_data::{KeyError, RsaKey};
use crate::time::UnixTime;

/// keyUsage bits the profile cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyUsageBits {
    /// digitalSignature.
    pub digital_signature: bool,
    /// nonRepudiation (contentCommitment).
    pub non_repudiation: bool,
    /// keyCertSign.
    pub key_cert_sign: bool,
    /// cRLSign.
    pub crl_sign: bool,
}

impl KeyUsageBits {
    /// Names of the bits set.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.digital_signature, "digitalSignature"),
            (self.non_repudiation, "nonRepudiation"),
            (self.key_cert_sign, "keyCertSign"),
            (self.crl_sign, "cRLSign"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

/// Everything the verifier uses from one certificate, owned so that it can be cached.
#[derive(Clone, Debug)]
pub struct ParsedCertificate {
    /// SHA-256 of the DER.
    pub sha256: [u8; 32],
    /// Serial number, big-endian, without leading zero bytes.
    pub serial: Vec<u8>,
    /// Issuer DN, raw DER.
    pub issuer_raw: Vec<u8>,
    /// Issuer DN, RFC 4514 text.
    pub issuer: String,
    /// Subject DN, raw DER.
    pub subject_raw: Vec<u8>,
    /// Subject DN, RFC 4514 text.
    pub subject: String,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// The CA's signature algorithm, dotted OID.
    pub signature_algorithm: String,
    /// The to-be-signed bytes.
    pub tbs: Vec<u8>,
    /// The CA's signature value.
    pub signature: Vec<u8>,
    /// The subject's key, when it is RSA.
    pub key: Result<RsaKey, KeyProblem>,
    /// subjectKeyIdentifier.
    pub subject_key_id: Option<Vec<u8>>,
    /// authorityKeyIdentifier keyIdentifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// keyUsage, if present.
    pub key_usage: Option<KeyUsageBits>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// certificatePolicies OIDs.
    pub policies: Vec<String>,
    /// The first critical extension the core does not process.
    pub unknown_critical_extension: Option<String>,
    /// The KeyPurposeIds (dotted) of an extendedKeyUsage marked critical; `None` when absent or
    /// non-critical (advisory only, RFC 5280 4.2.1.12).
    pub critical_extended_key_usage: Option<Vec<String>>,
    /// cRLDistributionPoints DirName fullNames, raw DER.
    pub crl_distribution_points: Vec<Vec<u8>>,
    /// The four fields, if the subjectAltName carries them.
    pub four_fields: Option<FourFields>,
}

/// Why the subject key is unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyProblem {
    /// Not rsaEncryption.
    NotRsa {
        /// The key algorithm, dotted.
        oid: String,
    },
    /// rsaEncryption, but the key does not parse or has a bad exponent.
    Invalid,
}

/// Extensions the verifier processes; any other critical one is refused.
const KNOWN_EXTENSIONS: [&str; 9] = [
    oid::ext::SUBJECT_KEY_IDENTIFIER,
    oid::ext::KEY_USAGE,
    oid::ext::SUBJECT_ALT_NAME,
    oid::ext::ISSUER_ALT_NAME,
    oid::ext::BASIC_CONSTRAINTS,
    oid::ext::CRL_DISTRIBUTION_POINTS,
    oid::ext::CERTIFICATE_POLICIES,
    oid::ext::AUTHORITY_KEY_IDENTIFIER,
    oid::ext::EXT_KEY_USAGE,
];

fn malformed(at_byte: Option<usize>) -> FailureReason {
    FailureReason::Malformed { input: InputPart::Certificate, at_byte }
}

impl ParsedCertificate {
    /// Parses a DER certificate. Errors are format failures; profile violations are recorded
    /// as facts for the constraint checks.
    pub fn parse(der: &[u8]) -> Result<Self, FailureReason> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|_| malformed(None))?;
        if !rest.is_empty() {
            return Err(malformed(Some(der.len() - rest.len())));
        }
        check_signed_envelope(der, Envelope::Certificate).map_err(|offset| malformed(Some(offset)))?;
        let tbs = &cert.tbs_certificate;
        if tbs.version.0 != 2 {
            return Err(FailureReason::UnsupportedCertificateVersion { version: tbs.version.0 });
        }
        if cert.signature_algorithm != tbs.signature {
            return Err(FailureReason::SignatureAlgorithmMismatch);
        }
        let sha256: [u8; 32] =
            ring::digest::digest(&ring::digest::SHA256, der).as_ref().try_into().map_err(|_| malformed(None))?;
        let mut parsed = ParsedCertificate {
            sha256,
            serial: crate::der::unsigned_integer_bytes(tbs.raw_serial()).to_vec(),
            issuer_raw: tbs.issuer.as_raw().to_vec(),
            issuer: tbs.issuer.to_string(),
            subject_raw: tbs.subject.as_raw().to_vec(),
            subject: tbs.subject.to_string(),
            not_before: UnixTime::from_asn1(&tbs.validity.not_before),
            not_after: UnixTime::from_asn1(&tbs.validity.not_after),
            signature_algorithm: cert.signature_algorithm.algorithm.to_id_string(),
            tbs: tbs.as_ref().to_vec(),
            signature: cert.signature_value.data.to_vec(),
            key: subject_key(&tbs.subject_pki),
            subject_key_id: None,
            authority_key_id: None,
            key_usage: None,
            is_ca: false,
            policies: Vec::new(),
            unknown_critical_extension: None,
            critical_extended_key_usage: None,
            crl_distribution_points: Vec::new(),
            four_fields: None,
        };
        // RFC 5280 4.2: one instance per extension. With two subjectAltNames (two sets of four
        // fields) or two keyUsages, which one counts would be ambiguous; x509-parser keeps both
        // (found by the `resign` fuzz target).
        let mut seen = Vec::new();
        for extension in tbs.extensions() {
            if seen.contains(&&extension.oid) {
                return Err(malformed(None));
            }
            seen.push(&extension.oid);
            parsed.absorb_extension(extension)?;
        }
        Ok(parsed)
    }

    fn absorb_extension(
        &mut self,
        extension: &x509_parser::extensions::X509Extension<'_>,
    ) -> Result<(), FailureReason> {
        let dotted = extension.oid.to_id_string();
        if !KNOWN_EXTENSIONS.contains(&dotted.as_str()) {
            if extension.critical && self.unknown_critical_extension.is_none() {
                self.unknown_critical_extension = Some(dotted);
            }
            return Ok(());
        }
        match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => self.subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                self.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
            }
            ParsedExtension::KeyUsage(usage) => {
                self.key_usage = Some(KeyUsageBits {
                    digital_signature: usage.digital_signature(),
                    non_repudiation: usage.non_repudiation(),
                    key_cert_sign: usage.key_cert_sign(),
                    crl_sign: usage.crl_sign(),
                });
            }
            ParsedExtension::BasicConstraints(constraints) => self.is_ca = constraints.ca,
            ParsedExtension::CertificatePolicies(policies) => {
                self.policies = policies.iter().map(|policy| policy.policy_id.to_id_string()).collect();
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(x509_parser::extensions::DistributionPointName::FullName(names)) =
                        &point.distribution_point
                    {
                        for name in names {
                            if let GeneralName::DirectoryName(directory) = name {
                                self.crl_distribution_points.push(directory.as_raw().to_vec());
                            }
                        }
                    }
                }
            }
            ParsedExtension::SubjectAlternativeName(_) => {
                self.four_fields = four_fields::extract(extension.value);
            }
            ParsedExtension::ExtendedKeyUsage(_) if extension.critical => {
                self.critical_extended_key_usage = Some(extended_key_purposes(extension.value)?);
            }
            ParsedExtension::IssuerAlternativeName(_) | ParsedExtension::ExtendedKeyUsage(_) => {}
            ParsedExtension::ParseError { .. } => return Err(malformed(None)),
            _ => {}
        }
        Ok(())
    }

    /// The key, or the reason it cannot be used, as a crypto-constraint failure.
    pub fn rsa_key(&self) -> Result<&RsaKey, FailureReason> {
        match &self.key {
            Ok(key) => Ok(key),
            Err(KeyProblem::NotRsa { oid }) => {
                Err(FailureReason::UnsupportedAlgorithm { oid: oid.clone(), usage: AlgorithmUse::PublicKey })
            }
            Err(KeyProblem::Invalid) => Err(malformed(None)),
        }
    }
}

/// The KeyPurposeIds of an extendedKeyUsage value (`SEQUENCE SIZE (1..MAX) OF OBJECT IDENTIFIER`),
/// dotted, in encoded order; x509-parser has already checked the encoding.
fn extended_key_purposes(value: &[u8]) -> Result<Vec<String>, FailureReason> {
    let sequence = der::parse_single(value, false).map_err(|_| malformed(None))?;
    let mut reader = sequence.reader(false);
    let mut purposes = Vec::new();
    while !reader.is_empty() {
        let element = reader.read(tag::OID).map_err(|_| malformed(None))?;
        purposes.push(der::oid_to_string(element.contents).ok_or_else(|| malformed(None))?);
    }
    Ok(purposes)
}

/// The signed structures [`check_signed_envelope`] knows.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Envelope {
    /// X.509 Certificate: tbsCertificate starts with `[0] version`, serialNumber, signature.
    Certificate,
}

/// Strict DER check of the bytes of a signed X.509 structure that its signature does not cover.
///
/// x509-parser ignores the tag bytes of the outer SEQUENCE and of the outer signatureAlgorithm
/// (class, constructed bit, even the OID's tag) and accepts unused bits in the signature BIT
/// STRING, so without this check single-bit changes outside the signed part gave a certificate
/// with different bytes (and SHA-256) that still verified (found by the bit-flip property test).
/// Requires `SEQUENCE { SEQUENCE tbs, SEQUENCE algorithm, BIT STRING with 0 unused bits }` in DER,
/// and the outer algorithm byte-identical to the one inside the signed part.
/// Returns the offset of the first offending element.
pub(crate) fn check_signed_envelope(der: &[u8], envelope: Envelope) -> Result<(), usize> {
    let at = |error: DerError| match error {
        DerError::Truncated { offset }
        | DerError::InvalidEncoding { offset }
        | DerError::UnexpectedTag { offset, .. }
        | DerError::TrailingData { offset }
        | DerError::TooDeep { offset } => offset,
    };
    let outer = der::parse_single(der, false).map_err(at)?;
    if outer.tag != tag::SEQUENCE {
        return Err(0);
    }
    let mut reader = outer.reader(false);
    let signed = reader.read(tag::SEQUENCE).map_err(at)?;
    let algorithm = reader.read(tag::SEQUENCE).map_err(at)?;
    let signature = reader.read(tag::BIT_STRING).map_err(at)?;
    reader.finish().map_err(at)?;
    let mut algorithm_reader = algorithm.reader(false);
    algorithm_reader.read(tag::OID).map_err(at)?;
    if !algorithm_reader.is_empty() {
        algorithm_reader.read_any().map_err(at)?; // parameters (NULL for RSA)
    }
    algorithm_reader.finish().map_err(at)?;
    if signature.contents.first() != Some(&0) {
        return Err(signature.offset);
    }
    let mut signed_reader = signed.reader(false);
    match envelope {
        Envelope::Certificate => {
            signed_reader.read_optional(tag::CONTEXT_0).map_err(at)?; // [0] version
            signed_reader.read(tag::INTEGER).map_err(at)?; // serialNumber
        }
    }
    let inner_algorithm = signed_reader.read(tag::SEQUENCE).map_err(at)?;
    if inner_algorithm.raw != algorithm.raw {
        return Err(algorithm.offset);
    }
    Ok(())
}

fn subject_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<RsaKey, KeyProblem> {
    let algorithm = spki.algorithm.algorithm.to_id_string();
    if algorithm != oid::RSA_ENCRYPTION {
        return Err(KeyProblem::NotRsa { oid: algorithm });
    }
    RsaKey::from_pkcs1(&spki.subject_public_key.data).map_err(|problem| match problem {
        KeyError::Malformed | KeyError::BadExponent => KeyProblem::Invalid,
    })
}

/// Splits PEM (one or more `CERTIFICATE` blocks) or returns DER as is.
pub fn certificates_from_pem_or_der(bytes: &[u8]) -> Result<Vec<Vec<u8>>, FailureReason> {
    pem_blocks(bytes, "CERTIFICATE")
}

/// Splits PEM blocks with the given label, or returns DER input as one item.
pub fn pem_blocks(bytes: &[u8], label: &str) -> Result<Vec<Vec<u8>>, FailureReason> {
    let is_pem = bytes.windows(11).any(|window| window == b"-----BEGIN ");
    if !is_pem {
        return Ok(vec![bytes.to_vec()]);
    }
    let mut blocks = Vec::new();
    for pem in x509_parser::pem::Pem::iter_from_buffer(bytes) {
        let pem = pem.map_err(|_| malformed(None))?;
        if pem.label == label {
            blocks.push(pem.contents);
        }
    }
    if blocks.is_empty() {
        return Err(malformed(None));
    }
    Ok(blocks)
}
