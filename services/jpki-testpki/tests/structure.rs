//! The certificates have the JPKI profile: checked with x509-parser and `openssl x509 -text`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use jpki_testpki::holder::ADDRESS_200;
use jpki_testpki::pki::VALIDATION_TIME;
use jpki_testpki::profile::oid;
use jpki_testpki::{BadCaseKind, CertKind, TestPki};
use sha1::{Digest, Sha1};
use time::macros::datetime;
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate, X509Extension};

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, c) = X509Certificate::from_der(der).unwrap();
    assert!(rest.is_empty());
    c
}

fn ext<'a>(c: &'a X509Certificate<'a>, dotted: &str) -> Option<&'a X509Extension<'a>> {
    c.extensions().iter().find(|e| e.oid.to_id_string() == dotted)
}

fn dn_strings(name: &x509_parser::x509::X509Name<'_>) -> Vec<(String, String)> {
    name.iter_attributes().map(|a| (a.attr_type().to_id_string(), a.as_str().unwrap().to_owned())).collect()
}

fn ski_of(c: &X509Certificate<'_>) -> Vec<u8> {
    match ext(c, oid::SUBJECT_KEY_IDENTIFIER).unwrap().parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(k) => k.0.to_vec(),
        other => panic!("{other:?}"),
    }
}

fn aki_of(c: &X509Certificate<'_>) -> Option<Vec<u8>> {
    ext(c, oid::AUTHORITY_KEY_IDENTIFIER).map(|e| match e.parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().unwrap().0.to_vec(),
        other => panic!("{other:?}"),
    })
}

fn dp_dirname(c: &X509Certificate<'_>) -> Vec<(String, String)> {
    let e = ext(c, oid::CRL_DISTRIBUTION_POINTS).unwrap();
    assert!(!e.critical);
    let ParsedExtension::CRLDistributionPoints(dps) = e.parsed_extension() else { panic!() };
    assert_eq!(dps.points.len(), 1);
    let Some(DistributionPointName::FullName(names)) = &dps.points[0].distribution_point else { panic!() };
    assert_eq!(names.len(), 1);
    let GeneralName::DirectoryName(n) = &names[0] else { panic!("{names:?}") };
    dn_strings(n)
}

fn policies(c: &X509Certificate<'_>) -> (bool, Vec<String>) {
    let e = ext(c, oid::CERTIFICATE_POLICIES).unwrap();
    let ParsedExtension::CertificatePolicies(p) = e.parsed_extension() else { panic!() };
    (e.critical, p.iter().map(|i| i.policy_id.to_id_string()).collect())
}

/// The four-field otherNames, in order: (OID, value).
fn other_names(c: &X509Certificate<'_>) -> Vec<(String, String)> {
    let e = ext(c, oid::SUBJECT_ALT_NAME).unwrap();
    let ParsedExtension::SubjectAlternativeName(san) = e.parsed_extension() else { panic!() };
    san.general_names
        .iter()
        .map(|g| {
            let GeneralName::OtherName(o, raw) = g else { panic!("{g:?}") };
            // x509-parser hands over the raw `[0] EXPLICIT` wrapper: A0 len 0C len value.
            let mut r = jpki_testpki::der::Reader::new(raw);
            let wrapper = r.expect(0xA0).unwrap();
            assert!(r.is_empty());
            let s = jpki_testpki::der::Reader::new(wrapper.content).expect(0x0C).unwrap();
            (o.to_id_string(), String::from_utf8(s.content.to_vec()).unwrap())
        })
        .collect()
}

