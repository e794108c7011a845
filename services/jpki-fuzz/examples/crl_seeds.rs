//! Writes the test PKI's CRLs into `fuzz/seeds/crl_parse/`: complete lists with every reason code,
//! a delta, IDP-scoped lists, lists without nextUpdate or entries, SHA-384/512, entries that take
//! the parser's general path (invalidityDate, GeneralizedTime, long serials, an unknown
//! non-critical extension) and a few hundred entries. Deterministic (test PKI seed 2026).
//!
//! Run: `cargo run -p jpki-fuzz --example crl_seeds` (then commit the seeds).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use jpki_testpki::profile::ee_crl_dp_name;
use jpki_testpki::{CertKind, CrlBuilder, CrlEntry, Extension, HashAlg, IssuingDistributionPoint, ReasonCode, TestPki};
use time::OffsetDateTime;

fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/crl_parse");
    std::fs::create_dir_all(&dir).unwrap();
    let pki = TestPki::cached(2026).unwrap();
    let ca = pki.ca(CertKind::SigningCard, 2).unwrap();
    let (this_update, next_update) = (at("2026-05-01T00:00:00Z"), at("2026-07-01T00:00:00Z"));
    let reasons = [
        ReasonCode::Unspecified,
        ReasonCode::KeyCompromise,
        ReasonCode::CaCompromise,
        ReasonCode::AffiliationChanged,
        ReasonCode::Superseded,
        ReasonCode::CessationOfOperation,
        ReasonCode::CertificateHold,
        ReasonCode::PrivilegeWithdrawn,
        ReasonCode::AaCompromise,
    ];
    let holder_entries: Vec<CrlEntry> = pki
        .holders()
        .iter()
        .filter(|holder| holder.signing().issuer_label() == ca.label())
        .zip(reasons.iter().cycle())
        .map(|(holder, reason)| holder.signing().crl_entry(at("2026-04-15T00:00:00Z")).reason(*reason))
        .collect();
    let reasons_list =
        CrlBuilder::new(this_update, Some(next_update))
            .number(10)
            .entries(holder_entries.clone())
            .entries(reasons.iter().enumerate().map(|(index, reason)| {
                CrlEntry::new(vec![0x10, index as u8], at("2026-04-01T12:34:56Z")).reason(*reason)
            }))
            .entry(CrlEntry::new(vec![0x7f], at("2026-04-02T00:00:00Z")))
            .sign(ca.issuer())
            .unwrap();
    let general_path = CrlBuilder::new(this_update, Some(next_update))
        .number(11)
        .entry(CrlEntry::new(vec![0x01], at("2026-04-01T00:00:00Z")).reason(ReasonCode::KeyCompromise).extension(
            Extension::new(
                "2.5.29.24",
                false,
                jpki_testpki::der::generalized_time(at("2026-03-31T00:00:00Z")).unwrap(),
            ),
        ))
        .entry(CrlEntry::new(vec![0x02], at("2051-01-01T00:00:00Z")))
        .entry(CrlEntry::new(vec![0x55; 20], at("2026-04-01T00:00:00Z")).reason(ReasonCode::Superseded))
        .entry(CrlEntry::new(vec![0x80; 16], at("1960-01-01T00:00:00Z")))
        .entry(CrlEntry::new(vec![0x03], at("2026-04-01T00:00:00Z")).extension(Extension::new(
            "1.3.6.1.4.1.55555.1",
            false,
            vec![0x05, 0x00],
        )))
        .sign(ca.issuer())
        .unwrap();
    let delta = CrlBuilder::new(at("2026-05-02T00:00:00Z"), Some(at("2026-05-03T00:00:00Z")))
        .number(12)
        .delta_crl_indicator(10)
        .entry(CrlEntry::new(vec![0x10, 0x06], at("2026-04-01T12:34:56Z")).reason(ReasonCode::RemoveFromCrl))
        .entry(CrlEntry::new(vec![0x20], at("2026-05-01T12:00:00Z")).reason(ReasonCode::CertificateHold))
        .sign(ca.issuer())
        .unwrap();
    let scoped = CrlBuilder::new(this_update, Some(next_update))
        .number(13)
        .issuing_distribution_point(IssuingDistributionPoint {
            full_name: Some(ee_crl_dp_name(CertKind::SigningCard, "Tokyo", "Chiyoda-ku")),
            only_contains_user_certs: true,
            only_contains_ca_certs: false,
        })
        .entries(holder_entries.iter().take(2).cloned())
        .hash(HashAlg::Sha384)
        .sign(ca.issuer())
        .unwrap();
    let arl = CrlBuilder::new(this_update, Some(next_update))
        .number(14)
        .issuing_distribution_point(IssuingDistributionPoint {
            full_name: None,
            only_contains_user_certs: false,
            only_contains_ca_certs: true,
        })
        .hash(HashAlg::Sha512)
        .sign(ca.issuer())
        .unwrap();
    let no_next_update =
        CrlBuilder::new(this_update, None).number(15).without_authority_key_id().sign(ca.issuer()).unwrap();
    let large = CrlBuilder::new(this_update, Some(next_update))
        .number(16)
        .entries((0..400u64).map(|index| {
            let serial = jpki_testpki::crl::large_crl_serial(2026, index).to_vec();
            let entry = CrlEntry::new(serial, at("2026-04-01T00:00:00Z"));
            if index % 2 == 0 { entry.reason(reasons[(index as usize / 2) % reasons.len()]) } else { entry }
        }))
        .sign(ca.issuer())
        .unwrap();
    let auth_ca = pki.ca(CertKind::AuthCard, 1).unwrap();
    let auth = auth_ca.issue_crl(this_update, next_update, 3, &[CrlEntry::new(vec![0x42], this_update)]).unwrap();
    for (name, der) in [
        ("reasons.crl", reasons_list),
        ("general-path.crl", general_path),
        ("delta.crl", delta),
        ("scoped-sha384.crl", scoped),
        ("arl-sha512.crl", arl),
        ("no-next-update.crl", no_next_update),
        ("large-400.crl", large),
        ("auth-g1.crl", auth),
    ] {
        std::fs::write(dir.join(name), der).unwrap();
    }
    for name in ["sign-ca-2.crl", "auth-ca.crl"] {
        let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/fixtures").join(name);
        std::fs::copy(fixture, dir.join(format!("openssl-{name}"))).unwrap();
    }
    println!("seeds written to {}", dir.display());
}
