//! A simple revocation source over CRL files: each list is checked (signature by the issuing
//! anchor's key, chosen by key since the anchors share a DN; dates; critical extensions) and
//! indexed. The national-scale store lives in its own crate; this one is for the CLI, tests and
//! small deployments.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::algorithm::AlgorithmPolicy;
use crate::anchor::TrustAnchor;
use crate::oid;
use crate::report::AlgorithmUse;
use crate::revocation::{
    Provenance, RevocationAnswer, RevocationQuery, RevocationReason, RevocationSource, RevocationStatus,
    UnknownStatusCause,
};
use crate::time::UnixTime;

/// Why a CRL was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    /// Not a DER CertificateList.
    #[error("not a DER CRL")]
    Malformed,
    /// Bytes after the CertificateList.
    #[error("trailing data after the CRL at byte {offset}")]
    TrailingData {
        /// Offset of the first extra byte.
        offset: usize,
    },
    /// No configured anchor has the CRL's issuer DN (and authorityKeyIdentifier).
    #[error("no trust anchor matches the CRL issuer {issuer}")]
    UnknownIssuer {
        /// Issuer DN.
        issuer: String,
    },
    /// No matching anchor's key verifies the CRL signature.
    #[error("CRL signature does not verify with any anchor named {issuer}")]
    SignatureInvalid {
        /// Issuer DN.
        issuer: String,
    },
    /// The signature algorithm is refused or unknown.
    #[error("CRL signature algorithm {algorithm} is not accepted")]
    AlgorithmRejected {
        /// Algorithm OID.
        algorithm: String,
    },
    /// A critical CRL extension the source does not process.
    #[error("unknown critical CRL extension {oid}")]
    UnknownCriticalExtension {
        /// Extension OID.
        oid: String,
    },
    /// A critical entry extension the source does not process (e.g. certificateIssuer).
    #[error("unknown critical extension {oid} on the entry for serial {serial}")]
    UnknownCriticalEntryExtension {
        /// Extension OID.
        oid: String,
        /// Entry serial, hex.
        serial: String,
    },
    /// Delta CRLs, partial-reason and indirect lists are not supported by this source.
    #[error("unsupported CRL scope: {what}")]
    UnsupportedScope {
        /// What was found.
        what: &'static str,
    },
    /// thisUpdate is after nextUpdate.
    #[error("thisUpdate {this_update} is after nextUpdate {next_update}")]
    InvertedDates {
        /// thisUpdate.
        this_update: UnixTime,
        /// nextUpdate.
        next_update: UnixTime,
    },
}

/// What a loaded list looks like.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CrlSummary {
    /// Issuer DN.
    pub issuer: String,
    /// Issuing anchor key identifier, hex.
    pub issuer_key_id: String,
    /// cRLNumber, decimal.
    pub crl_number: Option<String>,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: Option<UnixTime>,
    /// Number of entries.
    pub entries: usize,
    /// Whether the list is limited to one distribution point.
    pub scoped: bool,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    revoked_at: UnixTime,
    reason: Option<RevocationReason>,
}

#[derive(Debug)]
struct LoadedList {
    label: String,
    summary: CrlSummary,
    /// Distribution point DirName this list is limited to; `None` covers every certificate.
    scope: Option<Vec<u8>>,
    only_ca_certificates: bool,
    entries: HashMap<Vec<u8>, Entry>,
}

/// Lists per issuing anchor key identifier.
type ListsByIssuer = HashMap<Vec<u8>, Vec<Arc<LoadedList>>>;

/// CRLs indexed by issuing key. Lists can be added while the set is in use; readers take a
/// snapshot and never see a half-added list.
#[derive(Debug, Default)]
pub struct CrlSet {
    lists: RwLock<Arc<ListsByIssuer>>,
    grace_seconds: i64,
    policy: AlgorithmPolicy,
}

impl CrlSet {
    /// An empty set; lists are stale `grace_seconds` after their nextUpdate.
    pub fn new(grace_seconds: i64) -> Self {
        CrlSet { lists: RwLock::default(), grace_seconds, policy: AlgorithmPolicy::default() }
    }

