//! Fuzz entry points over the verification core and the production revocation store, shared by
//! the cargo-fuzz targets (`fuzz/fuzz_targets/`) and the replay test (`tests/fuzz_regressions.rs`),
//! so that a kept input runs through exactly the code the fuzzer ran. Not an API: only the fuzz
//! workspace and this crate's tests use it.
//!
//! This crate sees both `jpki-core` and `jpki-revocation`, so the verifier the targets run has
//! the production revocation source ([`jpki_revocation::RevocationStore`]) behind it.
//!
//! Each function takes arbitrary bytes, runs them through the code under test and checks
//! invariants: report consistency, slices inside their input, and that nothing but the fixtures
//! themselves (byte for byte) ever passes, since without the CA and holder keys nothing else can
//! be validly signed: a pass with other bytes means a malleable encoding. The code under test must
//! never panic; the only panics here are those invariant checks, which are the fuzzers' oracles,
//! and the construction of the fixed verifier from the committed fixtures in `fuzz/fixtures/`.
//! Two targets have their own modules: [`crl_parse`] (the streaming CRL parser against
//! x509-parser) and [`resign`] (structure-aware mutations re-signed with the test PKI's keys).

pub mod crl_parse;
pub mod resign;

use std::sync::{Arc, OnceLock};

use jpki_core::cert::ParsedCertificate;
use jpki_core::der::{self, Element, Reader};
use jpki_core::revocation::{CertId, RevocationQuery, RevocationSource, RevocationStatus};
use jpki_core::{
    AlgorithmPolicy, AuthProofInput, CertKind, HashAlgorithm, KindConfig, SignatureInput, SignedContent, TrustAnchor,
    UnixTime, ValidationReport, Verifier, VerifierConfig,
};
use jpki_revocation::{CompactList, RevocationStore};

/// The validation time of every fuzz run: 2026-06-01T00:00:00Z, when all fixtures are valid.
pub const VALIDATION_TIME: UnixTime = UnixTime(1_780_272_000);

/// Signing-kind policy OID of the fixtures.
pub const SIGNING_POLICY: &str = "1.2.392.200149.8.5.1.1.20";
/// Authentication-kind policy OID of the fixtures.
pub const AUTH_POLICY: &str = "1.2.392.200149.8.5.1.3.30";

/// The committed fixtures (see `fuzz/fixtures/generate.sh`).
pub mod fixtures {
    /// Signing root, first generation (same DN as the second, no certificate issued from it).
    pub const SIGN_CA_1: &[u8] = include_bytes!("../fuzz/fixtures/sign-ca-1.der");
    /// Signing root, second generation; issues [`SIGN_EE`].
    pub const SIGN_CA_2: &[u8] = include_bytes!("../fuzz/fixtures/sign-ca-2.der");
    /// User-authentication root; issues [`AUTH_EE`].
    pub const AUTH_CA: &[u8] = include_bytes!("../fuzz/fixtures/auth-ca.der");
    /// Signing certificate with the four fields.
    pub const SIGN_EE: &[u8] = include_bytes!("../fuzz/fixtures/sign-ee.der");
    /// User-authentication certificate.
    pub const AUTH_EE: &[u8] = include_bytes!("../fuzz/fixtures/auth-ee.der");
    /// CRL of [`SIGN_CA_2`] (revokes serial 03, not [`SIGN_EE`]).
    pub const SIGN_CA_2_CRL: &[u8] = include_bytes!("../fuzz/fixtures/sign-ca-2.crl");
    /// CRL of [`AUTH_CA`] (revokes serial 03, not [`AUTH_EE`]).
    pub const AUTH_CA_CRL: &[u8] = include_bytes!("../fuzz/fixtures/auth-ca.crl");
    /// The signed document.
    pub const CONTENT: &[u8] = include_bytes!("../fuzz/fixtures/content.bin");
    /// `openssl cms -sign -nodetach`, DER.
    pub const CMS_ATTACHED: &[u8] = include_bytes!("../fuzz/fixtures/cms-attached.der");
    /// `openssl cms -sign`, detached, DER.
    pub const CMS_DETACHED: &[u8] = include_bytes!("../fuzz/fixtures/cms-detached.der");
    /// `openssl cms -sign -nodetach -stream`, BER with indefinite lengths.
    pub const CMS_STREAM: &[u8] = include_bytes!("../fuzz/fixtures/cms-stream.ber");
    /// PKCS#1 v1.5 SHA-256 signature of [`CONTENT`] by [`SIGN_EE`].
    pub const RAW_SIGNATURE: &[u8] = include_bytes!("../fuzz/fixtures/raw-signature.bin");
    /// An authentication challenge.
    pub const CHALLENGE: &[u8] = include_bytes!("../fuzz/fixtures/challenge.bin");
    /// [`AUTH_EE`]'s signature over [`CHALLENGE`].
    pub const AUTH_SIGNATURE: &[u8] = include_bytes!("../fuzz/fixtures/auth-signature.bin");
}

