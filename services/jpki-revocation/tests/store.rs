//! The store against CRLs from jpki-testpki: answers, scope, freshness, replays, refusals, and
//! equality with a model of the issued lists.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Fixture, Target, at, offset, time};
use jpki_core::revocation::{RevocationReason, RevocationStatus, UnknownStatusCause};
use jpki_revocation::{CompactList, LoadError};
use jpki_testpki::{
    CertKind as PkiKind, CrlBuilder, CrlEntry, Extension, HashAlg, IssuingDistributionPoint, ReasonCode,
};

fn unknown(cause: UnknownStatusCause) -> RevocationStatus {
    RevocationStatus::Unknown { cause }
}

#[test]
fn revoked_and_good_with_provenance() {
    let fixture = Fixture::new(0);
    let holder = fixture.holder(PkiKind::SigningCard, "g2");
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    let anchor = fixture.anchor_of(ca);
    let revoked_at = time("2026-05-10T00:00:00Z");
    let entry = holder.signing().crl_entry(offset(revoked_at)).reason(ReasonCode::AffiliationChanged);
    let der = fixture.crl(ca, time("2026-05-11T00:00:00Z"), time("2026-06-11T00:00:00Z"), 7, &[entry]);
    let summary = fixture.store.load("signing-g2.crl", &der, at()).unwrap();
    assert_eq!(summary.crl_number, "7");
    assert_eq!(summary.entries, 1);
    assert_eq!(summary.issuer_key_id, hex::encode(ca.key_id()));

    let target = Target::of_cert(anchor, holder.signing().cert_der());
    let answer = target.ask(&fixture.store, anchor, at());
    assert_eq!(
        answer.status,
        RevocationStatus::Revoked { revoked_at, reason: Some(RevocationReason::AffiliationChanged) }
    );
    let provenance = answer.provenance.unwrap();
    assert_eq!(provenance.list, "signing-g2.crl");
    assert_eq!(provenance.crl_number.as_deref(), Some("7"));
    assert_eq!(provenance.this_update, time("2026-05-11T00:00:00Z"));
    assert_eq!(provenance.next_update, Some(time("2026-06-11T00:00:00Z")));

    let other = Target::serial(anchor, &[0x12, 0x34], target.distribution_points.clone());
    assert_eq!(other.ask(&fixture.store, anchor, at()).status, RevocationStatus::Good);
    // The same serial under the other generation's key is another certificate, with no list.
    let g1 = fixture.anchor_of(fixture.ca(PkiKind::SigningCard, 1));
    assert_eq!(
        Target::serial(g1, &target.serial, Vec::new()).ask(&fixture.store, g1, at()).status,
        unknown(UnknownStatusCause::NoListForIssuer)
    );
}

