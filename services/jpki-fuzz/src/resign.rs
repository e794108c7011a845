//! `resign` target: structure-aware mutations that are signed again, so that they reach the checks
//! after the signature (the byte-level targets rarely get past it: nothing there can re-sign).
//!
//! The input is a recipe read by a small byte interpreter ([`Recipe`]). Its first byte picks what
//! is verified (a CMS signature, a raw signature or an authentication proof of one test-PKI
//! holder); every following op mutates one field of the holder's certificate (extensions added,
//! removed, duplicated or made critical, unknown OIDs, keyUsage bits, extendedKeyUsage, policies,
//! subjectAltName otherNames and four-field values, basicConstraints, validity, serial, subject),
//! of the CMS signed attributes (content-type, message-digest, signing-time) or of the CRL
//! (entries and reasons for the certificate, issuingDistributionPoint, cRLNumber, dates). The
//! certificate and the CRL are then signed with the issuing CA's key, the document with the
//! holder's key (the test PKI's fixed keys, derived once per process), the CRL is loaded into a
//! [`RevocationStore`] and the full verification runs.
//!
//! Oracle: no panic; [`crate::check_report`]; and a pass only when the certificate still has what
//! the profile requires, checked independently with x509-parser: valid at the validation time, no
//! unknown critical extension, no critical extendedKeyUsage, no extension twice, keyUsage with
//! digitalSignature, not a CA, the kind's policy, not revoked (or on hold) on the re-signed list,
//! and for CMS an intact messageDigest and content-type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use jpki_core::der::{self, Reader, tag};
use jpki_core::revocation::{RevocationAnswer, RevocationQuery, RevocationSource, UnknownStatusCause};
use jpki_core::{AuthProofInput, HashAlgorithm, SignatureInput, SignedContent, UnixTime, ValidationReport, Verifier};
use jpki_revocation::RevocationStore;
use jpki_testpki::der as w;
use jpki_testpki::profile::{CertKind, ee_crl_dp_name, oid};
use jpki_testpki::{Ca, CrlBuilder, CrlEntry, HashAlg, Holder, IssuingDistributionPoint, ReasonCode, TestPki};
use time::OffsetDateTime;

/// The test PKI's seed (the same PKI every test suite uses).
const SEED: u64 = 2026;

/// The validation time: 2026-06-01T00:00:00Z, when the test PKI's holders are valid.
pub const RESIGN_TIME: UnixTime = UnixTime(1_780_272_000);

/// The signed document.
const CONTENT: &[u8] = "jpki-gateway resign target: 口座開設申込書".as_bytes();

/// At most this many mutation ops per input (each op is cheap; signing dominates).
const MAX_OPS: usize = 12;

/// Reads the input as a stream of choices; past its end every choice is 0.
pub struct Recipe<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> Recipe<'a> {
    /// A recipe over fuzz input.
    pub fn new(data: &'a [u8]) -> Self {
        Recipe { data, position: 0 }
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let byte = self.data.get(self.position).copied().unwrap_or(0);
        self.position += 1;
        byte
    }

    /// A choice in `0..count` (`count` > 0).
    pub fn pick(&mut self, count: usize) -> usize {
        usize::from(self.byte()) % count.max(1)
    }

    /// Up to `max` bytes, length first.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let length = self.pick(max + 1);
        let start = self.position.min(self.data.len());
        let end = (start + length).min(self.data.len());
        self.position += length;
        &self.data[start..end]
    }

    /// Whether input is left.
    pub fn has_more(&self) -> bool {
        self.position < self.data.len()
    }
}

/// What the holder's key signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Document {
    Cms,
    Raw,
    AuthProof,
}

/// One extension, as read from the certificate.
#[derive(Clone, Debug)]
struct Extension {
    oid: String,
    critical: bool,
    value: Vec<u8>,
}