/// The fixed verifier: signing kind with both root generations, authentication kind, both CRLs
/// loaded into one [`RevocationStore`], no chain cache (so that a run does not depend on the inputs before it).
#[allow(clippy::expect_used, reason = "the fixtures are compile-time constants; a failure is a harness bug")]
pub fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| build_verifier(0).expect("the fixtures make a valid configuration"))
}

/// A verifier over the fixtures (as [`verifier`]) with a chain cache of `chain_cache_capacity`.
pub fn build_verifier(chain_cache_capacity: u64) -> Result<Verifier, String> {
    let crls = revocation_store()?;
    let config = VerifierConfig {
        kinds: vec![
            KindConfig {
                kind: CertKind::SigningCard,
                anchors: vec![fixtures::SIGN_CA_1.to_vec(), fixtures::SIGN_CA_2.to_vec()],
                policy_oids: vec![SIGNING_POLICY.to_owned()],
                revocation: crls.clone(),
            },
            KindConfig {
                kind: CertKind::AuthCard,
                anchors: vec![fixtures::AUTH_CA.to_vec()],
                policy_oids: vec![AUTH_POLICY.to_owned()],
                revocation: crls,
            },
        ],
        algorithms: AlgorithmPolicy::default(),
        chain_cache_capacity,
    };
    Verifier::new(config).map_err(|error| error.to_string())
}

/// The anchors of the fixed verifier, parsed on their own (for CRL checks).
pub fn anchors() -> Result<Vec<TrustAnchor>, jpki_core::AnchorError> {
    let policy = AlgorithmPolicy::default();
    [
        (CertKind::SigningCard, fixtures::SIGN_CA_1),
        (CertKind::SigningCard, fixtures::SIGN_CA_2),
        (CertKind::AuthCard, fixtures::AUTH_CA),
    ]
    .into_iter()
    .map(|(kind, der)| TrustAnchor::from_der(kind, der, &policy))
    .collect()
}

/// The fixture CRLs in the production store, loaded at the validation time.
fn revocation_store() -> Result<Arc<RevocationStore>, String> {
    let anchors = anchors().map_err(|error| error.to_string())?;
    let store = RevocationStore::new(anchors, 0);
    for (label, crl) in [("sign-ca-2.crl", fixtures::SIGN_CA_2_CRL), ("auth-ca.crl", fixtures::AUTH_CA_CRL)] {
        store.load(label, crl, VALIDATION_TIME).map_err(|error| format!("{label}: {error}"))?;
    }
    Ok(Arc::new(store))
}

