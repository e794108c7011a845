//! The audit event: the leaf of a tenant's log.
//!
//! The leaf is the event's compact JSON. Field order is the struct's declaration order and maps are
//! `BTreeMap`s, so the same event always gives the same bytes; absent options and empty
//! collections are left out so that a leaf stays small.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AuditError;

/// The largest leaf accepted. Entry bundles prefix each leaf with a 2-byte length (65535 at most);
/// 16 KiB keeps a wide margin and keeps a pulled `events.jsonl` reasonable.
pub const MAX_LEAF_BYTES: usize = 16 * 1024;

/// The format version written in `v`.
pub const FORMAT_VERSION: u32 = 1;

/// One call to the gateway, as logged. Documents, challenges and customer ids appear only as
/// digests (`digests`); everything else is already known to the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Format version ([`FORMAT_VERSION`]).
    pub v: u32,
    /// When the call was answered, unix seconds.
    pub time: i64,
    /// The tenant whose log this is.
    pub tenant: String,
    /// The calling principal's id.
    pub principal: String,
    /// The credential used: an API key id, or `spki:<hex>` for an mTLS client key.
    pub credential: String,
    /// Full gRPC method path, e.g. `/jpki.gateway.v1.GatewayService/VerifySignature`.
    pub rpc: String,
    /// The business purpose the caller declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The gateway's request id.
    pub request_id: String,
    /// The trace id, when the call carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// gRPC status code name (`OK` for an answered call).
    pub code: String,
    /// ETSI EN 319 102-1 main indication, as the gateway reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indication: Option<String>,
    /// ETSI EN 319 102-1 sub-indication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_indication: Option<String>,
    /// The gateway's reason text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The certificate the call was about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertRef>,
    /// SHA-256 digests (lowercase hex) by name: `document_sha256`, `challenge_sha256`,
    /// `certificate_ids_sha256`, `customer_id_sha256`, ...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digests: BTreeMap<String, String>,
    /// A count, for calls about several items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The revocation lists the answer relied on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocation: Vec<ListRelied>,
    /// Small per-RPC facts: verification_id, challenge_id, outcome, stream open/close, admin action.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
}

/// A certificate, by issuing CA key and serial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertRef {
    /// The issuing CA's key id, lowercase hex.
    pub ca_key_id: String,
    /// The serial number, lowercase hex.
    pub serial: String,
}

impl CertRef {
    /// `<ca_key_id>:<serial>`: how events and the archive name a certificate in text
    /// (`detail.certificates`, retention holds).
    pub fn text(&self) -> String {
        format!("{}:{}", self.ca_key_id, self.serial)
    }
}

/// A lowercase-hex SHA-256, as events write digests, as 32 bytes.
pub fn digest_bytes(hex: &str) -> Option<[u8; 32]> {
    hex::decode(hex).ok()?.try_into().ok()
}

/// A revocation list an answer relied on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRelied {
    /// The list issuer's key id, lowercase hex.
    pub issuer_key_id: String,
    /// `base` or `delta`.
    pub scope: String,
    /// The list number (CRL number), when the list has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// SHA-256 of the list as fetched, lowercase hex.
    pub sha256: String,
}

/// An event of format [`FORMAT_VERSION`], answered `OK`, with every other field empty: the base
/// every event is built from.
impl Default for AuditEvent {
    fn default() -> Self {
        AuditEvent {
            v: FORMAT_VERSION,
            time: 0,
            tenant: String::new(),
            principal: String::new(),
            credential: String::new(),
            rpc: String::new(),
            purpose: None,
            request_id: String::new(),
            trace_id: None,
            code: "OK".to_owned(),
            indication: None,
            sub_indication: None,
            reason: None,
            certificate: None,
            digests: BTreeMap::new(),
            count: None,
            revocation: Vec::new(),
            detail: BTreeMap::new(),
        }
    }
}

impl AuditEvent {
    /// The key under which the certificate this event rests on is kept as evidence: its
    /// `digests.certificate_sha256`, as 32 bytes.
    pub fn evidence_key(&self) -> Option<[u8; 32]> {
        self.digests.get("certificate_sha256").and_then(|hex| digest_bytes(hex))
    }

    /// The leaf bytes: compact JSON, one line (JSON escapes every control character in strings,
    /// so the output never holds a `\n`).
    ///
    /// # Errors
    /// [`AuditError::LeafTooLarge`] above [`MAX_LEAF_BYTES`].
    pub fn leaf(&self) -> Result<Vec<u8>, AuditError> {
        let leaf = serde_json::to_vec(self)?;
        check_leaf_size(&leaf)?;
        Ok(leaf)
    }