/// The certificate's TBS fields that the ops mutate; the rest is kept as raw DER.
#[derive(Clone, Debug)]
struct Tbs {
    serial: Vec<u8>,
    algorithm: Vec<u8>,
    issuer: Vec<u8>,
    not_before: i64,
    not_after: i64,
    subject: Vec<u8>,
    spki: Vec<u8>,
    extensions: Vec<Extension>,
}

/// CMS signed-attribute mutations.
#[derive(Clone, Debug, Default)]
struct Attributes {
    content_type: Option<&'static str>,
    wrong_digest: bool,
    signing_time: Option<i64>,
    drop_signing_time: bool,
}

/// CRL mutations.
#[derive(Clone, Debug)]
struct CrlPlan {
    entry: Option<(i64, Option<ReasonCode>)>,
    scope: u8,
    number: u64,
    this_update: i64,
    next_update: i64,
}

/// Derives the test PKI's keys and builds the verifier (seconds; the fuzz binary calls this once
/// before its per-input timeout starts).
pub fn warm_up() {
    let _ = context();
}

/// The target: see the module documentation.
pub fn resign(data: &[u8]) {
    let _ = resign_report(data);
}

/// Runs one recipe and checks the oracle; the report, when the recipe got as far as a
/// verification (for tests that a seed reaches the end).
pub fn resign_report(data: &[u8]) -> Option<ValidationReport> {
    let context = context()?;
    let mut recipe = Recipe::new(data);
    let selector = recipe.byte();
    let document = [Document::Cms, Document::Raw, Document::AuthProof][usize::from(selector % 3)];
    let holder = &context.holders[usize::from(selector / 3) % context.holders.len()];
    let issued = if document == Document::AuthProof { holder.auth() } else { holder.signing() };
    let ca = context.pki.ca_by_label(issued.issuer_label())?;
    let mut tbs = Tbs::parse(issued.cert_der())?;
    let mut attributes = Attributes::default();
    let mut crl = CrlPlan {
        entry: None,
        scope: 0,
        number: 1,
        this_update: RESIGN_TIME.0 - 86_400,
        next_update: RESIGN_TIME.0 + 86_400,
    };
    for _ in 0..MAX_OPS {
        if !recipe.has_more() {
            break;
        }
        apply(&mut recipe, issued.kind(), &mut tbs, &mut attributes, &mut crl);
    }
    let certificate = memo(&context.certificates, tbs.encode(), |tbs| {
        jpki_testpki::cert::signed_structure(tbs.to_vec(), ca.key(), HashAlg::Sha256).ok()
    })?;
    let store = RevocationStore::new(context.anchors.clone(), 0);
    let key = (ca.label().to_owned(), format!("{crl:?}"), tbs.serial.clone());
    if let Some(list) = memo(&context.crls, key, |_| crl.sign(ca, issued.kind(), &tbs.serial)) {
        // A refused list leaves no list: the answer is then unknown, never good.
        let _ = store.load("resign", &list, RESIGN_TIME);
    }
    // One run at a time uses the shared verifier (tests replay inputs on several threads).
    let _run = context.run.lock().unwrap_or_else(PoisonError::into_inner);
    context.revocation.set(store);
    let verifier = &context.verifier;
    // The holder's signatures over the same bytes are the same: sign each once.
    let sign = |data: &[u8]| {
        memo(&context.signatures, (issued.label().to_owned(), data.to_vec()), |_| {
            jpki_testpki::sign_message(issued.key(), data, HashAlg::Sha256).ok()
        })
    };
    let report = match document {
        Document::Cms => {
            let cms = sign_cms(&sign, &certificate, &attributes)?;
            let input = SignatureInput::Cms { cms: &cms, detached_content: Some(CONTENT), certificate: None };
            verifier.verify_signature(&input, RESIGN_TIME)
        }
        Document::Raw => {
            let signature = sign(CONTENT)?;
            let content = SignedContent::Message { data: CONTENT, hash: HashAlgorithm::Sha256 };
            let input = SignatureInput::Raw { signature: &signature, certificate: &certificate, content };
            verifier.verify_signature(&input, RESIGN_TIME)
        }
        Document::AuthProof => {
            let challenge = [0x5a; 32];
            let signature = sign(&challenge)?;
            let input = AuthProofInput {
                certificate: &certificate,
                challenge: &challenge,
                signature: &signature,
                challenge_issued_at: Some(RESIGN_TIME),
            };
            verifier.verify_auth_proof(&input, RESIGN_TIME)
        }
    };
    check(&report, &certificate, issued.kind(), &crl, &attributes, document);
    Some(report)
}