#[test]
fn cas_copy_the_real_root_profile() {
    let p = common::pki();
    assert_eq!(p.cas().len(), 8);
    for kind in CertKind::ALL {
        let g1 = parse(p.ca(kind, 1).unwrap().cert_der());
        let g2 = parse(p.ca(kind, 2).unwrap().cert_der());
        assert_eq!(g1.subject().as_raw(), g2.subject().as_raw(), "same DN for both generations");
        assert_ne!(ski_of(&g1), ski_of(&g2));
    }
    for ca in p.cas() {
        let c = parse(ca.cert_der());
        assert_eq!(c.version().0, 2);
        assert_eq!(c.subject().as_raw(), c.issuer().as_raw());
        assert_eq!(c.signature_algorithm.algorithm.to_id_string(), oid::SHA256_WITH_RSA);
        let dn = dn_strings(c.subject());
        assert_eq!(
            dn,
            vec![
                (oid::AT_COUNTRY.into(), "JP".into()),
                (oid::AT_ORGANIZATION.into(), "JPKI".into()),
                (oid::AT_ORG_UNIT.into(), ca.kind().ca_org_unit().into()),
                (oid::AT_ORG_UNIT.into(), "Japan Agency for Local Authority Information Systems".into()),
            ]
        );
        // String types as in the real root: C PrintableString, O/OU UTF8String.
        let tags: Vec<Tag> = c.subject().iter_attributes().map(|a| a.attr_value().tag()).collect();
        assert_eq!(tags, vec![Tag::PrintableString, Tag::Utf8String, Tag::Utf8String, Tag::Utf8String]);
        if ca.kind() == CertKind::SigningCard {
            assert_eq!(dn[2].1, "JPKI for digital signature", "signing CA DN exactly as the real one");
        }
        // RSA-2048, e = 65537
        let spk = c.public_key().parsed().unwrap();
        let x509_parser::public_key::PublicKey::RSA(rsa) = spk else { panic!() };
        assert_eq!(rsa.key_size(), 2048);
        assert_eq!(rsa.try_exponent().unwrap(), 65_537);
        // Extensions in the real order, no AKI.
        let oids: Vec<String> = c.extensions().iter().map(|e| e.oid.to_id_string()).collect();
        assert_eq!(
            oids,
            vec![
                oid::KEY_USAGE,
                oid::SUBJECT_ALT_NAME,
                oid::BASIC_CONSTRAINTS,
                oid::CRL_DISTRIBUTION_POINTS,
                oid::SUBJECT_KEY_IDENTIFIER
            ]
        );
        assert!(aki_of(&c).is_none());
        let ku = ext(&c, oid::KEY_USAGE).unwrap();
        assert!(ku.critical);
        let ParsedExtension::KeyUsage(k) = ku.parsed_extension() else { panic!() };
        assert!(k.key_cert_sign() && k.crl_sign() && !k.digital_signature());
        let bc = ext(&c, oid::BASIC_CONSTRAINTS).unwrap();
        assert!(bc.critical);
        let ParsedExtension::BasicConstraints(b) = bc.parsed_extension() else { panic!() };
        assert!(b.ca && b.path_len_constraint.is_none());
        assert_eq!(dp_dirname(&c), dn, "DirName DP equals the CA DN");
        let ParsedExtension::SubjectAlternativeName(san) = ext(&c, oid::SUBJECT_ALT_NAME).unwrap().parsed_extension()
        else {
            panic!()
        };
        let [GeneralName::DirectoryName(ja)] = san.general_names.as_slice() else { panic!() };
        let ja = dn_strings(ja);
        assert_eq!(ja[1].1, "公的個人認証サービス");
        assert_eq!(ja[2].1, ca.kind().ca_org_unit_ja());
        assert_eq!(ja[3].1, "地方公共団体情報システム機構");
        // SKI is SHA-1 of the subjectPublicKey bits (method 1).
        let bits = &c.public_key().subject_public_key.data;
        assert_eq!(ski_of(&c), Sha1::digest(bits).to_vec());
        assert_eq!(ski_of(&c), ca.key_id());
        // Validity: g1 2019..2029, g2 2023..2033.
        let (nb, na) = (c.validity().not_before.timestamp(), c.validity().not_after.timestamp());
        if ca.generation() == 1 {
            assert_eq!(nb, datetime!(2019-01-01 0:00 UTC).unix_timestamp());
            assert!(na >= datetime!(2029-01-01 0:00 UTC).unix_timestamp());
        } else {
            assert_eq!(nb, datetime!(2023-07-16 0:00 UTC).unix_timestamp());
            assert_eq!(na, datetime!(2033-07-15 14:59:59 UTC).unix_timestamp());
        }
    }
}