#[test]
fn scope_follows_the_issuing_distribution_point() {
    let fixture = Fixture::new(0);
    let holder = fixture.holder(PkiKind::SigningCard, "g2");
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    let anchor = fixture.anchor_of(ca);
    let target = Target::of_cert(anchor, holder.signing().cert_der());
    assert_eq!(target.distribution_points.len(), 1, "test certificates name one DirName distribution point");
    let dates = (offset(time("2026-05-20T00:00:00Z")), Some(offset(time("2026-06-20T00:00:00Z"))));
    let entry = holder.signing().crl_entry(offset(time("2026-05-15T00:00:00Z"))).reason(ReasonCode::KeyCompromise);

    // A list for another municipality does not cover the certificate.
    let elsewhere = jpki_testpki::profile::ee_crl_dp_name(PkiKind::SigningCard, "Hokkaido", "Sapporo-shi");
    let scoped_elsewhere = CrlBuilder::new(dates.0, dates.1)
        .number(5)
        .entry(entry.clone())
        .issuing_distribution_point(IssuingDistributionPoint {
            full_name: Some(elsewhere),
            only_contains_user_certs: true,
            only_contains_ca_certs: false,
        })
        .sign(ca.issuer())
        .unwrap();
    let summary = fixture.store.load("sapporo", &scoped_elsewhere, at()).unwrap();
    assert!(summary.scope.distribution_point.is_some() && summary.scope.only_user_certs);
    assert_eq!(target.ask(&fixture.store, anchor, at()).status, unknown(UnknownStatusCause::NoListForScope));

    // An ARL (onlyContainsCACerts) never covers an end entity.
    let arl = CrlBuilder::new(dates.0, dates.1)
        .number(6)
        .issuing_distribution_point(IssuingDistributionPoint {
            full_name: None,
            only_contains_user_certs: false,
            only_contains_ca_certs: true,
        })
        .sign(ca.issuer())
        .unwrap();
    fixture.store.load("arl", &arl, at()).unwrap();
    assert_eq!(target.ask(&fixture.store, anchor, at()).status, unknown(UnknownStatusCause::NoListForScope));

    // The list for the certificate's own distribution point does.
    let own = jpki_core::cert::ParsedCertificate::parse(holder.signing().cert_der()).unwrap();
    let own_point = own.crl_distribution_points[0].clone();
    let scoped_here = CrlBuilder::new(dates.0, dates.1)
        .number(5)
        .entry(entry)
        .issuing_distribution_point(IssuingDistributionPoint {
            full_name: Some(dp_name_from_der(&fixture, &holder)),
            only_contains_user_certs: true,
            only_contains_ca_certs: false,
        })
        .sign(ca.issuer())
        .unwrap();
    let summary = fixture.store.load("own-municipality", &scoped_here, at()).unwrap();
    assert_eq!(summary.scope.distribution_point.as_deref(), Some(own_point.as_slice()));
    let answer = target.ask(&fixture.store, anchor, at());
    assert!(matches!(answer.status, RevocationStatus::Revoked { reason: Some(RevocationReason::KeyCompromise), .. }));
    assert_eq!(answer.provenance.unwrap().list, "own-municipality");

    // A list without a distribution point covers everything; the later thisUpdate answers.
    let full = fixture.crl(ca, time("2026-05-25T00:00:00Z"), time("2026-06-25T00:00:00Z"), 9, &[]);
    fixture.store.load("full", &full, at()).unwrap();
    let answer = target.ask(&fixture.store, anchor, at());
    assert_eq!(answer.status, RevocationStatus::Good);
    assert_eq!(answer.provenance.unwrap().list, "full");
    assert_eq!(fixture.store.lists().len(), 4);
}

/// The test PKI's distribution point name of a holder, rebuilt from its profile and checked
/// against the DirName in its certificate.
fn dp_name_from_der(fixture: &Fixture, holder: &jpki_testpki::Holder) -> jpki_testpki::DistinguishedName {
    let own = jpki_core::cert::ParsedCertificate::parse(holder.signing().cert_der()).unwrap();
    let profile = holder.profile();
    let candidate =
        jpki_testpki::profile::ee_crl_dp_name(holder.signing().kind(), &profile.prefecture, &profile.municipality);
    assert_eq!(candidate.to_der().unwrap(), own.crl_distribution_points[0], "seed {}", fixture.pki.seed());
    candidate
}