/// The shared, fixed material: the test PKI (keys derived once), its anchors and holders, one
/// verifier (no chain cache) whose revocation source is swapped per run, and the signatures
/// already made (a fuzzer repeats mutations; signing dominates the cost of a run).
struct Context {
    pki: Arc<TestPki>,
    anchors: Vec<jpki_core::TrustAnchor>,
    holders: Vec<Holder>,
    revocation: Arc<Swappable>,
    verifier: Verifier,
    certificates: Memo<Vec<u8>>,
    crls: Memo<(String, String, Vec<u8>)>,
    signatures: Memo<(String, Vec<u8>)>,
    run: Mutex<()>,
}

/// Signed DER by what was signed; cleared when it grows past [`MEMO_LIMIT`] entries.
type Memo<K> = Mutex<HashMap<K, Option<Vec<u8>>>>;

/// Entries kept per memo (a few MB).
const MEMO_LIMIT: usize = 4096;

fn memo<K: std::hash::Hash + Eq>(memo: &Memo<K>, key: K, make: impl FnOnce(&K) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    let mut map = memo.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = map.get(&key) {
        return found.clone();
    }
    let made = make(&key);
    if map.len() >= MEMO_LIMIT {
        map.clear();
    }
    map.insert(key, made.clone());
    made
}

/// The run's revocation store behind the one verifier.
#[derive(Default)]
struct Swappable(RwLock<Option<Arc<RevocationStore>>>);

impl Swappable {
    fn set(&self, store: RevocationStore) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(store));
    }
}

impl RevocationSource for Swappable {
    fn status(&self, query: &RevocationQuery<'_>) -> RevocationAnswer {
        match self.0.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            Some(store) => store.status(query),
            None => RevocationAnswer::unknown(UnknownStatusCause::NoSource),
        }
    }
}

fn context() -> Option<&'static Context> {
    static CONTEXT: OnceLock<Option<Context>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| {
            let pki = TestPki::cached(SEED).ok()?;
            let anchors = jpki_testsupport::anchors(&pki).ok()?;
            // Card holders of both generations (phone kinds take other policies; cards suffice here).
            let holders: Vec<Holder> = pki
                .holders()
                .iter()
                .filter(|holder| holder.signing().kind() == CertKind::SigningCard)
                .take(4)
                .cloned()
                .collect();
            let revocation = Arc::new(Swappable::default());
            let verifier = jpki_testsupport::verifier(&pki, revocation.clone(), 0).ok()?;
            (!holders.is_empty()).then_some(Context {
                pki,
                anchors,
                holders,
                revocation,
                verifier,
                certificates: Mutex::default(),
                crls: Mutex::default(),
                signatures: Mutex::default(),
                run: Mutex::default(),
            })
        })
        .as_ref()
}

