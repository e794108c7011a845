//! OpenSSL (3.0) accepts what we make: certificate paths, CMS, raw signatures, CRLs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use common::{openssl, pem, text, tmp_dir, write};
use jpki_testpki::crl::{LargeCrlOptions, large_crl_serial};
use jpki_testpki::pki::VALIDATION_TIME;
use jpki_testpki::{
    BadCaseKind, CertKind, CmsOptions, CrlBuilder, CrlEntry, DistinguishedName, Extension, HashAlg,
    IssuingDistributionPoint, ReasonCode, SignerIdKind, TestPki, write_large_crl_with,
};
use time::macros::datetime;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn attime() -> String {
    VALIDATION_TIME.unix_timestamp().to_string()
}

/// `openssl verify -x509_strict -policy_check -explicit_policy -policy <oid>`.
fn verify(anchor: &Path, ee: &Path, policy: &str, extra: &[&str]) -> (bool, String) {
    let at = attime();
    let mut args = vec![
        "verify",
        "-x509_strict",
        "-policy_check",
        "-explicit_policy",
        "-policy",
        policy,
        "-attime",
        &at,
        "-CAfile",
        s(anchor),
    ];
    args.extend_from_slice(extra);
    args.push(s(ee));
    let o = openssl(&args);
    let t = text(&o);
    (o.status.success() && t.contains(": OK"), t)
}

struct Files {
    dir: PathBuf,
}

impl Files {
    fn anchor(&self, p: &TestPki, kind: CertKind, generation: u8) -> PathBuf {
        let ca = p.ca(kind, generation).unwrap();
        write(&self.dir, &format!("{}.pem", ca.label()), pem(ca.cert_der()))
    }
    /// Both generations of a kind in one file: OpenSSL must pick the anchor by AKI/SKI.
    fn kind_bundle(&self, p: &TestPki, kind: CertKind) -> PathBuf {
        let both = [1, 2].map(|g| pem(p.ca(kind, g).unwrap().cert_der())).concat();
        write(&self.dir, &format!("{}-both.pem", kind.slug()), both)
    }
    fn cert(&self, name: &str, der: &[u8]) -> PathBuf {
        write(&self.dir, &format!("{name}.pem"), pem(der))
    }
}

