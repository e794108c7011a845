//! A newer list whose thisUpdate is still in the future waits beside the list in use: queries
//! before its thisUpdate are answered by the current list, from then on by the new one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jpki_core::UnixTime;
use jpki_core::revocation::{
    CertId, RevocationAnswer, RevocationQuery, RevocationReason, RevocationSource, RevocationStatus, UnknownStatusCause,
};
use jpki_revocation::RevocationStore;
use jpki_testpki::{CertKind, CrlBuilder, CrlEntry, ReasonCode};
use jpki_testsupport::testing::{offset, pki, time};

fn day(d: u32) -> UnixTime {
    time(&format!("2026-05-{d:02}T00:00:00Z"))
}

struct Fixture {
    pki: std::sync::Arc<jpki_testpki::TestPki>,
    anchors: Vec<jpki_core::TrustAnchor>,
    store: RevocationStore,
}

impl Fixture {
    fn new() -> Self {
        let pki = pki();
        let anchors = jpki_testsupport::anchors(&pki).unwrap();
        let store = RevocationStore::new(anchors.clone(), 0);
        Fixture { pki, anchors, store }
    }

    fn ca(&self) -> &jpki_testpki::Ca {
        self.pki.ca(CertKind::SigningCard, 2).unwrap()
    }

    fn anchor(&self) -> &jpki_core::TrustAnchor {
        self.anchors.iter().find(|anchor| anchor.key_id() == self.ca().key_id()).unwrap()
    }

    /// A list issued on `issued`, valid until the end of June.
    fn list(&self, number: u64, issued: UnixTime, delta_base: Option<u64>, entries: &[CrlEntry]) -> Vec<u8> {
        let builder = CrlBuilder::new(offset(issued), Some(offset(time("2026-06-30T00:00:00Z"))))
            .number(number)
            .entries(entries.iter().cloned());
        let builder = match delta_base {
            Some(base) => builder.delta_crl_indicator(base),
            None => builder,
        };
        builder.sign(self.ca().issuer()).unwrap()
    }

    /// The store's answer for a serial of this CA (no distribution point: whole-issuer lists).
    fn ask(&self, serial: &[u8], at: UnixTime) -> RevocationAnswer {
        let id = CertId::new(self.anchor().key_id(), serial);
        self.store.status(&RevocationQuery {
            certificate: &id,
            serial,
            issuer: self.anchor(),
            distribution_points: &[],
            at,
        })
    }

    fn number(&self, serial: &[u8], at: UnixTime) -> String {
        self.ask(serial, at).provenance.unwrap().crl_number.unwrap()
    }
}

const X: &[u8] = &[0x0a, 0x01];
const Y: &[u8] = &[0x0b, 0x02];

fn compromised(serial: &[u8], on: UnixTime) -> CrlEntry {
    CrlEntry::new(serial.to_vec(), offset(on)).reason(ReasonCode::KeyCompromise)
}

#[test]
fn a_future_list_waits_until_its_this_update() {
    let fixture = Fixture::new();
    let now = day(10);
    fixture.store.load("n", &fixture.list(5, day(9), None, &[]), now).unwrap();
    // N+1, issued ahead of time (thisUpdate tomorrow), revokes X.
    let tomorrow = day(11);
    fixture.store.load("n+1", &fixture.list(6, tomorrow, None, &[compromised(X, day(9))]), now).unwrap();

    // Before its thisUpdate: the current list answers, never TRY_LATER.
    let before = fixture.ask(X, now);
    assert_eq!(before.status, RevocationStatus::Good, "{before:?}");
    assert_eq!(before.provenance.as_ref().unwrap().crl_number.as_deref(), Some("5"));
    assert_eq!(fixture.number(X, UnixTime(tomorrow.0 - 1)), "5");
    // At and after it: the new list.
    for moment in [tomorrow, day(12)] {
        let after = fixture.ask(X, moment);
        assert_eq!(
            after.status,
            RevocationStatus::Revoked { revoked_at: day(9), reason: Some(RevocationReason::KeyCompromise) }
        );
        assert_eq!(after.provenance.unwrap().crl_number.as_deref(), Some("6"));
    }
    // Both are held until a load after tomorrow.
    assert_eq!(fixture.store.lists().len(), 2);
    fixture.store.load("n+2", &fixture.list(7, day(12), None, &[compromised(X, day(9))]), day(12)).unwrap();
    assert_eq!(fixture.store.lists().len(), 1);
    assert_eq!(fixture.number(X, day(12)), "7");
}

#[test]
fn a_delta_keeps_both_views_right() {
    let fixture = Fixture::new();
    let now = day(10);
    fixture.store.load("n", &fixture.list(5, day(9), None, &[]), now).unwrap();
    fixture.store.load("n+1", &fixture.list(6, day(12), None, &[compromised(X, day(9))]), now).unwrap();
    // A delta valid now, on base 5, revokes Y: it applies now, and to the pending list later.
    fixture.store.load("delta", &fixture.list(7, day(10), Some(5), &[compromised(Y, day(10))]), now).unwrap();

    assert!(matches!(fixture.ask(Y, now).status, RevocationStatus::Revoked { .. }));
    assert_eq!(fixture.ask(X, now).status, RevocationStatus::Good);
    assert_eq!(fixture.number(X, now), "7");
    let later = day(13);
    assert!(matches!(fixture.ask(Y, later).status, RevocationStatus::Revoked { .. }));
    assert!(matches!(fixture.ask(X, later).status, RevocationStatus::Revoked { .. }));
    assert_eq!(fixture.ask(X, later).provenance.unwrap().list, "n+1 + delta delta");

    // A complete list older than the pending one is still a rollback.
    assert!(fixture.store.load("n+1 again", &fixture.list(6, day(12), None, &[]), now).is_err());
}

#[test]
fn a_future_list_without_a_current_one_answers_not_yet_valid() {
    let fixture = Fixture::new();
    fixture.store.load("future", &fixture.list(1, day(20), None, &[]), day(10)).unwrap();
    assert_eq!(
        fixture.ask(X, day(10)).status,
        RevocationStatus::Unknown { cause: UnknownStatusCause::ListNotYetValid { this_update: day(20) } }
    );
    assert_eq!(fixture.ask(X, day(21)).status, RevocationStatus::Good);
}