/// Checks the invariants every report must hold, whatever the input: a reason exactly when not
/// passed, and indication and sub-indication derived from that reason.
pub fn check_report(report: &ValidationReport) {
    match &report.reason {
        None => {
            assert!(report.passed(), "no reason but not passed: {report:?}");
            assert_eq!(report.sub_indication, None);
            assert!(report.checks.iter().all(|check| check.passed), "passed with a failed check: {report:?}");
        }
        Some(reason) => {
            assert!(!report.passed(), "passed with a reason: {report:?}");
            assert_eq!(report.indication, reason.sub_indication().indication());
            assert_eq!(report.indication, reason.indication());
            assert_eq!(report.sub_indication, Some(reason.sub_indication()));
            assert_eq!(report.retry_may_help, reason.retry_may_help());
            assert!(report.checks.last().is_some_and(|check| !check.passed), "failure without a failed check");
        }
    }
}

/// Checks that a passing report is about one of the fixtures: without the CA keys, no other
/// certificate can pass, so a pass with any other bytes means two encodings of one certificate
/// both verify (malleability).
fn check_passed_certificate(report: &ValidationReport) {
    if !report.passed() {
        return;
    }
    let found = report.certificate.as_ref().map(|facts| facts.sha256.clone());
    let fixture = |der: &[u8]| Some(hex::encode(HashAlgorithm::Sha256.digest(der)));
    assert!(
        found == fixture(fixtures::SIGN_EE) || found == fixture(fixtures::AUTH_EE),
        "a certificate other than the fixtures passed: {report:?}"
    );
}

/// `certificate` target: [`ParsedCertificate::parse`], the PEM splitter, the key accessors and
/// [`TrustAnchor::from_der`] (which verifies a self-signature with the certificate's own key).
pub fn certificate(data: &[u8]) {
    if let Ok(parsed) = ParsedCertificate::parse(data) {
        assert!(parsed.serial.len() <= 1 || parsed.serial[0] != 0, "serial keeps a leading zero");
        if let Some(fields) = &parsed.four_fields {
            check_four_fields(fields);
        }
        if let Ok(key) = parsed.rsa_key() {
            let _ = key.bits();
            let digest = [0u8; 32];
            let _ = key.verify_digest(HashAlgorithm::Sha256, &digest, &parsed.signature);
            let _ = key.verify_message(HashAlgorithm::Sha256, &parsed.tbs, &parsed.signature);
        }
    }
    if let Ok(blocks) = jpki_core::cert::certificates_from_pem_or_der(data) {
        for block in blocks.iter().take(4) {
            let _ = ParsedCertificate::parse(block);
        }
    }
    for kind in [CertKind::SigningCard, CertKind::AuthCard] {
        if TrustAnchor::from_der(kind, data, &AlgorithmPolicy::default()).is_ok() {
            // A self-signature cannot be forged, so only the fixture roots (byte for byte) pass.
            let roots = [fixtures::SIGN_CA_1, fixtures::SIGN_CA_2, fixtures::AUTH_CA];
            assert!(roots.contains(&data), "a root other than the fixtures was accepted");
        }
    }
}

/// `four_fields` target: [`jpki_core::four_fields::extract`] on a subjectAltName extension value.
pub fn four_fields(data: &[u8]) {
    if let Some(fields) = jpki_core::four_fields::extract(data) {
        check_four_fields(&fields);
    }
    // The mask check on its own, with the input split in two at its first 0xff (not UTF-8).
    if let Some(split) = data.iter().position(|byte| *byte == 0xff)
        && let (Ok(value), Ok(mask)) = (std::str::from_utf8(&data[..split]), std::str::from_utf8(&data[split + 1..]))
        && let Ok(positions) = jpki_core::four_fields::mask_positions(value, mask)
    {
        assert!(positions.iter().all(|position| *position < value.chars().count()));
    }
}

fn check_four_fields(fields: &jpki_core::FourFields) {
    for text in [&fields.name, &fields.address] {
        if let Some(value) = &text.value {
            let count = value.chars().count();
            assert!(text.substitute_positions.iter().all(|position| *position < count));
            assert!(text.substitute_positions.windows(2).all(|pair| pair[0] < pair[1]));
        }
        if !text.substitute_positions.is_empty() {
            assert!(text.is_well_formed());
        }
    }
    let date = &fields.date_of_birth;
    assert!(date.month.is_none_or(|month| (1..=12).contains(&month)));
    assert!(date.day.is_none_or(|day| (1..=31).contains(&day)) && (date.day.is_none() || date.month.is_some()));
    assert!(date.year.is_none_or(|year| year != 0));
}

