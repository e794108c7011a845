//! The verifier: signatures (raw or CMS) and authentication proofs, end to end.
//!
//! Order of checks, as EN 319 102-1's building blocks: format, signer identification,
//! cryptographic constraints, chain building, chain constraints, message digest, signature value,
//! validity period, revocation. Definite failures of the signature itself (TOTAL_FAILED) are
//! therefore reported before time- and revocation-dependent ones (INDETERMINATE).

use std::sync::Arc;

use crate::algorithm::{AlgorithmPolicy, HashAlgorithm};
use crate::anchor::{AnchorError, TrustAnchor};
use crate::cert::ParsedCertificate;
use crate::cms::{self, SignerId};
use crate::kind::{CertKind, Purpose};
use crate::oid;
use crate::report::{
    AlgorithmUse, CertificateFacts, Check, FailureReason, InputPart, Operation, SignatureFacts, SignatureFormat,
    ValidationReport,
};
use crate::revocation::{CertId, RevocationQuery, RevocationReason, RevocationSource, RevocationStatus};
use crate::time::UnixTime;

/// Configuration of one certificate kind.
#[derive(Clone)]
pub struct KindConfig {
    /// The kind.
    pub kind: CertKind,
    /// Root certificates (DER), every generation.
    pub anchors: Vec<Vec<u8>>,
    /// certificatePolicies OIDs accepted for this kind (one must be present).
    pub policy_oids: Vec<String>,
    /// Where revocation status comes from.
    pub revocation: Arc<dyn RevocationSource>,
}

impl std::fmt::Debug for KindConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindConfig")
            .field("kind", &self.kind)
            .field("anchors", &self.anchors.len())
            .field("policy_oids", &self.policy_oids)
            .finish_non_exhaustive()
    }
}

/// Verifier configuration.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// The kinds accepted; a kind not listed is not trusted at all.
    pub kinds: Vec<KindConfig>,
    /// Algorithm policy.
    pub algorithms: AlgorithmPolicy,
    /// How many verified chains to keep (by certificate hash); 0 disables the cache.
    pub chain_cache_capacity: u64,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An anchor is unusable.
    #[error("trust anchor #{index} of {kind}: {error}")]
    Anchor {
        /// The kind.
        kind: CertKind,
        /// Position in the kind's list.
        index: usize,
        /// What is wrong.
        error: AnchorError,
    },
    /// A kind is configured twice.
    #[error("kind {0} is configured twice")]
    DuplicateKind(CertKind),
    /// A kind has no anchors or no policy OIDs, so nothing could ever pass.
    #[error("kind {0} needs at least one anchor and one policy OID")]
    IncompleteKind(CertKind),
}

/// The content a raw signature covers.
#[derive(Clone, Copy, Debug)]
pub enum SignedContent<'a> {
    /// The signed bytes; the verifier hashes them.
    Message {
        /// The bytes.
        data: &'a [u8],
        /// Hash the signer used.
        hash: HashAlgorithm,
    },
    /// A digest computed by the caller.
    Digest {
        /// The digest.
        digest: &'a [u8],
        /// Its algorithm.
        hash: HashAlgorithm,
    },
}

/// A document signature to verify.
#[derive(Clone, Copy, Debug)]
pub enum SignatureInput<'a> {
    /// A raw PKCS#1 v1.5 signature with its certificate.
    Raw {
        /// Signature value.
        signature: &'a [u8],
        /// Signer certificate, DER.
        certificate: &'a [u8],
        /// What was signed.
        content: SignedContent<'a>,
    },
    /// CMS SignedData (DER or BER).
    Cms {
        /// The ContentInfo.
        cms: &'a [u8],
        /// The content of a detached signature.
        detached_content: Option<&'a [u8]>,
        /// The signer certificate when the CMS does not embed it.
        certificate: Option<&'a [u8]>,
    },
}

/// An authentication proof: the card's signature over the relying party's challenge.
#[derive(Clone, Copy, Debug)]
pub struct AuthProofInput<'a> {
    /// User-authentication certificate, DER.
    pub certificate: &'a [u8],
    /// The challenge as issued.
    pub challenge: &'a [u8],
    /// PKCS#1 v1.5 SHA-256 signature over the challenge.
    pub signature: &'a [u8],
    /// When the challenge was issued, if known: a revocation before it is a definite failure.
    pub challenge_issued_at: Option<UnixTime>,
}