#[test]
fn freshness_is_judged_at_query_time() {
    let fixture = Fixture::new(3600);
    let ca = fixture.ca(PkiKind::AuthCard, 2);
    let anchor = fixture.anchor_of(ca);
    let target = Target::serial(anchor, &[0x77], Vec::new());
    let der = fixture.crl(ca, time("2026-05-01T00:00:00Z"), time("2026-05-31T00:00:00Z"), 3, &[]);
    fixture.store.load("auth", &der, time("2026-05-02T00:00:00Z")).unwrap();
    let status = |moment| target.ask(&fixture.store, anchor, time(moment)).status;
    assert_eq!(status("2026-05-30T00:00:00Z"), RevocationStatus::Good);
    assert_eq!(status("2026-05-31T00:59:59Z"), RevocationStatus::Good, "within the grace");
    assert_eq!(
        status("2026-05-31T01:00:01Z"),
        unknown(UnknownStatusCause::ListStale { next_update: time("2026-05-31T00:00:00Z") })
    );
    assert_eq!(
        status("2026-04-30T23:59:59Z"),
        unknown(UnknownStatusCause::ListNotYetValid { this_update: time("2026-05-01T00:00:00Z") })
    );
    // A list already past nextUpdate + grace is refused at load time.
    let old = fixture.crl(ca, time("2026-04-01T00:00:00Z"), time("2026-04-30T00:00:00Z"), 4, &[]);
    assert_eq!(
        fixture.store.load("old", &old, at()),
        Err(LoadError::Expired { next_update: time("2026-04-30T00:00:00Z"), at: at() })
    );
    // Without nextUpdate, freshness cannot be judged.
    let open_ended = CrlBuilder::new(offset(time("2026-05-02T00:00:00Z")), None).number(5).sign(ca.issuer()).unwrap();
    fixture.store.load("open", &open_ended, at()).unwrap();
    assert_eq!(status("2026-05-30T00:00:00Z"), unknown(UnknownStatusCause::ListWithoutNextUpdate));
}

#[test]
fn replays_and_rollbacks_are_refused_and_the_last_good_list_stays() {
    let fixture = Fixture::new(0);
    let ca = fixture.ca(PkiKind::SigningCard, 1);
    let anchor = fixture.anchor_of(ca);
    let target = Target::serial(anchor, &[0x0a, 0x0b], Vec::new());
    let entry = CrlEntry::new(vec![0x0a, 0x0b], offset(time("2026-05-01T00:00:00Z")));
    let two = fixture.crl(ca, time("2026-05-10T00:00:00Z"), time("2026-06-10T00:00:00Z"), 2, &[entry]);
    let one = fixture.crl(ca, time("2026-05-09T00:00:00Z"), time("2026-06-09T00:00:00Z"), 1, &[]);
    fixture.store.load("two", &two, at()).unwrap();
    let expected = |offered: &str| LoadError::NotNewer {
        issuer_key_id: hex::encode(ca.key_id()),
        loaded: "2".into(),
        offered: offered.into(),
    };
    assert_eq!(fixture.store.load("one", &one, at()), Err(expected("1")));
    assert_eq!(fixture.store.load("two again", &two, at()), Err(expected("2")));
    let answer = target.ask(&fixture.store, anchor, at());
    assert!(matches!(answer.status, RevocationStatus::Revoked { .. }));
    assert_eq!(answer.provenance.unwrap().list, "two");

    // A broken list does not disturb the loaded one either.
    let mut broken = fixture.crl(ca, time("2026-05-11T00:00:00Z"), time("2026-06-11T00:00:00Z"), 3, &[]);
    let last = broken.len() - 1;
    broken[last] ^= 0x01;
    assert_eq!(fixture.store.load("broken", &broken, at()), Err(LoadError::SignatureInvalid { candidates: 1 }));
    assert_eq!(target.ask(&fixture.store, anchor, at()).provenance.unwrap().list, "two");

    // A newer list replaces it.
    let three = fixture.crl(ca, time("2026-05-11T00:00:00Z"), time("2026-06-11T00:00:00Z"), 3, &[]);
    fixture.store.load("three", &three, at()).unwrap();
    let answer = target.ask(&fixture.store, anchor, at());
    assert_eq!(answer.status, RevocationStatus::Good);
    assert_eq!(answer.provenance.unwrap().crl_number.as_deref(), Some("3"));
}

