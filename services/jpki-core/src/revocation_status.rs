//! The revocation answer types: what a source says about a certificate, and where the answer
//! came from. Kept apart from the source interface ([`crate::revocation`]) so that the report can
//! carry an answer without depending on trust anchors; this module depends only on `time`.

use serde::Serialize;

use crate::time::UnixTime;

/// CRL reason codes (RFC 5280 5.3.1), with JPKI's business meaning in the docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// 0: unspecified.
    Unspecified,
    /// 1: keyCompromise (card lost or stolen).
    KeyCompromise,
    /// 2: cACompromise.
    CaCompromise,
    /// 3: affiliationChanged (a basic-four field changed: moved, renamed).
    AffiliationChanged,
    /// 4: superseded (renewed).
    Superseded,
    /// 5: cessationOfOperation (death, emigration, removal from the register).
    CessationOfOperation,
    /// 6: certificateHold.
    CertificateHold,
    /// 8: removeFromCRL.
    RemoveFromCrl,
    /// 9: privilegeWithdrawn.
    PrivilegeWithdrawn,
    /// 10: aACompromise.
    AaCompromise,
}

impl RevocationReason {
    /// Every reason, in code order.
    pub const ALL: [RevocationReason; 10] = [
        RevocationReason::Unspecified,
        RevocationReason::KeyCompromise,
        RevocationReason::CaCompromise,
        RevocationReason::AffiliationChanged,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::CertificateHold,
        RevocationReason::RemoveFromCrl,
        RevocationReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise,
    ];

    /// The CRLReason ENUMERATED value.
    pub fn code(self) -> u8 {
        self.entry().0
    }

    /// The snake_case wire name (`key_compromise`), as reports, events and the CLI spell it; the same
    /// as the serde name.
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// From the CRLReason ENUMERATED value; 7 and values above 10 are not defined.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.code() == code)
    }

    /// From the exact wire name ([`RevocationReason::name`]); other spellings are not accepted.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.name() == name)
    }

    /// The one table of codes and names; `code`, `name` and both `from_` look-ups read it.
    fn entry(self) -> (u8, &'static str) {
        match self {
            RevocationReason::Unspecified => (0, "unspecified"),
            RevocationReason::KeyCompromise => (1, "key_compromise"),
            RevocationReason::CaCompromise => (2, "ca_compromise"),
            RevocationReason::AffiliationChanged => (3, "affiliation_changed"),
            RevocationReason::Superseded => (4, "superseded"),
            RevocationReason::CessationOfOperation => (5, "cessation_of_operation"),
            RevocationReason::CertificateHold => (6, "certificate_hold"),
            RevocationReason::RemoveFromCrl => (8, "remove_from_crl"),
            RevocationReason::PrivilegeWithdrawn => (9, "privilege_withdrawn"),
            RevocationReason::AaCompromise => (10, "aa_compromise"),
        }
    }
}

/// Why the status is unknown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnknownStatusCause {
    /// No revocation source is configured for the kind.
    NoSource,
    /// No list has been loaded for the issuing CA key.
    NoListForIssuer,
    /// Lists exist for the issuer, but none covers the certificate's distribution point.
    NoListForScope,
    /// The covering list is past nextUpdate (plus the configured grace).
    ListStale {
        /// The list's nextUpdate.
        next_update: UnixTime,
    },
    /// The covering list has no nextUpdate, so its freshness cannot be judged.
    ListWithoutNextUpdate,
    /// The covering list's thisUpdate is after the validation time.
    ListNotYetValid {
        /// The list's thisUpdate.
        this_update: UnixTime,
    },
    /// The source could not be consulted.
    SourceUnavailable,
}

/// Status of a certificate at a time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RevocationStatus {
    /// Not on a fresh list that covers it.
    Good,
    /// On the list, revoked at or before the validation time.
    Revoked {
        /// revocationDate.
        revoked_at: UnixTime,
        /// reasonCode, if present.
        reason: Option<RevocationReason>,
    },
    /// Cannot be established; never treated as good.
    Unknown {
        /// Why.
        #[serde(flatten)]
        cause: UnknownStatusCause,
    },
}

/// Where an answer came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The list's identifier (source name or distribution point).
    pub list: String,
    /// cRLNumber, decimal.
    pub crl_number: Option<String>,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: Option<UnixTime>,
    /// Each list the answer rests on: the complete list, then its delta when there is one.
    pub lists: Vec<ListIdentity>,
}

/// One revocation list, identified for an audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListIdentity {
    /// Key identifier of the CA key that signed the list, lowercase hex.
    pub issuer_key_id: String,
    /// `base` for a complete list, `delta` for a delta CRL.
    pub scope: &'static str,
    /// cRLNumber, decimal.
    pub crl_number: String,
    /// The digest of the list's tbsCertList (what the CA signed) with the hash of its signature
    /// algorithm (SHA-256 for JPKI's lists), lowercase hex: it names exactly one list content.
    pub tbs_digest: String,
}

/// A source's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevocationAnswer {
    /// The status.
    #[serde(flatten)]
    pub status: RevocationStatus,
    /// The list consulted, when there was one.
    pub provenance: Option<Provenance>,
}

impl RevocationAnswer {
    /// An unknown answer with no list behind it.
    pub fn unknown(cause: UnknownStatusCause) -> Self {
        RevocationAnswer { status: RevocationStatus::Unknown { cause }, provenance: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_name() {
        let mut defined = Vec::new();
        for code in 0..=u8::MAX {
            if let Some(reason) = RevocationReason::from_code(code) {
                assert_eq!(reason.code(), code);
                assert_eq!(RevocationReason::from_name(reason.name()), Some(reason));
                defined.push(code);
            }
        }
        // RFC 5280 5.3.1: 0 to 10, 7 unused.
        assert_eq!(defined, [0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);
        assert_eq!(RevocationReason::ALL.map(RevocationReason::code), [0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);
    }

    #[test]
    fn names_are_the_serde_names() {
        for reason in RevocationReason::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.name());
        }
    }

    #[test]
    fn only_the_exact_wire_name_parses() {
        assert_eq!(RevocationReason::from_name("key_compromise"), Some(RevocationReason::KeyCompromise));
        for other in ["keyCompromise", "KEY_COMPROMISE", "key-compromise", "", "unknown"] {
            assert_eq!(RevocationReason::from_name(other), None, "{other:?}");
        }
    }
}