/// `cms` target: [`jpki_core::cms::parse`], then the full [`Verifier::verify_signature`] with the
/// fixed verifier. A detached signature gets the fixture content.
pub fn cms(data: &[u8]) {
    let detached = match jpki_core::cms::parse(data) {
        Ok(signed) => {
            for certificate in &signed.certificates {
                assert!(contains(data, certificate), "an embedded certificate outside the input");
            }
            if let Some(attributes) = &signed.signed_attributes {
                assert_eq!(attributes.signed_bytes.first(), Some(&der::tag::SET));
            }
            signed.content.is_none()
        }
        Err(_) => false,
    };
    let input =
        SignatureInput::Cms { cms: data, detached_content: detached.then_some(fixtures::CONTENT), certificate: None };
    let report = verifier().verify_signature(&input, VALIDATION_TIME);
    check_report(&report);
    check_passed_certificate(&report);
    if report.passed() {
        // Only the fixtures' signatures over the fixture content can verify.
        let signed = jpki_core::cms::parse(data).ok();
        let content = signed.as_ref().and_then(|signed| signed.content.as_deref()).unwrap_or(fixtures::CONTENT);
        assert_eq!(content, fixtures::CONTENT, "other content passed");
        let signature = signed.map(|signed| signed.signature.into_owned());
        let known = [fixtures::CMS_ATTACHED, fixtures::CMS_DETACHED, fixtures::CMS_STREAM]
            .map(|cms| jpki_core::cms::parse(cms).ok().map(|signed| signed.signature.into_owned()));
        assert!(known.contains(&signature), "a signature other than the fixtures' passed");
    }
}

/// Splits fuzz input into `(flags, certificate, challenge, signature)`: a 4-byte header (certificate
/// length, big-endian u16; challenge length, u8; flags), then the three parts. Short input gives
/// empty parts.
pub fn split_auth_input(data: &[u8]) -> (u8, &[u8], &[u8], &[u8]) {
    let header = |index: usize| data.get(index).copied().unwrap_or(0);
    let certificate_len = usize::from(u16::from_be_bytes([header(0), header(1)]));
    let challenge_len = usize::from(header(2));
    let flags = header(3);
    let rest = data.get(4..).unwrap_or_default();
    let (certificate, rest) = rest.split_at(certificate_len.min(rest.len()));
    let (challenge, signature) = rest.split_at(challenge_len.min(rest.len()));
    (flags, certificate, challenge, signature)
}

/// Builds an `auth_proof` input from its parts (for seeds and tests).
pub fn join_auth_input(flags: u8, certificate: &[u8], challenge: &[u8], signature: &[u8]) -> Vec<u8> {
    let certificate_len = u16::try_from(certificate.len()).unwrap_or(u16::MAX);
    let challenge_len = u8::try_from(challenge.len()).unwrap_or(u8::MAX);
    let mut out = Vec::new();
    out.extend_from_slice(&certificate_len.to_be_bytes());
    out.push(challenge_len);
    out.push(flags);
    out.extend_from_slice(&certificate[..usize::from(certificate_len)]);
    out.extend_from_slice(&challenge[..usize::from(challenge_len)]);
    out.extend_from_slice(signature);
    out
}