#[test]
fn the_signer_is_chosen_by_key_and_must_verify() {
    let fixture = Fixture::new(0);
    let g1 = fixture.ca(PkiKind::SigningCard, 1);
    let g2 = fixture.ca(PkiKind::SigningCard, 2);
    let dates = (offset(time("2026-05-01T00:00:00Z")), Some(offset(time("2026-07-01T00:00:00Z"))));
    assert_eq!(g1.name_der(), g2.name_der(), "generations share one DN");

    // No AKI: every anchor with the DN is tried; the list is filed under the key that verified it.
    let without_aki = CrlBuilder::new(dates.0, dates.1).number(1).without_authority_key_id().sign(g1.issuer()).unwrap();
    let summary = fixture.store.load("no-aki", &without_aki, at()).unwrap();
    assert_eq!(summary.issuer_key_id, hex::encode(g1.key_id()));

    // The AKI names g2 but g1's key signed: refused.
    let lying = jpki_testpki::IssuerRef { name_der: g2.name_der(), key: g1.key(), key_id: g2.key_id() };
    let forged = CrlBuilder::new(dates.0, dates.1).number(1).sign(lying).unwrap();
    assert_eq!(fixture.store.load("forged", &forged, at()), Err(LoadError::SignatureInvalid { candidates: 1 }));

    // A CA that is not an anchor.
    let foreign = fixture.pki.foreign_ca();
    let foreign_crl = foreign.issue_crl(dates.0, dates.1.unwrap(), 1, &[]).unwrap();
    assert!(matches!(
        fixture.store.load("foreign", &foreign_crl, at()),
        Err(LoadError::WrongIssuer { .. } | LoadError::SignatureInvalid { .. })
    ));

    // SHA-1 is refused; SHA-384 and SHA-512 are accepted.
    let sha1 = CrlBuilder::new(dates.0, dates.1).number(2).hash(HashAlg::Sha1).sign(g2.issuer()).unwrap();
    assert_eq!(
        fixture.store.load("sha1", &sha1, at()),
        Err(LoadError::AlgorithmRejected { oid: "1.2.840.113549.1.1.5".into() })
    );
    for (number, hash) in [(3, HashAlg::Sha384), (4, HashAlg::Sha512)] {
        let der = CrlBuilder::new(dates.0, dates.1).number(number).hash(hash).sign(g2.issuer()).unwrap();
        fixture.store.load("sha2", &der, at()).unwrap();
    }
}