#[test]
fn openssl_verify_accepts_good_certificates_of_both_generations() {
    let p = common::pki();
    let f = Files { dir: tmp_dir("verify-good") };
    let mut generations = std::collections::BTreeSet::new();
    for h in p.holders() {
        let g = h.profile().generation;
        generations.insert(g);
        for cert in [h.signing(), h.auth()] {
            let kind = cert.kind();
            let ee = f.cert(&cert.label().replace('/', "_"), cert.cert_der());
            let (ok, t) = verify(&f.anchor(&p, kind, g), &ee, kind.policy_oid(), &[]);
            assert!(ok, "{}: {t}", cert.label());
            // With both same-DN anchors available, OpenSSL picks the right one by key.
            let (ok, t) = verify(&f.kind_bundle(&p, kind), &ee, kind.policy_oid(), &[]);
            assert!(ok, "{} with both anchors: {t}", cert.label());
            // Stricter security level: RSA-2048 + SHA-256 pass.
            let (ok, t) = verify(&f.anchor(&p, kind, g), &ee, kind.policy_oid(), &["-auth_level", "2"]);
            assert!(ok, "{} at auth_level 2: {t}", cert.label());
            // The other generation's anchor has the same DN but the wrong key.
            let other = if g == 1 { 2 } else { 1 };
            let (ok, _) = verify(&f.anchor(&p, kind, other), &ee, kind.policy_oid(), &[]);
            assert!(!ok, "{} must not verify under g{other}", cert.label());
            // The policy of another kind is not acceptable.
            let wrong = if kind.is_signing() {
                jpki_testpki::profile::oid::POLICY_AUTH
            } else {
                jpki_testpki::profile::oid::POLICY_SIGNING
            };
            let (ok, _) = verify(&f.anchor(&p, kind, g), &ee, wrong, &[]);
            assert!(!ok, "{} must not satisfy policy {wrong}", cert.label());
        }
    }
    assert_eq!(generations.into_iter().collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn openssl_verify_rejects_the_bad_cases_it_understands() {
    let p = common::pki();
    let f = Files { dir: tmp_dir("verify-bad") };
    let signing = f.kind_bundle(&p, CertKind::SigningCard);
    let pol = CertKind::SigningCard.policy_oid();
    let check = |kind: BadCaseKind, extra: &[&str], expect: &str| {
        let b = p.bad_case(kind).unwrap();
        let ee = f.cert(kind.slug(), b.cert().cert_der());
        let (ok, t) = verify(&signing, &ee, pol, extra);
        assert!(!ok, "{kind:?} accepted: {t}");
        assert!(t.contains(expect), "{kind:?}: {t}");
    };
    check(BadCaseKind::Expired, &[], "certificate has expired");
    check(BadCaseKind::NotYetValid, &[], "not yet valid");
    check(BadCaseKind::ForeignCa, &[], "unable to get local issuer certificate");
    check(BadCaseKind::UnknownCriticalExtension, &[], "unhandled critical extension");
    check(BadCaseKind::WrongPolicy, &[], "verification failed");
    check(BadCaseKind::WeakKey, &["-auth_level", "2"], "key too weak");
    check(BadCaseKind::Sha1, &["-auth_level", "1"], "digest algorithm too weak");

    // The foreign CA verifies its own EE: the bad case is only bad because it is no anchor.
    let foreign = f.cert("foreign-ca", p.foreign_ca().cert_der());
    let ee = f.cert("foreign_ca", p.bad_case(BadCaseKind::ForeignCa).unwrap().cert().cert_der());
    let (ok, t) = verify(&foreign, &ee, pol, &[]);
    assert!(ok, "{t}");
}

fn cms_verify(
    dir: &Path,
    cms: &[u8],
    content: &Path,
    opts: &CmsOptions,
    signer: &Path,
    anchor: &Path,
) -> (bool, String) {
    let input = write(dir, "sig.p7s", cms);
    let mut args = vec![
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        s(&input),
        "-CAfile",
        s(anchor),
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    ];
    let at = attime();
    args.extend(["-attime", &at]);
    if !opts.attached {
        args.extend(["-content", s(content)]);
    }
    if !opts.embed_certificate {
        args.extend(["-certfile", s(signer)]);
    }
    let o = openssl(&args);
    let t = text(&o);
    (o.status.success() && t.contains("Verification successful"), t)
}

#[test]
fn openssl_cms_verify_accepts_every_combination() {
    let p = common::pki();
    let dir = tmp_dir("cms");
    let f = Files { dir: dir.clone() };
    let doc = b"\x00\x01 binary application form\r\n with CRLF and NUL \xff".to_vec();
    let content = write(&dir, "doc.bin", &doc);
    let tampered = write(&dir, "tampered.bin", b"something else");
    for holder in ["h01", "h07", "p01"] {
        let h = p.holder(holder).unwrap();
        let card = h.card();
        let kind = h.signing().kind();
        let anchor = f.anchor(&p, kind, h.profile().generation);
        let signer = f.cert("signer", card.signing_cert_der());
        for attached in [false, true] {
            for signed_attributes in [false, true] {
                for signer_id in [SignerIdKind::IssuerAndSerial, SignerIdKind::SubjectKeyId] {
                    for embed_certificate in [false, true] {
                        let opts = CmsOptions {
                            attached,
                            signed_attributes,
                            signer_id,
                            embed_certificate,
                            ..CmsOptions::default()
                        };
                        let cms = card.sign_document_cms(&doc, opts).unwrap();
                        let (ok, t) = cms_verify(&dir, &cms, &content, &opts, &signer, &anchor);
                        assert!(ok, "{holder} {opts:?}: {t}");
                        if !attached {
                            let (ok, _) = cms_verify(&dir, &cms, &tampered, &opts, &signer, &anchor);
                            assert!(!ok, "{holder} {opts:?}: tampered content accepted");
                        }
                    }
                }
            }
        }
    }
    // Other hashes.
    let card = p.card("h02").unwrap();
    let anchor = f.anchor(&p, CertKind::SigningCard, 2);
    let signer = f.cert("signer", card.signing_cert_der());
    for hash in HashAlg::ALL {
        let opts = CmsOptions { hash, ..CmsOptions::default() };
        let cms = card.sign_document_cms(&doc, opts).unwrap();
        let (ok, t) = cms_verify(&dir, &cms, &content, &opts, &signer, &anchor);
        assert!(ok, "{hash:?}: {t}");
    }
    // A bad-case certificate can sign too; OpenSSL then rejects the signer certificate.
    let expired = p.bad_case(BadCaseKind::Expired).unwrap().cert();
    let opts = CmsOptions::default();
    let cms = expired.signer().sign_cms(&doc, opts).unwrap();
    let (ok, t) = cms_verify(&dir, &cms, &content, &opts, &signer, &anchor);
    assert!(!ok && t.contains("expired"), "{t}");
}

fn public_key(dir: &Path, name: &str, cert_der: &[u8]) -> PathBuf {
    let c = write(dir, "c.der", cert_der);
    let out = dir.join(format!("{name}.pub.pem"));
    let o = openssl(&["x509", "-inform", "DER", "-in", s(&c), "-pubkey", "-noout", "-out", s(&out)]);
    assert!(o.status.success(), "{}", text(&o));
    out
}

fn dgst_verify(dir: &Path, hash: HashAlg, key: &Path, data: &[u8], sig: &[u8]) -> bool {
    let d = write(dir, "data.bin", data);
    let sg = write(dir, "sig.bin", sig);
    let o = openssl(&["dgst", &format!("-{}", hash.name()), "-verify", s(key), "-signature", s(&sg), s(&d)]);
    o.status.success() && text(&o).contains("Verified OK")
}

#[test]
fn raw_signatures_verify_with_openssl_dgst() {
    let p = common::pki();
    let dir = tmp_dir("raw");
    let card = p.card("h05").unwrap();
    let sign_pub = public_key(&dir, "signing", card.signing_cert_der());
    let doc = b"document to sign";
    assert!(dgst_verify(&dir, HashAlg::Sha256, &sign_pub, doc, &card.sign_document(doc).unwrap()));
    assert!(!dgst_verify(&dir, HashAlg::Sha256, &sign_pub, b"other", &card.sign_document(doc).unwrap()));
    for hash in HashAlg::ALL {
        let sig = card.sign_digest(&hash.digest(doc), hash).unwrap();
        assert!(dgst_verify(&dir, hash, &sign_pub, doc, &sig), "{hash:?}");
        assert_eq!(sig, card.sign_document_with(doc, hash).unwrap());
    }
    let challenge = [7u8; 32];
    let auth_pub = public_key(&dir, "auth", card.auth_cert_der());
    let proof = card.prove(&challenge).unwrap();
    assert!(dgst_verify(&dir, HashAlg::Sha256, &auth_pub, &challenge, &proof));
    assert!(!dgst_verify(&dir, HashAlg::Sha256, &sign_pub, &challenge, &proof));
    assert!(card.sign_digest(&[0; 31], HashAlg::Sha256).is_err());
}

fn crl_verify(dir: &Path, crl_der: &[u8], ca_pem: &Path) -> String {
    let c = write(dir, "x.crl", crl_der);
    let o = openssl(&["crl", "-inform", "DER", "-in", s(&c), "-CAfile", s(ca_pem), "-noout", "-text"]);
    let t = text(&o);
    assert!(o.status.success() && t.contains("verify OK"), "{t}");
    t
}

#[test]
fn openssl_accepts_our_crls() {
    let p = common::pki();
    let dir = tmp_dir("crl");
    let f = Files { dir: dir.clone() };
    let this = datetime!(2026-05-31 15:00:00 UTC);
    let next = datetime!(2026-06-01 15:00:00 UTC);
    for (label, der) in p.empty_crls(this, next, 5).unwrap() {
        let ca = p.ca_by_label(&label).unwrap();
        let t = crl_verify(&dir, &der, &f.anchor(&p, ca.kind(), ca.generation()));
        assert!(t.contains("No Revoked Certificates"), "{t}");
        assert!(t.contains("X509v3 CRL Number: \n                5"), "{t}");
    }

    let ca = p.ca(CertKind::SigningCard, 2).unwrap();
    let anchor = f.anchor(&p, CertKind::SigningCard, 2);
    let h = p.holder("h01").unwrap();
    let reasons = [
        ReasonCode::Unspecified,
        ReasonCode::KeyCompromise,
        ReasonCode::CaCompromise,
        ReasonCode::AffiliationChanged,
        ReasonCode::Superseded,
        ReasonCode::CessationOfOperation,
        ReasonCode::CertificateHold,
    ];
    let mut b = CrlBuilder::new(this, Some(next))
        .number(77)
        .entry(h.signing().crl_entry(datetime!(2026-05-01 01:02:03 UTC)).reason(ReasonCode::AffiliationChanged));
    for (i, r) in reasons.iter().enumerate() {
        b = b.entry(CrlEntry::new(vec![0x80, i as u8], datetime!(2025-01-01 0:00 UTC)).reason(*r));
    }
    b = b.entry(CrlEntry::new(vec![0x01], datetime!(2060-01-01 0:00 UTC)));
    let full = b.clone().sign(ca).unwrap();
    let t = crl_verify(&dir, &full, &anchor);
    for needle in [
        "Key Compromise",
        "CA Compromise",
        "Affiliation Changed",
        "Superseded",
        "Cessation Of Operation",
        "Certificate Hold",
        "Unspecified",
        &h.signing().serial_hex(),
    ] {
        assert!(t.contains(needle), "{needle} missing: {t}");
    }
    assert!(t.contains("Jan  1 00:00:00 2060 GMT"), "GeneralizedTime after 2049: {t}");

    // openssl verify -crl_check sees the holder revoked.
    let crl_pem = write(&dir, "rev.crl.pem", jpki_testpki::keys::pem_encode("X509 CRL", &full).unwrap());
    let ee = f.cert("h01", h.signing().cert_der());
    let (ok, t) = verify(&anchor, &ee, CertKind::SigningCard.policy_oid(), &["-crl_check", "-CRLfile", s(&crl_pem)]);
    assert!(!ok && t.contains("certificate revoked"), "{t}");
    let other = f.cert("h02", p.holder("h02").unwrap().signing().cert_der());
    let (ok, t) = verify(&anchor, &other, CertKind::SigningCard.policy_oid(), &["-crl_check", "-CRLfile", s(&crl_pem)]);
    assert!(ok, "{t}");

    // IDP, delta indicator, other hashes, an unknown critical entry extension.
    let idp_name = DistinguishedName::new()
        .country("JP")
        .organization("JPKI")
        .org_unit("JPKI for digital signature")
        .org_unit("CRL Distribution Points")
        .org_unit("Tokyo")
        .common_name("Chiyoda-ku");
    for hash in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        let crl = CrlBuilder::new(this, Some(next))
            .number(78)
            .hash(hash)
            .issuing_distribution_point(IssuingDistributionPoint {
                full_name: Some(idp_name.clone()),
                only_contains_user_certs: true,
                only_contains_ca_certs: false,
            })
            .delta_crl_indicator(77)
            .entry(CrlEntry::new(vec![0x42; 16], this).extension(Extension::new(
                "1.3.6.1.4.1.55555.1.2",
                true,
                vec![0x05, 0x00],
            )))
            .sign(ca)
            .unwrap();
        let t = crl_verify(&dir, &crl, &anchor);
        assert!(t.contains("Issuing Distribution Point: critical"), "{t}");
        assert!(t.contains("Only User Certificates"), "{t}");
        assert!(t.contains("Delta CRL Indicator: critical"), "{t}");
        assert!(t.contains("OU = CRL Distribution Points, OU = Tokyo, CN = Chiyoda-ku"), "{t}");
        assert!(t.contains(&format!("{}WithRSAEncryption", hash.name())), "{t}");
    }
    let arl = CrlBuilder::new(this, None)
        .issuing_distribution_point(IssuingDistributionPoint {
            full_name: None,
            only_contains_user_certs: false,
            only_contains_ca_certs: true,
        })
        .sign(ca)
        .unwrap();
    let t = crl_verify(&dir, &arl, &anchor);
    assert!(t.contains("Only CA Certificates"), "{t}");

    // Signed by the wrong key (the foreign CA, same DN): OpenSSL must say so.
    let forged = CrlBuilder::new(this, Some(next)).sign(p.foreign_ca()).unwrap();
    let c = write(&dir, "forged.crl", &forged);
    let o = openssl(&["crl", "-inform", "DER", "-in", s(&c), "-CAfile", s(&anchor), "-noout"]);
    assert!(text(&o).contains("verify failure"), "{}", text(&o));
}

#[test]
fn streamed_large_crl_is_valid() {
    let p = common::pki();
    let dir = tmp_dir("large-crl");
    let f = Files { dir: dir.clone() };
    let ca = p.ca(CertKind::AuthCard, 2).unwrap();
    let revoked = p.holder("h04").unwrap().auth();
    let opts = LargeCrlOptions {
        number: 12,
        seed: 3,
        extra_entries: vec![revoked.crl_entry(datetime!(2026-05-30 0:00 UTC)).reason(ReasonCode::KeyCompromise)],
        ..LargeCrlOptions::default()
    };
    let path = dir.join("large.crl");
    let n = 20_000u64;
    let t = std::time::Instant::now();
    let info = write_large_crl_with(ca, n, &opts, BufWriter::new(File::create(&path).unwrap())).unwrap();
    eprintln!("{n}-entry CRL streamed in {:?} (debug build)", t.elapsed());
    let der = std::fs::read(&path).unwrap();
    assert_eq!(info.total_len, der.len() as u64);
    assert_eq!(info.entry_count, n + 1);
    crl_verify(&dir, &der, &f.anchor(&p, CertKind::AuthCard, 2));

    // The in-memory builder produces the same bytes for the same entries.
    let entries = opts
        .extra_entries
        .iter()
        .cloned()
        .chain((0..n).map(|i| jpki_testpki::crl::large_crl_entry(opts.seed, i, opts.this_update)));
    let same = CrlBuilder::new(opts.this_update, Some(opts.next_update))
        .number(opts.number)
        .entries(entries)
        .sign(ca)
        .unwrap();
    assert_eq!(same, der);

    use x509_parser::prelude::FromDer;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
    let serials: Vec<_> = crl.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()).collect();
    assert_eq!(serials.len() as u64, n + 1);
    let strip = |v: &[u8]| v.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
    assert_eq!(strip(&serials[0]), revoked.serial());
    assert_eq!(serials[1], large_crl_serial(3, 0).to_vec());
    assert_eq!(serials[n as usize], large_crl_serial(3, n - 1).to_vec());

    // Zero generated entries still gives a valid (empty) list.
    let mut empty = Vec::new();
    write_large_crl_with(ca, 0, &LargeCrlOptions::default(), &mut empty).unwrap();
    let t = crl_verify(&dir, &empty, &f.anchor(&p, CertKind::AuthCard, 2));
    assert!(t.contains("No Revoked Certificates"));
}
