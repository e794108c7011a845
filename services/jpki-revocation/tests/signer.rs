//! The anchor that signed a list must be one whose key may sign CRLs (keyUsage, when present, has
//! cRLSign: RFC 5280 4.2.1.3), valid at the load time, and valid when the list was issued
//! (thisUpdate within its validity, RFC 5280 6.3.3). Each refusal has its own error; among
//! several anchors with the issuer's name and key identifier, one that fails these checks is
//! skipped when another verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jpki_core::{AlgorithmPolicy, CertKind, TrustAnchor, UnixTime};
use jpki_revocation::{CompactList, LoadError, RevocationStore};
use jpki_testpki::cert::ext;
use jpki_testpki::profile::key_usage::{CRL_SIGN, KEY_CERT_SIGN};
use jpki_testpki::{Ca, CertificateBuilder, CrlBuilder, IssuerRef, PrivateKey, keys};
use jpki_testsupport::testing::{at, offset, pki, time};

/// The generation-2 signing root: its key, name and key identifier sign the lists below.
fn signing_root() -> Ca {
    pki().ca(jpki_testpki::CertKind::SigningCard, 2).unwrap().clone()
}

/// A root with the signing root's name and key identifier, `key` as its key, the given keyUsage
/// bits and validity.
fn root(key: &PrivateKey, bits: &[u8], not_before: UnixTime, not_after: UnixTime) -> TrustAnchor {
    let ca = signing_root();
    let spki = keys::spki_der(&key.to_public_key()).unwrap();
    let der = CertificateBuilder::new(
        vec![0x51, 0x01],
        jpki_testpki::CertKind::SigningCard.ca_name(),
        offset(not_before),
        offset(not_after),
        spki,
    )
    .extension(ext::key_usage(bits, true))
    .extension(ext::basic_constraints(true, true))
    .extension(ext::subject_key_identifier(ca.key_id()))
    .self_sign(key)
    .unwrap();
    TrustAnchor::from_der(CertKind::SigningCard, &der, &AlgorithmPolicy::default()).unwrap()
}

fn valid_root(bits: &[u8]) -> TrustAnchor {
    root(signing_root().key(), bits, time("2023-07-16T00:00:00Z"), time("2033-07-15T14:59:59Z"))
}

/// An empty list numbered 1 from the signing root's key, issued at `this_update`.
fn list(this_update: UnixTime) -> Vec<u8> {
    let ca = signing_root();
    let issuer = IssuerRef { name_der: ca.name_der(), key: ca.key(), key_id: ca.key_id() };
    let next_update = UnixTime(this_update.0 + 30 * 86_400);
    CrlBuilder::new(offset(this_update), Some(offset(next_update))).number(1).sign(issuer).unwrap()
}

fn current() -> Vec<u8> {
    list(time("2026-05-01T00:00:00Z"))
}

fn key_id() -> String {
    hex::encode(signing_root().key_id())
}

#[test]
fn the_test_pki_lists_still_load() {
    let pki = pki();
    let store = RevocationStore::new(jpki_testsupport::anchors(&pki).unwrap(), 0);
    for ca in pki.cas().iter().filter(|ca| ca.is_anchor()) {
        let der =
            ca.issue_crl(offset(time("2026-05-01T00:00:00Z")), offset(time("2026-07-01T00:00:00Z")), 1, &[]).unwrap();
        store.load(ca.label(), &der, at()).unwrap();
    }
    let anchors = [valid_root(&[KEY_CERT_SIGN, CRL_SIGN])];
    assert_eq!(
        CompactList::from_der("current", &current(), &anchors, at()).unwrap().meta().issuer_key_id,
        signing_root().key_id()
    );
}

#[test]
fn an_anchor_without_crl_sign_is_refused() {
    let anchors = vec![valid_root(&[KEY_CERT_SIGN])];
    let expected = LoadError::SignerNotForCrls { key_id: key_id() };
    assert_eq!(CompactList::from_der("no-crl-sign", &current(), &anchors, at()).err(), Some(expected.clone()));
    let store = RevocationStore::new(anchors, 0);
    assert_eq!(store.load("no-crl-sign", &current(), at()).err(), Some(expected));
    assert!(store.lists().is_empty());
}

#[test]
fn an_expired_anchor_is_refused() {
    let (not_before, not_after) = (time("2015-10-19T00:00:00Z"), time("2025-10-19T14:59:59Z"));
    let anchors = vec![root(signing_root().key(), &[KEY_CERT_SIGN, CRL_SIGN], not_before, not_after)];
    // Issued while the anchor was valid, loaded after it expired.
    let der = list(time("2025-10-01T00:00:00Z"));
    let expected = LoadError::SignerNotValid { key_id: key_id(), not_before, not_after, at: at() };
    assert_eq!(CompactList::from_der("expired", &der, &anchors, at()).err(), Some(expected.clone()));
    let store = RevocationStore::new(anchors, 0);
    assert_eq!(store.load("expired", &der, at()).err(), Some(expected));
}

#[test]
fn a_not_yet_valid_anchor_is_refused() {
    let (not_before, not_after) = (time("2027-01-01T00:00:00Z"), time("2037-01-01T00:00:00Z"));
    let anchors = vec![root(signing_root().key(), &[KEY_CERT_SIGN, CRL_SIGN], not_before, not_after)];
    let expected = LoadError::SignerNotValid { key_id: key_id(), not_before, not_after, at: at() };
    assert_eq!(CompactList::from_der("not-yet-valid", &current(), &anchors, at()).err(), Some(expected));
}

#[test]
fn a_list_issued_outside_the_anchor_validity_is_refused() {
    // The anchor is valid now, but the list says it was issued before the anchor existed.
    let (not_before, not_after) = (time("2026-05-15T00:00:00Z"), time("2036-05-15T00:00:00Z"));
    let anchors = vec![root(signing_root().key(), &[KEY_CERT_SIGN, CRL_SIGN], not_before, not_after)];
    let this_update = time("2026-05-01T00:00:00Z");
    let expected = LoadError::SignedOutsideSignerValidity { key_id: key_id(), not_before, not_after, this_update };
    assert_eq!(CompactList::from_der("backdated", &list(this_update), &anchors, at()).err(), Some(expected));
}

#[test]
fn an_unfit_candidate_is_skipped_when_another_verifies() {
    let unfit = valid_root(&[KEY_CERT_SIGN]);
    let fit = valid_root(&[KEY_CERT_SIGN, CRL_SIGN]);
    for anchors in [vec![unfit.clone(), fit.clone()], vec![fit.clone(), unfit.clone()]] {
        let list = CompactList::from_der("two", &current(), &anchors, at()).unwrap();
        assert_eq!(list.meta().issuer_key_id, signing_root().key_id());
    }
    // A decoy with the same name and key identifier but another key does not verify: the only
    // anchor that does is unfit, and its specific refusal is reported.
    let other_key = pki().ca(jpki_testpki::CertKind::SigningCard, 1).unwrap().key().clone();
    let decoy =
        root(&other_key, &[KEY_CERT_SIGN, CRL_SIGN], time("2023-07-16T00:00:00Z"), time("2033-07-15T14:59:59Z"));
    assert_eq!(
        CompactList::from_der("decoy", &current(), &[decoy.clone(), unfit], at()).err(),
        Some(LoadError::SignerNotForCrls { key_id: key_id() })
    );
    assert_eq!(
        CompactList::from_der("decoy", &current(), &[decoy], at()).err(),
        Some(LoadError::SignatureInvalid { candidates: 1 })
    );
}