/// Applies one op.
fn apply(recipe: &mut Recipe<'_>, kind: CertKind, tbs: &mut Tbs, attributes: &mut Attributes, crl: &mut CrlPlan) {
    const UNKNOWN: &str = "1.3.6.1.4.1.55555.7";
    const EKU: &str = "2.5.29.37";
    let count = tbs.extensions.len();
    match recipe.pick(17) {
        0 if count > 0 => {
            tbs.extensions.remove(recipe.pick(count));
        }
        1 if count > 0 => {
            let copy = tbs.extensions[recipe.pick(count)].clone();
            tbs.extensions.push(copy);
        }
        2 if count > 0 => {
            let index = recipe.pick(count);
            tbs.extensions[index].critical = !tbs.extensions[index].critical;
        }
        3 => {
            let critical = recipe.byte() & 1 == 1;
            let value = recipe.bytes(8).to_vec();
            tbs.extensions.push(Extension { oid: UNKNOWN.to_owned(), critical, value: w::octet_string(&value) });
        }
        4 => {
            // keyUsage: any of the nine bits, as a one- or two-byte BIT STRING.
            let (low, high) = (recipe.byte(), recipe.byte() & 1);
            let bits: Vec<u8> = (0..9u8).filter(|bit| if *bit < 8 { low >> bit & 1 == 1 } else { high == 1 }).collect();
            let critical = recipe.byte() & 1 == 0;
            replace(tbs, oid::KEY_USAGE, critical, w::named_bits(&bits));
        }
        5 => {
            let purposes = ["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4", "2.5.29.37.0", UNKNOWN];
            let purpose = purposes[recipe.pick(purposes.len())];
            let critical = recipe.byte() & 1 == 1;
            let Ok(oid) = w::oid(purpose) else { return };
            replace(tbs, EKU, critical, w::sequence(&[&oid]));
        }
        6 => {
            let choices = [kind.policy_oid(), oid::POLICY_SIGNING, oid::POLICY_AUTH, oid::POLICY_WRONG_TEST];
            let first = choices[recipe.pick(choices.len())];
            let second = (recipe.byte() & 1 == 1).then(|| choices[recipe.pick(choices.len())]);
            let policies: Vec<&str> = std::iter::once(first).chain(second).collect();
            let critical = recipe.byte() & 1 == 0;
            if let Ok(extension) = jpki_testpki::cert::ext::certificate_policies(&policies, critical) {
                replace(tbs, oid::CERTIFICATE_POLICIES, critical, extension.value);
            }
        }
        7 => {
            // One JPKI four-field otherName (name, date of birth, sex, address, masks) with input text.
            let field = 1 + recipe.pick(6);
            let text = String::from_utf8_lossy(recipe.bytes(24)).into_owned();
            let Ok(name) = jpki_testpki::cert::general_name_other_utf8(&format!("1.2.392.200149.8.5.5.{field}"), &text)
            else {
                return;
            };
            let mut names = vec![name];
            if recipe.byte() & 1 == 1 {
                names.push(names[0].clone());
            }
            let refs: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
            let critical = recipe.byte() & 1 == 1;
            replace(tbs, oid::SUBJECT_ALT_NAME, critical, w::sequence(&refs));
        }
        8 => {
            let (ca, critical) = (recipe.byte() & 1 == 1, recipe.byte() & 1 == 1);
            let extension = jpki_testpki::cert::ext::basic_constraints(ca, critical);
            replace(tbs, oid::BASIC_CONSTRAINTS, critical, extension.value);
        }
        9 => {
            let shift = |recipe: &mut Recipe<'_>| (i64::from(recipe.byte() as i8)) * 86_400 * 30;
            tbs.not_before += shift(recipe);
            tbs.not_after += shift(recipe);
        }
        10 => {
            let serial = recipe.bytes(20);
            if !serial.is_empty() {
                tbs.serial = serial.to_vec();
            }
        }
        11 => tbs.subject = tbs.issuer.clone(),
        12 => {
            let types = ["1.2.840.113549.1.7.1", "1.2.840.113549.1.7.2", UNKNOWN];
            attributes.content_type = Some(types[recipe.pick(types.len())]);
        }
        13 => attributes.wrong_digest = !attributes.wrong_digest,
        14 => {
            if recipe.byte() & 1 == 1 {
                attributes.drop_signing_time = !attributes.drop_signing_time;
            } else {
                attributes.signing_time = Some(RESIGN_TIME.0 + i64::from(recipe.byte() as i8) * 86_400 * 60);
            }
        }
        15 => {
            let reasons = [
                None,
                Some(ReasonCode::KeyCompromise),
                Some(ReasonCode::AffiliationChanged),
                Some(ReasonCode::CessationOfOperation),
                Some(ReasonCode::CertificateHold),
                Some(ReasonCode::RemoveFromCrl),
            ];
            let date = RESIGN_TIME.0 + i64::from(recipe.byte() as i8) * 86_400;
            crl.entry = Some((date, reasons[recipe.pick(reasons.len())]));
        }
        _ => {
            crl.scope = recipe.byte() % 4;
            crl.number = u64::from(recipe.byte());
            crl.this_update = RESIGN_TIME.0 + i64::from(recipe.byte() as i8) * 3600;
            crl.next_update = crl.this_update + i64::from(recipe.byte()) * 3600;
        }
    }
}

