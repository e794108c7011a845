//! Property tests: the DER/BER reader, the four-field masks and dates, report consistency on
//! mutated inputs, and single-bit flips of valid signatures, contents and certificates.
//!
//! Valid inputs are the committed OpenSSL fixtures (`fuzz/fixtures/`, made by `generate.sh`),
//! verified by the same fixed verifier the fuzz targets use. Case counts are kept small so the
//! whole file runs in a few seconds in a debug build.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;

use jpki_core::der::{self, Reader};
use jpki_core::four_fields::{self, Era, FieldProblem};
use jpki_core::{
    AlgorithmPolicy, AuthProofInput, CertKind, HashAlgorithm, Indication, SignatureInput, SignedContent, TrustAnchor,
    ValidationReport, Verifier,
};
use jpki_fuzz::{self as fuzzing, VALIDATION_TIME, fixtures};
use proptest::prelude::*;

// ------------------------------------------------------------------------------------------------
// DER helpers

fn encode_length(length: usize) -> Vec<u8> {
    if length < 0x80 {
        return vec![length as u8];
    }
    let bytes: Vec<u8> = length.to_be_bytes().into_iter().skip_while(|byte| *byte == 0).collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(encode_length(contents.len()));
    out.extend_from_slice(contents);
    out
}

/// Offset of `inner` inside `outer`, when it is a sub-slice.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = inner.as_ptr() as usize;
    let base = outer.as_ptr() as usize;
    (start >= base && start + inner.len() <= base + outer.len()).then(|| start - base)
}

// ------------------------------------------------------------------------------------------------
// The reader on arbitrary and on structured input

/// How a constructed element's length is written.
#[derive(Clone, Copy, Debug)]
enum LengthForm {
    Minimal,
    /// BER: indefinite, closed by end-of-contents.
    Indefinite,
    /// BER: long form with `extra` leading zero bytes.
    NonMinimal(u8),
}

/// A tree of elements that encodes to well-formed BER (and DER when every length is minimal).
#[derive(Clone, Debug)]
enum Node {
    Primitive(u8, Vec<u8>),
    Constructed(u8, LengthForm, Vec<Node>),
}

impl Node {
    fn encode(&self) -> Vec<u8> {
        match self {
            Node::Primitive(tag, contents) => tlv(*tag, contents),
            Node::Constructed(tag, form, children) => {
                let contents: Vec<u8> = children.iter().flat_map(Node::encode).collect();
                match form {
                    LengthForm::Minimal => tlv(*tag, &contents),
                    LengthForm::Indefinite => {
                        let mut out = vec![*tag, 0x80];
                        out.extend(contents);
                        out.extend([0, 0]);
                        out
                    }
                    LengthForm::NonMinimal(extra) => {
                        let length = contents.len().to_be_bytes();
                        // At least one leading zero byte, so the form is never minimal (nor 0x80).
                        let mut bytes = vec![0; usize::from(*extra)];
                        bytes.extend(length.iter().skip_while(|byte| **byte == 0));
                        let mut out = vec![*tag, 0x80 | bytes.len() as u8];
                        out.extend(bytes);
                        out.extend(contents);
                        out
                    }
                }
            }
        }
    }

    fn is_der(&self) -> bool {
        match self {
            Node::Primitive(..) => true,
            Node::Constructed(_, form, children) => {
                matches!(form, LengthForm::Minimal) && children.iter().all(Node::is_der)
            }
        }
    }

    /// What `octet_string_contents` must return for this node in BER mode, if it is an OCTET STRING.
    fn octets(&self) -> Option<Vec<u8>> {
        match self {
            Node::Primitive(0x04, contents) => Some(contents.clone()),
            Node::Constructed(0x24, _, children) => {
                children.iter().map(Node::octets).collect::<Option<Vec<_>>>().map(|parts| parts.concat())
            }
            _ => None,
        }
    }
}

