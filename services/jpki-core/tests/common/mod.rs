//! Shared fixture: a verifier over the deterministic test PKI, with fresh empty CRLs.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use jpki_core::{CrlSet, UnixTime, Verifier};
use jpki_testpki::{Ca, CrlEntry, TestPki};

pub use jpki_fixtures::testing::{at, offset, pki, time};

/// Seed every core test uses.
pub const SEED: u64 = jpki_fixtures::SEED;

/// A verifier with its CRL set.
pub struct Fixture {
    pub pki: Arc<TestPki>,
    pub crls: Arc<CrlSet>,
    pub verifier: Verifier,
}

impl Fixture {
    /// Every anchor of the test PKI, no CRLs loaded yet.
    pub fn without_crls() -> Self {
        let pki = pki();
        let crls = Arc::new(CrlSet::new(0));
        let verifier = jpki_fixtures::verifier(&pki, crls.clone(), 1000).unwrap();
        Fixture { pki, crls, verifier }
    }

    /// Every anchor, with an empty CRL per anchor valid from 2026-05-01 to 2026-07-01.
    pub fn new() -> Self {
        let fixture = Self::without_crls();
        for ca in fixture.pki.cas().iter().filter(|ca| ca.is_anchor()) {
            fixture.publish(ca, time("2026-05-01T00:00:00Z"), time("2026-07-01T00:00:00Z"), 1, &[]);
        }
        fixture
    }

    /// Issues and loads a CRL from `ca`.
    pub fn publish(&self, ca: &Ca, this_update: UnixTime, next_update: UnixTime, number: u64, entries: &[CrlEntry]) {
        let der = ca.issue_crl(offset(this_update), offset(next_update), number, entries).unwrap();
        self.crls.add(ca.label(), &der, self.verifier.anchors()).unwrap();
    }

    /// The anchor CA of a kind and generation.
    pub fn ca(&self, kind: jpki_testpki::CertKind, generation: u8) -> &Ca {
        self.pki.ca(kind, generation).unwrap()
    }
}