#[test]
fn malformed_and_unsupported_lists_are_refused_precisely() {
    let fixture = Fixture::new(0);
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    let dates = (offset(time("2026-05-01T00:00:00Z")), Some(offset(time("2026-07-01T00:00:00Z"))));
    let entries: Vec<CrlEntry> =
        (0u8..50).map(|i| CrlEntry::new(vec![0x40, i], offset(time("2026-04-01T00:00:00Z")))).collect();
    let good = CrlBuilder::new(dates.0, dates.1).number(1).entries(entries).sign(ca.issuer()).unwrap();

    for cut in [1, 10, good.len() / 2, good.len() - 1] {
        assert_eq!(
            CompactList::from_der("cut", &good[..cut], &fixture.anchors, at()).err(),
            Some(LoadError::Malformed { at_byte: cut, what: "input ends inside the CertificateList" }),
            "cut at {cut}"
        );
    }
    assert!(matches!(
        CompactList::from_der("empty", &[], &fixture.anchors, at()),
        Err(LoadError::Malformed { at_byte: 0, .. })
    ));
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        CompactList::from_der("trailing", &trailing, &fixture.anchors, at()).err(),
        Some(LoadError::TrailingData { at_byte: good.len() })
    );
    // Corrupt one entry's inner tag: the error names its offset.
    let entry_at = good.windows(4).position(|window| window == [0x02, 0x02, 0x40, 0x07]).unwrap();
    let mut bad_tag = good.clone();
    bad_tag[entry_at] = 0x04;
    assert_eq!(
        CompactList::from_der("bad-tag", &bad_tag, &fixture.anchors, at()).err(),
        Some(LoadError::Malformed { at_byte: entry_at, what: "userCertificate serial" })
    );

    let critical_entry = CrlBuilder::new(dates.0, dates.1)
        .number(1)
        .entry(CrlEntry::new(vec![0x01, 0x02], dates.0))
        .entry(CrlEntry::new(vec![0x0a, 0xbc], dates.0).extension(Extension::new(
            "1.3.6.1.4.1.55555.2",
            true,
            vec![0x05, 0x00],
        )))
        .sign(ca.issuer())
        .unwrap();
    assert_eq!(
        CompactList::from_der("critical-entry", &critical_entry, &fixture.anchors, at()).err(),
        Some(LoadError::UnknownCriticalEntryExtension { oid: "1.3.6.1.4.1.55555.2".into(), serial: "0abc".into() })
    );
    // A non-critical unknown entry extension and invalidityDate are fine.
    let invalidity = Extension::new(
        "2.5.29.24",
        false,
        vec![0x18, 0x0f, b'2', b'0', b'2', b'6', b'0', b'5', b'0', b'1', b'0', b'0', b'0', b'0', b'0', b'0', b'Z'],
    );
    let tolerated = CrlBuilder::new(dates.0, dates.1)
        .number(1)
        .entry(CrlEntry::new(vec![0x0a], dates.0).extension(invalidity))
        .entry(CrlEntry::new(vec![0x0b], dates.0).extension(Extension::new(
            "1.3.6.1.4.1.55555.3",
            false,
            vec![0x05, 0x00],
        )))
        .sign(ca.issuer())
        .unwrap();
    assert_eq!(CompactList::from_der("tolerated", &tolerated, &fixture.anchors, at()).unwrap().len(), 2);

    let critical_crl = CrlBuilder::new(dates.0, dates.1)
        .number(1)
        .extension(Extension::new("1.3.6.1.4.1.55555.4", true, vec![0x05, 0x00]))
        .sign(ca.issuer())
        .unwrap();
    assert_eq!(
        CompactList::from_der("critical", &critical_crl, &fixture.anchors, at()).err(),
        Some(LoadError::UnknownCriticalExtension { oid: "1.3.6.1.4.1.55555.4".into() })
    );
    let unnumbered = CrlBuilder::new(dates.0, dates.1).sign(ca.issuer()).unwrap();
    assert_eq!(
        CompactList::from_der("unnumbered", &unnumbered, &fixture.anchors, at()).err(),
        Some(LoadError::MissingCrlNumber)
    );
    let inverted =
        CrlBuilder::new(dates.0, Some(offset(time("2026-04-01T00:00:00Z")))).number(1).sign(ca.issuer()).unwrap();
    assert!(matches!(
        CompactList::from_der("inverted", &inverted, &fixture.anchors, at()),
        Err(LoadError::InvertedDates { .. })
    ));
    // onlySomeReasons: IDP SEQUENCE { [3] BIT STRING }.
    let some_reasons = CrlBuilder::new(dates.0, dates.1)
        .number(1)
        .extension(Extension::new("2.5.29.28", true, vec![0x30, 0x04, 0x83, 0x02, 0x07, 0x80]))
        .sign(ca.issuer())
        .unwrap();
    assert_eq!(
        CompactList::from_der("some-reasons", &some_reasons, &fixture.anchors, at()).err(),
        Some(LoadError::UnsupportedScope { what: "onlySomeReasons" })
    );
    let indirect = CrlBuilder::new(dates.0, dates.1)
        .number(1)
        .extension(Extension::new("2.5.29.28", true, vec![0x30, 0x03, 0x84, 0x01, 0xff]))
        .sign(ca.issuer())
        .unwrap();
    assert_eq!(
        CompactList::from_der("indirect", &indirect, &fixture.anchors, at()).err(),
        Some(LoadError::UnsupportedScope { what: "indirectCRL" })
    );
}