struct KindState {
    kind: CertKind,
    policy_oids: Vec<String>,
    revocation: Arc<dyn RevocationSource>,
}

/// A certificate that passed every time-independent check: parsed, within the algorithm policy,
/// chained to an anchor, and fitting its kind's profile.
struct VerifiedChain {
    certificate: ParsedCertificate,
    anchor: usize,
    id: CertId,
}

enum Loaded {
    Cached(Arc<VerifiedChain>),
    Parsed(Box<ParsedCertificate>),
}

impl Loaded {
    fn certificate(&self) -> &ParsedCertificate {
        match self {
            Loaded::Cached(chain) => &chain.certificate,
            Loaded::Parsed(certificate) => certificate,
        }
    }
}

type Outcome = Result<(), (Check, FailureReason)>;

/// Verifies signatures and proofs. Cheap to share across threads.
pub struct Verifier {
    kinds: Vec<KindState>,
    anchors: Vec<TrustAnchor>,
    algorithms: AlgorithmPolicy,
    chains: Option<moka::sync::Cache<[u8; 32], Arc<VerifiedChain>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("anchors", &self.anchors.len()).finish_non_exhaustive()
    }
}

impl Verifier {
    /// Builds a verifier; every anchor is parsed and its self-signature checked.
    pub fn new(config: VerifierConfig) -> Result<Self, ConfigError> {
        let mut kinds: Vec<KindState> = Vec::new();
        let mut anchors = Vec::new();
        for kind_config in config.kinds {
            if kinds.iter().any(|existing| existing.kind == kind_config.kind) {
                return Err(ConfigError::DuplicateKind(kind_config.kind));
            }
            if kind_config.anchors.is_empty() || kind_config.policy_oids.is_empty() {
                return Err(ConfigError::IncompleteKind(kind_config.kind));
            }
            for (index, der) in kind_config.anchors.iter().enumerate() {
                let anchor = TrustAnchor::from_der(kind_config.kind, der, &config.algorithms)
                    .map_err(|error| ConfigError::Anchor { kind: kind_config.kind, index, error })?;
                anchors.push(anchor);
            }
            kinds.push(KindState {
                kind: kind_config.kind,
                policy_oids: kind_config.policy_oids,
                revocation: kind_config.revocation,
            });
        }
        let chains = (config.chain_cache_capacity > 0)
            .then(|| moka::sync::Cache::builder().max_capacity(config.chain_cache_capacity).build());
        Ok(Verifier { kinds, anchors, algorithms: config.algorithms, chains })
    }

