//! Replays every kept fuzz input (`tests/fuzz_regressions/<target>/<name>`) and every committed
//! seed (`fuzz/seeds/<target>/<name>`) through the same entry code the cargo-fuzz targets run
//! (`jpki_fuzz`), so that a crash found once stays fixed on the stable toolchain.
//!
//! To keep a new crash: copy the artifact from `fuzz/artifacts/<target>/` into
//! `tests/fuzz_regressions/<target>/` with a descriptive name (see `fuzz/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jpki_core::{AuthProofInput, SignatureInput, SignedContent, UnixTime};
use jpki_fuzz::{self as fuzzing, TARGETS, fixtures};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(target, file)` for every file under `root/<target>/`; fails on directories that name no target.
fn inputs(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_dir() {
            continue;
        }
        let target = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(TARGETS.contains(&target.as_str()), "{} names no fuzz target", path.display());
        for file in std::fs::read_dir(&path).unwrap() {
            let file = file.unwrap().path();
            if file.is_file() {
                found.push((target.clone(), file));
            }
        }
    }
    found.sort();
    found
}

/// Runs each input in its target, catching panics so that every failing file is named.
fn replay(root: &Path) -> usize {
    let inputs = inputs(root);
    let mut failures = Vec::new();
    for (target, file) in &inputs {
        let data = std::fs::read(file).unwrap();
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(|| assert!(fuzzing::run(target, &data)));
        // Generous even for a debug build: a slow input here is an algorithmic problem.
        let slow = started.elapsed() > Duration::from_secs(10);
        if outcome.is_err() || slow {
            failures.push(format!("{target}: {} ({})", file.display(), if slow { "slow" } else { "panicked" }));
        }
    }
    assert!(failures.is_empty(), "failing inputs:\n{}", failures.join("\n"));
    inputs.len()
}

#[test]
fn kept_fuzz_inputs_do_not_panic() {
    let count = replay(&manifest_dir().join("tests/fuzz_regressions"));
    assert!(count > 0, "no regression inputs found");
    for target in TARGETS {
        assert!(manifest_dir().join("tests/fuzz_regressions").join(target).is_dir(), "no inputs for {target}");
    }
}

#[test]
fn seeds_do_not_panic() {
    let count = replay(&manifest_dir().join("fuzz/seeds"));
    assert!(count >= TARGETS.len());
}

/// The fixed verifier accepts the fixtures, so the fuzzers start from inputs that reach the end
/// of the verification (and a fixture regenerated wrongly is noticed here).
#[test]
fn fixtures_pass_the_fixed_verifier() {
    let verifier = fuzzing::verifier();
    let at = fuzzing::VALIDATION_TIME;
    for cms in [fixtures::CMS_ATTACHED, fixtures::CMS_STREAM] {
        let input = SignatureInput::Cms { cms, detached_content: None, certificate: None };
        let report = verifier.verify_signature(&input, at);
        assert!(report.passed(), "{report:?}");
        let fields = report.four_fields.expect("four fields reported");
        assert_eq!(fields.name.value.as_deref(), Some("山田\u{3000}太郎"));
        assert_eq!(fields.name.substitute_positions, vec![3]);
    }
    let input = SignatureInput::Cms {
        cms: fixtures::CMS_DETACHED,
        detached_content: Some(fixtures::CONTENT),
        certificate: Some(fixtures::SIGN_EE),
    };
    assert!(verifier.verify_signature(&input, at).passed());
    let content = SignedContent::Message { data: fixtures::CONTENT, hash: jpki_core::HashAlgorithm::Sha256 };
    let raw = SignatureInput::Raw { signature: fixtures::RAW_SIGNATURE, certificate: fixtures::SIGN_EE, content };
    assert!(verifier.verify_signature(&raw, at).passed());
    let proof = AuthProofInput {
        certificate: fixtures::AUTH_EE,
        challenge: fixtures::CHALLENGE,
        signature: fixtures::AUTH_SIGNATURE,
        challenge_issued_at: Some(at),
    };
    let report = verifier.verify_auth_proof(&proof, at);
    assert!(report.passed(), "{report:?}");
    // After the certificates expire, the same proof is out of bounds.
    let late = verifier.verify_auth_proof(&proof, UnixTime(at.0 + 10 * 365 * 86_400));
    assert!(!late.passed());
}

/// The hand-made four-field inputs reach the check their name says (they are not rejected earlier).
#[test]
fn handmade_four_fields_inputs_hit_their_checks() {
    use jpki_core::four_fields::{FieldProblem, extract};
    let read = |name: &str| {
        let path = manifest_dir().join("tests/fuzz_regressions/four_fields").join(format!("handmade-{name}"));
        extract(&std::fs::read(path).unwrap()).expect("JPKI otherNames found")
    };
    assert_eq!(read("wrong-inner-tag-printable").name.problems, vec![FieldProblem::NotUtf8String]);
    assert_eq!(read("value-not-explicit").name.problems, vec![FieldProblem::NotUtf8String]);
    // Only the name is present here, so its mask is missing too.
    let trailing = read("explicit-trailing-element").name.problems;
    assert_eq!(trailing, vec![FieldProblem::NotUtf8String, FieldProblem::Missing]);
    assert_eq!(read("invalid-utf8-name").name.problems, vec![FieldProblem::InvalidUtf8]);
    assert_eq!(read("overlong-utf8-space").name.problems, vec![FieldProblem::InvalidUtf8]);
    assert_eq!(
        read("mask-length-mismatch").name.problems,
        vec![FieldProblem::MaskLengthMismatch { field: 5, mask: 4 }]
    );
    assert_eq!(read("mask-invalid-character").name.problems, vec![FieldProblem::MaskInvalidCharacter { position: 2 }]);
    assert_eq!(read("duplicated-name").name.problems, vec![FieldProblem::Duplicated]);
    assert_eq!(read("dob-fullwidth-digit").date_of_birth.problems, vec![FieldProblem::InvalidFormat]);
    assert_eq!(read("sex-multibyte").sex.problems, vec![FieldProblem::InvalidFormat]);
    let unknown = read("dob-era-zero-all-zero").date_of_birth;
    assert!(unknown.problems.is_empty());
    assert_eq!((unknown.year, unknown.month, unknown.day), (None, None, None));
    let only_mask = read("only-mask");
    assert_eq!(only_mask.address.problems, vec![FieldProblem::Missing]);
    assert_eq!(only_mask.address.substitute_mask.as_deref(), Some("0101"));
}

/// The hand-made CMS inputs fail for the reason their name says.
#[test]
fn handmade_cms_inputs_fail_for_their_reason() {
    use jpki_core::FailureReason;
    use jpki_core::report::InputPart;
    let reason = |name: &str| {
        let path = manifest_dir().join("tests/fuzz_regressions/cms").join(format!("handmade-{name}"));
        let cms = std::fs::read(path).unwrap();
        let input = SignatureInput::Cms { cms: &cms, detached_content: None, certificate: None };
        fuzzing::verifier().verify_signature(&input, fuzzing::VALIDATION_TIME).reason.expect("fails")
    };
    let signed_attributes =
        |reason: FailureReason| matches!(reason, FailureReason::Malformed { input: InputPart::SignedAttributes, .. });
    assert!(signed_attributes(reason("signed-attributes-indefinite")));
    assert!(signed_attributes(reason("signed-attributes-non-minimal-length")));
    let digest = "1.2.840.113549.1.9.4".to_owned();
    let invalid_digest = FailureReason::SignedAttributeInvalid { attribute: digest };
    for name in ["duplicate-message-digest", "message-digest-two-values", "message-digest-no-value"] {
        assert_eq!(reason(name), invalid_digest, "{name}");
    }
    let time = "1.2.840.113549.1.9.5".to_owned();
    for name in ["feb-30", "second-60", "no-z", "non-ascii", "utc-with-offset", "empty"] {
        let expected = FailureReason::SignedAttributeInvalid { attribute: time.clone() };
        assert_eq!(reason(&format!("signing-time-{name}")), expected, "{name}");
    }
    assert_eq!(reason("no-signers"), FailureReason::UnsupportedSignerCount { count: 0 });
    assert_eq!(reason("two-signers"), FailureReason::UnsupportedSignerCount { count: 2 });
    assert!(matches!(reason("truncated-stream-5of8"), FailureReason::Malformed { input: InputPart::Cms, .. }));
    // A well-formed CMS whose signature is zeros gets as far as the signature check.
    assert_eq!(reason("signing-time-generalized-9999"), FailureReason::SignatureInvalid);
    assert_eq!(reason("econtent-nested-constructed"), FailureReason::SignatureInvalid);
    assert!(matches!(reason("econtent-deep-constructed"), FailureReason::Malformed { input: InputPart::Cms, .. }));
}

/// The `resign` recipes get to the end of the verification: the unmutated ones pass (so the
/// target starts from inputs the whole verifier accepts), and mutations the profile forbids fail.
#[test]
fn resign_recipes_reach_the_end_of_the_verification() {
    let report = |name: &str| {
        let recipe = std::fs::read(manifest_dir().join("fuzz/seeds/resign").join(name)).unwrap();
        jpki_fuzz::resign::resign_report(&recipe).unwrap_or_else(|| panic!("{name}: not verified"))
    };
    for name in ["cms-as-issued", "raw-as-issued", "auth-as-issued", "cms-second-holder", "eku-non-critical"] {
        let report = report(name);
        assert!(report.passed(), "{name}: {report:?}");
    }
    for name in [
        "unknown-critical-extension",
        "eku-critical",
        "duplicate-extension",
        "basic-constraints-ca",
        "policies-wrong",
        "revoked-key-compromise",
        "on-hold",
        "wrong-message-digest",
        "content-type-signed-data",
        "crl-other-scope",
        "crl-arl-only",
    ] {
        let report = report(name);
        assert!(!report.passed(), "{name} passed: {report:?}");
    }
}