#[test]
fn parsed_digest_is_the_digest_of_the_tbs() {
    let fixture = Fixture::new(0);
    let ca = fixture.ca(PkiKind::AuthCard, 1);
    let entries: Vec<CrlEntry> =
        (0u32..5000).map(|i| CrlEntry::new(i.to_be_bytes().to_vec(), offset(time("2026-04-01T00:00:00Z")))).collect();
    for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        let der = CrlBuilder::new(offset(at()), None)
            .number(1)
            .hash(hash)
            .entries(entries.clone())
            .sign(ca.issuer())
            .unwrap();
        let mut seen = 0;
        let parsed = jpki_revocation::parse_crl(&der, |_| {
            seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, 5000);
        assert_eq!(parsed.entry_count, 5000);
        assert_eq!(parsed.tbs_digest, parsed.hash.digest(parsed.tbs));
    }
}

#[test]
fn delta_lists_merge_with_their_base() {
    let fixture = Fixture::new(0);
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    let anchor = fixture.anchor_of(ca);
    let day = |d: u32| time(&format!("2026-05-{d:02}T00:00:00Z"));
    let held = Target::serial(anchor, &[0x01, 0x01], Vec::new());
    let lost = Target::serial(anchor, &[0x02, 0x02], Vec::new());
    let hold = CrlEntry::new(held.serial.clone(), offset(day(1))).reason(ReasonCode::CertificateHold);
    let base = fixture.crl(ca, day(2), time("2026-06-02T00:00:00Z"), 10, &[hold]);
    let delta = |number: u64, base_number: u64, entries: Vec<CrlEntry>| {
        CrlBuilder::new(offset(day(3)), Some(offset(day(4))))
            .number(number)
            .delta_crl_indicator(base_number)
            .entries(entries)
            .sign(ca.issuer())
            .unwrap()
    };
    let release = CrlEntry::new(held.serial.clone(), offset(day(3))).reason(ReasonCode::RemoveFromCrl);
    let compromise = CrlEntry::new(lost.serial.clone(), offset(day(3))).reason(ReasonCode::KeyCompromise);
    let first_delta = delta(11, 10, vec![release.clone(), compromise.clone()]);
    assert_eq!(
        fixture.store.load("delta", &first_delta, day(3)),
        Err(LoadError::DeltaWithoutBase { base: "10".into(), loaded: None })
    );
    fixture.store.load("base", &base, day(3)).unwrap();
    let moment = time("2026-05-03T12:00:00Z");
    assert!(matches!(held.ask(&fixture.store, anchor, moment).status, RevocationStatus::Revoked { .. }));
    assert_eq!(lost.ask(&fixture.store, anchor, moment).status, RevocationStatus::Good);

    let summary = fixture.store.load("delta", &first_delta, day(3)).unwrap();
    assert_eq!(summary.delta_base.as_deref(), Some("10"));
    assert_eq!(held.ask(&fixture.store, anchor, moment).status, RevocationStatus::Good, "removeFromCRL releases");
    let answer = lost.ask(&fixture.store, anchor, moment);
    assert!(matches!(answer.status, RevocationStatus::Revoked { reason: Some(RevocationReason::KeyCompromise), .. }));
    let provenance = answer.provenance.unwrap();
    assert_eq!(provenance.crl_number.as_deref(), Some("11"));
    assert_eq!(provenance.list, "base + delta delta");
    // Freshness follows the delta's dates.
    assert_eq!(
        lost.ask(&fixture.store, anchor, time("2026-05-05T00:00:00Z")).status,
        unknown(UnknownStatusCause::ListStale { next_update: day(4) })
    );
    // Replayed delta, and a delta for a base that is newer than the loaded complete list.
    assert_eq!(
        fixture.store.load("delta", &first_delta, day(3)),
        Err(LoadError::NotNewer { issuer_key_id: hex::encode(ca.key_id()), loaded: "11".into(), offered: "11".into() })
    );
    assert_eq!(
        fixture.store.load("delta-13", &delta(13, 12, vec![]), day(3)),
        Err(LoadError::DeltaWithoutBase { base: "12".into(), loaded: Some("10".into()) })
    );
    // A new complete list numbered above the delta supersedes it.
    let new_base = fixture.crl(ca, day(3), time("2026-06-03T00:00:00Z"), 12, &[compromise]);
    fixture.store.load("base-12", &new_base, day(3)).unwrap();
    let answer = held.ask(&fixture.store, anchor, time("2026-05-05T00:00:00Z"));
    assert_eq!(answer.status, RevocationStatus::Good);
    assert_eq!(answer.provenance.unwrap().list, "base-12");
}