    /// Checks a DER CRL against the anchors and adds it, replacing an older list of the same
    /// issuer key and scope. `label` names the list in provenance (e.g. its file or URL).
    pub fn add(&self, label: &str, der: &[u8], anchors: &[TrustAnchor]) -> Result<CrlSummary, CrlError> {
        let list = Arc::new(self.check(label, der, anchors)?);
        let summary = list.summary.clone();
        let key = hex::decode(&summary.issuer_key_id).unwrap_or_default();
        let mut guard = self.lists.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut next: ListsByIssuer = (**guard).clone();
        let per_issuer = next.entry(key).or_default();
        per_issuer
            .retain(|existing| existing.scope != list.scope || existing.summary.this_update > list.summary.this_update);
        if !per_issuer.iter().any(|existing| existing.scope == list.scope) {
            per_issuer.push(list);
        }
        *guard = Arc::new(next);
        Ok(summary)
    }

    fn check(&self, label: &str, der: &[u8], anchors: &[TrustAnchor]) -> Result<LoadedList, CrlError> {
        let (rest, crl) = CertificateRevocationList::from_der(der).map_err(|_| CrlError::Malformed)?;
        if !rest.is_empty() {
            return Err(CrlError::TrailingData { offset: der.len() - rest.len() });
        }
        // x509-parser does not check the unsigned envelope's tags: see `check_signed_envelope`.
        crate::cert::check_signed_envelope(der, crate::cert::Envelope::CertificateList)
            .map_err(|_| CrlError::Malformed)?;
        let tbs = &crl.tbs_cert_list;
        let algorithm = crl.signature_algorithm.algorithm.to_id_string();
        if crl.signature_algorithm != tbs.signature {
            return Err(CrlError::Malformed);
        }
        let hash = self
            .policy
            .check_rsa_signature_oid(&algorithm, AlgorithmUse::CertificateSignature)
            .map_err(|_| CrlError::AlgorithmRejected { algorithm: algorithm.clone() })?;
        let issuer = tbs.issuer.to_string();
        let mut authority_key_id = None;
        let mut crl_number = None;
        let mut scope = None;
        let mut only_ca_certificates = false;
        for extension in tbs.extensions() {
            let dotted = extension.oid.to_id_string();
            match extension.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec());
                }
                ParsedExtension::CRLNumber(number) => crl_number = Some(number.to_string()),
                ParsedExtension::IssuingDistributionPoint(idp) => {
                    if idp.only_some_reasons.is_some() {
                        return Err(CrlError::UnsupportedScope { what: "onlySomeReasons" });
                    }
                    if idp.indirect_crl {
                        return Err(CrlError::UnsupportedScope { what: "indirectCRL" });
                    }
                    if idp.only_contains_attribute_certs {
                        return Err(CrlError::UnsupportedScope { what: "onlyContainsAttributeCerts" });
                    }
                    only_ca_certificates = idp.only_contains_ca_certs;
                    scope = match &idp.distribution_point {
                        None => None,
                        Some(DistributionPointName::FullName(names)) => {
                            let directory = names.iter().find_map(|name| match name {
                                GeneralName::DirectoryName(directory) => Some(directory.as_raw().to_vec()),
                                _ => None,
                            });
                            Some(
                                directory
                                    .ok_or(CrlError::UnsupportedScope { what: "non-DirName distribution point" })?,
                            )
                        }
                        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                            return Err(CrlError::UnsupportedScope { what: "nameRelativeToCRLIssuer" });
                        }
                    };
                }
                _ if dotted == oid::ext::DELTA_CRL_INDICATOR => {
                    return Err(CrlError::UnsupportedScope { what: "delta CRL" });
                }
                ParsedExtension::ParseError { .. } => return Err(CrlError::Malformed),
                _ if dotted == oid::ext::ISSUER_ALT_NAME => {}
                _ if extension.critical => return Err(CrlError::UnknownCriticalExtension { oid: dotted }),
                _ => {}
            }
        }
        let candidates: Vec<&TrustAnchor> = anchors
            .iter()
            .filter(|anchor| anchor.subject_raw() == tbs.issuer.as_raw())
            .filter(|anchor| authority_key_id.as_deref().is_none_or(|id| id == anchor.key_id()))
            .collect();
        if candidates.is_empty() {
            return Err(CrlError::UnknownIssuer { issuer });
        }
        let signer = candidates
            .into_iter()
            .find(|anchor| anchor.key().verify_message(hash, tbs.as_ref(), &crl.signature_value.data))
            .ok_or_else(|| CrlError::SignatureInvalid { issuer: issuer.clone() })?;
        let this_update = UnixTime::from_asn1(&tbs.this_update);
        let next_update = tbs.next_update.as_ref().map(UnixTime::from_asn1);
        if let Some(next_update) = next_update
            && next_update < this_update
        {
            return Err(CrlError::InvertedDates { this_update, next_update });
        }
        let mut entries = HashMap::with_capacity(tbs.revoked_certificates.len());
        for revoked in crl.iter_revoked_certificates() {
            let serial = crate::der::unsigned_integer_bytes(revoked.raw_serial()).to_vec();
            for extension in revoked.extensions() {
                let dotted = extension.oid.to_id_string();
                let known = dotted == oid::ext::REASON_CODE || dotted == oid::ext::INVALIDITY_DATE;
                if extension.critical && !known {
                    return Err(CrlError::UnknownCriticalEntryExtension { oid: dotted, serial: hex::encode(&serial) });
                }
            }
            let reason = revoked.reason_code().and_then(|(_, code)| RevocationReason::from_code(code.0));
            entries.insert(serial, Entry { revoked_at: UnixTime::from_asn1(&revoked.revocation_date), reason });
        }
        let summary = CrlSummary {
            issuer,
            issuer_key_id: hex::encode(signer.key_id()),
            crl_number,
            this_update,
            next_update,
            entries: entries.len(),
            scoped: scope.is_some(),
        };
        Ok(LoadedList { label: label.to_owned(), summary, scope, only_ca_certificates, entries })
    }

    fn snapshot(&self) -> Arc<ListsByIssuer> {
        self.lists.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl RevocationSource for CrlSet {
    fn status(&self, query: &RevocationQuery<'_>) -> RevocationAnswer {
        let snapshot = self.snapshot();
        let Some(lists) = snapshot.get(query.issuer.key_id()) else {
            return RevocationAnswer::unknown(UnknownStatusCause::NoListForIssuer);
        };
        let covering = lists
            .iter()
            .filter(|list| !list.only_ca_certificates)
            .filter(|list| match &list.scope {
                None => true,
                Some(scope) => query.distribution_points.iter().any(|point| point == scope),
            })
            .max_by_key(|list| list.summary.this_update);
        let Some(list) = covering else {
            return RevocationAnswer::unknown(UnknownStatusCause::NoListForScope);
        };
        let provenance = Some(Provenance {
            list: list.label.clone(),
            crl_number: list.summary.crl_number.clone(),
            this_update: list.summary.this_update,
            next_update: list.summary.next_update,
        });
        let answer = |status| RevocationAnswer { status, provenance: provenance.clone() };
        if query.at < list.summary.this_update {
            let cause = UnknownStatusCause::ListNotYetValid { this_update: list.summary.this_update };
            return answer(RevocationStatus::Unknown { cause });
        }
        let Some(next_update) = list.summary.next_update else {
            return answer(RevocationStatus::Unknown { cause: UnknownStatusCause::ListWithoutNextUpdate });
        };
        if query.at.0 > next_update.0.saturating_add(self.grace_seconds) {
            return answer(RevocationStatus::Unknown { cause: UnknownStatusCause::ListStale { next_update } });
        }
        match list.entries.get(query.serial) {
            Some(entry) if entry.revoked_at <= query.at => {
                answer(RevocationStatus::Revoked { revoked_at: entry.revoked_at, reason: entry.reason })
            }
            _ => answer(RevocationStatus::Good),
        }
    }
}
