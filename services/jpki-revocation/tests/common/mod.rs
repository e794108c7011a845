//! Shared fixture: the deterministic test PKI's anchors, a store over them, and helpers to build
//! queries for the PKI's holders.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use jpki_core::cert::ParsedCertificate;
use jpki_core::revocation::{CertId, RevocationAnswer, RevocationQuery, RevocationSource};
use jpki_core::{TrustAnchor, UnixTime};
use jpki_revocation::RevocationStore;
use jpki_testpki::{Ca, CrlEntry, Holder, TestPki};

pub use jpki_testsupport::testing::{at, offset, pki, time};

/// Seed every test here uses (the same as jpki-core's tests, so the cached PKI is shared in spirit).
pub const SEED: u64 = 2026;

/// Every anchor of the test PKI as the core sees it.
pub fn anchors(pki: &TestPki) -> Vec<TrustAnchor> {
    jpki_testsupport::anchors(pki).unwrap()
}

/// A store over the test PKI's anchors with `grace_seconds`.
pub struct Fixture {
    pub pki: Arc<TestPki>,
    pub anchors: Vec<TrustAnchor>,
    pub store: RevocationStore,
}

impl Fixture {
    /// No lists loaded.
    pub fn new(grace_seconds: i64) -> Self {
        let pki = pki();
        let anchors = anchors(&pki);
        let store = RevocationStore::new(anchors.clone(), grace_seconds);
        Fixture { pki, anchors, store }
    }

    /// The anchor CA of a kind and generation.
    pub fn ca(&self, kind: jpki_testpki::CertKind, generation: u8) -> &Ca {
        self.pki.ca(kind, generation).unwrap()
    }

    /// The core's anchor for a CA.
    pub fn anchor_of(&self, ca: &Ca) -> &TrustAnchor {
        self.anchors.iter().find(|anchor| anchor.key_id() == ca.key_id()).unwrap()
    }

    /// A holder whose signing certificate has `kind` and an issuer label ending in `generation`.
    pub fn holder(&self, kind: jpki_testpki::CertKind, generation: &str) -> Holder {
        self.pki
            .holders()
            .iter()
            .find(|holder| holder.signing().kind() == kind && holder.signing().issuer_label().ends_with(generation))
            .cloned()
            .unwrap()
    }

    /// Issues a CRL from `ca`.
    pub fn crl(
        &self,
        ca: &Ca,
        this_update: UnixTime,
        next_update: UnixTime,
        number: u64,
        entries: &[CrlEntry],
    ) -> Vec<u8> {
        ca.issue_crl(offset(this_update), offset(next_update), number, entries).unwrap()
    }
}

/// A query target: an end-entity certificate as the verifier would describe it.
pub struct Target {
    pub id: CertId,
    pub serial: Vec<u8>,
    pub distribution_points: Vec<Vec<u8>>,
}

impl Target {
    /// From a certificate's DER.
    pub fn of_cert(issuer: &TrustAnchor, der: &[u8]) -> Self {
        let parsed = ParsedCertificate::parse(der).unwrap();
        Target {
            id: CertId::new(issuer.key_id(), &parsed.serial),
            serial: parsed.serial.clone(),
            distribution_points: parsed.crl_distribution_points.clone(),
        }
    }

    /// A made-up serial with the given distribution points.
    pub fn serial(issuer: &TrustAnchor, serial: &[u8], distribution_points: Vec<Vec<u8>>) -> Self {
        let serial = jpki_core::der::unsigned_integer_bytes(serial).to_vec();
        Target { id: CertId::new(issuer.key_id(), &serial), serial, distribution_points }
    }

    /// Asks a source about this target.
    pub fn ask(&self, source: &dyn RevocationSource, issuer: &TrustAnchor, at: UnixTime) -> RevocationAnswer {
        source.status(&RevocationQuery {
            certificate: &self.id,
            serial: &self.serial,
            issuer,
            distribution_points: &self.distribution_points,
            at,
        })
    }
}
