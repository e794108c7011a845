//! Interoperability from OpenSSL into the core, and the real JPKI roots.
//!
//! Every signature, certificate and CRL here is made by the `openssl` command (OpenSSL 3.0) at
//! test time, from the test PKI's keys, in a scratch directory; the core must judge each one
//! exactly. The last tests load the real J-LIS roots from the shared development workspace (never
//! copied into the repository) and skip, saying so, where that directory is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Fixture, at, time};
use jpki_core::cms::{self, SignerId};
use jpki_core::four_fields::{Era, FieldProblem, Sex};
use jpki_core::revocation::RevocationReason;
use jpki_core::{
    AlgorithmPolicy, AuthProofInput, CertKind, FailureReason, HashAlgorithm, Indication, KindConfig,
    NoRevocationSource, SignatureInput, SignedContent, SubIndication, TrustAnchor, UnixTime, ValidationReport,
    Verifier, VerifierConfig,
};
use jpki_testpki::keys::private_key_pem;
use jpki_testpki::{Ca, CertKind as PkiKind, IssuedCert};

const FORM: &[u8] = "口座開設申込書: 山田 太郎, 東京都千代田区".as_bytes();

/// A scratch directory for one test, removed when dropped.
struct Workdir {
    path: PathBuf,
}

impl Workdir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("jpki-openssl-interop-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Workdir { path }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.path.join(file)
    }

    fn write(&self, file: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.path(file), bytes).unwrap();
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.path(file)).unwrap_or_else(|error| panic!("reading {file}: {error}"))
    }

    /// Writes a certificate (PEM) and its private key (PKCS#8 PEM) as `<name>.pem` / `<name>.key`.
    fn write_identity(&self, name: &str, certificate_pem: &str, key: &jpki_testpki::PrivateKey) {
        self.write(&format!("{name}.pem"), certificate_pem);
        self.write(&format!("{name}.key"), private_key_pem(key).unwrap());
    }

    /// Runs `openssl` with a command line (split at whitespace; no argument here has any) in
    /// the directory; panics with its stderr unless it exits with status 0. Returns its stdout.
    fn openssl(&self, command: &str) -> Vec<u8> {
        self.run_openssl(command).stdout
    }

    /// Runs `openssl` as [`Workdir::openssl`] does, returning its whole output.
    fn run_openssl(&self, command: &str) -> std::process::Output {
        let output = Command::new("openssl")
            .args(command.split_whitespace())
            .current_dir(&self.path)
            .output()
            .unwrap_or_else(|error| panic!("cannot run `openssl` (OpenSSL 3 must be installed): {error}"));
        assert!(
            output.status.success(),
            "`openssl {}` failed with {}:\n{}",
            command,
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn assert_result(report: &ValidationReport, sub: SubIndication, code: &str) {
    assert_eq!(report.sub_indication, Some(sub), "{report:#?}");
    assert_eq!(report.indication, sub.indication());
    assert_eq!(report.reason.as_ref().map(FailureReason::code), Some(code), "{report:#?}");
}

fn assert_passed(report: &ValidationReport, case: &str) {
    assert_eq!(report.indication, Indication::TotalPassed, "{case}: {report:#?}");
}

/// One line of the printed case table (`cargo test -- --nocapture` shows it).
fn outcome(report: &ValidationReport) -> String {
    match &report.reason {
        None => format!("{:?}", report.indication),
        Some(reason) => format!("{:?}/{:?}/{}", report.indication, report.sub_indication.unwrap(), reason.code()),
    }
}

fn holder_cert<'a>(fixture: &'a Fixture, id: &str) -> &'a IssuedCert {
    fixture.pki.holder(id).unwrap_or_else(|| panic!("test PKI holder {id}")).signing()
}

/// The h01 holder (signing card, g2) as `signer.pem`/`signer.key` and the form as `form.txt`.
fn signer_dir(fixture: &Fixture, name: &str) -> Workdir {
    let dir = Workdir::new(name);
    let signer = holder_cert(fixture, "h01");
    dir.write_identity("signer", &signer.cert_pem().unwrap(), signer.key());
    dir.write("form.txt", FORM);
    dir
}

fn verify_cms(fixture: &Fixture, cms: &[u8], content: Option<&[u8]>, certificate: Option<&[u8]>) -> ValidationReport {
    fixture.verifier.verify_signature(&SignatureInput::Cms { cms, detached_content: content, certificate }, at())
}

fn position(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).position(|window| window == needle).expect("needle in haystack")
}

/// Options of one `openssl cms -sign` run.
#[derive(Clone, Copy, Debug)]
struct CmsCase {
    attached: bool,
    signed_attributes: bool,
    key_id: bool,
    embed_certificate: bool,
    sha1: bool,
}

impl CmsCase {
    const DEFAULT: CmsCase =
        CmsCase { attached: false, signed_attributes: true, key_id: false, embed_certificate: true, sha1: false };

    fn command(self, signer: &str) -> String {
        let md = if self.sha1 { "sha1" } else { "sha256" };
        let mut command = format!("cms -sign -binary -in form.txt -signer {signer}.pem -inkey {signer}.key -md {md}");
        for (set, flag) in [
            (self.attached, " -nodetach"),
            (!self.signed_attributes, " -noattr"),
            (self.key_id, " -keyid"),
            (!self.embed_certificate, " -nocerts"),
        ] {
            if set {
                command.push_str(flag);
            }
        }
        command
    }

    /// Signs `form.txt` as `signer` with `extra` options appended.
    fn sign(self, dir: &Workdir, extra: &str) -> Vec<u8> {
        dir.openssl(&format!("{} {extra}", self.command("signer")))
    }