fn primitive_tag() -> impl Strategy<Value = u8> {
    // Never 0x00 (end-of-contents) and never the high-tag-number form (0x1f).
    prop_oneof![Just(0x02u8), Just(0x04), Just(0x05), Just(0x06), Just(0x0c), Just(0x17), Just(0x80), Just(0x81)]
}

fn constructed_tag() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0x30u8), Just(0x31), Just(0x24), Just(0xa0), Just(0xa1), Just(0xa3)]
}

fn length_form() -> impl Strategy<Value = LengthForm> {
    prop_oneof![
        4 => Just(LengthForm::Minimal),
        2 => Just(LengthForm::Indefinite),
        1 => (1u8..3).prop_map(LengthForm::NonMinimal),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        (primitive_tag(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(tag, data)| Node::Primitive(tag, data)),
        // Long primitives exercise the long length forms.
        prop::collection::vec(any::<u8>(), 128..400).prop_map(|data| Node::Primitive(0x04, data)),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            (constructed_tag(), length_form(), prop::collection::vec(inner.clone(), 0..6))
                .prop_map(|(tag, form, children)| Node::Constructed(tag, form, children)),
            // Constructed OCTET STRINGs made of OCTET STRING segments only.
            (length_form(), prop::collection::vec(any::<u8>(), 0..20), 0usize..4).prop_map(|(form, data, pieces)| {
                let children =
                    data.chunks(pieces.max(1) * 5).map(|chunk| Node::Primitive(0x04, chunk.to_vec())).collect();
                Node::Constructed(0x24, form, children)
            }),
        ]
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        2 => (any::<usize>(), prop_oneof![Just(0u8), Just(0x80), Just(0xff), Just(0x30), Just(0x84), any::<u8>()])
            .prop_map(|(at, byte)| Mutation::Set(at, byte)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = data.len();
        match *mutation {
            Mutation::Flip(at, bit) if len > 0 => data[at % len] ^= 1 << bit,
            Mutation::Set(at, byte) if len > 0 => data[at % len] = byte,
            Mutation::Insert(at, byte) => data.insert(at % (len + 1), byte),
            Mutation::Delete(at) if len > 0 => {
                data.remove(at % len);
            }
            Mutation::Truncate(at) => data.truncate(at % (len + 1)),
            _ => {}
        }
    }
    data
}

/// The reader's promises on any input: no panic, every slice inside the input, offsets where the
/// elements are, the cursor always advancing, and DER mode never accepting an indefinite length.
fn reader_properties(data: &[u8]) {
    fuzzing::der(data); // the fuzz target's own checks (slices, offsets, bounded walk)
    for ber in [false, true] {
        let mut reader = if ber { Reader::ber(data) } else { Reader::der(data) };
        let mut consumed = 0;
        while let Ok(element) = reader.read_any() {
            assert_eq!(offset_in(data, element.raw), Some(consumed), "elements are contiguous");
            assert!(offset_in(element.raw, element.contents).is_some());
            assert!(ber || !element.indefinite);
            consumed += element.raw.len();
            assert_eq!(reader.offset(), consumed);
        }
        assert!(consumed <= data.len());
        if let Ok(element) = der::parse_single(data, ber) {
            assert_eq!(element.raw, data);
        }
    }
}

/// Reads an element and, recursively, every child of a constructed one.
fn read_all(element: der::Element<'_>, ber: bool) -> Result<(), der::DerError> {
    if !element.is_constructed() {
        return Ok(());
    }
    let mut reader = element.reader(ber);
    while !reader.is_empty() {
        read_all(reader.read_any()?, ber)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reader_never_panics_nor_reads_past_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        reader_properties(&data);
    }

    #[test]
    fn reader_never_panics_on_mutated_encodings(
        tree in node(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let data = mutate(tree.encode(), &mutations);
        reader_properties(&data);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The reader is not only safe but right: it reads back every well-formed encoding, whole, in
    /// BER mode, and in DER mode exactly when every length is minimal.
    #[test]
    fn reader_reads_back_well_formed_encodings(tree in node()) {
        let data = tree.encode();
        reader_properties(&data);
        let element = der::parse_single(&data, true).unwrap();
        prop_assert_eq!(element.raw, &data[..]);
        prop_assert!(read_all(element, true).is_ok());
        // The reader checks an element's own header; children are checked as they are read, so a
        // full DER walk succeeds exactly when every length is minimal.
        let strict = der::parse_single(&data, false).and_then(|element| read_all(element, false));
        prop_assert_eq!(strict.is_ok(), tree.is_der(), "{:?}", strict);
        if let Some(expected) = tree.octets() {
            let contents = der::octet_string_contents(&element, true).unwrap();
            prop_assert_eq!(contents.as_ref(), &expected[..]);
            prop_assert_eq!(matches!(contents, Cow::Borrowed(_)), matches!(tree, Node::Primitive(..)));
        }
        // Reading the encoding twice in a row gives two elements and nothing else.
        let doubled = [data.clone(), data.clone()].concat();
        let mut reader = Reader::ber(&doubled);
        prop_assert_eq!(reader.read_any().unwrap().raw, &data[..]);
        prop_assert_eq!(reader.read_any().unwrap().raw, &data[..]);
        prop_assert!(reader.finish().is_ok());
    }

    /// Every strict prefix of a well-formed encoding is an error (truncation is always noticed).
    #[test]
    fn truncation_is_always_an_error(tree in node(), cut in any::<usize>()) {
        let data = tree.encode();
        let cut = cut % data.len();
        for ber in [false, true] {
            prop_assert!(der::parse_single(&data[..cut], ber).is_err());
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Substitute-character masks

fn field_char() -> impl Strategy<Value = char> {
    prop_oneof![
        Just('\u{3000}'),
        Just('山'),
        Just('田'),
        Just('髙'),
        Just('A'),
        Just('0'),
        Just('1'),
        Just('𠮷'),       // outside the BMP: one scalar, two UTF-16 units, four bytes
        Just('\u{309a}'), // combining mark: its own scalar
        any::<char>(),
    ]
}

fn mask_char() -> impl Strategy<Value = char> {
    prop_oneof![8 => Just('0'), 8 => Just('1'), 1 => Just('２'), 1 => Just('\u{3000}'), 1 => any::<char>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mask_positions_follow_the_mask(
        value in prop::collection::vec(field_char(), 0..12),
        mask in prop::collection::vec(mask_char(), 0..12),
        same_length in any::<bool>(),
    ) {
        let mut mask = mask;
        if same_length {
            mask.resize(value.len(), '0');
        }
        let value_text: String = value.iter().collect();
        let mask_text: String = mask.iter().collect();
        let result = four_fields::mask_positions(&value_text, &mask_text);
        // Counting is by Unicode scalar: one per char, whatever its UTF-8 or UTF-16 length.
        let lengths_match = value.len() == mask.len();
        let only_binary = mask.iter().all(|flag| *flag == '0' || *flag == '1');
        prop_assert_eq!(result.is_ok(), lengths_match && only_binary);
        match result {
            Ok(positions) => {
                let expected: Vec<usize> =
                    mask.iter().enumerate().filter(|(_, flag)| **flag == '1').map(|(index, _)| index).collect();
                prop_assert_eq!(positions, expected);
            }
            Err(FieldProblem::MaskLengthMismatch { field, mask: found }) => {
                prop_assert!(!lengths_match);
                prop_assert_eq!((field, found), (value.len(), mask.len()));
            }
            Err(FieldProblem::MaskInvalidCharacter { position }) => {
                prop_assert!(lengths_match);
                let first = mask.iter().position(|flag| *flag != '0' && *flag != '1');
                prop_assert_eq!(Some(position), first);
            }
            Err(other) => prop_assert!(false, "unexpected problem {:?}", other),
        }
    }
}

#[test]
fn ideographic_space_counts_as_one_scalar() {
    let name = "山田\u{3000}太郎";
    assert_eq!(name.len(), 15, "five three-byte scalars");
    assert_eq!(four_fields::mask_positions(name, "00100"), Ok(vec![2]));
    assert_eq!(four_fields::mask_positions(name, "0000"), Err(FieldProblem::MaskLengthMismatch { field: 5, mask: 4 }));
    assert_eq!(four_fields::mask_positions("𠮷田", "10"), Ok(vec![0]));
}

// ------------------------------------------------------------------------------------------------
// Date of birth

const JPKI_FIELD: &str = "1.2.392.200149.8.5.5.";

fn oid_contents(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').map(|arc| arc.parse().unwrap()).collect();
    let mut out = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for arc in &arcs[2..] {
        let mut chunk = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        out.extend(chunk);
    }
    out
}

/// A subjectAltName value holding one JPKI otherName per `(suffix, UTF8String bytes)`.
fn san(fields: &[(u8, &[u8])]) -> Vec<u8> {
    let names: Vec<u8> = fields
        .iter()
        .flat_map(|(suffix, value)| {
            let oid = tlv(0x06, &oid_contents(&format!("{JPKI_FIELD}{suffix}")));
            let value = tlv(0xa0, &tlv(0x0c, value));
            tlv(0xa0, &[oid, value].concat())
        })
        .collect();
    tlv(0x30, &names)
}

fn date_text() -> impl Strategy<Value = String> {
    let part = |width: usize, max: u32| {
        prop_oneof![2 => Just(0u32), 3 => 1..=max, 1 => 0..10u32.pow(width as u32)]
            .prop_map(move |value| format!("{value:0width$}"))
    };
    prop_oneof![
        8 => (0u8..=9, part(4, 2030), part(2, 12), part(2, 31))
            .prop_map(|(era, year, month, day)| format!("{era}{year}{month}{day}")),
        1 => "[0-9]{0,12}",
        1 => any::<String>(),
        1 => "[0-9０-９]{9}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Date-of-birth parsing never guesses: a zero part stays `None`, era `0` stays unknown, and
    /// an input it does not fully understand gives no parts at all.
    #[test]
    fn date_of_birth_never_guesses(raw in date_text()) {
        let fields = four_fields::extract(&san(&[(4, raw.as_bytes())])).expect("one JPKI field present");
        let date = fields.date_of_birth;
        prop_assert_eq!(date.raw.as_deref(), Some(raw.as_str()));
        if !date.problems.is_empty() {
            prop_assert_eq!(&date.problems, &vec![FieldProblem::InvalidFormat]);
            prop_assert_eq!((date.era, date.year, date.month, date.day), (None, None, None, None));
            return Ok(());
        }
        // Accepted: nine ASCII digits, each part taken literally.
        prop_assert!(raw.len() == 9 && raw.bytes().all(|byte| byte.is_ascii_digit()));
        let number = |range: std::ops::Range<usize>| raw[range].parse::<u16>().unwrap();
        let era = match &raw[..1] {
            "0" => Era::Unknown,
            "1" => Era::Meiji,
            "2" => Era::Taisho,
            "3" => Era::Showa,
            "4" => Era::Heisei,
            "5" => Era::Reiwa,
            other => return Err(TestCaseError::fail(format!("era {other} accepted"))),
        };
        prop_assert_eq!(date.era, Some(era));
        prop_assert_eq!(date.year, Some(number(1..5)).filter(|year| *year != 0));
        prop_assert_eq!(date.month.map(u16::from), Some(number(5..7)).filter(|month| *month != 0));
        prop_assert_eq!(date.day.map(u16::from), Some(number(7..9)).filter(|day| *day != 0));
        prop_assert!(date.day.is_none() || date.month.is_some(), "a day without its month");
        if let (Some(year), Some(month), Some(day)) = (date.year, date.month, date.day) {
            let month = time::Month::try_from(month).unwrap();
            prop_assert!(time::Date::from_calendar_date(i32::from(year), month, day).is_ok());
        }
    }
}

#[test]
fn date_of_birth_examples() {
    let date = |raw: &str| four_fields::extract(&san(&[(4, raw.as_bytes())])).unwrap().date_of_birth;
    let unknown = date("000000000");
    assert_eq!((unknown.era, unknown.year, unknown.month, unknown.day), (Some(Era::Unknown), None, None, None));
    assert!(unknown.problems.is_empty());
    let showa = date("319801231");
    assert_eq!((showa.era, showa.year, showa.month, showa.day), (Some(Era::Showa), Some(1980), Some(12), Some(31)));
    assert_eq!(date("619800101").problems, vec![FieldProblem::InvalidFormat]);
    assert_eq!(date("319800015").problems, vec![FieldProblem::InvalidFormat], "day without month");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Values are kept exactly as encoded, and broken UTF-8 is reported on its field only.
    #[test]
    fn four_fields_keep_values_and_report_problems_per_field(
        name in prop::collection::vec(field_char(), 0..8),
        mask in prop::option::of(prop::collection::vec(prop_oneof![Just('0'), Just('1')], 0..8)),
        broken_address in any::<bool>(),
    ) {
        let name: String = name.into_iter().collect();
        let mask: Option<String> = mask.map(|mask| mask.into_iter().collect());
        let address: &[u8] = if broken_address { b"\xe6\x9d\xb1\xff" } else { "東京都".as_bytes() };
        let mut entries: Vec<(u8, &[u8])> = vec![(1, name.as_bytes()), (3, b"2"), (5, address)];
        if let Some(mask) = &mask {
            entries.push((2, mask.as_bytes()));
        }
        let fields = four_fields::extract(&san(&entries)).unwrap();
        prop_assert_eq!(fields.name.value.as_deref(), Some(name.as_str()));
        prop_assert_eq!(fields.name.substitute_mask.as_deref(), mask.as_deref());
        match &mask {
            None => prop_assert_eq!(&fields.name.problems, &vec![FieldProblem::Missing]),
            Some(mask) => prop_assert_eq!(
                fields.name.is_well_formed(),
                four_fields::mask_positions(&name, mask).is_ok()
            ),
        }
        prop_assert!(fields.sex.problems.is_empty());
        prop_assert_eq!(fields.address.problems.contains(&FieldProblem::InvalidUtf8), broken_address);
        prop_assert_eq!(fields.address.value.is_none(), broken_address);
    }
}

// ------------------------------------------------------------------------------------------------
// Reports on mutated valid inputs

fn verify_raw(verifier: &Verifier, certificate: &[u8], content: &[u8], signature: &[u8]) -> ValidationReport {
    let content = SignedContent::Message { data: content, hash: HashAlgorithm::Sha256 };
    verifier.verify_signature(&SignatureInput::Raw { signature, certificate, content }, VALIDATION_TIME)
}

fn verify_auth(verifier: &Verifier, certificate: &[u8], challenge: &[u8], signature: &[u8]) -> ValidationReport {
    let input = AuthProofInput { certificate, challenge, signature, challenge_issued_at: Some(VALIDATION_TIME) };
    verifier.verify_auth_proof(&input, VALIDATION_TIME)
}

fn verify_cms(verifier: &Verifier, cms: &[u8], detached: Option<&[u8]>) -> ValidationReport {
    let input = SignatureInput::Cms { cms, detached_content: detached, certificate: None };
    verifier.verify_signature(&input, VALIDATION_TIME)
}

/// The report invariants, spelt out (the fuzz targets check the same through `check_report`).
fn assert_consistent(report: &ValidationReport) {
    match &report.reason {
        None => {
            assert!(report.passed());
            assert_eq!(report.indication, Indication::TotalPassed);
            assert_eq!(report.sub_indication, None);
        }
        Some(reason) => {
            assert!(!report.passed());
            assert_eq!(report.indication, reason.sub_indication().indication());
            assert_eq!(report.sub_indication, Some(reason.sub_indication()));
        }
    }
    fuzzing::check_report(report);
}

/// Which valid input to mutate, and which of its parts.
#[derive(Clone, Copy, Debug)]
enum Target {
    CmsAttached,
    CmsStream,
    CmsDetached,
    CmsDetachedContent,
    RawCertificate,
    RawSignature,
    RawContent,
    AuthCertificate,
    AuthSignature,
    AuthChallenge,
}

fn target() -> impl Strategy<Value = Target> {
    use Target::*;
    prop_oneof![
        3 => Just(CmsAttached),
        3 => Just(CmsStream),
        1 => Just(CmsDetached),
        1 => Just(CmsDetachedContent),
        2 => Just(RawCertificate),
        1 => Just(RawSignature),
        1 => Just(RawContent),
        2 => Just(AuthCertificate),
        1 => Just(AuthSignature),
        1 => Just(AuthChallenge),
    ]
}

fn verify_mutated(verifier: &Verifier, target: Target, mutations: &[Mutation]) -> ValidationReport {
    use fixtures::*;
    let m = |data: &[u8]| mutate(data.to_vec(), mutations);
    match target {
        Target::CmsAttached => verify_cms(verifier, &m(CMS_ATTACHED), None),
        Target::CmsStream => verify_cms(verifier, &m(CMS_STREAM), None),
        Target::CmsDetached => verify_cms(verifier, &m(CMS_DETACHED), Some(CONTENT)),
        Target::CmsDetachedContent => verify_cms(verifier, CMS_DETACHED, Some(&m(CONTENT))),
        Target::RawCertificate => verify_raw(verifier, &m(SIGN_EE), CONTENT, RAW_SIGNATURE),
        Target::RawSignature => verify_raw(verifier, SIGN_EE, CONTENT, &m(RAW_SIGNATURE)),
        Target::RawContent => verify_raw(verifier, SIGN_EE, &m(CONTENT), RAW_SIGNATURE),
        Target::AuthCertificate => verify_auth(verifier, &m(AUTH_EE), CHALLENGE, AUTH_SIGNATURE),
        Target::AuthSignature => verify_auth(verifier, AUTH_EE, CHALLENGE, &m(AUTH_SIGNATURE)),
        Target::AuthChallenge => verify_auth(verifier, AUTH_EE, &m(CHALLENGE), AUTH_SIGNATURE),
    }
}

fn cached_verifier() -> &'static Verifier {
    static CACHED: std::sync::OnceLock<Verifier> = std::sync::OnceLock::new();
    CACHED.get_or_init(|| {
        let verifier = fuzzing::build_verifier(64).unwrap();
        // Warm the cache with the valid certificates, so that mutated inputs meet cached chains.
        assert!(verify_raw(&verifier, fixtures::SIGN_EE, fixtures::CONTENT, fixtures::RAW_SIGNATURE).passed());
        assert!(verify_auth(&verifier, fixtures::AUTH_EE, fixtures::CHALLENGE, fixtures::AUTH_SIGNATURE).passed());
        verifier
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Whatever a mutation does, the report is consistent: the reason's sub-indication fixes the
    /// indication, `passed()` exactly when there is no reason; and the chain cache changes nothing.
    #[test]
    fn reports_of_mutated_inputs_are_consistent(
        target in target(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let report = verify_mutated(fuzzing::verifier(), target, &mutations);
        assert_consistent(&report);
        let cached = verify_mutated(cached_verifier(), target, &mutations);
        prop_assert_eq!(&cached.indication, &report.indication);
        prop_assert_eq!(&cached.reason, &report.reason);
    }
}

// ------------------------------------------------------------------------------------------------
// Single-bit flips never pass

/// Every single-bit flip of `region` (a range of `data`), verified with `verify`, must fail.
fn no_flip_passes(name: &str, data: &[u8], region: std::ops::Range<usize>, verify: impl Fn(&[u8]) -> ValidationReport) {
    assert!(verify(data).passed(), "{name}: the unflipped input must pass");
    let mut flipped = data.to_vec();
    let mut passing = Vec::new();
    for index in region {
        for bit in 0..8 {
            flipped[index] ^= 1 << bit;
            let report = verify(&flipped);
            assert_consistent(&report);
            if report.passed() {
                passing.push(format!("byte {index} bit {bit}"));
            }
            flipped[index] ^= 1 << bit;
        }
    }
    assert!(passing.is_empty(), "{name}: flips that still pass: {passing:?}");
}

#[test]
fn no_single_bit_flip_of_a_raw_signature_its_content_or_certificate_passes() {
    let verifier = fuzzing::verifier();
    let (certificate, content, signature) = (fixtures::SIGN_EE, fixtures::CONTENT, fixtures::RAW_SIGNATURE);
    no_flip_passes("raw signature", signature, 0..signature.len(), |flipped| {
        verify_raw(verifier, certificate, content, flipped)
    });
    no_flip_passes("raw content", content, 0..content.len(), |flipped| {
        verify_raw(verifier, certificate, flipped, signature)
    });
    no_flip_passes("signing certificate", certificate, 0..certificate.len(), |flipped| {
        verify_raw(verifier, flipped, content, signature)
    });
}

#[test]
fn no_single_bit_flip_of_an_auth_proof_passes() {
    let verifier = fuzzing::verifier();
    let (certificate, challenge, signature) = (fixtures::AUTH_EE, fixtures::CHALLENGE, fixtures::AUTH_SIGNATURE);
    no_flip_passes("proof signature", signature, 0..signature.len(), |flipped| {
        verify_auth(verifier, certificate, challenge, flipped)
    });
    no_flip_passes("challenge", challenge, 0..challenge.len(), |flipped| {
        verify_auth(verifier, certificate, flipped, signature)
    });
    no_flip_passes("auth certificate", certificate, 0..certificate.len(), |flipped| {
        verify_auth(verifier, flipped, challenge, signature)
    });
}

#[test]
fn no_single_bit_flip_of_a_cms_signature_content_attributes_or_certificate_passes() {
    let verifier = fuzzing::verifier();
    let cms = fixtures::CMS_ATTACHED;
    let signed = jpki_core::cms::parse(cms).unwrap();
    let region = |part: &[u8]| {
        let start = offset_in(cms, part).expect("part borrowed from the input");
        start..start + part.len()
    };
    let Cow::Borrowed(signature) = &signed.signature else { panic!("DER signature is borrowed") };
    let Some(Cow::Borrowed(content)) = &signed.content else { panic!("DER content is borrowed") };
    let attributes = signed.signed_attributes.as_ref().unwrap();
    let mut implicit = attributes.signed_bytes.clone();
    implicit[0] = der::tag::CONTEXT_0;
    let attributes_start = cms.windows(implicit.len()).position(|window| window == implicit).unwrap();
    let verify = |flipped: &[u8]| verify_cms(verifier, flipped, None);
    no_flip_passes("CMS signature", cms, region(signature), verify);
    no_flip_passes("CMS content", cms, region(content), verify);
    no_flip_passes("CMS signed attributes", cms, attributes_start..attributes_start + implicit.len(), verify);
    no_flip_passes("CMS certificate", cms, region(signed.certificates[0]), verify);
    no_flip_passes("detached content", fixtures::CONTENT, 0..fixtures::CONTENT.len(), |flipped| {
        verify_cms(verifier, fixtures::CMS_DETACHED, Some(flipped))
    });
}

#[test]
fn no_single_bit_flip_of_a_crl_loads() {
    let policy = AlgorithmPolicy::default();
    let anchors = [fixtures::SIGN_CA_1, fixtures::SIGN_CA_2]
        .map(|der| TrustAnchor::from_der(CertKind::SigningCard, der, &policy).unwrap());
    let crl = fixtures::SIGN_CA_2_CRL;
    let loads = |der: &[u8]| jpki_revocation::CompactList::from_der("crl", der, &anchors, VALIDATION_TIME).is_ok();
    assert!(loads(crl));
    let mut flipped = crl.to_vec();
    let mut loading = Vec::new();
    for index in 0..crl.len() {
        for bit in 0..8 {
            flipped[index] ^= 1 << bit;
            if loads(&flipped) {
                loading.push(format!("byte {index} bit {bit}"));
            }
            flipped[index] ^= 1 << bit;
        }
    }
    assert!(loading.is_empty(), "flipped CRLs that still load: {loading:?}");
}