/// The answers of a model: what the issued list says, judged at the query time (before thisUpdate
/// or past nextUpdate plus grace: unknown; an entry revoked at or before the time: revoked; else
/// good), for holders' certificates, short, long and side-table serials, at every boundary.
#[test]
fn answers_equal_a_model_of_the_issued_lists() {
    use std::collections::HashMap;

    use jpki_core::UnixTime;
    use jpki_core::revocation::{ListIdentity, Provenance, RevocationAnswer};

    let grace = 600;
    let fixture = Fixture::new(grace);
    let (this_update, next_update) = (time("2026-05-02T00:00:00Z"), time("2026-05-30T00:00:00Z"));
    let mut targets = Vec::new();
    // (issuer key id, serial) -> (revocationDate, reason), and the list label and number per key.
    type Key = (Vec<u8>, Vec<u8>);
    let mut model: HashMap<Key, (UnixTime, Option<RevocationReason>)> = HashMap::new();
    let mut lists: HashMap<Vec<u8>, (String, u64, Vec<u8>)> = HashMap::new();
    let mut published = 0u64;
    for ca in fixture.pki.cas().iter().filter(|ca| ca.is_anchor()) {
        let anchor = fixture.anchor_of(ca);
        let key = anchor.key_id().to_vec();
        let mut entries = Vec::new();
        let mut revoke = |entries: &mut Vec<CrlEntry>, serial: &[u8], date: UnixTime, reason: Option<ReasonCode>| {
            let entry = CrlEntry::new(serial.to_vec(), offset(date));
            entries.push(match reason {
                Some(reason) => entry.reason(reason),
                None => entry,
            });
            let reason = reason.and_then(|reason| RevocationReason::from_code(reason.code()));
            let serial = jpki_core::der::unsigned_integer_bytes(serial).to_vec();
            model.insert((key.clone(), serial), (date, reason));
        };
        for (index, holder) in fixture.pki.holders().iter().enumerate() {
            for issued in [holder.signing(), holder.auth()] {
                if issued.issuer_label() != ca.label() {
                    continue;
                }
                targets.push((anchor.clone(), Target::of_cert(anchor, issued.cert_der())));
                if index % 2 == 0 {
                    let reasons = [ReasonCode::KeyCompromise, ReasonCode::Superseded, ReasonCode::CertificateHold];
                    let date = UnixTime(time("2026-05-03T00:00:00Z").0 + (index as i64) * 86_400);
                    revoke(&mut entries, issued.serial(), date, Some(reasons[index % 3]));
                }
            }
        }
        for serial in 1u32..300 {
            let bytes = (serial * 7919).to_be_bytes().to_vec();
            if serial % 3 == 0 {
                revoke(&mut entries, &bytes, time("2026-04-01T00:00:00Z"), Some(ReasonCode::AffiliationChanged));
            }
            targets.push((anchor.clone(), Target::serial(anchor, &bytes, Vec::new())));
        }
        // Long serials and dates outside the u32 range go to the side table.
        for (serial, date) in [(vec![0x55; 20], "2026-04-01T00:00:00Z"), (vec![0x66; 17], "1960-01-01T00:00:00Z")] {
            revoke(&mut entries, &serial, time(date), Some(ReasonCode::CessationOfOperation));
            targets.push((anchor.clone(), Target::serial(anchor, &serial, Vec::new())));
        }
        revoke(&mut entries, &[0x09], time("1965-01-01T00:00:00Z"), None);
        targets.push((anchor.clone(), Target::serial(anchor, &[0x09], Vec::new())));
        targets.push((anchor.clone(), Target::serial(anchor, &[0x55; 19], Vec::new())));
        published += 1;
        let der = fixture.crl(ca, this_update, next_update, published, &entries);
        fixture.store.load(ca.label(), &der, this_update).unwrap();
        let digest = jpki_revocation::parse_crl(&der, |_| Ok(())).unwrap().tbs_digest;
        lists.insert(key, (ca.label().to_owned(), published, digest));
    }
    assert!(targets.len() > 600);
    let expected = |anchor: &jpki_core::TrustAnchor, target: &Target, at: UnixTime| {
        let (label, number, digest) = &lists[anchor.key_id()];
        let provenance = Some(Provenance {
            list: label.clone(),
            crl_number: Some(number.to_string()),
            this_update,
            next_update: Some(next_update),
            lists: vec![ListIdentity {
                issuer_key_id: hex::encode(anchor.key_id()),
                scope: "base",
                crl_number: number.to_string(),
                tbs_digest: hex::encode(digest),
            }],
        });
        let status = if at < this_update {
            unknown(UnknownStatusCause::ListNotYetValid { this_update })
        } else if at.0 > next_update.0 + grace {
            unknown(UnknownStatusCause::ListStale { next_update })
        } else {
            match model.get(&(anchor.key_id().to_vec(), target.serial.clone())) {
                Some((revoked_at, reason)) if *revoked_at <= at => {
                    RevocationStatus::Revoked { revoked_at: *revoked_at, reason: *reason }
                }
                _ => RevocationStatus::Good,
            }
        };
        RevocationAnswer { status, provenance }
    };
    let moments = [
        "2026-05-01T00:00:00Z",
        "2026-05-03T00:00:00Z",
        "2026-05-08T12:00:00Z",
        "2026-05-20T00:00:00Z",
        "2026-05-30T00:10:00Z",
        "2026-05-30T00:10:01Z",
        "2026-06-01T00:00:00Z",
    ];
    let mut revoked = 0;
    for moment in moments {
        for (anchor, target) in &targets {
            let ours = target.ask(&fixture.store, anchor, time(moment));
            assert_eq!(ours, expected(anchor, target, time(moment)), "{} at {moment}", target.id);
            revoked += usize::from(matches!(ours.status, RevocationStatus::Revoked { .. }));
        }
    }
    assert!(revoked > 100, "the comparison covers revoked answers ({revoked})");
}