/// `auth_proof` target: [`Verifier::verify_auth_proof`] on the split input (flag bit 0: the
/// challenge was issued at the validation time), then the same parts as a raw signature
/// ([`SignatureInput::Raw`]) over the challenge as message (flag bits 1-2 pick the hash) and,
/// when its length fits, as a digest.
pub fn auth_proof(data: &[u8]) {
    let (flags, certificate, challenge, signature) = split_auth_input(data);
    let verifier = verifier();
    let proof = AuthProofInput {
        certificate,
        challenge,
        signature,
        challenge_issued_at: (flags & 1 == 1).then_some(VALIDATION_TIME),
    };
    let report = verifier.verify_auth_proof(&proof, VALIDATION_TIME);
    check_report(&report);
    check_passed_certificate(&report);
    if report.passed() {
        assert_eq!((challenge, signature), (fixtures::CHALLENGE, fixtures::AUTH_SIGNATURE), "another proof passed");
    }
    let hash = [HashAlgorithm::Sha256, HashAlgorithm::Sha384, HashAlgorithm::Sha512, HashAlgorithm::Sha1]
        [usize::from((flags >> 1) & 3)];
    let content = if flags & 8 == 0 {
        SignedContent::Message { data: challenge, hash }
    } else {
        SignedContent::Digest { digest: challenge, hash }
    };
    let raw = SignatureInput::Raw { signature, certificate, content };
    let report = verifier.verify_signature(&raw, VALIDATION_TIME);
    check_report(&report);
    check_passed_certificate(&report);
    if report.passed() {
        let expected = match content {
            SignedContent::Message { .. } => fixtures::CONTENT.to_vec(),
            SignedContent::Digest { .. } => HashAlgorithm::Sha256.digest(fixtures::CONTENT),
        };
        assert_eq!((challenge, signature), (&expected[..], fixtures::RAW_SIGNATURE), "another signature passed");
    }
}

/// `crl` target: the production path for a downloaded list. [`jpki_revocation::parse_crl`]
/// (entry count, TBS slice and digest), [`CompactList::from_der`] with the fixture anchors (then
/// every entry is found by [`CompactList::lookup`] and a few other serials are not mistaken for
/// one), and [`RevocationStore::load`] with status queries under every anchor, at, before and
/// long after the validation time.
#[allow(clippy::expect_used, reason = "the fixtures are compile-time constants; a failure is a harness bug")]
pub fn crl(data: &[u8]) {
    static ANCHORS: OnceLock<Vec<TrustAnchor>> = OnceLock::new();
    let anchors = ANCHORS.get_or_init(|| anchors().expect("fixture anchors are valid"));
    let mut count = 0u64;
    if let Ok(parsed) = jpki_revocation::parse_crl(data, |_| {
        count += 1;
        Ok(())
    }) {
        assert_eq!(parsed.entry_count, count, "entry count differs from the entries handed out");
        assert!(contains(data, parsed.tbs) && contains(data, parsed.signature) && contains(data, parsed.issuer_raw));
        assert_eq!(parsed.tbs_digest, parsed.hash.digest(parsed.tbs), "streamed digest differs from the TBS digest");
        assert!(parsed.next_update.is_none_or(|next| next >= parsed.this_update));
    }
    let Ok(list) = CompactList::from_der("fuzz", data, anchors, VALIDATION_TIME) else { return };
    // Without the CA keys, only the fixture lists (byte for byte) can load.
    assert!([fixtures::SIGN_CA_2_CRL, fixtures::AUTH_CA_CRL].contains(&data), "another CRL loaded");
    for (serial, entry) in list.entries() {
        assert_eq!(list.lookup(&serial), Some(entry), "an entry is not found by its own serial");
    }
    let store = RevocationStore::new(anchors.clone(), 3600);
    let Ok(summary) = store.load("fuzz", data, VALIDATION_TIME) else { return };
    assert!(summary.next_update.is_none_or(|next| next >= summary.this_update));
    // The same list again is a replay.
    assert!(store.load("again", data, VALIDATION_TIME).is_err(), "a replayed list was accepted");
    let points = [Vec::new()];
    for anchor in anchors {
        for serial in [&[0x01][..], &[0x02], &[0x03], &[0x00], &[]] {
            let id = CertId::new(anchor.key_id(), serial);
            for at in [VALIDATION_TIME, UnixTime(i64::MIN), UnixTime(i64::MAX)] {
                let query =
                    RevocationQuery { certificate: &id, serial, issuer: anchor, distribution_points: &points, at };
                let answer = store.status(&query);
                let on_list = list.lookup(serial).is_some_and(|entry| entry.revoked_at <= at);
                if matches!(answer.status, RevocationStatus::Revoked { .. }) {
                    assert!(on_list && anchor.key_id() == list.meta().issuer_key_id, "revoked but not on the list");
                }
            }
        }
    }
}

