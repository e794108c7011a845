//! Same seed, same bytes; different seed, different PKI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use jpki_testpki::keys::derive_key;
use jpki_testpki::{TestPki, WriteOptions};

/// Every certificate and key of a PKI, labelled.
fn material(p: &TestPki) -> Vec<(String, Vec<u8>, String)> {
    let mut out = Vec::new();
    for ca in p.cas().iter().chain(std::iter::once(p.foreign_ca())) {
        out.push((
            ca.label().to_owned(),
            ca.cert_der().to_vec(),
            jpki_testpki::keys::private_key_pem(ca.key()).unwrap(),
        ));
    }
    let ees = p.holders().iter().flat_map(|h| [h.signing(), h.auth()]).chain(p.bad_cases().iter().map(|b| b.cert()));
    for c in ees {
        out.push((c.label().to_owned(), c.cert_der().to_vec(), jpki_testpki::keys::private_key_pem(c.key()).unwrap()));
    }
    out
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn same_seed_is_byte_identical_and_other_seed_differs() {
    let t = Instant::now();
    let a = TestPki::generate(7).unwrap();
    let first = t.elapsed();
    let b = TestPki::generate(7).unwrap();
    eprintln!("whole PKI generation: {first:?} (first), {:?} (second)", t.elapsed() - first);
    let (ma, mb) = (material(&a), material(&b));
    assert_eq!(ma.len(), mb.len());
    assert!(ma.len() >= 8 + 1 + 2 * 7 + 2 + 10);
    for (x, y) in ma.iter().zip(&mb) {
        assert_eq!(x, y, "{} differs between two runs", x.0);
    }

    let c = TestPki::generate(8).unwrap();
    let mc = material(&c);
    for (x, y) in ma.iter().zip(&mc) {
        assert_eq!(x.0, y.0);
        assert_ne!(x.1, y.1, "{} is the same for two seeds", x.0);
        assert_ne!(x.2, y.2, "key {} is the same for two seeds", x.0);
    }
    // Every key is distinct within one PKI.
    let mut keys: Vec<&String> = ma.iter().map(|m| &m.2).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), ma.len());
}

#[test]
fn keys_depend_only_on_seed_and_label() {
    let p = common::pki();
    let h = p.holder("h02").unwrap();
    let again = derive_key(common::SEED, h.auth().label(), 2048).unwrap();
    assert_eq!(&again, h.auth().key());
    let ca = p.ca(jpki_testpki::CertKind::AuthPhone, 1).unwrap();
    assert_eq!(&derive_key(common::SEED, &format!("ca/{}", ca.label()), 2048).unwrap(), ca.key());
}

#[test]
fn written_directories_are_byte_identical() {
    let p = common::pki();
    let d1 = common::tmp_dir("det-write-1");
    let d2 = common::tmp_dir("det-write-2");
    p.write_to(&d1, &WriteOptions::default()).unwrap();
    p.write_to(&d2, &WriteOptions::default()).unwrap();
    let (t1, t2) = (tree(&d1), tree(&d2));
    assert!(t1.len() > 80, "only {} files written", t1.len());
    assert_eq!(t1, t2);
}