#[test]
fn real_roots_have_the_same_extension_bytes_as_ours() {
    // Compare the byte encoding of keyUsage, SAN, basicConstraints and CRL DP with the real
    // 2023 roots (only the key, SKI, serial, dates and signature differ).
    let p = common::pki();
    for (file, kind) in [("sign_ca_2023.pem", CertKind::SigningCard), ("auth_ca_2023.pem", CertKind::AuthCard)] {
        let path = format!("{}/../../../shared/jpki/real-ca/{file}", env!("CARGO_MANIFEST_DIR"));
        let Ok(pem) = std::fs::read_to_string(&path) else {
            eprintln!("skipping: {path} not found");
            continue;
        };
        let (_, der) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let real = parse(&der.contents);
        let ours_der = p.ca(kind, 2).unwrap().cert_der().to_vec();
        let ours = parse(&ours_der);
        assert_eq!(real.subject().as_raw(), ours.subject().as_raw());
        for o in [oid::KEY_USAGE, oid::SUBJECT_ALT_NAME, oid::BASIC_CONSTRAINTS, oid::CRL_DISTRIBUTION_POINTS] {
            let (r, u) = (ext(&real, o).unwrap(), ext(&ours, o).unwrap());
            assert_eq!((r.critical, r.value), (u.critical, u.value), "{file} {o}");
        }
    }
}

#[test]
fn holders_have_the_ee_profile_and_four_fields() {
    let p = common::pki();
    assert!(p.holders().iter().filter(|h| !h.profile().phone).count() >= 7);
    assert!(p.holders().iter().any(|h| h.profile().generation == 1));
    assert!(p.holders().iter().any(|h| h.profile().phone));
    let mut serial_lens = std::collections::BTreeSet::new();
    for h in p.holders() {
        for (cert, is_signing) in [(h.signing(), true), (h.auth(), false)] {
            let kind = cert.kind();
            assert_eq!(kind.is_signing(), is_signing);
            assert_eq!(kind.is_phone(), h.profile().phone);
            let ca = p.ca(kind, h.profile().generation).unwrap();
            assert_eq!(cert.issuer_label(), ca.label());
            let c = parse(cert.cert_der());
            assert_eq!(c.issuer().as_raw(), ca.name_der());
            assert_eq!(c.signature_algorithm.algorithm.to_id_string(), oid::SHA256_WITH_RSA);
            let x509_parser::public_key::PublicKey::RSA(rsa) = c.public_key().parsed().unwrap() else { panic!() };
            assert_eq!(rsa.key_size(), 2048);
            assert_eq!(rsa.try_exponent().unwrap(), 65_537);
            // Serial: positive, 16 bytes of magnitude, raw INTEGER 16 or 17 octets.
            let raw = c.raw_serial();
            serial_lens.insert(raw.len());
            assert!(raw.len() == 16 || (raw.len() == 17 && raw[0] == 0 && raw[1] & 0x80 != 0));
            assert_eq!(cert.serial().len(), 16);
            // Valid from 2024-01-01 to 2029-01-01 at least.
            assert!(c.validity().not_before.timestamp() <= datetime!(2024-04-01 0:00 UTC).unix_timestamp());
            assert!(c.validity().not_after.timestamp() >= datetime!(2029-01-01 0:00 UTC).unix_timestamp());
            assert!(
                c.validity().is_valid_at(
                    x509_parser::time::ASN1Time::from_timestamp(VALIDATION_TIME.unix_timestamp()).unwrap()
                )
            );
            // Subject layout.
            let subject = dn_strings(c.subject());
            let cn = subject.last().unwrap();
            assert_eq!(cn.0, oid::AT_COMMON_NAME);
            assert_eq!(cn.1.len(), 24);
            if is_signing {
                assert_eq!(
                    subject[..3],
                    [
                        (oid::AT_COUNTRY.to_owned(), "JP".to_owned()),
                        (oid::AT_LOCALITY.to_owned(), h.profile().prefecture.clone()),
                        (oid::AT_LOCALITY.to_owned(), h.profile().municipality.clone()),
                    ]
                );
            } else {
                assert_eq!(subject.len(), 2);
                assert_eq!(subject[0].1, "JP");
            }
            // keyUsage critical.
            let ku = ext(&c, oid::KEY_USAGE).unwrap();
            assert!(ku.critical);
            let ParsedExtension::KeyUsage(k) = ku.parsed_extension() else { panic!() };
            assert!(k.digital_signature());
            assert_eq!(k.non_repudiation(), is_signing);
            assert!(!k.key_cert_sign());
            // Policies critical, exactly one.
            assert_eq!(policies(&c), (true, vec![kind.policy_oid().to_owned()]));
            // issuerAltName C=JP, O=公的個人認証サービス.
            let ian = ext(&c, oid::ISSUER_ALT_NAME).unwrap();
            let ParsedExtension::IssuerAlternativeName(ian) = ian.parsed_extension() else { panic!() };
            let [GeneralName::DirectoryName(n)] = ian.general_names.as_slice() else { panic!() };
            assert_eq!(
                dn_strings(n),
                vec![
                    (oid::AT_COUNTRY.to_owned(), "JP".to_owned()),
                    (oid::AT_ORGANIZATION.to_owned(), "公的個人認証サービス".to_owned())
                ]
            );
            // DP per municipality.
            let dp = dp_dirname(&c);
            assert_eq!(dp[2].1, kind.ca_org_unit());
            assert_eq!(dp[3].1, "CRL Distribution Points");
            assert_eq!(dp[4].1, h.profile().prefecture);
            assert_eq!(dp[5], (oid::AT_COMMON_NAME.to_owned(), h.profile().municipality.clone()));
            // AKI = CA SKI; SKI = SHA-1 of the key bits.
            assert_eq!(aki_of(&c).unwrap(), ca.key_id());
            assert_eq!(ski_of(&c), Sha1::digest(&c.public_key().subject_public_key.data).to_vec());
            assert!(ext(&c, oid::BASIC_CONSTRAINTS).is_none());
            // Four fields only in the signing certificate, in the order 1, 4, 3, 5, 2, 6.
            if is_signing {
                let f = h.four_fields();
                let base = oid::FOUR_FIELDS_BASE;
                assert_eq!(
                    other_names(&c),
                    vec![
                        (format!("{base}.1"), f.name.clone()),
                        (format!("{base}.4"), f.date_of_birth.clone()),
                        (format!("{base}.3"), f.sex.clone()),
                        (format!("{base}.5"), f.address.clone()),
                        (format!("{base}.2"), f.name_substitute.clone()),
                        (format!("{base}.6"), f.address_substitute.clone()),
                    ]
                );
            } else {
                assert!(ext(&c, oid::SUBJECT_ALT_NAME).is_none());
            }
        }
    }
    assert_eq!(serial_lens.into_iter().collect::<Vec<_>>(), vec![16, 17]);
}