    fn sign_der(self, dir: &Workdir) -> Vec<u8> {
        self.sign(dir, "-outform DER")
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The `openssl cms -sign` matrix.
// ---------------------------------------------------------------------------------------------

#[test]
fn openssl_cms_matrix() {
    let fixture = Fixture::new();
    let dir = signer_dir(&fixture, "cms-matrix");
    let certificate = holder_cert(&fixture, "h01").cert_der();
    let mut cases = 0;
    for attached in [true, false] {
        for signed_attributes in [true, false] {
            for key_id in [false, true] {
                for embed_certificate in [true, false] {
                    for sha1 in [false, true] {
                        let case = CmsCase { attached, signed_attributes, key_id, embed_certificate, sha1 };
                        let cms = case.sign_der(&dir);
                        // OpenSSL did what was asked: check the structure before judging it.
                        let parsed = cms::parse(&cms).unwrap_or_else(|reason| panic!("{case:?}: {reason:?}"));
                        assert_eq!(parsed.content.is_some(), attached, "{case:?}");
                        assert_eq!(parsed.signed_attributes.is_some(), signed_attributes, "{case:?}");
                        assert_eq!(matches!(parsed.signer_id, SignerId::SubjectKeyId(_)), key_id, "{case:?}");
                        assert_eq!(parsed.certificates, if embed_certificate { vec![certificate] } else { vec![] });
                        let expected_digest = if sha1 { "1.3.14.3.2.26" } else { "2.16.840.1.101.3.4.2.1" };
                        assert_eq!(parsed.digest_algorithm, expected_digest, "{case:?}");

                        let report = verify_cms(
                            &fixture,
                            &cms,
                            (!attached).then_some(FORM),
                            (!embed_certificate).then_some(certificate),
                        );
                        println!("cms {case:?}: {}", outcome(&report));
                        if sha1 {
                            assert_result(&report, SubIndication::CryptoConstraintsFailure, "HASH_ALGORITHM_REJECTED");
                            assert!(matches!(
                                &report.reason,
                                Some(FailureReason::HashAlgorithmRejected { algorithm, .. }) if algorithm == "sha1"
                            ));
                        } else {
                            assert_passed(&report, &format!("{case:?}"));
                            let signature = report.signature.as_ref().unwrap();
                            assert_eq!(signature.hash, "sha256");
                            assert_eq!(signature.attached, Some(attached));
                            assert_eq!(signature.claimed_signing_time.is_some(), signed_attributes);
                            let fields = report.four_fields.as_ref().unwrap();
                            assert_eq!(fields.name.value.as_deref(), Some("山田\u{3000}太郎"));
                        }
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, 32);
}

/// Cuts the eContent out of an attached `openssl cms -sign -stream` output, giving a detached
/// BER signature. Every enclosing element has an indefinite length, so no length changes; the
/// signature (over the signed attributes or over the content) is untouched.
fn detach_streamed_content(ber: &[u8]) -> Vec<u8> {
    use jpki_core::der::Reader;
    let content_info = Reader::ber(ber).read_any().unwrap();
    let mut reader = content_info.reader(true);
    reader.read_any().unwrap(); // contentType
    let explicit = reader.read_any().unwrap();
    let signed_data = explicit.reader(true).read_any().unwrap();
    let mut reader = signed_data.reader(true);
    reader.read_any().unwrap(); // version
    reader.read_any().unwrap(); // digestAlgorithms
    let encapsulated = reader.read_any().unwrap();
    let mut reader = encapsulated.reader(true);
    reader.read_any().unwrap(); // eContentType
    let content = reader.read_any().unwrap();
    assert_eq!(content.tag, 0xA0, "eContent [0]");
    for element in [content_info, explicit, signed_data, encapsulated] {
        assert!(element.indefinite, "element at {} has a definite length", element.offset);
    }
    let mut detached = ber.to_vec();
    detached.drain(content.offset..content.offset + content.raw.len());
    detached
}

#[test]
fn openssl_cms_stream_ber_and_pem() {
    let fixture = Fixture::new();
    let dir = signer_dir(&fixture, "cms-stream");
    for signed_attributes in [true, false] {
        // -stream -nodetach: attached, BER with indefinite lengths.
        let case = CmsCase { attached: true, signed_attributes, ..CmsCase::DEFAULT };
        let ber = case.sign(&dir, "-stream -outform DER");
        assert_eq!(&ber[..2], [0x30, 0x80], "{case:?}: -stream output is not indefinite-length BER");
        let report = verify_cms(&fixture, &ber, None, None);
        println!("cms -stream {case:?}: {}", outcome(&report));
        assert_passed(&report, &format!("-stream {case:?}"));
        assert_eq!(report.signature.as_ref().unwrap().attached, Some(true));
        let mut altered = ber.clone();
        altered[position(&ber, FORM) + 3] ^= 0x01;
        let (sub, code) = if signed_attributes {
            (SubIndication::HashFailure, "MESSAGE_DIGEST_MISMATCH")
        } else {
            (SubIndication::SigCryptoFailure, "SIGNATURE_INVALID")
        };
        assert_result(&verify_cms(&fixture, &altered, None, None), sub, code);
        let truncated = verify_cms(&fixture, &ber[..ber.len() - 2], None, None);
        assert_result(&truncated, SubIndication::FormatFailure, "MALFORMED");

        // -stream without -nodetach: OpenSSL 3.0 embeds the content anyway when the output is
        // DER or PEM (only -outform SMIME makes a detached multipart/signed, whose signature
        // part is DER). The core takes it as attached; content supplied as well is refused.
        let case = CmsCase { attached: false, signed_attributes, ..CmsCase::DEFAULT };
        let streamed = case.sign(&dir, "-stream -outform DER");
        assert_eq!(&streamed[..2], [0x30, 0x80]);
        assert!(cms::parse(&streamed).unwrap().content.is_some(), "OpenSSL 3.0 -stream embeds the content");
        let report = verify_cms(&fixture, &streamed, None, None);
        println!("cms -stream (no -nodetach) {case:?}, no content supplied: {}", outcome(&report));
        assert_passed(&report, &format!("-stream without -nodetach {case:?}"));
        let report = verify_cms(&fixture, &streamed, Some(FORM), None);
        println!("cms -stream (no -nodetach) {case:?}, same content supplied: {}", outcome(&report));
        assert_passed(&report, &format!("-stream without -nodetach {case:?}, same content supplied"));
        let report = verify_cms(&fixture, &streamed, Some(b"other content"), None);
        println!("cms -stream (no -nodetach) {case:?}, other content supplied: {}", outcome(&report));
        assert_result(&report, SubIndication::FormatFailure, "CONTENT_SUPPLIED_TWICE");

        // A detached BER signature: the same output with its eContent cut out, which OpenSSL
        // itself verifies with -content.
        let detached = detach_streamed_content(&streamed);
        assert_eq!(&detached[..2], [0x30, 0x80]);
        dir.write("detached.ber", &detached);
        dir.openssl("cms -verify -binary -noverify -inform DER -in detached.ber -content form.txt -out verified.txt");
        assert_eq!(dir.read("verified.txt"), FORM);
        let report = verify_cms(&fixture, &detached, Some(FORM), None);
        println!("cms -stream, detached BER {case:?}: {}", outcome(&report));
        assert_passed(&report, &format!("detached BER {case:?}"));
        assert_eq!(report.signature.as_ref().unwrap().attached, Some(false));
        assert_result(&verify_cms(&fixture, &detached, Some(b"altered"), None), sub, code);
        let report = verify_cms(&fixture, &detached, None, None);
        assert_result(&report, SubIndication::SignedDataNotFound, "DETACHED_CONTENT_MISSING");

        // PEM, plain and streamed.
        for attached in [true, false] {
            let case = CmsCase { attached, signed_attributes, ..CmsCase::DEFAULT };
            let pem = case.sign(&dir, "-outform PEM");
            assert!(pem.starts_with(b"-----BEGIN CMS-----"), "{}", String::from_utf8_lossy(&pem));
            let blocks = jpki_core::cert::pem_blocks(&pem, "CMS").unwrap();
            assert_eq!(blocks.len(), 1);
            let report = verify_cms(&fixture, &blocks[0], (!attached).then_some(FORM), None);
            println!("cms -outform PEM {case:?}: {}", outcome(&report));
            assert_passed(&report, &format!("PEM {case:?}"));
            assert_eq!(report.signature.as_ref().unwrap().attached, Some(attached));
        }
        let case = CmsCase { attached: true, signed_attributes, ..CmsCase::DEFAULT };
        let pem_stream = case.sign(&dir, "-stream -outform PEM");
        let blocks = jpki_core::cert::pem_blocks(&pem_stream, "CMS").unwrap();
        assert_eq!(&blocks[0][..2], [0x30, 0x80]);
        let report = verify_cms(&fixture, &blocks[0], None, None);
        println!("cms -stream -outform PEM {case:?}: {}", outcome(&report));
        assert_passed(&report, &format!("PEM -stream {case:?}"));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Tampered OpenSSL output.
// ---------------------------------------------------------------------------------------------

#[test]
fn tampered_openssl_cms_has_exact_reasons() {
    let fixture = Fixture::new();
    let dir = signer_dir(&fixture, "cms-tampered");
    let certificate = holder_cert(&fixture, "h01").cert_der();
    let check = |case: &str, report: ValidationReport, sub: SubIndication, code: &str| {
        println!("tampered: {case}: {}", outcome(&report));
        assert_result(&report, sub, code);
    };

    // Content changed, attached (a byte of the eContent flipped inside the CMS) and detached.
    for signed_attributes in [true, false] {
        let (sub, code) = if signed_attributes {
            (SubIndication::HashFailure, "MESSAGE_DIGEST_MISMATCH")
        } else {
            (SubIndication::SigCryptoFailure, "SIGNATURE_INVALID")
        };
        let attached = CmsCase { attached: true, signed_attributes, ..CmsCase::DEFAULT }.sign_der(&dir);
        let mut altered = attached.clone();
        altered[position(&attached, FORM) + 3] ^= 0x01;
        let case = format!("attached content changed, signed attributes: {signed_attributes}");
        check(&case, verify_cms(&fixture, &altered, None, None), sub, code);

        let detached = CmsCase { signed_attributes, ..CmsCase::DEFAULT }.sign_der(&dir);
        let mut other_content = FORM.to_vec();
        other_content[3] ^= 0x01;
        let case = format!("detached content changed, signed attributes: {signed_attributes}");
        check(&case, verify_cms(&fixture, &detached, Some(&other_content), None), sub, code);

        // A byte of the signature value flipped: the signature is the last element of the DER.
        let parsed = cms::parse(&detached).unwrap();
        assert_eq!(parsed.signature.len(), 256);
        assert_eq!(&detached[detached.len() - 256..], parsed.signature.as_ref());
        let mut flipped = detached.clone();
        flipped[detached.len() - 100] ^= 0x40;
        let case = format!("signature byte flipped, signed attributes: {signed_attributes}");
        check(
            &case,
            verify_cms(&fixture, &flipped, Some(FORM), None),
            SubIndication::SigCryptoFailure,
            "SIGNATURE_INVALID",
        );
    }

    // The signed attributes altered: one digit of signingTime changed (still a valid time, and
    // the messageDigest still matches), so only the signature over the attributes fails.
    let detached = CmsCase::DEFAULT.sign_der(&dir);
    let signing_time_oid = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05];
    let at_oid = position(&detached, &signing_time_oid);
    // OID, SET { UTCTime "YYMMDDHHMMSSZ" }: byte 11 of the time is the last digit of the seconds.
    let time_start = at_oid + signing_time_oid.len() + 4;
    assert_eq!(&detached[time_start - 4..time_start - 2], [0x31, 0x0F]);
    assert_eq!(&detached[time_start - 2..time_start], [0x17, 0x0D]);
    let mut altered = detached.clone();
    altered[time_start + 11] ^= 0x01; // '0'..'9' stays a digit
    let original_time = cms::parse(&detached).unwrap().signed_attributes.unwrap().signing_time.unwrap();
    let altered_time = cms::parse(&altered).unwrap().signed_attributes.unwrap().signing_time.unwrap();
    assert_eq!((altered_time.0 - original_time.0).abs(), 1);
    let report = verify_cms(&fixture, &altered, Some(FORM), None);
    check("signingTime altered", report, SubIndication::SigCryptoFailure, "SIGNATURE_INVALID");

    // Signed by a key whose certificate is not the embedded one. OpenSSL refuses to sign with a
    // key that does not match -signer, so: (a) h02 signs, h01's certificate is the only one
    // embedded (-nocerts -certfile); (b) h02's signature value spliced into h01's CMS (without
    // signed attributes both sign the same bytes).
    let other = holder_cert(&fixture, "h02");
    dir.write_identity("other", &other.cert_pem().unwrap(), other.key());
    let command = CmsCase::DEFAULT.command("other") + " -nocerts -certfile signer.pem -outform DER";
    let foreign_signer = dir.openssl(&command);
    assert_eq!(cms::parse(&foreign_signer).unwrap().certificates, vec![certificate]);
    let report = verify_cms(&fixture, &foreign_signer, Some(FORM), None);
    check(
        "signed by h02, only h01's certificate embedded",
        report,
        SubIndication::NoSigningCertificateFound,
        "SIGNING_CERTIFICATE_NOT_FOUND",
    );
    let report = verify_cms(&fixture, &foreign_signer, Some(FORM), Some(certificate));
    check(
        "signed by h02, h01's certificate supplied",
        report,
        SubIndication::NoSigningCertificateFound,
        "SIGNER_IDENTIFIER_MISMATCH",
    );
    let no_attributes = CmsCase { signed_attributes: false, ..CmsCase::DEFAULT };
    let own = no_attributes.sign_der(&dir);
    let others = dir.openssl(&(no_attributes.command("other") + " -outform DER"));
    let others_signature = cms::parse(&others).unwrap().signature.into_owned();
    assert_eq!(&own[own.len() - 256..], cms::parse(&own).unwrap().signature.as_ref());
    let mut spliced = own.clone();
    let start = spliced.len() - 256;
    spliced[start..].copy_from_slice(&others_signature);
    let report = verify_cms(&fixture, &spliced, Some(FORM), None);
    check("h02's signature under h01's certificate", report, SubIndication::SigCryptoFailure, "SIGNATURE_INVALID");

    // Truncated, at half and by one byte.
    for cut in [detached.len() / 2, detached.len() - 1] {
        let report = verify_cms(&fixture, &detached[..cut], Some(FORM), None);
        check(
            &format!("truncated to {cut} of {} bytes", detached.len()),
            report,
            SubIndication::FormatFailure,
            "MALFORMED",
        );
    }

    // Detached without its content.
    let report = verify_cms(&fixture, &detached, None, None);
    check("detached without content", report, SubIndication::SignedDataNotFound, "DETACHED_CONTENT_MISSING");
    // Attached with the content supplied again.
    let attached = CmsCase { attached: true, ..CmsCase::DEFAULT }.sign_der(&dir);
    let report = verify_cms(&fixture, &attached, Some(b"other content"), None);
    check("attached with other content supplied too", report, SubIndication::FormatFailure, "CONTENT_SUPPLIED_TWICE");
    // -nocerts and no certificate supplied.
    let not_embedded = CmsCase { embed_certificate: false, ..CmsCase::DEFAULT }.sign_der(&dir);
    let report = verify_cms(&fixture, &not_embedded, Some(FORM), None);
    check(
        "-nocerts, nothing supplied",
        report,
        SubIndication::NoSigningCertificateFound,
        "SIGNING_CERTIFICATE_NOT_FOUND",
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Raw signatures: `openssl dgst -sign` and `openssl pkeyutl -sign`.
// ---------------------------------------------------------------------------------------------

#[test]
fn openssl_raw_signatures() {
    let fixture = Fixture::new();
    let dir = signer_dir(&fixture, "raw");
    let certificate = holder_cert(&fixture, "h01").cert_der();
    let raw = |signature: &[u8], content: SignedContent<'_>| {
        fixture.verifier.verify_signature(&SignatureInput::Raw { signature, certificate, content }, at())
    };
    for hash in [HashAlgorithm::Sha256, HashAlgorithm::Sha384, HashAlgorithm::Sha512, HashAlgorithm::Sha1] {
        let name = hash.name();
        let message_signature = dir.openssl(&format!("dgst -{name} -sign signer.key -out {name}.sig form.txt"));
        assert!(message_signature.is_empty());
        let message_signature = dir.read(&format!("{name}.sig"));
        let message = raw(&message_signature, SignedContent::Message { data: FORM, hash });
        println!("openssl dgst -{name} -sign: {}", outcome(&message));

        // The digest computed by OpenSSL, then signed by pkeyutl as a DigestInfo.
        let digest = dir.openssl(&format!("dgst -{name} -binary form.txt"));
        assert_eq!(digest, hash.digest(FORM));
        dir.write(&format!("{name}.digest"), &digest);
        dir.openssl(&format!(
            "pkeyutl -sign -inkey signer.key -pkeyopt digest:{name} -in {name}.digest -out {name}.pkeyutl.sig"
        ));
        let digest_signature = dir.read(&format!("{name}.pkeyutl.sig"));
        // PKCS#1 v1.5 is deterministic: both tools produce the same value.
        assert_eq!(digest_signature, message_signature);
        let over_digest = raw(&digest_signature, SignedContent::Digest { digest: &digest, hash });
        println!("openssl pkeyutl -sign -pkeyopt digest:{name}: {}", outcome(&over_digest));

        if hash == HashAlgorithm::Sha1 {
            for report in [&message, &over_digest] {
                assert_result(report, SubIndication::CryptoConstraintsFailure, "HASH_ALGORITHM_REJECTED");
            }
        } else {
            assert_passed(&message, name);
            assert_passed(&over_digest, name);
            assert_eq!(message.signature.as_ref().unwrap().hash, name);
            // The same signature over another message: invalid.
            let report = raw(&message_signature, SignedContent::Message { data: b"altered", hash });
            assert_result(&report, SubIndication::SigCryptoFailure, "SIGNATURE_INVALID");
        }
    }
    // A signature by another holder's key under h01's certificate.
    let other = holder_cert(&fixture, "h02");
    dir.write_identity("other", &other.cert_pem().unwrap(), other.key());
    dir.openssl("dgst -sha256 -sign other.key -out other.sig form.txt");
    let report = raw(&dir.read("other.sig"), SignedContent::Message { data: FORM, hash: HashAlgorithm::Sha256 });
    println!("openssl dgst -sign by h02's key, h01's certificate: {}", outcome(&report));
    assert_result(&report, SubIndication::SigCryptoFailure, "SIGNATURE_INVALID");
}

// ---------------------------------------------------------------------------------------------
// 4 and 5. `openssl ca`: certificates with the four fields, and a CRL.
// ---------------------------------------------------------------------------------------------

/// An `openssl ca` database around a test-PKI CA (certificate `ca.pem`, key `ca.key`).
fn openssl_ca(dir: &Workdir, ca: &Ca, crl_number_hex: &str) {
    dir.write_identity("ca", &ca.cert_pem().unwrap(), ca.key());
    std::fs::create_dir_all(dir.path("issued")).unwrap();
    dir.write("index.txt", "");
    dir.write("serial", "4A504B490001\n");
    dir.write("crlnumber", format!("{crl_number_hex}\n"));
    dir.write(
        "ca.cnf",
        "\
[ca]
default_ca = jpki_signing_ca

[jpki_signing_ca]
dir = .
database = $dir/index.txt
new_certs_dir = $dir/issued
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 30
policy = policy_any
unique_subject = no
email_in_dn = no

[policy_any]
countryName = optional
localityName = optional
commonName = supplied

[crl_ext]
authorityKeyIdentifier = keyid:always

[req]
distinguished_name = req_dn
utf8 = yes
string_mask = utf8only

[req_dn]
",
    );
}

/// The four fields as `openssl` extension-config lines, in the order real certificates use
/// (1, 4, 3, 5, 2, 6).
fn four_fields_config(
    name: &str,
    name_mask: &str,
    sex: &str,
    birth: &str,
    address: &str,
    address_mask: &str,
) -> String {
    let fields = [(1, name), (4, birth), (3, sex), (5, address), (2, name_mask), (6, address_mask)];
    let mut section = String::from("[four_fields]\n");
    for (index, (suffix, value)) in fields.iter().enumerate() {
        section.push_str(&format!("otherName.{index} = 1.2.392.200149.8.5.5.{suffix};FORMAT:UTF8,UTF8:{value}\n"));
    }
    format!(
        "\
[jpki_signing_ee]
keyUsage = critical,digitalSignature,nonRepudiation
certificatePolicies = critical,1.2.392.200149.8.5.1.1.20
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @four_fields

{section}"
    )
}

/// The DER OpenSSL must write for one four-field otherName:
/// `[0] { OID 1.2.392.200149.8.5.5.<suffix>, [0] EXPLICIT UTF8String }` (short lengths only).
fn other_name_der(suffix: u8, value: &str) -> Vec<u8> {
    assert!(value.len() < 100);
    let mut body = vec![0x06, 0x0A, 0x2A, 0x83, 0x08, 0x8C, 0x9B, 0x55, 0x08, 0x05, 0x05, suffix];
    body.extend([0xA0, value.len() as u8 + 2, 0x0C, value.len() as u8]);
    body.extend(value.as_bytes());
    let mut other_name = vec![0xA0, body.len() as u8];
    other_name.extend(body);
    other_name
}

/// Issues `<name>.pem` for the OpenSSL-generated key `ee.key` with `openssl req -new` and
/// `openssl ca`, validity 2026-01-01 to 2029-03-31 (fixed: `openssl x509 -req` and `req -x509`
/// in OpenSSL 3.0 can only start a certificate now).
fn issue_with_openssl(dir: &Workdir, name: &str, common_name: &str, extensions: &str) -> Vec<u8> {
    dir.write(&format!("{name}.ext.cnf"), extensions);
    let subject = format!("/C=JP/L=Tokyo/L=Chiyoda-ku/CN={common_name}");
    dir.openssl(&format!("req -new -config ca.cnf -key ee.key -subj {subject} -out {name}.csr"));
    dir.openssl(&format!(
        "ca -batch -config ca.cnf -notext -preserveDN -in {name}.csr -out {name}.pem -startdate 260101000000Z \
         -enddate 290331145959Z -extfile {name}.ext.cnf -extensions jpki_signing_ee"
    ));
    let pem = dir.read(&format!("{name}.pem"));
    jpki_core::cert::certificates_from_pem_or_der(&pem).unwrap().remove(0)
}

#[test]
fn openssl_made_certificate_with_the_four_fields() {
    let fixture = Fixture::new();
    let dir = Workdir::new("four-fields");
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    openssl_ca(&dir, ca, "01");
    dir.openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ee.key");
    dir.write("form.txt", FORM);

    let name = "山田\u{3000}太郎";
    let address = "東京都千代田区霞が関二丁目１番２号";
    let address_mask: String =
        address.chars().enumerate().map(|(index, _)| if index == 9 { '1' } else { '0' }).collect();
    let config = four_fields_config(name, "00001", "1", "319801231", address, &address_mask);
    let certificate = issue_with_openssl(&dir, "ee", "OPENSSL-FOUR-FIELDS-0001", &config);
    // OpenSSL wrote each field as [0] EXPLICIT UTF8String (with FORMAT:UTF8; plain `UTF8:`
    // would read the config's UTF-8 bytes as Latin-1 and encode them twice), in the real order.
    let in_order = [(1, name), (4, "319801231"), (3, "1"), (5, address), (2, "00001"), (6, address_mask.as_str())];
    let offsets: Vec<usize> =
        in_order.iter().map(|(suffix, value)| position(&certificate, &other_name_der(*suffix, value))).collect();
    assert!(offsets.windows(2).all(|pair| pair[0] < pair[1]), "{offsets:?}");

    // Signed by OpenSSL, CMS and raw.
    let cms =
        dir.openssl("cms -sign -binary -nodetach -in form.txt -signer ee.pem -inkey ee.key -md sha256 -outform DER");
    let report = verify_cms(&fixture, &cms, None, None);
    println!("openssl ca certificate with four fields, CMS: {}", outcome(&report));
    assert_passed(&report, "OpenSSL-made certificate, CMS");
    dir.openssl("dgst -sha256 -sign ee.key -out ee.sig form.txt");
    let signature = dir.read("ee.sig");
    let content = SignedContent::Message { data: FORM, hash: HashAlgorithm::Sha256 };
    let raw = fixture
        .verifier
        .verify_signature(&SignatureInput::Raw { signature: &signature, certificate: &certificate, content }, at());
    println!("openssl ca certificate with four fields, raw: {}", outcome(&raw));
    assert_passed(&raw, "OpenSSL-made certificate, raw");
    assert_eq!(raw.four_fields, report.four_fields);

    let facts = report.certificate.as_ref().unwrap();
    assert_eq!(facts.kind, Some(CertKind::SigningCard));
    assert_eq!(facts.ca_key_id.as_deref(), Some(hex::encode(ca.key_id()).as_str()));
    assert_eq!(facts.serial, "4a504b490001");
    assert_eq!(facts.not_before, time("2026-01-01T00:00:00Z"));
    assert_eq!(facts.not_after, time("2029-03-31T14:59:59Z"));
    assert_eq!(facts.policies, ["1.2.392.200149.8.5.1.1.20"]);

    let fields = report.four_fields.as_ref().unwrap();
    assert_eq!(fields.name.value.as_deref(), Some(name));
    assert!(fields.name.value.as_deref().unwrap().contains('\u{3000}'));
    assert_eq!(fields.name.substitute_mask.as_deref(), Some("00001"));
    assert_eq!(fields.name.substitute_positions, [4]);
    assert!(fields.name.problems.is_empty(), "{:?}", fields.name.problems);
    assert_eq!(fields.sex.raw.as_deref(), Some("1"));
    assert_eq!(fields.sex.value, Some(Sex::Male));
    assert!(fields.sex.problems.is_empty());
    let birth = &fields.date_of_birth;
    assert_eq!(birth.raw.as_deref(), Some("319801231"));
    assert_eq!((birth.era, birth.year, birth.month, birth.day), (Some(Era::Showa), Some(1980), Some(12), Some(31)));
    assert!(birth.problems.is_empty());
    assert_eq!(fields.address.value.as_deref(), Some(address));
    assert_eq!(fields.address.substitute_mask.as_deref(), Some(address_mask.as_str()));
    assert_eq!(fields.address.substitute_positions, [9]);
    assert!(fields.address.problems.is_empty());

    // A name mask one character short: the signature still passes, the field says why it is
    // not well formed.
    let config = four_fields_config(name, "0001", "2", "420000229", address, &address_mask);
    let short_mask = issue_with_openssl(&dir, "ee-short-mask", "OPENSSL-FOUR-FIELDS-0002", &config);
    let raw = fixture
        .verifier
        .verify_signature(&SignatureInput::Raw { signature: &signature, certificate: &short_mask, content }, at());
    println!("openssl ca certificate with a short name mask: {}", outcome(&raw));
    assert_passed(&raw, "mask of the wrong length");
    let fields = raw.four_fields.as_ref().unwrap();
    assert_eq!(fields.name.value.as_deref(), Some(name));
    assert_eq!(fields.name.substitute_mask.as_deref(), Some("0001"));
    assert_eq!(fields.name.problems, [FieldProblem::MaskLengthMismatch { field: 5, mask: 4 }]);
    assert!(fields.name.substitute_positions.is_empty());
    assert!(!fields.name.is_well_formed());
    assert_eq!(fields.sex.value, Some(Sex::Female));
    let birth = &fields.date_of_birth;
    assert_eq!((birth.era, birth.year, birth.month, birth.day), (Some(Era::Heisei), Some(2000), Some(2), Some(29)));
    assert!(fields.address.is_well_formed());
}

#[test]
fn openssl_ca_crl_revokes() {
    let fixture = Fixture::without_crls();
    let dir = Workdir::new("crl");
    let ca = fixture.ca(PkiKind::SigningCard, 2);
    openssl_ca(&dir, ca, "2A");
    let revoked = holder_cert(&fixture, "h01");
    dir.write("revoked.pem", revoked.cert_pem().unwrap());
    dir.openssl("ca -batch -config ca.cnf -revoke revoked.pem -crl_reason keyCompromise");

    // `openssl ca -revoke` stamps the wall-clock time; back-date the entry in the database so
    // that the revocation date, like the list's dates, is pinned.
    let index = String::from_utf8(dir.read("index.txt")).unwrap();
    let fields: Vec<&str> = index.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 6, "{index:?}");
    assert_eq!(fields[0], "R");
    assert!(fields[2].ends_with(",keyCompromise"), "{index:?}");
    assert_eq!(fields[3], revoked.serial_hex());
    let back_dated = [fields[0], fields[1], "260510000000Z,keyCompromise", fields[3], fields[4], fields[5]].join("\t");
    dir.write("index.txt", format!("{back_dated}\n"));

    dir.openssl(
        "ca -batch -config ca.cnf -gencrl -crlexts crl_ext -crl_lastupdate 20260511000000Z \
         -crl_nextupdate 20260611000000Z -out crl.pem",
    );
    dir.openssl("crl -in crl.pem -outform DER -out crl.der");
    // OpenSSL itself accepts the list's signature under the test-PKI CA (`openssl crl` exits
    // with 0 either way and says which on stderr).
    let checked = dir.run_openssl("crl -in crl.der -inform DER -CAfile ca.pem -noout");
    assert_eq!(String::from_utf8_lossy(&checked.stderr).trim(), "verify OK");
    let crl = dir.read("crl.der");

    let summary = fixture.load("openssl-ca-gencrl", &crl).unwrap();
    println!("openssl ca -gencrl: {summary:?}");
    assert_eq!(summary.crl_number, "42");
    assert_eq!(summary.entries, 1);
    assert_eq!(summary.this_update, time("2026-05-11T00:00:00Z"));
    assert_eq!(summary.next_update, Some(time("2026-06-11T00:00:00Z")));
    assert_eq!(summary.issuer_key_id, hex::encode(ca.key_id()));
    assert_eq!(summary.scope, jpki_revocation::Scope::default());

    let revoked_card = fixture.pki.card("h01").unwrap();
    let signature = revoked_card.sign_document(FORM).unwrap();
    let content = SignedContent::Message { data: FORM, hash: HashAlgorithm::Sha256 };
    let input = SignatureInput::Raw { signature: &signature, certificate: revoked.cert_der(), content };
    let report = fixture.verifier.verify_signature(&input, at());
    println!("revoked by the openssl CRL: {}", outcome(&report));
    assert_result(&report, SubIndication::RevokedNoPoe, "REVOKED");
    assert_eq!(
        report.reason,
        Some(FailureReason::Revoked {
            revoked_at: time("2026-05-10T00:00:00Z"),
            reason: Some(RevocationReason::KeyCompromise)
        })
    );
    let provenance = report.revocation.as_ref().unwrap().provenance.as_ref().unwrap();
    assert_eq!(provenance.crl_number.as_deref(), Some("42"));
    assert_eq!(provenance.list, "openssl-ca-gencrl");
    assert_eq!(provenance.this_update, time("2026-05-11T00:00:00Z"));

    // Another holder of the same CA is good on that list.
    let good = fixture.pki.card("h02").unwrap();
    let signature = good.sign_document(FORM).unwrap();
    let input = SignatureInput::Raw { signature: &signature, certificate: good.signing_cert_der(), content };
    let report = fixture.verifier.verify_signature(&input, at());
    println!("not on the openssl CRL: {}", outcome(&report));
    assert_passed(&report, "holder not on the list");
    assert_eq!(report.revocation.unwrap().provenance.unwrap().crl_number.as_deref(), Some("42"));
    // After nextUpdate the list no longer answers.
    let report = fixture.verifier.verify_signature(&input, time("2026-06-12T00:00:00Z"));
    assert_result(&report, SubIndication::TryLater, "REVOCATION_STATUS_UNKNOWN");
}

// ---------------------------------------------------------------------------------------------
// 6. The real JPKI roots (development workspace only).
// ---------------------------------------------------------------------------------------------

const REAL_CA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/jpki/real-ca");

/// File, kind, notBefore, notAfter, subjectKeyIdentifier, first bytes of the SHA-256 fingerprint
/// (as in the directory's README).
const REAL_ROOTS: [(&str, CertKind, &str, &str, &str, &str); 4] = [
    (
        "sign_ca_2015.pem",
        CertKind::SigningCard,
        "2015-10-20T02:40:28Z",
        "2025-10-19T14:59:59Z",
        "0d034cbb34d0714f45e45a1cafd8fd143fab54a7",
        "19645405a1fe",
    ),
    (
        "sign_ca_2023.pem",
        CertKind::SigningCard,
        "2023-07-16T00:50:27Z",
        "2033-07-15T14:59:59Z",
        "d21ea55895617e93adbf966b941ab4edf653f08f",
        "d227f6cde11d",
    ),
    (
        "auth_ca_2015.pem",
        CertKind::AuthCard,
        "2015-10-20T03:08:13Z",
        "2025-10-19T14:59:59Z",
        "9567951b5ca70d84a0fff1d85a87f1aab1340385",
        "4dcfc4ca0aaf",
    ),
    (
        "auth_ca_2023.pem",
        CertKind::AuthCard,
        "2023-07-16T01:01:04Z",
        "2033-07-15T14:59:59Z",
        "1ac100f596a3bc8c4b3df195e32699249e9e308a",
        "64114f29620c",
    ),
];

/// The real roots' DER by file name, or `None` (after saying so) outside the development workspace.
fn real_roots() -> Option<Vec<(&'static str, CertKind, Vec<u8>)>> {
    let dir = Path::new(REAL_CA_DIR);
    if !dir.is_dir() {
        println!(
            "skipped: ../shared/jpki/real-ca not found (real JPKI roots are only available in the development workspace)"
        );
        return None;
    }
    let roots = REAL_ROOTS
        .iter()
        .map(|(file, kind, ..)| {
            let pem = std::fs::read(dir.join(file)).unwrap_or_else(|error| panic!("{file}: {error}"));
            let mut ders = jpki_core::cert::certificates_from_pem_or_der(&pem).unwrap();
            assert_eq!(ders.len(), 1, "{file}");
            (*file, *kind, ders.remove(0))
        })
        .collect();
    Some(roots)
}

fn real_verifier(roots: &[(&'static str, CertKind, Vec<u8>)]) -> Verifier {
    let kinds = [CertKind::SigningCard, CertKind::AuthCard]
        .into_iter()
        .map(|kind| KindConfig {
            kind,
            anchors: roots.iter().filter(|root| root.1 == kind).map(|root| root.2.clone()).collect(),
            policy_oids: jpki_testsupport::policy_oids(kind),
            revocation: std::sync::Arc::new(NoRevocationSource),
        })
        .collect();
    Verifier::new(VerifierConfig { kinds, algorithms: AlgorithmPolicy::default(), chain_cache_capacity: 0 }).unwrap()
}

#[test]
fn real_roots_are_accepted_as_anchors() {
    let Some(roots) = real_roots() else { return };
    let policy = AlgorithmPolicy::default();
    for ((file, kind, der), (_, _, not_before, not_after, key_id, fingerprint)) in roots.iter().zip(REAL_ROOTS) {
        let anchor = TrustAnchor::from_der(*kind, der, &policy).unwrap_or_else(|error| panic!("{file}: {error}"));
        println!("{file}: {kind}, key id {}, {}", hex::encode(anchor.key_id()), anchor.subject());
        assert_eq!(anchor.kind(), *kind);
        assert_eq!(hex::encode(anchor.key_id()), key_id, "{file}");
        assert!(hex::encode(anchor.sha256()).starts_with(fingerprint), "{file}");
        assert_eq!(anchor.not_before(), time(not_before), "{file}");
        assert_eq!(anchor.not_after(), time(not_after), "{file}");
    }
    let verifier = real_verifier(&roots);
    assert_eq!(verifier.anchors().len(), 4);
    assert_eq!(verifier.anchors_of(CertKind::SigningCard).count(), 2);
    assert_eq!(verifier.anchors_of(CertKind::AuthCard).count(), 2);
}

#[test]
fn real_root_generations_share_a_name_not_a_key() {
    let Some(roots) = real_roots() else { return };
    let verifier = real_verifier(&roots);
    let mut subjects = Vec::new();
    for kind in [CertKind::SigningCard, CertKind::AuthCard] {
        let generations: Vec<&TrustAnchor> = verifier.anchors_of(kind).collect();
        assert_eq!(generations.len(), 2);
        let (first, second) = (generations[0], generations[1]);
        println!(
            "{kind}: subject {:?}; key ids 2015 {} / 2023 {}",
            first.subject(),
            hex::encode(first.key_id()),
            hex::encode(second.key_id())
        );
        assert_eq!(first.subject_raw(), second.subject_raw(), "{kind}: generations share the subject DN");
        assert_ne!(first.key_id(), second.key_id(), "{kind}: generations differ by key");
        subjects.push(first.subject_raw().to_vec());
    }
    assert_ne!(subjects[0], subjects[1], "the signing and authentication roots have different DNs");
}

#[test]
fn real_roots_choose_the_anchor_by_key_not_by_name() {
    let Some(roots) = real_roots() else { return };
    let verifier = real_verifier(&roots);
    let fixture = Fixture::without_crls();
    let holder = fixture.pki.holder("h01").unwrap();
    let card = holder.card();

    // The test PKI's CAs use the real roots' DNs byte for byte.
    let signing = jpki_core::cert::ParsedCertificate::parse(card.signing_cert_der()).unwrap();
    let auth = jpki_core::cert::ParsedCertificate::parse(card.auth_cert_der()).unwrap();
    let real_signing: Vec<&TrustAnchor> = verifier.anchors_of(CertKind::SigningCard).collect();
    let real_auth: Vec<&TrustAnchor> = verifier.anchors_of(CertKind::AuthCard).collect();
    assert_eq!(signing.issuer_raw, real_signing[0].subject_raw());
    assert_eq!(auth.issuer_raw, real_auth[0].subject_raw());

    let signature = card.sign_document(FORM).unwrap();
    let proof = card.prove(b"challenge").unwrap();
    // Chain building does not depend on the time: the same before the 2015 roots expired
    // (2025-10-19), after, and when only the 2023 roots are valid.
    for moment in ["2025-06-01T00:00:00Z", "2025-10-19T14:59:59Z", "2025-10-20T00:00:00Z", "2026-06-01T00:00:00Z"] {
        let moment: UnixTime = time(moment);
        let content = SignedContent::Message { data: FORM, hash: HashAlgorithm::Sha256 };
        let input = SignatureInput::Raw { signature: &signature, certificate: card.signing_cert_der(), content };
        let report = verifier.verify_signature(&input, moment);
        println!(
            "test-PKI signing certificate against the real roots at {}: {}",
            moment.to_rfc3339(),
            outcome(&report)
        );
        assert_result(&report, SubIndication::NoCertificateChainFound, "NO_ANCHOR_VERIFIES_CERTIFICATE");
        assert_eq!(
            report.reason,
            Some(FailureReason::NoAnchorVerifiesCertificate { issuer: signing.issuer.clone(), anchors_tried: 2 })
        );
        assert!(report.four_fields.is_none(), "no four fields without a trusted chain");

        let input = AuthProofInput {
            certificate: card.auth_cert_der(),
            challenge: b"challenge",
            signature: &proof,
            challenge_issued_at: None,
        };
        let report = verifier.verify_auth_proof(&input, moment);
        assert_eq!(
            report.reason,
            Some(FailureReason::NoAnchorVerifiesCertificate { issuer: auth.issuer.clone(), anchors_tried: 2 })
        );
    }
}