    /// The configured anchors, all kinds.
    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.anchors
    }

    /// The anchors of one kind.
    pub fn anchors_of(&self, kind: CertKind) -> impl Iterator<Item = &TrustAnchor> {
        self.anchors.iter().filter(move |anchor| anchor.kind() == kind)
    }

    /// Verifies a document signature at `at`.
    pub fn verify_signature(&self, input: &SignatureInput<'_>, at: UnixTime) -> ValidationReport {
        let mut report = ValidationReport::new(Operation::Signature, at);
        let outcome = match input {
            SignatureInput::Raw { signature, certificate, content } => {
                self.verify_raw(signature, certificate, content, at, &mut report)
            }
            SignatureInput::Cms { cms, detached_content, certificate } => {
                self.verify_cms(cms, *detached_content, *certificate, at, &mut report)
            }
        };
        report.conclude(outcome)
    }

    /// Verifies an authentication proof at `at`.
    pub fn verify_auth_proof(&self, input: &AuthProofInput<'_>, at: UnixTime) -> ValidationReport {
        let mut report = ValidationReport::new(Operation::AuthenticationProof, at);
        report.signature = Some(SignatureFacts {
            format: SignatureFormat::Challenge,
            hash: HashAlgorithm::Sha256.name(),
            claimed_signing_time: None,
            attached: None,
        });
        let outcome = (|| {
            let loaded = self.load(input.certificate)?;
            report.record(Check::Format, true);
            let chain = self.chain(loaded, Purpose::Authentication, &mut report)?;
            let key = chain.certificate.rsa_key().map_err(|reason| (Check::CryptoConstraints, reason))?;
            if !key.verify_message(HashAlgorithm::Sha256, input.challenge, input.signature) {
                return Err((Check::SignatureValue, FailureReason::SignatureInvalid));
            }
            report.record(Check::SignatureValue, true);
            self.check_time_and_revocation(&chain, at, input.challenge_issued_at, &mut report)
        })();
        report.conclude(outcome)
    }

    /// Validates an end-entity certificate alone at `at`, for `purpose`: the same format, chain,
    /// kind, policy, validity and revocation checks (through the kind's configured
    /// [`RevocationSource`]), failure reasons and report structure as [`Verifier::verify_signature`]
    /// and [`Verifier::verify_auth_proof`], without a signature value to check. The report's
    /// operation is [`Operation::Certificate`] and it carries no signature facts.
    ///
    /// Used to re-prove an audited answer from its evidence (the certificate and the lists relied
    /// on). No input, however malformed, panics: garbage is a format failure.
    pub fn validate_certificate(&self, certificate: &[u8], purpose: Purpose, at: UnixTime) -> ValidationReport {
        let mut report = ValidationReport::new(Operation::Certificate, at);
        let outcome = (|| {
            let loaded = self.load(certificate)?;
            report.record(Check::Format, true);
            let chain = self.chain(loaded, purpose, &mut report)?;
            self.check_time_and_revocation(&chain, at, None, &mut report)
        })();
        report.conclude(outcome)
    }

    fn verify_raw(
        &self,
        signature: &[u8],
        certificate: &[u8],
        content: &SignedContent<'_>,
        at: UnixTime,
        report: &mut ValidationReport,
    ) -> Outcome {
        let (format, hash) = match content {
            SignedContent::Message { hash, .. } => (SignatureFormat::RawMessage, *hash),
            SignedContent::Digest { hash, .. } => (SignatureFormat::RawDigest, *hash),
        };
        report.signature =
            Some(SignatureFacts { format, hash: hash.name(), claimed_signing_time: None, attached: None });
        let loaded = self.load(certificate)?;
        if let SignedContent::Digest { digest, hash } = content
            && digest.len() != hash.output_len()
        {
            let reason = FailureReason::DigestLengthMismatch { expected: hash.output_len(), found: digest.len() };
            return Err((Check::Format, reason));
        }
        report.record(Check::Format, true);
        self.algorithms
            .check_hash(hash, AlgorithmUse::DataSignature)
            .map_err(|reason| (Check::CryptoConstraints, reason))?;
        let chain = self.chain(loaded, Purpose::Signing, report)?;
        let key = chain.certificate.rsa_key().map_err(|reason| (Check::CryptoConstraints, reason))?;
        let verified = match content {
            SignedContent::Message { data, hash } => key.verify_message(*hash, data, signature),
            SignedContent::Digest { digest, hash } => key.verify_digest(*hash, digest, signature),
        };
        if !verified {
            return Err((Check::SignatureValue, FailureReason::SignatureInvalid));
        }
        report.record(Check::SignatureValue, true);
        self.check_time_and_revocation(&chain, at, None, report)
    }

    fn verify_cms(
        &self,
        input: &[u8],
        detached_content: Option<&[u8]>,
        supplied_certificate: Option<&[u8]>,
        at: UnixTime,
        report: &mut ValidationReport,
    ) -> Outcome {
        let signed = cms::parse(input).map_err(|reason| (Check::Format, reason))?;
        let digest_hash = HashAlgorithm::from_digest_oid(&signed.digest_algorithm);
        report.signature = Some(SignatureFacts {
            format: SignatureFormat::Cms,
            hash: digest_hash.map_or("unknown", HashAlgorithm::name),
            claimed_signing_time: signed.signed_attributes.as_ref().and_then(|attributes| attributes.signing_time),
            attached: Some(signed.content.is_some()),
        });
        let content: &[u8] = match (&signed.content, detached_content) {
            // `openssl cms -sign -stream` embeds the content even when asked for a detached signature,
            // so the same bytes sent twice are accepted; different bytes are ambiguous.
            (Some(attached), Some(detached)) if attached.as_ref() != detached => {
                return Err((Check::Format, FailureReason::ContentSuppliedTwice));
            }
            (Some(attached), _) => attached,
            (None, Some(detached)) => detached,
            (None, None) => return Err((Check::Format, FailureReason::DetachedContentMissing)),
        };
        if signed.signed_attributes.is_none() && signed.content_type != oid::CMS_DATA {
            return Err((Check::Format, FailureReason::UnsupportedCmsContent { content_type: signed.content_type }));
        }
        report.record(Check::Format, true);

        let loaded = self.identify_signer(&signed, supplied_certificate)?;
        report.record(Check::SignerIdentified, true);

        let crypto = |reason| (Check::CryptoConstraints, reason);
        let hash = digest_hash.ok_or_else(|| {
            crypto(FailureReason::UnsupportedAlgorithm {
                oid: signed.digest_algorithm.clone(),
                usage: AlgorithmUse::DataSignature,
            })
        })?;
        self.algorithms.check_hash(hash, AlgorithmUse::DataSignature).map_err(crypto)?;
        if signed.signature_algorithm != oid::RSA_ENCRYPTION
            && HashAlgorithm::from_rsa_signature_oid(&signed.signature_algorithm) != Some(hash)
        {
            return Err(crypto(FailureReason::UnsupportedAlgorithm {
                oid: signed.signature_algorithm.clone(),
                usage: AlgorithmUse::DataSignature,
            }));
        }
        let chain = self.chain(loaded, Purpose::Signing, report)?;
        let key = chain.certificate.rsa_key().map_err(crypto)?;

        let signed_bytes: &[u8] = match &signed.signed_attributes {
            None => content,
            Some(attributes) => {
                let content_type = attributes.content_type.as_deref().ok_or_else(|| {
                    let attribute = oid::CMS_CONTENT_TYPE.to_owned();
                    (Check::Format, FailureReason::SignedAttributeInvalid { attribute })
                })?;
                if content_type != signed.content_type {
                    return Err((Check::Format, FailureReason::ContentTypeMismatch));
                }
                let expected = attributes.message_digest.ok_or_else(|| {
                    let attribute = oid::CMS_MESSAGE_DIGEST.to_owned();
                    (Check::Format, FailureReason::SignedAttributeInvalid { attribute })
                })?;
                if hash.digest(content) != expected {
                    return Err((Check::MessageDigest, FailureReason::MessageDigestMismatch));
                }
                report.record(Check::MessageDigest, true);
                &attributes.signed_bytes
            }
        };
        if !key.verify_message(hash, signed_bytes, &signed.signature) {
            return Err((Check::SignatureValue, FailureReason::SignatureInvalid));
        }
        report.record(Check::SignatureValue, true);
        self.check_time_and_revocation(&chain, at, None, report)
    }

    /// Finds the signer's certificate: the supplied one (which must match the SignerIdentifier)
    /// or the embedded one the identifier names.
    fn identify_signer(
        &self,
        signed: &cms::SignedData<'_>,
        supplied: Option<&[u8]>,
    ) -> Result<Loaded, (Check, FailureReason)> {
        let matches = |certificate: &ParsedCertificate| match &signed.signer_id {
            SignerId::IssuerAndSerial { issuer, serial } => {
                certificate.issuer_raw == *issuer && certificate.serial == *serial
            }
            SignerId::SubjectKeyId(id) => certificate.subject_key_id.as_deref() == Some(*id),
        };
        if let Some(der) = supplied {
            let loaded = self.load(der)?;
            if !matches(loaded.certificate()) {
                return Err((Check::SignerIdentified, FailureReason::SignerIdentifierMismatch));
            }
            return Ok(loaded);
        }
        for der in &signed.certificates {
            // An embedded certificate that does not parse cannot be the signer's; skip it.
            if let Ok(loaded) = self.load(der)
                && matches(loaded.certificate())
            {
                return Ok(loaded);
            }
        }
        Err((Check::SignerIdentified, FailureReason::SigningCertificateNotFound))
    }

    /// The cached chain for a certificate, or the parsed certificate.
    fn load(&self, der: &[u8]) -> Result<Loaded, (Check, FailureReason)> {
        if let Some(chains) = &self.chains {
            let hash: [u8; 32] =
                ring::digest::digest(&ring::digest::SHA256, der).as_ref().try_into().map_err(|_| {
                    (Check::Format, FailureReason::Malformed { input: InputPart::Certificate, at_byte: None })
                })?;
            if let Some(chain) = chains.get(&hash) {
                return Ok(Loaded::Cached(chain));
            }
        }
        ParsedCertificate::parse(der)
            .map(|parsed| Loaded::Parsed(Box::new(parsed)))
            .map_err(|reason| (Check::Format, reason))
    }

    /// Runs the time-independent checks (or takes them from the cache), then checks the kind
    /// suits the operation.
    fn chain(
        &self,
        loaded: Loaded,
        purpose: Purpose,
        report: &mut ValidationReport,
    ) -> Result<Arc<VerifiedChain>, (Check, FailureReason)> {
        let chain = match loaded {
            Loaded::Cached(chain) => chain,
            Loaded::Parsed(certificate) => {
                report.certificate = Some(facts(&certificate, None));
                let chain = Arc::new(self.build(*certificate)?);
                if let Some(chains) = &self.chains {
                    chains.insert(chain.certificate.sha256, chain.clone());
                }
                chain
            }
        };
        let anchor = &self.anchors[chain.anchor];
        report.certificate = Some(facts(&chain.certificate, Some((anchor, &chain.id))));
        if chain.certificate.four_fields.is_some() && anchor.kind().purpose() == Purpose::Signing {
            // Only reported once a trusted anchor vouches for them.
            report.four_fields = chain.certificate.four_fields.clone();
        }
        for check in [Check::CryptoConstraints, Check::ChainBuilt] {
            report.record(check, true);
        }
        if anchor.kind().purpose() != purpose {
            let accepted = self.kinds.iter().map(|state| state.kind).filter(|kind| kind.purpose() == purpose).collect();
            return Err((
                Check::ChainConstraints,
                FailureReason::CertificateKindNotAccepted { found: anchor.kind(), accepted },
            ));
        }
        report.record(Check::ChainConstraints, true);
        Ok(chain)
    }

    fn build(&self, certificate: ParsedCertificate) -> Result<VerifiedChain, (Check, FailureReason)> {
        let crypto = |reason| (Check::CryptoConstraints, reason);
        let hash = self
            .algorithms
            .check_rsa_signature_oid(&certificate.signature_algorithm, AlgorithmUse::CertificateSignature)
            .map_err(crypto)?;
        let key = certificate.rsa_key().map_err(crypto)?;
        self.algorithms.check_rsa_bits(key.bits()).map_err(crypto)?;

        let same_name = |anchor: &&TrustAnchor| anchor.subject_raw() == certificate.issuer_raw.as_slice();
        let key_matches = |anchor: &TrustAnchor| certificate.authority_key_id.as_deref() == Some(anchor.key_id());
        // Anchors named by the authorityKeyIdentifier first; the rest by trying each key.
        let mut candidates: Vec<usize> =
            (0..self.anchors.len()).filter(|index| same_name(&&self.anchors[*index])).collect();
        candidates.sort_by_key(|index| !key_matches(&self.anchors[*index]));
        let anchor = candidates
            .iter()
            .copied()
            .find(|index| self.anchors[*index].key().verify_message(hash, &certificate.tbs, &certificate.signature))
            .ok_or_else(|| {
                (
                    Check::ChainBuilt,
                    FailureReason::NoAnchorVerifiesCertificate {
                        issuer: certificate.issuer.clone(),
                        anchors_tried: candidates.len(),
                    },
                )
            })?;
        let kind = self.anchors[anchor].kind();
        self.check_profile(&certificate, kind).map_err(|reason| (Check::ChainConstraints, reason))?;
        let id = CertId::new(self.anchors[anchor].key_id(), &certificate.serial);
        let mut certificate = certificate;
        // The signed bytes are no longer needed once the chain is verified.
        certificate.tbs = Vec::new();
        certificate.signature = Vec::new();
        Ok(VerifiedChain { certificate, anchor, id })
    }

    fn check_profile(&self, certificate: &ParsedCertificate, kind: CertKind) -> Result<(), FailureReason> {
        if let Some(oid) = &certificate.unknown_critical_extension {
            return Err(FailureReason::UnknownCriticalExtension { oid: oid.clone() });
        }
        // A critical extendedKeyUsage limits the key to its purposes; JPKI's profile defines none
        // for document signing or user authentication, so whatever it lists cannot be checked.
        if let Some(purposes) = &certificate.critical_extended_key_usage {
            return Err(FailureReason::CriticalExtendedKeyUsage { purposes: purposes.clone() });
        }
        if certificate.is_ca {
            return Err(FailureReason::EndEntityIsCa);
        }
        let accepted = self.kinds.iter().find(|state| state.kind == kind).map(|state| &state.policy_oids);
        let accepted = accepted.cloned().unwrap_or_default();
        if !certificate.policies.iter().any(|policy| accepted.contains(policy)) {
            return Err(FailureReason::PolicyNotAccepted { found: certificate.policies.clone(), accepted });
        }
        let required: &[&'static str] = match kind.purpose() {
            Purpose::Signing => &["digitalSignature", "nonRepudiation"],
            Purpose::Authentication => &["digitalSignature"],
        };
        let present = certificate.key_usage.map(|usage| usage.names()).unwrap_or_default();
        let forbidden = ["keyCertSign", "cRLSign"];
        if !required.iter().all(|bit| present.contains(bit)) || present.iter().any(|bit| forbidden.contains(bit)) {
            return Err(FailureReason::KeyUsageNotPermitted { required: required.to_vec(), present });
        }
        Ok(())
    }

    fn check_time_and_revocation(
        &self,
        chain: &VerifiedChain,
        at: UnixTime,
        challenge_issued_at: Option<UnixTime>,
        report: &mut ValidationReport,
    ) -> Outcome {
        let certificate = &chain.certificate;
        let anchor = &self.anchors[chain.anchor];
        let validity = Check::ValidityPeriod;
        if at < certificate.not_before {
            return Err((validity, FailureReason::CertificateNotYetValid { not_before: certificate.not_before }));
        }
        if at > certificate.not_after {
            return Err((validity, FailureReason::CertificateExpired { not_after: certificate.not_after }));
        }
        if at < anchor.not_before() || at > anchor.not_after() {
            let reason =
                FailureReason::AnchorOutsideValidity { not_before: anchor.not_before(), not_after: anchor.not_after() };
            return Err((validity, reason));
        }
        report.record(validity, true);

        let source = self.kinds.iter().find(|state| state.kind == anchor.kind()).map(|state| &state.revocation);
        let answer = match source {
            Some(source) => source.status(&RevocationQuery {
                certificate: &chain.id,
                serial: &certificate.serial,
                issuer: anchor,
                distribution_points: &certificate.crl_distribution_points,
                at,
            }),
            None => crate::revocation::RevocationAnswer::unknown(crate::revocation::UnknownStatusCause::NoSource),
        };
        let status = answer.status.clone();
        report.revocation = Some(answer);
        match status {
            RevocationStatus::Good => {
                report.record(Check::Revocation, true);
                Ok(())
            }
            // A suspension can be lifted, so it is not a revocation (EN 319 102-1 as EU DSS applies
            // it): TRY_LATER, even when it predates the challenge.
            RevocationStatus::Revoked { revoked_at, reason: Some(RevocationReason::CertificateHold) } => {
                Err((Check::Revocation, FailureReason::CertificateOnHold { held_since: revoked_at }))
            }
            RevocationStatus::Revoked { revoked_at, reason } => Err((
                Check::Revocation,
                match challenge_issued_at {
                    Some(issued) if revoked_at <= issued => {
                        FailureReason::RevokedBeforeProof { revoked_at, reason, challenge_issued_at: issued }
                    }
                    _ => FailureReason::Revoked { revoked_at, reason },
                },
            )),
            RevocationStatus::Unknown { cause } => {
                Err((Check::Revocation, FailureReason::RevocationStatusUnknown { cause }))
            }
        }
    }
}

fn facts(certificate: &ParsedCertificate, anchor: Option<(&TrustAnchor, &CertId)>) -> CertificateFacts {
    CertificateFacts {
        kind: anchor.map(|(anchor, _)| anchor.kind()),
        ca_key_id: anchor.map(|(_, id)| id.ca_key_id.clone()),
        serial: hex::encode(&certificate.serial),
        issuer: certificate.issuer.clone(),
        subject: certificate.subject.clone(),
        not_before: certificate.not_before,
        not_after: certificate.not_after,
        policies: certificate.policies.clone(),
        sha256: hex::encode(certificate.sha256),
        anchor_sha256: anchor.map(|(anchor, _)| hex::encode(anchor.sha256())),
    }
}