/// Replaces the extension with `oid` (or appends it).
fn replace(tbs: &mut Tbs, oid: &str, critical: bool, value: Vec<u8>) {
    let extension = Extension { oid: oid.to_owned(), critical, value };
    match tbs.extensions.iter_mut().find(|existing| existing.oid == oid) {
        Some(existing) => *existing = extension,
        None => tbs.extensions.push(extension),
    }
}

impl Tbs {
    /// Reads a DER certificate's TBS (the test PKI writes v3 certificates with extensions).
    fn parse(certificate: &[u8]) -> Option<Tbs> {
        let outer = der::parse_single(certificate, false).ok()?;
        let tbs = outer.reader(false).read(tag::SEQUENCE).ok()?;
        let mut fields = tbs.reader(false);
        fields.read(tag::CONTEXT_0).ok()?;
        let serial = fields.read(tag::INTEGER).ok()?.contents.to_vec();
        let algorithm = fields.read(tag::SEQUENCE).ok()?.raw.to_vec();
        let issuer = fields.read(tag::SEQUENCE).ok()?.raw.to_vec();
        let validity = fields.read(tag::SEQUENCE).ok()?;
        let mut times = validity.reader(false);
        let not_before = time_of(&mut times)?;
        let not_after = time_of(&mut times)?;
        let subject = fields.read(tag::SEQUENCE).ok()?.raw.to_vec();
        let spki = fields.read(tag::SEQUENCE).ok()?.raw.to_vec();
        let wrapper = fields.read(0xa3).ok()?;
        let list = wrapper.reader(false).read(tag::SEQUENCE).ok()?;
        let mut reader = list.reader(false);
        let mut extensions = Vec::new();
        while !reader.is_empty() {
            let extension = reader.read(tag::SEQUENCE).ok()?;
            let mut parts = extension.reader(false);
            let oid = der::oid_to_string(parts.read(tag::OID).ok()?.contents)?;
            let critical = parts.read_optional(tag::BOOLEAN).ok()?.is_some_and(|flag| flag.contents == [0xff]);
            let value = parts.read(tag::OCTET_STRING).ok()?.contents.to_vec();
            extensions.push(Extension { oid, critical, value });
        }
        Some(Tbs { serial, algorithm, issuer, not_before, not_after, subject, spki, extensions })
    }