#[test]
fn four_fields_cover_the_edges() {
    let p = common::pki();
    let all: Vec<_> = p.holders().iter().map(|h| h.four_fields().clone()).collect();
    for era in ['0', '1', '2', '3', '4', '5'] {
        assert!(all.iter().any(|f| f.date_of_birth.starts_with(era)), "era {era}");
    }
    assert!(all.iter().any(|f| f.date_of_birth == "019450000"));
    assert!(all.iter().any(|f| f.date_of_birth == "119110203"));
    for sex in ["1", "2", "3"] {
        assert!(all.iter().any(|f| f.sex == sex));
    }
    assert!(all.iter().any(|f| f.address == ADDRESS_200 && f.address.chars().count() == 200));
    assert!(all.iter().any(|f| f.address.contains("丁目") && f.address.contains('号')));
    assert!(all.iter().any(|f| f.address.contains("番地")));
    for f in &all {
        f.validate().unwrap();
        assert_eq!(f.name.chars().filter(|c| *c == '\u{3000}').count(), 1);
        assert_eq!(f.name_substitute.chars().count(), f.name.chars().count());
        assert_eq!(f.address_substitute.chars().count(), f.address.chars().count());
    }
    let h03 = p.holder("h03").unwrap();
    assert_eq!(h03.four_fields().name, "高橋　一郎");
    assert_eq!(h03.four_fields().name_substitute, "10000");
    assert!(h03.four_fields().address_substitute.contains('1'));
    assert_eq!(h03.profile().name_as_written, "髙橋　一郎");
}