/// `der` target: [`der::parse_single`] in DER and BER modes, a bounded walk over every element
/// with [`der::octet_string_contents`], [`der::oid_to_string`] and
/// [`der::unsigned_integer_bytes`], and checks that every slice lies inside the input.
pub fn der(data: &[u8]) {
    for ber in [false, true] {
        if let Ok(element) = der::parse_single(data, ber) {
            assert_eq!(element.raw, data, "a single element must span the whole input");
            assert!(ber || !element.indefinite, "indefinite length accepted in DER mode");
            check_element(data, &element);
            walk(data, element, ber, 0);
        }
        let mut reader = if ber { Reader::ber(data) } else { Reader::der(data) };
        let mut count = 0;
        while let Ok(element) = reader.read_any() {
            check_element(data, &element);
            count += 1;
            assert!(count <= data.len(), "a reader returned more elements than input bytes");
        }
    }
    let _ = der::oid_to_string(data);
    let stripped = der::unsigned_integer_bytes(data);
    assert!(contains(data, stripped));
}

/// How deep [`der`] walks definite-length nesting (which the reader itself does not bound).
const WALK_DEPTH: usize = 48;

fn walk(input: &[u8], element: Element<'_>, ber: bool, depth: usize) {
    for mode in [false, true] {
        if let Ok(contents) = der::octet_string_contents(&element, mode) {
            assert!(contents.len() <= element.contents.len());
        }
    }
    if element.tag == der::tag::OID {
        let _ = der::oid_to_string(element.contents);
    }
    if element.tag == der::tag::INTEGER {
        let _ = der::unsigned_integer_bytes(element.contents);
    }
    if !element.is_constructed() || depth >= WALK_DEPTH {
        return;
    }
    let mut reader = element.reader(ber);
    while !reader.is_empty() {
        let before = reader.offset();
        match reader.read_any() {
            Ok(child) => {
                check_element(input, &child);
                assert!(reader.offset() > before, "reader did not advance");
                walk(input, child, ber, depth + 1);
            }
            Err(_) => break,
        }
    }
    let _ = reader.finish();
}

/// Checks that an element's slices lie inside the input, and that its offset is where it is.
fn check_element(input: &[u8], element: &Element<'_>) {
    assert!(contains(input, element.raw), "raw outside the input");
    assert!(contains(element.raw, element.contents), "contents outside raw");
    let raw_offset = element.raw.as_ptr() as usize - input.as_ptr() as usize;
    assert_eq!(raw_offset, element.offset, "offset does not match the element's position");
    assert_eq!(element.raw.first(), Some(&element.tag));
    if element.indefinite {
        assert!(element.raw.ends_with(&[0, 0]));
    }
}

/// Whether `inner` is a sub-slice of `outer` (by address).
fn contains(outer: &[u8], inner: &[u8]) -> bool {
    let start = outer.as_ptr() as usize;
    let inner_start = inner.as_ptr() as usize;
    inner_start >= start && inner_start + inner.len() <= start + outer.len()
}

/// Runs one target by name; `false` for an unknown name.
pub fn run(target: &str, data: &[u8]) -> bool {
    let entry: fn(&[u8]) = match target {
        "certificate" => certificate,
        "four_fields" => four_fields,
        "cms" => cms,
        "auth_proof" => auth_proof,
        "crl" => crl,
        "der" => der,
        "crl_parse" => crl_parse::crl_parse,
        "resign" => resign::resign,
        _ => return false,
    };
    entry(data);
    true
}

/// The target names, as the fuzz binaries and the regression directories are called.
pub const TARGETS: [&str; 8] = ["certificate", "four_fields", "cms", "auth_proof", "crl", "der", "crl_parse", "resign"];