    /// The DER TBSCertificate.
    fn encode(&self) -> Vec<u8> {
        let time = |seconds: i64| {
            OffsetDateTime::from_unix_timestamp(seconds)
                .ok()
                .and_then(|moment| w::x509_time(moment).ok())
                .unwrap_or_else(|| w::tlv(tag::UTC_TIME, b"000101000000Z"))
        };
        let extensions: Vec<Vec<u8>> = self
            .extensions
            .iter()
            .filter_map(|extension| {
                let oid = w::oid(&extension.oid).ok()?;
                let critical = if extension.critical { w::boolean(true) } else { Vec::new() };
                Some(w::sequence(&[&oid, &critical, &w::octet_string(&extension.value)]))
            })
            .collect();
        let refs: Vec<&[u8]> = extensions.iter().map(Vec::as_slice).collect();
        w::sequence(&[
            &w::explicit(0, &[&w::integer_u64(2)]),
            &w::tlv(tag::INTEGER, &w::unsigned_integer_content(&self.serial)),
            &self.algorithm,
            &self.issuer,
            &w::sequence(&[&time(self.not_before), &time(self.not_after)]),
            &self.subject,
            &self.spki,
            &w::explicit(3, &[&w::sequence(&refs)]),
        ])
    }
}

fn time_of(reader: &mut Reader<'_>) -> Option<i64> {
    let element = reader.read_any().ok()?;
    let text = std::str::from_utf8(element.contents).ok()?;
    let full = match element.tag {
        tag::UTC_TIME if text.len() == 13 => {
            let century = if text[..2].parse::<u8>().ok()? >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        tag::GENERALIZED_TIME => text.to_owned(),
        _ => return None,
    };
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[0..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    UnixTime::parse_rfc3339(&rfc3339).map(|moment| moment.0)
}

impl CrlPlan {
    /// The CA's list, with the certificate's entry when the recipe revoked it.
    fn sign(&self, ca: &Ca, kind: CertKind, serial: &[u8]) -> Option<Vec<u8>> {
        let moment = |seconds: i64| OffsetDateTime::from_unix_timestamp(seconds).ok();
        let mut builder =
            CrlBuilder::new(moment(self.this_update)?, Some(moment(self.next_update)?)).number(self.number);
        if let Some((date, reason)) = self.entry {
            let entry = CrlEntry::new(jpki_core::der::unsigned_integer_bytes(serial).to_vec(), moment(date)?);
            builder = builder.entry(match reason {
                Some(reason) => entry.reason(reason),
                None => entry,
            });
        }
        let full_name = |prefecture: &str, municipality: &str| Some(ee_crl_dp_name(kind, prefecture, municipality));
        builder = match self.scope {
            1 => builder.issuing_distribution_point(IssuingDistributionPoint {
                full_name: full_name("Tokyo", "Chiyoda-ku"),
                only_contains_user_certs: true,
                only_contains_ca_certs: false,
            }),
            2 => builder.issuing_distribution_point(IssuingDistributionPoint {
                full_name: full_name("Hokkaido", "Sapporo-shi"),
                only_contains_user_certs: true,
                only_contains_ca_certs: false,
            }),
            3 => builder.issuing_distribution_point(IssuingDistributionPoint {
                full_name: None,
                only_contains_user_certs: false,
                only_contains_ca_certs: true,
            }),
            _ => builder,
        };
        builder.sign(ca.issuer()).ok()
    }
}

/// A detached CMS over [`CONTENT`] with the mutated signed attributes, signed with `sign`.
fn sign_cms(sign: &dyn Fn(&[u8]) -> Option<Vec<u8>>, certificate: &[u8], attributes: &Attributes) -> Option<Vec<u8>> {
    const CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
    const MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
    const SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
    const ID_DATA: &str = "1.2.840.113549.1.7.1";
    let info = w::parse_certificate(certificate).ok()?;
    let mut digest = HashAlg::Sha256.digest(CONTENT);
    if attributes.wrong_digest {
        digest[0] ^= 1;
    }
    let attribute =
        |type_oid: &str, value: Vec<u8>| Some(w::sequence(&[&w::oid(type_oid).ok()?, &w::set_of(vec![value])]));
    let mut set = vec![
        attribute(CONTENT_TYPE, w::oid(attributes.content_type.unwrap_or(ID_DATA)).ok()?)?,
        attribute(MESSAGE_DIGEST, w::octet_string(&digest))?,
    ];
    if !attributes.drop_signing_time {
        let moment =
            OffsetDateTime::from_unix_timestamp(attributes.signing_time.unwrap_or(RESIGN_TIME.0 - 3600)).ok()?;
        set.push(attribute(SIGNING_TIME, w::x509_time(moment).ok()?)?);
    }
    let signed_attributes = w::set_of(set);
    let signature = sign(&signed_attributes)?;
    let digest_algorithm = w::algorithm_no_params(HashAlg::Sha256.digest_oid()).ok()?;
    let signer_id = w::sequence(&[&info.issuer, &w::tlv(tag::INTEGER, &info.serial_content)]);
    let signer_info = w::sequence(&[
        &w::integer_u64(1),
        &signer_id,
        &digest_algorithm,
        &w::retag(signed_attributes, 0xa0),
        &w::algorithm_null_params(oid::RSA_ENCRYPTION).ok()?,
        &w::octet_string(&signature),
    ]);
    let signed_data = w::sequence(&[
        &w::integer_u64(1),
        &w::set_of(vec![digest_algorithm.clone()]),
        &w::sequence(&[&w::oid(ID_DATA).ok()?]),
        &w::implicit_constructed(0, &[certificate]),
        &w::set_of(vec![signer_info]),
    ]);
    Some(w::sequence(&[&w::oid("1.2.840.113549.1.7.2").ok()?, &w::explicit(0, &[&signed_data])]))
}

/// The oracle: see the module documentation.
fn check(
    report: &ValidationReport,
    certificate: &[u8],
    kind: CertKind,
    crl: &CrlPlan,
    attributes: &Attributes,
    document: Document,
) {
    crate::check_report(report);
    if !report.passed() {
        return;
    }
    use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};
    let Ok((_, parsed)) = X509Certificate::from_der(certificate) else { panic!("a pass on unparsable DER") };
    let validity = parsed.validity();
    assert!(
        validity.not_before.timestamp() <= RESIGN_TIME.0 && RESIGN_TIME.0 <= validity.not_after.timestamp(),
        "passed outside the validity period"
    );
    // What the core processes; a critical extendedKeyUsage it must refuse (it does not enforce one).
    let known_critical =
        ["2.5.29.14", "2.5.29.35", "2.5.29.15", "2.5.29.19", "2.5.29.32", "2.5.29.31", "2.5.29.17", "2.5.29.18"];
    let mut seen = Vec::new();
    let mut digital_signature = false;
    let mut policy = false;
    for extension in parsed.extensions() {
        let dotted = extension.oid.to_id_string();
        assert!(!seen.contains(&dotted), "passed with extension {dotted} twice");
        assert!(!extension.critical || known_critical.contains(&dotted.as_str()), "passed with critical {dotted}");
        match extension.parsed_extension() {
            ParsedExtension::KeyUsage(usage) => digital_signature = usage.digital_signature(),
            ParsedExtension::BasicConstraints(constraints) => assert!(!constraints.ca, "a CA certificate passed"),
            ParsedExtension::CertificatePolicies(policies) => {
                policy = policies.iter().any(|info| info.policy_id.to_id_string() == kind.policy_oid());
            }
            _ => {}
        }
        seen.push(dotted);
    }
    assert!(digital_signature, "passed without keyUsage digitalSignature");
    assert!(policy, "passed without the kind's policy");
    // Listed at or before the validation time: never passes (a hold answers TRY_LATER, and
    // removeFromCRL only means something in a delta list).
    // A pass means the one list covered the certificate.
    if let Some((date, _)) = crl.entry {
        assert!(date > RESIGN_TIME.0, "a certificate listed on its CRL passed");
    }
    if document == Document::Cms {
        assert!(!attributes.wrong_digest, "a CMS with a wrong messageDigest passed");
        assert!(
            attributes.content_type.is_none_or(|content_type| content_type == "1.2.840.113549.1.7.1"),
            "a CMS whose content-type attribute is not id-data passed"
        );
    }
}
