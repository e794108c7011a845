//! `crl_parse` target: the streaming CRL parser production runs on 500 MB lists
//! ([`jpki_revocation::parse_crl`], with its byte-exact fast path for the usual entry encoding)
//! against x509-parser's [`CertificateRevocationList`], a full DER parser written independently.
//!
//! Oracle, on any input:
//! - ours never panics, hands out exactly `entry_count` entries, and the streamed digest is the
//!   digest of the TBS slice;
//! - **when both accept the list, they agree** on the issuer (raw DER), thisUpdate, nextUpdate,
//!   cRLNumber, and every entry in order: serial (big-endian, leading zeros dropped), revocation
//!   date and reason. Reasons are compared as the store reads them: a value that is not a defined
//!   CRLReason (7, 11..=127) means no reason, which x509-parser reports for 11 and above and ours
//!   keeps as the raw value for the store to drop.
//!
//! Intended disagreements, where only this one direction is checked (ours refuses, x509-parser
//! accepts): v1 lists (no version field), lists without a cRLNumber, SHA-1 or non-RSA signature
//! algorithms, an outer signatureAlgorithm that differs from the TBS one, unknown critical
//! extensions (list or entry), duplicate list extensions, IDP scopes the store does not support
//! (onlySomeReasons, indirectCRL, attribute certificates, relative or non-DirName names), and
//! encodings outside the envelope x509-parser does not check (see `jpki_core::cert`'s envelope
//! check: tags of the outer SEQUENCE and signature BIT STRING, unused bits).
//!
//! Where both accept but read differently by design, the oracle compares what is comparable: the
//! issuer Name is opaque to ours (its raw DER is compared with the anchors' subjects), while
//! x509-parser stops at the first RDN it cannot read and reports only the bytes before it; then
//! ours must start with x509-parser's bytes, and x509-parser may stop early only on a Name that
//! is not well formed.

use jpki_core::UnixTime;
use jpki_core::revocation::RevocationReason;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

/// One entry as both parsers report it: serial, revocation date, reason as the store reads it.
type Entry = (Vec<u8>, UnixTime, Option<RevocationReason>);

/// The target: see the module documentation.
pub fn crl_parse(data: &[u8]) {
    let mut ours_entries: Vec<Entry> = Vec::new();
    let ours = jpki_revocation::parse_crl(data, |entry| {
        ours_entries.push((
            entry.serial.to_vec(),
            entry.revoked_at,
            entry.reason.and_then(RevocationReason::from_code),
        ));
        Ok(())
    });
    let Ok(ours) = ours else { return };
    assert_eq!(ours.entry_count, ours_entries.len() as u64);
    assert_eq!(ours.tbs_digest, ours.hash.digest(ours.tbs), "streamed digest differs from the TBS digest");

    let theirs = match CertificateRevocationList::from_der(data) {
        Ok(([], crl)) => crl,
        _ => return,
    };
    let tbs = &theirs.tbs_cert_list;
    // The issuer is opaque to ours (compared byte for byte with the anchors' subjects); x509-parser
    // stops at the first RDN it cannot read and keeps only the bytes before it.
    let their_issuer = tbs.issuer.as_raw();
    assert!(ours.issuer_raw.starts_with(their_issuer), "issuer differs");
    if their_issuer.len() < ours.issuer_raw.len() {
        assert!(!is_well_formed_name(ours.issuer_raw), "x509-parser read part of a well-formed Name");
    }
    assert_eq!(ours.this_update, UnixTime(tbs.this_update.timestamp()), "thisUpdate differs");
    assert_eq!(ours.next_update, tbs.next_update.map(|next| UnixTime(next.timestamp())), "nextUpdate differs");
    let their_number = theirs.crl_number().map(|number| number_bytes(&number.to_bytes_be()));
    // x509-parser leaves a cRLNumber it cannot read unparsed (it fails on 20 octets plus a sign
    // byte, which RFC 5280 requires verifiers to handle); then only ours reports one.
    if let Some(their_number) = their_number {
        assert_eq!(number_bytes(ours.crl_number.as_be_bytes()), their_number, "cRLNumber differs");
    }
    let their_entries: Vec<Entry> = theirs
        .iter_revoked_certificates()
        .map(|revoked| {
            let serial = strip(revoked.raw_serial()).to_vec();
            let reason = revoked.reason_code().and_then(|(_, code)| RevocationReason::from_code(code.0));
            (serial, UnixTime(revoked.revocation_date.timestamp()), reason)
        })
        .collect();
    assert_eq!(ours_entries, their_entries, "entries differ");
}

/// Whether a Name is a SEQUENCE OF SET OF SEQUENCE { OID, value } in DER.
fn is_well_formed_name(name: &[u8]) -> bool {
    use jpki_core::der::{self, tag};
    let Ok(element) = der::parse_single(name, false) else { return false };
    let mut rdns = element.reader(false);
    while !rdns.is_empty() {
        let Ok(rdn) = rdns.read(tag::SET) else { return false };
        let mut attributes = rdn.reader(false);
        if attributes.is_empty() {
            return false;
        }
        while !attributes.is_empty() {
            let Ok(attribute) = attributes.read(tag::SEQUENCE) else { return false };
            let mut fields = attribute.reader(false);
            let well_formed = fields.read(tag::OID).is_ok_and(|oid| der::oid_to_string(oid.contents).is_some())
                && fields.read_any().is_ok()
                && fields.is_empty();
            if !well_formed {
                return false;
            }
        }
    }
    true
}

/// Big-endian bytes without leading zeros, one zero byte kept for zero (how both sides' serials
/// are compared).
fn strip(bytes: &[u8]) -> &[u8] {
    jpki_core::der::unsigned_integer_bytes(bytes)
}

/// A number's big-endian bytes without any leading zero (empty for zero, as [`jpki_revocation::CrlNumber`]).
fn number_bytes(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().copied().skip_while(|byte| *byte == 0).collect()
}
