//! Shared fixture: a verifier over the deterministic test PKI whose revocation source is the
//! production store (`jpki_revocation::RevocationStore`), with fresh empty CRLs.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use jpki_core::{UnixTime, Verifier};
use jpki_revocation::{ListSummary, LoadError, RevocationStore};
use jpki_testpki::{Ca, CrlEntry, TestPki};

pub use jpki_testsupport::testing::{at, offset, pki, time};

/// Seed every core test uses.
pub const SEED: u64 = jpki_testsupport::SEED;

/// A verifier with its revocation store.
pub struct Fixture {
    pub pki: Arc<TestPki>,
    pub crls: Arc<RevocationStore>,
    pub verifier: Verifier,
}

impl Fixture {
    /// Every anchor of the test PKI, no CRLs loaded yet.
    pub fn without_crls() -> Self {
        let pki = pki();
        let anchors = jpki_testsupport::anchors(&pki).unwrap();
        let crls = Arc::new(RevocationStore::new(anchors, 0));
        let verifier = jpki_testsupport::verifier(&pki, crls.clone(), 1000).unwrap();
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

    /// Loads a DER CRL into the store as of its own thisUpdate (so that an already stale list,
    /// which a refresher would refuse, can still be loaded to test how stale lists answer).
    pub fn load(&self, label: &str, der: &[u8]) -> Result<ListSummary, LoadError> {
        let this_update = jpki_revocation::parse_crl(der, |_| Ok(())).map(|parsed| parsed.this_update);
        self.crls.load(label, der, this_update.unwrap_or(UnixTime(0)))
    }

    /// Issues and loads a CRL from `ca` (cRLNumbers must increase per CA and scope).
    pub fn publish(&self, ca: &Ca, this_update: UnixTime, next_update: UnixTime, number: u64, entries: &[CrlEntry]) {
        let der = ca.issue_crl(offset(this_update), offset(next_update), number, entries).unwrap();
        self.load(ca.label(), &der).unwrap();
    }

    /// The anchor CA of a kind and generation.
    pub fn ca(&self, kind: jpki_testpki::CertKind, generation: u8) -> &Ca {
        self.pki.ca(kind, generation).unwrap()
    }
}