#[test]
fn bad_cases_are_bad_for_exactly_their_reason() {
    let p = common::pki();
    assert_eq!(p.bad_cases().len(), BadCaseKind::ALL.len());
    let signing_g2 = p.ca(CertKind::SigningCard, 2).unwrap();
    for b in p.bad_cases() {
        let cert = b.cert();
        let c = parse(cert.cert_der());
        let expect_issuer = if b.kind() == BadCaseKind::ForeignCa { p.foreign_ca() } else { signing_g2 };
        assert_eq!(cert.issuer_label(), expect_issuer.label());
        assert_eq!(aki_of(&c).unwrap(), expect_issuer.key_id());
        assert_eq!(c.issuer().as_raw(), signing_g2.name_der(), "all carry the signing CA DN");
        let x509_parser::public_key::PublicKey::RSA(rsa) = c.public_key().parsed().unwrap() else { panic!() };
        let ParsedExtension::KeyUsage(ku) = ext(&c, oid::KEY_USAGE).unwrap().parsed_extension() else { panic!() };
        let valid_now = c
            .validity()
            .is_valid_at(x509_parser::time::ASN1Time::from_timestamp(VALIDATION_TIME.unix_timestamp()).unwrap());
        assert_eq!(valid_now, !matches!(b.kind(), BadCaseKind::Expired | BadCaseKind::NotYetValid), "{:?}", b.kind());
        assert_eq!(rsa.key_size() == 1024, b.kind() == BadCaseKind::WeakKey);
        assert_eq!(c.signature_algorithm.algorithm.to_id_string() == oid::SHA1_WITH_RSA, b.kind() == BadCaseKind::Sha1);
        assert_eq!(
            ext(&c, oid::UNKNOWN_CRITICAL_EXTENSION).is_some_and(|e| e.critical),
            b.kind() == BadCaseKind::UnknownCriticalExtension
        );
        let is_ca = ext(&c, oid::BASIC_CONSTRAINTS).is_some_and(|e| {
            e.critical && matches!(e.parsed_extension(), ParsedExtension::BasicConstraints(bc) if bc.ca)
        });
        assert_eq!(is_ca, b.kind() == BadCaseKind::EeIsCa);
        let (critical, pols) = policies(&c);
        assert!(critical);
        let expected_policy = match b.kind() {
            BadCaseKind::AuthProfileUnderSigningCa => oid::POLICY_AUTH,
            BadCaseKind::WrongPolicy => oid::POLICY_WRONG_TEST,
            _ => oid::POLICY_SIGNING,
        };
        assert_eq!(pols, vec![expected_policy.to_owned()]);
        let auth_profile = b.kind() == BadCaseKind::AuthProfileUnderSigningCa;
        assert_eq!(ku.non_repudiation(), !auth_profile && b.kind() != BadCaseKind::SigningWithoutNonRepudiation);
        assert_eq!(ext(&c, oid::SUBJECT_ALT_NAME).is_some(), !auth_profile);
        assert!(!b.expected_failure().is_empty());
    }
    // The foreign CA: same DN as the signing CA, own key, not an anchor, no AKI.
    let f = p.foreign_ca();
    assert!(!f.is_anchor());
    assert_eq!(f.name_der(), signing_g2.name_der());
    assert_ne!(f.key_id(), signing_g2.key_id());
    assert!(p.cas().iter().all(|c| c.cert_der() != f.cert_der()));
}

#[test]
fn openssl_prints_the_profile() {
    let p = common::pki();
    let dir = common::tmp_dir("structure-openssl");
    let ca = common::openssl_text(&dir, p.ca(CertKind::SigningCard, 2).unwrap().cert_der());
    assert!(ca.contains(
        "Subject: C = JP, O = JPKI, OU = JPKI for digital signature, OU = Japan Agency for Local Authority Information Systems"
    ));
    assert!(ca.contains("X509v3 Key Usage: critical"));
    assert!(ca.contains("X509v3 Basic Constraints: critical"));
    assert!(!ca.contains("Authority Key Identifier"));
    let ee = common::openssl_text(&dir, p.holder("h01").unwrap().signing().cert_der());
    assert!(ee.contains("X509v3 Certificate Policies: critical"));
    assert!(ee.contains("Policy: 1.2.392.200149.8.5.1.1.20"));
    let o1 = ee.find("othername: 1.2.392.200149.8.5.5.1::山田　太郎").unwrap();
    let o4 = ee.find("othername: 1.2.392.200149.8.5.5.4::319801231").unwrap();
    let o6 = ee.find("othername: 1.2.392.200149.8.5.5.6::").unwrap();
    assert!(o1 < o4 && o4 < o6);
    assert!(ee.contains("OU = CRL Distribution Points, OU = Tokyo, CN = Chiyoda-ku"));
    let auth = common::openssl_text(&dir, p.holder("h01").unwrap().auth().cert_der());
    assert!(auth.contains("Policy: 1.2.392.200149.8.5.1.3.30"));
    assert!(!auth.contains("othername"));
}

#[test]
fn generation_is_reasonably_fast() {
    let t = std::time::Instant::now();
    let _ = TestPki::generate(1234).unwrap();
    let e = t.elapsed();
    eprintln!("TestPki::generate: {e:?}");
    assert!(e.as_secs() < 30, "took {e:?}");
}