    /// Reads a leaf written by [`AuditEvent::leaf`].
    ///
    /// # Errors
    /// Oversized leaves, malformed JSON, unknown fields, an unknown format version, or bytes that
    /// are not exactly what [`AuditEvent::leaf`] writes for the event (so one event has one leaf).
    pub fn from_leaf(leaf: &[u8]) -> Result<Self, AuditError> {
        check_leaf_size(leaf)?;
        let event: Self = serde_json::from_slice(leaf)?;
        if event.v != FORMAT_VERSION {
            return Err(AuditError::InvalidLeaf(format!("format version {} (this reads {FORMAT_VERSION})", event.v)));
        }
        if event.leaf()? != leaf {
            return Err(AuditError::InvalidLeaf("not in canonical form".into()));
        }
        Ok(event)
    }
}

fn check_leaf_size(leaf: &[u8]) -> Result<(), AuditError> {
    if leaf.len() > MAX_LEAF_BYTES {
        return Err(AuditError::LeafTooLarge { len: leaf.len(), max: MAX_LEAF_BYTES });
    }
    Ok(())
}

/// SHA-256 of `data`, lowercase hex: how documents, challenges and customer ids enter an event.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn minimal() -> AuditEvent {
        AuditEvent {
            time: 1_780_000_000,
            tenant: "acme".into(),
            principal: "p1".into(),
            credential: "k1".into(),
            rpc: "/jpki.gateway.v1.GatewayService/VerifySignature".into(),
            request_id: "r1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn minimal_leaf_skips_absent_fields() {
        let leaf = minimal().leaf().unwrap();
        assert_eq!(
            String::from_utf8(leaf).unwrap(),
            r#"{"v":1,"time":1780000000,"tenant":"acme","principal":"p1","credential":"k1","rpc":"/jpki.gateway.v1.GatewayService/VerifySignature","request_id":"r1","code":"OK"}"#
        );
    }

    #[test]
    fn full_event_round_trips_in_declaration_order() {
        let mut event = minimal();
        event.purpose = Some("口座開設".into());
        event.trace_id = Some("t".into());
        event.indication = Some("TOTAL-PASSED".into());
        event.sub_indication = Some("x".into());
        event.reason = Some("line one\nline two\r\t\u{2028}".into());
        event.certificate = Some(CertRef { ca_key_id: "ab".into(), serial: "01".into() });
        event.digests.insert("document_sha256".into(), sha256_hex(b"doc"));
        event.digests.insert("challenge_sha256".into(), sha256_hex(b"ch"));
        event.count = Some(3);
        event.revocation.push(ListRelied {
            issuer_key_id: "ab".into(),
            scope: "base".into(),
            number: Some("7".into()),
            sha256: sha256_hex(b"crl"),
        });
        event.detail.insert("verification_id".into(), "v1".into());
        let leaf = event.leaf().unwrap();
        // One leaf per line in events.jsonl: a newline in any field must stay escaped.
        assert!(!leaf.contains(&b'\n'));
        assert!(!leaf.contains(&b'\r'));
        assert_eq!(AuditEvent::from_leaf(&leaf).unwrap(), event);
        let text = String::from_utf8(leaf).unwrap();
        let keys = [
            "\"v\"",
            "\"time\"",
            "\"purpose\"",
            "\"request_id\"",
            "\"trace_id\"",
            "\"code\"",
            "\"certificate\"",
            "\"digests\"",
            "\"count\"",
            "\"revocation\"",
            "\"detail\"",
        ];
        let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        // BTreeMap: challenge_sha256 before document_sha256 whatever the insertion order.
        assert!(text.find("challenge_sha256").unwrap() < text.find("document_sha256").unwrap());
    }

    #[test]
    fn oversized_leaf_is_refused() {
        let mut event = minimal();
        event.reason = Some("x".repeat(MAX_LEAF_BYTES));
        assert!(matches!(event.leaf(), Err(AuditError::LeafTooLarge { .. })));
        assert!(matches!(AuditEvent::from_leaf(&vec![b' '; MAX_LEAF_BYTES + 1]), Err(AuditError::LeafTooLarge { .. })));
    }

    #[test]
    fn non_canonical_or_unknown_leaves_are_refused() {
        let leaf = minimal().leaf().unwrap();
        let mut spaced = leaf.clone();
        spaced.insert(1, b' ');
        assert!(AuditEvent::from_leaf(&spaced).is_err());
        let text = String::from_utf8(leaf).unwrap();
        assert!(AuditEvent::from_leaf(text.replace("\"v\":1", "\"v\":2").as_bytes()).is_err());
        assert!(AuditEvent::from_leaf(text.replace("\"code\":\"OK\"", "\"code\":\"OK\",\"x\":1").as_bytes()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn leaf_never_holds_a_newline(reason in ".*", key in ".*", value in ".*") {
            let mut event = minimal();
            event.reason = Some(reason);
            event.detail.insert(key, value);
            let leaf = event.leaf().unwrap();
            proptest::prop_assert!(!leaf.contains(&b'\n'));
            proptest::prop_assert_eq!(AuditEvent::from_leaf(&leaf).unwrap(), event);
        }
    }
}