#[test]
fn every_truncation_and_every_flipped_bit_is_refused() {
    let fixture = Fixture::new(0);
    let ca = fixture.ca(PkiKind::AuthCard, 2);
    let entries = [
        CrlEntry::new(vec![0x01, 0x02, 0x03], offset(time("2026-04-01T00:00:00Z"))).reason(ReasonCode::KeyCompromise),
        CrlEntry::new(vec![0x7f; 16], offset(time("2026-04-02T00:00:00Z"))),
    ];
    let good = CrlBuilder::new(offset(time("2026-05-01T00:00:00Z")), Some(offset(time("2026-07-01T00:00:00Z"))))
        .number(3)
        .entries(entries)
        .issuing_distribution_point(IssuingDistributionPoint {
            full_name: Some(jpki_testpki::profile::ee_crl_dp_name(PkiKind::AuthCard, "Tokyo", "Chiyoda-ku")),
            only_contains_user_certs: true,
            only_contains_ca_certs: false,
        })
        .sign(ca.issuer())
        .unwrap();
    assert_eq!(CompactList::from_der("good", &good, &fixture.anchors, at()).unwrap().len(), 2);
    for cut in 0..good.len() {
        assert_eq!(
            CompactList::from_der("cut", &good[..cut], &fixture.anchors, at()).err(),
            Some(LoadError::Malformed { at_byte: cut, what: "input ends inside the CertificateList" }),
        );
    }
    for position in 0..good.len() {
        for mask in [0x01u8, 0x80] {
            let mut changed = good.clone();
            changed[position] ^= mask;
            assert!(
                CompactList::from_der("changed", &changed, &fixture.anchors, at()).is_err(),
                "byte {position} ^ {mask:#04x} was accepted"
            );
        }
    }
}
