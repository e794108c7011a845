//! Directory output, manifest and loaders.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{openssl, text, tmp_dir};
use jpki_testpki::keys::private_key_from_pem;
use jpki_testpki::{BadCaseKind, CertKind, CmsOptions, Error, TestPki, WriteOptions};
use time::macros::datetime;

#[test]
fn writes_the_documented_layout_and_manifest() {
    let p = common::pki();
    let dir = tmp_dir("write-layout");
    let m = p.write_to(&dir, &WriteOptions::default()).unwrap();
    assert_eq!(TestPki::load_manifest(&dir).unwrap(), m);
    assert_eq!(m.seed, common::SEED);

    for kind in CertKind::ALL {
        for g in [1, 2] {
            let stem = format!("anchors/{}-g{g}", kind.slug());
            for ext in ["pem", "der", "key.pem"] {
                assert!(dir.join(format!("{stem}.{ext}")).is_file(), "{stem}.{ext}");
            }
            assert!(dir.join(format!("crl/{}-g{g}.crl", kind.slug())).is_file());
            let ca = p.ca(kind, g).unwrap();
            assert_eq!(std::fs::read(dir.join(format!("{stem}.der"))).unwrap(), ca.cert_der());
            let key = std::fs::read_to_string(dir.join(format!("{stem}.key.pem"))).unwrap();
            assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
            assert_eq!(&private_key_from_pem(&key).unwrap(), ca.key());
        }
    }
    assert_eq!(m.anchors.len(), 8);
    assert!(!m.foreign_ca.anchor);
    assert!(dir.join(&m.foreign_ca.cert_pem).is_file());

    assert_eq!(m.holders.len(), p.holders().len());
    for (e, h) in m.holders.iter().zip(p.holders()) {
        assert_eq!(e.id, h.id());
        assert_eq!(&e.four_fields, h.four_fields());
        assert_eq!(e.signing.serial, h.signing().serial_hex());
        assert_eq!(e.auth.serial, h.auth().serial_hex());
        assert_eq!(e.signing.issuer, h.signing().issuer_label());
        assert_eq!(e.signing.cert_der, format!("holders/{}/signing.der", e.id));
        assert_eq!(e.auth.key_pem, format!("holders/{}/auth.key.pem", e.id));
        for rel in [
            &e.signing.cert_pem,
            &e.signing.cert_der,
            &e.signing.key_pem,
            &e.auth.cert_pem,
            &e.auth.cert_der,
            &e.auth.key_pem,
        ] {
            assert!(dir.join(rel).is_file(), "{rel}");
        }
    }
    assert_eq!(m.bad_cases.len(), BadCaseKind::ALL.len());
    for b in &m.bad_cases {
        assert!(!b.expected_failure.is_empty());
        assert_eq!(b.cert.cert_der, format!("bad/{}.der", b.name.slug()));
        assert!(dir.join(&b.cert.key_pem).is_file());
    }
    let foreign = m.bad_cases.iter().find(|b| b.name == BadCaseKind::ForeignCa).unwrap();
    assert_eq!(foreign.cert.issuer, "foreign-ca");

    // The manifest is plain JSON with the expected names.
    let json = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    for needle in [
        "\"signing-card-g1\"",
        "\"not_yet_valid\"",
        "\"expected_failure\"",
        "山田　太郎",
        "\"1.2.392.200149.8.5.1.1.20\"",
    ] {
        assert!(json.contains(needle), "{needle}");
    }

    // OpenSSL takes the written files as they are.
    let o = openssl(&[
        "verify",
        "-x509_strict",
        "-policy_check",
        "-explicit_policy",
        "-policy",
        "1.2.392.200149.8.5.1.1.20",
        "-attime",
        &jpki_testpki::pki::VALIDATION_TIME.unix_timestamp().to_string(),
        "-CAfile",
        dir.join(&m.anchor_bundle_pem).to_str().unwrap(),
        dir.join("holders/h07/signing.pem").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for c in &m.crls {
        let o = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-noout",
            "-in",
            dir.join(&c.path).to_str().unwrap(),
            "-CAfile",
            dir.join(format!("anchors/{}.pem", c.ca)).to_str().unwrap(),
        ]);
        assert!(text(&o).contains("verify OK"), "{}: {}", c.path, text(&o));
        assert_eq!(c.this_update, "2026-05-31T15:00:00Z");
    }
}

#[test]
fn loaded_cards_and_cas_behave_like_the_generated_ones() {
    let p = common::pki();
    let dir = tmp_dir("write-load");
    let now = datetime!(2026-11-25 09:00:00 UTC);
    p.write_to(&dir, &WriteOptions::with_crl_time(now)).unwrap();

    for h in p.holders() {
        let loaded = TestPki::load_card(&dir, h.id()).unwrap();
        let card = h.card();
        assert_eq!(loaded.holder_id(), h.id());
        assert_eq!(loaded.four_fields(), Some(h.four_fields()));
        assert_eq!(loaded.signing_cert_der(), card.signing_cert_der());
        assert_eq!(loaded.auth_cert_der(), card.auth_cert_der());
        assert_eq!(loaded.sign_document(b"x").unwrap(), card.sign_document(b"x").unwrap());
        assert_eq!(loaded.prove(b"c").unwrap(), card.prove(b"c").unwrap());
        let opts = CmsOptions::default();
        assert_eq!(loaded.sign_document_cms(b"x", opts).unwrap(), card.sign_document_cms(b"x", opts).unwrap());
    }
    assert!(matches!(TestPki::load_card(&dir, "nobody"), Err(Error::UnknownHolder(_))));

    let manifest = TestPki::load_manifest(&dir).unwrap();
    assert_eq!(manifest.crls[0].this_update, "2026-11-25T09:00:00Z");
    assert_eq!(manifest.crls[0].next_update, "2026-11-26T09:00:00Z");
    for label in ["signing-card-g2", "auth-phone-g1", "foreign-ca"] {
        let loaded = TestPki::load_ca(&dir, label).unwrap();
        let ca = p.ca_by_label(label).unwrap();
        assert_eq!(loaded.cert_der(), ca.cert_der());
        assert_eq!(loaded.key_id(), ca.key_id());
        assert_eq!(loaded.name_der(), ca.name_der());
        assert_eq!(loaded.not_after(), ca.not_after());
        assert_eq!(loaded.is_anchor(), ca.is_anchor());
        let e = p.holder("h01").unwrap().signing().crl_entry(now);
        assert_eq!(
            loaded.issue_crl(now, now + time::Duration::days(1), 2, std::slice::from_ref(&e)).unwrap(),
            ca.issue_crl(now, now + time::Duration::days(1), 2, &[e]).unwrap()
        );
    }
    assert!(TestPki::load_ca(&dir, "nope").is_err());
}
